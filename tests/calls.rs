//! Calls between two people's devices signalled through a real relay process: media flows
//! peer to peer on loopback, the relay carries only sealed, signed signals, a forged or
//! altered signal is refused, someone outside a private channel can't join its call, and a
//! relay restarted mid-call doesn't stop the call while signalling picks up again after.

use crate::util::{RelayProcess, Shared, Watching, engine, eventually, once, runtime, watch};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use weft_call::loopback::{Received, RecordingSinks, delivery};
use weft_call::{Call, CallConfig, VideoSettings};
use weft_core::SyncStatus;
use weft_domain::{ChannelKind, Id, Role};

/// Ada's workspace, Bob joined through an invite, both synced once.
fn team(rt: &tokio::runtime::Runtime, tmp: &Path, url: &str) -> (Shared, Shared, Id) {
    let mut a = engine(&tmp.join("ada"), "Ada");
    let ws = a.create_workspace("Acme", "").unwrap().id.unwrap();
    a.add_account(url, &[ws]).unwrap();
    let a: Shared = Arc::new(Mutex::new(a));
    once(rt, &a);
    let link = a
        .lock()
        .unwrap()
        .create_invite(ws, Role::Member, 3_600_000, 1)
        .unwrap()
        .to_link();
    once(rt, &a);
    let mut b = engine(&tmp.join("bob"), "Bob");
    b.join(&link).unwrap();
    let b: Shared = Arc::new(Mutex::new(b));
    once(rt, &b);
    once(rt, &a);
    (a, b, ws)
}

/// Starts this person's side of the call, signalled through their engine.
async fn join(e: &Shared, channel: Id, call: &str, received: &Arc<Received>) -> Call {
    let me = e.lock().unwrap().device_id().unwrap();
    let mut config = CallConfig::new(call, me.clone());
    config.bind = vec!["127.0.0.1:0".into()];
    config.video = VideoSettings::SMALL;
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let sinks = Arc::new(RecordingSinks::new(&me, received.clone(), 0));
    let c = Call::start(config, sinks, tx).await.unwrap();
    let v = VideoSettings::SMALL;
    c.set_video_source(move || weft_media::synthetic::TestPattern::new(v.width, v.height, v.fps))
        .unwrap();
    c.set_audio_source(weft_media::synthetic::ToneSource::new(1))
        .unwrap();
    tokio::spawn(weft_call::bridge::run(e.clone(), c.clone(), channel, rx));
    c
}

#[test]
fn a_call_through_the_relay_flows_peer_to_peer_and_survives_a_relay_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let relay_dir = tmp.path().join("relay");
    let mut relay = RelayProcess::start(&relay_dir, "127.0.0.1:0");
    let rt = runtime();
    let (a, b, ws) = team(&rt, tmp.path(), &relay.url());
    let general = a.lock().unwrap().find_channel(ws, "general").unwrap();
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let Watching {
        tasks: watchers,
        statuses,
    } = watch(&rt, &[&a, &b], &stop);
    eventually(10, "both up to date", || {
        statuses.iter().all(|s| *s.borrow() == SyncStatus::UpToDate)
    });
    let (da, db) = (
        a.lock().unwrap().device_id().unwrap(),
        b.lock().unwrap().device_id().unwrap(),
    );

    let received = Arc::new(Received::default());
    let (ca, cb) = rt.block_on(async {
        (
            join(&a, general, "standup", &received).await,
            join(&b, general, "standup", &received).await,
        )
    });
    eventually(30, "each shows the other's video", || {
        !received.shown(&da, &db).is_empty() && !received.shown(&db, &da).is_empty()
    });
    std::thread::sleep(Duration::from_secs(4));
    for (r, s) in [(&da, &db), (&db, &da)] {
        let (ratio, in_order, count) = delivery(&received.shown(r, s));
        assert!(in_order, "pictures out of order");
        assert!(count >= 30, "only {count} pictures");
        assert!(ratio >= 0.99, "{:.1} % of pictures", ratio * 100.0);
        assert!(received.heard(r, s).1 > 50, "the tone is heard");
    }
    // The relay saw signals, not media, and stored none of them.
    let db_file = rusqlite::Connection::open(relay_dir.join("relay.db")).unwrap();
    let stored: i64 = db_file
        .query_row("SELECT COUNT(*) FROM log", [], |r| r.get(0))
        .unwrap();

    // The relay dies mid-call: media is peer to peer, so pictures keep coming.
    relay.kill();
    eventually(10, "both see they are offline", || {
        statuses
            .iter()
            .all(|s| matches!(*s.borrow(), SyncStatus::Offline { .. }))
    });
    let before = received.shown(&db, &da).len();
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        received.shown(&db, &da).len() >= before + 20,
        "the call went on without the relay"
    );
    let relay = RelayProcess::start(&relay_dir, &relay.addr.clone());
    eventually(30, "both up to date again", || {
        statuses.iter().all(|s| *s.borrow() == SyncStatus::UpToDate)
    });
    let after: i64 = db_file
        .query_row("SELECT COUNT(*) FROM log", [], |r| r.get(0))
        .unwrap();
    assert_eq!(stored, after, "call signals were stored by the relay");

    // Signalling works again: Bob leaves and comes back, and they find each other anew.
    rt.block_on(cb.leave());
    eventually(10, "Ada sees Bob leave", || {
        rt.block_on(ca.participants()).is_empty()
    });
    let again = Arc::new(Received::default());
    let cb2 = rt.block_on(join(&b, general, "standup", &again));
    eventually(30, "Bob shows Ada's video again", || {
        !again.shown(&db, &da).is_empty()
    });
    rt.block_on(async {
        ca.leave().await;
        cb2.leave().await;
    });
    let _ = stop_tx.send(true);
    for w in watchers {
        rt.block_on(w).unwrap().unwrap();
    }
    drop(relay);
}

