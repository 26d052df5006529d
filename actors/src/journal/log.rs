//! The append-only log journal (the performance review's plan, §2.5): every append is one
//! checksummed frame at the end of a segment file, a group commit is one `pwrite` and one
//! `fdatasync`, and the index (each stream's head, its last frame and its newest snapshot) lives
//! in memory, rebuilt at start from a checkpoint plus one scan of the log after it.
//!
//! # On disk (`data/log/`)
//! - `{n:08}.seg`: segments of [`LogOptions::segment_bytes`], zero-filled when created (so a
//!   commit overwrites zeros instead of growing the file, and the end of the data reads as a zero
//!   length). Frames never span segments; a `ROLL` marker sends the reader to the next one.
//! - `checkpoint`: the index as of a batch boundary, written aside, synced, renamed, and the
//!   directory synced.
//!
//! # Frames (little endian)
//! `len u32 | crc u32 | body` with `crc = crc32(body)`; the body starts with its kind:
//! - events: `1 | gseq u64 | stream u32 | first_seq u64 | count u32 | at_ms i64 | prev_pos u64 |
//!   count × len u32 | payloads`. `prev_pos` is the stream's previous events frame, so a replay
//!   walks back from the stream's last frame and reads nothing of other streams.
//! - snapshot: the same layout, kind 2, `first_seq` = the snapshot's seq, one payload.
//! - stream name: kind 3, once per stream, the name as the one payload (streams are numbered).
//! - commit: `4 | MAGIC u64 | gseq u64 | batch_start u64 | batch_crc u32`, closing every batch.
//!
//! # Why a batch is closed by a commit frame
//! Recovery accepts a batch only with its commit frame, whose CRC covers the whole batch: a batch
//! whose write was torn by a crash or a power cut (any subset of its pages on disk) has no valid
//! commit and is cut off whole — it was never acknowledged, since acknowledgement waits for its
//! `fdatasync`. The writer starts a batch only after the previous one is durable, so a valid
//! commit frame *after* a bad batch means damage in the middle of the log: the journal then
//! refuses to open and says where, rather than drop acknowledged events silently.
//!
//! # Failure
//! A failed write or sync stops the journal for good (fail-stop, no retried `fsync`): every
//! pending and later append fails, [`Journal::failure`] says why, and the process restarts from
//! what the disk holds.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};

use super::{Append, BoxFuture, Journal, JournalError, Record, Snapshot};

const KIND_EVENTS: u8 = 1;
const KIND_SNAPSHOT: u8 = 2;
const KIND_NAME: u8 = 3;
const KIND_COMMIT: u8 = 4;
/// A length that sends the reader to the next segment.
const ROLL: u32 = u32::MAX;
const HEADER: usize = 8;
/// kind, gseq, stream, first_seq, count, at_ms, prev_pos.
const FIXED: usize = 1 + 8 + 4 + 8 + 4 + 8 + 8;
const COMMIT_BODY: usize = 1 + 8 + 8 + 8 + 4;
const MAGIC: u64 = 0x6875_746f_6e67_4c47; // "hutongLG"
const NONE: u64 = u64::MAX;
/// A batch stops taking requests past this many bytes.
const BATCH_BYTES: usize = 4 << 20;

fn pos(segment: u32, offset: u64) -> u64 {
    (u64::from(segment) << 40) | offset
}

fn split(pos: u64) -> (u32, u64) {
    ((pos >> 40) as u32, pos & ((1 << 40) - 1))
}

#[derive(Clone, Debug)]
pub struct LogOptions {
    pub dir: PathBuf,
    /// Size of a segment (a larger frame gets a segment of its own size).
    pub segment_bytes: u64,
    /// Requests taken into one group commit at most.
    pub max_batch: usize,
    /// Cap on the log's data in MiB (segments left behind count whole): past it, writes fail
    /// as on a full disk (fail-stop).
    pub max_mib: Option<u64>,
    /// A checkpoint after this many bytes of log…
    pub checkpoint_bytes: u64,
    /// …or this long, whichever comes first.
    pub checkpoint_every: Duration,
}

impl LogOptions {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        LogOptions {
            dir: dir.into(),
            segment_bytes: 128 << 20,
            max_batch: 4096,
            max_mib: None,
            checkpoint_bytes: 64 << 20,
            checkpoint_every: Duration::from_secs(60),
        }
    }
}

fn io(e: impl std::fmt::Display) -> JournalError {
    JournalError::Store(e.to_string())
}

/// Where one stream stands.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct StreamState {
    name: Arc<str>,
    head: u64,
    /// Its last events frame, or `NONE`.
    last_pos: u64,
    /// Its newest snapshot frame, or `NONE`.
    snap_pos: u64,
    snap_seq: u64,
}

#[derive(Default, Serialize, Deserialize)]
struct Index {
    streams: Vec<StreamState>,
    #[serde(skip)]
    ids: HashMap<Arc<str>, u32>,
}

impl Index {
    fn id(&self, name: &str) -> Option<u32> {
        self.ids.get(name).copied()
    }

    fn reindex(&mut self) {
        self.ids = self.streams.iter().enumerate().map(|(i, s)| (s.name.clone(), i as u32)).collect();
    }
}

/// The checkpoint file: the index as of a batch boundary.
#[derive(Serialize, Deserialize)]
struct Checkpoint {
    gseq: u64,
    segment: u32,
    offset: u64,
    index: Index,
}

enum Request {
    Append(Append, oneshot::Sender<Result<u64, JournalError>>),
    Snapshot(Snapshot, oneshot::Sender<Result<(), JournalError>>),
}

/// Read-only handles on the segments, shared by readers.
#[derive(Default)]
struct Segments {
    dir: PathBuf,
    open: Mutex<HashMap<u32, Arc<File>>>,
}

