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
//! - the product id moves through `registering_set` to `register-success_set`, or to
//!   `register-failure_set` with the reason in `register-failure_reasons`.
//!
//! A message that cannot be registered (missing or unreadable document, unknown collection,
//! invalid footprint) fails that product only, with its reason, and changes nothing else.
//!
//! [`Registrar::register_prefix`] (the operator's `--objects-prefix`) registers what is
//! already on storage: products with a metadata document, and COGs without one, whose
//! metadata is derived from the COG itself (footprint from its valid pixels, time from its
//! file name or TIFF tags; see [`Registrar::derive_metadata`]).

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, SecondsFormat, Utc};
use geo::{BoundingRect, MultiPolygon};
use pvs_catalog::{Catalog, Collection, Product, Registration};
use pvs_model::{
    CogInfo, Collections, GeoJsonGeometry, ProductMetadata, RegistrationOutcome,
    RegistrationReport, ReportInfo, SourceInfo,
};
use pvs_queue::{QueueName, Stage, WorkQueue};
use pvs_storage::{Storage, StorageKey};
use pvs_tiles::{Change, TileStore};
use serde::{Deserialize, Serialize};

/// The suffix of a collection's outlines layer in the cache (as the renderer and the cache
/// name it).
pub const OUTLINES_SUFFIX: &str = "__outlines";

/// Why a product was not registered.
#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    /// The message is not a storage key.
    #[error("message {0:?} is not a storage key of a metadata document: {1}")]
    BadMessage(String, String),
    /// The metadata document could not be read.
    #[error("cannot read metadata document `{key}`: {reason}")]
    Metadata {
        /// Its key.
        key: String,
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
    /// A COG without a metadata document whose metadata cannot be derived.
    #[error("COG `{key}` without a metadata document: {reason}")]
    Derive {
        /// The COG's key.
        key: String,
        /// Why.
        reason: String,
    },
    /// The catalog refused the product or could not be reached.
    #[error("product {id}: {reason}")]
    Catalog {
        /// The product id.
        id: String,
        /// The catalog's message.
        reason: String,
    },
    /// The cached tiles the product makes stale could not be deleted.
    #[error("product {id}: cannot delete its stale cached tiles: {reason}")]
    Invalidate {
        /// The product id.
        id: String,
        /// The tile store's message.
        reason: String,
    },
    /// The queue could not be reached.
    #[error(transparent)]
    Queue(#[from] pvs_queue::QueueError),
}

/// What the cache may hold for `product`: its collection's layer and outlines layer, the
/// bounding box of each polygon of its footprint (two for a footprint split at the
/// antimeridian), and its time.
pub fn change_of(product: &Product) -> Change {
    Change {
        layers: vec![
            product.collection.clone(),
            format!("{}{OUTLINES_SUFFIX}", product.collection),
        ],
        boxes: product
            .footprint
            .0
            .iter()
            .filter_map(|polygon| polygon.bounding_rect())
            .map(|r| [r.min().x, r.min().y, r.max().x, r.max().y])
            .collect(),
        begin: product.begin,
        end: product.end,
    }
}

/// What the cache must drop: the tiles of `collection` within `bbox` for times overlapping
/// `start`..`end`, because `product` was replaced or removed. Pushed as JSON to
/// `invalidate_queue`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Invalidation {
    /// The collection (layer).
    pub collection: String,
    /// `[west, south, east, north]` in EPSG:4326 of the footprint that is no longer current.
    pub bbox: [f64; 4],
    /// Start of the time it covered.
    pub start: DateTime<Utc>,
    /// End of the time it covered.
    pub end: DateTime<Utc>,
    /// The product.
    pub product: String,
    /// `replaced` or `deregistered`.
    pub reason: String,
}

impl Invalidation {
    /// The record for a product that is no longer current.
    pub fn of(product: &Product, reason: &str) -> Self {
        let bbox = product
            .footprint
            .bounding_rect()
            .map(|r| [r.min().x, r.min().y, r.max().x, r.max().y])
            .unwrap_or([-180.0, -90.0, 180.0, 90.0]);
        Self {
            collection: product.collection.clone(),
            bbox,
            start: product.begin,
            end: product.end,
            product: product.id.clone(),
            reason: reason.to_owned(),
        }
    }
}

