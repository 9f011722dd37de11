//! Bad input from a person, a file or a peer: a clear error, and nothing already stored is lost.

use crate::util::{json, ok, weft};
use std::path::Path;

fn setup() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    ok(d.path(), &["profile", "init", "--name", "Ada"]);
    ok(d.path(), &["workspace", "create", "Acme"]);
    for i in 0..5 {
        ok(
            d.path(),
            &["message", "send", "#general", &format!("kept {i}")],
        );
    }
    d
}

fn kept(d: &Path) -> usize {
    json(d, &["message", "list", "#general"])
        .as_array()
        .unwrap()
        .len()
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn malformed_change_files_are_refused_whole() {
    let d = setup();
    let good = d.path().join("good");
    let other = tempfile::tempdir().unwrap();
    let bob = json(other.path(), &["profile", "init", "--name", "Bob"]);
    ok(d.path(), &["member", "add", bob["user"].as_str().unwrap()]);
    ok(d.path(), &["changes", "export", good.to_str().unwrap()]);
    let bytes = std::fs::read(&good).unwrap();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty", vec![]),
        ("not ours", b"PK\x03\x04 a zip file".to_vec()),
        ("truncated", bytes[..bytes.len() / 2].to_vec()),
        (
            "trailing garbage",
            [bytes.clone(), vec![0xde, 0xad]].concat(),
        ),
        (
            "random",
            (0..4096u32)
                .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
                .collect(),
        ),
    ];
    for (name, data) in cases {
        let f = d.path().join(name.replace(' ', "_"));
        std::fs::write(&f, &data).unwrap();
        let out = weft(other.path(), &["changes", "import", f.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(3), "{name}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("change file"),
            "{name}: {}",
            stderr(&out)
        );
        // The replica that refused it is untouched and still works.
        assert_eq!(
            weft(other.path(), &["workspace", "list"]).status.code(),
            Some(0)
        );
    }
    // A flipped byte inside a change: Automerge's checksum catches it; the file is refused.
    let mut flipped = bytes.clone();
    let at = flipped.len() - 20;
    flipped[at] ^= 0x55;
    let f = d.path().join("flipped");
    std::fs::write(&f, &flipped).unwrap();
    let out = weft(other.path(), &["changes", "import", f.to_str().unwrap()]);
    assert_ne!(
        out.status.code(),
        Some(0),
        "a corrupted change was accepted"
    );
    // The good file still merges afterwards.
    ok(other.path(), &["changes", "import", good.to_str().unwrap()]);
    assert_eq!(kept(other.path()), 5);
}

#[test]
fn a_truncated_database_is_reported_and_left_alone() {
    let d = setup();
    ok(d.path(), &["doctor"]);
    let db = d.path().join("weft.db");
    // Fold the WAL in so the main file holds everything, then cut it.
    {
        let s = weft_store::Store::open(&db).unwrap();
        s.vacuum().unwrap();
    }
    let len = std::fs::metadata(&db).unwrap().len();
    let f = std::fs::OpenOptions::new().write(true).open(&db).unwrap();
    f.set_len(len / 3).unwrap();
    drop(f);
    let before = std::fs::read(&db).unwrap();
    let out = weft(d.path(), &["message", "list", "#general"]);
    assert_eq!(out.status.code(), Some(6), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("damaged") || stderr(&out).contains("malformed"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        std::fs::read(&db).unwrap(),
        before,
        "the damaged file was modified"
    );
}

#[test]
fn a_database_from_a_newer_weft_is_refused() {
    let d = setup();
    {
        let s = weft_store::Store::open(&d.path().join("weft.db")).unwrap();
        s.raw_connection()
            .pragma_update(None, "user_version", 999)
            .unwrap();
    }
    let out = weft(d.path(), &["message", "list", "#general"]);
    assert_eq!(out.status.code(), Some(6));
    assert!(stderr(&out).contains("newer Weft"), "{}", stderr(&out));
}

#[test]
fn absurd_sizes_are_refused_with_the_limit() {
    let d = setup();
    let huge = "x".repeat(40_001);
    let out = weft(d.path(), &["message", "send", "#general", &huge]);
    assert_eq!(out.status.code(), Some(3));
    assert!(stderr(&out).contains("at most 40000"), "{}", stderr(&out));
    let long_name = "n".repeat(201);
    assert_eq!(
        weft(d.path(), &["board", "create", &long_name])
            .status
            .code(),
        Some(3)
    );
    assert_eq!(
        weft(d.path(), &["focus", "start", "--minutes", "100000"])
            .status
            .code(),
        Some(3)
    );
    assert_eq!(
        weft(d.path(), &["search", &"q".repeat(600)]).status.code(),
        Some(3)
    );
    assert_eq!(kept(d.path()), 5);
}

#[test]
fn invalid_utf8_is_refused() {
    let d = setup();
    let ics = d.path().join("bad.ics");
    std::fs::write(&ics, b"BEGIN:VCALENDAR\r\nSUMMARY:\xff\xfe\r\n").unwrap();
    let out = weft(d.path(), &["event", "import", ics.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("UTF-8"));
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        let arg = std::ffi::OsStr::from_bytes(b"caf\xe9");
        let out = std::process::Command::new(crate::util::weft_bin())
            .arg("--data-dir")
            .arg(d.path())
            .args(["message", "send", "#general"])
            .arg(arg)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    }
    assert_eq!(kept(d.path()), 5);
}

#[test]
fn wrong_time_zones_and_dates_are_clear_errors() {
    let d = setup();
    let out = weft(
        d.path(),
        &[
            "event",
            "create",
            "Standup",
            "--start",
            "2026-11-23T09:00",
            "--end",
            "2026-11-23T09:15",
            "--tz",
            "Mars/Olympus_Mons",
        ],
    );
    assert_eq!(out.status.code(), Some(3));
    assert!(
        stderr(&out).contains("unknown time zone \"Mars/Olympus_Mons\""),
        "{}",
        stderr(&out)
    );
    let out = weft(
        d.path(),
        &[
            "event",
            "create",
            "Standup",
            "--start",
            "2026-02-30T09:00",
            "--end",
            "2026-11-23T09:15",
        ],
    );
    assert_eq!(out.status.code(), Some(3));
    let out = weft(
        d.path(),
        &[
            "event",
            "create",
            "Backwards",
            "--start",
            "2026-11-23T10:00",
            "--end",
            "2026-11-23T09:00",
        ],
    );
    assert_eq!(out.status.code(), Some(3));
    assert!(stderr(&out).contains("before start"), "{}", stderr(&out));
    let out = weft(
        d.path(),
        &[
            "event",
            "create",
            "Bad rule",
            "--start",
            "2026-11-23T09:00",
            "--end",
            "2026-11-23T09:15",
            "--rrule",
            "FREQ=HOURLY",
        ],
    );
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(kept(d.path()), 5);
}

#[test]
fn hostile_ics_files_import_nothing() {
    let d = setup();
    let cases: Vec<&[u8]> = vec![
        b"",
        b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nSUMMARY:never ends\r\n",
        b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART:20261345T250000Z\r\nSUMMARY:x\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
        b"just some text",
    ];
    for c in cases {
        let f = d.path().join("x.ics");
        std::fs::write(&f, c).unwrap();
        let out = weft(d.path(), &["event", "import", f.to_str().unwrap()]);
        assert_eq!(
            out.status.code(),
            Some(3),
            "{:?}: {}",
            String::from_utf8_lossy(c),
            stderr(&out)
        );
    }
    let list = json(
        d.path(),
        &[
            "event",
            "list",
            "--from",
            "2000-01-01",
            "--to",
            "2100-01-01",
        ],
    );
    assert!(list["occurrences"].as_array().unwrap().is_empty());
}
