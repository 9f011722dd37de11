//! ICS (RFC 5545) import and export of events: the VEVENT subset Weft keeps.
//!
//! Import is forgiving about what it does not use (unknown properties, VTIMEZONE blocks,
//! attendees) and strict about what it does: a date, zone or rule it cannot read exactly is an
//! error naming the event, because a silently shifted meeting is worse than a refused file.

use crate::recurrence::{BasicTime, format_utc, local_naive, parse_basic_time, parse_rrule};
use crate::time::{local_to_utc, parse_tz};
use crate::{DomainError, Event, EventType, Reminder, Timestamp};
use chrono::{Days, NaiveDate, NaiveDateTime, NaiveTime};
use chrono_tz::Tz;
use std::collections::HashMap;

/// Largest ICS text [`parse`] accepts.
pub const MAX_ICS_BYTES: usize = 10 * 1024 * 1024;
/// Most VEVENTs one file may hold.
pub const MAX_ICS_EVENTS: usize = 50_000;
/// Deepest component nesting read; real files use three levels (calendar, event, alarm).
const MAX_DEPTH: usize = 16;
/// Folded line length in octets, from RFC 5545 section 3.1.
const LINE_OCTETS: usize = 75;
/// Weft's own property carrying the zone of events whose times cannot name it (all-day dates).
const X_ZONE: &str = "X-WEFT-TIMEZONE";
/// Title given to events that have none, as calendar apps show them.
const NO_TITLE: &str = "(No title)";

fn bad(msg: impl Into<String>) -> DomainError {
    DomainError::BadIcs(msg.into())
}

/// One content line after unfolding: `NAME;PARAM=VALUE:value`.
struct Line<'a> {
    name: String,
    params: Vec<(String, String)>,
    value: &'a str,
}

/// A property kept for later, when the whole event is known.
#[derive(Debug, Clone)]
struct Prop {
    params: Vec<(String, String)>,
    value: String,
}

impl Prop {
    fn from_line(l: &Line<'_>) -> Prop {
        Prop {
            params: l.params.clone(),
            value: l.value.to_owned(),
        }
    }

    fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.trim())
    }
}

/// A VEVENT's properties as read, before they are checked and combined.
#[derive(Debug, Default)]
struct RawEvent {
    /// 1-based position among the file's VEVENTs, for error messages.
    index: usize,
    uid: Option<String>,
    summary: Option<String>,
    description: Option<String>,
    location: Option<String>,
    dtstart: Option<Prop>,
    dtend: Option<Prop>,
    duration: Option<Prop>,
    recurrence_id: Option<Prop>,
    rrule: Option<String>,
    exdates: Vec<Prop>,
    categories: Vec<String>,
    cancelled: bool,
    zone: Option<String>,
    reminders: Vec<u32>,
}

impl RawEvent {
    /// How error messages name this event.
    fn which(&self) -> String {
        match &self.uid {
            Some(uid) => format!("event {} (UID {})", self.index, crate::id::truncate(uid)),
            None => format!("event {}", self.index),
        }
    }

    /// Records one property; the first of a repeated single-valued property wins.
    fn add(&mut self, l: &Line<'_>) {
        let text = || Some(unescape(l.value));
        match l.name.as_str() {
            "UID" => {
                self.uid = self
                    .uid
                    .take()
                    .or_else(|| text().map(|u| u.trim().to_owned()))
            }
            "SUMMARY" => self.summary = self.summary.take().or_else(text),
            "DESCRIPTION" => self.description = self.description.take().or_else(text),
            "LOCATION" => self.location = self.location.take().or_else(text),
            "DTSTART" => self.dtstart = self.dtstart.take().or(Some(Prop::from_line(l))),
            "DTEND" => self.dtend = self.dtend.take().or(Some(Prop::from_line(l))),
            "DURATION" => self.duration = self.duration.take().or(Some(Prop::from_line(l))),
            "RECURRENCE-ID" => {
                self.recurrence_id = self.recurrence_id.take().or(Some(Prop::from_line(l)));
            }
            "RRULE" => self.rrule = self.rrule.take().or(Some(l.value.to_owned())),
            "EXDATE" => self.exdates.push(Prop::from_line(l)),
            "CATEGORIES" => self.categories.extend(split_list(l.value)),
            "STATUS" => self.cancelled = l.value.trim().eq_ignore_ascii_case("CANCELLED"),
            X_ZONE => self.zone = Some(l.value.trim().to_owned()),
            _ => {}
        }
    }
}

/// An event as built from the file, before overrides are merged and it is validated.
struct Parsed {
    event: Event,
    which: String,
    /// RECURRENCE-ID: this VEVENT replaces one occurrence of the event with the same UID.
    replaces: Option<Timestamp>,
}

/// Parses ICS text into events; times without a zone are read in `default_tz`.
///
/// Each VEVENT becomes an [`Event`] checked with [`Event::validate`]; the first problem fails
/// the whole import with an error naming the event. A VEVENT with RECURRENCE-ID (one changed
/// occurrence of a series, as Google Calendar writes them) becomes an exception of its series
/// plus, unless cancelled, a separate event whose `ics_uid` is `<UID>#<original start>`.
pub fn parse(text: &str, default_tz: Tz) -> Result<Vec<Event>, DomainError> {
    if text.len() > MAX_ICS_BYTES {
        return Err(DomainError::TooLong {
            field: "ICS file (bytes)",
            len: text.len(),
            max: MAX_ICS_BYTES,
        });
    }
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut stack: Vec<String> = Vec::new();
    let mut seen_calendar = false;
    let mut current: Option<RawEvent> = None;
    // Inside a VALARM of the current event: its reminder, once a usable TRIGGER is read.
    let mut alarm: Option<Option<u32>> = None;
    let mut vevents = 0usize;
    let mut parsed = Vec::new();
    for line in unfold(text) {
        if line.trim().is_empty() {
            continue;
        }
        let Some(l) = parse_line(&line) else {
            if !seen_calendar {
                return Err(bad("the text does not start with BEGIN:VCALENDAR"));
            }
            // A malformed line is skipped like an unknown property.
            continue;
        };
        if stack.is_empty() {
            if l.name == "BEGIN" && l.value.trim().eq_ignore_ascii_case("VCALENDAR") {
                seen_calendar = true;
                stack.push("VCALENDAR".into());
            } else if !seen_calendar {
                return Err(bad("the text does not start with BEGIN:VCALENDAR"));
            }
            // Anything after a calendar's END is ignored, except another calendar.
            continue;
        }
        match l.name.as_str() {
            "BEGIN" => {
                let comp = l.value.trim().to_ascii_uppercase();
                if stack.len() >= MAX_DEPTH {
                    return Err(bad("components are nested too deeply"));
                }
                if comp == "VEVENT" && stack.len() == 1 {
                    vevents += 1;
                    if vevents > MAX_ICS_EVENTS {
                        return Err(bad(format!(
                            "more than {MAX_ICS_EVENTS} events in one file"
                        )));
                    }
                    current = Some(RawEvent {
                        index: vevents,
                        ..RawEvent::default()
                    });
                } else if comp == "VALARM" && stack.len() == 2 && current.is_some() {
                    alarm = Some(None);
                }
                stack.push(comp);
            }
            "END" => {
                let comp = l.value.trim().to_ascii_uppercase();
                let open = stack.pop().unwrap_or_default();
                if comp != open {
                    let which = current.as_ref().map(|c| format!(" in {}", c.which()));
                    return Err(bad(format!(
                        "END:{} where END:{open} was expected{}",
                        crate::id::truncate(&comp),
                        which.unwrap_or_default()
                    )));
                }
                match (comp.as_str(), stack.len()) {
                    ("VEVENT", 1) => {
                        if let Some(raw) = current.take() {
                            parsed.push(build(raw, default_tz)?);
                        }
                    }
                    ("VALARM", 2) => {
                        if let (Some(Some(minutes)), Some(ev)) = (alarm.take(), current.as_mut())
                            && !ev.reminders.contains(&minutes)
                        {
                            ev.reminders.push(minutes);
                        }
                    }
                    _ => {}
                }
            }
            _ => match (stack.len(), current.as_mut(), alarm.as_mut()) {
                (2, Some(ev), _) if stack[1] == "VEVENT" => ev.add(&l),
                (3, Some(_), Some(trigger)) if stack[2] == "VALARM" && l.name == "TRIGGER" => {
                    *trigger = trigger.or_else(|| reminder_minutes(&l));
                }
                _ => {}
            },
        }
    }
    if !seen_calendar {
        return Err(bad("no BEGIN:VCALENDAR found"));
    }
    if let Some(raw) = current {
        return Err(bad(format!(
            "unterminated VEVENT ({}): the file ends before END:VEVENT",
            raw.which()
        )));
    }
    if let Some(open) = stack.last() {
        return Err(bad(format!(
            "the file ends inside {open}, before END:{open}; is it truncated?"
        )));
    }
    merge_overrides(parsed)
}

