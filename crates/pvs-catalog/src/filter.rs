//! Filters and sorting on what the catalog stores of a product: its columns (id, collection,
//! product type, times) and its queryable properties (STAC names such as `eo:cloud_cover`).
//!
//! A [`Filter`] is a typed expression (the part of CQL2 and ECQL that Earth-observation
//! clients write: comparisons, `AND`/`OR`/`NOT`, `BETWEEN`, `IN`, `LIKE`, `IS NULL`). Protocol
//! front ends (the STAC API, WMS `cql`, OpenSearch EO parameters) parse their own syntax into
//! it; the backends turn it into SQL with [`Filter::sql`], and [`Filter::matches`] is the
//! reference every backend's SQL agrees with (the contract suite checks it).
//!
//! A missing property is SQL's `NULL`: a comparison with it is unknown, `NOT` of unknown is
//! unknown, and only products for which the whole filter is true match.

use std::fmt;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use crate::validation::find_nul;
use crate::{CatalogError, Product, Result};

/// The most nodes one filter may have (comparisons, logical operators and list values).
pub const MAX_FILTER_NODES: usize = 1_000;

/// The deepest nesting of logical operators in one filter.
pub const MAX_FILTER_DEPTH: usize = 32;

/// The type of a field's values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A finite number.
    Number,
    /// A string, compared in byte order.
    Text,
    /// An instant in UTC, kept to the microsecond; RFC 3339 strings in property JSON.
    Timestamp,
    /// An array of strings (STAC `instruments`): filtered by whether it holds a string
    /// ([`Filter::Contains`]); it has no single value to compare or sort on.
    TextArray,
}

impl Kind {
    /// The kind's name in messages and JSON Schemas: `number`, `string` or `timestamp`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Number => "number",
            Self::Text => "string",
            Self::Timestamp => "timestamp",
            Self::TextArray => "string array",
        }
    }
}

/// A queryable product property: a key of [`Product::properties`] with a known kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Property {
    name: &'static str,
    kind: Kind,
}

/// Every queryable property, by STAC name (common metadata and the `eo`, `view`, `sat`,
/// `sar` and `processing` extensions), and the EO O&M values pvs stores under `eop:` names.
const PROPERTIES: &[Property] = &[
    Property::new("eo:cloud_cover", Kind::Number),
    Property::new("eo:snow_cover", Kind::Number),
    Property::new("gsd", Kind::Number),
    Property::new("view:off_nadir", Kind::Number),
    Property::new("view:incidence_angle", Kind::Number),
    Property::new("view:azimuth", Kind::Number),
    Property::new("view:sun_azimuth", Kind::Number),
    Property::new("view:sun_elevation", Kind::Number),
    Property::new("sat:absolute_orbit", Kind::Number),
    Property::new("sat:relative_orbit", Kind::Number),
    Property::new("platform", Kind::Text),
    Property::new("constellation", Kind::Text),
    Property::new("mission", Kind::Text),
    Property::new("sat:orbit_state", Kind::Text),
    Property::new("sar:instrument_mode", Kind::Text),
    Property::new("sar:product_type", Kind::Text),
    Property::new("sar:frequency_band", Kind::Text),
    Property::new("processing:level", Kind::Text),
    Property::new("instruments", Kind::TextArray),
    Property::new("created", Kind::Timestamp),
    Property::new("updated", Kind::Timestamp),
    // EO O&M values without a STAC name, as the EO metadata readers store them.
    Property::new("eop:platformSerialIdentifier", Kind::Text),
    Property::new("eop:minimumIncidenceAngle", Kind::Number),
    Property::new("eop:maximumIncidenceAngle", Kind::Number),
    Property::new("eop:incidenceAngleVariation", Kind::Number),
    Property::new("eop:sensorType", Kind::Text),
    Property::new("eop:acquisitionType", Kind::Text),
    Property::new("eop:polarisationMode", Kind::Text),
];

