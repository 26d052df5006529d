//! What a building-scoped caller (a butler 管家) may see: their buildings' devices, tiles and
//! alarms, and nothing of the others'.

use crate::app::App;
use crate::auth::Caller;

/// Whether a device or tile in `building` is within a building-scoped caller's reach.
pub fn building_visible(caller: &Caller, building: Option<&hutong_core::BuildingId>) -> bool {
    let b = &caller.principal.scope.buildings;
    b.is_empty() || building.is_some_and(|id| b.contains(id))
}

/// The wall as this caller may see it: a butler sees only their buildings' tiles and alarms.
pub fn scoped_wall(app: &App, caller: &Caller, community: &str) -> Option<hutong_core::live::WallSnapshot> {
    let mut snapshot = app.hub.wall_snapshot(community)?;
    snapshot.buildings.retain(|t| building_visible(caller, Some(&t.id)));
    snapshot.alarms.retain(|a| building_visible(caller, a.building.as_ref()));
    snapshot.open_alarms.retain(|a| building_visible(caller, a.building.as_ref()));
    if !caller.principal.scope.buildings.is_empty() {
        let devices = app.hub.devices(community).unwrap_or_default();
        let mine: std::collections::HashSet<_> = devices.iter().filter(|d| building_visible(caller, d.building.as_ref())).map(|d| d.id.clone()).collect();
        snapshot.readings.retain(|r| mine.contains(&r.device));
        snapshot.gates.retain(|g| mine.contains(&g.device));
        snapshot.devices_total = mine.len() as u32;
        snapshot.devices_offline = devices.iter().filter(|d| mine.contains(&d.id) && d.health == hutong_core::device::DeviceHealth::Offline).count() as u32;
    }
    Some(snapshot)
}

