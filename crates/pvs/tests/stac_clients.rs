//! The STAC API of pvs as the STAC world uses it (issue "STAC in and out"), on `pvs up` and on
//! the cluster's renderer service (PostGIS, S3, Redis, with `pvs registrar` behind it), asked
//! directly and through the project's nginx routes published under `/pvs/`: real
//! products are registered through the real ways in — browse reports through the ingestor
//! (`pvs up`) or the catalog (the cluster), STAC Items with properties (`eo:cloud_cover`,
//! `platform`, `view:*`, `sat:*`...) through `POST /stac/collections/{c}/items` and the
//! registrar — and then `stac_clients.py` runs, given the landing page only:
//!
//! - `stac-api-validator` for every conformance class the API declares that it can check,
//!   offline (the JSON Schemas from pystac's wheel and from `tests/stac-schemas/`);
//! - pystac-client searching (GET and POST, paging by `next` links only) by bbox (across the
//!   antimeridian too), intersects, datetime with open ends, collections, ids, limit,
//!   sortby, fields and CQL2 filters in text and JSON, results compared with what was
//!   registered (ids, numberMatched, order); reading Collections and their Items, the COG
//!   with a range request;
//! - every Item and Collection validated against the JSON Schemas of its `stac_extensions`;
//! - bad input (malformed Items, unknown collections, bad CQL2, huge `intersects`, `limit`
//!   out of range) refused with a JSON body naming the field, and never registered; then
//!   the transactions (POST, PUT, DELETE), each followed until the registrar has done it.
//!
//! Known defects of pvs-stac are listed in `stac_clients.py` (`KNOWN_DEFECTS`): each makes
//! the run fail once fixed, so that its entry goes. The Python packages (pinned) are
//! installed by `scripts/setup.sh`.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use geo::{MultiPolygon, Polygon, polygon};
use pvs_catalog::testing::TestDatabase;
use pvs_catalog::{Catalog, Collection, Product, ProductQuery};
use pvs_queue::testing::{delete_keys, redis_url, unique_prefix};
use pvs_test_support::{free_address, s3, wait_for, wait_ok};
use serde_json::{Map, Value, json};

mod support;

use support::Service;
use support::nginx::Nginx;

const CLIENTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/stac_clients.py");
const SCHEMAS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/stac-schemas");

/// The collection stac-api-validator is pointed at: every product of it is an instant (the
/// validator's Sort check compares `properties.datetime`, which is null for an interval).
const VALIDATOR_COLLECTION: &str = "S2";

/// The extension schemas the posted Items name (all vendored in `tests/stac-schemas/`).
const EO: &str = "https://stac-extensions.github.io/eo/v2.0.0/schema.json";
const VIEW: &str = "https://stac-extensions.github.io/view/v1.1.0/schema.json";
const SAT: &str = "https://stac-extensions.github.io/sat/v1.1.0/schema.json";
const PROCESSING: &str = "https://stac-extensions.github.io/processing/v1.2.0/schema.json";
const PRODUCT_EXT: &str = "https://stac-extensions.github.io/product/v1.0.0/schema.json";

/// Where the COG of a new Item written by the clients (transactions) is on storage.
const SPARE_COG: &str = "spare.tif";
const SPARE_BOX: [f64; 4] = [30.0, 10.0, 31.0, 11.0];

/// One product: its footprint as boxes `[west, south, east, north]` (two for a footprint
/// split at the antimeridian), its times, its properties and the extensions they belong to.
/// `report`: it comes in by a browse report (`pvs up`) or straight into the catalog (the
/// cluster), with no properties; the others come as STAC Items.
struct TestProduct {
    id: &'static str,
    collection: &'static str,
    boxes: Vec<[f64; 4]>,
    begin: &'static str,
    end: &'static str,
    properties: Value,
    extensions: Vec<&'static str>,
    report: bool,
}

