//! Reports that must be refused, as a whole or per browse, with a reason naming the place.

use std::time::Instant;

use pvs_model::{
    BrowseError, BrowseReport, ExceptionCode, FootprintError, Problem, ReportError, XmlError,
};

const REP: &str = "http://ngeo.eo.esa.int/ngEO/browseReport/1.0";
const SQUARE: &str = r#"<rep:footprint nodeNumber="5">
  <rep:colRowList>0 0 10 0 10 10 0 10 0 0</rep:colRowList>
  <rep:coordList>10 20 10 21 11 21 11 20 10 20</rep:coordList>
</rep:footprint>"#;

fn report(browses: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<rep:browseReport xmlns:rep="{REP}" version="1.3">
  <rep:responsibleOrgName>ESA</rep:responsibleOrgName>
  <rep:dateTime>2012-10-02T09:30:00Z</rep:dateTime>
  <rep:browseType>SAR</rep:browseType>
  {browses}
</rep:browseReport>"#
    )
}

/// A browse with id "b"; `geolocation` replaces the footprint, `fields` the CRS and times.
fn browse_with(crs: &str, geolocation: &str, start: &str, end: &str) -> String {
    format!(
        r#"<rep:browse>
  <rep:browseIdentifier>b</rep:browseIdentifier>
  <rep:fileName>b.jpg</rep:fileName>
  <rep:imageType>Jpeg</rep:imageType>
  <rep:referenceSystemIdentifier>{crs}</rep:referenceSystemIdentifier>
  {geolocation}
  <rep:startTime>{start}</rep:startTime>
  <rep:endTime>{end}</rep:endTime>
</rep:browse>"#
    )
}

fn browse(geolocation: &str) -> String {
    browse_with(
        "EPSG:4326",
        geolocation,
        "2010-07-22T21:38:40Z",
        "2010-07-22T21:39:38Z",
    )
}

fn footprint(node_number: usize, col_row: &str, coords: &str) -> String {
    format!(
        r#"<rep:footprint nodeNumber="{node_number}"><rep:colRowList>{col_row}</rep:colRowList><rep:coordList>{coords}</rep:coordList></rep:footprint>"#
    )
}

fn report_error(xml: &str) -> ReportError {
    BrowseReport::parse(xml.as_bytes()).expect_err("the report must be refused")
}

/// Parses a report with one browse that must be refused; returns its error.
fn browse_error(browse_xml: &str) -> BrowseError {
    let parsed = BrowseReport::parse(report(browse_xml).as_bytes()).expect("report level is fine");
    assert_eq!(parsed.browses.len(), 1);
    parsed.browses[0]
        .clone()
        .expect_err("the browse must be refused")
}

#[test]
fn the_template_itself_is_valid() {
    let parsed = BrowseReport::parse(report(&browse(SQUARE)).as_bytes()).unwrap();
    assert!(parsed.browses[0].is_ok(), "{:?}", parsed.browses[0]);
}

#[test]
fn malformed_xml() {
    let error = report_error(&report(&browse(SQUARE)).replace("</rep:browse>", "</rep:brows>"));
    let ReportError::Xml(XmlError::Syntax { line, .. }) = error else {
        panic!("expected a syntax error, got {error:?}");
    };
    assert_eq!(line, 17, "the line of </rep:brows>");
    assert!(matches!(
        report_error("<rep:browseReport xmlns:rep=\"x\">"),
        ReportError::Xml(XmlError::Syntax { .. })
    ));
    assert!(matches!(
        report_error(""),
        ReportError::Xml(XmlError::Syntax { .. })
    ));
}

#[test]
fn wrong_root_namespace_or_version() {
    let wrong_ns = report("").replace(REP, "http://example.com/browseReport");
    assert_eq!(
        report_error(&wrong_ns),
        ReportError::WrongRoot {
            found: "{http://example.com/browseReport}browseReport".into()
        }
    );
    assert!(
        report_error(&wrong_ns)
            .to_string()
            .contains("is not rep:browseReport")
    );
    let no_ns = "<browseReport><responsibleOrgName>x</responsibleOrgName></browseReport>";
    assert!(matches!(report_error(no_ns), ReportError::WrongRoot { .. }));
    let wrong_name = report("").replace("rep:browseReport", "rep:browseReports");
    assert!(matches!(
        report_error(&wrong_name),
        ReportError::WrongRoot { .. }
    ));
    assert_eq!(
        report_error(&report("").replace("version=\"1.3\"", "version=\"2.0\"")),
        ReportError::UnsupportedVersion("2.0".into())
    );
    // Both namespaces, both roots, and no version attribute are fine.
    let old_ns = report("").replace(REP, "http://ngeo.eo.esa.int/schema/browseReport");
    BrowseReport::parse(old_ns.as_bytes()).unwrap();
    let no_version = report("").replace(" version=\"1.3\"", "");
    BrowseReport::parse(no_version.as_bytes()).unwrap();
    let wrapped = report(&browse(SQUARE))
        .replace(
            "<rep:browseReport xmlns:rep=",
            "<bsi:ingestBrowse xmlns:bsi=\"http://ngeo.eo.esa.int/schema/browse/ingestion\" xmlns:rep=",
        )
        .replace("</rep:browseReport>", "</bsi:ingestBrowse>");
    let parsed = BrowseReport::parse(wrapped.as_bytes()).unwrap();
    assert!(parsed.browses[0].is_ok());
}

