//! Notifications: what reaches a person's inbox, and the rules that decide it.

use crate::{Id, NotificationLevel, Timestamp, string_enum};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

string_enum!(
    /// Why a notification exists.
    NotificationKind, "notification kind", {
        Mention => "mention", DirectMessage => "dm", ThreadReply => "thread_reply",
        Keyword => "keyword", ChannelMessage => "channel_message",
        TaskAssigned => "task_assigned", TaskCommented => "task_commented",
        TaskDueSoon => "task_due_soon", EventReminder => "event_reminder",
        MeetingStarting => "meeting_starting", Invite => "invite",
        MessageReminder => "message_reminder", ScheduledSent => "scheduled_sent"
    }
);

/// An inbox entry (derived from changes; only its read state is replicated).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Notification {
    /// Stable across replicas: derived from what caused it (`mention:<message id>`, ...).
    pub key: String,
    pub kind: NotificationKind,
    pub workspace: Option<Id>,
    pub title: String,
    pub body: String,
    /// What to open: `message:<id>`, `task:<id>`, `event:<id>`.
    pub target: String,
    pub at: Timestamp,
    pub read: bool,
    /// Held back by do-not-disturb or focus; shown in the summary afterwards.
    pub held: bool,
}

/// A daily do-not-disturb window in the person's own time zone, e.g. 22:00 to 08:00.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(default)]
pub struct DndSchedule {
    pub enabled: bool,
    /// Minutes after local midnight.
    pub start_minute: u16,
    pub end_minute: u16,
    pub timezone: String,
}

/// A person's notification preferences.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(default)]
pub struct NotificationPrefs {
    /// Default level for channels with no level of their own.
    pub default_level: NotificationLevel,
    /// channel id -> level.
    pub channel_levels: BTreeMap<String, NotificationLevel>,
    /// channel id -> muted.
    pub muted: BTreeMap<String, bool>,
    /// Words that notify wherever they appear (case-insensitive).
    pub keywords: Vec<String>,
    pub dnd: DndSchedule,
    /// Snooze everything until then.
    pub snoozed_until: Option<Timestamp>,
}

impl Default for NotificationPrefs {
    fn default() -> Self {
        NotificationPrefs {
            default_level: NotificationLevel::Mentions,
            channel_levels: BTreeMap::new(),
            muted: BTreeMap::new(),
            keywords: Vec::new(),
            dnd: DndSchedule::default(),
            snoozed_until: None,
        }
    }
}

/// What the engine knows about a new message when deciding whether it notifies someone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageContext<'a> {
    /// Channel id.
    pub channel: &'a str,
    /// A DM or group DM.
    pub is_dm: bool,
    pub author_is_me: bool,
    pub text: &'a str,
    /// The recipient's username; the caller uses it to compute `mentions_me`.
    pub my_username: &'a str,
    /// `@me`, `@channel` or `@here` (computed by the caller).
    pub mentions_me: bool,
    pub reply_in_followed_thread: bool,
}

/// Decides the notification kind a message gives this person, or None.
///
/// Muting silences a channel completely, DMs included, and so does the level "nothing";
/// otherwise the strongest reason wins: DM, mention, followed thread, keyword, then any message
/// when the level is "all".
pub fn message_notification(
    prefs: &NotificationPrefs,
    ctx: &MessageContext<'_>,
) -> Option<NotificationKind> {
    if ctx.author_is_me || prefs.muted.get(ctx.channel).copied().unwrap_or(false) {
        return None;
    }
    let level = prefs
        .channel_levels
        .get(ctx.channel)
        .copied()
        .unwrap_or(prefs.default_level);
    if level == NotificationLevel::Nothing {
        return None;
    }
    if ctx.is_dm {
        Some(NotificationKind::DirectMessage)
    } else if ctx.mentions_me {
        Some(NotificationKind::Mention)
    } else if ctx.reply_in_followed_thread {
        Some(NotificationKind::ThreadReply)
    } else if has_keyword(ctx.text, &prefs.keywords) {
        Some(NotificationKind::Keyword)
    } else if level == NotificationLevel::All {
        Some(NotificationKind::ChannelMessage)
    } else {
        None
    }
}

/// Whether `text` contains one of `keywords` as whole words, ignoring case. A keyword may hold
/// several words, separated by any whitespace in the text; it must not start or end inside a
/// word of the text, so "art" does not fire on "start" (where a keyword's own edge is not a
/// word character, like "c++", that edge may touch anything).
fn has_keyword(text: &str, keywords: &[String]) -> bool {
    let normal = |s: &str| {
        s.split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .to_lowercase()
    };
    let text = normal(text);
    let is_word = |c: char| c.is_alphanumeric() || c == '_';
    keywords.iter().any(|k| {
        let k = normal(k);
        let (Some(first), Some(last)) = (k.chars().next(), k.chars().next_back()) else {
            return false;
        };
        text.match_indices(&k).any(|(at, _)| {
            let before = text[..at].chars().next_back();
            let after = text[at + k.len()..].chars().next();
            let starts_inside = is_word(first) && before.is_some_and(is_word);
            let ends_inside = is_word(last) && after.is_some_and(is_word);
            !(starts_inside || ends_inside)
        })
    })
}

