use chrono::{NaiveDate, NaiveDateTime};
use proptest::prelude::*;
use rust_decimal::Decimal;

use super::*;
use crate::bill::{BillCommand, BillState};
use crate::fee::HouseState;
use crate::ids::{BuildingId, HouseId};
use crate::ledger::Account;
use crate::money::Money;
use crate::reminder::{Channel, ReminderLimits};

fn at(s: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap()
}

fn house(n: u32) -> HouseRecord {
    HouseRecord {
        id: HouseId::new(format!("h{n}")),
        address: format!("荷花苑-1-1-{n}"),
        address_path: format!("荷花苑/1号楼/1层/{n}"),
        unit: 1,
        floor: 1,
        kind: ResourceKind::Home,
        area: Decimal::new(8925, 2),
        state: HouseState::Occupied,
        state_since: None,
        history: vec![],
        fields: Default::default(),
        residents: vec![Resident {
            name: format!("住户{n}"),
            phone: format!("1389842{n:04}"),
            id_number: None,
            relation: Relation::Owner,
            vip: false,
            since: NaiveDate::from_ymd_opt(2020, 1, 1).unwrap(),
        }],
    }
}

fn line(h: u32, item: &str, month: u32, fen: i64) -> BillLine {
    BillLine {
        house: HouseId::new(format!("h{h}")),
        item: item.into(),
        subject: format!("6001.{item}"),
        period_start: NaiveDate::from_ymd_opt(2026, month, 1).unwrap(),
        period_end: NaiveDate::from_ymd_opt(2026, month, 28).unwrap(),
        amount: Money::from_fen(fen),
        external_no: None,
        remark: String::new(),
    }
}

fn book_with(houses: u32) -> Book {
    let mut b = Book::new(BuildingId::new("heyuan-b01"), 1);
    run(&mut b, BookCommand::RegisterHouses { houses: (1..=houses).map(house).collect() }).unwrap();
    b
}

fn run(b: &mut Book, c: BookCommand) -> Result<Vec<BookEvent>, BookError> {
    let events = b.decide(&c)?;
    for e in &events {
        b.apply(e);
    }
    Ok(events)
}

fn issue(b: &mut Book, lines: Vec<BillLine>) -> Vec<String> {
    let before = b.bills().len();
    run(b, BookCommand::IssueBills { lines, source: BillSource::Manual, by: "cashier".into(), at: at("2026-11-22 10:00:00") }).unwrap();
    b.bills()[before..].iter().map(|r| r.bill.no.clone()).collect()
}

fn pay(key: &str, house: u32, bills: Vec<String>, amount: Option<i64>) -> BookCommand {
    BookCommand::Pay(PaymentRequest {
        key: key.into(),
        house: HouseId::new(format!("h{house}")),
        bills,
        amount: amount.map(Money::from_fen),
        channel: PayChannel::WechatPay,
        payer: "张三".into(),
        by: "cashier".into(),
        at: at("2026-11-22 11:00:00"),
        reference: Some(format!("4200001{key}")),
    })
}

#[test]
fn a_wechat_payment_names_its_transaction_number_and_each_number_pays_once() {
    let mut b = book_with(1);
    issue(&mut b, vec![line(1, "property", 1, 10_000), line(1, "property", 2, 10_000)]);
    let BookCommand::Pay(mut request) = pay("w1", 1, vec![], Some(10_000)) else { unreachable!() };
    request.reference = None;
    assert_eq!(b.decide(&BookCommand::Pay(request.clone())), Err(BookError::NoReference("微信支付")));
    request.reference = Some("420000123".into());
    run(&mut b, BookCommand::Pay(request.clone())).unwrap();
    // The same request again answers with its payment; the number under another key is refused.
    assert_eq!(b.decide(&BookCommand::Pay(request.clone())), Ok(Vec::new()));
    request.key = "w2".into();
    assert_eq!(b.decide(&BookCommand::Pay(request)), Err(BookError::ReferenceUsed("420000123".into())));
    // Marking bills paid in bulk on WeChat Pay is refused: each payment needs its own number.
    let open: Vec<String> = b.bills().iter().filter(|r| r.bill.state == BillState::Pending).map(|r| r.bill.no.clone()).collect();
    let batch = BookCommand::Batch { bills: open, action: BatchAction::MarkPaid { key: "k".into(), channel: PayChannel::WechatPay, payer: String::new() }, by: "t".into(), at: at("2026-11-22 12:00:00") };
    assert_eq!(b.decide(&batch), Err(BookError::OnlineBatch("微信支付")));
}

