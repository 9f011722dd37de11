//! The frames.

use crate::codec::{Reader, Writer};
use crate::{
    BlobId, ChunkId, DecodeError, DeviceKey, MAX_BLOB, MAX_CHUNK, MAX_ENTRIES, MAX_EPHEMERAL,
    MAX_FRAME, MAX_MESSAGE, MAX_VERSIONS, WorkspaceId,
};

/// What a client sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientFrame {
    /// Opens the handshake: the versions spoken and the device's signing key.
    Hello {
        versions: Vec<u16>,
        device: DeviceKey,
    },
    /// Answers the challenge: the device's signature over it.
    Auth {
        signature: [u8; 64],
    },
    /// Answers the challenge as a new device joining by invite: the device's signature and
    /// the invite key's, both over the challenge.
    Join {
        workspace: WorkspaceId,
        invite: DeviceKey,
        device_signature: [u8; 64],
        invite_signature: [u8; 64],
    },
    /// Stores an encrypted blob in a workspace's log; idempotent by `blob`.
    Push {
        workspace: WorkspaceId,
        blob: BlobId,
        data: Vec<u8>,
    },
    /// Streams a workspace's log from after `after` (0: from the start), then live. The
    /// access list is sent first when it is newer than `access_version` (0: never seen).
    Subscribe {
        workspace: WorkspaceId,
        after: u64,
        access_version: u64,
    },
    /// Stores a snapshot covering the log up to `covers`; older entries may then be dropped.
    PutSnapshot {
        workspace: WorkspaceId,
        covers: u64,
        blob: BlobId,
        data: Vec<u8>,
    },
    /// Replaces the workspace's access list (an encoded, signed [`crate::AccessList`]).
    SetAccess {
        workspace: WorkspaceId,
        list: Vec<u8>,
    },
    /// Presence, typing or call signalling to the workspace's connected devices (or one);
    /// never stored.
    Ephemeral {
        workspace: WorkspaceId,
        to: Option<DeviceKey>,
        data: Vec<u8>,
    },
    Ping {
        nonce: u64,
    },
    /// Stores a file chunk for a workspace's members; `chunk` is the SHA-256 of `data`.
    /// Idempotent; answered by `ChunkStored` once durable.
    PutChunk {
        workspace: WorkspaceId,
        chunk: ChunkId,
        data: Vec<u8>,
    },
    /// Asks for a stored file chunk; answered by `Chunk` or `NoChunk`.
    GetChunk {
        workspace: WorkspaceId,
        chunk: ChunkId,
    },
}

/// One log entry as delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub seq: u64,
    pub blob: BlobId,
    pub author: DeviceKey,
    pub data: Vec<u8>,
}

/// Why the relay refused something; sent with a message for people.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u16)]
pub enum ErrorCode {
    /// No protocol version in common.
    Version = 1,
    /// The signature over the challenge did not verify.
    Auth = 2,
    /// The device is not on the workspace's access list.
    NotMember = 3,
    /// A frame was over the size limit.
    FrameTooLarge = 4,
    /// A frame could not be decoded.
    Malformed = 5,
    /// Too many frames per second from this device.
    RateLimited = 6,
    /// The connection fell too far behind; it is closed and may resubscribe.
    QueueFull = 7,
    /// The handshake did not finish in time.
    HandshakeTimeout = 8,
    /// Too many connections from this address.
    TooManyConnections = 9,
    /// An invite that is unknown, expired or used up.
    Invite = 10,
    /// An access list that is not signed by an admin, or older than the current one.
    Access = 11,
    /// A frame out of place (e.g. a push before authentication).
    Protocol = 12,
    /// The relay could not store the blob; try again.
    Storage = 13,
    /// The relay is shutting down.
    ShuttingDown = 14,
    /// The workspace's file storage on the relay is full.
    Quota = 15,
}

