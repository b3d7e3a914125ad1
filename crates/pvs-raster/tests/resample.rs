//! pvs's map drawing against GDAL's own warper: the same source drawn into the same view
//! by `mosaic` and by `gdalwarp -r bilinear` (the GDAL command line, as a reference) must
//! give the same pixels, within rounding, in several CRSs, at several overview levels,
//! with alpha bands and nodata.

use std::path::Path;
use std::process::Command;

use gdal::raster::{Buffer, ColorInterpretation};
use gdal::spatial_ref::SpatialRef;
use gdal::{Dataset, DriverManager};
use pvs_raster::render::{MosaicSource, Rgba, View, mosaic};
use pvs_raster::style::Style;

/// What a test source holds besides its colour bands.
#[derive(Clone, Copy, PartialEq)]
enum Validity {
    /// Every pixel valid.
    All,
    /// An alpha band: opaque inside a disc, transparent outside.
    AlphaDisc,
    /// Nodata 0 in the left third.
    Nodata,
}

/// A tiled GeoTIFF with overviews (2, 4, 8) of smooth waves: `bands` colour bands of
/// `size` × `size` pixels, with geotransform `gt` in `epsg`.
fn source(
    dir: &Path,
    name: &str,
    epsg: u32,
    gt: [f64; 6],
    bands: usize,
    validity: Validity,
) -> String {
    let size = 1024;
    let path = dir.join(format!("{name}.tif"));
    let driver = DriverManager::get_driver_by_name("GTiff").unwrap();
    let total = bands + usize::from(validity == Validity::AlphaDisc);
    let options: gdal::cpl::CslStringList = ["TILED=YES", "COMPRESS=DEFLATE"].into_iter().collect();
    let mut dataset = driver
        .create_with_band_type_with_options::<u8, _>(&path, size, size, total, &options)
        .unwrap();
    dataset.set_geo_transform(&gt).unwrap();
    dataset
        .set_spatial_ref(&SpatialRef::from_epsg(epsg).unwrap())
        .unwrap();
    for band in 1..=bands {
        let values: Vec<u8> = (0..size * size)
            .map(|i| {
                let (x, y) = ((i % size) as f64, (i / size) as f64);
                let phase = band as f64;
                let wave = (x / 23.0 + phase).sin() * (y / 31.0 - phase).cos();
                let value = 128.0 + 90.0 * wave + 30.0 * (x - y) / size as f64;
                if validity == Validity::Nodata && x < size as f64 / 3.0 {
                    0
                } else {
                    value.clamp(1.0, 255.0) as u8
                }
            })
            .collect();
        let mut raster = dataset.rasterband(band).unwrap();
        raster
            .write((0, 0), (size, size), &mut Buffer::new((size, size), values))
            .unwrap();
        if validity == Validity::Nodata {
            raster.set_no_data_value(Some(0.0)).unwrap();
        }
    }
    if validity == Validity::AlphaDisc {
        let half = size as f64 / 2.0;
        let alpha: Vec<u8> = (0..size * size)
            .map(|i| {
                let (x, y) = ((i % size) as f64 - half, (i / size) as f64 - half);
                if x.hypot(y) < half * 0.8 { 255 } else { 0 }
            })
            .collect();
        let mut raster = dataset.rasterband(total).unwrap();
        raster
            .set_color_interpretation(ColorInterpretation::AlphaBand)
            .unwrap();
        raster
            .write((0, 0), (size, size), &mut Buffer::new((size, size), alpha))
            .unwrap();
    }
    dataset.build_overviews("AVERAGE", &[2, 4, 8], &[]).unwrap();
    path.display().to_string()
}

