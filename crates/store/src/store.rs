//! Opening the database, write transactions, and document persistence.

use crate::{StoreError, schema};
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use std::path::Path;

/// The store: one SQLite connection in WAL mode, and (for a file) a thread of its own that
/// copies the WAL into the database when asked, so the copy and its fsync never hold up an
/// edit or a catch-up.
pub struct Store {
    pub(crate) conn: Connection,
    checkpointer: Option<Checkpointer>,
}

/// The checkpoint thread: woken through a channel of one (requests made while one runs
/// coalesce), stopped by dropping the sender.
struct Checkpointer {
    wake: std::sync::mpsc::SyncSender<()>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Checkpointer {
    fn start(path: &Path) -> Result<Checkpointer, StoreError> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.pragma_update(None, "busy_timeout", 5000)?;
        let (wake, asked) = std::sync::mpsc::sync_channel::<()>(1);
        let thread = std::thread::Builder::new()
            .name("weft-checkpoint".into())
            .spawn(move || {
                while asked.recv().is_ok() {
                    // PASSIVE never waits for readers or the writer; what it cannot copy now
                    // the next request copies.
                    if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
                    {
                        tracing::warn!(error = %e, "WAL checkpoint failed");
                    }
                }
            })
            .map_err(|e| StoreError::Corrupt {
                path: path.display().to_string(),
                reason: format!("cannot start the checkpoint thread: {e}"),
            })?;
        Ok(Checkpointer {
            wake,
            thread: Some(thread),
        })
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        if let Some(mut c) = self.checkpointer.take() {
            drop(c.wake);
            if let Some(t) = c.thread.take() {
                let _ = t.join();
            }
        }
    }
}

/// A write transaction; dropped without [`Store::write`] returning `Ok`, it rolls back.
pub struct Tx<'a> {
    pub(crate) tx: rusqlite::Transaction<'a>,
}

/// A document as stored: the last snapshot followed by the changes appended since.
#[derive(Debug, Clone, Default)]
pub struct StoredDoc {
    /// Snapshot then changes, in a form Automerge loads directly.
    pub bytes: Vec<u8>,
    pub heads: Vec<u8>,
    pub projected_heads: Vec<u8>,
    pub changes_since_snapshot: usize,
}

/// A row of the document directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocRow {
    pub doc_id: String,
    pub kind: String,
    pub workspace: Option<String>,
    pub heads: Vec<u8>,
    pub projected_heads: Vec<u8>,
}

