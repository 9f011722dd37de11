//! SIGKILL at random points of a write loop: every edit `weft` reported is there after restart,
//! and the database passes `PRAGMA integrity_check`.

use crate::util::{ok, weft_bin};
use rand::{Rng, SeedableRng, rngs::StdRng};
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The number in "m-12" / "edit-40": later writes have larger numbers.
fn seq(text: &str) -> u64 {
    text.rsplit('-')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

#[test]
fn sigkill_during_writes_loses_nothing_reported() {
    let d = tempfile::tempdir().unwrap();
    ok(d.path(), &["profile", "init", "--name", "Ada"]);
    ok(d.path(), &["workspace", "create", "Acme"]);
    let mut rng = StdRng::seed_from_u64(0x5eed);
    // id -> the newest text reported for it
    let mut reported: HashMap<String, String> = HashMap::new();
    let mut total_lines = 0;
    for round in 0..100 {
        let mut child = Command::new(weft_bin())
            .arg("--data-dir")
            .arg(d.path())
            .args(["write-loop", "#general", "--count", "100000"])
            .env("WEFT_LOG", "error")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let deadline = Duration::from_millis(rng.random_range(20..250));
        let reader = std::thread::spawn(move || {
            let mut lines = Vec::new();
            for line in BufReader::new(stdout).lines() {
                match line {
                    Ok(l) => lines.push(l),
                    Err(_) => break,
                }
            }
            lines
        });
        let started = Instant::now();
        while started.elapsed() < deadline {
            std::thread::sleep(Duration::from_millis(2));
        }
        // SIGKILL: no destructors, no flush, no chance to finish the transaction.
        child.kill().unwrap();
        let status = child.wait().unwrap();
        assert!(
            !status.success(),
            "round {round}: the loop finished before it was killed"
        );
        for line in reader.join().unwrap() {
            let mut parts = line.splitn(3, ' ');
            let (Some(_), Some(id), Some(text)) = (parts.next(), parts.next(), parts.next()) else {
                continue;
            };
            reported.insert(id.to_owned(), text.to_owned());
            total_lines += 1;
        }

        // Restart: opening runs the start-up checks; everything reported must be there.
        let store = weft_store::Store::open(&d.path().join("weft.db")).unwrap();
        store
            .integrity_check()
            .unwrap_or_else(|e| panic!("round {round}: {e}"));
        drop(store);
        let engine = weft_core::Engine::open(d.path()).unwrap();
        for (id, text) in &reported {
            let m = engine
                .message(id.parse().unwrap())
                .unwrap_or_else(|e| panic!("round {round}: reported message {id} lost: {e}"));
            // A write after the last report may have landed too, never an older one.
            assert!(
                seq(&m.text) >= seq(text),
                "round {round}: {id} has {:?}, but {text:?} was reported",
                m.text
            );
        }
    }
    assert!(
        total_lines > 200,
        "the loop reported only {total_lines} writes in 100 rounds"
    );
    ok(d.path(), &["doctor"]);
}