#[test]
fn two_bills_paid_in_one_payment_post_one_balanced_entry_and_the_same_key_pays_once() {
    let mut b = book_with(1);
    let nos = issue(&mut b, vec![line(1, "property", 1, 19457), line(1, "water", 1, 3000)]);
    assert_eq!(nos[0].len(), 23);
    assert_eq!(Book::building_no_of(&nos[0]), Some(1));
    let events = run(&mut b, pay("k1", 1, nos.clone(), None)).unwrap();
    assert_eq!(events.len(), 1);
    assert!(nos.iter().all(|n| b.bill(n).unwrap().bill.state == BillState::Paid));
    // The same key again: nothing new, the first payment stands.
    assert!(run(&mut b, pay("k1", 1, nos.clone(), None)).unwrap().is_empty());
    assert_eq!(b.payments().len(), 1);
    assert_eq!(b.payments()[0].amount, Money::from_fen(22457));
    // The same key for a different amount is refused.
    assert!(matches!(run(&mut b, pay("k1", 1, vec![], Some(5))), Err(BookError::KeyReused(_))));
    let ledger = b.ledger(&HouseId::new("h1")).unwrap();
    assert!(ledger.total().is_zero());
    assert_eq!(ledger.balance(&Account::Receivable("property".into())), Money::ZERO);
    assert_eq!(ledger.balance(&Account::Collected("WechatPay".into())), Money::from_fen(22457));
}

#[test]
fn several_payments_at_once_see_each_other_and_are_refused_whole() {
    let mut b = book_with(2);
    issue(&mut b, vec![line(1, "property", 1, 10000), line(1, "property", 2, 10000), line(2, "property", 1, 5000)]);
    let many = |keys: [&str; 3], third: i64| {
        BookCommand::PayMany(vec![
            match pay(keys[0], 1, vec![], Some(10000)) { BookCommand::Pay(r) => r, _ => unreachable!() },
            match pay(keys[1], 1, vec![], Some(10000)) { BookCommand::Pay(r) => r, _ => unreachable!() },
            match pay(keys[2], 2, vec![], Some(third)) { BookCommand::Pay(r) => r, _ => unreachable!() },
        ])
    };
    // A refused third payment (a reused key for another amount) refuses all three.
    run(&mut b, pay("used", 2, vec![], Some(1))).unwrap();
    assert!(matches!(run(&mut b, many(["a", "b", "used"], 4999)), Err(BookError::KeyReused(_))));
    assert_eq!(b.payments().len(), 1);
    run(&mut b, many(["a", "b", "c"], 4999)).unwrap();
    // The second payment of house 1 settled February, because the first had settled January.
    assert!(b.bills().iter().filter(|r| r.house.as_str() == "h1").all(|r| r.bill.state == BillState::Paid));
    assert!(b.ledger(&HouseId::new("h2")).unwrap().total().is_zero());
}

