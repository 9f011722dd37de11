//! Read queries, one per access path; each is served by an index.

use crate::{Store, StoreError};
use rusqlite::{OptionalExtension, Row, params, types::Value as SqlValue};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A message as the UI lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct MessageRow {
    /// Position in time order; pass as `before` to page back.
    pub cursor: i64,
    pub id: String,
    pub channel: String,
    pub segment: u32,
    pub author: String,
    pub text: String,
    pub parent: Option<String>,
    pub created_at: i64,
    pub edited_at: Option<i64>,
    pub deleted: bool,
    pub pinned: bool,
    pub reply_count: i64,
    pub last_reply: Option<i64>,
    /// The whole entity (reactions, edit history, attachments).
    pub json: String,
}

const MESSAGE_COLS: &str =
    "m.rowid, m.id, m.channel, m.segment, m.author, m.text, m.parent, m.created_at,
    m.edited_at, m.deleted, m.pinned, m.reply_count, m.last_reply, m.json";

fn message_row(r: &Row<'_>) -> rusqlite::Result<MessageRow> {
    Ok(MessageRow {
        cursor: r.get(0)?,
        id: r.get(1)?,
        channel: r.get(2)?,
        segment: r.get(3)?,
        author: r.get(4)?,
        text: r.get(5)?,
        parent: r.get(6)?,
        created_at: r.get(7)?,
        edited_at: r.get(8)?,
        deleted: r.get(9)?,
        pinned: r.get(10)?,
        reply_count: r.get(11)?,
        last_reply: r.get(12)?,
        json: r.get(13)?,
    })
}

/// A channel in the sidebar.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct ChannelRow {
    pub id: String,
    pub workspace: String,
    pub name: String,
    pub kind: String,
    pub archived: bool,
    pub segment: u32,
    pub json: String,
}

fn channel_row(r: &Row<'_>) -> rusqlite::Result<ChannelRow> {
    Ok(ChannelRow {
        id: r.get(0)?,
        workspace: r.get(1)?,
        name: r.get(2)?,
        kind: r.get(3)?,
        archived: r.get(4)?,
        segment: r.get(5)?,
        json: r.get(6)?,
    })
}

fn task_row(r: &Row<'_>) -> rusqlite::Result<TaskRow> {
    Ok(TaskRow {
        id: r.get(0)?,
        board: r.get(1)?,
        column: r.get(2)?,
        pos: r.get(3)?,
        json: r.get(4)?,
    })
}

fn event_row(r: &Row<'_>) -> rusqlite::Result<EventRow> {
    Ok(EventRow {
        id: r.get(0)?,
        workspace: r.get(1)?,
        json: r.get(2)?,
    })
}

/// Unread and mention counts of a channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct UnreadRow {
    pub channel: String,
    pub unread: i64,
    pub mentions: i64,
}

/// A task with its place.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct TaskRow {
    pub id: String,
    pub board: String,
    pub column: String,
    pub pos: String,
    pub json: String,
}

/// Which tasks to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskFilter {
    pub workspace: Option<String>,
    pub board: Option<String>,
    pub column: Option<String>,
    pub assignee: Option<String>,
    pub priority: Option<String>,
    pub label: Option<String>,
    pub due_before: Option<i64>,
    pub include_done: bool,
    pub text: Option<String>,
}

/// An event row (recurring events are expanded by the engine).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct EventRow {
    pub id: String,
    pub workspace: String,
    pub json: String,
}

/// An inbox entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct InboxRow {
    pub key: String,
    pub kind: String,
    pub workspace: Option<String>,
    pub channel: Option<String>,
    pub title: String,
    pub body: String,
    pub target: String,
    pub at: i64,
    pub read: bool,
    pub held: bool,
}

/// Result order for searches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SearchOrder {
    #[default]
    Newest,
    Ranked,
}

/// A non-message search hit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct SearchHit {
    pub kind: String,
    pub id: String,
    pub workspace: String,
    pub title: String,
    pub snippet: String,
}

/// A message search, resolved by the engine (names turned into ids).
#[derive(Debug, Clone, Default)]
pub struct MessageSearch {
    pub workspace: String,
    /// Terms to match as substrings (3 characters or more use the trigram index).
    pub terms: Vec<String>,
    pub channel: Option<String>,
    pub author: Option<String>,
    pub has_file: bool,
    pub has_link: bool,
    pub before: Option<i64>,
    pub after: Option<i64>,
    /// Channels the searcher may not see.
    pub hidden_channels: Vec<String>,
    pub order: SearchOrder,
    pub limit: usize,
}

