//! STAC Items as a way in, on the real backends: PostGIS, Redis and the S3 test server, and
//! their embedded twins (SQLite catalog and queue, file storage). A COG on storage is
//! registered where it is; any other raster goes through the preprocessor and comes back;
//! a watch-folder Item is uploaded by the ingestor and registered; bad Items fail alone.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use gdal::DriverManager;
use gdal::raster::{Buffer, RasterCreationOptions};
use gdal::spatial_ref::SpatialRef;
use geo::BoundingRect;
use pvs_catalog::testing::TestDatabase;
use pvs_catalog::{Catalog, SqliteCatalog};
use pvs_model::{Collections, ProductMetadata};
use pvs_preprocessor::{Preprocessor, Settings};
use pvs_queue::testing::TestRedis;
use pvs_queue::{QueueName, SqliteQueue, Stage, Status, WorkQueue};
use pvs_registrar::Registrar;
use pvs_storage::Storage;
use serde_json::{Value, json};

/// The backends of one test, kept alive with it.
struct Setup {
    queue: Arc<dyn WorkQueue>,
    catalog: Arc<dyn Catalog>,
    storage: Storage,
    _keep: Vec<Box<dyn std::any::Any + Send>>,
}

impl Setup {
    /// PostGIS, Redis and a bucket of the S3 test server (under the prefix `data`).
    async fn servers() -> Self {
        let database = TestDatabase::create().await;
        let catalog = Arc::new(database.catalog().await);
        let redis = TestRedis::new().await;
        Self {
            queue: redis.queue.clone(),
            catalog,
            storage: pvs_storage::testing::s3_storage("data").await,
            _keep: vec![Box::new(database), Box::new(redis)],
        }
    }

    /// The SQLite catalog and queue, and file storage, in a temporary folder.
    async fn embedded() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let storage_dir = dir.path().join("storage");
        std::fs::create_dir_all(&storage_dir).unwrap();
        Self {
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
            storage: pvs_test_support::storage::local_storage(&storage_dir),
            _keep: vec![Box::new(dir)],
        }
    }

    async fn both() -> [Self; 2] {
        [Self::servers().await, Self::embedded().await]
    }

    fn registrar(&self, collections: Collections) -> Registrar {
        Registrar::new(
            self.queue.clone(),
            self.catalog.clone(),
            self.storage.clone(),
            collections,
        )
    }

    fn preprocessor(&self, collections: Collections) -> Preprocessor {
        Preprocessor::new(
            self.queue.clone(),
            self.storage.clone(),
            collections,
            Settings {
                threads: 1,
                ..Settings::default()
            },
        )
        .unwrap()
    }

    async fn upload(&self, path: &Path, key: &str) {
        self.storage
            .put_file(&key.parse().unwrap(), path)
            .await
            .unwrap();
    }

    /// Takes the next item of `queue` (there must be one) and acknowledges it.
    async fn take(&self, queue: QueueName) -> String {
        let mut consumer = self.queue.consumer(queue, "test").await.unwrap();
        let taken = consumer
            .take(Duration::from_secs(1))
            .await
            .unwrap()
            .expect("an item");
        consumer.ack(&taken).await.unwrap();
        taken.payload
    }

    async fn failure(&self, id: &str) -> String {
        match self.queue.status(Stage::Register, id).await.unwrap() {
            Status::Failed { reason } => reason,
            other => panic!("{id}: expected a failure, got {other:?}"),
        }
    }

    async fn count(&self) -> u64 {
        self.catalog.count(&Default::default()).await.unwrap()
    }
}

/// How [`write_raster`] writes.
#[derive(Clone, Copy)]
enum Form {
    /// A COG, georeferenced.
    Cog,
    /// A georeferenced GeoTIFF in strips (not a COG).
    Strips,
    /// A PNG without georeferencing.
    Png,
}

const WIDTH: usize = 600;
const HEIGHT: usize = 300;
/// Where the georeferenced rasters lie, and the Items' footprint: lon 10..12, lat 49..50.
const BOX: [f64; 4] = [10.0, 49.0, 12.0, 50.0];

