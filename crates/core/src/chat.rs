//! Channels, DMs and messages: send, edit with history, delete, react, pin, threads, read
//! state, saved items, scheduled messages and reminders.

use crate::{CoreError, Engine, Result, workspace::parse};
use serde::{Deserialize, Serialize};
use weft_domain::{
    Attachment, Channel, ChannelKind, DomainError, Edit, Id, Message, NotificationLevel, Timestamp,
    validate,
};
use weft_store::{ChannelRow, MessageRow};
use weft_sync::DocId;

/// A channel in the sidebar, with counts.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct ChannelView {
    pub channel: Channel,
    pub workspace: String,
    pub unread: i64,
    pub mentions: i64,
}

/// A message as shown, with its thread summary.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct MessageView {
    pub message: Message,
    /// Position for paging (`before`).
    pub cursor: i64,
    pub reply_count: i64,
    pub last_reply: Option<i64>,
}

/// Options for sending.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(default)]
pub struct SendOptions {
    /// The client message id: sending twice with the same id sends once.
    pub id: Option<Id>,
    /// Reply in this thread.
    pub parent: Option<Id>,
    /// A thread reply also shown in the channel.
    pub broadcast: bool,
    pub attachments: Vec<Attachment>,
}

/// A scheduled message or a message reminder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(default)]
pub struct Scheduled {
    pub workspace: Option<Id>,
    pub channel: Option<Id>,
    pub message: Option<Id>,
    pub parent: Option<Id>,
    pub text: String,
    pub at: i64,
    pub done: bool,
    pub cancelled: bool,
}

impl MessageView {
    fn from_row(r: MessageRow) -> Result<MessageView> {
        let mut m: Message = parse(&r.json)?;
        m.id = r.id.parse().ok();
        m.channel = r.channel.parse().ok();
        if m.is_deleted() {
            m.text.clear();
            m.edits.clear();
            m.attachments.clear();
        }
        Ok(MessageView {
            message: m.shown(),
            cursor: r.cursor,
            reply_count: r.reply_count,
            last_reply: r.last_reply,
        })
    }
}

/// A store row as a message view (tombstones show no content).
pub(crate) fn view_of(r: MessageRow) -> Result<MessageView> {
    MessageView::from_row(r)
}

fn channel_of(row: &ChannelRow) -> Result<Channel> {
    let mut c: Channel = parse(&row.json)?;
    c.id = row.id.parse().ok();
    Ok(c)
}

impl Engine {
    /// A channel and its workspace.
    pub fn channel(&self, id: Id) -> Result<(Id, Channel)> {
        let row = self
            .store
            .channel(&id.to_string())?
            .ok_or_else(|| CoreError::NotFound(format!("channel {id}")))?;
        let ws = row.workspace.parse()?;
        Ok((ws, channel_of(&row)?))
    }

    /// Finds a channel by `#name` or id.
    pub fn find_channel(&self, ws: Id, name_or_id: &str) -> Result<Id> {
        if let Ok(id) = name_or_id.parse::<Id>() {
            return Ok(id);
        }
        let name = name_or_id.trim_start_matches('#').to_lowercase();
        self.store
            .channel_by_name(&ws.to_string(), &name)?
            .and_then(|c| c.parse().ok())
            .ok_or_else(|| CoreError::NotFound(format!("channel #{name}")))
    }

    /// Checks that I may read and write in a channel.
    pub(crate) fn require_channel_access(&self, ws: Id, c: &Channel) -> Result<()> {
        let role = self.my_role(ws)?;
        let me = self.me()?.user;
        let member = c.members.get(&me.to_string()).copied().unwrap_or(false);
        match c.kind {
            ChannelKind::Public if role != weft_domain::Role::Guest || member => Ok(()),
            _ if member => Ok(()),
            _ => Err(CoreError::Forbidden(format!(
                "you are not a member of #{}",
                c.name
            ))),
        }
    }