impl Property {
    const fn new(name: &'static str, kind: Kind) -> Self {
        Self { name, kind }
    }

    /// Every queryable property.
    pub fn all() -> &'static [Property] {
        PROPERTIES
    }

    /// The queryable property called `name` (exactly), if there is one.
    pub fn find(name: &str) -> Option<Property> {
        PROPERTIES
            .iter()
            .copied()
            .find(|property| property.name == name)
    }

    /// Its STAC name, the key in [`Product::properties`].
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The kind of its values.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// Its JSON value in `properties`; `None` when absent or JSON `null`.
    fn json<'a>(&self, properties: &'a Map<String, Value>) -> Option<&'a Value> {
        properties.get(self.name).filter(|value| !value.is_null())
    }

    /// Its value in `properties`; `None` when absent or JSON `null`, and for a
    /// [`Kind::TextArray`] (see [`Property::elements`]). A value of the wrong kind (never
    /// stored: [`check_properties`] refuses it) is `None` too.
    fn value(&self, properties: &Map<String, Value>) -> Option<Literal> {
        let value = self.json(properties)?;
        match self.kind {
            Kind::Number => value.as_f64().map(Literal::Number),
            Kind::Text => value.as_str().map(|text| Literal::Text(text.to_owned())),
            Kind::Timestamp => value
                .as_str()
                .and_then(|text| DateTime::parse_from_rfc3339(text).ok())
                .map(|time| Literal::Timestamp(truncate_micros(time.with_timezone(&Utc)))),
            Kind::TextArray => None,
        }
    }

    /// The strings of an array in `properties`; `None` when absent, JSON `null` or not an
    /// array.
    fn elements<'a>(&self, properties: &'a Map<String, Value>) -> Option<Vec<&'a str>> {
        let array = self.json(properties)?.as_array()?;
        Some(array.iter().filter_map(Value::as_str).collect())
    }

    /// Whether `value` (not `null`) is of the property's kind: a finite number, a string, an
    /// RFC 3339 timestamp, an array of strings.
    pub fn accepts(&self, value: &Value) -> bool {
        match self.kind {
            Kind::Number => value.as_f64().is_some_and(f64::is_finite),
            Kind::Text => value.is_string(),
            Kind::Timestamp => value
                .as_str()
                .is_some_and(|text| DateTime::parse_from_rfc3339(text).is_ok()),
            Kind::TextArray => value
                .as_array()
                .is_some_and(|array| array.iter().all(Value::is_string)),
        }
    }
}

/// Checks the queryable properties of `properties`: each present and not `null` must be of
/// its kind ([`Property::accepts`]). Other keys are free.
pub(crate) fn check_properties(properties: &Map<String, Value>) -> Result<(), String> {
    for (key, value) in properties {
        if let Some(path) = find_nul(value, &mut format!("properties.{key}")) {
            return Err(format!("{path} contains a NUL character"));
        }
        if key.contains('\0') {
            return Err("a property name contains a NUL character".to_owned());
        }
    }
    for property in PROPERTIES {
        let Some(value) = properties.get(property.name) else {
            continue;
        };
        if value.is_null() {
            continue;
        }
        if !property.accepts(value) {
            return Err(format!(
                "property {:?} must be a {}, not {value}",
                property.name,
                property.kind.as_str()
            ));
        }
    }
    Ok(())
}

/// Something a filter or a sort can name: a product column or a queryable property.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// The product id (`id`).
    Id,
    /// The collection name (`collection`).
    Collection,
    /// The product type (`product:type`); may be absent.
    ProductType,
    /// The start of the acquisition (`start_datetime`, also `datetime`).
    Start,
    /// The end of the acquisition (`end_datetime`).
    End,
    /// A queryable property.
    Property(Property),
}

