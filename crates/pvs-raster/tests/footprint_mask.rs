//! A product is drawn only inside its footprint, whatever its shape: converted as the
//! preprocessor converts it (a synthetic opaque image of the report's size) and drawn by
//! `mosaic`, no pixel may show outside the footprint (one pixel of tolerance), and most of
//! the footprint's inside must be drawn, in EPSG:4326, EPSG:3857 and north polar
//! stereographic (EPSG:3413). The pixel centres are mapped to longitude/latitude through PROJ
//! and tested against the footprint with `geo`, independently of the drawing's own test.
//!
//! Products: ENVISAT MERIS RR half an orbit whose footprint crosses both the prime meridian
//! and the antimeridian and comes within 4° of the north pole (the real report, 608 nodes,
//! image 498 × 6639); the regular grid across the antimeridian of the ngEO corpus; a swath
//! reaching latitude 87° across 200° of longitude and a band over 340° of longitude (made
//! here).
//!
//! `PVS_TEST_IMAGES=dir` writes every drawn map there as PNG, to look at.

use std::path::{Path, PathBuf};

use gdal::DriverManager;
use gdal::spatial_ref::{AxisMappingStrategy, CoordTransform, SpatialRef};
use geo::{BoundingRect, Intersects, MultiPolygon, Point};
use pvs_model::{BrowseReport, Footprint};
use pvs_raster::convert::{CogOptions, Placement, to_cog};
use pvs_raster::render::{Format, MosaicSource, Rgba, View, encode, mosaic};
use pvs_raster::style::Style;

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/ngeo")
}

const MERIS: &str = "held-in/HugeFootprintCrossesPrimeMeridianAndAntiMeridian2_EN1_MDSI_MER_RR__1P_20110801T090911_20110801T095301_049260_0108_20180821T152507_0100.xml";

/// An opaque RGB PNG of `width` × `height` pixels: red rises across, green down (written
/// as a PPM, which GDAL copies to PNG).
fn synthetic_png(path: &Path, width: usize, height: usize) {
    let mut ppm = format!("P6\n{width} {height}\n255\n").into_bytes();
    for row in 0..height {
        for column in 0..width {
            ppm.extend([
                (40 + column * 215 / width) as u8,
                (40 + row * 215 / height) as u8,
                128,
            ]);
        }
    }
    let source = path.with_extension("ppm");
    std::fs::write(&source, ppm).unwrap();
    let png = DriverManager::get_driver_by_name("PNG").unwrap();
    gdal::Dataset::open(&source)
        .unwrap()
        .create_copy(&png, path, &gdal::cpl::CslStringList::new())
        .unwrap();
}

/// The first browse of `report` converted to a COG in `dir` (from a synthetic image of
/// `width` × `height`): the COG's path and the footprint.
fn convert(
    report: &[u8],
    width: usize,
    height: usize,
    dir: &Path,
    name: &str,
) -> (String, MultiPolygon<f64>) {
    let report = BrowseReport::parse(report).unwrap();
    let browse = report.valid_browses().next().unwrap();
    let Footprint::Wgs84(footprint) = &browse.footprint else {
        panic!("{name}: an EPSG:4326 footprint");
    };
    let image = dir.join(format!("{name}.png"));
    synthetic_png(&image, width, height);
    let cog = dir.join(format!("{name}.tif"));
    to_cog(
        image.to_str().unwrap(),
        &Placement {
            geolocation: &browse.geolocation,
            reference_system: browse.reference_system,
            footprint: Some(footprint.clone()),
        },
        &cog,
        &CogOptions::default(),
    )
    .unwrap_or_else(|e| panic!("{name}: {e}"));
    (cog.display().to_string(), footprint.clone())
}

fn srs(epsg: u32) -> SpatialRef {
    let mut srs = SpatialRef::from_epsg(epsg).unwrap();
    srs.set_axis_mapping_strategy(AxisMappingStrategy::TraditionalGisOrder);
    srs
}