fn products() -> Vec<TestProduct> {
    let product = |id, collection, boxes, begin, end, properties, extensions| TestProduct {
        id,
        collection,
        boxes,
        begin,
        end,
        properties,
        extensions,
        report: false,
    };
    vec![
        TestProduct {
            report: true,
            ..product(
                "S2_BR",
                "S2",
                vec![[10.0, 44.0, 12.0, 46.0]],
                "2021-03-01T10:00:00Z",
                "2021-03-01T10:00:00Z",
                json!({}),
                vec![],
            )
        },
        product(
            "S2_A",
            "S2",
            vec![[11.0, 45.0, 13.0, 47.0]],
            "2021-04-01T10:00:00Z",
            "2021-04-01T10:00:00Z",
            json!({"eo:cloud_cover": 5.0, "platform": "sentinel-2a", "constellation": "sentinel-2",
                   "view:off_nadir": 2.5, "sat:orbit_state": "descending", "sat:relative_orbit": 22,
                   "processing:level": "L2A", "product:type": "S2MSI2A"}),
            vec![EO, VIEW, SAT, PROCESSING, PRODUCT_EXT],
        ),
        product(
            "S2_B",
            "S2",
            vec![[12.0, 46.0, 14.0, 48.0]],
            "2021-05-01T10:00:00Z",
            "2021-05-01T10:00:00Z",
            json!({"eo:cloud_cover": 25.0, "platform": "sentinel-2b", "view:off_nadir": 0.5,
                   "sat:orbit_state": "ascending"}),
            vec![EO, VIEW, SAT],
        ),
        product(
            "S2_C",
            "S2",
            vec![[-3.0, 49.0, -1.0, 51.0]],
            "2021-06-15T10:30:00Z",
            "2021-06-15T10:30:00Z",
            json!({"eo:cloud_cover": 60.0, "platform": "sentinel-2a", "view:off_nadir": 4.0,
                   "sat:orbit_state": "descending"}),
            vec![EO, VIEW, SAT],
        ),
        product(
            "S2_D",
            "S2",
            vec![[5.0, 50.0, 7.0, 52.0]],
            "2022-01-10T10:00:00Z",
            "2022-01-10T10:00:00Z",
            json!({"eo:cloud_cover": 1.0, "platform": "sentinel-2b"}),
            vec![EO],
        ),
        // Over Fiji, split at the antimeridian.
        product(
            "S2_AM",
            "S2",
            vec![[178.0, -18.0, 180.0, -16.0], [-180.0, -18.0, -178.0, -16.0]],
            "2021-07-01T22:00:00Z",
            "2021-07-01T22:00:00Z",
            json!({"eo:cloud_cover": 40.0, "platform": "sentinel-2a"}),
            vec![EO],
        ),
        TestProduct {
            report: true,
            ..product(
                "L8_BR",
                "L8",
                vec![[20.0, 40.0, 22.0, 42.0]],
                "2020-12-31T23:00:00Z",
                "2021-01-01T01:00:00Z",
                json!({}),
                vec![],
            )
        },
        product(
            "L8_A",
            "L8",
            vec![[20.5, 40.5, 22.5, 42.5]],
            "2021-02-01T09:00:00Z",
            "2021-02-01T09:05:00Z",
            json!({"eo:cloud_cover": 12.5, "platform": "landsat-8"}),
            vec![EO],
        ),
        product(
            "L8_B",
            "L8",
            vec![[-100.0, 30.0, -98.0, 32.0]],
            "2023-08-08T16:00:00Z",
            "2023-08-08T16:00:00Z",
            json!({"eo:cloud_cover": 90.0, "platform": "landsat-9"}),
            vec![EO],
        ),
    ]
}

fn ring([west, south, east, north]: [f64; 4]) -> Value {
    json!([
        [west, south],
        [east, south],
        [east, north],
        [west, north],
        [west, south]
    ])
}

impl TestProduct {
    /// The footprint as GeoJSON: a Polygon, or a MultiPolygon when split.
    fn geometry(&self) -> Value {
        match self.boxes.as_slice() {
            [one] => json!({"type": "Polygon", "coordinates": [ring(*one)]}),
            many => json!({
                "type": "MultiPolygon",
                "coordinates": many.iter().map(|b| json!([ring(*b)])).collect::<Vec<_>>(),
            }),
        }
    }

