//! The local profile, copied into every workspace the person belongs to.

use crate::{CoreError, Engine, Result};
use weft_domain::{Profile, Settings, validate};
use weft_sync::DocId;

/// Checks and normalises a profile's fields.
pub(crate) fn validated(p: Profile) -> Result<Profile> {
    let display_name = validate::name("display name", &p.display_name)?;
    let username = validate::username(if p.username.is_empty() {
        &p.display_name
    } else {
        &p.username
    })
    .map_err(CoreError::from)?;
    let email = if p.email.is_empty() {
        String::new()
    } else {
        validate::email(&p.email)?
    };
    weft_domain::time::parse_tz(&p.timezone)?;
    for (field, v) in [
        ("title", &p.title),
        ("pronouns", &p.pronouns),
        ("custom status", &p.custom_status),
    ] {
        validate::text(field, v, validate::MAX_NAME)?;
    }
    validate::text("bio", &p.bio, validate::MAX_TEXT)?;
    Ok(Profile {
        display_name,
        username,
        email,
        ..p
    })
}

impl Engine {
    /// The local profile.
    pub fn profile(&self) -> Result<Profile> {
        let j = self.store.local("profile")?.ok_or(CoreError::NoProfile)?;
        serde_json::from_str(&j).map_err(|e| CoreError::from(weft_store::StoreError::from(e)))
    }

    /// Changes the profile here and in every workspace.
    pub fn update_profile(&mut self, f: impl FnOnce(&mut Profile)) -> Result<Profile> {
        let me = self.me()?;
        let mut p = self.profile()?;
        f(&mut p);
        p.id = Some(me.user);
        p.updated_at = self.now();
        let p = validated(p)?;
        let json = serde_json::to_string(&p).map_err(weft_store::StoreError::from)?;
        self.tx_write(|tx| Ok(tx.set_local("profile", &json)?))?;
        for ws in self.workspace_ids()? {
            self.publish_profile(ws, &p)?;
        }
        self.reload_notify_state()?;
        Ok(p)
    }

    /// Writes my profile into a workspace document.
    pub(crate) fn publish_profile(&mut self, ws: weft_domain::Id, p: &Profile) -> Result<()> {
        let me = self.me()?.user.to_string();
        self.edit(&DocId::workspace(ws), |e| e.upsert("profiles", &me, p))
    }

    /// Personal settings (theme, language, time zone, focus goal).
    pub fn settings(&self) -> Result<Settings> {
        Ok(match self.store.personal("settings", "settings")? {
            Some(j) => serde_json::from_str(&j).unwrap_or_default(),
            None => Settings::default(),
        })
    }

    /// Changes personal settings (synced to my other devices).
    pub fn update_settings(&mut self, f: impl FnOnce(&mut Settings)) -> Result<Settings> {
        let me = self.me()?;
        let mut s = self.settings()?;
        f(&mut s);
        weft_domain::time::parse_tz(&s.timezone)?;
        weft_domain::validate::text("language", &s.language, 35)?;
        self.edit(&DocId::personal(me.user), |e| {
            e.upsert("settings", "settings", &s)
        })?;
        Ok(s)
    }
}
