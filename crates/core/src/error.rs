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
    #[error(transparent)]
    Crypto(#[from] weft_crypto::CryptoError),
    /// The relay refused something (its error code's name and its message).
    #[error("the relay refused: {message} ({code})")]
    Relay { code: String, message: String },
    /// The relay could not be reached or the connection broke.
    #[error("relay connection: {0}")]
    Net(String),
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    /// The vault key is (or is to be) sealed under a passphrase and none was given.
    #[error("{reason}: set WEFT_PASSPHRASE")]
    PassphraseNeeded { reason: String },
    /// The passphrase does not open the vault key file.
    #[error("wrong passphrase for {path} (or the file was altered); the file was left as it was")]
    WrongPassphrase { path: String },
    /// The vault key is kept in the OS keychain and cannot be had from it.
    #[error("{0}")]
    Keychain(String),
    /// A vault file is damaged, or the data directory's vault files contradict each other.
    #[error("{path}: {reason}")]
    VaultDamaged { path: String, reason: String },
    /// A secret sealed by the vault does not open.
    #[error(
        "the secret sealed for {label} does not open: it was altered, or sealed for another \
         label or under another vault key"
    )]
    Unseal { label: String },
    /// A file's content is not all here yet; its missing chunks have been asked for.
    #[error("{0}")]
    NotHereYet(String),
    /// A file's content, a chunk of it, or a chunk from the relay is not what its record says.
    #[error("{0}")]
    FileDamaged(String),
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
            CoreError::PassphraseNeeded { .. } => "passphrase_needed",
            CoreError::WrongPassphrase { .. } => "wrong_passphrase",
            CoreError::Keychain(_) => "keychain",
            CoreError::VaultDamaged { .. } | CoreError::Unseal { .. } => "corrupt",
            CoreError::Crypto(_) => "crypto",
            CoreError::Relay { .. } => "relay",
            CoreError::Net(_) => "network",
            CoreError::NotHereYet(_) => "not_here_yet",
            CoreError::FileDamaged(_) => "corrupt",
        }
    }
}

/// Result with a [`CoreError`].
pub type Result<T, E = CoreError> = std::result::Result<T, E>;
