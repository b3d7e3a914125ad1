//! What a raster alone tells, on real rasters GDAL writes at test time: the footprint of the
//! valid pixels (whole rasters, alpha and nodata masks, a projected CRS, the antimeridian, a
//! large COG read through its overviews), its failures, and times from TIFF tags.

use std::path::Path;

use chrono::{DateTime, Utc};
use gdal::raster::{Buffer, ColorInterpretation, RasterCreationOptions};
use gdal::spatial_ref::{AxisMappingStrategy, CoordTransform, SpatialRef};
use gdal::{Dataset, DriverManager, Metadata};
use geo::{Area, BoundingRect, Contains, MultiPolygon, Point};
use pvs_raster::RasterError;
use pvs_raster::derive::{time_from_tags, valid_data_footprint};

/// A raster to write: size, georeferencing and how each pixel of each band is computed.
struct Raster {
    width: usize,
    height: usize,
    /// The geotransform, if any.
    gt: Option<[f64; 6]>,
    /// The CRS, if any.
    epsg: Option<u32>,
    /// Bands; the last is made the alpha band when `alpha` is set.
    bands: usize,
    alpha: bool,
    nodata: Option<f64>,
    /// Value of band `b` (1-based) at column `x`, row `y`.
    pixel: fn(usize, usize, usize) -> u8,
}

impl Raster {
    /// Writes the raster as a GeoTIFF at `path` and opens it again for reading.
    fn write(&self, path: &Path) -> Dataset {
        let driver = DriverManager::get_driver_by_name("GTiff").unwrap();
        let mut dataset = driver
            .create_with_band_type::<u8, _>(path, self.width, self.height, self.bands)
            .unwrap();
        if let Some(gt) = self.gt {
            dataset.set_geo_transform(&gt).unwrap();
        }
        if let Some(epsg) = self.epsg {
            dataset
                .set_spatial_ref(&SpatialRef::from_epsg(epsg).unwrap())
                .unwrap();
        }
        for b in 1..=self.bands {
            let mut band = dataset.rasterband(b).unwrap();
            let data: Vec<u8> = (0..self.height)
                .flat_map(|y| (0..self.width).map(move |x| (x, y)))
                .map(|(x, y)| (self.pixel)(b, x, y))
                .collect();
            let mut buffer = Buffer::new((self.width, self.height), data);
            band.write((0, 0), (self.width, self.height), &mut buffer)
                .unwrap();
            if self.alpha && b == self.bands {
                band.set_color_interpretation(ColorInterpretation::AlphaBand)
                    .unwrap();
            }
            if self.nodata.is_some() {
                band.set_no_data_value(self.nodata).unwrap();
            }
        }
        dataset.close().unwrap();
        Dataset::open(path).unwrap()
    }
}

fn bbox(footprint: &MultiPolygon<f64>) -> [f64; 4] {
    let r = footprint.bounding_rect().unwrap();
    [r.min().x, r.min().y, r.max().x, r.max().y]
}

fn assert_close(found: [f64; 4], expected: [f64; 4], tolerance: f64) {
    for (f, e) in found.iter().zip(expected) {
        assert!(
            (f - e).abs() <= tolerance,
            "{found:?} differs from {expected:?} by more than {tolerance}"
        );
    }
}

/// Projects `(x, y)` of `EPSG:epsg` to lon/lat.
fn to_lon_lat(epsg: u32, x: f64, y: f64) -> (f64, f64) {
    let mut from = SpatialRef::from_epsg(epsg).unwrap();
    from.set_axis_mapping_strategy(AxisMappingStrategy::TraditionalGisOrder);
    let mut to = SpatialRef::from_epsg(4326).unwrap();
    to.set_axis_mapping_strategy(AxisMappingStrategy::TraditionalGisOrder);
    let (mut xs, mut ys) = ([x], [y]);
    CoordTransform::new(&from, &to)
        .unwrap()
        .transform_coords(&mut xs, &mut ys, &mut [])
        .unwrap();
    (xs[0], ys[0])
}

