//! Reading an uploaded spreadsheet for an import, within bounds (review I1): CSV and XLSX are
//! read row by row into the template's reader, so memory follows the widest row; a legacy XLS,
//! which its library can only read whole (a sparse sheet of 10 MB can ask for gigabytes), is
//! first turned into CSV by `hutong sheet-convert` in a child process whose memory and CPU the
//! kernel caps — a hostile file kills that child, never the server. One import per community
//! runs at a time; the next is told to wait.

use std::collections::HashSet;
use std::sync::Mutex;
use std::time::Duration;

use axum::body::Bytes;
use hutong_core::import::sheet::{self, Format, Limits, RowSink, SheetError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::error::ApiError;

/// Memory the XLS converter may use (data and heap; the binary's own pages are not counted).
const CONVERTER_MEMORY: u64 = 256 << 20;
/// CPU seconds, and wall seconds, the converter may take.
const CONVERTER_SECONDS: u64 = 20;

/// Work one key may run once at a time — an import per community, an export per account — and
/// a few of in all, so a repeated heavy request queues nobody else behind it (review I1, I2).
pub struct Slots {
    running: Mutex<HashSet<String>>,
    most: usize,
    busy: (&'static str, &'static str),
}

impl Default for Slots {
    fn default() -> Self {
        Slots::new(usize::MAX, ("本小区已有一个导入正在进行，请待其完成后再试", "an import into this community is running; try again when it has finished"))
    }
}

/// Exports: one per account at a time, two in all (each copies every matching row).
pub fn exports() -> Slots {
    Slots::new(2, ("您已有一个导出正在进行，请待其完成后再试", "an export of yours is running; try again when it has finished"))
}

/// One key's slot, freed when dropped.
pub struct Slot<'a> {
    slots: &'a Slots,
    key: String,
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.slots.running.lock().unwrap_or_else(|e| e.into_inner()).remove(&self.key);
    }
}

impl Slots {
    /// At most `most` at once in all; `busy` is what the next one of a key hears.
    pub fn new(most: usize, busy: (&'static str, &'static str)) -> Self {
        Slots { running: Mutex::default(), most, busy }
    }

    pub fn start(&self, key: &str) -> Result<Slot<'_>, ApiError> {
        let mut running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        if running.len() >= self.most {
            return Err(ApiError::RateLimited { zh: "系统正忙于其他导出，请稍后再试".into(), en: "the server is busy with other exports; try again shortly".into() });
        }
        if !running.insert(key.to_string()) {
            return Err(ApiError::Conflict { zh: self.busy.0.into(), en: self.busy.1.into() });
        }
        Ok(Slot { slots: self, key: key.to_string() })
    }
}

/// The upload's rows, fed to `sink` one at a time; a refused file is a 400 with its sentence.
pub async fn read<R: RowSink + Send + 'static>(body: Bytes, mut sink: R) -> Result<R, ApiError> {
    let body = if sheet::sniff(&body) == Format::Xls { Bytes::from(xls_as_csv(body).await?) } else { body };
    let read = tokio::task::spawn_blocking(move || sheet::for_each_row(&body, Limits::default(), |i, cells| sink.row(i, cells)).map(|()| sink))
        .await
        .map_err(crate::error::internal)?;
    read.map_err(refused)
}

fn refused(e: SheetError) -> ApiError {
    let (zh, en) = ApiError::bilingual(&e);
    ApiError::BadRequest { zh, en }
}

/// `hutong sheet-convert`: an XLS on stdin, CSV on stdout (the child's side). It caps its own
/// memory and CPU before it reads a byte.
pub fn convert_stdin() -> Result<(), String> {
    use std::io::{Read, Write};
    rlimit::setrlimit(rlimit::Resource::DATA, CONVERTER_MEMORY, CONVERTER_MEMORY).map_err(|e| e.to_string())?;
    rlimit::setrlimit(rlimit::Resource::CPU, CONVERTER_SECONDS, CONVERTER_SECONDS).map_err(|e| e.to_string())?;
    let limits = Limits::default();
    let mut bytes = Vec::new();
    std::io::stdin().take(limits.max_bytes as u64 + 1).read_to_end(&mut bytes).map_err(|e| e.to_string())?;
    let csv = sheet::xls_to_csv(&bytes, limits).map_err(|e| e.to_string())?;
    std::io::stdout().write_all(&csv).map_err(|e| e.to_string())
}

async fn xls_as_csv(body: Bytes) -> Result<Vec<u8>, ApiError> {
    let unreadable = |why: &str| ApiError::BadRequest {
        zh: format!("无法读取此 xls 文件（{why}），请另存为 xlsx 或 csv 后再上传"),
        en: format!("cannot read this xls file ({why}); save it as xlsx or csv and upload that"),
    };
    let exe = std::env::current_exe().map_err(crate::error::internal)?;
    let mut command = tokio::process::Command::new(exe);
    command.arg("sheet-convert").stdin(std::process::Stdio::piped()).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).kill_on_drop(true);
    let mut child = command.spawn().map_err(|e| ApiError::Internal(format!("sheet converter: {e}")))?;
    let mut stdin = child.stdin.take().ok_or_else(|| ApiError::Internal("sheet converter: no stdin".into()))?;
    let mut stdout = child.stdout.take().ok_or_else(|| ApiError::Internal("sheet converter: no stdout".into()))?;
    let mut stderr = child.stderr.take().ok_or_else(|| ApiError::Internal("sheet converter: no stderr".into()))?;
    let limit = Limits::default().max_unzipped;
    let work = async {
        let (mut csv, mut why) = (Vec::new(), String::new());
        let feed = async move {
            // Closing stdin tells the child the file has ended.
            let done = stdin.write_all(&body).await;
            drop(stdin);
            done
        };
        let mut bounded = (&mut stdout).take(limit + 1);
        let (_, read, _) = tokio::join!(feed, bounded.read_to_end(&mut csv), stderr.read_to_string(&mut why));
        read.map_err(|e| e.to_string())?;
        let status = child.wait().await.map_err(|e| e.to_string())?;
        match (status.success(), csv.len() as u64 > limit) {
            (true, false) => Ok(csv),
            (true, true) => Err("too large".to_string()),
            (false, _) => Err(why.lines().last().map(str::to_string).filter(|w| !w.is_empty()).unwrap_or_else(|| "too large or malformed".into())),
        }
    };
    match tokio::time::timeout(Duration::from_secs(CONVERTER_SECONDS), work).await {
        Ok(Ok(csv)) => Ok(csv),
        Ok(Err(why)) => Err(unreadable(&why)),
        Err(_) => Err(unreadable("took too long")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_import_per_community_at_a_time() {
        let slots = Slots::default();
        let slot = slots.start("heyuan").unwrap();
        assert!(matches!(slots.start("heyuan"), Err(ApiError::Conflict { .. })));
        assert!(slots.start("lianyuan").is_ok());
        drop(slot);
        assert!(slots.start("heyuan").is_ok());
    }
}