/// Options of [`Registrar::register_prefix`].
#[derive(Debug, Clone, Default)]
pub struct PrefixOptions {
    /// Register into this collection whatever the browse type. Required for COGs without a
    /// metadata document (nothing else tells their collection).
    pub collection: Option<String>,
    /// Replace products that are already registered (otherwise they are skipped).
    pub replace: bool,
    /// Only say what would be done.
    pub dry_run: bool,
}

/// What became of one product under a prefix (a metadata document, or a COG without one).
#[derive(Debug)]
pub enum PrefixOutcome {
    /// Registered (inserted or replaced).
    Registered(Registered),
    /// `--dry-run`: would be registered.
    WouldRegister {
        /// The product id.
        id: String,
        /// The collection it would go to.
        collection: String,
        /// Whether it would replace a registered product.
        replaces: bool,
    },
    /// Left alone.
    Skipped {
        /// The product id.
        id: String,
        /// Why.
        reason: String,
    },
    /// Could not be registered.
    Failed {
        /// The key of the document, or of the COG without a document.
        key: String,
        /// Why.
        reason: String,
    },
}

/// The `seed_queue` message for an interval: `start/end`, ISO 8601.
pub fn seed_message(start: DateTime<Utc>, end: DateTime<Utc>) -> String {
    format!(
        "{}/{}",
        start.to_rfc3339_opts(SecondsFormat::AutoSi, true),
        end.to_rfc3339_opts(SecondsFormat::AutoSi, true)
    )
}

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
}

