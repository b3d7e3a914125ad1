//! Where products changed: the catalog's feed of changed areas, for what is kept drawn from
//! its products (the renderer's overview mosaics). Every insert, replacement and removal of a
//! product, by any path, is recorded by the database itself (triggers of schema 5) with its
//! collection and the box of its footprint, before and after.

use std::collections::BTreeSet;

use crate::Bbox;

/// Most changes [`crate::Catalog::changes`] reads at once; past that, [`Changes::lost`].
pub const MAX_CHANGES: usize = 10_000;

/// How far a reader has read the changes of one collection (from
/// [`crate::Catalog::changes`]; a cursor belongs to the collection it was read with).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ChangeCursor {
    /// SQLite: the last sequence number read. PostGIS: the oldest transaction still running
    /// at the last read (its snapshot's `xmin`): every change of an older transaction was
    /// read, or never committed.
    pub(crate) position: i64,
    /// The highest sequence number in the feed at the last read (to notice pruned history).
    pub(crate) high: i64,
    /// PostGIS: the changes already read of transactions from `position` on (they are read
    /// again until every transaction before them has finished).
    pub(crate) seen: BTreeSet<i64>,
}

/// The changes of a collection since a cursor.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Changes {
    /// The box of each changed footprint (before and after a replacement); a footprint split
    /// at the antimeridian spans every longitude.
    pub areas: Vec<Bbox>,
    /// Where to read on from.
    pub cursor: ChangeCursor,
    /// The changes since the cursor are no longer all known (more than [`MAX_CHANGES`], or
    /// older than the feed keeps): anything of the collection may have changed.
    pub lost: bool,
}

/// The box of a recorded change; one the types refuse (it cannot come from a valid footprint)
/// is taken as the whole world, so that nothing is missed.
pub(crate) fn area(west: f64, south: f64, east: f64, north: f64) -> Bbox {
    Bbox::new(west, south, east, north)
        .unwrap_or_else(|_| Bbox::new(-180.0, -90.0, 180.0, 90.0).expect("the world is a box"))
}

/// Whether changes after `cursor` were pruned: the oldest kept is past the next one expected.
pub(crate) fn pruned(cursor: &ChangeCursor, oldest: Option<i64>) -> bool {
    oldest.is_some_and(|oldest| oldest > cursor.high + 1)
}
