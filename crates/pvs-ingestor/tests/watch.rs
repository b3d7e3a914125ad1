//! The watch folder (the SFTP `from/fepd` drop) with a real Redis and a real S3 server: every
//! fixture report dropped with its images ends in `done/` or `failed/` with its response,
//! its images on storage and its items on the queue; half-written files are never read.
//! STAC Items (`*.json`) likewise: their data asset uploaded, the Item on `register_queue`.

mod support;

use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use pvs_ingestor::{Ingestor, WatchFolder};
use pvs_model::BrowseReport;
use pvs_queue::WorkQueue;
use pvs_storage::{Storage, StorageKey};
use pvs_test_support::s3::s3_storage;
use support::{TestQueue, expected_items, fixture_reports};

const QUIET: Duration = Duration::from_millis(300);
const POLL: Duration = Duration::from_millis(50);
const MAX_BYTES: u64 = 1024 * 1024;

/// Runs the watcher on `dir` until the returned sender is dropped or sent to.
fn start_watcher(
    queue: &TestQueue,
    storage: Storage,
    dir: &Path,
) -> tokio::sync::oneshot::Sender<()> {
    let ingestor = Arc::new(Ingestor::new(
        queue.queue.clone(),
        Some(storage),
        Some("uploads".parse().unwrap()),
    ));
    let folder = WatchFolder::new(dir, QUIET).unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(pvs_ingestor::watch::run(
        ingestor,
        folder,
        POLL,
        MAX_BYTES,
        async move {
            let _ = stopped.await;
        },
    ));
    stop
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// Waits until `n` reports have been filed away in done/ and failed/ together.
async fn wait_for_filed(dir: &Path, n: usize) -> (Vec<String>, Vec<String>) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let reports = |sub: &str| -> Vec<String> {
            files_in(&dir.join(sub))
                .into_iter()
                .filter(|f| !f.ends_with(".response.xml"))
                .collect()
        };
        let (done, failed) = (reports("done"), reports("failed"));
        if done.len() + failed.len() >= n {
            return (done, failed);
        }
        assert!(
            Instant::now() < deadline,
            "only {} of {n} reports filed: done {done:?}, failed {failed:?}",
            done.len() + failed.len()
        );
        tokio::time::sleep(POLL).await;
    }
}

#[tokio::test]
async fn every_fixture_report_dropped_in_the_folder_is_ingested() {
    let queue = TestQueue::new().await;
    let storage = s3_storage("data").await;
    let dir = tempfile::tempdir().unwrap();
    // Reports with their images beside them; the FAILURE report's image is missing, as in
    // the original test data.
    let mut expected_done = Vec::new();
    let mut expected_failed = Vec::new();
    let mut expected_queue = Vec::new();
    let mut images = Vec::new();
    for path in fixture_reports() {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let bytes = std::fs::read(&path).unwrap();
        let report = BrowseReport::parse(&bytes).unwrap();
        let missing_image = name == "BrowseReport_FAILURE.xml";
        for browse in report.valid_browses() {
            let file = browse.file_name.as_str();
            if !missing_image && !browse.file_name.is_url() {
                let image = dir.path().join(file);
                std::fs::create_dir_all(image.parent().unwrap()).unwrap();
                std::fs::write(&image, format!("image {file}")).unwrap();
                images.push(file.to_owned());
            }
        }
        let (items, _) = expected_items(&bytes, &name, Some("uploads"));
        if items.is_empty() || missing_image {
            expected_failed.push(name.clone());
        } else {
            expected_done.push(name.clone());
            if !missing_image {
                expected_queue.extend(items);
            }
        }
        std::fs::write(dir.path().join(&name), &bytes).unwrap();
    }
    let _stop = start_watcher(&queue, storage.clone(), dir.path());
    let n = expected_done.len() + expected_failed.len();
    let (done, failed) = wait_for_filed(dir.path(), n).await;
    expected_done.sort();
    expected_failed.sort();
    assert_eq!(done, expected_done);
    assert_eq!(failed, expected_failed);
    for name in done.iter().chain(&failed) {
        let sub = if done.contains(name) {
            "done"
        } else {
            "failed"
        };
        let response = dir
            .path()
            .join(sub)
            .join(name.replace(".xml", ".response.xml"));
        let text = std::fs::read_to_string(&response)
            .unwrap_or_else(|e| panic!("{}: {e}", response.display()));
        assert!(text.starts_with("<?xml"), "{name}: {text}");
    }
    let failure_response =
        std::fs::read_to_string(dir.path().join("failed/BrowseReport_FAILURE.response.xml"))
            .unwrap();
    assert!(
        failure_response.contains("not found beside the report"),
        "{failure_response}"
    );

    // Items in the order the reports were read (name order), images on storage.
    let mut queued = queue.items().await;
    queued.sort_by(|a, b| a.id.cmp(&b.id).then(a.report.name.cmp(&b.report.name)));
    expected_queue.sort_by(|a, b| a.id.cmp(&b.id).then(a.report.name.cmp(&b.report.name)));
    assert_eq!(queued, expected_queue);
    for image in images {
        let key: StorageKey = format!("uploads/{image}").parse().unwrap();
        let bytes = storage.get(&key).await.unwrap();
        assert_eq!(&bytes[..], format!("image {image}").as_bytes());
    }
    // Nothing is left in the folder but the images and the two sub-folders.
    assert!(
        files_in(dir.path()).iter().all(|f| !f.ends_with(".xml")),
        "{:?}",
        files_in(dir.path())
    );
}

