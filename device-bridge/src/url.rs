//! `mqtt://[user[:password]@]host[:port]` into rumqttc options. rumqttc's own parser wants a
//! `client_id` in the query; ours takes the id from the caller, who knows what it is for.

use rumqttc::MqttOptions;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("MQTT 地址无效 / invalid MQTT URL {url:?}: {why} (expected mqtt://[user:password@]host[:port])")]
pub struct MqttUrlError {
    pub url: String,
    pub why: &'static str,
}

/// Host, port and optional credentials of a broker URL. Its `Debug` never prints the password.
#[derive(Clone, PartialEq, Eq)]
pub struct BrokerAddress {
    pub host: String,
    pub port: u16,
    pub credentials: Option<(String, String)>,
}

impl std::fmt::Debug for BrokerAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let user = self.credentials.as_ref().map(|(u, _)| u.as_str());
        f.debug_struct("BrokerAddress").field("host", &self.host).field("port", &self.port).field("user", &user).finish_non_exhaustive()
    }
}

/// The URL as it may be shown: the password replaced by `***` (review L3).
fn redacted(url: &str) -> String {
    match url.rsplit_once('@') {
        Some((cred, rest)) => match cred.split_once("://").and_then(|(scheme, c)| c.split_once(':').map(|(user, _)| (scheme, user))) {
            Some((scheme, user)) => format!("{scheme}://{user}:***@{rest}"),
            None => url.to_string(),
        },
        None => url.to_string(),
    }
}

pub fn parse(url: &str) -> Result<BrokerAddress, MqttUrlError> {
    let err = |why| MqttUrlError { url: redacted(url), why };
    let rest = url.strip_prefix("mqtt://").or_else(|| url.strip_prefix("tcp://")).ok_or_else(|| err("scheme must be mqtt://"))?;
    let rest = rest.trim_end_matches('/');
    let (credentials, hostport) = match rest.rsplit_once('@') {
        Some((cred, hp)) => {
            let (user, pass) = cred.split_once(':').unwrap_or((cred, ""));
            (Some((user.to_string(), pass.to_string())), hp)
        }
        None => (None, rest),
    };
    let (host, port) = match hostport.rsplit_once(':') {
        Some((h, p)) => (h, p.parse::<u16>().map_err(|_| err("port is not a number"))?),
        None => (hostport, 1883),
    };
    if host.is_empty() {
        return Err(err("host is missing"));
    }
    Ok(BrokerAddress { host: host.trim_matches(['[', ']']).to_string(), port, credentials })
}

impl BrokerAddress {
    pub fn options(&self, client_id: &str) -> MqttOptions {
        let mut options = MqttOptions::new(client_id, self.host.clone(), self.port);
        if let Some((user, pass)) = &self.credentials {
            options.set_credentials(user.clone(), pass.clone());
        }
        options
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broker_urls_parse() {
        assert_eq!(parse("mqtt://127.0.0.1:1884").unwrap(), BrokerAddress { host: "127.0.0.1".into(), port: 1884, credentials: None });
        let a = parse("mqtt://dev:s3cret@broker.local").unwrap();
        assert_eq!((a.port, a.credentials), (1883, Some(("dev".into(), "s3cret".into()))));
        assert!(parse("http://x").is_err());
        assert!(parse("mqtt://:1883").is_err());
        assert!(parse("mqtt://host:port").unwrap_err().to_string().contains("mqtt://"));
    }
}

#[cfg(test)]
mod redaction {
    use super::*;

    #[test]
    fn a_password_never_reaches_an_error_or_a_debug_line() {
        let e = parse("mqtt://hutong:s3cret@broker:notaport").unwrap_err().to_string();
        assert!(!e.contains("s3cret") && e.contains("hutong:***@"), "{e}");
        let a = parse("mqtt://hutong:s3cret@broker:1883").unwrap();
        assert!(!format!("{a:?}").contains("s3cret"));
    }
}
