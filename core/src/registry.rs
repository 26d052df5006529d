//! The communities and devices a deployment runs (C1–C5), journaled in the `registry` stream so a
//! restart on the same data brings back the same communities with the same devices. A later
//! registration of the same community replaces the earlier one.

use serde::{Deserialize, Serialize};

use crate::community::Community;
use crate::device::DeviceSpec;
use crate::meter_rules::{MeterRules, RulesError};

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

/// What the registry is asked.
#[derive(Clone, Debug)]
pub enum RegistryCommand {
    /// Register (or re-register) this community with these devices.
    Register(CommunityRegistered),
    /// Change a registered community's meter thresholds (M4).
    SetMeterRules { community: String, rules: MeterRules },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RegistryError {
    NoCommunity(String),
    Rules(RulesError),
}

crate::bilingual!(RegistryError {
    RegistryError::NoCommunity(_0) => ("找不到小区 {_0}") / ("no community {_0}"),
    RegistryError::Rules(_0) => ("{}", crate::Bilingual::zh(_0)) / ("{}", crate::Bilingual::en(_0)),
});

impl crate::Aggregate for Registry {
    type Command = RegistryCommand;
    /// A whole registration, each time: a later one of the same community replaces it.
    type Event = CommunityRegistered;
    type Error = RegistryError;

    fn decide(&self, command: &RegistryCommand) -> Result<Vec<CommunityRegistered>, RegistryError> {
        match command {
            RegistryCommand::Register(registration) => Ok(vec![registration.clone()]),
            RegistryCommand::SetMeterRules { community, rules } => {
                rules.check().map_err(RegistryError::Rules)?;
                let current = self.communities.iter().find(|r| r.community.id.as_str() == community);
                let mut registration = current.cloned().ok_or_else(|| RegistryError::NoCommunity(community.clone()))?;
                if &registration.community.meter_rules == rules {
                    return Ok(Vec::new());
                }
                registration.community.meter_rules = rules.clone();
                Ok(vec![registration])
            }
        }
    }

    fn apply(&mut self, registration: &CommunityRegistered) {
        match self.communities.iter_mut().find(|r| r.community.id == registration.community.id) {
            Some(existing) => *existing = registration.clone(),
            None => self.communities.push(registration.clone()),
        }
    }
}