#[test]
fn overpaying_leaves_prepayment_which_the_next_bill_draws_on_at_once() {
    let mut b = book_with(1);
    issue(&mut b, vec![line(1, "property", 1, 10000)]);
    run(&mut b, pay("k", 1, vec![], Some(25000))).unwrap();
    assert_eq!(b.prepayment(&HouseId::new("h1")), Money::from_fen(15000));
    let nos = issue(&mut b, vec![line(1, "property", 2, 10000)]);
    assert_eq!(b.bill(&nos[0]).unwrap().bill.state, BillState::Paid);
    assert_eq!(b.prepayment(&HouseId::new("h1")), Money::from_fen(5000));
    let nos = issue(&mut b, vec![line(1, "property", 3, 10000)]);
    assert_eq!(b.bill(&nos[0]).unwrap().bill.state, BillState::PartlyPaid);
    assert_eq!(b.prepayment(&HouseId::new("h1")), Money::ZERO);
    assert!(b.ledger(&HouseId::new("h1")).unwrap().total().is_zero());
}

#[test]
fn a_rerun_issues_nothing_twice_and_a_deleted_bill_may_be_issued_again() {
    let mut b = book_with(2);
    let first = issue(&mut b, vec![line(1, "property", 1, 100), line(2, "property", 1, 100)]);
    assert_eq!(first.len(), 2);
    assert!(issue(&mut b, vec![line(1, "property", 1, 100), line(2, "property", 1, 100)]).is_empty());
    run(&mut b, BookCommand::ChangeBill { no: first[0].clone(), change: BillCommand::Delete, by: "c".into(), at: at("2026-11-22 12:00:00") }).unwrap();
    assert_eq!(issue(&mut b, vec![line(1, "property", 1, 100)]).len(), 1);
}

#[test]
fn every_change_to_a_bill_is_kept_with_who_when_and_before() {
    let mut b = book_with(1);
    let no = issue(&mut b, vec![line(1, "property", 1, 100)]).remove(0);
    let bill = b.bill(&no).unwrap().bill.clone();
    let edit = BillCommand::Edit { item: "water".into(), period_start: bill.period_start, period_end: bill.period_end, amount: Money::from_fen(250), remark: "改为水费".into() };
    run(&mut b, BookCommand::ChangeBill { no: no.clone(), change: edit, by: "cashier".into(), at: at("2026-11-22 12:00:00") }).unwrap();
    let record = b.bill(&no).unwrap();
    assert_eq!(record.history.len(), 1);
    assert_eq!(record.history[0].by, "cashier");
    let crate::bill::BillEvent::BillEdited { before, .. } = &record.history[0].event else { panic!() };
    assert_eq!(before.amount, Money::from_fen(100));
    assert_eq!(before.item, "property");
    let ledger = b.ledger(&HouseId::new("h1")).unwrap();
    assert_eq!(ledger.balance(&Account::Receivable("water".into())), Money::from_fen(250));
    assert_eq!(ledger.balance(&Account::Receivable("property".into())), Money::ZERO);
}

#[test]
fn a_second_wechat_reminder_within_7_days_is_refused_with_the_next_date() {
    let mut b = book_with(1);
    issue(&mut b, vec![line(1, "property", 1, 100)]);
    let remind = |day: &str| BookCommand::Remind {
        house: HouseId::new("h1"),
        channel: Channel::Wechat,
        limits: ReminderLimits::default(),
        by: "cashier".into(),
        at: at(&format!("{day} 09:00:00")),
    };
    run(&mut b, remind("2018-01-09")).unwrap();
    let err = run(&mut b, remind("2018-01-12")).unwrap_err();
    assert!(err.to_string().contains("请于2018年01月16日后再催缴"), "{err}");
    run(&mut b, remind("2018-01-16")).unwrap();
}

#[test]
fn totals_over_a_million_lines_equal_an_exact_reference_to_the_fen() {
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    let mut total = Money::ZERO;
    let mut reference: i128 = 0;
    for _ in 0..1_000_000 {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        // Area 30.00–229.99 m² × 2.18 per m², half-up: the same computation as a bill run.
        let area_fen = 3000 + (rng % 20000) as i64;
        let amount = Money::times(Decimal::new(area_fen, 2), Decimal::new(218, 2));
        total += amount;
        // Reference in integers: area_fen × 218 is in 1/10000 yuan; half-up to the fen.
        let exact = area_fen as i128 * 218;
        reference += (exact + 50) / 100;
    }
    assert_eq!(total, Money::from_fen(reference as i64));
}

