//! `weft-bench media` runs end to end on a short clip: one JSON object with every figure the
//! media budgets are judged by, each a real measurement.

#[test]
fn media_scenario_prints_every_figure() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_weft-bench"))
        .args(["media", "--frames", "60", "--audio-frames", "100"])
        .output()
        .expect("run weft-bench");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    for k in [
        "opus_encode_us_per_frame",
        "opus_decode_us_per_frame",
        "h264_encode_ms_640x480",
        "h264_decode_ms_640x480",
        "h264_encode_ms_1280x720",
        "psnr_db_640x480",
    ] {
        let x = v[k].as_f64().unwrap_or(f64::NAN);
        assert!(x.is_finite() && x > 0.0, "{k} = {}", v[k]);
    }
    assert!(
        v["bitrate_error_pct"].as_f64().is_some_and(f64::is_finite),
        "{v}"
    );
    assert_eq!(v["frames_decoded_640x480"], 60, "{v}");
}
