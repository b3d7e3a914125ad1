//! CQL2 and ECQL filters (text or JSON, parsed by the `cql2` crate into one [`Expr`]) into
//! the catalog's typed [`Filter`]: what pvs can evaluate in its database. Everything else
//! (spatial and temporal functions, arithmetic, `CASEI`, property-to-property
//! comparisons...) is refused with a message naming it.
//!
//! Property names are resolved by the front end: STAC names for the STAC API
//! ([`stac_field`]), EOxServer's camelCase names for WMS and OpenSearch `cql`
//! ([`eo_field`], which also takes the STAC names).

use std::num::NonZeroUsize;
use std::sync::Once;

use chrono::{DateTime, NaiveDate, Utc};
use cql2::Expr;

use crate::filter::{Comparison, Field, Filter, Kind, Literal, MAX_FILTER_DEPTH};

/// The longest CQL2 text filter, in bytes: the parser recurses once per term of a long
/// `AND` or `OR`, and much longer text would overflow the thread's stack.
pub const MAX_TEXT_BYTES: usize = 16 * 1024;

/// The most steps (rule calls) the CQL2 text parser takes for one filter. The parser is pest,
/// which does not memoise: a grammar with two alternatives that parse the same prefix takes
/// exponential time when nested. cql2's did, over nested parentheses whose content does not
/// parse (`((((((((((((((((((=))))))))))))))))))` took seconds at 18 levels, the 32 levels
/// allowed would have taken hours; found by fuzzing, `fuzz/fuzz_targets/cql2_text.rs`); the
/// patched copy pvs builds (`vendor/cql2/PATCHED.md`) reads them in linear time, and this
/// budget bounds whatever backtracking is left. Valid text takes 5 to 31 steps a byte, by its kind (measured
/// on filters of [`MAX_TEXT_BYTES`]: 76,000 steps for an `IN` list, 196,000 for comparisons
/// joined by `AND`, 443,000 for arithmetic, 490,000 for a `MULTIPOLYGON` literal, the
/// costliest found), so the longest valid filters fit with room to spare. Beyond the budget
/// the text is refused, after about 10 ms in a release build.
pub const MAX_PARSER_CALLS: usize = 1_000_000;

/// How a front end names fields: the field of a property name, or why there is none.
pub type Names<'a> = &'a dyn Fn(&str) -> Result<Field, String>;

/// EOxServer's names of product metadata in `cql` (WMS, OpenSearch), as the OpenSearch EO
/// parameters name them, each with the STAC name of the field it is.
pub const EO_NAMES: [(&str, &str); 26] = [
    ("identifier", "id"),
    ("parentIdentifier", "collection"),
    ("beginTime", "start_datetime"),
    ("endTime", "end_datetime"),
    ("productType", "product:type"),
    ("platform", "platform"),
    ("platformSerialIdentifier", "eop:platformSerialIdentifier"),
    ("instrument", "instruments"),
    ("processingLevel", "processing:level"),
    ("sensorMode", "sar:instrument_mode"),
    ("orbitDirection", "sat:orbit_state"),
    ("orbitNumber", "sat:absolute_orbit"),
    ("track", "sat:relative_orbit"),
    ("cloudCover", "eo:cloud_cover"),
    ("snowCover", "eo:snow_cover"),
    ("illuminationAzimuthAngle", "view:sun_azimuth"),
    ("illuminationElevationAngle", "view:sun_elevation"),
    ("incidenceAngle", "view:incidence_angle"),
    ("minimumIncidenceAngle", "eop:minimumIncidenceAngle"),
    ("maximumIncidenceAngle", "eop:maximumIncidenceAngle"),
    ("incidenceAngleVariation", "eop:incidenceAngleVariation"),
    ("creationDate", "created"),
    ("modificationDate", "updated"),
    ("sensorType", "eop:sensorType"),
    ("acquisitionType", "eop:acquisitionType"),
    ("polarisationMode", "eop:polarisationMode"),
];

/// The catalog field of a STAC queryable's name (`properties.` in front is allowed).
pub fn stac_field(name: &str) -> Result<Field, String> {
    let name = name.strip_prefix("properties.").unwrap_or(name);
    Field::parse(name)
        .map_err(|_| format!("the property {name:?} is not queryable (see /stac/queryables)"))
}

