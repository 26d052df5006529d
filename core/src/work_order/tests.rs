use chrono::TimeZone;

use super::*;
use crate::Aggregate;

fn t(h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, h, m, 0).unwrap()
}

fn who(account: &str) -> Handler {
    Handler { account: account.into(), name: format!("{account}-name") }
}

fn leak_in_home() -> Registration {
    Registration {
        kind: OrderKind::Repair,
        category: "水电".into(),
        description: "厨房水管漏水".into(),
        photos: vec![],
        place: Place::House { house: HouseId::new("heyuan-b01-u1-101") },
        building: Some(BuildingId::new("heyuan-b01")),
        place_label: "1号楼1单元101".into(),
        visit_at: None,
        vip: true,
        origin: Origin::Staff { account: "butler".into() },
        contact: None,
    }
}

fn run(order: &mut WorkOrder, command: OrderCommand) -> Result<Vec<OrderEvent>, OrderError> {
    let events = order.decide(&command)?;
    for e in &events {
        order.apply(e);
    }
    Ok(events)
}

/// Registered at 08:00 (urgent: 15 min to respond, 4 h to complete), reviewed.
fn registered() -> WorkOrder {
    let rules = ServiceRules::default();
    let registration = leak_in_home();
    let urgency = rules.urgency(&registration);
    assert_eq!(urgency, Urgency::Urgent, "漏水 is an urgent word");
    let mut order = WorkOrder::default();
    run(&mut order, OrderCommand::Register { id: order_id(1), registration, urgency, deadlines: rules.deadlines(urgency), at: t(8, 0) }).unwrap();
    run(&mut order, OrderCommand::Review { by: who("control"), at: t(8, 1), category: None, urgency: None }).unwrap();
    order
}

#[test]
fn urgency_comes_from_words_categories_and_alarms() {
    let rules = ServiceRules::default();
    let mut r = leak_in_home();
    r.description = "卫生间爆管，水流到楼下".into();
    assert_eq!(rules.urgency(&r), Urgency::Critical);
    r.description = "门把手松了".into();
    assert_eq!(rules.urgency(&r), Urgency::Normal);
    r.category = "电梯".into();
    assert_eq!(rules.urgency(&r), Urgency::Urgent);
    r.category = "门窗".into();
    r.origin = Origin::Alarm { no: 3, kind: AlarmKind::Leak };
    assert_eq!(rules.urgency(&r), Urgency::Critical, "a leak alarm is critical");
    r.origin = Origin::Alarm { no: 4, kind: AlarmKind::MeterSpike };
    assert_eq!(rules.urgency(&r), Urgency::Urgent);
}

#[test]
fn a_job_from_registration_to_archive() {
    let mut order = registered();
    run(&mut order, OrderCommand::Dispatch { to: vec![who("repair")], ack_mins: 5, by: who("control"), at: t(8, 2) }).unwrap();
    assert!(order.tile().unwrap().waits_for("repair"));
    run(&mut order, OrderCommand::Accept { by: who("repair"), at: t(8, 4) }).unwrap();
    run(&mut order, OrderCommand::Arrive { by: who("repair"), at: t(8, 20) }).unwrap();
    let pipe = MaterialUse { item: "pipe-20".into(), name: "PPR 管 20mm".into(), quantity: 2, unit_price: Money::exact("12.50").unwrap() };
    run(&mut order, OrderCommand::UseMaterials { materials: pipe, by: who("repair"), at: t(8, 30) }).unwrap();
    let charge = Some(Money::exact("80.00").unwrap());
    run(&mut order, OrderCommand::Complete { by: who("repair"), at: t(9, 0), note: "换了一段管".into(), photos: vec![], charge }).unwrap();
    assert_eq!(order.on_time(), Some(true));
    run(&mut order, OrderCommand::RecordBill { bill: "B1".into(), at: t(9, 0) }).unwrap();
    assert!(run(&mut order, OrderCommand::RecordBill { bill: "B1".into(), at: t(9, 1) }).unwrap().is_empty(), "the same bill twice is nothing new");
    run(&mut order, OrderCommand::ReturnVisit { by: who("butler"), at: t(10, 0), satisfaction: 5, note: "很及时".into() }).unwrap();
    assert_eq!(order.status, Status::Visited);
    run(&mut order, OrderCommand::Archive { by: who("control"), at: t(11, 0) }).unwrap();
    assert_eq!(order.status, Status::Archived);
    assert!(order.history.len() >= 9, "{:?}", order.history);
    assert_eq!(order.next_due(), None, "an archived order waits for nothing");
}

