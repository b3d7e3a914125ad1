//! STAC Items on `register_queue`: the one place that decides what becomes of an Item (the
//! watch folder of the ingestor queues its Items here too). A COG on storage is registered
//! as it is; anything else goes to the preprocessor, which makes a COG of it.

use std::path::Path;

use chrono::Utc;
use pvs_model::{AssetHref, ItemRegistration, ProductMetadata, parse_item};
use pvs_queue::QueueName;
use pvs_raster::cog::Description;
use pvs_storage::{StorageKey, StorageUrl};

use crate::derive::open_raster;
use crate::{RegisterError, Registrar};

/// What becomes of a valid STAC Item.
#[derive(Debug)]
pub enum ItemRoute {
    /// Its data asset is a COG on storage: registered as it is, with this metadata document
    /// (made from the Item and the COG; not written to storage).
    Register(Box<ProductMetadata>),
    /// Its data asset is not a COG on storage: this `preprocess_queue` message (the Item,
    /// with its data asset's href as a storage key where it was an `s3://` URL of the
    /// storage) hands it to the preprocessor.
    Preprocess(String),
}

/// Whether a `register_queue` message is a STAC Item (a JSON object) rather than the storage
/// key of a metadata document.
pub(crate) fn is_item_message(message: &str) -> bool {
    message.trim_start().starts_with('{')
}

/// The id a STAC Item message that cannot be registered is recorded under: its `id` when the
/// JSON says one, else the start of the message.
pub(crate) fn item_id_hint(message: &str) -> String {
    let id = serde_json::from_str::<serde_json::Value>(message)
        .ok()
        .and_then(|item| item.get("id")?.as_str().map(str::to_owned))
        .filter(|id| !id.is_empty());
    let hint = id.unwrap_or_else(|| message.chars().filter(|c| !c.is_control()).collect());
    hint.chars().take(255).collect()
}

impl Registrar {
    /// Reads a STAC Item message and decides what becomes of it ([`Registrar::route_item`]).
    pub async fn read_item(&self, message: &str) -> Result<ItemRoute, RegisterError> {
        let item = parse_item(message.as_bytes(), None).map_err(RegisterError::Item)?;
        self.route_item(&item).await
    }

    /// Decides what becomes of a valid STAC Item:
    ///
    /// - its collection must be configured like any other
    ///   ([`ItemRegistration::collection_config`]);
    /// - its data asset must be on storage (a relative href is a storage key; an `s3://` URL
    ///   must lie in the storage's bucket, under its prefix) or at an `http(s)` URL; on
    ///   storage it must exist;
    /// - a GeoTIFF on storage with the COG layout ([`pvs_raster::cog::validate`]) and
    ///   georeferencing ([`pvs_raster::cog::describe`]) is registered where it is: its
    ///   metadata document comes from the Item (id, footprint, times, properties) and the COG
    ///   ([`ItemRoute::Register`]);
    /// - anything else (another format, a GeoTIFF that is not a COG or has no
    ///   georeferencing, an `http(s)` URL, whose pixels the renderer could not read from
    ///   storage) goes to the preprocessor ([`ItemRoute::Preprocess`]).
    pub async fn route_item(&self, item: &ItemRegistration) -> Result<ItemRoute, RegisterError> {
        let (browse_type, _) = item.collection_config(&self.collections).ok_or_else(|| {
            RegisterError::UnknownItemCollection {
                id: item.id.clone(),
                collection: item.collection.clone(),
            }
        })?;
        let asset_error = |reason: String| RegisterError::DataAsset {
            id: item.id.clone(),
            href: item.data.href.to_string(),
            reason,
        };
        let mut item = item.clone();
        let key = match &item.data.href {
            AssetHref::Http(_) => None,
            AssetHref::Relative(path) => Some(path.as_str().to_owned()),
            AssetHref::S3 { bucket, key } => {
                Some(self.key_in_storage(bucket, key).ok_or_else(|| {
                    asset_error(format!(
                        "not in the storage {}: an s3:// data asset must be one of its \
                         objects (an http(s):// URL is read from anywhere)",
                        self.storage.url()
                    ))
                })?)
            }
        };
        let Some(key) = key else {
            return Ok(ItemRoute::Preprocess(item.preprocess_message()));
        };
        let key = StorageKey::parse(&key).map_err(|e| asset_error(e.to_string()))?;
        let object = self
            .storage
            .head(&key)
            .await
            .map_err(|e| asset_error(format!("not readable on storage: {e}")))?;
        let href = pvs_model::FileName::new(key.as_str()).map_err(asset_error)?;
        item.set_data_href(AssetHref::Relative(href));
        let Some(description) = self.cog_description(&key).await.map_err(asset_error)? else {
            return Ok(ItemRoute::Preprocess(item.preprocess_message()));
        };
        let cog = description.cog_info(key.as_str().to_owned(), object.size);
        Ok(ItemRoute::Register(Box::new(item.metadata(
            cog,
            &browse_type,
            Utc::now(),
        ))))
    }

