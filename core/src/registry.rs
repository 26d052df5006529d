//! The communities and devices a deployment runs (C1–C5), journaled in the `registry` stream so a
//! restart on the same data brings back the same communities with the same devices. A later
//! registration of the same community replaces the earlier one.

use std::convert::Infallible;

use serde::{Deserialize, Serialize};

use crate::community::Community;
use crate::device::DeviceSpec;

/// A community with its devices, as registered (the registry's one event).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CommunityRegistered {
    pub community: Community,
    pub devices: Vec<DeviceSpec>,
}

/// Every community registered so far, in the order they first came.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Registry {
    pub communities: Vec<CommunityRegistered>,
}

impl Registry {
    pub fn has(&self, community: &str) -> bool {
        self.communities.iter().any(|r| r.community.id.as_str() == community)
    }
}

impl crate::Aggregate for Registry {
    /// Register (or re-register) this community with these devices.
    type Command = CommunityRegistered;
    type Event = CommunityRegistered;
    type Error = Infallible;

    fn decide(&self, registration: &CommunityRegistered) -> Result<Vec<CommunityRegistered>, Infallible> {
        Ok(vec![registration.clone()])
    }

    fn apply(&mut self, registration: &CommunityRegistered) {
        match self.communities.iter_mut().find(|r| r.community.id == registration.community.id) {
            Some(existing) => *existing = registration.clone(),
            None => self.communities.push(registration.clone()),
        }
    }
}