/// Whether notifications are held at `now` (do-not-disturb window or snooze).
///
/// The window is `[start, end)` in the schedule's time zone (UTC when it is empty or unknown)
/// and wraps midnight when `end < start`, e.g. 22:00 to 08:00; `start == end` never holds.
pub fn is_quiet(prefs: &NotificationPrefs, now: Timestamp) -> bool {
    if prefs.snoozed_until.is_some_and(|until| until > now) {
        return true;
    }
    let dnd = &prefs.dnd;
    // A minute of 1440 is the midnight that ends the day, the same as 0.
    let (start, end) = (
        dnd.start_minute % MINUTES_PER_DAY,
        dnd.end_minute % MINUTES_PER_DAY,
    );
    if !dnd.enabled || start == end {
        return false;
    }
    use chrono::Timelike;
    let tz = dnd
        .timezone
        .trim()
        .parse::<chrono_tz::Tz>()
        .unwrap_or(chrono_tz::UTC);
    let local = now.to_utc().with_timezone(&tz);
    // Hours and minutes are below 24 and 60, so the casts cannot truncate.
    let minute = (local.hour() * 60 + local.minute()) as u16;
    if start < end {
        (start..end).contains(&minute)
    } else {
        minute >= start || minute < end
    }
}

const MINUTES_PER_DAY: u16 = 24 * 60;

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(text: &str) -> MessageContext<'_> {
        MessageContext {
            channel: "c1",
            is_dm: false,
            author_is_me: false,
            text,
            my_username: "ada",
            mentions_me: false,
            reply_in_followed_thread: false,
        }
    }

    fn prefs_with(level: NotificationLevel) -> NotificationPrefs {
        NotificationPrefs {
            default_level: level,
            ..Default::default()
        }
    }

    fn at(s: &str) -> Timestamp {
        Timestamp::parse(s, chrono_tz::UTC).unwrap()
    }

    #[test]
    fn own_messages_never_notify() {
        let prefs = prefs_with(NotificationLevel::All);
        let c = MessageContext {
            author_is_me: true,
            is_dm: true,
            mentions_me: true,
            ..ctx("hi")
        };
        assert_eq!(message_notification(&prefs, &c), None);
    }

    #[test]
    fn muted_channels_are_silent_even_for_dms_and_mentions() {
        let mut prefs = prefs_with(NotificationLevel::All);
        prefs.muted.insert("c1".into(), true);
        let c = MessageContext {
            is_dm: true,
            mentions_me: true,
            ..ctx("hi")
        };
        assert_eq!(message_notification(&prefs, &c), None);
        // Unmuted again (the map keeps `false`).
        prefs.muted.insert("c1".into(), false);
        assert_eq!(
            message_notification(&prefs, &c),
            Some(NotificationKind::DirectMessage)
        );
    }

    #[test]
    fn level_nothing_silences_everything() {
        let mut prefs = prefs_with(NotificationLevel::All);
        prefs
            .channel_levels
            .insert("c1".into(), NotificationLevel::Nothing);
        prefs.keywords = vec!["launch".into()];
        let c = MessageContext {
            is_dm: true,
            mentions_me: true,
            reply_in_followed_thread: true,
            ..ctx("launch")
        };
        assert_eq!(message_notification(&prefs, &c), None);
    }

    #[test]
    fn reasons_in_priority_order() {
        let mut prefs = prefs_with(NotificationLevel::All);
        prefs.keywords = vec!["launch".into()];
        let all = MessageContext {
            is_dm: true,
            mentions_me: true,
            reply_in_followed_thread: true,
            ..ctx("launch")
        };
        let n = |c: MessageContext<'_>| message_notification(&prefs, &c);
        assert_eq!(n(all), Some(NotificationKind::DirectMessage));
        assert_eq!(
            n(MessageContext {
                is_dm: false,
                ..all
            }),
            Some(NotificationKind::Mention)
        );
        let thread = MessageContext {
            is_dm: false,
            mentions_me: false,
            ..all
        };
        assert_eq!(n(thread), Some(NotificationKind::ThreadReply));
        let keyword = MessageContext {
            reply_in_followed_thread: false,
            ..thread
        };
        assert_eq!(n(keyword), Some(NotificationKind::Keyword));
        assert_eq!(n(ctx("lunch")), Some(NotificationKind::ChannelMessage));
    }

    #[test]
    fn mentions_level_needs_a_reason() {
        let prefs = NotificationPrefs::default();
        assert_eq!(prefs.default_level, NotificationLevel::Mentions);
        assert_eq!(message_notification(&prefs, &ctx("hello")), None);
        let c = MessageContext {
            mentions_me: true,
            ..ctx("hi @ada")
        };
        assert_eq!(
            message_notification(&prefs, &c),
            Some(NotificationKind::Mention)
        );
        // A channel's own level overrides the default.
        let mut prefs = prefs;
        prefs
            .channel_levels
            .insert("c1".into(), NotificationLevel::All);
        assert_eq!(
            message_notification(&prefs, &ctx("hello")),
            Some(NotificationKind::ChannelMessage)
        );
    }

    #[test]
    fn keywords_match_whole_words_ignoring_case() {
        let prefs = NotificationPrefs {
            keywords: vec![
                "Art".into(),
                "release train".into(),
                "c++".into(),
                " ".into(),
            ],
            ..Default::default()
        };
        let kind = |text: &str| message_notification(&prefs, &ctx(text));
        for text in [
            "ART!",
            "the art.",
            "next Release \n Train",
            "Release train, soon",
            "in C++x",
        ] {
            assert_eq!(kind(text), Some(NotificationKind::Keyword), "{text:?}");
        }
        for text in ["start", "artful", "art_work", "prerelease train", "", "   "] {
            assert_eq!(kind(text), None, "{text:?}");
        }
        // Non-ASCII text whose lower case changes length.
        assert_eq!(kind("İstanbul art"), Some(NotificationKind::Keyword));
    }

    #[test]
    fn snooze_holds_until_its_end() {
        let prefs = NotificationPrefs {
            snoozed_until: Some(Timestamp(1_000)),
            ..Default::default()
        };
        assert!(is_quiet(&prefs, Timestamp(999)));
        assert!(!is_quiet(&prefs, Timestamp(1_000)));
        assert!(!is_quiet(&NotificationPrefs::default(), Timestamp(0)));
    }

    fn dnd(start: u16, end: u16, tz: &str) -> NotificationPrefs {
        let dnd = DndSchedule {
            enabled: true,
            start_minute: start,
            end_minute: end,
            timezone: tz.into(),
        };
        NotificationPrefs {
            dnd,
            ..Default::default()
        }
    }

    #[test]
    fn dnd_window_within_a_day() {
        let prefs = dnd(12 * 60, 13 * 60, "");
        assert!(!is_quiet(&prefs, at("2026-01-10T11:59:00Z")));
        assert!(is_quiet(&prefs, at("2026-01-10T12:00:00Z")));
        assert!(is_quiet(&prefs, at("2026-01-10T12:59:59Z")));
        assert!(!is_quiet(&prefs, at("2026-01-10T13:00:00Z")));
        let off = NotificationPrefs {
            dnd: DndSchedule {
                enabled: false,
                ..prefs.dnd
            },
            ..prefs
        };
        assert!(!is_quiet(&off, at("2026-01-10T12:30:00Z")));
    }

    #[test]
    fn dnd_window_across_midnight_in_local_time() {
        // 22:00 to 08:00 in Berlin, which is UTC+1 in winter.
        let prefs = dnd(22 * 60, 8 * 60, "Europe/Berlin");
        assert!(!is_quiet(&prefs, at("2026-01-10T20:59:00Z")));
        assert!(is_quiet(&prefs, at("2026-01-10T21:00:00Z")));
        assert!(is_quiet(&prefs, at("2026-01-10T23:30:00Z")));
        assert!(is_quiet(&prefs, at("2026-01-11T06:59:00Z")));
        assert!(!is_quiet(&prefs, at("2026-01-11T07:00:00Z")));
    }

    #[test]
    fn dnd_follows_daylight_saving_time() {
        let prefs = dnd(22 * 60, 8 * 60, "Europe/Berlin");
        // 06:30 UTC is 07:30 in Berlin before the spring change, 08:30 after it (Mar 29th).
        assert!(is_quiet(&prefs, at("2026-03-28T06:30:00Z")));
        assert!(!is_quiet(&prefs, at("2026-03-29T06:30:00Z")));
        // And 20:30 UTC is 21:30, then 22:30.
        assert!(!is_quiet(&prefs, at("2026-03-28T20:30:00Z")));
        assert!(is_quiet(&prefs, at("2026-03-29T20:30:00Z")));
    }

    #[test]
    fn dnd_edge_cases() {
        // Same start and end: never.
        assert!(!is_quiet(&dnd(600, 600, "UTC"), at("2026-01-10T10:00:00Z")));
        // An unknown zone falls back to UTC.
        assert!(is_quiet(
            &dnd(600, 660, "Mars/Olympus"),
            at("2026-01-10T10:30:00Z")
        ));
        // 1440 is the midnight ending the day.
        assert!(is_quiet(
            &dnd(23 * 60, 1440, "UTC"),
            at("2026-01-10T23:30:00Z")
        ));
        assert!(!is_quiet(
            &dnd(23 * 60, 1440, "UTC"),
            at("2026-01-10T00:30:00Z")
        ));
    }
}
