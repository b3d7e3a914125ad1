//! Registering what is already on storage (`pvs registrar --objects-prefix`): metadata
//! documents, COGs beside an EO metadata document (EO O&M, GSC), and COGs without either
//! (see [`crate::derive`]).

use std::collections::{HashMap, HashSet};

use pvs_model::{
    EoMetadata, EoMetadataError, MAX_EO_METADATA_BYTES, ProductMetadata, parse_eo_metadata,
};
use pvs_storage::StorageKey;

use crate::derive::{cog_id, file_name_of};
use crate::{RegisterError, Registered, Registrar};

/// Options of [`Registrar::register_prefix`].
#[derive(Debug, Clone, Default)]
pub struct PrefixOptions {
    /// Register into this collection whatever the browse type. Required for COGs without a
    /// metadata document (nothing else tells their collection).
    pub collection: Option<String>,
    /// Replace products that are already registered (otherwise they are skipped).
    pub replace: bool,
    /// Only say what would be done.
    pub dry_run: bool,
}

/// What became of one product under a prefix (a metadata document, or a COG without one).
#[derive(Debug)]
pub enum PrefixOutcome {
    /// Registered (inserted or replaced); boxed, as a product is large.
    Registered(Box<Registered>),
    /// `--dry-run`: would be registered.
    WouldRegister {
        /// The product id.
        id: String,
        /// The collection it would go to.
        collection: String,
        /// Whether it would replace a registered product.
        replaces: bool,
    },
    /// Left alone.
    Skipped {
        /// The product id.
        id: String,
        /// Why.
        reason: String,
    },
    /// Could not be registered.
    Failed {
        /// The key of the document, or of the COG without a document.
        key: String,
        /// Why.
        reason: String,
    },
}

impl Registrar {
    /// Registers the products under storage `prefix`, without a queue (the operator's
    /// `registrar --objects-prefix`): each metadata document (`*.json`), and each COG
    /// (`*.tif`, `*.tiff`) in a folder without a metadata document. In such a folder, an
    /// EO O&M or GSC document (`*.xml`) gives the id, times, footprint and properties of the
    /// COG it describes ([`Registrar::document_metadata`]; see [`FolderPlan`] for which COG);
    /// without one, the metadata is derived from the COG ([`Registrar::derive_metadata`];
    /// `options.collection` is required for those). Each gives one outcome, in the order of
    /// the listing; the status sets are not touched. An error when the prefix holds neither.
    pub async fn register_prefix(
        &self,
        prefix: &str,
        options: &PrefixOptions,
    ) -> Result<Vec<PrefixOutcome>, RegisterError> {
        let (key, keys) = self.list_prefix(prefix).await?;
        let documented: HashSet<&str> = keys
            .iter()
            .filter(|k| is_document(k))
            .map(folder_of)
            .collect();
        let plans = self.folder_plans(&keys, &documented).await;
        let mut outcomes = Vec::new();
        for key in &keys {
            if is_document(key) {
                outcomes.push(self.register_document(key, options).await);
            } else if is_tiff(key) && !documented.contains(folder_of(key)) {
                let outcome = match plans.get(folder_of(key)) {
                    None => self.register_cog(key, options).await,
                    Some(FolderPlan::Failed(reason)) => PrefixOutcome::Failed {
                        key: key.as_str().to_owned(),
                        reason: reason.clone(),
                    },
                    Some(FolderPlan::Described {
                        document_key,
                        document,
                        cog,
                    }) if cog == key => {
                        self.register_described(key, document_key, document, options)
                            .await
                    }
                    Some(FolderPlan::Described {
                        document_key,
                        document,
                        cog,
                    }) => PrefixOutcome::Skipped {
                        id: cog_id(key),
                        reason: format!(
                            "not the raster of product {} (its metadata document {} \
                             describes {})",
                            document.id,
                            document_key.as_str(),
                            file_name_of(cog)
                        ),
                    },
                };
                outcomes.push(outcome);
            }
        }
        if outcomes.is_empty() {
            return Err(RegisterError::Metadata {
                key: key.as_str().to_owned(),
                reason: format!(
                    "no metadata document (*.json) and no COG (*.tif, *.tiff) under the \
                     prefix ({} other objects)",
                    keys.len()
                ),
            });
        }
        Ok(outcomes)
    }

