//! Product searches on SQLite (blocking): SQL for the collection, ids and time, the R*Tree for
//! footprint candidates, `geo` for the exact footprint test.

use std::ops::ControlFlow;

use geo::BoundingRect;
use geo_types::{MultiPolygon, Rect, coord};
use rusqlite::types::Value;
use rusqlite::{Connection, Row, params_from_iter};

use super::store::{PRODUCT_COLUMNS, backend, product_from_row, read_footprint, to_micros};
use crate::filter::{Dialect, Kind, Literal, Property, like_to_glob};
use crate::{Bbox, Product, ProductQuery, Result, Sort, SpatialRelation};

/// How SQLite writes fields: columns (times in microseconds), and properties read with
/// `json_extract` (text compares in byte order, SQLite's `BINARY` collation; timestamps
/// turned into microseconds, as the time columns and parameters are).
struct Sqlite;

/// The microseconds since 1970 of the RFC 3339 text `t` (any offset, any number of fraction
/// digits, finer than a microsecond dropped, as `Literal::Timestamp` does), or `NULL`: the
/// whole seconds from `strftime` (which reads the offset but only milliseconds), then the
/// fraction's first six digits. `{t}` is a one-row subquery giving the text as `t`.
const RFC3339_MICROS: &str = "(SELECT CAST(strftime('%s', substr(t, 1, 10) || ' ' || \
    substr(t, 12, 8) || z) AS INTEGER) * 1000000 + CASE WHEN substr(t, 20, 1) = '.' \
    THEN CAST(substr(substr(t, 21, length(t) - 20 - length(z)) || '000000', 1, 6) AS INTEGER) \
    ELSE 0 END FROM (SELECT t, CASE WHEN upper(substr(t, -1)) = 'Z' THEN 'Z' \
    ELSE substr(t, -6) END AS z FROM {t}))";

impl Dialect for Sqlite {
    fn property(&self, property: &Property) -> String {
        // Names are from a fixed list of identifiers, never from the request; the
        // expression is the one the migration indexes (timestamps are read through it).
        let value = format!("json_extract(properties, '$.\"{}\"')", property.name());
        match property.kind() {
            Kind::Timestamp => RFC3339_MICROS.replace("{t}", &format!("(SELECT {value} AS t)")),
            Kind::Number | Kind::Text | Kind::TextArray => value,
        }
    }

    fn contains(&self, property: &Property, element: &str) -> String {
        // `json_each` of a string would give the string itself: arrays only; NULL (no
        // `ELSE`) when absent, `null` or not an array.
        let path = format!("'$.\"{}\"'", property.name());
        format!(
            "(CASE WHEN json_type(properties, {path}) = 'array' THEN EXISTS (SELECT 1 FROM \
             json_each(properties, {path}) WHERE type = 'text' AND value = {element}) END)"
        )
    }

    fn like(
        &self,
        field_sql: &str,
        pattern: &str,
        param: &mut dyn FnMut(&Literal) -> String,
    ) -> String {
        // SQLite's LIKE ignores ASCII case; GLOB does not.
        format!(
            "({field_sql} GLOB {})",
            param(&Literal::Text(like_to_glob(pattern)))
        )
    }
}

/// The most boxes of a query geometry looked up one by one in the R*Tree.
const MAX_CANDIDATE_BOXES: usize = 32;

/// The box covering every one of `rects` (which is not empty).
fn common_box(rects: &[Rect<f64>]) -> Rect<f64> {
    rects
        .iter()
        .copied()
        .reduce(|a, b| {
            Rect::new(
                coord! { x: a.min().x.min(b.min().x), y: a.min().y.min(b.min().y) },
                coord! { x: a.max().x.max(b.max().x), y: a.max().y.max(b.max().y) },
            )
        })
        .expect("called with more than MAX_CANDIDATE_BOXES boxes")
}

/// A footprint test SQL cannot make exactly, done on each candidate the R*Tree finds (or,
/// for disjoint footprints, on every product the other conditions select).
enum Exact {
    /// The footprint has the relation with the box.
    Bbox(Bbox, SpatialRelation),
    /// The footprint has the relation with the geometry.
    Geometry(MultiPolygon<f64>, SpatialRelation),
}

impl Exact {
    fn matches(&self, footprint: &MultiPolygon<f64>) -> bool {
        match self {
            Self::Bbox(bbox, spatial) => bbox.relates(*spatial, footprint),
            Self::Geometry(geometry, spatial) => spatial.matches(footprint, geometry),
        }
    }
}

