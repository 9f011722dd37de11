//! Engine features end to end on real SQLite files: search filters, the start-up heads check,
//! change subscriptions, analytics, files, integrations, calendar views and ICS.

use weft_core::{NewEvent, NewTask, SendOptions};
use weft_domain::{
    DomainError, EventType, IntegrationKind, Role, RunStatus, Timestamp,
    time::{DAY_MS, MINUTE_MS},
};
use weft_test_support::{Replica, T0, clock, exchange, team};

#[test]
fn search_filters_narrow_results_the_way_slack_does() {
    let c = clock();
    let mut a = Replica::new("ada", &c);
    let mut b = Replica::new("bob", &c);
    let ws = a.engine.create_workspace("Acme", "").unwrap().id.unwrap();
    a.engine.add_member(ws, b.user(), Role::Member).unwrap();
    let general = a.engine.find_channel(ws, "general").unwrap();
    let ops = a
        .engine
        .create_channel(ws, "ops", weft_domain::ChannelKind::Public, "")
        .unwrap()
        .id
        .unwrap();
    let secret = a
        .engine
        .create_channel(ws, "secret", weft_domain::ChannelKind::Private, "")
        .unwrap()
        .id
        .unwrap();
    exchange(&mut a, &mut b);
    a.engine
        .send(
            general,
            "deploying the billing service",
            SendOptions::default(),
        )
        .unwrap();
    c.advance_ms(DAY_MS);
    a.engine
        .send(
            ops,
            "billing deploy failed, see https://ci.example/42",
            SendOptions::default(),
        )
        .unwrap();
    let att = b
        .engine
        .stage_file(
            ws,
            "billing.pdf",
            "application/pdf",
            10,
            &mut &b"%PDF-1.7\n\n"[..],
        )
        .unwrap();
    // A minute later, so that "newest first" has one answer (messages in the same
    // millisecond are ordered by id, the same on every replica).
    c.advance_ms(MINUTE_MS);
    b.engine
        .send(
            general,
            "billing report attached",
            SendOptions {
                attachments: vec![att],
                ..SendOptions::default()
            },
        )
        .unwrap();
    a.engine
        .send(secret, "billing secrets", SendOptions::default())
        .unwrap();
    exchange(&mut a, &mut b);
    let texts = |r: &Replica, q: &str| -> Vec<String> {
        r.engine
            .search(ws, q, false, 50)
            .unwrap()
            .messages
            .into_iter()
            .map(|m| m.message.text)
            .collect()
    };
    assert_eq!(
        texts(&a, "billing").len(),
        4,
        "Ada sees her private channel"
    );
    assert_eq!(texts(&b, "billing").len(), 3, "Bob does not see #secret");
    assert_eq!(
        texts(&b, "bill in:#ops"),
        vec!["billing deploy failed, see https://ci.example/42"]
    );
    assert_eq!(
        texts(&b, "billing from:@bob"),
        vec!["billing report attached"]
    );
    assert_eq!(
        texts(&b, "billing has:file"),
        vec!["billing report attached"]
    );
    assert_eq!(
        texts(&b, "billing has:link"),
        vec!["billing deploy failed, see https://ci.example/42"]
    );
    let day1 = Timestamp(T0.0 + DAY_MS)
        .to_utc()
        .format("%Y-%m-%d")
        .to_string();
    assert_eq!(
        texts(&b, &format!("billing before:{day1}")),
        vec!["deploying the billing service"]
    );
    assert_eq!(
        texts(
            &b,
            &format!("billing after:{}", T0.to_utc().format("%Y-%m-%d"))
        )
        .len(),
        2
    );
    // Newest first; ranked puts the closest match first.
    assert_eq!(texts(&b, "billing")[0], "billing report attached");
    let ranked = b.engine.search(ws, "deploy", true, 50).unwrap().messages;
    assert_eq!(ranked.len(), 2);
    // Partial words match from the start of a word, as in Slack; short words work too.
    assert_eq!(texts(&b, "depl").len(), 2);
    assert!(
        texts(&b, "ploy").is_empty(),
        "word-start matching, not arbitrary substrings"
    );
    assert_eq!(
        texts(&b, "DEPLOYING"),
        vec!["deploying the billing service"],
        "case-insensitive"
    );
    assert_eq!(
        texts(&b, "42"),
        vec!["billing deploy failed, see https://ci.example/42"]
    );
    // Other kinds: tasks, channels, people.
    let board = a.engine.create_board(ws, "Ops", "").unwrap().id.unwrap();
    a.engine
        .create_task(
            board,
            NewTask {
                title: "Fix billing retries".into(),
                ..NewTask::default()
            },
        )
        .unwrap();
    let others = a.engine.search(ws, "billing is:task", false, 10).unwrap();
    assert!(others.messages.is_empty());
    assert_eq!(
        others
            .others
            .iter()
            .map(|h| h.title.as_str())
            .collect::<Vec<_>>(),
        vec!["Fix billing retries"]
    );
    assert!(
        a.engine
            .search(ws, "bob", false, 10)
            .unwrap()
            .others
            .iter()
            .any(|h| h.kind == "person")
    );
    assert!(
        a.engine
            .search(ws, "ops", false, 10)
            .unwrap()
            .others
            .iter()
            .any(|h| h.kind == "channel")
    );
    // A bad filter is a clear error.
    assert!(a.engine.search(ws, "has:unicorn", false, 10).is_err());
}

