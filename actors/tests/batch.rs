//! Writes that span buildings or race each other, through the typed handle: a batch over two
//! buildings commits in both or in neither, a house import merges into the book as it is (an
//! edit made meanwhile survives), and a repeated payment key answers with its payment.

use std::sync::Arc;

use chrono::NaiveDate;
use hutong_actors::building::NoNotices;
use hutong_actors::community::{self, CommunityArgs};
use hutong_actors::handle::{BuildingRef, batch};
use hutong_actors::journal::{Journal, MemoryJournal};
use hutong_actors::{Clock, Directory, LiveHub, Metrics};
use hutong_core::bill::BillState;
use hutong_core::book::{BatchAction, BillQuery, BillLine, BillSource, BookCommand, BookError, BookEvent, PayChannel, PaymentRequest, Relation};
use hutong_core::community::{Building, Community, Floor, House, Unit};
use hutong_core::fee::HouseState;
use hutong_core::import::template::ImportedHouse;
use hutong_core::{BuildingId, CommunityId, HouseId, Money};
use rust_decimal::Decimal;

fn community() -> Arc<Community> {
    let building = |no: u32| {
        let house = House { id: HouseId::new(format!("c1-{no}-1-101")), room: "101".into(), area: Decimal::new(8925, 2) };
        Building { id: BuildingId::new(format!("c1-b{no}")), no, name: format!("{no}号楼"), units: vec![Unit { no: 1, floors: vec![Floor { no: 1, houses: vec![house] }] }] }
    };
    Arc::new(Community { id: CommunityId::new("c1"), name: "测试用小区".into(), time_zone: "Asia/Shanghai".into(), buildings: vec![building(1), building(2)], meter_rules: Default::default() })
}

struct World {
    directory: Arc<Directory>,
    _sup: ractor::ActorRef<community::CommunityMsg>,
}

impl World {
    async fn new() -> Self {
        let journal: Arc<dyn Journal> = Arc::new(MemoryJournal::new());
        let directory = Arc::new(Directory::new());
        let sup = community::start(CommunityArgs {
            community: community(),
            devices: Vec::new(),
            journal,
            hub: LiveHub::new(),
            directory: directory.clone(),
            metrics: Metrics::new(),
            clock: Clock::new(),
            notices: Arc::new(NoNotices),
            staffing: Arc::new(hutong_actors::work_order::NoStaff),
        })
        .await
        .unwrap();
        World { directory, _sup: sup }
    }

    fn building(&self, no: u32) -> BuildingRef {
        self.directory.building_ref(&BuildingId::new(format!("c1-b{no}"))).unwrap()
    }

    /// Issues one pending bill in building `no`; returns its number.
    async fn bill(&self, no: u32) -> String {
        let day = |d: u32| NaiveDate::from_ymd_opt(2026, 11, d).unwrap();
        let line = BillLine {
            house: HouseId::new(format!("c1-{no}-1-101")),
            item: "property".into(),
            subject: "6001.01".into(),
            period_start: day(1),
            period_end: day(30),
            amount: Money::from_fen(19457),
            external_no: None,
            remark: String::new(),
        };
        let command = BookCommand::IssueBills { lines: vec![line], source: BillSource::Manual, by: "t".into(), at: at() };
        self.building(no).book(command).await.unwrap().unwrap();
        self.building(no).find(BillQuery::default()).await.unwrap().into_iter().map(|r| r.no).max().unwrap()
    }

    async fn state_of(&self, no: u32, bill: &str) -> BillState {
        let bill = bill.to_string();
        self.building(no).bill(&bill).await.unwrap().unwrap().0.bill.state
    }
}

fn at() -> chrono::NaiveDateTime {
    NaiveDate::from_ymd_opt(2026, 11, 2).unwrap().and_hms_opt(9, 0, 0).unwrap()
}

fn pay(house: &str, key: &str, bills: Vec<String>) -> PaymentRequest {
    PaymentRequest {
        key: key.into(),
        house: HouseId::new(house),
        bills,
        amount: None,
        channel: PayChannel::Cash,
        payer: "张三".into(),
        by: "cashier".into(),
        at: at(),
        reference: None,
    }
}

fn mark_paid(bills: Vec<String>) -> BookCommand {
    BookCommand::Batch { bills, action: BatchAction::MarkPaid { key: "k-batch".into(), channel: PayChannel::Cash, payer: String::new() }, by: "t".into(), at: at() }
}

