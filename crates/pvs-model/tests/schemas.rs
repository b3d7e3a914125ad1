//! The schemas in `schemas/` agree with the code: fixture reports validate against the browse
//! report XSD, written responses against the ingestion response XSD (checked with `xmllint`
//! from libxml2-utils, which must be installed), queue items against their JSON Schema.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use pvs_model::{
    BrowseItem, BrowseReport, BrowseResult, ExceptionCode, IngestionResponse, Outcome,
    ingest_exception_xml,
};
use serde_json::Value;

fn repo_path(relative: &str) -> PathBuf {
    // Canonical, so that xmllint resolves the schemas' relative imports from the real folder.
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
        .join(relative)
}

/// Validates `xml` against `schema` with xmllint; `Err` carries xmllint's complaint.
fn xmllint(schema: &str, xml: &[u8]) -> Result<(), String> {
    let mut child = Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(repo_path(schema))
        .arg("-")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("xmllint must be installed (Debian package libxml2-utils)");
    child.stdin.take().unwrap().write_all(xml).unwrap();
    let output = child.wait_with_output().unwrap();
    if output.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&output.stderr).into_owned())
    }
}

fn fixture_files() -> Vec<PathBuf> {
    let mut files = Vec::new();
    for folder in ["reference_test_data", "regular_grid_clipping", "test_data"] {
        for entry in std::fs::read_dir(repo_path("fixtures/ngeo").join(folder)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|ext| ext == "xml") {
                files.push(path);
            }
        }
    }
    files.sort();
    assert_eq!(files.len(), 26);
    files
}

#[test]
fn fixture_reports_validate_against_the_browse_report_xsd() {
    for path in fixture_files() {
        let xml = std::fs::read(&path).unwrap();
        let result = xmllint("schemas/browse-report.xsd", &xml);
        if path.ends_with("browseReport_ASA_WS__0P_20100719_101023_group_partial.xml") {
            // Its second browse has the identifier "7_FAILURE", which pvs refuses too.
            let complaint = result.unwrap_err();
            assert!(complaint.contains("'7_FAILURE'"), "{complaint}");
        } else {
            result.unwrap_or_else(|complaint| panic!("{}: {complaint}", path.display()));
        }
    }
}

#[test]
fn the_browse_report_xsd_refuses_what_the_parser_refuses() {
    let valid = std::fs::read_to_string(repo_path(
        "fixtures/ngeo/reference_test_data/browseReport_ASA_IM__0P_20100722_213840.xml",
    ))
    .unwrap();
    let variants = [
        valid.replace("49.68 -0.03", "NaN -0.03"),
        valid.replace("Jpeg<", "jpeg<"),
        valid.replace("EPSG:4326", "WGS84"),
        valid.replace("version=\"1.1\"", "version=\"2.0\""),
        valid.replace("<rep:responsibleOrgName>ESA</rep:responsibleOrgName>", ""),
        valid
            .replace(
                "<rep:footprint nodeNumber",
                "<rep:verticalCurtainFootprint nodeNumber",
            )
            .replace("</rep:footprint>", "</rep:verticalCurtainFootprint>"),
    ];
    for xml in variants {
        assert!(
            xmllint("schemas/browse-report.xsd", xml.as_bytes()).is_err(),
            "{xml}"
        );
        let parsed = BrowseReport::parse(xml.as_bytes());
        assert!(
            parsed.is_err() || parsed.unwrap().browses[0].is_err(),
            "{xml}"
        );
    }
}

fn parse_fixture(relative: &str) -> BrowseReport {
    let bytes = std::fs::read(repo_path("fixtures/ngeo").join(relative)).unwrap();
    BrowseReport::parse(&bytes).unwrap()
}