/// What a drawn map shows of a footprint.
#[derive(Debug)]
struct Check {
    /// Pixels drawn (alpha above 0) whose centre and whose neighbours' centres all lie
    /// outside the footprint.
    outside: Vec<(usize, usize, f64, f64)>,
    /// Pixels whose centre and neighbours' centres all lie inside the footprint, and how
    /// many of them are opaque.
    interior: usize,
    covered: usize,
}

/// Maps every pixel centre of `view` (with a margin of one pixel) to lon/lat with PROJ and
/// tests it against `footprint` with `geo`.
fn check(image: &Rgba, view: &View, footprint: &MultiPolygon<f64>) -> Check {
    let (width, height) = (view.width, view.height);
    let [x0, y0, x1, y1] = view.bbox;
    let (sx, sy) = ((x1 - x0) / width as f64, (y1 - y0) / height as f64);
    // Centres of columns -1..=width and rows -1..=height.
    let (cols, rows) = (width + 2, height + 2);
    let mut xs = Vec::with_capacity(cols * rows);
    let mut ys = Vec::with_capacity(cols * rows);
    for r in 0..rows {
        for c in 0..cols {
            xs.push(x0 + (c as f64 - 0.5) * sx);
            ys.push(y1 - (r as f64 - 0.5) * sy);
        }
    }
    if view.epsg != 4326 {
        let transform = CoordTransform::new(&srs(view.epsg), &srs(4326)).unwrap();
        // Points PROJ cannot transform stay not finite: outside.
        let _ = transform.transform_coords(&mut xs, &mut ys, &mut []);
    }
    let inside: Vec<bool> = xs
        .iter()
        .zip(&ys)
        .map(|(&lon, &lat)| {
            let lon = lon - 360.0 * ((lon + 180.0) / 360.0).floor();
            lon.is_finite() && lat.is_finite() && footprint.intersects(&Point::new(lon, lat))
        })
        .collect();
    let at = |c: usize, r: usize| inside[r * cols + c];
    let mut result = Check {
        outside: Vec::new(),
        interior: 0,
        covered: 0,
    };
    for row in 0..height {
        for column in 0..width {
            let (c, r) = (column + 1, row + 1);
            let around = [
                (c - 1, r - 1),
                (c, r - 1),
                (c + 1, r - 1),
                (c - 1, r),
                (c, r),
                (c + 1, r),
                (c - 1, r + 1),
                (c, r + 1),
                (c + 1, r + 1),
            ];
            let alpha = image.pixel(column, row)[3];
            if alpha > 0 && !around.iter().any(|&(c, r)| at(c, r)) {
                let i = r * cols + c;
                result.outside.push((column, row, xs[i], ys[i]));
            }
            if around.iter().all(|&(c, r)| at(c, r)) {
                result.interior += 1;
                if alpha == 255 {
                    result.covered += 1;
                }
            }
        }
    }
    result
}

/// Draws the COG with its footprint into each view and checks the maps; in `views`, most
/// of the footprint's inside must be drawn, in `margins` (views the footprint barely
/// reaches) only nothing outside.
fn draw_and_check(
    name: &str,
    cog: &str,
    footprint: &MultiPolygon<f64>,
    views: &[View],
    margins: &[View],
) {
    let sources = [MosaicSource::new(cog, footprint.clone())];
    for (index, view) in views.iter().chain(margins).enumerate() {
        let image = mosaic(&sources, view, &Style::default()).unwrap();
        if let Some(dir) = std::env::var_os("PVS_TEST_IMAGES") {
            let png = encode(&image, Format::Png, [255, 255, 255]).unwrap();
            let path = Path::new(&dir).join(format!("{name}-{index}-{}.png", view.epsg));
            std::fs::write(path, png).unwrap();
        }
        let check = check(&image, view, footprint);
        let what = format!("{name}, EPSG:{} {:?}", view.epsg, view.bbox);
        assert!(
            check.outside.is_empty(),
            "{what}: {} pixels drawn outside the footprint, e.g. (column, row, lon, lat) {:?}",
            check.outside.len(),
            &check.outside[..check.outside.len().min(5)]
        );
        if index >= views.len() {
            continue;
        }
        assert!(
            check.interior >= 200,
            "{what}: the view holds {} pixels inside the footprint: a test of nothing",
            check.interior
        );
        let share = check.covered as f64 / check.interior as f64;
        assert!(
            share >= 0.95,
            "{what}: {} of the {} pixels inside the footprint are drawn",
            check.covered,
            check.interior
        );
    }
}

