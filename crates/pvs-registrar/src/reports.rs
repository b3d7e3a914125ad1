//! Registration reports: each product's outcome recorded for its browse report, and the
//! report written into `REPORT_DIR` when its last product has one.

use std::path::{Path, PathBuf};

use chrono::Utc;
use pvs_model::{RegistrationOutcome, RegistrationReport, ReportInfo};
use pvs_queue::WorkQueue;

use crate::Registrar;

impl Registrar {
    /// Writes registration reports into `dir` (`REPORT_DIR`).
    pub fn with_report_dir(mut self, dir: PathBuf) -> Self {
        self.report_dir = Some(dir);
        self
    }

    /// Records a product's outcome for its browse report (see [`record_outcome`]).
    pub(crate) async fn record_for_report(
        &self,
        report: &str,
        id: &str,
        outcome: &RegistrationOutcome,
    ) -> Result<(), pvs_queue::QueueError> {
        record_outcome(
            self.queue.as_ref(),
            self.report_dir.as_deref(),
            report,
            id,
            outcome,
        )
        .await
    }
}

/// Records the outcome of product `id` of browse report `report`; when that completes the
/// report (every browse it brought has an outcome), writes the registration report into
/// `report_dir` if given. The registrar calls it for every product; the preprocessor for a
/// browse that fails before registration.
pub async fn record_outcome(
    queue: &dyn WorkQueue,
    report_dir: Option<&Path>,
    report: &str,
    id: &str,
    outcome: &RegistrationOutcome,
) -> Result<(), pvs_queue::QueueError> {
    let json = serde_json::to_string(outcome).expect("serialises");
    let Some(completed) = queue.report_result(report, id, &json).await? else {
        return Ok(());
    };
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
    let document = RegistrationReport {
        report: info,
        products,
        completed_at: Utc::now(),
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
