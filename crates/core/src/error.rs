//! Engine errors, with a stable `kind` for the UI and for scripts' exit codes.

use thiserror::Error;
use weft_domain::DomainError;
use weft_store::StoreError;
use weft_sync::SyncError;

/// What went wrong in an engine operation.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum CoreError {
    #[error(transparent)]
    Invalid(#[from] DomainError),
    #[error("no profile here yet: run `weft profile init` first")]
    NoProfile,
    #[error("a profile already exists in this data directory")]
    ProfileExists,
    #[error("{0} not found")]
    NotFound(String),
    #[error("not allowed: {0}")]
    Forbidden(String),
    #[error("{0} is archived")]
    Archived(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Sync(#[from] SyncError),
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

impl CoreError {
    /// A short, stable name for the kind of error (`invalid`, `not_found`, `forbidden`, ...).
    pub fn kind(&self) -> &'static str {
        match self {
            CoreError::Invalid(DomainError::NotFound(_)) | CoreError::NotFound(_) => "not_found",
            CoreError::Invalid(DomainError::Forbidden(_)) | CoreError::Forbidden(_) => "forbidden",
            CoreError::Invalid(_) => "invalid",
            CoreError::NoProfile => "no_profile",
            CoreError::ProfileExists => "conflict",
            CoreError::Archived(_) => "archived",
            CoreError::Store(e) if e.is_corrupt() => "corrupt",
            CoreError::Store(StoreError::TooNew { .. }) => "too_new",
            CoreError::Store(_) => "storage",
            CoreError::Sync(
                SyncError::BadBundle(_)
                | SyncError::BundleTooLarge { .. }
                | SyncError::BundleTooNew { .. }
                | SyncError::BadDocId(_)
                | SyncError::Corrupt { .. },
            ) => "bad_input",
            CoreError::Sync(_) => "sync",
            CoreError::Io { .. } => "io",
        }
    }
}

/// Result with a [`CoreError`].
pub type Result<T, E = CoreError> = std::result::Result<T, E>;