#[derive(Clone, Debug)]
enum Op {
    Issue(u32, u32, i64),
    Pay(u32, Option<i64>, bool),
    Delete(usize),
    Void(usize),
    Edit(usize, i64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (1u32..4, 1u32..13, 1i64..100_000).prop_map(|(h, m, f)| Op::Issue(h, m, f)),
        (1u32..4, proptest::option::of(1i64..200_000), any::<bool>()).prop_map(|(h, a, s)| Op::Pay(h, a, s)),
        (0usize..40).prop_map(Op::Delete),
        (0usize..40).prop_map(Op::Void),
        (0usize..40, 1i64..100_000).prop_map(|(i, f)| Op::Edit(i, f)),
    ]
}

proptest! {
    /// Whatever is done to a book: each house's ledger balances, replaying the journaled events
    /// (through JSON, as the journal keeps them) rebuilds the same book, and no bill is both paid
    /// and deleted.
    #[test]
    fn ledgers_balance_and_replay_rebuilds_the_book(ops in proptest::collection::vec(op(), 1..60)) {
        let mut live = book_with(3);
        let mut journal: Vec<String> = vec![serde_json::to_string(&BookEvent::HousesRegistered { houses: live.houses.values().cloned().collect() }).unwrap()];
        for (n, op) in ops.iter().enumerate() {
            let when = at("2026-11-22 10:00:00") + chrono::Duration::seconds(n as i64);
            let nth = |i: usize| live.bills().get(i % live.bills().len().max(1)).map(|b| b.bill.no.clone());
            let command = match op {
                Op::Issue(h, m, f) => Some(BookCommand::IssueBills { lines: vec![line(*h, "property", *m, *f)], source: BillSource::Manual, by: "t".into(), at: when }),
                Op::Pay(h, a, selected) => {
                    let bills = if *selected { live.bills().iter().filter(|b| b.house.as_str() == format!("h{h}") && matches!(b.bill.state, BillState::Pending | BillState::PartlyPaid)).map(|b| b.bill.no.clone()).take(2).collect() } else { vec![] };
                    Some(BookCommand::Pay(PaymentRequest { key: format!("k{n}"), house: HouseId::new(format!("h{h}")), bills, amount: a.map(Money::from_fen), channel: PayChannel::Cash, payer: "p".into(), by: "t".into(), at: when, reference: None }))
                }
                Op::Delete(i) => nth(*i).map(|no| BookCommand::ChangeBill { no, change: BillCommand::Delete, by: "t".into(), at: when }),
                Op::Void(i) => nth(*i).map(|no| BookCommand::ChangeBill { no, change: BillCommand::Void { reason: "错开".into() }, by: "t".into(), at: when }),
                Op::Edit(i, f) => nth(*i).map(|no| {
                    let b = live.bill(&no).unwrap().bill.clone();
                    BookCommand::ChangeBill { no, change: BillCommand::Edit { item: b.item, period_start: b.period_start, period_end: b.period_end, amount: Money::from_fen(*f), remark: String::new() }, by: "t".into(), at: when }
                }),
            };
            let Some(command) = command else { continue };
            if let Ok(events) = live.decide(&command) {
                for e in &events {
                    live.apply(e);
                    journal.push(serde_json::to_string(e).unwrap());
                }
            }
            for h in live.houses.keys() {
                prop_assert!(live.ledger(h).is_none_or(|l| l.total().is_zero()));
            }
        }
        let mut replayed = Book::new(BuildingId::new("heyuan-b01"), 1);
        for e in &journal {
            replayed.apply(&serde_json::from_str(e).unwrap());
        }
        prop_assert_eq!(&replayed, &live);
        // A snapshot round trip rebuilds it as well.
        let mut restored: Book = serde_json::from_str(&serde_json::to_string(&live).unwrap()).unwrap();
        restored.reindex();
        prop_assert_eq!(&restored.find(&BillQuery::default()), &live.find(&BillQuery::default()));
        for b in live.bills() {
            prop_assert!(!(b.bill.state == BillState::Deleted && !b.bill.paid.is_zero()));
            // Receivable per house equals what its open bills owe.
        }
        for h in live.houses.keys() {
            let owed: Money = live.bills().iter().filter(|b| &b.house == h && matches!(b.bill.state, BillState::Pending | BillState::PartlyPaid)).map(|b| b.bill.owed()).sum();
            let receivable: Money = live.ledger(h).map(|l| l.balances().filter(|(a, _)| matches!(a, Account::Receivable(_))).map(|(_, m)| *m).sum()).unwrap_or_default();
            prop_assert_eq!(owed, receivable);
        }
    }
}