#[test]
fn ingestion_responses_validate_against_their_xsd() {
    let report = parse_fixture(
        "reference_test_data/browseReport_ASA_WS__0P_20100719_101023_group_partial.xml",
    );
    let results: Vec<BrowseResult> = report
        .browses
        .iter()
        .enumerate()
        .map(|(index, browse)| match browse {
            Ok(browse) => BrowseResult {
                identifier: browse.identifier.as_ref().map(ToString::to_string),
                outcome: if index == 0 {
                    Outcome::Inserted
                } else {
                    Outcome::Replaced
                },
            },
            Err(error) => BrowseResult::from(error),
        })
        .collect();
    let response = IngestionResponse { results };
    let xml = response.to_xml();
    xmllint("schemas/ingestion-response.xsd", xml.as_bytes()).unwrap();
    assert!(xml.contains("<bsi:status>partial</bsi:status>"));
    assert!(xml.contains("<bsi:toBeReplaced>3</bsi:toBeReplaced>"));
    assert!(xml.contains("<bsi:actuallyInserted>1</bsi:actuallyInserted>"));
    assert!(xml.contains("<bsi:actuallyReplaced>1</bsi:actuallyReplaced>"));
    assert!(xml.contains("<bsi:identifier>7_FAILURE</bsi:identifier>"));
    assert!(xml.contains("<bsi:exceptionCode>ValidationError</bsi:exceptionCode>"));
    assert!(xml.contains(
        "<bsi:exceptionMessage>browse[1] (id &quot;7_FAILURE&quot;): rep:browseIdentifier: "
    ));

    let failures = IngestionResponse {
        results: vec![BrowseResult {
            identifier: None,
            outcome: Outcome::Failed {
                code: ExceptionCode::IngestionException,
                message: format!("<&>\u{1} {}", "x".repeat(3000)),
            },
        }],
    };
    let xml = failures.to_xml();
    xmllint("schemas/ingestion-response.xsd", xml.as_bytes()).unwrap();
    assert!(xml.contains("<bsi:status>failure</bsi:status>"));
    assert!(xml.contains("<bsi:identifier>None</bsi:identifier>"));

    let empty = IngestionResponse::default().to_xml();
    xmllint("schemas/ingestion-response.xsd", empty.as_bytes()).unwrap();
    assert!(empty.contains("<bsi:status>success</bsi:status>"));

    let error = BrowseReport::parse(b"<report/>").unwrap_err();
    let exception = ingest_exception_xml(error.exception_code(), &error.to_string());
    xmllint("schemas/ingestion-response.xsd", exception.as_bytes()).unwrap();
    assert!(exception.contains("<bsi:exceptionCode>InvalidRequest</bsi:exceptionCode>"));
    assert!(exception.contains("root element {}report is not rep:browseReport"));

    // The XSD does catch a broken response.
    let broken = empty.replace(">success<", ">done<");
    assert!(xmllint("schemas/ingestion-response.xsd", broken.as_bytes()).is_err());
}

fn item_validator() -> jsonschema::Validator {
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(repo_path("schemas/browse-item.schema.json")).unwrap(),
    )
    .unwrap();
    jsonschema::draft202012::options()
        .should_validate_formats(true)
        .build(&schema)
        .unwrap()
}

#[test]
fn queue_items_validate_against_their_json_schema_and_read_back() {
    let validator = item_validator();
    let mut kinds = std::collections::BTreeSet::new();
    for path in fixture_files() {
        let report = BrowseReport::parse(&std::fs::read(&path).unwrap()).unwrap();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        for browse in report.valid_browses() {
            let item = BrowseItem::new(&report, browse, &name);
            let json = item.to_json();
            let value: Value = serde_json::from_str(&json).unwrap();
            if let Err(error) = validator.validate(&value) {
                panic!("{name}: {error} in {json}");
            }
            kinds.insert(value["geolocation"]["type"].as_str().unwrap().to_owned());
            assert_eq!(BrowseItem::from_json(&json).unwrap(), item, "{name}");
        }
    }
    let kinds: Vec<&str> = kinds.iter().map(String::as_str).collect();
    assert_eq!(
        kinds,
        ["footprint", "model_in_geotiff", "rectified", "regular_grid"]
    );
}

