//! Access control end to end, with an access policy (`ACCESS_POLICY_FILE`): the collection
//! SECRET needs a grant, OPEN is public. Products are ingested by a writer; then every read
//! protocol (WMS, WMTS, XYZ/TileJSON, WCS, OpenSearch, STAC and its COG asset) is asked by
//! clients that may read SECRET (a static token, a JWT whose group grants it) and by clients
//! that may not (none, a valid JWT without the group), each following the URLs the server
//! advertised to a client that may; expired tokens and tokens for another audience are
//! refused everywhere with 401. A tile of SECRET drawn and cached for an allowed client is
//! never served to another, and is marked `private` for shared caches. Three deployment
//! shapes: `pvs up`; the separate services on Redis, PostGIS and S3 (the cache drawing
//! through the renderer with `RENDERER_TOKEN`); and those behind the project's nginx routes
//! under a path prefix.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use pvs_catalog::testing::TestDatabase;
use pvs_queue::testing::redis_url;
use pvs_test_support::images::Pixels;
use pvs_test_support::{fixtures, free_address, s3, wait_for, wait_ok};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

mod support;

use support::Service;
use support::nginx::Nginx;

const ISSUER: &str = "https://idp.test/realms/eo";
const AUDIENCE: &str = "pvs";
const WRITER: &str = "writer-token";
const READER: &str = "reader-token";
/// The cache's token for the renderer (`RENDERER_TOKEN`).
const CACHE: &str = "cache-token";
/// The image of the report every product is made of.
const IMAGE: &str = "ASA_IM__0P_20100722_213840.jpg";

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn base64url(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// An EC P-256 key made with openssl: its PKCS#8 DER (to sign) and its JWKS (to verify).
fn key_pair(dir: &Path) -> (Vec<u8>, Value) {
    let pem = dir.join("key.pem");
    let der = dir.join("key.der");
    let public = dir.join("public.der");
    support::run(Command::new("openssl").args([
        "ecparam",
        "-name",
        "prime256v1",
        "-genkey",
        "-noout",
        "-out",
        pem.to_str().unwrap(),
    ]));
    support::run(Command::new("openssl").args([
        "pkcs8",
        "-topk8",
        "-nocrypt",
        "-in",
        pem.to_str().unwrap(),
        "-outform",
        "DER",
        "-out",
        der.to_str().unwrap(),
    ]));
    support::run(Command::new("openssl").args([
        "ec",
        "-in",
        pem.to_str().unwrap(),
        "-pubout",
        "-outform",
        "DER",
        "-out",
        public.to_str().unwrap(),
    ]));
    let public = std::fs::read(public).unwrap();
    // The SubjectPublicKeyInfo ends with the uncompressed point 04 || X || Y.
    let point = &public[public.len() - 65..];
    assert_eq!(point[0], 4);
    let jwks = json!({"keys": [{
        "kty": "EC", "crv": "P-256", "kid": "test-key", "alg": "ES256", "use": "sig",
        "x": base64url(&point[1..33]), "y": base64url(&point[33..]),
    }]});
    (std::fs::read(der).unwrap(), jwks)
}

/// A JWT signed with `key`, for `audience`, expiring `expires_in` seconds from now, with
/// `groups`.
fn jwt(key: &[u8], audience: &str, expires_in: i64, groups: &[&str]) -> String {
    let now = chrono::Utc::now().timestamp();
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some("test-key".to_owned());
    let claims = json!({
        "iss": ISSUER, "aud": audience, "sub": "someone", "iat": now,
        "exp": now + expires_in, "groups": groups,
    });
    jsonwebtoken::encode(&header, &claims, &EncodingKey::from_ec_der(key)).unwrap()
}

/// One client: its `Authorization` header, and whether it may read SECRET (`None`: its
/// credentials are refused).
struct Client {
    name: &'static str,
    authorization: Option<String>,
    reads_secret: Option<bool>,
}

impl Client {
    fn get(&self, http: &reqwest::Client, url: &str) -> reqwest::RequestBuilder {
        let request = http.get(url);
        match &self.authorization {
            Some(value) => request.header("authorization", value),
            None => request,
        }
    }
}

async fn text(
    request: reqwest::RequestBuilder,
) -> (StatusCode, reqwest::header::HeaderMap, String) {
    let response = request.send().await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    (status, headers, response.text().await.unwrap())
}

/// The value of the XML attribute `name` in the first element after `after` in `xml`.
fn attribute_after<'a>(xml: &'a str, after: &str, name: &str) -> &'a str {
    let at = xml
        .find(after)
        .unwrap_or_else(|| panic!("no {after} in {xml}"));
    let rest = &xml[at..];
    let start = rest.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
    let end = start + rest[start..].find('"').unwrap();
    &rest[start..end]
}

