//! The Earth-observation parameters of product searches (OpenSearch EO, OGC 13-026r9): their
//! names, the catalog fields they filter, and their values, numbers in the EO range syntax.
//!
//! Each parameter filters one field the catalog stores (a queryable STAC property, or the
//! product type), so a search answers exactly what the catalog's [`Filter`] means, on PostGIS
//! and on SQLite alike. A product without the field never matches a condition on it.
//!
//! Range syntax of numbers and times: `v` (equal), `{a,b,c}` (one of), `[a,b]` (closed),
//! `]a,b[` (open), `[a,b[` and `]a,b]` (half-open), `[a` (at least), `]a` (more than), `b]`
//! (at most), `b[` (less than). Text and choices take `v` or `{a,b,c}`. Zero is a value like
//! any other (`cloudCover=0` finds the cloudless products).

use pvs_catalog::{Comparison, Field, Filter, Literal};
use pvs_ogc::Exception;
use pvs_ogc::time::parse_instant;

use super::request::Param;

/// The most values in a `{a,b,c}` set.
pub(crate) const MAX_SET_VALUES: usize = 100;

/// What values a parameter takes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Values {
    /// Numbers from `min` to `max`, in the range syntax.
    Number { min: f64, max: f64 },
    /// Whole numbers from `min` to `max`, in the range syntax.
    Integer { min: f64, max: f64 },
    /// Text, compared exactly with the stored value.
    Text,
    /// Text, one of the strings of a stored array (compared exactly).
    Element,
    /// ISO 8601 date-times or dates (`pvs_ogc::time::parse_instant`), in the range syntax.
    Timestamp,
    /// One of these names (ignoring case), each standing for the stored value beside it.
    Choice(&'static [(&'static str, &'static str)]),
}

/// An EO parameter of product searches.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct EoParam {
    /// Its name in URLs and its template variable.
    pub param: Param,
    /// The STAC name of the catalog field it filters ([`Field::parse`]).
    pub field: &'static str,
    pub values: Values,
    /// What it selects, for the description documents.
    pub title: &'static str,
}

const fn eo(
    name: &'static str,
    variable: &'static str,
    field: &'static str,
    values: Values,
    title: &'static str,
) -> EoParam {
    EoParam {
        param: Param { name, variable },
        field,
        values,
        title,
    }
}

const PERCENT: Values = Values::Number {
    min: 0.0,
    max: 100.0,
};
const ORBIT: Values = Values::Integer { min: 0.0, max: 1e9 };
const INCIDENCE: Values = Values::Number {
    min: -90.0,
    max: 90.0,
};

