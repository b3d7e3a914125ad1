//! The catalog contract and the SQLite specifics, against real SQLite files (and in memory).
//!
//! Each test uses its own temporary directory, removed when the test ends. The property
//! tests compare the searches of the embedded catalog with a brute-force `geo` check over all
//! products, and with a real PostGIS (`PVS_TEST_DATABASE_URL`, see `tests/postgis.rs`).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Instant;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use geo::{Intersects, Relate};
use geo_types::{LineString, MultiPolygon, Polygon, polygon};
use proptest::prelude::*;
use pvs_catalog::testing::TestDatabase;
use pvs_catalog::{
    Bbox, Catalog, CatalogError, Collection, MAX_LIMIT, Product, ProductQuery, Registration,
    SpatialRelation, SqliteCatalog, TimeFilter, TimeRelation, contract,
};
use serde_json::json;
use tempfile::TempDir;

/// A catalog file in a temporary directory, removed (with the directory) when dropped.
struct TempCatalog {
    catalog: SqliteCatalog,
    path: PathBuf,
    _directory: TempDir,
}

impl TempCatalog {
    async fn new() -> Self {
        let directory = tempfile::tempdir().expect("a temporary directory");
        let path = directory.path().join("catalog.sqlite");
        let catalog = SqliteCatalog::open(&path)
            .await
            .unwrap_or_else(|error| panic!("opening {}: {error}", path.display()));
        Self {
            catalog,
            path,
            _directory: directory,
        }
    }
}

macro_rules! contract_tests {
    ($($name:ident),* $(,)?) => {
        /// Every contract function on a catalog file (a writer and concurrent readers).
        mod file {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let file = TempCatalog::new().await;
                    contract::$name(&file.catalog).await;
                }
            )*
        }

        /// Every contract function on an in-memory catalog (one connection).
        mod memory {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let catalog = SqliteCatalog::in_memory().unwrap();
                    contract::$name(&catalog).await;
                }
            )*
        }
    };
}

contract_tests!(
    collections_are_upserted_and_listed,
    products_round_trip,
    register_inserts_then_replaces,
    deregister_returns_the_product,
    deregister_matching_removes_pages_of_a_query,
    collection_extent_shrinks_after_removals,
    delete_collection_removes_it_and_its_products,
    unknown_collection_is_refused,
    invalid_products_are_refused,
    search_by_bbox,
    search_by_geometry,
    search_by_spatial_relation,
    search_by_time_relation,
    antimeridian,
    search_by_collection_and_ids,
    paging_is_stable_and_complete,
    filters_agree_with_the_reference,
    sorts_agree_with_the_reference,
    register_batch_keeps_good_products,
    concurrent_registrations_of_one_id,
    concurrent_batches_do_not_conflict,
    ids_are_unique_per_collection,
    changes_record_every_write,
    register_unless_decides_atomically,
    readable_views_hide_other_collections,
);

fn hours(hours: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap() + TimeDelta::hours(hours)
}

fn rect(west: f64, south: f64, east: f64, north: f64) -> Polygon<f64> {
    polygon![
        (x: west, y: south),
        (x: east, y: south),
        (x: east, y: north),
        (x: west, y: north),
    ]
}

fn product(id: &str, collection: &str, footprint: MultiPolygon<f64>, hour: i64) -> Product {
    Product {
        properties: Default::default(),
        id: id.to_owned(),
        collection: collection.to_owned(),
        product_type: None,
        footprint,
        begin: hours(hour),
        end: hours(hour + 1),
        location: format!("products/{id}.tif"),
        metadata: json!({}),
    }
}

fn ids(products: &[Product]) -> Vec<String> {
    products.iter().map(|product| product.id.clone()).collect()
}

async fn create_collection(catalog: &SqliteCatalog, name: &str) {
    catalog
        .upsert_collection(&Collection::new(name).unwrap())
        .await
        .unwrap();
}

/// A plain SQLite connection to a catalog file, as a tool (or a newer pvs) would open it.
fn raw(path: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open(path).unwrap()
}

