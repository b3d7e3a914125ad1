//! The one error answer of the STAC API: a status and a JSON body
//! `{"code": "...", "description": "..."}` (the STAC API's `exception` schema), whose
//! description names the parameter or field at fault.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use pvs_catalog::CatalogError;

/// A refused or failed request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// A short machine-readable code (`InvalidParameterValue`, `NotFound`...).
    pub code: &'static str,
    /// What was wrong, naming the parameter or field at fault.
    pub description: String,
    /// The `WWW-Authenticate` challenge of a 401.
    pub challenge: Option<&'static str>,
}

impl ApiError {
    /// An error of any status.
    pub fn new(status: StatusCode, code: &'static str, description: impl Into<String>) -> Self {
        Self {
            status,
            code,
            description: description.into(),
            challenge: None,
        }
    }

    /// 401 `Unauthorized`, with the challenge of the credentials expected.
    pub fn unauthorized(challenge: &'static str) -> Self {
        Self {
            challenge: Some(challenge),
            ..Self::new(
                StatusCode::UNAUTHORIZED,
                "Unauthorized",
                "Authorization: writes need the ingest credentials",
            )
        }
    }

    /// 400 `InvalidParameterValue`: the value of `parameter` is wrong.
    pub fn invalid(parameter: &str, why: impl std::fmt::Display) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "InvalidParameterValue",
            format!("{parameter}: {why}"),
        )
    }

    /// 404 `NotFound`.
    pub fn not_found(description: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "NotFound", description)
    }

    /// 404 for an unknown collection.
    pub fn unknown_collection(name: &str) -> Self {
        Self::not_found(format!("collection: no collection {name:?}"))
    }

    /// 500 `ServerError`: a backend failed.
    pub fn server(what: &str, error: impl std::fmt::Display) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "ServerError",
            format!("{what}: {error}"),
        )
    }

    /// The catalog's error: its own refusal of a value is the request's fault (400, naming
    /// `parameter`), anything else the server's.
    pub fn catalog(parameter: &str, error: CatalogError) -> Self {
        match error {
            CatalogError::Invalid { what, reason } => {
                Self::invalid(parameter, format!("{what}: {reason}"))
            }
            other => Self::server("the catalog", other),
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.code,
            self.description
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::warn!(code = self.code, description = %self.description, "STAC request failed");
        }
        let body = serde_json::json!({
            "code": self.code,
            "description": self.description,
        });
        let mut response = (self.status, body.to_string()).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        // A body too large was not read: the connection cannot be reused, say so.
        if self.status == StatusCode::PAYLOAD_TOO_LARGE {
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        if let Some(challenge) = self.challenge {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(challenge),
            );
        }
        response
    }
}
