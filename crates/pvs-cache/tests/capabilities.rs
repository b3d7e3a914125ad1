//! The WMTS capabilities: valid against the OGC WMTS 1.0 schema (xmllint, schemas fetched by
//! `scripts/setup.sh`), with both tile matrix sets, the layers of the catalog and their
//! products' times.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use pvs_cache::Settings;
use pvs_tiles::time::interval_value;
use support::{Draw, Stack, Tiles};

/// The OGC schemas `scripts/setup.sh` fetches.
fn schemas() -> PathBuf {
    let dir = std::env::var_os("PVS_OGC_SCHEMAS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cache/pvs/ogc-schemas")
        });
    assert!(
        dir.join("wmts/1.0/wmtsGetCapabilities_response.xsd")
            .is_file(),
        "the OGC schemas are not in {} (run scripts/setup.sh)",
        dir.display()
    );
    dir
}

/// Validates `file` against `schema` (relative to the schemas folder): xmllint's verdict.
fn validate(schema: &str, file: &Path) -> Result<(), String> {
    let output = Command::new("xmllint")
        .args(["--noout", "--nonet", "--schema"])
        .arg(schemas().join(schema))
        .arg(file)
        .output()
        .expect("xmllint (libxml2-utils, scripts/setup.sh)");
    if output.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&output.stderr).into_owned())
    }
}

