//! The read model: each entity of a document projected into rows, FTS entries and indexes.
//! Projection is a pure function of the entity's current state, so replicas that hold the
//! same documents hold the same rows.

use crate::{StoreError, Tx};
use rusqlite::{OptionalExtension, params};
use serde::de::DeserializeOwned;
use serde_json::Value;
use weft_domain::{
    AuditEntry, Board, Channel, Column, Event, FileMeta, FocusSession, Integration, IntegrationRun,
    Label, Meeting, Member, Message, Profile, Task, Workspace,
};

/// Which document an entity comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source<'a> {
    Workspace {
        ws: &'a str,
    },
    Channel {
        ws: &'a str,
        channel: &'a str,
        segment: u32,
    },
    Board {
        ws: &'a str,
        board: &'a str,
    },
    Calendar {
        ws: &'a str,
    },
    Personal,
}

/// What projecting an entity did, for the engine's notification rules.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Projection {
    /// The entity had no row before.
    pub inserted: bool,
    /// The row before, as JSON (for comparing, e.g. a task's old assignee).
    pub before: Option<Value>,
}

fn decode<T: DeserializeOwned>(coll: &str, key: &str, v: &Value) -> Result<T, StoreError> {
    serde_json::from_value(v.clone()).map_err(|e| StoreError::Entity {
        collection: coll.into(),
        key: key.into(),
        reason: e.to_string(),
    })
}

/// What a file is attached to.
#[derive(Clone, Copy)]
enum AttachedTo<'a> {
    Message { channel: &'a str, message: &'a str },
    Task(&'a str),
}

fn b(x: bool) -> i64 {
    i64::from(x)
}

/// Spreads message rowids so that rowid order is time order; 1024 slots per millisecond.
fn message_rowid(created_at: i64, id: &str) -> i64 {
    let h = id.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, c| {
        (h ^ u64::from(c)).wrapping_mul(0x100_0000_01b3)
    });
    created_at.clamp(0, (i64::MAX >> 10) - 1) * 1024 + (h & 1023) as i64
}

fn has_link(text: &str) -> bool {
    text.contains("http://") || text.contains("https://") || text.contains("weft://")
}

