//! The inbox: notifications derived from changes as they are projected, under the person's
//! rules (channel levels, mute, keywords, do-not-disturb, focus).

use crate::{Engine, Identity, Result};
use serde_json::Value;
use weft_domain::{
    ChannelKind, FocusSession, Message, NotificationKind, NotificationPrefs, Task, Timestamp,
    message::{Mention, mentions},
    notification::{MessageContext, is_quiet, message_notification},
};
use weft_store::{Projection, Tx};
use weft_sync::{DocId, DocKind};

/// What the rules need to know about the person, cached from the personal document.
#[derive(Debug, Clone, Default)]
pub struct NotifyState {
    pub prefs: NotificationPrefs,
    pub username: String,
    /// End of the running focus session, if one runs.
    pub focus_until: Option<Timestamp>,
}

impl NotifyState {
    /// Whether new notifications are held back now.
    pub fn quiet(&self, now: Timestamp) -> bool {
        is_quiet(&self.prefs, now) || self.focus_until.is_some_and(|t| t > now)
    }
}

fn snippet(text: &str) -> String {
    let mut s: String = text.chars().take(160).collect();
    if text.chars().count() > 160 {
        s.push('…');
    }
    s
}

/// Runs the notification rules for one freshly projected entity.
#[allow(clippy::too_many_arguments)]
pub(crate) fn after_projection(
    tx: &Tx<'_>,
    state: &NotifyState,
    me: Option<Identity>,
    doc: &DocId,
    coll: &str,
    key: &str,
    value: &Value,
    p: &Projection,
    local: bool,
    now: Timestamp,
) -> Result<()> {
    let Some(me) = me else { return Ok(()) };
    if local {
        // What I do myself never notifies me.
        return Ok(());
    }
    let my = me.user.to_string();
    let ws = doc.workspace_id().map(|w| w.to_string());
    match (doc.kind(), coll) {
        (DocKind::Channel, "messages") if p.inserted => {
            let Ok(m) = serde_json::from_value::<Message>(value.clone()) else {
                return Ok(());
            };
            if m.is_deleted() || m.author.map(|a| a.to_string()) == Some(my.clone()) {
                return Ok(());
            }
            let channel = doc.object_id().map(|c| c.to_string()).unwrap_or_default();
            if m.created_at.0 <= tx.last_read(&channel)? {
                return Ok(());
            }
            let Some((kind, name)) = tx.channel_kind(&channel)? else {
                return Ok(());
            };
            let kind: ChannelKind = kind.parse().unwrap_or(ChannelKind::Public);
            let is_dm = matches!(kind, ChannelKind::Dm | ChannelKind::GroupDm);
            let mentions_me = mentions(&m.text).iter().any(|x| match x {
                Mention::User(u) => *u == state.username,
                Mention::Channel | Mention::Here => true,
            });
            let followed = match m.parent {
                Some(parent) => tx.follows_thread(&parent.to_string(), &my)?,
                None => false,
            };
            let ctx = MessageContext {
                channel: &channel,
                is_dm,
                author_is_me: false,
                text: &m.text,
                my_username: &state.username,
                mentions_me,
                reply_in_followed_thread: followed,
            };
            if let Some(kind) = message_notification(&state.prefs, &ctx) {
                let title = if is_dm {
                    "Direct message".to_owned()
                } else {
                    format!("#{name}")
                };
                tx.inbox_add(
                    &format!("msg:{key}"),
                    kind.as_str(),
                    ws.as_deref(),
                    Some(&channel),
                    &title,
                    &snippet(&m.text),
                    &format!("message:{key}"),
                    m.created_at.0,
                    state.quiet(now),
                )?;
            }
        }
        (DocKind::Board, "tasks") => {
            let Ok(t) = serde_json::from_value::<Task>(value.clone()) else {
                return Ok(());
            };
            if t.deleted_at.is_some() {
                return Ok(());
            }
            let before: Option<Task> = p
                .before
                .clone()
                .and_then(|b| serde_json::from_value(b).ok());
            let by_me = t.activity.last().and_then(|a| a.by) == Some(me.user);
            if t.assignee == Some(me.user)
                && before.as_ref().and_then(|b| b.assignee) != Some(me.user)
                && !by_me
            {
                tx.inbox_add(
                    &format!("assigned:{key}:{}", t.updated_at.0),
                    NotificationKind::TaskAssigned.as_str(),
                    ws.as_deref(),
                    None,
                    "Task assigned to you",
                    &snippet(&t.title),
                    &format!("task:{key}"),
                    t.updated_at.0,
                    state.quiet(now),
                )?;
            }
            let mine = t.assignee == Some(me.user) || t.created_by == Some(me.user);
            if mine {
                for (cid, c) in &t.comments {
                    let old = before
                        .as_ref()
                        .is_some_and(|b| b.comments.contains_key(cid));
                    if !old && c.author != Some(me.user) && c.deleted_at.is_none() {
                        tx.inbox_add(
                            &format!("comment:{key}:{cid}"),
                            NotificationKind::TaskCommented.as_str(),
                            ws.as_deref(),
                            None,
                            &format!("Comment on {}", snippet(&t.title)),
                            &snippet(&c.text),
                            &format!("task:{key}"),
                            c.created_at.0,
                            state.quiet(now),
                        )?;
                    }
                }
            }
        }
        (DocKind::Workspace, "members") if key == my && p.inserted => {
            let name = tx
                .workspace_name(ws.as_deref().unwrap_or(""))?
                .unwrap_or_default();
            tx.inbox_add(
                &format!("invite:{}", ws.as_deref().unwrap_or("")),
                NotificationKind::Invite.as_str(),
                ws.as_deref(),
                None,
                "You were added to a workspace",
                &name,
                &format!("workspace:{}", ws.as_deref().unwrap_or("")),
                now.0,
                state.quiet(now),
            )?;
        }
        (DocKind::Calendar, "meetings") if p.inserted => {
            // A call started by someone else, with me among those invited: it rings.
            let Ok(m) = serde_json::from_value::<weft_domain::Meeting>(value.clone()) else {
                return Ok(());
            };
            if m.status != weft_domain::MeetingStatus::InProgress
                || m.created_by == Some(me.user)
                || !m.participants.contains_key(&my)
            {
                return Ok(());
            }
            let place = match m.channel {
                Some(c) => match tx.channel_kind(&c.to_string())? {
                    Some((kind, _)) if kind == "dm" || kind == "group_dm" => {
                        "a direct message".to_owned()
                    }
                    Some((_, name)) => format!("#{name}"),
                    None => "a channel".to_owned(),
                },
                None => "a meeting".to_owned(),
            };
            tx.inbox_add(
                &format!("call:{key}"),
                NotificationKind::MeetingStarting.as_str(),
                ws.as_deref(),
                m.channel.map(|c| c.to_string()).as_deref(),
                "📞 A call started",
                &format!("in {place} — join it from there or with {}", m.link),
                &format!("meeting:{key}"),
                m.created_at.0,
                state.quiet(now),
            )?;
        }
        (DocKind::Calendar, "events") => {
            let Ok(e) = serde_json::from_value::<weft_domain::Event>(value.clone()) else {
                return Ok(());
            };
            let was = p
                .before
                .as_ref()
                .and_then(|b| b.get("attendees"))
                .and_then(|a| a.get(&my))
                .is_some();
            if e.attendees.contains_key(&my)
                && !was
                && e.created_by != Some(me.user)
                && e.deleted_at.is_none()
            {
                tx.inbox_add(
                    &format!("event_invite:{key}"),
                    NotificationKind::Invite.as_str(),
                    ws.as_deref(),
                    None,
                    "Invitation",
                    &format!("{} — {}", snippet(&e.title), e.start),
                    &format!("event:{key}"),
                    now.0,
                    state.quiet(now),
                )?;
            }
        }
        _ => {}
    }
    Ok(())
}

impl Engine {
    /// Re-reads the person's rules and focus state after the personal document changed.
    pub(crate) fn reload_notify_state(&mut self) -> Result<()> {
        let prefs = match self.store.personal("notify", "prefs")? {
            Some(j) => serde_json::from_str(&j).unwrap_or_default(),
            None => NotificationPrefs::default(),
        };
        let username = match self.store.local("profile")? {
            Some(j) => serde_json::from_str::<weft_domain::Profile>(&j)
                .map(|p| p.username)
                .unwrap_or_default(),
            None => String::new(),
        };
        let now = self.now();
        let focus_until = self
            .store
            .open_focus_sessions()?
            .iter()
            .filter_map(|j| serde_json::from_str::<FocusSession>(j).ok())
            .filter(|f| f.state == weft_domain::FocusState::Running)
            .map(|f| f.ends_at(now))
            .max();
        self.notify = NotifyState {
            prefs,
            username,
            focus_until,
        };
        Ok(())
    }
}
