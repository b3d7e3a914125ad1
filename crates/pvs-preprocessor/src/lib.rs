//! The pvs preprocessor: takes browse items from `preprocess-md_queue` and product packages
//! from `preprocess_queue`, converts each image to a Cloud-Optimized GeoTIFF on a rayon pool,
//! uploads it with its metadata document, and hands the document's key to the registrar on
//! `register_queue`.
//!
//! Per item: `SADD preprocessing_set`, fetch the input from storage (transient errors are
//! retried by the storage client, `pvs_storage::S3Retry`, and nowhere else), convert, upload `<collection>/<id>/<id>.tif` and
//! `<collection>/<id>/<id>.json` (deterministic keys: a retry overwrites), `LPUSH
//! register_queue`, then `preprocess-success_set` or `preprocess-failure_set` with the reason
//! in `preprocess-failure_reasons`. A browse that fails is also counted in its report's
//! registration report. STAC Items whose data asset is not a COG on storage come on
//! `preprocess_queue` from the registrar (`{"item": {...}}`, [`PreprocessMessage`]); their
//! metadata document carries the Item's footprint, times and properties. See
//! `docs/preprocessor.md`.

mod input;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use chrono::Utc;
use geo::MultiPolygon;
use pvs_model::{
    AssetHref, BrowseItem, BrowseReport, CollectionConfig, Collections, FileName, GeoJsonGeometry,
    Geolocation, ItemRegistration, ProductMetadata, ReferenceSystem, RegistrationOutcome,
    Replacement, ReportInfo, SourceInfo, parse_item,
};
use pvs_queue::{QueueError, QueueName, Stage, TransientRetry, WorkQueue};
use pvs_raster::RasterError;
use pvs_raster::convert::{CogOptions, Placement};
use pvs_raster::merge::Version;
use pvs_storage::{Storage, StorageError, StorageKey};
use serde::Deserialize;
use thiserror::Error;

pub use input::PACKAGE_RASTER_EXTENSIONS;

/// Why one item could not be preprocessed. The message is what operators read in
/// `preprocess-failure_reasons` and providers in the registration report.
#[derive(Debug, Error)]
pub enum PreprocessError {
    /// The queue message is not a browse item / package reference.
    #[error("malformed message: {0}")]
    BadMessage(String),
    /// Not an error: a product from a newer browse report is there, and the collection's
    /// strategy keeps it (nothing is converted or uploaded).
    #[error("skipped: {0}")]
    Skipped(String),
    /// The browse type maps to no configured collection.
    #[error("browse type {0:?} belongs to no configured collection (COLLECTIONS_FILE)")]
    UnknownCollection(String),
    /// The input cannot be used (missing, not a raster, a package without a raster...).
    #[error("input {input}: {reason}")]
    Input {
        /// The storage key or URL.
        input: String,
        /// Why.
        reason: String,
    },
    /// Storage failed (after the storage client's retries).
    #[error(transparent)]
    Storage(Box<StorageError>),
    /// The work directory's file system is full (or out of quota): the download or the
    /// conversion could not be written.
    #[error("the work directory {dir} is full: {reason}")]
    WorkSpace {
        /// The work directory.
        dir: String,
        /// What failed.
        reason: String,
    },
    /// GDAL could not convert the image.
    #[error(transparent)]
    Raster(#[from] RasterError),
    /// The queue failed: the item must be retried, not failed.
    #[error(transparent)]
    Queue(#[from] QueueError),
}

impl PreprocessError {
    /// Whether preprocessing may succeed when tried again later: storage unavailable
    /// ([`StorageError::is_transient`]) or the work directory full, not the input at fault.
    /// The preprocessor tries such an item again ([`pvs_queue::TransientRetry`]) before
    /// recording a failure.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Storage(error) => error.is_transient(),
            Self::WorkSpace { .. } => true,
            _ => false,
        }
    }
}

impl From<StorageError> for PreprocessError {
    fn from(error: StorageError) -> Self {
        PreprocessError::Storage(Box::new(error))
    }
}

/// How the preprocessor writes COGs and uses the machine.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Threads of the conversion pool (rayon); 0: one per core.
    pub threads: usize,
    /// Tile size of the COGs.
    pub block_size: u32,
    /// JPEG/WEBP quality.
    pub quality: u8,
    /// Where inputs are downloaded and COGs written before upload; `None`: the system's
    /// temporary directory.
    pub work_dir: Option<PathBuf>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            threads: 0,
            block_size: 512,
            quality: 85,
            work_dir: None,
        }
    }
}