impl Field {
    /// The field with this STAC name: `id`, `collection`, `product:type` (or
    /// `product_type`), `datetime` or `start_datetime`, `end_datetime`, or a queryable
    /// [`Property`]. Anything else is refused, naming it.
    pub fn parse(name: &str) -> Result<Self> {
        Ok(match name {
            "id" => Self::Id,
            "collection" => Self::Collection,
            "product:type" | "product_type" => Self::ProductType,
            "datetime" | "start_datetime" => Self::Start,
            "end_datetime" => Self::End,
            _ => Self::Property(Property::find(name).ok_or_else(|| {
                CatalogError::invalid(
                    format!("field {name:?}"),
                    "it is not queryable (see the list of queryables)",
                )
            })?),
        })
    }

    /// Every field, columns first.
    pub fn all() -> Vec<Field> {
        [
            Self::Id,
            Self::Collection,
            Self::ProductType,
            Self::Start,
            Self::End,
        ]
        .into_iter()
        .chain(PROPERTIES.iter().copied().map(Self::Property))
        .collect()
    }

    /// Its STAC name.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Id => "id",
            Self::Collection => "collection",
            Self::ProductType => "product:type",
            Self::Start => "start_datetime",
            Self::End => "end_datetime",
            Self::Property(property) => property.name,
        }
    }

    /// The kind of its values.
    pub fn kind(&self) -> Kind {
        match self {
            Self::Id | Self::Collection | Self::ProductType => Kind::Text,
            Self::Start | Self::End => Kind::Timestamp,
            Self::Property(property) => property.kind,
        }
    }

    /// The field's value for `product`; `None` when absent, and for a string array (which
    /// has no single value).
    pub fn value(&self, product: &Product) -> Option<Literal> {
        match self {
            Self::Id => Some(Literal::Text(product.id.clone())),
            Self::Collection => Some(Literal::Text(product.collection.clone())),
            Self::ProductType => product.product_type.clone().map(Literal::Text),
            Self::Start => Some(Literal::Timestamp(truncate_micros(product.begin))),
            Self::End => Some(Literal::Timestamp(truncate_micros(product.end))),
            Self::Property(property) => property.value(&product.properties),
        }
    }

    /// Whether the field has no value for `product` (absent or JSON `null`).
    fn is_null(&self, product: &Product) -> bool {
        match self {
            Self::Property(property) => property.json(&product.properties).is_none(),
            column => column.value(product).is_none(),
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A value in a filter.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    /// A number (finite).
    Number(f64),
    /// A string.
    Text(String),
    /// An instant (compared to the microsecond: finer digits are dropped).
    Timestamp(DateTime<Utc>),
}

impl Literal {
    fn kind(&self) -> Kind {
        match self {
            Self::Number(_) => Kind::Number,
            Self::Text(_) => Kind::Text,
            Self::Timestamp(_) => Kind::Timestamp,
        }
    }

    /// Orders two values of the same kind; `None` for different kinds.
    fn compare(&self, other: &Literal) -> Option<std::cmp::Ordering> {
        match (self, other) {
            (Self::Number(a), Self::Number(b)) => a.partial_cmp(b),
            (Self::Text(a), Self::Text(b)) => Some(a.as_bytes().cmp(b.as_bytes())),
            (Self::Timestamp(a), Self::Timestamp(b)) => {
                Some(truncate_micros(*a).cmp(&truncate_micros(*b)))
            }
            _ => None,
        }
    }
}

impl fmt::Display for Literal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Number(number) => write!(f, "{number}"),
            Self::Text(text) => write!(f, "{text:?}"),
            Self::Timestamp(time) => f.write_str(&time.to_rfc3339()),
        }
    }
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    /// `=`
    Eq,
    /// `<>`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

impl Comparison {
    /// The SQL operator.
    pub fn as_sql(&self) -> &'static str {
        match self {
            Self::Eq => "=",
            Self::Ne => "<>",
            Self::Lt => "<",
            Self::Le => "<=",
            Self::Gt => ">",
            Self::Ge => ">=",
        }
    }

    fn holds(&self, ordering: std::cmp::Ordering) -> bool {
        use std::cmp::Ordering::{Equal, Greater, Less};
        match self {
            Self::Eq => ordering == Equal,
            Self::Ne => ordering != Equal,
            Self::Lt => ordering == Less,
            Self::Le => ordering != Greater,
            Self::Gt => ordering == Greater,
            Self::Ge => ordering != Less,
        }
    }
}