const MERCATOR: f64 = 20_037_508.342_789_244;

fn view(epsg: u32, bbox: [f64; 4], width: usize, height: usize) -> View {
    View {
        epsg,
        bbox,
        width,
        height,
    }
}

/// The world and the north pole in the three CRSs, and closer views around `lon`, `lat`.
fn views(lon: f64, lat: f64) -> Vec<View> {
    let (x, y) = {
        let transform = CoordTransform::new(&srs(4326), &srs(3857)).unwrap();
        let (mut xs, mut ys) = ([lon], [lat]);
        transform
            .transform_coords(&mut xs, &mut ys, &mut [])
            .unwrap();
        (xs[0], ys[0])
    };
    vec![
        view(4326, [-180.0, -90.0, 180.0, 90.0], 720, 360),
        view(
            4326,
            [lon - 10.0, lat - 5.0, lon + 10.0, lat + 5.0],
            400,
            200,
        ),
        view(3857, [-MERCATOR, -MERCATOR, MERCATOR, MERCATOR], 512, 512),
        view(3857, [x - 1.5e6, y - 1.5e6, x + 1.5e6, y + 1.5e6], 256, 256),
        view(3413, [-4.5e6, -4.5e6, 4.5e6, 4.5e6], 512, 512),
        view(3413, [-1.5e6, -1.5e6, 1.5e6, 1.5e6], 256, 256),
    ]
}

#[test]
fn meris_half_orbit_across_both_meridians_shows_only_on_its_footprint() {
    let dir = tempfile::tempdir().unwrap();
    let report = std::fs::read(fixtures_dir().join(MERIS)).unwrap();
    let (cog, footprint) = convert(&report, 498, 6639, dir.path(), "meris");
    let mut all = views(10.0, 20.0);
    // Across the antimeridian, where the swath ends, and over the pole.
    all.push(view(4326, [150.0, 60.0, 190.0, 90.0], 400, 300));
    // West of the antimeridian, which the swath barely crosses: this is where a second copy
    // of the image showed.
    let margins = [
        view(4326, [-180.0, -90.0, -100.0, 90.0], 160, 360),
        view(4326, [-180.0, 60.0, -160.0, 90.0], 200, 300),
    ];
    draw_and_check("meris", &cog, &footprint, &all, &margins);
    // The COG spans the footprint's longitudes, continuous across the antimeridian (not
    // 360° with the swath torn apart).
    let description = pvs_raster::cog::describe(&gdal::Dataset::open(&cog).unwrap()).unwrap();
    let [west, _, east, _] = description.bbox;
    assert!(
        (west + 16.43).abs() < 0.1 && (east - 181.28).abs() < 0.1,
        "{:?}",
        description.bbox
    );
}

#[test]
fn regular_grid_across_the_antimeridian_shows_only_on_its_footprint() {
    let dir = tempfile::tempdir().unwrap();
    let report =
        std::fs::read(fixtures_dir().join("test_data/BrowseReport_crosses_dateline2.xml")).unwrap();
    let (cog, footprint) = convert(&report, 516, 509, dir.path(), "dateline");
    let rect = footprint.bounding_rect().unwrap();
    assert!(rect.min().x <= -179.0 && rect.max().x >= 179.0, "{rect:?}");
    let mut all = views(-178.0, 81.0);
    all.push(view(4326, [170.0, 75.0, 190.0, 85.0], 400, 200));
    draw_and_check("dateline", &cog, &footprint, &all, &[]);
}