/// A 3-band raster of `WIDTH` × `HEIGHT` pixels whose red is the column (mod 256).
fn write_raster(path: &Path, form: Form) {
    let mem = DriverManager::get_driver_by_name("MEM").unwrap();
    let mut dataset = mem
        .create_with_band_type::<u8, _>("", WIDTH, HEIGHT, 3)
        .unwrap();
    if !matches!(form, Form::Png) {
        let [west, south, east, north] = BOX;
        dataset
            .set_geo_transform(&[
                west,
                (east - west) / WIDTH as f64,
                0.0,
                north,
                0.0,
                -(north - south) / HEIGHT as f64,
            ])
            .unwrap();
        dataset
            .set_spatial_ref(&SpatialRef::from_epsg(4326).unwrap())
            .unwrap();
    }
    for band in 1..=3 {
        let data = (0..HEIGHT)
            .flat_map(|_| (0..WIDTH).map(move |x| if band == 1 { x as u8 } else { 90 }))
            .collect();
        dataset
            .rasterband(band)
            .unwrap()
            .write(
                (0, 0),
                (WIDTH, HEIGHT),
                &mut Buffer::new((WIDTH, HEIGHT), data),
            )
            .unwrap();
    }
    let (driver, options) = match form {
        Form::Cog => ("COG", vec![]),
        Form::Strips => ("GTiff", vec!["TILED=NO"]),
        Form::Png => ("PNG", vec![]),
    };
    let driver = DriverManager::get_driver_by_name(driver).unwrap();
    let options = RasterCreationOptions::from_iter(options);
    dataset.create_copy(&driver, path, &options).unwrap();
}

/// A STAC 1.1 Item of collection `S2` over [`BOX`], its data asset at `href`.
fn item(id: &str, href: &str) -> Value {
    let [west, south, east, north] = BOX;
    json!({
        "type": "Feature",
        "stac_version": "1.1.0",
        "id": id,
        "collection": "S2",
        "geometry": {"type": "Polygon", "coordinates": [[
            [west, south], [east, south], [east, north], [west, north], [west, south]
        ]]},
        "bbox": BOX,
        "properties": {
            "start_datetime": "2024-05-01T10:30:00Z",
            "end_datetime": "2024-05-01T10:31:00Z",
            "eo:cloud_cover": 12.5,
            "platform": "sentinel-2b",
            "s2:tile": "32TLT"
        },
        "links": [],
        "assets": {
            "thumbnail": {"href": "thumb.png", "type": "image/png", "roles": ["thumbnail"]},
            "image": {"href": href, "roles": ["data"]}
        }
    })
}

fn expected_properties() -> serde_json::Map<String, Value> {
    json!({"eo:cloud_cover": 12.5, "platform": "sentinel-2b", "s2:tile": "32TLT"})
        .as_object()
        .unwrap()
        .clone()
}

fn time(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

/// Checks the product `id` as the Item gave it: footprint, times, properties.
async fn check_product(setup: &Setup, id: &str) -> pvs_catalog::Product {
    let product = setup
        .catalog
        .get("S2", id)
        .await
        .unwrap()
        .expect("registered");
    assert_eq!(product.collection, "S2");
    let rect = product.footprint.bounding_rect().unwrap();
    assert_eq!(
        [rect.min().x, rect.min().y, rect.max().x, rect.max().y],
        BOX
    );
    assert_eq!(product.begin, time("2024-05-01T10:30:00Z"));
    assert_eq!(product.end, time("2024-05-01T10:31:00Z"));
    assert_eq!(product.properties, expected_properties());
    let metadata: ProductMetadata = serde_json::from_value(product.metadata.clone()).unwrap();
    assert_eq!(metadata.properties, expected_properties());
    assert_eq!(
        setup.queue.status(Stage::Register, id).await.unwrap(),
        Status::Succeeded
    );
    product
}

#[tokio::test]
async fn an_item_with_a_cog_on_storage_is_registered_where_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let cog = dir.path().join("scene.tif");
    write_raster(&cog, Form::Cog);
    for setup in Setup::both().await {
        let registrar = setup.registrar(Collections::default());
        setup.upload(&cog, "incoming/S2/scene.tif").await;
        let message = item("S2B_scene", "./incoming/S2/scene.tif").to_string();
        let registered = registrar
            .handle(&message)
            .await
            .unwrap()
            .expect("registered");
        assert!(!registered.replaced);
        let product = check_product(&setup, "S2B_scene").await;
        // The product's pixels are the COG's: the object itself, not a copy.
        assert_eq!(product.location, "incoming/S2/scene.tif");
        let metadata: ProductMetadata = serde_json::from_value(product.metadata).unwrap();
        assert_eq!(metadata.cog.key, "incoming/S2/scene.tif");
        assert_eq!(
            metadata.cog.size_bytes,
            std::fs::metadata(&cog).unwrap().len()
        );
        assert_eq!((metadata.cog.width, metadata.cog.height), (600, 300));
        assert_eq!(metadata.cog.crs, "EPSG:4326");
        assert_eq!(metadata.source.file, "incoming/S2/scene.tif");
        assert_eq!(setup.queue.len(QueueName::Preprocess).await.unwrap(), 0);

        // An s3:// href inside the storage names the same object.
        if let pvs_storage::StorageUrl::S3 { bucket, prefix } = setup.storage.url() {
            let prefix = prefix.as_ref().unwrap();
            let href = format!("s3://{bucket}/{prefix}/incoming/S2/scene.tif");
            let registered = registrar
                .handle(&item("S2B_scene", &href).to_string())
                .await
                .unwrap()
                .expect("registered");
            assert!(registered.replaced);
            assert_eq!(registered.product.location, "incoming/S2/scene.tif");
            // One outside it is refused with the reason.
            let elsewhere = item("S2B_elsewhere", "s3://another-bucket/scene.tif");
            assert!(
                registrar
                    .handle(&elsewhere.to_string())
                    .await
                    .unwrap()
                    .is_none()
            );
            assert!(
                setup
                    .failure("S2B_elsewhere")
                    .await
                    .contains("not in the storage")
            );
        }
        assert_eq!(setup.count().await, 1);
    }
}

