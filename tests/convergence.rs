//! Property: 3 to 5 replicas doing random operations on every kind of document, exchanging
//! changes in random order, end with identical documents and identical read-model tables.

use proptest::prelude::*;
use weft_core::{NewEvent, NewTask, SendOptions, TaskFilter, TaskPatch};
use weft_domain::{
    ChannelKind, EventType, Frequency, Id, Priority, Recurrence, Role, Rsvp, Timestamp,
};
use weft_sync::DocKind;
use weft_test_support::{Replica, clock, send};

#[derive(Debug, Clone)]
enum Op {
    Send {
        r: usize,
        ch: usize,
        reply: Option<usize>,
    },
    EditMessage {
        r: usize,
        m: usize,
    },
    DeleteMessage {
        r: usize,
        m: usize,
    },
    React {
        r: usize,
        m: usize,
        emoji: usize,
    },
    Pin {
        r: usize,
        m: usize,
    },
    CreateChannel {
        r: usize,
    },
    Topic {
        r: usize,
        ch: usize,
    },
    CreateTask {
        r: usize,
    },
    MoveTask {
        r: usize,
        t: usize,
        col: usize,
        index: usize,
    },
    EditTask {
        r: usize,
        t: usize,
        what: usize,
    },
    DeleteTask {
        r: usize,
        t: usize,
    },
    Comment {
        r: usize,
        t: usize,
    },
    AddColumn {
        r: usize,
    },
    MoveColumn {
        r: usize,
        col: usize,
        index: usize,
    },
    CreateEvent {
        r: usize,
        recurring: bool,
    },
    EditEvent {
        r: usize,
        e: usize,
    },
    Rsvp {
        r: usize,
        e: usize,
    },
    Label {
        r: usize,
    },
    Call {
        r: usize,
    },
    Profile {
        r: usize,
    },
    MarkRead {
        r: usize,
        ch: usize,
    },
    Save {
        r: usize,
        m: usize,
    },
    Keywords {
        r: usize,
    },
    Theme {
        r: usize,
    },
    Focus {
        r: usize,
    },
    Schedule {
        r: usize,
        ch: usize,
    },
    Exchange {
        from: usize,
        to: usize,
    },
    Tick {
        ms: i64,
    },
}

fn op() -> impl Strategy<Value = Op> {
    // Replica indices, taken modulo the number of replicas (the last is user 0's second device).
    let r = 0usize..6;
    let i = 0usize..64;
    prop_oneof![
        4 => (r.clone(), i.clone(), proptest::option::of(i.clone())).prop_map(|(r, ch, reply)| Op::Send { r, ch, reply }),
        2 => (r.clone(), i.clone()).prop_map(|(r, m)| Op::EditMessage { r, m }),
        1 => (r.clone(), i.clone()).prop_map(|(r, m)| Op::DeleteMessage { r, m }),
        2 => (r.clone(), i.clone(), 0usize..3).prop_map(|(r, m, emoji)| Op::React { r, m, emoji }),
        1 => (r.clone(), i.clone()).prop_map(|(r, m)| Op::Pin { r, m }),
        1 => r.clone().prop_map(|r| Op::CreateChannel { r }),
        1 => (r.clone(), i.clone()).prop_map(|(r, ch)| Op::Topic { r, ch }),
        3 => r.clone().prop_map(|r| Op::CreateTask { r }),
        4 => (r.clone(), i.clone(), i.clone(), 0usize..6).prop_map(|(r, t, col, index)| Op::MoveTask { r, t, col, index }),
        2 => (r.clone(), i.clone(), 0usize..4).prop_map(|(r, t, what)| Op::EditTask { r, t, what }),
        1 => (r.clone(), i.clone()).prop_map(|(r, t)| Op::DeleteTask { r, t }),
        1 => (r.clone(), i.clone()).prop_map(|(r, t)| Op::Comment { r, t }),
        1 => r.clone().prop_map(|r| Op::AddColumn { r }),
        1 => (r.clone(), i.clone(), 0usize..5).prop_map(|(r, col, index)| Op::MoveColumn { r, col, index }),
        1 => (r.clone(), any::<bool>()).prop_map(|(r, recurring)| Op::CreateEvent { r, recurring }),
        1 => (r.clone(), i.clone()).prop_map(|(r, e)| Op::EditEvent { r, e }),
        1 => (r.clone(), i.clone()).prop_map(|(r, e)| Op::Rsvp { r, e }),
        1 => r.clone().prop_map(|r| Op::Label { r }),
        1 => r.clone().prop_map(|r| Op::Call { r }),
        1 => r.clone().prop_map(|r| Op::Profile { r }),
        2 => (r.clone(), i.clone()).prop_map(|(r, ch)| Op::MarkRead { r, ch }),
        1 => (r.clone(), i.clone()).prop_map(|(r, m)| Op::Save { r, m }),
        1 => r.clone().prop_map(|r| Op::Keywords { r }),
        1 => r.clone().prop_map(|r| Op::Theme { r }),
        1 => r.clone().prop_map(|r| Op::Focus { r }),
        1 => (r.clone(), i.clone()).prop_map(|(r, ch)| Op::Schedule { r, ch }),
        4 => (r.clone(), r).prop_map(|(from, to)| Op::Exchange { from, to }),
        2 => (1i64..3_600_000).prop_map(|ms| Op::Tick { ms }),
    ]
}

