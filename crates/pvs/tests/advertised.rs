//! Real clients follow what the server advertises (issue 19). For each deployment shape —
//! `pvs up`; `pvs renderer` and `pvs cache` (drawing through the renderer over HTTP) on
//! PostGIS and S3; the same behind the project's own nginx routes (`deploy/nginx/
//! locations.conf`) served under the path prefix `/pvs/` by an outer proxy; and the separate
//! services with `PUBLIC_URL` configured — OWSLib and plain HTTP clients
//! (`advertised_clients.py`) are given only the URLs a user types (`…/ows`, `…/opensearch`,
//! the documented TileJSON URL, the web client) and must reach everything else through the
//! URLs the documents advertise: WMS 1.1.1/1.3.0 GetMap, WCS 2.0.1 DescribeCoverage and
//! GetCoverage, WMTS KVP and REST tiles, XYZ tiles from TileJSON, OpenSearch collection and
//! product searches and the links of the product found. Every advertised URL must start with
//! the public base (host, port and prefix), and the product's pixels (a synthetic image with
//! four known quadrant colours) must come back where its footprint is.
//!
//! Also: WCS queries longer than the cache answers itself (8 KiB) are passed to the renderer,
//! whose answer (a coverage up to 16 KiB, its error report above) comes back unchanged, on
//! `pvs up`, on the cache and through the proxies (`deploy/nginx/http.conf` accepts request
//! lines up to 32 KiB).
//!
//! Before the public-URL rule, WMS and WCS capabilities on `pvs up` (and on a cache drawing
//! in process) advertised `http://localhost/ows?` (the cache passed `localhost` as the host),
//! so OWSLib's GetMap went to port 80 and failed; a cache in front of a renderer service
//! advertised the renderer's own address, and nothing knew the proxy's prefix.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use geo::{MultiPolygon, polygon};
use pvs_catalog::testing::TestDatabase;
use pvs_catalog::{Catalog, Collection, Product};
use pvs_test_support::{free_address, net::get, s3, wait_for, wait_ok};
use serde_json::{Value, json};

mod support;

use support::nginx::Nginx;
use support::{Service, run};

/// The product: collection `M`, id `p1`, over lon 10–12, lat 44–46 in EPSG:4326.
const COLLECTION: &str = "M";
const PRODUCT: &str = "p1";
const FOOTPRINT: [f64; 4] = [10.0, 44.0, 12.0, 46.0];
const BEGIN: &str = "2021-03-01T10:00:00Z";
const END: &str = "2021-03-01T10:01:00Z";
/// Its four quadrants' colours (no 0 or 255, so nothing is taken for nodata or alpha).
const NW: [u8; 3] = [200, 60, 60];
const NE: [u8; 3] = [60, 200, 60];
const SW: [u8; 3] = [60, 60, 200];
const SE: [u8; 3] = [200, 200, 60];
/// Its size in pixels (0.01° each).
const SIZE: usize = 200;

const CLIENTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/advertised_clients.py");

/// Writes the product's image as `dir/name` (a GeoTIFF, or a COG when `cog`): raw bands
/// described by an ENVI header, georeferenced by `gdal_translate`.
fn product_image(dir: &Path, name: &str, cog: bool) -> PathBuf {
    let mut bands = vec![0u8; 3 * SIZE * SIZE];
    for row in 0..SIZE {
        for col in 0..SIZE {
            let colour = match (row < SIZE / 2, col < SIZE / 2) {
                (true, true) => NW,
                (true, false) => NE,
                (false, true) => SW,
                (false, false) => SE,
            };
            for (band, value) in colour.iter().enumerate() {
                bands[band * SIZE * SIZE + row * SIZE + col] = *value;
            }
        }
    }
    let raw = dir.join(format!("{name}.raw"));
    std::fs::write(&raw, bands).unwrap();
    std::fs::write(
        dir.join(format!("{name}.hdr")),
        format!(
            "ENVI\nsamples = {SIZE}\nlines = {SIZE}\nbands = 3\nheader offset = 0\n\
             file type = ENVI Standard\ndata type = 1\ninterleave = bsq\nbyte order = 0\n"
        ),
    )
    .unwrap();
    let [west, south, east, north] = FOOTPRINT.map(|v| v.to_string());
    let path = dir.join(name);
    run(Command::new("gdal_translate")
        .args(["-q", "-of", if cog { "COG" } else { "GTiff" }])
        .args([
            "-a_srs",
            "EPSG:4326",
            "-a_ullr",
            &west,
            &north,
            &east,
            &south,
        ])
        .arg(&raw)
        .arg(&path));
    path
}

