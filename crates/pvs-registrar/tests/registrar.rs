//! The registrar against a real PostGIS (a database per test), a real Redis (a key prefix per
//! test) and the S3 test server (a bucket per test).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use pvs_catalog::testing::TestDatabase;
use pvs_catalog::{Catalog, PostgisCatalog};
use pvs_model::{BrowseItem, BrowseReport, CogInfo, Collections, ProductMetadata, SourceInfo};
use pvs_queue::testing::TestRedis;
use pvs_queue::{QueueName, RedisQueue, Stage, Status, TransientRetry, WorkQueue};
use pvs_registrar::{Invalidation, Registrar};
use pvs_storage::Storage;
use pvs_storage::testing::{LateEndpoint, quick_retry};

struct Setup {
    _database: TestDatabase,
    catalog: Arc<PostgisCatalog>,
    _redis: TestRedis,
    queue: Arc<RedisQueue>,
    storage: Storage,
}

impl Setup {
    async fn new() -> Self {
        let database = TestDatabase::create().await;
        let catalog = Arc::new(database.catalog().await);
        let redis = TestRedis::new().await;
        let queue = redis.queue.clone();
        let storage = pvs_storage::testing::s3_storage("data").await;
        Self {
            _database: database,
            catalog,
            _redis: redis,
            queue,
            storage,
        }
    }

    fn registrar(&self, collections: Collections) -> Registrar {
        Registrar::new(
            self.queue.clone(),
            self.catalog.clone(),
            self.storage.clone(),
            collections,
        )
    }

    /// Stores the metadata document of `metadata` where the preprocessor would and returns
    /// its key (the register_queue message).
    async fn store(&self, metadata: &ProductMetadata) -> String {
        let key = format!("{0}/{1}/{1}.json", metadata.collection, metadata.id);
        self.storage
            .put(&key.parse().unwrap(), Bytes::from(metadata.to_json()))
            .await
            .unwrap();
        key
    }
}

/// The metadata the preprocessor would write for the first browse of a fixture report.
fn metadata_of(fixture: &str) -> ProductMetadata {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/ngeo")
        .join(fixture);
    let report = BrowseReport::parse(&std::fs::read(path).unwrap()).unwrap();
    let browse = report.valid_browses().next().unwrap();
    let item = BrowseItem::new(&report, browse, fixture);
    ProductMetadata {
        id: item.id.clone(),
        collection: item.collection.clone(),
        footprint: item.footprint.clone().expect("an EPSG:4326 footprint"),
        start: item.start,
        end: item.end,
        cog: CogInfo {
            key: format!("{0}/{1}/{1}.tif", item.collection, item.id),
            size_bytes: 1000,
            width: 100,
            height: 100,
            bands: 4,
            alpha: true,
            crs: "EPSG:4326".to_owned(),
            bbox: [0.0, 0.0, 1.0, 1.0],
            resolution: [0.01, 0.01],
        },
        source: SourceInfo {
            file: item.file.as_str().to_owned(),
            browse_identifier: item.browse_identifier.as_ref().map(ToString::to_string),
            report: item.report,
            merged_with: None,
        },
        processed_at: "2026-11-23T04:00:00Z".parse().unwrap(),
        properties: Default::default(),
        masks: Default::default(),
    }
}

const SAR: &str = "reference_test_data/browseReport_ASA_IM__0P_20100722_213840.xml";
const DATELINE: &str = "test_data/BrowseReport_crosses_dateline2.xml";

#[tokio::test]
async fn a_product_is_registered_searchable_and_seeded() {
    let setup = Setup::new().await;
    let collections = Collections::from_toml(
        "[collections.RADAR]\nbrowse_types = [\"SAR\"]\nproduct_type = \"ASA_IM\"\nseed_zoom = [0, 6]\n",
    )
    .unwrap();
    let registrar = setup.registrar(collections);
    let metadata = metadata_of(SAR);
    let key = setup.store(&metadata).await;
    let registered = registrar.handle(&key).await.unwrap().expect("registered");
    assert!(!registered.replaced);
    assert!(registered.seeded);

    let product = setup
        .catalog
        .get("RADAR", "b_id_1")
        .await
        .unwrap()
        .expect("in the catalog");
    assert_eq!(product.collection, "RADAR");
    assert_eq!(product.product_type.as_deref(), Some("ASA_IM"));
    assert_eq!(product.location, "SAR/b_id_1/b_id_1.tif");
    assert_eq!(product.begin, metadata.start);
    assert_eq!(product.metadata["cog"]["bands"], 4);
    let found = setup
        .catalog
        .search(
            &pvs_catalog::ProductQuery::default()
                .with_bbox(pvs_catalog::Bbox::new(-2.0, 50.0, -1.0, 51.0).unwrap()),
        )
        .await
        .unwrap();
    assert_eq!(found.len(), 1);

    assert_eq!(
        setup.queue.status(Stage::Register, "b_id_1").await.unwrap(),
        Status::Succeeded
    );
    assert_eq!(
        setup.queue.peek(QueueName::Seed, 10).await.unwrap(),
        ["2010-07-22T21:38:40Z/2010-07-22T21:39:38Z"]
    );
    assert_eq!(setup.queue.len(QueueName::Invalidate).await.unwrap(), 0);
}

/// Object storage unreachable when the registrar reads a product's metadata document, back
/// 1.5 s later: the product is registered, not failed (the registrar tries again while the
/// fault lasts less than its retry period), and its registration report says success.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storage_back_within_the_retry_period_registers_the_product() {
    let setup = Setup::new().await;
    let metadata = metadata_of(SAR);
    let key = setup.store(&metadata).await;
    let endpoint = LateEndpoint::new(Duration::from_millis(1500));
    let storage = endpoint.storage(&setup.storage, quick_retry(1));
    let registrar = Registrar::new(
        setup.queue.clone(),
        setup.catalog.clone(),
        storage,
        Collections::default(),
    )
    .with_transient_retry(TransientRetry {
        first_pause: Duration::from_millis(200),
        max_pause: Duration::from_millis(400),
        give_up_after: Duration::from_secs(60),
    });
    let started = std::time::Instant::now();
    registrar.handle(&key).await.unwrap().expect("registered");
    assert!(started.elapsed() >= Duration::from_millis(1500));
    assert_eq!(
        setup.queue.status(Stage::Register, "b_id_1").await.unwrap(),
        Status::Succeeded
    );
    assert!(setup.catalog.get("SAR", "b_id_1").await.unwrap().is_some());

    // With no retry period, the same fault fails the product at once, naming the document.
    let endpoint = LateEndpoint::new(Duration::from_secs(3600));
    let registrar = Registrar::new(
        setup.queue.clone(),
        setup.catalog.clone(),
        endpoint.storage(&setup.storage, quick_retry(0)),
        Collections::default(),
    )
    .with_transient_retry(TransientRetry {
        give_up_after: Duration::ZERO,
        ..TransientRetry::default()
    });
    assert!(registrar.handle(&key).await.unwrap().is_none());
    let Status::Failed { reason } = setup.queue.status(Stage::Register, "b_id_1").await.unwrap()
    else {
        panic!("not failed");
    };
    assert!(
        reason.starts_with("cannot read metadata document `SAR/b_id_1/b_id_1.json`"),
        "{reason}"
    );
}

