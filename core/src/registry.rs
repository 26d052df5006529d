//! The communities and devices a deployment runs (C1–C5), journaled in the `registry` stream so a
//! restart on the same data brings back the same communities with the same devices. A later
//! registration of the same community replaces the earlier one.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::community::{Building, BuildingPlan, Community, PlanError};
use crate::device::DeviceSpec;
use crate::meter_rules::{MeterRules, RulesError};

/// A community with its devices, as registered: the shape of a whole registration (and of every
/// registry event before devices were changed one by one).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CommunityRegistered {
    pub community: Community,
    pub devices: Vec<DeviceSpec>,
}

/// A device taken out of service: it reports no more, its journal and its place in bills and
/// history stay, and its id is never given again.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RetiredDevice {
    pub spec: DeviceSpec,
    pub at: DateTime<Utc>,
    pub reason: String,
    /// The device put in its place (换表, a new gate), when it was replaced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaced_by: Option<crate::ids::DeviceId>,
}

/// Every community registered so far, in the order they first came.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Registry {
    pub communities: Vec<CommunityRegistered>,
    #[serde(default)]
    pub retired: Vec<RetiredDevice>,
}

impl Registry {
    pub fn has(&self, community: &str) -> bool {
        self.communities.iter().any(|r| r.community.id.as_str() == community)
    }

    pub fn community(&self, community: &str) -> Option<&CommunityRegistered> {
        self.communities.iter().find(|r| r.community.id.as_str() == community)
    }

    fn community_mut(&mut self, community: &str) -> Option<&mut CommunityRegistered> {
        self.communities.iter_mut().find(|r| r.community.id.as_str() == community)
    }

    /// A device in service.
    pub fn device(&self, community: &str, device: &str) -> Option<&DeviceSpec> {
        self.community(community)?.devices.iter().find(|d| d.id.as_str() == device)
    }

    /// Whether this device may join its community: an id never used there, a place that exists.
    pub fn check_new_device(&self, spec: &DeviceSpec) -> Result<(), RegistryError> {
        let registration = self.community(spec.community.as_str()).ok_or_else(|| RegistryError::NoCommunity(spec.community.to_string()))?;
        if self.ever_had(spec.community.as_str(), spec.id.as_str()) {
            return Err(RegistryError::DeviceIdTaken(spec.id.to_string()));
        }
        check_device(registration, spec)
    }

    fn ever_had(&self, community: &str, device: &str) -> bool {
        self.device(community, device).is_some() || self.retired.iter().any(|r| r.spec.community.as_str() == community && r.spec.id.as_str() == device)
    }
}

/// What the registry is asked.
#[derive(Clone, Debug)]
pub enum RegistryCommand {
    /// Register (or re-register) this community with these devices.
    Register(CommunityRegistered),
    /// Change a registered community's meter thresholds (M4).
    SetMeterRules { community: String, rules: MeterRules },
    /// A new device in a registered community (M6).
    AddDevice(DeviceSpec),
    /// Several new devices at once (an import): all of them, or none.
    AddDevices(Vec<DeviceSpec>),
    /// A device moved to another building or house, or given another heartbeat interval.
    ChangeDevice(DeviceSpec),
    /// A device out of service (replaced, removed, broken).
    RetireDevice { community: String, device: String, at: DateTime<Utc>, reason: String },
    /// A device replaced by a new one in the same place (a broken meter swapped, 换表): the old
    /// one retired and the new one registered where it was, with its kind and heartbeat, in one
    /// append — never one without the other.
    ReplaceDevice { community: String, device: String, by: crate::ids::DeviceId, at: DateTime<Utc>, reason: String },
    /// Buildings, units, floors and houses added to a running community (C1); what it has
    /// already stays as it is.
    Grow { community: String, buildings: Vec<BuildingPlan> },
}