#[tokio::test]
async fn a_batch_over_two_buildings_where_one_bill_was_paid_meanwhile_changes_nothing_anywhere() {
    let w = World::new().await;
    let (one, two) = (w.bill(1).await, w.bill(2).await);
    // Someone pays the second building's bill at the desk first.
    w.building(2).pay(pay("c1-2-1-101", "k-desk", vec![two.clone()])).await.unwrap().unwrap();
    let parts = vec![(w.building(1), mark_paid(vec![one.clone()])), (w.building(2), mark_paid(vec![two.clone()]))];
    let refused = batch(parts).await.unwrap();
    assert!(matches!(refused, Err(BookError::NotAllPending { .. })), "{refused:?}");
    assert_eq!(w.state_of(1, &one).await, BillState::Pending, "the first building wrote nothing");
    let payments = w.building(1).payments_of(&one).await.unwrap().len();
    assert_eq!(payments, 0);
    // The building is not left holding the abandoned batch: its next write goes through.
    w.building(1).pay(pay("c1-1-1-101", "k-after", Vec::new())).await.unwrap().unwrap();
    assert_eq!(w.state_of(1, &one).await, BillState::Paid);
}

#[tokio::test]
async fn a_batch_over_two_buildings_commits_in_both() {
    let w = World::new().await;
    let (one, two) = (w.bill(1).await, w.bill(2).await);
    let parts = vec![(w.building(2), mark_paid(vec![two.clone()])), (w.building(1), mark_paid(vec![one.clone()]))];
    let events = batch(parts.clone()).await.unwrap().unwrap();
    assert_eq!(events.iter().filter(|e| matches!(e, BookEvent::PaymentTaken { .. })).count(), 2);
    assert_eq!((w.state_of(1, &one).await, w.state_of(2, &two).await), (BillState::Paid, BillState::Paid));
    // The same batch again pays nothing twice.
    let again = batch(parts).await.unwrap().unwrap();
    assert!(again.is_empty(), "{again:?}");
}

#[tokio::test]
async fn a_repeated_key_answers_with_its_payment_and_another_body_under_it_is_refused() {
    let w = World::new().await;
    let one = w.bill(1).await;
    let first = w.building(1).pay(pay("c1-1-1-101", "k1", vec![one.clone()])).await.unwrap().unwrap();
    assert!(first.fresh);
    let again = w.building(1).pay(pay("c1-1-1-101", "k1", vec![one.clone()])).await.unwrap().unwrap();
    assert_eq!((again.fresh, again.payment.no), (false, first.payment.no));
    let mut other = pay("c1-1-1-101", "k1", vec![one]);
    other.channel = PayChannel::WechatPay;
    assert_eq!(w.building(1).pay(other).await.unwrap(), Err(BookError::KeyReused("k1".into())));
}

#[tokio::test]
async fn a_house_import_racing_another_edit_of_the_same_house_loses_neither() {
    let w = World::new().await;
    let house = HouseId::new("c1-1-1-101");
    let row = |area: Option<Decimal>, resident: Option<(&str, &str)>| ImportedHouse {
        row: 2,
        house: house.clone(),
        kind: None,
        area,
        state: resident.is_none().then_some(HouseState::Vacant),
        state_since: None,
        resident: resident.map(|(n, p)| (n.to_string(), p.to_string(), None, Relation::Owner, false)),
        fields: Vec::new(),
    };
    let today = NaiveDate::from_ymd_opt(2026, 11, 2).unwrap();
    // Two imports in flight at once, each touching other fields of the one house.
    let b = w.building(1);
    let area = b.book(BookCommand::ImportHouses { rows: vec![row(Some(Decimal::new(9000, 2)), None)], today });
    let resident = b.book(BookCommand::ImportHouses { rows: vec![row(None, Some(("李四", "13900000002")))], today });
    let (a, r) = tokio::join!(area, resident);
    a.unwrap().unwrap();
    r.unwrap().unwrap();
    let h = house.clone();
    let record = w.building(1).houses("", true).await.unwrap().into_iter().find(|r| r.id == h).unwrap();
    assert_eq!(record.area, Decimal::new(9000, 2));
    assert_eq!((record.state, record.state_since), (HouseState::Vacant, Some(today)));
    assert_eq!(record.residents.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(), ["李四"]);
}
