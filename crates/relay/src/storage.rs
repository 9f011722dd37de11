//! The relay's storage, behind a trait so PostgreSQL can follow SQLite. It holds opaque blobs,
//! ids, public keys, signed access lists, sizes and times: never content, which it cannot read.
//!
//! This is the one place outside `weft-store` with SQL: the relay must not depend on the
//! client's store (ARCHITECTURE.md), and what it stores has nothing in common with it.

use rusqlite::{Connection, OptionalExtension, params};
use std::io::Write;
use std::path::Path;
use std::path::PathBuf;
use std::sync::Mutex;
use weft_proto::{BlobId, ChunkId, DeviceKey, Entry, WorkspaceId};

/// A storage failure; the client is told `Storage` and may retry.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("database: {0}")]
    Db(#[from] rusqlite::Error),
    #[error("data directory {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error(
        "relay database at {path} is from a newer relay (schema {found}, this build knows {known})"
    )]
    TooNew {
        path: String,
        found: i64,
        known: i64,
    },
}

/// A blob to append.
#[derive(Debug, Clone)]
pub struct NewEntry {
    pub workspace: WorkspaceId,
    pub blob: BlobId,
    pub author: DeviceKey,
    pub data: Vec<u8>,
    pub at_ms: u64,
}

/// Where an append landed; `new` is false for a repeated blob id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    pub seq: u64,
    pub new: bool,
}

/// A stored snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub covers: u64,
    pub blob: BlobId,
    pub author: DeviceKey,
    pub data: Vec<u8>,
}

/// What storing a file chunk did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChunkPut {
    Stored,
    /// Already held (an upload repeated).
    Held,
    /// Storing it would take the workspace past its quota; `used` bytes are held.
    OverQuota {
        used: u64,
    },
}

/// What the relay needs from a store. Every write is durable when it returns.
pub trait Storage: Send + Sync + 'static {
    /// Appends blobs in one durable transaction, assigning each workspace's next sequence
    /// numbers; a blob id already in its workspace's log returns its existing number.
    fn append(&self, entries: &[NewEntry]) -> Result<Vec<Appended>, StorageError>;
    /// Entries after `after`, oldest first, at most `max` of them or about `max_bytes`.
    fn read(
        &self,
        ws: &WorkspaceId,
        after: u64,
        max: usize,
        max_bytes: usize,
    ) -> Result<Vec<Entry>, StorageError>;
    /// The newest sequence number (0 for an empty log).
    fn head(&self, ws: &WorkspaceId) -> Result<u64, StorageError>;
    /// Stores a snapshot covering the log up to `covers` and drops the entries it covers.
    fn put_snapshot(&self, ws: &WorkspaceId, snap: &Snapshot) -> Result<(), StorageError>;
    fn snapshot(&self, ws: &WorkspaceId) -> Result<Option<Snapshot>, StorageError>;
    /// The current encoded access list and its version.
    fn access(&self, ws: &WorkspaceId) -> Result<Option<(u64, Vec<u8>)>, StorageError>;
    fn set_access(&self, ws: &WorkspaceId, version: u64, list: &[u8]) -> Result<(), StorageError>;
    /// Records `device` as admitted by `invite`; returns the invite's uses, counting this one
    /// once however often the same device joins.
    fn admit(
        &self,
        ws: &WorkspaceId,
        invite: &DeviceKey,
        device: &DeviceKey,
        max_uses: u32,
    ) -> Result<Option<u32>, StorageError>;
    /// The invite that admitted `device`, if any.
    fn admitted_by(
        &self,
        ws: &WorkspaceId,
        device: &DeviceKey,
    ) -> Result<Option<DeviceKey>, StorageError>;
    /// Stores a file chunk for a workspace, durably, unless that takes the workspace's chunks
    /// past `quota` bytes. The caller has checked that `id` is the SHA-256 of `data`.
    fn put_chunk(
        &self,
        ws: &WorkspaceId,
        id: &ChunkId,
        data: &[u8],
        quota: u64,
    ) -> Result<ChunkPut, StorageError>;
    /// A workspace's file chunk, if held.
    fn chunk(&self, ws: &WorkspaceId, id: &ChunkId) -> Result<Option<Vec<u8>>, StorageError>;
    /// Bytes of file chunks held for a workspace.
    fn chunk_bytes(&self, ws: &WorkspaceId) -> Result<u64, StorageError>;
}