/// Joins folded lines (a line break followed by a space or tab continues the line).
fn unfold(text: &str) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for raw in text.split('\n') {
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        if let (Some(rest), Some(last)) = (raw.strip_prefix([' ', '\t']), lines.last_mut()) {
            last.push_str(rest);
        } else {
            lines.push(raw.to_owned());
        }
    }
    lines
}

/// Splits `NAME;P=V;Q="a:b":value`; None for a line that is not a content line.
fn parse_line(line: &str) -> Option<Line<'_>> {
    let end = line.find([';', ':'])?;
    let name = line[..end].trim();
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return None;
    }
    let mut rest = &line[end..];
    let mut params = Vec::new();
    loop {
        if let Some(value) = rest.strip_prefix(':') {
            return Some(Line {
                name: name.to_ascii_uppercase(),
                params,
                value,
            });
        }
        let body = rest.strip_prefix(';')?;
        // Quoted parameter values may contain ':' and ';' (e.g. a mailto: in a CN).
        let mut quoted = false;
        let stop = body
            .char_indices()
            .find(|&(_, c)| {
                if c == '"' {
                    quoted = !quoted;
                }
                !quoted && (c == ';' || c == ':')
            })
            .map(|(i, _)| i)?;
        let (pname, pvalue) = body[..stop].split_once('=')?;
        params.push((pname.trim().to_ascii_uppercase(), pvalue.replace('"', "")));
        rest = &body[stop..];
    }
}

/// Undoes TEXT escaping: `\n`, `\,`, `\;`, `\\`.
fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n' | 'N') => out.push('\n'),
            Some(next) => out.push(next),
            None => out.push('\\'),
        }
    }
    out
}

/// Splits a TEXT list on unescaped commas and unescapes each item.
fn split_list(s: &str) -> Vec<String> {
    let mut items = Vec::new();
    let mut item = String::new();
    let mut escaped = false;
    for c in s.chars() {
        match c {
            _ if escaped => {
                item.push('\\');
                item.push(c);
                escaped = false;
            }
            '\\' => escaped = true,
            ',' => items.push(unescape(&std::mem::take(&mut item))),
            _ => item.push(c),
        }
    }
    if escaped {
        item.push('\\');
    }
    items.push(unescape(&item));
    items
}

/// A DURATION as (negative, nominal days, exact seconds); RFC 5545 days are calendar days.
fn parse_duration(s: &str) -> Option<(bool, u64, i64)> {
    let s = s.trim();
    let (negative, rest) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let rest = rest.strip_prefix(['P', 'p'])?;
    let (mut days, mut secs, mut in_time, mut units) = (0u64, 0i64, false, 0);
    let mut num: Option<i64> = None;
    for c in rest.chars() {
        if let Some(d) = c.to_digit(10) {
            num = Some(
                num.unwrap_or(0)
                    .checked_mul(10)?
                    .checked_add(i64::from(d))?,
            );
            continue;
        }
        let (unit_days, unit_secs) = match (c.to_ascii_uppercase(), in_time) {
            ('T', false) if num.is_none() => {
                in_time = true;
                continue;
            }
            ('W', false) => (7, 0),
            ('D', false) => (1, 0),
            ('H', true) => (0, 3600),
            ('M', true) => (0, 60),
            ('S', true) => (0, 1),
            _ => return None,
        };
        let n = num.take()?;
        days = days.checked_add(u64::try_from(n).ok()?.checked_mul(unit_days)?)?;
        secs = secs.checked_add(n.checked_mul(unit_secs)?)?;
        units += 1;
    }
    if num.is_some() || units == 0 {
        return None;
    }
    Some((negative, days, secs))
}

/// `start` plus a DURATION, days added on the wall clock of `tz`.
fn add_duration(start: Timestamp, text: &str, tz: Tz) -> Option<Timestamp> {
    let (negative, days, secs) = parse_duration(text)?;
    let local = local_naive(start, tz)?;
    let moved = if negative {
        local.checked_sub_days(Days::new(days))?
    } else {
        local.checked_add_days(Days::new(days))?
    };
    let base = if days == 0 {
        start
    } else {
        local_to_utc(moved, tz)?
    };
    let ms = secs.checked_mul(1000)?;
    let ms = if negative { ms.checked_neg()? } else { ms };
    base.0.checked_add(ms).map(Timestamp)
}

/// Minutes before the start for a VALARM TRIGGER, when it is relative to the start.
fn reminder_minutes(l: &Line<'_>) -> Option<u32> {
    let param = |name: &str| {
        l.params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.trim().to_ascii_uppercase())
    };
    // Absolute triggers and ones relative to the end have no place in a Reminder.
    if param("VALUE").is_some_and(|v| v == "DATE-TIME")
        || param("RELATED").is_some_and(|v| v == "END")
    {
        return None;
    }
    let (negative, days, secs) = parse_duration(l.value)?;
    let total = i64::try_from(days)
        .ok()?
        .checked_mul(86_400)?
        .checked_add(secs)?;
    if !negative && total != 0 {
        return None;
    }
    u32::try_from((total + 59) / 60).ok()
}

/// How an occurrence-naming value (EXDATE, RECURRENCE-ID) is fitted to the series' starts.
#[derive(Debug, Clone, Copy)]
enum Snap {
    /// Read as written (DTSTART, DTEND).
    Exact,
    /// A timed series: a bare date means that day's occurrence, at this local time.
    TimeOfDay(NaiveTime),
    /// An all-day series: any value means the occurrence on its day, at local midnight.
    Day,
}

