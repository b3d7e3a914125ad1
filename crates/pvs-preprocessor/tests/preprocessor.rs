//! The preprocessor against a real Redis (a key prefix per test), the S3 test server (a
//! bucket per test) and GDAL: every fixture browse through the queue, packages, and bad
//! input failing that item only.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use pvs_model::{BrowseItem, BrowseReport, Collections, FileName, ProductMetadata, ReportInfo};
use pvs_preprocessor::{Preprocessor, Settings};
use pvs_queue::testing::TestRedis;
use pvs_queue::{QueueName, Stage, Status, StatusSet, TransientRetry, WorkQueue};
use pvs_raster::cog;
use pvs_storage::testing::{LateEndpoint, quick_retry};
use pvs_storage::{S3Retry, S3Settings, Storage, StorageKey};

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/ngeo")
}

struct Setup {
    redis: TestRedis,
    storage: Storage,
}

impl Setup {
    async fn new() -> Self {
        let redis = TestRedis::new().await;
        let storage = pvs_storage::testing::s3_storage("data").await;
        Self { redis, storage }
    }

    fn queue(&self) -> Arc<dyn WorkQueue> {
        self.redis.queue.clone()
    }

    fn preprocessor(&self, collections: Collections) -> Preprocessor {
        Preprocessor::new(
            self.queue(),
            self.storage.clone(),
            collections,
            Settings {
                threads: 2,
                ..Settings::default()
            },
        )
        .unwrap()
    }

    async fn upload(&self, key: &str, path: &Path) {
        let bytes = std::fs::read(path).unwrap();
        self.storage
            .put(&key.parse().unwrap(), Bytes::from(bytes))
            .await
            .unwrap();
    }

    /// Reads and checks the product a `register_queue` message points to: the document
    /// parses, names a COG that exists and is a valid COG.
    async fn check_product(&self, metadata_key: &str) -> ProductMetadata {
        let key: StorageKey = metadata_key.parse().unwrap();
        let json = self.storage.get(&key).await.unwrap();
        let metadata = ProductMetadata::from_json(std::str::from_utf8(&json).unwrap()).unwrap();
        assert_eq!(
            metadata_key,
            format!("{0}/{1}/{1}.json", metadata.collection, metadata.id)
        );
        let cog_bytes = self
            .storage
            .get(&metadata.cog.key.parse().unwrap())
            .await
            .unwrap();
        assert_eq!(cog_bytes.len() as u64, metadata.cog.size_bytes);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("product.tif");
        std::fs::write(&path, &cog_bytes).unwrap();
        let validation = cog::validate(&path).unwrap();
        assert!(
            validation.is_valid(),
            "{}: {:?}",
            metadata.id,
            validation.errors
        );
        metadata
    }
}

/// The browse items the ingestor would push for every fixture report, with images
/// referenced under `ingest/<folder>/` and uploaded there; and how many reports there are.
async fn fixture_items(setup: &Setup) -> Vec<BrowseItem> {
    let mut items = Vec::new();
    for folder in ["reference_test_data", "regular_grid_clipping", "test_data"] {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(fixtures_dir().join(folder))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for path in entries {
            let name = path.file_name().unwrap().to_str().unwrap().to_owned();
            if !name.ends_with(".xml") {
                setup
                    .upload(&format!("ingest/{folder}/{name}"), &path)
                    .await;
                continue;
            }
            let report = BrowseReport::parse(&std::fs::read(&path).unwrap()).unwrap();
            let report_name = format!("{folder}/{name}");
            let mut report_items = Vec::new();
            for browse in report.valid_browses() {
                let mut item = BrowseItem::new(&report, browse, &report_name);
                item.file =
                    FileName::new(&format!("ingest/{folder}/{}", browse.file_name.as_str()))
                        .unwrap();
                report_items.push(item);
            }
            let info = ReportInfo {
                name: report_name.clone(),
                responsible_org_name: report.responsible_org_name.clone(),
                date_time: report.date_time,
                browse_type: report.browse_type.clone(),
            };
            setup
                .redis
                .report_open(
                    &report_name,
                    report_items.len(),
                    &serde_json::to_string(&info).unwrap(),
                )
                .await
                .unwrap();
            items.extend(report_items);
        }
    }
    items
}

