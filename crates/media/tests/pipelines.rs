//! Whole pipelines on threads: capture → encode → bytes → decode → sink, with timestamps
//! carried through, back-pressure that drops instead of queueing, and no thread left behind.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use weft_media::MediaError;
use weft_media::audio::codec::OpusConfig;
use weft_media::audio::playout::PlayoutConfig;
use weft_media::clock::now_us;
use weft_media::frame::SAMPLE_RATE;
use weft_media::pipeline::{
    AudioReceivePipeline, AudioSender, FnAudioSink, FnSink, VideoCapture, VideoReceiver,
    VideoSender,
};
use weft_media::synthetic::{
    MarkerDetector, TestPattern, ToneSource, goertzel_power, read_frame_number,
};
use weft_media::video::camera::Camera;
use weft_media::video::h264::{Codec, H264Config};

/// Pipeline threads alive in this process (they are all named `weft-…`).
fn threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .map(|d| {
            d.filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
                .filter(|name| name.starts_with("weft-"))
                .count()
        })
        .unwrap_or(0)
}

/// Tests in this file share the process; the thread count is only compared within one test
/// that holds this lock.
static SERIAL: Mutex<()> = Mutex::new(());

/// Waits for `done`, polling; a liveness guard (generous), not a timing assertion.
fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < deadline, "gave up waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn video_flows_through_in_order_with_timestamps_and_stops_cleanly() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let before = threads();
    assert_eq!(before, 0);
    let shown = Arc::new(Mutex::new(Vec::new()));
    let seen = shown.clone();
    let receiver = Arc::new(
        VideoReceiver::start(
            FnSink(move |f: weft_media::VideoFrame| {
                let latency = now_us().saturating_sub(f.pts_us);
                seen.lock()
                    .unwrap()
                    .push((read_frame_number(&f), f.pts_us, latency));
                Ok(())
            }),
            &Codec::Builtin,
            8,
            || {},
        )
        .unwrap(),
    );
    let to_receiver = receiver.clone();
    let start = now_us();
    let sender = VideoSender::start(
        TestPattern::new(640, 480, 30).unwrap().with_start(start),
        &Codec::Builtin,
        H264Config::default(),
        2,
        move |unit| {
            to_receiver.push(unit);
        },
    )
    .unwrap();
    assert!(
        sender.set_bitrate(10).is_err(),
        "out-of-range bitrate refused at the call"
    );
    let sender_stats = sender.stats();
    wait_for("90 frames captured", || sender_stats.snapshot().0 >= 90);
    sender.stop();
    let sent = sender_stats.snapshot();
    let (in_sent, dropped_at_capture, encoded) = (sent.0, sent.1, sent.2);
    wait_for("the receiver to drain", || {
        let (pushed, dropped, out, _, errors) = receiver.stats().snapshot();
        pushed == encoded && out + dropped + errors == pushed
    });
    let received = receiver.stats().snapshot();
    let receiver = Arc::try_unwrap(receiver).expect("sender gone");
    receiver.stop();
    assert_eq!(threads(), before, "every pipeline thread joined");

    let shown = shown.lock().unwrap();
    let numbers: Vec<u32> = shown
        .iter()
        .map(|(n, _, _)| n.expect("readable frame number"))
        .collect();
    // Every frame captured is shown, or counted where it was dropped.
    let lost = dropped_at_capture + received.1 + received.4;
    assert_eq!(
        numbers.len() as u64 + lost,
        in_sent,
        "{sent:?} {received:?}"
    );
    assert!(
        numbers.windows(2).all(|w| w[0] < w[1]),
        "in order: {numbers:?}"
    );
    let gaps: u64 = numbers.windows(2).map(|w| u64::from(w[1] - w[0] - 1)).sum();
    assert!(
        gaps <= lost,
        "every missing number accounted for: {gaps} > {lost}"
    );
    // Timestamps are the pattern's: frame n at n/30 s after the start.
    for (n, pts, _) in shown.iter() {
        assert_eq!(*pts, start + u64::from(n.unwrap()) * 1_000_000 / 30);
    }
    let mut latencies: Vec<u64> = shown.iter().map(|(_, _, l)| *l).collect();
    latencies.sort_unstable();
    // Printed, not asserted: timing belongs in weft-bench.
    eprintln!(
        "capture-to-sink p50 {} µs; {lost} of {in_sent} dropped",
        latencies[latencies.len() / 2]
    );
}

#[test]
fn a_slow_sink_drops_frames_instead_of_queueing_them_and_shows_nothing_broken() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let rendered = Arc::new(Mutex::new(Vec::new()));
    let r = rendered.clone();
    let asked = Arc::new(Mutex::new(0u32));
    let a = asked.clone();
    let receiver = Arc::new(
        VideoReceiver::start(
            FnSink(move |f: weft_media::VideoFrame| {
                std::thread::sleep(Duration::from_millis(150));
                r.lock().unwrap().push(read_frame_number(&f));
                Ok(())
            }),
            &Codec::Builtin,
            4,
            move || *a.lock().unwrap() += 1,
        )
        .unwrap(),
    );
    let to_receiver = receiver.clone();
    let sender = VideoSender::start(
        TestPattern::new(320, 240, 30).unwrap(),
        &Codec::Builtin,
        H264Config::default(),
        2,
        move |unit| {
            to_receiver.push(unit);
        },
    )
    .unwrap();
    wait_for("a dropped unit", || receiver.stats().snapshot().1 >= 1);
    wait_for("a keyframe request", || *asked.lock().unwrap() >= 1);
    sender.stop();
    // The queue never held more than its 4: everything beyond was dropped and counted.
    let (pushed, dropped, shown, _, skipped) = receiver.stats().snapshot();
    assert!(
        pushed - dropped - shown - skipped <= 4 + 1,
        "{pushed} {dropped} {shown} {skipped}"
    );
    // Nothing broken is shown: after a drop, delta frames wait for a keyframe, so every
    // picture rendered is whole (its block code reads back) and in order.
    let rendered = rendered.lock().unwrap();
    assert!(!rendered.is_empty());
    let numbers: Vec<u32> = rendered
        .iter()
        .map(|n| n.expect("a whole picture"))
        .collect();
    assert!(numbers.windows(2).all(|w| w[0] < w[1]), "{numbers:?}");
}

