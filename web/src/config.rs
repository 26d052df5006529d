//! Configuration: defaults in code, then a `--config` TOML file, then `HUTONG_*` environment
//! variables, then command-line flags. Unknown keys are refused; bad values stop the start with a
//! sentence saying which setting and why.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The settings file, every key optional.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    pub data: Option<PathBuf>,
    pub http: Option<String>,
    pub mqtt: Option<String>,
    pub mqtt_url: Option<String>,
    pub assets: Option<PathBuf>,
    pub admin_password: Option<String>,
    /// The platform operator's password (a multi-company deployment); as secret as the admin's.
    pub operator_password: Option<String>,
    pub device_secret: Option<String>,
    pub session_hours: Option<u32>,
    pub reminder_webhook: Option<String>,
    pub sms_webhook: Option<String>,
    pub public_url: Option<String>,
    pub store: Option<String>,
    pub communities: Option<Vec<String>>,
    pub trusted_proxies: Option<Vec<String>>,
    pub journal_max_mib: Option<u64>,
    pub metrics_token: Option<String>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub mqtt_max_per_address: Option<usize>,
    pub mqtt_share_group: Option<String>,
}

/// Settings given on the command line or in the environment (clap fills both).
#[derive(Default, Clone, clap::Args)]
pub struct Overrides {
    /// TOML settings file.
    #[arg(long, env = "HUTONG_CONFIG")]
    pub config: Option<PathBuf>,
    /// Where the embedded journal lives.
    #[arg(long, env = "HUTONG_DATA")]
    pub data: Option<PathBuf>,
    /// HTTP listen address.
    #[arg(long, env = "HUTONG_HTTP")]
    pub http: Option<String>,
    /// Listen address of Hutong's own MQTT endpoint (devices connect here).
    #[arg(long, env = "HUTONG_MQTT")]
    pub mqtt: Option<String>,
    /// Use this external broker instead of Hutong's own endpoint (mqtt://[user:pass@]host:port).
    #[arg(long, env = "HUTONG_MQTT_URL")]
    pub mqtt_url: Option<String>,
    /// Built dashboards to serve at `/`.
    #[arg(long, env = "HUTONG_ASSETS")]
    pub assets: Option<PathBuf>,
    /// Refused with a sentence: the first administrator's password is read from
    /// HUTONG_ADMIN_PASSWORD or the config file, never the command line (`ps` would show it).
    #[arg(long = "admin-password", hide = true)]
    pub admin_password_flag: Option<String>,
    /// Refused likewise: the device secret comes from HUTONG_DEVICE_SECRET or the config file.
    #[arg(long = "device-secret", hide = true)]
    pub device_secret_flag: Option<String>,
    /// How long a sign-in lasts, in hours.
    #[arg(long, env = "HUTONG_SESSION_HOURS")]
    pub session_hours: Option<u32>,
    /// Where webhook reminders are POSTed (an http:// or https:// URL); without it they are written to the log.
    #[arg(long, env = "HUTONG_REMINDER_WEBHOOK")]
    pub reminder_webhook: Option<String>,
    /// The SMS gateway adapter text messages (reminders, sign-in codes) are POSTed to as JSON
    /// (an http:// or https:// URL); without it they are written to the log, codes withheld.
    #[arg(long, env = "HUTONG_SMS_WEBHOOK")]
    pub sms_webhook: Option<String>,
    /// The address owners reach Hutong at (`https://wuye.example.com`): the pay link in reminder
    /// texts and the QR code on printed notices lead there. Without it, a page's own address is
    /// used and texts sent by a timer carry no link.
    #[arg(long, env = "HUTONG_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Where the journal lives: `log` (default: the append-only log under --data/log), `sqlite`
    /// (--data/journal.db; the default for a data directory that already has one) or
    /// `scylla://host:port[,host:port]/keyspace`.
    #[arg(long, env = "HUTONG_STORE")]
    pub store: Option<String>,
    /// Run only these communities (comma separated); other Hutong nodes run the rest.
    #[arg(long, env = "HUTONG_COMMUNITIES", value_delimiter = ',')]
    pub communities: Option<Vec<String>>,
    /// Reverse proxies in front of Hutong (comma separated IPs): from these, the caller's address
    /// is read from X-Forwarded-For, so sign-in limits and the audit log see the real address.
    #[arg(long, env = "HUTONG_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Option<Vec<String>>,
    /// A cap on the embedded journal's size, in MiB: past it writes fail as on a full disk and
    /// Hutong stops taking them (fail-stop). Default: the disk is the limit.
    #[arg(long, env = "HUTONG_JOURNAL_MAX_MIB")]
    pub journal_max_mib: Option<u64>,
    /// Serve HTTPS with this certificate chain (PEM); with --tls-key.
    #[arg(long, env = "HUTONG_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,
    /// The certificate's private key (PEM).
    #[arg(long, env = "HUTONG_TLS_KEY")]
    pub tls_key: Option<PathBuf>,
    /// Most MQTT connections from one address (a community gateway may carry many devices; default 5000).
    #[arg(long, env = "HUTONG_MQTT_MAX_PER_ADDRESS")]
    pub mqtt_max_per_address: Option<usize>,
    /// With --mqtt-url: share the device subscription among Hutong's nodes under this group
    /// (`$share/{group}/…`, persistent sessions).
    #[arg(long, env = "HUTONG_MQTT_SHARE_GROUP")]
    pub mqtt_share_group: Option<String>,
}