/// What registering one product did.
#[derive(Debug)]
pub struct Registered {
    /// The product as registered.
    pub product: Product,
    /// Whether it replaced an earlier version.
    pub replaced: bool,
    /// Whether its interval was queued for seeding.
    pub seeded: bool,
    /// For a COG registered without a metadata document, what was derived from the COG,
    /// e.g. `footprint from the COG's valid pixels, time from its file name`; `None` when a
    /// metadata document gave everything.
    pub derived: Option<String>,
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
        }
    }

    /// Whether replacements and removals push an invalidation record on `invalidate_queue`
    /// (default: they do). Turn it off where nothing reads that queue (`pvs up`), or it
    /// grows forever; the registrar's own deletion of stale tiles is not affected.
    pub fn with_invalidation_records(mut self, on: bool) -> Self {
        self.invalidation_records = on;
        self
    }

    /// Pushes the invalidation record of `product` on `invalidate_queue`, when records are on.
    async fn publish_invalidation(
        &self,
        product: &Product,
        reason: &'static str,
    ) -> Result<(), pvs_queue::QueueError> {
        if !self.invalidation_records {
            return Ok(());
        }
        let record = Invalidation::of(product, reason);
        self.queue
            .push(
                QueueName::Invalidate,
                &serde_json::to_string(&record).expect("serialises"),
            )
            .await
    }

    /// Deletes the cached tiles in `tiles` that registered, replaced and deregistered
    /// products make stale (`TILES_STORAGE_URL`, `TILES_PREFIX`).
    pub fn with_tile_store(mut self, tiles: TileStore) -> Self {
        self.tiles = Some(tiles);
        self
    }

    /// Deletes the cached tiles that may show `products` (nothing without a tile store).
    async fn invalidate(&self, id: &str, products: &[&Product]) -> Result<(), RegisterError> {
        let Some(tiles) = &self.tiles else {
            return Ok(());
        };
        for product in products {
            let removed = tiles.invalidate(&change_of(product)).await.map_err(|e| {
                RegisterError::Invalidate {
                    id: id.to_owned(),
                    reason: e.to_string(),
                }
            })?;
            tracing::debug!(product = id, removed, "stale cached tiles deleted");
        }
        Ok(())
    }

    /// Writes registration reports into `dir` (`REPORT_DIR`).
    pub fn with_report_dir(mut self, dir: PathBuf) -> Self {
        self.report_dir = Some(dir);
        self
    }

    /// Handles one `register_queue` message, recording the outcome in the status sets.
    /// Only queue errors are returned (the message must then be retried); a product that
    /// cannot be registered is recorded as failed.
    pub async fn handle(&self, message: &str) -> Result<Option<Registered>, pvs_queue::QueueError> {
        // A document that cannot be read is recorded under the name it would have had.
        let (metadata, result) = match self.read_message(message).await {
            Ok(metadata) => {
                self.queue
                    .mark_started(Stage::Register, &metadata.id)
                    .await?;
                let result = self.register(&metadata).await;
                (Some(metadata), result)
            }
            Err(e) => (None, Err(e)),
        };
        let id = metadata
            .as_ref()
            .map_or_else(|| id_hint(message), |m| m.id.clone());
        let outcome = match result {
            Ok(registered) => {
                self.queue.mark_succeeded(Stage::Register, &id).await?;
                tracing::info!(product = %id, replaced = registered.replaced, seeded = registered.seeded, "product registered");
                let outcome = RegistrationOutcome::Success {
                    collection: registered.product.collection.clone(),
                };
                Ok((registered, outcome))
            }
            Err(RegisterError::Queue(e)) => return Err(e),
            Err(e) => {
                tracing::warn!(product = %id, error = %e, "registration failed");
                self.queue
                    .mark_failed_item(
                        Stage::Register,
                        &id,
                        &e.to_string(),
                        QueueName::Register,
                        message,
                    )
                    .await?;
                Err(RegistrationOutcome::Failure {
                    reason: e.to_string(),
                })
            }
        };
        if let Some(metadata) = &metadata {
            let recorded = match &outcome {
                Ok((_, o)) | Err(o) => o,
            };
            self.record_for_report(&metadata.source.report.name, &id, recorded)
                .await?;
        }
        Ok(outcome.ok().map(|(registered, _)| registered))
    }

    /// Records a product's outcome for its browse report (see [`record_outcome`]).
    async fn record_for_report(
        &self,
        report: &str,
        id: &str,
        outcome: &RegistrationOutcome,
    ) -> Result<(), pvs_queue::QueueError> {
        record_outcome(
            self.queue.as_ref(),
            self.report_dir.as_deref(),
            report,
            id,
            outcome,
        )
        .await
    }

    async fn read_message(&self, message: &str) -> Result<ProductMetadata, RegisterError> {
        let key: StorageKey = message.trim().parse().map_err(|e: pvs_storage::KeyError| {
            RegisterError::BadMessage(message.chars().take(200).collect(), e.to_string())
        })?;
        self.read_metadata(&key).await
    }

    /// Reads the metadata document at `message` (a storage key) and registers its product.
    pub async fn register_message(&self, message: &str) -> Result<Registered, RegisterError> {
        let metadata = self.read_message(message).await?;
        self.register(&metadata).await
    }

    /// Registers the product a metadata document describes.
    pub async fn register(&self, metadata: &ProductMetadata) -> Result<Registered, RegisterError> {
        self.register_into(metadata, None).await
    }

    /// The collection a product goes to: `forced` (with its configuration, or the defaults),
    /// else the one its browse type belongs to.
    fn collection_of(
        &self,
        metadata: &ProductMetadata,
        forced: Option<&str>,
    ) -> Result<(String, pvs_model::CollectionConfig), RegisterError> {
        if let Some(name) = forced {
            let config = self
                .collections
                .collections
                .get(name)
                .cloned()
                .unwrap_or_else(|| pvs_model::CollectionConfig::for_browse_type(name));
            return Ok((name.to_owned(), config));
        }
        let browse_type = &metadata.source.report.browse_type;
        self.collections
            .for_browse_type(browse_type)
            .ok_or_else(|| RegisterError::UnknownCollection {
                id: metadata.id.clone(),
                browse_type: browse_type.clone(),
            })
    }

    /// [`Registrar::register`] into collection `forced` when given.
    pub async fn register_into(
        &self,
        metadata: &ProductMetadata,
        forced: Option<&str>,
    ) -> Result<Registered, RegisterError> {
        let (collection_name, config) = self.collection_of(metadata, forced)?;
        let catalog_error = |e: pvs_catalog::CatalogError| RegisterError::Catalog {
            id: metadata.id.clone(),
            reason: e.to_string(),
        };
        let collection = Collection {
            name: collection_name.clone(),
            product_type: config.product_type.clone(),
            metadata: serde_json::json!({
                "browse_types": config.browse_types,
                "compression": config.compression,
                "seed_zoom": config.seed_zoom,
                "render": config.render,
            }),
        };
        let known = self
            .upserted
            .lock()
            .expect("no panic while holding the lock")
            .contains(&collection.name);
        if !known {
            self.catalog
                .upsert_collection(&collection)
                .await
                .map_err(catalog_error)?;
            self.upserted
                .lock()
                .expect("no panic while holding the lock")
                .insert(collection.name.clone());
        }
        let product = Product {
            id: metadata.id.clone(),
            collection: collection_name,
            product_type: config.product_type.clone(),
            footprint: MultiPolygon::from(&metadata.footprint),
            begin: metadata.start,
            end: metadata.end,
            location: metadata.cog.key.clone(),
            metadata: serde_json::to_value(metadata).expect("metadata serialises"),
        };
        let registration = self
            .catalog
            .register(&product)
            .await
            .map_err(catalog_error)?;
        // After the catalog has the new version (tiles drawn before then are stale) and
        // before seeding (which must draw fresh ones). A new product makes stale the tiles
        // of its place and time too: they were drawn without it.
        let mut stale = vec![&product];
        stale.extend(registration.previous());
        self.invalidate(&product.id, &stale).await?;
        let replaced = match registration {
            Registration::Inserted => false,
            Registration::Replaced { previous } => {
                self.publish_invalidation(&previous, "replaced").await?;
                true
            }
        };
        let seeded = config.seed_zoom.is_some();
        if seeded {
            self.queue
                .push(QueueName::Seed, &seed_message(product.begin, product.end))
                .await?;
        }
        Ok(Registered {
            product,
            replaced,
            seeded,
            derived: None,
        })
    }

    /// Registers the products under storage `prefix`, without a queue (the operator's
    /// `registrar --objects-prefix`): each metadata document (`*.json`), and each COG
    /// (`*.tif`, `*.tiff`) in a folder without a metadata document, whose metadata is then
    /// derived from the COG ([`Registrar::derive_metadata`]; `options.collection` is required
    /// for those). Each gives one outcome, in the order of the listing; the status sets are
    /// not touched. An error when the prefix holds neither.
    pub async fn register_prefix(
        &self,
        prefix: &str,
        options: &PrefixOptions,
    ) -> Result<Vec<PrefixOutcome>, RegisterError> {
        let key: StorageKey =
            prefix
                .trim_end_matches('/')
                .parse()
                .map_err(|e: pvs_storage::KeyError| {
                    RegisterError::BadMessage(prefix.to_owned(), e.to_string())
                })?;
        let keys = self
            .storage
            .list(Some(&key))
            .await
            .map_err(|e| RegisterError::Metadata {
                key: key.as_str().to_owned(),
                reason: e.to_string(),
            })?;
        let documented: HashSet<&str> = keys
            .iter()
            .filter(|k| is_document(k))
            .map(folder_of)
            .collect();
        let mut outcomes = Vec::new();
        for key in &keys {
            if is_document(key) {
                outcomes.push(self.register_document(key, options).await);
            } else if is_tiff(key) && !documented.contains(folder_of(key)) {
                outcomes.push(self.register_cog(key, options).await);
            }
        }
        if outcomes.is_empty() {
            return Err(RegisterError::Metadata {
                key: key.as_str().to_owned(),
                reason: format!(
                    "no metadata document (*.json) and no COG (*.tif, *.tiff) under the \
                     prefix ({} other objects)",
                    keys.len()
                ),
            });
        }
        Ok(outcomes)
    }

    async fn register_document(&self, key: &StorageKey, options: &PrefixOptions) -> PrefixOutcome {
        let failed = |reason: String| PrefixOutcome::Failed {
            key: key.as_str().to_owned(),
            reason,
        };
        let metadata = match self.read_metadata(key).await {
            Ok(metadata) => metadata,
            Err(e) => return failed(e.to_string()),
        };
        let forced = options.collection.as_deref();
        let collection = match self.collection_of(&metadata, forced) {
            Ok((name, _)) => name,
            Err(e) => return failed(e.to_string()),
        };
        let exists = match self.may_register(&metadata.id, key, options).await {
            Ok(exists) => exists,
            Err(outcome) => return outcome,
        };
        if options.dry_run {
            return PrefixOutcome::WouldRegister {
                id: metadata.id,
                collection,
                replaces: exists,
            };
        }
        match self.register_into(&metadata, forced).await {
            Ok(registered) => PrefixOutcome::Registered(registered),
            Err(e) => failed(e.to_string()),
        }
    }

    /// A COG without a metadata document: its metadata derived, then registered into
    /// `options.collection`.
    async fn register_cog(&self, key: &StorageKey, options: &PrefixOptions) -> PrefixOutcome {
        let failed = |reason: String| PrefixOutcome::Failed {
            key: key.as_str().to_owned(),
            reason,
        };
        let Some(collection) = options.collection.as_deref() else {
            return failed(
                "a COG without a metadata document needs --collection: nothing else tells \
                 which collection it belongs to"
                    .to_owned(),
            );
        };
        let id = cog_id(key);
        let exists = match self.may_register(&id, key, options).await {
            Ok(exists) => exists,
            Err(outcome) => return outcome,
        };
        let (metadata, derived) = match self.derive_metadata(key, collection).await {
            Ok(derived) => derived,
            Err(e) => return failed(e.to_string()),
        };
        tracing::info!(product = %id, cog = key.as_str(), %derived, "no metadata document: metadata derived from the COG");
        if options.dry_run {
            return PrefixOutcome::WouldRegister {
                id,
                collection: collection.to_owned(),
                replaces: exists,
            };
        }
        match self.register_into(&metadata, Some(collection)).await {
            Ok(mut registered) => {
                registered.derived = Some(derived);
                PrefixOutcome::Registered(registered)
            }
            Err(e) => failed(e.to_string()),
        }
    }

    /// Whether product `id` (from the object at `key`) is already registered: `Ok(true)`
    /// means it will be replaced. `Err` with the outcome when it is left alone (registered
    /// and no `--replace`) or the catalog cannot tell.
    async fn may_register(
        &self,
        id: &str,
        key: &StorageKey,
        options: &PrefixOptions,
    ) -> Result<bool, PrefixOutcome> {
        let exists = match self.catalog.get(id).await {
            Ok(found) => found.is_some(),
            Err(e) => {
                return Err(PrefixOutcome::Failed {
                    key: key.as_str().to_owned(),
                    reason: e.to_string(),
                });
            }
        };
        if exists && !options.replace {
            return Err(PrefixOutcome::Skipped {
                id: id.to_owned(),
                reason: "already registered (use --replace to replace it)".to_owned(),
            });
        }
        Ok(exists)
    }

    /// The metadata document the preprocessor would have written for the COG at `key`, made
    /// from the COG alone, for collection `collection`, and a note of what was derived:
    ///
    /// - id: the file stem; the COG's size, bands, alpha, CRS, bounding box and resolution
    ///   as GDAL reads them ([`pvs_raster::cog::describe`]);
    /// - footprint: the outline of its valid pixels in EPSG:4326
    ///   ([`pvs_raster::derive::valid_data_footprint`]);
    /// - start/end: from the file name ([`pvs_raster::derive::time_from_name`]), else from
    ///   the TIFF tags ([`pvs_raster::derive::time_from_tags`]), else an error;
    /// - source: the COG's key, no browse identifier, and an empty report whose browse type
    ///   is the collection; `processed_at` (and the report's time) is when the object was
    ///   last written.
    ///
    /// GDAL reads the COG through [`Storage::gdal_path`] on a blocking thread.
    pub async fn derive_metadata(
        &self,
        key: &StorageKey,
        collection: &str,
    ) -> Result<(ProductMetadata, String), RegisterError> {
        let error = |reason: String| RegisterError::Derive {
            key: key.as_str().to_owned(),
            reason,
        };
        let object = self
            .storage
            .head(key)
            .await
            .map_err(|e| error(e.to_string()))?;
        let path = self.storage.gdal_path(key).ok_or_else(|| {
            error(format!(
                "GDAL cannot read objects of storage {}",
                self.storage.url()
            ))
        })?;
        let config = self.storage.gdal_config();
        let file_name = file_name_of(key).to_owned();
        let read = tokio::task::spawn_blocking(move || read_cog(&path, &config, &file_name))
            .await
            .map_err(|e| error(format!("reading the COG stopped: {e}")))?
            .map_err(error)?;
        let metadata = ProductMetadata {
            id: cog_id(key),
            collection: collection.to_owned(),
            footprint: GeoJsonGeometry::from(&read.footprint),
            start: read.start,
            end: read.end,
            cog: CogInfo {
                key: key.as_str().to_owned(),
                size_bytes: object.size,
                width: read.description.width,
                height: read.description.height,
                bands: read.description.bands,
                alpha: read.description.alpha,
                crs: read.description.crs,
                bbox: read.description.bbox,
                resolution: read.description.resolution,
            },
            source: SourceInfo {
                file: key.as_str().to_owned(),
                browse_identifier: None,
                report: ReportInfo {
                    name: String::new(),
                    responsible_org_name: String::new(),
                    date_time: object.last_modified,
                    browse_type: collection.to_owned(),
                },
            },
            processed_at: object.last_modified,
        };
        let derived = format!(
            "footprint from the COG's valid pixels, time from its {}",
            read.time_source
        );
        Ok((metadata, derived))
    }

    async fn read_metadata(&self, key: &StorageKey) -> Result<ProductMetadata, RegisterError> {
        let bytes = self
            .storage
            .get(key)
            .await
            .map_err(|e| RegisterError::Metadata {
                key: key.as_str().to_owned(),
                reason: e.to_string(),
            })?;
        let text = std::str::from_utf8(&bytes).map_err(|e| RegisterError::Metadata {
            key: key.as_str().to_owned(),
            reason: format!("not UTF-8: {e}"),
        })?;
        ProductMetadata::from_json(text).map_err(|e| RegisterError::Metadata {
            key: key.as_str().to_owned(),
            reason: format!("not a product metadata document: {e}"),
        })
    }

    /// Removes product `id` from the catalog: its cached tiles are deleted (with a tile
    /// store), its invalidation record is pushed to `invalidate_queue`, and it is forgotten in
    /// the registration sets. `None` when there was no such product. When the tiles cannot be
    /// deleted the product is gone from the catalog all the same, and the error says so.
    pub async fn deregister(&self, id: &str) -> Result<Option<Product>, RegisterError> {
        let removed = self
            .catalog
            .deregister(id)
            .await
            .map_err(|e| RegisterError::Catalog {
                id: id.to_owned(),
                reason: e.to_string(),
            })?;
        if let Some(product) = &removed {
            self.invalidate(id, &[product]).await?;
            self.publish_invalidation(product, "deregistered").await?;
            self.queue.forget(Stage::Register, id).await?;
            tracing::info!(product = id, "product deregistered");
        } else {
            tracing::warn!(
                product = id,
                "deregistration of an unknown product: nothing to do"
            );
        }
        Ok(removed)
    }

    /// Consumes `register_queue` with `workers` consumers (`name-0`, `name-1`...; each takes
    /// one message at a time, so documents are read and products registered `workers` at a
    /// time) and `deregister_queue` (as `name-deregister`; messages are product ids) until
    /// `shutdown` is set. Items of dead consumers are recovered at start-up and every minute.
    pub async fn run(
        self: Arc<Self>,
        name: &str,
        workers: usize,
        shutdown: tokio::sync::watch::Receiver<bool>,
    ) -> Result<(), pvs_queue::QueueError> {
        let mut loops = Vec::new();
        for i in 0..workers.max(1) {
            loops.push(tokio::spawn(self.clone().consume(
                QueueName::Register,
                format!("{name}-{i}"),
                shutdown.clone(),
            )));
        }
        loops.push(tokio::spawn(self.consume(
            QueueName::Deregister,
            format!("{name}-deregister"),
            shutdown,
        )));
        pvs_queue::join_workers(loops, "registrar").await
    }

    async fn consume(
        self: Arc<Self>,
        queue: QueueName,
        name: String,
        shutdown: tokio::sync::watch::Receiver<bool>,
    ) -> Result<(), pvs_queue::QueueError> {
        pvs_queue::consume(self.queue.as_ref(), queue, &name, shutdown, |payload| {
            let this = self.clone();
            async move {
                match queue {
                    QueueName::Deregister => match this.deregister(payload.trim()).await {
                        Err(RegisterError::Queue(e)) => Err(e),
                        Err(e) => {
                            tracing::warn!(error = %e, "deregistration failed");
                            let id: String = payload.trim().chars().take(255).collect();
                            this.queue
                                .mark_failed_item(
                                    Stage::Register,
                                    &id,
                                    &e.to_string(),
                                    QueueName::Deregister,
                                    &payload,
                                )
                                .await
                        }
                        Ok(_) => Ok(()),
                    },
                    _ => this.handle(&payload).await.map(drop),
                }
            }
        })
        .await
    }
}

