//! Registering what is already on storage (`pvs registrar --objects-prefix`): metadata
//! documents, and COGs without one (see [`crate::derive`]).

use std::collections::HashSet;

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
    /// (`*.tif`, `*.tiff`) in a folder without a metadata document, whose metadata is then
    /// derived from the COG ([`Registrar::derive_metadata`]; `options.collection` is required
    /// for those). Each gives one outcome, in the order of the listing; the status sets are
    /// not touched. An error when the prefix holds neither.
    pub async fn register_prefix(
        &self,
        prefix: &str,
        options: &PrefixOptions,
    ) -> Result<Vec<PrefixOutcome>, RegisterError> {
        let key: StorageKey =
            prefix
                .trim_end_matches('/')
                .parse()
                .map_err(|e: pvs_storage::KeyError| {
                    RegisterError::BadMessage(prefix.to_owned(), e.to_string())
                })?;
        let keys = self
            .storage
            .list(Some(&key))
            .await
            .map_err(|e| RegisterError::Metadata {
                key: key.as_str().to_owned(),
                reason: e.to_string(),
            })?;
        let documented: HashSet<&str> = keys
            .iter()
            .filter(|k| is_document(k))
            .map(folder_of)
            .collect();
        let mut outcomes = Vec::new();
        for key in &keys {
            if is_document(key) {
                outcomes.push(self.register_document(key, options).await);
            } else if is_tiff(key) && !documented.contains(folder_of(key)) {
                outcomes.push(self.register_cog(key, options).await);
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
        let exists = match self.may_register(&metadata.id, key, options).await {
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
        let exists = match self.may_register(&id, key, options).await {
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
            Err(e) => failed(e.to_string()),
        }
    }

    /// Whether product `id` (from the object at `key`) is already registered: `Ok(true)`
    /// means it will be replaced. `Err` with the outcome when it is left alone (registered
    /// and no `--replace`) or the catalog cannot tell.
    async fn may_register(
        &self,
        id: &str,
        key: &StorageKey,
        options: &PrefixOptions,
    ) -> Result<bool, PrefixOutcome> {
        let exists = match self.catalog.get(id).await {
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
