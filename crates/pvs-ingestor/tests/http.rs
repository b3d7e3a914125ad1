//! The ingestor over real HTTP with a real Redis: every fixture report gives the expected
//! items on `preprocess-md_queue`, and every kind of bad input gets a clear answer and queues
//! nothing.

mod support;

use std::sync::Arc;

use pvs_access::{Grants, Policy, Verifier};
use pvs_ingestor::Ingestor;
use pvs_model::BrowseReport;
use pvs_queue::{Stage, WorkQueue};
use pvs_test_support::s3::s3_storage;
use support::{Server, TestQueue, expected_items, fixture_reports};

const MIB: u64 = 1024 * 1024;

async fn open_server(queue: &TestQueue) -> Server {
    Server::start(
        Ingestor::new(queue.queue.clone(), None, None),
        None,
        10 * MIB,
    )
    .await
}

/// A valid one-browse report; `browse` replaces the browse element.
fn report_with_browse(browse: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<rep:browseReport xmlns:rep="http://ngeo.eo.esa.int/ngEO/browseReport/1.0" version="1.3">
  <rep:responsibleOrgName>ESA</rep:responsibleOrgName>
  <rep:dateTime>2012-10-02T09:30:00Z</rep:dateTime>
  <rep:browseType>SAR</rep:browseType>
  {browse}
</rep:browseReport>"#
    )
}

fn browse(id: &str, crs: &str, node_number: &str, coords: &str) -> String {
    format!(
        r#"<rep:browse>
    <rep:browseIdentifier>{id}</rep:browseIdentifier>
    <rep:fileName>{id}.jpg</rep:fileName>
    <rep:imageType>Jpeg</rep:imageType>
    <rep:referenceSystemIdentifier>{crs}</rep:referenceSystemIdentifier>
    <rep:footprint nodeNumber="{node_number}">
      <rep:colRowList>0 0 100 0 100 100 0 100 0 0</rep:colRowList>
      <rep:coordList>{coords}</rep:coordList>
    </rep:footprint>
    <rep:startTime>2010-07-22T21:38:40Z</rep:startTime>
    <rep:endTime>2010-07-22T21:39:38Z</rep:endTime>
  </rep:browse>"#
    )
}

const SQUARE: &str = "10 10 10 11 11 11 11 10 10 10";

fn good_report(id: &str) -> String {
    report_with_browse(&browse(id, "EPSG:4326", "5", SQUARE))
}

#[tokio::test]
async fn every_fixture_report_gives_the_expected_items() {
    let queue = TestQueue::new().await;
    let server = open_server(&queue).await;
    let mut expected_queue = Vec::new();
    for path in fixture_reports() {
        let bytes = std::fs::read(&path).unwrap();
        let answer = server.post("/ingest", bytes.clone()).await;
        let name = answer
            .headers
            .get("x-pvs-report")
            .expect("the report's name")
            .to_str()
            .unwrap()
            .to_owned();
        let (items, failures) = expected_items(&bytes, &name, None);
        let file = path.file_name().unwrap().to_string_lossy();
        let expected_status = if items.is_empty() { 400 } else { 202 };
        assert_eq!(answer.status, expected_status, "{file}: {}", answer.body);
        assert!(
            answer.body.contains("<bsi:ingestBrowseResponse"),
            "{file}: {}",
            answer.body
        );
        let status = match (items.len(), failures) {
            (_, 0) => "success",
            (0, _) => "failure",
            _ => "partial",
        };
        assert!(
            answer
                .body
                .contains(&format!("<bsi:status>{status}</bsi:status>")),
            "{file}: expected {status}: {}",
            answer.body
        );
        expected_queue.extend(items);
    }
    let queued = queue.items().await;
    assert_eq!(queued.len(), expected_queue.len());
    assert_eq!(queued, expected_queue);
    // Spot checks against the files themselves.
    assert!(
        queued
            .iter()
            .any(|i| i.id == "b_id_1" && i.collection == "SAR")
    );
    assert!(queued.iter().all(|i| i.report.name.starts_with("http-")));
}