/// Records the outcome of product `id` of browse report `report`; when that completes the
/// report (every browse it brought has an outcome), writes the registration report into
/// `report_dir` if given. The registrar calls it for every product; the preprocessor for a
/// browse that fails before registration.
pub async fn record_outcome(
    queue: &dyn WorkQueue,
    report_dir: Option<&Path>,
    report: &str,
    id: &str,
    outcome: &RegistrationOutcome,
) -> Result<(), pvs_queue::QueueError> {
    let json = serde_json::to_string(outcome).expect("serialises");
    let Some(completed) = queue.report_result(report, id, &json).await? else {
        return Ok(());
    };
    let info: ReportInfo = serde_json::from_str(&completed.info).unwrap_or_else(|_| ReportInfo {
        name: report.to_owned(),
        responsible_org_name: String::new(),
        date_time: Utc::now(),
        browse_type: String::new(),
    });
    let products = completed
        .outcomes
        .into_iter()
        .map(|(id, json)| {
            let outcome = serde_json::from_str(&json)
                .unwrap_or(RegistrationOutcome::Failure { reason: json });
            (id, outcome)
        })
        .collect();
    let document = RegistrationReport {
        report: info,
        products,
        completed_at: Utc::now(),
    };
    match report_dir {
        Some(dir) => match write_report(dir, &document) {
            Ok(path) => {
                tracing::info!(report, path = %path.display(), status = document.status(), "registration report written")
            }
            Err(e) => {
                tracing::error!(report, dir = %dir.display(), error = %e, "cannot write the registration report")
            }
        },
        None => tracing::info!(
            report,
            status = document.status(),
            "report complete (no REPORT_DIR: no registration report written)"
        ),
    }
    Ok(())
}

