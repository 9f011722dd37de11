//! Calendar events, attendees, RSVP and reminders.

use crate::{Id, Recurrence, Timestamp, string_enum};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

string_enum!(
    /// What an event is.
    EventType, "event type",
    { Meeting => "meeting", Deadline => "deadline", Reminder => "reminder", Other => "other" }
);

string_enum!(
    /// An attendee's answer.
    Rsvp, "rsvp", { NeedsAction => "needs_action", Accepted => "accepted", Declined => "declined",
                    Tentative => "tentative" }
);

/// A calendar event; recurring events expand through [`crate::recurrence`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(default)]
pub struct Event {
    pub id: Option<Id>,
    pub title: String,
    pub description: String,
    pub start: Timestamp,
    pub end: Timestamp,
    /// IANA zone the event was planned in; recurrence keeps wall-clock time in this zone.
    pub timezone: String,
    pub all_day: bool,
    pub location: String,
    pub kind: EventType,
    pub recurrence: Option<Recurrence>,
    /// user id -> attendee.
    pub attendees: BTreeMap<String, Attendee>,
    pub reminders: Vec<Reminder>,
    /// `weft://meet/...` for meeting events.
    pub meeting_link: Option<String>,
    /// UID from an imported ICS file, kept for round trips.
    pub ics_uid: Option<String>,
    pub created_by: Option<Id>,
    pub created_at: Timestamp,
    pub cancelled: bool,
    pub deleted_at: Option<Timestamp>,
}

impl Default for Event {
    fn default() -> Self {
        Event {
            id: None,
            title: String::new(),
            description: String::new(),
            start: Timestamp(0),
            end: Timestamp(0),
            timezone: "UTC".into(),
            all_day: false,
            location: String::new(),
            kind: EventType::Other,
            recurrence: None,
            attendees: BTreeMap::new(),
            reminders: Vec::new(),
            meeting_link: None,
            ics_uid: None,
            created_by: None,
            created_at: Timestamp(0),
            cancelled: false,
            deleted_at: None,
        }
    }
}

impl Event {
    /// Checks the rules an event must keep: a title, an end not before its start, a real zone,
    /// a valid recurrence.
    pub fn validate(&self) -> Result<(), crate::DomainError> {
        crate::validate::name("event title", &self.title)?;
        if self.end < self.start {
            return Err(crate::DomainError::EndBeforeStart {
                start: self.start.to_string(),
                end: self.end.to_string(),
            });
        }
        crate::time::parse_tz(&self.timezone)?;
        if let Some(r) = &self.recurrence {
            r.validate()?;
        }
        Ok(())
    }
}

/// A person invited to an event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(default)]
pub struct Attendee {
    pub rsvp: Rsvp,
    pub optional: bool,
}

impl Default for Attendee {
    fn default() -> Self {
        Attendee {
            rsvp: Rsvp::NeedsAction,
            optional: false,
        }
    }
}

/// A reminder N minutes before an event (or an occurrence of it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(default)]
pub struct Reminder {
    pub minutes_before: u32,
}