    fn footprint(&self) -> MultiPolygon<f64> {
        MultiPolygon(
            self.boxes
                .iter()
                .map(|&[west, south, east, north]| -> Polygon<f64> {
                    polygon![(x: west, y: south), (x: east, y: south), (x: east, y: north),
                             (x: west, y: north), (x: west, y: south)]
                })
                .collect(),
        )
    }

    /// The box the image covers (the first part of a split footprint).
    fn image_box(&self) -> [f64; 4] {
        self.boxes[0]
    }

    /// Where its image is on storage.
    fn key(&self) -> String {
        format!("{}.tif", self.id)
    }

    /// The STAC Item posted for it.
    fn item(&self) -> Value {
        let mut properties = self.properties.as_object().cloned().unwrap_or_default();
        if self.begin == self.end {
            properties.insert("datetime".into(), json!(self.begin));
        } else {
            properties.insert("datetime".into(), Value::Null);
            properties.insert("start_datetime".into(), json!(self.begin));
            properties.insert("end_datetime".into(), json!(self.end));
        }
        json!({
            "type": "Feature",
            "stac_version": "1.1.0",
            "stac_extensions": self.extensions,
            "id": self.id,
            "geometry": self.geometry(),
            "properties": properties,
            "assets": {"data": {
                "href": self.key(),
                "type": "image/tiff; application=geotiff; profile=cloud-optimized",
                "roles": ["data"],
            }},
            "links": [],
        })
    }

    /// The browse report that brings it in (an image at `key`, under the ingest prefix).
    fn report(&self) -> String {
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<rep:browseReport xmlns:rep="http://ngeo.eo.esa.int/ngEO/browseReport/1.0" version="1.3">
  <rep:responsibleOrgName>pvs tests</rep:responsibleOrgName>
  <rep:dateTime>2021-03-02T00:00:00Z</rep:dateTime>
  <rep:browseType>{collection}</rep:browseType>
  <rep:browse>
    <rep:browseIdentifier>{id}</rep:browseIdentifier>
    <rep:fileName>{key}</rep:fileName>
    <rep:imageType>TIFF</rep:imageType>
    <rep:referenceSystemIdentifier>EPSG:4326</rep:referenceSystemIdentifier>
    <rep:modelInGeotiff>true</rep:modelInGeotiff>
    <rep:startTime>{begin}</rep:startTime>
    <rep:endTime>{end}</rep:endTime>
  </rep:browse>
</rep:browseReport>
"#,
            collection = self.collection,
            id = self.id,
            key = self.key(),
            begin = self.begin,
            end = self.end,
        )
    }

    /// What the clients are told was registered.
    fn registered(&self) -> Value {
        json!({
            "id": self.id,
            "collection": self.collection,
            "geometry": self.geometry(),
            "begin": self.begin,
            "end": self.end,
            "properties": self.properties,
            "extensions": self.extensions,
        })
    }
}

