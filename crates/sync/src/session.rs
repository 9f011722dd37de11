//! The client side of one relay connection, sans-IO: the caller moves frames in and out, the
//! session decides what to send and what happened.
//!
//! ```
//! use weft_sync::{Credential, Event, Session};
//! use weft_proto::{ClientFrame, RelayFrame};
//! let keys = weft_crypto::DeviceKeys::generate();
//! let mut s = Session::new(&keys, Credential::Device);
//! assert!(matches!(s.hello(), ClientFrame::Hello { .. }));
//! let (out, _) = s.handle(RelayFrame::Welcome { version: 1, challenge: [9; 32] });
//! assert!(matches!(out[0], ClientFrame::Auth { .. }));
//! let (_, events) = s.handle(RelayFrame::Ready);
//! assert_eq!(events, vec![Event::Ready]);
//! ```

use std::collections::{BTreeMap, BTreeSet};
use weft_crypto::{DeviceKeys, InviteSecret};
use weft_proto::{
    AUTH_DOMAIN, BlobId, ChunkId, ClientFrame, DeviceKey, Entry, ErrorCode, JOIN_DOMAIN,
    RelayFrame, VERSIONS, WorkspaceId,
};

/// How the device proves itself.
#[derive(Debug, Clone)]
pub enum Credential {
    /// A device on the log's access list.
    Device,
    /// A new device joining a workspace by an invite's secret.
    Join {
        workspace: WorkspaceId,
        invite: InviteSecret,
    },
}

/// Where the connection stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionState {
    /// `Hello` sent, waiting for the challenge.
    Hello,
    /// Answer sent, waiting for `Ready`.
    Authenticating,
    Ready,
    /// Refused or closed; make a new session to reconnect.
    Closed,
}

/// What the caller must act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Authenticated: subscribe and push now.
    Ready,
    /// New entries of a log, in order: apply them, then record `entries.last().seq` as the
    /// log's cursor (in the same transaction).
    Entries {
        log: WorkspaceId,
        entries: Vec<Entry>,
    },
    /// The log's backlog has been delivered: from now on entries are live.
    UpToDate {
        log: WorkspaceId,
    },
    /// A snapshot covering the log up to `covers`, sent before older entries were dropped.
    Snapshot {
        log: WorkspaceId,
        covers: u64,
        author: DeviceKey,
        data: Vec<u8>,
    },
    /// The log's current access list (signed; check it before trusting it).
    Access {
        log: WorkspaceId,
        list: Vec<u8>,
    },
    /// A push is durable on the relay.
    Acked {
        blob: BlobId,
        seq: u64,
    },
    /// Presence, typing or call signalling from another device.
    Ephemeral {
        log: WorkspaceId,
        from: DeviceKey,
        data: Vec<u8>,
    },
    Pong {
        nonce: u64,
    },
    /// A file chunk is durable on the relay.
    ChunkStored {
        log: WorkspaceId,
        chunk: ChunkId,
    },
    /// A file chunk asked for (check its bytes against its id before keeping it).
    Chunk {
        log: WorkspaceId,
        chunk: ChunkId,
        data: Vec<u8>,
    },
    /// The relay does not hold a chunk asked for.
    NoChunk {
        log: WorkspaceId,
        chunk: ChunkId,
    },
    /// The relay refused something; `fatal` when the connection is over.
    Refused {
        code: ErrorCode,
        message: String,
        fatal: bool,
    },
}

/// One relay connection's protocol state.
pub struct Session {
    keys: DeviceKeys,
    credential: Credential,
    state: SessionState,
    /// Logs subscribed, with whether their backlog has arrived.
    subscribed: BTreeMap<WorkspaceId, bool>,
    inflight: BTreeSet<BlobId>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("state", &self.state)
            .field("subscribed", &self.subscribed.len())
            .field("inflight", &self.inflight.len())
            .finish()
    }
}

impl Session {
    /// A session for the device `keys`.
    pub fn new(keys: &DeviceKeys, credential: Credential) -> Session {
        Session {
            keys: keys.clone(),
            credential,
            state: SessionState::Hello,
            subscribed: BTreeMap::new(),
            inflight: BTreeSet::new(),
        }
    }

    /// The first frame to send.
    pub fn hello(&self) -> ClientFrame {
        ClientFrame::Hello {
            versions: VERSIONS.to_vec(),
            device: self.keys.public().sign,
        }
    }

    /// Where the connection stands.
    pub fn state(&self) -> SessionState {
        self.state
    }

    /// Pushes sent and not yet acknowledged.
    pub fn inflight(&self) -> usize {
        self.inflight.len()
    }

    /// The pushes sent and not yet acknowledged.
    pub fn inflight_blobs(&self) -> &BTreeSet<BlobId> {
        &self.inflight
    }

    /// Whether every subscribed log has delivered its backlog.
    pub fn up_to_date(&self) -> bool {
        self.subscribed.values().all(|&done| done)
    }

