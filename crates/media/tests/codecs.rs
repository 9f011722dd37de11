//! Round trips through the real codecs with the synthetic sources: what a person on a call
//! would notice — picture quality, every frame arriving in order, the bitrate holding, a
//! lost packet not being heard.

use weft_media::VideoFrame;
use weft_media::audio::codec::{OpusConfig, OpusDecoder, OpusEncoder};
use weft_media::frame::{AudioFrame, FRAME_SAMPLES};
use weft_media::synthetic::{TestPattern, ToneSource, draw, read_frame_number};
use weft_media::video::h264::{Decoded, H264Config, H264Decoder, H264Encoder, nal_types};

fn encode_run(
    width: u32,
    height: u32,
    frames: u32,
    config: H264Config,
) -> (Vec<weft_media::EncodedVideo>, Vec<VideoFrame>) {
    let mut pattern = TestPattern::new(width, height, 30).unwrap();
    let mut enc = H264Encoder::new(config).unwrap();
    let originals: Vec<_> = (0..frames).map(|_| pattern.next_frame()).collect();
    let units = originals.iter().map(|f| enc.encode(f).unwrap()).collect();
    (units, originals)
}

#[test]
fn h264_at_640x480_and_800_kbps_keeps_35_db_every_frame_in_order_and_the_bitrate() {
    let (units, originals) = encode_run(640, 480, 300, H264Config::default());
    let mut dec = H264Decoder::new().unwrap();
    let mut psnr = Vec::new();
    let mut numbers = Vec::new();
    for unit in &units {
        if let Decoded::Frame(f) = dec.decode(unit) {
            let n = read_frame_number(&f).expect("frame number readable after coding");
            assert_eq!(f.pts_us, originals[n as usize].pts_us, "timestamp carried");
            psnr.push(f.psnr_y(&originals[n as usize]).unwrap());
            numbers.push(n);
        }
    }
    let skipped = units.iter().filter(|u| u.data.is_empty()).count();
    assert!(numbers.windows(2).all(|w| w[0] < w[1]), "in order");
    assert_eq!(numbers.len() + skipped, 300);
    assert!(
        numbers.len() >= 297,
        "{} of 300 frames decoded",
        numbers.len()
    );
    let mean = psnr.iter().sum::<f64>() / psnr.len() as f64;
    let worst = psnr.iter().cloned().fold(f64::MAX, f64::min);
    eprintln!("Y-PSNR mean {mean:.1} dB, worst {worst:.1} dB");
    assert!(mean >= 35.0, "mean Y-PSNR {mean:.1} dB");
    // Bitrate over the last 8 s (after the first keyframe's burst), within ±20 %.
    let bytes: usize = units[60..].iter().map(|u| u.data.len()).sum();
    let bps = bytes as f64 * 8.0 / (240.0 / 30.0);
    let err = (bps - 800_000.0) / 800_000.0 * 100.0;
    eprintln!("bitrate {bps:.0} bit/s ({err:+.1} %)");
    assert!(
        err.abs() <= 20.0,
        "bitrate {bps:.0} is {err:+.1} % off 800 kbit/s"
    );
}

#[test]
fn every_idr_carries_sps_and_pps_and_a_keyframe_comes_on_request() {
    let mut enc = H264Encoder::new(H264Config {
        keyframe_interval: 30,
        ..H264Config::default()
    })
    .unwrap();
    let mut pattern = TestPattern::new(320, 240, 30).unwrap();
    let mut idrs = Vec::new();
    for i in 0..100 {
        if i == 45 {
            enc.request_keyframe();
        }
        let unit = enc.encode(&pattern.next_frame()).unwrap();
        let types = nal_types(&unit.data);
        if types.contains(&5) {
            assert!(unit.keyframe);
            let idr = types.iter().position(|&t| t == 5).unwrap();
            assert!(
                types[..idr].contains(&7) && types[..idr].contains(&8),
                "frame {i}: {types:?}"
            );
            idrs.push(i);
        } else {
            assert!(!types.contains(&7), "parameter sets only with IDRs");
        }
    }
    // Every 30 frames, and the one asked for at 45 restarts the count.
    assert_eq!(idrs, vec![0, 30, 45, 75]);
}