const WMTS_XSD: &str = "wmts/1.0/wmtsGetCapabilities_response.xsd";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn capabilities_are_schema_valid_with_layers_times_and_matrix_sets() {
    let settings = Settings {
        max_zoom: 12,
        ..Settings::default()
    };
    let stack = Stack::start_with(Tiles::Local, Draw::InProcess, settings).await;
    let dir = tempfile::tempdir().unwrap();
    let kvp = stack
        .get("/wmts?service=wmts&request=GetCapabilities")
        .await;
    assert_eq!(kvp.status, 200, "{}", kvp.text());
    assert_eq!(kvp.header("content-type"), "application/xml");
    let rest = stack.get("/wmts/1.0.0/WMTSCapabilities.xml").await;
    assert_eq!(rest.body, kvp.body, "one document");
    let on_ows = stack.get("/ows?SERVICE=WMTS&REQUEST=GetCapabilities").await;
    assert_eq!(on_ows.body, kvp.body);
    let xml = kvp.text();
    let file = dir.path().join("capabilities.xml");
    std::fs::write(&file, &xml).unwrap();
    validate(WMTS_XSD, &file).unwrap_or_else(|e| panic!("not valid:\n{e}\n{xml}"));

    let document = read_layers(&xml);
    let layers: Vec<&str> = document
        .layers
        .iter()
        .map(|l| l.identifier.as_str())
        .collect();
    assert_eq!(
        layers,
        [
            "EMPTY",
            "EMPTY__outlines",
            "EMPTY__outlined",
            "SAR",
            "SAR__outlines",
            "SAR__outlined"
        ]
    );
    let interval = interval_value(stack.begin, stack.end);
    for layer in &document.layers {
        // The identifiers first (a client not finding its set falls back to the first), then
        // MapCache's grid names, which its clients select from the capabilities.
        assert_eq!(
            layer.matrix_sets,
            [
                "WebMercatorQuad",
                "WorldCRS84Quad",
                "GoogleMapsCompatible",
                "WGS84"
            ]
        );
        assert_eq!(layer.formats, ["image/png", "image/jpeg"]);
        assert_eq!(layer.templates.len(), 2);
        let expected_png = format!(
            "{}/wmts/1.0.0/{}/{{Style}}/{{Time}}/{{TileMatrixSet}}/{{TileMatrix}}/{{TileRow}}/{{TileCol}}.png",
            stack.base, layer.identifier
        );
        assert_eq!(layer.templates[0], expected_png);
        if layer.identifier.starts_with("SAR") {
            assert_eq!(layer.time_values, std::slice::from_ref(&interval));
            assert_eq!(layer.time_default, interval, "the collection's whole time");
        } else {
            assert_eq!(layer.time_values, ["default"]);
        }
    }
    assert!(xml.contains(&format!("<ows:Get xlink:href=\"{}/wmts?\">", stack.base)));
    // The `<TileMatrixSet>` definition named `identifier`.
    let definition = |identifier: &str| {
        let start = xml
            .find(&format!(
                "<TileMatrixSet>\n      <ows:Identifier>{identifier}</ows:Identifier>\n"
            ))
            .unwrap_or_else(|| panic!("matrix set {identifier}"));
        let end = start + xml[start..].find("</TileMatrixSet>").unwrap();
        &xml[start..end]
    };
    // Both matrix sets, matrices 0 to 12, top-left corners in x, y order.
    for (tms, corner, width_at_12) in [
        (
            "WebMercatorQuad",
            "-20037508.342789244 20037508.342789244",
            4096,
        ),
        ("WorldCRS84Quad", "-180 90", 8192),
    ] {
        let set = definition(tms);
        assert_eq!(set.matches("<TileMatrix>").count(), 13, "{tms}");
        assert!(
            set.contains(&format!("<TopLeftCorner>{corner}</TopLeftCorner>")),
            "{tms}"
        );
        assert!(
            set.contains(&format!("<MatrixWidth>{width_at_12}</MatrixWidth>")),
            "{tms}"
        );
    }
    // MapCache's grid names: the same definitions under another identifier.
    for (grid, tms) in [
        ("WGS84", "WorldCRS84Quad"),
        ("GoogleMapsCompatible", "WebMercatorQuad"),
    ] {
        assert_eq!(definition(grid).replacen(grid, tms, 1), definition(tms));
    }
    assert_eq!(xml.matches("<TileMatrixSet>\n").count(), 4);
    assert!(xml.contains("<ScaleDenominator>559082264.0287178</ScaleDenominator>"));
    assert!(xml.contains(
        "<WellKnownScaleSet>urn:ogc:def:wkss:OGC:1.0:GoogleMapsCompatible</WellKnownScaleSet>"
    ));

    // A Host header that is not a host name is not written into the document.
    let hostile = stack
        .get_with("/wmts?REQUEST=GetCapabilities", &[("host", "evil\"><x")])
        .await;
    assert_eq!(hostile.status, 200);
    assert!(hostile.text().contains("http://localhost/wmts?"));
    assert!(!hostile.text().contains("evil"));

    // The check can fail: a document without Contents' required parts is refused.
    let broken = dir.path().join("broken.xml");
    std::fs::write(
        &broken,
        xml.replace("<ows:Identifier>default</ows:Identifier>", ""),
    )
    .unwrap();
    assert!(validate(WMTS_XSD, &broken).is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exception_reports_are_schema_valid() {
    let stack = Stack::start().await;
    let dir = tempfile::tempdir().unwrap();
    for (i, path) in [
        "/wmts?SERVICE=WMTS&REQUEST=GetTile",
        "/wmts?SERVICE=WMTS&REQUEST=GetTile&LAYER=SAR&FORMAT=image/png&TILEMATRIXSET=WebMercatorQuad&TILEMATRIX=0&TILEROW=1&TILECOL=0",
        "/wmts/1.0.0/SAR/default/%3Cx%3E/WebMercatorQuad/0/0/0.png",
    ]
    .iter()
    .enumerate()
    {
        let answer = stack.get(path).await;
        assert_eq!(answer.status, 400);
        let file = dir.path().join(format!("error-{i}.xml"));
        std::fs::write(&file, &answer.body).unwrap();
        validate("ows/1.1.0/owsExceptionReport.xsd", &file)
            .unwrap_or_else(|e| panic!("{path}: {e}\n{}", answer.text()));
    }
}

/// Browse and mask types as tilesets: advertised (valid against the schema), and their tiles,
/// fetched through the advertised templates, drawn as the browse type says, by the renderer
/// in the cache's process and by a renderer service alike.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browse_and_mask_tilesets_are_advertised_and_drawn() {
    let collections = pvs_model::Collections::from_toml(
        "[collections.SAR.browses.INVERTED]\ngrey = \"255 - b1\"\n[collections.SAR.masks.clouds]\n",
    )
    .unwrap();
    for draw in [Draw::InProcess, Draw::Http] {
        let stack =
            Stack::start_configured(Tiles::Local, draw, Settings::default(), &collections).await;
        let dir = tempfile::tempdir().unwrap();
        let xml = stack.get("/wmts/1.0.0/WMTSCapabilities.xml").await.text();
        let file = dir.path().join("capabilities.xml");
        std::fs::write(&file, &xml).unwrap();
        validate(WMTS_XSD, &file).unwrap_or_else(|e| panic!("not valid:\n{e}\n{xml}"));
        let document = read_layers(&xml);
        let layers: Vec<&str> = document
            .layers
            .iter()
            .map(|l| l.identifier.as_str())
            .collect();
        for expected in ["SAR__INVERTED", "SAR__clouds", "SAR__masked_clouds"] {
            assert!(layers.contains(&expected), "{expected} in {layers:?}");
        }
        // The same tile of the collection and of its browse type, through the templates.
        let tile = support::tile_at(
            pvs_tiles::TileMatrixSet::WebMercatorQuad,
            stack.centre.0,
            stack.centre.1,
            6,
        );
        let fetch = async |layer: &str| {
            let template = &document
                .layers
                .iter()
                .find(|l| l.identifier == layer)
                .unwrap()
                .templates[0];
            let url = template
                .replace("{Style}", "default")
                .replace("{Time}", "default")
                .replace("{TileMatrixSet}", "WebMercatorQuad")
                .replace("{TileMatrix}", "6")
                .replace("{TileRow}", &tile.y.to_string())
                .replace("{TileCol}", &tile.x.to_string());
            let path = url.strip_prefix(&stack.base).unwrap().to_owned();
            let answer = stack.get(&path).await;
            assert_eq!(answer.status, 200, "{path}: {}", answer.text());
            pvs_test_support::images::Pixels::decode(&answer.body).rgba()
        };
        let plain = fetch("SAR").await;
        let inverted = fetch("SAR__INVERTED").await;
        let mut compared = 0;
        for (plain, inverted) in plain.iter().zip(&inverted) {
            if plain[3] == 255 && inverted[3] == 255 {
                let sum = i32::from(plain[0]) + i32::from(inverted[0]);
                assert!((sum - 255).abs() <= 1, "{plain:?} and {inverted:?}");
                compared += 1;
            }
        }
        assert!(compared > 100, "{compared} opaque pixels compared");
    }
}

/// What the tests read of a layer.
struct Layer {
    identifier: String,
    formats: Vec<String>,
    matrix_sets: Vec<String>,
    templates: Vec<String>,
    time_default: String,
    time_values: Vec<String>,
}

struct Document {
    layers: Vec<Layer>,
}

/// Reads the layers of a capabilities document with quick-xml's reader.
fn read_layers(xml: &str) -> Document {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut layers = Vec::new();
    let mut path: Vec<String> = Vec::new();
    let mut current: Option<Layer> = None;
    loop {
        match reader.read_event().unwrap() {
            Event::Start(e) => {
                let name = e.name().into_inner().to_owned();
                if name == "Layer" {
                    current = Some(Layer {
                        identifier: String::new(),
                        formats: Vec::new(),
                        matrix_sets: Vec::new(),
                        templates: Vec::new(),
                        time_default: String::new(),
                        time_values: Vec::new(),
                    });
                }
                path.push(name);
            }
            Event::Empty(e) => {
                if e.name().into_inner() == "ResourceURL"
                    && let Some(layer) = current.as_mut()
                {
                    let template = e
                        .attributes()
                        .map(|a| a.unwrap())
                        .find(|a| a.key.into_inner() == "template")
                        .unwrap();
                    layer.templates.push(
                        template
                            .normalized_value(quick_xml::XmlVersion::Explicit1_0)
                            .unwrap()
                            .into_owned(),
                    );
                }
            }
            Event::Text(t) => {
                let text = t.xml10_content().into_owned();
                let Some(layer) = current.as_mut() else {
                    continue;
                };
                let tail: Vec<&str> = path.iter().rev().take(2).map(String::as_str).collect();
                match tail.as_slice() {
                    ["ows:Identifier", "Layer"] => layer.identifier = text,
                    ["Format", "Layer"] => layer.formats.push(text),
                    ["TileMatrixSet", "TileMatrixSetLink"] => layer.matrix_sets.push(text),
                    ["Default", "Dimension"] => layer.time_default = text,
                    ["Value", "Dimension"] => layer.time_values.push(text),
                    _ => {}
                }
            }
            Event::End(e) => {
                path.pop();
                if e.name().into_inner() == "Layer" {
                    layers.push(current.take().unwrap());
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    Document { layers }
}
