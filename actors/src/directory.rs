//! Where the device bridge and the API find the actor of a device or building. The community
//! supervisor is the only writer: it registers children when it spawns them and again when it
//! restarts them, and removes a child it gives up on, so a lookup never hands out a dead actor for long.

use std::collections::HashMap;
use std::sync::RwLock;

use hutong_core::{BuildingId, CommunityId, DeviceId};
use ractor::ActorRef;

use crate::building::BuildingMsg;
use crate::device::DeviceMsg;

#[derive(Default)]
pub struct Directory {
    devices: RwLock<HashMap<CommunityId, HashMap<DeviceId, ActorRef<DeviceMsg>>>>,
    buildings: RwLock<HashMap<BuildingId, ActorRef<BuildingMsg>>>,
}

impl Directory {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn device(&self, community: &str, device: &str) -> Option<ActorRef<DeviceMsg>> {
        let map = self.devices.read().unwrap_or_else(|e| e.into_inner());
        map.get(community)?.get(device).cloned()
    }

    pub fn building(&self, building: &BuildingId) -> Option<ActorRef<BuildingMsg>> {
        self.buildings.read().unwrap_or_else(|e| e.into_inner()).get(building).cloned()
    }

    /// The typed handle the edges use to reach a building's book.
    pub fn building_ref(&self, building: &BuildingId) -> Option<crate::handle::BuildingRef> {
        self.building(building).map(|actor| crate::handle::BuildingRef::new(building.clone(), actor))
    }

    pub fn has_community(&self, community: &str) -> bool {
        self.devices.read().unwrap_or_else(|e| e.into_inner()).contains_key(community)
    }

    pub(crate) fn put_device(&self, community: &CommunityId, device: &DeviceId, actor: ActorRef<DeviceMsg>) {
        let mut map = self.devices.write().unwrap_or_else(|e| e.into_inner());
        map.entry(community.clone()).or_default().insert(device.clone(), actor);
    }

    pub(crate) fn put_building(&self, building: &BuildingId, actor: ActorRef<BuildingMsg>) {
        self.buildings.write().unwrap_or_else(|e| e.into_inner()).insert(building.clone(), actor);
    }

    pub(crate) fn remove_building(&self, building: &BuildingId) {
        self.buildings.write().unwrap_or_else(|e| e.into_inner()).remove(building);
    }

    pub(crate) fn remove_device(&self, community: &CommunityId, device: &DeviceId) {
        let mut map = self.devices.write().unwrap_or_else(|e| e.into_inner());
        if let Some(devices) = map.get_mut(community) {
            devices.remove(device);
        }
    }

    pub(crate) fn remove_community(&self, community: &CommunityId, buildings: impl Iterator<Item = BuildingId>) {
        self.devices.write().unwrap_or_else(|e| e.into_inner()).remove(community);
        let mut map = self.buildings.write().unwrap_or_else(|e| e.into_inner());
        for b in buildings {
            map.remove(&b);
        }
    }
}
