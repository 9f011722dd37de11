//! `weft-bench catchup` runs end to end on a small history through a real relay process: the
//! new member ends with every message, and every figure is a real measurement.

mod common;

#[test]
fn catchup_scenario_delivers_the_whole_history() {
    let v = common::run_bench(&["catchup", "--messages", "300"]);
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
