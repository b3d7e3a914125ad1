//! WMS over HTTP against a real PostGIS catalog and real COGs (made from the ngEO fixtures):
//! capabilities, maps whose pixels are checked against the COGs in three CRSs, the time
//! filter, every error as a service exception, and GDAL's WMS driver as a client.

use std::path::Path;

use gdal::Dataset;
use gdal::raster::Buffer;

mod support;

use pvs_test_support::images;
use support::Server;

fn pixel(dataset: &Dataset, band: usize, x: isize, y: isize) -> u8 {
    images::pixel(dataset, x, y)[band - 1]
}

/// The COG's value (band 1) at lon/lat.
fn cog_value(cog: &Path, lon: f64, lat: f64) -> u8 {
    let dataset = Dataset::open(cog).unwrap();
    let gt = dataset.geo_transform().unwrap();
    let x = ((lon - gt[0]) / gt[1]).floor() as isize;
    let y = ((lat - gt[3]) / gt[5]).floor() as isize;
    pixel(&dataset, 1, x, y)
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn capabilities_list_each_collection_with_its_extent_and_time() {
    let server = Server::start().await;
    for (version, content_type, root, time) in [
        (
            "1.3.0",
            "text/xml",
            "<WMS_Capabilities version=\"1.3.0\"",
            "<Dimension name=\"time\" units=\"ISO8601\" default=\"2010-07-22T21:39:38Z\">2010-07-22T21:38:40Z/2010-07-22T21:39:38Z/PT1S</Dimension>",
        ),
        (
            "1.1.1",
            "application/vnd.ogc.wms_xml",
            "<WMT_MS_Capabilities version=\"1.1.1\"",
            "<Extent name=\"time\" default=\"2010-07-22T21:39:38Z\">2010-07-22T21:38:40Z/2010-07-22T21:39:38Z/PT1S</Extent>",
        ),
    ] {
        let (status, got_type, body) = server
            .get(&format!(
                "SERVICE=WMS&REQUEST=GetCapabilities&VERSION={version}"
            ))
            .await;
        let xml = String::from_utf8(body).unwrap();
        assert_eq!((status, got_type.as_str()), (200, content_type), "{xml}");
        assert!(xml.contains(root), "{xml}");
        assert!(
            xml.contains("<Name>SAR</Name>") && xml.contains("<Name>EMPTY</Name>"),
            "{xml}"
        );
        assert!(xml.contains(time), "{version}: {xml}");
        assert!(xml.contains(&format!("{}/ows?", server.base)), "{xml}");
        assert!(
            xml.contains("<GetFeatureInfo><Format>application/json</Format>"),
            "{xml}"
        );
        // Well-formed to the end.
        let mut reader = quick_xml::Reader::from_str(&xml);
        loop {
            match reader.read_event() {
                Ok(quick_xml::events::Event::Eof) => break,
                Ok(_) => {}
                Err(e) => panic!("{version}: {e}"),
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn maps_show_the_cog_pixels_in_every_crs_and_version() {
    let server = Server::start().await;
    let (lon, lat) = server.centre;
    let expected = cog_value(&server.cog, lon, lat);
    let (w, h) = (0.2, 0.2);
    // The centre of a 101 × 101 image is the footprint's centre.
    let cases = [
        format!(
            "VERSION=1.3.0&CRS=EPSG:4326&BBOX={},{},{},{}",
            lat - h,
            lon - w,
            lat + h,
            lon + w
        ),
        format!(
            "VERSION=1.3.0&CRS=CRS:84&BBOX={},{},{},{}",
            lon - w,
            lat - h,
            lon + w,
            lat + h
        ),
        format!(
            "VERSION=1.1.1&SRS=EPSG:4326&BBOX={},{},{},{}",
            lon - w,
            lat - h,
            lon + w,
            lat + h
        ),
        {
            let (x, y) = mercator(lon, lat);
            format!(
                "VERSION=1.3.0&CRS=EPSG:3857&BBOX={},{},{},{}",
                x - 20_000.0,
                y - 20_000.0,
                x + 20_000.0,
                y + 20_000.0
            )
        },
    ];
    for case in &cases {
        let (status, content_type, body) = server
            .get(&format!(
                "SERVICE=WMS&REQUEST=GetMap&LAYERS=SAR&STYLES=&{case}&WIDTH=101&HEIGHT=101&FORMAT=image/png&TRANSPARENT=TRUE"
            ))
            .await;
        assert_eq!(
            (status, content_type.as_str()),
            (200, "image/png"),
            "{case}: {}",
            String::from_utf8_lossy(&body)
        );
        let image = images::open(&body);
        assert_eq!(image.raster_count(), 4);
        assert_eq!(
            pixel(&image, 4, 50, 50),
            255,
            "{case}: opaque at the centre"
        );
        let got = pixel(&image, 1, 50, 50);
        assert!(
            got.abs_diff(expected) <= 12,
            "{case}: {got} vs the COG's {expected}"
        );
    }

    // Far from the footprint: transparent, or the background colour when opaque.
    let (status, _, body) = server
        .get("SERVICE=WMS&REQUEST=GetMap&VERSION=1.1.1&LAYERS=SAR&SRS=EPSG:4326&BBOX=100,0,101,1&WIDTH=8&HEIGHT=8&FORMAT=image/png&TRANSPARENT=TRUE")
        .await;
    assert_eq!(status, 200);
    assert_eq!(pixel(&images::open(&body), 4, 4, 4), 0);
    let (_, content_type, body) = server
        .get("SERVICE=WMS&REQUEST=GetMap&VERSION=1.1.1&LAYERS=SAR&SRS=EPSG:4326&BBOX=100,0,101,1&WIDTH=8&HEIGHT=8&FORMAT=image/jpeg&BGCOLOR=0xFF0000")
        .await;
    assert_eq!(content_type, "image/jpeg");
    let jpeg = images::open(&body);
    assert!(pixel(&jpeg, 1, 4, 4) > 200 && pixel(&jpeg, 2, 4, 4) < 50);

    // TIME: the product's instant shows it, another day does not.
    let bbox = format!("{},{},{},{}", lon - w, lat - h, lon + w, lat + h);
    for (time, alpha) in [("2010-07-22T21:39:00Z", 255), ("2010-07-23/2010-07-24", 0)] {
        let (status, _, body) = server
            .get(&format!("SERVICE=WMS&REQUEST=GetMap&VERSION=1.1.1&LAYERS=SAR&SRS=EPSG:4326&BBOX={bbox}&WIDTH=11&HEIGHT=11&FORMAT=image/png&TRANSPARENT=TRUE&TIME={time}"))
            .await;
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        let image = images::open(&body);
        assert_eq!(pixel(&image, 4, 5, 5), alpha, "TIME={time}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_are_service_exceptions_naming_the_parameter() {
    let server = Server::start().await;
    let map = "SERVICE=WMS&REQUEST=GetMap&VERSION=1.3.0&LAYERS=SAR&CRS=EPSG:4326&BBOX=40,10,41,11&WIDTH=10&HEIGHT=10&FORMAT=image/png";
    let long = "x".repeat(20_000);
    let cases: Vec<(String, &str, Option<&str>)> = vec![
        (
            map.replace("LAYERS=SAR", "LAYERS=NOPE"),
            "LayerNotDefined",
            Some("layers"),
        ),
        (
            // Several layers are composited; an unknown one among them is refused.
            map.replace("LAYERS=SAR", "LAYERS=SAR,NOPE"),
            "LayerNotDefined",
            Some("layers"),
        ),
        (
            map.replace("EPSG:4326", "EPSG:999999"),
            "InvalidCRS",
            Some("crs"),
        ),
        (
            map.replace("WIDTH=10", "WIDTH=5000"),
            "InvalidParameterValue",
            Some("width"),
        ),
        (
            map.replace("&BBOX=40,10,41,11", ""),
            "MissingParameterValue",
            Some("bbox"),
        ),
        (
            map.replace("BBOX=40,10,41,11", "BBOX=41,10,40,11"),
            "InvalidParameterValue",
            Some("bbox"),
        ),
        (
            format!("{map}&TIME=not-a-time"),
            "InvalidDimensionValue",
            Some("time"),
        ),
        (
            map.replace("image/png", "image/gif"),
            "InvalidFormat",
            Some("format"),
        ),
        (
            "SERVICE=WMS&REQUEST=DescribeLayer".to_owned(),
            "OperationNotSupported",
            Some("request"),
        ),
        (
            "SERVICE=WMS&VERSION=1.3.0".to_owned(),
            "MissingParameterValue",
            Some("request"),
        ),
        (
            "SERVICE=WFS&REQUEST=GetCapabilities".to_owned(),
            "InvalidParameterValue",
            Some("service"),
        ),
        (
            format!("SERVICE=WMS&REQUEST=GetCapabilities&X={long}"),
            "InvalidParameterValue",
            None,
        ),
        (
            format!("{map}&EXCEPTIONS=application/vnd.ogc.se_svg"),
            "InvalidParameterValue",
            Some("exceptions"),
        ),
    ];
    for (query, code, locator) in cases {
        let (status, content_type, body) = server.get(&query).await;
        let xml = String::from_utf8(body).unwrap();
        let shown = &query[..query.len().min(120)];
        assert_eq!(status, 400, "{shown}: {xml}");
        assert_eq!(content_type, "text/xml", "{shown}");
        assert!(
            xml.contains("<ServiceExceptionReport version=\"1.3.0\""),
            "{xml}"
        );
        assert!(xml.contains(&format!("code=\"{code}\"")), "{shown}: {xml}");
        if let Some(locator) = locator {
            assert!(
                xml.contains(&format!("locator=\"{locator}\"")),
                "{shown}: {xml}"
            );
        }
    }
    // 1.1.1 errors in its own format.
    let (status, content_type, body) = server
        .get("SERVICE=WMS&REQUEST=GetMap&VERSION=1.1.1&LAYERS=NOPE&SRS=EPSG:4326&BBOX=10,40,11,41&WIDTH=10&HEIGHT=10&FORMAT=image/png")
        .await;
    assert_eq!(
        (status, content_type.as_str()),
        (400, "application/vnd.ogc.se_xml")
    );
    assert!(
        String::from_utf8(body)
            .unwrap()
            .contains("<ServiceExceptionReport version=\"1.1.1\">")
    );
    // EXCEPTIONS=BLANK: an empty image instead.
    let (status, content_type, _) = server
        .get(&format!(
            "{}&EXCEPTIONS=BLANK",
            map.replace("LAYERS=SAR", "LAYERS=NOPE")
        ))
        .await;
    assert_eq!((status, content_type.as_str()), (200, "image/png"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gdal_wms_driver_reads_a_layer() {
    let server = Server::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (lon, lat) = server.centre;
    let url = format!(
        "WMS:{}/ows?SERVICE=WMS&VERSION=1.1.1&REQUEST=GetMap&LAYERS=SAR&SRS=EPSG:4326&BBOX={},{},{},{}&FORMAT=image/png",
        server.base,
        lon - 1.0,
        lat - 1.0,
        lon + 1.0,
        lat + 1.0
    );
    let output = dir.path().join("from_wms.tif");
    let (url_arg, output_arg) = (url.clone(), output.clone());
    let status = tokio::task::spawn_blocking(move || {
        std::process::Command::new("gdal_translate")
            .args(["-q", "-outsize", "200", "200"])
            .arg(&url_arg)
            .arg(&output_arg)
            .status()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(status.success(), "gdal_translate {url}");
    let dataset = Dataset::open(&output).unwrap();
    assert_eq!(dataset.raster_size(), (200, 200));
    // What GDAL assembled is what pvs serves for the same box and size (GDAL asks in its
    // own blocks, so pixels are compared as the mean of the centre 40 × 40).
    let (_, _, body) = server
        .get(&format!(
            "SERVICE=WMS&VERSION=1.1.1&REQUEST=GetMap&LAYERS=SAR&SRS=EPSG:4326&BBOX={},{},{},{}&WIDTH=200&HEIGHT=200&FORMAT=image/png",
            lon - 1.0,
            lat - 1.0,
            lon + 1.0,
            lat + 1.0
        ))
        .await;
    let direct = images::open(&body);
    let mean = |dataset: &Dataset| {
        let buffer: Buffer<u8> = dataset
            .rasterband(1)
            .unwrap()
            .read_as((80, 80), (40, 40), (40, 40), None)
            .unwrap();
        buffer.data().iter().map(|&v| f64::from(v)).sum::<f64>() / 1600.0
    };
    let (through_gdal, served) = (mean(&dataset), mean(&direct));
    assert!(
        served < 240.0,
        "the centre shows the product, not the white background: mean {served}"
    );
    assert!(
        (through_gdal - served).abs() < 3.0,
        "{through_gdal} vs {served}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feature_info_lists_the_products_under_a_pixel() {
    let server = Server::start().await;
    let (lon, lat) = server.centre;
    let (w, h) = (0.2, 0.2);
    let base = "SERVICE=WMS&REQUEST=GetFeatureInfo&LAYERS=SAR&QUERY_LAYERS=SAR&STYLES=&WIDTH=101&HEIGHT=101";
    let v130 = format!(
        "{base}&VERSION=1.3.0&CRS=EPSG:4326&BBOX={},{},{},{}",
        lat - h,
        lon - w,
        lat + h,
        lon + w
    );
    let v111 = format!(
        "{base}&VERSION=1.1.1&SRS=EPSG:4326&BBOX={},{},{},{}",
        lon - w,
        lat - h,
        lon + w,
        lat + h
    );
    // The centre pixel holds the product; a corner of a box far away holds none.
    for query in [
        format!("{v130}&I=50&J=50&INFO_FORMAT=application/json"),
        format!("{v111}&X=50&Y=50&INFO_FORMAT=application/json"),
    ] {
        let (status, content_type, body) = server.get(&query).await;
        assert_eq!(
            (status, content_type.as_str()),
            (200, "application/json"),
            "{query}"
        );
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(json["type"], "FeatureCollection");
        assert_eq!(json["features"][0]["id"], "b_id_1", "{json}");
        assert_eq!(
            json["features"][0]["properties"]["begin_time"],
            "2010-07-22T21:38:40Z"
        );
        assert_eq!(json["features"][0]["geometry"]["type"], "MultiPolygon");
    }
    let (status, content_type, body) = server
        .get(&format!("{v130}&I=50&J=50&INFO_FORMAT=text/html"))
        .await;
    assert_eq!(
        (status, content_type.as_str()),
        (200, "text/html; charset=utf-8")
    );
    assert!(String::from_utf8(body).unwrap().contains("<td>b_id_1</td>"));
    let (_, _, body) = server
        .get(&format!(
            "{base}&VERSION=1.1.1&SRS=EPSG:4326&BBOX=100,0,101,1&X=1&Y=1&INFO_FORMAT=application/json"
        ))
        .await;
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(json["features"], serde_json::json!([]));
    // Another time: nothing.
    let (_, _, body) = server
        .get(&format!(
            "{v130}&I=50&J=50&INFO_FORMAT=application/json&TIME=2011-01-01"
        ))
        .await;
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(json["features"], serde_json::json!([]));

    // Errors.
    for (query, code, locator) in [
        (format!("{v130}&I=101&J=50"), "InvalidPoint", "i"),
        (format!("{v130}&J=50"), "MissingParameterValue", "i"),
        (
            format!("{v130}&I=1&J=1&INFO_FORMAT=text/xml"),
            "InvalidFormat",
            "info_format",
        ),
        (
            format!("{v130}&I=1&J=1").replace("QUERY_LAYERS=SAR", "QUERY_LAYERS=EMPTY"),
            "LayerNotQueryable",
            "query_layers",
        ),
        (
            format!("{v130}&I=1&J=1&FEATURE_COUNT=0"),
            "InvalidParameterValue",
            "feature_count",
        ),
    ] {
        let (status, _, body) = server.get(&query).await;
        let xml = String::from_utf8(body).unwrap();
        assert_eq!(status, 400, "{query}: {xml}");
        assert!(
            xml.contains(&format!("code=\"{code}\" locator=\"{locator}\"")),
            "{query}: {xml}"
        );
    }
}
