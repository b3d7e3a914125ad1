//! The XML answers of the ingestion interface (namespace
//! `http://ngeo.eo.esa.int/schema/browse/ingestion`): `bsi:ingestBrowseResponse` with one
//! result per browse, and `bsi:ingestException` for a report refused as a whole.
//! `schemas/ingestion-response.xsd` describes both.

use std::fmt::Write as _;

use quick_xml::escape::escape;

use crate::browse::BrowseError;
use crate::xml::INGESTION_NS;

/// Longest exception code the schema allows.
const MAX_CODE_CHARS: usize = 80;
/// Longest message or identifier the schema allows.
const MAX_TEXT_CHARS: usize = 1024;

/// The ngEO exception codes pvs reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExceptionCode {
    /// The request (or a browse's structure) is malformed.
    InvalidRequest,
    /// A value is not acceptable (identifier, file name, CRS, times...).
    ValidationError,
    /// The browse could not be ingested (geometry, missing image, processing).
    IngestionException,
    /// A feature of the format that pvs does not support (vertical curtains).
    NotImplemented,
    /// The service does not accept ingestions right now.
    InvalidState,
    /// The HTTP method is not POST.
    MethodNotAllowed,
}

impl ExceptionCode {
    /// The code as written in responses (ngEO's names).
    pub fn as_str(self) -> &'static str {
        match self {
            ExceptionCode::InvalidRequest => "InvalidRequest",
            ExceptionCode::ValidationError => "ValidationError",
            ExceptionCode::IngestionException => "IngestionException",
            ExceptionCode::NotImplemented => "NotImplementedError",
            ExceptionCode::InvalidState => "InvalidState",
            ExceptionCode::MethodNotAllowed => "MethodNotAllowed",
        }
    }
}

/// What happened to one browse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A new browse was accepted.
    Inserted,
    /// The browse replaced an earlier one with the same identifier.
    Replaced,
    /// The browse is skipped: the product is there from a browse report its collection's
    /// strategy keeps over this one (ngEO answers it a success, counted as neither inserted
    /// nor replaced). The registration report gives the reason again when the pipeline has
    /// checked it.
    Skipped {
        /// Why.
        reason: String,
    },
    /// The browse was refused.
    Failed {
        /// The exception code.
        code: ExceptionCode,
        /// What went wrong and where.
        message: String,
    },
}

/// The result of one browse, in report order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrowseResult {
    /// The `browseIdentifier` text, if the browse had one.
    pub identifier: Option<String>,
    /// What happened.
    pub outcome: Outcome,
}

impl From<&BrowseError> for BrowseResult {
    fn from(error: &BrowseError) -> Self {
        BrowseResult {
            identifier: error.identifier.clone(),
            outcome: Outcome::Failed {
                code: error.exception_code(),
                message: error.to_string(),
            },
        }
    }
}

/// Overall status of an ingestion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IngestionStatus {
    /// Every browse succeeded (or the report had none).
    Success,
    /// Some browses failed, some succeeded.
    Partial,
    /// Every browse failed. (ngEO answered `partial` here; pvs says what happened.)
    Failure,
}

impl IngestionStatus {
    /// The status as written in responses.
    pub fn as_str(self) -> &'static str {
        match self {
            IngestionStatus::Success => "success",
            IngestionStatus::Partial => "partial",
            IngestionStatus::Failure => "failure",
        }
    }
}

/// The counts of `bsi:ingestionSummary`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IngestionSummary {
    /// Number of browses processed. The name is ngEO's; it has always meant the total.
    pub to_be_replaced: usize,
    /// Browses inserted as new.
    pub actually_inserted: usize,
    /// Browses that replaced an earlier one.
    pub actually_replaced: usize,
}

/// The answer to an ingested report: one result per browse.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IngestionResponse {
    /// Results in report order.
    pub results: Vec<BrowseResult>,
}

impl IngestionResponse {
    /// `failure` if every browse failed, `partial` if some did, else `success`.
    pub fn status(&self) -> IngestionStatus {
        let failed = self
            .results
            .iter()
            .filter(|result| matches!(result.outcome, Outcome::Failed { .. }))
            .count();
        match failed {
            0 => IngestionStatus::Success,
            n if n == self.results.len() => IngestionStatus::Failure,
            _ => IngestionStatus::Partial,
        }
    }

    /// The summary counts.
    pub fn summary(&self) -> IngestionSummary {
        let count = |wanted: &Outcome| {
            self.results
                .iter()
                .filter(|result| &result.outcome == wanted)
                .count()
        };
        IngestionSummary {
            to_be_replaced: self.results.len(),
            actually_inserted: count(&Outcome::Inserted),
            actually_replaced: count(&Outcome::Replaced),
        }
    }

