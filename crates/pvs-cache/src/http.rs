//! The cache's HTTP service: the routes, the settings, OWS exception reports and the tile
//! responses with their HTTP caching headers (`ETag`, `Last-Modified`, `Cache-Control`,
//! conditional `GET` answered with 304).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use pvs_access::Access;
use pvs_ogc::layer::collection_of;
use pvs_ogc::limits::{self, MAX_TILE_REQUEST_BYTES};
use pvs_ogc::{Exception, Report};
use pvs_service::public_url::PublicUrl;
use pvs_tiles::{FoundTile, OpenedTile, TileKey};

use crate::cache::{CacheError, TileCache, blank};

/// What the service advertises and how long answers may be cached.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `Cache-Control: public, max-age=N` on every tile, in seconds.
    pub max_age: u32,
    /// The deepest zoom level served and advertised (at most [`pvs_tiles::tms::MAX_ZOOM`]).
    pub max_zoom: u8,
    /// How many product intervals (the newest) a layer's time dimension lists.
    pub time_values: u32,
    /// The service title in the capabilities.
    pub title: String,
    /// How long a capabilities document is reused before it is built again.
    pub capabilities_ttl: Duration,
    /// How documents name the service (`PUBLIC_URL`, else the request's proxy headers and
    /// `Host`); passed on to the renderer with the requests the cache does not answer.
    pub public_url: PublicUrl,
    /// The browse and mask types of each collection (`COLLECTIONS_FILE`): their layers
    /// (`<collection>__<browse>`, `<collection>__<mask>`, `<collection>__masked_<mask>`) are
    /// advertised beside the collection's own.
    pub looks: BTreeMap<String, CollectionLooks>,
}

/// The names of a collection's browse and mask types.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CollectionLooks {
    /// Browse types.
    pub browses: Vec<String>,
    /// Mask types.
    pub masks: Vec<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            max_age: 3600,
            max_zoom: 18,
            time_values: 1000,
            title: "pvs View Server tile cache".to_owned(),
            capabilities_ttl: Duration::from_secs(5),
            public_url: PublicUrl::default(),
            looks: BTreeMap::new(),
        }
    }
}

/// A capabilities document built for a base URL, and when.
pub(crate) struct BuiltDocument {
    pub base: String,
    pub readable: pvs_access::Readable,
    pub built: Instant,
    pub xml: Bytes,
}

/// The state of every handler.
pub(crate) struct App {
    pub cache: Arc<TileCache>,
    pub settings: Settings,
    /// The `Cache-Control` value of tiles anyone may read, built once.
    pub cache_control: HeaderValue,
    /// The `Cache-Control` value of tiles that need a grant.
    pub private_cache_control: HeaderValue,
    /// The last capabilities document (the lock also makes concurrent requests build it
    /// once).
    pub capabilities: tokio::sync::Mutex<Option<BuiltDocument>>,
}

/// The cache's routes: WMTS KVP on `/wmts` (and on `/ows` with `SERVICE=WMTS`), RESTful
/// WMTS under `/wmts/1.0.0/`, tiled WMS on `/ows` (other WMS requests are passed to the
/// renderer), XYZ tiles and TileJSON under `/tiles/`.
pub fn routes(cache: Arc<TileCache>, settings: Settings) -> Router {
    let settings = Settings {
        max_zoom: settings.max_zoom.min(pvs_tiles::tms::MAX_ZOOM),
        ..settings
    };
    let cache_control = HeaderValue::from_str(&format!("public, max-age={}", settings.max_age))
        .expect("a number makes a header value");
    let private_cache_control =
        HeaderValue::from_str(&format!("private, max-age={}", settings.max_age))
            .expect("a number makes a header value");
    let app = Arc::new(App {
        cache,
        settings,
        cache_control,
        private_cache_control,
        capabilities: tokio::sync::Mutex::new(None),
    });
    Router::new()
        .route("/wmts", get(crate::wmts::kvp))
        .route("/wmts/", get(crate::wmts::kvp))
        .route("/wmts/{*rest}", get(crate::wmts::rest))
        .route("/ows", get(crate::wms::ows))
        .route("/tiles/{*rest}", get(crate::xyz::tiles))
        .with_state(app)
}

/// An [`Exception`] answered as an OWS 1.1 `ExceptionReport` ([`Report::Ows11`]), the
/// report of WMTS and of the cache's other tile endpoints. The exception is `pvs_ogc`'s;
/// this wrapper makes it an axum answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwsError(pub Exception);

impl std::ops::Deref for OwsError {
    type Target = Exception;

    fn deref(&self) -> &Exception {
        &self.0
    }
}

impl From<Exception> for OwsError {
    fn from(exception: Exception) -> Self {
        Self(exception)
    }
}

impl OwsError {
    /// A required parameter is missing (400 `MissingParameterValue`).
    pub fn missing(locator: &str) -> Self {
        Self(Exception::missing(locator))
    }

    /// A parameter has a value the service does not accept (400 `InvalidParameterValue`).
    pub fn invalid(locator: &str, message: impl Into<String>) -> Self {
        Self(Exception::invalid(locator, message))
    }

