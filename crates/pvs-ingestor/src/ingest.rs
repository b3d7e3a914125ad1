//! Ingesting one report: parse, resolve each browse's image, queue the good browses, answer.
//!
//! Policy for partly bad reports: every browse is judged on its own. The good ones are queued
//! (all together, atomically: either all of them are queued or, on a queue error, none), the
//! bad ones are reported as failures with the element and reason, and the report's status is
//! `partial`. A report whose structure is bad (not XML, wrong root, missing report elements)
//! is refused as a whole and nothing is queued.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

use pvs_model::{
    AssetHref, BrowseItem, BrowseReport, BrowseResult, Collections, ExceptionCode, FileName,
    IngestionResponse, Outcome, ProductMetadata, Replacement, ReportError, ReportInfo, parse_item,
};
use pvs_queue::{QueueError, QueueName, Stage, StatusSet, WorkQueue};
use pvs_storage::{Storage, StorageKey};

/// Where a report's images are.
#[derive(Debug, Clone, Copy)]
pub enum Images<'a> {
    /// Already on object storage, under the ingest prefix (HTTP mode).
    InStorage,
    /// Files beside the report in this folder (watch mode): uploaded to storage first.
    BesideReport(&'a Path),
}

/// Why a whole report was not ingested.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// The report is not a readable browse report (answer 400).
    #[error(transparent)]
    Report(#[from] ReportError),
    /// The queue could not take the items; nothing was queued (answer 503).
    #[error("the report was not queued: {0}")]
    Queue(#[from] QueueError),
}

/// A report that was read: what happened to each browse.
#[derive(Debug)]
pub struct Ingested {
    /// The answer for the provider.
    pub response: IngestionResponse,
    /// How many browses were queued.
    pub queued: usize,
}

/// What became of a STAC Item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItemIngested {
    /// Queued on `register_queue` (the registrar registers it, or hands it to the
    /// preprocessor when its data asset is not a COG).
    Queued {
        /// The product id.
        id: String,
        /// Its collection.
        collection: String,
        /// Where its data asset is now: the storage key it was uploaded to, or the URL.
        data: String,
    },
    /// Not queued, and why (a bad Item, or a data asset that cannot be uploaded).
    Refused(String),
}

/// The ingestor's core, shared by the HTTP endpoint and the watch folder.
pub struct Ingestor {
    queue: Arc<dyn WorkQueue>,
    storage: Option<Storage>,
    prefix: Option<StorageKey>,
    /// The collections whose replacement strategies answer browses
    /// ([`Ingestor::with_collections`]).
    collections: Option<Collections>,
}

impl Ingestor {
    /// An ingestor queueing to `queue`. With `storage`, images referenced by HTTP reports
    /// are checked to exist there and watch-folder images are uploaded there; `prefix` is
    /// put before every image's `fileName` to make its storage key.
    pub fn new(
        queue: Arc<dyn WorkQueue>,
        storage: Option<Storage>,
        prefix: Option<StorageKey>,
    ) -> Self {
        Self {
            queue,
            storage,
            prefix,
            collections: None,
        }
    }

    /// Answers browses by the replacement strategy of their collection in `collections`
    /// (ngEO's rules; [`pvs_model::CollectionConfig::replacement`]) against the version of
    /// their product on storage, whose metadata document (`<collection>/<id>/<id>.json`)
    /// names its report: skipped when the strategy keeps that version, inserted when it
    /// merges. Needs a storage; the browse is queued all the same, so that the preprocessor
    /// decides for good and the registration report says why.
    pub fn with_collections(mut self, collections: Collections) -> Self {
        self.collections = Some(collections);
        self
    }