#[tokio::test]
async fn the_report_is_opened_for_the_registration_report() {
    let queue = TestQueue::new().await;
    let server = open_server(&queue).await;
    let path = support::fixtures_dir()
        .join("reference_test_data/browseReport_ASA_WS__0P_20100719_101023_group_partial.xml");
    let answer = server.post("/", std::fs::read(path).unwrap()).await;
    assert_eq!(answer.status, 202, "{}", answer.body);
    let name = answer.headers["x-pvs-report"].to_str().unwrap().to_owned();
    let items = queue.items().await;
    assert!(items.len() >= 2);
    // The report completes exactly when every queued product has an outcome.
    let (last, first) = items.split_last().unwrap();
    for item in first {
        let done = queue
            .queue
            .report_result(&name, &item.id, "{}")
            .await
            .unwrap();
        assert_eq!(done, None, "completed early");
    }
    let done = queue
        .queue
        .report_result(&name, &last.id, "{}")
        .await
        .unwrap()
        .expect("complete");
    assert_eq!(done.outcomes.len(), items.len());
    let info: serde_json::Value = serde_json::from_str(&done.info).unwrap();
    assert_eq!(info["name"], name.as_str());
    assert_eq!(info["browse_type"], "SAR");
}

#[tokio::test]
async fn a_partly_bad_report_queues_the_good_browses_and_names_the_bad_one() {
    let queue = TestQueue::new().await;
    let server = open_server(&queue).await;
    let path = support::fixtures_dir()
        .join("reference_test_data/browseReport_ASA_WS__0P_20100719_101023_group_partial.xml");
    let bytes = std::fs::read(path).unwrap();
    let answer = server.post("/", bytes.clone()).await;
    assert_eq!(answer.status, 202, "{}", answer.body);
    assert!(answer.body.contains("<bsi:status>partial</bsi:status>"));
    assert!(answer.body.contains("7_FAILURE"), "{}", answer.body);
    let report = BrowseReport::parse(&bytes).unwrap();
    let good = report.valid_browses().count();
    assert!(good >= 1 && good < report.browses.len());
    assert_eq!(queue.len().await, good as u64);
}

#[tokio::test]
async fn an_already_registered_id_is_reported_as_replaced() {
    let queue = TestQueue::new().await;
    let server = open_server(&queue).await;
    queue
        .queue
        .mark_succeeded(Stage::Register, "seen-before")
        .await
        .unwrap();
    let answer = server.post("/", good_report("seen-before")).await;
    assert_eq!(answer.status, 202, "{}", answer.body);
    assert!(
        answer
            .body
            .contains("<bsi:actuallyReplaced>1</bsi:actuallyReplaced>"),
        "{}",
        answer.body
    );
    // ngEO's toBeReplaced counts every browse of the report.
    assert!(
        answer
            .body
            .contains("<bsi:toBeReplaced>1</bsi:toBeReplaced>")
    );
    let answer = server.post("/", good_report("brand-new")).await;
    assert!(
        answer
            .body
            .contains("<bsi:actuallyReplaced>0</bsi:actuallyReplaced>")
            && answer
                .body
                .contains("<bsi:actuallyInserted>1</bsi:actuallyInserted>"),
        "{}",
        answer.body
    );
    assert_eq!(queue.len().await, 2);
}

