//! Checks shared by collections, products and queries. Each returns the reason a value is
//! refused; the caller adds what was refused.

use geo::Validation;
use geo_types::MultiPolygon;
use serde_json::Value;

/// A non-empty text of at most `max_chars` characters without control characters.
pub(crate) fn check_text(field: &str, value: &str, max_chars: usize) -> Result<(), String> {
    if value.is_empty() {
        return Err(format!("{field} is empty"));
    }
    let chars = value.chars().count();
    if chars > max_chars {
        return Err(format!(
            "{field} has {chars} characters, more than the {max_chars} allowed"
        ));
    }
    if let Some((index, character)) = value.char_indices().find(|(_, c)| c.is_control()) {
        return Err(format!(
            "{field} contains the control character {character:?} at byte {index}"
        ));
    }
    Ok(())
}

/// Metadata is a JSON object; no string in it holds a NUL character (PostgreSQL's `jsonb`
/// cannot store one, so no backend accepts it).
pub(crate) fn check_metadata(metadata: &Value) -> Result<(), String> {
    if !metadata.is_object() {
        return Err(format!(
            "metadata must be a JSON object (use {{}} for none), not {}",
            json_kind(metadata)
        ));
    }
    match find_nul(metadata, &mut "metadata".to_owned()) {
        Some(path) => Err(format!("{path} contains a NUL character")),
        None => Ok(()),
    }
}

