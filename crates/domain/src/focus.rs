//! Focus sessions, daily goals and stats.

use crate::{Id, Timestamp, string_enum, time::MINUTE_MS};
use serde::{Deserialize, Serialize};

string_enum!(
    /// The kind of focus session.
    FocusKind, "focus kind", { Pomodoro => "pomodoro", Custom => "custom", DeepWork => "deep_work" }
);

string_enum!(
    /// Where a session is.
    FocusState, "focus state", { Running => "running", Paused => "paused",
                                 Completed => "completed", Abandoned => "abandoned" }
);

impl FocusKind {
    /// Default planned length in minutes.
    pub fn default_minutes(self) -> u32 {
        match self {
            FocusKind::Pomodoro => 25,
            FocusKind::Custom => 45,
            FocusKind::DeepWork => 90,
        }
    }
}

/// Longest session one may plan.
pub const MAX_SESSION_MINUTES: u32 = 12 * 60;

/// A focus session. Elapsed time is `accumulated_ms` plus, while running, the time since
/// `resumed_at`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(default)]
pub struct FocusSession {
    pub id: Option<Id>,
    pub kind: FocusKind,
    pub workspace: Option<Id>,
    pub planned_minutes: u32,
    pub started_at: Timestamp,
    pub state: FocusState,
    pub resumed_at: Option<Timestamp>,
    pub accumulated_ms: i64,
    pub ended_at: Option<Timestamp>,
    pub interruptions: u32,
    pub notes: String,
}

impl Default for FocusSession {
    fn default() -> Self {
        FocusSession {
            id: None,
            kind: FocusKind::Pomodoro,
            workspace: None,
            planned_minutes: 25,
            started_at: Timestamp(0),
            state: FocusState::Running,
            resumed_at: None,
            accumulated_ms: 0,
            ended_at: None,
            interruptions: 0,
            notes: String::new(),
        }
    }
}

impl FocusSession {
    /// Focused time so far, at `now`.
    pub fn elapsed_ms(&self, now: Timestamp) -> i64 {
        let live = match (self.state, self.resumed_at) {
            (FocusState::Running, Some(r)) => (now.0 - r.0).max(0),
            _ => 0,
        };
        self.accumulated_ms + live
    }

    /// When the session will be done if it keeps running from `now`.
    pub fn ends_at(&self, now: Timestamp) -> Timestamp {
        let left = i64::from(self.planned_minutes) * MINUTE_MS - self.elapsed_ms(now);
        Timestamp(now.0 + left.max(0))
    }

    /// Whether the session is still open.
    pub fn is_open(&self) -> bool {
        matches!(self.state, FocusState::Running | FocusState::Paused)
    }
}

/// A daily goal, per user (and optionally per workspace).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(default)]
pub struct DailyGoal {
    /// `YYYY-MM-DD`.
    pub date: String,
    pub target_minutes: u32,
}

/// Stats over a span of days.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct FocusStats {
    pub from: String,
    pub to: String,
    pub minutes: u64,
    pub sessions: u64,
    pub completed: u64,
    pub abandoned: u64,
    pub average_minutes: f64,
    pub interruptions: u64,
    /// Per day: (`YYYY-MM-DD`, minutes, sessions).
    pub days: Vec<(String, u64, u64)>,
}

/// Sums sessions (those that started within `[from_day, to_day]`, days since the epoch, UTC)
/// into stats, one row per day.
pub fn stats(sessions: &[FocusSession], from_day: i64, to_day: i64, now: Timestamp) -> FocusStats {
    let mut days: Vec<(String, u64, u64)> =
        (from_day..=to_day).map(|d| (day_string(d), 0, 0)).collect();
    let mut s = FocusStats {
        from: day_string(from_day),
        to: day_string(to_day),
        ..Default::default()
    };
    for f in sessions {
        let d = f.started_at.day();
        if d < from_day || d > to_day {
            continue;
        }
        let minutes = u64::try_from(f.elapsed_ms(now) / MINUTE_MS).unwrap_or(0);
        s.minutes += minutes;
        s.sessions += 1;
        s.interruptions += u64::from(f.interruptions);
        match f.state {
            FocusState::Completed => s.completed += 1,
            FocusState::Abandoned => s.abandoned += 1,
            _ => {}
        }
        if let Some(row) = usize::try_from(d - from_day)
            .ok()
            .and_then(|i| days.get_mut(i))
        {
            row.1 += minutes;
            row.2 += 1;
        }
    }
    s.average_minutes = if s.sessions == 0 {
        0.0
    } else {
        s.minutes as f64 / s.sessions as f64
    };
    s.days = days;
    s
}

/// `YYYY-MM-DD` for a day number since the epoch.
pub fn day_string(day: i64) -> String {
    Timestamp(day * crate::time::DAY_MS)
        .to_utc()
        .format("%Y-%m-%d")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paused_time_does_not_count() {
        let mut f = FocusSession {
            started_at: Timestamp(0),
            resumed_at: Some(Timestamp(0)),
            planned_minutes: 25,
            ..Default::default()
        };
        // 10 minutes in, pause.
        f.accumulated_ms = f.elapsed_ms(Timestamp(10 * MINUTE_MS));
        f.state = FocusState::Paused;
        f.resumed_at = None;
        assert_eq!(f.elapsed_ms(Timestamp(60 * MINUTE_MS)), 10 * MINUTE_MS);
        // Resume at 60 min: 15 minutes left.
        f.state = FocusState::Running;
        f.resumed_at = Some(Timestamp(60 * MINUTE_MS));
        assert_eq!(
            f.ends_at(Timestamp(60 * MINUTE_MS)),
            Timestamp(75 * MINUTE_MS)
        );
    }

    #[test]
    fn stats_by_day() {
        let done = |day: i64, mins: i64, interruptions| FocusSession {
            started_at: Timestamp(day * crate::time::DAY_MS),
            state: FocusState::Completed,
            accumulated_ms: mins * MINUTE_MS,
            interruptions,
            ..Default::default()
        };
        let s = stats(
            &[
                done(0, 25, 1),
                done(0, 50, 0),
                done(2, 30, 2),
                done(9, 99, 0),
            ],
            0,
            2,
            Timestamp(0),
        );
        assert_eq!((s.minutes, s.sessions, s.interruptions), (105, 3, 3));
        assert_eq!(s.average_minutes, 35.0);
        assert_eq!(s.days[0], ("1970-01-01".into(), 75, 2));
        assert_eq!(s.days[1].1, 0);
    }
}
