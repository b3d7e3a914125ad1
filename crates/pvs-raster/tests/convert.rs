//! Every browse image of the ngEO corpus in `fixtures/ngeo/` becomes a valid COG whose corners
//! match its footprint within half a pixel, transparent outside the footprint; placements are
//! checked on synthetic images whose pixels are known; bad inputs fail with their reason.

use std::path::{Path, PathBuf};

use gdal::Dataset;
use gdal::raster::{Buffer, ColorInterpretation};
use geo::BoundingRect;
use pvs_model::{
    Browse, BrowseReport, Compression, Footprint, Geolocation, ImageSize, Pixel, ReferenceSystem,
};
use pvs_raster::RasterError;
use pvs_raster::cog;
use pvs_raster::convert::{CogOptions, Placement, to_cog};

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/ngeo")
}

/// Every report under `fixtures/ngeo`, recursively.
fn reports() -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut dirs = vec![fixtures_dir()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "xml") {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

fn placement(browse: &Browse) -> Placement<'_> {
    Placement {
        geolocation: &browse.geolocation,
        reference_system: browse.reference_system,
        footprint: match &browse.footprint {
            Footprint::Wgs84(multi) => Some(multi.clone()),
            _ => None,
        },
    }
}

/// The box the COG must cover, computed from the report alone: the outline's coordinates in
/// x/y order (EPSG:4326 pairs are lat lon), longitudes made continuous.
fn expected_box(browse: &Browse) -> Option<[f64; 4]> {
    let outline = browse.geolocation.outline()?;
    let ReferenceSystem::Epsg(epsg) = browse.reference_system else {
        return None;
    };
    let mut xy: Vec<(f64, f64)> = if epsg == 4326 {
        outline.iter().map(|&(lat, lon)| (lon, lat)).collect()
    } else {
        outline
    };
    if epsg == 4326 {
        for i in 1..xy.len() {
            while xy[i].0 - xy[i - 1].0 > 180.0 {
                xy[i].0 -= 360.0;
            }
            while xy[i].0 - xy[i - 1].0 < -180.0 {
                xy[i].0 += 360.0;
            }
        }
        let west = xy.iter().map(|p| p.0).fold(f64::INFINITY, f64::min);
        if west < -180.0 {
            xy.iter_mut().for_each(|p| p.0 += 360.0);
        }
    }
    Some(xy.iter().fold(
        [
            f64::INFINITY,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NEG_INFINITY,
        ],
        |b, p| [b[0].min(p.0), b[1].min(p.1), b[2].max(p.0), b[3].max(p.1)],
    ))
}

fn alpha_at(dataset: &Dataset, x: f64, y: f64) -> u8 {
    let gt = dataset.geo_transform().unwrap();
    let column = ((x - gt[0]) / gt[1]).floor() as isize;
    let row = ((y - gt[3]) / gt[5]).floor() as isize;
    let band = dataset.rasterband(dataset.raster_count()).unwrap();
    assert_eq!(band.color_interpretation(), ColorInterpretation::AlphaBand);
    let buffer: Buffer<u8> = band.read_as((column, row), (1, 1), (1, 1), None).unwrap();
    buffer.data()[0]
}