#[test]
fn a_lower_bitrate_set_mid_stream_takes_effect_without_a_keyframe() {
    let mut enc = H264Encoder::new(H264Config::default()).unwrap();
    let mut pattern = TestPattern::new(640, 480, 30).unwrap();
    let mut bytes = [0usize; 2];
    for i in 0..240 {
        if i == 120 {
            enc.set_bitrate(300_000).unwrap();
        }
        let unit = enc.encode(&pattern.next_frame()).unwrap();
        if (60..120).contains(&i) {
            bytes[0] += unit.data.len();
        }
        if i >= 180 {
            bytes[1] += unit.data.len();
        }
        if (120..130).contains(&i) {
            assert!(
                !nal_types(&unit.data).contains(&5),
                "no IDR for a bitrate change"
            );
        }
    }
    let (before, after) = (bytes[0] as f64 * 8.0 / 2.0, bytes[1] as f64 * 8.0 / 2.0);
    eprintln!("{before:.0} bit/s -> {after:.0} bit/s");
    assert!(after < before * 0.6, "{before:.0} -> {after:.0}");
    assert!(enc.set_bitrate(10).is_err());
    // Set before the first frame, and kept across a change of size.
    let mut enc = H264Encoder::new(H264Config::default()).unwrap();
    enc.set_bitrate(300_000).unwrap();
    let mut pattern = TestPattern::new(640, 480, 30).unwrap();
    let early: usize = (0..90)
        .map(|i| enc.encode(&pattern.next_frame()).unwrap().data.len() * usize::from(i >= 30))
        .sum();
    let mut small = TestPattern::new(320, 240, 30).unwrap();
    let late: usize = (0..90)
        .map(|i| enc.encode(&small.next_frame()).unwrap().data.len() * usize::from(i >= 30))
        .sum();
    for (what, bytes) in [("before the first frame", early), ("after a resize", late)] {
        let bps = bytes as f64 * 8.0 / 2.0;
        eprintln!("300 kbit/s {what}: {bps:.0}");
        assert!(
            (bps - 300_000.0).abs() / 300_000.0 <= 0.25,
            "{what}: {bps:.0} bit/s"
        );
    }
}

#[test]
fn after_a_lost_frame_the_decoder_shows_nothing_broken_and_recovers_at_the_next_keyframe() {
    let (units, _) = encode_run(320, 240, 60, H264Config::default());
    let mut enc_units = units;
    let mut dec = H264Decoder::new().unwrap();
    // Delta frames before any keyframe are not shown.
    assert!(matches!(dec.decode(&enc_units[1]), Decoded::NeedKeyframe));
    let mut shown = Vec::new();
    for (i, unit) in enc_units.iter().enumerate().take(20) {
        if i == 10 {
            dec.note_loss();
            continue;
        }
        match dec.decode(unit) {
            Decoded::Frame(f) => shown.push(read_frame_number(&f).unwrap()),
            Decoded::NeedKeyframe => assert!(i > 10),
            Decoded::Nothing => {}
        }
    }
    assert_eq!(
        shown,
        (0..10).collect::<Vec<_>>(),
        "nothing after the loss until a keyframe"
    );
    // The sender answers the request with a keyframe: pictures resume, numbers continue.
    let mut enc = H264Encoder::new(H264Config::default()).unwrap();
    enc.request_keyframe();
    let idr = enc.encode(&draw(320, 240, 20, 0).unwrap()).unwrap();
    enc_units[20] = idr;
    let Decoded::Frame(f) = dec.decode(&enc_units[20]) else {
        panic!("keyframe decodes")
    };
    assert_eq!(read_frame_number(&f), Some(20));
    // Garbage is survived.
    let junk = weft_media::EncodedVideo {
        data: vec![0, 0, 0, 1, 0x65, 0xff, 0x00, 0x13],
        keyframe: false,
        pts_us: 0,
    };
    let _ = dec.decode(&junk);
}

