//! Map images from real COGs: newest on top, transparency outside footprints, other CRSs,
//! the antimeridian, encodings.

use std::path::{Path, PathBuf};

use gdal::Dataset;
use gdal::raster::Buffer;
use pvs_model::{BrowseReport, Footprint, Geolocation, ReferenceSystem};
use pvs_raster::convert::{CogOptions, Placement, to_cog};
use pvs_raster::render::{Format, MosaicSource, Rgba, View, encode, mosaic};
use pvs_raster::style::{Colormap, Style};

/// The COGs at `paths`, drawn wherever they have valid pixels.
fn unclipped(paths: &[String]) -> Vec<MosaicSource> {
    paths.iter().map(MosaicSource::unclipped).collect()
}

/// A COG of `width` × `height` pixels of one grey `value` over the lon/lat box `bbox`.
fn flat_cog(dir: &Path, name: &str, value: u8, bbox: [f64; 4]) -> String {
    let (width, height) = (200, 100);
    let source = dir.join(format!("{name}-source.tif"));
    let driver = gdal::DriverManager::get_driver_by_name("GTiff").unwrap();
    let dataset = driver
        .create_with_band_type::<u8, _>(&source, width, height, 3)
        .unwrap();
    for index in 1..=3 {
        let mut buffer = Buffer::new((width, height), vec![value; width * height]);
        dataset
            .rasterband(index)
            .unwrap()
            .write((0, 0), (width, height), &mut buffer)
            .unwrap();
    }
    drop(dataset);
    let [west, south, east, north] = bbox;
    let geolocation = Geolocation::Rectified {
        ll: (south, west),
        ur: (north, east),
    };
    let output = dir.join(format!("{name}.tif"));
    to_cog(
        source.to_str().unwrap(),
        &Placement {
            geolocation: &geolocation,
            reference_system: ReferenceSystem::Epsg(4326),
            footprint: None,
        },
        &output,
        &CogOptions::default(),
    )
    .unwrap();
    output.display().to_string()
}

/// The pixel of `view` holding (x, y).
fn at(image: &Rgba, view: &View, x: f64, y: f64) -> [u8; 4] {
    let [x0, y0, x1, y1] = view.bbox;
    let column = ((x - x0) / (x1 - x0) * view.width as f64) as usize;
    let row = ((y1 - y) / (y1 - y0) * view.height as f64) as usize;
    image.pixel(column, row)
}

/// EPSG:3857 coordinates of a lon/lat position (the spherical Mercator formulas).
fn mercator(lon: f64, lat: f64) -> (f64, f64) {
    const R: f64 = 6_378_137.0;
    (
        R * lon.to_radians(),
        R * (std::f64::consts::FRAC_PI_4 + lat.to_radians() / 2.0)
            .tan()
            .ln(),
    )
}

#[test]
fn newest_product_is_on_top_and_outside_is_transparent() {
    let dir = tempfile::tempdir().unwrap();
    let older = flat_cog(dir.path(), "older", 100, [10.0, 40.0, 12.0, 41.0]);
    let newer = flat_cog(dir.path(), "newer", 200, [11.0, 40.0, 13.0, 41.0]);
    let view = View {
        epsg: 4326,
        bbox: [9.0, 39.5, 14.0, 41.5],
        width: 500,
        height: 200,
    };
    let image = mosaic(
        &unclipped(&[newer.clone(), older.clone()]),
        &view,
        &Style::default(),
    )
    .unwrap();
    assert_eq!(
        at(&image, &view, 11.5, 40.5),
        [200, 200, 200, 255],
        "overlap: newest"
    );
    assert_eq!(
        at(&image, &view, 10.5, 40.5),
        [100, 100, 100, 255],
        "older only"
    );
    assert_eq!(
        at(&image, &view, 12.5, 40.5),
        [200, 200, 200, 255],
        "newer only"
    );
    assert_eq!(at(&image, &view, 13.5, 40.5)[3], 0, "no product");
    assert_eq!(at(&image, &view, 11.5, 41.3)[3], 0, "north of both");

    // The other order puts the older one on top.
    let image = mosaic(&unclipped(&[older, newer]), &view, &Style::default()).unwrap();
    assert_eq!(at(&image, &view, 11.5, 40.5), [100, 100, 100, 255]);

    // In Web Mercator, the same places.
    let (x0, y0) = mercator(9.0, 39.5);
    let (x1, y1) = mercator(14.0, 41.5);
    let view = View {
        epsg: 3857,
        bbox: [x0, y0, x1, y1],
        width: 500,
        height: 250,
    };
    let image = mosaic(
        &unclipped(&[flat_cog(dir.path(), "again", 50, [10.0, 40.0, 12.0, 41.0])]),
        &view,
        &Style::default(),
    )
    .unwrap();
    let (x, y) = mercator(11.0, 40.5);
    assert_eq!(at(&image, &view, x, y), [50, 50, 50, 255]);
    let (x, y) = mercator(12.5, 40.5);
    assert_eq!(at(&image, &view, x, y)[3], 0);
}

