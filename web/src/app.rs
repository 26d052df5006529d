//! What every handler shares: the identity store, the hub, the directory of actors, metrics,
//! tariffs and the notification outbox. `App::in_memory()` builds it on the in-memory journal so
//! routes can be tested in-process.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use hutong_actors::journal::Journal;
use hutong_actors::{Clock, Directory, LiveHub, Metrics};
use hutong_core::community::Community;
use tokio_util::sync::CancellationToken;

use crate::error::ApiError;
use crate::identity::Identity;
use crate::notify::Outbox;
use crate::tariffs::Tariffs;

/// What the HTTP handlers share.
pub struct App {
    pub identity: Arc<Identity>,
    /// Each device's MQTT key: provisioning, rotation, revocation.
    pub keyring: Arc<hutong_device_bridge::keys::Keyring>,
    /// Hutong's own MQTT endpoint, once it listens (not with an external broker): commands to devices.
    pub endpoint: std::sync::OnceLock<Arc<hutong_device_bridge::endpoint::Endpoint>>,
    pub hub: Arc<LiveHub>,
    /// From the hub's outbox to the screens: topics, frames per tick, cached snapshots.
    pub fanout: Arc<crate::fanout::Fanout>,
    pub directory: Arc<Directory>,
    /// The communities this deployment runs and their devices (set once recovered).
    pub registry: std::sync::OnceLock<Arc<hutong_actors::journaled::Shared<hutong_core::registry::Registry>>>,
    pub metrics: Arc<Metrics>,
    pub ready: AtomicBool,
    pub assets: PathBuf,
    pub shutdown: CancellationToken,
    pub tariffs: Tariffs,
    /// Every message to a person (reminders, sign-in codes), journaled and retried.
    pub outbox: Arc<Outbox>,
    /// Wall time as the actors see it (follows tokio's clock, so it pauses in tests).
    pub clock: Clock,
    /// Each community's house index, built on first use.
    pub house_index: std::sync::RwLock<std::collections::HashMap<String, Arc<hutong_core::community::HouseIndex>>>,
    /// The journal itself, for its health (a failed write stops it: `/healthz` says so).
    pub journal: Arc<dyn Journal>,
    /// Served over TLS on our own port (`--tls-cert`): the session cookie is `Secure`.
    pub https: bool,
    /// Where owners reach Hutong (`--public-url`): collection codes and printed notices lead
    /// there; without it, to the address the page itself was asked at.
    pub public_url: Option<String>,
    /// The bearer token `/metrics` asks for; without one, only this machine may scrape it.
    pub metrics_token: Option<String>,
    /// The bearer token the external broker's hooks show (`HUTONG_MQTT_HOOK_TOKEN`); `None`: no hooks.
    pub mqtt_hook_token: Option<String>,
    /// Open WebSockets by session (bounded per session and in all).
    pub sockets: crate::ws::Sockets,
    /// Communities with an import running (one at a time each).
    pub imports: crate::billing::upload::Slots,
    /// Accounts with an export running (one at a time each, two in all).
    pub exports: crate::billing::upload::Slots,
    /// Reverse proxies whose X-Forwarded-For is believed (see [`crate::auth::client_addr`]).
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Photos taken on the job, under the data directory.
    pub photos: crate::photos::PhotoStore,
    /// Owners' online payments: pay desks, the sandbox provider, notification checks.
    pub pay: crate::pay::Payments,
    /// `hutong demo` without an SMS gateway: where its text messages are shown (`/demo/inbox`).
    pub demo_inbox: Option<Arc<crate::notify::DemoInbox>>,
}

impl App {
    /// The app on an in-memory journal with no community yet, for testing routes in-process
    /// (`api::router(App::in_memory().await)` and `tower::ServiceExt::oneshot`).
    pub async fn in_memory() -> anyhow::Result<Arc<App>> {
        let journal: Arc<dyn Journal> = Arc::new(hutong_actors::journal::MemoryJournal::new());
        let outbox = Outbox::open(journal.clone(), Default::default(), hutong_core::outbox::RetryPolicy::default()).await?;
        let identity = Identity::open(journal.clone(), chrono::TimeDelta::hours(12), outbox.clone()).await?;
        let keyring = hutong_device_bridge::keys::Keyring::open(journal.clone(), b"in-memory device secret").await?;
        let metrics = Metrics::new();
        Ok(Arc::new(App {
            identity,
            keyring,
            endpoint: Default::default(),
            hub: LiveHub::new(),
            fanout: crate::fanout::Fanout::new(metrics.clone()),
            directory: Arc::new(Directory::new()),
            registry: std::sync::OnceLock::new(),
            metrics,
            ready: AtomicBool::new(true),
            assets: PathBuf::from("dashboards/dist"),
            shutdown: CancellationToken::new(),
            tariffs: Tariffs::new(journal.clone()),
            outbox,
            clock: Clock::new(),
            house_index: Default::default(),
            trusted_proxies: Vec::new(),
            imports: Default::default(),
            exports: crate::billing::upload::exports(),
            sockets: Default::default(),
            metrics_token: None,
            mqtt_hook_token: None,
            https: false,
            public_url: None,
            journal: journal.clone(),
            photos: crate::photos::PhotoStore::new(&std::env::temp_dir().join(format!("hutong-in-memory-{}", std::process::id()))),
            pay: crate::pay::Payments::new(b"in-memory provider key".to_vec(), journal.clone()),
            demo_inbox: None,
        }))
    }

    /// Refuses while the server is still recovering.
    pub fn ready(&self) -> Result<(), ApiError> {
        if self.ready.load(Ordering::Acquire) { Ok(()) } else { Err(ApiError::NotReady) }
    }

    /// The registry of communities and devices, once recovered.
    pub fn registered(&self) -> Result<&hutong_actors::journaled::Shared<hutong_core::registry::Registry>, ApiError> {
        self.registry.get().map(|r| &**r).ok_or(ApiError::NotReady)
    }

    /// Journals a registry change, then tells the community's actors. A node that does not run
    /// the community has no supervisor for it: its next start reads the registry.
    pub async fn change_registry(&self, command: hutong_core::registry::RegistryCommand, then: hutong_actors::community::CommunityMsg, community: &str) -> Result<(), ApiError> {
        self.registered()?.execute(&command, self.clock.now().timestamp_millis()).await?;
        let _ = self.directory.tell_community(community, then);
        Ok(())
    }

    /// A community this node runs, once it is ready.
    pub fn community(&self, id: &str) -> Result<Arc<Community>, ApiError> {
        self.ready()?;
        self.hub.community(id).ok_or_else(|| ApiError::not_found("小区", "community", id))
    }
}

/// Asks an actor and waits for its answer; no answer in time is "not available".
pub(crate) async fn ask<M: ractor::Message, T: Send + 'static>(actor: &ractor::ActorRef<M>, msg: impl FnOnce(ractor::RpcReplyPort<T>) -> M) -> Result<T, ApiError> {
    match actor.call(msg, Some(std::time::Duration::from_secs(10))).await {
        Ok(ractor::rpc::CallResult::Success(answer)) => Ok(answer),
        _ => Err(ApiError::Unavailable { zh: "服务暂时无法处理请求".into(), en: "not available right now, try again".into() }),
    }
}
