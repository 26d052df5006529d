//! Identity: the organisation, sign-in, sessions, the audit log and device keys — journaled
//! like everything else (`org`, `sessions` and `audit` streams), so a restart keeps accounts,
//! open sessions, revocations and the audit trail.
//!
//! Writes are serialised per stream by a lock held across "journal, then apply" — the same
//! journal-before-state rule the actors follow; reads (every request resolves its caller) take a
//! read lock on the folded state and never wait for the journal.

mod limit;
mod org;
mod outbox;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use argon2::password_hash::rand_core::{OsRng, RngCore};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use chrono::{DateTime, TimeDelta, Utc};
use hutong_actors::journal::{Append, Journal, JournalError};
use hutong_core::identity::{Principal, mask_phone};
use hutong_core::{CompanyId, StaffId};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use limit::LoginLimiter;
pub use org::{Org, OrgEvent, StaffRecord};
pub use outbox::{LogSender, Notification, NotificationSender, Outbox};

/// Who a session belongs to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SessionSubject {
    Staff { id: StaffId },
    Owner { phone: String },
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum SessionEvent {
    Started { token_hash: String, subject: SessionSubject, expires_at: DateTime<Utc> },
    Revoked { token_hash: String },
}

#[derive(Clone, Debug)]
struct Session {
    subject: SessionSubject,
    expires_at: DateTime<Utc>,
}

/// One line of the audit log: who did what to what, when, from where, with before and after.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub seq: u64,
    pub at: DateTime<Utc>,
    pub company: Option<CompanyId>,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub outcome: String,
    #[serde(default)]
    pub ip: Option<String>,
    #[serde(default)]
    pub before: Option<serde_json::Value>,
    #[serde(default)]
    pub after: Option<serde_json::Value>,
}

#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    #[error("账号或密码错误 / wrong account or password")]
    BadCredentials,
    #[error("验证码错误或已过期 / the code is wrong or has expired")]
    BadCode,
    #[error("尝试次数过多，请于 {} 后重试 / too many attempts, try again at {}", .0.format("%Y-%m-%d %H:%M:%S UTC"), .0.format("%Y-%m-%d %H:%M:%S UTC"))]
    Locked(DateTime<Utc>),
    #[error("该手机号未登记为业主 / this phone number is not registered as an owner")]
    UnknownOwner,
    #[error("{0}")]
    Journal(#[from] JournalError),
}

struct Stream<T> {
    name: &'static str,
    head: tokio::sync::Mutex<u64>,
    _t: std::marker::PhantomData<T>,
}

impl<T: Serialize> Stream<T> {
    fn new(name: &'static str, head: u64) -> Self {
        Self { name, head: tokio::sync::Mutex::new(head), _t: std::marker::PhantomData }
    }

    /// Appends under the stream's lock and runs `apply` only once the journal holds the event.
    async fn append<R>(&self, journal: &dyn Journal, event: &T, apply: impl FnOnce(u64) -> R) -> Result<R, JournalError> {
        let mut head = self.head.lock().await;
        let payload = serde_json::to_vec(event).map_err(|e| JournalError::Store(e.to_string()))?;
        let at_ms = Utc::now().timestamp_millis();
        *head = journal.append(Append { stream: self.name.into(), expected: *head, at_ms, payloads: vec![payload] }).await?;
        Ok(apply(*head))
    }
}

pub struct Identity {
    journal: Arc<dyn Journal>,
    org: RwLock<Org>,
    sessions: RwLock<HashMap<String, Session>>,
    audit: RwLock<Vec<AuditEntry>>,
    org_stream: Stream<OrgEvent>,
    session_stream: Stream<SessionEvent>,
    audit_stream: Stream<AuditEntry>,
    pub limiter: LoginLimiter,
    codes: std::sync::Mutex<HashMap<String, (String, DateTime<Utc>)>>,
    pub outbox: Outbox,
    device_secret: Vec<u8>,
    pub session_ttl: TimeDelta,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn sha256_hex(text: &str) -> String {
    hex(&Sha256::digest(text.as_bytes()))
}

pub fn hash_password(password: &str) -> String {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default().hash_password(password.as_bytes(), &salt).map(|h| h.to_string()).unwrap_or_default()
}

fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
}

/// A random secret, for generated demo passwords and keys.
pub fn random_secret(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    OsRng.fill_bytes(&mut buf);
    hex(&buf)
}