#[tokio::test]
async fn an_item_with_another_raster_goes_through_the_preprocessor() {
    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("browse.png");
    write_raster(&png, Form::Png);
    let strips = dir.path().join("strips.tif");
    write_raster(&strips, Form::Strips);
    for setup in Setup::both().await {
        let registrar = setup.registrar(Collections::default());
        let preprocessor = setup.preprocessor(Collections::default());
        for (registered_before, (id, path, key)) in [
            ("S2B_png", &png, "incoming/S2/browse.png"),
            ("S2B_strips", &strips, "incoming/S2/strips.tif"),
        ]
        .into_iter()
        .enumerate()
        {
            setup.upload(path, key).await;
            let message = item(id, key).to_string();
            assert!(registrar.handle(&message).await.unwrap().is_none());
            assert_eq!(
                setup.count().await,
                registered_before as u64,
                "{id}: not registered yet"
            );
            let handed = setup.queue.peek(QueueName::Preprocess, 10).await.unwrap();
            assert_eq!(handed.len(), 1, "{id}");
            let handed = setup.take(QueueName::Preprocess).await;
            let message: Value = serde_json::from_str(&handed).unwrap();
            assert_eq!(message["item"]["id"], id);
            assert_eq!(message["item"]["assets"]["image"]["href"], key);
            let done = preprocessor
                .handle(QueueName::Preprocess, &handed)
                .await
                .unwrap()
                .unwrap_or_else(|| panic!("{id}: preprocessing failed"));
            assert_eq!(done.metadata.properties, expected_properties());
            let document = setup.queue.peek(QueueName::Register, 10).await.unwrap();
            assert_eq!(document, vec![format!("S2/{id}/{id}.json")]);
            let registered = registrar.handle(&document[0]).await.unwrap();
            assert!(registered.is_some(), "{id}");
            let product = check_product(&setup, id).await;
            // A COG made by the preprocessor, placed where the Item says (the PNG has no
            // georeferencing of its own: the Item's box places it).
            assert_eq!(product.location, format!("S2/{id}/{id}.tif"));
            let bbox = done.metadata.cog.bbox;
            for (found, expected) in bbox.iter().zip(BOX) {
                assert!((found - expected).abs() < 1e-9, "{id}: {bbox:?}");
            }
            assert_eq!(setup.take(QueueName::Register).await, document[0]);
        }
        assert_eq!(setup.count().await, 2);
    }
}

#[tokio::test]
async fn bad_items_fail_alone_with_their_reason_and_register_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let cog = dir.path().join("scene.tif");
    write_raster(&cog, Form::Cog);
    let collections = Collections::from_toml("[collections.S2]\n").unwrap();
    for setup in Setup::both().await {
        let registrar = setup.registrar(collections.clone());
        setup.upload(&cog, "incoming/scene.tif").await;
        let good = || item("good", "incoming/scene.tif");
        let mut no_geometry = good();
        no_geometry["id"] = json!("no_geometry");
        no_geometry.as_object_mut().unwrap().remove("geometry");
        let mut no_time = good();
        no_time["id"] = json!("no_time");
        for name in ["start_datetime", "end_datetime"] {
            no_time["properties"].as_object_mut().unwrap().remove(name);
        }
        let mut no_data = good();
        no_data["id"] = json!("no_data");
        no_data["assets"] = json!({"metadata": {"href": "m.xml", "type": "application/xml"}});
        let mut unknown_collection = good();
        unknown_collection["id"] = json!("unknown_collection");
        unknown_collection["collection"] = json!("S1");
        let missing_asset = item("missing_asset", "incoming/none.tif");
        for bad in [
            &no_geometry,
            &no_time,
            &no_data,
            &unknown_collection,
            &missing_asset,
        ] {
            assert!(registrar.handle(&bad.to_string()).await.unwrap().is_none());
        }
        let malformed = "{\"type\": \"Feature\", \"id\": ";
        assert!(registrar.handle(malformed).await.unwrap().is_none());

        for (id, reason) in [
            ("no_geometry", "field geometry: missing"),
            ("no_time", "field properties.datetime: missing"),
            ("no_data", "field assets: no data asset"),
            ("unknown_collection", "collection \"S1\" is not configured"),
            (
                "missing_asset",
                "data asset incoming/none.tif: not readable",
            ),
            (malformed, "not JSON"),
        ] {
            let found = setup.failure(id).await;
            assert!(found.contains(reason), "{id}: {found}");
        }
        assert_eq!(setup.count().await, 0);
        assert_eq!(setup.queue.len(QueueName::Preprocess).await.unwrap(), 0);
        // Nothing else is lost: a good Item after them registers.
        assert!(
            registrar
                .handle(&good().to_string())
                .await
                .unwrap()
                .is_some()
        );
        assert_eq!(setup.count().await, 1);
    }
}