    /// Subscribes to a log from after `cursor`.
    pub fn subscribe(&mut self, log: WorkspaceId, cursor: u64, access_version: u64) -> ClientFrame {
        self.subscribed.insert(log, false);
        ClientFrame::Subscribe {
            workspace: log,
            after: cursor,
            access_version,
        }
    }

    /// A push of one envelope; tracked until acknowledged.
    pub fn push(&mut self, log: WorkspaceId, blob: BlobId, data: Vec<u8>) -> ClientFrame {
        self.inflight.insert(blob);
        ClientFrame::Push {
            workspace: log,
            blob,
            data,
        }
    }

    /// Handles one frame from the relay: frames to send back, and events.
    pub fn handle(&mut self, frame: RelayFrame) -> (Vec<ClientFrame>, Vec<Event>) {
        let mut out = Vec::new();
        let mut events = Vec::new();
        match (self.state, frame) {
            (SessionState::Hello, RelayFrame::Welcome { challenge, .. }) => {
                let device_signature = self.keys.sign(AUTH_DOMAIN, &challenge);
                out.push(match &self.credential {
                    Credential::Device => ClientFrame::Auth {
                        signature: device_signature,
                    },
                    Credential::Join { workspace, invite } => ClientFrame::Join {
                        workspace: *workspace,
                        invite: invite.signing_public(),
                        device_signature,
                        invite_signature: invite.sign(JOIN_DOMAIN, &challenge),
                    },
                });
                self.state = SessionState::Authenticating;
            }
            (SessionState::Authenticating, RelayFrame::Ready) => {
                self.state = SessionState::Ready;
                events.push(Event::Ready);
            }
            (_, RelayFrame::Error { code, message }) => {
                let fatal = self.state != SessionState::Ready || is_fatal(code);
                if fatal {
                    self.state = SessionState::Closed;
                }
                events.push(Event::Refused {
                    code,
                    message,
                    fatal,
                });
            }
            (SessionState::Ready, f) => self.on_ready_frame(f, &mut events),
            (state, f) => {
                self.state = SessionState::Closed;
                events.push(Event::Refused {
                    code: ErrorCode::Protocol,
                    message: format!("relay sent {} while {state:?}", frame_name(&f)),
                    fatal: true,
                });
            }
        }
        (out, events)
    }

    fn on_ready_frame(&mut self, f: RelayFrame, events: &mut Vec<Event>) {
        match f {
            RelayFrame::Entries {
                workspace, entries, ..
            } => {
                if !self.subscribed.contains_key(&workspace) {
                    return;
                }
                if entries.is_empty() {
                    // The relay's marker: the backlog is done.
                    if let Some(done) = self.subscribed.get_mut(&workspace)
                        && !*done
                    {
                        *done = true;
                        events.push(Event::UpToDate { log: workspace });
                    }
                } else {
                    events.push(Event::Entries {
                        log: workspace,
                        entries,
                    });
                }
            }
            RelayFrame::Snapshot {
                workspace,
                covers,
                author,
                data,
                ..
            } => events.push(Event::Snapshot {
                log: workspace,
                covers,
                author,
                data,
            }),
            RelayFrame::Access { workspace, list } => events.push(Event::Access {
                log: workspace,
                list,
            }),
            RelayFrame::Ack { blob, seq } => {
                self.inflight.remove(&blob);
                events.push(Event::Acked { blob, seq });
            }
            RelayFrame::Ephemeral {
                workspace,
                from,
                data,
            } => events.push(Event::Ephemeral {
                log: workspace,
                from,
                data,
            }),
            RelayFrame::Pong { nonce } => events.push(Event::Pong { nonce }),
            RelayFrame::ChunkStored { workspace, chunk } => events.push(Event::ChunkStored {
                log: workspace,
                chunk,
            }),
            RelayFrame::Chunk {
                workspace,
                chunk,
                data,
            } => events.push(Event::Chunk {
                log: workspace,
                chunk,
                data,
            }),
            RelayFrame::NoChunk { workspace, chunk } => events.push(Event::NoChunk {
                log: workspace,
                chunk,
            }),
            f @ (RelayFrame::Welcome { .. } | RelayFrame::Ready | RelayFrame::Error { .. }) => {
                self.state = SessionState::Closed;
                events.push(Event::Refused {
                    code: ErrorCode::Protocol,
                    message: format!("relay sent {} after the handshake", frame_name(&f)),
                    fatal: true,
                });
            }
        }
    }
}

/// Errors after which the relay closes the connection.
fn is_fatal(code: ErrorCode) -> bool {
    matches!(
        code,
        ErrorCode::QueueFull
            | ErrorCode::ShuttingDown
            | ErrorCode::HandshakeTimeout
            | ErrorCode::TooManyConnections
            | ErrorCode::Version
            | ErrorCode::Auth
            | ErrorCode::Invite
    )
}

