//! `GET /metrics` of running services, scraped as Prometheus would: the expected series are
//! there, in the text format, and they move with traffic (requests per endpoint and OGC
//! operation, queue depths after pushes, tile hits, misses and renders).

mod support;

use std::process::Command;

use geo::{MultiPolygon, polygon};
use pvs_catalog::testing::TestDatabase;
use pvs_catalog::{Catalog, Collection, Product};
use pvs_queue::testing::{redis_url, unique_prefix};
use pvs_queue::{QueueName, RedisQueue, WorkQueue};
use pvs_test_support::file_url;
use support::{Service, value};

const S2_REPORT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../fixtures/ngeo/test_data/S2.xml"
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingestor_metrics_follow_requests_and_queue_depths() {
    let prefix = unique_prefix();
    let _redis = pvs_queue::testing::TestRedis::with_prefix(&prefix).await;
    let ingestor = Service::ingestor(&prefix, &[]).await;

    let before = ingestor.metrics().await;
    assert_eq!(
        value(
            &before,
            "pvs_build_info{service=\"ingestor\",version=\"0.1.0\"}"
        ),
        1.0
    );
    assert_eq!(value(&before, "pvs_queue_up"), 1.0);
    for queue in QueueName::ALL {
        let series = format!("pvs_queue_length{{queue=\"{}\"}}", queue.key());
        assert_eq!(value(&before, &series), 0.0, "{series}");
        let series = format!("pvs_queue_processing{{queue=\"{}\"}}", queue.key());
        assert_eq!(value(&before, &series), 0.0, "{series}");
    }
    for stage in ["preprocess", "register", "seed"] {
        for set in ["in_flight", "success", "failure"] {
            let series = format!("pvs_stage_items{{stage=\"{stage}\",set=\"{set}\"}}");
            assert_eq!(value(&before, &series), 0.0, "{series}");
        }
        for outcome in ["succeeded", "failed"] {
            let series = format!("pvs_items_total{{stage=\"{stage}\",outcome=\"{outcome}\"}}");
            assert_eq!(value(&before, &series), 0.0, "{series}");
        }
    }
    value(&before, "pvs_gdal_block_cache_used_bytes");
    assert!(value(&before, "pvs_gdal_block_cache_max_bytes") > 0.0);
    assert!(
        !before.keys().any(|k| k.contains("endpoint=\"/ingest\"")),
        "no report was sent yet"
    );

    // A browse report: one request on /ingest, its browse on preprocess-md_queue.
    let report = std::fs::read(S2_REPORT).unwrap();
    let client = reqwest::Client::new();
    let answer = client
        .post(format!("{}/ingest", ingestor.base))
        .body(report)
        .send()
        .await
        .unwrap();
    let status = answer.status().as_u16();
    assert_eq!(status, 202, "{}", answer.text().await.unwrap());
    // A path no route has, and a push by another producer.
    let missing = reqwest::get(format!("{}/wp-admin/x.php", ingestor.base))
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let queue = RedisQueue::connect(&redis_url(), &prefix).await.unwrap();
    queue
        .push_many(QueueName::Seed, &["a/b".to_owned(), "c/d".to_owned()])
        .await
        .unwrap();

    let after = ingestor.metrics().await;
    let ingested =
        "pvs_http_requests_total{endpoint=\"/ingest\",operation=\"none\",status=\"202\"}";
    assert_eq!(value(&after, ingested), 1.0);
    assert_eq!(
        value(
            &after,
            "pvs_http_request_duration_seconds_count{endpoint=\"/ingest\",operation=\"none\"}"
        ),
        1.0
    );
    assert_eq!(
        value(
            &after,
            "pvs_http_request_duration_seconds_bucket{endpoint=\"/ingest\",operation=\"none\",le=\"+Inf\"}"
        ),
        1.0
    );
    assert!(
        value(
            &after,
            "pvs_http_request_duration_seconds_sum{endpoint=\"/ingest\",operation=\"none\"}"
        ) > 0.0
    );
    assert_eq!(
        value(
            &after,
            "pvs_http_requests_total{endpoint=\"unmatched\",operation=\"none\",status=\"404\"}"
        ),
        1.0,
        "paths no route has are counted together, not one series each"
    );
    assert_eq!(
        value(&after, "pvs_queue_length{queue=\"preprocess-md_queue\"}"),
        queue.len(QueueName::PreprocessMd).await.unwrap() as f64
    );
    assert!(value(&after, "pvs_queue_length{queue=\"preprocess-md_queue\"}") >= 1.0);
    assert_eq!(value(&after, "pvs_queue_length{queue=\"seed_queue\"}"), 2.0);
    // The first scrape is counted by the second.
    assert_eq!(
        value(
            &after,
            "pvs_http_requests_total{endpoint=\"/metrics\",operation=\"none\",status=\"200\"}"
        ),
        1.0
    );

    // An item taken by a consumer is in flight until it is acknowledged.
    let mut consumer = queue
        .consumer(QueueName::Seed, "metrics-test")
        .await
        .unwrap();
    let taken = consumer
        .take(std::time::Duration::from_secs(1))
        .await
        .unwrap()
        .unwrap();
    let held = ingestor.metrics().await;
    for (family, count) in [
        ("pvs_queue_length", 1.0),
        ("pvs_queue_processing", 1.0),
        ("pvs_queue_busy_consumers", 1.0),
    ] {
        let series = format!("{family}{{queue=\"seed_queue\"}}");
        assert_eq!(value(&held, &series), count, "{series}");
    }
    consumer.ack(&taken).await.unwrap();
    consumer.close().await.unwrap();
}