/// The catalog field of an EOxServer name ([`EO_NAMES`]) or a STAC name.
pub fn eo_field(name: &str) -> Result<Field, String> {
    let stac = EO_NAMES
        .iter()
        .find(|(eo, _)| *eo == name)
        .map_or(name, |(_, stac)| stac);
    Field::parse(stac).map_err(|_| {
        let known: Vec<&str> = EO_NAMES.iter().map(|(eo, _)| *eo).collect();
        format!(
            "{name:?} is not a queryable name: one of {} (or a STAC name)",
            known.join(", ")
        )
    })
}

/// Parses ECQL as EOxServer's users write it (the part CQL2 text shares with it), resolving
/// names with [`eo_field`]. Text compared with the orbit direction is matched in the case it
/// is stored in (`orbitDirection = 'ASCENDING'` finds `ascending`).
pub fn eo_filter(text: &str) -> Result<Filter, String> {
    let filter = to_filter(&parse_text(text)?, &eo_field)?;
    Ok(lowercase_orbit_states(filter))
}

/// The filter with its text values for `sat:orbit_state` in lower case, as stored.
fn lowercase_orbit_states(filter: Filter) -> Filter {
    let orbit_state = Field::parse("sat:orbit_state").ok();
    let lower = |field: &Field, value: Literal| match value {
        Literal::Text(text) if Some(*field) == orbit_state => {
            Literal::Text(text.to_ascii_lowercase())
        }
        other => other,
    };
    match filter {
        Filter::And(filters) => {
            Filter::And(filters.into_iter().map(lowercase_orbit_states).collect())
        }
        Filter::Or(filters) => {
            Filter::Or(filters.into_iter().map(lowercase_orbit_states).collect())
        }
        Filter::Not(filter) => Filter::Not(Box::new(lowercase_orbit_states(*filter))),
        Filter::Compare { field, op, value } => Filter::Compare {
            field,
            op,
            value: lower(&field, value),
        },
        Filter::In { field, values } => Filter::In {
            field,
            values: values.into_iter().map(|v| lower(&field, v)).collect(),
        },
        Filter::Like { field, pattern } if Some(field) == orbit_state => Filter::Like {
            field,
            pattern: pattern.to_ascii_lowercase(),
        },
        other => other,
    }
}

/// Parses CQL2 text.
///
/// Text longer than [`MAX_TEXT_BYTES`], or nested deeper than [`MAX_FILTER_DEPTH`]
/// (parentheses and `NOT`s), is refused before it is parsed: the parser recurses once per
/// level and per term, and a few thousand levels, which fit in a query string, would overflow
/// the thread's stack. Text the parser cannot read in [`MAX_PARSER_CALLS`] steps is refused.
pub fn parse_text(text: &str) -> Result<Expr, String> {
    // pest's budget is one setting of the process, read as each parse starts; cql2 is the
    // only pest parser pvs runs.
    static BUDGET: Once = Once::new();
    BUDGET.call_once(|| pest::set_call_limit(NonZeroUsize::new(MAX_PARSER_CALLS)));
    if text.len() > MAX_TEXT_BYTES {
        return Err(format!(
            "not valid CQL2 text: longer than {MAX_TEXT_BYTES} bytes ({})",
            text.len()
        ));
    }
    let depth = nesting(text);
    if depth > MAX_FILTER_DEPTH {
        return Err(format!(
            "not valid CQL2 text: nested {depth} levels deep (parentheses and NOTs), at most \
             {MAX_FILTER_DEPTH}"
        ));
    }
    cql2::parse_text(text).map_err(|error| format!("not valid CQL2 text: {error}"))
}

/// The deepest nesting of `text`: at each point, the open parentheses and the `NOT`s
/// applied in a row, outside quoted strings.
fn nesting(text: &str) -> usize {
    let (mut parentheses, mut nots, mut deepest) = (0usize, 0usize, 0usize);
    let mut quoted = false;
    let mut word = String::new();
    let end_word = |word: &mut String, nots: &mut usize| {
        if word.eq_ignore_ascii_case("not") {
            *nots += 1;
        } else if !word.is_empty() {
            *nots = 0;
        }
        word.clear();
    };
    for c in text.chars() {
        if quoted {
            quoted = c != '\'';
            continue;
        }
        if c.is_alphanumeric() || c == '_' || c == ':' || c == '.' {
            word.push(c);
            continue;
        }
        end_word(&mut word, &mut nots);
        match c {
            '\'' => {
                quoted = true;
                nots = 0;
            }
            '(' => parentheses += 1,
            ')' => parentheses = parentheses.saturating_sub(1),
            c if c.is_whitespace() => {}
            _ => nots = 0,
        }
        deepest = deepest.max(parentheses + nots);
    }
    end_word(&mut word, &mut nots);
    deepest.max(parentheses + nots)
}