    /// A tile row or column outside the matrix (400 `TileOutOfRange`, WMTS 07-057r7
    /// table 28).
    pub fn out_of_range(locator: &str, message: impl Into<String>) -> Self {
        Self(Exception::new("TileOutOfRange", locator, message))
    }

    /// An operation the service does not offer (501 `OperationNotSupported`, OWS Common
    /// 06-121r3 table 28).
    pub fn not_supported(operation: &str) -> Self {
        Self(Exception::new(
            "OperationNotSupported",
            "request",
            format!(
                "the operation {:?} is not supported: GetCapabilities or GetTile",
                clip(operation)
            ),
        ))
    }

    /// A path that names nothing (404).
    pub fn not_found(message: impl Into<String>) -> Self {
        Self(
            Exception::unlocated("InvalidParameterValue", message)
                .with_status(StatusCode::NOT_FOUND),
        )
    }

    /// A failure of the server or a backend (500 `NoApplicableCode`).
    pub fn server(message: impl Into<String>) -> Self {
        Self(Exception::server(message))
    }

    /// The same error with another HTTP status.
    pub fn with_status(self, status: StatusCode) -> Self {
        Self(self.0.with_status(status))
    }

    /// Refuses a query string or path (`what`) longer than [`MAX_TILE_REQUEST_BYTES`].
    pub fn check_length(what: &str, length: usize) -> Result<(), Self> {
        limits::check(what, length, MAX_TILE_REQUEST_BYTES).map_err(Self)
    }

    /// The error of a cache failure: an unknown layer is the client's, others the server's.
    pub fn from_cache(error: CacheError) -> Self {
        match error {
            CacheError::UnknownLayer(layer) => Self::invalid(
                "layer",
                format!(
                    "layer {:?} is not known: a collection, or a collection's `__outlines`",
                    clip(&layer)
                ),
            ),
            other => {
                tracing::error!(error = %other, "a tile could not be served");
                Self::server(other.to_string())
            }
        }
    }

    /// The `ExceptionReport` document.
    pub fn to_xml(&self) -> String {
        Report::Ows11.document(&self.0)
    }
}

impl IntoResponse for OwsError {
    fn into_response(self) -> Response {
        let report = Report::Ows11;
        (
            report.status(&self.0),
            [(header::CONTENT_TYPE, report.content_type())],
            report.document(&self.0),
        )
            .into_response()
    }
}

/// At most 64 characters of a value a client sent, for messages.
pub(crate) fn clip(value: &str) -> String {
    pvs_ogc::exception::clip(value, 64)
}

/// Serves the tile at `key` from the cache (drawn on a miss), with its caching headers.
///
/// A tile of a collection the request may not read is answered as a tile of an unknown
/// layer, before the cache is looked in: a tile drawn for a reader who may is never served
/// to one who may not.
pub(crate) async fn serve_tile(
    app: &App,
    access: &Access,
    key: &TileKey,
    request: &HeaderMap,
) -> Result<Response, OwsError> {
    if !access.can_read(collection_of(key.layer())) {
        return Err(OwsError::from_cache(CacheError::UnknownLayer(
            key.layer().to_owned(),
        )));
    }
    match app.cache.find(key).await {
        Ok(tile) => Ok(tile_response(app, access, key, tile, request)),
        Err(error) => Err(OwsError::from_cache(error)),
    }
}

/// The answer for a stored tile: 304 when the client's copy is current, else the image (the
/// blank image for a tile with no data). A tile of a collection that needs a grant is
/// `Cache-Control: private`: shared caches (a proxy, a CDN) must not keep it for others.
pub(crate) fn tile_response(
    app: &App,
    access: &Access,
    key: &TileKey,
    tile: FoundTile,
    request: &HeaderMap,
) -> Response {
    let format = key.format;
    let cache_control = if access.is_public(collection_of(key.layer())) {
        app.cache_control.clone()
    } else {
        app.private_cache_control.clone()
    };
    let (e_tag, last_modified) = match &tile {
        FoundTile::Opened(tile) => (quoted(&tile.e_tag), tile.last_modified),
        FoundTile::Read(tile) => (quoted(&tile.e_tag), tile.last_modified),
    };
    let not_modified = is_not_modified(request, &e_tag, last_modified);
    let mut builder = Response::builder()
        .header(header::CACHE_CONTROL, cache_control)
        .header(header::LAST_MODIFIED, http_date(last_modified));
    if let Ok(value) = HeaderValue::from_str(&e_tag) {
        builder = builder.header(header::ETAG, value);
    }
    if not_modified {
        return builder
            .status(StatusCode::NOT_MODIFIED)
            .body(Body::empty())
            .expect("tile headers are valid");
    }
    let builder = builder
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, format.mime());
    let body = match tile {
        FoundTile::Opened(tile) if !tile.is_empty() => match read_opened(&tile) {
            Ok(bytes) => bytes,
            Err(error) => {
                tracing::error!(%error, "a stored tile could not be read");
                return OwsError::server(format!("reading a stored tile: {error}")).into_response();
            }
        },
        FoundTile::Read(tile) if !tile.is_empty() => tile.bytes,
        _ => blank(format),
    };
    builder
        .body(Body::from(body))
        .expect("tile headers are valid")
}