/// The path (`<path>.key[index]`) of the first string or key in `value` holding a NUL
/// character.
pub(crate) fn find_nul(value: &Value, path: &mut String) -> Option<String> {
    match value {
        Value::String(text) if text.contains('\0') => Some(path.clone()),
        Value::Array(items) => items.iter().enumerate().find_map(|(index, item)| {
            let length = path.len();
            path.push_str(&format!("[{index}]"));
            let found = find_nul(item, path);
            path.truncate(length);
            found
        }),
        Value::Object(members) => members.iter().find_map(|(key, item)| {
            let length = path.len();
            path.push_str(&format!(".{key}"));
            let found = if key.contains('\0') {
                Some(path.clone())
            } else {
                find_nul(item, path)
            };
            path.truncate(length);
            found
        }),
        _ => None,
    }
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The most points a footprint (or query geometry) may have, over all its rings. Checking a
/// geometry's validity takes time growing with the square of its points (about 1 s for 10,000
/// in a release build), so larger ones are refused before that check; real footprints have
/// tens to a few hundred points.
pub const MAX_FOOTPRINT_POINTS: usize = 10_000;

/// A footprint (or query geometry) is a non-empty, valid multipolygon of at most
/// [`MAX_FOOTPRINT_POINTS`] points whose coordinates are finite EPSG:4326 longitudes and
/// latitudes (also the rule for other areas of a product, such as its masks; `field` names
/// it in the message).
pub fn check_footprint(field: &str, footprint: &MultiPolygon<f64>) -> Result<(), String> {
    if footprint.0.is_empty() {
        return Err(format!("{field} is empty: it needs at least one polygon"));
    }
    let points: usize = footprint
        .0
        .iter()
        .flat_map(|p| std::iter::once(p.exterior()).chain(p.interiors()))
        .map(|ring| ring.0.len())
        .sum();
    if points > MAX_FOOTPRINT_POINTS {
        return Err(format!(
            "{field} has {points} points, more than the {MAX_FOOTPRINT_POINTS} allowed"
        ));
    }
    for (index, polygon) in footprint.0.iter().enumerate() {
        let rings = std::iter::once(polygon.exterior()).chain(polygon.interiors());
        for (ring_index, ring) in rings.enumerate() {
            let ring_name = match ring_index {
                0 => "exterior ring".to_owned(),
                hole => format!("interior ring {}", hole - 1),
            };
            if ring.0.len() < 4 {
                return Err(format!(
                    "{field} polygon {index} {ring_name} has {} points; a closed ring needs at least 4",
                    ring.0.len()
                ));
            }
            for coord in &ring.0 {
                let in_range =
                    (-180.0..=180.0).contains(&coord.x) && (-90.0..=90.0).contains(&coord.y);
                if !in_range {
                    return Err(format!(
                        "{field} polygon {index} {ring_name} has the point ({}, {}) outside \
                         longitude [-180, 180] / latitude [-90, 90] (coordinates are EPSG:4326 \
                         longitude, latitude)",
                        coord.x, coord.y
                    ));
                }
            }
        }
    }
    footprint
        .check_validation()
        .map_err(|error| format!("{field} is not a valid geometry: {error}"))
}

#[cfg(test)]
mod tests {
    use geo_types::{LineString, MultiPolygon, Polygon, polygon};
    use serde_json::json;

    use super::*;

    fn square(west: f64, south: f64, east: f64, north: f64) -> Polygon<f64> {
        polygon![
            (x: west, y: south),
            (x: east, y: south),
            (x: east, y: north),
            (x: west, y: north),
        ]
    }

    #[test]
    fn footprints_of_too_many_points_are_refused_before_validation() {
        // A ring of 10,001 points on a circle: valid, but over the limit.
        let ring: Vec<(f64, f64)> = (0..=10_000)
            .map(|i| {
                let angle = std::f64::consts::TAU * f64::from(i % 10_000) / 10_000.0;
                (10.0 + angle.cos(), 45.0 + angle.sin())
            })
            .collect();
        let footprint = MultiPolygon(vec![Polygon::new(LineString::from(ring), vec![])]);
        let error = check_footprint("footprint", &footprint).unwrap_err();
        assert_eq!(
            error,
            "footprint has 10001 points, more than the 10000 allowed"
        );
        // Many small polygons count together.
        let many = MultiPolygon(
            (0..2001)
                .map(|i| {
                    let x = f64::from(i % 100);
                    let y = f64::from(i / 100) - 45.0;
                    square(x, y, x + 0.5, y + 0.5)
                })
                .collect(),
        );
        assert!(
            check_footprint("geom", &many)
                .unwrap_err()
                .starts_with("geom has 10005 points")
        );
    }

    #[test]
    fn text_rules() {
        assert!(check_text("id", "S2A_MSIL1C ü/#1", 255).is_ok());
        assert_eq!(check_text("id", "", 255).unwrap_err(), "id is empty");
        assert!(check_text("id", &"é".repeat(255), 255).is_ok());
        assert!(
            check_text("id", &"é".repeat(256), 255)
                .unwrap_err()
                .contains("256 characters")
        );
        assert!(
            check_text("id", "a\tb", 255)
                .unwrap_err()
                .contains("control character '\\t' at byte 1")
        );
    }

    #[test]
    fn metadata_rules() {
        assert!(check_metadata(&json!({})).is_ok());
        assert!(check_metadata(&json!({"a": [1, "x", {"b": null}]})).is_ok());
        assert!(
            check_metadata(&json!(null))
                .unwrap_err()
                .contains("not null")
        );
        assert!(
            check_metadata(&json!([1]))
                .unwrap_err()
                .contains("an array")
        );
        assert_eq!(
            check_metadata(&json!({"a": [1, {"b": "x\u{0}"}]})).unwrap_err(),
            "metadata.a[1].b contains a NUL character"
        );
        assert_eq!(
            check_metadata(&json!({"k\u{0}": 1})).unwrap_err(),
            "metadata.k\u{0} contains a NUL character"
        );
    }

    #[test]
    fn footprint_rules() {
        let ok = MultiPolygon(vec![square(0.0, 0.0, 1.0, 1.0)]);
        assert!(check_footprint("footprint", &ok).is_ok());
        let world = MultiPolygon(vec![square(-180.0, -90.0, 180.0, 90.0)]);
        assert!(check_footprint("footprint", &world).is_ok());

        let empty = MultiPolygon::<f64>(vec![]);
        assert!(
            check_footprint("footprint", &empty)
                .unwrap_err()
                .contains("empty")
        );

        let empty_polygon = MultiPolygon(vec![Polygon::new(LineString::new(vec![]), vec![])]);
        assert!(
            check_footprint("footprint", &empty_polygon)
                .unwrap_err()
                .contains("polygon 0 exterior ring has 0 points")
        );

        let outside = MultiPolygon(vec![square(170.0, 0.0, 190.0, 1.0)]);
        assert!(
            check_footprint("footprint", &outside)
                .unwrap_err()
                .contains("(190, 0) outside")
        );
        let not_finite = MultiPolygon(vec![square(0.0, 0.0, f64::NAN, 1.0)]);
        assert!(
            check_footprint("footprint", &not_finite)
                .unwrap_err()
                .contains("NaN")
        );

        let bowtie = MultiPolygon(vec![polygon![
            (x: 0.0, y: 0.0),
            (x: 1.0, y: 1.0),
            (x: 1.0, y: 0.0),
            (x: 0.0, y: 1.0),
        ]]);
        assert!(
            check_footprint("footprint", &bowtie)
                .unwrap_err()
                .contains("self-intersection")
        );
        let overlapping =
            MultiPolygon(vec![square(0.0, 0.0, 2.0, 2.0), square(1.0, 1.0, 3.0, 3.0)]);
        assert!(
            check_footprint("footprint", &overlapping)
                .unwrap_err()
                .contains("overlap")
        );
    }
}
