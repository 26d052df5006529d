//! Every community's tariff — each a `CommunityTariff` aggregate of `core::fee` on the journaled
//! runtime (`Shared`, stream `tariff/{community}`). The rules a tariff must keep are `core`'s.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use hutong_actors::journal::{Journal, JournalError};
use hutong_actors::journaled::{CommitError, Shared, StreamId};
use hutong_core::CommunityId;
use hutong_core::fee::{CommunityTariff, Tariff};

use crate::error::ApiError;

/// The tariffs of every community this node runs.
pub struct Tariffs {
    journal: Arc<dyn Journal>,
    stores: RwLock<HashMap<String, Arc<Shared<CommunityTariff>>>>,
}

impl Tariffs {
    pub fn new(journal: Arc<dyn Journal>) -> Self {
        Tariffs { journal, stores: RwLock::new(HashMap::new()) }
    }

    /// Recovers a community's tariff; a community without one gets `fallback` (journaled).
    pub async fn load(&self, community: &CommunityId, fallback: impl FnOnce() -> Tariff) -> Result<(), JournalError> {
        let store: Shared<CommunityTariff> = Shared::recover(self.journal.clone(), StreamId::tariff(community), CommunityTariff::default).await?;
        if store.read().current.is_none() {
            store.execute(&fallback(), chrono::Utc::now().timestamp_millis()).await.map_err(|e| match e {
                CommitError::Journal(j) => j,
                CommitError::Refused(r) => JournalError::Store(format!("the fallback tariff of {community} is invalid: {r}")),
            })?;
        }
        self.stores.write().unwrap_or_else(|e| e.into_inner()).insert(community.to_string(), Arc::new(store));
        Ok(())
    }

    fn store(&self, community: &str) -> Option<Arc<Shared<CommunityTariff>>> {
        self.stores.read().unwrap_or_else(|e| e.into_inner()).get(community).cloned()
    }

    /// The tariff in force; the standard items without prices for a community not loaded here.
    pub fn get(&self, community: &str) -> Arc<Tariff> {
        self.store(community).and_then(|s| s.read().current.clone()).unwrap_or_default()
    }

    /// Replaces a community's tariff, validated by `core`.
    pub async fn put(&self, community: &str, tariff: Tariff) -> Result<(), ApiError> {
        let store = self.store(community).ok_or_else(|| ApiError::not_found("小区", "community", community))?;
        store.execute(&tariff, chrono::Utc::now().timestamp_millis()).await?;
        Ok(())
    }
}

