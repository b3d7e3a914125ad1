//! Bulk removals on the real backends (PostGIS, Redis and the S3 test server) and their
//! embedded twins (SQLite catalog and queue, file storage): a collection's products of a time
//! range, and a whole collection with its cached tiles.

use std::collections::BTreeSet;
use std::sync::Arc;

use bytes::Bytes;
use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use geo::{MultiPolygon, polygon};
use pvs_catalog::testing::TestDatabase;
use pvs_catalog::{Bbox, Catalog, Collection, Product, SqliteCatalog};
use pvs_model::{Collections, ProductMetadata};
use pvs_queue::testing::TestRedis;
use pvs_queue::{QueueName, SqliteQueue, Stage, Status, WorkQueue};
use pvs_registrar::{Invalidation, RegisterError, Registrar, Removal, TimeRange};
use pvs_tiles::{Tile, TileFormat, TileKey, TileMatrixSet, TileStore, TileTime};
use serde_json::json;

/// The backends of one test, kept alive with it.
struct Setup {
    name: &'static str,
    queue: Arc<dyn WorkQueue>,
    catalog: Arc<dyn Catalog>,
    tiles: TileStore,
    _keep: Vec<Box<dyn std::any::Any + Send>>,
}

impl Setup {
    /// PostGIS, Redis and a bucket of the S3 test server.
    async fn servers() -> Self {
        let database = TestDatabase::create().await;
        let catalog = Arc::new(database.catalog().await);
        let redis = TestRedis::new().await;
        let storage = pvs_storage::testing::s3_storage("data").await;
        Self {
            name: "servers",
            queue: redis.queue.clone(),
            catalog,
            tiles: TileStore::new(storage, "tiles".parse().unwrap()),
            _keep: vec![Box::new(database), Box::new(redis)],
        }
    }

    /// The SQLite catalog and queue, and file storage, in a temporary folder.
    async fn embedded() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let storage_dir = dir.path().join("storage");
        std::fs::create_dir_all(&storage_dir).unwrap();
        let storage = pvs_test_support::storage::local_storage(&storage_dir);
        Self {
            name: "embedded",
            queue: Arc::new(
                SqliteQueue::open(dir.path().join("queue.db"))
                    .await
                    .unwrap(),
            ),
            catalog: Arc::new(
                SqliteCatalog::open(dir.path().join("catalog.db"))
                    .await
                    .unwrap(),
            ),
            tiles: TileStore::new(storage, "tiles".parse().unwrap()),
            _keep: vec![Box::new(dir)],
        }
    }

    async fn both() -> [Self; 2] {
        [Self::servers().await, Self::embedded().await]
    }

    /// A registrar with the tile store.
    fn registrar(&self) -> Registrar {
        self.registrar_without_tiles()
            .with_tile_store(self.tiles.clone())
    }

    /// A registrar without a tile store (nothing to invalidate).
    fn registrar_without_tiles(&self) -> Registrar {
        let collections =
            Collections::from_toml("[collections.S2]\nbrowse_types = [\"MSI\"]\n").unwrap();
        Registrar::new(
            self.queue.clone(),
            self.catalog.clone(),
            pvs_storage::Storage::from_url(&"memory://".parse().unwrap(), None).unwrap(),
            collections,
        )
    }

    /// Collections `S2` and `S2_L1C` with [`products`], each marked registered in the
    /// status sets, and a tile of each product's place in both layers of its collection.
    async fn fill(&self) {
        for name in ["S2", "S2_L1C"] {
            self.catalog
                .upsert_collection(&Collection::new(name).unwrap())
                .await
                .unwrap();
        }
        for product in products() {
            self.catalog.register(&product).await.unwrap();
            self.queue
                .mark_succeeded(Stage::Register, &product.id)
                .await
                .unwrap();
            for layer in layers(&product.collection) {
                self.tiles
                    .put(&tile_of(&layer, &product), Bytes::from_static(b"png"))
                    .await
                    .unwrap();
            }
        }
    }

    async fn ids(&self) -> BTreeSet<String> {
        self.catalog
            .search(&pvs_catalog::ProductQuery::new().with_limit(1000))
            .await
            .unwrap()
            .into_iter()
            .map(|product| product.id)
            .collect()
    }

    async fn records(&self) -> Vec<Invalidation> {
        self.queue
            .peek(QueueName::Invalidate, 100)
            .await
            .unwrap()
            .iter()
            .map(|record| serde_json::from_str(record).unwrap())
            .collect()
    }

    async fn has_tile(&self, layer: &str, product: &Product) -> bool {
        self.tiles.contains(&tile_of(layer, product)).await.unwrap()
    }
}

