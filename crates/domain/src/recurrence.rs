//! Recurrence rules: the RFC 5545 subset Weft supports (DAILY, WEEKLY, MONTHLY; INTERVAL;
//! UNTIL or COUNT; BYDAY for weekly rules; exception dates), expanded in the event's time zone
//! so that a 09:00 meeting stays at 09:00 across daylight-saving changes.

use crate::time::{DAY_MS, local_to_utc};
use crate::{DomainError, Timestamp, string_enum};
use chrono::{Datelike, Days, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

string_enum!(
    /// How often an event repeats.
    Frequency, "frequency", { Daily => "daily", Weekly => "weekly", Monthly => "monthly" }
);

/// Most occurrences one expansion returns, whatever range is asked for.
pub const MAX_OCCURRENCES: usize = 10_000;
/// Largest interval accepted (every 1000 days/weeks/months is already absurd).
pub const MAX_INTERVAL: u32 = 1000;

/// A recurrence rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(default)]
pub struct Recurrence {
    pub freq: Frequency,
    /// Every `interval` days/weeks/months; at least 1.
    pub interval: u32,
    /// Last possible occurrence start (inclusive). Exclusive with `count`.
    pub until: Option<Timestamp>,
    /// Number of occurrences, counting the first. Exclusive with `until`.
    pub count: Option<u32>,
    /// Weekly rules only: days as `MO`..`SU`; empty means the start's weekday.
    pub by_day: Vec<String>,
    /// Occurrence starts (UTC) that do not happen (EXDATE).
    pub exceptions: Vec<Timestamp>,
}

impl Default for Recurrence {
    fn default() -> Self {
        Recurrence {
            freq: Frequency::Weekly,
            interval: 1,
            until: None,
            count: None,
            by_day: Vec::new(),
            exceptions: Vec::new(),
        }
    }
}

/// Longest RRULE text [`parse_rrule`] reads.
pub const MAX_RRULE_LEN: usize = 1000;

/// Weekday codes from Monday, the week start Weft expands weekly rules with.
const DAYS: [&str; 7] = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"];

/// Most rule periods one expansion walks. Valid rules stay below it: daily and weekly periods
/// and monthly ones with INTERVAL up to 10 nearly all hold an occurrence, so the result cap
/// comes first, and sparser monthly rules (29 February every 25 months: one hit per 192
/// periods) run out of chrono's calendar (year 262,143) within 3.2 million / INTERVAL periods.
/// It bounds the work on corrupt rules instead of letting them spin.
const MAX_PERIODS: u64 = 400_000;

fn bad(msg: impl Into<String>) -> DomainError {
    DomainError::BadRecurrence(msg.into())
}

/// Monday-based index (0..=6) of a `MO`..`SU` code, in any case.
fn day_index(code: &str) -> Option<u32> {
    DAYS.iter()
        .position(|d| d.eq_ignore_ascii_case(code.trim()))
        .and_then(|i| u32::try_from(i).ok())
}

impl Recurrence {
    /// Checks the rule is one Weft can expand: interval, count, until and by-day limits.
    pub fn validate(&self) -> Result<(), DomainError> {
        if !(1..=MAX_INTERVAL).contains(&self.interval) {
            return Err(bad(format!(
                "INTERVAL must be from 1 to {MAX_INTERVAL}, not {}",
                self.interval
            )));
        }
        if self.until.is_some() && self.count.is_some() {
            return Err(bad("UNTIL and COUNT cannot both be set"));
        }
        if let Some(c) = self.count
            && !(1..=MAX_OCCURRENCES).contains(&usize::try_from(c).unwrap_or(usize::MAX))
        {
            return Err(bad(format!(
                "COUNT must be from 1 to {MAX_OCCURRENCES}, not {c}"
            )));
        }
        if !self.by_day.is_empty() && self.freq != Frequency::Weekly {
            return Err(bad("BYDAY is only supported for WEEKLY rules"));
        }
        let mut seen = [false; 7];
        for d in &self.by_day {
            let i = day_index(d).ok_or_else(|| {
                bad(format!(
                    "BYDAY {:?} is not one of MO, TU, WE, TH, FR, SA, SU",
                    crate::id::truncate(d)
                ))
            })?;
            let slot = &mut seen[i as usize];
            if *slot {
                return Err(bad(format!("BYDAY lists {} twice", DAYS[i as usize])));
            }
            *slot = true;
        }
        // Each exception is looked up per occurrence; the cap keeps a rule's size bounded.
        if self.exceptions.len() > MAX_OCCURRENCES {
            return Err(bad(format!(
                "at most {MAX_OCCURRENCES} exception dates, not {}",
                self.exceptions.len()
            )));
        }
        Ok(())
    }

    /// The rule as RFC 5545 RRULE text (without the `RRULE:` prefix), UNTIL in UTC.
    pub fn to_rrule(&self) -> String {
        let mut s = format!(
            "FREQ={};INTERVAL={}",
            self.freq.as_str().to_ascii_uppercase(),
            self.interval
        );
        if !self.by_day.is_empty() {
            let days: Vec<String> = self
                .by_day
                .iter()
                .map(|d| d.trim().to_ascii_uppercase())
                .collect();
            s.push_str(";BYDAY=");
            s.push_str(&days.join(","));
        }
        if let Some(u) = self.until {
            s.push_str(";UNTIL=");
            s.push_str(&format_utc(u));
        }
        if let Some(c) = self.count {
            s.push_str(&format!(";COUNT={c}"));
        }
        s
    }
}

/// Parses RRULE text such as `FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,WE;UNTIL=20261231T235959Z`.
///
/// A date-only or floating UNTIL is read in `tz`; a date means the end of that day. Parts Weft
/// cannot honour (YEARLY, BYMONTHDAY, numbered weekdays…) are refused by name rather than
/// silently giving other dates.
pub fn parse_rrule(s: &str, tz: Tz) -> Result<Recurrence, DomainError> {
    let len = s.chars().count();
    if len > MAX_RRULE_LEN {
        return Err(DomainError::TooLong {
            field: "recurrence rule",
            len,
            max: MAX_RRULE_LEN,
        });
    }
    let mut body = s.trim();
    if body
        .get(..6)
        .is_some_and(|p| p.eq_ignore_ascii_case("RRULE:"))
    {
        body = body.get(6..).unwrap_or_default();
    }
    if body.trim().is_empty() {
        return Err(bad("the rule is empty; expected e.g. FREQ=WEEKLY;BYDAY=MO"));
    }
    let mut freq = None;
    let mut interval = None;
    let mut until = None;
    let mut count = None;
    let mut by_day: Option<Vec<String>> = None;
    let mut wkst = None;
    for part in body.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        let (key, value) = part
            .split_once('=')
            .ok_or_else(|| bad(format!("{:?} is not NAME=VALUE", crate::id::truncate(part))))?;
        let key = key.trim().to_ascii_uppercase();
        let value = value.trim();
        let fresh = match key.as_str() {
            "FREQ" => freq.replace(parse_freq(value)?).is_none(),
            "INTERVAL" => interval.replace(parse_number("INTERVAL", value)?).is_none(),
            "COUNT" => count.replace(parse_number("COUNT", value)?).is_none(),
            "UNTIL" => until.replace(parse_until(value, tz)?).is_none(),
            "BYDAY" => by_day.replace(parse_by_day(value)?).is_none(),
            "WKST" => {
                let d = day_index(value).ok_or_else(|| {
                    bad(format!(
                        "WKST={:?} is not a weekday",
                        crate::id::truncate(value)
                    ))
                })?;
                wkst.replace(d).is_none()
            }
            "BYMONTHDAY" | "BYMONTH" | "BYYEARDAY" | "BYWEEKNO" | "BYSETPOS" | "BYHOUR"
            | "BYMINUTE" | "BYSECOND" | "RSCALE" | "SKIP" => {
                return Err(bad(format!(
                    "{key} is not supported; Weft supports FREQ, INTERVAL, UNTIL, COUNT, BYDAY \
                     and WKST"
                )));
            }
            _ => {
                return Err(bad(format!("unknown part {:?}", crate::id::truncate(&key))));
            }
        };
        if !fresh {
            return Err(bad(format!("{key} is given twice")));
        }
    }
    let mut freq = freq.ok_or_else(|| bad("FREQ is missing"))?;
    let interval = interval.unwrap_or(1);
    let by_day = by_day.unwrap_or_default();
    if !by_day.is_empty() {
        match freq {
            // Every day on chosen weekdays is exactly a weekly rule on those weekdays.
            Frequency::Daily if interval == 1 => freq = Frequency::Weekly,
            Frequency::Daily => {
                return Err(bad(
                    "BYDAY with FREQ=DAILY and INTERVAL > 1 is not supported",
                ));
            }
            Frequency::Monthly => {
                return Err(bad(
                    "BYDAY with FREQ=MONTHLY (e.g. the first Monday) is not supported",
                ));
            }
            Frequency::Weekly => {}
        }
    }
    if let Some(w) = wkst {
        check_week_start(w, freq, interval, &by_day)?;
    }
    let rule = Recurrence {
        freq,
        interval,
        until,
        count,
        by_day,
        exceptions: Vec::new(),
    };
    rule.validate()?;
    Ok(rule)
}

