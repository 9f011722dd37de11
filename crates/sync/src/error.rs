//! Errors from documents and change exchange.

use thiserror::Error;

/// What went wrong reading, changing or exchanging a document.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum SyncError {
    #[error("invalid document id {0:?}")]
    BadDocId(String),
    #[error("document {doc}: corrupt data: {reason}")]
    Corrupt { doc: String, reason: String },
    #[error("{0} not found")]
    NotFound(String),
    #[error("entity {key} in {collection} does not decode: {reason}")]
    Decode {
        collection: String,
        key: String,
        reason: String,
    },
    #[error("invalid change file: {0}")]
    BadBundle(String),
    #[error("change file too large: {size} bytes, at most {max}")]
    BundleTooLarge { size: u64, max: u64 },
    #[error("change file from a newer Weft (format {found}, this build reads up to {supported})")]
    BundleTooNew { found: u32, supported: u32 },
    #[error("invalid change batch: {0}")]
    BadBatch(String),
    #[error("automerge: {0}")]
    Automerge(#[from] automerge::AutomergeError),
}