    /// Creates a channel (members and admins; guests cannot).
    pub fn create_channel(
        &mut self,
        ws: Id,
        name: &str,
        kind: ChannelKind,
        purpose: &str,
    ) -> Result<Channel> {
        let role = self.my_role(ws)?;
        if role == weft_domain::Role::Guest {
            return Err(CoreError::Forbidden("guests cannot create channels".into()));
        }
        if matches!(kind, ChannelKind::Dm | ChannelKind::GroupDm) {
            return Err(DomainError::Invalid(
                "use a direct message to talk to people directly".into(),
            )
            .into());
        }
        let name = validate::channel_name(name)?;
        if self
            .store
            .channel_by_name(&ws.to_string(), &name)?
            .is_some()
        {
            return Err(
                DomainError::Invalid(format!("a channel named #{name} already exists")).into(),
            );
        }
        let purpose = validate::text("purpose", purpose, validate::MAX_NAME)?;
        let me = self.me()?.user;
        let id = self.new_id();
        let c = Channel {
            id: None,
            name,
            kind,
            purpose,
            created_by: Some(me),
            created_at: self.now(),
            members: [(me.to_string(), true)].into_iter().collect(),
            ..Channel::default()
        };
        self.edit(&DocId::workspace(ws), |e| {
            e.create("channels", &id.to_string(), &c)
        })?;
        self.audit(
            ws,
            weft_domain::AuditAction::ChannelCreated,
            format!("channel:{id}"),
            c.name.clone(),
        )?;
        Ok(Channel { id: Some(id), ..c })
    }

    /// Opens (or finds) the direct message with these people.
    pub fn open_dm(&mut self, ws: Id, with: &[Id]) -> Result<Channel> {
        self.my_role(ws)?;
        let me = self.me()?.user;
        let mut people: Vec<Id> = with.iter().copied().chain([me]).collect();
        people.sort();
        people.dedup();
        if people.len() < 2 {
            return Err(DomainError::Invalid("a direct message needs someone else".into()).into());
        }
        if people.len() > 9 {
            return Err(DomainError::Invalid("a group DM holds at most 9 people".into()).into());
        }
        // The DM's name is its sorted member list, so both sides find the same one.
        let name = people
            .iter()
            .map(|p| p.to_string().to_lowercase())
            .collect::<Vec<_>>()
            .join("-");
        if let Some(id) = self.store.channel_by_name(&ws.to_string(), &name)? {
            return Ok(self.channel(id.parse()?)?.1);
        }
        let kind = if people.len() == 2 {
            ChannelKind::Dm
        } else {
            ChannelKind::GroupDm
        };
        // Its id comes from its members too, so two of them opening it while apart make one
        // channel (the same key in the workspace document), not two of one name.
        let id = dm_id(ws, &name);
        let c = Channel {
            name,
            kind,
            created_by: Some(me),
            created_at: self.now(),
            members: people.iter().map(|p| (p.to_string(), true)).collect(),
            ..Channel::default()
        };
        self.edit(&DocId::workspace(ws), |e| {
            e.create("channels", &id.to_string(), &c)
        })?;
        Ok(Channel { id: Some(id), ..c })
    }

    /// Channels I can see, with unread and mention counts.
    pub fn channels(&self, ws: Id) -> Result<Vec<ChannelView>> {
        let me = self.me()?.user.to_string();
        let counts: std::collections::HashMap<String, (i64, i64)> = self
            .store
            .unread_counts(&ws.to_string(), &me)?
            .into_iter()
            .map(|u| (u.channel, (u.unread, u.mentions)))
            .collect();
        let mut out = Vec::new();
        for row in self.store.channels(&ws.to_string())? {
            let c = channel_of(&row)?;
            let member = c.members.get(&me).copied().unwrap_or(false);
            if c.kind != ChannelKind::Public && !member {
                continue;
            }
            let (unread, mentions) = counts.get(&row.id).copied().unwrap_or((0, 0));
            out.push(ChannelView {
                channel: c,
                workspace: row.workspace,
                unread,
                mentions,
            });
        }
        Ok(out)
    }

