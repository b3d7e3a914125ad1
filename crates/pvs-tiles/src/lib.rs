//! Tiles for pvs: the tile matrix sets (`tms`), the `TIME` values of the tile endpoints
//! (`time`) and the tile store on object storage (`store`), shared by the cache, the seeder
//! and the registrar (which drops the tiles a changed product makes stale). See
//! `docs/cache.md`.

#![forbid(unsafe_code)]

pub mod store;
pub mod time;
pub mod tms;

pub use store::{Change, FoundTile, OpenedTile, StoredTile, TileFormat, TileKey, TileStore};
pub use time::{TileTime, TimeError};
pub use tms::{Tile, TileMatrixSet, TileRange};
