//! Two devices syncing continuously (watch mode) through a real relay process: edits arrive
//! while both run, typing and presence are heard and never stored, the status says where a
//! device stands, and a relay killed and restarted is ridden out by reconnecting.

use crate::util::{RelayProcess, Shared, Watching, engine, eventually, once, runtime, watch};
use std::path::Path;
use std::sync::{Arc, Mutex};
use weft_core::SyncStatus;
use weft_domain::Role;

fn texts(e: &Shared, channel: weft_domain::Id) -> Vec<String> {
    e.lock()
        .unwrap()
        .messages(channel, None, 50)
        .unwrap()
        .into_iter()
        .map(|m| m.message.text)
        .collect()
}

fn log_entries(relay_dir: &Path) -> i64 {
    let db = rusqlite::Connection::open(relay_dir.join("relay.db")).unwrap();
    db.query_row("SELECT COUNT(*) FROM log", [], |r| r.get(0))
        .unwrap()
}

#[test]
fn watching_devices_hear_edits_typing_and_presence_and_ride_out_a_relay_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let relay_dir = tmp.path().join("relay");
    let mut relay = RelayProcess::start(&relay_dir, "127.0.0.1:0");
    let url = relay.url();
    let rt = runtime();

    let mut a = engine(&tmp.path().join("ada"), "Ada");
    let ws = a.create_workspace("Acme", "").unwrap().id.unwrap();
    let general = a.find_channel(ws, "general").unwrap();
    a.add_account(&url, &[ws]).unwrap();
    let a: Shared = Arc::new(Mutex::new(a));
    once(&rt, &a);
    let link = a
        .lock()
        .unwrap()
        .create_invite(ws, Role::Member, 3_600_000, 1)
        .unwrap()
        .to_link();
    once(&rt, &a);
    let mut b = engine(&tmp.path().join("bob"), "Bob");
    b.join(&link).unwrap();
    let b: Shared = Arc::new(Mutex::new(b));
    once(&rt, &b);
    let (ada, bob) = (
        a.lock().unwrap().identity().unwrap().user,
        b.lock().unwrap().identity().unwrap().user,
    );

    // Both watch from now on.
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let Watching {
        tasks: watchers,
        statuses,
    } = watch(&rt, &[&a, &b], &stop);
    eventually(10, "both up to date", || {
        statuses.iter().all(|s| *s.borrow() == SyncStatus::UpToDate)
    });

    a.lock()
        .unwrap()
        .send(general, "live: hello bob", Default::default())
        .unwrap();
    eventually(10, "Bob sees Ada's message", || {
        texts(&b, general).contains(&"live: hello bob".to_string())
    });
    b.lock()
        .unwrap()
        .send(general, "live: hello ada", Default::default())
        .unwrap();
    eventually(10, "Ada sees Bob's reply", || {
        texts(&a, general).contains(&"live: hello ada".to_string())
    });

    // Typing and presence are heard, and the relay stores none of it.
    eventually(10, "Ada's pushes are all stored", || {
        a.lock().unwrap().sync_pending(1).unwrap() == 0
            && b.lock().unwrap().sync_pending(1).unwrap() == 0
    });
    let stored = log_entries(&relay_dir);
    a.lock().unwrap().typing(general).unwrap();
    eventually(10, "Bob sees Ada typing", || {
        b.lock().unwrap().typing_in(general) == vec![ada]
    });
    b.lock().unwrap().announce_presence(ws, "active").unwrap();
    eventually(10, "Ada sees Bob present", || {
        a.lock().unwrap().presence(ws) == vec![(bob, "active".to_string())]
    });
    assert_eq!(
        log_entries(&relay_dir),
        stored,
        "ephemeral traffic was stored"
    );
    assert!(
        a.lock().unwrap().typing_in(general).is_empty(),
        "my own typing is not echoed"
    );

    // The relay dies; Ada keeps working offline; the relay comes back on the same address.
    relay.kill();
    eventually(10, "Ada sees she is offline", || {
        matches!(*statuses[0].borrow(), SyncStatus::Offline { .. })
    });
    a.lock()
        .unwrap()
        .send(
            general,
            "live: written while the relay was down",
            Default::default(),
        )
        .unwrap();
    let relay = RelayProcess::start(&relay_dir, &relay.addr.clone());
    eventually(
        60,
        "Bob gets what Ada wrote while the relay was down",
        || texts(&b, general).contains(&"live: written while the relay was down".to_string()),
    );
    eventually(30, "both up to date again", || {
        statuses.iter().all(|s| *s.borrow() == SyncStatus::UpToDate)
    });

    let _ = stop_tx.send(true);
    for w in watchers {
        rt.block_on(w).unwrap().unwrap();
    }
    drop(relay);
}
