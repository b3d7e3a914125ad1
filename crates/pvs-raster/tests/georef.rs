//! What the original ngEO browse server accepts, pvs accepts: tie points outside the image
//! (handed to GDAL, which extrapolates) and GeoTIFFs whose geotransform is rotated (warped
//! north-up). Each synthetic image (a gradient with a distinct block, made at test time) is
//! converted by pvs and by GDAL's own `gdalwarp` on the same input, and the two rasters must
//! agree pixel for pixel within a small tolerance. What cannot be georeferenced is still
//! refused, with the reason.

use std::path::{Path, PathBuf};
use std::process::Command;

use gdal::Dataset;
use gdal::raster::Buffer;
use gdal::spatial_ref::{AxisMappingStrategy, CoordTransform, SpatialRef};
use geo::{Area, BoundingRect, Contains, Point};
use pvs_model::{Geolocation, Pixel, ReferenceSystem};
use pvs_raster::convert::{CogOptions, Converted, Placement, to_cog};

/// The bright block: pixels [BLOCK.0, BLOCK.0 + 10) × [BLOCK.1, BLOCK.1 + 10).
const BLOCK: (usize, usize) = (150, 20);

/// A `width` × `height` RGB GeoTIFF: band 1 a gradient across, band 2 a gradient down, band
/// 3 dark but for the bright block; georeferenced by `transform` in `epsg` when given.
fn image(dir: &Path, width: usize, height: usize, placed: Option<(u32, [f64; 6])>) -> PathBuf {
    let path = dir.join("input.tif");
    let driver = gdal::DriverManager::get_driver_by_name("GTiff").unwrap();
    let mut dataset = driver
        .create_with_band_type::<u8, _>(&path, width, height, 3)
        .unwrap();
    let pixels = |value: &dyn Fn(usize, usize) -> u8| -> Vec<u8> {
        (0..height)
            .flat_map(|row| (0..width).map(move |column| (row, column)))
            .map(|(row, column)| value(column, row))
            .collect()
    };
    let across = pixels(&|column, _| (10 + column * 235 / width) as u8);
    let down = pixels(&|_, row| (10 + row * 235 / height) as u8);
    let block = pixels(&|column, row| {
        let inside =
            (BLOCK.0..BLOCK.0 + 10).contains(&column) && (BLOCK.1..BLOCK.1 + 10).contains(&row);
        if inside { 250 } else { 20 }
    });
    for (index, values) in [across, down, block].into_iter().enumerate() {
        let mut buffer = Buffer::new((width, height), values);
        dataset
            .rasterband(index + 1)
            .unwrap()
            .write((0, 0), (width, height), &mut buffer)
            .unwrap();
    }
    if let Some((epsg, transform)) = placed {
        dataset.set_spatial_ref(&srs(epsg)).unwrap();
        dataset.set_geo_transform(&transform).unwrap();
    }
    drop(dataset);
    path
}

fn srs(epsg: u32) -> SpatialRef {
    let mut srs = SpatialRef::from_epsg(epsg).unwrap();
    srs.set_axis_mapping_strategy(AxisMappingStrategy::TraditionalGisOrder);
    srs
}

