//! Work orders (W1–W6): repairs, complaints and suggestions (报修、投诉、建议), each one an
//! aggregate with a life — registered (登记) → reviewed (审核) → dispatched (派工) → accepted
//! (接单) → in progress (到达) → completed (回单) → closed (结单) → return visit (回访) → archived
//! (归档) — journaled in its own stream (`workorder/{community}/{order}`).
//!
//! Time rules the order, and it is decided here at the instant it passes, never later: a
//! dispatched order nobody accepts within the service rules' minutes goes to the next person of
//! the post (then up to the supervisor); an order not accepted by its response deadline, or not
//! completed by its completion deadline, escalates one level up the hierarchy (层层上报) — the
//! actor's timer sends `Tick` and the events carry the deadline's own instant.
//!
//! The community's [`ServiceDesk`] numbers the orders, keeps the rules (urgency words, deadlines,
//! which alarms open an order by themselves) and the materials store the jobs draw from.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use crate::alarm::Handler;
use crate::ids::{BuildingId, DeviceId, HouseId, WorkOrderId};
use crate::live::AlarmKind;
use crate::money::Money;

/// The longest category (维修类别) and contractor name.
pub const MAX_NAME: usize = 30;
/// The longest description, note or reason.
pub const MAX_TEXT: usize = 500;
/// Photos with one registration or one completion.
pub const MAX_PHOTOS: usize = 9;
/// People one dispatch may fall back to when nobody acknowledges.
pub const MAX_CHAIN: usize = 10;
/// Materials drawn for one job.
pub const MAX_MATERIALS: usize = 50;
/// Steps kept in an order's history (an order passed on every few minutes for days stays bounded).
pub const HISTORY_KEPT: usize = 200;
/// The top of the hierarchy: 1 the community's supervisors (主管), 2 the company (公司).
pub const TOP_LEVEL: u8 = 2;

/// What kind of 报事 it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderKind {
    Repair,
    Complaint,
    Suggestion,
}

impl OrderKind {
    pub fn label_zh(self) -> &'static str {
        match self {
            OrderKind::Repair => "报修",
            OrderKind::Complaint => "投诉",
            OrderKind::Suggestion => "建议",
        }
    }
}

/// How urgent an order is: it sets the deadlines.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Urgency {
    #[default]
    Normal,
    Urgent,
    Critical,
}

impl Urgency {
    pub fn label_zh(self) -> &'static str {
        match self {
            Urgency::Normal => "一般",
            Urgency::Urgent => "紧急",
            Urgency::Critical => "特急",
        }
    }
}

/// Who raised it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "by", rename_all = "snake_case")]
pub enum Origin {
    /// A staff member, for a public area or on an owner's behalf.
    Staff { account: String },
    /// An owner, from their portal (by phone number; screens get it masked).
    Owner { phone: String },
    /// Anyone, through the QR code posted in the community.
    Anonymous,
    /// An alarm of the community's desk opened it by itself (the community's rules say which).
    Alarm { no: u64, kind: AlarmKind },
    /// A coordination order (协调单): another department's part of an order.
    Coordination { parent: WorkOrderId },
}

/// Where the job is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "at", rename_all = "snake_case")]
pub enum Place {
    /// A private home: a charge becomes a bill in the house's book.
    House { house: HouseId },
    /// A piece of equipment (a meter, a gate, a barrier).
    Device { device: DeviceId },
    /// A public area, described.
    Public { text: String },
}

impl Place {
    /// The key its printed code is signed for (`house/{id}`, `device/{id}`): a door plate or a
    /// piece of equipment; a public area has none.
    pub fn code_key(&self) -> Option<String> {
        match self {
            Place::House { house } => Some(format!("house/{house}")),
            Place::Device { device } => Some(format!("device/{device}")),
            Place::Public { .. } => None,
        }
    }
}

/// What an order is raised with.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registration {
    pub kind: OrderKind,
    /// 维修类别, e.g. 水电, 门窗, 电梯, 公共设施 (1–30 characters).
    pub category: String,
    pub description: String,
    #[serde(default)]
    pub photos: Vec<String>,
    pub place: Place,
    /// The building of the house or device (a butler sees their buildings' orders).
    #[serde(default)]
    pub building: Option<BuildingId>,
    /// How the place reads on a screen (the house's address, the device, the area).
    pub place_label: String,
    /// When the owner would like the visit.
    #[serde(default)]
    pub visit_at: Option<DateTime<Utc>>,
    /// A VIP owner: shown on every screen of the order.
    #[serde(default)]
    pub vip: bool,
    pub origin: Origin,
    /// A phone to call back (masked on screens).
    #[serde(default)]
    pub contact: Option<String>,
}

/// Minutes to accept (response) and to complete, from registration.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deadlines {
    pub respond_mins: u32,
    pub complete_mins: u32,
}

/// A community's service rules (a setting of the office), with sensible defaults.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceRules {
    /// Minutes a dispatched person has to acknowledge (accept) before the next one gets it.
    pub ack_mins: u32,
    pub normal: Deadlines,
    pub urgent: Deadlines,
    pub critical: Deadlines,
    /// Words in a description that make an order urgent or critical.
    pub urgent_words: Vec<String>,
    pub critical_words: Vec<String>,
    /// Categories urgent whatever the words.
    pub urgent_categories: Vec<String>,
    /// Which alarms open a work order by themselves.
    pub alarm_orders: BTreeSet<AlarmKind>,
    /// An offline device opens its order only when it is still offline, and nobody is on its
    /// alarm, this many hours after it went silent (a device back within the hour is no job).
    #[serde(default = "default_offline_hours")]
    pub offline_order_hours: u32,
}

fn default_offline_hours() -> u32 {
    24
}

impl Default for ServiceRules {
    fn default() -> Self {
        let words = |w: &[&str]| w.iter().map(|s| s.to_string()).collect();
        ServiceRules {
            ack_mins: 5,
            normal: Deadlines { respond_mins: 30, complete_mins: 24 * 60 },
            urgent: Deadlines { respond_mins: 15, complete_mins: 4 * 60 },
            critical: Deadlines { respond_mins: 5, complete_mins: 2 * 60 },
            urgent_words: words(&["漏水", "跑水", "停电", "停水", "堵塞", "门禁", "道闸"]),
            critical_words: words(&["爆管", "困人", "着火", "火灾", "燃气", "煤气", "触电", "冒烟"]),
            urgent_categories: words(&["电梯"]),
            alarm_orders: [AlarmKind::Leak, AlarmKind::GateAlarm].into(),
            offline_order_hours: default_offline_hours(),
        }
    }
}

