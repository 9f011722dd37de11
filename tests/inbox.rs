//! What reaches a person's inbox, under their rules.

use weft_core::{NewTask, SendOptions, TaskPatch};
use weft_domain::{NotificationLevel, Role};
use weft_test_support::{Replica, clock, exchange};

fn pair() -> (Replica, Replica, weft_domain::Id, weft_domain::Id) {
    let c = clock();
    let mut a = Replica::new("ada", &c);
    let mut b = Replica::new("bob", &c);
    let ws = a.engine.create_workspace("Acme", "").unwrap().id.unwrap();
    a.engine.add_member(ws, b.user(), Role::Member).unwrap();
    exchange(&mut a, &mut b);
    let general = a.engine.find_channel(ws, "general").unwrap();
    (a, b, ws, general)
}

fn kinds(r: &Replica) -> Vec<String> {
    let mut v: Vec<String> = r
        .engine
        .inbox(true, 100)
        .unwrap()
        .into_iter()
        .map(|i| i.kind)
        .collect();
    v.sort();
    v
}

#[test]
fn mentions_dms_and_keywords_notify_plain_chatter_does_not() {
    let (mut a, mut b, ws, general) = pair();
    b.engine
        .update_prefs(|p| p.keywords = vec!["outage".into()])
        .unwrap();
    b.engine
        .mark_inbox_read(
            &b.engine
                .inbox(true, 100)
                .unwrap()
                .into_iter()
                .map(|i| i.key)
                .collect::<Vec<_>>(),
        )
        .unwrap();
    a.engine
        .send(general, "lunch anyone?", SendOptions::default())
        .unwrap();
    a.engine
        .send(general, "@bob can you look?", SendOptions::default())
        .unwrap();
    a.engine
        .send(
            general,
            "we have an OUTAGE in eu-west",
            SendOptions::default(),
        )
        .unwrap();
    let dm = a.engine.open_dm(ws, &[b.user()]).unwrap().id.unwrap();
    a.engine.send(dm, "psst", SendOptions::default()).unwrap();
    exchange(&mut a, &mut b);
    assert_eq!(kinds(&b), vec!["dm", "keyword", "mention"]);
    // Mentions and DMs show as counts on their channels.
    let chans = b.engine.channels(ws).unwrap();
    let g = chans
        .iter()
        .find(|c| c.channel.id == Some(general))
        .unwrap();
    assert_eq!((g.unread, g.mentions), (3, 1));
    // Reading the channel clears them, on every device of Bob's.
    b.engine.mark_read(general, None).unwrap();
    let g = b
        .engine
        .channels(ws)
        .unwrap()
        .into_iter()
        .find(|c| c.channel.id == Some(general))
        .unwrap();
    assert_eq!((g.unread, g.mentions), (0, 0));
    assert_eq!(kinds(&b), vec!["dm"]);
}

#[test]
fn a_channel_set_to_nothing_or_muted_stays_quiet() {
    let (mut a, mut b, _, general) = pair();
    b.engine
        .set_channel_level(general, NotificationLevel::Nothing)
        .unwrap();
    a.engine
        .send(general, "@bob ping", SendOptions::default())
        .unwrap();
    exchange(&mut a, &mut b);
    assert!(!kinds(&b).contains(&"mention".to_string()));
    b.engine
        .set_channel_level(general, NotificationLevel::All)
        .unwrap();
    b.engine.mute_channel(general, true).unwrap();
    a.engine
        .send(general, "@bob ping again", SendOptions::default())
        .unwrap();
    exchange(&mut a, &mut b);
    assert!(!kinds(&b).contains(&"mention".to_string()));
}

#[test]
fn replies_in_a_thread_i_follow_notify() {
    let (mut a, mut b, _, general) = pair();
    let root = b
        .engine
        .send(general, "proposal: move standup", SendOptions::default())
        .unwrap()
        .id
        .unwrap();
    exchange(&mut a, &mut b);
    a.engine
        .send(
            general,
            "+1",
            SendOptions {
                parent: Some(root),
                ..SendOptions::default()
            },
        )
        .unwrap();
    exchange(&mut a, &mut b);
    assert!(kinds(&b).contains(&"thread_reply".to_string()));
}

