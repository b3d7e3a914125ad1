//! A whole browse report: `rep:browseReport` or `bsi:ingestBrowse`, in either ngEO namespace.

use chrono::{DateTime, Utc};
use thiserror::Error;

use crate::browse::{Browse, BrowseError, Children, Problem, parse_browse};
use crate::response::ExceptionCode;
use crate::time::{TimeError, parse_date_time};
use crate::xml::{
    Element, INGESTION_NS, Ns, REPORT_NS_V1, REPORT_NS_V13, XmlError, parse_document,
};

/// Values of the `version` attribute accepted (1.2 is only a schema revision, but harmless).
const VERSIONS: [&str; 3] = ["1.1", "1.2", "1.3"];

/// A parsed browse report. Browses are kept in document order; each one is either valid or
/// the reason it is not, so one bad browse never hides the others.
#[derive(Debug, Clone, PartialEq)]
pub struct BrowseReport {
    /// `responsibleOrgName`: who sent the report.
    pub responsible_org_name: String,
    /// `dateTime`: when the report was made (decides replacements), in UTC.
    pub date_time: DateTime<Utc>,
    /// `browseType`: selects the collection the browses belong to.
    pub browse_type: String,
    /// The browses, in document order.
    pub browses: Vec<Result<Browse, BrowseError>>,
}

/// A report refused as a whole (answered with a `bsi:ingestException`).
#[derive(Debug, Error, PartialEq)]
pub enum ReportError {
    /// Not readable as (safe) XML.
    #[error(transparent)]
    Xml(#[from] XmlError),
    /// The root element is not one of the accepted ones.
    #[error(
        "root element {found} is not rep:browseReport ({REPORT_NS_V1} or {REPORT_NS_V13}) \
         nor bsi:ingestBrowse ({INGESTION_NS})"
    )]
    WrongRoot {
        /// `{namespace}localName` of the root found.
        found: String,
    },
    /// A `version` attribute other than 1.1, 1.2 or 1.3.
    #[error("unsupported browse report version {0:?} (accepted: 1.1, 1.2, 1.3)")]
    UnsupportedVersion(String),
    /// A report-level element is missing, repeated, empty or not allowed.
    #[error("{element}: {problem}")]
    Element {
        /// Path of the element, e.g. `rep:browseType`.
        element: String,
        /// What is wrong with it.
        problem: Problem,
    },
    /// The report `dateTime` is not an `xs:dateTime`.
    #[error("rep:dateTime: {0}")]
    DateTime(#[from] TimeError),
}

impl ReportError {
    /// The ngEO exception code for the whole request.
    pub fn exception_code(&self) -> ExceptionCode {
        ExceptionCode::InvalidRequest
    }
}

impl BrowseReport {
    /// Parses a report from raw bytes (must be UTF-8).
    pub fn parse(bytes: &[u8]) -> Result<Self, ReportError> {
        let root = parse_document(bytes)?;
        let ns = report_namespace(&root)?;
        if let Some(version) = root.attribute("version")
            && !VERSIONS.contains(&version.trim())
        {
            return Err(ReportError::UnsupportedVersion(version.to_owned()));
        }
        let children = Children::new(&root, ns);
        let element_error = |name: &str, problem| ReportError::Element {
            element: format!("rep:{name}"),
            problem,
        };
        if let Some(other) =
            children.unexpected(&["responsibleOrgName", "dateTime", "browseType", "browse"])
        {
            return Err(element_error(&other.name, Problem::Unexpected));
        }
        let text = |name: &'static str| {
            children
                .text(name)
                .map_err(|problem| element_error(name, problem))
        };
        let responsible_org_name = text("responsibleOrgName")?.to_owned();
        let date_time = parse_date_time(text("dateTime")?)?;
        let browse_type = text("browseType")?.to_owned();
        let browses = root
            .children
            .iter()
            .filter(|child| child.ns == ns && child.name == "browse")
            .enumerate()
            .map(|(index, browse)| parse_browse(browse, ns, index))
            .collect();
        Ok(BrowseReport {
            responsible_org_name,
            date_time,
            browse_type,
            browses,
        })
    }

    /// The valid browses.
    pub fn valid_browses(&self) -> impl Iterator<Item = &Browse> {
        self.browses
            .iter()
            .filter_map(|browse| browse.as_ref().ok())
    }
}

/// The namespace of the report's children: the root's own for `rep:browseReport`, the
/// namespace of the first report element inside `bsi:ingestBrowse`.
fn report_namespace(root: &Element) -> Result<Ns, ReportError> {
    match (root.ns, root.name.as_str()) {
        (Ns::ReportV1 | Ns::ReportV13, "browseReport") => Ok(root.ns),
        (Ns::Ingestion, "ingestBrowse") => Ok(root
            .children
            .iter()
            .map(|child| child.ns)
            .find(|ns| matches!(ns, Ns::ReportV1 | Ns::ReportV13))
            .unwrap_or(Ns::ReportV13)),
        _ => Err(ReportError::WrongRoot {
            found: format!(
                "{{{}}}{}",
                root.ns_uri.as_deref().unwrap_or_default(),
                root.name
            ),
        }),
    }
}
