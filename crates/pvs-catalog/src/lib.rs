//! The pvs product registry: which products exist, where their COGs are, what they cover
//! and when they were acquired.
//!
//! # Model
//! - A [`Collection`] is a named group of products: one map layer, one OpenSearch
//!   collection. Collections are created explicitly ([`Catalog::upsert_collection`]);
//!   registering a product of an unknown collection is refused.
//! - A [`Product`] is one registered image: a unique id (registering the id again replaces
//!   it), its collection, a footprint (a `geo_types` [`MultiPolygon`](geo_types::MultiPolygon)
//!   in EPSG:4326 longitude/latitude, split at the antimeridian into several polygons), a
//!   closed acquisition interval `[begin, end]` in UTC (kept to the microsecond), the storage
//!   key of its COG and free JSON metadata.
//! - A [`ProductQuery`] finds products by collection, [`Bbox`] (which may cross the
//!   antimeridian), geometry, [`TimeFilter`] (the OpenSearch [`TimeRelation`]s) and ids,
//!   newest first then by id, a page at a time.
//!
//! Everything goes through the [`Catalog`] trait, which has no database types in it, so that
//! backends are interchangeable: [`PostgisCatalog`] for a cluster, an embedded one for a single
//! machine. With the `contract` feature, the `contract` module holds the test suite every
//! backend must pass.
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

#![warn(missing_docs)]

mod catalog;
mod collection;
#[cfg(feature = "contract")]
pub mod contract;
mod error;
mod postgis;
mod product;
mod query;
mod sqlite;
#[cfg(feature = "contract")]
pub mod testing;
mod validation;

pub use catalog::Catalog;
pub use collection::{
    Collection, CollectionInfo, MAX_COLLECTION_NAME_CHARS, MAX_PRODUCT_TYPE_CHARS,
    validate_collection_name,
};
pub use error::{CatalogError, Result};
pub use postgis::{DEFAULT_POOL_SIZE, PostgisCatalog};
pub use product::{MAX_LOCATION_CHARS, MAX_PRODUCT_ID_CHARS, Product, Registration};
pub use query::{Bbox, DEFAULT_LIMIT, MAX_LIMIT, ProductQuery, TimeFilter, TimeRelation};
pub use sqlite::{SQLITE_READERS, SqliteCatalog};