#[test]
fn a_journaled_bill_event_keeps_every_line_in_order_with_its_notes() {
    let mut lines = vec![line(1, "property", 1, 100), line(2, "property", 1, 200), line(1, "water", 1, 300), line(2, "property", 2, 400)];
    lines[1].external_no = Some("XSC-7".into());
    lines[2].remark = "=1+1".into();
    let event = BookEvent::BillsIssued { lines, source: BillSource::Import { batch: "b".into() }, by: "t".into(), at: at("2026-11-22 10:00:00"), first: 7 };
    let json = serde_json::to_string(&event).unwrap();
    assert_eq!(serde_json::from_str::<BookEvent>(&json).unwrap(), event);
    assert_eq!(json.matches("\"item\"").count(), 3, "consecutive lines of one item share a group: {json}");
}

/// Amounts a hostile or careless caller might send: the edges of `Decimal`, negatives, the bound
/// and one fen past it.
fn extreme_amount() -> impl Strategy<Value = Money> {
    prop_oneof![
        Just(Money::from_decimal(Decimal::MAX)),
        Just(Money::from_decimal(Decimal::MIN)),
        Just(Money::from_decimal(Decimal::from_str_exact("50000000000000000000000000000").unwrap())),
        Just(crate::limits::AMOUNT_MAX),
        Just(crate::limits::AMOUNT_MAX + Money::from_fen(1)),
        Just(Money::from_fen(-1)),
        (1i64..i64::MAX).prop_map(Money::from_fen),
        (1i64..1_000_000).prop_map(Money::from_fen),
    ]
}

#[derive(Clone, Debug)]
enum Hostile {
    Issue(u32, u32, Money),
    Pay(u32, Option<Money>),
    Edit(usize, Money),
    Area(u32, Decimal),
}

fn hostile() -> impl Strategy<Value = Hostile> {
    let area = prop_oneof![Just(Decimal::MAX), Just(crate::limits::AREA_MAX), (1i64..i64::MAX).prop_map(|a| Decimal::new(a, 2))];
    prop_oneof![
        (1u32..4, 1u32..13, extreme_amount()).prop_map(|(h, m, a)| Hostile::Issue(h, m, a)),
        (1u32..4, proptest::option::of(extreme_amount())).prop_map(|(h, a)| Hostile::Pay(h, a)),
        (0usize..40, extreme_amount()).prop_map(|(i, a)| Hostile::Edit(i, a)),
        (1u32..4, area).prop_map(|(h, a)| Hostile::Area(h, a)),
    ]
}