/// Reads a date or date-time property (comma lists allowed); the bool says it was a date.
fn read_time(
    p: &Prop,
    event_tz: Tz,
    name: &str,
    which: &str,
    snap: Snap,
) -> Result<Vec<(Timestamp, bool)>, DomainError> {
    let tz = match p.param("TZID") {
        Some(zone) => parse_tz(zone)?,
        None => event_tz,
    };
    p.value
        .split(',')
        .map(|v| {
            let t = parse_basic_time(v);
            let at = match (t, snap) {
                (Some(BasicTime::Date(d)), Snap::TimeOfDay(time)) => {
                    local_to_utc(d.and_time(time), tz)
                }
                (Some(t), Snap::Day) => t
                    .resolve(tz)
                    .and_then(|at| local_naive(at, event_tz))
                    .and_then(|n| local_to_utc(n.date().and_time(NaiveTime::MIN), event_tz)),
                (Some(t), _) => t.resolve(tz),
                (None, _) => None,
            };
            at.map(|at| (at, matches!(t, Some(BasicTime::Date(_)))))
                .ok_or_else(|| {
                    DomainError::BadDateTime(format!(
                        "{} ({name} of {which})",
                        crate::id::truncate(v.trim())
                    ))
                })
        })
        .collect()
}

fn read_one(p: &Prop, tz: Tz, name: &str, which: &str) -> Result<(Timestamp, bool), DomainError> {
    let mut times = read_time(p, tz, name, which, Snap::Exact)?;
    match (times.pop(), times.is_empty()) {
        (Some(t), true) => Ok(t),
        _ => Err(bad(format!("{name} of {which} must be a single value"))),
    }
}

/// Adds the event to messages about it, keeping the error's kind where it has room for that.
fn in_event(err: DomainError, which: &str) -> DomainError {
    match err {
        DomainError::EndBeforeStart { start, end } => DomainError::EndBeforeStart {
            start: format!("{start} in {which}"),
            end,
        },
        DomainError::BadRecurrence(m) => DomainError::BadRecurrence(format!("{m} in {which}")),
        err @ (DomainError::BadTimeZone(_)
        | DomainError::BadDateTime(_)
        | DomainError::BadIcs(_)) => err,
        other => bad(format!("{which}: {other}")),
    }
}

/// Turns one VEVENT's properties into an event.
fn build(raw: RawEvent, default_tz: Tz) -> Result<Parsed, DomainError> {
    let which = raw.which();
    build_inner(raw, default_tz, &which).map_err(|e| in_event(e, &which))
}

fn build_inner(raw: RawEvent, default_tz: Tz, which: &str) -> Result<Parsed, DomainError> {
    let dtstart = raw
        .dtstart
        .as_ref()
        .ok_or_else(|| bad(format!("{which} has no DTSTART")))?;
    let tz = match (dtstart.param("TZID"), raw.zone.as_deref()) {
        (Some(zone), _) => parse_tz(zone)?,
        (None, Some(zone)) => parse_tz(zone).unwrap_or(default_tz),
        (None, None) => default_tz,
    };
    let (start, all_day) = read_one(dtstart, tz, "DTSTART", which)?;
    let end = if let Some(p) = &raw.dtend {
        read_one(p, tz, "DTEND", which)?.0
    } else if let Some(p) = &raw.duration {
        add_duration(start, &p.value, tz).ok_or_else(|| {
            bad(format!(
                "DURATION {:?} of {which} is not a duration like PT1H30M or P1D",
                crate::id::truncate(&p.value)
            ))
        })?
    } else if all_day {
        add_duration(start, "P1D", tz).unwrap_or(start)
    } else {
        start
    };
    // Whole days, as the exporter writes them; an end before the start is left for
    // validation to report.
    let end = match local_naive(start, tz) {
        Some(local) if all_day && end >= start => {
            let day = all_day_end(local.date(), end, tz);
            local_to_utc(day.and_time(NaiveTime::MIN), tz).unwrap_or(end)
        }
        _ => end,
    };
    let snap = match local_naive(start, tz) {
        _ if all_day => Snap::Day,
        Some(local) => Snap::TimeOfDay(local.time()),
        None => Snap::Exact,
    };
    let mut recurrence = match &raw.rrule {
        Some(text) => Some(parse_rrule(text, tz)?),
        None => None,
    };
    if let Some(rule) = recurrence.as_mut() {
        for p in &raw.exdates {
            let times = read_time(p, tz, "EXDATE", which, snap)?;
            rule.exceptions.extend(times.into_iter().map(|(t, _)| t));
        }
        rule.exceptions.sort_unstable();
        rule.exceptions.dedup();
    }
    let replaces = match &raw.recurrence_id {
        Some(p) => {
            let mut times = read_time(p, tz, "RECURRENCE-ID", which, snap)?;
            times.truncate(1);
            times.pop().map(|(t, _)| t)
        }
        None => None,
    };
    let kind = raw
        .categories
        .iter()
        .filter_map(|c| c.trim().parse::<EventType>().ok())
        .find(|k| *k != EventType::Other)
        .unwrap_or(EventType::Other);
    let title = raw.summary.as_deref().map(str::trim).unwrap_or_default();
    let event = Event {
        title: if title.is_empty() { NO_TITLE } else { title }.to_owned(),
        description: raw.description.unwrap_or_default(),
        start,
        end,
        timezone: tz.name().to_owned(),
        all_day,
        location: raw.location.unwrap_or_default(),
        kind,
        recurrence,
        reminders: raw
            .reminders
            .iter()
            .map(|&minutes_before| Reminder { minutes_before })
            .collect(),
        ics_uid: raw.uid.filter(|u| !u.is_empty()),
        cancelled: raw.cancelled,
        ..Event::default()
    };
    Ok(Parsed {
        event,
        which: which.to_owned(),
        replaces,
    })
}

/// Folds changed occurrences into their series, then validates every event.
fn merge_overrides(mut parsed: Vec<Parsed>) -> Result<Vec<Event>, DomainError> {
    let series: HashMap<String, usize> = parsed
        .iter()
        .enumerate()
        .filter(|(_, p)| p.replaces.is_none() && p.event.recurrence.is_some())
        .filter_map(|(i, p)| p.event.ics_uid.clone().map(|u| (u, i)))
        .collect();
    let mut exceptions = Vec::new();
    let mut keep = vec![true; parsed.len()];
    for (i, p) in parsed.iter_mut().enumerate() {
        let (Some(at), Some(uid)) = (p.replaces, p.event.ics_uid.clone()) else {
            continue;
        };
        let master = series.get(&uid).copied();
        if let Some(m) = master {
            exceptions.push((m, at));
        }
        // A cancelled occurrence is fully said by the exception.
        keep[i] = !(p.event.cancelled && master.is_some());
        p.event.ics_uid = Some(format!("{uid}#{}", format_utc(at)));
        p.event.recurrence = None;
    }
    for (m, at) in exceptions {
        if let Some(rule) = parsed.get_mut(m).and_then(|p| p.event.recurrence.as_mut())
            && !rule.exceptions.contains(&at)
        {
            rule.exceptions.push(at);
            rule.exceptions.sort_unstable();
        }
    }
    let mut events = Vec::with_capacity(parsed.len());
    for (p, keep) in parsed.into_iter().zip(keep) {
        if keep {
            p.event.validate().map_err(|e| in_event(e, &p.which))?;
            events.push(p.event);
        }
    }
    Ok(events)
}

