//! The organisation (X1, X5, C4): companies with their branches and communities, roles, staff with
//! their roles and scope, and owners with their houses. `decide` holds every rule a change must
//! keep (an account is unique, a role exists, a scope stays inside the company), so two requests
//! racing for one account cannot both pass: the runtime decides and journals one command at a time.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

use super::access::{BuiltinRole, Permission, Principal, Role, Scope, Subject};
#[cfg(test)]
use super::access::Module;
use crate::ids::{CommunityId, CompanyId, HouseId, RoleId, StaffId, is_valid_id};

/// The shortest password a staff account may have.
pub const MIN_PASSWORD_CHARS: usize = 8;
/// The longest password an account takes (sign-in reads no more either).
pub const MAX_PASSWORD_CHARS: usize = 256;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StaffRecord {
    pub id: StaffId,
    pub company: CompanyId,
    pub account: String,
    pub name: String,
    pub phone: String,
    #[serde(default)]
    pub department: Option<String>,
    #[serde(default)]
    pub post: Option<String>,
    pub roles: Vec<RoleId>,
    pub scope: Scope,
    pub disabled: bool,
    /// argon2id PHC string; never leaves the server.
    pub password_hash: String,
}

/// Who asks for a change to staff: the deployment itself (first start, the demo), or a staff
/// member — who grants nothing they do not hold and reaches no one outside their own scope (A1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Actor {
    System,
    Staff { permissions: BTreeSet<Permission>, scope: Scope },
}

impl Actor {
    pub fn of(principal: &Principal) -> Actor {
        Actor::Staff { permissions: principal.permissions.clone(), scope: principal.scope.clone() }
    }
}

pub enum OrgCommand {
    /// Add a property company to the deployment.
    CreateCompany { company: CompanyId, name: String },
    /// Place a community under a company (and optionally a branch 分公司).
    AssignCommunity { company: CompanyId, branch: Option<String>, community: CommunityId },
    /// A community the company set up itself: it is the company's, and the staff member who set it
    /// up manages it from now on (their scope widens to it).
    OpenCommunity { company: CompanyId, community: CommunityId, staff: StaffId },
    /// Define a role of the company's own.
    DefineRole { company: CompanyId, role: Role },
    /// Open a staff account; `password_chars` is the length of the password behind the hash.
    CreateStaff { staff: StaffRecord, password_chars: usize, by: Actor },
    /// Replace a staff member's roles.
    ChangeRoles { staff: StaffId, roles: Vec<RoleId>, by: Actor },
    /// Change a staff member's own details.
    ChangeProfile { staff: StaffId, name: String, phone: String },
    /// Close a staff account.
    DisableStaff { staff: StaffId, by: Actor },
    /// Open a closed staff account again (its sessions stay ended).
    EnableStaff { staff: StaffId, by: Actor },
    /// Set a staff member's password: their own (they proved the old one at the door), or a reset
    /// by someone who holds all they hold.
    ChangePassword { staff: StaffId, password_hash: String, password_chars: usize, by: Option<Actor> },
    /// Register an owner with their houses in a community.
    RegisterOwner { company: CompanyId, phone: String, community: CommunityId, houses: Vec<HouseId> },
    /// A branch (分公司) of the company, with 片区 under it (more may be added later).
    DefineBranch { company: CompanyId, branch: String, regions: Vec<String> },
    /// A community placed under a branch and, within it, a 片区 (or taken out of them: `None`).
    PlaceCommunity { company: CompanyId, community: CommunityId, branch: Option<String>, region: Option<String> },
    /// Someone asks to be registered as a resident of a house (R6: an owner not known yet).
    RequestOwner { request: OwnerRequest },
    /// The office approves a request (the person becomes the house's owner in the portal) or
    /// turns it down with a note.
    DecideOwnerRequest { company: CompanyId, no: u64, approve: bool, by: String, note: String },
}

