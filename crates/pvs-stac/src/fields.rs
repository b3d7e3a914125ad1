//! The Fields extension: which members of each Item an answer carries.
//!
//! - no `fields` (or empty lists): the whole Item;
//! - `include` only: `type`, `stac_version`, `id` and `collection` (always kept: small and
//!   needed to read an Item at all), and the included paths;
//! - `exclude` only: the whole Item without the excluded paths (but the four above);
//! - both: the included paths, less the excluded ones that are not also included (an include
//!   wins over the same exclude; a longer excluded path cuts into an included one:
//!   `include=properties`, `exclude=properties.platform`).
//!
//! Paths are member names joined by `.` (`properties.eo:cloud_cover`); a path naming nothing
//! is no error.

use serde_json::{Map, Value};
use stac::api::Fields;

/// The members every Item keeps, whatever the fields.
const ALWAYS: [&str; 4] = ["type", "stac_version", "id", "collection"];

/// The most paths one `fields` may list.
pub const MAX_FIELDS: usize = 100;

/// Applies `fields` to one Item.
pub fn apply(fields: &Fields, item: Map<String, Value>) -> Map<String, Value> {
    let mut item = if fields.include.is_empty() {
        item
    } else {
        let mut kept = Map::new();
        for member in ALWAYS {
            if let Some(value) = item.get(member) {
                kept.insert(member.to_owned(), value.clone());
            }
        }
        for path in &fields.include {
            copy(&item, &mut kept, &split(path));
        }
        kept
    };
    for path in &fields.exclude {
        if fields.include.contains(path) || ALWAYS.contains(&path.as_str()) {
            continue;
        }
        remove(&mut item, &split(path));
    }
    item
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
            "properties": {"datetime": "2024-01-01T00:00:00Z", "platform": "x", "eo:cloud_cover": 5},
            "assets": {"data": {"href": "h"}},
            "links": []
        })
        .as_object()
        .cloned()
        .unwrap()
    }

    fn fields(include: &[&str], exclude: &[&str]) -> Fields {
        Fields {
            include: include.iter().map(|s| s.to_string()).collect(),
            exclude: exclude.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn nothing_keeps_everything() {
        assert_eq!(apply(&fields(&[], &[]), item()), item());
    }

    #[test]
    fn include_keeps_the_paths_and_the_essentials() {
        let got = apply(&fields(&["properties.eo:cloud_cover", "bbox"], &[]), item());
        assert_eq!(
            Value::Object(got),
            json!({
                "type": "Feature", "stac_version": "1.1.0", "id": "a", "collection": "C",
                "properties": {"eo:cloud_cover": 5}
            })
        );
    }

    #[test]
    fn exclude_removes_the_paths() {
        let got = apply(
            &fields(&[], &["geometry", "properties.platform", "id", "x.y"]),
            item(),
        );
        assert!(!got.contains_key("geometry"));
        assert_eq!(got["id"], "a", "id is always kept");
        assert_eq!(
            got["properties"],
            json!({"datetime": "2024-01-01T00:00:00Z", "eo:cloud_cover": 5})
        );
    }

    #[test]
    fn include_wins_over_the_same_exclude() {
        let got = apply(
            &fields(
                &["properties", "assets"],
                &["properties.platform", "assets"],
            ),
            item(),
        );
        assert_eq!(got["assets"], json!({"data": {"href": "h"}}));
        assert_eq!(
            got["properties"],
            json!({"datetime": "2024-01-01T00:00:00Z", "eo:cloud_cover": 5})
        );
        assert!(!got.contains_key("links"));
    }
}
