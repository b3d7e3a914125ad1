//! The STAC API over HTTP against the real catalogs (PostGIS and the embedded SQLite one),
//! holding synthetic products with hand-made footprints, times and properties: every
//! endpoint, paging by the `next` links alone, the spatial, time, sort, fields and CQL2
//! parameters checked against expectations computed here (filters against
//! `pvs_catalog::Filter::matches`), public URLs, the COG served with range requests, the
//! transactions, and every refusal.

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use geo::{MultiPolygon, Polygon, polygon};
use pvs_catalog::testing::TestDatabase;
use pvs_catalog::{
    Catalog, Collection, Comparison, Field, Filter, Literal, Product, SqliteCatalog,
};
use pvs_queue::{QueueName, SqliteQueue, WorkQueue};
use pvs_service::public_url::PublicUrl;
use pvs_stac::{Stac, TilesUrl, Transactions};
use pvs_storage::Storage;
use pvs_test_support::storage::local_storage;
use reqwest::StatusCode;
use serde_json::{Map, Value, json};

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
    begin: DateTime<Utc>,
    end: DateTime<Utc>,
    properties: Value,
) -> Product {
    Product {
        id: id.to_owned(),
        collection: collection.to_owned(),
        product_type: None,
        footprint: MultiPolygon(footprint),
        begin,
        end,
        location: format!("{collection}/{id}.tif"),
        metadata: json!({"id": id, "note": "the metadata document"}),
        properties: properties.as_object().cloned().unwrap_or_default(),
    }
}

/// 25 products of `S2`: `P00`..`P24`, one a day from 2024-01-01, each a square in a row
/// along the equator, with a cloud cover of `(i * 7) % 40` (none for multiples of 6), a
/// platform alternating `sentinel-2a`/`sentinel-2b`, a relative orbit `i`; `P03` is an
/// instant, the others last an hour. Then the places and times of the spatial and time
/// tests, in `OTHER`: `EAST_SIDE` and `WEST_SIDE` on either side of the antimeridian,
/// `SPLIT` across it (two parts), `OLD` in 2019, `NEW` in 2021.
fn products() -> Vec<Product> {
    let day = t("2024-01-01T00:00:00Z");
    let mut products: Vec<Product> = (0..25)
        .map(|i| {
            let begin = day + Duration::days(i);
            let end = if i == 3 {
                begin
            } else {
                begin + Duration::hours(1)
            };
            let mut properties = json!({
                "platform": if i % 2 == 0 { "sentinel-2a" } else { "sentinel-2b" },
                "sat:relative_orbit": i,
                "constellation": "sentinel-2",
            });
            if i % 6 != 0 {
                properties["eo:cloud_cover"] = json!((i * 7) % 40);
            }
            let west = -60.0 + i as f64 * 4.0;
            product(
                &format!("P{i:02}"),
                "S2",
                vec![square(west, -1.0, west + 2.0, 1.0)],
                begin,
                end,
                properties,
            )
        })
        .collect();
    let other = |id: &str, footprint, begin: &str, end: &str| {
        product(id, "OTHER", footprint, t(begin), t(end), json!({}))
    };
    products.extend([
        other(
            "EAST_SIDE",
            vec![square(172.0, 20.0, 175.0, 22.0)],
            "2020-06-01T00:00:00Z",
            "2020-06-01T00:10:00Z",
        ),
        other(
            "WEST_SIDE",
            vec![square(-175.0, 20.0, -172.0, 22.0)],
            "2020-06-02T00:00:00Z",
            "2020-06-02T00:10:00Z",
        ),
        other(
            "SPLIT",
            vec![
                square(178.0, 30.0, 180.0, 32.0),
                square(-180.0, 30.0, -178.0, 32.0),
            ],
            "2020-06-03T00:00:00Z",
            "2020-06-03T00:10:00Z",
        ),
        other(
            "OLD",
            vec![square(0.0, 50.0, 1.0, 51.0)],
            "2019-03-01T00:00:00Z",
            "2019-03-01T01:00:00Z",
        ),
        other(
            "NEW",
            vec![square(0.0, 50.0, 1.0, 51.0)],
            "2021-03-01T00:00:00Z",
            "2021-03-01T01:00:00Z",
        ),
    ]);
    products
}

#[derive(Debug, Clone, Copy)]
enum Backend {
    Postgis,
    Sqlite,
}

/// How the server under test is set up.
#[derive(Default)]
struct Options {
    public_url: Option<&'static str>,
    tiles: Option<TilesUrl>,
    /// Transactions, for clients with this bearer token (the access policy's `write`).
    transactions: Option<&'static str>,
    /// `HTTP_BODY_TIMEOUT`, when not the default.
    body_timeout: Option<std::time::Duration>,
}

struct Server {
    base: String,
    products: Vec<Product>,
    storage: Storage,
    queue: Option<Arc<dyn WorkQueue>>,
    client: reqwest::Client,
    _database: Option<TestDatabase>,
    _dir: tempfile::TempDir,
}

async fn server(backend: Backend, options: Options) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let (catalog, database): (Arc<dyn Catalog>, _) = match backend {
        Backend::Postgis => {
            let database = TestDatabase::create().await;
            (Arc::new(database.catalog().await), Some(database))
        }
        Backend::Sqlite => (
            Arc::new(
                SqliteCatalog::open(dir.path().join("catalog.sqlite"))
                    .await
                    .unwrap(),
            ),
            None,
        ),
    };
    for name in ["S2", "OTHER", "EMPTY"] {
        catalog
            .upsert_collection(&Collection::new(name).unwrap())
            .await
            .unwrap();
    }
    let products = products();
    for result in catalog.register_batch(&products).await {
        result.unwrap();
    }
    std::fs::create_dir_all(dir.path().join("storage")).unwrap();
    let storage = local_storage(&dir.path().join("storage"));
    let queue: Option<Arc<dyn WorkQueue>> = match options.transactions {
        Some(_) => Some(Arc::new(
            SqliteQueue::open(&dir.path().join("queue.sqlite"))
                .await
                .unwrap(),
        )),
        None => None,
    };
    let stac = Stac {
        catalog,
        storage: storage.clone(),
        title: "pvs test".to_owned(),
        public_url: PublicUrl::new(options.public_url.map(|url| url.parse().unwrap())),
        wms_max_size: 4096,
        tiles: options.tiles,
        transactions: queue.clone().map(|queue| Transactions { queue }),
    };
    // Served as the renderer serves it, within the connection limits.
    let listener = pvs_service::http::bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let defaults = pvs_service::http::Limits::default();
    let limits = pvs_service::http::Limits {
        body_timeout: options.body_timeout.or(defaults.body_timeout),
        ..defaults
    };
    let mut routes = pvs_stac::routes(Arc::new(stac));
    if let Some(token) = options.transactions {
        let verifier = pvs_access::Verifier::new(pvs_access::Policy::default())
            .await
            .unwrap()
            .with_bearer(
                "writer",
                token,
                pvs_access::Grants::parse(["write"]).unwrap(),
            );
        routes = pvs_access::http::protect(routes, Arc::new(verifier));
    }
    tokio::spawn(pvs_service::http::serve(
        listener,
        routes,
        limits,
        std::future::pending(),
    ));
    Server {
        base,
        products,
        storage,
        queue,
        client: reqwest::Client::new(),
        _database: database,
        _dir: dir,
    }
}

impl Server {
    /// `GET url` (absolute, or a path under the server): status, content type, JSON body.
    async fn get(&self, url: &str) -> (StatusCode, String, Value) {
        self.send(self.client.get(self.url(url))).await
    }

    async fn post(&self, url: &str, body: &Value) -> (StatusCode, String, Value) {
        self.send(self.client.post(self.url(url)).json(body)).await
    }

