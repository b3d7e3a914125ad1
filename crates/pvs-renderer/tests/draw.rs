//! The typed drawing API ([`Renderer::draw`]) as the tile cache calls it: the map of a layer
//! that shows something costs one catalog query, an empty one two, and unknown layers are
//! told apart from empty maps. The catalog is the real PostGIS one, counted by a wrapper.

mod support;

use std::sync::Arc;

use gdal::DriverManager;
use gdal::raster::Buffer;
use gdal::spatial_ref::SpatialRef;
use geo::{LineString, MultiPolygon, Polygon};
use pvs_catalog::testing::{Counted, TestDatabase};
use pvs_catalog::{Catalog, Collection, Product};
use pvs_raster::render::View;
use pvs_renderer::{MapLayer, MapRequest, RenderError, Renderer, Settings};

/// An opaque grey GeoTIFF over lon 10..12, lat 40..42.
fn flat_raster(path: &std::path::Path) {
    let size = 100;
    let driver = DriverManager::get_driver_by_name("GTiff").unwrap();
    let mut dataset = driver
        .create_with_band_type::<u8, _>(path, size, size, 1)
        .unwrap();
    dataset
        .set_geo_transform(&[10.0, 0.02, 0.0, 42.0, 0.0, -0.02])
        .unwrap();
    dataset
        .set_spatial_ref(&SpatialRef::from_epsg(4326).unwrap())
        .unwrap();
    let mut buffer = Buffer::new((size, size), vec![200u8; size * size]);
    dataset
        .rasterband(1)
        .unwrap()
        .write((0, 0), (size, size), &mut buffer)
        .unwrap();
}

/// The footprint of [`flat_raster`]'s image.
fn flat_footprint() -> MultiPolygon {
    MultiPolygon::new(vec![Polygon::new(
        LineString::from(vec![
            (10.0, 40.0),
            (12.0, 40.0),
            (12.0, 42.0),
            (10.0, 42.0),
            (10.0, 40.0),
        ]),
        Vec::new(),
    )])
}

fn map(layer: MapLayer, bbox: [f64; 4]) -> MapRequest {
    MapRequest::new(
        layer,
        View {
            epsg: 4326,
            bbox,
            width: 64,
            height: 64,
        },
        None,
    )
}