/// A condition on products' fields.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// Every one holds (true when empty).
    And(Vec<Filter>),
    /// At least one holds (false when empty).
    Or(Vec<Filter>),
    /// It does not hold.
    Not(Box<Filter>),
    /// `field op value`.
    Compare {
        /// The field compared.
        field: Field,
        /// How.
        op: Comparison,
        /// With what (of the field's kind).
        value: Literal,
    },
    /// `low <= field <= high`.
    Between {
        /// The field compared.
        field: Field,
        /// The lower bound, included.
        low: Literal,
        /// The upper bound, included.
        high: Literal,
    },
    /// The field equals one of the values.
    In {
        /// The field compared.
        field: Field,
        /// The values (of the field's kind; at least one).
        values: Vec<Literal>,
    },
    /// The text field matches a SQL `LIKE` pattern, case-sensitively: `%` any run of
    /// characters, `_` one character, `\` escapes the next character.
    Like {
        /// The field matched (of kind [`Kind::Text`]).
        field: Field,
        /// The pattern.
        pattern: String,
    },
    /// The field has no value.
    IsNull(Field),
    /// The string array property holds `element` (compared exactly, in byte order).
    Contains {
        /// The property (of kind [`Kind::TextArray`]).
        property: Property,
        /// The string one of its elements must be.
        element: String,
    },
}

impl Filter {
    /// Checks the filter: every value of its field's kind, numbers finite, `LIKE` only on
    /// text, `IN` not empty, at most [`MAX_FILTER_NODES`] nodes and [`MAX_FILTER_DEPTH`]
    /// levels of nesting.
    pub fn validate(&self) -> Result<()> {
        let mut nodes = 0;
        self.check(0, &mut nodes)
            .map_err(|reason| CatalogError::invalid("filter", reason))
    }

    fn check(&self, depth: usize, nodes: &mut usize) -> Result<(), String> {
        *nodes += 1;
        if *nodes > MAX_FILTER_NODES {
            return Err(format!("it has more than {MAX_FILTER_NODES} terms"));
        }
        if depth > MAX_FILTER_DEPTH {
            return Err(format!("it nests more than {MAX_FILTER_DEPTH} levels deep"));
        }
        let literal = |field: &Field, value: &Literal| -> Result<(), String> {
            if let Literal::Number(number) = value
                && !number.is_finite()
            {
                return Err(format!("{field} is compared with {number}"));
            }
            if value.kind() == field.kind() {
                Ok(())
            } else {
                Err(format!(
                    "{field} is a {}, compared with the {} {value}",
                    field.kind().as_str(),
                    value.kind().as_str()
                ))
            }
        };
        match self {
            Self::And(filters) | Self::Or(filters) => filters
                .iter()
                .try_for_each(|filter| filter.check(depth + 1, nodes)),
            Self::Not(filter) => filter.check(depth + 1, nodes),
            Self::Compare { field, value, .. } => literal(field, value),
            Self::Between { field, low, high } => {
                literal(field, low)?;
                literal(field, high)
            }
            Self::In { field, values } => {
                if values.is_empty() {
                    return Err(format!("{field} IN has no values"));
                }
                *nodes += values.len();
                if *nodes > MAX_FILTER_NODES {
                    return Err(format!("it has more than {MAX_FILTER_NODES} terms"));
                }
                values.iter().try_for_each(|value| literal(field, value))
            }
            Self::Like { field, .. } => {
                if field.kind() == Kind::Text {
                    Ok(())
                } else {
                    Err(format!(
                        "LIKE applies to strings; {field} is a {}",
                        field.kind().as_str()
                    ))
                }
            }
            Self::IsNull(_) => Ok(()),
            Self::Contains { property, .. } => {
                if property.kind == Kind::TextArray {
                    Ok(())
                } else {
                    Err(format!(
                        "only a string array holds elements; {} is a {}",
                        property.name,
                        property.kind.as_str()
                    ))
                }
            }
        }
    }