/// The EO parameters of product searches, in template order.
pub(crate) const EO_PARAMS: [EoParam; 21] = [
    eo(
        "productType",
        "eo:productType",
        "product:type",
        Values::Text,
        "Product type",
    ),
    eo(
        "platform",
        "eo:platform",
        "platform",
        Values::Text,
        "Platform, as the products name it (STAC platform, e.g. sentinel-2a)",
    ),
    eo(
        "platformSerialIdentifier",
        "eo:platformSerialIdentifier",
        "eop:platformSerialIdentifier",
        Values::Text,
        "Platform serial identifier (e.g. A of Sentinel-2A)",
    ),
    eo(
        "instrument",
        "eo:instrument",
        "instruments",
        Values::Element,
        "Instrument, one of the products' instruments exactly as stored (STAC instruments, e.g. MSI)",
    ),
    eo(
        "processingLevel",
        "eo:processingLevel",
        "processing:level",
        Values::Text,
        "Processing level (e.g. L2A)",
    ),
    eo(
        "sensorMode",
        "eo:sensorMode",
        "sar:instrument_mode",
        Values::Text,
        "Sensor (instrument) mode (e.g. IW)",
    ),
    eo(
        "orbitDirection",
        "eo:orbitDirection",
        "sat:orbit_state",
        Values::Choice(&[("ASCENDING", "ascending"), ("DESCENDING", "descending")]),
        "Orbit direction at acquisition",
    ),
    eo(
        "orbitNumber",
        "eo:orbitNumber",
        "sat:absolute_orbit",
        ORBIT,
        "Absolute orbit number: a value, {a,b}, [a,b], ]a,b[, [a, ]a, b] or b[",
    ),
    eo(
        "track",
        "eo:track",
        "sat:relative_orbit",
        ORBIT,
        "Relative orbit (track) number: a value, {a,b}, [a,b], ]a,b[, [a, ]a, b] or b[",
    ),
    eo(
        "cloudCover",
        "eo:cloudCover",
        "eo:cloud_cover",
        PERCENT,
        "Cloud cover in percent: a value, {a,b}, [a,b], ]a,b[, [a, ]a, b] or b[",
    ),
    eo(
        "snowCover",
        "eo:snowCover",
        "eo:snow_cover",
        PERCENT,
        "Snow cover in percent: a value, {a,b}, [a,b], ]a,b[, [a, ]a, b] or b[",
    ),
    eo(
        "illuminationAzimuthAngle",
        "eo:illuminationAzimuthAngle",
        "view:sun_azimuth",
        Values::Number {
            min: 0.0,
            max: 360.0,
        },
        "Sun azimuth in degrees: a value, {a,b}, [a,b], ]a,b[, [a, ]a, b] or b[",
    ),
    eo(
        "illuminationElevationAngle",
        "eo:illuminationElevationAngle",
        "view:sun_elevation",
        Values::Number {
            min: -90.0,
            max: 90.0,
        },
        "Sun elevation in degrees: a value, {a,b}, [a,b], ]a,b[, [a, ]a, b] or b[",
    ),
    eo(
        "minimumIncidenceAngle",
        "eo:minimumIncidenceAngle",
        "eop:minimumIncidenceAngle",
        INCIDENCE,
        "Minimum incidence angle in degrees: a value, {a,b}, [a,b], ]a,b[, [a, ]a, b] or b[",
    ),
    eo(
        "maximumIncidenceAngle",
        "eo:maximumIncidenceAngle",
        "eop:maximumIncidenceAngle",
        INCIDENCE,
        "Maximum incidence angle in degrees: a value, {a,b}, [a,b], ]a,b[, [a, ]a, b] or b[",
    ),
    eo(
        "incidenceAngleVariation",
        "eo:incidenceAngleVariation",
        "eop:incidenceAngleVariation",
        Values::Number {
            min: 0.0,
            max: 180.0,
        },
        "Incidence angle variation in degrees: a value, {a,b}, [a,b], ]a,b[, [a, ]a, b] or b[",
    ),
    eo(
        "sensorType",
        "eo:sensorType",
        "eop:sensorType",
        Values::Choice(&[
            ("OPTICAL", "OPTICAL"),
            ("RADAR", "RADAR"),
            ("ALTIMETRIC", "ALTIMETRIC"),
            ("ATMOSPHERIC", "ATMOSPHERIC"),
            ("LIMB", "LIMB"),
        ]),
        "Sensor type (from the products' EO O&M or GSC metadata)",
    ),
    eo(
        "acquisitionType",
        "eo:acquisitionType",
        "eop:acquisitionType",
        Values::Choice(&[
            ("NOMINAL", "NOMINAL"),
            ("CALIBRATION", "CALIBRATION"),
            ("OTHER", "OTHER"),
        ]),
        "Acquisition type (from the products' EO O&M or GSC metadata)",
    ),
    eo(
        "polarisationMode",
        "eo:polarisationMode",
        "eop:polarisationMode",
        Values::Choice(&[
            ("S", "S"),
            ("D", "D"),
            ("T", "T"),
            ("Q", "Q"),
            ("UNDEFINED", "UNDEFINED"),
        ]),
        "Polarisation mode: S(ingle), D(ual), T(win), Q(uad) (from the products' EO O&M or GSC metadata)",
    ),
    eo(
        "creationDate",
        "eo:creationDate",
        "created",
        Values::Timestamp,
        "Creation (processing) time of the product, ISO 8601: a value, {a,b}, [a,b], ]a,b[, [a, ]a, b] or b[",
    ),
    eo(
        "modificationDate",
        "eo:modificationDate",
        "updated",
        Values::Timestamp,
        "Last update of the product's record, ISO 8601: a value, {a,b}, [a,b], ]a,b[, [a, ]a, b] or b[",
    ),
];

/// The EO parameter called `name` (its canonical spelling), if there is one.
pub(crate) fn find(name: &str) -> Option<&'static EoParam> {
    EO_PARAMS.iter().find(|eo| eo.param.name == name)
}

impl EoParam {
    /// The catalog field it filters.
    fn field(&self) -> Field {
        Field::parse(self.field).expect("EO_PARAMS name queryable fields (a unit test checks)")
    }

