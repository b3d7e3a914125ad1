//! The ingestor's throughput (issue targets: parse ≥ 50,000 single-browse reports/s;
//! parse + validate + enqueue on a real Redis ≥ 5,000 reports/s).
//!
//! `cargo bench -p pvs-benches --bench ingest` (Redis at `PVS_TEST_REDIS_URL`, default
//! `redis://127.0.0.1:6379`; the keys it writes are under a prefix of their own and deleted).

use std::path::Path;
use std::sync::Arc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use pvs_ingestor::{Images, Ingestor};
use pvs_model::BrowseReport;
use pvs_queue::{QueueName, RedisQueue, WorkQueue};

/// Reports ingested concurrently per iteration: the queue pipelines their commands.
const BATCH: usize = 256;

fn fixture(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/ngeo")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn parse(c: &mut Criterion) {
    let mut group = c.benchmark_group("parse");
    for (label, name) in [
        (
            "footprint_single_browse",
            "reference_test_data/browseReport_ASA_IM__0P_20100722_213840.xml",
        ),
        (
            "regular_grid_210_nodes",
            "regular_grid_clipping/BrowseServerIngest_input_8B99.xml",
        ),
    ] {
        let bytes = fixture(name);
        group.throughput(Throughput::Elements(1));
        group.bench_function(label, |b| {
            b.iter(|| BrowseReport::parse(std::hint::black_box(&bytes)).unwrap())
        });
    }
    group.finish();
}

fn ingest(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let url =
        std::env::var("PVS_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let prefix = format!("pvs-bench:{}:", uuid::Uuid::new_v4().simple());
    let queue = runtime
        .block_on(RedisQueue::connect(&url, &prefix))
        .expect("Redis must run (scripts/setup.sh starts it)");
    let queue = Arc::new(queue);
    let ingestor = Arc::new(Ingestor::new(queue.clone(), None, None));
    // Distinct ids, as a real stream of reports has.
    let template = String::from_utf8(fixture(
        "reference_test_data/browseReport_ASA_IM__0P_20100722_213840.xml",
    ))
    .unwrap();
    let reports: Vec<Vec<u8>> = (0..BATCH)
        .map(|i| {
            template
                .replace("b_id_1", &format!("b_id_{i}"))
                .into_bytes()
        })
        .collect();

    let mut group = c.benchmark_group("ingest");
    group.throughput(Throughput::Elements(BATCH as u64));
    group.bench_function("parse_validate_enqueue_redis", |b| {
        b.to_async(&runtime).iter(|| {
            let ingestor = ingestor.clone();
            let reports = &reports;
            async move {
                let ingested = futures::future::join_all(
                    reports
                        .iter()
                        .map(|r| ingestor.ingest(r, "bench", Images::InStorage)),
                )
                .await;
                for result in ingested {
                    assert_eq!(result.unwrap().queued, 1);
                }
            }
        })
    });
    group.finish();

    let queued = runtime
        .block_on(queue.len(QueueName::PreprocessMd))
        .unwrap();
    assert!(queued > 0, "nothing was queued");
    let client = redis::Client::open(url).unwrap();
    let mut conn = client.get_connection().unwrap();
    let _: () = redis::cmd("DEL")
        .arg(format!("{prefix}preprocess-md_queue"))
        .query(&mut conn)
        .unwrap();
}

criterion_group!(benches, parse, ingest);
criterion_main!(benches);