/// What the clients are given and must find.
struct Entry {
    /// WMS, WCS and WMTS: `…/ows`.
    ows: String,
    /// The OpenSearch description: `…/opensearch`.
    opensearch: String,
    /// The documented TileJSON URL (nothing links to it).
    tilejson: String,
    /// The web client, if this entry serves it.
    web: Option<String>,
    /// The base the documents reached from `ows` must name.
    ows_base: String,
    /// The base the documents reached from `opensearch` must name.
    os_base: String,
}

impl Entry {
    /// Every endpoint under one base, documents naming that base.
    fn under(base: &str) -> Self {
        Self {
            ows: format!("{base}/ows"),
            opensearch: format!("{base}/opensearch"),
            tilejson: format!("{base}/tiles/{COLLECTION}/tilejson.json"),
            web: Some(format!("{base}/")),
            ows_base: base.to_owned(),
            os_base: base.to_owned(),
        }
    }
}

/// Runs `advertised_clients.py` on `entry`; fails with its output unless every check passed.
async fn clients(entry: &Entry, name: &str) {
    let work = tempfile::tempdir().unwrap();
    let [west, south, east, north] = FOOTPRINT;
    let config = json!({
        "ows": entry.ows,
        "opensearch": entry.opensearch,
        "tilejson": entry.tilejson,
        "web": entry.web,
        "ows_base": entry.ows_base,
        "os_base": entry.os_base,
        "collection": COLLECTION,
        "product": PRODUCT,
        "footprint": [west, south, east, north],
        "colours": {"nw": NW, "ne": NE, "sw": SW, "se": SE},
        "begin": BEGIN,
        "end": END,
        "workdir": work.path(),
    });
    support::python_checks(CLIENTS, name, &config, work).await;
}

/// A WCS GetCoverage of the north-east quadrant, padded with an extra parameter to `length`
/// bytes (without padding when `length` is 0).
fn wcs_query(length: usize) -> String {
    let query = format!(
        "SERVICE=WCS&VERSION=2.0.1&REQUEST=GetCoverage&COVERAGEID={PRODUCT}&FORMAT=image/tiff\
         &SUBSET=Lat(45.2,45.8)&SUBSET=Long(11.2,11.8)"
    );
    if length == 0 {
        return query;
    }
    let padding = length - query.len() - "&PADDING=".len();
    let query = format!("{query}&PADDING={}", "x".repeat(padding));
    assert_eq!(query.len(), length);
    query
}