#[test]
fn start_up_rebuilds_a_read_model_that_lags_its_documents() {
    let c = clock();
    let mut a = Replica::new("ada", &c);
    let ws = a.engine.create_workspace("Acme", "").unwrap().id.unwrap();
    let general = a.engine.find_channel(ws, "general").unwrap();
    a.engine
        .send(general, "survives", SendOptions::default())
        .unwrap();
    // Simulate a read model that missed the change (as after a crash in older code).
    let conn = a.engine.store().raw_connection();
    conn.execute_batch(
        "DELETE FROM messages; UPDATE docs SET projected_heads = x'00' WHERE doc_id LIKE 'ch:%';",
    )
    .unwrap();
    assert!(a.engine.messages(general, None, 10).unwrap().is_empty());
    a.restart();
    let texts: Vec<String> = a
        .engine
        .messages(general, None, 10)
        .unwrap()
        .into_iter()
        .map(|m| m.message.text)
        .collect();
    assert_eq!(texts, vec!["survives"]);
}

#[test]
fn subscribers_hear_local_and_remote_changes() {
    let c = clock();
    let mut a = Replica::new("ada", &c);
    let mut b = Replica::new("bob", &c);
    let ws = a.engine.create_workspace("Acme", "").unwrap().id.unwrap();
    a.engine.add_member(ws, b.user(), Role::Member).unwrap();
    exchange(&mut a, &mut b);
    let rx = b.engine.subscribe();
    let general = a.engine.find_channel(ws, "general").unwrap();
    let m = a
        .engine
        .send(general, "hi", SendOptions::default())
        .unwrap()
        .id
        .unwrap();
    exchange(&mut a, &mut b);
    let events: Vec<_> = rx.try_iter().collect();
    assert!(
        events
            .iter()
            .any(|e| e.remote && e.entities.contains(&("messages".into(), m.to_string()))),
        "{events:?}"
    );
    b.engine.react(m, "👍").unwrap();
    let local: Vec<_> = rx.try_iter().collect();
    assert!(
        local.iter().any(|e| !e.remote && e.doc.starts_with("ch:")),
        "{local:?}"
    );
}

#[test]
fn analytics_count_what_the_team_did() {
    let c = clock();
    let mut a = Replica::new("ada", &c);
    let mut b = Replica::new("bob", &c);
    let ws = a.engine.create_workspace("Acme", "").unwrap().id.unwrap();
    a.engine.add_member(ws, b.user(), Role::Member).unwrap();
    exchange(&mut a, &mut b);
    let general = a.engine.find_channel(ws, "general").unwrap();
    a.engine
        .send(general, "one", SendOptions::default())
        .unwrap();
    a.engine
        .send(general, "two", SendOptions::default())
        .unwrap();
    b.engine
        .send(general, "three", SendOptions::default())
        .unwrap();
    let board = a.engine.create_board(ws, "B", "").unwrap().id.unwrap();
    let t = a
        .engine
        .create_task(
            board,
            NewTask {
                title: "t".into(),
                ..NewTask::default()
            },
        )
        .unwrap()
        .id
        .unwrap();
    let done = a
        .engine
        .columns(board)
        .unwrap()
        .into_iter()
        .find(|c| c.done)
        .unwrap()
        .id
        .unwrap();
    a.engine.move_task(t, done, None).unwrap();
    b.engine
        .focus_start(weft_domain::FocusKind::Pomodoro, Some(25), None)
        .unwrap();
    c.advance_ms(25 * MINUTE_MS);
    b.engine.focus_stop(true).unwrap();
    let call = a.engine.start_call(general).unwrap().id.unwrap();
    exchange(&mut a, &mut b);
    b.engine.join_meeting(call).unwrap();
    exchange(&mut a, &mut b);
    let day = T0.day();
    let (users, team) = a.engine.analytics(ws, day, day).unwrap();
    assert_eq!(team.len(), 1);
    let t = &team[0];
    assert_eq!(
        (
            t.active_members,
            t.messages_sent,
            t.tasks_completed,
            t.focus_minutes,
            t.meetings
        ),
        // Three messages, and the one the call posted for its chat.
        (2, 4, 1, 25, 1)
    );
    let bob = users
        .iter()
        .find(|u| u.user == b.user().to_string())
        .unwrap();
    assert_eq!(
        (bob.messages_sent, bob.focus_minutes, bob.meetings_attended),
        (1, 25, 1)
    );
}

