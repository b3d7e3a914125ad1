//! The collections configuration: which browse types make up which collection, and how each
//! collection is rendered, seeded and compressed. A TOML file (`COLLECTIONS_FILE`), described
//! by `schemas/collections.schema.json`:
//!
//! ```toml
//! [collections.SAR]
//! browse_types = ["SAR", "ASA_WS"]   # default: the collection's own name
//! product_type = "SAR"               # optional
//! compression = "JPEG"               # DEFLATE (default), ZSTD, LZW, JPEG or WEBP
//! seed_zoom = [0, 8]                 # zoom levels to pre-render; absent: no seeding
//!
//! [collections.SAR.render]
//! bands = [1]                        # 1 band (grey or colormap) or 3 (RGB); default: as stored
//! rescale = [0.0, 255.0]             # value range mapped to 0..255
//! colormap = "viridis"               # for single-band data
//! ```
//!
//! Without a file, every browse type is a collection of its own name with the defaults.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// COG compression of a collection's products.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Compression {
    /// Lossless, for data and visual products alike.
    #[default]
    Deflate,
    /// Lossless, faster and smaller than DEFLATE.
    Zstd,
    /// Lossless.
    Lzw,
    /// Lossy, for visual RGB products.
    Jpeg,
    /// Lossy, for visual RGB products.
    Webp,
}

impl Compression {
    /// The GDAL COG driver's `COMPRESS` value.
    pub fn gdal_name(self) -> &'static str {
        match self {
            Compression::Deflate => "DEFLATE",
            Compression::Zstd => "ZSTD",
            Compression::Lzw => "LZW",
            Compression::Jpeg => "JPEG",
            Compression::Webp => "WEBP",
        }
    }
}

/// Colormaps the renderer knows for single-band data.
pub const COLORMAPS: [&str; 5] = ["grey", "viridis", "magma", "terrain", "rdylgn"];

/// How a collection is drawn.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Render {
    /// Bands to show (1-based): one (grey or colormap) or three (RGB); `None`: as stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bands: Option<Vec<u32>>,
    /// The value range stretched to 0..255; `None`: values are used as they are (8-bit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rescale: Option<[f64; 2]>,
    /// Colormap for single-band data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub colormap: Option<String>,
}

/// One collection, as configured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CollectionConfig {
    /// The browse types whose browses belong to this collection.
    #[serde(default)]
    pub browse_types: Vec<String>,
    /// The product type, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product_type: Option<String>,
    /// COG compression.
    #[serde(default)]
    pub compression: Compression,
    /// Zoom levels (inclusive range) to pre-render; `None`: not seeded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed_zoom: Option<[u8; 2]>,
    /// Rendering defaults.
    #[serde(default)]
    pub render: Render,
}

impl CollectionConfig {
    /// The defaults for a collection made of the browse type of the same name.
    pub fn for_browse_type(browse_type: &str) -> Self {
        Self {
            browse_types: vec![browse_type.to_owned()],
            product_type: None,
            compression: Compression::default(),
            seed_zoom: None,
            render: Render::default(),
        }
    }
}

/// The whole configuration: collections by name.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Collections {
    /// Collections by name.
    #[serde(default)]
    pub collections: BTreeMap<String, CollectionConfig>,
}

/// A configuration that cannot be used, with where and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("collections configuration: {0}")]
pub struct CollectionsError(String);

impl Collections {
    /// Reads and checks a TOML configuration.
    pub fn from_toml(text: &str) -> Result<Self, CollectionsError> {
        let mut config: Collections =
            toml::from_str(text).map_err(|e| CollectionsError(e.to_string()))?;
        for (name, collection) in &mut config.collections {
            if collection.browse_types.is_empty() {
                collection.browse_types.push(name.clone());
            }
        }
        config.validate()?;
        Ok(config)
    }

