//! Start-up and shutdown. HTTP comes up first so `/healthz` can say "recovering"; then every
//! registered community recovers from the journal, then the MQTT endpoint opens (or ingest
//! subscribes to the external broker), and only then is the server ready.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Context;
use hutong_actors::community::{self, CommunityArgs, CommunityMsg};
use ractor::ActorRef;
use hutong_actors::journal::{Journal, LogJournal, LogOptions, ScyllaJournal, SqliteJournal, SqliteOptions};
use hutong_actors::{Clock, Directory, LiveHub, Metrics};
use hutong_core::ids::DeviceId;
use hutong_device_bridge::ingest::{self, IngestOptions};
use hutong_device_bridge::simulator::{self, SimulatorOptions};
use hutong_device_bridge::endpoint::{Endpoint, EndpointOptions};
use hutong_device_bridge::keys::Keyring;
use hutong_device_bridge::url::BrokerAddress;
use tokio_util::sync::CancellationToken;

use crate::app::App;
use crate::config::{Broker, Config, Store};
use crate::identity::{Identity, StaffRecord, hash_password, random_secret};
use crate::notify::{Gateways, Outbox};
use hutong_actors::journaled::CommitError;
use hutong_core::identity::{Actor, OrgCommand, OrgError};
use hutong_core::identity::{BuiltinRole, Scope};
use hutong_core::{CommunityId, CompanyId, HouseId, StaffId};
use hutong_actors::journaled::{Shared, StreamId};
use hutong_core::fee::Tariff;
use hutong_core::registry::{CommunityRegistered, Registry, RegistryCommand};

/// What `hutong demo` adds to `serve`.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// Messages per second the simulator publishes; 0 runs no simulator.
    pub simulate_rate: u32,
    /// Password of every demo account; generated (and kept in the data directory) when absent.
    pub password: Option<String>,
    /// Print the demo sign-ins on start (the benchmark does not).
    pub print_sign_ins: bool,
}

/// What the kernel may hold of a connection's unsent bytes (Linux doubles it for its own use).
/// Small enough that a client that stops reading stalls our writes to it early — a screen is
/// then resynced or dropped (see `ws`) — instead of piling megabytes per socket in the kernel
/// across 10,000 screens; large enough for an export at a few MB/s over a slow link.
const SEND_BUFFER: usize = 64 * 1024;

/// Every accepted connection: no Nagle delay (a screen's frame leaves when it is written, not
/// after the client's delayed ACK), and a bounded send buffer.
pub fn tune_connection(tcp: &tokio::net::TcpStream) {
    let _ = tcp.set_nodelay(true);
    let _ = socket2::SockRef::from(tcp).set_send_buffer_size(SEND_BUFFER);
}

/// Sign-ins the demo creates, printed on start.
pub const DEMO_ACCOUNTS: &[(&str, BuiltinRole, &str)] = &[
    ("admin", BuiltinRole::Admin, "荷花苑 + 莲园"),
    ("manager", BuiltinRole::Manager, "荷花苑 + 莲园"),
    ("cashier", BuiltinRole::Cashier, "荷花苑"),
    ("finance", BuiltinRole::Finance, "荷花苑 + 莲园"),
    ("control", BuiltinRole::ControlRoom, "荷花苑"),
    ("guard", BuiltinRole::PatrolGuard, "荷花苑"),
    ("repair", BuiltinRole::Maintenance, "荷花苑"),
    ("butler", BuiltinRole::Butler, "荷花苑 1号楼"),
    ("meiyuan-admin", BuiltinRole::Admin, "梅园 (another company)"),
];
pub const DEMO_OWNER_PHONE: &str = "13898424613";

/// The device the demo keeps silent so the wall shows an offline alarm.
pub const DEMO_SILENT_DEVICE: &str = "gate-4";

/// Where the server's own MQTT clients connect, as the service user on Hutong's own endpoint.
fn broker_address(config: &Config, keyring: &Keyring) -> BrokerAddress {
    match &config.broker {
        Broker::Embedded(addr) => BrokerAddress {
            host: addr.ip().to_string(),
            port: addr.port(),
            credentials: Some((hutong_device_bridge::codec::SERVICE_USER.to_string(), keyring.service_password())),
        },
        Broker::External(a) => a.clone(),
    }
}

/// This machine's name, for a client id that stays the same across restarts.
fn node_name() -> String {
    let name = std::fs::read_to_string("/etc/hostname").unwrap_or_default();
    let name: String = name.trim().chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-').take(40).collect();
    if name.is_empty() { "node".into() } else { name }
}

