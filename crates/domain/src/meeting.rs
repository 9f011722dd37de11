//! Meeting records: who was invited, who joined and left, and when.

use crate::{Id, Timestamp, string_enum};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

string_enum!(
    /// Where a meeting is in its life.
    MeetingStatus, "meeting status", { Scheduled => "scheduled", InProgress => "in_progress",
                                       Completed => "completed", Cancelled => "cancelled" }
);

string_enum!(
    /// A participant's state.
    ParticipantStatus, "participant status",
    { Invited => "invited", Joined => "joined", Left => "left" }
);

/// A call or scheduled meeting.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(default)]
pub struct Meeting {
    pub id: Option<Id>,
    pub title: String,
    pub description: String,
    /// The channel or DM it belongs to; its chat is that channel's thread.
    pub channel: Option<Id>,
    /// The message in the channel whose thread is the meeting's chat (posted when it starts).
    pub thread: Option<Id>,
    /// The calendar event that schedules it.
    pub event: Option<Id>,
    pub link: String,
    pub status: MeetingStatus,
    pub start: Option<Timestamp>,
    pub end: Option<Timestamp>,
    pub created_by: Option<Id>,
    pub created_at: Timestamp,
    /// user id -> participant.
    pub participants: BTreeMap<String, Participant>,
}

impl Default for Meeting {
    fn default() -> Self {
        Meeting {
            id: None,
            title: String::new(),
            description: String::new(),
            channel: None,
            thread: None,
            event: None,
            link: String::new(),
            status: MeetingStatus::Scheduled,
            start: None,
            end: None,
            created_by: None,
            created_at: Timestamp(0),
            participants: BTreeMap::new(),
        }
    }
}

/// One person's part in a meeting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(default)]
pub struct Participant {
    pub status: ParticipantStatus,
    pub joined_at: Option<Timestamp>,
    pub left_at: Option<Timestamp>,
}

impl Default for Participant {
    fn default() -> Self {
        Participant {
            status: ParticipantStatus::Invited,
            joined_at: None,
            left_at: None,
        }
    }
}

/// The join link for a meeting id.
pub fn join_link(meeting: Id) -> String {
    format!("weft://meet/{meeting}")
}
