//! The pvs tile cache: WMTS 1.0.0 (KVP and RESTful), XYZ tiles with TileJSON, and tiled WMS,
//! served from the tile store (`pvs-tiles`) and drawn on a miss by the renderer, in this
//! process or over HTTP. See `docs/cache.md`.

#![forbid(unsafe_code)]

pub mod cache;
pub mod capabilities;
pub mod http;
pub mod source;
pub mod wms;
pub mod wmts;
mod xyz;

pub use cache::{CacheError, Seeded, TileCache, blank};
pub use http::{CollectionLooks, Settings, routes};
pub use source::{Caller, TileRenderer};
pub use xyz::XyzRequest;
