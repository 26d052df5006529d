//! The HTTP contract's request bodies and replies, typed once and shared: the server answers with these and the
//! screens (WASM) read them — a renamed field is a compile error on both sides, never a blank
//! cell. Shapes follow what the API has always answered (rows flatten the book's `BillRow`).

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::bill_run::RunProblem;
use crate::book::{BillLine, BillRow, Change, Payment};
use crate::ids::{BuildingId, CommunityId, CompanyId, HouseId};
use crate::import::template::{RowError, Template};
use crate::money::Money;

/// A bill as the desk lists it: the book's row, its item's name and its state's label.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BillView {
    #[serde(flatten)]
    pub row: BillRow,
    pub item_name: String,
    pub state_label: String,
}

/// `GET …/bills`: one page of the matching bills, newest first, with the totals of all of them.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BillPage {
    pub total: usize,
    pub page: usize,
    pub page_size: usize,
    pub amount: Money,
    pub paid: Money,
    pub rows: Vec<BillView>,
}

/// `GET …/bills/{bill}`: the bill, every change to it, and the payments that touched it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BillDetail {
    pub bill: BillView,
    pub history: Vec<Change>,
    pub payments: Vec<Payment>,
}

/// An edited, deleted or voided bill as it is now.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BillReply {
    pub bill: BillView,
}

/// One line of a batch's or a reminder's result: a bill, a house (with its payment when marked
/// paid), whether it went through and, if not, why.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResultLine {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bill: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub house: Option<HouseId>,
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment: Option<Payment>,
}

/// `POST …/bills/batch`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchReply {
    pub results: Vec<ResultLine>,
}

/// `POST …/reminders`: how many houses were reminded, how many refused (inside their channel's
/// limit, or owing nothing), and each house's line.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemindReply {
    pub sent: usize,
    pub refused: usize,
    pub results: Vec<ResultLine>,
}

/// `POST …/payments`: the payment (or the one its key already took) and where its receipt is.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PayReply {
    pub payment: Payment,
    pub receipt: String,
}

/// An import's report (F6, C5): 200 when imported, 422 when bad rows stopped it — every bad row
/// named by row, column and reason either way.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportReport {
    /// The import batch, to remind its houses ("remind now"); absent when nothing was imported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch: Option<String>,
    pub imported: usize,
    /// Houses the import created because the community had none at their address (C1).
    #[serde(default)]
    pub created: usize,
    #[serde(default)]
    pub skipped_duplicates: usize,
    #[serde(default)]
    pub amount: Money,
    pub rows: usize,
    #[serde(default)]
    pub bad_rows: usize,
    pub errors: Vec<RowError>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<Template>,
    #[serde(default)]
    pub elapsed_ms: u64,
    #[serde(default)]
    pub message: String,
}

/// One item's share of a bill run.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunItem {
    pub item: String,
    pub name: String,
    pub bills: u64,
    pub amount: Money,
}

/// `POST …/bill-runs`: what the run issued (or, previewed, would issue).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunReply {
    pub committed: bool,
    pub period_start: NaiveDate,
    pub period_end: NaiveDate,
    pub bills: u64,
    pub amount: Money,
    pub skipped: u64,
    pub by_item: Vec<RunItem>,
    /// The first hundred houses that could not be priced.
    pub problems: Vec<RunProblem>,
    pub problem_count: usize,
    pub sample: Vec<BillLine>,
    pub elapsed_ms: u64,
}

/// `GET /api/v1/me`: who is signed in, with what, where.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Me {
    /// `staff` or `owner`.
    pub kind: String,
    /// The account (an owner: their masked phone).
    pub account: String,
    pub name: String,
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub company: CompanyId,
    /// `module.read`, `module.write`, `personal.unmask`.
    pub permissions: Vec<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<String>))]
    pub communities: Vec<CommunityId>,
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<String>))]
    pub buildings: Vec<BuildingId>,
}

impl Me {
    pub fn may(&self, permission: crate::identity::Permission) -> bool {
        self.permissions.iter().any(|p| *p == permission.to_string())
    }

    /// The modules the caller holds any permission in, in order, once each.
    pub fn modules(&self) -> Vec<crate::identity::Module> {
        let mut modules: Vec<crate::identity::Module> =
            self.permissions.iter().filter_map(|p| p.parse::<crate::identity::Permission>().ok()?.module()).collect();
        modules.sort();
        modules.dedup();
        modules
    }
}

/// `GET /api/v1/communities`: a community the caller may see.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CommunitySummary {
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub id: CommunityId,
    pub name: String,
    /// IANA zone, e.g. `Asia/Shanghai`: periods, due dates and windows are computed in it.
    pub time_zone: String,
    pub buildings: usize,
    pub houses: usize,
}