#[test]
fn every_step_out_of_order_is_refused_with_a_sentence() {
    let mut order = registered();
    let refused = |order: &WorkOrder, command: OrderCommand| order.decide(&command).unwrap_err();
    let e = refused(&order, OrderCommand::Accept { by: who("repair"), at: t(8, 3) });
    assert_eq!(e, OrderError::Out { action: "接单", status: Status::Reviewed });
    assert!(crate::Bilingual::zh(&e).contains("待派工"), "{e}");
    assert!(matches!(refused(&order, OrderCommand::Arrive { by: who("repair"), at: t(8, 3) }), OrderError::Out { .. }));
    assert!(matches!(refused(&order, OrderCommand::Complete { by: who("repair"), at: t(8, 3), note: String::new(), photos: vec![], charge: None }), OrderError::Out { .. }));
    assert!(matches!(refused(&order, OrderCommand::ReturnVisit { by: who("butler"), at: t(8, 3), satisfaction: 5, note: String::new() }), OrderError::Out { .. }));
    assert!(matches!(refused(&order, OrderCommand::Archive { by: who("control"), at: t(8, 3) }), OrderError::Out { .. }));
    assert!(matches!(refused(&order, OrderCommand::Review { by: who("control"), at: t(8, 3), category: None, urgency: None }), OrderError::Out { .. }));
    run(&mut order, OrderCommand::Dispatch { to: vec![who("repair")], ack_mins: 5, by: who("control"), at: t(8, 2) }).unwrap();
    assert_eq!(refused(&order, OrderCommand::Accept { by: who("guard"), at: t(8, 3) }), OrderError::NotYours("repair-name".into()));
    run(&mut order, OrderCommand::Accept { by: who("repair"), at: t(8, 3) }).unwrap();
    assert!(matches!(refused(&order, OrderCommand::Complete { by: who("repair"), at: t(8, 4), note: String::new(), photos: vec![], charge: None }), OrderError::Out { .. }), "arrival is scanned before completion");
    run(&mut order, OrderCommand::Arrive { by: who("repair"), at: t(8, 5) }).unwrap();
    let bad = Some(Money::exact("-1").unwrap());
    assert!(matches!(refused(&order, OrderCommand::Complete { by: who("repair"), at: t(8, 6), note: String::new(), photos: vec![], charge: bad }), OrderError::BadCharge(_)));
    assert!(matches!(refused(&order, OrderCommand::Complete { by: who("repair"), at: t(8, 6), note: String::new(), photos: vec!["../../etc".into()], charge: None }), OrderError::BadPhoto(_)));
    run(&mut order, OrderCommand::Complete { by: who("repair"), at: t(8, 6), note: String::new(), photos: vec![], charge: None }).unwrap();
    assert_eq!(refused(&order, OrderCommand::ReturnVisit { by: who("butler"), at: t(9, 0), satisfaction: 6, note: String::new() }), OrderError::BadSatisfaction);
}

#[test]
fn a_charge_is_for_homes_only() {
    let rules = ServiceRules::default();
    let mut r = leak_in_home();
    r.place = Place::Public { text: "3号楼大堂".into() };
    let mut order = WorkOrder::default();
    run(&mut order, OrderCommand::Register { id: order_id(2), registration: r, urgency: Urgency::Normal, deadlines: rules.normal, at: t(8, 0) }).unwrap();
    run(&mut order, OrderCommand::Review { by: who("control"), at: t(8, 1), category: None, urgency: None }).unwrap();
    run(&mut order, OrderCommand::Outsource { contractor: "顺达电梯公司".into(), by: who("control"), at: t(8, 2) }).unwrap();
    let charge = Some(Money::exact("10").unwrap());
    let e = order.decide(&OrderCommand::Complete { by: who("control"), at: t(9, 0), note: String::new(), photos: vec![], charge }).unwrap_err();
    assert_eq!(e, OrderError::ChargeOnlyForHomes);
    run(&mut order, OrderCommand::Complete { by: who("control"), at: t(9, 0), note: "外委完成".into(), photos: vec![], charge: None }).unwrap();
}