/// A `preprocess_queue` message: the storage key of a product (an image, or a `.tar` /
/// `.tar.gz` package holding it), as a bare key or as JSON naming the collection for
/// packages that carry no browse report: `{"key": "...", "collection": "..."}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackageMessage {
    /// Storage key of the package or image.
    pub key: String,
    /// Collection, when the package has no browse report to tell it (for a package with an
    /// EO metadata document: instead of the collection of its product type).
    #[serde(default)]
    pub collection: Option<String>,
}

/// What a `preprocess_queue` message asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum PreprocessMessage {
    /// A product package or image ([`PackageMessage`]).
    Package(PackageMessage),
    /// A STAC Item whose data asset is not a COG on storage, as the registrar hands it
    /// over: `{"item": {...}}` ([`ItemRegistration::preprocess_message`]).
    Item(Box<ItemRegistration>),
}

impl PreprocessMessage {
    /// Reads a bare key, the JSON form of a package, or a STAC Item message.
    pub fn parse(message: &str) -> Result<Self, PreprocessError> {
        let trimmed = message.trim();
        if trimmed.starts_with('{') {
            let value: serde_json::Value = serde_json::from_str(trimmed)
                .map_err(|e| PreprocessError::BadMessage(format!("package message: {e}")))?;
            if let Some(item) = value.get("item") {
                let bytes = serde_json::to_vec(item).expect("a JSON value serialises");
                let item = parse_item(&bytes, None)
                    .map_err(|e| PreprocessError::BadMessage(e.to_string()))?;
                return Ok(Self::Item(Box::new(item)));
            }
        }
        PackageMessage::parse(trimmed).map(Self::Package)
    }
}

impl PackageMessage {
    /// Reads a bare key or the JSON form.
    pub fn parse(message: &str) -> Result<Self, PreprocessError> {
        let message = message.trim();
        if message.starts_with('{') {
            serde_json::from_str(message)
                .map_err(|e| PreprocessError::BadMessage(format!("package message: {e}")))
        } else if message.is_empty() {
            Err(PreprocessError::BadMessage("empty package message".into()))
        } else {
            Ok(Self {
                key: message.to_owned(),
                collection: None,
            })
        }
    }
}

/// What preprocessing one item produced.
#[derive(Debug, Clone)]
pub struct Preprocessed {
    /// The metadata document, as uploaded.
    pub metadata: ProductMetadata,
    /// Its storage key (the `register_queue` message).
    pub metadata_key: StorageKey,
}

/// The preprocessor.
pub struct Preprocessor {
    queue: Arc<dyn WorkQueue>,
    storage: Storage,
    collections: Collections,
    settings: Settings,
    pool: rayon::ThreadPool,
    report_dir: Option<PathBuf>,
    /// How an item that failed on a transient fault is tried again.
    retry: TransientRetry,
}

impl Preprocessor {
    /// A preprocessor over these backends with a conversion pool of `settings.threads`.
    pub fn new(
        queue: Arc<dyn WorkQueue>,
        storage: Storage,
        collections: Collections,
        settings: Settings,
    ) -> Result<Self, rayon::ThreadPoolBuildError> {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(settings.threads)
            .thread_name(|i| format!("pvs-convert-{i}"))
            .build()?;
        Ok(Self {
            queue,
            storage,
            collections,
            settings,
            pool,
            report_dir: None,
            retry: TransientRetry::default(),
        })
    }

    /// Sets how an item that failed on a transient fault (storage unavailable, the work
    /// directory full) is tried again before it fails (by default for up to 5 minutes:
    /// [`TransientRetry::default`]).
    pub fn with_transient_retry(mut self, retry: TransientRetry) -> Self {
        self.retry = retry;
        self
    }

    /// Writes registration reports into `dir` when a report's last browse fails here.
    pub fn with_report_dir(mut self, dir: PathBuf) -> Self {
        self.report_dir = Some(dir);
        self
    }

    /// Threads of the conversion pool.
    pub fn threads(&self) -> usize {
        self.pool.current_num_threads()
    }

