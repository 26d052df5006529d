//! What the billing desk takes from `/ws/money`, as a pure fold (tested natively): whether the
//! page on screen may be stale — money moved somewhere, so the rows are fetched again — and which
//! buildings have written their books since a bill run started (the run's progress bar).

use std::collections::BTreeSet;

use hutong_core::BuildingId;
use hutong_core::live::{LiveBody, ServerMessage};

#[derive(Clone, Debug, Default, PartialEq)]
pub struct DeskFeed {
    /// Buildings whose money changed since the last run started.
    pub moved: BTreeSet<BuildingId>,
}

impl DeskFeed {
    /// Folds one message; `true` when the rows on screen may no longer be right.
    pub fn fold(&mut self, message: ServerMessage) -> bool {
        match message {
            // (Re)connected or fell behind: whatever happened meanwhile is unknown.
            ServerMessage::MoneySnapshot(_) | ServerMessage::Resync => true,
            ServerMessage::Snapshot(_) => false,
            changes => {
                let mut moved = false;
                for event in changes.events() {
                    if let LiveBody::MoneyDetail(money) = &event.body {
                        self.moved.insert(money.building.clone());
                        moved = true;
                    }
                }
                moved
            }
        }
    }

    /// A bill run starts: progress counts from nothing.
    pub fn start_run(&mut self) {
        self.moved.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hutong_core::book::BuildingMoney;
    use hutong_core::live::{BuildingMoneyView, LiveEvent, MoneySnapshot, MoneyTile};

    fn detail(building: &str) -> ServerMessage {
        let view = BuildingMoneyView {
            building: BuildingId::new(building),
            name: building.into(),
            today: chrono::NaiveDate::from_ymd_opt(2026, 11, 30).unwrap(),
            money: BuildingMoney::default(),
        };
        ServerMessage::Event(LiveEvent { community: "c".into(), stream: format!("derived/money/{building}"), seq: 1, body: LiveBody::MoneyDetail(view) })
    }

    #[test]
    fn a_run_counts_each_building_once_and_every_money_change_refreshes_the_page() {
        let mut f = DeskFeed::default();
        assert!(f.fold(ServerMessage::MoneySnapshot(MoneySnapshot { community: "c".into(), buildings: Vec::new() })));
        f.start_run();
        assert!(f.fold(detail("b1")));
        assert!(f.fold(detail("b2")));
        assert!(f.fold(detail("b1")));
        assert_eq!(f.moved.len(), 2);
        // A wall tile's brief is not the desk's business.
        let tile = ServerMessage::Event(LiveEvent { community: "c".into(), stream: "x".into(), seq: 2, body: LiveBody::Money { building: "b3".into(), money: MoneyTile::default() } });
        assert!(!f.fold(tile));
        assert!(f.fold(ServerMessage::Resync));
        f.start_run();
        assert!(f.moved.is_empty());
    }
}
