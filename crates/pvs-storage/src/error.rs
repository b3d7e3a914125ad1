//! Errors of storage operations.

use std::fmt;
use std::path::PathBuf;

use thiserror::Error;

use crate::key::{KeyError, StorageKey};

/// A storage operation, named in errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// [`Storage::put`](crate::Storage::put).
    Put,
    /// [`Storage::put_file`](crate::Storage::put_file).
    PutFile,
    /// [`Storage::get`](crate::Storage::get).
    Get,
    /// [`Storage::get_range`](crate::Storage::get_range).
    GetRange,
    /// [`Storage::head`](crate::Storage::head) and [`Storage::exists`](crate::Storage::exists).
    Head,
    /// [`Storage::delete`](crate::Storage::delete).
    Delete,
    /// [`Storage::list`](crate::Storage::list).
    List,
    /// [`Storage::ping`](crate::Storage::ping).
    Ping,
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Put => "put",
            Self::PutFile => "upload file to",
            Self::Get => "get",
            Self::GetRange => "get a byte range of",
            Self::Head => "read the metadata of",
            Self::Delete => "delete",
            Self::List => "list",
            Self::Ping => "reach",
        })
    }
}

/// An error of a [`Storage`](crate::Storage): what was attempted, on which key, and why.
#[derive(Debug, Error)]
pub enum StorageError {
    /// The object does not exist (callers can report "file X does not exist").
    #[error("cannot {operation} `{key}`: the object does not exist")]
    NotFound {
        /// The operation attempted.
        operation: Operation,
        /// The missing key, relative to the storage prefix.
        key: StorageKey,
    },
    /// The backend failed (network, permissions, server error...).
    #[error("cannot {operation} `{target}` in {storage}: {source}")]
    Backend {
        /// The operation attempted.
        operation: Operation,
        /// The key (or list prefix, empty for the whole storage) the operation was on.
        target: String,
        /// The storage URL.
        storage: String,
        /// The backend's error.
        source: object_store::Error,
    },
    /// A local file given to [`Storage::put_file`](crate::Storage::put_file) could not be read.
    #[error("cannot upload {path} to `{key}`: reading the local file failed: {source}")]
    ReadFile {
        /// The local file.
        path: PathBuf,
        /// The destination key.
        key: StorageKey,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A key the backend listed is not a valid [`StorageKey`] (it was not written by pvs).
    #[error("{storage} holds an object whose key cannot be used: {source}")]
    UnusableListedKey {
        /// The storage URL.
        storage: String,
        /// Why the key was refused.
        source: KeyError,
    },
    /// The directory of a `file://` storage could not be created.
    #[error("cannot create the storage directory {path}: {source}")]
    CreateRoot {
        /// The directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The S3 settings are unusable.
    #[error("invalid S3 settings: {reason}")]
    InvalidS3Settings {
        /// What is wrong, with an example of a valid value.
        reason: String,
    },
    /// `object_store` refused the configuration.
    #[error("cannot open {storage}: {source}")]
    Open {
        /// The storage URL.
        storage: String,
        /// The backend's error.
        source: object_store::Error,
    },
}

impl StorageError {
    /// Whether this is [`StorageError::NotFound`].
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::NotFound { .. })
    }

    /// Whether the operation may succeed when tried again later, the storage itself being
    /// unavailable for now rather than the request wrong: the server unreachable, a
    /// connection cut or timed out, a server error after the client's own retries, a full
    /// file system. A missing object, refused permissions or credentials, a key or settings
    /// that cannot be used are not.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Backend {
                source: object_store::Error::Generic { source, .. },
                ..
            } => generic_cause_is_transient(source.as_ref()),
            Self::ReadFile { source, .. } | Self::CreateRoot { source, .. } => {
                is_transient_io(source.kind())
            }
            _ => false,
        }
    }
}

/// Whether the cause of an `object_store` "generic" error is transient. Its chain is walked
/// for an I/O error or an HTTP client error, which tell; an error with neither (the server
/// answered a status `object_store` gives no variant of, 5xx mostly, after its retries) is
/// taken as transient: a caller retries it for a bounded time only.
fn generic_cause_is_transient(error: &(dyn std::error::Error + 'static)) -> bool {
    use object_store::client::{HttpError, HttpErrorKind};
    let mut cause = Some(error);
    while let Some(error) = cause {
        if let Some(io) = error.downcast_ref::<std::io::Error>() {
            return is_transient_io(io.kind());
        }
        if let Some(http) = error.downcast_ref::<HttpError>() {
            return matches!(
                http.kind(),
                HttpErrorKind::Connect
                    | HttpErrorKind::Request
                    | HttpErrorKind::Timeout
                    | HttpErrorKind::Interrupted
            );
        }
        cause = error.source();
    }
    true
}

/// Whether an I/O error of this kind may go away by itself: a full file system or quota, a
/// connection refused, cut or timed out, a network or host unreachable, a busy resource.
pub fn is_transient_io(kind: std::io::ErrorKind) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        kind,
        StorageFull
            | QuotaExceeded
            | ConnectionRefused
            | ConnectionReset
            | ConnectionAborted
            | NotConnected
            | BrokenPipe
            | TimedOut
            | Interrupted
            | WouldBlock
            | UnexpectedEof
            | HostUnreachable
            | NetworkUnreachable
            | NetworkDown
            | ResourceBusy
    )
}

#[cfg(test)]
mod transient_tests {
    use std::io::{Error as IoError, ErrorKind};

    use super::*;

    fn backend(source: object_store::Error) -> StorageError {
        StorageError::Backend {
            operation: Operation::Put,
            target: "tiles/x.png".to_owned(),
            storage: "file:///tiles".to_owned(),
            source,
        }
    }

    fn generic(source: impl std::error::Error + Send + Sync + 'static) -> StorageError {
        backend(object_store::Error::Generic {
            store: "LocalFileSystem",
            source: Box::new(source),
        })
    }

    /// An error whose cause is `cause`, as `object_store`'s wrap I/O errors.
    #[derive(Debug, thiserror::Error)]
    #[error("Unable to copy data to file: {0}")]
    struct Wrapped(#[source] IoError);

    #[test]
    fn faults_that_may_pass_are_transient_and_others_are_not() {
        assert!(generic(Wrapped(IoError::from(ErrorKind::StorageFull))).is_transient());
        assert!(generic(IoError::from(ErrorKind::ConnectionRefused)).is_transient());
        assert!(!generic(Wrapped(IoError::from(ErrorKind::PermissionDenied))).is_transient());
        // Neither an I/O nor an HTTP client error: a server status object_store has no
        // variant for (a 5xx after its retries), taken as transient.
        #[derive(Debug, thiserror::Error)]
        #[error("Server returned non-2xx status code: 503 Service Unavailable")]
        struct Status;
        assert!(generic(Status).is_transient());
        assert!(
            !backend(object_store::Error::PermissionDenied {
                path: "x".to_owned(),
                source: Box::new(IoError::from(ErrorKind::PermissionDenied)),
            })
            .is_transient()
        );
        assert!(
            !StorageError::NotFound {
                operation: Operation::Get,
                key: "x".parse().unwrap(),
            }
            .is_transient()
        );
    }
}
