//! The search box's query language: words, "phrases" and the filters
//! `in:#channel from:@user has:file has:link before:DATE after:DATE is:KIND`.
//!
//! Matching is case-insensitive, so words and phrases are lower-cased here. A `key:value` token
//! whose key is not a filter is an ordinary word: people search for `http://…` and `10:30`.
//!
//! ```
//! use weft_domain::search::{parse, SearchKind};
//! let q = parse(r#"Launch "release notes" in:#General is:task"#, chrono_tz::UTC).unwrap();
//! assert_eq!(q.terms, ["launch"]);
//! assert_eq!(q.phrases, ["release notes"]);
//! assert_eq!(q.in_channel.as_deref(), Some("general"));
//! assert_eq!(q.kinds, [SearchKind::Task]);
//! ```

use crate::{DomainError, Timestamp};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// Longest query accepted, in characters.
pub const MAX_QUERY_LEN: usize = 500;

crate::string_enum!(
    /// What a search can be narrowed to with `is:`.
    SearchKind, "search kind", {
        Message => "message", File => "file", Task => "task", Event => "event",
        Person => "person", Channel => "channel"
    }
);

/// A parsed search query.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(default)]
pub struct Query {
    /// Lower-cased words, all of which must match.
    pub terms: Vec<String>,
    /// Lower-cased phrases, matched as a whole.
    pub phrases: Vec<String>,
    /// Channel name from `in:`, without `#`, lower-case.
    pub in_channel: Option<String>,
    /// Username from `from:`, without `@`, lower-case.
    pub from_user: Option<String>,
    pub has_file: bool,
    pub has_link: bool,
    /// Only results strictly before this instant (`before:`).
    pub before: Option<Timestamp>,
    /// Only results at or after this instant (`after:`: the end of the given day).
    pub after: Option<Timestamp>,
    /// `is:` kinds; empty means every kind.
    pub kinds: Vec<SearchKind>,
}

impl Query {
    /// Whether there is no text to match (filters alone may still narrow a search).
    pub fn is_empty(&self) -> bool {
        self.terms.is_empty() && self.phrases.is_empty()
    }

