//! Workspaces, membership, roles and the audit log.

use crate::{CoreError, Engine, Result};
use weft_domain::{
    AuditAction, AuditEntry, Id, Member, Profile, Role, Workspace, WorkspaceSettings, validate,
};
use weft_sync::DocId;

/// A member with their profile, as the members view lists them.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct MemberView {
    pub user: String,
    pub member: Member,
    pub profile: Option<Profile>,
}

impl Engine {
    /// Ids of the workspaces this replica holds.
    pub fn workspace_ids(&self) -> Result<Vec<Id>> {
        Ok(self
            .store
            .entities("workspaces", "")?
            .into_iter()
            .filter_map(|(id, _)| id.parse().ok())
            .collect())
    }

    /// The workspaces this replica holds.
    pub fn workspaces(&self) -> Result<Vec<Workspace>> {
        self.store
            .entities("workspaces", "")?
            .into_iter()
            .map(|(id, j)| {
                let mut w: Workspace = parse(&j)?;
                w.id = id.parse().ok();
                Ok(w)
            })
            .collect()
    }

    /// One workspace.
    pub fn workspace(&self, ws: Id) -> Result<Workspace> {
        self.workspaces()?
            .into_iter()
            .find(|w| w.id == Some(ws))
            .ok_or_else(|| CoreError::NotFound(format!("workspace {ws}")))
    }

    /// Finds a workspace by id or by exact name.
    pub fn find_workspace(&self, name_or_id: &str) -> Result<Id> {
        if let Ok(id) = name_or_id.parse::<Id>()
            && self.workspace(id).is_ok()
        {
            return Ok(id);
        }
        let matches: Vec<Workspace> = self
            .workspaces()?
            .into_iter()
            .filter(|w| w.name.eq_ignore_ascii_case(name_or_id))
            .collect();
        match matches.as_slice() {
            [w] => {
                w.id.ok_or_else(|| CoreError::NotFound(format!("workspace {name_or_id:?}")))
            }
            [] => Err(CoreError::NotFound(format!("workspace {name_or_id:?}"))),
            _ => Err(CoreError::Invalid(weft_domain::DomainError::Invalid(
                format!("several workspaces are named {name_or_id:?}: use the id"),
            ))),
        }
    }

    /// My role in a workspace; refuses if I am not (or no longer) a member.
    pub(crate) fn my_role(&self, ws: Id) -> Result<Role> {
        let me = self.me()?;
        let m = self.member(ws, me.user)?.ok_or_else(|| {
            CoreError::Forbidden(format!("you are not a member of workspace {ws}"))
        })?;
        if m.removed_at.is_some() {
            return Err(CoreError::Forbidden(format!(
                "you were removed from workspace {ws}"
            )));
        }
        Ok(m.role)
    }

    pub(crate) fn require_admin(&self, ws: Id) -> Result<Role> {
        let r = self.my_role(ws)?;
        if r.is_admin() {
            Ok(r)
        } else {
            Err(CoreError::Forbidden(format!(
                "only an owner or admin can do this (you are a {r})"
            )))
        }
    }

    fn member(&self, ws: Id, user: Id) -> Result<Option<Member>> {
        match self
            .store
            .entity("members", &ws.to_string(), &user.to_string())?
        {
            Some(j) => Ok(Some(parse(&j)?)),
            None => Ok(None),
        }
    }

    pub(crate) fn audit(
        &mut self,
        ws: Id,
        action: AuditAction,
        target: String,
        detail: String,
    ) -> Result<()> {
        let me = self.me()?;
        let entry = AuditEntry {
            at: self.now(),
            actor: Some(me.user),
            action,
            target,
            detail,
        };
        let key = self.new_id().to_string();
        self.edit(&DocId::workspace(ws), |e| e.create("audit", &key, &entry))
    }

    /// Creates a workspace with me as owner, a #general channel and a calendar.
    pub fn create_workspace(&mut self, name: &str, description: &str) -> Result<Workspace> {
        let me = self.me()?;
        let name = validate::name("workspace name", name)?;
        let description = validate::text("description", description, validate::MAX_TEXT)?;
        let now = self.now();
        let id = self.new_id();
        let w = Workspace {
            id: None,
            name,
            description,
            avatar: None,
            archived: false,
            settings: WorkspaceSettings::default(),
            created_by: Some(me.user),
            created_at: now,
        };
        let profile = self.profile()?;
        let member = Member {
            user: None,
            role: Role::Owner,
            joined_at: now,
            ..Member::default()
        };
        self.edit(&DocId::workspace(id), |e| {
            e.create("workspace", &id.to_string(), &w)?;
            e.create("members", &me.user.to_string(), &member)?;
            e.create("profiles", &me.user.to_string(), &profile)
        })?;
        self.audit(
            id,
            AuditAction::WorkspaceCreated,
            format!("workspace:{id}"),
            w.name.clone(),
        )?;
        self.create_channel(
            id,
            "general",
            weft_domain::ChannelKind::Public,
            "Everyone, everything",
        )?;
        Ok(Workspace { id: Some(id), ..w })
    }

