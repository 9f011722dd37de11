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
    /// The STUN and TURN servers the team's calls use to get through NATs and firewalls
    /// (a team self-hosting its relay usually runs coturn beside it). Empty: calls find
    /// each other on the local network and through open paths only.
    pub call_servers: Vec<CallServer>,
    /// Every call goes through a TURN server of [`call_servers`](Self::call_servers), so no
    /// device learns another's addresses (and calls fail if none answers).
    pub calls_relay_only: bool,
}

/// A STUN or TURN server for calls. Its `Debug` hides the credential.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(default)]
pub struct CallServer {
    /// `stun:host:port` or `turn:host:port` (UDP), one server under one or more names.
    pub urls: Vec<String>,
    /// TURN only: the long-term credential's user name.
    pub username: String,
    /// TURN only: the long-term credential's password.
    pub credential: String,
}

impl std::fmt::Debug for CallServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallServer")
            .field("urls", &self.urls)
            .field("username", &self.username)
            .field(
                "credential",
                &if self.credential.is_empty() {
                    ""
                } else {
                    "…"
                },
            )
            .finish()
    }
}

/// Most call servers a workspace lists.
pub const MAX_CALL_SERVERS: usize = 8;
/// Most addresses one call server has.
pub const MAX_CALL_SERVER_URLS: usize = 4;

impl CallServer {
    /// Whether this is a TURN server (it relays media; a STUN server only reflects addresses).
    pub fn is_turn(&self) -> bool {
        self.urls.iter().any(|u| u.starts_with("turn:"))
    }

    /// Checks each address (a `stun:` or UDP `turn:` URL with a host and a port) and that a
    /// TURN server has a username and a credential.
    pub fn validate(&self) -> Result<(), DomainError> {
        if self.urls.is_empty() || self.urls.len() > MAX_CALL_SERVER_URLS {
            return Err(DomainError::Invalid(format!(
                "a call server has {} addresses; it needs 1 to {MAX_CALL_SERVER_URLS}",
                self.urls.len()
            )));
        }
        for u in &self.urls {
            call_server_url(u)?;
        }
        if self.is_turn() {
            if self.username.trim().is_empty() || self.credential.is_empty() {
                return Err(DomainError::Invalid(format!(
                    "the TURN server {} needs a username and a credential",
                    self.urls[0]
                )));
            }
            crate::validate::text("TURN username", &self.username, 256)?;
            crate::validate::text("TURN credential", &self.credential, 256)?;
        }
        Ok(())
    }
}

impl WorkspaceSettings {
    /// Checks the call servers (each by [`CallServer::validate`], at most
    /// [`MAX_CALL_SERVERS`]) and that a TURN server is listed when calls must be relayed.
    pub fn validate_calls(&self) -> Result<(), DomainError> {
        if self.call_servers.len() > MAX_CALL_SERVERS {
            return Err(DomainError::Invalid(format!(
                "{} call servers; at most {MAX_CALL_SERVERS}",
                self.call_servers.len()
            )));
        }
        for s in &self.call_servers {
            s.validate()?;
        }
        if self.calls_relay_only && !self.call_servers.iter().any(CallServer::is_turn) {
            return Err(DomainError::Invalid(
                "calls can go only through a relay when a TURN server is listed".into(),
            ));
        }
        Ok(())
    }
}