/// What the registry journals. Older journals hold whole registrations only; those still read.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RegistryEvent {
    Changed(RegistryChange),
    Registered(CommunityRegistered),
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum RegistryChange {
    MeterRulesSet { community: String, rules: MeterRules },
    DeviceAdded { spec: DeviceSpec },
    DeviceChanged { spec: DeviceSpec },
    DeviceRetired { retired: RetiredDevice },
    /// The community's tree took in these buildings, units, floors and houses (only the new ones).
    TreeGrown { community: String, buildings: Vec<Building> },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RegistryError {
    NoCommunity(String),
    Rules(RulesError),
    NoDevice(String),
    DeviceIdTaken(String),
    BadDeviceId,
    NoBuilding(String),
    NoHouse(String),
    HouseElsewhere(String),
    BadHeartbeat,
    ReasonTooLong,
    Plan(PlanError),
}

crate::bilingual!(RegistryError {
    RegistryError::NoCommunity(_0) => ("找不到小区 {_0}") / ("no community {_0}"),
    RegistryError::Rules(_0) => ("{}", crate::Bilingual::zh(_0)) / ("{}", crate::Bilingual::en(_0)),
    RegistryError::NoDevice(_0) => ("找不到在用设备 {_0}") / ("no device {_0} in service"),
    RegistryError::DeviceIdTaken(_0) => ("设备编号 {_0} 已被使用（停用设备的编号也不再分配）") / ("device id {_0} is taken (a retired device's id is never given again)"),
    RegistryError::BadDeviceId => ("设备编号须为 1–64 位小写字母、数字或连字符") / ("a device id is 1–64 lowercase letters, digits or dashes"),
    RegistryError::NoBuilding(_0) => ("本小区没有楼栋 {_0}") / ("no building {_0} in this community"),
    RegistryError::NoHouse(_0) => ("本小区没有房屋 {_0}") / ("no house {_0} in this community"),
    RegistryError::HouseElsewhere(_0) => ("房屋 {_0} 不在所选楼栋") / ("house {_0} is not in the chosen building"),
    RegistryError::BadHeartbeat => ("心跳间隔须为 10 秒到 1 天") / ("a heartbeat interval is 10 seconds to a day"),
    RegistryError::ReasonTooLong => ("停用原因不能超过 200 字") / ("a reason is at most 200 characters"),
    RegistryError::Plan(_0) => ("{}", crate::Bilingual::zh(_0)) / ("{}", crate::Bilingual::en(_0)),
});

/// Refuses a device that could not run where it says it is.
fn check_device(registration: &CommunityRegistered, spec: &DeviceSpec) -> Result<(), RegistryError> {
    let id = spec.id.as_str();
    if id.is_empty() || id.len() > 64 || !id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') {
        return Err(RegistryError::BadDeviceId);
    }
    if !(10..=86_400).contains(&spec.heartbeat_secs) {
        return Err(RegistryError::BadHeartbeat);
    }
    let community = &registration.community;
    if let Some(building) = &spec.building
        && community.building(building).is_none()
    {
        return Err(RegistryError::NoBuilding(building.to_string()));
    }
    if let Some(house) = &spec.house {
        let (building, _, _, _) = community.houses().find(|(_, _, _, h)| &h.id == house).ok_or_else(|| RegistryError::NoHouse(house.to_string()))?;
        if spec.building.as_ref().is_some_and(|b| b != &building.id) {
            return Err(RegistryError::HouseElsewhere(house.to_string()));
        }
    }
    Ok(())
}

impl crate::Aggregate for Registry {
    type Command = RegistryCommand;
    type Event = RegistryEvent;
    type Error = RegistryError;

