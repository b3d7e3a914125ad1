//! Tiled WMS on the cache's `/ows`: a `GetMap` that is exactly one tile of a matrix set
//! (256 × 256, EPSG:3857 or EPSG:4326/CRS:84, one layer, PNG or JPEG, a box equal to a
//! tile's) is served from the cache; every other request is passed to the renderer
//! unchanged. `SERVICE=WMTS` requests are WMTS.

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use pvs_access::Access;
use pvs_ogc::Params;
use pvs_ogc::crs::Crs;
use pvs_ogc::layer::{check_layer_name, collection_of};
use pvs_ogc::limits::MAX_TILE_REQUEST_BYTES;
use pvs_tiles::tms::TILE_SIZE;
use pvs_tiles::{Tile, TileFormat, TileKey, TileMatrixSet, TileTime};

use crate::http::{App, OwsError, tile_response};
use crate::source::Caller;
use crate::wmts;

/// The parameters a tiled `GetMap` may have; any other one sends it to the renderer.
const TILE_PARAMS: [&str; 14] = [
    "service",
    "version",
    "request",
    "layers",
    "styles",
    "crs",
    "srs",
    "bbox",
    "width",
    "height",
    "format",
    "transparent",
    "time",
    "exceptions",
];

/// How far a box edge may be from a tile edge, relative to the tile's side.
const TOLERANCE: f64 = 1e-6;

/// `GET /ows?…`.
pub(crate) async fn ows(
    State(app): State<Arc<App>>,
    access: Access,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let query = query.unwrap_or_default();
    let params = Params::parse(&query);
    if params
        .get("service")
        .is_some_and(|s| s.eq_ignore_ascii_case("WMTS"))
    {
        if let Err(error) = OwsError::check_length("query string", query.len()) {
            return error.into_response();
        }
        return wmts::dispatch(&app, &access, &headers, &params).await;
    }
    // Longer than any tile request: the renderer's limits and error reports apply, as on
    // the renderer's own /ows.
    if query.len() > MAX_TILE_REQUEST_BYTES {
        return passthrough(&app, &access, &headers, &query).await;
    }
    // A tile of a collection the request may not read is the renderer's to refuse (as an
    // unknown layer): never looked for in the cache.
    if let Some(key) = tile_of_get_map(&params, app.settings.max_zoom)
        .filter(|key| access.can_read(collection_of(key.layer())))
    {
        match app.cache.find(&key).await {
            Ok(tile) => return tile_response(&app, &access, &key, tile, &headers),
            // The renderer says what is wrong (an unknown layer), or fails the same way.
            Err(error) => {
                tracing::debug!(%error, "tiled GetMap passed to the renderer");
            }
        }
    }
    passthrough(&app, &access, &headers, &query).await
}

/// The renderer's answer to `/ows?{query}`: status, content type and body as they are; its
/// documents name the cache's public base URL. The renderer answers as the request may see
/// it: in this process through the request's readable collections, a renderer service
/// given the request's `Authorization`.
async fn passthrough(app: &App, access: &Access, headers: &HeaderMap, query: &str) -> Response {
    let base = app.settings.public_url.resolve(headers);
    let caller = Caller {
        readable: access.readable(),
        authorization: headers.get(header::AUTHORIZATION),
    };
    match app.cache.renderer().ows(&base, query, &caller).await {
        Ok(answer) => {
            let mut response = (answer.status, answer.body).into_response();
            if let Some(value) = answer
                .content_type
                .and_then(|t| axum::http::HeaderValue::from_str(&t).ok())
            {
                response.headers_mut().insert(header::CONTENT_TYPE, value);
            }
            response
        }
        Err(error) => {
            tracing::error!(%error, "the renderer did not answer");
            OwsError::server(format!("the renderer did not answer: {error}"))
                .with_status(axum::http::StatusCode::BAD_GATEWAY)
                .into_response()
        }
    }
}

