//! The WMS GetMap URL that search results (OpenSearch entries, STAC Item thumbnails) link to
//! for a picture of a layer over a box: one spelling of it for every service.

/// A WMS 1.3.0 GetMap of `layer` on the renderer's `ows` endpoint, over the longitude/latitude
/// box `[west, south, east, north]` (`CRS:84`), PNG with transparency, `long_side` pixels on
/// the box's long side and the other side by its aspect (at least 1), for `time` when given.
pub fn url(
    ows: &str,
    layer: &str,
    [west, south, east, north]: [f64; 4],
    long_side: usize,
    time: Option<&str>,
) -> String {
    let (dx, dy) = ((east - west).max(1e-9), (north - south).max(1e-9));
    let long_side = long_side as f64;
    let (width, height) = if dx >= dy {
        (long_side, (long_side * dy / dx).round().max(1.0))
    } else {
        ((long_side * dx / dy).round().max(1.0), long_side)
    };
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    query
        .append_pair("service", "WMS")
        .append_pair("version", "1.3.0")
        .append_pair("request", "GetMap")
        .append_pair("layers", layer)
        .append_pair("styles", "")
        .append_pair("crs", "CRS:84")
        .append_pair("bbox", &format!("{west},{south},{east},{north}"))
        .append_pair("width", &format!("{width}"))
        .append_pair("height", &format!("{height}"))
        .append_pair("format", "image/png")
        .append_pair("transparent", "true");
    if let Some(time) = time {
        query.append_pair("time", time);
    }
    format!("{ows}?{}", query.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_long_side_and_the_aspect() {
        assert_eq!(
            url("http://h/ows", "P 1", [0.0, 0.0, 2.0, 1.0], 300, None),
            "http://h/ows?service=WMS&version=1.3.0&request=GetMap&layers=P+1&styles=&crs=CRS%3A84&bbox=0%2C0%2C2%2C1&width=300&height=150&format=image%2Fpng&transparent=true"
        );
        let tall = url(
            "http://h/ows",
            "L",
            [0.0, 0.0, 0.001, 10.0],
            512,
            Some("a/b"),
        );
        assert!(tall.contains("&width=1&height=512&"), "{tall}");
        assert!(tall.ends_with("&time=a%2Fb"), "{tall}");
    }
}
