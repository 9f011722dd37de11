//! The store scenario: N messages through the engine's bulk path, then the read paths and the
//! edit path timed one operation at a time.

use anyhow::{Context, Result};
use automerge::{AutoCommit, ObjType, ReadDoc, transaction::Transactable};
use rand::{Rng, SeedableRng, rngs::StdRng};
use serde_json::{Value, json};
use std::time::Instant;
use weft_core::{Engine, NewTask, SendOptions};
use weft_domain::{Id, Profile, Timestamp};

/// Options of the store scenario.
#[derive(Debug, clap::Args)]
pub struct Opts {
    /// Messages to import.
    #[arg(long, default_value_t = 100_000)]
    pub messages: usize,
    /// Timed operations per figure.
    #[arg(long, default_value_t = 1000)]
    pub samples: usize,
    /// Keep the data directory here instead of a temporary one.
    #[arg(long)]
    pub dir: Option<std::path::PathBuf>,
}

const WORDS: &[&str] = &[
    "deploy",
    "release",
    "meeting",
    "review",
    "budget",
    "design",
    "roadmap",
    "customer",
    "invoice",
    "server",
    "latency",
    "database",
    "migration",
    "sprint",
    "standup",
    "retro",
    "planning",
    "feature",
    "bugfix",
    "incident",
    "postmortem",
    "hiring",
    "onboarding",
    "launch",
    "marketing",
    "analytics",
    "dashboard",
    "pipeline",
    "kubernetes",
    "backup",
    "security",
    "audit",
    "compliance",
    "contract",
    "partner",
    "quarter",
    "revenue",
    "forecast",
    "churn",
    "pricing",
    "lunch",
    "coffee",
    "weekend",
    "holiday",
    "birthday",
    "offsite",
    "workshop",
    "training",
    "document",
    "proposal",
    "the",
    "and",
    "for",
    "with",
    "this",
    "that",
    "from",
    "have",
    "will",
    "today",
    "tomorrow",
    "please",
    "thanks",
    "update",
    "status",
    "blocked",
    "done",
    "shipping",
    "testing",
    "merge",
];

pub(crate) fn sentence(rng: &mut StdRng) -> String {
    let n = rng.random_range(5..18);
    (0..n)
        .map(|_| WORDS[rng.random_range(0..WORDS.len())])
        .collect::<Vec<_>>()
        .join(" ")
}

/// Writes `n` messages into `channel` through the engine's bulk path, a second apart and
/// ending now, in batches of 10,000 with upkeep between (as the app's timer would run it).
pub(crate) fn chat_history(e: &mut Engine, channel: Id, n: usize, rng: &mut StdRng) -> Result<()> {
    let start = e.now().0 - n as i64 * 1000;
    let mut i = 0;
    while i < n {
        let k = 10_000.min(n - i);
        let texts: Vec<(Timestamp, String)> = (0..k)
            .map(|j| (Timestamp(start + (i + j) as i64 * 1000), sentence(rng)))
            .collect();
        e.send_batch(channel, &texts)?;
        e.maintain()?;
        i += k;
    }
    Ok(())
}

/// Changes per transaction when a device catches up.
const CATCHUP_BATCH: usize = 10_000;

/// How often the app's timer would run upkeep during a catch-up.
const UPKEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// A fresh second device of `e`'s user receives every document's changes; returns the seconds
/// spent applying them, the messages it then holds, the bytes of changes it received, and the
/// seconds of upkeep after.
fn catch_up(e: &mut Engine) -> Result<CatchUp> {
    let tmp = tempfile::tempdir()?;
    let mut b = Engine::open(tmp.path())?;
    let user = e.identity().context("identity")?.user;
    b.init_device(user, e.profile()?)?;
    // Fetched before the clock starts: the relay would hand these over as they arrive.
    let mut docs = Vec::new();
    for id in e.doc_ids()? {
        let changes = e.changes_since(&id, &[])?;
        docs.push((id, changes));
    }
    let bytes = docs.iter().flat_map(|(_, c)| c.iter().map(Vec::len)).sum();
    let t = Instant::now();
    let mut upkept = Instant::now();
    for (id, changes) in docs {
        for chunk in changes.chunks(CATCHUP_BATCH) {
            b.apply_remote(&id, chunk.to_vec())?;
            // The app's timer runs upkeep every few seconds; here once a second of catch-up.
            if upkept.elapsed() >= UPKEEP_EVERY {
                b.maintain()?;
                upkept = Instant::now();
            }
        }
    }
    let secs = t.elapsed().as_secs_f64();
    // What the timer then does until the index is merged and the documents snapshotted.
    let t = Instant::now();
    b.compact_all()?;
    let mut calls = 0;
    while b.maintain()? && calls < 10_000 {
        calls += 1;
    }
    let upkeep = t.elapsed().as_secs_f64();
    let (_, msgs, _) = b.store().chat_history_size()?;
    Ok(CatchUp {
        secs,
        msgs: msgs as usize,
        bytes,
        upkeep,
    })
}