    /// What the strategy of the browse's collection does with the version of its product on
    /// storage: [`Outcome::Skipped`] with the reason, or [`Outcome::Inserted`] for a merge
    /// (ngEO counts a merge as an insertion). A best guess: `None` when there is nothing to
    /// compare with, the strategy replaces, or storage cannot tell (the preprocessor decides).
    async fn by_strategy(&self, item: &BrowseItem) -> Option<Outcome> {
        let (storage, collections) = (self.storage.as_ref()?, self.collections.as_ref()?);
        let (collection, config) = collections.for_browse_type(&item.collection)?;
        let key: StorageKey = ProductMetadata::key(&collection, &item.id).parse().ok()?;
        let bytes = match storage.get(&key).await {
            Ok(bytes) => bytes,
            Err(pvs_storage::StorageError::NotFound { .. }) => return None,
            Err(error) => {
                tracing::warn!(%error, key = key.as_str(), "cannot read a metadata document to compare reports");
                return None;
            }
        };
        let there = ProductMetadata::from_json(std::str::from_utf8(&bytes).ok()?).ok()?;
        let registered = &there.source.report;
        match config.replacement(item.report.date_time, registered.date_time) {
            Replacement::Replace => None,
            Replacement::Merge => Some(Outcome::Inserted),
            Replacement::Skip => Some(Outcome::Skipped {
                reason: format!(
                    "product {} is there from the report {:?} dated {}, which strategy {} of \
                     collection {collection} keeps over a report dated {}",
                    item.id,
                    registered.name,
                    registered.date_time.to_rfc3339(),
                    config.strategy.as_str(),
                    item.report.date_time.to_rfc3339(),
                ),
            }),
        }
    }

    /// The queue items go to.
    pub fn queue(&self) -> &Arc<dyn WorkQueue> {
        &self.queue
    }

    /// The storage images are checked in or uploaded to, if any.
    pub fn storage(&self) -> Option<&Storage> {
        self.storage.as_ref()
    }

    /// Ingests one report named `report_name` (its file name, or an id for HTTP reports).
    pub async fn ingest(
        &self,
        bytes: &[u8],
        report_name: &str,
        images: Images<'_>,
    ) -> Result<Ingested, IngestError> {
        let report = BrowseReport::parse(bytes)?;
        let mut results = Vec::with_capacity(report.browses.len());
        let mut items = Vec::new();
        let mut ids = HashSet::new();
        for (index, browse) in report.browses.iter().enumerate() {
            let browse = match browse {
                Ok(browse) => browse,
                Err(error) => {
                    results.push(BrowseResult::from(error));
                    continue;
                }
            };
            let identifier = browse.identifier.as_ref().map(ToString::to_string);
            let failed = |code, message: String| BrowseResult {
                identifier: identifier.clone(),
                outcome: Outcome::Failed { code, message },
            };
            let mut item = BrowseItem::new(&report, browse, report_name);
            if !ids.insert(item.id.clone()) {
                results.push(failed(
                    ExceptionCode::ValidationError,
                    format!(
                        "browse {} ({}): product id {:?} appears more than once in the report",
                        index + 1,
                        identifier.as_deref().unwrap_or("no identifier"),
                        item.id
                    ),
                ));
                continue;
            }
            match self.resolve_image(&browse.file_name, images).await {
                Ok(file) => item.file = file,
                Err(problem) => {
                    results.push(failed(
                        ExceptionCode::IngestionException,
                        format!(
                            "browse {} ({}): rep:fileName: {problem}",
                            index + 1,
                            identifier.as_deref().unwrap_or("no identifier")
                        ),
                    ));
                    continue;
                }
            }
            let outcome = match self.by_strategy(&item).await {
                Some(outcome) => {
                    if let Outcome::Skipped { reason } = &outcome {
                        tracing::info!(report = report_name, product = %item.id, %reason, "browse skipped");
                    }
                    outcome
                }
                None if self
                    .queue
                    .is_member(Stage::Register, StatusSet::Success, &item.id)
                    .await? =>
                {
                    Outcome::Replaced
                }
                None => Outcome::Inserted,
            };
            results.push(BrowseResult {
                identifier,
                outcome,
            });
            items.push(item.to_json());
        }
        if !items.is_empty() {
            // Opened before the items are queued, so that the registrar never finishes a
            // product of a report it does not know yet.
            let info = ReportInfo {
                name: report_name.to_owned(),
                responsible_org_name: report.responsible_org_name.clone(),
                date_time: report.date_time,
                browse_type: report.browse_type.clone(),
            };
            pvs_queue::reports::open(self.queue.as_ref(), &info, items.len()).await?;
        }
        self.queue
            .push_many(QueueName::PreprocessMd, &items)
            .await?;
        tracing::info!(
            report = report_name,
            browse_type = %report.browse_type,
            browses = report.browses.len(),
            queued = items.len(),
            "report ingested"
        );
        Ok(Ingested {
            response: IngestionResponse { results },
            queued: items.len(),
        })
    }

