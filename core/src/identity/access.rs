//! Who may do what, where (X1–X5, C4). Permissions are per module and read/write; roles bundle
//! them; a staff member holds roles and a scope (communities, or buildings for a butler 管家);
//! an owner sees only their own houses. `Principal` is the one answer the server asks: may this
//! caller do this, and may they see that community or building. Phone and ID numbers are masked
//! unless the caller holds `personal.unmask`.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::ids::{BuildingId, CommunityId, CompanyId, HouseId, RoleId, StaffId};

/// The modules permissions are granted per.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Module {
    Billing,
    Collection,
    Devices,
    Patrol,
    WorkOrders,
    Settings,
    Reports,
}

impl Module {
    pub const ALL: [Module; 7] =
        [Module::Billing, Module::Collection, Module::Devices, Module::Patrol, Module::WorkOrders, Module::Settings, Module::Reports];

    fn as_str(self) -> &'static str {
        match self {
            Module::Billing => "billing",
            Module::Collection => "collection",
            Module::Devices => "devices",
            Module::Patrol => "patrol",
            Module::WorkOrders => "work_orders",
            Module::Settings => "settings",
            Module::Reports => "reports",
        }
    }

    /// The module's name on screen.
    pub fn label_zh(self) -> &'static str {
        match self {
            Module::Billing => "收费管理",
            Module::Collection => "收款",
            Module::Devices => "设备监控",
            Module::Patrol => "巡更",
            Module::WorkOrders => "工单",
            Module::Settings => "系统设置",
            Module::Reports => "报表",
        }
    }
}

impl Permission {
    /// The module a permission is about (`None` for unmasking personal data).
    pub fn module(self) -> Option<Module> {
        match self {
            Permission::Read(m) | Permission::Write(m) | Permission::Operate(m) => Some(m),
            Permission::UnmaskPersonalData | Permission::ManagePlatform => None,
        }
    }
}

/// One permission: read or write a module, act in the field through it, or see unmasked
/// personal data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Permission {
    Read(Module),
    Write(Module),
    /// Act on the module's things in the field — open a gate or a barrier — without changing
    /// how they are set up (the control room opens gates; it does not rotate their keys).
    Operate(Module),
    /// See phone and ID numbers in full; every use is audited.
    UnmaskPersonalData,
    /// The platform operator's: add property companies to the deployment (C1). No company's role
    /// may hold it.
    ManagePlatform,
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Permission::Read(m) => write!(f, "{}.read", m.as_str()),
            Permission::Write(m) => write!(f, "{}.write", m.as_str()),
            Permission::Operate(m) => write!(f, "{}.operate", m.as_str()),
            Permission::UnmaskPersonalData => f.write_str("personal.unmask"),
            Permission::ManagePlatform => f.write_str("platform.manage"),
        }
    }
}

impl FromStr for Permission {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if s == "personal.unmask" {
            return Ok(Permission::UnmaskPersonalData);
        }
        if s == "platform.manage" {
            return Ok(Permission::ManagePlatform);
        }
        let (module, action) = s.rsplit_once('.').ok_or_else(|| format!("unknown permission {s:?}"))?;
        let module = Module::ALL.into_iter().find(|m| m.as_str() == module).ok_or_else(|| format!("unknown module {module:?}"))?;
        match action {
            "read" => Ok(Permission::Read(module)),
            "write" => Ok(Permission::Write(module)),
            "operate" => Ok(Permission::Operate(module)),
            _ => Err(format!("unknown action {action:?}")),
        }
    }
}

impl Serialize for Permission {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Permission {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// The roles every company starts with, for the people in requirements.md.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BuiltinRole {
    Admin,
    Manager,
    Cashier,
    Finance,
    ControlRoom,
    PatrolGuard,
    Maintenance,
    Butler,
    /// A paired wall display: watches devices and alarms, changes nothing.
    WallDisplay,
    /// The deployment's operator (平台运营): adds property companies and their first
    /// administrator; sees no company's communities.
    PlatformOperator,
}

impl BuiltinRole {
    pub const ALL: [BuiltinRole; 10] = [
        BuiltinRole::Admin,
        BuiltinRole::Manager,
        BuiltinRole::Cashier,
        BuiltinRole::Finance,
        BuiltinRole::ControlRoom,
        BuiltinRole::PatrolGuard,
        BuiltinRole::Maintenance,
        BuiltinRole::Butler,
        BuiltinRole::WallDisplay,
        BuiltinRole::PlatformOperator,
    ];

