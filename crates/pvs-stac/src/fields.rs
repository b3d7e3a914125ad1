//! The Fields extension: which members of each Item an answer carries.
//!
//! - no `fields` at all: the whole Item;
//! - `include` given (not empty): `type`, `stac_version`, `id` and `collection` (always kept:
//!   small, and needed to read an Item at all) and the included paths;
//! - `include` empty (a GET `fields` with nothing or only excludes; a POST `{}`, or `include`
//!   null or `[]`): the default set, `type`, `stac_version`, `id`, `collection`, `geometry`,
//!   `bbox`, `links`, `assets` and `properties.datetime` (with `start_datetime` and
//!   `end_datetime`);
//! - a POST `exclude` without an `include` member: the whole Item;
//! - then the excluded paths are removed, except the four always kept and a path that is
//!   included, or that holds a more specific included path (`include` wins over the same
//!   `exclude`; `exclude=properties` with `include=properties.eo:cloud_cover` keeps that
//!   property alone; `include=properties` with `exclude=properties.platform` drops it).
//!
//! Paths are member names joined by `.` (`properties.eo:cloud_cover`); a path naming nothing
//! is no error.

use serde_json::{Map, Value};
use stac::api::Fields;

use crate::error::ApiError;

/// The members every Item keeps, whatever the fields.
const ALWAYS: [&str; 4] = ["type", "stac_version", "id", "collection"];

/// The default set, besides [`ALWAYS`].
const DEFAULT: [&str; 7] = [
    "geometry",
    "bbox",
    "links",
    "assets",
    "properties.datetime",
    "properties.start_datetime",
    "properties.end_datetime",
];

/// The most paths one `fields` may list.
pub const MAX_FIELDS: usize = 100;

/// What a `fields` parameter asks for ([`Default`]: the whole Item).
#[derive(Debug, Clone, PartialEq)]
pub struct Selection {
    include: Vec<String>,
    exclude: Vec<String>,
    /// Whether the excludes apply to the whole Item rather than the default set (when nothing
    /// is included).
    whole: bool,
}

impl Default for Selection {
    /// The whole Item: no `fields` given.
    fn default() -> Self {
        Self {
            include: Vec::new(),
            exclude: Vec::new(),
            whole: true,
        }
    }
}

impl Selection {
    /// A GET `fields`: `id,-geometry` (a `+` in front is an include too).
    pub fn from_query(text: &str) -> Result<Self, ApiError> {
        let fields: Fields = text.parse().expect("infallible");
        Self::new(fields, false)
    }

    /// A POST `fields`: `{"include": [...], "exclude": [...]}` (either may be null or
    /// missing), or a list as in a GET.
    pub fn from_json(value: &Value) -> Result<Self, ApiError> {
        let invalid = || {
            ApiError::invalid(
                "fields",
                format!("must be {{\"include\": [...], \"exclude\": [...]}}, not {value}"),
            )
        };
        let mut value = value.clone();
        let mut whole = false;
        match &mut value {
            Value::Object(members) => {
                if members
                    .keys()
                    .any(|key| key != "include" && key != "exclude")
                {
                    return Err(invalid());
                }
                // `exclude` alone takes from the whole Item; `include` given (even null or
                // empty) from the default set.
                whole = !members.contains_key("include")
                    && members
                        .get("exclude")
                        .and_then(Value::as_array)
                        .is_some_and(|exclude| !exclude.is_empty());
                members.retain(|_, value| !value.is_null());
            }
            Value::Array(_) => {}
            _ => return Err(invalid()),
        }
        let fields: Fields = serde_json::from_value(value).map_err(|_| invalid())?;
        Self::new(fields, whole)
    }

    fn new(fields: Fields, whole: bool) -> Result<Self, ApiError> {
        let count = fields.include.len() + fields.exclude.len();
        if count > MAX_FIELDS {
            return Err(ApiError::invalid(
                "fields",
                format!("{count} paths, more than the {MAX_FIELDS} allowed"),
            ));
        }
        Ok(Self {
            include: fields.include,
            exclude: fields.exclude,
            whole,
        })
    }

    /// Applies the selection to one Item.
    pub fn apply(&self, item: Map<String, Value>) -> Map<String, Value> {
        let mut item = if self.include.is_empty() && self.whole {
            item
        } else {
            let mut kept = Map::new();
            let base: &[&str] = if self.include.is_empty() {
                &DEFAULT
            } else {
                &[]
            };
            let paths = ALWAYS
                .iter()
                .chain(base)
                .copied()
                .chain(self.include.iter().map(String::as_str));
            for path in paths {
                copy(&item, &mut kept, &split(path));
            }
            kept
        };
        for path in &self.exclude {
            let included = self.include.iter().any(|include| {
                include == path
                    || include
                        .strip_prefix(path.as_str())
                        .is_some_and(|rest| rest.starts_with('.'))
            });
            if included || ALWAYS.contains(&path.as_str()) {
                continue;
            }
            remove(&mut item, &split(path));
        }
        item
    }
}

fn split(path: &str) -> Vec<&str> {
    path.split('.').filter(|part| !part.is_empty()).collect()
}