impl Identity {
    pub async fn open(journal: Arc<dyn Journal>, device_secret: &str, session_ttl: TimeDelta, outbox: Outbox) -> Result<Arc<Self>, JournalError> {
        let decode = |stream: &str, seq: u64, e: serde_json::Error| JournalError::Store(format!("{stream} record {seq}: {e}"));
        let mut org = Org::default();
        let mut org_head = 0;
        for r in journal.replay("org", 0).await? {
            org.apply(&serde_json::from_slice(&r.payload).map_err(|e| decode("org", r.seq, e))?);
            org_head = r.seq;
        }
        let now = Utc::now();
        let mut sessions = HashMap::new();
        let mut session_head = 0;
        for r in journal.replay("sessions", 0).await? {
            match serde_json::from_slice(&r.payload).map_err(|e| decode("sessions", r.seq, e))? {
                SessionEvent::Started { token_hash, subject, expires_at } if expires_at > now => {
                    sessions.insert(token_hash, Session { subject, expires_at });
                }
                SessionEvent::Started { .. } => {}
                SessionEvent::Revoked { token_hash } => {
                    sessions.remove(&token_hash);
                }
            }
            session_head = r.seq;
        }
        let mut audit = Vec::new();
        for r in journal.replay("audit", 0).await? {
            audit.push(serde_json::from_slice(&r.payload).map_err(|e| decode("audit", r.seq, e))?);
        }
        let audit_head = audit.len() as u64;
        Ok(Arc::new(Identity {
            journal,
            org: RwLock::new(org),
            sessions: RwLock::new(sessions),
            audit: RwLock::new(audit),
            org_stream: Stream::new("org", org_head),
            session_stream: Stream::new("sessions", session_head),
            audit_stream: Stream::new("audit", audit_head),
            limiter: LoginLimiter::default(),
            codes: std::sync::Mutex::new(HashMap::new()),
            outbox,
            device_secret: device_secret.as_bytes().to_vec(),
            session_ttl,
        }))
    }

