//! The embedded client over real HTTP: the page, its script and style with their types,
//! entity tags and 304s, and nothing else served; and the unit tests of its STAC client
//! (`web/tests/stac.test.mjs`, by Node's test runner).

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;

use reqwest::StatusCode;

async fn serve() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, pvs_web::routes()).await.unwrap() });
    address
}

#[tokio::test]
async fn the_page_its_script_and_style_are_served() {
    let base = format!("http://{}", serve().await);
    let client = reqwest::Client::new();
    let page = client.get(format!("{base}/")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert_eq!(page.headers()["content-type"], "text/html; charset=utf-8");
    let html = page.text().await.unwrap();
    for needle in [
        "<script src=\"app.js\">",
        "href=\"app.css\"",
        "id=\"time-slider\"",
        "id=\"search-run\"",
        "id=\"tab-stac\"",
        "id=\"stac-form\"",
        "id=\"stac-next\"",
        "id=\"stac-wms\"",
        "id=\"status-queues\"",
    ] {
        assert!(html.contains(needle), "the page lacks {needle}");
    }
    let script = client.get(format!("{base}/app.js")).send().await.unwrap();
    assert_eq!(script.status(), StatusCode::OK);
    assert_eq!(
        script.headers()["content-type"],
        "text/javascript; charset=utf-8"
    );
    let js = script.text().await.unwrap();
    // The bundle holds OpenLayers and the client's own calls, not a CDN address.
    assert!(js.len() > 100_000, "the bundle is {} bytes", js.len());
    for needle in [
        "WMTSCapabilities.xml",
        "opensearch/collections/",
        "item-search#sort",
        "filter-lang",
        "api/status",
    ] {
        assert!(js.contains(needle), "the bundle lacks {needle}");
    }
    for cdn in ["unpkg.com", "cdn.jsdelivr", "cdnjs", "tile.openstreetmap"] {
        assert!(!js.contains(cdn), "the bundle refers to {cdn}");
    }
    let style = client.get(format!("{base}/app.css")).send().await.unwrap();
    assert_eq!(style.headers()["content-type"], "text/css; charset=utf-8");
    assert!(style.text().await.unwrap().contains(".ol-viewport"));
}

#[tokio::test]
async fn entity_tags_give_304() {
    let base = format!("http://{}", serve().await);
    let client = reqwest::Client::new();
    for path in ["/", "/index.html", "/app.js", "/app.css"] {
        let first = client.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(first.headers()["cache-control"], "no-cache");
        let tag = first.headers()["etag"].to_str().unwrap().to_owned();
        assert!(tag.starts_with('"') && tag.ends_with('"'), "{tag}");
        let again = client
            .get(format!("{base}{path}"))
            .header("If-None-Match", format!("\"other\", W/{tag}"))
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED, "{path}");
        assert!(again.bytes().await.unwrap().is_empty());
        let other = client
            .get(format!("{base}{path}"))
            .header("If-None-Match", "\"0000\"")
            .send()
            .await
            .unwrap();
        assert_eq!(other.status(), StatusCode::OK, "{path}");
    }
    let (index, page) = (
        client
            .get(format!("{base}/index.html"))
            .send()
            .await
            .unwrap(),
        client.get(format!("{base}/")).send().await.unwrap(),
    );
    assert_eq!(index.headers()["etag"], page.headers()["etag"]);
}

#[tokio::test]
async fn nothing_else_is_served() {
    let base = format!("http://{}", serve().await);
    let client = reqwest::Client::new();
    for path in [
        "/app.js.map",
        "/../Cargo.toml",
        "/%2e%2e/Cargo.toml",
        "/src/main.js",
        "/node_modules/ol/package.json",
        "/index.html/x",
    ] {
        let response = client.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
    }
    let post = client
        .post(format!("{base}/"))
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), StatusCode::METHOD_NOT_ALLOWED);
    let long = format!("{base}/{}", "a".repeat(10_000));
    let response = client.get(long).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

/// The STAC client's functions and its paging over GET and POST `next` links, against a small
/// STAC API served by the test itself, in Node (which `build.rs` needs anyway).
#[test]
fn the_stac_client_passes_its_unit_tests() {
    let web = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../web");
    let run = Command::new("node")
        .args(["--test", "tests/stac.test.mjs"])
        .current_dir(&web)
        .output()
        .expect("node runs (building this crate needed it)");
    let out = String::from_utf8_lossy(&run.stdout);
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "node --test failed:\n{out}\n{err}");
    let passed = out
        .lines()
        .find_map(|line| line.strip_prefix("# pass "))
        .and_then(|n| n.trim().parse::<u32>().ok());
    assert!(passed.is_some_and(|n| n >= 15), "{out}");
}