/// Copies the value at `path` of `from` into `to`, creating the objects on the way.
fn copy(from: &Map<String, Value>, to: &mut Map<String, Value>, path: &[&str]) {
    let Some((first, rest)) = path.split_first() else {
        return;
    };
    let Some(value) = from.get(*first) else {
        return;
    };
    if rest.is_empty() {
        to.insert((*first).to_owned(), value.clone());
        return;
    }
    let Value::Object(inner) = value else {
        return;
    };
    let target = to
        .entry((*first).to_owned())
        .or_insert_with(|| Value::Object(Map::new()));
    if let Value::Object(target) = target {
        copy(inner, target, rest);
    }
}

/// Removes the value at `path`.
fn remove(map: &mut Map<String, Value>, path: &[&str]) {
    match path {
        [] => {}
        [last] => {
            map.remove(*last);
        }
        [first, rest @ ..] => {
            if let Some(Value::Object(inner)) = map.get_mut(*first) {
                remove(inner, rest);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn item() -> Map<String, Value> {
        json!({
            "type": "Feature",
            "stac_version": "1.1.0",
            "id": "a",
            "collection": "C",
            "geometry": {"type": "Point", "coordinates": [0, 0]},
            "bbox": [0, 0, 0, 0],
            "properties": {"datetime": "2024-01-01T00:00:00Z", "platform": "x", "eo:cloud_cover": 5},
            "assets": {"data": {"href": "h"}},
            "links": []
        })
        .as_object()
        .cloned()
        .unwrap()
    }

    fn keys(item: &Map<String, Value>) -> Vec<&str> {
        let mut keys: Vec<&str> = item.keys().map(String::as_str).collect();
        keys.sort();
        keys
    }

    fn get(text: &str) -> Map<String, Value> {
        Selection::from_query(text).unwrap().apply(item())
    }

    fn post(fields: Value) -> Map<String, Value> {
        Selection::from_json(&fields).unwrap().apply(item())
    }

    #[test]
    fn nothing_keeps_everything() {
        assert_eq!(Selection::default().apply(item()), item());
    }

    #[test]
    fn empty_fields_give_the_default_set() {
        for got in [
            get(""),
            post(json!({})),
            post(json!({"include": null, "exclude": null})),
            post(json!({"include": [], "exclude": []})),
        ] {
            assert_eq!(
                keys(&got),
                [
                    "assets",
                    "bbox",
                    "collection",
                    "geometry",
                    "id",
                    "links",
                    "properties",
                    "stac_version",
                    "type"
                ]
            );
            assert_eq!(
                got["properties"],
                json!({"datetime": "2024-01-01T00:00:00Z"})
            );
        }
    }

    #[test]
    fn include_keeps_the_paths_and_the_essentials() {
        let got = get("properties.eo:cloud_cover,+bbox");
        assert_eq!(
            Value::Object(got),
            json!({
                "type": "Feature", "stac_version": "1.1.0", "id": "a", "collection": "C",
                "bbox": [0, 0, 0, 0], "properties": {"eo:cloud_cover": 5}
            })
        );
    }

    #[test]
    fn exclude_alone() {
        // POST without `include`: from the whole Item.
        let got = post(json!({"exclude": ["geometry", "properties.platform", "id", "x.y"]}));
        assert!(!got.contains_key("geometry"));
        assert_eq!(got["id"], "a", "id is always kept");
        assert_eq!(
            got["properties"],
            json!({"datetime": "2024-01-01T00:00:00Z", "eo:cloud_cover": 5})
        );
        // GET, or POST with `include` null or empty: from the default set.
        for got in [
            get("-geometry"),
            post(json!({"exclude": ["geometry"], "include": []})),
            post(json!({"exclude": ["geometry"], "include": null})),
        ] {
            assert!(!got.contains_key("geometry"));
            assert!(got.contains_key("assets"));
            assert_eq!(
                got["properties"],
                json!({"datetime": "2024-01-01T00:00:00Z"})
            );
        }
    }

    #[test]
    fn the_more_specific_path_wins() {
        let got = post(
            json!({"include": ["properties", "assets"], "exclude": ["properties.platform", "assets"]}),
        );
        assert_eq!(
            got["assets"],
            json!({"data": {"href": "h"}}),
            "include wins over the same exclude"
        );
        assert_eq!(
            got["properties"],
            json!({"datetime": "2024-01-01T00:00:00Z", "eo:cloud_cover": 5})
        );
        assert!(!got.contains_key("links"));
        for got in [
            get("-properties,+properties.eo:cloud_cover"),
            post(json!({"exclude": ["properties"], "include": ["properties.eo:cloud_cover"]})),
        ] {
            assert_eq!(
                keys(&got),
                ["collection", "id", "properties", "stac_version", "type"]
            );
            assert_eq!(got["properties"], json!({"eo:cloud_cover": 5}));
        }
    }

    #[test]
    fn refusals_name_fields() {
        for value in [
            json!(null),
            json!(3),
            json!("id"),
            json!({"includes": ["id"]}),
            json!({"include": "id"}),
        ] {
            let error = Selection::from_json(&value).unwrap_err();
            assert!(
                error.description.starts_with("fields: "),
                "{value}: {error}"
            );
        }
        let many = vec!["a"; MAX_FIELDS + 1].join(",");
        assert!(Selection::from_query(&many).is_err());
    }
}