/// The tile a WMS `GetMap` is exactly, if it is one (see the module's documentation).
pub fn tile_of_get_map(params: &Params, max_zoom: u8) -> Option<TileKey> {
    let is = |key: &str, value: &str| {
        params
            .get(key)
            .is_some_and(|v| v.eq_ignore_ascii_case(value))
    };
    let known = |key: &str| TILE_PARAMS.iter().any(|k| k.eq_ignore_ascii_case(key));
    if !is("request", "GetMap") || !params.keys().all(known) {
        return None;
    }
    let version = params.get("version")?;
    let crs = match version {
        "1.3.0" => params.get("crs")?,
        "1.1.1" => params.get("srs")?,
        _ => return None,
    };
    let size = TILE_SIZE.to_string();
    if params.get("width")? != size || params.get("height")? != size {
        return None;
    }
    let layer = params.get("layers")?;
    check_layer_name(layer).ok()?;
    if !matches!(params.get("styles"), None | Some("default")) {
        return None;
    }
    let format = TileFormat::parse(params.get("format")?)?;
    // Tiles are transparent PNGs; an opaque PNG is the renderer's.
    if format == TileFormat::Png && !is("transparent", "TRUE") {
        return None;
    }
    let crs = Crs::parse(crs).ok()?;
    let (tms, swap) = match (crs.epsg, crs.lon_lat) {
        (3857, _) => (TileMatrixSet::WebMercatorQuad, false),
        (4326, true) => (TileMatrixSet::WorldCRS84Quad, false),
        // WMS 1.3.0 takes EPSG:4326 boxes as latitude, longitude.
        (4326, false) => (TileMatrixSet::WorldCRS84Quad, version == "1.3.0"),
        _ => return None,
    };
    let numbers: Vec<f64> = params
        .get("bbox")?
        .split(',')
        .map(|n| n.trim().parse::<f64>().ok().filter(|v| v.is_finite()))
        .collect::<Option<_>>()?;
    let [a, b, c, d] = <[f64; 4]>::try_from(numbers).ok()?;
    let bbox = if swap { [b, a, d, c] } else { [a, b, c, d] };
    let tile = tile_of_box(tms, bbox, max_zoom)?;
    let time = match params.get("time") {
        None => TileTime::Default,
        Some(value) => TileTime::parse(value).ok()?,
    };
    TileKey::new(layer, time, tms, tile, format).ok()
}

