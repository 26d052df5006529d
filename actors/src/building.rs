//! `BuildingActor`: one per building. It folds the health its devices report into the building's
//! health and publishes a change for the wall's tile. Its state is derived (devices re-report
//! after a restart), so it journals nothing.

use std::sync::Arc;

use hutong_core::building::{BuildingBoard, BuildingHealth};
use hutong_core::device::DeviceHealth;
use hutong_core::{BuildingId, CommunityId, DeviceId};
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};

use crate::hub::LiveHub;

pub enum BuildingMsg {
    /// A device of this building reports its health.
    DeviceHealth(DeviceId, DeviceHealth),
    /// The building's health now.
    Get(RpcReplyPort<BuildingHealth>),
}

pub struct BuildingArgs {
    pub community: CommunityId,
    pub building: BuildingId,
    pub hub: Arc<LiveHub>,
}

pub struct BuildingState {
    args: BuildingArgs,
    board: BuildingBoard,
}

pub struct BuildingActor;

impl Actor for BuildingActor {
    type Msg = BuildingMsg;
    type State = BuildingState;
    type Arguments = BuildingArgs;

    async fn pre_start(&self, _myself: ActorRef<BuildingMsg>, args: BuildingArgs) -> Result<BuildingState, ActorProcessingErr> {
        Ok(BuildingState { args, board: BuildingBoard::default() })
    }

    async fn handle(&self, _myself: ActorRef<BuildingMsg>, msg: BuildingMsg, state: &mut BuildingState) -> Result<(), ActorProcessingErr> {
        match msg {
            BuildingMsg::DeviceHealth(device, health) => {
                if let Some(changed) = state.board.note(device, health) {
                    state.args.hub.publish_building(&state.args.community, state.args.building.clone(), changed);
                }
            }
            BuildingMsg::Get(reply) => {
                let _ = reply.send(state.board.health());
            }
        }
        Ok(())
    }
}