    fn change_channel<T: Serialize>(
        &mut self,
        channel: Id,
        field: &str,
        v: &T,
        admin_only: bool,
    ) -> Result<()> {
        let (ws, c) = self.channel(channel)?;
        if admin_only && c.created_by != self.me.map(|m| m.user) {
            self.require_admin(ws)?;
        } else {
            self.require_channel_access(ws, &c)?;
        }
        self.edit(&DocId::workspace(ws), |e| {
            e.set("channels", &channel.to_string(), &[field], v)
        })
    }

    /// Sets a channel's topic.
    pub fn set_topic(&mut self, channel: Id, topic: &str) -> Result<()> {
        let t = validate::text("topic", topic, 250)?;
        self.change_channel(channel, "topic", &t, false)
    }

    /// Sets a channel's purpose.
    pub fn set_purpose(&mut self, channel: Id, purpose: &str) -> Result<()> {
        let t = validate::text("purpose", purpose, validate::MAX_NAME)?;
        self.change_channel(channel, "purpose", &t, false)
    }

    /// Renames a channel (its creator or an admin).
    pub fn rename_channel(&mut self, channel: Id, name: &str) -> Result<()> {
        let (ws, _) = self.channel(channel)?;
        let name = validate::channel_name(name)?;
        if self
            .store
            .channel_by_name(&ws.to_string(), &name)?
            .is_some()
        {
            return Err(
                DomainError::Invalid(format!("a channel named #{name} already exists")).into(),
            );
        }
        self.change_channel(channel, "name", &name, true)
    }

    /// Archives or unarchives a channel (its creator or an admin).
    pub fn archive_channel(&mut self, channel: Id, archived: bool) -> Result<()> {
        self.change_channel(channel, "archived", &archived, true)?;
        let (ws, c) = self.channel(channel)?;
        self.audit(
            ws,
            weft_domain::AuditAction::ChannelArchived,
            format!("channel:{channel}"),
            format!("#{} {archived}", c.name),
        )
    }

    /// Joins a public channel, or adds someone to a channel I am in.
    pub fn join_channel(&mut self, channel: Id, user: Option<Id>) -> Result<()> {
        let (ws, c) = self.channel(channel)?;
        let me = self.me()?.user;
        let who = user.unwrap_or(me);
        if who == me && c.kind == ChannelKind::Public {
            self.my_role(ws)?;
        } else {
            self.require_channel_access(ws, &c)?;
        }
        if matches!(c.kind, ChannelKind::Dm) {
            return Err(
                DomainError::Invalid("a DM's members are fixed: start a group DM".into()).into(),
            );
        }
        self.edit(&DocId::workspace(ws), |e| {
            e.set(
                "channels",
                &channel.to_string(),
                &["members", &who.to_string()],
                &true,
            )
        })
    }

    /// Leaves a channel.
    pub fn leave_channel(&mut self, channel: Id) -> Result<()> {
        let (ws, _) = self.channel(channel)?;
        let me = self.me()?.user;
        self.edit(&DocId::workspace(ws), |e| {
            e.set(
                "channels",
                &channel.to_string(),
                &["members", &me.to_string()],
                &false,
            )
        })
    }

    /// Sets my notification level for a channel.
    pub fn set_channel_level(&mut self, channel: Id, level: NotificationLevel) -> Result<()> {
        self.update_prefs(|p| {
            p.channel_levels.insert(channel.to_string(), level);
        })
        .map(|_| ())
    }

    /// Mutes or unmutes a channel for me.
    pub fn mute_channel(&mut self, channel: Id, muted: bool) -> Result<()> {
        self.update_prefs(|p| {
            p.muted.insert(channel.to_string(), muted);
        })
        .map(|_| ())
    }