#[test]
fn a_change_of_resolution_mid_stream_is_followed() {
    let mut enc = H264Encoder::new(H264Config::default()).unwrap();
    let mut dec = H264Decoder::new().unwrap();
    let mut sizes = Vec::new();
    for (i, (w, h)) in [(640, 480); 5]
        .into_iter()
        .chain([(320, 240); 5])
        .enumerate()
    {
        let unit = enc.encode(&draw(w, h, i as u32, 0).unwrap()).unwrap();
        if let Decoded::Frame(f) = dec.decode(&unit) {
            assert_eq!(read_frame_number(&f), Some(i as u32));
            sizes.push((f.width, f.height));
        }
    }
    assert_eq!(sizes.first(), Some(&(640, 480)));
    assert_eq!(sizes.last(), Some(&(320, 240)));
    assert_eq!(sizes.len(), 10);
}

/// Signal-to-noise ratio of `got` against `want`, after finding the codec's delay.
fn snr_db(want: &[f32], got: &[f32]) -> (f64, usize) {
    let mut best = (f64::MIN, 0);
    for lag in 0..1200 {
        let n = want.len().min(got.len().saturating_sub(lag));
        let (mut sig, mut err) = (0.0f64, 0.0f64);
        for i in 0..n {
            let (w, g) = (f64::from(want[i]), f64::from(got[i + lag]));
            sig += w * w;
            err += (w - g) * (w - g);
        }
        let snr = 10.0 * (sig / err.max(1e-12)).log10();
        if snr > best.0 {
            best = (snr, lag);
        }
    }
    best
}

#[test]
fn opus_round_trip_snr_is_measured_and_high() {
    let mut tone = ToneSource::new(1).markers_every(0);
    let mut enc = OpusEncoder::new(OpusConfig::default()).unwrap();
    let mut dec = OpusDecoder::new(1).unwrap();
    let (mut sent, mut got) = (Vec::new(), Vec::new());
    for _ in 0..100 {
        let f = tone.next_frame();
        sent.extend_from_slice(&f.samples);
        let p = enc.encode(&f).unwrap();
        assert!(
            p.data.len() <= 32_000 / 8 / 50 * 2,
            "{} bytes",
            p.data.len()
        );
        got.extend(dec.decode(&p.data, p.pts_us).unwrap().samples);
    }
    // Skip the first half second while the encoder settles.
    let (snr, lag) = snr_db(&sent[24_000..72_000], &got[24_000..]);
    eprintln!("Opus 32 kbit/s SNR {snr:.1} dB (delay {lag} samples)");
    assert!(snr >= 15.0, "SNR {snr:.1} dB");
}

