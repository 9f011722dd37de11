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
    AudioReceivePipeline, AudioSender, FnAudioSink, FnSink, VideoReceiver, VideoSender,
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
                seen.lock().unwrap().push((read_frame_number(&f), latency));
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
    std::thread::sleep(Duration::from_secs(3));
    sender.stop();
    std::thread::sleep(Duration::from_millis(300));
    let receiver = Arc::try_unwrap(receiver).expect("sender gone");
    receiver.stop();
    assert_eq!(threads(), before, "every pipeline thread joined");

    let shown = shown.lock().unwrap();
    let numbers: Vec<u32> = shown
        .iter()
        .map(|(n, _)| n.expect("readable frame number"))
        .collect();
    assert!(
        numbers.len() >= 80,
        "{} frames in 3 s at 30 fps",
        numbers.len()
    );
    assert!(
        numbers.windows(2).all(|w| w[1] == w[0] + 1),
        "in order, none missing: {numbers:?}"
    );
    let mut latencies: Vec<u64> = shown.iter().map(|(_, l)| *l).collect();
    latencies.sort_unstable();
    // The pattern's timestamps are the pacing clock's, so latency is measurable end to end;
    // it is printed, not asserted (timing belongs in weft-bench).
    eprintln!("capture-to-sink p50 {} µs", latencies[latencies.len() / 2]);
}

#[test]
fn a_slow_sink_drops_frames_instead_of_queueing_them() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let rendered = Arc::new(Mutex::new(0u32));
    let r = rendered.clone();
    let asked = Arc::new(Mutex::new(0u32));
    let a = asked.clone();
    let receiver = Arc::new(
        VideoReceiver::start(
            FnSink(move |_f| {
                std::thread::sleep(Duration::from_millis(150));
                *r.lock().unwrap() += 1;
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
    std::thread::sleep(Duration::from_secs(2));
    sender.stop();
    let (pushed, dropped, _, _, _) = receiver.stats().snapshot();
    assert!(dropped >= 1, "{dropped} of {pushed} dropped");
    // After a drop nothing broken is shown: deltas are skipped until a keyframe.
    let rendered = *rendered.lock().unwrap();
    assert!(rendered <= 15, "{rendered} rendered");
    assert!(
        *asked.lock().unwrap() >= 1,
        "a keyframe is asked for after dropping"
    );
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
    let started = Instant::now();
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        level.speaking() && level.level_dbfs() > -12.0,
        "{}",
        level.level_dbfs()
    );
    sender.set_muted(true);
    std::thread::sleep(Duration::from_millis(500));
    assert!(level.speaking(), "the meter still hears a muted speaker");
    let sent = sender.stats().snapshot();
    sender.stop();
    let stats = receiver.playout_stats();
    let receiver = Arc::try_unwrap(receiver).expect("sender gone");
    receiver.stop();
    assert_eq!(threads(), before, "every pipeline thread joined");

    let played = played.lock().unwrap();
    let seconds = started.elapsed().as_secs_f64();
    assert!(
        played.len() as f64 >= (seconds - 0.3) * f64::from(SAMPLE_RATE),
        "{} samples",
        played.len()
    );
    let tone = goertzel_power(&played[24_000..48_000], 440.0, SAMPLE_RATE);
    assert!(tone > 0.03, "tone heard: {tone}");
    let mut det = MarkerDetector::new(440.0, 1760.0);
    let onsets = det.push(&played[..96_000.min(played.len())]);
    assert!(onsets.len() >= 3, "markers every 500 ms: {onsets:?}");
    for w in onsets.windows(2) {
        assert!((w[1] - w[0]).abs_diff(24_000) <= 480, "{onsets:?}");
    }
    assert!(
        sent.2 >= 95 && sent.2 <= 110,
        "muted frames are not sent: {} sent",
        sent.2
    );
    assert_eq!(stats.late + stats.duplicates, 0, "{stats:?}");
}