/// Folds in device keys rotated or revoked on other nodes every `every`.
fn follow_keys(keyring: Arc<Keyring>, every: std::time::Duration, shutdown: CancellationToken) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! { _ = shutdown.cancelled() => return, _ = tick.tick() => {} }
            if let Err(e) = keyring.catch_up().await {
                tracing::warn!(error = %e, "could not follow the other nodes' device keys; retrying");
            }
        }
    });
}

/// Runs the server until `shutdown` is cancelled. Returns the HTTP address once ready, via `on_ready`.
pub async fn run(config: Config, demo: Option<DemoOptions>, shutdown: CancellationToken, on_ready: impl FnOnce(SocketAddr)) -> anyhow::Result<()> {
    let journal = open_journal(&config).await?;
    // Operators' skip marks first: every stream below recovers with them.
    hutong_actors::quarantine::load(&journal).await?;
    let (device_secret, demo_password) = secrets(&config, demo.as_ref())?;
    // Messages queued before a restart go out now, before anything else is recovered.
    let demo_inbox = demo.as_ref().filter(|_| config.sms_webhook.is_none()).map(|_| Arc::new(crate::notify::DemoInbox::default()));
    let gateways = Gateways { webhook: config.reminder_webhook.clone(), sms: config.sms_webhook.clone(), demo_inbox: demo_inbox.clone() };
    let outbox = Outbox::open(journal.clone(), gateways, hutong_core::outbox::RetryPolicy::default()).await?;
    let identity = Identity::open(journal.clone(), chrono::TimeDelta::hours(i64::from(config.session_hours)), outbox.clone()).await?;
    let keyring = Keyring::open(journal.clone(), device_secret.as_bytes()).await?;
    if matches!(config.store, Store::Scylla(_)) {
        // Other nodes sign people in and out, and rotate device keys, on the same store.
        identity.follow(std::time::Duration::from_millis(250), shutdown.clone());
        follow_keys(keyring.clone(), std::time::Duration::from_millis(250), shutdown.clone());
    }
    let metrics = Metrics::new();
    metrics.describe("hutong_ws_clients", "WebSocket clients connected, by feed and client (staff, display, owner)");
    metrics.describe("hutong_sign_ins_total", "Sign-in attempts by outcome (ok, failed, locked, too_long); only attempts on real accounts are audited");
    metrics.describe("hutong_quarantined_streams", "Journal streams holding a record that cannot be applied (writes refused; see hutong journal inspect)");
    metrics.describe("hutong_stream_quarantined_at", "The seq of the record that stopped a quarantined stream");
    let hub = LiveHub::new();
    let fanout = crate::fanout::Fanout::new(metrics.clone());
    tokio::spawn(fanout.clone().run(hub.clone(), shutdown.clone()));
    let app = Arc::new(App {
        identity: identity.clone(),
        keyring: keyring.clone(),
        endpoint: Default::default(),
        hub,
        fanout,
        directory: Arc::new(Directory::new()),
        registry: std::sync::OnceLock::new(),
        metrics: metrics.clone(),
        ready: AtomicBool::new(false),
        assets: config.assets.clone(),
        shutdown: shutdown.clone(),
        tariffs: crate::tariffs::Tariffs::new(journal.clone()),
        outbox,
        clock: Clock::new(),
        house_index: Default::default(),
        trusted_proxies: config.trusted_proxies.clone(),
        imports: Default::default(),
        exports: crate::billing::upload::exports(),
        sockets: Default::default(),
        metrics_token: config.metrics_token.clone(),
        mqtt_hook_token: config.mqtt_hook_token.clone(),
        https: config.tls.is_some(),
        public_url: config.public_url.clone(),
        journal: journal.clone(),
        photos: crate::photos::PhotoStore::new(&config.data),
        // The sandbox provider's notification key, derived from the deployment's secret.
        pay: crate::pay::Payments::new(keyring.place_code("_provider", "sandbox").into_bytes(), journal.clone()),
        demo_inbox,
    });

    let listener = tokio::net::TcpListener::bind(config.http)
        .await
        .with_context(|| format!("HTTP 端口不可用 / cannot listen on {} (in use? pass --http)", config.http))?;
    let http_addr = listener.local_addr()?;
    // The sandbox provider notifies this server at its own address.
    let here = format!("{}://{http_addr}", if app.https { "https" } else { "http" });
    let _ = app.pay.sandbox.notify_base.set(here.clone());
    // Reminder texts lead owners to the portal: its public address, or in the demo this one.
    if let Some(portal) = config.public_url.clone().or_else(|| demo.as_ref().map(|_| here)) {
        app.outbox.set_portal(portal);
    }
    let router = crate::routes::router(app.clone());
    let http_shutdown = shutdown.clone();
    let tls = match &config.tls {
        Some((cert, key)) => Some(crate::tls::config(cert, key)?),
        None => None,
    };
    let http = tokio::spawn(async move {
        let service = router.into_make_service_with_connect_info::<crate::tls::Peer>();
        match tls {
            Some(tls) => {
                let listener = crate::tls::TlsListener::new(listener, tls)?;
                axum::serve(listener, service).with_graceful_shutdown(http_shutdown.cancelled_owned()).await
            }
            None => axum::serve(crate::tls::PlainListener(listener), service).with_graceful_shutdown(http_shutdown.cancelled_owned()).await,
        }
    });

    let clock = app.clock;
    let registry: Arc<Shared<Registry>> = Arc::new(Shared::recover(journal.clone(), StreamId::registry(), Registry::default).await?);
    let _ = app.registry.set(registry.clone());
    if demo.is_some() && !registry.read().has(hutong_core::demo::DEMO_COMMUNITY) {
        let [sister, other] = hutong_core::demo::small_communities();
        for community in [hutong_core::demo::community(), sister, other] {
            let devices = hutong_core::demo::devices(&community);
            let committed = registry.execute(&RegistryCommand::Register(CommunityRegistered { community, devices }), clock.now().timestamp_millis()).await;
            committed.map_err(|e| anyhow::anyhow!("{e}"))?;
        }
        tracing::info!("demo communities registered");
    }
    let communities = registry.read().communities.clone();
    match &demo_password {
        Some(password) => seed_demo_org(&identity, password).await?,
        None => seed_first_admin(&identity, &config, &communities).await?,
    }
    seed_operator(&identity, &config).await?;
    let mut supervisors = Vec::new();
    let mut demo_devices = Vec::new();
    let mut started_communities = Vec::new();
    // A node told to run some communities leaves the rest to the other nodes.
    let mine = |id: &str| config.communities.as_ref().is_none_or(|list| list.iter().any(|c| c == id));
    for reg in communities.into_iter().filter(|r| mine(r.community.id.as_str())) {
        let started = std::time::Instant::now();
        if reg.community.id.as_str() == hutong_core::demo::DEMO_COMMUNITY {
            demo_devices = reg.devices.clone();
        }
        let devices = reg.devices.len();
        started_communities.push(Arc::new(reg.community.clone()));
        let sup = start_community(&app, reg, demo.is_some()).await?;
        tracing::info!(devices, elapsed_ms = started.elapsed().as_millis() as u64, "community recovered");
        supervisors.push(sup);
    }

    if demo.is_some() {
        for c in &started_communities {
            crate::patrol::seed_demo(&app, c.id.as_str()).await?;
        }
        for c in started_communities.iter().filter(|c| c.id.as_str() != hutong_core::demo::OTHER_COMPANY_COMMUNITY) {
            crate::billing::demo::seed(&app, c, DEMO_OWNER_PHONE).await?;
        }
    }

    let ingest = match &config.broker {
        Broker::Embedded(listen) => {
            let options = EndpointOptions { max_per_address: config.mqtt_max_per_address, ..EndpointOptions::new(*listen) };
            let endpoint = Endpoint::start(options, keyring.clone(), app.directory.clone(), metrics.clone(), clock, shutdown.clone()).await?;
            let _ = app.endpoint.set(endpoint);
            None
        }
        Broker::External(broker) => Some(tokio::spawn(ingest::run(
            IngestOptions {
                broker: broker.clone(),
                // Unguessable, so no device can take the session over on an external broker (D3);
                // in a share group, the node's own, so its persistent session outlives a restart
                // (the broker's hook keeps `hutong-` ids for the service user).
                client_id: match &config.mqtt_share_group {
                    Some(group) => format!("{}ingest-{group}-{}", hutong_device_bridge::codec::INGEST_CLIENT_PREFIX, node_name()),
                    None => format!("{}ingest-{}", hutong_device_bridge::codec::INGEST_CLIENT_PREFIX, crate::identity::random_secret(8)),
                },
                keyring: keyring.clone(),
                broker_authenticates: config.mqtt_hook_token.is_some(),
                share_group: config.mqtt_share_group.clone(),
                communities: config.communities.clone(),
            },
            app.directory.clone(),
            metrics.clone(),
            clock,
            shutdown.clone(),
        ))),
    };
    app.ready.store(true, Ordering::Release);
    // Orders whose notification is overdue are asked about at the provider, once a minute.
    tokio::spawn(crate::pay::query_overdue(app.clone(), shutdown.clone()));
    // Orders the provider paid whose payment a crash kept from the book: taken now.
    for c in &started_communities {
        let (app, community) = (app.clone(), c.id.to_string());
        tokio::spawn(async move {
            let settled = match app.pay.desk(&app, &community).await {
                Ok(desk) => crate::pay::book_paid(&app, &community, &desk).await,
                Err(e) => Err(e),
            };
            if let Err(e) = settled {
                tracing::error!(%community, error = %e, "paid orders could not be booked at start; the next notification or query books them");
            }
        });
    }
    on_ready(http_addr);
    if let Some(password) = demo_password.as_ref().filter(|_| demo.as_ref().is_some_and(|d| d.print_sign_ins)) {
        println!("演示账号 / demo sign-ins (password: {password}):");
        for (account, role, scope) in DEMO_ACCOUNTS {
            println!("  {account:<14} {:<10} {scope}", role.name_zh());
        }
        println!("  owner {DEMO_OWNER_PHONE}: one-time code, written to the log (demo sender)");
    }

    if let Some(demo) = demo.filter(|d| d.simulate_rate > 0) {
        let options = SimulatorOptions {
            broker: broker_address(&config, &keyring),
            rate: demo.simulate_rate,
            spike_one_in: 3000,
            silent: [DeviceId::new(DEMO_SILENT_DEVICE)].into_iter().collect(),
            seed: std::process::id().into(),
            // Behind an external broker, ingest reads each device's key from the payload.
            payload_keys: matches!(config.broker, Broker::External(_)).then(|| device_secret.as_bytes().to_vec()),
        };
        tokio::spawn(simulator::run(demo_devices, options, shutdown.clone()));
    }

    shutdown.cancelled().await;
    tracing::info!("shutting down");
    if let Some(ingest) = ingest {
        let _ = ingest.await;
    }
    for sup in supervisors {
        sup.stop(None);
    }
    let _ = http.await;
    Ok(())
}