impl Tx<'_> {
    /// Projects one entity (or scalar entry) of a document into the read model.
    pub fn project(
        &self,
        src: Source<'_>,
        coll: &str,
        key: &str,
        value: &Value,
    ) -> Result<Projection, StoreError> {
        match (src, coll) {
            (
                Source::Channel {
                    ws,
                    channel,
                    segment,
                },
                "messages",
            ) => self.project_message(ws, channel, segment, key, value),
            (Source::Workspace { ws }, _) => self.project_workspace(ws, coll, key, value),
            (Source::Board { ws, board }, "columns") => {
                let c: Column = decode(coll, key, value)?;
                let before = self.json_of("SELECT json FROM columns WHERE id = ?1", key)?;
                self.tx
                    .prepare_cached(
                        "INSERT INTO columns(id, board, workspace, name, pos, done, deleted, json)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                         ON CONFLICT(id) DO UPDATE SET name = excluded.name, pos = excluded.pos,
                         done = excluded.done, deleted = excluded.deleted, json = excluded.json",
                    )?
                    .execute(params![
                        key,
                        board,
                        ws,
                        c.name,
                        c.pos,
                        b(c.done),
                        b(c.deleted_at.is_some()),
                        value.to_string()
                    ])?;
                Ok(Projection {
                    inserted: before.is_none(),
                    before,
                })
            }
            (Source::Board { ws, board }, "tasks") => self.project_task(ws, board, key, value),
            (Source::Calendar { ws }, "events") => {
                let e: Event = decode(coll, key, value)?;
                let before = self.json_of("SELECT json FROM events WHERE id = ?1", key)?;
                let until = match &e.recurrence {
                    None => Some(e.end.0),
                    Some(r) => match (r.until, r.count) {
                        (Some(u), _) => Some(u.0 + (e.end.0 - e.start.0)),
                        // Bounded by count: the index stays a superset with no end.
                        _ => None,
                    },
                };
                self.tx
                    .prepare_cached(
                        "INSERT INTO events(id, workspace, title, start, end, until, recurring,
                         kind, deleted, json) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
                         ON CONFLICT(id) DO UPDATE SET title = excluded.title,
                         start = excluded.start, end = excluded.end, until = excluded.until,
                         recurring = excluded.recurring, kind = excluded.kind,
                         deleted = excluded.deleted, json = excluded.json",
                    )?
                    .execute(params![
                        key,
                        ws,
                        e.title,
                        e.start.0,
                        e.end.0,
                        until,
                        b(e.recurrence.is_some()),
                        e.kind.as_str(),
                        b(e.deleted_at.is_some()),
                        value.to_string()
                    ])?;
                let body = format!("{} {}", e.description, e.location);
                self.index_search(
                    "event",
                    key,
                    ws,
                    e.start.0,
                    &e.title,
                    &body,
                    e.deleted_at.is_some(),
                )?;
                Ok(Projection {
                    inserted: before.is_none(),
                    before,
                })
            }
            (Source::Calendar { ws }, "meetings") => {
                let m: Meeting = decode(coll, key, value)?;
                let before = self.json_of("SELECT json FROM meetings WHERE id = ?1", key)?;
                self.tx
                    .prepare_cached(
                        "INSERT INTO meetings(id, workspace, channel, event, status, start, json)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                         ON CONFLICT(id) DO UPDATE SET status = excluded.status,
                         start = excluded.start, json = excluded.json",
                    )?
                    .execute(params![
                        key,
                        ws,
                        m.channel.map(|c| c.to_string()),
                        m.event.map(|e| e.to_string()),
                        m.status.as_str(),
                        m.start.map(|t| t.0),
                        value.to_string()
                    ])?;
                for (user, p) in &m.participants {
                    self.tx
                        .prepare_cached(
                            "INSERT INTO meeting_participants(meeting, user, status, joined_at,
                             left_at) VALUES (?1, ?2, ?3, ?4, ?5)
                             ON CONFLICT(meeting, user) DO UPDATE SET status = excluded.status,
                             joined_at = excluded.joined_at, left_at = excluded.left_at",
                        )?
                        .execute(params![
                            key,
                            user,
                            p.status.as_str(),
                            p.joined_at.map(|t| t.0),
                            p.left_at.map(|t| t.0)
                        ])?;
                }
                Ok(Projection {
                    inserted: before.is_none(),
                    before,
                })
            }
            (Source::Personal, _) => self.project_personal(coll, key, value),
            _ => Ok(Projection::default()),
        }
    }

    fn json_of(&self, sql: &str, key: &str) -> Result<Option<Value>, StoreError> {
        let s: Option<String> = self
            .tx
            .prepare_cached(sql)?
            .query_row([key], |r| r.get(0))
            .optional()?;
        Ok(match s {
            Some(s) => Some(serde_json::from_str(&s)?),
            None => None,
        })
    }

    fn project_message(
        &self,
        ws: &str,
        channel: &str,
        segment: u32,
        key: &str,
        value: &Value,
    ) -> Result<Projection, StoreError> {
        let m: Message = decode("messages", key, value)?;
        let old: Option<(i64, String, String, Option<String>)> = self
            .tx
            .prepare_cached("SELECT rowid, text, json, parent FROM messages WHERE id = ?1")?
            .query_row([key], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .optional()?;
        let text = m.visible_text().to_owned();
        let parent = m.parent.map(|p| p.to_string());
        let author = m.author.map(|a| a.to_string()).unwrap_or_default();
        let in_channel = parent.is_none() || m.broadcast;
        let has_file = !m.attachments.is_empty();
        let json = value.to_string();
        let before = match &old {
            Some((_, _, j, _)) => Some(serde_json::from_str(j)?),
            None => None,
        };
        let rowid =
            match &old {
                Some((rowid, old_text, _, _)) => {
                    self.tx
                    .prepare_cached(
                        "UPDATE messages SET text = ?2, edited_at = ?3, deleted = ?4, pinned = ?5,
                         has_file = ?6, has_link = ?7, in_channel = ?8, json = ?9 WHERE rowid = ?1",
                    )?
                    .execute(params![
                        rowid, text, m.edited_at.map(|t| t.0), b(m.is_deleted()), b(m.pinned),
                        b(has_file), b(has_link(&text)), b(in_channel), json
                    ])?;
                    if *old_text != text {
                        if !old_text.is_empty() {
                            self.tx
                                .prepare_cached(
                                    "INSERT INTO messages_fts(messages_fts, rowid, text)
                                 VALUES ('delete', ?1, ?2)",
                                )?
                                .execute(params![rowid, old_text])?;
                        }
                        if !text.is_empty() {
                            self.tx
                                .prepare_cached(
                                    "INSERT INTO messages_fts(rowid, text) VALUES (?1, ?2)",
                                )?
                                .execute(params![rowid, text])?;
                        }
                    }
                    *rowid
                }
                None => {
                    let mut rowid = message_rowid(m.created_at.0, key);
                    let mut st = self.tx.prepare_cached(
                        "INSERT INTO messages(rowid, id, workspace, channel, segment, author, text,
                     parent, in_channel, created_at, edited_at, deleted, pinned, has_file,
                     has_link, json)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)
                     ON CONFLICT(rowid) DO NOTHING",
                    )?;
                    // Two messages in the same millisecond may want the same slot: take the next.
                    let mut tries = 0;
                    while st.execute(params![
                        rowid,
                        key,
                        ws,
                        channel,
                        segment,
                        author,
                        text,
                        parent,
                        b(in_channel),
                        m.created_at.0,
                        m.edited_at.map(|t| t.0),
                        b(m.is_deleted()),
                        b(m.pinned),
                        b(has_file),
                        b(has_link(&text)),
                        json
                    ])? == 0
                    {
                        rowid += 1;
                        tries += 1;
                        if tries > 1_000_000 {
                            return Err(StoreError::Entity {
                                collection: "messages".into(),
                                key: key.into(),
                                reason: "no free slot".into(),
                            });
                        }
                    }
                    if !text.is_empty() {
                        self.tx
                            .prepare_cached(
                                "INSERT INTO messages_fts(rowid, text) VALUES (?1, ?2)",
                            )?
                            .execute(params![rowid, text])?;
                    }
                    rowid
                }
            };
        let _ = rowid;
        self.project_attachments(
            ws,
            AttachedTo::Message {
                channel,
                message: key,
            },
            &m.attachments,
            m.is_deleted(),
        )?;
        // A root may arrive after its replies (they can sit in a later segment): count its own
        // replies too, so the result does not depend on arrival order.
        let mut recount: Vec<&str> = vec![key];
        if let Some(p) = &parent {
            recount.push(p);
        }
        for p in recount {
            // One row-valued subquery: the two-subquery form is re-prepared on every call.
            self.tx
                .prepare_cached(
                    "UPDATE messages SET (reply_count, last_reply) =
                       (SELECT COUNT(*), MAX(created_at) FROM messages r
                        WHERE r.parent = ?1 AND r.deleted = 0)
                     WHERE id = ?1",
                )?
                .execute([p])?;
        }
        Ok(Projection {
            inserted: old.is_none(),
            before,
        })
    }

    /// A file's row and search entry. A file is its first holder's (message, task, or the
    /// workspace): a record elsewhere claiming its id changes nothing.
    fn project_file(
        &self,
        ws: &str,
        key: &str,
        f: &FileMeta,
        json: &str,
        deleted: bool,
    ) -> Result<(), StoreError> {
        let written = self
            .tx
            .prepare_cached(
                "INSERT INTO files(id, workspace, name, size, mime, channel, message, task,
                 deleted, created_at, json) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
                 ON CONFLICT(id) DO UPDATE SET name = excluded.name, deleted = excluded.deleted,
                 json = excluded.json
                 WHERE files.workspace = excluded.workspace
                   AND files.message IS excluded.message AND files.task IS excluded.task",
            )?
            .execute(params![
                key,
                ws,
                f.name,
                f.size as i64,
                f.mime,
                f.channel.map(|c| c.to_string()),
                f.message.map(|m| m.to_string()),
                f.task.map(|t| t.to_string()),
                b(deleted),
                f.created_at.0,
                json
            ])?;
        if written == 0 {
            tracing::warn!(file = key, "a record claims a file another holds: ignored");
            return Ok(());
        }
        if deleted {
            // Nothing more to move for a deleted file, either way.
            self.tx
                .prepare_cached("DELETE FROM file_chunks WHERE file = ?1")?
                .execute([key])?;
        }
        self.index_search("file", key, ws, f.created_at.0, &f.name, &f.mime, deleted)
    }

    /// The files a message or a task carries the records of: listed while it stands, gone
    /// with it (or when an edit drops them). Where a file is attached is where its holder is,
    /// whatever the record says.
    fn project_attachments(
        &self,
        ws: &str,
        at: AttachedTo<'_>,
        attachments: &[weft_domain::Attachment],
        deleted: bool,
    ) -> Result<(), StoreError> {
        let (channel, message, task, holder, query) = match at {
            AttachedTo::Message { channel, message } => (
                channel.parse().ok(),
                message.parse().ok(),
                None,
                message,
                "SELECT id, json FROM files WHERE message = ?1 AND deleted = 0",
            ),
            AttachedTo::Task(t) => (
                None,
                None,
                t.parse().ok(),
                t,
                "SELECT id, json FROM files WHERE task = ?1 AND deleted = 0",
            ),
        };
        let mut kept = Vec::new();
        for a in attachments {
            if let (Some(id), Some(f)) = (a.file, &a.record) {
                let id = id.to_string();
                let f = FileMeta {
                    channel,
                    message,
                    task,
                    ..f.clone()
                };
                self.project_file(ws, &id, &f, &serde_json::to_string(&f)?, deleted)?;
                kept.push(id);
            }
        }
        let before: Vec<(String, String)> = self
            .tx
            .prepare_cached(query)?
            .query_map([holder], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        for (id, json) in before {
            if !kept.contains(&id) {
                let f: FileMeta = serde_json::from_str(&json)?;
                self.project_file(ws, &id, &f, &json, true)?;
            }
        }
        Ok(())
    }

    fn project_task(
        &self,
        ws: &str,
        board: &str,
        key: &str,
        value: &Value,
    ) -> Result<Projection, StoreError> {
        let t: Task = decode("tasks", key, value)?;
        let before = self.json_of("SELECT json FROM tasks WHERE id = ?1", key)?;
        let (column, pos) = match t.place.split_once('|') {
            Some((c, p)) => (c.to_owned(), p.to_owned()),
            None => (String::new(), String::new()),
        };
        self.tx
            .prepare_cached(
                "INSERT INTO tasks(id, workspace, board, column_id, pos, title, assignee, priority,
                 due, completed_at, deleted, created_by, created_at, updated_at, json)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)
                 ON CONFLICT(id) DO UPDATE SET column_id = excluded.column_id,
                 pos = excluded.pos, title = excluded.title, assignee = excluded.assignee,
                 priority = excluded.priority, due = excluded.due,
                 completed_at = excluded.completed_at, deleted = excluded.deleted,
                 updated_at = excluded.updated_at, json = excluded.json",
            )?
            .execute(params![
                key,
                ws,
                board,
                column,
                pos,
                t.title,
                t.assignee.map(|a| a.to_string()),
                t.priority.map(|p| p.as_str()),
                t.due.map(|d| d.0),
                t.completed_at.map(|c| c.0),
                b(t.deleted_at.is_some()),
                t.created_by.map(|c| c.to_string()),
                t.created_at.0,
                t.updated_at.0,
                value.to_string()
            ])?;
        self.project_attachments(
            ws,
            AttachedTo::Task(key),
            &t.attachments,
            t.deleted_at.is_some(),
        )?;
        let comments: Vec<&str> = t
            .comments
            .values()
            .filter(|c| c.deleted_at.is_none())
            .map(|c| c.text.as_str())
            .collect();
        let body = format!("{}\n{}", t.description, comments.join("\n"));
        self.index_search(
            "task",
            key,
            ws,
            t.created_at.0,
            &t.title,
            &body,
            t.deleted_at.is_some(),
        )?;
        Ok(Projection {
            inserted: before.is_none(),
            before,
        })
    }

    fn project_workspace(
        &self,
        ws: &str,
        coll: &str,
        key: &str,
        value: &Value,
    ) -> Result<Projection, StoreError> {
        let json = value.to_string();
        let exists = |sql: &str| -> Result<bool, StoreError> {
            Ok(self
                .tx
                .prepare_cached(sql)?
                .query_row(params![ws, key], |_| Ok(()))
                .optional()?
                .is_some())
        };
        let inserted;
        match coll {
            "workspace" => {
                let w: Workspace = decode(coll, key, value)?;
                inserted = !exists("SELECT 1 FROM workspaces WHERE id = ?2 AND ?1 = ?1")?;
                self.tx.execute(
                    "INSERT INTO workspaces(id, name, description, archived, created_at, json)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(id) DO UPDATE SET
                     name = excluded.name, description = excluded.description,
                     archived = excluded.archived, json = excluded.json",
                    params![
                        ws,
                        w.name,
                        w.description,
                        b(w.archived),
                        w.created_at.0,
                        json
                    ],
                )?;
            }
            "members" => {
                let m: Member = decode(coll, key, value)?;
                inserted = !exists("SELECT 1 FROM members WHERE workspace = ?1 AND user = ?2")?;
                self.tx.execute(
                    "INSERT INTO members(workspace, user, role, active, joined_at, json)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(workspace, user) DO UPDATE SET
                     role = excluded.role, active = excluded.active, json = excluded.json",
                    params![
                        ws,
                        key,
                        m.role.as_str(),
                        b(m.removed_at.is_none()),
                        m.joined_at.0,
                        json
                    ],
                )?;
            }
            "profiles" => {
                let p: Profile = decode(coll, key, value)?;
                inserted = !exists("SELECT 1 FROM profiles WHERE workspace = ?1 AND user = ?2")?;
                self.tx.execute(
                    "INSERT INTO profiles(workspace, user, username, display_name, focus_until, json)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(workspace, user) DO UPDATE SET
                     username = excluded.username, display_name = excluded.display_name,
                     focus_until = excluded.focus_until, json = excluded.json",
                    params![ws, key, p.username, p.display_name, p.focus_until.map(|t| t.0), json],
                )?;
                let body = format!("@{} {} {} {}", p.username, p.email, p.title, p.bio);
                self.index_search(
                    "person",
                    &format!("{ws}:{key}"),
                    ws,
                    0,
                    &p.display_name,
                    &body,
                    false,
                )?;
            }
            "channels" => {
                let c: Channel = decode(coll, key, value)?;
                inserted = !exists("SELECT 1 FROM channels WHERE id = ?2 AND ?1 = ?1")?;
                self.tx.execute(
                    "INSERT INTO channels(id, workspace, name, kind, archived, segment, created_at, json)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT(id) DO UPDATE SET
                     name = excluded.name, kind = excluded.kind, archived = excluded.archived,
                     segment = excluded.segment, json = excluded.json",
                    params![key, ws, c.name, c.kind.as_str(), b(c.archived), c.segment, c.created_at.0, json],
                )?;
                self.tx
                    .execute("DELETE FROM channel_members WHERE channel = ?1", [key])?;
                for (user, on) in &c.members {
                    if *on {
                        self.tx.execute(
                            "INSERT INTO channel_members(channel, user) VALUES (?1, ?2)",
                            params![key, user],
                        )?;
                    }
                }
                let body = format!("{} {}", c.topic, c.purpose);
                let private = !matches!(c.kind, weft_domain::ChannelKind::Public);
                self.index_search(
                    "channel",
                    key,
                    ws,
                    c.created_at.0,
                    &c.name,
                    &body,
                    private && c.members.is_empty(),
                )?;
            }
            "boards" => {
                let bd: Board = decode(coll, key, value)?;
                inserted = !exists("SELECT 1 FROM boards WHERE id = ?2 AND ?1 = ?1")?;
                self.tx.execute(
                    "INSERT INTO boards(id, workspace, name, archived, created_at, json)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(id) DO UPDATE SET
                     name = excluded.name, archived = excluded.archived, json = excluded.json",
                    params![key, ws, bd.name, b(bd.archived), bd.created_at.0, json],
                )?;
            }
            "labels" => {
                let l: Label = decode(coll, key, value)?;
                inserted = !exists("SELECT 1 FROM labels WHERE id = ?2 AND ?1 = ?1")?;
                self.tx.execute(
                    "INSERT INTO labels(id, workspace, name, color) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT(id) DO UPDATE SET name = excluded.name, color = excluded.color",
                    params![key, ws, l.name, l.color],
                )?;
            }
            "files" => {
                let f: FileMeta = decode(coll, key, value)?;
                inserted = !exists("SELECT 1 FROM files WHERE id = ?2 AND ?1 = ?1")?;
                self.project_file(ws, key, &f, &json, f.deleted_at.is_some())?;
            }
            "audit" => {
                let a: AuditEntry = decode(coll, key, value)?;
                inserted = !exists("SELECT 1 FROM audit_log WHERE id = ?2 AND ?1 = ?1")?;
                self.tx.execute(
                    "INSERT INTO audit_log(id, workspace, at, actor, action, json)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(id) DO UPDATE SET json = excluded.json",
                    params![key, ws, a.at.0, a.actor.map(|x| x.to_string()), a.action.as_str(), json],
                )?;
            }
            "integrations" => {
                let _: Integration = decode(coll, key, value)?;
                inserted = !exists("SELECT 1 FROM integrations WHERE id = ?2 AND ?1 = ?1")?;
                self.tx.execute(
                    "INSERT INTO integrations(id, workspace, json) VALUES (?1, ?2, ?3)
                     ON CONFLICT(id) DO UPDATE SET json = excluded.json",
                    params![key, ws, json],
                )?;
            }
            "integration_runs" => {
                let r: IntegrationRun = decode(coll, key, value)?;
                inserted = !exists("SELECT 1 FROM integration_runs WHERE id = ?2 AND ?1 = ?1")?;
                self.tx.execute(
                    "INSERT INTO integration_runs(id, workspace, integration, status, started_at, json)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(id) DO UPDATE SET
                     status = excluded.status, json = excluded.json",
                    params![key, ws, r.integration.map(|i| i.to_string()), r.status.as_str(), r.started_at.0, json],
                )?;
            }
            "focus_days" => {
                // key: "<user>:<YYYY-MM-DD>", value: minutes.
                let minutes = value.as_i64().unwrap_or(0);
                let (user, day) = key.split_once(':').unwrap_or((key, ""));
                inserted = !exists(
                    "SELECT 1 FROM focus_days WHERE workspace = ?1 AND user || ':' || day = ?2",
                )?;
                self.tx.execute(
                    "INSERT INTO focus_days(workspace, user, day, minutes) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT(workspace, user, day) DO UPDATE SET minutes = excluded.minutes",
                    params![ws, user, day, minutes],
                )?;
            }
            _ => inserted = false,
        }
        Ok(Projection {
            inserted,
            before: None,
        })
    }

    fn project_personal(
        &self,
        coll: &str,
        key: &str,
        value: &Value,
    ) -> Result<Projection, StoreError> {
        let before = self
            .tx
            .prepare_cached("SELECT json FROM personal WHERE coll = ?1 AND key = ?2")?
            .query_row(params![coll, key], |r| r.get::<_, String>(0))
            .optional()?;
        self.tx
            .prepare_cached(
                "INSERT INTO personal(coll, key, json) VALUES (?1, ?2, ?3)
                 ON CONFLICT(coll, key) DO UPDATE SET json = excluded.json",
            )?
            .execute(params![coll, key, value.to_string()])?;
        match coll {
            "read_state" => {
                self.tx
                    .prepare_cached(
                        "INSERT INTO read_state(channel, last_read) VALUES (?1, ?2)
                         ON CONFLICT(channel) DO UPDATE SET last_read = excluded.last_read",
                    )?
                    .execute(params![key, value.as_i64().unwrap_or(0)])?;
            }
            "focus" => {
                let f: FocusSession = decode(coll, key, value)?;
                self.tx.execute(
                    "INSERT INTO focus_sessions(id, started_at, state, json) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT(id) DO UPDATE SET state = excluded.state, json = excluded.json",
                    params![key, f.started_at.0, f.state.as_str(), value.to_string()],
                )?;
            }
            "scheduled" | "reminders" => {
                let due = value.get("at").and_then(Value::as_i64).unwrap_or(0);
                let done = value.get("done").and_then(Value::as_bool).unwrap_or(false);
                self.tx.execute(
                    "INSERT INTO timers(key, kind, due_at, done, json) VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT(key) DO UPDATE SET due_at = excluded.due_at, done = excluded.done,
                     json = excluded.json",
                    params![
                        format!("{coll}:{key}"),
                        coll,
                        due,
                        b(done),
                        value.to_string()
                    ],
                )?;
            }
            "inbox_read" => {
                self.tx
                    .execute("UPDATE inbox SET read = 1 WHERE key = ?1", [key])?;
            }
            _ => {}
        }
        let before = match before {
            Some(s) => Some(serde_json::from_str(&s)?),
            None => None,
        };
        Ok(Projection {
            inserted: before.is_none(),
            before,
        })
    }

    /// Adds, replaces or (with `hidden`) removes an entry of the general search index.
    #[allow(clippy::too_many_arguments)]
    fn index_search(
        &self,
        kind: &str,
        r: &str,
        ws: &str,
        at: i64,
        title: &str,
        body: &str,
        hidden: bool,
    ) -> Result<(), StoreError> {
        let old: Option<i64> = self
            .tx
            .prepare_cached("SELECT id FROM search_refs WHERE kind = ?1 AND ref = ?2")?
            .query_row(params![kind, r], |row| row.get(0))
            .optional()?;
        if let Some(id) = old {
            self.tx
                .prepare_cached("DELETE FROM search_fts WHERE rowid = ?1")?
                .execute([id])?;
            if hidden {
                self.tx
                    .prepare_cached("DELETE FROM search_refs WHERE id = ?1")?
                    .execute([id])?;
                return Ok(());
            }
        } else if hidden {
            return Ok(());
        }
        let id = match old {
            Some(id) => id,
            None => {
                self.tx
                    .prepare_cached(
                        "INSERT INTO search_refs(kind, ref, workspace, at) VALUES (?1, ?2, ?3, ?4)",
                    )?
                    .execute(params![kind, r, ws, at])?;
                self.tx.last_insert_rowid()
            }
        };
        self.tx
            .prepare_cached("INSERT INTO search_fts(rowid, title, body) VALUES (?1, ?2, ?3)")?
            .execute(params![id, title, body])?;
        Ok(())
    }

    /// Adds an inbox entry unless one with the same key exists; returns whether it was new.
    #[allow(clippy::too_many_arguments)]
    pub fn inbox_add(
        &self,
        key: &str,
        kind: &str,
        workspace: Option<&str>,
        channel: Option<&str>,
        title: &str,
        body: &str,
        target: &str,
        at: i64,
        held: bool,
    ) -> Result<bool, StoreError> {
        let read: bool = self
            .tx
            .prepare_cached("SELECT 1 FROM personal WHERE coll = 'inbox_read' AND key = ?1")?
            .query_row([key], |_| Ok(()))
            .optional()?
            .is_some();
        let n = self
            .tx
            .prepare_cached(
                "INSERT INTO inbox(key, kind, workspace, channel, title, body, target, at, read, held)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) ON CONFLICT(key) DO NOTHING",
            )?
            .execute(params![key, kind, workspace, channel, title, body, target, at, b(read), b(held)])?;
        Ok(n == 1)
    }

    /// Marks an inbox entry read locally (the engine also records it in the personal document).
    pub fn inbox_mark_read(&self, key: &str) -> Result<(), StoreError> {
        self.tx
            .execute("UPDATE inbox SET read = 1 WHERE key = ?1", [key])?;
        Ok(())
    }

    /// Releases held notifications (after focus or do-not-disturb); returns how many.
    pub fn inbox_release_held(&self) -> Result<usize, StoreError> {
        Ok(self
            .tx
            .execute("UPDATE inbox SET held = 0 WHERE held = 1", [])?)
    }

    /// Marks a personal timer done in the read model (the document records it too).
    pub fn timer_done(&self, key: &str) -> Result<(), StoreError> {
        self.tx
            .execute("UPDATE timers SET done = 1 WHERE key = ?1", [key])?;
        Ok(())
    }

    /// Empties every read-model table, before a full rebuild from the documents. Every
    /// document is marked unprojected with it, so a rebuild cut short goes on at the next
    /// start instead of leaving the read model short.
    pub fn clear_read_model(&self) -> Result<(), StoreError> {
        self.tx.execute_batch(
            "UPDATE docs SET projected_heads = X'';
             DELETE FROM workspaces; DELETE FROM members; DELETE FROM profiles;
             DELETE FROM channels; DELETE FROM channel_members; DELETE FROM messages;
             INSERT INTO messages_fts(messages_fts) VALUES ('delete-all');
             DELETE FROM files; DELETE FROM boards; DELETE FROM columns; DELETE FROM tasks;
             DELETE FROM labels; DELETE FROM events; DELETE FROM meetings;
             DELETE FROM meeting_participants; DELETE FROM audit_log; DELETE FROM integrations;
             DELETE FROM integration_runs; DELETE FROM focus_days; DELETE FROM personal;
             DELETE FROM focus_sessions; DELETE FROM read_state; DELETE FROM timers;
             DELETE FROM search_refs; DELETE FROM search_fts;",
        )?;
        Ok(())
    }
}
