//! Channels, DMs and group DMs.

use crate::{Id, Timestamp, string_enum};
use serde::{Deserialize, Serialize};

string_enum!(
    /// Who can see and join a conversation.
    ChannelKind, "channel kind",
    { Public => "public", Private => "private", Dm => "dm", GroupDm => "group_dm" }
);

string_enum!(
    /// Which messages of a channel notify a member.
    NotificationLevel, "notification level",
    { All => "all", Mentions => "mentions", Nothing => "none" }
);

/// A conversation: channel, DM or group DM.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
// Tauri's own `Channel` has the name in the UI's bindings (a container rename changes
// nothing in JSON).
#[cfg_attr(feature = "specta", serde(rename = "Conversation"))]
#[serde(default)]
pub struct Channel {
    pub id: Option<Id>,
    pub name: String,
    pub kind: ChannelKind,
    pub topic: String,
    pub purpose: String,
    pub archived: bool,
    pub created_by: Option<Id>,
    pub created_at: Timestamp,
    /// Members of private channels and DMs; public channels list who joined.
    pub members: std::collections::BTreeMap<String, bool>,
    /// The segment new messages go to; segments are bounded in size.
    pub segment: u32,
}

impl Default for Channel {
    fn default() -> Self {
        Channel {
            id: None,
            name: String::new(),
            kind: ChannelKind::Public,
            topic: String::new(),
            purpose: String::new(),
            archived: false,
            created_by: None,
            created_at: Timestamp(0),
            members: Default::default(),
            segment: 0,
        }
    }
}

impl Channel {
    /// Ids of the current members.
    pub fn member_ids(&self) -> impl Iterator<Item = Id> + '_ {
        self.members
            .iter()
            .filter(|(_, on)| **on)
            .filter_map(|(k, _)| k.parse().ok())
    }
}