    pub fn id(self) -> RoleId {
        RoleId::new(match self {
            BuiltinRole::Admin => "admin",
            BuiltinRole::Manager => "manager",
            BuiltinRole::Cashier => "cashier",
            BuiltinRole::Finance => "finance",
            BuiltinRole::ControlRoom => "control_room",
            BuiltinRole::PatrolGuard => "patrol_guard",
            BuiltinRole::Maintenance => "maintenance",
            BuiltinRole::Butler => "butler",
            BuiltinRole::WallDisplay => "wall_display",
            BuiltinRole::PlatformOperator => "platform_operator",
        })
    }

    pub fn name_zh(self) -> &'static str {
        match self {
            BuiltinRole::Admin => "系统管理员",
            BuiltinRole::Manager => "项目经理",
            BuiltinRole::Cashier => "收银员",
            BuiltinRole::Finance => "财务",
            BuiltinRole::ControlRoom => "监控中心值班员",
            BuiltinRole::PatrolGuard => "巡更保安",
            BuiltinRole::Maintenance => "维修工",
            BuiltinRole::Butler => "管家",
            BuiltinRole::WallDisplay => "监控大屏显示屏",
            BuiltinRole::PlatformOperator => "平台运营",
        }
    }

    pub fn permissions(self) -> BTreeSet<Permission> {
        use Module::*;
        use Permission::*;
        let read_all = Module::ALL.map(Read);
        match self {
            BuiltinRole::Admin => Module::ALL.iter().flat_map(|m| [Read(*m), Write(*m)]).chain([Operate(Devices), Operate(WorkOrders), UnmaskPersonalData]).collect(),
            // Operating work orders is the office's part: review, dispatch, close, return visits.
            BuiltinRole::Manager => read_all.into_iter().chain([Write(Reports), Write(WorkOrders), Operate(WorkOrders)]).collect(),
            BuiltinRole::Cashier => [Read(Billing), Read(Collection), Write(Collection)].into(),
            BuiltinRole::Finance => [Read(Billing), Write(Billing), Read(Collection), Write(Collection), Read(Reports)].into(),
            BuiltinRole::ControlRoom => [Read(Devices), Operate(Devices), Read(Patrol), Read(WorkOrders), Write(WorkOrders), Operate(WorkOrders)].into(),
            BuiltinRole::PatrolGuard => [Read(Patrol), Write(Patrol)].into(),
            BuiltinRole::Maintenance => [Read(WorkOrders), Write(WorkOrders), Read(Devices)].into(),
            BuiltinRole::Butler => [Read(Billing), Read(Collection), Read(WorkOrders), Write(WorkOrders), Read(Devices)].into(),
            BuiltinRole::WallDisplay => [Read(Devices)].into(),
            BuiltinRole::PlatformOperator => [ManagePlatform].into(),
        }
    }

    pub fn role(self) -> Role {
        Role { id: self.id(), name: self.name_zh().to_string(), permissions: self.permissions(), builtin: true }
    }

    pub fn from_id(id: &RoleId) -> Option<BuiltinRole> {
        BuiltinRole::ALL.into_iter().find(|r| &r.id() == id)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Role {
    pub id: RoleId,
    pub name: String,
    pub permissions: BTreeSet<Permission>,
    pub builtin: bool,
}

/// Where a staff member may look: whole communities, and — for a butler — only some buildings.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scope {
    pub communities: BTreeSet<CommunityId>,
    /// Empty: every building of `communities`.
    #[serde(default)]
    pub buildings: BTreeSet<BuildingId>,
}

/// Who is calling, resolved from their session.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Principal {
    pub subject: Subject,
    pub company: CompanyId,
    pub permissions: BTreeSet<Permission>,
    pub scope: Scope,
    /// An owner's own houses.
    #[serde(default)]
    pub houses: BTreeSet<HouseId>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Subject {
    Staff { id: StaffId, account: String, name: String },
    Owner { phone: String },
}

impl Principal {
    pub fn may(&self, permission: Permission) -> bool {
        self.permissions.contains(&permission)
    }

