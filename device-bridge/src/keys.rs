//! The keyring: who may connect as which device (M6, review D1). A device connects as
//! `{community}/{device}` with its own key as the password; the key never travels in payloads.
//! Keys are per device: the provisioning key (an HMAC of the device's name under the deployment
//! secret, so a fleet can be flashed in the factory), then, once rotated, a random key of which
//! only the SHA-256 digest is journaled. Revoking refuses every key of the device at once: the
//! endpoint hears it on [`Keyring::changes`] and closes the device's connection.

use std::sync::Arc;

use hutong_actors::journal::{Journal, JournalError};
use hutong_actors::journaled::{CommitError, Shared, StreamId};
use hutong_core::device_keys::{DeviceKeys, KeyCommand, KeyError, KeyState};
use hutong_core::ids::is_valid_id;
use rand::{RngCore, SeedableRng};
use sha2::Digest;
use tokio::sync::broadcast;

use crate::codec::{SERVICE_USER, device_key, same_key, service_password};

/// Who a connection speaks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Principal {
    /// Hutong's own clients (the demo's simulator, ingest on an external broker): any device's topics.
    Service,
    /// One device: its own topics only.
    Device { community: String, device: String },
}

impl Principal {
    /// Whether this principal may publish on `topic`: a device on its own telemetry, event and
    /// heartbeat topics; the service on any device's (the simulator) — the same rule on Hutong's
    /// endpoint and, through the broker's hook, on an external broker.
    pub fn may_publish(&self, topic: &str) -> bool {
        match (self, crate::codec::parse_topic(topic)) {
            (Principal::Service, Ok(_)) => true,
            (Principal::Device { community, device }, Ok(t)) => t.community == community && t.device == device,
            (_, Err(_)) => false,
        }
    }

    /// Whether this principal may subscribe to `filter`: a device to its own command topic only;
    /// the service to every device topic, shared among Hutong's nodes or not.
    pub fn may_subscribe(&self, filter: &str) -> bool {
        match self {
            Principal::Device { community, device } => filter == crate::codec::command_topic(community, device),
            Principal::Service => {
                let plain = filter.strip_prefix("$share/").and_then(|rest| rest.split_once('/')).map_or(filter, |(_, f)| f);
                plain == crate::codec::SUBSCRIPTION || plain.strip_prefix("hutong/").and_then(|r| r.strip_suffix("/devices/+/+")).is_some_and(hutong_core::ids::is_valid_id)
            }
        }
    }
}

/// Why a CONNECT was refused; `reason()` is the metrics label.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Wrong password, or a user name that is neither the service nor `community/device`.
    BadCredentials,
    /// The device's keys are revoked.
    Revoked,
}

impl Refusal {
    pub fn reason(self) -> &'static str {
        match self {
            Refusal::BadCredentials => "bad_credentials",
            Refusal::Revoked => "revoked",
        }
    }
}

pub struct Keyring {
    secret: Vec<u8>,
    keys: Shared<DeviceKeys>,
    changes: broadcast::Sender<String>,
}