#[test]
fn the_bundled_sqlite_has_rtree_and_json() {
    let connection = rusqlite::Connection::open_in_memory().unwrap();
    connection
        .execute_batch(
            "CREATE VIRTUAL TABLE boxes USING rtree (id, min_x, max_x, min_y, max_y); \
             INSERT INTO boxes VALUES (1, 0.1, 0.2, 0.3, 0.4);",
        )
        .expect("R*Tree is compiled in");
    let found: i64 = connection
        .query_row(
            "SELECT id FROM boxes WHERE min_x <= 0.15 AND max_x >= 0.15",
            [],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(found, 1);
    let ids: i64 = connection
        .query_row(
            "SELECT count(*) FROM json_each('[\"a\", \"b\"]')",
            [],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(ids, 2, "JSON functions are compiled in");
}

/// What a catalog file holds survives closing it; the file has the schema, its version, the
/// application id and WAL mode.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn products_persist_across_reopening() {
    let file = TempCatalog::new().await;
    create_collection(&file.catalog, "S1").await;
    let products = [
        product(
            "across",
            "S1",
            MultiPolygon(vec![
                rect(170.0, -10.0, 180.0, 10.0),
                rect(-180.0, -10.0, -170.0, 10.0),
            ]),
            0,
        ),
        Product {
            metadata: json!({"orbit": 7, "note": "kept"}),
            begin: hours(3) + TimeDelta::microseconds(1),
            ..product(
                "plain",
                "S1",
                MultiPolygon(vec![rect(1.0, 1.0, 2.0, 2.0)]),
                3,
            )
        },
    ];
    for product in &products {
        file.catalog.register(product).await.unwrap();
    }
    let collections = file.catalog.collections().await.unwrap();
    let path = file.path.clone();
    drop(file.catalog);

    let reopened = SqliteCatalog::open(&path).await.unwrap();
    assert_eq!(
        reopened.schema_version().await.unwrap(),
        SqliteCatalog::embedded_schema_version()
    );
    assert_eq!(reopened.collections().await.unwrap(), collections);
    for product in &products {
        assert_eq!(
            reopened
                .get(&product.collection, &product.id)
                .await
                .unwrap()
                .as_ref(),
            Some(product)
        );
    }
    let found = reopened
        .search(&ProductQuery::new().with_bbox(Bbox::new(179.0, -1.0, -179.0, 1.0).unwrap()))
        .await
        .unwrap();
    assert_eq!(ids(&found), ["across"], "the footprint index is persisted");
    assert_eq!(
        reopened
            .deregister(&products[1].collection, "plain")
            .await
            .unwrap()
            .as_ref(),
        Some(&products[1])
    );
    drop(reopened);

    let connection = raw(&path);
    let pragma = |name: &str| -> String {
        connection
            .query_row(&format!("SELECT * FROM pragma_{name}"), [], |row| {
                row.get::<_, rusqlite::types::Value>(0)
            })
            .map(|value| format!("{value:?}"))
            .unwrap()
    };
    assert_eq!(pragma("journal_mode"), "Text(\"wal\")");
    assert_eq!(
        pragma("application_id"),
        format!("Integer({})", 0x7076_7363)
    );
    assert_eq!(
        pragma("user_version"),
        format!("Integer({})", SqliteCatalog::embedded_schema_version())
    );
    let count: i64 = connection
        .query_row("SELECT count(*) FROM footprint_boxes", [], |row| row.get(0))
        .unwrap();
    assert_eq!(
        count, 2,
        "one index row per polygon of the remaining product"
    );
}

/// Two catalogs on one file (as two processes would) see each other's writes, and concurrent
/// registrations of one id through both leave one product.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_catalogs_share_a_file() {
    let file = TempCatalog::new().await;
    let other = SqliteCatalog::open(&file.path).await.unwrap();
    create_collection(&file.catalog, "S2").await;
    let versions: Vec<Product> = (0..16)
        .map(|i| Product {
            location: format!("version-{i}.tif"),
            ..product(
                "same",
                "S2",
                MultiPolygon(vec![rect(0.0, 0.0, 1.0, 1.0)]),
                0,
            )
        })
        .collect();
    let registrations = futures_join(
        versions
            .iter()
            .enumerate()
            .map(|(i, version)| {
                let catalog = if i % 2 == 0 { &file.catalog } else { &other };
                let version = version.clone();
                let catalog = catalog.clone();
                tokio::spawn(async move { catalog.register(&version).await })
            })
            .collect(),
    )
    .await;
    let inserted = registrations
        .iter()
        .filter(|result| matches!(result, Ok(Registration::Inserted)))
        .count();
    assert!(registrations.iter().all(Result::is_ok), "{registrations:?}");
    assert_eq!(inserted, 1);
    assert_eq!(other.count(&ProductQuery::new()).await.unwrap(), 1);
    assert_eq!(file.catalog.count(&ProductQuery::new()).await.unwrap(), 1);
}

async fn futures_join<T>(tasks: Vec<tokio::task::JoinHandle<T>>) -> Vec<T> {
    let mut results = Vec::with_capacity(tasks.len());
    for task in tasks {
        results.push(task.await.expect("the task finishes"));
    }
    results
}

/// A file written by a newer pvs (a schema version this build does not know) is refused with
/// a message naming the file and the versions, and is left as it was. (PostGIS uses a newer
/// schema with a warning, because the services of a cluster are upgraded one at a time; an
/// embedded file belongs to one pvs, and an older one could misread it.)
#[tokio::test]
async fn a_newer_schema_version_is_refused() {
    let file = TempCatalog::new().await;
    drop(file.catalog);
    let newer = SqliteCatalog::embedded_schema_version() + 1;
    raw(&file.path)
        .pragma_update(None, "user_version", newer)
        .unwrap();
    match SqliteCatalog::open(&file.path).await {
        Err(error @ CatalogError::Migration { version, .. }) => {
            assert_eq!(version, newer);
            let message = error.to_string();
            let path = file.path.display().to_string();
            assert!(
                message.contains(&path)
                    && message.contains(&format!("schema version {newer}"))
                    && message.contains("newer pvs"),
                "{message}"
            );
        }
        other => panic!("a newer schema must be refused, got {other:?}"),
    }
    let version: i32 = raw(&file.path)
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .unwrap();
    assert_eq!(version, newer, "the file is untouched");
}

