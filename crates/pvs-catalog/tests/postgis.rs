//! The catalog contract and the PostGIS specifics, against a real PostgreSQL with PostGIS.
//!
//! Each test creates its own database `pvs_test_<uuid>` through the admin connection of
//! `PVS_TEST_DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`) and drops
//! it when done, so tests run in parallel and never touch other databases.

use pvs_catalog::testing::{TestDatabase, admin_url, with_database};
use pvs_catalog::{Catalog, CatalogError, PostgisCatalog, contract};

macro_rules! contract_tests {
    ($($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                let database = TestDatabase::create().await;
                let catalog = database.catalog().await;
                contract::$name(&catalog).await;
            }
        )*
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

async fn recorded_migrations(database: &TestDatabase) -> Vec<(i32, String, String)> {
    database
        .client()
        .await
        .query(
            "SELECT version, name, checksum FROM pvs_schema_migrations ORDER BY version",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1), row.get(2)))
        .collect()
}

fn embedded() -> Vec<(i32, String)> {
    PostgisCatalog::embedded_migrations()
        .into_iter()
        .map(|(version, name)| (version, name.to_owned()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_are_applied_once_and_idempotent() {
    let database = TestDatabase::create().await;
    let first = database.catalog().await;
    assert_eq!(first.applied_migrations().await.unwrap(), embedded());
    let recorded = recorded_migrations(&database).await;
    assert_eq!(recorded.len(), embedded().len());
    assert!(recorded.iter().all(|(_, _, checksum)| checksum.len() == 64));

    let second = database.catalog().await;
    assert_eq!(second.applied_migrations().await.unwrap(), embedded());
    assert_eq!(
        recorded_migrations(&database).await,
        recorded,
        "nothing re-applied"
    );
    second.ping().await.unwrap();

    // The schema has what searches rely on.
    let indexes: Vec<String> = database
        .client()
        .await
        .query(
            "SELECT indexname FROM pg_indexes WHERE tablename = 'products' ORDER BY indexname",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    for index in [
        "products_cloud_cover_idx",
        "products_collection_begin_idx",
        "products_footprint_time_idx",
        "products_pkey",
        "products_time_idx",
    ] {
        assert!(
            indexes.iter().any(|name| name == index),
            "{index} in {indexes:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_connects_apply_each_migration_once() {
    let database = TestDatabase::create().await;
    let url = database.url.clone();
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let url = url.clone();
            tokio::spawn(async move { PostgisCatalog::connect_with_pool_size(&url, 2).await })
        })
        .collect();
    for task in tasks {
        let catalog = task
            .await
            .unwrap()
            .expect("every concurrent connect succeeds");
        assert_eq!(catalog.applied_migrations().await.unwrap(), embedded());
    }
    let recorded = recorded_migrations(&database).await;
    let versions: Vec<i32> = recorded.iter().map(|(version, _, _)| *version).collect();
    let expected: Vec<i32> = embedded().iter().map(|(version, _)| *version).collect();
    assert_eq!(versions, expected, "one record per migration");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_migration_is_detected() {
    let database = TestDatabase::create().await;
    database.catalog().await;
    database
        .client()
        .await
        .execute(
            "UPDATE pvs_schema_migrations SET checksum = 'tampered' WHERE version = 1",
            &[],
        )
        .await
        .unwrap();
    match PostgisCatalog::connect(&database.url).await {
        Err(error @ CatalogError::Migration { version: 1, .. }) => {
            let message = error.to_string();
            assert!(
                message.contains("tampered") && message.contains("0001_initial.sql"),
                "the error names the recorded checksum and the file: {message}"
            );
        }
        other => panic!("a changed migration must be refused, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_newer_schema_is_used_with_a_warning() {
    let database = TestDatabase::create().await;
    database.catalog().await;
    database
        .client()
        .await
        .execute(
            "INSERT INTO pvs_schema_migrations (version, name, checksum) VALUES (9999, 'future', 'x')",
            &[],
        )
        .await
        .unwrap();
    let catalog = database.catalog().await;
    let applied = catalog.applied_migrations().await.unwrap();
    assert_eq!(applied.last(), Some(&(9999, "future".to_owned())));
}

#[tokio::test]
async fn connection_errors_are_clear_and_hide_the_password() {
    match PostgisCatalog::connect("postgres://pvs:s3cret@127.0.0.1:1/pvs").await {
        Err(error @ CatalogError::Connection { .. }) => {
            let message = error.to_string();
            assert!(
                message.contains("postgres://pvs:***@127.0.0.1:1/pvs")
                    && !message.contains("s3cret"),
                "{message}"
            );
            assert!(message.contains("error connecting to server"), "{message}");
        }
        other => panic!("an unreachable server must give a connection error, got {other:?}"),
    }
    match PostgisCatalog::connect("host=127.0.0.1 port=notaport password=s3cret").await {
        Err(error @ CatalogError::Connection { .. }) => {
            let message = error.to_string();
            assert!(!message.contains("s3cret"), "{message}");
            assert!(message.contains("invalid connection string"), "{message}");
        }
        other => panic!("a bad URL must give a connection error, got {other:?}"),
    }
    let missing = format!("pvs_test_missing_{}", uuid::Uuid::new_v4().simple());
    match PostgisCatalog::connect(&with_database(&admin_url(), &missing)).await {
        Err(error @ CatalogError::Connection { .. }) => {
            let message = error.to_string();
            assert!(message.contains(&missing), "{message}");
            assert!(message.contains("does not exist"), "{message}");
        }
        other => panic!("a missing database must give a connection error, got {other:?}"),
    }
}

/// PostGIS (GEOS) checks more than `geo` does: an interior split in two by a hole touching
/// the exterior is refused with PostGIS's reason, and nothing is stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgis_validity_reasons_are_reported() {
    use geo_types::{LineString, MultiPolygon, Polygon};
    use pvs_catalog::{Collection, Product};

    let database = TestDatabase::create().await;
    let catalog = database.catalog().await;
    catalog
        .upsert_collection(&Collection::new("S2").unwrap())
        .await
        .unwrap();
    let exterior = LineString::from(vec![(0.0, 0.0), (10.0, 0.0), (10.0, 10.0), (0.0, 10.0)]);
    let diamond = LineString::from(vec![(5.0, 0.0), (10.0, 5.0), (5.0, 10.0), (0.0, 5.0)]);
    let split = Product {
        properties: Default::default(),
        id: "split".to_owned(),
        collection: "S2".to_owned(),
        product_type: None,
        footprint: MultiPolygon(vec![Polygon::new(exterior, vec![diamond])]),
        begin: chrono::Utc::now(),
        end: chrono::Utc::now(),
        location: "split.tif".to_owned(),
        metadata: serde_json::json!({}),
    };
    for result in [
        catalog.register(&split).await,
        catalog
            .register_batch(std::slice::from_ref(&split))
            .await
            .remove(0),
    ] {
        match result {
            Err(error @ CatalogError::Invalid { .. }) => {
                let message = error.to_string();
                assert!(
                    message.contains("PostGIS") && message.contains("isconnected"),
                    "{message}"
                );
            }
            other => panic!("PostGIS must refuse a disconnected interior, got {other:?}"),
        }
    }
    assert_eq!(catalog.get("S2", "split").await.unwrap(), None);
}

/// A change whose transaction took its sequence number before another's but commits after
/// it is still read: the feed follows transactions, not sequence numbers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_committed_late_is_not_missed() {
    let database = TestDatabase::create().await;
    let catalog = database.catalog().await;
    catalog
        .upsert_collection(&pvs_catalog::Collection {
            name: "S2".to_owned(),
            product_type: None,
            metadata: serde_json::json!({}),
        })
        .await
        .unwrap();
    let cursor = catalog.changes("S2", None).await.unwrap().cursor;

    let mut slow = database.client().await;
    let transaction = slow.transaction().await.unwrap();
    transaction
        .execute(
            "INSERT INTO products (id, collection, footprint, begin_time, end_time, location) \
             VALUES ('slow', 'S2', ST_Multi(ST_MakeEnvelope(0, 0, 1, 1, 4326)), now(), now(), \
             'products/slow.tif')",
            &[],
        )
        .await
        .unwrap();
    // A later change commits first and is read.
    let fast = pvs_catalog::Product {
        id: "fast".to_owned(),
        collection: "S2".to_owned(),
        product_type: None,
        footprint: geo_types::MultiPolygon(vec![geo_types::Polygon::new(
            geo_types::LineString::from(vec![(5.0, 5.0), (6.0, 5.0), (6.0, 6.0), (5.0, 5.0)]),
            vec![],
        )]),
        begin: chrono::Utc::now(),
        end: chrono::Utc::now(),
        location: "products/fast.tif".to_owned(),
        metadata: serde_json::json!({}),
        properties: serde_json::Map::new(),
    };
    catalog.register(&fast).await.unwrap();
    let first = catalog.changes("S2", Some(&cursor)).await.unwrap();
    let wests = |changes: &pvs_catalog::Changes| -> Vec<f64> {
        changes.areas.iter().map(|area| area.west()).collect()
    };
    assert_eq!(wests(&first), vec![5.0]);

    transaction.commit().await.unwrap();
    let second = catalog.changes("S2", Some(&first.cursor)).await.unwrap();
    assert_eq!(
        wests(&second),
        vec![0.0],
        "the late commit is read, the other not again"
    );
    let third = catalog.changes("S2", Some(&second.cursor)).await.unwrap();
    assert_eq!(wests(&third), Vec::<f64>::new());
}
