//! The public base URL: the one rule by which every document and answer that carries a URL
//! (capabilities, description documents, feed links, TileJSON, WCS links) names the service.
//!
//! In order:
//! 1. `PUBLIC_URL`, when configured: scheme, host, port and path prefix, e.g.
//!    `https://vs.example.org/pvs`;
//! 2. else what the proxy in front says: the first element of `Forwarded` (RFC 7239: `proto=`,
//!    `host=`), else `X-Forwarded-Proto` and `X-Forwarded-Host` (with `X-Forwarded-Port` when
//!    the host has none), and `X-Forwarded-Prefix` for a path prefix;
//! 3. else the request's `Host`, over `http`.
//!
//! A header value that is not a plain host name and port (or, for the prefix, a plain path)
//! is ignored as if absent, so nothing a client sends can put markup or another scheme into
//! a document. A service reads the rule once with [`PublicUrl::from_env`] and resolves it per
//! request with [`PublicUrl::resolve`] where a document is written (not on tile requests).

use std::fmt;
use std::str::FromStr;

use axum::http::{HeaderMap, HeaderName, HeaderValue, header};

use crate::config::{ConfigError, Env, vars};

/// The base URL of the service as its clients reach it: `scheme://host[:port][/prefix]`,
/// without a trailing slash. Paths are appended to it (`{base}/ows`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BaseUrl {
    /// `scheme://host[:port]`.
    origin: String,
    /// The path prefix: empty, or `/a/b` (no trailing slash).
    prefix: String,
}

impl BaseUrl {
    /// `http://localhost`: the base of a request that names no host.
    pub fn localhost() -> Self {
        Self {
            origin: "http://localhost".to_owned(),
            prefix: String::new(),
        }
    }

    /// The URL as text, without a trailing slash.
    pub fn as_string(&self) -> String {
        format!("{}{}", self.origin, self.prefix)
    }

    /// The URL of `path` (which starts with `/`) under this base.
    pub fn join(&self, path: &str) -> String {
        debug_assert!(path.starts_with('/'), "{path:?} starts with /");
        format!("{}{}{path}", self.origin, self.prefix)
    }

    /// `http` or `https`.
    pub fn scheme(&self) -> &str {
        self.origin.split_once("://").map_or("http", |(s, _)| s)
    }

    /// `host[:port]`.
    pub fn host(&self) -> &str {
        self.origin.split_once("://").map_or("", |(_, h)| h)
    }

    /// The path prefix: empty or `/a/b`.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The `X-Forwarded-*` headers that make a service behind this one resolve the same base
    /// URL (the cache passing requests to a renderer service).
    pub fn forwarded_headers(&self) -> [(HeaderName, HeaderValue); 3] {
        let value = |text: &str| {
            HeaderValue::from_str(text).expect("a base URL's parts are valid header values")
        };
        [
            (
                HeaderName::from_static("x-forwarded-proto"),
                value(self.scheme()),
            ),
            (
                HeaderName::from_static("x-forwarded-host"),
                value(self.host()),
            ),
            (
                HeaderName::from_static("x-forwarded-prefix"),
                value(if self.prefix.is_empty() {
                    "/"
                } else {
                    &self.prefix
                }),
            ),
        ]
    }
}

impl fmt::Display for BaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.origin, self.prefix)
    }
}

/// A `PUBLIC_URL` that is not an absolute `http` or `https` URL with a host and at most a
/// path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidPublicUrl(String);

impl FromStr for BaseUrl {
    type Err = InvalidPublicUrl;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid = |why: &str| InvalidPublicUrl(why.to_owned());
        let url = url::Url::parse(text).map_err(|e| InvalidPublicUrl(format!("not a URL: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(invalid("the scheme must be http or https"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(invalid("a public URL has no user name or password"));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(invalid("a public URL has no query or fragment"));
        }
        let host = url
            .host_str()
            .ok_or_else(|| invalid("the URL has no host"))?;
        let host = match url.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_owned(),
        };
        let prefix = prefix(url.path()).ok_or_else(|| {
            invalid("the path may hold only letters, digits, '-', '.', '_', '~', '%' and '/'")
        })?;
        Ok(Self {
            origin: format!("{}://{host}", url.scheme()),
            prefix,
        })
    }
}

/// How a service names itself: a configured base URL, or the proxy's headers and `Host`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PublicUrl {
    configured: Option<BaseUrl>,
}

