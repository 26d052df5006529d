//! `hutong bill-run`: a bill run from the command line against a running server, as a finance
//! clerk would start it at month end: sign in, preview (or commit) through the same API the screen
//! uses, and — while a committed run is working — a progress bar that counts the buildings whose
//! books have been written, from the same `/ws/money` stream the screens watch.

use std::collections::BTreeSet;
use std::io::Write as _;

use anyhow::{Context, bail};
use futures_util::StreamExt;
use hutong_core::live::{LiveBody, ServerMessage};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[derive(Debug, Clone, clap::Args)]
pub struct BillRunArgs {
    /// The server, http://host:port.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// A staff account allowed to write bills (finance, admin).
    #[arg(long)]
    pub account: String,
    /// Refused: the account's password comes from HUTONG_PASSWORD, never the command line.
    #[arg(long = "password", hide = true)]
    pub password_flag: Option<String>,
    /// The community id, e.g. heyuan.
    #[arg(long)]
    pub community: String,
    /// monthly, quarterly or yearly.
    #[arg(long, default_value = "monthly")]
    pub cycle: String,
    /// in_advance (this cycle) or in_arrears (the one before).
    #[arg(long, default_value = "in_advance")]
    pub timing: String,
    /// The day the run is for (YYYY-MM-DD); today by default.
    #[arg(long)]
    pub on: Option<String>,
    /// Charge items, comma separated.
    #[arg(long, value_delimiter = ',', default_values_t = ["property".to_string(), "elevator".to_string(), "garbage".to_string()])]
    pub items: Vec<String>,
    /// Issue the bills; without it the run is only previewed.
    #[arg(long)]
    pub commit: bool,
}

/// One HTTP/1.1 request over a fresh connection; the body as JSON.
async fn call(host: &str, method: &str, path: &str, token: Option<&str>, body: Option<&Value>) -> anyhow::Result<(u16, Value)> {
    let mut stream = tokio::net::TcpStream::connect(host).await.with_context(|| format!("无法连接 / cannot reach {host}"))?;
    let body = body.map(Value::to_string).unwrap_or_default();
    let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n").context("no HTTP answer")?;
    let status: u16 = head.split_whitespace().nth(1).context("no status")?.parse()?;
    Ok((status, serde_json::from_str(body).unwrap_or(Value::String(body.to_string()))))
}

fn refusal(v: &Value) -> String {
    v["error"]["message"].as_str().map_or_else(|| v.to_string(), str::to_string)
}

fn bar(done: usize, all: usize) {
    let width = 40;
    let filled = done.min(all) * width / all.max(1);
    eprint!("\r  [{}{}] {done}/{all} 栋 / buildings", "#".repeat(filled), ".".repeat(width - filled));
    let _ = std::io::stderr().flush();
}

pub async fn run(args: BillRunArgs) -> anyhow::Result<()> {
    let password = crate::config::secret(&args.password_flag, "--password", "HUTONG_PASSWORD")?
        .context("缺少密码：请设置 HUTONG_PASSWORD / no password: set HUTONG_PASSWORD")?;
    let host = args.url.strip_prefix("http://").context("--url must be http://host:port")?.trim_end_matches('/').to_string();
    let (status, login) = call(&host, "POST", "/api/v1/auth/login", None, Some(&json!({"account": args.account, "password": password}))).await?;
    if status != 200 {
        bail!("登录失败 / sign-in failed: {}", refusal(&login));
    }
    let token = login["token"].as_str().context("no token")?.to_string();
    let (status, community) = call(&host, "GET", &format!("/api/v1/communities/{}", args.community), Some(&token), None).await?;
    if status != 200 {
        bail!("{}", refusal(&community));
    }
    let buildings = community["buildings"].as_array().map_or(0, Vec::len);
    let mut body = json!({"cycle": args.cycle, "timing": args.timing, "items": args.items, "commit": args.commit});
    if let Some(on) = &args.on {
        body["on"] = json!(on);
    }
    // Watch the money stream first, so no building's change is missed.
    let progress = if args.commit {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let mut request = format!("ws://{host}/ws/money?community={}", args.community).into_client_request()?;
        request.headers_mut().insert("Authorization", format!("Bearer {token}").parse()?);
        let (mut ws, _) = tokio_tungstenite::connect_async(request).await.context("money stream")?;
        bar(0, buildings);
        Some(tokio::spawn(async move {
            let mut seen = BTreeSet::new();
            while let Some(Ok(message)) = ws.next().await {
                let Ok(text) = message.into_text() else { continue };
                let Ok(message) = serde_json::from_str::<ServerMessage>(&text) else { continue };
                for event in message.events() {
                    if let LiveBody::MoneyDetail(money) = &event.body {
                        seen.insert(money.building.clone());
                    }
                }
                bar(seen.len(), buildings);
            }
        }))
    } else {
        None
    };
    let (status, result) = call(&host, "POST", &format!("/api/v1/communities/{}/bill-runs", args.community), Some(&token), Some(&body)).await?;
    if let Some(p) = progress {
        p.abort();
        // Every building has answered the run by now, whether or not its money event arrived yet.
        if status == 200 {
            bar(buildings, buildings);
        }
        eprintln!();
    }
    if status != 200 {
        bail!("{}", refusal(&result));
    }
    println!(
        "{} {} ~ {}: {} 笔 / bills, ¥{}, 已存在跳过 / already billed {}, 无价格 / without a price {}, {} ms",
        if args.commit { "已生成 / issued" } else { "预览 / preview" },
        result["period_start"].as_str().unwrap_or_default(),
        result["period_end"].as_str().unwrap_or_default(),
        result["bills"],
        result["amount"].as_str().unwrap_or_default(),
        result["skipped"],
        result["problem_count"],
        result["elapsed_ms"],
    );
    for item in result["by_item"].as_array().into_iter().flatten() {
        println!("  {:<8} {:>7} 笔  ¥{}", item["name"].as_str().unwrap_or_default(), item["bills"], item["amount"].as_str().unwrap_or_default());
    }
    Ok(())
}
