//! The desktop app scenario: the release `weft-desktop` started under Xvfb on a data directory
//! holding a 100k-message workspace; how long until its UI has drawn the first screen with data
//! (the app prints that moment on stdout, this process times it from the launch), and the
//! memory of the app and its webview processes together once settled: the sum of their RSS
//! (which counts the WebKit and GTK libraries once per process) and of their PSS (each page
//! once). The X server is started once, before the clock, and is not counted.

use anyhow::{Context, Result, bail};
use rand::{SeedableRng, rngs::StdRng};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use weft_core::Engine;
use weft_domain::Profile;

/// Options of the app scenario.
#[derive(Debug, clap::Args)]
pub struct Opts {
    /// Messages in the workspace.
    #[arg(long, default_value_t = 100_000)]
    pub messages: usize,
    /// The app binary (default: the release build next to this one).
    #[arg(long)]
    pub app: Option<PathBuf>,
    /// Cold starts to time (the median is reported).
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
}

/// Builds the data directory: one person, one workspace, `n` messages in #general.
fn seed(dir: &Path, n: usize) -> Result<()> {
    let mut e = Engine::open(dir)?;
    e.init_profile(Profile {
        display_name: "Bench".into(),
        username: "bench".into(),
        ..Profile::default()
    })?;
    let ws = e.create_workspace("Bench", "")?.id.context("workspace")?;
    let ch = e.find_channel(ws, "general")?;
    let mut rng = StdRng::seed_from_u64(3);
    crate::store::chat_history(&mut e, ch, n, &mut rng)?;
    while e.maintain()? {}
    e.compact_all()?;
    Ok(())
}

/// Memory (kB) of one process: resident (RSS, which counts a shared library in full in every
/// process mapping it) and proportional (PSS, which splits each shared page among its users,
/// so the sum over processes counts every page once).
#[derive(Debug, Clone, Copy, Default)]
struct Mem {
    rss: u64,
    pss: u64,
}

/// The memory of `pid` and all its descendants, by process name.
fn tree_mem_kb(pid: u32) -> std::collections::BTreeMap<String, Mem> {
    let kb = |text: &str, field: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(field))
            .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let mut by = std::collections::BTreeMap::<String, Mem>::new();
    let mut stack = vec![pid];
    while let Some(p) = stack.pop() {
        if let Ok(status) = std::fs::read_to_string(format!("/proc/{p}/status")) {
            let name = status
                .lines()
                .find_map(|l| l.strip_prefix("Name:"))
                .map(str::trim)
                .unwrap_or("?")
                .to_owned();
            let rollup =
                std::fs::read_to_string(format!("/proc/{p}/smaps_rollup")).unwrap_or_default();
            let m = by.entry(name).or_default();
            m.rss += kb(&status, "VmRSS:");
            m.pss += kb(&rollup, "Pss:");
        }
        if let Ok(children) = std::fs::read_to_string(format!("/proc/{p}/task/{p}/children")) {
            stack.extend(
                children
                    .split_whitespace()
                    .filter_map(|c| c.parse::<u32>().ok()),
            );
        }
    }
    by
}

/// A virtual X display for the runs; killed on drop.
struct Display {
    child: std::process::Child,
    name: String,
}

impl Display {
    fn start() -> Result<Display> {
        let mut child = Command::new("Xvfb")
            .args([
                "-displayfd",
                "1",
                "-screen",
                "0",
                "1280x860x24",
                "-nolisten",
                "tcp",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .context("Xvfb (install xvfb)")?;
        let mut line = String::new();
        BufReader::new(child.stdout.take().context("stdout")?).read_line(&mut line)?;
        let n: u32 = line
            .trim()
            .parse()
            .context("Xvfb did not say its display")?;
        Ok(Display {
            child,
            name: format!(":{n}"),
        })
    }
}

impl Drop for Display {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One cold start: ms from launch until the UI drew its first screen with data, and the RSS
/// (kB) of the app with its WebKit processes once settled.
fn start_once(
    app: &Path,
    dir: &Path,
    display: &Display,
) -> Result<(f64, std::collections::BTreeMap<String, Mem>)> {
    let t = Instant::now();
    let mut child = Command::new(app)
        .env("DISPLAY", &display.name)
        .env("WEFT_DATA_DIR", dir)
        .env("WEBKIT_DISABLE_COMPOSITING_MODE", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("starting {}", app.display()))?;
    let stdout = child.stdout.take().context("stdout")?;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line.starts_with("weft-desktop: interactive after ") {
                let _ = tx.send(());
            }
        }
    });
    let got = rx.recv_timeout(Duration::from_secs(60));
    let ms = t.elapsed().as_secs_f64() * 1000.0;
    let result = match got {
        Ok(()) => {
            std::thread::sleep(Duration::from_secs(3));
            Ok((ms, tree_mem_kb(child.id())))
        }
        Err(_) => Err(anyhow::anyhow!(
            "the app never became interactive within 60 s"
        )),
    };
    let _ = child.kill();
    let _ = child.wait();
    result
}

/// Runs the scenario and returns its JSON report.
pub fn run(o: &Opts) -> Result<Value> {
    let app = match &o.app {
        Some(a) => a.clone(),
        None => std::env::current_exe()?
            .parent()
            .context("bench directory")?
            .join("weft-desktop"),
    };
    if !app.exists() {
        bail!(
            "{} is missing: build it with `cargo build --release -p weft-desktop`",
            app.display()
        );
    }
    let tmp = tempfile::tempdir()?;
    let t = Instant::now();
    seed(tmp.path(), o.messages)?;
    let seed_s = t.elapsed().as_secs_f64();
    let display = Display::start()?;
    let mut runs = Vec::new();
    for _ in 0..o.runs.max(1) {
        runs.push(start_once(&app, tmp.path(), &display)?);
    }
    let median = |mut v: Vec<f64>| {
        v.sort_by(|a, b| a.total_cmp(b));
        v[v.len() / 2]
    };
    let ms = median(runs.iter().map(|r| r.0).collect());
    let total = |r: &(f64, std::collections::BTreeMap<String, Mem>), f: fn(&Mem) -> u64| {
        r.1.values().map(f).sum::<u64>() as f64
    };
    let rss = median(runs.iter().map(|r| total(r, |m| m.rss)).collect());
    let pss = median(runs.iter().map(|r| total(r, |m| m.pss)).collect());
    let mb = |kb: f64| (kb / 102.4).round() / 10.0;
    // The breakdown of the run whose PSS total is the median.
    let parts = runs
        .iter()
        .find(|r| total(r, |m| m.pss) == pss)
        .map(|r| {
            r.1.iter()
                .map(|(k, m)| {
                    (
                        k.clone(),
                        json!({"rss_mb": mb(m.rss as f64), "pss_mb": mb(m.pss as f64)}),
                    )
                })
                .collect::<serde_json::Map<_, _>>()
        })
        .unwrap_or_default();
    Ok(json!({
        "scenario": "app",
        "messages": o.messages,
        "runs": runs.len(),
        "cold_start_to_interactive_ms": ms.round(),
        "cold_start_runs_ms": runs.iter().map(|r| r.0.round()).collect::<Vec<_>>(),
        "total_rss_mb": mb(rss),
        "total_pss_mb": mb(pss),
        "memory_by_process": parts,
        "seed_s": (seed_s * 10.0).round() / 10.0,
        "budget_interactive_ms": 1000,
        "budget_total_mb": 300,
    }))
}