#[test]
fn a_camera_that_isnt_there_fails_the_pipeline_start_with_a_clear_error() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    if std::path::Path::new("/dev/video0").exists() {
        return;
    }
    let before = threads();
    let err = VideoSender::start_with(
        || Camera::open(0, 640, 480, 30),
        &Codec::Builtin,
        H264Config::default(),
        2,
        |_| {},
    )
    .unwrap_err();
    assert!(
        matches!(err, MediaError::NoCamera(_) | MediaError::CameraUnsupported),
        "{err}"
    );
    assert_eq!(threads(), before);
}

#[test]
fn a_preview_capture_shows_every_frame_in_order_and_releases_its_source_when_dropped() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let before = threads();
    let got = Arc::new(Mutex::new(Vec::new()));
    let seen = got.clone();
    let capture = VideoCapture::start(
        || TestPattern::new(160, 120, 30),
        move |f| seen.lock().unwrap().push(read_frame_number(&f)),
    )
    .expect("the pattern opens");
    wait_for("30 preview frames", || got.lock().unwrap().len() >= 30);
    assert!(capture.running());
    assert_eq!(threads(), before + 1, "one capture thread");
    drop(capture);
    assert_eq!(threads(), before, "dropping it ends its thread");
    let frames = got.lock().unwrap().clone();
    let expected: Vec<Option<u32>> = (0..frames.len() as u32).map(Some).collect();
    assert_eq!(frames, expected, "every frame, in order, none dropped");
    let after = frames.len();
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(got.lock().unwrap().len(), after, "nothing after the drop");
    // A source that can't open is the start's error, with no thread left behind.
    let err = VideoCapture::start(|| TestPattern::new(160, 120, 0), |_| {}).unwrap_err();
    assert!(err.to_string().contains("rate"), "{err}");
    assert_eq!(threads(), before);
}

#[test]
fn audio_flows_through_the_playout_buffer_with_its_tone_and_markers() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let before = threads();
    let played = Arc::new(Mutex::new(Vec::new()));
    let p = played.clone();
    let receiver = Arc::new(
        AudioReceivePipeline::start(
            FnAudioSink(move |f: weft_media::AudioFrame| {
                p.lock().unwrap().extend(f.samples);
                Ok(())
            }),
            1,
            PlayoutConfig::default(),
        )
        .unwrap(),
    );
    let to_receiver = receiver.clone();
    let sender = AudioSender::start(
        ToneSource::new(1).markers_every(25),
        OpusConfig::default(),
        false,
        move |packet| {
            to_receiver.push(packet);
        },
    )
    .unwrap();
    let level = sender.level();
    wait_for("two seconds played", || {
        played.lock().unwrap().len() >= 2 * SAMPLE_RATE as usize
    });
    assert!(
        level.speaking() && level.level_dbfs() > -12.0,
        "{}",
        level.level_dbfs()
    );
    // Muted: frames are still metered ("you're muted") but no longer sent.
    sender.set_muted(true);
    let (in_at_mute, _, out_at_mute, _, _) = sender.stats().snapshot();
    wait_for("25 more frames captured", || {
        sender.stats().snapshot().0 >= in_at_mute + 25
    });
    let (_, _, out_after, _, _) = sender.stats().snapshot();
    assert!(
        out_after <= out_at_mute + 1,
        "muted frames are not sent: {out_at_mute} -> {out_after}"
    );
    assert!(level.speaking(), "the meter still hears a muted speaker");
    sender.stop();
    let stats = receiver.playout_stats();
    let receiver = Arc::try_unwrap(receiver).expect("sender gone");
    receiver.stop();
    assert_eq!(threads(), before, "every pipeline thread joined");

    let played = played.lock().unwrap();
    let tone = goertzel_power(&played[24_000..48_000], 440.0, SAMPLE_RATE);
    assert!(tone > 0.03, "tone heard: {tone}");
    let mut det = MarkerDetector::new(440.0, 1760.0);
    let onsets = det.push(&played[..96_000.min(played.len())]);
    assert!(onsets.len() >= 3, "markers every 500 ms: {onsets:?}");
    assert_eq!(stats.late + stats.duplicates, 0, "{stats:?}");
    if stats.concealed == 0 && stats.dropped == 0 {
        // With nothing lost, the markers are exactly 500 ms apart in what was played.
        for w in onsets.windows(2) {
            assert!((w[1] - w[0]).abs_diff(24_000) <= 240, "{onsets:?}");
        }
    }
}
