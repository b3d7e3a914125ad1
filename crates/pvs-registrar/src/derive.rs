//! The metadata of a COG without a metadata document, derived from the COG itself with
//! GDAL (footprint from its valid pixels, time from its file name or TIFF tags), or taken
//! from an EO metadata document (EO O&M, GSC) beside it.

use chrono::{DateTime, Utc};
use geo::MultiPolygon;
use pvs_model::{EoMetadata, GeoJsonGeometry, ProductMetadata, ReportInfo, SourceInfo};
use pvs_storage::{ObjectInfo, StorageKey};

use crate::{RegisterError, Registrar};

impl Registrar {
    /// The metadata document the preprocessor would have written for the COG at `key`, made
    /// from the COG alone, for collection `collection`, and a note of what was derived:
    ///
    /// - id: the file stem; the COG's size, bands, alpha, CRS, bounding box and resolution
    ///   as GDAL reads them ([`pvs_raster::cog::describe`]);
    /// - footprint: the outline of its valid pixels in EPSG:4326
    ///   ([`pvs_raster::derive::valid_data_footprint`]);
    /// - start/end: from the file name ([`pvs_raster::derive::time_from_name`]), else from
    ///   the TIFF tags ([`pvs_raster::derive::time_from_tags`]), else an error;
    /// - source: the COG's key, no browse identifier, and an empty report whose browse type
    ///   is the collection; `processed_at` (and the report's time) is when the object was
    ///   last written.
    ///
    /// GDAL reads the COG through [`pvs_storage::Storage::gdal_path`] on a blocking thread.
    pub async fn derive_metadata(
        &self,
        key: &StorageKey,
        collection: &str,
    ) -> Result<(ProductMetadata, String), RegisterError> {
        let file_name = file_name_of(key).to_owned();
        let (object, read) = self
            .read_cog_with(key, move |path, config| read_cog(path, config, &file_name))
            .await?;
        let metadata = ProductMetadata {
            id: cog_id(key),
            collection: collection.to_owned(),
            footprint: GeoJsonGeometry::from(&read.footprint),
            start: read.start,
            end: read.end,
            cog: read
                .description
                .cog_info(key.as_str().to_owned(), object.size),
            source: cog_source(key, collection, object.last_modified),
            processed_at: object.last_modified,
            properties: Default::default(),
            masks: Default::default(),
        };
        let derived = format!(
            "footprint from the COG's valid pixels, time from its {}",
            read.time_source
        );
        Ok((metadata, derived))
    }

    /// The metadata document of the COG at `key` described by the EO metadata document
    /// `document` (EO O&M or GSC, at `document_key`), for collection `collection`: the
    /// document's id, times, footprint and properties; the COG's size, bands, alpha, CRS,
    /// bounding box and resolution as GDAL reads them; the source is the COG's key, with a
    /// report named after the document whose browse type is the collection.
    pub async fn document_metadata(
        &self,
        key: &StorageKey,
        document_key: &StorageKey,
        document: &EoMetadata,
        collection: &str,
    ) -> Result<ProductMetadata, RegisterError> {
        let (object, description) = self
            .read_cog_with(key, |path, config| {
                let dataset = open_raster(path, config)?;
                pvs_raster::cog::describe(&dataset).map_err(|e| e.to_string())
            })
            .await?;
        let mut source = cog_source(key, collection, object.last_modified);
        source.report.name = document_key.as_str().to_owned();
        Ok(ProductMetadata {
            id: document.id.clone(),
            collection: collection.to_owned(),
            footprint: GeoJsonGeometry::from(&document.footprint),
            start: document.start,
            end: document.end,
            cog: description.cog_info(key.as_str().to_owned(), object.size),
            source,
            processed_at: object.last_modified,
            properties: document.properties.clone(),
            masks: Default::default(),
        })
    }

