//! `TIME` on the tile endpoints, read as MapCache reads it: a value `start/end` (or
//! `start--end`, the ISO 8601 form that fits in a URL path) or a single `t`, each part written
//! to the year, month, day, hour, minute or second (`2018`, `2018-05`, `2018-05-01`,
//! `2018-05-01T10Z`, `2018-05-01T10:30Z`, `2018-05-01T10:30:15Z`, UTC), and the end widened by
//! the precision it was written in: `2018-05` is all of May, `2018-05-01` the whole day,
//! `2018-05-01T10:00:00Z/2018-05-01T10:00:30Z` ends at 10:00:31 (exclusive). A tile of an
//! interval shows the products whose time overlaps it. Without `TIME` (or with
//! `TIME=default`) a tile shows every product, newest on top.

use std::fmt;

use chrono::{DateTime, Datelike, Months, NaiveDate, TimeDelta, TimeZone, Utc};

/// The longest `TIME` value read; longer ones are refused unread.
const MAX_TIME_CHARS: usize = 64;

/// The time a tile is drawn for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TileTime {
    /// No time asked: every product.
    Default,
    /// The products overlapping `[start, end)`.
    Interval {
        /// First instant (inclusive).
        start: DateTime<Utc>,
        /// End (exclusive).
        end: DateTime<Utc>,
    },
}

/// Why a `TIME` value is refused; the message says what is accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "TIME {value:?}: {reason}; give `start/end`, `start--end` or one time, each as YYYY, YYYY-MM, YYYY-MM-DD, YYYY-MM-DDTHHZ, YYYY-MM-DDTHH:MMZ or YYYY-MM-DDTHH:MM:SSZ (UTC)"
)]
pub struct TimeError {
    /// The refused value (cut to 64 characters).
    pub value: String,
    /// What is wrong with it.
    pub reason: String,
}

/// How precisely a time was written: the end of an interval is widened by one such unit.
#[derive(Debug, Clone, Copy)]
enum Precision {
    Year,
    Month,
    Day,
    Hour,
    Minute,
    Second,
}

impl TileTime {
    /// Reads a `TIME` value (`default` means [`TileTime::Default`]).
    pub fn parse(value: &str) -> Result<Self, TimeError> {
        let error = |reason: &str| TimeError {
            value: value.chars().take(MAX_TIME_CHARS).collect(),
            reason: reason.to_owned(),
        };
        if value.chars().count() > MAX_TIME_CHARS {
            return Err(error("longer than 64 characters"));
        }
        let value = value.trim();
        if value.eq_ignore_ascii_case("default") {
            return Ok(Self::Default);
        }
        if value.contains(',') {
            return Err(error(
                "lists of values are not supported, ask one value per tile",
            ));
        }
        let (first, second) = match value.split_once('/').or_else(|| value.split_once("--")) {
            Some((a, b)) => (a, Some(b)),
            None => (value, None),
        };
        let (start, start_precision) =
            parse_part(first).map_err(|reason| error(&format!("the start {reason}")))?;
        let (last, last_precision) = match second {
            Some(part) => parse_part(part).map_err(|reason| error(&format!("the end {reason}")))?,
            None => (start, start_precision),
        };
        // Tile keys write times with four-digit years (`from_key` reads them back, to find a
        // time's tiles again): the exclusive end stays before the year 10000.
        let end = widen(last, last_precision)
            .filter(|end| end.year() <= 9999)
            .ok_or_else(|| error("the end is out of range (after 9999-12-31T23:59:59Z)"))?;
        if start >= end {
            return Err(error("the start is after the end"));
        }
        Ok(Self::Interval { start, end })
    }

    /// The value as it appears in tile keys: `default`, or `20180501T000000Z_20180502T000000Z`
    /// (start and exclusive end, to the second, UTC).
    pub fn key(&self) -> String {
        match self {
            Self::Default => "default".to_owned(),
            Self::Interval { start, end } => format!(
                "{}_{}",
                start.format("%Y%m%dT%H%M%SZ"),
                end.format("%Y%m%dT%H%M%SZ")
            ),
        }
    }

