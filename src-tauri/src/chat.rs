//! Chat commands beyond sending: channels joined and left, DMs, pins, saved items, scheduled
//! messages, notification levels, typing and presence.

use crate::{Answer, App};
use serde::Serialize;
use specta::Type;
use tauri::State;
use weft_core::MessageView;
use weft_domain::{Channel, Id, Message, NotificationLevel, Timestamp};

#[tauri::command]
#[specta::specta]
pub async fn join_channel(app: State<'_, App>, channel: Id) -> Answer<()> {
    app.with(|e| e.join_channel(channel, None))
}

#[tauri::command]
#[specta::specta]
pub async fn leave_channel(app: State<'_, App>, channel: Id) -> Answer<()> {
    app.with(|e| e.leave_channel(channel))
}

/// The direct conversation with these people (one person, or a group), made on first use.
#[tauri::command]
#[specta::specta]
pub async fn open_dm(app: State<'_, App>, workspace: Id, people: Vec<Id>) -> Answer<Channel> {
    app.with(|e| e.open_dm(workspace, &people))
}

/// A channel's name, topic and archived flag, each only when given.
#[tauri::command]
#[specta::specta]
pub async fn update_channel(
    app: State<'_, App>,
    channel: Id,
    name: Option<String>,
    topic: Option<String>,
    archived: Option<bool>,
) -> Answer<()> {
    app.with(|e| {
        if let Some(n) = &name {
            e.rename_channel(channel, n)?;
        }
        if let Some(t) = &topic {
            e.set_topic(channel, t)?;
        }
        if let Some(a) = archived {
            e.archive_channel(channel, a)?;
        }
        Ok(())
    })
}

/// Which messages of a channel notify me, and whether it is muted.
#[tauri::command]
#[specta::specta]
pub async fn set_channel_level(
    app: State<'_, App>,
    channel: Id,
    level: NotificationLevel,
    muted: bool,
) -> Answer<()> {
    app.with(|e| {
        e.set_channel_level(channel, level)?;
        e.mute_channel(channel, muted)
    })
}

/// The messages just after the cursor `after`, oldest first (reading history downwards).
#[tauri::command]
#[specta::specta]
pub async fn messages_after(
    app: State<'_, App>,
    channel: Id,
    after: f64,
    limit: u32,
) -> Answer<Vec<MessageView>> {
    let limit = (limit as usize).clamp(1, 200);
    app.with(|e| e.messages_after(channel, after as i64, limit))
}

#[tauri::command]
#[specta::specta]
pub async fn pin(app: State<'_, App>, id: Id, pinned: bool) -> Answer<()> {
    app.with(|e| e.pin(id, pinned))
}

#[tauri::command]
#[specta::specta]
pub async fn pinned(app: State<'_, App>, channel: Id) -> Answer<Vec<MessageView>> {
    app.with(|e| e.pinned(channel))
}

#[tauri::command]
#[specta::specta]
pub async fn save_message(app: State<'_, App>, id: Id, saved: bool) -> Answer<()> {
    app.with(|e| e.save_message(id, saved))
}

#[tauri::command]
#[specta::specta]
pub async fn saved(app: State<'_, App>) -> Answer<Vec<Message>> {
    app.with(|e| e.saved())
}

/// One message (with its edit history).
#[tauri::command]
#[specta::specta]
pub async fn message(app: State<'_, App>, id: Id) -> Answer<Message> {
    app.with(|e| e.message(id))
}

/// A message to send at `at` (ms since the epoch), even if the app is closed until then: it
/// goes out once, when the app next runs.
#[tauri::command]
#[specta::specta]
pub async fn schedule_message(
    app: State<'_, App>,
    channel: Id,
    text: String,
    at: f64,
    parent: Option<Id>,
) -> Answer<Id> {
    app.with(|e| e.schedule_message(channel, &text, Timestamp(at as i64), parent))
}

#[tauri::command]
#[specta::specta]
pub async fn cancel_scheduled(app: State<'_, App>, id: Id) -> Answer<()> {
    app.with(|e| e.cancel_scheduled(id))
}

/// A scheduled message or reminder not yet done.
#[derive(Debug, Clone, Serialize, Type)]
pub struct ScheduledView {
    pub id: Id,
    /// `scheduled` (a message to send) or `reminders` (a reminder of a message).
    pub kind: String,
    pub item: weft_core::Scheduled,
}

#[tauri::command]
#[specta::specta]
pub async fn scheduled(app: State<'_, App>) -> Answer<Vec<ScheduledView>> {
    app.with(|e| {
        Ok(e.scheduled()?
            .into_iter()
            .map(|(id, kind, item)| ScheduledView { id, kind, item })
            .collect())
    })
}

/// Tells the others in the channel I am typing (ephemeral, never stored; nothing is sent where
/// no relay is configured). The UI calls it at most every few seconds while keys are pressed.
#[tauri::command]
#[specta::specta]
pub async fn typing(app: State<'_, App>, channel: Id) -> Answer<()> {
    app.with(|e| e.typing(channel))
}

/// Who is typing in a channel and who is online in its workspace, as last heard.
#[derive(Debug, Clone, Serialize, Type)]
pub struct Live {
    pub typing: Vec<Id>,
    /// (user, status) of the members heard from recently.
    pub presence: Vec<(Id, String)>,
}

#[tauri::command]
#[specta::specta]
pub async fn live(app: State<'_, App>, workspace: Id, channel: Option<Id>) -> Answer<Live> {
    app.with(|e| {
        Ok(Live {
            typing: channel.map(|c| e.typing_in(c)).unwrap_or_default(),
            presence: e.presence(workspace),
        })
    })
}