    /// Whether `product` passes the filter: the reference every backend agrees with.
    pub fn matches(&self, product: &Product) -> bool {
        self.truth(product) == Some(true)
    }

    /// SQL's three-valued logic: `None` is unknown (a comparison with a missing value).
    fn truth(&self, product: &Product) -> Option<bool> {
        match self {
            Self::And(filters) => {
                let values: Vec<Option<bool>> =
                    filters.iter().map(|filter| filter.truth(product)).collect();
                if values.contains(&Some(false)) {
                    Some(false)
                } else if values.contains(&None) {
                    None
                } else {
                    Some(true)
                }
            }
            Self::Or(filters) => {
                let values: Vec<Option<bool>> =
                    filters.iter().map(|filter| filter.truth(product)).collect();
                if values.contains(&Some(true)) {
                    Some(true)
                } else if values.contains(&None) {
                    None
                } else {
                    Some(false)
                }
            }
            Self::Not(filter) => filter.truth(product).map(|value| !value),
            Self::Compare { field, op, value } => {
                let actual = field.value(product)?;
                Some(op.holds(actual.compare(value)?))
            }
            Self::Between { field, low, high } => {
                let actual = field.value(product)?;
                Some(
                    Comparison::Ge.holds(actual.compare(low)?)
                        && Comparison::Le.holds(actual.compare(high)?),
                )
            }
            Self::In { field, values } => {
                let actual = field.value(product)?;
                Some(values.iter().any(|value| {
                    actual
                        .compare(value)
                        .is_some_and(|ordering| ordering.is_eq())
                }))
            }
            Self::Like { field, pattern } => match field.value(product)? {
                Literal::Text(text) => Some(like(pattern, &text)),
                _ => None,
            },
            Self::IsNull(field) => Some(field.is_null(product)),
            Self::Contains { property, element } => Some(
                property
                    .elements(&product.properties)?
                    .contains(&element.as_str()),
            ),
        }
    }

    /// The SQL condition of the filter, for `dialect`; values become parameters through
    /// `param`, which returns each one's placeholder.
    pub(crate) fn sql(
        &self,
        dialect: &dyn Dialect,
        param: &mut dyn FnMut(&Literal) -> String,
    ) -> String {
        match self {
            Self::And(filters) if filters.is_empty() => "(1 = 1)".to_owned(),
            Self::Or(filters) if filters.is_empty() => "(1 = 0)".to_owned(),
            Self::And(filters) | Self::Or(filters) => {
                let joiner = if matches!(self, Self::And(_)) {
                    " AND "
                } else {
                    " OR "
                };
                let parts: Vec<String> = filters
                    .iter()
                    .map(|filter| filter.sql(dialect, param))
                    .collect();
                format!("({})", parts.join(joiner))
            }
            Self::Not(filter) => format!("(NOT {})", filter.sql(dialect, param)),
            Self::Compare { field, op, value } => format!(
                "({} {} {})",
                dialect.field(field),
                op.as_sql(),
                param(value)
            ),
            Self::Between { field, low, high } => format!(
                "({} BETWEEN {} AND {})",
                dialect.field(field),
                param(low),
                param(high)
            ),
            Self::In { field, values } => {
                let values: Vec<String> = values.iter().map(&mut *param).collect();
                format!("({} IN ({}))", dialect.field(field), values.join(", "))
            }
            Self::Like { field, pattern } => dialect.like(&dialect.field(field), pattern, param),
            Self::IsNull(field) => format!("({} IS NULL)", dialect.field(field)),
            Self::Contains { property, element } => {
                dialect.contains(property, &param(&Literal::Text(element.clone())))
            }
        }
    }
}

