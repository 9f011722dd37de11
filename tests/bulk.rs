//! Large remote batches: a catch-up's changes are applied in steps on two threads (documents on
//! one, the store on the other), in one transaction. What lands must be exactly what small
//! batches land, and a bad change anywhere must leave nothing behind.

use weft_core::{Engine, SendOptions};
use weft_domain::{Id, Timestamp};
use weft_sync::{DocId, DocKind};
use weft_test_support::{Replica, T0, clock};

/// A history large enough to go through the two-thread path: 1,300 messages in bulk, and in
/// the same channel replies, a broadcast reply, reactions, edits and a delete (entities a
/// step cannot rebuild from its own operations, so they are read back from the document).
fn history() -> (Replica, Id) {
    let c = clock();
    let mut a = Replica::new("ana", &c);
    let ws = a.engine.create_workspace("Team", "").unwrap().id.unwrap();
    let ch = a.engine.find_channel(ws, "general").unwrap();
    let texts: Vec<(Timestamp, String)> = (0..1300)
        .map(|i| {
            (
                Timestamp(T0.0 - 2_000_000 + i * 1000),
                format!("deploy note {i}"),
            )
        })
        .collect();
    a.engine.send_batch(ch, &texts).unwrap();
    let root = a
        .engine
        .send(ch, "release plan", SendOptions::default())
        .unwrap();
    let root_id = root.id.unwrap();
    for (i, broadcast) in [(0, false), (1, true)] {
        a.engine
            .send(
                ch,
                &format!("reply {i}"),
                SendOptions {
                    parent: Some(root_id),
                    broadcast,
                    ..SendOptions::default()
                },
            )
            .unwrap();
    }
    a.engine.react(root_id, "👍").unwrap();
    a.engine.edit_message(root_id, "release plan v2").unwrap();
    let doomed = a.engine.send(ch, "typo", SendOptions::default()).unwrap();
    a.engine.delete_message(doomed.id.unwrap()).unwrap();
    (a, ch)
}

/// Every document's changes, workspace documents first.
fn all_changes(e: &mut Engine) -> Vec<(DocId, Vec<Vec<u8>>)> {
    let mut docs: Vec<DocId> = e.doc_ids().unwrap();
    docs.sort_by_key(|d| (d.kind(), d.to_string()));
    docs.into_iter()
        .filter(|d| d.kind() != DocKind::Personal)
        .map(|d| {
            let c = e.changes_since(&d, &[]).unwrap();
            (d, c)
        })
        .collect()
}

#[test]
fn a_large_batch_lands_what_small_batches_land() {
    let (mut a, ch) = history();
    let docs = all_changes(&mut a.engine);
    let biggest = docs.iter().map(|(_, c)| c.len()).max().unwrap();
    assert!(
        biggest >= 2 * weft_core::PIPELINE_MIN,
        "the history must take the two-thread path ({biggest} changes)"
    );

    let mut whole = Replica::device_of(&a, &a.clock);
    for (id, changes) in &docs {
        whole.engine.apply_remote(id, changes.clone()).unwrap();
    }
    let mut small = Replica::device_of(&a, &a.clock);
    for (id, changes) in &docs {
        for chunk in changes.chunks(7) {
            small.engine.apply_remote(id, chunk.to_vec()).unwrap();
        }
    }
    let want = a.engine.store().dump_shared_read_model().unwrap();
    assert_eq!(whole.engine.store().dump_shared_read_model().unwrap(), want);
    assert_eq!(small.engine.store().dump_shared_read_model().unwrap(), want);

    let page = whole.engine.messages(ch, None, 3).unwrap();
    let texts: Vec<&str> = page.iter().map(|m| m.message.text.as_str()).collect();
    assert!(texts.contains(&"reply 1"), "{texts:?}");
    let root = whole
        .engine
        .messages(ch, None, 10)
        .unwrap()
        .into_iter()
        .find(|m| m.message.text == "release plan v2")
        .expect("the edited root");
    assert_eq!(root.reply_count, 2);
    assert_eq!(root.message.edits.len(), 1);
    assert_eq!(root.message.reactions.len(), 1);
    assert_eq!(whole.engine.store().chat_history_size().unwrap().1, 1304);

    // The documents match too, and the device goes on editing them.
    for (id, _) in &docs {
        assert_eq!(
            whole.engine.doc_state(id).unwrap(),
            a.engine.doc_state(id).unwrap(),
            "{id}"
        );
    }
    whole
        .engine
        .send(ch, "caught up", SendOptions::default())
        .unwrap();
}

#[test]
fn a_bad_change_deep_in_a_large_batch_leaves_nothing_behind() {
    let (mut a, ch) = history();
    let docs = all_changes(&mut a.engine);
    let mut b = Replica::device_of(&a, &a.clock);
    let (channel_doc, mut changes) = docs
        .iter()
        .find(|(d, _)| d.kind() == DocKind::Channel)
        .cloned()
        .unwrap();
    for (id, c) in docs.iter().filter(|(d, _)| d.kind() != DocKind::Channel) {
        b.engine.apply_remote(id, c.clone()).unwrap();
    }
    // Far enough in that earlier steps have reached the store's side of the transaction.
    let at = 3 * weft_core::APPLY_STEP + 10;
    let good = changes[at].clone();
    let mid = changes[at].len() / 2;
    changes[at][mid] ^= 0x5a;
    let err = b
        .engine
        .apply_remote(&channel_doc, changes.clone())
        .unwrap_err();
    assert!(
        err.to_string().contains("corrupt") || err.to_string().contains("checksum"),
        "{err}"
    );
    assert!(b.engine.messages(ch, None, 5).unwrap().is_empty());
    assert_eq!(b.engine.store().chat_history_size().unwrap().1, 0);
    // At most the empty document registered to receive them.
    if let Some((_, state)) = b.engine.doc_state(&channel_doc).unwrap() {
        assert_eq!(state["messages"], serde_json::json!({}));
    }
    b.engine.store().integrity_check().unwrap();

    // Nothing half-applied lingers in memory: the good batch then lands whole.
    changes[at] = good;
    b.engine.apply_remote(&channel_doc, changes).unwrap();
    for (id, c) in docs
        .iter()
        .filter(|(d, _)| d.kind() == DocKind::Channel && *d != channel_doc)
    {
        b.engine.apply_remote(id, c.clone()).unwrap();
    }
    assert_eq!(b.engine.store().chat_history_size().unwrap().1, 1304);
    assert_eq!(
        b.engine.store().dump_shared_read_model().unwrap(),
        a.engine.store().dump_shared_read_model().unwrap()
    );
}