#[test]
fn missing_or_repeated_report_elements() {
    let missing = report("").replace("<rep:responsibleOrgName>ESA</rep:responsibleOrgName>", "");
    assert_eq!(
        report_error(&missing).to_string(),
        "rep:responsibleOrgName: required element is missing"
    );
    let repeated = report("<rep:browseType>OPTICAL</rep:browseType>");
    assert_eq!(
        report_error(&repeated).to_string(),
        "rep:browseType: element occurs 2 times, at most once allowed"
    );
    let empty = report("").replace(">SAR<", "> <");
    assert_eq!(
        report_error(&empty).to_string(),
        "rep:browseType: empty value"
    );
    let unexpected = report("<rep:comment>hi</rep:comment>");
    assert_eq!(
        report_error(&unexpected).to_string(),
        "rep:comment: element not allowed here"
    );
    let bad_time = report("").replace("2012-10-02T09:30:00Z", "10/02/2012");
    assert!(matches!(report_error(&bad_time), ReportError::DateTime(_)));
    assert_eq!(
        report_error(&bad_time).exception_code(),
        ExceptionCode::InvalidRequest
    );
}

#[test]
fn non_utf8_input() {
    let mut latin1 = report("").into_bytes();
    let at = latin1.len() - 30;
    latin1.insert(at, 0xe9);
    assert!(matches!(
        BrowseReport::parse(&latin1),
        Err(ReportError::Xml(XmlError::NotUtf8 { .. }))
    ));
    let declared = report("").replace("UTF-8", "ISO-8859-1");
    assert_eq!(
        report_error(&declared),
        ReportError::Xml(XmlError::Encoding("ISO-8859-1".into()))
    );
}

#[test]
fn doctype_and_entities_are_refused() {
    let billion_laughs = r#"<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<rep:browseReport xmlns:rep="http://ngeo.eo.esa.int/ngEO/browseReport/1.0">
  <rep:responsibleOrgName>&lol3;</rep:responsibleOrgName>
</rep:browseReport>"#;
    let started = Instant::now();
    assert_eq!(
        report_error(billion_laughs),
        ReportError::Xml(XmlError::Doctype { line: 2 })
    );
    assert!(started.elapsed().as_millis() < 100);
    let external = r#"<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>"#;
    assert_eq!(
        report_error(external),
        ReportError::Xml(XmlError::Doctype { line: 1 })
    );
    let undeclared = report("").replace(">ESA<", ">&x;<");
    assert_eq!(
        report_error(&undeclared),
        ReportError::Xml(XmlError::UndefinedEntity {
            line: 3,
            name: "x".into()
        })
    );
}

#[test]
fn missing_browse_elements() {
    let error = browse_error(&browse(SQUARE).replace("<rep:fileName>b.jpg</rep:fileName>", ""));
    assert_eq!(
        error.to_string(),
        "browse[0] (id \"b\"): rep:fileName: required element is missing"
    );
    assert_eq!(error.exception_code(), ExceptionCode::InvalidRequest);
    let error = browse_error(&browse(""));
    assert_eq!(error.element, "rep:browse");
    assert_eq!(error.problem, Problem::NoGeolocation);
    let error = browse_error(&browse(&format!(
        "{SQUARE}<rep:modelInGeotiff>true</rep:modelInGeotiff>"
    )));
    assert_eq!(error.problem, Problem::SeveralGeolocations(2));
    let error = browse_error(&browse(SQUARE).replace(
        "<rep:startTime>",
        "<rep:colour>x</rep:colour><rep:startTime>",
    ));
    assert_eq!(
        (error.element.as_str(), &error.problem),
        ("rep:colour", &Problem::Unexpected)
    );
    let error = browse_error(&browse(SQUARE).replace(" nodeNumber=\"5\"", ""));
    assert_eq!(error.problem, Problem::MissingAttribute("nodeNumber"));
}

