//! The organisation (X1, X5): companies with their branches and communities, roles, staff with
//! their roles and scope, and owners with their houses. Journaled in the `org` stream; this is
//! the pure fold of those events.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use hutong_core::identity::{BuiltinRole, Permission, Principal, Role, Scope, Subject};
use hutong_core::{CommunityId, CompanyId, HouseId, RoleId, StaffId};
use serde::{Deserialize, Serialize};

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

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum OrgEvent {
    /// A property company joined the deployment.
    CompanyCreated { company: CompanyId, name: String },
    /// A community (project) was placed under a company (and optionally a branch 分公司).
    CommunityAssigned { company: CompanyId, branch: Option<String>, community: CommunityId },
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
    /// An owner was registered with their houses.
    OwnerRegistered { company: CompanyId, phone: String, community: CommunityId, houses: Vec<HouseId> },
}

#[derive(Clone, Debug, Default)]
pub struct Company {
    pub name: String,
    pub branches: BTreeSet<String>,
    /// The branch (分公司) each community sits under, where it has one.
    pub community_branch: BTreeMap<CommunityId, String>,
    pub communities: BTreeSet<CommunityId>,
    pub roles: BTreeMap<RoleId, Role>,
}

#[derive(Clone, Debug)]
pub struct Owner {
    pub company: CompanyId,
    pub communities: BTreeSet<CommunityId>,
    pub houses: BTreeSet<HouseId>,
}

#[derive(Clone, Debug, Default)]
pub struct Org {
    pub companies: BTreeMap<CompanyId, Company>,
    pub community_company: HashMap<CommunityId, CompanyId>,
    pub staff: HashMap<StaffId, StaffRecord>,
    pub accounts: HashMap<String, StaffId>,
    pub owners: HashMap<String, Owner>,
}

impl Org {
    pub fn apply(&mut self, event: &OrgEvent) {
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

    /// A role as a company sees it: built in, or its own.
    pub fn role(&self, company: &CompanyId, id: &RoleId) -> Option<Role> {
        BuiltinRole::from_id(id).map(BuiltinRole::role).or_else(|| self.companies.get(company)?.roles.get(id).cloned())
    }

    pub fn roles(&self, company: &CompanyId) -> Vec<Role> {
        let mut all: Vec<Role> = BuiltinRole::ALL.iter().map(|r| r.role()).collect();
        if let Some(c) = self.companies.get(company) {
            all.extend(c.roles.values().cloned());
        }
        all
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
