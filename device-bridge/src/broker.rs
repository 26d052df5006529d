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

/// Starts the broker on `listen` and returns once it accepts connections.
pub fn start(listen: SocketAddr) -> Result<(), BrokerError> {
    TcpListener::bind(listen).map_err(|_| BrokerError::PortInUse(listen))?;
    let mut broker = rumqttd::Broker::new(config(listen)?);
    std::thread::Builder::new()
        .name("mqtt-broker".into())
        .spawn(move || {
            if let Err(e) = broker.start() {
                tracing::error!(error = %e, "embedded MQTT broker stopped");
            }
        })
        .map_err(|e| BrokerError::Start(e.to_string()))?;
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if answers_mqtt(listen) {
            tracing::info!(%listen, "embedded MQTT broker listening");
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Err(BrokerError::Start(format!("nothing answering MQTT on {listen} after 10 s")))
}

/// A real MQTT 3.1.1 CONNECT → CONNACK → DISCONNECT, so the probe looks like a client to the
/// broker (a bare TCP connect would be logged as a failed connection).
fn answers_mqtt(addr: SocketAddr) -> bool {
    const CONNECT: [u8; 19] = [
        0x10, 17, 0, 4, b'M', b'Q', b'T', b'T', 4, 0x02, 0, 10, 0, 5, b'p', b'r', b'o', b'b', b'e',
    ];
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) else { return false };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    let mut connack = [0u8; 4];
    let ok = stream.write_all(&CONNECT).is_ok() && stream.read_exact(&mut connack).is_ok() && connack[0] == 0x20;
    let _ = stream.write_all(&[0xE0, 0]);
    ok
}