fn report(browse_type: &str, id: &str) -> Vec<u8> {
    let path = fixtures::ngeo()
        .join("reference_test_data")
        .join("browseReport_ASA_IM__0P_20100722_213840.xml");
    std::fs::read_to_string(path)
        .unwrap()
        .replace(">SAR<", &format!(">{browse_type}<"))
        .replace(">b_id_1<", &format!(">{id}<"))
        .into_bytes()
}

/// Checks the 256 × 256 GetMap of BBOX -5,48,1,52 (CRS:84) against the product's footprint,
/// an independent reference (the report's `coordList`): the pixels whose centres are inside
/// it are drawn, those outside are transparent, the pixels within 3 pixels of its outline
/// left out (resampling blurs the edge).
fn check_against_footprint(map: &Pixels, name: &str) {
    use geo::{Contains, Distance, Euclidean, LineString, Point, Polygon};
    // The report's coordList, as (longitude, latitude).
    let footprint = Polygon::new(
        LineString::from(vec![
            (-2.79, 52.86),
            (-1.22, 53.08),
            (-0.03, 49.68),
            (-1.49, 49.46),
            (-2.79, 52.86),
        ]),
        vec![],
    );
    let (width, height) = (map.width, map.height);
    assert_eq!((width, height), (256, 256), "{name}");
    let alpha = map.bands.last().expect("an alpha band");
    let (degrees_x, degrees_y) = (6.0 / width as f64, 4.0 / height as f64);
    let (mut inside, mut inside_drawn, mut outside, mut outside_drawn) = (0, 0, 0, 0);
    for row in 0..height {
        for column in 0..width {
            let centre = Point::new(
                -5.0 + (column as f64 + 0.5) * degrees_x,
                52.0 - (row as f64 + 0.5) * degrees_y,
            );
            if Euclidean.distance(&centre, footprint.exterior()) < 3.0 * degrees_x {
                continue;
            }
            let drawn = alpha[row * width + column] == 255;
            if footprint.contains(&centre) {
                inside += 1;
                inside_drawn += usize::from(drawn);
            } else {
                outside += 1;
                outside_drawn += usize::from(drawn);
            }
        }
    }
    assert!(
        inside > 5_000 && outside > 5_000,
        "{name}: {inside} in, {outside} out"
    );
    assert!(
        inside_drawn * 100 >= inside * 99,
        "{name}: {inside_drawn} of the {inside} pixels inside the footprint drawn"
    );
    assert_eq!(
        outside_drawn, 0,
        "{name}: pixels drawn outside the footprint ({outside} there)"
    );
}

/// The access policy of every shape: SECRET restricted; the provider writes, the analyst and
/// the members of `secret-readers` read SECRET, the cache (`RENDERER_TOKEN`) reads all.
fn policy(dir: &Path, jwks: &Value) -> std::path::PathBuf {
    let jwks_path = dir.join("jwks.json");
    std::fs::write(&jwks_path, jwks.to_string()).unwrap();
    let policy = dir.join("access.toml");
    std::fs::write(
        &policy,
        format!(
            r#"
[collections]
restricted = ["SECRET"]

[[credentials]]
name = "provider"
bearer_sha256 = "{}"
grants = ["write"]

[[credentials]]
name = "analyst"
bearer_sha256 = "{}"
grants = ["read:SECRET"]

[[credentials]]
name = "cache"
bearer_sha256 = "{}"
grants = ["read:*"]

[oidc]
jwks = "{}"
issuer = "{ISSUER}"
audience = "{AUDIENCE}"

[[oidc.claims]]
claim = "groups"
value = "secret-readers"
grants = ["read:SECRET"]
"#,
            hex(&Sha256::digest(WRITER)),
            hex(&Sha256::digest(READER)),
            hex(&Sha256::digest(CACHE)),
            jwks_path.display()
        ),
    )
    .unwrap();
    policy
}