/// The embedded SQLite journal under `--data`, the append-only log with `--store log`, or
/// ScyllaDB with `--store scylla://…`.
pub async fn open_journal(config: &Config) -> anyhow::Result<Arc<dyn Journal>> {
    Ok(match &config.store {
        Store::Sqlite => {
            let path = config.data.join("journal.db");
            Arc::new(
                SqliteJournal::open(SqliteOptions { max_mib: config.journal_max_mib, ..SqliteOptions::new(&path) })
                    .with_context(|| format!("打开日志失败 / cannot open the journal at {}", path.display()))?,
            )
        }
        Store::Log => {
            let dir = config.data.join("log");
            Arc::new(
                LogJournal::open(LogOptions { max_mib: config.journal_max_mib, ..LogOptions::new(&dir) })
                    .with_context(|| format!("打开日志失败 / cannot open the journal at {}", dir.display()))?,
            )
        }
        Store::Scylla(options) => Arc::new(ScyllaJournal::connect(options).await?),
    })
}

/// The device secret and (for the demo) the demo password. `serve` has no default for either
/// secret and refuses to start without them; `demo` generates them once and keeps them in the
/// data directory, so a restarted demo keeps its sign-ins and device keys.
/// The shortest device secret `serve` takes.
pub const DEVICE_SECRET_MIN: usize = 32;

