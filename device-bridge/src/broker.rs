//! The embedded broker for one machine: rumqttd, run in threads of its own so a flood of device
//! traffic never starves the server's runtime. rumqttd is the broker of the same project as the
//! rumqttc client we use, embeddable as a library, and fast enough for the ingest targets.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    #[error("MQTT 端口 {0} 已被占用 / the MQTT port {0} is already in use; pass --mqtt with a free address or --mqtt-url for an external broker")]
    PortInUse(SocketAddr),
    #[error("内置 MQTT 代理启动失败 / the embedded MQTT broker did not start: {0}")]
    Start(String),
}

/// The largest payload the embedded broker forwards; ingest refuses anything over
/// `codec::MAX_PAYLOAD` itself, with a reason, so an oversized publish is counted, not lost silently.
const BROKER_MAX_PAYLOAD: usize = 256 * 1024;

fn config(listen: SocketAddr) -> Result<rumqttd::Config, BrokerError> {
    let text = format!(
        r#"
id = 0
[router]
id = 0
max_connections = 20000
max_outgoing_packet_count = 2000
max_segment_size = 33554432
max_segment_count = 8

[v4.1]
name = "hutong-v4"
listen = "{listen}"
next_connection_delay_ms = 0
    [v4.1.connections]
    connection_timeout_ms = 60000
    max_payload_size = {BROKER_MAX_PAYLOAD}
    max_inflight_count = 2000
    dynamic_filters = true
"#
    );
    toml::from_str(&text).map_err(|e| BrokerError::Start(e.to_string()))
}

/// The start of every client id Hutong's own clients use; devices may not use it.
pub const INGEST_CLIENT_PREFIX: &str = "hutong-";

/// Starts the broker on `listen` and returns once it accepts connections. Only the service user
/// and devices with their own key may connect (`codec::may_connect`); which topics a device may
/// publish on is checked by ingest, the same way for this broker and an external one.
pub fn start(listen: SocketAddr, device_secret: Vec<u8>) -> Result<(), BrokerError> {
    TcpListener::bind(listen).map_err(|_| BrokerError::PortInUse(listen))?;
    let mut config = config(listen)?;
    let server = config.v4.as_mut().and_then(|servers| servers.get_mut("1")).ok_or_else(|| BrokerError::Start("no v4 listener".into()))?;
    let probe_secret = device_secret.clone();
    server.set_auth_handler(move |client: String, user: String, pass: String| {
        // A client id of Hutong's own is the service user's alone: a device taking it would
        // disconnect ingest (MQTT session takeover, review D3).
        let ours = client.starts_with(INGEST_CLIENT_PREFIX) && user != crate::codec::SERVICE_USER;
        let ok = !ours && crate::codec::may_connect(&device_secret, &user, &pass);
        async move { ok }
    });
    let mut broker = rumqttd::Broker::new(config);
    std::thread::Builder::new()
        .name("mqtt-broker".into())
        .spawn(move || {
            if let Err(e) = broker.start() {
                tracing::error!(error = %e, "embedded MQTT broker stopped");
            }
        })
        .map_err(|e| BrokerError::Start(e.to_string()))?;
    let deadline = Instant::now() + Duration::from_secs(10);
    let (user, pass) = (crate::codec::SERVICE_USER, crate::codec::service_password(&probe_secret));
    while Instant::now() < deadline {
        if answers_mqtt(listen, user, &pass) {
            tracing::info!(%listen, "embedded MQTT broker listening");
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Err(BrokerError::Start(format!("nothing answering MQTT on {listen} after 10 s")))
}

/// A real MQTT 3.1.1 CONNECT (as the service user) → CONNACK → DISCONNECT, so the probe looks
/// like a client to the broker (a bare TCP connect would be logged as a failed connection).
fn answers_mqtt(addr: SocketAddr, user: &str, pass: &str) -> bool {
    let field = |s: &str| {
        let mut v = (s.len() as u16).to_be_bytes().to_vec();
        v.extend_from_slice(s.as_bytes());
        v
    };
    // Variable header: protocol "MQTT", level 4, flags user+password+clean session, keep-alive 10 s.
    let mut body = field("MQTT");
    body.extend_from_slice(&[4, 0xC2, 0, 10]);
    for part in ["probe", user, pass] {
        body.extend(field(part));
    }
    if body.len() > 127 {
        return false;
    }
    let mut packet = vec![0x10, body.len() as u8];
    packet.extend(body);
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) else { return false };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    let mut connack = [0u8; 4];
    let ok = stream.write_all(&packet).is_ok() && stream.read_exact(&mut connack).is_ok() && connack[0] == 0x20 && connack[3] == 0;
    let _ = stream.write_all(&[0xE0, 0]);
    ok
}