fn pick<T: Clone>(v: &[T], i: usize) -> Option<T> {
    if v.is_empty() {
        None
    } else {
        Some(v[i % v.len()].clone())
    }
}

struct World {
    rs: Vec<Replica>,
    ws: Id,
    board: Id,
}

impl World {
    fn new(n: usize) -> World {
        let c = clock();
        let mut rs: Vec<Replica> = (0..n)
            .map(|i| Replica::new(&format!("user{i}"), &c))
            .collect();
        let ws = rs[0]
            .engine
            .create_workspace("Team", "")
            .unwrap()
            .id
            .unwrap();
        let users: Vec<Id> = rs.iter().map(|r| r.user()).collect();
        for (i, u) in users.iter().enumerate().skip(1) {
            let role = if i == 1 { Role::Admin } else { Role::Member };
            rs[0].engine.add_member(ws, *u, role).unwrap();
        }
        let board = rs[0]
            .engine
            .create_board(ws, "Board", "")
            .unwrap()
            .id
            .unwrap();
        rs[0]
            .engine
            .update_settings(|s| s.theme = weft_domain::Theme::Dark)
            .unwrap();
        // User 0's second device: shares the personal document with replica 0.
        let second = Replica::device_of(&rs[0], &c);
        rs.push(second);
        let mut w = World { rs, ws, board };
        w.sync_all();
        w
    }

    fn exchange(&mut self, from: usize, to: usize) {
        if from == to {
            return;
        }
        let (a, b) = if from < to {
            let (l, r) = self.rs.split_at_mut(to);
            (&mut l[from], &mut r[0])
        } else {
            let (l, r) = self.rs.split_at_mut(from);
            (&mut r[0], &mut l[to])
        };
        send(a, b);
    }

    fn sync_all(&mut self) {
        let n = self.rs.len();
        for _ in 0..2 {
            for from in 0..n {
                for to in 0..n {
                    self.exchange(from, to);
                }
            }
        }
    }

    fn messages(&self, r: usize) -> Vec<Id> {
        let e = &self.rs[r].engine;
        let mut out = Vec::new();
        for c in e.channels(self.ws).unwrap_or_default() {
            if let Some(id) = c.channel.id {
                for m in e.messages(id, None, 200).unwrap_or_default() {
                    out.push(m.message.id.unwrap());
                }
            }
        }
        out
    }

