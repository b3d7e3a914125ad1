//! The tile store on a local directory and on the S3 test server: tiles and empty tiles
//! round-trip with entity tags, and invalidation removes exactly the tiles a changed product
//! may show (its layers, overlapping times, its boxes at every stored zoom) and nothing else.

use std::collections::BTreeSet;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use pvs_tiles::{Change, Tile, TileFormat, TileKey, TileMatrixSet, TileStore, TileTime};

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn local(dir: &tempfile::TempDir) -> TileStore {
    TileStore::new(
        pvs_test_support::local_storage(dir.path()),
        "tiles".parse().unwrap(),
    )
}

async fn s3() -> TileStore {
    let storage = pvs_storage::testing::s3_storage("store").await;
    TileStore::new(storage, "cache/tiles".parse().unwrap())
}

fn key(layer: &str, time: TileTime, tms: TileMatrixSet, z: u8, x: u32, y: u32) -> TileKey {
    TileKey::new(layer, time, tms, Tile { z, x, y }, TileFormat::Png).unwrap()
}

async fn round_trip(store: TileStore) {
    let tile = key(
        "S2",
        TileTime::Default,
        TileMatrixSet::WebMercatorQuad,
        3,
        4,
        2,
    );
    assert!(store.get(&tile).await.unwrap().is_none());
    let written = store
        .put(&tile, Bytes::from_static(b"png one"))
        .await
        .unwrap();
    let read = store.get(&tile).await.unwrap().unwrap();
    assert_eq!(read.bytes.as_ref(), b"png one");
    assert_eq!(read.e_tag, written.e_tag);
    assert!(!read.is_empty());
    let rewritten = store
        .put(&tile, Bytes::from_static(b"png two!"))
        .await
        .unwrap();
    assert_ne!(
        rewritten.e_tag, written.e_tag,
        "the tag changes with the tile"
    );
    assert_eq!(
        store.get(&tile).await.unwrap().unwrap().e_tag,
        rewritten.e_tag
    );

    let empty = key(
        "S2",
        TileTime::Default,
        TileMatrixSet::WorldCRS84Quad,
        0,
        1,
        0,
    );
    store.put(&empty, Bytes::new()).await.unwrap();
    assert!(store.get(&empty).await.unwrap().unwrap().is_empty());
    assert!(store.contains(&empty).await.unwrap());
    assert_eq!(
        store.list("S2").await.unwrap(),
        [
            "S2/default/WebMercatorQuad/3/4/2.png",
            "S2/default/WorldCRS84Quad/0/1/0.png"
        ]
    );
    store.delete(&empty).await.unwrap();
    assert!(!store.contains(&empty).await.unwrap());
}

#[tokio::test]
async fn tiles_round_trip_on_a_local_directory() {
    let dir = tempfile::tempdir().unwrap();
    round_trip(local(&dir)).await;
}

#[tokio::test]
async fn tiles_round_trip_on_s3() {
    round_trip(s3().await).await;
}

#[test]
fn keys_refuse_bad_layers_and_tiles() {
    let tms = TileMatrixSet::WebMercatorQuad;
    let ok = Tile { z: 1, x: 1, y: 1 };
    for layer in ["", "../x", "a/b", ".hidden", "sp ace", "semi;colon", "é"] {
        let error = TileKey::new(layer, TileTime::Default, tms, ok, TileFormat::Png).unwrap_err();
        assert!(error.contains("cannot name tiles"), "{layer:?}: {error}");
    }
    let long = "L".repeat(300);
    assert!(TileKey::new(&long, TileTime::Default, tms, ok, TileFormat::Png).is_err());
    let error = TileKey::new(
        "S2",
        TileTime::Default,
        tms,
        Tile { z: 1, x: 2, y: 0 },
        TileFormat::Png,
    )
    .unwrap_err();
    assert!(error.contains("outside WebMercatorQuad"), "{error}");
}

/// Tiles stored around a product in northern Italy (10–12° E, 44–46° N) in January 2020.
async fn invalidation(store: TileStore) {
    let january = TileTime::parse("2020-01").unwrap();
    let next_year = TileTime::parse("2021-01").unwrap();
    let product_box = [10.0, 44.0, 12.0, 46.0];
    let mut stored = Vec::new();
    for tms in TileMatrixSet::ALL {
        // Zoom 5: a handful of tiles (deleted one by one); zoom 11: enough to be listed.
        for z in [5u8, 11] {
            let inside = tms.tiles(product_box, z);
            let far = tms.tiles([-75.0, -40.0, -73.0, -38.0], z);
            for (range, take) in [(&inside[0], 200usize), (&far[0], 3)] {
                for tile in range.tiles().take(take) {
                    for (layer, time) in [
                        ("S2", TileTime::Default),
                        ("S2", january),
                        ("S2", next_year),
                        ("S2__outlines", january),
                        ("L8", january),
                    ] {
                        let key = TileKey::new(layer, time, tms, tile, TileFormat::Png).unwrap();
                        store.put(&key, Bytes::from_static(b"t")).await.unwrap();
                        stored.push(key);
                    }
                }
            }
        }
    }
    let change = Change {
        layers: vec!["S2".into(), "S2__outlines".into()],
        boxes: vec![product_box],
        begin: at("2020-01-15T10:00:00Z"),
        end: at("2020-01-15T10:00:30Z"),
    };
    let removed = store.invalidate(&change).await.unwrap();
    assert!(removed > 0);

    // What must be gone, worked out without the store: S2 and its outlines, at the default
    // time and January 2020, the tiles whose lon/lat bounds overlap the product's box.
    let overlaps = |key: &TileKey| {
        let [w, s, e, n] = key.tms.wgs84_bounds(key.tile);
        w < 12.0 && e > 10.0 && s < 46.0 && n > 44.0
    };
    let expected: BTreeSet<String> = stored
        .iter()
        .filter(|k| !(k.layer().starts_with("S2") && k.time != next_year && overlaps(k)))
        .map(TileKey::path)
        .collect();
    let mut left = BTreeSet::new();
    for layer in ["S2", "S2__outlines", "L8"] {
        left.extend(store.list(layer).await.unwrap());
    }
    assert_eq!(left, expected);
    // It did remove something in every layer and time it should have.
    for (layer, time) in [
        ("S2", TileTime::Default),
        ("S2", january),
        ("S2__outlines", january),
    ] {
        let prefix = format!("{layer}/{}/", time.key());
        assert!(
            stored
                .iter()
                .any(|k| k.path().starts_with(&prefix) && !left.contains(&k.path())),
            "nothing removed under {prefix}"
        );
    }
}