proptest! {
    /// M1: whatever amounts arrive, `decide` journals only what `apply` and the money view can
    /// fold without overflow — every journaled amount is within the bound, the book's money sums
    /// without panicking, and the ledgers still balance.
    #[test]
    fn extreme_values_never_reach_the_journal(ops in proptest::collection::vec(hostile(), 1..80)) {
        let mut live = book_with(3);
        for (n, op) in ops.iter().enumerate() {
            let when = at("2026-11-22 10:00:00") + chrono::Duration::seconds(n as i64);
            let command = match op {
                Hostile::Issue(h, m, a) => {
                    let mut l = line(*h, "property", *m, 1);
                    l.amount = *a;
                    BookCommand::IssueBills { lines: vec![l], source: BillSource::Manual, by: "t".into(), at: when }
                }
                Hostile::Pay(h, a) => BookCommand::Pay(PaymentRequest { key: format!("k{n}"), house: HouseId::new(format!("h{h}")), bills: vec![], amount: *a, channel: PayChannel::Cash, payer: "p".into(), by: "t".into(), at: when, reference: None }),
                Hostile::Edit(i, a) => {
                    let Some(b) = live.bills().get(i % live.bills().len().max(1)).map(|b| b.bill.clone()) else { continue };
                    BookCommand::ChangeBill { no: b.no, change: BillCommand::Edit { item: b.item, period_start: b.period_start, period_end: b.period_end, amount: *a, remark: String::new() }, by: "t".into(), at: when }
                }
                Hostile::Area(h, a) => {
                    let mut record = live.houses[&HouseId::new(format!("h{h}"))].clone();
                    record.area = *a;
                    BookCommand::RegisterHouses { houses: vec![record] }
                }
            };
            let Ok(events) = live.decide(&command) else { continue };
            for e in &events {
                let amounts: Vec<Money> = match e {
                    BookEvent::BillsIssued { lines, .. } => lines.iter().map(|l| l.amount).collect(),
                    BookEvent::PaymentTaken { payment } => vec![payment.amount],
                    BookEvent::BillChanged { change: Change { event: crate::bill::BillEvent::BillEdited { amount, .. }, .. }, .. } => vec![*amount],
                    _ => vec![],
                };
                for a in amounts {
                    prop_assert!(a <= crate::limits::AMOUNT_MAX && !a.is_negative(), "journaled {a}");
                }
                live.apply(e);
            }
            for h in live.houses.values() {
                prop_assert!(h.area <= crate::limits::AREA_MAX);
            }
            let _ = live.money(NaiveDate::from_ymd_opt(2026, 12, 1).unwrap());
            for h in live.houses.keys() {
                prop_assert!(live.ledger(h).is_none_or(|l| l.total().is_zero()));
            }
        }
    }
}

fn day(s: &str) -> NaiveDate {
    s.parse().unwrap_or_default()
}

#[test]
fn a_house_state_changes_on_a_day_kept_in_its_history_and_never_before_the_current_one() {
    let mut b = book_with(1);
    let h = HouseId::new("h1");
    let change = |state, on: &str| BookCommand::ChangeHouseState { house: h.clone(), state, on: day(on), today: day("2026-11-30"), by: "cashier".into() };
    run(&mut b, change(HouseState::Vacant, "2026-11-15")).unwrap();
    assert_eq!(run(&mut b, change(HouseState::Decorating, "2026-12-01")), Err(BookError::StateDate { on: day("2026-12-01"), after: None }));
    assert_eq!(run(&mut b, change(HouseState::Decorating, "2026-11-10")), Err(BookError::StateDate { on: day("2026-11-10"), after: Some(day("2026-11-15")) }));
    assert_eq!(run(&mut b, change(HouseState::Vacant, "2026-11-20")), Ok(vec![]), "already vacant: nothing to record");
    run(&mut b, change(HouseState::Decorating, "2026-11-20")).unwrap();
    let house = &b.houses[&h];
    let spans: Vec<(HouseState, Option<NaiveDate>, &str)> = house.history.iter().map(|s| (s.state, s.since, s.by.as_str())).collect();
    assert_eq!(spans, vec![(HouseState::Occupied, None, ""), (HouseState::Vacant, Some(day("2026-11-15")), "cashier"), (HouseState::Decorating, Some(day("2026-11-20")), "cashier")]);
    assert_eq!((house.state, house.state_since), (HouseState::Decorating, Some(day("2026-11-20"))));
}