impl Store {
    /// Opens (creating if needed) the database at `path` and migrates it.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let shown = path.display().to_string();
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| StoreError::Corrupt {
            path: shown.clone(),
            reason: e.to_string(),
        })?;
        let mut store = Store::setup(conn, &shown)?;
        store.checkpointer = Some(Checkpointer::start(path)?);
        Ok(store)
    }

    /// An in-memory store, for tests and benchmarks' baselines.
    pub fn open_in_memory() -> Result<Store, StoreError> {
        Store::setup(Connection::open_in_memory()?, ":memory:")
    }

    fn setup(mut conn: Connection, path: &str) -> Result<Store, StoreError> {
        let corrupt = |e: rusqlite::Error| StoreError::Corrupt {
            path: path.into(),
            reason: e.to_string(),
        };
        // WAL with synchronous=NORMAL survives the process being killed at any point (the WAL
        // is on disk before COMMIT returns); only a power cut may lose the last transactions.
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(corrupt)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(corrupt)?;
        conn.pragma_update(None, "busy_timeout", 5000)
            .map_err(corrupt)?;
        conn.pragma_update(None, "cache_size", -32_000)
            .map_err(corrupt)?;
        conn.pragma_update(None, "temp_store", "MEMORY")
            .map_err(corrupt)?;
        // Checkpoints run off the edit path (`Store::checkpoint`, from the engine's timer tick);
        // this is only the safety net for a process that never ticks.
        conn.pragma_update(None, "wal_autocheckpoint", 20_000)
            .map_err(corrupt)?;
        schema::migrate(&mut conn, path)?;
        conn.set_prepared_statement_cache_capacity(256);
        Ok(Store {
            conn,
            checkpointer: None,
        })
    }

    /// Runs `f` in one write transaction, committed only if `f` returns `Ok`.
    pub fn write<T, E: From<StoreError>>(
        &mut self,
        f: impl FnOnce(&Tx<'_>) -> Result<T, E>,
    ) -> Result<T, E> {
        let tx = Tx {
            tx: self
                .conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(StoreError::from)?,
        };
        let out = f(&tx)?;
        tx.tx.commit().map_err(StoreError::from)?;
        Ok(out)
    }

    /// Reads a local setting.
    pub fn local(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn
            .query_row("SELECT value FROM local WHERE key = ?1", [key], |r| {
                r.get(0)
            })
            .optional()?)
    }

    /// Loads a document's stored bytes.
    pub fn load_doc(&self, doc_id: &str) -> Result<Option<StoredDoc>, StoreError> {
        load_doc(&self.conn, doc_id)
    }

    /// The document directory, optionally for one workspace.
    pub fn docs(&self, workspace: Option<&str>) -> Result<Vec<DocRow>, StoreError> {
        let mut st = self.conn.prepare_cached(
            "SELECT doc_id, kind, workspace, heads, projected_heads FROM docs
             WHERE ?1 IS NULL OR workspace = ?1 ORDER BY doc_id",
        )?;
        let rows = st.query_map([workspace], |r| {
            Ok(DocRow {
                doc_id: r.get(0)?,
                kind: r.get(1)?,
                workspace: r.get(2)?,
                heads: r.get(3)?,
                projected_heads: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// `PRAGMA integrity_check`: `Ok(())` or the problems found.
    pub fn integrity_check(&self) -> Result<(), StoreError> {
        let mut st = self.conn.prepare("PRAGMA integrity_check")?;
        let rows: Vec<String> = st.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?;
        if rows == ["ok"] {
            Ok(())
        } else {
            Err(StoreError::Corrupt {
                path: "database".into(),
                reason: rows.join("; "),
            })
        }
    }

    /// Sizes in bytes: (document snapshots, stored changes, whole database file).
    pub fn sizes(&self) -> Result<(u64, u64, u64), StoreError> {
        let snap: i64 = self.conn.query_row(
            "SELECT COALESCE(SUM(LENGTH(snapshot)), 0) FROM docs",
            [],
            |r| r.get(0),
        )?;
        let ch: i64 = self.conn.query_row(
            "SELECT COALESCE(SUM(LENGTH(data)), 0) FROM doc_changes",
            [],
            |r| r.get(0),
        )?;
        let pages: i64 = self.conn.query_row("PRAGMA page_count", [], |r| r.get(0))?;
        let size: i64 = self.conn.query_row("PRAGMA page_size", [], |r| r.get(0))?;
        Ok((snap as u64, ch as u64, (pages * size) as u64))
    }

    /// Sizes of the channel documents only: (bytes stored, messages).
    pub fn chat_history_size(&self) -> Result<(u64, u64, u64), StoreError> {
        let snap: i64 = self.conn.query_row(
            "SELECT COALESCE(SUM(LENGTH(snapshot)), 0) FROM docs WHERE kind = 'channel'",
            [],
            |r| r.get(0),
        )?;
        let ch: i64 = self.conn.query_row(
            "SELECT COALESCE(SUM(LENGTH(c.data)), 0) FROM doc_changes c
             JOIN docs d ON d.doc_id = c.doc_id WHERE d.kind = 'channel'",
            [],
            |r| r.get(0),
        )?;
        let (n, text): (i64, i64) = self.conn.query_row(
            "SELECT COUNT(*), COALESCE(SUM(LENGTH(CAST(text AS BLOB))), 0) FROM messages",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        Ok(((snap + ch) as u64, n as u64, text as u64))
    }

    /// Upkeep off the edit path: merges full-text index segments for at most `budget`, then
    /// asks for the WAL to be copied into the database ([`Store::checkpoint`]). Returns whether merge work
    /// is left (a catch-up wrote faster than one call merges; the next tick continues).
    pub fn upkeep(&self, budget: std::time::Duration) -> Result<bool, StoreError> {
        let started = std::time::Instant::now();
        let mut more = false;
        for table in ["messages_fts", "search_fts"] {
            loop {
                let before = self.conn.total_changes();
                self.conn.execute(
                    &format!("INSERT INTO {table}({table}, rank) VALUES ('merge', 500)"),
                    [],
                )?;
                // FTS5's documented signal: fewer than 2 changes means nothing was left to merge.
                if self.conn.total_changes() - before < 2 {
                    break;
                }
                if started.elapsed() >= budget {
                    more = true;
                    break;
                }
            }
        }
        self.checkpoint()?;
        Ok(more)
    }

    /// Copies the WAL into the database: on the checkpoint thread when there is one (this
    /// returns at once), else here.
    pub fn checkpoint(&self) -> Result<(), StoreError> {
        match &self.checkpointer {
            Some(c) => {
                // Full means one is already asked for; it will copy this too.
                let _ = c.wake.try_send(());
            }
            None => self
                .conn
                .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))?,
        }
        Ok(())
    }

    /// Documents with at least `min` changes since their snapshot.
    pub fn docs_to_compact(&self, min: usize) -> Result<Vec<String>, StoreError> {
        let mut st = self.conn.prepare_cached(
            "SELECT doc_id FROM doc_changes GROUP BY doc_id HAVING COUNT(*) >= ?1 ORDER BY doc_id",
        )?;
        let rows = st.query_map([min as i64], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Runs `VACUUM` and a WAL checkpoint so file sizes are meaningful.
    pub fn vacuum(&self) -> Result<(), StoreError> {
        self.conn
            .execute_batch("PRAGMA wal_checkpoint(TRUNCATE); VACUUM;")?;
        Ok(())
    }

    /// Raw connection for benchmarks' baselines only.
    #[doc(hidden)]
    pub fn raw_connection(&self) -> &Connection {
        &self.conn
    }
}

/// The relay log a document's changes go to: the id after the kind (`ws:<id>`,
/// `ch:<id>:...`, `me:<user>`), or after `!` for the engine's own envelopes (`!<log>:...`).
pub fn log_of(doc_id: &str) -> &str {
    let rest = match doc_id.strip_prefix('!') {
        Some(r) => r,
        None => doc_id.split_once(':').map(|(_, r)| r).unwrap_or(""),
    };
    rest.split(':').next().unwrap_or("")
}

pub(crate) fn load_doc(conn: &Connection, doc_id: &str) -> Result<Option<StoredDoc>, StoreError> {
    type Head = (Option<Vec<u8>>, Vec<u8>, Vec<u8>);
    let head: Option<Head> = conn
        .prepare_cached("SELECT snapshot, heads, projected_heads FROM docs WHERE doc_id = ?1")?
        .query_row([doc_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?;
    let Some((snapshot, heads, projected_heads)) = head else {
        return Ok(None);
    };
    let mut bytes = snapshot.unwrap_or_default();
    let mut st =
        conn.prepare_cached("SELECT data FROM doc_changes WHERE doc_id = ?1 ORDER BY seq")?;
    let mut rows = st.query([doc_id])?;
    let mut n = 0;
    while let Some(r) = rows.next()? {
        let data: Vec<u8> = r.get(0)?;
        bytes.extend_from_slice(&data);
        n += 1;
    }
    Ok(Some(StoredDoc {
        bytes,
        heads,
        projected_heads,
        changes_since_snapshot: n,
    }))
}

impl Tx<'_> {
    /// Sets a local (never replicated) value.
    pub fn set_local(&self, key: &str, value: &str) -> Result<(), StoreError> {
        self.tx.execute(
            "INSERT INTO local(key, value) VALUES (?1, ?2)
             ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            params![key, value],
        )?;
        Ok(())
    }

    /// Reads a local value inside the transaction.
    pub fn local(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .tx
            .query_row("SELECT value FROM local WHERE key = ?1", [key], |r| {
                r.get(0)
            })
            .optional()?)
    }

    /// Registers a document with its first snapshot (its genesis).
    pub fn create_doc(
        &self,
        doc_id: &str,
        kind: &str,
        workspace: Option<&str>,
        snapshot: &[u8],
        heads: &[u8],
    ) -> Result<(), StoreError> {
        self.tx.execute(
            "INSERT INTO docs(doc_id, kind, workspace, snapshot, heads, projected_heads)
             VALUES (?1, ?2, ?3, ?4, ?5, ?5) ON CONFLICT(doc_id) DO NOTHING",
            params![doc_id, kind, workspace, snapshot, heads],
        )?;
        Ok(())
    }

    /// Appends a change to a document and records the heads the read model now reflects.
    pub fn append_change(&self, doc_id: &str, hash: &[u8], data: &[u8]) -> Result<(), StoreError> {
        self.tx
            .prepare_cached("INSERT INTO doc_changes(doc_id, hash, data) VALUES (?1, ?2, ?3)")?
            .execute(params![doc_id, hash, data])?;
        Ok(())
    }

    /// Records a document's heads; `projected` says the read model reflects them too.
    pub fn set_heads(&self, doc_id: &str, heads: &[u8], projected: bool) -> Result<(), StoreError> {
        let sql = if projected {
            "UPDATE docs SET heads = ?2, projected_heads = ?2 WHERE doc_id = ?1"
        } else {
            "UPDATE docs SET heads = ?2 WHERE doc_id = ?1"
        };
        self.tx
            .prepare_cached(sql)?
            .execute(params![doc_id, heads])?;
        Ok(())
    }

    /// Records how many received changes wait for missing dependencies.
    pub fn set_pending(&self, doc_id: &str, pending: usize) -> Result<(), StoreError> {
        self.tx
            .prepare_cached("UPDATE docs SET pending_changes = ?2 WHERE doc_id = ?1")?
            .execute(params![doc_id, pending as i64])?;
        Ok(())
    }

    /// Replaces a document's snapshot and drops the changes it now covers.
    pub fn compact(&self, doc_id: &str, snapshot: &[u8]) -> Result<(), StoreError> {
        self.tx.execute(
            "UPDATE docs SET snapshot = ?2 WHERE doc_id = ?1",
            params![doc_id, snapshot],
        )?;
        self.tx
            .execute("DELETE FROM doc_changes WHERE doc_id = ?1", [doc_id])?;
        Ok(())
    }

    /// Queues a local change for the relay.
    pub fn push_outbox(
        &self,
        doc_id: &str,
        hash: &[u8],
        data: &[u8],
        at: i64,
    ) -> Result<(), StoreError> {
        self.tx
            .prepare_cached(
                "INSERT INTO outbox(doc_id, hash, data, created_at, log)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![doc_id, hash, data, at, log_of(doc_id)])?;
        Ok(())
    }

    /// Loads a document's stored bytes inside the transaction.
    pub fn load_doc(&self, doc_id: &str) -> Result<Option<StoredDoc>, StoreError> {
        load_doc(&self.tx, doc_id)
    }

    /// Marks a timer key as fired; `false` if it had fired already (so it never fires twice).
    pub fn fire_once(&self, key: &str, at: i64) -> Result<bool, StoreError> {
        let n = self.tx.execute(
            "INSERT INTO fired(key, fired_at) VALUES (?1, ?2) ON CONFLICT(key) DO NOTHING",
            params![key, at],
        )?;
        Ok(n == 1)
    }
}

impl Tx<'_> {
    /// When `me` last read a channel (0 if never).
    pub fn last_read(&self, channel: &str) -> Result<i64, StoreError> {
        Ok(self
            .tx
            .prepare_cached("SELECT last_read FROM read_state WHERE channel = ?1")?
            .query_row([channel], |r| r.get(0))
            .optional()?
            .unwrap_or(0))
    }

    /// A channel's kind and name.
    pub fn channel_kind(&self, channel: &str) -> Result<Option<(String, String)>, StoreError> {
        Ok(self
            .tx
            .prepare_cached("SELECT kind, name FROM channels WHERE id = ?1")?
            .query_row([channel], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?)
    }

    /// Whether `user` follows a thread: they wrote its root or replied in it.
    pub fn follows_thread(&self, parent: &str, user: &str) -> Result<bool, StoreError> {
        Ok(self
            .tx
            .prepare_cached(
                "SELECT 1 FROM messages WHERE (id = ?1 OR parent = ?1) AND author = ?2 LIMIT 1",
            )?
            .query_row(params![parent, user], |_| Ok(()))
            .optional()?
            .is_some())
    }

    /// A workspace's name.
    pub fn workspace_name(&self, ws: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .tx
            .prepare_cached("SELECT name FROM workspaces WHERE id = ?1")?
            .query_row([ws], |r| r.get(0))
            .optional()?)
    }
}
