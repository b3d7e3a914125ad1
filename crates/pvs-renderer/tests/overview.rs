//! Overview mosaics, as a WMS client sees them: a map of a wide area shows **every** product
//! of the collection (not only the newest `max_products`), each in its own colour at its own
//! place, and follows replacements, moves and removals at once. On PostGIS and on the SQLite
//! catalog of `pvs up`; maps asked at the GetMap URL the capabilities advertise.

mod support;

use std::path::Path;
use std::sync::Arc;

use chrono::{TimeDelta, TimeZone, Utc};
use gdal::DriverManager;
use gdal::raster::Buffer;
use gdal::spatial_ref::SpatialRef;
use geo::{LineString, MultiPolygon, Polygon};
use pvs_catalog::testing::TestDatabase;
use pvs_catalog::{Catalog, Collection, Product, SqliteCatalog};
use pvs_renderer::{OverviewSettings, Settings};
use pvs_test_support::images::Pixels;

/// Products in a grid of 6 × 4 cells, each 1.5° square, 2° apart, from (0°, 40°).
const COLUMNS: usize = 6;
const ROWS: usize = 4;

/// The box of cell `index` (west, south, east, north).
fn cell(index: usize) -> [f64; 4] {
    let west = 2.0 * (index % COLUMNS) as f64;
    let south = 40.0 + 2.0 * (index / COLUMNS) as f64;
    [west, south, west + 1.5, south + 1.5]
}

/// A colour no other product has.
fn colour(index: usize, version: u8) -> [u8; 3] {
    [
        20 + 9 * index as u8,
        200 - 7 * index as u8,
        40 + 100 * version,
    ]
}

/// An opaque RGB GeoTIFF of one colour over `bbox`.
fn raster(path: &Path, bbox: [f64; 4], rgb: [u8; 3]) {
    let size = 30;
    let [west, south, east, north] = bbox;
    let driver = DriverManager::get_driver_by_name("GTiff").unwrap();
    let mut dataset = driver
        .create_with_band_type::<u8, _>(path, size, size, 3)
        .unwrap();
    dataset
        .set_geo_transform(&[
            west,
            (east - west) / size as f64,
            0.0,
            north,
            0.0,
            -(north - south) / size as f64,
        ])
        .unwrap();
    dataset
        .set_spatial_ref(&SpatialRef::from_epsg(4326).unwrap())
        .unwrap();
    for (band, value) in rgb.iter().enumerate() {
        let mut buffer = Buffer::new((size, size), vec![*value; size * size]);
        dataset
            .rasterband(band + 1)
            .unwrap()
            .write((0, 0), (size, size), &mut buffer)
            .unwrap();
    }
}

fn footprint([west, south, east, north]: [f64; 4]) -> MultiPolygon<f64> {
    MultiPolygon(vec![Polygon::new(
        LineString::from(vec![
            (west, south),
            (east, south),
            (east, north),
            (west, north),
            (west, south),
        ]),
        vec![],
    )])
}

/// Writes the raster of product `index` (version `version`) at `bbox` and registers it,
/// newer than every earlier one.
async fn register(
    catalog: &dyn Catalog,
    storage: &Path,
    index: usize,
    version: u8,
    bbox: [f64; 4],
) {
    let key = format!("OPT/p{index}-v{version}.tif");
    std::fs::create_dir_all(storage.join("OPT")).unwrap();
    raster(&storage.join(&key), bbox, colour(index, version));
    let begin = Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap()
        + TimeDelta::hours(index as i64 + 100 * i64::from(version));
    catalog
        .register(&Product {
            id: format!("p{index}"),
            collection: "OPT".to_owned(),
            product_type: None,
            footprint: footprint(bbox),
            begin,
            end: begin,
            location: key,
            metadata: serde_json::json!({}),
            properties: Default::default(),
        })
        .await
        .unwrap();
}

/// The map: lon −1..13, lat 38..50 at 0.05° per pixel (coarser than the overviews' 0.044°).
const BBOX: [f64; 4] = [-1.0, 38.0, 13.0, 50.0];
const WIDTH: usize = 280;
const HEIGHT: usize = 240;

/// The map's pixel at (lon, lat).
fn at(map: &Pixels, lon: f64, lat: f64) -> [u8; 4] {
    let x = ((lon - BBOX[0]) / (BBOX[2] - BBOX[0]) * WIDTH as f64) as usize;
    let y = ((BBOX[3] - lat) / (BBOX[3] - BBOX[1]) * HEIGHT as f64) as usize;
    map.rgba()[y * WIDTH + x]
}

fn centre([west, south, east, north]: [f64; 4]) -> (f64, f64) {
    ((west + east) / 2.0, (south + north) / 2.0)
}

fn close(pixel: [u8; 4], rgb: [u8; 3]) -> bool {
    pixel[3] == 255 && (0..3).all(|i| pixel[i].abs_diff(rgb[i]) <= 2)
}