    /// Sends a message. Sending again with the same client id returns the first message.
    pub fn send(&mut self, channel: Id, text: &str, opts: SendOptions) -> Result<Message> {
        let me = self.me()?.user;
        // A message may be only its attachments, as in Slack.
        let text = if opts.attachments.is_empty() {
            validate::message_body(text)?
        } else {
            validate::text("message", text, validate::MAX_MESSAGE)?
        };
        if opts.attachments.len() > 50 {
            return Err(DomainError::Invalid("at most 50 attachments per message".into()).into());
        }
        if let Some(id) = opts.id
            && let Some(row) = self.store.message(&id.to_string())?
        {
            return Ok(MessageView::from_row(row)?.message);
        }
        let (ws, c) = self.channel(channel)?;
        if c.archived {
            return Err(CoreError::Archived(format!("#{}", c.name)));
        }
        self.require_channel_access(ws, &c)?;
        if let Some(p) = opts.parent {
            let root = self
                .store
                .message(&p.to_string())?
                .ok_or_else(|| CoreError::NotFound(format!("message {p}")))?;
            if root.channel != channel.to_string() {
                return Err(
                    DomainError::Invalid("a reply must be in its thread's channel".into()).into(),
                );
            }
            if root.parent.is_some() {
                return Err(DomainError::Invalid(
                    "threads do not nest: reply to the thread's first message".into(),
                )
                .into());
            }
        }
        let now = self.now();
        let id = opts.id.unwrap_or_else(|| self.new_id());
        let mut attachments = opts.attachments;
        // Files staged for this message get their records in the message's own document
        // (under the channel's key), written in the same change as the message.
        let files = self.staged_for(ws, &mut attachments)?;
        for a in &mut attachments {
            if let Some((_, f)) = files.iter().find(|(fid, _)| Some(*fid) == a.file) {
                a.record = Some(weft_domain::FileMeta {
                    channel: Some(channel),
                    message: Some(id),
                    ..f.clone()
                });
            }
        }
        let m = Message {
            id: None,
            channel: None,
            author: Some(me),
            text,
            parent: opts.parent,
            created_at: now,
            attachments,
            broadcast: opts.broadcast,
            ..Message::default()
        };
        let segment = self.current_segment(ws, channel, &c)?;
        self.queue_uploads(ws, &files)?;
        self.edit(&DocId::channel(ws, channel, segment), |e| {
            e.create("messages", &id.to_string(), &m)
        })?;
        self.unstage(&files);
        Ok(Message {
            id: Some(id),
            channel: Some(channel),
            ..m
        }
        .shown())
    }

    /// The segment new messages of a channel go to, opening the next one when it is full.
    fn current_segment(&mut self, ws: Id, channel: Id, c: &Channel) -> Result<u32> {
        let size = self.workspace(ws)?.settings.segment_size.max(10);
        // The segment's own document knows its size (and is about to be edited anyway).
        let n = self
            .read_doc(&DocId::channel(ws, channel, c.segment), |d| {
                Ok(d.len("messages")?)
            })?
            .unwrap_or(0);
        if n < size as usize {
            return Ok(c.segment);
        }
        let next = c.segment + 1;
        self.edit(&DocId::workspace(ws), |e| {
            e.set("channels", &channel.to_string(), &["segment"], &next)
        })?;
        Ok(next)
    }

    /// Imports many messages at once (benchmarks, migrations): one change per message, one
    /// transaction per call.
    pub fn send_batch(&mut self, channel: Id, texts: &[(Timestamp, String)]) -> Result<usize> {
        let me = self.me()?.user;
        let (ws, c) = self.channel(channel)?;
        self.require_channel_access(ws, &c)?;
        let mut seg = self.current_segment(ws, channel, &c)?;
        let size = self.workspace(ws)?.settings.segment_size.max(10) as usize;
        let mut in_seg = self
            .read_doc(
                &DocId::channel(ws, channel, seg),
                |d| Ok(d.len("messages")?),
            )?
            .unwrap_or(0);
        let mut done = 0;
        for chunk in texts.chunks(size) {
            let msgs: Vec<(String, Message)> = chunk
                .iter()
                .map(|(at, text)| {
                    let m = Message {
                        author: Some(me),
                        text: text.clone(),
                        created_at: *at,
                        ..Message::default()
                    };
                    (
                        Id::from_parts(*at, crate::engine::rand_u128()).to_string(),
                        m,
                    )
                })
                .collect();
            let mut i = 0;
            while i < msgs.len() {
                if in_seg >= size {
                    seg += 1;
                    in_seg = 0;
                    self.edit(&DocId::workspace(ws), |e| {
                        e.set("channels", &channel.to_string(), &["segment"], &seg)
                    })?;
                }
                let take = (size - in_seg).min(msgs.len() - i);
                self.edit_many(&DocId::channel(ws, channel, seg), &msgs[i..i + take])?;
                in_seg += take;
                i += take;
                done += take;
            }
        }
        Ok(done)
    }

