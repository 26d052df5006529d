//! A real Apache Cassandra 5 node for the ScyllaDB backend's tests: the jars come from Maven
//! Central (`cargo xtask test` fetches them into a cache and sets `HUTONG_CASSANDRA_LIB`), the
//! node runs on JDK 17 with the module flags Cassandra's own `jvm17-server.options` sets, the
//! jamm agent, and a minimal cassandra.yaml on free loopback ports. Dropped = killed.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::free_fixed_port;

/// Cassandra's JDK 17 module flags (from its jvm17-server.options).
const JDK17_FLAGS: &[&str] = &[
    "--add-exports=java.base/jdk.internal.misc=ALL-UNNAMED",
    "--add-exports=java.base/jdk.internal.ref=ALL-UNNAMED",
    "--add-exports=java.base/sun.nio.ch=ALL-UNNAMED",
    "--add-exports=java.management.rmi/com.sun.jmx.remote.internal.rmi=ALL-UNNAMED",
    "--add-exports=java.rmi/sun.rmi.registry=ALL-UNNAMED",
    "--add-exports=java.rmi/sun.rmi.server=ALL-UNNAMED",
    "--add-exports=java.sql/java.sql=ALL-UNNAMED",
    "--add-opens=java.base/java.lang.module=ALL-UNNAMED",
    "--add-opens=java.base/jdk.internal.loader=ALL-UNNAMED",
    "--add-opens=java.base/jdk.internal.ref=ALL-UNNAMED",
    "--add-opens=java.base/jdk.internal.reflect=ALL-UNNAMED",
    "--add-opens=java.base/jdk.internal.math=ALL-UNNAMED",
    "--add-opens=java.base/jdk.internal.module=ALL-UNNAMED",
    "--add-opens=java.base/jdk.internal.util.jar=ALL-UNNAMED",
    "--add-opens=jdk.management/com.sun.management.internal=ALL-UNNAMED",
    "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
    "--add-opens=java.base/java.io=ALL-UNNAMED",
    "--add-opens=java.base/java.nio=ALL-UNNAMED",
    "--add-opens=java.base/java.util.concurrent=ALL-UNNAMED",
    "--add-opens=java.base/java.util=ALL-UNNAMED",
    "--add-opens=java.base/java.util.concurrent.atomic=ALL-UNNAMED",
    "--add-opens=java.base/java.lang=ALL-UNNAMED",
    "--add-opens=java.base/java.math=ALL-UNNAMED",
    "--add-opens=java.base/java.lang.reflect=ALL-UNNAMED",
    "--add-opens=java.base/java.net=ALL-UNNAMED",
];

pub struct CassandraNode {
    child: Child,
    pub cql: String,
    pub log: PathBuf,
    ports: [u16; 3],
}

impl Drop for CassandraNode {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn lib_dir() -> PathBuf {
    let dir = std::env::var_os("HUTONG_CASSANDRA_LIB").map(PathBuf::from).expect(
        "HUTONG_CASSANDRA_LIB is not set: run the tests with `cargo xtask test`, which fetches Cassandra from Maven Central",
    );
    assert!(dir.join("jamm-0.4.0.jar").exists(), "no Cassandra jars in {}", dir.display());
    dir
}

impl CassandraNode {
    /// Starts a single node with its data under `dir` and waits until it takes CQL clients.
    pub fn start(dir: &Path) -> CassandraNode {
        // Below the ephemeral range: the node may be started again on the same ports.
        Self::start_on(dir, [free_fixed_port(), free_fixed_port(), free_fixed_port()])
    }

    /// `start` off the async runtime's threads (a node takes seconds to come up).
    pub async fn start_blocking(dir: PathBuf) -> CassandraNode {
        tokio::task::spawn_blocking(move || Self::start(&dir)).await.expect("the node starter did not panic")
    }

    /// The ports a node listens on: CQL, storage, JMX — to start it again where it was.
    pub fn ports(&self) -> [u16; 3] {
        self.ports
    }

    /// Starts a node on the given CQL, storage and JMX ports (again, after a stop).
    pub fn start_on(dir: &Path, ports: [u16; 3]) -> CassandraNode {
        let lib = lib_dir();
        let [cql_port, storage_port, jmx_port] = ports;
        std::fs::create_dir_all(dir).unwrap();
        let d = dir.display();
        let yaml = format!(
            "cluster_name: hutong-test\nnum_tokens: 1\ninitial_token: 0\n\
             partitioner: org.apache.cassandra.dht.Murmur3Partitioner\n\
             commitlog_sync: batch\n\
             data_file_directories: [{d}/data]\ncommitlog_directory: {d}/commitlog\n\
             saved_caches_directory: {d}/saved_caches\nhints_directory: {d}/hints\ncdc_raw_directory: {d}/cdc\n\
             seed_provider:\n  - class_name: org.apache.cassandra.locator.SimpleSeedProvider\n    parameters:\n      - seeds: \"127.0.0.1:{storage_port}\"\n\
             listen_address: 127.0.0.1\nrpc_address: 127.0.0.1\nstorage_port: {storage_port}\n\
             native_transport_port: {cql_port}\nstart_native_transport: true\nendpoint_snitch: SimpleSnitch\n\
             concurrent_reads: 8\nconcurrent_writes: 8\ndynamic_snitch: false\n"
        );
        let config = dir.join("cassandra.yaml");
        std::fs::write(&config, yaml).unwrap();
        let logback = Path::new(env!("CARGO_MANIFEST_DIR")).join("cassandra/logback.xml");
        let classpath: Vec<String> = std::fs::read_dir(&lib)
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "jar"))
            .map(|p| p.display().to_string())
            .collect();
        let log = dir.join("cassandra.log");
        let _ = std::fs::remove_file(&log);
        let out = std::fs::File::create(&log).unwrap();
        let child = Command::new("java")
            .args(["-Xms512m", "-Xmx1g", "-XX:+UseG1GC", "-XX:+ExitOnOutOfMemoryError"])
            .arg(format!("-javaagent:{}", lib.join("jamm-0.4.0.jar").display()))
            .args(JDK17_FLAGS)
            .arg(format!("-Dcassandra.config=file://{}", config.display()))
            .arg(format!("-Dlogback.configurationFile={}", logback.display()))
            .arg(format!("-Dcassandra.jmx.local.port={jmx_port}"))
            .args(["-Dcassandra-foreground=yes", "-Dcassandra.ring_delay_ms=0", "-Dcassandra.skip_wait_for_gossip_to_settle=0"])
            .arg(format!("-Dcassandra.storagedir={d}"))
            .arg("-cp")
            .arg(classpath.join(":"))
            .arg("org.apache.cassandra.service.CassandraDaemon")
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .stdin(Stdio::null())
            .spawn()
            .expect("java (JDK 17) is on this machine");
        let node = CassandraNode { child, cql: format!("127.0.0.1:{cql_port}"), log, ports };
        let deadline = Instant::now() + Duration::from_secs(180);
        loop {
            let text = std::fs::read_to_string(&node.log).unwrap_or_default();
            if text.contains("Startup complete") && std::net::TcpStream::connect(&node.cql).is_ok() {
                return node;
            }
            assert!(Instant::now() < deadline, "Cassandra did not start in 180 s; its log:\n{text}");
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}
