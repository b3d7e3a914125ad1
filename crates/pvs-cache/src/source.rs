//! Where tiles are drawn: the renderer library in this process, called with a typed map
//! request ([`pvs_renderer::Renderer::draw`]), or a renderer service over HTTP
//! (`RENDERER_URL`), asked a WMS 1.3.0 `GetMap` of the tile.

use std::sync::Arc;
use std::time::Duration;

use axum::http::{HeaderValue, StatusCode, header};
use bytes::Bytes;
use pvs_access::Readable;
use pvs_access::http::ReadView;
use pvs_raster::render::{Format, View, encode};
use pvs_renderer::{MapLayer, MapRequest, RenderError};
use pvs_service::public_url::BaseUrl;
use pvs_tiles::{TileFormat, TileKey, TileMatrixSet};

use crate::cache::CacheError;
use url::Url;

/// How long a renderer service may take for one map.
const HTTP_TIMEOUT: Duration = Duration::from_secs(120);

/// How long a connection to the renderer service stays open unused: well under the
/// renderer's `HTTP_HEADER_TIMEOUT` (60 s by default), after which it closes idle
/// connections, so that a request is not sent on a connection the renderer is closing.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(20);

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
        /// The `Authorization` header value sent with the tiles the cache draws (the
        /// renderer's access policy must let it read every collection), if any.
        authorization: Option<HeaderValue>,
    },
}

/// Who asks the renderer: what the request may read (for the renderer in this process)
/// and its `Authorization` header (passed on to a renderer service, which applies the same
/// policy).
#[derive(Debug, Clone, Default)]
pub struct Caller<'a> {
    /// The collections the request may read.
    pub readable: Readable,
    /// Its `Authorization` header.
    pub authorization: Option<&'a HeaderValue>,
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
    ///
    /// The tiles it draws are asked with `Authorization: Bearer <token>` when `token` is
    /// given (`RENDERER_TOKEN`).
    pub fn http(base: &Url, token: Option<&str>) -> Result<Self, String> {
        let ows = base
            .join("ows")
            .map_err(|e| format!("renderer URL {base}: {e}"))?;
        let client = reqwest::Client::builder()
            .timeout(HTTP_TIMEOUT)
            .pool_idle_timeout(POOL_IDLE_TIMEOUT)
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        let authorization = token
            .map(|token| {
                let mut value = HeaderValue::from_str(&format!("Bearer {token}"))
                    .map_err(|_| "the renderer token is no valid header value".to_owned())?;
                value.set_sensitive(true);
                Ok::<_, String>(value)
            })
            .transpose()?;
        Ok(Self::Http {
            client,
            ows,
            authorization,
        })
    }

    /// Answers `/ows?{query}` as `caller` may see it, from the renderer library or the
    /// service; documents name `base` (sent to a service as `X-Forwarded-*` headers).
    pub async fn ows(
        &self,
        base: &BaseUrl,
        query: &str,
        caller: &Caller<'_>,
    ) -> Result<OwsResponse, String> {
        match self {
            Self::InProcess(renderer) => {
                let response = match &caller.readable {
                    Readable::All => renderer.ows(base, query).await,
                    readable => renderer.for_reader(readable).ows(base, query).await,
                };
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
            Self::Http { client, ows, .. } => {
                let mut url = ows.clone();
                url.set_query(Some(query));
                let mut request = client.get(url);
                if let Some(authorization) = caller.authorization {
                    request = request.header(header::AUTHORIZATION, authorization.clone());
                }
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

    /// Draws the tile at `key`, encoded; `None` when it shows no product (it is stored
    /// empty and served blank). In process, the typed [`pvs_renderer::Renderer::draw`]
    /// says so; a renderer service is asked a WMS `GetMap` of the tile's box and the
    /// catalog is asked first whether there is anything to draw (`has_data`).
    pub async fn tile(
        &self,
        key: &TileKey,
        has_data: impl AsyncFnOnce() -> Result<bool, CacheError>,
    ) -> Result<Option<Bytes>, CacheError> {
        match self {
            Self::InProcess(renderer) => draw_in_process(renderer, key).await,
            Self::Http {
                ows, authorization, ..
            } => {
                if !has_data().await? {
                    return Ok(None);
                }
                let query = tile_query(key);
                let caller = Caller {
                    readable: Readable::All,
                    authorization: authorization.as_ref(),
                };
                let response = self
                    .ows(&BaseUrl::localhost(), &query, &caller)
                    .await
                    .map_err(|reason| DrawError::Service {
                        url: ows.to_string(),
                        reason,
                    })?;
                let is_image = response
                    .content_type
                    .as_deref()
                    .is_some_and(|t| t.starts_with("image/"));
                if response.status != StatusCode::OK || !is_image {
                    let text =
                        String::from_utf8_lossy(&response.body[..response.body.len().min(500)])
                            .into_owned();
                    return Err(DrawError::Refused {
                        status: response.status,
                        content_type: response.content_type.unwrap_or_default(),
                        query,
                        text,
                    }
                    .into());
                }
                Ok(Some(response.body))
            }
        }
    }
}

/// Why a tile could not be drawn.
#[derive(Debug, thiserror::Error)]
pub enum DrawError {
    /// The renderer in this process failed.
    #[error(transparent)]
    Render(#[from] RenderError),
    /// Encoding the drawn tile failed.
    #[error("encoding the tile: {0}")]
    Encode(#[source] pvs_raster::RasterError),
    /// The encoding thread stopped (a panic).
    #[error("encoding stopped: {0}")]
    Stopped(#[source] tokio::task::JoinError),
    /// The renderer service could not be reached or read.
    #[error("{reason}")]
    Service {
        /// Its `/ows` URL.
        url: String,
        /// What failed.
        reason: String,
    },
    /// The renderer service answered something other than an image.
    #[error("the renderer answered {status} ({content_type}) to {query}: {text}")]
    Refused {
        /// Its status.
        status: StatusCode,
        /// Its content type.
        content_type: String,
        /// The query it was asked.
        query: String,
        /// The start of its answer.
        text: String,
    },
}

/// Draws the tile at `key` with the renderer in this process, and encodes it (on a blocking
/// thread: encoders are CPU work).
async fn draw_in_process(
    renderer: &pvs_renderer::Renderer,
    key: &TileKey,
) -> Result<Option<Bytes>, CacheError> {
    let size = pvs_tiles::tms::TILE_SIZE as usize;
    let request = MapRequest::new(
        MapLayer::of_cache_layer(key.layer()),
        View {
            epsg: key.tms.epsg(),
            bbox: key.tms.bounds(key.tile),
            width: size,
            height: size,
        },
        key.time.closed(),
    );
    let image = match renderer.draw(&request).await {
        Ok(Some(image)) => image,
        Ok(None) => return Ok(None),
        Err(RenderError::UnknownLayer(layer)) => return Err(CacheError::UnknownLayer(layer)),
        Err(error) => return Err(DrawError::from(error).into()),
    };
    let format = key.format;
    let encoded = tokio::task::spawn_blocking(move || {
        let mut image = image;
        let white = [255, 255, 255];
        let format = match format {
            TileFormat::Png => Format::Png,
            TileFormat::Jpeg => {
                // JPEG tiles are opaque, on white.
                image.flatten(white);
                Format::Jpeg
            }
        };
        encode(&image, format, white).map_err(DrawError::Encode)
    })
    .await
    .map_err(DrawError::Stopped)?;
    Ok(Some(Bytes::from(encoded?)))
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