fn parse_freq(value: &str) -> Result<Frequency, DomainError> {
    match value.to_ascii_uppercase().as_str() {
        "DAILY" => Ok(Frequency::Daily),
        "WEEKLY" => Ok(Frequency::Weekly),
        "MONTHLY" => Ok(Frequency::Monthly),
        f @ ("YEARLY" | "HOURLY" | "MINUTELY" | "SECONDLY") => Err(bad(format!(
            "FREQ={f} is not supported; use DAILY, WEEKLY or MONTHLY"
        ))),
        _ => Err(bad(format!(
            "unknown FREQ {:?}; expected DAILY, WEEKLY or MONTHLY",
            crate::id::truncate(value)
        ))),
    }
}

fn parse_number(part: &str, value: &str) -> Result<u32, DomainError> {
    let max = if part == "COUNT" {
        MAX_OCCURRENCES
    } else {
        MAX_INTERVAL as usize
    };
    value
        .parse::<u32>()
        .ok()
        .filter(|n| (1..=max).contains(&(*n as usize)))
        .ok_or_else(|| {
            bad(format!(
                "{part} must be a whole number from 1 to {max}, not {:?}",
                crate::id::truncate(value)
            ))
        })
}

fn parse_until(value: &str, tz: Tz) -> Result<Timestamp, DomainError> {
    let parsed = parse_basic_time(value).and_then(|t| match t {
        // A date UNTIL includes that whole day, which ends one second before the next.
        BasicTime::Date(d) => d
            .succ_opt()
            .and_then(|next| local_to_utc(next.and_time(NaiveTime::MIN), tz))
            .map(|t| Timestamp(t.0.saturating_sub(1000))),
        other => other.resolve(tz),
    });
    parsed.ok_or_else(|| {
        bad(format!(
            "UNTIL {:?} is not a date (YYYYMMDD) or date-time (YYYYMMDDTHHMMSS, Z for UTC)",
            crate::id::truncate(value)
        ))
    })
}

fn parse_by_day(value: &str) -> Result<Vec<String>, DomainError> {
    let mut days: Vec<String> = Vec::new();
    for item in value.split(',').map(str::trim) {
        if item.is_empty() {
            return Err(bad("BYDAY has an empty entry"));
        }
        let Some(i) = day_index(item) else {
            let numbered = item
                .trim_end_matches(|c: char| c.is_ascii_alphabetic())
                .chars()
                .any(|c| c.is_ascii_digit());
            return Err(if numbered {
                bad(format!(
                    "BYDAY={} (a numbered weekday) is not supported",
                    crate::id::truncate(item)
                ))
            } else {
                bad(format!(
                    "BYDAY {:?} is not one of MO, TU, WE, TH, FR, SA, SU",
                    crate::id::truncate(item)
                ))
            });
        };
        let code = DAYS[i as usize];
        // Repeats add nothing, and files from other apps do contain them.
        if !days.iter().any(|d| d == code) {
            days.push(code.to_owned());
        }
    }
    Ok(days)
}