// ---- Request bodies (the billing desk's). Unknown fields are refused. ----

#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct EditBody {
    pub item: String,
    pub period_start: NaiveDate,
    pub period_end: NaiveDate,
    /// Yuan, at most two decimals.
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "194.57"))]
    pub amount: Money,
    #[serde(default)]
    pub remark: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct VoidBody {
    pub reason: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum BatchAction {
    Remind,
    MarkPaid,
    Delete,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct BatchBody {
    pub action: BatchAction,
    pub bills: Vec<String>,
    /// Remind: the channel (default in-app).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, example = "wechat"))]
    pub channel: Option<crate::reminder::Channel>,
    /// Mark paid: how the money came, who paid, and the request's idempotency key.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, example = "cash"))]
    pub pay_channel: Option<crate::book::PayChannel>,
    #[serde(default)]
    pub payer: Option<String>,
    #[serde(default)]
    pub key: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RunBody {
    /// monthly, quarterly or yearly.
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "monthly"))]
    pub cycle: crate::bill_run::Cycle,
    /// in_advance or in_arrears.
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "in_advance"))]
    pub timing: crate::bill_run::Timing,
    /// The day the run is for; today by default.
    #[serde(default)]
    pub on: Option<NaiveDate>,
    pub items: Vec<String>,
    /// false: preview only.
    #[serde(default)]
    pub commit: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PayBody {
    /// The idempotency key; the `Idempotency-Key` header wins.
    #[serde(default)]
    pub key: Option<String>,
    /// The house, by id or either address form.
    pub house: String,
    /// Bills to settle; empty settles the house's open bills earliest first.
    #[serde(default)]
    pub bills: Vec<String>,
    /// The money that arrived; by default exactly what the bills owe. Any surplus is prepaid.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, example = "194.57"))]
    pub amount: Option<Money>,
    /// cash, pos_card, wechat_pay, alipay, bank_transfer or bank_collection.
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "wechat_pay"))]
    pub channel: crate::book::PayChannel,
    #[serde(default)]
    pub payer: String,
    /// The provider's transaction number (微信/支付宝交易单号), required on wechat_pay and alipay:
    /// each number pays once. Up to 64 characters; other channels may carry a slip number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RemindBody {
    #[serde(default)]
    pub bills: Vec<String>,
    #[serde(default)]
    pub houses: Vec<String>,
    /// Every house of an import batch ("remind now" after an import).
    #[serde(default)]
    pub batch: Option<String>,
    /// in_app (default), sms, wechat, email or webhook.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, example = "wechat"))]
    pub channel: Option<crate::reminder::Channel>,
}

// ---- Staff, organisation, sign-in and houses. ----

/// A staff account as the admin screens list it: phone masked unless asked for (and audited).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StaffView {
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub id: crate::ids::StaffId,
    pub account: String,
    pub name: String,
    pub phone: String,
    pub department: Option<String>,
    pub post: Option<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<String>))]
    pub roles: Vec<crate::ids::RoleId>,
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<String>))]
    pub communities: Vec<CommunityId>,
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<String>))]
    pub buildings: Vec<BuildingId>,
    pub disabled: bool,
}

impl StaffView {
    pub fn of(s: &crate::identity::StaffRecord, unmasked: bool) -> Self {
        StaffView {
            id: s.id.clone(),
            account: s.account.clone(),
            name: s.name.clone(),
            phone: if unmasked { s.phone.clone() } else { crate::identity::mask_phone(&s.phone) },
            department: s.department.clone(),
            post: s.post.clone(),
            roles: s.roles.clone(),
            communities: s.scope.communities.iter().cloned().collect(),
            buildings: s.scope.buildings.iter().cloned().collect(),
            disabled: s.disabled,
        }
    }
}

/// `POST /api/v1/staff`: a new account.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewStaff {
    pub account: String,
    pub name: String,
    pub phone: String,
    /// At least 8 characters.
    pub password: String,
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<String>))]
    pub roles: Vec<crate::ids::RoleId>,
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<String>))]
    pub communities: std::collections::BTreeSet<CommunityId>,
    /// A butler's buildings; empty: the whole communities.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<String>))]
    pub buildings: std::collections::BTreeSet<BuildingId>,
    #[serde(default)]
    pub department: Option<String>,
    #[serde(default)]
    pub post: Option<String>,
}

/// A staff member's roles after a change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RolesReply {
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub id: crate::ids::StaffId,
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<String>))]
    pub roles: Vec<crate::ids::RoleId>,
}

/// An account closed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DisabledReply {
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub id: crate::ids::StaffId,
    pub disabled: bool,
}

/// A phone in full (the request is audited).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PhoneReply {
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub id: crate::ids::StaffId,
    pub phone: String,
}

