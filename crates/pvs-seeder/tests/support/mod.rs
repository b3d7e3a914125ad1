//! The seeder's test world: a PostGIS catalog of its own, COGs written by GDAL on a local
//! directory storage, a tile store on the S3 test server, and the cache drawing with the
//! renderer library; plus an independent computation of the tiles a footprint should give.

// Each test binary uses part of this module.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::f64::consts::PI;
use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use gdal::DriverManager;
use gdal::raster::{Buffer, RasterCreationOptions};
use gdal::spatial_ref::SpatialRef;
use geo_types::{MultiPolygon, Polygon, polygon};
use pvs_cache::{TileCache, TileRenderer};
use pvs_catalog::testing::TestDatabase;
use pvs_catalog::{Catalog, Collection, PostgisCatalog, Product};
use pvs_renderer::{Renderer, Settings};
use pvs_storage::Storage;
use pvs_tiles::TileStore;

pub fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// A rectangle footprint.
pub fn rect(west: f64, south: f64, east: f64, north: f64) -> Polygon<f64> {
    polygon![
        (x: west, y: south),
        (x: east, y: south),
        (x: east, y: north),
        (x: west, y: north),
        (x: west, y: south),
    ]
}

pub struct World {
    pub database: TestDatabase,
    pub catalog: Arc<PostgisCatalog>,
    pub data_dir: tempfile::TempDir,
    /// COGs (file:// on `data_dir`).
    pub storage: Storage,
    /// Tiles (S3 test server, a bucket of its own).
    pub tiles: TileStore,
}

impl World {
    pub async fn new(collections: &[&str]) -> Self {
        pvs_raster::init();
        let database = TestDatabase::create().await;
        let catalog = Arc::new(database.catalog().await);
        for name in collections {
            catalog
                .upsert_collection(&Collection::new(*name).unwrap())
                .await
                .unwrap();
        }
        let data_dir = tempfile::tempdir().unwrap();
        let storage = pvs_test_support::local_storage(data_dir.path());
        let tiles = TileStore::new(
            pvs_storage::testing::s3_storage("tiles").await,
            "tiles".parse().unwrap(),
        );
        Self {
            database,
            catalog,
            data_dir,
            storage,
            tiles,
        }
    }

    /// The cache over the world's tile store, drawing in this process.
    pub fn cache(&self) -> TileCache {
        let catalog: Arc<dyn Catalog> = self.catalog.clone();
        let renderer = Renderer::new(catalog.clone(), self.storage.clone(), Settings::default());
        TileCache::new(
            self.tiles.clone(),
            TileRenderer::InProcess(Arc::new(renderer)),
            catalog,
        )
    }

    /// Writes a COG of one colour covering `bbox` at `key` on the world's storage.
    pub fn write_cog(&self, key: &str, bbox: [f64; 4], rgb: [u8; 3]) {
        write_cog(&self.data_dir.path().join(key), bbox, rgb);
    }

    /// Writes a COG covering the footprint's box and registers the product directly in the
    /// catalog.
    pub async fn add_product(
        &self,
        id: &str,
        collection: &str,
        footprint: MultiPolygon<f64>,
        begin: &str,
        end: &str,
        rgb: [u8; 3],
    ) -> Product {
        let key = format!("{collection}/{id}.tif");
        let rect = geo::BoundingRect::bounding_rect(&footprint).unwrap();
        self.write_cog(
            &key,
            [rect.min().x, rect.min().y, rect.max().x, rect.max().y],
            rgb,
        );
        let product = Product {
            properties: Default::default(),
            id: id.to_owned(),
            collection: collection.to_owned(),
            product_type: None,
            footprint,
            begin: at(begin),
            end: at(end),
            location: key,
            metadata: serde_json::json!({}),
        };
        self.catalog.register(&product).await.unwrap();
        product
    }
}

/// A 3-band GeoTIFF in EPSG:4326 of one colour over `bbox`, written as a COG by GDAL.
pub fn write_cog(path: &Path, [west, south, east, north]: [f64; 4], rgb: [u8; 3]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let (width, height) = (200, 200);
    let mem = DriverManager::get_driver_by_name("MEM").unwrap();
    let mut dataset = mem
        .create_with_band_type::<u8, _>("", width, height, 3)
        .unwrap();
    dataset
        .set_geo_transform(&[
            west,
            (east - west) / width as f64,
            0.0,
            north,
            0.0,
            -(north - south) / height as f64,
        ])
        .unwrap();
    dataset
        .set_spatial_ref(&SpatialRef::from_epsg(4326).unwrap())
        .unwrap();
    for (band, value) in rgb.into_iter().enumerate() {
        let mut buffer = Buffer::new((width, height), vec![value; width * height]);
        dataset
            .rasterband(band + 1)
            .unwrap()
            .write((0, 0), (width, height), &mut buffer)
            .unwrap();
    }
    let cog = DriverManager::get_driver_by_name("COG").unwrap();
    dataset
        .create_copy(&cog, path, &RasterCreationOptions::new())
        .unwrap();
}