/// A half-hour event `day` days after T0.
fn half_hour_on_day(title: &str, day: i64) -> NewEvent {
    let start = Timestamp(T0.0 + day * DAY_MS);
    NewEvent {
        title: title.into(),
        start,
        end: start.plus_minutes(30),
        ..NewEvent::default()
    }
}

#[test]
fn a_calls_chat_is_the_thread_of_the_message_it_posts_in_its_channel() {
    let c = clock();
    let (mut a, mut b, ws, general) = team(&c);
    let call = a.engine.start_call(general).unwrap();
    let root = call.thread.expect("the call's chat");
    exchange(&mut a, &mut b);
    // Bob sees the call's message in the channel, joins, and writes in its thread.
    let page = b.engine.messages(general, None, 50).unwrap();
    let posted = page
        .iter()
        .find(|m| m.message.id == Some(root))
        .expect("the call's message in the channel");
    assert_eq!(posted.message.author, Some(a.user()));
    let joined = b.engine.join_meeting(call.id.unwrap()).unwrap();
    assert_eq!(joined.thread, Some(root), "joining posts no second message");
    b.engine
        .send(
            general,
            "can you hear me?",
            SendOptions {
                parent: Some(root),
                ..SendOptions::default()
            },
        )
        .unwrap();
    exchange(&mut a, &mut b);
    let thread = a.engine.thread(root).unwrap();
    assert!(thread.iter().any(|m| m.message.text == "can you hear me?"));
    // A meeting scheduled in a channel gets its chat when it starts, once.
    let (_, m) = a
        .engine
        .schedule_meeting(ws, half_hour_on_day("Planning", 1), Some(general))
        .unwrap();
    assert_eq!(m.thread, None, "no chat before it starts");
    let before = a.engine.messages(general, None, 50).unwrap().len();
    let started = a.engine.join_meeting(m.id.unwrap()).unwrap();
    let root = started.thread.expect("the meeting's chat once it started");
    exchange(&mut a, &mut b);
    assert_eq!(
        b.engine.join_meeting(m.id.unwrap()).unwrap().thread,
        Some(root)
    );
    exchange(&mut a, &mut b);
    assert_eq!(
        a.engine.messages(general, None, 50).unwrap().len(),
        before + 1
    );
}

#[test]
fn two_people_starting_a_meeting_while_apart_share_one_chat() {
    let c = clock();
    let (mut a, mut b, ws, general) = team(&c);
    let (_, m) = a
        .engine
        .schedule_meeting(ws, half_hour_on_day("Standup", 1), Some(general))
        .unwrap();
    let id = m.id.unwrap();
    exchange(&mut a, &mut b);
    let before = a.engine.messages(general, None, 50).unwrap().len();
    // Both join with no connection between them, and each writes in the chat they see.
    let ra = a.engine.join_meeting(id).unwrap().thread.unwrap();
    let rb = b.engine.join_meeting(id).unwrap().thread.unwrap();
    assert_eq!(ra, rb, "both chats are the same thread");
    for (r, text) in [(&mut a, "ada here"), (&mut b, "bob here")] {
        let reply = SendOptions {
            parent: Some(ra),
            ..SendOptions::default()
        };
        r.engine.send(general, text, reply).unwrap();
    }
    exchange(&mut a, &mut b);
    for r in [&a, &b] {
        let page = r.engine.messages(general, None, 50).unwrap();
        let started = page
            .iter()
            .filter(|v| v.message.text.starts_with("📞"))
            .count();
        assert_eq!(started, 1, "one call message in the channel");
        assert_eq!(page.len(), before + 1);
        let texts: Vec<String> = r
            .engine
            .thread(ra)
            .unwrap()
            .into_iter()
            .skip(1)
            .map(|v| v.message.text)
            .collect();
        assert_eq!(texts.len(), 2, "{texts:?}");
        assert!(texts.contains(&"ada here".into()) && texts.contains(&"bob here".into()));
        assert_eq!(r.engine.meeting(&id.to_string()).unwrap().thread, Some(ra));
    }
}

