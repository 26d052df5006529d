//! `cargo xtask …`: the project's two commands and its benchmarks. Each installs what it needs
//! on a fresh machine (wasm32 target, the wasm-bindgen CLI pinned to Cargo.lock, Debian's
//! mosquitto, chromium and CJK fonts) before it builds.
//!
//! - `cargo xtask demo [hutong demo flags]`: build the dashboards and the server, start the demo.
//! - `cargo xtask test`: install test tools, build, run every test.
//! - `cargo xtask bench ingest [flags]`: the end-to-end ingest benchmark.
//! - `cargo xtask bench billing`, `cargo xtask bench import`: bill runs and imports at scale.
//! - `cargo xtask bench payments`: a cashier's payments one after another, end to end.
//! - `cargo xtask bench abuse`, `recovery`: an anonymous flood; a restart of 100k devices.
//! - `cargo xtask bench fanout [--screens 1000,3000,10000]`: thousands of live screens at once.
//! - `cargo xtask bench patrol [--routes 10000]`: every patrol window closing in one second.
//! - `cargo xtask bench workorders [--orders 100000 --burst 1000]`: a thousand deadlines passing in one second.
//! - `cargo xtask bench pay [--homes 10000 --clients 32]`: owners paying online through the sandbox provider.
//! - `cargo xtask bench journal`: journal appends on SQLite and on a real CQL node, beside the raw driver.
//! - `cargo xtask dashboards`: build the dashboards only.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

/// The workspace `cargo xtask` was run in: the nearest directory up from here whose Cargo.toml
/// declares the workspace. (Not the directory xtask was compiled in: two checkouts sharing one
/// target directory would otherwise run each other's code.)
fn root() -> PathBuf {
    let here = std::env::current_dir().ok();
    here.iter()
        .flat_map(|d| d.ancestors())
        .find(|d| std::fs::read_to_string(d.join("Cargo.toml")).is_ok_and(|t| t.contains("[workspace]") && t.contains("\"xtask\"")))
        .map(Path::to_path_buf)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask lives in the workspace").to_path_buf())
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| root().join("target"))
}

fn cargo() -> Command {
    let mut c = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    c.current_dir(root());
    c
}

fn run(cmd: &mut Command) -> anyhow::Result<()> {
    eprintln!("xtask: {cmd:?}");
    let status = cmd.status().with_context(|| format!("could not start {cmd:?}"))?;
    if !status.success() {
        bail!("{cmd:?} failed with {status}");
    }
    Ok(())
}

fn output(cmd: &mut Command) -> Option<String> {
    cmd.output().ok().filter(|o| o.status.success()).map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
}

/// The wasm32 target and a wasm-bindgen CLI of exactly the version Cargo.lock pins.
fn ensure_wasm_tools() -> anyhow::Result<()> {
    let installed = output(Command::new("rustup").args(["target", "list", "--installed"])).unwrap_or_default();
    if !installed.lines().any(|l| l.trim() == "wasm32-unknown-unknown") {
        run(Command::new("rustup").args(["target", "add", "wasm32-unknown-unknown"]))?;
    }
    let lock = std::fs::read_to_string(root().join("Cargo.lock")).context("Cargo.lock")?;
    let version = lock
        .split("[[package]]")
        .find(|p| p.contains("\nname = \"wasm-bindgen\"\n"))
        .and_then(|p| p.lines().find_map(|l| l.strip_prefix("version = \"")).map(|v| v.trim_end_matches('"').to_string()))
        .context("wasm-bindgen is not in Cargo.lock")?;
    let have = output(Command::new("wasm-bindgen").arg("--version")).unwrap_or_default();
    if have.split_whitespace().nth(1) != Some(version.as_str()) {
        // Not --locked: the CLI's own lock file may name versions a registry mirror lacks.
        run(cargo().args(["install", "wasm-bindgen-cli", "--version", &version]))?;
    }
    Ok(())
}

fn build_dashboards() -> anyhow::Result<PathBuf> {
    ensure_wasm_tools()?;
    run(cargo().args(["build", "-p", "hutong-dashboards", "--target", "wasm32-unknown-unknown", "--profile", "wasm-release"]))?;
    let wasm = target_dir().join("wasm32-unknown-unknown/wasm-release/hutong_dashboards.wasm");
    let dist = root().join("dashboards/dist");
    std::fs::create_dir_all(&dist)?;
    run(Command::new("wasm-bindgen").args(["--target", "web", "--no-typescript", "--out-dir"]).arg(&dist).arg(&wasm))?;
    std::fs::copy(root().join("dashboards/index.html"), dist.join("index.html"))?;
    Ok(dist)
}

/// Debian packages the tests use: a second broker, a browser, fonts to draw Chinese with (the
/// browser and the receipt PDFs), and poppler to read a PDF back.
fn ensure_test_packages() -> anyhow::Result<()> {
    ensure_packages(&[("mosquitto", "/usr/sbin/mosquitto"), ("chromium", "/usr/bin/chromium"), (FONTS.0, FONTS.1), ("poppler-utils", "/usr/bin/pdftotext")])
}

/// Receipts embed a CJK font; the demo needs it too.
const FONTS: (&str, &str) = ("fonts-noto-cjk", "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc");

