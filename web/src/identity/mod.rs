//! Identity: sign-in, sessions, the organisation, the audit log and device keys. The
//! organisation, sessions and audit log are `core` aggregates (`Org`, `Sessions`, `AuditLog`,
//! each with its `decide`/`apply`) on the actors' journaled runtime (`Shared`, streams `org`,
//! `sessions`, `audit`), so a restart keeps accounts, open sessions, revocations and the audit
//! trail, and two requests racing for one account cannot both pass: each write is decided and
//! journaled under its stream's writer lock. Reads (every request resolves its caller) take a read
//! lock on the folded state and never wait for the journal.

mod limit;

use std::collections::HashMap;
use std::sync::Arc;

use argon2::password_hash::rand_core::{OsRng, RngCore};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use chrono::{DateTime, TimeDelta, Utc};
use hutong_actors::journal::{Journal, JournalError};
use hutong_actors::journaled::{CommitError, Shared, StreamId};
use hutong_core::identity::{AuditLog, OrgCommand, OrgError, Principal, SessionCommand, Sessions, mask_phone};
use hutong_core::{CompanyId, StaffId};
use sha2::{Digest, Sha256};

use crate::notify::Outbox;

pub use hutong_core::identity::{AuditEntry, Org, OrgEvent, SessionSubject, StaffRecord};
pub use limit::LoginLimiter;

#[derive(Debug)]
pub enum LoginError {
    BadCredentials,
    BadCode,
    Locked(DateTime<Utc>),
    Journal(JournalError),
}

hutong_core::bilingual!(LoginError {
    LoginError::BadCredentials => ("账号或密码错误") / ("wrong account or password"),
    LoginError::BadCode => ("验证码错误或已过期") / ("the code is wrong or has expired"),
    LoginError::Locked(until) => ("尝试次数过多，请于 {} 后重试", until.format("%Y-%m-%d %H:%M:%S UTC")) / ("too many attempts, try again at {}", until.format("%Y-%m-%d %H:%M:%S UTC")),
    LoginError::Journal(e) => ("日志存储失败：{e}") / ("the journal failed: {e}"),
});

impl From<JournalError> for LoginError {
    fn from(e: JournalError) -> Self {
        LoginError::Journal(e)
    }
}

/// Sessions and the audit log refuse nothing; only their journal can fail.
fn journal_only<R: std::fmt::Display>(e: CommitError<R>) -> JournalError {
    match e {
        CommitError::Journal(e) => e,
        CommitError::Refused(r) => JournalError::Store(r.to_string()),
    }
}

pub struct Identity {
    org: Shared<Org>,
    sessions: Shared<Sessions>,
    audit: Shared<AuditLog>,
    pub limiter: LoginLimiter,
    codes: std::sync::Mutex<HashMap<String, (String, DateTime<Utc>)>>,
    pub outbox: Arc<Outbox>,
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
    pub async fn open(journal: Arc<dyn Journal>, device_secret: &str, session_ttl: TimeDelta, outbox: Arc<Outbox>) -> Result<Arc<Self>, JournalError> {
        Ok(Arc::new(Identity {
            org: Shared::recover(journal.clone(), StreamId::org(), Org::default).await?,
            sessions: Shared::recover(journal.clone(), StreamId::sessions(), Sessions::default).await?,
            audit: Shared::recover(journal, StreamId::audit(), AuditLog::default).await?,
            limiter: LoginLimiter::default(),
            codes: std::sync::Mutex::new(HashMap::new()),
            outbox,
            device_secret: device_secret.as_bytes().to_vec(),
            session_ttl,
        }))
    }