/// Where devices' messages come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Broker {
    Embedded(SocketAddr),
    External(hutong_device_bridge::url::BrokerAddress),
}

/// Resolved settings. Its `Debug` never prints the secrets.
#[derive(Clone)]
pub struct Config {
    pub data: PathBuf,
    pub http: SocketAddr,
    pub broker: Broker,
    pub assets: PathBuf,
    pub admin_password: Option<String>,
    /// With it, the account `operator` (平台运营) exists: it adds property companies.
    pub operator_password: Option<String>,
    pub device_secret: Option<String>,
    pub session_hours: u32,
    pub reminder_webhook: Option<String>,
    pub sms_webhook: Option<String>,
    /// Where owners reach Hutong (no trailing slash).
    pub public_url: Option<String>,
    pub store: Store,
    /// `None`: every registered community.
    pub communities: Option<Vec<String>>,
    pub trusted_proxies: Vec<std::net::IpAddr>,
    pub journal_max_mib: Option<u64>,
    /// The bearer token `/metrics` asks for (`HUTONG_METRICS_TOKEN`); without it, loopback only.
    pub metrics_token: Option<String>,
    /// HTTPS on the HTTP port: certificate chain and key (PEM files).
    pub tls: Option<(PathBuf, PathBuf)>,
    /// Most MQTT connections from one address on Hutong's own endpoint.
    pub mqtt_max_per_address: usize,
    /// The external broker's hooks' bearer token (`HUTONG_MQTT_HOOK_TOKEN`): set, the broker asks
    /// Hutong who connects and ingest trusts its topics; unset, the hooks answer 404.
    pub mqtt_hook_token: Option<String>,
    /// The shared subscription's group, with --mqtt-url.
    pub mqtt_share_group: Option<String>,
}

