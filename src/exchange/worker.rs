//! Workbooks are parsed in a child process: the binary re-invoked as `mealroll parse-worker`,
//! with an address-space limit, a CPU-time limit and a wall-clock deadline. Whatever an
//! uploaded file does to the parser (a huge allocation, a panic, a loop), it ends that one
//! child and the upload is refused; the server and every other user's session carry on.
//!
//! The file goes to the child on standard input; rows come back on standard output in blocks,
//! each a length-prefixed postcard frame, while the caller checks and writes the rows before
//! them (parsing overlaps with the rest of the import, as it did on a thread).
//!
//! Uploaded PDFs (signed roster scans, invoices) are read the same way: the child counts the
//! pages and lifts out each page's scanned JPEG, so a crafted PDF costs only that child.

use std::io::{BufReader, BufWriter, Read, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::guard::{FileKind, MAX_UPLOAD};
use super::sheet::{self, Cell};
use crate::error::{AppError, AppResult, ErrorCode};

/// Address space of a child: a streamed 200,000-row sheet needs under 100 MB, a full .xls
/// sheet (read as one rectangle) about 400 MB.
pub const MEMORY_LIMIT: u64 = 1024 * 1024 * 1024;
/// CPU seconds of a child (time blocked on a full pipe does not count).
pub const CPU_LIMIT_SECONDS: u64 = 120;
/// Wall-clock deadline of a child, waiting on the caller included.
pub const WALL_LIMIT: Duration = Duration::from_secs(15 * 60);
/// Children at once; further uploads wait their turn (bounds the memory all of them can take).
pub const CONCURRENT: usize = 2;

const PROTOCOL: u32 = 1;
const BLOCK: usize = 256;
const MAX_FRAME: usize = 64 * 1024 * 1024;

#[derive(Debug, Serialize, Deserialize)]
enum Frame {
    Hello(u32),
    Rows {
        sheet: String,
        rows: Vec<(u32, Vec<Cell>)>,
    },
    /// The sheet that was read (also when it had no rows), and the child's peak memory.
    Done {
        sheet: String,
        peak_rss_mb: u64,
    },
    Failed {
        code: ErrorCode,
        message: String,
    },
    /// A PDF read: its pages, and for each page the JPEG a scanner put on it (if one).
    Pdf(PdfPages),
}

/// What a child is asked to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Job {
    Sheet(FileKind),
    Pdf,
}

static PROGRAM: OnceLock<PathBuf> = OnceLock::new();
static PEAK_RSS_MB: AtomicU64 = AtomicU64::new(0);

/// The largest peak memory of a child that finished in this process (for `mealroll bench`:
/// the parse is part of the work even though it runs elsewhere).
pub fn peak_rss_mb() -> u64 {
    PEAK_RSS_MB.load(Ordering::Relaxed)
}

/// The executable to run as the parse worker (tests point it at the built `mealroll`; the
/// server and the CLI are that binary already).
pub fn set_program(path: impl Into<PathBuf>) {
    let _ = PROGRAM.set(path.into());
}

fn program() -> AppResult<PathBuf> {
    if let Some(p) = PROGRAM.get() {
        return Ok(p.clone());
    }
    if let Some(p) = std::env::var_os("MEALROLL_PARSE_WORKER").filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(p));
    }
    std::env::current_exe().map_err(|e| AppError::internal(anyhow::anyhow!("current_exe: {e}")))
}

impl Job {
    fn arg(self) -> &'static str {
        match self {
            Job::Sheet(FileKind::Xlsx) => "xlsx",
            Job::Sheet(FileKind::Xls) => "xls",
            Job::Sheet(FileKind::Csv) => "csv",
            Job::Pdf => "pdf",
        }
    }

    pub fn of_arg(arg: &str) -> Option<Job> {
        match arg {
            "xlsx" => Some(Job::Sheet(FileKind::Xlsx)),
            "xls" => Some(Job::Sheet(FileKind::Xls)),
            "csv" => Some(Job::Sheet(FileKind::Csv)),
            "pdf" => Some(Job::Pdf),
            _ => None,
        }
    }
}

/// A counting gate: at most [`CONCURRENT`] children at once.
struct Gate {
    busy: Mutex<usize>,
    freed: Condvar,
}

