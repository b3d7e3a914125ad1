//! The catalog's speed on a real PostGIS (issue targets: a bbox + time query over 1,000,000
//! products answers in < 10 ms p95; registering ≥ 1,000 products/s in batches).
//!
//! `cargo bench -p pvs-benches --bench catalog` builds a database of its own
//! (`pvs_test_<uuid>`, dropped at the end) on `PVS_TEST_DATABASE_URL`, fills it with
//! `PVS_BENCH_PRODUCTS` products (default 1,000,000: random 0.5°–2° footprints over the
//! world, begin times over five years), vacuums it as autovacuum would, prints the query plan and the latency percentiles of
//! 1,000 random queries, then runs the criterion benchmarks.

use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use geo::{MultiPolygon, Rect};
use pvs_catalog::testing::TestDatabase;
use pvs_catalog::{Bbox, Catalog, Collection, Product, ProductQuery, TimeFilter, TimeRelation};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const COLLECTION: &str = "BENCH";
const YEARS: i64 = 5;

fn epoch() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2020, 1, 1, 0, 0, 0).unwrap()
}

/// A typical renderer query: a 5° × 5° box (a map view at zoom ~6) and a 30-day window.
fn random_query(rng: &mut StdRng) -> ProductQuery {
    let west = rng.random_range(-180.0..175.0);
    let south = rng.random_range(-80.0..75.0);
    let start = epoch() + chrono::Duration::days(rng.random_range(0..YEARS * 365 - 30));
    ProductQuery::default()
        .with_collection(COLLECTION)
        .with_bbox(Bbox::new(west, south, west + 5.0, south + 5.0).unwrap())
        .with_time(
            TimeFilter::new(
                start,
                start + chrono::Duration::days(30),
                TimeRelation::Intersects,
            )
            .unwrap(),
        )
        .with_limit(100)
}

fn random_product(rng: &mut StdRng, id: String) -> Product {
    let west = rng.random_range(-180.0..178.0);
    let south = rng.random_range(-80.0..78.0);
    let size = rng.random_range(0.5..2.0);
    let begin = epoch() + chrono::Duration::seconds(rng.random_range(0..YEARS * 365 * 86_400));
    Product {
        properties: Default::default(),
        id,
        collection: COLLECTION.to_owned(),
        product_type: None,
        footprint: MultiPolygon::new(vec![
            Rect::new((west, south), (west + size, south + size)).to_polygon(),
        ]),
        begin,
        end: begin + chrono::Duration::seconds(60),
        location: "BENCH/x/x.tif".to_owned(),
        metadata: serde_json::json!({}),
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index]
}

fn catalog_benches(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let products: u64 = std::env::var("PVS_BENCH_PRODUCTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let database = runtime.block_on(TestDatabase::create());
    let catalog = runtime.block_on(database.catalog());
    runtime
        .block_on(catalog.upsert_collection(&Collection::new(COLLECTION).unwrap()))
        .unwrap();

    // Fill with SQL: a million products through the registration API would time the
    // registration, not the query.
    let started = Instant::now();
    runtime.block_on(async {
        let client = database.client().await;
        client
            .batch_execute(&format!(
                "SELECT setseed(0.42);
                 INSERT INTO products (id, collection, footprint, begin_time, end_time, location)
                 SELECT 'p' || i, '{COLLECTION}',
                        ST_Multi(ST_MakeEnvelope(x, y, x + s, y + s, 4326)),
                        t, t + interval '60 seconds', 'BENCH/p' || i || '.tif'
                 FROM (SELECT i,
                              -180 + random() * 358 AS x,
                              -80 + random() * 158 AS y,
                              0.5 + random() * 1.5 AS s,
                              timestamptz '2020-01-01' + random() * interval '{YEARS} years' AS t
                       FROM generate_series(1, {products}) AS i) AS g;"
            ))
            .await
            .unwrap();
        // What autovacuum does after a bulk load: statistics and hint bits, so that queries
        // measure reading, not the one-time clean-up of a million fresh rows.
        client
            .batch_execute("VACUUM ANALYZE products")
            .await
            .unwrap();
    });
    eprintln!(
        "catalog bench: {products} products inserted and vacuumed in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    // The plan of a typical query, for the closing note.
    runtime.block_on(async {
        let client = database.client().await;
        let rows = client
            .query(
                "EXPLAIN (ANALYZE, BUFFERS) SELECT id FROM products
                 WHERE collection = 'BENCH'
                   AND footprint && ST_MakeEnvelope(10, 40, 15, 45, 4326)
                   AND ST_Intersects(footprint, ST_MakeEnvelope(10, 40, 15, 45, 4326))
                   AND begin_time <= timestamptz '2022-07-01' AND end_time >= timestamptz '2022-06-01'
                 ORDER BY begin_time DESC, id LIMIT 100",
                &[],
            )
            .await
            .unwrap();
        eprintln!("catalog bench: EXPLAIN of a 5° × 5°, 30-day query:");
        for row in rows {
            eprintln!("  {}", row.get::<_, String>(0));
        }
    });

    // Latency percentiles of single queries, one after another.
    let mut rng = StdRng::seed_from_u64(7);
    let mut latencies = Vec::with_capacity(1000);
    let mut found = 0usize;
    runtime.block_on(async {
        for _ in 0..1000 {
            let query = random_query(&mut rng);
            let started = Instant::now();
            found += catalog.search(&query).await.unwrap().len();
            latencies.push(started.elapsed());
        }
    });
    latencies.sort();
    eprintln!(
        "catalog bench: 1000 bbox+time queries over {products} products: p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms, {:.1} products per answer",
        percentile(&latencies, 0.50).as_secs_f64() * 1e3,
        percentile(&latencies, 0.95).as_secs_f64() * 1e3,
        percentile(&latencies, 0.99).as_secs_f64() * 1e3,
        found as f64 / 1000.0
    );

    let mut group = c.benchmark_group("catalog");
    group.throughput(Throughput::Elements(1));
    group.bench_function("search_bbox_time_1m", |b| {
        b.to_async(&runtime).iter(|| {
            let query = random_query(&mut rng);
            let catalog = &catalog;
            async move { catalog.search(&query).await.unwrap() }
        })
    });
    const BATCH: usize = 500;
    let mut next_id = 0u64;
    group.throughput(Throughput::Elements(BATCH as u64));
    group.bench_function("register_batch_500", |b| {
        b.to_async(&runtime).iter(|| {
            let batch: Vec<Product> = (0..BATCH)
                .map(|_| {
                    next_id += 1;
                    random_product(&mut rng, format!("new-{next_id}"))
                })
                .collect();
            let catalog = &catalog;
            async move {
                for result in catalog.register_batch(&batch).await {
                    result.unwrap();
                }
            }
        })
    });
    group.finish();
    drop(catalog);
    drop(database);
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).measurement_time(Duration::from_secs(8));
    targets = catalog_benches
}
criterion_main!(benches);