impl ServiceRules {
    /// How urgent an order is from its category and words (an alarm's severity may raise it).
    pub fn urgency(&self, registration: &Registration) -> Urgency {
        let text = &registration.description;
        let alarm = match registration.origin {
            Origin::Alarm { kind, .. } if kind.severity() == crate::alarm::Severity::Critical => Urgency::Critical,
            Origin::Alarm { .. } => Urgency::Urgent,
            _ => Urgency::Normal,
        };
        let words = if self.critical_words.iter().any(|w| !w.is_empty() && text.contains(w.as_str())) {
            Urgency::Critical
        } else if self.urgent_words.iter().any(|w| !w.is_empty() && text.contains(w.as_str())) || self.urgent_categories.contains(&registration.category) {
            Urgency::Urgent
        } else {
            Urgency::Normal
        };
        alarm.max(words)
    }

    pub fn deadlines(&self, urgency: Urgency) -> Deadlines {
        match urgency {
            Urgency::Normal => self.normal,
            Urgency::Urgent => self.urgent,
            Urgency::Critical => self.critical,
        }
    }

    pub fn check(&self) -> Result<(), OrderError> {
        let minutes_ok = |d: Deadlines| (1..=7 * 24 * 60).contains(&d.respond_mins) && (1..=90 * 24 * 60).contains(&d.complete_mins) && d.respond_mins <= d.complete_mins;
        if !(1..=240).contains(&self.ack_mins) || ![self.normal, self.urgent, self.critical].into_iter().all(minutes_ok) || self.offline_order_hours > 24 * 30 {
            return Err(OrderError::BadRules);
        }
        // A breached order opening another order would open orders without end.
        if self.alarm_orders.contains(&AlarmKind::SlaBreach) {
            return Err(OrderError::BadRules);
        }
        let words = self.urgent_words.iter().chain(&self.critical_words).chain(&self.urgent_categories);
        if self.urgent_words.len() + self.critical_words.len() + self.urgent_categories.len() > 100 || words.into_iter().any(|w| w.chars().count() > MAX_NAME) {
            return Err(OrderError::BadRules);
        }
        Ok(())
    }
}

/// Where an order is in its life.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    #[default]
    Registered,
    Reviewed,
    Dispatched,
    Accepted,
    InProgress,
    Completed,
    Closed,
    Visited,
    Archived,
    /// Turned down at review (not a matter for the property office, a duplicate …).
    Cancelled,
}

impl Status {
    pub fn label_zh(self) -> &'static str {
        match self {
            Status::Registered => "待审核",
            Status::Reviewed => "待派工",
            Status::Dispatched => "待接单",
            Status::Accepted => "已接单",
            Status::InProgress => "处理中",
            Status::Completed => "已回单",
            Status::Closed => "已结单",
            Status::Visited => "已回访",
            Status::Archived => "已归档",
            Status::Cancelled => "已作废",
        }
    }

    /// Still waiting for someone on the property's side to act.
    pub fn is_open(self) -> bool {
        self < Status::Completed
    }
}

/// Why an order escalated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Breach {
    /// Nobody of the post acknowledged it.
    NotAcknowledged,
    /// Not accepted by the response deadline.
    Response,
    /// Not completed by the completion deadline.
    Completion,
}

impl Breach {
    pub fn label_zh(self) -> &'static str {
        match self {
            Breach::NotAcknowledged => "无人接单",
            Breach::Response => "响应超时",
            Breach::Completion => "完成超时",
        }
    }
}

/// Materials drawn from the store for a job.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MaterialUse {
    pub item: String,
    pub name: String,
    pub quantity: u32,
    pub unit_price: Money,
}

