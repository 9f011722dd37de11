//! The calendar: events with recurrence, attendees, RSVP and reminders; task due dates; ICS;
//! meetings and their participants.

use crate::{CoreError, Engine, Result, SendOptions, workspace::parse};
use serde::{Deserialize, Serialize};
use weft_domain::{
    Attendee, DomainError, Event, EventType, Id, Meeting, MeetingStatus, Participant,
    ParticipantStatus, Recurrence, Reminder, Rsvp, Timestamp, ics, recurrence, validate,
};
use weft_sync::DocId;

/// Fields of a new event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(default)]
pub struct NewEvent {
    pub title: String,
    pub description: String,
    pub start: Timestamp,
    pub end: Timestamp,
    pub timezone: String,
    pub all_day: bool,
    pub location: String,
    pub kind: EventType,
    pub recurrence: Option<Recurrence>,
    pub attendees: Vec<Id>,
    pub reminders: Vec<u32>,
}

impl Default for NewEvent {
    fn default() -> Self {
        NewEvent {
            title: String::new(),
            description: String::new(),
            start: Timestamp(0),
            end: Timestamp(0),
            timezone: "UTC".into(),
            all_day: false,
            location: String::new(),
            kind: EventType::Other,
            recurrence: None,
            attendees: Vec::new(),
            reminders: Vec::new(),
        }
    }
}

/// One occurrence of an event in a range (recurring events expanded).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Occurrence {
    pub event: Event,
    pub start: Timestamp,
    pub end: Timestamp,
}

/// What the calendar shows in a range: occurrences and tasks due.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Agenda {
    pub occurrences: Vec<Occurrence>,
    pub tasks_due: Vec<weft_domain::Task>,
}

/// Most reminders on one event.
pub const MAX_REMINDERS: usize = 10;
/// Most attendees on one event.
pub const MAX_ATTENDEES: usize = 500;

impl Engine {
    fn event_ctx(&self, id: Id) -> Result<(Id, Event)> {
        for ws in self.workspace_ids()? {
            if let Some(j) = self
                .store
                .entity("events", &ws.to_string(), &id.to_string())?
            {
                let mut e: Event = parse(&j)?;
                e.id = Some(id);
                return Ok((ws, e));
            }
        }
        Err(CoreError::NotFound(format!("event {id}")))
    }

    /// One event.
    pub fn event(&self, id: Id) -> Result<Event> {
        Ok(self.event_ctx(id)?.1)
    }

    /// Creates an event.
    pub fn create_event(&mut self, ws: Id, n: NewEvent) -> Result<Event> {
        self.my_role(ws)?;
        let me = self.me()?.user;
        if n.reminders.len() > MAX_REMINDERS || n.reminders.iter().any(|m| *m > 60 * 24 * 28) {
            return Err(DomainError::Invalid(format!(
                "at most {MAX_REMINDERS} reminders, each at most 4 weeks before"
            ))
            .into());
        }
        if n.attendees.len() > MAX_ATTENDEES {
            return Err(DomainError::Invalid(format!("at most {MAX_ATTENDEES} attendees")).into());
        }
        let mut attendees: std::collections::BTreeMap<String, Attendee> = n
            .attendees
            .iter()
            .map(|a| (a.to_string(), Attendee::default()))
            .collect();
        attendees.insert(
            me.to_string(),
            Attendee {
                rsvp: Rsvp::Accepted,
                optional: false,
            },
        );
        let e = Event {
            id: None,
            title: validate::name("event title", &n.title)?,
            description: validate::text("description", &n.description, validate::MAX_TEXT)?,
            start: n.start,
            end: n.end,
            timezone: n.timezone,
            all_day: n.all_day,
            location: validate::text("location", &n.location, validate::MAX_NAME)?,
            kind: n.kind,
            recurrence: n.recurrence,
            attendees,
            reminders: n
                .reminders
                .iter()
                .map(|m| Reminder { minutes_before: *m })
                .collect(),
            created_by: Some(me),
            created_at: self.now(),
            ..Event::default()
        };
        e.validate()?;
        let id = self.new_id();
        self.edit(&DocId::calendar(ws), |x| {
            x.create("events", &id.to_string(), &e)
        })?;
        Ok(Event { id: Some(id), ..e })
    }