    fn url(&self, url: &str) -> String {
        if url.starts_with("http") {
            url.to_owned()
        } else {
            format!("{}{url}", self.base)
        }
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> (StatusCode, String, Value) {
        let response = request.send().await.unwrap();
        let status = response.status();
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let bytes = response.bytes().await.unwrap();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        (status, content_type, body)
    }

    /// `GET` that must answer 200 with JSON.
    async fn json(&self, url: &str) -> Value {
        let (status, _, body) = self.get(url).await;
        assert_eq!(status, StatusCode::OK, "GET {url}: {body}");
        body
    }

    /// The ids of the features of a search answer, in order.
    async fn ids(&self, url: &str) -> Vec<String> {
        ids(&self.json(url).await)
    }

    /// Every product of a search, by following `next` links from `first` (a `GET` URL, or a
    /// `POST` body for `/stac/search`): each page's ids, in order.
    async fn pages(&self, first: Result<&str, &Value>) -> Vec<Vec<String>> {
        let mut pages = Vec::new();
        let (_, _, mut page) = match &first {
            Ok(url) => self.get(url).await,
            Err(body) => self.post("/stac/search", body).await,
        };
        loop {
            pages.push(ids(&page));
            assert!(pages.len() < 20, "paging does not end");
            let Some(next) = link(&page, "next") else {
                break;
            };
            let href = next["href"].as_str().unwrap();
            page = match next["method"].as_str() {
                Some("POST") => {
                    assert_eq!(next["merge"], false);
                    let (status, _, page) = self.post(href, &next["body"]).await;
                    assert_eq!(status, StatusCode::OK, "{page}");
                    page
                }
                _ => self.json(href).await,
            };
        }
        pages
    }
}

fn ids(page: &Value) -> Vec<String> {
    page["features"]
        .as_array()
        .unwrap_or_else(|| panic!("not a FeatureCollection: {page}"))
        .iter()
        .map(|feature| feature["id"].as_str().unwrap().to_owned())
        .collect()
}

fn link<'a>(document: &'a Value, rel: &str) -> Option<&'a Value> {
    document["links"]
        .as_array()?
        .iter()
        .find(|link| link["rel"] == rel)
}