/// Writes events as an ICS calendar (CRLF lines folded at 75 octets); deleted events are
/// left out and `now` is the DTSTAMP.
///
/// Timed events carry their zone as TZID with local times; all-day events use dates plus
/// `X-WEFT-TIMEZONE`, since RFC 5545 forbids a TZID on dates.
pub fn export(events: &[Event], now: Timestamp) -> String {
    let mut out = String::new();
    for l in [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//Weft//Weft//EN",
        "CALSCALE:GREGORIAN",
    ] {
        push_line(&mut out, l);
    }
    for (i, e) in events.iter().enumerate() {
        if e.deleted_at.is_none() {
            export_event(&mut out, e, i, now);
        }
    }
    push_line(&mut out, "END:VCALENDAR");
    out
}

fn export_event(out: &mut String, e: &Event, index: usize, now: Timestamp) {
    let tz = parse_tz(&e.timezone).ok();
    let zone = tz.unwrap_or(chrono_tz::UTC);
    let uid = match (&e.ics_uid, e.id) {
        (Some(uid), _) => uid.clone(),
        (None, Some(id)) => format!("{id}@weft"),
        (None, None) => format!("weft-{}-{index}@weft", e.start.0),
    };
    push_line(out, "BEGIN:VEVENT");
    push_line(out, &format!("UID:{}", escape(&uid)));
    push_line(out, &format!("DTSTAMP:{}", format_utc(now)));
    let mut named_zone = false;
    if e.all_day {
        let start = local_date(e.start, zone);
        let end = all_day_end(start, e.end, zone);
        push_line(
            out,
            &format!("DTSTART;VALUE=DATE:{}", start.format("%Y%m%d")),
        );
        push_line(out, &format!("DTEND;VALUE=DATE:{}", end.format("%Y%m%d")));
    } else {
        for (name, t) in [("DTSTART", e.start), ("DTEND", e.end)] {
            match tz.and_then(|tz| exact_local(t, tz)) {
                Some(local) => {
                    // The event's zone is read from DTSTART alone.
                    named_zone |= name == "DTSTART";
                    push_line(out, &format!("{name};TZID={}:{local}", zone.name()));
                }
                None => push_line(out, &format!("{name}:{}", format_utc(t))),
            }
        }
    }
    if tz.is_some() && (e.all_day || !named_zone) {
        push_line(out, &format!("{X_ZONE}:{}", zone.name()));
    }
    push_line(out, &format!("SUMMARY:{}", escape(&e.title)));
    if !e.description.is_empty() {
        push_line(out, &format!("DESCRIPTION:{}", escape(&e.description)));
    }
    if !e.location.is_empty() {
        push_line(out, &format!("LOCATION:{}", escape(&e.location)));
    }
    if let Some(rule) = &e.recurrence {
        let text = match (e.all_day, rule.until) {
            // RFC 5545 wants a date UNTIL with date starts; all-day occurrences start at
            // midnight, so the until's local date keeps exactly the same ones.
            (true, Some(until)) => {
                let without = crate::Recurrence {
                    until: None,
                    ..rule.clone()
                };
                let day = local_date(until, zone).format("%Y%m%d");
                format!("{};UNTIL={day}", without.to_rrule())
            }
            _ => rule.to_rrule(),
        };
        push_line(out, &format!("RRULE:{text}"));
        for &t in &rule.exceptions {
            if e.all_day {
                // Only midnights can match an all-day occurrence; other instants exclude
                // nothing, and writing their date would exclude a day.
                let day = local_date(t, zone);
                if BasicTime::Date(day).resolve(zone) == Some(t) {
                    push_line(out, &format!("EXDATE;VALUE=DATE:{}", day.format("%Y%m%d")));
                }
            } else {
                push_line(out, &format!("EXDATE:{}", format_utc(t)));
            }
        }
    }
    if e.kind != EventType::Other {
        push_line(
            out,
            &format!("CATEGORIES:{}", e.kind.as_str().to_ascii_uppercase()),
        );
    }
    if e.cancelled {
        push_line(out, "STATUS:CANCELLED");
    }
    for r in &e.reminders {
        push_line(out, "BEGIN:VALARM");
        push_line(out, "ACTION:DISPLAY");
        push_line(out, &format!("DESCRIPTION:{}", escape(&e.title)));
        push_line(out, &format!("TRIGGER:-PT{}M", r.minutes_before));
        push_line(out, "END:VALARM");
    }
    push_line(out, "END:VEVENT");
}

/// The exclusive end date of an all-day event: an end during a day covers that day, and an
/// all-day event covers at least its first day.
fn all_day_end(start: NaiveDate, end: Timestamp, tz: Tz) -> NaiveDate {
    local_naive(end, tz)
        .map(|n| {
            if n.time() == NaiveTime::MIN {
                n.date()
            } else {
                n.date().succ_opt().unwrap_or(n.date())
            }
        })
        .filter(|d| *d > start)
        .unwrap_or_else(|| start.succ_opt().unwrap_or(start))
}

fn local_date(t: Timestamp, tz: Tz) -> NaiveDate {
    local_naive(t, tz).map_or(NaiveDate::MIN, |n| n.date())
}

/// Local `YYYYMMDDTHHMMSS` for `t`, only when reading it back gives the same second (not in
/// the repeated hour of a DST change, and within the years the basic form can write).
fn exact_local(t: Timestamp, tz: Tz) -> Option<String> {
    let local: NaiveDateTime = local_naive(t, tz)?;
    let text = local.format("%Y%m%dT%H%M%S").to_string();
    let back = parse_basic_time(&text)?.resolve(tz)?;
    (back.0 == t.0 - t.0.rem_euclid(1000)).then_some(text)
}