impl PublicUrl {
    /// The rule with `PUBLIC_URL` configured (`Some`) or not.
    pub fn new(configured: Option<BaseUrl>) -> Self {
        Self { configured }
    }

    /// The rule from `PUBLIC_URL`.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self::new(env.get_opt(&vars::PUBLIC_URL)?))
    }

    /// The configured base URL, if any.
    pub fn configured(&self) -> Option<&BaseUrl> {
        self.configured.as_ref()
    }

    /// The base URL of a request with these headers (see the module's documentation).
    pub fn resolve(&self, headers: &HeaderMap) -> BaseUrl {
        if let Some(base) = &self.configured {
            return base.clone();
        }
        let text = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(first_item)
                .filter(|v| !v.is_empty())
        };
        let forwarded = headers
            .get(header::FORWARDED)
            .and_then(|v| v.to_str().ok())
            .map(Forwarded::parse)
            .unwrap_or_default();
        let https = forwarded
            .proto
            .or_else(|| text("x-forwarded-proto"))
            .is_some_and(|p| p.eq_ignore_ascii_case("https"));
        let forwarded_host = forwarded
            .host
            .filter(|h| is_host(h))
            .map(str::to_owned)
            .or_else(|| {
                let host = text("x-forwarded-host").filter(|h| is_host(h))?;
                let port = text("x-forwarded-port").filter(|p| p.parse::<u16>().is_ok());
                Some(match port {
                    Some(port) if !has_port(host) => format!("{host}:{port}"),
                    _ => host.to_owned(),
                })
            });
        let host = forwarded_host
            .or_else(|| {
                headers
                    .get(header::HOST)
                    .and_then(|h| h.to_str().ok())
                    .filter(|h| is_host(h))
                    .map(str::to_owned)
            })
            .unwrap_or_else(|| "localhost".to_owned());
        let prefix = text("x-forwarded-prefix")
            .and_then(prefix)
            .unwrap_or_default();
        BaseUrl {
            origin: format!("{}://{host}", if https { "https" } else { "http" }),
            prefix,
        }
    }
}

/// The first element of a comma-separated header (proxies append theirs).
fn first_item(value: &str) -> &str {
    value.split(',').next().unwrap_or_default().trim()
}

/// `proto` and `host` of the first element of an RFC 7239 `Forwarded` header.
#[derive(Debug, Default)]
struct Forwarded<'a> {
    proto: Option<&'a str>,
    host: Option<&'a str>,
}

impl<'a> Forwarded<'a> {
    fn parse(value: &'a str) -> Self {
        let mut forwarded = Self::default();
        for pair in first_item(value).split(';') {
            let Some((key, value)) = pair.split_once('=') else {
                continue;
            };
            let value = value.trim().trim_matches('"');
            match key.trim().to_ascii_lowercase().as_str() {
                "proto" => forwarded.proto = Some(value),
                "host" => forwarded.host = Some(value),
                _ => {}
            }
        }
        forwarded
    }
}

/// Whether `host` is a plain host name or address with an optional port.
fn is_host(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 255
        && host.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']' | b'_')
        })
}

/// Whether `host` ends with a port (`name:80`, `[::1]:80`, not `[::1]`).
fn has_port(host: &str) -> bool {
    match host.rsplit_once(':') {
        Some((name, port)) => {
            !port.is_empty()
                && port.bytes().all(|b| b.is_ascii_digit())
                && !name.ends_with(':')
                && (!name.starts_with('[') || name.ends_with(']'))
        }
        None => false,
    }
}