/// Runs a GDAL command-line tool; panics with its output when it fails.
fn gdal_cli(tool: &str, args: &[String]) {
    let output = Command::new(tool).args(args).output().unwrap();
    assert!(
        output.status.success(),
        "{tool} {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn convert(input: &Path, geolocation: &Geolocation, output: &Path) -> Converted {
    try_convert(input, geolocation, ReferenceSystem::Epsg(4326), output).unwrap()
}

fn try_convert(
    input: &Path,
    geolocation: &Geolocation,
    reference_system: ReferenceSystem,
    output: &Path,
) -> Result<Converted, pvs_raster::RasterError> {
    to_cog(
        input.to_str().unwrap(),
        &Placement {
            geolocation,
            reference_system,
            footprint: None,
        },
        output,
        &CogOptions::default(),
    )
}

fn read_all(dataset: &Dataset) -> Vec<Vec<u8>> {
    let (width, height) = dataset.raster_size();
    (1..=dataset.raster_count())
        .map(|index| {
            let buffer: Buffer<u8> = dataset
                .rasterband(index)
                .unwrap()
                .read_as((0, 0), (width, height), (width, height), None)
                .unwrap();
            buffer.data().to_vec()
        })
        .collect()
}

/// pvs's COG and GDAL's raster cover the same grid, and their pixels agree: alpha equal
/// but on at most 1% of the pixels (the edge of the image), colours within 3 levels where
/// both are opaque but on at most 0.5% of them.
fn assert_same_as_gdal(ours: &Path, reference: &Path) {
    let (ours, reference) = (
        Dataset::open(ours).unwrap(),
        Dataset::open(reference).unwrap(),
    );
    assert_eq!(ours.raster_size(), reference.raster_size());
    assert_eq!(ours.raster_count(), 4, "RGB and alpha");
    assert_eq!(reference.raster_count(), 4, "RGB and alpha");
    let (ours_gt, reference_gt) = (
        ours.geo_transform().unwrap(),
        reference.geo_transform().unwrap(),
    );
    for (a, b) in ours_gt.iter().zip(reference_gt) {
        assert!(
            (a - b).abs() <= 1e-9 * a.abs().max(1.0),
            "{ours_gt:?} / {reference_gt:?}"
        );
    }
    let (ours, reference) = (read_all(&ours), read_all(&reference));
    let pixels = ours[0].len();
    let alpha_off = (0..pixels)
        .filter(|&i| ours[3][i] != reference[3][i])
        .count();
    assert!(
        alpha_off * 100 <= pixels,
        "alpha differs on {alpha_off} of {pixels} pixels"
    );
    let opaque: Vec<usize> = (0..pixels)
        .filter(|&i| ours[3][i] == 255 && reference[3][i] == 255)
        .collect();
    assert!(
        opaque.len() * 4 >= pixels,
        "only {} opaque pixels",
        opaque.len()
    );
    let colour_off = opaque
        .iter()
        .filter(|&&i| (0..3).any(|band| ours[band][i].abs_diff(reference[band][i]) > 3))
        .count();
    assert!(
        colour_off * 200 <= opaque.len(),
        "colours differ on {colour_off} of {} opaque pixels",
        opaque.len()
    );
}

/// The value of every band at `(x, y)` in the raster's CRS.
fn values_at(dataset: &Dataset, x: f64, y: f64) -> Vec<u8> {
    let gt = dataset.geo_transform().unwrap();
    let column = ((x - gt[0]) / gt[1]).floor() as isize;
    let row = ((y - gt[3]) / gt[5]).floor() as isize;
    (1..=dataset.raster_count())
        .map(|index| {
            let buffer: Buffer<u8> = dataset
                .rasterband(index)
                .unwrap()
                .read_as((column, row), (1, 1), (1, 1), None)
                .unwrap();
            buffer.data()[0]
        })
        .collect()
}

/// `(column, row, lon, lat)` tie points as a footprint ring (`lat lon` pairs, closed).
fn footprint(points: &[(f64, f64, f64, f64)]) -> Geolocation {
    let ring = points.iter().chain(points.first());
    Geolocation::Footprint {
        col_row: ring
            .clone()
            .map(|p| (Pixel::At(p.0), Pixel::At(p.1)))
            .collect(),
        coords: ring.map(|p| (p.3, p.2)).collect(),
    }
}

/// `gdal_translate -gcp` (as the original ngEO server hands tie points to GDAL), then
/// `gdalwarp -tps` into EPSG:4326 over `bbox`, as pvs warps.
fn gdal_warp_gcps(input: &Path, points: &[(f64, f64, f64, f64)], bbox: [f64; 4], output: &Path) {
    let vrt = output.with_extension("vrt");
    let mut args: Vec<String> = ["-of", "VRT", "-a_srs", "EPSG:4326"]
        .map(String::from)
        .to_vec();
    for p in points {
        args.push("-gcp".into());
        args.extend([p.0, p.1, p.2, p.3].map(|v| v.to_string()));
    }
    args.extend([input.display().to_string(), vrt.display().to_string()]);
    gdal_cli("gdal_translate", &args);
    let mut args: Vec<String> = [
        "-q",
        "-tps",
        "-r",
        "bilinear",
        "-dstalpha",
        "-t_srs",
        "EPSG:4326",
        "-te",
    ]
    .map(String::from)
    .to_vec();
    args.extend(bbox.map(|v| v.to_string()));
    args.extend([vrt.display().to_string(), output.display().to_string()]);
    gdal_cli("gdalwarp", &args);
}

fn lon_lat_box(points: &[(f64, f64, f64, f64)]) -> [f64; 4] {
    points.iter().fold(
        [
            f64::INFINITY,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NEG_INFINITY,
        ],
        |b, p| [b[0].min(p.2), b[1].min(p.3), b[2].max(p.2), b[3].max(p.3)],
    )
}

#[test]
fn footprint_tie_points_outside_the_image_are_extrapolated_as_gdal_does() {
    let dir = tempfile::tempdir().unwrap();
    // 200 × 100 pixels; the footprint's rows run to 150, half the image again below it (as
    // the ASA_IM reports whose rows run to 1147 on 861-row images), and its corners are
    // not a rectangle.
    let input = image(dir.path(), 200, 100, None);
    let points = [
        (0.0, 0.0, 10.0, 41.0),
        (200.0, 0.0, 12.2, 41.1),
        (200.0, 150.0, 12.0, 39.5),
        (0.0, 150.0, 9.9, 39.4),
    ];
    let output = dir.path().join("pvs.tif");
    let converted = convert(&input, &footprint(&points), &output);
    assert!(converted.warped && converted.description.alpha);
    let bbox = lon_lat_box(&points);
    let reference = dir.path().join("gdal.tif");
    gdal_warp_gcps(&input, &points, bbox, &reference);
    assert_same_as_gdal(&output, &reference);

    // The COG covers the tie points' box; the image fills its upper two thirds, the rest
    // (where the tie points have no image) is transparent.
    let [west, south, east, north] = converted.description.bbox;
    for (got, want) in [west, south, east, north].iter().zip(bbox) {
        assert!(
            (got - want).abs() < 0.01,
            "{:?} / {bbox:?}",
            converted.description.bbox
        );
    }
    let cog = Dataset::open(&output).unwrap();
    assert_eq!(values_at(&cog, 11.0, 40.9)[3], 255, "image near the top");
    assert_eq!(
        values_at(&cog, 11.0, 39.6)[3],
        0,
        "no image near the bottom"
    );
    // The footprint is the report's (the tie points' ring), not the image's.
    let rect = converted.footprint.bounding_rect().unwrap();
    assert!((rect.min().y - 39.4).abs() < 1e-9 && (rect.max().y - 41.1).abs() < 1e-9);
}

#[test]
fn regular_grid_reaching_beyond_one_step_is_extrapolated_as_gdal_does() {
    let dir = tempfile::tempdir().unwrap();
    // 6 lists of 5 nodes 40 pixels apart on a 200 × 100 image: the last nodes (row 160)
    // lie more than one step (40) below the image, so nothing is clamped.
    let input = image(dir.path(), 200, 100, None);
    let (lists, nodes, step) = (6, 5, 40.0);
    let mut points = Vec::new();
    let lines: Vec<Vec<(f64, f64)>> = (0..lists)
        .map(|i| {
            (0..nodes)
                .map(|k| {
                    let (column, row) = (f64::from(i) * step, f64::from(k) * step);
                    // A gentle curve: longitudes bend with the row.
                    let lon = 20.0 + column / 100.0 + (row / 100.0).powi(2) * 0.1;
                    let lat = 50.0 - row / 100.0 - column / 1000.0;
                    points.push((column, row, lon, lat));
                    (lat, lon)
                })
                .collect()
        })
        .collect();
    let grid = Geolocation::RegularGrid {
        col_node_number: nodes,
        row_node_number: lists,
        col_step: step,
        row_step: step,
        lines,
    };
    let output = dir.path().join("pvs.tif");
    let converted = convert(&input, &grid, &output);
    assert!(converted.warped);
    let reference = dir.path().join("gdal.tif");
    gdal_warp_gcps(&input, &points, lon_lat_box(&points), &reference);
    assert_same_as_gdal(&output, &reference);
}

/// A 200 × 100 GeoTIFF placed by `transform` in `epsg`, converted by pvs (modelInGeotiff)
/// and warped by `gdalwarp` north-up in its own CRS: both agree, the COG is north-up with an
/// alpha band. Returns what pvs wrote, and the COG.
fn embedded_like_gdal(dir: &Path, epsg: u32, transform: [f64; 6]) -> (Converted, Dataset) {
    let input = image(dir, 200, 100, Some((epsg, transform)));
    let output = dir.join("pvs.tif");
    let converted = try_convert(
        &input,
        &Geolocation::ModelInGeotiff,
        ReferenceSystem::Raw,
        &output,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(converted.warped && converted.description.alpha);
    let reference = dir.join("gdal.tif");
    let mut args: Vec<String> = ["-q", "-r", "bilinear", "-dstalpha"]
        .map(String::from)
        .to_vec();
    args.extend([input.display().to_string(), reference.display().to_string()]);
    gdal_cli("gdalwarp", &args);
    assert_same_as_gdal(&output, &reference);
    let cog = Dataset::open(&output).unwrap();
    let gt = cog.geo_transform().unwrap();
    assert!(
        gt[2] == 0.0 && gt[4] == 0.0 && gt[1] > 0.0 && gt[5] < 0.0,
        "north-up: {gt:?}"
    );
    (converted, cog)
}

#[test]
fn a_rotated_geotiff_is_warped_north_up_as_gdal_does() {
    let dir = tempfile::tempdir().unwrap();
    // UTM 33N, 10 m pixels, rotated by 30°: columns run east-north-east, rows south-south-east.
    let (sin, cos) = 30f64.to_radians().sin_cos();
    let transform = [
        500_000.0,
        10.0 * cos,
        10.0 * sin,
        4_000_000.0,
        10.0 * sin,
        -10.0 * cos,
    ];
    let (converted, cog) = embedded_like_gdal(dir.path(), 32633, transform);
    assert_eq!(converted.description.crs, "EPSG:32633");

    // The block lands where the geotransform puts its centre.
    let place = |column: f64, row: f64| {
        (
            transform[0] + column * transform[1] + row * transform[2],
            transform[3] + column * transform[4] + row * transform[5],
        )
    };
    let (x, y) = place(BLOCK.0 as f64 + 5.0, BLOCK.1 as f64 + 5.0);
    assert_eq!(values_at(&cog, x, y)[2], 250, "block centre");
    let (x, y) = place(BLOCK.0 as f64 - 5.0, BLOCK.1 as f64 + 5.0);
    assert_eq!(values_at(&cog, x, y)[2], 20, "beside the block");

    // The footprint is the rotated image's outline, not the warped raster's box.
    let to_wgs84 = CoordTransform::new(&srs(32633), &srs(4326)).unwrap();
    let corners: Vec<(f64, f64)> = [(0.0, 0.0), (200.0, 0.0), (200.0, 100.0), (0.0, 100.0)]
        .iter()
        .map(|&(column, row)| {
            let (mut xs, mut ys) = {
                let (x, y) = place(column, row);
                (vec![x], vec![y])
            };
            to_wgs84
                .transform_coords(&mut xs, &mut ys, &mut [0.0])
                .unwrap();
            (xs[0], ys[0])
        })
        .collect();
    let quad = geo::Polygon::new(
        corners
            .iter()
            .chain(corners.first())
            .map(|&(x, y)| geo::coord! { x: x, y: y })
            .collect(),
        vec![],
    );
    let area = converted.footprint.unsigned_area();
    assert!(
        (area - quad.unsigned_area()).abs() < 1e-3 * area,
        "footprint {area}, rotated outline {}",
        quad.unsigned_area()
    );
    let (cx, cy) = place(100.0, 50.0);
    let (mut xs, mut ys) = (vec![cx], vec![cy]);
    to_wgs84
        .transform_coords(&mut xs, &mut ys, &mut [0.0])
        .unwrap();
    assert!(converted.footprint.contains(&Point::new(xs[0], ys[0])));
}

#[test]
fn a_south_up_geotiff_is_warped_north_up_as_gdal_does() {
    let dir = tempfile::tempdir().unwrap();
    // Rows run north: the block (rows 20..30) is near the south edge.
    let transform = [10.0, 0.01, 0.0, 40.0, 0.0, 0.01];
    let (converted, cog) = embedded_like_gdal(dir.path(), 4326, transform);
    assert_eq!(converted.description.bbox, [10.0, 40.0, 12.0, 41.0]);
    assert_eq!(values_at(&cog, 11.55, 40.25)[2], 250, "block centre");
    assert_eq!(values_at(&cog, 11.55, 40.75)[2], 20, "not mirrored back");
}

#[test]
fn what_cannot_be_georeferenced_is_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let input = image(dir.path(), 200, 100, None);
    let output = dir.path().join("out.tif");
    // Each case: the `column row lon lat` tie points of a footprint, and the reason.
    let cases = [
        // Fewer than 3 distinct tie points (the same one twice).
        (
            "0 0 10 41; 200 100 12 40; 0 0 10 41",
            "2 distinct tie points; at least 3",
        ),
        // One pixel, two places.
        (
            "0 0 10 41; 200 100 12 40; 0 0 10.5 41",
            "two tie points at pixel (0, 0) with different coordinates",
        ),
        // Pixel positions on one line (the diagonal).
        (
            "0 0 10 41; 100 50 11 40; 200 100 12 41",
            "pixel positions lie on one line",
        ),
        // Coordinates on one line.
        (
            "0 0 10 41; 200 0 11 40.5; 200 100 12 40",
            "coordinates lie on one line",
        ),
        // Not a number.
        (
            "0 0 10 41; 200 0 NaN 41; 200 100 12 40",
            "not a finite number",
        ),
        // A tie point more than the image's height below it.
        (
            "0 0 10 41; 200 0 12 41; 200 201 12 40",
            "more than the image's size outside the 200 × 100 image",
        ),
        // Tie points on a corner of the image only: the rest would be extrapolated over
        // more than their span.
        (
            "0 0 10 41; 50 0 10.5 41; 50 30 10.5 40.7",
            "reaches beyond them by more than their span",
        ),
    ];
    for (points, needle) in cases {
        let points: Vec<(f64, f64, f64, f64)> = points
            .split(';')
            .map(|point| {
                let v: Vec<f64> = point
                    .split_whitespace()
                    .map(|v| v.parse().unwrap())
                    .collect();
                (v[0], v[1], v[2], v[3])
            })
            .collect();
        let error = try_convert(
            &input,
            &footprint(&points),
            ReferenceSystem::Epsg(4326),
            &output,
        )
        .map(|_| ())
        .unwrap_err()
        .to_string();
        assert!(error.contains(needle), "{needle}: {error}");
    }

    // A singular geotransform (rows along columns).
    let singular = image(
        dir.path(),
        200,
        100,
        Some((4326, [10.0, 0.01, 0.02, 41.0, 0.005, 0.01])),
    );
    let error = try_convert(
        &singular,
        &Geolocation::ModelInGeotiff,
        ReferenceSystem::Raw,
        &output,
    )
    .map(|_| ())
    .unwrap_err()
    .to_string();
    assert!(error.contains("is singular"), "{error}");
}
