//! The registrar against a real PostGIS (a database per test), a real Redis (a key prefix per
//! test) and the S3 test server (a bucket per test).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use pvs_catalog::testing::TestDatabase;
use pvs_catalog::{Catalog, PostgisCatalog};
use pvs_model::{BrowseItem, BrowseReport, CogInfo, Collections, ProductMetadata, SourceInfo};
use pvs_queue::testing::TestRedis;
use pvs_queue::{QueueName, RedisQueue, Stage, Status, WorkQueue};
use pvs_registrar::{Invalidation, Registrar};
use pvs_storage::{S3Settings, Storage};

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
        let endpoint = std::env::var("PVS_TEST_S3_ENDPOINT")
            .unwrap_or_else(|_| "http://127.0.0.1:9000".to_owned());
        let bucket = format!(
            "pvs-registrar-{}",
            &uuid::Uuid::new_v4().simple().to_string()[..12]
        );
        let created = reqwest::Client::new()
            .put(format!("{endpoint}/{bucket}"))
            .send()
            .await
            .expect("the S3 test server answers (scripts/s3-server.sh start)");
        assert!(created.status().is_success());
        let settings = S3Settings::with_endpoint(endpoint.parse().unwrap())
            .with_credentials("pvs-test", "pvs-test-secret");
        let storage = Storage::from_url(
            &format!("s3://{bucket}/data").parse().unwrap(),
            Some(&settings),
        )
        .unwrap();
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
        },
        processed_at: "2026-11-23T04:00:00Z".parse().unwrap(),
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
        .get("b_id_1")
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
    let product = setup.catalog.get("b_id_1").await.unwrap().unwrap();
    assert_eq!(product.begin, second.start);
    assert_eq!(setup.catalog.count(&Default::default()).await.unwrap(), 1);

    let records = setup.queue.peek(QueueName::Invalidate, 10).await.unwrap();
    assert_eq!(records.len(), 1);
    let record: Invalidation = serde_json::from_str(&records[0]).unwrap();
    assert_eq!(record.product, "b_id_1");
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
async fn an_antimeridian_footprint_is_registered_as_two_polygons() {
    let setup = Setup::new().await;
    let registrar = setup.registrar(Collections::default());
    let metadata = metadata_of(DATELINE);
    registrar
        .handle(&setup.store(&metadata).await)
        .await
        .unwrap()
        .unwrap();
    let product = setup.catalog.get(&metadata.id).await.unwrap().unwrap();
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
    assert!(registrar.deregister("unknown").await.unwrap().is_none());
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
    while setup.catalog.get("b_id_1").await.unwrap().is_some() {
        assert!(tokio::time::Instant::now() < deadline, "not deregistered");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.send(true).unwrap();
    worker.await.unwrap().unwrap();
    let records = setup.queue.peek(QueueName::Invalidate, 10).await.unwrap();
    let record: Invalidation = serde_json::from_str(&records[0]).unwrap();
    assert_eq!(record.reason, "deregistered");
    assert_eq!(record.product, "b_id_1");
    assert_eq!(
        setup.queue.status(Stage::Register, "b_id_1").await.unwrap(),
        Status::Unknown
    );
    assert_eq!(setup.queue.len(QueueName::Deregister).await.unwrap(), 0);
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
    assert_eq!(
        setup
            .catalog
            .get("b_id_1")
            .await
            .unwrap()
            .unwrap()
            .collection,
        "ARCHIVE"
    );

    // Again: skipped without --replace, replaced with it.
    let outcomes = registrar
        .register_prefix("SAR/b_id_1", &Default::default())
        .await
        .unwrap();
    assert!(
        matches!(&outcomes[0], PrefixOutcome::Skipped { reason, .. } if reason.contains("--replace"))
    );
    let replace = PrefixOptions {
        replace: true,
        ..Default::default()
    };
    let outcomes = registrar
        .register_prefix("SAR/b_id_1", &replace)
        .await
        .unwrap();
    assert!(matches!(&outcomes[0], PrefixOutcome::Registered(r) if r.replaced));
    assert_eq!(
        setup
            .catalog
            .get("b_id_1")
            .await
            .unwrap()
            .unwrap()
            .collection,
        "SAR"
    );
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
    let schema = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../schemas/registration-report.xsd");
    let lint = std::process::Command::new("xmllint")
        .args(["--noout", "--schema"])
        .arg(schema)
        .arg(&written[0])
        .output()
        .expect("xmllint (libxml2-utils) is installed by scripts/setup.sh");
    assert!(
        lint.status.success(),
        "{}",
        String::from_utf8_lossy(&lint.stderr)
    );
}