    /// Reads a value written by [`TileTime::key`].
    pub fn from_key(key: &str) -> Option<Self> {
        if key == "default" {
            return Some(Self::Default);
        }
        let (a, b) = key.split_once('_')?;
        let read = |s: &str| {
            chrono::NaiveDateTime::parse_from_str(s, "%Y%m%dT%H%M%SZ")
                .ok()
                .map(|t| t.and_utc())
        };
        let (start, end) = (read(a)?, read(b)?);
        (start < end).then_some(Self::Interval { start, end })
    }

    /// The closed interval `[start, end − 1 µs]` (the catalog's and the renderer's `TIME`
    /// are closed); `None` for [`TileTime::Default`].
    pub fn closed(&self) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        match self {
            Self::Default => None,
            Self::Interval { start, end } => Some((*start, *end - TimeDelta::microseconds(1))),
        }
    }

    /// The renderer's `TIME` for this value (closed, RFC 3339); `None` for the default.
    pub fn wms_value(&self) -> Option<String> {
        self.closed().map(|(start, end)| {
            let format = |t: DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true);
            format!("{}/{}", format(start), format(end))
        })
    }

    /// Whether a tile of this time shows a product of time `[begin, end]`.
    pub fn overlaps(&self, begin: DateTime<Utc>, end: DateTime<Utc>) -> bool {
        match self {
            Self::Default => true,
            Self::Interval { start, end: until } => begin < *until && end >= *start,
        }
    }
}

impl fmt::Display for TileTime {
    /// `default`, or `start--end` with the exclusive end, to the second.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Default => f.write_str("default"),
            Self::Interval { start, end } => write!(
                f,
                "{}--{}",
                start.format("%Y-%m-%dT%H:%M:%SZ"),
                end.format("%Y-%m-%dT%H:%M:%SZ")
            ),
        }
    }
}

/// Writes `[begin, end]` as a value that [`TileTime::parse`] reads back to an interval
/// covering it: `begin--end` to the second (the end is widened by a second on reading).
pub fn interval_value(begin: DateTime<Utc>, end: DateTime<Utc>) -> String {
    format!(
        "{}--{}",
        begin.format("%Y-%m-%dT%H:%M:%SZ"),
        end.format("%Y-%m-%dT%H:%M:%SZ")
    )
}

/// One part of a value: the instant it starts and how precisely it was written.
fn parse_part(part: &str) -> Result<(DateTime<Utc>, Precision), String> {
    let bad = || format!("{part:?} is not a time in one of the accepted forms");
    let (date, time) = match part.split_once('T') {
        Some((date, time)) => (date, Some(time)),
        None => (part, None),
    };
    let fields: Vec<&str> = date.split('-').collect();
    let number = |s: &str, digits: usize| -> Result<u32, String> {
        if s.len() == digits && s.bytes().all(|b| b.is_ascii_digit()) {
            s.parse().map_err(|_| bad())
        } else {
            Err(bad())
        }
    };
    let year = number(fields[0], 4)? as i32;
    let month = fields.get(1).map(|m| number(m, 2)).transpose()?;
    let day = fields.get(2).map(|d| number(d, 2)).transpose()?;
    if fields.len() > 3 {
        return Err(bad());
    }
    let date = NaiveDate::from_ymd_opt(year, month.unwrap_or(1), day.unwrap_or(1))
        .ok_or_else(|| format!("{part:?} is not a calendar date"))?;
    let date_precision = match (month, day) {
        (None, _) => Precision::Year,
        (Some(_), None) => Precision::Month,
        (Some(_), Some(_)) => Precision::Day,
    };
    let Some(time) = time else {
        return Ok((Utc.from_utc_datetime(&date.into()), date_precision));
    };
    if day.is_none() {
        return Err(bad());
    }
    let time = time
        .strip_suffix('Z')
        .ok_or_else(|| format!("{part:?} has a time without the `Z` (UTC) suffix"))?;
    let fields: Vec<&str> = time.split(':').collect();
    let hour = number(fields[0], 2)?;
    let minute = fields.get(1).map(|m| number(m, 2)).transpose()?;
    let second = fields.get(2).map(|s| number(s, 2)).transpose()?;
    if fields.len() > 3 {
        return Err(bad());
    }
    let instant = date
        .and_hms_opt(hour, minute.unwrap_or(0), second.unwrap_or(0))
        .ok_or_else(|| format!("{part:?} is not a time of day"))?;
    let precision = match (minute, second) {
        (None, _) => Precision::Hour,
        (Some(_), None) => Precision::Minute,
        (Some(_), Some(_)) => Precision::Second,
    };
    Ok((instant.and_utc(), precision))
}