    fn message_doc(&self, id: Id) -> Result<(DocId, MessageRow)> {
        let row = self
            .store
            .message(&id.to_string())?
            .ok_or_else(|| CoreError::NotFound(format!("message {id}")))?;
        let ch: Id = row.channel.parse()?;
        let (ws, _) = self.channel(ch)?;
        Ok((DocId::channel(ws, ch, row.segment), row))
    }

    /// Edits my message; the old text goes into its history.
    pub fn edit_message(&mut self, id: Id, text: &str) -> Result<Message> {
        let me = self.me()?.user;
        let text = validate::message_body(text)?;
        let (doc, row) = self.message_doc(id)?;
        if row.author != me.to_string() {
            return Err(CoreError::Forbidden(
                "you can only edit your own messages".into(),
            ));
        }
        if row.deleted {
            return Err(DomainError::Deleted(format!("message {id}")).into());
        }
        let (ws, c) = self.channel(row.channel.parse()?)?;
        self.require_channel_access(ws, &c)?;
        if row.text == text {
            return self.message(id);
        }
        let now = self.now();
        let key = id.to_string();
        let old = Edit {
            text: row.text.clone(),
            replaced_at: now,
        };
        self.edit(&doc, |e| {
            e.push("messages", &key, "edits", &old)?;
            e.set("messages", &key, &["text"], &text)?;
            e.set("messages", &key, &["edited_at"], &now)
        })?;
        self.message(id)
    }

    /// Deletes a message (its author, or an admin): it becomes a tombstone with no text.
    pub fn delete_message(&mut self, id: Id) -> Result<()> {
        let me = self.me()?.user;
        let (doc, row) = self.message_doc(id)?;
        let ws = doc
            .workspace_id()
            .ok_or_else(|| CoreError::NotFound("workspace".into()))?;
        if row.author != me.to_string() {
            self.require_admin(ws)?;
        }
        if row.deleted {
            return Ok(());
        }
        let now = self.now();
        let key = id.to_string();
        self.edit(&doc, |e| {
            e.set("messages", &key, &["deleted_at"], &now)?;
            e.set("messages", &key, &["text"], &"")
        })
    }

