//! The pvs registrar: preprocessed products into the catalog.
//!
//! Each message on `register_queue` is the storage key of a product metadata document
//! (`pvs_model::ProductMetadata`, written by the preprocessor beside the COG). The registrar
//! reads it, maps the product's browse type to its collection (the collections configuration),
//! and registers the product in the catalog (insert, or atomic replacement of the same id).
//! Then:
//! - with a tile store ([`Registrar::with_tile_store`]), the cached tiles the product makes
//!   stale are deleted ([`TileStore::invalidate`]): those of its place and time, and for a
//!   replacement also those of the version it replaced (see [`change_of`]); this comes before
//!   seeding, so that seeding draws fresh tiles. A failure to delete them fails the product,
//!   with the reason;
//! - a replacement pushes an invalidation record to `invalidate_queue` (see [`Invalidation`]);
//! - when the collection is seeded (`seed_zoom`), the product's interval `start/end` is pushed to
//!   `seed_queue`;
//! - deregistration (`deregister_queue` messages are product ids, or
//!   [`Registrar::deregister`]) removes the product, deletes its cached tiles (and pushes its
//!   invalidation record) and forgets it in the registration sets; when its tiles cannot be
//!   deleted, the id goes to `register-failure_set` with the reason;
//! - bulk removals go through the catalog a page at a time: a collection's products whose
//!   time intersects a range ([`Registrar::deregister_range`], each removed as by
//!   `deregister`), and a whole collection ([`Registrar::delete_collection`]: its products,
//!   its row, every tile of its layers, one invalidation record);
//! - the product id moves through `registering_set` to `register-success_set`, or to
//!   `register-failure_set` with the reason in `register-failure_reasons`.
//!
//! A message may also be a STAC Item (a JSON object; `pvs_model::parse_item`): when its data
//! asset is a COG on storage, the product is registered where it is, with the Item's
//! footprint, times and properties; otherwise the Item goes to `preprocess_queue`, and the
//! preprocessor's metadata document comes back here like any other (see
//! [`Registrar::route_item`]).
//!
//! A message that cannot be registered (missing or unreadable document, a bad STAC Item,
//! unknown collection, invalid footprint) fails that product only, with its reason, and
//! changes nothing else.
//!
//! [`Registrar::register_prefix`] (the operator's `--objects-prefix`) registers what is
//! already on storage: products with a metadata document; COGs beside an EO O&M or GSC
//! document, registered with its id, times, footprint and properties (see
//! [`Registrar::document_metadata`]); and COGs without either, whose metadata is derived
//! from the COG itself (footprint from its valid pixels, time from its file name or TIFF
//! tags; see [`Registrar::derive_metadata`]).
//!
//! The modules, one concept each:
//!
//! - `worker`: the queue loop ([`Registrar::run`], [`Registrar::handle`]): `register_queue`
//!   ([`RegisterMessage`]) and `deregister_queue`, the status sets and each message's outcome
//!   for its report;
//! - `register`: one product, from its metadata document to the catalog ([`Registered`],
//!   [`seed_message`]);
//! - `item`: STAC Items, registered as they are or handed to the preprocessor
//!   ([`ItemRoute`], [`Registrar::route_item`]);
//! - `invalidation`: stale cached tiles and [`Invalidation`] records ([`change_of`]);
//! - `reports`: each product's outcome recorded for its browse report, the registration
//!   report written when complete (the bookkeeping is [`pvs_queue::reports`], shared with the
//!   preprocessor; [`record_outcome`] and [`write_report`] are re-exported from there);
//! - `deregister`: a product removed ([`Registrar::deregister`]);
//! - `bulk`: bulk removals ([`TimeRange`], [`Removal`], [`CollectionDeletion`]);
//! - `prefix`: registration of what is under a storage prefix ([`PrefixOptions`],
//!   [`PrefixOutcome`]);
//! - `derive`: the metadata of a COG without a metadata document
//!   ([`Registrar::derive_metadata`], [`Registrar::document_metadata`]);
//! - `error`: [`RegisterError`].

#![forbid(unsafe_code)]

mod bulk;
mod deregister;
mod derive;
mod error;
mod invalidation;
mod item;
mod prefix;
mod register;
mod reports;
mod worker;

use std::path::PathBuf;
use std::sync::Arc;

use pvs_catalog::Catalog;
use pvs_model::Collections;
use pvs_queue::WorkQueue;
use pvs_storage::Storage;
use pvs_tiles::TileStore;

pub use bulk::{
    CollectionDeleted, CollectionDeletion, REMOVAL_PAGE, Removal, TimeRange, layers_of,
};
pub use error::RegisterError;
pub use invalidation::{Invalidation, change_of};
pub use item::ItemRoute;
pub use prefix::{PrefixOptions, PrefixOutcome};
pub use pvs_queue::reports::{record_outcome, write_report};
pub use register::{Registered, seed_message};
pub use worker::RegisterMessage;

/// The registrar: queue, catalog, storage and the collections configuration.
pub struct Registrar {
    queue: Arc<dyn WorkQueue>,
    catalog: Arc<dyn Catalog>,
    storage: Storage,
    collections: Collections,
    /// Collections already written to the catalog by this process: upserting the same row
    /// for every product would serialise all registrations on its lock.
    upserted: std::sync::Mutex<std::collections::HashSet<String>>,
    /// Where registration reports go (the SFTP `to/panda` folder), if anywhere.
    report_dir: Option<PathBuf>,
    /// The tile cache's store, whose stale tiles are deleted; `None`: nothing is invalidated.
    tiles: Option<TileStore>,
    /// Whether invalidation records are pushed on `invalidate_queue`.
    invalidation_records: bool,
    /// How a product whose registration failed on a transient fault is tried again.
    retry: pvs_queue::TransientRetry,
}

impl Registrar {
    /// A registrar over these backends.
    pub fn new(
        queue: Arc<dyn WorkQueue>,
        catalog: Arc<dyn Catalog>,
        storage: Storage,
        collections: Collections,
    ) -> Self {
        Self {
            queue,
            catalog,
            storage,
            collections,
            upserted: std::sync::Mutex::default(),
            report_dir: None,
            tiles: None,
            invalidation_records: true,
            retry: pvs_queue::TransientRetry::default(),
        }
    }

    /// Sets how a registration that failed on a transient fault (the catalog, storage or
    /// tile store unavailable) is tried again before the product fails (by default for up
    /// to 5 minutes: [`pvs_queue::TransientRetry::default`]).
    pub fn with_transient_retry(mut self, retry: pvs_queue::TransientRetry) -> Self {
        self.retry = retry;
        self
    }
}