#[test]
fn nobody_acknowledging_passes_it_on_then_escalates_at_the_instant() {
    let mut order = registered();
    run(&mut order, OrderCommand::Dispatch { to: vec![who("a"), who("b")], ack_mins: 5, by: who("control"), at: t(8, 2) }).unwrap();
    assert_eq!(order.next_due(), Some(t(8, 7)));
    assert!(run(&mut order, OrderCommand::Tick { now: t(8, 6) }).unwrap().is_empty(), "not a second early");
    let events = run(&mut order, OrderCommand::Tick { now: t(8, 7) }).unwrap();
    assert_eq!(events, vec![OrderEvent::Passed { from: who("a"), to: who("b"), ack_by: t(8, 12), at: t(8, 7) }]);
    assert!(order.tile().unwrap().waits_for("b"));
    // The server was down from 08:08 to 08:20: what became true meanwhile is decided in order,
    // each at its own instant — b's time ran out at 08:12, the response deadline at 08:15.
    let events = run(&mut order, OrderCommand::Tick { now: t(8, 20) }).unwrap();
    assert_eq!(
        events,
        vec![
            OrderEvent::Escalated { breach: Breach::NotAcknowledged, level: 1, at: t(8, 12) },
            OrderEvent::Escalated { breach: Breach::Response, level: 2, at: t(8, 15) },
        ]
    );
    assert!(order.overdue());
    assert!(run(&mut order, OrderCommand::Tick { now: t(8, 21) }).unwrap().is_empty(), "each breach escalates once");
    assert_eq!(order.next_due(), Some(t(12, 0)), "the completion deadline is still to come");
    run(&mut order, OrderCommand::Accept { by: who("b"), at: t(8, 25) }).unwrap();
    let events = run(&mut order, OrderCommand::Tick { now: t(12, 0) }).unwrap();
    assert_eq!(events, vec![OrderEvent::Escalated { breach: Breach::Completion, level: 2, at: t(12, 0) }]);
    assert_eq!(order.next_due(), None);
}

#[test]
fn a_reassignment_counts_as_a_second_dispatch() {
    let mut order = registered();
    run(&mut order, OrderCommand::Dispatch { to: vec![who("a")], ack_mins: 5, by: who("control"), at: t(8, 2) }).unwrap();
    run(&mut order, OrderCommand::Accept { by: who("a"), at: t(8, 3) }).unwrap();
    let events = run(&mut order, OrderCommand::Dispatch { to: vec![who("b")], ack_mins: 5, by: who("control"), at: t(8, 10) }).unwrap();
    assert!(matches!(&events[0], OrderEvent::Dispatched { again: true, .. }));
    assert_eq!(order.dispatches, 2);
    assert_eq!(order.status, Status::Dispatched);
}

#[test]
fn figures_of_a_month() {
    let mut done = registered();
    run(&mut done, OrderCommand::Dispatch { to: vec![who("a")], ack_mins: 5, by: who("control"), at: t(8, 2) }).unwrap();
    run(&mut done, OrderCommand::Accept { by: who("a"), at: t(8, 3) }).unwrap();
    run(&mut done, OrderCommand::Arrive { by: who("a"), at: t(8, 10) }).unwrap();
    run(&mut done, OrderCommand::Complete { by: who("a"), at: t(9, 0), note: String::new(), photos: vec![], charge: None }).unwrap();
    run(&mut done, OrderCommand::ReturnVisit { by: who("butler"), at: t(10, 0), satisfaction: 4, note: String::new() }).unwrap();
    let mut late = registered();
    run(&mut late, OrderCommand::Dispatch { to: vec![who("a")], ack_mins: 5, by: who("control"), at: t(8, 2) }).unwrap();
    run(&mut late, OrderCommand::Dispatch { to: vec![who("b")], ack_mins: 5, by: who("control"), at: t(8, 3) }).unwrap();
    run(&mut late, OrderCommand::Tick { now: t(13, 0) }).unwrap();
    let tiles = [done.tile().unwrap(), late.tile().unwrap()];
    let f = OrderFigures::of("2026-12", chrono_tz::Asia::Shanghai, &tiles);
    assert_eq!((f.orders, f.completed, f.on_time, f.visited, f.open, f.overdue), (2, 1, 1, 1, 1, 1));
    assert_eq!(f.completion_rate.unwrap().to_string(), "50.0");
    assert_eq!(f.on_time_rate.unwrap().to_string(), "100.0");
    assert_eq!(f.redispatch_rate.unwrap().to_string(), "50.0");
    assert_eq!(f.visit_rate.unwrap().to_string(), "100.0");
    assert_eq!(f.satisfaction.unwrap().to_string(), "4.00");
    assert_eq!(f.workload.iter().map(|w| (w.account.as_str(), w.orders, w.completed)).collect::<Vec<_>>(), vec![("a", 1, 1), ("b", 1, 0)]);
    assert_eq!(OrderFigures::of("2026-11", chrono_tz::Asia::Shanghai, &tiles).orders, 0);
}