#[test]
fn every_fixture_image_becomes_a_valid_cog_on_its_footprint() {
    let out = tempfile::tempdir().unwrap();
    let mut converted = 0;
    let mut kinds = std::collections::HashSet::new();
    for report_path in reports() {
        let report = BrowseReport::parse(&std::fs::read(&report_path).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", report_path.display()));
        for browse in report.valid_browses() {
            let image = report_path
                .parent()
                .unwrap()
                .join(browse.file_name.as_str());
            let name = format!("{}: {}", report_path.display(), browse.file_name.as_str());
            if !image.exists() {
                // BrowseReport_FAILURE.xml names an image that does not exist.
                let error = to_cog(
                    image.to_str().unwrap(),
                    &placement(browse),
                    &out.path().join("missing.tif"),
                    &CogOptions::default(),
                )
                .unwrap_err();
                assert!(matches!(error, RasterError::Open { .. }), "{name}: {error}");
                continue;
            }
            let output = out.path().join(format!("{converted}.tif"));
            let result = to_cog(
                image.to_str().unwrap(),
                &placement(browse),
                &output,
                &CogOptions::default(),
            )
            .unwrap_or_else(|e| panic!("{name}: {e}"));
            converted += 1;
            kinds.insert(std::mem::discriminant(&browse.geolocation));

            let validation = cog::validate(&output).unwrap();
            assert!(validation.is_valid(), "{name}: {:?}", validation.errors);
            let cog_dataset = Dataset::open(&output).unwrap();
            let description = result.description.clone();
            assert_eq!(description, cog::describe(&cog_dataset).unwrap());
            if description.width > 512 || description.height > 512 {
                assert!(validation.ifd_offsets.len() > 1, "{name}: no overviews");
            }

            let expected = match expected_box(browse) {
                Some(expected) => expected,
                // modelInGeotiff: the image's own box.
                None => cog::describe(&Dataset::open(&image).unwrap()).unwrap().bbox,
            };
            let [half_x, half_y] = description.resolution.map(|r| r / 2.0);
            for (i, (got, want)) in description.bbox.iter().zip(expected).enumerate() {
                let tolerance = if i % 2 == 0 { half_x } else { half_y };
                assert!(
                    (got - want).abs() <= tolerance,
                    "{name}: corner {i}: COG {got}, footprint {want} (half a pixel = {tolerance})"
                );
            }

            // The footprint is valid EPSG:4326 and lies on the COG (modulo 360° for
            // antimeridian footprints).
            let footprint_box = result.footprint.bounding_rect().unwrap();
            assert!(footprint_box.min().x >= -180.0 && footprint_box.max().x <= 180.0);

            if result.warped {
                assert!(
                    description.alpha,
                    "{name}: a warped image has an alpha band"
                );
                // Opaque at the centre of the tie points, transparent in some corner of
                // the box (the footprints are not axis-aligned rectangles).
                let ties = browse
                    .geolocation
                    .tie_points(description.width, description.height);
                let [x0, y0, x1, y1] = description.bbox;
                let centre = ((x0 + x1) / 2.0, (y0 + y1) / 2.0);
                assert_eq!(
                    alpha_at(&cog_dataset, centre.0, centre.1),
                    255,
                    "{name}: centre"
                );
                let (dx, dy) = (description.resolution[0], description.resolution[1]);
                let corners = [
                    (x0 + dx / 2.0, y0 + dy / 2.0),
                    (x1 - dx / 2.0, y0 + dy / 2.0),
                    (x0 + dx / 2.0, y1 - dy / 2.0),
                    (x1 - dx / 2.0, y1 - dy / 2.0),
                ];
                assert!(
                    corners
                        .iter()
                        .any(|&(x, y)| alpha_at(&cog_dataset, x, y) == 0),
                    "{name}: no transparent corner ({} tie points)",
                    ties.len()
                );
            }
        }
    }
    assert!(converted >= 20, "only {converted} images converted");
    assert_eq!(kinds.len(), 4, "all four geolocation kinds are covered");
}

#[test]
fn antimeridian_image_is_one_continuous_raster_and_a_split_footprint() {
    let path = fixtures_dir().join("test_data/BrowseReport_crosses_dateline2.xml");
    let report = BrowseReport::parse(&std::fs::read(&path).unwrap()).unwrap();
    let browse = report.valid_browses().next().unwrap();
    let image = fixtures_dir().join("test_data/BrowseReport_crosses_dateline2.png");
    let out = tempfile::tempdir().unwrap();
    let output = out.path().join("dateline.tif");
    let result = to_cog(
        image.to_str().unwrap(),
        &placement(browse),
        &output,
        &CogOptions::default(),
    )
    .unwrap();
    let [west, _, east, _] = result.description.bbox;
    assert!(
        west < 180.0 && east > 180.0,
        "{:?}",
        result.description.bbox
    );
    assert!(
        east - west < 40.0,
        "not a world-wide raster: {west}..{east}"
    );
    assert_eq!(result.footprint.0.len(), 2, "split at the antimeridian");
}

/// A synthetic `width` × `height` RGB GeoTIFF (no georeferencing) that is dark everywhere
/// but for a bright block at pixels [bx, bx + 10) × [by, by + 10).
fn synthetic(dir: &Path, width: usize, height: usize, block: (usize, usize)) -> PathBuf {
    let path = dir.join("synthetic.tif");
    let driver = gdal::DriverManager::get_driver_by_name("GTiff").unwrap();
    let dataset = driver
        .create_with_band_type::<u8, _>(&path, width, height, 3)
        .unwrap();
    let mut pixels = vec![20u8; width * height];
    for row in block.1..block.1 + 10 {
        for column in block.0..block.0 + 10 {
            pixels[row * width + column] = 250;
        }
    }
    for index in 1..=3 {
        let mut buffer = Buffer::new((width, height), pixels.clone());
        dataset
            .rasterband(index)
            .unwrap()
            .write((0, 0), (width, height), &mut buffer)
            .unwrap();
    }
    drop(dataset);
    path
}

fn value_at(dataset: &Dataset, x: f64, y: f64) -> u8 {
    let gt = dataset.geo_transform().unwrap();
    let column = ((x - gt[0]) / gt[1]).floor() as isize;
    let row = ((y - gt[3]) / gt[5]).floor() as isize;
    let buffer: Buffer<u8> = dataset
        .rasterband(1)
        .unwrap()
        .read_as((column, row), (1, 1), (1, 1), None)
        .unwrap();
    buffer.data()[0]
}

#[test]
fn tie_points_put_known_pixels_at_their_coordinates() {
    let dir = tempfile::tempdir().unwrap();
    // 200 × 100 pixels over lon 10..12, lat 40..41 (north up), via 5 footprint nodes given
    // as `lat lon` with ncol/nrow tokens; the bright block at pixels 150..160 × 20..30 is at
    // lon 11.5..11.6, lat 40.7..40.8.
    let image = synthetic(dir.path(), 200, 100, (150, 20));
    let geolocation = Geolocation::Footprint {
        col_row: vec![
            (Pixel::At(0.0), Pixel::At(0.0)),
            (Pixel::At(0.0), Pixel::Size(ImageSize::Height)),
            (
                Pixel::Size(ImageSize::Width),
                Pixel::Size(ImageSize::Height),
            ),
            (Pixel::Size(ImageSize::Width), Pixel::At(0.0)),
            (Pixel::At(0.0), Pixel::At(0.0)),
        ],
        coords: vec![
            (41.0, 10.0),
            (40.0, 10.0),
            (40.0, 12.0),
            (41.0, 12.0),
            (41.0, 10.0),
        ],
    };
    let placement = Placement {
        geolocation: &geolocation,
        reference_system: ReferenceSystem::Epsg(4326),
        footprint: None,
    };
    let output = dir.path().join("out.tif");
    let result = to_cog(
        image.to_str().unwrap(),
        &placement,
        &output,
        &CogOptions::default(),
    )
    .unwrap();
    assert!(result.warped);
    let cog_dataset = Dataset::open(&output).unwrap();
    assert_eq!(value_at(&cog_dataset, 11.55, 40.75), 250, "block centre");
    assert_eq!(value_at(&cog_dataset, 10.5, 40.5), 20, "elsewhere");
    assert_eq!(
        value_at(&cog_dataset, 11.45, 40.75),
        20,
        "west of the block"
    );
    let [west, south, east, north] = result.description.bbox;
    assert!((west - 10.0).abs() < 1e-6 && (east - 12.0).abs() < 1e-6);
    assert!((south - 40.0).abs() < 1e-6 && (north - 41.0).abs() < 1e-6);
    // The footprint was computed from the nodes.
    let rect = result.footprint.bounding_rect().unwrap();
    assert_eq!((rect.min().x, rect.max().y), (10.0, 41.0));
}

#[test]
fn rectified_box_in_utm_and_mirrored_box() {
    let dir = tempfile::tempdir().unwrap();
    let image = synthetic(dir.path(), 100, 100, (0, 0));
    // UTM 33N, x y order: 10 m pixels; the block is the top-left corner.
    let utm = Geolocation::Rectified {
        ll: (500_000.0, 4_000_000.0),
        ur: (501_000.0, 4_001_000.0),
    };
    let output = dir.path().join("utm.tif");
    let result = to_cog(
        image.to_str().unwrap(),
        &Placement {
            geolocation: &utm,
            reference_system: ReferenceSystem::Epsg(32633),
            footprint: None,
        },
        &output,
        &CogOptions::default(),
    )
    .unwrap();
    assert!(!result.warped);
    assert_eq!(result.description.crs, "EPSG:32633");
    assert_eq!(
        result.description.bbox,
        [500_000.0, 4_000_000.0, 501_000.0, 4_001_000.0]
    );
    let cog_dataset = Dataset::open(&output).unwrap();
    assert_eq!(value_at(&cog_dataset, 500_050.0, 4_000_950.0), 250);
    // The footprint is the box projected: around 15°E, 36.1°N.
    let rect = result.footprint.bounding_rect().unwrap();
    assert!((rect.min().x - 15.0).abs() < 0.01, "{rect:?}");
    assert!((rect.min().y - 36.1447).abs() < 0.001, "{rect:?}");

    // Latitudes swapped: the image is upside down; the block ends up at the bottom-left.
    let mirrored = Geolocation::Rectified {
        ll: (41.0, 10.0),
        ur: (40.0, 11.0),
    };
    let output = dir.path().join("mirrored.tif");
    let result = to_cog(
        image.to_str().unwrap(),
        &Placement {
            geolocation: &mirrored,
            reference_system: ReferenceSystem::Epsg(4326),
            footprint: None,
        },
        &output,
        &CogOptions::default(),
    )
    .unwrap();
    assert!(result.warped);
    assert_eq!(result.description.bbox, [10.0, 40.0, 11.0, 41.0]);
    let cog_dataset = Dataset::open(&output).unwrap();
    assert_eq!(
        value_at(&cog_dataset, 10.05, 40.05),
        250,
        "block at the bottom"
    );
    assert_eq!(value_at(&cog_dataset, 10.05, 40.95), 20, "top is dark");
}

#[test]
fn compression_options_are_applied() {
    let dir = tempfile::tempdir().unwrap();
    let image = synthetic(dir.path(), 1200, 900, (0, 0));
    let geolocation = Geolocation::Rectified {
        ll: (40.0, 10.0),
        ur: (41.0, 11.0),
    };
    for compression in [
        Compression::Deflate,
        Compression::Zstd,
        Compression::Lzw,
        Compression::Jpeg,
        Compression::Webp,
    ] {
        let output = dir.path().join(format!("{}.tif", compression.gdal_name()));
        to_cog(
            image.to_str().unwrap(),
            &Placement {
                geolocation: &geolocation,
                reference_system: ReferenceSystem::Epsg(4326),
                footprint: None,
            },
            &output,
            &CogOptions {
                compression,
                ..CogOptions::default()
            },
        )
        .unwrap_or_else(|e| panic!("{compression:?}: {e}"));
        let validation = cog::validate(&output).unwrap();
        assert!(
            validation.is_valid(),
            "{compression:?}: {:?}",
            validation.errors
        );
        assert!(
            validation.ifd_offsets.len() >= 2,
            "{compression:?}: overviews"
        );
        let dataset = Dataset::open(&output).unwrap();
        use gdal::Metadata;
        assert_eq!(
            dataset
                .metadata_item("COMPRESSION", "IMAGE_STRUCTURE")
                .as_deref(),
            Some(match compression {
                Compression::Jpeg => "YCbCr JPEG",
                other => other.gdal_name(),
            }),
            "{compression:?}"
        );
        let band = dataset.rasterband(1).unwrap();
        assert_eq!(band.block_size(), (512, 512));
    }
}

#[test]
fn model_in_geotiff_with_tie_points_only_is_warped() {
    let dir = tempfile::tempdir().unwrap();
    let image = synthetic(dir.path(), 200, 100, (150, 20));
    {
        // The same placement as `tie_points_put_known_pixels_at_their_coordinates`, as GCPs
        // inside the file.
        let dataset = Dataset::open_ex(
            &image,
            gdal::DatasetOptions {
                open_flags: gdal::GdalOpenFlags::GDAL_OF_UPDATE,
                ..Default::default()
            },
        )
        .unwrap();
        let gcp = |pixel: f64, line: f64, x: f64, y: f64| gdal::Gcp {
            id: String::new(),
            info: String::new(),
            pixel,
            line,
            x,
            y,
            z: 0.0,
        };
        let mut wgs84 = gdal::spatial_ref::SpatialRef::from_epsg(4326).unwrap();
        wgs84
            .set_axis_mapping_strategy(gdal::spatial_ref::AxisMappingStrategy::TraditionalGisOrder);
        dataset
            .set_gcps(
                vec![
                    gcp(0.0, 0.0, 10.0, 41.0),
                    gcp(0.0, 100.0, 10.0, 40.0),
                    gcp(200.0, 100.0, 12.0, 40.0),
                    gcp(200.0, 0.0, 12.0, 41.0),
                ],
                &wgs84,
            )
            .unwrap();
    }
    let output = dir.path().join("out.tif");
    let result = to_cog(
        image.to_str().unwrap(),
        &Placement {
            geolocation: &Geolocation::ModelInGeotiff,
            reference_system: ReferenceSystem::Raw,
            footprint: None,
        },
        &output,
        &CogOptions::default(),
    )
    .unwrap();
    assert!(result.warped && result.description.alpha);
    let cog_dataset = Dataset::open(&output).unwrap();
    assert_eq!(value_at(&cog_dataset, 11.55, 40.75), 250, "block centre");
    let rect = result.footprint.bounding_rect().unwrap();
    assert!(
        (rect.min().x - 10.0).abs() < 0.02 && (rect.max().x - 12.0).abs() < 0.02,
        "{rect:?}"
    );
    assert!(
        (rect.min().y - 40.0).abs() < 0.02 && (rect.max().y - 41.0).abs() < 0.02,
        "{rect:?}"
    );
}

#[test]
fn bad_inputs_fail_with_their_reason() {
    let dir = tempfile::tempdir().unwrap();
    let embedded = Geolocation::ModelInGeotiff;
    let place = |geolocation| Placement {
        geolocation,
        reference_system: ReferenceSystem::Epsg(4326),
        footprint: None,
    };
    let output = dir.path().join("out.tif");
    let options = CogOptions::default();

    // A zero-byte image.
    let empty = fixtures_dir().join("test_data/empty.tif");
    let error = to_cog(
        empty.to_str().unwrap(),
        &place(&embedded),
        &output,
        &options,
    )
    .unwrap_err();
    assert!(matches!(error, RasterError::Open { .. }), "{error}");
    assert!(error.to_string().contains("empty.tif"), "{error}");

    // Garbage bytes.
    let garbage = dir.path().join("garbage.jpg");
    std::fs::write(&garbage, b"\xff\xd8\xff not really a JPEG").unwrap();
    let error = to_cog(
        garbage.to_str().unwrap(),
        &place(&embedded),
        &output,
        &options,
    )
    .unwrap_err();
    assert!(error.to_string().contains("garbage.jpg"), "{error}");

    // modelInGeotiff on an image without georeferencing.
    let plain = synthetic(dir.path(), 50, 50, (0, 0));
    let error = to_cog(
        plain.to_str().unwrap(),
        &place(&embedded),
        &output,
        &options,
    )
    .unwrap_err();
    assert!(error.to_string().contains("no georeferencing"), "{error}");

    // Tie points outside the image.
    let outside = Geolocation::Footprint {
        col_row: vec![
            (Pixel::At(0.0), Pixel::At(0.0)),
            (Pixel::At(0.0), Pixel::At(500.0)),
            (Pixel::At(50.0), Pixel::At(50.0)),
            (Pixel::At(0.0), Pixel::At(0.0)),
        ],
        coords: vec![(41.0, 10.0), (40.0, 10.0), (40.0, 11.0), (41.0, 10.0)],
    };
    let error = to_cog(plain.to_str().unwrap(), &place(&outside), &output, &options).unwrap_err();
    assert!(
        error.to_string().contains("outside the 50 × 50 image"),
        "{error}"
    );

    // An EPSG code PROJ does not know.
    let rectified = Geolocation::Rectified {
        ll: (0.0, 0.0),
        ur: (1.0, 1.0),
    };
    let unknown = Placement {
        geolocation: &rectified,
        reference_system: ReferenceSystem::Epsg(1025),
        footprint: None,
    };
    let error = to_cog(plain.to_str().unwrap(), &unknown, &output, &options).unwrap_err();
    assert!(error.to_string().contains("EPSG:1025"), "{error}");

    // Lossy compression of 16-bit data.
    let driver = gdal::DriverManager::get_driver_by_name("GTiff").unwrap();
    let wide = dir.path().join("uint16.tif");
    driver
        .create_with_band_type::<u16, _>(&wide, 20, 20, 1)
        .unwrap();
    let error = to_cog(
        wide.to_str().unwrap(),
        &Placement {
            geolocation: &rectified,
            reference_system: ReferenceSystem::Epsg(4326),
            footprint: None,
        },
        &output,
        &CogOptions {
            compression: Compression::Jpeg,
            ..options.clone()
        },
    )
    .unwrap_err();
    assert!(error.to_string().contains("8-bit"), "{error}");
}

#[test]
fn a_striped_tiff_is_not_a_cog() {
    let dir = tempfile::tempdir().unwrap();
    let driver = gdal::DriverManager::get_driver_by_name("GTiff").unwrap();
    let path = dir.path().join("striped.tif");
    let dataset = driver
        .create_with_band_type::<u8, _>(&path, 2000, 1500, 1)
        .unwrap();
    drop(dataset);
    let validation = cog::validate(&path).unwrap();
    assert!(!validation.is_valid());
    assert!(
        validation.errors.iter().any(|e| e.contains("not tiled")),
        "{:?}",
        validation.errors
    );
    assert!(
        !validation.warnings.is_empty(),
        "no overviews is warned about"
    );
}