    /// Checks names, browse types, zoom ranges and rendering settings.
    pub fn validate(&self) -> Result<(), CollectionsError> {
        let fail = |name: &str, problem: String| {
            Err(CollectionsError(format!("[collections.{name}] {problem}")))
        };
        let mut owner: BTreeMap<&str, &str> = BTreeMap::new();
        for (name, c) in &self.collections {
            if name.is_empty()
                || name.len() > 64
                || !name
                    .chars()
                    .all(|ch| ch.is_ascii_alphanumeric() || matches!(ch, '_' | '.' | '-'))
            {
                return fail(
                    name,
                    "name must be 1 to 64 letters, digits, '_', '.' or '-'".into(),
                );
            }
            for browse_type in &c.browse_types {
                if let Some(other) = owner.insert(browse_type, name) {
                    return fail(
                        name,
                        format!(
                            "browse type {browse_type:?} already belongs to collection {other:?}"
                        ),
                    );
                }
            }
            if let Some([from, to]) = c.seed_zoom
                && (from > to || to > 24)
            {
                return fail(
                    name,
                    format!("seed_zoom [{from}, {to}] must be an ascending range within 0..=24"),
                );
            }
            if let Some(bands) = &c.render.bands
                && (!matches!(bands.len(), 1 | 3) || bands.contains(&0))
            {
                return fail(
                    name,
                    format!("render.bands {bands:?} must list 1 or 3 band numbers, counted from 1"),
                );
            }
            if let Some([min, max]) = c.render.rescale
                && !(min.is_finite() && max.is_finite() && min < max)
            {
                return fail(
                    name,
                    format!("render.rescale [{min}, {max}] must be finite with min < max"),
                );
            }
            if let Some(colormap) = &c.render.colormap
                && !COLORMAPS.contains(&colormap.as_str())
            {
                return fail(
                    name,
                    format!(
                        "render.colormap {colormap:?} is unknown; use one of {}",
                        COLORMAPS.join(", ")
                    ),
                );
            }
        }
        Ok(())
    }

    /// The collection a browse type belongs to: the configured one, or (when no collection is
    /// configured at all) a collection of the browse type's own name with the defaults.
    pub fn for_browse_type(&self, browse_type: &str) -> Option<(String, CollectionConfig)> {
        if self.collections.is_empty() {
            return Some((
                browse_type.to_owned(),
                CollectionConfig::for_browse_type(browse_type),
            ));
        }
        self.collections
            .iter()
            .find(|(_, c)| c.browse_types.iter().any(|t| t == browse_type))
            .map(|(name, c)| (name.clone(), c.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = r#"
[collections.SAR]
browse_types = ["SAR", "ASA_WS"]
product_type = "SAR"
compression = "JPEG"
seed_zoom = [0, 8]

[collections.SAR.render]
bands = [1]
rescale = [0.0, 255.0]
colormap = "viridis"

[collections.OPTICAL]
"#;

    #[test]
    fn reads_the_documented_example() {
        let config = Collections::from_toml(EXAMPLE).unwrap();
        let (name, sar) = config.for_browse_type("ASA_WS").unwrap();
        assert_eq!(name, "SAR");
        assert_eq!(sar.compression, Compression::Jpeg);
        assert_eq!(sar.seed_zoom, Some([0, 8]));
        assert_eq!(sar.render.colormap.as_deref(), Some("viridis"));
        let (name, optical) = config.for_browse_type("OPTICAL").unwrap();
        assert_eq!(name, "OPTICAL");
        assert_eq!(optical.compression, Compression::Deflate);
        assert_eq!(optical.seed_zoom, None);
        assert!(config.for_browse_type("UNKNOWN").is_none());
    }

    #[test]
    fn without_configuration_each_browse_type_is_a_collection() {
        let (name, c) = Collections::default().for_browse_type("S2").unwrap();
        assert_eq!(name, "S2");
        assert_eq!(c.browse_types, ["S2"]);
    }

    #[test]
    fn bad_configurations_say_where_and_why() {
        let cases = [
            (
                "[collections.A]\nbrowse_types = [\"X\"]\n[collections.B]\nbrowse_types = [\"X\"]",
                "already belongs",
            ),
            ("[collections.A]\nseed_zoom = [9, 3]", "seed_zoom"),
            ("[collections.A]\nseed_zoom = [0, 30]", "seed_zoom"),
            ("[collections.A.render]\nbands = [1, 2]", "render.bands"),
            ("[collections.A.render]\nbands = [0]", "render.bands"),
            (
                "[collections.A.render]\nrescale = [5.0, 1.0]",
                "render.rescale",
            ),
            (
                "[collections.A.render]\ncolormap = \"rainbow\"",
                "render.colormap",
            ),
            ("[collections.\"a b\"]", "name must be"),
            ("[collections.A]\ncompression = \"BZIP\"", "compression"),
            ("[collections.A]\nunknown = 1", "unknown"),
            ("not toml at all [", "collections configuration"),
        ];
        for (text, needle) in cases {
            let err = Collections::from_toml(text).unwrap_err().to_string();
            assert!(err.contains(needle), "{text:?}: {err}");
        }
    }
}