static GATE: Gate = Gate { busy: Mutex::new(0), freed: Condvar::new() };

struct Ticket;

impl Gate {
    fn enter(&'static self) -> Ticket {
        let mut busy = self.busy.lock().unwrap_or_else(|p| p.into_inner());
        while *busy >= CONCURRENT {
            busy = self.freed.wait(busy).unwrap_or_else(|p| p.into_inner());
        }
        *busy += 1;
        Ticket
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut busy = GATE.busy.lock().unwrap_or_else(|p| p.into_inner());
        *busy = busy.saturating_sub(1);
        GATE.freed.notify_one();
    }
}

fn refused(message: &str) -> AppError {
    AppError::invalid(
        ErrorCode::FileUnparseable,
        format!("文件无法安全解析，已拒绝：{message}。请用Excel打开后另存为.xlsx再导入"),
    )
}

/// The stable codes a child may report; anything else is reported as unreadable.
fn known_code(code: ErrorCode) -> ErrorCode {
    use ErrorCode::*;
    match code {
        FileTooManyCells | FileNoSheet | FileTooLarge | FilePdfUnreadable => code,
        _ => FileUnreadable,
    }
}

/// Parses `bytes` in a child process and calls `on_row(sheet, row_number_1_based, cells)`
/// for every row, in order. Returns the sheet's name.
pub fn read_rows(
    bytes: &[u8],
    kind: FileKind,
    mut on_row: impl FnMut(&str, u32, Vec<Cell>) -> AppResult<()>,
) -> AppResult<String> {
    let outcome = in_child(Job::Sheet(kind), bytes, |frame| match frame {
        Frame::Rows { sheet, rows } => {
            for (row, cells) in rows {
                on_row(&sheet, row, cells)?;
            }
            Ok(None)
        }
        Frame::Done { sheet, peak_rss_mb } => {
            PEAK_RSS_MB.fetch_max(peak_rss_mb, Ordering::Relaxed);
            Ok(Some(sheet))
        }
        _ => Err(AppError::internal(anyhow::anyhow!("parse worker answered out of turn"))),
    })?;
    Ok(outcome)
}

/// A PDF's pages as a child process reads them: how many, and each page's scanned JPEG (the
/// bytes as the PDF holds them, still to be checked by the caller before anyone is shown them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PdfPages {
    pub pages: u32,
    pub previews: Vec<Option<Vec<u8>>>,
}

pub fn read_pdf(bytes: &[u8]) -> AppResult<PdfPages> {
    in_child(Job::Pdf, bytes, |frame| match frame {
        Frame::Pdf(pages) => Ok(Some(pages)),
        _ => Err(AppError::internal(anyhow::anyhow!("parse worker answered out of turn"))),
    })
    .map_err(|e| {
        if e.code == ErrorCode::FileUnparseable {
            AppError::invalid(
                ErrorCode::FilePdfUnreadable,
                "PDF文件无法读取（可能已损坏、加密或不是标准PDF），请重新扫描或另存后上传",
            )
        } else {
            e
        }
    })
}