#[tokio::test]
async fn invalidation_removes_exactly_the_stale_tiles_on_a_local_directory() {
    let dir = tempfile::tempdir().unwrap();
    invalidation(local(&dir)).await;
}

#[tokio::test]
async fn invalidation_removes_exactly_the_stale_tiles_on_s3() {
    invalidation(s3().await).await;
}

#[tokio::test]
async fn invalidation_follows_footprints_across_the_antimeridian() {
    let dir = tempfile::tempdir().unwrap();
    let store = local(&dir);
    let tms = TileMatrixSet::WorldCRS84Quad;
    let east = Tile { z: 4, x: 31, y: 7 }; // 168.75..180° E, 0..11.25° N
    let west = Tile { z: 4, x: 0, y: 7 }; // 180..168.75° W
    let middle = Tile { z: 4, x: 16, y: 7 }; // 0..11.25° E
    for tile in [east, west, middle] {
        let key = key("S1", TileTime::Default, tms, tile.z, tile.x, tile.y);
        store.put(&key, Bytes::from_static(b"t")).await.unwrap();
    }
    let change = Change {
        layers: vec!["S1".into()],
        boxes: vec![[175.0, 2.0, 180.0, 5.0], [-180.0, 2.0, -176.0, 5.0]],
        begin: at("2020-01-01T00:00:00Z"),
        end: at("2020-01-01T00:00:00Z"),
    };
    store.invalidate(&change).await.unwrap();
    assert_eq!(
        store.list("S1").await.unwrap(),
        ["S1/default/WorldCRS84Quad/4/16/7.png"]
    );
}

/// Deleting a layer removes its tiles at every time, matrix set and zoom level, bumps its
/// generation, and leaves every other layer, also those whose names start with its name.
async fn layer_deletion(store: TileStore) {
    let time = TileTime::parse("2024-01-01T00:00:00Z/2024-01-02T00:00:00Z").unwrap();
    for layer in ["S2", "S2__outlines", "S2_L1C", "S2_L1C__outlines"] {
        for (time, tms, z) in [
            (TileTime::Default, TileMatrixSet::WebMercatorQuad, 0),
            (time, TileMatrixSet::WorldCRS84Quad, 5),
        ] {
            store
                .put(&key(layer, time, tms, z, 0, 0), Bytes::from_static(b"png"))
                .await
                .unwrap();
        }
    }
    assert_eq!(
        store.layers().await.unwrap(),
        ["S2", "S2_L1C", "S2_L1C__outlines", "S2__outlines"]
    );
    assert_eq!(store.generation("S2").await.unwrap(), None);
    assert_eq!(store.delete_layer("S2").await.unwrap(), 2);
    assert!(store.list("S2").await.unwrap().is_empty());
    assert!(store.generation("S2").await.unwrap().is_some(), "bumped");
    for layer in ["S2__outlines", "S2_L1C", "S2_L1C__outlines"] {
        assert_eq!(store.list(layer).await.unwrap().len(), 2, "{layer} kept");
    }
    // A local directory keeps the emptied folders of S2: it may still be listed.
    let layers = store.layers().await.unwrap();
    assert!(
        !layers.iter().any(|layer| layer.starts_with('.')),
        "{layers:?}"
    );
    for layer in ["S2_L1C", "S2_L1C__outlines", "S2__outlines"] {
        assert!(layers.iter().any(|listed| listed == layer), "{layers:?}");
    }
    assert_eq!(store.delete_layer("S2").await.unwrap(), 0);
    assert_eq!(store.delete_layer("../x").await.unwrap(), 0);
}

#[tokio::test]
async fn a_layer_is_deleted_whole_and_alone_on_a_local_directory() {
    let dir = tempfile::tempdir().unwrap();
    layer_deletion(local(&dir)).await;
}

#[tokio::test]
async fn a_layer_is_deleted_whole_and_alone_on_s3() {
    layer_deletion(s3().await).await;
}