    /// Ingests one STAC Item (JSON; [`pvs_model::parse_item`]; it must name its collection):
    /// its data asset, when given by a relative href, is resolved like the image of a browse
    /// (in watch mode the file beside the Item is uploaded to `prefix/href`) and the Item,
    /// its href now that storage key, is pushed to `register_queue`. The registrar decides
    /// what becomes of it: a COG is registered as it is, anything else goes to the
    /// preprocessor. `s3://` and `http(s)://` hrefs are passed on as they are. Only queue
    /// errors are errors (nothing was queued: try again).
    pub async fn ingest_item(
        &self,
        bytes: &[u8],
        images: Images<'_>,
    ) -> Result<ItemIngested, QueueError> {
        let mut item = match parse_item(bytes, None) {
            Ok(item) => item,
            Err(error) => return Ok(ItemIngested::Refused(error.to_string())),
        };
        if let AssetHref::Relative(path) = &item.data.href {
            match self.resolve_image(path, images).await {
                Ok(key) => item.set_data_href(AssetHref::Relative(key)),
                Err(problem) => {
                    return Ok(ItemIngested::Refused(format!(
                        "STAC Item {}: data asset {:?}: {problem}",
                        item.id, item.data.name
                    )));
                }
            }
        }
        self.queue
            .push(QueueName::Register, &item.to_json())
            .await?;
        tracing::info!(product = %item.id, collection = %item.collection, data = %item.data.href, "STAC Item queued");
        Ok(ItemIngested::Queued {
            id: item.id.clone(),
            collection: item.collection.clone(),
            data: item.data.href.to_string(),
        })
    }

    /// The reference the preprocessor reads the image from: a URL as given, or the storage
    /// key `prefix/fileName` (uploading the file beside the report in watch mode).
    async fn resolve_image(&self, file: &FileName, images: Images<'_>) -> Result<FileName, String> {
        if file.is_url() {
            return Ok(file.clone());
        }
        let key = match &self.prefix {
            Some(prefix) => prefix.join(file.as_str()),
            None => StorageKey::parse(file.as_str()),
        }
        .map_err(|e| e.to_string())?;
        match images {
            Images::InStorage => {
                if let Some(storage) = &self.storage {
                    match storage.exists(&key).await {
                        Ok(true) => {}
                        Ok(false) => {
                            return Err(format!(
                                "image {:?} not found in storage: no object `{}` in {}",
                                file.as_str(),
                                key.as_str(),
                                storage.url()
                            ));
                        }
                        Err(e) => {
                            return Err(format!("cannot check image {:?}: {e}", file.as_str()));
                        }
                    }
                }
            }
            Images::BesideReport(dir) => {
                let storage = self.storage.as_ref().ok_or_else(|| {
                    "no storage configured to upload the image to (set STORAGE_URL)".to_owned()
                })?;
                let path = local_image(dir, file)?;
                storage
                    .put_file(&key, &path)
                    .await
                    .map_err(|e| format!("cannot upload image {:?}: {e}", file.as_str()))?;
            }
        }
        FileName::new(key.as_str()).map_err(|e| format!("storage key {}: {e}", key.as_str()))
    }
}

/// The image `file` beside a report in `dir`: it must exist, be a non-empty regular file and
/// stay inside `dir` even through symbolic links.
fn local_image(dir: &Path, file: &FileName) -> Result<std::path::PathBuf, String> {
    let root = dir
        .canonicalize()
        .map_err(|e| format!("cannot open the report folder {}: {e}", dir.display()))?;
    let path = root.join(file.as_str());
    let real = path
        .canonicalize()
        .map_err(|_| format!("image {:?} not found beside the report", file.as_str()))?;
    if !real.starts_with(&root) {
        return Err(format!(
            "image {:?} leads outside the report folder",
            file.as_str()
        ));
    }
    let meta = std::fs::metadata(&real)
        .map_err(|e| format!("cannot read image {:?}: {e}", file.as_str()))?;
    if !meta.is_file() {
        return Err(format!("image {:?} is not a file", file.as_str()));
    }
    if meta.len() == 0 {
        return Err(format!("image {:?} is empty", file.as_str()));
    }
    Ok(real)
}