/// How a query is answered: a `WHERE` clause with its parameters (`?1`, `?2`... in order),
/// and the exact footprint tests every row it selects must also pass.
struct Plan {
    clause: String,
    params: Vec<Value>,
    exact: Vec<Exact>,
}

impl Plan {
    /// The plan of `query`, already validated (its limit and offset are left to the caller).
    fn new(query: &ProductQuery) -> Self {
        let mut plan = Self {
            clause: String::new(),
            params: Vec::new(),
            exact: Vec::new(),
        };
        let mut conditions = Vec::new();
        if let Some(collection) = &query.collection {
            conditions.push(format!("collection = {}", plan.param(collection.clone())));
        }
        if let Some(ids) = &query.ids {
            // One JSON array parameter, whatever the number of ids.
            let ids = serde_json::to_string(ids).expect("a list of strings is JSON");
            conditions.push(format!(
                "id IN (SELECT value FROM json_each({}))",
                plan.param(ids)
            ));
        }
        // The time span every matching product overlaps, if any, for the box index.
        let span = query
            .time
            .filter(|time| time.relation().implies_overlap())
            .map(|time| (to_micros(time.start()), to_micros(time.end())));
        // Footprints that meet the area are among the R*Tree's candidates; disjoint ones
        // are not, and are tested one by one.
        let indexed = query.spatial != SpatialRelation::Disjoint;
        if let Some(bbox) = &query.bbox {
            if indexed {
                conditions.push(plan.candidates(&bbox.parts(), span));
            }
            plan.exact.push(Exact::Bbox(*bbox, query.spatial));
        }
        if let Some(geometry) = &query.geometry {
            if indexed {
                let boxes: Vec<Rect<f64>> = geometry
                    .iter()
                    .filter_map(BoundingRect::bounding_rect)
                    .collect();
                conditions.push(plan.candidates(&boxes, span));
            }
            plan.exact
                .push(Exact::Geometry(geometry.clone(), query.spatial));
        }
        if let Some(time) = &query.time {
            let start = plan.param(to_micros(time.start()));
            let end = plan.param(to_micros(time.end()));
            conditions.push(time.relation().sql_condition(&start, &end));
        }
        if let Some(filter) = &query.filter {
            let sql = filter.sql(&Sqlite, &mut |literal| match literal {
                Literal::Number(number) => plan.param(*number),
                Literal::Text(text) => plan.param(text.clone()),
                Literal::Timestamp(time) => plan.param(to_micros(*time)),
            });
            conditions.push(sql);
        }
        plan.clause = if conditions.is_empty() {
            "1".to_owned()
        } else {
            conditions.join(" AND ")
        };
        plan
    }

    /// Adds a parameter and returns its placeholder.
    fn param(&mut self, value: impl Into<Value>) -> String {
        self.params.push(value.into());
        format!("?{}", self.params.len())
    }

    /// The condition selecting the products with a footprint part whose box meets one of
    /// `rects` (a superset of those whose footprint does) and, given `span` (start and end in
    /// microseconds), whose time span overlaps it (a superset again: the exact time
    /// condition is the plan's too). Beyond [`MAX_CANDIDATE_BOXES`], their common box is used
    /// instead: more candidates, but a statement of bounded size.
    fn candidates(&mut self, rects: &[Rect<f64>], span: Option<(i64, i64)>) -> String {
        let merged;
        let rects = if rects.len() > MAX_CANDIDATE_BOXES {
            merged = [common_box(rects)];
            &merged[..]
        } else {
            rects
        };
        let selects: Vec<String> = rects
            .iter()
            .map(|rect| {
                let (min, max) = (rect.min(), rect.max());
                let mut select = format!(
                    "SELECT p.product FROM footprint_boxes i JOIN footprint_parts p \
                     ON p.part = i.part WHERE i.min_x <= {} AND i.max_x >= {} \
                     AND i.min_y <= {} AND i.max_y >= {}",
                    self.param(max.x),
                    self.param(min.x),
                    self.param(max.y),
                    self.param(min.y),
                );
                if let Some((start, end)) = span {
                    let (end, start) = (self.param(end), self.param(start));
                    select.push_str(&format!(" AND i.min_t <= {end} AND i.max_t >= {start}"));
                }
                select
            })
            .collect();
        format!("pk IN ({})", selects.join(" UNION "))
    }