fn collection(name: &str, outlines: bool) -> MapLayer {
    MapLayer::Collection {
        name: name.to_owned(),
        look: if outlines {
            pvs_ogc::layer::Look::Outlines
        } else {
            pvs_ogc::layer::Look::Default
        },
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_map_costs_one_catalog_query_and_unknown_layers_are_not_empty_maps() {
    pvs_raster::init();
    let database = TestDatabase::create().await;
    let catalog = Arc::new(Counted::new(database.catalog().await));
    catalog
        .upsert_collection(&Collection::new("FLAT").unwrap())
        .await
        .unwrap();
    let storage_dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(storage_dir.path().join("FLAT")).unwrap();
    flat_raster(&storage_dir.path().join("FLAT/flat.tif"));
    let time = "2020-01-01T00:00:00Z".parse().unwrap();
    catalog
        .register(&Product {
            properties: Default::default(),
            id: "flat".into(),
            collection: "FLAT".into(),
            product_type: None,
            footprint: flat_footprint(),
            begin: time,
            end: time,
            location: "FLAT/flat.tif".into(),
            metadata: serde_json::json!({}),
        })
        .await
        .unwrap();
    let storage = pvs_test_support::local_storage(storage_dir.path());
    let renderer = Renderer::new(catalog.clone(), storage, Settings::default());
    catalog.take();

    let over = [10.5, 40.5, 11.5, 41.5];
    let elsewhere = [-50.0, -10.0, -49.0, -9.0];
    // A collection, as the cache asks and as WMS clients name it: the image, one search.
    for layer in [collection("FLAT", false), MapLayer::Named("FLAT".into())] {
        let image = renderer
            .draw(&map(layer.clone(), over))
            .await
            .unwrap()
            .expect("the product is in the view");
        assert!(
            (0..64).all(|x| (0..64).all(|y| image.pixel(x, y) == [200, 200, 200, 255])),
            "{layer:?}: the view lies inside the product, drawn opaque grey"
        );
        assert_eq!(catalog.take(), (1, 0), "{layer:?}");
    }
    // Its outlines: something drawn on the footprint's edge, one search.
    let outlined = renderer
        .draw(&map(collection("FLAT", true), [9.0, 39.0, 13.0, 43.0]))
        .await
        .unwrap()
        .expect("the footprint is in the view");
    let drawn = (0..64)
        .flat_map(|x| (0..64).map(move |y| (x, y)))
        .filter(|&(x, y)| outlined.pixel(x, y)[3] > 0)
        .count();
    assert!(drawn > 64, "the outline is drawn ({drawn} pixels)");
    assert_eq!(catalog.take(), (1, 0));
    // Nothing there: an empty map, known only after the layer is looked up.
    for layer in [collection("FLAT", false), collection("FLAT", true)] {
        assert!(
            renderer
                .draw(&map(layer.clone(), elsewhere))
                .await
                .unwrap()
                .is_none(),
            "{layer:?}"
        );
        assert_eq!(catalog.take(), (1, 1), "{layer:?}");
    }
    // At another time: empty too.
    let mut other_time = map(collection("FLAT", false), over);
    other_time.time = Some((
        "2021-01-01T00:00:00Z".parse().unwrap(),
        "2021-02-01T00:00:00Z".parse().unwrap(),
    ));
    assert!(renderer.draw(&other_time).await.unwrap().is_none());
    // A product by its id is a WMS layer, not a cache layer (its tiles would not be
    // invalidated with the collection's).
    assert!(
        renderer
            .draw(&map(MapLayer::Named("flat".into()), over))
            .await
            .unwrap()
            .is_some()
    );
    for layer in [
        collection("flat", false),
        collection("NOPE", false),
        collection("NOPE", true),
        MapLayer::Named("NOPE".into()),
    ] {
        match renderer.draw(&map(layer.clone(), over)).await {
            Err(RenderError::UnknownLayer(name)) => assert_eq!(name, layer.name()),
            other => panic!("{layer:?}: {other:?}"),
        }
    }
    // A time the catalog refuses is the request's fault.
    let mut backwards = map(collection("FLAT", false), over);
    backwards.time = Some((
        "2021-02-01T00:00:00Z".parse().unwrap(),
        "2021-01-01T00:00:00Z".parse().unwrap(),
    ));
    let error = renderer.draw(&backwards).await.unwrap_err();
    assert!(
        matches!(error, RenderError::Time(_)) && error.is_client_error(),
        "{error:?}"
    );
}

/// A product GDAL cannot open while object storage does not answer is a fault that may pass
/// (`RenderError::Storage`, transient), not the product's: when storage answers again, the
/// same map is drawn (GDAL's memory of the failed open is not kept). A product whose object
/// is missing from storage that answers stays a rendering error, not transient.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_product_unreadable_while_storage_is_down_is_drawn_when_it_is_back() {
    pvs_raster::init();
    let database = TestDatabase::create().await;
    let catalog = Arc::new(database.catalog().await);
    catalog
        .upsert_collection(&Collection::new("FLAT").unwrap())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("flat.tif");
    flat_raster(&image);
    let s3 = pvs_storage::testing::s3_storage("draw").await;
    s3.put_file(&"FLAT/flat.tif".parse().unwrap(), &image)
        .await
        .unwrap();
    let time = "2020-01-01T00:00:00Z".parse().unwrap();
    for (id, location) in [("flat", "FLAT/flat.tif"), ("gone", "FLAT/gone.tif")] {
        catalog
            .register(&Product {
                properties: Default::default(),
                id: id.into(),
                collection: "FLAT".into(),
                product_type: None,
                footprint: flat_footprint(),
                begin: time,
                end: time,
                location: location.into(),
                metadata: serde_json::json!({}),
            })
            .await
            .unwrap();
    }
    let back_after = std::time::Duration::from_secs(10);
    let started = std::time::Instant::now();
    let late = pvs_storage::testing::LateEndpoint::new(back_after);
    let storage = late.storage(&s3, pvs_storage::testing::quick_retry(0));
    let renderer = Renderer::new(catalog, storage, Settings::default());
    let over = [10.5, 40.5, 11.5, 41.5];

    let error = renderer
        .draw(&map(MapLayer::Named("flat".into()), over))
        .await
        .unwrap_err();
    assert!(started.elapsed() < back_after, "storage came back too soon");
    assert!(
        matches!(error, RenderError::Storage { .. }) && error.is_transient(),
        "{error:?}"
    );
    assert!(!error.is_client_error());

    late.opened().await;
    let image = renderer
        .draw(&map(MapLayer::Named("flat".into()), over))
        .await
        .unwrap()
        .expect("the product is in the view");
    assert!((0..64).all(|x| (0..64).all(|y| image.pixel(x, y) == [200, 200, 200, 255])));

    let error = renderer
        .draw(&map(MapLayer::Named("gone".into()), over))
        .await
        .unwrap_err();
    assert!(
        matches!(error, RenderError::Raster(_)) && !error.is_transient(),
        "{error:?}"
    );
}