    fn decide(&self, command: &RegistryCommand) -> Result<Vec<RegistryEvent>, RegistryError> {
        let change = |c| Ok(vec![RegistryEvent::Changed(c)]);
        match command {
            RegistryCommand::Register(registration) => Ok(vec![RegistryEvent::Registered(registration.clone())]),
            RegistryCommand::SetMeterRules { community, rules } => {
                rules.check().map_err(RegistryError::Rules)?;
                let registration = self.community(community).ok_or_else(|| RegistryError::NoCommunity(community.clone()))?;
                if &registration.community.meter_rules == rules {
                    return Ok(Vec::new());
                }
                change(RegistryChange::MeterRulesSet { community: community.clone(), rules: rules.clone() })
            }
            RegistryCommand::AddDevice(spec) => {
                self.check_new_device(spec)?;
                change(RegistryChange::DeviceAdded { spec: spec.clone() })
            }
            RegistryCommand::AddDevices(specs) => {
                let mut ids = std::collections::HashSet::new();
                for spec in specs {
                    self.check_new_device(spec)?;
                    if !ids.insert((&spec.community, &spec.id)) {
                        return Err(RegistryError::DeviceIdTaken(spec.id.to_string()));
                    }
                }
                Ok(specs.iter().map(|spec| RegistryEvent::Changed(RegistryChange::DeviceAdded { spec: spec.clone() })).collect())
            }
            RegistryCommand::ChangeDevice(spec) => {
                let registration = self.community(spec.community.as_str()).ok_or_else(|| RegistryError::NoCommunity(spec.community.to_string()))?;
                let current = self.device(spec.community.as_str(), spec.id.as_str()).ok_or_else(|| RegistryError::NoDevice(spec.id.to_string()))?;
                check_device(registration, spec)?;
                if current == spec {
                    return Ok(Vec::new());
                }
                // A device's kind is what it is: a different kind is a replacement (retire, add).
                let spec = DeviceSpec { kind: current.kind, ..spec.clone() };
                change(RegistryChange::DeviceChanged { spec })
            }
            RegistryCommand::RetireDevice { community, device, at, reason } => {
                if reason.chars().count() > 200 {
                    return Err(RegistryError::ReasonTooLong);
                }
                let spec = self.device(community, device).ok_or_else(|| RegistryError::NoDevice(device.clone()))?;
                change(RegistryChange::DeviceRetired { retired: RetiredDevice { spec: spec.clone(), at: *at, reason: reason.clone(), replaced_by: None } })
            }
            RegistryCommand::ReplaceDevice { community, device, by, at, reason } => {
                if reason.chars().count() > 200 {
                    return Err(RegistryError::ReasonTooLong);
                }
                let old = self.device(community, device).ok_or_else(|| RegistryError::NoDevice(device.clone()))?;
                let new = DeviceSpec { id: by.clone(), ..old.clone() };
                self.check_new_device(&new)?;
                let retired = RetiredDevice { spec: old.clone(), at: *at, reason: reason.clone(), replaced_by: Some(by.clone()) };
                Ok(vec![RegistryEvent::Changed(RegistryChange::DeviceRetired { retired }), RegistryEvent::Changed(RegistryChange::DeviceAdded { spec: new })])
            }
            RegistryCommand::Grow { community, buildings } => {
                let registration = self.community(community).ok_or_else(|| RegistryError::NoCommunity(community.clone()))?;
                let growth = registration.community.growth(buildings.clone()).map_err(RegistryError::Plan)?;
                if growth.buildings.is_empty() {
                    return Ok(Vec::new());
                }
                change(RegistryChange::TreeGrown { community: community.clone(), buildings: growth.buildings })
            }
        }
    }

