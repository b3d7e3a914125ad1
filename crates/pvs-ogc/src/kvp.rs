//! KVP parameters (`?KEY=value&…`) of every OGC endpoint, read by one rule.

use crate::exception::Exception;

/// The parameters of a KVP request, in the order given.
///
/// The rule, the same for WMS, WCS, WMTS, XYZ, tiled WMS and OpenSearch:
///
/// - keys are matched ignoring ASCII case (`LAYERS`, `layers`, `Layers`);
/// - values are percent-decoded (`+` is a space) and trimmed of white space;
/// - of a repeated key the first counts ([`Params::all`] gives every value, for `SUBSET`;
///   OpenSearch refuses repeats itself);
/// - an empty value (`STYLES=`) counts as absent for [`Params::get`] and
///   [`Params::require`]: clients fill the optional parameters they have no value for with
///   nothing. Its key is still present ([`Params::keys`]): the tile cache passes a GetMap
///   with a parameter it does not know, empty or not, to the renderer.
#[derive(Debug, Clone, Default)]
pub struct Params(Vec<(String, String)>);

impl Params {
    /// Reads a raw query string (the part after `?`).
    pub fn parse(query: &str) -> Self {
        Self::new(
            url::form_urlencoded::parse(query.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned())),
        )
    }

    /// From decoded key/value pairs (values are trimmed here).
    pub fn new(pairs: impl IntoIterator<Item = (String, String)>) -> Self {
        Self(
            pairs
                .into_iter()
                .map(|(key, value)| {
                    let value = match value.trim() {
                        trimmed if trimmed.len() == value.len() => value,
                        trimmed => trimmed.to_owned(),
                    };
                    (key, value)
                })
                .collect(),
        )
    }

    /// The value of the first `key` (any case), unless it is empty.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }

    /// The value of `name` (any case), or `MissingParameterValue` located at `name` when it
    /// is absent or empty.
    pub fn require(&self, name: &str) -> Result<&str, Exception> {
        self.get(name).ok_or_else(|| Exception::missing(name))
    }

    /// Every non-empty value of `key` (any case), in order: parameters that may be repeated
    /// (WCS `SUBSET`).
    pub fn all<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(k, v)| k.eq_ignore_ascii_case(key) && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }

    /// Every key given, as spelled, empty values included.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|(k, _)| k.as_str())
    }

    /// Every pair given, keys as spelled, values trimmed, empty values included.
    pub fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_ignore_case_and_the_first_counts() {
        let p = Params::parse("BBOX=1,2,3,4&bbox=5,6,7,8&Width=%20&LaYeR=a&layer=b");
        assert_eq!(p.get("bbox"), Some("1,2,3,4"));
        assert_eq!(p.get("LAYER"), Some("a"));
        assert_eq!(p.get("width"), None);
        assert_eq!(
            p.require("width").unwrap_err().code,
            "MissingParameterValue"
        );
        assert_eq!(
            p.require("missing").unwrap_err().locator.as_deref(),
            Some("missing")
        );
    }

    /// The cache's copy kept empty values and spaces, the renderer's dropped and trimmed
    /// them: `SERVICE=&REQUEST=GetCapabilities` was a bad SERVICE for WMTS and no SERVICE for
    /// WMS. One rule now: trimmed, and empty is absent, but its key is still there.
    #[test]
    fn empty_values_are_absent_but_their_keys_present() {
        let p = Params::parse("SERVICE=&STYLES=&TIME=+2018+&LAYER=%20SAR%20&CQL=");
        assert_eq!(p.get("service"), None);
        assert!(p.require("styles").is_err());
        assert_eq!(p.get("time"), Some("2018"));
        assert_eq!(p.get("layer"), Some("SAR"));
        assert_eq!(
            p.keys().collect::<Vec<_>>(),
            ["SERVICE", "STYLES", "TIME", "LAYER", "CQL"]
        );
        assert_eq!(p.pairs().nth(2), Some(("TIME", "2018")));
    }

    #[test]
    fn repeated_values_in_order() {
        let p = Params::parse("SUBSET=Lat(1,2)&subset=&Subset=%20Long(3,4)&x=1");
        assert_eq!(
            p.all("subset").collect::<Vec<_>>(),
            ["Lat(1,2)", "Long(3,4)"]
        );
    }

    #[test]
    fn an_empty_first_value_hides_later_ones() {
        let p = Params::parse("time=&time=2020");
        assert_eq!(p.get("time"), None);
    }
}