/// A catalog with collection `M` and one product over Italy whose raster (a GeoTIFF made by
/// `gdal_create`) is in `data`.
async fn world() -> (TestDatabase, tempfile::TempDir) {
    let database = TestDatabase::create().await;
    let data = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(data.path().join("M")).unwrap();
    let made = Command::new("gdal_create")
        .args([
            "-of", "GTiff", "-outsize", "64", "64", "-bands", "3", "-burn", "90",
        ])
        .args([
            "-ot",
            "Byte",
            "-a_srs",
            "EPSG:4326",
            "-a_ullr",
            "10",
            "46",
            "12",
            "44",
        ])
        .arg(data.path().join("M/m1.tif"))
        .status()
        .expect("gdal_create runs");
    assert!(made.success());
    let catalog = database.catalog().await;
    catalog
        .upsert_collection(&Collection::new("M").unwrap())
        .await
        .unwrap();
    let footprint = MultiPolygon(vec![polygon![
        (x: 10.0, y: 44.0), (x: 12.0, y: 44.0), (x: 12.0, y: 46.0), (x: 10.0, y: 46.0), (x: 10.0, y: 44.0),
    ]]);
    let at = |s: &str| chrono::DateTime::parse_from_rfc3339(s).unwrap().to_utc();
    catalog
        .register(&Product {
            properties: Default::default(),
            id: "m1".into(),
            collection: "M".into(),
            product_type: None,
            footprint,
            begin: at("2021-03-01T10:00:00Z"),
            end: at("2021-03-01T10:01:00Z"),
            location: "M/m1.tif".into(),
            metadata: serde_json::json!({}),
        })
        .await
        .unwrap();
    (database, data)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renderer_metrics_name_the_ogc_operations() {
    let (database, data) = world().await;
    let renderer = Service::start(
        "renderer",
        &[],
        &[
            ("DATABASE_URL", database.url.clone()),
            ("STORAGE_URL", file_url(data.path())),
        ],
    )
    .await;
    let ows = format!("{}/ows", renderer.base);
    let capabilities = reqwest::get(format!("{ows}?SERVICE=WMS&REQUEST=GetCapabilities"))
        .await
        .unwrap();
    assert_eq!(capabilities.status(), 200);
    for _ in 0..2 {
        let map = reqwest::get(format!(
            "{ows}?SERVICE=WMS&VERSION=1.3.0&request=getmap&LAYERS=M&STYLES=&CRS=EPSG:4326&BBOX=44,10,46,12&WIDTH=64&HEIGHT=64&FORMAT=image/png"
        ))
        .await
        .unwrap();
        assert_eq!(map.status(), 200);
        assert_eq!(map.headers()["content-type"], "image/png");
    }
    let hostile = reqwest::get(format!("{ows}?SERVICE=WMS&REQUEST=%0A%22x%22"))
        .await
        .unwrap();
    assert!(hostile.status().is_client_error() || hostile.status() == 200);

    let metrics = renderer.metrics().await;
    assert_eq!(
        value(
            &metrics,
            "pvs_http_requests_total{endpoint=\"/ows\",operation=\"GetCapabilities\",status=\"200\"}"
        ),
        1.0
    );
    assert_eq!(
        value(
            &metrics,
            "pvs_http_requests_total{endpoint=\"/ows\",operation=\"GetMap\",status=\"200\"}"
        ),
        2.0
    );
    assert_eq!(
        value(
            &metrics,
            "pvs_http_request_duration_seconds_count{endpoint=\"/ows\",operation=\"GetMap\"}"
        ),
        2.0
    );
    assert!(
        metrics
            .keys()
            .any(|k| k.starts_with("pvs_http_requests_total{endpoint=\"/ows\",operation=\"other\"")),
        "an unknown REQUEST counts as `other`"
    );
    // GDAL's block cache is reported (its blocks are freed as each map's datasets close).
    assert!(value(&metrics, "pvs_gdal_block_cache_used_bytes") >= 0.0);
    assert!(value(&metrics, "pvs_gdal_block_cache_max_bytes") > 0.0);
    assert!(
        !metrics.keys().any(|k| k.starts_with("pvs_queue_")),
        "the renderer uses no queue"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cache_metrics_count_hits_misses_and_renders() {
    let (database, data) = world().await;
    let tiles = tempfile::tempdir().unwrap();
    let cache = Service::start(
        "cache",
        &[],
        &[
            ("DATABASE_URL", database.url.clone()),
            ("STORAGE_URL", file_url(data.path())),
            ("TILES_STORAGE_URL", file_url(tiles.path())),
        ],
    )
    .await;
    let tile = |z: u32, row: u32, col: u32| {
        format!(
            "{}/wmts/1.0.0/M/default/2021-03-01/WorldCRS84Quad/{z}/{row}/{col}.png",
            cache.base
        )
    };
    let before = cache.metrics().await;
    for outcome in ["hit", "miss", "rendered", "empty", "unstored"] {
        let series = format!("pvs_cache_tiles_total{{outcome=\"{outcome}\"}}");
        assert_eq!(value(&before, &series), 0.0, "{series}");
    }
    assert_eq!(value(&before, "pvs_cache_render_seconds_count"), 0.0);

    // The tile over the product: drawn once, then served from the store.
    for _ in 0..2 {
        let answer = reqwest::get(tile(3, 1, 8)).await.unwrap();
        assert_eq!(answer.status(), 200, "{}", answer.text().await.unwrap());
    }
    // A tile far from it: no data, not drawn.
    let empty = reqwest::get(tile(3, 7, 0)).await.unwrap();
    assert_eq!(empty.status(), 200);

    let after = cache.metrics().await;
    for (outcome, count) in [
        ("miss", 2.0),
        ("hit", 1.0),
        ("rendered", 1.0),
        ("empty", 1.0),
    ] {
        let series = format!("pvs_cache_tiles_total{{outcome=\"{outcome}\"}}");
        assert_eq!(value(&after, &series), count, "{series}");
    }
    assert_eq!(value(&after, "pvs_cache_render_seconds_count"), 1.0);
    assert!(value(&after, "pvs_cache_render_seconds_sum") > 0.0);
    assert_eq!(
        value(
            &after,
            "pvs_http_requests_total{endpoint=\"/wmts/{*rest}\",operation=\"GetTile\",status=\"200\"}"
        ),
        3.0
    );
}
