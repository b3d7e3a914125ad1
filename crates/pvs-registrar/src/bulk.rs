//! Bulk removals: a collection's products of a time range, and a whole collection with its
//! cached tiles. Both go through the catalog a page at a time, so that a collection of
//! 100,000 products is never loaded at once.

use chrono::{DateTime, Utc};
use pvs_catalog::{CollectionInfo, Product, ProductQuery, TimeFilter, TimeRelation};
use pvs_queue::Stage;

use crate::{Invalidation, RegisterError, Registrar};

/// How many products a bulk removal takes from the catalog at a time (one transaction).
pub const REMOVAL_PAGE: u32 = 500;

/// What became of one product of a bulk removal.
#[derive(Debug)]
pub enum Removal {
    /// Removed from the catalog, its cached tiles deleted, its invalidation record pushed,
    /// its id forgotten in the registration sets: as [`Registrar::deregister`] does.
    Removed(Product),
    /// Removed from the catalog, but its cached tiles could not be deleted: the id is in
    /// `register-failure_set` with the reason, and no invalidation record was pushed.
    Failed {
        /// The product, gone from the catalog.
        product: Product,
        /// Why its tiles are still there.
        error: RegisterError,
    },
    /// Would be removed (dry run): nothing changed.
    WouldRemove(Product),
}

/// A collection's products whose acquisition time intersects the closed interval
/// `[start, end]` (a product counts when it shares at least an instant with it), validated
/// when built.
#[derive(Debug, Clone, PartialEq)]
pub struct TimeRange {
    collection: String,
    time: TimeFilter,
}

impl TimeRange {
    /// The products of `collection` intersecting `[start, end]`; refused when `end` is
    /// before `start`.
    pub fn new(
        collection: impl Into<String>,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Result<Self, RegisterError> {
        let collection = collection.into();
        let time = TimeFilter::new(start, end, TimeRelation::Intersects).map_err(|source| {
            RegisterError::Removal {
                what: format!("the time range of collection {collection:?}"),
                source,
            }
        })?;
        Ok(Self { collection, time })
    }

    /// The collection.
    pub fn collection(&self) -> &str {
        &self.collection
    }

    /// The catalog query of the range's products, a page of them.
    fn query(&self) -> ProductQuery {
        ProductQuery::new()
            .with_collection(self.collection.clone())
            .with_time(self.time)
            .with_limit(REMOVAL_PAGE)
    }
}

/// What deleting a collection removes (or would remove).
#[derive(Debug, Clone, PartialEq)]
pub struct CollectionDeletion {
    /// The collection and the summary of its products (count, extent, time span).
    pub info: CollectionInfo,
    /// The tile store's layers of the collection (`NAME`, `NAME__outlines`, any other
    /// `NAME__*` that no other collection's name claims), whose tiles are deleted whole.
    pub layers: Vec<String>,
}

/// What deleting a collection removed.
#[derive(Debug, Clone, PartialEq)]
pub struct CollectionDeleted {
    /// The products removed with it.
    pub products: u64,
    /// The tile layers deleted.
    pub layers: Vec<String>,
    /// The tiles deleted from them.
    pub tiles: u64,
}

impl Registrar {
    /// Removes the products of `range` (or, with `dry_run`, only lists them), page after
    /// page, each as [`Registrar::deregister`] removes one; `each` is told what became of
    /// every product as it goes. Returns the collection's summary afterwards (its extent
    /// computed from the products left). An unknown collection is refused before anything
    /// is done; a catalog or queue failure stops the removal with the error (the pages
    /// before it stay removed).
    pub async fn deregister_range(
        &self,
        range: &TimeRange,
        dry_run: bool,
        mut each: impl FnMut(Removal),
    ) -> Result<CollectionInfo, RegisterError> {
        self.collection_info(range.collection()).await?;
        let failed = |source| RegisterError::Removal {
            what: format!(
                "removing the products of collection {:?} in the time range",
                range.collection()
            ),
            source,
        };
        if dry_run {
            let mut query = range.query();
            loop {
                let page = self.catalog.search(&query).await.map_err(failed)?;
                let last = page.len() < REMOVAL_PAGE as usize;
                query.offset += page.len() as u64;
                page.into_iter()
                    .for_each(|product| each(Removal::WouldRemove(product)));
                if last {
                    break;
                }
            }
        } else {
            loop {
                let page = self
                    .catalog
                    .deregister_matching(&range.query())
                    .await
                    .map_err(failed)?;
                if page.is_empty() {
                    break;
                }
                for product in page {
                    each(self.finish_removal(product).await?);
                }
            }
        }
        self.collection_info(range.collection()).await
    }

    /// What [`Registrar::delete_collection`] would remove: the collection's summary and its
    /// tile layers. An unknown collection is [`RegisterError::NoCollection`].
    pub async fn collection_deletion(
        &self,
        name: &str,
    ) -> Result<CollectionDeletion, RegisterError> {
        let listing = |source| RegisterError::Removal {
            what: "listing the collections".to_owned(),
            source,
        };
        let collections = self.catalog.collections().await.map_err(listing)?;
        let info = collections
            .iter()
            .find(|info| info.collection.name == name)
            .cloned()
            .ok_or_else(|| RegisterError::NoCollection(name.to_owned()))?;
        let layers = match &self.tiles {
            None => Vec::new(),
            Some(tiles) => {
                let stored = tiles
                    .layers()
                    .await
                    .map_err(|source| RegisterError::DeleteLayer {
                        layer: format!("{name} (listing the layers)"),
                        source: Box::new(source),
                    })?;
                let names: Vec<&str> = collections
                    .iter()
                    .map(|info| info.collection.name.as_str())
                    .collect();
                layers_of(name, &stored, &names)
            }
        };
        Ok(CollectionDeletion { info, layers })
    }