/// Where the journal lives.
#[derive(Debug, Clone)]
pub enum Store {
    Sqlite,
    /// The append-only log under `--data`/log.
    Log,
    Scylla(hutong_actors::journal::ScyllaOptions),
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("无法读取配置文件 {path} / cannot read the config file {path}: {why}")]
    Read { path: String, why: String },
    #[error("配置文件 {path} 有误 / the config file {path} is invalid: {why}")]
    Parse { path: String, why: String },
    #[error("设置 {setting} 的值 {value:?} 不是有效地址 / setting {setting}: {value:?} is not an address like 127.0.0.1:8080")]
    Address { setting: &'static str, value: String },
    #[error("{0}")]
    MqttUrl(#[from] hutong_device_bridge::url::MqttUrlError),
    #[error("{0}")]
    Store(String),
    #[error("设置 {setting} 的值 {value:?} 应为 https:// 地址（http:// 仅限本机）/ setting {setting}: {value:?} must be an https:// URL (http:// only to this machine: messages carry phone numbers)")]
    Url { setting: &'static str, value: String },
    #[error("设置 public_url 的值 {value:?} 应为 https://（或 http://）开头的网址 / setting public_url: {value:?} must be a URL such as https://wuye.example.com")]
    PublicUrl { value: String },
    #[error("启用 HTTPS 需要同时提供 --tls-cert 和 --tls-key / HTTPS needs both --tls-cert and --tls-key")]
    Tls,
    #[error("密钥不能写在命令行上（ps 可见）：请改用环境变量 {env} 或配置文件 / {flag} is not taken on the command line (ps shows it to everyone): set {env} or put it in the config file")]
    SecretOnCommandLine { flag: &'static str, env: &'static str },
}

/// A secret from the environment; a command-line flag for it is refused (review L3).
pub fn secret(flag_value: &Option<String>, flag: &'static str, env: &'static str) -> Result<Option<String>, ConfigError> {
    if flag_value.is_some() {
        return Err(ConfigError::SecretOnCommandLine { flag, env });
    }
    Ok(std::env::var(env).ok().filter(|v| !v.is_empty()))
}

/// A gateway URL: https://, or http:// only to this machine (an adapter beside Hutong). Messages
/// carry full phone numbers, which must not cross a network in clear (review L2, PIPL art. 51).
fn web_url(setting: &'static str, value: Option<String>) -> Result<Option<String>, ConfigError> {
    let Some(v) = value else { return Ok(None) };
    if v.starts_with("https://") {
        return Ok(Some(v));
    }
    let host = v.strip_prefix("http://").map(|rest| rest.split(['/', '?']).next().unwrap_or_default());
    let local = host.is_some_and(|h| {
        let name = h.rsplit_once(':').filter(|(n, port)| !n.is_empty() && port.bytes().all(|b| b.is_ascii_digit())).map_or(h, |(n, _)| n);
        matches!(name, "localhost" | "127.0.0.1" | "[::1]")
    });
    if local { Ok(Some(v)) } else { Err(ConfigError::Url { setting, value: v }) }
}

fn address(setting: &'static str, value: &str) -> Result<SocketAddr, ConfigError> {
    value.parse().map_err(|_| ConfigError::Address { setting, value: value.to_string() })
}

fn read_file(path: &Path) -> Result<ConfigFile, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Read { path: path.display().to_string(), why: e.to_string() })?;
    toml::from_str(&text).map_err(|e| ConfigError::Parse { path: path.display().to_string(), why: e.to_string() })
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("data", &self.data)
            .field("http", &self.http)
            .field("broker", &self.broker)
            .field("assets", &self.assets)
            .field("admin_password", &self.admin_password.as_ref().map(|_| "<set>"))
            .field("operator_password", &self.operator_password.as_ref().map(|_| "<set>"))
            .field("device_secret", &self.device_secret.as_ref().map(|_| "<set>"))
            .field("session_hours", &self.session_hours)
            .field("store", &self.store)
            .field("communities", &self.communities)
            .finish()
    }
}

impl std::fmt::Debug for Overrides {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Overrides").field("config", &self.config).field("data", &self.data).finish_non_exhaustive()
    }
}

