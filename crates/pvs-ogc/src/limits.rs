//! How long a request may be, for every OGC endpoint.
//!
//! Two limits, on purpose: WMS, WCS and OpenSearch requests carry lists (`SUBSET`s, id
//! lists, WKT geometries), so they may take 16 KiB. The tile endpoints (WMTS KVP and REST,
//! XYZ, tiled WMS) read a handful of short values on the cache's hot path, so they read at
//! most 8 KiB; a longer tiled-WMS query is no tile and goes to the renderer, whose 16 KiB
//! then apply.

use crate::exception::Exception;

/// The longest query string of WMS, WCS and OpenSearch requests, in bytes.
pub const MAX_QUERY_BYTES: usize = 16 * 1024;

/// The longest query string or path of a tile request (WMTS, XYZ, tiled WMS), in bytes.
pub const MAX_TILE_REQUEST_BYTES: usize = 8 * 1024;

/// Refuses `what` (`query string`, `path`...) of `length` bytes when it is over `max`:
/// 400 `InvalidParameterValue` without a locator (no parameter is at fault).
pub fn check(what: &str, length: usize, max: usize) -> Result<(), Exception> {
    if length <= max {
        return Ok(());
    }
    Err(Exception::unlocated(
        "InvalidParameterValue",
        format!("the {what} has {length} bytes; at most {max} are accepted"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits() {
        assert!(check("query string", MAX_QUERY_BYTES, MAX_QUERY_BYTES).is_ok());
        let error = check("path", 9000, MAX_TILE_REQUEST_BYTES).unwrap_err();
        assert_eq!(
            (error.code, error.status.as_u16()),
            ("InvalidParameterValue", 400)
        );
        assert_eq!(error.locator, None);
        assert!(error.message.contains("at most 8192"), "{}", error.message);
    }
}