    async fn register_document(&self, key: &StorageKey, options: &PrefixOptions) -> PrefixOutcome {
        let failed = |reason: String| PrefixOutcome::Failed {
            key: key.as_str().to_owned(),
            reason,
        };
        let metadata = match self.read_metadata(key).await {
            Ok(metadata) => metadata,
            Err(e) => return failed(e.to_string()),
        };
        let forced = options.collection.as_deref();
        let collection = match self.collection_of(&metadata, forced) {
            Ok((name, _)) => name,
            Err(e) => return failed(e.to_string()),
        };
        let exists = match self
            .may_register(&collection, &metadata.id, key, options)
            .await
        {
            Ok(exists) => exists,
            Err(outcome) => return outcome,
        };
        if options.dry_run {
            return PrefixOutcome::WouldRegister {
                id: metadata.id,
                collection,
                replaces: exists,
            };
        }
        match self.register_into(&metadata, forced).await {
            Ok(registered) => PrefixOutcome::Registered(Box::new(registered)),
            Err(RegisterError::Skipped { id, reason }) => PrefixOutcome::Skipped { id, reason },
            Err(e) => failed(e.to_string()),
        }
    }

    /// A COG without a metadata document: its metadata derived, then registered into
    /// `options.collection`.
    async fn register_cog(&self, key: &StorageKey, options: &PrefixOptions) -> PrefixOutcome {
        let failed = |reason: String| PrefixOutcome::Failed {
            key: key.as_str().to_owned(),
            reason,
        };
        let Some(collection) = options.collection.as_deref() else {
            return failed(
                "a COG without a metadata document needs --collection: nothing else tells \
                 which collection it belongs to"
                    .to_owned(),
            );
        };
        let id = cog_id(key);
        let exists = match self.may_register(collection, &id, key, options).await {
            Ok(exists) => exists,
            Err(outcome) => return outcome,
        };
        let (metadata, derived) = match self.derive_metadata(key, collection).await {
            Ok(derived) => derived,
            Err(e) => return failed(e.to_string()),
        };
        tracing::info!(product = %id, cog = key.as_str(), %derived, "no metadata document: metadata derived from the COG");
        if options.dry_run {
            return PrefixOutcome::WouldRegister {
                id,
                collection: collection.to_owned(),
                replaces: exists,
            };
        }
        match self.register_into(&metadata, Some(collection)).await {
            Ok(mut registered) => {
                registered.derived = Some(derived);
                PrefixOutcome::Registered(Box::new(registered))
            }
            Err(RegisterError::Skipped { id, reason }) => PrefixOutcome::Skipped { id, reason },
            Err(e) => failed(e.to_string()),
        }
    }

