//! The web client in a real browser: `pvs up --demo` on embedded backends, then headless
//! Debian Chromium driven by Playwright (`web/tests/browser.mjs`) loads the client, sees the
//! demo layer's tiles load with no console error and imagery on the map canvas, drives the
//! time slider and range picker (the tiles' TIME follows), searches the view, reads the ingest
//! status, and saves a screenshot: `$CARGO_TARGET_TMPDIR/browser/pvs-up.png`.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use pvs_test_support::{free_address, wait_until};

mod support;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_shows_the_demo_and_drives_time_and_search() {
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

    let web = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../web");
    let artifacts = Path::new(env!("CARGO_TARGET_TMPDIR")).join("browser");
    std::fs::create_dir_all(&artifacts).unwrap();
    let screenshot = artifacts.join("pvs-up.png");
    let _ = std::fs::remove_file(&screenshot);
    let run = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg("tests/browser.mjs")
            .arg(format!("{base}/"))
            .arg(&screenshot)
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
        "the browser checks failed:\n{out}\n{err}"
    );
    assert!(out.contains("every check passed"), "{out}");
    let png = std::fs::read(artifacts.join("pvs-up.png")).unwrap();
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 20_000,
        "screenshot of {} bytes",
        png.len()
    );
    eprintln!("screenshot: {}", artifacts.join("pvs-up.png").display());
}