/// The clients of every shape: two that may read SECRET, two that may not, two whose
/// credentials are refused.
fn clients(key: &[u8]) -> Vec<Client> {
    vec![
        Client {
            name: "no credentials",
            authorization: None,
            reads_secret: Some(false),
        },
        Client {
            name: "static token with read:SECRET",
            authorization: Some(format!("Bearer {READER}")),
            reads_secret: Some(true),
        },
        Client {
            name: "JWT in the group",
            authorization: Some(format!(
                "Bearer {}",
                jwt(key, AUDIENCE, 600, &["secret-readers"])
            )),
            reads_secret: Some(true),
        },
        Client {
            name: "JWT outside the group",
            authorization: Some(format!("Bearer {}", jwt(key, AUDIENCE, 600, &["others"]))),
            reads_secret: Some(false),
        },
        Client {
            name: "expired JWT",
            authorization: Some(format!(
                "Bearer {}",
                jwt(key, AUDIENCE, -3600, &["secret-readers"])
            )),
            reads_secret: None,
        },
        Client {
            name: "JWT for another audience",
            authorization: Some(format!(
                "Bearer {}",
                jwt(key, "another-service", 600, &["secret-readers"])
            )),
            reads_secret: None,
        },
    ]
}

/// Writes: refused without credentials (401) and with credentials that may only read (403);
/// the provider's token ingests one product into each collection.
async fn writes(http: &reqwest::Client, ingest: &str) {
    let post = |token: Option<&str>, body: Vec<u8>| {
        let request = http.post(ingest).body(body);
        match token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    };
    let (status, headers, _) = text(post(None, report("SECRET", "secret_1"))).await;
    assert_eq!(status, 401);
    assert!(headers.contains_key("www-authenticate"));
    let (status, _, _) = text(post(Some(READER), report("SECRET", "secret_1"))).await;
    assert_eq!(status, 403);
    for (collection, id) in [("SECRET", "secret_1"), ("OPEN", "open_1")] {
        let (status, _, body) = text(post(Some(WRITER), report(collection, id))).await;
        assert_eq!(status, 202, "{body}");
    }
}

/// Where a deployment's clients start: the documents they read first.
struct Entry {
    /// The shape, for messages.
    name: &'static str,
    /// WMS and WCS capabilities: `…/ows`.
    ows: String,
    /// WMTS capabilities (KVP): `…/wmts`.
    wmts: String,
    /// TileJSON: `…/tiles/SECRET/tilejson.json` (documented; nothing links to it).
    tilejson: String,
    /// The STAC API: `…/stac`.
    stac: String,
    /// The OpenSearch description: `…/opensearch`.
    opensearch: String,
}

impl Entry {
    /// Every endpoint under one base.
    fn under(name: &'static str, base: &str) -> Self {
        Self {
            name,
            ows: format!("{base}/ows"),
            wmts: format!("{base}/wmts"),
            tilejson: format!("{base}/tiles/SECRET/tilejson.json"),
            stac: format!("{base}/stac"),
            opensearch: format!("{base}/opensearch"),
        }
    }

    /// Waits until the analyst finds both products in a STAC search.
    async fn wait_for_products(&self, http: &reqwest::Client) {
        let search = format!("{}/search?ids=secret_1,open_1", self.stac);
        wait_for(
            Duration::from_secs(180),
            "both products registered",
            async || {
                let (_, _, body) = text(http.get(&search).bearer_auth(READER)).await;
                let found: Value = serde_json::from_str(&body).map_err(|e| e.to_string())?;
                match found["features"].as_array() {
                    Some(features) if features.len() == 2 => Ok(()),
                    _ => Err(body),
                }
            },
        )
        .await;
    }
}