/// The bytes of a tile opened in a local-directory store. Tiles are small and in the page
/// cache: read on the request's thread, as the file was opened.
fn read_opened(tile: &OpenedTile) -> std::io::Result<Bytes> {
    use std::os::unix::fs::FileExt;
    let len = usize::try_from(tile.len).map_err(std::io::Error::other)?;
    let mut bytes = vec![0; len];
    tile.file.read_exact_at(&mut bytes, 0)?;
    Ok(Bytes::from(bytes))
}

/// An entity tag in double quotes (S3's come quoted, others do not).
fn quoted(e_tag: &str) -> String {
    if e_tag.len() >= 2 && e_tag.starts_with('"') && e_tag.ends_with('"') {
        e_tag.to_owned()
    } else {
        format!("\"{}\"", e_tag.replace('"', ""))
    }
}

/// An HTTP date (RFC 9110 IMF-fixdate).
pub fn http_date(time: DateTime<Utc>) -> String {
    use chrono::{Datelike, Timelike};
    // Written out rather than through `format` (which parses its pattern on every call):
    // this runs for every tile served.
    const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{}, {:02} {} {:04} {:02}:{:02}:{:02} GMT",
        DAYS[time.weekday().num_days_from_monday() as usize],
        time.day(),
        MONTHS[time.month0() as usize],
        time.year(),
        time.hour(),
        time.minute(),
        time.second()
    )
}

/// Whether the client's copy is current: `If-None-Match` names the tag (it takes
/// precedence), or else `If-Modified-Since` is not before the modification (to the second).
fn is_not_modified(request: &HeaderMap, e_tag: &str, modified: DateTime<Utc>) -> bool {
    if let Some(value) = request.get(header::IF_NONE_MATCH) {
        let Ok(value) = value.to_str() else {
            return false;
        };
        return value.split(',').map(str::trim).any(|candidate| {
            candidate == "*" || candidate.strip_prefix("W/").unwrap_or(candidate) == e_tag
        });
    }
    request
        .get(header::IF_MODIFIED_SINCE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| DateTime::parse_from_rfc2822(v).ok())
        .is_some_and(|since| modified.timestamp() <= since.timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn conditional_requests() {
        let modified = Utc.with_ymd_and_hms(2024, 3, 1, 12, 0, 0).unwrap();
        let mut headers = HeaderMap::new();
        assert!(!is_not_modified(&headers, "\"a\"", modified));
        headers.insert(header::IF_NONE_MATCH, "\"b\", W/\"a\"".parse().unwrap());
        assert!(is_not_modified(&headers, "\"a\"", modified));
        // If-None-Match takes precedence over a matching If-Modified-Since.
        headers.insert(header::IF_NONE_MATCH, "\"b\"".parse().unwrap());
        headers.insert(
            header::IF_MODIFIED_SINCE,
            http_date(modified).parse().unwrap(),
        );
        assert!(!is_not_modified(&headers, "\"a\"", modified));
        headers.remove(header::IF_NONE_MATCH);
        assert!(is_not_modified(&headers, "\"a\"", modified));
        let earlier = modified - chrono::TimeDelta::seconds(1);
        headers.insert(
            header::IF_MODIFIED_SINCE,
            http_date(earlier).parse().unwrap(),
        );
        assert!(!is_not_modified(&headers, "\"a\"", modified));
        headers.insert(header::IF_MODIFIED_SINCE, "yesterday".parse().unwrap());
        assert!(!is_not_modified(&headers, "\"a\"", modified));
    }

    #[test]
    fn http_dates_are_rfc_7231_dates() {
        for (y, mo, d, h, mi, se) in [
            (2024, 3, 1, 12, 0, 0),
            (1999, 12, 31, 23, 59, 59),
            (2026, 11, 22, 7, 5, 9),
        ] {
            let time = Utc.with_ymd_and_hms(y, mo, d, h, mi, se).unwrap();
            assert_eq!(
                http_date(time),
                time.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
            );
        }
        let time = Utc.with_ymd_and_hms(2024, 3, 1, 12, 0, 0).unwrap();
        assert_eq!(http_date(time), "Fri, 01 Mar 2024 12:00:00 GMT");
    }

    #[test]
    fn tags_are_quoted_once() {
        assert_eq!(quoted("abc"), "\"abc\"");
        assert_eq!(quoted("\"abc\""), "\"abc\"");
        assert_eq!(quoted("a\"b"), "\"ab\"");
    }

    #[test]
    fn reports_escape_what_clients_sent() {
        let error = OwsError::invalid("time", "TIME \"<x>&\u{1}\"");
        let xml = error.to_xml();
        assert!(
            xml.contains("TIME &quot;&lt;x&gt;&amp;\\u{1}&quot;"),
            "{xml}"
        );
        assert!(!xml.contains("<x>"));
    }
}