/// Weft's weeks start on Monday. Another WKST changes which days share a week only for weekly
/// rules with INTERVAL > 1 whose days straddle that week start; those are refused, the others
/// expand the same either way.
fn check_week_start(
    wkst: u32,
    freq: Frequency,
    interval: u32,
    by_day: &[String],
) -> Result<(), DomainError> {
    if wkst == 0 || interval == 1 || freq != Frequency::Weekly {
        return Ok(());
    }
    let idx: Vec<u32> = by_day.iter().filter_map(|d| day_index(d)).collect();
    if idx.iter().all(|&i| i >= wkst) || idx.iter().all(|&i| i < wkst) {
        return Ok(());
    }
    Err(bad(format!(
        "WKST={} with INTERVAL > 1 and days on both sides of it is not supported",
        DAYS[wkst as usize]
    )))
}

/// A DATE or DATE-TIME in RFC 5545 basic form (`20261122`, `20261122T090000[Z]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BasicTime {
    Date(NaiveDate),
    Floating(NaiveDateTime),
    Utc(NaiveDateTime),
}

impl BasicTime {
    /// The instant this names: dates at local midnight and floating times read in `tz`.
    pub(crate) fn resolve(self, tz: Tz) -> Option<Timestamp> {
        match self {
            BasicTime::Date(d) => local_to_utc(d.and_time(NaiveTime::MIN), tz),
            BasicTime::Floating(n) => local_to_utc(n, tz),
            BasicTime::Utc(n) => Some(Timestamp(n.and_utc().timestamp_millis())),
        }
    }
}

/// Reads the basic form strictly, byte by byte, so odd input can never split a character.
pub(crate) fn parse_basic_time(s: &str) -> Option<BasicTime> {
    let b = s.trim().as_bytes();
    let num = |from: usize, to: usize| -> Option<u32> {
        let digits = b.get(from..to)?;
        digits.iter().try_fold(0u32, |n, d| {
            d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0'))
        })
    };
    let date = NaiveDate::from_ymd_opt(i32::try_from(num(0, 4)?).ok()?, num(4, 6)?, num(6, 8)?)?;
    match b.len() {
        8 => Some(BasicTime::Date(date)),
        15 | 16 if b[8].eq_ignore_ascii_case(&b'T') => {
            let time = NaiveTime::from_hms_opt(num(9, 11)?, num(11, 13)?, num(13, 15)?)?;
            let naive = date.and_time(time);
            match b.get(15) {
                None => Some(BasicTime::Floating(naive)),
                Some(z) if z.eq_ignore_ascii_case(&b'Z') => Some(BasicTime::Utc(naive)),
                Some(_) => None,
            }
        }
        _ => None,
    }
}

/// `YYYYMMDDTHHMMSSZ`, the UTC basic form.
pub(crate) fn format_utc(t: Timestamp) -> String {
    t.to_utc().format("%Y%m%dT%H%M%SZ").to_string()
}

/// The wall-clock time of `t` in `tz`, if chrono can represent it.
pub(crate) fn local_naive(t: Timestamp, tz: Tz) -> Option<NaiveDateTime> {
    Utc.timestamp_millis_opt(t.0)
        .single()
        .map(|u| u.with_timezone(&tz).naive_local())
}

/// Whether an occurrence meets `[from, to)`; an instant counts when it lies inside.
fn overlaps((s, e): (Timestamp, Timestamp), from: Timestamp, to: Timestamp) -> bool {
    if e <= s {
        from <= s && s < to
    } else {
        s < to && e > from
    }
}

/// Occurrences `(start, end)` of an event that overlap `[from, to)`, sorted, at most
/// `min(max, MAX_OCCURRENCES)`.
///
/// Repeats keep the wall-clock time of `start` in `tz`, so a 09:00 meeting stays at 09:00
/// across daylight-saving changes; a time that does not exist that day moves later, an
/// ambiguous one takes the earlier instant. Each occurrence lasts `duration_ms`, except that a
/// whole number of wall-clock days (an all-day event) is added as calendar days, so it still
/// ends at midnight on a day that is 23 or 25 hours long. COUNT includes excepted occurrences;
/// a weekly rule with days starts at the first listed day on or after `start`; a monthly rule
/// skips months without the start's day.
pub fn occurrences(
    start: Timestamp,
    duration_ms: i64,
    tz: Tz,
    rule: Option<&Recurrence>,
    from: Timestamp,
    to: Timestamp,
    max: usize,
) -> Vec<(Timestamp, Timestamp)> {
    let limit = max.min(MAX_OCCURRENCES);
    let duration = duration_ms.max(0);
    let first = (start, Timestamp(start.0.saturating_add(duration)));
    if limit == 0 || from >= to {
        return Vec::new();
    }
    let Some(rule) = rule else {
        return if overlaps(first, from, to) {
            vec![first]
        } else {
            Vec::new()
        };
    };
    let Some(expander) = Expander::new(rule, start, duration, tz) else {
        // A start outside chrono's calendar cannot repeat; the event itself still happens.
        let keep =
            overlaps(first, from, to) && rule.count != Some(0) && !rule.exceptions.contains(&start);
        return if keep { vec![first] } else { Vec::new() };
    };
    let mut out = expander.run(from, to, limit);
    // Already in order for every real zone; this only guards historical offset oddities.
    out.sort_unstable();
    out.dedup_by_key(|o| o.0);
    out
}

/// One rule being expanded from one start.
struct Expander<'a> {
    rule: &'a Recurrence,
    tz: Tz,
    start: Timestamp,
    start_local: NaiveDateTime,
    /// Monday of the start's week, the anchor of weekly periods.
    week0: NaiveDate,
    duration: i64,
    /// The duration in calendar days, when it is a whole number of wall-clock days.
    whole_days: Option<u64>,
    interval: u32,
    /// Weekly rules: Monday-based weekday indexes, ascending.
    weekdays: Vec<u32>,
}