/// The view drawn by `gdalwarp` (bilinear, overview chosen by GDAL, alpha added when the
/// source has none), as RGBA.
fn gdalwarp(dir: &Path, source: &str, view: &View) -> Rgba {
    let output = dir.join("gdalwarp.tif");
    let has_alpha = {
        let dataset = Dataset::open(source).unwrap();
        let last = dataset.rasterband(dataset.raster_count()).unwrap();
        last.color_interpretation() == ColorInterpretation::AlphaBand
    };
    let [x0, y0, x1, y1] = view.bbox.map(|v| v.to_string());
    let mut command = Command::new("gdalwarp");
    command.args(["-q", "-overwrite", "-of", "GTiff", "-r", "bilinear"]);
    command.args(["-t_srs", &format!("EPSG:{}", view.epsg)]);
    command.args(["-te", &x0, &y0, &x1, &y1]);
    command.args(["-ts", &view.width.to_string(), &view.height.to_string()]);
    if !has_alpha {
        command.arg("-dstalpha");
    }
    command.arg(source).arg(&output);
    let status = command.status().expect("gdalwarp runs");
    assert!(status.success(), "gdalwarp failed");
    let warped = Dataset::open(&output).unwrap();
    let count = warped.raster_count();
    let read = |index: usize| -> Vec<u8> {
        warped
            .rasterband(index)
            .unwrap()
            .read_as::<u8>(
                (0, 0),
                (view.width, view.height),
                (view.width, view.height),
                None,
            )
            .unwrap()
            .into_shape_and_vec()
            .1
    };
    let alpha = read(count);
    let colour: Vec<Vec<u8>> = (1..count).map(read).collect();
    let mut pixels = Vec::with_capacity(view.width * view.height * 4);
    for i in 0..view.width * view.height {
        match colour.as_slice() {
            [grey] => pixels.extend([grey[i], grey[i], grey[i], alpha[i]]),
            bands => pixels.extend([bands[0][i], bands[1][i], bands[2][i], alpha[i]]),
        }
    }
    Rgba {
        width: view.width,
        height: view.height,
        pixels,
    }
}

/// How two drawings of one view differ: the share of pixels whose coverage (alpha above or
/// below half) differs, and the mean and largest colour difference where both are opaque.
struct Difference {
    coverage: f64,
    mean: f64,
    max: u8,
    opaque: usize,
}

fn compare(ours: &Rgba, reference: &Rgba) -> Difference {
    let (mut differing, mut opaque, mut total, mut max) = (0, 0, 0u64, 0u8);
    for (a, b) in ours
        .pixels
        .chunks_exact(4)
        .zip(reference.pixels.chunks_exact(4))
    {
        if (a[3] >= 128) != (b[3] >= 128) {
            differing += 1;
        }
        if a[3] == 255 && b[3] == 255 {
            opaque += 1;
            for c in 0..3 {
                let d = a[c].abs_diff(b[c]);
                total += u64::from(d);
                max = max.max(d);
            }
        }
    }
    let pixels = ours.pixels.len() / 4;
    Difference {
        coverage: differing as f64 / pixels as f64,
        mean: total as f64 / (3 * opaque.max(1)) as f64,
        max,
        opaque,
    }
}

/// Draws `view` both ways and checks they agree: coverage on all but a few edge pixels,
/// colours within rounding (measured: at most 4 levels apart, near the pole, and 0.4 on
/// average).
fn agrees(dir: &Path, source: &str, view: &View, what: &str) {
    let ours = mosaic(&[MosaicSource::unclipped(source)], view, &Style::default()).unwrap();
    let reference = gdalwarp(dir, source, view);
    let difference = compare(&ours, &reference);
    assert!(
        difference.opaque > view.width * view.height / 10,
        "{what}: the view shows too little of the source ({} opaque pixels)",
        difference.opaque
    );
    assert!(
        difference.coverage < 0.005,
        "{what}: {:.2}% of the pixels differ in coverage",
        difference.coverage * 100.0
    );
    assert!(
        difference.mean < 0.5 && difference.max <= 4,
        "{what}: colours differ by {:.2} on average, {} at most",
        difference.mean,
        difference.max
    );
}