    fn tasks(&self, r: usize) -> Vec<Id> {
        let f = TaskFilter {
            board: Some(self.board.to_string()),
            include_done: true,
            ..TaskFilter::default()
        };
        self.rs[r]
            .engine
            .tasks(&f)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|t| t.id)
            .collect()
    }

    fn events(&self, r: usize) -> Vec<Id> {
        let a = self.rs[r]
            .engine
            .agenda(self.ws, Timestamp(0), Timestamp(4_000_000_000_000));
        let mut v: Vec<Id> = a
            .map(|a| {
                a.occurrences
                    .into_iter()
                    .filter_map(|o| o.event.id)
                    .collect()
            })
            .unwrap_or_default();
        v.dedup();
        v
    }

    /// Runs one operation; refusals (an entity this replica does not know yet, a rule) are fine.
    fn apply(&mut self, op: &Op) {
        let n = self.rs.len();
        let (ws, board) = (self.ws, self.board);
        match *op {
            Op::Exchange { from, to } => return self.exchange(from % n, to % n),
            Op::Tick { ms } => return self.rs[0].clock.advance_ms(ms),
            _ => {}
        }
        let r = match *op {
            Op::Send { r, .. }
            | Op::EditMessage { r, .. }
            | Op::DeleteMessage { r, .. }
            | Op::React { r, .. }
            | Op::Pin { r, .. }
            | Op::CreateChannel { r }
            | Op::Topic { r, .. }
            | Op::CreateTask { r }
            | Op::MoveTask { r, .. }
            | Op::EditTask { r, .. }
            | Op::DeleteTask { r, .. }
            | Op::Comment { r, .. }
            | Op::AddColumn { r }
            | Op::MoveColumn { r, .. }
            | Op::CreateEvent { r, .. }
            | Op::EditEvent { r, .. }
            | Op::Rsvp { r, .. }
            | Op::Label { r }
            | Op::Call { r }
            | Op::Profile { r }
            | Op::MarkRead { r, .. }
            | Op::Save { r, .. }
            | Op::Keywords { r }
            | Op::Theme { r }
            | Op::Focus { r }
            | Op::Schedule { r, .. } => r % n,
            Op::Exchange { .. } | Op::Tick { .. } => 0,
        };
        let msgs = self.messages(r);
        let tasks = self.tasks(r);
        let events = self.events(r);
        let channels: Vec<Id> = self.rs[r]
            .engine
            .channels(ws)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|c| c.channel.id)
            .collect();
        let cols: Vec<Id> = self.rs[r]
            .engine
            .columns(board)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|c| c.id)
            .collect();
        let users: Vec<Id> = self.rs.iter().map(|x| x.user()).collect();
        let e = &mut self.rs[r].engine;
        let _ = match *op {
            Op::Send { ch, reply, .. } => pick(&channels, ch).map(|c| {
                let parent = reply.and_then(|i| pick(&msgs, i)).filter(|p| {
                    e.message(*p)
                        .is_ok_and(|m| m.channel == Some(c) && m.parent.is_none())
                });
                e.send(
                    c,
                    &format!("hello {} from {r}", msgs.len()),
                    SendOptions {
                        parent,
                        ..SendOptions::default()
                    },
                )
                .map(|_| ())
            }),
            Op::EditMessage { m, .. } => {
                pick(&msgs, m).map(|m| e.edit_message(m, &format!("edited by {r}")).map(|_| ()))
            }
            Op::DeleteMessage { m, .. } => pick(&msgs, m).map(|m| e.delete_message(m)),
            Op::React { m, emoji, .. } => {
                pick(&msgs, m).map(|m| e.react(m, ["👍", "🎉", "👀"][emoji]).map(|_| ()))
            }
            Op::Pin { m, .. } => pick(&msgs, m).map(|m| e.pin(m, true)),
            Op::CreateChannel { .. } => Some(
                e.create_channel(
                    ws,
                    &format!("c{r}-{}", channels.len()),
                    ChannelKind::Public,
                    "",
                )
                .map(|_| ()),
            ),
            Op::Topic { ch, .. } => {
                pick(&channels, ch).map(|c| e.set_topic(c, &format!("topic by {r}")))
            }
            Op::CreateTask { .. } => Some(
                e.create_task(
                    board,
                    NewTask {
                        title: format!("task {r}-{}", tasks.len()),
                        ..NewTask::default()
                    },
                )
                .map(|_| ()),
            ),
            Op::MoveTask { t, col, index, .. } => pick(&tasks, t)
                .zip(pick(&cols, col))
                .map(|(t, c)| e.move_task(t, c, Some(index)).map(|_| ())),
            Op::EditTask { t, what, .. } => pick(&tasks, t).map(|t| {
                let p = match what {
                    0 => TaskPatch {
                        title: Some(format!("renamed by {r}")),
                        ..TaskPatch::default()
                    },
                    1 => TaskPatch {
                        priority: Some(Some(Priority::ALL[r % 4])),
                        ..TaskPatch::default()
                    },
                    2 => TaskPatch {
                        assignee: Some(pick(&users, r)),
                        ..TaskPatch::default()
                    },
                    _ => TaskPatch {
                        due: Some(Some(Timestamp(weft_test_support::T0.0 + 86_400_000))),
                        ..TaskPatch::default()
                    },
                };
                e.edit_task(t, p).map(|_| ())
            }),
            Op::DeleteTask { t, .. } => pick(&tasks, t).map(|t| e.delete_task(t)),
            Op::Comment { t, .. } => {
                pick(&tasks, t).map(|t| e.comment_task(t, &format!("comment by {r}")).map(|_| ()))
            }
            Op::AddColumn { .. } => Some(
                e.add_column(board, &format!("col {r}"), Some(1), false)
                    .map(|_| ()),
            ),
            Op::MoveColumn { col, index, .. } => {
                pick(&cols, col).map(|c| e.move_column(board, c, index))
            }
            Op::CreateEvent { recurring, .. } => {
                let start = weft_test_support::T0;
                let n = NewEvent {
                    title: format!("event {r}"),
                    start,
                    end: start.plus_minutes(30),
                    timezone: "Europe/Berlin".into(),
                    kind: EventType::Meeting,
                    recurrence: recurring.then(|| Recurrence {
                        freq: Frequency::Weekly,
                        count: Some(5),
                        ..Recurrence::default()
                    }),
                    attendees: users.clone(),
                    reminders: vec![10],
                    ..NewEvent::default()
                };
                Some(e.create_event(ws, n).map(|_| ()))
            }
            Op::EditEvent { e: i, .. } => pick(&events, i).map(|id| {
                e.update_event(id, |ev| ev.location = format!("room {r}"))
                    .map(|_| ())
            }),
            Op::Rsvp { e: i, .. } => pick(&events, i).map(|id| {
                e.rsvp(
                    id,
                    if r % 2 == 0 {
                        Rsvp::Accepted
                    } else {
                        Rsvp::Declined
                    },
                )
            }),
            Op::Label { .. } => Some(e.create_label(ws, &format!("label {r}"), "red").map(|_| ())),
            Op::Call { .. } => pick(&channels, 0).map(|c| e.start_call(c).map(|_| ())),
            Op::Profile { .. } => Some(
                e.update_profile(|p| p.title = format!("title {r}"))
                    .map(|_| ()),
            ),
            Op::MarkRead { ch, .. } => pick(&channels, ch).map(|c| e.mark_read(c, None)),
            Op::Save { m, .. } => pick(&msgs, m).map(|m| e.save_message(m, r % 2 == 0)),
            Op::Keywords { .. } => Some(
                e.update_prefs(|p| p.keywords.push(format!("word{r}")))
                    .map(|_| ()),
            ),
            Op::Theme { .. } => Some(
                e.update_settings(|s| s.theme = weft_domain::Theme::ALL[r % 3])
                    .map(|_| ()),
            ),
            Op::Focus { .. } => Some(match e.focus_current() {
                Ok(Some(_)) => e.focus_stop(r % 2 == 0).map(|_| ()),
                _ => e
                    .focus_start(weft_domain::FocusKind::Pomodoro, None, None)
                    .map(|_| ()),
            }),
            Op::Schedule { ch, .. } => pick(&channels, ch).map(|c| {
                let at = Timestamp(weft_test_support::T0.0 + 400 * 86_400_000);
                e.schedule_message(c, "later", at, None).map(|_| ())
            }),
            Op::Exchange { .. } | Op::Tick { .. } => None,
        };
    }

    fn assert_converged(&mut self) {
        let n = self.rs.len();
        // User 0's two devices hold the same personal document and personal read model.
        let me0 = weft_sync::DocId::personal(self.rs[0].user());
        let p0 = self.rs[0].engine.doc_state(&me0).unwrap();
        assert!(p0.is_some(), "replica 0 has a personal document");
        assert_eq!(
            self.rs[n - 1].engine.doc_state(&me0).unwrap(),
            p0,
            "personal documents differ"
        );
        assert_eq!(
            self.rs[n - 1]
                .engine
                .store()
                .dump_personal_read_model()
                .unwrap(),
            self.rs[0]
                .engine
                .store()
                .dump_personal_read_model()
                .unwrap(),
            "personal read models differ"
        );
        let shared = |r: &Replica| -> Vec<weft_sync::DocId> {
            let mut v: Vec<_> = r
                .engine
                .doc_ids()
                .unwrap()
                .into_iter()
                .filter(|d| d.kind() != DocKind::Personal)
                .collect();
            v.sort();
            v
        };
        let ids = shared(&self.rs[0]);
        let dump0 = self.rs[0].engine.store().dump_shared_read_model().unwrap();
        let mut states0 = Vec::new();
        for d in &ids {
            states0.push(self.rs[0].engine.doc_state(d).unwrap().unwrap());
        }
        for i in 1..n {
            assert_eq!(
                shared(&self.rs[i]),
                ids,
                "replica {i} holds other documents"
            );
            for (d, s0) in ids.iter().zip(&states0) {
                let s = self.rs[i].engine.doc_state(d).unwrap().unwrap();
                assert_eq!(&s, s0, "document {d} differs on replica {i}");
            }
            let dump = self.rs[i].engine.store().dump_shared_read_model().unwrap();
            for (table, rows) in &dump0 {
                assert_eq!(
                    dump.get(table),
                    Some(rows),
                    "read model table {table} differs on replica {i}"
                );
            }
        }
        // The read model is what the documents say: a rebuild from scratch changes nothing.
        self.rs[0].engine.rebuild_read_model().unwrap();
        assert_eq!(
            self.rs[0].engine.store().dump_shared_read_model().unwrap(),
            dump0,
            "rebuild differs"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, max_shrink_iters: 64, ..ProptestConfig::default() })]

    #[test]
    fn replicas_converge_to_identical_documents_and_read_models(
        n in 3usize..=5,
        ops in proptest::collection::vec(op(), 20..70),
    ) {
        let mut w = World::new(n);
        for op in &ops {
            w.apply(op);
        }
        w.sync_all();
        w.assert_converged();
    }
}
