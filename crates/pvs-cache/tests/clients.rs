//! Real WMTS clients against the cache: OWSLib (Python, `scripts/setup.sh`) reads the
//! capabilities and fetches a tile with TIME by KVP and by the REST template; GDAL's WMTS
//! driver opens a layer and reads it.

mod support;

use std::process::Command;

use pvs_cache::source::tile_query;
use pvs_test_support::images::Pixels;
use pvs_tiles::time::interval_value;
use pvs_tiles::{TileFormat, TileKey, TileMatrixSet, TileTime};
use support::{Stack, tile_at};

/// Runs a command on a blocking thread; panics with its stderr if it fails.
async fn run(program: &'static str, args: Vec<String>) -> String {
    let output = tokio::task::spawn_blocking(move || {
        Command::new(program)
            .args(&args)
            // GDAL's WMS/WMTS driver would keep tiles in ./gdalwmscache and answer a rerun
            // from there instead of asking the cache.
            .env("GDAL_ENABLE_WMS_CACHE", "NO")
            .output()
            .unwrap_or_else(|e| panic!("{program}: {e}"))
    })
    .await
    .unwrap();
    assert!(
        output.status.success(),
        "{program} failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owslib_reads_the_capabilities_and_fetches_tiles_with_time() {
    let stack = Stack::start().await;
    let dir = tempfile::tempdir().unwrap();
    let tms = TileMatrixSet::WorldCRS84Quad;
    let tile = tile_at(tms, stack.centre.0, stack.centre.1, 7);
    let time = interval_value(stack.begin, stack.end);
    let (kvp_out, rest_out) = (dir.path().join("kvp.png"), dir.path().join("rest.png"));
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/owslib_wmts.py");
    let stdout = run(
        "python3",
        vec![
            script.to_owned(),
            format!("{}/wmts", stack.base),
            "SAR".to_owned(),
            time.clone(),
            tms.id().to_owned(),
            tile.z.to_string(),
            tile.y.to_string(),
            tile.x.to_string(),
            kvp_out.display().to_string(),
            rest_out.display().to_string(),
        ],
    )
    .await;
    let result: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(result["version"], "1.0.0");
    assert_eq!(
        result["layers"],
        serde_json::json!([
            "EMPTY",
            "EMPTY__outlined",
            "EMPTY__outlines",
            "SAR",
            "SAR__outlined",
            "SAR__outlines"
        ])
    );
    assert_eq!(
        result["formats"],
        serde_json::json!(["image/png", "image/jpeg"])
    );
    assert_eq!(result["styles"], serde_json::json!(["default"]));
    assert_eq!(
        result["matrix_sets"],
        serde_json::json!([
            "GoogleMapsCompatible",
            "WGS84",
            "WebMercatorQuad",
            "WorldCRS84Quad"
        ])
    );
    assert_eq!(
        result["matrices"],
        serde_json::json!({
            "GoogleMapsCompatible": 19,
            "WGS84": 19,
            "WebMercatorQuad": 19,
            "WorldCRS84Quad": 19
        })
    );
    assert_eq!(result["time"]["values"], serde_json::json!([time]));
    assert_eq!(result["time"]["default"], time);
    let bbox = result["bbox"].as_array().unwrap();
    let (lon, lat) = stack.centre;
    assert!(
        bbox[0].as_f64().unwrap() < lon && lon < bbox[2].as_f64().unwrap(),
        "{result}"
    );
    assert!(
        bbox[1].as_f64().unwrap() < lat && lat < bbox[3].as_f64().unwrap(),
        "{result}"
    );

    // Both tiles are the renderer's map of the tile at the product's time, showing it.
    let key = TileKey::new(
        "SAR",
        TileTime::parse(&time).unwrap(),
        tms,
        tile,
        TileFormat::Png,
    )
    .unwrap();
    let expected = Pixels::decode(&stack.renderer_get(&tile_query(&key)).await.body);
    let kvp = Pixels::open(&kvp_out);
    let rest = Pixels::open(&rest_out);
    assert!(
        kvp.bands == expected.bands,
        "KVP tile differs from the renderer's map"
    );
    assert!(
        rest.bands == expected.bands,
        "REST tile differs from the renderer's map"
    );
    assert!(kvp.opaque() > 1000, "{} opaque pixels", kvp.opaque());
    assert_eq!(stack.renders(), 1, "the second request was a hit");
}

/// GDAL's WMTS driver on layer SAR in matrix set `tms` (as named in the capabilities): the
/// whole layer at 256 pixels wide, from the matrix that fits.
async fn gdal_reads(stack: &Stack, dir: &std::path::Path, tms: &str) -> Pixels {
    let source = format!(
        "WMTS:{}/wmts/1.0.0/WMTSCapabilities.xml,layer=SAR,tilematrixset={tms}",
        stack.base
    );
    let info = run("gdalinfo", vec![source.clone()]).await;
    assert!(
        info.contains("Driver: WMTS/OGC Web Map Tile Service"),
        "{info}"
    );
    assert!(info.contains("Band 4"), "RGBA: {info}");
    let out = dir.join(format!("{tms}.png"));
    run(
        "gdal_translate",
        vec![
            "-q".into(),
            "-of".into(),
            "PNG".into(),
            "-outsize".into(),
            "256".into(),
            "0".into(),
            source,
            out.display().to_string(),
        ],
    )
    .await;
    Pixels::open(&out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gdal_opens_a_layer_and_reads_its_pixels() {
    let stack = Stack::start().await;
    let dir = tempfile::tempdir().unwrap();
    for tms in TileMatrixSet::ALL {
        let pixels = gdal_reads(&stack, dir.path(), tms.id()).await;
        assert_eq!(pixels.bands.len(), 4);
        let alpha = pixels.bands.last().unwrap();
        let at = |x: usize, y: usize| alpha[y * pixels.width + x];
        // The box's centre is inside the (tilted) footprint; its north-west corner is not.
        assert_eq!(
            at(pixels.width / 2, pixels.height / 2),
            255,
            "{tms}: centre"
        );
        assert_eq!(at(3, 3), 0, "{tms}: north-west corner");
        assert!(pixels.opaque() > pixels.width * pixels.height / 4, "{tms}");
    }
    assert!(stack.renders() > 0);
    let stored = stack.stored("SAR").await;
    assert!(!stored.is_empty());

    // MapCache's grid names, picked from the capabilities: the same pixels, from the tiles
    // already stored.
    let renders = stack.renders();
    for tms in TileMatrixSet::ALL {
        let grid = tms.mapcache_grid();
        let pixels = gdal_reads(&stack, dir.path(), grid).await;
        let canonical = Pixels::open(&dir.path().join(format!("{tms}.png")));
        assert!(pixels.bands == canonical.bands, "{grid} differs from {tms}");
    }
    assert_eq!(stack.renders(), renders, "nothing drawn again");
    assert_eq!(stack.stored("SAR").await, stored, "nothing stored again");
}
