//! Every browse image of the ngEO corpus (`fixtures/ngeo/`), converted to a COG and
//! registered, is drawn by GetMap where it belongs: the pixel at a point inside the product
//! matches the COG there, in EPSG:4326 (1.3.0, lat/lon axis order) and EPSG:3857.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use gdal::Dataset;
use gdal::raster::{Buffer, ColorInterpretation};
use gdal::spatial_ref::{AxisMappingStrategy, CoordTransform, SpatialRef};
use pvs_catalog::testing::TestDatabase;
use pvs_catalog::{Catalog, Collection, Product};
use pvs_model::{BrowseReport, Footprint};
use pvs_raster::convert::{CogOptions, Placement, to_cog};
use pvs_renderer::{Renderer, Settings, routes};

/// Every report under `fixtures/ngeo`, recursively.
fn reports() -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut dirs = vec![pvs_test_support::fixtures::ngeo()];
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

/// A converted fixture: its product id, COG and name for messages.
struct Converted {
    id: String,
    cog: PathBuf,
    name: String,
}

fn band_values(dataset: &Dataset, band: usize, column: isize, row: isize) -> Vec<u8> {
    let buffer: Buffer<u8> = dataset
        .rasterband(band)
        .unwrap()
        .read_as((column - 1, row - 1), (3, 3), (3, 3), None)
        .unwrap();
    buffer.data().to_vec()
}

/// A point well inside the COG's valid data (its 3 × 3 neighbourhood opaque), in the COG's
/// pixel grid: the centre, or else a point between the centre and a corner.
fn inner_pixel(dataset: &Dataset) -> Option<(isize, isize)> {
    let (width, height) = dataset.raster_size();
    let count = dataset.raster_count();
    let alpha =
        dataset.rasterband(count).unwrap().color_interpretation() == ColorInterpretation::AlphaBand;
    let candidates = [
        (0.5, 0.5),
        (0.4, 0.4),
        (0.6, 0.6),
        (0.4, 0.6),
        (0.6, 0.4),
        (0.3, 0.5),
        (0.7, 0.5),
    ];
    candidates.into_iter().find_map(|(fx, fy)| {
        let column = (width as f64 * fx) as isize;
        let row = (height as f64 * fy) as isize;
        let opaque = !alpha
            || band_values(dataset, count, column, row)
                .iter()
                .all(|a| *a == 255);
        opaque.then_some((column, row))
    })
}

/// The lon/lat of a COG pixel's centre.
fn lon_lat(dataset: &Dataset, column: isize, row: isize) -> (f64, f64) {
    let gt = dataset.geo_transform().unwrap();
    let x = gt[0] + (column as f64 + 0.5) * gt[1];
    let y = gt[3] + (row as f64 + 0.5) * gt[5];
    let mut from = dataset.spatial_ref().unwrap();
    from.set_axis_mapping_strategy(AxisMappingStrategy::TraditionalGisOrder);
    let mut to = SpatialRef::from_epsg(4326).unwrap();
    to.set_axis_mapping_strategy(AxisMappingStrategy::TraditionalGisOrder);
    let (mut xs, mut ys, mut zs) = ([x], [y], [0.0]);
    CoordTransform::new(&from, &to)
        .unwrap()
        .transform_coords(&mut xs, &mut ys, &mut zs)
        .unwrap();
    // Antimeridian COGs run past 180°: the request uses the usual range.
    let lon = if xs[0] > 180.0 { xs[0] - 360.0 } else { xs[0] };
    (lon, ys[0])
}

fn mercator(lon: f64, lat: f64) -> (f64, f64) {
    const R: f64 = 6_378_137.0;
    (
        R * lon.to_radians(),
        R * (std::f64::consts::FRAC_PI_4 + lat.to_radians() / 2.0)
            .tan()
            .ln(),
    )
}