impl<'a> Expander<'a> {
    fn new(rule: &'a Recurrence, start: Timestamp, duration: i64, tz: Tz) -> Option<Self> {
        let start_local = local_naive(start, tz)?;
        let date = start_local.date();
        let offset = date.weekday().num_days_from_monday();
        let week0 = date.checked_sub_days(Days::new(u64::from(offset)))?;
        let whole_days = local_naive(Timestamp(start.0.saturating_add(duration)), tz)
            .map(|end| (end - start_local).num_milliseconds())
            .filter(|wall| *wall > 0 && wall % DAY_MS == 0)
            .and_then(|wall| u64::try_from(wall / DAY_MS).ok());
        // Invalid entries are skipped rather than trusted: expansion must work on any input.
        let mut weekdays: Vec<u32> = rule.by_day.iter().filter_map(|d| day_index(d)).collect();
        weekdays.sort_unstable();
        weekdays.dedup();
        if weekdays.is_empty() {
            weekdays.push(offset);
        }
        Some(Expander {
            rule,
            tz,
            start,
            start_local,
            week0,
            duration,
            whole_days,
            interval: rule.interval.clamp(1, MAX_INTERVAL),
            weekdays,
        })
    }

    /// The candidate dates of period `k` into `out`; false once dates leave chrono's range.
    fn period(&self, k: u64, out: &mut Vec<NaiveDate>) -> bool {
        out.clear();
        let Some(step) = k.checked_mul(u64::from(self.interval)) else {
            return false;
        };
        let d0 = self.start_local.date();
        match self.rule.freq {
            Frequency::Daily => match d0.checked_add_days(Days::new(step)) {
                Some(d) => out.push(d),
                None => return false,
            },
            Frequency::Weekly => {
                let monday = step
                    .checked_mul(7)
                    .and_then(|n| self.week0.checked_add_days(Days::new(n)));
                let Some(monday) = monday else {
                    return false;
                };
                out.extend(
                    self.weekdays
                        .iter()
                        .filter_map(|&i| monday.checked_add_days(Days::new(u64::from(i)))),
                );
            }
            Frequency::Monthly => {
                let month = i64::try_from(step)
                    .ok()
                    .and_then(|s| month_number(d0).checked_add(s));
                let Some(month) = month else {
                    return false;
                };
                let Ok(year) = i32::try_from(month.div_euclid(12)) else {
                    return false;
                };
                if year > NaiveDate::MAX.year() {
                    return false;
                }
                let m = u32::try_from(month.rem_euclid(12) + 1).unwrap_or(1);
                // Months without the start's day (the 31st, 29 February) have no occurrence.
                out.extend(NaiveDate::from_ymd_opt(year, m, d0.day()));
            }
        }
        true
    }

    /// The first period that can reach `from`, or None when no date is late enough.
    fn first_period(&self, from: Timestamp) -> Option<u64> {
        // Occurrences starting before this cannot reach `from`; two days of slack cover the
        // difference between wall-clock and absolute durations.
        let floor = from
            .0
            .saturating_sub(self.duration)
            .saturating_sub(2 * DAY_MS);
        if floor <= self.start.0 {
            return Some(0);
        }
        let day = local_naive(Timestamp(floor), self.tz)?.date();
        let d0 = self.start_local.date();
        let units = match self.rule.freq {
            Frequency::Daily => (day - d0).num_days(),
            Frequency::Weekly => (day - self.week0).num_days() / 7,
            Frequency::Monthly => month_number(day) - month_number(d0),
        };
        // One period earlier still, so that rounding can never skip a candidate.
        Some(u64::try_from(units / i64::from(self.interval) - 1).unwrap_or(0))
    }

    fn end_of(&self, naive: NaiveDateTime, s: Timestamp) -> Timestamp {
        let absolute = Timestamp(s.0.saturating_add(self.duration));
        match self.whole_days {
            Some(days) => naive
                .checked_add_days(Days::new(days))
                .and_then(|end| local_to_utc(end, self.tz))
                .filter(|end| *end >= s)
                .unwrap_or(absolute),
            None => absolute,
        }
    }

    fn run(&self, from: Timestamp, to: Timestamp, limit: usize) -> Vec<(Timestamp, Timestamp)> {
        let count = self.rule.count.map(|c| {
            usize::try_from(c)
                .unwrap_or(usize::MAX)
                .min(MAX_OCCURRENCES)
        });
        // Without COUNT nothing depends on earlier occurrences, so far ranges jump ahead.
        let mut k = match count {
            Some(_) => 0,
            None => match self.first_period(from) {
                Some(k) => k,
                None => return Vec::new(),
            },
        };
        let exceptions: BTreeSet<Timestamp> = self.rule.exceptions.iter().copied().collect();
        let start_date = self.start_local.date();
        let time = self.start_local.time();
        let mut out = Vec::new();
        let mut seen = 0usize;
        let mut dates = Vec::with_capacity(7);
        for _ in 0..MAX_PERIODS {
            if !self.period(k, &mut dates) {
                break;
            }
            for &date in &dates {
                if date < start_date {
                    continue;
                }
                if count.is_some_and(|c| seen >= c) {
                    return out;
                }
                let naive = date.and_time(time);
                let (s, e) = if naive == self.start_local {
                    (
                        self.start,
                        Timestamp(self.start.0.saturating_add(self.duration)),
                    )
                } else {
                    match local_to_utc(naive, self.tz) {
                        Some(s) => (s, self.end_of(naive, s)),
                        None => continue,
                    }
                };
                if self.rule.until.is_some_and(|u| s > u) || s >= to {
                    return out;
                }
                seen += 1;
                if exceptions.contains(&s) || !overlaps((s, e), from, to) {
                    continue;
                }
                out.push((s, e));
                if out.len() >= limit {
                    return out;
                }
            }
            k = match k.checked_add(1) {
                Some(k) => k,
                None => break,
            };
        }
        out
    }
}

