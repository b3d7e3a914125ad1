//! Who may POST reports: nobody needs credentials unless a bearer token (`INGEST_TOKEN`)
//! and/or basic-auth credentials (`INGEST_BASIC_AUTH`) are configured; then a request must
//! carry one of them.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// The credentials the ingestor accepts.
#[derive(Clone, Default)]
pub struct Auth {
    /// The full `Authorization` header values accepted (`Bearer ...`, `Basic ...`).
    accepted: Vec<String>,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the secrets themselves.
        f.debug_struct("Auth")
            .field("required", &self.is_required())
            .finish()
    }
}

impl Auth {
    /// No credentials required.
    pub fn open() -> Self {
        Self::default()
    }

    /// Also accepts `Authorization: Bearer <token>`.
    pub fn with_bearer(mut self, token: &str) -> Self {
        self.accepted.push(format!("Bearer {token}"));
        self
    }

    /// Also accepts HTTP basic auth with `user:password`.
    pub fn with_basic(mut self, user_colon_password: &str) -> Self {
        self.accepted
            .push(format!("Basic {}", STANDARD.encode(user_colon_password)));
        self
    }

    /// Whether requests need credentials at all.
    pub fn is_required(&self) -> bool {
        !self.accepted.is_empty()
    }

    /// Whether a request with this `Authorization` header value may proceed.
    pub fn allows(&self, authorization: Option<&[u8]>) -> bool {
        if !self.is_required() {
            return true;
        }
        let Some(given) = authorization else {
            return false;
        };
        // Check every accepted value without stopping early, each in constant time.
        self.accepted.iter().fold(false, |ok, accepted| {
            ok | constant_time_eq(accepted.as_bytes(), given)
        })
    }

    /// The `WWW-Authenticate` challenge for a refused request.
    pub fn challenge(&self) -> &'static str {
        if self.accepted.iter().any(|a| a.starts_with("Basic ")) {
            "Basic realm=\"pvs ingest\""
        } else {
            "Bearer realm=\"pvs ingest\""
        }
    }
}

/// Equality whose time depends only on the lengths, not on where the bytes differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_allows_everyone() {
        assert!(Auth::open().allows(None));
        assert!(!Auth::open().is_required());
    }

    #[test]
    fn bearer_and_basic() {
        let auth = Auth::open()
            .with_bearer("t0ken")
            .with_basic("provider:s3cr3t");
        assert!(auth.allows(Some(b"Bearer t0ken")));
        // "provider:s3cr3t" in base64.
        assert!(auth.allows(Some(b"Basic cHJvdmlkZXI6czNjcjN0")));
        assert!(!auth.allows(None));
        assert!(!auth.allows(Some(b"Bearer t0ke")));
        assert!(!auth.allows(Some(b"Bearer t0kenX")));
        assert!(!auth.allows(Some(b"Basic cHJvdmlkZXI6d3Jvbmc=")));
        assert!(!auth.allows(Some(b"")));
        assert_eq!(auth.challenge(), "Basic realm=\"pvs ingest\"");
        assert!(!format!("{auth:?}").contains("t0ken"));
    }
}