const SCHEMA: i64 = 2;

/// SQLite (WAL, `synchronous=FULL`: a commit is on disk before a push is acknowledged).
/// File chunks are files under `chunks/<workspace>/<id>` beside the database, which keeps
/// their sizes (for quotas).
pub struct SqliteStorage {
    write: Mutex<Connection>,
    read: Mutex<Connection>,
    chunks: PathBuf,
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StorageError + '_ {
    move |source| StorageError::Io {
        path: path.display().to_string(),
        source,
    }
}

impl SqliteStorage {
    /// Opens or creates `dir/relay.db`.
    pub fn open(dir: &Path) -> Result<SqliteStorage, StorageError> {
        std::fs::create_dir_all(dir).map_err(|source| StorageError::Io {
            path: dir.display().to_string(),
            source,
        })?;
        let path = dir.join("relay.db");
        let write = Connection::open(&path)?;
        write.pragma_update(None, "journal_mode", "WAL")?;
        write.pragma_update(None, "synchronous", "FULL")?;
        write.pragma_update(None, "busy_timeout", 5000)?;
        let found: i64 = write.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if found > SCHEMA {
            return Err(StorageError::TooNew {
                path: path.display().to_string(),
                found,
                known: SCHEMA,
            });
        }
        if found < 1 {
            write.execute_batch(
                "BEGIN;
                 CREATE TABLE log (
                   workspace BLOB NOT NULL, seq INTEGER NOT NULL, blob BLOB NOT NULL,
                   author BLOB NOT NULL, data BLOB NOT NULL, at_ms INTEGER NOT NULL,
                   PRIMARY KEY (workspace, seq)) WITHOUT ROWID;
                 CREATE UNIQUE INDEX log_blob ON log(workspace, blob);
                 CREATE TABLE heads (workspace BLOB PRIMARY KEY, seq INTEGER NOT NULL);
                 CREATE TABLE snapshots (
                   workspace BLOB PRIMARY KEY, covers INTEGER NOT NULL, blob BLOB NOT NULL,
                   author BLOB NOT NULL, data BLOB NOT NULL);
                 CREATE TABLE access (
                   workspace BLOB PRIMARY KEY, version INTEGER NOT NULL, list BLOB NOT NULL);
                 CREATE TABLE admitted (
                   workspace BLOB NOT NULL, device BLOB NOT NULL, invite BLOB NOT NULL,
                   PRIMARY KEY (workspace, device));
                 PRAGMA user_version = 1;
                 COMMIT;",
            )?;
        }
        if found < 2 {
            write.execute_batch(
                "BEGIN;
                 CREATE TABLE chunks (
                   workspace BLOB NOT NULL, id BLOB NOT NULL, size INTEGER NOT NULL,
                   PRIMARY KEY (workspace, id)) WITHOUT ROWID;
                 PRAGMA user_version = 2;
                 COMMIT;",
            )?;
        }
        let chunks = dir.join("chunks");
        std::fs::create_dir_all(&chunks).map_err(io(&chunks))?;
        let read = Connection::open(&path)?;
        read.pragma_update(None, "busy_timeout", 5000)?;
        Ok(SqliteStorage {
            write: Mutex::new(write),
            read: Mutex::new(read),
            chunks,
        })
    }
}