    /// Replaces an event's editable fields (its creator or an admin).
    pub fn update_event(&mut self, id: Id, f: impl FnOnce(&mut Event)) -> Result<Event> {
        let (ws, old) = self.event_ctx(id)?;
        let me = self.me()?.user;
        if old.created_by != Some(me) {
            self.require_admin(ws)?;
        }
        let mut e = old.clone();
        f(&mut e);
        e.id = None;
        e.validate()?;
        // What `create_event` checks holds for an edited event too.
        e.title = validate::name("event title", &e.title)?;
        e.description = validate::text("description", &e.description, validate::MAX_TEXT)?;
        e.location = validate::text("location", &e.location, validate::MAX_NAME)?;
        if e.reminders.len() > MAX_REMINDERS
            || e.reminders.iter().any(|r| r.minutes_before > 60 * 24 * 28)
        {
            return Err(DomainError::Invalid(format!(
                "at most {MAX_REMINDERS} reminders, each at most 4 weeks before"
            ))
            .into());
        }
        if e.attendees.len() > MAX_ATTENDEES {
            return Err(DomainError::Invalid(format!("at most {MAX_ATTENDEES} attendees")).into());
        }
        // A meeting the event schedules follows it: its title, description and time, and
        // the people newly invited (those taken off stay, with what they did kept).
        let meeting = self.meeting_of_event(ws, id)?;
        self.edit(&DocId::calendar(ws), |x| {
            x.upsert("events", &id.to_string(), &e)?;
            if let Some((mid, m)) = &meeting {
                let key = mid.to_string();
                x.set("meetings", &key, &["title"], &e.title)?;
                x.set("meetings", &key, &["description"], &e.description)?;
                if m.status == MeetingStatus::Scheduled {
                    x.set("meetings", &key, &["start"], &Some(e.start))?;
                    x.set("meetings", &key, &["end"], &Some(e.end))?;
                }
                for user in e.attendees.keys() {
                    if !m.participants.contains_key(user) {
                        x.set(
                            "meetings",
                            &key,
                            &["participants", user],
                            &Participant::default(),
                        )?;
                    }
                }
            }
            Ok(())
        })?;
        self.event(id)
    }

    /// The meeting an event schedules, if any.
    fn meeting_of_event(&self, ws: Id, event: Id) -> Result<Option<(Id, Meeting)>> {
        Ok(self
            .meetings(ws)?
            .into_iter()
            .find(|m| m.event == Some(event))
            .and_then(|m| Some((m.id?, m))))
    }

    /// Deletes an event, or (with `occurrence`) one occurrence of a recurring event.
    pub fn delete_event(&mut self, id: Id, occurrence: Option<Timestamp>) -> Result<()> {
        let (ws, e) = self.event_ctx(id)?;
        let me = self.me()?.user;
        if e.created_by != Some(me) {
            self.require_admin(ws)?;
        }
        let now = self.now();
        let key = id.to_string();
        match (occurrence, &e.recurrence) {
            (Some(at), Some(r)) => {
                let mut r = r.clone();
                if !r.exceptions.contains(&at) {
                    r.exceptions.push(at);
                }
                self.edit(&DocId::calendar(ws), |x| {
                    x.set("events", &key, &["recurrence"], &r)
                })
            }
            _ => {
                // Its meeting is called off with it, unless it has already started.
                let meeting = self.meeting_of_event(ws, id)?;
                self.edit(&DocId::calendar(ws), |x| {
                    x.set("events", &key, &["deleted_at"], &now)?;
                    if let Some((mid, m)) = &meeting
                        && m.status == MeetingStatus::Scheduled
                    {
                        x.set(
                            "meetings",
                            &mid.to_string(),
                            &["status"],
                            &MeetingStatus::Cancelled,
                        )?;
                    }
                    Ok(())
                })
            }
        }
    }

    /// Answers an invitation.
    pub fn rsvp(&mut self, id: Id, rsvp: Rsvp) -> Result<()> {
        let (ws, e) = self.event_ctx(id)?;
        let me = self.me()?.user.to_string();
        if !e.attendees.contains_key(&me) {
            return Err(CoreError::Forbidden(
                "you are not invited to this event".into(),
            ));
        }
        self.edit(&DocId::calendar(ws), |x| {
            x.set(
                "events",
                &id.to_string(),
                &["attendees", &me, "rsvp"],
                &rsvp,
            )
        })
    }