/// Months since year 0, for month arithmetic across years.
fn month_number(d: NaiveDate) -> i64 {
    i64::from(d.year()) * 12 + i64::from(d.month0())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn tz(name: &str) -> Tz {
        crate::time::parse_tz(name).unwrap()
    }

    fn at(s: &str, zone: Tz) -> Timestamp {
        Timestamp::parse(s, zone).unwrap()
    }

    fn utc(s: &str) -> Timestamp {
        at(s, chrono_tz::UTC)
    }

    fn starts(occ: &[(Timestamp, Timestamp)]) -> Vec<String> {
        occ.iter().map(|(s, _)| s.to_string()).collect()
    }

    fn rule(freq: Frequency) -> Recurrence {
        Recurrence {
            freq,
            ..Recurrence::default()
        }
    }

    const HOUR: i64 = 3_600_000;
    const ALL: usize = MAX_OCCURRENCES;

    #[test]
    fn single_event_without_rule() {
        let s = utc("2026-05-01T10:00:00Z");
        let occ = occurrences(
            s,
            HOUR,
            chrono_tz::UTC,
            None,
            Timestamp(0),
            utc("2027-01-01"),
            5,
        );
        assert_eq!(occ, vec![(s, s.plus_minutes(60))]);
        let after = occurrences(
            s,
            HOUR,
            chrono_tz::UTC,
            None,
            s.plus_minutes(60),
            utc("2027-01-01"),
            5,
        );
        assert!(after.is_empty());
        assert!(
            occurrences(
                s,
                HOUR,
                chrono_tz::UTC,
                None,
                Timestamp(0),
                utc("2027-01-01"),
                0
            )
            .is_empty()
        );
    }

    #[test]
    fn berlin_weekly_stays_at_nine_across_both_dst_changes() {
        let berlin = tz("Europe/Berlin");
        // Monday before the switch to summer time on 29 March 2026.
        let start = at("2026-03-23T09:00", berlin);
        let r = Recurrence {
            count: Some(3),
            ..rule(Frequency::Weekly)
        };
        let occ = occurrences(start, HOUR, berlin, Some(&r), start, utc("2027-01-01"), ALL);
        assert_eq!(
            starts(&occ),
            [
                "2026-03-23T08:00:00Z",
                "2026-03-30T07:00:00Z",
                "2026-04-06T07:00:00Z"
            ]
        );
        // Back to winter time on 25 October 2026.
        let start = at("2026-10-19T09:00", berlin);
        let occ = occurrences(start, HOUR, berlin, Some(&r), start, utc("2027-01-01"), ALL);
        assert_eq!(
            starts(&occ),
            [
                "2026-10-19T07:00:00Z",
                "2026-10-26T08:00:00Z",
                "2026-11-02T08:00:00Z"
            ]
        );
        assert!(occ.iter().all(|(s, e)| e.0 - s.0 == HOUR));
    }

    #[test]
    fn new_york_daily_handles_the_gap_and_the_overlap() {
        let ny = tz("America/New_York");
        let start = at("2026-10-30T09:00", ny);
        let r = rule(Frequency::Daily);
        let occ = occurrences(
            start,
            HOUR,
            ny,
            Some(&r),
            start,
            at("2026-11-03T00:00", ny),
            ALL,
        );
        assert_eq!(
            starts(&occ),
            [
                "2026-10-30T13:00:00Z",
                "2026-10-31T13:00:00Z",
                "2026-11-01T14:00:00Z",
                "2026-11-02T14:00:00Z"
            ]
        );
        // 02:30 does not exist on 8 March 2026; that day's occurrence moves to 03:30 EDT.
        let start = at("2026-03-07T02:30", ny);
        let occ = occurrences(
            start,
            HOUR,
            ny,
            Some(&r),
            start,
            at("2026-03-10T00:00", ny),
            ALL,
        );
        assert_eq!(
            starts(&occ),
            [
                "2026-03-07T07:30:00Z",
                "2026-03-08T07:30:00Z",
                "2026-03-09T06:30:00Z"
            ]
        );
        // 01:30 happens twice on 1 November 2026; the earlier (EDT) one is taken.
        let start = at("2026-10-31T01:30", ny);
        let occ = occurrences(
            start,
            HOUR,
            ny,
            Some(&r),
            start,
            at("2026-11-02T00:00", ny),
            ALL,
        );
        assert_eq!(
            starts(&occ),
            ["2026-10-31T05:30:00Z", "2026-11-01T05:30:00Z"]
        );
    }

    #[test]
    fn all_day_occurrences_end_at_midnight_on_short_days() {
        let berlin = tz("Europe/Berlin");
        let start = at("2026-03-22T00:00", berlin);
        let end = at("2026-03-23T00:00", berlin);
        let r = rule(Frequency::Weekly);
        let occ = occurrences(
            start,
            end.0 - start.0,
            berlin,
            Some(&r),
            start,
            at("2026-04-01", berlin),
            ALL,
        );
        assert_eq!(occ.len(), 2);
        assert_eq!(occ[1].0, at("2026-03-29T00:00", berlin));
        assert_eq!(occ[1].1, at("2026-03-30T00:00", berlin));
        assert_eq!(occ[1].1.0 - occ[1].0.0, 23 * HOUR);
    }

    #[test]
    fn until_is_inclusive() {
        let start = utc("2026-01-01T10:00:00Z");
        let r = Recurrence {
            until: Some(utc("2026-01-03T10:00:00Z")),
            ..rule(Frequency::Daily)
        };
        let occ = occurrences(
            start,
            HOUR,
            chrono_tz::UTC,
            Some(&r),
            start,
            utc("2027-01-01"),
            ALL,
        );
        assert_eq!(occ.len(), 3);
        // A date UNTIL includes the whole day, in the event's zone.
        let berlin = tz("Europe/Berlin");
        let start = at("2026-01-01T23:30", berlin);
        let r = parse_rrule("FREQ=DAILY;UNTIL=20260103", berlin).unwrap();
        let occ = occurrences(start, HOUR, berlin, Some(&r), start, utc("2027-01-01"), ALL);
        assert_eq!(occ.len(), 3);
        assert_eq!(occ[2].0, at("2026-01-03T23:30", berlin));
    }

    #[test]
    fn count_counts_from_the_first_and_includes_exceptions() {
        let start = utc("2026-01-01T10:00:00Z");
        let mut r = Recurrence {
            count: Some(5),
            ..rule(Frequency::Daily)
        };
        let all = occurrences(
            start,
            HOUR,
            chrono_tz::UTC,
            Some(&r),
            Timestamp(0),
            utc("2030-01-01"),
            ALL,
        );
        assert_eq!(all.len(), 5);
        assert_eq!(all[4].0, utc("2026-01-05T10:00:00Z"));
        let later = occurrences(
            start,
            HOUR,
            chrono_tz::UTC,
            Some(&r),
            utc("2026-01-03T12:00:00Z"),
            utc("2030-01-01"),
            ALL,
        );
        assert_eq!(
            starts(&later),
            ["2026-01-04T10:00:00Z", "2026-01-05T10:00:00Z"]
        );
        r.exceptions = vec![utc("2026-01-02T10:00:00Z"), utc("2026-01-02T11:00:00Z")];
        let occ = occurrences(
            start,
            HOUR,
            chrono_tz::UTC,
            Some(&r),
            Timestamp(0),
            utc("2030-01-01"),
            ALL,
        );
        assert_eq!(
            starts(&occ),
            [
                "2026-01-01T10:00:00Z",
                "2026-01-03T10:00:00Z",
                "2026-01-04T10:00:00Z",
                "2026-01-05T10:00:00Z"
            ]
        );
    }

    #[test]
    fn every_second_week_on_listed_days_never_before_start() {
        // Wednesday 7 January 2026: that week's Monday is before the start.
        let start = utc("2026-01-07T09:00:00Z");
        let r = parse_rrule("FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,WE;COUNT=5", chrono_tz::UTC).unwrap();
        let occ = occurrences(
            start,
            HOUR,
            chrono_tz::UTC,
            Some(&r),
            Timestamp(0),
            utc("2030-01-01"),
            ALL,
        );
        assert_eq!(
            starts(&occ),
            [
                "2026-01-07T09:00:00Z",
                "2026-01-19T09:00:00Z",
                "2026-01-21T09:00:00Z",
                "2026-02-02T09:00:00Z",
                "2026-02-04T09:00:00Z"
            ]
        );
        // A Tuesday start that is not a listed day begins at the Wednesday.
        let start = utc("2026-01-06T09:00:00Z");
        let occ = occurrences(
            start,
            HOUR,
            chrono_tz::UTC,
            Some(&r),
            Timestamp(0),
            utc("2030-01-01"),
            2,
        );
        assert_eq!(
            starts(&occ),
            ["2026-01-07T09:00:00Z", "2026-01-19T09:00:00Z"]
        );
    }

    #[test]
    fn monthly_on_the_31st_skips_short_months() {
        let start = utc("2026-01-31T12:00:00Z");
        let r = Recurrence {
            count: Some(4),
            ..rule(Frequency::Monthly)
        };
        let occ = occurrences(
            start,
            HOUR,
            chrono_tz::UTC,
            Some(&r),
            Timestamp(0),
            utc("2030-01-01"),
            ALL,
        );
        assert_eq!(
            starts(&occ),
            [
                "2026-01-31T12:00:00Z",
                "2026-03-31T12:00:00Z",
                "2026-05-31T12:00:00Z",
                "2026-07-31T12:00:00Z"
            ]
        );
    }

    #[test]
    fn exceptions_skip_matching_starts() {
        let start = utc("2026-01-05T09:00:00Z");
        let r = Recurrence {
            exceptions: vec![utc("2026-01-12T09:00:00Z")],
            ..rule(Frequency::Weekly)
        };
        let occ = occurrences(
            start,
            HOUR,
            chrono_tz::UTC,
            Some(&r),
            start,
            utc("2026-01-27"),
            ALL,
        );
        assert_eq!(
            starts(&occ),
            [
                "2026-01-05T09:00:00Z",
                "2026-01-19T09:00:00Z",
                "2026-01-26T09:00:00Z"
            ]
        );
    }

    #[test]
    fn range_filtering_uses_overlap() {
        let start = utc("2026-01-01T10:00:00Z");
        let r = rule(Frequency::Daily);
        // From the middle of day 2's meeting up to exactly day 4's start.
        let occ = occurrences(
            start,
            HOUR,
            chrono_tz::UTC,
            Some(&r),
            utc("2026-01-02T10:30:00Z"),
            utc("2026-01-04T10:00:00Z"),
            ALL,
        );
        assert_eq!(
            starts(&occ),
            ["2026-01-02T10:00:00Z", "2026-01-03T10:00:00Z"]
        );
        // Ending exactly at `from` is not overlapping.
        let occ = occurrences(
            start,
            HOUR,
            chrono_tz::UTC,
            Some(&r),
            utc("2026-01-02T11:00:00Z"),
            utc("2026-01-03T00:00:00Z"),
            ALL,
        );
        assert!(occ.is_empty());
        // A zero-length occurrence counts when it starts at `from`.
        let occ = occurrences(
            start,
            0,
            chrono_tz::UTC,
            Some(&r),
            utc("2026-01-02T10:00:00Z"),
            utc("2026-01-02T10:00:01Z"),
            ALL,
        );
        assert_eq!(starts(&occ), ["2026-01-02T10:00:00Z"]);
        // `max` caps the answer; an empty range gives nothing.
        let occ = occurrences(
            start,
            HOUR,
            chrono_tz::UTC,
            Some(&r),
            start,
            utc("2030-01-01"),
            3,
        );
        assert_eq!(occ.len(), 3);
        assert!(
            occurrences(
                start,
                HOUR,
                chrono_tz::UTC,
                Some(&r),
                utc("2027-01-01"),
                utc("2026-01-01"),
                ALL
            )
            .is_empty()
        );
        let huge = occurrences(
            start,
            HOUR,
            chrono_tz::UTC,
            Some(&r),
            Timestamp(i64::MIN),
            Timestamp(i64::MAX),
            usize::MAX,
        );
        assert_eq!(huge.len(), MAX_OCCURRENCES);
    }

    #[test]
    fn far_future_ranges_jump_ahead() {
        let berlin = tz("Europe/Berlin");
        let start = at("2020-01-06T09:00", berlin);
        let clock = std::time::Instant::now();
        for freq in [Frequency::Daily, Frequency::Weekly, Frequency::Monthly] {
            let r = rule(freq);
            let from = at("2999-06-01T00:00", berlin);
            let to = at("2999-08-01T00:00", berlin);
            let occ = occurrences(start, HOUR, berlin, Some(&r), from, to, ALL);
            let expected = match freq {
                Frequency::Daily => 61,
                Frequency::Weekly => 9,
                Frequency::Monthly => 2,
            };
            assert_eq!(occ.len(), expected, "{freq}");
            for (s, _) in &occ {
                assert!(*s >= from && *s < to);
                assert_eq!(
                    local_naive(*s, berlin).unwrap().time(),
                    NaiveTime::from_hms_opt(9, 0, 0).unwrap()
                );
            }
        }
        // Beyond anything chrono can place on a calendar there is simply nothing.
        let occ = occurrences(
            start,
            HOUR,
            berlin,
            Some(&rule(Frequency::Daily)),
            Timestamp(i64::MAX - 10),
            Timestamp(i64::MAX),
            ALL,
        );
        assert!(occ.is_empty());
        assert!(clock.elapsed() < std::time::Duration::from_secs(2));
    }

    #[test]
    fn corrupt_rules_still_expand_boundedly() {
        let start = utc("2026-01-01T10:00:00Z");
        let r = Recurrence {
            interval: 0,
            count: Some(u32::MAX),
            until: Some(utc("2026-01-03T10:00:00Z")),
            by_day: vec!["XX".into(), "mo".into()],
            ..rule(Frequency::Daily)
        };
        let occ = occurrences(
            start,
            HOUR,
            chrono_tz::UTC,
            Some(&r),
            Timestamp(0),
            utc("2030-01-01"),
            ALL,
        );
        assert_eq!(occ.len(), 3);
        let r = Recurrence {
            count: Some(0),
            ..rule(Frequency::Daily)
        };
        assert!(
            occurrences(
                start,
                HOUR,
                chrono_tz::UTC,
                Some(&r),
                Timestamp(0),
                utc("2030-01-01"),
                ALL
            )
            .is_empty()
        );
        // Feb 29 every 1000 months comes round only every 24 periods.
        let r = Recurrence {
            interval: MAX_INTERVAL,
            ..rule(Frequency::Monthly)
        };
        let leap = utc("2000-02-29T10:00:00Z");
        let occ = occurrences(
            leap,
            HOUR,
            chrono_tz::UTC,
            Some(&r),
            Timestamp(i64::MIN),
            Timestamp(i64::MAX),
            ALL,
        );
        assert!(occ.len() > 1 && occ.len() < MAX_OCCURRENCES);
        assert!(occ.windows(2).all(|w| w[0].0 < w[1].0));
    }

    #[test]
    fn rrule_round_trips() {
        let berlin = tz("Europe/Berlin");
        for text in [
            "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,WE;UNTIL=20261231T235959Z",
            "FREQ=DAILY;INTERVAL=1;COUNT=10",
            "FREQ=MONTHLY;INTERVAL=3",
            "FREQ=WEEKLY;INTERVAL=1;BYDAY=SU",
        ] {
            let r = parse_rrule(text, berlin).unwrap();
            assert_eq!(r.to_rrule(), text);
            assert_eq!(parse_rrule(&r.to_rrule(), berlin).unwrap(), r);
        }
        let r = parse_rrule(
            "RRULE:freq=weekly;byday=we,mo;until=20261231T100000;",
            berlin,
        )
        .unwrap();
        assert_eq!(r.by_day, ["WE", "MO"]);
        assert_eq!(r.until, Some(utc("2026-12-31T09:00:00Z")));
        assert_eq!(
            r.to_rrule(),
            "FREQ=WEEKLY;INTERVAL=1;BYDAY=WE,MO;UNTIL=20261231T090000Z"
        );
        let r = parse_rrule("FREQ=DAILY;UNTIL=20261231", berlin).unwrap();
        assert_eq!(parse_rrule(&r.to_rrule(), berlin).unwrap(), r);
        // Weekdays every day is a weekly rule; Sunday week starts are harmless here.
        let r = parse_rrule("FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR", berlin).unwrap();
        assert_eq!(r.freq, Frequency::Weekly);
        assert!(parse_rrule("FREQ=WEEKLY;WKST=SU;INTERVAL=2;BYDAY=TU,TH", berlin).is_ok());
    }

    #[test]
    fn hostile_rules_are_clear_errors() {
        let long = format!("FREQ=DAILY;{}", "INTERVAL=1;".repeat(100));
        let cases: &[(&str, &str)] = &[
            ("", "empty"),
            ("   ", "empty"),
            ("RRULE:", "empty"),
            ("garbage", "NAME=VALUE"),
            ("\u{0}\u{ff}é=ü", "unknown part"),
            ("FREQ=YEARLY", "YEARLY"),
            ("FREQ=HOURLY", "HOURLY"),
            ("FREQ=FORTNIGHTLY", "unknown FREQ"),
            ("INTERVAL=2", "FREQ is missing"),
            ("FREQ=DAILY;INTERVAL=0", "INTERVAL"),
            ("FREQ=DAILY;INTERVAL=99999999999", "INTERVAL"),
            ("FREQ=DAILY;INTERVAL=1001", "INTERVAL"),
            ("FREQ=DAILY;INTERVAL=-1", "INTERVAL"),
            ("FREQ=DAILY;COUNT=0", "COUNT"),
            ("FREQ=DAILY;COUNT=10001", "COUNT"),
            ("FREQ=DAILY;COUNT=3;UNTIL=20261231", "UNTIL and COUNT"),
            ("FREQ=DAILY;UNTIL=20261345T250000", "UNTIL"),
            ("FREQ=DAILY;UNTIL=2026é1231", "UNTIL"),
            ("FREQ=MONTHLY;BYMONTHDAY=15", "BYMONTHDAY"),
            ("FREQ=MONTHLY;BYDAY=1MO", "BYDAY"),
            ("FREQ=WEEKLY;BYDAY=-1FR", "numbered"),
            ("FREQ=WEEKLY;BYDAY=XX", "BYDAY"),
            ("FREQ=WEEKLY;BYDAY=", "empty entry"),
            ("FREQ=WEEKLY;FREQ=DAILY", "twice"),
            ("FREQ=WEEKLY;X-NAME=1", "unknown part"),
            ("FREQ=WEEKLY;WKST=SU;INTERVAL=2;BYDAY=SU,MO", "WKST"),
        ];
        for (text, needle) in cases {
            let err = parse_rrule(text, chrono_tz::UTC).unwrap_err();
            assert!(
                matches!(err, DomainError::BadRecurrence(_)) && err.to_string().contains(needle),
                "{text:?} gave {err}"
            );
        }
        assert!(matches!(
            parse_rrule(&long, chrono_tz::UTC),
            Err(DomainError::TooLong {
                max: MAX_RRULE_LEN,
                ..
            })
        ));
    }

    #[test]
    fn validate_enforces_the_limits() {
        assert!(rule(Frequency::Weekly).validate().is_ok());
        let bad_rules = [
            Recurrence {
                interval: 0,
                ..rule(Frequency::Daily)
            },
            Recurrence {
                interval: MAX_INTERVAL + 1,
                ..rule(Frequency::Daily)
            },
            Recurrence {
                count: Some(0),
                ..rule(Frequency::Daily)
            },
            Recurrence {
                count: Some(2),
                until: Some(Timestamp(0)),
                ..rule(Frequency::Daily)
            },
            Recurrence {
                by_day: vec!["MO".into()],
                ..rule(Frequency::Monthly)
            },
            Recurrence {
                by_day: vec!["MON".into()],
                ..rule(Frequency::Weekly)
            },
            Recurrence {
                by_day: vec!["MO".into(), "mo".into()],
                ..rule(Frequency::Weekly)
            },
            Recurrence {
                exceptions: vec![Timestamp(0); MAX_OCCURRENCES + 1],
                ..rule(Frequency::Weekly)
            },
        ];
        for r in bad_rules {
            assert!(
                matches!(r.validate(), Err(DomainError::BadRecurrence(_))),
                "{r:?}"
            );
        }
    }

    fn zone() -> impl Strategy<Value = Tz> {
        prop::sample::select(vec![
            chrono_tz::UTC,
            chrono_tz::Europe::Berlin,
            chrono_tz::America::New_York,
            chrono_tz::Australia::Lord_Howe,
            chrono_tz::Asia::Kolkata,
        ])
    }

    fn valid_rule() -> impl Strategy<Value = Recurrence> {
        (
            prop::sample::select(Frequency::ALL.to_vec()),
            1u32..=30,
            prop::option::of(1u32..=200),
            prop::option::of(946_684_800_000i64..1_900_000_000_000),
            prop::collection::vec(0usize..7, 0..4),
            prop::collection::vec(946_684_800_000i64..1_900_000_000_000, 0..5),
        )
            .prop_map(|(freq, interval, count, until, days, exceptions)| {
                let mut by_day: Vec<String> = Vec::new();
                if freq == Frequency::Weekly {
                    for d in days {
                        if !by_day.iter().any(|x| x == DAYS[d]) {
                            by_day.push(DAYS[d].into());
                        }
                    }
                }
                Recurrence {
                    freq,
                    interval,
                    until: if count.is_some() {
                        None
                    } else {
                        until.map(Timestamp)
                    },
                    count,
                    by_day,
                    exceptions: exceptions
                        .into_iter()
                        .map(|e| Timestamp(e - e % 60_000))
                        .collect(),
                }
            })
    }

    proptest! {
        #[test]
        fn expansions_are_sorted_unique_bounded_and_in_range(
            r in valid_rule(),
            zone in zone(),
            start in 946_684_800_000i64..1_900_000_000_000,
            duration in prop::sample::select(vec![0i64, 1_800_000, HOUR, DAY_MS, 3 * DAY_MS]),
            from in 946_684_800_000i64..1_900_000_000_000,
            span in 0i64..(3 * 365 * 86_400_000),
            max in 0usize..100,
            picks in prop::collection::vec(0usize..50, 0..5),
        ) {
            let mut r = r;
            let start = Timestamp(start - start % 60_000);
            // Except some real occurrences, as users do, besides the random instants.
            let base = occurrences(start, duration, zone, Some(&r), start, Timestamp(i64::MAX), 50);
            for i in picks {
                if let Some(o) = base.get(i) {
                    r.exceptions.push(o.0);
                }
            }
            prop_assert!(r.validate().is_ok());
            let (from, to) = (Timestamp(from), Timestamp(from + span));
            let occ = occurrences(start, duration, zone, Some(&r), from, to, max);
            prop_assert!(occ.len() <= max);
            prop_assert!(occ.windows(2).all(|w| w[0].0 < w[1].0));
            for &o in &occ {
                prop_assert!(overlaps(o, from, to), "{o:?} outside {from}..{to}");
                prop_assert!(o.1 >= o.0);
                prop_assert!(o.0 >= start);
                prop_assert!(!r.exceptions.contains(&o.0));
                prop_assert!(r.until.is_none_or(|u| o.0 <= u));
            }
            // Jumping ahead must agree with walking from the start.
            let walked = occurrences(start, duration, zone, Some(&r), start, to, MAX_OCCURRENCES);
            if walked.len() < MAX_OCCURRENCES {
                let expected: Vec<_> =
                    walked.into_iter().filter(|&o| overlaps(o, from, to)).take(max).collect();
                prop_assert_eq!(occ, expected);
            }
            // The rule text round-trips.
            let back = parse_rrule(&r.to_rrule(), zone).unwrap();
            prop_assert_eq!(back.to_rrule(), r.to_rrule());
        }
    }
}