impl Overrides {
    pub fn resolve(&self) -> Result<Config, ConfigError> {
        let file = match &self.config {
            Some(path) => read_file(path)?,
            None => ConfigFile::default(),
        };
        let data = self.data.clone().or(file.data).unwrap_or_else(|| PathBuf::from("hutong-data"));
        let http = self.http.clone().or(file.http).unwrap_or_else(|| "127.0.0.1:8080".into());
        let mqtt = self.mqtt.clone().or(file.mqtt).unwrap_or_else(|| "127.0.0.1:1883".into());
        let broker = match self.mqtt_url.clone().or(file.mqtt_url) {
            Some(url) => Broker::External(hutong_device_bridge::url::parse(&url)?),
            None => Broker::Embedded(address("mqtt", &mqtt)?),
        };
        Ok(Config {
            data: data.clone(),
            http: address("http", &http)?,
            broker,
            assets: self.assets.clone().or(file.assets).unwrap_or_else(|| PathBuf::from("dashboards/dist")),
            admin_password: secret(&self.admin_password_flag, "--admin-password", "HUTONG_ADMIN_PASSWORD")?.or(file.admin_password),
            operator_password: std::env::var("HUTONG_OPERATOR_PASSWORD").ok().filter(|v| !v.is_empty()).or(file.operator_password),
            device_secret: secret(&self.device_secret_flag, "--device-secret", "HUTONG_DEVICE_SECRET")?.or(file.device_secret),
            session_hours: self.session_hours.or(file.session_hours).unwrap_or(12).clamp(1, 24 * 30),
            reminder_webhook: web_url("reminder_webhook", self.reminder_webhook.clone().or(file.reminder_webhook))?,
            sms_webhook: web_url("sms_webhook", self.sms_webhook.clone().or(file.sms_webhook))?,
            public_url: match self.public_url.clone().or(file.public_url) {
                Some(url) if !(url.starts_with("https://") || url.starts_with("http://")) || url.contains(['?', '#', ' ']) => {
                    return Err(ConfigError::PublicUrl { value: url });
                }
                url => url.map(|u| u.trim_end_matches('/').to_string()),
            },
            store: match self.store.clone().or(file.store).as_deref() {
                // A data directory an earlier Hutong filled with SQLite keeps it.
                None if data.join("journal.db").exists() && !data.join("log").exists() => Store::Sqlite,
                None | Some("log") => Store::Log,
                Some("sqlite") => Store::Sqlite,
                Some(url) => Store::Scylla(hutong_actors::journal::ScyllaOptions::from_url(url).map_err(|e| ConfigError::Store(e.to_string()))?),
            },
            communities: self.communities.clone().or(file.communities).filter(|c| !c.is_empty()),
            trusted_proxies: self
                .trusted_proxies
                .clone()
                .or(file.trusted_proxies)
                .unwrap_or_default()
                .iter()
                .map(|ip| ip.trim().parse().map_err(|_| ConfigError::Address { setting: "trusted_proxies", value: ip.clone() }))
                .collect::<Result<_, _>>()?,
            journal_max_mib: self.journal_max_mib.or(file.journal_max_mib),
            metrics_token: std::env::var("HUTONG_METRICS_TOKEN").ok().filter(|t| !t.is_empty()).or(file.metrics_token),
            tls: match (self.tls_cert.clone().or(file.tls_cert), self.tls_key.clone().or(file.tls_key)) {
                (Some(cert), Some(key)) => Some((cert, key)),
                (None, None) => None,
                _ => return Err(ConfigError::Tls),
            },
            mqtt_max_per_address: self.mqtt_max_per_address.or(file.mqtt_max_per_address).unwrap_or(5_000).max(1),
            mqtt_hook_token: std::env::var("HUTONG_MQTT_HOOK_TOKEN").ok().filter(|t| !t.is_empty()),
            mqtt_share_group: match self.mqtt_share_group.clone().or(file.mqtt_share_group) {
                Some(group) if !hutong_core::ids::is_valid_id(&group) => return Err(ConfigError::Address { setting: "mqtt_share_group", value: group }),
                group => group,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gateways_are_https_or_on_this_machine() {
        assert!(web_url("sms_webhook", Some("https://sms.example.com/send".into())).is_ok());
        assert!(web_url("sms_webhook", Some("http://127.0.0.1:9000/h".into())).is_ok());
        assert!(web_url("sms_webhook", Some("http://localhost/h".into())).is_ok());
        assert!(web_url("sms_webhook", Some("http://10.0.0.5:9000/h".into())).is_err());
        assert!(web_url("sms_webhook", Some("http://127.0.0.1.evil.com/h".into())).is_err());
        assert!(web_url("sms_webhook", Some("ftp://x".into())).is_err());
    }

    #[test]
    fn flags_win_over_the_file_and_the_file_over_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hutong.toml");
        std::fs::write(&path, "http = \"127.0.0.1:9000\"\nmqtt = \"127.0.0.1:1999\"\n").unwrap();
        let o = Overrides { config: Some(path), mqtt: Some("127.0.0.1:2000".into()), ..Default::default() };
        let c = o.resolve().unwrap();
        assert_eq!(c.http.port(), 9000);
        assert_eq!(c.broker, Broker::Embedded("127.0.0.1:2000".parse().unwrap()));
        assert_eq!(c.data, PathBuf::from("hutong-data"));
    }

    #[test]
    fn the_documented_settings_file_loads() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/hutong.toml");
        let c = Overrides { config: Some(path), ..Default::default() }.resolve().unwrap();
        assert_eq!(c.http.port(), 8080);
        assert_eq!(c.broker, Broker::Embedded("127.0.0.1:1883".parse().unwrap()));
    }

    #[test]
    fn unknown_keys_and_bad_values_are_refused_with_a_sentence() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hutong.toml");
        std::fs::write(&path, "htp = \"x\"\n").unwrap();
        let err = Overrides { config: Some(path), ..Default::default() }.resolve().unwrap_err().to_string();
        assert!(err.contains("htp") && err.contains("invalid"), "{err}");
        let err = Overrides { http: Some("localhost".into()), ..Default::default() }.resolve().unwrap_err().to_string();
        assert!(err.contains("http") && err.contains("127.0.0.1:8080"), "{err}");
        let err = Overrides { mqtt_url: Some("http://x".into()), ..Default::default() }.resolve().unwrap_err().to_string();
        assert!(err.contains("mqtt://"), "{err}");
    }
}