/// WCS queries over the cache's own 8 KiB limit reach the renderer through `ows` (the
/// cache's `/ows`), and its answer comes back unchanged: a coverage up to 16 KiB, the
/// renderer's WCS 2.0 error report above. `reference` answers as the renderer itself does.
async fn long_queries(ows: &str, reference: impl AsyncFn(&str) -> (u16, String, Vec<u8>)) {
    let short = get(&format!("{ows}?{}", wcs_query(0))).await;
    assert_eq!(
        (short.0, short.1.as_str()),
        (200, "image/tiff"),
        "{}",
        String::from_utf8_lossy(&short.2)
    );
    let query = wcs_query(12 * 1024);
    let got = get(&format!("{ows}?{query}")).await;
    assert_eq!(
        (got.0, got.1.as_str()),
        (200, "image/tiff"),
        "a 12 KiB WCS query through the cache: {}",
        String::from_utf8_lossy(&got.2[..got.2.len().min(2000)])
    );
    assert!(
        got == reference(&query).await,
        "a 12 KiB WCS query through the cache gets the renderer's answer"
    );

    let query = wcs_query(16 * 1024 + 600);
    let got = get(&format!("{ows}?{query}")).await;
    let body = String::from_utf8_lossy(&got.2).into_owned();
    assert_eq!((got.0, got.1.as_str()), (400, "application/xml"), "{body}");
    for part in [
        "ows:ExceptionReport",
        "http://www.opengis.net/ows/2.0",
        "version=\"2.0.0\"",
        "exceptionCode=\"InvalidParameterValue\"",
        "at most 16384",
    ] {
        assert!(body.contains(part), "no {part} in the error report: {body}");
    }
    assert!(
        got == reference(&query).await,
        "a 17 KiB WCS query through the cache gets the renderer's error report: {body}"
    );
}

// ------------------------------------------------------------------------------- pvs up

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pvs_up_clients_follow_what_it_advertises() {
    let data = tempfile::tempdir().unwrap();
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
    let client = reqwest::Client::new();
    wait_ok(&format!("{base}/ready"), Duration::from_secs(30)).await;

    // The provider puts the image where the report's fileName says, then POSTs the report.
    product_image(&data.path().join("storage"), "p1.tif", false);
    let report = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<rep:browseReport xmlns:rep="http://ngeo.eo.esa.int/ngEO/browseReport/1.0" version="1.3">
  <rep:responsibleOrgName>pvs tests</rep:responsibleOrgName>
  <rep:dateTime>2021-03-02T00:00:00Z</rep:dateTime>
  <rep:browseType>{COLLECTION}</rep:browseType>
  <rep:browse>
    <rep:browseIdentifier>{PRODUCT}</rep:browseIdentifier>
    <rep:fileName>p1.tif</rep:fileName>
    <rep:imageType>TIFF</rep:imageType>
    <rep:referenceSystemIdentifier>EPSG:4326</rep:referenceSystemIdentifier>
    <rep:modelInGeotiff>true</rep:modelInGeotiff>
    <rep:startTime>{BEGIN}</rep:startTime>
    <rep:endTime>{END}</rep:endTime>
  </rep:browse>
</rep:browseReport>
"#
    );
    let response = client
        .post(format!("{base}/ingest"))
        .body(report)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202, "{}", response.text().await.unwrap());
    wait_for(
        Duration::from_secs(90),
        format_args!("{PRODUCT} registered"),
        async || {
            let found = client
                .get(format!(
                    "{base}/opensearch/collections/{COLLECTION}/json?uid={PRODUCT}"
                ))
                .send()
                .await
                .unwrap();
            if found.status() == 200 {
                let found: Value = serde_json::from_slice(&found.bytes().await.unwrap()).unwrap();
                if found["totalResults"] == 1 {
                    return Ok(());
                }
            }
            let status = client
                .get(format!("{base}/api/status"))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            Err(format!("status {status}"))
        },
    )
    .await;

    clients(&Entry::under(&base), "pvs up").await;

    // Without a renderer of its own to compare with: the renderer's answer is the one it
    // gives without the padding.
    let ows = format!("{base}/ows");
    long_queries(&ows, async |query: &str| {
        if query.len() > 16 * 1024 {
            get(&format!("{ows}?{query}")).await
        } else {
            get(&format!("{ows}?{}", wcs_query(0))).await
        }
    })
    .await;
}

// ---------------------------------------------------------------- the separate services