    /// Renames and/or re-describes a workspace (admins).
    pub fn update_workspace(
        &mut self,
        ws: Id,
        name: Option<&str>,
        description: Option<&str>,
    ) -> Result<Workspace> {
        self.require_admin(ws)?;
        let name = name
            .map(|n| validate::name("workspace name", n))
            .transpose()?;
        let description = description
            .map(|d| validate::text("description", d, validate::MAX_TEXT))
            .transpose()?;
        let key = ws.to_string();
        self.edit(&DocId::workspace(ws), |e| {
            if let Some(n) = &name {
                e.set("workspace", &key, &["name"], n)?;
            }
            if let Some(d) = &description {
                e.set("workspace", &key, &["description"], d)?;
            }
            Ok(())
        })?;
        if let Some(n) = name {
            self.audit(
                ws,
                AuditAction::WorkspaceRenamed,
                format!("workspace:{ws}"),
                n,
            )?;
        }
        self.workspace(ws)
    }

    /// Archives (or unarchives) a workspace (owners and admins).
    pub fn archive_workspace(&mut self, ws: Id, archived: bool) -> Result<()> {
        self.require_admin(ws)?;
        let key = ws.to_string();
        self.edit(&DocId::workspace(ws), |e| {
            e.set("workspace", &key, &["archived"], &archived)
        })?;
        self.audit(
            ws,
            AuditAction::WorkspaceArchived,
            format!("workspace:{ws}"),
            archived.to_string(),
        )
    }

    /// Changes workspace settings (retention, guests, segment size, call servers).
    pub fn update_workspace_settings(&mut self, ws: Id, s: WorkspaceSettings) -> Result<()> {
        self.require_admin(ws)?;
        s.validate_calls()?;
        if !(10..=100_000).contains(&s.segment_size) {
            return Err(weft_domain::DomainError::Invalid(format!(
                "segment size {} out of range 10..=100000",
                s.segment_size
            ))
            .into());
        }
        let key = ws.to_string();
        self.edit(&DocId::workspace(ws), |e| {
            e.set("workspace", &key, &["settings"], &s)
        })?;
        self.audit(
            ws,
            AuditAction::SettingsChanged,
            format!("workspace:{ws}"),
            // `CallServer`'s Debug hides the TURN credential.
            format!("{s:?}"),
        )
    }

    /// Adds a member with a role (admins; only an owner adds an owner).
    pub fn add_member(&mut self, ws: Id, user: Id, role: Role) -> Result<()> {
        let mine = self.require_admin(ws)?;
        mine.check_manage(role)?;
        if role == Role::Guest && !self.workspace(ws)?.settings.guests_allowed {
            return Err(CoreError::Forbidden(
                "this workspace does not allow guests".into(),
            ));
        }
        let me = self.me()?;
        let now = self.now();
        let member = Member {
            role,
            invited_by: Some(me.user),
            joined_at: now,
            ..Member::default()
        };
        let key = user.to_string();
        self.edit(&DocId::workspace(ws), |e| {
            if e.contains("members", &key)? {
                e.set("members", &key, &["removed_at"], &None::<i64>)?;
                e.set("members", &key, &["role"], &role)
            } else {
                e.create("members", &key, &member)
            }
        })?;
        self.audit(
            ws,
            AuditAction::MemberAdded,
            format!("user:{user}"),
            role.to_string(),
        )
    }

    /// Changes a member's role.
    pub fn set_role(&mut self, ws: Id, user: Id, role: Role) -> Result<()> {
        let mine = self.my_role(ws)?;
        let target = self
            .member(ws, user)?
            .ok_or_else(|| CoreError::NotFound(format!("member {user}")))?;
        mine.check_manage(target.role)?;
        mine.check_manage(role)?;
        if target.role == Role::Owner && role != Role::Owner && self.owners(ws)? <= 1 {
            return Err(CoreError::Forbidden(
                "a workspace keeps at least one owner".into(),
            ));
        }
        let key = user.to_string();
        self.edit(&DocId::workspace(ws), |e| {
            e.set("members", &key, &["role"], &role)
        })?;
        self.audit(
            ws,
            AuditAction::RoleChanged,
            format!("user:{user}"),
            format!("{} -> {role}", target.role),
        )
    }