#[test]
fn a_meeting_of_invited_people_chats_in_their_group_dm() {
    let c = clock();
    let (mut a, mut b, ws, _) = team(&c);
    let mut n = half_hour_on_day("1:1", 1);
    n.attendees = vec![b.user()];
    let (_, m) = a.engine.schedule_meeting(ws, n, None).unwrap();
    let id = m.id.unwrap();
    let ra = m.thread.expect("a chat from the start");
    exchange(&mut a, &mut b);
    // Ada adds Carol before either starts it; both start it while apart: still one DM, one
    // message, one thread between them.
    let carol = weft_test_support::Replica::new("carol", &c).user();
    a.engine.add_member(ws, carol, Role::Member).unwrap();
    let ev = m.event.unwrap();
    a.engine
        .update_event(ev, |e| {
            e.attendees
                .insert(carol.to_string(), weft_domain::Attendee::default());
        })
        .unwrap();
    assert_eq!(a.engine.join_meeting(id).unwrap().thread, Some(ra));
    let rb = b.engine.join_meeting(id).unwrap().thread.expect("a chat");
    assert_eq!(ra, rb);
    b.engine
        .send(
            b.engine.message(rb).unwrap().channel.unwrap(),
            "joining in a minute",
            SendOptions {
                parent: Some(rb),
                ..SendOptions::default()
            },
        )
        .unwrap();
    exchange(&mut a, &mut b);
    let dm = a.engine.message(ra).unwrap().channel.unwrap();
    let dms: Vec<_> = a
        .engine
        .channels(ws)
        .unwrap()
        .into_iter()
        .filter(|v| v.channel.kind == weft_domain::ChannelKind::Dm)
        .collect();
    assert_eq!(dms.len(), 1, "one DM between Ada and Bob");
    assert_eq!(dms[0].channel.id, Some(dm));
    // It is the DM they would open themselves, and the chat is in it.
    assert_eq!(b.engine.open_dm(ws, &[a.user()]).unwrap().id, Some(dm));
    let thread = a.engine.thread(ra).unwrap();
    assert_eq!(thread.len(), 2);
    assert_eq!(thread[1].message.text, "joining in a minute");
}

#[test]
fn files_and_integrations_are_recorded_and_listed() {
    let c = clock();
    let mut a = Replica::new("ada", &c);
    let ws = a.engine.create_workspace("Acme", "").unwrap().id.unwrap();
    let body = b"quarterly figures".to_vec();
    let staged = a
        .engine
        .stage_file(
            ws,
            "Q3 report.pdf",
            "application/pdf",
            body.len() as u64,
            &mut &body[..],
        )
        .unwrap();
    // Staged is not shared: nobody sees it listed until it is sent or shared.
    assert!(a.engine.files(ws, None).unwrap().is_empty());
    a.engine.share_file(ws, staged.file.unwrap()).unwrap();
    assert_eq!(a.engine.files(ws, Some("q3")).unwrap().len(), 1);
    assert!(a.engine.files(ws, Some("q4")).unwrap().is_empty());
    assert_eq!(
        a.engine.search(ws, "report", false, 10).unwrap().others[0].kind,
        "file"
    );
    // Over the size limit, a path for a name, or fewer bytes than announced: refused.
    let err = a
        .engine
        .stage_file(
            ws,
            "x",
            "",
            weft_domain::file::MAX_FILE_BYTES + 1,
            &mut &b""[..],
        )
        .unwrap_err();
    assert!(err.to_string().contains("at most"), "{err}");
    assert!(
        a.engine
            .stage_file(ws, "../etc/passwd", "", 1, &mut &b"x"[..])
            .is_err()
    );
    assert!(
        a.engine
            .stage_file(ws, "short.txt", "", 10, &mut &b"abc"[..])
            .is_err()
    );
    assert_eq!(a.engine.files(ws, None).unwrap().len(), 1);
    let i = a
        .engine
        .add_integration(
            ws,
            "CI",
            IntegrationKind::IncomingWebhook,
            None,
            r#"{"url_path":"/hooks/ci"}"#,
        )
        .unwrap()
        .id
        .unwrap();
    assert!(
        a.engine
            .add_integration(ws, "bad", IntegrationKind::Bot, None, "not json")
            .is_err()
    );
    a.engine
        .log_integration_run(ws, i, "delivery", RunStatus::Completed, 3, "")
        .unwrap();
    a.engine
        .log_integration_run(ws, i, "delivery", RunStatus::Failed, 0, "timeout")
        .unwrap();
    let runs = a.engine.integration_runs(ws).unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!(a.engine.integrations(ws).unwrap()[0].last_error, "timeout");
    let audit = a.engine.audit_log(ws).unwrap();
    assert!(
        audit
            .iter()
            .any(|e| e.action == weft_domain::AuditAction::IntegrationAdded)
    );
}

