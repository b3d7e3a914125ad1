//! The pvs registrar: preprocessed products into the catalog.
//!
//! Each message on `register_queue` is the storage key of a product metadata document
//! (`pvs_model::ProductMetadata`, written by the preprocessor beside the COG). The registrar
//! reads it, maps the product's browse type to its collection (the collections configuration),
//! and registers the product in the catalog (insert, or atomic replacement of the same id).
//! Then:
//! - a replacement pushes an invalidation record to `invalidate_queue` so that the tiles the
//!   previous version covered are dropped (see [`Invalidation`]);
//! - when the collection is seeded (`seed_zoom`), the product's interval `start/end` is pushed to
//!   `seed_queue`;
//! - deregistration (`deregister_queue` messages are product ids, or
//!   [`Registrar::deregister`]) removes the product, invalidates its tiles and forgets it in the
//!   registration sets;
//! - the product id moves through `registering_set` to `register-success_set`, or to
//!   `register-failure_set` with the reason in `register-failure_reasons`.
//!
//! A message that cannot be registered (missing or unreadable document, unknown collection,
//! invalid footprint) fails that product only, with its reason, and changes nothing else.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use geo::{BoundingRect, MultiPolygon};
use pvs_catalog::{Catalog, Collection, Product, Registration};
use pvs_model::{
    Collections, ProductMetadata, RegistrationOutcome, RegistrationReport, ReportInfo,
};
use pvs_queue::{QueueName, Stage, WorkQueue};
use pvs_storage::{Storage, StorageKey};
use serde::{Deserialize, Serialize};

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
    /// The catalog refused the product or could not be reached.
    #[error("product {id}: {reason}")]
    Catalog {
        /// The product id.
        id: String,
        /// The catalog's message.
        reason: String,
    },
    /// The queue could not be reached.
    #[error(transparent)]
    Queue(#[from] pvs_queue::QueueError),
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
    /// Register into this collection whatever the browse type.
    pub collection: Option<String>,
    /// Replace products that are already registered (otherwise they are skipped).
    pub replace: bool,
    /// Only say what would be done.
    pub dry_run: bool,
}

/// What became of one metadata document under a prefix.
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
        /// The document's key.
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
        }
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
                    .mark_failed(Stage::Register, &id, &e.to_string())
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
        let replaced = match self
            .catalog
            .register(&product)
            .await
            .map_err(catalog_error)?
        {
            Registration::Inserted => false,
            Registration::Replaced { previous } => {
                let record = Invalidation::of(&previous, "replaced");
                self.queue
                    .push(
                        QueueName::Invalidate,
                        &serde_json::to_string(&record).expect("serialises"),
                    )
                    .await?;
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
        })
    }

    /// Registers the products whose metadata documents (`*.json`) lie under storage `prefix`,
    /// without a queue (the operator's `registrar --objects-prefix`). Each document gives one
    /// outcome; the status sets are not touched.
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
        let documents: Vec<&StorageKey> = keys
            .iter()
            .filter(|k| k.as_str().ends_with(".json"))
            .collect();
        if documents.is_empty() {
            return Err(RegisterError::Metadata {
                key: key.as_str().to_owned(),
                reason: format!(
                    "no metadata document (*.json) under the prefix ({} other objects); \
                     registering from a COG alone is not built yet",
                    keys.len()
                ),
            });
        }
        let mut outcomes = Vec::with_capacity(documents.len());
        for document in documents {
            outcomes.push(self.register_document(document, options).await);
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
        let exists = match self.catalog.get(&metadata.id).await {
            Ok(found) => found.is_some(),
            Err(e) => return failed(e.to_string()),
        };
        if exists && !options.replace {
            return PrefixOutcome::Skipped {
                id: metadata.id,
                reason: "already registered (use --replace to replace it)".to_owned(),
            };
        }
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

    /// Removes product `id` from the catalog: its tiles are invalidated (`invalidate_queue`)
    /// and it is forgotten in the registration sets. `None` when there was no such product.
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
            let record = Invalidation::of(product, "deregistered");
            self.queue
                .push(
                    QueueName::Invalidate,
                    &serde_json::to_string(&record).expect("serialises"),
                )
                .await?;
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
        let mut outcome = Ok(());
        for handle in loops {
            match handle.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => outcome = Err(e),
                Err(e) => {
                    outcome = Err(pvs_queue::QueueError::Invalid(format!(
                        "a registrar worker stopped: {e}"
                    )))
                }
            }
        }
        outcome
    }

    async fn consume(
        self: Arc<Self>,
        queue: QueueName,
        name: String,
        mut shutdown: tokio::sync::watch::Receiver<bool>,
    ) -> Result<(), pvs_queue::QueueError> {
        let mut consumer = self.queue.consumer(queue, &name).await?;
        self.queue.recover(queue).await?;
        let mut last_recovery = tokio::time::Instant::now();
        while !*shutdown.borrow() {
            if last_recovery.elapsed() > Duration::from_secs(60) {
                self.queue.recover(queue).await?;
                last_recovery = tokio::time::Instant::now();
            }
            let taken = tokio::select! {
                taken = consumer.take(Duration::from_secs(1)) => taken?,
                _ = shutdown.changed() => break,
            };
            let Some(taken) = taken else { continue };
            let outcome = match queue {
                QueueName::Deregister => match self.deregister(taken.payload.trim()).await {
                    Err(RegisterError::Queue(e)) => Err(e),
                    Err(e) => {
                        tracing::warn!(error = %e, "deregistration failed");
                        Ok(())
                    }
                    Ok(_) => Ok(()),
                },
                _ => self.handle(&taken.payload).await.map(drop),
            };
            match outcome {
                Ok(()) => consumer.ack(&taken).await?,
                Err(e) => {
                    tracing::error!(error = %e, "queue unreachable; the message goes back");
                    consumer.release(&taken).await?;
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
        consumer.close().await
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
    fn ids_from_messages() {
        assert_eq!(id_hint("SAR/b_id_1/b_id_1.json"), "b_id_1");
        assert_eq!(id_hint("x"), "x");
        assert_eq!(id_hint("  "), "(empty message)");
    }
}
