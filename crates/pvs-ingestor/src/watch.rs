//! The watch folder (the SFTP `from/fepd` drop): finding reports (`*.xml`) and STAC Items
//! (`*.json`) that are completely written, and filing each one away with its response once it
//! has been ingested.
//!
//! A report counts as complete when its size and modification time have not changed for a
//! quiet period. That handles both ways providers deliver files: write-then-rename (the `.xml`
//! name appears complete at once; temporary names not ending in `.xml` and hidden files are
//! ignored) and slow writers (the size keeps changing until they are done). Files already
//! present at start-up are picked up by the first scans like any other.

use std::collections::HashMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use pvs_model::{ExceptionCode, IngestionStatus, ingest_exception_xml};

use crate::ingest::{Images, IngestError, Ingestor, ItemIngested};

/// Sub-folder receiving ingested reports.
pub const DONE_DIR: &str = "done";
/// Sub-folder receiving reports that failed.
pub const FAILED_DIR: &str = "failed";

/// What a file looked like at the last scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Snapshot {
    size: u64,
    modified: Option<SystemTime>,
}

#[derive(Debug)]
struct Candidate {
    seen: Snapshot,
    unchanged_since: Instant,
}

/// The state of one watched folder between scans.
#[derive(Debug)]
pub struct WatchFolder {
    dir: PathBuf,
    quiet: Duration,
    candidates: HashMap<PathBuf, Candidate>,
}

impl WatchFolder {
    /// Watches `dir`, creating its `done/` and `failed/` sub-folders; a report is complete once
    /// unchanged for `quiet`.
    pub fn new(dir: &Path, quiet: Duration) -> io::Result<Self> {
        for sub in [DONE_DIR, FAILED_DIR] {
            fs::create_dir_all(dir.join(sub)).map_err(|e| {
                io::Error::new(
                    e.kind(),
                    format!("cannot create {}: {e}", dir.join(sub).display()),
                )
            })?;
        }
        Ok(Self {
            dir: dir.to_owned(),
            quiet,
            candidates: HashMap::new(),
        })
    }

    /// The watched folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Looks at the folder once and returns the reports that are complete as of `now`, in name
    /// order. A returned report is forgotten: the caller must [`file_away`](Self::file_away) it.
    pub fn scan(&mut self, now: Instant) -> io::Result<Vec<PathBuf>> {
        let mut present = HashMap::new();
        for entry in fs::read_dir(&self.dir)? {
            let entry = entry?;
            let path = entry.path();
            if !is_report_name(&path) {
                continue;
            }
            // A file that vanished between listing and stat was renamed away: skip it.
            let Ok(meta) = entry.metadata() else { continue };
            if !meta.is_file() {
                continue;
            }
            let snapshot = Snapshot {
                size: meta.len(),
                modified: meta.modified().ok(),
            };
            present.insert(path, snapshot);
        }
        self.candidates.retain(|path, _| present.contains_key(path));

        let mut complete = Vec::new();
        for (path, snapshot) in present {
            // First sight is never complete: a quiet period needs two looks.
            match self.candidates.get_mut(&path) {
                None => {
                    self.candidates.insert(
                        path,
                        Candidate {
                            seen: snapshot,
                            unchanged_since: now,
                        },
                    );
                }
                Some(candidate) if candidate.seen != snapshot => {
                    candidate.seen = snapshot;
                    candidate.unchanged_since = now;
                }
                Some(candidate) if now.duration_since(candidate.unchanged_since) >= self.quiet => {
                    complete.push(path);
                }
                Some(_) => {}
            }
        }
        for path in &complete {
            self.candidates.remove(path);
        }
        complete.sort();
        Ok(complete)
    }

    /// Moves `report` into `done/` (or `failed/` when `ok` is false) and writes `response` beside
    /// it as `<name>.response.xml` (`<name>.response.json` for a STAC Item). A name already
    /// taken there gets a numeric suffix, so no earlier file is overwritten. Returns the
    /// report's new path.
    pub fn file_away(&self, report: &Path, ok: bool, response: &str) -> io::Result<PathBuf> {
        Self::file_away_in(&self.dir, report, ok, response)
    }

