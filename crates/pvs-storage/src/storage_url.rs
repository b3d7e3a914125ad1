//! Where the objects live: the parsed `STORAGE_URL`.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use thiserror::Error;
use url::Url;

use crate::key::{KeyError, StorageKey};

/// The examples quoted by every error, so that a user sees the accepted forms.
const FORMS: &str = "s3://bucket/optional/prefix, file:///absolute/path or memory://";

/// Where a [`Storage`](crate::Storage) keeps its objects, parsed from a URL.
///
/// - `s3://bucket` or `s3://bucket/optional/prefix`: an S3 bucket (AWS or an S3-compatible
///   server, see [`S3Settings`](crate::S3Settings)); every key lives under the prefix.
/// - `file:///absolute/path`: a local directory, created when the storage is opened.
/// - `memory://`: a private in-memory store, empty when opened (tests, throw-away runs).
///
/// Parsing does no I/O.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StorageUrl {
    /// An S3 bucket, with an optional key prefix.
    S3 {
        /// The bucket name (S3 naming rules: 3–63 of `a-z 0-9 . -`).
        bucket: String,
        /// The prefix every key is stored under, if any (no leading or trailing `/`).
        prefix: Option<StorageKey>,
    },
    /// A local directory.
    File {
        /// The absolute path of the directory.
        root: PathBuf,
    },
    /// A private in-memory store.
    Memory,
}

/// Why a string is not a valid [`StorageUrl`].
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum StorageUrlError {
    /// The URL is not one of the three supported forms.
    #[error("storage URL {url:?} is not supported; use {FORMS}")]
    UnsupportedScheme {
        /// The refused URL.
        url: String,
    },
    /// The URL carries a query string or a fragment.
    #[error(
        "storage URL {url:?} has a query string or fragment (`?`, `#`), which storage URLs do not take; use {FORMS}"
    )]
    QueryOrFragment {
        /// The refused URL.
        url: String,
    },
    /// The S3 bucket name breaks the S3 naming rules.
    #[error(
        "storage URL {url:?} has an invalid bucket name {bucket:?}: {reason}, e.g. s3://pvs-data/products"
    )]
    InvalidBucket {
        /// The refused URL.
        url: String,
        /// The bucket name found.
        bucket: String,
        /// Which rule it breaks.
        reason: &'static str,
    },
    /// The S3 prefix is not a valid key.
    #[error("storage URL {url:?} has an invalid prefix ({source}), e.g. s3://pvs-data/products")]
    InvalidPrefix {
        /// The refused URL.
        url: String,
        /// Why the prefix is invalid.
        source: KeyError,
    },
    /// The `file://` URL does not name an absolute UTF-8 path.
    #[error(
        "storage URL {url:?} must name an absolute UTF-8 directory path with three slashes, e.g. file:///var/lib/pvs/data"
    )]
    NotAbsolutePath {
        /// The refused URL.
        url: String,
    },
    /// `memory://` was followed by something.
    #[error("storage URL {url:?}: memory storage takes no bucket or path; write exactly memory://")]
    MemoryWithPath {
        /// The refused URL.
        url: String,
    },
}

impl FromStr for StorageUrl {
    type Err = StorageUrlError;

    fn from_str(url: &str) -> Result<Self, Self::Err> {
        let owned = || url.to_owned();
        if url.contains(['?', '#']) {
            return Err(StorageUrlError::QueryOrFragment { url: owned() });
        }
        if let Some(rest) = url.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            check_bucket(bucket).map_err(|reason| StorageUrlError::InvalidBucket {
                url: owned(),
                bucket: bucket.to_owned(),
                reason,
            })?;
            let prefix = prefix.strip_suffix('/').unwrap_or(prefix);
            let prefix = if prefix.is_empty() {
                None
            } else {
                let key =
                    StorageKey::parse(prefix).map_err(|source| StorageUrlError::InvalidPrefix {
                        url: owned(),
                        source,
                    })?;
                Some(key)
            };
            Ok(Self::S3 {
                bucket: bucket.to_owned(),
                prefix,
            })
        } else if url.starts_with("file:") {
            let not_absolute = || StorageUrlError::NotAbsolutePath { url: owned() };
            if !url.starts_with("file:///") {
                return Err(not_absolute());
            }
            let parsed = Url::parse(url).map_err(|_| not_absolute())?;
            let root = parsed.to_file_path().map_err(|()| not_absolute())?;
            if root.to_str().is_none() {
                return Err(not_absolute());
            }
            Ok(Self::File { root })
        } else if let Some(rest) = url.strip_prefix("memory://") {
            if rest.is_empty() {
                Ok(Self::Memory)
            } else {
                Err(StorageUrlError::MemoryWithPath { url: owned() })
            }
        } else {
            Err(StorageUrlError::UnsupportedScheme { url: owned() })
        }
    }
}