async fn convert_and_register(catalog: &dyn Catalog, storage_dir: &Path) -> Vec<Converted> {
    let mut converted = Vec::new();
    for report_path in reports() {
        let report = BrowseReport::parse(&std::fs::read(&report_path).unwrap()).unwrap();
        for browse in report.valid_browses() {
            let image = report_path
                .parent()
                .unwrap()
                .join(browse.file_name.as_str());
            if !image.exists() {
                continue; // BrowseReport_FAILURE.xml names an image that does not exist.
            }
            let name = format!("{}: {}", report_path.display(), browse.file_name.as_str());
            let id = format!("fixture-{}", converted.len());
            let key = format!("FIX/{id}.tif");
            let output = storage_dir.join(&key);
            std::fs::create_dir_all(output.parent().unwrap()).unwrap();
            let footprint = match &browse.footprint {
                Footprint::Wgs84(multi) => Some(multi.clone()),
                _ => None,
            };
            let result = to_cog(
                image.to_str().unwrap(),
                &Placement {
                    geolocation: &browse.geolocation,
                    reference_system: browse.reference_system,
                    footprint: footprint.clone(),
                },
                &output,
                &CogOptions::default(),
            )
            .unwrap_or_else(|e| panic!("{name}: {e}"));
            catalog
                .register(&Product {
                    properties: Default::default(),
                    id: id.clone(),
                    collection: "FIX".into(),
                    product_type: None,
                    footprint: footprint.unwrap_or(result.footprint),
                    begin: browse.start,
                    end: browse.end,
                    location: key,
                    metadata: serde_json::json!({}),
                })
                .await
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            converted.push(Converted {
                id,
                cog: output,
                name,
            });
        }
    }
    converted
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fixture_is_drawn_where_it_belongs_in_4326_and_3857() {
    let database = TestDatabase::create().await;
    let catalog = Arc::new(database.catalog().await);
    catalog
        .upsert_collection(&Collection::new("FIX").unwrap())
        .await
        .unwrap();
    let storage_dir = tempfile::tempdir().unwrap();
    let products = convert_and_register(catalog.as_ref(), storage_dir.path()).await;
    assert!(products.len() >= 20, "only {} fixtures", products.len());
    let storage = pvs_test_support::local_storage(storage_dir.path());
    let renderer = Arc::new(Renderer::new(catalog, storage, Settings::default()));
    let base = pvs_test_support::serve(routes(renderer)).await;
    let client = reqwest::Client::new();
    let images = tempfile::tempdir().unwrap();

    for product in &products {
        let cog = Dataset::open(&product.cog).unwrap();
        let Some((column, row)) = inner_pixel(&cog) else {
            panic!("{}: no opaque point inside the COG", product.name);
        };
        let (lon, lat) = lon_lat(&cog, column, row);
        let data_bands = if cog
            .rasterband(cog.raster_count())
            .unwrap()
            .color_interpretation()
            == ColorInterpretation::AlphaBand
        {
            cog.raster_count() - 1
        } else {
            cog.raster_count()
        };
        // A view of 51 × 51 pixels about as fine as the COG, centred on the point.
        let gt = cog.geo_transform().unwrap();
        let degrees_per_pixel = if cog.spatial_ref().unwrap().is_geographic() {
            gt[1].abs()
        } else {
            gt[1].abs() / 111_320.0
        };
        let half = degrees_per_pixel * 25.5;
        let (x, y) = mercator(lon, lat);
        let half_x = mercator(lon + half, lat).0 - x;
        let half_y = (mercator(lon, lat + half).1 - mercator(lon, lat - half).1) / 2.0;
        let views = [
            format!(
                "CRS=EPSG:4326&BBOX={},{},{},{}",
                lat - half,
                lon - half,
                lat + half,
                lon + half
            ),
            format!(
                "CRS=EPSG:3857&BBOX={},{},{},{}",
                x - half_x,
                y - half_y,
                x + half_x,
                y + half_y
            ),
        ];
        for view in views {
            let url = format!(
                "{base}/ows?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS={}&{view}&WIDTH=51&HEIGHT=51&FORMAT=image/png&TRANSPARENT=TRUE",
                product.id
            );
            let response = client.get(&url).send().await.unwrap();
            assert_eq!(response.status(), 200, "{}: {url}", product.name);
            let path = images.path().join("map.png");
            std::fs::write(&path, response.bytes().await.unwrap()).unwrap();
            let map = Dataset::open(&path).unwrap();
            let at = |band: usize| -> u8 {
                let buffer: Buffer<u8> = map
                    .rasterband(band)
                    .unwrap()
                    .read_as((25, 25), (1, 1), (1, 1), None)
                    .unwrap();
                buffer.data()[0]
            };
            assert_eq!(at(4), 255, "{}: {view}: opaque at the point", product.name);
            for band in 1..=3 {
                // Resampling blends neighbours: the value lies within the range of the
                // COG's 3 × 3 neighbourhood (with a small margin).
                let around = band_values(&cog, band.min(data_bands), column, row);
                let (low, high) = (*around.iter().min().unwrap(), *around.iter().max().unwrap());
                let got = at(band);
                assert!(
                    got >= low.saturating_sub(4) && got <= high.saturating_add(4),
                    "{}: {view}: band {band} is {got}, the COG has {low}..={high} around ({lon}, {lat})",
                    product.name
                );
            }
        }
    }
}