    /// The `bsi:ingestBrowseResponse` document. A browse without identifier is written
    /// `None`, as ngEO does (the schema requires an identifier; results are in report order).
    pub fn to_xml(&self) -> String {
        let summary = self.summary();
        let mut xml = document_start("ingestBrowseResponse");
        let _ = write!(
            xml,
            "  <bsi:status>{}</bsi:status>\n  <bsi:ingestionSummary>\n    \
             <bsi:toBeReplaced>{}</bsi:toBeReplaced>\n    \
             <bsi:actuallyInserted>{}</bsi:actuallyInserted>\n    \
             <bsi:actuallyReplaced>{}</bsi:actuallyReplaced>\n  </bsi:ingestionSummary>\n",
            self.status().as_str(),
            summary.to_be_replaced,
            summary.actually_inserted,
            summary.actually_replaced,
        );
        if self.results.is_empty() {
            xml.push_str("  <bsi:ingestionResult/>\n");
        } else {
            xml.push_str("  <bsi:ingestionResult>\n");
            for result in &self.results {
                let identifier = result.identifier.as_deref().unwrap_or("None");
                let _ = write!(
                    xml,
                    "    <bsi:briefRecord>\n      <bsi:identifier>{}</bsi:identifier>\n",
                    text(identifier, MAX_TEXT_CHARS)
                );
                match &result.outcome {
                    Outcome::Inserted | Outcome::Replaced | Outcome::Skipped { .. } => {
                        xml.push_str("      <bsi:status>success</bsi:status>\n");
                    }
                    Outcome::Failed { code, message } => {
                        let _ = write!(
                            xml,
                            "      <bsi:status>failure</bsi:status>\n      <bsi:error>\n        \
                             <bsi:exceptionCode>{}</bsi:exceptionCode>\n        \
                             <bsi:exceptionMessage>{}</bsi:exceptionMessage>\n      </bsi:error>\n",
                            text(code.as_str(), MAX_CODE_CHARS),
                            text(message, MAX_TEXT_CHARS)
                        );
                    }
                }
                xml.push_str("    </bsi:briefRecord>\n");
            }
            xml.push_str("  </bsi:ingestionResult>\n");
        }
        xml.push_str("</bsi:ingestBrowseResponse>\n");
        xml
    }
}

/// The `bsi:ingestException` document for a request refused as a whole.
pub fn ingest_exception_xml(code: ExceptionCode, message: &str) -> String {
    let mut xml = document_start("ingestException");
    let _ = write!(
        xml,
        "  <bsi:exceptionCode>{}</bsi:exceptionCode>\n  \
         <bsi:exceptionMessage>{}</bsi:exceptionMessage>\n</bsi:ingestException>\n",
        text(code.as_str(), MAX_CODE_CHARS),
        text(message, MAX_TEXT_CHARS)
    );
    xml
}

fn document_start(root: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<bsi:{root} xmlns:bsi=\"{INGESTION_NS}\">\n"
    )
}

/// Escapes text for element content, cut to `max_chars` characters; characters XML 1.0
/// cannot carry become U+FFFD.
fn text(value: &str, max_chars: usize) -> String {
    let clean: String = value
        .chars()
        .take(max_chars)
        .map(|c| match c {
            '\t' | '\n' | '\r' => c,
            c if c.is_control() && u32::from(c) < 0x20 => '\u{fffd}',
            '\u{fffe}' | '\u{ffff}' => '\u{fffd}',
            c => c,
        })
        .collect();
    escape(clean).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_reflects_the_failures() {
        let ok = BrowseResult {
            identifier: Some("a".into()),
            outcome: Outcome::Inserted,
        };
        let failed = BrowseResult {
            identifier: None,
            outcome: Outcome::Failed {
                code: ExceptionCode::ValidationError,
                message: "bad".into(),
            },
        };
        let response = |results: Vec<BrowseResult>| IngestionResponse { results };
        assert_eq!(response(vec![]).status(), IngestionStatus::Success);
        assert_eq!(
            response(vec![ok.clone()]).status(),
            IngestionStatus::Success
        );
        assert_eq!(
            response(vec![ok.clone(), failed.clone()]).status(),
            IngestionStatus::Partial
        );
        assert_eq!(response(vec![failed]).status(), IngestionStatus::Failure);
    }

    #[test]
    fn text_is_escaped_cut_and_cleaned() {
        assert_eq!(text("a<b & 'c'", 100), "a&lt;b &amp; &apos;c&apos;");
        assert_eq!(text("\u{1}x", 100), "\u{fffd}x");
        assert_eq!(
            text(&"é".repeat(2000), MAX_TEXT_CHARS).chars().count(),
            1024
        );
    }
}