fn ensure_packages(wanted: &[(&str, &str)]) -> anyhow::Result<()> {
    let missing: Vec<&str> = wanted.iter().filter(|(_, path)| !Path::new(path).exists()).map(|(p, _)| *p).collect();
    if missing.is_empty() {
        return Ok(());
    }
    let sudo: &[&str] = if output(Command::new("id").arg("-u")).is_some_and(|u| u.trim() == "0") { &[] } else { &["sudo"] };
    let apt = |args: &[&str]| {
        let mut all: Vec<&str> = sudo.to_vec();
        all.push("apt-get");
        all.extend_from_slice(args);
        let mut c = Command::new(all[0]);
        c.args(&all[1..]).env("DEBIAN_FRONTEND", "noninteractive");
        run(&mut c)
    };
    apt(&["update", "-q"])?;
    let mut args = vec!["install", "-y", "-q", "--no-install-recommends"];
    args.extend(missing.iter().copied());
    apt(&args)
}

/// Apache Cassandra's jars from Maven Central, cached outside the clone: the real CQL node the
/// ScyllaDB backend's tests run against.
fn ensure_cassandra() -> anyhow::Result<PathBuf> {
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(std::env::temp_dir);
    let lib = home.join(".cache/hutong-cassandra/5.0.4/lib");
    if lib.join("jamm-0.4.0.jar").exists() && std::fs::read_dir(&lib)?.flatten().any(|e| e.file_name().to_string_lossy().starts_with("cassandra-all")) {
        return Ok(lib);
    }
    let pom = root().join("tests/cassandra/pom.xml");
    let mut mvn = Command::new("mvn");
    mvn.args(["-q", "-B", "-f"]).arg(&pom).arg("dependency:copy-dependencies").arg(format!("-DoutputDirectory={}", lib.display()));
    run(&mut mvn).context("fetching Apache Cassandra from Maven Central (needs Java 17 and Maven)")?;
    Ok(lib)
}

fn release_binary() -> anyhow::Result<PathBuf> {
    run(cargo().args(["build", "--release", "-p", "hutong-web", "--bin", "hutong"]))?;
    Ok(target_dir().join("release/hutong"))
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("demo") => {
            ensure_packages(&[FONTS])?;
            let dist = build_dashboards()?;
            let bin = release_binary()?;
            let mut cmd = Command::new(bin);
            cmd.current_dir(root()).arg("demo").arg("--assets").arg(dist).args(&args[1..]);
            run(&mut cmd)
        }
        Some("test") => {
            ensure_test_packages()?;
            let cassandra = ensure_cassandra()?;
            let dist = build_dashboards()?;
            run(cargo().args(["build", "-p", "hutong-web", "--bin", "hutong"]))?;
            let bin = target_dir().join("debug/hutong");
            run(cargo()
                .args(["test", "--workspace", "--no-fail-fast"])
                .env("HUTONG_BIN", &bin)
                .env("HUTONG_ASSETS", &dist)
                .env("HUTONG_CASSANDRA_LIB", &cassandra))
        }
        Some("soak") => {
            // The long loops `test` runs briefly: the device decoders' fuzzer with 50× the cases,
            // then 1,000 kill -9 cycles of a QoS 1 device.
            run(cargo().args(["test", "--release", "-p", "hutong-device-bridge", "--test", "fuzz_decoders"]).env("HUTONG_FUZZ_CASES", "1000000"))?;
            let dist = build_dashboards()?;
            run(cargo().args(["build", "-p", "hutong-web", "--bin", "hutong"]))?;
            let bin = target_dir().join("debug/hutong");
            let cycles = args.get(1).cloned().unwrap_or_else(|| "1000".into());
            run(cargo()
                .args(["test", "-p", "hutong-tests", "--test", "device_endpoint", "every_acknowledged_reading_survives_kill_9", "--", "--nocapture"])
                .env("HUTONG_BIN", &bin)
                .env("HUTONG_ASSETS", &dist)
                .env("HUTONG_KILL_CYCLES", cycles))
        }
        Some("bench") if args.get(1).map(String::as_str) == Some("journal") => {
            let cassandra = ensure_cassandra()?;
            run(cargo()
                .args(["run", "--release", "-p", "hutong-tests", "--bin", "bench_journal", "--"])
                .args(&args[2..])
                .env("HUTONG_CASSANDRA_LIB", &cassandra))
        }
        Some("bench") => {
            // The benchmarks live outside the server binary (tests/src/bench, `hutong-bench`);
            // `abuse` floods the real server binary.
            run(cargo().args(["build", "--release", "-p", "hutong-tests", "--bin", "hutong-bench"]))?;
            let mut cmd = Command::new(target_dir().join("release/hutong-bench"));
            if args.get(1).map(String::as_str) == Some("abuse") {
                cmd.env("HUTONG_BIN", release_binary()?);
            }
            cmd.current_dir(root()).args(&args[1..]);
            run(&mut cmd)
        }
        Some("dashboards") => build_dashboards().map(|dist| eprintln!("xtask: dashboards built in {}", dist.display())),
        _ => bail!("usage: cargo xtask demo [flags] | test | soak [cycles] | bench ingest|billing|import|payments|abuse|recovery|fanout|patrol|workorders|pay|alarms [flags] | bench journal | dashboards"),
    }
}