/// 2020-01-01T00:00:00Z plus `hours`.
fn hours(hours: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2020, 1, 1, 0, 0, 0).unwrap() + TimeDelta::hours(hours)
}

/// `S2`: `s2-0` to `s2-4`, one a day (00:00 to 23:00), each 5 degrees wide, 20 degrees
/// further east each day. `S2_L1C` (a name starting with `S2`): `l1c-0`, over the same
/// days and a place of its own.
fn products() -> Vec<Product> {
    let product = |id: &str, collection: &str, west: f64, south: f64, begin, end| {
        let (east, north) = (west + 5.0, south + 5.0);
        Product {
            id: id.to_owned(),
            collection: collection.to_owned(),
            product_type: None,
            footprint: MultiPolygon(vec![polygon![
                (x: west, y: south), (x: east, y: south), (x: east, y: north), (x: west, y: north),
            ]]),
            begin,
            end,
            location: format!("{collection}/{id}.tif"),
            metadata: json!({}),
            properties: Default::default(),
        }
    };
    let mut all: Vec<Product> = (0..5)
        .map(|day: i64| {
            product(
                &format!("s2-{day}"),
                "S2",
                day as f64 * 20.0,
                10.0,
                hours(day * 24),
                hours(day * 24 + 23),
            )
        })
        .collect();
    all.push(product(
        "l1c-0",
        "S2_L1C",
        -100.0,
        -40.0,
        hours(0),
        hours(5 * 24),
    ));
    all
}

fn layers(collection: &str) -> [String; 2] {
    [collection.to_owned(), format!("{collection}__outlines")]
}

/// The default-time WorldCRS84Quad tile at zoom 6 (about 2.8 degrees) just inside the
/// south-west corner of `product`'s footprint, in `layer`.
fn tile_of(layer: &str, product: &Product) -> TileKey {
    let corner = product.footprint.0[0].exterior().0[0];
    let (x, y) = (corner.x + 0.5, corner.y + 0.5);
    let range = TileMatrixSet::WorldCRS84Quad.tiles([x, y, x, y], 6)[0].clone();
    let tile: Tile = range.tiles().next().unwrap();
    TileKey::new(
        layer,
        TileTime::Default,
        TileMatrixSet::WorldCRS84Quad,
        tile,
        TileFormat::Png,
    )
    .unwrap()
}