/// EPSG:3857 coordinates of a lon/lat position (the spherical Mercator formulas).
fn mercator(lon: f64, lat: f64) -> [f64; 2] {
    const R: f64 = 6_378_137.0;
    [
        R * lon.to_radians(),
        R * (std::f64::consts::FRAC_PI_4 + lat.to_radians() / 2.0)
            .tan()
            .ln(),
    ]
}

fn view_of(epsg: u32, bbox: [f64; 4], width: usize, height: usize) -> View {
    View {
        epsg,
        bbox,
        width,
        height,
    }
}

/// A 3857 view of the lon/lat box.
fn mercator_view(west: f64, south: f64, east: f64, north: f64, size: usize) -> View {
    let [x0, y0] = mercator(west, south);
    let [x1, y1] = mercator(east, north);
    view_of(3857, [x0, y0, x1, y1], size, size)
}

#[test]
fn rgb_in_lon_lat_matches_gdalwarp_in_web_mercator_at_every_overview_level() {
    let dir = tempfile::tempdir().unwrap();
    // 1024 pixels over 2° × 2° (10–12° E, 44–46° N).
    let gt = [10.0, 2.0 / 1024.0, 0.0, 46.0, 0.0, -2.0 / 1024.0];
    let source = source(dir.path(), "rgb", 4326, gt, 3, Validity::All);
    // Inside at full resolution, then views needing overviews 2, 4 and 8, and one over the
    // source's north-east corner (half outside).
    let views = [
        (
            mercator_view(10.6, 44.6, 10.9, 44.9, 256),
            "full resolution",
        ),
        (mercator_view(10.3, 44.3, 11.3, 45.1, 256), "about 2× down"),
        (mercator_view(10.1, 44.1, 11.9, 45.7, 256), "about 4× down"),
        (mercator_view(9.0, 43.0, 13.0, 47.0, 256), "about 8× down"),
        (mercator_view(11.5, 45.5, 12.5, 46.5, 300), "over a corner"),
    ];
    for (view, what) in &views {
        agrees(dir.path(), &source, view, what);
    }
    // The same CRS as the source (no reprojection) and a non-square output.
    let view = view_of(4326, [10.2, 44.3, 11.7, 45.2], 400, 240);
    agrees(dir.path(), &source, &view, "lon/lat");
}

#[test]
fn utm_with_nodata_matches_gdalwarp_in_lon_lat_and_web_mercator() {
    let dir = tempfile::tempdir().unwrap();
    // One grey band, 30 m pixels in UTM zone 33N around 15° E, 45° N; nodata in the west.
    let gt = [
        500_000.0 - 15_360.0,
        30.0,
        0.0,
        4_983_000.0 + 15_360.0,
        0.0,
        -30.0,
    ];
    let source = source(dir.path(), "utm", 32633, gt, 1, Validity::Nodata);
    agrees(
        dir.path(),
        &source,
        &mercator_view(14.75, 44.87, 15.25, 45.13, 256),
        "UTM in web mercator",
    );
    let view = view_of(4326, [14.9, 44.9, 15.1, 45.05], 256, 192);
    agrees(dir.path(), &source, &view, "UTM in lon/lat");
}

#[test]
fn an_alpha_band_matches_gdalwarp() {
    let dir = tempfile::tempdir().unwrap();
    let gt = [10.0, 1.0 / 1024.0, 0.0, 45.0, 0.0, -1.0 / 1024.0];
    let source = source(dir.path(), "alpha", 4326, gt, 3, Validity::AlphaDisc);
    agrees(
        dir.path(),
        &source,
        &mercator_view(9.9, 43.9, 11.1, 45.1, 256),
        "alpha band in web mercator",
    );
    agrees(
        dir.path(),
        &source,
        &mercator_view(10.05, 44.05, 10.35, 44.35, 256),
        "alpha band's edge at full resolution",
    );
}

