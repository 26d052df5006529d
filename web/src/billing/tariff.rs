//! A community's tariff over HTTP (F1, F2, N1): read it, replace it (validated by `core::fee`,
//! journaled by `crate::tariffs`, audited with before and after).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::{Extension, Json};
use hutong_core::fee::Tariff;

use super::{community_of, internal};
use crate::error::{ApiError, ApiJson};
use crate::auth::Caller;
use crate::app::App;
use crate::audit::audit_entry;

pub async fn get(State(app): State<Arc<App>>, Path(community): Path<String>) -> Result<Json<Tariff>, ApiError> {
    community_of(&app, &community)?;
    Ok(Json((*app.tariffs.get(&community)).clone()))
}

pub async fn put(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    Path(community): Path<String>,
    ApiJson(tariff): ApiJson<Tariff>,
) -> Result<Json<Tariff>, ApiError> {
    community_of(&app, &community)?;
    // A tariff is the whole community's: an account limited to some buildings cannot set it (A3).
    if !caller.principal.scope.buildings.is_empty() {
        return Err(ApiError::Beyond {
            zh: "仅限部分楼栋的账号不能修改全小区的收费标准".into(),
            en: "an account limited to some buildings cannot change the community's tariff".into(),
        });
    }
    let before = serde_json::to_value(&*app.tariffs.get(&community)).ok();
    app.tariffs.put(&community, tariff.clone()).await?;
    app.identity.audit(audit_entry(&caller, "tariff.update", &community, before, serde_json::to_value(&tariff).ok())).await.map_err(internal)?;
    Ok(Json(tariff))
}
