//! The parameters of Item Search (`GET`/`POST /stac/search`) and of a collection's items
//! (`GET /stac/collections/{id}/items`), read into one checked [`Search`]: every refusal
//! names the parameter at fault.
//!
//! The request types of the `stac` crate are used where they fit ([`Fields`], [`Sortby`],
//! the GeoJSON geometry of `intersects`); each parameter is read on its own so that an error
//! names it (a whole-body deserialisation names nothing).

use pvs_catalog::{Bbox, Field, Filter, Sort, TimeFilter};
use serde_json::{Map, Value};
use stac::api::{Direction, Sortby};

use crate::cql;
use crate::error::ApiError;
use crate::fields::Selection;
use crate::geometry::Region;

/// Items per page unless `limit` says otherwise.
pub const DEFAULT_LIMIT: u32 = 10;

/// The largest `limit`.
pub const MAX_LIMIT: u32 = 10_000;

/// The most `ids` or `collections` one search may list.
pub const MAX_LIST: usize = 10_000;

/// The largest paging offset a `token` may carry.
const MAX_OFFSET: u64 = 1_000_000_000;

/// Which endpoint is searched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Item Search: every collection.
    Search,
    /// The items of one collection (OGC API - Features).
    Items,
}

/// The parameters of Item Search; a collection's items read all but the last two.
/// (`collections` is read there too: pystac-client sends it to a collection's items, and it
/// must then name that collection.)
const PARAMETERS: &[&str] = &[
    "limit",
    "bbox",
    "datetime",
    "sortby",
    "fields",
    "filter",
    "filter-lang",
    "filter-crs",
    "token",
    "collections",
    "intersects",
    "ids",
];

impl Scope {
    /// The parameters the endpoint reads.
    fn parameters(self) -> &'static [&'static str] {
        match self {
            Self::Search => PARAMETERS,
            Self::Items => &PARAMETERS[..PARAMETERS.len() - 2],
        }
    }
}

/// A checked search.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Search {
    /// Only products of these collections (none: every collection).
    pub collections: Vec<String>,
    /// Only products with these ids (none: any id).
    pub ids: Vec<String>,
    /// Only products whose footprint meets this box.
    pub bbox: Option<Bbox>,
    /// Only products whose footprint meets this geometry.
    pub region: Option<Region>,
    /// Only products whose time meets this.
    pub time: Option<TimeFilter>,
    /// Only products passing this filter.
    pub filter: Option<Filter>,
    /// The order of the results.
    pub sort: Vec<Sort>,
    /// Which members of each Item to return.
    pub fields: Selection,
    /// Items per page.
    pub limit: u32,
    /// Items skipped (from `token`).
    pub offset: u64,
}

/// The `filter` of a request before it is read: its text or JSON, its language, its CRS.
#[derive(Default)]
struct FilterParts {
    filter: Option<Value>,
    lang: Option<String>,
    crs: Option<String>,
}

impl FilterParts {
    /// The filter, read as `default_lang` unless `filter-lang` says otherwise.
    fn read(self, default_lang: cql::Lang) -> Result<Option<Filter>, ApiError> {
        let lang = match &self.lang {
            Some(lang) => {
                cql::Lang::parse(lang).map_err(|why| ApiError::invalid("filter-lang", why))?
            }
            None => default_lang,
        };
        if let Some(crs) = &self.crs
            && crs != cql::CRS84
        {
            return Err(ApiError::invalid(
                "filter-crs",
                format!("{crs:?}: only {} is supported", cql::CRS84),
            ));
        }
        let Some(filter) = self.filter else {
            return Ok(None);
        };
        let expr = match (lang, filter) {
            (cql::Lang::Text, Value::String(text)) => cql::parse_text(&text),
            (cql::Lang::Text, other) => Err(format!(
                "filter-lang is cql2-text but the filter is not a string: {other}"
            )),
            (cql::Lang::Json, Value::String(text)) => serde_json::from_str(&text)
                .map_err(|error| format!("not JSON (filter-lang is cql2-json): {error}"))
                .and_then(cql::parse_json),
            (cql::Lang::Json, value) => cql::parse_json(value),
        }
        .map_err(|why| ApiError::invalid("filter", why))?;
        cql::to_filter(&expr)
            .map(Some)
            .map_err(|why| ApiError::invalid("filter", why))
    }
}