impl Segments {
    fn path(dir: &Path, segment: u32) -> PathBuf {
        dir.join(format!("{segment:08}.seg"))
    }

    fn file(&self, segment: u32) -> Result<Arc<File>, JournalError> {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(f) = open.get(&segment) {
            return Ok(f.clone());
        }
        let f = Arc::new(File::open(Self::path(&self.dir, segment)).map_err(io)?);
        open.insert(segment, f.clone());
        Ok(f)
    }

    /// The body of the frame at `pos`, checked.
    fn frame(&self, at: u64) -> Result<Vec<u8>, JournalError> {
        let (segment, offset) = split(at);
        let file = self.file(segment)?;
        let mut header = [0u8; HEADER];
        file.read_exact_at(&mut header, offset).map_err(io)?;
        let len = u32::from_le_bytes(header[..4].try_into().unwrap_or_default()) as usize;
        let crc = u32::from_le_bytes(header[4..].try_into().unwrap_or_default());
        let mut body = vec![0u8; len];
        file.read_exact_at(&mut body, offset + HEADER as u64).map_err(io)?;
        if crc32fast::hash(&body) != crc {
            return Err(JournalError::Store(format!("log frame at segment {segment} offset {offset} fails its checksum")));
        }
        Ok(body)
    }
}

/// A decoded events or snapshot frame.
struct Frame<'a> {
    kind: u8,
    gseq: u64,
    stream: u32,
    first_seq: u64,
    at_ms: i64,
    prev_pos: u64,
    payloads: Vec<&'a [u8]>,
}

fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn decode(body: &[u8]) -> Option<Frame<'_>> {
    let kind = *body.first()?;
    if !matches!(kind, KIND_EVENTS | KIND_SNAPSHOT | KIND_NAME) {
        return None;
    }
    let count = u32_at(body, 21)? as usize;
    let mut at = FIXED + count.checked_mul(4)?;
    let mut payloads = Vec::with_capacity(count);
    for i in 0..count {
        let len = u32_at(body, FIXED + i * 4)? as usize;
        payloads.push(body.get(at..at.checked_add(len)?)?);
        at += len;
    }
    Some(Frame {
        kind,
        gseq: u64_at(body, 1)?,
        stream: u32_at(body, 9)?,
        first_seq: u64_at(body, 13)?,
        at_ms: u64_at(body, 25)? as i64,
        prev_pos: u64_at(body, 33)?,
        payloads,
    })
}

fn encode(buf: &mut Vec<u8>, kind: u8, gseq: u64, stream: u32, first_seq: u64, at_ms: i64, prev_pos: u64, payloads: &[&[u8]]) {
    let start = buf.len();
    buf.extend_from_slice(&[0; HEADER]);
    buf.push(kind);
    buf.extend_from_slice(&gseq.to_le_bytes());
    buf.extend_from_slice(&stream.to_le_bytes());
    buf.extend_from_slice(&first_seq.to_le_bytes());
    buf.extend_from_slice(&(payloads.len() as u32).to_le_bytes());
    buf.extend_from_slice(&at_ms.to_le_bytes());
    buf.extend_from_slice(&prev_pos.to_le_bytes());
    for p in payloads {
        buf.extend_from_slice(&(p.len() as u32).to_le_bytes());
    }
    for p in payloads {
        buf.extend_from_slice(p);
    }
    seal(buf, start);
}