    /// [`file_away`](Self::file_away) for the watch folder `dir`.
    pub fn file_away_in(
        dir: &Path,
        report: &Path,
        ok: bool,
        response: &str,
    ) -> io::Result<PathBuf> {
        let target_dir = dir.join(if ok { DONE_DIR } else { FAILED_DIR });
        let stem = report
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("report")
            .to_owned();
        let extension = if is_item_file(report) { "json" } else { "xml" };
        let (target, response_path) = free_names(&target_dir, &stem, extension);
        write_atomically(&response_path, response.as_bytes())?;
        fs::rename(report, &target).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!(
                    "cannot move {} to {}: {e}",
                    report.display(),
                    target.display()
                ),
            )
        })?;
        Ok(target)
    }
}

/// `*.xml` (a report) or `*.json` (a STAC Item), not hidden, not a response we wrote.
fn is_report_name(path: &Path) -> bool {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return false;
    };
    let lower = name.to_ascii_lowercase();
    !name.starts_with('.')
        && (lower.ends_with(".xml") || lower.ends_with(".json"))
        && !lower.ends_with(".response.xml")
        && !lower.ends_with(".response.json")
}

/// Whether a file of the folder is a STAC Item (`*.json`) rather than a report.
fn is_item_file(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("json"))
}

/// The first `<stem>[-N].<extension>` / `<stem>[-N].response.<extension>` pair not taken in
/// `dir`.
fn free_names(dir: &Path, stem: &str, extension: &str) -> (PathBuf, PathBuf) {
    (0u32..)
        .map(|n| {
            let base = if n == 0 {
                stem.to_owned()
            } else {
                format!("{stem}-{n}")
            };
            (
                dir.join(format!("{base}.{extension}")),
                dir.join(format!("{base}.response.{extension}")),
            )
        })
        .find(|(report, response)| !report.exists() && !response.exists())
        .expect("an unbounded sequence of names has a free one")
}

/// Writes `bytes` to `path` through a temporary file and a rename, so readers never see half.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let tmp = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    fs::write(&tmp, bytes)
        .and_then(|()| fs::rename(&tmp, path))
        .map_err(|e| {
            let _ = fs::remove_file(&tmp);
            io::Error::new(e.kind(), format!("cannot write {}: {e}", path.display()))
        })
}

/// Watches `folder` until `shutdown` resolves: every `poll`, each complete report is ingested
/// (its images, beside it, are uploaded to storage) and filed away with its response in
/// `done/` (accepted, fully or partly) or `failed/` (refused); each complete STAC Item
/// likewise ([`Ingestor::ingest_item`]: its data asset, beside it, is uploaded and the Item
/// queued on `register_queue`). A file that cannot be queued because the queue is
/// unreachable stays where it is and is tried again later.
pub async fn run(
    ingestor: Arc<Ingestor>,
    mut folder: WatchFolder,
    poll: Duration,
    max_bytes: u64,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    tokio::pin!(shutdown);
    tracing::info!(folder = %folder.dir().display(), "watching for browse reports");
    loop {
        let now = Instant::now();
        let (returned, scanned) = tokio::task::spawn_blocking(move || {
            let scanned = folder.scan(now);
            (folder, scanned)
        })
        .await
        .map_err(io::Error::other)?;
        folder = returned;
        let reports = match scanned {
            Ok(reports) => reports,
            Err(e) => {
                tracing::error!(folder = %folder.dir().display(), error = %e, "cannot scan the watch folder");
                Vec::new()
            }
        };
        for report in reports {
            if let Err(e) = ingest_file(&ingestor, &folder, &report, max_bytes).await {
                tracing::error!(report = %report.display(), error = %e, "cannot file the report away");
            }
        }
        tokio::select! {
            () = &mut shutdown => return Ok(()),
            () = tokio::time::sleep(poll) => {}
        }
    }
}

/// Ingests one complete report file and files it away (unless the queue is unreachable).
async fn ingest_file(
    ingestor: &Ingestor,
    folder: &WatchFolder,
    report: &Path,
    max_bytes: u64,
) -> io::Result<()> {
    let name = report
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("report.xml")
        .to_owned();
    let size = tokio::fs::metadata(report).await?.len();
    let outcome = if is_item_file(report) {
        ingest_item_file(ingestor, folder, report, &name, size).await?
    } else {
        ingest_report_file(ingestor, folder, report, &name, size, max_bytes).await?
    };
    let Some((ok, response)) = outcome else {
        return Ok(());
    };
    if !ok {
        tracing::warn!(file = name, "refused");
    }
    let dir = folder.dir().to_owned();
    let report = report.to_owned();
    tokio::task::spawn_blocking(move || {
        WatchFolder::file_away_in(&dir, &report, ok, &response).map(drop)
    })
    .await
    .map_err(io::Error::other)?
}