    /// Deletes collection `name`: its products page by page (each id forgotten in the
    /// registration sets; `each` is given every product as it goes), then the collection
    /// itself (with any product registered into it meanwhile), then every tile of its
    /// layers (see [`CollectionDeletion::layers`]), then one invalidation record for its
    /// whole extent and time span (`"reason": "collection deleted"`, no `product`; none for a
    /// collection without products). An unknown collection is refused before anything is
    /// done.
    pub async fn delete_collection(
        &self,
        name: &str,
        mut each: impl FnMut(&Product),
    ) -> Result<CollectionDeleted, RegisterError> {
        let plan = self.collection_deletion(name).await?;
        let failed = |source| RegisterError::Removal {
            what: format!("deleting collection {name:?}"),
            source,
        };
        let query = ProductQuery::new()
            .with_collection(name)
            .with_limit(REMOVAL_PAGE);
        let mut products = 0;
        loop {
            let page = self
                .catalog
                .deregister_matching(&query)
                .await
                .map_err(failed)?;
            if page.is_empty() {
                break;
            }
            for product in &page {
                self.queue.forget(Stage::Register, &product.id).await?;
                each(product);
            }
            products += page.len() as u64;
        }
        let stragglers = self
            .catalog
            .delete_collection(name)
            .await
            .map_err(failed)?
            .unwrap_or_default();
        self.upserted
            .lock()
            .expect("no panic while holding the lock")
            .remove(name);
        let mut tiles = 0;
        if let Some(store) = &self.tiles {
            for layer in &plan.layers {
                tiles += store.delete_layer(layer).await.map_err(|source| {
                    RegisterError::DeleteLayer {
                        layer: layer.clone(),
                        source: Box::new(source),
                    }
                })?;
            }
        }
        let info = &plan.info;
        if let (Some(bbox), Some(start), Some(end)) = (info.bbox, info.begin, info.end) {
            self.push_record(&Invalidation {
                collection: name.to_owned(),
                bbox: [bbox.west(), bbox.south(), bbox.east(), bbox.north()],
                start,
                end,
                product: None,
                reason: "collection deleted".to_owned(),
            })
            .await?;
        }
        tracing::info!(
            collection = name,
            products = products + stragglers,
            tiles,
            "collection deleted"
        );
        Ok(CollectionDeleted {
            products: products + stragglers,
            layers: plan.layers,
            tiles,
        })
    }

    /// The summary of collection `name`, or [`RegisterError::NoCollection`].
    async fn collection_info(&self, name: &str) -> Result<CollectionInfo, RegisterError> {
        self.catalog
            .collections()
            .await
            .map_err(|source| RegisterError::Removal {
                what: "listing the collections".to_owned(),
                source,
            })?
            .into_iter()
            .find(|info| info.collection.name == name)
            .ok_or_else(|| RegisterError::NoCollection(name.to_owned()))
    }

    /// The rest of one removal of a bulk removal, the product being out of the catalog: a
    /// failure to delete its tiles is recorded and reported, a queue failure stops it all.
    async fn finish_removal(&self, product: Product) -> Result<Removal, RegisterError> {
        match self.after_removal(&product).await {
            Ok(()) => Ok(Removal::Removed(product)),
            Err(RegisterError::Queue(error)) => Err(RegisterError::Queue(error)),
            Err(error) => {
                self.queue
                    .mark_failed(Stage::Register, &product.id, &error.to_string())
                    .await?;
                Ok(Removal::Failed { product, error })
            }
        }
    }
}

/// The layers among `stored` that belong to collection `name`: `name` itself and the layers
/// `name__*` (its outlines, `name__outlines`), except those that belong to another of the
/// `collections` whose name is longer and also matches (a collection may be called
/// `S2__x`: its layers `S2__x` and `S2__x__outlines` are not `S2`'s). Names match whole:
/// `S2_L1C` is not a layer of `S2`.
pub fn layers_of(name: &str, stored: &[String], collections: &[&str]) -> Vec<String> {
    let owns = |collection: &str, layer: &str| {
        layer == collection
            || layer
                .strip_prefix(collection)
                .is_some_and(|rest| rest.starts_with("__"))
    };
    stored
        .iter()
        .filter(|layer| {
            owns(name, layer)
                && !collections
                    .iter()
                    .any(|other| other.len() > name.len() && owns(other, layer))
        })
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layers_of_a_collection() {
        let stored: Vec<String> = [
            "S2",
            "S2_L1C",
            "S2_L1C__outlines",
            "S2__outlines",
            "S2__x",
            "S2__x__outlines",
            "S2__y",
            "S3",
        ]
        .map(str::to_owned)
        .to_vec();
        let collections = ["S2", "S2_L1C", "S2__x", "S3"];
        assert_eq!(
            layers_of("S2", &stored, &collections),
            ["S2", "S2__outlines", "S2__y"]
        );
        assert_eq!(
            layers_of("S2_L1C", &stored, &collections),
            ["S2_L1C", "S2_L1C__outlines"]
        );
        assert_eq!(
            layers_of("S2__x", &stored, &collections),
            ["S2__x", "S2__x__outlines"]
        );
        assert!(layers_of("S4", &stored, &collections).is_empty());
    }
}
