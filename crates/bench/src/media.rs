//! `weft-bench media`: the media engine's codec costs and quality on the synthetic sources.
//! Per-frame times are medians over the run; quality and bitrate are over the whole run
//! after the first second (the first keyframe's burst).

use std::time::Instant;

use anyhow::Result;
use serde_json::{Value, json};
use weft_media::audio::codec::{OpusConfig, OpusDecoder, OpusEncoder};
use weft_media::synthetic::{TestPattern, ToneSource, read_frame_number};
use weft_media::video::h264::{Decoded, H264Config, H264Decoder, H264Encoder};

#[derive(Debug, clap::Args)]
pub struct Opts {
    /// Video frames per size (at 30 fps).
    #[arg(long, default_value_t = 300)]
    frames: u32,
    /// Audio frames (20 ms each).
    #[arg(long, default_value_t = 2000)]
    audio_frames: u32,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

struct VideoRun {
    encode_ms: f64,
    decode_ms: f64,
    psnr_db: f64,
    bitrate_bps: f64,
    frames_decoded: usize,
    /// Decoded frames whose frame number could not be read back.
    unreadable: usize,
}

fn video(width: u32, height: u32, frames: u32, bitrate_bps: u32) -> Result<VideoRun> {
    let mut pattern = TestPattern::new(width, height, 30)?;
    let originals: Vec<_> = (0..frames).map(|_| pattern.next_frame()).collect();
    let mut enc = H264Encoder::new(H264Config {
        bitrate_bps,
        ..H264Config::default()
    })?;
    let mut dec = H264Decoder::new()?;
    let (mut enc_t, mut dec_t, mut psnr) = (Vec::new(), Vec::new(), Vec::new());
    let mut bytes = 0usize;
    let mut decoded = 0;
    let mut unreadable = 0;
    for (i, frame) in originals.iter().enumerate() {
        let t = Instant::now();
        let unit = enc.encode(frame)?;
        enc_t.push(t.elapsed().as_secs_f64() * 1e3);
        if i >= 30 {
            bytes += unit.data.len();
        }
        let t = Instant::now();
        let out = dec.decode(&unit);
        dec_t.push(t.elapsed().as_secs_f64() * 1e3);
        if let Decoded::Frame(f) = out {
            decoded += 1;
            match read_frame_number(&f).and_then(|n| originals.get(n as usize)) {
                Some(reference) if i >= 30 => psnr.push(f.psnr_y(reference)?),
                Some(_) => {}
                None => unreadable += 1,
            }
        }
    }
    let seconds = f64::from(frames.saturating_sub(30)) / 30.0;
    Ok(VideoRun {
        encode_ms: median(enc_t),
        decode_ms: median(dec_t),
        psnr_db: psnr.iter().sum::<f64>() / psnr.len().max(1) as f64,
        bitrate_bps: bytes as f64 * 8.0 / seconds,
        frames_decoded: decoded,
        unreadable,
    })
}

pub fn run(o: &Opts) -> Result<Value> {
    anyhow::ensure!(
        o.frames > 30,
        "--frames must be over 30 (the first second is the warm-up)"
    );
    anyhow::ensure!(o.audio_frames > 0, "--audio-frames must be at least 1");
    // Opus: voice settings (32 kbit/s, FEC on), on the marked tone.
    let mut tone = ToneSource::new(1).markers_every(50);
    let frames: Vec<_> = (0..o.audio_frames).map(|_| tone.next_frame()).collect();
    let mut enc = OpusEncoder::new(OpusConfig::default())?;
    let mut dec = OpusDecoder::new(1)?;
    let (mut enc_t, mut dec_t) = (Vec::new(), Vec::new());
    for f in &frames {
        let t = Instant::now();
        let p = enc.encode(f)?;
        enc_t.push(t.elapsed().as_secs_f64() * 1e6);
        let t = Instant::now();
        dec.decode(&p.data, p.pts_us)?;
        dec_t.push(t.elapsed().as_secs_f64() * 1e6);
    }
    let vga = video(640, 480, o.frames, 800_000)?;
    let hd = video(1280, 720, o.frames, 1_500_000)?;
    let bitrate_error_pct = (vga.bitrate_bps - 800_000.0) / 800_000.0 * 100.0;
    let opus_encode_us = median(enc_t);
    Ok(json!({
        "scenario": "media",
        "opus_encode_us_per_frame": opus_encode_us,
        "opus_decode_us_per_frame": median(dec_t),
        "h264_encode_ms_640x480": vga.encode_ms,
        "h264_decode_ms_640x480": vga.decode_ms,
        "h264_encode_ms_1280x720": hd.encode_ms,
        "h264_decode_ms_1280x720": hd.decode_ms,
        "psnr_db_640x480": vga.psnr_db,
        "psnr_db_1280x720": hd.psnr_db,
        "bitrate_bps_640x480": vga.bitrate_bps,
        "bitrate_error_pct": bitrate_error_pct,
        "bitrate_error_pct_1280x720": (hd.bitrate_bps - 1_500_000.0) / 1_500_000.0 * 100.0,
        "frames_decoded_640x480": vga.frames_decoded,
        "frames_unreadable": vga.unreadable + hd.unreadable,
        "frames": o.frames,
        "budgets": {
            "opus_encode_us_per_frame_max": 300,
            "h264_encode_ms_640x480_max": 6,
            "psnr_db_640x480_min": 35,
            "bitrate_error_pct_abs_max": 20,
        },
        "within_budget": opus_encode_us <= 300.0
            && vga.encode_ms <= 6.0
            && vga.psnr_db >= 35.0
            && bitrate_error_pct.abs() <= 20.0
            && vga.unreadable + hd.unreadable == 0,
    }))
}