#[test]
fn queue_item_fields() {
    let report =
        parse_fixture("reference_test_data/browseReport_ATS_TOA_1P_20100722_101606_noid.xml");
    let browse = report.valid_browses().next().unwrap();
    let item = BrowseItem::new(&report, browse, "noid.xml");
    let value: Value = serde_json::from_str(&item.to_json()).unwrap();
    assert_eq!(
        value["id"],
        "20100722101606000000_20100722101722000000_ATS_TOA_1P_20100722_101606.jpg"
    );
    assert_eq!(value["browse_identifier"], Value::Null);
    assert_eq!(value["collection"], "OPTICAL");
    assert_eq!(value["file"], "ATS_TOA_1P_20100722_101606.jpg");
    assert_eq!(value["start"], "2010-07-22T10:16:06Z");
    assert_eq!(value["report"]["name"], "noid.xml");
    assert_eq!(value["report"]["date_time"], "2012-10-02T09:30:00Z");
    assert_eq!(value["footprint"]["type"], "MultiPolygon");
    // GeoJSON is lon/lat, the geolocation keeps the report's lat lon.
    let ring = value["footprint"]["coordinates"][0][0].as_array().unwrap();
    assert_eq!(ring.len(), 5);
    assert!(
        ring.iter()
            .any(|position| position == &serde_json::json!([3.45, 52.94]))
    );
    assert_eq!(
        value["geolocation"]["coords"][0],
        serde_json::json!([52.94, 3.45])
    );

    let s2 = parse_fixture("test_data/S2.xml");
    let item = BrowseItem::new(&s2, s2.valid_browses().next().unwrap(), "S2.xml");
    assert_eq!(item.footprint, None, "UTM: the preprocessor reprojects");
    assert_eq!(item.id, "GS2A_20150620T022848_001418_N01.01");

    // The schema catches a broken item, and reading it back checks values too.
    let validator = item_validator();
    let mut broken: Value = serde_json::from_str(&item.to_json()).unwrap();
    broken["reference_system"] = "WGS84".into();
    assert!(!validator.is_valid(&broken));
    assert!(BrowseItem::from_json(&broken.to_string()).is_err());
    broken["reference_system"] = "EPSG:32650".into();
    broken["file"] = "../x.jp2".into();
    assert!(BrowseItem::from_json(&broken.to_string()).is_err());
    broken.as_object_mut().unwrap().remove("file");
    assert!(!validator.is_valid(&broken));
}

fn json_validator(schema: &str) -> jsonschema::Validator {
    let schema: Value =
        serde_json::from_str(&std::fs::read_to_string(repo_path(schema)).unwrap()).unwrap();
    jsonschema::draft202012::options()
        .should_validate_formats(true)
        .build(&schema)
        .unwrap()
}

