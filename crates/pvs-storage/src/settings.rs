//! How to reach and sign requests to an S3 (or S3-compatible) server.

use std::fmt;

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