/// ngEO's replacement rules answered at once: with the collections and a storage, a browse
/// whose product is on storage from a newer report (the preprocessor's metadata document says
/// which) is answered a success counted as neither inserted nor replaced; with the
/// collection's `skip` strategy, one from a report of the same `dateTime` too; under `merge`
/// it is counted inserted. It is still queued, so that the preprocessor decides for good and
/// the registration report says why.
#[tokio::test]
async fn browses_of_older_reports_are_answered_skipped() {
    let storage = s3_storage("data").await;
    let put = |key: &str, body: String| {
        let storage = storage.clone();
        let key: pvs_storage::StorageKey = key.parse().unwrap();
        async move { storage.put(&key, bytes::Bytes::from(body)).await.unwrap() }
    };
    for id in ["p-1", "p-2"] {
        put(&format!("incoming/{id}.jpg"), "jpeg".to_owned()).await;
    }
    // p-1 was registered from a report of 2013; the reports below are of 2012-10-02.
    let metadata = |id: &str, collection: &str, date_time: &str| {
        format!(
            r#"{{"id": "{id}", "collection": "{collection}",
  "footprint": {{"type": "MultiPolygon", "coordinates": [[[[10.0, 10.0], [11.0, 10.0], [11.0, 11.0], [10.0, 11.0], [10.0, 10.0]]]]}},
  "start": "2010-07-22T21:38:40Z", "end": "2010-07-22T21:39:38Z",
  "cog": {{"key": "{collection}/{id}/{id}.tif", "size_bytes": 10, "width": 10, "height": 10, "bands": 4,
          "alpha": true, "crs": "EPSG:4326", "bbox": [10.0, 10.0, 11.0, 11.0], "resolution": [0.1, 0.1]}},
  "source": {{"file": "{id}.jpg", "browse_identifier": "{id}",
             "report": {{"name": "r.xml", "responsible_org_name": "ESA", "date_time": "{date_time}", "browse_type": "SAR"}}}},
  "processed_at": "2026-11-23T04:00:00Z"}}"#
        )
    };
    put(
        "RADAR/p-1/p-1.json",
        metadata("p-1", "RADAR", "2013-01-01T00:00:00Z"),
    )
    .await;
    put(
        "RADAR/p-2/p-2.json",
        metadata("p-2", "RADAR", "2012-10-02T09:30:00Z"),
    )
    .await;
    let queue = TestQueue::new().await;
    let start = |strategy: &str| {
        let collections = pvs_model::Collections::from_toml(&format!(
            "[collections.RADAR]\nbrowse_types = [\"SAR\"]\nstrategy = \"{strategy}\"\n"
        ))
        .unwrap();
        let ingestor = Ingestor::new(
            queue.queue.clone(),
            Some(storage.clone()),
            Some("incoming".parse().unwrap()),
        )
        .with_collections(collections);
        Server::start(ingestor, None, MIB)
    };
    let counts = |body: &str| {
        let count = |name: &str| {
            let open = format!("<bsi:{name}>");
            let start = body.find(&open).unwrap() + open.len();
            body[start..]
                .split('<')
                .next()
                .unwrap()
                .parse::<usize>()
                .unwrap()
        };
        (count("actuallyInserted"), count("actuallyReplaced"))
    };

    let replace = start("replace").await;
    let answer = replace.post("/", good_report("p-1")).await;
    assert_eq!(answer.status, 202, "{}", answer.body);
    assert!(
        answer.body.contains("<bsi:status>success</bsi:status>"),
        "{}",
        answer.body
    );
    assert_eq!(counts(&answer.body), (0, 0), "skipped: {}", answer.body);
    let answer = replace.post("/", good_report("p-2")).await;
    assert_eq!(
        counts(&answer.body),
        (1, 0),
        "the same dateTime replaces: {}",
        answer.body
    );

    let skip = start("skip").await;
    let answer = skip.post("/", good_report("p-2")).await;
    assert_eq!(
        counts(&answer.body),
        (0, 0),
        "skip keeps it: {}",
        answer.body
    );

    // Registered (so otherwise a replacement), but merged: counted inserted, as ngEO does.
    queue
        .queue
        .mark_succeeded(Stage::Register, "p-1")
        .await
        .unwrap();
    let answer = replace.post("/", good_report("p-1")).await;
    assert_eq!(
        counts(&answer.body),
        (0, 0),
        "still skipped: {}",
        answer.body
    );
    let merge = start("merge").await;
    let answer = merge.post("/", good_report("p-1")).await;
    assert_eq!(counts(&answer.body), (1, 0), "a merge: {}", answer.body);
    assert_eq!(queue.len().await, 5, "every browse is still queued");
}

