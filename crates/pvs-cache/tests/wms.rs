//! Tiled WMS on the cache's `/ows`: a GetMap that is one tile is served from the cache;
//! anything else is the renderer's answer, passed through unchanged.

mod support;

use pvs_test_support::images::Pixels;
use pvs_tiles::TileMatrixSet;
use support::{Stack, tile_at};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aligned_get_maps_come_from_the_cache_others_from_the_renderer() {
    let stack = Stack::start().await;
    let (lon, lat) = stack.centre;

    // WMS 1.3.0, EPSG:4326: the box in latitude, longitude order, one WorldCRS84Quad tile.
    let crs84 = TileMatrixSet::WorldCRS84Quad;
    let tile = tile_at(crs84, lon, lat, 6);
    let [w, s, e, n] = crs84.bounds(tile);
    let aligned = format!(
        "SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=SAR&STYLES=&CRS=EPSG:4326&BBOX={s},{w},{n},{e}\
         &WIDTH=256&HEIGHT=256&FORMAT=image/png&TRANSPARENT=TRUE&TIME=2010-07-22"
    );
    let first = stack.get(&format!("/ows?{aligned}")).await;
    assert_eq!(first.status, 200, "{}", first.text());
    assert_eq!(stack.renders(), 1, "drawn for the cache");
    assert_eq!(
        stack.stored("SAR").await,
        vec![format!(
            "SAR/20100722T000000Z_20100723T000000Z/WorldCRS84Quad/6/{}/{}.png",
            tile.x, tile.y
        )]
    );
    assert!(!first.header("etag").is_empty());
    assert!(Pixels::decode(&first.body).opaque() > 1000);
    // The same tile by WMTS: a hit, the same bytes.
    let wmts = stack
        .get(&format!(
            "/wmts/1.0.0/SAR/default/2010-07-22/WorldCRS84Quad/6/{}/{}.png",
            tile.y, tile.x
        ))
        .await;
    assert_eq!(wmts.body, first.body);
    // WMS 1.1.1 with the same box in longitude, latitude order: a hit.
    let v111 = format!(
        "SERVICE=WMS&VERSION=1.1.1&REQUEST=GetMap&LAYERS=SAR&STYLES=&SRS=EPSG:4326&BBOX={w},{s},{e},{n}\
         &WIDTH=256&HEIGHT=256&FORMAT=image/png&TRANSPARENT=TRUE&TIME=2010-07-22"
    );
    assert_eq!(stack.get(&format!("/ows?{v111}")).await.body, first.body);
    assert_eq!(stack.renders(), 1);
    // Web Mercator, JPEG, no time.
    let mercator = TileMatrixSet::WebMercatorQuad;
    let tile = tile_at(mercator, lon, lat, 7);
    let [w, s, e, n] = mercator.bounds(tile);
    let jpeg = stack
        .get(&format!(
            "/ows?service=WMS&version=1.3.0&request=GetMap&layers=SAR&styles=&crs=EPSG:3857&bbox={w},{s},{e},{n}\
             &width=256&height=256&format=image/jpeg"
        ))
        .await;
    assert_eq!(
        (jpeg.status, jpeg.header("content-type")),
        (200, "image/jpeg")
    );
    assert_eq!(stack.renders(), 2);
    assert!(stack.stored("SAR").await.contains(&format!(
        "SAR/default/WebMercatorQuad/7/{}/{}.jpg",
        tile.x, tile.y
    )));

    // Not tiles: passed to the renderer, its answer unchanged, nothing stored.
    let [w, s, e, n] = crs84.bounds(tile_at(crs84, lon, lat, 6));
    let shift = (e - w) / 3.0;
    let stored = stack.stored("SAR").await.len();
    for query in [
        // Half a tile off the grid.
        format!(
            "SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=SAR&STYLES=&CRS=CRS:84&BBOX={},{s},{},{n}\
             &WIDTH=256&HEIGHT=256&FORMAT=image/png&TRANSPARENT=TRUE",
            w + shift,
            e + shift
        ),
        // Another size.
        format!(
            "SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=SAR&STYLES=&CRS=CRS:84&BBOX={w},{s},{e},{n}\
             &WIDTH=300&HEIGHT=300&FORMAT=image/png&TRANSPARENT=TRUE"
        ),
        // Another CRS.
        "SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=SAR&STYLES=&CRS=EPSG:3035&BBOX=3000000,3000000,3500000,3500000\
         &WIDTH=256&HEIGHT=256&FORMAT=image/png&TRANSPARENT=TRUE"
            .to_owned(),
        "SERVICE=WMS&VERSION=1.3.0&REQUEST=GetCapabilities".to_owned(),
        format!(
            "SERVICE=WMS&VERSION=1.3.0&REQUEST=GetFeatureInfo&LAYERS=SAR&QUERY_LAYERS=SAR&STYLES=&CRS=CRS:84\
             &BBOX={w},{s},{e},{n}&WIDTH=256&HEIGHT=256&I=128&J=128&INFO_FORMAT=application/json&FORMAT=image/png"
        ),
        // An aligned tile of a layer that does not exist: the renderer's error.
        format!(
            "SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=NOPE&STYLES=&CRS=CRS:84&BBOX={w},{s},{e},{n}\
             &WIDTH=256&HEIGHT=256&FORMAT=image/png&TRANSPARENT=TRUE"
        ),
        "SERVICE=WMS&REQUEST=GetMap".to_owned(),
    ] {
        let cached = stack.get(&format!("/ows?{query}")).await;
        let direct = stack.renderer_get(&query).await;
        assert_eq!(cached.status, direct.status, "{query}");
        assert_eq!(
            cached.header("content-type"),
            direct.header("content-type"),
            "{query}"
        );
        if query.contains("GetCapabilities") {
            // The renderer names the host it was reached at.
            assert!(cached.text().contains("<WMS_Capabilities"), "{query}");
        } else {
            assert_eq!(cached.body, direct.body, "{query}");
        }
    }
    assert_eq!(
        stack.renders(),
        2,
        "passed through, not drawn for the cache"
    );
    assert_eq!(stack.stored("SAR").await.len(), stored);
    assert!(stack.stored("NOPE").await.is_empty());
}