impl fmt::Display for StorageUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::S3 {
                bucket,
                prefix: None,
            } => write!(f, "s3://{bucket}"),
            Self::S3 {
                bucket,
                prefix: Some(prefix),
            } => write!(f, "s3://{bucket}/{prefix}"),
            Self::File { root } => write!(f, "file://{}", root.display()),
            Self::Memory => f.write_str("memory://"),
        }
    }
}

/// Checks the S3 bucket naming rules, returning the broken rule.
fn check_bucket(bucket: &str) -> Result<(), &'static str> {
    if !(3..=63).contains(&bucket.len()) {
        return Err("a bucket name has 3 to 63 characters");
    }
    if !bucket
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
    {
        return Err("a bucket name has only lowercase letters, digits, `.` and `-`");
    }
    let alphanumeric = |b: Option<u8>| b.is_some_and(|b| b.is_ascii_alphanumeric());
    if !alphanumeric(bucket.bytes().next()) || !alphanumeric(bucket.bytes().last()) {
        return Err("a bucket name starts and ends with a letter or digit");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(url: &str) -> Result<StorageUrl, StorageUrlError> {
        url.parse()
    }

    #[test]
    fn parses_the_three_forms_and_displays_them_back() {
        assert_eq!(
            parse("s3://pvs-data").unwrap(),
            StorageUrl::S3 {
                bucket: "pvs-data".into(),
                prefix: None
            }
        );
        assert_eq!(
            parse("s3://pvs-data/").unwrap(),
            StorageUrl::S3 {
                bucket: "pvs-data".into(),
                prefix: None
            }
        );
        let with_prefix = parse("s3://pvs.data-1/products/2024/").unwrap();
        assert_eq!(
            with_prefix,
            StorageUrl::S3 {
                bucket: "pvs.data-1".into(),
                prefix: Some(StorageKey::parse("products/2024").unwrap())
            }
        );
        assert_eq!(with_prefix.to_string(), "s3://pvs.data-1/products/2024");
        let file = parse("file:///var/lib/pvs%20data/").unwrap();
        assert_eq!(
            file,
            StorageUrl::File {
                root: PathBuf::from("/var/lib/pvs data/")
            }
        );
        assert_eq!(parse("memory://").unwrap(), StorageUrl::Memory);
        assert_eq!(StorageUrl::Memory.to_string(), "memory://");
    }

    #[test]
    fn refuses_bad_urls_with_the_reason() {
        for url in ["http://x", "S3://bucket", "bucket/prefix", "", "memory:"] {
            assert!(
                matches!(parse(url), Err(StorageUrlError::UnsupportedScheme { .. })),
                "{url}"
            );
        }
        for url in [
            "s3://ab",
            "s3://Upper",
            "s3://under_score",
            "s3://-dash",
            "s3:///x",
        ] {
            assert!(
                matches!(parse(url), Err(StorageUrlError::InvalidBucket { .. })),
                "{url}"
            );
        }
        for url in ["s3://bucket/a/../b", "s3://bucket//a", "s3://bucket/a\\b"] {
            assert!(
                matches!(parse(url), Err(StorageUrlError::InvalidPrefix { .. })),
                "{url}"
            );
        }
        for url in ["file://relative/path", "file:relative", "file:///%FF"] {
            assert!(
                matches!(parse(url), Err(StorageUrlError::NotAbsolutePath { .. })),
                "{url}"
            );
        }
        assert!(matches!(
            parse("memory://x"),
            Err(StorageUrlError::MemoryWithPath { .. })
        ));
        assert!(matches!(
            parse("s3://bucket/a?versionId=1"),
            Err(StorageUrlError::QueryOrFragment { .. })
        ));
    }

    #[test]
    fn errors_quote_the_url_and_an_example() {
        let message = parse("ftp://host/x").unwrap_err().to_string();
        assert!(message.contains("\"ftp://host/x\""), "{message}");
        assert!(message.contains("s3://bucket/optional/prefix"), "{message}");
        let message = parse("s3://Bad").unwrap_err().to_string();
        assert!(message.contains("lowercase") && message.contains("e.g. s3://pvs-data/products"));
    }
}