/// Writes a secret readable by its owner only (0600), so other accounts on the host cannot read it.
fn write_private(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(path)?;
    file.write_all(text.as_bytes())
}

fn secrets(config: &Config, demo: Option<&DemoOptions>) -> anyhow::Result<(String, Option<String>)> {
    let Some(demo) = demo else {
        let secret = config.device_secret.clone().ok_or_else(|| {
            anyhow::anyhow!("缺少设备密钥：请用环境变量 HUTONG_DEVICE_SECRET 或配置文件提供 / no device secret: set HUTONG_DEVICE_SECRET or put device_secret in the config file")
        })?;
        // Device keys are HMACs of known text under this secret: a short one falls to an
        // offline search from a single device's key (review L4).
        if secret.chars().count() < DEVICE_SECRET_MIN {
            anyhow::bail!("设备密钥至少 {DEVICE_SECRET_MIN} 个字符（例如 openssl rand -hex 32）/ the device secret must be at least {DEVICE_SECRET_MIN} characters (e.g. openssl rand -hex 32)");
        }
        return Ok((secret, None));
    };
    let kept = |name: &str, given: Option<String>| -> anyhow::Result<String> {
        let path = config.data.join(name);
        if let Some(v) = given {
            return Ok(v);
        }
        if let Ok(v) = std::fs::read_to_string(&path) {
            return Ok(v.trim().to_string());
        }
        let v = random_secret(32);
        std::fs::create_dir_all(&config.data)?;
        write_private(&path, &v)?;
        Ok(v)
    };
    Ok((kept("demo-device-secret", config.device_secret.clone())?, Some(kept("demo-password", demo.password.clone())?)))
}

