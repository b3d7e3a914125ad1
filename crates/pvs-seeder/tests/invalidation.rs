//! Invalidation end to end: the registrar (real PostGIS, Redis, storage) replaces or removes
//! a product whose tiles were seeded; its stale tiles leave the store, the cache then draws
//! the new pixels, and tiles of other places and times survive.

mod support;

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use geo_types::MultiPolygon;
use pvs_catalog::Product;
use pvs_model::{
    CogInfo, CollectionConfig, Collections, GeoJsonGeometry, ProductMetadata, ReportInfo,
    SourceInfo,
};
use pvs_queue::testing::TestRedis;
use pvs_registrar::Registrar;
use pvs_seeder::{Counts, RunOptions, SeedJob, seed_job};
use pvs_test_support::images;
use pvs_tiles::{Tile, TileFormat, TileKey, TileMatrixSet, TileTime};
use support::{World, at, boxes_of, interval_key, matrix, overlaps, rect, stored, tile_bounds};

const RED: [u8; 3] = [220, 20, 20];
const BLUE: [u8; 3] = [20, 20, 220];

/// What the preprocessor would write for a product whose COG is at `cog`.
fn metadata(
    id: &str,
    footprint: &MultiPolygon<f64>,
    start: &str,
    end: &str,
    cog: &str,
) -> ProductMetadata {
    let rect = geo::BoundingRect::bounding_rect(footprint).unwrap();
    ProductMetadata {
        id: id.to_owned(),
        collection: "INV".to_owned(),
        footprint: GeoJsonGeometry::from(footprint),
        start: at(start),
        end: at(end),
        cog: CogInfo {
            key: cog.to_owned(),
            size_bytes: 1,
            width: 200,
            height: 200,
            bands: 3,
            alpha: false,
            crs: "EPSG:4326".to_owned(),
            bbox: [rect.min().x, rect.min().y, rect.max().x, rect.max().y],
            resolution: [0.01, 0.01],
        },
        source: SourceInfo {
            file: cog.to_owned(),
            browse_identifier: Some(id.to_owned()),
            report: ReportInfo {
                name: String::new(),
                responsible_org_name: "test".to_owned(),
                date_time: Utc::now(),
                browse_type: "INV".to_owned(),
            },
            merged_with: None,
        },
        processed_at: Utc::now(),
        properties: Default::default(),
        masks: Default::default(),
    }
}

/// Registers through the registrar, writing the COG first.
async fn register(
    world: &World,
    registrar: &Registrar,
    id: &str,
    footprint: [f64; 4],
    time: (&str, &str),
    cog: &str,
    rgb: [u8; 3],
) -> Product {
    world.write_cog(cog, footprint, rgb);
    let [w, s, e, n] = footprint;
    let footprint = MultiPolygon(vec![rect(w, s, e, n)]);
    registrar
        .register(&metadata(id, &footprint, time.0, time.1, cog))
        .await
        .unwrap()
        .product
}

/// A stored key's parts: time key, matrix set, z, x, y.
fn parts(key: &str) -> (String, String, u8, u32, u32) {
    let p: Vec<&str> = key.split('/').collect();
    let y = p[5].trim_end_matches(".png");
    (
        p[1].to_owned(),
        p[2].to_owned(),
        p[3].parse().unwrap(),
        p[4].parse().unwrap(),
        y.parse().unwrap(),
    )
}

/// Whether the stored tile `key` may show `product`: its time is the default or overlaps
/// the product's, and its bounds overlap the footprint grown by `margin_pixels` pixels.
fn touches(key: &str, product: &Product, margin_pixels: f64) -> bool {
    let (time, tms, z, x, y) = parts(key);
    let time_overlaps = time == "default" || {
        let (a, b) = time.split_once('_').unwrap();
        let read = |s: &str| {
            chrono::NaiveDateTime::parse_from_str(s, "%Y%m%dT%H%M%SZ")
                .unwrap()
                .and_utc()
        };
        product.begin < read(b) && product.end >= read(a)
    };
    let (columns, _) = matrix(&tms, z);
    let pixel = 360.0 / f64::from(columns) / 256.0 * margin_pixels;
    let bounds = tile_bounds(&tms, z, x, y);
    time_overlaps
        && boxes_of(product).iter().any(|b| {
            overlaps(
                bounds,
                [b[0] - pixel, b[1] - pixel, b[2] + pixel, b[3] + pixel],
            )
        })
}

/// The colour at the centre of `product` in its WorldCRS84Quad tile at zoom `z` and time
/// `time`, fetched through the cache (`None`: a tile with no data).
async fn colour_at_centre(
    world: &World,
    product: &Product,
    time: TileTime,
    z: u8,
) -> Option<Vec<u8>> {
    let b = boxes_of(product)[0];
    colour_at(world, ((b[0] + b[2]) / 2.0, (b[1] + b[3]) / 2.0), time, z).await
}