    /// The condition `text` (its value in a request) sets on the products, or an exception
    /// naming the parameter and saying what it takes.
    pub(crate) fn filter(&self, text: &str) -> Result<Filter, Exception> {
        let name = self.param.name;
        let field = self.field();
        let invalid = |why: String| Exception::invalid(name, format!("{name} {text:?}: {why}"));
        if let Some(set) = text.strip_prefix('{') {
            let Some(set) = set.strip_suffix('}') else {
                return Err(invalid("a set is written {a,b,c}".to_owned()));
            };
            let values = set
                .split(',')
                .map(|value| self.value(value.trim()).map_err(&invalid))
                .collect::<Result<Vec<_>, _>>()?;
            if values.len() > MAX_SET_VALUES {
                return Err(invalid(format!(
                    "a set of {} values; at most {MAX_SET_VALUES} are accepted",
                    values.len()
                )));
            }
            if self.values == Values::Element {
                return Ok(Filter::Or(
                    values.into_iter().map(|value| self.equals(value)).collect(),
                ));
            }
            return Ok(Filter::In { field, values });
        }
        let lower = match text.chars().next() {
            Some('[') => Some(Comparison::Ge),
            Some(']') => Some(Comparison::Gt),
            _ => None,
        };
        let upper = match text.chars().last() {
            Some(']') => Some(Comparison::Le),
            Some('[') => Some(Comparison::Lt),
            _ => None,
        };
        if lower.is_none() && upper.is_none() {
            return Ok(self.equals(self.value(text).map_err(&invalid)?));
        }
        if !matches!(
            self.values,
            Values::Number { .. } | Values::Integer { .. } | Values::Timestamp
        ) {
            return Err(invalid(
                "a range applies to numbers and times only; give a value or a set {a,b,c}"
                    .to_owned(),
            ));
        }
        // One bracket each side at most: `[a`, `b]`, or `[a,b]` and its open forms.
        // The brackets are ASCII: the slice is on characters. `[` alone is both brackets.
        let start = usize::from(lower.is_some());
        let end = (text.len() - usize::from(upper.is_some())).max(start);
        let inner = &text[start..end];
        let value = |text: &str| self.value(text.trim()).map_err(&invalid);
        let compare = |op: Comparison, value: Literal| Filter::Compare { field, op, value };
        match (lower, upper, inner.split_once(',')) {
            (Some(low_op), Some(high_op), Some((low, high))) => {
                let (low, high) = (value(low)?, value(high)?);
                let reversed = match (&low, &high) {
                    (Literal::Number(a), Literal::Number(b)) => a > b,
                    (Literal::Timestamp(a), Literal::Timestamp(b)) => a > b,
                    _ => false,
                };
                if reversed {
                    return Err(invalid(format!(
                        "the range starts at {low}, after its end {high}"
                    )));
                }
                Ok(Filter::And(vec![
                    compare(low_op, low),
                    compare(high_op, high),
                ]))
            }
            (Some(op), None, None) | (None, Some(op), None) => Ok(compare(op, value(inner)?)),
            _ => Err(invalid(
                "a range is [a,b], ]a,b[, [a,b[, ]a,b], [a, ]a, b] or b[".to_owned(),
            )),
        }
    }

    /// The condition that the field is `value`: for an array, that it holds it.
    fn equals(&self, value: Literal) -> Filter {
        match (self.field(), value) {
            (Field::Property(property), Literal::Text(element))
                if self.values == Values::Element =>
            {
                Filter::Contains { property, element }
            }
            (field, value) => Filter::Compare {
                field,
                op: Comparison::Eq,
                value,
            },
        }
    }

    /// One value of the parameter, as the catalog stores it.
    fn value(&self, text: &str) -> Result<Literal, String> {
        match self.values {
            Values::Number { min, max } | Values::Integer { min, max } => {
                let whole = matches!(self.values, Values::Integer { .. });
                text.parse::<f64>()
                    .ok()
                    .filter(|v| v.is_finite() && (min..=max).contains(v))
                    .filter(|v| !whole || v.fract() == 0.0)
                    .map(Literal::Number)
                    .ok_or_else(|| {
                        format!(
                            "{text:?} is not a {} from {min} to {max}",
                            if whole { "whole number" } else { "number" }
                        )
                    })
            }
            Values::Text | Values::Element if text.is_empty() => Err("a value is empty".to_owned()),
            Values::Text | Values::Element => Ok(Literal::Text(text.to_owned())),
            Values::Timestamp => parse_instant(text)
                .map(Literal::Timestamp)
                .map_err(|error| format!("{text:?}: {error}")),
            Values::Choice(choices) => choices
                .iter()
                .find(|(name, _)| name.eq_ignore_ascii_case(text))
                .map(|(_, stored)| Literal::Text((*stored).to_owned()))
                .ok_or_else(|| {
                    let names: Vec<&str> = choices.iter().map(|(name, _)| *name).collect();
                    format!("{text:?} is not one of {}", names.join(", "))
                }),
        }
    }
}

