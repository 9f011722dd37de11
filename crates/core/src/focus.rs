//! Focus sessions: start, pause, resume, interruptions, notes, complete or abandon; goals and
//! stats; "focusing until 14:30" shown to the team; notifications held while focusing.

use crate::{CoreError, Engine, Result, workspace::parse};
use weft_domain::{
    DailyGoal, DomainError, FocusKind, FocusSession, FocusState, FocusStats, Id, Timestamp,
    focus::{MAX_SESSION_MINUTES, day_string, stats},
    time::{DAY_MS, MINUTE_MS},
};
use weft_sync::DocId;

/// What ending a session reports: the session and what was held back meanwhile.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct FocusEnd {
    pub session: FocusSession,
    pub held: Vec<(String, i64)>,
}

impl Engine {
    /// The running or paused session, if any.
    pub fn focus_current(&self) -> Result<Option<FocusSession>> {
        Ok(self
            .store
            .open_focus_sessions()?
            .iter()
            .filter_map(|j| serde_json::from_str(j).ok())
            .next_back())
    }

    fn focus_open(&self) -> Result<(Id, FocusSession)> {
        let f = self
            .focus_current()?
            .ok_or_else(|| CoreError::NotFound("a running focus session".into()))?;
        let id =
            f.id.ok_or_else(|| CoreError::NotFound("focus session id".into()))?;
        Ok((id, f))
    }

    /// Starts a session.
    pub fn focus_start(
        &mut self,
        kind: FocusKind,
        minutes: Option<u32>,
        workspace: Option<Id>,
    ) -> Result<FocusSession> {
        let me = self.me()?.user;
        if self.focus_current()?.is_some() {
            return Err(DomainError::Invalid(
                "a focus session is already running: stop it first".into(),
            )
            .into());
        }
        let minutes = minutes.unwrap_or(kind.default_minutes());
        if minutes == 0 || minutes > MAX_SESSION_MINUTES {
            return Err(DomainError::Invalid(format!(
                "a session lasts 1 to {MAX_SESSION_MINUTES} minutes"
            ))
            .into());
        }
        let now = self.now();
        let id = self.new_id();
        let f = FocusSession {
            id: Some(id),
            kind,
            workspace,
            planned_minutes: minutes,
            started_at: now,
            state: FocusState::Running,
            resumed_at: Some(now),
            ..FocusSession::default()
        };
        self.edit(&DocId::personal(me), |e| {
            e.create("focus", &id.to_string(), &f)
        })?;
        self.publish_focus(Some(f.ends_at(now)))?;
        self.reload_notify_state()?;
        Ok(f)
    }

    /// Pauses the running session.
    pub fn focus_pause(&mut self) -> Result<FocusSession> {
        let me = self.me()?.user;
        let (id, f) = self.focus_open()?;
        if f.state != FocusState::Running {
            return Err(DomainError::Invalid("the session is not running".into()).into());
        }
        let now = self.now();
        let acc = f.elapsed_ms(now);
        let key = id.to_string();
        self.edit(&DocId::personal(me), |e| {
            e.set("focus", &key, &["accumulated_ms"], &acc)?;
            e.set("focus", &key, &["resumed_at"], &None::<i64>)?;
            e.set("focus", &key, &["state"], &FocusState::Paused)
        })?;
        self.publish_focus(None)?;
        self.reload_notify_state()?;
        self.focus_get(id)
    }

    /// Resumes a paused session.
    pub fn focus_resume(&mut self) -> Result<FocusSession> {
        let me = self.me()?.user;
        let (id, f) = self.focus_open()?;
        if f.state != FocusState::Paused {
            return Err(DomainError::Invalid("the session is not paused".into()).into());
        }
        let now = self.now();
        let key = id.to_string();
        self.edit(&DocId::personal(me), |e| {
            e.set("focus", &key, &["resumed_at"], &now)?;
            e.set("focus", &key, &["state"], &FocusState::Running)
        })?;
        let f = self.focus_get(id)?;
        self.publish_focus(Some(f.ends_at(now)))?;
        self.reload_notify_state()?;
        Ok(f)
    }

    /// Counts an interruption, with an optional note.
    pub fn focus_interrupt(&mut self, note: Option<&str>) -> Result<FocusSession> {
        let me = self.me()?.user;
        let (id, f) = self.focus_open()?;
        let key = id.to_string();
        let notes = match note {
            Some(n) if !n.trim().is_empty() => {
                let joined = if f.notes.is_empty() {
                    n.trim().to_owned()
                } else {
                    format!("{}\n{}", f.notes, n.trim())
                };
                Some(weft_domain::validate::text(
                    "notes",
                    &joined,
                    weft_domain::validate::MAX_TEXT,
                )?)
            }
            _ => None,
        };
        self.edit(&DocId::personal(me), |e| {
            e.set("focus", &key, &["interruptions"], &(f.interruptions + 1))?;
            if let Some(n) = &notes {
                e.set("focus", &key, &["notes"], n)?;
            }
            Ok(())
        })?;
        self.focus_get(id)
    }

