//! OGC exceptions and the reports each protocol writes for them.

use http::StatusCode;

use crate::xml::escape;

/// The longest locator written; longer ones (an unknown 10 KB key) are cut.
const MAX_LOCATOR_CHARS: usize = 100;

/// A refused or failed request: the HTTP status, the OGC exception code, the parameter (or
/// value) at fault and a message that says what was wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exception {
    /// The HTTP status of OWS answers ([`status_of`] the code unless set otherwise); WMS
    /// reports have their own rule ([`Report::status`]).
    pub status: StatusCode,
    /// `InvalidParameterValue`, `MissingParameterValue`, `NoSuchCoverage`...
    pub code: &'static str,
    /// The locator: a parameter name, an axis label or an id.
    pub locator: Option<String>,
    /// What is wrong, for people.
    pub message: String,
}

impl Exception {
    /// An exception located at `locator` (cut to 100 characters), with its code's status.
    pub fn new(code: &'static str, locator: &str, message: impl Into<String>) -> Self {
        Self {
            status: status_of(code),
            code,
            locator: Some(clip(locator, MAX_LOCATOR_CHARS)),
            message: message.into(),
        }
    }

    /// An exception about no parameter in particular, with its code's status.
    pub fn unlocated(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status: status_of(code),
            code,
            locator: None,
            message: message.into(),
        }
    }

    /// The required parameter `name` is absent or empty (400 `MissingParameterValue`).
    pub fn missing(name: &str) -> Self {
        Self::new(
            "MissingParameterValue",
            name,
            format!("parameter {name} is required"),
        )
    }

    /// A parameter has a value the service does not take (400 `InvalidParameterValue`).
    pub fn invalid(locator: &str, message: impl Into<String>) -> Self {
        Self::new("InvalidParameterValue", locator, message)
    }

    /// A failure on the server's side (500 `NoApplicableCode`).
    pub fn server(message: impl Into<String>) -> Self {
        Self::unlocated("NoApplicableCode", message)
    }

    /// The same exception with another HTTP status.
    pub fn with_status(self, status: StatusCode) -> Self {
        Self { status, ..self }
    }

    /// The same exception located at `locator`.
    pub fn located(self, locator: &str) -> Self {
        Self {
            locator: Some(clip(locator, MAX_LOCATOR_CHARS)),
            ..self
        }
    }
}

/// The HTTP status OWS 2.0 (OGC 06-121r9, table 28), WCS 2.0.1 (OGC 09-110r4, tables 18
/// and 20) and WMTS 1.0 (OGC 07-057r7, table 28) give an exception code; 400 for the
/// others.
pub fn status_of(code: &str) -> StatusCode {
    match code {
        "NoSuchCoverage"
        | "NoSuchDatasetSeriesOrCoverage"
        | "InvalidAxisLabel"
        | "InvalidSubsetting"
        | "InvalidScaleFactor"
        | "ScaleAxisUndefined"
        | "NotFound" => StatusCode::NOT_FOUND,
        "OperationNotSupported" | "OptionNotSupported" => StatusCode::NOT_IMPLEMENTED,
        "NoApplicableCode" => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::BAD_REQUEST,
    }
}

/// At most `max` characters of `text` (a value a client sent, echoed in a message), with
/// `…` when cut: echoing a 10 KB id back helps no one.
pub fn clip(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        None => text.to_owned(),
        Some((end, _)) => format!("{}…", &text[..end]),
    }
}

/// The exception report of a protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Report {
    /// WMS 1.1.1: `ServiceExceptionReport`, `application/vnd.ogc.se_xml`.
    Wms111,
    /// WMS 1.3.0: `ServiceExceptionReport` in the `http://www.opengis.net/ogc` namespace,
    /// `text/xml`.
    Wms130,
    /// OWS 1.1 `ExceptionReport` (WMTS 1.0.0 and the cache's other tile endpoints),
    /// `application/xml`.
    Ows11,
    /// OWS 2.0 `ExceptionReport` (WCS 2.0, OpenSearch), `application/xml`.
    Ows20,
}