    pub fn org(&self) -> std::sync::RwLockReadGuard<'_, Org> {
        self.org.read()
    }

    /// Changes the organisation: decided by `core` (a taken account, an unknown role or a
    /// community outside the company is refused) and journaled before anyone can see it.
    pub async fn change(&self, command: OrgCommand) -> Result<Vec<OrgEvent>, CommitError<OrgError>> {
        Ok(self.org.execute(&command, Utc::now().timestamp_millis()).await?.events)
    }

    /// Appends to the audit log; the entry's `seq` is its place in the log.
    pub async fn audit(&self, entry: AuditEntry) -> Result<(), JournalError> {
        let at_ms = entry.at.timestamp_millis();
        self.audit.execute(&entry, at_ms).await.map_err(journal_only)?;
        Ok(())
    }

    /// The audit log of one company, newest first, filtered.
    pub fn audit_log(&self, company: &CompanyId, actor: Option<&str>, action: Option<&str>, limit: usize) -> Vec<AuditEntry> {
        self.audit.read().of_company(company, actor, action).take(limit).cloned().collect()
    }

    async fn start_session(&self, subject: SessionSubject, now: DateTime<Utc>) -> Result<String, JournalError> {
        let token = random_secret(32);
        let token_hash = sha256_hex(&token);
        let expires_at = now + self.session_ttl;
        let command = SessionCommand::Start { token_hash, subject, expires_at, at: now };
        self.sessions.execute(&command, now.timestamp_millis()).await.map_err(journal_only)?;
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
        // Verify against a dummy hash when the account is unknown, so timing does not tell. Argon2
        // is deliberately slow: it runs on the blocking pool, never on the threads that carry the
        // sockets and the actors (review S5).
        const DUMMY: &str = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$6oW0Pv8vYV9nY1b9RcsQ8W2pHkQz3F6nOjWf8cG0Ykg";
        let (password, hash, known) = match &found {
            Some((_, hash)) => (password.to_string(), hash.clone(), true),
            None => (password.to_string(), DUMMY.to_string(), false),
        };
        let verified = tokio::task::spawn_blocking(move || verify_password(&password, &hash)).await.unwrap_or(false);
        let ok = known && verified;
        let signed_in = found.filter(|_| ok).and_then(|(id, _)| self.org().staff_principal(&id).map(|p| (id, p)));
        let Some((id, principal)) = signed_in else {
            self.limiter.fail(&keys, now);
            return Err(LoginError::BadCredentials);
        };
        self.limiter.clear(&keys[0]);
        let token = self.start_session(SessionSubject::Staff { id }, now).await?;
        Ok((token, principal))
    }

    /// Sends a one-time code to an owner's phone through the outbox.
    ///
    /// Every request spends the phone's and the address's budget (a few texts per quarter hour),
    /// whether or not the phone is an owner's, and the answer is the same either way: the
    /// endpoint neither sends unlimited texts nor tells who is an owner (review S4).
    pub async fn send_owner_code(&self, phone: &str, ip: &str, now: DateTime<Utc>) -> Result<(), LoginError> {
        let keys = [format!("sms:{phone}"), format!("ip:{ip}")];
        if let Some(until) = self.limiter.locked_until(&keys, now) {
            return Err(LoginError::Locked(until));
        }
        self.limiter.fail(&keys, now);
        if !self.org().owners.contains_key(phone) {
            return Ok(());
        }
        let code = format!("{:06}", OsRng.next_u32() % 1_000_000);
        self.codes.lock().unwrap_or_else(|e| e.into_inner()).insert(phone.to_string(), (sha256_hex(&code), now + TimeDelta::minutes(5)));
        self.outbox.send_secret(phone, format!("【胡同物业】您的登录验证码是 {code}，5分钟内有效。"));
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
        let subject = self.sessions.read().get(&token_hash, now)?.subject.clone();
        let org = self.org();
        let principal = match &subject {
            SessionSubject::Staff { id } => org.staff_principal(id),
            SessionSubject::Owner { phone } => org.owner_principal(phone),
        }?;
        Some((token_hash, principal))
    }

    /// Whether a session (by token hash) is still open; sockets ask this to close themselves.
    pub fn session_open(&self, token_hash: &str, now: DateTime<Utc>) -> bool {
        let Some(subject) = self.sessions.read().get(token_hash, now).map(|s| s.subject.clone()) else { return false };
        match subject {
            SessionSubject::Staff { id } => self.org().staff_principal(&id).is_some(),
            SessionSubject::Owner { .. } => true,
        }
    }

    pub async fn revoke(&self, token_hash: &str) -> Result<(), JournalError> {
        let command = SessionCommand::Revoke { token_hash: token_hash.to_string() };
        self.sessions.execute(&command, Utc::now().timestamp_millis()).await.map_err(journal_only)?;
        Ok(())
    }

    /// Ends every session of a staff member (account closed), in one append.
    pub async fn revoke_staff(&self, staff: &StaffId) -> Result<(), JournalError> {
        let command = SessionCommand::RevokeStaff { staff: staff.clone() };
        self.sessions.execute(&command, Utc::now().timestamp_millis()).await.map_err(journal_only)?;
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

    async fn test_outbox(journal: &Arc<dyn Journal>) -> Arc<Outbox> {
        Outbox::open(journal.clone(), Default::default(), hutong_core::outbox::RetryPolicy::default()).await.unwrap()
    }

    async fn identity_with_cashier() -> (Arc<Identity>, Arc<dyn Journal>) {
        let journal: Arc<dyn Journal> = Arc::new(MemoryJournal::new());
        let id = Identity::open(journal.clone(), "secret", TimeDelta::hours(12), test_outbox(&journal).await).await.unwrap();
        let company = CompanyId::new("acme");
        id.change(OrgCommand::CreateCompany { company: company.clone(), name: "Acme".into() }).await.unwrap();
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
        id.change(OrgCommand::CreateStaff { staff, password_chars: 13, by: hutong_core::identity::Actor::System }).await.unwrap();
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
        let reopened = Identity::open(journal.clone(), "secret", TimeDelta::hours(12), test_outbox(&journal).await).await.unwrap();
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
