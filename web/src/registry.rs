//! The communities and devices this deployment runs. They are journaled like everything else —
//! the `registry` stream holds one record per community registration — so a restart on the same
//! data directory brings back the same communities with the same devices.

use std::sync::Arc;

use hutong_actors::journal::{Append, Journal, JournalError};
use hutong_core::community::Community;
use hutong_core::device::DeviceSpec;
use serde::{Deserialize, Serialize};

pub const STREAM: &str = "registry";

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CommunityRegistered {
    pub community: Community,
    pub devices: Vec<DeviceSpec>,
}

/// Every community registered so far; a later registration of the same id replaces the earlier.
pub async fn load(journal: &Arc<dyn Journal>) -> Result<(u64, Vec<CommunityRegistered>), JournalError> {
    let mut all: Vec<CommunityRegistered> = Vec::new();
    let mut head = 0;
    for record in journal.replay(STREAM, 0).await? {
        head = record.seq;
        let reg: CommunityRegistered =
            serde_json::from_slice(&record.payload).map_err(|e| JournalError::Store(format!("registry record {}: {e}", record.seq)))?;
        all.retain(|r| r.community.id != reg.community.id);
        all.push(reg);
    }
    Ok((head, all))
}

pub async fn register(journal: &Arc<dyn Journal>, expected: u64, reg: &CommunityRegistered) -> Result<u64, JournalError> {
    let payload = serde_json::to_vec(reg).map_err(|e| JournalError::Store(e.to_string()))?;
    journal
        .append(Append { stream: STREAM.into(), expected, at_ms: chrono::Utc::now().timestamp_millis(), payloads: vec![payload] })
        .await
}
