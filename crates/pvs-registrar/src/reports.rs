//! Registration reports: each product's outcome recorded for its browse report, and the
//! report written into `REPORT_DIR` when its last product has one. The bookkeeping and the
//! writing are [`pvs_queue::reports`], shared with the preprocessor (which records the
//! browses that fail before registration).

use std::path::PathBuf;

use pvs_model::RegistrationOutcome;
use pvs_queue::reports::record_outcome;

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