impl Report {
    /// The content type of the report.
    pub fn content_type(self) -> &'static str {
        match self {
            Report::Wms111 => "application/vnd.ogc.se_xml",
            Report::Wms130 => "text/xml",
            Report::Ows11 | Report::Ows20 => "application/xml",
        }
    }

    /// The HTTP status of the answer: the exception's for OWS reports; WMS ties no status
    /// to its codes, so 400 for the client's faults and 500 for `NoApplicableCode`.
    pub fn status(self, exception: &Exception) -> StatusCode {
        match self {
            Report::Wms111 | Report::Wms130 if exception.code == "NoApplicableCode" => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
            Report::Wms111 | Report::Wms130 => StatusCode::BAD_REQUEST,
            Report::Ows11 | Report::Ows20 => exception.status,
        }
    }

    /// The report document; the locator and the message are escaped.
    pub fn document(self, exception: &Exception) -> String {
        let locator = exception
            .locator
            .as_deref()
            .map(|l| format!(" locator=\"{}\"", escape(l)))
            .unwrap_or_default();
        let (code, message) = (exception.code, escape(&exception.message));
        let xsi = "xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\"";
        let head = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
        match self {
            Report::Wms111 | Report::Wms130 => {
                let root = if self == Report::Wms111 {
                    "<ServiceExceptionReport version=\"1.1.1\">".to_owned()
                } else {
                    format!(
                        "<ServiceExceptionReport version=\"1.3.0\" xmlns=\"http://www.opengis.net/ogc\" {xsi} xsi:schemaLocation=\"http://www.opengis.net/ogc http://schemas.opengis.net/wms/1.3.0/exceptions_1_3_0.xsd\">"
                    )
                };
                format!(
                    "{head}{root}\n  <ServiceException code=\"{code}\"{locator}>{message}</ServiceException>\n</ServiceExceptionReport>\n"
                )
            }
            Report::Ows11 | Report::Ows20 => {
                let (prefix, xmlns, namespace, version, schema) = if self == Report::Ows11 {
                    (
                        "",
                        "xmlns",
                        "http://www.opengis.net/ows/1.1",
                        "1.1.0",
                        "ows/1.1.0",
                    )
                } else {
                    (
                        "ows:",
                        "xmlns:ows",
                        "http://www.opengis.net/ows/2.0",
                        "2.0.0",
                        "ows/2.0",
                    )
                };
                format!(
                    "{head}<{prefix}ExceptionReport {xmlns}=\"{namespace}\" {xsi} xsi:schemaLocation=\"{namespace} http://schemas.opengis.net/{schema}/owsExceptionReport.xsd\" version=\"{version}\" xml:lang=\"en\">\n  <{prefix}Exception exceptionCode=\"{code}\"{locator}>\n    <{prefix}ExceptionText>{message}</{prefix}ExceptionText>\n  </{prefix}Exception>\n</{prefix}ExceptionReport>\n"
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses() {
        let status = |code| Exception::new(code, "x", "").status.as_u16();
        assert_eq!(status("NoSuchCoverage"), 404);
        assert_eq!(status("InvalidSubsetting"), 404);
        assert_eq!(status("NotFound"), 404);
        assert_eq!(status("MissingParameterValue"), 400);
        assert_eq!(status("TileOutOfRange"), 400);
        assert_eq!(status("OperationNotSupported"), 501);
        assert_eq!(status("NoApplicableCode"), 500);
        let unsupported = Exception::new("OperationNotSupported", "request", "");
        assert_eq!(Report::Wms130.status(&unsupported).as_u16(), 400);
        assert_eq!(Report::Ows11.status(&unsupported).as_u16(), 501);
        assert_eq!(Report::Wms111.status(&Exception::server("")).as_u16(), 500);
    }

    #[test]
    fn clipping() {
        assert_eq!(clip("abc", 3), "abc");
        assert_eq!(clip("abcd", 3), "abc…");
        assert_eq!(clip("éééé", 2), "éé…");
        let long = Exception::invalid(&"k".repeat(500), "");
        assert_eq!(long.locator.unwrap().chars().count(), 101);
    }

    #[test]
    fn reports_escape_what_clients_sent() {
        let error = Exception::invalid("time", "TIME \"<x>&\u{1}\"");
        for report in [Report::Wms111, Report::Wms130, Report::Ows11, Report::Ows20] {
            let xml = report.document(&error);
            assert!(
                xml.contains("TIME &quot;&lt;x&gt;&amp;\\u{1}&quot;"),
                "{xml}"
            );
            assert!(xml.contains("locator=\"time\""), "{xml}");
            assert!(!xml.contains("<x>"));
        }
    }

    /// The documents are the ones each protocol wrote before they were shared, byte for byte.
    #[test]
    fn documents() {
        let error = Exception::new("InvalidParameterValue", "bbox", "bad");
        assert_eq!(
            Report::Wms111.document(&error),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ServiceExceptionReport version=\"1.1.1\">\n  <ServiceException code=\"InvalidParameterValue\" locator=\"bbox\">bad</ServiceException>\n</ServiceExceptionReport>\n"
        );
        assert_eq!(
            Report::Wms130.document(&error),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ServiceExceptionReport version=\"1.3.0\" xmlns=\"http://www.opengis.net/ogc\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:schemaLocation=\"http://www.opengis.net/ogc http://schemas.opengis.net/wms/1.3.0/exceptions_1_3_0.xsd\">\n  <ServiceException code=\"InvalidParameterValue\" locator=\"bbox\">bad</ServiceException>\n</ServiceExceptionReport>\n"
        );
        assert_eq!(
            Report::Ows11.document(&error),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ExceptionReport xmlns=\"http://www.opengis.net/ows/1.1\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:schemaLocation=\"http://www.opengis.net/ows/1.1 http://schemas.opengis.net/ows/1.1.0/owsExceptionReport.xsd\" version=\"1.1.0\" xml:lang=\"en\">\n  <Exception exceptionCode=\"InvalidParameterValue\" locator=\"bbox\">\n    <ExceptionText>bad</ExceptionText>\n  </Exception>\n</ExceptionReport>\n"
        );
        assert_eq!(
            Report::Ows20.document(&Exception::unlocated("NoApplicableCode", "x")),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ows:ExceptionReport xmlns:ows=\"http://www.opengis.net/ows/2.0\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:schemaLocation=\"http://www.opengis.net/ows/2.0 http://schemas.opengis.net/ows/2.0/owsExceptionReport.xsd\" version=\"2.0.0\" xml:lang=\"en\">\n  <ows:Exception exceptionCode=\"NoApplicableCode\">\n    <ows:ExceptionText>x</ows:ExceptionText>\n  </ows:Exception>\n</ows:ExceptionReport>\n"
        );
    }
}