#[tokio::test]
async fn registering_an_id_again_replaces_it_and_invalidates_its_tiles() {
    let setup = Setup::new().await;
    let registrar = setup.registrar(Collections::default());
    let first = metadata_of(SAR);
    registrar.handle(&setup.store(&first).await).await.unwrap();
    let mut second = first.clone();
    second.start = "2010-07-23T00:00:00Z".parse().unwrap();
    second.end = "2010-07-23T00:01:00Z".parse().unwrap();
    let registered = registrar
        .handle(&setup.store(&second).await)
        .await
        .unwrap()
        .unwrap();
    assert!(registered.replaced);
    assert!(!registered.seeded, "no seed_zoom without configuration");
    let product = setup.catalog.get("SAR", "b_id_1").await.unwrap().unwrap();
    assert_eq!(product.begin, second.start);
    assert_eq!(setup.catalog.count(&Default::default()).await.unwrap(), 1);

    let records = setup.queue.peek(QueueName::Invalidate, 10).await.unwrap();
    assert_eq!(records.len(), 1);
    let record: Invalidation = serde_json::from_str(&records[0]).unwrap();
    assert_eq!(record.product.as_deref(), Some("b_id_1"));
    assert_eq!(record.collection, "SAR");
    assert_eq!(record.reason, "replaced");
    assert_eq!(record.start, first.start, "the old version's time");
    let [w, s, e, n] = record.bbox;
    assert!(
        w < -2.7 && e > -0.1 && s > 49.0 && n < 53.2,
        "{:?}",
        record.bbox
    );
    assert_eq!(setup.queue.len(QueueName::Seed).await.unwrap(), 0);
}

