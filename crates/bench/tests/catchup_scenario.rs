//! `weft-bench catchup` runs end to end on a small history through a real relay process: the
//! new member ends with every message, and every figure is a real measurement.

#[test]
fn catchup_scenario_delivers_the_whole_history() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_weft-bench"))
        .args(["catchup", "--messages", "300"])
        .output()
        .expect("run weft-bench");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    for k in [
        "applied_msgs_per_s",
        "bytes_transferred",
        "bytes_saved_size",
        "baseline_automerge_apply_per_s",
    ] {
        let x = v[k].as_f64().unwrap_or(f64::NAN);
        assert!(x.is_finite() && x > 0.0, "{k} = {}", v[k]);
    }
    // One message per push when live; a handful of pushes when batched.
    assert!(v["live"]["entries"].as_u64().unwrap() >= 300, "{v}");
    assert!(v["batched"]["entries"].as_u64().unwrap() < 20, "{v}");
}
