//! The admin audit log.

use crate::{Id, Timestamp, string_enum};
use serde::{Deserialize, Serialize};

string_enum!(
    /// An administrative action.
    AuditAction, "audit action", {
        WorkspaceCreated => "workspace_created", WorkspaceRenamed => "workspace_renamed",
        WorkspaceArchived => "workspace_archived", SettingsChanged => "settings_changed",
        MemberAdded => "member_added", MemberRemoved => "member_removed",
        MemberLeft => "member_left", RoleChanged => "role_changed",
        ChannelCreated => "channel_created", ChannelArchived => "channel_archived",
        InviteCreated => "invite_created", IntegrationAdded => "integration_added",
        MemberJoined => "member_joined", KeyRotated => "key_rotated"
    }
);

/// One audit entry; the log is append-only and replicated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(default)]
pub struct AuditEntry {
    pub at: Timestamp,
    pub actor: Option<Id>,
    pub action: AuditAction,
    /// What it acted on: `user:<id>`, `channel:<id>`, ...
    pub target: String,
    pub detail: String,
}

impl Default for AuditEntry {
    fn default() -> Self {
        AuditEntry {
            at: Timestamp(0),
            actor: None,
            action: AuditAction::SettingsChanged,
            target: String::new(),
            detail: String::new(),
        }
    }
}
