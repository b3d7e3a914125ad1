//! The STAC API's filters: `filter-lang`, the filter CRS, and CQL2 parsed into the catalog's
//! filter with STAC names ([`pvs_catalog::cql`]).

pub use pvs_catalog::cql::{parse_json, parse_text};

use cql2::Expr;
use pvs_catalog::Filter;

/// The `filter-lang` of a filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// `cql2-text`.
    Text,
    /// `cql2-json`.
    Json,
}

impl Lang {
    /// Reads a `filter-lang` value.
    pub fn parse(text: &str) -> Result<Self, String> {
        match text {
            "cql2-text" => Ok(Self::Text),
            "cql2-json" => Ok(Self::Json),
            other => Err(format!("{other:?} is not cql2-text or cql2-json")),
        }
    }
}

/// The CRS of the filter's geometries: the only one read (filters with geometries are
/// refused anyway; the parameter is checked so that a client asking for another CRS learns it
/// is not served).
pub const CRS84: &str = "http://www.opengis.net/def/crs/OGC/1.3/CRS84";

/// The catalog filter of a CQL2 expression with STAC property names, or why pvs cannot
/// evaluate it.
pub fn to_filter(expr: &Expr) -> Result<Filter, String> {
    pvs_catalog::cql::to_filter(expr, &pvs_catalog::cql::stac_field)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_langs() {
        assert_eq!(Lang::parse("cql2-json"), Ok(Lang::Json));
        assert_eq!(Lang::parse("cql2-text"), Ok(Lang::Text));
        assert!(Lang::parse("ecql").is_err());
        assert!(to_filter(&parse_text("eo:cloud_cover < 5").unwrap()).is_ok());
        assert!(to_filter(&parse_text("cloudCover < 5").unwrap()).is_err());
    }
}
