//! Layer names: a collection's layers are `<collection>` and `<collection>__<suffix>`, split
//! at the first `__` as EOxServer does: `__outlines` (footprints), `__outlined` (the
//! products with their footprints drawn over them), `__<browse type>` (the products drawn as
//! that browse type says), `__<mask type>` (the products' masks) and `__masked_<mask type>`
//! (the products cut by their masks).

/// The separator of a layer name's suffix.
pub const SEPARATOR: &str = "__";

/// The prefix of a masked layer's suffix.
pub use pvs_model::MASKED_PREFIX;

/// The suffix of a collection's outlines layer: `<collection>__outlines` draws the
/// footprints of the collection's products.
pub const OUTLINES_SUFFIX: &str = "__outlines";

/// What a layer shows of a collection's (or a product's) products.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Look {
    /// Drawn as the collection's default browse (the layer `<collection>`).
    Default,
    /// A browse type (the products drawn as it says) or a mask type (the products' masks
    /// drawn) of the collection: `<collection>__<name>`.
    Named(String),
    /// Cut by their masks of this type (`<collection>__masked_<mask>`).
    Masked(String),
    /// Their footprints (`<collection>__outlines`).
    Outlines,
    /// Drawn with their footprints over them (`<collection>__outlined`).
    Outlined,
}

impl Look {
    /// The look a layer-name suffix (what follows the first `__`) asks for.
    pub fn of_suffix(suffix: &str) -> Self {
        match suffix {
            "outlines" => Self::Outlines,
            "outlined" => Self::Outlined,
            other => match other.strip_prefix(MASKED_PREFIX) {
                Some(mask) if !mask.is_empty() => Self::Masked(mask.to_owned()),
                _ => Self::Named(other.to_owned()),
            },
        }
    }

    /// The name of the layer showing `base` (a collection or product) with this look.
    pub fn layer_name(&self, base: &str) -> String {
        match self {
            Self::Default => base.to_owned(),
            Self::Named(name) => format!("{base}{SEPARATOR}{name}"),
            Self::Masked(mask) => format!("{base}{SEPARATOR}{MASKED_PREFIX}{mask}"),
            Self::Outlines => format!("{base}{SEPARATOR}outlines"),
            Self::Outlined => format!("{base}{SEPARATOR}outlined"),
        }
    }

    /// Whether products are drawn (every look but the outlines alone).
    pub fn draws_products(&self) -> bool {
        !matches!(self, Self::Outlines)
    }
}

/// A layer name split at its first `__`: the collection (or product) and the look; a name
/// without `__` is the default look.
pub fn split(layer: &str) -> (&str, Look) {
    match layer.split_once(SEPARATOR) {
        Some((base, suffix)) if !base.is_empty() && !suffix.is_empty() => {
            (base, Look::of_suffix(suffix))
        }
        _ => (layer, Look::Default),
    }
}

/// The name of `collection`'s outlines layer.
pub fn outlines_layer(collection: &str) -> String {
    Look::Outlines.layer_name(collection)
}

/// The collection a tile layer is drawn from: the name before its first `__`.
pub fn collection_of(layer: &str) -> &str {
    split(layer).0
}

/// Every layer of a collection with these browse and mask types: the collection, its
/// outlines, its outlined layer, one per browse type and two per mask type (the layers whose
/// cached tiles a change of one of its products makes stale).
pub fn layers_of<'a>(
    collection: &str,
    browses: impl IntoIterator<Item = &'a str>,
    masks: impl IntoIterator<Item = &'a str>,
) -> Vec<String> {
    let mut layers = vec![
        Look::Default.layer_name(collection),
        Look::Outlines.layer_name(collection),
        Look::Outlined.layer_name(collection),
    ];
    layers.extend(
        browses
            .into_iter()
            .map(|browse| Look::Named(browse.to_owned()).layer_name(collection)),
    );
    for mask in masks {
        layers.push(Look::Named(mask.to_owned()).layer_name(collection));
        layers.push(Look::Masked(mask.to_owned()).layer_name(collection));
    }
    layers
}

/// Why a layer name cannot be used in a tile key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "layer name {0:?} cannot name tiles: 1 to 255 letters, digits, `_`, `-` or `.`, not starting with `.`"
)]
pub struct BadLayerName(pub String);

/// Checks that `layer` can be a segment of tile keys (and so of storage keys and URLs):
/// 1 to 255 ASCII letters, digits, `_`, `-` or `.`, not starting with `.` (no `..`, no
/// `/`, nothing to escape).
pub fn check_layer_name(layer: &str) -> Result<(), BadLayerName> {
    let ok = !layer.is_empty()
        && layer.len() <= 255
        && !layer.starts_with('.')
        && layer
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(BadLayerName(layer.chars().take(64).collect()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(outlines_layer("SAR"), "SAR__outlines");
        assert_eq!(split("SAR__outlines"), ("SAR", Look::Outlines));
        assert_eq!(split("SAR__outlined"), ("SAR", Look::Outlined));
        assert_eq!(
            split("S2L2A__TRUE_COLOR"),
            ("S2L2A", Look::Named("TRUE_COLOR".into()))
        );
        assert_eq!(
            split("A__B__outlines"),
            ("A", Look::Named("B__outlines".into()))
        );
        assert_eq!(
            split("S2__masked_clouds"),
            ("S2", Look::Masked("clouds".into()))
        );
        assert_eq!(split("S2__masked_"), ("S2", Look::Named("masked_".into())));
        assert_eq!(split("SAR"), ("SAR", Look::Default));
        assert_eq!(split("__x"), ("__x", Look::Default));
        assert_eq!(split("x__"), ("x__", Look::Default));
        assert_eq!(collection_of("SAR__outlines"), "SAR");
        assert_eq!(collection_of("SAR"), "SAR");
        for look in [
            Look::Default,
            Look::Outlines,
            Look::Outlined,
            Look::Named("NDVI".into()),
            Look::Masked("clouds".into()),
        ] {
            assert_eq!(split(&look.layer_name("S2")), ("S2", look.clone()));
        }
        assert_eq!(
            layers_of("S2", ["NDVI"], ["clouds"]),
            [
                "S2",
                "S2__outlines",
                "S2__outlined",
                "S2__NDVI",
                "S2__clouds",
                "S2__masked_clouds"
            ]
        );
        assert!(check_layer_name("S2_L1C-v1.0").is_ok());
        for bad in ["", ".x", "a/b", "..", "a b", "é", &"x".repeat(256)] {
            assert!(check_layer_name(bad).is_err(), "{bad:?}");
        }
    }
}
