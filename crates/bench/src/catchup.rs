//! The catch-up scenario: a device that joins (or comes back) receives a workspace's history
//! through a real relay process: every envelope verified, decrypted and applied into the
//! store and its full-text index. Baseline, in the same run: raw Automerge batch apply.
//!
//! Two shapes of history: `live`, one message per push (what a team chatting produces), and
//! `batched`, up to 512 changes per push (what a device that worked offline uploads).

use anyhow::{Context, Result, bail};
use rand::{SeedableRng, rngs::StdRng};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use weft_core::{Engine, SyncMode, SyncReport, SyncStatus};
use weft_domain::{Profile, Role};

/// Options of the catch-up scenario.
#[derive(Debug, clap::Args)]
pub struct Opts {
    /// Messages of history.
    #[arg(long, default_value_t = 100_000)]
    pub messages: usize,
}

const PASSPHRASE: &str = "weft-bench";

fn engine(dir: &std::path::Path, name: &str) -> Result<Engine> {
    let mut e = Engine::open(dir)?;
    e.unlock(PASSPHRASE, false)?;
    e.init_profile(Profile {
        display_name: name.into(),
        username: name.to_lowercase(),
        ..Profile::default()
    })?;
    Ok(e)
}

/// Syncs one account once on a fresh runtime; returns the engine, the report and the seconds.
fn sync_once(e: Engine) -> Result<(Engine, SyncReport, f64)> {
    let account = e.accounts()?.first().context("account")?.id;
    let shared = Arc::new(Mutex::new(e));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let t = Instant::now();
    let report = rt.block_on(async {
        let (status, _seen) = tokio::sync::watch::channel(SyncStatus::Connecting);
        let (_stop_tx, stop) = tokio::sync::watch::channel(false);
        weft_core::sync_account(shared.clone(), account, SyncMode::Once, status, stop).await
    })?;
    let secs = t.elapsed().as_secs_f64();
    drop(rt);
    let e = Arc::try_unwrap(shared)
        .map_err(|_| anyhow::anyhow!("engine still shared"))?
        .into_inner()
        .map_err(|_| anyhow::anyhow!("engine lock poisoned"))?;
    Ok((e, report, secs))
}

/// One history shape: the writer's pushes, then a new member's catch-up, timed.
fn shape(url: &str, messages: usize, per_push: usize, rng: &mut StdRng) -> Result<Value> {
    let tmp = tempfile::tempdir()?;
    let mut w = engine(&tmp.path().join("writer"), "Writer")?;
    let ws = w.create_workspace("Bench", "")?.id.context("workspace")?;
    let channel = w.find_channel(ws, "general")?;
    crate::store::chat_history(&mut w, channel, messages, rng)?;
    w.set_changes_per_push(per_push);
    w.add_account(url, &[ws])?;
    let (mut w, pushed, push_s) = sync_once(w)?;
    let link = w.create_invite(ws, Role::Member, 3_600_000, 1)?.to_link();
    let (_w, _, _) = sync_once(w)?;

    let mut r = engine(&tmp.path().join("reader"), "Reader")?;
    r.join(&link)?;
    let (r, got, secs) = sync_once(r)?;
    let (_, held, _) = r.store().chat_history_size()?;
    if held as usize != messages {
        bail!("the reader holds {held} messages of {messages}");
    }
    r.store().vacuum()?;
    let (_, _, file) = r.store().sizes()?;
    Ok(json!({
        "changes_per_push": per_push,
        "entries": got.entries_received,
        "applied_msgs_per_s": (messages as f64 / secs).round(),
        "catchup_s": (secs * 1000.0).round() / 1000.0,
        "bytes_transferred": got.bytes_received,
        "bytes_saved_size": file,
        "writer_push_msgs_per_s": (messages as f64 / push_s).round(),
        "writer_pushes": pushed.pushes_acked,
    }))
}

/// Runs the scenario and returns its JSON report.
pub fn run(o: &Opts) -> Result<Value> {
    if o.messages == 0 {
        bail!("need at least one message");
    }
    let relay = crate::relay::RelayProcess::start(&[
        ("WEFT_RELAY_RATE", "100000"),
        ("WEFT_RELAY_BURST", "100000"),
    ])?;
    let mut rng = StdRng::seed_from_u64(11);
    let live = shape(&relay.url, o.messages, 1, &mut rng)?;
    let batched = shape(&relay.url, o.messages, 512, &mut rng)?;
    let (am_apply, _) = crate::store::baseline_automerge(o.messages, &mut rng)?;
    let rate = |v: &Value| v["applied_msgs_per_s"].as_f64().unwrap_or(0.0);
    Ok(json!({
        "scenario": "catchup",
        "messages": o.messages,
        "applied_msgs_per_s": rate(&live),
        "bytes_transferred": live["bytes_transferred"],
        "bytes_saved_size": live["bytes_saved_size"],
        "live": live,
        "batched": batched,
        "baseline_automerge_apply_per_s": am_apply.round(),
        "live_vs_automerge_apply": ((rate(&live) / am_apply) * 1000.0).round() / 1000.0,
        "batched_vs_automerge_apply": ((rate(&batched) / am_apply) * 1000.0).round() / 1000.0,
    }))
}
