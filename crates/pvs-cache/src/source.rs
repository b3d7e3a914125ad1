//! Where tiles are drawn: the renderer library in this process, or a renderer service over
//! HTTP (`RENDERER_URL`). Both are asked the same WMS 1.3.0 `GetMap`.

use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use bytes::Bytes;
use pvs_service::public_url::BaseUrl;
use pvs_tiles::{TileFormat, TileKey, TileMatrixSet};
use url::Url;

/// How long a renderer service may take for one map.
const HTTP_TIMEOUT: Duration = Duration::from_secs(120);

/// The renderer that draws tiles (and answers the WMS requests the cache passes on).
#[derive(Clone)]
pub enum TileRenderer {
    /// The renderer library, in this process.
    InProcess(Arc<pvs_renderer::Renderer>),
    /// A renderer service: its base URL (requests go to `{url}/ows`).
    Http {
        /// The HTTP client (shared connection pool).
        client: reqwest::Client,
        /// The service's `/ows` URL.
        ows: Url,
    },
}

/// A renderer's answer to an `/ows` request.
#[derive(Debug, Clone)]
pub struct OwsResponse {
    /// The HTTP status.
    pub status: StatusCode,
    /// The `Content-Type`, if any.
    pub content_type: Option<String>,
    /// The body.
    pub body: Bytes,
}

impl TileRenderer {
    /// A renderer service at `base` (e.g. `http://renderer:8082`).
    pub fn http(base: &Url) -> Result<Self, String> {
        let ows = base
            .join("ows")
            .map_err(|e| format!("renderer URL {base}: {e}"))?;
        let client = reqwest::Client::builder()
            .timeout(HTTP_TIMEOUT)
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(Self::Http { client, ows })
    }

    /// Answers `/ows?{query}`, from the renderer library or the service; documents name
    /// `base` (sent to a service as `X-Forwarded-*` headers).
    pub async fn ows(&self, base: &BaseUrl, query: &str) -> Result<OwsResponse, String> {
        match self {
            Self::InProcess(renderer) => {
                let response = renderer.ows(base, query).await;
                let status = response.status();
                let content_type = response
                    .headers()
                    .get(axum::http::header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                let body = axum::body::to_bytes(response.into_body(), usize::MAX)
                    .await
                    .map_err(|e| format!("reading the rendered map: {e}"))?;
                Ok(OwsResponse {
                    status,
                    content_type,
                    body,
                })
            }
            Self::Http { client, ows } => {
                let mut url = ows.clone();
                url.set_query(Some(query));
                let mut request = client.get(url);
                for (name, value) in base.forwarded_headers() {
                    request = request.header(name.as_str(), value.as_bytes());
                }
                let response = request
                    .send()
                    .await
                    .map_err(|e| format!("the renderer service at {ows}: {e}"))?;
                let status = StatusCode::from_u16(response.status().as_u16())
                    .unwrap_or(StatusCode::BAD_GATEWAY);
                let content_type = response
                    .headers()
                    .get(reqwest::header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                let body = response
                    .bytes()
                    .await
                    .map_err(|e| format!("reading the map from the renderer at {ows}: {e}"))?;
                Ok(OwsResponse {
                    status,
                    content_type,
                    body,
                })
            }
        }
    }

    /// Draws the tile at `key`: a `GetMap` of the tile's box, 256 × 256.
    pub async fn tile(&self, key: &TileKey) -> Result<Bytes, String> {
        let query = tile_query(key);
        // A map names no URL: any base does.
        let response = self.ows(&BaseUrl::localhost(), &query).await?;
        let is_image = response
            .content_type
            .as_deref()
            .is_some_and(|t| t.starts_with("image/"));
        if response.status != StatusCode::OK || !is_image {
            let text = String::from_utf8_lossy(&response.body[..response.body.len().min(500)])
                .into_owned();
            return Err(format!(
                "the renderer answered {} ({}) to {query}: {text}",
                response.status,
                response
                    .content_type
                    .as_deref()
                    .unwrap_or("no content type")
            ));
        }
        Ok(response.body)
    }
}

/// The WMS 1.3.0 `GetMap` query of a tile (`CRS:84`, whose axes are longitude, latitude,
/// for WorldCRS84Quad).
pub fn tile_query(key: &TileKey) -> String {
    let [x0, y0, x1, y1] = key.tms.bounds(key.tile);
    let crs = match key.tms {
        TileMatrixSet::WebMercatorQuad => "EPSG:3857",
        TileMatrixSet::WorldCRS84Quad => "CRS:84",
    };
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    query
        .append_pair("SERVICE", "WMS")
        .append_pair("VERSION", "1.3.0")
        .append_pair("REQUEST", "GetMap")
        .append_pair("LAYERS", key.layer())
        .append_pair("STYLES", "")
        .append_pair("CRS", crs)
        .append_pair("BBOX", &format!("{x0},{y0},{x1},{y1}"))
        .append_pair("WIDTH", &pvs_tiles::tms::TILE_SIZE.to_string())
        .append_pair("HEIGHT", &pvs_tiles::tms::TILE_SIZE.to_string())
        .append_pair("FORMAT", key.format.mime())
        .append_pair(
            "TRANSPARENT",
            if key.format == TileFormat::Png {
                "TRUE"
            } else {
                "FALSE"
            },
        );
    if let Some(time) = key.time.wms_value() {
        query.append_pair("TIME", &time);
    }
    query.finish()
}