/// A 32×32 RGB image over `[west, south, east, north]` (EPSG:4326), a COG or a plain
/// GeoTIFF, at `path`.
fn image(path: &Path, [west, south, east, north]: [f64; 4], cog: bool) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let output = Command::new("gdal_create")
        .args(["-q", "-of", if cog { "COG" } else { "GTiff" }])
        .args(["-outsize", "32", "32", "-bands", "3"])
        .args(["-burn", "90", "-burn", "140", "-burn", "190"])
        .args(["-a_srs", "EPSG:4326", "-a_ullr"])
        .args([west, north, east, south].map(|v| v.to_string()))
        .arg(path)
        .output()
        .expect("gdal_create runs");
    assert!(
        output.status.success(),
        "gdal_create {}: {}",
        path.display(),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Posts the Items of every product not brought in by a report to `{stac}/collections/{c}/
/// items`, with `headers`; each is accepted (202) for the registrar.
async fn post_items(stac: &str, headers: &[(&str, String)]) {
    let client = reqwest::Client::new();
    for product in products().iter().filter(|p| !p.report) {
        let mut request = client
            .post(format!("{stac}/collections/{}/items", product.collection))
            .header("Content-Type", "application/json")
            .body(product.item().to_string());
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let response = request.send().await.unwrap();
        assert_eq!(
            response.status(),
            202,
            "POST the Item {}: {}",
            product.id,
            response.text().await.unwrap()
        );
    }
}

/// Waits until a search of `stac` matches `count` products; `status` says what is going on
/// when it does not.
async fn wait_registered(stac: &str, count: u64, status: impl AsyncFn() -> String) {
    let search = format!("{stac}/search?limit=1");
    wait_for(
        Duration::from_secs(120),
        format_args!("{count} products registered"),
        async || {
            let body = reqwest::get(&search).await.unwrap().bytes().await.unwrap();
            let found: Value = serde_json::from_slice(&body).unwrap();
            if found["numberMatched"] == count {
                Ok(())
            } else {
                Err(format!(
                    "numberMatched {}; {}",
                    found["numberMatched"],
                    status().await
                ))
            }
        },
    )
    .await;
}

/// How the clients reach the STAC API.
#[derive(Clone, Copy, PartialEq)]
enum Route {
    /// pvs itself.
    Direct,
    /// Through the project's nginx (`deploy/nginx`).
    Nginx,
}

/// Runs `stac_clients.py` on a deployment whose STAC API is at `{base}/stac`; fails with its
/// output unless every check passed.
async fn clients(name: &str, base: &str, route: Route, write_headers: Value) {
    let work = tempfile::tempdir().unwrap();
    let config = json!({
        "name": name,
        "root": format!("{base}/stac"),
        "base": base,
        "behind_nginx": route == Route::Nginx,
        "products": products().iter().map(TestProduct::registered).collect::<Vec<_>>(),
        "validator": {
            "collection": VALIDATOR_COLLECTION,
            "geometry": {"type": "Point", "coordinates": [11.5, 45.5]},
        },
        "write": {"collection": "S2", "headers": write_headers, "data_href": SPARE_COG},
        "schemas": SCHEMAS,
    });
    support::python_checks(CLIENTS, name, &config, work).await;
}

// ------------------------------------------------------------------------------- pvs up

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pvs_up_passes_the_stac_clients() {
    let data = tempfile::tempdir().unwrap();
    let storage = data.path().join("storage");
    let address = free_address();
    let base = format!("http://{address}");
    let _up = support::spawn(
        &[
            "up",
            "--listen",
            &address,
            "--data-dir",
            data.path().to_str().unwrap(),
        ],
        &[],
    );
    wait_ok(&format!("{base}/ready"), Duration::from_secs(30)).await;
    let stac = format!("{base}/stac");
    let status = async || {
        let status = reqwest::get(format!("{base}/api/status")).await.unwrap();
        format!("status {}", status.text().await.unwrap())
    };

    // Browse reports (their images as the provider puts them): the collections come with
    // their first products, through the ingestor, the preprocessor and the registrar.
    let client = reqwest::Client::new();
    let all = products();
    let reports: Vec<&TestProduct> = all.iter().filter(|p| p.report).collect();
    for product in &reports {
        image(&storage.join(product.key()), product.image_box(), false);
        let response = client
            .post(format!("{base}/ingest"))
            .header("Content-Type", "application/xml")
            .body(product.report())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 202, "{}", response.text().await.unwrap());
    }
    wait_registered(&stac, reports.len() as u64, status).await;

    // STAC Items whose COGs are on the storage: registered where they are.
    for product in all.iter().filter(|p| !p.report) {
        image(&storage.join(product.key()), product.image_box(), true);
    }
    image(&storage.join(SPARE_COG), SPARE_BOX, true);
    post_items(&stac, &[]).await;
    wait_registered(&stac, all.len() as u64, status).await;

    // Writes are open on `pvs up` without INGEST_TOKEN / INGEST_BASIC_AUTH.
    clients("pvs up", &base, Route::Direct, json!({})).await;
}