#[test]
fn focus_holds_notifications_and_summarises_them_afterwards() {
    let (mut a, mut b, _, general) = pair();
    b.engine
        .focus_start(weft_domain::FocusKind::DeepWork, Some(60), None)
        .unwrap();
    a.engine
        .send(general, "@bob quick question", SendOptions::default())
        .unwrap();
    exchange(&mut a, &mut b);
    // Ada sees that Bob is focusing.
    let bob = a
        .engine
        .members(a.engine.workspace_ids().unwrap()[0])
        .unwrap()
        .into_iter()
        .find(|m| m.user == b.user().to_string())
        .unwrap();
    assert!(
        bob.profile.unwrap().focus_until.is_some(),
        "focus shown to the team"
    );
    let held = b.engine.held_summary().unwrap();
    assert_eq!(held, vec![("mention".to_string(), 1)]);
    let end = b.engine.focus_stop(true).unwrap();
    assert_eq!(end.held, vec![("mention".to_string(), 1)]);
    assert!(b.engine.held_summary().unwrap().is_empty());
    assert!(
        b.engine
            .inbox(true, 10)
            .unwrap()
            .iter()
            .any(|i| i.kind == "mention" && !i.held)
    );
}

#[test]
fn do_not_disturb_holds_until_the_window_ends() {
    let (mut a, mut b, _, general) = pair();
    // T0 is 09:00 UTC: quiet from 08:00 to 10:00.
    b.engine
        .update_prefs(|p| {
            p.dnd = weft_domain::DndSchedule {
                enabled: true,
                start_minute: 8 * 60,
                end_minute: 10 * 60,
                timezone: "UTC".into(),
            }
        })
        .unwrap();
    a.engine
        .send(general, "@bob are you there?", SendOptions::default())
        .unwrap();
    exchange(&mut a, &mut b);
    assert_eq!(b.engine.held_summary().unwrap().len(), 1);
    b.clock.advance_ms(61 * 60_000);
    let r = b.engine.tick().unwrap();
    assert_eq!(r.released, vec![("mention".to_string(), 1)]);
}

#[test]
fn task_assignment_and_comments_notify_the_assignee() {
    let (mut a, mut b, ws, _) = pair();
    let board = a.engine.create_board(ws, "Ops", "").unwrap().id.unwrap();
    let t = a
        .engine
        .create_task(
            board,
            NewTask {
                title: "Rotate keys".into(),
                ..NewTask::default()
            },
        )
        .unwrap()
        .id
        .unwrap();
    a.engine
        .edit_task(
            t,
            TaskPatch {
                assignee: Some(Some(b.user())),
                ..TaskPatch::default()
            },
        )
        .unwrap();
    a.engine.comment_task(t, "please do it this week").unwrap();
    exchange(&mut a, &mut b);
    let k = kinds(&b);
    assert!(k.contains(&"task_assigned".to_string()), "{k:?}");
    assert!(k.contains(&"task_commented".to_string()), "{k:?}");
    assert_eq!(b.engine.my_tasks().unwrap().len(), 1);
}

#[test]
fn a_call_started_by_someone_else_rings_those_invited_once() {
    let (mut a, mut b, _ws, general) = pair();
    // Those in the channel are invited (and rung); the rest of the workspace sees the call
    // going on when they open the channel.
    b.engine.join_channel(general, None).unwrap();
    exchange(&mut a, &mut b);
    let before = kinds(&b).len();
    let m = a.engine.start_call(general).unwrap();
    exchange(&mut a, &mut b);
    let items = b.engine.inbox(true, 100).unwrap();
    let ring: Vec<_> = items
        .iter()
        .filter(|i| i.kind == "meeting_starting")
        .collect();
    assert_eq!(ring.len(), 1, "{items:?}");
    assert!(ring[0].body.contains("#general"), "{:?}", ring[0]);
    assert!(ring[0].body.contains(&m.link), "{:?}", ring[0]);
    assert_eq!(kinds(&b).len(), before + 1);
    // Joining and leaving are edits to the same meeting: no second ring.
    let id = m.id.unwrap();
    b.engine.join_meeting(id).unwrap();
    exchange(&mut a, &mut b);
    a.engine.leave_meeting(id).unwrap();
    exchange(&mut a, &mut b);
    assert_eq!(kinds(&b).len(), before + 1);
    // The caller's own inbox stays quiet.
    assert!(!kinds(&a).contains(&"meeting_starting".to_string()));
}
