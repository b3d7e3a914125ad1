//! GetMap draws a product only inside the footprint the catalog holds for it, even where its
//! raster has opaque pixels: a raster filling a 2° × 2° box, registered with the triangle of
//! its south-western half as footprint, shows as that triangle.

mod support;

use std::sync::Arc;

use gdal::DriverManager;
use gdal::raster::Buffer;
use gdal::spatial_ref::SpatialRef;
use geo::{LineString, MultiPolygon, Polygon};
use pvs_catalog::testing::TestDatabase;
use pvs_catalog::{Catalog, Collection, Product};
use pvs_renderer::Settings;

/// An opaque grey GeoTIFF over lon 10..12, lat 40..42.
fn flat_raster(path: &std::path::Path) {
    let size = 200;
    let driver = DriverManager::get_driver_by_name("GTiff").unwrap();
    let mut dataset = driver
        .create_with_band_type::<u8, _>(path, size, size, 3)
        .unwrap();
    dataset
        .set_geo_transform(&[10.0, 0.01, 0.0, 42.0, 0.0, -0.01])
        .unwrap();
    dataset
        .set_spatial_ref(&SpatialRef::from_epsg(4326).unwrap())
        .unwrap();
    for band in 1..=3 {
        let mut buffer = Buffer::new((size, size), vec![200u8; size * size]);
        dataset
            .rasterband(band)
            .unwrap()
            .write((0, 0), (size, size), &mut buffer)
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_product_shows_only_inside_its_catalog_footprint() {
    let database = TestDatabase::create().await;
    let catalog = Arc::new(database.catalog().await);
    catalog
        .upsert_collection(&Collection::new("HALF").unwrap())
        .await
        .unwrap();
    let storage_dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(storage_dir.path().join("HALF")).unwrap();
    flat_raster(&storage_dir.path().join("HALF/half.tif"));
    let triangle = Polygon::new(
        LineString::from(vec![(10.0, 40.0), (12.0, 40.0), (10.0, 42.0), (10.0, 40.0)]),
        Vec::new(),
    );
    let time = "2020-01-01T00:00:00Z".parse().unwrap();
    catalog
        .register(&Product {
            properties: Default::default(),
            id: "half".into(),
            collection: "HALF".into(),
            product_type: None,
            footprint: MultiPolygon::new(vec![triangle]),
            begin: time,
            end: time,
            location: "HALF/half.tif".into(),
            metadata: serde_json::json!({}),
        })
        .await
        .unwrap();
    let base = support::serve(catalog, storage_dir.path(), Settings::default()).await;

    let query = "SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=HALF&STYLES=&CRS=CRS:84\
                 &BBOX=10,40,12,42&WIDTH=100&HEIGHT=100&FORMAT=image/png&TRANSPARENT=TRUE";
    let response = reqwest::get(format!("{base}/ows?{query}")).await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let png = response.bytes().await.unwrap();
    let image = pvs_test_support::images::open(&png);
    let alpha = image.rasterband(4).unwrap();
    let alpha: Vec<u8> = alpha
        .read_as::<u8>((0, 0), (100, 100), (100, 100), None)
        .unwrap()
        .into_shape_and_vec()
        .1;
    // Pixel (column, row) has its centre at lon 10 + (column + 0.5) / 50, lat 42 - (row +
    // 0.5) / 50: inside the triangle when (lon - 10) + (lat - 40) < 2, i.e. column < row.
    let (mut inside, mut outside) = (0, 0);
    for row in 0..100 {
        for column in 0..100 {
            let a = alpha[row * 100 + column];
            if column + 1 < row {
                assert_eq!(a, 255, "pixel ({column}, {row}) inside the footprint");
                inside += 1;
            } else if column > row + 1 {
                assert_eq!(a, 0, "pixel ({column}, {row}) outside the footprint");
                outside += 1;
            }
        }
    }
    assert!(inside > 4000 && outside > 4000, "{inside} {outside}");
}
