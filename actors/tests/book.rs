//! The building actor's book on the in-memory journal: commands journaled before they apply, the
//! book rebuilt from the journal on restart, and the due-soon reminder fired by the building's own
//! timer (paused time) at 09:00 community time, three days before a period ends — once.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, NaiveDate};
use hutong_actors::building::{BookReply, BuildingMsg, Notices, ReminderNotice};
use hutong_actors::community::{self, CommunityArgs};
use hutong_actors::journal::{Journal, MemoryJournal};
use hutong_actors::{Clock, Directory, LiveHub, Metrics};
use hutong_core::book::{BillLine, BillSource, BookCommand, BookEvent};
use hutong_core::community::{Building, Community, Floor, House, Unit};
use hutong_core::reminder::Channel;
use hutong_core::{BuildingId, CommunityId, HouseId, Money};
use rust_decimal::Decimal;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<ReminderNotice>>>);

impl Notices for Captured {
    fn remind(&self, notice: ReminderNotice) -> futures_util::future::BoxFuture<'_, ()> {
        self.0.lock().unwrap().push(notice);
        Box::pin(std::future::ready(()))
    }
}

fn community() -> Arc<Community> {
    let house = House { id: HouseId::new("c1-1-1-101"), room: "101".into(), area: Decimal::new(8925, 2) };
    Arc::new(Community {
        id: CommunityId::new("c1"),
        name: "测试用小区".into(),
        time_zone: "Asia/Shanghai".into(),
        buildings: vec![Building { id: BuildingId::new("c1-b1"), no: 1, name: "1号楼".into(), units: vec![Unit { no: 1, floors: vec![Floor { no: 1, houses: vec![house] }] }] }],
        meter_rules: Default::default(),
    })
}

async fn start(journal: &Arc<dyn Journal>, directory: &Arc<Directory>, clock: Clock, notices: Captured) -> ractor::ActorRef<community::CommunityMsg> {
    community::start(CommunityArgs {
        community: community(),
        devices: Vec::new(),
        journal: journal.clone(),
        hub: LiveHub::new(),
        directory: directory.clone(),
        metrics: Metrics::new(),
        clock,
        notices: Arc::new(notices),
        staffing: Arc::new(hutong_actors::work_order::NoStaff),
    })
    .await
    .unwrap()
}

async fn book(directory: &Directory, command: BookCommand) -> Vec<BookEvent> {
    let actor = directory.building(&BuildingId::new("c1-b1")).unwrap();
    ractor::call!(actor, |reply: BookReply| BuildingMsg::Book(command, reply)).unwrap().unwrap()
}

#[tokio::test(start_paused = true)]
async fn a_bill_due_in_three_days_reminds_its_house_once_at_nine_and_the_book_survives_a_restart() {
    // 2026-11-20 08:00 in Shanghai.
    let clock = Clock::starting_at(DateTime::from_timestamp(1_795_132_800, 0).unwrap());
    let journal: Arc<dyn Journal> = Arc::new(MemoryJournal::new());
    let directory = Arc::new(Directory::new());
    let notices = Captured::default();
    let sup = start(&journal, &directory, clock, notices.clone()).await;
    let day = |d: u32| NaiveDate::from_ymd_opt(2026, 11, d).unwrap();
    let line = BillLine {
        house: HouseId::new("c1-1-1-101"),
        item: "property".into(),
        subject: "6001".into(),
        period_start: day(1),
        period_end: day(25),
        amount: Money::from_fen(19457),
        external_no: None,
        remark: String::new(),
    };
    let at = day(20).and_hms_opt(8, 0, 0).unwrap();
    let events = book(&directory, BookCommand::IssueBills { lines: vec![line], source: BillSource::Manual, by: "t".into(), at }).await;
    assert_eq!(events.len(), 1);
    assert_eq!(journal.head("book/c1/c1-b1").await.unwrap(), 1, "journaled before it applied");

    // Nothing until 2026-11-22 09:00 (three days before the 25th).
    tokio::time::sleep(Duration::from_secs(86_400 + 3_600 * 23)).await;
    assert!(notices.0.lock().unwrap().is_empty(), "too early");
    tokio::time::sleep(Duration::from_secs(3 * 3_600)).await;
    let sent = notices.0.lock().unwrap().clone();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!((sent[0].channel, sent[0].reason.as_str(), sent[0].owed), (Channel::InApp, "到期提醒", Money::from_fen(19457)));
    // Not again the next day.
    tokio::time::sleep(Duration::from_secs(86_400)).await;
    assert_eq!(notices.0.lock().unwrap().len(), 1);

    // A restart rebuilds the book from the journal.
    sup.stop(None);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let directory = Arc::new(Directory::new());
    let _sup = start(&journal, &directory, clock, notices.clone()).await;
    let actor = directory.building(&BuildingId::new("c1-b1")).unwrap();
    let reminded = ractor::call!(actor, |reply| BuildingMsg::Reminded(HouseId::new("c1-1-1-101"), Channel::InApp, reply)).unwrap();
    assert_eq!(reminded, (1, Some(day(22))));
}