#[test]
fn a_fully_valid_raster_is_its_bounding_box() {
    let dir = tempfile::tempdir().unwrap();
    let pixel = 0.01;
    let dataset = Raster {
        width: 200,
        height: 100,
        gt: Some([10.0, pixel, 0.0, 50.0, 0.0, -pixel]),
        epsg: Some(4326),
        bands: 3,
        alpha: false,
        nodata: None,
        pixel: |b, x, y| (b * 50 + x + y) as u8,
    }
    .write(&dir.path().join("full.tif"));
    let footprint = valid_data_footprint(&dataset).unwrap();
    assert_eq!(footprint.0.len(), 1);
    assert_close(bbox(&footprint), [10.0, 49.0, 12.0, 50.0], pixel / 2.0);
    assert!((footprint.unsigned_area() - 2.0).abs() < 2.0 * 0.01);
}

#[test]
fn an_alpha_band_diamond_is_followed() {
    let dir = tempfile::tempdir().unwrap();
    let pixel = 0.001;
    // Opaque where |x - 200| + |y - 200| <= 150 (pixel centres): a diamond of half-diagonal
    // 150 pixels centred on the raster, whose corners are transparent.
    let dataset = Raster {
        width: 400,
        height: 400,
        gt: Some([20.0, pixel, 0.0, 40.0, 0.0, -pixel]),
        epsg: Some(4326),
        bands: 2,
        alpha: true,
        nodata: None,
        pixel: |b, x, y| {
            let inside = (x as f64 + 0.5 - 200.0).abs() + (y as f64 + 0.5 - 200.0).abs() <= 150.0;
            match (b, inside) {
                (1, _) => 128,
                (_, true) => 255,
                (_, false) => 0,
            }
        },
    }
    .write(&dir.path().join("diamond.tif"));
    let footprint = valid_data_footprint(&dataset).unwrap();
    // The diamond's box: 50..350 pixels on both axes.
    assert_close(bbox(&footprint), [20.05, 39.65, 20.35, 39.95], 2.0 * pixel);
    let expected = 2.0 * (150.0 * pixel) * (150.0 * pixel);
    let area = footprint.unsigned_area();
    assert!(
        (area - expected).abs() / expected < 0.03,
        "area {area} vs {expected}"
    );
    // The centre is in, the raster's corners (transparent) are out.
    assert!(footprint.contains(&Point::new(20.2, 39.8)));
    for (lon, lat) in [
        (20.01, 39.99),
        (20.39, 39.99),
        (20.01, 39.61),
        (20.39, 39.61),
    ] {
        assert!(!footprint.contains(&Point::new(lon, lat)), "({lon}, {lat})");
    }
    // Simplified: a diamond needs a handful of points, not one per row.
    let points: usize = footprint.0.iter().map(|p| p.exterior().0.len()).sum();
    assert!(points < 100, "{points} points");
}

