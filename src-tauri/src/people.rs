//! Commands about the person and their team: profile and settings, members and roles,
//! notification preferences and the inbox, focus beyond start and stop, relay accounts, and
//! unlocking the vault with a passphrase.

use crate::{Answer, App};
use serde::{Deserialize, Serialize};
use specta::Type;
use tauri::State;
use weft_core::{AccountView, MemberView};
use weft_domain::{
    DailyGoal, FocusSession, FocusStats, Id, NotificationPrefs, Profile, Role, Settings,
    WorkspaceSettings,
};

#[tauri::command]
#[specta::specta]
pub async fn profile(app: State<'_, App>) -> Answer<Profile> {
    app.with(|e| e.profile())
}

/// What a person edits of their own profile.
#[derive(Debug, Clone, Default, Deserialize, Type)]
#[serde(default)]
pub struct ProfileForm {
    pub display_name: String,
    pub title: String,
    pub pronouns: String,
    pub custom_status: String,
    pub bio: String,
}

#[tauri::command]
#[specta::specta]
pub async fn update_profile(app: State<'_, App>, form: ProfileForm) -> Answer<Profile> {
    app.with(|e| {
        e.update_profile(|p| {
            p.display_name = form.display_name;
            p.title = form.title;
            p.pronouns = form.pronouns;
            p.custom_status = form.custom_status;
            p.bio = form.bio;
        })
    })
}

#[tauri::command]
#[specta::specta]
pub async fn settings(app: State<'_, App>) -> Answer<Settings> {
    app.with(|e| e.settings())
}

/// Theme, language, timezone and daily focus goal; shared with my other devices.
#[tauri::command]
#[specta::specta]
pub async fn update_settings(app: State<'_, App>, settings: Settings) -> Answer<Settings> {
    app.with(|e| e.update_settings(|s| *s = settings))
}

#[tauri::command]
#[specta::specta]
pub async fn members(app: State<'_, App>, workspace: Id) -> Answer<Vec<MemberView>> {
    app.with(|e| e.members(workspace))
}

#[tauri::command]
#[specta::specta]
pub async fn set_role(app: State<'_, App>, workspace: Id, user: Id, role: Role) -> Answer<()> {
    app.with(|e| e.set_role(workspace, user, role))
}

/// Removes a member: a new key epoch, so their devices get nothing written after.
#[tauri::command]
#[specta::specta]
pub async fn remove_member(app: State<'_, App>, workspace: Id, user: Id) -> Answer<()> {
    app.with(|e| e.remove_member(workspace, user))
}

#[tauri::command]
#[specta::specta]
pub async fn rename_workspace(app: State<'_, App>, workspace: Id, name: String) -> Answer<()> {
    app.with(|e| e.update_workspace(workspace, Some(&name), None).map(|_| ()))
}

/// Changes the workspace's settings (admins): retention, guests, the STUN and TURN servers
/// its calls use, and whether calls go only through a relay; answers them as stored.
#[tauri::command]
#[specta::specta]
pub async fn update_workspace_settings(
    app: State<'_, App>,
    workspace: Id,
    settings: WorkspaceSettings,
) -> Answer<WorkspaceSettings> {
    app.with(|e| {
        e.update_workspace_settings(workspace, settings)?;
        Ok(e.workspace(workspace)?.settings)
    })
}

/// This device and the relays it syncs with.
#[derive(Debug, Clone, Serialize, Type)]
pub struct Devices {
    /// This device's signing key (hex), as the relay and the access list know it; `None` while
    /// the vault is locked (looking at Settings does not ask for the passphrase).
    pub device: Option<String>,
    pub accounts: Vec<AccountView>,
}

#[tauri::command]
#[specta::specta]
pub async fn devices(app: State<'_, App>) -> Answer<Devices> {
    app.with(|e| {
        let device = e
            .device_keys()
            .ok()
            .map(|k| k.public().sign.iter().map(|b| format!("{b:02x}")).collect());
        Ok(Devices {
            device,
            accounts: e.sync_overview()?,
        })
    })
}

#[tauri::command]
#[specta::specta]
pub async fn prefs(app: State<'_, App>) -> Answer<NotificationPrefs> {
    app.with(|e| Ok(e.prefs()))
}

/// Replaces my notification preferences (levels, keywords, do-not-disturb).
#[tauri::command]
#[specta::specta]
pub async fn update_prefs(
    app: State<'_, App>,
    prefs: NotificationPrefs,
) -> Answer<NotificationPrefs> {
    app.with(|e| e.update_prefs(|p| *p = prefs))
}

#[tauri::command]
#[specta::specta]
pub async fn mark_inbox_read(app: State<'_, App>, keys: Vec<String>) -> Answer<()> {
    app.with(|e| e.mark_inbox_read(&keys))
}

#[tauri::command]
#[specta::specta]
pub async fn focus_pause(app: State<'_, App>) -> Answer<FocusSession> {
    app.with(|e| e.focus_pause())
}

#[tauri::command]
#[specta::specta]
pub async fn focus_resume(app: State<'_, App>) -> Answer<FocusSession> {
    app.with(|e| e.focus_resume())
}

#[tauri::command]
#[specta::specta]
pub async fn focus_interrupt(app: State<'_, App>, note: Option<String>) -> Answer<FocusSession> {
    app.with(|e| e.focus_interrupt(note.as_deref()))
}

#[tauri::command]
#[specta::specta]
pub async fn focus_notes(app: State<'_, App>, notes: String) -> Answer<FocusSession> {
    app.with(|e| e.focus_notes(&notes))
}

/// Focus over the last `days` days up to today (UTC), with today's goal and progress.
#[derive(Debug, Clone, Serialize, Type)]
pub struct FocusSummary {
    pub stats: FocusStats,
    pub goal_minutes: u32,
    pub today_minutes: u32,
}

#[tauri::command]
#[specta::specta]
pub async fn focus_summary(app: State<'_, App>, days: u32) -> Answer<FocusSummary> {
    app.with(|e| {
        let today = e.now().0.div_euclid(86_400_000);
        let from = today - i64::from(days.clamp(1, 366)) + 1;
        let stats = e.focus_stats(from, today)?;
        let (goal_minutes, done) = e.daily_goal()?;
        Ok(FocusSummary {
            stats,
            goal_minutes,
            today_minutes: done.min(u64::from(u32::MAX)) as u32,
        })
    })
}

#[tauri::command]
#[specta::specta]
pub async fn set_daily_goal(app: State<'_, App>, minutes: u32) -> Answer<DailyGoal> {
    app.with(|e| e.set_daily_goal(minutes))
}

/// Whether this device has no vault key yet: the passphrase given now will seal a new one (so
/// the dialog asks for it twice).
#[tauri::command]
#[specta::specta]
pub async fn vault_is_new(app: State<'_, App>) -> Answer<bool> {
    app.with(|e| Ok(weft_core::vault_is_new(e.dir())))
}

/// Opens the vault with a passphrase (where no keychain answers), then starts relay sync.
#[tauri::command]
#[specta::specta]
pub async fn unlock(
    app: State<'_, App>,
    handle: tauri::AppHandle,
    passphrase: String,
) -> Answer<()> {
    app.with(|e| {
        e.unlock(&passphrase, weft_core::keychain_wanted())?;
        // Prove it opens: the device keys are sealed under it.
        e.device_keys().map(|_| ())
    })?;
    crate::start_sync(&handle, &app);
    Ok(())
}
