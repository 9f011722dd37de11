//! Store errors.

use thiserror::Error;

/// What went wrong in the store.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error(
        "the database was written by a newer Weft (schema {found}, this build knows up to \
         {supported}); upgrade Weft to open it"
    )]
    TooNew { found: i64, supported: i64 },
    #[error("{path} is not a Weft database or is damaged: {reason}")]
    Corrupt { path: String, reason: String },
    #[error("entity {key} in {collection} is malformed: {reason}")]
    Entity {
        collection: String,
        key: String,
        reason: String,
    },
    #[error("invalid search: {0}")]
    Search(String),
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("json: {0}")]
    Json(#[from] serde_json::Error),
}

impl StoreError {
    /// Whether the error means the database file itself is unusable.
    pub fn is_corrupt(&self) -> bool {
        match self {
            StoreError::Corrupt { .. } => true,
            StoreError::Sqlite(rusqlite::Error::SqliteFailure(e, _)) => matches!(
                e.code,
                rusqlite::ErrorCode::DatabaseCorrupt | rusqlite::ErrorCode::NotADatabase
            ),
            _ => false,
        }
    }
}