/// One line of an order's history, as its screens show it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    pub at: DateTime<Utc>,
    /// Who (a staff member's name, 系统 for the clock, 业主 for the owner).
    pub by: String,
    pub what: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum OrderCommand {
    /// Raise the order (its urgency and deadlines already read from the community's rules).
    Register { id: WorkOrderId, registration: Registration, urgency: Urgency, deadlines: Deadlines, at: DateTime<Utc> },
    /// The office checked it; it may correct the category and urgency.
    Review { by: Handler, at: DateTime<Utc>, category: Option<String>, urgency: Option<Urgency> },
    /// Turned down at review, with why.
    Cancel { by: Handler, at: DateTime<Utc>, reason: String },
    /// Give it to `to[0]`; if nobody acknowledges within `ack_mins`, to the next of `to`. On an
    /// order already with someone it is a reassignment (counted: 二次派工).
    Dispatch { to: Vec<Handler>, ack_mins: u32, by: Handler, at: DateTime<Utc> },
    /// The person it is with takes it (the acknowledgement).
    Accept { by: Handler, at: DateTime<Utc> },
    /// Given to an outside contractor (外委), who reports through the office.
    Outsource { contractor: String, by: Handler, at: DateTime<Utc> },
    /// Arrival, confirmed by scanning the place's code.
    Arrive { by: Handler, at: DateTime<Utc> },
    /// Materials drawn from the store (already taken from stock by the service desk).
    UseMaterials { materials: MaterialUse, by: Handler, at: DateTime<Utc> },
    /// Done (回单): what was done, photos, and the charge to the house if any.
    Complete { by: Handler, at: DateTime<Utc>, note: String, photos: Vec<String>, charge: Option<Money> },
    /// The charge is in the house's book as this bill.
    RecordBill { bill: String, at: DateTime<Utc> },
    /// The office closes a completed order (结单).
    Close { by: Handler, at: DateTime<Utc>, note: String },
    /// The return visit (回访): how satisfied the owner is, 1–5. Closes a completed order.
    ReturnVisit { by: Handler, at: DateTime<Utc>, satisfaction: u8, note: String },
    Archive { by: Handler, at: DateTime<Utc> },
    /// The order's timer: decide what the clock has made true by `now`.
    Tick { now: DateTime<Utc> },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum OrderEvent {
    Registered { id: WorkOrderId, registration: Registration, urgency: Urgency, respond_by: DateTime<Utc>, complete_by: DateTime<Utc>, at: DateTime<Utc> },
    Reviewed { by: Handler, at: DateTime<Utc>, category: String, urgency: Urgency },
    Cancelled { by: Handler, at: DateTime<Utc>, reason: String },
    Dispatched { to: Handler, fallback: Vec<Handler>, ack_by: DateTime<Utc>, again: bool, by: Handler, at: DateTime<Utc> },
    /// Nobody acknowledged in time: the next person of the post has it now.
    Passed { from: Handler, to: Handler, ack_by: DateTime<Utc>, at: DateTime<Utc> },
    /// A deadline passed: one level up the hierarchy, at the deadline's instant.
    Escalated { breach: Breach, level: u8, at: DateTime<Utc> },
    Accepted { by: Handler, at: DateTime<Utc> },
    Outsourced { contractor: String, by: Handler, at: DateTime<Utc> },
    Arrived { by: Handler, at: DateTime<Utc> },
    MaterialsUsed { materials: MaterialUse, by: Handler, at: DateTime<Utc> },
    Completed { by: Handler, at: DateTime<Utc>, note: String, photos: Vec<String>, charge: Option<Money> },
    Billed { bill: String, at: DateTime<Utc> },
    Closed { by: Handler, at: DateTime<Utc>, note: String },
    Visited { by: Handler, at: DateTime<Utc>, satisfaction: u8, note: String },
    Archived { by: Handler, at: DateTime<Utc> },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OrderError {
    NotRegistered,
    AlreadyRegistered,
    BadCategory,
    EmptyDescription,
    TextTooLong,
    TooManyPhotos,
    BadPhoto(String),
    NobodyToDispatch,
    ChainTooLong,
    BadAckMinutes,
    NotYours(String),
    Out { action: &'static str, status: Status },
    ChargeOnlyForHomes,
    BadCharge(String),
    BadSatisfaction,
    BadQuantity,
    TooManyMaterials,
    BadRules,
}

crate::bilingual!(OrderError {
    OrderError::NotRegistered => ("没有这张工单") / ("no such work order"),
    OrderError::AlreadyRegistered => ("这张工单已登记") / ("this work order is already registered"),
    OrderError::BadCategory => ("类别须为 1 到 {MAX_NAME} 个字") / ("a category is 1 to {MAX_NAME} characters"),
    OrderError::EmptyDescription => ("请写明要报的事") / ("say what the matter is"),
    OrderError::TextTooLong => ("说明、备注或原因最多 {MAX_TEXT} 个字") / ("a description, note or reason is at most {MAX_TEXT} characters"),
    OrderError::TooManyPhotos => ("最多 {MAX_PHOTOS} 张照片") / ("at most {MAX_PHOTOS} photos"),
    OrderError::BadPhoto(_0) => ("照片编号 {_0} 无效，请重新上传") / ("photo id {_0} is not valid; upload the photo again"),
    OrderError::NobodyToDispatch => ("请选择派给谁") / ("choose whom to dispatch it to"),
    OrderError::ChainTooLong => ("一次派工最多排 {MAX_CHAIN} 人") / ("a dispatch lists at most {MAX_CHAIN} people"),
    OrderError::BadAckMinutes => ("接单时限须在 1 到 240 分钟之间") / ("the time to acknowledge is 1 to 240 minutes"),
    OrderError::NotYours(_0) => ("这张工单现在由 {_0} 处理") / ("this work order is with {_0}"),
    OrderError::Out { action, status } => ("工单{}，不能{action}", status.label_zh()) / ("the work order is {status:?}; it cannot be done now ({action})"),
    OrderError::ChargeOnlyForHomes => ("只有业主家中的维修可以收费") / ("only a repair in a private home is charged"),
    OrderError::BadCharge(_0) => ("收费金额有误：{_0}") / ("the charge is not valid: {_0}"),
    OrderError::BadSatisfaction => ("满意度须为 1 到 5") / ("satisfaction is 1 to 5"),
    OrderError::BadQuantity => ("数量须为 1 到 10000") / ("the quantity is 1 to 10000"),
    OrderError::TooManyMaterials => ("一张工单最多领用 {MAX_MATERIALS} 次材料") / ("at most {MAX_MATERIALS} material draws per work order"),
    OrderError::BadRules => ("服务规则有误：接单 1–240 分钟，响应不超过完成时限，离线转工单最多 720 小时，词语最多 100 个、每个最多 {MAX_NAME} 字") / ("the service rules are not valid: acknowledge in 1–240 minutes, respond no later than complete, an offline device's order within 720 hours, at most 100 words of up to {MAX_NAME} characters"),
});

/// The order as it stands (the aggregate of `workorder/{community}/{order}`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkOrder {
    pub id: Option<WorkOrderId>,
    pub registration: Option<Registration>,
    pub urgency: Urgency,
    pub status: Status,
    pub registered_at: Option<DateTime<Utc>>,
    pub respond_by: Option<DateTime<Utc>>,
    pub complete_by: Option<DateTime<Utc>>,
    /// Who has it now.
    pub assignee: Option<Handler>,
    /// Who gets it next if nobody acknowledges by `ack_by`.
    pub fallback: Vec<Handler>,
    pub ack_by: Option<DateTime<Utc>>,
    /// Minutes each person of the current dispatch has to acknowledge.
    pub ack_mins: u32,
    pub contractor: Option<String>,
    /// Dispatches, the first included (more than one: re-dispatched).
    pub dispatches: u32,
    pub escalation: u8,
    pub breaches: Vec<Breach>,
    pub accepted_at: Option<DateTime<Utc>>,
    pub arrived_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    pub materials: Vec<MaterialUse>,
    pub note: String,
    pub photos: Vec<String>,
    pub charge: Option<Money>,
    pub bill: Option<String>,
    pub satisfaction: Option<u8>,
    pub history: Vec<Step>,
}

fn text_ok(text: &str) -> Result<(), OrderError> {
    if text.chars().count() > MAX_TEXT { Err(OrderError::TextTooLong) } else { Ok(()) }
}

fn photos_ok(photos: &[String]) -> Result<(), OrderError> {
    if photos.len() > MAX_PHOTOS {
        return Err(OrderError::TooManyPhotos);
    }
    match photos.iter().find(|p| !crate::ids::is_photo_id(p)) {
        Some(bad) => Err(OrderError::BadPhoto(bad.chars().take(40).collect())),
        None => Ok(()),
    }
}

fn category_ok(category: &str) -> Result<(), OrderError> {
    let n = category.trim().chars().count();
    if n == 0 || n > MAX_NAME { Err(OrderError::BadCategory) } else { Ok(()) }
}

fn at_plus(at: DateTime<Utc>, minutes: u32) -> DateTime<Utc> {
    at + TimeDelta::minutes(i64::from(minutes))
}

impl Registration {
    pub fn check(&self) -> Result<(), OrderError> {
        category_ok(&self.category)?;
        if self.description.trim().is_empty() {
            return Err(OrderError::EmptyDescription);
        }
        text_ok(&self.description)?;
        text_ok(&self.place_label)?;
        if let Place::Public { text } = &self.place {
            text_ok(text)?;
        }
        if self.contact.as_ref().is_some_and(|c| c.chars().count() > MAX_NAME) {
            return Err(OrderError::TextTooLong);
        }
        photos_ok(&self.photos)
    }
}

impl WorkOrder {
    /// The next instant the clock changes something: a person's time to acknowledge, the
    /// response or the completion deadline.
    pub fn next_due(&self) -> Option<DateTime<Utc>> {
        // Once the last person of the post let it pass and it went up, its time to acknowledge is spent.
        let spent = self.fallback.is_empty() && self.breaches.contains(&Breach::NotAcknowledged);
        let ack = self.ack_by.filter(|_| self.status == Status::Dispatched && !spent);
        let respond = self.respond_by.filter(|_| self.status < Status::Accepted && self.status != Status::Cancelled && !self.breaches.contains(&Breach::Response));
        let complete = self.complete_by.filter(|_| self.status.is_open() && !self.breaches.contains(&Breach::Completion));
        [ack, respond, complete].into_iter().flatten().min()
    }

    /// Overdue: a deadline passed while it is still open.
    pub fn overdue(&self) -> bool {
        self.status.is_open() && self.breaches.iter().any(|b| *b != Breach::NotAcknowledged)
    }

    /// Completed by its completion deadline.
    pub fn on_time(&self) -> Option<bool> {
        Some(self.completed_at? <= self.complete_by?)
    }

    fn out(&self, action: &'static str) -> OrderError {
        OrderError::Out { action, status: self.status }
    }

    fn require(&self, action: &'static str, allowed: &[Status]) -> Result<(), OrderError> {
        if self.registration.is_none() {
            return Err(OrderError::NotRegistered);
        }
        if allowed.contains(&self.status) { Ok(()) } else { Err(self.out(action)) }
    }

    /// Only the person it is with (an outsourced job: the office, on the contractor's behalf).
    fn holder(&self, by: &Handler) -> Result<(), OrderError> {
        match &self.assignee {
            Some(a) if a.account != by.account && self.contractor.is_none() => Err(OrderError::NotYours(a.name.clone())),
            _ => Ok(()),
        }
    }

    /// The tile screens show (the board, the phone's inbox, the wall).
    pub fn tile(&self) -> Option<WorkOrderTile> {
        let r = self.registration.as_ref()?;
        Some(WorkOrderTile {
            id: self.id.clone()?,
            kind: r.kind,
            category: r.category.clone(),
            description: r.description.chars().take(80).collect(),
            place: r.place_label.clone(),
            building: r.building.clone(),
            house: match &r.place {
                Place::House { house } => Some(house.clone()),
                _ => None,
            },
            place_key: r.place.code_key(),
            vip: r.vip,
            from_alarm: match r.origin {
                Origin::Alarm { no, .. } => Some(no),
                _ => None,
            },
            urgency: self.urgency,
            status: self.status,
            assignee: self.assignee.clone(),
            contractor: self.contractor.clone(),
            ack_by: self.ack_by.filter(|_| self.status == Status::Dispatched),
            registered_at: self.registered_at?,
            respond_by: self.respond_by?,
            complete_by: self.complete_by?,
            completed_at: self.completed_at,
            overdue: self.overdue(),
            escalation: self.escalation,
            dispatches: self.dispatches,
            satisfaction: self.satisfaction,
            visited: self.satisfaction.is_some(),
            charge: self.charge,
            bill: self.bill.clone(),
            photos: r.photos.iter().chain(&self.photos).cloned().collect(),
        })
    }

    /// What the clock has made true by `now`, in the order it became true.
    fn tick(&self, now: DateTime<Utc>) -> Vec<OrderEvent> {
        let mut events = Vec::new();
        let mut level = self.escalation;
        let mut breached = self.breaches.clone();
        // Time to acknowledge: each person of the post in turn, then up to the supervisor.
        if self.status == Status::Dispatched {
            let mut ack_by = self.ack_by;
            let mut from = self.assignee.clone();
            let ack_span = TimeDelta::minutes(i64::from(self.ack_mins));
            let mut next = self.fallback.iter();
            while let (Some(due), Some(holder)) = (ack_by, from.clone()) {
                if due > now {
                    break;
                }
                match next.next() {
                    Some(to) => {
                        let new_due = due + ack_span;
                        events.push(OrderEvent::Passed { from: holder, to: to.clone(), ack_by: new_due, at: due });
                        from = Some(to.clone());
                        ack_by = Some(new_due);
                    }
                    None => {
                        if !breached.contains(&Breach::NotAcknowledged) {
                            level = (level + 1).min(TOP_LEVEL);
                            breached.push(Breach::NotAcknowledged);
                            events.push(OrderEvent::Escalated { breach: Breach::NotAcknowledged, level, at: due });
                        }
                        break;
                    }
                }
            }
        }
        let mut deadlines = Vec::new();
        if let Some(due) = self.respond_by.filter(|d| *d <= now && self.status < Status::Accepted && !breached.contains(&Breach::Response)) {
            deadlines.push((due, Breach::Response));
        }
        if let Some(due) = self.complete_by.filter(|d| *d <= now && self.status.is_open() && !breached.contains(&Breach::Completion)) {
            deadlines.push((due, Breach::Completion));
        }
        deadlines.sort_by_key(|(due, _)| *due);
        for (due, breach) in deadlines {
            level = (level + 1).min(TOP_LEVEL);
            events.push(OrderEvent::Escalated { breach, level, at: due });
        }
        events.sort_by_key(|e| match e {
            OrderEvent::Passed { at, .. } | OrderEvent::Escalated { at, .. } => *at,
            _ => now,
        });
        events
    }
}

impl crate::Aggregate for WorkOrder {
    type Command = OrderCommand;
    type Event = OrderEvent;
    type Error = OrderError;

    fn decide(&self, command: &OrderCommand) -> Result<Vec<OrderEvent>, OrderError> {
        use OrderCommand as C;
        use Status as S;
        let event = match command {
            C::Register { id, registration, urgency, deadlines, at } => {
                if self.registration.is_some() {
                    return Err(OrderError::AlreadyRegistered);
                }
                registration.check()?;
                let minutes_ok = (1..=7 * 24 * 60).contains(&deadlines.respond_mins) && (1..=90 * 24 * 60).contains(&deadlines.complete_mins);
                if !minutes_ok {
                    return Err(OrderError::BadRules);
                }
                OrderEvent::Registered {
                    id: id.clone(),
                    registration: registration.clone(),
                    urgency: *urgency,
                    respond_by: at_plus(*at, deadlines.respond_mins),
                    complete_by: at_plus(*at, deadlines.complete_mins),
                    at: *at,
                }
            }
            C::Review { by, at, category, urgency } => {
                self.require("审核", &[S::Registered])?;
                let category = match category {
                    Some(c) => {
                        category_ok(c)?;
                        c.trim().to_string()
                    }
                    None => self.registration.as_ref().map(|r| r.category.clone()).unwrap_or_default(),
                };
                OrderEvent::Reviewed { by: by.clone(), at: *at, category, urgency: urgency.unwrap_or(self.urgency) }
            }
            C::Cancel { by, at, reason } => {
                self.require("作废", &[S::Registered, S::Reviewed])?;
                if reason.trim().is_empty() {
                    return Err(OrderError::EmptyDescription);
                }
                text_ok(reason)?;
                OrderEvent::Cancelled { by: by.clone(), at: *at, reason: reason.clone() }
            }
            C::Dispatch { to, ack_mins, by, at } => {
                self.require("派工", &[S::Reviewed, S::Dispatched, S::Accepted, S::InProgress])?;
                let Some((first, rest)) = to.split_first() else { return Err(OrderError::NobodyToDispatch) };
                if to.len() > MAX_CHAIN {
                    return Err(OrderError::ChainTooLong);
                }
                if !(1..=240).contains(ack_mins) {
                    return Err(OrderError::BadAckMinutes);
                }
                OrderEvent::Dispatched { to: first.clone(), fallback: rest.to_vec(), ack_by: at_plus(*at, *ack_mins), again: self.dispatches > 0, by: by.clone(), at: *at }
            }
            C::Accept { by, at } => {
                self.require("接单", &[S::Dispatched])?;
                self.holder(by)?;
                OrderEvent::Accepted { by: by.clone(), at: *at }
            }
            C::Outsource { contractor, by, at } => {
                self.require("外委", &[S::Reviewed, S::Dispatched, S::Accepted, S::InProgress])?;
                category_ok(contractor)?;
                OrderEvent::Outsourced { contractor: contractor.trim().to_string(), by: by.clone(), at: *at }
            }
            C::Arrive { by, at } => {
                self.require("到达签到", &[S::Accepted])?;
                self.holder(by)?;
                OrderEvent::Arrived { by: by.clone(), at: *at }
            }
            C::UseMaterials { materials, by, at } => {
                self.require("领用材料", &[S::Accepted, S::InProgress])?;
                if !(1..=10_000).contains(&materials.quantity) {
                    return Err(OrderError::BadQuantity);
                }
                if self.materials.len() >= MAX_MATERIALS {
                    return Err(OrderError::TooManyMaterials);
                }
                OrderEvent::MaterialsUsed { materials: materials.clone(), by: by.clone(), at: *at }
            }
            C::Complete { by, at, note, photos, charge } => {
                // An outsourced job is reported by the office without a scan of its own.
                let allowed: &[S] = if self.contractor.is_some() { &[S::Accepted, S::InProgress] } else { &[S::InProgress] };
                self.require("回单", allowed)?;
                self.holder(by)?;
                text_ok(note)?;
                photos_ok(photos)?;
                if let Some(charge) = charge.filter(|c| !c.is_zero()) {
                    let home = self.registration.as_ref().is_some_and(|r| matches!(r.place, Place::House { .. }));
                    if !home {
                        return Err(OrderError::ChargeOnlyForHomes);
                    }
                    crate::limits::check_amount(charge, "维修费", "repair charge").map_err(|e| OrderError::BadCharge(e.to_string()))?;
                }
                OrderEvent::Completed { by: by.clone(), at: *at, note: note.clone(), photos: photos.clone(), charge: charge.filter(|c| !c.is_zero()) }
            }
            C::RecordBill { bill, at } => {
                if self.registration.is_none() {
                    return Err(OrderError::NotRegistered);
                }
                if self.charge.is_none() {
                    return Err(OrderError::ChargeOnlyForHomes);
                }
                if self.bill.as_ref() == Some(bill) {
                    return Ok(Vec::new());
                }
                OrderEvent::Billed { bill: bill.clone(), at: *at }
            }
            C::Close { by, at, note } => {
                self.require("结单", &[S::Completed])?;
                text_ok(note)?;
                OrderEvent::Closed { by: by.clone(), at: *at, note: note.clone() }
            }
            C::ReturnVisit { by, at, satisfaction, note } => {
                self.require("回访", &[S::Completed, S::Closed])?;
                if !(1..=5).contains(satisfaction) {
                    return Err(OrderError::BadSatisfaction);
                }
                text_ok(note)?;
                OrderEvent::Visited { by: by.clone(), at: *at, satisfaction: *satisfaction, note: note.clone() }
            }
            C::Archive { by, at } => {
                self.require("归档", &[S::Closed, S::Visited, S::Cancelled])?;
                OrderEvent::Archived { by: by.clone(), at: *at }
            }
            C::Tick { now } => {
                if self.registration.is_none() {
                    return Ok(Vec::new());
                }
                return Ok(self.tick(*now));
            }
        };
        Ok(vec![event])
    }

    fn apply(&mut self, event: &OrderEvent) {
        use OrderEvent as E;
        let (at, by, what) = match event {
            E::Registered { id, registration, urgency, respond_by, complete_by, at } => {
                self.id = Some(id.clone());
                self.urgency = *urgency;
                self.registered_at = Some(*at);
                self.respond_by = Some(*respond_by);
                self.complete_by = Some(*complete_by);
                self.status = Status::Registered;
                let who = match &registration.origin {
                    Origin::Staff { account } => account.clone(),
                    Origin::Owner { .. } => "业主".into(),
                    Origin::Anonymous => "匿名".into(),
                    Origin::Alarm { .. } => "系统".into(),
                    Origin::Coordination { parent } => format!("协调单 {parent}"),
                };
                let what = format!("登记{}：{}（{}）", registration.kind.label_zh(), registration.category, urgency.label_zh());
                self.registration = Some(registration.clone());
                (*at, who, what)
            }
            E::Reviewed { by, at, category, urgency } => {
                if let Some(r) = self.registration.as_mut() {
                    r.category = category.clone();
                }
                self.urgency = *urgency;
                self.status = Status::Reviewed;
                (*at, by.name.clone(), format!("审核通过：{category}（{}）", urgency.label_zh()))
            }
            E::Cancelled { by, at, reason } => {
                self.status = Status::Cancelled;
                self.ack_by = None;
                (*at, by.name.clone(), format!("作废：{reason}"))
            }
            E::Dispatched { to, fallback, ack_by, again, by, at } => {
                self.assignee = Some(to.clone());
                self.fallback = fallback.clone();
                self.ack_mins = u32::try_from((*ack_by - *at).num_minutes()).unwrap_or(u32::MAX);
                self.ack_by = Some(*ack_by);
                self.contractor = None;
                self.dispatches += 1;
                self.status = Status::Dispatched;
                self.accepted_at = None;
                self.arrived_at = None;
                (*at, by.name.clone(), format!("{}给 {}", if *again { "改派" } else { "派工" }, to.name))
            }
            E::Passed { from, to, ack_by, at } => {
                self.assignee = Some(to.clone());
                if !self.fallback.is_empty() {
                    self.fallback.remove(0);
                }
                self.ack_by = Some(*ack_by);
                (*at, "系统".into(), format!("{} 未接单，转给 {}", from.name, to.name))
            }
            E::Escalated { breach, level, at } => {
                self.escalation = *level;
                if !self.breaches.contains(breach) {
                    self.breaches.push(*breach);
                }
                let to = if *level >= TOP_LEVEL { "公司" } else { "主管" };
                (*at, "系统".into(), format!("{}，上报{to}", breach.label_zh()))
            }
            E::Accepted { by, at } => {
                self.accepted_at = Some(*at);
                self.ack_by = None;
                self.assignee = Some(by.clone());
                self.status = Status::Accepted;
                (*at, by.name.clone(), "接单".into())
            }
            E::Outsourced { contractor, by, at } => {
                self.contractor = Some(contractor.clone());
                self.ack_by = None;
                self.accepted_at.get_or_insert(*at);
                self.status = Status::Accepted;
                (*at, by.name.clone(), format!("外委给 {contractor}"))
            }
            E::Arrived { by, at } => {
                self.arrived_at = Some(*at);
                self.status = Status::InProgress;
                (*at, by.name.clone(), "到达现场（扫码）".into())
            }
            E::MaterialsUsed { materials, by, at } => {
                self.materials.push(materials.clone());
                (*at, by.name.clone(), format!("领用 {} × {}", materials.name, materials.quantity))
            }
            E::Completed { by, at, note, photos, charge } => {
                self.completed_at = Some(*at);
                self.note = note.clone();
                self.photos = photos.clone();
                self.charge = *charge;
                self.status = Status::Completed;
                let charged = charge.map(|c| format!("，收费 ¥{c}")).unwrap_or_default();
                (*at, by.name.clone(), format!("回单{charged}"))
            }
            E::Billed { bill, at } => {
                self.bill = Some(bill.clone());
                (*at, "系统".into(), format!("维修费已入账单 {bill}"))
            }
            E::Closed { by, at, note } => {
                self.closed_at = Some(*at);
                self.status = Status::Closed;
                (*at, by.name.clone(), if note.is_empty() { "结单".into() } else { format!("结单：{note}") })
            }
            E::Visited { by, at, satisfaction, note } => {
                self.closed_at.get_or_insert(*at);
                self.satisfaction = Some(*satisfaction);
                self.status = Status::Visited;
                (*at, by.name.clone(), format!("回访：满意度 {satisfaction}/5{}", if note.is_empty() { String::new() } else { format!("，{note}") }))
            }
            E::Archived { by, at } => {
                self.status = Status::Archived;
                (*at, by.name.clone(), "归档".into())
            }
        };
        self.history.push(Step { at, by, what });
        if self.history.len() > HISTORY_KEPT {
            // Keep the registration; drop the oldest of what followed.
            self.history.remove(1);
        }
    }
}

/// An order as the board, the phone's inbox, the wall and the figures see it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkOrderTile {
    pub id: WorkOrderId,
    pub kind: OrderKind,
    pub category: String,
    /// The first 80 characters.
    pub description: String,
    pub place: String,
    pub building: Option<BuildingId>,
    pub house: Option<HouseId>,
    /// The key of the place's printed code (`house/{id}`, `device/{id}`), when it has one.
    #[serde(default)]
    pub place_key: Option<String>,
    pub vip: bool,
    /// The alarm that opened it.
    pub from_alarm: Option<u64>,
    pub urgency: Urgency,
    pub status: Status,
    pub assignee: Option<Handler>,
    pub contractor: Option<String>,
    /// While dispatched: when it passes to the next person.
    pub ack_by: Option<DateTime<Utc>>,
    pub registered_at: DateTime<Utc>,
    pub respond_by: DateTime<Utc>,
    pub complete_by: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
    pub overdue: bool,
    pub escalation: u8,
    pub dispatches: u32,
    pub satisfaction: Option<u8>,
    pub visited: bool,
    pub charge: Option<Money>,
    pub bill: Option<String>,
    /// The photos of the registration and of the completion (ids).
    #[serde(default)]
    pub photos: Vec<String>,
}

impl WorkOrderTile {
    /// Waiting in `account`'s inbox: given to them and not yet acknowledged.
    pub fn waits_for(&self, account: &str) -> bool {
        self.status == Status::Dispatched && self.assignee.as_ref().is_some_and(|a| a.account == account)
    }
}

/// One person's workload in a month.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Workload {
    pub account: String,
    pub name: String,
    pub orders: u32,
    pub completed: u32,
}