fn staff(company: &CompanyId, account: &str, name: &str, phone: &str, role: BuiltinRole, scope: Scope, password_hash: &str) -> StaffRecord {
    StaffRecord {
        id: StaffId::new(format!("{company}-{account}")),
        company: company.clone(),
        account: account.into(),
        name: name.into(),
        phone: phone.into(),
        department: None,
        post: Some(role.name_zh().into()),
        roles: vec![role.id()],
        scope,
        disabled: false,
        password_hash: password_hash.into(),
    }
}

/// On the first start of `serve`: one company owning every registered community, and its admin.
async fn seed_first_admin(identity: &Identity, config: &Config, communities: &[CommunityRegistered]) -> anyhow::Result<()> {
    if !identity.org().staff.is_empty() {
        return Ok(());
    }
    let password = config.admin_password.clone().ok_or_else(|| {
        anyhow::anyhow!("首次启动需要管理员密码：请用 --admin-password 或 HUTONG_ADMIN_PASSWORD 提供 / first start: pass --admin-password or set HUTONG_ADMIN_PASSWORD (there is no default)")
    })?;
    if password.chars().count() < 8 {
        anyhow::bail!("管理员密码至少 8 位 / the admin password must have at least 8 characters");
    }
    let company = CompanyId::new("default");
    seed(identity, OrgCommand::CreateCompany { company: company.clone(), name: "物业公司".into() }).await?;
    let mut all = std::collections::BTreeSet::new();
    for reg in communities {
        seed(identity, OrgCommand::AssignCommunity { company: company.clone(), branch: None, community: reg.community.id.clone() }).await?;
        all.insert(reg.community.id.clone());
    }
    let scope = Scope { communities: all, buildings: Default::default() };
    let admin = staff(&company, "admin", "管理员", "", BuiltinRole::Admin, scope, &hash_password(&password));
    seed(identity, OrgCommand::CreateStaff { staff: admin, password_chars: password.chars().count(), by: Actor::System }).await?;
    tracing::info!("first administrator created: account admin");
    Ok(())
}

/// The platform operator account (`operator`, company `platform`), when its password is set and
/// the account does not exist yet. It adds property companies; it is no company's staff.
async fn seed_operator(identity: &Identity, config: &Config) -> anyhow::Result<()> {
    let Some(password) = &config.operator_password else { return Ok(()) };
    if identity.org().accounts.contains_key(OPERATOR_ACCOUNT) {
        return Ok(());
    }
    if password.chars().count() < 8 {
        anyhow::bail!("平台运营密码至少 8 位 / the operator password must have at least 8 characters");
    }
    let platform = CompanyId::new(PLATFORM_COMPANY);
    if !identity.org().companies.contains_key(&platform) {
        seed(identity, OrgCommand::CreateCompany { company: platform.clone(), name: "平台".into() }).await?;
    }
    let operator = staff(&platform, OPERATOR_ACCOUNT, "平台运营", "", BuiltinRole::PlatformOperator, Scope::default(), &hash_password(password));
    seed(identity, OrgCommand::CreateStaff { staff: operator, password_chars: password.chars().count(), by: Actor::System }).await?;
    tracing::info!("platform operator created: account {OPERATOR_ACCOUNT}");
    Ok(())
}

/// The operator's account and the pseudo-company it belongs to (no communities, ever).
pub const OPERATOR_ACCOUNT: &str = "operator";
pub const PLATFORM_COMPANY: &str = "platform";

