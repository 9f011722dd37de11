//! A person's profile and personal settings.

use crate::{Id, Timestamp, string_enum};
use serde::{Deserialize, Serialize};

string_enum!(
    /// Availability a person chooses (presence itself is live and never stored).
    UserStatus, "status", { Active => "active", Away => "away", Busy => "busy", Offline => "offline" }
);

string_enum!(
    /// Colour theme.
    Theme, "theme", { Light => "light", Dark => "dark", System => "system" }
);

/// A user's public profile, replicated to every workspace they belong to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(default)]
pub struct Profile {
    pub id: Option<Id>,
    pub display_name: String,
    pub username: String,
    pub email: String,
    pub avatar: Option<String>,
    pub title: String,
    pub pronouns: String,
    pub bio: String,
    pub phone: String,
    pub location: String,
    pub timezone: String,
    pub language: String,
    pub status: UserStatus,
    pub custom_status: String,
    /// While focusing: the end of the focus session, shown as "focusing until 14:30".
    pub focus_until: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl Default for Profile {
    fn default() -> Self {
        Profile {
            id: None,
            display_name: String::new(),
            username: String::new(),
            email: String::new(),
            avatar: None,
            title: String::new(),
            pronouns: String::new(),
            bio: String::new(),
            phone: String::new(),
            location: String::new(),
            timezone: "UTC".into(),
            language: "en".into(),
            status: UserStatus::Active,
            custom_status: String::new(),
            focus_until: None,
            created_at: Timestamp(0),
            updated_at: Timestamp(0),
        }
    }
}

/// Personal settings, kept in the personal document and shared only among one's own devices.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(default)]
pub struct Settings {
    pub theme: Theme,
    pub language: String,
    pub timezone: String,
    /// Minutes of focus per day the person aims for.
    pub daily_focus_goal_minutes: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            theme: Theme::System,
            language: "en".into(),
            timezone: "UTC".into(),
            daily_focus_goal_minutes: 120,
        }
    }
}
