//! Announcements (X4, 公告): what the office tells the residents of a community, or of some of its
//! buildings — a water stoppage, a lift's maintenance, a fire drill. Kept by the community's
//! service desk (`ServiceDesk`) for the record: a notice is withdrawn, never deleted, and says how
//! many homes it reached.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::BuildingId;

pub const MAX_TITLE: usize = 50;
pub const MAX_BODY: usize = 2000;
/// Notices kept in the desk's state (newest); older ones stay in its journal.
pub const NOTICES_KEPT: usize = 500;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    /// Numbered per community from 1.
    pub no: u64,
    pub title: String,
    pub body: String,
    /// The buildings whose residents it is for; empty: the whole community.
    pub buildings: BTreeSet<BuildingId>,
    /// Who published it (a staff member's name).
    pub by: String,
    pub at: DateTime<Utc>,
    /// Homes whose residents were sent it.
    #[serde(default)]
    pub delivered: u32,
    /// Withdrawn: by whom, when (it stays in the record).
    #[serde(default)]
    pub withdrawn: Option<(String, DateTime<Utc>)>,
}

impl Notice {
    /// Whether it is for a home in `building` (a notice for the whole community is for every one).
    pub fn reaches(&self, building: Option<&BuildingId>) -> bool {
        self.buildings.is_empty() || building.is_some_and(|b| self.buildings.contains(b))
    }

    /// As the resident reads it.
    pub fn text(&self) -> String {
        format!("【公告】{}：{}", self.title, self.body)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NoticeError {
    EmptyTitle,
    TitleTooLong,
    EmptyBody,
    BodyTooLong,
    NoSuchNotice(u64),
    Withdrawn(u64),
}

crate::bilingual!(NoticeError {
    NoticeError::EmptyTitle => ("请填写公告标题") / ("a notice needs a title"),
    NoticeError::TitleTooLong => ("公告标题最多 {MAX_TITLE} 个字") / ("a notice's title is at most {MAX_TITLE} characters"),
    NoticeError::EmptyBody => ("请填写公告内容") / ("a notice needs a text"),
    NoticeError::BodyTooLong => ("公告内容最多 {MAX_BODY} 个字") / ("a notice's text is at most {MAX_BODY} characters"),
    NoticeError::NoSuchNotice(_0) => ("没有第 {_0} 号公告") / ("no notice {_0}"),
    NoticeError::Withdrawn(_0) => ("第 {_0} 号公告已撤回") / ("notice {_0} is withdrawn"),
});

/// A notice's title and text, checked.
pub fn check(title: &str, body: &str) -> Result<(), NoticeError> {
    let (title, body) = (title.trim(), body.trim());
    match (title.chars().count(), body.chars().count()) {
        (0, _) => Err(NoticeError::EmptyTitle),
        (t, _) if t > MAX_TITLE => Err(NoticeError::TitleTooLong),
        (_, 0) => Err(NoticeError::EmptyBody),
        (_, b) if b > MAX_BODY => Err(NoticeError::BodyTooLong),
        _ => Ok(()),
    }
}