    pub fn org(&self) -> std::sync::RwLockReadGuard<'_, Org> {
        self.org.read().unwrap_or_else(|e| e.into_inner())
    }

    pub async fn record(&self, event: OrgEvent) -> Result<(), JournalError> {
        self.org_stream
            .append(&*self.journal, &event, |_| self.org.write().unwrap_or_else(|e| e.into_inner()).apply(&event))
            .await
    }

    /// Appends to the audit log; the entry's `seq` is its place in the log.
    pub async fn audit(&self, mut entry: AuditEntry) -> Result<(), JournalError> {
        let mut head = self.audit_stream.head.lock().await;
        entry.seq = *head + 1;
        let payload = serde_json::to_vec(&entry).map_err(|e| JournalError::Store(e.to_string()))?;
        *head = self
            .journal
            .append(Append { stream: "audit".into(), expected: *head, at_ms: entry.at.timestamp_millis(), payloads: vec![payload] })
            .await?;
        self.audit.write().unwrap_or_else(|e| e.into_inner()).push(entry);
        Ok(())
    }

    /// The audit log of one company, newest first, filtered.
    pub fn audit_log(&self, company: &CompanyId, actor: Option<&str>, action: Option<&str>, limit: usize) -> Vec<AuditEntry> {
        let log = self.audit.read().unwrap_or_else(|e| e.into_inner());
        log.iter()
            .rev()
            .filter(|e| e.company.as_ref() == Some(company))
            .filter(|e| actor.is_none_or(|a| e.actor == a))
            .filter(|e| action.is_none_or(|a| e.action.starts_with(a)))
            .take(limit)
            .cloned()
            .collect()
    }

    async fn start_session(&self, subject: SessionSubject, now: DateTime<Utc>) -> Result<String, JournalError> {
        let token = random_secret(32);
        let token_hash = sha256_hex(&token);
        let expires_at = now + self.session_ttl;
        let event = SessionEvent::Started { token_hash: token_hash.clone(), subject: subject.clone(), expires_at };
        self.session_stream
            .append(&*self.journal, &event, |_| {
                self.sessions.write().unwrap_or_else(|e| e.into_inner()).insert(token_hash, Session { subject, expires_at });
            })
            .await?;
        Ok(token)
    }

    /// Signs a staff member in; failures count towards the account's and the address's limit.
    pub async fn login_staff(&self, account: &str, password: &str, ip: &str, now: DateTime<Utc>) -> Result<(String, Principal), LoginError> {
        let keys = [format!("account:{account}"), format!("ip:{ip}")];
        if let Some(until) = self.limiter.locked_until(&keys, now) {
            return Err(LoginError::Locked(until));
        }
        let found = {
            let org = self.org();
            org.accounts.get(account).and_then(|id| org.staff.get(id)).map(|s| (s.id.clone(), s.password_hash.clone()))
        };
        // Verify against a dummy hash when the account is unknown, so timing does not tell.
        let ok = match &found {
            Some((_, hash)) => verify_password(password, hash),
            None => {
                let _ = verify_password(password, "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$6oW0Pv8vYV9nY1b9RcsQ8W2pHkQz3F6nOjWf8cG0Ykg");
                false
            }
        };
        let principal = found.as_ref().filter(|_| ok).and_then(|(id, _)| self.org().staff_principal(id));
        let Some(principal) = principal else {
            self.limiter.fail(&keys, now);
            return Err(LoginError::BadCredentials);
        };
        self.limiter.clear(&keys[0]);
        let id = found.map(|(id, _)| id).expect("found when principal is");
        let token = self.start_session(SessionSubject::Staff { id }, now).await?;
        Ok((token, principal))
    }

    /// Sends a one-time code to an owner's phone through the outbox.
    pub async fn send_owner_code(&self, phone: &str, ip: &str, now: DateTime<Utc>) -> Result<(), LoginError> {
        let keys = [format!("phone:{phone}"), format!("ip:{ip}")];
        if let Some(until) = self.limiter.locked_until(&keys, now) {
            return Err(LoginError::Locked(until));
        }
        if !self.org().owners.contains_key(phone) {
            self.limiter.fail(&keys, now);
            return Err(LoginError::UnknownOwner);
        }
        let code = format!("{:06}", OsRng.next_u32() % 1_000_000);
        self.codes.lock().unwrap_or_else(|e| e.into_inner()).insert(phone.to_string(), (sha256_hex(&code), now + TimeDelta::minutes(5)));
        self.outbox.send(Notification::sms(phone, format!("【胡同物业】您的登录验证码是 {code}，5分钟内有效。")));
        Ok(())
    }

    pub async fn login_owner(&self, phone: &str, code: &str, ip: &str, now: DateTime<Utc>) -> Result<(String, Principal), LoginError> {
        let keys = [format!("phone:{phone}"), format!("ip:{ip}")];
        if let Some(until) = self.limiter.locked_until(&keys, now) {
            return Err(LoginError::Locked(until));
        }
        let valid = {
            let mut codes = self.codes.lock().unwrap_or_else(|e| e.into_inner());
            match codes.get(phone) {
                Some((hash, expires)) if *expires > now && *hash == sha256_hex(code) => codes.remove(phone).is_some(),
                _ => false,
            }
        };
        let principal = if valid { self.org().owner_principal(phone) } else { None };
        let Some(principal) = principal else {
            self.limiter.fail(&keys, now);
            return Err(LoginError::BadCode);
        };
        let token = self.start_session(SessionSubject::Owner { phone: phone.to_string() }, now).await?;
        Ok((token, principal))
    }

    /// The caller behind a bearer token, while the session is open and the account is.
    pub fn principal(&self, token: &str, now: DateTime<Utc>) -> Option<(String, Principal)> {
        let token_hash = sha256_hex(token);
        let subject = {
            let sessions = self.sessions.read().unwrap_or_else(|e| e.into_inner());
            let s = sessions.get(&token_hash).filter(|s| s.expires_at > now)?;
            s.subject.clone()
        };
        let org = self.org();
        let principal = match &subject {
            SessionSubject::Staff { id } => org.staff_principal(id),
            SessionSubject::Owner { phone } => org.owner_principal(phone),
        }?;
        Some((token_hash, principal))
    }

    /// Whether a session (by token hash) is still open; sockets ask this to close themselves.
    pub fn session_open(&self, token_hash: &str, now: DateTime<Utc>) -> bool {
        let subject = {
            let sessions = self.sessions.read().unwrap_or_else(|e| e.into_inner());
            match sessions.get(token_hash) {
                Some(s) if s.expires_at > now => s.subject.clone(),
                _ => return false,
            }
        };
        match subject {
            SessionSubject::Staff { id } => self.org().staff_principal(&id).is_some(),
            SessionSubject::Owner { .. } => true,
        }
    }

    pub async fn revoke(&self, token_hash: &str) -> Result<(), JournalError> {
        let event = SessionEvent::Revoked { token_hash: token_hash.to_string() };
        self.session_stream
            .append(&*self.journal, &event, |_| {
                self.sessions.write().unwrap_or_else(|e| e.into_inner()).remove(token_hash);
            })
            .await
    }

    /// Ends every session of a staff member (account closed).
    pub async fn revoke_staff(&self, staff: &StaffId) -> Result<(), JournalError> {
        let hashes: Vec<String> = {
            let sessions = self.sessions.read().unwrap_or_else(|e| e.into_inner());
            sessions.iter().filter(|(_, s)| s.subject == SessionSubject::Staff { id: staff.clone() }).map(|(h, _)| h.clone()).collect()
        };
        for h in hashes {
            self.revoke(&h).await?;
        }
        Ok(())
    }

    /// The key a device puts in its payloads: HMAC-SHA256 of `community/device` under the
    /// deployment's device secret, so a device can speak only for itself.
    pub fn device_key(&self, community: &str, device: &str) -> String {
        hutong_device_bridge::codec::device_key(&self.device_secret, community, device)
    }
}