/// How one SQL backend writes fields and values (PostGIS, SQLite).
pub(crate) trait Dialect {
    /// The SQL expression of a queryable property's value (`NULL` when absent or `null`),
    /// comparable with the parameters of its kind (a timestamp as an instant, whatever the
    /// RFC 3339 form it was stored in); a string array's serves `IS NULL` only.
    fn property(&self, property: &Property) -> String;

    /// The SQL expression of a field's value (`NULL` when absent): the column of the same
    /// name in every backend (text columns compare in byte order), or the property's.
    fn field(&self, field: &Field) -> String {
        match field {
            Field::Id => "id".to_owned(),
            Field::Collection => "collection".to_owned(),
            Field::ProductType => "product_type".to_owned(),
            Field::Start => "begin_time".to_owned(),
            Field::End => "end_time".to_owned(),
            Field::Property(property) => self.property(property),
        }
    }

    /// The SQL condition that the string array `property` holds the string `element` (a
    /// placeholder): `NULL` when the property is absent, `null` or not an array.
    fn contains(&self, property: &Property, element: &str) -> String;

    /// The SQL condition of a case-sensitive `LIKE` (backslash escapes).
    fn like(
        &self,
        field_sql: &str,
        pattern: &str,
        param: &mut dyn FnMut(&Literal) -> String,
    ) -> String;
}

/// How results are ordered: by a field, ascending or descending; products without a value
/// come last either way, and ties are broken by id (ascending).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sort {
    /// The field sorted on.
    pub field: Field,
    /// Largest first.
    pub descending: bool,
}

impl Sort {
    /// The `ORDER BY` list of `sort` for `dialect`: its fields (`NULLS LAST`), then the
    /// default order (begin time newest first) when `sort` is empty, then the id and the
    /// collection.
    pub(crate) fn sql(sort: &[Sort], dialect: &dyn Dialect) -> String {
        let mut terms: Vec<String> = sort
            .iter()
            .map(|sort| {
                format!(
                    "{} {} NULLS LAST",
                    dialect.field(&sort.field),
                    if sort.descending { "DESC" } else { "ASC" }
                )
            })
            .collect();
        if sort.is_empty() {
            terms.push("begin_time DESC".to_owned());
        }
        terms.push("id".to_owned());
        terms.push("collection".to_owned());
        terms.join(", ")
    }

    /// Orders two products as [`Sort::sql`] does (the reference for the contract suite).
    pub fn compare(sort: &[Sort], a: &Product, b: &Product) -> std::cmp::Ordering {
        let default = [Sort {
            field: Field::Start,
            descending: true,
        }];
        let sort = if sort.is_empty() { &default[..] } else { sort };
        sort.iter()
            .map(|sort| match (sort.field.value(a), sort.field.value(b)) {
                (Some(x), Some(y)) => {
                    let ordering = x.compare(&y).unwrap_or(std::cmp::Ordering::Equal);
                    if sort.descending {
                        ordering.reverse()
                    } else {
                        ordering
                    }
                }
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (None, None) => std::cmp::Ordering::Equal,
            })
            .find(|ordering| ordering.is_ne())
            .unwrap_or_else(|| {
                (a.id.as_bytes(), a.collection.as_bytes())
                    .cmp(&(b.id.as_bytes(), b.collection.as_bytes()))
            })
    }
}

/// Whether `text` matches the `LIKE` pattern (`%`, `_`, `\` escapes), case-sensitively.
pub(crate) fn like(pattern: &str, text: &str) -> bool {
    enum Token {
        Any,
        One,
        Char(char),
    }
    let mut tokens = Vec::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        tokens.push(match c {
            '%' => Token::Any,
            '_' => Token::One,
            '\\' => Token::Char(chars.next().unwrap_or('\\')),
            c => Token::Char(c),
        });
    }
    let text: Vec<char> = text.chars().collect();
    // matched[j]: the tokens so far match text[..j].
    let mut matched = vec![false; text.len() + 1];
    matched[0] = true;
    for token in &tokens {
        let mut next = vec![false; text.len() + 1];
        match token {
            Token::Any => {
                let mut any = false;
                for j in 0..=text.len() {
                    any |= matched[j];
                    next[j] = any;
                }
            }
            Token::One => {
                next[1..].copy_from_slice(&matched[..text.len()]);
            }
            Token::Char(c) => {
                for j in 1..=text.len() {
                    next[j] = matched[j - 1] && text[j - 1] == *c;
                }
            }
        }
        matched = next;
    }
    matched[text.len()]
}

