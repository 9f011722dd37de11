//! Every frame round-trips; every way bytes can be wrong is its own precise error.

use proptest::prelude::*;
use weft_proto::*;

fn client_frames() -> Vec<ClientFrame> {
    vec![
        ClientFrame::Hello {
            versions: vec![1, 2],
            device: [1; 32],
        },
        ClientFrame::Auth { signature: [2; 64] },
        ClientFrame::Join {
            workspace: [3; 16],
            invite: [4; 32],
            device_signature: [5; 64],
            invite_signature: [6; 64],
        },
        ClientFrame::Push {
            workspace: [3; 16],
            blob: [7; 16],
            data: b"opaque".to_vec(),
        },
        ClientFrame::Subscribe {
            workspace: [3; 16],
            after: 42,
            access_version: 3,
        },
        ClientFrame::PutSnapshot {
            workspace: [3; 16],
            covers: 9,
            blob: [8; 16],
            data: vec![0; 100],
        },
        ClientFrame::SetAccess {
            workspace: [3; 16],
            list: vec![1, 2, 3],
        },
        ClientFrame::Ephemeral {
            workspace: [3; 16],
            to: Some([9; 32]),
            data: b"typing".to_vec(),
        },
        ClientFrame::Ephemeral {
            workspace: [3; 16],
            to: None,
            data: vec![],
        },
        ClientFrame::Ping { nonce: 77 },
        ClientFrame::PutChunk {
            workspace: [3; 16],
            chunk: [10; 32],
            data: vec![11; 300],
        },
        ClientFrame::GetChunk {
            workspace: [3; 16],
            chunk: [10; 32],
        },
    ]
}

fn relay_frames() -> Vec<RelayFrame> {
    vec![
        RelayFrame::Welcome {
            version: 1,
            challenge: [1; 32],
        },
        RelayFrame::Ready,
        RelayFrame::Ack {
            blob: [2; 16],
            seq: 5,
        },
        RelayFrame::Entries {
            workspace: [3; 16],
            head: 10,
            entries: vec![
                Entry {
                    seq: 9,
                    blob: [4; 16],
                    author: [5; 32],
                    data: b"x".to_vec(),
                },
                Entry {
                    seq: 10,
                    blob: [6; 16],
                    author: [5; 32],
                    data: vec![],
                },
            ],
        },
        RelayFrame::Snapshot {
            workspace: [3; 16],
            covers: 8,
            blob: [7; 16],
            author: [5; 32],
            data: vec![1; 50],
        },
        RelayFrame::Access {
            workspace: [3; 16],
            list: vec![9; 10],
        },
        RelayFrame::Ephemeral {
            workspace: [3; 16],
            from: [5; 32],
            data: b"here".to_vec(),
        },
        RelayFrame::Pong { nonce: 1 },
        RelayFrame::Error {
            code: ErrorCode::RateLimited,
            message: "slow down: 200 frames/s".into(),
        },
        RelayFrame::Error {
            code: ErrorCode::Quota,
            message: "full".into(),
        },
        RelayFrame::ChunkStored {
            workspace: [3; 16],
            chunk: [10; 32],
        },
        RelayFrame::Chunk {
            workspace: [3; 16],
            chunk: [10; 32],
            data: vec![11; 300],
        },
        RelayFrame::NoChunk {
            workspace: [3; 16],
            chunk: [10; 32],
        },
    ]
}

#[test]
fn every_frame_round_trips_and_every_truncation_is_an_error() {
    for f in client_frames() {
        let b = f.encode();
        assert_eq!(ClientFrame::decode(&b).unwrap(), f);
        for cut in 0..b.len() {
            assert!(
                ClientFrame::decode(&b[..cut]).is_err(),
                "{f:?} cut at {cut}"
            );
        }
        let mut long = b.clone();
        long.push(0);
        assert_eq!(ClientFrame::decode(&long), Err(DecodeError::Trailing(1)));
    }
    for f in relay_frames() {
        let b = f.encode();
        assert_eq!(RelayFrame::decode(&b).unwrap(), f);
        for cut in 0..b.len() {
            assert!(RelayFrame::decode(&b[..cut]).is_err(), "{f:?} cut at {cut}");
        }
    }
}