/// Ingests a complete STAC Item file: whether it was accepted and its response (JSON:
/// `status` `queued` with `id`, `collection` and `data`, the data asset's storage key or
/// URL; or `status` `failed` with the `reason`); `None` when the queue is unreachable.
async fn ingest_item_file(
    ingestor: &Ingestor,
    folder: &WatchFolder,
    item: &Path,
    name: &str,
    size: u64,
) -> io::Result<Option<(bool, String)>> {
    let ingested = if size > pvs_model::MAX_ITEM_BYTES as u64 {
        ItemIngested::Refused(format!(
            "the STAC Item is larger than the limit of {} bytes",
            pvs_model::MAX_ITEM_BYTES
        ))
    } else {
        let bytes = tokio::fs::read(item).await?;
        match ingestor
            .ingest_item(&bytes, Images::BesideReport(folder.dir()))
            .await
        {
            Ok(ingested) => ingested,
            Err(e) => {
                tracing::error!(item = name, error = %e, "STAC Item left in place, to be tried again");
                return Ok(None);
            }
        }
    };
    let response = match &ingested {
        ItemIngested::Queued {
            id,
            collection,
            data,
        } => serde_json::json!({
            "status": "queued", "id": id, "collection": collection, "data": data,
        }),
        ItemIngested::Refused(reason) => serde_json::json!({
            "status": "failed", "reason": format!("{name}: {reason}"),
        }),
    };
    let ok = matches!(ingested, ItemIngested::Queued { .. });
    Ok(Some((ok, format!("{response:#}\n"))))
}