/// Paths that cannot be a catalog give an error naming the path and saying why.
#[tokio::test]
async fn bad_paths_give_clear_errors() {
    let directory = tempfile::tempdir().unwrap();
    let missing = directory.path().join("missing").join("catalog.sqlite");
    let garbage = directory.path().join("garbage.sqlite");
    std::fs::write(
        &garbage,
        "this is not an SQLite database, just text\n".repeat(100),
    )
    .unwrap();
    let other_app = directory.path().join("other.sqlite");
    raw(&other_app)
        .execute_batch("CREATE TABLE items (id INTEGER PRIMARY KEY, payload TEXT)")
        .unwrap();
    let other_id = directory.path().join("other-id.sqlite");
    raw(&other_id)
        .pragma_update(None, "application_id", 0x1234_5678)
        .unwrap();

    let cases: [(&Path, &str); 4] = [
        (&missing, "does not exist"),
        (directory.path(), "is a directory"),
        (Path::new(""), "the path is empty"),
        (&garbage, "not a database"),
    ];
    for (path, reason) in cases {
        match SqliteCatalog::open(path).await {
            Err(error @ CatalogError::Connection { .. }) => {
                let message = error.to_string();
                assert!(
                    message.contains(&path.display().to_string()) && message.contains(reason),
                    "{message} should name {} and say {reason:?}",
                    path.display()
                );
            }
            other => panic!("opening {} must fail, got {other:?}", path.display()),
        }
    }
    assert!(!missing.exists(), "no file is created");
    let unchanged = std::fs::read_to_string(&garbage).unwrap();
    assert!(unchanged.starts_with("this is not an SQLite database"));

    for (path, reason) in [
        (
            &other_app,
            "something else, not a pvs catalog: it has the tables items",
        ),
        (&other_id, "application id is 0x12345678"),
    ] {
        match SqliteCatalog::open(path).await {
            Err(error @ CatalogError::Migration { .. }) => {
                let message = error.to_string();
                assert!(
                    message.contains(&path.display().to_string()) && message.contains(reason),
                    "{message}"
                );
            }
            other => panic!("opening {} must be refused, got {other:?}", path.display()),
        }
    }
}

/// The R*Tree keeps 32-bit boxes: a footprint whose edge is not a 32-bit float is still found
/// by a box touching it exactly, and not by a box the smallest step away.
#[tokio::test]
async fn index_rounding_loses_nothing_and_adds_nothing() {
    let catalog = SqliteCatalog::in_memory().unwrap();
    create_collection(&catalog, "S2").await;
    let edge = 0.1 + 0.2; // 0.30000000000000004, not a 32-bit float
    assert_ne!(f64::from(edge as f32), edge);
    catalog
        .register(&product(
            "P",
            "S2",
            MultiPolygon(vec![rect(edge - 0.1, edge - 0.1, edge, edge)]),
            0,
        ))
        .await
        .unwrap();
    let (low, after, before) = (edge - 0.1, edge.next_up(), (edge - 0.1).next_down());
    let bboxes = [
        ((edge, edge, 1.0, 1.0), true),
        ((after, after, 1.0, 1.0), false),
        ((edge, 0.25, edge, 0.25), true),
        ((after, 0.25, after, 0.25), false),
        ((-1.0, -1.0, low, low), true),
        ((-1.0, -1.0, before, before), false),
    ];
    for ((west, south, east, north), found) in bboxes {
        let query = ProductQuery::new().with_bbox(Bbox::new(west, south, east, north).unwrap());
        let count = catalog.count(&query).await.unwrap();
        assert_eq!(count, u64::from(found), "{query:?}");
    }
    let geometries = [
        (rect(edge, edge, 1.0, 1.0), true),
        (rect(edge, 0.0, 1.0, 1.0), true),
        (rect(after, 0.0, 1.0, 1.0), false),
        (rect(-1.0, -1.0, low, low), true),
        (rect(-1.0, -1.0, before, 1.0), false),
    ];
    for (geometry, found) in geometries {
        let query = ProductQuery::new().with_geometry(MultiPolygon(vec![geometry]));
        let count = catalog.count(&query).await.unwrap();
        assert_eq!(count, u64::from(found), "{query:?}");
    }
}

/// The box index holds times as 32-bit floats too (rounded outwards): with a bbox, a product
/// whose times are not 32-bit floats is found by every time relation at its exact times, and
/// not a microsecond away.
#[tokio::test]
async fn time_index_rounding_loses_nothing_and_adds_nothing() {
    let catalog = SqliteCatalog::in_memory().unwrap();
    create_collection(&catalog, "S2").await;
    let micro = TimeDelta::microseconds(1);
    let begin = Utc.with_ymd_and_hms(2026, 12, 6, 10, 17, 3).unwrap() + micro * 123_457;
    let end = begin + TimeDelta::seconds(61) + micro;
    let micros = begin.timestamp_micros();
    assert_ne!(
        f64::from(micros as f32),
        micros as f64,
        "not a 32-bit float"
    );
    catalog
        .register(&Product {
            begin,
            end,
            ..product("P", "S2", MultiPolygon(vec![rect(0.0, 0.0, 1.0, 1.0)]), 0)
        })
        .await
        .unwrap();
    let far = TimeDelta::days(3);
    let cases = [
        (TimeRelation::Intersects, end, end + far, true),
        (TimeRelation::Intersects, end + micro, end + far, false),
        (TimeRelation::Intersects, begin - far, begin, true),
        (TimeRelation::Intersects, begin - far, begin - micro, false),
        (TimeRelation::During, begin, end, true),
        (TimeRelation::During, begin + micro, end, false),
        (TimeRelation::During, begin, end - micro, false),
        (TimeRelation::Contains, begin, end, true),
        (TimeRelation::Contains, begin - micro, end, false),
        (TimeRelation::Contains, begin, end + micro, false),
        (TimeRelation::Equals, begin, end, true),
        (TimeRelation::Equals, begin, end + micro, false),
        (TimeRelation::Disjoint, end + micro, end + far, true),
        (TimeRelation::Disjoint, end, end + far, false),
    ];
    for (relation, start, stop, found) in cases {
        let query = ProductQuery::new()
            .with_bbox(Bbox::new(0.5, 0.5, 2.0, 2.0).unwrap())
            .with_time(TimeFilter::new(start, stop, relation).unwrap());
        let count = catalog.count(&query).await.unwrap();
        assert_eq!(count, u64::from(found), "{query:?}");
        let page = catalog.search(&query).await.unwrap();
        assert_eq!(page.len(), usize::from(found), "{query:?}");
    }
}

