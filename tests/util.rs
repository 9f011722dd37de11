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