#[test]
fn odd_node_counts() {
    let error = browse_error(&browse(&footprint(
        4,
        "0 0 10 0 10 10 0 10 0 0",
        "10 20 10 21 11 21 11 20 10 20",
    )));
    assert_eq!(error.element, "rep:footprint/rep:colRowList");
    assert_eq!(
        error.problem,
        Problem::CountMismatch {
            what: "pairs for nodeNumber",
            expected: 4,
            found: 5
        }
    );
    let error = browse_error(&browse(&footprint(
        5,
        "0 0 10 0 10 10 0 10 0 0",
        "10 20 10 21 11 21 11 20 10",
    )));
    assert_eq!(error.element, "rep:footprint/rep:coordList");
    assert_eq!(error.problem, Problem::OddCount(9));
    let error = browse_error(&browse(&footprint(
        5,
        "0 0 10 0 10 10 0 10",
        "10 20 10 21 11 21 11 20 10 20",
    )));
    assert_eq!(error.element, "rep:footprint/rep:colRowList");

    let grid = |col_nodes: u32, row_nodes: u32, lists: &[&str]| {
        let lists: String = lists
            .iter()
            .map(|list| format!("<rep:coordList>{list}</rep:coordList>"))
            .collect();
        format!(
            "<rep:regularGrid><rep:colNodeNumber>{col_nodes}</rep:colNodeNumber>\
             <rep:rowNodeNumber>{row_nodes}</rep:rowNodeNumber><rep:colStep>10</rep:colStep>\
             <rep:rowStep>10</rep:rowStep>{lists}</rep:regularGrid>"
        )
    };
    let ok = browse_error(&browse(&grid(2, 2, &["1 1 2 1", "1 2 2 2"])).replace("Jpeg<", "jpeg<"));
    assert_eq!(
        ok.element, "rep:imageType",
        "only the image type is wrong here"
    );
    let error = browse_error(&browse(&grid(2, 3, &["1 1 2 1", "1 2 2 2"])));
    assert_eq!(error.element, "rep:regularGrid/rep:coordList");
    assert_eq!(
        error.problem,
        Problem::CountMismatch {
            what: "coordinate lists for rowNodeNumber",
            expected: 3,
            found: 2
        }
    );
    let error = browse_error(&browse(&grid(2, 2, &["1 1 2 1", "1 2 2 2 3 2"])));
    assert_eq!(error.element, "rep:regularGrid/rep:coordList[1]");
    assert_eq!(
        error.problem,
        Problem::CountMismatch {
            what: "pairs for colNodeNumber",
            expected: 2,
            found: 3
        }
    );
    let error = browse_error(&browse(&grid(1, 2, &["1 1", "1 2"])));
    assert_eq!(error.element, "rep:regularGrid/rep:colNodeNumber");
}

#[test]
fn coordinates_out_of_range_or_not_numbers() {
    let error = browse_error(&browse(&footprint(
        5,
        "0 0 10 0 10 10 0 10 0 0",
        "10 20 95 21 11 21 11 20 10 20",
    )));
    assert_eq!(
        error.to_string(),
        "browse[0] (id \"b\"): rep:footprint/rep:coordList: pair 1: latitude 95.0 outside [-90, 90]"
    );
    assert_eq!(error.exception_code(), ExceptionCode::ValidationError);
    let error = browse_error(&browse(&footprint(
        5,
        "0 0 10 0 10 10 0 10 0 0",
        "10 20 10 400 11 21 11 20 10 20",
    )));
    assert_eq!(
        error.problem,
        Problem::Longitude {
            pair: 1,
            value: 400.0
        }
    );
    for token in ["NaN", "inf", "-infinity"] {
        let error = browse_error(&browse(&footprint(
            5,
            "0 0 10 0 10 10 0 10 0 0",
            &format!("10 20 10 21 11 {token} 11 20 10 20"),
        )));
        assert_eq!(
            error.problem,
            Problem::NotFinite {
                index: 5,
                token: token.into()
            }
        );
    }
    let error = browse_error(&browse(&footprint(
        5,
        "0 0 10 0 10 x 0 10 0 0",
        "10 20 10 21 11 21 11 20 10 20",
    )));
    assert_eq!(error.element, "rep:footprint/rep:colRowList");
    assert_eq!(
        error.problem,
        Problem::NotANumber {
            index: 5,
            token: "x".into()
        }
    );
    // ncol / nrow stand for the image size.
    let parsed = BrowseReport::parse(
        report(&browse(&footprint(
            5,
            "0 0 ncol 0 ncol nrow 0 nrow 0 0",
            "10 20 10 21 11 21 11 20 10 20",
        )))
        .as_bytes(),
    )
    .unwrap();
    assert!(parsed.browses[0].is_ok());
}