// ------------------------------------------------------- the renderer service on PostGIS

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renderer_on_postgis_passes_the_stac_clients() {
    let database = TestDatabase::create().await;
    let (bucket, storage) = s3::s3_bucket_storage("data").await;
    let images = tempfile::tempdir().unwrap();
    let all = products();
    for product in &all {
        let path = images.path().join(product.key());
        image(&path, product.image_box(), true);
        storage
            .put_file(&product.key().parse().unwrap(), &path)
            .await
            .unwrap();
    }
    let spare = images.path().join(SPARE_COG);
    image(&spare, SPARE_BOX, true);
    storage
        .put_file(&SPARE_COG.parse().unwrap(), &spare)
        .await
        .unwrap();

    // The collections, and the products browse reports brought, straight into the catalog.
    let catalog = database.catalog().await;
    for collection in ["S2", "L8"] {
        catalog
            .upsert_collection(&Collection::new(collection).unwrap())
            .await
            .unwrap();
    }
    let at = |s: &str| chrono::DateTime::parse_from_rfc3339(s).unwrap().to_utc();
    for product in all.iter().filter(|p| p.report) {
        catalog
            .register(&Product {
                id: product.id.into(),
                collection: product.collection.into(),
                product_type: None,
                footprint: product.footprint(),
                begin: at(product.begin),
                end: at(product.end),
                location: product.key(),
                metadata: json!({}),
                properties: Map::new(),
            })
            .await
            .unwrap();
    }

    // The registrar and the renderer (its STAC API writable: Redis and a token).
    let prefix = unique_prefix();
    let reports = tempfile::tempdir().unwrap();
    let token = "stac-clients-token";
    let mut env = vec![
        ("RUST_LOG", "warn".to_owned()),
        ("DATABASE_URL", database.url.clone()),
        ("REDIS_URL", redis_url()),
        ("REDIS_KEY_PREFIX", prefix.clone()),
        ("REPORT_DIR", reports.path().display().to_string()),
        ("INGEST_TOKEN", token.to_owned()),
    ];
    env.extend(s3::env(&bucket, "data"));
    let registrar = Service::start("registrar", &[], &env).await;
    let renderer = Service::start("renderer", &[], &env).await;
    let stac = format!("{}/stac", renderer.base);
    let bearer = format!("Bearer {token}");
    post_items(&stac, &[("Authorization", bearer.clone())]).await;
    wait_registered(&stac, all.len() as u64, async || {
        format!("the registrar's stderr:\n{}", registrar.stderr())
    })
    .await;

    clients(
        "renderer on PostGIS",
        &renderer.base,
        Route::Direct,
        json!({"Authorization": bearer}),
    )
    .await;

    // The same renderer behind the project's nginx routes, published under /pvs/ by a site
    // proxy sending X-Forwarded-*: every link the clients follow must lead back through it.
    // No cache runs here: the renderer answers the WMS GetMaps (thumbnails) the proxy sends
    // to the cache's upstream; no ingestor either (a closed port).
    let nginx = Nginx::start(
        &renderer.base,
        &renderer.base,
        &format!("http://{}", free_address()),
    )
    .await;
    clients(
        "renderer behind nginx under /pvs/",
        &nginx.base,
        Route::Nginx,
        json!({"Authorization": bearer}),
    )
    .await;
    // nginx logs the bodies over the limit it refused (the test sends them) as errors; no
    // other error is expected.
    let errors = nginx.error_log();
    let unexpected = errors
        .lines()
        .filter(|line| line.contains("[error]"))
        .filter(|line| !line.contains("client intended to send too large body"))
        .count();
    assert_eq!(unexpected, 0, "nginx: {errors}");
    drop(nginx);

    // The catalog itself: the products registered at first, no more (the clients' refused
    // Items and their transactions' Item are not there).
    let registered = catalog
        .search(&ProductQuery::new().with_limit(1000))
        .await
        .unwrap();
    let mut ids: Vec<&str> = registered.iter().map(|p| p.id.as_str()).collect();
    ids.sort_unstable();
    let mut expected: Vec<&str> = all.iter().map(|p| p.id).collect();
    expected.sort_unstable();
    assert_eq!(ids, expected);
    drop(renderer);
    drop(registrar);
    delete_keys(&prefix);
}