/// Writes the length and checksum of the frame that starts at `start`.
fn seal(buf: &mut [u8], start: usize) {
    let body = &buf[start + HEADER..];
    let (len, crc) = (body.len() as u32, crc32fast::hash(body));
    buf[start..start + 4].copy_from_slice(&len.to_le_bytes());
    buf[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
}

fn frame_len(payloads: usize, bytes: usize) -> usize {
    HEADER + FIXED + payloads * 4 + bytes
}

const COMMIT_LEN: usize = HEADER + COMMIT_BODY;

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Creates a segment of `bytes` zeros, durable with its directory entry.
fn create_segment(dir: &Path, segment: u32, bytes: u64) -> std::io::Result<File> {
    let path = Segments::path(dir, segment);
    let file = OpenOptions::new().read(true).write(true).create(true).truncate(true).open(&path)?;
    let zeros = vec![0u8; 1 << 20];
    let mut at = 0;
    while at < bytes {
        let n = (bytes - at).min(zeros.len() as u64) as usize;
        file.write_all_at(&zeros[..n], at)?;
        at += n as u64;
    }
    file.sync_all()?;
    sync_dir(dir)?;
    Ok(file)
}

/// The log journal; see the module documentation.
pub struct LogJournal {
    writes: mpsc::Sender<Request>,
    index: Arc<RwLock<Index>>,
    segments: Arc<Segments>,
    failed: Arc<Mutex<Option<String>>>,
}

struct Writer {
    /// Held while the writer runs: one process at a time writes a log directory.
    _lock: File,
    options: LogOptions,
    index: Arc<RwLock<Index>>,
    failed: Arc<Mutex<Option<String>>>,
    file: File,
    segment: u32,
    size: u64,
    /// Where the next batch starts.
    offset: u64,
    /// Bytes of log written in all (earlier segments whole, this one up to `offset`), for the cap.
    written: u64,
    gseq: u64,
    since_checkpoint: u64,
    checkpointed_at: Instant,
    buf: Vec<u8>,
}

/// What recovery found: the index, and where writing resumes.
struct Recovered {
    index: Index,
    gseq: u64,
    segment: u32,
    offset: u64,
    /// Bytes of log read past the checkpoint.
    scanned: u64,
}

/// A start that had to read this much log past the checkpoint writes a new one as it starts serving,
/// so restarts in a row (a crash loop, short lives) do not each read further.
const CHECKPOINT_AFTER_SCAN: u64 = 8 << 20;

impl LogJournal {
    /// Opens the log in `options.dir` (creating it), recovering from the checkpoint and one scan
    /// of the tail; a torn last batch is cut off, damage in the middle refuses to open.
    pub fn open(options: LogOptions) -> Result<Self, JournalError> {
        std::fs::create_dir_all(&options.dir).map_err(io)?;
        let lock = lock(&options.dir)?;
        let recovered = recover(&options.dir)?;
        let Recovered { index, gseq, segment, offset, scanned } = recovered;
        let path = Segments::path(&options.dir, segment);
        let file = match OpenOptions::new().read(true).write(true).open(&path) {
            Ok(f) => f,
            Err(_) => create_segment(&options.dir, segment, options.segment_bytes).map_err(io)?,
        };
        let size = file.metadata().map_err(io)?.len();
        let earlier: u64 = (0..segment).filter_map(|n| std::fs::metadata(Segments::path(&options.dir, n)).ok()).map(|m| m.len()).sum();
        let index = Arc::new(RwLock::new(index));
        let failed = Arc::new(Mutex::new(None));
        let (tx, rx) = mpsc::channel(options.max_batch.max(1) * 4);
        let segments = Arc::new(Segments { dir: options.dir.clone(), open: Mutex::default() });
        let writer = Writer {
            _lock: lock,
            options,
            index: index.clone(),
            failed: failed.clone(),
            file,
            segment,
            size,
            offset,
            written: earlier + offset,
            gseq,
            since_checkpoint: scanned,
            checkpointed_at: Instant::now(),
            buf: Vec::with_capacity(BATCH_BYTES + (1 << 16)),
        };
        std::thread::Builder::new().name("journal-log".into()).spawn(move || writer.run(rx)).map_err(io)?;
        Ok(LogJournal { writes: tx, index, segments, failed })
    }

    fn state(&self, stream: &str) -> Option<StreamState> {
        let index = self.index.read().unwrap_or_else(|e| e.into_inner());
        index.id(stream).map(|id| index.streams[id as usize].clone())
    }

    fn replay_blocking(&self, stream: &str, after: u64, limit: usize) -> Result<Vec<Record>, JournalError> {
        let Some(state) = self.state(stream) else { return Ok(Vec::new()) };
        // Walk back from the last frame to the one holding `after + 1`, then read forwards.
        let mut frames = Vec::new();
        let mut at = state.last_pos;
        while at != NONE {
            let body = self.segments.frame(at)?;
            let frame = decode(&body).ok_or_else(|| JournalError::Store(format!("{stream}: unreadable log frame")))?;
            let (first, prev) = (frame.first_seq, frame.prev_pos);
            frames.push(body);
            if first <= after + 1 {
                break;
            }
            at = prev;
        }
        let mut records = Vec::new();
        for body in frames.iter().rev() {
            let Some(frame) = decode(body) else { continue };
            for (i, payload) in frame.payloads.iter().enumerate() {
                let seq = frame.first_seq + i as u64;
                if seq > after && records.len() < limit {
                    records.push(Record { stream: stream.to_string(), seq, at_ms: frame.at_ms, payload: payload.to_vec() });
                }
            }
        }
        Ok(records)
    }
}

/// Takes the directory's lock, waiting a little for a writer of this process that is closing.
fn lock(dir: &Path) -> Result<File, JournalError> {
    let file = OpenOptions::new().write(true).create(true).truncate(false).open(dir.join("lock")).map_err(io)?;
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(file),
            Err(std::fs::TryLockError::WouldBlock) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => {
                return Err(JournalError::Store(format!(
                    "日志目录 {} 正被另一个 Hutong 进程使用 / the journal at {} is in use by another Hutong process ({e})",
                    dir.display(),
                    dir.display()
                )));
            }
        }
    }
}

/// Rebuilds the index: the checkpoint, then every whole batch after it.
fn recover(dir: &Path) -> Result<Recovered, JournalError> {
    let mut numbers: Vec<u32> = std::fs::read_dir(dir)
        .map_err(io)?
        .filter_map(|e| e.ok()?.file_name().to_str()?.strip_suffix(".seg")?.parse().ok())
        .collect();
    numbers.sort_unstable();
    let checkpoint: Option<Checkpoint> = std::fs::read(dir.join("checkpoint")).ok().and_then(|bytes| {
        let (crc, json) = bytes.split_at_checked(4)?;
        (u32::from_le_bytes(crc.try_into().ok()?) == crc32fast::hash(json)).then(|| serde_json::from_slice(json).ok()).flatten()
    });
    let (mut index, mut gseq, mut segment, mut offset) = match checkpoint {
        Some(c) if numbers.contains(&c.segment) => (c.index, c.gseq, c.segment, c.offset),
        _ => (Index::default(), 0, numbers.first().copied().unwrap_or(0), 0),
    };
    index.reindex();
    let mut scanned = 0;
    loop {
        let path = Segments::path(dir, segment);
        let Ok(bytes) = std::fs::read(&path) else {
            // A segment not created yet (a crash between a roll and the next segment): start it.
            return Ok(Recovered { index, gseq, segment, offset, scanned });
        };
        match scan(&bytes, offset, &mut index, &mut gseq, segment) {
            Scan::Rolled => {
                scanned += (bytes.len() as u64).saturating_sub(offset);
                segment += 1;
                offset = 0;
            }
            Scan::End(at) => {
                // The data ends here: nothing acknowledged may follow, in this segment or a later one.
                let torn = at < bytes.len() as u64 && bytes[at as usize..].iter().any(|b| *b != 0);
                let later: Vec<u32> = numbers.iter().copied().filter(|n| *n > segment).collect();
                let found = if torn { commit_after(&bytes, at, segment) } else { None }
                    .or_else(|| later.iter().find_map(|n| std::fs::read(Segments::path(dir, *n)).ok().and_then(|b| commit_after(&b, 0, *n))));
                if let Some(found) = found {
                    return Err(JournalError::Store(format!(
                        "日志在第 {segment} 段偏移 {at} 处损坏，其后仍有已确认的数据：拒绝启动 / the log is damaged in segment {segment} at offset {at} and acknowledged data follows ({found}); refusing to open rather than drop it"
                    )));
                }
                if torn {
                    // A torn last batch (never acknowledged): cut it off.
                    let file = OpenOptions::new().write(true).open(&path).map_err(io)?;
                    let zeros = vec![0u8; bytes.len() - at as usize];
                    file.write_all_at(&zeros, at).map_err(io)?;
                    file.sync_all().map_err(io)?;
                    tracing::warn!(segment, offset = at, "journal log: cut off a torn last batch (never acknowledged)");
                }
                for n in numbers.iter().filter(|n| **n > segment) {
                    std::fs::remove_file(Segments::path(dir, *n)).map_err(io)?;
                }
                sync_dir(dir).map_err(io)?;
                scanned += at.saturating_sub(offset);
                return Ok(Recovered { index, gseq, segment, offset: at, scanned });
            }
        }
    }
}