/// Waits until `count` distinct ids are in the success or failure set.
async fn wait_done(queue: &dyn WorkQueue, count: usize) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(180);
    loop {
        let done = queue
            .members(Stage::Preprocess, StatusSet::Success)
            .await
            .unwrap()
            .len()
            + queue
                .members(Stage::Preprocess, StatusSet::Failure)
                .await
                .unwrap()
                .len();
        if done >= count {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {done} of {count} items done"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fixture_browse_goes_through_the_queue() {
    let setup = Setup::new().await;
    let items = fixture_items(&setup).await;
    let queue = setup.queue();
    let messages: Vec<String> = items.iter().map(BrowseItem::to_json).collect();
    queue
        .push_many(QueueName::PreprocessMd, &messages)
        .await
        .unwrap();

    let report_dir = tempfile::tempdir().unwrap();
    let preprocessor = Arc::new(
        setup
            .preprocessor(Collections::default())
            .with_report_dir(report_dir.path().to_owned()),
    );
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let worker = tokio::spawn(preprocessor.run("test", 2, shutdown));
    let ids: std::collections::BTreeSet<&str> = items.iter().map(|i| i.id.as_str()).collect();
    wait_done(queue.as_ref(), ids.len()).await;
    stop.send(true).unwrap();
    worker.await.unwrap().unwrap();

    assert_eq!(queue.len(QueueName::PreprocessMd).await.unwrap(), 0);
    let in_flight = queue
        .members(Stage::Preprocess, StatusSet::InFlight)
        .await
        .unwrap();
    assert!(in_flight.is_empty(), "{in_flight:?}");

    // The only failure: the browse whose image does not exist, with the reason.
    let failed = queue
        .members(Stage::Preprocess, StatusSet::Failure)
        .await
        .unwrap();
    assert_eq!(failed.len(), 1, "{failed:?}");
    let Status::Failed { reason } = queue.status(Stage::Preprocess, &failed[0]).await.unwrap()
    else {
        panic!("not failed");
    };
    assert!(reason.contains("does not exist"), "{reason}");
    // ... which completed its report (one browse): the registration report says so. Three
    // reports bring product b_id_3; when the newest (`..._new`) is done before one of the
    // others is taken (not when the two consumers take them together), that older one is
    // skipped, completing its report here too: a report of skipped products only.
    let written: Vec<String> = std::fs::read_dir(report_dir.path())
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect();
    let (failed_reports, others): (Vec<&String>, Vec<&String>) = written
        .iter()
        .partition(|xml| xml.contains("<reg:status>failure</reg:status>"));
    assert_eq!(failed_reports.len(), 1, "{written:?}");
    let xml = failed_reports[0];
    assert!(xml.contains("BrowseReport_FAILURE"), "{xml}");
    assert!(xml.contains("preprocessing failed"), "{xml}");
    for xml in others {
        assert!(
            xml.contains("101327")
                && xml.contains("<reg:status>skipped</reg:status>")
                && xml.contains(r#"registered="0" failed="0""#),
            "{xml}"
        );
    }

    // Every success is on register_queue, its document and COG valid.
    let succeeded = queue
        .members(Stage::Preprocess, StatusSet::Success)
        .await
        .unwrap();
    assert_eq!(succeeded.len(), ids.len() - 1);
    let messages = queue.peek(QueueName::Register, 1000).await.unwrap();
    let distinct: std::collections::BTreeSet<&String> = messages.iter().collect();
    assert_eq!(distinct.len(), succeeded.len());
    for message in distinct {
        let metadata = setup.check_product(message).await;
        assert!(succeeded.contains(&metadata.id));
        // Reports may send the same product (same id) again: the document is one of them.
        let item = items
            .iter()
            .find(|i| i.id == metadata.id && i.report.name == metadata.source.report.name)
            .unwrap();
        assert_eq!((metadata.start, metadata.end), (item.start, item.end));
        if let Some(footprint) = &item.footprint {
            assert_eq!(&metadata.footprint, footprint);
        }
    }
}

/// A `width` × `height` RGB JPEG (a gradient across, a gradient down) at `path`.
fn synthetic_jpeg(path: &Path, width: usize, height: usize) {
    let memory = gdal::DriverManager::get_driver_by_name("MEM").unwrap();
    let dataset = memory
        .create_with_band_type::<u8, _>("", width, height, 3)
        .unwrap();
    for band in 1..=3 {
        let values = (0..height)
            .flat_map(|row| (0..width).map(move |column| (row, column)))
            .map(|(row, column)| match band {
                1 => (column * 255 / width) as u8,
                2 => (row * 255 / height) as u8,
                _ => 128,
            })
            .collect();
        let mut buffer = gdal::raster::Buffer::new((width, height), values);
        dataset
            .rasterband(band)
            .unwrap()
            .write((0, 0), (width, height), &mut buffer)
            .unwrap();
    }
    let jpeg = gdal::DriverManager::get_driver_by_name("JPEG").unwrap();
    dataset
        .create_copy(&jpeg, path, &gdal::cpl::CslStringList::new())
        .unwrap();
}

/// The ASA_IM reports whose footprint rows run to 1147, with an image of 494 × 861 pixels
/// (the size of that acquisition's other browse): the tie points lie up to 286 rows below
/// the image. The original ngEO server hands them to GDAL, which extrapolates; so does pvs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tie_points_outside_the_image_convert_as_with_ngeo() {
    let setup = Setup::new().await;
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("ASA_IM__0P_20100807_101327_new.jpg");
    synthetic_jpeg(&image, 494, 861);
    setup
        .upload("ingest/outside/ASA_IM_494x861.jpg", &image)
        .await;
    let preprocessor = setup.preprocessor(Collections::default());
    for name in [
        "browseReport_ASA_IM__0P_20100807_101327_new.xml",
        "browseReport_ASA_IM__0P_20100807_101327_new_merge.xml",
        "browseReport_ASA_IM__0P_20100807_101327_equal-start-stop_id-1_new.xml",
        "browseReport_ASA_IM__0P_20100807_101327_equal-start-stop_id-2.xml",
    ] {
        let path = fixtures_dir().join("reference_test_data").join(name);
        let report = BrowseReport::parse(&std::fs::read(&path).unwrap())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let browse = report.valid_browses().next().unwrap();
        let ties = browse.geolocation.tie_points(494, 861);
        assert!(
            ties.iter().any(|t| t.row == 1147.0),
            "{name}: rows run to 1147"
        );
        let mut item = BrowseItem::new(&report, browse, name);
        item.file = FileName::new("ingest/outside/ASA_IM_494x861.jpg").unwrap();
        // Two of the reports name the same browse, the second from an older report (which
        // would be skipped): each its own product here, as this is about georeferencing.
        item.id = format!("{}-{}", item.id, name.len());
        let Some(done) = preprocessor
            .handle(QueueName::PreprocessMd, &item.to_json())
            .await
            .unwrap()
        else {
            let status = setup.queue().status(Stage::Preprocess, &item.id).await;
            panic!("{name}: refused: {status:?}");
        };
        let metadata = setup.check_product(done.metadata_key.as_str()).await;
        assert!(metadata.cog.alpha, "{name}");
        // The footprint is the report's, the COG covers the tie points' box.
        assert_eq!(Some(&metadata.footprint), item.footprint.as_ref(), "{name}");
        let (lons, lats): (Vec<f64>, Vec<f64>) =
            ties.iter().map(|t| (t.coords.1, t.coords.0)).unzip();
        let min = |v: &[f64]| v.iter().copied().fold(f64::INFINITY, f64::min);
        let max = |v: &[f64]| v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let [west, south, east, north] = metadata.cog.bbox;
        let [dx, dy] = metadata.cog.resolution;
        assert!(
            (west - min(&lons)).abs() <= dx && (east - max(&lons)).abs() <= dx,
            "{name}"
        );
        assert!(
            (south - min(&lats)).abs() <= dy && (north - max(&lats)).abs() <= dy,
            "{name}"
        );

        // The image is near the first tie points' row; nothing is near the last ones.
        let bytes = setup
            .storage
            .get(&metadata.cog.key.parse().unwrap())
            .await
            .unwrap();
        let cog_path = dir.path().join("product.tif");
        std::fs::write(&cog_path, &bytes).unwrap();
        let cog = gdal::Dataset::open(&cog_path).unwrap();
        let gt = cog.geo_transform().unwrap();
        let alpha_near = |row: f64| {
            // Between the middle of the tie points' edge at `row` and the centre of all.
            let edge: Vec<_> = ties.iter().filter(|t| t.row == row).collect();
            let mean = |points: &[&pvs_model::TiePoint], f: fn(&pvs_model::TiePoint) -> f64| {
                points.iter().map(|t| f(t)).sum::<f64>() / points.len() as f64
            };
            let all: Vec<_> = ties.iter().collect();
            let (lon, lat) = (
                0.9 * mean(&edge, |t| t.coords.1) + 0.1 * mean(&all, |t| t.coords.1),
                0.9 * mean(&edge, |t| t.coords.0) + 0.1 * mean(&all, |t| t.coords.0),
            );
            let column = ((lon - gt[0]) / gt[1]).floor() as isize;
            let line = ((lat - gt[3]) / gt[5]).floor() as isize;
            let buffer: gdal::raster::Buffer<u8> = cog
                .rasterband(cog.raster_count())
                .unwrap()
                .read_as((column, line), (1, 1), (1, 1), None)
                .unwrap();
            buffer.data()[0]
        };
        assert_eq!(alpha_near(0.0), 255, "{name}: image at the top");
        assert_eq!(alpha_near(1147.0), 0, "{name}: no image at the bottom");
    }
}

/// Writes a tar (gzip-compressed when `gzip`) of `files` (copied under their names) with
/// the system's tar.
fn tar(dir: &Path, name: &str, files: &[(&str, &[u8])], gzip: bool) -> PathBuf {
    let content = dir.join(format!("{name}.d"));
    std::fs::create_dir_all(&content).unwrap();
    for (file, bytes) in files {
        std::fs::write(content.join(file), bytes).unwrap();
    }
    let archive = dir.join(name);
    let status = std::process::Command::new("tar")
        .arg(if gzip { "-czf" } else { "-cf" })
        .arg(&archive)
        .arg("-C")
        .arg(&content)
        .args(files.iter().map(|(f, _)| *f))
        .status()
        .unwrap();
    assert!(status.success());
    archive
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn packages_with_and_without_a_browse_report() {
    let setup = Setup::new().await;
    let dir = tempfile::tempdir().unwrap();
    let mer = "MER_FRS_1PNPDE20060822_092058_000001972050_00308_23408_0077_RGB_reduced";
    let tif = std::fs::read(fixtures_dir().join(format!("test_data/{mer}.tif"))).unwrap();
    let xml = std::fs::read(fixtures_dir().join(format!("test_data/{mer}.xml"))).unwrap();
    let jpg =
        std::fs::read(fixtures_dir().join("reference_test_data/ATS_TOA_1P_20100719_105257.jpg"))
            .unwrap();

    let with_report = tar(
        dir.path(),
        "with_report.tar.gz",
        &[(&format!("{mer}.tif"), &tif), ("report.xml", &xml)],
        true,
    );
    // Several rasters: the report names the product's.
    let report_of_two = tar(
        dir.path(),
        "report_of_two.tar",
        &[
            ("ATS.jpg", &jpg),
            (&format!("{mer}.tif"), &tif),
            ("report.xml", &xml),
        ],
        false,
    );
    let plain = tar(
        dir.path(),
        "MER_20060822_092058_plain.tar",
        &[("image.tif", &tif)],
        false,
    );
    let two = tar(
        dir.path(),
        "two.tar",
        &[("a.tif", &tif), ("b.jpg", &jpg)],
        false,
    );
    let none = tar(dir.path(), "none.tar", &[("readme.txt", b"hello")], false);
    let garbage = dir.path().join("garbage.tar");
    std::fs::write(&garbage, b"this is not a tar archive at all").unwrap();
    for (key, path) in [
        ("packages/with_report.tar.gz", &with_report),
        ("packages/report_of_two.tar", &report_of_two),
        ("packages/MER_20060822_092058_plain.tar", &plain),
        ("packages/two.tar", &two),
        ("packages/none.tar", &none),
        ("packages/garbage.tar", &garbage),
    ] {
        setup.upload(key, path).await;
    }
    let preprocessor = setup.preprocessor(Collections::default());
    let handle = |message: &'static str| {
        let preprocessor = &preprocessor;
        async move {
            preprocessor
                .handle(QueueName::Preprocess, message)
                .await
                .unwrap()
        }
    };

    // A browse report inside: its id, collection, times and the image's georeferencing.
    let done = handle("packages/with_report.tar.gz").await.unwrap();
    assert_eq!(done.metadata.collection, "MER_FRS");
    assert_eq!(done.metadata.cog.crs, "EPSG:4326");
    setup.check_product(done.metadata_key.as_str()).await;
    let queue = setup.queue();
    assert_eq!(
        queue
            .status(Stage::Preprocess, &done.metadata.id)
            .await
            .unwrap(),
        Status::Succeeded
    );
    assert_eq!(
        queue
            .status(Stage::Preprocess, "with_report")
            .await
            .unwrap(),
        Status::Unknown,
        "the package name is not left in flight"
    );

    let done = handle("packages/report_of_two.tar").await.unwrap();
    assert_eq!(done.metadata.collection, "MER_FRS");
    assert_eq!(
        (done.metadata.cog.width, done.metadata.cog.height),
        (540, 449)
    );

    // No report: collection from the message, time from the package's name.
    let done = handle(r#"{"key": "packages/MER_20060822_092058_plain.tar", "collection": "MER"}"#)
        .await
        .unwrap();
    assert_eq!(done.metadata.id, "MER_20060822_092058_plain");
    assert_eq!(done.metadata.collection, "MER");
    assert_eq!(
        done.metadata.start.to_rfc3339(),
        "2006-08-22T09:20:58+00:00"
    );
    setup.check_product(done.metadata_key.as_str()).await;

    // Failures, each with its reason, and the queue goes on.
    for (message, id, needle) in [
        (
            "packages/MER_20060822_092058_plain.tar",
            "MER_20060822_092058_plain",
            "names no collection",
        ),
        ("packages/two.tar", "two", "2 rasters"),
        ("packages/none.tar", "none", "holds no raster"),
        (
            "packages/garbage.tar",
            "garbage",
            "not a readable tar archive",
        ),
        ("packages/missing.tar", "missing", "does not exist"),
        ("{\"key\": 5}", "{\"key\": 5}", "malformed message"),
    ] {
        assert!(handle(message).await.is_none(), "{message}");
        let Status::Failed { reason } = queue.status(Stage::Preprocess, id).await.unwrap() else {
            panic!("{message}: not failed");
        };
        assert!(reason.contains(needle), "{message}: {reason}");
    }
}

/// The hand-written EO metadata fixtures of pvs-model.
fn eo_fixture(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn packages_with_an_eo_metadata_document() {
    use geo::BoundingRect;
    let setup = Setup::new().await;
    let dir = tempfile::tempdir().unwrap();
    let mer = "MER_FRS_1PNPDE20060822_092058_000001972050_00308_23408_0077_RGB_reduced";
    // A georeferenced GeoTIFF and a plain JPEG.
    let tif = std::fs::read(fixtures_dir().join(format!("test_data/{mer}.tif"))).unwrap();
    let jpg = dir.path().join("plain.jpg");
    synthetic_jpeg(&jpg, 200, 100);
    let jpg = std::fs::read(&jpg).unwrap();
    let gsc = eo_fixture("gsc_opt.xml").replace("ql.jpg", "ql.tif");
    let om = eo_fixture("opt_om20.xml");

    // A quick-look larger than either: 1200 × 700 pixels, uncompressed (2.5 MB).
    let quicklook = dir.path().join("quicklook.tif");
    gdal::DriverManager::get_driver_by_name("GTiff")
        .unwrap()
        .create_with_band_type::<u8, _>(&quicklook, 1200, 700, 3)
        .unwrap();
    let big_quicklook = std::fs::read(&quicklook).unwrap();
    assert!(big_quicklook.len() > tif.len());

    // GSC naming its product and its quick-look.
    let gsc_package = tar(
        dir.path(),
        "gsc_pkg.tar.gz",
        &[
            ("ql.tif", &big_quicklook),
            ("PL00_DOV_MS_L3A_3be7.tif", &tif),
            ("GSC_report.xml", gsc.as_bytes()),
        ],
        true,
    );
    // EO O&M naming a product file that is not there and the quick-look S2A_QL.tif: the
    // largest other raster is the product, placed on the document's footprint.
    let om_package = tar(
        dir.path(),
        "om_pkg.tar",
        &[
            ("S2A_QL.tif", &big_quicklook),
            ("scene.jpg", &jpg),
            ("MTD_MSIL1C.xml", om.as_bytes()),
        ],
        false,
    );
    let no_footprint = tar(
        dir.path(),
        "no_footprint.tar",
        &[
            ("image.tif", &tif),
            (
                "gsc.xml",
                without(&gsc, "<gml:target>", "</gml:target>").as_bytes(),
            ),
        ],
        false,
    );
    let no_time = tar(
        dir.path(),
        "no_time.tar",
        &[
            ("image.tif", &tif),
            (
                "om.xml",
                without(&om, "<om:phenomenonTime>", "</om:phenomenonTime>").as_bytes(),
            ),
        ],
        false,
    );
    let two_documents = tar(
        dir.path(),
        "two_documents.tar",
        &[
            ("image.tif", &tif),
            ("a.xml", gsc.as_bytes()),
            ("b.xml", om.as_bytes()),
        ],
        false,
    );
    for (key, path) in [
        ("packages/gsc_pkg.tar.gz", &gsc_package),
        ("packages/om_pkg.tar", &om_package),
        ("packages/no_footprint.tar", &no_footprint),
        ("packages/no_time.tar", &no_time),
        ("packages/two_documents.tar", &two_documents),
    ] {
        setup.upload(key, path).await;
    }
    let preprocessor = setup.preprocessor(Collections::default());
    let queue = setup.queue();

    let done = preprocessor
        .handle(QueueName::Preprocess, "packages/gsc_pkg.tar.gz")
        .await
        .unwrap()
        .expect("preprocessed");
    let metadata = setup.check_product(done.metadata_key.as_str()).await;
    let id = "PL00_DOV_MS_L3A_20180811T081455_20180811T081456_TOU_1234_3be7";
    assert_eq!(metadata.id, id);
    // No collection in the message: the collection of the product type.
    assert_eq!(metadata.collection, "DOV_MS_L3A");
    assert_eq!(metadata.start.to_rfc3339(), "2018-08-11T08:14:55+00:00");
    assert_eq!(metadata.end.to_rfc3339(), "2018-08-11T08:14:56+00:00");
    // The data raster (the MERIS GeoTIFF, 540 × 449), with its own georeferencing; the
    // footprint is the document's (lat/lon swapped, with its hole).
    assert_eq!((metadata.cog.width, metadata.cog.height), (540, 449));
    assert_eq!(metadata.cog.crs, "EPSG:4326");
    let footprint = geo::MultiPolygon::from(&metadata.footprint);
    let r = footprint.bounding_rect().unwrap();
    assert_eq!(
        [r.min().x, r.min().y, r.max().x, r.max().y],
        [20.0, 40.0, 24.0, 44.0]
    );
    assert_eq!(footprint.0[0].interiors().len(), 1);
    assert_eq!(metadata.properties["eo:cloud_cover"], 3.0);
    assert_eq!(metadata.properties["product:type"], "DOV_MS_L3A");
    assert_eq!(metadata.source.file, "packages/gsc_pkg.tar.gz");
    assert_eq!(
        metadata.source.report.name,
        "packages/gsc_pkg.tar.gz/GSC_report.xml"
    );
    assert_eq!(
        queue.status(Stage::Preprocess, id).await.unwrap(),
        Status::Succeeded
    );
    assert_eq!(
        queue.status(Stage::Preprocess, "gsc_pkg").await.unwrap(),
        Status::Unknown
    );

    let done = preprocessor
        .handle(
            QueueName::Preprocess,
            r#"{"key": "packages/om_pkg.tar", "collection": "S2"}"#,
        )
        .await
        .unwrap()
        .expect("preprocessed");
    let metadata = setup.check_product(done.metadata_key.as_str()).await;
    assert_eq!(metadata.id, "S2A_MSIL1C_20230101T103021_N0509_R108_T32TQM");
    assert_eq!(metadata.collection, "S2");
    // The 200 × 100 JPEG, placed on the box of the document's footprint.
    assert_eq!((metadata.cog.width, metadata.cog.height), (200, 100));
    assert_eq!(metadata.cog.crs, "EPSG:4326");
    for (found, expected) in metadata.cog.bbox.iter().zip([10.0, 49.0, 12.0, 50.0]) {
        assert!((found - expected).abs() < 1e-9, "{:?}", metadata.cog.bbox);
    }
    assert_eq!(metadata.properties["platform"], "sentinel-2a");
    assert_eq!(metadata.properties["sat:orbit_state"], "descending");
    assert_eq!(queue.len(QueueName::Register).await.unwrap(), 2);

    // Documents that cannot be used fail the package with their reason, and nothing is
    // written or queued.
    for (message, id, needle) in [
        (
            "packages/no_footprint.tar",
            "no_footprint",
            "metadata document gsc.xml: GSC document without a footprint \
             (gsc:report/gsc:opt_metadata/gml:target/eop:Footprint)",
        ),
        (
            "packages/no_time.tar",
            "no_time",
            "metadata document om.xml: EO O&M 2.0 document without an acquisition time \
             (opt:EarthObservation/om:phenomenonTime/gml:TimePeriod)",
        ),
        (
            "packages/two_documents.tar",
            "two_documents",
            "the package holds 2 EO metadata documents (a.xml, b.xml)",
        ),
    ] {
        assert!(
            preprocessor
                .handle(QueueName::Preprocess, message)
                .await
                .unwrap()
                .is_none(),
            "{message}"
        );
        let Status::Failed { reason } = queue.status(Stage::Preprocess, id).await.unwrap() else {
            panic!("{message}: not failed");
        };
        assert!(reason.contains(needle), "{message}: {reason}");
    }
    assert_eq!(queue.len(QueueName::Register).await.unwrap(), 2);
    let written = setup.storage.list(None).await.unwrap();
    assert_eq!(
        written
            .iter()
            .filter(|k| !k.as_str().starts_with("packages/"))
            .count(),
        4,
        "{written:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_browse_items_fail_that_item_only() {
    let setup = Setup::new().await;
    let path =
        fixtures_dir().join("reference_test_data/browseReport_ATS_TOA_1P_20100719_105257.xml");
    let report = BrowseReport::parse(&std::fs::read(&path).unwrap()).unwrap();
    let browse = report.valid_browses().next().unwrap();
    let mut good = BrowseItem::new(&report, browse, "r.xml");
    good.file = FileName::new("ingest/ATS.jpg").unwrap();
    setup
        .upload(
            "ingest/ATS.jpg",
            &fixtures_dir().join("reference_test_data/ATS_TOA_1P_20100719_105257.jpg"),
        )
        .await;
    let mut zero = good.clone();
    zero.id = "zero".into();
    zero.file = FileName::new("ingest/empty.tif").unwrap();
    setup
        .upload(
            "ingest/empty.tif",
            &fixtures_dir().join("test_data/empty.tif"),
        )
        .await;
    let mut text = good.clone();
    text.id = "text".into();
    text.file = FileName::new("ingest/notes.jpg").unwrap();
    setup
        .storage
        .put(
            &"ingest/notes.jpg".parse().unwrap(),
            Bytes::from_static(b"not an image"),
        )
        .await
        .unwrap();

    // A configured collection that does not take this browse type.
    let collections =
        Collections::from_toml("[collections.OTHER]\nbrowse_types = [\"OTHER\"]\n").unwrap();
    let strict = setup.preprocessor(collections);
    assert!(
        strict
            .handle(QueueName::PreprocessMd, &good.to_json())
            .await
            .unwrap()
            .is_none()
    );
    let queue = setup.queue();
    let Status::Failed { reason } = queue.status(Stage::Preprocess, &good.id).await.unwrap() else {
        panic!("not failed");
    };
    assert!(reason.contains("no configured collection"), "{reason}");

    let preprocessor = setup.preprocessor(Collections::default());
    for (item, needle) in [(&zero, "empty.tif"), (&text, "notes.jpg")] {
        assert!(
            preprocessor
                .handle(QueueName::PreprocessMd, &item.to_json())
                .await
                .unwrap()
                .is_none()
        );
        let Status::Failed { reason } = queue.status(Stage::Preprocess, &item.id).await.unwrap()
        else {
            panic!("{}: not failed", item.id);
        };
        assert!(reason.contains(needle), "{reason}");
    }
    for garbage in ["", "{", "[1,2]", &"x".repeat(100_000)] {
        assert!(
            preprocessor
                .handle(QueueName::PreprocessMd, garbage)
                .await
                .unwrap()
                .is_none()
        );
    }
    let failures = queue
        .members(Stage::Preprocess, StatusSet::Failure)
        .await
        .unwrap();
    assert!(failures.iter().all(|id| id.len() <= 80), "ids are bounded");
    // And the good item still goes through (a retry of a failed id succeeds).
    let done = preprocessor
        .handle(QueueName::PreprocessMd, &good.to_json())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        queue.status(Stage::Preprocess, &good.id).await.unwrap(),
        Status::Succeeded
    );
    assert_eq!(
        queue.peek(QueueName::Register, 10).await.unwrap(),
        vec![done.metadata_key.to_string()]
    );
}

/// A preprocessor with one conversion thread and no collections configured, trying items
/// again on transient faults as `retry` says.
fn single_threaded(
    queue: Arc<dyn WorkQueue>,
    storage: Storage,
    retry: TransientRetry,
) -> Preprocessor {
    Preprocessor::new(
        queue,
        storage,
        Collections::default(),
        Settings {
            threads: 1,
            ..Settings::default()
        },
    )
    .unwrap()
    .with_transient_retry(retry)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_storage_is_tried_again_then_fails_the_item() {
    let redis = TestRedis::new().await;
    // Nothing listens on port 1: every request fails as a transient backend error. Two
    // retries of the storage client, each after 200 ms (the jitter cannot go below the
    // first wait nor above the cap): 400 ms per download attempt. The preprocessor tries the
    // item again after 100 ms while its transient failures last less than 1 s: attempts
    // end at about 0.4, 0.9 and 1.4 s, and the third is the item's failure.
    let settings = S3Settings {
        retry: S3Retry {
            max_retries: 2,
            init_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_millis(200),
            retry_timeout: Duration::from_secs(10),
        },
        ..S3Settings::with_endpoint("http://127.0.0.1:1".parse().unwrap())
            .with_credentials("pvs-test", "pvs-test-secret")
    };
    let storage =
        Storage::from_url(&"s3://nowhere/data".parse().unwrap(), Some(&settings)).unwrap();
    let preprocessor = single_threaded(
        redis.queue.clone(),
        storage,
        TransientRetry {
            first_pause: Duration::from_millis(100),
            max_pause: Duration::from_millis(100),
            give_up_after: Duration::from_secs(1),
        },
    );
    let path = fixtures_dir().join("test_data/S2.xml");
    let report = BrowseReport::parse(&std::fs::read(&path).unwrap()).unwrap();
    let item = BrowseItem::new(&report, report.valid_browses().next().unwrap(), "S2.xml");
    let started = std::time::Instant::now();
    assert!(
        preprocessor
            .handle(QueueName::PreprocessMd, &item.to_json())
            .await
            .unwrap()
            .is_none()
    );
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(1300) && elapsed < Duration::from_millis(3000),
        "three attempts of 400 ms with two pauses of 100 ms: {elapsed:?}"
    );
    let Status::Failed { reason } = redis.status(Stage::Preprocess, &item.id).await.unwrap() else {
        panic!("not failed");
    };
    assert!(reason.contains("S2.jp2"), "{reason}");
    assert!(reason.contains("after 2 retries"), "{reason}");
}

/// Object storage that comes back while an item waits for it: the item is made, not
/// failed, and nothing about it is recorded as a failure. The preprocessor reaches the S3
/// test server through a port that refuses connections for its first 1.5 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storage_back_within_the_retry_period_makes_the_product() {
    let setup = Setup::new().await;
    let path =
        fixtures_dir().join("reference_test_data/browseReport_ATS_TOA_1P_20100719_105257.xml");
    let report = BrowseReport::parse(&std::fs::read(&path).unwrap()).unwrap();
    let mut item = BrowseItem::new(&report, report.valid_browses().next().unwrap(), "ATS.xml");
    item.file = FileName::new("ingest/ATS.jpg").unwrap();
    setup
        .upload(
            "ingest/ATS.jpg",
            &fixtures_dir().join("reference_test_data/ATS_TOA_1P_20100719_105257.jpg"),
        )
        .await;

    let endpoint = LateEndpoint::new(Duration::from_millis(1500));
    let storage = endpoint.storage(&setup.storage, quick_retry(1));
    let preprocessor = single_threaded(
        setup.queue(),
        storage,
        TransientRetry {
            first_pause: Duration::from_millis(200),
            max_pause: Duration::from_millis(400),
            give_up_after: Duration::from_secs(60),
        },
    );
    let started = std::time::Instant::now();
    let done = preprocessor
        .handle(QueueName::PreprocessMd, &item.to_json())
        .await
        .unwrap()
        .expect("made once storage is back");
    assert!(
        started.elapsed() >= Duration::from_millis(1500),
        "made before storage was reachable: {:?}",
        started.elapsed()
    );
    drop(endpoint);
    assert_eq!(
        setup
            .queue()
            .status(Stage::Preprocess, &item.id)
            .await
            .unwrap(),
        Status::Succeeded
    );
    assert!(
        setup
            .queue()
            .members(Stage::Preprocess, StatusSet::Failure)
            .await
            .unwrap()
            .is_empty()
    );
    setup.check_product(done.metadata_key.as_str()).await;
}

/// ngEO's replacement rule, before anything is written: a browse from a report older than
/// the one that put the product on storage is skipped (its image neither converted nor
/// uploaded, nothing queued for registration, the registration report told why); a newer
/// report's browse replaces it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browses_of_older_reports_are_skipped() {
    let setup = Setup::new().await;
    let path =
        fixtures_dir().join("reference_test_data/browseReport_ATS_TOA_1P_20100719_105257.xml");
    let report = BrowseReport::parse(&std::fs::read(&path).unwrap()).unwrap();
    let browse = report.valid_browses().next().unwrap();
    setup
        .upload(
            "ingest/ATS.jpg",
            &fixtures_dir().join("reference_test_data/ATS_TOA_1P_20100719_105257.jpg"),
        )
        .await;
    let item = |name: &str, date: &str| {
        let mut item = BrowseItem::new(&report, browse, name);
        item.file = FileName::new("ingest/ATS.jpg").unwrap();
        item.report.date_time = date.parse().unwrap();
        item
    };
    let report_dir = tempfile::tempdir().unwrap();
    let preprocessor = setup
        .preprocessor(Collections::default())
        .with_report_dir(report_dir.path().to_owned());
    let newer = item("newer.xml", "2024-02-01T00:00:00Z");
    let older = item("older.xml", "2024-01-01T00:00:00Z");
    let newest = item("newest.xml", "2024-03-01T00:00:00Z");
    for (name, item) in [
        ("newer.xml", &newer),
        ("older.xml", &older),
        ("newest.xml", &newest),
    ] {
        let info = ReportInfo {
            name: name.to_owned(),
            responsible_org_name: "ESA".to_owned(),
            date_time: item.report.date_time,
            browse_type: item.report.browse_type.clone(),
        };
        setup
            .redis
            .report_open(name, 1, &serde_json::to_string(&info).unwrap())
            .await
            .unwrap();
    }
    let handle = async |item: &BrowseItem| {
        preprocessor
            .handle(QueueName::PreprocessMd, &item.to_json())
            .await
            .unwrap()
    };
    let first = handle(&newer).await.expect("preprocessed");
    let stored = || async {
        let json = setup.storage.get(&first.metadata_key).await.unwrap();
        ProductMetadata::from_json(std::str::from_utf8(&json).unwrap()).unwrap()
    };
    assert_eq!(stored().await.source.report.name, "newer.xml");
    assert_eq!(setup.queue().len(QueueName::Register).await.unwrap(), 1);

    assert!(handle(&older).await.is_none(), "skipped");
    assert_eq!(
        stored().await.source.report.name,
        "newer.xml",
        "nothing written"
    );
    assert_eq!(setup.queue().len(QueueName::Register).await.unwrap(), 1);
    assert_eq!(
        setup
            .queue()
            .status(Stage::Preprocess, &older.id)
            .await
            .unwrap(),
        Status::Succeeded
    );
    // The older report is complete: its registration report says skipped, and why.
    let written: Vec<String> = std::fs::read_dir(report_dir.path())
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect();
    assert_eq!(written.len(), 1, "{written:?}");
    assert!(
        written[0].contains("<reg:status>skipped</reg:status>")
            && written[0].contains("is already there from the report &quot;newer.xml&quot;"),
        "{}",
        written[0]
    );

    assert!(handle(&newest).await.is_some(), "a newer report replaces");
    assert_eq!(stored().await.source.report.name, "newest.xml");
    assert_eq!(setup.queue().len(QueueName::Register).await.unwrap(), 2);
}

/// A browse of one `colour` on the box `[west, south, east, north]` (EPSG:4326) of
/// `side` × `side` pixels, id `merged`, from the report `report` dated `date`, acquired
/// `start`..`end`; its PNG uploaded as `ingest/<report>.png`.
async fn coloured_browse(
    setup: &Setup,
    report: &str,
    date: &str,
    colour: [u8; 3],
    [west, south, east, north]: [f64; 4],
    side: usize,
    [start, end]: [&str; 2],
) -> BrowseItem {
    let memory = gdal::DriverManager::get_driver_by_name("MEM").unwrap();
    let image = memory
        .create_with_band_type::<u8, _>("", side, side, 3)
        .unwrap();
    for (band, value) in colour.into_iter().enumerate() {
        let mut buffer = gdal::raster::Buffer::new((side, side), vec![value; side * side]);
        image
            .rasterband(band + 1)
            .unwrap()
            .write((0, 0), (side, side), &mut buffer)
            .unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("browse.png");
    let driver = gdal::DriverManager::get_driver_by_name("PNG").unwrap();
    image
        .create_copy(&driver, &png, &gdal::cpl::CslStringList::new())
        .unwrap();
    let file = format!("ingest/{report}.png");
    setup.upload(&file, &png).await;
    let xml = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<rep:browseReport xmlns:rep="http://ngeo.eo.esa.int/schema/browseReport" version="1.3">
  <rep:responsibleOrgName>ESA</rep:responsibleOrgName>
  <rep:dateTime>{date}</rep:dateTime>
  <rep:browseType>MERGING</rep:browseType>
  <rep:browse>
    <rep:browseIdentifier>merged</rep:browseIdentifier>
    <rep:fileName>{file}</rep:fileName>
    <rep:imageType>PNG</rep:imageType>
    <rep:referenceSystemIdentifier>EPSG:4326</rep:referenceSystemIdentifier>
    <rep:rectifiedBrowse><rep:coordList>{south} {west} {north} {east}</rep:coordList></rep:rectifiedBrowse>
    <rep:startTime>{start}</rep:startTime>
    <rep:endTime>{end}</rep:endTime>
  </rep:browse>
</rep:browseReport>"#
    );
    let parsed = BrowseReport::parse(xml.as_bytes()).unwrap();
    let browse = parsed.valid_browses().next().unwrap();
    BrowseItem::new(&parsed, browse, report)
}

/// The `merge` collection of the merge tests.
fn merging() -> Collections {
    Collections::from_toml(
        "[collections.MERGING]\nstrategy = \"merge\"\nmerge_threshold = \"5h\"\n",
    )
    .unwrap()
}

/// The pixel (every band) of the COG of `metadata` at longitude/latitude `lon`, `lat`.
async fn cog_pixel(setup: &Setup, metadata: &ProductMetadata, lon: f64, lat: f64) -> Vec<u8> {
    let bytes = setup
        .storage
        .get(&metadata.cog.key.parse().unwrap())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cog.tif");
    std::fs::write(&path, &bytes).unwrap();
    let dataset = gdal::Dataset::open(&path).unwrap();
    let gt = dataset.geo_transform().unwrap();
    let (column, row) = ((lon - gt[0]) / gt[1], (lat - gt[3]) / gt[5]);
    (1..=dataset.raster_count())
        .map(|band| {
            let buffer: gdal::raster::Buffer<u8> = dataset
                .rasterband(band)
                .unwrap()
                .read_as((column as isize, row as isize), (1, 1), (1, 1), None)
                .unwrap();
            buffer.data()[0]
        })
        .collect()
}

/// Asserts that `actual` is `expected` within 10⁻⁹.
fn assert_close(actual: &[f64], expected: &[f64]) {
    assert!(
        actual.len() == expected.len()
            && actual
                .iter()
                .zip(expected)
                .all(|(a, e)| (a - e).abs() < 1e-9),
        "{actual:?} is not {expected:?}"
    );
}

const RED: [u8; 3] = [200, 30, 30];
const BLUE: [u8; 3] = [30, 30, 200];
/// The old version's box and the new one's: overlapping by a quarter of each.
const OLD_BOX: [f64; 4] = [0.0, 0.0, 4.0, 4.0];
const NEW_BOX: [f64; 4] = [2.0, 2.0, 6.0, 6.0];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browses_of_reports_within_the_merge_threshold_are_merged() {
    use geo::{Area, BoundingRect, polygon};
    use pvs_model::GeoJsonGeometry;
    let setup = Setup::new().await;
    let preprocessor = setup.preprocessor(merging());
    let handle = async |item: &BrowseItem| {
        preprocessor
            .handle(QueueName::PreprocessMd, &item.to_json())
            .await
            .unwrap()
            .expect("preprocessed")
    };
    let old = coloured_browse(
        &setup,
        "old",
        "2024-01-01T10:00:00Z",
        RED,
        OLD_BOX,
        40,
        ["2024-01-01T09:00:00Z", "2024-01-01T09:05:00Z"],
    )
    .await;
    let first = handle(&old).await;
    assert_eq!(first.metadata.source.merged_with, None);
    // Footprints smaller than the rasters, as those of warped images are: the old version's
    // the south of its box (0..4 × 0..3), the new one's the triangle of its box north-west
    // of its diagonal.
    let mut there = first.metadata.clone();
    there.footprint = GeoJsonGeometry::from(&geo::MultiPolygon(vec![polygon![
        (x: 0.0, y: 0.0), (x: 4.0, y: 0.0), (x: 4.0, y: 3.0), (x: 0.0, y: 3.0)
    ]]));
    setup
        .storage
        .put(&first.metadata_key, Bytes::from(there.to_json()))
        .await
        .unwrap();
    // One hour later, finer (0.05° pixels against 0.1°), a little later in time.
    let mut new = coloured_browse(
        &setup,
        "new",
        "2024-01-01T11:00:00Z",
        BLUE,
        NEW_BOX,
        80,
        ["2024-01-01T09:03:00Z", "2024-01-01T09:10:00Z"],
    )
    .await;
    new.footprint = Some(GeoJsonGeometry::from(&geo::MultiPolygon(vec![polygon![
        (x: 2.0, y: 2.0), (x: 6.0, y: 6.0), (x: 2.0, y: 6.0)
    ]])));
    let merged = handle(&new).await;
    assert_eq!(merged.metadata_key, first.metadata_key, "one product");
    let stored = setup.check_product(merged.metadata_key.as_str()).await;
    assert_eq!(stored, merged.metadata);
    assert_eq!(stored.source.report.name, "new");
    assert_eq!(
        stored.source.merged_with.as_ref().map(|r| r.name.as_str()),
        Some("old")
    );
    assert_eq!(stored.start, old.start, "the union of the times");
    assert_eq!(stored.end, new.end);
    // The union: 12 + 8 less the half square both hold.
    let footprint = geo::MultiPolygon::from(&stored.footprint);
    assert!(
        (footprint.unsigned_area() - 19.5).abs() < 1e-9,
        "{footprint:?}"
    );
    let rect = footprint.bounding_rect().unwrap();
    assert_eq!(
        (rect.min().x, rect.min().y, rect.max().x, rect.max().y),
        (0.0, 0.0, 6.0, 6.0)
    );
    // One grid: the old CRS, the union of the boxes, the finer resolution; RGB and alpha.
    assert_eq!(stored.cog.crs, "EPSG:4326");
    assert_close(&stored.cog.bbox, &[0.0, 0.0, 6.0, 6.0]);
    assert_close(&stored.cog.resolution, &[0.05, 0.05]);
    assert_eq!((stored.cog.bands, stored.cog.alpha), (4, true));
    let ([r, g, b], [r2, g2, b2]) = (RED, BLUE);
    let (red, blue, transparent) = ([r, g, b, 255], [r2, g2, b2, 255], [0, 0, 0, 0]);
    for (lon, lat, expected, what) in [
        (1.0, 1.0, red, "the old image, outside the new raster"),
        (3.9, 0.1, red, "the old image, outside the new raster"),
        (3.0, 2.5, red, "the old image, outside the new footprint"),
        (2.5, 2.8, blue, "the new image over the old one"),
        (2.2, 3.8, blue, "the new image, outside the old footprint"),
        (5.0, 5.5, blue, "the new image, outside the old raster"),
        (
            1.0,
            3.5,
            transparent,
            "outside both footprints, in the old raster",
        ),
        (
            5.0,
            3.0,
            transparent,
            "outside both footprints, in the new raster",
        ),
        (1.0, 5.0, transparent, "outside both rasters"),
        (5.0, 1.0, transparent, "outside both rasters"),
    ] {
        let pixel = cog_pixel(&setup, &stored, lon, lat).await;
        if expected[3] == 0 {
            assert_eq!(pixel[3], 0, "({lon}, {lat}): {what}");
        } else {
            assert_eq!(pixel, expected, "({lon}, {lat}): {what}");
        }
    }
    assert_eq!(setup.queue().len(QueueName::Register).await.unwrap(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn beyond_the_merge_threshold_a_browse_replaces_and_before_it_merges() {
    use geo::Area;
    let setup = Setup::new().await;
    let preprocessor = setup.preprocessor(merging());
    let handle = async |item: &BrowseItem| {
        preprocessor
            .handle(QueueName::PreprocessMd, &item.to_json())
            .await
            .unwrap()
            .expect("preprocessed")
            .metadata
    };
    let times = ["2024-01-01T09:00:00Z", "2024-01-01T09:05:00Z"];
    let first = coloured_browse(
        &setup,
        "first",
        "2024-01-01T10:00:00Z",
        RED,
        OLD_BOX,
        40,
        times,
    )
    .await;
    handle(&first).await;
    // Five hours and a second later: beyond the threshold, the new image alone.
    let later = coloured_browse(
        &setup,
        "later",
        "2024-01-01T15:00:01Z",
        BLUE,
        NEW_BOX,
        40,
        times,
    )
    .await;
    let replaced = handle(&later).await;
    assert_eq!(replaced.source.merged_with, None);
    assert_close(&replaced.cog.bbox, &NEW_BOX);
    assert!((geo::MultiPolygon::from(&replaced.footprint).unsigned_area() - 16.0).abs() < 1e-9);
    let [r, g, b] = BLUE;
    assert_eq!(cog_pixel(&setup, &replaced, 3.0, 3.0).await, [r, g, b]);
    // An hour before the report there (a negative difference): merged, the older report's
    // image over the one there.
    let earlier = coloured_browse(
        &setup,
        "earlier",
        "2024-01-01T14:00:01Z",
        RED,
        OLD_BOX,
        40,
        times,
    )
    .await;
    let merged = handle(&earlier).await;
    assert_eq!(
        merged.source.merged_with.as_ref().map(|r| r.name.as_str()),
        Some("later")
    );
    assert_close(&merged.cog.bbox, &[0.0, 0.0, 6.0, 6.0]);
    let [r, g, b] = RED;
    assert_eq!(cog_pixel(&setup, &merged, 3.0, 3.0).await, [r, g, b, 255]);
    let [r, g, b] = BLUE;
    assert_eq!(cog_pixel(&setup, &merged, 5.0, 5.0).await, [r, g, b, 255]);
}