/// Starts one community's actors (recovering them from the journal), with its tariff: at start-up
/// for every registered community, and when an office sets a new one up while running.
pub(crate) async fn start_community(app: &Arc<App>, reg: CommunityRegistered, seeded: bool) -> anyhow::Result<ActorRef<CommunityMsg>> {
    let id = reg.community.id.clone();
    app.tariffs.load(&id, || if seeded { hutong_core::demo::demo_tariff(&id) } else { Tariff::default() }).await?;
    community::start(CommunityArgs {
        community: Arc::new(reg.community),
        devices: reg.devices,
        journal: app.journal.clone(),
        hub: app.hub.clone(),
        directory: app.directory.clone(),
        metrics: app.metrics.clone(),
        clock: app.clock,
        notices: app.outbox.clone(),
        staffing: Arc::new(crate::work_orders::OrgStaffing { app: Arc::downgrade(app) }),
    })
    .await
    .map_err(|e| anyhow::anyhow!("community recovery failed: {e}"))
}

/// The demo's two companies, their staff in every built-in role, and an owner.
async fn seed_demo_org(identity: &Identity, password: &str) -> anyhow::Result<()> {
    if !identity.org().staff.is_empty() {
        return Ok(());
    }
    use hutong_core::demo::{DEMO_COMMUNITY, OTHER_COMPANY_COMMUNITY, SISTER_COMMUNITY};
    let (a, b) = (CompanyId::new("heyuan-wuye"), CompanyId::new("meiyuan-wuye"));
    seed(identity, OrgCommand::CreateCompany { company: a.clone(), name: "荷花物业".into() }).await?;
    seed(identity, OrgCommand::CreateCompany { company: b.clone(), name: "梅园物业".into() }).await?;
    for (company, community) in [(&a, DEMO_COMMUNITY), (&a, SISTER_COMMUNITY), (&b, OTHER_COMPANY_COMMUNITY)] {
        let command = OrgCommand::AssignCommunity { company: company.clone(), branch: Some("华东分公司".into()), community: CommunityId::new(community) };
        seed(identity, command).await?;
    }
    let password_chars = password.chars().count();
    let hash = hash_password(password);
    let scope = |communities: &[&str], buildings: &[&str]| Scope {
        communities: communities.iter().map(|c| CommunityId::new(*c)).collect(),
        buildings: buildings.iter().map(|b| hutong_core::BuildingId::new(*b)).collect(),
    };
    let both = [DEMO_COMMUNITY, SISTER_COMMUNITY];
    let people = [
        ("admin", "张伟", "13800000001", BuiltinRole::Admin, scope(&both, &[])),
        ("manager", "李娜", "13800000002", BuiltinRole::Manager, scope(&both, &[])),
        ("cashier", "王芳", "13800000003", BuiltinRole::Cashier, scope(&[DEMO_COMMUNITY], &[])),
        ("finance", "刘洋", "13800000004", BuiltinRole::Finance, scope(&both, &[])),
        ("control", "陈静", "13800000005", BuiltinRole::ControlRoom, scope(&[DEMO_COMMUNITY], &[])),
        ("guard", "杨勇", "13800000006", BuiltinRole::PatrolGuard, scope(&[DEMO_COMMUNITY], &[])),
        ("repair", "赵磊", "13800000007", BuiltinRole::Maintenance, scope(&[DEMO_COMMUNITY], &[])),
        ("butler", "黄敏", "13800000008", BuiltinRole::Butler, scope(&[DEMO_COMMUNITY], &["heyuan-b01"])),
    ];
    for (account, name, phone, role, scope) in people {
        seed(identity, OrgCommand::CreateStaff { staff: staff(&a, account, name, phone, role, scope, &hash), password_chars, by: Actor::System }).await?;
    }
    let other = staff(&b, "meiyuan-admin", "周强", "13900000001", BuiltinRole::Admin, scope(&[OTHER_COMPANY_COMMUNITY], &[]), &hash);
    seed(identity, OrgCommand::CreateStaff { staff: other, password_chars, by: Actor::System }).await?;
    let owner = OrgCommand::RegisterOwner {
        company: a,
        phone: DEMO_OWNER_PHONE.into(),
        community: CommunityId::new(DEMO_COMMUNITY),
        houses: vec![HouseId::new("heyuan-1-1-101")],
    };
    seed(identity, owner).await?;
    Ok(())
}

/// One step of seeding. What a crash between two steps already left in place is kept.
async fn seed(identity: &Identity, command: OrgCommand) -> anyhow::Result<()> {
    match identity.change(command).await {
        Ok(_) | Err(CommitError::Refused(OrgError::CompanyExists(_) | OrgError::AccountTaken)) => Ok(()),
        Err(e) => Err(anyhow::anyhow!("{e}")),
    }
}
