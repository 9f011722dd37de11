//! The `weft` binary end to end, as a script would drive it.

use crate::util::{json, ok, weft};

#[test]
fn two_people_merge_through_change_files() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    ok(
        a.path(),
        &["profile", "init", "--name", "Ada", "--username", "ada"],
    );
    let bob = json(
        b.path(),
        &["profile", "init", "--name", "Bob", "--username", "bob"],
    );
    let bob_id = bob["user"].as_str().unwrap().to_owned();

    ok(a.path(), &["workspace", "create", "Acme"]);
    ok(a.path(), &["member", "add", &bob_id]);
    let sent = json(
        a.path(),
        &[
            "message",
            "send",
            "#general",
            "hello @bob, the roadmap is up",
        ],
    );
    let root = sent["id"].as_str().unwrap().to_owned();
    ok(a.path(), &["board", "create", "Roadmap"]);
    let task = json(
        a.path(),
        &[
            "task",
            "create",
            "--board",
            "Roadmap",
            "Ship the relay",
            "--priority",
            "high",
        ],
    );
    let file_a = a.path().join("a.weftchanges");
    ok(a.path(), &["changes", "export", file_a.to_str().unwrap()]);

    let report = json(b.path(), &["changes", "import", file_a.to_str().unwrap()]);
    assert!(report["changes_new"].as_u64().unwrap() > 5, "{report}");
    let list = ok(b.path(), &["message", "list", "#general"]);
    assert!(list.contains("hello @bob, the roadmap is up"), "{list}");
    // Bob was mentioned while away: it is in his inbox.
    let inbox = json(b.path(), &["inbox", "list", "--unread"]);
    assert!(
        inbox
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["kind"] == "mention"),
        "{inbox}"
    );
    // Bob replies in the thread and moves the card.
    ok(b.path(), &["message", "reply", &root, "on it"]);
    ok(
        b.path(),
        &[
            "task",
            "move",
            task["id"].as_str().unwrap(),
            "--column",
            "In progress",
        ],
    );
    let file_b = b.path().join("b.weftchanges");
    ok(b.path(), &["changes", "export", file_b.to_str().unwrap()]);
    ok(a.path(), &["changes", "import", file_b.to_str().unwrap()]);

    let thread = json(a.path(), &["message", "thread", &root]);
    let texts: Vec<&str> = thread
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["message"]["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts, vec!["hello @bob, the roadmap is up", "on it"]);
    let board = ok(a.path(), &["board", "show", "Roadmap"]);
    let in_progress = board
        .split("== ")
        .find(|s| s.starts_with("In progress"))
        .unwrap();
    assert!(in_progress.contains("Ship the relay"), "{board}");
    // The same file imported twice changes nothing.
    let again = json(a.path(), &["changes", "import", file_b.to_str().unwrap()]);
    assert_eq!(again["changes_new"], 0);
    // Bob's search finds Ada's message by a partial word.
    let found = json(b.path(), &["search", "roadm"]);
    assert_eq!(found["messages"].as_array().unwrap().len(), 1, "{found}");
}

#[test]
fn exit_codes_scripts_can_rely_on() {
    let d = tempfile::tempdir().unwrap();
    // No profile yet.
    let out = weft(d.path(), &["message", "list", "#general"]);
    assert_eq!(out.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&out.stderr).contains("weft profile init"));
    ok(d.path(), &["profile", "init", "--name", "Ada"]);
    ok(d.path(), &["workspace", "create", "Acme"]);
    // Usage error.
    assert_eq!(
        weft(d.path(), &["message", "frobnicate"]).status.code(),
        Some(2)
    );
    // Unknown channel.
    assert_eq!(
        weft(d.path(), &["message", "send", "#nope", "hi"])
            .status
            .code(),
        Some(4)
    );
    // Invalid input: empty message, bad channel name, unknown priority through the engine.
    assert_eq!(
        weft(d.path(), &["message", "send", "#general", "   "])
            .status
            .code(),
        Some(3)
    );
    assert_eq!(
        weft(d.path(), &["channel", "create", "has space"])
            .status
            .code(),
        Some(3)
    );
    // JSON errors carry a kind.
    let out = weft(d.path(), &["--json", "channel", "create", "has space"]);
    let err: serde_json::Value = serde_json::from_slice(&out.stderr).unwrap();
    assert_eq!(err["error"]["kind"], "invalid");
    // A profile cannot be created twice.
    assert_eq!(
        weft(d.path(), &["profile", "init", "--name", "Eve"])
            .status
            .code(),
        Some(3)
    );
}