#[tokio::test]
async fn the_storage_prefix_makes_the_image_key() {
    let queue = TestQueue::new().await;
    let storage = s3_storage("data").await;
    storage
        .put(
            &"incoming/img-1.jpg".parse().unwrap(),
            bytes::Bytes::from_static(b"jpeg"),
        )
        .await
        .unwrap();
    let ingestor = Ingestor::new(
        queue.queue.clone(),
        Some(storage),
        Some("incoming".parse().unwrap()),
    );
    let server = Server::start(ingestor, None, MIB).await;
    let answer = server.post("/", good_report("img-1")).await;
    assert_eq!(answer.status, 202, "{}", answer.body);
    assert_eq!(queue.items().await[0].file.as_str(), "incoming/img-1.jpg");

    // An image that is not in storage fails that browse, with the key it looked for.
    let answer = server.post("/", good_report("img-2")).await;
    assert_eq!(answer.status, 400, "{}", answer.body);
    assert!(
        answer.body.contains("not found in storage") && answer.body.contains("incoming/img-2.jpg"),
        "{}",
        answer.body
    );
    assert_eq!(queue.len().await, 1);
}

/// A bad report case: name, body, expected status, exception code (`None` for a failed
/// browse inside an ingestion response) and words the message must contain.
type BadCase = (
    &'static str,
    Vec<u8>,
    u16,
    Option<&'static str>,
    &'static str,
);

fn bad_reports() -> Vec<BadCase> {
    let good = good_report("x");
    vec![
        (
            "malformed XML",
            b"<rep:browseReport xmlns:rep=\"http://ngeo.eo.esa.int/ngEO/browseReport/1.0\"><unclosed>"
                .to_vec(),
            400,
            Some("InvalidRequest"),
            "XML",
        ),
        (
            "wrong namespace",
            good.replace(
                "http://ngeo.eo.esa.int/ngEO/browseReport/1.0",
                "http://example.com/other",
            )
            .into_bytes(),
            400,
            Some("InvalidRequest"),
            "root element",
        ),
        (
            "missing browseType",
            good.replace("<rep:browseType>SAR</rep:browseType>", "")
                .into_bytes(),
            400,
            Some("InvalidRequest"),
            "rep:browseType",
        ),
        (
            "odd node count",
            report_with_browse(&browse("x", "EPSG:4326", "4", SQUARE)).into_bytes(),
            400,
            None,
            "nodeNumber",
        ),
        (
            "latitude outside ±90",
            report_with_browse(&browse(
                "x",
                "EPSG:4326",
                "5",
                "95 10 10 11 11 11 11 10 95 10",
            ))
            .into_bytes(),
            400,
            None,
            "coordList",
        ),
        (
            "NaN coordinate",
            report_with_browse(&browse(
                "x",
                "EPSG:4326",
                "5",
                "NaN 10 10 11 11 11 11 10 NaN 10",
            ))
            .into_bytes(),
            400,
            None,
            "coordList",
        ),
        (
            "unknown CRS",
            report_with_browse(&browse("x", "EPSG:99999999", "5", SQUARE)).into_bytes(),
            400,
            None,
            "referenceSystemIdentifier",
        ),
        (
            "non-UTF-8",
            {
                let mut bytes = good.clone().into_bytes();
                let at = good.find("ESA").unwrap();
                bytes[at] = 0xff;
                bytes
            },
            400,
            Some("InvalidRequest"),
            "UTF-8",
        ),
        (
            "DOCTYPE with entities",
            format!(
                "<?xml version=\"1.0\"?>\n<!DOCTYPE r [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;\">]>\n{}",
                good.trim_start_matches("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n")
                    .replace("ESA", "&b;")
            )
            .into_bytes(),
            400,
            Some("InvalidRequest"),
            "DOCTYPE",
        ),
        ("empty body", Vec::new(), 400, Some("InvalidRequest"), "XML"),
    ]
}