#[test]
fn product_metadata_validates_against_its_json_schema_and_reads_back() {
    let report = parse_fixture("test_data/BrowseReport_crosses_dateline2.xml");
    let browse = report.valid_browses().next().unwrap();
    let item = BrowseItem::new(&report, browse, "dateline.xml");
    let metadata = pvs_model::ProductMetadata {
        id: item.id.clone(),
        collection: item.collection.clone(),
        footprint: item.footprint.clone().unwrap(),
        start: item.start,
        end: item.end,
        cog: pvs_model::CogInfo {
            key: format!("SAR/{0}/{0}.tif", item.id),
            size_bytes: 12345,
            width: 512,
            height: 256,
            bands: 4,
            alpha: true,
            crs: "EPSG:4326".to_owned(),
            bbox: [159.4, 78.2, 202.8, 83.5],
            resolution: [0.08, 0.02],
        },
        source: pvs_model::SourceInfo {
            file: item.file.as_str().to_owned(),
            browse_identifier: Some(item.id.clone()),
            report: item.report.clone(),
            merged_with: None,
        },
        processed_at: "2026-11-23T04:00:00Z".parse().unwrap(),
        properties: serde_json::Map::new(),
        masks: Default::default(),
    };
    let json = metadata.to_json();
    let validator = json_validator("schemas/product-metadata.schema.json");
    let value: Value = serde_json::from_str(&json).unwrap();
    if let Err(error) = validator.validate(&value) {
        panic!("{error} in {json}");
    }
    assert_eq!(
        pvs_model::ProductMetadata::from_json(&json).unwrap(),
        metadata
    );
    // No properties (every product but those of STAC Items): no member, as documents were
    // before it existed. With some: kept as they are.
    assert!(value.get("properties").is_none(), "{json}");
    let mut with_properties = metadata.clone();
    with_properties.properties = serde_json::json!({"eo:cloud_cover": 12.5, "platform": "s2b"})
        .as_object()
        .unwrap()
        .clone();
    let json = with_properties.to_json();
    let with_value: Value = serde_json::from_str(&json).unwrap();
    assert!(validator.is_valid(&with_value), "{json}");
    assert_eq!(
        pvs_model::ProductMetadata::from_json(&json).unwrap(),
        with_properties
    );
    // Masks: absent without, kept with, and a mask that is no multi-polygon is refused.
    assert!(value.get("masks").is_none(), "{json}");
    let mut with_masks = metadata.clone();
    with_masks
        .masks
        .insert("clouds".to_owned(), metadata.footprint.clone());
    let json = with_masks.to_json();
    let masks_value: Value = serde_json::from_str(&json).unwrap();
    assert!(validator.is_valid(&masks_value), "{json}");
    assert_eq!(
        pvs_model::ProductMetadata::from_json(&json).unwrap(),
        with_masks
    );
    let mut bad_mask = masks_value.clone();
    bad_mask["masks"]["clouds"] = serde_json::json!({"type": "Point", "coordinates": [0, 0]});
    assert!(!validator.is_valid(&bad_mask));
    assert!(pvs_model::ProductMetadata::from_json(&bad_mask.to_string()).is_err());
    let mut broken = value.clone();
    broken["cog"]["crs"] = "WGS84".into();
    assert!(!validator.is_valid(&broken));
    broken.as_object_mut().unwrap().remove("cog");
    assert!(!validator.is_valid(&broken));
    assert!(pvs_model::ProductMetadata::from_json(&broken.to_string()).is_err());
}

#[test]
fn the_collections_schema_agrees_with_the_parser() {
    let validator = json_validator("schemas/collections.schema.json");
    let good = r#"
[collections.SAR]
browse_types = ["SAR", "ASA_WS"]
compression = "JPEG"
seed_zoom = [0, 8]
[collections.SAR.render]
bands = [1]
rescale = [0.0, 255.0]
colormap = "viridis"
[collections.OPTICAL]
band_names = ["B02", "B03", "B04", "B08"]
default_browse = "TRUE_COLOR"
[collections.OPTICAL.browses.TRUE_COLOR]
red = "B04"
green = "B03"
blue = "B02"
ranges = [[0, 3000], [0, 3000], [0, 3000]]
nodata = 0
[collections.OPTICAL.browses.NDVI]
grey = "(B08 - B04) / (B08 + B04)"
ranges = [[-1, 1]]
colormap = "rdylgn"
"#;
    let config = pvs_model::Collections::from_toml(good).unwrap();
    let as_json = serde_json::to_value(&config).unwrap();
    if let Err(error) = validator.validate(&as_json) {
        panic!("{error} in {as_json}");
    }
    for bad in [
        "[collections.A.render]\nbands = [1, 2]",
        "[collections.A]\ncompression = \"BZIP\"",
        "[collections.A.render]\ncolormap = \"rainbow\"",
        "[collections.A]\nseed_zoom = [0, 30]",
        "[collections.A.browses.X]\nred = \"b1\"",
        "[collections.A.browses.outlined]\ngrey = \"b1\"",
        "[collections.A.browses.X]\nred = \"b1\"\ngreen = \"b1\"\nblue = \"b1\"\ncolormap = \"grey\"",
        "[collections.A]\nband_names = [\"1B\"]",
    ] {
        assert!(pvs_model::Collections::from_toml(bad).is_err(), "{bad}");
        let value: toml::Value = toml::from_str(bad).unwrap();
        let value = serde_json::to_value(value).unwrap();
        assert!(!validator.is_valid(&value), "the schema accepts {bad}");
    }
}