/// The products of the schema upgrade tests, in `S1`: `old` (hour 0) and `across` (hour 5,
/// split at the antimeridian).
fn old_and_across() -> [Product; 2] {
    [
        product(
            "old",
            "S1",
            MultiPolygon(vec![rect(10.0, 10.0, 11.0, 11.0)]),
            0,
        ),
        product(
            "across",
            "S1",
            MultiPolygon(vec![
                rect(170.0, -10.0, 180.0, 10.0),
                rect(-180.0, -10.0, -170.0, 10.0),
            ]),
            5,
        ),
    ]
}

/// A catalog file of schema 2 (footprint boxes without times, in `footprint_index`) is
/// upgraded when opened: its boxes move to the index of boxes and times, and searches by place
/// and time find its products.
#[tokio::test]
async fn a_schema_2_file_is_upgraded_with_its_index() {
    let file = TempCatalog::new().await;
    create_collection(&file.catalog, "S1").await;
    let products = old_and_across();
    for product in &products {
        file.catalog.register(product).await.unwrap();
    }
    let path = file.path.clone();
    drop(file.catalog);
    // Back to what schema 2 had: the boxes alone (and no change feed, of schema 5).
    raw(&path)
        .execute_batch(
            "DROP TABLE product_changes;
             CREATE VIRTUAL TABLE footprint_index USING rtree (part, min_x, max_x, min_y, max_y);
             INSERT INTO footprint_index SELECT part, min_x, max_x, min_y, max_y
                 FROM footprint_boxes;
             DROP TABLE footprint_boxes;
             PRAGMA user_version = 2;",
        )
        .unwrap();

    let reopened = SqliteCatalog::open(&path).await.unwrap();
    assert_eq!(
        reopened.schema_version().await.unwrap(),
        SqliteCatalog::embedded_schema_version()
    );
    let search = |bbox: Bbox, from: i64, to: i64| {
        ProductQuery::new()
            .with_bbox(bbox)
            .with_time(TimeFilter::new(hours(from), hours(to), TimeRelation::Intersects).unwrap())
    };
    let world = Bbox::new(-180.0, -90.0, 180.0, 90.0).unwrap();
    let cases = [
        (search(world, 0, 1), vec!["old"]),
        (search(world, 0, 9), vec!["across", "old"]),
        (search(world, 2, 4), vec![]),
        (
            search(Bbox::new(179.0, -1.0, -179.0, 1.0).unwrap(), 5, 6),
            vec!["across"],
        ),
        (
            search(Bbox::new(-175.0, -1.0, -174.0, 1.0).unwrap(), 0, 4),
            vec![],
        ),
    ];
    for (query, expected) in cases {
        assert_eq!(
            ids(&reopened.search(&query).await.unwrap()),
            expected,
            "{query:?}"
        );
    }
    let connection = raw(&path);
    let boxes: i64 = connection
        .query_row("SELECT count(*) FROM footprint_boxes", [], |row| row.get(0))
        .unwrap();
    assert_eq!(boxes, 3, "one box per footprint polygon");
    let old_index: i64 = connection
        .query_row(
            "SELECT count(*) FROM sqlite_schema WHERE name = 'footprint_index'",
            [],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(old_index, 0, "the index of schema 2 is gone");
}

/// A catalog file of schema 3 (product ids unique across collections) is upgraded when
/// opened: its products keep their footprints, boxes and times, the same id can then be
/// registered in another collection, and the file is consistent (integrity and foreign keys).
#[tokio::test]
async fn a_schema_3_file_is_upgraded_to_ids_per_collection() {
    let file = TempCatalog::new().await;
    create_collection(&file.catalog, "S1").await;
    create_collection(&file.catalog, "S2").await;
    let products = old_and_across();
    for product in &products {
        file.catalog.register(product).await.unwrap();
    }
    let path = file.path.clone();
    drop(file.catalog);
    // Back to what schema 3 had: ids unique across collections (the table rebuilt with
    // foreign keys off, as SQLite documents for schema changes), and no change feed.
    raw(&path)
        .execute_batch(
            "PRAGMA foreign_keys = OFF;
             BEGIN;
             DROP TABLE product_changes;
             CREATE TABLE products_v3 (
                 pk INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE,
                 collection TEXT NOT NULL REFERENCES collections (name) ON DELETE RESTRICT,
                 product_type TEXT, footprint BLOB NOT NULL, west REAL NOT NULL,
                 south REAL NOT NULL, east REAL NOT NULL, north REAL NOT NULL,
                 begin_time INTEGER NOT NULL, end_time INTEGER NOT NULL, location TEXT NOT NULL,
                 metadata TEXT NOT NULL, registered_at INTEGER NOT NULL,
                 updated_at INTEGER NOT NULL, properties TEXT NOT NULL DEFAULT '{}',
                 CONSTRAINT products_time_order CHECK (begin_time <= end_time)) STRICT;
             INSERT INTO products_v3 SELECT pk, id, collection, product_type, footprint, west,
                 south, east, north, begin_time, end_time, location, metadata, registered_at,
                 updated_at, properties FROM products;
             DROP TABLE products;
             ALTER TABLE products_v3 RENAME TO products;
             CREATE INDEX products_begin_idx ON products (begin_time DESC, id);
             CREATE INDEX products_collection_begin_idx
                 ON products (collection, begin_time DESC, id);
             CREATE INDEX products_cloud_cover_idx
                 ON products (json_extract(properties, '$.\"eo:cloud_cover\"'));
             PRAGMA user_version = 3;
             COMMIT;
             PRAGMA foreign_keys = ON;",
        )
        .unwrap();
    let in_s2 = product("old", "S2", MultiPolygon(vec![rect(0.0, 0.0, 1.0, 1.0)]), 0);
    let refused = raw(&path)
        .execute(
            "INSERT INTO products (id, collection, footprint, west, south, east, north, \
             begin_time, end_time, location, metadata, registered_at, updated_at) \
             VALUES ('old', 'S2', x'00', 0, 0, 1, 1, 0, 0, '', '{}', 0, 0)",
            [],
        )
        .unwrap_err()
        .to_string();
    assert!(
        refused.contains("UNIQUE constraint failed: products.id"),
        "schema 3 refuses an id registered in another collection: {refused}"
    );

    let reopened = SqliteCatalog::open(&path).await.unwrap();
    assert_eq!(
        reopened.schema_version().await.unwrap(),
        SqliteCatalog::embedded_schema_version()
    );
    for product in &products {
        assert_eq!(
            reopened.get("S1", &product.id).await.unwrap().as_ref(),
            Some(product),
            "kept by the upgrade"
        );
    }
    let across = ProductQuery::new()
        .with_bbox(Bbox::new(179.0, -1.0, -179.0, 1.0).unwrap())
        .with_time(TimeFilter::new(hours(5), hours(6), TimeRelation::Intersects).unwrap());
    assert_eq!(
        ids(&reopened.search(&across).await.unwrap()),
        ["across"],
        "footprint boxes and times kept"
    );
    assert_eq!(
        reopened.register(&in_s2).await,
        Ok(Registration::Inserted),
        "the same id in another collection is another product"
    );
    assert_eq!(
        ids(&reopened
            .search(&ProductQuery::new().with_ids(["old"]))
            .await
            .unwrap()),
        ["old", "old"]
    );
    assert_eq!(
        reopened.deregister("S1", "across").await.unwrap().as_ref(),
        Some(&products[1]),
        "its footprint parts are still linked to it"
    );
    drop(reopened);
    let connection = raw(&path);
    let integrity: String = connection
        .query_row("PRAGMA integrity_check", [], |row| row.get(0))
        .unwrap();
    assert_eq!(integrity, "ok");
    let orphans: i64 = connection
        .query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |row| {
            row.get(0)
        })
        .unwrap();
    assert_eq!(orphans, 0, "no footprint part without its product");
    let parts: i64 = connection
        .query_row("SELECT count(*) FROM footprint_parts", [], |row| row.get(0))
        .unwrap();
    assert_eq!(
        parts, 2,
        "the parts of `old` in S1 and S2; `across`'s went with it"
    );
}