    /// What the EO metadata documents (`*.xml`) of the folders holding COGs but no metadata
    /// document (`*.json`) say, by folder. A folder without an EO document has no plan.
    async fn folder_plans(
        &self,
        keys: &[StorageKey],
        documented: &HashSet<&str>,
    ) -> HashMap<String, FolderPlan> {
        let with_cogs: HashSet<&str> = keys
            .iter()
            .filter(|k| is_tiff(k))
            .map(folder_of)
            .filter(|folder| !documented.contains(folder))
            .collect();
        let mut documents: HashMap<&str, Vec<ReadDocument>> = HashMap::new();
        for key in keys
            .iter()
            .filter(|k| is_xml(k) && with_cogs.contains(folder_of(k)))
        {
            let document = match self.read_eo_document(key).await {
                // Another kind of XML: not about the product.
                Ok(None) => continue,
                Ok(Some(document)) => Ok(document),
                Err(reason) => Err(reason),
            };
            documents
                .entry(folder_of(key))
                .or_default()
                .push((key, document));
        }
        let mut plans = HashMap::new();
        'folders: for (folder, documents) in documents {
            let mut cogs = Vec::new();
            for key in keys.iter().filter(|k| is_tiff(k) && folder_of(k) == folder) {
                match self.storage.head(key).await {
                    Ok(object) => cogs.push((key, object.size)),
                    Err(e) => {
                        let reason = format!("cannot read the size of {}: {e}", key.as_str());
                        plans.insert(folder.to_owned(), FolderPlan::Failed(reason));
                        continue 'folders;
                    }
                }
            }
            plans.insert(folder.to_owned(), FolderPlan::new(documents, &cogs));
        }
        plans
    }

    /// The EO metadata document at `key`: `Ok(None)` when it is XML about something else;
    /// `Err` with the reason when it cannot be read or used.
    async fn read_eo_document(&self, key: &StorageKey) -> Result<Option<EoMetadata>, String> {
        let object = self.storage.head(key).await.map_err(|e| e.to_string())?;
        if object.size > MAX_EO_METADATA_BYTES as u64 {
            let size = usize::try_from(object.size).unwrap_or(usize::MAX);
            return Err(EoMetadataError::TooLarge(size).to_string());
        }
        let bytes = self.storage.get(key).await.map_err(|e| e.to_string())?;
        match parse_eo_metadata(&bytes) {
            Ok(document) => Ok(Some(document)),
            Err(EoMetadataError::NotEoMetadata { found }) => {
                tracing::debug!(key = key.as_str(), %found, "not an EO metadata document");
                Ok(None)
            }
            Err(e) => Err(e.to_string()),
        }
    }

    /// The metadata of the one product under `prefix`, as the PRISM View Server puts a
    /// product folder on `register_queue`: its metadata document (`*.json`), else the COG its
    /// EO O&M or GSC document describes (into the collection configured for the document's
    /// product type, given beside the metadata: the collection the product goes to). An error
    /// says why when the folder holds neither, or several.
    pub(crate) async fn prefix_metadata(
        &self,
        prefix: &str,
    ) -> Result<(ProductMetadata, Option<String>), RegisterError> {
        let bad = |reason: String| RegisterError::Folder {
            prefix: prefix.chars().take(200).collect(),
            reason,
        };
        let (_, keys) = self.list_prefix(prefix).await?;
        let documents: Vec<&StorageKey> = keys.iter().filter(|k| is_document(k)).collect();
        match documents[..] {
            [document] => return Ok((self.read_metadata(document).await?, None)),
            [] => {}
            _ => {
                return Err(bad(format!(
                    "the product folder holds {} metadata documents (*.json); one is expected",
                    documents.len()
                )));
            }
        }
        let plans = self.folder_plans(&keys, &HashSet::new()).await;
        let mut plans = plans.into_values();
        match (plans.next(), plans.next()) {
            (
                Some(FolderPlan::Described {
                    document_key,
                    document,
                    cog,
                }),
                None,
            ) => {
                let collection = self
                    .collection_of_document(&document, &document_key, None)
                    .map_err(bad)?;
                let metadata = self
                    .document_metadata(&cog, &document_key, &document, &collection)
                    .await?;
                Ok((metadata, Some(collection)))
            }
            (Some(FolderPlan::Failed(reason)), None) => Err(bad(reason)),
            (Some(_), Some(_)) => Err(bad(
                "the prefix holds several product folders; one product is expected".to_owned(),
            )),
            (None, _) if keys.iter().any(is_tiff) => Err(bad(
                "a COG without a metadata document (*.json, or an EO O&M or GSC *.xml): its \
                 collection is unknown (register it with `pvs registrar --objects-prefix \
                 --collection`)"
                    .to_owned(),
            )),
            (None, _) => Err(bad(format!(
                "no metadata document and no COG under the prefix ({} other objects)",
                keys.len()
            ))),
        }
    }

    /// The storage key of `prefix` (a trailing `/` allowed) and every key under it.
    async fn list_prefix(
        &self,
        prefix: &str,
    ) -> Result<(StorageKey, Vec<StorageKey>), RegisterError> {
        let key: StorageKey =
            prefix
                .trim()
                .trim_end_matches('/')
                .parse()
                .map_err(|e: pvs_storage::KeyError| {
                    RegisterError::BadMessage(prefix.chars().take(200).collect(), e.to_string())
                })?;
        let keys = self
            .storage
            .list(Some(&key))
            .await
            .map_err(|e| RegisterError::Unreadable {
                key: key.as_str().to_owned(),
                source: Box::new(e),
            })?;
        Ok((key, keys))
    }

    /// The collection of a product an EO metadata document describes: `forced`, else the
    /// one whose browse types include the document's product type; else why not.
    fn collection_of_document(
        &self,
        document: &EoMetadata,
        document_key: &StorageKey,
        forced: Option<&str>,
    ) -> Result<String, String> {
        match (forced, document.product_type()) {
            (Some(collection), _) => Ok(collection.to_owned()),
            (None, Some(product_type)) => self
                .collections
                .for_browse_type(product_type)
                .map(|(collection, _)| collection)
                .ok_or_else(|| {
                    format!(
                        "no collection is configured for its product type {product_type:?} \
                         (from {}); give --collection",
                        document_key.as_str()
                    )
                }),
            (None, None) => Err(format!(
                "its metadata document {} gives no product type to find the collection by; \
                 give --collection",
                document_key.as_str()
            )),
        }
    }

    /// A COG described by an EO metadata document: registered with the document's id,
    /// times, footprint and properties into `options.collection`, else into the collection
    /// whose browse types include the document's product type.
    async fn register_described(
        &self,
        key: &StorageKey,
        document_key: &StorageKey,
        document: &EoMetadata,
        options: &PrefixOptions,
    ) -> PrefixOutcome {
        let failed = |reason: String| PrefixOutcome::Failed {
            key: key.as_str().to_owned(),
            reason,
        };
        let collection = match self.collection_of_document(
            document,
            document_key,
            options.collection.as_deref(),
        ) {
            Ok(collection) => collection,
            Err(reason) => return failed(reason),
        };
        let exists = match self
            .may_register(&collection, &document.id, key, options)
            .await
        {
            Ok(exists) => exists,
            Err(outcome) => return outcome,
        };
        let metadata = match self
            .document_metadata(key, document_key, document, &collection)
            .await
        {
            Ok(metadata) => metadata,
            Err(e) => return failed(e.to_string()),
        };
        tracing::info!(
            product = %document.id,
            cog = key.as_str(),
            document = document_key.as_str(),
            format = %document.format,
            "metadata from an EO metadata document"
        );
        if options.dry_run {
            return PrefixOutcome::WouldRegister {
                id: document.id.clone(),
                collection,
                replaces: exists,
            };
        }
        match self.register_into(&metadata, Some(&collection)).await {
            Ok(registered) => PrefixOutcome::Registered(Box::new(registered)),
            Err(RegisterError::Skipped { id, reason }) => PrefixOutcome::Skipped { id, reason },
            Err(e) => failed(e.to_string()),
        }
    }

    /// Whether product `id` (from the object at `key`) is already registered in
    /// `collection`: `Ok(true)` means it will be replaced. `Err` with the outcome when it is
    /// left alone (registered and no `--replace`) or the catalog cannot tell.
    async fn may_register(
        &self,
        collection: &str,
        id: &str,
        key: &StorageKey,
        options: &PrefixOptions,
    ) -> Result<bool, PrefixOutcome> {
        let exists = match self.catalog.get(collection, id).await {
            Ok(found) => found.is_some(),
            Err(e) => {
                return Err(PrefixOutcome::Failed {
                    key: key.as_str().to_owned(),
                    reason: e.to_string(),
                });
            }
        };
        if exists && !options.replace {
            return Err(PrefixOutcome::Skipped {
                id: id.to_owned(),
                reason: "already registered (use --replace to replace it)".to_owned(),
            });
        }
        Ok(exists)
    }
}