/// The tile-key time of a product's interval, computed independently of pvs-tiles: the
/// begin to the second, and the end to the second plus one second (exclusive).
pub fn interval_key(begin: DateTime<Utc>, end: DateTime<Utc>) -> String {
    let second =
        |t: DateTime<Utc>| t - TimeDelta::nanoseconds(i64::from(t.timestamp_subsec_nanos()));
    format!(
        "{}_{}",
        second(begin).format("%Y%m%dT%H%M%SZ"),
        (second(end) + TimeDelta::seconds(1)).format("%Y%m%dT%H%M%SZ")
    )
}

/// The bounds `[west, south, east, north]` in degrees of tile (z, x, y), by the textbook
/// formulas: WebMercatorQuad (2^z × 2^z, latitude from the Mercator northing) or
/// WorldCRS84Quad (2^(z+1) × 2^z, 180/2^z degrees a tile).
pub fn tile_bounds(tms: &str, z: u8, x: u32, y: u32) -> [f64; 4] {
    let n = f64::from(1u32 << z);
    match tms {
        "WebMercatorQuad" => {
            let lon = |x: f64| x / n * 360.0 - 180.0;
            let lat = |y: f64| (PI * (1.0 - 2.0 * y / n)).sinh().atan().to_degrees();
            [
                lon(f64::from(x)),
                lat(f64::from(y + 1)),
                lon(f64::from(x + 1)),
                lat(f64::from(y)),
            ]
        }
        "WorldCRS84Quad" => {
            let side = 180.0 / n;
            [
                -180.0 + f64::from(x) * side,
                90.0 - f64::from(y + 1) * side,
                -180.0 + f64::from(x + 1) * side,
                90.0 - f64::from(y) * side,
            ]
        }
        other => panic!("no matrix set {other}"),
    }
}

/// The size of the matrix at zoom z.
pub fn matrix(tms: &str, z: u8) -> (u32, u32) {
    let n = 1u32 << z;
    if tms == "WorldCRS84Quad" {
        (2 * n, n)
    } else {
        (n, n)
    }
}

/// Whether two boxes share a positive area.
pub fn overlaps(a: [f64; 4], b: [f64; 4]) -> bool {
    a[0] < b[2] && b[0] < a[2] && a[1] < b[3] && b[1] < a[3]
}

/// Every tile (by a loop over the whole matrix) overlapping one of `boxes`, as
/// `{tms}/{z}/{x}/{y}`.
pub fn tiles_of(
    boxes: &[[f64; 4]],
    tms: &str,
    zooms: std::ops::RangeInclusive<u8>,
) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for z in zooms {
        let (columns, rows) = matrix(tms, z);
        for y in 0..rows {
            for x in 0..columns {
                let bounds = tile_bounds(tms, z, x, y);
                if boxes.iter().any(|&b| overlaps(bounds, b)) {
                    out.insert(format!("{tms}/{z}/{x}/{y}"));
                }
            }
        }
    }
    out
}

/// The boxes of a product's polygons.
pub fn boxes_of(product: &Product) -> Vec<[f64; 4]> {
    product
        .footprint
        .0
        .iter()
        .map(|p| {
            let r = geo::BoundingRect::bounding_rect(p).unwrap();
            [r.min().x, r.min().y, r.max().x, r.max().y]
        })
        .collect()
}

/// The tile keys a seed job of `products` should store in `layer`: each product's tiles at
/// its interval, and all of them at `default`, in each matrix set, as PNG.
pub fn expected_keys(
    layer: &str,
    products: &[&Product],
    matrix_sets: &[&str],
    zooms: std::ops::RangeInclusive<u8>,
) -> BTreeSet<String> {
    let mut keys = BTreeSet::new();
    for product in products {
        for tms in matrix_sets {
            for tile in tiles_of(&boxes_of(product), tms, zooms.clone()) {
                keys.insert(format!(
                    "{layer}/{}/{tile}.png",
                    interval_key(product.begin, product.end)
                ));
                keys.insert(format!("{layer}/default/{tile}.png"));
            }
        }
    }
    keys
}

/// The keys stored in `layer`.
pub async fn stored(tiles: &TileStore, layer: &str) -> BTreeSet<String> {
    tiles.list(layer).await.unwrap().into_iter().collect()
}
