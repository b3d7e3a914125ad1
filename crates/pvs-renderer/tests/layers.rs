//! The layers beyond a collection's mosaic: `<collection>__outlines`, one layer per product,
//! collection styles, `EXCEPTIONS=INIMAGE`, and capabilities valid against the OGC schemas
//! (real PostGIS, a COG made from an ngEO fixture, xmllint).

use std::collections::BTreeMap;
use std::process::Command;

use gdal::raster::Buffer;
use geo::BoundingRect;
use pvs_raster::style::{Colormap, Style};
use pvs_renderer::{Looks, Settings};

mod support;

use pvs_test_support::images;
use support::Server;

/// The map of a layer over the footprint's box (grown by a tenth), 200 × 200 PNG, lon/lat.
fn footprint_map(server: &Server, layer: &str, extra: &str) -> (String, [f64; 4]) {
    let rect = server.footprint.bounding_rect().unwrap();
    let (dx, dy) = (rect.width() / 10.0, rect.height() / 10.0);
    let bbox = [
        rect.min().x - dx,
        rect.min().y - dy,
        rect.max().x + dx,
        rect.max().y + dy,
    ];
    (
        format!(
            "SERVICE=WMS&REQUEST=GetMap&VERSION=1.3.0&LAYERS={layer}&CRS=CRS:84&BBOX={},{},{},{}&WIDTH=200&HEIGHT=200&FORMAT=image/png&TRANSPARENT=TRUE{extra}",
            bbox[0], bbox[1], bbox[2], bbox[3]
        ),
        bbox,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn capabilities_are_valid_against_the_ogc_schemas() {
    let schemas = support::schemas();
    let server = Server::start().await;
    let dir = tempfile::tempdir().unwrap();
    for version in ["1.3.0", "1.1.1"] {
        let (status, _, body) = server
            .get(&format!(
                "SERVICE=WMS&REQUEST=GetCapabilities&VERSION={version}"
            ))
            .await;
        assert_eq!(status, 200);
        let xml = String::from_utf8(body).unwrap();
        // The collection, its product as a child layer, and the outlines layer.
        for name in [
            "SAR",
            "EMPTY",
            "SAR__outlines",
            "EMPTY__outlines",
            &server.product_id,
        ] {
            assert!(
                xml.contains(&format!("<Name>{name}</Name>")),
                "{version}: {name}"
            );
        }
        support::assert_valid_capabilities(version, &xml, dir.path());
    }
    // The check can fail: a document missing the mandatory Service element is refused.
    let broken = dir.path().join("broken.xml");
    std::fs::write(
        &broken,
        "<WMS_Capabilities version=\"1.3.0\" xmlns=\"http://www.opengis.net/wms\"><Capability/></WMS_Capabilities>",
    )
    .unwrap();
    let status = Command::new("xmllint")
        .args(["--noout", "--nonet", "--schema"])
        .arg(schemas.join("wms/1.3.0/capabilities_1_3_0.xsd"))
        .arg(&broken)
        .output()
        .unwrap()
        .status;
    assert!(!status.success());
}

/// Ids are unique per collection: when another collection registers the same id, the
/// product layer `<id>` is the newest of those products. Here the newer one (in `EMPTY`) has
/// the same COG but a footprint of the western half only: the layer then draws the west and
/// leaves the east transparent, while the `SAR` collection layer still draws both halves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_product_layer_of_an_id_in_two_collections_is_the_newest() {
    use pvs_catalog::Catalog;
    let server = Server::start().await;
    // As a client does: the product is a layer of the capabilities, maps are asked for at
    // their GetMap URL.
    let (capabilities, get_map) = support::advertised_get_map(&server.base).await;
    let layer = format!("<Name>{}</Name>", server.product_id);
    assert!(capabilities.contains(&layer), "{capabilities}");
    let map = |query: String| {
        let url = format!("{get_map}{query}");
        async move { pvs_test_support::net::get(&url).await }
    };
    let (query, bbox) = footprint_map(&server, &server.product_id, "");
    let rect = server.footprint.bounding_rect().unwrap();
    let (cx, cy) = (rect.center().x, rect.center().y);
    let pixel_of = |lon: f64, lat: f64| {
        (
            ((lon - bbox[0]) / (bbox[2] - bbox[0]) * 200.0) as isize,
            ((bbox[3] - lat) / (bbox[3] - bbox[1]) * 200.0) as isize,
        )
    };
    let (west, east) = (
        pixel_of(cx - rect.width() * 0.15, cy),
        pixel_of(cx + rect.width() * 0.15, cy),
    );
    let alpha = |png: &[u8], (x, y): (isize, isize)| images::pixel(&images::open(png), x, y)[3];
    let (status, _, before) = map(query.clone()).await;
    assert_eq!(status, 200);
    assert_eq!((alpha(&before, west), alpha(&before, east)), (255, 255));

    let sar = server
        .catalog
        .get("SAR", &server.product_id)
        .await
        .unwrap()
        .unwrap();
    let western_half = geo::MultiPolygon(vec![
        geo::Rect::new(rect.min(), geo::coord! { x: cx, y: rect.max().y }).to_polygon(),
    ]);
    let newer = pvs_catalog::Product {
        collection: "EMPTY".to_owned(),
        footprint: western_half,
        begin: sar.begin + chrono::TimeDelta::days(1),
        end: sar.end + chrono::TimeDelta::days(1),
        ..sar.clone()
    };
    server.catalog.register(&newer).await.unwrap();
    let (capabilities, _) = support::advertised_get_map(&server.base).await;
    assert_eq!(
        capabilities.matches(&layer).count(),
        2,
        "a child layer of both collections"
    );
    let (status, _, after) = map(query).await;
    assert_eq!(status, 200);
    assert_eq!(
        (alpha(&after, west), alpha(&after, east)),
        (255, 0),
        "the newest product of the id, cut by its footprint"
    );
    let (collection, _) = footprint_map(&server, "SAR", "");
    let (_, _, sar_map) = map(collection).await;
    assert_eq!(
        (alpha(&sar_map, west), alpha(&sar_map, east)),
        (255, 255),
        "the SAR product is still there, whole"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_product_layer_shows_that_product_alone() {
    let server = Server::start().await;
    let (collection, _) = footprint_map(&server, "SAR", "");
    let (product_query, _) = footprint_map(&server, &server.product_id, "");
    let (status, _, collection_png) = server.get(&collection).await;
    assert_eq!(status, 200);
    let (status, content_type, product_png) = server.get(&product_query).await;
    assert_eq!(
        (status, content_type.as_str()),
        (200, "image/png"),
        "{}",
        String::from_utf8_lossy(&product_png)
    );
    let collection = images::open(&collection_png);
    let product = images::open(&product_png);
    let centre = images::pixel(&product, 100, 100);
    assert_eq!(centre[3], 255, "the product covers the centre");
    assert_eq!(centre, images::pixel(&collection, 100, 100));
    assert_eq!(
        images::pixel(&product, 1, 1)[3],
        0,
        "transparent outside the footprint"
    );
    // Its time filter applies too.
    let (_, _, other_day) = server
        .get(&format!(
            "{}&TIME=2011-01-01",
            footprint_map(&server, &server.product_id, "").0
        ))
        .await;
    assert_eq!(images::pixel(&images::open(&other_day), 100, 100)[3], 0);
    // GetFeatureInfo on the product layer names it.
    let (status, _, body) = server
        .get(&format!(
            "{}&REQUEST=GetFeatureInfo&QUERY_LAYERS={}&I=100&J=100&INFO_FORMAT=application/json",
            product_query.replace("REQUEST=GetMap&", ""),
            server.product_id
        ))
        .await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(json["features"][0]["id"], server.product_id.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_outlines_layer_draws_footprints_not_pixels() {
    let server = Server::start().await;
    let (query, [x0, y0, x1, y1]) = footprint_map(&server, "SAR__outlines", "");
    let (status, content_type, body) = server.get(&query).await;
    assert_eq!(
        (status, content_type.as_str()),
        (200, "image/png"),
        "{}",
        String::from_utf8_lossy(&body)
    );
    let image = images::open(&body);
    assert_eq!(
        images::pixel(&image, 100, 100)[3],
        0,
        "the inside is not filled"
    );
    assert_eq!(images::pixel(&image, 1, 1)[3], 0, "outside is empty");
    // Every corner of the footprint has an outline pixel within two pixels of it.
    for corner in server.footprint.0[0].exterior().points() {
        let column = ((corner.x() - x0) / (x1 - x0) * 200.0) as isize;
        let row = ((y1 - corner.y()) / (y1 - y0) * 200.0) as isize;
        let near = (-2..=2).any(|dy| {
            (-2..=2).any(|dx| {
                let (x, y) = (column + dx, row + dy);
                (0..200).contains(&x)
                    && (0..200).contains(&y)
                    && images::pixel(&image, x, y)[3] == 255
            })
        });
        assert!(
            near,
            "no outline at the corner {corner:?} (pixel {column},{row})"
        );
    }
    // Another day: no footprint drawn at all.
    let (_, _, body) = server.get(&format!("{query}&TIME=2011-01-01")).await;
    let empty = images::open(&body);
    let alpha: Buffer<u8> = empty
        .rasterband(4)
        .unwrap()
        .read_as((0, 0), (200, 200), (200, 200), None)
        .unwrap();
    assert!(alpha.data().iter().all(|a| *a == 0));
    // GetFeatureInfo on the outlines layer lists the products as the collection does.
    let (status, _, body) = server
        .get(&format!(
            "{}&REQUEST=GetFeatureInfo&QUERY_LAYERS=SAR__outlines&I=100&J=100&INFO_FORMAT=application/json",
            query.replace("REQUEST=GetMap&", "")
        ))
        .await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(json["features"][0]["id"], server.product_id.as_str());
    // Outlines of an unknown collection, or a product id that is too long: no such layer.
    for layer in ["NOPE__outlines".to_owned(), "x".repeat(300)] {
        let (status, _, body) = server.get(&footprint_map(&server, &layer, "").0).await;
        let xml = String::from_utf8(body).unwrap();
        assert_eq!(status, 400, "{xml}");
        assert!(xml.contains("code=\"LayerNotDefined\""), "{xml}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inimage_exceptions_write_the_error_into_the_image() {
    let server = Server::start().await;
    let (query, _) = footprint_map(&server, "NOPE", "");
    for exceptions in ["INIMAGE", "application/vnd.ogc.se_inimage"] {
        let opaque = query.replace("TRANSPARENT=TRUE", "TRANSPARENT=FALSE");
        let (status, content_type, body) = server
            .get(&format!("{opaque}&EXCEPTIONS={exceptions}"))
            .await;
        assert_eq!((status, content_type.as_str()), (200, "image/png"));
        let image = images::open(&body);
        let red: Buffer<u8> = image
            .rasterband(1)
            .unwrap()
            .read_as((0, 0), (200, 200), (200, 200), None)
            .unwrap();
        let black = red.data().iter().filter(|v| **v == 0).count();
        let white = red.data().iter().filter(|v| **v == 255).count();
        // White background, a few hundred black text pixels.
        assert!(black > 200 && black < 8000, "{black} text pixels");
        assert_eq!(black + white, 200 * 200);
    }
    // A request that cannot be parsed at all still gets an XML exception.
    let (status, _, _) = server
        .get(
            &query
                .replace("WIDTH=200", "WIDTH=abc")
                .replace("EXCEPTIONS", "X"),
        )
        .await;
    assert_eq!(status, 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn collections_are_drawn_with_their_configured_style() {
    let plain = Server::start().await;
    let (query, _) = footprint_map(&plain, "SAR", "");
    let (_, _, body) = plain.get(&query).await;
    let grey = images::pixel(&images::open(&body), 100, 100);
    assert_eq!(grey[3], 255);
    assert_eq!((grey[0], grey[1]), (grey[1], grey[2]), "a grey product");

    let stretched = Style::new(Some(vec![1]), Some([0.0, 127.0]), None).unwrap();
    let coloured = Style::new(Some(vec![1]), None, Some(Colormap::Viridis)).unwrap();
    for (style, expected) in [
        (stretched, {
            let v = (f64::from(grey[0]) * 255.0 / 127.0).round().min(255.0) as u8;
            [v, v, v]
        }),
        (coloured, Colormap::Viridis.colour(grey[0])),
    ] {
        let server = Server::start_with(Settings {
            styles: BTreeMap::from([(
                "SAR".to_owned(),
                Looks {
                    default: style.clone(),
                    ..Looks::default()
                },
            )]),
            ..Settings::default()
        })
        .await;
        let (query, _) = footprint_map(&server, "SAR", "");
        let (status, _, body) = server.get(&query).await;
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        let got = images::pixel(&images::open(&body), 100, 100);
        assert_eq!(got[..3], expected, "{style:?}");
        assert_eq!(got[3], 255);
        // The product layer is drawn with its collection's style.
        let (product, _) = footprint_map(&server, &server.product_id, "");
        let (_, _, body) = server.get(&product).await;
        let got = images::pixel(&images::open(&body), 100, 100);
        assert_eq!(got[..3], expected, "{style:?} (product layer)");
    }
}

#[test]
fn styles_come_from_the_collections_configuration() {
    let config = pvs_model::Collections::from_toml(
        "[collections.DEM.render]\nbands = [1]\nrescale = [0.0, 4000.0]\ncolormap = \"terrain\"\n\n[collections.RGB]\n",
    )
    .unwrap();
    let styles = pvs_renderer::styles(&config).unwrap();
    assert_eq!(
        styles,
        BTreeMap::from([(
            "DEM".to_owned(),
            Looks {
                default: Style::new(Some(vec![1]), Some([0.0, 4000.0]), Some(Colormap::Terrain))
                    .unwrap(),
                ..Looks::default()
            }
        )]),
        "RGB is drawn as stored"
    );
    let bad = pvs_model::Collections {
        collections: BTreeMap::from([(
            "X".to_owned(),
            pvs_model::CollectionConfig {
                render: pvs_model::Render {
                    bands: Some(vec![1, 2]),
                    rescale: None,
                    colormap: None,
                },
                ..pvs_model::CollectionConfig::for_browse_type("X")
            },
        )]),
    };
    let error = pvs_renderer::styles(&bad).unwrap_err();
    assert!(error.contains("[collections.X.render]"), "{error}");
}
