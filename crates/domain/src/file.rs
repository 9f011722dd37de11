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
    /// SHA-256 of the content, hex: checked when the content is put back together.
    pub hash: String,
    /// The content key (hex, XChaCha20-Poly1305), as secret as the document holding this
    /// record: the relay keeps the sealed chunks and cannot open them.
    pub key: String,
    /// The sealed chunks in order, each named by the SHA-256 of its bytes (hex): their
    /// address in the local chunk cache and on the relay.
    pub chunks: Vec<String>,
    /// A small JPEG preview of an image, as a `data:` URL, made when it was attached.
    pub thumbnail: Option<String>,
    /// An image's size in pixels.
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub uploaded_by: Option<Id>,
    pub channel: Option<Id>,
    pub message: Option<Id>,
    pub task: Option<Id>,
    pub created_at: Timestamp,
    pub deleted_at: Option<Timestamp>,
}

impl FileMeta {
    /// The record as the engine shows it: without the content key and the chunk addresses,
    /// which stay in the engine (a view, a window or a `--json` line never carries them).
    pub fn shown(self) -> FileMeta {
        FileMeta {
            key: String::new(),
            chunks: Vec::new(),
            ..self
        }
    }
}
