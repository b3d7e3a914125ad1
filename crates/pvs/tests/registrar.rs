//! `pvs registrar` as a process: registers what arrives on `register_queue` in a real
//! PostGIS, with the metadata document on the S3 test server, and stops cleanly on SIGTERM.

use std::process::{Command, Stdio};
use std::time::Duration;

use pvs_catalog::Catalog;
use pvs_catalog::testing::TestDatabase;
use pvs_queue::testing::redis_url;
use pvs_test_support::{Process, Signal, free_address, s3, wait_for, wait_ok, wait_until};

mod support;

const METADATA: &str = r#"{
  "id": "p-1",
  "collection": "SAR",
  "footprint": {"type": "MultiPolygon", "coordinates": [[[[10.0, 10.0], [11.0, 10.0], [11.0, 11.0], [10.0, 11.0], [10.0, 10.0]]]]},
  "start": "2010-07-22T21:38:40Z",
  "end": "2010-07-22T21:39:38Z",
  "cog": {"key": "SAR/p-1/p-1.tif", "size_bytes": 10, "width": 10, "height": 10, "bands": 4, "alpha": true,
          "crs": "EPSG:4326", "bbox": [10.0, 10.0, 11.0, 11.0], "resolution": [0.1, 0.1]},
  "source": {"file": "p-1.jpg", "browse_identifier": "p-1",
             "report": {"name": "r.xml", "responsible_org_name": "ESA", "date_time": "2012-10-02T09:30:00Z", "browse_type": "SAR"}},
  "processed_at": "2026-11-23T04:00:00Z"
}"#;

/// `pvs registrar ARGS` with the environment of one test: its Redis prefix, database and
/// bucket on the S3 test server.
fn registrar(args: &[&str], prefix: &str, database: &str, bucket: &str) -> Command {
    let mut env = s3::env(bucket, "data");
    env.extend([
        ("REDIS_URL", redis_url()),
        ("REDIS_KEY_PREFIX", prefix.to_owned()),
        ("DATABASE_URL", database.to_owned()),
    ]);
    let mut all = vec!["registrar"];
    all.extend_from_slice(args);
    support::pvs(&all, &env)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registers_from_the_queue_and_stops_on_sigterm() {
    let database = TestDatabase::create().await;
    let bucket = s3::new_bucket().await;
    let endpoint = s3::s3_endpoint();
    let client = reqwest::Client::new();
    // moto accepts unsigned uploads.
    let put = client
        .put(format!("{endpoint}/{bucket}/data/SAR/p-1/p-1.json"))
        .body(METADATA)
        .send()
        .await
        .unwrap();
    assert!(put.status().is_success(), "{}", put.status());

    let prefix = format!("pvs-test:registrar-bin-{}:", std::process::id());
    let listen = free_address();
    let collections = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        collections.path(),
        "[collections.SAR]\nseed_zoom = [0, 4]\n",
    )
    .unwrap();
    let mut child = Process::spawn(
        registrar(&["--listen", &listen], &prefix, &database.url, &bucket)
            .env("COLLECTIONS_FILE", collections.path())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit()),
    );
    wait_ok(&format!("http://{listen}/ready"), Duration::from_secs(30)).await;
    let redis_client = redis::Client::open(redis_url()).unwrap();
    let mut conn = redis_client.get_connection().unwrap();
    let _: () = redis::cmd("LPUSH")
        .arg(format!("{prefix}register_queue"))
        .arg("SAR/p-1/p-1.json")
        .query(&mut conn)
        .unwrap();
    let catalog = database.catalog().await;
    let product = wait_for(Duration::from_secs(20), "p-1 registered", async || {
        catalog
            .get("SAR", "p-1")
            .await
            .unwrap()
            .ok_or("not registered")
    })
    .await;
    assert_eq!(product.collection, "SAR");
    // The seed interval is pushed after the catalog write (and after the product's stale
    // tiles are deleted): wait for it.
    let seeds = wait_for(Duration::from_secs(20), "a seed interval", async || {
        let seeds: Vec<String> = redis::cmd("LRANGE")
            .arg(format!("{prefix}seed_queue"))
            .arg(0)
            .arg(-1)
            .query(&mut conn)
            .unwrap();
        if seeds.is_empty() {
            Err("none")
        } else {
            Ok(seeds)
        }
    })
    .await;
    assert_eq!(seeds, ["2010-07-22T21:38:40Z/2010-07-22T21:39:38Z"]);

    let status = child.stop(Signal::Term, Duration::from_secs(10)).await;
    assert!(status.success(), "{status}");

    // One-shot deregistration, as operators use it.
    let deregister = || {
        registrar(&["--deregister", "p-1"], &prefix, &database.url, &bucket)
            .output()
            .unwrap()
    };
    let out = deregister();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("deregistered p-1"));
    assert!(catalog.get("SAR", "p-1").await.unwrap().is_none());
    let out = deregister();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "not found    p-1: no such product\n"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("1 not found, 0 failed"));
    let invalidations: Vec<String> = redis::cmd("LRANGE")
        .arg(format!("{prefix}invalidate_queue"))
        .arg(0)
        .arg(-1)
        .query(&mut conn)
        .unwrap();
    assert_eq!(invalidations.len(), 1);
    assert!(invalidations[0].contains("\"deregistered\""));

    // Registration straight from a storage prefix, first as a dry run.
    let from_prefix = |extra: &[&str]| {
        let args: Vec<&str> = ["--objects-prefix", "SAR"]
            .iter()
            .chain(extra)
            .copied()
            .collect();
        registrar(&args, &prefix, &database.url, &bucket)
            .output()
            .unwrap()
    };
    let out = from_prefix(&["--dry-run"]);
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "would insert p-1 (SAR)\n"
    );
    assert!(catalog.get("SAR", "p-1").await.unwrap().is_none());
    let out = from_prefix(&[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "inserted p-1 (SAR)\n");
    assert!(String::from_utf8_lossy(&out.stderr).contains("1 inserted"));
    assert!(catalog.get("SAR", "p-1").await.unwrap().is_some());
    pvs_queue::testing::delete_keys(&prefix);
}

