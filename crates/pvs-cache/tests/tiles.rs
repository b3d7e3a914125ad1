//! Tiles through WMTS (KVP and REST) and XYZ: the renderer's pixels, stored once, served
//! again byte for byte with HTTP validation; concurrent misses drawn once; empty tiles
//! remembered; S3 tile storage and a renderer service over HTTP. Real PostGIS, real COG,
//! real renderer.

mod support;

use std::time::Duration;

use pvs_cache::Settings;
use pvs_cache::source::tile_query;
use pvs_test_support::images::Pixels;
use pvs_tiles::{Tile, TileFormat, TileKey, TileMatrixSet, TileTime};
use support::{Answer, Draw, Stack, Tiles, tile_at};

/// The SAR tile at zoom 6 holding the product's centre.
fn centre_tile(stack: &Stack, tms: TileMatrixSet, z: u8) -> Tile {
    tile_at(tms, stack.centre.0, stack.centre.1, z)
}

fn kvp(tms: TileMatrixSet, tile: Tile, format: &str, extra: &str) -> String {
    format!(
        "/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER=SAR&STYLE=default&TILEMATRIXSET={tms}\
         &TILEMATRIX={}&TILEROW={}&TILECOL={}&FORMAT={format}{extra}",
        tile.z, tile.y, tile.x
    )
}