/// Writes `report` into `dir` atomically (a hidden temporary file renamed into place) under
/// a name no other report has: `<report stem>_registration_<UTC time>_<random>.xml`.
pub fn write_report(dir: &Path, report: &RegistrationReport) -> std::io::Result<PathBuf> {
    let name = &report.report.name;
    let stem = name.strip_suffix(".xml").unwrap_or(name);
    let stem: String = stem
        .chars()
        .take(100)
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let random = &uuid::Uuid::new_v4().simple().to_string()[..8];
    let file = format!(
        "{stem}_registration_{}_{random}.xml",
        Utc::now().format("%Y%m%dT%H%M%S%.3fZ")
    );
    let path = dir.join(&file);
    let tmp = dir.join(format!(".{file}.tmp"));
    std::fs::write(&tmp, report.to_xml())
        .and_then(|()| std::fs::rename(&tmp, &path))
        .map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            std::io::Error::new(e.kind(), format!("{}: {e}", path.display()))
        })?;
    Ok(path)
}

/// What GDAL reads from a COG without a metadata document.
struct CogRead {
    description: pvs_raster::cog::Description,
    footprint: MultiPolygon<f64>,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    /// Where the time came from: `file name` or `TIFF tags`.
    time_source: &'static str,
}

/// Opens the COG at GDAL path `path` under the GDAL configuration `config` and reads its
/// layout, time and footprint. Blocking.
fn read_cog(path: &str, config: &[(String, String)], file_name: &str) -> Result<CogRead, String> {
    for (option, value) in config {
        // The values hold the secret key: the message names the option only.
        gdal::config::set_config_option(option, value)
            .map_err(|e| format!("cannot set the GDAL option {option}: {e}"))?;
    }
    let dataset =
        gdal::Dataset::open(path).map_err(|e| format!("cannot open it as a raster: {e}"))?;
    let description = pvs_raster::cog::describe(&dataset).map_err(|e| e.to_string())?;
    let ((start, end), time_source) = match pvs_raster::derive::time_from_name(file_name) {
        Some(time) => (time, "file name"),
        None => (
            pvs_raster::derive::time_from_tags(&dataset)
                .ok_or("no time: neither the file name nor the TIFF tags give one")?,
            "TIFF tags",
        ),
    };
    let footprint = pvs_raster::derive::valid_data_footprint(&dataset)
        .map_err(|e| format!("no footprint: {e}"))?;
    Ok(CogRead {
        description,
        footprint,
        start,
        end,
        time_source,
    })
}

