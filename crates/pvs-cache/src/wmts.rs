//! WMTS 1.0.0 requests: KVP (`/wmts?SERVICE=WMTS&REQUEST=GetTile&…`, read as
//! [`pvs_ogc::Params`] reads every KVP request) and
//! RESTful (`/wmts/1.0.0/{layer}/{style}/{time}/{TileMatrixSet}/{z}/{row}/{col}.{ext}`,
//! `/wmts/1.0.0/WMTSCapabilities.xml`).

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use pvs_access::Access;
use pvs_ogc::Params;
use pvs_ogc::layer::check_layer_name;
use pvs_tiles::{Tile, TileFormat, TileKey, TileMatrixSet, TileTime};

use crate::http::{App, BuiltDocument, OwsError, clip, serve_tile};

/// `GET /wmts?…` (and `/ows?SERVICE=WMTS&…`).
pub(crate) async fn kvp(
    State(app): State<Arc<App>>,
    access: Access,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let query = query.unwrap_or_default();
    if let Err(error) = OwsError::check_length("query string", query.len()) {
        return error.into_response();
    }
    dispatch(&app, &access, &headers, &Params::parse(&query)).await
}

/// Answers a KVP WMTS request.
pub(crate) async fn dispatch(
    app: &App,
    access: &Access,
    headers: &HeaderMap,
    params: &Params,
) -> Response {
    match answer(app, access, headers, params).await {
        Ok(response) => response,
        Err(error) => error.into_response(),
    }
}

async fn answer(
    app: &App,
    access: &Access,
    headers: &HeaderMap,
    params: &Params,
) -> Result<Response, OwsError> {
    if let Some(service) = params.get("service")
        && !service.eq_ignore_ascii_case("WMTS")
    {
        return Err(OwsError::invalid(
            "service",
            format!("SERVICE is {:?}; this endpoint serves WMTS", clip(service)),
        ));
    }
    let request = params.require("request")?;
    if request.eq_ignore_ascii_case("GetCapabilities") {
        capabilities(app, access, headers).await
    } else if request.eq_ignore_ascii_case("GetTile") {
        let key = tile_key(params, app.settings.max_zoom)?;
        serve_tile(app, access, &key, headers).await
    } else {
        Err(OwsError::not_supported(request))
    }
}

/// The tile a KVP `GetTile` asks for, at most at zoom level `max_zoom`
/// ([`crate::Settings::max_zoom`]); whether its layer exists is known when it is looked
/// for.
pub fn tile_key(params: &Params, max_zoom: u8) -> Result<TileKey, OwsError> {
    if let Some(version) = params.get("version")
        && version != "1.0.0"
    {
        return Err(OwsError::invalid(
            "version",
            format!("VERSION {:?} is not served: 1.0.0", clip(version)),
        ));
    }
    let layer = layer(params.require("layer")?)?;
    style(params.get("style").unwrap_or(""))?;
    let format = format(params.require("format")?)?;
    let tms = matrix_set(params.require("tileMatrixSet")?)?;
    let z = zoom(params.require("tileMatrix")?, tms, max_zoom)?;
    let row = index(params.require("tileRow")?, "tileRow")?;
    let col = index(params.require("tileCol")?, "tileCol")?;
    let tile = tile(tms, z, col, row)?;
    let time = time(params.get("time").unwrap_or(""))?;
    key(layer, time, tms, tile, format)
}

/// A layer name that can name tiles (whether it exists is known when the tile is looked
/// for).
pub(crate) fn layer(value: &str) -> Result<&str, OwsError> {
    check_layer_name(value)
        .map(|()| value)
        .map_err(|e| OwsError::invalid("layer", e.to_string()))
}

/// The style: empty or `default`, the only one.
pub(crate) fn style(value: &str) -> Result<(), OwsError> {
    if value.is_empty() || value.eq_ignore_ascii_case("default") {
        Ok(())
    } else {
        Err(OwsError::invalid(
            "style",
            format!("style {:?} is not known: `default`", clip(value)),
        ))
    }
}

/// An image format: a MIME type or an extension.
pub(crate) fn format(value: &str) -> Result<TileFormat, OwsError> {
    TileFormat::parse(value).ok_or_else(|| {
        OwsError::invalid(
            "format",
            format!(
                "format {:?} is not served: image/png (png) or image/jpeg (jpg)",
                clip(value)
            ),
        )
    })
}

/// A tile matrix set name (or an alias).
pub(crate) fn matrix_set(value: &str) -> Result<TileMatrixSet, OwsError> {
    value
        .parse()
        .map_err(|e: pvs_tiles::tms::UnknownTileMatrixSet| {
            OwsError::invalid("tileMatrixSet", e.to_string())
        })
}