    /// A community is visible when it is the caller's company's and in their scope.
    pub fn sees_community(&self, company: &CompanyId, community: &CommunityId) -> bool {
        &self.company == company && self.scope.communities.contains(community)
    }

    /// A building is visible when its community is, and the caller is not limited to other buildings.
    pub fn sees_building(&self, company: &CompanyId, community: &CommunityId, building: &BuildingId) -> bool {
        self.sees_community(company, community) && (self.scope.buildings.is_empty() || self.scope.buildings.contains(building))
    }

    /// Who did it, for the audit log.
    pub fn actor(&self) -> String {
        match &self.subject {
            Subject::Staff { account, .. } => account.clone(),
            Subject::Owner { phone } => format!("owner:{}", mask_phone(phone)),
        }
    }
}

/// `13898424613` → `138****4613`; anything else keeps only its last four characters.
/// A mainland mobile number as people type it: 11 digits starting with 1.
pub fn is_mobile(phone: &str) -> bool {
    phone.len() == 11 && phone.starts_with('1') && phone.bytes().all(|b| b.is_ascii_digit())
}

pub fn mask_phone(phone: &str) -> String {
    let chars: Vec<char> = phone.chars().collect();
    if chars.len() == 11 && chars.iter().all(char::is_ascii_digit) {
        return format!("{}****{}", chars[..3].iter().collect::<String>(), chars[7..].iter().collect::<String>());
    }
    mask_tail(&chars, 4)
}

/// `110101199003071234` → `110101********1234`.
pub fn mask_id_number(id: &str) -> String {
    let chars: Vec<char> = id.chars().collect();
    if chars.len() == 18 {
        return format!("{}********{}", chars[..6].iter().collect::<String>(), chars[14..].iter().collect::<String>());
    }
    mask_tail(&chars, 4)
}

fn mask_tail(chars: &[char], keep: usize) -> String {
    let keep = keep.min(chars.len() / 2);
    let hidden = chars.len() - keep;
    "*".repeat(hidden) + &chars[hidden..].iter().collect::<String>()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_and_id_numbers_are_masked_as_the_seed_shows() {
        assert_eq!(mask_phone("13898424613"), "138****4613");
        assert_eq!(mask_id_number("110101199003071234"), "110101********1234");
        assert_eq!(mask_phone("12345"), "***45");
        assert_eq!(mask_phone(""), "");
    }

    #[test]
    fn permissions_round_trip_through_text() {
        for role in BuiltinRole::ALL {
            for p in role.permissions() {
                assert_eq!(p.to_string().parse::<Permission>().unwrap(), p);
            }
        }
        assert!("billing.delete".parse::<Permission>().is_err());
    }

    #[test]
    fn a_butler_sees_only_their_buildings_and_nobody_sees_another_company() {
        let p = Principal {
            subject: Subject::Staff { id: StaffId::new("s"), account: "wang".into(), name: "王".into() },
            company: CompanyId::new("acme"),
            permissions: BuiltinRole::Butler.permissions(),
            scope: Scope { communities: [CommunityId::new("c1")].into(), buildings: [BuildingId::new("b1")].into() },
            houses: BTreeSet::new(),
        };
        let (acme, c1) = (CompanyId::new("acme"), CommunityId::new("c1"));
        assert!(p.sees_building(&acme, &c1, &BuildingId::new("b1")));
        assert!(!p.sees_building(&acme, &c1, &BuildingId::new("b2")));
        assert!(!p.sees_community(&CompanyId::new("other"), &c1));
        assert!(!p.may(Permission::Write(Module::Settings)));
        assert!(BuiltinRole::Admin.role().permissions.contains(&Permission::UnmaskPersonalData));
    }
}