impl ErrorCode {
    fn from_u16(v: u16) -> Option<ErrorCode> {
        use ErrorCode::*;
        Some(match v {
            1 => Version,
            2 => Auth,
            3 => NotMember,
            4 => FrameTooLarge,
            5 => Malformed,
            6 => RateLimited,
            7 => QueueFull,
            8 => HandshakeTimeout,
            9 => TooManyConnections,
            10 => Invite,
            11 => Access,
            12 => Protocol,
            13 => Storage,
            14 => ShuttingDown,
            15 => Quota,
            _ => return None,
        })
    }
}

/// What the relay sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RelayFrame {
    /// The version chosen and a fresh challenge to sign.
    Welcome {
        version: u16,
        challenge: [u8; 32],
    },
    /// Authenticated.
    Ready,
    /// A push is durable under `seq` (the same `seq` again for a repeated push).
    Ack {
        blob: BlobId,
        seq: u64,
    },
    /// Log entries in sequence order; `head` is the newest sequence number stored.
    Entries {
        workspace: WorkspaceId,
        entries: Vec<Entry>,
        head: u64,
    },
    /// The newest snapshot, sent before entries when a cursor is older than what it covers.
    Snapshot {
        workspace: WorkspaceId,
        covers: u64,
        blob: BlobId,
        author: DeviceKey,
        data: Vec<u8>,
    },
    /// The workspace's current access list (sent on subscribe and whenever it changes).
    Access {
        workspace: WorkspaceId,
        list: Vec<u8>,
    },
    Ephemeral {
        workspace: WorkspaceId,
        from: DeviceKey,
        data: Vec<u8>,
    },
    Pong {
        nonce: u64,
    },
    Error {
        code: ErrorCode,
        message: String,
    },
    /// A file chunk is durable on the relay.
    ChunkStored {
        workspace: WorkspaceId,
        chunk: ChunkId,
    },
    /// A file chunk asked for.
    Chunk {
        workspace: WorkspaceId,
        chunk: ChunkId,
        data: Vec<u8>,
    },
    /// The relay does not hold the chunk asked for (not uploaded yet, or not in this
    /// workspace).
    NoChunk {
        workspace: WorkspaceId,
        chunk: ChunkId,
    },
}

const MAX_ACCESS: usize = 4 << 20;

fn check_size(b: &[u8]) -> Result<u8, DecodeError> {
    if b.len() > MAX_FRAME {
        return Err(DecodeError::FrameTooLarge {
            len: b.len(),
            max: MAX_FRAME,
        });
    }
    b.first().copied().ok_or(DecodeError::Empty)
}

impl ClientFrame {
    pub fn encode(&self) -> Vec<u8> {
        let mut w;
        match self {
            ClientFrame::Hello { versions, device } => {
                w = Writer::tag(1);
                w.count(versions.len());
                for v in versions {
                    w.u16(*v);
                }
                w.raw(device);
            }
            ClientFrame::Auth { signature } => {
                w = Writer::tag(2);
                w.raw(signature);
            }
            ClientFrame::Join {
                workspace,
                invite,
                device_signature,
                invite_signature,
            } => {
                w = Writer::tag(3);
                w.raw(workspace)
                    .raw(invite)
                    .raw(device_signature)
                    .raw(invite_signature);
            }
            ClientFrame::Push {
                workspace,
                blob,
                data,
            } => {
                w = Writer::tag(4);
                w.raw(workspace).raw(blob).bytes(data);
            }
            ClientFrame::Subscribe {
                workspace,
                after,
                access_version,
            } => {
                w = Writer::tag(5);
                w.raw(workspace).u64(*after).u64(*access_version);
            }
            ClientFrame::PutSnapshot {
                workspace,
                covers,
                blob,
                data,
            } => {
                w = Writer::tag(6);
                w.raw(workspace).u64(*covers).raw(blob).bytes(data);
            }
            ClientFrame::SetAccess { workspace, list } => {
                w = Writer::tag(7);
                w.raw(workspace).bytes(list);
            }
            ClientFrame::Ephemeral {
                workspace,
                to,
                data,
            } => {
                w = Writer::tag(8);
                w.raw(workspace).bool(to.is_some());
                if let Some(t) = to {
                    w.raw(t);
                }
                w.bytes(data);
            }
            ClientFrame::Ping { nonce } => {
                w = Writer::tag(9);
                w.u64(*nonce);
            }
            ClientFrame::PutChunk {
                workspace,
                chunk,
                data,
            } => {
                w = Writer::tag(10);
                w.raw(workspace).raw(chunk).bytes(data);
            }
            ClientFrame::GetChunk { workspace, chunk } => {
                w = Writer::tag(11);
                w.raw(workspace).raw(chunk);
            }
        }
        w.buf
    }