fn lock(m: &Mutex<Connection>) -> std::sync::MutexGuard<'_, Connection> {
    // A panic while holding the lock leaves no transaction open (rusqlite rolls back on
    // drop), so the connection is still good.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Storage for SqliteStorage {
    fn append(&self, entries: &[NewEntry]) -> Result<Vec<Appended>, StorageError> {
        let mut c = lock(&self.write);
        let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let mut out = Vec::with_capacity(entries.len());
        {
            let mut existing =
                tx.prepare_cached("SELECT seq FROM log WHERE workspace = ?1 AND blob = ?2")?;
            let mut head = tx.prepare_cached("SELECT seq FROM heads WHERE workspace = ?1")?;
            let mut set_head = tx.prepare_cached(
                "INSERT INTO heads(workspace, seq) VALUES (?1, ?2)
                 ON CONFLICT(workspace) DO UPDATE SET seq = excluded.seq",
            )?;
            let mut insert = tx.prepare_cached(
                "INSERT INTO log(workspace, seq, blob, author, data, at_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?;
            for e in entries {
                let ws = &e.workspace[..];
                if let Some(seq) = existing
                    .query_row(params![ws, &e.blob[..]], |r| r.get::<_, i64>(0))
                    .optional()?
                {
                    out.push(Appended {
                        seq: seq as u64,
                        new: false,
                    });
                    continue;
                }
                let seq = head
                    .query_row([ws], |r| r.get::<_, i64>(0))
                    .optional()?
                    .unwrap_or(0)
                    + 1;
                insert.execute(params![
                    ws,
                    seq,
                    &e.blob[..],
                    &e.author[..],
                    &e.data,
                    e.at_ms as i64
                ])?;
                set_head.execute(params![ws, seq])?;
                out.push(Appended {
                    seq: seq as u64,
                    new: true,
                });
            }
        }
        tx.commit()?;
        Ok(out)
    }

    fn read(
        &self,
        ws: &WorkspaceId,
        after: u64,
        max: usize,
        max_bytes: usize,
    ) -> Result<Vec<Entry>, StorageError> {
        let c = lock(&self.read);
        let mut st = c.prepare_cached(
            "SELECT seq, blob, author, data FROM log WHERE workspace = ?1 AND seq > ?2
             ORDER BY seq LIMIT ?3",
        )?;
        let mut rows = st.query(params![&ws[..], after as i64, max as i64])?;
        let mut out = Vec::new();
        let mut bytes = 0;
        while let Some(r) = rows.next()? {
            let data: Vec<u8> = r.get(3)?;
            bytes += data.len();
            out.push(Entry {
                seq: r.get::<_, i64>(0)? as u64,
                blob: blob16(&r.get::<_, Vec<u8>>(1)?),
                author: key32(&r.get::<_, Vec<u8>>(2)?),
                data,
            });
            if bytes >= max_bytes {
                break;
            }
        }
        Ok(out)
    }

    fn head(&self, ws: &WorkspaceId) -> Result<u64, StorageError> {
        let c = lock(&self.read);
        Ok(
            c.prepare_cached("SELECT seq FROM heads WHERE workspace = ?1")?
                .query_row([&ws[..]], |r| r.get::<_, i64>(0))
                .optional()?
                .unwrap_or(0) as u64,
        )
    }

    fn put_snapshot(&self, ws: &WorkspaceId, s: &Snapshot) -> Result<(), StorageError> {
        let mut c = lock(&self.write);
        let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        tx.execute(
            "INSERT INTO snapshots(workspace, covers, blob, author, data) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT(workspace) DO UPDATE SET covers = excluded.covers, blob = excluded.blob,
             author = excluded.author, data = excluded.data WHERE excluded.covers > covers",
            params![&ws[..], s.covers as i64, &s.blob[..], &s.author[..], &s.data],
        )?;
        tx.execute(
            "DELETE FROM log WHERE workspace = ?1 AND seq <= (SELECT covers FROM snapshots WHERE workspace = ?1)",
            [&ws[..]],
        )?;
        tx.commit()?;
        Ok(())
    }

    fn snapshot(&self, ws: &WorkspaceId) -> Result<Option<Snapshot>, StorageError> {
        let c = lock(&self.read);
        Ok(c.query_row(
            "SELECT covers, blob, author, data FROM snapshots WHERE workspace = ?1",
            [&ws[..]],
            |r| {
                Ok(Snapshot {
                    covers: r.get::<_, i64>(0)? as u64,
                    blob: blob16(&r.get::<_, Vec<u8>>(1)?),
                    author: key32(&r.get::<_, Vec<u8>>(2)?),
                    data: r.get(3)?,
                })
            },
        )
        .optional()?)
    }

    fn access(&self, ws: &WorkspaceId) -> Result<Option<(u64, Vec<u8>)>, StorageError> {
        let c = lock(&self.read);
        Ok(c.query_row(
            "SELECT version, list FROM access WHERE workspace = ?1",
            [&ws[..]],
            |r| Ok((r.get::<_, i64>(0)? as u64, r.get(1)?)),
        )
        .optional()?)
    }

    fn set_access(&self, ws: &WorkspaceId, version: u64, list: &[u8]) -> Result<(), StorageError> {
        let c = lock(&self.write);
        c.execute(
            "INSERT INTO access(workspace, version, list) VALUES (?1, ?2, ?3)
             ON CONFLICT(workspace) DO UPDATE SET version = excluded.version, list = excluded.list",
            params![&ws[..], version as i64, list],
        )?;
        Ok(())
    }

    fn admit(
        &self,
        ws: &WorkspaceId,
        invite: &DeviceKey,
        device: &DeviceKey,
        max_uses: u32,
    ) -> Result<Option<u32>, StorageError> {
        let mut c = lock(&self.write);
        let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let already: Option<Vec<u8>> = tx
            .query_row(
                "SELECT invite FROM admitted WHERE workspace = ?1 AND device = ?2",
                params![&ws[..], &device[..]],
                |r| r.get(0),
            )
            .optional()?;
        let uses: i64 = tx.query_row(
            "SELECT COUNT(*) FROM admitted WHERE workspace = ?1 AND invite = ?2",
            params![&ws[..], &invite[..]],
            |r| r.get(0),
        )?;
        if already.as_deref() == Some(&invite[..]) {
            return Ok(Some(uses as u32));
        }
        if uses >= i64::from(max_uses) {
            return Ok(None);
        }
        tx.execute(
            "INSERT INTO admitted(workspace, device, invite) VALUES (?1, ?2, ?3)
             ON CONFLICT(workspace, device) DO UPDATE SET invite = excluded.invite",
            params![&ws[..], &device[..], &invite[..]],
        )?;
        tx.commit()?;
        Ok(Some(uses as u32 + 1))
    }

    fn admitted_by(
        &self,
        ws: &WorkspaceId,
        device: &DeviceKey,
    ) -> Result<Option<DeviceKey>, StorageError> {
        let c = lock(&self.read);
        Ok(c.query_row(
            "SELECT invite FROM admitted WHERE workspace = ?1 AND device = ?2",
            params![&ws[..], &device[..]],
            |r| Ok(key32(&r.get::<_, Vec<u8>>(0)?)),
        )
        .optional()?)
    }

    fn put_chunk(
        &self,
        ws: &WorkspaceId,
        id: &ChunkId,
        data: &[u8],
        quota: u64,
    ) -> Result<ChunkPut, StorageError> {
        // One writer at a time, so two uploads cannot both pass the quota check.
        let c = lock(&self.write);
        let held: Option<i64> = c
            .prepare_cached("SELECT size FROM chunks WHERE workspace = ?1 AND id = ?2")?
            .query_row(params![&ws[..], &id[..]], |r| r.get(0))
            .optional()?;
        if held.is_some() {
            return Ok(ChunkPut::Held);
        }
        let used: i64 = c
            .prepare_cached("SELECT COALESCE(SUM(size), 0) FROM chunks WHERE workspace = ?1")?
            .query_row([&ws[..]], |r| r.get(0))?;
        let used = used as u64;
        if used + data.len() as u64 > quota {
            return Ok(ChunkPut::OverQuota { used });
        }
        // Written aside, synced, then renamed into place and the folder synced: a chunk is
        // whole or absent after a crash, and on disk before it is acknowledged.
        let dir = self.chunks.join(hex(ws));
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        let path = dir.join(hex(id));
        let tmp = dir.join(format!("{}.part", hex(id)));
        let mut f = std::fs::File::create(&tmp).map_err(io(&tmp))?;
        f.write_all(data).map_err(io(&tmp))?;
        f.sync_all().map_err(io(&tmp))?;
        drop(f);
        std::fs::rename(&tmp, &path).map_err(io(&path))?;
        std::fs::File::open(&dir)
            .and_then(|d| d.sync_all())
            .map_err(io(&dir))?;
        c.prepare_cached("INSERT INTO chunks(workspace, id, size) VALUES (?1, ?2, ?3)")?
            .execute(params![&ws[..], &id[..], data.len() as i64])?;
        Ok(ChunkPut::Stored)
    }

    fn chunk(&self, ws: &WorkspaceId, id: &ChunkId) -> Result<Option<Vec<u8>>, StorageError> {
        let known = lock(&self.read)
            .prepare_cached("SELECT 1 FROM chunks WHERE workspace = ?1 AND id = ?2")?
            .query_row(params![&ws[..], &id[..]], |_| Ok(()))
            .optional()?
            .is_some();
        if !known {
            return Ok(None);
        }
        let path = self.chunks.join(hex(ws)).join(hex(id));
        match std::fs::read(&path) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(&path)(e)),
        }
    }

    fn chunk_bytes(&self, ws: &WorkspaceId) -> Result<u64, StorageError> {
        let used: i64 = lock(&self.read)
            .prepare_cached("SELECT COALESCE(SUM(size), 0) FROM chunks WHERE workspace = ?1")?
            .query_row([&ws[..]], |r| r.get(0))?;
        Ok(used as u64)
    }
}