impl Search {
    /// Reads a query string (`GET`). Parameters are matched exactly; an unknown or repeated
    /// parameter is refused. Returns the search and the parameters given (in order, without
    /// `token`), for the paging links.
    pub fn from_query(
        query: &str,
        scope: Scope,
    ) -> Result<(Self, Vec<(String, String)>), ApiError> {
        let mut given: Vec<(String, String)> = Vec::new();
        for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
            if !scope.parameters().contains(&name.as_ref()) {
                return Err(ApiError::invalid(
                    &name,
                    format!(
                        "unknown parameter; this endpoint reads {}",
                        scope.parameters().join(", ")
                    ),
                ));
            }
            if given.iter().any(|(n, _)| *n == name) {
                return Err(ApiError::invalid(&name, "given more than once"));
            }
            given.push((name.into_owned(), value.into_owned()));
        }
        let mut search = Self {
            limit: DEFAULT_LIMIT,
            ..Self::default()
        };
        let mut filter = FilterParts::default();
        for (name, value) in &given {
            let value = value.trim();
            match name.as_str() {
                "limit" => {
                    search.limit = limit(value.parse::<u64>().map_err(|_| {
                        ApiError::invalid(
                            "limit",
                            format!("{value:?} is not a whole number from 1 to {MAX_LIMIT}"),
                        )
                    })?)?
                }
                "bbox" => {
                    let numbers = value
                        .split(',')
                        .map(|n| n.trim().parse::<f64>())
                        .collect::<Result<Vec<_>, _>>()
                        .map_err(|_| {
                            ApiError::invalid(
                                "bbox",
                                format!("{value:?} is not a list of numbers west,south,east,north"),
                            )
                        })?;
                    search.bbox = Some(bbox(&numbers)?);
                }
                "datetime" => search.time = Some(crate::datetime::parse(value)?),
                "intersects" => {
                    let geometry = serde_json::from_str(value).map_err(|error| {
                        ApiError::invalid("intersects", format!("not JSON: {error}"))
                    })?;
                    search.region = Some(Region::parse(geometry)?);
                }
                "ids" => search.ids = list("ids", value.split(','))?,
                "collections" => search.collections = list("collections", value.split(','))?,
                "sortby" => {
                    // A `+` written unescaped in a query string arrives as a space.
                    let sortby: Vec<Sortby> = value
                        .split(',')
                        .map(|term| term.trim().parse().expect("infallible"))
                        .collect();
                    search.sort = sort(&sortby)?;
                }
                "fields" => search.fields = Selection::from_query(value)?,
                "filter" => filter.filter = Some(Value::String(value.to_owned())),
                "filter-lang" => filter.lang = Some(value.to_owned()),
                "filter-crs" => filter.crs = Some(value.to_owned()),
                "token" => search.offset = token(value)?,
                _ => unreachable!("only known parameters are kept"),
            }
        }
        search.filter = filter.read(cql::Lang::Text)?;
        search.check()?;
        given.retain(|(name, _)| name != "token");
        Ok((search, given))
    }

    /// Reads a JSON body (`POST /stac/search`). Returns the search and the body (for the
    /// paging links, which repeat it with another `token`).
    pub fn from_body(body: &[u8]) -> Result<(Self, Map<String, Value>), ApiError> {
        let body: Map<String, Value> = serde_json::from_slice(body)
            .map_err(|error| ApiError::invalid("body", format!("not a JSON object: {error}")))?;
        let mut search = Self {
            limit: DEFAULT_LIMIT,
            ..Self::default()
        };
        let mut filter = FilterParts::default();
        let parameters = Scope::Search.parameters();
        for (name, value) in &body {
            if !parameters.contains(&name.as_str()) {
                return Err(ApiError::invalid(
                    name,
                    format!("unknown member; a search reads {}", parameters.join(", ")),
                ));
            }
            // A null member is as if absent, but for `fields` (null is no selection:
            // refused, as stac-api-validator expects).
            if value.is_null() && name != "fields" {
                continue;
            }
            let typed =
                |what: &str| ApiError::invalid(name, format!("must be {what}, not {value}"));
            match name.as_str() {
                "limit" => {
                    search.limit = limit(value.as_u64().ok_or_else(|| typed("a whole number"))?)?
                }
                "bbox" => {
                    let numbers: Vec<f64> = serde_json::from_value(value.clone())
                        .map_err(|_| typed("an array of numbers"))?;
                    search.bbox = Some(bbox(&numbers)?);
                }
                "datetime" => {
                    search.time = Some(crate::datetime::parse(
                        value.as_str().ok_or_else(|| typed("a string"))?,
                    )?)
                }
                "intersects" => search.region = Some(Region::parse(value.clone())?),
                "ids" | "collections" => {
                    let strings: Vec<String> = serde_json::from_value(value.clone())
                        .map_err(|_| typed("an array of strings"))?;
                    let strings = list(name, strings.iter().map(String::as_str))?;
                    if name == "ids" {
                        search.ids = strings;
                    } else {
                        search.collections = strings;
                    }
                }
                "sortby" => {
                    let sortby: Vec<Sortby> =
                        serde_json::from_value(value.clone()).map_err(|_| {
                            typed(
                                "an array of {\"field\": ..., \"direction\": \"asc\" or \"desc\"}",
                            )
                        })?;
                    search.sort = sort(&sortby)?;
                }
                "fields" => search.fields = Selection::from_json(value)?,
                "filter" => filter.filter = Some(value.clone()),
                "filter-lang" => {
                    filter.lang = Some(value.as_str().ok_or_else(|| typed("a string"))?.to_owned())
                }
                "filter-crs" => {
                    filter.crs = Some(value.as_str().ok_or_else(|| typed("a string"))?.to_owned())
                }
                "token" => search.offset = token(value.as_str().ok_or_else(|| typed("a string"))?)?,
                _ => unreachable!("only known members are read"),
            }
        }
        search.filter = filter.read(cql::Lang::Json)?;
        search.check()?;
        Ok((search, body))
    }

    /// What no single parameter shows.
    fn check(&self) -> Result<(), ApiError> {
        if self.bbox.is_some() && self.region.is_some() {
            return Err(ApiError::invalid(
                "intersects",
                "give bbox or intersects, not both",
            ));
        }
        Ok(())
    }
}