/// Asserts that `answer` is the image the renderer draws for `key`, and shows the product.
async fn assert_renderers_pixels(stack: &Stack, answer: &Answer, key: &TileKey) {
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(answer.header("content-type"), key.format.mime());
    let expected = stack.renderer_get(&tile_query(key)).await;
    assert_eq!(expected.status, 200);
    let got = Pixels::decode(&answer.body);
    let want = Pixels::decode(&expected.body);
    assert_eq!((got.width, got.height), (256, 256));
    assert!(
        got.bands == want.bands,
        "the tile differs from the renderer's map"
    );
    assert!(
        got.opaque() > 1000,
        "the product shows in the tile ({} opaque pixels)",
        got.opaque()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kvp_and_rest_tiles_are_the_renderers_pixels_stored_once() {
    let stack = Stack::start().await;
    let tms = TileMatrixSet::WebMercatorQuad;
    let tile = centre_tile(&stack, tms, 6);
    let day = "2010-07-22";
    let key = TileKey::new(
        "SAR",
        TileTime::parse(day).unwrap(),
        tms,
        tile,
        TileFormat::Png,
    )
    .unwrap();
    let first = stack
        .get(&kvp(tms, tile, "image/png", &format!("&TIME={day}")))
        .await;
    assert_renderers_pixels(&stack, &first, &key).await;
    assert_eq!(stack.renders(), 1);
    assert_eq!(
        stack.stored("SAR").await,
        vec![format!(
            "SAR/20100722T000000Z_20100723T000000Z/WebMercatorQuad/6/{}/{}.png",
            tile.x, tile.y
        )]
    );
    // The same tile by REST (keys in another case, the time as an interval): a hit.
    let rest = stack
        .get(&format!(
            "/wmts/1.0.0/SAR/default/2010-07-22T00:00:00Z--2010-07-22T23:59:59Z/WebMercatorQuad/6/{}/{}.png",
            tile.y, tile.x
        ))
        .await;
    assert_eq!(rest.status, 200);
    assert_eq!(rest.body, first.body);
    assert_eq!(stack.renders(), 1, "served from the store");
    // A month holding the product, through KVP keys in lower case.
    let month = stack
        .get(
            &kvp(tms, tile, "image/png", "&time=2010-07")
                .to_lowercase()
                .replace("sar", "SAR")
                .replace("webmercatorquad", "WebMercatorQuad"),
        )
        .await;
    assert_eq!(month.status, 200, "{}", month.text());
    assert_eq!(
        Pixels::decode(&month.body).bands,
        Pixels::decode(&first.body).bands
    );
    // JPEG by REST, and the WorldCRS84Quad matrix set.
    let crs84 = TileMatrixSet::WorldCRS84Quad;
    let tile84 = centre_tile(&stack, crs84, 6);
    let jpeg = stack
        .get(&format!(
            "/wmts/1.0.0/SAR/default/default/WorldCRS84Quad/6/{}/{}.jpg",
            tile84.y, tile84.x
        ))
        .await;
    let key84 = TileKey::new("SAR", TileTime::Default, crs84, tile84, TileFormat::Jpeg).unwrap();
    assert_eq!(jpeg.status, 200, "{}", jpeg.text());
    assert_eq!(jpeg.header("content-type"), "image/jpeg");
    let expected = stack.renderer_get(&tile_query(&key84)).await;
    assert_eq!(
        jpeg.body, expected.body,
        "the renderer's JPEG, stored as drawn"
    );
    // A time without products: the blank tile, remembered as empty.
    let before = stack.renders();
    let other_year = stack.get(&kvp(tms, tile, "image/png", "&TIME=2011")).await;
    assert_eq!(other_year.status, 200);
    assert_eq!(Pixels::decode(&other_year.body).opaque(), 0);
    assert_eq!(stack.renders(), before, "nothing to draw");
    assert_eq!(stack.empty(), 1);
}

/// The matrix set names MapCache and PRISM View Server clients use, each with the set it
/// names; the first name of each set asks for its tile first.
const ALIASES: [(&str, TileMatrixSet); 6] = [
    ("WGS84", TileMatrixSet::WorldCRS84Quad),
    ("GoogleCRS84Quad", TileMatrixSet::WorldCRS84Quad),
    ("wgs84", TileMatrixSet::WorldCRS84Quad),
    ("GoogleMapsCompatible", TileMatrixSet::WebMercatorQuad),
    ("googlecrs84quad", TileMatrixSet::WorldCRS84Quad),
    ("GOOGLEMAPSCOMPATIBLE", TileMatrixSet::WebMercatorQuad),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mapcache_matrix_set_names_serve_the_one_stored_tile() {
    let stack = Stack::start().await;
    let z = 6;
    let mut first: Vec<(TileMatrixSet, Answer)> = Vec::new();
    for (alias, tms) in ALIASES {
        let tile = centre_tile(&stack, tms, z);
        let (col, row) = (tile.x, tile.y);
        let paths = [
            format!(
                "/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER=SAR&STYLE=default\
                 &TILEMATRIXSET={alias}&TILEMATRIX={z}&TILEROW={row}&TILECOL={col}&FORMAT=image/png"
            ),
            format!("/wmts/1.0.0/SAR/default/default/{alias}/{z}/{row}/{col}.png"),
            format!("/tiles/SAR/{alias}/{z}/{col}/{row}.png"),
        ];
        for path in paths {
            let answer = stack.get(&path).await;
            assert_eq!(answer.status, 200, "{path}: {}", answer.text());
            match first.iter().find(|(t, _)| *t == tms) {
                // The set's first tile, asked for by its alias: drawn and stored under the
                // set's identifier.
                None => {
                    let key =
                        TileKey::new("SAR", TileTime::Default, tms, tile, TileFormat::Png).unwrap();
                    assert_renderers_pixels(&stack, &answer, &key).await;
                    first.push((tms, answer));
                }
                Some((_, stored)) => {
                    assert_eq!(answer.body, stored.body, "{path}: byte for byte");
                    assert_eq!(answer.header("etag"), stored.header("etag"), "{path}");
                }
            }
        }
        // By the identifier: the same stored tile.
        let canonical = stack.get(&kvp(tms, tile, "image/png", "")).await;
        let (_, stored) = first.iter().find(|(t, _)| *t == tms).unwrap();
        assert_eq!(canonical.body, stored.body, "{tms} after {alias}");
    }
    assert_eq!(stack.renders(), 2, "one drawing per matrix set");
    let key_of = |tms: TileMatrixSet| {
        let tile = centre_tile(&stack, tms, z);
        format!("SAR/default/{tms}/{z}/{}/{}.png", tile.x, tile.y)
    };
    let mut expected = vec![
        key_of(TileMatrixSet::WebMercatorQuad),
        key_of(TileMatrixSet::WorldCRS84Quad),
    ];
    expected.sort();
    assert_eq!(
        stack.stored("SAR").await,
        expected,
        "stored once, by identifier"
    );

    // Names that are not aliases stay refused, naming the parameter.
    for path in [
        "/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER=SAR&STYLE=default\
         &TILEMATRIXSET=WGS%2084&TILEMATRIX=0&TILEROW=0&TILECOL=0&FORMAT=image/png",
        "/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER=SAR&STYLE=default\
         &TILEMATRIXSET=EPSG:4326&TILEMATRIX=0&TILEROW=0&TILECOL=0&FORMAT=image/png",
        "/wmts/1.0.0/SAR/default/default/GoogleCRS84/0/0/0.png",
        "/tiles/SAR/WGS1984/0/0/0.png",
    ] {
        let answer = stack.get(path).await;
        assert_eq!(answer.status, 400, "{path}");
        let text = answer.text();
        assert!(
            text.contains("exceptionCode=\"InvalidParameterValue\"")
                && text.contains("locator=\"tileMatrixSet\"")
                && text.contains("WorldCRS84Quad (also WGS84, GoogleCRS84Quad)"),
            "{path}: {text}"
        );
    }
    assert_eq!(stack.renders(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hits_are_identical_and_validated_with_304() {
    let settings = Settings {
        max_age: 60,
        ..Settings::default()
    };
    let stack = Stack::start_with(Tiles::Local, Draw::InProcess, settings).await;
    let tms = TileMatrixSet::WebMercatorQuad;
    let tile = centre_tile(&stack, tms, 7);
    let path = kvp(tms, tile, "image/png", "");
    let first = stack.get(&path).await;
    let second = stack.get(&path).await;
    assert_eq!(first.status, 200);
    assert_eq!(second.body, first.body);
    assert_eq!(stack.renders(), 1);
    let e_tag = first.header("etag").to_owned();
    assert!(
        e_tag.len() > 2 && e_tag.starts_with('"') && e_tag.ends_with('"'),
        "{e_tag}"
    );
    assert_eq!(second.header("etag"), e_tag);
    assert_eq!(first.header("cache-control"), "public, max-age=60");
    let last_modified = first.header("last-modified").to_owned();
    assert!(last_modified.ends_with(" GMT"), "{last_modified}");

    let not_modified = stack.get_with(&path, &[("if-none-match", &e_tag)]).await;
    assert_eq!(not_modified.status, 304);
    assert!(not_modified.body.is_empty());
    assert_eq!(not_modified.header("etag"), e_tag);
    assert_eq!(not_modified.header("cache-control"), "public, max-age=60");
    let listed = format!("\"nope\", {e_tag}");
    assert_eq!(
        stack
            .get_with(&path, &[("if-none-match", &listed)])
            .await
            .status,
        304
    );
    let other = stack
        .get_with(&path, &[("if-none-match", "\"nope\"")])
        .await;
    assert_eq!((other.status, &other.body), (200, &first.body));
    let since = stack
        .get_with(&path, &[("if-modified-since", &last_modified)])
        .await;
    assert_eq!(since.status, 304);
    let long_ago = stack
        .get_with(
            &path,
            &[("if-modified-since", "Thu, 01 Jan 2004 00:00:00 GMT")],
        )
        .await;
    assert_eq!(long_ago.status, 200);
    // If-None-Match decides when both are given.
    let both = stack
        .get_with(
            &path,
            &[
                ("if-none-match", "\"nope\""),
                ("if-modified-since", &last_modified),
            ],
        )
        .await;
    assert_eq!(both.status, 200);

    // The tile stored again (as the seeder would): a new tag, the old one no longer matches.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let key = TileKey::new("SAR", TileTime::Default, tms, tile, TileFormat::Png).unwrap();
    let blank = pvs_cache::blank(TileFormat::Png);
    stack.cache.store().put(&key, blank.clone()).await.unwrap();
    let changed = stack.get_with(&path, &[("if-none-match", &e_tag)]).await;
    assert_eq!(changed.status, 200);
    assert_ne!(changed.header("etag"), e_tag);
    assert_eq!(changed.body, blank.to_vec());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_misses_render_once() {
    let stack = Stack::start().await;
    let tms = TileMatrixSet::WorldCRS84Quad;
    let tile = centre_tile(&stack, tms, 5);
    let path = kvp(tms, tile, "image/png", "&TIME=2010");
    let before = stack.renders();
    let client = reqwest::Client::new();
    let requests = (0..32).map(|_| {
        let url = format!("{}{path}", stack.base);
        let client = client.clone();
        tokio::spawn(async move {
            let response = client.get(url).send().await.unwrap();
            (response.status().as_u16(), response.bytes().await.unwrap())
        })
    });
    let answers: Vec<_> = futures_join(requests).await;
    assert_eq!(
        stack.renders() - before,
        1,
        "32 concurrent misses, one drawing"
    );
    assert!(answers.iter().all(|(status, _)| *status == 200));
    assert!(answers.iter().all(|(_, body)| *body == answers[0].1));
    assert!(Pixels::decode(&answers[0].1).opaque() > 100);
}

/// Awaits every task.
async fn futures_join<T>(tasks: impl Iterator<Item = tokio::task::JoinHandle<T>>) -> Vec<T> {
    let mut out = Vec::new();
    for task in tasks.collect::<Vec<_>>() {
        out.push(task.await.unwrap());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_tiles_are_blank_and_not_drawn_again() {
    let stack = Stack::start().await;
    let tms = TileMatrixSet::WebMercatorQuad;
    // The Pacific: no product there.
    let tile = tile_at(tms, -150.0, 0.0, 6);
    for (layer, format, ext) in [
        ("SAR", "image/png", "png"),
        ("EMPTY__outlines", "image/jpeg", "jpg"),
    ] {
        let path = format!(
            "/wmts/1.0.0/{layer}/default/default/WebMercatorQuad/6/{}/{}.{ext}",
            tile.y, tile.x
        );
        let empty_before = stack.empty();
        let first = stack.get(&path).await;
        assert_eq!(first.status, 200, "{}", first.text());
        assert_eq!(first.header("content-type"), format);
        assert_eq!(
            first.body,
            pvs_cache::blank(TileFormat::parse(ext).unwrap()).to_vec()
        );
        assert!(!first.header("etag").is_empty());
        assert_eq!(stack.empty(), empty_before + 1);
        let key = TileKey::new(
            layer,
            TileTime::Default,
            tms,
            tile,
            TileFormat::parse(ext).unwrap(),
        )
        .unwrap();
        let stored = stack.cache.store().get(&key).await.unwrap().unwrap();
        assert!(stored.is_empty(), "stored as an empty object");
        let second = stack.get(&path).await;
        assert_eq!(second.body, first.body);
        assert_eq!(second.header("etag"), first.header("etag"));
        assert_eq!(stack.empty(), empty_before + 1, "not looked at again");
    }
    assert_eq!(stack.renders(), 0);
    let blank = Pixels::decode(&pvs_cache::blank(TileFormat::Png));
    assert_eq!(blank.opaque(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xyz_tiles_and_tilejson() {
    let stack = Stack::start().await;
    let tms = TileMatrixSet::WebMercatorQuad;
    let tile = centre_tile(&stack, tms, 6);
    let wmts = stack
        .get(&kvp(tms, tile, "image/png", "&TIME=2010-07-22"))
        .await;
    let xyz = stack
        .get(&format!(
            "/tiles/SAR/6/{}/{}.png?time=2010-07-22",
            tile.x, tile.y
        ))
        .await;
    assert_eq!(xyz.status, 200);
    assert_eq!(xyz.body, wmts.body, "the same stored tile");
    assert_eq!(stack.renders(), 1);
    let crs84 = TileMatrixSet::WorldCRS84Quad;
    let tile84 = centre_tile(&stack, crs84, 6);
    let key84 = TileKey::new("SAR", TileTime::Default, crs84, tile84, TileFormat::Png).unwrap();
    let xyz84 = stack
        .get(&format!(
            "/tiles/SAR/WorldCRS84Quad/6/{}/{}.png",
            tile84.x, tile84.y
        ))
        .await;
    assert_renderers_pixels(&stack, &xyz84, &key84).await;

    let json = stack.get("/tiles/SAR/tilejson.json?time=2010-07-22").await;
    assert_eq!(json.status, 200);
    assert_eq!(json.header("content-type"), "application/json");
    let doc: serde_json::Value = serde_json::from_slice(&json.body).unwrap();
    assert_eq!(doc["tilejson"], "3.0.0");
    assert_eq!(doc["minzoom"], 0);
    assert_eq!(doc["maxzoom"], 18);
    let template = doc["tiles"][0].as_str().unwrap();
    assert_eq!(
        template,
        format!(
            "{}/tiles/SAR/{{z}}/{{x}}/{{y}}.png?time=2010-07-22",
            stack.base
        )
    );
    let bounds: Vec<f64> = doc["bounds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    let (lon, lat) = stack.centre;
    assert!(
        bounds[0] < lon && lon < bounds[2] && bounds[1] < lat && lat < bounds[3],
        "{doc}"
    );
    let center = doc["center"].as_array().unwrap();
    assert!((center[0].as_f64().unwrap() - lon).abs() < 1e-6, "{doc}");
    // The template, filled in, is the tile.
    let url = template
        .replace("{z}", "6")
        .replace("{x}", &tile.x.to_string())
        .replace("{y}", &tile.y.to_string());
    let filled = reqwest::get(url).await.unwrap().bytes().await.unwrap();
    assert_eq!(filled.to_vec(), wmts.body);
    let jpeg = stack
        .get("/tiles/EMPTY__outlines/tilejson.json?format=jpg")
        .await;
    let doc: serde_json::Value = serde_json::from_slice(&jpeg.body).unwrap();
    assert!(
        doc["tiles"][0]
            .as_str()
            .unwrap()
            .ends_with("/tiles/EMPTY__outlines/{z}/{x}/{y}.jpg")
    );
    assert_eq!(stack.get("/tiles/NOPE/tilejson.json").await.status, 404);
    assert_eq!(stack.get("/tiles/NOPE/0/0/0.png").await.status, 404);
    assert_eq!(
        stack.get("/tiles/SAR/1/2/0.png").await.status,
        404,
        "beyond the matrix"
    );
    assert_eq!(stack.get("/tiles/SAR/0/0/0.gif").await.status, 400);
    assert_eq!(
        stack
            .get("/tiles/SAR/tilejson.json?time=never")
            .await
            .status,
        400
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_tiles_drawn_by_a_renderer_service() {
    let stack = Stack::start_with(Tiles::S3, Draw::Http, Settings::default()).await;
    let tms = TileMatrixSet::WebMercatorQuad;
    let tile = centre_tile(&stack, tms, 6);
    let key = TileKey::new("SAR", TileTime::Default, tms, tile, TileFormat::Png).unwrap();
    let path = kvp(tms, tile, "image/png", "");
    let first = stack.get(&path).await;
    assert_renderers_pixels(&stack, &first, &key).await;
    assert_eq!(stack.renders(), 1);
    assert_eq!(
        stack.stored("SAR").await,
        vec![format!(
            "SAR/default/WebMercatorQuad/6/{}/{}.png",
            tile.x, tile.y
        )]
    );
    let e_tag = first.header("etag").to_owned();
    let again = stack.get_with(&path, &[("if-none-match", &e_tag)]).await;
    assert_eq!(again.status, 304);
    let hit = stack.get(&path).await;
    assert_eq!(hit.body, first.body);
    assert_eq!(hit.header("etag"), e_tag);
    assert_eq!(stack.renders(), 1);
    // An empty tile on S3.
    let pacific = tile_at(tms, -150.0, 0.0, 6);
    let empty = stack.get(&kvp(tms, pacific, "image/png", "")).await;
    assert_eq!(empty.body, pvs_cache::blank(TileFormat::Png).to_vec());
    assert_eq!(stack.empty(), 1);
}

/// A tile drawn while its layer is invalidated (a registration between the catalog query and
/// the store) is served but not stored, so it cannot outlive the invalidation; once nothing
/// changes while drawing, tiles are stored again. The registration happens "during" the
/// drawing through a proxy in front of the renderer service that invalidates the layer
/// before passing each GetMap on.
#[tokio::test]
async fn tiles_drawn_across_an_invalidation_are_not_stored() {
    use axum::extract::{RawQuery, State};
    use pvs_cache::{TileCache, TileRenderer};
    use pvs_tiles::{Change, TileStore};

    let stack = Stack::start().await;
    let store = stack.cache.store().clone();
    let proxy_state = (
        store.clone(),
        stack.renderer_base.clone(),
        stack.begin,
        stack.end,
    );
    let proxy = axum::Router::new()
        .fallback(
            |State((store, renderer, begin, end)): State<(TileStore, String, _, _)>,
             RawQuery(query): RawQuery| async move {
                let change = Change {
                    layers: vec!["SAR".into()],
                    boxes: vec![[-180.0, -90.0, 180.0, 90.0]],
                    begin,
                    end,
                };
                store.invalidate(&change).await.unwrap();
                let url = format!("{renderer}/ows?{}", query.unwrap_or_default());
                let answer = reqwest::get(url).await.unwrap();
                let content_type = answer.headers()["content-type"]
                    .to_str()
                    .unwrap()
                    .to_owned();
                let body = answer.bytes().await.unwrap();
                ([(axum::http::header::CONTENT_TYPE, content_type)], body)
            },
        )
        .with_state(proxy_state);
    let proxy_base = pvs_test_support::serve(proxy).await;
    let racing = TileCache::new(
        store.clone(),
        TileRenderer::http(&proxy_base.parse().unwrap(), None).unwrap(),
        stack.cache.catalog().clone(),
    );

    let tms = TileMatrixSet::WebMercatorQuad;
    let key = TileKey::new(
        "SAR",
        TileTime::Default,
        tms,
        centre_tile(&stack, tms, 6),
        TileFormat::Png,
    )
    .unwrap();
    let drawn = racing.tile(&key).await.unwrap();
    assert!(drawn.bytes.starts_with(b"\x89PNG"), "the tile is served");
    assert!(!store.contains(&key).await.unwrap(), "but not stored");
    let unstored = |cache: &TileCache| {
        cache
            .stats()
            .unstored
            .load(std::sync::atomic::Ordering::Relaxed)
    };
    assert_eq!(unstored(&racing), 1);
    racing.tile(&key).await.unwrap();
    assert_eq!(
        unstored(&racing),
        2,
        "each drawing across an invalidation is dropped"
    );
    assert!(!store.contains(&key).await.unwrap());

    // Without a change during the drawing, the tile is stored as usual.
    let served = stack.cache.tile(&key).await.unwrap();
    assert_eq!(unstored(&stack.cache), 0);
    let stored = store.get(&key).await.unwrap().expect("stored");
    assert_eq!(stored.bytes, served.bytes);
    assert_eq!(
        Pixels::decode(&stored.bytes).opaque(),
        Pixels::decode(&drawn.bytes).opaque()
    );
}