enum Scan {
    /// A ROLL marker after a whole batch: go on in the next segment.
    Rolled,
    /// The data ends (zeros, or a torn batch) at this offset, a batch boundary.
    End(u64),
}

/// Applies every whole batch of `bytes` from `start` to the index.
fn scan(bytes: &[u8], start: u64, index: &mut Index, gseq: &mut u64, segment: u32) -> Scan {
    let mut at = start as usize;
    let mut batch_start = at;
    // Frames of the current batch, applied when its commit checks out.
    let mut pending: Vec<(u64, usize, usize)> = Vec::new();
    loop {
        let Some(len) = u32_at(bytes, at) else { return Scan::End(batch_start as u64) };
        if len == ROLL && pending.is_empty() {
            return Scan::Rolled;
        }
        let len = len as usize;
        let Some(body) = (len > 0).then(|| bytes.get(at + HEADER..at + HEADER + len)).flatten() else {
            return Scan::End(batch_start as u64);
        };
        if u32_at(bytes, at + 4) != Some(crc32fast::hash(body)) {
            return Scan::End(batch_start as u64);
        }
        if body[0] == KIND_COMMIT {
            let whole = len == COMMIT_BODY
                && u64_at(body, 1) == Some(MAGIC)
                && u64_at(body, 17) == Some(batch_start as u64)
                && u32_at(body, 25) == Some(crc32fast::hash(&bytes[batch_start..at]));
            if !whole {
                return Scan::End(batch_start as u64);
            }
            for (g, frame_at, frame_len) in pending.drain(..) {
                let Some(frame) = decode(&bytes[frame_at + HEADER..frame_at + HEADER + frame_len]) else { continue };
                apply(index, &frame, pos(segment, frame_at as u64));
                *gseq = g;
            }
            at += HEADER + len;
            batch_start = at;
            continue;
        }
        match decode(body) {
            Some(frame) if frame.gseq == *gseq + pending.len() as u64 + 1 => pending.push((frame.gseq, at, len)),
            _ => return Scan::End(batch_start as u64),
        }
        at += HEADER + len;
    }
}

/// A valid commit frame anywhere in `bytes` from `from`: proof that data follows a damaged spot.
fn commit_after(bytes: &[u8], from: u64, segment: u32) -> Option<String> {
    let magic = MAGIC.to_le_bytes();
    let mut at = from as usize;
    while let Some(found) = bytes.get(at..)?.windows(8).position(|w| w == magic) {
        let magic_at = at + found;
        // The magic sits after the header and the kind byte.
        if let Some(frame_at) = magic_at.checked_sub(HEADER + 1)
            && let Some(body) = bytes.get(frame_at + HEADER..frame_at + HEADER + COMMIT_BODY)
            && u32_at(bytes, frame_at + 4) == Some(crc32fast::hash(body))
            && let Some(start) = u64_at(body, 17)
            && bytes.get(start as usize..frame_at).is_some_and(|batch| u32_at(body, 25) == Some(crc32fast::hash(batch)))
        {
            return Some(format!("a commit at segment {segment} offset {frame_at}"));
        }
        at = magic_at + 1;
    }
    None
}

fn apply(index: &mut Index, frame: &Frame<'_>, at: u64) {
    match frame.kind {
        KIND_NAME => {
            let name: Arc<str> = String::from_utf8_lossy(frame.payloads.first().copied().unwrap_or_default()).into();
            if frame.stream as usize == index.streams.len() {
                index.ids.insert(name.clone(), frame.stream);
                index.streams.push(StreamState { name, head: 0, last_pos: NONE, snap_pos: NONE, snap_seq: 0 });
            }
        }
        KIND_EVENTS => {
            if let Some(s) = index.streams.get_mut(frame.stream as usize) {
                s.head = frame.first_seq + frame.payloads.len() as u64 - 1;
                s.last_pos = at;
            }
        }
        KIND_SNAPSHOT => {
            if let Some(s) = index.streams.get_mut(frame.stream as usize)
                && (s.snap_pos == NONE || frame.first_seq >= s.snap_seq)
            {
                s.snap_pos = at;
                s.snap_seq = frame.first_seq;
            }
        }
        _ => {}
    }
}

