//! OpenSearch over HTTP against a real PostGIS catalog holding synthetic products with
//! hand-made footprints and times: every spatial and time filter with hand-computed
//! expectations, paging, both encodings, the description documents and every refusal.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use geo::{MultiPolygon, Polygon, polygon};
use pvs_catalog::testing::TestDatabase;
use pvs_catalog::{Catalog, Collection, Product};
use pvs_opensearch::{Conventions, IndexOffset, OpenSearch, RadiusUnit};
use pvs_renderer::{Renderer, Settings};
use quick_xml::events::Event;
use serde_json::{Value, json};

// ---------------------------------------------------------------------------------------
// The server and its products

fn t(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

fn square(west: f64, south: f64, east: f64, north: f64) -> Polygon<f64> {
    polygon![
        (x: west, y: south),
        (x: east, y: south),
        (x: east, y: north),
        (x: west, y: north),
        (x: west, y: south),
    ]
}

fn product(
    id: &str,
    collection: &str,
    footprint: Vec<Polygon<f64>>,
    begin: &str,
    end: &str,
) -> Product {
    Product {
        properties: Default::default(),
        id: id.to_owned(),
        collection: collection.to_owned(),
        product_type: None,
        footprint: MultiPolygon(footprint),
        begin: t(begin),
        end: t(end),
        location: format!("{collection}/{id}.tif"),
        metadata: serde_json::json!({}),
    }
}

/// The products of collection `S2`, newest begin first (the order of every answer), with EO
/// properties (cloud cover, orbit...) on all but E_arctic:
///
/// | id | footprint (lon, lat) | time (2024-01) |
/// |---|---|---|
/// | D_south | [10,12] x [-42,-40] | 16T00:00 to 20T00:00 |
/// | C_dateline | [178,180] x [-5,5] + [-180,-178] x [-5,5] | 14T00:00 (an instant) |
/// | B_east | [20,22] x [40,42] | 12T00:00 to 12T01:00 |
/// | F_west | [-179.8,-179] x [20,22] | 11T00:00 to 11T01:00 |
/// | A_inside | [10,12] x [40,42] | 10T00:00 to 10T01:00 |
/// | E_arctic | [170,175] x [88.9,89.5] | 08T00:00 to 08T01:00 |
///
/// `SAR` holds S_1 over A's place in March 2024; `EMPTY` holds nothing.
fn products() -> Vec<Product> {
    let mut products = unfiltered_products();
    for product in &mut products {
        let properties = match product.id.as_str() {
            "A_inside" => json!({"eo:cloud_cover": 5.5, "sat:absolute_orbit": 101,
                "sat:relative_orbit": 10, "sat:orbit_state": "ascending",
                "platform": "sentinel-2a", "processing:level": "L2A",
                "view:sun_elevation": 30.5, "view:sun_azimuth": 150.0,
                "eop:sensorType": "OPTICAL", "eop:acquisitionType": "NOMINAL",
                "eop:platformSerialIdentifier": "A", "instruments": ["MSI"],
                "created": "2024-02-01T10:00:00Z", "updated": "2024-02-05T00:00:00+01:00"}),
            "B_east" => json!({"eo:cloud_cover": 20, "sat:absolute_orbit": 102,
                "sat:relative_orbit": 10, "sat:orbit_state": "descending",
                "platform": "sentinel-2b", "processing:level": "L1C",
                "eop:platformSerialIdentifier": "B", "instruments": ["MSI", "OLCI"],
                "created": "2024-02-02T00:00:00.5Z"}),
            "C_dateline" => json!({"eo:cloud_cover": 80, "platform": "sentinel-2a",
                "instruments": [], "created": "2024-01-15T00:00:00Z"}),
            "D_south" => json!({"eo:cloud_cover": 0, "eo:snow_cover": 12.0,
                "sat:absolute_orbit": 150, "sat:relative_orbit": 37,
                "sat:orbit_state": "ascending", "platform": "sentinel-2b",
                "processing:level": "L2A", "instruments": ["msi"],
                "eop:minimumIncidenceAngle": 20, "eop:maximumIncidenceAngle": 35,
                "eop:incidenceAngleVariation": 15}),
            "F_west" => json!({"eo:cloud_cover": 100, "sat:absolute_orbit": 200,
                "sat:orbit_state": "descending", "platform": "sentinel-2a",
                "processing:level": "L1C", "sar:instrument_mode": "IW",
                "eop:sensorType": "RADAR", "eop:acquisitionType": "CALIBRATION",
                "eop:polarisationMode": "D", "instruments": ["SAR-C"],
                "eop:minimumIncidenceAngle": 29.1, "eop:maximumIncidenceAngle": 46.0,
                "eop:incidenceAngleVariation": 16.9,
                "created": "2024-01-31T23:00:00-02:00"}),
            _ => json!({}),
        };
        product.properties = properties.as_object().cloned().unwrap();
    }
    products
}

/// [`products`] before their EO properties are set.
fn unfiltered_products() -> Vec<Product> {
    vec![
        product(
            "A_inside",
            "S2",
            vec![square(10.0, 40.0, 12.0, 42.0)],
            "2024-01-10T00:00:00Z",
            "2024-01-10T01:00:00Z",
        ),
        product(
            "B_east",
            "S2",
            vec![square(20.0, 40.0, 22.0, 42.0)],
            "2024-01-12T00:00:00Z",
            "2024-01-12T01:00:00Z",
        ),
        product(
            "C_dateline",
            "S2",
            vec![
                square(178.0, -5.0, 180.0, 5.0),
                square(-180.0, -5.0, -178.0, 5.0),
            ],
            "2024-01-14T00:00:00Z",
            "2024-01-14T00:00:00Z",
        ),
        product(
            "D_south",
            "S2",
            vec![square(10.0, -42.0, 12.0, -40.0)],
            "2024-01-16T00:00:00Z",
            "2024-01-20T00:00:00Z",
        ),
        product(
            "E_arctic",
            "S2",
            vec![square(170.0, 88.9, 175.0, 89.5)],
            "2024-01-08T00:00:00Z",
            "2024-01-08T01:00:00Z",
        ),
        product(
            "F_west",
            "S2",
            vec![square(-179.8, 20.0, -179.0, 22.0)],
            "2024-01-11T00:00:00Z",
            "2024-01-11T01:00:00Z",
        ),
        product(
            "S_1",
            "SAR",
            vec![square(10.5, 40.5, 11.5, 41.5)],
            "2024-03-01T00:00:00Z",
            "2024-03-01T00:10:00Z",
        ),
    ]
}

const ALL_S2: [&str; 6] = [
    "D_south",
    "C_dateline",
    "B_east",
    "F_west",
    "A_inside",
    "E_arctic",
];

/// A 20 x 20 one-band GeoTIFF of `value` over `[west, south, east, north]` (EPSG:4326).
fn write_grey_tiff(path: &Path, [west, south, east, north]: [f64; 4], value: u8) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let driver = gdal::DriverManager::get_driver_by_name("GTiff").unwrap();
    let mut dataset = driver
        .create_with_band_type::<u8, _>(path, 20, 20, 1)
        .unwrap();
    dataset
        .set_geo_transform(&[
            west,
            (east - west) / 20.0,
            0.0,
            north,
            0.0,
            (south - north) / 20.0,
        ])
        .unwrap();
    dataset
        .set_spatial_ref(&gdal::spatial_ref::SpatialRef::from_epsg(4326).unwrap())
        .unwrap();
    let mut buffer = gdal::raster::Buffer::new((20, 20), vec![value; 400]);
    dataset
        .rasterband(1)
        .unwrap()
        .write((0, 0), (20, 20), &mut buffer)
        .unwrap();
}

/// The RGBA value of pixel (`x`, `y`) of a PNG.
fn pixel_of_png(png: &[u8], dir: &Path, x: isize, y: isize) -> [u8; 4] {
    let path = dir.join("map.png");
    std::fs::write(&path, png).unwrap();
    let dataset = gdal::Dataset::open(&path).unwrap();
    assert_eq!(dataset.raster_count(), 4, "an RGBA PNG");
    let mut rgba = [0; 4];
    for (band, value) in rgba.iter_mut().enumerate() {
        let buffer: gdal::raster::Buffer<u8> = dataset
            .rasterband(band + 1)
            .unwrap()
            .read_as((x, y), (1, 1), (1, 1), None)
            .unwrap();
        *value = buffer.data()[0];
    }
    rgba
}

struct Server {
    _database: TestDatabase,
    _storage_dir: tempfile::TempDir,
    base: String,
}

#[derive(Debug)]
struct Answer {
    status: u16,
    content_type: String,
    body: String,
}

impl Server {
    async fn start() -> Self {
        Self::start_with(Conventions::default()).await
    }

    /// A server reading requests with `conventions`.
    async fn start_with(conventions: Conventions) -> Self {
        let database = TestDatabase::create().await;
        let catalog = Arc::new(database.catalog().await);
        let s2 = Collection {
            product_type: Some("S2MSI1C".to_owned()),
            ..Collection::new("S2").unwrap()
        };
        for collection in [
            s2,
            Collection::new("SAR").unwrap(),
            Collection::new("EMPTY").unwrap(),
        ] {
            catalog.upsert_collection(&collection).await.unwrap();
        }
        for product in products() {
            catalog.register(&product).await.unwrap();
        }
        let storage_dir = tempfile::tempdir().unwrap();
        write_grey_tiff(
            &storage_dir.path().join("S2/A_inside.tif"),
            [10.0, 40.0, 12.0, 42.0],
            200,
        );
        let storage = pvs_test_support::local_storage(storage_dir.path());
        // OpenSearch beside the renderer its GetMap links lead to, as `pvs renderer` serves
        // them.
        let settings = Settings::default();
        let opensearch = Arc::new(OpenSearch {
            catalog: catalog.clone(),
            title: settings.title.clone(),
            wms_max_size: settings.max_size,
            public_url: settings.public_url.clone(),
            conventions,
        });
        let renderer = Arc::new(Renderer::new(catalog, storage, settings));
        let app = pvs_renderer::routes(renderer).merge(pvs_opensearch::routes(opensearch));
        let base = pvs_test_support::serve(app).await;
        Self {
            _database: database,
            _storage_dir: storage_dir,
            base,
        }
    }