fn one_report(id: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<rep:browseReport xmlns:rep="http://ngeo.eo.esa.int/ngEO/browseReport/1.0" version="1.3">
  <rep:responsibleOrgName>ESA</rep:responsibleOrgName>
  <rep:dateTime>2012-10-02T09:30:00Z</rep:dateTime>
  <rep:browseType>OPTICAL</rep:browseType>
  <rep:browse>
    <rep:browseIdentifier>{id}</rep:browseIdentifier>
    <rep:fileName>{id}.tif</rep:fileName>
    <rep:imageType>GeoTIFF</rep:imageType>
    <rep:referenceSystemIdentifier>EPSG:4326</rep:referenceSystemIdentifier>
    <rep:modelInGeotiff>true</rep:modelInGeotiff>
    <rep:startTime>2010-07-22T21:38:40Z</rep:startTime>
    <rep:endTime>2010-07-22T21:39:38Z</rep:endTime>
  </rep:browse>
</rep:browseReport>
"#
    )
}

#[tokio::test]
async fn a_slowly_written_report_is_read_only_once_complete() {
    let queue = TestQueue::new().await;
    let storage = s3_storage("data").await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("slow.tif"), b"tiff").unwrap();
    let _stop = start_watcher(&queue, storage, dir.path());
    let text = one_report("slow");
    let (first, second) = text.split_at(text.len() / 2);
    let path = dir.path().join("slow.xml");
    let mut file = std::fs::File::create(&path).unwrap();
    // Half the report, then a pause of several polls but shorter than the quiet period.
    file.write_all(first.as_bytes()).unwrap();
    file.flush().unwrap();
    for _ in 0..4 {
        tokio::time::sleep(QUIET / 2).await;
        file.write_all(b" ").unwrap();
        file.flush().unwrap();
        assert!(path.exists(), "a half-written report was taken");
    }
    file.write_all(second.as_bytes()).unwrap();
    drop(file);
    let (done, failed) = wait_for_filed(dir.path(), 1).await;
    assert_eq!(done, ["slow.xml"], "failed: {failed:?}");
    assert_eq!(queue.len().await, 1);
}