#[test]
fn a_member_cannot_do_what_admins_do() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    ok(
        a.path(),
        &["profile", "init", "--name", "Ada", "--username", "ada"],
    );
    let bob = json(
        b.path(),
        &["profile", "init", "--name", "Bob", "--username", "bob"],
    );
    ok(a.path(), &["workspace", "create", "Acme"]);
    ok(a.path(), &["member", "add", bob["user"].as_str().unwrap()]);
    let f = a.path().join("x");
    ok(a.path(), &["changes", "export", f.to_str().unwrap()]);
    ok(b.path(), &["changes", "import", f.to_str().unwrap()]);
    assert_eq!(
        weft(b.path(), &["workspace", "rename", "Mine"])
            .status
            .code(),
        Some(5)
    );
    assert_eq!(
        weft(b.path(), &["member", "remove", "@ada"]).status.code(),
        Some(5)
    );
    assert_eq!(
        weft(b.path(), &["member", "role", "@ada", "member"])
            .status
            .code(),
        Some(5)
    );
}

#[test]
fn files_go_on_messages_tasks_and_the_workspace_and_come_back_byte_for_byte() {
    let a = tempfile::tempdir().unwrap();
    ok(
        a.path(),
        &["profile", "init", "--name", "Ada", "--username", "ada"],
    );
    ok(a.path(), &["workspace", "create", "Acme"]);
    ok(a.path(), &["board", "create", "Launch"]);
    let task = json(
        a.path(),
        &["task", "create", "--board", "Launch", "Sign the build"],
    );
    let task_id = task["id"].as_str().unwrap();
    let src = a.path().join("build-notes.md");
    let body: Vec<u8> = (0..3000u32).flat_map(|i| i.to_le_bytes()).collect();
    std::fs::write(&src, &body).unwrap();
    let p = src.to_str().unwrap();

    // On a task, in a message, and with the whole workspace: each listed with its id.
    let on_task = json(a.path(), &["file", "add", p, "--task", task_id]);
    assert_eq!(on_task["task"], task_id, "{on_task}");
    assert_eq!(on_task["mime"], "text/markdown");
    assert_eq!(on_task["key"], "", "no key is printed");
    let shown = json(a.path(), &["task", "show", task_id]);
    assert_eq!(shown["attachments"][0]["name"], "build-notes.md", "{shown}");
    let in_msg = json(
        a.path(),
        &["file", "add", p, "--channel", "#general", "--text", "notes"],
    );
    assert!(in_msg["channel"].is_string(), "{in_msg}");
    json(a.path(), &["file", "add", p]);
    let list = json(a.path(), &["file", "list", "--name", "notes"]);
    assert_eq!(list.as_array().unwrap().len(), 3, "{list}");

    let out = a.path().join("back.md");
    let id = on_task["id"].as_str().unwrap();
    ok(
        a.path(),
        &["file", "get", id, "--out", out.to_str().unwrap()],
    );
    assert_eq!(std::fs::read(&out).unwrap(), body);

    // Both a channel and a task, a folder, and an unknown id: refused, nothing added.
    let both = weft(
        a.path(),
        &["file", "add", p, "--task", task_id, "--channel", "#general"],
    );
    assert_eq!(both.status.code(), Some(2), "a usage error");
    let dir = weft(a.path(), &["file", "add", a.path().to_str().unwrap()]);
    assert!(!dir.status.success());
    let unknown = weft(
        a.path(),
        &["file", "get", task_id, "--out", out.to_str().unwrap()],
    );
    assert_eq!(unknown.status.code(), Some(4), "not found");
    assert_eq!(
        std::fs::read(&out).unwrap(),
        body,
        "the earlier copy is untouched"
    );
    let list = json(a.path(), &["file", "list"]);
    assert_eq!(list.as_array().unwrap().len(), 3);
}