/// A phone as it may be logged.
pub fn loggable_phone(phone: &str) -> String {
    mask_phone(phone)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hutong_actors::journal::MemoryJournal;
    use hutong_core::identity::{BuiltinRole, Scope};

    async fn identity_with_cashier() -> (Arc<Identity>, Arc<dyn Journal>) {
        let journal: Arc<dyn Journal> = Arc::new(MemoryJournal::new());
        let id = Identity::open(journal.clone(), "secret", TimeDelta::hours(12), Outbox::new(Box::new(LogSender))).await.unwrap();
        let company = CompanyId::new("acme");
        id.record(OrgEvent::CompanyCreated { company: company.clone(), name: "Acme".into() }).await.unwrap();
        let staff = StaffRecord {
            id: StaffId::new("acme-cashier"),
            company,
            account: "cashier".into(),
            name: "王芳".into(),
            phone: "13800000003".into(),
            department: None,
            post: None,
            roles: vec![BuiltinRole::Cashier.id()],
            scope: Scope::default(),
            disabled: false,
            password_hash: hash_password("correct horse"),
        };
        id.record(OrgEvent::StaffCreated { staff }).await.unwrap();
        (id, journal)
    }

    #[tokio::test]
    async fn a_session_expires_after_its_time_to_live() {
        let (id, _) = identity_with_cashier().await;
        let t0 = Utc::now();
        let (token, _) = id.login_staff("cashier", "correct horse", "127.0.0.1", t0).await.unwrap();
        assert!(id.principal(&token, t0 + TimeDelta::hours(11)).is_some());
        assert!(id.principal(&token, t0 + TimeDelta::hours(12) + TimeDelta::seconds(1)).is_none());
    }

    #[tokio::test]
    async fn sessions_and_their_revocation_survive_a_restart() {
        let (id, journal) = identity_with_cashier().await;
        let now = Utc::now();
        let (kept, _) = id.login_staff("cashier", "correct horse", "127.0.0.1", now).await.unwrap();
        let (revoked, _) = id.login_staff("cashier", "correct horse", "127.0.0.1", now).await.unwrap();
        let (hash, _) = id.principal(&revoked, now).unwrap();
        id.revoke(&hash).await.unwrap();
        let reopened = Identity::open(journal, "secret", TimeDelta::hours(12), Outbox::new(Box::new(LogSender))).await.unwrap();
        assert!(reopened.principal(&kept, now).is_some());
        assert!(reopened.principal(&revoked, now).is_none());
        assert!(reopened.org().staff.contains_key("acme-cashier"));
    }

    #[tokio::test]
    async fn a_wrong_password_says_nothing_about_whether_the_account_exists() {
        let (id, _) = identity_with_cashier().await;
        let now = Utc::now();
        let a = id.login_staff("cashier", "wrong", "10.0.0.1", now).await.unwrap_err().to_string();
        let b = id.login_staff("nobody", "wrong", "10.0.0.2", now).await.unwrap_err().to_string();
        assert_eq!(a, b);
        assert!(hash_password("x").starts_with("$argon2id$"));
    }
}