    /// Adds my reaction, or takes it back if I had made it. Returns whether it is now on.
    pub fn react(&mut self, id: Id, emoji: &str) -> Result<bool> {
        let me = self.me()?.user;
        let emoji = emoji.trim();
        if emoji.is_empty()
            || emoji.chars().count() > 32
            || emoji.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(DomainError::Invalid(format!("invalid reaction {emoji:?}")).into());
        }
        let (doc, row) = self.message_doc(id)?;
        if row.deleted {
            return Err(DomainError::Deleted(format!("message {id}")).into());
        }
        let (ws, c) = self.channel(row.channel.parse()?)?;
        self.require_channel_access(ws, &c)?;
        let m: Message = parse(&row.json)?;
        // One flat key per (emoji, person): concurrent reactions never collide on a shared map.
        let rk = format!("{emoji} {me}");
        let on = !m.reactions.get(&rk).copied().unwrap_or(false);
        let key = id.to_string();
        self.edit(&doc, |e| e.set("messages", &key, &["reactions", &rk], &on))?;
        Ok(on)
    }

    /// Pins or unpins a message.
    pub fn pin(&mut self, id: Id, pinned: bool) -> Result<()> {
        let (doc, row) = self.message_doc(id)?;
        let (ws, c) = self.channel(row.channel.parse()?)?;
        self.require_channel_access(ws, &c)?;
        let key = id.to_string();
        self.edit(&doc, |e| e.set("messages", &key, &["pinned"], &pinned))
    }

    /// One message.
    pub fn message(&self, id: Id) -> Result<Message> {
        let row = self
            .store
            .message(&id.to_string())?
            .ok_or_else(|| CoreError::NotFound(format!("message {id}")))?;
        Ok(MessageView::from_row(row)?.message)
    }

    /// A page of a channel, newest first.
    pub fn messages(
        &self,
        channel: Id,
        before: Option<i64>,
        limit: usize,
    ) -> Result<Vec<MessageView>> {
        self.page(channel, limit, |store, ch, limit| {
            store.channel_page(ch, before, limit)
        })
    }

    /// The messages just after the one whose cursor is `after`, oldest first (scrolling down
    /// through history).
    pub fn messages_after(
        &self,
        channel: Id,
        after: i64,
        limit: usize,
    ) -> Result<Vec<MessageView>> {
        self.page(channel, limit, |store, ch, limit| {
            store.channel_page_after(ch, after, limit)
        })
    }

    /// A page of a channel I may read, at most 500 messages, read by `fetch`.
    fn page(
        &self,
        channel: Id,
        limit: usize,
        fetch: impl FnOnce(
            &weft_store::Store,
            &str,
            usize,
        )
            -> std::result::Result<Vec<weft_store::MessageRow>, weft_store::StoreError>,
    ) -> Result<Vec<MessageView>> {
        let (ws, c) = self.channel(channel)?;
        self.require_channel_access(ws, &c)?;
        fetch(&self.store, &channel.to_string(), limit.clamp(1, 500))?
            .into_iter()
            .map(MessageView::from_row)
            .collect()
    }

    /// A thread: its root and replies, oldest first.
    pub fn thread(&self, root: Id) -> Result<Vec<MessageView>> {
        let row = self
            .store
            .message(&root.to_string())?
            .ok_or_else(|| CoreError::NotFound(format!("message {root}")))?;
        let (ws, c) = self.channel(row.channel.parse()?)?;
        self.require_channel_access(ws, &c)?;
        let mut out = vec![MessageView::from_row(row)?];
        for r in self.store.thread(&root.to_string())? {
            out.push(MessageView::from_row(r)?);
        }
        Ok(out)
    }

    /// Pinned messages of a channel.
    pub fn pinned(&self, channel: Id) -> Result<Vec<MessageView>> {
        self.store
            .pinned(&channel.to_string())?
            .into_iter()
            .map(MessageView::from_row)
            .collect()
    }

    /// Marks a channel read up to `at` (default now), on all my devices.
    pub fn mark_read(&mut self, channel: Id, at: Option<Timestamp>) -> Result<()> {
        let me = self.me()?.user;
        let at = at.unwrap_or_else(|| self.now());
        let key = channel.to_string();
        let inbox: Vec<String> = self
            .store
            .inbox(true, 10_000)?
            .into_iter()
            .filter(|i| i.channel.as_deref() == Some(&key) && i.at <= at.0)
            .map(|i| i.key)
            .collect();
        self.edit(&DocId::personal(me), |e| {
            e.create("read_state", &key, &at.0)?;
            for k in &inbox {
                e.create("inbox_read", k, &true)?;
            }
            Ok(())
        })
    }

    /// Saves a message for later (or unsaves it).
    pub fn save_message(&mut self, id: Id, saved: bool) -> Result<()> {
        let me = self.me()?.user;
        self.message(id)?;
        let at = self.now();
        let v = serde_json::json!({ "saved": saved, "at": at.0 });
        self.edit(&DocId::personal(me), |e| {
            e.create("saved", &id.to_string(), &v)
        })
    }

    /// My saved messages, newest saved first.
    pub fn saved(&self) -> Result<Vec<Message>> {
        let mut items: Vec<(i64, String)> = self
            .store
            .personal_all("saved")?
            .into_iter()
            .filter_map(|(k, j)| {
                let v: serde_json::Value = serde_json::from_str(&j).ok()?;
                v["saved"]
                    .as_bool()
                    .filter(|s| *s)
                    .map(|_| (v["at"].as_i64().unwrap_or(0), k))
            })
            .collect();
        items.sort_by(|a, b| b.cmp(a));
        Ok(items
            .into_iter()
            .filter_map(|(_, k)| k.parse().ok().and_then(|id| self.message(id).ok()))
            .collect())
    }

    /// Schedules a message to be sent at `at`; it is sent then even with no network, or when
    /// the app next runs.
    pub fn schedule_message(
        &mut self,
        channel: Id,
        text: &str,
        at: Timestamp,
        parent: Option<Id>,
    ) -> Result<Id> {
        let me = self.me()?.user;
        let text = validate::message_body(text)?;
        let (ws, c) = self.channel(channel)?;
        self.require_channel_access(ws, &c)?;
        if at <= self.now() {
            return Err(
                DomainError::Invalid("a scheduled time must be in the future".into()).into(),
            );
        }
        let id = self.new_id();
        let s = Scheduled {
            workspace: Some(ws),
            channel: Some(channel),
            parent,
            text,
            at: at.0,
            ..Scheduled::default()
        };
        self.edit(&DocId::personal(me), |e| {
            e.create("scheduled", &id.to_string(), &s)
        })?;
        Ok(id)
    }

    /// Cancels a scheduled message or a reminder.
    pub fn cancel_scheduled(&mut self, id: Id) -> Result<()> {
        let me = self.me()?.user;
        let key = id.to_string();
        self.edit(&DocId::personal(me), |e| {
            for coll in ["scheduled", "reminders"] {
                if e.contains(coll, &key)? {
                    e.set(coll, &key, &["cancelled"], &true)?;
                    return e.set(coll, &key, &["done"], &true);
                }
            }
            Err(CoreError::NotFound(format!("scheduled item {key}")))
        })
    }

    /// Scheduled messages and reminders not yet done.
    pub fn scheduled(&self) -> Result<Vec<(Id, String, Scheduled)>> {
        let mut out = Vec::new();
        for coll in ["scheduled", "reminders"] {
            for (k, j) in self.store.personal_all(coll)? {
                let s: Scheduled = parse(&j)?;
                if !s.done {
                    out.push((k.parse()?, coll.to_owned(), s));
                }
            }
        }
        out.sort_by_key(|(_, _, s)| s.at);
        Ok(out)
    }

    /// Reminds me of a message at `at`.
    pub fn remind_message(&mut self, id: Id, at: Timestamp) -> Result<Id> {
        let me = self.me()?.user;
        let m = self.message(id)?;
        let rid = self.new_id();
        let s = Scheduled {
            workspace: m.channel.and_then(|c| self.channel(c).ok().map(|(w, _)| w)),
            channel: m.channel,
            message: Some(id),
            text: m.text.chars().take(160).collect(),
            at: at.0,
            ..Scheduled::default()
        };
        self.edit(&DocId::personal(me), |e| {
            e.create("reminders", &rid.to_string(), &s)
        })?;
        Ok(rid)
    }
}

/// The id of the DM named `name` (its sorted members) in workspace `ws`: the workspace's time
/// and 80 bits of a hash of both.
fn dm_id(ws: Id, name: &str) -> Id {
    use sha2::Digest;
    let h = sha2::Sha256::new()
        .chain_update(b"weft dm\0")
        .chain_update(ws.to_bytes())
        .chain_update(name.as_bytes())
        .finalize();
    let mut r = [0u8; 16];
    r[6..].copy_from_slice(&h[..10]);
    Id::from_parts(ws.timestamp(), u128::from_be_bytes(r))
}
