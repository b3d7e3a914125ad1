//! What the ingestor's integration tests share: a Redis queue under a key prefix of its own
//! (deleted afterwards), a bucket of its own on the S3 test server, the ingestor served over
//! real HTTP, and the fixture reports with what each must give.

#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;

use pvs_access::Verifier;
use pvs_ingestor::{HttpSettings, Ingestor};
use pvs_model::{BrowseItem, BrowseReport};
use pvs_queue::testing::TestRedis;
use pvs_queue::{QueueName, RedisQueue, WorkQueue};
use pvs_storage::StorageKey;

/// A Redis queue under a prefix of its own (deleted afterwards), with helpers for
/// `preprocess-md_queue`.
pub struct TestQueue {
    redis: TestRedis,
    pub queue: Arc<RedisQueue>,
}

impl TestQueue {
    pub async fn new() -> Self {
        let redis = TestRedis::new().await;
        Self {
            queue: redis.queue.clone(),
            redis,
        }
    }

    pub fn prefix(&self) -> &str {
        self.redis.prefix()
    }

    /// The queued browse items, oldest first.
    pub async fn items(&self) -> Vec<BrowseItem> {
        self.queue
            .peek(QueueName::PreprocessMd, 100_000)
            .await
            .unwrap()
            .iter()
            .map(|json| BrowseItem::from_json(json).expect("a valid browse item"))
            .collect()
    }

    pub async fn len(&self) -> u64 {
        self.queue.len(QueueName::PreprocessMd).await.unwrap()
    }
}

/// The ingestor served over HTTP on a free port of 127.0.0.1.
pub struct Server {
    pub base: String,
    pub client: reqwest::Client,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl Server {
    /// Served within the default connection limits.
    /// Behind `verifier`'s access policy when given (else open, as without a policy).
    pub async fn start(ingestor: Ingestor, verifier: Option<Verifier>, max_bytes: u64) -> Self {
        let limits = pvs_service::http::Limits::default();
        Self::start_with_limits(ingestor, verifier, max_bytes, limits).await
    }

    pub async fn start_with_limits(
        ingestor: Ingestor,
        verifier: Option<Verifier>,
        max_bytes: u64,
        limits: pvs_service::http::Limits,
    ) -> Self {
        let mut routes = pvs_ingestor::http::routes(Arc::new(ingestor), HttpSettings { max_bytes });
        if let Some(verifier) = verifier {
            routes = pvs_access::http::protect(routes, Arc::new(verifier));
        }
        let router =
            pvs_service::http::with_probes("ingestor", routes, pvs_service::http::Readiness::new());
        let listener = pvs_service::http::bind("127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let stopped = async move {
            let _ = stopped.await;
        };
        tokio::spawn(pvs_service::http::serve(listener, router, limits, stopped));
        Self {
            base,
            client: reqwest::Client::new(),
            _stop: stop,
        }
    }

    /// POSTs `body` to `path` as application/xml.
    pub async fn post(&self, path: &str, body: impl Into<reqwest::Body>) -> Answer {
        let response = self
            .client
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/xml")
            .body(body)
            .send()
            .await
            .unwrap();
        Answer::read(response).await
    }
}

/// An HTTP answer, read.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl Answer {
    pub async fn read(response: reqwest::Response) -> Self {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.text().await.unwrap();
        Self {
            status,
            headers,
            body,
        }
    }

    /// Asserts the status and that the body is an ingest exception with `code` whose
    /// message contains `needle`.
    pub fn assert_exception(&self, status: u16, code: &str, needle: &str) {
        assert_eq!(self.status, status, "{}", self.body);
        assert!(
            self.body.contains("<bsi:ingestException"),
            "not an exception: {}",
            self.body
        );
        assert!(
            self.body
                .contains(&format!("<bsi:exceptionCode>{code}</bsi:exceptionCode>")),
            "expected code {code}: {}",
            self.body
        );
        assert!(
            self.body.contains(needle),
            "expected {needle:?} in: {}",
            self.body
        );
    }
}

pub use pvs_test_support::fixtures::ngeo as fixtures_dir;

/// Every fixture report, by path, sorted.
pub fn fixture_reports() -> Vec<PathBuf> {
    let mut reports = Vec::new();
    for sub in std::fs::read_dir(fixtures_dir()).unwrap() {
        let sub = sub.unwrap().path();
        if sub.is_dir() {
            for file in std::fs::read_dir(&sub).unwrap() {
                let file = file.unwrap().path();
                if file.extension().is_some_and(|e| e == "xml") {
                    reports.push(file);
                }
            }
        }
    }
    reports.sort();
    assert!(reports.len() >= 20, "fixtures missing: {reports:?}");
    reports
}

/// What a fixture report must give: the items of its valid browses, as the model reads them,
/// with each image reference made a storage key under `prefix`, and how many browses fail.
pub fn expected_items(
    bytes: &[u8],
    report_name: &str,
    prefix: Option<&str>,
) -> (Vec<BrowseItem>, usize) {
    let report = BrowseReport::parse(bytes).unwrap();
    let mut items = Vec::new();
    for browse in report.valid_browses() {
        let mut item = BrowseItem::new(&report, browse, report_name);
        if !item.file.is_url() {
            let key = match prefix {
                Some(p) => StorageKey::parse(p)
                    .unwrap()
                    .join(item.file.as_str())
                    .unwrap(),
                None => StorageKey::parse(item.file.as_str()).unwrap(),
            };
            item.file = pvs_model::FileName::new(key.as_str()).unwrap();
        }
        items.push(item);
    }
    let failures = report.browses.len() - items.len();
    (items, failures)
}
