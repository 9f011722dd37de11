//! The merge rules a person would notice when two people worked offline on the same things.

use weft_core::{NewTask, SendOptions, TaskFilter, TaskPatch};
use weft_domain::{Id, Priority, Role};
use weft_test_support::{Replica, clock, exchange};

/// Ada's workspace with Bob as a member, a board, and both replicas in sync.
fn team() -> (Replica, Replica, Id, Id) {
    let c = clock();
    let mut a = Replica::new("ada", &c);
    let mut b = Replica::new("bob", &c);
    let ws = a.engine.create_workspace("Acme", "").unwrap().id.unwrap();
    a.engine.add_member(ws, b.user(), Role::Member).unwrap();
    let board = a
        .engine
        .create_board(ws, "Roadmap", "")
        .unwrap()
        .id
        .unwrap();
    exchange(&mut a, &mut b);
    (a, b, ws, board)
}

fn columns(r: &Replica, board: Id) -> Vec<Id> {
    r.engine
        .columns(board)
        .unwrap()
        .into_iter()
        .map(|c| c.id.unwrap())
        .collect()
}

/// Board as (column name, task titles in order).
fn layout(r: &Replica, board: Id) -> Vec<(String, Vec<String>)> {
    r.engine
        .board_view(board)
        .unwrap()
        .into_iter()
        .map(|c| {
            (
                c.column.name,
                c.tasks
                    .into_iter()
                    .filter(|t| t.deleted_at.is_none())
                    .map(|t| t.title)
                    .collect(),
            )
        })
        .collect()
}

#[test]
fn a_card_moved_to_two_columns_offline_ends_in_exactly_one() {
    let (mut a, mut b, _, board) = team();
    let t = a
        .engine
        .create_task(
            board,
            NewTask {
                title: "Card".into(),
                ..NewTask::default()
            },
        )
        .unwrap()
        .id
        .unwrap();
    exchange(&mut a, &mut b);
    let cols = columns(&a, board);
    a.engine.move_task(t, cols[1], None).unwrap();
    b.engine.move_task(t, cols[2], None).unwrap();
    exchange(&mut a, &mut b);
    let la = layout(&a, board);
    assert_eq!(la, layout(&b, board));
    let places: usize = la
        .iter()
        .map(|(_, ts)| ts.iter().filter(|x| *x == "Card").count())
        .sum();
    assert_eq!(places, 1, "{la:?}");
    assert!(
        la[0].1.is_empty(),
        "the card left its first column on both sides: {la:?}"
    );
}

#[test]
fn concurrent_reorders_lose_and_duplicate_nothing() {
    let (mut a, mut b, _, board) = team();
    let todo = columns(&a, board)[0];
    for i in 0..6 {
        a.engine
            .create_task(
                board,
                NewTask {
                    title: format!("t{i}"),
                    ..NewTask::default()
                },
            )
            .unwrap();
    }
    exchange(&mut a, &mut b);
    let ids: Vec<Id> = a
        .engine
        .tasks(&TaskFilter {
            board: Some(board.to_string()),
            ..TaskFilter::default()
        })
        .unwrap()
        .into_iter()
        .map(|t| t.id.unwrap())
        .collect();
    // Both put a different card on top, and both insert new cards at the same spot.
    a.engine.move_task(ids[4], todo, Some(0)).unwrap();
    b.engine.move_task(ids[5], todo, Some(0)).unwrap();
    a.engine.move_task(ids[1], todo, Some(3)).unwrap();
    b.engine.move_task(ids[2], todo, Some(3)).unwrap();
    exchange(&mut a, &mut b);
    let la = layout(&a, board);
    assert_eq!(la, layout(&b, board), "both replicas show the same order");
    let mut titles = la[0].1.clone();
    titles.sort();
    assert_eq!(titles, vec!["t0", "t1", "t2", "t3", "t4", "t5"]);
}

#[test]
fn concurrent_edits_of_different_task_fields_both_survive() {
    let (mut a, mut b, _, board) = team();
    let t = a
        .engine
        .create_task(
            board,
            NewTask {
                title: "Draft".into(),
                ..NewTask::default()
            },
        )
        .unwrap()
        .id
        .unwrap();
    exchange(&mut a, &mut b);
    a.engine
        .edit_task(
            t,
            TaskPatch {
                title: Some("Final".into()),
                ..TaskPatch::default()
            },
        )
        .unwrap();
    b.engine
        .edit_task(
            t,
            TaskPatch {
                priority: Some(Some(Priority::Urgent)),
                ..TaskPatch::default()
            },
        )
        .unwrap();
    exchange(&mut a, &mut b);
    for r in [&a, &b] {
        let task = r.engine.task(t).unwrap();
        assert_eq!(
            (task.title.as_str(), task.priority),
            ("Final", Some(Priority::Urgent))
        );
        // Both edits are in the activity history.
        assert!(
            task.activity
                .iter()
                .any(|x| x.what.contains("edited title"))
        );
        assert!(
            task.activity
                .iter()
                .any(|x| x.what.contains("priority urgent"))
        );
    }
}

