//! XYZ tiles for web maps: `/tiles/{layer}/{z}/{x}/{y}.{ext}` (WebMercatorQuad),
//! `/tiles/{layer}/{TileMatrixSet}/{z}/{x}/{y}.{ext}`, both with an optional `?time=`, and
//! TileJSON 3.0.0 at `/tiles/{layer}/tilejson.json` (`?time=`, `?format=png|jpg`).

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use pvs_access::Access;
use pvs_ogc::Params;
use pvs_ogc::layer::collection_of;
use pvs_tiles::{TileFormat, TileKey, TileMatrixSet};

use crate::capabilities::latitude_limit;
use crate::http::{App, OwsError, clip, serve_tile};
use crate::wmts::{self, percent_decode};

/// `GET /tiles/…`.
pub(crate) async fn tiles(
    State(app): State<Arc<App>>,
    access: Access,
    headers: HeaderMap,
    uri: Uri,
    RawQuery(query): RawQuery,
) -> Response {
    let query = query.unwrap_or_default();
    let path = uri.path();
    let length = OwsError::check_length("query string", query.len())
        .and_then(|()| OwsError::check_length("path", path.len()));
    if let Err(error) = length {
        return error.into_response();
    }
    let params = Params::parse(&query);
    let rest = path.strip_prefix("/tiles/").unwrap_or("");
    let result = match XyzRequest::parse(rest, &params, app.settings.max_zoom) {
        Ok(XyzRequest::TileJson {
            layer,
            time,
            format,
        }) => tile_json(&app, &access, &headers, &layer, time, format).await,
        Ok(XyzRequest::Tile(key)) => serve_tile(&app, &access, &key, &headers).await,
        Err(error) => Err(error),
    };
    result.unwrap_or_else(|error| {
        // An unknown layer or a tile outside the matrix is a resource that does not exist.
        let status = if error.code == "TileOutOfRange" || error.locator.as_deref() == Some("layer")
        {
            StatusCode::NOT_FOUND
        } else {
            error.status
        };
        error.with_status(status).into_response()
    })
}

/// What an XYZ path asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum XyzRequest {
    /// `{layer}/tilejson.json`.
    TileJson {
        /// The layer (a name that can name tiles; whether it exists is known later).
        layer: String,
        /// `?time=` as given (checked), repeated in the tile URL template.
        time: Option<String>,
        /// `?format=` (default PNG).
        format: TileFormat,
    },
    /// `{layer}/{z}/{x}/{y}.{ext}` or `{layer}/{TileMatrixSet}/{z}/{x}/{y}.{ext}`.
    Tile(TileKey),
}

impl XyzRequest {
    /// Reads a path after `/tiles/` (percent-encoded) and its query's `time` and `format`,
    /// tiles at most at zoom level `max_zoom`.
    pub fn parse(path: &str, params: &Params, max_zoom: u8) -> Result<Self, OwsError> {
        let segments = path
            .split('/')
            .map(percent_decode)
            .collect::<Result<Vec<_>, _>>()?;
        let time_value = params.get("time");
        let time = wmts::time(time_value.unwrap_or(""))?;
        let (layer, tms, z, x, last) = match segments.as_slice() {
            [layer, document] if document == "tilejson.json" => {
                let format = wmts::format(params.get("format").unwrap_or("png"))?;
                return Ok(Self::TileJson {
                    layer: wmts::layer(layer)?.to_owned(),
                    time: time_value.map(str::to_owned),
                    format,
                });
            }
            [layer, z, x, last] => (layer, TileMatrixSet::WebMercatorQuad, z, x, last),
            [layer, tms, z, x, last] => (layer, wmts::matrix_set(tms)?, z, x, last),
            _ => {
                return Err(OwsError::not_found(
                    "no such resource: /tiles/{layer}/tilejson.json, /tiles/{layer}/{z}/{x}/{y}.{png|jpg} \
                 or /tiles/{layer}/{TileMatrixSet}/{z}/{x}/{y}.{png|jpg}",
                ));
            }
        };
        let layer = wmts::layer(layer)?;
        let z = wmts::zoom(z, tms, max_zoom)?;
        let (y, ext) = last.rsplit_once('.').ok_or_else(|| {
            OwsError::invalid(
                "format",
                format!("{:?} has no extension: .png or .jpg", clip(last)),
            )
        })?;
        let format = wmts::format(ext)?;
        let x = wmts::index(x, "tileCol")?;
        let y = wmts::index(y, "tileRow")?;
        let tile = wmts::tile(tms, z, x, y)?;
        Ok(Self::Tile(wmts::key(layer, time, tms, tile, format)?))
    }
}

/// The TileJSON 3.0.0 document of a layer.
async fn tile_json(
    app: &App,
    access: &Access,
    headers: &HeaderMap,
    layer: &str,
    time: Option<String>,
    format: TileFormat,
) -> Result<Response, OwsError> {
    let collections = access
        .readable()
        .view(app.cache.catalog())
        .collections()
        .await
        .map_err(|e| OwsError::server(format!("the catalog: {e}")))?;
    let collection = collection_of(layer);
    let info = collections
        .iter()
        .find(|c| c.collection.name == collection)
        .ok_or_else(|| {
            OwsError::invalid(
                "layer",
                format!(
                    "layer {:?} is not known: a collection, or a collection's `__outlines`",
                    clip(layer)
                ),
            )
        })?;
    let limit = latitude_limit(TileMatrixSet::WebMercatorQuad);
    let [west, south, east, north] = match info.bbox {
        Some(b) if !b.crosses_antimeridian() => [
            b.west(),
            b.south().max(-limit),
            b.east(),
            b.north().min(limit),
        ],
        Some(b) => [-180.0, b.south().max(-limit), 180.0, b.north().min(limit)],
        None => [-180.0, -limit, 180.0, limit],
    };
    let max_zoom = app.settings.max_zoom;
    // The zoom where the layer's width spans about one tile.
    let span = (east - west).max(north - south).max(1e-9);
    let center_zoom = (360.0 / span)
        .log2()
        .floor()
        .clamp(0.0, f64::from(max_zoom)) as u8;
    let mut url = format!(
        "{}/tiles/{layer}/{{z}}/{{x}}/{{y}}.{}",
        app.settings.public_url.resolve(headers),
        format.ext()
    );
    if let Some(time) = &time {
        // Checked by `request`; written encoded so that `/` survives in the query.
        url.push_str("?time=");
        url.extend(url::form_urlencoded::byte_serialize(time.as_bytes()));
    }
    let document = serde_json::json!({
        "tilejson": "3.0.0",
        "name": layer,
        "scheme": "xyz",
        "tiles": [url],
        "minzoom": 0,
        "maxzoom": max_zoom,
        "bounds": [west, south, east, north],
        "center": [(west + east) / 2.0, (south + north) / 2.0, center_zoom],
    });
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        document.to_string(),
    )
        .into_response())
}