/// The catalog (a PostGIS test database) and the storage (a bucket of its own on the S3
/// test server) holding the product: its COG uploaded, registered in collection `M`.
struct World {
    database: TestDatabase,
    env: Vec<(&'static str, String)>,
}

impl World {
    async fn create() -> Self {
        let database = TestDatabase::create().await;
        let (bucket, storage) = s3::s3_bucket_storage("data").await;
        let dir = tempfile::tempdir().unwrap();
        let cog = product_image(dir.path(), "p1.tif", true);
        let location = format!("{COLLECTION}/p1.tif");
        storage
            .put_file(&location.parse().unwrap(), &cog)
            .await
            .unwrap();

        let catalog = database.catalog().await;
        catalog
            .upsert_collection(&Collection::new(COLLECTION).unwrap())
            .await
            .unwrap();
        let [west, south, east, north] = FOOTPRINT;
        let footprint = MultiPolygon(vec![polygon![
            (x: west, y: south), (x: east, y: south), (x: east, y: north),
            (x: west, y: north), (x: west, y: south),
        ]]);
        let at = |s: &str| chrono::DateTime::parse_from_rfc3339(s).unwrap().to_utc();
        catalog
            .register(&Product {
                properties: Default::default(),
                id: PRODUCT.into(),
                collection: COLLECTION.into(),
                product_type: None,
                footprint,
                begin: at(BEGIN),
                end: at(END),
                location,
                metadata: json!({}),
            })
            .await
            .unwrap();
        let mut env = vec![
            ("RUST_LOG", "warn".to_owned()),
            ("DATABASE_URL", database.url.clone()),
        ];
        env.extend(s3::env(&bucket, "data"));
        Self { database, env }
    }