#[test]
fn unusable_rings() {
    let error = browse_error(&browse(&footprint(
        5,
        "0 0 10 0 10 10 0 10 0 0",
        "10 20 10 21 11 21 11 20 10 20.5",
    )));
    assert_eq!(error.element, "rep:footprint/rep:coordList");
    assert_eq!(error.problem, Problem::Footprint(FootprintError::NotClosed));
    assert_eq!(error.exception_code(), ExceptionCode::IngestionException);
    let error = browse_error(&browse(&footprint(
        5,
        "0 0 10 0 10 10 0 10 0 0",
        "10 20 11 21 10 21 11 20 10 20",
    )));
    assert!(matches!(
        error.problem,
        Problem::Footprint(FootprintError::Invalid(_))
    ));
    let error = browse_error(&browse(
        "<rep:rectifiedBrowse><rep:coordList>10 20 11</rep:coordList></rep:rectifiedBrowse>",
    ));
    assert_eq!(error.problem, Problem::OddCount(3));
    let error = browse_error(&browse(
        "<rep:rectifiedBrowse><rep:coordList>10 20 10 21</rep:coordList></rep:rectifiedBrowse>",
    ));
    assert_eq!(error.problem, Problem::Footprint(FootprintError::Empty));
}

#[test]
fn reference_systems() {
    for crs in ["EPSG:999999", "WGS84", "EPSG:", "INVALID"] {
        let error = browse_error(&browse_with(
            crs,
            SQUARE,
            "2010-07-22T21:38:40Z",
            "2010-07-22T21:39:38Z",
        ));
        assert_eq!(error.element, "rep:referenceSystemIdentifier", "{crs}");
        assert_eq!(error.exception_code(), ExceptionCode::ValidationError);
    }
    let error = browse_error(&browse_with(
        "RAW",
        SQUARE,
        "2010-07-22T21:38:40Z",
        "2010-07-22T21:39:38Z",
    ));
    assert_eq!(
        error.problem,
        Problem::Invalid("RAW is only allowed with rep:modelInGeotiff".into())
    );
    let spaced = browse_with(
        "EPSG: 4326",
        SQUARE,
        "2010-07-22T21:38:40Z",
        "2010-07-22T21:39:38Z",
    );
    assert!(
        BrowseReport::parse(report(&spaced).as_bytes())
            .unwrap()
            .browses[0]
            .is_ok()
    );
    let raw_model = browse_with(
        "RAW",
        "<rep:modelInGeotiff>true</rep:modelInGeotiff>",
        "2010-07-22T21:38:40Z",
        "2010-07-22T21:39:38Z",
    );
    assert!(
        BrowseReport::parse(report(&raw_model).as_bytes())
            .unwrap()
            .browses[0]
            .is_ok()
    );
    let model_false = browse("<rep:modelInGeotiff>false</rep:modelInGeotiff>");
    assert_eq!(browse_error(&model_false).element, "rep:modelInGeotiff");
}

#[test]
fn vertical_curtains_are_refused_with_a_reason() {
    let curtain = r#"<rep:verticalCurtainFootprint nodeNumber="2">
        <rep:colRowList>0 0 10 0</rep:colRowList><rep:coordList>10 20 10 21</rep:coordList>
      </rep:verticalCurtainFootprint>"#;
    let error = browse_error(&browse(curtain));
    assert_eq!(error.element, "rep:verticalCurtainFootprint");
    assert_eq!(error.exception_code(), ExceptionCode::NotImplemented);
    assert!(
        error
            .to_string()
            .contains("vertical curtain footprints are not supported")
    );
}