/// Parses CQL2 JSON.
pub fn parse_json(value: serde_json::Value) -> Result<Expr, String> {
    serde_json::from_value(value).map_err(|error| format!("not valid CQL2 JSON: {error}"))
}

/// The catalog filter of a CQL2 expression, its property names resolved by `names`, or why
/// pvs cannot evaluate it.
pub fn to_filter(expr: &Expr, names: Names<'_>) -> Result<Filter, String> {
    let filter = convert(expr, names)?;
    filter.validate().map_err(|error| error.to_string())?;
    Ok(filter)
}

fn convert(expr: &Expr, names: Names<'_>) -> Result<Filter, String> {
    match expr {
        Expr::Bool(true) => Ok(Filter::And(Vec::new())),
        Expr::Bool(false) => Ok(Filter::Or(Vec::new())),
        Expr::Operation { op, args } => operation(op, args, names),
        other => Err(format!("{} is not a condition", describe(other))),
    }
}

fn operation(op: &str, args: &[Box<Expr>], names: Names<'_>) -> Result<Filter, String> {
    let arity = |n: usize| {
        if args.len() == n {
            Ok(())
        } else {
            Err(format!("{op} takes {n} arguments, not {}", args.len()))
        }
    };
    match op {
        "and" | "or" => {
            let filters = args
                .iter()
                .map(|arg| convert(arg, names))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(if op == "and" {
                Filter::And(filters)
            } else {
                Filter::Or(filters)
            })
        }
        "not" => {
            arity(1)?;
            Ok(Filter::Not(Box::new(convert(&args[0], names)?)))
        }
        "=" | "<>" | "<" | "<=" | ">" | ">=" => {
            arity(2)?;
            // A function or arithmetic on either side: name it.
            if let Some(inner) = args.iter().find_map(|arg| match arg.as_ref() {
                Expr::Operation { op, .. } => Some(op),
                _ => None,
            }) {
                return Err(unsupported(inner));
            }
            let op = comparison(op);
            match (property(&args[0]), property(&args[1])) {
                (Some(_), Some(_)) => Err(format!(
                    "comparing two properties ({} {} {}) is not supported",
                    describe(&args[0]),
                    op.as_sql(),
                    describe(&args[1])
                )),
                (Some(name), None) => compare(names(name)?, op, &args[1]),
                // `5 < eo:cloud_cover` is `eo:cloud_cover > 5`.
                (None, Some(name)) => compare(names(name)?, flipped(op), &args[0]),
                (None, None) => Err(format!(
                    "a comparison needs a property: {} {} {}",
                    describe(&args[0]),
                    op.as_sql(),
                    describe(&args[1])
                )),
            }
        }
        "between" => {
            arity(3)?;
            let field = subject(op, &args[0], names)?;
            Ok(Filter::Between {
                field,
                low: literal(&field, &args[1])?,
                high: literal(&field, &args[2])?,
            })
        }
        "in" => {
            arity(2)?;
            let field = subject(op, &args[0], names)?;
            let Expr::Array(items) = args[1].as_ref() else {
                return Err(format!("IN takes a list, not {}", describe(&args[1])));
            };
            if field.kind() == Kind::TextArray {
                // Holding one of the strings.
                let tests = items
                    .iter()
                    .map(|item| compare(field, Comparison::Eq, item))
                    .collect::<Result<Vec<_>, _>>()?;
                return Ok(Filter::Or(tests));
            }
            let values = items
                .iter()
                .map(|item| literal(&field, item))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Filter::In { field, values })
        }
        "like" => {
            arity(2)?;
            let field = subject(op, &args[0], names)?;
            match args[1].as_ref() {
                Expr::Literal(pattern) => Ok(Filter::Like {
                    field,
                    pattern: pattern.clone(),
                }),
                other => Err(format!(
                    "LIKE takes a string pattern, not {}",
                    describe(other)
                )),
            }
        }
        "isNull" => {
            arity(1)?;
            Ok(Filter::IsNull(subject(op, &args[0], names)?))
        }
        other => Err(unsupported(other)),
    }
}