    /// Occurrences in `[from, to)` and tasks due then, for month, week and day views.
    pub fn agenda(&self, ws: Id, from: Timestamp, to: Timestamp) -> Result<Agenda> {
        self.my_role(ws)?;
        if to <= from {
            return Err(DomainError::EndBeforeStart {
                start: from.to_string(),
                end: to.to_string(),
            }
            .into());
        }
        let mut occurrences = Vec::new();
        for row in self
            .store
            .events_overlapping(Some(&ws.to_string()), from.0, to.0)?
        {
            let mut e: Event = parse(&row.json)?;
            e.id = row.id.parse().ok();
            occurrences.extend(expand(&e, from, to));
        }
        occurrences.sort_by_key(|o| (o.start, o.event.id));
        // This workspace's tasks, as shown (no file keys).
        let boards: std::collections::BTreeSet<String> = self
            .boards(ws)?
            .into_iter()
            .filter_map(|b| b.id.map(|i| i.to_string()))
            .collect();
        let tasks_due = self
            .store
            .tasks_due(from.0, to.0)?
            .into_iter()
            .filter(|r| boards.contains(&r.board))
            .filter_map(|r| {
                let mut t: weft_domain::Task = serde_json::from_str(&r.json).ok()?;
                t.id = r.id.parse().ok();
                Some(t.shown())
            })
            .collect();
        Ok(Agenda {
            occurrences,
            tasks_due,
        })
    }

    /// Imports events from ICS text; re-importing the same UIDs updates them.
    pub fn import_ics(&mut self, ws: Id, text: &str) -> Result<usize> {
        self.my_role(ws)?;
        let tz = self
            .settings()
            .ok()
            .and_then(|s| weft_domain::time::parse_tz(&s.timezone).ok())
            .unwrap_or(chrono_tz::UTC);
        let events = ics::parse(text, tz)?;
        let me = self.me()?.user;
        let now = self.now();
        let existing: std::collections::HashMap<String, String> = self
            .store
            .events(&ws.to_string())?
            .into_iter()
            .filter_map(|r| {
                let e: Event = serde_json::from_str(&r.json).ok()?;
                e.ics_uid.map(|u| (u, r.id))
            })
            .collect();
        let items: Vec<(String, Event)> = events
            .into_iter()
            .map(|mut e| {
                e.created_by.get_or_insert(me);
                e.created_at = now;
                let key = e
                    .ics_uid
                    .as_ref()
                    .and_then(|u| existing.get(u).cloned())
                    .unwrap_or_else(|| self.new_id().to_string());
                (key, e)
            })
            .collect();
        let n = items.len();
        self.edit(&DocId::calendar(ws), |x| {
            for (k, e) in &items {
                x.upsert("events", k, e)?;
            }
            Ok(())
        })?;
        Ok(n)
    }

    /// Exports a workspace's calendar as ICS.
    pub fn export_ics(&self, ws: Id) -> Result<String> {
        self.my_role(ws)?;
        let events: Vec<Event> = self
            .store
            .events(&ws.to_string())?
            .into_iter()
            .map(|r| {
                let mut e: Event = parse(&r.json)?;
                e.id = r.id.parse().ok();
                Ok(e)
            })
            .collect::<Result<_>>()?;
        Ok(ics::export(&events, self.now()))
    }

    /// Starts a call now in a channel or DM; I join it.
    pub fn start_call(&mut self, channel: Id) -> Result<Meeting> {
        let (ws, c) = self.channel(channel)?;
        self.my_role(ws)?;
        let me = self.me()?.user;
        let now = self.now();
        let id = self.new_id();
        let mut participants = std::collections::BTreeMap::new();
        for m in c.member_ids() {
            participants.insert(m.to_string(), Participant::default());
        }
        participants.insert(
            me.to_string(),
            Participant {
                status: ParticipantStatus::Joined,
                joined_at: Some(now),
                left_at: None,
            },
        );
        let m = Meeting {
            title: format!("Call in #{}", c.name),
            channel: Some(channel),
            link: weft_domain::meeting::join_link(id),
            status: MeetingStatus::InProgress,
            start: Some(now),
            created_by: Some(me),
            created_at: now,
            participants,
            ..Meeting::default()
        };
        self.edit(&DocId::calendar(ws), |x| {
            x.create("meetings", &id.to_string(), &m)
        })?;
        let thread = self.open_call_thread(ws, id, channel, CALL_STARTED)?;
        Ok(Meeting {
            id: Some(id),
            thread: Some(thread),
            ..m
        })
    }

