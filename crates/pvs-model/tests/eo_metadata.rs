//! EO O&M 2.0/2.1 and GSC documents (the hand-written fixtures in `tests/fixtures/eo/`):
//! what they say, and refusals that name what is missing or wrong and where.

use std::path::Path;
use std::time::Instant;

use chrono::{DateTime, Utc};
use geo::{Area, BoundingRect, Validation};
use proptest::prelude::*;
use pvs_model::{
    EoFormat, EoMetadata, EoMetadataError, MAX_EO_METADATA_BYTES, XmlError, parse_eo_metadata,
};
use serde_json::json;

fn fixture(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/eo")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn parse(xml: &str) -> EoMetadata {
    parse_eo_metadata(xml.as_bytes()).unwrap_or_else(|e| panic!("{e}"))
}

fn error(xml: &str) -> EoMetadataError {
    parse_eo_metadata(xml.as_bytes()).expect_err("the document must be refused")
}

/// `fixture` with `from` replaced by `to` (which must be there once).
fn changed(name: &str, from: &str, to: &str) -> String {
    let xml = fixture(name);
    assert_eq!(xml.matches(from).count(), 1, "{from:?} in {name}");
    xml.replace(from, to)
}

fn utc(value: &str) -> DateTime<Utc> {
    value.parse().unwrap()
}

/// The bounding box of a footprint: west, south, east, north.
fn bbox(metadata: &EoMetadata) -> [f64; 4] {
    let r = metadata.footprint.bounding_rect().unwrap();
    [r.min().x, r.min().y, r.max().x, r.max().y]
}

#[test]
fn eo_om_2_0_optical() {
    let metadata = parse(&fixture("opt_om20.xml"));
    assert_eq!(metadata.format, EoFormat::EoOm20);
    assert_eq!(metadata.id, "S2A_MSIL1C_20230101T103021_N0509_R108_T32TQM");
    assert_eq!(metadata.start, utc("2023-01-01T10:30:21.024Z"));
    assert_eq!(metadata.end, utc("2023-01-01T10:30:51Z"));
    // posList "49 10 49 12 50 12 ..." is lat lon: longitudes 10 to 12, latitudes 49 to 50.
    assert_eq!(bbox(&metadata), [10.0, 49.0, 12.0, 50.0]);
    assert_eq!(metadata.footprint.0.len(), 1);
    assert!(metadata.footprint.is_valid());
    assert_eq!(
        serde_json::Value::Object(metadata.properties.clone()),
        json!({
            "platform": "sentinel-2a",
            "constellation": "sentinel-2",
            "eop:platformSerialIdentifier": "A",
            "instruments": ["MSI"],
            "sar:instrument_mode": "INS-NOBS",
            "eop:sensorType": "OPTICAL",
            "sat:absolute_orbit": 39231,
            "sat:orbit_state": "descending",
            "sat:relative_orbit": 108,
            "eop:frame": "T32TQM",
            "view:sun_azimuth": 162.5,
            "view:sun_elevation": 21.25,
            "eo:cloud_cover": 12.5,
            "eo:snow_cover": 0.0,
            "eop:acquisitionType": "NOMINAL",
            "product:type": "S2MSI1C",
            "created": "2023-01-01T12:00:00Z",
            "published": "2023-01-01T14:00:00Z",
        })
    );
    assert_eq!(metadata.product_type(), Some("S2MSI1C"));
    assert_eq!(metadata.data_files, ["S2A_MSIL1C_20230101T103021.tif"]);
    assert_eq!(metadata.browse_files, ["S2A_QL.tif"]);
}