#[tokio::test]
async fn bad_reports_get_a_clear_answer_and_queue_nothing() {
    let queue = TestQueue::new().await;
    let server = open_server(&queue).await;
    for (case, body, status, code, needle) in bad_reports() {
        let answer = server.post("/ingest", body).await;
        match code {
            Some(code) => answer.assert_exception(status, code, needle),
            None => {
                assert_eq!(answer.status, status, "{case}: {}", answer.body);
                assert!(
                    answer.body.contains("<bsi:status>failure</bsi:status>")
                        && answer.body.contains(needle),
                    "{case}: expected a failed browse naming {needle:?}: {}",
                    answer.body
                );
            }
        }
        assert!(
            !answer.body.contains("aaaaaaaaaa"),
            "{case}: an entity was expanded"
        );
        assert_eq!(queue.len().await, 0, "{case}: something was queued");
    }
}

#[tokio::test]
async fn duplicate_ids_in_one_report_fail_the_repeat() {
    let queue = TestQueue::new().await;
    let server = open_server(&queue).await;
    let twice = good_report("same").replace(
        "</rep:browseReport>",
        &format!(
            "{}\n</rep:browseReport>",
            browse("same", "EPSG:4326", "5", SQUARE)
        ),
    );
    let answer = server.post("/", twice).await;
    assert_eq!(answer.status, 202, "{}", answer.body);
    assert!(answer.body.contains("more than once"), "{}", answer.body);
    assert_eq!(queue.len().await, 1);
}

#[tokio::test]
async fn oversized_bodies_get_413_with_or_without_a_declared_length() {
    let queue = TestQueue::new().await;
    let server = Server::start(Ingestor::new(queue.queue.clone(), None, None), None, 4096).await;
    let big = good_report("x").replace(
        "<rep:responsibleOrgName>",
        &format!("<!-- {} --><rep:responsibleOrgName>", "x".repeat(8192)),
    );
    let answer = server.post("/", big.clone()).await;
    answer.assert_exception(413, "InvalidRequest", "INGEST_MAX_BYTES");

    // Chunked, so no Content-Length: the limit still holds while reading.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = big
        .into_bytes()
        .chunks(1000)
        .map(|c| Ok(c.to_vec()))
        .collect();
    let body = reqwest::Body::wrap_stream(futures_stream(chunks));
    let answer = server.post("/", body).await;
    answer.assert_exception(413, "InvalidRequest", "INGEST_MAX_BYTES");
    assert_eq!(queue.len().await, 0);

    // At the limit is fine.
    let answer = server.post("/", good_report("small")).await;
    assert_eq!(answer.status, 202, "{}", answer.body);
}

#[tokio::test]
async fn a_report_that_stops_arriving_gets_408_and_queues_nothing() {
    let queue = TestQueue::new().await;
    let limits = pvs_service::http::Limits {
        body_timeout: Some(std::time::Duration::from_secs(1)),
        ..Default::default()
    };
    let ingestor = Ingestor::new(queue.queue.clone(), None, None);
    let server = Server::start_with_limits(ingestor, None, 10 * MIB, limits).await;
    let report = good_report("slow");
    // Half the report, then nothing.
    let request = format!(
        "POST / HTTP/1.1\r\nHost: test\r\nContent-Type: application/xml\r\nContent-Length: {}\r\n\r\n{}",
        report.len(),
        &report[..report.len() / 2]
    );
    let answer = pvs_test_support::net::send_raw(&server.base, request.as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("HTTP_BODY_TIMEOUT"), "{answer}");
    assert_eq!(queue.len().await, 0);
}

fn futures_stream(
    chunks: Vec<Result<Vec<u8>, std::io::Error>>,
) -> impl futures::Stream<Item = Result<Vec<u8>, std::io::Error>> + Send + 'static {
    futures::stream::iter(chunks)
}