/// A community's work-order month (W6), over the orders registered in it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderFigures {
    pub month: String,
    pub orders: u32,
    pub completed: u32,
    pub on_time: u32,
    pub redispatched: u32,
    pub dispatched: u32,
    pub visited: u32,
    pub satisfaction_sum: u32,
    pub open: u32,
    pub overdue: u32,
    /// 完成率, 及时率 (of the completed), 二次派工率 (of the dispatched), 回访率 (of the completed),
    /// 满意度 (mean of the visits, 1–5, two decimals).
    pub completion_rate: Option<rust_decimal::Decimal>,
    pub on_time_rate: Option<rust_decimal::Decimal>,
    pub redispatch_rate: Option<rust_decimal::Decimal>,
    pub visit_rate: Option<rust_decimal::Decimal>,
    pub satisfaction: Option<rust_decimal::Decimal>,
    pub workload: Vec<Workload>,
}

impl OrderFigures {
    /// The figures of the orders registered in `month` (`YYYY-MM`, in `tz`).
    pub fn of<'a>(month: &str, tz: chrono_tz::Tz, tiles: impl IntoIterator<Item = &'a WorkOrderTile>) -> OrderFigures {
        let mut f = OrderFigures { month: month.to_string(), ..Default::default() };
        let mut people: BTreeMap<String, Workload> = BTreeMap::new();
        for t in tiles {
            if t.status == Status::Cancelled || t.registered_at.with_timezone(&tz).format("%Y-%m").to_string() != month {
                continue;
            }
            f.orders += 1;
            let completed = t.completed_at.is_some();
            f.completed += u32::from(completed);
            f.on_time += u32::from(t.completed_at.is_some_and(|c| c <= t.complete_by));
            f.dispatched += u32::from(t.dispatches > 0);
            f.redispatched += u32::from(t.dispatches > 1);
            f.open += u32::from(t.status.is_open());
            f.overdue += u32::from(t.overdue);
            if let Some(s) = t.satisfaction {
                f.visited += 1;
                f.satisfaction_sum += u32::from(s);
            }
            if let Some(a) = &t.assignee {
                let w = people.entry(a.account.clone()).or_insert_with(|| Workload { account: a.account.clone(), name: a.name.clone(), ..Default::default() });
                w.orders += 1;
                w.completed += u32::from(completed);
            }
        }
        let percent = crate::patrol::percent;
        f.completion_rate = percent(f.completed, f.orders);
        f.on_time_rate = percent(f.on_time, f.completed);
        f.redispatch_rate = percent(f.redispatched, f.dispatched);
        f.visit_rate = percent(f.visited, f.completed);
        f.satisfaction = (f.visited > 0).then(|| {
            let mean = rust_decimal::Decimal::from(f.satisfaction_sum) / rust_decimal::Decimal::from(f.visited);
            let mut mean = mean.round_dp_with_strategy(2, rust_decimal::RoundingStrategy::MidpointAwayFromZero);
            mean.rescale(2);
            mean
        });
        f.workload = people.into_values().collect();
        f.workload.sort_by(|a, b| b.orders.cmp(&a.orders).then(a.account.cmp(&b.account)));
        f
    }
}