#[test]
fn eo_om_2_1_sar_with_two_polygons() {
    let metadata = parse(&fixture("sar_om21.xml"));
    assert_eq!(metadata.format, EoFormat::EoOm21);
    assert_eq!(
        metadata.id,
        "S1A_IW_GRDH_1SDV_20240305T044710_20240305T044735_052841"
    );
    // The begin is written with an offset of +01:00.
    assert_eq!(metadata.start, utc("2024-03-05T04:47:10Z"));
    assert_eq!(metadata.end, utc("2024-03-05T04:47:35Z"));
    let polygons = &metadata.footprint.0;
    assert_eq!(polygons.len(), 2);
    let boxes: Vec<[f64; 4]> = polygons
        .iter()
        .map(|p| {
            let r = p.bounding_rect().unwrap();
            [r.min().x, r.min().y, r.max().x, r.max().y]
        })
        .collect();
    assert_eq!(
        boxes,
        [[170.0, 10.0, 175.0, 12.0], [-10.0, 20.0, -8.0, 21.0]]
    );
    let p = &metadata.properties;
    assert_eq!(p["platform"], "sentinel-1a");
    assert_eq!(p["instruments"], json!(["SAR-C SAR"]));
    assert_eq!(p["sar:instrument_mode"], "IW");
    assert_eq!(p["sar:polarizations"], json!(["VV", "VH"]));
    assert_eq!(p["eop:polarisationMode"], "D");
    assert_eq!(p["sat:absolute_orbit"], 52841);
    assert_eq!(p["sat:orbit_state"], "ascending");
    assert_eq!(p["sat:relative_orbit"], 117);
    assert_eq!(p["view:incidence_angle"], 33.9);
    assert_eq!(p["eop:platformSerialIdentifier"], "A");
    // The SAR acquisition's range of incidence angles.
    assert_eq!(p["eop:minimumIncidenceAngle"], 30.25);
    assert_eq!(p["eop:maximumIncidenceAngle"], 45.5);
    assert_eq!(p["eop:incidenceAngleVariation"], 15.25);
    assert_eq!(p["processing:level"], "L1");
    assert_eq!(p["product:type"], "GRD");
    // No processing date: the creation date.
    assert_eq!(p["created"], "2024-03-05T06:00:00Z");
    assert!(!p.contains_key("eo:cloud_cover") && !p.contains_key("published"));
    assert_eq!(metadata.data_files, ["s1a-iw-grd-vv.tiff"]);
    assert!(metadata.browse_files.is_empty());
}

#[test]
fn gsc_with_a_hole_in_the_footprint() {
    let metadata = parse(&fixture("gsc_opt.xml"));
    assert_eq!(metadata.format, EoFormat::Gsc);
    assert_eq!(
        metadata.id,
        "PL00_DOV_MS_L3A_20180811T081455_20180811T081456_TOU_1234_3be7"
    );
    assert_eq!(metadata.start, utc("2018-08-11T08:14:55Z"));
    assert_eq!(metadata.end, utc("2018-08-11T08:14:56Z"));
    assert_eq!(bbox(&metadata), [20.0, 40.0, 24.0, 44.0]);
    // A 4° × 4° square less a 2° × 2° hole.
    assert!((metadata.footprint.unsigned_area() - 12.0).abs() < 1e-9);
    assert_eq!(metadata.footprint.0[0].interiors().len(), 1);
    let p = &metadata.properties;
    assert_eq!(p["platform"], "planetscope-1054");
    assert_eq!(p["constellation"], "planetscope");
    assert_eq!(p["instruments"], json!(["PS2"]));
    assert_eq!(p["product:type"], "DOV_MS_L3A");
    assert_eq!(p["processing:level"], "L3A");
    assert_eq!(p["sat:orbit_state"], "descending");
    // -30° is 330°; the elevation is 90° less the zenith angle of 40°.
    assert_eq!(p["view:sun_azimuth"], 330.0);
    assert_eq!(p["view:sun_elevation"], 50.0);
    assert_eq!(p["eo:cloud_cover"], 3.0);
    // A processing date without a zone is UTC.
    assert_eq!(p["created"], "2018-08-11T12:00:00Z");
    assert_eq!(metadata.data_files, ["PL00_DOV_MS_L3A_3be7.tif"]);
    assert_eq!(metadata.browse_files, ["ql.jpg"]);
}