/// The caller's own details after they changed them (phone masked).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProfileReply {
    pub name: String,
    pub phone: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CompanyRef {
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub id: CompanyId,
    pub name: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OrgCommunity {
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub id: CommunityId,
    pub name: Option<String>,
    pub branch: Option<String>,
    /// The 片区 within the branch.
    #[serde(default)]
    pub region: Option<String>,
}

/// `GET /api/v1/org`: company → branches → communities, and the departments and posts in use.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OrgView {
    pub company: CompanyRef,
    pub branches: Vec<String>,
    /// Each branch's 片区.
    #[serde(default)]
    pub regions: std::collections::BTreeMap<String, Vec<String>>,
    pub communities: Vec<OrgCommunity>,
    pub departments: Vec<String>,
    pub posts: Vec<String>,
}

/// A device's key, for provisioning it (the request is audited). The device connects to MQTT as
/// `{community}/{device}` with this key as its password.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeviceKey {
    pub device: String,
    pub key: String,
    /// 0: the provisioning key; each rotation adds one.
    pub generation: u32,
}

/// An opening command delivered to a gate or a barrier.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GateOpened {
    pub device: String,
    pub at: chrono::DateTime<chrono::Utc>,
}

/// Where a device's key stands after a revocation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeviceKeyState {
    pub device: String,
    pub generation: u32,
    /// No key of this device is accepted until the next rotation.
    pub revoked: bool,
}

/// A sign-in: the session token (also set as an HttpOnly cookie) and who signed in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SignedIn {
    pub token: String,
    pub me: Me,
}

/// A one-time code was sent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CodeSent {
    pub sent: bool,
}

/// The session ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SignedOut {
    pub signed_out: bool,
}

/// `GET /healthz`: `ready`; `degraded` when streams are quarantined or actors were left stopped
/// (the rest serves on; the log and `/metrics` name them); `recovering` (503) while starting; `failed` (503) once the
/// journal refused a write and the server stopped taking them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Health {
    pub status: String,
    /// How many journal streams are quarantined.
    #[serde(default)]
    pub quarantined: usize,
    /// Actors left stopped after failing too often (their building or device answers 503).
    #[serde(default)]
    pub actors_down: u64,
}

/// A house found by its address.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HouseAt {
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub id: HouseId,
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub building: BuildingId,
    pub room: String,
    /// m².
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub area: rust_decimal::Decimal,
    pub address: String,
    pub address_path: String,
}

/// A resident as the house list shows them: phone and ID number masked unless unmasked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ResidentView {
    pub name: String,
    pub phone: String,
    pub id_number: Option<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub relation: crate::book::Relation,
    pub relation_label: String,
    pub vip: bool,
    pub since: NaiveDate,
}

/// A house or other resource with its residents.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HouseView {
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub id: HouseId,
    pub address: String,
    pub address_path: String,
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub kind: crate::book::ResourceKind,
    pub kind_label: String,
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub area: rust_decimal::Decimal,
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub state: crate::fee::HouseState,
    pub state_label: String,
    pub state_since: Option<NaiveDate>,
    pub residents: Vec<ResidentView>,
    /// Every state the house has been in, oldest first (C3).
    #[serde(default)]
    pub history: Vec<crate::book::StateSpan>,
    /// The company's own fields, by name (C2).
    #[serde(default)]
    pub fields: std::collections::BTreeMap<String, String>,
}

/// `GET …/house-stats` (C6): homes and other resources by state and kind, and residents — for the
/// community, and building by building (a butler: their buildings).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HouseStats {
    pub houses: usize,
    pub residents: usize,
    /// By state label (入住, 出租, 空置, 装修中, 已交房, 未售).
    pub by_state: std::collections::BTreeMap<String, usize>,
    /// By kind label (住宅, 商铺 …).
    pub by_kind: std::collections::BTreeMap<String, usize>,
    pub by_building: Vec<BuildingHouseStats>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BuildingHouseStats {
    pub building: String,
    pub name: String,
    pub houses: usize,
    pub residents: usize,
    pub by_state: std::collections::BTreeMap<String, usize>,
}

/// `GET …/house-records`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HousePage {
    pub total: usize,
    pub houses: Vec<HouseView>,
}

/// One message of the outbox as staff see it: phones masked, a sign-in code never shown.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NotificationView {
    pub id: u64,
    pub community: String,
    pub house: String,
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub channel: crate::reminder::Channel,
    pub to: Vec<String>,
    pub text: String,
    pub reason: String,
    pub queued_at: chrono::DateTime<chrono::Utc>,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub delivery: crate::outbox::Delivery,
    pub attempts: u32,
}

/// `GET …/notifications`, newest first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Notifications {
    pub notifications: Vec<NotificationView>,
}