/// Whether `key` is a metadata document.
fn is_document(key: &StorageKey) -> bool {
    key.as_str().ends_with(".json")
}

/// Whether `key` is a GeoTIFF (`.tif`, `.tiff`, any case).
fn is_tiff(key: &StorageKey) -> bool {
    let name = file_name_of(key).to_ascii_lowercase();
    name.ends_with(".tif") || name.ends_with(".tiff")
}

/// The folder of `key` (`""` at the top).
fn folder_of(key: &StorageKey) -> &str {
    key.as_str()
        .rsplit_once('/')
        .map_or("", |(folder, _)| folder)
}

/// The last segment of `key`.
fn file_name_of(key: &StorageKey) -> &str {
    key.as_str().rsplit('/').next().unwrap_or(key.as_str())
}

/// The product id of a COG without a metadata document: its file name without the
/// extension.
fn cog_id(key: &StorageKey) -> String {
    let name = file_name_of(key);
    match name.rsplit_once('.') {
        Some((stem, _)) if !stem.is_empty() => stem.to_owned(),
        _ => name.to_owned(),
    }
}

/// The id a message is recorded under before its document is read: the document's file
/// stem (`<collection>/<id>/<id>.json` → `<id>`), or the message itself.
fn id_hint(message: &str) -> String {
    let trimmed = message.trim();
    let file = trimmed.rsplit('/').next().unwrap_or(trimmed);
    let stem = file.strip_suffix(".json").unwrap_or(file);
    let stem: String = stem.chars().take(255).collect();
    if stem.is_empty() {
        "(empty message)".to_owned()
    } else {
        stem
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_messages_are_iso_intervals() {
        let start = "2010-07-22T21:38:40Z".parse().unwrap();
        let end = "2010-07-22T21:39:38.5Z".parse().unwrap();
        assert_eq!(
            seed_message(start, end),
            "2010-07-22T21:38:40Z/2010-07-22T21:39:38.500Z"
        );
    }

    #[test]
    fn cog_keys() {
        let key = |k: &str| StorageKey::parse(k).unwrap();
        assert_eq!(
            cog_id(&key("a/b/S2A_20230101T103021.tif")),
            "S2A_20230101T103021"
        );
        assert_eq!(cog_id(&key("x.y.TIFF")), "x.y");
        assert_eq!(cog_id(&key("a/.tif")), ".tif");
        assert!(is_tiff(&key("a/B.TIF")) && is_tiff(&key("c.tiff")));
        assert!(!is_tiff(&key("a/b.tif.json")) && !is_tiff(&key("tif")));
        assert_eq!(folder_of(&key("a/b/c.tif")), "a/b");
        assert_eq!(folder_of(&key("c.tif")), "");
    }

    #[test]
    fn ids_from_messages() {
        assert_eq!(id_hint("SAR/b_id_1/b_id_1.json"), "b_id_1");
        assert_eq!(id_hint("x"), "x");
        assert_eq!(id_hint("  "), "(empty message)");
    }
}