#[test]
fn the_raster_is_the_one_the_document_describes() {
    // Names the product S2A_MSIL1C_20230101T103021.tif and the quick-look S2A_QL.tif.
    let metadata = parse(&fixture("opt_om20.xml"));
    let product = "pkg/S2A_MSIL1C_20230101T103021.TIF";
    // Named as the product: taken, even when smaller.
    assert_eq!(
        metadata.pick_raster(&[("big.tif", 900), (product, 10), ("S2A_QL.tif", 1000)]),
        Ok(1)
    );
    // Not named: the largest that is not a browse it names.
    assert_eq!(
        metadata.pick_raster(&[("a.tif", 10), ("b.jp2", 30), ("S2A_QL.tif", 1000)]),
        Ok(1)
    );
    assert_eq!(metadata.pick_raster(&[("a.tif", 10), ("b.tif", 10)]), Ok(0));
    // A browse it names is never the product.
    let error = metadata.pick_raster(&[("x/S2A_QL.tif", 1000)]).unwrap_err();
    assert!(error.contains("x/S2A_QL.tif"), "{error}");
    assert!(metadata.pick_raster(&[]).is_err());
    // Named as both: a browse.
    let both = EoMetadata {
        browse_files: vec!["S2A_MSIL1C_20230101T103021.tif".to_owned()],
        ..metadata.clone()
    };
    assert_eq!(
        both.pick_raster(&[(product, 1000), ("other.tif", 1)]),
        Ok(1)
    );
}

#[test]
fn a_time_instant_is_both_start_and_end() {
    let xml = changed(
        "sar_om21.xml",
        r#"<gml:TimePeriod gml:id="tp_1">
      <gml:beginPosition>2024-03-05T05:47:10+01:00</gml:beginPosition>
      <gml:endPosition>2024-03-05T04:47:35Z</gml:endPosition>
    </gml:TimePeriod>"#,
        r#"<gml:TimeInstant gml:id="ti"><gml:timePosition>2024-03-05T04:47:20Z</gml:timePosition></gml:TimeInstant>"#,
    );
    let metadata = parse(&xml);
    assert_eq!(metadata.start, utc("2024-03-05T04:47:20Z"));
    assert_eq!(metadata.end, metadata.start);
}

#[test]
fn missing_parts_are_named_with_their_path() {
    let gsc_target = {
        let xml = fixture("gsc_opt.xml");
        let start = xml.find("<gml:target>").unwrap();
        let end = xml.find("</gml:target>").unwrap() + "</gml:target>".len();
        format!("{}{}", &xml[..start], &xml[end..])
    };
    let om_time = {
        let xml = fixture("opt_om20.xml");
        let start = xml.find("<om:phenomenonTime>").unwrap();
        let end = xml.find("</om:phenomenonTime>").unwrap() + "</om:phenomenonTime>".len();
        format!("{}{}", &xml[..start], &xml[end..])
    };
    for (xml, expected) in [
        (
            gsc_target,
            "GSC document without a footprint \
             (gsc:report/gsc:opt_metadata/gml:target/eop:Footprint)",
        ),
        (
            om_time,
            "EO O&M 2.0 document without an acquisition time \
             (opt:EarthObservation/om:phenomenonTime/gml:TimePeriod)",
        ),
        (
            changed(
                "sar_om21.xml",
                "<gml:endPosition>2024-03-05T04:47:35Z</gml:endPosition>",
                "",
            ),
            "EO O&M 2.1 document without an end time \
             (sar:EarthObservation/om:phenomenonTime/gml:TimePeriod/gml:endPosition)",
        ),
        (
            changed(
                "opt_om20.xml",
                "<eop:identifier>S2A_MSIL1C_20230101T103021_N0509_R108_T32TQM</eop:identifier>",
                "<eop:identifier>  </eop:identifier>",
            ),
            "EO O&M 2.0 document without an identifier \
             (opt:EarthObservation/eop:metaDataProperty/eop:EarthObservationMetaData/eop:identifier)",
        ),
        (
            changed(
                "gsc_opt.xml",
                "<gml:exterior><gml:LinearRing>\n                  <gml:posList>40 20 40 24 44 24 44 20 40 20</gml:posList>\n                </gml:LinearRing></gml:exterior>",
                "",
            ),
            "GSC document without an exterior ring \
             (gsc:report/gsc:opt_metadata/gml:target/eop:Footprint/gml:multiExtentOf/\
             gml:MultiSurface/gml:Polygon[1]/gml:exterior/gml:LinearRing/gml:posList)",
        ),
        (
            // Start and end tag.
            fixture("gsc_opt.xml").replace("gsc:opt_metadata", "gsc:other"),
            "GSC document without an EarthObservation \
             (gsc:report/gsc:opt_metadata (or gsc:sar_metadata))",
        ),
    ] {
        let error = error(&xml);
        assert!(
            matches!(error, EoMetadataError::Missing { .. }),
            "{error:?}"
        );
        assert_eq!(error.to_string(), expected);
    }
}