    fn apply(&mut self, event: &RegistryEvent) {
        match event {
            RegistryEvent::Registered(registration) => match self.community_mut(registration.community.id.as_str()) {
                Some(existing) => *existing = registration.clone(),
                None => self.communities.push(registration.clone()),
            },
            RegistryEvent::Changed(RegistryChange::MeterRulesSet { community, rules }) => {
                if let Some(r) = self.community_mut(community) {
                    r.community.meter_rules = rules.clone();
                }
            }
            RegistryEvent::Changed(RegistryChange::DeviceAdded { spec }) => {
                if let Some(r) = self.community_mut(spec.community.as_str()) {
                    r.devices.push(spec.clone());
                }
            }
            RegistryEvent::Changed(RegistryChange::DeviceChanged { spec }) => {
                if let Some(d) = self.community_mut(spec.community.as_str()).and_then(|r| r.devices.iter_mut().find(|d| d.id == spec.id)) {
                    *d = spec.clone();
                }
            }
            RegistryEvent::Changed(RegistryChange::DeviceRetired { retired }) => {
                if let Some(r) = self.community_mut(retired.spec.community.as_str()) {
                    r.devices.retain(|d| d.id != retired.spec.id);
                }
                self.retired.push(retired.clone());
            }
            RegistryEvent::Changed(RegistryChange::TreeGrown { community, buildings }) => {
                if let Some(r) = self.community_mut(community) {
                    r.community.grow(buildings);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Aggregate;
    use crate::device::DeviceKind;
    use crate::ids::DeviceId;

    fn registry() -> Registry {
        let community = crate::demo::small_communities()[0].clone();
        let devices = crate::demo::devices(&community);
        let mut r = Registry::default();
        r.apply(&RegistryEvent::Registered(CommunityRegistered { community, devices }));
        r
    }

    fn run(r: &mut Registry, command: RegistryCommand) -> Result<(), RegistryError> {
        r.decide(&command)?.iter().for_each(|e| r.apply(e));
        Ok(())
    }

    #[test]
    fn devices_are_added_moved_and_retired_and_a_retired_id_is_never_given_again() {
        let mut r = registry();
        let c = r.communities[0].community.clone();
        let (b1, h1) = c.houses().next().map(|(b, _, _, h)| (b.id.clone(), h.id.clone())).unwrap();
        let b2 = c.buildings[1].id.clone();
        let meter = |id: &str| DeviceSpec {
            id: DeviceId::new(id),
            kind: DeviceKind::WaterMeter,
            community: c.id.clone(),
            building: Some(b1.clone()),
            house: Some(h1.clone()),
            heartbeat_secs: 3600,
        };
        run(&mut r, RegistryCommand::AddDevice(meter("wm-new"))).unwrap();
        assert!(r.device(c.id.as_str(), "wm-new").is_some());
        assert_eq!(run(&mut r, RegistryCommand::AddDevice(meter("wm-new"))), Err(RegistryError::DeviceIdTaken("wm-new".into())));
        assert_eq!(run(&mut r, RegistryCommand::AddDevice(meter("WM 1"))), Err(RegistryError::BadDeviceId));
        assert_eq!(run(&mut r, RegistryCommand::AddDevice(DeviceSpec { heartbeat_secs: 1, ..meter("wm-x") })), Err(RegistryError::BadHeartbeat));
        let elsewhere = DeviceSpec { building: Some(b2.clone()), ..meter("wm-y") };
        assert_eq!(run(&mut r, RegistryCommand::AddDevice(elsewhere)), Err(RegistryError::HouseElsewhere(h1.to_string())));
        // Moved to a public area of building 2; its kind stays what it is.
        let moved = DeviceSpec { building: Some(b2.clone()), house: None, kind: DeviceKind::Gate, ..meter("wm-new") };
        run(&mut r, RegistryCommand::ChangeDevice(moved)).unwrap();
        let now = r.device(c.id.as_str(), "wm-new").unwrap();
        assert_eq!((now.building.as_ref(), now.house.as_ref(), now.kind), (Some(&b2), None, DeviceKind::WaterMeter));
        let retire = RegistryCommand::RetireDevice { community: c.id.to_string(), device: "wm-new".into(), at: chrono::Utc::now(), reason: "表坏，已更换".into() };
        run(&mut r, retire.clone()).unwrap();
        assert!(r.device(c.id.as_str(), "wm-new").is_none());
        assert_eq!(run(&mut r, retire), Err(RegistryError::NoDevice("wm-new".into())));
        assert_eq!(run(&mut r, RegistryCommand::AddDevice(meter("wm-new"))), Err(RegistryError::DeviceIdTaken("wm-new".into())));
        // A broken meter swapped for a new one: both in one decision, the new one where the old was.
        run(&mut r, RegistryCommand::AddDevice(meter("wm-old"))).unwrap();
        let swap = |by: &str| RegistryCommand::ReplaceDevice { community: c.id.to_string(), device: "wm-old".into(), by: DeviceId::new(by), at: chrono::Utc::now(), reason: "表坏".into() };
        assert_eq!(run(&mut r, swap("wm-new")), Err(RegistryError::DeviceIdTaken("wm-new".into())), "a retired id is not given again");
        assert_eq!(run(&mut r, swap("Bad Id")), Err(RegistryError::BadDeviceId));
        assert!(r.device(c.id.as_str(), "wm-old").is_some(), "a refused replacement retires nothing");
        assert_eq!(r.decide(&swap("wm-fresh")).unwrap().len(), 2, "one append: retired and added");
        run(&mut r, swap("wm-fresh")).unwrap();
        let fresh = r.device(c.id.as_str(), "wm-fresh").unwrap();
        assert_eq!((fresh.house.as_ref(), fresh.kind, fresh.heartbeat_secs), (Some(&h1), DeviceKind::WaterMeter, 3600));
        assert!(r.device(c.id.as_str(), "wm-old").is_none());
        assert_eq!(r.retired.last().and_then(|d| d.replaced_by.clone()), Some(DeviceId::new("wm-fresh")));
        // Old journals (whole registrations) and new ones (changes) read alike.
        let events: Vec<RegistryEvent> = vec![
            serde_json::from_str(&serde_json::to_string(&CommunityRegistered { community: c.clone(), devices: vec![] }).unwrap()).unwrap(),
            serde_json::from_str(&serde_json::to_string(&RegistryEvent::Changed(RegistryChange::DeviceAdded { spec: meter("wm-z") })).unwrap()).unwrap(),
        ];
        assert!(matches!(events[0], RegistryEvent::Registered(_)));
        assert!(matches!(events[1], RegistryEvent::Changed(RegistryChange::DeviceAdded { .. })));
    }
}