/// An item of the materials store.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockItem {
    pub name: String,
    /// 个, 米, 卷 …
    pub unit: String,
    pub unit_price: Money,
    pub stock: u32,
}

/// A community's service desk: the order numbers, the rules, the materials store (journaled in
/// `service-desk/{community}`, shared by the request handlers like the patrol site).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceDesk {
    pub rules: ServiceRules,
    /// The last number given.
    pub last_no: u64,
    pub items: BTreeMap<String, StockItem>,
    /// Announcements (公告), oldest first, the latest `NOTICES_KEPT`.
    #[serde(default)]
    pub notices: Vec<crate::notice::Notice>,
    #[serde(default)]
    pub last_notice: u64,
}

impl ServiceDesk {
    /// A notice still kept.
    pub fn notice(&self, no: u64) -> Result<&crate::notice::Notice, DeskError> {
        self.notices.iter().find(|n| n.no == no).ok_or(DeskError::Notice(crate::notice::NoticeError::NoSuchNotice(no)))
    }

    /// Every order number given so far.
    pub fn orders(&self) -> impl Iterator<Item = WorkOrderId> + '_ {
        (1..=self.last_no).map(order_id)
    }
}

/// The id of the community's `no`th order.
pub fn order_id(no: u64) -> WorkOrderId {
    WorkOrderId::new(format!("wo-{no}"))
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum DeskCommand {
    SetRules { rules: ServiceRules },
    /// The next order number.
    Number,
    /// Goods in: a new item or more of one (its name, unit and price as given).
    StockIn { item: String, name: String, unit: String, unit_price: Money, quantity: u32 },
    /// Drawn for an order.
    Draw { item: String, quantity: u32, order: WorkOrderId },
    /// Publish an announcement to the residents of `buildings` (none: all).
    Announce { title: String, body: String, buildings: BTreeSet<BuildingId>, by: String, at: DateTime<Utc> },
    /// The announcement reached this many homes.
    Delivered { notice: u64, homes: u32 },
    Withdraw { notice: u64, by: String, at: DateTime<Utc> },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum DeskEvent {
    RulesSet { rules: ServiceRules },
    Numbered { no: u64 },
    Stocked { item: String, name: String, unit: String, unit_price: Money, quantity: u32 },
    Drawn { item: String, quantity: u32, order: WorkOrderId },
    Announced { notice: crate::notice::Notice },
    Delivered { notice: u64, homes: u32 },
    Withdrawn { notice: u64, by: String, at: DateTime<Utc> },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeskError {
    Rules(OrderError),
    BadItem(String),
    BadName,
    BadQuantity,
    BadPrice(String),
    NoItem(String),
    TooMany,
    Short { name: String, stock: u32, unit: String },
    Notice(crate::notice::NoticeError),
}

crate::bilingual!(DeskError {
    DeskError::Rules(_0) => ("{}", crate::Bilingual::zh(_0)) / ("{}", crate::Bilingual::en(_0)),
    DeskError::BadItem(_0) => ("物料编号 {_0} 只能用字母、数字、- 和 _（最多 30 个）") / ("item code {_0} may use letters, digits, - and _ (up to 30)"),
    DeskError::BadName => ("物料名称和单位须为 1 到 {MAX_NAME} 个字") / ("an item's name and unit are 1 to {MAX_NAME} characters"),
    DeskError::BadQuantity => ("数量须为 1 到 1000000") / ("the quantity is 1 to 1000000"),
    DeskError::BadPrice(_0) => ("单价有误：{_0}") / ("the unit price is not valid: {_0}"),
    DeskError::NoItem(_0) => ("仓库里没有物料 {_0}") / ("the store has no item {_0}"),
    DeskError::TooMany => ("仓库最多 5000 种物料") / ("the store holds at most 5000 items"),
    DeskError::Short { name, stock, unit } => ("{name} 库存只有 {stock} {unit}") / ("only {stock} {unit} of {name} in stock"),
    DeskError::Notice(_0) => ("{}", crate::Bilingual::zh(_0)) / ("{}", crate::Bilingual::en(_0)),
});

fn item_ok(item: &str) -> bool {
    !item.is_empty() && item.len() <= 30 && item.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl crate::Aggregate for ServiceDesk {
    type Command = DeskCommand;
    type Event = DeskEvent;
    type Error = DeskError;

    fn decide(&self, command: &DeskCommand) -> Result<Vec<DeskEvent>, DeskError> {
        Ok(vec![match command {
            DeskCommand::SetRules { rules } => {
                rules.check().map_err(DeskError::Rules)?;
                DeskEvent::RulesSet { rules: rules.clone() }
            }
            DeskCommand::Number => DeskEvent::Numbered { no: self.last_no + 1 },
            DeskCommand::StockIn { item, name, unit, unit_price, quantity } => {
                if !item_ok(item) {
                    return Err(DeskError::BadItem(item.chars().take(40).collect()));
                }
                let named = |s: &str| (1..=MAX_NAME).contains(&s.trim().chars().count());
                if !named(name) || !named(unit) {
                    return Err(DeskError::BadName);
                }
                crate::limits::check_amount(*unit_price, "单价", "unit price").map_err(|e| DeskError::BadPrice(e.to_string()))?;
                let held = self.items.get(item).map_or(0, |i| i.stock);
                if !(1..=1_000_000).contains(quantity) || held.checked_add(*quantity).is_none_or(|n| n > 1_000_000) {
                    return Err(DeskError::BadQuantity);
                }
                if !self.items.contains_key(item) && self.items.len() >= 5000 {
                    return Err(DeskError::TooMany);
                }
                DeskEvent::Stocked { item: item.clone(), name: name.trim().to_string(), unit: unit.trim().to_string(), unit_price: *unit_price, quantity: *quantity }
            }
            DeskCommand::Draw { item, quantity, order } => {
                let held = self.items.get(item).ok_or_else(|| DeskError::NoItem(item.chars().take(40).collect()))?;
                if !(1..=10_000).contains(quantity) {
                    return Err(DeskError::BadQuantity);
                }
                if held.stock < *quantity {
                    return Err(DeskError::Short { name: held.name.clone(), stock: held.stock, unit: held.unit.clone() });
                }
                DeskEvent::Drawn { item: item.clone(), quantity: *quantity, order: order.clone() }
            }
            DeskCommand::Announce { title, body, buildings, by, at } => {
                crate::notice::check(title, body).map_err(DeskError::Notice)?;
                let notice = crate::notice::Notice { no: self.last_notice + 1, title: title.trim().to_string(), body: body.trim().to_string(), buildings: buildings.clone(), by: by.clone(), at: *at, delivered: 0, withdrawn: None };
                DeskEvent::Announced { notice }
            }
            DeskCommand::Delivered { notice, homes } => {
                self.notice(*notice)?;
                DeskEvent::Delivered { notice: *notice, homes: *homes }
            }
            DeskCommand::Withdraw { notice, by, at } => {
                if self.notice(*notice)?.withdrawn.is_some() {
                    return Err(DeskError::Notice(crate::notice::NoticeError::Withdrawn(*notice)));
                }
                DeskEvent::Withdrawn { notice: *notice, by: by.clone(), at: *at }
            }
        }])
    }

    fn apply(&mut self, event: &DeskEvent) {
        match event {
            DeskEvent::RulesSet { rules } => self.rules = rules.clone(),
            DeskEvent::Numbered { no } => self.last_no = *no,
            DeskEvent::Stocked { item, name, unit, unit_price, quantity } => {
                let entry = self.items.entry(item.clone()).or_insert_with(|| StockItem { name: name.clone(), unit: unit.clone(), unit_price: *unit_price, stock: 0 });
                entry.name = name.clone();
                entry.unit = unit.clone();
                entry.unit_price = *unit_price;
                entry.stock = entry.stock.saturating_add(*quantity);
            }
            DeskEvent::Drawn { item, quantity, .. } => {
                if let Some(i) = self.items.get_mut(item) {
                    i.stock = i.stock.saturating_sub(*quantity);
                }
            }
            DeskEvent::Announced { notice } => {
                self.last_notice = notice.no;
                self.notices.push(notice.clone());
                if self.notices.len() > crate::notice::NOTICES_KEPT {
                    self.notices.remove(0);
                }
            }
            DeskEvent::Delivered { notice, homes } => {
                if let Some(n) = self.notices.iter_mut().find(|n| n.no == *notice) {
                    n.delivered = *homes;
                }
            }
            DeskEvent::Withdrawn { notice, by, at } => {
                if let Some(n) = self.notices.iter_mut().find(|n| n.no == *notice) {
                    n.withdrawn = Some((by.clone(), *at));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