    /// Converts and uploads one browse; pushes nothing and records no status.
    pub async fn preprocess(&self, item: &BrowseItem) -> Result<Preprocessed, PreprocessError> {
        let (collection, config) = self
            .collections
            .for_browse_type(&item.collection)
            .ok_or_else(|| PreprocessError::UnknownCollection(item.collection.clone()))?;
        let source = input::fetch(&self.storage, &item.file, &self.settings).await?;
        let gdal_path = source.gdal_path();
        let footprint = item.footprint.as_ref().map(MultiPolygon::from);
        let job = Job {
            id: item.id.clone(),
            collection,
            config,
            geolocation: item.geolocation.clone(),
            reference_system: item.reference_system,
            footprint,
            start: item.start,
            end: item.end,
            source: SourceInfo {
                file: item.file.as_str().to_owned(),
                browse_identifier: item.browse_identifier.as_ref().map(|b| b.to_string()),
                report: item.report.clone(),
                merged_with: None,
            },
            properties: Default::default(),
        };
        let result = self.convert_and_upload(job, gdal_path).await;
        drop(source);
        result
    }

    /// Converts and uploads one product package or image from `preprocess_queue`.
    pub async fn preprocess_package(
        &self,
        message: &PackageMessage,
    ) -> Result<Preprocessed, PreprocessError> {
        let key: StorageKey = message.key.parse().map_err(|e: pvs_storage::KeyError| {
            PreprocessError::BadMessage(format!("package key {:?}: {e}", message.key))
        })?;
        let source = input::fetch_key(&self.storage, &key, &self.settings).await?;
        // GDAL reads the archive: on a blocking thread, not the async runtime.
        let (path, package_key) = (source.gdal_path(), key.clone());
        let package = tokio::task::spawn_blocking(move || input::open_package(&path, &package_key))
            .await
            .map_err(|e| PreprocessError::Input {
                input: key.to_string(),
                reason: format!("reading the package stopped: {e}"),
            })??;
        let job = match package.report {
            Some((report, browse_index)) => {
                let browse = report.browses[browse_index]
                    .as_ref()
                    .expect("open_package returns a valid browse");
                let item = BrowseItem::new(&report, browse, key.as_str());
                let (collection, config) = self
                    .collections
                    .for_browse_type(&item.collection)
                    .ok_or_else(|| PreprocessError::UnknownCollection(item.collection.clone()))?;
                Job {
                    id: item.id.clone(),
                    collection,
                    config,
                    geolocation: item.geolocation.clone(),
                    reference_system: item.reference_system,
                    footprint: item.footprint.as_ref().map(MultiPolygon::from),
                    start: item.start,
                    end: item.end,
                    source: SourceInfo {
                        file: key.as_str().to_owned(),
                        browse_identifier: item.browse_identifier.as_ref().map(|b| b.to_string()),
                        report: item.report.clone(),
                        merged_with: None,
                    },
                    properties: Default::default(),
                }
            }
            None => match &package.document {
                Some(document) => self.described_job(&key, message, document)?,
                None => self.package_job(&key, message, &package)?,
            },
        };
        let result = self.convert_and_upload(job, package.gdal_path).await;
        drop(source);
        result
    }

    /// A package without a browse report: the raster's own georeferencing, the time from
    /// the names (package, then raster), the collection from the message.
    fn package_job(
        &self,
        key: &StorageKey,
        message: &PackageMessage,
        package: &input::Package,
    ) -> Result<Job, PreprocessError> {
        let raster_name = package.raster_name.as_str();
        let failure = |reason: String| PreprocessError::Input {
            input: key.to_string(),
            reason,
        };
        let name = key.as_str().rsplit('/').next().unwrap_or(key.as_str());
        let collection_name = message.collection.clone().ok_or_else(|| {
            failure(
                "the package holds no browse report and the message names no collection \
                 (send {\"key\": ..., \"collection\": ...})"
                    .into(),
            )
        })?;
        let (collection, config) = match self.collections.collections.get(&collection_name) {
            Some(config) => (collection_name, config.clone()),
            None => self
                .collections
                .for_browse_type(&collection_name)
                .ok_or(PreprocessError::UnknownCollection(collection_name))?,
        };
        let times = pvs_raster::derive::time_from_name(name)
            .or_else(|| pvs_raster::derive::time_from_name(raster_name))
            .or(package.tag_times)
            .ok_or_else(|| {
                failure(format!(
                    "no acquisition time: neither the names {name:?} / {raster_name:?} nor the raster's tags give one"
                ))
            })?;
        let id = product_id(name);
        Ok(Job {
            id,
            collection: collection.clone(),
            config,
            geolocation: Geolocation::ModelInGeotiff,
            reference_system: ReferenceSystem::Raw,
            footprint: None,
            start: times.0,
            end: times.1,
            source: SourceInfo {
                file: key.as_str().to_owned(),
                browse_identifier: None,
                report: ReportInfo {
                    name: key.as_str().to_owned(),
                    responsible_org_name: String::new(),
                    date_time: Utc::now(),
                    browse_type: collection,
                },
                merged_with: None,
            },
            properties: Default::default(),
        })
    }