enum Reply {
    Append(oneshot::Sender<Result<u64, JournalError>>, Result<u64, JournalError>),
    Snapshot(oneshot::Sender<Result<(), JournalError>>),
}

impl Writer {
    fn run(mut self, mut rx: mpsc::Receiver<Request>) {
        // Written here, not in `open`: recovery (reads only) goes on meanwhile, and a start does
        // not wait for it. A write arriving meanwhile waits for this one checkpoint.
        if self.since_checkpoint >= CHECKPOINT_AFTER_SCAN
            && let Err(e) = self.checkpoint()
        {
            tracing::warn!(error = %e, "journal log: checkpoint not written; the next start scans further");
        }
        let mut batch = Vec::with_capacity(self.options.max_batch);
        while let Some(first) = rx.blocking_recv() {
            batch.push(first);
            while batch.len() < self.options.max_batch {
                match rx.try_recv() {
                    Ok(next) => batch.push(next),
                    Err(_) => break,
                }
            }
            self.commit(&mut batch);
        }
    }

    fn fail_all(batch: impl Iterator<Item = Request>, err: &JournalError) {
        for request in batch {
            match request {
                Request::Append(_, tx) => drop(tx.send(Err(err.clone()))),
                Request::Snapshot(_, tx) => drop(tx.send(Err(err.clone()))),
            }
        }
    }

    fn commit(&mut self, batch: &mut Vec<Request>) {
        if let Some(first) = self.failed.lock().unwrap_or_else(|e| e.into_inner()).clone() {
            Self::fail_all(batch.drain(..), &JournalError::Store(format!("the journal stopped taking writes after a failure: {first}")));
            return;
        }
        // The batch's effect on the index, applied only once it is durable.
        let mut names: Vec<Arc<str>> = Vec::new();
        let mut changes: Vec<(u8, u32, u64, usize, u64)> = Vec::new(); // kind, stream, seq, payloads, pos
        let mut heads: HashMap<u32, (u64, u64)> = HashMap::new(); // stream → (head, last_pos) within the batch
        let mut replies = Vec::with_capacity(batch.len());
        let mut requests = std::mem::take(batch).into_iter();
        // Only this thread changes the index, and only after the batch: one read of it serves
        // the whole batch (streams new in the batch are numbered after `base`).
        let shared = self.index.clone();
        let index = shared.read().unwrap_or_else(|e| e.into_inner());
        let base = index.streams.len();
        let result = (|| -> std::io::Result<()> {
            self.buf.clear();
            let mut batch_start = self.offset;
            for request in requests.by_ref() {
                // Every request has its reply slot before anything can fail, so a failure answers it.
                let (stream, expected, at_ms, kind, payloads) = match request {
                    Request::Append(a, tx) => {
                        replies.push(Reply::Append(tx, Ok(0)));
                        (a.stream, a.expected, a.at_ms, KIND_EVENTS, a.payloads)
                    }
                    Request::Snapshot(s, tx) => {
                        replies.push(Reply::Snapshot(tx));
                        (s.stream, s.seq, 0, KIND_SNAPSHOT, vec![s.payload])
                    }
                };
                let slot = replies.len() - 1;
                let mut answer = |result: Result<u64, JournalError>| {
                    if let Some(Reply::Append(_, r)) = replies.get_mut(slot) {
                        *r = result;
                    }
                };
                let id = index.id(&stream).or_else(|| names.iter().position(|n| **n == *stream).map(|i| (base + i) as u32));
                let (head, last_pos) = match id {
                    Some(id) => heads.get(&id).copied().unwrap_or_else(|| index.streams.get(id as usize).map_or((0, NONE), |s| (s.head, s.last_pos))),
                    None => (0, NONE),
                };
                if kind == KIND_EVENTS && head != expected {
                    answer(Err(JournalError::Conflict { stream, expected, actual: head }));
                    continue;
                }
                if kind == KIND_EVENTS && payloads.is_empty() {
                    answer(Ok(head));
                    continue;
                }
                let bytes: usize = payloads.iter().map(Vec::len).sum();
                let needed = frame_len(payloads.len(), bytes) + if id.is_none() { frame_len(1, stream.len()) } else { 0 };
                self.make_room(needed, &mut batch_start)?;
                let id = match id {
                    Some(id) => id,
                    None => {
                        let id = (base + names.len()) as u32;
                        self.gseq += 1;
                        let at = pos(self.segment, self.offset + self.buf.len() as u64);
                        encode(&mut self.buf, KIND_NAME, self.gseq, id, 0, 0, NONE, &[stream.as_bytes()]);
                        names.push(stream.as_str().into());
                        changes.push((KIND_NAME, id, 0, 0, at));
                        id
                    }
                };
                self.gseq += 1;
                let at = pos(self.segment, self.offset + self.buf.len() as u64);
                let refs: Vec<&[u8]> = payloads.iter().map(Vec::as_slice).collect();
                let (first_seq, prev) = if kind == KIND_EVENTS { (head + 1, last_pos) } else { (expected, NONE) };
                encode(&mut self.buf, kind, self.gseq, id, first_seq, at_ms, prev, &refs);
                changes.push((kind, id, first_seq, payloads.len(), at));
                if kind == KIND_EVENTS {
                    let new_head = head + payloads.len() as u64;
                    heads.insert(id, (new_head, at));
                    answer(Ok(new_head));
                }
            }
            self.seal_batch(batch_start)?;
            self.write_out()?;
            self.file.sync_data()
        })();
        drop(index);
        match result {
            Ok(()) => {
                {
                    let mut index = self.index.write().unwrap_or_else(|e| e.into_inner());
                    for (kind, id, seq, count, at) in changes {
                        match kind {
                            KIND_NAME => {
                                let name = names[id as usize - base].clone();
                                index.ids.insert(name.clone(), id);
                                index.streams.push(StreamState { name, head: 0, last_pos: NONE, snap_pos: NONE, snap_seq: 0 });
                            }
                            KIND_EVENTS => {
                                let s = &mut index.streams[id as usize];
                                s.head = seq + count as u64 - 1;
                                s.last_pos = at;
                            }
                            _ => {
                                let s = &mut index.streams[id as usize];
                                if s.snap_pos == NONE || seq >= s.snap_seq {
                                    s.snap_pos = at;
                                    s.snap_seq = seq;
                                }
                            }
                        }
                    }
                }
                for reply in replies {
                    match reply {
                        Reply::Append(tx, r) => drop(tx.send(r)),
                        Reply::Snapshot(tx) => drop(tx.send(Ok(()))),
                    }
                }
                if let Err(e) = self.maybe_checkpoint() {
                    tracing::warn!(error = %e, "journal log: checkpoint not written; the next start scans further");
                }
            }
            Err(e) => {
                tracing::error!(error = %e,
                    "日志写入失败，Hutong 已停止接受写入：请检查磁盘后重启 / the journal failed to write; Hutong takes no more writes — check the disk, then restart it");
                *self.failed.lock().unwrap_or_else(|e| e.into_inner()) = Some(e.to_string());
                let err = JournalError::Store(e.to_string());
                for reply in replies {
                    match reply {
                        Reply::Append(tx, _) => drop(tx.send(Err(err.clone()))),
                        Reply::Snapshot(tx) => drop(tx.send(Err(err.clone()))),
                    }
                }
                Self::fail_all(requests, &err);
            }
        }
    }