/// Runs one child over `bytes`, handing each frame after the greeting to `on_frame` until it
/// returns `Some` (the child's answer).
fn in_child<T>(job: Job, bytes: &[u8], mut on_frame: impl FnMut(Frame) -> AppResult<Option<T>>) -> AppResult<T> {
    let _ticket = GATE.enter();
    let mut child = Command::new(program()?)
        .arg("parse-worker")
        .arg(job.arg())
        .env("MEALROLL_LOG", "error")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| AppError::internal(anyhow::anyhow!("parse worker did not start: {e}")))?;
    limit(&child);
    let (stdin, stdout) = (child.stdin.take(), child.stdout.take());
    let child = Arc::new(Mutex::new(child));
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let watchdog = {
        let child = Arc::clone(&child);
        std::thread::spawn(move || {
            if let Err(RecvTimeoutError::Timeout) = done_rx.recv_timeout(WALL_LIMIT) {
                let _ = child.lock().unwrap_or_else(|p| p.into_inner()).kill();
                return true;
            }
            false
        })
    };
    // The child reads the whole file before it writes anything, so writing first cannot block
    // on a full output pipe. A child that died early makes this a broken pipe, seen below.
    if let Some(mut stdin) = stdin {
        let _ = stdin.write_all(bytes);
    }
    let outcome = match stdout {
        Some(out) => {
            // The caller stopped (a fatal row, say) or the stream broke: the child is not
            // needed, and killing it also ends a read the frame thread may be blocked in.
            let stop = || {
                let _ = child.lock().unwrap_or_else(|p| p.into_inner()).kill();
            };
            consume(BufReader::with_capacity(256 * 1024, out), &mut on_frame, &stop)
        }
        None => Err(AppError::internal(anyhow::anyhow!("parse worker has no output pipe"))),
    };
    let mut guard = child.lock().unwrap_or_else(|p| p.into_inner());
    let status = guard.wait();
    drop(guard);
    let _ = done_tx.send(());
    let timed_out = watchdog.join().unwrap_or(false);
    match outcome {
        Ok(Some(answer)) => Ok(answer),
        Ok(None) => Err(if timed_out {
            refused("解析超时")
        } else {
            match status {
                Ok(s) if s.code() == Some(101) => refused("解析程序遇到异常数据"),
                Ok(s) if s.code().is_none() => refused("解析超出内存或时间上限"),
                _ => refused("解析程序异常结束"),
            }
        }),
        Err(e) => Err(e),
    }
}

/// Applies the child's limits from here, before it has read a byte of the file.
fn limit(child: &Child) {
    let Ok(pid) = i32::try_from(child.id()) else { return };
    for (resource, value) in
        [(rlimit::Resource::AS, MEMORY_LIMIT), (rlimit::Resource::CPU, CPU_LIMIT_SECONDS), (rlimit::Resource::CORE, 0)]
    {
        if let Err(e) = rlimit::prlimit(pid, resource, Some((value, value)), None) {
            tracing::warn!(error = %e, "could not limit the parse worker");
        }
    }
}

/// Reads frames until `on_frame` has the child's answer (`Some`) or the stream ends without
/// it (`None`: the child died). An error from `on_frame` or a child's refusal is returned.
/// Frames are read and decoded on a second thread while `on_frame` runs on this one, so that
/// decoding stays off the import's own path, as parsing does.
fn consume<T>(
    out: impl Read + Send,
    on_frame: &mut impl FnMut(Frame) -> AppResult<Option<T>>,
    stop: &dyn Fn(),
) -> AppResult<Option<T>> {
    let (tx, rx) = mpsc::sync_channel::<AppResult<Option<Frame>>>(8);
    std::thread::scope(|scope| {
        scope.spawn(move || {
            let mut out = out;
            let mut buf = Vec::new();
            loop {
                let frame = read_frame(&mut out, &mut buf);
                let last = !matches!(frame, Ok(Some(Frame::Hello(_) | Frame::Rows { .. })));
                // A send fails only when this side has stopped; then reading on is pointless.
                if tx.send(frame).is_err() || last {
                    return;
                }
            }
        });
        let outcome = frames(rx, on_frame);
        if !matches!(outcome, Ok(Some(_))) {
            stop();
        }
        outcome
    })
}

fn frames<T>(
    rx: mpsc::Receiver<AppResult<Option<Frame>>>,
    on_frame: &mut impl FnMut(Frame) -> AppResult<Option<T>>,
) -> AppResult<Option<T>> {
    let mut greeted = false;
    for frame in rx.iter() {
        match frame? {
            None => return Ok(None),
            Some(Frame::Hello(v)) if v == PROTOCOL => greeted = true,
            Some(Frame::Hello(_)) => {
                return Err(AppError::internal(anyhow::anyhow!("parse worker speaks another protocol")));
            }
            Some(_) if !greeted => return Err(AppError::internal(anyhow::anyhow!("parse worker did not greet"))),
            Some(Frame::Failed { code, message }) => return Err(AppError::invalid(known_code(code), message)),
            Some(frame) => {
                if let Some(answer) = on_frame(frame)? {
                    return Ok(Some(answer));
                }
            }
        }
    }
    Ok(None)
}