#[test]
fn bad_values_are_refused_with_their_path_and_reason() {
    let cases: [(String, &str, &str); 13] = [
        (
            changed("opt_om20.xml", ">12.5<", ">a lot<"),
            "om:result/eop:EarthObservationResult/eop:cloudCoverPercentage",
            "\"a lot\" is not a number",
        ),
        (
            changed("opt_om20.xml", ">12.5<", ">120<"),
            "eop:cloudCoverPercentage",
            "\"120\" is outside [0, 100]",
        ),
        (
            changed("opt_om20.xml", ">39231<", ">-4<"),
            "eop:acquisitionParameters/eop:Acquisition/eop:orbitNumber",
            "\"-4\" is not a whole number",
        ),
        (
            changed("opt_om20.xml", ">DESCENDING<", ">SIDEWAYS<"),
            "eop:orbitDirection",
            "is neither ASCENDING nor DESCENDING",
        ),
        (
            changed("opt_om20.xml", ">21.25<", ">NaN<"),
            "eop:illuminationElevationAngle",
            "\"NaN\" is not a number",
        ),
        (
            changed("opt_om20.xml", "49 10 49 12 50 12", "49 10 49 twelve 50 12"),
            "gml:MultiSurface/gml:Polygon[1]",
            "gml:exterior: gml:posList value 4 \"twelve\" is not a finite number",
        ),
        (
            changed("opt_om20.xml", "49 10 49 12 50 12", "49 10 49 12 50"),
            "gml:Polygon[1]",
            "gml:posList has 9 values, not a whole number of latitude longitude pairs",
        ),
        (
            // Latitude 100 after the swap.
            changed("opt_om20.xml", "49 10 49 12 50 12", "49 10 100 12 50 12"),
            "gml:Polygon[1]",
            "gml:exterior: position 1: latitude 100.0 outside [-90, 90]",
        ),
        (
            changed(
                "gsc_opt.xml",
                "41 21 43 21 43 23 41 23 41 21",
                "41 21 43 21 43 23 41 23",
            ),
            "gml:Polygon[1]",
            "gml:interior[1]: ring is not closed",
        ),
        (
            changed(
                "opt_om20.xml",
                r#"srsName="EPSG:4326""#,
                r#"srsName="EPSG:3857""#,
            ),
            "eop:multiExtentOf/gml:MultiSurface",
            "only EPSG:4326 footprints",
        ),
        (
            changed(
                "opt_om20.xml",
                "<gml:endPosition>2023-01-01T10:30:51Z</gml:endPosition>",
                "<gml:endPosition>2023-01-01T10:30:00Z</gml:endPosition>",
            ),
            "gml:endPosition",
            "the end 2023-01-01T10:30:00Z is before the begin 2023-01-01T10:30:21.024Z",
        ),
        (
            changed(
                "opt_om20.xml",
                "<gml:beginPosition>2023-01-01T10:30:21.024Z</gml:beginPosition>",
                "<gml:beginPosition>yesterday</gml:beginPosition>",
            ),
            "om:phenomenonTime/gml:TimePeriod/gml:beginPosition",
            "\"yesterday\" is not an xs:dateTime",
        ),
        (
            changed(
                "opt_om20.xml",
                "S2A_MSIL1C_20230101T103021_N0509_R108_T32TQM</eop:identifier>",
                "../etc/passwd</eop:identifier>",
            ),
            "eop:identifier",
            "may only contain letters, digits",
        ),
    ];
    for (xml, path, reason) in cases {
        let error = error(&xml);
        let EoMetadataError::Invalid {
            path: found_path,
            reason: found_reason,
            ..
        } = &error
        else {
            panic!("{path}: expected an invalid value, got {error:?}");
        };
        assert!(found_path.ends_with(path), "{found_path} / {path}");
        assert!(found_reason.contains(reason), "{found_reason} / {reason}");
    }
}