    /// Sets the session's notes.
    pub fn focus_notes(&mut self, notes: &str) -> Result<FocusSession> {
        let me = self.me()?.user;
        let (id, _) = self.focus_open()?;
        let notes = weft_domain::validate::text("notes", notes, weft_domain::validate::MAX_TEXT)?;
        self.edit(&DocId::personal(me), |e| {
            e.set("focus", &id.to_string(), &["notes"], &notes)
        })?;
        self.focus_get(id)
    }

    /// Ends the session, completed or abandoned; releases held notifications and reports them.
    pub fn focus_stop(&mut self, completed: bool) -> Result<FocusEnd> {
        let (id, f) = self.focus_open()?;
        let now = self.now();
        self.focus_finish(id, &f, completed, now)
    }

    pub(crate) fn focus_finish(
        &mut self,
        id: Id,
        f: &FocusSession,
        completed: bool,
        at: Timestamp,
    ) -> Result<FocusEnd> {
        let me = self.me()?.user;
        let elapsed = f
            .elapsed_ms(at)
            .min(i64::from(f.planned_minutes) * MINUTE_MS);
        let state = if completed {
            FocusState::Completed
        } else {
            FocusState::Abandoned
        };
        let key = id.to_string();
        self.edit(&DocId::personal(me), |e| {
            e.set("focus", &key, &["accumulated_ms"], &elapsed)?;
            e.set("focus", &key, &["resumed_at"], &None::<i64>)?;
            e.set("focus", &key, &["ended_at"], &at)?;
            e.set("focus", &key, &["state"], &state)
        })?;
        self.publish_focus(None)?;
        self.publish_focus_minutes(f.started_at)?;
        self.reload_notify_state()?;
        let held = self.store.held_summary()?;
        if !self.notify.quiet(at) {
            self.tx_write(|tx| Ok(tx.inbox_release_held()?))?;
        }
        Ok(FocusEnd {
            session: self.focus_get(id)?,
            held,
        })
    }

    fn focus_get(&self, id: Id) -> Result<FocusSession> {
        let j = self
            .store
            .personal("focus", &id.to_string())?
            .ok_or_else(|| CoreError::NotFound(format!("focus session {id}")))?;
        parse(&j)
    }

    /// Shows (or clears) "focusing until …" in every workspace.
    fn publish_focus(&mut self, until: Option<Timestamp>) -> Result<()> {
        let me = self.me()?.user.to_string();
        for ws in self.workspace_ids()? {
            if self
                .store
                .entity("profiles", &ws.to_string(), &me)?
                .is_some()
                && self.my_role(ws).is_ok()
            {
                self.edit(&DocId::workspace(ws), |e| {
                    e.set("profiles", &me, &["focus_until"], &until)
                })?;
            }
        }
        Ok(())
    }

    /// Publishes the day's focus minutes to my workspaces (for team analytics).
    fn publish_focus_minutes(&mut self, day_of: Timestamp) -> Result<()> {
        let me = self.me()?.user.to_string();
        let day = day_of.day();
        let minutes: i64 = self
            .store
            .focus_sessions(day * DAY_MS, (day + 1) * DAY_MS)?
            .iter()
            .filter_map(|j| serde_json::from_str::<FocusSession>(j).ok())
            .filter(|f| !f.is_open())
            .map(|f| f.accumulated_ms / MINUTE_MS)
            .sum();
        let key = format!("{me}:{}", day_string(day));
        for ws in self.workspace_ids()? {
            if self.my_role(ws).is_ok() {
                self.edit(&DocId::workspace(ws), |e| {
                    e.create("focus_days", &key, &minutes)
                })?;
            }
        }
        Ok(())
    }

    /// Stats over `[from_day, to_day]` (days since the epoch, UTC).
    pub fn focus_stats(&self, from_day: i64, to_day: i64) -> Result<FocusStats> {
        if to_day < from_day || to_day - from_day > 366 {
            return Err(DomainError::Invalid("a stats range covers 1 to 367 days".into()).into());
        }
        let sessions: Vec<FocusSession> = self
            .store
            .focus_sessions(from_day * DAY_MS, (to_day + 1) * DAY_MS)?
            .iter()
            .filter_map(|j| serde_json::from_str(j).ok())
            .collect();
        Ok(stats(&sessions, from_day, to_day, self.now()))
    }

    /// Sets today's focus goal (and the default for later days).
    pub fn set_daily_goal(&mut self, minutes: u32) -> Result<DailyGoal> {
        if minutes > 24 * 60 {
            return Err(DomainError::Invalid("a daily goal is at most 24 hours".into()).into());
        }
        let me = self.me()?.user;
        let date = day_string(self.now().day());
        let g = DailyGoal {
            date: date.clone(),
            target_minutes: minutes,
        };
        self.edit(&DocId::personal(me), |e| e.create("goals", &date, &g))?;
        self.update_settings(|s| s.daily_focus_goal_minutes = minutes)?;
        Ok(g)
    }

    /// Today's goal and progress in minutes.
    pub fn daily_goal(&self) -> Result<(u32, u64)> {
        let today = self.now().day();
        let date = day_string(today);
        let target = match self.store.personal("goals", &date)? {
            Some(j) => parse::<DailyGoal>(&j)?.target_minutes,
            None => self.settings()?.daily_focus_goal_minutes,
        };
        Ok((target, self.focus_stats(today, today)?.minutes))
    }
}