#[tokio::test]
async fn wrong_content_type_and_method_are_refused() {
    let queue = TestQueue::new().await;
    let server = open_server(&queue).await;
    let response = server
        .client
        .post(format!("{}/", server.base))
        .header("content-type", "application/json")
        .body(good_report("x"))
        .send()
        .await
        .unwrap();
    support::Answer::read(response).await.assert_exception(
        415,
        "InvalidRequest",
        "application/json",
    );

    // No content type at all is accepted (curl --data-binary without -H).
    let response = server
        .client
        .post(format!("{}/", server.base))
        .body(good_report("x"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);

    let response = server
        .client
        .get(format!("{}/ingest", server.base))
        .send()
        .await
        .unwrap();
    let answer = support::Answer::read(response).await;
    answer.assert_exception(405, "MethodNotAllowed", "POST");
    assert_eq!(answer.headers["allow"], "POST");
    assert_eq!(queue.len().await, 1);
}

#[tokio::test]
async fn credentials_are_required_when_configured() {
    let queue = TestQueue::new().await;
    let write = Grants::parse(["write"]).unwrap();
    let read = Grants::parse(["read:*"]).unwrap();
    let verifier = Verifier::new(Policy::default())
        .await
        .unwrap()
        .with_bearer("token", "t0ken", write.clone())
        .with_basic("provider", "provider:s3cr3t", write)
        .with_bearer("reader", "r3ad", read);
    let server = Server::start(
        Ingestor::new(queue.queue.clone(), None, None),
        Some(verifier),
        MIB,
    )
    .await;
    let url = format!("{}/ingest", server.base);
    // Without credentials: the ngEO exception, with the challenges.
    let answer = support::Answer::read(
        server
            .client
            .post(&url)
            .body(good_report("x"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    answer.assert_exception(401, "InvalidRequest", "credentials required");
    assert_eq!(
        answer.headers["www-authenticate"],
        "Bearer realm=\"pvs\", Basic realm=\"pvs\""
    );
    // Credentials that are not valid: refused before the report is read.
    let refused = [
        server.client.post(&url).bearer_auth("wrong"),
        server
            .client
            .post(&url)
            .basic_auth("provider", Some("wrong")),
        server.client.post(&url).header("authorization", "t0ken"),
    ];
    for request in refused {
        let response = request.body(good_report("x")).send().await.unwrap();
        assert_eq!(response.status(), 401);
        let challenge = response.headers()["www-authenticate"].to_str().unwrap();
        assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
    }
    // Valid credentials that may not write.
    let answer = support::Answer::read(
        server
            .client
            .post(&url)
            .bearer_auth("r3ad")
            .body(good_report("x"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    answer.assert_exception(403, "InvalidRequest", "may not ingest");
    assert_eq!(queue.len().await, 0);
    let ok = server
        .client
        .post(&url)
        .bearer_auth("t0ken")
        .body(good_report("a"))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 202);
    let ok = server
        .client
        .post(&url)
        .basic_auth("provider", Some("s3cr3t"))
        .body(good_report("b"))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 202);
}

#[tokio::test]
async fn an_unreachable_queue_gives_503_and_the_report_can_be_sent_again() {
    // A Redis server of this test's own, stopped after the ingestor connected.
    let port = pvs_test_support::free_port();
    let mut redis = std::process::Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("redis-server is installed with Redis");
    let url = format!("redis://127.0.0.1:{port}");
    let mut queue = None;
    for _ in 0..50 {
        if let Ok(q) = pvs_queue::RedisQueue::connect(&url, "").await {
            queue = Some(q);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let queue: Arc<dyn WorkQueue> = Arc::new(queue.expect("the test's Redis server started"));
    let server = Server::start(Ingestor::new(queue, None, None), None, MIB).await;
    redis.kill().unwrap();
    redis.wait().unwrap();
    let answer = server.post("/", good_report("x")).await;
    answer.assert_exception(503, "InvalidState", "not queued");
}