    /// Posts the message whose thread is a meeting's chat in `channel`, and records it.
    /// The message takes the meeting's id, so two people starting the same meeting while
    /// apart post one message between them, and their chat is one thread.
    fn open_call_thread(&mut self, ws: Id, meeting: Id, channel: Id, text: &str) -> Result<Id> {
        let msg = self.send(
            channel,
            text,
            SendOptions {
                id: Some(meeting),
                ..SendOptions::default()
            },
        )?;
        let root = msg
            .id
            .ok_or_else(|| CoreError::NotFound("the call's message".into()))?;
        self.edit(&DocId::calendar(ws), |x| {
            x.set("meetings", &meeting.to_string(), &["thread"], &root)
        })?;
        Ok(root)
    }

    /// Schedules a meeting: a calendar event of kind meeting with a join link.
    pub fn schedule_meeting(
        &mut self,
        ws: Id,
        mut n: NewEvent,
        channel: Option<Id>,
    ) -> Result<(Event, Meeting)> {
        n.kind = EventType::Meeting;
        let attendees = n.attendees.clone();
        let mut event = self.create_event(ws, n)?;
        let eid = event
            .id
            .ok_or_else(|| CoreError::NotFound("event".into()))?;
        let me = self.me()?.user;
        let id = self.new_id();
        let link = weft_domain::meeting::join_link(id);
        let mut participants: std::collections::BTreeMap<String, Participant> = attendees
            .iter()
            .map(|a| (a.to_string(), Participant::default()))
            .collect();
        participants.insert(me.to_string(), Participant::default());
        let m = Meeting {
            id: None,
            title: event.title.clone(),
            description: event.description.clone(),
            channel,
            thread: None,
            event: Some(eid),
            link: link.clone(),
            status: MeetingStatus::Scheduled,
            start: Some(event.start),
            end: Some(event.end),
            created_by: Some(me),
            created_at: self.now(),
            participants,
        };
        self.edit(&DocId::calendar(ws), |x| {
            x.set("events", &eid.to_string(), &["meeting_link"], &link)?;
            x.create("meetings", &id.to_string(), &m)
        })?;
        event.meeting_link = Some(link.clone());
        // A meeting of invited people only has its chat in their group DM from the start, so
        // everyone invited then finds the same one (people invited later join the call, not
        // the DM). With nobody else invited, or more than a DM holds, it has no chat.
        let mut thread = None;
        if channel.is_none() && !attendees.is_empty() {
            let text = format!(
                "📅 Scheduled {:?}: {link}. Replies in this thread are the meeting's chat.",
                event.title
            );
            let opened = self.open_dm(ws, &attendees).and_then(|dm| {
                let dm = dm
                    .id
                    .ok_or_else(|| CoreError::NotFound("the meeting's DM".into()))?;
                self.open_call_thread(ws, id, dm, &text)
            });
            match opened {
                Ok(t) => thread = Some(t),
                Err(e) => tracing::warn!("meeting {id} has no chat: {e}"),
            }
        }
        Ok((
            event,
            Meeting {
                id: Some(id),
                thread,
                ..m
            },
        ))
    }

    pub(crate) fn meeting_ctx(&self, id: Id) -> Result<(Id, Meeting)> {
        for ws in self.workspace_ids()? {
            if let Some(j) = self
                .store
                .entity("meetings", &ws.to_string(), &id.to_string())?
            {
                let mut m: Meeting = parse(&j)?;
                m.id = Some(id);
                return Ok((ws, m));
            }
        }
        Err(CoreError::NotFound(format!("meeting {id}")))
    }

    /// The workspace a meeting belongs to.
    pub fn meeting_workspace(&self, id: Id) -> Result<Id> {
        Ok(self.meeting_ctx(id)?.0)
    }

    /// A meeting from its id or `weft://meet/<id>` link.
    pub fn meeting(&self, id_or_link: &str) -> Result<Meeting> {
        let id: Id = id_or_link.trim_start_matches("weft://meet/").parse()?;
        Ok(self.meeting_ctx(id)?.1)
    }