fn set(ids: &[&str]) -> BTreeSet<String> {
    ids.iter().map(|id| id.to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_time_range_removes_exactly_its_products_and_shrinks_the_extent() {
    for setup in Setup::both().await {
        let name = setup.name;
        setup.fill().await;
        let registrar = setup.registrar();
        // Day 1 at 12:00 to day 3 at 12:00: intersects days 1, 2 and 3 (not day 0, which
        // ends at 23:00 the day before, nor day 4), and the S2_L1C product, of another
        // collection.
        let range = TimeRange::new("S2", hours(36), hours(3 * 24 + 12)).unwrap();

        let mut listed = Vec::new();
        let unchanged = registrar
            .deregister_range(&range, true, |removal| match removal {
                Removal::WouldRemove(product) => listed.push(product.id),
                other => panic!("{name}: a dry run removed {other:?}"),
            })
            .await
            .unwrap();
        assert_eq!(listed, ["s2-3", "s2-2", "s2-1"], "{name}");
        assert_eq!(unchanged.product_count, 5, "{name}: dry run");
        assert_eq!(setup.ids().await.len(), 6, "{name}: dry run");
        assert!(setup.records().await.is_empty(), "{name}: dry run");

        let mut removed = Vec::new();
        let after = registrar
            .deregister_range(&range, false, |removal| match removal {
                Removal::Removed(product) => removed.push(product.id),
                other => panic!("{name}: {other:?}"),
            })
            .await
            .unwrap();
        assert_eq!(removed, ["s2-3", "s2-2", "s2-1"], "{name}");
        assert_eq!(setup.ids().await, set(&["s2-0", "s2-4", "l1c-0"]), "{name}");

        // The extent is that of days 0 and 4: lon 0..85, lat 10..15, day 0 to day 4 23:00.
        assert_eq!(after.product_count, 2, "{name}");
        assert_eq!(
            after.bbox,
            Some(Bbox::new(0.0, 10.0, 85.0, 15.0).unwrap()),
            "{name}"
        );
        assert_eq!(
            (after.begin, after.end),
            (Some(hours(0)), Some(hours(4 * 24 + 23))),
            "{name}"
        );
        let listed = setup.catalog.collections().await.unwrap();
        assert_eq!(listed[0], after, "{name}: what capabilities and STAC read");

        // Each removed product: tiles of both layers gone, a record, the id forgotten.
        let all = products();
        for product in &all {
            let gone = removed.contains(&product.id);
            for layer in layers(&product.collection) {
                assert_eq!(
                    setup.has_tile(&layer, product).await,
                    !gone,
                    "{name}: tile of {} in {layer}",
                    product.id
                );
            }
            let status = setup
                .queue
                .status(Stage::Register, &product.id)
                .await
                .unwrap();
            let expected = if gone {
                Status::Unknown
            } else {
                Status::Succeeded
            };
            assert_eq!(status, expected, "{name}: status of {}", product.id);
        }
        let records = setup.records().await;
        let mut recorded: Vec<&str> = records
            .iter()
            .map(|record| record.product.as_deref().unwrap())
            .collect();
        recorded.sort();
        assert_eq!(recorded, ["s2-1", "s2-2", "s2-3"], "{name}");
        assert!(records.iter().all(|r| r.reason == "deregistered"), "{name}");
        assert_eq!(records[0].collection, "S2", "{name}");

        // Again: nothing left in the range.
        let again = registrar
            .deregister_range(&range, false, |removal| panic!("{name}: {removal:?}"))
            .await
            .unwrap();
        assert_eq!(again, after, "{name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_range_larger_than_a_page_is_removed_whole() {
    for setup in Setup::both().await {
        let name = setup.name;
        setup
            .catalog
            .upsert_collection(&Collection::new("S2").unwrap())
            .await
            .unwrap();
        let count = pvs_registrar::REMOVAL_PAGE as usize * 2 + 7;
        let base = products()[0].clone();
        let many: Vec<Product> = (0..count)
            .map(|i| Product {
                id: format!("p-{i:04}"),
                begin: hours(i as i64),
                end: hours(i as i64),
                ..base.clone()
            })
            .collect();
        for result in setup.catalog.register_batch(&many).await {
            result.unwrap();
        }
        let registrar = setup.registrar_without_tiles();
        let range = TimeRange::new("S2", hours(0), hours(count as i64)).unwrap();
        let mut would = 0;
        registrar
            .deregister_range(&range, true, |_| would += 1)
            .await
            .unwrap();
        assert_eq!(would, count, "{name}: the dry run lists every page");
        let mut removed = BTreeSet::new();
        let after = registrar
            .deregister_range(&range, false, |removal| match removal {
                Removal::Removed(product) => assert!(removed.insert(product.id)),
                other => panic!("{name}: {other:?}"),
            })
            .await
            .unwrap();
        assert_eq!(removed.len(), count, "{name}");
        assert_eq!(after.product_count, 0, "{name}");
        assert_eq!((after.bbox, after.begin), (None, None), "{name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_removals_are_refused_and_change_nothing() {
    for setup in Setup::both().await {
        let name = setup.name;
        setup.fill().await;
        let registrar = setup.registrar();
        let error = TimeRange::new("S2", hours(48), hours(24)).unwrap_err();
        assert_eq!(
            error.to_string(),
            "the time range of collection \"S2\": invalid time filter: start \
             2020-01-03T00:00:00+00:00 is after end 2020-01-02T00:00:00+00:00",
            "{name}"
        );
        let unknown = TimeRange::new("S2_L2A", hours(0), hours(100)).unwrap();
        let error = registrar
            .deregister_range(&unknown, false, |removal| panic!("{removal:?}"))
            .await
            .unwrap_err();
        assert!(
            matches!(&error, RegisterError::NoCollection(c) if c == "S2_L2A"),
            "{name}: {error}"
        );
        assert_eq!(error.to_string(), "no collection \"S2_L2A\" in the catalog");
        for refused in [
            registrar.delete_collection("S2_L2A", |_| panic!()).await,
            registrar.delete_collection("S", |_| panic!()).await,
        ] {
            assert!(
                matches!(refused, Err(RegisterError::NoCollection(_))),
                "{name}: {refused:?}"
            );
        }
        assert_eq!(setup.ids().await.len(), 6, "{name}");
        assert!(setup.records().await.is_empty(), "{name}");
        for product in products() {
            assert!(
                setup.has_tile(&product.collection, &product).await,
                "{name}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_collection_removes_its_products_and_every_tile_of_its_layers_only() {
    for setup in Setup::both().await {
        let name = setup.name;
        // A registrar that registered into S2 before it was deleted (a running worker).
        let worker = setup.registrar();
        let metadata = ProductMetadata::from_json(METADATA).unwrap();
        worker.register(&metadata).await.unwrap();
        setup.fill().await;
        // A layer of S2 that no other collection claims, and one outside any time.
        let extra = TileKey::new(
            "S2__extra",
            TileTime::parse("2020-01-01T00:00:00Z/2020-01-02T00:00:00Z").unwrap(),
            TileMatrixSet::WebMercatorQuad,
            Tile { z: 0, x: 0, y: 0 },
            TileFormat::Jpeg,
        )
        .unwrap();
        setup.tiles.put(&extra, Bytes::new()).await.unwrap();

        let registrar = setup.registrar();
        let plan = registrar.collection_deletion("S2").await.unwrap();
        assert_eq!(plan.info.product_count, 6, "{name}");
        assert_eq!(
            plan.layers,
            ["S2", "S2__extra", "S2__outlines"],
            "{name}: not S2_L1C's"
        );
        assert_eq!(
            setup.ids().await.len(),
            7,
            "{name}: the plan changes nothing"
        );

        let mut removed = BTreeSet::new();
        let deleted = registrar
            .delete_collection("S2", |product| {
                removed.insert(product.id.clone());
            })
            .await
            .unwrap();
        assert_eq!(
            removed,
            set(&["s2-0", "s2-1", "s2-2", "s2-3", "s2-4", "msi-1"]),
            "{name}"
        );
        assert_eq!(deleted.products, 6, "{name}");
        assert_eq!(deleted.layers, plan.layers, "{name}");
        assert_eq!(deleted.tiles, 11, "{name}: 5 + 5 + 1 tiles");
        assert_eq!(
            setup.catalog.collection("S2").await.unwrap(),
            None,
            "{name}"
        );
        assert_eq!(setup.ids().await, set(&["l1c-0"]), "{name}");
        for layer in ["S2", "S2__outlines", "S2__extra"] {
            assert!(setup.tiles.list(layer).await.unwrap().is_empty(), "{name}");
        }
        for layer in layers("S2_L1C") {
            assert_eq!(setup.tiles.list(&layer).await.unwrap().len(), 1, "{name}");
        }
        for id in removed {
            assert_eq!(
                setup.queue.status(Stage::Register, &id).await.unwrap(),
                Status::Unknown,
                "{name}: {id} forgotten"
            );
        }
        let records = setup.records().await;
        assert_eq!(records.len(), 1, "{name}: one record for the collection");
        assert_eq!(
            records[0],
            Invalidation {
                collection: "S2".to_owned(),
                bbox: [0.0, 10.0, 85.0, 50.0],
                start: hours(0),
                end: hours(4 * 24 + 23),
                product: None,
                reason: "collection deleted".to_owned(),
            },
            "{name}"
        );
        let raw = setup.queue.peek(QueueName::Invalidate, 1).await.unwrap();
        assert!(!raw[0].contains("product"), "{name}: {}", raw[0]);

        // The worker that created S2 before registers into it again: S2 is created anew.
        worker.register(&metadata).await.unwrap();
        assert!(
            setup.catalog.collection("S2").await.unwrap().is_some(),
            "{name}"
        );
        assert_eq!(setup.ids().await, set(&["l1c-0", "msi-1"]), "{name}");
    }
}

/// A product of browse type MSI (collection S2), lon 40..45, lat 45..50, 2020-01-03.
const METADATA: &str = r#"{
  "id": "msi-1",
  "collection": "MSI",
  "footprint": {"type": "MultiPolygon", "coordinates": [[[[40.0, 45.0], [45.0, 45.0], [45.0, 50.0], [40.0, 50.0], [40.0, 45.0]]]]},
  "start": "2020-01-03T10:00:00Z",
  "end": "2020-01-03T10:01:00Z",
  "cog": {"key": "MSI/msi-1/msi-1.tif", "size_bytes": 10, "width": 10, "height": 10, "bands": 4, "alpha": true,
          "crs": "EPSG:4326", "bbox": [40.0, 45.0, 45.0, 50.0], "resolution": [0.5, 0.5]},
  "source": {"file": "msi-1.jpg", "browse_identifier": "msi-1",
             "report": {"name": "r.xml", "responsible_org_name": "ESA", "date_time": "2020-01-04T09:30:00Z", "browse_type": "MSI"}},
  "processed_at": "2020-01-04T04:00:00Z"
}"#;
