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
//!
//! [collections.S2L2A]
//! band_names = ["B02", "B03", "B04", "B08"]  # the stored bands, for expressions
//! default_browse = "TRUE_COLOR"              # draws the layer S2L2A itself
//!
//! [collections.S2L2A.browses.TRUE_COLOR]     # the layer S2L2A__TRUE_COLOR
//! red = "B04"
//! green = "B03"
//! blue = "B02"
//! ranges = [[0, 3000]]                       # one for every channel, or one per channel
//! nodata = 0
//!
//! [collections.S2L2A.browses.NDVI]           # the layer S2L2A__NDVI
//! grey = "(B08 - B04) / (B08 + B04)"
//! ranges = [[-1, 1]]
//! colormap = "rdylgn"
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

/// A browse type (EOxServer's name): one way of drawing a collection's products, served as
/// the layer `<collection>__<name>`. Each channel is a band expression over the collection's
/// band names (or `b1`, `b2`... by number): one `grey` channel, or `red`, `green` and `blue`,
/// with an optional `alpha`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BrowseStyle {
    /// The single channel (grey, or through `colormap`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grey: Option<String>,
    /// The red channel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub red: Option<String>,
    /// The green channel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub green: Option<String>,
    /// The blue channel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blue: Option<String>,
    /// The opacity channel (stretched like the others: its range's top is opaque).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alpha: Option<String>,
    /// The value ranges stretched to 0..255: one for every channel, or one per channel;
    /// empty: values are clamped to 0..255.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ranges: Vec<[f64; 2]>,
    /// Pixels where a channel has this value are not drawn.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nodata: Option<f64>,
    /// Colormap of a `grey` browse.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub colormap: Option<String>,
}

impl BrowseStyle {
    /// The channels' expressions: one (`grey`), three or four (`red`, `green`, `blue`,
    /// `alpha`), or why not.
    pub fn channels(&self) -> Result<Vec<&str>, String> {
        match (
            &self.grey,
            [&self.red, &self.green, &self.blue],
            &self.alpha,
        ) {
            (Some(grey), [None, None, None], None) => Ok(vec![grey.as_str()]),
            (None, [Some(r), Some(g), Some(b)], alpha) => {
                let mut channels = vec![r.as_str(), g.as_str(), b.as_str()];
                channels.extend(alpha.as_deref());
                Ok(channels)
            }
            _ => Err("needs either grey, or red, green and blue (and optionally alpha)".to_owned()),
        }
    }
}

/// A mask type (EOxServer's): vector geometries registered with a product, served as the
/// layers `<collection>__<name>` (the masks drawn) and `<collection>__masked_<name>` (the
/// products cut by them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaskType {
    /// The mask marks the valid area (kept when masking); otherwise it marks what is cut out
    /// (clouds, snow...).
    #[serde(default)]
    pub validity: bool,
}

/// What a product registered again under its id does to the one registered (ngEO's
/// replacement strategies), decided by the `dateTime` of the browse reports they came from
/// ([`CollectionConfig::replacement`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Strategy {
    /// A report as new or newer replaces the product; an older one is skipped.
    #[default]
    Replace,
    /// Only a newer report replaces the product; one as old or older is skipped.
    Skip,
    /// A report less than the collection's `merge_threshold` newer (or older) than the one
    /// registered is merged into the product: its image composited over the one there;
    /// a report further apart replaces it. Never skips.
    Merge,
}

impl Strategy {
    /// Its name in the configuration: `replace`, `skip` or `merge`.
    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::Replace => "replace",
            Strategy::Skip => "skip",
            Strategy::Merge => "merge",
        }
    }
}

/// What becomes of a product registered again under its id ([`CollectionConfig::replacement`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replacement {
    /// The new version replaces the one there.
    Replace,
    /// The version there stays; the new one is left alone.
    Skip,
    /// The new version is composited over the one there into one product.
    Merge,
}

/// How far apart (by their reports' `dateTime`) two versions of a product of a `merge`
/// collection may be to be merged; ngEO's `merge_threshold`, 5 hours unless configured.
/// Written as ngEO writes it (`5h`, `1w 5d 3h 12m 18ms`: see [`humantime::parse_duration`]),
/// as whole seconds (`18000`, also a TOML integer) or as an ISO 8601 duration of weeks, days,
/// hours, minutes and seconds (`PT5H`, `P1DT12H`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct MergeThreshold(std::time::Duration);

impl MergeThreshold {
    /// ngEO's default: 5 hours.
    pub const DEFAULT: MergeThreshold = MergeThreshold(std::time::Duration::from_secs(5 * 3600));

