//! Identity: sign-in, sessions, the organisation, the audit log and device keys. The
//! organisation, sessions and audit log are `core` aggregates (`Org`, `Sessions`, `AuditLog`,
//! each with its `decide`/`apply`) on the actors' journaled runtime (`Shared`, streams `org`,
//! `sessions`, `audit`), so a restart keeps accounts, open sessions, revocations and the audit
//! trail, and two requests racing for one account cannot both pass: each write is decided and
//! journaled under its stream's writer lock. Reads (every request resolves its caller) take a read
//! lock on the folded state and never wait for the journal.

pub mod limit;

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
pub use limit::{Key, LoginLimiter};

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

/// Why a password change was refused.
#[derive(Debug)]
pub enum PasswordError {
    Wrong,
    Login(LoginError),
    Org(CommitError<OrgError>),
}

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
    /// Each company's audit log, opened when it is first written (its state is its last seq).
    audits: tokio::sync::Mutex<HashMap<Option<CompanyId>, Arc<Shared<AuditLog>>>>,
    journal: Arc<dyn Journal>,
    pub limiter: LoginLimiter,
    codes: std::sync::Mutex<HashMap<String, (String, DateTime<Utc>)>>,
    /// Pairing codes of wall displays, by their hash: the display and when the code lapses.
    /// Kept in memory only: a restart forgets an unused code, and the office issues another.
    pairings: std::sync::Mutex<HashMap<String, (StaffId, DateTime<Utc>)>>,
    pub outbox: Arc<Outbox>,
    pub session_ttl: TimeDelta,
    /// Set when other nodes write the same store (see [`Identity::follow`]).
    following: std::sync::atomic::AtomicBool,
    verifier: Verifier,
    /// Who is told when access changes: open sockets wait on it instead of asking every second.
    pub access: AccessWatch,
}

/// Tells open sockets that access changed, so each checks its caller again at once: every socket
/// when the organisation changed (a role, a scope, an account) or a staff member's sessions all
/// ended; only a session's own sockets when that session ended.
pub struct AccessWatch {
    everyone: tokio::sync::watch::Sender<u64>,
    sessions: std::sync::Mutex<HashMap<String, tokio::sync::watch::Sender<u64>>>,
}

/// What one socket waits on: a change for everyone, or for its session.
pub struct AccessWatcher {
    everyone: tokio::sync::watch::Receiver<u64>,
    session: tokio::sync::watch::Receiver<u64>,
}

impl AccessWatcher {
    /// Returns (the watcher, to wait again) when access may have changed for this socket's caller.
    /// It takes the watcher so a socket can keep one waiting future across its loop: a future
    /// made anew per loop would join and leave the watch's waiter list (a lock 10,000 sockets
    /// share) on every frame.
    pub async fn changed(mut self) -> Self {
        // A sender gone (the server stopping) wakes too; the caller then finds its session gone.
        tokio::select! {
            _ = self.everyone.changed() => {}
            _ = self.session.changed() => {}
        }
        self
    }
}

impl Default for AccessWatch {
    fn default() -> Self {
        Self { everyone: tokio::sync::watch::Sender::new(0), sessions: Default::default() }
    }
}

impl AccessWatch {
    /// Watches for a session's sockets (`session` is the token's hash).
    pub fn watch(&self, session: &str) -> AccessWatcher {
        let mut sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        let session = sessions.entry(session.to_string()).or_insert_with(|| tokio::sync::watch::Sender::new(0)).subscribe();
        AccessWatcher { everyone: self.everyone.subscribe(), session }
    }

    /// A session's last socket closed: nothing of it is kept.
    pub fn release(&self, session: &str) {
        let mut sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        if sessions.get(session).is_some_and(|s| s.receiver_count() == 0) {
            sessions.remove(session);
        }
    }

    fn everyone_changed(&self) {
        self.everyone.send_modify(|n| *n += 1);
    }

