//! `pvs up` end to end, on its embedded backends (no REDIS_URL, DATABASE_URL or STORAGE_URL):
//! a POSTed real browse report becomes searchable and its WMTS tile shows the image's pixels
//! (compared with GDAL's own warp of the COG); the demo's reports are all registered across a
//! stop (SIGINT) in the middle of the work and a restart; the web client and the status are
//! served on the same port.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::time::Duration;

use pvs_test_support::images::Pixels;
use pvs_test_support::{Process, Signal, clean_command, fixtures, free_address, wait_for, wait_ok};
use serde_json::Value;

mod support;

use support::PVS;

fn fixture(name: &str) -> PathBuf {
    fixtures::ngeo().join("reference_test_data").join(name)
}

/// A running `pvs up`, killed when the test ends however it ends.
struct Up {
    process: Process,
    base: String,
}

impl Up {
    /// Starts `pvs up` on `data` (no backend variables: embedded backends) and waits until
    /// it is ready.
    async fn start(data: &Path, demo: bool) -> Self {
        let address = free_address();
        let mut args = vec!["up", "--listen", &address, "--data-dir"];
        args.push(data.to_str().unwrap());
        if demo {
            args.push("--demo");
        }
        let up = Self {
            process: support::spawn(&args, &[]),
            base: format!("http://{address}"),
        };
        wait_ok(&format!("{}/ready", up.base), Duration::from_secs(30)).await;
        up
    }

    /// Sends SIGINT (Ctrl-C) and waits for the exit.
    async fn interrupt(mut self) -> ExitStatus {
        self.process
            .stop(Signal::Int, Duration::from_secs(60))
            .await
    }

    async fn json(&self, path: &str) -> Value {
        let response = reqwest::get(format!("{}{path}", self.base)).await.unwrap();
        assert!(
            response.status().is_success(),
            "{path}: {}",
            response.status()
        );
        serde_json::from_slice(&response.bytes().await.unwrap()).unwrap()
    }

    async fn metrics(&self) -> String {
        let response = reqwest::get(format!("{}/metrics", self.base))
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "/metrics: {}",
            response.status()
        );
        response.text().await.unwrap()
    }

    async fn status(&self) -> Value {
        self.json("/api/status").await
    }

    /// Waits until `done` holds for the status, failing with the last status after `limit`.
    async fn wait_status(&self, limit: Duration, done: impl Fn(&Value) -> bool) -> Value {
        wait_for(limit, "the status", async || {
            let status = self.status().await;
            if done(&status) {
                Ok(status)
            } else {
                Err(format!("{status:#}"))
            }
        })
        .await
    }
}

fn stage(status: &Value, name: &str, field: &str) -> u64 {
    status["stages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no stage {name} in {status}"))[field]
        .as_u64()
        .unwrap()
}

fn queues_empty(status: &Value) -> bool {
    status["queues"]
        .as_array()
        .unwrap()
        .iter()
        .all(|q| q["waiting"] == 0 && q["processing"] == 0)
}

/// The WebMercatorQuad tile at zoom `z` holding lon/lat, and the pixel of that point in it.
fn tile_and_pixel(lon: f64, lat: f64, z: u32) -> ((u32, u32), (usize, usize)) {
    let n = f64::from(1u32 << z);
    let x = (lon + 180.0) / 360.0 * n;
    let lat = lat.to_radians();
    let y = (1.0 - (lat.tan() + 1.0 / lat.cos()).ln() / std::f64::consts::PI) / 2.0 * n;
    let (tx, ty) = (x.floor(), y.floor());
    let pixel = (
        ((x - tx) * 256.0).floor() as usize,
        ((y - ty) * 256.0).floor() as usize,
    );
    ((tx as u32, ty as u32), pixel)
}

/// Web Mercator bounds of a tile: west, south, east, north in metres.
fn tile_bounds(z: u32, x: u32, y: u32) -> [f64; 4] {
    const HALF: f64 = 20_037_508.342_789_244;
    let size = 2.0 * HALF / f64::from(1u32 << z);
    let west = -HALF + f64::from(x) * size;
    let north = HALF - f64::from(y) * size;
    [west, north - size, west + size, north]
}