    pub fn decode(b: &[u8]) -> Result<ClientFrame, DecodeError> {
        let tag = check_size(b)?;
        let mut r = Reader::new(&b[1..]);
        let f = match tag {
            1 => {
                let n = r.count("versions", MAX_VERSIONS, 2)?;
                let mut versions = Vec::with_capacity(n);
                for _ in 0..n {
                    versions.push(r.u16("version")?);
                }
                ClientFrame::Hello {
                    versions,
                    device: r.array("device key")?,
                }
            }
            2 => ClientFrame::Auth {
                signature: r.array("signature")?,
            },
            3 => ClientFrame::Join {
                workspace: r.array("workspace")?,
                invite: r.array("invite key")?,
                device_signature: r.array("device signature")?,
                invite_signature: r.array("invite signature")?,
            },
            4 => ClientFrame::Push {
                workspace: r.array("workspace")?,
                blob: r.array("blob id")?,
                data: r.bytes("blob", MAX_BLOB)?,
            },
            5 => ClientFrame::Subscribe {
                workspace: r.array("workspace")?,
                after: r.u64("cursor")?,
                access_version: r.u64("access version")?,
            },
            6 => ClientFrame::PutSnapshot {
                workspace: r.array("workspace")?,
                covers: r.u64("covers")?,
                blob: r.array("blob id")?,
                data: r.bytes("snapshot", MAX_BLOB)?,
            },
            7 => ClientFrame::SetAccess {
                workspace: r.array("workspace")?,
                list: r.bytes("access list", MAX_ACCESS)?,
            },
            8 => {
                let workspace = r.array("workspace")?;
                let to = if r.bool("recipient flag")? {
                    Some(r.array("recipient")?)
                } else {
                    None
                };
                ClientFrame::Ephemeral {
                    workspace,
                    to,
                    data: r.bytes("ephemeral payload", MAX_EPHEMERAL)?,
                }
            }
            9 => ClientFrame::Ping {
                nonce: r.u64("nonce")?,
            },
            10 => ClientFrame::PutChunk {
                workspace: r.array("workspace")?,
                chunk: r.array("chunk id")?,
                data: r.bytes("chunk", MAX_CHUNK)?,
            },
            11 => ClientFrame::GetChunk {
                workspace: r.array("workspace")?,
                chunk: r.array("chunk id")?,
            },
            t => return Err(DecodeError::UnknownTag(t)),
        };
        r.finish()?;
        Ok(f)
    }
}

