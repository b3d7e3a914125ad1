//! Registration-report bookkeeping over any [`WorkQueue`]: which browse reports have products
//! in flight, each product's final outcome, and the registration report written when the last
//! one arrives.
//!
//! The ingestor [`open`]s a report when it queues the report's browses; the registrar (for
//! every product) and the preprocessor (for a browse that fails before registration) call
//! [`record_outcome`]. The state lives in the queue backend under the names operators see:
//! in Redis the hash `report:<name>` (`expected`, `info`: the [`ReportInfo`] as JSON) and the
//! hash `report:<name>:outcomes` (product id → [`RegistrationOutcome`] as JSON); in the
//! SQLite twin the tables `queue_reports` and `queue_report_outcomes`. The backend makes the
//! completion atomic ([`WorkQueue::report_result`]), so exactly one caller writes the
//! report, even when the last outcomes arrive at once from several services.
//!
//! Not here: the XML itself ([`RegistrationReport::to_xml`], in `pvs-model`).

use std::path::{Path, PathBuf};

use chrono::Utc;
use pvs_model::{RegistrationOutcome, RegistrationReport, ReportInfo};

use crate::{Result, WorkQueue};

/// Starts tracking browse report `info.name`, of which `expected` browses were queued.
/// Call it before queueing them, so that no outcome arrives for a report not yet known.
pub async fn open(queue: &dyn WorkQueue, info: &ReportInfo, expected: usize) -> Result<()> {
    let json = serde_json::to_string(info).expect("a ReportInfo serialises");
    queue.report_open(&info.name, expected, &json).await
}

/// Records the final outcome of product `id` of browse report `report`. When that completes
/// the report (every browse it brought has an outcome), returns the registration report, its
/// products sorted by id, and stops tracking it; otherwise, and for a report that is not
/// tracked (never opened, or already complete), `None`.
pub async fn record(
    queue: &dyn WorkQueue,
    report: &str,
    id: &str,
    outcome: &RegistrationOutcome,
) -> Result<Option<RegistrationReport>> {
    let json = serde_json::to_string(outcome).expect("an outcome serialises");
    let Some(completed) = queue.report_result(report, id, &json).await? else {
        return Ok(None);
    };
    // Written by `open`; a record left by an older version still gives a report, named.
    let info: ReportInfo = serde_json::from_str(&completed.info).unwrap_or_else(|_| ReportInfo {
        name: report.to_owned(),
        responsible_org_name: String::new(),
        date_time: Utc::now(),
        browse_type: String::new(),
    });
    let products = completed
        .outcomes
        .into_iter()
        .map(|(id, json)| {
            let outcome = serde_json::from_str(&json)
                .unwrap_or(RegistrationOutcome::Failure { reason: json });
            (id, outcome)
        })
        .collect();
    Ok(Some(RegistrationReport {
        report: info,
        products,
        completed_at: Utc::now(),
    }))
}

/// [`record`]s the outcome of product `id` of browse report `report`; when that completes the
/// report, writes the registration report into `report_dir` ([`write_report`]) if given, and
/// logs it. A report that cannot be written is logged as an error, not returned: the
/// outcome is recorded, and recording it again would not bring the report back.
pub async fn record_outcome(
    queue: &dyn WorkQueue,
    report_dir: Option<&Path>,
    report: &str,
    id: &str,
    outcome: &RegistrationOutcome,
) -> Result<()> {
    let Some(document) = record(queue, report, id, outcome).await? else {
        return Ok(());
    };
    match report_dir {
        Some(dir) => match write_report(dir, &document) {
            Ok(path) => {
                tracing::info!(report, path = %path.display(), status = document.status(), "registration report written")
            }
            Err(e) => {
                tracing::error!(report, dir = %dir.display(), error = %e, "cannot write the registration report")
            }
        },
        None => tracing::info!(
            report,
            status = document.status(),
            "report complete (no REPORT_DIR: no registration report written)"
        ),
    }
    Ok(())
}

/// Writes `report` into `dir` atomically (a hidden temporary file renamed into place) under
/// a name no other report has: `<report stem>_registration_<UTC time>_<random>.xml`.
pub fn write_report(dir: &Path, report: &RegistrationReport) -> std::io::Result<PathBuf> {
    let name = &report.report.name;
    let stem = name.strip_suffix(".xml").unwrap_or(name);
    let stem: String = stem
        .chars()
        .take(100)
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let random = &uuid::Uuid::new_v4().simple().to_string()[..8];
    let file = format!(
        "{stem}_registration_{}_{random}.xml",
        Utc::now().format("%Y%m%dT%H%M%S%.3fZ")
    );
    let path = dir.join(&file);
    let tmp = dir.join(format!(".{file}.tmp"));
    std::fs::write(&tmp, report.to_xml())
        .and_then(|()| std::fs::rename(&tmp, &path))
        .map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            std::io::Error::new(e.kind(), format!("{}: {e}", path.display()))
        })?;
    Ok(path)
}