/// Whatever the cache passes to the renderer gets the renderer's own answer: its query
/// limits (not the cache's shorter ones) and its error reports, whether the renderer is in
/// the cache's process or a service of its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_queries_get_the_renderers_answer() {
    for (draw, stack) in both_renderers().await {
        let describe = format!(
            "SERVICE=WCS&VERSION=2.0.1&REQUEST=DescribeCoverage&COVERAGEID={}",
            stack.product_id
        );
        // 10 KiB: over the cache's 8 KiB for tile requests, under the renderer's 16 KiB.
        let medium = format!("{describe}&PAD={}", "x".repeat(10 * 1024));
        // 20 KiB: over the renderer's limit too.
        let long = format!("{describe}&PAD={}", "x".repeat(20 * 1024));
        for query in [&medium, &long] {
            let cached = stack.get(&format!("/ows?{query}")).await;
            let direct = stack.renderer_get(query).await;
            assert_eq!(
                cached.status,
                direct.status,
                "{draw:?} {} bytes",
                query.len()
            );
            assert_eq!(cached.header("content-type"), direct.header("content-type"));
            assert_eq!(cached.text(), direct.text(), "{draw:?}");
        }
        let medium = stack.get(&format!("/ows?{medium}")).await;
        assert_eq!(medium.status, 200, "{}", medium.text());
        assert!(medium.text().contains("CoverageDescriptions"));
        let long = stack.get(&format!("/ows?{long}")).await;
        assert_eq!(long.status, 400);
        assert!(
            long.text().contains("http://www.opengis.net/ows/2.0"),
            "the WCS 2.0 report: {}",
            long.text()
        );
    }
}

/// Capabilities passed through the cache name the address the client reached (the cache's,
/// with the proxy's scheme, host and prefix), never the renderer's or `localhost`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passed_capabilities_name_the_caches_public_url() {
    for (draw, stack) in both_renderers().await {
        for (query, resource) in [
            (
                "SERVICE=WMS&VERSION=1.3.0&REQUEST=GetCapabilities",
                "/ows\"",
            ),
            (
                "SERVICE=WMS&VERSION=1.1.1&REQUEST=GetCapabilities",
                "/ows\"",
            ),
            (
                "SERVICE=WCS&VERSION=2.0.1&REQUEST=GetCapabilities",
                "/ows?\"",
            ),
        ] {
            let direct = stack.get(&format!("/ows?{query}")).await.text();
            assert!(
                direct.contains(&format!("{}{resource}", stack.base)),
                "{draw:?} {query} names {}: {direct}",
                stack.base
            );
            assert!(!direct.contains("localhost"), "{draw:?} {query}");
            assert!(!direct.contains(&stack.renderer_base), "{draw:?} {query}");
            let proxied = stack
                .get_with(
                    &format!("/ows?{query}"),
                    &[
                        ("x-forwarded-proto", "https"),
                        ("x-forwarded-host", "vs.example.org"),
                        ("x-forwarded-prefix", "/pvs"),
                    ],
                )
                .await
                .text();
            assert!(
                proxied.contains(&format!("https://vs.example.org/pvs{resource}")),
                "{draw:?} {query}: {proxied}"
            );
            assert!(!proxied.contains(&stack.base), "{draw:?} {query}");
        }
    }
}

/// A stack drawing in process and one drawing through the renderer service.
async fn both_renderers() -> Vec<(support::Draw, Stack)> {
    let mut stacks = Vec::new();
    for draw in [support::Draw::InProcess, support::Draw::Http] {
        let settings = pvs_cache::Settings::default();
        stacks.push((
            draw,
            Stack::start_with(support::Tiles::Local, draw, settings).await,
        ));
    }
    stacks
}