/// The instant one unit of `precision` after `t`.
fn widen(t: DateTime<Utc>, precision: Precision) -> Option<DateTime<Utc>> {
    match precision {
        Precision::Year => Utc.with_ymd_and_hms(t.year() + 1, 1, 1, 0, 0, 0).single(),
        Precision::Month => t.checked_add_months(Months::new(1)),
        Precision::Day => t.checked_add_signed(TimeDelta::days(1)),
        Precision::Hour => t.checked_add_signed(TimeDelta::hours(1)),
        Precision::Minute => t.checked_add_signed(TimeDelta::minutes(1)),
        Precision::Second => t.checked_add_signed(TimeDelta::seconds(1)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn interval(value: &str) -> (DateTime<Utc>, DateTime<Utc>) {
        match TileTime::parse(value).unwrap() {
            TileTime::Interval { start, end } => (start, end),
            TileTime::Default => panic!("{value} read as the default"),
        }
    }

    #[test]
    fn ends_are_widened_by_their_precision() {
        let cases = [
            ("2018", "2018-01-01T00:00:00Z", "2019-01-01T00:00:00Z"),
            ("2018-05", "2018-05-01T00:00:00Z", "2018-06-01T00:00:00Z"),
            ("2018-12", "2018-12-01T00:00:00Z", "2019-01-01T00:00:00Z"),
            ("2018-05-01", "2018-05-01T00:00:00Z", "2018-05-02T00:00:00Z"),
            (
                "2018-05-01T10Z",
                "2018-05-01T10:00:00Z",
                "2018-05-01T11:00:00Z",
            ),
            (
                "2018-05-01T10:30Z",
                "2018-05-01T10:30:00Z",
                "2018-05-01T10:31:00Z",
            ),
            (
                "2018-05-01T10:30:15Z",
                "2018-05-01T10:30:15Z",
                "2018-05-01T10:30:16Z",
            ),
            (
                "2018-05-01T10:00:00Z/2018-05-01T10:00:30Z",
                "2018-05-01T10:00:00Z",
                "2018-05-01T10:00:31Z",
            ),
            (
                "2018-05--2018-06",
                "2018-05-01T00:00:00Z",
                "2018-07-01T00:00:00Z",
            ),
            ("2020-02-29", "2020-02-29T00:00:00Z", "2020-03-01T00:00:00Z"),
        ];
        for (value, start, end) in cases {
            assert_eq!(interval(value), (at(start), at(end)), "{value}");
        }
    }

    #[test]
    fn keys_and_values_round_trip() {
        let time = TileTime::parse("2018-05-01T10:00:00Z/2018-05-01T10:00:30Z").unwrap();
        assert_eq!(time.key(), "20180501T100000Z_20180501T100031Z");
        assert_eq!(TileTime::from_key(&time.key()), Some(time));
        assert_eq!(TileTime::from_key("default"), Some(TileTime::Default));
        assert_eq!(TileTime::from_key("nonsense"), None);
        assert_eq!(TileTime::parse("DEFAULT").unwrap(), TileTime::Default);
        assert_eq!(
            time.wms_value().unwrap(),
            "2018-05-01T10:00:00Z/2018-05-01T10:00:30.999999Z"
        );
        // A product's interval, written for the capabilities, reads back to cover it.
        let (begin, end) = (at("2019-09-08T10:07:18.250Z"), at("2019-09-08T10:07:36.5Z"));
        let value = interval_value(begin, end);
        let read = TileTime::parse(&value).unwrap();
        assert!(read.overlaps(begin, end));
        let (start, until) = interval(&value);
        assert!(start <= begin && end < until, "{value}");
    }

    /// Found by fuzzing (`fuzz/fuzz_targets/tile_time.rs`): `9999-12-31T23:59:59Z` ended at
    /// the year 10000, whose key (`..._+100000101T000000Z`) `from_key` could not read, so
    /// invalidation never found those tiles again.
    #[test]
    fn every_accepted_time_has_a_key_that_reads_back() {
        for value in [
            "9999-12-31T23:59:58Z",
            "9998",
            "9999-11",
            "0000",
            "0000-01-01T00Z",
        ] {
            let time = TileTime::parse(value).unwrap();
            assert_eq!(TileTime::from_key(&time.key()), Some(time), "{value}");
        }
        for value in ["9999-12-31T23:59:59Z", "9999-12", "9999", "2018/9999"] {
            let error = TileTime::parse(value).unwrap_err();
            assert!(error.reason.contains("out of range"), "{value}: {error}");
        }
    }

    #[test]
    fn overlap_is_half_open() {
        let may = TileTime::parse("2018-05").unwrap();
        assert!(may.overlaps(at("2018-05-31T23:59:59Z"), at("2018-06-02T00:00:00Z")));
        assert!(may.overlaps(at("2018-04-01T00:00:00Z"), at("2018-05-01T00:00:00Z")));
        assert!(!may.overlaps(at("2018-06-01T00:00:00Z"), at("2018-06-02T00:00:00Z")));
        assert!(!may.overlaps(at("2018-03-01T00:00:00Z"), at("2018-04-30T23:59:59Z")));
        assert!(TileTime::Default.overlaps(at("1990-01-01T00:00:00Z"), at("1990-01-01T00:00:00Z")));
    }

    #[test]
    fn bad_values_say_what_is_wrong() {
        let cases = [
            ("", "not a time"),
            ("yesterday", "not a time"),
            ("2018-13", "not a calendar date"),
            ("2018-02-30", "not a calendar date"),
            ("2018-05-01T25:00:00Z", "not a time of day"),
            ("2018-05-01T10:00:00", "without the `Z`"),
            ("2018-05-01T10:00:00+02:00", "without the `Z`"),
            ("2018-05-01T10:00:00.5Z", "not a time"),
            ("2018-06/2018-05", "start is after the end"),
            ("2018,2019", "lists of values"),
            ("2018/2019/2020", "not a time"),
            ("+2018", "not a time"),
            ("2018-5-1", "not a time"),
            ("2018-05T10Z", "not a time"),
            ("9999-12-31T23:59:59Z", "out of range"),
            ("9999", "out of range"),
            ("9999-12-31T23:59:58Z", ""),
        ];
        for (value, expected) in cases {
            match TileTime::parse(value) {
                Err(error) => {
                    assert!(error.to_string().contains(expected), "{value}: {error}");
                    assert!(error.to_string().contains("YYYY-MM-DD"), "{value}: {error}");
                }
                Ok(time) => assert!(expected.is_empty(), "{value} accepted as {time:?}"),
            }
        }
        let long = "2".repeat(100_000);
        let error = TileTime::parse(&long).unwrap_err();
        assert!(error.reason.contains("longer than 64"));
        assert!(error.to_string().len() < 500);
        assert!(TileTime::parse("\u{0}2018").is_err());
    }
}