/// Every read protocol of `entry`, asked by every client through the URLs advertised to a
/// client that may read SECRET.
async fn every_protocol(http: &reqwest::Client, entry: &Entry, clients: &[Client]) {
    let shape = entry.name;
    let wms_capabilities = format!(
        "{}?SERVICE=WMS&REQUEST=GetCapabilities&VERSION=1.3.0",
        entry.ows
    );
    let wcs_capabilities = format!(
        "{}?SERVICE=WCS&VERSION=2.0.1&REQUEST=GetCapabilities",
        entry.ows
    );
    let wmts_capabilities = format!("{}?SERVICE=WMTS&REQUEST=GetCapabilities", entry.wmts);

    // What a client that may read SECRET is advertised: the WMS GetMap URL, the WMTS tile
    // template, the TileJSON tile URL, the WCS and OpenSearch and STAC documents.
    let allowed = &clients[1];
    assert_eq!(allowed.reads_secret, Some(true));
    let (_, _, wms) = text(allowed.get(http, &wms_capabilities)).await;
    assert!(wms.contains("<Name>SECRET</Name>"), "{shape}: {wms}");
    let get_map = attribute_after(&wms, "<GetMap>", "xlink:href").to_owned();
    let map_url = format!(
        "{get_map}SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=SECRET&STYLES=&CRS=CRS:84\
         &BBOX=-5,48,1,52&WIDTH=256&HEIGHT=256&FORMAT=image/png&TRANSPARENT=TRUE"
    );
    let (_, _, wmts) = text(allowed.get(http, &wmts_capabilities)).await;
    let secret_layer = &wmts[wmts
        .find("<ows:Identifier>SECRET</ows:Identifier>")
        .unwrap_or_else(|| panic!("{shape}: SECRET in WMTS: {wmts}"))..];
    let template = attribute_after(secret_layer, "<ResourceURL", "template");
    // The zoom-5 WebMercator tile over the English Channel (the product).
    let tile_url = template
        .replace("{Style}", "default")
        .replace("{Time}", "default")
        .replace("{TileMatrixSet}", "WebMercatorQuad")
        .replace("{TileMatrix}", "5")
        .replace("{TileRow}", "10")
        .replace("{TileCol}", "15");
    let (_, _, tile_json) = text(allowed.get(http, &entry.tilejson)).await;
    let tile_json: Value = serde_json::from_str(&tile_json).unwrap();
    let xyz_url = tile_json["tiles"][0]
        .as_str()
        .unwrap()
        .replace("{z}", "5")
        .replace("{x}", "15")
        .replace("{y}", "10");
    // STAC: SECRET's Item as its search finds it, its own link and its COG.
    let (_, _, found) = text(allowed.get(
        http,
        &format!("{}/search?ids=secret_1&collections=SECRET", entry.stac),
    ))
    .await;
    let found: Value = serde_json::from_str(&found).unwrap();
    let item = &found["features"][0];
    let cog_url = item["assets"]["data"]["href"].as_str().unwrap().to_owned();
    let item_url = item["links"]
        .as_array()
        .unwrap()
        .iter()
        .find(|link| link["rel"] == "self")
        .unwrap()["href"]
        .as_str()
        .unwrap()
        .to_owned();
    // The allowed client draws SECRET's tiles first: they are in the cache from now on.
    for url in [&tile_url, &xyz_url] {
        let (status, _, _) = text(allowed.get(http, url)).await;
        assert_eq!(status, 200, "{shape}: {url}");
    }
    // WCS: the DescribeCoverage endpoint and the coverage id its capabilities give.
    let (_, _, wcs) = text(allowed.get(http, &wcs_capabilities)).await;
    let describe = &wcs[wcs
        .find("<ows:Operation name=\"DescribeCoverage\"")
        .expect("DescribeCoverage in WCS capabilities")..];
    let describe_href = attribute_after(describe, "<ows:Get", "xlink:href");
    assert!(
        wcs.contains("<wcs:CoverageId>secret_1</wcs:CoverageId>"),
        "{shape}: {wcs}"
    );
    let separator = if describe_href.ends_with('?') || describe_href.ends_with('&') {
        ""
    } else if describe_href.contains('?') {
        "&"
    } else {
        "?"
    };
    let wcs_describe = format!(
        "{describe_href}{separator}SERVICE=WCS&VERSION=2.0.1&REQUEST=DescribeCoverage&COVERAGEID=secret_1"
    );
    // OpenSearch: the description document's JSON search of the collections (its optional
    // parameters left empty), then SECRET's JSON product search the result links.
    let (_, _, description) = text(allowed.get(http, &entry.opensearch)).await;
    let json_url = &description[description
        .find("type=\"application/json\"")
        .expect("a JSON search in the OpenSearch description")..];
    let template = attribute_after(json_url, "", "template");
    let collections_search = template.split('?').next().unwrap().to_owned();
    let (_, _, feed) = text(allowed.get(http, &collections_search)).await;
    let feed: Value = serde_json::from_str(&feed).unwrap();
    let secret = feed["features"]
        .as_array()
        .unwrap()
        .iter()
        .find(|feature| feature["id"] == "SECRET")
        .expect("SECRET in the OpenSearch collections");
    let opensearch = secret["properties"]["links"]["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|link| link["type"] == "application/json")
        .expect("a JSON search of SECRET's products")["href"]
        .as_str()
        .unwrap()
        .to_owned();
    let stac_collections = format!("{}/collections", entry.stac);
    let stac_search = format!("{}/search?limit=100", entry.stac);

    for client in clients {
        let name = format!("{shape}, {}", client.name);
        let Some(reads) = client.reads_secret else {
            // Credentials that are not valid: 401 on every protocol, with the reason.
            for url in [
                &map_url,
                &tile_url,
                &xyz_url,
                &cog_url,
                &wcs_describe,
                &opensearch,
                &item_url,
                &wms_capabilities,
                &wmts_capabilities,
                &stac_search,
            ] {
                let (status, headers, body) = text(client.get(http, url)).await;
                assert_eq!(status, 401, "{name} {url}: {body}");
                let challenge = headers["www-authenticate"].to_str().unwrap();
                assert!(challenge.contains("invalid_token"), "{name}: {challenge}");
            }
            continue;
        };
        // Capabilities and searches: OPEN always, SECRET only for who may read it.
        let (status, _, wms) = text(client.get(http, &wms_capabilities)).await;
        assert_eq!(status, 200, "{name}");
        assert!(wms.contains("<Name>OPEN</Name>"), "{name}");
        assert_eq!(
            wms.contains("SECRET") || wms.contains("secret_1"),
            reads,
            "{name}: WMS"
        );
        let (_, _, wmts) = text(client.get(http, &wmts_capabilities)).await;
        assert!(wmts.contains(">OPEN<"), "{name}");
        assert_eq!(wmts.contains("SECRET"), reads, "{name}: WMTS");
        let (_, _, wcs) = text(client.get(http, &wcs_capabilities)).await;
        assert!(wcs.contains("open_1"), "{name}: {wcs}");
        assert_eq!(wcs.contains("secret_1"), reads, "{name}: WCS");
        let (_, _, stac) = text(client.get(http, &stac_collections)).await;
        assert!(stac.contains("\"OPEN\""), "{name}");
        assert_eq!(stac.contains("SECRET"), reads, "{name}: STAC collections");
        let (_, _, search) = text(client.get(http, &stac_search)).await;
        assert!(search.contains("open_1"), "{name}");
        assert_eq!(search.contains("secret_1"), reads, "{name}: STAC search");
        let (_, _, feed) = text(client.get(http, &collections_search)).await;
        assert_eq!(
            feed.contains("SECRET"),
            reads,
            "{name}: OpenSearch collections: {feed}"
        );

        // The URLs advertised to a client that may read SECRET.
        let (status, _, body) = text(client.get(http, &opensearch)).await;
        assert_eq!(
            status.is_success(),
            reads,
            "{name}: OpenSearch {status} {body}"
        );
        let (status, _, body) = text(client.get(http, &item_url)).await;
        assert_eq!(
            status.is_success(),
            reads,
            "{name}: STAC item {status} {body}"
        );
        let (status, _, _) = text(client.get(http, &cog_url)).await;
        assert_eq!(status.is_success(), reads, "{name}: COG {status}");
        let (_, _, body) = text(client.get(http, &wcs_describe)).await;
        assert_eq!(
            body.contains("<wcs:CoverageDescription"),
            reads,
            "{name}: WCS {body}"
        );
        assert_eq!(
            body.contains("NoSuchCoverage"),
            !reads,
            "{name}: WCS {body}"
        );
        let response = client.get(http, &map_url).send().await.unwrap();
        let is_png = response.headers()["content-type"] == "image/png";
        let bytes = response.bytes().await.unwrap();
        if reads {
            assert!(is_png, "{name}: GetMap {}", String::from_utf8_lossy(&bytes));
            check_against_footprint(&Pixels::decode(&bytes), &name);
        } else {
            assert!(!is_png, "{name}: GetMap answered an image");
            assert!(
                String::from_utf8_lossy(&bytes).contains("LayerNotDefined"),
                "{name}"
            );
        }
        // Tiles, cached since the allowed client asked: never served to a client that may
        // not read SECRET.
        for url in [&tile_url, &xyz_url] {
            let (status, headers, body) = text(client.get(http, url)).await;
            if reads {
                assert_eq!(status, 200, "{name}: {url}");
                assert_eq!(headers["content-type"], "image/png", "{name}");
                assert!(
                    headers["cache-control"]
                        .to_str()
                        .unwrap()
                        .starts_with("private"),
                    "{name}"
                );
                assert!(
                    headers["vary"].to_str().unwrap().contains("Authorization"),
                    "{name}"
                );
            } else {
                assert!(
                    status.is_client_error(),
                    "{name}: a cached tile of SECRET at {url}: {status}"
                );
                assert!(body.contains("is not known"), "{name}: {body}");
            }
        }
    }
    // OPEN's tiles stay public: the TileJSON of OPEN, at the place of SECRET's.
    let open_json = entry.tilejson.replace("/SECRET/", "/OPEN/");
    let (_, _, open_json) = text(http.get(&open_json)).await;
    let open_json: Value = serde_json::from_str(&open_json).unwrap();
    let open_tile = open_json["tiles"][0]
        .as_str()
        .unwrap()
        .replace("{z}", "5")
        .replace("{x}", "15")
        .replace("{y}", "10");
    let (status, headers, _) = text(http.get(&open_tile)).await;
    assert_eq!(status, 200, "{shape}: {open_tile}");
    assert!(
        headers["cache-control"]
            .to_str()
            .unwrap()
            .starts_with("public"),
        "{shape}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn every_protocol_shows_a_restricted_collection_only_to_who_may_read_it() {
    let dir = tempfile::tempdir().unwrap();
    let (key, jwks) = key_pair(dir.path());
    let policy = policy(dir.path(), &jwks);
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let address = free_address();
    let _up = support::spawn(
        &[
            "up",
            "--listen",
            &address,
            "--data-dir",
            data.to_str().unwrap(),
        ],
        &[("ACCESS_POLICY_FILE", policy.display().to_string())],
    );
    let base = format!("http://{address}");
    wait_ok(&format!("{base}/ready"), Duration::from_secs(30)).await;
    let http = reqwest::Client::new();

    std::fs::copy(
        fixtures::ngeo().join("reference_test_data").join(IMAGE),
        data.join("storage").join(IMAGE),
    )
    .unwrap();
    writes(&http, &format!("{base}/ingest")).await;
    let entry = Entry::under("pvs up", &base);
    entry.wait_for_products(&http).await;
    every_protocol(&http, &entry, &clients(&key)).await;
}

/// The separate services on Redis, PostGIS and the S3 test server, each with the policy:
/// the ingestor, a preprocessor and the registrar make the products; the renderer serves
/// WMS, WCS, OpenSearch and STAC; the cache serves tiles, drawing them through the renderer
/// with its own token (`RENDERER_TOKEN`) and passing the client's on. Then the same behind
/// the project's nginx routes under a path prefix.
#[tokio::test(flavor = "multi_thread")]
async fn the_separate_services_and_the_proxy_hold_the_same_policy() {
    let dir = tempfile::tempdir().unwrap();
    let (key, jwks) = key_pair(dir.path());
    let policy = policy(dir.path(), &jwks);
    let database = TestDatabase::create().await;
    let (bucket, storage) = s3::s3_bucket_storage("data").await;
    storage
        .put_file(
            &IMAGE.parse().unwrap(),
            &fixtures::ngeo().join("reference_test_data").join(IMAGE),
        )
        .await
        .unwrap();
    let prefix = format!("pvs-test:access-{}:", std::process::id());
    let mut env = s3::env(&bucket, "data");
    env.extend([
        ("REDIS_URL", redis_url()),
        ("REDIS_KEY_PREFIX", prefix),
        ("DATABASE_URL", database.url.clone()),
        ("ACCESS_POLICY_FILE", policy.display().to_string()),
    ]);
    let ingestor = Service::start("ingestor", &[], &env).await;
    let _preprocessor = Service::start("preprocessor", &[], &env).await;
    let _registrar = Service::start("registrar", &[], &env).await;
    let renderer = Service::start("renderer", &[], &env).await;
    env.extend([
        ("RENDERER_URL", renderer.base.clone()),
        ("RENDERER_TOKEN", CACHE.to_owned()),
    ]);
    let cache = Service::start("cache", &[], &env).await;
    let http = reqwest::Client::new();

    writes(&http, &format!("{}/ingest", ingestor.base)).await;
    let entry = Entry {
        name: "separate services",
        ows: format!("{}/ows", cache.base),
        wmts: format!("{}/wmts", cache.base),
        tilejson: format!("{}/tiles/SECRET/tilejson.json", cache.base),
        stac: format!("{}/stac", renderer.base),
        opensearch: format!("{}/opensearch", renderer.base),
    };
    entry.wait_for_products(&http).await;
    let clients = clients(&key);
    every_protocol(&http, &entry, &clients).await;

    let nginx = Nginx::start(&renderer.base, &cache.base, &ingestor.base).await;
    every_protocol(
        &http,
        &Entry::under("nginx under /pvs/", &nginx.base),
        &clients,
    )
    .await;
    let errors = nginx.error_log();
    assert!(!errors.contains("[error]"), "nginx: {errors}");
    drop(nginx);
    drop(database);
}