#[test]
fn a_replaced_cog_is_drawn_anew() {
    // The renderer keeps datasets open between maps: a product registered again under the
    // same key must not show its old pixels.
    let dir = tempfile::tempdir().unwrap();
    let gt = [10.0, 1.0 / 1024.0, 0.0, 45.0, 0.0, -1.0 / 1024.0];
    let path = source(dir.path(), "product", 4326, gt, 3, Validity::All);
    let view = view_of(4326, [10.2, 44.2, 10.8, 44.8], 64, 64);
    let before = mosaic(
        &[MosaicSource::unclipped(path.clone())],
        &view,
        &Style::default(),
    )
    .unwrap();
    // The same size of file, other pixels: written aside, then moved over the old one.
    let other = source(dir.path(), "other", 4326, gt, 3, Validity::Nodata);
    std::fs::rename(&other, &path).unwrap();
    let after = mosaic(
        &[MosaicSource::unclipped(path.clone())],
        &view,
        &Style::default(),
    )
    .unwrap();
    // The new file has nodata in its western third: transparent there now.
    let west = after.pixel(2, 32);
    assert_eq!(before.pixel(2, 32)[3], 255);
    assert_eq!(west[3], 0, "the new file's nodata shows: {west:?}");
}

#[test]
fn a_polar_view_of_a_global_raster_matches_gdalwarp() {
    // Around the pole the mapping bends too much to interpolate between the grid's nodes
    // (those cells are mapped pixel by pixel), and the view needs every longitude.
    let dir = tempfile::tempdir().unwrap();
    let gt = [-180.0, 360.0 / 1024.0, 0.0, 90.0, 0.0, -180.0 / 1024.0];
    let source = source(dir.path(), "global", 4326, gt, 3, Validity::All);
    let view = view_of(
        3413,
        [-3_000_000.0, -3_000_000.0, 3_000_000.0, 3_000_000.0],
        256,
        256,
    );
    agrees(dir.path(), &source, &view, "north polar stereographic");
    // The whole web mercator world.
    let world = 20_037_508.342_789_244;
    let view = view_of(3857, [-world, -world, world, world], 512, 512);
    agrees(dir.path(), &source, &view, "the web mercator world");
}

#[test]
fn float_data_with_nan_nodata_keeps_its_value_up_to_the_edge() {
    // 32-bit floats of 100 with NaN as nodata in the western half, drawn rescaled 0..200:
    // every pixel that shows at all is mid-grey, also where a NaN neighbour has no weight.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("float.tif");
    let size = 64;
    let driver = DriverManager::get_driver_by_name("GTiff").unwrap();
    let mut dataset = driver
        .create_with_band_type::<f32, _>(&path, size, size, 1)
        .unwrap();
    dataset
        .set_geo_transform(&[10.0, 1.0 / 64.0, 0.0, 45.0, 0.0, -1.0 / 64.0])
        .unwrap();
    dataset
        .set_spatial_ref(&SpatialRef::from_epsg(4326).unwrap())
        .unwrap();
    let values: Vec<f32> = (0..size * size)
        .map(|i| if i % size < size / 2 { f32::NAN } else { 100.0 })
        .collect();
    let mut band = dataset.rasterband(1).unwrap();
    band.set_no_data_value(Some(f64::NAN)).unwrap();
    band.write((0, 0), (size, size), &mut Buffer::new((size, size), values))
        .unwrap();
    drop(dataset);
    let style = Style::new(Some(vec![1]), Some([0.0, 200.0]), None).unwrap();
    // Four output pixels per source pixel: the nodata edge falls between output pixels.
    let view = view_of(4326, [10.0, 44.0, 11.0, 45.0], 256, 256);
    let image = mosaic(
        &[MosaicSource::unclipped(path.display().to_string())],
        &view,
        &style,
    )
    .unwrap();
    let (mut shown, mut hidden) = (0, 0);
    for pixel in image.pixels.chunks_exact(4) {
        if pixel[3] == 0 {
            hidden += 1;
        } else {
            shown += 1;
            assert_eq!(pixel[..3], [128, 128, 128], "{pixel:?}");
        }
    }
    assert!(
        shown > 30_000 && hidden > 30_000,
        "{shown} shown, {hidden} hidden"
    );
}
