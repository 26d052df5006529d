//! Each device's MQTT key (M6, review D1): which key a device connects with, rotated and revoked
//! by the property office, journaled in one `device-keys` stream.
//!
//! A device with no entry here has its *provisioning* key: an HMAC of `community/device` under
//! the deployment's device secret (generation 0), so a fleet can be flashed before anyone visits
//! a screen. Rotating gives the device a random key, kept here only as its SHA-256 digest (the
//! key is shown once and never journaled); the provisioning key stops working at that moment.
//! Revoking refuses every key of the device until the next rotation.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A device's key as the keyring knows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum KeyState {
    /// A random key, by its SHA-256 digest (lowercase hex).
    Issued { generation: u32, digest: String },
    /// No key of this device is accepted.
    Revoked { generation: u32 },
}

impl KeyState {
    pub fn generation(&self) -> u32 {
        match self {
            KeyState::Issued { generation, .. } | KeyState::Revoked { generation } => *generation,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum KeyCommand {
    /// Replace the device's key by the one with this digest.
    Rotate { community: String, device: String, digest: String },
    Revoke { community: String, device: String },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum KeyEvent {
    Rotated { community: String, device: String, generation: u32, digest: String },
    Revoked { community: String, device: String, generation: u32 },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyError {
    BadDigest,
    TooManyRotations,
}

crate::bilingual!(KeyError {
    KeyError::BadDigest => ("密钥摘要无效") / ("a key digest must be 64 lowercase hex digits"),
    KeyError::TooManyRotations => ("该设备的密钥轮换次数已达上限") / ("this device's key has been rotated too many times"),
});

/// Every device whose key is no longer its provisioning key, by `community/device`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct DeviceKeys {
    keys: BTreeMap<String, KeyState>,
}

fn slot(community: &str, device: &str) -> String {
    format!("{community}/{device}")
}

impl DeviceKeys {
    /// `None`: the device still has its provisioning key.
    pub fn get(&self, community: &str, device: &str) -> Option<&KeyState> {
        self.keys.get(&slot(community, device))
    }

    /// `community/device` of every device whose key differs from `before`.
    pub fn changed_since<'a>(&'a self, before: &'a DeviceKeys) -> impl Iterator<Item = String> + 'a {
        self.keys.iter().filter(move |(slot, state)| before.keys.get(*slot) != Some(*state)).map(|(slot, _)| slot.clone())
    }
}

impl crate::Aggregate for DeviceKeys {
    type Command = KeyCommand;
    type Event = KeyEvent;
    type Error = KeyError;

    fn decide(&self, command: &KeyCommand) -> Result<Vec<KeyEvent>, KeyError> {
        match command {
            KeyCommand::Rotate { community, device, digest } => {
                if digest.len() != 64 || !digest.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
                    return Err(KeyError::BadDigest);
                }
                let generation = self.get(community, device).map_or(0, KeyState::generation).checked_add(1).ok_or(KeyError::TooManyRotations)?;
                Ok(vec![KeyEvent::Rotated { community: community.clone(), device: device.clone(), generation, digest: digest.clone() }])
            }
            KeyCommand::Revoke { community, device } => match self.get(community, device) {
                Some(KeyState::Revoked { .. }) => Ok(vec![]),
                state => {
                    let generation = state.map_or(0, KeyState::generation);
                    Ok(vec![KeyEvent::Revoked { community: community.clone(), device: device.clone(), generation }])
                }
            },
        }
    }

    fn apply(&mut self, event: &KeyEvent) {
        match event {
            KeyEvent::Rotated { community, device, generation, digest } => {
                self.keys.insert(slot(community, device), KeyState::Issued { generation: *generation, digest: digest.clone() });
            }
            KeyEvent::Revoked { community, device, generation } => {
                self.keys.insert(slot(community, device), KeyState::Revoked { generation: *generation });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Aggregate;

    fn run(keys: &mut DeviceKeys, command: KeyCommand) -> Result<(), KeyError> {
        for event in keys.decide(&command)? {
            keys.apply(&event);
        }
        Ok(())
    }

    #[test]
    fn rotation_counts_generations_and_revocation_sticks_until_the_next_rotation() {
        let mut keys = DeviceKeys::default();
        assert_eq!(keys.get("heyuan", "gate-1"), None);
        let digest = "ab".repeat(32);
        let rotate = || KeyCommand::Rotate { community: "heyuan".into(), device: "gate-1".into(), digest: "ab".repeat(32) };
        run(&mut keys, rotate()).unwrap();
        assert_eq!(keys.get("heyuan", "gate-1"), Some(&KeyState::Issued { generation: 1, digest: digest.clone() }));
        let revoke = KeyCommand::Revoke { community: "heyuan".into(), device: "gate-1".into() };
        run(&mut keys, revoke.clone()).unwrap();
        assert_eq!(keys.get("heyuan", "gate-1"), Some(&KeyState::Revoked { generation: 1 }));
        assert!(keys.decide(&revoke).unwrap().is_empty(), "revoking twice journals nothing");
        run(&mut keys, rotate()).unwrap();
        assert_eq!(keys.get("heyuan", "gate-1").map(KeyState::generation), Some(2));
        assert_eq!(keys.get("heyuan", "gate-2"), None, "other devices keep their keys");
    }

    #[test]
    fn only_a_sha256_digest_is_kept() {
        let keys = DeviceKeys::default();
        for digest in ["", "AB".repeat(32).as_str(), "zz".repeat(32).as_str(), "ab".repeat(33).as_str()] {
            let command = KeyCommand::Rotate { community: "heyuan".into(), device: "gate-1".into(), digest: digest.into() };
            assert_eq!(keys.decide(&command), Err(KeyError::BadDigest), "{digest}");
        }
    }
}
