//! What a building-scoped caller (a butler 管家) may see: their buildings' devices, tiles and
//! alarms, and nothing of the others'.

use crate::app::App;
use crate::auth::Caller;

/// Whether a device or tile in `building` is within a building-scoped caller's reach.
pub fn building_visible(caller: &Caller, building: Option<&hutong_core::BuildingId>) -> bool {
    let b = &caller.principal.scope.buildings;
    b.is_empty() || building.is_some_and(|id| b.contains(id))
}

/// What of a community this caller's screens may see.
pub fn sight(caller: &Caller) -> hutong_core::live::Sight {
    hutong_core::live::Sight::of(&caller.principal.scope.buildings)
}

/// The wall as this caller may see it: a butler sees only their buildings' tiles and alarms.
pub fn scoped_wall(app: &App, caller: &Caller, community: &str) -> Option<hutong_core::live::WallSnapshot> {
    app.hub.wall_snapshot(community, &sight(caller)).map(|(_, snapshot)| snapshot)
}
