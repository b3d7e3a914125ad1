//! WCS 2.0.1 / EO-WCS over a real PostGIS catalog and real COGs: the SAR product of the
//! shared test server (EPSG:4326, from the ngEO fixtures) and a synthetic UTM product whose id
//! is not an XML NCName; documents parsed with quick_xml and compared with `gdalinfo`;
//! coverages opened with GDAL and compared pixel by pixel with the COGs; every error; OWSLib
//! and GDAL's WCS driver as clients.

mod support;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use gdal::raster::Buffer;
use gdal::spatial_ref::{AxisMappingStrategy, CoordTransform, SpatialRef};
use gdal::{Dataset, DriverManager};
use pvs_catalog::testing::TestDatabase;
use pvs_catalog::{Catalog, Collection, Product};
use pvs_renderer::{Renderer, Settings, routes};
use support::Server;

// ---------------------------------------------------------------------------------------
// A small XML tree (quick_xml), to check documents element by element.

#[derive(Debug, Default)]
struct Node {
    name: String,
    attrs: Vec<(String, String)>,
    children: Vec<Node>,
    text: String,
}

impl Node {
    /// Parses `xml`, panicking if it is not well-formed.
    fn parse(xml: &str) -> Node {
        use quick_xml::events::Event;
        let mut reader = quick_xml::Reader::from_str(xml);
        let mut stack = vec![Node::default()];
        let open = |e: &quick_xml::events::BytesStart| Node {
            name: e.name().as_ref().to_owned(),
            attrs: e
                .attributes()
                .map(|a| {
                    let a = a.expect("a well-formed attribute");
                    (
                        a.key.as_ref().to_owned(),
                        a.normalized_value(quick_xml::XmlVersion::Explicit1_0)
                            .unwrap()
                            .into_owned(),
                    )
                })
                .collect(),
            ..Node::default()
        };
        loop {
            match reader.read_event().expect("well-formed XML") {
                Event::Start(e) => stack.push(open(&e)),
                Event::Empty(e) => stack.last_mut().unwrap().children.push(open(&e)),
                Event::End(_) => {
                    let node = stack.pop().unwrap();
                    stack.last_mut().unwrap().children.push(node);
                }
                Event::Text(t) => stack.last_mut().unwrap().text.push_str(&t.xml10_content()),
                Event::GeneralRef(r) => {
                    let c = match r.resolve_char_ref().unwrap() {
                        Some(c) => c,
                        None => match r.xml10_content().as_ref() {
                            "lt" => '<',
                            "gt" => '>',
                            "amp" => '&',
                            "quot" => '"',
                            "apos" => '\'',
                            other => panic!("unknown entity {other}"),
                        },
                    };
                    stack.last_mut().unwrap().text.push(c);
                }
                Event::Eof => break,
                _ => {}
            }
        }
        assert_eq!(stack.len(), 1, "unclosed elements");
        let mut document = stack.pop().unwrap();
        assert_eq!(document.children.len(), 1, "one root element");
        document.children.pop().unwrap()
    }