    /// Ends the batch in `buf` (which starts at `batch_start`, the end of the data) with its
    /// commit frame.
    fn seal_batch(&mut self, batch_start: u64) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        debug_assert_eq!(batch_start, self.offset, "a batch is written out whole");
        let crc = crc32fast::hash(&self.buf);
        let start = self.buf.len();
        self.buf.extend_from_slice(&[0; HEADER]);
        self.buf.push(KIND_COMMIT);
        self.buf.extend_from_slice(&MAGIC.to_le_bytes());
        self.buf.extend_from_slice(&self.gseq.to_le_bytes());
        self.buf.extend_from_slice(&batch_start.to_le_bytes());
        self.buf.extend_from_slice(&crc.to_le_bytes());
        seal(&mut self.buf, start);
        Ok(())
    }

    /// Writes `buf` at the end of the data.
    fn write_out(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        if let Some(mib) = self.options.max_mib
            && self.written + self.buf.len() as u64 > mib << 20
        {
            return Err(std::io::Error::other(format!("the journal is full ({mib} MiB cap)")));
        }
        self.file.write_all_at(&self.buf, self.offset)?;
        self.offset += self.buf.len() as u64;
        self.written += self.buf.len() as u64;
        self.since_checkpoint += self.buf.len() as u64;
        self.buf.clear();
        Ok(())
    }

    /// Makes room for a frame of `needed` bytes: when the segment cannot hold it (with the
    /// batch's commit and a ROLL marker), the batch so far is closed and made durable, the
    /// segment ends with a ROLL, and the next segment begins.
    fn make_room(&mut self, needed: usize, batch_start: &mut u64) -> std::io::Result<()> {
        let used = self.offset + self.buf.len() as u64;
        if used + (needed + COMMIT_LEN + 4) as u64 <= self.size {
            return Ok(());
        }
        self.seal_batch(*batch_start)?;
        self.buf.extend_from_slice(&ROLL.to_le_bytes());
        self.write_out()?;
        self.file.sync_data()?;
        let next_size = self.options.segment_bytes.max((needed + COMMIT_LEN + 4) as u64);
        // What is left of this segment counts as written: the next one starts after it.
        self.written += self.size - self.offset;
        self.segment += 1;
        self.file = create_segment(&self.options.dir, self.segment, next_size)?;
        self.size = next_size;
        self.offset = 0;
        *batch_start = 0;
        Ok(())
    }

    /// A checkpoint when enough log or time has passed since the last.
    fn maybe_checkpoint(&mut self) -> std::io::Result<()> {
        if self.since_checkpoint < self.options.checkpoint_bytes && self.checkpointed_at.elapsed() < self.options.checkpoint_every {
            return Ok(());
        }
        if self.since_checkpoint == 0 {
            self.checkpointed_at = Instant::now();
            return Ok(());
        }
        self.checkpoint()
    }

    /// Writes the index aside, then in place of the last checkpoint.
    fn checkpoint(&mut self) -> std::io::Result<()> {
        let json = {
            let index = self.index.read().unwrap_or_else(|e| e.into_inner());
            let checkpoint = Checkpoint { gseq: self.gseq, segment: self.segment, offset: self.offset, index: Index { streams: index.streams.clone(), ids: HashMap::new() } };
            serde_json::to_vec(&checkpoint).map_err(std::io::Error::other)?
        };
        let mut bytes = crc32fast::hash(&json).to_le_bytes().to_vec();
        bytes.extend(json);
        let tmp = self.options.dir.join("checkpoint.tmp");
        let file = OpenOptions::new().write(true).create(true).truncate(true).open(&tmp)?;
        file.write_all_at(&bytes, 0)?;
        file.sync_all()?;
        std::fs::rename(&tmp, self.options.dir.join("checkpoint"))?;
        sync_dir(&self.options.dir)?;
        self.since_checkpoint = 0;
        self.checkpointed_at = Instant::now();
        Ok(())
    }
}