#[test]
fn forged_altered_or_outsider_signals_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let relay = RelayProcess::start(&tmp.path().join("relay"), "127.0.0.1:0");
    let rt = runtime();
    let (a, b, ws) = team(&rt, tmp.path(), &relay.url());
    let general = a.lock().unwrap().find_channel(ws, "general").unwrap();
    let secret = a
        .lock()
        .unwrap()
        .create_channel(ws, "secret", ChannelKind::Private, "")
        .unwrap()
        .id
        .unwrap();
    once(&rt, &a);
    once(&rt, &b);
    let ada = a.lock().unwrap().identity().unwrap().user;
    let da = a.lock().unwrap().device_id().unwrap();
    let log = ws.to_bytes();

    // What Ada's engine sends, as the relay would pass it on.
    let offer = r#"{"t":"offer","sdp":"v=0\r\n"}"#;
    a.lock()
        .unwrap()
        .send_call_signal(general, "c1", None, offer)
        .unwrap();
    let sent = a.lock().unwrap().take_ephemeral();
    assert_eq!(sent.len(), 1);
    let (_, envelope) = sent[0].clone();

    // Altered on the way (one byte of the sealed body): refused, nothing reaches the call.
    let mut altered = envelope.clone();
    let at = altered.len() - 70;
    altered[at] ^= 1;
    let _ = b.lock().unwrap().sync_ephemeral(log, &altered);
    assert!(b.lock().unwrap().take_call_signals("c1").is_empty());

    // Forged: Ada's envelope with its signature replaced — refused too.
    let mut forged = envelope.clone();
    let n = forged.len();
    forged[n - 1] ^= 0x55;
    let _ = b.lock().unwrap().sync_ephemeral(log, &forged);
    assert!(b.lock().unwrap().take_call_signals("c1").is_empty());

    // As sent: heard once, from Ada's device and Ada, whatever the body says.
    b.lock().unwrap().sync_ephemeral(log, &envelope).unwrap();
    let heard = b.lock().unwrap().take_call_signals("c1");
    assert_eq!(heard.len(), 1);
    assert_eq!(heard[0].from_device, da);
    assert_eq!(heard[0].from_user, ada);
    assert_eq!(heard[0].signal, offer);
    // Replayed into another call's queue? It is for c1 only.
    assert!(b.lock().unwrap().take_call_signals("c2").is_empty());

    // Bob is not in #secret: his engine won't signal its call…
    let e = b
        .lock()
        .unwrap()
        .send_call_signal(secret, "c3", None, offer)
        .unwrap_err();
    assert!(e.to_string().contains("not a member"), "{e}");
    // …and a signal he sent while he was in it is refused once he has left.
    a.lock()
        .unwrap()
        .join_channel(secret, Some(b.lock().unwrap().identity().unwrap().user))
        .unwrap();
    once(&rt, &a);
    once(&rt, &b);
    b.lock()
        .unwrap()
        .send_call_signal(secret, "c3", None, offer)
        .unwrap();
    let (_, from_bob) = b.lock().unwrap().take_ephemeral().remove(0);
    a.lock().unwrap().sync_ephemeral(log, &from_bob).unwrap();
    assert_eq!(a.lock().unwrap().take_call_signals("c3").len(), 1);
    b.lock().unwrap().leave_channel(secret).unwrap();
    once(&rt, &b);
    once(&rt, &a);
    a.lock().unwrap().sync_ephemeral(log, &from_bob).unwrap();
    assert!(
        a.lock().unwrap().take_call_signals("c3").is_empty(),
        "a non-member's signal reached the call"
    );

    // A meeting of invited people and no channel: its id stands for the channel, and only
    // those invited may signal in it.
    let bob = b.lock().unwrap().identity().unwrap().user;
    let hour = 3_600_000;
    let start = weft_domain::Timestamp(1_900_000_000_000);
    let one_to_one = weft_core::NewEvent {
        title: "1:1".into(),
        start,
        end: weft_domain::Timestamp(start.0 + hour),
        attendees: vec![bob],
        ..Default::default()
    };
    let (_, m) = a
        .lock()
        .unwrap()
        .schedule_meeting(ws, one_to_one.clone(), None)
        .unwrap();
    let (_, closed) = a
        .lock()
        .unwrap()
        .schedule_meeting(
            ws,
            weft_core::NewEvent {
                attendees: vec![],
                ..one_to_one
            },
            None,
        )
        .unwrap();
    once(&rt, &a);
    once(&rt, &b);
    let (mid, closed) = (m.id.unwrap(), closed.id.unwrap());
    b.lock()
        .unwrap()
        .send_call_signal(mid, &mid.to_string(), None, offer)
        .unwrap();
    let (_, from_bob) = b.lock().unwrap().take_ephemeral().remove(0);
    a.lock().unwrap().sync_ephemeral(log, &from_bob).unwrap();
    assert_eq!(
        a.lock().unwrap().take_call_signals(&mid.to_string()).len(),
        1
    );
    let e = b
        .lock()
        .unwrap()
        .send_call_signal(closed, &closed.to_string(), None, offer)
        .unwrap_err();
    assert!(e.to_string().contains("not invited"), "{e}");
    drop(relay);
}