#[tokio::test]
async fn write_then_rename_and_temporary_names() {
    let queue = TestQueue::new().await;
    let storage = s3_storage("data").await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("renamed.tif"), b"tiff").unwrap();
    let _stop = start_watcher(&queue, storage, dir.path());
    // An upload in progress under a temporary name is left alone...
    let part = dir.path().join("renamed.xml.part");
    std::fs::write(&part, one_report("renamed")).unwrap();
    tokio::time::sleep(QUIET * 3).await;
    assert!(part.exists());
    assert_eq!(queue.len().await, 0);
    // ...and picked up once renamed.
    std::fs::rename(&part, dir.path().join("renamed.xml")).unwrap();
    let (done, _) = wait_for_filed(dir.path(), 1).await;
    assert_eq!(done, ["renamed.xml"]);
    assert_eq!(queue.len().await, 1);
}

#[tokio::test]
async fn images_outside_the_folder_and_bad_reports_are_refused() {
    let queue = TestQueue::new().await;
    let storage = s3_storage("data").await;
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret.tif"), b"secret").unwrap();
    let dir = tempfile::tempdir().unwrap();
    // A symbolic link beside the report that leads outside the folder.
    std::os::unix::fs::symlink(
        outside.path().join("secret.tif"),
        dir.path().join("escape.tif"),
    )
    .unwrap();
    std::fs::write(dir.path().join("escape.xml"), one_report("escape")).unwrap();
    std::fs::write(dir.path().join("empty.tif"), b"").unwrap();
    std::fs::write(dir.path().join("empty.xml"), one_report("empty")).unwrap();
    std::fs::write(dir.path().join("garbage.xml"), b"<not a report").unwrap();
    std::fs::write(
        dir.path().join("huge.xml"),
        vec![b' '; usize::try_from(MAX_BYTES).unwrap() + 1],
    )
    .unwrap();
    let _stop = start_watcher(&queue, storage.clone(), dir.path());
    let (done, failed) = wait_for_filed(dir.path(), 4).await;
    assert!(done.is_empty(), "{done:?}");
    assert_eq!(
        failed,
        ["empty.xml", "escape.xml", "garbage.xml", "huge.xml"]
    );
    let response =
        |name: &str| std::fs::read_to_string(dir.path().join("failed").join(name)).unwrap();
    assert!(response("escape.response.xml").contains("outside the report folder"));
    assert!(response("empty.response.xml").contains("is empty"));
    assert!(response("garbage.response.xml").contains("InvalidRequest"));
    assert!(response("huge.response.xml").contains("INGEST_MAX_BYTES"));
    assert_eq!(queue.len().await, 0);
    assert!(
        !storage
            .exists(&"uploads/escape.tif".parse().unwrap())
            .await
            .unwrap(),
        "a file outside the folder was uploaded"
    );
}

#[tokio::test]
async fn a_name_already_filed_is_not_overwritten() {
    let queue = TestQueue::new().await;
    let storage = s3_storage("data").await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("again.tif"), b"tiff").unwrap();
    let _stop = start_watcher(&queue, storage, dir.path());
    std::fs::write(dir.path().join("again.xml"), one_report("again")).unwrap();
    wait_for_filed(dir.path(), 1).await;
    std::fs::write(dir.path().join("again.xml"), one_report("again")).unwrap();
    let (done, _) = wait_for_filed(dir.path(), 2).await;
    assert_eq!(done, ["again-1.xml", "again.xml"]);
    assert!(dir.path().join("done/again-1.response.xml").exists());
    assert_eq!(queue.len().await, 2);
}

/// A STAC 1.1 Item of collection `S2` whose data asset is at `href`.
fn stac_item(id: &str, href: &str) -> serde_json::Value {
    serde_json::json!({
        "type": "Feature",
        "stac_version": "1.1.0",
        "id": id,
        "collection": "S2",
        "geometry": {"type": "Polygon", "coordinates": [[
            [10.0, 49.0], [12.0, 49.0], [12.0, 50.0], [10.0, 50.0], [10.0, 49.0]
        ]]},
        "properties": {"datetime": "2024-05-01T10:30:00Z", "eo:cloud_cover": 3},
        "links": [],
        "assets": {"data": {"href": href, "type": "image/tiff", "roles": ["data"]}}
    })
}

