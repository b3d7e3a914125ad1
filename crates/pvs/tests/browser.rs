//! The web client in a real browser: `pvs up --demo` on embedded backends, then headless
//! Debian Chromium driven by Playwright (`web/tests/browser.mjs`) loads the client, sees the
//! demo layer's tiles load with no console error and imagery on the map canvas, drives the
//! time slider and range picker (the tiles' TIME follows), searches the view, reads the ingest
//! status, and saves a screenshot: `$CARGO_TARGET_TMPDIR/browser/pvs-up.png`. Then
//! `web/tests/stac-browser.mjs` searches the STAC API from its tab (count, footprints, the
//! `next` page, an Item's details, its WMS link on the map, the filter) and saves `stac.png`
//! and `stac-details.png` beside it.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use pvs_test_support::{free_address, wait_until};

mod support;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_shows_the_demo_and_drives_time_and_search_and_stac() {
    let data = tempfile::tempdir().unwrap();
    let address = free_address();
    let base = format!("http://{address}");
    let _up = support::spawn(
        &[
            "up",
            "--demo",
            "--listen",
            &address,
            "--data-dir",
            data.path().to_str().unwrap(),
        ],
        &[],
    );
    // Every demo product registered before the browser looks.
    wait_until(
        Duration::from_secs(180),
        "the demo registered",
        async || {
            if let Ok(response) = reqwest::get(format!("{base}/api/status")).await
                && let Ok(body) = response.bytes().await
                && let Ok(status) = serde_json::from_slice::<serde_json::Value>(&body)
            {
                let registered = status["stages"]
                    .as_array()
                    .and_then(|s| s.iter().find(|s| s["name"] == "register"))
                    .and_then(|s| s["succeeded"].as_u64());
                return registered == Some(7);
            }
            false
        },
    )
    .await;

    let artifacts = Path::new(env!("CARGO_TARGET_TMPDIR")).join("browser");
    std::fs::create_dir_all(&artifacts).unwrap();
    for (script, screenshots) in [
        ("tests/browser.mjs", &["pvs-up.png"][..]),
        (
            "tests/stac-browser.mjs",
            &["stac.png", "stac-details.png"][..],
        ),
    ] {
        for name in screenshots {
            let _ = std::fs::remove_file(artifacts.join(name));
        }
        browse(script, &base, &artifacts.join(screenshots[0])).await;
        for name in screenshots {
            let png = std::fs::read(artifacts.join(name)).unwrap();
            assert!(
                png.starts_with(b"\x89PNG") && png.len() > 20_000,
                "screenshot {name} of {} bytes",
                png.len()
            );
            eprintln!("screenshot: {}", artifacts.join(name).display());
        }
    }
}

/// Runs the browser checks of `script` (in `web/`) on the client at `base`, saving its
/// screenshot as `screenshot`; fails with their output unless every check passed.
async fn browse(script: &'static str, base: &str, screenshot: &Path) {
    let web = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../web");
    let (url, screenshot) = (format!("{base}/"), screenshot.to_owned());
    let run = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg(script)
            .arg(url)
            .arg(screenshot)
            .current_dir(web)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let out = String::from_utf8_lossy(&run.stdout);
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(
        run.status.success(),
        "the browser checks of {script} failed:\n{out}\n{err}"
    );
    assert!(out.contains("every check passed"), "{script}: {out}");
}
