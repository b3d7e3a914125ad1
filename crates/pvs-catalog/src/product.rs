//! Products: one registered image (its COG) with its footprint and acquisition time.

use chrono::{DateTime, Utc};
use geo_types::MultiPolygon;
use serde_json::{Map, Value};

use crate::collection::{MAX_PRODUCT_TYPE_CHARS, validate_collection_name};
use crate::filter::check_properties;
use crate::validation::{check_footprint, check_metadata, check_text};
use crate::{CatalogError, Result};

/// The longest product id, in characters.
pub const MAX_PRODUCT_ID_CHARS: usize = 255;

/// The longest storage location, in characters.
pub const MAX_LOCATION_CHARS: usize = 4096;

/// A registered product: where its COG is, what it covers and when it was acquired.
///
/// The fields are public so that a product can be built literally; every backend calls
/// [`Product::validate`] before storing one. Times are kept to the microsecond: finer digits
/// are dropped (rounded down) when stored, so a product read back may differ from the one
/// registered by less than a microsecond.
#[derive(Debug, Clone, PartialEq)]
pub struct Product {
    /// The product's id (the browse identifier): 1 to 255 characters, no control
    /// characters. Ids are unique per collection, as ngEO's browse identifiers are per browse
    /// layer: registering an id again in the same collection replaces the product; the same id
    /// in another collection is another product.
    pub id: String,
    /// The name of the [`Collection`](crate::Collection) it belongs to, which must exist.
    pub collection: String,
    /// The product type, if known.
    pub product_type: Option<String>,
    /// What it covers, in EPSG:4326 longitude/latitude. Footprints that cross the
    /// antimeridian are split at ±180° into several polygons.
    pub footprint: MultiPolygon<f64>,
    /// Start of the acquisition.
    pub begin: DateTime<Utc>,
    /// End of the acquisition (equal to `begin` for an instant).
    pub end: DateTime<Utc>,
    /// The storage key of its COG.
    pub location: String,
    /// Free metadata: a JSON object.
    pub metadata: Value,
    /// Properties by STAC name (`eo:cloud_cover`, `platform`, ...): the queryable ones
    /// ([`Property::all`](crate::Property::all)) can be filtered and sorted on and must be of
    /// their kind; others are kept as given.
    pub properties: Map<String, Value>,
}

impl Product {
    /// Checks everything a backend relies on: the id, the collection name, the product type,
    /// `begin <= end`, the location, the metadata (a JSON object) and the footprint
    /// (non-empty, finite, within longitude [-180, 180] and latitude [-90, 90], and a valid
    /// geometry: closed, non-self-intersecting rings, non-overlapping polygons).
    pub fn validate(&self) -> Result<()> {
        let invalid = |reason| CatalogError::invalid(format!("product {:?}", self.id), reason);
        check_text("id", &self.id, MAX_PRODUCT_ID_CHARS).map_err(invalid)?;
        validate_collection_name(&self.collection)?;
        if let Some(product_type) = &self.product_type {
            check_text("product_type", product_type, MAX_PRODUCT_TYPE_CHARS).map_err(invalid)?;
        }
        if self.begin > self.end {
            return Err(invalid(format!(
                "begin {} is after end {}",
                self.begin.to_rfc3339(),
                self.end.to_rfc3339()
            )));
        }
        check_text("location", &self.location, MAX_LOCATION_CHARS).map_err(invalid)?;
        check_metadata(&self.metadata).map_err(invalid)?;
        check_properties(&self.properties).map_err(invalid)?;
        check_footprint("footprint", &self.footprint).map_err(invalid)
    }
}

/// What [`Catalog::register`](crate::Catalog::register) did.
#[derive(Debug, Clone, PartialEq)]
pub enum Registration {
    /// The id was new.
    Inserted,
    /// The id existed; this was the product it replaced (whose tiles are now stale).
    Replaced {
        /// The product as it was stored before (boxed: a product is large, `Inserted` is
        /// the common answer).
        previous: Box<Product>,
    },
    /// The id existed and the registered product was kept, as the rule given to
    /// [`Catalog::register_unless`](crate::Catalog::register_unless) decided: nothing changed.
    Kept {
        /// Why, as the rule said.
        reason: String,
    },
}

impl Registration {
    /// The replaced product, if any.
    pub fn previous(&self) -> Option<&Product> {
        match self {
            Self::Inserted | Self::Kept { .. } => None,
            Self::Replaced { previous } => Some(previous),
        }
    }
}

/// A rule deciding whether the product registered under a collection and id is kept when
/// another product comes with the same collection and id: the reason it is kept, or `None` to
/// replace it. Given to [`Catalog::register_unless`](crate::Catalog::register_unless).
pub type KeepRule = dyn Fn(&Product) -> Option<String> + Send + Sync;

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use geo_types::polygon;
    use serde_json::json;

    use super::*;

    fn product() -> Product {
        Product {
            id: "S2A_1".to_owned(),
            collection: "S2".to_owned(),
            product_type: None,
            footprint: MultiPolygon(vec![polygon![
                (x: 0.0, y: 0.0),
                (x: 1.0, y: 0.0),
                (x: 1.0, y: 1.0),
            ]]),
            begin: Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap(),
            end: Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap(),
            location: "products/S2A_1.tif".to_owned(),
            metadata: json!({}),
            properties: Map::new(),
        }
    }

    #[test]
    fn validate_names_the_field() {
        assert!(product().validate().is_ok());
        let cases: Vec<(Product, &str)> = vec![
            (
                Product {
                    id: String::new(),
                    ..product()
                },
                "invalid product \"\": id is empty",
            ),
            (
                Product {
                    id: "a\nb".into(),
                    ..product()
                },
                "control character",
            ),
            (
                Product {
                    collection: "a b".into(),
                    ..product()
                },
                "collection name \"a b\"",
            ),
            (
                Product {
                    product_type: Some("".into()),
                    ..product()
                },
                "product_type is empty",
            ),
            (
                Product {
                    begin: product().end + chrono::TimeDelta::seconds(1),
                    ..product()
                },
                "begin 2024-01-01T00:00:01+00:00 is after end 2024-01-01T00:00:00+00:00",
            ),
            (
                Product {
                    location: String::new(),
                    ..product()
                },
                "location is empty",
            ),
            (
                Product {
                    metadata: json!(1),
                    ..product()
                },
                "metadata must be a JSON object",
            ),
            (
                Product {
                    footprint: MultiPolygon(vec![]),
                    ..product()
                },
                "footprint is empty",
            ),
            (
                Product {
                    properties: json!({"eo:cloud_cover": "low"})
                        .as_object()
                        .cloned()
                        .unwrap(),
                    ..product()
                },
                "property \"eo:cloud_cover\" must be a number",
            ),
        ];
        for (product, expected) in cases {
            let message = product.validate().unwrap_err().to_string();
            assert!(
                message.contains(expected),
                "{message:?} should contain {expected:?}"
            );
        }
    }
}