#[test]
fn times() {
    let error = browse_error(&browse_with(
        "EPSG:4326",
        SQUARE,
        "2010-07-22T21:39:39Z",
        "2010-07-22T21:39:38Z",
    ));
    assert_eq!(error.element, "rep:startTime");
    assert!(matches!(error.problem, Problem::StartAfterEnd { .. }));
    // Offsets are honoured: 23:39:39+02:00 is before 21:39:38Z.
    let parsed = BrowseReport::parse(
        report(&browse_with(
            "EPSG:4326",
            SQUARE,
            "2010-07-22T23:39:37+02:00",
            "2010-07-22T21:39:38",
        ))
        .as_bytes(),
    )
    .unwrap();
    assert!(parsed.browses[0].is_ok());
    let error = browse_error(&browse_with(
        "EPSG:4326",
        SQUARE,
        "2010-07-22",
        "2010-07-22T21:39:38Z",
    ));
    assert_eq!(error.element, "rep:startTime");
    assert!(matches!(error.problem, Problem::Time(_)));
}

#[test]
fn identifiers_file_names_and_image_types() {
    let with = |from: &str, to: &str| browse_error(&browse(SQUARE).replace(from, to));
    let error = with(">b<", ">a b<");
    assert_eq!(error.element, "rep:browseIdentifier");
    assert_eq!(error.identifier.as_deref(), Some("a b"));
    for name in [
        "../etc/passwd",
        "/etc/passwd",
        "a//b.jpg",
        "a b.jpg",
        "a\\b.jpg",
    ] {
        let error = with(">b.jpg<", &format!(">{name}<"));
        assert_eq!(error.element, "rep:fileName", "{name}");
    }
    let error = with(">Jpeg<", ">JPEG<");
    assert_eq!(error.element, "rep:imageType");
    // Sub-paths and URLs are fine.
    for name in ["sub/dir/b.jpg", "https://example.com/b.jpg?x=1"] {
        let xml = report(&browse(SQUARE).replace(">b.jpg<", &format!(">{name}<")));
        let parsed = BrowseReport::parse(xml.as_bytes()).unwrap();
        assert_eq!(
            parsed.browses[0].as_ref().unwrap().file_name.as_str(),
            name.replace("&amp;", "&")
        );
    }
}

#[test]
fn bad_browses_do_not_hide_good_ones() {
    let bad = browse(SQUARE).replace("EPSG:4326", "EPSG:1");
    let without_id = browse(SQUARE).replace("<rep:browseIdentifier>b</rep:browseIdentifier>", "");
    let parsed = BrowseReport::parse(
        report(&format!(
            "{}{bad}{}",
            browse(SQUARE),
            without_id.replace("21:39:38Z", "21:00:00Z")
        ))
        .as_bytes(),
    )
    .unwrap();
    assert_eq!(parsed.browses.len(), 3);
    assert!(parsed.browses[0].is_ok());
    let second = parsed.browses[1].as_ref().unwrap_err();
    assert_eq!((second.index, second.identifier.as_deref()), (1, Some("b")));
    let third = parsed.browses[2].as_ref().unwrap_err();
    assert_eq!((third.index, third.identifier.as_deref()), (2, None));
    assert!(
        third
            .to_string()
            .starts_with("browse[2]: rep:startTime: startTime")
    );
}

#[test]
fn foreign_elements_comments_and_cdata_are_tolerated() {
    let xml = report(&browse(SQUARE))
        .replace(
            "<rep:browseType>",
            "<!-- note --><x:ext xmlns:x=\"urn:x\"><x:deep/></x:ext><rep:browseType>",
        )
        .replace(">SAR<", "><![CDATA[SAR]]><");
    let parsed = BrowseReport::parse(xml.as_bytes()).unwrap();
    assert_eq!(parsed.browse_type, "SAR");
    assert!(parsed.browses[0].is_ok());
}

#[test]
fn huge_coordinate_lists_are_refused_quickly() {
    let pairs = pvs_model::MAX_POSITIONS + 1;
    let coords = "10 20 ".repeat(pairs);
    let col_row = "0 0 ".repeat(pairs);
    let started = Instant::now();
    let error = browse_error(&browse(&footprint(pairs, &col_row, &coords)));
    assert_eq!(error.element, "rep:footprint/rep:colRowList");
    assert_eq!(error.problem, Problem::TooManyPositions { found: pairs });
    let error = browse_error(&browse(
        "<rep:regularGrid><rep:colNodeNumber>100000</rep:colNodeNumber>\
         <rep:rowNodeNumber>100000</rep:rowNodeNumber><rep:colStep>1</rep:colStep>\
         <rep:rowStep>1</rep:rowStep><rep:coordList>1 1 2 2</rep:coordList>\
         <rep:coordList>1 1 2 2</rep:coordList></rep:regularGrid>",
    ));
    assert_eq!(
        error.problem,
        Problem::TooManyPositions {
            found: 10_000_000_000
        }
    );
    assert!(started.elapsed().as_secs() < 5);
}