    async fn get(&self, path: &str) -> Answer {
        let url = if path.starts_with("http") {
            path.to_owned()
        } else {
            format!("{}{path}", self.base)
        };
        let response = reqwest::get(url).await.unwrap();
        Answer {
            status: response.status().as_u16(),
            content_type: response
                .headers()
                .get("content-type")
                .map(|v| v.to_str().unwrap().to_owned())
                .unwrap_or_default(),
            body: response.text().await.unwrap(),
        }
    }

    fn storage_dir(&self) -> &Path {
        self._storage_dir.path()
    }

    /// The body of a successful answer.
    async fn get_bytes(&self, url: &str) -> Vec<u8> {
        let response = reqwest::get(url).await.unwrap();
        assert_eq!(response.status().as_u16(), 200, "{url}");
        response.bytes().await.unwrap().to_vec()
    }

    /// A successful GeoJSON answer.
    async fn json(&self, path: &str) -> Value {
        let answer = self.get(path).await;
        assert_eq!(answer.status, 200, "{path}: {}", answer.body);
        serde_json::from_str(&answer.body).unwrap()
    }

    /// A successful Atom answer.
    async fn atom(&self, path: &str) -> Element {
        let answer = self.get(path).await;
        assert_eq!(answer.status, 200, "{path}: {}", answer.body);
        assert_eq!(answer.content_type, "application/atom+xml");
        parse_xml(&answer.body)
    }

    /// A successful RSS answer.
    async fn rss(&self, path: &str) -> Element {
        let answer = self.get(path).await;
        assert_eq!(answer.status, 200, "{path}: {}", answer.body);
        assert_eq!(answer.content_type, "application/rss+xml");
        let rss = parse_xml(&answer.body);
        assert_eq!((rss.name.as_str(), rss.attr("version")), ("rss", "2.0"));
        rss
    }

    /// The ids of the products of S2 matching `query`, checked to be the same in GeoJSON,
    /// Atom and RSS.
    async fn ids(&self, query: &str) -> Vec<String> {
        let json = self
            .json(&format!("/opensearch/collections/S2/geojson?{query}"))
            .await;
        let from_json = feature_ids(&json);
        let feed = self
            .atom(&format!("/opensearch/collections/S2/atom?{query}"))
            .await;
        assert_eq!(
            entry_ids(&feed),
            from_json,
            "{query}: Atom and GeoJSON differ"
        );
        let rss = self
            .rss(&format!("/opensearch/collections/S2/rss?{query}"))
            .await;
        assert_eq!(item_ids(&rss), from_json, "{query}: RSS and GeoJSON differ");
        let kml = self
            .get(&format!("/opensearch/collections/S2/kml?{query}"))
            .await;
        assert_eq!(
            (kml.status, kml.content_type.as_str()),
            (200, "application/vnd.google-earth.kml+xml"),
            "{query}"
        );
        assert_eq!(
            placemark_names(&parse_xml(&kml.body)),
            from_json,
            "{query}: KML and GeoJSON differ"
        );
        assert_eq!(
            rss.child("channel").child("os:totalResults").text,
            feed.child("os:totalResults").text,
            "{query}"
        );
        assert_eq!(
            json["totalResults"].as_u64().unwrap().to_string(),
            feed.child("os:totalResults").text,
            "{query}"
        );
        from_json
    }

    /// A refused product search: checks the status and that both encodings name
    /// `parameter`; returns the JSON message.
    async fn refused(&self, collection: &str, query: &str, status: u16, parameter: &str) -> String {
        let json = self
            .get(&format!(
                "/opensearch/collections/{collection}/json?{query}"
            ))
            .await;
        assert_eq!(json.status, status, "{query}: {}", json.body);
        assert_eq!(json.content_type, "application/json");
        let body: Value = serde_json::from_str(&json.body).unwrap();
        assert_eq!(body["error"]["parameter"], parameter, "{query}: {body}");
        let xml = self
            .get(&format!(
                "/opensearch/collections/{collection}/atom?{query}"
            ))
            .await;
        assert_eq!(xml.status, status, "{query}: {}", xml.body);
        assert_eq!(xml.content_type, "application/xml");
        let report = parse_xml(&xml.body);
        assert_eq!(report.name, "ows:ExceptionReport");
        let exception = report.child("ows:Exception");
        assert_eq!(exception.attr("locator"), parameter, "{query}");
        let text = &exception.child("ows:ExceptionText").text;
        let message = body["error"]["message"].as_str().unwrap().to_owned();
        assert_eq!(text, &message);
        message
    }
}

fn feature_ids(json: &Value) -> Vec<String> {
    json["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap().to_owned())
        .collect()
}

fn entry_ids(feed: &Element) -> Vec<String> {
    feed.children_named("entry")
        .map(|e| e.child("dc:identifier").text.clone())
        .collect()
}

fn placemark_names(kml: &Element) -> Vec<String> {
    kml.child("Document")
        .children_named("Placemark")
        .map(|placemark| placemark.child("name").text.clone())
        .collect()
}

fn item_ids(rss: &Element) -> Vec<String> {
    rss.child("channel")
        .children_named("item")
        .map(|item| item.child("dc:identifier").text.clone())
        .collect()
}

// ---------------------------------------------------------------------------------------
// A small XML tree (quick_xml checks well-formedness: end tags, entities)

#[derive(Debug, Default, Clone)]
struct Element {
    name: String,
    attributes: Vec<(String, String)>,
    children: Vec<Element>,
    text: String,
}

impl Element {
    fn from_start(start: &quick_xml::events::BytesStart) -> Self {
        Element {
            name: start.name().as_ref().to_owned(),
            attributes: start
                .attributes()
                .map(|a| {
                    let a = a.unwrap();
                    (
                        a.key.as_ref().to_owned(),
                        a.normalized_value(quick_xml::XmlVersion::Explicit1_0)
                            .unwrap()
                            .into_owned(),
                    )
                })
                .collect(),
            ..Element::default()
        }
    }

    fn attr(&self, name: &str) -> &str {
        self.attributes
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("{} has no attribute {name}", self.name))
    }

    fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    fn child<'a>(&'a self, name: &'a str) -> &'a Element {
        self.children_named(name)
            .next()
            .unwrap_or_else(|| panic!("{} has no child {name}", self.name))
    }

    /// The `href` of the `link` with `rel` (and `type`, when given).
    fn link(&self, rel: &str, media_type: Option<&str>) -> Option<String> {
        self.children_named("link")
            .find(|l| l.attr("rel") == rel && media_type.is_none_or(|m| l.attr("type") == m))
            .map(|l| l.attr("href").to_owned())
    }
}

fn parse_xml(xml: &str) -> Element {
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut stack = vec![Element::default()];
    loop {
        match reader
            .read_event()
            .unwrap_or_else(|e| panic!("not well-formed: {e}\n{xml}"))
        {
            Event::Start(start) => stack.push(Element::from_start(&start)),
            Event::Empty(start) => {
                let element = Element::from_start(&start);
                stack.last_mut().unwrap().children.push(element);
            }
            Event::End(_) => {
                let element = stack.pop().unwrap();
                stack.last_mut().unwrap().children.push(element);
            }
            Event::Text(text) => stack
                .last_mut()
                .unwrap()
                .text
                .push_str(&text.xml10_content()),
            Event::GeneralRef(reference) => {
                let name = reference.xml10_content();
                let c = match name.as_ref() {
                    "amp" => '&',
                    "lt" => '<',
                    "gt" => '>',
                    "quot" => '"',
                    "apos" => '\'',
                    _ => reference.resolve_char_ref().unwrap().unwrap(),
                };
                stack.last_mut().unwrap().text.push(c);
            }
            Event::Eof => break,
            _ => {}
        }
    }
    assert_eq!(stack.len(), 1, "unclosed elements");
    let mut root = stack.pop().unwrap();
    assert_eq!(root.children.len(), 1, "one root element");
    root.children.pop().unwrap()
}