/// Hostile and oversized values are stored and found as they are: ids and collections that
/// look like SQL, big metadata, footprints of many polygons and many vertices, and a query
/// with tens of thousands of ids.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_and_oversized_input() {
    let file = TempCatalog::new().await;
    let catalog = &file.catalog;
    create_collection(catalog, "S2").await;
    let sneaky = "x'); DROP TABLE products; --\"%_*?\u{202e}ü𝄞";
    let squares: Vec<Polygon<f64>> = (0..1000)
        .map(|i| {
            let (x, y) = (
                -170.0 + f64::from(i % 40) * 2.0,
                -80.0 + f64::from(i / 40) * 2.0,
            );
            rect(x, y, x + 1.0, y + 1.0)
        })
        .collect();
    let circle: Vec<(f64, f64)> = (0..2_000)
        .map(|i| {
            let angle = f64::from(i) / 2_000.0 * std::f64::consts::TAU;
            (100.0 + 10.0 * angle.cos(), 10.0 * angle.sin())
        })
        .collect();
    let big_metadata =
        json!({"blob": "é".repeat(4 << 20), "list": (0..10_000).collect::<Vec<_>>()});
    let products = [
        Product {
            metadata: json!({"sql": sneaky, "quote": "'", "nul-free": "\\0"}),
            location: format!("products/{sneaky}.tif"),
            ..product(
                sneaky,
                "S2",
                MultiPolygon(vec![rect(0.0, 0.0, 1.0, 1.0)]),
                0,
            )
        },
        product("many", "S2", MultiPolygon(squares), 1),
        Product {
            metadata: big_metadata,
            ..product(
                "round",
                "S2",
                MultiPolygon(vec![Polygon::new(LineString::from(circle), vec![])]),
                2,
            )
        },
    ];
    for product in &products {
        catalog.register(product).await.unwrap();
    }
    for product in &products {
        assert_eq!(
            catalog
                .get(&product.collection, &product.id)
                .await
                .unwrap()
                .as_ref(),
            Some(product)
        );
    }
    let query = |west, south, east, north| {
        ProductQuery::new().with_bbox(Bbox::new(west, south, east, north).unwrap())
    };
    // Between squares, and inside the circle's box but outside the circle.
    assert_eq!(
        catalog
            .count(&query(-168.9, -79.9, -168.1, -79.1))
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        catalog
            .count(&query(-168.0, -78.0, -168.0, -78.0))
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        catalog
            .count(&query(109.0, 9.0, 110.0, 10.0))
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        catalog.count(&query(105.0, 5.0, 106.0, 6.0)).await.unwrap(),
        1
    );

    for hostile in [sneaky, "S2' OR '1'='1", "%", ""] {
        assert_eq!(
            catalog
                .count(&ProductQuery::new().with_collection(hostile))
                .await
                .unwrap(),
            0,
            "collection {hostile:?}"
        );
        assert_eq!(
            catalog.get("S2", hostile).await.unwrap().is_some(),
            hostile == sneaky
        );
    }
    let mut wanted: Vec<String> = (0..50_000).map(|i| format!("missing-{i}")).collect();
    wanted.push(sneaky.to_owned());
    wanted.push("round".to_owned());
    let found = catalog
        .search(&ProductQuery::new().with_ids(wanted).with_limit(MAX_LIMIT))
        .await
        .unwrap();
    assert_eq!(ids(&found), ["round", sneaky]);
}

