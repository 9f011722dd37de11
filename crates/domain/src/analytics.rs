//! Daily figures per user and per team, computed locally from the read model.

use serde::{Deserialize, Serialize};

/// One user's day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct UserDay {
    /// `YYYY-MM-DD` (UTC).
    pub date: String,
    pub user: String,
    pub messages_sent: u64,
    pub tasks_completed: u64,
    pub focus_minutes: u64,
    pub meetings_attended: u64,
}

/// A team's day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct TeamDay {
    pub date: String,
    pub active_members: u64,
    pub messages_sent: u64,
    pub tasks_completed: u64,
    pub focus_minutes: u64,
    pub meetings: u64,
}