#[tokio::test]
async fn without_invalidation_records_replacements_and_removals_push_none() {
    let setup = Setup::new().await;
    let registrar = setup
        .registrar(Collections::default())
        .with_invalidation_records(false);
    let first = metadata_of(SAR);
    registrar.handle(&setup.store(&first).await).await.unwrap();
    // Registered again (the same document): a replacement.
    let registered = registrar
        .handle(&setup.store(&first).await)
        .await
        .unwrap()
        .unwrap();
    assert!(registered.replaced);
    assert!(
        !registrar
            .deregister(None, "b_id_1")
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(setup.catalog.count(&Default::default()).await.unwrap(), 0);
    assert_eq!(setup.queue.len(QueueName::Invalidate).await.unwrap(), 0);
}

#[tokio::test]
async fn an_antimeridian_footprint_is_registered_as_two_polygons() {
    let setup = Setup::new().await;
    let registrar = setup.registrar(Collections::default());
    let metadata = metadata_of(DATELINE);
    registrar
        .handle(&setup.store(&metadata).await)
        .await
        .unwrap()
        .unwrap();
    let product = setup
        .catalog
        .get(&metadata.collection, &metadata.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(product.footprint.0.len(), 2);
    for bbox in [(170.0, 80.0, 175.0, 81.0), (-175.0, 80.0, -170.0, 81.0)] {
        let query = pvs_catalog::ProductQuery::default()
            .with_bbox(pvs_catalog::Bbox::new(bbox.0, bbox.1, bbox.2, bbox.3).unwrap());
        assert_eq!(setup.catalog.count(&query).await.unwrap(), 1, "{bbox:?}");
    }
}

#[tokio::test]
async fn bad_messages_fail_that_product_only_with_a_reason() {
    let setup = Setup::new().await;
    let collections =
        Collections::from_toml("[collections.OPTICAL]\nbrowse_types = [\"OPTICAL\"]\n").unwrap();
    let registrar = setup.registrar(collections);

    // A document that is not there.
    registrar.handle("SAR/missing/missing.json").await.unwrap();
    // A document that is not product metadata.
    setup
        .storage
        .put(
            &"SAR/junk/junk.json".parse().unwrap(),
            Bytes::from_static(b"{\"id\": 1}"),
        )
        .await
        .unwrap();
    registrar.handle("SAR/junk/junk.json").await.unwrap();
    // A message that is not a key.
    registrar.handle("../../etc/passwd").await.unwrap();
    // A browse type no collection takes.
    let sar = metadata_of(SAR);
    registrar.handle(&setup.store(&sar).await).await.unwrap();
    // An invalid (self-intersecting) footprint.
    let mut bowtie = metadata_of(SAR);
    bowtie.id = "bowtie".to_owned();
    bowtie.source.report.browse_type = "OPTICAL".to_owned();
    bowtie.footprint = pvs_model::GeoJsonGeometry::MultiPolygon {
        coordinates: vec![vec![vec![
            [0.0, 0.0],
            [1.0, 1.0],
            [1.0, 0.0],
            [0.0, 1.0],
            [0.0, 0.0],
        ]]],
    };
    registrar.handle(&setup.store(&bowtie).await).await.unwrap();
    // Times the wrong way round.
    let mut backwards = metadata_of(SAR);
    backwards.id = "backwards".to_owned();
    backwards.source.report.browse_type = "OPTICAL".to_owned();
    std::mem::swap(&mut backwards.start, &mut backwards.end);
    registrar
        .handle(&setup.store(&backwards).await)
        .await
        .unwrap();

    let reason = |id: &str| {
        let queue = setup.queue.clone();
        let id = id.to_owned();
        async move {
            match queue.status(Stage::Register, &id).await.unwrap() {
                Status::Failed { reason } => reason,
                other => panic!("{id}: expected a failure, got {other:?}"),
            }
        }
    };
    assert!(reason("missing").await.contains("does not exist"));
    assert!(
        reason("junk")
            .await
            .contains("not a product metadata document")
    );
    assert!(reason("passwd").await.contains("not a storage key"));
    assert!(
        reason("b_id_1")
            .await
            .contains("belongs to no configured collection")
    );
    assert!(reason("bowtie").await.contains("footprint"));
    let backwards = reason("backwards").await;
    assert!(
        backwards.contains("begin") || backwards.contains("end"),
        "{backwards}"
    );
    assert_eq!(setup.catalog.count(&Default::default()).await.unwrap(), 0);
    assert_eq!(setup.queue.len(QueueName::Seed).await.unwrap(), 0);
}

/// Masks registered with a product: those of the collection's mask types, valid, are kept in
/// the product's metadata (where the renderer reads them); any other fails the product alone.
#[tokio::test]
async fn masks_of_the_collections_types_are_registered_others_fail() {
    let setup = Setup::new().await;
    let collections = Collections::from_toml(
        "[collections.OPTICAL]\nbrowse_types = [\"OPTICAL\"]\n[collections.OPTICAL.masks.clouds]\n",
    )
    .unwrap();
    let registrar = setup.registrar(collections);
    let square = |a: f64, b: f64| pvs_model::GeoJsonGeometry::MultiPolygon {
        coordinates: vec![vec![vec![[a, a], [b, a], [b, b], [a, b], [a, a]]]],
    };
    let product = |id: &str, mask: &str, geometry| {
        let mut metadata = metadata_of(SAR);
        metadata.id = id.to_owned();
        metadata.source.report.browse_type = "OPTICAL".to_owned();
        metadata.masks.insert(mask.to_owned(), geometry);
        metadata
    };
    let good = product("masked", "clouds", square(0.0, 1.0));
    let unknown = product("unknown-mask", "snow", square(0.0, 1.0));
    let bowtie = product(
        "bowtie-mask",
        "clouds",
        pvs_model::GeoJsonGeometry::MultiPolygon {
            coordinates: vec![vec![vec![
                [0.0, 0.0],
                [1.0, 1.0],
                [1.0, 0.0],
                [0.0, 1.0],
                [0.0, 0.0],
            ]]],
        },
    );
    for metadata in [&good, &unknown, &bowtie] {
        registrar
            .handle(&setup.store(metadata).await)
            .await
            .unwrap();
    }
    let stored = setup
        .catalog
        .get("OPTICAL", "masked")
        .await
        .unwrap()
        .expect("registered");
    assert_eq!(
        stored.metadata["masks"]["clouds"],
        serde_json::to_value(square(0.0, 1.0)).unwrap()
    );
    for (id, says) in [
        (
            "unknown-mask",
            "mask \"snow\": not a mask type of collection \"OPTICAL\" (its mask types: clouds",
        ),
        (
            "bowtie-mask",
            "mask \"clouds\": the mask is not a valid geometry",
        ),
    ] {
        match setup.queue.status(Stage::Register, id).await.unwrap() {
            Status::Failed { reason } => assert!(reason.contains(says), "{id}: {reason}"),
            other => panic!("{id}: expected a failure, got {other:?}"),
        }
        assert!(
            setup.catalog.get("OPTICAL", id).await.unwrap().is_none(),
            "{id}"
        );
    }
}

#[tokio::test]
async fn the_worker_consumes_the_queue_and_stops_cleanly() {
    let setup = Setup::new().await;
    let registrar = Arc::new(setup.registrar(Collections::default()));
    let sar = metadata_of(SAR);
    let dateline = metadata_of(DATELINE);
    let keys = vec![setup.store(&sar).await, setup.store(&dateline).await];
    setup
        .queue
        .push_many(QueueName::Register, &keys)
        .await
        .unwrap();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let worker = tokio::spawn(registrar.run("registrar-test", 4, stopped));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while setup.catalog.count(&Default::default()).await.unwrap() < 2 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "not registered in time"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.send(true).unwrap();
    worker.await.unwrap().unwrap();
    assert_eq!(setup.queue.len(QueueName::Register).await.unwrap(), 0);
    assert!(
        setup
            .queue
            .processing(QueueName::Register)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        setup
            .queue
            .members(Stage::Register, pvs_queue::StatusSet::Success)
            .await
            .unwrap(),
        {
            let mut ids = vec![sar.id.clone(), dateline.id.clone()];
            ids.sort();
            ids
        }
    );
}

#[tokio::test]
async fn deregistration_removes_the_product_and_invalidates_its_tiles() {
    let setup = Setup::new().await;
    let registrar = Arc::new(setup.registrar(Collections::default()));
    let sar = metadata_of(SAR);
    registrar
        .handle(&setup.store(&sar).await)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        setup.queue.status(Stage::Register, "b_id_1").await.unwrap(),
        Status::Succeeded
    );
    assert!(
        registrar
            .deregister(None, "unknown")
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(setup.queue.len(QueueName::Invalidate).await.unwrap(), 0);

    // Through the queue, as operators and the ngEO controller do.
    setup
        .queue
        .push(QueueName::Deregister, "b_id_1")
        .await
        .unwrap();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let worker = tokio::spawn(registrar.clone().run("registrar-dereg", 2, stopped));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while setup.catalog.get("SAR", "b_id_1").await.unwrap().is_some() {
        assert!(tokio::time::Instant::now() < deadline, "not deregistered");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.send(true).unwrap();
    worker.await.unwrap().unwrap();
    let records = setup.queue.peek(QueueName::Invalidate, 10).await.unwrap();
    let record: Invalidation = serde_json::from_str(&records[0]).unwrap();
    assert_eq!(record.reason, "deregistered");
    assert_eq!(record.product.as_deref(), Some("b_id_1"));
    assert_eq!(
        setup.queue.status(Stage::Register, "b_id_1").await.unwrap(),
        Status::Unknown
    );
    assert_eq!(setup.queue.len(QueueName::Deregister).await.unwrap(), 0);
}

/// ngEO: browse identifiers are unique per browse layer. The same id from reports of two
/// browse types (two collections) is two products, neither moved nor replaced by the other; a
/// `deregister_queue` message naming the collection (the JSON form) removes that one, a plain
/// id (PVS's form) removes it from every collection.
#[tokio::test]
async fn the_same_id_under_two_browse_types_is_two_products() {
    let setup = Setup::new().await;
    let registrar = Arc::new(
        setup.registrar(
            Collections::from_toml(
                "[collections.SAR]
[collections.SAR_ARCHIVE]
",
            )
            .unwrap(),
        ),
    );
    let sar = metadata_of(SAR);
    let mut archive = sar.clone();
    archive.collection = "SAR_ARCHIVE".to_owned();
    archive.source.report.browse_type = "SAR_ARCHIVE".to_owned();
    archive.cog.key = "SAR_ARCHIVE/b_id_1/b_id_1.tif".to_owned();
    archive.start = "2011-01-01T00:00:00Z".parse().unwrap();
    archive.end = archive.start;
    for metadata in [&sar, &archive] {
        let registered = registrar
            .handle(&setup.store(metadata).await)
            .await
            .unwrap()
            .expect("registered");
        assert!(
            !registered.replaced,
            "{}: nothing replaced",
            metadata.collection
        );
        assert_eq!(registered.product.collection, metadata.collection);
    }
    let in_sar = setup.catalog.get("SAR", "b_id_1").await.unwrap().unwrap();
    let in_archive = setup
        .catalog
        .get("SAR_ARCHIVE", "b_id_1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(in_sar.begin, sar.start, "the SAR product was not moved");
    assert_eq!(in_archive.begin, archive.start);
    assert_eq!(in_archive.location, archive.cog.key);
    assert_eq!(setup.queue.len(QueueName::Invalidate).await.unwrap(), 0);

    // The JSON message removes the product of that collection only.
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let worker = tokio::spawn(registrar.clone().run("registrar-ids", 2, stopped));
    let scoped = pvs_model::Deregistration {
        collection: Some("SAR_ARCHIVE".to_owned()),
        id: "b_id_1".to_owned(),
    };
    setup
        .queue
        .push(QueueName::Deregister, &scoped.to_message())
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while setup
        .catalog
        .get("SAR_ARCHIVE", "b_id_1")
        .await
        .unwrap()
        .is_some()
    {
        assert!(tokio::time::Instant::now() < deadline, "not deregistered");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        setup.catalog.get("SAR", "b_id_1").await.unwrap(),
        Some(in_sar),
        "the other collection's product stays"
    );

    // A plain id removes it everywhere.
    registrar
        .handle(&setup.store(&archive).await)
        .await
        .unwrap()
        .expect("registered again");
    setup
        .queue
        .push(QueueName::Deregister, "b_id_1")
        .await
        .unwrap();
    let everywhere = pvs_catalog::ProductQuery::new().with_ids(["b_id_1"]);
    while setup.catalog.count(&everywhere).await.unwrap() > 0 {
        assert!(tokio::time::Instant::now() < deadline, "not deregistered");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.send(true).unwrap();
    worker.await.unwrap().unwrap();
    let records = setup.queue.peek(QueueName::Invalidate, 10).await.unwrap();
    let mut removed: Vec<(String, String)> = records
        .iter()
        .map(|record| {
            let record: Invalidation = serde_json::from_str(record).unwrap();
            (record.collection, record.reason)
        })
        .collect();
    removed.sort();
    assert_eq!(
        removed,
        [
            ("SAR".to_owned(), "deregistered".to_owned()),
            ("SAR_ARCHIVE".to_owned(), "deregistered".to_owned()),
            ("SAR_ARCHIVE".to_owned(), "deregistered".to_owned()),
        ]
    );
}

#[tokio::test]
async fn products_under_a_prefix_are_registered_without_the_queue() {
    use pvs_registrar::{PrefixOptions, PrefixOutcome};
    let setup = Setup::new().await;
    let registrar = setup.registrar(Collections::default());
    let sar = metadata_of(SAR);
    setup.store(&sar).await; // SAR/b_id_1/b_id_1.json
    setup
        .storage
        .put(
            &"SAR/b_id_1/b_id_1.tif".parse().unwrap(),
            Bytes::from_static(b"cog"),
        )
        .await
        .unwrap();
    setup
        .storage
        .put(
            &"SAR/broken/broken.json".parse().unwrap(),
            Bytes::from_static(b"[]"),
        )
        .await
        .unwrap();

    let dry = PrefixOptions {
        dry_run: true,
        ..Default::default()
    };
    let outcomes = registrar.register_prefix("SAR", &dry).await.unwrap();
    assert_eq!(outcomes.len(), 2);
    assert!(
        matches!(&outcomes[0], PrefixOutcome::WouldRegister { id, replaces: false, .. } if id == "b_id_1")
    );
    assert!(
        matches!(&outcomes[1], PrefixOutcome::Failed { key, reason } if key == "SAR/broken/broken.json" && reason.contains("not a product metadata document"))
    );
    assert_eq!(
        setup.catalog.count(&Default::default()).await.unwrap(),
        0,
        "dry run wrote"
    );

    let forced = PrefixOptions {
        collection: Some("ARCHIVE".to_owned()),
        ..Default::default()
    };
    let outcomes = registrar
        .register_prefix("SAR/b_id_1/", &forced)
        .await
        .unwrap();
    assert!(
        matches!(&outcomes[0], PrefixOutcome::Registered(r) if !r.replaced && r.product.collection == "ARCHIVE")
    );
    assert!(
        setup
            .catalog
            .get("ARCHIVE", "b_id_1")
            .await
            .unwrap()
            .is_some()
    );

    // Again: skipped without --replace, replaced with it.
    let outcomes = registrar
        .register_prefix("SAR/b_id_1", &forced)
        .await
        .unwrap();
    assert!(
        matches!(&outcomes[0], PrefixOutcome::Skipped { reason, .. } if reason.contains("--replace"))
    );
    let replace = PrefixOptions {
        replace: true,
        ..forced.clone()
    };
    let outcomes = registrar
        .register_prefix("SAR/b_id_1", &replace)
        .await
        .unwrap();
    assert!(matches!(&outcomes[0], PrefixOutcome::Registered(r) if r.replaced));

    // Into its own collection: another product (ids are unique per collection), not a move.
    let outcomes = registrar
        .register_prefix("SAR/b_id_1", &Default::default())
        .await
        .unwrap();
    assert!(
        matches!(&outcomes[0], PrefixOutcome::Registered(r) if !r.replaced && r.product.collection == "SAR")
    );
    for collection in ["ARCHIVE", "SAR"] {
        assert!(
            setup
                .catalog
                .get(collection, "b_id_1")
                .await
                .unwrap()
                .is_some(),
            "{collection}"
        );
    }
    assert_eq!(setup.queue.len(QueueName::Invalidate).await.unwrap(), 1);

    // A prefix without any metadata document, and one that is not a key.
    let err = registrar
        .register_prefix("nothing-here", &Default::default())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("no metadata document"), "{err}");
    let err = registrar
        .register_prefix("../up", &Default::default())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("not a storage key"), "{err}");
}

#[tokio::test]
async fn the_registration_report_is_written_when_every_product_is_done() {
    let setup = Setup::new().await;
    let reports = tempfile::tempdir().unwrap();
    let collections =
        Collections::from_toml("[collections.SAR]\nbrowse_types = [\"SAR\"]\n").unwrap();
    let registrar = setup
        .registrar(collections)
        .with_report_dir(reports.path().to_owned());
    let good = metadata_of(SAR);
    let mut bad = metadata_of(SAR);
    bad.id = "b_id_unknown_type".to_owned();
    bad.source.report.browse_type = "OPTICAL".to_owned();
    let report_name = good.source.report.name.clone();
    // What the ingestor does when it queues the report's two products.
    setup
        .queue
        .report_open(
            &report_name,
            2,
            &serde_json::to_string(&good.source.report).unwrap(),
        )
        .await
        .unwrap();
    registrar.handle(&setup.store(&good).await).await.unwrap();
    let files = || {
        std::fs::read_dir(reports.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect::<Vec<_>>()
    };
    assert!(files().is_empty(), "written before the report was complete");
    registrar.handle(&setup.store(&bad).await).await.unwrap();
    let written = files();
    assert_eq!(written.len(), 1, "{written:?}");
    let name = written[0]
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    assert!(
        name.starts_with(
            "reference_test_data_browseReport_ASA_IM__0P_20100722_213840_registration_"
        ) && name.ends_with(".xml"),
        "{name}"
    );
    let xml = std::fs::read_to_string(&written[0]).unwrap();
    assert!(xml.contains("<reg:status>partial</reg:status>"), "{xml}");
    assert!(
        xml.contains("<reg:identifier>b_id_1</reg:identifier>"),
        "{xml}"
    );
    assert!(xml.contains("belongs to no configured collection"), "{xml}");
    assert_valid_report(&written[0]);
}

/// Asserts that the registration report at `path` is valid against its XSD.
fn assert_valid_report(path: &std::path::Path) {
    let schema = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../schemas/registration-report.xsd");
    let lint = std::process::Command::new("xmllint")
        .args(["--noout", "--schema"])
        .arg(schema)
        .arg(path)
        .output()
        .expect("xmllint (libxml2-utils) is installed by scripts/setup.sh");
    assert!(
        lint.status.success(),
        "{}",
        String::from_utf8_lossy(&lint.stderr)
    );
}

/// A COG written by GDAL into `dir`: `width` × `height` pixels in EPSG:4326 with the
/// geotransform `gt`, a grey band and an alpha band opaque where `opaque(x, y)`, and the
/// metadata items `tags`.
fn write_cog(
    dir: &std::path::Path,
    name: &str,
    (width, height): (usize, usize),
    gt: [f64; 6],
    opaque: fn(usize, usize) -> bool,
    tags: &[(&str, &str)],
) -> std::path::PathBuf {
    use gdal::Metadata;
    use gdal::raster::{Buffer, ColorInterpretation};
    let source = dir.join(format!("source_{name}"));
    let gtiff = gdal::DriverManager::get_driver_by_name("GTiff").unwrap();
    let mut dataset = gtiff
        .create_with_band_type::<u8, _>(&source, width, height, 2)
        .unwrap();
    dataset.set_geo_transform(&gt).unwrap();
    dataset
        .set_spatial_ref(&gdal::spatial_ref::SpatialRef::from_epsg(4326).unwrap())
        .unwrap();
    for (key, value) in tags {
        dataset.set_metadata_item(key, value, "").unwrap();
    }
    let pixels = |value: &dyn Fn(usize, usize) -> u8| {
        let data = (0..height)
            .flat_map(|y| (0..width).map(move |x| (x, y)))
            .map(|(x, y)| value(x, y))
            .collect();
        Buffer::new((width, height), data)
    };
    let mut grey = dataset.rasterband(1).unwrap();
    grey.write((0, 0), (width, height), &mut pixels(&|x, y| (x + y) as u8))
        .unwrap();
    let mut alpha = dataset.rasterband(2).unwrap();
    alpha
        .write(
            (0, 0),
            (width, height),
            &mut pixels(&|x, y| if opaque(x, y) { 255 } else { 0 }),
        )
        .unwrap();
    alpha
        .set_color_interpretation(ColorInterpretation::AlphaBand)
        .unwrap();
    let cog = gdal::DriverManager::get_driver_by_name("COG").unwrap();
    let path = dir.join(name);
    dataset
        .create_copy(&cog, &path, &Default::default())
        .unwrap()
        .close()
        .unwrap();
    path
}

/// A 200 × 100 COG of 0.01° pixels over lon 10..12, lat 49..50, opaque in its east half
/// (lon 11..12).
fn east_half_cog(dir: &std::path::Path, name: &str, tags: &[(&str, &str)]) -> std::path::PathBuf {
    write_cog(
        dir,
        name,
        (200, 100),
        [10.0, 0.01, 0.0, 50.0, 0.0, -0.01],
        |x, _| x >= 100,
        tags,
    )
}

impl Setup {
    /// Uploads the file at `path` to `key`.
    async fn upload(&self, path: &std::path::Path, key: &str) {
        self.storage
            .put_file(&key.parse().unwrap(), path)
            .await
            .unwrap();
    }

    async fn count_in(&self, bbox: (f64, f64, f64, f64)) -> u64 {
        let query = pvs_catalog::ProductQuery::default()
            .with_bbox(pvs_catalog::Bbox::new(bbox.0, bbox.1, bbox.2, bbox.3).unwrap());
        self.catalog.count(&query).await.unwrap()
    }
}

const S2_NAME: &str = "S2A_MSIL2A_20230101T103021_N0509_R108_T32TQM_20230101T120000";

#[tokio::test]
async fn a_cog_without_metadata_is_registered_with_a_derived_footprint_and_time() {
    use geo::BoundingRect;
    use pvs_registrar::{PrefixOptions, PrefixOutcome};
    let setup = Setup::new().await;
    let registrar = setup.registrar(Collections::default());
    let dir = tempfile::tempdir().unwrap();
    let named = east_half_cog(dir.path(), &format!("{S2_NAME}.tif"), &[]);
    let cog_key = format!("cogs/S2/{S2_NAME}.tif");
    setup.upload(&named, &cog_key).await;
    // No time in the name: the TIFF tag gives it.
    let tagged = east_half_cog(
        dir.path(),
        "scene.TIFF",
        &[("TIFFTAG_DATETIME", "2021:06:30 08:15:00")],
    );
    setup.upload(&tagged, "cogs/tagged/scene.TIFF").await;

    let options = PrefixOptions {
        collection: Some("S2".to_owned()),
        dry_run: true,
        ..Default::default()
    };
    let outcomes = registrar.register_prefix("cogs", &options).await.unwrap();
    assert_eq!(outcomes.len(), 2, "{outcomes:?}");
    assert!(
        matches!(&outcomes[0], PrefixOutcome::WouldRegister { id, collection, replaces: false } if id == S2_NAME && collection == "S2"),
        "{outcomes:?}"
    );
    assert_eq!(setup.catalog.count(&Default::default()).await.unwrap(), 0);

    let options = PrefixOptions {
        dry_run: false,
        ..options
    };
    let outcomes = registrar.register_prefix("cogs/", &options).await.unwrap();
    let [
        PrefixOutcome::Registered(named),
        PrefixOutcome::Registered(tagged),
    ] = &outcomes[..]
    else {
        panic!("{outcomes:?}");
    };
    assert_eq!(
        named.derived.as_deref(),
        Some("footprint from the COG's valid pixels, time from its file name")
    );
    assert_eq!(
        tagged.derived.as_deref(),
        Some("footprint from the COG's valid pixels, time from its TIFF tags")
    );

    let product = setup
        .catalog
        .get("S2", S2_NAME)
        .await
        .unwrap()
        .expect("registered");
    assert_eq!(product.collection, "S2");
    assert_eq!(product.location, cog_key);
    assert_eq!(
        product.begin,
        "2023-01-01T10:30:21Z"
            .parse::<chrono::DateTime<chrono::Utc>>()
            .unwrap()
    );
    assert_eq!(
        product.end,
        "2023-01-01T12:00:00Z"
            .parse::<chrono::DateTime<chrono::Utc>>()
            .unwrap()
    );
    // The footprint is the opaque east half, within half a pixel.
    let r = product.footprint.bounding_rect().unwrap();
    for (found, expected) in [r.min().x, r.min().y, r.max().x, r.max().y]
        .into_iter()
        .zip([11.0, 49.0, 12.0, 50.0])
    {
        assert!((found - expected).abs() <= 0.005, "{r:?}");
    }
    let cog = &product.metadata["cog"];
    assert_eq!(cog["width"], 200);
    assert_eq!(cog["height"], 100);
    assert_eq!(cog["bands"], 2);
    assert_eq!(cog["alpha"], true);
    assert_eq!(cog["crs"], "EPSG:4326");
    assert_eq!(
        cog["size_bytes"],
        std::fs::metadata(dir.path().join(format!("{S2_NAME}.tif")))
            .unwrap()
            .len()
    );
    let metadata: ProductMetadata = serde_json::from_value(product.metadata.clone()).unwrap();
    assert_eq!(metadata.source.file, cog_key);
    assert_eq!(metadata.source.report.browse_type, "S2");

    let tagged = setup
        .catalog
        .get("S2", "scene")
        .await
        .unwrap()
        .expect("registered");
    let at: chrono::DateTime<chrono::Utc> = "2021-06-30T08:15:00Z".parse().unwrap();
    assert_eq!((tagged.begin, tagged.end), (at, at));

    // Searchable where the pixels are opaque, not where they are transparent.
    assert_eq!(setup.count_in((11.2, 49.2, 11.8, 49.8)).await, 2);
    assert_eq!(setup.count_in((10.1, 49.1, 10.9, 49.9)).await, 0);
}

#[tokio::test]
async fn a_cog_without_metadata_needs_a_collection() {
    use pvs_registrar::PrefixOutcome;
    let setup = Setup::new().await;
    let registrar = setup.registrar(Collections::default());
    let dir = tempfile::tempdir().unwrap();
    let path = east_half_cog(dir.path(), &format!("{S2_NAME}.tif"), &[]);
    setup.upload(&path, &format!("cogs/{S2_NAME}.tif")).await;
    let outcomes = registrar
        .register_prefix("cogs", &Default::default())
        .await
        .unwrap();
    assert!(
        matches!(&outcomes[..], [PrefixOutcome::Failed { key, reason }] if key.ends_with(".tif") && reason.contains("needs --collection")),
        "{outcomes:?}"
    );
    assert_eq!(setup.catalog.count(&Default::default()).await.unwrap(), 0);
}

#[tokio::test]
async fn unreadable_cogs_fail_alone_and_the_others_register() {
    use pvs_registrar::{PrefixOptions, PrefixOutcome};
    let setup = Setup::new().await;
    let registrar = setup.registrar(Collections::default());
    let dir = tempfile::tempdir().unwrap();
    setup
        .storage
        .put(&"bulk/a_empty.tif".parse().unwrap(), Bytes::new())
        .await
        .unwrap();
    setup
        .storage
        .put(
            &"bulk/b_garbage.tif".parse().unwrap(),
            Bytes::from_static(b"II*\0 this is not a TIFF at all"),
        )
        .await
        .unwrap();
    let good = east_half_cog(dir.path(), "c_good_20200101T000000.tif", &[]);
    setup.upload(&good, "bulk/c_good_20200101T000000.tif").await;
    let timeless = east_half_cog(dir.path(), "d_timeless.tif", &[]);
    setup.upload(&timeless, "bulk/d_timeless.tif").await;
    let other = east_half_cog(dir.path(), "other_20200102T000000.tif", &[]);
    setup
        .upload(&other, "other/other_20200102T000000.tif")
        .await;

    let options = PrefixOptions {
        collection: Some("BULK".to_owned()),
        ..Default::default()
    };
    let outcomes = registrar.register_prefix("bulk", &options).await.unwrap();
    assert_eq!(outcomes.len(), 4, "{outcomes:?}");
    let reason = |i: usize| match &outcomes[i] {
        PrefixOutcome::Failed { reason, .. } => reason.clone(),
        other => panic!("{i}: expected a failure, got {other:?}"),
    };
    for i in [0, 1] {
        let reason = reason(i);
        assert!(reason.contains("cannot open it as a raster"), "{reason}");
    }
    assert!(
        matches!(&outcomes[2], PrefixOutcome::Registered(r) if r.product.id == "c_good_20200101T000000"),
        "{outcomes:?}"
    );
    let timeless = reason(3);
    assert!(
        timeless.contains("no time: neither the file name nor the TIFF tags give one"),
        "{timeless}"
    );
    // The next prefix of the same run.
    let outcomes = registrar.register_prefix("other", &options).await.unwrap();
    assert!(
        matches!(&outcomes[..], [PrefixOutcome::Registered(r)] if r.derived.is_some()),
        "{outcomes:?}"
    );
    assert_eq!(setup.catalog.count(&Default::default()).await.unwrap(), 2);
}

#[tokio::test]
async fn an_outcome_recorded_before_registration_completes_the_report() {
    let setup = Setup::new().await;
    let reports = tempfile::tempdir().unwrap();
    let registrar = setup
        .registrar(Collections::default())
        .with_report_dir(reports.path().to_owned());
    let good = metadata_of(SAR);
    let report_name = good.source.report.name.clone();
    setup
        .queue
        .report_open(
            &report_name,
            2,
            &serde_json::to_string(&good.source.report).unwrap(),
        )
        .await
        .unwrap();
    // What the preprocessor does for a browse that fails before registration.
    pvs_registrar::record_outcome(
        setup.queue.as_ref(),
        Some(reports.path()),
        &report_name,
        "b_id_broken",
        &pvs_model::RegistrationOutcome::Failure {
            reason: "preprocessing failed: the image cannot be read".to_owned(),
        },
    )
    .await
    .unwrap();
    let files = || std::fs::read_dir(reports.path()).unwrap().count();
    assert_eq!(files(), 0, "written before the report was complete");
    registrar.handle(&setup.store(&good).await).await.unwrap();
    let written: Vec<_> = std::fs::read_dir(reports.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(written.len(), 1, "{written:?}");
    let xml = std::fs::read_to_string(&written[0]).unwrap();
    assert!(xml.contains("<reg:status>partial</reg:status>"), "{xml}");
    assert!(
        xml.contains("<reg:identifier>b_id_broken</reg:identifier>"),
        "{xml}"
    );
    assert!(xml.contains("the image cannot be read"), "{xml}");
    assert!(
        xml.contains("<reg:identifier>b_id_1</reg:identifier>"),
        "{xml}"
    );
    // Recording again once the report is complete writes nothing more.
    pvs_registrar::record_outcome(
        setup.queue.as_ref(),
        Some(reports.path()),
        &report_name,
        "b_id_broken",
        &pvs_model::RegistrationOutcome::Failure {
            reason: "again".to_owned(),
        },
    )
    .await
    .unwrap();
    assert_eq!(files(), 1);
}

/// The hand-written EO metadata fixtures of pvs-model.
fn eo_fixture(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../pvs-model/tests/fixtures/eo")
        .join(name);
    std::fs::read_to_string(path).unwrap()
}

/// `xml` less the first element from `start` to `end` (tags included).
fn without(xml: &str, start: &str, end: &str) -> String {
    let from = xml.find(start).unwrap();
    let to = xml.find(end).unwrap() + end.len();
    format!("{}{}", &xml[..from], &xml[to..])
}

#[tokio::test]
async fn cogs_beside_eo_metadata_documents_are_registered_with_their_metadata() {
    use geo::BoundingRect;
    use pvs_registrar::{PrefixOptions, PrefixOutcome};
    let setup = Setup::new().await;
    let registrar = setup.registrar(Collections::default());
    let dir = tempfile::tempdir().unwrap();
    let put = |key: &'static str, text: String| {
        let storage = setup.storage.clone();
        async move {
            storage
                .put(&key.parse().unwrap(), Bytes::from(text))
                .await
                .unwrap();
        }
    };
    // A GSC document naming its product and a quick-look (larger than the product: the
    // document, not the size, decides).
    let gsc = eo_fixture("gsc_opt.xml").replace("ql.jpg", "PL00_ql.tif");
    put("eo/a_gsc/PL00_DOV_MS_L3A.xml", gsc.clone()).await;
    let data = east_half_cog(dir.path(), "PL00_DOV_MS_L3A_3be7.tif", &[]);
    setup
        .upload(&data, "eo/a_gsc/PL00_DOV_MS_L3A_3be7.tif")
        .await;
    let quicklook = write_cog(
        dir.path(),
        "PL00_ql.tif",
        (400, 200),
        [10.0, 0.005, 0.0, 50.0, 0.0, -0.005],
        |_, _| true,
        &[],
    );
    setup.upload(&quicklook, "eo/a_gsc/PL00_ql.tif").await;
    // An EO O&M document naming another file: the only COG is the product.
    put("eo/b_om/MTD.XML", eo_fixture("opt_om20.xml")).await;
    let s2 = east_half_cog(dir.path(), "s2.tif", &[]);
    setup.upload(&s2, "eo/b_om/image.tif").await;
    // Bad documents fail their COG with the reason, and nothing else.
    let no_footprint = without(&gsc, "<gml:target>", "</gml:target>");
    put("eo/c_bad_gsc/gsc.xml", no_footprint).await;
    setup.upload(&s2, "eo/c_bad_gsc/image.tif").await;
    let no_time = without(
        &eo_fixture("opt_om20.xml"),
        "<om:phenomenonTime>",
        "</om:phenomenonTime>",
    );
    put("eo/d_bad_om/om.xml", no_time).await;
    setup.upload(&s2, "eo/d_bad_om/image.tif").await;
    // Another kind of XML is not a metadata document: the COG is on its own.
    put("eo/e_other/notes.xml", "<notes>hello</notes>".to_owned()).await;
    setup.upload(&s2, "eo/e_other/image.tif").await;

    let dry = PrefixOptions {
        dry_run: true,
        ..Default::default()
    };
    let outcomes = registrar.register_prefix("eo", &dry).await.unwrap();
    assert_eq!(outcomes.len(), 6, "{outcomes:?}");
    assert!(
        matches!(&outcomes[0], PrefixOutcome::WouldRegister { id, collection, replaces: false }
            if id == "PL00_DOV_MS_L3A_20180811T081455_20180811T081456_TOU_1234_3be7"
                && collection == "DOV_MS_L3A"),
        "{outcomes:?}"
    );
    assert_eq!(setup.catalog.count(&Default::default()).await.unwrap(), 0);

    let outcomes = registrar
        .register_prefix("eo", &Default::default())
        .await
        .unwrap();
    let [
        PrefixOutcome::Registered(gsc_product),
        PrefixOutcome::Skipped {
            id: ql,
            reason: ql_reason,
        },
        PrefixOutcome::Registered(om_product),
        PrefixOutcome::Failed {
            key: bad_gsc,
            reason: bad_gsc_reason,
        },
        PrefixOutcome::Failed {
            key: bad_om,
            reason: bad_om_reason,
        },
        PrefixOutcome::Failed {
            key: other,
            reason: other_reason,
        },
    ] = &outcomes[..]
    else {
        panic!("{outcomes:?}");
    };
    assert_eq!(ql, "PL00_ql");
    assert!(
        ql_reason.contains("not the raster of product PL00_DOV"),
        "{ql_reason}"
    );
    assert_eq!(bad_gsc, "eo/c_bad_gsc/image.tif");
    assert_eq!(
        bad_gsc_reason,
        "its metadata document eo/c_bad_gsc/gsc.xml: GSC document without a footprint \
         (gsc:report/gsc:opt_metadata/gml:target/eop:Footprint)"
    );
    assert_eq!(bad_om, "eo/d_bad_om/image.tif");
    assert!(
        bad_om_reason.contains(
            "EO O&M 2.0 document without an acquisition time \
             (opt:EarthObservation/om:phenomenonTime/gml:TimePeriod)"
        ),
        "{bad_om_reason}"
    );
    assert_eq!(other, "eo/e_other/image.tif");
    assert!(
        other_reason.contains("needs --collection"),
        "{other_reason}"
    );
    assert!(gsc_product.derived.is_none() && om_product.derived.is_none());

    // Exactly the two described COGs are in the catalog.
    assert_eq!(setup.catalog.count(&Default::default()).await.unwrap(), 2);
    let product = setup
        .catalog
        .get(
            "DOV_MS_L3A",
            "PL00_DOV_MS_L3A_20180811T081455_20180811T081456_TOU_1234_3be7",
        )
        .await
        .unwrap()
        .expect("registered");
    assert_eq!(product.collection, "DOV_MS_L3A");
    assert_eq!(product.location, "eo/a_gsc/PL00_DOV_MS_L3A_3be7.tif");
    assert_eq!(
        (product.begin.to_rfc3339(), product.end.to_rfc3339()),
        (
            "2018-08-11T08:14:55+00:00".to_owned(),
            "2018-08-11T08:14:56+00:00".to_owned()
        )
    );
    // The document's footprint (lat/lon swapped), not the COG's pixels.
    let r = product.footprint.bounding_rect().unwrap();
    assert_eq!(
        [r.min().x, r.min().y, r.max().x, r.max().y],
        [20.0, 40.0, 24.0, 44.0]
    );
    assert_eq!(product.properties["eo:cloud_cover"], 3.0);
    assert_eq!(product.properties["platform"], "planetscope-1054");
    assert_eq!(product.metadata["cog"]["width"], 200);
    assert_eq!(
        product.metadata["source"]["report"]["name"],
        "eo/a_gsc/PL00_DOV_MS_L3A.xml"
    );
    // Searchable by place and by property, as the document tells.
    assert_eq!(setup.count_in((21.5, 40.5, 23.5, 40.9)).await, 1);
    // The GSC product's pixels lie at 10..12 E, 49..50 N, but its document places it at
    // 20..24 E: only the O&M product (whose document says 10..12 E) is found there.
    assert_eq!(setup.count_in((10.1, 49.1, 11.9, 49.9)).await, 1);
    let cloudy = pvs_catalog::ProductQuery::default().with_filter(pvs_catalog::Filter::Compare {
        field: pvs_catalog::Field::parse("eo:cloud_cover").unwrap(),
        op: pvs_catalog::Comparison::Le,
        value: pvs_catalog::Literal::Number(5.0),
    });
    assert_eq!(setup.catalog.count(&cloudy).await.unwrap(), 1);

    let s2 = setup
        .catalog
        .get("S2MSI1C", "S2A_MSIL1C_20230101T103021_N0509_R108_T32TQM")
        .await
        .unwrap()
        .expect("registered");
    assert_eq!(s2.collection, "S2MSI1C");
    assert_eq!(s2.location, "eo/b_om/image.tif");
    assert_eq!(s2.properties["sat:orbit_state"], "descending");
    assert_eq!(s2.properties["sat:absolute_orbit"], 39231);

    // Without --replace a registered product is skipped.
    let outcomes = registrar
        .register_prefix("eo/b_om", &Default::default())
        .await
        .unwrap();
    assert!(
        matches!(&outcomes[..], [PrefixOutcome::Skipped { reason, .. }] if reason.contains("--replace")),
        "{outcomes:?}"
    );
    let forced = PrefixOptions {
        collection: Some("S2".to_owned()),
        replace: true,
        ..Default::default()
    };
    let outcomes = registrar.register_prefix("eo/b_om", &forced).await.unwrap();
    assert!(
        matches!(&outcomes[..], [PrefixOutcome::Registered(r)] if !r.replaced && r.product.collection == "S2"),
        "--collection registers another product there (ids are unique per collection): {outcomes:?}"
    );
    for collection in ["S2MSI1C", "S2"] {
        assert!(
            setup
                .catalog
                .get(collection, "S2A_MSIL1C_20230101T103021_N0509_R108_T32TQM")
                .await
                .unwrap()
                .is_some(),
            "{collection}"
        );
    }
}

/// `register_queue` messages as the PRISM View Server sends them: the prefix of a product
/// folder holding its COG and its metadata (a GSC document, or a metadata document), each
/// registered with that metadata; a folder that gives no product fails with the reason.
#[tokio::test]
async fn product_folders_on_the_queue_are_registered() {
    let setup = Setup::new().await;
    let registrar = setup.registrar(
        Collections::from_toml("[collections.VHR]\nbrowse_types = [\"DOV_MS_L3A\", \"SAR\"]\n")
            .unwrap(),
    );
    let dir = tempfile::tempdir().unwrap();
    let put = |key: &'static str, text: String| {
        let storage = setup.storage.clone();
        async move {
            storage
                .put(&key.parse().unwrap(), Bytes::from(text))
                .await
                .unwrap();
        }
    };
    // A GSC document and its COG: the collection comes from the product type.
    put(
        "incoming/gsc_product/PL00_DOV_MS_L3A.xml",
        eo_fixture("gsc_opt.xml"),
    )
    .await;
    let cog = east_half_cog(dir.path(), "PL00_DOV_MS_L3A_3be7.tif", &[]);
    setup
        .upload(&cog, "incoming/gsc_product/PL00_DOV_MS_L3A_3be7.tif")
        .await;
    // A metadata document in a folder.
    let mut sar = metadata_of(SAR);
    sar.cog.key = "incoming/sar_product/image.tif".to_owned();
    put("incoming/sar_product/meta.json", sar.to_json()).await;
    // Folders that give no product.
    setup.upload(&cog, "incoming/lonely_cog/image.tif").await;
    put("incoming/two/a.json", sar.to_json()).await;
    put("incoming/two/b.json", sar.to_json()).await;
    put("incoming/nothing/readme.txt", "hello".to_owned()).await;

    for message in [
        "incoming/gsc_product",
        "incoming/sar_product/",
        "incoming/lonely_cog",
        "incoming/two",
        "incoming/nothing",
    ] {
        registrar.handle(message).await.unwrap();
    }
    let gsc = setup
        .catalog
        .get(
            "VHR",
            "PL00_DOV_MS_L3A_20180811T081455_20180811T081456_TOU_1234_3be7",
        )
        .await
        .unwrap()
        .expect("the GSC product is registered");
    assert_eq!(gsc.collection, "VHR");
    assert_eq!(
        gsc.location,
        "incoming/gsc_product/PL00_DOV_MS_L3A_3be7.tif"
    );
    let sar_product = setup
        .catalog
        .get("VHR", &sar.id)
        .await
        .unwrap()
        .expect("the SAR product");
    assert_eq!(sar_product.location, "incoming/sar_product/image.tif");
    for (id, says) in [
        ("lonely_cog", "its collection is unknown"),
        ("two", "2 metadata documents"),
        ("nothing", "no metadata document and no COG"),
    ] {
        match setup.queue.status(Stage::Register, id).await.unwrap() {
            Status::Failed { reason } => assert!(reason.contains(says), "{id}: {reason}"),
            other => panic!("{id}: expected a failure, got {other:?}"),
        }
    }
    assert_eq!(setup.catalog.count(&Default::default()).await.unwrap(), 2);
}

/// ngEO's replacement rules: a product from an older browse report never replaces the one a
/// newer report registered (skipped, with the reason, the catalog unchanged); the same
/// report again replaces under the `replace` strategy and is skipped under `skip`; a newer
/// one replaces under both.
#[tokio::test]
async fn older_reports_never_replace_newer_ones() {
    /// Stores `metadata` under a key of its own (as if each came from its own folder) and
    /// hands that key to the registrar.
    async fn handle(
        setup: &Setup,
        registrar: &Registrar,
        metadata: ProductMetadata,
    ) -> Option<pvs_registrar::Registered> {
        let key = format!("{}/{}.json", metadata.source.report.name, metadata.id);
        setup
            .storage
            .put(&key.parse().unwrap(), Bytes::from(metadata.to_json()))
            .await
            .unwrap();
        registrar.handle(&key).await.unwrap()
    }
    let setup = Setup::new().await;
    for (strategy, same_again_replaces) in [("replace", true), ("skip", false)] {
        let registrar = setup.registrar(
            Collections::from_toml(&format!("[collections.SAR]\nstrategy = \"{strategy}\"\n"))
                .unwrap(),
        );
        let version = |report: &str, date: &str, cog: &str| {
            let mut metadata = metadata_of(SAR);
            metadata.id = format!("ordered-{strategy}");
            metadata.source.report.name = report.to_owned();
            metadata.source.report.date_time = date.parse().unwrap();
            metadata.cog.key = cog.to_owned();
            metadata
        };
        let location = || async {
            setup
                .catalog
                .get("SAR", &format!("ordered-{strategy}"))
                .await
                .unwrap()
                .unwrap()
                .location
        };
        let newer = version("newer", "2024-02-01T00:00:00Z", "SAR/newer.tif");
        assert!(handle(&setup, &registrar, newer.clone()).await.is_some());
        // An older report: skipped, the catalog keeps the newer version.
        let older = version("older", "2024-01-01T00:00:00Z", "SAR/older.tif");
        assert!(
            handle(&setup, &registrar, older).await.is_none(),
            "{strategy}"
        );
        assert_eq!(location().await, "SAR/newer.tif", "{strategy}");
        assert_eq!(
            setup
                .queue
                .status(Stage::Register, &newer.id)
                .await
                .unwrap(),
            Status::Succeeded,
            "{strategy}: skipped is no failure"
        );
        // The same report again.
        let again = version("newer", "2024-02-01T00:00:00Z", "SAR/again.tif");
        assert_eq!(
            handle(&setup, &registrar, again).await.is_some(),
            same_again_replaces,
            "{strategy}"
        );
        let expected = if same_again_replaces {
            "SAR/again.tif"
        } else {
            "SAR/newer.tif"
        };
        assert_eq!(location().await, expected, "{strategy}");
        // A newer report replaces.
        let newest = version("newest", "2024-03-01T00:00:00Z", "SAR/newest.tif");
        let registered = handle(&setup, &registrar, newest).await.expect("replaced");
        assert!(registered.replaced, "{strategy}");
        assert_eq!(location().await, "SAR/newest.tif", "{strategy}");
    }
}

#[tokio::test]
async fn a_merged_product_is_reported_merged_and_drops_the_tiles_of_both_versions() {
    use geo::{Area, polygon};
    use pvs_model::GeoJsonGeometry;
    use pvs_tiles::{Tile, TileFormat, TileKey, TileMatrixSet, TileStore, TileTime};
    let setup = Setup::new().await;
    let reports = tempfile::tempdir().unwrap();
    let tiles = TileStore::new(setup.storage.clone(), "tiles".parse().unwrap());
    let registrar = setup
        .registrar(Collections::from_toml("[collections.SAR]\nstrategy = \"merge\"\n").unwrap())
        .with_report_dir(reports.path().to_owned())
        .with_tile_store(tiles.clone());
    // The version there: report "old", the box 0..4 × 0..4.
    let mut old = metadata_of(SAR);
    old.source.report.name = "old".to_owned();
    old.footprint = GeoJsonGeometry::from(&geo::MultiPolygon(vec![polygon![
        (x: 0.0, y: 0.0), (x: 4.0, y: 0.0), (x: 4.0, y: 4.0), (x: 0.0, y: 4.0)
    ]]));
    registrar.handle(&setup.store(&old).await).await.unwrap();
    // The default-time tile of layer SAR at zoom 8 (0.7°) holding each point.
    let tile_at = |lon: f64, lat: f64| {
        let range = TileMatrixSet::WorldCRS84Quad.tiles([lon, lat, lon, lat], 8)[0].clone();
        let tile: Tile = range.tiles().next().unwrap();
        TileKey::new(
            "SAR",
            TileTime::Default,
            TileMatrixSet::WorldCRS84Quad,
            tile,
            TileFormat::Png,
        )
        .unwrap()
    };
    // Only the old version there, only the new one (the box 2..6 × 2..6), neither.
    let (old_only, new_only, elsewhere) =
        (tile_at(0.3, 0.3), tile_at(5.7, 5.7), tile_at(40.0, 40.0));
    for tile in [&old_only, &new_only, &elsewhere] {
        tiles.put(tile, Bytes::from_static(b"png")).await.unwrap();
    }
    // What the preprocessor writes when it merges report "new" (an hour later) into it.
    let mut merged = old.clone();
    merged.source.report.name = "new".to_owned();
    merged.source.report.date_time = old.source.report.date_time + chrono::TimeDelta::hours(1);
    merged.source.merged_with = Some(old.source.report.clone());
    merged.footprint = GeoJsonGeometry::from(&geo::MultiPolygon(vec![polygon![
        (x: 0.0, y: 0.0), (x: 4.0, y: 0.0), (x: 4.0, y: 2.0), (x: 6.0, y: 2.0),
        (x: 6.0, y: 6.0), (x: 2.0, y: 6.0), (x: 2.0, y: 4.0), (x: 0.0, y: 4.0)
    ]]));
    setup
        .queue
        .report_open(
            "new",
            1,
            &serde_json::to_string(&merged.source.report).unwrap(),
        )
        .await
        .unwrap();
    let registered = registrar
        .handle(&setup.store(&merged).await)
        .await
        .unwrap()
        .expect("registered");
    assert_eq!(registered.merged_with.as_ref(), Some(&old.source.report));
    assert!((registered.product.footprint.unsigned_area() - 28.0).abs() < 1e-9);
    assert_eq!(
        setup.catalog.count(&Default::default()).await.unwrap(),
        1,
        "one product"
    );
    // The tiles of both versions' places are dropped, no others.
    assert!(
        !tiles.contains(&old_only).await.unwrap(),
        "the old version's"
    );
    assert!(
        !tiles.contains(&new_only).await.unwrap(),
        "the merged version's"
    );
    assert!(tiles.contains(&elsewhere).await.unwrap());
    let records = setup.queue.peek(QueueName::Invalidate, 10).await.unwrap();
    let record: Invalidation = serde_json::from_str(&records[0]).unwrap();
    assert_eq!(
        (record.reason.as_str(), record.bbox),
        ("merged", [0.0, 0.0, 4.0, 4.0])
    );
    // The registration report of "new": merged (counted as registered), with "old".
    let written: Vec<_> = std::fs::read_dir(reports.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(written.len(), 1, "{written:?}");
    let xml = std::fs::read_to_string(&written[0]).unwrap();
    for expected in [
        "<reg:status>success</reg:status>",
        "registered=\"1\" failed=\"0\" skipped=\"0\" merged=\"1\"",
        "<reg:status>merged</reg:status>\n    <reg:collection>SAR</reg:collection>",
        &format!(
            "<reg:mergedWith name=\"old\" dateTime=\"{}\"/>",
            old.source
                .report
                .date_time
                .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
        ),
    ] {
        assert!(xml.contains(expected), "{expected}: {xml}");
    }
    assert_valid_report(&written[0]);
}