    /// Joins a meeting (invited people, or members of its channel).
    pub fn join_meeting(&mut self, id: Id) -> Result<Meeting> {
        let (ws, m) = self.meeting_ctx(id)?;
        self.my_role(ws)?;
        let me = self.me()?.user;
        let invited = m.participants.contains_key(&me.to_string())
            || m.channel
                .and_then(|c| self.channel(c).ok())
                .is_some_and(|(_, c)| {
                    c.kind == weft_domain::ChannelKind::Public
                        || c.members.get(&me.to_string()).copied().unwrap_or(false)
                });
        if !invited {
            return Err(CoreError::Forbidden(
                "you are not invited to this meeting".into(),
            ));
        }
        if matches!(
            m.status,
            MeetingStatus::Completed | MeetingStatus::Cancelled
        ) {
            return Err(DomainError::Invalid(format!("the meeting is {}", m.status)).into());
        }
        let now = self.now();
        let p = Participant {
            status: ParticipantStatus::Joined,
            joined_at: Some(now),
            left_at: None,
        };
        let key = id.to_string();
        self.edit(&DocId::calendar(ws), |x| {
            x.set("meetings", &key, &["participants", &me.to_string()], &p)?;
            if m.status == MeetingStatus::Scheduled {
                x.set("meetings", &key, &["status"], &MeetingStatus::InProgress)?;
            }
            Ok(())
        })?;
        // A scheduled meeting of a channel gets its chat there when it starts.
        // One that can't be posted (an archived channel) leaves the meeting without a chat.
        if let (Some(channel), None) = (m.channel, m.thread)
            && let Err(e) = self.open_call_thread(ws, id, channel, CALL_STARTED)
        {
            tracing::warn!("meeting {id} has no chat: {e}");
        }
        Ok(self.meeting_ctx(id)?.1)
    }

    /// Leaves a meeting; the last one out completes it.
    pub fn leave_meeting(&mut self, id: Id) -> Result<Meeting> {
        let (ws, m) = self.meeting_ctx(id)?;
        let me = self.me()?.user.to_string();
        let now = self.now();
        let key = id.to_string();
        let still_in = m
            .participants
            .iter()
            .filter(|(u, p)| **u != me && p.status == ParticipantStatus::Joined)
            .count();
        self.edit(&DocId::calendar(ws), |x| {
            x.set(
                "meetings",
                &key,
                &["participants", &me, "status"],
                &ParticipantStatus::Left,
            )?;
            x.set("meetings", &key, &["participants", &me, "left_at"], &now)?;
            if still_in == 0 {
                x.set("meetings", &key, &["status"], &MeetingStatus::Completed)?;
                x.set("meetings", &key, &["end"], &now)?;
            }
            Ok(())
        })?;
        Ok(self.meeting_ctx(id)?.1)
    }

    /// Cancels a scheduled meeting.
    pub fn cancel_meeting(&mut self, id: Id) -> Result<()> {
        let (ws, m) = self.meeting_ctx(id)?;
        if m.created_by != self.me.map(|x| x.user) {
            self.require_admin(ws)?;
        }
        let key = id.to_string();
        self.edit(&DocId::calendar(ws), |x| {
            x.set("meetings", &key, &["status"], &MeetingStatus::Cancelled)
        })
    }

    /// Meetings of a workspace.
    pub fn meetings(&self, ws: Id) -> Result<Vec<Meeting>> {
        self.store
            .entities("meetings", &ws.to_string())?
            .into_iter()
            .map(|(k, j)| {
                let mut m: Meeting = parse(&j)?;
                m.id = k.parse().ok();
                Ok(m)
            })
            .collect()
    }
}

/// The message that opens a call's chat in its channel.
const CALL_STARTED: &str = "📞 Started a call. Replies in this thread are the call's chat.";

/// Occurrences of one event overlapping `[from, to)`.
pub(crate) fn expand(e: &Event, from: Timestamp, to: Timestamp) -> Vec<Occurrence> {
    if e.deleted_at.is_some() {
        return Vec::new();
    }
    let tz = weft_domain::time::parse_tz(&e.timezone).unwrap_or(chrono_tz::UTC);
    recurrence::occurrences(
        e.start,
        e.end.0 - e.start.0,
        tz,
        e.recurrence.as_ref(),
        from,
        to,
        recurrence::MAX_OCCURRENCES,
    )
    .into_iter()
    .map(|(start, end)| Occurrence {
        event: e.clone(),
        start,
        end,
    })
    .collect()
}