#[test]
fn an_opaque_view_stops_before_older_products() {
    let dir = tempfile::tempdir().unwrap();
    let cover = flat_cog(dir.path(), "cover", 30, [0.0, 0.0, 10.0, 10.0]);
    let view = View {
        epsg: 4326,
        bbox: [2.0, 2.0, 8.0, 8.0],
        width: 64,
        height: 64,
    };
    // A product that cannot be opened comes after one that covers the view: never read.
    let broken = dir.path().join("broken.tif");
    std::fs::write(&broken, b"not a tiff").unwrap();
    let image = mosaic(
        &unclipped(&[cover.clone(), broken.display().to_string()]),
        &view,
        &Style::default(),
    )
    .unwrap();
    assert!(image.is_opaque());
    // Before it, it fails with its reason.
    let error = mosaic(
        &unclipped(&[broken.display().to_string(), cover]),
        &view,
        &Style::default(),
    )
    .unwrap_err();
    assert!(error.to_string().contains("broken.tif"), "{error}");
}

#[test]
fn a_product_across_the_antimeridian_shows_on_both_sides() {
    let dir = tempfile::tempdir().unwrap();
    let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/ngeo/test_data");
    let report = BrowseReport::parse(
        &std::fs::read(fixtures.join("BrowseReport_crosses_dateline2.xml")).unwrap(),
    )
    .unwrap();
    let browse = report.valid_browses().next().unwrap();
    let Footprint::Wgs84(footprint) = &browse.footprint else {
        panic!("a 4326 footprint");
    };
    let output = dir.path().join("dateline.tif");
    to_cog(
        fixtures
            .join("BrowseReport_crosses_dateline2.png")
            .to_str()
            .unwrap(),
        &Placement {
            geolocation: &browse.geolocation,
            reference_system: browse.reference_system,
            footprint: Some(footprint.clone()),
        },
        &output,
        &CogOptions::default(),
    )
    .unwrap();
    let cog = vec![MosaicSource::new(
        output.display().to_string(),
        footprint.clone(),
    )];
    let (west_x0, west_y0) = mercator(-180.0, 76.0);
    let (west_x1, west_y1) = mercator(-170.0, 84.0);
    for (epsg, bbox) in [
        (4326, [170.0, 76.0, 180.0, 84.0]),
        (4326, [-180.0, 76.0, -170.0, 84.0]),
        (3857, [west_x0, west_y0, west_x1, west_y1]),
    ] {
        let view = View {
            epsg,
            bbox,
            width: 100,
            height: 80,
        };
        let image = mosaic(&cog, &view, &Style::default()).unwrap();
        let opaque = image.pixels.chunks_exact(4).filter(|p| p[3] == 255).count();
        assert!(opaque > 500, "{bbox:?}: only {opaque} opaque pixels");
    }
}

#[test]
fn images_encode_to_png_jpeg_and_webp() {
    let dir = tempfile::tempdir().unwrap();
    let mut image = Rgba::transparent(4, 2);
    image.pixels[..4].copy_from_slice(&[255, 0, 0, 255]);
    for (format, bands) in [(Format::Png, 4), (Format::Jpeg, 3), (Format::Webp, 4)] {
        let bytes = encode(&image, format, [0, 0, 255]).unwrap();
        let path = dir
            .path()
            .join(format!("out.{}", format.mime().replace('/', "_")));
        std::fs::write(&path, &bytes).unwrap();
        let dataset = Dataset::open(&path).unwrap();
        assert_eq!(dataset.raster_count(), bands, "{format:?}");
        assert_eq!(dataset.raster_size(), (4, 2));
        let read = |band: usize, x: isize| -> u8 {
            let b: Buffer<u8> = dataset
                .rasterband(band)
                .unwrap()
                .read_as((x, 0), (1, 1), (1, 1), None)
                .unwrap();
            b.data()[0]
        };
        if format == Format::Png {
            assert_eq!((read(1, 0), read(4, 0), read(4, 3)), (255, 255, 0));
        }
        if format == Format::Jpeg {
            // Transparent pixels are laid on the background colour (blue).
            assert!(read(3, 3) > 200 && read(1, 3) < 60, "{}", read(3, 3));
        }
    }
}

