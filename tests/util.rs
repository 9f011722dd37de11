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
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("../crates");
    if let Some(newer) = newest_source(&crates).filter(|(t, _)| *t > built) {
        panic!(
            "{} is older than {}: run `cargo build -p weft-cli` first",
            bin.display(),
            newer.1.display()
        );
    }
    bin
}

fn newest_source(dir: &Path) -> Option<(std::time::SystemTime, PathBuf)> {
    let mut best: Option<(std::time::SystemTime, PathBuf)> = None;
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let p = entry.path();
        let cand = if p.is_dir() {
            if p.ends_with("benches") || p.ends_with("tests") {
                None
            } else {
                newest_source(&p)
            }
        } else if p.extension().is_some_and(|e| e == "rs" || e == "sql") {
            entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .map(|t| (t, p.clone()))
        } else {
            None
        };
        if let Some(c) = cand
            && best.as_ref().is_none_or(|b| c.0 > b.0)
        {
            best = Some(c);
        }
    }
    best
}

/// Runs `weft --data-dir DIR ARGS`.
pub fn weft(dir: &Path, args: &[&str]) -> Output {
    Command::new(weft_bin())
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .env("WEFT_LOG", "error")
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