    /// The threshold as a duration.
    pub fn duration(self) -> std::time::Duration {
        self.0
    }
}

impl Default for MergeThreshold {
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl From<std::time::Duration> for MergeThreshold {
    fn from(duration: std::time::Duration) -> Self {
        Self(duration)
    }
}

impl std::fmt::Display for MergeThreshold {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", humantime::format_duration(self.0))
    }
}

impl std::str::FromStr for MergeThreshold {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let parsed = if text.bytes().all(|b| b.is_ascii_digit()) && !text.is_empty() {
            text.parse()
                .map(std::time::Duration::from_secs)
                .map_err(|e| e.to_string())
        } else if let Some(iso) = text.strip_prefix('P') {
            iso_duration(iso)
        } else {
            humantime::parse_duration(text).map_err(|e| e.to_string())
        };
        parsed.map(Self).map_err(|reason| {
            format!(
                "merge_threshold {text:?} is not a duration ({reason}); write e.g. \"5h\", \
                 \"1w 5d 3h 12m 18ms\", \"PT5H\" or whole seconds"
            )
        })
    }
}

/// An ISO 8601 duration after its `P`: `[nW][nD][T[nH][nM][nS]]`, each `n` a number (years
/// and months are refused: they have no fixed length).
fn iso_duration(text: &str) -> Result<std::time::Duration, String> {
    let (date, time) = text.split_once('T').unwrap_or((text, ""));
    if text.is_empty() || text.ends_with('T') {
        return Err("an ISO 8601 duration needs a value after P and after T".into());
    }
    let mut seconds = 0.0;
    for (part, units) in [
        (date, &[('W', 604_800.0), ('D', 86_400.0)][..]),
        (time, &[('H', 3_600.0), ('M', 60.0), ('S', 1.0)][..]),
    ] {
        let mut rest = part;
        let mut units = units.iter();
        while !rest.is_empty() {
            let end = rest
                .find(|c: char| c.is_ascii_alphabetic())
                .ok_or_else(|| format!("{rest:?} lacks its unit"))?;
            let designator = rest[end..].chars().next().expect("found above");
            let &(_, scale) = units
                .by_ref()
                .find(|(unit, _)| *unit == designator)
                .ok_or_else(|| format!("unit {designator:?} is out of place or unknown"))?;
            let value: f64 = rest[..end]
                .parse()
                .map_err(|_| format!("{:?} is not a number", &rest[..end]))?;
            seconds += value * scale;
            rest = &rest[end + 1..];
        }
    }
    std::time::Duration::try_from_secs_f64(seconds).map_err(|e| e.to_string())
}

impl Serialize for MergeThreshold {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for MergeThreshold {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Written {
            Seconds(i64),
            Text(String),
        }
        match Written::deserialize(deserializer)? {
            Written::Seconds(seconds) => u64::try_from(seconds)
                .map(|seconds| Self(std::time::Duration::from_secs(seconds)))
                .map_err(|_| {
                    serde::de::Error::custom(format!(
                        "merge_threshold {seconds} is not a duration (a negative number of seconds)"
                    ))
                }),
            Written::Text(text) => text.parse().map_err(serde::de::Error::custom),
        }
    }
}

/// The layer-name suffixes pvs gives a collection itself (`<collection>__outlines`...): no
/// browse or mask type may be called so.
pub const RESERVED_BROWSE_NAMES: [&str; 2] = ["outlines", "outlined"];

/// The prefix of a masked layer's suffix (`<collection>__masked_<mask type>`).
pub const MASKED_PREFIX: &str = "masked_";

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
    /// The names of the stored bands, in order, for browse expressions (`B04`); bands are
    /// also named `b1`, `b2`... by number.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub band_names: Vec<String>,
    /// Browse types by name, each the layer `<collection>__<name>`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub browses: BTreeMap<String, BrowseStyle>,
    /// The browse type that draws the collection's own layer; `None`: `render`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_browse: Option<String>,
    /// Mask types by name, each the layers `<collection>__<name>` and
    /// `<collection>__masked_<name>`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub masks: BTreeMap<String, MaskType>,
    /// What a product registered again does to the one there.
    #[serde(default)]
    pub strategy: Strategy,
    /// How far apart two versions may be to be merged (strategy `merge`).
    #[serde(default)]
    pub merge_threshold: MergeThreshold,
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
            band_names: Vec::new(),
            browses: BTreeMap::new(),
            default_browse: None,
            masks: BTreeMap::new(),
            strategy: Strategy::default(),
            merge_threshold: MergeThreshold::default(),
        }
    }

    /// What a product from a report dated `new` does to the one from a report dated
    /// `registered` under this collection's strategy (ngEO's rules): `replace` replaces
    /// unless `new` is older; `skip` replaces only when `new` is newer; `merge` merges when
    /// `new` is less than `merge_threshold` after `registered` (or before it: a negative
    /// difference is below the threshold), and replaces otherwise.
    pub fn replacement(
        &self,
        new: chrono::DateTime<chrono::Utc>,
        registered: chrono::DateTime<chrono::Utc>,
    ) -> Replacement {
        let skipped = match self.strategy {
            Strategy::Replace => new < registered,
            Strategy::Skip => new <= registered,
            Strategy::Merge => {
                let within = chrono::TimeDelta::from_std(self.merge_threshold.duration())
                    .map_or(true, |threshold| new - registered < threshold);
                return if within {
                    Replacement::Merge
                } else {
                    Replacement::Replace
                };
            }
        };
        if skipped {
            Replacement::Skip
        } else {
            Replacement::Replace
        }
    }
}

