//! How to reach and sign requests to an S3 (or S3-compatible) server.

use std::fmt;
use std::time::Duration;

use url::Url;

/// The region used when none is configured.
pub const DEFAULT_REGION: &str = "us-east-1";

/// Connection settings for `s3://` storage, shared by `object_store` and GDAL
/// (see [`Storage::gdal_config`](crate::Storage::gdal_config)).
///
/// `Default` is AWS S3 in [`DEFAULT_REGION`], unsigned requests, HTTPS, path-style addressing.
/// Use [`S3Settings::with_endpoint`] for an S3-compatible server such as MinIO, SeaweedFS or moto.
/// `Debug` never shows the secret access key.
#[derive(Clone, PartialEq, Eq)]
pub struct S3Settings {
    /// The server's base URL (`scheme://host[:port]`, no path); `None` means AWS S3.
    pub endpoint: Option<Url>,
    /// The region requests are signed for.
    pub region: String,
    /// The access key id; without it (and the secret) requests are sent unsigned.
    pub access_key_id: Option<String>,
    /// The secret access key (never logged).
    pub secret_access_key: Option<String>,
    /// Whether plain `http://` is allowed (true when the endpoint is `http://`).
    pub allow_http: bool,
    /// Virtual-hosted-style addressing (`bucket.host/key`) instead of path-style
    /// (`host/bucket/key`). Path-style, the default, is what MinIO, moto and SeaweedFS need.
    pub virtual_hosted_style: bool,
    /// How requests that fail transiently are retried.
    pub retry: S3Retry,
}

/// How S3 requests that fail transiently are retried: by `object_store`
/// (`object_store::RetryConfig`), the only retry layer pvs has over object storage; the
/// services call [`Storage`](crate::Storage) once and get its answer.
///
/// Retried: connection errors, server errors (5xx), throttling (429, `SlowDown`) and timeouts
/// of reads. Not retried: answers that will not change (not found, access denied, a bad
/// request). The first retry waits [`S3Retry::init_backoff`]; each further wait is drawn at
/// random between that and twice the previous one (exponential backoff with jitter), at most
/// [`S3Retry::max_backoff`]. No retry starts later than [`S3Retry::retry_timeout`] after the
/// first attempt.
///
/// `Default`: 5 retries, waits from 250 ms up to 4 s, within 30 s, so an unreachable server
/// fails a request after 1.25 s to 7.75 s of waiting (plus the attempts themselves), and a
/// server restarting (MinIO takes a few seconds) is waited for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct S3Retry {
    /// Retries after the first attempt (0: none).
    pub max_retries: usize,
    /// The wait before the first retry.
    pub init_backoff: Duration,
    /// The longest wait between two attempts.
    pub max_backoff: Duration,
    /// No retry starts later than this after the first attempt.
    pub retry_timeout: Duration,
}

impl Default for S3Retry {
    fn default() -> Self {
        Self {
            max_retries: 5,
            init_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(4),
            retry_timeout: Duration::from_secs(30),
        }
    }
}

impl S3Settings {
    /// Settings for the server at `endpoint`, allowing plain HTTP when its scheme is `http`.
    pub fn with_endpoint(endpoint: Url) -> Self {
        Self {
            allow_http: endpoint.scheme() == "http",
            endpoint: Some(endpoint),
            ..Self::default()
        }
    }

    /// These settings with requests signed by the given key pair.
    pub fn with_credentials(
        self,
        access_key_id: impl Into<String>,
        secret_access_key: impl Into<String>,
    ) -> Self {
        Self {
            access_key_id: Some(access_key_id.into()),
            secret_access_key: Some(secret_access_key.into()),
            ..self
        }
    }
}

impl Default for S3Settings {
    fn default() -> Self {
        Self {
            endpoint: None,
            region: DEFAULT_REGION.to_owned(),
            access_key_id: None,
            secret_access_key: None,
            allow_http: false,
            virtual_hosted_style: false,
            retry: S3Retry::default(),
        }
    }
}

impl fmt::Debug for S3Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Settings")
            .field("endpoint", &self.endpoint.as_ref().map(Url::as_str))
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .field(
                "secret_access_key",
                &self.secret_access_key.as_ref().map(|_| "<redacted>"),
            )
            .field("allow_http", &self.allow_http)
            .field("virtual_hosted_style", &self.virtual_hosted_style)
            .field("retry", &self.retry)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_http_endpoint_allows_http_and_https_does_not() {
        let http = S3Settings::with_endpoint("http://127.0.0.1:9000".parse().unwrap());
        assert!(http.allow_http);
        assert!(!http.virtual_hosted_style);
        assert_eq!(http.region, "us-east-1");
        let https = S3Settings::with_endpoint("https://minio.example:9000".parse().unwrap());
        assert!(!https.allow_http);
    }

    #[test]
    fn debug_hides_the_secret() {
        let settings = S3Settings::default().with_credentials("AKIDEXAMPLE", "wJalrXUtnFEMI");
        let shown = format!("{settings:?}");
        assert!(shown.contains("AKIDEXAMPLE"), "{shown}");
        assert!(!shown.contains("wJalrXUtnFEMI"), "{shown}");
        assert!(shown.contains("<redacted>"), "{shown}");
    }
}