fn find_cog(dir: &Path) -> Option<PathBuf> {
    for entry in std::fs::read_dir(dir).ok()? {
        let path = entry.ok()?.path();
        if path.is_dir() {
            if let Some(found) = find_cog(&path) {
                return Some(found);
            }
        } else if path.extension().is_some_and(|e| e == "tif") {
            return Some(path);
        }
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_posted_report_is_searchable_and_its_tile_shows_its_pixels() {
    let data = tempfile::tempdir().unwrap();
    let up = Up::start(data.path(), false).await;
    let client = reqwest::Client::new();

    // The web client and the status answer on the same port.
    let page = client.get(format!("{}/", up.base)).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("app.js"));
    assert!(queues_empty(&up.status().await));

    // The provider put the image where the report's fileName says (INGEST_PREFIX unset),
    // then POSTs the report.
    let image = "ASA_IM__0P_20100722_213840.jpg";
    std::fs::copy(fixture(image), data.path().join("storage").join(image)).unwrap();
    let report = std::fs::read(fixture("browseReport_ASA_IM__0P_20100722_213840.xml")).unwrap();
    let response = client
        .post(format!("{}/ingest", up.base))
        .body(report)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    let answer = response.text().await.unwrap();
    assert!(
        answer.contains("<bsi:status>success</bsi:status>"),
        "{answer}"
    );

    // Searchable by its id through OpenSearch.
    let found = wait_for(Duration::from_secs(90), "b_id_1 searchable", async || {
        // 404 until the collection exists (its first product is registered).
        let response = client
            .get(format!(
                "{}/opensearch/collections/SAR/json?uid=b_id_1",
                up.base
            ))
            .send()
            .await
            .unwrap();
        if response.status() == 200 {
            let answer: Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
            if answer["features"].as_array().is_some_and(|f| f.len() == 1) {
                return Ok(answer);
            }
        } else {
            assert_eq!(response.status(), 404);
        }
        Err(format!("status {:#}", up.status().await))
    })
    .await;
    assert_eq!(
        found["features"][0]["properties"]["begin"],
        "2010-07-22T21:38:40Z"
    );
    let status = up.status().await;
    assert_eq!(stage(&status, "register", "succeeded"), 1, "{status:#}");
    assert_eq!(stage(&status, "register", "failed"), 0, "{status:#}");
    for file in ["queue.sqlite", "catalog.sqlite"] {
        assert!(
            data.path().join(file).is_file(),
            "the embedded {file} is in the data directory"
        );
    }

    // The footprint's centre (lat/lon corners of the report), at zoom 9.
    let (lon, lat) = (
        (-2.79 - 1.22 - 0.03 - 1.49) / 4.0,
        (52.86 + 53.08 + 49.68 + 49.46) / 4.0,
    );
    let z = 9;
    let ((x, y), _) = tile_and_pixel(lon, lat, z);
    let url = format!(
        "{}/wmts/1.0.0/SAR/default/default/WebMercatorQuad/{z}/{y}/{x}.png",
        up.base
    );
    let tile = client.get(&url).send().await.unwrap();
    assert_eq!(tile.status(), 200, "{url}");
    assert_eq!(tile.headers()["content-type"], "image/png");
    let tile = Pixels::decode(&tile.bytes().await.unwrap());
    assert_eq!((tile.width, tile.height), (256, 256), "{url}");

    // GDAL's own warp of the COG onto the same tile grid, as the independent reference.
    let cog = find_cog(&data.path().join("storage")).expect("a COG in the local storage");
    let [west, south, east, north] = tile_bounds(z, x, y);
    let reference = data.path().join("reference.tif");
    let warped = Command::new("gdalwarp")
        .args([
            "-q",
            "-overwrite",
            "-t_srs",
            "EPSG:3857",
            "-ts",
            "256",
            "256",
            "-r",
            "bilinear",
            "-dstalpha",
            "-te",
        ])
        .args([west, south, east, north].map(|v| v.to_string()))
        .arg(&cog)
        .arg(&reference)
        .status()
        .unwrap();
    assert!(warped.success());
    let ours = tile.rgba();
    let theirs: Vec<[u8; 4]> = {
        let bands = Pixels::open(&reference).bands;
        // A grey COG has one band plus alpha; an RGB one three.
        (0..256 * 256)
            .map(|i| match bands.len() {
                2 => [bands[0][i], bands[0][i], bands[0][i], bands[1][i]],
                4 => [bands[0][i], bands[1][i], bands[2][i], bands[3][i]],
                n => panic!("unexpected band count {n} in GDAL's warp"),
            })
            .collect()
    };
    let both: Vec<usize> = (0..ours.len())
        .filter(|&i| ours[i][3] == 255 && theirs[i][3] == 255)
        .collect();
    assert!(
        both.len() > 256 * 256 / 2,
        "the footprint centre's tile is mostly imagery in both ({} pixels)",
        both.len()
    );
    let mean_difference = both
        .iter()
        .map(|&i| {
            (0..3)
                .map(|c| ours[i][c].abs_diff(theirs[i][c]) as f64)
                .sum::<f64>()
                / 3.0
        })
        .sum::<f64>()
        / both.len() as f64;
    // The one port's /metrics counts the pipeline's items and the cache's tiles.
    let metrics = up.metrics().await;
    for series in [
        "pvs_items_total{",
        "pvs_cache_tiles_total{",
        "pvs_http_requests_total{",
        "pvs_queue_length{",
    ] {
        assert!(
            metrics.contains(series),
            "/metrics lacks {series}:\n{metrics}"
        );
    }
    eprintln!(
        "tile vs GDAL's warp: {} pixels compared, mean difference {mean_difference:.2}",
        both.len()
    );
    let levels: std::collections::BTreeSet<u8> = both.iter().map(|&i| ours[i][0]).collect();
    assert!(
        levels.len() > 50,
        "the tile shows an image, not a flat colour ({} grey levels)",
        levels.len()
    );
    assert!(
        mean_difference < 6.0,
        "the tile differs from GDAL's warp of the COG by {mean_difference:.2} levels on average"
    );

    // The same report again replaces the product. Nothing in `pvs up` reads
    // invalidate_queue, so no invalidation record is left on it (it used to fill forever,
    // and the queues never became empty again).
    let response = client
        .post(format!("{}/ingest", up.base))
        .body(std::fs::read(fixture("browseReport_ASA_IM__0P_20100722_213840.xml")).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    let registered = |metrics: &str| {
        metrics
            .lines()
            .find(|l| {
                l.starts_with("pvs_items_total{")
                    && l.contains("stage=\"register\"")
                    && l.contains("outcome=\"succeeded\"")
            })
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse::<f64>().ok())
    };
    wait_for(
        Duration::from_secs(90),
        "the replacement registered",
        async || {
            if registered(&up.metrics().await) == Some(2.0) {
                Ok(())
            } else {
                Err(format!("status {:#}", up.status().await))
            }
        },
    )
    .await;
    let status = up.wait_status(Duration::from_secs(30), queues_empty).await;
    let invalidate = status["queues"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["name"] == "invalidate_queue")
        .unwrap_or_else(|| panic!("/api/status lists invalidate_queue: {status:#}"));
    assert_eq!(invalidate["waiting"], 0, "{status:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_survives_a_stop_in_the_middle_and_a_restart() {
    let data = tempfile::tempdir().unwrap();
    let up = Up::start(data.path(), true).await;
    // Stop as soon as the first product is registered: the others are still in the drop
    // folder, on a queue or being converted.
    let at_stop = up
        .wait_status(Duration::from_secs(120), |s| {
            stage(s, "register", "succeeded") >= 1
        })
        .await;
    let registered_at_stop = stage(&at_stop, "register", "succeeded");
    assert!(
        registered_at_stop < 7,
        "the stop came after all the work: nothing left to resume ({at_stop:#})"
    );
    let exit = up.interrupt().await;
    assert!(exit.success(), "pvs up exited with {exit} on SIGINT");

    let up = Up::start(data.path(), false).await;
    let done = up
        .wait_status(Duration::from_secs(180), |s| {
            stage(s, "register", "succeeded") == 7 && queues_empty(s)
        })
        .await;
    for name in ["preprocess", "register", "seed"] {
        assert_eq!(stage(&done, name, "failed"), 0, "{done:#}");
        assert_eq!(stage(&done, name, "in_flight"), 0, "{done:#}");
    }
    let search = up.json("/opensearch/collections/SAR/json?count=50").await;
    let mut ids: Vec<&str> = search["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap())
        .collect();
    ids.sort_unstable();
    assert_eq!(
        ids,
        [
            "b_id_1", "b_id_2", "b_id_3", "b_id_5", "b_id_6", "b_id_7", "b_id_8"
        ],
        "every demo product once (registered before the stop: {registered_at_stop})"
    );
    // Each of the five reports got its registration report in to-panda.
    let reports = std::fs::read_dir(data.path().join("to-panda"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "xml")
        })
        .count();
    assert_eq!(reports, 5, "one registration report per demo report");
    let exit = up.interrupt().await;
    assert!(exit.success());
}

/// `pvs up` with bad arguments, variables or data directories: a one-line error naming what
/// is wrong, exit 2 for usage and configuration, 1 for what cannot be opened.
#[test]
fn bad_start_up_input_is_named() {
    let scratch = tempfile::tempdir().unwrap();
    let file = scratch.path().join("a-file");
    std::fs::write(&file, "not a directory").unwrap();
    let corrupt = scratch.path().join("corrupt");
    std::fs::create_dir(&corrupt).unwrap();
    std::fs::write(corrupt.join("catalog.sqlite"), vec![0x55; 8192]).unwrap();
    let data = scratch.path().join("data");
    let data = data.to_str().unwrap();
    /// Arguments, variables, the exit code and what stderr must name.
    type Case<'a> = (Vec<&'a str>, Vec<(&'a str, &'a str)>, i32, &'a str);
    let cases: Vec<Case> = vec![
        (vec!["--listen", "nowhere"], vec![], 2, "--listen"),
        (vec!["--listen", "127.0.0.1:99999"], vec![], 2, "--listen"),
        (vec!["--data-dir"], vec![], 2, "--data-dir"),
        (vec!["--demo=yes"], vec![], 2, "--demo"),
        (
            vec!["--data-dir", data],
            vec![("REDIS_URL", "http://x")],
            2,
            "REDIS_URL",
        ),
        (
            vec!["--data-dir", data],
            vec![("DATABASE_URL", "mysql://x")],
            2,
            "DATABASE_URL",
        ),
        (
            vec!["--data-dir", data],
            vec![("STORAGE_URL", "ftp://x/y")],
            2,
            "STORAGE_URL",
        ),
        (
            vec!["--data-dir", data],
            vec![("CACHE_MAX_ZOOM", "99")],
            2,
            "CACHE_MAX_ZOOM",
        ),
        (
            vec!["--data-dir", data],
            vec![("INGEST_MAX_BYTES", "lots")],
            2,
            "INGEST_MAX_BYTES",
        ),
        (
            vec!["--data-dir", data],
            vec![("COLLECTIONS_FILE", "/nonexistent.toml")],
            2,
            "COLLECTIONS_FILE",
        ),
        (
            vec!["--data-dir", file.to_str().unwrap()],
            vec![],
            1,
            "a-file",
        ),
        (
            vec!["--data-dir", corrupt.to_str().unwrap()],
            vec![],
            1,
            "catalog.sqlite",
        ),
    ];
    for (args, env, code, named) in cases {
        let out = clean_command(PVS, ["up"].iter().chain(&args), env.iter().copied())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{args:?} {env:?}: {stderr}");
        assert!(
            stderr.contains(named),
            "{args:?} {env:?} does not name {named}: {stderr}"
        );
    }
}