    /// Runs `sql` (selecting the [`PRODUCT_COLUMNS`] with the plan's clause and parameters)
    /// and calls `visit` with each row whose footprint passes the exact tests, and its
    /// footprint, until `visit` breaks.
    fn each_match(
        &self,
        connection: &Connection,
        sql: &str,
        context: &str,
        mut visit: impl FnMut(&Row, MultiPolygon<f64>) -> Result<ControlFlow<()>>,
    ) -> Result<()> {
        let mut statement = connection.prepare_cached(sql).map_err(backend(context))?;
        let mut rows = statement
            .query(params_from_iter(&self.params))
            .map_err(backend(context))?;
        while let Some(row) = rows.next().map_err(backend(context))? {
            let footprint = read_footprint(row)?;
            if self.exact.iter().all(|exact| exact.matches(&footprint))
                && visit(row, footprint)?.is_break()
            {
                break;
            }
        }
        Ok(())
    }
}

/// The products matching `query`, newest begin first then by id, a page of them.
pub(super) fn search(connection: &Connection, query: &ProductQuery) -> Result<Vec<Product>> {
    let mut plan = Plan::new(query);
    let limit = usize::try_from(query.effective_limit()).unwrap_or(usize::MAX);
    let mut products = Vec::new();
    if limit == 0 {
        return Ok(products);
    }
    let mut sql = format!(
        "SELECT {PRODUCT_COLUMNS} FROM products WHERE {} ORDER BY {}",
        plan.clause,
        Sort::sql(&query.sort, &Sqlite)
    );
    // Without footprint tests, SQLite pages; with them, the page is counted here.
    let offset = if plan.exact.is_empty() {
        let limit = plan.param(i64::from(query.effective_limit()));
        let offset = plan.param(i64::try_from(query.offset).unwrap_or(i64::MAX));
        sql.push_str(&format!(" LIMIT {limit} OFFSET {offset}"));
        0
    } else {
        query.offset
    };
    let mut skipped = 0;
    plan.each_match(connection, &sql, "searching products", |row, footprint| {
        if skipped < offset {
            skipped += 1;
            return Ok(ControlFlow::Continue(()));
        }
        products.push(product_from_row(row, footprint)?);
        Ok(if products.len() == limit {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        })
    })?;
    Ok(products)
}

/// The page of [`search`] and the number of [`count`], in one read transaction. When the
/// footprints are tested here, both come from one pass over the matching rows (which the
/// search sorts anyway); otherwise SQLite pages and counts with two statements.
pub(super) fn search_counted(
    connection: &Connection,
    query: &ProductQuery,
) -> Result<(Vec<Product>, u64)> {
    let plan = Plan::new(query);
    let transaction = connection
        .unchecked_transaction()
        .map_err(backend("starting a search"))?;
    if plan.exact.is_empty() {
        return Ok((search(&transaction, query)?, count(&transaction, query)?));
    }
    let limit = usize::try_from(query.effective_limit()).unwrap_or(usize::MAX);
    let offset = query.offset;
    let sql = format!(
        "SELECT {PRODUCT_COLUMNS} FROM products WHERE {} ORDER BY {}",
        plan.clause,
        Sort::sql(&query.sort, &Sqlite)
    );
    let mut products = Vec::new();
    let mut total = 0;
    plan.each_match(
        &transaction,
        &sql,
        "searching products",
        |row, footprint| {
            if total >= offset && products.len() < limit {
                products.push(product_from_row(row, footprint)?);
            }
            total += 1;
            Ok(ControlFlow::Continue(()))
        },
    )?;
    Ok((products, total))
}

/// How many products match `query`, ignoring its limit and offset.
pub(super) fn count(connection: &Connection, query: &ProductQuery) -> Result<u64> {
    let plan = Plan::new(query);
    if plan.exact.is_empty() {
        let count: i64 = connection
            .prepare_cached(&format!(
                "SELECT count(*) FROM products WHERE {}",
                plan.clause
            ))
            .and_then(|mut statement| {
                statement.query_row(params_from_iter(&plan.params), |row| row.get(0))
            })
            .map_err(backend("counting products"))?;
        return Ok(u64::try_from(count).unwrap_or_default());
    }
    let sql = format!(
        "SELECT {PRODUCT_COLUMNS} FROM products WHERE {}",
        plan.clause
    );
    let mut count = 0;
    plan.each_match(connection, &sql, "counting products", |_, _| {
        count += 1;
        Ok(ControlFlow::Continue(()))
    })?;
    Ok(count)
}
