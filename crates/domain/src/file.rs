//! File metadata (the bytes live in a content-addressed blob store).

use crate::{Id, Timestamp};
use serde::{Deserialize, Serialize};

/// Largest file a member may attach.
pub const MAX_FILE_BYTES: u64 = 1 << 30;

/// A file shared in a workspace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(default)]
pub struct FileMeta {
    pub id: Option<Id>,
    pub name: String,
    pub size: u64,
    pub mime: String,
    /// SHA-256 of the content, hex: the blob store's address.
    pub hash: String,
    pub uploaded_by: Option<Id>,
    pub channel: Option<Id>,
    pub message: Option<Id>,
    pub task: Option<Id>,
    pub created_at: Timestamp,
    pub deleted_at: Option<Timestamp>,
}
