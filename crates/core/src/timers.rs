//! Timers that fire offline: scheduled messages, message reminders, event reminders, meetings
//! starting, tasks due soon, and focus sessions running out. Each fires once: its key is recorded
//! in the same transaction as its effect, so a restart neither loses nor repeats it.

use crate::{Engine, Result, chat::Scheduled, workspace::parse};
use weft_domain::{
    Event, EventType, FocusState, Id, NotificationKind, Task, Timestamp,
    time::{DAY_MS, MINUTE_MS},
};
use weft_sync::DocId;

/// How far back a timer missed while the app was closed still fires on the next start.
pub const CATCH_UP_MS: i64 = DAY_MS;
/// "Due soon" means due within this.
pub const DUE_SOON_MS: i64 = DAY_MS;

/// What a tick did.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct TickReport {
    pub messages_sent: Vec<Id>,
    /// Inbox keys of notifications created.
    pub notified: Vec<String>,
    pub focus_completed: Option<Id>,
    /// Kinds and counts of held notifications released (the summary to show).
    pub released: Vec<(String, i64)>,
}

impl Engine {
    /// Fires everything due by now. Call it every few seconds, and once at start-up.
    pub fn tick(&mut self) -> Result<TickReport> {
        let Some(me) = self.me else {
            return Ok(TickReport::default());
        };
        let now = self.now();
        let mut report = TickReport::default();

        for (key, kind, json) in self.store.timers_due(now.0)? {
            let s: Scheduled = parse(&json)?;
            let id: Id = key
                .split_once(':')
                .map(|(_, k)| k)
                .unwrap_or(&key)
                .parse()?;
            if s.cancelled {
                continue;
            }
            match kind.as_str() {
                "scheduled" => {
                    if let Some(ch) = s.channel {
                        // The scheduled item's id is the message id: two devices firing the same
                        // schedule send one message.
                        let opts = crate::chat::SendOptions {
                            id: Some(id),
                            parent: s.parent,
                            ..Default::default()
                        };
                        match self.send(ch, &s.text, opts) {
                            Ok(_) => report.messages_sent.push(id),
                            Err(e) => {
                                tracing::warn!(error = %e, "scheduled message could not be sent")
                            }
                        }
                    }
                }
                _ => {
                    let k = format!("reminder:{id}");
                    let target = s
                        .message
                        .map(|m| format!("message:{m}"))
                        .unwrap_or_default();
                    let ws = s.workspace.map(|w| w.to_string());
                    let quiet = self.notify.quiet(now);
                    let added = self.tx_write(|tx| {
                        Ok(tx.inbox_add(
                            &k,
                            NotificationKind::MessageReminder.as_str(),
                            ws.as_deref(),
                            None,
                            "Reminder",
                            &s.text,
                            &target,
                            now.0,
                            quiet,
                        )?)
                    })?;
                    if added {
                        report.notified.push(k);
                    }
                }
            }
            let coll = if kind == "scheduled" {
                "scheduled"
            } else {
                "reminders"
            };
            self.edit(&DocId::personal(me.user), |e| {
                e.set(coll, &id.to_string(), &["done"], &true)
            })?;
        }

        // Event reminders and meetings starting, for events I attend.
        let my = me.user.to_string();
        let horizon = 28 * DAY_MS;
        for row in self
            .store
            .events_overlapping(None, now.0 - CATCH_UP_MS, now.0 + horizon)?
        {
            let mut e: Event = parse(&row.json)?;
            e.id = row.id.parse().ok();
            if !e.attendees.contains_key(&my) || e.cancelled {
                continue;
            }
            for occ in crate::calendar::expand(
                &e,
                Timestamp(now.0 - CATCH_UP_MS),
                Timestamp(now.0 + horizon),
            ) {
                let mut alarms: Vec<(i64, String, NotificationKind, String)> = e
                    .reminders
                    .iter()
                    .map(|r| {
                        (
                            occ.start.0 - i64::from(r.minutes_before) * MINUTE_MS,
                            format!("evrem:{}:{}:{}", row.id, occ.start.0, r.minutes_before),
                            NotificationKind::EventReminder,
                            format!("{} starts at {}", e.title, occ.start),
                        )
                    })
                    .collect();
                if e.kind == EventType::Meeting {
                    alarms.push((
                        occ.start.0,
                        format!("meetstart:{}:{}", row.id, occ.start.0),
                        NotificationKind::MeetingStarting,
                        format!("{} is starting", e.title),
                    ));
                }
                for (due, key, kind, body) in alarms {
                    if due > now.0 || due < now.0 - CATCH_UP_MS || occ.end.0 < now.0 {
                        continue;
                    }
                    let target = format!("event:{}", row.id);
                    let ws = row.workspace.clone();
                    let quiet = self.notify.quiet(now);
                    let fired = self.tx_write(|tx| {
                        if !tx.fire_once(&key, now.0)? {
                            return Ok(false);
                        }
                        tx.inbox_add(
                            &key,
                            kind.as_str(),
                            Some(&ws),
                            None,
                            &e.title,
                            &body,
                            &target,
                            now.0,
                            quiet,
                        )?;
                        Ok(true)
                    })?;
                    if fired {
                        report.notified.push(key);
                    }
                }
            }
        }

        // Tasks assigned to me and due within a day.
        for row in self
            .store
            .tasks_due(now.0 - CATCH_UP_MS, now.0 + DUE_SOON_MS)?
        {
            let t: Task = parse(&row.json)?;
            if t.assignee != Some(me.user) {
                continue;
            }
            let due = t.due.map(|d| d.0).unwrap_or(0);
            let key = format!("due:{}:{due}", row.id);
            let quiet = self.notify.quiet(now);
            let body = format!("{} is due {}", t.title, Timestamp(due));
            let target = format!("task:{}", row.id);
            let fired = self.tx_write(|tx| {
                if !tx.fire_once(&key, now.0)? {
                    return Ok(false);
                }
                tx.inbox_add(
                    &key,
                    NotificationKind::TaskDueSoon.as_str(),
                    None,
                    None,
                    "Task due soon",
                    &body,
                    &target,
                    now.0,
                    quiet,
                )?;
                Ok(true)
            })?;
            if fired {
                report.notified.push(key);
            }
        }

        // A running focus session whose time is up completes.
        if let Some(f) = self.focus_current()?
            && f.state == FocusState::Running
            && f.ends_at(now) <= now
            && let Some(id) = f.id
        {
            let end = f.ends_at(now);
            let out = self.focus_finish(id, &f, true, end)?;
            report.focus_completed = Some(id);
            report.released = out.held;
        }

        self.maintain()?;

        // Do-not-disturb over and not focusing: release what was held.
        if !self.notify.quiet(now) {
            let held = self.store.held_summary()?;
            if !held.is_empty() {
                self.tx_write(|tx| Ok(tx.inbox_release_held()?))?;
                if report.released.is_empty() {
                    report.released = held;
                }
            }
        }
        Ok(report)
    }
}