fn href(document: &Value, rel: &str) -> String {
    link(document, rel).unwrap_or_else(|| panic!("no {rel} link in {document}"))["href"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Every `href` in a document, wherever it is.
fn hrefs(value: &Value, found: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, value) in map {
                match (key.as_str(), value) {
                    ("href", Value::String(href)) => found.push(href.clone()),
                    _ => hrefs(value, found),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| hrefs(item, found)),
        _ => {}
    }
}

/// Runs a check on both catalogs.
macro_rules! on_both_catalogs {
    ($($check:ident),* $(,)?) => {
        $(
            mod $check {
                #[tokio::test]
                async fn postgis() {
                    super::$check(super::Backend::Postgis).await
                }
                #[tokio::test]
                async fn sqlite() {
                    super::$check(super::Backend::Sqlite).await
                }
            }
        )*
    };
}

on_both_catalogs!(
    paging_follows_next_links,
    bbox_and_intersects,
    datetime_with_open_ends,
    sorting,
    cql2_filters,
);

// ---------------------------------------------------------------------------------------
// Core, Collections, Features

#[tokio::test]
async fn landing_page_conformance_and_openapi() {
    let server = server(Backend::Sqlite, Options::default()).await;
    let (status, content_type, landing) = server.get("/stac").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type, "application/json");
    assert_eq!(landing["type"], "Catalog");
    assert_eq!(landing["id"], "pvs");
    let base = &server.base;
    assert_eq!(href(&landing, "self"), format!("{base}/stac"));
    assert_eq!(href(&landing, "root"), format!("{base}/stac"));
    assert_eq!(href(&landing, "data"), format!("{base}/stac/collections"));
    assert_eq!(
        href(&landing, "conformance"),
        format!("{base}/stac/conformance")
    );
    let searches: Vec<&Value> = landing["links"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|link| link["rel"] == "search")
        .collect();
    let methods: BTreeSet<&str> = searches
        .iter()
        .map(|l| l["method"].as_str().unwrap())
        .collect();
    assert_eq!(methods, BTreeSet::from(["GET", "POST"]));
    let children: BTreeSet<String> = landing["links"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|link| link["rel"] == "child")
        .map(|link| link["href"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(children.len(), 3, "{children:?}");

    let expected: Vec<&str> = vec![
        "https://api.stacspec.org/v1.0.0/core",
        "https://api.stacspec.org/v1.0.0/collections",
        "https://api.stacspec.org/v1.0.0/ogcapi-features",
        "https://api.stacspec.org/v1.0.0/item-search",
        "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
        "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
        "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
        "https://api.stacspec.org/v1.0.0/item-search#sort",
        "https://api.stacspec.org/v1.0.0/ogcapi-features#sort",
        "https://api.stacspec.org/v1.0.0/item-search#fields",
        "https://api.stacspec.org/v1.0.0/ogcapi-features#fields",
        "https://api.stacspec.org/v1.0.0-rc.3/item-search#filter",
        "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
        "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
        "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
        "http://www.opengis.net/spec/cql2/1.0/conf/advanced-comparison-operators",
        "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
        "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json",
    ];
    let conformance = server.json(&href(&landing, "conformance")).await;
    let declared: BTreeSet<&str> = conformance["conformsTo"]
        .as_array()
        .unwrap()
        .iter()
        .map(|uri| uri.as_str().unwrap())
        .collect();
    assert_eq!(declared, expected.iter().copied().collect());
    assert_eq!(landing["conformsTo"], conformance["conformsTo"]);

    let service_desc = link(&landing, "service-desc").unwrap();
    assert_eq!(
        service_desc["type"],
        "application/vnd.oai.openapi+json;version=3.0"
    );
    let (status, content_type, openapi) = server.get(service_desc["href"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type, "application/vnd.oai.openapi+json;version=3.0");
    assert!(openapi["openapi"].as_str().unwrap().starts_with("3.0"));
    assert_eq!(openapi["servers"][0]["url"], format!("{base}/stac"));
    for path in [
        "/",
        "/conformance",
        "/collections",
        "/collections/{collectionId}",
        "/collections/{collectionId}/items",
        "/collections/{collectionId}/items/{itemId}",
        "/search",
        "/queryables",
    ] {
        assert!(openapi["paths"][path].is_object(), "{path} missing");
    }
    assert!(openapi["paths"]["/search"]["post"].is_object());
    assert!(
        openapi["paths"]["/collections/{collectionId}/items"]["post"].is_null(),
        "no write operations without transactions"
    );
    // Every local $ref resolves.
    let text = openapi.to_string();
    for reference in text.split("\"$ref\":\"#/").skip(1) {
        let path = reference.split('"').next().unwrap();
        let target = path.split('/').fold(&openapi, |node, key| &node[key]);
        assert!(!target.is_null(), "{path} does not resolve");
    }
}

#[tokio::test]
async fn collections_and_items() {
    let server = server(
        Backend::Postgis,
        Options {
            tiles: Some(TilesUrl::same_origin()),
            ..Options::default()
        },
    )
    .await;
    let base = server.base.clone();
    let landing = server.json("/stac").await;
    let collections = server.json(&href(&landing, "data")).await;
    let names: Vec<&str> = collections["collections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["EMPTY", "OTHER", "S2"]);
    let child = landing["links"]
        .as_array()
        .unwrap()
        .iter()
        .find(|link| link["rel"] == "child" && link["href"].as_str().unwrap().ends_with("/S2"))
        .unwrap();
    let s2 = server.json(child["href"].as_str().unwrap()).await;
    assert_eq!(s2["type"], "Collection");
    assert_eq!(s2["id"], "S2");
    assert_eq!(
        s2["extent"]["spatial"]["bbox"][0],
        json!([-60.0, -1.0, 38.0, 1.0])
    );
    assert_eq!(
        s2["extent"]["temporal"]["interval"][0],
        json!(["2024-01-01T00:00:00Z", "2024-01-25T01:00:00Z"])
    );
    assert_eq!(
        s2["summaries"]["datetime"]["minimum"],
        "2024-01-01T00:00:00Z"
    );
    assert_eq!(s2["item_assets"]["data"]["roles"], json!(["data"]));
    assert_eq!(s2["renders"]["default"]["assets"], json!(["data"]));
    assert!(s2["stac_extensions"].as_array().unwrap().contains(&json!(
        "https://stac-extensions.github.io/web-map-links/v1.2.0/schema.json"
    )));
    let wms = link(&s2, "wms").unwrap();
    assert_eq!(wms["href"], format!("{base}/ows"));
    assert_eq!(wms["wms:layers"], json!(["S2"]));
    let wmts = link(&s2, "wmts").unwrap();
    assert_eq!(wmts["href"], format!("{base}/wmts"));
    assert_eq!(wmts["wmts:layer"], "S2");
    assert_eq!(
        href(&s2, "xyz"),
        format!("{base}/tiles/S2/{{z}}/{{x}}/{{y}}.png")
    );
    let empty = server.json("/stac/collections/EMPTY").await;
    assert_eq!(
        empty["extent"]["temporal"]["interval"][0],
        json!([null, null])
    );

    // The items, and one item by its self link.
    let items = server.json(&href(&s2, "items")).await;
    assert_eq!(items["type"], "FeatureCollection");
    assert_eq!(items["numberMatched"], 25);
    assert_eq!(items["numberReturned"], 10);
    assert_eq!(ids(&items)[0], "P24", "newest first by default");
    let first = &items["features"][0];
    let item = server.json(&href(first, "self")).await;
    assert_eq!(&item, first);
    assert_eq!(item["type"], "Feature");
    assert_eq!(item["collection"], "S2");
    assert_eq!(item["geometry"]["type"], "MultiPolygon");
    assert_eq!(item["bbox"], json!([36.0, -1.0, 38.0, 1.0]));
    assert_eq!(item["properties"]["datetime"], Value::Null);
    assert_eq!(item["properties"]["start_datetime"], "2024-01-25T00:00:00Z");
    assert_eq!(item["properties"]["end_datetime"], "2024-01-25T01:00:00Z");
    assert_eq!(item["properties"]["platform"], "sentinel-2a");
    // Its properties' extensions are named: sat (no eo: P24 has no cloud cover).
    assert_eq!(
        item["stac_extensions"],
        json!([
            "https://stac-extensions.github.io/web-map-links/v1.2.0/schema.json",
            "https://stac-extensions.github.io/sat/v1.1.0/schema.json"
        ])
    );
    let p01 = server.json("/stac/collections/S2/items/P01").await;
    assert!(p01["stac_extensions"].as_array().unwrap().contains(&json!(
        "https://stac-extensions.github.io/eo/v2.0.0/schema.json"
    )));
    assert!(item["properties"].get("eo:cloud_cover").is_none());
    assert_eq!(
        href(&item, "collection"),
        format!("{base}/stac/collections/S2")
    );
    assert_eq!(href(&item, "parent"), format!("{base}/stac/collections/S2"));
    assert_eq!(href(&item, "root"), format!("{base}/stac"));
    let data = &item["assets"]["data"];
    assert_eq!(
        data["type"],
        "image/tiff; application=geotiff; profile=cloud-optimized"
    );
    assert_eq!(data["roles"], json!(["data"]));
    assert_eq!(
        data["href"],
        format!("{base}/stac/collections/S2/items/P24/data")
    );
    let thumbnail = item["assets"]["thumbnail"]["href"].as_str().unwrap();
    assert!(
        thumbnail.starts_with(&format!(
            "{base}/ows?service=WMS&version=1.3.0&request=GetMap&layers=P24&"
        )),
        "{thumbnail}"
    );
    assert!(
        thumbnail.contains("&bbox=36%2C-1%2C38%2C1&width=256&height=256&"),
        "{thumbnail}"
    );
    assert_eq!(item["assets"]["overview"]["roles"], json!(["overview"]));
    assert_eq!(link(&item, "wms").unwrap()["wms:layers"], json!(["P24"]));
    assert_eq!(
        link(&item, "wmts").unwrap()["wmts:dimensions"]["TIME"],
        "2024-01-25T00:00:00Z/2024-01-25T01:00:00Z"
    );
    assert_eq!(
        href(&item, "xyz"),
        format!(
            "{base}/tiles/S2/{{z}}/{{x}}/{{y}}.png?time=2024-01-25T00%3A00%3A00Z%2F2024-01-25T01%3A00%3A00Z"
        )
    );
    // An instant has a datetime and no interval.
    let instant = server.json("/stac/collections/S2/items/P03").await;
    assert_eq!(instant["properties"]["datetime"], "2024-01-04T00:00:00Z");
    assert!(instant["properties"].get("start_datetime").is_none());

    // The metadata asset is the stored document.
    let (status, content_type, metadata) = server
        .get(item["assets"]["metadata"]["href"].as_str().unwrap())
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type, "application/json");
    assert_eq!(
        metadata,
        json!({"id": "P24", "note": "the metadata document"})
    );

    // Queryables.
    let queryables_link = link(
        &landing,
        "http://www.opengis.net/def/rel/ogc/1.0/queryables",
    )
    .unwrap();
    let (status, content_type, queryables) =
        server.get(queryables_link["href"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type, "application/schema+json");
    assert_eq!(queryables["properties"]["eo:cloud_cover"]["type"], "number");
    assert_eq!(queryables["properties"]["datetime"]["format"], "date-time");
    assert_eq!(queryables["properties"]["platform"]["type"], "string");
    let collection_queryables = server
        .json(&href(
            &s2,
            "http://www.opengis.net/def/rel/ogc/1.0/queryables",
        ))
        .await;
    assert_eq!(
        collection_queryables["properties"],
        queryables["properties"]
    );

    // Unknown things are 404 JSON.
    for url in [
        "/stac/collections/NOPE",
        "/stac/collections/NOPE/items",
        "/stac/collections/NOPE/queryables",
        "/stac/collections/S2/items/NOPE",
        "/stac/collections/OTHER/items/P01",
        "/stac/collections/S2/items/NOPE/data",
        "/stac/search?collections=S2,NOPE",
    ] {
        let (status, content_type, body) = server.get(url).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{url}: {body}");
        assert_eq!(content_type, "application/json", "{url}");
        assert_eq!(body["code"], "NotFound", "{url}");
    }
}

// ---------------------------------------------------------------------------------------
// Item Search

async fn paging_follows_next_links(backend: Backend) {
    let server = server(backend, Options::default()).await;
    let s2: BTreeSet<String> = (0..25).map(|i| format!("P{i:02}")).collect();
    for first in [
        Ok("/stac/collections/S2/items?limit=10"),
        Ok("/stac/search?collections=S2&limit=10"),
        Err(json!({"collections": ["S2"], "limit": 10})),
        Ok("/stac/search?collections=S2&limit=10&sortby=%2Bsat:relative_orbit&fields=-assets"),
        Err(
            json!({"collections": ["S2"], "limit": 10, "sortby": [{"field": "sat:relative_orbit", "direction": "asc"}]}),
        ),
    ] {
        let pages = server.pages(first.as_ref().map(|url| *url)).await;
        let sizes: Vec<usize> = pages.iter().map(Vec::len).collect();
        assert_eq!(sizes, [10, 10, 5], "{first:?}");
        let seen: Vec<String> = pages.into_iter().flatten().collect();
        let unique: BTreeSet<String> = seen.iter().cloned().collect();
        assert_eq!(unique.len(), seen.len(), "{first:?}: a product seen twice");
        assert_eq!(unique, s2, "{first:?}");
    }
    // Every product of every collection, 7 at a time.
    let pages = server.pages(Ok("/stac/search?limit=7")).await;
    let seen: Vec<String> = pages.into_iter().flatten().collect();
    assert_eq!(seen.len(), server.products.len());
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), seen.len());

    // A limit over the maximum is read as the maximum.
    let all = server.json("/stac/search?limit=20000").await;
    assert_eq!(all["numberReturned"], server.products.len());
    let (status, _, all) = server.post("/stac/search", &json!({"limit": 20000})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(all["numberReturned"], server.products.len());

    // The second page links back to the first.
    let first = server.json("/stac/search?collections=S2&limit=10").await;
    assert_eq!(first["numberMatched"], 25);
    assert!(link(&first, "prev").is_none());
    let second = server.json(&href(&first, "next")).await;
    let back = server.json(&href(&second, "prev")).await;
    assert_eq!(ids(&back), ids(&first));
    // POST: the next link repeats the body with a token.
    let (_, _, page) = server
        .post(
            "/stac/search",
            &json!({"collections": ["S2"], "limit": 10, "fields": {"include": ["id"]}}),
        )
        .await;
    let next = link(&page, "next").unwrap();
    assert_eq!(next["method"], "POST");
    assert_eq!(next["body"]["fields"], json!({"include": ["id"]}));
    assert!(next["body"]["token"].is_string());
}

async fn bbox_and_intersects(backend: Backend) {
    let server = server(backend, Options::default()).await;
    let sorted = |mut ids: Vec<String>| {
        ids.sort();
        ids
    };
    // Across the antimeridian: the split footprint and both sides.
    assert_eq!(
        sorted(server.ids("/stac/search?bbox=170,10,-170,40").await),
        ["EAST_SIDE", "SPLIT", "WEST_SIDE"]
    );
    assert_eq!(
        sorted(server.ids("/stac/search?bbox=179,29,-179.5,33").await),
        ["SPLIT"]
    );
    assert_eq!(
        sorted(server.ids("/stac/search?bbox=-179,29,-177,33").await),
        ["SPLIT"]
    );
    let (_, _, post) = server
        .post(
            "/stac/search",
            &json!({"bbox": [170, 10, -170, 40], "collections": ["OTHER"]}),
        )
        .await;
    assert_eq!(sorted(ids(&post)), ["EAST_SIDE", "SPLIT", "WEST_SIDE"]);
    // The split product's bbox crosses the antimeridian, its geometry is the stored parts.
    let split = server.json("/stac/collections/OTHER/items/SPLIT").await;
    assert_eq!(split["bbox"], json!([178.0, 30.0, -178.0, 32.0]));
    assert_eq!(
        split["geometry"]["coordinates"].as_array().unwrap().len(),
        2
    );
    // 3D boxes: the heights are ignored.
    assert_eq!(
        sorted(
            server
                .ids("/stac/search?bbox=-60,-1,0,-57,1,100&collections=S2")
                .await
        ),
        ["P00"]
    );

    // intersects: a polygon (searched by the catalog) and a point and a line (tested here).
    let polygon = json!({"type": "Polygon", "coordinates": [[[-55.5, -0.5], [-51.5, -0.5], [-51.5, 0.5], [-55.5, 0.5], [-55.5, -0.5]]]});
    let (_, _, found) = server
        .post("/stac/search", &json!({"intersects": polygon}))
        .await;
    assert_eq!(sorted(ids(&found)), ["P01", "P02"]);
    let point = json!({"type": "Point", "coordinates": [179.0, 31.0]});
    let (_, _, found) = server
        .post("/stac/search", &json!({"intersects": point}))
        .await;
    assert_eq!(ids(&found), ["SPLIT"]);
    let line = json!({"type": "LineString", "coordinates": [[-59.0, 0.0], [-51.0, 0.0]]});
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("intersects", &line.to_string())
        .append_pair("limit", "2")
        .finish();
    let pages = server.pages(Ok(&format!("/stac/search?{query}"))).await;
    assert_eq!(pages, [vec!["P02", "P01"], vec!["P00"]]);
}

async fn datetime_with_open_ends(backend: Backend) {
    let server = server(backend, Options::default()).await;
    let other = |datetime: &str| {
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("collections", "OTHER")
            .append_pair("datetime", datetime)
            .finish();
        format!("/stac/search?{query}")
    };
    assert_eq!(server.ids(&other("../2020-01-01T00:00:00Z")).await, ["OLD"]);
    assert_eq!(server.ids(&other("/2020-01-01T00:00:00Z")).await, ["OLD"]);
    assert_eq!(server.ids(&other("2021-01-01T00:00:00Z/..")).await, ["NEW"]);
    assert_eq!(server.ids(&other("2021-01-01T00:00:00Z/")).await, ["NEW"]);
    assert_eq!(
        server
            .ids(&other("2020-06-01T00:05:00Z/2020-06-02T00:00:00Z"))
            .await,
        ["WEST_SIDE", "EAST_SIDE"],
        "intervals meeting the search's, touching counts"
    );
    // An instant finds the products whose interval holds it.
    assert_eq!(server.ids(&other("2020-06-03T00:10:00Z")).await, ["SPLIT"]);
    assert_eq!(
        server.ids(&other("2020-06-03T00:10:00.000001Z")).await,
        Vec::<String>::new()
    );
    assert_eq!(
        server
            .ids("/stac/collections/S2/items?datetime=2024-01-04T00:00:00%2B00:00")
            .await,
        ["P03"]
    );
    let (_, _, post) = server
        .post(
            "/stac/search",
            &json!({"collections": ["OTHER"], "datetime": "../2019-12-31T23:59:59Z"}),
        )
        .await;
    assert_eq!(ids(&post), ["OLD"]);
}

async fn sorting(backend: Backend) {
    let server = server(backend, Options::default()).await;
    let s2: Vec<&Product> = server
        .products
        .iter()
        .filter(|p| p.collection == "S2")
        .collect();
    let cloud = |id: &str| {
        s2.iter()
            .find(|p| p.id == id)
            .unwrap()
            .properties
            .get("eo:cloud_cover")
            .and_then(Value::as_f64)
    };
    for (direction, sign) in [("asc", "%2B"), ("desc", "-")] {
        for url in [
            format!("/stac/collections/S2/items?limit=25&sortby={sign}eo:cloud_cover"),
            format!("/stac/search?collections=S2&limit=25&sortby={sign}properties.eo:cloud_cover"),
        ] {
            let found = server.ids(&url).await;
            assert_eq!(found.len(), 25);
            let values: Vec<Option<f64>> = found.iter().map(|id| cloud(id)).collect();
            let present: Vec<f64> = values.iter().flatten().copied().collect();
            let mut expected = present.clone();
            expected.sort_by(|a, b| a.partial_cmp(b).unwrap());
            if direction == "desc" {
                expected.reverse();
            }
            assert_eq!(present, expected, "{url}");
            // Products without a value come last, either way.
            let first_missing = values.iter().position(Option::is_none).unwrap();
            assert!(
                values[first_missing..].iter().all(Option::is_none),
                "{url}: {values:?}"
            );
            // Ties by id.
            for pair in found.windows(2) {
                if cloud(&pair[0]) == cloud(&pair[1]) {
                    assert!(pair[0] < pair[1], "{url}: {pair:?}");
                }
            }
        }
    }
    let (_, _, post) = server
        .post(
            "/stac/search",
            &json!({"collections": ["S2"], "limit": 3, "sortby": [{"field": "sat:relative_orbit", "direction": "desc"}]}),
        )
        .await;
    assert_eq!(ids(&post), ["P24", "P23", "P22"]);
    assert_eq!(
        server
            .ids("/stac/search?collections=S2&limit=3&sortby=datetime")
            .await,
        ["P00", "P01", "P02"]
    );
    assert_eq!(
        server
            .ids("/stac/search?collections=S2&limit=3&sortby=-platform,id")
            .await,
        ["P01", "P03", "P05"]
    );
}

#[tokio::test]
async fn fields_include_and_exclude() {
    let server = server(Backend::Sqlite, Options::default()).await;
    let page = server
        .json("/stac/search?ids=P01&fields=properties.eo:cloud_cover,bbox")
        .await;
    let item = &page["features"][0];
    let keys: BTreeSet<&str> = item
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        BTreeSet::from([
            "type",
            "stac_version",
            "id",
            "collection",
            "bbox",
            "properties"
        ])
    );
    assert_eq!(item["properties"], json!({"eo:cloud_cover": 7}));
    let page = server
        .json("/stac/search?ids=P01&fields=-geometry,-assets,-properties.platform")
        .await;
    // A GET with excludes only: the default set less them.
    let item = &page["features"][0];
    assert!(item.get("geometry").is_none() && item.get("assets").is_none());
    assert!(item["links"].is_array() && item["bbox"].is_array());
    assert_eq!(
        item["properties"],
        json!({"datetime": null, "start_datetime": "2024-01-02T00:00:00Z", "end_datetime": "2024-01-02T01:00:00Z"})
    );
    // A POST exclude without include: the whole Item less them.
    let (_, _, page) = server
        .post(
            "/stac/search",
            &json!({"ids": ["P01"], "fields": {"exclude": ["geometry", "properties.platform"]}}),
        )
        .await;
    let item = &page["features"][0];
    assert!(item.get("geometry").is_none() && item["assets"].is_object());
    assert!(item["properties"].get("platform").is_none());
    assert_eq!(item["properties"]["eo:cloud_cover"], 7);
    // Empty fields: the default set.
    for (status, _, page) in [
        server.get("/stac/search?ids=P01&fields=").await,
        server
            .post("/stac/search", &json!({"ids": ["P01"], "fields": {}}))
            .await,
        server
            .post(
                "/stac/search",
                &json!({"ids": ["P01"], "fields": {"include": null, "exclude": null}}),
            )
            .await,
    ] {
        assert_eq!(status, StatusCode::OK);
        let item = page["features"][0].as_object().unwrap();
        let keys: BTreeSet<&str> = item.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            BTreeSet::from([
                "type",
                "stac_version",
                "id",
                "collection",
                "geometry",
                "bbox",
                "links",
                "assets",
                "properties"
            ])
        );
        assert!(item["properties"].get("eo:cloud_cover").is_none());
    }
    // The more specific path wins.
    let page = server
        .json("/stac/search?ids=P01&fields=-properties,%2Bproperties.eo:cloud_cover")
        .await;
    assert_eq!(
        page["features"][0]["properties"],
        json!({"eo:cloud_cover": 7})
    );
    let (_, _, page) = server
        .post(
            "/stac/search",
            &json!({"ids": ["P01"], "fields": {"include": ["properties"], "exclude": ["properties.platform", "properties"]}}),
        )
        .await;
    let item = &page["features"][0];
    assert!(item.get("links").is_none());
    assert_eq!(
        item["properties"]["eo:cloud_cover"], 7,
        "include wins over the same exclude"
    );
    assert!(item["properties"].get("platform").is_none());
    let items = server
        .json("/stac/collections/S2/items?limit=1&fields=id")
        .await;
    assert_eq!(items["features"][0].as_object().unwrap().len(), 4);
}

/// CQL2 filters, in text and JSON, with the catalog filter they mean: the answer must be the
/// products that filter matches.
fn filter_cases() -> Vec<(&'static str, Value, Filter)> {
    let cloud = Field::parse("eo:cloud_cover").unwrap();
    let platform = Field::parse("platform").unwrap();
    let orbit = Field::parse("sat:relative_orbit").unwrap();
    let compare = |field, op, value| Filter::Compare { field, op, value };
    let number = Literal::Number;
    let text = |s: &str| Literal::Text(s.to_owned());
    vec![
        (
            "eo:cloud_cover < 10",
            json!({"op": "<", "args": [{"property": "eo:cloud_cover"}, 10]}),
            compare(cloud, Comparison::Lt, number(10.0)),
        ),
        (
            "properties.eo:cloud_cover >= 21 AND platform = 'sentinel-2b'",
            json!({"op": "and", "args": [
                {"op": ">=", "args": [{"property": "properties.eo:cloud_cover"}, 21]},
                {"op": "=", "args": [{"property": "platform"}, "sentinel-2b"]}]}),
            Filter::And(vec![
                compare(cloud, Comparison::Ge, number(21.0)),
                compare(platform, Comparison::Eq, text("sentinel-2b")),
            ]),
        ),
        (
            "eo:cloud_cover = 0 OR sat:relative_orbit > 22",
            json!({"op": "or", "args": [
                {"op": "=", "args": [{"property": "eo:cloud_cover"}, 0]},
                {"op": ">", "args": [{"property": "sat:relative_orbit"}, 22]}]}),
            Filter::Or(vec![
                compare(cloud, Comparison::Eq, number(0.0)),
                compare(orbit, Comparison::Gt, number(22.0)),
            ]),
        ),
        (
            "NOT (eo:cloud_cover < 20)",
            json!({"op": "not", "args": [{"op": "<", "args": [{"property": "eo:cloud_cover"}, 20]}]}),
            Filter::Not(Box::new(compare(cloud, Comparison::Lt, number(20.0)))),
        ),
        (
            "eo:cloud_cover <> 14",
            json!({"op": "<>", "args": [{"property": "eo:cloud_cover"}, 14]}),
            compare(cloud, Comparison::Ne, number(14.0)),
        ),
        (
            "sat:relative_orbit BETWEEN 3 AND 7",
            json!({"op": "between", "args": [{"property": "sat:relative_orbit"}, 3, 7]}),
            Filter::Between {
                field: orbit,
                low: number(3.0),
                high: number(7.0),
            },
        ),
        (
            "eo:cloud_cover IN (7, 14, 35)",
            json!({"op": "in", "args": [{"property": "eo:cloud_cover"}, [7, 14, 35]]}),
            Filter::In {
                field: cloud,
                values: vec![number(7.0), number(14.0), number(35.0)],
            },
        ),
        (
            "id LIKE 'P1%'",
            json!({"op": "like", "args": [{"property": "id"}, "P1%"]}),
            Filter::Like {
                field: Field::Id,
                pattern: "P1%".to_owned(),
            },
        ),
        (
            "eo:cloud_cover IS NULL",
            json!({"op": "isNull", "args": [{"property": "eo:cloud_cover"}]}),
            Filter::IsNull(cloud),
        ),
        (
            "eo:cloud_cover IS NOT NULL AND NOT (platform LIKE '%2a')",
            json!({"op": "and", "args": [
                {"op": "not", "args": [{"op": "isNull", "args": [{"property": "eo:cloud_cover"}]}]},
                {"op": "not", "args": [{"op": "like", "args": [{"property": "platform"}, "%2a"]}]}]}),
            Filter::And(vec![
                Filter::Not(Box::new(Filter::IsNull(cloud))),
                Filter::Not(Box::new(Filter::Like {
                    field: platform,
                    pattern: "%2a".to_owned(),
                })),
            ]),
        ),
        (
            "datetime >= TIMESTAMP('2024-01-20T00:00:00Z')",
            json!({"op": ">=", "args": [{"property": "datetime"}, {"timestamp": "2024-01-20T00:00:00Z"}]}),
            compare(
                Field::Start,
                Comparison::Ge,
                Literal::Timestamp(t("2024-01-20T00:00:00Z")),
            ),
        ),
        (
            "10 > eo:cloud_cover",
            json!({"op": ">", "args": [10, {"property": "eo:cloud_cover"}]}),
            compare(cloud, Comparison::Lt, number(10.0)),
        ),
    ]
}

async fn cql2_filters(backend: Backend) {
    let server = server(backend, Options::default()).await;
    for (text, json_filter, filter) in filter_cases() {
        let mut expected: Vec<&str> = server
            .products
            .iter()
            .filter(|p| p.collection == "S2" && filter.matches(p))
            .map(|p| p.id.as_str())
            .collect();
        expected.sort();
        assert!(
            !expected.is_empty(),
            "{text}: a case that finds nothing checks little"
        );
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("filter", text)
            .append_pair("sortby", "id")
            .append_pair("limit", "100")
            .finish();
        assert_eq!(
            server
                .ids(&format!("/stac/collections/S2/items?{query}"))
                .await,
            expected,
            "cql2-text GET {text}"
        );
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("filter", &json_filter.to_string())
            .append_pair("filter-lang", "cql2-json")
            .append_pair("collections", "S2")
            .append_pair("sortby", "id")
            .append_pair("limit", "100")
            .finish();
        assert_eq!(
            server.ids(&format!("/stac/search?{query}")).await,
            expected,
            "cql2-json GET {json_filter}"
        );
        let (status, _, page) = server
            .post(
                "/stac/search",
                &json!({"collections": ["S2"], "filter": json_filter, "sortby": [{"field": "id", "direction": "asc"}], "limit": 100}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{page}");
        assert_eq!(ids(&page), expected, "cql2-json POST {json_filter}");
        let (_, _, page) = server
            .post(
                "/stac/search",
                &json!({"collections": ["S2"], "filter-lang": "cql2-text", "filter": text, "sortby": [{"field": "id", "direction": "asc"}], "limit": 100}),
            )
            .await;
        assert_eq!(ids(&page), expected, "cql2-text POST {text}");
    }
}

// ---------------------------------------------------------------------------------------
// Public URLs

#[tokio::test]
async fn public_urls_follow_the_one_rule() {
    let forwarded = server(
        Backend::Sqlite,
        Options {
            tiles: Some(TilesUrl::same_origin()),
            ..Options::default()
        },
    )
    .await;
    let configured = server(
        Backend::Sqlite,
        Options {
            public_url: Some("https://vs.example.org/pvs"),
            tiles: Some("https://tiles.example.org/t".parse().unwrap()),
            ..Options::default()
        },
    )
    .await;
    for (server, headers, public, tiles) in [
        (
            &forwarded,
            vec![
                ("x-forwarded-proto", "https"),
                ("x-forwarded-host", "maps.example.org"),
                ("x-forwarded-prefix", "/p"),
            ],
            "https://maps.example.org/p",
            "https://maps.example.org/p",
        ),
        (
            &configured,
            vec![("x-forwarded-host", "ignored.example.org")],
            "https://vs.example.org/pvs",
            "https://tiles.example.org/t",
        ),
    ] {
        for path in [
            "/stac",
            "/stac/collections",
            "/stac/collections/S2",
            "/stac/collections/S2/items?limit=2",
            "/stac/collections/S2/items/P01",
            "/stac/search?limit=2&collections=S2",
            "/stac/api",
        ] {
            let mut request = server.client.get(format!("{}{path}", server.base));
            for (name, value) in &headers {
                request = request.header(*name, *value);
            }
            let (status, _, document) = server.send(request).await;
            assert_eq!(status, StatusCode::OK, "{path}");
            let mut found = Vec::new();
            hrefs(&document, &mut found);
            if path == "/stac/api" {
                found.push(document["servers"][0]["url"].as_str().unwrap().to_owned());
            }
            assert!(!found.is_empty(), "{path}");
            for href in found {
                let expected = if href.contains("/wmts") || href.contains("/tiles/") {
                    tiles
                } else {
                    public
                };
                assert!(
                    href.starts_with(&format!("{expected}/")) || href == format!("{public}/stac"),
                    "{path}: {href} does not start with {expected}"
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// The COG asset

#[tokio::test]
async fn the_cog_is_served_with_range_requests() {
    let server = server(Backend::Postgis, Options::default()).await;
    let bytes: Vec<u8> = (0..(9u32 << 20)).map(|i| (i * 31 % 251) as u8).collect();
    server
        .storage
        .put(&"S2/P01.tif".parse().unwrap(), bytes.clone().into())
        .await
        .unwrap();
    let item = server.json("/stac/collections/S2/items/P01").await;
    let href = item["assets"]["data"]["href"].as_str().unwrap().to_owned();
    let size = bytes.len();
    for (range, status, expected, content_range) in [
        (
            Some("bytes=0-15"),
            206,
            0..16,
            Some(format!("bytes 0-15/{size}")),
        ),
        (
            Some("bytes=4194300-4194310"),
            206,
            4194300..4194311,
            Some(format!("bytes 4194300-4194310/{size}")),
        ),
        (
            Some("bytes=9437000-"),
            206,
            9437000..size,
            Some(format!("bytes 9437000-{}/{size}", size - 1)),
        ),
        (
            Some("bytes=-100"),
            206,
            size - 100..size,
            Some(format!("bytes {}-{}/{size}", size - 100, size - 1)),
        ),
        (None, 200, 0..size, None),
        (Some("bytes=0-1,5-6"), 200, 0..size, None),
    ] {
        let mut request = server.client.get(&href);
        if let Some(range) = range {
            request = request.header("range", range);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status().as_u16(), status, "{range:?}");
        let headers = response.headers().clone();
        assert_eq!(headers["accept-ranges"], "bytes");
        assert_eq!(
            headers["content-type"],
            "image/tiff; application=geotiff; profile=cloud-optimized"
        );
        assert_eq!(
            headers
                .get("content-range")
                .map(|v| v.to_str().unwrap().to_owned()),
            content_range,
            "{range:?}"
        );
        assert!(headers.contains_key("last-modified"));
        let body = response.bytes().await.unwrap();
        assert_eq!(body.len(), expected.len(), "{range:?}");
        assert!(body[..] == bytes[expected], "{range:?}: other bytes");
    }
    let response = server
        .client
        .get(&href)
        .header("range", format!("bytes={size}-"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(
        response.headers()["content-range"],
        format!("bytes */{size}")
    );
    let head = server.client.head(&href).send().await.unwrap();
    assert_eq!(head.status(), StatusCode::OK);
    assert_eq!(head.headers()["content-length"], size.to_string());
    // A product whose COG is missing from storage.
    let (status, _, body) = server.get("/stac/collections/S2/items/P02/data").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(
        body["description"].as_str().unwrap().contains("missing"),
        "{body}"
    );
}

#[tokio::test]
async fn gdal_reads_the_cog_through_vsicurl() {
    use gdal::raster::Buffer;
    use gdal::spatial_ref::SpatialRef;
    use gdal::{Dataset, DriverManager};

    let server = server(Backend::Sqlite, Options::default()).await;
    // A 600 x 400 COG of P01's place with 256-pixel tiles: pixels a function of their place.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("P01.tif");
    let pixel = |x: usize, y: usize| ((x * 7 + y * 13) % 251) as u8;
    {
        let memory = DriverManager::get_driver_by_name("MEM").unwrap();
        let mut source = memory
            .create_with_band_type::<u8, _>("", 600, 400, 1)
            .unwrap();
        source
            .set_geo_transform(&[-56.0, 2.0 / 600.0, 0.0, 1.0, 0.0, -2.0 / 400.0])
            .unwrap();
        source
            .set_spatial_ref(&SpatialRef::from_epsg(4326).unwrap())
            .unwrap();
        let data: Vec<u8> = (0..400)
            .flat_map(|y| (0..600).map(move |x| pixel(x, y)))
            .collect();
        source
            .rasterband(1)
            .unwrap()
            .write((0, 0), (600, 400), &mut Buffer::new((600, 400), data))
            .unwrap();
        let cog = DriverManager::get_driver_by_name("COG").unwrap();
        let options = gdal::raster::RasterCreationOptions::from_iter(["BLOCKSIZE=256"]);
        source.create_copy(&cog, &path, &options).unwrap();
    }
    server
        .storage
        .put(
            &"S2/P01.tif".parse().unwrap(),
            std::fs::read(&path).unwrap().into(),
        )
        .await
        .unwrap();
    let item = server.json("/stac/collections/S2/items/P01").await;
    let href = item["assets"]["data"]["href"].as_str().unwrap().to_owned();
    let window = tokio::task::spawn_blocking(move || {
        let dataset = Dataset::open(format!("/vsicurl/{href}")).unwrap();
        assert_eq!(dataset.raster_size(), (600, 400));
        assert_eq!(dataset.geo_transform().unwrap()[0], -56.0);
        let band = dataset.rasterband(1).unwrap();
        band.read_as::<u8>((300, 200), (50, 40), (50, 40), None)
            .unwrap()
            .data()
            .to_vec()
    })
    .await
    .unwrap();
    let expected: Vec<u8> = (200..240)
        .flat_map(|y| (300..350).map(move |x| pixel(x, y)))
        .collect();
    assert_eq!(window, expected);
}

// ---------------------------------------------------------------------------------------
// Refusals

#[tokio::test]
async fn bad_input_is_400_json_naming_the_field() {
    let server = server(Backend::Sqlite, Options::default()).await;
    let huge: Vec<[f64; 2]> = (0..10_001)
        .map(|i| [i as f64 / 1e4, (i % 2) as f64 / 1e4])
        .collect();
    let gets = [
        ("/stac/search?limit=0", "limit"),
        ("/stac/collections/S2/items?limit=-1", "limit"),
        ("/stac/search?bbox=1,2,3", "bbox"),
        ("/stac/search?bbox=0,0,200,1", "bbox"),
        ("/stac/search?datetime=2024-13-01T00:00:00Z", "datetime"),
        ("/stac/search?datetime=../..", "datetime"),
        (
            "/stac/search?datetime=2024-02-01T00:00:00Z/2024-01-01T00:00:00Z",
            "datetime",
        ),
        ("/stac/search?filter=eo:cloud_cover%20%3C%3C%201", "filter"),
        ("/stac/search?filter=nope%20=%201", "filter"),
        ("/stac/search?filter=eo:cloud_cover%20=%20'a'", "filter"),
        ("/stac/search?filter=CASEI(platform)%20=%20'x'", "filter"),
        ("/stac/search?filter={}&filter-lang=cql2-json", "filter"),
        ("/stac/search?filter-lang=ecql", "filter-lang"),
        ("/stac/search?filter-crs=EPSG:4326", "filter-crs"),
        ("/stac/search?sortby=nope", "sortby"),
        ("/stac/search?token=x", "token"),
        ("/stac/search?intersects=nope", "intersects"),
        (
            "/stac/search?intersects=%7B%22type%22:%22Point%22,%22coordinates%22:[0,100]%7D",
            "intersects",
        ),
        (
            "/stac/collections/S2/items?collections=OTHER",
            "collections",
        ),
        ("/stac/collections/S2/items?ids=P01", "ids"),
        ("/stac/search?q=x", "q"),
    ];
    for (url, field) in gets {
        let (status, content_type, body) = server.get(url).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{url}: {body}");
        assert_eq!(content_type, "application/json", "{url}");
        assert!(body["code"].is_string(), "{url}: {body}");
        let description = body["description"].as_str().unwrap();
        assert!(
            description.starts_with(&format!("{field}: ")),
            "{url}: {description}"
        );
    }
    let posts = [
        (json!({"limit": 0}), "limit"),
        (json!({"limit": -1}), "limit"),
        (json!({"bbox": [0, 0, 1]}), "bbox"),
        (json!({"bbox": "0,0,1,1"}), "bbox"),
        (json!({"datetime": "yesterday"}), "datetime"),
        (
            json!({"intersects": {"type": "LineString", "coordinates": huge}}),
            "intersects",
        ),
        (
            json!({"intersects": {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}}),
            "intersects",
        ),
        (
            json!({"bbox": [0, 0, 1, 1], "intersects": {"type": "Point", "coordinates": [0, 0]}}),
            "intersects",
        ),
        (
            json!({"filter": {"op": "s_intersects", "args": [{"property": "geometry"}, {"type": "Point", "coordinates": [0, 0]}]}}),
            "filter",
        ),
        (
            json!({"filter": {"op": "=", "args": [{"property": "platform"}]}}),
            "filter",
        ),
        (
            json!({"filter": {"op": "t_intersects", "args": [{"property": "datetime"}, {"interval": ["2020-01-01", ".."]}]}}),
            "filter",
        ),
        // Text nested or long enough to overflow the parser's stack: refused first.
        (
            json!({"filter-lang": "cql2-text", "filter": format!("{}id = 'a'", "NOT ".repeat(3000))}),
            "filter",
        ),
        (
            json!({"filter-lang": "cql2-text", "filter": "id = 'a' AND ".repeat(70_000)}),
            "filter",
        ),
        (json!({"sortby": "datetime"}), "sortby"),
        (json!({"fields": 3}), "fields"),
        (json!({"fields": null}), "fields"),
        (json!({"collections": "S2"}), "collections"),
        (json!({"query": {"eo:cloud_cover": {"lt": 5}}}), "query"),
    ];
    for (body, field) in posts {
        let (status, content_type, answer) = server.post("/stac/search", &body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {answer}");
        assert_eq!(content_type, "application/json");
        let description = answer["description"].as_str().unwrap();
        assert!(
            description.starts_with(&format!("{field}: ")),
            "{body}: {description}"
        );
    }
    // Bodies: not JSON, too large.
    let response = server
        .client
        .post(format!("{}/stac/search", server.base))
        .body("{")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let answer: Value = response.json().await.unwrap();
    assert!(
        answer["description"]
            .as_str()
            .unwrap()
            .starts_with("body: ")
    );
    let response = server
        .client
        .post(format!("{}/stac/search", server.base))
        .body(vec![b' '; 2 << 20])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(response.headers()["connection"], "close");
    let answer: Value = response.json().await.unwrap();
    assert!(
        answer["description"]
            .as_str()
            .unwrap()
            .starts_with("body: ")
    );
    // Nothing was written by any of it.
    let (_, _, page) = server.get("/stac/search?limit=100").await;
    assert_eq!(ids(&page).len(), server.products.len());
}

#[tokio::test]
async fn a_body_that_stops_arriving_is_408_json() {
    let options = Options {
        body_timeout: Some(std::time::Duration::from_secs(1)),
        ..Default::default()
    };
    let server = server(Backend::Sqlite, options).await;
    // 100 bytes announced, 9 sent.
    let request = "POST /stac/search HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n\
                   Content-Length: 100\r\n\r\n{\"limit\":";
    let answer = pvs_test_support::net::send_raw(&server.base, request.as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains(r#""code":"RequestTimeout""#), "{answer}");
}

// ---------------------------------------------------------------------------------------
// Transactions

fn new_item(id: &str) -> Value {
    json!({
        "type": "Feature",
        "stac_version": "1.1.0",
        "id": id,
        "geometry": {"type": "Polygon", "coordinates": [[[10, 10], [11, 10], [11, 11], [10, 11], [10, 10]]]},
        "properties": {"datetime": "2024-05-01T10:00:00Z", "eo:cloud_cover": 3},
        "assets": {"data": {"href": "incoming/NEW_1.tif", "type": "image/tiff; application=geotiff", "roles": ["data"]}},
        "links": [],
    })
}

#[tokio::test]
async fn transactions_queue_checked_items_behind_the_write_credentials() {
    let server = server(
        Backend::Sqlite,
        Options {
            transactions: Some("s3cr3t"),
            ..Options::default()
        },
    )
    .await;
    let queue = server.queue.clone().unwrap();
    let conformance = server.json("/stac/conformance").await;
    for class in [
        "https://api.stacspec.org/v1.0.0/ogcapi-features/extensions/transaction",
        "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/simpletx",
    ] {
        assert!(
            conformance["conformsTo"]
                .as_array()
                .unwrap()
                .contains(&json!(class))
        );
    }
    let openapi = server.json("/stac/api").await;
    assert!(openapi["paths"]["/collections/{collectionId}/items"]["post"].is_object());

    let items = format!("{}/stac/collections/S2/items", server.base);
    let write = |request: reqwest::RequestBuilder| request.bearer_auth("s3cr3t");

    // Without (or with wrong) credentials: 401 and nothing queued.
    for request in [
        server.client.post(&items).json(&new_item("NEW_1")),
        server
            .client
            .post(&items)
            .bearer_auth("wrong")
            .json(&new_item("NEW_1")),
        server.client.delete(format!("{items}/P01")),
    ] {
        let (status, _, body) = server.send(request).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
        assert_eq!(body["code"], "Unauthorized");
    }
    assert_eq!(queue.len(QueueName::Register).await.unwrap(), 0);

    // A good Item: 202, its JSON on register_queue with the collection set.
    let response = write(server.client.post(&items).json(&new_item("NEW_1")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    assert_eq!(response.headers()["location"], format!("{items}/NEW_1"));
    let queued = queue.peek(QueueName::Register, 10).await.unwrap();
    assert_eq!(queued.len(), 1);
    let queued: Map<String, Value> = serde_json::from_str(&queued[0]).unwrap();
    assert_eq!(queued["id"], "NEW_1");
    assert_eq!(queued["collection"], "S2");
    assert_eq!(queued["properties"]["eo:cloud_cover"], 3);

    // Refusals, each naming the field; nothing more queued.
    let mut no_geometry = new_item("NEW_2");
    no_geometry.as_object_mut().unwrap().remove("geometry");
    let mut no_time = new_item("NEW_3");
    no_time["properties"]
        .as_object_mut()
        .unwrap()
        .remove("datetime");
    let mut other_collection = new_item("NEW_4");
    other_collection["collection"] = json!("OTHER");
    let mut cover_as_text = new_item("NEW_5");
    cover_as_text["properties"]["eo:cloud_cover"] = json!("low");
    for (body, status, field) in [
        (no_geometry, StatusCode::BAD_REQUEST, "geometry"),
        (no_time, StatusCode::BAD_REQUEST, "properties"),
        (other_collection, StatusCode::BAD_REQUEST, "collection"),
        (
            cover_as_text,
            StatusCode::BAD_REQUEST,
            "properties.eo:cloud_cover",
        ),
        (new_item("P01"), StatusCode::CONFLICT, "id"),
    ] {
        let (got, content_type, answer) = server
            .send(write(server.client.post(&items).json(&body)))
            .await;
        assert_eq!(got, status, "{answer}");
        assert_eq!(content_type, "application/json");
        let description = answer["description"].as_str().unwrap();
        assert!(
            description.starts_with(field),
            "{description} should name {field}"
        );
    }
    let (status, _, _) = server
        .send(write(
            server
                .client
                .post(format!("{}/stac/collections/NOPE/items", server.base))
                .json(&new_item("X")),
        ))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(queue.len(QueueName::Register).await.unwrap(), 1);

    // PUT replaces a registered Item; the path's id must be the Item's.
    let (status, _, _) = server
        .send(write(
            server
                .client
                .put(format!("{items}/P01"))
                .json(&new_item("P01")),
        ))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let (status, _, answer) = server
        .send(write(
            server
                .client
                .put(format!("{items}/P01"))
                .json(&new_item("P02")),
        ))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(answer["description"].as_str().unwrap().starts_with("id: "));
    let (status, _, _) = server
        .send(write(
            server
                .client
                .put(format!("{items}/NONE"))
                .json(&new_item("NONE")),
        ))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(queue.len(QueueName::Register).await.unwrap(), 2);

    // PUT without an id takes the path's.
    let mut no_id = new_item("P01");
    no_id.as_object_mut().unwrap().remove("id");
    let (status, _, answer) = server
        .send(write(
            server.client.put(format!("{items}/P01")).json(&no_id),
        ))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    assert_eq!(queue.len(QueueName::Register).await.unwrap(), 3);

    // PATCH merges into the registered Item, whose data asset is its COG's storage key.
    let (status, _, answer) = server
        .send(write(server.client.patch(format!("{items}/P02")).json(
            &json!({"properties": {"eo:cloud_cover": 1.5, "platform": null}}),
        )))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    let queued = queue.peek(QueueName::Register, 10).await.unwrap();
    let patched: Value = queued
        .iter()
        .map(|text| serde_json::from_str::<Value>(text).unwrap())
        .find(|item| item["id"] == "P02")
        .unwrap();
    assert_eq!(patched["properties"]["eo:cloud_cover"], 1.5);
    assert!(patched["properties"].get("platform").is_none());
    assert_eq!(patched["properties"]["sat:relative_orbit"], 2);
    assert_eq!(patched["assets"]["data"]["href"], "S2/P02.tif");
    assert_eq!(patched["collection"], "S2");
    for (url, body, status, field) in [
        (
            format!("{items}/P02"),
            json!({"id": "P03"}),
            StatusCode::BAD_REQUEST,
            "id",
        ),
        (
            format!("{items}/P02"),
            json!({"collection": "OTHER"}),
            StatusCode::BAD_REQUEST,
            "collection",
        ),
        (
            format!("{items}/P02"),
            json!({"properties": {"eo:cloud_cover": "low"}}),
            StatusCode::BAD_REQUEST,
            "properties.eo:cloud_cover",
        ),
        (
            format!("{items}/P02"),
            json!([1]),
            StatusCode::BAD_REQUEST,
            "body",
        ),
        (
            format!("{items}/NONE"),
            json!({}),
            StatusCode::NOT_FOUND,
            "item",
        ),
    ] {
        let (got, _, answer) = server
            .send(write(server.client.patch(&url).json(&body)))
            .await;
        assert_eq!(got, status, "{body}: {answer}");
        assert!(
            answer["description"].as_str().unwrap().starts_with(field),
            "{answer}"
        );
    }
    assert_eq!(queue.len(QueueName::Register).await.unwrap(), 4);

    // DELETE queues the collection and id for the registrar (ids are unique per collection:
    // the same id in another collection stays).
    let (status, _, _) = server
        .send(write(server.client.delete(format!("{items}/P05"))))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let queued = queue.peek(QueueName::Deregister, 10).await.unwrap();
    assert_eq!(queued.len(), 1);
    assert_eq!(
        pvs_model::Deregistration::parse(&queued[0]),
        pvs_model::Deregistration {
            collection: Some("S2".to_owned()),
            id: "P05".to_owned(),
        }
    );
    let (status, _, _) = server
        .send(write(server.client.delete(format!("{items}/NONE"))))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn without_transactions_the_api_is_read_only() {
    let server = server(Backend::Sqlite, Options::default()).await;
    let conformance = server.json("/stac/conformance").await;
    assert!(
        !conformance.to_string().contains("transaction"),
        "{conformance}"
    );
    let response = server
        .client
        .post(format!("{}/stac/collections/S2/items", server.base))
        .json(&new_item("NEW_1"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
}