/// Longest word prefix the message index keeps (its `prefix` option lists 2 to this).
pub const PREFIX_MAX: usize = 6;

/// Ranked message search scores the newest this-many matches.
pub const RANKED_WINDOW: usize = 1000;

/// Quotes a term for FTS5 (a string literal: no operators inside).
fn fts_literal(term: &str) -> String {
    format!("\"{}\"", term.replace('"', "\"\""))
}

fn like_pattern(term: &str) -> String {
    let esc = term
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{esc}%")
}

impl Store {
    /// The newest messages shown in a channel, newest first, before `before` (a cursor).
    pub fn channel_page(
        &self,
        channel: &str,
        before: Option<i64>,
        limit: usize,
    ) -> Result<Vec<MessageRow>, StoreError> {
        let mut st = self.conn.prepare_cached(&format!(
            "SELECT {MESSAGE_COLS} FROM messages m WHERE m.channel = ?1 AND m.in_channel = 1
             AND m.rowid < ?2 ORDER BY m.rowid DESC LIMIT ?3"
        ))?;
        let rows = st.query_map(
            params![channel, before.unwrap_or(i64::MAX), limit as i64],
            message_row,
        )?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The page of a channel just after the message at `after` (exclusive), oldest first: what
    /// a person reading history scrolls down into.
    pub fn channel_page_after(
        &self,
        channel: &str,
        after: i64,
        limit: usize,
    ) -> Result<Vec<MessageRow>, StoreError> {
        let mut st = self.conn.prepare_cached(&format!(
            "SELECT {MESSAGE_COLS} FROM messages m WHERE m.channel = ?1 AND m.in_channel = 1
             AND m.rowid > ?2 ORDER BY m.rowid LIMIT ?3"
        ))?;
        let rows = st.query_map(params![channel, after, limit as i64], message_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// A thread's replies, oldest first.
    pub fn thread(&self, parent: &str) -> Result<Vec<MessageRow>, StoreError> {
        let mut st = self.conn.prepare_cached(&format!(
            "SELECT {MESSAGE_COLS} FROM messages m WHERE m.parent = ?1 ORDER BY m.rowid"
        ))?;
        let rows = st.query_map([parent], message_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// One message.
    pub fn message(&self, id: &str) -> Result<Option<MessageRow>, StoreError> {
        let mut st = self.conn.prepare_cached(&format!(
            "SELECT {MESSAGE_COLS} FROM messages m WHERE m.id = ?1"
        ))?;
        Ok(st.query_row([id], message_row).optional()?)
    }

    /// Pinned messages of a channel, newest first.
    pub fn pinned(&self, channel: &str) -> Result<Vec<MessageRow>, StoreError> {
        let mut st = self.conn.prepare_cached(&format!(
            "SELECT {MESSAGE_COLS} FROM messages m WHERE m.channel = ?1 AND m.pinned = 1
             AND m.deleted = 0 ORDER BY m.rowid DESC"
        ))?;
        let rows = st.query_map([channel], message_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Channels of a workspace, by name.
    pub fn channels(&self, ws: &str) -> Result<Vec<ChannelRow>, StoreError> {
        let mut st = self.conn.prepare_cached(
            "SELECT id, workspace, name, kind, archived, segment, json FROM channels
             WHERE workspace = ?1 ORDER BY name, id",
        )?;
        let rows = st.query_map([ws], channel_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// A channel by id.
    pub fn channel(&self, id: &str) -> Result<Option<ChannelRow>, StoreError> {
        let mut st = self.conn.prepare_cached(
            "SELECT id, workspace, name, kind, archived, segment, json FROM channels WHERE id = ?1",
        )?;
        Ok(st.query_row([id], channel_row).optional()?)
    }

    /// Unread messages and unread mentions per channel for `me`.
    pub fn unread_counts(&self, ws: &str, me: &str) -> Result<Vec<UnreadRow>, StoreError> {
        let mut st = self.conn.prepare_cached(
            "SELECT c.id,
               (SELECT COUNT(*) FROM messages m WHERE m.channel = c.id AND m.in_channel = 1
                  AND m.deleted = 0 AND m.author != ?2
                  AND m.created_at > COALESCE((SELECT last_read FROM read_state WHERE channel = c.id), 0)),
               (SELECT COUNT(*) FROM inbox i WHERE i.channel = c.id AND i.read = 0
                  AND i.kind IN ('mention', 'dm'))
             FROM channels c WHERE c.workspace = ?1 ORDER BY c.name",
        )?;
        let rows = st.query_map(params![ws, me], |r| {
            Ok(UnreadRow {
                channel: r.get(0)?,
                unread: r.get(1)?,
                mentions: r.get(2)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Rows of a table as (key, json) for the entity kinds that have one: used by the engine
    /// to list members, profiles, boards, labels, files, audit entries, integrations and runs.
    pub fn entities(&self, table: &str, ws: &str) -> Result<Vec<(String, String)>, StoreError> {
        let sql = match table {
            "members" => {
                "SELECT user, json FROM members WHERE workspace = ?1 ORDER BY joined_at, user"
            }
            "profiles" => "SELECT user, json FROM profiles WHERE workspace = ?1 ORDER BY username",
            "boards" => "SELECT id, json FROM boards WHERE workspace = ?1 ORDER BY name, id",
            "labels" => {
                "SELECT id, json_object('name', name, 'color', color) FROM labels WHERE workspace = ?1 ORDER BY name"
            }
            "files" => {
                "SELECT id, json FROM files WHERE workspace = ?1 AND deleted = 0 ORDER BY created_at DESC"
            }
            "audit" => {
                "SELECT id, json FROM audit_log WHERE workspace = ?1 ORDER BY at DESC, id DESC"
            }
            "integrations" => "SELECT id, json FROM integrations WHERE workspace = ?1 ORDER BY id",
            "integration_runs" => {
                "SELECT id, json FROM integration_runs WHERE workspace = ?1 ORDER BY started_at DESC"
            }
            "workspaces" => {
                "SELECT id, json FROM workspaces WHERE ?1 = '' OR id = ?1 ORDER BY name, id"
            }
            "meetings" => "SELECT id, json FROM meetings WHERE workspace = ?1 ORDER BY start, id",
            _ => return Err(StoreError::Search(format!("no such listing {table}"))),
        };
        let mut st = self.conn.prepare_cached(sql)?;
        let rows = st.query_map([ws], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// A file's record, with its workspace: (workspace, json, deleted).
    pub fn file(&self, id: &str) -> Result<Option<(String, String, bool)>, StoreError> {
        Ok(self
            .conn
            .prepare_cached("SELECT workspace, json, deleted FROM files WHERE id = ?1")?
            .query_row([id], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get::<_, i64>(2)? != 0))
            })
            .optional()?)
    }

    /// The chunks this replica still needs, as (log, chunk): those of every file not deleted
    /// (read off its record) and those queued to upload or fetch.
    pub fn kept_chunks(&self) -> Result<std::collections::BTreeSet<(String, String)>, StoreError> {
        let mut st = self.conn.prepare(
            "SELECT f.workspace, c.value FROM files f, json_each(f.json, '$.chunks') c
             WHERE f.deleted = 0 AND c.type = 'text'
             UNION SELECT log, chunk FROM file_chunks",
        )?;
        let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// One workspace-scoped entity's JSON.
    pub fn entity(&self, table: &str, ws: &str, key: &str) -> Result<Option<String>, StoreError> {
        let sql = match table {
            "members" => "SELECT json FROM members WHERE workspace = ?1 AND user = ?2",
            "profiles" => "SELECT json FROM profiles WHERE workspace = ?1 AND user = ?2",
            "boards" => "SELECT json FROM boards WHERE workspace = ?1 AND id = ?2",
            "columns" => "SELECT json FROM columns WHERE workspace = ?1 AND id = ?2",
            "tasks" => "SELECT json FROM tasks WHERE workspace = ?1 AND id = ?2",
            "events" => "SELECT json FROM events WHERE workspace = ?1 AND id = ?2",
            "meetings" => "SELECT json FROM meetings WHERE workspace = ?1 AND id = ?2",
            "files" => "SELECT json FROM files WHERE workspace = ?1 AND id = ?2",
            "labels" => {
                "SELECT json_object('name', name, 'color', color) FROM labels WHERE workspace = ?1 AND id = ?2"
            }
            _ => return Err(StoreError::Search(format!("no such entity table {table}"))),
        };
        Ok(self
            .conn
            .prepare_cached(sql)?
            .query_row(params![ws, key], |r| r.get(0))
            .optional()?)
    }

    /// A member's user id by username.
    pub fn user_by_username(&self, ws: &str, username: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn
            .prepare_cached("SELECT user FROM profiles WHERE workspace = ?1 AND username = ?2")?
            .query_row(params![ws, username], |r| r.get(0))
            .optional()?)
    }

    /// A channel id by name.
    pub fn channel_by_name(&self, ws: &str, name: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT id FROM channels WHERE workspace = ?1 AND name = ?2 ORDER BY id LIMIT 1",
            )?
            .query_row(params![ws, name], |r| r.get(0))
            .optional()?)
    }

    /// Channels `user` may see (public ones and those they are a member of).
    pub fn hidden_channels(&self, ws: &str, user: &str) -> Result<Vec<String>, StoreError> {
        let mut st = self.conn.prepare_cached(
            "SELECT id FROM channels c WHERE workspace = ?1 AND kind != 'public'
             AND NOT EXISTS (SELECT 1 FROM channel_members m WHERE m.channel = c.id AND m.user = ?2)",
        )?;
        let rows = st.query_map(params![ws, user], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Columns of a board in order.
    pub fn columns(&self, board: &str) -> Result<Vec<(String, String)>, StoreError> {
        let mut st = self.conn.prepare_cached(
            "SELECT id, json FROM columns WHERE board = ?1 AND deleted = 0 ORDER BY pos, id",
        )?;
        let rows = st.query_map([board], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Tasks matching a filter, in board/column order.
    pub fn tasks(&self, f: &TaskFilter) -> Result<Vec<TaskRow>, StoreError> {
        let mut sql = String::from(
            "SELECT t.id, t.board, t.column_id, t.pos, t.json FROM tasks t
             LEFT JOIN columns c ON c.id = t.column_id WHERE t.deleted = 0",
        );
        let mut args: Vec<SqlValue> = Vec::new();
        let mut add = |sql: &mut String, cond: &str, v: SqlValue| {
            args.push(v);
            sql.push_str(&format!(" AND {cond} ?{}", args.len()));
        };
        if let Some(w) = &f.workspace {
            add(&mut sql, "t.workspace =", w.clone().into());
        }
        if let Some(x) = &f.board {
            add(&mut sql, "t.board =", x.clone().into());
        }
        if let Some(x) = &f.column {
            add(&mut sql, "t.column_id =", x.clone().into());
        }
        if let Some(x) = &f.assignee {
            add(&mut sql, "t.assignee =", x.clone().into());
        }
        if let Some(x) = &f.priority {
            add(&mut sql, "t.priority =", x.clone().into());
        }
        if let Some(x) = &f.due_before {
            add(&mut sql, "t.due <", (*x).into());
        }
        if let Some(x) = &f.label {
            add(
                &mut sql,
                "json_extract(t.json, '$.labels.' || json_quote(",
                x.clone().into(),
            );
            sql.push_str(")) = 1");
        }
        if let Some(x) = &f.text {
            add(&mut sql, "t.title LIKE", like_pattern(x).into());
            sql.push_str(" ESCAPE '\\'");
        }
        if !f.include_done {
            sql.push_str(" AND t.completed_at IS NULL AND COALESCE(c.done, 0) = 0");
        }
        sql.push_str(" ORDER BY t.board, c.pos, t.column_id, t.pos, t.id");
        let mut st = self.conn.prepare(&sql)?;
        let rows = st.query_map(rusqlite::params_from_iter(args), task_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// One task.
    pub fn task(&self, id: &str) -> Result<Option<TaskRow>, StoreError> {
        Ok(self
            .conn
            .prepare_cached("SELECT id, board, column_id, pos, json FROM tasks WHERE id = ?1")?
            .query_row([id], task_row)
            .optional()?)
    }

    /// Tasks with a due date in `[from, to)` that are not done, in every workspace.
    pub fn tasks_due(&self, from: i64, to: i64) -> Result<Vec<TaskRow>, StoreError> {
        let mut st = self.conn.prepare_cached(
            "SELECT t.id, t.board, t.column_id, t.pos, t.json FROM tasks t
             LEFT JOIN columns c ON c.id = t.column_id
             WHERE t.due >= ?1 AND t.due < ?2 AND t.deleted = 0 AND t.completed_at IS NULL
             AND COALESCE(c.done, 0) = 0 ORDER BY t.due",
        )?;
        let rows = st.query_map(params![from, to], task_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Events that may have an occurrence overlapping `[from, to)` (all workspaces when `ws`
    /// is `None`).
    pub fn events_overlapping(
        &self,
        ws: Option<&str>,
        from: i64,
        to: i64,
    ) -> Result<Vec<EventRow>, StoreError> {
        let mut st = self.conn.prepare_cached(
            "SELECT id, workspace, json FROM events WHERE (?1 IS NULL OR workspace = ?1)
             AND deleted = 0 AND start < ?3 AND (until IS NULL OR until > ?2 OR (start = end AND start >= ?2))
             ORDER BY start, id",
        )?;
        let rows = st.query_map(params![ws, from, to], event_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Every event of a workspace (for ICS export).
    pub fn events(&self, ws: &str) -> Result<Vec<EventRow>, StoreError> {
        let mut st = self.conn.prepare_cached(
            "SELECT id, workspace, json FROM events WHERE workspace = ?1 AND deleted = 0 ORDER BY start, id",
        )?;
        let rows = st.query_map([ws], event_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The inbox, newest first.
    pub fn inbox(&self, unread_only: bool, limit: usize) -> Result<Vec<InboxRow>, StoreError> {
        let mut st = self.conn.prepare_cached(
            "SELECT key, kind, workspace, channel, title, body, target, at, read, held FROM inbox
             WHERE (?1 = 0 OR read = 0) ORDER BY at DESC, key LIMIT ?2",
        )?;
        let rows = st.query_map(params![unread_only, limit as i64], |r| {
            Ok(InboxRow {
                key: r.get(0)?,
                kind: r.get(1)?,
                workspace: r.get(2)?,
                channel: r.get(3)?,
                title: r.get(4)?,
                body: r.get(5)?,
                target: r.get(6)?,
                at: r.get(7)?,
                read: r.get(8)?,
                held: r.get(9)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Held notifications per kind (the summary shown after focus or do-not-disturb).
    pub fn held_summary(&self) -> Result<Vec<(String, i64)>, StoreError> {
        let mut st = self.conn.prepare_cached(
            "SELECT kind, COUNT(*) FROM inbox WHERE held = 1 GROUP BY kind ORDER BY kind",
        )?;
        let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// A personal-document entry.
    pub fn personal(&self, coll: &str, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn
            .prepare_cached("SELECT json FROM personal WHERE coll = ?1 AND key = ?2")?
            .query_row(params![coll, key], |r| r.get(0))
            .optional()?)
    }

    /// All entries of a personal collection.
    pub fn personal_all(&self, coll: &str) -> Result<Vec<(String, String)>, StoreError> {
        let mut st = self
            .conn
            .prepare_cached("SELECT key, json FROM personal WHERE coll = ?1 ORDER BY key")?;
        let rows = st.query_map([coll], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Focus sessions started in `[from, to)`.
    pub fn focus_sessions(&self, from: i64, to: i64) -> Result<Vec<String>, StoreError> {
        let mut st = self.conn.prepare_cached(
            "SELECT json FROM focus_sessions WHERE started_at >= ?1 AND started_at < ?2 ORDER BY started_at",
        )?;
        let rows = st.query_map(params![from, to], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Open (running or paused) focus sessions.
    pub fn open_focus_sessions(&self) -> Result<Vec<String>, StoreError> {
        let mut st = self.conn.prepare_cached(
            "SELECT json FROM focus_sessions WHERE state IN ('running', 'paused') ORDER BY started_at",
        )?;
        let rows = st.query_map([], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Personal timers (scheduled messages, reminders) due by `now` and not yet done.
    pub fn timers_due(&self, now: i64) -> Result<Vec<(String, String, String)>, StoreError> {
        let mut st = self.conn.prepare_cached(
            "SELECT key, kind, json FROM timers WHERE done = 0 AND due_at <= ?1 ORDER BY due_at, key",
        )?;
        let rows = st.query_map([now], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The earliest pending personal timer.
    pub fn next_timer(&self) -> Result<Option<i64>, StoreError> {
        Ok(self
            .conn
            .query_row("SELECT MIN(due_at) FROM timers WHERE done = 0", [], |r| {
                r.get(0)
            })?)
    }

    /// Whether a timer key has fired.
    pub fn has_fired(&self, key: &str) -> Result<bool, StoreError> {
        Ok(self
            .conn
            .prepare_cached("SELECT 1 FROM fired WHERE key = ?1")?
            .query_row([key], |_| Ok(()))
            .optional()?
            .is_some())
    }

    /// Searches messages.
    pub fn search_messages(&self, q: &MessageSearch) -> Result<Vec<MessageRow>, StoreError> {
        // Words match by prefix ("bill" finds "billing"). A term is split into words as the
        // index's tokenizer does; each word is looked up through the prefix index, which exists
        // for 2 to PREFIX_MAX characters and streams lazily; a longer word is found through its
        // first PREFIX_MAX characters and checked against the text. A term with no letter or
        // digit in it (":)", "!!!") has no words and is matched as a substring.
        let mut fts_words: Vec<String> = Vec::new();
        let mut substrings: Vec<&str> = Vec::new();
        for t in &q.terms {
            let words: Vec<&str> = t
                .split(|c: char| !c.is_alphanumeric())
                .filter(|w| !w.is_empty())
                .collect();
            if words.is_empty() {
                substrings.push(t);
            }
            for w in words {
                if w.chars().count() > PREFIX_MAX {
                    fts_words.push(w.chars().take(PREFIX_MAX).collect());
                    substrings.push(w);
                } else {
                    fts_words.push(w.to_owned());
                }
            }
        }
        let fts_terms = &fts_words;
        let mut args: Vec<SqlValue> = Vec::new();
        let mut sql;
        if fts_terms.is_empty() {
            sql = format!(
                "SELECT {MESSAGE_COLS} FROM messages m WHERE m.workspace = ?1 AND m.deleted = 0"
            );
            args.push(q.workspace.clone().into());
        } else {
            let expr = fts_terms
                .iter()
                .map(|t| format!("{}*", fts_literal(t)))
                .collect::<Vec<_>>()
                .join(" AND ");
            sql = format!(
                "SELECT {MESSAGE_COLS} FROM messages_fts f JOIN messages m ON m.rowid = f.rowid
                 WHERE messages_fts MATCH ?1 AND m.workspace = ?2 AND m.deleted = 0"
            );
            args.push(expr.into());
            args.push(q.workspace.clone().into());
        }
        let mut add = |sql: &mut String, cond: &str, v: SqlValue| {
            args.push(v);
            sql.push_str(&format!(" AND {cond} ?{}", args.len()));
        };
        for t in substrings {
            add(&mut sql, "m.text LIKE", like_pattern(t).into());
            sql.push_str(" ESCAPE '\\'");
        }
        if let Some(c) = &q.channel {
            add(&mut sql, "m.channel =", c.clone().into());
        }
        if let Some(a) = &q.author {
            add(&mut sql, "m.author =", a.clone().into());
        }
        if q.has_file {
            sql.push_str(" AND m.has_file = 1");
        }
        if q.has_link {
            sql.push_str(" AND m.has_link = 1");
        }
        if let Some(b) = q.before {
            add(&mut sql, "m.created_at <", b.into());
        }
        if let Some(a) = q.after {
            add(&mut sql, "m.created_at >=", a.into());
        }
        if !q.hidden_channels.is_empty() {
            let list = serde_json::to_string(&q.hidden_channels)?;
            add(
                &mut sql,
                "m.channel NOT IN (SELECT value FROM json_each(",
                list.into(),
            );
            sql.push_str("))");
        }
        let ranked = q.order == SearchOrder::Ranked && !fts_terms.is_empty();
        if ranked {
            // bm25 over every match grows with the history; rank the newest RANKED_WINDOW
            // matches instead (streamed newest first), which is also what people mean.
            sql = sql.replacen(
                &format!("SELECT {MESSAGE_COLS} FROM"),
                "SELECT m.rowid AS rid, f.rank AS score FROM",
                1,
            );
            args.push((RANKED_WINDOW as i64).into());
            sql.push_str(&format!(" ORDER BY f.rowid DESC LIMIT ?{}", args.len()));
            sql = format!(
                "SELECT {MESSAGE_COLS} FROM ({sql}) c JOIN messages m ON m.rowid = c.rid ORDER BY c.score, m.rowid DESC"
            );
        } else {
            sql.push_str(if fts_terms.is_empty() {
                " ORDER BY m.rowid DESC"
            } else {
                " ORDER BY f.rowid DESC"
            });
        }
        args.push((q.limit as i64).into());
        sql.push_str(&format!(" LIMIT ?{}", args.len()));
        let mut st = self.conn.prepare_cached(&sql)?;
        let rows = st.query_map(rusqlite::params_from_iter(args), message_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Searches tasks, events, files, people and channels.
    pub fn search_other(
        &self,
        ws: &str,
        terms: &[String],
        kinds: &[&str],
        limit: usize,
    ) -> Result<Vec<SearchHit>, StoreError> {
        let fts: Vec<String> = terms
            .iter()
            .filter(|t| t.chars().count() >= 3)
            .map(|t| fts_literal(t))
            .collect();
        let short: Vec<String> = terms
            .iter()
            .filter(|t| t.chars().count() < 3)
            .map(|t| like_pattern(t))
            .collect();
        let kinds_json = serde_json::to_string(kinds)?;
        let mut args: Vec<SqlValue> = vec![
            ws.to_owned().into(),
            kinds_json.into(),
            (limit as i64).into(),
        ];
        let mut sql = String::from(
            "SELECT r.kind, r.ref, r.workspace, s.title, substr(s.body, 1, 120) FROM search_fts s
             JOIN search_refs r ON r.id = s.rowid WHERE r.workspace = ?1
             AND (?2 = '[]' OR r.kind IN (SELECT value FROM json_each(?2)))",
        );
        if !fts.is_empty() {
            args.push(fts.join(" AND ").into());
            sql.push_str(&format!(" AND search_fts MATCH ?{}", args.len()));
        }
        for p in short {
            args.push(p.into());
            let n = args.len();
            sql.push_str(&format!(
                " AND (s.title LIKE ?{n} ESCAPE '\\' OR s.body LIKE ?{n} ESCAPE '\\')"
            ));
        }
        sql.push_str(if fts.is_empty() {
            " ORDER BY r.at DESC LIMIT ?3"
        } else {
            " ORDER BY s.rank LIMIT ?3"
        });
        let mut st = self.conn.prepare(&sql)?;
        let rows = st.query_map(rusqlite::params_from_iter(args), |r| {
            let kind: String = r.get(0)?;
            let reference: String = r.get(1)?;
            // People are indexed per workspace as "<ws>:<user>".
            let id = reference.rsplit(':').next().unwrap_or_default().to_owned();
            Ok(SearchHit {
                kind,
                id,
                workspace: r.get(2)?,
                title: r.get(3)?,
                snippet: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Messages per (author, UTC day) in `[from, to)`.
    pub fn messages_per_user_day(
        &self,
        ws: &str,
        from: i64,
        to: i64,
    ) -> Result<Vec<(String, i64, i64)>, StoreError> {
        let mut st = self.conn.prepare_cached(
            "SELECT author, created_at / 86400000 AS day, COUNT(*) FROM messages
             WHERE workspace = ?1 AND created_at >= ?2 AND created_at < ?3 AND deleted = 0
             GROUP BY author, day ORDER BY day, author",
        )?;
        let rows = st.query_map(params![ws, from, to], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Tasks completed per (assignee or creator, UTC day) in `[from, to)`.
    pub fn tasks_done_per_user_day(
        &self,
        ws: &str,
        from: i64,
        to: i64,
    ) -> Result<Vec<(String, i64, i64)>, StoreError> {
        let mut st = self.conn.prepare_cached(
            "SELECT COALESCE(assignee, created_by, ''), completed_at / 86400000 AS day, COUNT(*)
             FROM tasks WHERE workspace = ?1 AND completed_at >= ?2 AND completed_at < ?3
             AND deleted = 0 GROUP BY 1, day ORDER BY day",
        )?;
        let rows = st.query_map(params![ws, from, to], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Focus minutes per (user, day string) published to the workspace.
    pub fn focus_minutes_per_user_day(
        &self,
        ws: &str,
    ) -> Result<Vec<(String, String, i64)>, StoreError> {
        let mut st = self.conn.prepare_cached(
            "SELECT user, day, minutes FROM focus_days WHERE workspace = ?1 ORDER BY day, user",
        )?;
        let rows = st.query_map([ws], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Meetings attended per (user, UTC day of joining) in `[from, to)`.
    pub fn meetings_per_user_day(
        &self,
        ws: &str,
        from: i64,
        to: i64,
    ) -> Result<Vec<(String, i64, i64)>, StoreError> {
        let mut st = self.conn.prepare_cached(
            "SELECT p.user, p.joined_at / 86400000 AS day, COUNT(*) FROM meeting_participants p
             JOIN meetings m ON m.id = p.meeting WHERE m.workspace = ?1 AND p.joined_at >= ?2
             AND p.joined_at < ?3 GROUP BY p.user, day ORDER BY day",
        )?;
        let rows = st.query_map(params![ws, from, to], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The replicated read-model tables, each as sorted rows of text, leaving out what is
    /// local by nature (row ids, this user's inbox and personal state). Replicas holding the same
    /// documents return the same dump.
    pub fn dump_shared_read_model(&self) -> Result<BTreeMap<String, Vec<String>>, StoreError> {
        let tables: &[(&str, &str)] = &[
            (
                "workspaces",
                "SELECT id, name, description, archived, created_at, json FROM workspaces",
            ),
            (
                "members",
                "SELECT workspace, user, role, active, joined_at, json FROM members",
            ),
            (
                "profiles",
                "SELECT workspace, user, username, display_name, focus_until, json FROM profiles",
            ),
            (
                "channels",
                "SELECT id, workspace, name, kind, archived, segment, created_at, json FROM channels",
            ),
            (
                "channel_members",
                "SELECT channel, user FROM channel_members",
            ),
            (
                "messages",
                "SELECT id, workspace, channel, segment, author, text, parent, in_channel, created_at, edited_at, deleted, pinned, has_file, has_link, reply_count, last_reply, json FROM messages",
            ),
            (
                "messages_fts",
                "SELECT m.id, f.text FROM messages_fts f JOIN messages m ON m.rowid = f.rowid",
            ),
            (
                "files",
                "SELECT id, workspace, name, size, mime, deleted, created_at, json FROM files",
            ),
            (
                "boards",
                "SELECT id, workspace, name, archived, created_at, json FROM boards",
            ),
            (
                "columns",
                "SELECT id, board, workspace, name, pos, done, deleted, json FROM columns",
            ),
            (
                "tasks",
                "SELECT id, workspace, board, column_id, pos, title, assignee, priority, due, completed_at, deleted, created_by, created_at, updated_at, json FROM tasks",
            ),
            ("labels", "SELECT id, workspace, name, color FROM labels"),
            (
                "events",
                "SELECT id, workspace, title, start, end, until, recurring, kind, deleted, json FROM events",
            ),
            (
                "meetings",
                "SELECT id, workspace, channel, event, status, start, json FROM meetings",
            ),
            (
                "meeting_participants",
                "SELECT meeting, user, status, joined_at, left_at FROM meeting_participants",
            ),
            (
                "audit_log",
                "SELECT id, workspace, at, actor, action, json FROM audit_log",
            ),
            (
                "focus_days",
                "SELECT workspace, user, day, minutes FROM focus_days",
            ),
            (
                "search",
                "SELECT r.kind, r.ref, r.workspace, r.at, s.title, s.body FROM search_refs r JOIN search_fts s ON s.rowid = r.id",
            ),
        ];
        self.dump(tables)
    }

    /// The read model of the personal document (one person's devices hold the same).
    pub fn dump_personal_read_model(&self) -> Result<BTreeMap<String, Vec<String>>, StoreError> {
        let tables: &[(&str, &str)] = &[
            ("personal", "SELECT coll, key, json FROM personal"),
            (
                "focus_sessions",
                "SELECT id, started_at, state, json FROM focus_sessions",
            ),
            ("read_state", "SELECT channel, last_read FROM read_state"),
            ("timers", "SELECT key, kind, due_at, done, json FROM timers"),
        ];
        self.dump(tables)
    }

    fn dump(&self, tables: &[(&str, &str)]) -> Result<BTreeMap<String, Vec<String>>, StoreError> {
        let mut out = BTreeMap::new();
        for (name, sql) in tables {
            let mut st = self.conn.prepare(sql)?;
            let n = st.column_count();
            let mut rows: Vec<String> = st
                .query_map([], |r| {
                    let mut cells = Vec::with_capacity(n);
                    for i in 0..n {
                        let v: SqlValue = r.get(i)?;
                        cells.push(format!("{v:?}"));
                    }
                    Ok(cells.join("|"))
                })?
                .collect::<Result<_, _>>()?;
            rows.sort();
            out.insert((*name).to_owned(), rows);
        }
        Ok(out)
    }
}
