//! Shared by the scenario tests: run `weft-bench` and take its one JSON object.

/// Runs `weft-bench` with `args`; panics with its stderr if it fails.
pub fn run_bench(args: &[&str]) -> serde_json::Value {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_weft-bench"))
        .args(args)
        .output()
        .expect("run weft-bench");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("one JSON object")
}