impl Journal for LogJournal {
    fn failure(&self) -> Option<String> {
        self.failed.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn append(&self, append: Append) -> BoxFuture<'_, Result<u64, JournalError>> {
        Box::pin(async move {
            let (tx, rx) = oneshot::channel();
            self.writes.send(Request::Append(append, tx)).await.map_err(|_| JournalError::Closed)?;
            rx.await.map_err(|_| JournalError::Closed)?
        })
    }

    fn replay<'a>(&'a self, stream: &'a str, after: u64) -> BoxFuture<'a, Result<Vec<Record>, JournalError>> {
        self.replay_page(stream, after, usize::MAX)
    }

    fn replay_page<'a>(&'a self, stream: &'a str, after: u64, limit: usize) -> BoxFuture<'a, Result<Vec<Record>, JournalError>> {
        // `pread`s of this stream's frames only, from the page cache mostly: short enough to run here.
        Box::pin(async move { self.replay_blocking(stream, after, limit) })
    }

    fn head<'a>(&'a self, stream: &'a str) -> BoxFuture<'a, Result<u64, JournalError>> {
        Box::pin(async move { Ok(self.state(stream).map_or(0, |s| s.head)) })
    }

    fn save_snapshot(&self, snapshot: Snapshot) -> BoxFuture<'_, Result<(), JournalError>> {
        Box::pin(async move {
            let (tx, rx) = oneshot::channel();
            self.writes.send(Request::Snapshot(snapshot, tx)).await.map_err(|_| JournalError::Closed)?;
            rx.await.map_err(|_| JournalError::Closed)?
        })
    }

    fn load_snapshot<'a>(&'a self, stream: &'a str) -> BoxFuture<'a, Result<Option<Snapshot>, JournalError>> {
        Box::pin(async move {
            let Some(state) = self.state(stream).filter(|s| s.snap_pos != NONE) else { return Ok(None) };
            let body = self.segments.frame(state.snap_pos)?;
            let frame = decode(&body).ok_or_else(|| JournalError::Store(format!("{stream}: unreadable snapshot frame")))?;
            let payload = frame.payloads.first().map(|p| p.to_vec()).unwrap_or_default();
            Ok(Some(Snapshot { stream: stream.to_string(), seq: frame.first_seq, payload }))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small(dir: &Path) -> LogOptions {
        LogOptions { segment_bytes: 64 << 10, checkpoint_bytes: 16 << 10, ..LogOptions::new(dir) }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn passes_the_conformance_suite_across_small_segments_and_checkpoints() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().to_path_buf();
        super::super::conformance::run_all(|| {
            let path = path.clone();
            async move { Arc::new(LogJournal::open(small(&path)).unwrap()) as Arc<dyn Journal> }
        })
        .await;
        let segments = std::fs::read_dir(dir.path()).unwrap().filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "seg")).count();
        assert!(segments > 2, "the suite rolled over several segments ({segments})");
        assert!(dir.path().join("checkpoint").exists());
    }

    async fn fill(j: &LogJournal, streams: usize, per: u64) {
        for s in 0..streams {
            for seq in 0..per {
                let append = Append { stream: format!("s{s}"), expected: seq, at_ms: 1, payloads: vec![format!("{{\"s\":{s},\"n\":{seq}}}").into_bytes()] };
                j.append(append).await.unwrap();
            }
        }
    }

    fn segment0(dir: &Path) -> PathBuf {
        Segments::path(dir, 0)
    }

    /// The data written so far in segment 0 (up to the zeros).
    fn written(dir: &Path) -> usize {
        let bytes = std::fs::read(segment0(dir)).unwrap();
        bytes.iter().rposition(|b| *b != 0).map_or(0, |p| p + 1)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_torn_last_batch_is_cut_off_whole_at_every_byte() {
        let dir = tempfile::tempdir().unwrap();
        let options = LogOptions { checkpoint_bytes: u64::MAX, ..small(dir.path()) };
        let acked = {
            let j = LogJournal::open(options.clone()).unwrap();
            fill(&j, 3, 4).await;
            written(dir.path())
        };
        {
            let j = LogJournal::open(options.clone()).unwrap();
            j.append(Append { stream: "s0".into(), expected: 4, at_ms: 1, payloads: vec![b"{\"last\":true}".to_vec(); 3] }).await.unwrap();
        }
        let full = std::fs::read(segment0(dir.path())).unwrap();
        let end = written(dir.path());
        // Every cut inside the last batch: the acknowledged twelve stay, the torn batch goes.
        for cut in acked..end {
            let mut torn = full.clone();
            torn[cut..end].fill(0);
            std::fs::write(segment0(dir.path()), &torn).unwrap();
            let j = LogJournal::open(options.clone()).unwrap();
            for s in 0..3 {
                assert_eq!(j.head(&format!("s{s}")).await.unwrap(), 4, "cut at {cut}");
            }
            assert_eq!(j.replay("s0", 0).await.unwrap().len(), 4);
            // And the log takes appends again where the torn batch was.
            j.append(Append { stream: "s1".into(), expected: 4, at_ms: 1, payloads: vec![b"{}".to_vec()] }).await.unwrap();
            drop(j);
            let j = LogJournal::open(options.clone()).unwrap();
            assert_eq!(j.head("s1").await.unwrap(), 5, "cut at {cut}");
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_bit_flip_in_the_middle_refuses_to_open_and_one_in_the_last_batch_cuts_it_off() {
        let dir = tempfile::tempdir().unwrap();
        let options = LogOptions { checkpoint_bytes: u64::MAX, ..small(dir.path()) };
        {
            let j = LogJournal::open(options.clone()).unwrap();
            fill(&j, 2, 5).await;
        }
        let full = std::fs::read(segment0(dir.path())).unwrap();
        let end = written(dir.path());
        let mut flipped = full.clone();
        flipped[40] ^= 0x10;
        std::fs::write(segment0(dir.path()), &flipped).unwrap();
        let refused = LogJournal::open(options.clone()).err().expect("damage mid-log refuses to open");
        assert!(refused.to_string().contains("damaged"), "{refused}");
        let mut flipped = full.clone();
        flipped[end - 3] ^= 0x10;
        std::fs::write(segment0(dir.path()), &flipped).unwrap();
        let j = LogJournal::open(options).unwrap();
        assert_eq!((j.head("s0").await.unwrap(), j.head("s1").await.unwrap()), (5, 4), "only the last (unacknowledgeable) batch is gone");
    }

    /// A power cut: of the last batch's pages, any subset reached the disk, in any order (what a
    /// file system does with writes not yet synced). Whatever the subset, everything acknowledged
    /// before is there, and the last batch is there whole or not at all.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_power_cut_keeps_every_acknowledged_batch_whatever_pages_of_the_last_reached_the_disk() {
        let dir = tempfile::tempdir().unwrap();
        let options = LogOptions { checkpoint_bytes: u64::MAX, ..small(dir.path()) };
        {
            let j = LogJournal::open(options.clone()).unwrap();
            fill(&j, 4, 3).await;
        }
        let before = std::fs::read(segment0(dir.path())).unwrap();
        {
            let j = LogJournal::open(options.clone()).unwrap();
            let payloads: Vec<Vec<u8>> = (0..6).map(|i| format!("{{\"i\":{i},\"pad\":\"{}\"}}", "x".repeat(3000)).into_bytes()).collect();
            j.append(Append { stream: "s2".into(), expected: 3, at_ms: 1, payloads }).await.unwrap();
        }
        let after = std::fs::read(segment0(dir.path())).unwrap();
        let pages: Vec<usize> = (0..after.len() / 4096).filter(|p| before[p * 4096..(p + 1) * 4096] != after[p * 4096..(p + 1) * 4096]).collect();
        assert!(pages.len() >= 4, "the last batch spans several pages ({})", pages.len());
        let mut rng = 0x9e37_79b9_7f4a_7c15u64;
        for round in 0..200 {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            let mut disk = before.clone();
            let landed: Vec<usize> = pages.iter().copied().filter(|p| (rng >> (p % 64)) & 1 == 1 || round == 0).collect();
            for p in &landed {
                disk[p * 4096..(p + 1) * 4096].copy_from_slice(&after[p * 4096..(p + 1) * 4096]);
            }
            std::fs::write(segment0(dir.path()), &disk).unwrap();
            let j = LogJournal::open(options.clone()).unwrap();
            for s in [0, 1, 3] {
                assert_eq!(j.head(&format!("s{s}")).await.unwrap(), 3, "round {round}");
            }
            let s2 = j.head("s2").await.unwrap();
            let whole = landed.len() == pages.len();
            assert_eq!(s2, if whole { 9 } else { 3 }, "round {round}: {} of {} pages landed", landed.len(), pages.len());
            assert_eq!(j.replay("s2", 0).await.unwrap().len() as u64, s2);
        }
    }

    /// Short lives in a row (a crash loop) must not each read further: a start that scanned a
    /// long tail writes a checkpoint as it starts.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_start_after_a_long_tail_checkpoints_so_the_next_reads_little() {
        let dir = tempfile::tempdir().unwrap();
        let options = LogOptions { segment_bytes: 4 << 20, ..LogOptions::new(dir.path()) };
        {
            let j = LogJournal::open(options.clone()).unwrap();
            for seq in 0..100 {
                j.append(Append { stream: "big".into(), expected: seq, at_ms: 1, payloads: vec![vec![b'x'; 100 << 10]] }).await.unwrap();
            }
        }
        assert!(!dir.path().join("checkpoint").exists(), "a short life writes none by itself");
        let started = LogJournal::open(options.clone()).unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !dir.path().join("checkpoint").exists() && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert!(dir.path().join("checkpoint").exists(), "the start that read ~10 MiB wrote one");
        drop(started);
        let recovered = recover(dir.path()).unwrap();
        assert_eq!(recovered.scanned, 0, "the next start reads nothing past it");
        let j = LogJournal::open(options).unwrap();
        assert_eq!(j.head("big").await.unwrap(), 100);
        assert_eq!(j.replay("big", 95).await.unwrap().len(), 5);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_second_process_cannot_write_the_same_log() {
        let dir = tempfile::tempdir().unwrap();
        let _first = LogJournal::open(LogOptions::new(dir.path())).unwrap();
        let lock = OpenOptions::new().write(true).open(dir.path().join("lock")).unwrap();
        assert!(lock.try_lock().is_err(), "the directory is locked while a writer runs");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_write_stops_the_journal_for_good() {
        let dir = tempfile::tempdir().unwrap();
        let options = LogOptions { max_mib: Some(1), segment_bytes: 256 << 10, ..LogOptions::new(dir.path()) };
        let j = LogJournal::open(options).unwrap();
        let big = vec![b'x'; 100 << 10];
        let mut seq = 0;
        let err = loop {
            match j.append(Append { stream: "big".into(), expected: seq, at_ms: 1, payloads: vec![big.clone()] }).await {
                Ok(s) => seq = s,
                Err(e) => break e,
            }
        };
        assert!(err.to_string().contains("full"), "{err}");
        assert!(j.failure().is_some());
        let later = j.append(Append { stream: "small".into(), expected: 0, at_ms: 1, payloads: vec![b"{}".to_vec()] }).await;
        assert!(later.is_err(), "nothing more is taken");
        drop(j);
        let j = LogJournal::open(LogOptions::new(dir.path())).unwrap();
        assert_eq!(j.head("big").await.unwrap(), seq, "everything acknowledged is there");
    }
}
