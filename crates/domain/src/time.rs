//! Time as data: milliseconds since the Unix epoch, in UTC. Time zones are applied only when
//! showing or expanding calendar rules.

use crate::DomainError;
use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Milliseconds since 1970-01-01T00:00:00Z.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(transparent)]
pub struct Timestamp(pub i64);

/// One minute in milliseconds.
pub const MINUTE_MS: i64 = 60_000;
/// One day in milliseconds.
pub const DAY_MS: i64 = 86_400_000;

impl Timestamp {
    /// This instant as a chrono UTC time; out-of-range values clamp to the epoch.
    pub fn to_utc(self) -> DateTime<Utc> {
        Utc.timestamp_millis_opt(self.0)
            .single()
            .unwrap_or_default()
    }

    /// Converts a chrono time.
    pub fn from_utc<Tz: TimeZone>(t: &DateTime<Tz>) -> Timestamp {
        Timestamp(t.timestamp_millis())
    }

    /// `self + minutes`.
    pub fn plus_minutes(self, minutes: i64) -> Timestamp {
        Timestamp(self.0.saturating_add(minutes.saturating_mul(MINUTE_MS)))
    }

    /// The UTC calendar day, as days since the epoch.
    pub fn day(self) -> i64 {
        self.0.div_euclid(DAY_MS)
    }

    /// Parses RFC 3339 (`2026-11-22T14:30:00Z`, with offset), a bare date (`2026-11-22`, midnight
    /// UTC) or a local date-time (`2026-11-22T14:30`, read in `tz`).
    pub fn parse(s: &str, tz: chrono_tz::Tz) -> Result<Timestamp, DomainError> {
        let s = s.trim();
        if let Ok(t) = DateTime::parse_from_rfc3339(s) {
            return Ok(Timestamp::from_utc(&t));
        }
        for fmt in [
            "%Y-%m-%dT%H:%M:%S",
            "%Y-%m-%dT%H:%M",
            "%Y-%m-%d %H:%M:%S",
            "%Y-%m-%d %H:%M",
        ] {
            if let Ok(naive) = NaiveDateTime::parse_from_str(s, fmt) {
                return local_to_utc(naive, tz).ok_or_else(|| DomainError::BadDateTime(s.into()));
            }
        }
        if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
            let naive = d
                .and_hms_opt(0, 0, 0)
                .ok_or_else(|| DomainError::BadDateTime(s.into()))?;
            return local_to_utc(naive, tz).ok_or_else(|| DomainError::BadDateTime(s.into()));
        }
        Err(DomainError::BadDateTime(crate::id::truncate(s)))
    }
}

/// Resolves a wall-clock time in `tz`: in a DST gap the later instant, in an overlap the earlier.
pub fn local_to_utc(naive: NaiveDateTime, tz: chrono_tz::Tz) -> Option<Timestamp> {
    use chrono::LocalResult;
    match tz.from_local_datetime(&naive) {
        LocalResult::Single(t) => Some(Timestamp::from_utc(&t)),
        LocalResult::Ambiguous(a, _) => Some(Timestamp::from_utc(&a)),
        LocalResult::None => {
            let later = naive + chrono::Duration::hours(1);
            tz.from_local_datetime(&later)
                .earliest()
                .map(|t| Timestamp::from_utc(&t))
        }
    }
}

/// Parses an IANA time-zone name with a precise error.
pub fn parse_tz(name: &str) -> Result<chrono_tz::Tz, DomainError> {
    name.parse::<chrono_tz::Tz>()
        .map_err(|_| DomainError::BadTimeZone(crate::id::truncate(name)))
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}",
            self.to_utc()
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_forms_people_type() {
        let utc = chrono_tz::UTC;
        assert_eq!(
            Timestamp::parse("1970-01-01T00:01:00Z", utc).unwrap(),
            Timestamp(60_000)
        );
        assert_eq!(
            Timestamp::parse("1970-01-02", utc).unwrap(),
            Timestamp(DAY_MS)
        );
        let berlin = parse_tz("Europe/Berlin").unwrap();
        // 10:00 in Berlin in winter is 09:00 UTC.
        let t = Timestamp::parse("2026-01-10T10:00", berlin).unwrap();
        assert_eq!(t.to_string(), "2026-01-10T09:00:00Z");
    }

    #[test]
    fn wrong_time_zone_and_date_are_clear_errors() {
        assert_eq!(
            parse_tz("Mars/Olympus"),
            Err(DomainError::BadTimeZone("Mars/Olympus".into()))
        );
        assert!(matches!(
            Timestamp::parse("2026-13-45", chrono_tz::UTC),
            Err(DomainError::BadDateTime(_))
        ));
    }
}