#[test]
fn registration_reports_validate_against_their_xsd() {
    use pvs_model::{RegistrationOutcome, RegistrationReport, ReportInfo};
    let report = ReportInfo {
        name: "report <1> & \"2\".xml".to_owned(),
        responsible_org_name: "ESA".to_owned(),
        date_time: "2012-10-02T09:30:00Z".parse().unwrap(),
        browse_type: "SAR".to_owned(),
    };
    let mixed = RegistrationReport {
        report: report.clone(),
        products: vec![
            (
                "b_id_1".to_owned(),
                RegistrationOutcome::Success {
                    collection: "SAR".to_owned(),
                    replaced: false,
                },
            ),
            (
                "b_id_2".to_owned(),
                RegistrationOutcome::Failure {
                    reason: "footprint: Self-intersection[0.5 0.5] \u{1} <bad>".to_owned(),
                },
            ),
            (
                "b_id_3".to_owned(),
                RegistrationOutcome::Skipped {
                    reason: "a newer report registered it".to_owned(),
                },
            ),
            (
                "b_id_4".to_owned(),
                RegistrationOutcome::Merged {
                    collection: "SAR".to_owned(),
                    with: ReportInfo {
                        name: "earlier <&>.xml".to_owned(),
                        ..report.clone()
                    },
                },
            ),
            (
                "b_id_5".to_owned(),
                RegistrationOutcome::Success {
                    collection: "SAR".to_owned(),
                    replaced: true,
                },
            ),
        ],
        completed_at: "2026-11-23T04:00:00.5Z".parse().unwrap(),
    };
    assert_eq!(mixed.status(), "partial");
    let xml = mixed.to_xml();
    xmllint("schemas/registration-report.xsd", xml.as_bytes())
        .unwrap_or_else(|e| panic!("{e}\n{xml}"));
    assert!(
        xml.contains("registered=\"3\" failed=\"1\" skipped=\"1\" merged=\"1\" replaced=\"1\""),
        "{xml}"
    );
    assert!(
        xml.contains(
            "<reg:status>merged</reg:status>\n    <reg:collection>SAR</reg:collection>\n    \
             <reg:mergedWith name=\"earlier &lt;&amp;&gt;.xml\" dateTime=\"2012-10-02T09:30:00Z\"/>"
        ),
        "{xml}"
    );
    assert!(
        xml.contains("<reg:status>skipped</reg:status>\n    <reg:reason>a newer report registered it</reg:reason>"),
        "{xml}"
    );
    assert!(
        xml.contains(
            "<reg:identifier>b_id_5</reg:identifier>\n    <reg:status>success</reg:status>\n    \
             <reg:collection>SAR</reg:collection>\n    <reg:replaced>true</reg:replaced>"
        ),
        "{xml}"
    );
    assert_eq!(
        xml.matches("<reg:replaced>").count(),
        1,
        "an insertion says nothing: {xml}"
    );
    // Skipped products are no failure.
    let skipped = RegistrationReport {
        products: vec![mixed.products[2].clone()],
        ..mixed.clone()
    };
    assert_eq!(skipped.status(), "success");
    assert!(xml.contains("&lt;bad&gt;"), "{xml}");
    let empty = RegistrationReport {
        report,
        products: Vec::new(),
        completed_at: "2026-11-23T04:00:00Z".parse().unwrap(),
    };
    assert_eq!(empty.status(), "success");
    xmllint("schemas/registration-report.xsd", empty.to_xml().as_bytes()).unwrap();
    // The schema does catch a broken report.
    let broken = xml.replace(
        "<reg:status>partial</reg:status>",
        "<reg:status>done</reg:status>",
    );
    assert!(xmllint("schemas/registration-report.xsd", broken.as_bytes()).is_err());
}