impl RelayFrame {
    pub fn encode(&self) -> Vec<u8> {
        let mut w;
        match self {
            RelayFrame::Welcome { version, challenge } => {
                w = Writer::tag(1);
                w.u16(*version).raw(challenge);
            }
            RelayFrame::Ready => w = Writer::tag(2),
            RelayFrame::Ack { blob, seq } => {
                w = Writer::tag(3);
                w.raw(blob).u64(*seq);
            }
            RelayFrame::Entries {
                workspace,
                entries,
                head,
            } => {
                w = Writer::tag(4);
                w.raw(workspace).u64(*head).count(entries.len());
                for e in entries {
                    w.u64(e.seq).raw(&e.blob).raw(&e.author).bytes(&e.data);
                }
            }
            RelayFrame::Snapshot {
                workspace,
                covers,
                blob,
                author,
                data,
            } => {
                w = Writer::tag(5);
                w.raw(workspace)
                    .u64(*covers)
                    .raw(blob)
                    .raw(author)
                    .bytes(data);
            }
            RelayFrame::Access { workspace, list } => {
                w = Writer::tag(6);
                w.raw(workspace).bytes(list);
            }
            RelayFrame::Ephemeral {
                workspace,
                from,
                data,
            } => {
                w = Writer::tag(7);
                w.raw(workspace).raw(from).bytes(data);
            }
            RelayFrame::Pong { nonce } => {
                w = Writer::tag(8);
                w.u64(*nonce);
            }
            RelayFrame::Error { code, message } => {
                w = Writer::tag(9);
                // Cut to the limit at a character boundary.
                let mut end = message.len().min(MAX_MESSAGE);
                while !message.is_char_boundary(end) {
                    end -= 1;
                }
                w.u16(*code as u16).bytes(&message.as_bytes()[..end]);
            }
            RelayFrame::ChunkStored { workspace, chunk } => {
                w = Writer::tag(10);
                w.raw(workspace).raw(chunk);
            }
            RelayFrame::Chunk {
                workspace,
                chunk,
                data,
            } => {
                w = Writer::tag(11);
                w.raw(workspace).raw(chunk).bytes(data);
            }
            RelayFrame::NoChunk { workspace, chunk } => {
                w = Writer::tag(12);
                w.raw(workspace).raw(chunk);
            }
        }
        w.buf
    }

    pub fn decode(b: &[u8]) -> Result<RelayFrame, DecodeError> {
        let tag = check_size(b)?;
        let mut r = Reader::new(&b[1..]);
        let f = match tag {
            1 => RelayFrame::Welcome {
                version: r.u16("version")?,
                challenge: r.array("challenge")?,
            },
            2 => RelayFrame::Ready,
            3 => RelayFrame::Ack {
                blob: r.array("blob id")?,
                seq: r.u64("sequence number")?,
            },
            4 => {
                let workspace = r.array("workspace")?;
                let head = r.u64("head")?;
                // seq + blob + author + length: 60 bytes at least per entry.
                let n = r.count("entries", MAX_ENTRIES, 60)?;
                let mut entries = Vec::with_capacity(n);
                for _ in 0..n {
                    entries.push(Entry {
                        seq: r.u64("sequence number")?,
                        blob: r.array("blob id")?,
                        author: r.array("author")?,
                        data: r.bytes("blob", MAX_BLOB)?,
                    });
                }
                RelayFrame::Entries {
                    workspace,
                    entries,
                    head,
                }
            }
            5 => RelayFrame::Snapshot {
                workspace: r.array("workspace")?,
                covers: r.u64("covers")?,
                blob: r.array("blob id")?,
                author: r.array("author")?,
                data: r.bytes("snapshot", MAX_BLOB)?,
            },
            6 => RelayFrame::Access {
                workspace: r.array("workspace")?,
                list: r.bytes("access list", MAX_ACCESS)?,
            },
            7 => RelayFrame::Ephemeral {
                workspace: r.array("workspace")?,
                from: r.array("sender")?,
                data: r.bytes("ephemeral payload", MAX_EPHEMERAL)?,
            },
            8 => RelayFrame::Pong {
                nonce: r.u64("nonce")?,
            },
            9 => {
                let raw = r.u16("error code")?;
                let code = ErrorCode::from_u16(raw).ok_or(DecodeError::BadValue {
                    field: "error code",
                    value: u64::from(raw),
                })?;
                RelayFrame::Error {
                    code,
                    message: r.string("error message", MAX_MESSAGE)?,
                }
            }
            10 => RelayFrame::ChunkStored {
                workspace: r.array("workspace")?,
                chunk: r.array("chunk id")?,
            },
            11 => RelayFrame::Chunk {
                workspace: r.array("workspace")?,
                chunk: r.array("chunk id")?,
                data: r.bytes("chunk", MAX_CHUNK)?,
            },
            12 => RelayFrame::NoChunk {
                workspace: r.array("workspace")?,
                chunk: r.array("chunk id")?,
            },
            t => return Err(DecodeError::UnknownTag(t)),
        };
        r.finish()?;
        Ok(f)
    }
}
