//! The SQL of product searches.

use tokio_postgres::types::ToSql;

use super::{footprint_wkb, to_micros};
use crate::filter::{Dialect, Kind, Literal, Property};
use crate::{ProductQuery, Result, SpatialRelation};

/// How PostGIS writes fields: columns, and properties read from `jsonb` and cast to their
/// kind (text in byte order, like the columns).
pub(crate) struct Postgis;

impl Dialect for Postgis {
    fn property(&self, property: &Property) -> String {
        // Names are from a fixed list of identifiers, never from the request.
        let value = format!("(properties ->> '{}')", property.name());
        match property.kind() {
            Kind::Number => format!("({value}::float8)"),
            Kind::Text => format!("({value} COLLATE \"C\")"),
            Kind::Timestamp => format!("({value}::timestamptz)"),
            Kind::TextArray => value,
        }
    }

    fn contains(&self, property: &Property, element: &str) -> String {
        // `@>` of an array and a one-element array: exactly its elements (a string value
        // holds nothing); NULL when absent or `null`.
        format!(
            "(NULLIF(properties -> '{}', 'null'::jsonb) @> jsonb_build_array({element}))",
            property.name()
        )
    }

    fn like(
        &self,
        field_sql: &str,
        pattern: &str,
        param: &mut dyn FnMut(&Literal) -> String,
    ) -> String {
        // PostgreSQL's LIKE is case-sensitive and escapes with a backslash by default.
        format!(
            "({field_sql} LIKE {})",
            param(&Literal::Text(pattern.to_owned()))
        )
    }
}

/// A `WHERE` clause with its parameters (`$1`, `$2`... in order).
pub(crate) struct Filter {
    pub(crate) clause: String,
    params: Vec<Box<dyn ToSql + Sync + Send>>,
}

impl Filter {
    /// The filter of `query` (its limit and offset are left to the caller).
    pub(crate) fn new(query: &ProductQuery) -> Result<Self> {
        query.validate()?;
        let mut filter = Self {
            clause: String::new(),
            params: Vec::new(),
        };
        let mut conditions = Vec::new();
        if let Some(collection) = &query.collection {
            conditions.push(format!("collection = {}", filter.param(collection.clone())));
        }
        if let Some(ids) = &query.ids {
            conditions.push(format!("id = ANY({})", filter.param(ids.clone())));
        }
        if let Some(bbox) = &query.bbox {
            // A box crossing the antimeridian is two boxes, either of which may match.
            // ST_Envelope of the diagonal is a polygon, or a line or point for degenerate
            // boxes (a polygon with no area is not a valid geometry).
            let envelopes: Vec<String> = bbox
                .parts()
                .into_iter()
                .map(|rect| {
                    let (min, max) = (rect.min(), rect.max());
                    format!(
                        "ST_Envelope(ST_SetSRID(ST_MakeLine(ST_MakePoint({}, {}), ST_MakePoint({}, {})), 4326))",
                        filter.param(min.x),
                        filter.param(min.y),
                        filter.param(max.x),
                        filter.param(max.y),
                    )
                })
                .collect();
            let intersects = || {
                let parts: Vec<String> = envelopes
                    .iter()
                    .map(|envelope| format!("ST_Intersects(footprint, {envelope})"))
                    .collect();
                format!("({})", parts.join(" OR "))
            };
            conditions.push(match query.spatial {
                SpatialRelation::Intersects => intersects(),
                SpatialRelation::Within => format!(
                    "ST_CoveredBy(footprint, ST_Union(ARRAY[{}]))",
                    envelopes.join(", ")
                ),
                SpatialRelation::Disjoint => format!("NOT {}", intersects()),
            });
        }
        if let Some(geometry) = &query.geometry {
            let wkb = footprint_wkb("query geometry", geometry)?;
            let area = format!("ST_GeomFromWKB({}, 4326)", filter.param(wkb));
            conditions.push(match query.spatial {
                SpatialRelation::Intersects => format!("ST_Intersects(footprint, {area})"),
                SpatialRelation::Within => format!("ST_CoveredBy(footprint, {area})"),
                SpatialRelation::Disjoint => format!("NOT ST_Intersects(footprint, {area})"),
            });
        }
        if let Some(time) = &query.time {
            let start = filter.param(to_micros(time.start()));
            let end = filter.param(to_micros(time.end()));
            conditions.push(time.relation().sql_condition(&start, &end));
        }
        if let Some(condition) = &query.filter {
            let sql = condition.sql(&Postgis, &mut |literal| match literal {
                Literal::Number(number) => format!("{}::float8", filter.param(*number)),
                Literal::Text(text) => format!("{}::text", filter.param(text.clone())),
                Literal::Timestamp(time) => {
                    format!("{}::timestamptz", filter.param(to_micros(*time)))
                }
            });
            conditions.push(sql);
        }
        filter.clause = if conditions.is_empty() {
            "TRUE".to_owned()
        } else {
            conditions.join(" AND ")
        };
        Ok(filter)
    }

    /// Adds a parameter and returns its placeholder.
    pub(crate) fn param(&mut self, value: impl ToSql + Sync + Send + 'static) -> String {
        self.params.push(Box::new(value));
        format!("${}", self.params.len())
    }

    /// The parameters, as `tokio_postgres` takes them.
    pub(crate) fn params(&self) -> Vec<&(dyn ToSql + Sync)> {
        self.params
            .iter()
            .map(|param| param.as_ref() as &(dyn ToSql + Sync))
            .collect()
    }
}
