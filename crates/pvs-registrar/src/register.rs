//! Registering one product: its metadata document read and checked, its collection upserted,
//! the product inserted or replaced atomically, stale tiles deleted, its interval seeded.

use std::sync::Arc;

use chrono::{DateTime, SecondsFormat, Utc};
use geo::MultiPolygon;
use pvs_catalog::{CatalogError, Collection, KeepRule, Product, Registration};
use pvs_model::{CollectionConfig, ProductMetadata, Replacement, ReportInfo};
use pvs_queue::QueueName;
use pvs_storage::StorageKey;

use crate::{RegisterError, Registrar};

/// What registering one product did.
#[derive(Debug)]
pub struct Registered {
    /// The product as registered.
    pub product: Product,
    /// Whether it replaced an earlier version.
    pub replaced: bool,
    /// The report of the version it was merged with (the preprocessor merged them: strategy
    /// `merge`, [`pvs_model::SourceInfo::merged_with`]); it replaced that version.
    pub merged_with: Option<pvs_model::ReportInfo>,
    /// Whether its interval was queued for seeding.
    pub seeded: bool,
    /// For a COG registered without a metadata document, what was derived from the COG,
    /// e.g. `footprint from the COG's valid pixels, time from its file name`; `None` when a
    /// metadata document gave everything.
    pub derived: Option<String>,
}

/// The `seed_queue` message for an interval: `start/end`, ISO 8601.
pub fn seed_message(start: DateTime<Utc>, end: DateTime<Utc>) -> String {
    format!(
        "{}/{}",
        start.to_rfc3339_opts(SecondsFormat::AutoSi, true),
        end.to_rfc3339_opts(SecondsFormat::AutoSi, true)
    )
}

impl Registrar {
    pub(crate) async fn read_message(
        &self,
        message: &str,
    ) -> Result<ProductMetadata, RegisterError> {
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
    pub(crate) fn collection_of(
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
        check_masks(metadata, &collection_name, &config)?;
        let catalog_error = |source| RegisterError::Catalog {
            id: metadata.id.clone(),
            source,
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
            self.upsert_collection(&collection)
                .await
                .map_err(catalog_error)?;
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
            properties: metadata.properties.clone(),
        };
        // The collection's strategy decides inside the catalog's registration, against the
        // product registered there at that moment: no other version comes in between.
        let keep: Arc<KeepRule> = {
            let (report, config) = (metadata.source.report.clone(), config.clone());
            Arc::new(move |existing: &Product| superseded(existing, &report, &config))
        };
        let registration = match self.catalog.register_unless(&product, keep.clone()).await {
            // The collection was deleted (`pvs registrar --delete-collection`) since this
            // process created it: create it again.
            Err(CatalogError::UnknownCollection(_)) if known => {
                self.upsert_collection(&collection)
                    .await
                    .map_err(catalog_error)?;
                self.catalog.register_unless(&product, keep).await
            }
            other => other,
        }
        .map_err(catalog_error)?;
        if let Registration::Kept { reason } = registration {
            return Err(RegisterError::Skipped {
                id: metadata.id.clone(),
                reason,
            });
        }
        // After the catalog has the new version (tiles drawn before then are stale) and
        // before seeding (which must draw fresh ones). A new product makes stale the tiles
        // of its place and time too: they were drawn without it.
        let mut stale = vec![&product];
        stale.extend(registration.previous());
        self.invalidate(&product.id, &stale).await?;
        let replaced = match registration {
            Registration::Replaced { previous } => {
                let reason = match metadata.source.merged_with {
                    Some(_) => "merged",
                    None => "replaced",
                };
                self.publish_invalidation(&previous, reason).await?;
                true
            }
            Registration::Inserted | Registration::Kept { .. } => false,
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
            merged_with: metadata.source.merged_with.clone(),
            seeded,
            derived: None,
        })
    }

    /// Creates or updates `collection` in the catalog and remembers that this process did
    /// (it is not upserted again for every product).
    async fn upsert_collection(
        &self,
        collection: &Collection,
    ) -> Result<(), pvs_catalog::CatalogError> {
        self.catalog.upsert_collection(collection).await?;
        self.upserted
            .lock()
            .expect("no panic while holding the lock")
            .insert(collection.name.clone());
        Ok(())
    }

    pub(crate) async fn read_metadata(
        &self,
        key: &StorageKey,
    ) -> Result<ProductMetadata, RegisterError> {
        let bytes = self
            .storage
            .get(key)
            .await
            .map_err(|e| RegisterError::Unreadable {
                key: key.as_str().to_owned(),
                source: Box::new(e),
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
}

/// Why a product from the browse report `new` is not registered over `existing`, the same
/// product (collection and id) from another report, when the collection's strategy keeps
/// `existing`: the reports' `dateTime`s compared ([`CollectionConfig::replacement`]; a merge,
/// which the preprocessor did, registers). `None` (register) when `existing`'s report is not
/// known.
fn superseded(existing: &Product, new: &ReportInfo, config: &CollectionConfig) -> Option<String> {
    let there: ProductMetadata = serde_json::from_value(existing.metadata.clone()).ok()?;
    let registered = &there.source.report;
    (config.replacement(new.date_time, registered.date_time) == Replacement::Skip).then(|| {
        format!(
            "the report {:?} dated {} is not newer than the report {:?} dated {} that \
             registered it (strategy {} of collection {})",
            new.name,
            new.date_time.to_rfc3339(),
            registered.name,
            registered.date_time.to_rfc3339(),
            config.strategy.as_str(),
            existing.collection
        )
    })
}

/// Checks the product's masks: each of a mask type of its collection, each a valid
/// multi-polygon (the catalog's rule for footprints).
fn check_masks(
    metadata: &ProductMetadata,
    collection: &str,
    config: &pvs_model::CollectionConfig,
) -> Result<(), RegisterError> {
    for (mask, geometry) in &metadata.masks {
        let error = |reason: String| RegisterError::Mask {
            id: metadata.id.clone(),
            mask: mask.clone(),
            reason,
        };
        if !config.masks.contains_key(mask) {
            let known: Vec<&str> = config.masks.keys().map(String::as_str).collect();
            return Err(error(format!(
                "not a mask type of collection {collection:?} (its mask types: {}; COLLECTIONS_FILE)",
                if known.is_empty() {
                    "none".to_owned()
                } else {
                    known.join(", ")
                }
            )));
        }
        pvs_catalog::check_footprint("the mask", &MultiPolygon::from(geometry)).map_err(error)?;
    }
    Ok(())
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
}