/// What [`catch_up`] measured.
struct CatchUp {
    secs: f64,
    msgs: usize,
    bytes: usize,
    upkeep: f64,
}

/// Median and 99th percentile of durations in ms.
fn pcts(mut v: Vec<f64>) -> (f64, f64) {
    v.sort_by(|a, b| a.total_cmp(b));
    let at = |p: f64| v[((v.len() as f64 - 1.0) * p).round() as usize];
    (round(at(0.5)), round(at(0.99)))
}

fn round(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn timed<T>(f: impl FnOnce() -> T) -> (T, f64) {
    let t = Instant::now();
    let r = f();
    (r, t.elapsed().as_secs_f64() * 1000.0)
}

/// Runs the scenario and returns its JSON report.
pub fn run(o: &Opts) -> Result<Value> {
    let tmp = tempfile::tempdir()?;
    let dir = o.dir.clone().unwrap_or_else(|| tmp.path().to_owned());
    let mut rng = StdRng::seed_from_u64(7);
    let mut e = Engine::open(&dir)?;
    e.init_profile(Profile {
        display_name: "Bench".into(),
        username: "bench".into(),
        ..Profile::default()
    })?;
    let ws = e
        .create_workspace("Bench", "")?
        .id
        .context("workspace id")?;
    let channel = e.find_channel(ws, "general")?;

    // History: made on this device through the engine's bulk path (one Automerge change per
    // message, one transaction per batch), messages spread over the last N minutes.
    let start_at = e.now().0 - o.messages as i64 * 60_000;
    let mut text_bytes = 0usize;
    let t = Instant::now();
    let batch = 10_000;
    let mut i = 0;
    while i < o.messages {
        let n = batch.min(o.messages - i);
        let texts: Vec<(Timestamp, String)> = (0..n)
            .map(|k| {
                let s = sentence(&mut rng);
                text_bytes += s.len();
                (Timestamp(start_at + (i + k) as i64 * 60_000), s)
            })
            .collect();
        e.send_batch(channel, &texts)?;
        // What the app's timer does every second in the background.
        e.maintain()?;
        i += n;
    }
    let import_s = t.elapsed().as_secs_f64();
    // After a catch-up the app's timer keeps running upkeep (50 ms a tick) until the full-text
    // index is merged; do the same before measuring reads, and report what it cost.
    let t = Instant::now();
    let mut upkeep_calls = 0;
    while e.maintain()? && upkeep_calls < 10_000 {
        upkeep_calls += 1;
    }
    let upkeep_s = t.elapsed().as_secs_f64();

    // Import as a device meets it: a second device of the same user catches up on the whole
    // history as remote changes, in batches of CATCHUP_BATCH per transaction (what one relay
    // batch carries), with the app's upkeep between batches as its timer would run it.
    let caught = catch_up(&mut e)?;
    let (catchup_s, catchup_msgs, catchup_bytes) = (caught.secs, caught.msgs, caught.bytes);

    // Open a channel: the newest 50.
    let page: Vec<f64> = (0..o.samples)
        .map(|_| timed(|| e.messages(channel, None, 50)).1)
        .collect();
    let (page_p50, page_p99) = pcts(page);
    // Scroll back: 50 before a random point.
    let newest = e
        .messages(channel, None, 1)?
        .first()
        .map(|m| m.cursor)
        .unwrap_or(0);
    let oldest_cursor = (start_at.max(0)) * 1024;
    let back: Vec<f64> = (0..o.samples)
        .map(|_| {
            let c = rng.random_range(oldest_cursor..=newest.max(oldest_cursor));
            timed(|| e.messages(channel, Some(c), 50)).1
        })
        .collect();
    let (back_p50, back_p99) = pcts(back);

    // Search: one or two vocabulary words, newest first and ranked.
    let queries: Vec<String> = (0..o.samples.min(300))
        .map(|k| {
            let a = WORDS[rng.random_range(0..50)];
            if k % 3 == 0 {
                format!("{a} {}", WORDS[rng.random_range(0..50)])
            } else {
                a.to_owned()
            }
        })
        .collect();
    let mut hits = 0usize;
    let newest_t: Vec<f64> = queries
        .iter()
        .map(|q| {
            let (r, ms) = timed(|| e.search(ws, q, false, 50));
            hits += r.map(|r| r.messages.len()).unwrap_or(0);
            ms
        })
        .collect();
    let ranked_t: Vec<f64> = queries
        .iter()
        .map(|q| timed(|| e.search(ws, q, true, 50)).1)
        .collect();
    let partial_t: Vec<f64> = queries
        .iter()
        .map(|q| timed(|| e.search(ws, &q[..q.len().min(4)], false, 50)).1)
        .collect();
    let (search_newest_p50, search_newest_p99) = pcts(newest_t);
    let (search_ranked_p50, search_ranked_p99) = pcts(ranked_t);
    let (_, search_partial_p99) = pcts(partial_t);

    // Local edits: a message sent, a card moved; each committed to Automerge and SQLite.
    // The app's timer runs upkeep (snapshots, WAL checkpoint) every second, off the edit path;
    // here every 500 edits, outside the timed region.
    let mut sends = Vec::with_capacity(o.samples);
    for k in 0..o.samples {
        let s = sentence(&mut rng);
        sends.push(timed(|| e.send(channel, &s, SendOptions::default())).1);
        if k % 500 == 499 {
            e.maintain()?;
        }
    }
    let (edit_p50, edit_p99) = pcts(sends);
    let board = e.create_board(ws, "Bench board", "")?.id.context("board")?;
    let cols: Vec<Id> = e.columns(board)?.into_iter().filter_map(|c| c.id).collect();
    let tasks: Vec<Id> = (0..100)
        .map(|k| {
            e.create_task(
                board,
                NewTask {
                    title: format!("task {k}"),
                    ..NewTask::default()
                },
            )
            .map(|t| t.id)
        })
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .flatten()
        .collect();
    let mut moves = Vec::with_capacity(o.samples);
    for k in 0..o.samples {
        let t = tasks[rng.random_range(0..tasks.len())];
        let c = cols[rng.random_range(0..cols.len())];
        let idx = rng.random_range(0..20);
        moves.push(timed(|| e.move_task(t, c, Some(idx))).1);
        if k % 500 == 499 {
            e.maintain()?;
        }
    }
    let (move_p50, move_p99) = pcts(moves);

    // Size: the chat history's documents, compacted, beyond the text they hold.
    e.compact_all()?;
    e.store().vacuum()?;
    let (history_bytes, n_msgs, text) = e.store().chat_history_size()?;
    let (_, _, db_bytes) = e.store().sizes()?;
    let bytes_per_msg = (history_bytes as f64 - text as f64) / n_msgs as f64;

    // Baselines, same machine, same run.
    let raw_insert = baseline_sqlite(o.messages, &mut rng)?;
    let (am_apply, am_msgs) = baseline_automerge(o.messages.min(200_000), &mut rng)?;
    let edit_baseline = baseline_single_insert(o.samples, &mut rng)?;

    Ok(json!({
        "scenario": "store",
        "messages": o.messages,
        "samples": o.samples,
        "import_msgs_per_s": (catchup_msgs as f64 / catchup_s).round(),
        "import_messages": catchup_msgs,
        "import_change_bytes": catchup_bytes,
        "import_upkeep_after_s": round(caught.upkeep),
        "local_send_batch_msgs_per_s": (o.messages as f64 / import_s).round(),
        "upkeep_after_import_s": round(upkeep_s),
        "upkeep_after_import_calls": upkeep_calls + 1,
        "page_p50_ms": page_p50,
        "page_p99_ms": page_p99,
        "page_back_p50_ms": back_p50,
        "page_back_p99_ms": back_p99,
        "search_newest_p50_ms": search_newest_p50,
        "search_newest_p99_ms": search_newest_p99,
        "search_ranked_p50_ms": search_ranked_p50,
        "search_ranked_p99_ms": search_ranked_p99,
        "search_partial_word_p99_ms": search_partial_p99,
        "search_hits_total": hits,
        "edit_p50_ms": edit_p50,
        "edit_p99_ms": edit_p99,
        "move_card_p50_ms": move_p50,
        "move_card_p99_ms": move_p99,
        "bytes_per_msg": round(bytes_per_msg),
        "chat_history_bytes": history_bytes,
        "text_bytes": text,
        "db_bytes": db_bytes,
        "db_bytes_per_msg": round(db_bytes as f64 / n_msgs as f64),
        "baseline_raw_sqlite_insert_per_s": raw_insert.round(),
        "baseline_raw_sqlite_single_insert_p50_ms": edit_baseline.0,
        "baseline_raw_sqlite_single_insert_p99_ms": edit_baseline.1,
        "baseline_automerge_apply_per_s": am_apply.round(),
        "baseline_automerge_apply_messages": am_msgs,
        "import_vs_automerge_apply": round(catchup_msgs as f64 / catchup_s / am_apply),
        "edit_p50_vs_raw_single_insert": round(edit_p50 / edit_baseline.0.max(1e-6)),
        "text_bytes_generated": text_bytes,
    }))
}

/// Raw SQLite: the same rows in batches of 10,000, no indexes beyond the key, no FTS.
fn baseline_sqlite(n: usize, rng: &mut StdRng) -> Result<f64> {
    let dir = tempfile::tempdir()?;
    let conn = rusqlite::Connection::open(dir.path().join("raw.db"))?;
    conn.execute_batch(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;
         CREATE TABLE m (id TEXT PRIMARY KEY, channel TEXT, author TEXT, text TEXT, at INTEGER);",
    )?;
    let rows: Vec<(String, String)> = (0..n)
        .map(|i| (format!("{i:026}"), sentence(rng)))
        .collect();
    let t = Instant::now();
    for chunk in rows.chunks(10_000) {
        let tx = conn.unchecked_transaction()?;
        {
            let mut st = tx.prepare_cached("INSERT INTO m VALUES (?1, 'c', 'a', ?2, 0)")?;
            for (id, text) in chunk {
                st.execute(rusqlite::params![id, text])?;
            }
        }
        tx.commit()?;
    }
    Ok(n as f64 / t.elapsed().as_secs_f64())
}

/// Raw SQLite: one row per transaction, as a local edit commits (the edit path's baseline).
fn baseline_single_insert(n: usize, rng: &mut StdRng) -> Result<(f64, f64)> {
    let dir = tempfile::tempdir()?;
    let conn = rusqlite::Connection::open(dir.path().join("raw1.db"))?;
    conn.execute_batch(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;
         CREATE TABLE m (id TEXT PRIMARY KEY, text TEXT);",
    )?;
    let v: Vec<f64> = (0..n)
        .map(|i| {
            let s = sentence(rng);
            timed(|| -> Result<()> {
                let tx = conn.unchecked_transaction()?;
                tx.execute(
                    "INSERT INTO m VALUES (?1, ?2)",
                    rusqlite::params![format!("{i:026}"), s],
                )?;
                tx.commit()?;
                Ok(())
            })
            .1
        })
        .collect();
    Ok(pcts(v))
}

/// Raw Automerge: one change per message into 1,000-message documents, then every change applied
/// to fresh documents in one batch each; messages per second of the apply.
pub(crate) fn baseline_automerge(n: usize, rng: &mut StdRng) -> Result<(f64, usize)> {
    let per_doc = 1000;
    let mut all: Vec<Vec<automerge::Change>> = Vec::new();
    let mut made = 0;
    while made < n {
        let mut d = AutoCommit::new();
        let msgs = d.put_object(automerge::ROOT, "messages", ObjType::Map)?;
        d.commit();
        let k = per_doc.min(n - made);
        for i in 0..k {
            let m = d.put_object(&msgs, format!("{:026}", made + i), ObjType::Map)?;
            d.put(&m, "author", "01JD0000000000000000000000")?;
            d.put(&m, "text", sentence(rng))?;
            d.put(&m, "created_at", (made + i) as i64)?;
            d.put_object(&m, "reactions", ObjType::Map)?;
            d.commit();
        }
        all.push(d.get_changes(&[]).into_iter().collect());
        made += k;
    }
    let t = Instant::now();
    for changes in all {
        let mut fresh = AutoCommit::new();
        fresh.apply_changes_batch(changes)?;
        let _ = fresh.length(automerge::ROOT);
    }
    Ok((n as f64 / t.elapsed().as_secs_f64(), n))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The scenario runs end to end on a small N and reports every figure the issue names, each
    /// a real measurement (positive, finite).
    #[test]
    fn store_scenario_reports_every_figure() {
        let out = run(&Opts {
            messages: 3000,
            samples: 20,
            dir: None,
        })
        .unwrap();
        for k in [
            "import_msgs_per_s",
            "page_p50_ms",
            "page_p99_ms",
            "search_newest_p99_ms",
            "search_ranked_p99_ms",
            "edit_p50_ms",
            "edit_p99_ms",
            "db_bytes_per_msg",
            "baseline_raw_sqlite_insert_per_s",
            "baseline_automerge_apply_per_s",
        ] {
            let v = out[k].as_f64().unwrap_or_else(|| panic!("{k} missing"));
            assert!(v.is_finite() && v > 0.0, "{k} = {v}");
        }
        // Compressed history can be smaller than its text: negative is a real figure here.
        assert!(out["bytes_per_msg"].as_f64().unwrap().is_finite());
        assert_eq!(
            out["chat_history_bytes"].as_u64().map(|b| b > 0),
            Some(true)
        );
        assert!(
            out["search_hits_total"].as_u64().unwrap() > 0,
            "searches found nothing"
        );
    }
}