    /// A package with an EO metadata document (EO O&M, GSC) and no browse report: the
    /// document's id, times, footprint and properties; the collection from the message,
    /// else the one whose browse types include the document's product type; the raster's
    /// own georeferencing, else (a plain PNG, JPEG...) north-up on the bounding box of the
    /// document's footprint in EPSG:4326.
    fn described_job(
        &self,
        key: &StorageKey,
        message: &PackageMessage,
        document: &input::PackageDocument,
    ) -> Result<Job, PreprocessError> {
        let metadata = &document.metadata;
        let (collection, config) = match (&message.collection, metadata.product_type()) {
            (Some(name), _) => match self.collections.collections.get(name) {
                Some(config) => (name.clone(), config.clone()),
                None => self
                    .collections
                    .for_browse_type(name)
                    .ok_or_else(|| PreprocessError::UnknownCollection(name.clone()))?,
            },
            (None, Some(product_type)) => self
                .collections
                .for_browse_type(product_type)
                .ok_or_else(|| PreprocessError::UnknownCollection(product_type.to_owned()))?,
            (None, None) => {
                return Err(PreprocessError::Input {
                    input: key.to_string(),
                    reason: format!(
                        "the message names no collection and the metadata document {} gives \
                         no product type to find it by (send {{\"key\": ..., \"collection\": \
                         ...}})",
                        document.name
                    ),
                });
            }
        };
        let browse_type = config
            .browse_types
            .first()
            .cloned()
            .unwrap_or_else(|| collection.clone());
        let (geolocation, reference_system) = if document.georeferenced {
            (Geolocation::ModelInGeotiff, ReferenceSystem::Raw)
        } else {
            (
                bounding_box(&metadata.footprint),
                ReferenceSystem::Epsg(pvs_model::WGS84),
            )
        };
        Ok(Job {
            id: metadata.id.clone(),
            collection,
            config,
            geolocation,
            reference_system,
            footprint: Some(metadata.footprint.clone()),
            start: metadata.start,
            end: metadata.end,
            source: SourceInfo {
                file: key.as_str().to_owned(),
                browse_identifier: None,
                report: ReportInfo {
                    name: format!("{}/{}", key.as_str(), document.name),
                    responsible_org_name: String::new(),
                    date_time: Utc::now(),
                    browse_type,
                },
                merged_with: None,
            },
            properties: metadata.properties.clone(),
        })
    }

    /// Converts and uploads the data asset of a STAC Item (from `preprocess_queue`, handed
    /// over by the registrar): the product gets the Item's id, collection, footprint, times
    /// and properties. The raster's own georeferencing is used; a raster without one (a
    /// plain PNG, JPEG...) is placed north-up on the bounding box of the Item's geometry in
    /// EPSG:4326.
    pub async fn preprocess_item(
        &self,
        item: &ItemRegistration,
    ) -> Result<Preprocessed, PreprocessError> {
        let (browse_type, config) = item
            .collection_config(&self.collections)
            .ok_or_else(|| PreprocessError::UnknownCollection(item.collection.clone()))?;
        let input = item.data.href.to_string();
        let file = match &item.data.href {
            AssetHref::Relative(path) => path.clone(),
            AssetHref::Http(url) => {
                FileName::new(url).map_err(|reason| PreprocessError::Input {
                    input: input.clone(),
                    reason,
                })?
            }
            AssetHref::S3 { .. } => {
                return Err(PreprocessError::Input {
                    input,
                    reason: "an s3:// data asset must come as its storage key (the registrar \
                             gives it so)"
                        .into(),
                });
            }
        };
        let source = input::fetch(&self.storage, &file, &self.settings).await?;
        let gdal_path = source.gdal_path();
        let path = gdal_path.clone();
        let georeferenced = tokio::task::spawn_blocking(move || input::is_georeferenced(&path))
            .await
            .map_err(|e| PreprocessError::Input {
                input: input.clone(),
                reason: format!("reading the raster stopped: {e}"),
            })?;
        let (geolocation, reference_system) = if georeferenced {
            (Geolocation::ModelInGeotiff, ReferenceSystem::Raw)
        } else {
            (
                bounding_box(&item.footprint),
                ReferenceSystem::Epsg(pvs_model::WGS84),
            )
        };
        let job = Job {
            id: item.id.clone(),
            collection: item.collection.clone(),
            config,
            geolocation,
            reference_system,
            footprint: Some(item.footprint.clone()),
            start: item.start,
            end: item.end,
            source: item.source_info(&browse_type, Utc::now()),
            properties: item.properties.clone(),
        };
        let result = self.convert_and_upload(job, gdal_path).await;
        drop(source);
        result
    }