#[test]
fn wrong_frames_get_precise_errors() {
    assert_eq!(ClientFrame::decode(&[]), Err(DecodeError::Empty));
    assert_eq!(
        ClientFrame::decode(&[200]),
        Err(DecodeError::UnknownTag(200))
    );
    let big = vec![4u8; MAX_FRAME + 1];
    assert_eq!(
        ClientFrame::decode(&big),
        Err(DecodeError::FrameTooLarge {
            len: MAX_FRAME + 1,
            max: MAX_FRAME
        })
    );
    // A push claiming a blob over the limit is refused by its length alone.
    let mut push = vec![4u8];
    push.extend_from_slice(&[0; 32]);
    push.extend_from_slice(&(MAX_BLOB as u32 + 1).to_le_bytes());
    assert_eq!(
        ClientFrame::decode(&push),
        Err(DecodeError::TooLong {
            field: "blob",
            len: MAX_BLOB + 1,
            max: MAX_BLOB
        })
    );
    // A chunk over its own limit (far under a frame's) is refused by its length alone.
    let mut chunk = vec![10u8];
    chunk.extend_from_slice(&[0; 48]);
    chunk.extend_from_slice(&(MAX_CHUNK as u32 + 1).to_le_bytes());
    assert_eq!(
        ClientFrame::decode(&chunk),
        Err(DecodeError::TooLong {
            field: "chunk",
            len: MAX_CHUNK + 1,
            max: MAX_CHUNK
        })
    );
    // A hello listing a billion versions is refused before allocating for them.
    let mut hello = vec![1u8];
    hello.extend_from_slice(&1_000_000_000u32.to_le_bytes());
    assert!(matches!(
        ClientFrame::decode(&hello),
        Err(DecodeError::TooLong {
            field: "versions",
            ..
        })
    ));
    // Entries claiming more items than the bytes could hold.
    let mut entries = vec![4u8];
    entries.extend_from_slice(&[0; 24]);
    entries.extend_from_slice(&100u32.to_le_bytes());
    assert!(matches!(
        RelayFrame::decode(&entries),
        Err(DecodeError::Truncated {
            field: "entries",
            ..
        })
    ));
    let mut flag = ClientFrame::Ephemeral {
        workspace: [0; 16],
        to: None,
        data: vec![],
    }
    .encode();
    flag[17] = 7;
    assert_eq!(
        ClientFrame::decode(&flag),
        Err(DecodeError::BadValue {
            field: "recipient flag",
            value: 7
        })
    );
    let mut err = RelayFrame::Error {
        code: ErrorCode::Auth,
        message: "x".into(),
    }
    .encode();
    err[1] = 99;
    assert_eq!(
        RelayFrame::decode(&err),
        Err(DecodeError::BadValue {
            field: "error code",
            value: 99
        })
    );
    let mut utf = RelayFrame::Error {
        code: ErrorCode::Auth,
        message: "x".into(),
    }
    .encode();
    let last = utf.len() - 1;
    utf[last] = 0xff;
    assert_eq!(
        RelayFrame::decode(&utf),
        Err(DecodeError::Utf8 {
            field: "error message"
        })
    );
}

#[test]
fn versions_are_negotiated_to_the_highest_in_common() {
    assert_eq!(negotiate(&[1]), Some(1));
    assert_eq!(negotiate(&[0, 1, 7]), Some(1));
    assert_eq!(negotiate(&[2, 3]), None);
    assert_eq!(negotiate(&[]), None);
}

#[test]
fn access_lists_round_trip_and_refuse_bad_roles() {
    let list = AccessList {
        workspace: [1; 16],
        version: 3,
        members: vec![
            Member {
                device: [2; 32],
                user: [3; 16],
                role: Role::Owner,
            },
            Member {
                device: [4; 32],
                user: [5; 16],
                role: Role::Member,
            },
        ],
        invites: vec![Invite {
            key: [6; 32],
            expires_at: 1_800_000_000_000,
            max_uses: 5,
            role: Role::Member,
        }],
        signer: [2; 32],
        signature: [7; 64],
    };
    let b = list.encode();
    let back = AccessList::decode(&b).unwrap();
    assert_eq!(back, list);
    assert_eq!(back.role_of(&[2; 32]), Some(Role::Owner));
    assert_eq!(back.role_of(&[9; 32]), None);
    assert!(back.invite(&[6; 32]).is_some());
    let mut bad = b.clone();
    // The first member's role byte: format, workspace, version, count, device, user.
    bad[1 + 16 + 8 + 4 + 32 + 16] = 9;
    assert_eq!(
        AccessList::decode(&bad),
        Err(DecodeError::BadValue {
            field: "role",
            value: 9
        })
    );
    for cut in 0..b.len() {
        assert!(AccessList::decode(&b[..cut]).is_err());
    }
}

proptest! {
    #[test]
    fn decoders_never_panic_on_arbitrary_bytes(b in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = ClientFrame::decode(&b);
        let _ = RelayFrame::decode(&b);
        let _ = AccessList::decode(&b);
    }

    #[test]
    fn decoders_never_panic_on_mutated_frames(i in 0usize..10, pos in any::<usize>(), val in any::<u8>()) {
        let mut b = client_frames()[i].encode();
        let p = pos % b.len();
        b[p] = val;
        let _ = ClientFrame::decode(&b);
        let mut r = relay_frames()[i % 9].encode();
        let p = pos % r.len();
        r[p] = val;
        let _ = RelayFrame::decode(&r);
    }
}
