//! The plan of a seed job: which tiles to make, found from the products in the catalog.
//!
//! For each collection, every product whose time overlaps the job's interval (and whose
//! footprint meets the job's box, if any) is found, page by page. Each polygon of its
//! footprint gives a box (clipped to the job's box); the tiles those boxes overlap, at each
//! zoom level and in each matrix set, are the product's tiles. They are seeded at two times:
//!
//! - the product's own interval, as clients ask for it: the `TIME` value
//!   [`interval_value`]`(begin, end)` written in the cache's capabilities, whose tile key is
//!   that of `TileTime::parse(&interval_value(begin, end))`;
//! - the default time ([`TileTime::Default`], no `TIME` or `TIME=default`), which shows every
//!   product: the union of all products' tiles.
//!
//! Other `TIME` values (a client's own interval, e.g. a month) are not seeded: there are as
//! many as clients can write; they are drawn on first request. Tiles are deduplicated per
//! layer, time, matrix set and zoom level. Each collection gives its layer, and with
//! `outlines` its `__outlines` layer; every tile is made in each format.

use std::collections::{BTreeMap, HashSet};

use geo::BoundingRect;
use pvs_catalog::{Bbox, Catalog, MAX_LIMIT, Product, ProductQuery, TimeFilter, TimeRelation};
use pvs_ogc::layer::{collection_of, outlines_layer};
use pvs_tiles::time::interval_value;
use pvs_tiles::{Tile, TileFormat, TileKey, TileMatrixSet, TileTime};

use crate::job::SeedJob;

/// The most distinct tiles (per time, matrix set and zoom level, before layers and formats)
/// one job may plan: about 16 bytes each are kept in memory.
pub const MAX_PLAN_TILES: u64 = 5_000_000;

/// Why a job cannot be planned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// A collection of the job is not in the catalog.
    #[error("no collection {name:?} in the catalog (the collections are: {known})")]
    UnknownCollection {
        /// The name asked for.
        name: String,
        /// The collections there are, comma-separated.
        known: String,
    },
    /// The job asks for too many tiles.
    #[error(
        "the job covers more than {MAX_PLAN_TILES} tiles; narrow it with fewer zoom levels, a smaller --bbox or a shorter --time"
    )]
    TooLarge,
    /// The job is not consistent (no matrix set, no format...).
    #[error("{0}")]
    Invalid(String),
    /// The catalog failed.
    #[error("the catalog: {0}")]
    Catalog(String),
    /// The catalog could not be reached (or went away): planning may succeed later.
    #[error("the catalog: {0}")]
    CatalogUnavailable(String),
}

/// A catalog error as a [`PlanError`]: [`PlanError::CatalogUnavailable`] when it may pass.
fn catalog_error(error: pvs_catalog::CatalogError) -> PlanError {
    if error.is_transient() {
        PlanError::CatalogUnavailable(error.to_string())
    } else {
        PlanError::Catalog(error.to_string())
    }
}

/// The tiles of one time, matrix set and zoom level, made for each of `layers`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// The layers (a collection, and its outlines).
    pub layers: Vec<String>,
    /// The time.
    pub time: TileTime,
    /// The matrix set.
    pub tms: TileMatrixSet,
    /// The tiles, sorted, all of one zoom level.
    pub tiles: Vec<Tile>,
}

/// What a job will make.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Plan {
    /// The tiles, grouped.
    pub groups: Vec<Group>,
    /// The formats each tile is made in.
    pub formats: Vec<TileFormat>,
    /// How many products were found.
    pub products: usize,
}

impl Plan {
    /// How many tiles (keys) the plan makes.
    pub fn len(&self) -> u64 {
        self.groups
            .iter()
            .map(|g| g.tiles.len() as u64 * g.layers.len() as u64)
            .sum::<u64>()
            * self.formats.len() as u64
    }

    /// Whether the plan makes no tile.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every tile key of the plan, group by group.
    pub fn keys(&self) -> impl Iterator<Item = TileKey> + '_ {
        self.groups.iter().flat_map(move |group| {
            group.tiles.iter().flat_map(move |&tile| {
                group.layers.iter().flat_map(move |layer| {
                    self.formats.iter().map(move |&format| {
                        TileKey::new(layer, group.time, group.tms, tile, format)
                            .expect("layer names are checked and tiles come from the matrix set")
                    })
                })
            })
        })
    }
}

/// Checks that every collection of `job` is in the catalog.
pub async fn check_collections(catalog: &dyn Catalog, job: &SeedJob) -> Result<(), PlanError> {
    for name in &job.collections {
        let found = catalog.collection(name).await.map_err(catalog_error)?;
        if found.is_none() {
            let known = catalog
                .collections()
                .await
                .map_err(catalog_error)?
                .into_iter()
                .map(|c| c.collection.name)
                .collect::<Vec<_>>();
            return Err(PlanError::UnknownCollection {
                name: name.clone(),
                known: if known.is_empty() {
                    "none".to_owned()
                } else {
                    known.join(", ")
                },
            });
        }
    }
    Ok(())
}