    async fn convert_and_upload(
        &self,
        job: Job,
        gdal_path: String,
    ) -> Result<Preprocessed, PreprocessError> {
        let cog_key: StorageKey = ProductMetadata::cog_key(&job.collection, &job.id)
            .parse()
            .map_err(|e: pvs_storage::KeyError| PreprocessError::BadMessage(e.to_string()))?;
        let metadata_key: StorageKey = ProductMetadata::key(&job.collection, &job.id)
            .parse()
            .map_err(|e: pvs_storage::KeyError| PreprocessError::BadMessage(e.to_string()))?;
        let merge_with = match self.product_there(&metadata_key).await? {
            None => None,
            Some(there) => match job
                .config
                .replacement(job.source.report.date_time, there.source.report.date_time)
            {
                Replacement::Skip => {
                    return Err(PreprocessError::Skipped(skip_reason(&job, &there)));
                }
                Replacement::Replace => None,
                Replacement::Merge => Some(there),
            },
        };
        let work = input::work_dir(&self.settings)?;
        let output = work.path().join(format!("{}.tif", job.id));
        let options = CogOptions {
            compression: job.config.compression,
            block_size: self.settings.block_size,
            quality: self.settings.quality,
            threads: None,
        };
        let input = job.source.file.clone();
        let placement = (
            job.geolocation.clone(),
            job.reference_system,
            job.footprint.clone(),
        );
        let (path, cog, cog_options) = (gdal_path.clone(), output.clone(), options.clone());
        let converted = self
            .on_pool(move || {
                let (geolocation, reference_system, footprint) = placement;
                let placement = Placement {
                    geolocation: &geolocation,
                    reference_system,
                    footprint,
                };
                pvs_raster::convert::to_cog(&path, &placement, &cog, &cog_options)
            })
            .await
            .map_err(|e| input::blame_full_work_dir(work.path(), e))
            .map_err(|e| match e {
                // Name the input as the provider knows it, not the local copy.
                PreprocessError::Raster(RasterError::Open { reason, .. }) => {
                    PreprocessError::Input {
                        reason: format!(
                            "cannot be opened as a raster: {}",
                            reason.replace(&gdal_path, &input)
                        ),
                        input,
                    }
                }
                other => other,
            })?;
        let mut product = Product {
            output,
            description: converted.description,
            footprint: converted.footprint,
            start: job.start,
            end: job.end,
            source: job.source,
        };
        if let Some(there) = merge_with {
            product = self.merge(&there, product, &options).await?;
        }
        let size_bytes = tokio::fs::metadata(&product.output)
            .await
            .map_err(|e| PreprocessError::Input {
                input: product.output.display().to_string(),
                reason: format!("the COG just written cannot be read: {e}"),
            })?
            .len();
        self.storage.put_file(&cog_key, &product.output).await?;
        let metadata = ProductMetadata {
            id: job.id,
            collection: job.collection,
            footprint: GeoJsonGeometry::from(&product.footprint),
            start: product.start,
            end: product.end,
            cog: product
                .description
                .cog_info(cog_key.to_string(), size_bytes),
            source: product.source,
            processed_at: Utc::now(),
            properties: job.properties,
            masks: Default::default(),
        };
        let json = Bytes::from(metadata.to_json());
        self.storage.put(&metadata_key, json).await?;
        Ok(Preprocessed {
            metadata,
            metadata_key,
        })
    }

