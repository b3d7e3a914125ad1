//! Layer names: the outlines layer of a collection, and the names that can name tiles.

/// The suffix of a collection's outlines layer: `<collection>__outlines` draws the
/// footprints of the collection's products.
pub const OUTLINES_SUFFIX: &str = "__outlines";

/// The name of `collection`'s outlines layer.
pub fn outlines_layer(collection: &str) -> String {
    format!("{collection}{OUTLINES_SUFFIX}")
}

/// The collection whose outlines `layer` names, if it names outlines.
pub fn outlined_collection(layer: &str) -> Option<&str> {
    layer.strip_suffix(OUTLINES_SUFFIX)
}

/// The collection a layer is drawn from: the layer itself, or the collection whose
/// outlines it names.
pub fn collection_of(layer: &str) -> &str {
    outlined_collection(layer).unwrap_or(layer)
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
        assert_eq!(outlined_collection("SAR__outlines"), Some("SAR"));
        assert_eq!(outlined_collection("SAR"), None);
        assert_eq!(collection_of("SAR__outlines"), "SAR");
        assert_eq!(collection_of("SAR"), "SAR");
        assert!(check_layer_name("S2_L1C-v1.0").is_ok());
        for bad in ["", ".x", "a/b", "..", "a b", "é", &"x".repeat(256)] {
            assert!(check_layer_name(bad).is_err(), "{bad:?}");
        }
    }
}
