//! Object storage for pvs: where browse images, COGs, metadata and cached tiles are kept.
//!
//! One configuration, a [`StorageUrl`] (`s3://bucket/prefix`, `file:///absolute/path` or
//! `memory://`) plus [`S3Settings`] for S3, opens a [`Storage`] over the `object_store` crate.
//! Every object is named by a [`StorageKey`], validated when parsed so that it stays under the
//! configured prefix. The same configuration is handed to GDAL, which reads the COGs, through
//! [`Storage::gdal_path`] and [`Storage::gdal_config`].
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use pvs_storage::{Storage, StorageKey, StorageUrl};
//!
//! let storage = Storage::from_url(&"memory://".parse::<StorageUrl>()?, None)?;
//! let key = StorageKey::parse("products/S2A_20240101/metadata.xml")?;
//! storage.put(&key, "<browse/>".into()).await?;
//! assert_eq!(storage.get(&key).await?, "<browse/>");
//! assert!(StorageKey::parse("../outside").is_err());
//! # Ok(())
//! # }
//! ```
//!
//! Not for: reading rasters (that is GDAL's job, in `pvs-raster`), caching tiles (that is
//! `pvs-cache`, which stores through this crate), or reading the environment (the service
//! configuration builds the [`StorageUrl`] and [`S3Settings`]).
//!
//! With the `contract` feature, the `contract` module holds the test suite every backend passes.

#![forbid(unsafe_code)]

#[cfg(feature = "contract")]
pub mod contract;
mod error;
mod gdal;
mod key;
mod settings;
mod storage;
mod storage_url;
#[cfg(feature = "contract")]
pub mod testing;

pub use error::{Operation, StorageError, is_transient_io};
pub use key::{KeyError, MAX_KEY_BYTES, StorageKey};
pub use settings::{DEFAULT_REGION, S3Retry, S3Settings};
pub use storage::{INLINE_READ_LIMIT, MULTIPART_PART_SIZE, ObjectInfo, Storage};
pub use storage_url::{StorageUrl, StorageUrlError};