fn unsupported(op: &str) -> String {
    let lower = op.to_ascii_lowercase();
    if lower.starts_with("s_") {
        format!(
            "the spatial function {op} is not supported in a filter; use the bbox or intersects parameters"
        )
    } else if lower.starts_with("t_") {
        format!(
            "the temporal function {op} is not supported in a filter; use the datetime parameter or compare start_datetime and end_datetime"
        )
    } else if lower.starts_with("a_") {
        format!("the array function {op} is not supported")
    } else if matches!(lower.as_str(), "casei" | "accenti") {
        format!("{op} is not supported: comparisons are case- and accent-sensitive")
    } else if matches!(lower.as_str(), "+" | "-" | "*" | "/" | "%" | "^" | "div") {
        format!("arithmetic ({op}) is not supported")
    } else {
        format!("the operator or function {op:?} is not supported")
    }
}

fn comparison(op: &str) -> Comparison {
    match op {
        "=" => Comparison::Eq,
        "<>" => Comparison::Ne,
        "<" => Comparison::Lt,
        "<=" => Comparison::Le,
        ">" => Comparison::Gt,
        _ => Comparison::Ge,
    }
}

/// The comparison with its sides swapped.
fn flipped(op: Comparison) -> Comparison {
    match op {
        Comparison::Lt => Comparison::Gt,
        Comparison::Le => Comparison::Ge,
        Comparison::Gt => Comparison::Lt,
        Comparison::Ge => Comparison::Le,
        other => other,
    }
}

/// The property an expression names, if it is one.
fn property(expr: &Expr) -> Option<&str> {
    match expr {
        Expr::Property { property } => Some(property),
        _ => None,
    }
}

/// The field of an operator's first argument, which must be a property.
fn subject(op: &str, expr: &Expr, names: Names<'_>) -> Result<Field, String> {
    if let Expr::Operation { op, .. } = expr {
        return Err(unsupported(op));
    }
    match property(expr) {
        Some(name) => names(name),
        None => Err(format!(
            "{} applies to a property, not {}",
            op.to_uppercase(),
            describe(expr)
        )),
    }
}

/// `field op value`. A string array (STAC `instruments`, EOxServer's single-valued
/// `instrument`) `=` a string holds it, `<>` a string does not; other comparisons are refused.
fn compare(field: Field, op: Comparison, value: &Expr) -> Result<Filter, String> {
    let property = match field {
        Field::Property(property) if property.kind() == Kind::TextArray => property,
        _ => return literal(&field, value).map(|value| Filter::Compare { field, op, value }),
    };
    let Expr::Literal(element) = value else {
        return Err(format!(
            "{field} is a string array, compared with {}; compare it with a string",
            describe(value)
        ));
    };
    let contains = Filter::Contains {
        property,
        element: element.clone(),
    };
    match op {
        Comparison::Eq => Ok(contains),
        Comparison::Ne => Ok(Filter::Not(Box::new(contains))),
        other => Err(format!(
            "{field} is a string array: = and <> test whether it holds a string, {} does not \
             apply",
            other.as_sql()
        )),
    }
}

/// A literal for `field`, of its kind.
fn literal(field: &Field, expr: &Expr) -> Result<Literal, String> {
    let wrong = |expr: &Expr| {
        format!(
            "{field} is a {}, compared with {}",
            field.kind().as_str(),
            describe(expr)
        )
    };
    match (field.kind(), expr) {
        (Kind::Number, Expr::Float(number)) => Ok(Literal::Number(*number)),
        (Kind::Text, Expr::Literal(text)) => Ok(Literal::Text(text.clone())),
        (Kind::Timestamp, Expr::Timestamp { timestamp }) => match timestamp.as_ref() {
            Expr::Literal(text) => instant(text).map(Literal::Timestamp),
            other => Err(wrong(other)),
        },
        (Kind::Timestamp, Expr::Date { date }) => match date.as_ref() {
            Expr::Literal(text) => NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .map(|day| {
                    Literal::Timestamp(day.and_hms_opt(0, 0, 0).expect("midnight").and_utc())
                })
                .map_err(|error| format!("DATE({text:?}): {error}")),
            other => Err(wrong(other)),
        },
        // A plain string compared with a time: read as an RFC 3339 instant.
        (Kind::Timestamp, Expr::Literal(text)) => instant(text).map(Literal::Timestamp),
        (_, other) => Err(wrong(other)),
    }
}

