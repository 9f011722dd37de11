//! Wire types between Weft clients and `weft-relay`: WebSocket binary frames, one message per
//! frame, a one-byte tag then the fields. The protocol version is agreed in the handshake
//! ([`ClientFrame::Hello`] lists what the client speaks, [`RelayFrame::Welcome`] names the one
//! chosen). Every decoder checks each length against its limit before allocating, and names the
//! field that was wrong. This crate opens no socket.
//!
//! The conversation: `Hello` → `Welcome{challenge}` → `Auth{signature}` (or `Join` with an
//! invite) → `Ready`; then any number of `Push` (answered by `Ack` once durable), `Subscribe`
//! (answered by an optional `Snapshot`, then `Entries` for everything after the cursor, then
//! `Entries` as new blobs arrive), `PutSnapshot`, `SetAccess`, `Ephemeral` and `Ping`; and for
//! files, `PutChunk` (answered by `ChunkStored` once durable) and `GetChunk` (answered by
//! `Chunk` or `NoChunk`): encrypted pieces of files, addressed by the SHA-256 of their bytes,
//! kept by the relay outside the log.

mod access;
mod codec;
mod frames;

pub use access::{AccessList, Invite, Member, Role};
pub use frames::{ClientFrame, Entry, ErrorCode, RelayFrame};

/// Signature domain of a device answering the relay's challenge.
pub const AUTH_DOMAIN: &str = "relay-auth/v1";
/// Signature domain of an invite answering the relay's challenge.
pub const JOIN_DOMAIN: &str = "relay-join/v1";
/// Signature domain of an access list.
pub const ACCESS_DOMAIN: &str = "access-list/v1";

/// Protocol versions this build speaks.
pub const VERSIONS: &[u16] = &[1];
/// Largest blob (an encrypted envelope) a client may push.
pub const MAX_BLOB: usize = (8 << 20) + 4096;
/// Largest frame either side sends; a larger one is refused unread.
pub const MAX_FRAME: usize = MAX_BLOB + 4096;
/// Largest file chunk: a sealed piece of a file (at most 1 MiB of content, the AEAD tag and
/// some room).
pub const MAX_CHUNK: usize = (1 << 20) + 1024;
/// Largest ephemeral payload (presence, typing, call signalling).
pub const MAX_EPHEMERAL: usize = 64 * 1024;
/// Most entries in one `Entries` frame.
pub const MAX_ENTRIES: usize = 4096;
/// Most versions a `Hello` may list.
pub const MAX_VERSIONS: usize = 16;
/// Longest error message.
pub const MAX_MESSAGE: usize = 1024;
/// Most members or invites on one access list.
pub const MAX_MEMBERS: usize = 10_000;

/// A workspace id on the wire (the ULID's 16 bytes).
pub type WorkspaceId = [u8; 16];
/// A blob id, made by the client (idempotency key).
pub type BlobId = [u8; 16];
/// A file chunk's address: the SHA-256 of its (encrypted) bytes, which the relay checks.
pub type ChunkId = [u8; 32];
/// A device's Ed25519 public key.
pub type DeviceKey = [u8; 32];

/// Why bytes are not a valid frame.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("empty frame")]
    Empty,
    #[error("frame of {len} bytes is over the limit of {max}")]
    FrameTooLarge { len: usize, max: usize },
    #[error("unknown frame type {0}")]
    UnknownTag(u8),
    #[error("{field} is truncated: {need} bytes needed, {have} left")]
    Truncated {
        field: &'static str,
        need: usize,
        have: usize,
    },
    #[error("{field} is {len} long, over the limit of {max}")]
    TooLong {
        field: &'static str,
        len: usize,
        max: usize,
    },
    #[error("{field} has an invalid value {value}")]
    BadValue { field: &'static str, value: u64 },
    #[error("{field} is not UTF-8")]
    Utf8 { field: &'static str },
    #[error("{0} trailing bytes after the frame")]
    Trailing(usize),
}

/// The highest version both sides speak.
pub fn negotiate(offered: &[u16]) -> Option<u16> {
    offered
        .iter()
        .copied()
        .filter(|v| VERSIONS.contains(v))
        .max()
}