/// A tile matrix identifier: a zoom level from 0 to `max_zoom`.
pub(crate) fn zoom(value: &str, tms: TileMatrixSet, max_zoom: u8) -> Result<u8, OwsError> {
    value
        .parse::<u8>()
        .ok()
        .filter(|z| *z <= max_zoom && value.bytes().all(|b| b.is_ascii_digit()))
        .ok_or_else(|| {
            OwsError::invalid(
                "tileMatrix",
                format!(
                    "tile matrix {:?} is not in {tms}: its matrices are 0 to {max_zoom}",
                    clip(value)
                ),
            )
        })
}

/// A tile row or column as written: a whole number (range is checked with the matrix).
pub(crate) fn index(value: &str, name: &'static str) -> Result<i64, OwsError> {
    let digits = value.strip_prefix('-').unwrap_or(value);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(OwsError::invalid(
            name,
            format!("{name} {:?} is not a whole number", clip(value)),
        ));
    }
    // Too many digits for an i64 is out of any matrix.
    Ok(value
        .parse::<i64>()
        .unwrap_or(if value.starts_with('-') { -1 } else { i64::MAX }))
}

/// The tile at column `col`, row `row` of matrix `z`, if the matrix has it.
pub(crate) fn tile(tms: TileMatrixSet, z: u8, col: i64, row: i64) -> Result<Tile, OwsError> {
    let (columns, rows) = tms.matrix_size(z);
    let check = |value: i64, count: u32, name: &'static str, what: &str| {
        u32::try_from(value)
            .ok()
            .filter(|v| *v < count)
            .ok_or_else(|| {
                OwsError::out_of_range(
                    name,
                    format!(
                        "{name} {value} is outside matrix {z} of {tms}: its {what} run 0 to {}",
                        count - 1
                    ),
                )
            })
    };
    let x = check(col, columns, "tileCol", "columns")?;
    let y = check(row, rows, "tileRow", "rows")?;
    Ok(Tile { z, x, y })
}

/// A `TIME` value; empty means the default.
pub(crate) fn time(value: &str) -> Result<TileTime, OwsError> {
    if value.is_empty() {
        return Ok(TileTime::Default);
    }
    TileTime::parse(value).map_err(|e| OwsError::invalid("time", e.to_string()))
}

/// The key of a checked tile.
pub(crate) fn key(
    layer: &str,
    time: TileTime,
    tms: TileMatrixSet,
    tile: Tile,
    format: TileFormat,
) -> Result<TileKey, OwsError> {
    TileKey::new(layer, time, tms, tile, format).map_err(|e| OwsError::invalid("layer", e))
}

/// The capabilities document, reused for [`crate::Settings::capabilities_ttl`].
///
/// The document lists the layers of the collections the request may read; it is kept for
/// one base URL and one set of readable collections at a time.
pub(crate) async fn capabilities(
    app: &App,
    access: &Access,
    headers: &HeaderMap,
) -> Result<Response, OwsError> {
    let base = app.settings.public_url.resolve(headers).to_string();
    let readable = access.readable();
    let mut cached = app.capabilities.lock().await;
    let fresh = cached.as_ref().is_some_and(|doc| {
        doc.base == base
            && doc.readable == readable
            && doc.built.elapsed() < app.settings.capabilities_ttl
    });
    if !fresh {
        let catalog = readable.view(app.cache.catalog());
        let xml = crate::capabilities::document(catalog.as_ref(), &app.settings, &base)
            .await
            .map_err(OwsError::from_cache)?;
        *cached = Some(BuiltDocument {
            base,
            readable,
            built: Instant::now(),
            xml: xml.into(),
        });
    }
    let xml = cached.as_ref().expect("built above").xml.clone();
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/xml")],
        xml,
    )
        .into_response())
}

/// `GET /wmts/…`: the RESTful forms.
pub(crate) async fn rest(
    State(app): State<Arc<App>>,
    access: Access,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    // Query parameters of REST requests are not read.
    let path = uri.path();
    if let Err(error) = OwsError::check_length("path", path.len()) {
        return error.into_response();
    }
    let rest = path.strip_prefix("/wmts/").unwrap_or("");
    let result = match RestRequest::parse(rest, app.settings.max_zoom) {
        Ok(RestRequest::Capabilities) => capabilities(&app, &access, &headers).await,
        Ok(RestRequest::Tile(key)) => serve_tile(&app, &access, &key, &headers).await,
        Err(error) => Err(error),
    };
    result.unwrap_or_else(IntoResponse::into_response)
}