impl CollectionConfig {
    /// Checks band names, browse types and the default browse type (the expressions are
    /// parsed where they are drawn, by the renderer at start-up).
    fn validate_browses(&self) -> Result<(), String> {
        let word = |text: &str| {
            !text.is_empty()
                && text.len() <= 64
                && text.starts_with(|c: char| c.is_ascii_alphabetic())
                && text.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        };
        let mut seen = std::collections::BTreeSet::new();
        for band in &self.band_names {
            if !word(band) {
                return Err(format!(
                    "band_names: {band:?} must be a letter then letters, digits or '_' (at most 64)"
                ));
            }
            if !seen.insert(band.as_str()) {
                return Err(format!("band_names: {band:?} is listed twice"));
            }
        }
        for (browse, config) in &self.browses {
            let at = |problem: String| format!("browses.{browse}: {problem}");
            if !word(browse) || browse.contains("__") {
                return Err(at(
                    "a name is a letter then letters, digits or '_' (no \"__\", at most 64)".into(),
                ));
            }
            if RESERVED_BROWSE_NAMES.contains(&browse.as_str()) {
                return Err(at(format!(
                    "the name is reserved for the layer {}__{browse}",
                    "<collection>"
                )));
            }
            let channels = config.channels().map_err(at)?;
            if config.ranges.len() > 1 && config.ranges.len() != channels.len() {
                return Err(at(format!(
                    "{} ranges for {} channels: give one for every channel, or one per channel",
                    config.ranges.len(),
                    channels.len()
                )));
            }
            for [min, max] in &config.ranges {
                if !(min.is_finite() && max.is_finite() && min < max) {
                    return Err(at(format!(
                        "range [{min}, {max}] must be finite with min < max"
                    )));
                }
            }
            if let Some(nodata) = config.nodata
                && !nodata.is_finite()
            {
                return Err(at(format!("nodata {nodata} must be a finite number")));
            }
            if let Some(colormap) = &config.colormap {
                if channels.len() != 1 {
                    return Err(at("a colormap needs a single (grey) channel".into()));
                }
                if !COLORMAPS.contains(&colormap.as_str()) {
                    return Err(at(format!(
                        "colormap {colormap:?} is unknown; use one of {}",
                        COLORMAPS.join(", ")
                    )));
                }
            }
        }
        for mask in self.masks.keys() {
            let at = |problem: &str| format!("masks.{mask}: {problem}");
            if !word(mask) || mask.contains("__") {
                return Err(at(
                    "a name is a letter then letters, digits or '_' (no \"__\", at most 64)",
                ));
            }
            if RESERVED_BROWSE_NAMES.contains(&mask.as_str()) || mask.starts_with(MASKED_PREFIX) {
                return Err(at("the name is reserved (outlines, outlined, masked_...)"));
            }
            if self.browses.contains_key(mask) {
                return Err(at(
                    "a browse type has the same name (both would be one layer)",
                ));
            }
        }
        if let Some(default) = &self.default_browse
            && !self.browses.contains_key(default)
        {
            return Err(format!(
                "default_browse {default:?} is not one of the collection's browses"
            ));
        }
        Ok(())
    }

    /// The band number (1-based) of a band name in expressions: one of `band_names`, else
    /// `b<n>` (`b1` is the first band).
    pub fn band_number(&self, name: &str) -> Option<usize> {
        band_number(&self.band_names, name)
    }
}