#[test]
fn residents_are_added_edited_moved_and_refused_with_a_sentence() {
    let mut b = book_with(2);
    let (h1, h2) = (HouseId::new("h1"), HouseId::new("h2"));
    let person = |name: &str, phone: &str| Resident { name: name.into(), phone: phone.into(), id_number: None, relation: Relation::Tenant, vip: false, since: day("2000-01-01") };
    let put = |house: &HouseId, r: Resident, replacing: Option<&str>| ResidentChange::Put { house: house.clone(), resident: r, replacing: replacing.map(str::to_string) };
    let today = day("2026-11-30");
    run(&mut b, BookCommand::ChangeResidents { changes: vec![put(&h1, person("李四", "13900000001"), None)], today }).unwrap();
    assert_eq!(b.houses[&h1].residents[1].since, today, "a newcomer joins today");
    // The same phone twice in a house, a bad phone, an unknown resident: refused, nothing changes.
    let twice = BookCommand::ChangeResidents { changes: vec![put(&h1, person("李四", "13900000001"), None)], today };
    assert_eq!(run(&mut b, twice), Err(BookError::ResidentTwice("13900000001".into())));
    let bad = BookCommand::ChangeResidents { changes: vec![put(&h2, person("王五", "12345"), None)], today };
    assert!(matches!(run(&mut b, bad), Err(BookError::BadResident(..))));
    let ghost = BookCommand::ChangeResidents { changes: vec![ResidentChange::Remove { house: h2.clone(), phone: "13900000009".into() }], today };
    assert_eq!(run(&mut b, ghost), Err(BookError::NoResident("13900000009".into())));
    // An edit keeps the day they joined; a move leaves one house and joins the other, at once.
    let edit = BookCommand::ChangeResidents { changes: vec![put(&h1, person("李四（租户）", "13900000002"), Some("13900000001"))], today: day("2026-12-05") };
    run(&mut b, edit).unwrap();
    assert_eq!((b.houses[&h1].residents[1].name.as_str(), b.houses[&h1].residents[1].since), ("李四（租户）", today));
    let moving = vec![ResidentChange::Remove { house: h1.clone(), phone: "13900000002".into() }, put(&h2, person("李四", "13900000002"), None)];
    let events = run(&mut b, BookCommand::ChangeResidents { changes: moving, today }).unwrap();
    assert_eq!(events.len(), 1, "one event, both houses");
    assert_eq!((b.houses[&h1].residents.len(), b.houses[&h2].residents.len()), (1, 2));
}

#[test]
fn a_bill_row_says_when_money_was_last_applied_to_it() {
    let mut b = book_with(1);
    let no = issue(&mut b, vec![line(1, "water", 1, 1_000)]).remove(0);
    assert_eq!(b.row(b.bill(&no).unwrap(), false).paid_at, None);
    let mut first = pay("k1", 1, vec![no.clone()], Some(400));
    if let BookCommand::Pay(r) = &mut first {
        r.at = at("2026-11-20 10:00:00");
    }
    run(&mut b, first).unwrap();
    assert_eq!(b.row(b.bill(&no).unwrap(), false).receipt.as_deref(), Some(b.payments()[0].no.as_str()), "the part payment's receipt");
    let mut second = pay("k2", 1, vec![no.clone()], Some(600));
    if let BookCommand::Pay(r) = &mut second {
        r.at = at("2026-11-28 09:30:00");
    }
    run(&mut b, second).unwrap();
    let row = b.row(b.bill(&no).unwrap(), false);
    assert_eq!(row.paid_at, Some(at("2026-11-28 09:30:00")), "the last payment's time");
    assert_eq!(row.receipt.as_deref(), Some(b.payments()[1].no.as_str()), "the last payment's receipt");
    // A snapshot does not carry the lookup: it is rebuilt the same.
    let mut restored: Book = serde_json::from_value(serde_json::to_value(&b).unwrap()).unwrap();
    restored.reindex();
    assert_eq!(restored.row(restored.bill(&no).unwrap(), false).receipt, row.receipt);
}
