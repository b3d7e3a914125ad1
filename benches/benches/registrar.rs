//! The registrar's throughput from the queue (issue target: ≥ 1,000 products/s into real
//! PostGIS), end to end: `register_queue` on real Redis, metadata documents on the S3 test
//! server, products into a PostGIS database of its own.
//!
//! `cargo bench -p pvs-benches --bench registrar` runs three rounds of
//! `PVS_BENCH_REGISTER` products (default 2,000) with `--concurrency 16` and prints each
//! round's rate and the median. With `PVS_BENCH_STORAGE_DIR=/some/dir` the documents are
//! read from a local directory instead of the S3 server.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use pvs_catalog::Catalog;
use pvs_catalog::testing::TestDatabase;
use pvs_model::{CogInfo, Collections, GeoJsonGeometry, ProductMetadata, ReportInfo, SourceInfo};
use pvs_queue::testing::TestRedis;
use pvs_queue::{QueueName, Stage, StatusSet, WorkQueue};
use pvs_registrar::Registrar;
use pvs_storage::{S3Settings, Storage};

fn metadata(i: usize, round: usize) -> ProductMetadata {
    let id = format!("r{round}-p{i}");
    let x = -170.0 + (i % 300) as f64;
    let y = -60.0 + ((i / 300) % 120) as f64;
    let start: chrono::DateTime<chrono::Utc> = "2024-01-01T00:00:00Z".parse().unwrap();
    let start = start + chrono::Duration::minutes(i as i64);
    ProductMetadata {
        id: id.clone(),
        collection: "BENCH".to_owned(),
        footprint: GeoJsonGeometry::MultiPolygon {
            coordinates: vec![vec![vec![
                [x, y],
                [x + 0.9, y],
                [x + 0.9, y + 0.9],
                [x, y + 0.9],
                [x, y],
            ]]],
        },
        start,
        end: start + chrono::Duration::seconds(30),
        cog: CogInfo {
            key: format!("BENCH/{id}/{id}.tif"),
            size_bytes: 1_000_000,
            width: 1000,
            height: 1000,
            bands: 4,
            alpha: true,
            crs: "EPSG:4326".to_owned(),
            bbox: [x, y, x + 0.9, y + 0.9],
            resolution: [0.0009, 0.0009],
        },
        source: SourceInfo {
            file: format!("{id}.jpg"),
            browse_identifier: Some(id),
            report: ReportInfo {
                name: "bench.xml".to_owned(),
                responsible_org_name: "ESA".to_owned(),
                date_time: start,
                browse_type: "BENCH".to_owned(),
            },
            merged_with: None,
        },
        processed_at: start,
        properties: Default::default(),
        masks: Default::default(),
    }
}

async fn storage() -> Storage {
    if let Ok(dir) = std::env::var("PVS_BENCH_STORAGE_DIR") {
        // A local directory instead of the S3 server, to tell the two costs apart.
        let url = format!("file://{dir}/{}", uuid::Uuid::new_v4().simple());
        return Storage::from_url(&url.parse().unwrap(), None).unwrap();
    }
    let endpoint = std::env::var("PVS_TEST_S3_ENDPOINT")
        .unwrap_or_else(|_| "http://127.0.0.1:9000".to_owned());
    let bucket = format!(
        "pvs-bench-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    );
    reqwest::Client::new()
        .put(format!("{endpoint}/{bucket}"))
        .send()
        .await
        .expect("the S3 test server answers (scripts/s3-server.sh start)");
    let settings = S3Settings::with_endpoint(endpoint.parse().unwrap())
        .with_credentials("pvs-bench", "pvs-bench-secret");
    Storage::from_url(
        &format!("s3://{bucket}/data").parse().unwrap(),
        Some(&settings),
    )
    .unwrap()
}

#[tokio::main]
async fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` would pass other flags: only run
    // when benchmarking.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let n: usize = std::env::var("PVS_BENCH_REGISTER")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let database = TestDatabase::create().await;
    let catalog = Arc::new(database.catalog().await);
    let redis = TestRedis::new().await;
    let storage = storage().await;
    let registrar = Arc::new(Registrar::new(
        redis.queue.clone(),
        catalog.clone(),
        storage.clone(),
        Collections::default(),
    ));
    let mut rates = Vec::new();
    for round in 0..3 {
        // Documents on storage first (not timed), as the preprocessor leaves them.
        let mut keys = Vec::with_capacity(n);
        let uploads = futures::future::join_all((0..n).map(|i| {
            let storage = storage.clone();
            async move {
                let m = metadata(i, round);
                let key = format!("BENCH/{0}/{0}.json", m.id);
                storage
                    .put(&key.parse().unwrap(), Bytes::from(m.to_json()))
                    .await
                    .unwrap();
                key
            }
        }))
        .await;
        keys.extend(uploads);
        let before = redis
            .queue
            .members(Stage::Register, StatusSet::Success)
            .await
            .unwrap()
            .len();
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let started = Instant::now();
        redis
            .queue
            .push_many(QueueName::Register, &keys)
            .await
            .unwrap();
        let worker = tokio::spawn(registrar.clone().run("bench", 16, stopped));
        loop {
            let done = redis
                .queue
                .members(Stage::Register, StatusSet::Success)
                .await
                .unwrap()
                .len();
            if done >= before + n {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let elapsed = started.elapsed();
        stop.send(true).unwrap();
        worker.await.unwrap().unwrap();
        let rate = n as f64 / elapsed.as_secs_f64();
        eprintln!(
            "registrar bench round {round}: {n} products from register_queue in {:.2} s = {rate:.0} products/s",
            elapsed.as_secs_f64()
        );
        rates.push(rate);
    }
    assert_eq!(
        catalog.count(&Default::default()).await.unwrap(),
        (3 * n) as u64
    );
    rates.sort_by(f64::total_cmp);
    eprintln!(
        "registrar bench: median {:.0} products/s (target 1,000/s: {:.2}×)",
        rates[1],
        rates[1] / 1000.0
    );
}
