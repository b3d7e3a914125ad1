//! The assets pvs serves itself: an Item's COG, read from object storage with HTTP range
//! requests (what GDAL's `/vsicurl/`, TiTiler and QGIS ask for), and its metadata document.
//!
//! `Range: bytes=a-b`, `bytes=a-` and `bytes=-n` (one range) are answered `206 Partial
//! Content` with `Content-Range`; a range starting past the end `416` with `Content-Range:
//! bytes */size`; several ranges, or a malformed `Range`, the whole object (`200`, as RFC
//! 9110 allows). Bodies are streamed in pieces, never read whole into memory; `HEAD` reads
//! nothing but the object's size.

use std::ops::Range;

use axum::body::Body;
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::stream;
use pvs_access::http::Reader;
use pvs_storage::{Storage, StorageError, StorageKey};

use crate::item::COG_TYPE;
use crate::{Answer, ApiError, Stac, json_response};

/// The size of the pieces a body is read from storage in.
const PIECE_BYTES: u64 = 4 << 20;

/// `GET /stac/collections/{c}/items/{id}/data`: the COG.
pub async fn data(
    Reader(state): Reader<Stac>,
    headers: HeaderMap,
    Path((collection, id)): Path<(String, String)>,
) -> Answer {
    let product = state.product(&collection, &id).await?;
    let key: StorageKey = product.location.parse().map_err(|error| {
        ApiError::server(
            "the product's COG location",
            format!("{:?}: {error}", product.location),
        )
    })?;
    let info = state
        .storage
        .head(&key)
        .await
        .map_err(|error| match error {
            StorageError::NotFound { .. } => {
                ApiError::not_found(format!("data: the COG of item {id:?} is missing"))
            }
            other => ApiError::server("the storage", other),
        })?;
    Ok(ranged(&state.storage, key, info, &headers))
}

/// `GET /stac/collections/{c}/items/{id}/metadata`: the product's metadata document.
pub async fn metadata(
    Reader(state): Reader<Stac>,
    Path((collection, id)): Path<(String, String)>,
) -> Answer {
    let product = state.product(&collection, &id).await?;
    Ok(json_response(crate::item::JSON, &product.metadata))
}

/// What a `Range` header asks of an object of `size` bytes.
#[derive(Debug, PartialEq, Eq)]
enum Wanted {
    /// The whole object.
    All,
    /// These bytes (end exclusive, within the object).
    Part(Range<u64>),
    /// Nothing the object has.
    Unsatisfiable,
}

fn wanted(range: Option<&HeaderValue>, size: u64) -> Wanted {
    let Some(spec) = range
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().strip_prefix("bytes="))
    else {
        return Wanted::All;
    };
    if spec.contains(',') {
        return Wanted::All;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return Wanted::All;
    };
    let (first, last) = (first.trim(), last.trim());
    let number = |text: &str| text.parse::<u64>().ok();
    if first.is_empty() {
        // bytes=-n: the last n bytes.
        return match number(last) {
            None => Wanted::All,
            Some(0) => Wanted::Unsatisfiable,
            Some(_) if size == 0 => Wanted::Unsatisfiable,
            Some(suffix) => Wanted::Part(size.saturating_sub(suffix)..size),
        };
    }
    let Some(start) = number(first) else {
        return Wanted::All;
    };
    let last = match (last.is_empty(), number(last)) {
        (true, _) => None,
        (false, Some(last)) if last >= start => Some(last),
        // Malformed, or ending before it starts: ignored.
        (false, _) => return Wanted::All,
    };
    if start >= size {
        return Wanted::Unsatisfiable;
    }
    Wanted::Part(start..last.map_or(size, |last| last.saturating_add(1).min(size)))
}