/// A query geometry of many polygons (their boxes are merged for the index lookup) still
/// finds exactly the footprints it touches.
#[tokio::test]
async fn query_geometries_of_many_polygons() {
    let catalog = SqliteCatalog::in_memory().unwrap();
    create_collection(&catalog, "S2").await;
    let square = |x: f64, y: f64, size: f64| MultiPolygon(vec![rect(x, y, x + size, y + size)]);
    let products = [
        product("in_a_gap", "S2", square(1.25, 1.25, 0.5), 0),
        product("touching", "S2", square(5.0, 6.0, 1.0), 1),
        product("inside", "S2", square(10.25, 10.25, 0.5), 2),
        product("far", "S2", square(50.0, 50.0, 1.0), 3),
    ];
    for product in &products {
        catalog.register(product).await.unwrap();
    }
    // 10 × 10 unit squares, two units apart: [2i, 2i + 1] × [2j, 2j + 1].
    let grid = MultiPolygon(
        (0..100)
            .map(|i| {
                let (x, y) = (f64::from(i % 10) * 2.0, f64::from(i / 10) * 2.0);
                rect(x, y, x + 1.0, y + 1.0)
            })
            .collect(),
    );
    let query = ProductQuery::new().with_geometry(grid);
    let found = catalog.search(&query).await.unwrap();
    assert_eq!(ids(&found), ["inside", "touching"]);
    assert_eq!(catalog.count(&query).await.unwrap(), 2);
}

/// The one documented difference with PostGIS: a footprint that `geo` accepts and GEOS does
/// not (a hole splitting the interior in two, see `tests/postgis.rs`) is stored, and found.
#[tokio::test]
async fn footprints_only_geos_refuses_are_stored() {
    let catalog = SqliteCatalog::in_memory().unwrap();
    create_collection(&catalog, "S2").await;
    let exterior = LineString::from(vec![(0.0, 0.0), (10.0, 0.0), (10.0, 10.0), (0.0, 10.0)]);
    let diamond = LineString::from(vec![(5.0, 0.0), (10.0, 5.0), (5.0, 10.0), (0.0, 5.0)]);
    let split = product(
        "split",
        "S2",
        MultiPolygon(vec![Polygon::new(exterior, vec![diamond])]),
        0,
    );
    assert_eq!(catalog.register(&split).await, Ok(Registration::Inserted));
    let corner = ProductQuery::new().with_bbox(Bbox::new(0.5, 0.5, 1.0, 1.0).unwrap());
    let hole = ProductQuery::new().with_bbox(Bbox::new(4.0, 4.0, 6.0, 6.0).unwrap());
    assert_eq!(catalog.count(&corner).await.unwrap(), 1);
    assert_eq!(catalog.count(&hole).await.unwrap(), 0);
}

/// The blocking SQLite work runs beside the runtime: on a single-threaded runtime, a timer
/// fires while a big batch is being registered.
#[tokio::test(flavor = "current_thread")]
async fn blocking_work_does_not_stall_the_runtime() {
    let file = TempCatalog::new().await;
    create_collection(&file.catalog, "S2").await;
    let batch: Vec<Product> = (0..3000)
        .map(|i| {
            product(
                &format!("p{i}"),
                "S2",
                MultiPolygon(vec![rect(0.0, 0.0, 1.0, 1.0)]),
                i,
            )
        })
        .collect();
    let registered = async {
        let results = file.catalog.register_batch(&batch).await;
        assert!(results.iter().all(Result::is_ok));
        Instant::now()
    };
    let ticked = async {
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        Instant::now()
    };
    let (registered, ticked) = tokio::join!(registered, ticked);
    assert!(
        ticked < registered,
        "the timer fired only after the batch was registered: the runtime was blocked"
    );
}

/// Reads on the reader connections and writes on the writer run concurrently, and every read
/// sees a consistent state.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_reads_and_writes() {
    let file = TempCatalog::new().await;
    create_collection(&file.catalog, "S2").await;
    let writer = {
        let catalog = file.catalog.clone();
        tokio::spawn(async move {
            for i in 0..200 {
                let footprint = MultiPolygon(vec![rect(0.0, 0.0, 1.0, 1.0)]);
                catalog
                    .register(&product(&format!("p{i:03}"), "S2", footprint, i))
                    .await
                    .unwrap();
            }
        })
    };
    let readers: Vec<_> = (0..8)
        .map(|_| {
            let catalog = file.catalog.clone();
            tokio::spawn(async move {
                let mut last = 0;
                for _ in 0..50 {
                    let query = ProductQuery::new()
                        .with_bbox(Bbox::new(0.5, 0.5, 0.5, 0.5).unwrap())
                        .with_limit(MAX_LIMIT);
                    let found = catalog.search(&query).await.unwrap();
                    assert!(
                        found.len() >= last,
                        "a later read never sees fewer products"
                    );
                    last = found.len();
                }
            })
        })
        .collect();
    writer.await.unwrap();
    for reader in readers {
        reader.await.unwrap();
    }
    assert_eq!(file.catalog.count(&ProductQuery::new()).await.unwrap(), 200);
}