/// The tile of `tms` whose bounds are `bbox` (within [`TOLERANCE`] of its side).
pub fn tile_of_box(tms: TileMatrixSet, bbox: [f64; 4], max_zoom: u8) -> Option<Tile> {
    let [x0, _, _, y1] = tms.extent();
    let width = bbox[2] - bbox[0];
    let height = bbox[3] - bbox[1];
    let z = (0..=max_zoom).find(|&z| {
        let side = tms.resolution(z) * f64::from(TILE_SIZE);
        (width - side).abs() <= side * TOLERANCE && (height - side).abs() <= side * TOLERANCE
    })?;
    let side = tms.resolution(z) * f64::from(TILE_SIZE);
    let column = (bbox[0] - x0) / side;
    let row = (y1 - bbox[3]) / side;
    let aligned = |v: f64| (v - v.round()).abs() <= TOLERANCE && v.round() >= 0.0;
    if !aligned(column) || !aligned(row) {
        return None;
    }
    let tile = Tile {
        z,
        x: column.round() as u32,
        y: row.round() as u32,
    };
    tms.check(tile).ok().map(|()| tile)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligned_boxes_are_tiles() {
        let tms = TileMatrixSet::WebMercatorQuad;
        for tile in [
            Tile { z: 0, x: 0, y: 0 },
            Tile { z: 5, x: 17, y: 9 },
            Tile {
                z: 18,
                x: 262_143,
                y: 1,
            },
        ] {
            assert_eq!(tile_of_box(tms, tms.bounds(tile), 18), Some(tile));
        }
        let [w, s, e, n] = tms.bounds(Tile { z: 5, x: 17, y: 9 });
        let side = e - w;
        // Off by a thousandth of the tile, or half a tile: not a tile.
        assert_eq!(
            tile_of_box(tms, [w + side * 1e-3, s, e + side * 1e-3, n], 18),
            None
        );
        assert_eq!(
            tile_of_box(tms, [w + side / 2.0, s, e + side / 2.0, n], 18),
            None
        );
        // Deeper than served.
        assert_eq!(
            tile_of_box(tms, tms.bounds(Tile { z: 19, x: 0, y: 0 }), 18),
            None
        );
        // Beyond the matrix.
        assert_eq!(
            tile_of_box(
                tms,
                [e + 3.0 * side * 32.0, s, e + 4.0 * side * 32.0, n],
                18
            ),
            None
        );
    }

    #[test]
    fn get_map_parameters() {
        let key = |query: &str| tile_of_get_map(&Params::parse(query), 18);
        let base = "SERVICE=WMS&REQUEST=GetMap&LAYERS=SAR&STYLES=&WIDTH=256&HEIGHT=256&FORMAT=image/png&TRANSPARENT=TRUE";
        // WorldCRS84Quad z1 (3, 1): 90..180°E, 90°S..0.
        let key_130 = key(&format!(
            "{base}&VERSION=1.3.0&CRS=EPSG:4326&BBOX=-90,90,0,180"
        ))
        .unwrap();
        assert_eq!(key_130.tile, Tile { z: 1, x: 3, y: 1 });
        assert_eq!(key_130.tms, TileMatrixSet::WorldCRS84Quad);
        let key_111 = key(&format!(
            "{base}&VERSION=1.1.1&SRS=EPSG:4326&BBOX=90,-90,180,0"
        ))
        .unwrap();
        assert_eq!(key_111, key_130);
        assert!(
            key(&format!(
                "{base}&VERSION=1.3.0&CRS=CRS:84&BBOX=90,-90,180,0&TIME=2018"
            ))
            .is_some()
        );
        for other in [
            "&VERSION=1.3.0&CRS=EPSG:4326&BBOX=90,-90,180,0",
            "&VERSION=1.3.0&CRS=EPSG:3035&BBOX=90,-90,180,0",
            "&VERSION=1.3.0&CRS=CRS:84&BBOX=90,-90,180,0&TIME=yesterday",
            "&VERSION=1.3.0&CRS=CRS:84&BBOX=90,-90,180,0&CQL=x",
            "&VERSION=1.3.0&CRS=CRS:84&BBOX=90,-90,180",
            "&VERSION=1.3.0&CRS=CRS:84&BBOX=90,-90,180,NaN",
            "&VERSION=1.1.0&SRS=CRS:84&BBOX=90,-90,180,0",
        ] {
            assert!(key(&format!("{base}{other}")).is_none(), "{other}");
        }
        let opaque = base.replace("TRANSPARENT=TRUE", "TRANSPARENT=FALSE");
        assert!(
            key(&format!(
                "{opaque}&VERSION=1.3.0&CRS=CRS:84&BBOX=90,-90,180,0"
            ))
            .is_none()
        );
        let two = base.replace("LAYERS=SAR", "LAYERS=SAR,OTHER");
        assert!(key(&format!("{two}&VERSION=1.3.0&CRS=CRS:84&BBOX=90,-90,180,0")).is_none());
        // Parameters are read as the renderer reads them (`pvs_ogc::Params`, `pvs_ogc::crs`):
        // trimmed, an empty value absent, any CRS form; an unknown key, even empty, is not
        // a tile's.
        let crs84 = "&VERSION=1.3.0&CRS=CRS:84&BBOX=90,-90,180,0";
        assert_eq!(
            key(&format!("{base}{crs84}&TIME=")),
            key(&format!("{base}{crs84}"))
        );
        assert_eq!(
            key(&format!(
                "{base}&VERSION=1.3.0&CRS=urn:ogc:def:crs:EPSG::4326&BBOX=-90,90,0,180"
            )),
            Some(key_130.clone())
        );
        let spaced = base.replace("LAYERS=SAR", "LAYERS=%20SAR%20");
        assert_eq!(
            key(&format!("{spaced}{crs84}")),
            key(&format!("{base}{crs84}"))
        );
        assert!(key(&format!("{base}{crs84}&CQL=")).is_none());
        let big = base.replace("WIDTH=256", "WIDTH=512");
        assert!(key(&format!("{big}&VERSION=1.3.0&CRS=CRS:84&BBOX=90,-90,180,0")).is_none());
    }
}
