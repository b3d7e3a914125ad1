//! `xs:dateTime` values as browse reports write them.

use chrono::{DateTime, FixedOffset, NaiveDateTime, Utc};
use thiserror::Error;

/// An `xs:dateTime` that could not be read.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
#[error("{value:?} is not an xs:dateTime (YYYY-MM-DDThh:mm:ss[.fff][Z|±hh:mm]): {reason}")]
pub struct TimeError {
    /// The text as found (trimmed).
    pub value: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

/// Parses an `xs:dateTime` into UTC.
///
/// Accepts fractional seconds of any length and a zone `Z` or `±hh:mm`; a value without a
/// zone is taken as UTC (as ngEO does). Unlike ngEO's reader, the fraction and the offset
/// are honoured: `2015-08-19T13:36:30.648+02:00` is 11:36:30.648 UTC.
pub fn parse_date_time(value: &str) -> Result<DateTime<Utc>, TimeError> {
    let value = value.trim();
    let error = |reason| TimeError {
        value: value.to_owned(),
        reason,
    };
    check_shape(value).map_err(error)?;
    let (local, zone) = split_zone(value);
    let naive = NaiveDateTime::parse_from_str(local, "%Y-%m-%dT%H:%M:%S%.f")
        .map_err(|_| error("no such date or time"))?;
    match zone {
        "" | "Z" => Ok(naive.and_utc()),
        offset => {
            let offset = parse_offset(offset).ok_or_else(|| error("bad zone offset"))?;
            let zoned = naive
                .and_local_timezone(offset)
                .single()
                .ok_or_else(|| error("out of range"))?;
            Ok(zoned.with_timezone(&Utc))
        }
    }
}

/// Checks the fixed-width part `YYYY-MM-DDThh:mm:ss` that chrono's parser is lenient about.
fn check_shape(value: &str) -> Result<(), &'static str> {
    let bytes = value.as_bytes();
    if bytes.len() < 19 {
        return Err(if bytes.len() == 10 {
            "a date without a time"
        } else {
            "too short"
        });
    }
    for (index, &byte) in bytes[..19].iter().enumerate() {
        let expected_ok = match index {
            4 | 7 => byte == b'-',
            10 => byte == b'T',
            13 | 16 => byte == b':',
            _ => byte.is_ascii_digit(),
        };
        if !expected_ok {
            return Err("date and time fields must be YYYY-MM-DDThh:mm:ss");
        }
    }
    Ok(())
}

/// Splits `...ss[.fff]` from its zone designator (`""`, `"Z"` or `"±hh:mm"`).
fn split_zone(value: &str) -> (&str, &str) {
    if let Some(local) = value.strip_suffix('Z') {
        return (local, "Z");
    }
    // The time part starts at byte 11 and has no sign, so a sign after it starts the zone.
    match value[11..].find(['+', '-']) {
        Some(index) => value.split_at(11 + index),
        None => (value, ""),
    }
}

fn parse_offset(offset: &str) -> Option<FixedOffset> {
    let bytes = offset.as_bytes();
    if bytes.len() != 6 || bytes[3] != b':' {
        return None;
    }
    let hours: i32 = offset[1..3].parse().ok()?;
    let minutes: i32 = offset[4..6].parse().ok()?;
    if !offset[1..3].bytes().all(|b| b.is_ascii_digit())
        || !offset[4..6].bytes().all(|b| b.is_ascii_digit())
        || hours > 14
        || minutes > 59
    {
        return None;
    }
    let seconds = (hours * 60 + minutes) * 60;
    match bytes[0] {
        b'+' => FixedOffset::east_opt(seconds),
        _ => FixedOffset::west_opt(seconds),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{NaiveDate, TimeZone};
    use proptest::prelude::*;

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32, micros: u32) -> DateTime<Utc> {
        NaiveDate::from_ymd_opt(y, mo, d)
            .unwrap()
            .and_hms_micro_opt(h, mi, s, micros)
            .unwrap()
            .and_utc()
    }

    #[test]
    fn accepts_the_forms_found_in_reports() {
        for (value, instant) in [
            ("2010-07-22T21:38:40Z", utc(2010, 7, 22, 21, 38, 40, 0)),
            (" 2015-06-20T02:28:48 ", utc(2015, 6, 20, 2, 28, 48, 0)),
            (
                "2015-07-14T04:22:36.437048",
                utc(2015, 7, 14, 4, 22, 36, 437_048),
            ),
            (
                "2015-08-19T13:36:30.648+02:00",
                utc(2015, 8, 19, 11, 36, 30, 648_000),
            ),
            ("2015-08-19T01:00:00-03:30", utc(2015, 8, 19, 4, 30, 0, 0)),
        ] {
            assert_eq!(parse_date_time(value).unwrap(), instant, "{value:?}");
        }
    }

    #[test]
    fn refuses_what_is_not_an_xs_date_time() {
        for value in [
            "",
            "2012-10-02",
            "10/02/2012",
            "2012-10-02xyz",
            "2012-10-02 09:30:00Z",
            "2012-10-02T9:30:00Z",
            "2012-13-02T09:30:00Z",
            "2012-02-30T09:30:00Z",
            "2012-10-02T25:30:00Z",
            "2012-10-02T09:30:00+2:00",
            "2012-10-02T09:30:00+15:00",
            "2012-10-02T09:30:00+02:00trailing",
            "2012-10-02T09:30:00.Z",
            "2012-10-02T09:30:00ZZ",
        ] {
            assert!(parse_date_time(value).is_err(), "{value:?} was accepted");
        }
    }

    proptest! {
        /// The same instant written with any zone offset normalises to the same UTC time.
        #[test]
        fn offsets_normalise_to_the_same_instant(
            seconds in 0i64..4_000_000_000,
            nanos in 0u32..1_000_000_000,
            offset_minutes in -14 * 60i32..=14 * 60,
        ) {
            let instant = Utc.timestamp_opt(seconds, nanos).unwrap();
            let offset = FixedOffset::east_opt(offset_minutes * 60).unwrap();
            let written = instant
                .with_timezone(&offset)
                .format("%Y-%m-%dT%H:%M:%S%.9f%:z")
                .to_string();
            prop_assert_eq!(parse_date_time(&written).unwrap(), instant);
            let zulu = instant.format("%Y-%m-%dT%H:%M:%S%.fZ").to_string();
            prop_assert_eq!(parse_date_time(&zulu).unwrap(), instant);
            let unzoned = instant.format("%Y-%m-%dT%H:%M:%S%.f").to_string();
            prop_assert_eq!(parse_date_time(&unzoned).unwrap(), instant);
        }

        #[test]
        fn never_panics(value in "\\PC{0,40}") {
            let _ = parse_date_time(&value);
        }
    }
}