#[test]
fn a_task_cannot_go_to_a_column_of_another_board() {
    let c = clock();
    let mut a = Replica::new("ada", &c);
    let ws = a.engine.create_workspace("Acme", "").unwrap().id.unwrap();
    let b1 = a.engine.create_board(ws, "One", "").unwrap().id.unwrap();
    let b2 = a.engine.create_board(ws, "Two", "").unwrap().id.unwrap();
    let foreign = a.engine.columns(b2).unwrap()[0].id.unwrap();
    let err = a
        .engine
        .create_task(
            b1,
            NewTask {
                title: "x".into(),
                column: Some(foreign),
                ..NewTask::default()
            },
        )
        .unwrap_err();
    assert!(
        matches!(
            err,
            weft_core::CoreError::Invalid(DomainError::ColumnOfAnotherBoard { .. })
        ),
        "{err}"
    );
    let t = a
        .engine
        .create_task(
            b1,
            NewTask {
                title: "y".into(),
                ..NewTask::default()
            },
        )
        .unwrap()
        .id
        .unwrap();
    assert!(a.engine.move_task(t, foreign, None).is_err());
}

#[test]
fn history_pages_back_and_forward_without_a_gap_or_a_repeat() {
    let c = clock();
    let mut a = Replica::new("ada", &c);
    let ws = a.engine.create_workspace("Acme", "").unwrap().id.unwrap();
    let ch = a.engine.find_channel(ws, "general").unwrap();
    for i in 0..123 {
        c.advance_ms(1000);
        a.engine
            .send(ch, &format!("m{i}"), SendOptions::default())
            .unwrap();
    }
    let text = |v: &weft_core::MessageView| v.message.text.clone();
    // Back from the newest, 50 at a time, as scrolling up does.
    let mut back = Vec::new();
    let mut before = None;
    loop {
        let page = a.engine.messages(ch, before, 50).unwrap();
        let Some(last) = page.last() else { break };
        before = Some(last.cursor);
        back.extend(page.iter().map(text));
    }
    back.reverse();
    // Forward from the oldest, 40 at a time, as scrolling down through history does.
    let first = a.engine.messages(ch, before.map(|b| b + 1), 1).unwrap();
    let mut forward: Vec<String> = first.iter().map(text).collect();
    let mut after = first[0].cursor;
    loop {
        let page = a.engine.messages_after(ch, after, 40).unwrap();
        let Some(last) = page.last() else { break };
        after = last.cursor;
        forward.extend(page.iter().map(text));
    }
    let expected: Vec<String> = (0..123).map(|i| format!("m{i}")).collect();
    assert_eq!(back, expected);
    assert_eq!(forward, expected);
}

#[test]
fn an_admins_call_servers_reach_every_member_and_bad_ones_are_refused() {
    let c = clock();
    let (mut a, mut b, ws, _) = team(&c);
    let turn = weft_domain::CallServer {
        urls: vec!["turn:turn.acme.example:3478?transport=udp".into()],
        username: "acme".into(),
        credential: "hunter2".into(),
    };
    let mut s = a.engine.workspace(ws).unwrap().settings;
    s.call_servers = vec![turn.clone()];
    s.calls_relay_only = true;
    a.engine.update_workspace_settings(ws, s.clone()).unwrap();
    exchange(&mut a, &mut b);
    // Bob's calls use them from now on, as Ada's do.
    let seen = b.engine.workspace(ws).unwrap().settings;
    assert_eq!(seen.call_servers, vec![turn.clone()]);
    assert!(seen.calls_relay_only);
    // A member can't change them.
    let refused = b
        .engine
        .update_workspace_settings(ws, Default::default())
        .unwrap_err();
    assert_eq!(refused.kind(), "forbidden", "{refused}");
    // A TLS address is refused with its reason, and what was stored stays.
    let mut bad = s.clone();
    bad.call_servers[0].urls = vec!["turns:turn.acme.example:5349".into()];
    let err = a.engine.update_workspace_settings(ws, bad).unwrap_err();
    assert!(err.to_string().contains("TLS is not supported"), "{err}");
    assert_eq!(a.engine.workspace(ws).unwrap().settings, s);
    // The audit log records the change without the credential.
    let log = a.engine.audit_log(ws).unwrap();
    let entry = log
        .iter()
        .find(|e| e.action == weft_domain::AuditAction::SettingsChanged)
        .expect("the change is audited");
    assert!(
        entry.detail.contains("turn.acme.example"),
        "{}",
        entry.detail
    );
    assert!(!log.iter().any(|e| e.detail.contains("hunter2")));
}