    /// The product `new` (just converted) merged with the version `there` on storage (the
    /// collection's strategy `merge`): `new`'s image composited over `there`'s, each inside
    /// its footprint ([`pvs_raster::merge`]), written beside `new`'s; the footprint and times
    /// are the union of both, the source `new`'s, merged with `there`'s report.
    async fn merge(
        &self,
        there: &ProductMetadata,
        new: Product,
        options: &CogOptions,
    ) -> Result<Product, PreprocessError> {
        let merging = |reason: String| PreprocessError::Input {
            input: there.cog.key.clone(),
            reason: format!(
                "merging with the version from the report {:?} there: {reason}",
                there.source.report.name
            ),
        };
        let key: StorageKey = there
            .cog
            .key
            .parse()
            .map_err(|e: pvs_storage::KeyError| merging(e.to_string()))?;
        let old = input::fetch_key(&self.storage, &key, &self.settings).await?;
        let (old_path, old_footprint) = (old.gdal_path(), MultiPolygon::from(&there.footprint));
        let (new_path, new_footprint) = (new.output.clone(), new.footprint.clone());
        let output = new.output.with_extension("merged.tif");
        let work = output.parent().map(Path::to_path_buf).unwrap_or_default();
        let (merged_path, options) = (output.clone(), options.clone());
        let merged = self
            .on_pool(move || {
                let new_path = new_path.to_str().ok_or_else(|| {
                    RasterError::Unsuitable(format!("path {} is not UTF-8", new_path.display()))
                })?;
                pvs_raster::merge::merge(
                    Version {
                        path: &old_path,
                        footprint: &old_footprint,
                    },
                    Version {
                        path: new_path,
                        footprint: &new_footprint,
                    },
                    &merged_path,
                    &options,
                )
            })
            .await
            .map_err(|e| input::blame_full_work_dir(&work, e))
            .map_err(|e| match e {
                PreprocessError::Raster(e) => merging(e.to_string()),
                other => other,
            })?;
        drop(old);
        Ok(Product {
            output,
            description: merged.description,
            footprint: merged.footprint,
            start: new.start.min(there.start),
            end: new.end.max(there.end),
            source: SourceInfo {
                merged_with: Some(there.source.report.clone()),
                ..new.source
            },
        })
    }

