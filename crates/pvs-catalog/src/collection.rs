//! Collections: the named groups of products that become map layers.

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::query::Bbox;
use crate::validation::{check_metadata, check_text};
use crate::{CatalogError, Result};

/// The longest collection name, in characters.
pub const MAX_COLLECTION_NAME_CHARS: usize = 64;

/// The longest product type, in characters.
pub const MAX_PRODUCT_TYPE_CHARS: usize = 255;

/// A named group of products (a layer, an OpenSearch collection).
///
/// The fields are public so that a collection can be built literally; every backend calls
/// [`Collection::validate`] before storing one.
#[derive(Debug, Clone, PartialEq)]
pub struct Collection {
    /// The collection's name: 1 to 64 characters from `A-Z a-z 0-9 _ . -`.
    pub name: String,
    /// The product type its products usually have (e.g. `S2MSI1C`), if any.
    pub product_type: Option<String>,
    /// Free metadata: a JSON object.
    pub metadata: Value,
}

impl Collection {
    /// A collection with no product type and empty metadata, refused if `name` is invalid.
    pub fn new(name: impl Into<String>) -> Result<Self> {
        let collection = Self {
            name: name.into(),
            product_type: None,
            metadata: Value::Object(Default::default()),
        };
        collection.validate()?;
        Ok(collection)
    }

    /// Checks the name (see [`validate_collection_name`]), the product type (non-empty, at
    /// most 255 characters, no control characters) and the metadata (a JSON object without
    /// NUL characters).
    pub fn validate(&self) -> Result<()> {
        validate_collection_name(&self.name)?;
        let invalid = |reason| CatalogError::invalid(format!("collection `{}`", self.name), reason);
        if let Some(product_type) = &self.product_type {
            check_text("product_type", product_type, MAX_PRODUCT_TYPE_CHARS).map_err(invalid)?;
        }
        check_metadata(&self.metadata).map_err(invalid)
    }
}

/// Checks a collection name: 1 to [`MAX_COLLECTION_NAME_CHARS`] characters, each an ASCII
/// letter, digit, `_`, `.` or `-` (names appear in layer names and URLs unescaped).
pub fn validate_collection_name(name: &str) -> Result<()> {
    let invalid =
        |reason: String| CatalogError::invalid(format!("collection name {name:?}"), reason);
    if name.is_empty() {
        return Err(invalid("it is empty".to_owned()));
    }
    let chars = name.chars().count();
    if chars > MAX_COLLECTION_NAME_CHARS {
        return Err(invalid(format!(
            "it has {chars} characters, more than the {MAX_COLLECTION_NAME_CHARS} allowed"
        )));
    }
    if let Some(character) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')))
    {
        return Err(invalid(format!(
            "it contains {character:?}; use only A-Z, a-z, 0-9, `_`, `.` and `-`"
        )));
    }
    Ok(())
}

/// A collection with a summary of its products, as listed by
/// [`Catalog::collections`](crate::Catalog::collections).
#[derive(Debug, Clone, PartialEq)]
pub struct CollectionInfo {
    /// The collection itself.
    pub collection: Collection,
    /// How many products it holds.
    pub product_count: u64,
    /// The extent of its products' footprints (`None` when it has no products). Footprints
    /// split at the antimeridian make it span every longitude.
    pub bbox: Option<Bbox>,
    /// The earliest begin time of its products.
    pub begin: Option<DateTime<Utc>>,
    /// The latest end time of its products.
    pub end: Option<DateTime<Utc>>,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn names() {
        for name in ["S2_L1C", "a", "x.y-z_1", &"n".repeat(64)] {
            assert!(validate_collection_name(name).is_ok(), "{name}");
        }
        for (name, reason) in [
            ("", "empty"),
            ("a b", "' '"),
            ("é", "'é'"),
            ("a/b", "'/'"),
            (&"n".repeat(65), "65 characters"),
        ] {
            let message = validate_collection_name(name).unwrap_err().to_string();
            assert!(message.contains(reason), "{name}: {message}");
        }
    }

    #[test]
    fn new_and_validate() {
        let collection = Collection::new("S2").unwrap();
        assert_eq!(collection.metadata, json!({}));
        assert!(Collection::new("bad name").is_err());
        let bad_type = Collection {
            product_type: Some(String::new()),
            ..collection.clone()
        };
        assert_eq!(
            bad_type.validate().unwrap_err().to_string(),
            "invalid collection `S2`: product_type is empty"
        );
        let bad_metadata = Collection {
            metadata: json!("text"),
            ..collection
        };
        assert!(
            bad_metadata
                .validate()
                .unwrap_err()
                .to_string()
                .contains("JSON object")
        );
    }
}