#[test]
fn bad_registrar_configuration_stops_start_up_with_exit_code_2() {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), "[collections.A]\nseed_zoom = [5, 1]\n").unwrap();
    let collections = file.path().to_str().unwrap();
    let merging = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        merging.path(),
        "[collections.A]\n\n[collections.OPTICAL]\nstrategy = \"merge\"\nmerge_threshold = \"5 parsecs\"\n",
    )
    .unwrap();
    let cases: [(&str, &str, &[&str]); 4] = [
        ("COLLECTIONS_FILE", collections, &["seed_zoom"]),
        (
            "COLLECTIONS_FILE",
            merging.path().to_str().unwrap(),
            &[
                "[collections.OPTICAL]",
                "merge_threshold \"5 parsecs\" is not a duration",
            ],
        ),
        (
            "COLLECTIONS_FILE",
            "/nonexistent.toml",
            &["cannot read /nonexistent.toml"],
        ),
        (
            "REPORT_DIR",
            "/nonexistent/to/panda",
            &["/nonexistent/to/panda is not a directory"],
        ),
    ];
    for (var, value, needles) in cases {
        // A database that never exists: nothing may be touched before the checks.
        let out = registrar(
            &[],
            "pvs-test:never:",
            "postgres://postgres@127.0.0.1:5432/pvs_never_created",
            "never",
        )
        .env(var, value)
        .output()
        .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{var}: {stderr}");
        assert!(
            stderr.starts_with(&format!("pvs registrar: {var}: ")),
            "{stderr}"
        );
        for needle in needles {
            assert!(stderr.contains(needle), "{needle}: {stderr}");
        }
    }
}

