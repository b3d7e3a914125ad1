//! The pvs ingestor: where data providers meet pvs.
//!
//! Browse reports arrive over HTTP ([`http::routes`]: `POST /`, `POST /ingest`) or in a
//! watched folder ([`watch::run`], the SFTP `from/fepd` drop). Each report is parsed by
//! `pvs-model`; each valid browse becomes a JSON [`pvs_model::BrowseItem`] pushed to
//! `preprocess-md_queue`; the provider gets the ngEO ingestion response. See [`ingest`] for
//! the policy on partly bad reports and [`http`] for the status codes.
//!
//! The watch folder also takes STAC Items (`*.json`, [`Ingestor::ingest_item`]): the data
//! asset beside the Item is uploaded and the Item goes to `register_queue`.

#![forbid(unsafe_code)]

pub mod http;
pub mod ingest;
pub mod watch;

pub use http::HttpSettings;
pub use ingest::{Images, IngestError, Ingested, Ingestor, ItemIngested};
pub use watch::WatchFolder;