#[cfg(test)]
mod tests {
    use geo::polygon;
    use pvs_catalog::{Kind, Product};

    use super::*;

    fn param(name: &str) -> &'static EoParam {
        find(name).unwrap()
    }

    fn product(properties: serde_json::Value) -> Product {
        let time = chrono::DateTime::UNIX_EPOCH;
        Product {
            properties: properties.as_object().cloned().unwrap(),
            id: "p".to_owned(),
            collection: "C".to_owned(),
            product_type: None,
            footprint: geo::MultiPolygon(vec![polygon![
                (x: 0.0, y: 0.0),
                (x: 1.0, y: 0.0),
                (x: 1.0, y: 1.0),
                (x: 0.0, y: 0.0),
            ]]),
            begin: time,
            end: time,
            location: "p.tif".to_owned(),
            metadata: serde_json::json!({}),
        }
    }

    fn number(name: &str, op: Comparison, value: f64) -> Filter {
        Filter::Compare {
            field: param(name).field(),
            op,
            value: Literal::Number(value),
        }
    }

    #[test]
    fn every_parameter_filters_a_queryable_field_of_its_kind() {
        for eo in &EO_PARAMS {
            let field = Field::parse(eo.field).unwrap();
            let kind = match eo.values {
                Values::Number { .. } | Values::Integer { .. } => Kind::Number,
                Values::Text | Values::Choice(_) => Kind::Text,
                Values::Element => Kind::TextArray,
                Values::Timestamp => Kind::Timestamp,
            };
            assert_eq!(field.kind(), kind, "{}", eo.param.name);
            assert!(eo.param.variable.starts_with("eo:"));
        }
    }

    #[test]
    fn parameters_and_cql_names_agree() {
        // An EO parameter and the `cql` name of the same spelling filter the same field.
        for eo in EO_PARAMS {
            let cql = pvs_catalog::cql::EO_NAMES
                .iter()
                .find(|(name, _)| *name == eo.param.name)
                .unwrap_or_else(|| panic!("{} has no cql name", eo.param.name));
            assert_eq!(cql.1, eo.field, "{}", eo.param.name);
        }
    }

    #[test]
    fn the_range_syntax() {
        use Comparison::*;
        let cloud = |op, value| number("cloudCover", op, value);
        let cases = [
            ("0", cloud(Eq, 0.0)),
            ("12.5", cloud(Eq, 12.5)),
            (
                "[10,20]",
                Filter::And(vec![cloud(Ge, 10.0), cloud(Le, 20.0)]),
            ),
            (
                "]10,20[",
                Filter::And(vec![cloud(Gt, 10.0), cloud(Lt, 20.0)]),
            ),
            (
                "[10,20[",
                Filter::And(vec![cloud(Ge, 10.0), cloud(Lt, 20.0)]),
            ),
            (
                "]10,20]",
                Filter::And(vec![cloud(Gt, 10.0), cloud(Le, 20.0)]),
            ),
            (
                "[ 10 , 20 ]",
                Filter::And(vec![cloud(Ge, 10.0), cloud(Le, 20.0)]),
            ),
            ("[10", cloud(Ge, 10.0)),
            ("]10", cloud(Gt, 10.0)),
            ("20]", cloud(Le, 20.0)),
            ("20[", cloud(Lt, 20.0)),
            ("[5,5]", Filter::And(vec![cloud(Ge, 5.0), cloud(Le, 5.0)])),
            (
                "{0, 50,100}",
                Filter::In {
                    field: param("cloudCover").field(),
                    values: vec![0.0, 50.0, 100.0]
                        .into_iter()
                        .map(Literal::Number)
                        .collect(),
                },
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(
                param("cloudCover").filter(text).unwrap(),
                expected,
                "{text}"
            );
        }
        assert_eq!(
            param("orbitDirection").filter("descending").unwrap(),
            Filter::Compare {
                field: param("orbitDirection").field(),
                op: Eq,
                value: Literal::Text("descending".to_owned()),
            }
        );
        assert_eq!(
            param("platform")
                .filter("{sentinel-2a,sentinel-2b}")
                .unwrap(),
            Filter::In {
                field: param("platform").field(),
                values: vec![
                    Literal::Text("sentinel-2a".to_owned()),
                    Literal::Text("sentinel-2b".to_owned()),
                ],
            }
        );
    }

    #[test]
    fn times_and_instruments() {
        use Comparison::*;
        let at = |text: &str| {
            Literal::Timestamp(
                chrono::DateTime::parse_from_rfc3339(text)
                    .unwrap()
                    .with_timezone(&chrono::Utc),
            )
        };
        let created = |op, text| Filter::Compare {
            field: param("creationDate").field(),
            op,
            value: at(text),
        };
        assert_eq!(
            param("creationDate")
                .filter("[2024-02-01,2024-02-01T12:00:00+02:00[")
                .unwrap(),
            Filter::And(vec![
                created(Ge, "2024-02-01T00:00:00Z"),
                created(Lt, "2024-02-01T10:00:00Z"),
            ])
        );
        assert_eq!(
            param("modificationDate")
                .filter("2024-02-01T10:00:00Z")
                .unwrap(),
            Filter::Compare {
                field: param("modificationDate").field(),
                op: Eq,
                value: at("2024-02-01T10:00:00Z"),
            }
        );
        let instruments = pvs_catalog::Property::find("instruments").unwrap();
        let holds = |element: &str| Filter::Contains {
            property: instruments,
            element: element.to_owned(),
        };
        assert_eq!(param("instrument").filter("MSI").unwrap(), holds("MSI"));
        assert_eq!(
            param("instrument").filter("{MSI,OLCI}").unwrap(),
            Filter::Or(vec![holds("MSI"), holds("OLCI")])
        );
    }

    #[test]
    fn bad_values_say_what_the_parameter_takes() {
        let set = format!("{{{}}}", vec!["1"; MAX_SET_VALUES + 1].join(","));
        for (name, text, says) in [
            ("cloudCover", "x", "not a number from 0 to 100"),
            ("cloudCover", "101", "not a number from 0 to 100"),
            ("cloudCover", "-1", "not a number from 0 to 100"),
            ("cloudCover", "NaN", "not a number"),
            ("cloudCover", "[20,10]", "after its end"),
            ("cloudCover", "[10,20", "a range is"),
            ("cloudCover", "10,20]", "a range is"),
            ("cloudCover", "[]", "a range is"),
            ("cloudCover", "[", "a range is"),
            ("cloudCover", "]", "a range is"),
            ("cloudCover", "][", "a range is"),
            ("cloudCover", "[,]", "not a number"),
            ("cloudCover", "[1,2,3]", "not a number"),
            ("cloudCover", "{1,2", "a set is written"),
            ("cloudCover", "{}", "not a number"),
            ("cloudCover", "{1,,2}", "not a number"),
            ("cloudCover", &set, "at most 100"),
            ("orbitNumber", "12.5", "not a whole number"),
            ("orbitNumber", "[1.5", "not a whole number"),
            (
                "orbitDirection",
                "SIDEWAYS",
                "not one of ASCENDING, DESCENDING",
            ),
            ("orbitDirection", "[ASCENDING", "numbers and times only"),
            ("platform", "[a,b]", "numbers and times only"),
            ("platform", "{a,}", "a value is empty"),
            ("creationDate", "2024-02-30", "an ISO 8601 date-time"),
            ("creationDate", "[2024-02-02,2024-02-01]", "after its end"),
            ("instrument", "]MSI", "numbers and times only"),
            (
                "minimumIncidenceAngle",
                "-91",
                "not a number from -90 to 90",
            ),
        ] {
            let error = param(name).filter(text).unwrap_err();
            assert_eq!(error.locator.as_deref(), Some(name), "{name}={text}");
            assert!(
                error.message.contains(says),
                "{name}={text}: {:?} lacks {says:?}",
                error.message
            );
        }
    }

    /// The filter of a range holds for exactly the values inside it (bounds as written).
    #[test]
    fn ranges_hold_for_exactly_their_values() {
        let with_cloud = |cloud: f64| product(serde_json::json!({ "eo:cloud_cover": cloud }));
        type Inside = fn(f64) -> bool;
        let cases: [(&str, Inside); 6] = [
            ("[10,20]", |c| (10.0..=20.0).contains(&c)),
            ("]10,20[", |c| c > 10.0 && c < 20.0),
            ("[10,20[", |c| (10.0..20.0).contains(&c)),
            ("]10", |c| c > 10.0),
            ("20[", |c| c < 20.0),
            ("{10,20}", |c| c == 10.0 || c == 20.0),
        ];
        for (text, inside) in cases {
            let filter = param("cloudCover").filter(text).unwrap();
            for cloud in [0.0, 9.99, 10.0, 15.0, 20.0, 20.01, 100.0] {
                assert_eq!(
                    filter.matches(&with_cloud(cloud)),
                    inside(cloud),
                    "{text} with {cloud}"
                );
            }
        }
        let filter = param("cloudCover").filter("[0,100]").unwrap();
        let without = product(serde_json::json!({}));
        assert!(!filter.matches(&without), "no cloud cover, no match");
    }
}