/// The band number (1-based) of a band name in expressions: one of `band_names` (in order),
/// else `b<n>` (`b1` is the first band).
pub fn band_number(band_names: &[String], name: &str) -> Option<usize> {
    if let Some(index) = band_names.iter().position(|band| band == name) {
        return Some(index + 1);
    }
    name.strip_prefix('b')
        .filter(|digits| !digits.starts_with('0'))
        .and_then(|digits| digits.parse::<usize>().ok())
        .filter(|n| (1..=65_535).contains(n))
}

/// The whole configuration: collections by name.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Collections {
    /// Collections by name.
    #[serde(default)]
    pub collections: BTreeMap<String, CollectionConfig>,
}

/// The header (`[collections.NAME]`) of the table that holds byte `offset` of `text`.
fn table_at(text: &str, offset: usize) -> Option<&str> {
    text.get(..offset)?
        .lines()
        .rev()
        .map(str::trim)
        .find(|line| line.starts_with('['))
        .and_then(|line| line.get(..=line.find(']')?))
}

/// A configuration that cannot be used, with where and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("collections configuration: {0}")]
pub struct CollectionsError(String);

impl Collections {
    /// Reads and checks a TOML configuration.
    pub fn from_toml(text: &str) -> Result<Self, CollectionsError> {
        let mut config: Collections = toml::from_str(text).map_err(|e| {
            // Name the table of the mistake (the message shows its line only).
            let table = e.span().and_then(|span| table_at(text, span.start));
            CollectionsError(match table {
                Some(table) => format!("{table} {e}"),
                None => e.to_string(),
            })
        })?;
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
            if let Err(problem) = c.validate_browses() {
                return fail(name, problem);
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
    fn strategies_order_reports_by_their_date() {
        let at = |text: &str| text.parse::<chrono::DateTime<chrono::Utc>>().unwrap();
        let (old, new) = (at("2020-01-01T00:00:00Z"), at("2020-01-02T00:00:00Z"));
        let config = |text: &str| {
            let config = Collections::from_toml(&format!("[collections.A]\n{text}")).unwrap();
            config.collections["A"].clone()
        };
        let replace = config("");
        assert_eq!(replace.strategy, Strategy::Replace);
        assert_eq!(
            replace.replacement(old, new),
            Replacement::Skip,
            "an older report never replaces"
        );
        assert_eq!(
            replace.replacement(new, new),
            Replacement::Replace,
            "the same report replaces"
        );
        assert_eq!(replace.replacement(new, old), Replacement::Replace);
        let skip = config("strategy = \"skip\"");
        assert_eq!(
            skip.replacement(new, new),
            Replacement::Skip,
            "skip keeps what is there"
        );
        assert_eq!(
            skip.replacement(new, old),
            Replacement::Replace,
            "a newer report replaces"
        );
        let merge = config("strategy = \"merge\"");
        assert_eq!(merge.merge_threshold, MergeThreshold::DEFAULT);
        let hours = |h: i64| old + chrono::TimeDelta::hours(h);
        assert_eq!(merge.replacement(hours(1), old), Replacement::Merge);
        assert_eq!(
            merge.replacement(hours(-1), old),
            Replacement::Merge,
            "a negative difference is below the threshold"
        );
        assert_eq!(merge.replacement(hours(-30), old), Replacement::Merge);
        assert_eq!(
            merge.replacement(hours(5), old),
            Replacement::Replace,
            "the threshold itself is not below it"
        );
        assert_eq!(merge.replacement(new, old), Replacement::Replace);
        let error = Collections::from_toml("[collections.A]\nstrategy = \"mix\"").unwrap_err();
        assert!(error.to_string().contains("strategy"), "{error}");
    }

    #[test]
    fn merge_thresholds_are_written_as_ngeo_writes_them() {
        let threshold = |text: &str| {
            let config = Collections::from_toml(&format!(
                "[collections.A]\nstrategy = \"merge\"\nmerge_threshold = {text}"
            ))
            .unwrap();
            config.collections["A"]
                .merge_threshold
                .duration()
                .as_millis()
        };
        let (second, hour, day) = (1000, 3_600_000, 86_400_000);
        assert_eq!(threshold("\"5h\""), 5 * hour);
        assert_eq!(
            threshold("\"1w 5d 3h 12m 18ms\""),
            12 * day + 3 * hour + 12 * 60 * second + 18
        );
        assert_eq!(threshold("\"3600\""), hour);
        assert_eq!(threshold("7200"), 2 * hour);
        assert_eq!(threshold("\"PT5H\""), 5 * hour);
        assert_eq!(
            threshold("\"P1W2DT1H30M1.5S\""),
            9 * day + hour + 30 * 60 * second + 1500
        );
        let written = MergeThreshold::from(std::time::Duration::from_secs(12 * 86_400 + 3 * 3600));
        assert_eq!(written.to_string().parse::<MergeThreshold>(), Ok(written));
        for (text, needle) in [
            ("\"5 parsecs\"", "\"5 parsecs\""),
            ("\"PT\"", "\"PT\""),
            ("\"P1Y\"", "\"P1Y\""),
            ("\"PT5H3D\"", "\"PT5H3D\""),
            ("\"\"", "merge_threshold \"\""),
            ("-5", "merge_threshold -5"),
        ] {
            let error = Collections::from_toml(&format!(
                "[collections.OPTICAL]\nstrategy = \"merge\"\nmerge_threshold = {text}"
            ))
            .unwrap_err()
            .to_string();
            assert!(error.contains(needle), "{text}: {error}");
            assert!(error.contains("collections.OPTICAL"), "{text}: {error}");
        }
    }

    #[test]
    fn browse_types_and_band_names() {
        let config = Collections::from_toml(
            "[collections.S2]\nband_names = [\"B02\", \"B03\", \"B04\", \"B08\"]\ndefault_browse = \"TRUE_COLOR\"\n\
             [collections.S2.browses.TRUE_COLOR]\nred = \"B04\"\ngreen = \"B03\"\nblue = \"B02\"\nranges = [[0, 3000]]\nnodata = 0\n\
             [collections.S2.browses.NDVI]\ngrey = \"(B08 - B04) / (B08 + B04)\"\nranges = [[-1, 1]]\ncolormap = \"rdylgn\"\n",
        )
        .unwrap();
        let s2 = &config.collections["S2"];
        assert_eq!(s2.default_browse.as_deref(), Some("TRUE_COLOR"));
        assert_eq!(
            s2.browses["TRUE_COLOR"].channels().unwrap(),
            ["B04", "B03", "B02"]
        );
        assert_eq!(
            s2.browses["NDVI"].channels().unwrap(),
            ["(B08 - B04) / (B08 + B04)"]
        );
        assert_eq!(s2.browses["TRUE_COLOR"].nodata, Some(0.0));
        assert_eq!(s2.band_number("B08"), Some(4));
        assert_eq!(s2.band_number("b2"), Some(2));
        assert_eq!(s2.band_number("b0"), None);
        assert_eq!(s2.band_number("b02"), None);
        assert_eq!(s2.band_number("B05"), None);
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
            (
                "[collections.A.browses.X]\nred = \"b1\"",
                "browses.X: needs either grey, or red, green and blue",
            ),
            (
                "[collections.A.browses.X]\ngrey = \"b1\"\nred = \"b1\"\ngreen = \"b1\"\nblue = \"b1\"",
                "needs either grey",
            ),
            (
                "[collections.A.browses.outlines]\ngrey = \"b1\"",
                "reserved",
            ),
            ("[collections.A.browses.X__Y]\ngrey = \"b1\"", "no \"__\""),
            (
                "[collections.A.browses.X]\ngrey = \"b1\"\nranges = [[0, 1], [0, 2]]",
                "2 ranges for 1 channels",
            ),
            (
                "[collections.A.browses.X]\ngrey = \"b1\"\nranges = [[2, 1]]",
                "range [2, 1]",
            ),
            (
                "[collections.A.browses.X]\nred = \"b1\"\ngreen = \"b2\"\nblue = \"b3\"\ncolormap = \"viridis\"",
                "a colormap needs a single",
            ),
            (
                "[collections.A.browses.X]\ngrey = \"b1\"\ncolormap = \"jet\"",
                "colormap \"jet\" is unknown",
            ),
            (
                "[collections.A.browses.X]\ngrey = \"b1\"\nwhat = 1",
                "unknown field",
            ),
            (
                "[collections.A]\ndefault_browse = \"X\"",
                "default_browse \"X\"",
            ),
            (
                "[collections.A]\nband_names = [\"B1\", \"B1\"]",
                "listed twice",
            ),
            ("[collections.A]\nband_names = [\"1B\"]", "band_names"),
            ("[collections.A.masks.masked_x]", "reserved"),
            ("[collections.A.masks.outlines]", "reserved"),
            (
                "[collections.A.masks.X]\n[collections.A.browses.X]\ngrey = \"b1\"",
                "masks.X: a browse type has the same name",
            ),
            ("[collections.A.masks.X]\nvalid = true", "unknown field"),
        ];
        for (text, needle) in cases {
            let err = Collections::from_toml(text).unwrap_err().to_string();
            assert!(err.contains(needle), "{text:?}: {err}");
        }
    }
}