/// The decoded query parameters of a URL.
fn query_of(url: &str) -> HashMap<String, String> {
    let url = url::Url::parse(url).unwrap();
    url.query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

// ---------------------------------------------------------------------------------------
// Filters

/// `georel`: products (and collections) inside the area, or disjoint from it; refused without
/// an area, with a line, or with another value.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn georel_contains_and_disjoint() {
    let server = Server::start().await;
    for (query, expected) in [
        (
            "bbox=9,39,23,43&georel=contains",
            vec!["B_east", "A_inside"],
        ),
        ("bbox=9,39,21,43&georel=contains", vec!["A_inside"]),
        (
            "bbox=9,39,21,43&georel=intersects",
            vec!["B_east", "A_inside"],
        ),
        ("bbox=9,39,21,43", vec!["B_east", "A_inside"]),
        (
            "bbox=9,39,21,43&georel=disjoint",
            vec!["D_south", "C_dateline", "F_west", "E_arctic"],
        ),
        // Across the antimeridian: both halves of C inside.
        ("bbox=170,-6,-170,6&georel=contains", vec!["C_dateline"]),
        (
            "geom=POLYGON((9 39,13 39,13 43,9 43,9 39))&georel=CONTAINS",
            vec!["A_inside"],
        ),
        // 200 km around A's centre holds it; D is outside.
        (
            "lat=41&lon=11&radius=200000&georel=contains",
            vec!["A_inside"],
        ),
    ] {
        assert_eq!(server.ids(query).await, expected, "{query}");
    }
    for (query, says) in [
        ("georel=contains", "needs bbox"),
        (
            "bbox=0,0,1,1&georel=overlaps",
            "intersects, contains or disjoint",
        ),
        ("geom=LINESTRING(0 0,1 1)&georel=disjoint", "LINESTRING"),
    ] {
        let message = server.refused("S2", query, 400, "georel").await;
        assert!(message.contains(says), "{query}: {message}");
    }
    // Collections: S2's extent (nearly the whole world) is not inside a small box; SAR's is.
    let json = server
        .json("/opensearch/json?bbox=9,39,13,43&georel=contains")
        .await;
    assert_eq!(feature_ids(&json), ["SAR"]);
    let json = server
        .json("/opensearch/json?bbox=9,39,13,43&georel=disjoint")
        .await;
    assert_eq!(
        feature_ids(&json),
        Vec::<String>::new(),
        "EMPTY has no extent"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bbox_inside_touching_outside_and_across_the_antimeridian() {
    let server = Server::start().await;
    for (bbox, expected) in [
        // Inside A (S_1 of SAR is there too, but another collection).
        ("10.5,40.5,11.5,41.5", vec!["A_inside"]),
        // Touching A's eastern edge x=12, and A's north-east corner only.
        ("12,40,14,42", vec!["A_inside"]),
        ("12,42,13,43", vec!["A_inside"]),
        // Between A and B.
        ("12.5,40,19.5,42", vec![]),
        // Across the antimeridian: C's two halves, and F west of it.
        ("179,-1,-179,1", vec!["C_dateline"]),
        ("175,20,-179.5,30", vec!["F_west"]),
        ("175,20,-179.9,30", vec![]),
        ("175,10,-175,19", vec![]),
        // One side of the antimeridian only still finds C (split at ±180).
        ("170,-10,179.5,10", vec!["C_dateline"]),
        ("-179.5,-1,-170,1", vec!["C_dateline"]),
        // [5, 180] and [-180, -170], latitudes -50 to 50: all but E.
        (
            "5,-50,-170,50",
            vec!["D_south", "C_dateline", "B_east", "F_west", "A_inside"],
        ),
        // The whole world.
        ("-180,-90,180,90", ALL_S2.to_vec()),
    ] {
        assert_eq!(
            server.ids(&format!("bbox={bbox}")).await,
            expected,
            "bbox={bbox}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn geometries_points_lines_polygons() {
    let server = Server::start().await;
    for (geom, expected) in [
        ("POLYGON((9 39,13 39,13 43,9 43,9 39))", vec!["A_inside"]),
        // A polygon with a hole around A finds nothing.
        (
            "POLYGON((0 30,30 30,30 50,0 50,0 30),(9 39,13 39,13 43,9 43,9 39))",
            vec!["B_east"],
        ),
        ("POINT(11 41)", vec!["A_inside"]),
        ("point(12 42)", vec!["A_inside"]),
        ("POINT(15 41)", vec![]),
        ("LINESTRING(11 30,11 50)", vec!["A_inside"]),
        ("LINESTRING(0 41,30 41)", vec!["B_east", "A_inside"]),
        // Its box holds A, the line goes round it: tested against the footprint itself.
        ("LINESTRING(9 39,9.5 43,13 43.5)", vec![]),
        (
            "MULTIPOLYGON(((179 -1,180 -1,180 1,179 1,179 -1)),((-180 -1,-179 -1,-179 1,-180 1,-180 -1)))",
            vec!["C_dateline"],
        ),
        // Triangles just north of F and just south of D.
        (
            "MULTIPOLYGON(((-179.5 22.5,-179.4 22.5,-179.4 23,-179.5 22.5)),((10 -39.5,11 -39.5,11 -39,10 -39.5)))",
            vec![],
        ),
    ] {
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("geom", geom)
            .finish();
        assert_eq!(server.ids(&query).await, expected, "{geom}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn circles_around_points_across_the_antimeridian_and_a_pole() {
    let server = Server::start().await;
    for (query, expected) in [
        // Centre inside A.
        ("lat=41&lon=11&radius=10000", vec!["A_inside"]),
        // (13, 41) is 1° of longitude east of A: 111.195 km * cos 41° = 83.9 km.
        ("lat=41&lon=13&radius=100000", vec!["A_inside"]),
        ("lat=41&lon=13&radius=80000", vec![]),
        // lat/lon alone: a point.
        ("lat=41&lon=11", vec!["A_inside"]),
        ("lat=41&lon=13", vec![]),
        // 50 km around (179.9, 21) reaches 0.48° of longitude east: -179.62, over F's
        // western edge at -179.8.
        ("lat=21&lon=179.9&radius=50000", vec!["F_west"]),
        ("lat=21&lon=-179.9&radius=50000", vec!["F_west"]),
        // 10 km around (179.7, 21) stops at 179.8: short of F.
        ("lat=21&lon=179.7&radius=10000", vec![]),
        // 250 km (2.25°) around (0, 89) holds the pole: the cap reaches 88.75° on the 180°
        // meridian, E (up to 89.5° at 170-175°) is inside; 100 km (0.9°) does not reach it.
        ("lat=89&lon=0&radius=250000", vec!["E_arctic"]),
        ("lat=89&lon=0&radius=100000", vec![]),
        ("lat=-89.5&lon=0&radius=100000", vec![]),
    ] {
        assert_eq!(server.ids(query).await, expected, "{query}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_time_relation() {
    let server = Server::start().await;
    let between = "start=2024-01-10T01:00:00Z&end=2024-01-12T00:00:00Z";
    for (query, expected) in [
        // A ends at the start, B begins at the end: both touch, so they intersect.
        (between.to_string(), vec!["B_east", "F_west", "A_inside"]),
        (
            format!("{between}&relation=intersects"),
            vec!["B_east", "F_west", "A_inside"],
        ),
        // Only F lies within.
        (format!("{between}&relation=during"), vec!["F_west"]),
        // Everything else has an instant outside or none inside.
        (
            format!("{between}&relation=disjoint"),
            vec!["D_south", "C_dateline", "E_arctic"],
        ),
        (
            "start=2024-01-17&end=2024-01-18&relation=contains".into(),
            vec!["D_south"],
        ),
        // C is the instant 14T00:00; D begins on the 16th.
        (
            "start=2024-01-14T00:00:00Z&end=2024-01-14T00:00:00Z&relation=contains".into(),
            vec!["C_dateline"],
        ),
        (
            "start=2024-01-14T00:00:00Z&end=2024-01-14T00:00:00Z&relation=equals".into(),
            vec!["C_dateline"],
        ),
        // Dates are midnight UTC: D is exactly 16th to 20th.
        (
            "start=2024-01-16&end=2024-01-20&relation=equals".into(),
            vec!["D_south"],
        ),
        (
            "start=2024-01-16&end=2024-01-20T00:00:01Z&relation=EQUALS".into(),
            vec![],
        ),
        (
            "start=2024-01-16&end=2024-01-20T00:00:01Z&relation=during".into(),
            vec!["D_south"],
        ),
        (
            "start=2024-01-09&end=2024-01-15&relation=disjoint".into(),
            vec!["D_south", "E_arctic"],
        ),
        // Open intervals.
        ("start=2024-01-14".into(), vec!["D_south", "C_dateline"]),
        (
            "end=2024-01-10T00:00:00Z".into(),
            vec!["A_inside", "E_arctic"],
        ),
        (
            "end=2024-01-10T00:00:00Z&relation=during".into(),
            vec!["E_arctic"],
        ),
        // Zones are honoured: 02:00+02:00 is midnight UTC, when A begins.
        (
            "end=2024-01-10T02:00:00%2B02:00".into(),
            vec!["A_inside", "E_arctic"],
        ),
        ("end=2024-01-10T01:59:59%2B02:00".into(), vec!["E_arctic"]),
        // Time and place together.
        ("start=2024-01-11&bbox=0,0,30,50".into(), vec!["B_east"]),
    ] {
        assert_eq!(server.ids(&query).await, expected, "{query}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uid_finds_one_product_of_the_collection() {
    let server = Server::start().await;
    assert_eq!(server.ids("uid=B_east").await, ["B_east"]);
    assert!(server.ids("uid=nope").await.is_empty());
    // S_1 is in SAR, not S2.
    assert!(server.ids("uid=S_1").await.is_empty());
    let sar = server
        .json("/opensearch/collections/SAR/json?uid=S_1")
        .await;
    assert_eq!(feature_ids(&sar), ["S_1"]);
    assert!(server.ids("uid=B_east&bbox=0,0,1,1").await.is_empty());
}

// ---------------------------------------------------------------------------------------
// Paging

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_and_their_links() {
    let server = Server::start().await;
    // Without count: 10 per page, all six here.
    let all = server.json("/opensearch/collections/S2/json").await;
    assert_eq!(feature_ids(&all), ALL_S2);
    assert_eq!(
        (all["totalResults"].as_u64(), all["startIndex"].as_u64()),
        (Some(6), Some(1))
    );

    for (query, ids, start_index, previous, next) in [
        ("count=2", &ALL_S2[0..2], 1, None, Some(3)),
        ("count=2&startIndex=3", &ALL_S2[2..4], 3, Some(1), Some(5)),
        ("count=2&startIndex=5", &ALL_S2[4..6], 5, Some(3), None),
        ("count=2&startIndex=6", &ALL_S2[5..6], 6, Some(4), None),
        ("count=2&startIndex=7", &ALL_S2[0..0], 7, Some(5), None),
        ("count=4&startPage=2", &ALL_S2[4..6], 5, Some(1), None),
        (
            "count=2&startIndex=2&startPage=2",
            &ALL_S2[3..5],
            4,
            Some(2),
            Some(6),
        ),
    ] {
        let json = server
            .json(&format!("/opensearch/collections/S2/json?{query}"))
            .await;
        assert_eq!(feature_ids(&json), ids, "{query}");
        assert_eq!(json["totalResults"], 6, "{query}");
        assert_eq!(json["startIndex"], start_index, "{query}");
        assert_eq!(json["itemsPerPage"], ids.len(), "{query}");
        let link = |rel: &str| {
            json["properties"]["links"][rel][0]["href"]
                .as_str()
                .map(|href| query_of(href)["startIndex"].parse::<u64>().unwrap())
        };
        assert_eq!(link("previous"), previous, "{query}");
        assert_eq!(link("next"), next, "{query}");
        assert_eq!(link("first"), Some(1), "{query}");
        // The last page of 6 results by 2 or 4 starts at 5.
        assert_eq!(link("last"), Some(5), "{query}");
        // The top-level links say the same.
        let top: Vec<&str> = json["links"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["rel"].as_str().unwrap())
            .collect();
        assert_eq!(top.contains(&"next"), next.is_some(), "{query}");

        let feed = server
            .atom(&format!("/opensearch/collections/S2/atom?{query}"))
            .await;
        assert_eq!(entry_ids(&feed), ids, "{query}");
        assert_eq!(feed.child("os:totalResults").text, "6");
        assert_eq!(feed.child("os:startIndex").text, start_index.to_string());
        assert_eq!(feed.child("os:itemsPerPage").text, ids.len().to_string());
        let atom_link = |rel| {
            feed.link(rel, Some("application/atom+xml"))
                .map(|href| query_of(&href)["startIndex"].parse::<u64>().unwrap())
        };
        assert_eq!(atom_link("previous"), previous, "{query}");
        assert_eq!(atom_link("next"), next, "{query}");
        assert_eq!(atom_link("last"), Some(5), "{query}");
        let self_link = feed.link("self", None).unwrap();
        assert!(self_link.starts_with(&format!("{}/opensearch/collections/S2/atom", server.base)));
    }

    // Following `next` from the first page visits every product once, in order, and keeps
    // the filters.
    let mut url = format!(
        "{}/opensearch/collections/S2/atom?count=4&bbox=-180,-60,180,60",
        server.base
    );
    let mut seen = Vec::new();
    loop {
        let feed = server.atom(&url).await;
        assert_eq!(feed.child("os:totalResults").text, "5");
        seen.extend(entry_ids(&feed));
        match feed.link("next", None) {
            Some(next) => {
                assert_eq!(query_of(&next)["bbox"], "-180,-60,180,60");
                url = next;
            }
            None => break,
        }
    }
    assert_eq!(seen, ALL_S2[0..5]);

    // The largest page; one more is refused.
    assert_eq!(
        feature_ids(
            &server
                .json("/opensearch/collections/S2/json?count=100")
                .await
        )
        .len(),
        6
    );
    server.refused("S2", "count=101", 400, "count").await;
    // An empty collection.
    let empty = server.json("/opensearch/collections/EMPTY/geojson").await;
    assert_eq!(empty["totalResults"], 0);
    assert!(empty["properties"]["links"]["next"].is_null());
}

// ---------------------------------------------------------------------------------------
// The encodings

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn atom_entries_carry_footprints_times_and_service_links() {
    let server = Server::start().await;
    let feed = server
        .atom("/opensearch/collections/S2/atom?uid=A_inside&bbox=0,0,20,50")
        .await;
    assert_eq!(feed.name, "feed");
    assert_eq!(feed.attr("xmlns"), "http://www.w3.org/2005/Atom");
    let query = feed.child("os:Query");
    assert_eq!(query.attr("role"), "request");
    assert_eq!(query.attr("geo:uid"), "A_inside");
    assert_eq!(query.attr("geo:box"), "0,0,20,50");
    assert_eq!(
        feed.link("search", None).unwrap(),
        format!("{}/opensearch/collections/S2", server.base)
    );
    let entry = feed.child("entry");
    assert_eq!(entry.child("title").text, "A_inside");
    assert_eq!(entry.child("updated").text, "2024-01-10T01:00:00Z");
    assert_eq!(
        entry.child("dc:date").text,
        "2024-01-10T00:00:00Z/2024-01-10T01:00:00Z"
    );
    assert_eq!(
        entry.child("georss:polygon").text,
        "40 10 40 12 42 12 42 10 40 10"
    );
    assert_eq!(entry.child("georss:box").text, "40 10 42 12");
    assert!(
        entry
            .child("id")
            .text
            .contains("/opensearch/collections/S2/atom?uid=A_inside")
    );

    let get_map = entry.link("icon", Some("image/png")).unwrap();
    assert!(get_map.starts_with(&format!("{}/ows?", server.base)));
    let map = query_of(&get_map);
    assert_eq!(map["service"], "WMS");
    assert_eq!(map["request"], "GetMap");
    assert_eq!(map["layers"], "S2");
    assert_eq!(map["crs"], "CRS:84");
    assert_eq!(map["bbox"], "10,40,12,42");
    assert_eq!(
        (map["width"].as_str(), map["height"].as_str()),
        ("512", "512")
    );
    assert_eq!(map["time"], "2024-01-10T00:00:00Z/2024-01-10T01:00:00Z");
    // The link is a working GetMap: A's image (grey 200 over its footprint) fills it.
    let png = server.get_bytes(&get_map).await;
    let grey = pixel_of_png(&png, server.storage_dir(), 256, 256);
    assert_eq!(
        grey,
        [200, 200, 200, 255],
        "A's image drawn in the middle of its own map"
    );
    let coverage = query_of(&entry.link("enclosure", None).unwrap());
    assert_eq!(
        (
            coverage["service"].as_str(),
            coverage["version"].as_str(),
            coverage["request"].as_str(),
            coverage["coverageId"].as_str()
        ),
        ("WCS", "2.0.1", "GetCoverage", "A_inside")
    );
    // The alternate links find the entry alone.
    let alone = server
        .json(
            &entry
                .link("alternate", Some("application/geo+json"))
                .unwrap(),
        )
        .await;
    assert_eq!(feature_ids(&alone), ["A_inside"]);

    // A footprint split at the antimeridian: a GML MultiSurface with both halves.
    let feed = server
        .atom("/opensearch/collections/S2/atom?uid=C_dateline")
        .await;
    let entry = feed.child("entry");
    assert!(entry.children_named("georss:polygon").next().is_none());
    let surface = entry.child("georss:where").child("gml:MultiSurface");
    let rings: Vec<String> = surface
        .children_named("gml:surfaceMember")
        .map(|m| {
            m.child("gml:Polygon")
                .child("gml:exterior")
                .child("gml:LinearRing")
                .child("gml:posList")
                .text
                .clone()
        })
        .collect();
    assert_eq!(
        rings,
        [
            "-5 178 -5 180 5 180 5 178 -5 178",
            "-5 -180 -5 -178 5 -178 5 -180 -5 -180"
        ]
    );
    assert_eq!(
        entry.child("dc:date").text,
        "2024-01-14T00:00:00Z/2024-01-14T00:00:00Z"
    );
    // Its map covers every longitude (WMS boxes cannot cross the antimeridian).
    assert_eq!(
        query_of(&entry.link("icon", None).unwrap())["bbox"],
        "-180,-5,180,5"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn geojson_features_carry_footprints_times_and_service_links() {
    let server = Server::start().await;
    for format in ["geojson", "json"] {
        let answer = server
            .get(&format!("/opensearch/collections/S2/{format}?uid=A_inside"))
            .await;
        assert_eq!(answer.status, 200);
        let expected_type = if format == "json" {
            "application/json"
        } else {
            "application/geo+json"
        };
        assert_eq!(answer.content_type, expected_type);
        let json: Value = serde_json::from_str(&answer.body).unwrap();
        assert_eq!(json["type"], "FeatureCollection");
        assert_eq!(
            (
                json["totalResults"].as_u64(),
                json["itemsPerPage"].as_u64(),
                json["startIndex"].as_u64()
            ),
            (Some(1), Some(1), Some(1))
        );
        let feature = &json["features"][0];
        assert_eq!(feature["type"], "Feature");
        assert_eq!(
            feature["geometry"],
            serde_json::json!({"type": "Polygon", "coordinates": [[[10.0, 40.0], [12.0, 40.0], [12.0, 42.0], [10.0, 42.0], [10.0, 40.0]]]})
        );
        assert_eq!(feature["bbox"], serde_json::json!([10.0, 40.0, 12.0, 42.0]));
        let properties = &feature["properties"];
        assert_eq!(properties["id"], "A_inside");
        assert_eq!(properties["title"], "A_inside");
        assert_eq!(properties["collection"], "S2");
        assert_eq!(properties["begin"], "2024-01-10T00:00:00Z");
        assert_eq!(properties["end"], "2024-01-10T01:00:00Z");
        assert_eq!(
            properties["date"],
            "2024-01-10T00:00:00Z/2024-01-10T01:00:00Z"
        );
        let map = query_of(properties["links"]["previews"][0]["href"].as_str().unwrap());
        assert_eq!(
            (map["layers"].as_str(), map["bbox"].as_str()),
            ("S2", "10,40,12,42")
        );
        assert_eq!(map["time"], "2024-01-10T00:00:00Z/2024-01-10T01:00:00Z");
        let coverage = query_of(properties["links"]["data"][0]["href"].as_str().unwrap());
        assert_eq!(coverage["coverageId"], "A_inside");
        assert_eq!(json["queries"]["request"][0]["geo:uid"], "A_inside");
        let self_link = json["properties"]["links"]["self"][0]["href"]
            .as_str()
            .unwrap();
        assert_eq!(
            self_link,
            format!(
                "{}/opensearch/collections/S2/{format}?uid=A_inside",
                server.base
            )
        );
    }
    let json = server
        .json("/opensearch/collections/S2/json?uid=C_dateline")
        .await;
    let geometry = &json["features"][0]["geometry"];
    assert_eq!(geometry["type"], "MultiPolygon");
    assert_eq!(geometry["coordinates"].as_array().unwrap().len(), 2);
    assert_eq!(
        geometry["coordinates"][1][0][0],
        serde_json::json!([-180.0, -5.0])
    );
}

// ---------------------------------------------------------------------------------------
// Collection search and the description documents

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn collection_search_by_name_place_time_and_type() {
    let server = Server::start().await;
    let search = |query: &str| {
        let query = query.to_owned();
        let server = &server;
        async move {
            let json = server.json(&format!("/opensearch/json?{query}")).await;
            let feed = server.atom(&format!("/opensearch/atom?{query}")).await;
            let from_atom: Vec<String> = feed
                .children_named("entry")
                .map(|e| e.child("title").text.clone())
                .collect();
            let ids = feature_ids(&json);
            assert_eq!(from_atom, ids, "{query}");
            ids
        }
    };
    assert_eq!(search("").await, ["EMPTY", "S2", "SAR"]);
    // Only collections with products have a place and a time.
    assert_eq!(search("bbox=10.5,40.5,11.5,41.5").await, ["S2", "SAR"]);
    // S2's extent spans every longitude (C is split at the antimeridian), to 89.5°N.
    assert_eq!(search("bbox=100,60,110,70").await, ["S2"]);
    assert_eq!(search("bbox=100,89.6,110,90").await, Vec::<String>::new());
    assert_eq!(search("geom=POINT(11 41)").await, ["S2", "SAR"]);
    assert_eq!(search("lat=41&lon=11&radius=1000").await, ["S2", "SAR"]);
    assert_eq!(search("start=2024-02-01").await, ["SAR"]);
    assert_eq!(search("end=2024-01-31&relation=during").await, ["S2"]);
    assert_eq!(search("q=s").await, ["S2", "SAR"]);
    assert_eq!(search("q=MPT").await, ["EMPTY"]);
    assert_eq!(search("uid=SAR").await, ["SAR"]);
    assert_eq!(search("productType=S2MSI1C").await, ["S2"]);
    assert_eq!(search("count=1&startIndex=2").await, ["S2"]);

    let json = server.json("/opensearch/json?uid=S2").await;
    assert_eq!(json["totalResults"], 1);
    let properties = &json["features"][0]["properties"];
    assert_eq!(properties["productCount"], 6);
    assert_eq!(properties["begin"], "2024-01-08T00:00:00Z");
    assert_eq!(properties["end"], "2024-01-20T00:00:00Z");
    assert_eq!(
        json["features"][0]["bbox"],
        serde_json::json!([-180.0, -42.0, 180.0, 89.5])
    );
    let description = properties["links"]["search"][0]["href"].as_str().unwrap();
    assert_eq!(
        description,
        format!("{}/opensearch/collections/S2", server.base)
    );
    let feed = server.atom("/opensearch/atom?uid=SAR").await;
    let entry = feed.child("entry");
    assert_eq!(entry.child("georss:box").text, "40.5 10.5 41.5 11.5");
    assert_eq!(
        entry.child("dc:date").text,
        "2024-03-01T00:00:00Z/2024-03-01T00:10:00Z"
    );
    assert_eq!(
        entry.link("search", None).unwrap(),
        format!("{}/opensearch/collections/SAR", server.base)
    );
    // Collection search refuses what product search refuses, and takes q and productType;
    // a product search ignores q, as it ignores every parameter it does not take.
    let answer = server.get("/opensearch/json?count=0").await;
    assert_eq!(answer.status, 400);
    let all = server.json("/opensearch/collections/S2/json?q=x").await;
    assert_eq!(feature_ids(&all), ALL_S2, "q is for collections");
}

/// The `Url` templates of a description document, by type.
fn templates(description: &Element) -> HashMap<String, String> {
    description
        .children_named("Url")
        .map(|u| (u.attr("type").to_owned(), u.attr("template").to_owned()))
        .collect()
}

/// A template with every `{name?}` left empty, or given `values`.
fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut url = template.to_owned();
    for (name, value) in values {
        url = url.replace(
            &format!("{{{name}?}}"),
            &url::form_urlencoded::byte_serialize(value.as_bytes()).collect::<String>(),
        );
    }
    while let Some(start) = url.find('{') {
        let end = url[start..].find('}').unwrap() + start;
        url.replace_range(start..=end, "");
    }
    url
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn description_documents_and_their_templates() {
    let server = Server::start().await;
    let answer = server.get("/opensearch").await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.content_type, "application/opensearchdescription+xml");
    let root = parse_xml(&answer.body);
    assert_eq!(root.name, "OpenSearchDescription");
    assert_eq!(root.attr("xmlns"), "http://a9.com/-/spec/opensearch/1.1/");
    assert_eq!(
        root.attr("xmlns:geo"),
        "http://a9.com/-/opensearch/extensions/geo/1.0/"
    );
    assert_eq!(
        root.attr("xmlns:time"),
        "http://a9.com/-/opensearch/extensions/time/1.0/"
    );
    assert_eq!(
        root.attr("xmlns:eo"),
        "http://a9.com/-/opensearch/extensions/eo/1.0/"
    );
    assert!(root.child("ShortName").text.chars().count() <= 16);
    let urls = templates(&root);
    for (media_type, segment) in [
        ("application/atom+xml", "atom"),
        ("application/geo+json", "geojson"),
        ("application/json", "json"),
        ("application/vnd.google-earth.kml+xml", "kml"),
        ("text/html", "html"),
    ] {
        let template = &urls[media_type];
        assert!(
            template.starts_with(&format!("{}/opensearch/{segment}?", server.base)),
            "{template}"
        );
        for parameter in [
            "q={searchTerms?}",
            "count={count?}",
            "startIndex={startIndex?}",
            "startPage={startPage?}",
            "bbox={geo:box?}",
            "geom={geo:geometry?}",
            "lat={geo:lat?}",
            "lon={geo:lon?}",
            "radius={geo:radius?}",
            "uid={geo:uid?}",
            "start={time:start?}",
            "end={time:end?}",
            "relation={time:relation?}",
            "productType={eo:productType?}",
        ] {
            assert!(template.contains(parameter), "{parameter} in {template}");
        }
        // A client leaving every optional parameter empty gets every collection.
        let json_or_atom = server.get(&fill(template, &[])).await;
        assert_eq!(json_or_atom.status, 200, "{}", json_or_atom.body);
        assert_eq!(json_or_atom.content_type, media_type);
    }
    let url = root
        .children_named("Url")
        .find(|u| u.attr("type") == "application/atom+xml")
        .unwrap();
    assert_eq!(
        (
            url.attr("rel"),
            url.attr("indexOffset"),
            url.attr("pageOffset")
        ),
        ("collection", "1", "1")
    );
    let count = url
        .children_named("param:Parameter")
        .find(|p| p.attr("name") == "count")
        .unwrap();
    assert_eq!(
        (
            count.attr("value"),
            count.attr("minInclusive"),
            count.attr("maxInclusive")
        ),
        ("{count}", "1", "100")
    );
    let relation = url
        .children_named("param:Parameter")
        .find(|p| p.attr("name") == "relation")
        .unwrap();
    let options: Vec<&str> = relation
        .children_named("param:Option")
        .map(|o| o.attr("value"))
        .collect();
    assert_eq!(
        options,
        ["intersects", "during", "contains", "equals", "disjoint"]
    );
    let lat = url
        .children_named("param:Parameter")
        .find(|p| p.attr("name") == "lat")
        .unwrap();
    assert_eq!(
        (lat.attr("minInclusive"), lat.attr("maxInclusive")),
        ("-90", "90")
    );

    // The products of a collection.
    let answer = server.get("/opensearch/collections/S2").await;
    assert_eq!(answer.status, 200);
    let root = parse_xml(&answer.body);
    let urls = templates(&root);
    let template = &urls["application/geo+json"];
    assert!(template.starts_with(&format!(
        "{}/opensearch/collections/S2/geojson?",
        server.base
    )));
    assert!(!template.contains("searchTerms"));
    for parameter in [
        "bbox={geo:box?}",
        "geom={geo:geometry?}",
        "radius={geo:radius?}",
        "relation={time:relation?}",
        "uid={geo:uid?}",
        "startIndex={startIndex?}",
        "productType={eo:productType?}",
        "cloudCover={eo:cloudCover?}",
        "orbitDirection={eo:orbitDirection?}",
    ] {
        assert!(template.contains(parameter), "{parameter} in {template}");
    }
    assert_eq!(
        root.children_named("Url").next().unwrap().attr("rel"),
        "results"
    );
    // Filled in: the search works as documented.
    let filled = fill(
        template,
        &[
            ("geo:box", "10,40,12,42"),
            ("time:start", "2024-01-01"),
            ("time:relation", "during"),
            ("count", "5"),
        ],
    );
    assert_eq!(feature_ids(&server.json(&filled).await), ["A_inside"]);

    // No such collection, no such format.
    let answer = server.get("/opensearch/collections/NOPE").await;
    assert_eq!(answer.status, 404);
    assert_eq!(
        parse_xml(&answer.body)
            .child("ows:Exception")
            .attr("locator"),
        "collection"
    );
    server.refused("NOPE", "", 404, "collection").await;
    let answer = server.get("/opensearch/collections/S2/csv").await;
    assert_eq!(answer.status, 404);
    assert_eq!(
        parse_xml(&answer.body)
            .child("ows:Exception")
            .attr("locator"),
        "format"
    );
    assert_eq!(server.get("/opensearch/csv").await.status, 404);
}

/// The EO parameters, filled into the template of the collection's description document as a
/// client does, select on the properties registration stored: every range form, sets,
/// choices, text, zero, several at once and with a place.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eo_parameters_select_on_stored_properties() {
    let server = Server::start().await;
    let description = parse_xml(&server.get("/opensearch/collections/S2").await.body);
    let urls = templates(&description);
    let (json_template, atom_template) =
        (&urls["application/geo+json"], &urls["application/atom+xml"]);
    /// Template variables and their values, and the ids they find.
    type Case<'a> = (Vec<(&'a str, &'a str)>, Vec<&'a str>);
    let cases: Vec<Case> = vec![
        (vec![("eo:cloudCover", "0")], vec!["D_south"]),
        (vec![("eo:cloudCover", "5.5")], vec!["A_inside"]),
        (
            vec![("eo:cloudCover", "[0,20]")],
            vec!["D_south", "B_east", "A_inside"],
        ),
        (
            vec![("eo:cloudCover", "[0,20[")],
            vec!["D_south", "A_inside"],
        ),
        (
            vec![("eo:cloudCover", "]0,20]")],
            vec!["B_east", "A_inside"],
        ),
        (vec![("eo:cloudCover", "]0,20[")], vec!["A_inside"]),
        (
            vec![("eo:cloudCover", "80]")],
            vec!["D_south", "C_dateline", "B_east", "A_inside"],
        ),
        (
            vec![("eo:cloudCover", "80[")],
            vec!["D_south", "B_east", "A_inside"],
        ),
        (vec![("eo:cloudCover", "]80")], vec!["F_west"]),
        (vec![("eo:cloudCover", "[80")], vec!["C_dateline", "F_west"]),
        (
            vec![("eo:cloudCover", "{0,100}")],
            vec!["D_south", "F_west"],
        ),
        (vec![("eo:snowCover", "[0")], vec!["D_south"]),
        (
            vec![("eo:orbitNumber", "[101,150]")],
            vec!["D_south", "B_east", "A_inside"],
        ),
        (vec![("eo:track", "10")], vec!["B_east", "A_inside"]),
        (
            vec![("eo:orbitDirection", "ASCENDING")],
            vec!["D_south", "A_inside"],
        ),
        (
            vec![("eo:orbitDirection", "descending")],
            vec!["B_east", "F_west"],
        ),
        (
            vec![("eo:platform", "sentinel-2a")],
            vec!["C_dateline", "F_west", "A_inside"],
        ),
        (
            vec![("eo:processingLevel", "{L1C,L0}")],
            vec!["B_east", "F_west"],
        ),
        (vec![("eo:sensorMode", "IW")], vec!["F_west"]),
        (
            vec![("eo:illuminationElevationAngle", "[30,31]")],
            vec!["A_inside"],
        ),
        (vec![("eo:illuminationAzimuthAngle", "]150")], vec![]),
        (vec![("eo:productType", "S2MSI1C")], vec![]),
        // The EO O&M values without a STAC name.
        (vec![("eo:sensorType", "radar")], vec!["F_west"]),
        (
            vec![("eo:sensorType", "{OPTICAL,RADAR}")],
            vec!["F_west", "A_inside"],
        ),
        (vec![("eo:acquisitionType", "NOMINAL")], vec!["A_inside"]),
        (vec![("eo:polarisationMode", "D")], vec!["F_west"]),
        (vec![("eo:polarisationMode", "Q")], vec![]),
        (
            vec![(
                "cql:cql",
                "sensorType = 'OPTICAL' OR polarisationMode = 'D'",
            )],
            vec!["F_west", "A_inside"],
        ),
        // cql with EOxServer's names, alone and beside EO parameters.
        (
            vec![(
                "cql:cql",
                "cloudCover <= 20 AND orbitDirection = 'ASCENDING'",
            )],
            vec!["D_south", "A_inside"],
        ),
        (
            vec![
                ("cql:cql", "platform IN ('sentinel-2a') OR snowCover > 10"),
                ("eo:cloudCover", "[50"),
            ],
            vec!["C_dateline", "F_west"],
        ),
        (
            vec![(
                "cql:cql",
                "NOT (identifier LIKE '%_west') AND cloudCover > 50",
            )],
            vec!["C_dateline"],
        ),
        (
            vec![
                ("eo:cloudCover", "[0,50]"),
                ("eo:orbitDirection", "ASCENDING"),
            ],
            vec!["D_south", "A_inside"],
        ),
        (
            vec![
                ("eo:cloudCover", "[0,50]"),
                ("eo:orbitDirection", "ASCENDING"),
                ("geo:box", "0,30,30,50"),
            ],
            vec!["A_inside"],
        ),
        (
            vec![("eo:platform", "sentinel-2a"), ("time:end", "2024-01-12")],
            vec!["F_west", "A_inside"],
        ),
        // The platform's serial identifier, exactly.
        (vec![("eo:platformSerialIdentifier", "A")], vec!["A_inside"]),
        (
            vec![("eo:platformSerialIdentifier", "{A,B}")],
            vec!["B_east", "A_inside"],
        ),
        (vec![("eo:platformSerialIdentifier", "a")], vec![]),
        // One of the instruments, exactly (D_south's is "msi").
        (vec![("eo:instrument", "MSI")], vec!["B_east", "A_inside"]),
        (vec![("eo:instrument", "msi")], vec!["D_south"]),
        (vec![("eo:instrument", "MS")], vec![]),
        (
            vec![("eo:instrument", "{OLCI,SAR-C}")],
            vec!["B_east", "F_west"],
        ),
        (
            vec![("cql:cql", "instrument = 'MSI'")],
            vec!["B_east", "A_inside"],
        ),
        // Products with instruments, none of them MSI (E_arctic has none: unknown).
        (
            vec![("cql:cql", "instrument <> 'MSI'")],
            vec!["D_south", "C_dateline", "F_west"],
        ),
        (
            vec![("cql:cql", "instrument IN ('OLCI', 'msi')")],
            vec!["D_south", "B_east"],
        ),
        // Incidence angles.
        (
            vec![("eo:minimumIncidenceAngle", "[25,30]")],
            vec!["F_west"],
        ),
        (vec![("eo:minimumIncidenceAngle", "]20")], vec!["F_west"]),
        (
            vec![("eo:minimumIncidenceAngle", "[20")],
            vec!["D_south", "F_west"],
        ),
        (vec![("eo:maximumIncidenceAngle", "40[")], vec!["D_south"]),
        (vec![("eo:maximumIncidenceAngle", "46")], vec!["F_west"]),
        (
            vec![("eo:incidenceAngleVariation", "{15,16.9}")],
            vec!["D_south", "F_west"],
        ),
        (vec![("eo:incidenceAngleVariation", "]15,16.9[")], vec![]),
        (
            vec![(
                "cql:cql",
                "maximumIncidenceAngle > 40 OR incidenceAngleVariation = 15",
            )],
            vec!["D_south", "F_west"],
        ),
        // Creation and modification times, compared as instants (F_west's creation is
        // 2024-02-01T01:00:00Z written at -02:00).
        (
            vec![(
                "eo:creationDate",
                "[2024-02-01T00:00:00Z,2024-02-01T12:00:00Z]",
            )],
            vec!["F_west", "A_inside"],
        ),
        (
            vec![("eo:creationDate", "2024-02-01T01:00:00Z")],
            vec!["F_west"],
        ),
        (
            vec![("eo:creationDate", "2024-02-01T03:00:00+02:00")],
            vec!["F_west"],
        ),
        (
            vec![("eo:creationDate", "]2024-02-01T10:00:00Z")],
            vec!["B_east"],
        ),
        (
            vec![("eo:creationDate", "2024-02-02T00:00:00.5Z]")],
            vec!["C_dateline", "B_east", "F_west", "A_inside"],
        ),
        (
            vec![("eo:creationDate", "2024-02-02T00:00:00.5Z[")],
            vec!["C_dateline", "F_west", "A_inside"],
        ),
        (vec![("eo:creationDate", "2024-02-01[")], vec!["C_dateline"]),
        (
            vec![("eo:creationDate", "{2024-01-15,2024-02-01T10:00:00Z}")],
            vec!["C_dateline", "A_inside"],
        ),
        (
            vec![("eo:modificationDate", "[2024-02-04T23:00:00Z")],
            vec!["A_inside"],
        ),
        (
            vec![("eo:modificationDate", "]2024-02-04T23:00:00Z")],
            vec![],
        ),
        (
            vec![("cql:cql", "creationDate > '2024-02-01T05:00:00Z'")],
            vec!["B_east", "A_inside"],
        ),
        (
            vec![(
                "cql:cql",
                "modificationDate = TIMESTAMP('2024-02-04T23:00:00Z') AND platformSerialIdentifier = 'A'",
            )],
            vec!["A_inside"],
        ),
    ];
    for (values, expected) in cases {
        let json = server.json(&fill(json_template, &values)).await;
        assert_eq!(feature_ids(&json), expected, "{values:?}");
        assert_eq!(json["totalResults"], expected.len(), "{values:?}");
        let feed = server.atom(&fill(atom_template, &values)).await;
        assert_eq!(entry_ids(&feed), expected, "{values:?}");
        // The feed echoes the request by template variable.
        let echo = feed.child("os:Query");
        for (variable, value) in &values {
            if variable.starts_with("eo:") {
                assert_eq!(echo.attr(variable), *value, "{values:?}");
            }
        }
    }

    // The description documents what each takes.
    let url = description
        .children_named("Url")
        .find(|u| u.attr("type") == "application/geo+json")
        .unwrap();
    let parameter = |name: &str| {
        url.children_named("param:Parameter")
            .find(|p| p.attr("name") == name)
            .unwrap_or_else(|| panic!("no param:Parameter {name}"))
    };
    let directions: Vec<&str> = parameter("orbitDirection")
        .children_named("param:Option")
        .map(|o| o.attr("value"))
        .collect();
    assert_eq!(directions, ["ASCENDING", "DESCENDING"]);
    let pattern = parameter("cloudCover").attr("pattern");
    assert!(
        pattern.starts_with('^') && pattern.ends_with('$'),
        "{pattern}"
    );
    assert_eq!(parameter("cloudCover").attr("value"), "{eo:cloudCover}");
    for (name, variable) in [
        ("platformSerialIdentifier", "{eo:platformSerialIdentifier}"),
        ("instrument", "{eo:instrument}"),
        ("minimumIncidenceAngle", "{eo:minimumIncidenceAngle}"),
        ("maximumIncidenceAngle", "{eo:maximumIncidenceAngle}"),
        ("incidenceAngleVariation", "{eo:incidenceAngleVariation}"),
        ("creationDate", "{eo:creationDate}"),
        ("modificationDate", "{eo:modificationDate}"),
    ] {
        assert_eq!(parameter(name).attr("value"), variable);
    }
    // Times take the range syntax: its pattern admits a closed range of date-times.
    let pattern = parameter("creationDate").attr("pattern");
    assert!(pattern.contains("T[0-9]{2}"), "{pattern}");

    // A collection search does not take product properties: it ignores them.
    let all = server.json("/opensearch/json?cloudCover=10").await;
    assert_eq!(feature_ids(&all), ["EMPTY", "S2", "SAR"]);
}

/// Bad values of the EO parameters, filled into the description document's templates, are
/// refused with a 400 naming the parameter and saying why, in GeoJSON and in Atom.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_eo_values_are_refused_naming_the_parameter() {
    let server = Server::start().await;
    let description = parse_xml(&server.get("/opensearch/collections/S2").await.body);
    let urls = templates(&description);
    for (variable, value, parameter, says) in [
        ("eo:creationDate", "2024-13-01", "creationDate", "ISO 8601"),
        ("eo:creationDate", "yesterday", "creationDate", "ISO 8601"),
        (
            "eo:creationDate",
            "[2024-02-02,2024-02-01]",
            "creationDate",
            "after its end",
        ),
        (
            "eo:modificationDate",
            "{2024-02-01,}",
            "modificationDate",
            "ISO 8601",
        ),
        (
            "eo:minimumIncidenceAngle",
            "91",
            "minimumIncidenceAngle",
            "not a number from -90 to 90",
        ),
        (
            "eo:maximumIncidenceAngle",
            "[50,40]",
            "maximumIncidenceAngle",
            "after its end",
        ),
        (
            "eo:incidenceAngleVariation",
            "-1",
            "incidenceAngleVariation",
            "not a number from 0 to 180",
        ),
        (
            "eo:instrument",
            "[MSI",
            "instrument",
            "numbers and times only",
        ),
        ("eo:instrument", "{MSI,}", "instrument", "a value is empty"),
        (
            "eo:platformSerialIdentifier",
            "]A,B[",
            "platformSerialIdentifier",
            "numbers and times only",
        ),
        ("cql:cql", "instrument > 'MSI'", "cql", "string array"),
        ("cql:cql", "instrument = 5", "cql", "string array"),
        ("cql:cql", "creationDate > 5", "cql", "timestamp"),
        ("cql:cql", "minimumIncidenceAngle = 'x'", "cql", "number"),
    ] {
        let json = server
            .get(&fill(&urls["application/geo+json"], &[(variable, value)]))
            .await;
        assert_eq!(json.status, 400, "{variable}={value}: {}", json.body);
        let body: Value = serde_json::from_str(&json.body).unwrap();
        assert_eq!(body["error"]["parameter"], parameter, "{body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains(says), "{variable}={value}: {message}");
        let atom = server
            .get(&fill(&urls["application/atom+xml"], &[(variable, value)]))
            .await;
        assert_eq!(atom.status, 400, "{variable}={value}: {}", atom.body);
        let report = parse_xml(&atom.body);
        assert_eq!(report.child("ows:Exception").attr("locator"), parameter);
    }
}

/// The ids a page lists, in order: the link text of each result's first cell.
fn html_ids(page: &Element) -> Vec<String> {
    page.child("body")
        .child("table")
        .child("tbody")
        .children_named("tr")
        .map(|row| row.child("td").child("a").text.clone())
        .collect()
}

/// The `href` of the page's paging link `rel`.
fn html_link(page: &Element, rel: &str) -> Option<String> {
    page.child("body")
        .child("nav")
        .children_named("a")
        .find(|a| a.attr("rel") == rel)
        .map(|a| a.attr("href").to_owned())
}

/// The HTML pages EOxServer serves beside Atom: advertised in the description documents,
/// listing the same results as GeoJSON with their links, paged, escaped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn html_pages_list_the_results() {
    let server = Server::start().await;
    let html = |answer: Answer| {
        assert_eq!(answer.status, 200, "{}", answer.body);
        assert_eq!(answer.content_type, "text/html");
        assert!(
            answer
                .body
                .starts_with("<!DOCTYPE html>\n<html lang=\"en\">")
        );
        parse_xml(&answer.body)
    };
    let description = parse_xml(&server.get("/opensearch/collections/S2").await.body);
    let url = description
        .children_named("Url")
        .find(|u| u.attr("type") == "text/html")
        .expect("an HTML Url");
    assert_eq!(url.attr("rel"), "results");
    let template = url.attr("template");
    let json_template = &templates(&description)["application/geo+json"];
    for values in [
        vec![],
        vec![("eo:instrument", "MSI")],
        vec![("eo:cloudCover", "[0,20]"), ("geo:box", "0,30,30,50")],
        vec![("eo:creationDate", "[2024-02-01")],
        vec![("geo:uid", "nothing")],
    ] {
        let page = html(server.get(&fill(template, &values)).await);
        let expected = feature_ids(&server.json(&fill(json_template, &values)).await);
        assert_eq!(html_ids(&page), expected, "{values:?}");
    }

    // A result: its id links to it alone, its times, its box, its map and its data.
    let page = html(
        server
            .get(&fill(template, &[("eo:instrument", "MSI"), ("count", "1")]))
            .await,
    );
    assert_eq!(html_ids(&page), ["B_east"]);
    let row = page.child("body").child("table").child("tbody").child("tr");
    let cells: Vec<&Element> = row.children_named("td").collect();
    let alone = html(server.get(cells[0].child("a").attr("href")).await);
    assert_eq!(html_ids(&alone), ["B_east"]);
    assert_eq!(
        cells[1].child("time").attr("datetime"),
        "2024-01-12T00:00:00Z"
    );
    assert_eq!(
        cells[2].child("time").attr("datetime"),
        "2024-01-12T01:00:00Z"
    );
    assert_eq!(cells[3].text, "20,40,22,42");
    let links: Vec<&str> = cells[4]
        .children_named("a")
        .map(|a| a.attr("href"))
        .collect();
    let get_map = query_of(links[0]);
    assert_eq!(
        (get_map["request"].as_str(), get_map["layers"].as_str()),
        ("GetMap", "S2")
    );
    assert_eq!(cells[4].child("a").child("img").attr("src"), links[0]);
    assert_eq!(query_of(links[1])["coverageId"], "B_east");
    // Paging: the next page holds the other MSI product, and leads back.
    assert_eq!(page.child("body").child("p").text, "Results 1 to 1 of 2");
    assert!(html_link(&page, "previous").is_none());
    let next = html(server.get(&html_link(&page, "next").unwrap()).await);
    assert_eq!(html_ids(&next), ["A_inside"]);
    assert!(html_link(&next, "next").is_none());
    let back = html(server.get(&html_link(&next, "previous").unwrap()).await);
    assert_eq!(html_ids(&back), ["B_east"]);

    // The collection search has its HTML page too.
    let top = parse_xml(&server.get("/opensearch").await.body);
    let collections = html(server.get(&fill(&templates(&top)["text/html"], &[])).await);
    assert_eq!(html_ids(&collections), ["EMPTY", "S2", "SAR"]);

    // Values from the request are escaped.
    let hostile = "<script>alert('x')</script>&\"";
    let answer = server.get(&fill(template, &[("geo:uid", hostile)])).await;
    assert!(!answer.body.contains("<script"), "{}", answer.body);
    let page = html(answer);
    assert!(html_ids(&page).is_empty());
    assert_eq!(query_of(&html_link(&page, "self").unwrap())["uid"], hostile);
    // And so are values from the catalog: a product id with markup is listed as text.
    let catalog = server._database.catalog().await;
    let id = "<img src=x onerror=alert(1)>&'\"";
    catalog
        .register(&product(
            id,
            "S2",
            vec![square(1.0, 1.0, 2.0, 2.0)],
            "2020-01-01T00:00:00Z",
            "2020-01-01T00:00:00Z",
        ))
        .await
        .unwrap();
    let answer = server.get(&fill(template, &[("geo:uid", id)])).await;
    assert!(!answer.body.contains("<img src=x"), "{}", answer.body);
    assert_eq!(html_ids(&html(answer)), [id]);
}

/// The URL forms and the parameter name EOxServer's clients use: a trailing slash on every
/// endpoint, `timerel` for `relation`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eoxserver_url_forms_and_timerel() {
    let server = Server::start().await;
    for path in ["/opensearch/", "/opensearch/collections/S2/"] {
        let answer = server.get(path).await;
        assert_eq!(answer.status, 200, "{path}: {}", answer.body);
        assert_eq!(answer.content_type, "application/opensearchdescription+xml");
        assert_eq!(parse_xml(&answer.body).name, "OpenSearchDescription");
    }
    let collections = server.json("/opensearch/json/?uid=S2").await;
    assert_eq!(feature_ids(&collections), ["S2"]);
    let inside = "start=2024-01-10T00:10:00Z&end=2024-01-10T00:20:00Z";
    for query in [
        format!("{inside}&timerel=contains"),
        format!("{inside}&TIMEREL=contains"),
        format!("{inside}&relation=contains"),
    ] {
        let json = server
            .json(&format!("/opensearch/collections/S2/json/?{query}"))
            .await;
        assert_eq!(feature_ids(&json), ["A_inside"], "{query}");
        let feed = server
            .atom(&format!("/opensearch/collections/S2/atom/?{query}"))
            .await;
        assert_eq!(entry_ids(&feed), ["A_inside"], "{query}");
    }
    let message = server
        .refused(
            "S2",
            &format!("{inside}&timerel=contains&relation=during"),
            400,
            "relation",
        )
        .await;
    assert!(message.contains("timerel is another name"), "{message}");
}

/// EOxServer's conventions, as its clients expect them with `OPENSEARCH_INDEX_OFFSET=0` and
/// `OPENSEARCH_RADIUS_UNIT=deg`: the first result is at `startIndex=0` (and the description
/// says `indexOffset="0"`), the paging links count from 0, `r` is in degrees of arc; unknown
/// parameters are ignored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eoxserver_conventions_index_from_zero_and_radius_in_degrees() {
    let server = Server::start_with(Conventions {
        index_offset: IndexOffset::Zero,
        radius: RadiusUnit::Degrees,
    })
    .await;
    let description = server.get("/opensearch/collections/S2/").await.body;
    assert!(description.contains("indexOffset=\"0\""), "{description}");
    assert!(!description.contains("indexOffset=\"1\""), "{description}");
    for (query, ids, start_index, previous, next) in [
        ("count=2&startIndex=0", &ALL_S2[0..2], 0, None, Some(2)),
        ("count=2", &ALL_S2[0..2], 0, None, Some(2)),
        ("count=2&startIndex=2", &ALL_S2[2..4], 2, Some(0), Some(4)),
        ("count=2&startIndex=5", &ALL_S2[5..6], 5, Some(3), None),
        ("count=4&startPage=2", &ALL_S2[4..6], 4, Some(0), None),
    ] {
        let json = server
            .json(&format!(
                "/opensearch/collections/S2/json/?{query}&_=1700000000"
            ))
            .await;
        assert_eq!(feature_ids(&json), ids, "{query}");
        assert_eq!(json["startIndex"], start_index, "{query}");
        let link = |rel: &str| {
            json["properties"]["links"][rel][0]["href"]
                .as_str()
                .map(|href| query_of(href)["startIndex"].parse::<u64>().unwrap())
        };
        assert_eq!(link("previous"), previous, "{query}");
        assert_eq!(link("next"), next, "{query}");
        assert_eq!(link("first"), Some(0), "{query}");
        // Following the next link gives the next page.
        if let Some(next) = json["properties"]["links"]["next"][0]["href"].as_str() {
            let path = next.strip_prefix(&server.base).unwrap();
            let following = server.json(path).await;
            let start = next_start(start_index, ids.len());
            assert_eq!(feature_ids(&following)[0], ALL_S2[start], "{query}");
        }
        let feed = server
            .atom(&format!("/opensearch/collections/S2/atom?{query}"))
            .await;
        assert_eq!(feed.child("os:startIndex").text, start_index.to_string());
    }
    // One degree of arc is 111.195 km: (13, 41) lies 83.9 km east of A.
    assert_eq!(server.ids("lat=41&lon=13&r=1").await, ["A_inside"]);
    assert_eq!(
        server.ids("lat=41&lon=13&r=0.7").await,
        Vec::<String>::new()
    );
    let message = server
        .refused("S2", "lat=41&lon=13&r=90", 400, "radius")
        .await;
    assert!(message.contains("degrees"), "{message}");
    let message = server
        .refused("S2", "startIndex=-1", 400, "startIndex")
        .await;
    assert!(message.contains("the first is 0"), "{message}");
}

/// KML, as EOxServer serves it: GDAL's KML driver reads the placemarks with their footprints
/// (the antimeridian product as two polygons) and times; the paging links lead on; the
/// collection search has one placemark per collection with its box.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kml_documents_are_read_by_gdal() {
    let server = Server::start().await;
    let dir = tempfile::tempdir().unwrap();
    let answer = server.get("/opensearch/collections/S2/kml/?count=4").await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let kml = parse_xml(&answer.body);
    assert_eq!(placemark_names(&kml), &ALL_S2[0..4]);
    let next = kml
        .child("Document")
        .children_named("atom:link")
        .find(|l| l.attr("rel") == "next")
        .map(|l| l.attr("href").to_owned())
        .expect("a next link");
    let following = server.get(next.strip_prefix(&server.base).unwrap()).await;
    assert_eq!(placemark_names(&parse_xml(&following.body)), &ALL_S2[4..6]);

    let file = dir.path().join("all.kml");
    let all = server.get("/opensearch/collections/S2/kml").await;
    std::fs::write(&file, &all.body).unwrap();
    let output = std::process::Command::new("ogrinfo")
        .args(["-ro", "-al", "-q"])
        .arg(&file)
        .output()
        .expect("ogrinfo (GDAL)");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{text}");
    for id in ALL_S2 {
        assert!(
            text.contains(&format!("Name (String) = {id}")),
            "{id}: {text}"
        );
    }
    // The product across the antimeridian is two polygons, both read.
    let dateline = text
        .split("OGRFeature")
        .find(|f| f.contains("= C_dateline"))
        .unwrap();
    assert!(dateline.contains("MULTIPOLYGON"), "{dateline}");
    assert_eq!(dateline.matches("((").count(), 2, "{dateline}");
    assert!(text.contains("begin (DateTime) = 2024/01/"), "{text}");

    let collections = server.get("/opensearch/kml?uid=S2").await;
    let kml = parse_xml(&collections.body);
    assert_eq!(placemark_names(&kml), ["S2"]);
    assert!(
        collections.body.contains("<Polygon>"),
        "{}",
        collections.body
    );
}

/// The index of the page after one starting at `start` with `len` results.
fn next_start(start: u64, len: usize) -> usize {
    usize::try_from(start).unwrap() + len
}

/// RSS 2.0, as EOxServer serves it: the channel's paging links lead through every page, items
/// carry footprints and their coverage, the description document advertises it, and errors
/// are OGC exception reports.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rss_channels_page_and_carry_footprints() {
    let server = Server::start().await;
    let description = parse_xml(&server.get("/opensearch/collections/S2").await.body);
    let template = &templates(&description)["application/rss+xml"];
    let first = server.rss(&fill(template, &[("count", "4")])).await;
    let mut seen = item_ids(&first);
    let mut page = first;
    loop {
        let channel = page.child("channel");
        let Some(next) = channel
            .children_named("atom:link")
            .find(|link| link.attr("rel") == "next")
        else {
            break;
        };
        assert_eq!(next.attr("type"), "application/rss+xml");
        page = server.rss(next.attr("href")).await;
        seen.extend(item_ids(&page));
    }
    assert_eq!(seen, ALL_S2, "the pages hold every product once, in order");

    let rss = server
        .rss("/opensearch/collections/S2/rss/?uid=C_dateline")
        .await;
    let item = rss.child("channel").child("item");
    assert_eq!(item.child("title").text, "C_dateline");
    assert_eq!(
        item.child("dc:date").text,
        "2024-01-14T00:00:00Z/2024-01-14T00:00:00Z"
    );
    // Split at the antimeridian: two GML polygons, lat lon order.
    let surfaces = item.child("georss:where").child("gml:MultiSurface");
    assert_eq!(surfaces.children_named("gml:surfaceMember").count(), 2);
    let enclosure = item.child("enclosure");
    assert_eq!(enclosure.attr("type"), "image/tiff");
    assert!(enclosure.attr("url").contains("coverageId=C_dateline"));
    let collections = server.rss("/opensearch/rss?uid=S2").await;
    assert_eq!(item_ids(&collections), ["S2"]);

    let error = server.get("/opensearch/collections/S2/rss?count=0").await;
    assert_eq!(error.status, 400);
    assert_eq!(error.content_type, "application/xml");
    assert_eq!(parse_xml(&error.body).name, "ows:ExceptionReport");
}

// ---------------------------------------------------------------------------------------
// Refusals

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_parameters_are_refused_naming_them() {
    // Nested too deep for the parser's stack: refused before it is parsed.
    let deep_cql = format!("cql={}cloudCover%3C1", "NOT%20".repeat(2000));
    let server = Server::start().await;
    let many_points = format!(
        "geom=LINESTRING({})",
        (0..=1000)
            .map(|i| format!("{} 0", i as f64 / 100.0))
            .collect::<Vec<_>>()
            .join(",")
    );
    let huge_query = format!("uid={}", "x".repeat(17 * 1024));
    for (query, parameter, says) in [
        ("bbox=1,2,3", "bbox", "four numbers"),
        ("bbox=a,b,c,d", "bbox", "\"a\" is not a number"),
        ("bbox=0,10,1,5", "bbox", "south 10 is greater than north 5"),
        (
            "bbox=-200,0,0,1",
            "bbox",
            "west must be a number in [-180, 180]",
        ),
        ("bbox=0,0,1,NaN", "bbox", "not a number"),
        ("lat=1", "lon", "lon is missing"),
        ("lon=1&radius=5", "lat", "lat is missing"),
        ("lat=91&lon=0", "lat", "from -90 to 90"),
        ("lat=0&lon=181", "lon", "from -180 to 180"),
        ("lat=0&lon=0&radius=-5", "radius", "more than 0"),
        ("lat=0&lon=0&radius=0", "radius", "more than 0"),
        ("lat=0&lon=0&radius=1e10", "radius", "at most 2000000"),
        ("lat=0&lon=0&radius=abc", "radius", "metres"),
        ("bbox=0,0,1,1&lat=0&lon=0", "lat", "cannot be combined"),
        ("geom=POINT(1 1)&bbox=0,0,1,1", "geom", "cannot be combined"),
        ("geom=POLYGON((0 0,1 1))", "geom", "at least 4"),
        ("geom=POLYGON((0 0,1 0,1 1,0 1))", "geom", "not closed"),
        (
            "geom=POLYGON((0 0,2 2,2 0,0 2,0 0))",
            "geom",
            "not a valid polygon",
        ),
        ("geom=CIRCLE(0 0, 1)", "geom", "not supported"),
        ("geom=POINT(190 0)", "geom", "outside longitude"),
        (&many_points, "geom", "more than 1000 points"),
        ("start=2024-13-45", "start", "ISO 8601"),
        ("end=notadate", "end", "ISO 8601"),
        ("start=2024-01-01T25:00:00Z", "start", "ISO 8601"),
        ("start=2024-02-01&end=2024-01-01", "end", "is before start"),
        (
            "start=2024-01-01&relation=overlaps",
            "relation",
            "intersects, during, contains, equals or disjoint",
        ),
        ("relation=during", "relation", "needs start or end"),
        ("count=0", "count", "from 1 to 100"),
        ("count=-1", "count", "from 1 to 100"),
        ("count=1000000", "count", "from 1 to 100"),
        ("count=99999999999999999999999", "count", "from 1 to 100"),
        ("startIndex=0", "startIndex", "the first is 1"),
        ("startIndex=-3", "startIndex", "the first is 1"),
        ("startIndex=1000000001", "startIndex", "the first is 1"),
        ("startPage=0", "startPage", "the first is 1"),
        ("count=2&count=3", "count", "more than once"),
        ("uid=a%00b", "uid", "control character"),
        ("cloudCover=101", "cloudCover", "from 0 to 100"),
        ("cloudCover=[20,10]", "cloudCover", "after its end"),
        ("cloudCover=[10,20", "cloudCover", "a range is"),
        ("cloudCover={1,2", "cloudCover", "a set is written"),
        ("orbitNumber=1.5", "orbitNumber", "whole number"),
        (
            "orbitDirection=NORTH",
            "orbitDirection",
            "ASCENDING, DESCENDING",
        ),
        ("platform=[a,b]", "platform", "numbers and times only"),
        ("platform=a%01b", "platform", "control character"),
        ("cloudCover=1&cloudCover=2", "cloudCover", "more than once"),
        (&deep_cql, "cql", "levels deep"),
        (&huge_query, "query", "at most 16384"),
    ] {
        let message = server.refused("S2", query, 400, parameter).await;
        assert!(message.contains(says), "{query}: {message}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_strings_are_escaped() {
    let server = Server::start().await;
    let hostile = "<x a=\"1\">&amp;'</x>]]>";
    let encoded: String = url::form_urlencoded::byte_serialize(hostile.as_bytes()).collect();
    // Echoed in a successful search: as an attribute of os:Query and in the links.
    let answer = server
        .get(&format!("/opensearch/collections/S2/atom?uid={encoded}"))
        .await;
    assert_eq!(answer.status, 200);
    assert!(!answer.body.contains("<x"), "{}", answer.body);
    let feed = parse_xml(&answer.body);
    assert_eq!(feed.child("os:Query").attr("geo:uid"), hostile);
    assert_eq!(query_of(&feed.link("self", None).unwrap())["uid"], hostile);
    let json = server
        .json(&format!("/opensearch/collections/S2/json?uid={encoded}"))
        .await;
    assert_eq!(json["queries"]["request"][0]["geo:uid"], hostile);
    let answer = server.get(&format!("/opensearch/atom?q={encoded}")).await;
    assert_eq!(
        parse_xml(&answer.body)
            .child("os:Query")
            .attr("searchTerms"),
        hostile
    );

    // Echoed in errors: the value and an unknown parameter's name.
    // (Messages quote values as Rust string literals.)
    let quoted = format!("{hostile:?}");
    let message = server
        .refused("S2", &format!("bbox={encoded}"), 400, "bbox")
        .await;
    assert!(message.contains(&quoted), "{message}");
    // An unknown parameter, even a hostile one, is ignored (as EOxServer ignores it).
    let answer = server
        .get(&format!("/opensearch/collections/S2/atom?{encoded}=1"))
        .await;
    assert_eq!(answer.status, 200);
    assert!(!answer.body.contains("<x"), "{}", answer.body);
    let answer = server
        .get(&format!("/opensearch/collections/S2/atom?start={encoded}"))
        .await;
    assert!(!answer.body.contains("<x"));

    // A hostile Host header does not reach the documents.
    let client = reqwest::Client::new();
    let body = client
        .get(format!("{}/opensearch", server.base))
        .header("Host", "evil\"><x y=\"")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let root = parse_xml(&body);
    assert!(
        templates(&root)["application/atom+xml"].starts_with("http://localhost/opensearch/atom?")
    );
}
