//! Cached tiles a change makes stale: their deletion from the tile store
//! ([`Registrar::with_tile_store`]) and the [`Invalidation`] records pushed on
//! `invalidate_queue` for caches outside pvs ([`Registrar::with_invalidation_records`]).

use chrono::{DateTime, Utc};
use geo::BoundingRect;
use pvs_catalog::Product;
use pvs_queue::QueueName;
use pvs_tiles::{Change, TileStore};
use serde::{Deserialize, Serialize};

use crate::{RegisterError, Registrar};

/// What the cache may hold for `product`: every layer of its collection (its own,
/// outlines, outlined, one per browse type in `browses`, two per mask type in `masks`), the
/// bounding box of each polygon of its footprint (two for a footprint split at the
/// antimeridian), and its time.
pub fn change_of<'a>(
    product: &Product,
    browses: impl IntoIterator<Item = &'a str>,
    masks: impl IntoIterator<Item = &'a str>,
) -> Change {
    Change {
        layers: pvs_ogc::layer::layers_of(&product.collection, browses, masks),
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
    /// The product; absent from the record of a deleted collection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
    /// `replaced`, `deregistered` or `collection deleted`.
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
            product: Some(product.id.clone()),
            reason: reason.to_owned(),
        }
    }
}

impl Registrar {
    /// Whether replacements and removals push an invalidation record on `invalidate_queue`
    /// (default: they do). Turn it off where nothing reads that queue (`pvs up`), or it
    /// grows forever; the registrar's own deletion of stale tiles is not affected.
    pub fn with_invalidation_records(mut self, on: bool) -> Self {
        self.invalidation_records = on;
        self
    }

    /// Pushes the invalidation record of `product` on `invalidate_queue`, when records are on.
    pub(crate) async fn publish_invalidation(
        &self,
        product: &Product,
        reason: &'static str,
    ) -> Result<(), pvs_queue::QueueError> {
        self.push_record(&Invalidation::of(product, reason)).await
    }

    /// Pushes `record` on `invalidate_queue`, when records are on.
    pub(crate) async fn push_record(
        &self,
        record: &Invalidation,
    ) -> Result<(), pvs_queue::QueueError> {
        if !self.invalidation_records {
            return Ok(());
        }
        self.queue
            .push(
                QueueName::Invalidate,
                &serde_json::to_string(record).expect("serialises"),
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
    pub(crate) async fn invalidate(
        &self,
        id: &str,
        products: &[&Product],
    ) -> Result<(), RegisterError> {
        let Some(tiles) = &self.tiles else {
            return Ok(());
        };
        for product in products {
            let config = self.collections.collections.get(&product.collection);
            let browses = config.into_iter().flat_map(|c| c.browses.keys());
            let masks = config.into_iter().flat_map(|c| c.masks.keys());
            let change = change_of(
                product,
                browses.map(String::as_str),
                masks.map(String::as_str),
            );
            let removed =
                tiles
                    .invalidate(&change)
                    .await
                    .map_err(|e| RegisterError::Invalidate {
                        id: id.to_owned(),
                        source: Box::new(e),
                    })?;
            tracing::debug!(product = id, removed, "stale cached tiles deleted");
        }
        Ok(())
    }
}