#[test]
fn overlapping_polygons_are_refused() {
    let xml = changed(
        "sar_om21.xml",
        "20 -10 20 -8 21 -8 21 -10 20 -10",
        "10 172 10 177 12 177 12 172 10 172",
    );
    let error = error(&xml).to_string();
    assert!(
        error.contains("gml:MultiSurface: its polygons do not form a valid footprint"),
        "{error}"
    );
}

#[test]
fn other_documents_are_not_eo_metadata() {
    assert!(matches!(
        error("this is not XML"),
        EoMetadataError::Xml(XmlError::Syntax { .. })
    ));
    assert!(matches!(
        error("<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><a/>"),
        EoMetadataError::Xml(XmlError::Encoding(_))
    ));
    assert!(matches!(
        error("<!DOCTYPE a [<!ENTITY x \"y\">]><a>&x;</a>"),
        EoMetadataError::Xml(XmlError::Doctype { .. })
    ));
    let browse_report = r#"<rep:browseReport xmlns:rep="http://ngeo.eo.esa.int/ngEO/browseReport/1.0" version="1.3"/>"#;
    let error = error(browse_report);
    assert_eq!(
        error,
        EoMetadataError::NotEoMetadata {
            found: "{http://ngeo.eo.esa.int/ngEO/browseReport/1.0}browseReport".to_owned()
        }
    );
    // An EarthObservation of another version (EOP 1.0) is not read either.
    let old = r#"<eop:EarthObservation xmlns:eop="http://www.opengis.net/eop/1.0"/>"#;
    assert!(matches!(
        parse_eo_metadata(old.as_bytes()),
        Err(EoMetadataError::NotEoMetadata { .. })
    ));
}

#[test]
fn huge_and_deep_input_is_refused_quickly() {
    let started = Instant::now();
    let too_large = vec![b' '; MAX_EO_METADATA_BYTES + 1];
    assert_eq!(
        parse_eo_metadata(&too_large),
        Err(EoMetadataError::TooLarge(MAX_EO_METADATA_BYTES + 1))
    );
    let deep = "<a>".repeat(10_000) + &"</a>".repeat(10_000);
    assert!(matches!(
        error(&deep),
        EoMetadataError::Xml(XmlError::TooDeep { .. })
    ));
    // A footprint of a million positions (14 MB) stops at the limit, without a polygon built.
    let positions = "10 10 ".repeat(1_000_000);
    let xml = changed("opt_om20.xml", "49 10 49 12 50 12 50 10 49 10", &positions);
    let error = error(&xml).to_string();
    assert!(error.contains("more than 10000 positions"), "{error}");
    assert!(started.elapsed().as_secs() < 10, "{:?}", started.elapsed());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Arbitrary bytes give a result or an error, never a panic.
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = parse_eo_metadata(&bytes);
    }

    /// Fixtures with a byte changed or cut short give a result or an error, never a panic.
    #[test]
    fn damaged_fixtures_never_panic(
        which in 0usize..3,
        at in any::<prop::sample::Index>(),
        byte in any::<u8>(),
        cut in any::<bool>(),
    ) {
        let name = ["opt_om20.xml", "sar_om21.xml", "gsc_opt.xml"][which];
        let mut bytes = fixture(name).into_bytes();
        let index = at.index(bytes.len());
        if cut {
            bytes.truncate(index);
        } else {
            bytes[index] = byte;
        }
        let _ = parse_eo_metadata(&bytes);
    }

    /// Any numbers in the posList give a footprint or an error naming the polygon.
    #[test]
    fn arbitrary_positions_never_panic(values in proptest::collection::vec(-1000.0f64..1000.0, 0..24)) {
        let list = values.iter().map(|v| v.to_string()).collect::<Vec<_>>().join(" ");
        let xml = fixture("opt_om20.xml").replace("49 10 49 12 50 12 50 10 49 10", &list);
        match parse_eo_metadata(xml.as_bytes()) {
            Ok(metadata) => prop_assert!(metadata.footprint.is_valid()),
            Err(error) => prop_assert!(error.to_string().contains("gml:Polygon[1]"), "{}", error),
        }
    }
}