fn frame_name(f: &RelayFrame) -> &'static str {
    match f {
        RelayFrame::Welcome { .. } => "Welcome",
        RelayFrame::Ready => "Ready",
        RelayFrame::Ack { .. } => "Ack",
        RelayFrame::Entries { .. } => "Entries",
        RelayFrame::Snapshot { .. } => "Snapshot",
        RelayFrame::Access { .. } => "Access",
        RelayFrame::Ephemeral { .. } => "Ephemeral",
        RelayFrame::Pong { .. } => "Pong",
        RelayFrame::Error { .. } => "Error",
        RelayFrame::ChunkStored { .. } => "ChunkStored",
        RelayFrame::Chunk { .. } => "Chunk",
        RelayFrame::NoChunk { .. } => "NoChunk",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ready(s: &mut Session) {
        s.handle(RelayFrame::Welcome {
            version: 1,
            challenge: [1; 32],
        });
        s.handle(RelayFrame::Ready);
    }

    #[test]
    fn the_challenge_is_answered_with_a_signature_the_relay_can_check() {
        let keys = DeviceKeys::generate();
        let mut s = Session::new(&keys, Credential::Device);
        let (out, _) = s.handle(RelayFrame::Welcome {
            version: 1,
            challenge: [5; 32],
        });
        let ClientFrame::Auth { signature } = out[0] else {
            panic!("{out:?}")
        };
        weft_crypto::verify(&keys.public().sign, AUTH_DOMAIN, &[5; 32], &signature).unwrap();
    }

    #[test]
    fn a_join_signs_with_both_the_device_and_the_invite() {
        let keys = DeviceKeys::generate();
        let invite = InviteSecret::generate();
        let mut s = Session::new(
            &keys,
            Credential::Join {
                workspace: [3; 16],
                invite: invite.clone(),
            },
        );
        let (out, _) = s.handle(RelayFrame::Welcome {
            version: 1,
            challenge: [6; 32],
        });
        let ClientFrame::Join {
            workspace,
            invite: key,
            invite_signature,
            ..
        } = out[0].clone()
        else {
            panic!("{out:?}")
        };
        assert_eq!(workspace, [3; 16]);
        assert_eq!(key, invite.signing_public());
        weft_crypto::verify(&key, JOIN_DOMAIN, &[6; 32], &invite_signature).unwrap();
    }

    #[test]
    fn backlog_then_live_entries_and_acks_are_reported() {
        let keys = DeviceKeys::generate();
        let mut s = Session::new(&keys, Credential::Device);
        ready(&mut s);
        s.subscribe([1; 16], 0, 0);
        let _ = s.push([1; 16], [8; 16], vec![1]);
        assert!(!s.up_to_date());
        assert_eq!(s.inflight(), 1);
        let entry = Entry {
            seq: 1,
            blob: [2; 16],
            author: [0; 32],
            data: vec![],
        };
        let (_, ev) = s.handle(RelayFrame::Entries {
            workspace: [1; 16],
            entries: vec![entry.clone()],
            head: 1,
        });
        assert_eq!(
            ev,
            vec![Event::Entries {
                log: [1; 16],
                entries: vec![entry]
            }]
        );
        let (_, ev) = s.handle(RelayFrame::Entries {
            workspace: [1; 16],
            entries: vec![],
            head: 1,
        });
        assert_eq!(ev, vec![Event::UpToDate { log: [1; 16] }]);
        assert!(s.up_to_date());
        // Entries for a log never subscribed are ignored.
        let (_, ev) = s.handle(RelayFrame::Entries {
            workspace: [9; 16],
            entries: vec![],
            head: 0,
        });
        assert!(ev.is_empty());
        let (_, ev) = s.handle(RelayFrame::Ack {
            blob: [8; 16],
            seq: 2,
        });
        assert_eq!(
            ev,
            vec![Event::Acked {
                blob: [8; 16],
                seq: 2
            }]
        );
        assert_eq!(s.inflight(), 0);
    }

    #[test]
    fn frames_out_of_order_and_fatal_errors_close_the_session() {
        let keys = DeviceKeys::generate();
        let mut s = Session::new(&keys, Credential::Device);
        let (_, ev) = s.handle(RelayFrame::Ready);
        assert!(matches!(ev[0], Event::Refused { fatal: true, .. }));
        assert_eq!(s.state(), SessionState::Closed);

        let mut s = Session::new(&keys, Credential::Device);
        ready(&mut s);
        let (_, ev) = s.handle(RelayFrame::Error {
            code: ErrorCode::RateLimited,
            message: "slow down".into(),
        });
        assert!(matches!(ev[0], Event::Refused { fatal: false, .. }));
        assert_eq!(s.state(), SessionState::Ready);
        s.handle(RelayFrame::Error {
            code: ErrorCode::QueueFull,
            message: "behind".into(),
        });
        assert_eq!(s.state(), SessionState::Closed);
    }
}