    fn session_ended(&self, session: &str) {
        if let Some(sender) = self.sessions.lock().unwrap_or_else(|e| e.into_inner()).get(session) {
            sender.send_modify(|n| *n += 1);
        }
    }
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

type Check = (String, String, tokio::sync::oneshot::Sender<bool>);

/// Where passwords are checked. Argon2 is slow and takes 19 MiB a run by design, so it runs on
/// two threads of its own: a flood of sign-ins queues here (bounded) instead of occupying the
/// threads that carry sockets and actors (review S5), and memory holds two runs' worth, not one
/// per blocking thread the flood would otherwise spawn (V2).
struct Verifier {
    queue: tokio::sync::mpsc::Sender<Check>,
}

impl Verifier {
    const THREADS: usize = 2;

    fn start() -> Verifier {
        let (queue, rx) = tokio::sync::mpsc::channel::<Check>(256);
        let rx = Arc::new(std::sync::Mutex::new(rx));
        for n in 0..Self::THREADS {
            let rx = rx.clone();
            let spawned = std::thread::Builder::new().name(format!("hutong-argon2-{n}")).spawn(move || {
                loop {
                    let next = rx.lock().unwrap_or_else(|e| e.into_inner()).blocking_recv();
                    let Some((password, hash, reply)) = next else { return };
                    let _ = reply.send(verify_password(&password, &hash));
                }
            });
            if let Err(e) = spawned {
                tracing::error!(error = %e, "could not start a password thread");
            }
        }
        Verifier { queue }
    }

    async fn verify(&self, password: String, hash: String) -> bool {
        let (reply, answer) = tokio::sync::oneshot::channel();
        if self.queue.send((password, hash, reply)).await.is_err() {
            return false;
        }
        answer.await.unwrap_or(false)
    }
}

/// How long a display's pairing code waits to be typed on the display.
pub const PAIRING_TTL: TimeDelta = TimeDelta::minutes(15);
pub const PAIRING_CODE_LEN: usize = 8;
/// How long a paired display stays signed in: it runs for months with no keyboard; closing its
/// account ends it at once.
pub const DISPLAY_SESSION_TTL: TimeDelta = TimeDelta::days(365);

/// A random secret, for generated demo passwords and keys.
pub fn random_secret(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    OsRng.fill_bytes(&mut buf);
    hex(&buf)
}

impl Identity {
    pub async fn open(journal: Arc<dyn Journal>, session_ttl: TimeDelta, outbox: Arc<Outbox>) -> Result<Arc<Self>, JournalError> {
        Ok(Arc::new(Identity {
            org: Shared::recover(journal.clone(), StreamId::org(), Org::default).await?,
            sessions: Shared::recover(journal.clone(), StreamId::sessions(), Sessions::default).await?,
            audits: Default::default(),
            journal,
            limiter: LoginLimiter::default(),
            codes: std::sync::Mutex::new(HashMap::new()),
            pairings: std::sync::Mutex::new(HashMap::new()),
            outbox,
            session_ttl,
            following: Default::default(),
            verifier: Verifier::start(),
            access: AccessWatch::default(),
        }))
    }