/// Checks one STUN or TURN address: `stun:host:port`, `turn:host:port` or
/// `turn:host:port?transport=udp` (TLS and TCP are not supported by Weft's calls).
fn call_server_url(u: &str) -> Result<(), DomainError> {
    let bad = |why: &str| Err(DomainError::Invalid(format!("call server {u:?}: {why}")));
    if u.len() > 256 {
        return bad("longer than 256 characters");
    }
    let (scheme, rest) = u.split_once(':').unwrap_or(("", u));
    match scheme {
        "stun" | "turn" => {}
        "stuns" | "turns" => return bad("TLS is not supported; use stun: or turn: over UDP"),
        _ => return bad("it must start with stun: or turn:"),
    }
    let (hostport, query) = rest.split_once('?').unwrap_or((rest, ""));
    match (scheme, query) {
        (_, "") | ("turn", "transport=udp") => {}
        ("turn", "transport=tcp") => {
            return bad("TURN over TCP is not supported; use transport=udp");
        }
        ("turn", _) => return bad("the only option is ?transport=udp"),
        _ => return bad("a STUN address takes no options"),
    }
    let (host, port) = match hostport.rsplit_once(':') {
        Some((h, p)) if !h.is_empty() => (h, p),
        _ => return bad("it needs a host and a port, as in turn:turn.example.com:3478"),
    };
    if port.parse::<u16>().map_or(true, |p| p == 0) {
        return bad("the port must be 1 to 65535");
    }
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.parse::<std::net::IpAddr>().is_err()
        && !host
            .split('.')
            .all(|l| !l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
    {
        return bad("the host is not a name or an IP address");
    }
    Ok(())
}

impl Default for WorkspaceSettings {
    fn default() -> Self {
        WorkspaceSettings {
            retention_days: 0,
            guests_allowed: true,
            segment_size: 1000,
            call_servers: Vec::new(),
            calls_relay_only: false,
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

    fn turn(url: &str) -> CallServer {
        CallServer {
            urls: vec![url.into()],
            username: "weft".into(),
            credential: "secret".into(),
        }
    }

    fn calls(servers: Vec<CallServer>, relay_only: bool) -> Result<(), String> {
        WorkspaceSettings {
            call_servers: servers,
            calls_relay_only: relay_only,
            ..Default::default()
        }
        .validate_calls()
        .map_err(|e| e.to_string())
    }

    #[test]
    fn call_servers_are_checked_with_the_reason_given() {
        let stun = CallServer {
            urls: vec![
                "stun:stun.example.com:3478".into(),
                "stun:[::1]:3478".into(),
            ],
            ..Default::default()
        };
        assert_eq!(calls(vec![stun.clone()], false), Ok(()));
        assert_eq!(
            calls(
                vec![stun.clone(), turn("turn:10.0.0.2:3478?transport=udp")],
                true
            ),
            Ok(())
        );
        for (url, why) in [
            ("http://x:1", "it must start with stun: or turn:"),
            ("turns:x.example:5349", "TLS is not supported"),
            (
                "turn:x.example:3478?transport=tcp",
                "TURN over TCP is not supported",
            ),
            (
                "turn:x.example:3478?foo=1",
                "the only option is ?transport=udp",
            ),
            ("turn:x.example", "it needs a host and a port"),
            ("turn:x.example:0", "the port must be 1 to 65535"),
            ("turn:x.example:99999", "the port must be 1 to 65535"),
            (
                "turn:bad host:3478",
                "the host is not a name or an IP address",
            ),
        ] {
            let err = calls(vec![turn(url)], false).unwrap_err();
            assert!(err.contains(url) && err.contains(why), "{url}: {err}");
        }
        let nameless = CallServer {
            credential: String::new(),
            ..turn("turn:t.example:3478")
        };
        assert_eq!(
            calls(vec![nameless], false).unwrap_err(),
            "the TURN server turn:t.example:3478 needs a username and a credential"
        );
        assert_eq!(
            calls(vec![stun], true).unwrap_err(),
            "calls can go only through a relay when a TURN server is listed"
        );
        assert!(calls(vec![turn("turn:t:1"); MAX_CALL_SERVERS + 1], false).is_err());
        assert!(calls(vec![CallServer::default()], false).is_err());
    }

    #[test]
    fn printed_settings_hide_every_credential() {
        let s = WorkspaceSettings {
            call_servers: vec![turn("turn:t.example:3478")],
            ..Default::default()
        };
        // What the audit log records of a change.
        let shown = format!("{s:?}");
        assert!(
            !shown.contains("secret") && shown.contains("weft"),
            "{shown}"
        );
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
