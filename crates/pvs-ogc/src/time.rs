//! Instants as the OGC protocols take them: WMS `TIME`, WCS `SUBSET` on time axes,
//! OpenSearch `start` and `end`. (The tile endpoints read MapCache's `TIME`, with other
//! rules: `pvs_tiles::time`.)

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};

/// An instant that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("an ISO 8601 date-time (2024-01-31T12:00:00Z) or date (2024-01-31) expected: {reason}")]
pub struct InstantError {
    /// What is wrong with it.
    pub reason: &'static str,
}

/// An ISO 8601 date-time (`2024-01-31T12:00:00Z`, `…+02:00`, fractions; no zone means UTC)
/// or a date `YYYY-MM-DD`, meaning its midnight UTC (as EOxServer reads them).
pub fn parse_instant(text: &str) -> Result<DateTime<Utc>, InstantError> {
    let text = text.trim();
    if is_date(text) {
        return NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .map(|date| date.and_time(NaiveTime::MIN).and_utc())
            .map_err(|_| InstantError {
                reason: "no such date",
            });
    }
    pvs_model::parse_date_time(text).map_err(|e| InstantError { reason: e.reason })
}

/// Whether `text` has the shape `YYYY-MM-DD` (chrono alone also reads `2024-1-5`).
fn is_date(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() == 10
        && bytes.iter().enumerate().all(|(i, b)| match i {
            4 | 7 => *b == b'-',
            _ => b.is_ascii_digit(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(text: &str) -> String {
        parse_instant(text).unwrap().to_rfc3339()
    }

    #[test]
    fn instants_and_dates() {
        assert_eq!(parsed("2024-01-31"), "2024-01-31T00:00:00+00:00");
        assert_eq!(
            parsed(" 2024-01-31T12:00:00Z "),
            "2024-01-31T12:00:00+00:00"
        );
        assert_eq!(parsed("2024-01-31T12:00:00"), "2024-01-31T12:00:00+00:00");
        assert_eq!(
            parsed("2024-01-31T14:00:00+02:00"),
            "2024-01-31T12:00:00+00:00"
        );
        assert_eq!(
            parsed("2024-01-31T12:00:00.5Z"),
            "2024-01-31T12:00:00.500+00:00"
        );
    }

    /// The renderer's copy read dates with chrono alone, which takes one-digit months and
    /// days; OpenSearch's did not. ISO 8601 dates have two digits.
    #[test]
    fn dates_have_their_full_shape() {
        for bad in [
            "2024-1-5",
            "2024-01-5",
            "2024-13-01",
            "2024-02-30",
            "yesterday",
            "",
            "2024",
        ] {
            assert!(parse_instant(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            parse_instant("2024-02-30").unwrap_err().reason,
            "no such date"
        );
    }
}
