//! The pvs product registry: which products exist, where their COGs are, what they cover
//! and when they were acquired.
//!
//! # Model
//! - A [`Collection`] is a named group of products: one map layer, one OpenSearch
//!   collection. Collections are created explicitly ([`Catalog::upsert_collection`]);
//!   registering a product of an unknown collection is refused.
//! - A [`Product`] is one registered image: an id unique in its collection (registering the
//!   id again in that collection replaces it; the same id in another collection is another
//!   product, as ngEO's browse identifiers are unique per browse layer), its collection, a footprint (a `geo_types` [`MultiPolygon`](geo_types::MultiPolygon)
//!   in EPSG:4326 longitude/latitude, split at the antimeridian into several polygons), a
//!   closed acquisition interval `[begin, end]` in UTC (kept to the microsecond), the storage
//!   key of its COG, free JSON metadata and its properties by STAC name
//!   (`eo:cloud_cover`, `platform`, ...).
//! - A [`ProductQuery`] finds products by collection, [`Bbox`] (which may cross the
//!   antimeridian), geometry, [`TimeFilter`] (the OpenSearch [`TimeRelation`]s) and ids,
//!   newest first then by id and collection, a page at a time; and by a typed [`Filter`] on columns and
//!   queryable [`Property`]s (what the STAC API, WMS `cql` and OpenSearch EO parameters parse
//!   into), in the order of [`Sort`]s.
//! - Products leave one by one ([`Catalog::deregister`]), a page of a query at a time
//!   ([`Catalog::deregister_matching`], for bulk removals such as a collection's products of a
//!   time range) or with their collection ([`Catalog::delete_collection`]). A collection's
//!   summary ([`CollectionInfo`]: count, extent, time span) is computed from the products it
//!   holds when it is read, on every backend: it grows and shrinks with them.
//!
//! Everything goes through the [`Catalog`] trait, which has no database types in it, so that
//! backends are interchangeable: [`PostgisCatalog`] for a cluster, [`SqliteCatalog`] (one
//! SQLite file, no server) for a single machine (`pvs up`). With the `contract` feature, the
//! `contract` module holds the test suite every backend must pass; both backends pass all of
//! it.
//!
//! Not for: reading browse reports (`pvs-model`), storing files (`pvs-storage`) or
//! rendering (the renderer queries this crate, then reads COGs through storage).
//!
//! # Schema migrations (PostGIS)
//! The schema is a list of SQL files, `migrations/NNNN_name.sql`, embedded in the binary.
//! [`PostgisCatalog::connect`] applies those the database has not recorded in
//! `pvs_schema_migrations`, in version order, each in its own transaction holding a
//! transaction-level advisory lock, so that services starting together apply each exactly
//! once. A migration is recorded with a checksum of its SQL; if an applied migration's
//! checksum differs from the embedded one, connecting fails with
//! [`CatalogError::Migration`]: migrations are append-only, a released file is never edited,
//! a change is a new file. A database migrated by a newer pvs (versions this build does not
//! know) is used as it is, with a warning.
//!
//! # The embedded catalog (SQLite)
//! [`SqliteCatalog::open`] opens (or creates) one file in WAL mode with a busy timeout, so
//! that several processes may open it; writes are serialised on one connection, reads run on
//! [`SQLITE_READERS`] others, and every SQLite call runs on tokio's blocking threads. Commits
//! are synchronous (`synchronous = FULL`): a registration that returned survives a crash or a
//! power cut. It answers every query as PostGIS does:
//! - footprints are stored exactly (WKB), with their extent for the collection summaries;
//! - bbox and geometry searches take their candidates from an R*Tree holding the box of each
//!   polygon of each footprint (footprints are split at the antimeridian, so each part has an
//!   ordinary box; the R*Tree rounds its 32-bit boxes outwards, so it misses nothing), then
//!   test each candidate exactly with `geo`'s `Intersects`: boundaries touching count, as
//!   with `ST_Intersects`;
//! - times are integer microseconds since the epoch (rounded down, as `timestamptz` keeps
//!   them), ids and names compare in byte order, results come newest first then by id and collection.
//!
//! One difference: PostGIS also refuses footprints that `geo`'s validation accepts but GEOS
//! does not (e.g. a hole splitting a polygon's interior in two); the embedded catalog stores
//! them.
//!
//! The file's schema is versioned like the PostGIS one: the SQL files of
//! `src/sqlite/migrations/` (append-only) are applied when missing, in one transaction, and
//! the version reached is recorded in `PRAGMA user_version` (and `PRAGMA application_id`
//! marks the file as a pvs catalog). Unlike a PostGIS database, whose services are upgraded
//! one at a time, a file with a newer version than this build knows is refused with
//! [`CatalogError::Migration`]: it belongs to the newer pvs that wrote it. An SQLite file of
//! something else is refused too.
//!
//! ```no_run
//! # async fn example() -> Result<(), pvs_catalog::CatalogError> {
//! use pvs_catalog::{Catalog, ProductQuery, SqliteCatalog, TimeFilter};
//!
//! let catalog = SqliteCatalog::open("/var/lib/pvs/catalog.sqlite").await?;
//! let now = chrono::Utc::now();
//! let query = ProductQuery::new().with_time(TimeFilter::instant(now));
//! println!("{} products cover {now}", catalog.count(&query).await?);
//! # Ok(())
//! # }
//! ```
//!
//! # Searching
//! ```no_run
//! # async fn example() -> Result<(), pvs_catalog::CatalogError> {
//! use pvs_catalog::{Bbox, Catalog, PostgisCatalog, ProductQuery};
//!
//! let catalog = PostgisCatalog::connect("postgres://pvs@db:5432/pvs").await?;
//! let query = ProductQuery::new()
//!     .with_collection("S2_L1C")
//!     .with_bbox(Bbox::new(170.0, -10.0, -170.0, 10.0)?);
//! for product in catalog.search(&query).await? {
//!     println!("{} at {}", product.id, product.location);
//! }
//! # Ok(())
//! # }
//! ```

#![forbid(unsafe_code)]

mod catalog;
mod changes;
mod collection;
#[cfg(feature = "contract")]
pub mod contract;
pub mod cql;
mod error;
pub mod filter;
mod migration;
mod postgis;
mod product;
mod query;
mod readable;
mod sqlite;
#[cfg(feature = "contract")]
pub mod testing;
mod validation;

pub use catalog::Catalog;
pub use changes::{ChangeCursor, Changes, MAX_CHANGES};
pub use collection::{
    Collection, CollectionInfo, MAX_COLLECTION_NAME_CHARS, MAX_PRODUCT_TYPE_CHARS,
    validate_collection_name,
};
pub use error::{CatalogError, Result};
pub use filter::{Comparison, Field, Filter, Kind, Literal, Property, Sort};
pub use postgis::{DEFAULT_POOL_SIZE, PostgisCatalog};
pub use product::{KeepRule, MAX_LOCATION_CHARS, MAX_PRODUCT_ID_CHARS, Product, Registration};
pub use query::{
    Bbox, DEFAULT_LIMIT, MAX_LIMIT, ProductQuery, SpatialRelation, TimeFilter, TimeRelation,
};
pub use readable::Readable;
pub use sqlite::{SQLITE_READERS, SqliteCatalog};
pub use validation::{MAX_FOOTPRINT_POINTS, check_footprint};
