//! Devices meeting through a real relay process (`weft relay` on loopback): three people's
//! replicas joined by invite, edits flowing, offline edits converging, a removed member cut
//! off, and a relay that never holds a readable byte of what they wrote.

use crate::util::{RelayProcess, json, ok, weft};
use std::path::Path;

fn texts(dir: &Path, channel: &str) -> Vec<String> {
    json(dir, &["message", "list", channel])
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["message"]["text"].as_str().unwrap().to_owned())
        .collect()
}

/// The column a card is in, checking that the board shows it exactly once.
fn column_of(dir: &Path, task: &str) -> String {
    let board = json(dir, &["board", "show", "Roadmap"]);
    let mut found = Vec::new();
    for col in board.as_array().unwrap() {
        for t in col["tasks"].as_array().unwrap() {
            if t["id"].as_str() == Some(task) {
                found.push(col["column"]["name"].as_str().unwrap().to_owned());
            }
        }
    }
    assert_eq!(found.len(), 1, "the card is shown exactly once: {found:?}");
    found.remove(0)
}

/// Documents (heads and content) and shared read-model rows of a replica.
fn state(dir: &Path) -> (Vec<(String, String)>, String) {
    let mut e = weft_core::Engine::open(dir).unwrap();
    let mut docs = Vec::new();
    for id in e.doc_ids().unwrap() {
        if id.kind() == weft_sync::DocKind::Personal {
            continue;
        }
        let (_, content) = e.doc_state(&id).unwrap().unwrap();
        docs.push((id.to_string(), content.to_string()));
    }
    docs.sort();
    let rm = format!("{:?}", e.store().dump_shared_read_model().unwrap());
    (docs, rm)
}