#[test]
fn an_edit_racing_a_delete_stays_deleted() {
    let (mut a, mut b, ws, board) = team();
    let general = a.engine.find_channel(ws, "general").unwrap();
    let m = a
        .engine
        .send(general, "draft", SendOptions::default())
        .unwrap()
        .id
        .unwrap();
    let t = a
        .engine
        .create_task(
            board,
            NewTask {
                title: "Doomed".into(),
                ..NewTask::default()
            },
        )
        .unwrap()
        .id
        .unwrap();
    exchange(&mut a, &mut b);
    // Ada edits her message and the task; Bob (an admin would, here the author) deletes.
    a.engine.edit_message(m, "final words").unwrap();
    b.engine.delete_task(t).unwrap();
    a.engine
        .edit_task(
            t,
            TaskPatch {
                title: Some("Saved?".into()),
                ..TaskPatch::default()
            },
        )
        .unwrap();
    a.engine.delete_message(m).unwrap();
    exchange(&mut a, &mut b);
    for r in [&a, &b] {
        let msg = r.engine.message(m).unwrap();
        assert!(msg.is_deleted());
        assert_eq!(msg.text, "", "a deleted message shows no text");
        assert!(
            r.engine
                .search(ws, "final", false, 10)
                .unwrap()
                .messages
                .is_empty(),
            "deleted text is not searchable"
        );
        assert!(
            r.engine.task(t).unwrap().deleted_at.is_some(),
            "the delete wins over the edit"
        );
        assert!(
            r.engine
                .tasks(&TaskFilter {
                    board: Some(board.to_string()),
                    include_done: true,
                    ..TaskFilter::default()
                })
                .unwrap()
                .is_empty()
        );
    }
}

#[test]
fn reactions_from_two_people_both_count() {
    let (mut a, mut b, ws, _) = team();
    let general = a.engine.find_channel(ws, "general").unwrap();
    let m = a
        .engine
        .send(general, "ship it?", SendOptions::default())
        .unwrap()
        .id
        .unwrap();
    exchange(&mut a, &mut b);
    assert!(a.engine.react(m, "👍").unwrap());
    assert!(b.engine.react(m, "👍").unwrap());
    exchange(&mut a, &mut b);
    for r in [&a, &b] {
        let counts = r.engine.message(m).unwrap().reaction_counts();
        assert_eq!(counts.len(), 1);
        assert_eq!((counts[0].0.as_str(), counts[0].1), ("👍", 2));
    }
    // Toggling takes one's own reaction back.
    assert!(!a.engine.react(m, "👍").unwrap());
    assert_eq!(a.engine.message(m).unwrap().reaction_counts()[0].1, 1);
}

#[test]
fn sending_twice_with_one_client_id_sends_once() {
    let (mut a, mut b, ws, _) = team();
    let general = a.engine.find_channel(ws, "general").unwrap();
    let id = a.engine.new_id();
    let opts = SendOptions {
        id: Some(id),
        ..SendOptions::default()
    };
    a.engine.send(general, "once", opts.clone()).unwrap();
    a.engine.send(general, "once", opts).unwrap();
    exchange(&mut a, &mut b);
    for r in [&a, &b] {
        let texts: Vec<String> = r
            .engine
            .messages(general, None, 50)
            .unwrap()
            .into_iter()
            .map(|m| m.message.text)
            .collect();
        assert_eq!(texts, vec!["once"]);
    }
}

#[test]
fn edits_keep_their_history() {
    let (mut a, _, ws, _) = team();
    let general = a.engine.find_channel(ws, "general").unwrap();
    let m = a
        .engine
        .send(general, "v1", SendOptions::default())
        .unwrap()
        .id
        .unwrap();
    a.engine.edit_message(m, "v2").unwrap();
    a.engine.edit_message(m, "v3").unwrap();
    let msg = a.engine.message(m).unwrap();
    assert_eq!(msg.text, "v3");
    assert_eq!(
        msg.edits
            .iter()
            .map(|e| e.text.as_str())
            .collect::<Vec<_>>(),
        vec!["v1", "v2"]
    );
    assert!(msg.edited_at.is_some());
}

#[test]
fn a_full_channel_segment_rolls_over_and_paging_still_works() {
    let (mut a, mut b, ws, _) = team();
    let mut s = a.engine.workspace(ws).unwrap().settings;
    s.segment_size = 10;
    a.engine.update_workspace_settings(ws, s).unwrap();
    let general = a.engine.find_channel(ws, "general").unwrap();
    let root = a
        .engine
        .send(general, "m0", SendOptions::default())
        .unwrap()
        .id
        .unwrap();
    for i in 1..35 {
        a.clock.advance_ms(1000);
        a.engine
            .send(general, &format!("m{i}"), SendOptions::default())
            .unwrap();
    }
    a.engine
        .send(
            general,
            "late reply",
            SendOptions {
                parent: Some(root),
                ..SendOptions::default()
            },
        )
        .unwrap();
    assert!(
        a.engine.channel(general).unwrap().1.segment >= 3,
        "segments rolled over"
    );
    exchange(&mut a, &mut b);
    for r in [&a, &b] {
        let first = r.engine.messages(general, None, 20).unwrap();
        let second = r
            .engine
            .messages(general, Some(first.last().unwrap().cursor), 20)
            .unwrap();
        let all: Vec<String> = first
            .iter()
            .chain(&second)
            .map(|m| m.message.text.clone())
            .collect();
        let want: Vec<String> = (0..35).rev().map(|i| format!("m{i}")).collect();
        assert_eq!(all, want);
        assert_eq!(
            second.last().unwrap().reply_count,
            1,
            "the reply in a later segment counts"
        );
    }
}
