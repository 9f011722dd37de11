//! The relay as a process on loopback, driven over real WebSocket connections.

mod common;

use common::*;
use std::collections::HashSet;
use weft_crypto::{DeviceKeys, Envelope, InviteSecret, SymKey};
use weft_proto::{ClientFrame, ErrorCode, Invite, RelayFrame, Role};

const WS: [u8; 16] = [42; 16];

/// The owner connects and registers the workspace with `members` on its access list.
async fn setup(relay: &Relay, members: &[(&DeviceKeys, Role)]) -> Client {
    let owner = DeviceKeys::generate();
    let owner_again = DeviceKeys::from_secret_bytes(&owner.secret_bytes());
    let mut all: Vec<(&DeviceKeys, Role)> = vec![(&owner_again, Role::Owner)];
    all.extend_from_slice(members);
    let list = access_list(&owner, WS, 1, &all, vec![]);
    let mut c = Client::connect(&relay.url(), owner).await;
    c.send(&ClientFrame::SetAccess {
        workspace: WS,
        list,
    })
    .await;
    expect(&mut c.ws, |f| {
        matches!(f, RelayFrame::Ack { seq: 1, .. }).then_some(())
    })
    .await;
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushes_are_ordered_stored_and_fanned_out_once() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(dir.path(), &[]);
    let bob = DeviceKeys::generate();
    let bob2 = DeviceKeys::from_secret_bytes(&bob.secret_bytes());
    let mut owner = setup(&relay, &[(&bob, Role::Member)]).await;
    let key = SymKey::generate(1);
    for i in 1..=3 {
        let data = envelope(&owner.keys, &key, WS, &format!("message {i}"));
        assert_eq!(owner.push(WS, blob(i), data).await, i);
    }
    let mut b = Client::connect(&relay.url(), bob2).await;
    let got = b.subscribe(WS, 0).await;
    assert_eq!(got.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![1, 2, 3]);
    let text = Envelope::from_bytes(&got[1].data)
        .unwrap()
        .open(&key, WS, "ch:test")
        .unwrap();
    assert_eq!(text, b"message 2");
    // Live: a new push reaches the subscriber; a repeated push is acknowledged with its
    // first number and delivered to nobody.
    let data = envelope(&owner.keys, &key, WS, "message 4");
    assert_eq!(owner.push(WS, blob(4), data.clone()).await, 4);
    assert_eq!(owner.push(WS, blob(4), data).await, 4);
    let live = expect(&mut b.ws, |f| match f {
        RelayFrame::Entries { entries, .. } if !entries.is_empty() => Some(entries.clone()),
        _ => None,
    })
    .await;
    assert_eq!(live.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![4]);
    let data = envelope(&owner.keys, &key, WS, "message 5");
    assert_eq!(owner.push(WS, blob(5), data).await, 5);
    let live = expect(&mut b.ws, |f| match f {
        RelayFrame::Entries { entries, .. } if !entries.is_empty() => Some(entries.clone()),
        _ => None,
    })
    .await;
    assert_eq!(
        live.iter().map(|e| e.seq).collect::<Vec<_>>(),
        vec![5],
        "the repeated push was not delivered again"
    );
    // Catch-up from a cursor.
    let mut b3 = Client::connect(
        &relay.url(),
        DeviceKeys::from_secret_bytes(&bob.secret_bytes()),
    )
    .await;
    let got = b3.subscribe(WS, 3).await;
    assert_eq!(got.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![4, 5]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_not_on_the_access_list_is_refused_at_every_step() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(dir.path(), &[]);
    let mut owner = setup(&relay, &[]).await;
    let key = SymKey::generate(1);
    owner
        .push(WS, blob(1), envelope(&owner.keys, &key, WS, "private"))
        .await;
    let mallory = DeviceKeys::generate();
    // A wrong signature over the challenge ends the handshake.
    let mut ws = open(&relay.url()).await;
    let challenge = hello(&mut ws, &mallory).await;
    let other = DeviceKeys::generate();
    send(
        &mut ws,
        &ClientFrame::Auth {
            signature: other.sign(AUTH, &challenge),
        },
    )
    .await;
    assert_eq!(expect_error(&mut ws).await.0, ErrorCode::Auth);
    assert!(recv(&mut ws).await.is_none(), "connection closed");
    // Authenticated but not a member: no push, no subscribe, no ephemeral, no access change.
    let mkeys = DeviceKeys::from_secret_bytes(&mallory.secret_bytes());
    let mut m = Client::connect(&relay.url(), mallory).await;
    let data = envelope(&mkeys, &key, WS, "spam");
    m.send(&ClientFrame::Push {
        workspace: WS,
        blob: blob(9),
        data,
    })
    .await;
    assert_eq!(expect_error(&mut m.ws).await.0, ErrorCode::NotMember);
    m.send(&ClientFrame::Subscribe {
        workspace: WS,
        after: 0,
        access_version: 0,
    })
    .await;
    assert_eq!(expect_error(&mut m.ws).await.0, ErrorCode::NotMember);
    m.send(&ClientFrame::Ephemeral {
        workspace: WS,
        to: None,
        data: b"typing".to_vec(),
    })
    .await;
    assert_eq!(expect_error(&mut m.ws).await.0, ErrorCode::NotMember);
    let list = access_list(&mkeys, WS, 9, &[(&mkeys, Role::Owner)], vec![]);
    m.send(&ClientFrame::SetAccess {
        workspace: WS,
        list,
    })
    .await;
    assert_eq!(expect_error(&mut m.ws).await.0, ErrorCode::Access);
    // Still one entry in the log.
    assert_eq!(owner.subscribe(WS, 0).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_relay_files_hold_none_of_the_text_written() {
    let dir = tempfile::tempdir().unwrap();
    let mut relay = Relay::start(dir.path(), &[]);
    let mut owner = setup(&relay, &[]).await;
    let key = SymKey::generate(1);
    let secrets = [
        "quarterly numbers are terrible",
        "task: fire the vendor",
        "event: board meeting in Lisbon",
    ];
    for (i, s) in secrets.iter().enumerate() {
        owner
            .push(WS, blob(i as u64), envelope(&owner.keys, &key, WS, s))
            .await;
    }
    drop(owner);
    relay.terminate();
    let files = all_bytes(dir.path());
    assert!(
        files.iter().any(|(_, b)| !b.is_empty()),
        "the relay stored something"
    );
    for (path, bytes) in files {
        for s in secrets {
            assert!(
                !bytes.windows(s.len()).any(|w| w == s.as_bytes()),
                "{} holds {s:?}",
                path.display()
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_frames_get_their_errors_while_others_are_served() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(
        dir.path(),
        &[
            ("WEFT_RELAY_MAX_FRAME", "65536"),
            ("WEFT_RELAY_RATE", "50"),
            ("WEFT_RELAY_BURST", "50"),
        ],
    );
    let bob = DeviceKeys::generate();
    let bob_keys = DeviceKeys::from_secret_bytes(&bob.secret_bytes());
    let eve = DeviceKeys::generate();
    let eve_keys = DeviceKeys::from_secret_bytes(&eve.secret_bytes());
    let mut owner = setup(
        &relay,
        &[(&bob_keys, Role::Member), (&eve_keys, Role::Member)],
    )
    .await;
    let key = SymKey::generate(1);
    let mut bad = Client::connect(&relay.url(), eve).await;
    // Oversize.
    bad.send(&ClientFrame::Push {
        workspace: WS,
        blob: blob(1),
        data: vec![0; 70_000],
    })
    .await;
    let (code, msg) = expect_error(&mut bad.ws).await;
    assert_eq!(code, ErrorCode::FrameTooLarge);
    assert!(msg.contains("65536"), "{msg}");
    // Malformed.
    use futures_util::SinkExt;
    bad.ws
        .send(tokio_tungstenite::tungstenite::Message::Binary(
            vec![4, 1, 2].into(),
        ))
        .await
        .unwrap();
    assert_eq!(expect_error(&mut bad.ws).await.0, ErrorCode::Malformed);
    // Someone else's envelope replayed as one's own, and an envelope with a broken signature.
    let owners = envelope(&owner.keys, &key, WS, "from the owner");
    bad.send(&ClientFrame::Push {
        workspace: WS,
        blob: blob(2),
        data: owners,
    })
    .await;
    assert_eq!(expect_error(&mut bad.ws).await.0, ErrorCode::Auth);
    let mut forged = envelope(&eve_keys, &key, WS, "tampered");
    let n = forged.len();
    forged[n - 1] ^= 1;
    bad.send(&ClientFrame::Push {
        workspace: WS,
        blob: blob(3),
        data: forged,
    })
    .await;
    assert_eq!(expect_error(&mut bad.ws).await.0, ErrorCode::Auth);
    // A flood past the rate limit.
    for i in 0..200 {
        bad.send(&ClientFrame::Ping { nonce: i }).await;
    }
    assert_eq!(expect_error(&mut bad.ws).await.0, ErrorCode::RateLimited);
    // Meanwhile a well-behaved member is served.
    let mut b = Client::connect(&relay.url(), bob).await;
    let data = envelope(&bob_keys, &key, WS, "hello");
    let seq = b.push(WS, blob(10), data).await;
    assert_eq!(seq, 1, "none of the hostile pushes was stored");
    assert_eq!(owner.subscribe(WS, 0).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invite_admits_as_many_devices_as_it_allows_with_every_admin_offline() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(dir.path(), &[]);
    let owner_keys = DeviceKeys::generate();
    let secret = InviteSecret::generate();
    let far = 4_000_000_000_000u64;
    let list = access_list(
        &owner_keys,
        WS,
        1,
        &[(&owner_keys, Role::Owner)],
        vec![
            Invite {
                key: secret.signing_public(),
                expires_at: far,
                max_uses: 1,
                role: Role::Member,
            },
            Invite {
                key: InviteSecret::generate().signing_public(),
                expires_at: 1,
                max_uses: 10,
                role: Role::Member,
            },
        ],
    );
    let mut owner = Client::connect(&relay.url(), owner_keys).await;
    owner
        .send(&ClientFrame::SetAccess {
            workspace: WS,
            list,
        })
        .await;
    expect(&mut owner.ws, |f| {
        matches!(f, RelayFrame::Ack { .. }).then_some(())
    })
    .await;
    drop(owner);
    // The link's secret, parsed as a joining device would.
    let secret = InviteSecret::from_link_text(&secret.to_link_text()).unwrap();
    let join = |keys: DeviceKeys, secret: InviteSecret| {
        let url = relay.url();
        async move {
            let mut ws = open(&url).await;
            let challenge = hello(&mut ws, &keys).await;
            send(
                &mut ws,
                &ClientFrame::Join {
                    workspace: WS,
                    invite: secret.signing_public(),
                    device_signature: keys.sign(AUTH, &challenge),
                    invite_signature: secret.sign(JOIN, &challenge),
                },
            )
            .await;
            (ws, keys)
        }
    };
    let (mut ws, keys) = join(DeviceKeys::generate(), secret.clone()).await;
    assert_eq!(recv(&mut ws).await, Some(RelayFrame::Ready));
    let mut joined = Client { ws, keys };
    assert!(joined.subscribe(WS, 0).await.is_empty());
    let (mut ws, _) = join(DeviceKeys::generate(), secret.clone()).await;
    let (code, msg) = expect_error(&mut ws).await;
    assert_eq!(code, ErrorCode::Invite);
    assert!(msg.contains("used"), "{msg}");
    // A forged invite signature.
    let (mut ws, _) = join(DeviceKeys::generate(), InviteSecret::generate()).await;
    assert_eq!(expect_error(&mut ws).await.0, ErrorCode::Invite);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_device_is_cut_off_and_refused() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(dir.path(), &[]);
    let bob = DeviceKeys::generate();
    let bob_keys = DeviceKeys::from_secret_bytes(&bob.secret_bytes());
    let mut owner = setup(&relay, &[(&bob_keys, Role::Member)]).await;
    let mut b = Client::connect(&relay.url(), bob).await;
    b.subscribe(WS, 0).await;
    let owner_pub = DeviceKeys::from_secret_bytes(&owner.keys.secret_bytes());
    let v2 = access_list(&owner.keys, WS, 2, &[(&owner_pub, Role::Owner)], vec![]);
    owner
        .send(&ClientFrame::SetAccess {
            workspace: WS,
            list: v2.clone(),
        })
        .await;
    let (code, _) = expect_error(&mut b.ws).await;
    assert_eq!(code, ErrorCode::NotMember);
    let mut b = Client::connect(&relay.url(), bob_keys).await;
    b.send(&ClientFrame::Subscribe {
        workspace: WS,
        after: 0,
        access_version: 0,
    })
    .await;
    assert_eq!(expect_error(&mut b.ws).await.0, ErrorCode::NotMember);
    // An old list replayed does not bring the device back.
    owner
        .send(&ClientFrame::SetAccess {
            workspace: WS,
            list: v2,
        })
        .await;
    let (code, msg) = expect_error(&mut owner.ws).await;
    assert_eq!(code, ErrorCode::Access);
    assert!(msg.contains("not newer"), "{msg}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_and_excess_connections_are_refused_with_their_errors() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(
        dir.path(),
        &[
            ("WEFT_RELAY_HANDSHAKE_S", "1"),
            ("WEFT_RELAY_CONNS_PER_ADDR", "20"),
        ],
    );
    let mut silent = open(&relay.url()).await;
    let (code, _) = expect_error(&mut silent).await;
    assert_eq!(code, ErrorCode::HandshakeTimeout);
    let mut held = Vec::new();
    for _ in 0..20 {
        held.push(open(&relay.url()).await);
    }
    let mut extra = open(&relay.url()).await;
    assert_eq!(
        expect_error(&mut extra).await.0,
        ErrorCode::TooManyConnections
    );
    drop(held);
    // Once they are gone (closed by the handshake timeout at the latest), a device gets in.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let _ = Client::connect(&relay.url(), DeviceKeys::generate()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_metrics_and_graceful_shutdown() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = tempfile::tempdir().unwrap();
    let mut relay = Relay::start(dir.path(), &[]);
    let get = |path: &'static str| {
        let addr = relay.addr;
        async move {
            let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
            s.write_all(
                format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
            )
            .await
            .unwrap();
            let mut out = String::new();
            s.read_to_string(&mut out).await.unwrap();
            out
        }
    };
    assert!(get("/healthz").await.starts_with("HTTP/1.1 200"));
    let mut owner = setup(&relay, &[]).await;
    let key = SymKey::generate(1);
    owner
        .push(WS, blob(1), envelope(&owner.keys, &key, WS, "x"))
        .await;
    let m = get("/metrics").await;
    assert!(m.contains("weft_relay_pushes_total 1"), "{m}");
    assert!(m.contains("weft_relay_connections_open 1"), "{m}");
    let status = relay.terminate();
    assert!(status.success(), "{status}");
    let (code, _) = expect_error(&mut owner.ws).await;
    assert_eq!(code, ErrorCode::ShuttingDown);
}

/// The relay killed with SIGKILL during a stream of pushes, a hundred times: after each
/// restart every acknowledged blob is there, exactly once, in one gapless sequence.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_pushes_loses_no_acknowledged_blob() {
    let dir = tempfile::tempdir().unwrap();
    let owner_keys = DeviceKeys::generate();
    let secret = owner_keys.secret_bytes();
    let key = SymKey::generate(1);
    let mut acked: HashSet<[u8; 16]> = HashSet::new();
    let mut next = 0u64;
    let mut relay = Relay::start(dir.path(), &[]);
    let port = relay.addr.port();
    {
        let list = access_list(&owner_keys, WS, 1, &[(&owner_keys, Role::Owner)], vec![]);
        let mut c = Client::connect(&relay.url(), DeviceKeys::from_secret_bytes(&secret)).await;
        c.send(&ClientFrame::SetAccess {
            workspace: WS,
            list,
        })
        .await;
        expect(&mut c.ws, |f| {
            matches!(f, RelayFrame::Ack { .. }).then_some(())
        })
        .await;
    }
    for round in 0..100u64 {
        let mut c = Client::connect(&relay.url(), DeviceKeys::from_secret_bytes(&secret)).await;
        // Pipeline pushes; kill the relay after a varying number of acknowledgements.
        let stop_after = 3 + (round * 7) % 23;
        let mut sent = Vec::new();
        for _ in 0..40 {
            next += 1;
            let b = blob(next);
            sent.push(b);
            c.send(&ClientFrame::Push {
                workspace: WS,
                blob: b,
                data: envelope(&owner_keys, &key, WS, &format!("n{next}")),
            })
            .await;
        }
        let mut got = 0;
        while got < stop_after {
            match recv(&mut c.ws).await {
                Some(RelayFrame::Ack { blob, .. }) => {
                    acked.insert(blob);
                    got += 1;
                }
                Some(other) => panic!("unexpected {other:?}"),
                None => break,
            }
        }
        relay.kill();
        // Acks that reached the client before the kill count too.
        while let Some(f) = recv(&mut c.ws).await {
            if let RelayFrame::Ack { blob, .. } = f {
                acked.insert(blob);
            }
        }
        relay = Relay::start_at(dir.path(), &format!("127.0.0.1:{port}"), &[]);
        let mut check = Client::connect(&relay.url(), DeviceKeys::from_secret_bytes(&secret)).await;
        let all = check.subscribe(WS, 0).await;
        let seqs: Vec<u64> = all.iter().map(|e| e.seq).collect();
        assert_eq!(
            seqs,
            (1..=all.len() as u64).collect::<Vec<_>>(),
            "round {round}: gapless, no duplicates"
        );
        let blobs: HashSet<[u8; 16]> = all.iter().map(|e| e.blob).collect();
        assert_eq!(blobs.len(), all.len(), "round {round}: no blob twice");
        for a in &acked {
            assert!(
                blobs.contains(a),
                "round {round}: an acknowledged blob is missing"
            );
        }
    }
}

/// Thousands of TCP connections that never finish (or never start) their HTTP request:
/// members keep being served meanwhile, and every one of them is closed after the handshake
/// time. Past the per-address cap, connections are turned away at once with a 503.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousands_of_half_open_connections_are_shed_while_members_are_served() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(
        dir.path(),
        &[
            ("WEFT_RELAY_HANDSHAKE_S", "2"),
            ("WEFT_RELAY_CONNS_PER_ADDR", "1500"),
        ],
    );
    let bob = DeviceKeys::generate();
    let bob_keys = DeviceKeys::from_secret_bytes(&bob.secret_bytes());
    let mut owner = setup(&relay, &[(&bob_keys, Role::Member)]).await;
    let mut half_open = Vec::new();
    for i in 0..2000 {
        let mut s = tokio::net::TcpStream::connect(relay.addr).await.unwrap();
        if i % 2 == 0 {
            s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").await.unwrap();
        }
        half_open.push(s);
    }
    let mut b = Client::connect(&relay.url(), bob).await;
    b.subscribe(WS, 0).await;
    let key = SymKey::generate(1);
    owner
        .push(WS, blob(1), envelope(&owner.keys, &key, WS, "still here"))
        .await;
    let got = expect(&mut b.ws, |f| match f {
        RelayFrame::Entries { entries, .. } if !entries.is_empty() => Some(entries.len()),
        _ => None,
    })
    .await;
    assert_eq!(got, 1);
    // After the handshake time every half-open connection has been closed by the relay.
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    let mut closed = 0;
    for mut s in half_open {
        let mut buf = [0u8; 64];
        // Closed: end of stream or an error, possibly after an error response.
        loop {
            match tokio::time::timeout(std::time::Duration::from_secs(2), s.read(&mut buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) => {
                    closed += 1;
                    break;
                }
                Ok(Ok(_)) => continue,
                Err(_) => break,
            }
        }
    }
    assert_eq!(closed, 2000, "every half-open connection was closed");

    // The per-address cap: 2 × 10 + 16 = 36 TCP connections; the rest get a 503 at once.
    let dir2 = tempfile::tempdir().unwrap();
    let capped = Relay::start(dir2.path(), &[("WEFT_RELAY_CONNS_PER_ADDR", "10")]);
    let mut held = Vec::new();
    for _ in 0..36 {
        held.push(tokio::net::TcpStream::connect(capped.addr).await.unwrap());
    }
    let mut extra = tokio::net::TcpStream::connect(capped.addr).await.unwrap();
    let mut reply = String::new();
    tokio::time::timeout(
        std::time::Duration::from_secs(5),
        extra.read_to_string(&mut reply),
    )
    .await
    .unwrap()
    .unwrap();
    assert!(reply.starts_with("HTTP/1.1 503"), "{reply}");
    assert!(reply.contains("too many connections"), "{reply}");
}
