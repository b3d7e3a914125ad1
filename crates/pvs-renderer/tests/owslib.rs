//! OWSLib (the Python OGC client QGIS plugins and scripts use) reads the WMS 1.1.1 and 1.3.0
//! capabilities, fetches a map and asks what is at its centre. Needs `python3` with OWSLib (`scripts/setup.sh`).

mod support;

use support::Server;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owslib_reads_the_capabilities_and_fetches_a_map() {
    let server = Server::start().await;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/owslib_client.py");
    let (lon, lat) = server.centre;
    for version in ["1.1.1", "1.3.0"] {
        let args = [
            script.to_owned(),
            format!("{}/ows", server.base),
            version.to_owned(),
            lon.to_string(),
            lat.to_string(),
        ];
        let output = support::run("python3", args.to_vec()).await;
        assert!(
            output.status.success(),
            "OWSLib {version} failed (is OWSLib installed? scripts/setup.sh):\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let result: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(result["version"], version, "{result}");
        assert_eq!(
            result["layers"],
            // Per collection: its layer, its outlines and outlined layers, its products.
            serde_json::json!([
                "EMPTY",
                "EMPTY__outlined",
                "EMPTY__outlines",
                "SAR",
                "SAR__outlined",
                "SAR__outlines",
                "b_id_1"
            ]),
            "{result}"
        );
        assert_eq!(result["map_is_png"], true, "{result}");
        assert_eq!(
            result["feature_ids"],
            serde_json::json!(["b_id_1"]),
            "{result}"
        );
        // An empty 64 × 64 PNG is about 100 bytes; one showing the product is several KB.
        assert!(result["map_bytes"].as_u64().unwrap() > 2000, "{result}");
        let bbox = result["bbox_wgs84"].as_array().unwrap();
        let west = bbox[0].as_f64().unwrap();
        let east = bbox[2].as_f64().unwrap();
        assert!(west < lon && lon < east, "{result}");
        assert_eq!(
            result["timepositions"],
            serde_json::json!(["2010-07-22T21:38:40Z/2010-07-22T21:39:38Z/PT1S"]),
            "{result}"
        );
    }
}
