//! The organisation above communities (C1, X5): the platform operator adds property companies,
//! each with its first administrator (a multi-company deployment); a company's administrator
//! defines its branches (分公司) and 片区 and places its communities in them.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Extension, Path, State};
use hutong_core::api::OrgView;
use hutong_core::identity::{Actor, BuiltinRole, OrgCommand, Scope};
use hutong_core::{CommunityId, CompanyId, StaffId};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use crate::app::App;
use crate::audit::audit_entry;
use crate::auth::Caller;
use crate::error::{ApiError, ApiJson, internal};
use crate::identity::{StaffRecord, hash_password};
use crate::server::PLATFORM_COMPANY;

/// A property company as the platform operator sees it: no community's data, only counts.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct CompanySummary {
    pub id: String,
    pub name: String,
    pub communities: usize,
    pub branches: usize,
    pub staff: usize,
}

pub async fn list(State(app): State<Arc<App>>) -> Json<Vec<CompanySummary>> {
    let org = app.identity.org();
    let staff = |c: &CompanyId| org.staff.values().filter(|s| &s.company == c).count();
    Json(
        org.companies
            .iter()
            .filter(|(id, _)| id.as_str() != PLATFORM_COMPANY)
            .map(|(id, c)| CompanySummary { id: id.to_string(), name: c.name.clone(), communities: c.communities.len(), branches: c.branches.len(), staff: staff(id) })
            .collect(),
    )
}

/// A company's first administrator: they set up its communities and staff from there.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FirstAdmin {
    pub account: String,
    pub name: String,
    #[serde(default)]
    pub phone: String,
    /// 8–256 characters; only its hash is kept.
    pub password: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCompany {
    /// 2–32 lowercase letters, digits, dashes or underscores.
    pub id: String,
    pub name: String,
    pub admin: FirstAdmin,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct CompanyCreated {
    pub id: String,
    pub name: String,
    pub admin: String,
}

/// The platform operator adds a property company and its first administrator (audited).
pub async fn create(State(app): State<Arc<App>>, Extension(caller): Extension<Caller>, ApiJson(body): ApiJson<NewCompany>) -> Result<Json<CompanyCreated>, ApiError> {
    let id_ok = (2..=32).contains(&body.id.len()) && body.id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if !id_ok || body.id == PLATFORM_COMPANY {
        return Err(ApiError::bad("公司编号须为 2–32 位小写字母、数字、连字符或下划线", "a company id is 2–32 lowercase letters, digits, dashes or underscores"));
    }
    let name = body.name.trim().to_string();
    if name.is_empty() || name.chars().count() > 40 {
        return Err(ApiError::bad("公司名称须为 1–40 个字", "a company's name is 1–40 characters"));
    }
    let company = CompanyId::new(&body.id);
    {
        let org = app.identity.org();
        if org.companies.contains_key(&company) {
            return Err(ApiError::Conflict { zh: format!("公司 {company} 已存在"), en: format!("company {company} already exists") });
        }
        if body.admin.account.trim().is_empty() || org.accounts.contains_key(&body.admin.account) {
            return Err(ApiError::Conflict { zh: "账号为空或已存在".into(), en: "the account is empty or already taken".into() });
        }
    }
    let password_chars = body.admin.password.chars().count();
    if !(hutong_core::identity::MIN_PASSWORD_CHARS..=hutong_core::identity::MAX_PASSWORD_CHARS).contains(&password_chars) {
        return Err(ApiError::from(hutong_core::identity::OrgError::ShortPassword));
    }
    // Argon2 off the async threads.
    let password = body.admin.password;
    let password_hash = tokio::task::spawn_blocking(move || hash_password(&password)).await.map_err(internal)?;
    let admin = StaffRecord {
        id: StaffId::new(format!("{company}-{}", body.admin.account)),
        company: company.clone(),
        account: body.admin.account.clone(),
        name: body.admin.name,
        phone: body.admin.phone,
        department: None,
        post: Some(BuiltinRole::Admin.name_zh().into()),
        roles: vec![BuiltinRole::Admin.id()],
        // No community yet: each one they set up widens it.
        scope: Scope::default(),
        disabled: false,
        password_hash,
    };
    app.identity.change(OrgCommand::CreateCompany { company: company.clone(), name: name.clone() }).await?;
    app.identity.change(OrgCommand::CreateStaff { staff: admin, password_chars, by: Actor::System }).await?;
    let after = json!({"name": name, "admin": body.admin.account});
    app.identity.audit(audit_entry(&caller, "company.create", company.as_str(), None, Some(after))).await.map_err(internal)?;
    Ok(Json(CompanyCreated { id: company.to_string(), name, admin: body.admin.account }))
}

/// A branch and the 片区 to add under it.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BranchBody {
    pub branch: String,
    #[serde(default)]
    pub regions: Vec<String>,
}

/// A company's administrator defines a branch (分公司) with 片区 (audited).
pub async fn define_branch(State(app): State<Arc<App>>, Extension(caller): Extension<Caller>, ApiJson(body): ApiJson<BranchBody>) -> Result<Json<OrgView>, ApiError> {
    let command = OrgCommand::DefineBranch { company: caller.principal.company.clone(), branch: body.branch.clone(), regions: body.regions.clone() };
    app.identity.change(command).await?;
    app.identity.audit(audit_entry(&caller, "org.branch", &body.branch, None, Some(json!({"regions": body.regions})))).await.map_err(internal)?;
    crate::staff::org_view(&app, &caller)
}

/// Where a community sits: a branch, and a 片区 of that branch (both absent: nowhere).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlacementBody {
    #[serde(default)]
    pub branch: Option<String>,
    #[serde(default)]
    pub region: Option<String>,
}

pub async fn place(State(app): State<Arc<App>>, Extension(caller): Extension<Caller>, Path(community): Path<String>, ApiJson(body): ApiJson<PlacementBody>) -> Result<Json<OrgView>, ApiError> {
    let command = OrgCommand::PlaceCommunity { company: caller.principal.company.clone(), community: CommunityId::new(&community), branch: body.branch.clone(), region: body.region.clone() };
    app.identity.change(command).await?;
    app.identity.audit(audit_entry(&caller, "community.place", &community, None, Some(json!({"branch": body.branch, "region": body.region})))).await.map_err(internal)?;
    crate::staff::org_view(&app, &caller)
}