/// A map of the collection at the advertised GetMap URL.
async fn get_map(base: &str) -> Pixels {
    let (_, get_map) = support::advertised_get_map(base).await;
    let url = format!(
        "{get_map}SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=OPT&STYLES=&CRS=CRS:84\
         &BBOX={},{},{},{}&WIDTH={WIDTH}&HEIGHT={HEIGHT}&FORMAT=image/png&TRANSPARENT=TRUE",
        BBOX[0], BBOX[1], BBOX[2], BBOX[3]
    );
    let (status, content_type, body) = pvs_test_support::net::get(&url).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert_eq!(content_type, "image/png");
    Pixels::decode(&body)
}

/// How many products show their colour at their centre.
fn shown(map: &Pixels, colours: &[[u8; 3]]) -> usize {
    (0..COLUMNS * ROWS)
        .filter(|&index| {
            let (lon, lat) = centre(cell(index));
            close(at(map, lon, lat), colours[index])
        })
        .count()
}

fn settings(overviews: Option<OverviewSettings>) -> Settings {
    Settings {
        max_products: 5,
        overviews,
        ..Settings::default()
    }
}

async fn overviews_are_complete_and_follow_changes(catalog: Arc<dyn Catalog>) {
    catalog
        .upsert_collection(&Collection::new("OPT").unwrap())
        .await
        .unwrap();
    let storage = tempfile::tempdir().unwrap();
    for index in 0..COLUMNS * ROWS {
        register(catalog.as_ref(), storage.path(), index, 0, cell(index)).await;
    }
    let mut colours: Vec<[u8; 3]> = (0..COLUMNS * ROWS).map(|i| colour(i, 0)).collect();
    let pieces = tempfile::tempdir().unwrap();
    let overview = Some(OverviewSettings {
        zoom: 4,
        dir: Some(pieces.path().to_owned()),
    });
    let with = support::serve(catalog.clone(), storage.path(), settings(overview)).await;
    let without = support::serve(catalog.clone(), storage.path(), settings(None)).await;

    // Drawn from the products, the map shows the newest 5; from the overview, all 24.
    assert_eq!(shown(&get_map(&without).await, &colours), 5);
    let map = get_map(&with).await;
    assert_eq!(
        shown(&map, &colours),
        COLUMNS * ROWS,
        "every product is drawn"
    );
    // Between the cells nothing shows.
    assert_eq!(at(&map, 1.75, 40.5)[3], 0);
    assert_eq!(at(&map, -0.5, 45.0)[3], 0);
    assert!(
        std::fs::read_dir(pieces.path()).unwrap().next().is_some(),
        "the pieces are written to the configured folder"
    );

    // A replacement in place shows its new colour; a product moved shows at its new place
    // and no longer at the old one; a removed product no longer shows.
    register(catalog.as_ref(), storage.path(), 3, 1, cell(3)).await;
    colours[3] = colour(3, 1);
    let moved_to = [-0.9, 48.2, -0.2, 48.9];
    register(catalog.as_ref(), storage.path(), 10, 1, moved_to).await;
    catalog.deregister("OPT", "p17").await.unwrap();
    let map = get_map(&with).await;
    let (lon, lat) = centre(cell(3));
    assert!(
        close(at(&map, lon, lat), colours[3]),
        "{:?}",
        at(&map, lon, lat)
    );
    let (lon, lat) = centre(cell(10));
    assert_eq!(at(&map, lon, lat)[3], 0, "nothing where p10 was");
    let (lon, lat) = centre(moved_to);
    assert!(
        close(at(&map, lon, lat), colour(10, 1)),
        "p10 at its new place"
    );
    let (lon, lat) = centre(cell(17));
    assert_eq!(at(&map, lon, lat)[3], 0, "p17 is removed");
    let unchanged = (0..COLUMNS * ROWS).filter(|i| ![3, 10, 17].contains(i));
    for index in unchanged {
        let (lon, lat) = centre(cell(index));
        assert!(close(at(&map, lon, lat), colours[index]), "p{index}");
    }

    // A map finer than the overviews is drawn from the products (the newest 5 of its view).
    let (_, get_map) = support::advertised_get_map(&with).await;
    let (status, _, body) = pvs_test_support::net::get(&format!(
        "{get_map}SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=OPT&STYLES=&CRS=CRS:84\
         &BBOX=0,40,12,48&WIDTH=1200&HEIGHT=800&FORMAT=image/png&TRANSPARENT=TRUE"
    ))
    .await;
    assert_eq!(status, 200);
    let fine = Pixels::decode(&body);
    let shown_fine = (0..COLUMNS * ROWS)
        .filter(|&index| {
            let (lon, lat) = centre(cell(index));
            let (x, y) = ((lon / 0.01) as usize, ((48.0 - lat) / 0.01) as usize);
            fine.rgba()[y * 1200 + x][3] == 255
        })
        .count();
    assert_eq!(
        shown_fine, 5,
        "at a fine resolution, the newest 5 of the view"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn overviews_on_postgis() {
    let database = TestDatabase::create().await;
    overviews_are_complete_and_follow_changes(Arc::new(database.catalog().await)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn overviews_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = SqliteCatalog::open(dir.path().join("catalog.sqlite"))
        .await
        .unwrap();
    overviews_are_complete_and_follow_changes(Arc::new(catalog)).await;
}