    /// The metadata document of the product on storage at `metadata_key`, if there is a
    /// readable one.
    async fn product_there(
        &self,
        metadata_key: &StorageKey,
    ) -> Result<Option<ProductMetadata>, PreprocessError> {
        let bytes = match self.storage.get(metadata_key).await {
            Ok(bytes) => bytes,
            Err(StorageError::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        Ok(std::str::from_utf8(&bytes)
            .ok()
            .and_then(|text| ProductMetadata::from_json(text).ok()))
    }

    /// Runs GDAL work on the conversion pool; the async runtime only awaits it.
    async fn on_pool<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> Result<T, RasterError> + Send + 'static,
    ) -> Result<T, PreprocessError> {
        let (sender, receiver) = tokio::sync::oneshot::channel();
        self.pool.spawn(move || {
            let _ = sender.send(work());
        });
        let result = receiver.await.map_err(|_| PreprocessError::Input {
            input: "conversion".into(),
            reason: "the conversion thread stopped without an answer".into(),
        })?;
        Ok(result?)
    }

    /// Handles one message of `queue` (`PreprocessMd`: a browse item; `Preprocess`: a
    /// package), recording the outcome in the status sets and pushing the result to
    /// `register_queue`. Only queue errors are returned (the message is then retried).
    pub async fn handle(
        &self,
        queue: QueueName,
        message: &str,
    ) -> Result<Option<Preprocessed>, QueueError> {
        self.handle_as(queue, message, None).await
    }

    /// [`Preprocessor::handle`] for the consumer `consumer` of `queue`, which took
    /// `message`: the product goes on to `register_queue` only if the consumer still holds
    /// the item ([`WorkQueue::push_if_held`]). A consumer cut off from the queue past its
    /// heartbeat loses its items to the others; when it comes back with a product another
    /// consumer already made, that product is not registered a second time.
    async fn handle_as(
        &self,
        queue: QueueName,
        message: &str,
        consumer: Option<&str>,
    ) -> Result<Option<Preprocessed>, QueueError> {
        let (id, report, result) = match queue {
            QueueName::PreprocessMd => match BrowseItem::from_json(message) {
                Ok(item) => {
                    self.queue.mark_started(Stage::Preprocess, &item.id).await?;
                    let result = self.retrying(&item.id, || self.preprocess(&item)).await;
                    (item.id, Some(item.report.name), result)
                }
                Err(e) => (
                    id_hint(message),
                    None,
                    Err(PreprocessError::BadMessage(format!("browse item: {e}"))),
                ),
            },
            _ => match PreprocessMessage::parse(message) {
                Ok(PreprocessMessage::Item(item)) => {
                    self.queue.mark_started(Stage::Preprocess, &item.id).await?;
                    let result = self
                        .retrying(&item.id, || self.preprocess_item(&item))
                        .await;
                    (item.id, None, result)
                }
                Ok(PreprocessMessage::Package(package)) => {
                    let id = product_id(package.key.rsplit('/').next().unwrap_or(&package.key));
                    self.queue.mark_started(Stage::Preprocess, &id).await?;
                    let result = self
                        .retrying(&id, || self.preprocess_package(&package))
                        .await;
                    // A browse report inside the package names the product: it is recorded
                    // under that id, and the package's name leaves the in-flight set.
                    let id = match &result {
                        Ok(done) if done.metadata.id != id => {
                            self.queue.forget(Stage::Preprocess, &id).await?;
                            self.queue
                                .mark_started(Stage::Preprocess, &done.metadata.id)
                                .await?;
                            done.metadata.id.clone()
                        }
                        _ => id,
                    };
                    (id, None, result)
                }
                Err(e) => (id_hint(message), None, Err(e)),
            },
        };
        match result {
            Ok(done) => {
                let next = done.metadata_key.as_str();
                let handed_on = match consumer {
                    Some(consumer) => {
                        self.queue
                            .push_if_held(queue, consumer, message, QueueName::Register, next)
                            .await?
                    }
                    None => {
                        self.queue.push(QueueName::Register, next).await?;
                        true
                    }
                };
                if !handed_on {
                    tracing::warn!(product = %id, "another consumer took this item over while this one could not reach the queue: its product is not registered again");
                    return Ok(None);
                }
                self.queue.mark_succeeded(Stage::Preprocess, &id).await?;
                tracing::info!(product = %id, cog = %done.metadata.cog.key, "preprocessed");
                Ok(Some(done))
            }
            Err(PreprocessError::Queue(e)) => Err(e),
            Err(PreprocessError::Skipped(reason)) => {
                tracing::info!(product = %id, reason = %reason, "skipped");
                self.queue.mark_succeeded(Stage::Preprocess, &id).await?;
                let outcome = RegistrationOutcome::Skipped { reason };
                self.record_outcome(report.as_deref(), &id, &outcome)
                    .await?;
                Ok(None)
            }
            Err(e) => {
                let reason = e.to_string();
                tracing::warn!(product = %id, error = %reason, "preprocessing failed");
                self.queue
                    .mark_failed_item(Stage::Preprocess, &id, &reason, queue, message)
                    .await?;
                let outcome = RegistrationOutcome::Failure {
                    reason: format!("preprocessing failed: {reason}"),
                };
                self.record_outcome(report.as_deref(), &id, &outcome)
                    .await?;
                Ok(None)
            }
        }
    }

    /// Runs `work` on product `id`, again while it fails on a transient fault (`self.retry`).
    async fn retrying<Fut>(
        &self,
        id: &str,
        work: impl FnMut() -> Fut,
    ) -> Result<Preprocessed, PreprocessError>
    where
        Fut: std::future::Future<Output = Result<Preprocessed, PreprocessError>>,
    {
        self.retry
            .run(
                &format!("preprocessing product {id}"),
                work,
                PreprocessError::is_transient,
            )
            .await
    }

    /// Records the final outcome of product `id` in its browse report's registration report,
    /// when it came from one (`report`): a product that goes no further than here.
    async fn record_outcome(
        &self,
        report: Option<&str>,
        id: &str,
        outcome: &RegistrationOutcome,
    ) -> Result<(), QueueError> {
        let Some(report) = report else {
            return Ok(());
        };
        pvs_queue::reports::record_outcome(
            self.queue.as_ref(),
            self.report_dir.as_deref(),
            report,
            id,
            outcome,
        )
        .await
    }

    /// Consumes `preprocess-md_queue` and `preprocess_queue` with `concurrency` consumers
    /// each (`name-md-0`..., `name-pkg-0`...), one item at a time per consumer, until
    /// `shutdown` is set. Items of dead consumers are recovered at start-up and every minute.
    pub async fn run(
        self: Arc<Self>,
        name: &str,
        concurrency: usize,
        shutdown: tokio::sync::watch::Receiver<bool>,
    ) -> Result<(), QueueError> {
        let mut loops = Vec::new();
        for i in 0..concurrency.max(1) {
            for (queue, tag) in [
                (QueueName::PreprocessMd, "md"),
                (QueueName::Preprocess, "pkg"),
            ] {
                loops.push(tokio::spawn(self.clone().consume(
                    queue,
                    format!("{name}-{tag}-{i}"),
                    shutdown.clone(),
                )));
            }
        }
        pvs_queue::join_workers(loops, "preprocessor").await
    }

    async fn consume(
        self: Arc<Self>,
        queue: QueueName,
        name: String,
        shutdown: tokio::sync::watch::Receiver<bool>,
    ) -> Result<(), QueueError> {
        pvs_queue::consume(self.queue.as_ref(), queue, &name, shutdown, |payload| {
            let this = self.clone();
            let name = name.clone();
            async move { this.handle_as(queue, &payload, Some(&name)).await.map(drop) }
        })
        .await
    }
}

/// One conversion: what to convert and what to record about it.
struct Job {
    id: String,
    collection: String,
    config: CollectionConfig,
    geolocation: Geolocation,
    reference_system: ReferenceSystem,
    footprint: Option<MultiPolygon<f64>>,
    start: chrono::DateTime<Utc>,
    end: chrono::DateTime<Utc>,
    source: SourceInfo,
    /// The product's properties (from a STAC Item), for its metadata document.
    properties: serde_json::Map<String, serde_json::Value>,
}

/// A COG written in the work folder, with what its metadata document records.
struct Product {
    output: PathBuf,
    description: pvs_raster::cog::Description,
    footprint: MultiPolygon<f64>,
    start: chrono::DateTime<Utc>,
    end: chrono::DateTime<Utc>,
    source: SourceInfo,
}

/// Why `job` is not preprocessed when the product is already on storage (`there`) from a
/// browse report the collection's strategy keeps over this one's.
fn skip_reason(job: &Job, there: &ProductMetadata) -> String {
    let (new, registered) = (&job.source.report, &there.source.report);
    format!(
        "product {} from the report {:?} dated {} is already there from the report {:?} dated \
         {} (strategy {} of collection {})",
        job.id,
        new.name,
        new.date_time.to_rfc3339(),
        registered.name,
        registered.date_time.to_rfc3339(),
        job.config.strategy.as_str(),
        job.collection
    )
}

/// `rectifiedBrowse` on the bounding box of `footprint` (EPSG:4326, `lat lon` pairs as
/// reports write them). A footprint split at the antimeridian is taken whole: its western
/// parts move east by 360° so that the box spans the antimeridian rather than the world.
fn bounding_box(footprint: &MultiPolygon<f64>) -> Geolocation {
    use geo::{BoundingRect, Translate};
    let parts = |x: f64| {
        footprint
            .0
            .iter()
            .any(|p| p.exterior().0.iter().any(|c| c.x == x))
    };
    let whole = if parts(180.0) && parts(-180.0) {
        MultiPolygon::new(
            footprint
                .0
                .iter()
                .map(|polygon| {
                    let west = polygon.bounding_rect().is_some_and(|r| r.max().x <= 0.0);
                    if west {
                        polygon.translate(360.0, 0.0)
                    } else {
                        polygon.clone()
                    }
                })
                .collect(),
        )
    } else {
        footprint.clone()
    };
    let rect = whole.bounding_rect().expect("a footprint is never empty");
    Geolocation::Rectified {
        ll: (rect.min().y, rect.min().x),
        ur: (rect.max().y, rect.max().x),
    }
}

/// A product id from a file name: the name without its extensions, characters other than
/// letters, digits, `.`, `-`, `_` replaced by `_`.
pub fn product_id(file_name: &str) -> String {
    let stem = file_name
        .strip_suffix(".tar.gz")
        .or_else(|| file_name.rsplit_once('.').map(|(stem, _)| stem))
        .unwrap_or(file_name);
    stem.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The status-set name of a message that could not be read: its start, printable.
fn id_hint(message: &str) -> String {
    let hint: String = message
        .chars()
        .filter(|c| !c.is_control())
        .take(80)
        .collect();
    if hint.is_empty() {
        "(empty message)".to_owned()
    } else {
        hint
    }
}

/// A report found inside a package and the index of its browse for the package's raster.
pub(crate) type PackageReport = (BrowseReport, usize);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_item_without_georeferencing_is_placed_on_its_box() {
        let square = pvs_model::footprint_from_lon_lat(&[
            (10.0, 49.0),
            (12.0, 49.0),
            (12.0, 50.0),
            (10.0, 50.0),
            (10.0, 49.0),
        ])
        .unwrap();
        assert_eq!(
            bounding_box(&square),
            Geolocation::Rectified {
                ll: (49.0, 10.0),
                ur: (50.0, 12.0)
            }
        );
        // Split at the antimeridian: one box across it, not one around the world.
        let across = pvs_model::footprint_from_lon_lat(&[
            (170.0, 10.0),
            (-170.0, 10.0),
            (-170.0, 20.0),
            (170.0, 20.0),
            (170.0, 10.0),
        ])
        .unwrap();
        assert_eq!(across.0.len(), 2);
        assert_eq!(
            bounding_box(&across),
            Geolocation::Rectified {
                ll: (10.0, 170.0),
                ur: (20.0, 190.0)
            }
        );
    }
}
