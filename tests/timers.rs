//! Timers fire with no network, on time while running, and once after a restart.

use weft_core::{NewEvent, NewTask, SendOptions};
use weft_domain::{EventType, NotificationKind, Role, time::MINUTE_MS};
use weft_test_support::{Replica, T0, clock, exchange};

#[test]
fn a_scheduled_message_is_sent_on_time_and_once_across_restarts() {
    let c = clock();
    let mut a = Replica::new("ada", &c);
    let ws = a.engine.create_workspace("Acme", "").unwrap().id.unwrap();
    let general = a.engine.find_channel(ws, "general").unwrap();
    a.engine
        .schedule_message(general, "good morning", T0.plus_minutes(60), None)
        .unwrap();
    // Not yet.
    c.advance_ms(59 * MINUTE_MS);
    assert!(a.engine.tick().unwrap().messages_sent.is_empty());
    assert!(a.engine.messages(general, None, 10).unwrap().is_empty());
    // The app is closed over the due time and reopened later: it fires once.
    a.restart();
    c.advance_ms(5 * MINUTE_MS);
    a.restart();
    assert_eq!(a.engine.tick().unwrap().messages_sent.len(), 1);
    assert_eq!(a.engine.tick().unwrap().messages_sent.len(), 0);
    a.restart();
    assert_eq!(a.engine.tick().unwrap().messages_sent.len(), 0);
    let texts: Vec<String> = a
        .engine
        .messages(general, None, 10)
        .unwrap()
        .into_iter()
        .map(|m| m.message.text)
        .collect();
    assert_eq!(texts, vec!["good morning"]);
    assert!(a.engine.scheduled().unwrap().is_empty());
}

#[test]
fn a_schedule_fired_on_two_devices_sends_one_message() {
    // The same person's two devices both fire the schedule offline; the message id is the
    // schedule's, so merging gives one message.
    let c = clock();
    let mut a = Replica::new("ada", &c);
    let mut b = Replica::new("bob", &c);
    let ws = a.engine.create_workspace("Acme", "").unwrap().id.unwrap();
    a.engine.add_member(ws, b.user(), Role::Member).unwrap();
    let general = a.engine.find_channel(ws, "general").unwrap();
    let id = a
        .engine
        .schedule_message(general, "standup notes", T0.plus_minutes(5), None)
        .unwrap();
    c.advance_ms(10 * MINUTE_MS);
    a.engine.tick().unwrap();
    // A second firing with the same id (as another device of Ada's would) is a no-op.
    a.engine
        .send(
            general,
            "standup notes",
            SendOptions {
                id: Some(id),
                ..SendOptions::default()
            },
        )
        .unwrap();
    exchange(&mut a, &mut b);
    assert_eq!(b.engine.messages(general, None, 10).unwrap().len(), 1);
}

#[test]
fn event_reminders_and_meetings_starting_fire_once() {
    let c = clock();
    let mut a = Replica::new("ada", &c);
    let ws = a.engine.create_workspace("Acme", "").unwrap().id.unwrap();
    let start = T0.plus_minutes(30);
    a.engine
        .create_event(
            ws,
            NewEvent {
                title: "Design review".into(),
                start,
                end: start.plus_minutes(60),
                kind: EventType::Meeting,
                reminders: vec![10],
                ..NewEvent::default()
            },
        )
        .unwrap();
    c.advance_ms(19 * MINUTE_MS);
    assert!(
        a.engine.tick().unwrap().notified.is_empty(),
        "11 minutes before: nothing yet"
    );
    c.advance_ms(MINUTE_MS);
    let r = a.engine.tick().unwrap();
    assert_eq!(r.notified.len(), 1, "{r:?}");
    a.restart();
    assert!(a.engine.tick().unwrap().notified.is_empty(), "never twice");
    c.advance_ms(10 * MINUTE_MS);
    let r = a.engine.tick().unwrap();
    assert_eq!(r.notified.len(), 1, "meeting starting: {r:?}");
    let kinds: Vec<String> = a
        .engine
        .inbox(false, 10)
        .unwrap()
        .into_iter()
        .map(|i| i.kind)
        .collect();
    assert_eq!(
        kinds,
        vec![
            NotificationKind::MeetingStarting.as_str(),
            NotificationKind::EventReminder.as_str()
        ]
    );
}

#[test]
fn recurring_event_reminders_fire_for_each_occurrence() {
    let c = clock();
    let mut a = Replica::new("ada", &c);
    let ws = a.engine.create_workspace("Acme", "").unwrap().id.unwrap();
    let rule = weft_domain::recurrence::parse_rrule("FREQ=DAILY;COUNT=3", chrono_tz::UTC).unwrap();
    let start = T0.plus_minutes(60);
    a.engine
        .create_event(
            ws,
            NewEvent {
                title: "Daily".into(),
                start,
                end: start.plus_minutes(15),
                recurrence: Some(rule),
                reminders: vec![5],
                ..NewEvent::default()
            },
        )
        .unwrap();
    let mut fired = 0;
    for _ in 0..(4 * 24 * 12) {
        c.advance_ms(5 * MINUTE_MS);
        fired += a.engine.tick().unwrap().notified.len();
    }
    assert_eq!(fired, 3);
}

#[test]
fn tasks_due_soon_and_message_reminders_notify() {
    let c = clock();
    let mut a = Replica::new("ada", &c);
    let me = a.user();
    let ws = a.engine.create_workspace("Acme", "").unwrap().id.unwrap();
    let board = a.engine.create_board(ws, "B", "").unwrap().id.unwrap();
    a.engine
        .create_task(
            board,
            NewTask {
                title: "File taxes".into(),
                assignee: Some(me),
                due: Some(T0.plus_minutes(36 * 60)),
                ..NewTask::default()
            },
        )
        .unwrap();
    let general = a.engine.find_channel(ws, "general").unwrap();
    let m = a
        .engine
        .send(general, "read the RFC", SendOptions::default())
        .unwrap()
        .id
        .unwrap();
    a.engine.remind_message(m, T0.plus_minutes(90)).unwrap();
    assert!(a.engine.tick().unwrap().notified.is_empty());
    c.advance_ms(120 * MINUTE_MS);
    let r = a.engine.tick().unwrap();
    assert_eq!(r.notified.len(), 1, "the reminder: {r:?}");
    c.advance_ms(12 * 60 * MINUTE_MS);
    let r = a.engine.tick().unwrap();
    assert_eq!(r.notified.len(), 1, "due within a day: {r:?}");
    assert!(a.engine.tick().unwrap().notified.is_empty());
}

#[test]
fn a_focus_session_completes_when_its_time_is_up() {
    let c = clock();
    let mut a = Replica::new("ada", &c);
    a.engine.create_workspace("Acme", "").unwrap();
    let f = a
        .engine
        .focus_start(weft_domain::FocusKind::Pomodoro, None, None)
        .unwrap();
    c.advance_ms(10 * MINUTE_MS);
    a.engine.focus_pause().unwrap();
    c.advance_ms(30 * MINUTE_MS);
    a.engine.focus_resume().unwrap();
    a.engine.focus_interrupt(Some("phone call")).unwrap();
    c.advance_ms(14 * MINUTE_MS);
    assert!(a.engine.tick().unwrap().focus_completed.is_none());
    c.advance_ms(2 * MINUTE_MS);
    assert_eq!(a.engine.tick().unwrap().focus_completed, f.id);
    let s = a.engine.focus_stats(T0.day(), T0.day()).unwrap();
    assert_eq!(
        (s.minutes, s.sessions, s.completed, s.interruptions),
        (25, 1, 1, 1)
    );
}