    /// The words and phrases joined by spaces, for display.
    pub fn text(&self) -> String {
        self.terms
            .iter()
            .chain(&self.phrases)
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Parses a search query; dates without a time are days in `tz`.
pub fn parse(q: &str, tz: chrono_tz::Tz) -> Result<Query, DomainError> {
    let len = q.chars().count();
    if len > MAX_QUERY_LEN {
        return Err(bad(format!(
            "the query is {len} characters long; at most {MAX_QUERY_LEN}"
        )));
    }
    let mut query = Query::default();
    // The raw values, to quote them back if before/after leave nothing to find.
    let (mut before_raw, mut after_raw) = (String::new(), String::new());
    let mut rest = q.trim_start();
    while !rest.is_empty() {
        if let Some(quoted) = rest.strip_prefix('"') {
            // An unterminated quote runs to the end: the person is probably still typing.
            let (phrase, after) = quoted.split_once('"').unwrap_or((quoted, ""));
            let phrase = phrase
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
                .to_lowercase();
            if !phrase.is_empty() {
                query.phrases.push(phrase);
            }
            rest = after.trim_start();
            continue;
        }
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        let (token, after) = rest.split_at(end);
        rest = after.trim_start();
        let Some((key, value)) = token.split_once(':') else {
            query.terms.push(token.to_lowercase());
            continue;
        };
        let key = key.to_ascii_lowercase();
        if !matches!(
            key.as_str(),
            "in" | "from" | "has" | "before" | "after" | "is"
        ) {
            query.terms.push(token.to_lowercase());
            continue;
        }
        if value.is_empty() {
            return Err(bad(format!("{key}: needs a value, {}", example(&key))));
        }
        match key.as_str() {
            "in" => {
                let name = value.trim_start_matches('#').to_lowercase();
                set_once(
                    &mut query.in_channel,
                    name,
                    "in",
                    "a message is in one channel",
                )?;
            }
            "from" => {
                let name = value.trim_start_matches('@').to_lowercase();
                set_once(
                    &mut query.from_user,
                    name,
                    "from",
                    "a message has one author",
                )?;
            }
            "has" => match value.to_ascii_lowercase().as_str() {
                "file" => query.has_file = true,
                "link" => query.has_link = true,
                _ => {
                    return Err(bad(format!(
                        "unknown has: value {:?}; expected has:file or has:link",
                        crate::id::truncate(value)
                    )));
                }
            },
            "before" => {
                query.before = Some(day_bound("before", value, tz, false)?);
                before_raw = value.to_owned();
            }
            "after" => {
                query.after = Some(day_bound("after", value, tz, true)?);
                after_raw = value.to_owned();
            }
            _ => {
                let kind: SearchKind = value.parse().map_err(|_| {
                    bad(format!(
                        "unknown is: value {:?}; expected one of: message, task, event, file, \
                         person, channel",
                        crate::id::truncate(value)
                    ))
                })?;
                if !query.kinds.contains(&kind) {
                    query.kinds.push(kind);
                }
            }
        }
    }
    if let (Some(before), Some(after)) = (query.before, query.after)
        && before <= after
    {
        return Err(bad(format!(
            "before:{before_raw} is not later than after:{after_raw}, so nothing could match"
        )));
    }
    Ok(query)
}

fn bad(message: String) -> DomainError {
    DomainError::BadQuery(message)
}

fn example(key: &str) -> &'static str {
    match key {
        "in" => "e.g. in:#general",
        "from" => "e.g. from:@ada",
        "has" => "has:file or has:link",
        "before" => "e.g. before:2026-11-01",
        "after" => "e.g. after:2026-10-01",
        _ => "one of is:message, is:task, is:event, is:file, is:person, is:channel",
    }
}

/// Sets a single-valued filter; repeating it with another value could never match.
fn set_once(
    slot: &mut Option<String>,
    value: String,
    key: &str,
    why: &str,
) -> Result<(), DomainError> {
    if value.is_empty() {
        return Err(bad(format!("{key}: needs a value, {}", example(key))));
    }
    match slot {
        Some(old) if *old != value => Err(bad(format!(
            "{key}: given twice ({old} and {value}); {why}"
        ))),
        _ => {
            *slot = Some(value);
            Ok(())
        }
    }
}

/// The instant a `before:`/`after:` value stands for. A bare date is a whole day in `tz`, like
/// Slack: `before:` is the start of that day and `after:` the start of the next, so `after:` of
/// a day excludes it. A value with a time of day is that instant either way.
fn day_bound(
    key: &str,
    value: &str,
    tz: chrono_tz::Tz,
    next_day: bool,
) -> Result<Timestamp, DomainError> {
    let fail = || {
        bad(format!(
            "{key}: needs a date like 2026-10-01, not {:?}",
            crate::id::truncate(value)
        ))
    };
    if let Ok(day) = NaiveDate::parse_from_str(value, "%Y-%m-%d") {
        let day = if next_day {
            day.succ_opt().ok_or_else(fail)?
        } else {
            day
        };
        return Timestamp::parse(&day.format("%Y-%m-%d").to_string(), tz).map_err(|_| fail());
    }
    Timestamp::parse(value, tz).map_err(|_| fail())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::UTC;

    fn p(q: &str) -> Query {
        parse(q, UTC).unwrap()
    }

    fn err(q: &str) -> String {
        match parse(q, UTC) {
            Err(DomainError::BadQuery(m)) => m,
            other => panic!("{q:?} gave {other:?}"),
        }
    }

    fn at(s: &str) -> Timestamp {
        Timestamp::parse(s, UTC).unwrap()
    }

    #[test]
    fn words_are_lower_cased_and_split_on_whitespace() {
        let q = p("  Budget\tQ4 \n REVIEW ");
        assert_eq!(q.terms, ["budget", "q4", "review"]);
        assert!(q.phrases.is_empty() && !q.is_empty());
        assert_eq!(q.text(), "budget q4 review");
        assert!(p("").is_empty() && p("   ").is_empty());
        assert_eq!(p(""), Query::default());
    }

    #[test]
    fn phrases_are_quoted_and_may_run_to_the_end() {
        let q = p(r#"plan "Release  Notes" draft "half typed"#);
        assert_eq!(q.terms, ["plan", "draft"]);
        assert_eq!(q.phrases, ["release notes", "half typed"]);
        assert_eq!(q.text(), "plan draft release notes half typed");
        assert_eq!(p(r#""" x"#).phrases, Vec::<String>::new());
        assert_eq!(p(r#"a"b"#).terms, [r#"a"b"#]);
    }

    #[test]
    fn channel_and_author_filters_drop_their_sigils() {
        let q = p("in:#General from:@Ada");
        assert_eq!(q.in_channel.as_deref(), Some("general"));
        assert_eq!(q.from_user.as_deref(), Some("ada"));
        assert!(q.is_empty());
        let q = p("IN:general FROM:ada in:#general");
        assert_eq!(q.in_channel.as_deref(), Some("general"));
        assert_eq!(q.from_user.as_deref(), Some("ada"));
        assert!(err("in:a in:b").contains("in: given twice"));
        assert!(err("from:ada from:bob").contains("from: given twice"));
    }

    #[test]
    fn has_filters() {
        let q = p("has:file has:LINK");
        assert!(q.has_file && q.has_link);
        assert!(err("has:emoji").contains("unknown has: value \"emoji\""));
    }

    #[test]
    fn before_is_the_start_of_its_day_and_after_the_end_of_its_day() {
        let q = p("after:2026-10-01 before:2026-11-01");
        assert_eq!(q.before, Some(at("2026-11-01T00:00:00Z")));
        assert_eq!(q.after, Some(at("2026-10-02T00:00:00Z")));
        // A time of day means that instant.
        assert_eq!(
            p("before:2026-11-01T14:30").before,
            Some(at("2026-11-01T14:30:00Z"))
        );
        assert_eq!(
            p("after:2026-11-01T14:30:00Z").after,
            Some(at("2026-11-01T14:30:00Z"))
        );
    }

    #[test]
    fn dates_are_days_in_the_given_zone() {
        let berlin = crate::time::parse_tz("Europe/Berlin").unwrap();
        let q = parse("before:2026-11-01 after:2026-10-24", berlin).unwrap();
        assert_eq!(q.before, Some(at("2026-10-31T23:00:00Z")));
        // Summer time ends at 03:00 on Oct 25th, so the midnight starting that day is +02:00.
        assert_eq!(q.after, Some(at("2026-10-24T22:00:00Z")));
        // The day after the change starts at +01:00, not 24 hours after the day before.
        let q = parse("after:2026-10-25", berlin).unwrap();
        assert_eq!(q.after, Some(at("2026-10-25T23:00:00Z")));
    }

    #[test]
    fn bad_dates_say_which_filter() {
        assert!(err("before:2026-13-01").starts_with("before: needs a date"));
        assert!(err("after:soon").starts_with("after: needs a date"));
    }

    #[test]
    fn an_empty_date_range_is_refused() {
        let m = err("before:2026-10-01 after:2026-10-01");
        assert!(m.contains("nothing could match"), "{m}");
        // after: excludes its own day, so the day before's before: leaves nothing either.
        assert!(err("after:2026-10-01 before:2026-10-02").contains("nothing could match"));
        assert!(parse("after:2026-10-01 before:2026-10-03", UTC).is_ok());
    }

    #[test]
    fn kinds_are_repeatable() {
        let q = p("is:task is:EVENT is:task");
        assert_eq!(q.kinds, [SearchKind::Task, SearchKind::Event]);
        assert!(err("is:thread").contains("unknown is: value"));
    }

    #[test]
    fn empty_filter_values_are_refused() {
        for q in [
            "in:", "from:", "has:", "before:", "after:", "is:", "in:#", "from:@",
        ] {
            assert!(err(q).contains("needs a value"), "{q}");
        }
    }

    #[test]
    fn unknown_keys_are_plain_words() {
        let q = p("http://example.org at 10:30 Foo:Bar");
        assert_eq!(q.terms, ["http://example.org", "at", "10:30", "foo:bar"]);
        assert_eq!(
            q,
            Query {
                terms: q.terms.clone(),
                ..Query::default()
            }
        );
    }

    #[test]
    fn long_queries_are_refused() {
        assert!(parse(&"a".repeat(MAX_QUERY_LEN), UTC).is_ok());
        // Characters, not bytes, count.
        assert!(parse(&"é".repeat(MAX_QUERY_LEN), UTC).is_ok());
        assert!(err(&"a".repeat(MAX_QUERY_LEN + 1)).contains("at most 500"));
    }

    #[test]
    fn kinds_parse_and_print() {
        assert_eq!("person".parse::<SearchKind>().unwrap(), SearchKind::Person);
        assert_eq!(SearchKind::Channel.to_string(), "channel");
    }
}