#[tokio::test]
async fn a_watch_folder_item_beside_its_cog_is_uploaded_and_registered() {
    let setup = Setup::servers().await;
    let folder = tempfile::tempdir().unwrap();
    std::fs::create_dir(folder.path().join("S2")).unwrap();
    write_raster(&folder.path().join("S2/scene.tif"), Form::Cog);
    let ingestor = Arc::new(pvs_ingestor::Ingestor::new(
        setup.queue.clone(),
        Some(setup.storage.clone()),
        Some("uploads".parse().unwrap()),
    ));
    let watch = pvs_ingestor::WatchFolder::new(folder.path(), Duration::from_millis(100)).unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let watcher = tokio::spawn(pvs_ingestor::watch::run(
        ingestor,
        watch,
        Duration::from_millis(50),
        1 << 20,
        async move {
            let _ = stopped.await;
        },
    ));
    let item = item("S2B_watched", "S2/scene.tif").to_string();
    std::fs::write(folder.path().join("S2B_watched.json"), item).unwrap();

    let done = folder.path().join("done/S2B_watched.json");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done.exists() {
        assert!(Instant::now() < deadline, "the Item was not filed to done/");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let response: Value = serde_json::from_slice(
        &std::fs::read(folder.path().join("done/S2B_watched.response.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(response["status"], "queued");
    assert_eq!(response["data"], "uploads/S2/scene.tif");
    drop(stop);
    watcher.await.unwrap().unwrap();

    let messages = setup.queue.peek(QueueName::Register, 10).await.unwrap();
    assert_eq!(messages.len(), 1);
    let registrar = setup.registrar(Collections::default());
    registrar
        .handle(&messages[0])
        .await
        .unwrap()
        .expect("registered");
    let product = check_product(&setup, "S2B_watched").await;
    assert_eq!(product.location, "uploads/S2/scene.tif");
    assert_eq!(
        setup
            .storage
            .get(&"uploads/S2/scene.tif".parse().unwrap())
            .await
            .unwrap(),
        std::fs::read(folder.path().join("S2/scene.tif")).unwrap()
    );
}

#[tokio::test]
async fn an_image_whose_item_crosses_the_antimeridian_is_placed_across_it() {
    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("browse.png");
    write_raster(&png, Form::Png);
    let setup = Setup::embedded().await;
    setup.upload(&png, "incoming/browse.png").await;
    let mut across = item("S2B_across", "incoming/browse.png");
    across["geometry"] = json!({"type": "Polygon", "coordinates": [[
        [170.0, 10.0], [-170.0, 10.0], [-170.0, 20.0], [170.0, 20.0], [170.0, 10.0]
    ]]});
    let registrar = setup.registrar(Collections::default());
    assert!(
        registrar
            .handle(&across.to_string())
            .await
            .unwrap()
            .is_none()
    );
    let handed = setup.take(QueueName::Preprocess).await;
    let done = setup
        .preprocessor(Collections::default())
        .handle(QueueName::Preprocess, &handed)
        .await
        .unwrap()
        .expect("preprocessed");
    // The COG lies east of 170°, past 180°; the footprint is split there.
    let bbox = done.metadata.cog.bbox;
    for (found, expected) in bbox.iter().zip([170.0, 10.0, 190.0, 20.0]) {
        assert!((found - expected).abs() < 1e-9, "{bbox:?}");
    }
    registrar
        .handle(&setup.take(QueueName::Register).await)
        .await
        .unwrap()
        .expect("registered");
    let product = setup
        .catalog
        .get("S2", "S2B_across")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(product.footprint.0.len(), 2);
}