/// A request to be registered as a resident of a house, and what the office made of it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OwnerRequest {
    /// Numbered across the deployment from 1 (set by `decide`).
    #[serde(default)]
    pub no: u64,
    pub company: CompanyId,
    pub community: CommunityId,
    pub house: HouseId,
    pub address: String,
    pub name: String,
    pub phone: String,
    pub relation: crate::book::Relation,
    pub at: chrono::DateTime<chrono::Utc>,
    /// `None` while it waits; then approved or not, by whom, with the note.
    #[serde(default)]
    pub decided: Option<(bool, String, String)>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum OrgEvent {
    /// A property company joined the deployment.
    CompanyCreated { company: CompanyId, name: String },
    /// A community (project) was placed under a company (and optionally a branch 分公司).
    CommunityAssigned { company: CompanyId, branch: Option<String>, community: CommunityId },
    /// A staff member's scope took in one more community (the one they set up).
    StaffScopeWidened { staff: StaffId, community: CommunityId },
    /// A company defined a role of its own.
    RoleDefined { company: CompanyId, role: Role },
    /// A staff account was opened.
    StaffCreated { staff: StaffRecord },
    /// A staff member's roles were replaced.
    StaffRolesChanged { staff: StaffId, roles: Vec<RoleId> },
    /// A staff member's own details changed.
    StaffProfileChanged { staff: StaffId, name: String, phone: String },
    /// A staff account was closed; its sessions end with it.
    StaffDisabled { staff: StaffId },
    /// A closed staff account was opened again.
    StaffEnabled { staff: StaffId },
    /// A staff member's password was set (its hash).
    PasswordChanged { staff: StaffId, password_hash: String },
    /// An owner was registered with their houses.
    OwnerRegistered { company: CompanyId, phone: String, community: CommunityId, houses: Vec<HouseId> },
    /// A branch was defined, or took in more 片区.
    BranchDefined { company: CompanyId, branch: String, regions: Vec<String> },
    /// A community was placed under a branch and 片区.
    CommunityPlaced { company: CompanyId, community: CommunityId, branch: Option<String>, region: Option<String> },
    /// Someone asked to be registered.
    OwnerRequested { request: OwnerRequest },
    /// The office decided a request.
    OwnerRequestDecided { no: u64, approved: bool, by: String, note: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrgError {
    CompanyExists(CompanyId),
    NoCompany(CompanyId),
    CommunityTaken(CommunityId),
    NotOurCommunity(CommunityId),
    AccountTaken,
    ShortPassword,
    NoRole(RoleId),
    BadRoleId,
    NoStaff(StaffId),
    BeyondOwn,
    BadName,
    NoBranch(String),
    RegionElsewhere(String),
    PlatformPermission,
    NoRequest(u64),
    RequestDecided(u64),
    TooManyRequests,
    OwnerElsewhere,
}

crate::bilingual!(OrgError {
    OrgError::CompanyExists(_0) => ("公司 {_0} 已存在") / ("company {_0} already exists"),
    OrgError::NoCompany(_0) => ("没有公司 {_0}") / ("no company {_0}"),
    OrgError::CommunityTaken(_0) => ("小区 {_0} 已属于另一家公司") / ("community {_0} belongs to another company"),
    OrgError::NotOurCommunity(_0) => ("小区 {_0} 不属于本公司") / ("community {_0} is not this company's"),
    OrgError::AccountTaken => ("账号为空或已存在") / ("the account is empty or already taken"),
    OrgError::ShortPassword => ("密码须为 {MIN_PASSWORD_CHARS} 至 {MAX_PASSWORD_CHARS} 位") / ("a password has {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} characters"),
    OrgError::NoRole(_0) => ("没有角色 {_0}") / ("no role {_0}"),
    OrgError::BadRoleId => ("角色编号无效或与内置角色重复") / ("the role id is invalid or a built-in role's"),
    OrgError::NoStaff(_0) => ("没有员工 {_0}") / ("no staff member {_0}"),
    OrgError::BadName => ("名称须为 1–40 个字") / ("a name is 1–40 characters"),
    OrgError::NoBranch(_0) => ("没有分公司或片区 {_0}") / ("no branch or region {_0}"),
    OrgError::RegionElsewhere(_0) => ("片区 {_0} 已属于另一分公司") / ("region {_0} belongs to another branch"),
    OrgError::NoRequest(_0) => ("没有登记申请 {_0}") / ("no registration request {_0}"),
    OrgError::RequestDecided(_0) => ("登记申请 {_0} 已处理") / ("registration request {_0} was decided already"),
    OrgError::OwnerElsewhere => ("该手机号已是另一家物业公司的业主") / ("this phone is another company's owner"),
    OrgError::TooManyRequests => ("该手机号已有待审核的申请") / ("this phone has requests waiting already"),
    OrgError::PlatformPermission => ("公司角色不能包含平台权限") / ("a company's role cannot hold the platform's permission"),
    OrgError::BeyondOwn => ("不能授予或管理超出自己权限或管辖范围的账号") / ("you cannot grant, or manage an account with, more than your own permissions and scope"),
});

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Company {
    pub name: String,
    pub branches: BTreeSet<String>,
    /// The branch (分公司) each community sits under, where it has one.
    pub community_branch: BTreeMap<CommunityId, String>,
    pub communities: BTreeSet<CommunityId>,
    pub roles: BTreeMap<RoleId, Role>,
    /// Each branch's 片区.
    #[serde(default)]
    pub regions: BTreeMap<String, BTreeSet<String>>,
    /// The 片区 each community sits in, where it has one.
    #[serde(default)]
    pub community_region: BTreeMap<CommunityId, String>,
}

impl Company {
    /// The branch a 片区 belongs to.
    pub fn branch_of_region(&self, region: &str) -> Option<&String> {
        self.regions.iter().find(|(_, rs)| rs.contains(region)).map(|(b, _)| b)
    }
}

fn check_name(name: &str) -> Result<(), OrgError> {
    let n = name.trim().chars().count();
    if n == 0 || n > 40 || name.trim() != name { Err(OrgError::BadName) } else { Ok(()) }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Owner {
    pub company: CompanyId,
    pub communities: BTreeSet<CommunityId>,
    pub houses: BTreeSet<HouseId>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Org {
    pub companies: BTreeMap<CompanyId, Company>,
    pub community_company: HashMap<CommunityId, CompanyId>,
    pub staff: HashMap<StaffId, StaffRecord>,
    pub accounts: HashMap<String, StaffId>,
    pub owners: HashMap<String, Owner>,
    /// Registration requests, by number.
    #[serde(default)]
    pub owner_requests: BTreeMap<u64, OwnerRequest>,
}

impl Org {
    fn company(&self, id: &CompanyId) -> Result<&Company, OrgError> {
        self.companies.get(id).ok_or_else(|| OrgError::NoCompany(id.clone()))
    }

    fn staff_member(&self, id: &StaffId) -> Result<&StaffRecord, OrgError> {
        self.staff.get(id).ok_or_else(|| OrgError::NoStaff(id.clone()))
    }

    /// Everything these roles grant.
    fn permissions_of(&self, company: &CompanyId, roles: &[RoleId]) -> BTreeSet<Permission> {
        roles.iter().filter_map(|r| self.role(company, r)).flat_map(|r| r.permissions).collect()
    }

    /// A staff actor may act on an account only within what they hold: its permissions (`grants`)
    /// are theirs too, and its communities (and, for a building-scoped actor, buildings) are in
    /// their scope.
    fn password_length(chars: usize) -> Result<(), OrgError> {
        if (MIN_PASSWORD_CHARS..=MAX_PASSWORD_CHARS).contains(&chars) { Ok(()) } else { Err(OrgError::ShortPassword) }
    }

    fn within(by: &Actor, grants: &BTreeSet<Permission>, scope: &Scope) -> Result<(), OrgError> {
        let Actor::Staff { permissions, scope: own } = by else { return Ok(()) };
        let buildings_ok = own.buildings.is_empty() || (!scope.buildings.is_empty() && scope.buildings.is_subset(&own.buildings));
        if grants.is_subset(permissions) && scope.communities.is_subset(&own.communities) && buildings_ok {
            Ok(())
        } else {
            Err(OrgError::BeyondOwn)
        }
    }

    fn check_roles(&self, company: &CompanyId, roles: &[RoleId]) -> Result<(), OrgError> {
        match roles.iter().find(|r| self.role(company, r).is_none()) {
            Some(r) => Err(OrgError::NoRole(r.clone())),
            None => Ok(()),
        }
    }

    /// A role as a company sees it: built in, or its own.
    pub fn role(&self, company: &CompanyId, id: &RoleId) -> Option<Role> {
        BuiltinRole::from_id(id).map(BuiltinRole::role).or_else(|| self.companies.get(company)?.roles.get(id).cloned())
    }

    pub fn roles(&self, company: &CompanyId) -> Vec<Role> {
        // The platform's own role is no company's to give.
        let mut all: Vec<Role> = BuiltinRole::ALL.iter().filter(|r| **r != BuiltinRole::PlatformOperator).map(|r| r.role()).collect();
        if let Some(c) = self.companies.get(company) {
            all.extend(c.roles.values().cloned());
        }
        all
    }

    /// A staff account's name as people know it.
    pub fn staff_name(&self, account: &str) -> Option<&str> {
        self.accounts.get(account).and_then(|id| self.staff.get(id)).map(|s| s.name.as_str())
    }

    pub fn company_of(&self, community: &str) -> Option<&CompanyId> {
        self.community_company.get(community)
    }

    /// The caller a staff account stands for, or `None` when it is closed.
    pub fn staff_principal(&self, id: &StaffId) -> Option<Principal> {
        let s = self.staff.get(id).filter(|s| !s.disabled)?;
        let permissions: BTreeSet<Permission> =
            s.roles.iter().filter_map(|r| self.role(&s.company, r)).flat_map(|r| r.permissions).collect();
        // Scope never reaches past the staff member's own company.
        let own = self.companies.get(&s.company).map(|c| &c.communities);
        let communities = s.scope.communities.iter().filter(|c| own.is_some_and(|o| o.contains(*c))).cloned().collect();
        Some(Principal {
            subject: Subject::Staff { id: s.id.clone(), account: s.account.clone(), name: s.name.clone() },
            company: s.company.clone(),
            permissions,
            scope: Scope { communities, buildings: s.scope.buildings.clone() },
            houses: BTreeSet::new(),
        })
    }

    pub fn owner_principal(&self, phone: &str) -> Option<Principal> {
        let o = self.owners.get(phone)?;
        Some(Principal {
            subject: Subject::Owner { phone: phone.to_string() },
            company: o.company.clone(),
            permissions: BTreeSet::new(),
            scope: Scope { communities: o.communities.clone(), buildings: BTreeSet::new() },
            houses: o.houses.clone(),
        })
    }
}

impl crate::Aggregate for Org {
    type Command = OrgCommand;
    type Event = OrgEvent;
    type Error = OrgError;

    fn decide(&self, command: &OrgCommand) -> Result<Vec<OrgEvent>, OrgError> {
        let event = match command {
            OrgCommand::CreateCompany { company, name } => {
                if self.companies.contains_key(company) {
                    return Err(OrgError::CompanyExists(company.clone()));
                }
                OrgEvent::CompanyCreated { company: company.clone(), name: name.clone() }
            }
            OrgCommand::AssignCommunity { company, branch, community } => {
                self.company(company)?;
                match self.community_company.get(community) {
                    Some(owner) if owner != company => return Err(OrgError::CommunityTaken(community.clone())),
                    _ => {}
                }
                OrgEvent::CommunityAssigned { company: company.clone(), branch: branch.clone(), community: community.clone() }
            }
            OrgCommand::OpenCommunity { company, community, staff } => {
                self.company(company)?;
                if self.community_company.get(community).is_some_and(|owner| owner != company) {
                    return Err(OrgError::CommunityTaken(community.clone()));
                }
                let s = self.staff_member(staff)?;
                if &s.company != company {
                    return Err(OrgError::NoStaff(staff.clone()));
                }
                let mut events = vec![OrgEvent::CommunityAssigned { company: company.clone(), branch: None, community: community.clone() }];
                // A building-scoped account stays within its buildings.
                if s.scope.buildings.is_empty() && !s.scope.communities.contains(community) {
                    events.push(OrgEvent::StaffScopeWidened { staff: staff.clone(), community: community.clone() });
                }
                return Ok(events);
            }
            OrgCommand::DefineRole { company, role } => {
                self.company(company)?;
                if !is_valid_id(role.id.as_str()) || BuiltinRole::from_id(&role.id).is_some() {
                    return Err(OrgError::BadRoleId);
                }
                if role.permissions.contains(&Permission::ManagePlatform) {
                    return Err(OrgError::PlatformPermission);
                }
                OrgEvent::RoleDefined { company: company.clone(), role: role.clone() }
            }
            OrgCommand::CreateStaff { staff, password_chars, by } => {
                let company = self.company(&staff.company)?;
                if staff.account.trim().is_empty() || self.accounts.contains_key(&staff.account) || self.staff.contains_key(&staff.id) {
                    return Err(OrgError::AccountTaken);
                }
                Self::password_length(*password_chars)?;
                self.check_roles(&staff.company, &staff.roles)?;
                if let Some(c) = staff.scope.communities.iter().find(|c| !company.communities.contains(*c)) {
                    return Err(OrgError::NotOurCommunity(c.clone()));
                }
                Self::within(by, &self.permissions_of(&staff.company, &staff.roles), &staff.scope)?;
                OrgEvent::StaffCreated { staff: staff.clone() }
            }
            OrgCommand::ChangeRoles { staff, roles, by } => {
                let s = self.staff_member(staff)?;
                self.check_roles(&s.company, roles)?;
                // Neither what they hold now nor what they would hold may exceed the actor's.
                let mut grants = self.permissions_of(&s.company, &s.roles);
                grants.extend(self.permissions_of(&s.company, roles));
                Self::within(by, &grants, &s.scope)?;
                OrgEvent::StaffRolesChanged { staff: staff.clone(), roles: roles.clone() }
            }
            OrgCommand::ChangeProfile { staff, name, phone } => {
                self.staff_member(staff)?;
                OrgEvent::StaffProfileChanged { staff: staff.clone(), name: name.clone(), phone: phone.clone() }
            }
            OrgCommand::DisableStaff { staff, by } => {
                let s = self.staff_member(staff)?;
                Self::within(by, &self.permissions_of(&s.company, &s.roles), &s.scope)?;
                if s.disabled {
                    return Ok(Vec::new());
                }
                OrgEvent::StaffDisabled { staff: staff.clone() }
            }
            OrgCommand::EnableStaff { staff, by } => {
                let s = self.staff_member(staff)?;
                Self::within(by, &self.permissions_of(&s.company, &s.roles), &s.scope)?;
                if !s.disabled {
                    return Ok(Vec::new());
                }
                OrgEvent::StaffEnabled { staff: staff.clone() }
            }
            OrgCommand::ChangePassword { staff, password_hash, password_chars, by } => {
                let s = self.staff_member(staff)?;
                Self::password_length(*password_chars)?;
                if let Some(by) = by {
                    Self::within(by, &self.permissions_of(&s.company, &s.roles), &s.scope)?;
                }
                OrgEvent::PasswordChanged { staff: staff.clone(), password_hash: password_hash.clone() }
            }
            OrgCommand::RequestOwner { request } => {
                self.company(&request.company)?;
                check_name(&request.name)?;
                let waiting = self.owner_requests.values().filter(|r| r.phone == request.phone && r.decided.is_none()).count();
                if waiting >= 3 {
                    return Err(OrgError::TooManyRequests);
                }
                let no = self.owner_requests.keys().next_back().map_or(1, |n| n + 1);
                OrgEvent::OwnerRequested { request: OwnerRequest { no, ..request.clone() } }
            }
            OrgCommand::DecideOwnerRequest { company, no, approve, by, note } => {
                let r = self.owner_requests.get(no).filter(|r| &r.company == company).ok_or(OrgError::NoRequest(*no))?;
                if r.decided.is_some() {
                    return Err(OrgError::RequestDecided(*no));
                }
                let decided = OrgEvent::OwnerRequestDecided { no: *no, approved: *approve, by: by.clone(), note: note.clone() };
                if !approve {
                    return Ok(vec![decided]);
                }
                let registered = OrgEvent::OwnerRegistered { company: r.company.clone(), phone: r.phone.clone(), community: r.community.clone(), houses: vec![r.house.clone()] };
                return Ok(vec![decided, registered]);
            }
            OrgCommand::RegisterOwner { company, phone, community, houses } => {
                self.company(company)?;
                if self.community_company.get(community).is_some_and(|c| c != company) {
                    return Err(OrgError::NotOurCommunity(community.clone()));
                }
                // An owner belongs to one company's portal; another company cannot take them over.
                if self.owners.get(phone).is_some_and(|o| &o.company != company) {
                    return Err(OrgError::OwnerElsewhere);
                }
                OrgEvent::OwnerRegistered { company: company.clone(), phone: phone.clone(), community: community.clone(), houses: houses.clone() }
            }
            OrgCommand::DefineBranch { company, branch, regions } => {
                let c = self.company(company)?;
                check_name(branch)?;
                for r in regions {
                    check_name(r)?;
                    if c.branch_of_region(r).is_some_and(|b| b != branch) {
                        return Err(OrgError::RegionElsewhere(r.clone()));
                    }
                }
                let new: Vec<String> = regions.iter().filter(|r| c.branch_of_region(r).is_none()).cloned().collect::<BTreeSet<_>>().into_iter().collect();
                if c.branches.contains(branch) && new.is_empty() {
                    return Ok(Vec::new());
                }
                OrgEvent::BranchDefined { company: company.clone(), branch: branch.clone(), regions: new }
            }
            OrgCommand::PlaceCommunity { company, community, branch, region } => {
                let c = self.company(company)?;
                if !c.communities.contains(community) {
                    return Err(OrgError::NotOurCommunity(community.clone()));
                }
                if let Some(b) = branch.as_ref().filter(|b| !c.branches.contains(*b)) {
                    return Err(OrgError::NoBranch(b.clone()));
                }
                if let Some(r) = region {
                    if branch.is_none() || c.branch_of_region(r) != branch.as_ref() {
                        return Err(OrgError::NoBranch(format!("{}/{r}", branch.as_deref().unwrap_or(""))));
                    }
                }
                OrgEvent::CommunityPlaced { company: company.clone(), community: community.clone(), branch: branch.clone(), region: region.clone() }
            }
        };
        Ok(vec![event])
    }

    fn apply(&mut self, event: &OrgEvent) {
        match event {
            OrgEvent::CompanyCreated { company, name } => {
                self.companies.entry(company.clone()).or_default().name = name.clone();
            }
            OrgEvent::CommunityAssigned { company, branch, community } => {
                let c = self.companies.entry(company.clone()).or_default();
                c.communities.insert(community.clone());
                if let Some(b) = branch {
                    c.branches.insert(b.clone());
                    c.community_branch.insert(community.clone(), b.clone());
                }
                self.community_company.insert(community.clone(), company.clone());
            }
            OrgEvent::OwnerRequested { request } => {
                self.owner_requests.insert(request.no, request.clone());
            }
            OrgEvent::OwnerRequestDecided { no, approved, by, note } => {
                if let Some(r) = self.owner_requests.get_mut(no) {
                    r.decided = Some((*approved, by.clone(), note.clone()));
                }
            }
            OrgEvent::BranchDefined { company, branch, regions } => {
                let c = self.companies.entry(company.clone()).or_default();
                c.branches.insert(branch.clone());
                c.regions.entry(branch.clone()).or_default().extend(regions.iter().cloned());
            }
            OrgEvent::CommunityPlaced { company, community, branch, region } => {
                let c = self.companies.entry(company.clone()).or_default();
                match branch {
                    Some(b) => c.community_branch.insert(community.clone(), b.clone()),
                    None => c.community_branch.remove(community),
                };
                match region {
                    Some(r) => c.community_region.insert(community.clone(), r.clone()),
                    None => c.community_region.remove(community),
                };
            }
            OrgEvent::RoleDefined { company, role } => {
                self.companies.entry(company.clone()).or_default().roles.insert(role.id.clone(), role.clone());
            }
            OrgEvent::StaffCreated { staff } => {
                self.accounts.insert(staff.account.clone(), staff.id.clone());
                self.staff.insert(staff.id.clone(), staff.clone());
            }
            OrgEvent::StaffRolesChanged { staff, roles } => {
                if let Some(s) = self.staff.get_mut(staff) {
                    s.roles = roles.clone();
                }
            }
            OrgEvent::StaffProfileChanged { staff, name, phone } => {
                if let Some(s) = self.staff.get_mut(staff) {
                    s.name = name.clone();
                    s.phone = phone.clone();
                }
            }
            OrgEvent::StaffDisabled { staff } => {
                if let Some(s) = self.staff.get_mut(staff) {
                    s.disabled = true;
                }
            }
            OrgEvent::StaffScopeWidened { staff, community } => {
                if let Some(s) = self.staff.get_mut(staff) {
                    s.scope.communities.insert(community.clone());
                }
            }
            OrgEvent::StaffEnabled { staff } => {
                if let Some(s) = self.staff.get_mut(staff) {
                    s.disabled = false;
                }
            }
            OrgEvent::PasswordChanged { staff, password_hash } => {
                if let Some(s) = self.staff.get_mut(staff) {
                    s.password_hash = password_hash.clone();
                }
            }
            OrgEvent::OwnerRegistered { company, phone, community, houses } => {
                let o = self.owners.entry(phone.clone()).or_insert_with(|| Owner {
                    company: company.clone(),
                    communities: BTreeSet::new(),
                    houses: BTreeSet::new(),
                });
                o.company = company.clone();
                o.communities.insert(community.clone());
                o.houses.extend(houses.iter().cloned());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Aggregate;

    fn run(org: &mut Org, cmd: OrgCommand) -> Result<(), OrgError> {
        for e in org.decide(&cmd)? {
            org.apply(&e);
        }
        Ok(())
    }

    fn cashier(account: &str, community: &str) -> OrgCommand {
        OrgCommand::CreateStaff {
            staff: StaffRecord {
                id: StaffId::new(format!("acme-{account}")),
                company: CompanyId::new("acme"),
                account: account.into(),
                name: "王芳".into(),
                phone: "13800000003".into(),
                department: None,
                post: None,
                roles: vec![BuiltinRole::Cashier.id()],
                scope: Scope { communities: [CommunityId::new(community)].into(), buildings: BTreeSet::new() },
                disabled: false,
                password_hash: "$argon2id$…".into(),
            },
            password_chars: 12,
            by: Actor::System,
        }
    }

    fn acme() -> Org {
        let mut org = Org::default();
        run(&mut org, OrgCommand::CreateCompany { company: "acme".into(), name: "Acme".into() }).unwrap();
        run(&mut org, OrgCommand::AssignCommunity { company: "acme".into(), branch: None, community: "heyuan".into() }).unwrap();
        org
    }

    #[test]
    fn branches_take_regions_communities_are_placed_in_them_and_no_company_holds_the_platform() {
        let mut org = acme();
        let branch = |b: &str, rs: &[&str]| OrgCommand::DefineBranch { company: "acme".into(), branch: b.into(), regions: rs.iter().map(|r| r.to_string()).collect() };
        run(&mut org, branch("华东分公司", &["杭州片区", "宁波片区"])).unwrap();
        assert_eq!(run(&mut org, branch("华南分公司", &["杭州片区"])), Err(OrgError::RegionElsewhere("杭州片区".into())));
        assert_eq!(run(&mut org, branch("", &[])), Err(OrgError::BadName));
        let place = |b: Option<&str>, r: Option<&str>| OrgCommand::PlaceCommunity { company: "acme".into(), community: "heyuan".into(), branch: b.map(Into::into), region: r.map(Into::into) };
        assert_eq!(run(&mut org, place(Some("华东分公司"), Some("深圳片区"))), Err(OrgError::NoBranch("华东分公司/深圳片区".into())));
        run(&mut org, place(Some("华东分公司"), Some("杭州片区"))).unwrap();
        let acme = &org.companies[&CompanyId::new("acme")];
        assert_eq!((acme.community_branch.get("heyuan").map(String::as_str), acme.community_region.get("heyuan").map(String::as_str)), (Some("华东分公司"), Some("杭州片区")));
        let not_ours = OrgCommand::PlaceCommunity { company: "acme".into(), community: "meiyuan".into(), branch: None, region: None };
        assert_eq!(run(&mut org, not_ours), Err(OrgError::NotOurCommunity("meiyuan".into())));
        // No company role may carry the platform's permission, and an admin cannot hand it out.
        let role = Role { id: RoleId::new("super"), name: "超级".into(), permissions: [Permission::ManagePlatform].into(), builtin: false };
        assert_eq!(run(&mut org, OrgCommand::DefineRole { company: "acme".into(), role }), Err(OrgError::PlatformPermission));
        let OrgCommand::CreateStaff { staff: mut op, .. } = cashier("op", "heyuan") else { unreachable!() };
        op.roles = vec![BuiltinRole::PlatformOperator.id()];
        let admin = Actor::Staff { permissions: BuiltinRole::Admin.permissions(), scope: Scope { communities: ["heyuan".into()].into(), buildings: BTreeSet::new() } };
        assert_eq!(run(&mut org, OrgCommand::CreateStaff { staff: op, password_chars: 12, by: admin }), Err(OrgError::BeyondOwn));
        assert!(org.roles(&CompanyId::new("acme")).iter().all(|r| r.id != BuiltinRole::PlatformOperator.id()));
    }

    #[test]
    fn an_account_is_opened_once_however_often_it_is_asked_for() {
        let mut org = acme();
        run(&mut org, cashier("cashier", "heyuan")).unwrap();
        assert_eq!(run(&mut org, cashier("cashier", "heyuan")), Err(OrgError::AccountTaken));
        assert_eq!(org.staff.len(), 1);
    }

    #[test]
    fn a_scope_outside_the_company_is_refused() {
        let mut org = acme();
        assert_eq!(run(&mut org, cashier("c2", "meiyuan")), Err(OrgError::NotOurCommunity("meiyuan".into())));
    }

    #[test]
    fn a_community_of_another_company_cannot_be_taken() {
        let mut org = acme();
        run(&mut org, OrgCommand::CreateCompany { company: "other".into(), name: "Other".into() }).unwrap();
        let taken = OrgCommand::AssignCommunity { company: "other".into(), branch: None, community: "heyuan".into() };
        assert_eq!(run(&mut org, taken), Err(OrgError::CommunityTaken("heyuan".into())));
    }

    #[test]
    fn a_short_password_and_an_unknown_role_are_refused() {
        let mut org = acme();
        let OrgCommand::CreateStaff { mut staff, .. } = cashier("c3", "heyuan") else { unreachable!() };
        let short = OrgCommand::CreateStaff { staff: staff.clone(), password_chars: 7, by: Actor::System };
        assert_eq!(run(&mut org, short), Err(OrgError::ShortPassword));
        staff.roles = vec![RoleId::new("nope")];
        assert_eq!(run(&mut org, OrgCommand::CreateStaff { staff, password_chars: 9, by: Actor::System }), Err(OrgError::NoRole(RoleId::new("nope"))));
    }

    #[test]
    fn no_one_grants_or_manages_beyond_their_own_permissions_and_scope() {
        let mut org = acme();
        run(&mut org, OrgCommand::AssignCommunity { company: "acme".into(), branch: None, community: "lianyuan".into() }).unwrap();
        let OrgCommand::CreateStaff { staff: mut admin, .. } = cashier("boss", "heyuan") else { unreachable!() };
        admin.roles = vec![BuiltinRole::Admin.id()];
        run(&mut org, OrgCommand::CreateStaff { staff: admin, password_chars: 12, by: Actor::System }).unwrap();
        // An HR clerk: staff management in 莲园 only.
        let hr = Actor::Staff {
            permissions: [Permission::Read(Module::Settings), Permission::Write(Module::Settings)].into(),
            scope: Scope { communities: ["lianyuan".into()].into(), buildings: BTreeSet::new() },
        };
        let OrgCommand::CreateStaff { staff: mut new, .. } = cashier("new", "lianyuan") else { unreachable!() };
        new.roles = vec![BuiltinRole::Admin.id()];
        let grant_admin = OrgCommand::CreateStaff { staff: new.clone(), password_chars: 12, by: hr.clone() };
        assert_eq!(run(&mut org, grant_admin), Err(OrgError::BeyondOwn), "an admin role is more than HR holds");
        new.roles = Vec::new();
        new.scope.communities = ["heyuan".into()].into();
        assert_eq!(run(&mut org, OrgCommand::CreateStaff { staff: new.clone(), password_chars: 12, by: hr.clone() }), Err(OrgError::BeyondOwn), "outside HR's scope");
        new.scope.communities = ["lianyuan".into()].into();
        run(&mut org, OrgCommand::CreateStaff { staff: new, password_chars: 12, by: hr.clone() }).unwrap();
        let promote = OrgCommand::ChangeRoles { staff: "acme-new".into(), roles: vec![BuiltinRole::Admin.id()], by: hr.clone() };
        assert_eq!(run(&mut org, promote), Err(OrgError::BeyondOwn));
        assert_eq!(run(&mut org, OrgCommand::DisableStaff { staff: "acme-boss".into(), by: hr.clone() }), Err(OrgError::BeyondOwn), "HR cannot close the admin");
        run(&mut org, OrgCommand::DisableStaff { staff: "acme-new".into(), by: hr }).unwrap();
        assert!(org.staff["acme-new"].disabled);
    }
}
