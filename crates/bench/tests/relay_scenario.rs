//! `weft-bench relay` runs end to end on a small load and reports every figure the issue
//! names, each a real measurement.

mod common;

#[test]
fn relay_scenario_reports_every_figure() {
    let v = common::run_bench(&[
        "relay",
        "--clients",
        "20",
        "--seconds",
        "1",
        "--rate",
        "50",
        "--publishers",
        "2",
    ]);
    assert_eq!(v["deliveries"], v["deliveries_expected"], "{v}");
    assert_eq!(v["deliveries_expected"], 50 * 20);
    for k in [
        "deliveries_per_s",
        "latency_p50_ms",
        "latency_p99_ms",
        "relay_rss_kb_per_idle_conn",
    ] {
        let x = v[k].as_f64().unwrap_or(f64::NAN);
        assert!(x.is_finite() && x >= 0.0, "{k} = {x}");
    }
    assert!(v["latency_p99_ms"].as_f64() >= v["latency_p50_ms"].as_f64());
}