#[test]
fn a_utm_raster_with_nodata_is_projected() {
    let dir = tempfile::tempdir().unwrap();
    // 300 × 200 pixels of 100 m in UTM zone 33N, the left 100 columns nodata (0).
    let (x0, y0, size) = (500_000.0, 5_000_000.0, 100.0);
    let dataset = Raster {
        width: 300,
        height: 200,
        gt: Some([x0, size, 0.0, y0, 0.0, -size]),
        epsg: Some(32633),
        bands: 1,
        alpha: false,
        nodata: Some(0.0),
        pixel: |_, x, _| if x < 100 { 0 } else { 200 },
    }
    .write(&dir.path().join("utm.tif"));
    let footprint = valid_data_footprint(&dataset).unwrap();
    let corners = [
        (x0 + 100.0 * size, y0),
        (x0 + 300.0 * size, y0),
        (x0 + 300.0 * size, y0 - 200.0 * size),
        (x0 + 100.0 * size, y0 - 200.0 * size),
    ]
    .map(|(x, y)| to_lon_lat(32633, x, y));
    let expected = corners.iter().fold(
        [
            f64::INFINITY,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NEG_INFINITY,
        ],
        |[w, s, e, n], &(lon, lat)| [w.min(lon), s.min(lat), e.max(lon), n.max(lat)],
    );
    // Within a pixel (100 m ≈ 0.0013° here).
    assert_close(bbox(&footprint), expected, 0.0015);
    // Points just inside each valid corner are in; the nodata part is out.
    let centre = to_lon_lat(32633, x0 + 200.0 * size, y0 - 100.0 * size);
    assert!(footprint.contains(&Point::new(centre.0, centre.1)));
    for (x, y) in [
        (x0 + 101.0 * size, y0 - size),
        (x0 + 299.0 * size, y0 - size),
        (x0 + 299.0 * size, y0 - 199.0 * size),
        (x0 + 101.0 * size, y0 - 199.0 * size),
    ] {
        let (lon, lat) = to_lon_lat(32633, x, y);
        assert!(footprint.contains(&Point::new(lon, lat)), "({x}, {y})");
    }
    let (lon, lat) = to_lon_lat(32633, x0 + 50.0 * size, y0 - 100.0 * size);
    assert!(!footprint.contains(&Point::new(lon, lat)));
}

#[test]
fn a_raster_across_the_antimeridian_is_split() {
    let dir = tempfile::tempdir().unwrap();
    let pixel = 0.01;
    // Longitudes 179..181, all valid.
    let dataset = Raster {
        width: 200,
        height: 100,
        gt: Some([179.0, pixel, 0.0, -10.0, 0.0, -pixel]),
        epsg: Some(4326),
        bands: 1,
        alpha: false,
        nodata: None,
        pixel: |_, _, _| 1,
    }
    .write(&dir.path().join("antimeridian.tif"));
    let footprint = valid_data_footprint(&dataset).unwrap();
    assert_eq!(footprint.0.len(), 2, "{footprint:?}");
    let mut boxes: Vec<[f64; 4]> = footprint
        .0
        .iter()
        .map(|p| {
            let r = p.bounding_rect().unwrap();
            [r.min().x, r.min().y, r.max().x, r.max().y]
        })
        .collect();
    boxes.sort_by(|a, b| a[0].total_cmp(&b[0]));
    assert_close(boxes[0], [-180.0, -11.0, -179.0, -10.0], pixel / 2.0);
    assert_close(boxes[1], [179.0, -11.0, 180.0, -10.0], pixel / 2.0);
}

#[test]
fn a_large_cog_is_read_at_a_reduced_resolution() {
    let dir = tempfile::tempdir().unwrap();
    let pixel = 0.001;
    // 3000 × 1500 pixels, opaque in columns 600..2400 and rows 300..1200.
    let source = Raster {
        width: 3000,
        height: 1500,
        gt: Some([0.0, pixel, 0.0, 10.0, 0.0, -pixel]),
        epsg: Some(4326),
        bands: 2,
        alpha: true,
        nodata: None,
        pixel: |b, x, y| {
            let inside = (600..2400).contains(&x) && (300..1200).contains(&y);
            if b == 1 || inside { 255 } else { 0 }
        },
    }
    .write(&dir.path().join("large.tif"));
    let cog = DriverManager::get_driver_by_name("COG").unwrap();
    let options = RasterCreationOptions::from_iter(["COMPRESS=DEFLATE"]);
    source
        .create_copy(&cog, dir.path().join("large_cog.tif"), &options)
        .unwrap()
        .close()
        .unwrap();
    let dataset = Dataset::open(dir.path().join("large_cog.tif")).unwrap();
    assert!(dataset.rasterband(1).unwrap().overview_count().unwrap() > 0);
    let footprint = valid_data_footprint(&dataset).unwrap();
    // One cell of the reduced grid is 3000 / 512 ≈ 6 pixels.
    assert_close(bbox(&footprint), [0.6, 8.8, 2.4, 9.7], 6.0 * pixel);
}

