//! Daily figures per user and per team, computed locally from the read model.

use crate::{Engine, Result};
use std::collections::{BTreeMap, BTreeSet};
use weft_domain::{DomainError, Id, TeamDay, UserDay, focus::day_string, time::DAY_MS};

impl Engine {
    /// Per-user and per-team figures for each day of `[from_day, to_day]` (days since the epoch).
    pub fn analytics(
        &self,
        ws: Id,
        from_day: i64,
        to_day: i64,
    ) -> Result<(Vec<UserDay>, Vec<TeamDay>)> {
        self.my_role(ws)?;
        if to_day < from_day || to_day - from_day > 366 {
            return Err(
                DomainError::Invalid("an analytics range covers 1 to 367 days".into()).into(),
            );
        }
        let w = ws.to_string();
        let (from, to) = (from_day * DAY_MS, (to_day + 1) * DAY_MS);
        let mut users: BTreeMap<(String, String), UserDay> = BTreeMap::new();
        fn entry(
            users: &mut BTreeMap<(String, String), UserDay>,
            day: String,
            user: String,
        ) -> &mut UserDay {
            users
                .entry((day.clone(), user.clone()))
                .or_insert_with(|| UserDay {
                    date: day,
                    user,
                    ..UserDay::default()
                })
        }
        for (user, day, n) in self.store.messages_per_user_day(&w, from, to)? {
            entry(&mut users, day_string(day), user).messages_sent += n as u64;
        }
        for (user, day, n) in self.store.tasks_done_per_user_day(&w, from, to)? {
            entry(&mut users, day_string(day), user).tasks_completed += n as u64;
        }
        let (lo, hi) = (day_string(from_day), day_string(to_day));
        for (user, day, minutes) in self.store.focus_minutes_per_user_day(&w)? {
            if day >= lo && day <= hi {
                entry(&mut users, day, user).focus_minutes += minutes.max(0) as u64;
            }
        }
        let mut meetings_per_day: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (user, day, n) in self.store.meetings_per_user_day(&w, from, to)? {
            entry(&mut users, day_string(day), user).meetings_attended += n as u64;
        }
        for m in self.meetings(ws)? {
            if let Some(s) = m.start.filter(|s| s.0 >= from && s.0 < to)
                && m.participants.values().any(|p| p.joined_at.is_some())
            {
                meetings_per_day
                    .entry(day_string(s.day()))
                    .or_default()
                    .insert(m.id.map(|i| i.to_string()).unwrap_or_default());
            }
        }
        let mut team: BTreeMap<String, TeamDay> = (from_day..=to_day)
            .map(|d| {
                (
                    day_string(d),
                    TeamDay {
                        date: day_string(d),
                        ..TeamDay::default()
                    },
                )
            })
            .collect();
        for u in users.values() {
            if let Some(t) = team.get_mut(&u.date) {
                t.active_members += 1;
                t.messages_sent += u.messages_sent;
                t.tasks_completed += u.tasks_completed;
                t.focus_minutes += u.focus_minutes;
            }
        }
        for (day, set) in meetings_per_day {
            if let Some(t) = team.get_mut(&day) {
                t.meetings = set.len() as u64;
            }
        }
        Ok((users.into_values().collect(), team.into_values().collect()))
    }
}