/// Escapes TEXT values; other control characters cannot be written, so they are dropped.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push('\t'),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// Appends a content line folded at 75 octets, never inside a character, with CRLF.
fn push_line(out: &mut String, line: &str) {
    let mut rest = line;
    let mut room = LINE_OCTETS;
    while rest.len() > room {
        let mut cut = room;
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        out.push_str(&rest[..cut]);
        out.push_str("\r\n ");
        rest = &rest[cut..];
        // The leading space of a continuation line counts towards its 75 octets.
        room = LINE_OCTETS - 1;
    }
    out.push_str(rest);
    out.push_str("\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recurrence::{Frequency, Recurrence, occurrences};
    use crate::{Id, time::parse_tz};
    use proptest::prelude::*;

    fn at(s: &str, zone: &str) -> Timestamp {
        Timestamp::parse(s, parse_tz(zone).unwrap()).unwrap()
    }

    fn utc(s: &str) -> Timestamp {
        Timestamp::parse(s, chrono_tz::UTC).unwrap()
    }

    fn calendar(body: &str) -> String {
        format!("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n{body}END:VCALENDAR\r\n")
    }

    fn one_event(props: &str) -> String {
        calendar(&format!(
            "BEGIN:VEVENT\r\nUID:x@test\r\nSUMMARY:Test\r\n{props}END:VEVENT\r\n"
        ))
    }

    fn parse_err(text: &str) -> DomainError {
        parse(text, chrono_tz::UTC).expect_err("should be refused")
    }

    fn sample_events() -> Vec<Event> {
        let now = utc("2026-01-01T00:00:00Z");
        vec![
            Event {
                id: Some(Id::from_parts(now, 1)),
                title: "Planning, weekly; with \\ all".into(),
                description: "Agenda:\n1. roadmap, budget\n2. hiring; \\o/\n".into(),
                start: at("2026-03-23T09:00", "Europe/Berlin"),
                end: at("2026-03-23T10:30", "Europe/Berlin"),
                timezone: "Europe/Berlin".into(),
                location: "Room 1, Floor 2".into(),
                kind: EventType::Meeting,
                recurrence: Some(Recurrence {
                    freq: Frequency::Weekly,
                    interval: 2,
                    until: Some(utc("2026-12-31T23:59:59Z")),
                    by_day: vec!["MO".into(), "TH".into()],
                    exceptions: vec![
                        at("2026-04-06T09:00", "Europe/Berlin"),
                        at("2026-04-09T09:00", "Europe/Berlin"),
                    ],
                    ..Recurrence::default()
                }),
                reminders: vec![
                    Reminder { minutes_before: 10 },
                    Reminder {
                        minutes_before: 1440,
                    },
                ],
                ..Event::default()
            },
            Event {
                id: Some(Id::from_parts(now, 2)),
                ics_uid: Some("holiday-42@example.org".into()),
                title: "Thanksgiving ".repeat(10).trim().to_owned() + " é日本語🎉",
                start: at("2026-11-26T00:00", "America/New_York"),
                end: at("2026-11-28T00:00", "America/New_York"),
                timezone: "America/New_York".into(),
                all_day: true,
                kind: EventType::Reminder,
                recurrence: Some(Recurrence {
                    freq: Frequency::Monthly,
                    interval: 12,
                    until: Some(at("2030-11-26T23:59:59", "America/New_York")),
                    exceptions: vec![at("2027-11-26T00:00", "America/New_York")],
                    ..Recurrence::default()
                }),
                ..Event::default()
            },
            Event {
                id: Some(Id::from_parts(now, 3)),
                title: "Report due".into(),
                start: utc("2026-06-30T17:00:00Z"),
                end: utc("2026-06-30T17:00:00Z"),
                timezone: "UTC".into(),
                kind: EventType::Deadline,
                recurrence: Some(Recurrence {
                    freq: Frequency::Daily,
                    count: Some(3),
                    ..Recurrence::default()
                }),
                cancelled: true,
                ..Event::default()
            },
            Event {
                id: Some(Id::from_parts(now, 4)),
                title: "Deleted".into(),
                deleted_at: Some(now),
                ..Event::default()
            },
        ]
    }

    #[test]
    fn export_then_parse_keeps_what_weft_stores() {
        let events = sample_events();
        let text = export(&events, utc("2026-01-02T03:04:05Z"));
        assert!(text.starts_with("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Weft//Weft//EN\r\n"));
        assert!(text.ends_with("END:VCALENDAR\r\n"));
        assert!(text.contains("DTSTAMP:20260102T030405Z\r\n"));
        assert!(text.contains("DTSTART;TZID=Europe/Berlin:20260323T090000\r\n"));
        assert!(text.contains("DTSTART;VALUE=DATE:20261126\r\nDTEND;VALUE=DATE:20261128\r\n"));
        assert!(!text.contains("Deleted"));
        for line in text.split("\r\n") {
            assert!(line.len() <= 75, "{line:?} is not folded");
            assert!(!line.contains('\n') && !line.contains('\r'));
        }
        let back = parse(&text, chrono_tz::Asia::Tokyo).unwrap();
        assert_eq!(back.len(), 3);
        for (b, e) in back.iter().zip(&events) {
            let expected_uid = e
                .ics_uid
                .clone()
                .or_else(|| e.id.map(|id| format!("{id}@weft")));
            assert_eq!(b.ics_uid, expected_uid);
            assert_eq!(b.title, e.title.trim());
            assert_eq!(b.description, e.description);
            assert_eq!(b.location, e.location);
            assert_eq!((b.start, b.end), (e.start, e.end), "{}", e.title);
            assert_eq!(b.timezone, e.timezone);
            assert_eq!(b.all_day, e.all_day);
            assert_eq!(b.kind, e.kind);
            assert_eq!(b.reminders, e.reminders);
            assert_eq!(b.cancelled, e.cancelled);
            let (br, er) = (
                b.recurrence.as_ref().unwrap(),
                e.recurrence.as_ref().unwrap(),
            );
            assert_eq!(br.exceptions, er.exceptions);
            assert_eq!(
                (br.freq, br.interval, br.count, &br.by_day),
                (er.freq, er.interval, er.count, &er.by_day)
            );
            // The rule gives the same occurrences, whatever form UNTIL took.
            let tz = parse_tz(&e.timezone).unwrap();
            let (from, to) = (utc("2026-01-01"), utc("2032-01-01"));
            let occ = |ev: &Event, r| {
                occurrences(ev.start, ev.end.0 - ev.start.0, tz, Some(r), from, to, 500)
            };
            assert_eq!(occ(b, br), occ(e, er));
        }
        // Exporting what was imported gives the same text.
        assert_eq!(export(&back, utc("2026-01-02T03:04:05Z")), text);
    }

    #[test]
    fn times_that_local_form_cannot_name_go_out_in_utc() {
        // 02:30 happens twice on 25 October 2026 in Berlin; this is the second one (CET).
        let second = utc("2026-10-25T01:30:00Z");
        let e = Event {
            title: "Night shift".into(),
            start: second,
            end: second.plus_minutes(30),
            timezone: "Europe/Berlin".into(),
            ..Event::default()
        };
        let text = export(std::slice::from_ref(&e), Timestamp(0));
        assert!(text.contains("DTSTART:20261025T013000Z\r\n"), "{text}");
        let back = parse(&text, chrono_tz::UTC).unwrap();
        assert_eq!((back[0].start, back[0].end), (e.start, e.end));
        assert_eq!(back[0].timezone, "Europe/Berlin");
    }

    const GOOGLE: &str = "BEGIN:VCALENDAR\r
PRODID:-//Google Inc//Google Calendar 70.9054//EN\r
VERSION:2.0\r
CALSCALE:GREGORIAN\r
METHOD:PUBLISH\r
X-WR-CALNAME:Team\r
X-WR-TIMEZONE:Europe/Berlin\r
BEGIN:VTIMEZONE\r
TZID:Europe/Berlin\r
X-LIC-LOCATION:Europe/Berlin\r
BEGIN:DAYLIGHT\r
TZOFFSETFROM:+0100\r
TZOFFSETTO:+0200\r
TZNAME:CEST\r
DTSTART:19700329T020000\r
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r
END:DAYLIGHT\r
BEGIN:STANDARD\r
TZOFFSETFROM:+0200\r
TZOFFSETTO:+0100\r
TZNAME:CET\r
DTSTART:19701025T030000\r
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r
END:STANDARD\r
END:VTIMEZONE\r
BEGIN:VEVENT\r
DTSTART;TZID=Europe/Berlin:20260105T093000\r
DTEND;TZID=Europe/Berlin:20260105T100000\r
RRULE:FREQ=WEEKLY;WKST=MO;BYDAY=MO,WE,FR\r
EXDATE;TZID=Europe/Berlin:20260107T093000,20260109T093000\r
DTSTAMP:20260101T120000Z\r
ORGANIZER;CN=Team:mailto:team@group.calendar.google.com\r
UID:standup-1@google.com\r
ATTENDEE;CUTYPE=INDIVIDUAL;ROLE=REQ-PARTICIPANT;PARTSTAT=ACCEPTED;CN=\"Ada L\r
 ovelace: maths\";X-NUM-GUESTS=0:mailto:ada@example.org\r
CREATED:20251201T080000Z\r
DESCRIPTION:Daily stand-up.\\nJoin: https://meet.example/abc\\, or dial in\\;\r
  ask Ada.\r
LAST-MODIFIED:20251215T080000Z\r
LOCATION:Room 1\\, Floor 2\r
SEQUENCE:0\r
STATUS:CONFIRMED\r
SUMMARY:Stand-up\r
TRANSP:OPAQUE\r
BEGIN:VALARM\r
ACTION:DISPLAY\r
DESCRIPTION:This is an event reminder\r
TRIGGER:-P0DT0H10M0S\r
END:VALARM\r
BEGIN:VALARM\r
ACTION:EMAIL\r
DESCRIPTION:This is an event reminder\r
SUMMARY:Alarm notification\r
ATTENDEE:mailto:ada@example.org\r
TRIGGER:-P1D\r
END:VALARM\r
BEGIN:VALARM\r
ACTION:DISPLAY\r
TRIGGER;VALUE=DATE-TIME:20260101T080000Z\r
END:VALARM\r
END:VEVENT\r
BEGIN:VEVENT\r
DTSTART;TZID=Europe/Berlin:20260112T110000\r
DTEND;TZID=Europe/Berlin:20260112T113000\r
DTSTAMP:20260101T120000Z\r
UID:standup-1@google.com\r
RECURRENCE-ID;TZID=Europe/Berlin:20260112T093000\r
SUMMARY:Stand-up (moved)\r
SEQUENCE:1\r
END:VEVENT\r
BEGIN:VEVENT\r
DTSTART;TZID=Europe/Berlin:20260114T093000\r
DTEND;TZID=Europe/Berlin:20260114T100000\r
DTSTAMP:20260101T120000Z\r
UID:standup-1@google.com\r
RECURRENCE-ID;TZID=Europe/Berlin:20260114T093000\r
STATUS:CANCELLED\r
SUMMARY:Stand-up\r
END:VEVENT\r
BEGIN:VEVENT\r
DTSTART;VALUE=DATE:20261225\r
DTEND;VALUE=DATE:20261227\r
DTSTAMP:20260101T120000Z\r
UID:holiday@google.com\r
SUMMARY:Christmas\r
CATEGORIES:Holiday,Reminder\r
TRANSP:TRANSPARENT\r
END:VEVENT\r
BEGIN:VEVENT\r
DTSTART:20260301T170000Z\r
DURATION:PT1H30M\r
DTSTAMP:20260101T120000Z\r
UID:deadline@google.com\r
SUMMARY:Q1 report due\r
CATEGORIES:DEADLINE\r
END:VEVENT\r
BEGIN:VEVENT\r
DTSTART;TZID=America/New_York:20260106T140000\r
DTEND;TZID=America/New_York:20260106T150000\r
RRULE:FREQ=WEEKLY;WKST=SU;INTERVAL=2;BYDAY=TU;UNTIL=20260630T180000Z\r
DTSTAMP:20260101T120000Z\r
UID:one-on-one@google.com\r
SUMMARY:1:1\r
END:VEVENT\r
BEGIN:VEVENT\r
DTSTART:20260401T090000\r
DTSTAMP:20260101T120000Z\r
UID:floating@google.com\r
SUMMARY:\r
END:VEVENT\r
END:VCALENDAR\r
";

    #[test]
    fn reads_a_google_calendar_export() {
        let events = parse(GOOGLE, chrono_tz::Europe::Berlin).unwrap();
        let uids: Vec<_> = events
            .iter()
            .map(|e| e.ics_uid.as_deref().unwrap())
            .collect();
        assert_eq!(
            uids,
            [
                "standup-1@google.com",
                "standup-1@google.com#20260112T083000Z",
                "holiday@google.com",
                "deadline@google.com",
                "one-on-one@google.com",
                "floating@google.com"
            ]
        );
        let standup = &events[0];
        assert_eq!(standup.title, "Stand-up");
        assert_eq!(
            standup.description,
            "Daily stand-up.\nJoin: https://meet.example/abc, or dial in; ask Ada."
        );
        assert_eq!(standup.location, "Room 1, Floor 2");
        assert_eq!(standup.start, utc("2026-01-05T08:30:00Z"));
        assert_eq!(standup.end, utc("2026-01-05T09:00:00Z"));
        assert_eq!(standup.timezone, "Europe/Berlin");
        assert_eq!(
            standup.reminders,
            [
                Reminder { minutes_before: 10 },
                Reminder {
                    minutes_before: 1440
                }
            ]
        );
        let rule = standup.recurrence.as_ref().unwrap();
        assert_eq!(rule.by_day, ["MO", "WE", "FR"]);
        assert_eq!(
            rule.exceptions,
            [
                utc("2026-01-07T08:30:00Z"),
                utc("2026-01-09T08:30:00Z"),
                utc("2026-01-12T08:30:00Z"),
                utc("2026-01-14T08:30:00Z")
            ]
        );
        let moved = &events[1];
        assert_eq!(moved.title, "Stand-up (moved)");
        assert_eq!(moved.start, utc("2026-01-12T10:00:00Z"));
        assert!(moved.recurrence.is_none());

        let holiday = &events[2];
        assert!(holiday.all_day);
        assert_eq!(holiday.kind, EventType::Reminder);
        assert_eq!(holiday.start, at("2026-12-25T00:00", "Europe/Berlin"));
        assert_eq!(holiday.end, at("2026-12-27T00:00", "Europe/Berlin"));

        let deadline = &events[3];
        assert_eq!(deadline.kind, EventType::Deadline);
        assert_eq!(
            (deadline.start, deadline.end),
            (utc("2026-03-01T17:00:00Z"), utc("2026-03-01T18:30:00Z"))
        );

        let one = &events[4];
        assert_eq!(one.timezone, "America/New_York");
        assert_eq!(one.title, "1:1");
        let tz = chrono_tz::America::New_York;
        let occ = occurrences(
            one.start,
            one.end.0 - one.start.0,
            tz,
            one.recurrence.as_ref(),
            one.start,
            utc("2027-01-01"),
            100,
        );
        assert_eq!(occ.len(), 13);
        assert_eq!(occ[12].0, at("2026-06-23T14:00", "America/New_York"));

        let floating = &events[5];
        assert_eq!(floating.title, NO_TITLE);
        assert_eq!(
            (floating.start, floating.end),
            (
                at("2026-04-01T09:00", "Europe/Berlin"),
                at("2026-04-01T09:00", "Europe/Berlin")
            )
        );
    }

    #[test]
    fn reads_lf_lines_tabs_durations_and_missing_ends() {
        let text = [
            "BEGIN:VCALENDAR",
            "BEGIN:VEVENT\nUID:a\nSUMMARY:Long\n\t title\nDTSTART;VALUE=DATE:20260329",
            "DURATION:P2D\nEND:VEVENT",
            "BEGIN:VEVENT\nUID:b\nSUMMARY:Day\nDTSTART;VALUE=DATE:20260329\nEND:VEVENT",
            "BEGIN:VEVENT\nUID:c\nSUMMARY:Instant\nDTSTART:20260329T120000Z\nEND:VEVENT",
            "END:VCALENDAR",
        ]
        .join("\n");
        let events = parse(&text, chrono_tz::Europe::Berlin).unwrap();
        assert_eq!(events[0].title, "Long title");
        // Calendar days: the DST change on 29 March makes the first day 23 hours long.
        assert_eq!(events[0].end, at("2026-03-31T00:00", "Europe/Berlin"));
        assert_eq!(events[1].end, at("2026-03-30T00:00", "Europe/Berlin"));
        assert_eq!(events[2].end, events[2].start);
    }

    #[test]
    fn hostile_files_are_clear_errors() {
        let bad_ics = |text: &str, needle: &str| {
            let err = parse_err(text);
            assert!(matches!(err, DomainError::BadIcs(_)), "{err:?}");
            assert!(err.to_string().contains(needle), "{err} lacks {needle:?}");
        };
        bad_ics("", "VCALENDAR");
        bad_ics("\r\n \r\n", "VCALENDAR");
        bad_ics(
            "\u{0}\u{1}\u{7f}\u{fffd}\u{fffd}PK\u{3}\u{4}garbage:::;;;",
            "VCALENDAR",
        );
        bad_ics("BEGIN:VEVENT\r\nEND:VEVENT\r\n", "VCALENDAR");
        bad_ics(
            "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:u1\r\nSUMMARY:x\r\n",
            "unterminated VEVENT (event 1 (UID u1))",
        );
        bad_ics(
            "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nSUMMARY:x\r\nEND:VCALENDAR\r\n",
            "END:VCALENDAR where END:VEVENT",
        );
        bad_ics("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n", "truncated");
        bad_ics(&one_event(""), "no DTSTART");
        bad_ics(
            &one_event("DTSTART:20260101T100000Z\r\nDURATION:P1X\r\n"),
            "DURATION",
        );
        bad_ics(
            &one_event("DTSTART:20260101T100000Z\r\nDTEND:20260101T110000Z,20260101T120000Z\r\n"),
            "single",
        );
        bad_ics(&calendar(&"BEGIN:X\r\n".repeat(MAX_DEPTH)), "nested");

        for date in [
            "20261345T250000",
            "20260230T100000",
            "2026-11-22T09:00",
            "20261122T0900",
            "20261122T090060",
        ] {
            let err = parse_err(&one_event(&format!("DTSTART:{date}\r\n")));
            assert!(
                matches!(&err, DomainError::BadDateTime(m)
                    if m.contains(date) && m.contains("UID x@test")),
                "{err:?}"
            );
        }
        assert_eq!(
            parse_err(&one_event("DTSTART;TZID=Mars/Olympus:20261122T090000\r\n")),
            DomainError::BadTimeZone("Mars/Olympus".into())
        );
        let err = parse_err(&one_event(
            "DTSTART:20261122T100000Z\r\nDTEND:20261122T090000Z\r\n",
        ));
        assert!(
            matches!(&err, DomainError::EndBeforeStart { start, .. } if start.contains("x@test")),
            "{err:?}"
        );
        let err = parse_err(&one_event(
            "DTSTART:20261122T100000Z\r\nRRULE:FREQ=YEARLY\r\n",
        ));
        assert!(
            matches!(&err, DomainError::BadRecurrence(m)
                if m.contains("YEARLY") && m.contains("x@test")),
            "{err:?}"
        );
        let err = parse_err(&one_event(
            "DTSTART:20261122T100000Z\r\nRRULE:FREQ=DAILY;COUNT=3;UNTIL=20261231\r\n",
        ));
        assert!(matches!(err, DomainError::BadRecurrence(_)), "{err:?}");
        let err = parse_err(&calendar(&format!(
            "BEGIN:VEVENT\r\nUID:ok\r\nSUMMARY:Fine\r\nDTSTART:20260101T100000Z\r\nEND:VEVENT\r\n\
             BEGIN:VEVENT\r\nSUMMARY:{}\r\nDTSTART:20260101T100000Z\r\nEND:VEVENT\r\n",
            "x".repeat(300)
        )));
        assert!(
            matches!(&err, DomainError::BadIcs(m)
                if m.starts_with("event 2: event title is too long")),
            "{err:?}"
        );

        // Just over the size limit, though otherwise valid.
        let mut huge = one_event("DTSTART:20260101T100000Z\r\n");
        huge.push_str(&" ".repeat(MAX_ICS_BYTES + 1 - huge.len()));
        assert!(
            matches!(parse_err(&huge), DomainError::TooLong { len, max: MAX_ICS_BYTES, .. }
                if len == MAX_ICS_BYTES + 1)
        );
    }

    #[test]
    fn multi_byte_values_never_split_characters() {
        for props in [
            "DTSTART:2026é122T090000\r\n",
            "DTSTART:２０２６１１２２\r\n",
            "DTSTART:20261122T09000é\r\n",
            "DTSTART:20261122T090000Zé\r\n",
            "DTSTART;TZID=Europe/Bérlin:20261122T090000\r\n",
            "DTSTART;VALUE=DATE:2026112\u{301}\r\n",
            "DTSTART:20261122T090000Z\r\nDURATION:PT1é\r\n",
            "DTSTART:20261122T090000Z\r\nDURATION:é\r\n",
            "DTSTART:20261122T090000Z\r\nRRULE:FREQ=DAILYé;UNTIL=2026é\r\n",
            "DTSTART:20261122T090000Z\r\nRRULE:FREQ=DAILY\r\nEXDATE:20261123T0900é0Z\r\n",
        ] {
            assert!(
                parse(&one_event(props), chrono_tz::UTC).is_err(),
                "{props:?}"
            );
        }
        // Text values keep their characters whole, wherever folding put the line breaks.
        let title = "ü".repeat(37) + "🎉" + &"日".repeat(20);
        let text = one_event(&format!(
            "DTSTART:20261122T090000Z\r\nSUMMARY;LANGUAGE=de:{title}\r\n"
        ))
        .replace("SUMMARY:Test\r\n", "");
        let events = parse(&text, chrono_tz::UTC).unwrap();
        assert_eq!(events[0].title, title);
        let mut folded = String::new();
        push_line(&mut folded, &format!("SUMMARY:{title}"));
        assert!(folded.split("\r\n").all(|l| l.len() <= 75));
        assert_eq!(unfold(&folded)[0], format!("SUMMARY:{title}"));
        // A trigger in odd characters is ignored, not misread.
        let events = parse(
            &one_event(
                "DTSTART:20261122T090000Z\r\nBEGIN:VALARM\r\nTRIGGER:-PTé15M\r\nEND:VALARM\r\n",
            ),
            chrono_tz::UTC,
        )
        .unwrap();
        assert!(events[0].reminders.is_empty());
    }

    #[test]
    fn truncated_files_fail_at_every_cut() {
        let text = export(&sample_events(), Timestamp(0));
        let end = text.rfind("END:VCALENDAR").unwrap();
        for (cut, _) in text.char_indices().filter(|(i, _)| *i <= end) {
            assert!(parse(&text[..cut], chrono_tz::UTC).is_err(), "cut at {cut}");
        }
        assert!(parse(&text, chrono_tz::UTC).is_ok());
    }

    #[test]
    fn too_many_events_are_refused() {
        let event = "BEGIN:VEVENT\r\nSUMMARY:e\r\nDTSTART:20260101T100000Z\r\nEND:VEVENT\r\n";
        let text = calendar(&event.repeat(MAX_ICS_EVENTS + 1));
        let err = parse_err(&text);
        assert!(
            matches!(&err, DomainError::BadIcs(m) if m.contains("more than")),
            "{err:?}"
        );
    }

    #[test]
    fn durations_and_triggers() {
        assert_eq!(parse_duration("PT1H30M"), Some((false, 0, 5400)));
        assert_eq!(parse_duration("P1D"), Some((false, 1, 0)));
        assert_eq!(parse_duration("-P1W2DT3S"), Some((true, 9, 3)));
        for bad in [
            "",
            "P",
            "PT",
            "1H",
            "PT1D",
            "P1H",
            "P1",
            "PT99999999999999999999S",
            "P-1D",
        ] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
        let line = |s: &'static str| parse_line(s).unwrap();
        assert_eq!(reminder_minutes(&line("TRIGGER:-PT15M")), Some(15));
        assert_eq!(reminder_minutes(&line("TRIGGER:-PT1H")), Some(60));
        assert_eq!(reminder_minutes(&line("TRIGGER:-P1D")), Some(1440));
        assert_eq!(reminder_minutes(&line("TRIGGER:PT0S")), Some(0));
        assert_eq!(reminder_minutes(&line("TRIGGER:PT15M")), None);
        assert_eq!(reminder_minutes(&line("TRIGGER;RELATED=END:-PT5M")), None);
    }

    fn when() -> impl Strategy<Value = String> {
        (
            2020u32..2031,
            1u32..13,
            1u32..29,
            0u32..24,
            prop::sample::select(vec![0u32, 30]),
        )
            .prop_map(|(y, mo, d, h, mi)| format!("{y}{mo:02}{d:02}T{h:02}{mi:02}00"))
    }

    fn event_text() -> impl Strategy<Value = String> {
        let zone = prop::sample::select(vec![
            "Europe/Berlin",
            "America/New_York",
            "Australia/Lord_Howe",
            "UTC",
        ]);
        let start = prop_oneof![
            when().prop_map(|t| format!("DTSTART:{t}Z")),
            when().prop_map(|t| format!("DTSTART:{t}")),
            (zone.clone(), when()).prop_map(|(z, t)| format!("DTSTART;TZID={z}:{t}")),
            when().prop_map(|t| format!("DTSTART;VALUE=DATE:{}", &t[..8])),
        ];
        let end = prop_oneof![
            Just(String::new()),
            Just("DURATION:PT45M".to_owned()),
            Just("DURATION:P1D".to_owned()),
            Just("DURATION:P2DT1H".to_owned()),
            when().prop_map(|t| format!("DTEND:{t}Z")),
            (zone, when()).prop_map(|(z, t)| format!("DTEND;TZID={z}:{t}")),
        ];
        let extra = prop::collection::vec(
            prop_oneof![
                Just("RRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,SU".to_owned()),
                Just("RRULE:FREQ=DAILY;COUNT=5".to_owned()),
                Just("RRULE:FREQ=MONTHLY;UNTIL=20291231".to_owned()),
                Just("RRULE:FREQ=DAILY;UNTIL=20280101T000000Z".to_owned()),
                when().prop_map(|t| format!("EXDATE:{t}Z")),
                when().prop_map(|t| format!("EXDATE;VALUE=DATE:{}", &t[..8])),
                Just("CATEGORIES:work,Meeting".to_owned()),
                Just("STATUS:CANCELLED".to_owned()),
                Just("BEGIN:VALARM\r\nTRIGGER:-PT5M\r\nEND:VALARM".to_owned()),
                "DESCRIPTION:([ -~é]|\\\\[n,;\\\\]){0,90}",
                "LOCATION:[ -~日]{0,30}",
            ],
            0..6,
        );
        ("SUMMARY:[a-zA-Z0-9 ,;é日🎉]{1,120}", start, end, extra).prop_map(|(title, s, e, x)| {
            let mut lines = vec!["BEGIN:VEVENT".to_owned(), title, s, e];
            lines.extend(x);
            lines.push("END:VEVENT".into());
            lines.retain(|l| !l.is_empty());
            lines.join("\r\n")
        })
    }

    proptest! {
        #[test]
        fn parse_never_panics_on_any_text(text in any::<String>()) {
            let _ = parse(&text, chrono_tz::UTC);
        }

        #[test]
        fn accepted_files_survive_export_and_import(
            events in prop::collection::vec(event_text(), 1..4),
        ) {
            let text = format!("BEGIN:VCALENDAR\r\n{}\r\nEND:VCALENDAR\r\n", events.join("\r\n"));
            let Ok(first) = parse(&text, chrono_tz::Europe::Berlin) else {
                return Ok(());
            };
            let again = parse(&export(&first, Timestamp(0)), chrono_tz::Asia::Tokyo).unwrap();
            prop_assert_eq!(first.len(), again.len());
            for (a, b) in first.iter().zip(&again) {
                prop_assert_eq!(&a.title, &b.title);
                prop_assert_eq!(&a.description, &b.description);
                prop_assert_eq!(&a.location, &b.location);
                prop_assert_eq!((a.start, a.end, a.all_day), (b.start, b.end, b.all_day));
                prop_assert_eq!(&a.timezone, &b.timezone);
                prop_assert_eq!((a.kind, a.cancelled), (b.kind, b.cancelled));
                prop_assert_eq!(&a.reminders, &b.reminders);
                let tz = parse_tz(&a.timezone).unwrap();
                let (from, to) = (utc("2019-01-01"), utc("2032-01-01"));
                let occ = |e: &Event| {
                    let d = e.end.0 - e.start.0;
                    occurrences(e.start, d, tz, e.recurrence.as_ref(), from, to, 3000)
                };
                let (oa, ob) = (occ(a), occ(b));
                let diff = oa.iter().zip(&ob).find(|(x, y)| x != y);
                prop_assert!(
                    oa.len() == ob.len() && diff.is_none(),
                    "{} vs {} occurrences; first difference {:?}", oa.len(), ob.len(), diff
                );
            }
        }

        #[test]
        fn parse_never_panics_on_near_ics(lines in prop::collection::vec(prop_oneof![
            Just("BEGIN:VCALENDAR".to_owned()),
            Just("END:VCALENDAR".to_owned()),
            Just("BEGIN:VEVENT".to_owned()),
            Just("END:VEVENT".to_owned()),
            Just("BEGIN:VALARM".to_owned()),
            Just("END:VALARM".to_owned()),
            Just("TRIGGER:-PT15M".to_owned()),
            Just("SUMMARY:Hello".to_owned()),
            Just("DTSTART:20261122T090000Z".to_owned()),
            Just("DTSTART;VALUE=DATE:20261122".to_owned()),
            Just("DTSTART;TZID=Europe/Berlin:20261122T090000".to_owned()),
            Just("RRULE:FREQ=WEEKLY;BYDAY=MO,TU;COUNT=4".to_owned()),
            Just("RECURRENCE-ID:20261123T090000Z".to_owned()),
            "[A-Z-]{1,12}(;[A-Z]{1,6}=\"?[A-Za-z/:é]{0,8}\"?){0,2}:[ -~é日🎉]{0,40}",
            "(DTSTART|DTEND|EXDATE|DURATION|RRULE|TRIGGER|UID|CATEGORIES)[;:]\
             [-+A-Z0-9=,;:/TZé]{0,30}",
            "[ \t][ -~é]{0,20}",
            ".{0,30}",
        ], 0..40), crlf in any::<bool>()) {
            let text = lines.join(if crlf { "\r\n" } else { "\n" });
            if let Ok(events) = parse(&text, chrono_tz::Europe::Berlin) {
                // Whatever was accepted exports and imports again.
                let again = parse(&export(&events, Timestamp(0)), chrono_tz::Europe::Berlin);
                prop_assert_eq!(again.map(|e| e.len()).ok(), Some(events.len()));
            }
        }
    }
}