/// A browse report whose footprint is a swath of `width` × `height` pixels along the line
/// `centre` (t from 0 to 1 down the image: lon, lat), `half` degrees of latitude to either
/// side.
fn swath_report(
    width: usize,
    height: usize,
    centre: impl Fn(f64) -> (f64, f64),
    half: f64,
) -> String {
    let steps = 40;
    // The ring: down the left edge (north side), across, up the right edge (south side).
    let mut nodes: Vec<(usize, usize, f64, f64)> = Vec::new();
    for i in 0..=steps {
        let t = i as f64 / steps as f64;
        let (lon, lat) = centre(t);
        nodes.push((0, i * height / steps, lat + half, lon));
    }
    for i in (0..=steps).rev() {
        let t = i as f64 / steps as f64;
        let (lon, lat) = centre(t);
        nodes.push((width, i * height / steps, lat - half, lon));
    }
    nodes.push(nodes[0]);
    let cols_rows: Vec<String> = nodes.iter().map(|n| format!("{} {}", n.0, n.1)).collect();
    let coords: Vec<String> = nodes.iter().map(|n| format!("{} {}", n.2, n.3)).collect();
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<rep:browseReport version="1.1" xmlns:rep="http://ngeo.eo.esa.int/schema/browseReport">
    <rep:responsibleOrgName>pvs</rep:responsibleOrgName>
    <rep:dateTime>2020-02-28T03:22:22Z</rep:dateTime>
    <rep:browseType>SAR</rep:browseType>
    <rep:browse>
        <rep:browseIdentifier>SWATH</rep:browseIdentifier>
        <rep:fileName>swath.png</rep:fileName>
        <rep:imageType>PNG</rep:imageType>
        <rep:referenceSystemIdentifier>EPSG:4326</rep:referenceSystemIdentifier>
        <rep:footprint nodeNumber="{}">
            <rep:colRowList>{}</rep:colRowList>
            <rep:coordList>{}</rep:coordList>
        </rep:footprint>
        <rep:startTime>2011-08-01T09:09:11Z</rep:startTime>
        <rep:endTime>2011-08-01T09:53:01Z</rep:endTime>
    </rep:browse>
</rep:browseReport>
"#,
        nodes.len(),
        cols_rows.join(" "),
        coords.join(" ")
    )
}

#[test]
fn polar_swath_over_200_degrees_of_longitude_shows_only_on_its_footprint() {
    let dir = tempfile::tempdir().unwrap();
    let (width, height) = (300, 3000);
    // From (-30°, 60°) over latitude 87° to (170°, 60°), 4° of latitude wide.
    let centre = |t: f64| {
        (
            -30.0 + 200.0 * t,
            60.0 + 27.0 * (std::f64::consts::PI * t).sin(),
        )
    };
    let report = swath_report(width, height, centre, 2.0);
    let (cog, footprint) = convert(report.as_bytes(), width, height, dir.path(), "polar");
    let rect = footprint.bounding_rect().unwrap();
    assert!(rect.max().y > 88.0 && rect.width() > 199.0, "{rect:?}");
    let mut all = views(0.0, 70.0);
    all.push(view(4326, [-40.0, 55.0, 180.0, 90.0], 880, 140));
    let margins = [view(4326, [-180.0, -90.0, -30.0, 90.0], 300, 360)];
    draw_and_check("polar", &cog, &footprint, &all, &margins);
}

#[test]
fn nearly_global_band_shows_only_on_its_footprint() {
    let dir = tempfile::tempdir().unwrap();
    let (width, height) = (400, 3000);
    // A band waving between 45° S and 45° N over 340° of longitude, across the prime
    // meridian, 50° of latitude wide.
    let centre = |t: f64| {
        (
            -170.0 + 340.0 * t,
            20.0 * (4.0 * std::f64::consts::PI * t).sin(),
        )
    };
    let report = swath_report(width, height, centre, 25.0);
    let (cog, footprint) = convert(report.as_bytes(), width, height, dir.path(), "global");
    let rect = footprint.bounding_rect().unwrap();
    assert!(rect.width() > 339.0, "{rect:?}");
    let mut all = views(0.0, 0.0);
    // The north polar view reaches down to about 30° N only at its corners.
    all.retain(|v| v.epsg != 3413);
    all.push(view(3413, [-9e6, -9e6, 9e6, 9e6], 512, 512));
    let margins = [view(4326, [170.0, -90.0, 180.0, 90.0], 50, 360)];
    draw_and_check("global", &cog, &footprint, &all, &margins);
}
