//! Every real browse report in `fixtures/ngeo/` parses to the footprint, times and fields
//! read by hand from the file, or fails with the expected reason.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use geo::{Area, BoundingRect, CoordsIter, MultiPolygon, Validation, Winding};
use pvs_model::{
    Browse, BrowseReport, ExceptionCode, Footprint, Geolocation, ImageType, Problem,
    ReferenceSystem,
};

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/ngeo")
}

fn parse(name: &str) -> BrowseReport {
    let path = fixtures_dir().join(name);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    BrowseReport::parse(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn utc(value: &str) -> DateTime<Utc> {
    value.parse().unwrap()
}

fn only_browse(report: &BrowseReport) -> &Browse {
    assert_eq!(report.browses.len(), 1);
    report.browses[0].as_ref().unwrap()
}

fn wgs84(browse: &Browse) -> &MultiPolygon<f64> {
    match &browse.footprint {
        Footprint::Wgs84(multi) => multi,
        other => panic!("expected an EPSG:4326 footprint, got {other:?}"),
    }
}

/// A single-polygon footprint whose ring starts at `first` (lon, lat) with `positions`
/// positions, valid and counter-clockwise.
fn assert_polygon(browse: &Browse, positions: usize, first: (f64, f64)) {
    let multi = wgs84(browse);
    assert!(multi.is_valid());
    assert_eq!(multi.0.len(), 1);
    let ring = multi.0[0].exterior();
    assert!(ring.is_ccw());
    assert_eq!(ring.coords_count(), positions);
    assert!(
        ring.coords().any(|c| (c.x, c.y) == first),
        "{first:?} not in {ring:?}"
    );
}

/// A report with one 5-node footprint: file, id, first `lat lon` pair as written, start, end.
type SimpleCase = (
    &'static str,
    &'static str,
    (f64, f64),
    &'static str,
    &'static str,
);

/// The simple SAR/optical reports.
const SIMPLE: [SimpleCase; 16] = [
    (
        "browseReport_ASA_IM__0P_20100722_213840.xml",
        "b_id_1",
        (52.86, -2.79),
        "2010-07-22T21:38:40Z",
        "2010-07-22T21:39:38Z",
    ),
    (
        "browseReport_ASA_IM__0P_20100731_103315.xml",
        "b_id_2",
        (53.47, -1.97),
        "2010-07-31T10:33:15Z",
        "2010-07-31T10:33:46Z",
    ),
    (
        "browseReport_ASA_IM__0P_20100731_103315_shorten-0.xml",
        "b_id_shorten_0",
        (53.47, -1.97),
        "2010-07-31T10:33:15Z",
        "2010-07-31T10:33:46Z",
    ),
    (
        "browseReport_ASA_IM__0P_20100731_103315_shorten-100.xml",
        "b_id_shorten_100",
        (53.47, -1.97),
        "2010-07-31T10:33:15Z",
        "2010-07-31T10:33:46Z",
    ),
    (
        "browseReport_ASA_IM__0P_20100731_103315_shorten-30.xml",
        "b_id_shorten_30",
        (53.47, -1.97),
        "2010-07-31T10:33:15Z",
        "2010-07-31T10:33:46Z",
    ),
    (
        "browseReport_ASA_IM__0P_20100807_101327.xml",
        "b_id_3",
        (51.8, 2.45),
        "2010-08-07T10:13:37Z",
        "2010-08-07T10:14:06Z",
    ),
    (
        "browseReport_ASA_IM__0P_20100807_101327_equal-start-stop_id-1.xml",
        "b_id_3_1",
        (51.8, 2.45),
        "2010-08-07T10:13:36Z",
        "2010-08-07T10:13:36Z",
    ),
    (
        "browseReport_ASA_IM__0P_20100807_101327_equal-start-stop_id-1_new.xml",
        "b_id_3_1",
        (52.36, 2.65),
        "2010-08-07T10:13:36Z",
        "2010-08-07T10:13:36Z",
    ),
    (
        "browseReport_ASA_IM__0P_20100807_101327_equal-start-stop_id-2.xml",
        "b_id_3_2",
        (52.36, -0.35),
        "2010-08-07T10:13:35Z",
        "2010-08-07T10:13:35Z",
    ),
    (
        "browseReport_ASA_IM__0P_20100807_101327_new.xml",
        "b_id_3",
        (52.36, 2.65),
        "2010-08-07T10:13:27Z",
        "2010-08-07T10:14:06Z",
    ),
    (
        "browseReport_ASA_IM__0P_20100807_101327_new_merge.xml",
        "b_id_3",
        (52.36, 2.65),
        "2010-08-07T10:13:27Z",
        "2010-08-07T10:14:06Z",
    ),
    (
        "browseReport_ASA_IM__0P_20100807_101327_shifted.xml",
        "b_id_3_shifted",
        (62.36, 2.65),
        "2010-08-07T10:13:36Z",
        "2010-08-07T10:13:36Z",
    ),
    (
        "browseReport_ASA_IM__0P_20100813_102453.xml",
        "b_id_5",
        (52.62, -0.12),
        "2010-08-13T10:24:53Z",
        "2010-08-13T10:25:25Z",
    ),
    (
        "browseReport_ATS_TOA_1P_20100719_105257.xml",
        "b_id_9",
        (54.73, -5.15),
        "2010-07-24T10:52:57Z",
        "2010-07-24T10:54:13Z",
    ),
    (
        "browseReport_ATS_TOA_1P_20100719_213253.xml",
        "b_id_10",
        (49.4, 0.3),
        "2010-07-19T21:32:53Z",
        "2010-07-19T21:34:09Z",
    ),
    (
        "browseReport_ATS_TOA_1P_20100722_101606.xml",
        "b_id_11",
        (52.94, 3.45),
        "2010-07-22T10:16:06Z",
        "2010-07-22T10:17:22Z",
    ),
];

#[test]
fn simple_footprint_reports() {
    for (file, id, (lat, lon), start, end) in SIMPLE {
        let report = parse(&format!("reference_test_data/{file}"));
        assert_eq!(report.responsible_org_name, "ESA", "{file}");
        let expected_type = match file {
            f if f.contains("ATS_TOA") => "OPTICAL",
            f if f.contains("shorten-100") => "INTERVAL_100",
            f if f.contains("shorten-30") => "INTERVAL_30",
            _ => "SAR",
        };
        assert_eq!(report.browse_type, expected_type, "{file}");
        let browse = only_browse(&report);
        assert_eq!(browse.identifier.as_ref().unwrap().as_str(), id, "{file}");
        assert_eq!(browse.image_type, ImageType::Jpeg);
        assert_eq!(browse.reference_system, ReferenceSystem::Epsg(4326));
        assert_eq!((browse.start, browse.end), (utc(start), utc(end)), "{file}");
        let Geolocation::Footprint { col_row, coords } = &browse.geolocation else {
            panic!("{file}: expected a footprint geolocation");
        };
        assert_eq!((col_row.len(), coords.len()), (5, 5));
        assert_eq!(coords[0], (lat, lon), "{file}: raw pairs stay lat lon");
        assert_polygon(browse, 5, (lon, lat));
    }
}

#[test]
fn report_date_times() {
    let date_time = |file: &str| parse(&format!("reference_test_data/{file}")).date_time;
    assert_eq!(
        date_time("browseReport_ASA_IM__0P_20100807_101327_new.xml"),
        utc("2012-11-02T09:30:00Z")
    );
    assert_eq!(
        date_time("browseReport_ASA_IM__0P_20100807_101327_new_merge.xml"),
        utc("2012-10-02T10:30:00Z")
    );
    assert_eq!(
        date_time("browseReport_ATS_TOA_1P_20100719_105257.xml"),
        utc("2012-10-02T09:30:02Z")
    );
}

#[test]
fn exact_footprint_of_one_report() {
    let report = parse("reference_test_data/browseReport_ASA_IM__0P_20100722_213840.xml");
    let ring: Vec<(f64, f64)> = wgs84(only_browse(&report)).0[0]
        .exterior()
        .coords()
        .map(|c| (c.x, c.y))
        .collect();
    // coordList 52.86 -2.79 53.08 -1.22 49.68 -0.03 49.46 -1.49 52.86 -2.79 runs clockwise
    // in lon/lat, so the counter-clockwise footprint visits it backwards.
    assert_eq!(ring.len(), 5);
    assert_eq!(ring[0], ring[4]);
    let start = ring.iter().position(|&p| p == (-2.79, 52.86)).unwrap();
    let mut rotated = ring[..4].to_vec();
    rotated.rotate_left(start);
    assert_eq!(
        rotated,
        [
            (-2.79, 52.86),
            (-1.49, 49.46),
            (-0.03, 49.68),
            (-1.22, 53.08)
        ]
    );
}

#[test]
fn groups_and_partial_groups() {
    let group = parse("reference_test_data/browseReport_ASA_WS__0P_20100719_101023_group.xml");
    let ids: Vec<&str> = group
        .valid_browses()
        .map(|b| b.identifier.as_ref().unwrap().as_str())
        .collect();
    assert_eq!(ids, ["b_id_6", "b_id_7", "b_id_8"]);
    assert_eq!(group.date_time, utc("2012-10-02T10:30:00Z"));
    assert_polygon(group.browses[2].as_ref().unwrap(), 5, (-4.11, 51.22));

    let partial =
        parse("reference_test_data/browseReport_ASA_WS__0P_20100719_101023_group_partial.xml");
    assert_eq!(partial.browses.len(), 3);
    assert!(partial.browses[0].is_ok() && partial.browses[2].is_ok());
    let error = partial.browses[1].as_ref().unwrap_err();
    assert_eq!(error.index, 1);
    assert_eq!(error.identifier.as_deref(), Some("7_FAILURE"));
    assert_eq!(error.element, "rep:browseIdentifier");
    assert!(matches!(error.problem, Problem::Invalid(_)));
    assert_eq!(error.exception_code(), ExceptionCode::ValidationError);
    assert!(
        error
            .to_string()
            .starts_with("browse[1] (id \"7_FAILURE\"): rep:browseIdentifier: identifier \"7_FAILURE\" must start with a letter"),
        "{error}"
    );
}

#[test]
fn browses_without_identifier_and_odd_identifiers() {
    let noid = parse("reference_test_data/browseReport_ATS_TOA_1P_20100722_101606_noid.xml");
    assert_eq!(only_browse(&noid).identifier, None);
    let noid_2 = parse("reference_test_data/browseReport_ATS_TOA_1P_20100722_101606_noid_2.xml");
    let files: Vec<&str> = noid_2
        .valid_browses()
        .map(|b| {
            assert_eq!(b.identifier, None);
            b.file_name.as_str()
        })
        .collect();
    assert_eq!(
        files,
        [
            "ATS_TOA_1P_20100722_101606_2.jpg",
            "ATS_TOA_1P_20100722_101606.jpg"
        ]
    );
    let special =
        parse("reference_test_data/browseReport_ATS_TOA_1P_20100722_101606_specialid.xml");
    assert_eq!(
        only_browse(&special).identifier.as_ref().unwrap().as_str(),
        "#some:#special:id"
    );
}

#[test]
fn regular_grid_in_ingest_browse() {
    let report = parse("regular_grid_clipping/BrowseServerIngest_input_8B99.xml");
    assert_eq!(report.responsible_org_name, "Sentinel 1 PDGS");
    assert_eq!(report.browse_type, "SAR");
    // 13:55:19.202+02:00: the fraction and the offset both count.
    assert_eq!(report.date_time, utc("2015-10-05T11:55:19.202Z"));
    let browse = only_browse(&report);
    assert_eq!(
        browse.identifier.as_ref().unwrap().as_str(),
        "ID_20150709T171336848564"
    );
    assert_eq!(browse.image_type, ImageType::Png);
    assert_eq!(browse.start, utc("2015-07-09T17:13:36.848564Z"));
    assert_eq!(browse.end, utc("2015-07-09T17:14:01.848126Z"));
    let Geolocation::RegularGrid {
        col_node_number,
        row_node_number,
        col_step,
        row_step,
        lines,
    } = &browse.geolocation
    else {
        panic!("expected a regular grid");
    };
    // 21 lists (rowNodeNumber) of 10 pairs (colNodeNumber): list i is pixel column 26·i of
    // the 510 px wide image (20·26 = 520 overshoots it), pair k is row 41·k of 342 rows.
    assert_eq!((*col_node_number, *row_node_number), (10, 21));
    assert_eq!((*col_step, *row_step), (41.0, 26.0));
    assert_eq!(lines.len(), 21);
    assert!(lines.iter().all(|line| line.len() == 10));
    assert_eq!(lines[0][0], (41.1875789846684, 8.980771527498721));
    assert_eq!(lines[20][9], (43.08436027251259, 11.67404473358615));
    let tie_points = browse.geolocation.tie_points(510, 342);
    assert_eq!(tie_points.len(), 210);
    let last = tie_points[209];
    assert_eq!((last.column, last.row), (520.0, 369.0));

    // Outline: 10 + 20 + 9 + 20 positions, the last one closing the ring.
    assert_polygon(browse, 59, (8.980771527498721, 41.1875789846684));
    let multi = wgs84(browse);
    let rect = multi.bounding_rect().unwrap();
    assert_eq!(rect.min().x, 8.587190308104429);
    assert_eq!(rect.max().x, 11.99548761009219);
    assert_eq!(rect.min().y, 41.1875789846684);
    assert_eq!(rect.max().y, 43.08436027251259);
    assert!((multi.unsigned_area() - 4.719747295157077).abs() < 1e-9);
}

#[test]
fn footprint_crossing_the_antimeridian_is_split() {
    let report = parse("test_data/BrowseReport_crosses_dateline2.xml");
    assert_eq!(report.date_time, utc("2015-08-19T11:36:30.648Z"));
    let browse = only_browse(&report);
    assert_eq!(browse.start, utc("2015-07-14T04:22:36.437048Z"));
    assert_eq!(browse.end, utc("2015-07-14T04:23:40.613714Z"));
    let Geolocation::RegularGrid { lines, .. } = &browse.geolocation else {
        panic!("expected a regular grid");
    };
    assert_eq!((lines.len(), lines[0].len()), (21, 23));
    assert_eq!(lines[20][0], (79.8042705430119, -168.6487476339579));

    let multi = wgs84(browse);
    assert!(multi.is_valid());
    assert_eq!(
        multi.0.len(),
        2,
        "one polygon on each side of the antimeridian"
    );
    assert!(multi.coords_iter().all(|c| (-180.0..=180.0).contains(&c.x)));
    assert!(multi.coords_iter().all(|c| (78.0..=83.5).contains(&c.y)));
    let [west, east] = [&multi.0[0], &multi.0[1]].map(|p| p.bounding_rect().unwrap());
    let (west, east) = if west.min().x > 0.0 {
        (west, east)
    } else {
        (east, west)
    };
    // West of the line: from 159.44 (the first list's last pair) to 180; east of it from
    // -180 to 191.35 - 360 = -168.65. The split moves vertices by less than 1e-6°.
    assert!((west.min().x - 159.4410677060507).abs() < 1e-6);
    assert!((west.min().y - 78.28674303397247).abs() < 1e-6);
    assert_eq!(west.max().x, 180.0);
    assert_eq!(east.min().x, -180.0);
    assert!((east.max().x - (-168.6487476339579)).abs() < 1e-6);
    assert!((east.max().y - 83.4563301949331).abs() < 1e-6);
    // Area (in square degrees) of the unwrapped 85-position outline, computed by hand.
    assert!((multi.unsigned_area() - 91.67599504850841).abs() < 1e-4);
}

#[test]
fn half_orbit_across_both_meridians_is_split_once() {
    // ENVISAT MERIS RR: 609 nodes from the South Atlantic over the north pole's side to
    // 178.7° W, so across the prime meridian and the antimeridian (longitudes -16.43 to
    // 181.28 when unwrapped), image 498 × 6639 by its tie points.
    let report = parse(
        "held-in/HugeFootprintCrossesPrimeMeridianAndAntiMeridian2_EN1_MDSI_MER_RR__1P_20110801T090911_20110801T095301_049260_0108_20180821T152507_0100.xml",
    );
    let browse = only_browse(&report);
    let Geolocation::Footprint { col_row, coords } = &browse.geolocation else {
        panic!("expected footprint tie points");
    };
    assert_eq!((col_row.len(), coords.len()), (609, 609));
    let (columns, rows) = col_row
        .iter()
        .fold((0.0f64, 0.0f64), |(c, r), (column, row)| {
            (c.max(column.resolve(0, 0)), r.max(row.resolve(0, 0)))
        });
    assert_eq!((columns, rows), (498.0, 6639.0));
    let multi = wgs84(browse);
    assert!(multi.is_valid());
    assert_eq!(multi.0.len(), 2, "split at the antimeridian only");
    let rect = multi.bounding_rect().unwrap();
    assert_eq!((rect.min().x, rect.max().x), (-180.0, 180.0));
    assert!((rect.min().y - -54.4194).abs() < 1e-6 && (rect.max().y - 86.7531).abs() < 1e-6);
    let west_of_the_antimeridian = multi
        .0
        .iter()
        .map(|p| p.bounding_rect().unwrap())
        .find(|r| r.min().x == -180.0)
        .unwrap();
    assert!((west_of_the_antimeridian.max().x - -178.719).abs() < 1e-6);
}

#[test]
fn rectified_browse_in_wgs84_with_flipped_latitudes() {
    // BrowseReport_FAILURE.xml parses fine: its image does not exist, which only the
    // ingestor's storage check finds. Its corners are "48.5 16.1 48.4636 16.16804":
    // latitude min > max, a vertically mirrored image.
    let report = parse("test_data/BrowseReport_FAILURE.xml");
    assert_eq!(report.responsible_org_name, "EOX");
    let browse = only_browse(&report);
    assert_eq!(browse.identifier.as_ref().unwrap().as_str(), "FAILURE");
    assert_eq!(browse.file_name.as_str(), "does_not_exist.tiff");
    assert_eq!(browse.image_type, ImageType::Tiff);
    assert_eq!(
        browse.geolocation,
        Geolocation::Rectified {
            ll: (48.5, 16.1),
            ur: (48.4636, 16.16804)
        }
    );
    assert_eq!(browse.start, browse.end);
    assert_polygon(browse, 5, (16.1, 48.4636));
    let rect = wgs84(browse).bounding_rect().unwrap();
    assert_eq!((rect.min().x, rect.min().y), (16.1, 48.4636));
    assert_eq!((rect.max().x, rect.max().y), (16.16804, 48.5));
}

#[test]
fn rectified_browse_in_utm_needs_reprojection() {
    let report = parse("test_data/S2.xml");
    // No zone on the report dateTime: UTC.
    assert_eq!(report.date_time, utc("2015-06-20T02:28:48Z"));
    let browse = only_browse(&report);
    assert_eq!(browse.image_type, ImageType::Jpeg2000);
    assert_eq!(browse.reference_system, ReferenceSystem::Epsg(32650));
    assert_eq!(
        browse.footprint,
        Footprint::NeedsReprojection {
            epsg: 32650,
            ring: vec![
                (699960.0, 3990200.0),
                (809760.0, 3990200.0),
                (809760.0, 4100000.0),
                (699960.0, 4100000.0),
                (699960.0, 3990200.0),
            ],
        }
    );
}

#[test]
fn model_in_geotiff_leaves_the_footprint_to_the_raster() {
    let report = parse(
        "test_data/MER_FRS_1PNPDE20060822_092058_000001972050_00308_23408_0077_RGB_reduced.xml",
    );
    assert_eq!(report.browse_type, "MER_FRS");
    let browse = only_browse(&report);
    assert_eq!(browse.geolocation, Geolocation::ModelInGeotiff);
    assert_eq!(browse.footprint, Footprint::FromRaster);
    assert_eq!(browse.start, utc("2012-10-02T09:20:00Z"));
}

/// Every XML file in the fixture folder is covered by one of the tests above.
#[test]
fn every_fixture_is_covered() {
    let mut covered: Vec<String> = SIMPLE
        .iter()
        .map(|(file, ..)| format!("reference_test_data/{file}"))
        .collect();
    covered.extend(
        [
            "reference_test_data/browseReport_ASA_WS__0P_20100719_101023_group.xml",
            "reference_test_data/browseReport_ASA_WS__0P_20100719_101023_group_partial.xml",
            "reference_test_data/browseReport_ATS_TOA_1P_20100722_101606_noid.xml",
            "reference_test_data/browseReport_ATS_TOA_1P_20100722_101606_noid_2.xml",
            "reference_test_data/browseReport_ATS_TOA_1P_20100722_101606_specialid.xml",
            "regular_grid_clipping/BrowseServerIngest_input_8B99.xml",
            "held-in/HugeFootprintCrossesPrimeMeridianAndAntiMeridian2_EN1_MDSI_MER_RR__1P_20110801T090911_20110801T095301_049260_0108_20180821T152507_0100.xml",
            "test_data/BrowseReport_FAILURE.xml",
            "test_data/BrowseReport_crosses_dateline2.xml",
            "test_data/MER_FRS_1PNPDE20060822_092058_000001972050_00308_23408_0077_RGB_reduced.xml",
            "test_data/S2.xml",
        ]
        .map(String::from),
    );
    covered.sort();
    let mut found = Vec::new();
    for folder in std::fs::read_dir(fixtures_dir()).unwrap() {
        let folder = folder.unwrap().path();
        if !folder.is_dir() {
            continue;
        }
        for file in std::fs::read_dir(&folder).unwrap() {
            let file = file.unwrap().path();
            if file.extension().is_some_and(|ext| ext == "xml") {
                found.push(format!(
                    "{}/{}",
                    folder.file_name().unwrap().to_string_lossy(),
                    file.file_name().unwrap().to_string_lossy()
                ));
            }
        }
    }
    found.sort();
    assert_eq!(found, covered);
}