    /// `pvs renderer` and `pvs cache` drawing through it (`RENDERER_URL`), with `extra`
    /// variables for both.
    async fn services(&self, extra: &[(&'static str, String)]) -> (Service, Service) {
        let mut env = self.env.clone();
        env.extend_from_slice(extra);
        let renderer = Service::start("renderer", &[], &env).await;
        env.push(("RENDERER_URL", renderer.base.clone()));
        let cache = Service::start("cache", &[], &env).await;
        (renderer, cache)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn separate_services_clients_follow_what_they_advertise() {
    let world = World::create().await;
    let (renderer, cache) = world.services(&[]).await;

    // WMS, WCS, WMTS, TileJSON and the web client from the cache; OpenSearch from the
    // renderer: each names itself.
    let mut entry = Entry::under(&cache.base);
    entry.opensearch = format!("{}/opensearch", renderer.base);
    entry.os_base = renderer.base.clone();
    clients(&entry, "renderer and cache").await;

    let renderer_ows = format!("{}/ows", renderer.base);
    long_queries(&format!("{}/ows", cache.base), async |query: &str| {
        get(&format!("{renderer_ows}?{query}")).await
    })
    .await;
    drop(world.database);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_nginx_under_a_prefix_and_with_public_url() {
    let world = World::create().await;
    let (renderer, cache) = world.services(&[]).await;
    // Nothing of this test posts reports: the ingestor's upstream is a closed port.
    let nginx = Nginx::start(
        &renderer.base,
        &cache.base,
        &format!("http://{}", free_address()),
    )
    .await;

    // Everything through the proxy, under its prefix.
    clients(&Entry::under(&nginx.base), "nginx under /pvs/").await;
    // A TLS proxy further out says so with `Forwarded`, which the proxies pass on: the
    // compose proxy's own `X-Forwarded-Proto: http` does not hide it.
    let capabilities = reqwest::Client::new()
        .get(format!(
            "{}/ows?SERVICE=WMS&REQUEST=GetCapabilities&VERSION=1.3.0",
            nginx.base
        ))
        .header(
            "Forwarded",
            "for=192.0.2.1;proto=https;host=maps.example.org",
        )
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        capabilities.contains("\"https://maps.example.org/pvs/ows?\""),
        "{capabilities}"
    );

    // The PRISM View Server's MapCache URLs, which its clients keep configured, reach the
    // cache: WMTS capabilities on both, a REST tile in MapCache's grid and a tiled WMS, whose
    // pixels are the product's quadrant colours where its footprint is.
    for path in [
        "/cache/ows?SERVICE=WMTS&REQUEST=GetCapabilities&VERSION=1.0.0",
        "/cache/ows/wmts?SERVICE=WMTS&REQUEST=GetCapabilities",
        "/cache/ows/wmts/1.0.0/WMTSCapabilities.xml",
    ] {
        let (status, content_type, body) = get(&format!("{}{path}", nginx.base)).await;
        assert_eq!(status, 200, "{path}");
        assert!(
            content_type.starts_with("application/xml"),
            "{path}: {content_type}"
        );
        let text = String::from_utf8_lossy(&body);
        assert!(
            text.contains(&format!("<ows:Identifier>{COLLECTION}</ows:Identifier>")),
            "{path}: {text}"
        );
    }
    let png = async |path: String| {
        let (status, content_type, body) = get(&format!("{}{path}", nginx.base)).await;
        assert_eq!(status, 200, "{path}");
        assert!(
            content_type.starts_with("image/png"),
            "{path}: {content_type}"
        );
        let pixels = pvs_test_support::images::Pixels::decode(&body);
        move |x: usize, y: usize| {
            let i = y * pixels.width + x;
            [0, 1, 2, 3].map(|band| pixels.bands[band][i])
        }
    };
    let opaque = |[r, g, b]: [u8; 3]| [r, g, b, 255];
    // WGS84 zoom 6: tiles of 2.8125°; tile row 15, column 67 spans 8.4375°..11.25° E,
    // 45°..47.8125° N, so (10.5°, 45.5°), in the north-west quadrant, is pixel (187, 210).
    let tile = png(format!(
        "/cache/ows/wmts/1.0.0/{COLLECTION}/default/default/WGS84/6/15/67.png"
    ))
    .await;
    assert_eq!(tile(187, 210), opaque(NW));
    assert_eq!(tile(10, 10)[3], 0, "outside the footprint");
    let [west, south, east, north] = FOOTPRINT;
    let map = png(format!(
        "/cache/ows?SERVICE=WMS&REQUEST=GetMap&VERSION=1.1.1&LAYERS={COLLECTION}&STYLES=&SRS=EPSG:4326&BBOX={west},{south},{east},{north}&WIDTH=256&HEIGHT=256&FORMAT=image/png&TRANSPARENT=TRUE"
    ))
    .await;
    assert_eq!(map(64, 64), opaque(NW));
    assert_eq!(map(192, 64), opaque(NE));
    assert_eq!(map(64, 192), opaque(SW));
    assert_eq!(map(192, 192), opaque(SE));

    // Long WCS queries pass both proxies and the cache to the renderer.
    let renderer_ows = format!("{}/ows", renderer.base);
    long_queries(&format!("{}/ows", nginx.base), async |query: &str| {
        get(&format!("{renderer_ows}?{query}")).await
    })
    .await;

    // Services configured with PUBLIC_URL (the proxy's URL), asked directly: the documents
    // name the configured URL, and the clients follow it through the proxy.
    let (public_renderer, public_cache) =
        world.services(&[("PUBLIC_URL", nginx.base.clone())]).await;
    let entry = Entry {
        ows: format!("{}/ows", public_cache.base),
        opensearch: format!("{}/opensearch", public_renderer.base),
        tilejson: format!("{}/tiles/{COLLECTION}/tilejson.json", public_cache.base),
        web: None,
        ows_base: nginx.base.clone(),
        os_base: nginx.base.clone(),
    };
    clients(&entry, "PUBLIC_URL").await;

    let errors = nginx.error_log();
    assert!(!errors.contains("[error]"), "nginx: {errors}");
    drop(nginx);
    drop(world.database);
}
