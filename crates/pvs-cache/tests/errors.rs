//! Every bad request gets an OWS exception report naming the parameter, with the status
//! WMTS 1.0.0 gives it: missing and malformed values, hostile and oversized input, path
//! traversal, unknown versions.

mod support;

use support::Stack;

const TILE: &str = "SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&STYLE=default&FORMAT=image/png";

/// `/wmts?{TILE}` with the given layer, matrix set, matrix, row, column and extras.
fn get_tile(layer: &str, tms: &str, z: &str, row: &str, col: &str, extra: &str) -> String {
    format!(
        "/wmts?{TILE}&LAYER={layer}&TILEMATRIXSET={tms}&TILEMATRIX={z}&TILEROW={row}&TILECOL={col}{extra}"
    )
}

/// Checks one answer: status, exception code, locator, and words of the message.
fn check(
    full_path: &str,
    answer: &support::Answer,
    status: u16,
    code: &str,
    locator: Option<&str>,
    words: &str,
) {
    let path: String = full_path.chars().take(300).collect();
    let text = answer.text();
    assert_eq!(answer.status, status, "{path}: {text}");
    assert_eq!(answer.header("content-type"), "application/xml", "{path}");
    assert!(
        text.contains(&format!("exceptionCode=\"{code}\"")),
        "{path}: {text}"
    );
    match locator {
        Some(l) => assert!(text.contains(&format!("locator=\"{l}\"")), "{path}: {text}"),
        None => assert!(!text.contains("locator="), "{path}: {text}"),
    }
    // Quotes are escaped in the report.
    let words = words.replace('"', "&quot;");
    assert!(
        text.contains(&words),
        "{path}: expected {words:?} in {text}"
    );
    assert!(text.len() < 2000, "{path}: a short report");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_kvp_parameters() {
    let stack = Stack::start().await;
    let wm = "WebMercatorQuad";
    let cases: Vec<(String, u16, &str, Option<&str>, &str)> = vec![
        (
            "/wmts".into(),
            400,
            "MissingParameterValue",
            Some("request"),
            "request is required",
        ),
        (
            "/wmts?SERVICE=WMS&REQUEST=GetTile".into(),
            400,
            "InvalidParameterValue",
            Some("service"),
            "serves WMTS",
        ),
        (
            "/wmts?SERVICE=WMTS&REQUEST=GetFeatureInfo".into(),
            501,
            "OperationNotSupported",
            Some("request"),
            "GetFeatureInfo",
        ),
        (
            "/wmts?SERVICE=WMTS&REQUEST=Explode".into(),
            501,
            "OperationNotSupported",
            Some("request"),
            "Explode",
        ),
        (
            format!("/wmts?{TILE}&TILEMATRIXSET={wm}&TILEMATRIX=0&TILEROW=0&TILECOL=0"),
            400,
            "MissingParameterValue",
            Some("layer"),
            "layer is required",
        ),
        (
            get_tile("", wm, "0", "0", "0", ""),
            400,
            "MissingParameterValue",
            Some("layer"),
            "layer",
        ),
        (
            get_tile("NOPE", wm, "0", "0", "0", ""),
            400,
            "InvalidParameterValue",
            Some("layer"),
            "\"NOPE\" is not known",
        ),
        (
            get_tile("SAR/../x", wm, "0", "0", "0", ""),
            400,
            "InvalidParameterValue",
            Some("layer"),
            "cannot name tiles",
        ),
        (
            get_tile("..", wm, "0", "0", "0", ""),
            400,
            "InvalidParameterValue",
            Some("layer"),
            "cannot name tiles",
        ),
        (
            get_tile("%3Cx%3E", wm, "0", "0", "0", ""),
            400,
            "InvalidParameterValue",
            Some("layer"),
            "&lt;x&gt;",
        ),
        (
            get_tile("SAR", wm, "0", "0", "0", "&STYLE=fancy").replace("STYLE=default&", ""),
            400,
            "InvalidParameterValue",
            Some("style"),
            "\"fancy\"",
        ),
        (
            get_tile("SAR", "EPSG:4326", "0", "0", "0", ""),
            400,
            "InvalidParameterValue",
            Some("tileMatrixSet"),
            "unknown tile matrix set",
        ),
        (
            get_tile("SAR", wm, "0", "0", "0", "").replace("&TILEMATRIXSET=WebMercatorQuad", ""),
            400,
            "MissingParameterValue",
            Some("tileMatrixSet"),
            "tileMatrixSet",
        ),
        (
            get_tile("SAR", wm, "19", "0", "0", ""),
            400,
            "InvalidParameterValue",
            Some("tileMatrix"),
            "0 to 18",
        ),
        (
            get_tile("SAR", wm, "-1", "0", "0", ""),
            400,
            "InvalidParameterValue",
            Some("tileMatrix"),
            "\"-1\"",
        ),
        (
            get_tile("SAR", wm, "EPSG:3857:0", "0", "0", ""),
            400,
            "InvalidParameterValue",
            Some("tileMatrix"),
            "EPSG:3857:0",
        ),
        (
            get_tile("SAR", wm, "99999999999", "0", "0", ""),
            400,
            "InvalidParameterValue",
            Some("tileMatrix"),
            "0 to 18",
        ),
        (
            get_tile("SAR", wm, "0", "1", "0", ""),
            400,
            "TileOutOfRange",
            Some("tileRow"),
            "rows run 0 to 0",
        ),
        (
            get_tile("SAR", wm, "3", "0", "8", ""),
            400,
            "TileOutOfRange",
            Some("tileCol"),
            "columns run 0 to 7",
        ),
        (
            get_tile("SAR", wm, "3", "-1", "0", ""),
            400,
            "TileOutOfRange",
            Some("tileRow"),
            "tileRow -1",
        ),
        (
            get_tile("SAR", wm, "3", "0", "-5", ""),
            400,
            "TileOutOfRange",
            Some("tileCol"),
            "tileCol -5",
        ),
        (
            get_tile("SAR", wm, "3", "0", "99999999999999999999999999", ""),
            400,
            "TileOutOfRange",
            Some("tileCol"),
            "columns run",
        ),
        (
            get_tile("SAR", wm, "3", "zero", "0", ""),
            400,
            "InvalidParameterValue",
            Some("tileRow"),
            "not a whole number",
        ),
        (
            get_tile("SAR", wm, "3", "1.5", "0", ""),
            400,
            "InvalidParameterValue",
            Some("tileRow"),
            "not a whole number",
        ),
        (
            get_tile("SAR", wm, "3", "0", "", ""),
            400,
            "MissingParameterValue",
            Some("tileCol"),
            "tileCol",
        ),
        (
            get_tile("SAR", wm, "0", "0", "0", "").replace("FORMAT=image/png", "FORMAT=image/gif"),
            400,
            "InvalidParameterValue",
            Some("format"),
            "image/gif",
        ),
        (
            get_tile("SAR", wm, "0", "0", "0", "").replace("&FORMAT=image/png", ""),
            400,
            "MissingParameterValue",
            Some("format"),
            "format",
        ),
        (
            get_tile("SAR", wm, "0", "0", "0", "").replace("VERSION=1.0.0", "VERSION=2.0.0"),
            400,
            "InvalidParameterValue",
            Some("version"),
            "2.0.0",
        ),
        (
            get_tile("SAR", wm, "0", "0", "0", "&TIME=yesterday"),
            400,
            "InvalidParameterValue",
            Some("time"),
            "YYYY-MM-DD",
        ),
        (
            get_tile("SAR", wm, "0", "0", "0", "&TIME=2018-02-30"),
            400,
            "InvalidParameterValue",
            Some("time"),
            "not a calendar date",
        ),
        (
            get_tile("SAR", wm, "0", "0", "0", "&TIME=2019/2018"),
            400,
            "InvalidParameterValue",
            Some("time"),
            "after the end",
        ),
        (
            get_tile("SAR", wm, "0", "0", "0", "&TIME=2018,2019"),
            400,
            "InvalidParameterValue",
            Some("time"),
            "lists of values",
        ),
        (
            get_tile("SAR", wm, "0", "0", "0", "&TIME=2018%01%00"),
            400,
            "InvalidParameterValue",
            Some("time"),
            "\\u{1}",
        ),
        (
            get_tile("SAR", wm, "0", "0", "0", "&TIME=%3Cx%3Einjected%3C/x%3E"),
            400,
            "InvalidParameterValue",
            Some("time"),
            "&lt;x&gt;injected&lt;/x&gt;",
        ),
        (
            get_tile(
                "SAR",
                wm,
                "0",
                "0",
                "0",
                &format!("&TIME={}", "2".repeat(1000)),
            ),
            400,
            "InvalidParameterValue",
            Some("time"),
            "longer than 64",
        ),
        (
            get_tile(
                "SAR",
                wm,
                "0",
                "0",
                "0",
                &format!("&TIME={}", "2".repeat(60_000)),
            ),
            400,
            "InvalidParameterValue",
            None,
            "at most 8192",
        ),
        (
            format!("/wmts?REQUEST=GetTile&PAD={}", "x".repeat(9000)),
            400,
            "InvalidParameterValue",
            None,
            "at most 8192",
        ),
    ];
    for (path, status, code, locator, words) in &cases {
        let answer = stack.get(path).await;
        check(path, &answer, *status, code, *locator, words);
        assert!(!answer.text().contains("<x>"), "markup echoed");
    }
    // 100 KB: beyond what the HTTP layer itself takes (414), or refused by the cache (400).
    let (status, _) = stack
        .raw_get(&get_tile(
            "SAR",
            wm,
            "0",
            "0",
            "0",
            &format!("&TIME={}", "2".repeat(100_000)),
        ))
        .await;
    assert!(status == 400 || status == 414, "{status}");
    assert_eq!(stack.renders(), 0, "nothing was drawn for bad requests");
    assert!(stack.stored("SAR").await.is_empty());
    assert!(
        stack.stored("NOPE").await.is_empty(),
        "no tile for an unknown layer"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_rest_paths() {
    let stack = Stack::start().await;
    let ok = "/wmts/1.0.0/SAR/default/default/WebMercatorQuad/0/0/0.png";
    assert_eq!(stack.get(ok).await.status, 200, "the well-formed path");
    let cases: Vec<(String, u16, &str, Option<&str>, &str)> = vec![
        (
            "/wmts/2.0.0/WMTSCapabilities.xml".into(),
            404,
            "InvalidParameterValue",
            None,
            "\"2.0.0\" is not served",
        ),
        (
            "/wmts/1.0.0/SAR/default/default/WebMercatorQuad/0/0".into(),
            404,
            "InvalidParameterValue",
            None,
            "no such resource",
        ),
        (
            format!("{ok}/extra"),
            404,
            "InvalidParameterValue",
            None,
            "no such resource",
        ),
        (
            "/wmts/1.0.0/Capabilities.xml".into(),
            404,
            "InvalidParameterValue",
            None,
            "no such resource",
        ),
        (
            "/wmts/1.0.0/NOPE/default/default/WebMercatorQuad/0/0/0.png".into(),
            400,
            "InvalidParameterValue",
            Some("layer"),
            "\"NOPE\" is not known",
        ),
        (
            "/wmts/1.0.0/SAR/fancy/default/WebMercatorQuad/0/0/0.png".into(),
            400,
            "InvalidParameterValue",
            Some("style"),
            "fancy",
        ),
        (
            "/wmts/1.0.0/SAR/default/never/WebMercatorQuad/0/0/0.png".into(),
            400,
            "InvalidParameterValue",
            Some("time"),
            "never",
        ),
        (
            "/wmts/1.0.0/SAR/default/default/Mars/0/0/0.png".into(),
            400,
            "InvalidParameterValue",
            Some("tileMatrixSet"),
            "\"Mars\"",
        ),
        (
            "/wmts/1.0.0/SAR/default/default/WebMercatorQuad/25/0/0.png".into(),
            400,
            "InvalidParameterValue",
            Some("tileMatrix"),
            "0 to 18",
        ),
        (
            "/wmts/1.0.0/SAR/default/default/WebMercatorQuad/0/1/0.png".into(),
            400,
            "TileOutOfRange",
            Some("tileRow"),
            "rows run 0 to 0",
        ),
        (
            "/wmts/1.0.0/SAR/default/default/WebMercatorQuad/0/0/-1.png".into(),
            400,
            "TileOutOfRange",
            Some("tileCol"),
            "tileCol -1",
        ),
        (
            "/wmts/1.0.0/SAR/default/default/WebMercatorQuad/0/0/x.png".into(),
            400,
            "InvalidParameterValue",
            Some("tileCol"),
            "not a whole number",
        ),
        (
            "/wmts/1.0.0/SAR/default/default/WebMercatorQuad/0/0/0.gif".into(),
            400,
            "InvalidParameterValue",
            Some("format"),
            "\"gif\"",
        ),
        (
            "/wmts/1.0.0/SAR/default/default/WebMercatorQuad/0/0/0".into(),
            400,
            "InvalidParameterValue",
            Some("format"),
            "no extension",
        ),
        (
            "/wmts/1.0.0/SAR/default/%3Cx%3E/WebMercatorQuad/0/0/0.png".into(),
            400,
            "InvalidParameterValue",
            Some("time"),
            "&lt;x&gt;",
        ),
        (
            "/wmts/1.0.0/SAR/default/2018%01/WebMercatorQuad/0/0/0.png".into(),
            400,
            "InvalidParameterValue",
            Some("time"),
            "2018\\u{1}",
        ),
        (
            "/wmts/1.0.0/SAR/default/%ff/WebMercatorQuad/0/0/0.png".into(),
            400,
            "InvalidParameterValue",
            Some("path"),
            "percent-encoded UTF-8",
        ),
        (
            "/wmts/1.0.0/SAR%2F..%2F..%2Fx/default/default/WebMercatorQuad/0/0/0.png".into(),
            400,
            "InvalidParameterValue",
            Some("layer"),
            "cannot name tiles",
        ),
        (
            format!(
                "/wmts/1.0.0/SAR/default/{}/WebMercatorQuad/0/0/0.png",
                "2".repeat(9000)
            ),
            400,
            "InvalidParameterValue",
            None,
            "at most 8192",
        ),
    ];
    for (path, status, code, locator, words) in &cases {
        let answer = stack.get(path).await;
        check(path, &answer, *status, code, *locator, words);
    }
    // Paths sent as written, `..` segments not resolved by the client.
    for (target, status) in [
        ("/wmts/1.0.0/../../../etc/passwd", 404),
        ("/wmts/1.0.0/SAR/default/default/../../../passwd.png", 400),
        ("/wmts/1.0.0/SAR/../default/WebMercatorQuad/0/0/0.png", 400),
        (
            "/wmts/1.0.0/%2e%2e/%2e%2e/default/WebMercatorQuad/0/0/0.png",
            400,
        ),
        (
            "/wmts/1.0.0/%2e%2e/default/default/WebMercatorQuad/0/0/0.png",
            400,
        ),
        ("/tiles/../../etc/passwd", 404),
        ("/tiles/SAR/../0/0/0.png", 400),
        ("/tiles/%2e%2e/0/0/0.png", 404),
    ] {
        let (got, body) = stack.raw_get(target).await;
        assert_eq!(got, status, "{target}: {body}");
        assert!(body.contains("ExceptionReport"), "{target}: {body}");
    }
    // Only the well-formed tile was stored.
    assert_eq!(stack.stored("SAR").await.len(), 1);
}