#[test]
fn three_people_sync_through_a_relay_that_cannot_read_them() {
    let tmp = tempfile::tempdir().unwrap();
    let relay = RelayProcess::start(&tmp.path().join("relay"), "127.0.0.1:0");
    let url = relay.url();
    let (a, b, c) = (
        tmp.path().join("ada"),
        tmp.path().join("bob"),
        tmp.path().join("cy"),
    );
    ok(
        &a,
        &["profile", "init", "--name", "Ada", "--username", "ada"],
    );
    ok(&a, &["workspace", "create", "Acme"]);
    ok(
        &a,
        &["message", "send", "#general", "kickoff: plans for zanzibar"],
    );
    ok(&a, &["board", "create", "Roadmap"]);
    let task = json(
        &a,
        &[
            "task",
            "create",
            "--board",
            "Roadmap",
            "ship the quokka relay",
        ],
    );
    let task = task["id"].as_str().unwrap().to_owned();
    ok(
        &a,
        &[
            "event",
            "create",
            "Offsite in Marrakesh",
            "--start",
            "2030-01-07T09:00",
            "--end",
            "2030-01-07T10:00",
            "--tz",
            "UTC",
        ],
    );
    ok(&a, &["account", "add", &url]);
    ok(&a, &["sync"]);
    let link = json(&a, &["invite", "create", "--uses", "2"])["link"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(link.starts_with("weft://join/"), "{link}");
    ok(&a, &["sync"]);

    // Bob and Cy join while Ada's replica is not running at all.
    for (dir, name) in [(&b, "bob"), (&c, "cy")] {
        ok(
            dir,
            &["profile", "init", "--name", name, "--username", name],
        );
        ok(dir, &["join", &link]);
        assert_eq!(texts(dir, "#general"), ["kickoff: plans for zanzibar"]);
        assert_eq!(column_of(dir, &task), "To do");
    }
    // The link was for two devices: a third is refused, with a clear error.
    let d = tmp.path().join("dee");
    ok(
        &d,
        &["profile", "init", "--name", "Dee", "--username", "dee"],
    );
    let out = weft(&d, &["join", &link]);
    assert_eq!(out.status.code(), Some(5), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("invite"), "{err}");
    // A link whose secret was tampered with gets nothing either.
    let forged = format!("{}A", &link[..link.len() - 1]);
    let e = tmp.path().join("eve");
    ok(
        &e,
        &["profile", "init", "--name", "Eve", "--username", "eve"],
    );
    let out = weft(&e, &["join", &forged]);
    assert!(!out.status.success(), "{out:?}");

    // Live edits reach the others.
    ok(
        &a,
        &[
            "message",
            "send",
            "#general",
            "who brings the tandem bicycle?",
        ],
    );
    ok(&a, &["task", "move", &task, "--column", "In progress"]);
    ok(&a, &["sync"]);
    for dir in [&b, &c] {
        ok(dir, &["sync"]);
        assert_eq!(
            texts(dir, "#general").last().unwrap(),
            "who brings the tandem bicycle?"
        );
        assert_eq!(column_of(dir, &task), "In progress");
    }
    // Members see one another.
    let members = ok(&b, &["workspace", "members"]);
    for who in ["@ada", "@bob", "@cy"] {
        assert!(members.contains(who), "{members}");
    }
    // A member cannot remove an admin.
    let out = weft(&b, &["member", "remove", "@ada"]);
    assert_eq!(out.status.code(), Some(5), "{out:?}");

    // Bob and Cy work offline on the same card and channel, then everyone syncs.
    ok(&b, &["task", "move", &task, "--column", "Done"]);
    ok(
        &b,
        &["message", "send", "#general", "bob offline: marmalade"],
    );
    ok(&c, &["task", "move", &task, "--column", "To do"]);
    ok(
        &c,
        &["message", "send", "#general", "cy offline: porcupine"],
    );
    for dir in [&b, &c, &a, &b, &c] {
        ok(dir, &["sync"]);
    }
    let sa = state(&a);
    assert_eq!(sa, state(&b), "Ada and Bob converged");
    assert_eq!(sa, state(&c), "Ada and Cy converged");
    let col = column_of(&a, &task);
    assert!(col == "Done" || col == "To do", "{col}");
    for dir in [&b, &c] {
        assert_eq!(column_of(dir, &task), col);
    }
    let all = texts(&a, "#general");
    assert!(
        all.contains(&"bob offline: marmalade".to_string()),
        "{all:?}"
    );
    assert!(
        all.contains(&"cy offline: porcupine".to_string()),
        "{all:?}"
    );

    // Ada removes Cy: Cy keeps what it had, and gets nothing new.
    ok(&a, &["member", "remove", "@cy"]);
    ok(
        &a,
        &[
            "message",
            "send",
            "#general",
            "after cy left: the narwhal plan",
        ],
    );
    ok(&a, &["sync"]);
    ok(&b, &["sync"]);
    assert_eq!(
        texts(&b, "#general").last().unwrap(),
        "after cy left: the narwhal plan"
    );
    let out = weft(&c, &["sync"]);
    assert_eq!(out.status.code(), Some(5), "the relay refuses Cy: {out:?}");
    let cy = texts(&c, "#general");
    assert!(!cy.iter().any(|t| t.contains("narwhal")), "{cy:?}");
    assert!(cy.iter().any(|t| t.contains("porcupine")), "{cy:?}");
    // Even holding the relay's stored entries, Cy's device cannot open those written after
    // its removal, while Bob's can open every one.
    drop(relay);
    let blobs = stored_blobs(&tmp.path().join("relay"));
    assert!(blobs.len() > 5, "{}", blobs.len());
    let mut bob = weft_core::Engine::open(&b).unwrap();
    bob.unlock(crate::util::PASSPHRASE, false).unwrap();
    let mut cy = weft_core::Engine::open(&c).unwrap();
    cy.unlock(crate::util::PASSPHRASE, false).unwrap();
    let (mut cy_can, mut bob_can) = (Vec::new(), 0);
    for blob in &blobs {
        // Key envelopes and invite boxes are sealed to devices and invites, not to members.
        let is_data =
            blob_doc(blob).is_some_and(|d| !d.starts_with("keys:") && !d.starts_with("invite:"));
        if !is_data {
            continue;
        }
        // Bob is a member throughout, so every data envelope must open for him.
        if bob.can_open(blob).unwrap() {
            bob_can += 1;
        }
        cy_can.push(cy.can_open(blob).unwrap());
    }
    assert_eq!(bob_can, cy_can.len(), "Bob opens every data envelope");
    // Cy opens a prefix of the log (before the removal) and nothing after it.
    let first_closed = cy_can
        .iter()
        .position(|c| !c)
        .expect("Cy cannot open the newest");
    assert!(
        cy_can[first_closed..].iter().all(|c| !c),
        "Cy opens nothing after its removal: {cy_can:?}"
    );
    assert!(first_closed > 5, "Cy opened what it had before: {cy_can:?}");

    // The relay's files hold none of the text anyone wrote.
    let mut bytes = Vec::new();
    let mut dirs = vec![tmp.path().join("relay")];
    while let Some(d) = dirs.pop() {
        for f in std::fs::read_dir(d).unwrap() {
            let p = f.unwrap().path();
            if p.is_dir() {
                dirs.push(p);
            } else {
                bytes.extend(std::fs::read(p).unwrap());
            }
        }
    }
    assert!(bytes.len() > 10_000);
    for secret in [
        "zanzibar",
        "quokka",
        "Marrakesh",
        "tandem",
        "marmalade",
        "porcupine",
        "narwhal",
        "Acme",
        "Roadmap",
    ] {
        assert!(
            !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "the relay's files contain {secret:?}"
        );
    }
}

/// Every blob of the busiest log (the workspace's), read straight from the relay's database.
fn stored_blobs(dir: &Path) -> Vec<Vec<u8>> {
    let db = rusqlite::Connection::open(dir.join("relay.db")).unwrap();
    let ws: Vec<u8> = db
        .query_row(
            "SELECT workspace FROM log GROUP BY workspace ORDER BY COUNT(*) DESC LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let mut st = db
        .prepare("SELECT data FROM log WHERE workspace = ?1 ORDER BY seq")
        .unwrap();
    st.query_map([ws], |r| r.get::<_, Vec<u8>>(0))
        .unwrap()
        .map(|b| b.unwrap())
        .collect()
}

/// The document id an envelope names (it is associated data, in the clear by design).
fn blob_doc(b: &[u8]) -> Option<String> {
    let len = u16::from_le_bytes(b.get(17..19)?.try_into().ok()?) as usize;
    String::from_utf8(b.get(19..19 + len)?.to_vec()).ok()
}