/// A path prefix as `/a/b` (empty for `/` or ``), or `None` when it holds anything but
/// letters, digits, `-._~%` and `/`.
fn prefix(path: &str) -> Option<String> {
    let valid = path.len() <= 1024
        && path.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'%' | b'/')
        });
    if !valid {
        return None;
    }
    let trimmed = path.trim_matches('/');
    Some(if trimmed.is_empty() {
        String::new()
    } else {
        format!("/{trimmed}")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(k, v)| {
                (
                    HeaderName::from_bytes(k.as_bytes()).unwrap(),
                    HeaderValue::from_str(v).unwrap(),
                )
            })
            .collect()
    }

    fn resolve(pairs: &[(&str, &str)]) -> String {
        PublicUrl::default().resolve(&headers(pairs)).to_string()
    }

    #[test]
    fn the_host_header_with_its_port() {
        assert_eq!(
            resolve(&[("host", "127.0.0.1:8080")]),
            "http://127.0.0.1:8080"
        );
        assert_eq!(resolve(&[]), "http://localhost");
        assert_eq!(resolve(&[("host", "a\"><x")]), "http://localhost");
    }

    #[test]
    fn proxy_headers_win_over_host() {
        let got = resolve(&[
            ("host", "renderer:8080"),
            ("x-forwarded-proto", "https"),
            ("x-forwarded-host", "vs.example.org, proxy2"),
            ("x-forwarded-prefix", "/pvs/"),
        ]);
        assert_eq!(got, "https://vs.example.org/pvs");
        let got = resolve(&[
            ("host", "renderer:8080"),
            ("x-forwarded-host", "vs.example.org"),
            ("x-forwarded-port", "8443"),
        ]);
        assert_eq!(got, "http://vs.example.org:8443");
        let got = resolve(&[
            ("x-forwarded-host", "vs.example.org:81"),
            ("x-forwarded-port", "8443"),
        ]);
        assert_eq!(got, "http://vs.example.org:81", "the host's own port wins");
    }

    #[test]
    fn forwarded_wins_over_x_forwarded() {
        let got = resolve(&[
            ("host", "renderer:8080"),
            (
                "forwarded",
                "for=192.0.2.60;proto=https;host=\"maps.example.org:444\", for=10.0.0.1",
            ),
            ("x-forwarded-host", "other.example.org"),
            ("x-forwarded-proto", "http"),
            ("x-forwarded-prefix", "/a"),
        ]);
        assert_eq!(got, "https://maps.example.org:444/a");
    }

    #[test]
    fn hostile_values_are_ignored() {
        let got = resolve(&[
            ("host", "good:1"),
            ("x-forwarded-host", "evil\"><script>"),
            ("x-forwarded-prefix", "/a\"b"),
            ("x-forwarded-port", "99999"),
        ]);
        assert_eq!(got, "http://good:1");
        let got = resolve(&[("host", "good"), ("x-forwarded-proto", "javascript")]);
        assert_eq!(got, "http://good");
    }

    #[test]
    fn a_configured_url_wins_over_everything() {
        let base: BaseUrl = "https://vs.example.org:8443/pvs/".parse().unwrap();
        let rule = PublicUrl::new(Some(base));
        let got = rule.resolve(&headers(&[
            ("host", "x"),
            ("x-forwarded-host", "y"),
            ("x-forwarded-prefix", "/z"),
        ]));
        assert_eq!(got.to_string(), "https://vs.example.org:8443/pvs");
        assert_eq!(got.join("/ows"), "https://vs.example.org:8443/pvs/ows");
        assert_eq!(got.scheme(), "https");
        assert_eq!(got.host(), "vs.example.org:8443");
        assert_eq!(got.prefix(), "/pvs");
    }

    #[test]
    fn forwarded_headers_reproduce_the_base() {
        for text in ["https://vs.example.org/pvs", "http://127.0.0.1:8080"] {
            let base: BaseUrl = text.parse().unwrap();
            let again =
                PublicUrl::default().resolve(&base.forwarded_headers().into_iter().collect());
            assert_eq!(again, base);
        }
    }

    #[test]
    fn configured_urls_are_checked() {
        for (text, why) in [
            ("vs.example.org", "not a URL"),
            ("ftp://vs.example.org", "scheme"),
            ("https://u:p@vs.example.org", "user name"),
            ("https://vs.example.org/?a=1", "query"),
            ("https://vs.example.org/a;b", "path"),
            ("https://vs.example.org/a'b", "path"),
        ] {
            let error = text.parse::<BaseUrl>().unwrap_err().to_string();
            assert!(error.contains(why), "{text}: {error}");
        }
        assert_eq!(
            "http://[::1]:8080".parse::<BaseUrl>().unwrap().to_string(),
            "http://[::1]:8080"
        );
        // What is not allowed in a URL path arrives percent-encoded.
        assert_eq!(
            "https://vs.example.org/a b\""
                .parse::<BaseUrl>()
                .unwrap()
                .to_string(),
            "https://vs.example.org/a%20b%22"
        );
    }

    #[test]
    fn ports_are_recognised() {
        assert!(has_port("a:1"));
        assert!(has_port("[::1]:80"));
        assert!(!has_port("[::1]"));
        assert!(!has_port("a"));
    }
}
