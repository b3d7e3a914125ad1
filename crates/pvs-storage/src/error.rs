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
}