// Random products and queries on a small grid, so that footprints and boxes often touch
// exactly, near 0 and across the antimeridian.

/// A footprint: a box, a triangle, a box with a hole, two separate boxes, or a box split at
/// the antimeridian.
fn footprint_strategy() -> impl Strategy<Value = MultiPolygon<f64>> {
    let corner = || (-8i32..=8, -8i32..=8, 1i32..=5, 1i32..=5);
    prop_oneof![
        corner().prop_map(|(x, y, w, h)| {
            let (x, y, w, h) = (f64::from(x), f64::from(y), f64::from(w), f64::from(h));
            MultiPolygon(vec![rect(x, y, x + w, y + h)])
        }),
        corner().prop_map(|(x, y, w, h)| {
            let (x, y, w, h) = (f64::from(x), f64::from(y), f64::from(w), f64::from(h));
            MultiPolygon(vec![
                polygon![(x: x, y: y), (x: x + w, y: y), (x: x, y: y + h)],
            ])
        }),
        (-8i32..=4, -8i32..=4, 3i32..=5, 3i32..=5).prop_map(|(x, y, w, h)| {
            let (x, y, w, h) = (f64::from(x), f64::from(y), f64::from(w), f64::from(h));
            MultiPolygon(vec![Polygon::new(
                rect(x, y, x + w, y + h).exterior().clone(),
                vec![
                    rect(x + 1.0, y + 1.0, x + w - 1.0, y + h - 1.0)
                        .exterior()
                        .clone(),
                ],
            )])
        }),
        (-8i32..=-5, 2i32..=5, -8i32..=4, 1i32..=3).prop_map(|(west, east, y, size)| {
            let (west, east, y, size) = (
                f64::from(west),
                f64::from(east),
                f64::from(y),
                f64::from(size),
            );
            MultiPolygon(vec![
                rect(west, y, west + size, y + size),
                rect(east, y, east + size, y + size),
            ])
        }),
        (1i32..=10, 1i32..=10, -8i32..=4, 1i32..=4).prop_map(|(east, west, y, h)| {
            let (y, h) = (f64::from(y), f64::from(h));
            MultiPolygon(vec![
                rect(180.0 - f64::from(east), y, 180.0, y + h),
                rect(-180.0, y, -180.0 + f64::from(west), y + h),
            ])
        }),
    ]
}

fn longitude_strategy() -> impl Strategy<Value = f64> {
    prop_oneof![
        (-9i32..=9).prop_map(f64::from),
        prop::sample::select(vec![
            -180.0, -179.0, -175.0, -170.0, 170.0, 175.0, 179.0, 180.0
        ]),
    ]
}

fn bbox_strategy() -> impl Strategy<Value = Bbox> {
    (
        longitude_strategy(),
        longitude_strategy(),
        -9i32..=9,
        -9i32..=9,
    )
        .prop_map(|(west, east, a, b)| {
            Bbox::new(west, f64::from(a.min(b)), east, f64::from(a.max(b))).unwrap()
        })
}

fn time_strategy() -> impl Strategy<Value = TimeFilter> {
    (
        0i64..12,
        0i64..12,
        prop::sample::select(TimeRelation::ALL.to_vec()),
    )
        .prop_map(|(a, b, relation)| {
            TimeFilter::new(hours(a.min(b)), hours(a.max(b)), relation).unwrap()
        })
}

fn products_strategy() -> impl Strategy<Value = Vec<Product>> {
    prop::collection::vec(
        (footprint_strategy(), 0i64..10, 0i64..3, any::<bool>()),
        0..24,
    )
    .prop_map(|products| {
        products
            .into_iter()
            .enumerate()
            .map(|(index, (footprint, begin, length, first))| Product {
                properties: Default::default(),
                id: format!("p{index:02}"),
                collection: if first { "A" } else { "B" }.to_owned(),
                product_type: None,
                footprint,
                begin: hours(begin),
                end: hours(begin + length),
                location: format!("p{index}.tif"),
                metadata: json!({}),
            })
            .collect()
    })
}

fn query_strategy() -> impl Strategy<Value = ProductQuery> {
    (
        prop::option::of(prop::sample::select(vec!["A", "B"])),
        prop::option::of(bbox_strategy()),
        prop::option::weighted(0.4, footprint_strategy()),
        prop::option::weighted(0.3, time_strategy()),
        0u32..8,
        0u64..6,
        prop::sample::select(vec![
            SpatialRelation::Intersects,
            SpatialRelation::Within,
            SpatialRelation::Disjoint,
        ]),
    )
        .prop_map(
            |(collection, bbox, geometry, time, limit, offset, spatial)| ProductQuery {
                collection: collection.map(str::to_owned),
                bbox,
                geometry,
                spatial,
                time,
                ids: None,
                limit,
                offset,
                ..ProductQuery::default()
            },
        )
}

