//! What syncing through relays keeps: accounts, the logs followed with their cursors and
//! access lists, sealed secrets, and the outbox's pushes in flight.

use crate::{Store, StoreError, Tx};
use rusqlite::{OptionalExtension, params};

/// An entry held for want of a key: (seq, author, data).
pub type HeldEntry = (u64, Vec<u8>, Vec<u8>);

/// A relay account.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct AccountRow {
    pub id: i64,
    pub url: String,
    pub added_at: i64,
}

/// A relay log this replica follows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRow {
    /// The workspace id, or the user id of a personal log.
    pub log: String,
    pub account: i64,
    /// `workspace` or `personal`.
    pub kind: String,
    pub cursor: u64,
    pub access_version: u64,
    pub access: Option<Vec<u8>>,
    pub published: bool,
    pub unreadable: u64,
}

/// A queued local change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxRow {
    pub seq: i64,
    pub doc_id: String,
    pub data: Vec<u8>,
    /// The push it went out in, once sent.
    pub blob: Option<Vec<u8>>,
}

fn log_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<LogRow> {
    Ok(LogRow {
        log: r.get(0)?,
        account: r.get(1)?,
        kind: r.get(2)?,
        cursor: r.get::<_, i64>(3)? as u64,
        access_version: r.get::<_, i64>(4)? as u64,
        access: r.get(5)?,
        published: r.get::<_, i64>(6)? != 0,
        unreadable: r.get::<_, i64>(7)? as u64,
    })
}

const LOG_COLUMNS: &str =
    "log, account, kind, cursor, access_version, access, published, unreadable";