/// The answer for an object: whole, or the part `Range` asks for.
fn ranged(
    storage: &Storage,
    key: StorageKey,
    info: pvs_storage::ObjectInfo,
    headers: &HeaderMap,
) -> Response {
    let size = info.size;
    let (status, range) = match wanted(headers.get(header::RANGE), size) {
        Wanted::All => (StatusCode::OK, 0..size),
        Wanted::Part(range) => (StatusCode::PARTIAL_CONTENT, range),
        Wanted::Unsatisfiable => {
            let mut response = ApiError::new(
                StatusCode::RANGE_NOT_SATISFIABLE,
                "RangeNotSatisfiable",
                format!("Range: the object has {size} bytes"),
            )
            .into_response();
            response.headers_mut().insert(
                header::CONTENT_RANGE,
                HeaderValue::from_str(&format!("bytes */{size}")).expect("a header value"),
            );
            return response;
        }
    };
    let length = range.end - range.start;
    let body = Body::from_stream(pieces(storage.clone(), key, range.clone()));
    let mut response = (status, body).into_response();
    let response_headers = response.headers_mut();
    let value = |text: String| HeaderValue::from_str(&text).expect("a header value");
    response_headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(COG_TYPE));
    response_headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    response_headers.insert(header::CONTENT_LENGTH, value(length.to_string()));
    if status == StatusCode::PARTIAL_CONTENT {
        response_headers.insert(
            header::CONTENT_RANGE,
            value(format!("bytes {}-{}/{size}", range.start, range.end - 1)),
        );
    }
    if let Some(tag) = info.e_tag.as_deref().filter(|tag| is_token(tag)) {
        let tag = if tag.starts_with('"') || tag.starts_with("W/") {
            tag.to_owned()
        } else {
            format!("\"{tag}\"")
        };
        response_headers.insert(header::ETAG, value(tag));
    }
    response_headers.insert(
        header::LAST_MODIFIED,
        value(
            info.last_modified
                .format("%a, %d %b %Y %H:%M:%S GMT")
                .to_string(),
        ),
    );
    response
}

/// Whether an entity tag can be sent as it is.
fn is_token(tag: &str) -> bool {
    !tag.is_empty() && tag.len() <= 256 && tag.bytes().all(|b| b.is_ascii_graphic())
}

/// The bytes `range` of the object, read in pieces of [`PIECE_BYTES`] as the body is sent
/// (nothing is read for a `HEAD`, whose body is never polled).
fn pieces(
    storage: Storage,
    key: StorageKey,
    range: Range<u64>,
) -> impl futures::Stream<Item = Result<bytes::Bytes, StorageError>> {
    stream::try_unfold(range.start, move |start| {
        let (storage, key, end) = (storage.clone(), key.clone(), range.end);
        async move {
            if start >= end {
                return Ok(None);
            }
            let stop = (start + PIECE_BYTES).min(end);
            let bytes = storage.get_range(&key, start..stop).await?;
            Ok(Some((bytes, stop)))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(text: &str, size: u64) -> Wanted {
        wanted(Some(&HeaderValue::from_str(text).unwrap()), size)
    }

    #[test]
    fn ranges() {
        assert_eq!(wanted(None, 10), Wanted::All);
        assert_eq!(range("bytes=0-3", 10), Wanted::Part(0..4));
        assert_eq!(range("bytes=4-", 10), Wanted::Part(4..10));
        assert_eq!(range("bytes=8-100", 10), Wanted::Part(8..10));
        assert_eq!(range("bytes=-3", 10), Wanted::Part(7..10));
        assert_eq!(range("bytes=-30", 10), Wanted::Part(0..10));
        assert_eq!(range("bytes=10-", 10), Wanted::Unsatisfiable);
        assert_eq!(range("bytes=-0", 10), Wanted::Unsatisfiable);
        assert_eq!(range("bytes=0-1,4-5", 10), Wanted::All);
        assert_eq!(range("bytes=5-2", 10), Wanted::All);
        assert_eq!(range("items=0-1", 10), Wanted::All);
        assert_eq!(range("bytes=a-b", 10), Wanted::All);
        assert_eq!(range("bytes=1-b", 10), Wanted::All);
    }
}
