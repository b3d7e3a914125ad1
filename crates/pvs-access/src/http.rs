//! The HTTP side: [`protect`] tells every request's [`Access`] before its handler runs, and
//! handlers take the [`Access`] as an extractor.

use std::convert::Infallible;
use std::sync::Arc;

use axum::Router;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::{Access, TokenError, Verifier};

/// `router` with `verifier` run on each of its requests: a request with valid credentials,
/// or none, goes on with its [`Access`]; one with credentials that are not valid is answered
/// 401 with a `WWW-Authenticate` challenge saying why (RFC 6750) and a JSON body. Every
/// answer varies with `Authorization` (`Vary`), since what a request sees depends on it.
pub fn protect(router: Router, verifier: Arc<Verifier>) -> Router {
    router.layer(axum::middleware::from_fn_with_state(verifier, authenticate))
}

async fn authenticate(
    State(verifier): State<Arc<Verifier>>,
    mut request: Request,
    next: Next,
) -> Response {
    let authorization = request
        .headers()
        .get(header::AUTHORIZATION)
        .map(HeaderValue::as_bytes);
    let mut response = match verifier.access(authorization).await {
        Ok(access) => {
            request.extensions_mut().insert(access);
            next.run(request).await
        }
        Err(error) => {
            tracing::info!(%error, "credentials refused");
            unauthorized(&verifier, Some(&error))
        }
    };
    response
        .headers_mut()
        .append(header::VARY, HeaderValue::from_static("Authorization"));
    response
}

/// A 401 answer with the verifier's challenge; `error` says what was wrong with the
/// credentials given (none: credentials are needed).
pub fn unauthorized(verifier: &Verifier, error: Option<&TokenError>) -> Response {
    let challenge = verifier.challenge(error);
    let description = error.map_or_else(|| "credentials are needed".to_owned(), |e| e.to_string());
    let mut response = (
        StatusCode::UNAUTHORIZED,
        axum::Json(json!({"code": "Unauthorized", "description": description})),
    )
        .into_response();
    if let Ok(value) = HeaderValue::from_str(&challenge) {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, value);
    }
    response
}

/// The answer to a write the request may not make: 401 with a challenge when it came
/// without credentials, else 403.
pub fn write_refused(access: &Access) -> Response {
    if access.is_anonymous() {
        let mut response = (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"code": "Unauthorized", "description": "writing needs credentials"})),
        )
            .into_response();
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"pvs\""),
        );
        response
    } else {
        (
            StatusCode::FORBIDDEN,
            axum::Json(json!({
                "code": "Forbidden",
                "description": "these credentials may not write"
            })),
        )
            .into_response()
    }
}

/// The request's [`Access`], as [`protect`] found it; [`Access::open`] on a router without
/// the layer (no policy: everything open).
impl<S: Send + Sync> FromRequestParts<S> for Access {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<Access>()
            .cloned()
            .unwrap_or_else(Access::open))
    }
}

/// A service's state as the request may see it: the [`ReadView`] of the router's state for
/// the request's [`Access::readable`] (the state itself when every collection is readable).
pub struct Reader<T>(pub Arc<T>);

/// A service state that can be narrowed to what one reader may see (by reading through
/// `pvs_catalog::Readable::view`).
pub trait ReadView: Send + Sync + 'static {
    /// This state, seeing only the `readable` collections (never [`Readable::All`]).
    ///
    /// [`Readable::All`]: crate::Readable::All
    fn for_reader(&self, readable: &crate::Readable) -> Self;
}

impl<T: ReadView> FromRequestParts<Arc<T>> for Reader<T> {
    type Rejection = Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<T>,
    ) -> Result<Self, Self::Rejection> {
        let access = parts
            .extensions
            .get::<Access>()
            .cloned()
            .unwrap_or_else(Access::open);
        Ok(Self(match access.readable() {
            crate::Readable::All => state.clone(),
            readable => Arc::new(state.for_reader(&readable)),
        }))
    }
}