    /// On a store other nodes write too: folds in their sign-ins, revocations and organisation
    /// changes every `every`, so a session revoked or an account closed on one node is refused on
    /// this one within that time (review R2). Writes need no help: a conflicting append folds in
    /// the other node's events and decides again.
    pub fn follow(self: &Arc<Self>, every: std::time::Duration, shutdown: tokio_util::sync::CancellationToken) {
        self.following.store(true, std::sync::atomic::Ordering::Release);
        let me = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! { _ = shutdown.cancelled() => return, _ = tick.tick() => {} }
                if let Err(e) = me.catch_up().await {
                    tracing::warn!(error = %e, "could not follow the other nodes' sign-ins; retrying");
                }
            }
        });
    }

    /// Folds in what other nodes wrote to the organisation and the sessions.
    pub async fn catch_up(&self) -> Result<(), JournalError> {
        let folded = self.org.catch_up().await? + self.sessions.catch_up().await?;
        if folded > 0 {
            // Another node's change may be a revocation: every socket checks its caller again.
            self.access.everyone_changed();
        }
        Ok(())
    }

    /// The caller behind a token; on a shared store, a token this node has not seen yet (signed
    /// in on another node a moment ago) is looked up once more after folding in the others' writes.
    pub async fn principal_now(&self, token: &str, now: DateTime<Utc>) -> Option<(String, Principal)> {
        if let Some(found) = self.principal(token, now) {
            return Some(found);
        }
        if !self.following.load(std::sync::atomic::Ordering::Acquire) {
            return None;
        }
        self.sessions.catch_up().await.ok()?;
        self.principal(token, now)
    }

    pub fn org(&self) -> std::sync::RwLockReadGuard<'_, Org> {
        self.org.read()
    }

    /// Changes the organisation: decided by `core` (a taken account, an unknown role or a
    /// community outside the company is refused) and journaled before anyone can see it.
    pub async fn change(&self, command: OrgCommand) -> Result<Vec<OrgEvent>, CommitError<OrgError>> {
        let events = self.org.execute(&command, Utc::now().timestamp_millis()).await?.events;
        self.access.everyone_changed();
        Ok(events)
    }

    /// Appends to the company's audit log; the entry's `seq` is its place in that log.
    pub async fn audit(&self, entry: AuditEntry) -> Result<(), JournalError> {
        let at_ms = entry.at.timestamp_millis();
        let log = {
            let mut audits = self.audits.lock().await;
            match audits.get(&entry.company) {
                Some(log) => log.clone(),
                None => {
                    let stream = StreamId::audit(entry.company.as_ref());
                    let log = Arc::new(Shared::recover(self.journal.clone(), stream, AuditLog::default).await?);
                    audits.insert(entry.company.clone(), log.clone());
                    log
                }
            }
        };
        log.execute(&entry, at_ms).await.map_err(journal_only)?;
        Ok(())
    }

    /// A page of one company's audit log, newest first: entries before `before` (a seq; from the
    /// newest without it) matching the filters, at most `limit`. Read from the journal a few
    /// hundred entries at a time and never more than `AUDIT_SCAN` per request, so neither the
    /// log's size nor a rare filter makes a request hold much.
    pub async fn audit_page(&self, company: &CompanyId, actor: Option<&str>, action: Option<&str>, limit: usize, before: Option<u64>) -> Result<Vec<AuditEntry>, JournalError> {
        const PAGE: u64 = 200;
        const AUDIT_SCAN: usize = 20_000;
        let stream = StreamId::audit(Some(company));
        let head = self.journal.head(stream.as_str()).await?;
        let mut upper = before.map_or(head, |b| b.saturating_sub(1).min(head));
        let (mut found, mut scanned) = (Vec::new(), 0);
        while upper > 0 && found.len() < limit && scanned < AUDIT_SCAN {
            let from = upper.saturating_sub(PAGE);
            let page = self.journal.replay_page(stream.as_str(), from, (upper - from) as usize).await?;
            scanned += page.len();
            let entries = page.iter().rev().filter_map(|r| serde_json::from_slice::<AuditEntry>(&r.payload).ok());
            found.extend(entries.filter(|e| e.matches(actor, action)).take(limit - found.len()));
            upper = from;
        }
        Ok(found)
    }

    async fn start_session(&self, subject: SessionSubject, now: DateTime<Utc>) -> Result<String, JournalError> {
        self.start_session_for(subject, now, self.session_ttl).await
    }

    async fn start_session_for(&self, subject: SessionSubject, now: DateTime<Utc>, ttl: TimeDelta) -> Result<String, JournalError> {
        let token = random_secret(32);
        let token_hash = sha256_hex(&token);
        let expires_at = now + ttl;
        let command = SessionCommand::Start { token_hash, subject, expires_at, at: now };
        self.sessions.execute(&command, now.timestamp_millis()).await.map_err(journal_only)?;
        Ok(token)
    }

    /// A new pairing code for a wall display (the only one that works for it from now on):
    /// eight characters from an alphabet without look-alikes, shown once, never logged.
    pub fn issue_pairing(&self, display: &StaffId, now: DateTime<Utc>) -> (String, DateTime<Utc>) {
        const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
        let code: String = (0..PAIRING_CODE_LEN).map(|_| ALPHABET[(OsRng.next_u32() % ALPHABET.len() as u32) as usize] as char).collect();
        let expires_at = now + PAIRING_TTL;
        let mut pairings = self.pairings.lock().unwrap_or_else(|e| e.into_inner());
        pairings.retain(|_, (d, until)| d != display && *until > now);
        pairings.insert(sha256_hex(&code), (display.clone(), expires_at));
        (code, expires_at)
    }

    /// A wall display typed its pairing code: a long-lived session for it (ended by closing the
    /// display's account). Failures count towards the address's limit only — a stranger's
    /// guesses cannot lock a display out.
    pub async fn pair_display(&self, code: &str, ip: &str, now: DateTime<Utc>) -> Result<(String, Principal), LoginError> {
        let keys = [Key::Address(ip.to_string())];
        if let Some(until) = self.limiter.locked_until(&keys, now) {
            return Err(LoginError::Locked(until));
        }
        let typed: String = code.chars().filter(|c| c.is_ascii_alphanumeric()).map(|c| c.to_ascii_uppercase()).collect();
        let found = self.pairings.lock().unwrap_or_else(|e| e.into_inner()).remove(&sha256_hex(&typed)).filter(|(_, until)| *until > now);
        let signed_in = found.and_then(|(id, _)| self.org().staff_principal(&id).map(|p| (id, p)));
        let Some((id, principal)) = signed_in else {
            self.limiter.fail(&keys, now);
            return Err(LoginError::BadCode);
        };
        let token = self.start_session_for(SessionSubject::Staff { id }, now, DISPLAY_SESSION_TTL).await?;
        Ok((token, principal))
    }

    /// Signs a staff member in; failures count towards the account's and the address's limit.
    pub async fn login_staff(&self, account: &str, password: &str, ip: &str, now: DateTime<Utc>) -> Result<(String, Principal), LoginError> {
        let keys = self.limiter.staff_keys(account, ip);
        if let Some(until) = self.limiter.locked_until(&keys, now) {
            return Err(LoginError::Locked(until));
        }
        let found = {
            let org = self.org();
            org.accounts.get(account).and_then(|id| org.staff.get(id)).map(|s| (s.id.clone(), s.password_hash.clone()))
        };
        // Verify against a dummy hash when the account is unknown, so timing does not tell.
        const DUMMY: &str = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$6oW0Pv8vYV9nY1b9RcsQ8W2pHkQz3F6nOjWf8cG0Ykg";
        let (password, hash, known) = match &found {
            Some((_, hash)) => (password.to_string(), hash.clone(), true),
            None => (password.to_string(), DUMMY.to_string(), false),
        };
        let verified = self.verifier.verify(password, hash).await;
        let ok = known && verified;
        let signed_in = found.filter(|_| ok).and_then(|(id, _)| self.org().staff_principal(&id).map(|p| (id, p)));
        let Some((id, principal)) = signed_in else {
            self.limiter.fail(&keys, now);
            return Err(LoginError::BadCredentials);
        };
        self.limiter.succeeded(account, ip);
        let token = self.start_session(SessionSubject::Staff { id }, now).await?;
        Ok((token, principal))
    }

    /// A staff member's own password change: the current one checked (failures count towards the
    /// same limits as sign-in), the new one set, and every session of theirs ended — whoever
    /// held one with the old password holds nothing now.
    pub async fn change_own_password(&self, staff: &StaffId, current: &str, new: &str, ip: &str, now: DateTime<Utc>) -> Result<(), PasswordError> {
        let (account, hash) = {
            let org = self.org();
            let s = org.staff.get(staff).ok_or(PasswordError::Wrong)?;
            (s.account.clone(), s.password_hash.clone())
        };
        let keys = self.limiter.staff_keys(&account, ip);
        if let Some(until) = self.limiter.locked_until(&keys, now) {
            return Err(PasswordError::Login(LoginError::Locked(until)));
        }
        if !self.verifier.verify(current.to_string(), hash).await {
            self.limiter.fail(&keys, now);
            return Err(PasswordError::Wrong);
        }
        let chars = new.chars().count();
        let new = new.to_string();
        let password_hash = tokio::task::spawn_blocking(move || hash_password(&new)).await.unwrap_or_default();
        let command = OrgCommand::ChangePassword { staff: staff.clone(), password_hash, password_chars: chars, by: None };
        self.change(command).await.map_err(PasswordError::Org)?;
        self.revoke_staff(staff).await.map_err(|e| PasswordError::Login(LoginError::Journal(e)))?;
        Ok(())
    }

    /// Sends a one-time code to an owner's phone through the outbox.
    ///
    /// Every request spends the phone's and the address's budget (a few texts per quarter hour),
    /// whether or not the phone is an owner's, and the answer is the same either way: the
    /// endpoint neither sends unlimited texts nor tells who is an owner (review S4).
    pub async fn send_owner_code(&self, phone: &str, ip: &str, now: DateTime<Utc>) -> Result<(), LoginError> {
        let keys = [Key::Texts(phone.into()), Key::Address(ip.into())];
        if let Some(until) = self.limiter.locked_until(&keys, now) {
            return Err(LoginError::Locked(until));
        }
        self.limiter.fail(&keys, now);
        if !self.org().owners.contains_key(phone) {
            return Ok(());
        }
        let code = format!("{:06}", OsRng.next_u32() % 1_000_000);
        {
            let mut codes = self.codes.lock().unwrap_or_else(|e| e.into_inner());
            // Only owners' phones get codes, and expired ones leave here: the map stays small.
            codes.retain(|_, (_, expires)| *expires > now);
            codes.insert(phone.to_string(), (sha256_hex(&code), now + TimeDelta::minutes(5)));
        }
        self.outbox.send_secret(phone, format!("【胡同物业】您的登录验证码是 {code}，5分钟内有效。"));
        Ok(())
    }

    pub async fn login_owner(&self, phone: &str, code: &str, ip: &str, now: DateTime<Utc>) -> Result<(String, Principal), LoginError> {
        let keys = [Key::AccountAt(format!("owner:{phone}"), ip.into()), Key::Account(format!("owner:{phone}")), Key::Address(ip.into())];
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
        self.limiter.succeeded(&format!("owner:{phone}"), ip);
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

    /// The caller of an open session (by token hash) as they are now — roles and scope as last
    /// changed; `None` once it ended or the account closed. Open sockets ask it every second.
    /// When a session lapses by itself (a socket closes then, unasked).
    pub fn session_expires(&self, token_hash: &str, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.sessions.read().get(token_hash, now).map(|s| s.expires_at)
    }

    pub fn principal_of_session(&self, token_hash: &str, now: DateTime<Utc>) -> Option<Principal> {
        let subject = self.sessions.read().get(token_hash, now)?.subject.clone();
        let org = self.org();
        match &subject {
            SessionSubject::Staff { id } => org.staff_principal(id),
            SessionSubject::Owner { phone } => org.owner_principal(phone),
        }
    }

    pub async fn revoke(&self, token_hash: &str) -> Result<(), JournalError> {
        let command = SessionCommand::Revoke { token_hash: token_hash.to_string() };
        self.sessions.execute(&command, Utc::now().timestamp_millis()).await.map_err(journal_only)?;
        self.access.session_ended(token_hash);
        Ok(())
    }

    /// Ends every session of a staff member (account closed), in one append.
    pub async fn revoke_staff(&self, staff: &StaffId) -> Result<(), JournalError> {
        let command = SessionCommand::RevokeStaff { staff: staff.clone() };
        self.sessions.execute(&command, Utc::now().timestamp_millis()).await.map_err(journal_only)?;
        self.access.everyone_changed();
        Ok(())
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
        let id = Identity::open(journal.clone(), TimeDelta::hours(12), test_outbox(&journal).await).await.unwrap();
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
        let reopened = Identity::open(journal.clone(), TimeDelta::hours(12), test_outbox(&journal).await).await.unwrap();
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
