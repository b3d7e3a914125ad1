//! Why a product was not registered.

/// Why a product was not registered.
#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    /// The message is not a storage key.
    #[error("message {0:?} is not a storage key (of a metadata document or a product folder): {1}")]
    BadMessage(String, String),
    /// The metadata document could not be read.
    #[error("cannot read metadata document `{key}`: {reason}")]
    Metadata {
        /// Its key.
        key: String,
        /// Why.
        reason: String,
    },
    /// Storage could not be read: the metadata document (`get`) or a product folder (`list`).
    #[error("cannot read metadata document `{key}`: {source}")]
    Unreadable {
        /// The document's key or the folder's prefix.
        key: String,
        /// The storage's error (boxed: it is large).
        source: Box<pvs_storage::StorageError>,
    },
    /// A product folder (a storage prefix on `register_queue`) that gives no product.
    #[error("product folder `{prefix}`: {reason}")]
    Folder {
        /// The prefix (cut to 200 characters).
        prefix: String,
        /// Why.
        reason: String,
    },
    /// The browse type belongs to no configured collection.
    #[error("product {id}: browse type {browse_type:?} belongs to no configured collection")]
    UnknownCollection {
        /// The product id.
        id: String,
        /// Its browse type.
        browse_type: String,
    },
    /// A `register_queue` message that is not a STAC Item pvs can register.
    #[error("{0}")]
    Item(pvs_model::ItemError),
    /// A STAC Item of a collection that is not configured.
    #[error(
        "product {id}: the STAC Item's collection {collection:?} is not configured (COLLECTIONS_FILE)"
    )]
    UnknownItemCollection {
        /// The product id.
        id: String,
        /// The Item's collection.
        collection: String,
    },
    /// The data asset of a STAC Item cannot be used.
    #[error("product {id}: data asset {href}: {reason}")]
    DataAsset {
        /// The product id.
        id: String,
        /// The asset's href.
        href: String,
        /// Why.
        reason: String,
    },
    /// A COG without a metadata document whose metadata cannot be derived.
    #[error("COG `{key}` without a metadata document: {reason}")]
    Derive {
        /// The COG's key.
        key: String,
        /// Why.
        reason: String,
    },
    /// A mask of the product cannot be registered.
    #[error("product {id}: mask {mask:?}: {reason}")]
    Mask {
        /// The product id.
        id: String,
        /// The mask type.
        mask: String,
        /// Why.
        reason: String,
    },
    /// Not an error: a product from a newer browse report is registered, and the
    /// collection's strategy ([`pvs_model::Strategy`]) keeps it; the catalog is unchanged.
    #[error("product {id} skipped: {reason}")]
    Skipped {
        /// The product id.
        id: String,
        /// Why.
        reason: String,
    },
    /// The catalog refused the product or could not be reached.
    #[error("product {id}: {source}")]
    Catalog {
        /// The product id.
        id: String,
        /// The catalog's error.
        source: pvs_catalog::CatalogError,
    },
    /// The cached tiles the product makes stale could not be deleted.
    #[error("product {id}: cannot delete its stale cached tiles: {source}")]
    Invalidate {
        /// The product id.
        id: String,
        /// The tile store's error (boxed: it is large).
        source: Box<pvs_storage::StorageError>,
    },
    /// A bulk removal names a collection the catalog does not hold.
    #[error("no collection {0:?} in the catalog")]
    NoCollection(String),
    /// The catalog refused or failed a bulk removal's query or deletion (a failed step
    /// removed nothing; the steps before it stay done).
    #[error("{what}: {source}")]
    Removal {
        /// What was being done, e.g. ``removing the products of collection `S2` ``.
        what: String,
        /// The catalog's error.
        source: pvs_catalog::CatalogError,
    },
    /// The cached tiles of a deleted collection's layer could not be deleted.
    #[error("cannot delete the cached tiles of layer {layer}: {source}")]
    DeleteLayer {
        /// The layer.
        layer: String,
        /// The tile store's error (boxed: it is large).
        source: Box<pvs_storage::StorageError>,
    },
    /// The queue could not be reached.
    #[error(transparent)]
    Queue(#[from] pvs_queue::QueueError),
}

impl RegisterError {
    /// Whether the registration may succeed when tried again later: the catalog database,
    /// the storage or the tile store was unavailable (unreachable, restarting, full), not
    /// the product at fault. The registrar tries such a product again
    /// ([`pvs_queue::TransientRetry`]) before recording a failure.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Catalog { source, .. } | Self::Removal { source, .. } => source.is_transient(),
            Self::Unreadable { source, .. }
            | Self::Invalidate { source, .. }
            | Self::DeleteLayer { source, .. } => source.is_transient(),
            _ => false,
        }
    }
}