/// The response filed beside `name` in `sub` (`done` or `failed`).
fn item_response(dir: &Path, sub: &str, name: &str) -> serde_json::Value {
    let stem = name.strip_suffix(".json").unwrap();
    let path = dir.join(sub).join(format!("{stem}.response.json"));
    serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap()
}

#[tokio::test]
async fn stac_items_are_uploaded_queued_and_filed_with_their_reason() {
    let queue = TestQueue::new().await;
    let storage = s3_storage("data").await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("S2")).unwrap();
    std::fs::write(dir.path().join("S2/scene.tif"), b"the scene's bytes").unwrap();
    let url = "https://example.invalid/scene.tif";
    let mut no_geometry = stac_item("no_geometry", "S2/scene.tif");
    no_geometry.as_object_mut().unwrap().remove("geometry");
    let files = [
        ("good.json", stac_item("good", "./S2/scene.tif").to_string()),
        ("by_url.json", stac_item("by_url", url).to_string()),
        ("no_geometry.json", no_geometry.to_string()),
        (
            "missing.json",
            stac_item("missing", "S2/none.tif").to_string(),
        ),
        (
            "outside.json",
            stac_item("outside", "../outside.tif").to_string(),
        ),
        ("malformed.json", "{\"type\": \"Feature\", ".to_owned()),
    ];
    for (name, json) in &files {
        std::fs::write(dir.path().join(name), json).unwrap();
    }
    let _stop = start_watcher(&queue, storage.clone(), dir.path());
    let filed = |sub: &str| -> Vec<String> {
        files_in(&dir.path().join(sub))
            .into_iter()
            .filter(|f| !f.ends_with(".response.json"))
            .collect()
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while filed("done").len() + filed("failed").len() < files.len() {
        assert!(Instant::now() < deadline, "{:?}", files_in(dir.path()));
        tokio::time::sleep(POLL).await;
    }
    assert_eq!(filed("done"), ["by_url.json", "good.json"]);
    assert_eq!(
        filed("failed"),
        [
            "malformed.json",
            "missing.json",
            "no_geometry.json",
            "outside.json"
        ]
    );
    // The data asset beside the Item is on storage; a URL is passed on as it is.
    let good = item_response(dir.path(), "done", "good.json");
    assert_eq!(good["status"], "queued");
    assert_eq!(good["data"], "uploads/S2/scene.tif");
    let stored = storage
        .get(&"uploads/S2/scene.tif".parse().unwrap())
        .await
        .unwrap();
    assert_eq!(&stored[..], b"the scene's bytes");
    assert_eq!(
        item_response(dir.path(), "done", "by_url.json")["data"],
        url
    );
    for (name, reason) in [
        ("no_geometry.json", "field geometry: missing"),
        ("missing.json", "not found beside the report"),
        ("outside.json", "'..'"),
        ("malformed.json", "not JSON"),
    ] {
        let response = item_response(dir.path(), "failed", name);
        assert_eq!(response["status"], "failed", "{name}");
        let found = response["reason"].as_str().unwrap();
        assert!(found.contains(reason), "{name}: {found}");
    }
    // The two good Items, and nothing else, are on register_queue, hrefs as the registrar
    // reads them.
    let mut queued: Vec<(String, String)> = queue
        .queue
        .peek(pvs_queue::QueueName::Register, 10)
        .await
        .unwrap()
        .iter()
        .map(|json| {
            let item = pvs_model::parse_item(json.as_bytes(), None).unwrap();
            (item.id, item.data.href.to_string())
        })
        .collect();
    queued.sort();
    assert_eq!(
        queued,
        [
            ("by_url".to_owned(), url.to_owned()),
            ("good".to_owned(), "uploads/S2/scene.tif".to_owned())
        ]
    );
    assert_eq!(queue.len().await, 0, "no browse item");
}