fn sha256_hex(text: &str) -> String {
    sha2::Sha256::digest(text.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

impl Keyring {
    pub async fn open(journal: Arc<dyn Journal>, secret: &[u8]) -> Result<Arc<Self>, JournalError> {
        let keys = Shared::recover(journal, StreamId::device_keys(), DeviceKeys::default).await?;
        Ok(Arc::new(Keyring { secret: secret.to_vec(), keys, changes: broadcast::channel(1024).0 }))
    }

    /// Who `user` with `password` is, or why not. A device's existence is the caller's check.
    pub fn authenticate(&self, user: &str, password: &str) -> Result<Principal, Refusal> {
        if user == SERVICE_USER {
            return same_key(password, &service_password(&self.secret)).then_some(Principal::Service).ok_or(Refusal::BadCredentials);
        }
        let Some((community, device)) = user.split_once('/').filter(|(c, d)| is_valid_id(c) && is_valid_id(d)) else {
            return Err(Refusal::BadCredentials);
        };
        self.check(community, device, password)?;
        Ok(Principal::Device { community: community.to_string(), device: device.to_string() })
    }

    /// Whether `key` is the device's key now.
    pub fn check(&self, community: &str, device: &str, key: &str) -> Result<(), Refusal> {
        let ok = match self.keys.read().get(community, device) {
            None => same_key(key, &device_key(&self.secret, community, device)),
            Some(KeyState::Issued { digest, .. }) => same_key(&sha256_hex(key), digest),
            Some(KeyState::Revoked { .. }) => return Err(Refusal::Revoked),
        };
        ok.then_some(()).ok_or(Refusal::BadCredentials)
    }

    /// The provisioning key, while the device still has it (after a rotation the key in use was
    /// shown once and is not kept; after a revocation there is none).
    pub fn provisioning_key(&self, community: &str, device: &str) -> Option<String> {
        self.keys.read().get(community, device).is_none().then(|| device_key(&self.secret, community, device))
    }

    /// The device's key generation: 0 for the provisioning key.
    pub fn generation(&self, community: &str, device: &str) -> (u32, bool) {
        match self.keys.read().get(community, device) {
            None => (0, false),
            Some(state) => (state.generation(), matches!(state, KeyState::Revoked { .. })),
        }
    }

    /// Gives the device a new random key, returned here once; the old one is refused from now on.
    pub async fn rotate(&self, community: &str, device: &str, at_ms: i64) -> Result<String, CommitError<KeyError>> {
        let mut bytes = [0u8; 32];
        rand::rngs::StdRng::from_os_rng().fill_bytes(&mut bytes);
        let key: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let command = KeyCommand::Rotate { community: community.into(), device: device.into(), digest: sha256_hex(&key) };
        self.keys.execute(&command, at_ms).await?;
        let _ = self.changes.send(format!("{community}/{device}"));
        Ok(key)
    }

    /// Refuses every key of the device until the next rotation.
    pub async fn revoke(&self, community: &str, device: &str, at_ms: i64) -> Result<(), CommitError<KeyError>> {
        self.keys.execute(&KeyCommand::Revoke { community: community.into(), device: device.into() }, at_ms).await?;
        let _ = self.changes.send(format!("{community}/{device}"));
        Ok(())
    }

    /// `community/device` of every device whose key changed from now on (the endpoint closes its
    /// connection: the old key must not keep a session open).
    pub fn changes(&self) -> broadcast::Receiver<String> {
        self.changes.subscribe()
    }

    /// Folds in keys rotated or revoked by other nodes sharing the store, and tells the endpoint.
    pub async fn catch_up(&self) -> Result<(), JournalError> {
        let before = self.keys.read().clone();
        if self.keys.catch_up().await? > 0 {
            let now = self.keys.read().clone();
            for slot in now.changed_since(&before) {
                let _ = self.changes.send(slot);
            }
        }
        Ok(())
    }

    /// The service user's password (Hutong's own clients).
    pub fn service_password(&self) -> String {
        service_password(&self.secret)
    }

    /// The token a patrol checkpoint's printed code carries: derived from the deployment's secret
    /// like a device key, for this community, checkpoint and code version (a new code for a lost
    /// one bumps the version, and the old token stops matching).
    pub fn checkpoint_code(&self, community: &str, checkpoint: &str, version: u32) -> String {
        crate::codec::device_key(&self.secret, &format!("_patrol/{community}"), &format!("{checkpoint}/{version}"))
    }

    /// The token a place's printed code carries — a house's door plate, a piece of equipment —
    /// that a technician scans on arrival and on completion of a work order (`house/{id}`,
    /// `device/{id}`).
    pub fn place_code(&self, community: &str, place: &str) -> String {
        crate::codec::device_key(&self.secret, &format!("_place/{community}"), place)
    }

    /// The token of a community's posted QR code for anonymous reports (匿名报事).
    pub fn report_code(&self, community: &str) -> String {
        self.place_code(community, "_report")
    }

    /// Whether a scanned token is the place's (compared in constant time).
    pub fn place_code_matches(&self, community: &str, place: &str, scanned: &str) -> bool {
        crate::codec::same_key(&self.place_code(community, place), scanned)
    }

    /// Whether a scanned token is this checkpoint's current one (compared in constant time).
    pub fn checkpoint_code_matches(&self, community: &str, checkpoint: &str, version: u32, scanned: &str) -> bool {
        crate::codec::same_key(&self.checkpoint_code(community, checkpoint, version), scanned)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hutong_actors::journal::MemoryJournal;

    #[test]
    fn a_device_publishes_and_subscribes_only_as_itself() {
        let meter = Principal::Device { community: "heyuan".into(), device: "wm-1".into() };
        assert!(meter.may_publish("hutong/heyuan/devices/wm-1/telemetry"));
        for topic in ["hutong/heyuan/devices/wm-2/telemetry", "hutong/lianyuan/devices/wm-1/event", "hutong/heyuan/devices/wm-1/command", "hutong/#", "other"] {
            assert!(!meter.may_publish(topic), "{topic}");
        }
        assert!(meter.may_subscribe("hutong/heyuan/devices/wm-1/command"));
        for filter in ["hutong/#", "#", "hutong/heyuan/devices/wm-2/command", "hutong/heyuan/devices/+/command", "$share/g/hutong/heyuan/devices/wm-1/command"] {
            assert!(!meter.may_subscribe(filter), "{filter}");
        }
        let service = Principal::Service;
        assert!(service.may_subscribe("hutong/+/devices/+/+") && service.may_subscribe("$share/hutong/hutong/+/devices/+/+"));
        assert!(service.may_subscribe("$share/hutong/hutong/heyuan/devices/+/+"));
        assert!(!service.may_subscribe("#") && !service.may_subscribe("$SYS/#"));
        assert!(service.may_publish("hutong/heyuan/devices/wm-2/telemetry"));
    }

    #[tokio::test]
    async fn a_rotated_key_replaces_the_provisioning_key_and_a_revoked_device_is_refused() {
        let journal: Arc<dyn Journal> = Arc::new(MemoryJournal::default());
        let ring = Keyring::open(journal.clone(), b"0123456789abcdef0123456789abcdef").await.unwrap();
        let first = ring.provisioning_key("heyuan", "gate-1").unwrap();
        assert_eq!(ring.authenticate("heyuan/gate-1", &first), Ok(Principal::Device { community: "heyuan".into(), device: "gate-1".into() }));
        assert_eq!(ring.authenticate("heyuan/gate-2", &first), Err(Refusal::BadCredentials), "another device's key");
        assert_eq!(ring.authenticate("gate-1", &first), Err(Refusal::BadCredentials));
        assert_eq!(ring.authenticate(SERVICE_USER, &first), Err(Refusal::BadCredentials));
        assert_eq!(ring.authenticate(SERVICE_USER, &ring.service_password()), Ok(Principal::Service));

        let mut changes = ring.changes();
        let second = ring.rotate("heyuan", "gate-1", 1).await.unwrap();
        assert_eq!(changes.recv().await.unwrap(), "heyuan/gate-1");
        assert_eq!(second.len(), 64);
        assert_eq!(ring.authenticate("heyuan/gate-1", &first), Err(Refusal::BadCredentials), "the old key is refused");
        assert!(ring.authenticate("heyuan/gate-1", &second).is_ok());
        assert_eq!(ring.provisioning_key("heyuan", "gate-1"), None, "a rotated key is shown once");

        ring.revoke("heyuan", "gate-1", 2).await.unwrap();
        assert_eq!(ring.authenticate("heyuan/gate-1", &second), Err(Refusal::Revoked));
        assert!(ring.authenticate("heyuan/gate-2", &ring.provisioning_key("heyuan", "gate-2").unwrap()).is_ok(), "others unaffected");

        // A restart on the same journal keeps the revocation; the key itself was never journaled.
        let again = Keyring::open(journal.clone(), b"0123456789abcdef0123456789abcdef").await.unwrap();
        assert_eq!(again.authenticate("heyuan/gate-1", &second), Err(Refusal::Revoked));
        let records = journal.replay(StreamId::device_keys().as_str(), 0).await.unwrap();
        assert!(records.iter().all(|r| !String::from_utf8_lossy(&r.payload).contains(&second)));
    }
}