impl Store {
    /// Entries of a log held for want of a key: (seq, author, data), oldest first.
    pub fn held_entries(&self, log: &str) -> Result<Vec<HeldEntry>, StoreError> {
        let mut st = self.conn.prepare_cached(
            "SELECT seq, author, data FROM held_entries WHERE log = ?1 ORDER BY seq",
        )?;
        let rows = st.query_map([log], |r| {
            Ok((r.get::<_, i64>(0)? as u64, r.get(1)?, r.get(2)?))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// How many entries of a log wait for a key.
    pub fn held_count(&self, log: &str) -> Result<u64, StoreError> {
        let n: i64 = self.conn.query_row(
            "SELECT COUNT(*) FROM held_entries WHERE log = ?1",
            [log],
            |r| r.get(0),
        )?;
        Ok(n as u64)
    }

    /// Every relay account.
    pub fn accounts(&self) -> Result<Vec<AccountRow>, StoreError> {
        let mut st = self
            .conn
            .prepare_cached("SELECT id, url, added_at FROM accounts ORDER BY id")?;
        let rows = st.query_map([], |r| {
            Ok(AccountRow {
                id: r.get(0)?,
                url: r.get(1)?,
                added_at: r.get(2)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The logs followed, optionally of one account.
    pub fn sync_logs(&self, account: Option<i64>) -> Result<Vec<LogRow>, StoreError> {
        let mut st = self.conn.prepare_cached(&format!(
            "SELECT {LOG_COLUMNS} FROM sync_logs WHERE ?1 IS NULL OR account = ?1 ORDER BY log"
        ))?;
        let rows = st.query_map([account], log_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// One log.
    pub fn sync_log(&self, log: &str) -> Result<Option<LogRow>, StoreError> {
        Ok(self
            .conn
            .prepare_cached(&format!(
                "SELECT {LOG_COLUMNS} FROM sync_logs WHERE log = ?1"
            ))?
            .query_row([log], log_row)
            .optional()?)
    }

    /// A sealed secret.
    pub fn secret(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .conn
            .prepare_cached("SELECT sealed FROM secrets WHERE name = ?1")?
            .query_row([name], |r| r.get(0))
            .optional()?)
    }

    /// Names of the secrets that start with `prefix`.
    pub fn secret_names(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let mut st = self.conn.prepare_cached(
            "SELECT name FROM secrets WHERE substr(name, 1, length(?1)) = ?1 ORDER BY name",
        )?;
        let rows = st.query_map([prefix], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Queued changes for a relay log, oldest first, at most `limit`.
    pub fn outbox(&self, log: &str, limit: usize) -> Result<Vec<OutboxRow>, StoreError> {
        let mut st = self.conn.prepare_cached(
            "SELECT seq, doc_id, data, blob FROM outbox WHERE log = ?1 ORDER BY seq LIMIT ?2",
        )?;
        let rows = st.query_map(params![log, limit as i64], |r| {
            Ok(OutboxRow {
                seq: r.get(0)?,
                doc_id: r.get(1)?,
                data: r.get(2)?,
                blob: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// How many changes wait in the outbox for a relay log.
    pub fn outbox_len(&self, log: &str) -> Result<u64, StoreError> {
        let n: i64 = self
            .conn
            .prepare_cached("SELECT COUNT(*) FROM outbox WHERE log = ?1")?
            .query_row([log], |r| r.get(0))?;
        Ok(n as u64)
    }

    /// How many chunks of `file` are still queued for `state`.
    pub fn file_chunks_queued(&self, file: &str, state: &str) -> Result<u64, StoreError> {
        let n: i64 = self.conn.query_row(
            "SELECT COUNT(*) FROM file_chunks WHERE file = ?1 AND state = ?2",
            params![file, state],
            |r| r.get(0),
        )?;
        Ok(n as u64)
    }

    /// File chunks of a log queued for `state`, oldest first.
    pub fn queued_chunks(
        &self,
        log: &str,
        state: &str,
        limit: usize,
    ) -> Result<Vec<String>, StoreError> {
        let mut st = self.conn.prepare_cached(
            "SELECT chunk FROM file_chunks WHERE state = ?1 AND log = ?2 ORDER BY since, chunk
             LIMIT ?3",
        )?;
        let rows = st.query_map(params![state, log, limit as i64], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// How many file chunks of a log are queued for `state`.
    pub fn queued_chunk_count(&self, log: &str, state: &str) -> Result<u64, StoreError> {
        let n: i64 = self.conn.query_row(
            "SELECT COUNT(*) FROM file_chunks WHERE state = ?1 AND log = ?2",
            params![state, log],
            |r| r.get(0),
        )?;
        Ok(n as u64)
    }
}

impl Tx<'_> {
    /// Keeps an entry that could not be opened yet.
    pub fn hold_entry(
        &self,
        log: &str,
        seq: u64,
        author: &[u8],
        data: &[u8],
    ) -> Result<(), StoreError> {
        self.tx
            .prepare_cached(
                "INSERT INTO held_entries(log, seq, author, data) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT DO NOTHING",
            )?
            .execute(params![log, seq as i64, author, data])?;
        Ok(())
    }

    /// Forgets a held entry (opened at last).
    pub fn release_entry(&self, log: &str, seq: u64) -> Result<(), StoreError> {
        self.tx.execute(
            "DELETE FROM held_entries WHERE log = ?1 AND seq = ?2",
            params![log, seq as i64],
        )?;
        Ok(())
    }

    /// Adds a relay account (or finds it); returns its id.
    pub fn add_account(&self, url: &str, at: i64) -> Result<i64, StoreError> {
        self.tx.execute(
            "INSERT INTO accounts(url, added_at) VALUES (?1, ?2) ON CONFLICT(url) DO NOTHING",
            params![url, at],
        )?;
        Ok(self
            .tx
            .query_row("SELECT id FROM accounts WHERE url = ?1", [url], |r| {
                r.get(0)
            })?)
    }

    /// Follows a log on an account (no change when it is followed already).
    pub fn follow_log(&self, log: &str, account: i64, kind: &str) -> Result<(), StoreError> {
        self.tx.execute(
            "INSERT INTO sync_logs(log, account, kind) VALUES (?1, ?2, ?3)
             ON CONFLICT(log) DO NOTHING",
            params![log, account, kind],
        )?;
        Ok(())
    }

    /// Records the newest entry applied from a log.
    pub fn set_cursor(&self, log: &str, cursor: u64, unreadable: u64) -> Result<(), StoreError> {
        self.tx
            .prepare_cached(
                "UPDATE sync_logs SET cursor = MAX(cursor, ?2), unreadable = unreadable + ?3
                 WHERE log = ?1",
            )?
            .execute(params![log, cursor as i64, unreadable as i64])?;
        Ok(())
    }

    /// Records a newer access list.
    pub fn set_access(&self, log: &str, version: u64, list: &[u8]) -> Result<(), StoreError> {
        self.tx.execute(
            "UPDATE sync_logs SET access_version = ?2, access = ?3
             WHERE log = ?1 AND access_version < ?2",
            params![log, version as i64, list],
        )?;
        Ok(())
    }

    /// Removes a sealed secret.
    pub fn delete_secret(&self, name: &str) -> Result<(), StoreError> {
        self.tx
            .execute("DELETE FROM secrets WHERE name = ?1", [name])?;
        Ok(())
    }

    /// Marks a log's history as queued.
    pub fn set_published(&self, log: &str) -> Result<(), StoreError> {
        self.tx
            .execute("UPDATE sync_logs SET published = 1 WHERE log = ?1", [log])?;
        Ok(())
    }

    /// Stores a sealed secret.
    pub fn put_secret(&self, name: &str, sealed: &[u8]) -> Result<(), StoreError> {
        self.tx.execute(
            "INSERT INTO secrets(name, sealed) VALUES (?1, ?2)
             ON CONFLICT(name) DO UPDATE SET sealed = excluded.sealed",
            params![name, sealed],
        )?;
        Ok(())
    }

    /// Marks queued changes as sent in the push `blob`.
    pub fn assign_blob(&self, seqs: &[i64], blob: &[u8]) -> Result<(), StoreError> {
        let mut st = self
            .tx
            .prepare_cached("UPDATE outbox SET blob = ?2 WHERE seq = ?1")?;
        for s in seqs {
            st.execute(params![s, blob])?;
        }
        Ok(())
    }

    /// Drops the changes a push carried, now that the relay holds them.
    pub fn acked(&self, blob: &[u8]) -> Result<usize, StoreError> {
        Ok(self
            .tx
            .prepare_cached("DELETE FROM outbox WHERE blob = ?1")?
            .execute([blob])?)
    }

    /// Drops a log's queued document changes up to `upto` (its whole history is queued
    /// again); the engine's own envelopes (`!…` rows) stay.
    pub fn drop_log_outbox(&self, log: &str, upto: i64) -> Result<(), StoreError> {
        self.tx.execute(
            "DELETE FROM outbox WHERE log = ?1 AND seq <= ?2 AND substr(doc_id, 1, 1) != '!'",
            params![log, upto],
        )?;
        Ok(())
    }

    /// The newest outbox sequence number.
    pub fn outbox_head(&self) -> Result<i64, StoreError> {
        Ok(self
            .tx
            .query_row("SELECT COALESCE(MAX(seq), 0) FROM outbox", [], |r| r.get(0))?)
    }

    /// Queues chunks of `file` for `state` ('upload' or 'fetch'); already queued ones stay
    /// as they were.
    pub fn queue_chunks(
        &self,
        log: &str,
        file: &str,
        chunks: &[String],
        state: &str,
        at: i64,
    ) -> Result<(), StoreError> {
        let mut st = self.tx.prepare_cached(
            "INSERT OR IGNORE INTO file_chunks(log, chunk, state, file, since)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        for c in chunks {
            st.execute(params![log, c, state, file, at])?;
        }
        Ok(())
    }

    /// A file chunk's `state` is done (uploaded, or fetched); returns the files it was part
    /// of.
    pub fn chunk_done(
        &self,
        log: &str,
        chunk: &str,
        state: &str,
    ) -> Result<Vec<String>, StoreError> {
        let mut st = self.tx.prepare_cached(
            "DELETE FROM file_chunks WHERE log = ?1 AND chunk = ?2 AND state = ?3 RETURNING file",
        )?;
        let rows = st.query_map(params![log, chunk, state], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}