/// A `limit`: at least 1; over [`MAX_LIMIT`] it is read as the maximum (STAC API Item
/// Search and OGC API - Features: no error).
fn limit(value: u64) -> Result<u32, ApiError> {
    if value == 0 {
        return Err(ApiError::invalid(
            "limit",
            format!("0 is not from 1 to {MAX_LIMIT}"),
        ));
    }
    Ok(u32::try_from(value).unwrap_or(MAX_LIMIT).min(MAX_LIMIT))
}

/// A box from 4 numbers (west, south, east, north) or 6 (with heights, which are ignored).
fn bbox(numbers: &[f64]) -> Result<Bbox, ApiError> {
    let (west, south, east, north) = match numbers {
        [w, s, e, n] => (*w, *s, *e, *n),
        [w, s, _, e, n, _] => (*w, *s, *e, *n),
        _ => {
            return Err(ApiError::invalid(
                "bbox",
                format!(
                    "4 numbers west,south,east,north (or 6 with heights) expected, {} given",
                    numbers.len()
                ),
            ));
        }
    };
    Bbox::new(west, south, east, north).map_err(|error| ApiError::catalog("bbox", error))
}

/// A list of ids or names: non-empty entries, at most [`MAX_LIST`].
fn list<'a>(name: &str, values: impl Iterator<Item = &'a str>) -> Result<Vec<String>, ApiError> {
    let values: Vec<String> = values.map(|value| value.trim().to_owned()).collect();
    if values.iter().any(String::is_empty) {
        return Err(ApiError::invalid(name, "an entry is empty"));
    }
    if values.len() > MAX_LIST {
        return Err(ApiError::invalid(
            name,
            format!("{} entries, more than the {MAX_LIST} allowed", values.len()),
        ));
    }
    Ok(values)
}