fn blob16(b: &[u8]) -> BlobId {
    let mut out = [0; 16];
    let n = b.len().min(16);
    out[..n].copy_from_slice(&b[..n]);
    out
}

fn key32(b: &[u8]) -> DeviceKey {
    let mut out = [0; 32];
    let n = b.len().min(32);
    out[..n].copy_from_slice(&b[..n]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(ws: u8, blob: u8) -> NewEntry {
        NewEntry {
            workspace: [ws; 16],
            blob: [blob; 16],
            author: [9; 32],
            data: vec![blob; 10],
            at_ms: 1,
        }
    }

    #[test]
    fn appends_are_numbered_per_workspace_and_idempotent_by_blob() {
        let dir = tempfile::tempdir().unwrap();
        let s = SqliteStorage::open(dir.path()).unwrap();
        let a = s
            .append(&[entry(1, 1), entry(1, 2), entry(2, 1), entry(1, 1)])
            .unwrap();
        assert_eq!(
            a.iter().map(|x| (x.seq, x.new)).collect::<Vec<_>>(),
            vec![(1, true), (2, true), (1, true), (1, false)]
        );
        assert_eq!(s.head(&[1; 16]).unwrap(), 2);
        let got = s.read(&[1; 16], 0, 100, usize::MAX).unwrap();
        assert_eq!(got.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![1, 2]);
        assert_eq!(s.read(&[1; 16], 1, 100, usize::MAX).unwrap().len(), 1);
        drop(s);
        // Reopened: still there, numbering continues.
        let s = SqliteStorage::open(dir.path()).unwrap();
        assert_eq!(s.append(&[entry(1, 3)]).unwrap()[0].seq, 3);
    }

    #[test]
    fn a_snapshot_drops_what_it_covers_and_never_goes_back() {
        let dir = tempfile::tempdir().unwrap();
        let s = SqliteStorage::open(dir.path()).unwrap();
        s.append(&[entry(1, 1), entry(1, 2), entry(1, 3)]).unwrap();
        let snap = Snapshot {
            covers: 2,
            blob: [7; 16],
            author: [9; 32],
            data: vec![1, 2],
        };
        s.put_snapshot(&[1; 16], &snap).unwrap();
        assert_eq!(s.read(&[1; 16], 0, 100, usize::MAX).unwrap()[0].seq, 3);
        let older = Snapshot {
            covers: 1,
            ..snap.clone()
        };
        s.put_snapshot(&[1; 16], &older).unwrap();
        assert_eq!(s.snapshot(&[1; 16]).unwrap().unwrap().covers, 2);
        // Numbering does not restart after the log was emptied.
        s.put_snapshot(&[1; 16], &Snapshot { covers: 3, ..snap })
            .unwrap();
        assert_eq!(s.append(&[entry(1, 4)]).unwrap()[0].seq, 4);
    }

    #[test]
    fn invites_count_devices_once_and_stop_at_their_limit() {
        let dir = tempfile::tempdir().unwrap();
        let s = SqliteStorage::open(dir.path()).unwrap();
        let ws = [1; 16];
        assert_eq!(s.admit(&ws, &[5; 32], &[1; 32], 2).unwrap(), Some(1));
        assert_eq!(s.admit(&ws, &[5; 32], &[1; 32], 2).unwrap(), Some(1));
        assert_eq!(s.admit(&ws, &[5; 32], &[2; 32], 2).unwrap(), Some(2));
        assert_eq!(s.admit(&ws, &[5; 32], &[3; 32], 2).unwrap(), None);
        assert_eq!(s.admitted_by(&ws, &[2; 32]).unwrap(), Some([5; 32]));
        assert_eq!(s.admitted_by(&ws, &[3; 32]).unwrap(), None);
    }

    #[test]
    fn chunks_are_kept_per_workspace_within_the_quota() {
        let dir = tempfile::tempdir().unwrap();
        let s = SqliteStorage::open(dir.path()).unwrap();
        assert_eq!(
            s.put_chunk(&[1; 16], &[7; 32], b"abc", 5).unwrap(),
            ChunkPut::Stored
        );
        assert_eq!(
            s.put_chunk(&[1; 16], &[7; 32], b"abc", 5).unwrap(),
            ChunkPut::Held
        );
        assert_eq!(
            s.put_chunk(&[1; 16], &[8; 32], b"def", 5).unwrap(),
            ChunkPut::OverQuota { used: 3 }
        );
        assert_eq!(
            s.chunk(&[1; 16], &[7; 32]).unwrap().as_deref(),
            Some(&b"abc"[..])
        );
        // Another workspace neither sees it nor shares its quota.
        assert_eq!(s.chunk(&[2; 16], &[7; 32]).unwrap(), None);
        assert_eq!(
            s.put_chunk(&[2; 16], &[8; 32], b"def", 5).unwrap(),
            ChunkPut::Stored
        );
        assert_eq!(s.chunk_bytes(&[1; 16]).unwrap(), 3);
        drop(s);
        // Kept across a restart.
        let s = SqliteStorage::open(dir.path()).unwrap();
        assert_eq!(
            s.chunk(&[2; 16], &[8; 32]).unwrap().as_deref(),
            Some(&b"def"[..])
        );
    }

    #[test]
    fn a_newer_database_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        drop(SqliteStorage::open(dir.path()).unwrap());
        let c = Connection::open(dir.path().join("relay.db")).unwrap();
        c.pragma_update(None, "user_version", 9).unwrap();
        drop(c);
        let e = SqliteStorage::open(dir.path()).err().unwrap();
        assert!(e.to_string().contains("newer relay"), "{e}");
    }
}