/// The colour at `(lon, lat)` in its WorldCRS84Quad tile at zoom `z` and time `time`,
/// fetched through the cache (`None`: a tile with no data).
async fn colour_at(
    world: &World,
    (lon, lat): (f64, f64),
    time: TileTime,
    z: u8,
) -> Option<Vec<u8>> {
    let side = 180.0 / f64::from(1u32 << z);
    let x = ((lon + 180.0) / side).floor() as u32;
    let y = ((90.0 - lat) / side).floor() as u32;
    let key = TileKey::new(
        "INV",
        time,
        TileMatrixSet::WorldCRS84Quad,
        Tile { z, x, y },
        TileFormat::Png,
    )
    .unwrap();
    let tile = world.cache().tile(&key).await.unwrap();
    if tile.is_empty() {
        return None;
    }
    let [west, _, _, north] = tile_bounds("WorldCRS84Quad", z, x, y);
    let px = ((lon - west) / side * 256.0) as isize;
    let py = ((north - lat) / side * 256.0) as isize;
    Some(images::pixel(&images::open(&tile.bytes), px, py))
}

fn time_of(product: &Product) -> TileTime {
    TileTime::parse(&pvs_tiles::time::interval_value(product.begin, product.end)).unwrap()
}

fn interval(product: &Product) -> (DateTime<Utc>, DateTime<Utc>) {
    (product.begin, product.end)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replacing_and_deregistering_products_drop_their_tiles_and_the_cache_shows_new_pixels() {
    let world = World::new(&[]).await;
    let redis = TestRedis::new().await;
    let mut collections = Collections::default();
    collections
        .collections
        .insert("INV".to_owned(), CollectionConfig::for_browse_type("INV"));
    let registrar = Registrar::new(
        redis.queue.clone(),
        world.catalog.clone(),
        world.storage.clone(),
        collections,
    )
    .with_tile_store(world.tiles.clone());

    let p1 = register(
        &world,
        &registrar,
        "p1",
        [10.3, 44.2, 12.7, 46.6],
        ("2020-05-01T10:00:00Z", "2020-05-01T10:00:30Z"),
        "INV/p1/red.tif",
        RED,
    )
    .await;
    // Elsewhere, at an overlapping time.
    let p2 = register(
        &world,
        &registrar,
        "p2",
        [-60.4, -20.6, -57.9, -18.3],
        ("2020-05-01T10:00:10Z", "2020-05-01T10:00:50Z"),
        "INV/p2/p2.tif",
        RED,
    )
    .await;
    // At p1's place, at another time.
    let p3 = register(
        &world,
        &registrar,
        "p3",
        [10.8, 44.6, 12.2, 46.1],
        ("2021-01-01T00:00:00Z", "2021-01-01T00:01:00Z"),
        "INV/p3/p3.tif",
        RED,
    )
    .await;

    let job = SeedJob {
        collections: vec!["INV".to_owned()],
        start: at("2020-01-01T00:00:00Z"),
        end: at("2021-12-31T00:00:00Z"),
        zoom: [0, 5],
        bbox: None,
        matrix_sets: TileMatrixSet::ALL.to_vec(),
        formats: vec![TileFormat::Png],
        outlines: false,
    };
    let cache = world.cache();
    let summary = seed_job(
        &cache,
        &job,
        RunOptions::default(),
        &mut |_: &Counts| {},
        None,
    )
    .await
    .unwrap();
    assert_eq!(summary.counts.failed, 0, "{:?}", summary.failures);
    let seeded = stored(&world.tiles, "INV").await;
    assert_eq!(seeded.len() as u64, summary.total);
    assert_eq!(
        colour_at_centre(&world, &p1, time_of(&p1), 5)
            .await
            .unwrap()[..3],
        RED
    );

    // Replace p1 with blue pixels (another COG, same id).
    let p1_blue = register(
        &world,
        &registrar,
        "p1",
        [10.3, 44.2, 12.7, 46.6],
        ("2020-05-01T10:00:00Z", "2020-05-01T10:00:30Z"),
        "INV/p1/blue.tif",
        BLUE,
    )
    .await;
    assert_eq!(interval(&p1_blue), interval(&p1));
    let after = stored(&world.tiles, "INV").await;
    let gone: BTreeSet<&String> = seeded.difference(&after).collect();
    assert!(after.is_subset(&seeded));
    for key in &seeded {
        if touches(key, &p1, 0.0) {
            assert!(
                gone.contains(key),
                "stale tile {key} survived the replacement"
            );
        }
        if !touches(key, &p1, 2.0) {
            assert!(!gone.contains(key), "tile {key} elsewhere was deleted");
        }
    }
    // p3's time does not overlap p1's: its tiles survive whole, even at p1's place. p2's
    // time does: its tiles shared with p1's place (low zoom levels) went, the others stayed.
    let prefix = format!("INV/{}/", interval_key(p3.begin, p3.end));
    let before = seeded.iter().filter(|k| k.starts_with(&prefix)).count();
    assert!(before > 10);
    assert_eq!(
        after.iter().filter(|k| k.starts_with(&prefix)).count(),
        before
    );
    let prefix = format!("INV/{}/", interval_key(p2.begin, p2.end));
    let (shared, own): (Vec<&String>, Vec<&String>) = seeded
        .iter()
        .filter(|k| k.starts_with(&prefix))
        .partition(|k| touches(k, &p1, 0.0));
    assert!(!shared.is_empty() && own.len() > 10);
    assert!(shared.iter().all(|k| !after.contains(*k)));
    assert!(own.iter().all(|k| after.contains(*k)));
    // Through the cache: the new pixels, at the product's time and the default time.
    assert_eq!(
        colour_at_centre(&world, &p1, time_of(&p1), 5)
            .await
            .unwrap()[..3],
        BLUE
    );
    // The default time shows the newest product on top: p3 (red) where it lies, p1 (now
    // blue) around it.
    assert_eq!(
        colour_at(&world, (10.5, 44.4), TileTime::Default, 5)
            .await
            .unwrap()[..3],
        BLUE
    );
    assert_eq!(
        colour_at_centre(&world, &p3, TileTime::Default, 5)
            .await
            .unwrap()[..3],
        RED
    );

    // Deregistration drops p2's tiles; p3's survive.
    let before = stored(&world.tiles, "INV").await;
    registrar
        .deregister(None, "p2")
        .await
        .unwrap()
        .pop()
        .unwrap();
    let after = stored(&world.tiles, "INV").await;
    for key in &before {
        if touches(key, &p2, 0.0) {
            assert!(
                !after.contains(key),
                "tile {key} of the removed product survived"
            );
        } else if !touches(key, &p2, 2.0) {
            assert!(after.contains(key), "tile {key} elsewhere was deleted");
        }
    }
    assert_eq!(colour_at_centre(&world, &p2, time_of(&p2), 5).await, None);
    assert_eq!(
        colour_at_centre(&world, &p2, TileTime::Default, 5).await,
        None
    );
    assert_eq!(
        colour_at_centre(&world, &p3, time_of(&p3), 5)
            .await
            .unwrap()[..3],
        RED
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_product_drops_the_tiles_drawn_without_it() {
    let world = World::new(&[]).await;
    let redis = TestRedis::new().await;
    let mut collections = Collections::default();
    collections
        .collections
        .insert("INV".to_owned(), CollectionConfig::for_browse_type("INV"));
    let registrar = Registrar::new(
        redis.queue.clone(),
        world.catalog.clone(),
        world.storage.clone(),
        collections,
    )
    .with_tile_store(world.tiles.clone());
    let p1 = register(
        &world,
        &registrar,
        "p1",
        [10.3, 44.2, 12.7, 46.6],
        ("2020-05-01T10:00:00Z", "2020-05-01T10:00:30Z"),
        "INV/p1/red.tif",
        RED,
    )
    .await;
    // A client looked at p1's place before p2 arrived: the default tile shows red.
    assert_eq!(
        colour_at_centre(&world, &p1, TileTime::Default, 5)
            .await
            .unwrap()[..3],
        RED
    );
    // A newer product on top, in blue: the default tile must show it.
    register(
        &world,
        &registrar,
        "p2",
        [10.3, 44.2, 12.7, 46.6],
        ("2020-06-01T10:00:00Z", "2020-06-01T10:00:30Z"),
        "INV/p2/blue.tif",
        BLUE,
    )
    .await;
    assert_eq!(
        colour_at_centre(&world, &p1, TileTime::Default, 5)
            .await
            .unwrap()[..3],
        BLUE
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tile_store_that_fails_fails_the_registration_with_the_reason() {
    let world = World::new(&[]).await;
    let redis = TestRedis::new().await;
    let mut collections = Collections::default();
    collections
        .collections
        .insert("INV".to_owned(), CollectionConfig::for_browse_type("INV"));
    // A bucket that does not exist on the S3 test server.
    let mut settings = pvs_storage::testing::s3_settings();
    settings.region = "us-east-1".to_owned();
    let missing = pvs_storage::Storage::from_url(
        &"s3://pvs-test-no-such-bucket-seeder/tiles".parse().unwrap(),
        Some(&settings),
    )
    .unwrap();
    let registrar = Registrar::new(
        redis.queue.clone(),
        world.catalog.clone(),
        world.storage.clone(),
        collections,
    )
    .with_tile_store(pvs_tiles::TileStore::new(missing, "tiles".parse().unwrap()));
    world.write_cog("INV/p1/red.tif", [10.3, 44.2, 12.7, 46.6], RED);
    let footprint = MultiPolygon(vec![rect(10.3, 44.2, 12.7, 46.6)]);
    let error = registrar
        .register(&metadata(
            "p1",
            &footprint,
            "2020-05-01T10:00:00Z",
            "2020-05-01T10:00:30Z",
            "INV/p1/red.tif",
        ))
        .await
        .unwrap_err();
    let message = error.to_string();
    assert!(
        message.starts_with("product p1: cannot delete its stale cached tiles: "),
        "{message}"
    );
}