/// An XML document of a folder with COGs: its key, and what it says or why it cannot be used.
type ReadDocument<'a> = (&'a StorageKey, Result<EoMetadata, String>);

/// What a folder holding COGs and EO metadata documents registers.
#[derive(Debug)]
enum FolderPlan {
    /// The COG `cog` with the metadata of `document`; the folder's other COGs are skipped.
    /// The COG is the one the document describes ([`EoMetadata::pick_raster`]).
    Described {
        document_key: StorageKey,
        document: Box<EoMetadata>,
        cog: StorageKey,
    },
    /// No COG of the folder is registered: every one fails with this reason (a bad
    /// document, several documents, or no COG to pick).
    Failed(String),
}

impl FolderPlan {
    /// The plan of a folder with these documents (each read, or why not) and COGs (with
    /// their sizes).
    fn new(documents: Vec<ReadDocument>, cogs: &[(&StorageKey, u64)]) -> Self {
        let [(document_key, document)] = &documents[..] else {
            let names: Vec<&str> = documents.iter().map(|(k, _)| k.as_str()).collect();
            return Self::Failed(format!(
                "the folder holds {} EO metadata documents ({}); one is expected",
                names.len(),
                names.join(", ")
            ));
        };
        let failed = |reason: &str| {
            Self::Failed(format!(
                "its metadata document {}: {reason}",
                document_key.as_str()
            ))
        };
        let document = match document {
            Ok(document) => document,
            Err(reason) => return failed(reason),
        };
        let rasters: Vec<(&str, u64)> = cogs.iter().map(|(k, size)| (k.as_str(), *size)).collect();
        match document.pick_raster(&rasters) {
            Ok(index) => Self::Described {
                document_key: (*document_key).clone(),
                document: Box::new(document.clone()),
                cog: cogs[index].0.clone(),
            },
            Err(reason) => failed(&reason),
        }
    }
}

/// Whether `key` is an XML document (`.xml`, any case).
fn is_xml(key: &StorageKey) -> bool {
    file_name_of(key).to_ascii_lowercase().ends_with(".xml")
}

/// Whether `key` is a metadata document.
fn is_document(key: &StorageKey) -> bool {
    key.as_str().ends_with(".json")
}

/// Whether `key` is a GeoTIFF (`.tif`, `.tiff`, any case).
fn is_tiff(key: &StorageKey) -> bool {
    let name = file_name_of(key).to_ascii_lowercase();
    name.ends_with(".tif") || name.ends_with(".tiff")
}

/// The folder of `key` (`""` at the top).
fn folder_of(key: &StorageKey) -> &str {
    key.as_str()
        .rsplit_once('/')
        .map_or("", |(folder, _)| folder)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cog_keys() {
        let key = |k: &str| StorageKey::parse(k).unwrap();
        assert!(is_tiff(&key("a/B.TIF")) && is_tiff(&key("c.tiff")));
        assert!(!is_tiff(&key("a/b.tif.json")) && !is_tiff(&key("tif")));
        assert_eq!(folder_of(&key("a/b/c.tif")), "a/b");
        assert_eq!(folder_of(&key("c.tif")), "");
    }
}