#[test]
fn a_meeting_follows_the_event_that_schedules_it() {
    let c = clock();
    let (mut a, mut b, ws, _) = team(&c);
    let (event, m) = a
        .engine
        .schedule_meeting(ws, half_hour_on_day("Planning", 1), None)
        .unwrap();
    let (ev, id) = (event.id.unwrap(), m.id.unwrap());
    // Bob isn't invited: a meeting with no channel is for those asked.
    exchange(&mut a, &mut b);
    assert!(b.engine.join_meeting(id).is_err());
    // Ada renames it, moves it an hour later and invites Bob, on the event.
    let later = Timestamp(T0.0 + DAY_MS + 60 * MINUTE_MS);
    a.engine
        .update_event(ev, |e| {
            e.title = "Planning, moved".into();
            e.start = later;
            e.end = later.plus_minutes(45);
            e.attendees
                .insert(b.user().to_string(), weft_domain::Attendee::default());
        })
        .unwrap();
    exchange(&mut a, &mut b);
    let seen = b.engine.meeting(&id.to_string()).unwrap();
    assert_eq!(seen.title, "Planning, moved");
    assert_eq!(
        (seen.start, seen.end),
        (Some(later), Some(later.plus_minutes(45)))
    );
    assert!(b.engine.join_meeting(id).is_ok(), "invited on the event");
    // Deleting an event calls off the meeting it scheduled, on every device.
    let (event, m) = a
        .engine
        .schedule_meeting(
            ws,
            NewEvent {
                attendees: vec![b.user()],
                ..half_hour_on_day("Retro", 2)
            },
            None,
        )
        .unwrap();
    a.engine.delete_event(event.id.unwrap(), None).unwrap();
    exchange(&mut a, &mut b);
    let off = b.engine.meeting(&m.id.unwrap().to_string()).unwrap();
    assert_eq!(off.status, weft_domain::MeetingStatus::Cancelled);
    let refused = b.engine.join_meeting(m.id.unwrap());
    assert!(
        matches!(&refused, Err(e) if e.to_string().contains("cancelled")),
        "{refused:?}"
    );
}

#[test]
fn an_edited_event_is_held_to_what_a_new_one_is() {
    let c = clock();
    let mut a = Replica::new("ada", &c);
    let ws = a.engine.create_workspace("Acme", "").unwrap().id.unwrap();
    let ev = a
        .engine
        .create_event(
            ws,
            NewEvent {
                title: "Review".into(),
                start: T0,
                end: T0.plus_minutes(30),
                timezone: "UTC".into(),
                reminders: vec![10],
                ..NewEvent::default()
            },
        )
        .unwrap()
        .id
        .unwrap();
    let too_early = a.engine.update_event(ev, |e| {
        e.reminders = vec![weft_domain::Reminder {
            minutes_before: 60 * 24 * 29,
        }]
    });
    assert!(
        matches!(&too_early, Err(e) if e.to_string().contains("4 weeks")),
        "{too_early:?}"
    );
    let too_long = a
        .engine
        .update_event(ev, |e| e.location = "x".repeat(100_000));
    assert!(too_long.is_err());
    let blank = a.engine.update_event(ev, |e| e.title = "  ".into());
    assert!(blank.is_err());
    // Nothing of the refused edits was kept.
    let kept = a.engine.event(ev).unwrap();
    assert_eq!(
        (
            kept.title.as_str(),
            kept.location.as_str(),
            kept.reminders.len()
        ),
        ("Review", "", 1)
    );
}

#[test]
fn calendar_views_expand_recurrence_and_show_tasks_due() {
    let c = clock();
    let mut a = Replica::new("ada", &c);
    let ws = a.engine.create_workspace("Acme", "").unwrap().id.unwrap();
    let rule = weft_domain::recurrence::parse_rrule(
        "FREQ=WEEKLY;BYDAY=MO,WE,FR;COUNT=6",
        chrono_tz::Europe::Berlin,
    )
    .unwrap();
    let ev = a
        .engine
        .create_event(
            ws,
            NewEvent {
                title: "Standup".into(),
                start: T0,
                end: T0.plus_minutes(15),
                timezone: "Europe/Berlin".into(),
                kind: EventType::Meeting,
                recurrence: Some(rule),
                ..NewEvent::default()
            },
        )
        .unwrap()
        .id
        .unwrap();
    let board = a.engine.create_board(ws, "B", "").unwrap().id.unwrap();
    a.engine
        .create_task(
            board,
            NewTask {
                title: "Due Tuesday".into(),
                due: Some(Timestamp(T0.0 + DAY_MS)),
                ..NewTask::default()
            },
        )
        .unwrap();
    let week = a
        .engine
        .agenda(ws, T0, Timestamp(T0.0 + 7 * DAY_MS))
        .unwrap();
    assert_eq!(week.occurrences.len(), 3, "Mon, Wed, Fri");
    assert_eq!(week.tasks_due.len(), 1);
    // Delete one occurrence; the others stay.
    a.engine
        .delete_event(ev, Some(Timestamp(T0.0 + 2 * DAY_MS)))
        .unwrap();
    assert_eq!(
        a.engine
            .agenda(ws, T0, Timestamp(T0.0 + 7 * DAY_MS))
            .unwrap()
            .occurrences
            .len(),
        2
    );
    // ICS round trip through another workspace.
    let ics = a.engine.export_ics(ws).unwrap();
    let ws2 = a.engine.create_workspace("Other", "").unwrap().id.unwrap();
    assert_eq!(a.engine.import_ics(ws2, &ics).unwrap(), 1);
    let all = a
        .engine
        .agenda(ws2, T0, Timestamp(T0.0 + 30 * DAY_MS))
        .unwrap();
    assert_eq!(all.occurrences.len(), 5, "count 6 minus the exception");
    // Importing the same file again updates, it does not duplicate.
    a.engine.import_ics(ws2, &ics).unwrap();
    assert_eq!(
        a.engine
            .agenda(ws2, T0, Timestamp(T0.0 + 30 * DAY_MS))
            .unwrap()
            .occurrences
            .len(),
        5
    );
}