    fn owners(&self, ws: Id) -> Result<usize> {
        Ok(self
            .members(ws)?
            .iter()
            .filter(|m| m.member.role == Role::Owner && m.member.removed_at.is_none())
            .count())
    }

    /// Removes a member (their history stays; they get nothing new once keys rotate).
    pub fn remove_member(&mut self, ws: Id, user: Id) -> Result<()> {
        let me = self.me()?;
        if user == me.user {
            return self.leave_workspace(ws);
        }
        let mine = self.my_role(ws)?;
        let target = self
            .member(ws, user)?
            .ok_or_else(|| CoreError::NotFound(format!("member {user}")))?;
        mine.check_manage(target.role)?;
        let now = self.now();
        let key = user.to_string();
        self.edit(&DocId::workspace(ws), |e| {
            e.set("members", &key, &["removed_at"], &now)
        })?;
        self.audit(
            ws,
            AuditAction::MemberRemoved,
            format!("user:{user}"),
            String::new(),
        )?;
        // Their devices keep what they had; nothing written from now on is theirs to read.
        self.rotate_key(ws)?;
        self.audit(
            ws,
            AuditAction::KeyRotated,
            format!("workspace:{ws}"),
            format!("after removing user:{user}"),
        )
    }

    /// Leaves a workspace (the last owner must hand over first).
    pub fn leave_workspace(&mut self, ws: Id) -> Result<()> {
        let me = self.me()?;
        let role = self.my_role(ws)?;
        if role == Role::Owner && self.owners(ws)? <= 1 {
            return Err(CoreError::Forbidden(
                "you are the last owner: make someone else owner first".into(),
            ));
        }
        let now = self.now();
        let key = me.user.to_string();
        self.edit(&DocId::workspace(ws), |e| {
            e.set("members", &key, &["removed_at"], &now)
        })?;
        self.audit(
            ws,
            AuditAction::MemberLeft,
            format!("user:{}", me.user),
            String::new(),
        )
    }

    /// Members with their profiles.
    pub fn members(&self, ws: Id) -> Result<Vec<MemberView>> {
        let w = ws.to_string();
        let profiles: std::collections::HashMap<String, Profile> = self
            .store
            .entities("profiles", &w)?
            .into_iter()
            .filter_map(|(k, j)| serde_json::from_str(&j).ok().map(|p| (k, p)))
            .collect();
        self.store
            .entities("members", &w)?
            .into_iter()
            .map(|(user, j)| {
                let member: Member = parse(&j)?;
                Ok(MemberView {
                    profile: profiles.get(&user).cloned(),
                    user,
                    member,
                })
            })
            .collect()
    }

    /// Finds a member by `@username` or id.
    pub fn find_user(&self, ws: Id, who: &str) -> Result<Id> {
        if let Ok(id) = who.parse::<Id>() {
            return Ok(id);
        }
        let name = who.trim_start_matches('@').to_lowercase();
        self.store
            .user_by_username(&ws.to_string(), &name)?
            .and_then(|u| u.parse().ok())
            .ok_or_else(|| CoreError::NotFound(format!("user @{name}")))
    }

    /// The audit log, newest first.
    pub fn audit_log(&self, ws: Id) -> Result<Vec<AuditEntry>> {
        self.require_admin(ws)?;
        self.store
            .entities("audit", &ws.to_string())?
            .into_iter()
            .map(|(_, j)| parse(&j))
            .collect()
    }

    /// Adds me to a workspace I received through an exchange, when an admin has listed me as a
    /// member: publishes my profile there.
    pub(crate) fn adopt_workspaces(&mut self) -> Result<()> {
        let Some(me) = self.me else { return Ok(()) };
        let profile = self.profile()?;
        for ws in self.workspace_ids()? {
            let w = ws.to_string();
            let member = self.store.entity("members", &w, &me.user.to_string())?;
            let has_profile = self
                .store
                .entity("profiles", &w, &me.user.to_string())?
                .is_some();
            if member.is_some() && !has_profile {
                self.publish_profile(ws, &profile)?;
            }
        }
        Ok(())
    }
}

/// Parses read-model JSON back into an entity.
pub(crate) fn parse<T: serde::de::DeserializeOwned>(j: &str) -> Result<T> {
    serde_json::from_str(j).map_err(|e| CoreError::from(weft_store::StoreError::from(e)))
}