/// The brute-force answer: every product tested with `geo`, sorted, paged.
fn reference(products: &[Product], query: &ProductQuery) -> (Vec<String>, u64) {
    let mut matching: Vec<&Product> = products
        .iter()
        .filter(|product| {
            query
                .collection
                .as_ref()
                .is_none_or(|collection| &product.collection == collection)
                && query.bbox.is_none_or(|bbox| {
                    let parts = bbox.parts();
                    // Only parts with an area can cover a footprint (PostGIS agrees; geo's
                    // relate misjudges a zero-width part, the -180° edge of a box ending there).
                    let area = MultiPolygon(
                        parts
                            .iter()
                            .filter(|part| part.width() > 0.0 && part.height() > 0.0)
                            .map(|part| part.to_polygon())
                            .collect(),
                    );
                    match query.spatial {
                        SpatialRelation::Intersects => {
                            parts.iter().any(|part| product.footprint.intersects(part))
                        }
                        SpatialRelation::Within => {
                            !area.0.is_empty() && product.footprint.relate(&area).is_coveredby()
                        }
                        SpatialRelation::Disjoint => {
                            !parts.iter().any(|part| product.footprint.intersects(part))
                        }
                    }
                })
                && query.geometry.as_ref().is_none_or(|geometry| {
                    let intersects = product.footprint.intersects(geometry);
                    match query.spatial {
                        SpatialRelation::Intersects => intersects,
                        SpatialRelation::Within => {
                            product.footprint.relate(geometry).is_coveredby()
                        }
                        SpatialRelation::Disjoint => !intersects,
                    }
                })
                && query
                    .time
                    .is_none_or(|time| time.matches(product.begin, product.end))
        })
        .collect();
    matching.sort_by(|a, b| b.begin.cmp(&a.begin).then_with(|| a.id.cmp(&b.id)));
    let count = matching.len() as u64;
    let page = matching
        .into_iter()
        .skip(usize::try_from(query.offset).unwrap())
        .take(query.effective_limit() as usize)
        .map(|product| product.id.clone())
        .collect();
    (page, count)
}

async fn fill(catalog: &dyn Catalog, products: &[Product]) {
    for name in ["A", "B"] {
        catalog
            .upsert_collection(&Collection::new(name).unwrap())
            .await
            .unwrap();
    }
    for (product, result) in products.iter().zip(catalog.register_batch(products).await) {
        result.unwrap_or_else(|error| panic!("registering {product:?}: {error}"));
    }
}

async fn answer(catalog: &dyn Catalog, query: &ProductQuery) -> (Vec<String>, u64) {
    let page = catalog.search(query).await.unwrap();
    let answer = (ids(&page), catalog.count(query).await.unwrap());
    let (page, total) = catalog.search_counted(query).await.unwrap();
    assert_eq!((ids(&page), total), answer, "search_counted {query:?}");
    answer
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// The embedded catalog answers random searches (pages and counts) as a brute-force `geo`
    /// check over all products does.
    #[test]
    fn searches_match_brute_force(
        products in products_strategy(),
        queries in prop::collection::vec(query_strategy(), 1..8),
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        runtime.block_on(async {
            let catalog = SqliteCatalog::in_memory().unwrap();
            fill(&catalog, &products).await;
            for query in &queries {
                let expected = reference(&products, query);
                assert_eq!(answer(&catalog, query).await, expected, "{query:?}");
            }
        });
    }
}

/// Random footprints and queries get the same answers from a catalog file and from PostGIS
/// (`ST_Intersects`), touching edges and the antimeridian included.
#[test]
fn searches_match_postgis() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let database = runtime.block_on(TestDatabase::create());
    let postgis = runtime.block_on(database.catalog());
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(48));
    let cases = (
        products_strategy(),
        prop::collection::vec(query_strategy(), 1..12),
    );
    runner
        .run(&cases, |(products, queries)| {
            runtime.block_on(async {
                let file = TempCatalog::new().await;
                for product in postgis
                    .search(&ProductQuery::new().with_limit(MAX_LIMIT))
                    .await
                    .unwrap()
                {
                    postgis
                        .deregister(&product.collection, &product.id)
                        .await
                        .unwrap();
                }
                fill(&file.catalog, &products).await;
                fill(&postgis, &products).await;
                for query in &queries {
                    let embedded = answer(&file.catalog, query).await;
                    let reference = answer(&postgis, query).await;
                    prop_assert_eq!(embedded, reference, "{:?}", query);
                }
                let summaries = (
                    file.catalog.collections().await.unwrap(),
                    postgis.collections().await.unwrap(),
                );
                prop_assert_eq!(summaries.0, summaries.1);
                Ok::<(), TestCaseError>(())
            })
        })
        .unwrap();
}

/// Ids given to a search are matched exactly, whatever their number or characters.
#[tokio::test]
async fn id_filters_are_exact() {
    let catalog = SqliteCatalog::in_memory().unwrap();
    create_collection(&catalog, "S2").await;
    let square = MultiPolygon(vec![rect(0.0, 0.0, 1.0, 1.0)]);
    for id in ["a", "A", "a ", "[\"a\"]", "%"] {
        catalog
            .register(&product(id, "S2", square.clone(), 0))
            .await
            .unwrap();
    }
    let found: BTreeSet<String> = ids(&catalog
        .search(&ProductQuery::new().with_ids(["a", "[\"a\"]", "_"]))
        .await
        .unwrap())
    .into_iter()
    .collect();
    assert_eq!(
        found,
        BTreeSet::from(["a".to_owned(), "[\"a\"]".to_owned()])
    );
}