#[test]
fn files_attach_to_tasks_and_a_task_from_a_message_keeps_its_files() {
    let c = clock();
    let mut a = Replica::new("ada", &c);
    let ws = a.engine.create_workspace("Acme", "").unwrap().id.unwrap();
    let board = a.engine.create_board(ws, "Launch", "").unwrap().id.unwrap();
    let task = a
        .engine
        .create_task(
            board,
            NewTask {
                title: "Ship the beta".into(),
                ..NewTask::default()
            },
        )
        .unwrap()
        .id
        .unwrap();
    let body = b"checklist: sign the build".to_vec();
    let staged = a
        .engine
        .stage_file(
            ws,
            "checklist.txt",
            "text/plain",
            body.len() as u64,
            &mut &body[..],
        )
        .unwrap()
        .file
        .unwrap();
    let t = a.engine.attach_to_task(task, &[staged, staged]).unwrap();
    assert_eq!(t.attachments.len(), 1, "the same file attaches once");
    assert_eq!(t.attachments[0].name, "checklist.txt");
    let shown = t.attachments[0]
        .record
        .clone()
        .expect("the record rides on the task");
    assert!(shown.key.is_empty() && shown.chunks.is_empty(), "{shown:?}");
    assert!(
        t.activity
            .iter()
            .any(|x| x.what == "attached checklist.txt")
    );
    // Listed as the task's, readable, and attaching it again changes nothing.
    let listed = a.engine.files(ws, Some("checklist")).unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!((listed[0].task, listed[0].channel), (Some(task), None));
    assert_eq!(a.engine.read_file(staged).unwrap(), body);
    assert_eq!(
        a.engine
            .attach_to_task(task, &[staged])
            .unwrap()
            .attachments
            .len(),
        1
    );

    // A task made from a message carries the message's files, as references to them.
    let general = a.engine.channels(ws).unwrap()[0].channel.id.unwrap();
    let pic = b"not really a picture".to_vec();
    let att = a
        .engine
        .stage_file(ws, "mockup.bin", "", pic.len() as u64, &mut &pic[..])
        .unwrap();
    let pic_id = att.file.unwrap();
    let m = a
        .engine
        .send(
            general,
            "the new mockup",
            SendOptions {
                attachments: vec![att],
                ..SendOptions::default()
            },
        )
        .unwrap()
        .id
        .unwrap();
    let from = a.engine.task_from_message(m, board, None).unwrap();
    assert_eq!(from.attachments.len(), 1);
    assert_eq!(from.attachments[0].file, Some(pic_id));
    assert_eq!(from.attachments[0].record, None, "a reference, not a copy");
    assert_eq!(a.engine.read_file(pic_id).unwrap(), pic);

    // Deleting the task takes its own files out of the list; the message's stays.
    a.engine.delete_task(task).unwrap();
    assert!(a.engine.files(ws, Some("checklist")).unwrap().is_empty());
    assert_eq!(a.engine.files(ws, Some("mockup")).unwrap().len(), 1);

    // Limits: a file nobody staged, and more than a task carries, are refused.
    let nothing = weft_domain::Id::from_bytes([7; 16]);
    let err = a
        .engine
        .attach_to_task(from.id.unwrap(), &[nothing])
        .unwrap_err();
    assert_eq!(err.kind(), "not_found", "{err}");
    let many: Vec<_> = (0..weft_core::MAX_TASK_ATTACHMENTS)
        .map(|i| {
            a.engine
                .stage_file(ws, &format!("f{i}.txt"), "", 1, &mut &b"x"[..])
                .unwrap()
                .file
                .unwrap()
        })
        .collect();
    let err = a
        .engine
        .attach_to_task(from.id.unwrap(), &many)
        .unwrap_err();
    assert!(err.to_string().contains("at most"), "{err}");
    assert_eq!(
        a.engine.task(from.id.unwrap()).unwrap().attachments.len(),
        1,
        "a refused attach adds nothing"
    );
}