/// The glob (SQLite `GLOB`) equivalent of a `LIKE` pattern: case-sensitive, with `*`, `?`
/// and `[` made literal.
pub(crate) fn like_to_glob(pattern: &str) -> String {
    let mut glob = String::new();
    let mut chars = pattern.chars();
    let literal = |glob: &mut String, c: char| match c {
        '*' | '?' | '[' => {
            glob.push('[');
            glob.push(c);
            glob.push(']');
        }
        c => glob.push(c),
    };
    while let Some(c) = chars.next() {
        match c {
            '%' => glob.push('*'),
            '_' => glob.push('?'),
            '\\' => literal(&mut glob, chars.next().unwrap_or('\\')),
            c => literal(&mut glob, c),
        }
    }
    glob
}

/// Drops what is finer than a microsecond (the precision products are stored with).
fn truncate_micros(time: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(time.timestamp_micros()).unwrap_or(time)
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use geo_types::{MultiPolygon, polygon};
    use serde_json::json;

    use super::*;

    fn product(id: &str, properties: Value) -> Product {
        Product {
            id: id.to_owned(),
            collection: "C".to_owned(),
            product_type: None,
            footprint: MultiPolygon(vec![polygon![
                (x: 0.0, y: 0.0), (x: 1.0, y: 0.0), (x: 1.0, y: 1.0)
            ]]),
            begin: Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap(),
            end: Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap(),
            location: "x.tif".to_owned(),
            metadata: json!({}),
            properties: properties.as_object().cloned().unwrap_or_default(),
        }
    }

    fn cloud(op: Comparison, value: f64) -> Filter {
        Filter::Compare {
            field: Field::parse("eo:cloud_cover").unwrap(),
            op,
            value: Literal::Number(value),
        }
    }

    #[test]
    fn fields_parse_by_stac_name() {
        assert_eq!(Field::parse("datetime").unwrap(), Field::Start);
        assert_eq!(Field::parse("end_datetime").unwrap(), Field::End);
        assert_eq!(Field::parse("product_type").unwrap(), Field::ProductType);
        assert_eq!(Field::parse("eo:cloud_cover").unwrap().kind(), Kind::Number);
        let error = Field::parse("eo:cloudiness").unwrap_err().to_string();
        assert!(error.contains("\"eo:cloudiness\""), "{error}");
        for field in Field::all() {
            assert_eq!(Field::parse(field.name()).unwrap(), field);
        }
    }

    #[test]
    fn missing_values_are_unknown_as_in_sql() {
        let cloudy = product("a", json!({"eo:cloud_cover": 80}));
        let unknown = product("b", json!({}));
        let clear = cloud(Comparison::Lt, 20.0);
        assert!(!clear.matches(&cloudy));
        assert!(!clear.matches(&unknown));
        let not_clear = Filter::Not(Box::new(clear.clone()));
        assert!(not_clear.matches(&cloudy));
        assert!(!not_clear.matches(&unknown), "NOT unknown is unknown");
        let either = Filter::Or(vec![clear.clone(), Filter::IsNull(Field::ProductType)]);
        assert!(either.matches(&unknown));
        let both = Filter::And(vec![clear, Filter::IsNull(Field::ProductType)]);
        assert!(!both.matches(&unknown));
        assert!(Filter::And(vec![]).matches(&unknown));
        assert!(!Filter::Or(vec![]).matches(&unknown));
        let false_and_unknown = Filter::Not(Box::new(Filter::And(vec![
            cloud(Comparison::Gt, 1000.0),
            Filter::Compare {
                field: Field::parse("platform").unwrap(),
                op: Comparison::Eq,
                value: Literal::Text("x".into()),
            },
        ])));
        assert!(
            false_and_unknown.matches(&cloudy),
            "false AND unknown is false"
        );
    }

    #[test]
    fn like_patterns() {
        for (pattern, text, expected) in [
            ("S2%", "S2A_1", true),
            ("s2%", "S2A_1", false),
            ("S2_\\_1", "S2A_1", true),
            ("S2_\\_1", "S2AB1", false),
            ("%", "", true),
            ("_", "", false),
            ("a%b%c", "aXXbYc", true),
            ("100\\%", "100%", true),
            ("100\\%", "1000", false),
        ] {
            assert_eq!(like(pattern, text), expected, "{pattern} {text}");
        }
        assert_eq!(like_to_glob("S2*_%\\%[x]"), "S2[*]?*%[[]x]");
    }

    #[test]
    fn validation_names_the_problem() {
        let platform = Field::parse("platform").unwrap();
        let cases = [
            (
                Filter::Compare {
                    field: platform,
                    op: Comparison::Eq,
                    value: Literal::Number(1.0),
                },
                "platform is a string, compared with the number 1",
            ),
            (cloud(Comparison::Lt, f64::NAN), "compared with NaN"),
            (
                Filter::Like {
                    field: Field::Start,
                    pattern: "2024%".into(),
                },
                "LIKE applies to strings",
            ),
            (
                Filter::In {
                    field: platform,
                    values: vec![],
                },
                "IN has no values",
            ),
        ];
        for (filter, expected) in cases {
            let message = filter.validate().unwrap_err().to_string();
            assert!(message.contains(expected), "{message}");
        }
        let mut deep = cloud(Comparison::Lt, 1.0);
        for _ in 0..=MAX_FILTER_DEPTH {
            deep = Filter::Not(Box::new(deep));
        }
        assert!(deep.validate().unwrap_err().to_string().contains("nests"));
        let wide = Filter::Or(vec![cloud(Comparison::Lt, 1.0); MAX_FILTER_NODES + 1]);
        assert!(wide.validate().unwrap_err().to_string().contains("terms"));
    }

    #[test]
    fn properties_are_checked_by_kind() {
        let ok = json!({"eo:cloud_cover": 5, "platform": "sentinel-2a", "eo:snow_cover": null, "free": [1, 2]});
        assert!(check_properties(ok.as_object().unwrap()).is_ok());
        for (bad, expected) in [
            (
                json!({"eo:cloud_cover": "5"}),
                "\"eo:cloud_cover\" must be a number",
            ),
            (json!({"platform": 2}), "\"platform\" must be a string"),
            (
                json!({"free": ["a\u{0}"]}),
                "properties.free[0] contains a NUL",
            ),
        ] {
            let message = check_properties(bad.as_object().unwrap()).unwrap_err();
            assert!(message.contains(expected), "{message}");
        }
    }

    #[test]
    fn sort_puts_missing_values_last_and_breaks_ties_by_id() {
        let a = product("a", json!({"eo:cloud_cover": 10}));
        let b = product("b", json!({}));
        let c = product("c", json!({"eo:cloud_cover": 10}));
        let d = product("d", json!({"eo:cloud_cover": 5}));
        let field = Field::parse("eo:cloud_cover").unwrap();
        for descending in [false, true] {
            let sort = [Sort { field, descending }];
            let mut products = [&b, &c, &a, &d];
            products.sort_by(|x, y| Sort::compare(&sort, x, y));
            let ids: Vec<&str> = products.iter().map(|p| p.id.as_str()).collect();
            let expected = if descending {
                ["a", "c", "d", "b"]
            } else {
                ["d", "a", "c", "b"]
            };
            assert_eq!(ids, expected);
        }
    }
}