    /// The storage key of `s3://bucket/key` when that object is in the storage.
    fn key_in_storage(&self, bucket: &str, key: &str) -> Option<String> {
        let StorageUrl::S3 {
            bucket: ours,
            prefix,
        } = self.storage.url()
        else {
            return None;
        };
        if ours != bucket {
            return None;
        }
        match prefix {
            Some(prefix) => key
                .strip_prefix(prefix.as_str())?
                .strip_prefix('/')
                .map(str::to_owned),
            None => Some(key.to_owned()),
        }
    }

    /// The description of the COG at `key`, or `None` when it is not a georeferenced COG
    /// (another format, not the COG layout, no georeferencing). An error when GDAL cannot
    /// open it. GDAL reads only the head of the file, on a blocking thread.
    async fn cog_description(&self, key: &StorageKey) -> Result<Option<Description>, String> {
        // memory:// storage: GDAL cannot see it; the preprocessor downloads the object.
        let Some(path) = self.storage.gdal_path(key) else {
            return Ok(None);
        };
        let config = self.storage.gdal_config();
        tokio::task::spawn_blocking(move || {
            let dataset = open_raster(&path, &config)?;
            if dataset.driver().short_name() != "GTiff" {
                return Ok(None);
            }
            let layout = pvs_raster::cog::validate(Path::new(&path)).map_err(|e| e.to_string())?;
            if !layout.is_valid() {
                tracing::info!(path, errors = ?layout.errors, "data asset is not a COG");
                return Ok(None);
            }
            Ok(pvs_raster::cog::describe(&dataset).ok())
        })
        .await
        .map_err(|e| format!("reading the data asset stopped: {e}"))?
    }

    /// Routes the STAC Item of a `register_queue` message, and hands it to the preprocessor
    /// when its data asset is not a COG on storage (`Ok(None)`): the metadata document of a
    /// product to register where it is otherwise.
    pub(crate) async fn take_item(
        &self,
        item: &ItemRegistration,
    ) -> Result<Option<ProductMetadata>, RegisterError> {
        match self.route_item(item).await? {
            ItemRoute::Register(metadata) => Ok(Some(*metadata)),
            ItemRoute::Preprocess(preprocess) => {
                self.queue.push(QueueName::Preprocess, &preprocess).await?;
                tracing::info!(
                    product = %item.id,
                    "STAC Item whose data is not a COG on storage: handed to the preprocessor"
                );
                Ok(None)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn item_messages_and_their_ids() {
        assert!(is_item_message(" {\"type\": \"Feature\"}"));
        assert!(!is_item_message("SAR/x/x.json"));
        assert_eq!(item_id_hint("{\"id\": \"S2_x\", \"type\": 1}"), "S2_x");
        assert_eq!(item_id_hint("{\"id\": \"\"}"), "{\"id\": \"\"}");
        assert_eq!(item_id_hint("{\"type\":\n"), "{\"type\":");
        assert_eq!(item_id_hint(&format!("{{{}", "x".repeat(300))).len(), 255);
    }
}
