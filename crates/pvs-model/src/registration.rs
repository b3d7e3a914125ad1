//! The registration report pvs writes back to the provider (the SFTP `to/panda` folder) once
//! every product queued from one browse report has been registered or has failed; described by
//! `schemas/registration-report.xsd`.

use std::fmt::Write as _;

use chrono::{DateTime, SecondsFormat, Utc};
use quick_xml::escape::escape;
use serde::{Deserialize, Serialize};

use crate::item::ReportInfo;

/// The namespace of registration reports.
pub const REGISTRATION_NS: &str = "urn:pvs:registration-report:1.0";

/// What happened to one product.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "lowercase")]
pub enum RegistrationOutcome {
    /// In the catalog, in this collection.
    Success {
        /// The collection.
        collection: String,
        /// Whether it replaced the version of another report (ngEO's `actuallyReplaced`);
        /// otherwise it was inserted.
        #[serde(default)]
        replaced: bool,
    },
    /// Not registered, and why.
    Failure {
        /// The reason.
        reason: String,
    },
    /// In the catalog, in this collection, merged with the version from another report
    /// (the collection's strategy `merge`): counted as registered, as ngEO counts a merge
    /// as inserted.
    Merged {
        /// The collection.
        collection: String,
        /// The report of the version it was merged with.
        with: ReportInfo,
    },
    /// Left alone, nothing wrong: a newer report already registered the product (the
    /// collection's replacement strategy, [`crate::Strategy`]), and why.
    Skipped {
        /// The reason.
        reason: String,
    },
}

/// The report: the browse report it answers and one outcome per product.
#[derive(Debug, Clone, PartialEq)]
pub struct RegistrationReport {
    /// The browse report.
    pub report: ReportInfo,
    /// Outcome per product id.
    pub products: Vec<(String, RegistrationOutcome)>,
    /// When the report was completed.
    pub completed_at: DateTime<Utc>,
}

/// Longest reason written.
const MAX_REASON_CHARS: usize = 1024;

fn text(value: &str) -> String {
    let clean: String = value
        .chars()
        .take(MAX_REASON_CHARS)
        .map(|c| match c {
            '\t' | '\n' | '\r' => c,
            c if u32::from(c) < 0x20 || c == '\u{fffe}' || c == '\u{ffff}' => '\u{fffd}',
            c => c,
        })
        .collect();
    escape(clean.as_str()).into_owned()
}

impl RegistrationReport {
    /// `success` (no product failed: registered, merged or skipped), `failure` (every one failed) or
    /// `partial`.
    pub fn status(&self) -> &'static str {
        let failed = self
            .products
            .iter()
            .filter(|(_, o)| matches!(o, RegistrationOutcome::Failure { .. }))
            .count();
        match failed {
            0 => "success",
            n if n == self.products.len() => "failure",
            _ => "partial",
        }
    }

    /// The XML document.
    pub fn to_xml(&self) -> String {
        let time = |t: &DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::AutoSi, true);
        let registered = self
            .products
            .iter()
            .filter(|(_, o)| {
                matches!(
                    o,
                    RegistrationOutcome::Success { .. } | RegistrationOutcome::Merged { .. }
                )
            })
            .count();
        let merged = self
            .products
            .iter()
            .filter(|(_, o)| matches!(o, RegistrationOutcome::Merged { .. }))
            .count();
        let skipped = self
            .products
            .iter()
            .filter(|(_, o)| matches!(o, RegistrationOutcome::Skipped { .. }))
            .count();
        let replaced = self
            .products
            .iter()
            .filter(|(_, o)| matches!(o, RegistrationOutcome::Success { replaced: true, .. }))
            .count();
        let mut xml = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<reg:registrationReport xmlns:reg=\"{REGISTRATION_NS}\">\n"
        );
        let _ = write!(
            xml,
            "  <reg:report name=\"{}\" responsibleOrgName=\"{}\" dateTime=\"{}\" browseType=\"{}\"/>\n  \
             <reg:status>{}</reg:status>\n  \
             <reg:summary products=\"{}\" registered=\"{registered}\" failed=\"{}\" skipped=\"{skipped}\" merged=\"{merged}\" replaced=\"{replaced}\" completedAt=\"{}\"/>\n",
            text(&self.report.name),
            text(&self.report.responsible_org_name),
            time(&self.report.date_time),
            text(&self.report.browse_type),
            self.status(),
            self.products.len(),
            self.products.len() - registered - skipped,
            time(&self.completed_at),
        );
        for (id, outcome) in &self.products {
            let _ = write!(
                xml,
                "  <reg:product>\n    <reg:identifier>{}</reg:identifier>\n",
                text(id)
            );
            match outcome {
                RegistrationOutcome::Success {
                    collection,
                    replaced,
                } => {
                    let _ = write!(
                        xml,
                        "    <reg:status>success</reg:status>\n    <reg:collection>{}</reg:collection>\n",
                        text(collection)
                    );
                    if *replaced {
                        xml.push_str("    <reg:replaced>true</reg:replaced>\n");
                    }
                }
                RegistrationOutcome::Merged { collection, with } => {
                    let _ = write!(
                        xml,
                        "    <reg:status>merged</reg:status>\n    <reg:collection>{}</reg:collection>\n    \
                         <reg:mergedWith name=\"{}\" dateTime=\"{}\"/>\n",
                        text(collection),
                        text(&with.name),
                        time(&with.date_time),
                    );
                }
                RegistrationOutcome::Failure { reason } => {
                    let _ = write!(
                        xml,
                        "    <reg:status>failure</reg:status>\n    <reg:reason>{}</reg:reason>\n",
                        text(reason)
                    );
                }
                RegistrationOutcome::Skipped { reason } => {
                    let _ = write!(
                        xml,
                        "    <reg:status>skipped</reg:status>\n    <reg:reason>{}</reg:reason>\n",
                        text(reason)
                    );
                }
            }
            xml.push_str("  </reg:product>\n");
        }
        xml.push_str("</reg:registrationReport>\n");
        xml
    }
}
