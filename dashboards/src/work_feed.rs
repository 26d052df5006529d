//! What the work-order screens take from `/ws/work` (`WorkBoard::fold`): the community's orders
//! not yet archived, each as it now stands, and the latest SLA breach. The dispatcher's board and
//! the staff phone's inbox are views of the same state; pure, so it is tested natively.

use std::collections::BTreeMap;

use hutong_core::live::{AlarmKind, LiveBody, ServerMessage};
use hutong_core::work_order::{Status, WorkOrderTile};

#[derive(Clone, Debug, Default, PartialEq)]
pub struct WorkBoard {
    pub orders: BTreeMap<String, WorkOrderTile>,
    /// The latest SLA breach raised (its sentence), for the banner.
    pub breach: Option<String>,
}

impl WorkBoard {
    /// Folds one message; whether an order now waits for `me` that did not before (the phone
    /// sounds for it).
    pub fn fold(&mut self, message: ServerMessage, me: &str) -> bool {
        match message {
            ServerMessage::WorkSnapshot(s) => {
                let before = self.unread(me);
                self.orders = s.orders.into_iter().map(|o| (o.id.to_string(), o)).collect();
                self.unread(me) > before
            }
            ServerMessage::Event(event) => match event.body {
                LiveBody::WorkOrder { order } => {
                    let was = self.orders.get(order.id.as_str()).is_some_and(|o| o.waits_for(me));
                    let now = order.waits_for(me);
                    if order.status == Status::Archived {
                        self.orders.remove(order.id.as_str());
                    } else {
                        self.orders.insert(order.id.to_string(), order);
                    }
                    now && !was
                }
                LiveBody::Alarm { alarm } if alarm.kind == AlarmKind::SlaBreach && alarm.count == 1 && alarm.resolved.is_none() => {
                    self.breach = Some(alarm.text);
                    false
                }
                _ => false,
            },
            ServerMessage::Events { events } => events.into_iter().fold(false, |new, e| self.fold(ServerMessage::Event(e), me) | new),
            ServerMessage::Resync => {
                self.orders.clear();
                false
            }
            _ => false,
        }
    }

    /// Given to `me` and not yet acknowledged.
    pub fn unread(&self, me: &str) -> usize {
        self.orders.values().filter(|o| o.waits_for(me)).count()
    }

    /// `me`'s orders still to do, those waiting for acknowledgement first, then the most urgent.
    pub fn inbox(&self, me: &str) -> Vec<WorkOrderTile> {
        let mut mine: Vec<WorkOrderTile> = self.orders.values().filter(|o| o.status.is_open() && o.assignee.as_ref().is_some_and(|a| a.account == me)).cloned().collect();
        mine.sort_by(|a, b| b.waits_for(me).cmp(&a.waits_for(me)).then(b.urgency.cmp(&a.urgency)).then(a.registered_at.cmp(&b.registered_at)));
        mine
    }

    /// Not yet given to anyone: to review and dispatch.
    pub fn new_orders(&self) -> Vec<WorkOrderTile> {
        self.orders.values().filter(|o| matches!(o.status, Status::Registered | Status::Reviewed)).cloned().collect()
    }

    pub fn overdue(&self) -> Vec<WorkOrderTile> {
        self.orders.values().filter(|o| o.overdue).cloned().collect()
    }

    /// Orders in hand, by the person (or contractor) who has them.
    pub fn by_person(&self) -> BTreeMap<String, Vec<WorkOrderTile>> {
        let mut people: BTreeMap<String, Vec<WorkOrderTile>> = BTreeMap::new();
        for o in self.orders.values().filter(|o| o.status >= Status::Dispatched && o.status.is_open()) {
            let who = o.contractor.clone().map(|c| format!("外委：{c}")).or_else(|| o.assignee.as_ref().map(|a| a.name.clone())).unwrap_or_default();
            people.entry(who).or_default().push(o.clone());
        }
        people
    }

    /// Done and waiting for the office: closing, the return visit, the archive.
    pub fn to_close(&self) -> Vec<WorkOrderTile> {
        self.orders.values().filter(|o| matches!(o.status, Status::Completed | Status::Closed | Status::Visited | Status::Cancelled)).cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use hutong_core::alarm::Handler;
    use hutong_core::live::{LiveEvent, WorkSnapshot};
    use hutong_core::work_order::{OrderKind, Urgency};
    use hutong_core::{CommunityId, WorkOrderId};

    fn tile(id: &str, status: Status, to: Option<&str>) -> WorkOrderTile {
        let t = chrono::Utc.with_ymd_and_hms(2026, 12, 1, 8, 0, 0).unwrap();
        WorkOrderTile {
            id: WorkOrderId::new(id),
            kind: OrderKind::Repair,
            category: "水电".into(),
            description: "漏水".into(),
            place: "1号楼".into(),
            building: None,
            house: None,
            place_key: None,
            vip: false,
            from_alarm: None,
            urgency: Urgency::Urgent,
            status,
            assignee: to.map(|a| Handler { account: a.into(), name: format!("{a}-name") }),
            contractor: None,
            ack_by: None,
            registered_at: t,
            respond_by: t,
            complete_by: t,
            completed_at: None,
            overdue: false,
            escalation: 0,
            dispatches: u32::from(to.is_some()),
            satisfaction: None,
            visited: false,
            charge: None,
            bill: None,
            photos: vec![],
        }
    }

    fn event(order: WorkOrderTile) -> ServerMessage {
        ServerMessage::Events { events: vec![LiveEvent { community: CommunityId::new("c"), stream: "derived/workorder".into(), seq: 1, body: LiveBody::WorkOrder { order } }] }
    }

    #[test]
    fn an_order_given_to_me_sounds_once_and_leaves_when_archived() {
        let mut board = WorkBoard::default();
        assert!(!board.fold(ServerMessage::WorkSnapshot(WorkSnapshot { community: CommunityId::new("c"), orders: vec![tile("wo-1", Status::Registered, None)] }), "repair"));
        assert_eq!(board.new_orders().len(), 1);
        assert!(board.fold(event(tile("wo-1", Status::Dispatched, Some("repair"))), "repair"), "given to me: sound");
        assert!(!board.fold(event(tile("wo-1", Status::Dispatched, Some("repair"))), "repair"), "the same again: no sound");
        assert_eq!((board.unread("repair"), board.inbox("repair").len(), board.unread("other")), (1, 1, 0));
        assert!(!board.fold(event(tile("wo-1", Status::Accepted, Some("repair"))), "repair"));
        assert_eq!((board.unread("repair"), board.inbox("repair").len()), (0, 1));
        assert_eq!(board.by_person().keys().cloned().collect::<Vec<_>>(), vec!["repair-name".to_string()]);
        board.fold(event(tile("wo-1", Status::Archived, Some("repair"))), "repair");
        assert!(board.orders.is_empty());
    }
}