/// The catalog's order of a `sortby`.
fn sort(sortby: &[Sortby]) -> Result<Vec<Sort>, ApiError> {
    if sortby.len() > 8 {
        return Err(ApiError::invalid("sortby", "at most 8 fields"));
    }
    sortby
        .iter()
        .map(|sortby| {
            let name = sortby.field.trim();
            let name = name.strip_prefix("properties.").unwrap_or(name);
            let field = Field::parse(name).map_err(|_| {
                ApiError::invalid(
                    "sortby",
                    format!("{name:?} is not sortable (see /stac/queryables)"),
                )
            })?;
            Ok(Sort {
                field,
                descending: sortby.direction == Direction::Descending,
            })
        })
        .collect()
}

/// The offset a paging token carries (tokens are the ones the `next` and `prev` links give).
fn token(value: &str) -> Result<u64, ApiError> {
    value
        .parse::<u64>()
        .ok()
        .filter(|offset| *offset <= MAX_OFFSET)
        .ok_or_else(|| {
            ApiError::invalid("token", format!("{value:?} is not a token this API gave"))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(query: &str) -> Result<Search, ApiError> {
        Search::from_query(query, Scope::Search).map(|(search, _)| search)
    }

    fn post(body: &str) -> Result<Search, ApiError> {
        Search::from_body(body.as_bytes()).map(|(search, _)| search)
    }

    #[test]
    fn get_parameters() {
        let search = get("limit=5&bbox=170,-10,-170,10&collections=A,B&ids=x&sortby=%2Beo:cloud_cover,-datetime&fields=id,-geometry&token=20&filter=eo:cloud_cover<10")
            .unwrap();
        assert_eq!(search.limit, 5);
        assert!(search.bbox.unwrap().crosses_antimeridian());
        assert_eq!(search.collections, ["A", "B"]);
        assert_eq!(search.ids, ["x"]);
        assert_eq!(search.sort.len(), 2);
        assert!(!search.sort[0].descending && search.sort[1].descending);
        assert_eq!(
            search.fields,
            Selection::from_query("id,-geometry").unwrap()
        );
        assert_eq!(search.offset, 20);
        assert!(search.filter.is_some());
        assert_eq!(get("").unwrap().limit, DEFAULT_LIMIT);
        assert_eq!(get("limit=10001").unwrap().limit, MAX_LIMIT);
        assert_eq!(post(r#"{"limit": 99999999999}"#).unwrap().limit, MAX_LIMIT);
        // An unescaped `+` is a space: still ascending.
        assert!(!get("sortby=+gsd").unwrap().sort[0].descending);
    }

    #[test]
    fn the_paging_parameters_are_kept_without_the_token() {
        let (_, given) = Search::from_query(
            "limit=2&token=4&datetime=2024-01-01T00:00:00Z/..",
            Scope::Items,
        )
        .unwrap();
        assert_eq!(
            given,
            [
                ("limit".to_owned(), "2".to_owned()),
                ("datetime".to_owned(), "2024-01-01T00:00:00Z/..".to_owned())
            ]
        );
    }

    #[test]
    fn post_members() {
        let search = post(r#"{"limit": 3, "bbox": [0, 0, 0, 1, 1, 0], "sortby": [{"field": "properties.gsd", "direction": "desc"}],
            "fields": {"exclude": ["links"]}, "filter": {"op": "=", "args": [{"property": "platform"}, "x"]}, "token": "3",
            "intersects": null}"#)
            .unwrap();
        assert_eq!(search.limit, 3);
        assert_eq!(search.bbox.unwrap().east(), 1.0);
        assert!(search.sort[0].descending);
        assert_eq!(
            search.fields,
            Selection::from_json(&serde_json::json!({"exclude": ["links"]})).unwrap()
        );
        assert_eq!(search.offset, 3);
        let text = post(r#"{"filter-lang": "cql2-text", "filter": "platform = 'x'"}"#).unwrap();
        assert_eq!(text.filter, search.filter);
    }

    #[test]
    fn refusals_name_the_parameter() {
        for (result, parameter, expected) in [
            (get("limit=0"), "limit", "not from 1 to 10000"),
            (get("limit=x"), "limit", "not a whole number"),
            (get("bbox=1,2,3"), "bbox", "3 given"),
            (get("bbox=a,b,c,d"), "bbox", "not a list of numbers"),
            (
                get("bbox=0,10,1,5"),
                "bbox",
                "south 10 is greater than north 5",
            ),
            (get("datetime=yesterday"), "datetime", "RFC 3339"),
            (get("intersects=%7B"), "intersects", "not JSON"),
            (
                get("bbox=0,0,1,1&intersects=%7B%22type%22:%22Point%22,%22coordinates%22:[0,0]%7D"),
                "intersects",
                "not both",
            ),
            (get("sortby=foo"), "sortby", "\"foo\" is not sortable"),
            (
                get("filter=eo:cloud_cover%20%3C"),
                "filter",
                "not valid CQL2 text",
            ),
            (get("filter=foo=1"), "filter", "\"foo\" is not queryable"),
            (
                get("filter=platform=1"),
                "filter",
                "platform is a string, compared with the number 1",
            ),
            (
                get("filter=S_INTERSECTS(geometry,POINT(0%200))"),
                "filter",
                "spatial function",
            ),
            (get("filter-lang=sql"), "filter-lang", "\"sql\""),
            (get("filter-crs=EPSG:3857"), "filter-crs", "only"),
            (get("token=abc"), "token", "not a token"),
            (get("ids=a,,b"), "ids", "empty"),
            (get("colour=red"), "colour", "unknown parameter"),
            (get("limit=1&limit=2"), "limit", "more than once"),
            (post("[1]"), "body", "not a JSON object"),
            (post(r#"{"limit": "5"}"#), "limit", "must be a whole number"),
            (post(r#"{"limit": 0}"#), "limit", "not from 1"),
            (post(r#"{"query": {}}"#), "query", "unknown member"),
            (post(r#"{"ids": "a"}"#), "ids", "array of strings"),
            (
                post(r#"{"filter": "platform = 'x'"}"#),
                "filter",
                "not JSON",
            ),
            (
                post(r#"{"filter-lang": "cql2-text", "filter": {"op": "not"}}"#),
                "filter",
                "not a string",
            ),
            (
                post(r#"{"sortby": [{"field": "gsd", "direction": "up"}]}"#),
                "sortby",
                "asc",
            ),
        ] {
            let error = result.unwrap_err();
            assert_eq!(error.status, 400, "{error}");
            assert!(
                error.description.starts_with(&format!("{parameter}: ")),
                "{error} should name {parameter}"
            );
            assert!(
                error.description.contains(expected),
                "{error} should say {expected}"
            );
        }
        let items = Search::from_query("ids=a", Scope::Items).unwrap_err();
        assert!(Search::from_query("collections=S2", Scope::Items).is_ok());
        assert!(
            items.description.starts_with("ids: unknown parameter"),
            "{items}"
        );
    }
}