/// What a RESTful path asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RestRequest {
    /// `1.0.0/WMTSCapabilities.xml`.
    Capabilities,
    /// `1.0.0/{layer}/{style}/{time}/{TileMatrixSet}/{TileMatrix}/{TileRow}/{TileCol}.{ext}`.
    Tile(TileKey),
}

impl RestRequest {
    /// Reads a path after `/wmts/` (percent-encoded), tiles at most at zoom level
    /// `max_zoom`.
    pub fn parse(path: &str, max_zoom: u8) -> Result<Self, OwsError> {
        let segments = path
            .split('/')
            .map(percent_decode)
            .collect::<Result<Vec<_>, _>>()?;
        let not_found = || {
            OwsError::not_found(
                "no such resource: /wmts/1.0.0/WMTSCapabilities.xml or \
             /wmts/1.0.0/{layer}/{style}/{time}/{TileMatrixSet}/{TileMatrix}/{TileRow}/{TileCol}.{png|jpg}",
            )
        };
        let Some((version, rest)) = segments.split_first() else {
            return Err(not_found());
        };
        if version != "1.0.0" {
            return Err(OwsError::not_found(format!(
                "WMTS version {:?} is not served: /wmts/1.0.0/…",
                clip(version)
            )));
        }
        match rest {
            [document] if document == "WMTSCapabilities.xml" => Ok(Self::Capabilities),
            [layer_name, style_name, time_value, tms_name, z, row, last] => {
                let layer = layer(layer_name)?;
                style(style_name)?;
                let time = time(time_value)?;
                let tms = matrix_set(tms_name)?;
                let z = zoom(z, tms, max_zoom)?;
                let (col, ext) = last.rsplit_once('.').ok_or_else(|| {
                    OwsError::invalid(
                        "format",
                        format!("{:?} has no extension: .png or .jpg", clip(last)),
                    )
                })?;
                let format = format(ext)?;
                let row = index(row, "tileRow")?;
                let col = index(col, "tileCol")?;
                let tile = tile(tms, z, col, row)?;
                Ok(Self::Tile(key(layer, time, tms, tile, format)?))
            }
            _ => Err(not_found()),
        }
    }
}

/// Decodes `%XX` escapes of a path segment (the result must be UTF-8).
pub(crate) fn percent_decode(segment: &str) -> Result<String, OwsError> {
    let bad = || {
        OwsError::invalid(
            "path",
            format!(
                "the path segment {:?} is not valid percent-encoded UTF-8",
                clip(segment)
            ),
        )
    };
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3).ok_or_else(bad)?;
            let hex = std::str::from_utf8(hex).map_err(|_| bad())?;
            out.push(u8::from_str_radix(hex, 16).map_err(|_| bad())?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indexes() {
        assert_eq!(index("12", "tileRow"), Ok(12));
        assert_eq!(index("-1", "tileRow"), Ok(-1));
        assert_eq!(index("99999999999999999999999", "tileRow"), Ok(i64::MAX));
        for bad in ["", "-", "1.5", "1e3", " 1", "0x10", "+1"] {
            assert_eq!(
                index(bad, "tileRow").unwrap_err().code,
                "InvalidParameterValue"
            );
        }
        let tms = TileMatrixSet::WorldCRS84Quad;
        assert_eq!(tile(tms, 1, 3, 1), Ok(Tile { z: 1, x: 3, y: 1 }));
        let error = tile(tms, 1, 4, 0).unwrap_err();
        assert_eq!(
            (error.code, error.locator.as_deref()),
            ("TileOutOfRange", Some("tileCol"))
        );
        assert!(
            error.message.contains("columns run 0 to 3"),
            "{}",
            error.message
        );
        assert_eq!(
            tile(tms, 1, 0, -1).unwrap_err().locator.as_deref(),
            Some("tileRow")
        );
        assert_eq!(
            tile(tms, 1, i64::MAX, 0).unwrap_err().code,
            "TileOutOfRange"
        );
    }

    #[test]
    fn zooms() {
        let tms = TileMatrixSet::WebMercatorQuad;
        assert_eq!(zoom("18", tms, 18), Ok(18));
        for bad in ["19", "-1", "", "1.0", "256", "x", "+3"] {
            assert!(zoom(bad, tms, 18).is_err(), "{bad}");
        }
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("a%2Fb").unwrap(), "a/b");
        assert_eq!(percent_decode("%2e%2e").unwrap(), "..");
        assert!(percent_decode("%").is_err());
        assert!(percent_decode("%zz").is_err());
        assert!(percent_decode("%ff").is_err());
    }
}
