//! The one error type of every catalog backend.

use thiserror::Error;

/// The result of every catalog operation.
pub type Result<T, E = CatalogError> = std::result::Result<T, E>;

/// Why a catalog operation failed.
///
/// Every variant carries only strings, so that the error can be cloned (a failed batch
/// reports the same cause for each of its products) and is the same for every backend.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CatalogError {
    /// A collection, product or query was refused before anything was stored or searched.
    #[error("invalid {what}: {reason}")]
    Invalid {
        /// What was refused, e.g. ``product `S2A_123` `` or `bbox`.
        what: String,
        /// Why, naming the field at fault.
        reason: String,
    },
    /// A product names a collection that the catalog does not hold.
    #[error("unknown collection `{0}`: create the collection before registering its products")]
    UnknownCollection(String),
    /// The database could not be reached or refused the connection.
    #[error("cannot connect to the catalog database {url}: {reason}")]
    Connection {
        /// The database URL, without its password.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// The database went away while doing something (named by `context`): the connection
    /// was cut, the server is shutting down or starting, or is out of a resource (disk,
    /// memory, connections). Trying again later may succeed.
    #[error("the catalog database is unavailable while {context}: {reason}")]
    Unavailable {
        /// What the catalog was doing.
        context: String,
        /// The database's or the driver's message.
        reason: String,
    },
    /// A schema migration could not be applied or does not match the one applied before.
    #[error("catalog schema migration {version} failed: {reason}")]
    Migration {
        /// The migration's version number (the `NNNN` of `migrations/NNNN_name.sql`).
        version: i32,
        /// What went wrong.
        reason: String,
    },
    /// The database reported an error while doing something (named by `context`).
    #[error("catalog database error while {context}: {reason}")]
    Backend {
        /// What the catalog was doing, e.g. ``registering product `S2A_123` ``.
        context: String,
        /// The database's message.
        reason: String,
    },
}

impl CatalogError {
    /// Whether trying again later may succeed: the database could not be reached, or went
    /// away ([`CatalogError::Connection`], [`CatalogError::Unavailable`]). Every other error
    /// is about the request or the data and stays.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Connection { .. } | Self::Unavailable { .. })
    }

    /// An [`CatalogError::Invalid`] error.
    pub fn invalid(what: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Invalid {
            what: what.into(),
            reason: reason.into(),
        }
    }
}