/// Ingests a complete report file: whether it was accepted and the ingestion response;
/// `None` when the queue is unreachable.
async fn ingest_report_file(
    ingestor: &Ingestor,
    folder: &WatchFolder,
    report: &Path,
    name: &str,
    size: u64,
    max_bytes: u64,
) -> io::Result<Option<(bool, String)>> {
    let (ok, response) = if size > max_bytes {
        (
            false,
            ingest_exception_xml(
                ExceptionCode::InvalidRequest,
                &format!(
                    "{name}: the report is larger than the limit of {max_bytes} bytes (INGEST_MAX_BYTES)"
                ),
            ),
        )
    } else {
        let bytes = tokio::fs::read(report).await?;
        match ingestor
            .ingest(&bytes, name, Images::BesideReport(folder.dir()))
            .await
        {
            Ok(ingested) => (
                ingested.response.status() != IngestionStatus::Failure,
                ingested.response.to_xml(),
            ),
            Err(IngestError::Report(e)) => (
                false,
                ingest_exception_xml(e.exception_code(), &format!("{name}: {e}")),
            ),
            Err(e @ IngestError::Queue(_)) => {
                tracing::error!(report = name, error = %e, "report left in place, to be tried again");
                return Ok(None);
            }
        }
    };
    Ok(Some((ok, response)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    const QUIET: Duration = Duration::from_millis(500);

    #[test]
    fn a_report_is_complete_only_after_a_quiet_period() {
        let dir = tempfile::tempdir().unwrap();
        let mut watch = WatchFolder::new(dir.path(), QUIET).unwrap();
        let t0 = Instant::now();
        fs::write(dir.path().join("a.xml"), b"<x/>").unwrap();
        assert!(
            watch.scan(t0).unwrap().is_empty(),
            "first sight is never complete"
        );
        assert!(watch.scan(t0 + QUIET / 2).unwrap().is_empty());
        assert_eq!(
            watch.scan(t0 + QUIET).unwrap(),
            vec![dir.path().join("a.xml")]
        );
        assert!(
            watch.scan(t0 + QUIET * 3).unwrap().is_empty(),
            "returned once"
        );
    }

    #[test]
    fn a_slow_writer_is_waited_for() {
        let dir = tempfile::tempdir().unwrap();
        let mut watch = WatchFolder::new(dir.path(), QUIET).unwrap();
        let path = dir.path().join("slow.xml");
        let mut file = fs::File::create(&path).unwrap();
        let t0 = Instant::now();
        file.write_all(b"<rep:browseReport").unwrap();
        file.flush().unwrap();
        assert!(watch.scan(t0).unwrap().is_empty());
        // The writer appends just before each scan: the clock restarts every time.
        for step in 1..5u32 {
            file.write_all(b" ").unwrap();
            file.flush().unwrap();
            assert!(
                watch.scan(t0 + QUIET * step).unwrap().is_empty(),
                "step {step}"
            );
        }
        // Quiet since the last append (at 4 × QUIET): complete once QUIET has passed.
        assert!(watch.scan(t0 + QUIET * 4 + QUIET / 2).unwrap().is_empty());
        assert_eq!(watch.scan(t0 + QUIET * 5).unwrap(), vec![path]);
    }

    #[test]
    fn temporary_hidden_and_non_xml_files_are_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let mut watch = WatchFolder::new(dir.path(), Duration::ZERO).unwrap();
        for name in [
            ".hidden.xml",
            "upload.xml.part",
            "image.jpg",
            "x.response.xml",
            "item.response.json",
            ".item.json",
        ] {
            fs::write(dir.path().join(name), b"data").unwrap();
        }
        fs::create_dir(dir.path().join("folder.xml")).unwrap();
        let t0 = Instant::now();
        watch.scan(t0).unwrap();
        assert!(
            watch
                .scan(t0 + Duration::from_millis(1))
                .unwrap()
                .is_empty()
        );
        // write-then-rename: the final name appears complete and is picked up.
        fs::rename(
            dir.path().join("upload.xml.part"),
            dir.path().join("upload.xml"),
        )
        .unwrap();
        watch.scan(t0).unwrap();
        assert_eq!(
            watch.scan(t0 + Duration::from_millis(1)).unwrap(),
            vec![dir.path().join("upload.xml")]
        );
    }

    #[test]
    fn filing_away_never_overwrites_and_writes_the_response_beside() {
        let dir = tempfile::tempdir().unwrap();
        let watch = WatchFolder::new(dir.path(), QUIET).unwrap();
        for round in 0..2 {
            let report = dir.path().join("r.xml");
            fs::write(&report, format!("<report {round}/>")).unwrap();
            let moved = watch.file_away(&report, true, "<response/>").unwrap();
            assert!(!report.exists());
            let expected = if round == 0 { "r.xml" } else { "r-1.xml" };
            assert_eq!(moved, dir.path().join(DONE_DIR).join(expected));
            assert_eq!(
                fs::read_to_string(&moved).unwrap(),
                format!("<report {round}/>")
            );
            let response = moved.with_file_name(expected.replace(".xml", ".response.xml"));
            assert_eq!(fs::read_to_string(response).unwrap(), "<response/>");
        }
        let report = dir.path().join("bad.xml");
        fs::write(&report, "junk").unwrap();
        let moved = watch.file_away(&report, false, "<failure/>").unwrap();
        assert_eq!(moved, dir.path().join(FAILED_DIR).join("bad.xml"));
        // A STAC Item: its response is JSON, named after it.
        let item = dir.path().join("item.json");
        fs::write(&item, "{}").unwrap();
        let moved = watch
            .file_away(&item, false, "{\"status\": \"failed\"}")
            .unwrap();
        assert_eq!(moved, dir.path().join(FAILED_DIR).join("item.json"));
        assert_eq!(
            fs::read_to_string(dir.path().join(FAILED_DIR).join("item.response.json")).unwrap(),
            "{\"status\": \"failed\"}"
        );
    }

    #[test]
    fn stac_items_are_picked_up_like_reports() {
        let dir = tempfile::tempdir().unwrap();
        let mut watch = WatchFolder::new(dir.path(), Duration::ZERO).unwrap();
        fs::write(dir.path().join("S2.JSON"), b"{}").unwrap();
        let t0 = Instant::now();
        watch.scan(t0).unwrap();
        assert_eq!(
            watch.scan(t0 + Duration::from_millis(1)).unwrap(),
            vec![dir.path().join("S2.JSON")]
        );
    }
}
