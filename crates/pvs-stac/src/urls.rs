//! Every URL an answer carries, from the request's public base (`pvs_service::public_url`):
//! the STAC resources under `/stac`, the renderer's WMS on `/ows`, and the tile cache's WMTS
//! and XYZ where the cache is reachable ([`TilesUrl`]).

use std::str::FromStr;

use chrono::{DateTime, SecondsFormat, Utc};
use geo::Rect;
use pvs_service::public_url::BaseUrl;

/// Where clients reach the tile cache (WMTS on `/wmts`, XYZ on `/tiles`), for the WMTS and
/// XYZ links of Items and Collections.
///
/// Read from `CACHE_PUBLIC_URL`: an absolute `http(s)` URL (`https://tiles.example.org/pvs`),
/// or a path starting with `/` taken under the STAC service's own public URL (`/`: the same
/// origin and prefix, as behind the compose proxy and in `pvs up`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TilesUrl {
    /// Under the public URL of the request: this path prefix (empty or `/a/b`).
    Relative(String),
    /// At this base URL.
    Absolute(BaseUrl),
}

impl TilesUrl {
    /// The same origin and prefix as the STAC answers (`pvs up`, the compose proxy).
    pub fn same_origin() -> Self {
        Self::Relative(String::new())
    }
}

impl FromStr for TilesUrl {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if let Some(path) = text.strip_prefix('/') {
            let valid = path.bytes().all(|b| {
                b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/')
            });
            if !valid || path.split('/').any(|segment| segment == "..") {
                return Err(
                    "a path may hold only letters, digits, '-', '.', '_', '~' and '/'".to_owned(),
                );
            }
            let path = path.trim_matches('/');
            return Ok(Self::Relative(if path.is_empty() {
                String::new()
            } else {
                format!("/{path}")
            }));
        }
        text.parse::<BaseUrl>()
            .map(Self::Absolute)
            .map_err(|error| format!("an http(s) URL or a path starting with /: {error}"))
    }
}

/// The URLs of one answer.
pub struct Urls {
    /// The public base of the request (no trailing slash).
    base: BaseUrl,
    /// The cache's base URL, when its links are written.
    tiles: Option<String>,
    /// The renderer's largest `WIDTH`/`HEIGHT`.
    pub wms_max_size: usize,
}

impl Urls {
    /// The URLs of a request whose public base is `base`.
    pub fn new(base: BaseUrl, tiles: Option<&TilesUrl>, wms_max_size: usize) -> Self {
        let tiles = tiles.map(|tiles| match tiles {
            TilesUrl::Relative(path) => base
                .join(if path.is_empty() { "/" } else { path })
                .trim_end_matches('/')
                .to_owned(),
            TilesUrl::Absolute(url) => url.as_string(),
        });
        Self {
            base,
            tiles,
            wms_max_size,
        }
    }

    /// A STAC resource: `{base}/stac{path}` (`path` empty or starting with `/`).
    pub fn stac(&self, path: &str) -> String {
        self.base.join(&format!("/stac{path}"))
    }

    /// The landing page.
    pub fn root(&self) -> String {
        self.stac("")
    }

    /// A collection.
    pub fn collection(&self, collection: &str) -> String {
        self.stac(&format!("/collections/{}", segment(collection)))
    }

    /// A collection's items.
    pub fn items(&self, collection: &str) -> String {
        format!("{}/items", self.collection(collection))
    }

    /// One item.
    pub fn item(&self, collection: &str, id: &str) -> String {
        format!("{}/{}", self.items(collection), segment(id))
    }

    /// One of an item's assets served by pvs (`data`, `metadata`).
    pub fn asset(&self, collection: &str, id: &str, asset: &str) -> String {
        format!("{}/{asset}", self.item(collection, id))
    }

    /// The renderer's WMS endpoint.
    pub fn ows(&self) -> String {
        self.base.join("/ows")
    }

    /// The cache's base URL, if its links are written.
    pub fn tiles(&self) -> Option<&str> {
        self.tiles.as_deref()
    }

    /// A WMS 1.3.0 GetMap of `layer` over `rect` (CRS:84), PNG with transparency, at most
    /// `side` pixels on its long side (and no more than the renderer draws).
    pub fn get_map(&self, layer: &str, rect: Rect<f64>, side: usize) -> String {
        pvs_ogc::getmap::url(
            &self.ows(),
            layer,
            [rect.min().x, rect.min().y, rect.max().x, rect.max().y],
            side.min(self.wms_max_size),
            None,
        )
    }
}

/// The cache's `TIME` of an interval: both ends to the second in UTC (the cache reads no
/// fractions; an end written to the second covers that whole second).
pub fn tile_time(begin: DateTime<Utc>, end: DateTime<Utc>) -> String {
    let second = |time: DateTime<Utc>| time.to_rfc3339_opts(SecondsFormat::Secs, true);
    format!("{}/{}", second(begin), second(end))
}

/// `text` as one path segment: everything but `A-Z a-z 0-9 - . _ ~` percent-encoded.
pub fn segment(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            encoded.push(byte as char);
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiles_urls() {
        assert_eq!("/".parse::<TilesUrl>().unwrap(), TilesUrl::same_origin());
        assert_eq!(
            "/cache/".parse::<TilesUrl>().unwrap(),
            TilesUrl::Relative("/cache".to_owned())
        );
        assert!("/a/../b".parse::<TilesUrl>().is_err());
        assert!("/a?b".parse::<TilesUrl>().is_err());
        assert!("ftp://x".parse::<TilesUrl>().is_err());
        let base: BaseUrl = "https://vs.example.org/pvs".parse().unwrap();
        let same = Urls::new(base.clone(), Some(&TilesUrl::same_origin()), 4096);
        assert_eq!(same.tiles(), Some("https://vs.example.org/pvs"));
        let under = Urls::new(base.clone(), Some(&"/cache".parse().unwrap()), 4096);
        assert_eq!(under.tiles(), Some("https://vs.example.org/pvs/cache"));
        let elsewhere = Urls::new(
            base.clone(),
            Some(&"https://tiles.example.org/".parse().unwrap()),
            4096,
        );
        assert_eq!(elsewhere.tiles(), Some("https://tiles.example.org"));
        assert_eq!(Urls::new(base, None, 4096).tiles(), None);
    }

    #[test]
    fn paths_are_encoded() {
        let urls = Urls::new("http://h:1".parse().unwrap(), None, 4096);
        assert_eq!(
            urls.asset("C", "a b/ü", "data"),
            "http://h:1/stac/collections/C/items/a%20b%2F%C3%BC/data"
        );
        assert_eq!(urls.root(), "http://h:1/stac");
    }

    #[test]
    fn get_map_keeps_the_aspect_and_the_limit() {
        let urls = Urls::new("http://h".parse().unwrap(), None, 300);
        let rect = Rect::new((0.0, 0.0), (2.0, 1.0));
        let url = urls.get_map("P 1", rect, 512);
        assert!(
            url.starts_with("http://h/ows?service=WMS&version=1.3.0&request=GetMap&layers=P+1&"),
            "{url}"
        );
        assert!(
            url.contains("&bbox=0%2C0%2C2%2C1&width=300&height=150&"),
            "{url}"
        );
    }
}