#[test]
fn the_store_gives_what_it_holds() {
    let mut desk = ServiceDesk::default();
    let price = Money::exact("12.50").unwrap();
    for e in desk.decide(&DeskCommand::StockIn { item: "pipe-20".into(), name: "PPR 管".into(), unit: "米".into(), unit_price: price, quantity: 10 }).unwrap() {
        desk.apply(&e);
    }
    let e = desk.decide(&DeskCommand::Draw { item: "pipe-20".into(), quantity: 11, order: order_id(1) }).unwrap_err();
    assert_eq!(crate::Bilingual::zh(&e), "PPR 管 库存只有 10 米");
    for e in desk.decide(&DeskCommand::Draw { item: "pipe-20".into(), quantity: 4, order: order_id(1) }).unwrap() {
        desk.apply(&e);
    }
    assert_eq!(desk.items["pipe-20"].stock, 6);
    assert!(matches!(desk.decide(&DeskCommand::Draw { item: "nope".into(), quantity: 1, order: order_id(1) }), Err(DeskError::NoItem(_))));
    assert!(matches!(desk.decide(&DeskCommand::StockIn { item: "pipe-20".into(), name: "x".into(), unit: "米".into(), unit_price: price, quantity: 1_000_000 }), Err(DeskError::BadQuantity)));
    let mut rules = ServiceRules::default();
    rules.ack_mins = 0;
    assert!(matches!(desk.decide(&DeskCommand::SetRules { rules }), Err(DeskError::Rules(OrderError::BadRules))));
}

#[test]
fn a_notice_is_published_delivered_and_withdrawn_once() {
    let mut desk = ServiceDesk::default();
    let mut run = |c: DeskCommand| desk.decide(&c).map(|events| events.into_iter().for_each(|e| desk.apply(&e)));
    let announce = |title: &str, body: &str| DeskCommand::Announce { title: title.into(), body: body.into(), buildings: Default::default(), by: "陈静".into(), at: t(9, 0) };
    assert_eq!(run(announce(" ", "明天停水")), Err(DeskError::Notice(crate::notice::NoticeError::EmptyTitle)));
    assert_eq!(run(announce("停水通知", &"水".repeat(2001))), Err(DeskError::Notice(crate::notice::NoticeError::BodyTooLong)));
    run(announce("停水通知", "12月2日 9:00–12:00 全小区停水")).unwrap();
    run(DeskCommand::Delivered { notice: 1, homes: 1584 }).unwrap();
    run(DeskCommand::Withdraw { notice: 1, by: "陈静".into(), at: t(10, 0) }).unwrap();
    assert_eq!(run(DeskCommand::Withdraw { notice: 1, by: "陈静".into(), at: t(10, 1) }), Err(DeskError::Notice(crate::notice::NoticeError::Withdrawn(1))));
    assert_eq!(run(DeskCommand::Withdraw { notice: 2, by: "陈静".into(), at: t(10, 1) }), Err(DeskError::Notice(crate::notice::NoticeError::NoSuchNotice(2))));
    let n = &desk.notices[0];
    assert_eq!((n.no, n.delivered, n.withdrawn.is_some(), n.reaches(None)), (1, 1584, true, true));
    assert_eq!(n.text(), "【公告】停水通知：12月2日 9:00–12:00 全小区停水");
}