fn instant(text: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(text)
        .map(|time| time.with_timezone(&Utc))
        .map_err(|error| format!("TIMESTAMP({text:?}) is not an RFC 3339 date-time: {error}"))
}

/// A short description of an expression for messages.
fn describe(expr: &Expr) -> String {
    match expr {
        Expr::Property { property } => format!("the property {property:?}"),
        Expr::Float(number) => format!("the number {number}"),
        Expr::Literal(text) => format!("the string {text:?}"),
        Expr::Bool(value) => format!("the boolean {value}"),
        Expr::Null => "NULL".to_owned(),
        Expr::Timestamp { .. } => "a TIMESTAMP".to_owned(),
        Expr::Date { .. } => "a DATE".to_owned(),
        Expr::Interval { .. } => "an INTERVAL".to_owned(),
        Expr::Array(_) => "a list".to_owned(),
        Expr::Geometry(_) | Expr::BBox { .. } => "a geometry".to_owned(),
        Expr::Operation { op, .. } => format!("the expression {op}(...)"),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn text(filter: &str) -> Result<Filter, String> {
        to_filter(&parse_text(filter)?, &stac_field)
    }

    fn field(name: &str) -> Field {
        Field::parse(name).unwrap()
    }

    #[test]
    fn every_supported_construct() {
        let cloud = field("eo:cloud_cover");
        let lt10 = Filter::Compare {
            field: cloud,
            op: Comparison::Lt,
            value: Literal::Number(10.0),
        };
        for (cql, expected) in [
            ("eo:cloud_cover < 10", lt10.clone()),
            ("10 > eo:cloud_cover", lt10.clone()),
            ("properties.eo:cloud_cover < 10", lt10.clone()),
            (
                "eo:cloud_cover < 10 AND NOT (platform = 'x') OR id LIKE 'P%'",
                Filter::Or(vec![
                    Filter::And(vec![
                        lt10.clone(),
                        Filter::Not(Box::new(Filter::Compare {
                            field: field("platform"),
                            op: Comparison::Eq,
                            value: Literal::Text("x".into()),
                        })),
                    ]),
                    Filter::Like {
                        field: Field::Id,
                        pattern: "P%".into(),
                    },
                ]),
            ),
            (
                "gsd BETWEEN 1 AND 2.5",
                Filter::Between {
                    field: field("gsd"),
                    low: Literal::Number(1.0),
                    high: Literal::Number(2.5),
                },
            ),
            (
                "platform IN ('a', 'b')",
                Filter::In {
                    field: field("platform"),
                    values: vec![Literal::Text("a".into()), Literal::Text("b".into())],
                },
            ),
            ("eo:cloud_cover IS NULL", Filter::IsNull(cloud)),
            (
                "eo:cloud_cover IS NOT NULL",
                Filter::Not(Box::new(Filter::IsNull(cloud))),
            ),
            (
                "datetime > TIMESTAMP('2024-01-01T00:00:00Z')",
                Filter::Compare {
                    field: Field::Start,
                    op: Comparison::Gt,
                    value: Literal::Timestamp("2024-01-01T00:00:00Z".parse().unwrap()),
                },
            ),
            (
                "end_datetime <= DATE('2024-01-02')",
                Filter::Compare {
                    field: Field::End,
                    op: Comparison::Le,
                    value: Literal::Timestamp("2024-01-02T00:00:00Z".parse().unwrap()),
                },
            ),
            ("true", Filter::And(vec![])),
        ] {
            assert_eq!(text(cql), Ok(expected), "{cql}");
        }
        let json = json!({"op": "and", "args": [
            {"op": "<", "args": [{"property": "eo:cloud_cover"}, 10]},
            {"op": "isNull", "args": [{"property": "platform"}]}
        ]});
        assert_eq!(
            to_filter(&parse_json(json).unwrap(), &stac_field),
            Ok(Filter::And(vec![lt10, Filter::IsNull(field("platform"))]))
        );
    }

    #[test]
    fn what_is_not_supported_is_named() {
        for (cql, expected) in [
            ("S_INTERSECTS(geometry, POINT(0 0))", "spatial function"),
            (
                "T_INTERSECTS(datetime, INTERVAL('2020-01-01', '2021-01-01'))",
                "temporal function",
            ),
            ("CASEI(platform) = CASEI('x')", "case- and accent-sensitive"),
            ("'a' = 'b'", "a comparison needs a property"),
            ("eo:cloud_cover + 1 > 2", "arithmetic"),
            ("eo:cloud_cover = gsd", "comparing two properties"),
            ("nope = 1", "\"nope\" is not queryable"),
            (
                "platform = 1",
                "platform is a string, compared with the number 1",
            ),
            ("eo:cloud_cover = 'a'", "compared with the string \"a\""),
            ("datetime > TIMESTAMP('yesterday')", "RFC 3339"),
            ("eo:cloud_cover LIKE 'a%'", "LIKE applies to strings"),
            ("'a'", "is not a condition"),
        ] {
            let error = text(cql).unwrap_err();
            assert!(error.contains(expected), "{cql}: {error}");
        }
        assert!(parse_text("eo:cloud_cover <<").is_err());
        assert!(parse_json(json!({"op": 3})).is_err());
    }

    #[test]
    fn deep_or_hostile_text_is_refused_without_a_crash() {
        // As deep as a 16 KiB query string allows.
        // As deep as a 16 KiB query string allows: refused, not a crash.
        for text in [
            format!("{}cloudCover < 1{}", "(".repeat(7000), ")".repeat(7000)),
            format!("{}cloudCover < 1", "NOT ".repeat(4000)),
            format!("{}cloudCover < 1{}", "NOT (".repeat(2500), ")".repeat(2500)),
        ] {
            let error = eo_filter(&text).unwrap_err();
            assert!(error.contains("levels deep"), "{error}");
        }
        // Long but shallow filters, and hostile strings, are read.
        assert!(eo_filter(&("cloudCover < 1 AND ".repeat(30) + "cloudCover < 1")).is_ok());
        let long = eo_filter(&("cloudCover < 1 AND ".repeat(2000) + "cloudCover < 1")).unwrap_err();
        assert!(
            !long.contains("levels deep"),
            "parsed, then refused: {long}"
        );
        // As long as a STAC search body allows (1 MiB): refused for its length.
        let huge = "id<1 AND ".repeat(110_000) + "id<1";
        assert!(parse_text(&huge).unwrap_err().contains("longer than"));
        // As many terms as the longest text allows: parsed (then refused for its size).
        let most = "a<1 AND ".repeat(MAX_TEXT_BYTES / 8 - 1) + "a<1";
        assert!(most.len() <= MAX_TEXT_BYTES);
        assert!(to_filter(&parse_text(&most).unwrap(), &stac_field).is_err());
        let most = "(a<1 OR a>1) AND ".repeat(MAX_TEXT_BYTES / 17 - 1) + "a<1";
        assert!(to_filter(&parse_text(&most).unwrap(), &stac_field).is_err());
        assert!(eo_filter("NOT NOT NOT (cloudCover < 1)").is_ok());
        assert!(eo_filter("platform = '((((((((((((((((((((((((((((((((((((((('").is_ok());
        assert!(eo_filter("platform = 'NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT'").is_ok());
        for text in ["\u{0}'", "'", "((", "))))", "NOT"] {
            assert!(eo_filter(text).is_err(), "{text:?}");
        }
    }

    #[test]
    fn eoxserver_names_and_ecql() {
        let cloud = field("eo:cloud_cover");
        assert_eq!(
            eo_filter("cloudCover<20 AND orbitDirection='ASCENDING'"),
            Ok(Filter::And(vec![
                Filter::Compare {
                    field: cloud,
                    op: Comparison::Lt,
                    value: Literal::Number(20.0),
                },
                Filter::Compare {
                    field: field("sat:orbit_state"),
                    op: Comparison::Eq,
                    value: Literal::Text("ascending".into()),
                },
            ]))
        );
        assert_eq!(
            eo_filter("orbitDirection IN ('DESCENDING') OR identifier LIKE 'S2%'"),
            Ok(Filter::Or(vec![
                Filter::In {
                    field: field("sat:orbit_state"),
                    values: vec![Literal::Text("descending".into())],
                },
                Filter::Like {
                    field: Field::Id,
                    pattern: "S2%".into(),
                },
            ]))
        );
        assert_eq!(
            eo_filter("eo:cloud_cover BETWEEN 0 AND 10"),
            Ok(Filter::Between {
                field: cloud,
                low: Literal::Number(0.0),
                high: Literal::Number(10.0),
            })
        );
        assert_eq!(
            eo_filter("NOT (beginTime < '2020-01-01T00:00:00Z')"),
            Ok(Filter::Not(Box::new(Filter::Compare {
                field: Field::Start,
                op: Comparison::Lt,
                value: Literal::Timestamp("2020-01-01T00:00:00Z".parse().unwrap()),
            })))
        );
        for (bad, expected) in [
            ("cloudiness < 3", "\"cloudiness\" is not a queryable name"),
            ("cloudCover < 'x'", "compared with the string"),
            ("cloudCover <", "not valid CQL2 text"),
        ] {
            let error = eo_filter(bad).unwrap_err();
            assert!(error.contains(expected), "{bad}: {error}");
        }
        for (eo, stac) in EO_NAMES {
            assert_eq!(eo_field(eo).ok(), Field::parse(stac).ok(), "{eo}");
        }
    }

    #[test]
    fn string_arrays_hold_strings() {
        let instruments = crate::Property::find("instruments").unwrap();
        let holds = |element: &str| Filter::Contains {
            property: instruments,
            element: element.to_owned(),
        };
        for (cql, expected) in [
            ("instrument = 'MSI'", holds("MSI")),
            ("'MSI' = instrument", holds("MSI")),
            ("instruments <> 'msi'", Filter::Not(Box::new(holds("msi")))),
            (
                "instrument IN ('MSI', 'OLCI')",
                Filter::Or(vec![holds("MSI"), holds("OLCI")]),
            ),
        ] {
            assert_eq!(eo_filter(cql), Ok(expected), "{cql}");
        }
        for (bad, expected) in [
            ("instrument < 'MSI'", "< does not apply"),
            ("instrument = 5", "compared with the number 5"),
            ("instrument IN (5)", "compared with the number 5"),
            ("instrument LIKE 'M%'", "LIKE applies to strings"),
        ] {
            let error = eo_filter(bad).unwrap_err();
            assert!(error.contains(expected), "{bad}: {error}");
        }
    }

    /// The grammar reads a parenthesised expression and an array with one rule (the patch of
    /// `vendor/cql2`, PATCHED.md): nested parentheses whose content does not parse are refused
    /// by the grammar in steps linear in the depth, not by the parser's budget after 2^depth
    /// steps, and parentheses and arrays still build the trees they did.
    #[test]
    fn nested_parentheses_take_linear_time() {
        let depth = MAX_FILTER_DEPTH;
        for text in [
            format!("{}={}", "(".repeat(depth), ")".repeat(depth)),
            format!("{}a = 1 AND{}", "(".repeat(depth), ")".repeat(depth)),
            format!("a IN {}1,{}", "(".repeat(depth), ")".repeat(depth)),
            format!("a > f{}1,{}", "(".repeat(depth), ")".repeat(depth)),
            // An upper bound's arithmetic failing inside was read again as the arithmetic
            // of the whole predicate (found by fuzzing the first patch).
            format!("{}x", "a BETWEEN 0 AND S ^ (".repeat(depth)),
            format!("{}x", "a BETWEEN 0 AND --S * (".repeat(depth)),
            format!("{}x", "(a BETWEEN 0 - (".repeat(depth)),
        ] {
            let error = parse_text(&text).unwrap_err();
            assert!(error.starts_with("not valid CQL2 text"), "{error}");
            assert!(!error.contains("call limit"), "{text}: {error}");
        }
        let text = |cql: &str| parse_text(cql).unwrap().to_text().unwrap();
        assert_eq!(text("(((a = 1)))"), text("a = 1"));
        assert_eq!(text("((a = 1) AND (b = 2))"), text("a = 1 AND b = 2"));
        assert_eq!(text("a IN ((1), 2, (3 + 4))"), "a IN (1, 2, 3 + 4)");
        // Bounds with arithmetic read as before.
        assert_eq!(
            text("a BETWEEN 1 + 2 AND 3 ^ (4 - 1)"),
            "a BETWEEN 1 + 2 AND 3 ^ (4 - 1)"
        );
        assert_eq!(
            text("a BETWEEN 1 AND 2 AND b = 1"),
            text("(a BETWEEN 1 AND 2) AND (b = 1)")
        );
        let list = serde_json::to_value(parse_text("a IN ('x', ('y'))").unwrap()).unwrap();
        assert_eq!(
            list,
            serde_json::json!({"op": "in", "args": [{"property": "a"}, ["x", "y"]]})
        );
        assert_eq!(
            eo_filter("(((identifier = 'x')))"),
            eo_filter("identifier = 'x'")
        );
    }

    /// Found by fuzzing (`fuzz/fuzz_targets/cql2_text.rs`, a 148-byte input that took 10 seconds):
    /// nested parentheses whose content does not parse made the parser backtrack
    /// exponentially; at the 32 levels allowed, a `cql` parameter of 40 bytes would have held
    /// a thread for hours. Each is refused within the parser's budget (and, since the grammar
    /// was patched, well within it).
    #[test]
    fn nested_failures_are_refused_in_bounded_time() {
        let depth = MAX_FILTER_DEPTH;
        let found = "datetime > TIMESTA((((((((((((((((((2((((((((((((,(\u{0}\u{0}\u{0}\u{0}\u{0}\u{0}\u{0}'((((((((((\u{8}((((((((((((MP('2024{\"op\":\"and\",\"args\":[{\"op\":\"<\",\"args\":\u{0}\u{0}\u{0}1[{\"proper')ty\":\"e";
        let hostile = [
            found.to_owned(),
            format!("{}a = 1", "(".repeat(depth)),
            format!("{}={}", "(".repeat(depth), ")".repeat(depth)),
            format!("{}a = 1 AND{}", "(".repeat(depth), ")".repeat(depth)),
            format!("a = {}{}", "(1 + ".repeat(depth), ")".repeat(depth)),
            format!("a > f{}1,{}", "(".repeat(depth), ")".repeat(depth)),
        ];
        for text in &hostile {
            let started = std::time::Instant::now();
            let error = parse_text(text).unwrap_err();
            let took = started.elapsed();
            assert!(error.starts_with("not valid CQL2 text"), "{error}");
            // About 40 ms unoptimised; unbounded, the shortest of these took hours.
            assert!(took.as_secs_f64() < 3.0, "{text:?} took {took:?}");
        }
        // The budget leaves room for the longest and the deepest valid filters.
        let longest = "eo:cloud_cover < 20 AND platform = 'sentinel-2a' AND "
            .repeat(MAX_TEXT_BYTES / 60)
            + "id = 'x'";
        assert!(longest.len() <= MAX_TEXT_BYTES);
        let deepest = format!(
            "{}a = 1 AND b IN ('x', 'y') OR c BETWEEN 1 AND 2{}",
            "(NOT (".repeat(depth / 3),
            "))".repeat(depth / 3)
        );
        // The costliest kinds of text a byte: geometry literals and arithmetic.
        let multipolygon = format!(
            "S_WITHIN(geometry, MULTIPOLYGON({}))",
            vec!["((0 0, 1 0, 1 1, 0 1, 0 0))"; MAX_TEXT_BYTES / 30].join(", ")
        );
        let arithmetic = vec!["a + b * 2 - c / 4 > 7"; MAX_TEXT_BYTES / 26].join(" AND ");
        let negations =
            vec!["NOT (a = 1 AND b > 2.5 OR c LIKE 'x%')"; MAX_TEXT_BYTES / 44].join(" AND ");
        for valid in [longest, deepest, multipolygon, arithmetic, negations] {
            assert!(valid.len() <= MAX_TEXT_BYTES, "{}", valid.len());
            if let Err(error) = parse_text(&valid) {
                panic!("{}: {error}", &valid[..80]);
            }
        }
    }
}