#[test]
fn bad_views_are_refused() {
    let view = |bbox: [f64; 4], width, height| View {
        epsg: 4326,
        bbox,
        width,
        height,
    };
    for bad in [
        view([1.0, 0.0, 0.0, 1.0], 10, 10),
        view([0.0, 0.0, 1.0, f64::NAN], 10, 10),
        view([0.0, 0.0, 1.0, 1.0], 0, 10),
        view([0.0, 0.0, 1.0, 1.0], 100_000, 10),
    ] {
        assert!(mosaic(&[], &bad, &Style::default()).is_err(), "{bad:?}");
    }
}

/// A GeoTIFF of 16-bit data over a lon/lat box: band 1 rises from 1000 (west) to 3000
/// (east), band 2 is 500 everywhere; nodata 0 in the eastern quarter.
fn data_tiff(dir: &Path, bbox: [f64; 4]) -> String {
    let (width, height) = (100, 50);
    let path = dir.join("data.tif");
    let driver = gdal::DriverManager::get_driver_by_name("GTiff").unwrap();
    let mut dataset = driver
        .create_with_band_type::<u16, _>(&path, width, height, 2)
        .unwrap();
    let [west, south, east, north] = bbox;
    dataset
        .set_geo_transform(&[
            west,
            (east - west) / width as f64,
            0.0,
            north,
            0.0,
            -(north - south) / height as f64,
        ])
        .unwrap();
    dataset
        .set_spatial_ref(&gdal::spatial_ref::SpatialRef::from_epsg(4326).unwrap())
        .unwrap();
    let ramp: Vec<u16> = (0..width * height)
        .map(|i| {
            let x = i % width;
            if x >= 75 {
                0
            } else {
                1000 + (x * 2000 / width) as u16
            }
        })
        .collect();
    let mut band = dataset.rasterband(1).unwrap();
    band.set_no_data_value(Some(0.0)).unwrap();
    band.write(
        (0, 0),
        (width, height),
        &mut Buffer::new((width, height), ramp),
    )
    .unwrap();
    let mut band = dataset.rasterband(2).unwrap();
    band.set_no_data_value(Some(0.0)).unwrap();
    let constant: Vec<u16> = (0..width * height)
        .map(|i| if i % width >= 75 { 0 } else { 500 })
        .collect();
    band.write(
        (0, 0),
        (width, height),
        &mut Buffer::new((width, height), constant),
    )
    .unwrap();
    path.display().to_string()
}

#[test]
fn styles_select_bands_rescale_and_colour_single_band_data() {
    let dir = tempfile::tempdir().unwrap();
    let source = data_tiff(dir.path(), [0.0, 0.0, 10.0, 5.0]);
    let view = View {
        epsg: 4326,
        bbox: [0.0, 0.0, 10.0, 5.0],
        width: 100,
        height: 50,
    };
    // Column 50 holds 2000: halfway through [1000, 3000], i.e. 128 after the stretch.
    let rescaled = Style::new(Some(vec![1]), Some([1000.0, 3000.0]), None).unwrap();
    let image = mosaic(&unclipped(std::slice::from_ref(&source)), &view, &rescaled).unwrap();
    assert_eq!(image.pixel(50, 25), [128, 128, 128, 255]);
    assert_eq!(image.pixel(0, 25), [0, 0, 0, 255]);
    // Nodata stays transparent.
    assert_eq!(image.pixel(90, 25)[3], 0);
    let coloured = Style::new(
        Some(vec![1]),
        Some([1000.0, 3000.0]),
        Some(Colormap::Viridis),
    )
    .unwrap();
    let image = mosaic(&unclipped(std::slice::from_ref(&source)), &view, &coloured).unwrap();
    let [r, g, b] = Colormap::Viridis.colour(128);
    assert_eq!(image.pixel(50, 25), [r, g, b, 255]);
    // Band 2 (500 everywhere) stretched over [0, 1000] is 128 grey.
    let second = Style::new(Some(vec![2]), Some([0.0, 1000.0]), None).unwrap();
    let image = mosaic(&unclipped(std::slice::from_ref(&source)), &view, &second).unwrap();
    assert_eq!(image.pixel(10, 10), [128, 128, 128, 255]);
    // Without a stretch, 16-bit values are clamped to 255.
    let clamped = Style::new(Some(vec![2]), None, None).unwrap();
    let image = mosaic(&unclipped(std::slice::from_ref(&source)), &view, &clamped).unwrap();
    assert_eq!(image.pixel(10, 10), [255, 255, 255, 255]);
    // A band the raster does not have is an error naming it.
    let missing = Style::new(Some(vec![3]), None, None).unwrap();
    let error = mosaic(&unclipped(&[source]), &view, &missing)
        .unwrap_err()
        .to_string();
    assert!(error.contains("band 3"), "{error}");
}