#[test]
fn a_raster_without_valid_pixels_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let dataset = Raster {
        width: 50,
        height: 50,
        gt: Some([0.0, 0.1, 0.0, 0.0, 0.0, -0.1]),
        epsg: Some(4326),
        bands: 2,
        alpha: true,
        nodata: None,
        pixel: |b, _, _| if b == 1 { 90 } else { 0 },
    }
    .write(&dir.path().join("transparent.tif"));
    let error = valid_data_footprint(&dataset).unwrap_err();
    assert!(matches!(error, RasterError::Unsuitable(_)), "{error:?}");
    assert!(error.to_string().contains("no valid pixel"), "{error}");
}

#[test]
fn a_raster_without_georeferencing_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let plain = Raster {
        width: 20,
        height: 10,
        gt: None,
        epsg: None,
        bands: 1,
        alpha: false,
        nodata: None,
        pixel: |_, _, _| 1,
    }
    .write(&dir.path().join("plain.tif"));
    let error = valid_data_footprint(&plain).unwrap_err();
    assert!(matches!(error, RasterError::Georef(_)), "{error:?}");
    assert!(error.to_string().contains("no geotransform"), "{error}");

    let no_crs = Raster {
        width: 20,
        height: 10,
        gt: Some([0.0, 1.0, 0.0, 0.0, 0.0, -1.0]),
        epsg: None,
        bands: 1,
        alpha: false,
        nodata: None,
        pixel: |_, _, _| 1,
    }
    .write(&dir.path().join("no_crs.tif"));
    let error = valid_data_footprint(&no_crs).unwrap_err();
    assert!(matches!(error, RasterError::Georef(_)), "{error:?}");
    assert!(error.to_string().contains("no CRS"), "{error}");
}

fn utc(value: &str) -> DateTime<Utc> {
    value.parse().unwrap()
}

/// A small georeferenced GeoTIFF with `items` in its default metadata domain.
fn tagged(path: &Path, items: &[(&str, &str)]) -> Dataset {
    let driver = DriverManager::get_driver_by_name("GTiff").unwrap();
    let mut dataset = driver
        .create_with_band_type::<u8, _>(path, 4, 4, 1)
        .unwrap();
    for (key, value) in items {
        dataset.set_metadata_item(key, value, "").unwrap();
    }
    dataset.close().unwrap();
    Dataset::open(path).unwrap()
}

#[test]
fn times_from_tiff_tags() {
    let dir = tempfile::tempdir().unwrap();
    let dataset = tagged(
        &dir.path().join("datetime.tif"),
        &[("TIFFTAG_DATETIME", "2010:07:22 21:38:40")],
    );
    let at = utc("2010-07-22T21:38:40Z");
    assert_eq!(time_from_tags(&dataset), Some((at, at)));

    let dataset = tagged(
        &dir.path().join("acquisition.tif"),
        &[
            ("TIFFTAG_DATETIME", "2020:01:01 00:00:00"),
            ("ACQUISITION_START_TIME", "2023-01-01T10:30:21Z"),
            ("ACQUISITION_END_TIME", "2023-01-01T10:31:00.5Z"),
        ],
    );
    assert_eq!(
        time_from_tags(&dataset),
        Some((utc("2023-01-01T10:30:21Z"), utc("2023-01-01T10:31:00.5Z")))
    );

    let dataset = tagged(&dir.path().join("none.tif"), &[]);
    assert_eq!(time_from_tags(&dataset), None);

    let dataset = tagged(
        &dir.path().join("garbage.tif"),
        &[("TIFFTAG_DATETIME", "yesterday")],
    );
    assert_eq!(time_from_tags(&dataset), None);
}