    fn attr(&self, key: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Every descendant named `name` (qualified, e.g. `wcs:CoverageId`), document order.
    fn all(&self, name: &str) -> Vec<&Node> {
        let mut found = Vec::new();
        for child in &self.children {
            if child.name == name {
                found.push(child);
            }
            found.extend(child.all(name));
        }
        found
    }

    fn one(&self, name: &str) -> &Node {
        let found = self.all(name);
        assert_eq!(found.len(), 1, "one {name} expected");
        found[0]
    }

    fn texts(&self, name: &str) -> Vec<String> {
        self.all(name)
            .iter()
            .map(|n| n.text.trim().to_owned())
            .collect()
    }

    fn numbers(&self) -> Vec<f64> {
        self.text
            .split_whitespace()
            .map(|v| v.parse().unwrap())
            .collect()
    }
}

/// The exception code, locator and text of an exception report.
fn exception(body: &[u8]) -> (String, String, String) {
    let root = Node::parse(std::str::from_utf8(body).unwrap());
    assert_eq!(root.name, "ows:ExceptionReport");
    assert_eq!(root.attr("version"), Some("2.0.0"));
    let e = root.one("ows:Exception");
    (
        e.attr("exceptionCode").unwrap().to_owned(),
        e.attr("locator").unwrap_or_default().to_owned(),
        e.one("ows:ExceptionText").text.clone(),
    )
}

// ---------------------------------------------------------------------------------------
// GDAL helpers.

fn gdalinfo(path: &Path) -> serde_json::Value {
    let output = std::process::Command::new("gdalinfo")
        .arg("-json")
        .arg(path)
        .output()
        .unwrap();
    assert!(output.status.success());
    serde_json::from_slice(&output.stdout).unwrap()
}

fn save(bytes: &[u8], dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

fn read_pixel(dataset: &Dataset, band: usize, col: usize, row: usize) -> f64 {
    let buffer: Buffer<f64> = dataset
        .rasterband(band)
        .unwrap()
        .read_as((col as isize, row as isize), (1, 1), (1, 1), None)
        .unwrap();
    buffer.data()[0]
}

/// Checks that `out` (a GeoTIFF served without resampling) holds the source's pixels: its
/// geotransform lands on the source's pixel grid and a spread of its pixels, in every band,
/// equal the source pixels at the same place.
fn assert_same_pixels(out: &Dataset, source: &Dataset) {
    let (o, s) = (
        out.geo_transform().unwrap(),
        source.geo_transform().unwrap(),
    );
    assert_eq!(o[1], s[1], "pixel width");
    assert_eq!(o[5], s[5], "pixel height");
    let col0 = (o[0] - s[0]) / s[1];
    let row0 = (o[3] - s[3]) / s[5];
    assert!(
        (col0 - col0.round()).abs() < 1e-6 && (row0 - row0.round()).abs() < 1e-6,
        "the output's origin is on the source's grid: {col0} {row0}"
    );
    assert_eq!(out.raster_count(), source.raster_count());
    let (w, h) = out.raster_size();
    for (fx, fy) in [
        (0.0, 0.0),
        (0.5, 0.5),
        (0.99, 0.2),
        (0.3, 0.99),
        (0.75, 0.6),
    ] {
        let (col, row) = (
            (fx * (w - 1) as f64) as usize,
            (fy * (h - 1) as f64) as usize,
        );
        for band in 1..=out.raster_count() {
            assert_eq!(
                read_pixel(out, band, col, row),
                read_pixel(
                    source,
                    band,
                    col + col0.round() as usize,
                    row + row0.round() as usize
                ),
                "band {band} at output pixel ({col}, {row})"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------
// A second server: a synthetic UTM product whose id is not an NCName, a small size limit.

const UTM_ID: &str = "utm:1/é <x>";
const UTM_ID_ENCODED: &str = "utm_x003A_1_x002F__x00E9__x0020__x003C_x_x003E_";

struct UtmServer {
    _database: TestDatabase,
    _storage_dir: tempfile::TempDir,
    base: String,
    cog: PathBuf,
}

/// A 120 × 90 3-band Byte GeoTIFF in EPSG:32633, 10 m pixels, top-left at (500000,
/// 5000000); band b at (col, row) holds (2 col + 3 row + 50 b) mod 256.
fn write_utm_cog(path: &Path) {
    let (width, height) = (120usize, 90usize);
    let mem = DriverManager::get_driver_by_name("MEM").unwrap();
    let mut dataset = mem
        .create_with_band_type::<u8, _>("", width, height, 3)
        .unwrap();
    dataset
        .set_geo_transform(&[500_000.0, 10.0, 0.0, 5_000_000.0, 0.0, -10.0])
        .unwrap();
    dataset
        .set_spatial_ref(&SpatialRef::from_epsg(32633).unwrap())
        .unwrap();
    for band in 1..=3 {
        let values: Vec<u8> = (0..height)
            .flat_map(|row| {
                (0..width).map(move |col| ((2 * col + 3 * row + 50 * band) % 256) as u8)
            })
            .collect();
        let mut buffer = Buffer::new((width, height), values);
        dataset
            .rasterband(band)
            .unwrap()
            .write((0, 0), (width, height), &mut buffer)
            .unwrap();
    }
    let cog = DriverManager::get_driver_by_name("COG").unwrap();
    dataset
        .create_copy(&cog, path, &gdal::cpl::CslStringList::new())
        .unwrap();
}

impl UtmServer {
    async fn start() -> Self {
        let database = TestDatabase::create().await;
        let catalog = Arc::new(database.catalog().await);
        catalog
            .upsert_collection(&Collection::new("UTM").unwrap())
            .await
            .unwrap();
        let storage_dir = tempfile::tempdir().unwrap();
        let key = "UTM/utm.tif";
        let cog = storage_dir.path().join(key);
        std::fs::create_dir_all(cog.parent().unwrap()).unwrap();
        write_utm_cog(&cog);
        // The footprint: the raster's corners in EPSG:4326.
        let mut from = SpatialRef::from_epsg(32633).unwrap();
        from.set_axis_mapping_strategy(AxisMappingStrategy::TraditionalGisOrder);
        let mut to = SpatialRef::from_epsg(4326).unwrap();
        to.set_axis_mapping_strategy(AxisMappingStrategy::TraditionalGisOrder);
        let transform = CoordTransform::new(&from, &to).unwrap();
        let mut xs = [500_000.0, 501_200.0, 501_200.0, 500_000.0, 500_000.0];
        let mut ys = [
            4_999_100.0,
            4_999_100.0,
            5_000_000.0,
            5_000_000.0,
            4_999_100.0,
        ];
        transform
            .transform_coords(&mut xs, &mut ys, &mut [0.0; 5])
            .unwrap();
        let ring: Vec<(f64, f64)> = xs.iter().zip(ys).map(|(x, y)| (*x, y)).collect();
        let footprint =
            geo::MultiPolygon::new(vec![geo::Polygon::new(geo::LineString::from(ring), vec![])]);
        let t = |s| chrono::DateTime::parse_from_rfc3339(s).unwrap().to_utc();
        catalog
            .register(&Product {
                properties: Default::default(),
                id: UTM_ID.into(),
                collection: "UTM".into(),
                product_type: None,
                footprint,
                begin: t("2021-03-04T10:00:00Z"),
                end: t("2021-03-04T10:00:10Z"),
                location: key.into(),
                metadata: serde_json::json!({}),
            })
            .await
            .unwrap();
        let storage = pvs_test_support::local_storage(storage_dir.path());
        let settings = Settings {
            max_size: 100,
            ..Settings::default()
        };
        let renderer = Arc::new(Renderer::new(catalog, storage, settings));
        let base = pvs_test_support::serve(routes(renderer)).await;
        Self {
            _database: database,
            _storage_dir: storage_dir,
            base,
            cog,
        }
    }

    async fn get(&self, query: &str) -> (u16, String, Vec<u8>) {
        get(&self.base, query).await
    }
}

async fn get(base: &str, query: &str) -> (u16, String, Vec<u8>) {
    pvs_test_support::net::get(&format!("{base}/ows?{query}")).await
}

fn xml(body: &[u8]) -> Node {
    Node::parse(std::str::from_utf8(body).unwrap())
}

const WCS: &str = "SERVICE=WCS&VERSION=2.0.1";

// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn capabilities_list_coverages_and_dataset_series() {
    let server = Server::start().await;
    let (status, content_type, body) = server
        .get("service=wcs&request=GetCapabilities&acceptversions=2.0.1")
        .await;
    assert_eq!((status, content_type.as_str()), (200, "application/xml"));
    let caps = xml(&body);
    assert_eq!(caps.name, "wcs:Capabilities");
    assert_eq!(caps.attr("version"), Some("2.0.1"));
    let profiles = caps.texts("ows:Profile");
    for profile in [
        "http://www.opengis.net/spec/WCS/2.0/conf/core",
        "http://www.opengis.net/spec/WCS_application-profile_earth-observation/1.0/conf/eowcs",
    ] {
        assert!(profiles.iter().any(|p| p == profile), "{profiles:?}");
    }
    let operations: Vec<&str> = caps
        .all("ows:Operation")
        .iter()
        .map(|o| o.attr("name").unwrap())
        .collect();
    assert_eq!(
        operations,
        [
            "GetCapabilities",
            "DescribeCoverage",
            "DescribeEOCoverageSet",
            "GetCoverage"
        ]
    );
    let host = server.base.trim_start_matches("http://");
    for get in caps.all("ows:Get") {
        assert_eq!(
            get.attr("xlink:href"),
            Some(format!("http://{host}/ows?").as_str())
        );
    }
    assert_eq!(caps.texts("wcs:formatSupported"), ["image/tiff"]);
    assert_eq!(caps.texts("wcs:CoverageId"), ["b_id_1"]);
    assert_eq!(caps.texts("wcs:CoverageSubtype"), ["RectifiedGridCoverage"]);
    let summary = caps.one("wcs:CoverageSummary");
    let lower = summary.one("ows:LowerCorner").numbers();
    let upper = summary.one("ows:UpperCorner").numbers();
    let (lon, lat) = server.centre;
    assert!(lower[0] < lon && lon < upper[0] && lower[1] < lat && lat < upper[1]);
    assert_eq!(caps.texts("wcseo:DatasetSeriesId"), ["EMPTY", "SAR"]);
    let series = caps.all("wcseo:DatasetSeriesSummary");
    assert_eq!(
        series[1].one("gml:beginPosition").text,
        "2010-07-22T21:38:40Z"
    );
    assert_eq!(
        series[1].one("gml:endPosition").text,
        "2010-07-22T21:39:38Z"
    );
    assert_eq!(
        series[0]
            .one("gml:beginPosition")
            .attr("indeterminatePosition"),
        Some("unknown")
    );
    assert_eq!(
        series[1].one("ows:LowerCorner").numbers(),
        lower,
        "one product: the series' box is its box"
    );

    // Sections.
    let (status, _, body) = server
        .get("SERVICE=WCS&REQUEST=GetCapabilities&SECTIONS=ServiceMetadata,Contents")
        .await;
    assert_eq!(status, 200);
    let caps = xml(&body);
    assert!(caps.all("ows:ServiceIdentification").is_empty());
    assert!(caps.all("ows:OperationsMetadata").is_empty());
    assert_eq!(caps.texts("wcs:CoverageId"), ["b_id_1"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn describe_coverage_matches_gdalinfo() {
    let server = Server::start().await;
    let info = gdalinfo(&server.cog);
    let size: Vec<u64> = info["size"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    let gt: Vec<f64> = info["geoTransform"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    let (width, height) = (size[0] as f64, size[1] as f64);
    let (status, _, body) = server
        .get(&format!("{WCS}&REQUEST=DescribeCoverage&COVERAGEID=b_id_1"))
        .await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let root = xml(&body);
    assert_eq!(root.name, "wcs:CoverageDescriptions");
    let description = root.one("wcs:CoverageDescription");
    assert_eq!(description.attr("gml:id"), Some("b_id_1"));
    assert_eq!(description.one("wcs:CoverageId").text, "b_id_1");
    let envelope = description.one("gml:Envelope");
    assert_eq!(
        envelope.attr("srsName"),
        Some("http://www.opengis.net/def/crs/EPSG/0/4326")
    );
    assert_eq!(envelope.attr("axisLabels"), Some("Lat Long"));
    // Lat Long order: south west, north east.
    let close = |a: f64, b: f64| (a - b).abs() < 1e-9;
    let lower = envelope.one("gml:lowerCorner").numbers();
    let upper = envelope.one("gml:upperCorner").numbers();
    assert!(close(lower[0], gt[3] + gt[5] * height), "{lower:?} {gt:?}");
    assert!(close(lower[1], gt[0]), "{lower:?}");
    assert!(close(upper[0], gt[3]), "{upper:?}");
    assert!(close(upper[1], gt[0] + gt[1] * width), "{upper:?}");
    let grid = description.one("gml:RectifiedGrid");
    assert_eq!(grid.attr("dimension"), Some("2"));
    assert_eq!(grid.one("gml:low").numbers(), [0.0, 0.0]);
    // Grid axis 1 along the rows (columns vary fastest), axis 2 down the columns.
    assert_eq!(grid.one("gml:high").numbers(), [width - 1.0, height - 1.0]);
    assert_eq!(grid.one("gml:axisLabels").text, "Lat Long");
    let origin = grid.one("gml:pos").numbers();
    assert!(close(origin[0], gt[3] + gt[5] / 2.0) && close(origin[1], gt[0] + gt[1] / 2.0));
    let offsets: Vec<Vec<f64>> = grid
        .all("gml:offsetVector")
        .iter()
        .map(|o| o.numbers())
        .collect();
    // gdalinfo -json writes 16 significant digits.
    let expected = [[0.0, gt[1]], [gt[5], 0.0]];
    for (offset, expected) in offsets.iter().zip(expected) {
        assert!(
            offset.len() == 2 && close(offset[0], expected[0]) && close(offset[1], expected[1]),
            "{offsets:?} {gt:?}"
        );
    }
    let bands = info["bands"].as_array().unwrap();
    let fields: Vec<&str> = description
        .all("swe:field")
        .iter()
        .map(|f| f.attr("name").unwrap())
        .collect();
    assert_eq!(fields.len(), bands.len());
    for (i, (field, band)) in fields.iter().zip(bands).enumerate() {
        let colour = band["colorInterpretation"].as_str().unwrap().to_lowercase();
        let expected = match colour.as_str() {
            "red" | "green" | "blue" | "alpha" | "gray" => colour.clone(),
            _ => format!("band{}", i + 1),
        };
        assert_eq!(*field, expected, "{band}");
    }
    assert_eq!(
        description.texts("wcs:CoverageSubtype"),
        ["RectifiedGridCoverage"]
    );
    assert_eq!(description.texts("wcs:nativeFormat"), ["image/tiff"]);
    // EO metadata: the product's time and footprint (lat lon pairs around the centre).
    let eo = description.one("eop:EarthObservation");
    let period = eo.one("om:phenomenonTime");
    assert_eq!(period.one("gml:beginPosition").text, "2010-07-22T21:38:40Z");
    assert_eq!(period.one("gml:endPosition").text, "2010-07-22T21:39:38Z");
    assert_eq!(eo.one("eop:identifier").text, "b_id_1");
    let positions = eo.one("gml:posList").numbers();
    let (lon, lat) = server.centre;
    let lats: Vec<f64> = positions.iter().step_by(2).copied().collect();
    let lons: Vec<f64> = positions.iter().skip(1).step_by(2).copied().collect();
    assert!(lats.iter().cloned().fold(f64::INFINITY, f64::min) < lat);
    assert!(lats.iter().cloned().fold(f64::NEG_INFINITY, f64::max) > lat);
    assert!(lons.iter().cloned().fold(f64::INFINITY, f64::min) < lon);
    assert!(lons.iter().cloned().fold(f64::NEG_INFINITY, f64::max) > lon);

    // A list naming the coverage twice: described once, gml:ids stay unique.
    let (status, _, body) = server
        .get(&format!(
            "{WCS}&REQUEST=DescribeCoverage&COVERAGEID=b_id_1, b_id_1"
        ))
        .await;
    assert_eq!(status, 200);
    assert_eq!(xml(&body).texts("wcs:CoverageId"), ["b_id_1"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_coverage_serves_the_cog_pixels() {
    let server = Server::start().await;
    let dir = tempfile::tempdir().unwrap();
    let source = Dataset::open(&server.cog).unwrap();
    let (lon, lat) = server.centre;
    // A trim in Lat/Long around the centre.
    let (status, content_type, body) = server
        .get(&format!(
            "{WCS}&REQUEST=GetCoverage&COVERAGEID=b_id_1&FORMAT=image/tiff&SUBSET=Lat({},{})&subset=Long({},{})",
            lat - 0.1,
            lat + 0.1,
            lon - 0.15,
            lon + 0.15
        ))
        .await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert_eq!(content_type, "image/tiff");
    let out = Dataset::open(save(&body, dir.path(), "trim.tif")).unwrap();
    assert_same_pixels(&out, &source);
    let gt = out.geo_transform().unwrap();
    let (w, h) = out.raster_size();
    // The output covers the subset with whole pixels, no more.
    assert!(gt[0] <= lon - 0.15 && lon - 0.15 < gt[0] + gt[1], "{gt:?}");
    let east = gt[0] + gt[1] * w as f64;
    assert!(east >= lon + 0.15 && east - gt[1] < lon + 0.15, "{gt:?}");
    assert!(gt[3] >= lat + 0.1 && gt[3] + gt[5] < lat + 0.1, "{gt:?}");
    let south = gt[3] + gt[5] * h as f64;
    assert!(south <= lat - 0.1 && south - gt[5] > lat - 0.1, "{gt:?}");
    assert_eq!(
        out.spatial_ref().unwrap().auth_code().unwrap(),
        4326,
        "the native CRS"
    );

    // One axis only, with open bounds and the 2.0.0 form with a CRS.
    let (status, _, body) = server
        .get(&format!(
            "{WCS}&REQUEST=GetCoverage&COVERAGEID=b_id_1&SUBSET=Lat,http://www.opengis.net/def/crs/EPSG/0/4326({},*)",
            lat + 0.1
        ))
        .await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let out = Dataset::open(save(&body, dir.path(), "north.tif")).unwrap();
    assert_same_pixels(&out, &source);
    assert_eq!(out.raster_size().0, source.raster_size().0);
    assert_eq!(
        out.geo_transform().unwrap()[3],
        source.geo_transform().unwrap()[3]
    );

    // Scaled and reprojected.
    let (status, _, body) = server
        .get(&format!(
            "{WCS}&REQUEST=GetCoverage&COVERAGEID=b_id_1&SUBSET=Lat({},{})&SUBSET=Long({},{})&OUTPUTCRS=http://www.opengis.net/def/crs/EPSG/0/3857&SCALESIZE=x(64),y(48)",
            lat - 0.1,
            lat + 0.1,
            lon - 0.15,
            lon + 0.15
        ))
        .await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let out = Dataset::open(save(&body, dir.path(), "mercator.tif")).unwrap();
    assert_eq!(out.raster_size(), (64, 48));
    assert_eq!(out.spatial_ref().unwrap().auth_code().unwrap(), 3857);
    let gt = out.geo_transform().unwrap();
    let x = lon.to_radians() * 6_378_137.0;
    assert!(gt[0] < x && x < gt[0] + gt[1] * 64.0, "{gt:?} {x}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn utm_coverages_use_their_own_axes_and_escaped_ids() {
    let server = UtmServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let source = Dataset::open(&server.cog).unwrap();
    let (status, _, body) = server.get("SERVICE=WCS&REQUEST=GetCapabilities").await;
    assert_eq!(status, 200);
    assert_eq!(xml(&body).texts("wcs:CoverageId"), [UTM_ID_ENCODED]);

    let (status, _, body) = server
        .get(&format!(
            "{WCS}&REQUEST=DescribeCoverage&COVERAGEID={UTM_ID_ENCODED}"
        ))
        .await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let description = xml(&body);
    let envelope = description.one("gml:Envelope");
    assert_eq!(envelope.attr("axisLabels"), Some("E N"));
    assert_eq!(
        envelope.attr("srsName"),
        Some("http://www.opengis.net/def/crs/EPSG/0/32633")
    );
    assert_eq!(
        envelope.one("gml:lowerCorner").numbers(),
        [500_000.0, 4_999_100.0]
    );
    assert_eq!(
        envelope.one("gml:upperCorner").numbers(),
        [501_200.0, 5_000_000.0]
    );
    assert_eq!(description.one("gml:high").numbers(), [119.0, 89.0]);
    assert_eq!(
        description.one("gml:pos").numbers(),
        [500_005.0, 4_999_995.0]
    );
    assert_eq!(
        description
            .all("swe:field")
            .iter()
            .map(|f| f.attr("name").unwrap())
            .collect::<Vec<_>>(),
        ["band1", "band2", "band3"]
    );
    // The real id, escaped in XML text.
    assert_eq!(description.one("eop:identifier").text, UTM_ID);

    // E/N trims: pixels 10..40 × 20..50.
    let (status, _, body) = server
        .get(&format!(
            "{WCS}&REQUEST=GetCoverage&COVERAGEID={UTM_ID_ENCODED}&SUBSET=E(500100,500400)&SUBSET=N(4999500,4999800)"
        ))
        .await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let out = Dataset::open(save(&body, dir.path(), "en.tif")).unwrap();
    assert_eq!(out.raster_size(), (30, 30));
    assert_eq!(
        out.geo_transform().unwrap(),
        [500_100.0, 10.0, 0.0, 4_999_800.0, 0.0, -10.0]
    );
    assert_same_pixels(&out, &source);
    // The synthetic values, independently of the COG: band 1 at output (0, 0) is source
    // (10, 20): 2·10 + 3·20 + 50.
    assert_eq!(read_pixel(&out, 1, 0, 0), 130.0);

    // Lat/Long on a UTM coverage: an EPSG:4326 subset, served in the native CRS.
    let (status, _, body) = server
        .get(&format!(
            "{WCS}&REQUEST=GetCoverage&COVERAGEID={UTM_ID_ENCODED}&SUBSET=Lat(45.146,45.15)&SUBSET=Long(15.001,15.006)"
        ))
        .await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let out = Dataset::open(save(&body, dir.path(), "latlong.tif")).unwrap();
    assert_same_pixels(&out, &source);
    let gt = out.geo_transform().unwrap();
    assert!(gt[0] > 500_000.0 && gt[0] < 500_100.0, "{gt:?}");
    // SUBSETTINGCRS given explicitly gives the same.
    let (status, _, explicit) = server
        .get(&format!(
            "{WCS}&REQUEST=GetCoverage&COVERAGEID={UTM_ID_ENCODED}&SUBSET=y(45.146,45.15)&SUBSET=x(15.001,15.006)&SUBSETTINGCRS=http://www.opengis.net/def/crs/EPSG/0/4326"
        ))
        .await;
    assert_eq!(status, 200);
    let explicit = Dataset::open(save(&explicit, dir.path(), "explicit.tif")).unwrap();
    assert_eq!(explicit.geo_transform().unwrap(), gt);
    assert_eq!(explicit.raster_size(), out.raster_size());

    // The whole coverage is 120 pixels wide, more than this server's 100: refused, unless
    // scaled down.
    let (status, _, body) = server
        .get(&format!(
            "{WCS}&REQUEST=GetCoverage&COVERAGEID={UTM_ID_ENCODED}"
        ))
        .await;
    assert_eq!(status, 400);
    let (code, locator, text) = exception(&body);
    assert_eq!(
        (code.as_str(), locator.as_str()),
        ("InvalidParameterValue", "subset")
    );
    assert!(text.contains("120 × 90") && text.contains("100"), "{text}");
    for scale in ["SCALEFACTOR=2", "SCALESIZE=E(60),N(45)"] {
        let (status, _, body) = server
            .get(&format!(
                "{WCS}&REQUEST=GetCoverage&COVERAGEID={UTM_ID_ENCODED}&{scale}"
            ))
            .await;
        assert_eq!(status, 200, "{scale}: {}", String::from_utf8_lossy(&body));
        let out = Dataset::open(save(&body, dir.path(), "scaled.tif")).unwrap();
        assert_eq!(out.raster_size(), (60, 45), "{scale}");
        assert_eq!(out.geo_transform().unwrap()[1], 20.0);
    }
    let (status, _, body) = server
        .get(&format!(
            "{WCS}&REQUEST=GetCoverage&COVERAGEID={UTM_ID_ENCODED}&SCALESIZE=E(101),N(10)"
        ))
        .await;
    assert_eq!(
        (status, exception(&body).0.as_str()),
        (400, "InvalidParameterValue")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn describe_eo_coverage_set_filters_by_space_and_time() {
    let server = Server::start().await;
    let (lon, lat) = server.centre;
    let set = |query: String| {
        let server = &server;
        async move {
            let (status, _, body) = server
                .get(&format!("{WCS}&REQUEST=DescribeEOCoverageSet&{query}"))
                .await;
            assert_eq!(status, 200, "{query}: {}", String::from_utf8_lossy(&body));
            let root = xml(&body);
            assert_eq!(root.name, "wcseo:EOCoverageSetDescription");
            let matched: u64 = root.attr("numberMatched").unwrap().parse().unwrap();
            let returned: u64 = root.attr("numberReturned").unwrap().parse().unwrap();
            let coverages = root.texts("wcs:CoverageId");
            let series = root.texts("wcseo:DatasetSeriesId");
            assert_eq!(returned as usize, coverages.len() + series.len(), "{query}");
            (matched, coverages, series)
        }
    };
    let one = (2, vec!["b_id_1".to_owned()], vec!["SAR".to_owned()]);
    assert_eq!(set("EOID=SAR".into()).await, one);
    assert_eq!(
        set(format!(
            "EOID=SAR&subset=Lat({},{})&subset=Long({},{})&subset=phenomenonTime(\"2010-07-22\",\"2010-07-23T00:00:00Z\")",
            lat - 0.1,
            lat + 0.1,
            lon - 0.1,
            lon + 0.1
        ))
        .await,
        one
    );
    // Contains: a small box does not contain the footprint; the whole world does.
    let none = (0, vec![], vec![]);
    assert_eq!(
        set(format!(
            "EOID=SAR&containment=contains&subset=Lat({},{})&subset=Long({},{})",
            lat - 0.1,
            lat + 0.1,
            lon - 0.1,
            lon + 0.1
        ))
        .await,
        none
    );
    assert_eq!(
        set("EOID=SAR&containment=CONTAINS&subset=Lat(*,*)&subset=Long(-180,180)".into()).await,
        one
    );
    // Elsewhere, at another time.
    assert_eq!(
        set("EOID=SAR&subset=Lat(-10,-9)&subset=Long(-10,-9)".into()).await,
        none
    );
    assert_eq!(
        set("EOID=SAR&subset=phenomenonTime(\"2011-01-01\",*)".into()).await,
        none
    );
    // A product directly; sections; count.
    assert_eq!(
        set("EOID=b_id_1&sections=CoverageDescriptions".into()).await,
        (1, vec!["b_id_1".to_owned()], vec![])
    );
    assert_eq!(
        set("EOID=SAR,EMPTY&sections=DatasetSeriesDescriptions".into()).await,
        (2, vec![], vec!["SAR".to_owned(), "EMPTY".to_owned()])
    );
    assert_eq!(
        set("EOID=SAR&count=1".into()).await,
        (2, vec![], vec!["SAR".to_owned()])
    );
    assert_eq!(set("EOID=SAR,b_id_1&sections=All".into()).await, one);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bad_request_is_an_ows_exception() {
    let server = Server::start().await;
    let cov = format!("{WCS}&REQUEST=GetCoverage&COVERAGEID=b_id_1");
    let eo = format!("{WCS}&REQUEST=DescribeEOCoverageSet&EOID=SAR");
    let long_id = "a".repeat(10_000);
    let cases: Vec<(String, u16, &str, &str)> = vec![
        (
            "SERVICE=WCS".into(),
            400,
            "MissingParameterValue",
            "REQUEST",
        ),
        (
            "SERVICE=WCS&REQUEST=DescribeCoverage&COVERAGEID=b_id_1".into(),
            400,
            "MissingParameterValue",
            "VERSION",
        ),
        (
            "SERVICE=WCS&VERSION=1.0.0&REQUEST=DescribeCoverage&COVERAGEID=b_id_1".into(),
            400,
            "InvalidParameterValue",
            "version",
        ),
        (
            "SERVICE=WCS&REQUEST=GetCapabilities&ACCEPTVERSIONS=1.0.0,1.1.0".into(),
            400,
            "VersionNegotiationFailed",
            "",
        ),
        (
            "SERVICE=WCS&REQUEST=GetCapabilities&SECTIONS=Nope".into(),
            400,
            "InvalidParameterValue",
            "sections",
        ),
        (
            format!("{WCS}&REQUEST=GetEOCoverageSet&EOID=SAR"),
            501,
            "OperationNotSupported",
            "GetEOCoverageSet",
        ),
        (
            format!("{WCS}&REQUEST=DescribeCoverage"),
            400,
            "MissingParameterValue",
            "coverageId",
        ),
        (
            format!("{WCS}&REQUEST=DescribeCoverage&COVERAGEID=nope"),
            404,
            "NoSuchCoverage",
            "nope",
        ),
        (
            format!("{WCS}&REQUEST=DescribeCoverage&COVERAGEID=b_id_1,nope"),
            404,
            "NoSuchCoverage",
            "nope",
        ),
        (
            format!("{WCS}&REQUEST=DescribeCoverage&COVERAGEID=b_id_1,,x"),
            400,
            "InvalidParameterValue",
            "coverageId",
        ),
        (
            format!(
                "{WCS}&REQUEST=DescribeCoverage&COVERAGEID={}",
                vec!["x"; 101].join(",")
            ),
            400,
            "InvalidParameterValue",
            "coverageId",
        ),
        (
            format!("{WCS}&REQUEST=DescribeCoverage&COVERAGEID={long_id}"),
            404,
            "NoSuchCoverage",
            "",
        ),
        (
            format!("{WCS}&REQUEST=DescribeCoverage&COVERAGEID=%3Cx%3E%26%22'"),
            404,
            "NoSuchCoverage",
            "_x003C_x_x003E__x0026__x0022__x0027_",
        ),
        (
            format!("{WCS}&REQUEST=GetCoverage"),
            400,
            "MissingParameterValue",
            "coverageId",
        ),
        (
            format!("{WCS}&REQUEST=GetCoverage&COVERAGEID=nope"),
            404,
            "NoSuchCoverage",
            "nope",
        ),
        (
            format!("{WCS}&REQUEST=GetCoverage&COVERAGEID=b_id_1,b_id_1"),
            400,
            "InvalidParameterValue",
            "coverageId",
        ),
        (
            format!("{cov}&FORMAT=image/png"),
            400,
            "InvalidParameterValue",
            "format",
        ),
        (
            format!("{cov}&MEDIATYPE=multipart/related"),
            501,
            "OptionNotSupported",
            "mediaType",
        ),
        (
            format!("{cov}&RANGESUBSET=red"),
            501,
            "OptionNotSupported",
            "rangesubset",
        ),
        (
            format!("{cov}&SUBSET=height(1,2)"),
            404,
            "InvalidAxisLabel",
            "height",
        ),
        (
            format!("{cov}&SUBSET=phenomenonTime(\"2010-01-01\",\"2011-01-01\")"),
            404,
            "InvalidAxisLabel",
            "phenomenonTime",
        ),
        (
            format!("{cov}&SUBSET=Lat(1,2)&SUBSET=y(1,2)"),
            404,
            "InvalidAxisLabel",
            "y",
        ),
        (
            format!("{cov}&SUBSET=Lat(2,1)"),
            404,
            "InvalidSubsetting",
            "Lat",
        ),
        (
            format!("{cov}&SUBSET=Lat(NaN,1)"),
            404,
            "InvalidSubsetting",
            "Lat",
        ),
        (
            format!("{cov}&SUBSET=Long(-inf,inf)"),
            404,
            "InvalidSubsetting",
            "Long",
        ),
        (
            format!("{cov}&SUBSET=Long(1e400,2)"),
            404,
            "InvalidSubsetting",
            "Long",
        ),
        (
            format!("{cov}&SUBSET=Lat(45)"),
            404,
            "InvalidSubsetting",
            "Lat",
        ),
        (
            format!("{cov}&SUBSET=Lat(-89,-88)"),
            404,
            "InvalidSubsetting",
            "Lat",
        ),
        (
            format!("{cov}&SUBSET=Lat(1,2"),
            404,
            "InvalidSubsetting",
            "subset",
        ),
        (
            format!("{cov}&SUBSET=Lat(\"<a>\",2)"),
            404,
            "InvalidSubsetting",
            "Lat",
        ),
        (
            format!("{cov}&SUBSETTINGCRS=EPSG:99999"),
            400,
            "InvalidParameterValue",
            "subsettingCrs",
        ),
        (
            format!("{cov}&OUTPUTCRS=http://www.opengis.net/def/crs/EPSG/0/abc"),
            400,
            "InvalidParameterValue",
            "outputCrs",
        ),
        (
            format!("{cov}&SCALEFACTOR=-1"),
            404,
            "InvalidScaleFactor",
            "scaleFactor",
        ),
        (
            format!("{cov}&SCALESIZE=x(0)"),
            400,
            "InvalidParameterValue",
            "scaleSize",
        ),
        (
            format!("{cov}&SCALESIZE=x(5000),y(10)"),
            400,
            "InvalidParameterValue",
            "subset",
        ),
        (
            format!("{cov}&SCALESIZE=t(10)"),
            404,
            "ScaleAxisUndefined",
            "scaleSize",
        ),
        (
            format!("{cov}&SCALEAXES=x(2)"),
            501,
            "OptionNotSupported",
            "scaleaxes",
        ),
        (
            format!("{WCS}&REQUEST=DescribeEOCoverageSet"),
            400,
            "MissingParameterValue",
            "eoId",
        ),
        (
            format!("{WCS}&REQUEST=DescribeEOCoverageSet&EOID=nope"),
            404,
            "NoSuchDatasetSeriesOrCoverage",
            "nope",
        ),
        (
            format!("{eo}&containment=inside"),
            400,
            "InvalidParameterValue",
            "containment",
        ),
        (
            format!("{eo}&count=0"),
            400,
            "InvalidParameterValue",
            "count",
        ),
        (
            format!("{eo}&count=x"),
            400,
            "InvalidParameterValue",
            "count",
        ),
        (
            format!("{eo}&sections=Contents"),
            400,
            "InvalidParameterValue",
            "sections",
        ),
        (
            format!("{eo}&subset=Lat(91,92)"),
            404,
            "InvalidSubsetting",
            "Lat",
        ),
        (
            format!("{eo}&subset=Long(10,5)"),
            404,
            "InvalidSubsetting",
            "Long",
        ),
        (format!("{eo}&subset=E(1,2)"), 404, "InvalidAxisLabel", "E"),
        (
            format!("{eo}&subset=height(1,2)"),
            404,
            "InvalidAxisLabel",
            "height",
        ),
        (
            format!("{eo}&subset=phenomenonTime(\"2011-01-01\",\"2010-01-01\")"),
            404,
            "InvalidSubsetting",
            "phenomenonTime",
        ),
        (
            format!("{eo}&subset=phenomenonTime(\"yesterday\",\"2010-01-01\")"),
            404,
            "InvalidSubsetting",
            "phenomenonTime",
        ),
        (
            format!("{eo}&subset=phenomenonTime(\"2011-01-01\")"),
            404,
            "InvalidSubsetting",
            "phenomenonTime",
        ),
        (
            format!("{eo}&subset=time(*,*)&subset=t(*,*)"),
            404,
            "InvalidAxisLabel",
            "t",
        ),
        (
            format!("{WCS}&REQUEST=GetCapabilities&x={}", "y".repeat(17_000)),
            400,
            "InvalidParameterValue",
            "",
        ),
    ];
    for (query, status, code, locator) in cases {
        let (got, content_type, body) = server.get(&query).await;
        let shown = &query[..query.len().min(200)];
        assert_eq!(got, status, "{shown}: {}", String::from_utf8_lossy(&body));
        assert_eq!(content_type, "application/xml", "{shown}");
        let (got_code, got_locator, text) = exception(&body);
        assert_eq!(got_code, code, "{shown}: {text}");
        if !locator.is_empty() || code == "VersionNegotiationFailed" {
            assert_eq!(got_locator, locator, "{shown}: {text}");
        }
        assert!(
            body.len() < 4000,
            "{shown}: the report stays short ({} bytes)",
            body.len()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owslib_reads_capabilities_and_fetches_a_coverage() {
    let server = Server::start().await;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/owslib_wcs.py");
    let (lon, lat) = server.centre;
    let dir = tempfile::tempdir().unwrap();
    let output_path = dir.path().join("owslib.tif");
    let args = [
        script.to_owned(),
        format!("{}/ows", server.base),
        lon.to_string(),
        lat.to_string(),
        output_path.display().to_string(),
    ];
    let output = support::run("python3", args.to_vec()).await;
    assert!(
        output.status.success(),
        "OWSLib failed (is OWSLib installed? scripts/setup.sh):\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let result: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(result["version"], "2.0.1", "{result}");
    assert_eq!(
        result["coverages"],
        serde_json::json!(["b_id_1"]),
        "{result}"
    );
    assert_eq!(
        result["formats"],
        serde_json::json!(["image/tiff"]),
        "{result}"
    );
    assert!(
        result["operations"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!("DescribeEOCoverageSet")),
        "{result}"
    );
    assert_eq!(
        result["axis_labels"],
        serde_json::json!(["Lat", "Long"]),
        "{result}"
    );
    let info = gdalinfo(&server.cog);
    let size = &info["size"];
    assert_eq!(
        result["grid_high"],
        serde_json::json!([
            (size[0].as_u64().unwrap() - 1).to_string(),
            (size[1].as_u64().unwrap() - 1).to_string()
        ]),
        "{result}"
    );
    assert_eq!(
        result["native_srs"],
        "http://www.opengis.net/def/crs/EPSG/0/4326"
    );
    let out = Dataset::open(&output_path).unwrap();
    assert_same_pixels(&out, &Dataset::open(&server.cog).unwrap());
    let gt = out.geo_transform().unwrap();
    assert!(gt[0] <= lon - 0.1 && gt[3] >= lat + 0.1, "{gt:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gdal_wcs_driver_reads_a_coverage() {
    let server = Server::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (lon, lat) = server.centre;
    let output = dir.path().join("from_wcs.tif");
    let url = format!("WCS:{}/ows?version=2.0.1&coverage=b_id_1", server.base);
    let (url_arg, output_arg) = (url.clone(), output.clone());
    let cache = dir.path().join("cache");
    let result = tokio::task::spawn_blocking(move || {
        std::process::Command::new("gdal_translate")
            .args(["-q", "--config", "GDAL_WCS_CACHE", cache.to_str().unwrap()])
            .args(["-oo", &format!("CACHE={}", cache.display())])
            .args([
                "-projwin",
                &(lon - 0.1).to_string(),
                &(lat + 0.1).to_string(),
                &(lon + 0.1).to_string(),
                &(lat - 0.1).to_string(),
            ])
            .arg(&url_arg)
            .arg(&output_arg)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        result.status.success(),
        "gdal_translate {url}: {}",
        String::from_utf8_lossy(&result.stderr)
    );
    let out = Dataset::open(&output).unwrap();
    let source = Dataset::open(&server.cog).unwrap();
    assert_eq!(out.raster_count(), source.raster_count());
    assert_same_pixels(&out, &source);
}
