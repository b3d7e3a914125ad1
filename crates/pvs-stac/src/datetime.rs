//! The `datetime` parameter: one RFC 3339 instant, or an interval `start/end` whose ends may
//! be open (`..` or empty), matched against each product's acquisition interval.

use chrono::{DateTime, TimeZone, Utc};
use pvs_catalog::{TimeFilter, TimeRelation};

use crate::error::ApiError;

/// The earliest instant an open start stands for: every catalog backend stores it.
fn open_start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(1, 1, 1, 0, 0, 0)
        .single()
        .expect("a valid instant")
}

/// The latest instant an open end stands for.
fn open_end() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(9999, 12, 31, 23, 59, 59)
        .single()
        .expect("a valid instant")
}

/// One end of an interval: `None` when open (`..` or empty).
fn end(text: &str, which: &str) -> Result<Option<DateTime<Utc>>, ApiError> {
    if text.is_empty() || text == ".." {
        return Ok(None);
    }
    DateTime::parse_from_rfc3339(text)
        .map(|time| Some(time.with_timezone(&Utc)))
        .map_err(|error| {
            ApiError::invalid(
                "datetime",
                format!(
                    "the {which} {text:?} is not an RFC 3339 date-time such as 2024-01-31T12:00:00Z ({error})"
                ),
            )
        })
}

/// Parses the `datetime` parameter into the filter of the products whose acquisition
/// interval shares an instant with it.
pub fn parse(text: &str) -> Result<TimeFilter, ApiError> {
    let text = text.trim();
    match text.split_once('/') {
        None => {
            let instant = end(text, "instant")?.ok_or_else(|| {
                ApiError::invalid(
                    "datetime",
                    "an instant, or an interval start/end, is required",
                )
            })?;
            Ok(TimeFilter::instant(instant))
        }
        Some((start, stop)) => {
            if stop.contains('/') {
                return Err(ApiError::invalid(
                    "datetime",
                    format!("{text:?} has more than two ends"),
                ));
            }
            let (start, stop) = (end(start, "start")?, end(stop, "end")?);
            if start.is_none() && stop.is_none() {
                return Err(ApiError::invalid(
                    "datetime",
                    "an interval needs at least one closed end (`../..` is not allowed)",
                ));
            }
            let (start, stop) = (
                start.unwrap_or_else(open_start),
                stop.unwrap_or_else(open_end),
            );
            TimeFilter::new(start, stop, TimeRelation::Intersects).map_err(|_| {
                ApiError::invalid(
                    "datetime",
                    format!(
                        "the start {} is after the end {}",
                        start.to_rfc3339(),
                        stop.to_rfc3339()
                    ),
                )
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn instants_and_intervals() {
        let instant = parse("2024-01-01T12:00:00Z").unwrap();
        assert_eq!(instant.start(), t("2024-01-01T12:00:00Z"));
        assert_eq!(instant.end(), t("2024-01-01T12:00:00Z"));
        let closed = parse("2024-01-01T00:00:00+02:00/2024-02-01T00:00:00Z").unwrap();
        assert_eq!(closed.start(), t("2023-12-31T22:00:00Z"));
        assert_eq!(closed.relation(), TimeRelation::Intersects);
        let open_start = parse("../2020-01-01T00:00:00Z").unwrap();
        assert_eq!(open_start.start(), super::open_start());
        assert_eq!(open_start.end(), t("2020-01-01T00:00:00Z"));
        let open_end = parse("2020-01-01T00:00:00Z/").unwrap();
        assert_eq!(open_end.end(), super::open_end());
    }

    #[test]
    fn refusals_name_the_parameter() {
        for (text, expected) in [
            ("", "an instant"),
            ("2024-01-01", "not an RFC 3339 date-time"),
            ("../..", "at least one closed end"),
            ("/", "at least one closed end"),
            (
                "2024-02-01T00:00:00Z/2024-01-01T00:00:00Z",
                "is after the end",
            ),
            ("a/b/c", "more than two ends"),
            ("2024-01-01T00:00:00Z/tomorrow", "the end \"tomorrow\""),
        ] {
            let error = parse(text).unwrap_err();
            assert_eq!(error.status, 400);
            assert!(error.description.starts_with("datetime: "), "{error}");
            assert!(error.description.contains(expected), "{text}: {error}");
        }
    }
}
