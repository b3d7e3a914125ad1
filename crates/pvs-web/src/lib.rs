//! The pvs web client, embedded in the binary and served at `/`.
//!
//! The client (`web/` at the top of the repository) is a single page built from npm packages
//! (OpenLayers, a land basemap from `world-atlas`) by esbuild when this crate is built (see
//! `build.rs`), so nothing is fetched from a CDN at run time. It reads everything from the
//! server it came from, with relative URLs:
//! - `wmts/1.0.0/WMTSCapabilities.xml` and the RESTful tiles of the cache (the collection
//!   layers, their `__outlines` layers and the Time dimension);
//! - `opensearch/collections/{collection}/json` (product search in the map view and time range);
//! - `stac`, the landing page of the STAC API, when its search tab is opened, and from there
//!   only the URLs of links: collections (`data`), queryables, `search`, `next` pages, and an
//!   Item's `wms` web-map-link, shown on the map as a WMS GetMap (`web/src/stac.js`);
//! - `api/status` (queue lengths and status sets; the panel hides itself on 404).
//!
//! [`routes`] answers `GET /` (and `/index.html`), `/app.js` and `/app.css`, with an entity tag
//! per file and `Cache-Control: no-cache`, so browsers revalidate and get a 304 until pvs is
//! upgraded.

#![forbid(unsafe_code)]

use std::sync::OnceLock;

use axum::Router;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

/// One embedded file.
struct Asset {
    body: &'static [u8],
    content_type: &'static str,
    e_tag: OnceLock<HeaderValue>,
}

impl Asset {
    const fn new(body: &'static [u8], content_type: &'static str) -> Self {
        Self {
            body,
            content_type,
            e_tag: OnceLock::new(),
        }
    }

    /// A strong entity tag: FNV-1a of the content, computed once.
    fn e_tag(&self) -> &HeaderValue {
        self.e_tag.get_or_init(|| {
            let hash = self.body.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
                (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
            });
            HeaderValue::from_str(&format!("\"{hash:016x}\"")).expect("hex is a header value")
        })
    }

    fn respond(&self, request: &HeaderMap) -> Response {
        let e_tag = self.e_tag().clone();
        let matches = request
            .get_all(header::IF_NONE_MATCH)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|tag| {
                let tag = tag.trim();
                tag == "*" || tag.trim_start_matches("W/").as_bytes() == e_tag.as_bytes()
            });
        let headers = [
            (header::ETAG, e_tag),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
        ];
        if matches {
            return (StatusCode::NOT_MODIFIED, headers).into_response();
        }
        (
            headers,
            [(header::CONTENT_TYPE, self.content_type)],
            self.body,
        )
            .into_response()
    }
}

static INDEX: Asset = Asset::new(
    include_bytes!(concat!(env!("OUT_DIR"), "/web/index.html")),
    "text/html; charset=utf-8",
);
static SCRIPT: Asset = Asset::new(
    include_bytes!(concat!(env!("OUT_DIR"), "/web/app.js")),
    "text/javascript; charset=utf-8",
);
static STYLE: Asset = Asset::new(
    include_bytes!(concat!(env!("OUT_DIR"), "/web/app.css")),
    "text/css; charset=utf-8",
);

/// The client's routes: `GET /`, `/index.html`, `/app.js`, `/app.css`.
pub fn routes() -> Router {
    Router::new()
        .route("/", get(|h: HeaderMap| async move { INDEX.respond(&h) }))
        .route(
            "/index.html",
            get(|h: HeaderMap| async move { INDEX.respond(&h) }),
        )
        .route(
            "/app.js",
            get(|h: HeaderMap| async move { SCRIPT.respond(&h) }),
        )
        .route(
            "/app.css",
            get(|h: HeaderMap| async move { STYLE.respond(&h) }),
        )
}
