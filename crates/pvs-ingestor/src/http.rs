//! The ingestor's HTTP endpoint: `POST /` and `POST /ingest` with a browse report body.
//!
//! | Situation | Status | Body |
//! |---|---|---|
//! | every browse queued | 202 | `bsi:ingestBrowseResponse`, status `success` |
//! | some browses queued, some refused | 202 | the same, status `partial`, failures with reasons |
//! | every browse refused | 400 | the same, status `failure` |
//! | not a browse report (XML, root, report elements) | 400 | `bsi:ingestException` |
//! | credentials required and missing or wrong | 401 | `bsi:ingestException` |
//! | method other than POST | 405 | `bsi:ingestException` |
//! | body stopped arriving for `HTTP_BODY_TIMEOUT` | 408 | `bsi:ingestException` |
//! | body larger than `INGEST_MAX_BYTES` | 413 | `bsi:ingestException` |
//! | `Content-Type` not XML (absent is fine) | 415 | `bsi:ingestException` |
//! | the queue is unreachable | 503 | `bsi:ingestException`, nothing queued |
//!
//! Credentials and the content type are checked before the body is read; a refused request
//! queues nothing.

use std::sync::Arc;

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use pvs_access::Access;
use pvs_model::{ExceptionCode, IngestionStatus, ingest_exception_xml};

use crate::ingest::{Images, IngestError, Ingestor};

/// Settings of the HTTP endpoint.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// Largest body accepted, in bytes.
    pub max_bytes: u64,
}

struct AppState {
    ingestor: Arc<Ingestor>,
    settings: HttpSettings,
}

/// The routes `POST /` and `POST /ingest` (other methods get 405).
pub fn routes(ingestor: Arc<Ingestor>, settings: HttpSettings) -> Router {
    let state = Arc::new(AppState { ingestor, settings });
    let endpoint = || post(ingest).fallback(method_not_allowed);
    Router::new()
        .route("/", endpoint())
        .route("/ingest", endpoint())
        .with_state(state)
}

fn xml(status: StatusCode, body: String) -> Response {
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/xml; charset=utf-8"),
        )],
        body,
    )
        .into_response()
}

fn exception(status: StatusCode, code: ExceptionCode, message: &str) -> Response {
    xml(status, ingest_exception_xml(code, message))
}

async fn method_not_allowed() -> Response {
    let mut response = exception(
        StatusCode::METHOD_NOT_ALLOWED,
        ExceptionCode::MethodNotAllowed,
        "browse reports are sent with POST",
    );
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("POST"));
    response
}

/// Whether a `Content-Type` is an XML one (`application/xml`, `text/xml`, `*/*+xml`).
fn is_xml(content_type: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(content_type) else {
        return false;
    };
    let essence = text
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    matches!(essence.as_str(), "application/xml" | "text/xml") || essence.ends_with("+xml")
}

async fn ingest(
    State(state): State<Arc<AppState>>,
    access: Access,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let settings = &state.settings;
    if !access.can_write() {
        return if access.is_anonymous() {
            let mut response = exception(
                StatusCode::UNAUTHORIZED,
                ExceptionCode::InvalidRequest,
                "credentials required: send the ingest token (Authorization: Bearer) or the basic-auth credentials",
            );
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"pvs\", Basic realm=\"pvs\""),
            );
            response
        } else {
            exception(
                StatusCode::FORBIDDEN,
                ExceptionCode::InvalidRequest,
                "these credentials may not ingest (the access policy grants them no write)",
            )
        };
    }
    if let Some(content_type) = headers.get(header::CONTENT_TYPE)
        && !is_xml(content_type.as_bytes())
    {
        return exception(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ExceptionCode::InvalidRequest,
            &format!(
                "Content-Type {:?} is not XML: send the report as application/xml",
                String::from_utf8_lossy(content_type.as_bytes())
            ),
        );
    }
    let too_large = || {
        exception(
            StatusCode::PAYLOAD_TOO_LARGE,
            ExceptionCode::InvalidRequest,
            &format!(
                "the report is larger than the limit of {} bytes (INGEST_MAX_BYTES)",
                settings.max_bytes
            ),
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > settings.max_bytes) {
        return too_large();
    }
    let limit = usize::try_from(settings.max_bytes).unwrap_or(usize::MAX);
    let bytes = match to_bytes(body, limit).await {
        Ok(bytes) => bytes,
        Err(e) => {
            let e = e.into_inner();
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
            {
                return too_large();
            }
            if pvs_service::http::is_body_timeout(&*e) {
                return exception(
                    StatusCode::REQUEST_TIMEOUT,
                    ExceptionCode::InvalidRequest,
                    &format!("the report stopped arriving: {e} (HTTP_BODY_TIMEOUT)"),
                );
            }
            return exception(
                StatusCode::BAD_REQUEST,
                ExceptionCode::InvalidRequest,
                &format!("cannot read the request body: {e}"),
            );
        }
    };
    let report_name = report_name();
    match state
        .ingestor
        .ingest(&bytes, &report_name, Images::InStorage)
        .await
    {
        Ok(ingested) => {
            let status = match ingested.response.status() {
                IngestionStatus::Failure => StatusCode::BAD_REQUEST,
                IngestionStatus::Success | IngestionStatus::Partial => StatusCode::ACCEPTED,
            };
            let mut response = xml(status, ingested.response.to_xml());
            if let Ok(value) = HeaderValue::from_str(&report_name) {
                response.headers_mut().insert("x-pvs-report", value);
            }
            response
        }
        Err(IngestError::Report(e)) => {
            exception(StatusCode::BAD_REQUEST, e.exception_code(), &e.to_string())
        }
        Err(e @ IngestError::Queue(_)) => {
            tracing::error!(error = %e, "cannot queue a report");
            exception(
                StatusCode::SERVICE_UNAVAILABLE,
                ExceptionCode::InvalidState,
                &e.to_string(),
            )
        }
    }
}

/// A name for a report received over HTTP: `http-<UTC time>-<random>`.
fn report_name() -> String {
    let random = uuid::Uuid::new_v4().simple().to_string();
    format!(
        "http-{}-{}",
        chrono::Utc::now().format("%Y%m%dT%H%M%S%.6fZ"),
        &random[..8]
    )
}

#[cfg(test)]
mod tests {
    use super::is_xml;

    #[test]
    fn xml_content_types() {
        for ok in [
            "application/xml",
            "text/xml; charset=utf-8",
            "Application/XML",
            "application/atom+xml",
        ] {
            assert!(is_xml(ok.as_bytes()), "{ok}");
        }
        for bad in ["application/json", "text/plain", "", "multipart/form-data"] {
            assert!(!is_xml(bad.as_bytes()), "{bad}");
        }
    }
}
