//! `weft-bench media` runs end to end on a short clip: one JSON object with every figure the
//! media budgets are judged by, each a real measurement.

mod common;

#[test]
fn media_scenario_prints_every_figure() {
    let v = common::run_bench(&["media", "--frames", "60", "--audio-frames", "100"]);
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
