//! Reminders (催缴, N1–N2): the channels, and the per-house, per-channel limit that refuses an
//! early reminder with the seed's own sentence and the next allowed date.

use std::collections::BTreeMap;

use chrono::{Days, NaiveDate};
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// The owner portal's own inbox.
    InApp,
    Sms,
    Wechat,
    Email,
    Webhook,
}

impl Channel {
    pub const ALL: [Channel; 5] = [Self::InApp, Self::Sms, Self::Wechat, Self::Email, Self::Webhook];

    pub fn label_zh(self) -> &'static str {
        match self {
            Channel::InApp => "站内",
            Channel::Sms => "短信",
            Channel::Wechat => "微信",
            Channel::Email => "邮件",
            Channel::Webhook => "Webhook",
        }
    }
}

/// Days between two reminders of one house on one channel; 0 means no limit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReminderLimits {
    pub days: BTreeMap<Channel, u32>,
}

impl Default for ReminderLimits {
    /// WeChat once per 7 days and SMS once per 30 days, as in seed 001's screenshots; the inbox
    /// and e-mail once a day.
    fn default() -> Self {
        let days = [(Channel::Wechat, 7), (Channel::Sms, 30), (Channel::InApp, 1), (Channel::Email, 1), (Channel::Webhook, 0)];
        ReminderLimits { days: days.into_iter().collect() }
    }
}

/// An early reminder, refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReminderRefusal {
    pub channel: Channel,
    pub last: NaiveDate,
    pub next: NaiveDate,
}

crate::bilingual!(ReminderRefusal {
    ReminderRefusal { channel, last, next } => ("此房屋在{}已推送过{}缴费通知，请于{}后再催缴", zh_date(*last), channel.label_zh(), zh_date(*next))
        / ("this house was sent a {} reminder on {}; remind it again from {}", channel.label_zh(), last, next),
});

/// `2018年01月09日`, as the seed writes dates.
pub fn zh_date(d: NaiveDate) -> String {
    d.format("%Y年%m月%d日").to_string()
}

impl ReminderLimits {
    /// Whether a house last reminded on `last` may be reminded on `today`.
    pub fn check(&self, channel: Channel, last: Option<NaiveDate>, today: NaiveDate) -> Result<(), ReminderRefusal> {
        let days = self.days.get(&channel).copied().unwrap_or(0);
        let Some(last) = last else { return Ok(()) };
        if days == 0 {
            return Ok(());
        }
        // Past the calendar's end means never again (a tariff bounds `days`, an old one may not).
        let next = last.checked_add_days(Days::new(u64::from(days))).unwrap_or(NaiveDate::MAX);
        if today < next { Err(ReminderRefusal { channel, last, next }) } else { Ok(()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn wechat_waits_7_days_and_sms_30_with_the_seeds_sentences() {
        let limits = ReminderLimits::default();
        let last = Some(day("2018-01-09"));
        let wechat = limits.check(Channel::Wechat, last, day("2018-01-10")).unwrap_err();
        assert!(wechat.to_string().starts_with("此房屋在2018年01月09日已推送过微信缴费通知，请于2018年01月16日后再催缴"));
        let sms = limits.check(Channel::Sms, last, day("2018-01-20")).unwrap_err();
        assert!(sms.to_string().starts_with("此房屋在2018年01月09日已推送过短信缴费通知，请于2018年02月08日后再催缴"));
        assert!(limits.check(Channel::Wechat, last, day("2018-01-16")).is_ok());
        assert!(limits.check(Channel::Sms, last, day("2018-02-08")).is_ok());
        assert!(limits.check(Channel::Sms, None, day("2018-01-10")).is_ok());
    }
}