#[test]
fn staging_keeps_the_newest_files_and_forgets_the_oldest_past_its_limit() {
    let c = clock();
    let mut a = Replica::new("ada", &c);
    let ws = a.engine.create_workspace("Acme", "").unwrap().id.unwrap();
    let ids: Vec<_> = (0..=weft_core::MAX_STAGED)
        .map(|i| {
            a.engine
                .stage_file(ws, &format!("draft{i}.txt"), "", 1, &mut &b"x"[..])
                .unwrap()
                .file
                .unwrap()
        })
        .collect();
    // The first staged is forgotten (sharing it finds nothing); the newest are all there.
    let err = a.engine.share_file(ws, ids[0]).unwrap_err();
    assert_eq!(err.kind(), "not_found", "{err}");
    for id in &ids[1..] {
        assert_eq!(a.engine.file(*id).unwrap().size, 1);
    }
    a.engine.share_file(ws, ids[1]).unwrap();
    assert_eq!(a.engine.files(ws, None).unwrap().len(), 1);
    // A file taken back before sending is gone, its sealed chunks with it.
    let cache = a.dir.path().join("chunks").join(ws.to_string());
    let before = std::fs::read_dir(&cache).unwrap().count();
    let back = a
        .engine
        .stage_file(ws, "oops.txt", "", 4, &mut &b"oops"[..])
        .unwrap()
        .file
        .unwrap();
    assert_eq!(std::fs::read_dir(&cache).unwrap().count(), before + 1);
    a.engine.discard_staged(back).unwrap();
    assert_eq!(std::fs::read_dir(&cache).unwrap().count(), before);
    assert_eq!(
        a.engine.share_file(ws, back).unwrap_err().kind(),
        "not_found"
    );
    assert_eq!(
        a.engine.discard_staged(back).unwrap_err().kind(),
        "not_found"
    );
}

#[test]
fn the_chunk_cache_drops_what_no_file_needs_and_keeps_the_rest() {
    let c = clock();
    let mut a = Replica::new("ada", &c);
    let ws = a.engine.create_workspace("Acme", "").unwrap().id.unwrap();
    let general = a.engine.channels(ws).unwrap()[0].channel.id.unwrap();
    let stage = |e: &mut weft_core::Engine, name: &str, body: &[u8]| {
        e.stage_file(ws, name, "", body.len() as u64, &mut &body[..])
            .unwrap()
    };
    let kept = stage(&mut a.engine, "handbook.md", b"how we work");
    let kept_id = kept.file.unwrap();
    a.engine.share_file(ws, kept_id).unwrap();
    let gone = stage(&mut a.engine, "old-plan.md", b"the plan we dropped");
    let gone_id = gone.file.unwrap();
    let m = a
        .engine
        .send(
            general,
            "the plan",
            SendOptions {
                attachments: vec![gone],
                ..SendOptions::default()
            },
        )
        .unwrap()
        .id
        .unwrap();
    let never_sent = stage(&mut a.engine, "draft.md", b"never sent")
        .file
        .unwrap();
    let cache = a.dir.path().join("chunks").join(ws.to_string());
    let count = || std::fs::read_dir(&cache).unwrap().count();
    assert_eq!(count(), 3);

    // Nothing is swept while it is still needed, or younger than the grace period.
    assert_eq!(
        a.engine.sweep_chunks(std::time::Duration::ZERO).unwrap().0,
        0
    );
    a.engine.delete_message(m).unwrap();
    let err = a.engine.read_file(gone_id).unwrap_err();
    assert_eq!(err.kind(), "not_found", "{err}");
    assert_eq!(a.engine.sweep_chunks(weft_core::SWEEP_AFTER).unwrap().0, 0);
    assert_eq!(count(), 3);

    // The deleted message's file and the one never sent (staging ends with the engine) go;
    // the shared handbook stays, whole.
    a.restart();
    assert!(a.engine.file(never_sent).is_err());
    let (n, bytes) = a.engine.sweep_chunks(std::time::Duration::ZERO).unwrap();
    assert_eq!(n, 2);
    assert!(bytes > 0);
    assert_eq!(count(), 1);
    assert_eq!(a.engine.read_file(kept_id).unwrap(), b"how we work");
}
