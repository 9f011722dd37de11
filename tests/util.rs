//! Running the real `weft` binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The `weft` binary built alongside this test (`cargo build --workspace` builds it).
pub fn weft_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("test exe");
    // target/<profile>/deps/scenarios-… -> target/<profile>/weft
    let dir = exe.parent().and_then(Path::parent).expect("target dir");
    let bin = dir.join(format!("weft{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.exists(),
        "{} is missing: run `cargo build -p weft-cli` first",
        bin.display()
    );
    // Cargo does not rebuild another package's binary for these tests: refuse a stale one.
    let built = std::fs::metadata(&bin)
        .and_then(|m| m.modified())
        .expect("binary mtime");
    // Cargo's dep-info file beside the binary lists every source file it was built from.
    let sources = std::fs::read_to_string(bin.with_extension("d")).unwrap_or_default();
    if let Some(newer) = newest_source(&sources).filter(|(t, _)| *t > built) {
        panic!(
            "{} is older than {}: run `cargo build -p weft-cli` first",
            bin.display(),
            newer.1.display()
        );
    }
    bin
}

/// The newest of the files a dep-info file (`target: dep dep ...`, spaces escaped) lists.
fn newest_source(dep_info: &str) -> Option<(std::time::SystemTime, PathBuf)> {
    let first = dep_info.lines().next()?;
    let (_, deps) = first.split_once(": ")?;
    let mut paths = Vec::new();
    let mut cur = String::new();
    let mut chars = deps.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&' ') => cur.push(chars.next().unwrap_or(' ')),
            ' ' => {
                if !cur.is_empty() {
                    paths.push(PathBuf::from(std::mem::take(&mut cur)));
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        paths.push(PathBuf::from(cur));
    }
    paths
        .into_iter()
        .filter_map(|p| {
            let t = std::fs::metadata(&p).and_then(|m| m.modified()).ok()?;
            Some((t, p))
        })
        .max_by_key(|(t, _)| *t)
}

/// The passphrase the scenario tests seal device keys with (no keychain in tests).
pub const PASSPHRASE: &str = "scenario tests";

/// Runs `weft --data-dir DIR ARGS`.
pub fn weft(dir: &Path, args: &[&str]) -> Output {
    Command::new(weft_bin())
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .env("WEFT_LOG", "error")
        // Device keys go in a passphrase-sealed file, never the developer's own keychain.
        .env("WEFT_KEYCHAIN", "off")
        .env("WEFT_PASSPHRASE", PASSPHRASE)
        .output()
        .expect("run weft")
}

/// Runs weft and returns stdout, failing the test with stderr when it fails.
pub fn ok(dir: &Path, args: &[&str]) -> String {
    let out = weft(dir, args);
    assert!(
        out.status.success(),
        "weft {args:?} failed ({:?}): {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 stdout")
}

/// Runs weft with `--json` and parses its output.
pub fn json(dir: &Path, args: &[&str]) -> serde_json::Value {
    let mut a = vec!["--json"];
    a.extend_from_slice(args);
    serde_json::from_str(&ok(dir, &a)).expect("json output")
}

/// A `weft relay` process on loopback; killed when dropped.
pub struct RelayProcess {
    pub child: std::process::Child,
    /// `host:port` it listens on.
    pub addr: String,
}

impl RelayProcess {
    /// Starts `weft relay --listen LISTEN --relay-dir DIR` and waits until it listens.
    pub fn start(dir: &Path, listen: &str) -> RelayProcess {
        let mut child = Command::new(weft_bin())
            .args(["relay", "--listen", listen, "--relay-dir"])
            .arg(dir)
            .env("WEFT_LOG", "error")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start weft relay");
        let addr = weft_relay::read_announcement(child.stdout.take().expect("stdout"))
            .expect("relay address")
            .to_string();
        RelayProcess { child, addr }
    }

    /// Its WebSocket URL.
    pub fn url(&self) -> String {
        format!("ws://{}/", self.addr)
    }

    /// SIGKILL, and wait for it to be gone.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for RelayProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// An engine shared with its sync tasks.
pub type Shared = std::sync::Arc<std::sync::Mutex<weft_core::Engine>>;

/// An engine on `dir` with a profile for `name`, unlocked with a test passphrase.
pub fn engine(dir: &Path, name: &str) -> weft_core::Engine {
    let mut e = weft_core::Engine::open(dir).unwrap();
    e.unlock("scenario test", false).unwrap();
    e.init_profile(weft_domain::Profile {
        display_name: name.into(),
        username: name.to_lowercase(),
        ..weft_domain::Profile::default()
    })
    .unwrap();
    e
}

/// Two worker threads, as the app and the CLI run.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// One sync round with the engine's first relay account.
pub fn once(rt: &tokio::runtime::Runtime, e: &Shared) {
    let account = e.lock().unwrap().accounts().unwrap()[0].id;
    let (status, _) = tokio::sync::watch::channel(weft_core::SyncStatus::Connecting);
    let (_stop, stop) = tokio::sync::watch::channel(false);
    rt.block_on(weft_core::sync_account(
        e.clone(),
        account,
        weft_core::SyncMode::Once,
        status,
        stop,
    ))
    .unwrap();
}

/// Waits (up to `secs`) until `f` holds.
pub fn eventually(secs: u64, what: &str, mut f: impl FnMut() -> bool) {
    let t = std::time::Instant::now();
    while !f() {
        assert!(
            t.elapsed() < std::time::Duration::from_secs(secs),
            "timed out: {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Devices syncing in watch mode until `stop` says so, with each one's status.
pub struct Watching {
    pub tasks: Vec<tokio::task::JoinHandle<weft_core::Result<weft_core::SyncReport>>>,
    pub statuses: Vec<tokio::sync::watch::Receiver<weft_core::SyncStatus>>,
}

/// Starts every engine watching its first relay account.
pub fn watch(
    rt: &tokio::runtime::Runtime,
    engines: &[&Shared],
    stop: &tokio::sync::watch::Receiver<bool>,
) -> Watching {
    let mut w = Watching {
        tasks: Vec::new(),
        statuses: Vec::new(),
    };
    for e in engines {
        let account = e.lock().unwrap().accounts().unwrap()[0].id;
        let (status, seen) = tokio::sync::watch::channel(weft_core::SyncStatus::Connecting);
        w.statuses.push(seen);
        w.tasks.push(rt.spawn(weft_core::sync_account(
            (*e).clone(),
            account,
            weft_core::SyncMode::Watch,
            status,
            stop.clone(),
        )));
    }
    w
}