#[test]
fn fec_rebuilds_a_dropped_packet_better_than_concealment() {
    let mut tone = ToneSource::new(1).markers_every(0);
    let cfg = OpusConfig {
        fec: true,
        expected_loss_pct: 20,
        ..OpusConfig::default()
    };
    let mut enc = OpusEncoder::new(cfg).unwrap();
    let frames: Vec<AudioFrame> = (0..60).map(|_| tone.next_frame()).collect();
    let packets: Vec<_> = frames.iter().map(|f| enc.encode(f).unwrap()).collect();
    let lost = 40;
    let run = |use_fec: bool| {
        let mut dec = OpusDecoder::new(1).unwrap();
        let mut out = Vec::new();
        for (i, p) in packets.iter().enumerate() {
            let f = if i == lost {
                if use_fec {
                    dec.recover(&packets[i + 1].data, p.pts_us).unwrap()
                } else {
                    dec.conceal(p.pts_us).unwrap()
                }
            } else {
                dec.decode(&p.data, p.pts_us).unwrap()
            };
            assert_eq!(f.samples.len(), FRAME_SAMPLES);
            out.extend(f.samples);
        }
        out
    };
    let clean = run(false);
    let (_, lag) = snr_db(
        &frames[20..30]
            .iter()
            .flat_map(|f| f.samples.clone())
            .collect::<Vec<_>>(),
        &clean[20 * FRAME_SAMPLES..],
    );
    let window = |out: &[f32]| {
        let start = lost * FRAME_SAMPLES + lag;
        let want = &frames[lost].samples;
        let got = &out[start..start + FRAME_SAMPLES];
        let sig: f64 = want.iter().map(|&s| f64::from(s).powi(2)).sum();
        let err: f64 = want
            .iter()
            .zip(got)
            .map(|(&a, &b)| (f64::from(a) - f64::from(b)).powi(2))
            .sum();
        10.0 * (sig / err.max(1e-12)).log10()
    };
    let (fec, plc) = (window(&run(true)), window(&clean));
    eprintln!("lost frame: FEC {fec:.1} dB, concealment {plc:.1} dB");
    assert!(
        fec > plc + 3.0,
        "FEC {fec:.1} dB vs concealment {plc:.1} dB"
    );
    assert!(fec > 5.0, "FEC {fec:.1} dB");
}

#[test]
fn a_cisco_library_that_is_missing_or_not_cisco_is_refused_clearly() {
    use weft_media::video::h264::Codec;
    let dir = tempfile::tempdir().unwrap();
    let missing = Codec::Cisco(dir.path().join("libopenh264.so"));
    let err = H264Encoder::with_codec(&missing, H264Config::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("Cisco") && err.contains("libopenh264.so"),
        "{err}"
    );
    let fake = dir.path().join("fake.so");
    std::fs::write(&fake, b"\x7fELF not really a library").unwrap();
    let err = H264Decoder::with_codec(&Codec::Cisco(fake))
        .unwrap_err()
        .to_string();
    assert!(err.contains("Cisco"), "{err}");
    assert_eq!(
        Codec::from_env(),
        if std::env::var_os("WEFT_OPENH264_LIB").is_some_and(|v| !v.is_empty()) {
            Codec::Cisco(std::env::var_os("WEFT_OPENH264_LIB").unwrap().into())
        } else {
            Codec::Builtin
        }
    );
}

#[test]
fn hostile_packets_from_a_peer_never_crash_the_decoders() {
    // A fixed LCG: the same hostile bytes every run.
    let mut x = 0x1234_5678u64;
    let mut byte = move || {
        x = x
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (x >> 56) as u8
    };
    let mut opus = OpusDecoder::new(1).unwrap();
    let mut h264 = H264Decoder::new().unwrap();
    let (units, _) = encode_run(320, 240, 10, H264Config::default());
    let mut refused = 0;
    for i in 0..2000 {
        let len = 1 + usize::from(byte()) * 4;
        let mut junk: Vec<u8> = (0..len).map(|_| byte()).collect();
        if opus.decode(&junk, 0).is_err() {
            refused += 1;
        }
        // Half the time a real unit with bytes flipped, half pure noise behind a start code.
        if i % 2 == 0 {
            junk = units[i % units.len()].data.clone();
            for _ in 0..8 {
                let at = usize::from(byte()) * junk.len() / 256;
                junk[at] ^= byte();
            }
        } else {
            junk.splice(0..0, [0, 0, 0, 1]);
        }
        let _ = h264.decode(&weft_media::EncodedVideo {
            data: junk,
            keyframe: false,
            pts_us: 0,
        });
    }
    assert!(
        refused > 100,
        "most random bytes are refused as Opus: {refused}"
    );
    // Still works afterwards.
    let (units, _) = encode_run(320, 240, 3, H264Config::default());
    let mut fresh = 0;
    for u in &units {
        fresh += usize::from(matches!(h264.decode(u), Decoded::Frame(_)));
    }
    assert_eq!(fresh, 3);
}
