//! Numbered, append-only migrations. A database newer than this build is refused.

use crate::StoreError;
use rusqlite::Connection;

const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../migrations/001_init.sql")),
    (2, include_str!("../migrations/002_sync.sql")),
    (3, include_str!("../migrations/003_files.sql")),
    (4, include_str!("../migrations/004_attached.sql")),
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = 4;

/// Brings the database up to [`SCHEMA_VERSION`], each migration in its own transaction.
pub(crate) fn migrate(conn: &mut Connection, path: &str) -> Result<(), StoreError> {
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(|e| StoreError::Corrupt {
            path: path.into(),
            reason: e.to_string(),
        })?;
    if version > SCHEMA_VERSION {
        return Err(StoreError::TooNew {
            found: version,
            supported: SCHEMA_VERSION,
        });
    }
    for (v, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > version) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", v)?;
        tx.commit()?;
    }
    Ok(())
}