/// The boxes `[west, south, east, north]` of a footprint's polygons, clipped to `bbox`.
pub fn product_boxes(product: &Product, bbox: Option<[f64; 4]>) -> Vec<[f64; 4]> {
    let boxes = product
        .footprint
        .0
        .iter()
        .filter_map(|polygon| polygon.bounding_rect())
        .map(|r| [r.min().x, r.min().y, r.max().x, r.max().y]);
    let Some([west, south, east, north]) = bbox else {
        return boxes.collect();
    };
    let parts = if west > east {
        vec![[west, south, 180.0, north], [-180.0, south, east, north]]
    } else {
        vec![[west, south, east, north]]
    };
    boxes
        .flat_map(|b| {
            parts.iter().filter_map(move |p| {
                let clipped = [
                    b[0].max(p[0]),
                    b[1].max(p[1]),
                    b[2].min(p[2]),
                    b[3].min(p[3]),
                ];
                (clipped[0] <= clipped[2] && clipped[1] <= clipped[3]).then_some(clipped)
            })
        })
        .collect()
}

/// Every product of `collection` whose time overlaps the job's interval and whose footprint
/// meets the job's box, all pages.
async fn products(
    catalog: &dyn Catalog,
    collection: &str,
    job: &SeedJob,
) -> Result<Vec<Product>, PlanError> {
    let mut query = ProductQuery::new()
        .with_collection(collection)
        .with_time(
            TimeFilter::new(job.start, job.end, TimeRelation::Intersects).map_err(catalog_error)?,
        )
        .with_limit(MAX_LIMIT);
    if let Some([west, south, east, north]) = job.bbox {
        query = query.with_bbox(Bbox::new(west, south, east, north).map_err(catalog_error)?);
    }
    let mut found = Vec::new();
    loop {
        let page = catalog
            .search(&query.clone().with_offset(found.len() as u64))
            .await
            .map_err(catalog_error)?;
        let last = page.len() < MAX_LIMIT as usize;
        found.extend(page);
        if last {
            return Ok(found);
        }
    }
}

/// The plan of `job`: its products found in `catalog`, their tiles (see the module's
/// documentation).
pub async fn plan(catalog: &dyn Catalog, job: &SeedJob) -> Result<Plan, PlanError> {
    if job.matrix_sets.is_empty() || job.formats.is_empty() || job.collections.is_empty() {
        return Err(PlanError::Invalid(
            "a seed job needs at least one collection, matrix set and format".to_owned(),
        ));
    }
    let [from, to] = job.zoom;
    let mut count: u64 = 0;
    let mut plan = Plan {
        formats: job.formats.clone(),
        ..Plan::default()
    };
    for layer in &job.collections {
        // A collection, or one of its layers (`<collection>__<browse>`, as mapcache_seed's
        // tilesets): its products are the collection's.
        let collection = &collection_of(layer).to_owned();
        let mut layers = vec![layer.clone()];
        if job.outlines {
            layers.push(outlines_layer(collection));
        }
        for layer in &layers {
            pvs_ogc::layer::check_layer_name(layer)
                .map_err(|e| PlanError::Invalid(e.to_string()))?;
        }
        let products = products(catalog, collection, job).await?;
        plan.products += products.len();
        let mut tiles: BTreeMap<(TileTime, TileMatrixSet, u8), HashSet<Tile>> = BTreeMap::new();
        for product in &products {
            let boxes = product_boxes(product, job.bbox);
            let time = TileTime::parse(&interval_value(product.begin, product.end))
                .map_err(|e| PlanError::Invalid(format!("product {}: {e}", product.id)))?;
            for &tms in &job.matrix_sets {
                for z in from..=to {
                    for range in boxes.iter().flat_map(|&b| tms.tiles(b, z)) {
                        if range.len() > MAX_PLAN_TILES {
                            return Err(PlanError::TooLarge);
                        }
                        for t in [time, TileTime::Default] {
                            let set = tiles.entry((t, tms, z)).or_default();
                            for tile in range.tiles() {
                                if set.insert(tile) {
                                    count += 1;
                                    if count > MAX_PLAN_TILES {
                                        return Err(PlanError::TooLarge);
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        for ((time, tms, _), set) in tiles {
            let mut tiles: Vec<Tile> = set.into_iter().collect();
            tiles.sort();
            plan.groups.push(Group {
                layers: layers.clone(),
                time,
                tms,
                tiles,
            });
        }
    }
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use geo::{MultiPolygon, polygon};

    use super::*;

    fn product(polygons: Vec<geo::Polygon<f64>>) -> Product {
        Product {
            properties: Default::default(),
            id: "p".to_owned(),
            collection: "C".to_owned(),
            product_type: None,
            footprint: MultiPolygon(polygons),
            begin: Utc.with_ymd_and_hms(2020, 1, 1, 0, 0, 0).unwrap(),
            end: Utc.with_ymd_and_hms(2020, 1, 1, 0, 0, 0).unwrap(),
            location: "p.tif".to_owned(),
            metadata: serde_json::json!({}),
        }
    }

    #[test]
    fn boxes_are_per_polygon_and_clipped() {
        let p = product(vec![
            polygon![(x: 170.0, y: 0.0), (x: 180.0, y: 0.0), (x: 180.0, y: 10.0), (x: 170.0, y: 0.0)],
            polygon![(x: -180.0, y: 0.0), (x: -175.0, y: 0.0), (x: -175.0, y: 5.0), (x: -180.0, y: 0.0)],
        ]);
        assert_eq!(
            product_boxes(&p, None),
            vec![[170.0, 0.0, 180.0, 10.0], [-180.0, 0.0, -175.0, 5.0]]
        );
        assert_eq!(
            product_boxes(&p, Some([175.0, 2.0, -178.0, 20.0])),
            vec![[175.0, 2.0, 180.0, 10.0], [-180.0, 2.0, -178.0, 5.0]]
        );
        assert_eq!(
            product_boxes(&p, Some([0.0, 0.0, 10.0, 10.0])),
            Vec::<[f64; 4]>::new()
        );
    }
}