    /// Runs `read` on the COG at `key` on a blocking thread, with its GDAL path and the
    /// storage's GDAL configuration ([`pvs_storage::Storage::gdal_path`]); also gives the
    /// object's size and time. A failure of either is a [`RegisterError::Derive`].
    async fn read_cog_with<T: Send + 'static>(
        &self,
        key: &StorageKey,
        read: impl FnOnce(&str, &[(String, String)]) -> Result<T, String> + Send + 'static,
    ) -> Result<(ObjectInfo, T), RegisterError> {
        let error = |reason: String| RegisterError::Derive {
            key: key.as_str().to_owned(),
            reason,
        };
        let object = self
            .storage
            .head(key)
            .await
            .map_err(|e| error(e.to_string()))?;
        let path = self.storage.gdal_path(key).ok_or_else(|| {
            error(format!(
                "GDAL cannot read objects of storage {}",
                self.storage.url()
            ))
        })?;
        let config = self.storage.gdal_config();
        let value = tokio::task::spawn_blocking(move || read(&path, &config))
            .await
            .map_err(|e| error(format!("reading the COG stopped: {e}")))?
            .map_err(error)?;
        Ok((object, value))
    }
}

/// The source of a product registered from its COG at `key`: the key, no browse
/// identifier, and a report of no name whose browse type is `collection`, dated `at`.
fn cog_source(key: &StorageKey, collection: &str, at: DateTime<Utc>) -> SourceInfo {
    SourceInfo {
        file: key.as_str().to_owned(),
        browse_identifier: None,
        report: ReportInfo {
            name: String::new(),
            responsible_org_name: String::new(),
            date_time: at,
            browse_type: collection.to_owned(),
        },
        merged_with: None,
    }
}

/// What GDAL reads from a COG without a metadata document.
struct CogRead {
    description: pvs_raster::cog::Description,
    footprint: MultiPolygon<f64>,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    /// Where the time came from: `file name` or `TIFF tags`.
    time_source: &'static str,
}

/// Opens the COG at GDAL path `path` under the GDAL configuration `config` and reads its
/// layout, time and footprint. Blocking.
fn read_cog(path: &str, config: &[(String, String)], file_name: &str) -> Result<CogRead, String> {
    let dataset = open_raster(path, config)?;
    let description = pvs_raster::cog::describe(&dataset).map_err(|e| e.to_string())?;
    let ((start, end), time_source) = match pvs_raster::derive::time_from_name(file_name) {
        Some(time) => (time, "file name"),
        None => (
            pvs_raster::derive::time_from_tags(&dataset)
                .ok_or("no time: neither the file name nor the TIFF tags give one")?,
            "TIFF tags",
        ),
    };
    let footprint = pvs_raster::derive::valid_data_footprint(&dataset)
        .map_err(|e| format!("no footprint: {e}"))?;
    Ok(CogRead {
        description,
        footprint,
        start,
        end,
        time_source,
    })
}

/// Opens the raster at GDAL path `path` under the GDAL configuration `config` (the
/// storage's, [`pvs_storage::Storage::gdal_config`]). Blocking.
pub(crate) fn open_raster(
    path: &str,
    config: &[(String, String)],
) -> Result<gdal::Dataset, String> {
    for (option, value) in config {
        // The values hold the secret key: the message names the option only.
        gdal::config::set_config_option(option, value)
            .map_err(|e| format!("cannot set the GDAL option {option}: {e}"))?;
    }
    gdal::Dataset::open(path).map_err(|e| format!("cannot open it as a raster: {e}"))
}

/// The last segment of `key`.
pub(crate) fn file_name_of(key: &StorageKey) -> &str {
    key.as_str().rsplit('/').next().unwrap_or(key.as_str())
}

/// The product id of a COG without a metadata document: its file name without the
/// extension.
pub(crate) fn cog_id(key: &StorageKey) -> String {
    let name = file_name_of(key);
    match name.rsplit_once('.') {
        Some((stem, _)) if !stem.is_empty() => stem.to_owned(),
        _ => name.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_of_cogs() {
        let key = |k: &str| StorageKey::parse(k).unwrap();
        assert_eq!(
            cog_id(&key("a/b/S2A_20230101T103021.tif")),
            "S2A_20230101T103021"
        );
        assert_eq!(cog_id(&key("x.y.TIFF")), "x.y");
        assert_eq!(cog_id(&key("a/.tif")), ".tif");
    }
}
