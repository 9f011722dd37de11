//! Workspaces, members and roles.

use crate::{DomainError, Id, Timestamp, string_enum};
use serde::{Deserialize, Serialize};

string_enum!(
    /// What a member may do; ordered from most to least powerful.
    Role, "role", { Owner => "owner", Admin => "admin", Member => "member", Guest => "guest" }
);

impl Role {
    /// Whether this role may administer the workspace (settings, channels, members).
    pub fn is_admin(self) -> bool {
        matches!(self, Role::Owner | Role::Admin)
    }

    /// Whether `self` may change or remove a member whose role is `target`: owners may act on
    /// anyone, admins on members and guests, nobody else on anyone but themselves.
    pub fn may_manage(self, target: Role) -> bool {
        match self {
            Role::Owner => true,
            Role::Admin => matches!(target, Role::Member | Role::Guest),
            Role::Member | Role::Guest => false,
        }
    }

    /// Refuses with a clear error unless this role may manage `target`.
    pub fn check_manage(self, target: Role) -> Result<(), DomainError> {
        if self.may_manage(target) {
            Ok(())
        } else {
            Err(DomainError::Forbidden(format!(
                "a {self} cannot change or remove a {target}"
            )))
        }
    }
}

/// A workspace (a team).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(default)]
pub struct Workspace {
    pub id: Option<Id>,
    pub name: String,
    pub description: String,
    pub avatar: Option<String>,
    pub archived: bool,
    pub settings: WorkspaceSettings,
    pub created_by: Option<Id>,
    pub created_at: Timestamp,
}

/// Settings an admin controls.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(default)]
pub struct WorkspaceSettings {
    /// Days messages are kept; `0` keeps them forever.
    pub retention_days: u32,
    pub guests_allowed: bool,
    /// Messages per channel segment document (bounds every document's growth).
    pub segment_size: u32,
}

impl Default for WorkspaceSettings {
    fn default() -> Self {
        WorkspaceSettings {
            retention_days: 0,
            guests_allowed: true,
            segment_size: 1000,
        }
    }
}

/// A person's membership of a workspace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(default)]
pub struct Member {
    pub user: Option<Id>,
    pub role: Role,
    pub title: String,
    pub department: String,
    pub invited_by: Option<Id>,
    pub joined_at: Timestamp,
    /// Set when removed or left; the row stays so history keeps its authors.
    pub removed_at: Option<Timestamp>,
    /// The member's devices by Ed25519 key (hex): what keys are wrapped to and what the
    /// relay's access list lists. A flat map, so devices added concurrently never collide.
    pub devices: std::collections::BTreeMap<String, DeviceRecord>,
}

/// One device of a member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(default)]
pub struct DeviceRecord {
    /// The device's X25519 key (hex), which workspace keys are wrapped to.
    pub agree: String,
    /// The invite (its key, hex) the device joined by, if any: revoked when the member is
    /// removed, since the relay admits an invitee while its invite is listed.
    pub invite: Option<String>,
    pub added_at: Timestamp,
}

impl Default for Member {
    fn default() -> Self {
        Member {
            user: None,
            role: Role::Member,
            title: String::new(),
            department: String::new(),
            invited_by: None,
            joined_at: Timestamp(0),
            removed_at: None,
            devices: Default::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_member_cannot_remove_an_admin() {
        assert!(Role::Member.check_manage(Role::Admin).is_err());
        assert!(Role::Admin.check_manage(Role::Owner).is_err());
        assert!(Role::Admin.check_manage(Role::Member).is_ok());
        assert!(Role::Owner.check_manage(Role::Admin).is_ok());
    }

    #[test]
    fn unknown_role_names_the_choices() {
        let err = "superuser".parse::<Role>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown role \"superuser\"; expected one of: owner admin member guest"
        );
    }
}