/// The metadata document of product `p-1` with its time shifted by `minutes`.
fn metadata_version(minutes: u32) -> String {
    METADATA.replace(
        "\"start\": \"2010-07-22T21:38:40Z\"",
        &format!("\"start\": \"2010-07-22T21:{:02}:40Z\"", 38 - minutes),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registrar_killed_mid_transaction_leaves_no_half_product_and_the_item_is_done_again() {
    let database = TestDatabase::create().await;
    let bucket = s3::new_bucket().await;
    let endpoint = s3::s3_endpoint();
    let http = reqwest::Client::new();
    let put = |key: &'static str, body: String| {
        let http = http.clone();
        let url = format!("{endpoint}/{bucket}/data/{key}");
        async move {
            assert!(
                http.put(url)
                    .body(body)
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .is_success()
            )
        }
    };
    put("SAR/p-1/v1.json", metadata_version(0)).await;
    put("SAR/p-1/v2.json", metadata_version(30)).await;
    let prefix = format!("pvs-test:registrar-kill-{}:", std::process::id());
    let redis_client = redis::Client::open(redis_url()).unwrap();
    let mut conn = redis_client.get_connection().unwrap();
    let push = |conn: &mut redis::Connection, key: &str| {
        let _: () = redis::cmd("LPUSH")
            .arg(format!("{prefix}register_queue"))
            .arg(key)
            .query(conn)
            .unwrap();
    };
    let catalog = database.catalog().await;
    let begin_of_p1 = || async {
        catalog
            .get("SAR", "p-1")
            .await
            .unwrap()
            .map(|p| p.begin.to_rfc3339())
    };
    let start = || {
        Process::spawn(
            registrar(
                &[
                    "--listen",
                    &free_address(),
                    "--consumer-name",
                    "reg-a",
                    "--concurrency",
                    "1",
                ],
                &prefix,
                &database.url,
                &bucket,
            )
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
        )
    };
    // Version 1, registered normally.
    let mut first = start();
    push(&mut conn, "SAR/p-1/v1.json");
    wait_until(Duration::from_secs(20), "v1 registered", async || {
        begin_of_p1().await.is_some()
    })
    .await;
    let v1 = begin_of_p1().await.unwrap();

    // Hold p-1's row so that registering version 2 stops inside its transaction.
    let mut blocker = database.client().await;
    let lock = blocker.transaction().await.unwrap();
    lock.execute("SELECT 1 FROM products WHERE id = 'p-1' FOR UPDATE", &[])
        .await
        .unwrap();
    push(&mut conn, "SAR/p-1/v2.json");
    let observer = database.client().await;
    wait_until(
        Duration::from_secs(20),
        "the registrar to reach the locked row",
        async || {
        let waiting: i64 = observer
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        waiting > 0
    })
    .await;
    // Killed while its transaction waits on the row.
    first.kill();
    lock.rollback().await.unwrap();
    assert_eq!(
        begin_of_p1().await.as_deref(),
        Some(v1.as_str()),
        "a half-written product"
    );
    let processing: Vec<String> = redis::cmd("LRANGE")
        .arg(format!("{prefix}register_queue:processing:reg-a-0"))
        .arg(0)
        .arg(-1)
        .query(&mut conn)
        .unwrap();
    assert_eq!(processing, ["SAR/p-1/v2.json"], "the item was lost");

    // Restarted under the same name, it takes the item back and finishes it.
    let mut second = start();
    wait_until(Duration::from_secs(20), "v2 registered", async || {
        begin_of_p1().await.as_deref() != Some(v1.as_str())
    })
    .await;
    assert_eq!(begin_of_p1().await.unwrap(), "2010-07-22T21:08:40+00:00");
    assert_eq!(catalog.count(&Default::default()).await.unwrap(), 1);
    second.kill();
    drop(blocker);
    pvs_queue::testing::delete_keys(&prefix);
}

/// Bulk removal as operators run it: many ids (a missing one in the middle), a file of ids on
/// standard input, a collection's products of a time range, a collection deleted with the
/// tiles of its layers (not those of `S2_L1C`, whose name starts with `S2`); bad input is
/// refused and changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_removal_from_the_command_line() {
    use std::io::Write;

    use bytes::Bytes;
    use chrono::{TimeDelta, TimeZone, Utc};
    use geo::{MultiPolygon, polygon};
    use pvs_catalog::{Collection, Product};
    use pvs_tiles::{Tile, TileFormat, TileKey, TileMatrixSet, TileStore, TileTime};

    let database = TestDatabase::create().await;
    let bucket = s3::new_bucket().await;
    let prefix = format!("pvs-test:registrar-bulk-{}:", std::process::id());
    let catalog = database.catalog().await;
    let storage = pvs_storage::Storage::from_url(
        &format!("s3://{bucket}/data").parse().unwrap(),
        Some(&s3::s3_settings()),
    )
    .unwrap();
    let tiles = TileStore::new(storage, "tiles".parse().unwrap());
    let day = |d: i64| Utc.with_ymd_and_hms(2020, 1, 1, 0, 0, 0).unwrap() + TimeDelta::days(d);
    for name in ["S2", "S2_L1C"] {
        catalog
            .upsert_collection(&Collection::new(name).unwrap())
            .await
            .unwrap();
    }
    // S2: s2-0 .. s2-9, one a day (00:00 to 12:00), 10 degrees further east each day;
    // S2_L1C: l1c-0 .. l1c-2, days 0 to 2.
    let product = |id: String, collection: &str, d: i64| {
        let west = d as f64 * 10.0 - 100.0;
        Product {
            footprint: MultiPolygon(vec![polygon![
                (x: west, y: 0.0), (x: west + 5.0, y: 0.0), (x: west + 5.0, y: 5.0), (x: west, y: 5.0),
            ]]),
            begin: day(d),
            end: day(d) + TimeDelta::hours(12),
            location: format!("{collection}/{id}.tif"),
            collection: collection.to_owned(),
            product_type: None,
            metadata: serde_json::json!({}),
            properties: Default::default(),
            id,
        }
    };
    let mut all: Vec<Product> = (0..10)
        .map(|d| product(format!("s2-{d}"), "S2", d))
        .collect();
    all.extend((0..3).map(|d| product(format!("l1c-{d}"), "S2_L1C", d)));
    for product in &all {
        catalog.register(product).await.unwrap();
    }
    for layer in ["S2", "S2__outlines", "S2_L1C", "S2_L1C__outlines"] {
        // A time no removed product overlaps: only deleting the collection removes them.
        let key = TileKey::new(
            layer,
            TileTime::parse("2019-01-01T00:00:00Z/2019-01-02T00:00:00Z").unwrap(),
            TileMatrixSet::WebMercatorQuad,
            Tile { z: 0, x: 0, y: 0 },
            TileFormat::Png,
        )
        .unwrap();
        tiles.put(&key, Bytes::from_static(b"png")).await.unwrap();
    }
    let run = |args: &[&str]| registrar(args, &prefix, &database.url, &bucket);
    let output = |args: &[&str]| run(args).output().unwrap();
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    let ids = || async {
        let found = catalog
            .search(&pvs_catalog::ProductQuery::new().with_limit(100))
            .await
            .unwrap();
        let mut ids: Vec<String> = found.into_iter().map(|p| p.id).collect();
        ids.sort();
        ids
    };

    // Many ids, one missing in the middle: the others go, exit code 1.
    let out = output(&[
        "--deregister",
        "s2-0",
        "--deregister",
        "nope",
        "--deregister",
        "s2-1",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{stdout}");
    assert!(
        lines[0].starts_with(
            "deregistered s2-0 (collection S2, 2020-01-01T00:00:00Z/2020-01-01T12:00:00Z)"
        ),
        "{stdout}"
    );
    assert_eq!(lines[1], "not found    nope: no such product");
    assert!(lines[2].starts_with("deregistered s2-1 "), "{stdout}");
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("3 ids: 2 deregistered, 1 not found, 0 failed"),
        "{stderr}"
    );
    assert!(
        stderr.contains("pvs registrar: 1 not found, 0 failed"),
        "{stderr}"
    );
    assert!(catalog.get("S2", "s2-0").await.unwrap().is_none());
    assert!(catalog.get("S2", "s2-1").await.unwrap().is_none());

    // Ids from standard input, with a blank line and a comment.
    let mut child = run(&["--deregister-file", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"# old ones\ns2-2\n\n  s2-3  \n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).lines().count(), 2);
    assert!(text(&out.stderr).contains("2 ids: 2 deregistered, 0 not found, 0 failed"));

    // Bad input: nothing changes, exit code 2 and the reason.
    let before = ids().await;
    for (args, needle) in [
        (
            vec![
                "--deregister-collection",
                "S2",
                "--begin",
                "2020-01-09T00:00:00Z",
                "--end",
                "2020-01-08T00:00:00Z",
            ],
            "is after end",
        ),
        (
            vec![
                "--deregister-collection",
                "S2",
                "--begin",
                "2020-01-32",
                "--end",
                "2020-02-01T00:00:00Z",
            ],
            "not an RFC 3339 time",
        ),
        (
            vec![
                "--deregister-collection",
                "S2",
                "--begin",
                "2020-01-01T00:00:00Z",
            ],
            "--end",
        ),
        (vec!["--dry-run"], "--dry-run goes with"),
    ] {
        let out = output(&args);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert!(
            text(&out.stderr).contains(needle),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
    for args in [
        vec![
            "--deregister-collection",
            "S3",
            "--begin",
            "2020-01-01T00:00:00Z",
            "--end",
            "2020-02-01T00:00:00Z",
        ],
        vec!["--delete-collection", "S3", "--yes"],
    ] {
        let out = output(&args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert!(
            text(&out.stderr).contains("no collection \"S3\" in the catalog"),
            "{}",
            text(&out.stderr)
        );
    }
    assert_eq!(ids().await, before, "nothing changed");

    // A time range: days 5 (from 06:00) to 7 (to 00:00): s2-5, s2-6 and s2-7 (which begins
    // at 00:00); first as a dry run.
    let range = [
        "--deregister-collection",
        "S2",
        "--begin",
        "2020-01-06T06:00:00Z",
        "--end",
        "2020-01-08T00:00:00Z",
    ];
    let dry: Vec<&str> = range.iter().copied().chain(["--dry-run"]).collect();
    let out = output(&dry);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "would deregister s2-7 (2020-01-08T00:00:00Z/2020-01-08T12:00:00Z)\n\
         would deregister s2-6 (2020-01-07T00:00:00Z/2020-01-07T12:00:00Z)\n\
         would deregister s2-5 (2020-01-06T00:00:00Z/2020-01-06T12:00:00Z)\n"
    );
    assert_eq!(ids().await, before);
    let out = output(&range);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).lines().count(), 3);
    let stderr = text(&out.stderr);
    assert!(stderr.contains("3 deregistered, 0 failed"), "{stderr}");
    // Left: s2-4 (lon -60..-55) and s2-8, s2-9 (lon -20..-15 and -10..-5).
    assert!(
        stderr.contains("collection S2: 3 products, bbox -60,0,-5,5, time 2020-01-05T00:00:00Z/2020-01-10T12:00:00Z"),
        "{stderr}"
    );
    assert_eq!(
        ids().await,
        ["l1c-0", "l1c-1", "l1c-2", "s2-4", "s2-8", "s2-9"]
    );

    // Deleting S2: refused without --yes, then done; S2_L1C and its tiles stay.
    let out = output(&["--delete-collection", "S2"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stdout),
        "would delete collection S2: 3 products, bbox -60,0,-5,5, time 2020-01-05T00:00:00Z/2020-01-10T12:00:00Z\n\
         would delete the tiles of layers: S2 S2__outlines\n"
    );
    assert!(text(&out.stderr).contains("add --yes"));
    assert!(catalog.collection("S2").await.unwrap().is_some());
    let out = output(&["--delete-collection", "S2", "--yes"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout)
            .ends_with("deleted collection S2: 3 products, 2 tiles of layers S2 S2__outlines\n"),
        "{}",
        text(&out.stdout)
    );
    assert!(catalog.collection("S2").await.unwrap().is_none());
    assert_eq!(ids().await, ["l1c-0", "l1c-1", "l1c-2"]);
    assert!(tiles.list("S2").await.unwrap().is_empty());
    assert!(tiles.list("S2__outlines").await.unwrap().is_empty());
    assert_eq!(tiles.list("S2_L1C").await.unwrap().len(), 1);
    assert_eq!(tiles.list("S2_L1C__outlines").await.unwrap().len(), 1);

    let redis_client = redis::Client::open(redis_url()).unwrap();
    let mut conn = redis_client.get_connection().unwrap();
    let records: Vec<String> = redis::cmd("LRANGE")
        .arg(format!("{prefix}invalidate_queue"))
        .arg(0)
        .arg(-1)
        .query(&mut conn)
        .unwrap();
    // 4 ids, 3 of the range, 1 for the collection.
    assert_eq!(records.len(), 8, "{records:?}");
    assert!(
        records[0].contains("\"collection deleted\""),
        "{}",
        records[0]
    );
    pvs_queue::testing::delete_keys(&prefix);
}