fn read_frame(out: &mut impl Read, buf: &mut Vec<u8>) -> AppResult<Option<Frame>> {
    let mut len = [0u8; 4];
    if out.read_exact(&mut len).is_err() {
        return Ok(None);
    }
    let len = usize::try_from(u32::from_le_bytes(len)).unwrap_or(usize::MAX);
    if len > MAX_FRAME {
        return Err(refused("解析结果异常"));
    }
    buf.resize(len, 0);
    if out.read_exact(buf).is_err() {
        return Ok(None);
    }
    postcard::from_bytes(buf).map(Some).map_err(|_| refused("解析结果无法识别"))
}

fn write_frame(out: &mut impl Write, frame: &Frame) -> std::io::Result<()> {
    let bytes = postcard::to_stdvec(frame).map_err(std::io::Error::other)?;
    let len = u32::try_from(bytes.len()).map_err(std::io::Error::other)?;
    out.write_all(&len.to_le_bytes())?;
    out.write_all(&bytes)
}

/// The child's side (`mealroll parse-worker KIND`): the file on standard input, frames on
/// standard output. Returns when done; an output error means the parent has gone.
pub fn serve(job: Job) -> std::io::Result<()> {
    let mut bytes = Vec::new();
    std::io::stdin().lock().take(u64::try_from(MAX_UPLOAD).unwrap_or(u64::MAX) + 1).read_to_end(&mut bytes)?;
    let mut out = BufWriter::with_capacity(256 * 1024, std::io::stdout().lock());
    write_frame(&mut out, &Frame::Hello(PROTOCOL))?;
    if bytes.len() > MAX_UPLOAD {
        let failed = Frame::Failed { code: ErrorCode::FileTooLarge, message: "文件超过上传上限".into() };
        write_frame(&mut out, &failed)?;
        return out.flush();
    }
    let kind = match job {
        Job::Sheet(kind) => kind,
        Job::Pdf => {
            let frame = match pdf_pages(&bytes) {
                Ok(pages) => Frame::Pdf(pages),
                Err(message) => Frame::Failed { code: ErrorCode::FilePdfUnreadable, message },
            };
            write_frame(&mut out, &frame)?;
            return out.flush();
        }
    };
    let mut block: Vec<(u32, Vec<Cell>)> = Vec::with_capacity(BLOCK);
    let mut broken: Option<std::io::Error> = None;
    let parsed = sheet::parse_in_process(&bytes, kind, |sheet, row, cells| {
        block.push((row, cells));
        if block.len() == BLOCK {
            let rows = std::mem::replace(&mut block, Vec::with_capacity(BLOCK));
            if let Err(e) = write_frame(&mut out, &Frame::Rows { sheet: sheet.to_owned(), rows }) {
                broken = Some(e);
                return Err(AppError::invalid(ErrorCode::ImportStopped, "导入已中止"));
            }
        }
        Ok(())
    });
    if let Some(e) = broken {
        return Err(e);
    }
    match parsed {
        Ok(sheet) => {
            if !block.is_empty() {
                write_frame(&mut out, &Frame::Rows { sheet: sheet.clone(), rows: block })?;
            }
            write_frame(&mut out, &Frame::Done { sheet, peak_rss_mb: crate::bench::peak_rss_mb() })?;
        }
        Err(e) => write_frame(&mut out, &Frame::Failed { code: e.code, message: e.message })?,
    }
    out.flush()
}

/// A PDF's page count and each page's scanned image: the largest image on the page that is a
/// plain JPEG stream (a scanner's page), passed on as stored.
fn pdf_pages(bytes: &[u8]) -> Result<PdfPages, String> {
    // The parser's own words are English and about PDF internals: the clerk gets what to do.
    let doc = lopdf::Document::load_mem(bytes)
        .map_err(|_| "PDF文件无法读取（可能已损坏、加密或不是标准PDF），请重新扫描或另存为PDF后上传".to_owned())?;
    let pages = doc.get_pages();
    let count = u32::try_from(pages.len()).map_err(|_| "PDF页数过多".to_owned())?;
    let previews = pages
        .values()
        .map(|id| {
            doc.get_page_images(*id).ok().and_then(|images| {
                images
                    .into_iter()
                    .filter(|i| i.filters.as_deref().is_some_and(|f| f.len() == 1 && f[0] == "DCTDecode"))
                    .max_by_key(|i| i.content.len())
                    .map(|i| i.content.to_vec())
            })
        })
        .collect();
    Ok(PdfPages { pages: count, previews })
}
