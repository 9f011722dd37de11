//! `weft-bench call`: a loopback call between N participants in this process — real
//! `webrtc` connections over UDP on 127.0.0.1, real Opus and H.264, each sending a numbered
//! test pattern and a marked tone — measured at every receiver.
//!
//! - `connect_ms`: from starting the calls until every participant shows a picture of
//!   every other (ICE, DTLS, the first keyframe and its decode included).
//! - `glass_to_glass_*`: a picture's capture (the pattern is paced: picture n at start +
//!   n/fps) to its arrival in the receiver's sink, after decoding.
//! - `frames_delivered_ratio`: distinct pictures shown over those sent in the span shown,
//!   summed over every (receiver, sender) pair, after connecting.
//! - `psnr_db`: mean luma PSNR of every tenth picture shown against the one drawn.
//! - `audio_latency_p50_ms`: a marker burst's capture to its playing at the receiver.
//! - `cpu_percent`: this process's CPU time over the measured seconds (100 = one core).

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use serde_json::json;
use weft_call::VideoSettings;
use weft_call::loopback::{Coturn, Mesh, MeshConfig, delivery};
use weft_media::clock::now_us;

#[derive(Debug, clap::Args)]
pub struct Opts {
    #[arg(long, default_value_t = 2)]
    participants: usize,
    /// Seconds measured after connecting.
    #[arg(long, default_value_t = 20)]
    seconds: u64,
    #[arg(long, default_value_t = 640)]
    width: u32,
    #[arg(long, default_value_t = 480)]
    height: u32,
    #[arg(long, default_value_t = 30)]
    fps: u32,
    #[arg(long, default_value_t = 1_000_000)]
    bitrate: u32,
    /// Share of incoming RTP packets dropped (0.02: 2 % loss).
    #[arg(long, default_value_t = 0.0)]
    loss: f64,
    /// Send everything through a TURN server on loopback (coturn's `turnserver`), as a
    /// workspace with "calls only through a relay" does.
    #[arg(long)]
    turn: bool,
}

fn percentile(v: &mut [f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * p).round() as usize]
}

/// User + system CPU time of this process, seconds.
fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return f64::NAN;
    };
    // Fields after the command name (which may hold spaces): utime is the 14th field.
    let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
        return f64::NAN;
    };
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        f.get(i)
            .and_then(|s| s.parse::<f64>().ok())
            .unwrap_or(f64::NAN)
    };
    // `rest` starts at field 3 (state), so utime (14) and stime (15) are at 11 and 12.
    (ticks(11) + ticks(12)) / 100.0
}

pub fn run(o: &Opts) -> Result<serde_json::Value> {
    if !(2..=weft_call::MAX_PARTICIPANTS).contains(&o.participants) {
        bail!("--participants: 2 to {}", weft_call::MAX_PARTICIPANTS);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async {
        let turn = o.turn.then(|| Coturn::start("weft", "bench")).transpose()?;
        let t0 = Instant::now();
        let mesh = Mesh::start(MeshConfig {
            participants: o.participants,
            video: VideoSettings {
                width: o.width,
                height: o.height,
                fps: o.fps,
                bitrate_bps: o.bitrate,
            },
            loss: o.loss,
            psnr_every: 10,
            ice_servers: turn.iter().map(Coturn::turn).collect(),
            relay_only: turn.is_some(),
        })
        .await?;
        if !mesh.wait_all_flowing(Duration::from_secs(30)).await {
            bail!("the participants did not all see each other within 30 s");
        }
        let connect_ms = t0.elapsed().as_secs_f64() * 1e3;
        let from_us = now_us();
        let cpu0 = cpu_seconds();
        let wall = Instant::now();
        tokio::time::sleep(Duration::from_secs(o.seconds)).await;
        let cpu_percent = (cpu_seconds() - cpu0) / wall.elapsed().as_secs_f64() * 100.0;
        let to_us = now_us();

        let names = mesh.names();
        let (mut g2g, mut psnr, mut audio) = (Vec::new(), Vec::new(), Vec::new());
        let (mut distinct, mut span) = (0.0, 0.0);
        let mut in_order = true;
        let frame_us = 1e6 / f64::from(o.fps);
        for (ri, r) in names.iter().enumerate() {
            for (si, s) in names.iter().enumerate() {
                if ri == si {
                    continue;
                }
                let start = mesh.starts[si].load(Ordering::Relaxed) as f64;
                let shown: Vec<_> = mesh
                    .received
                    .shown(r, s)
                    .into_iter()
                    .filter(|x| x.at_us >= from_us && x.at_us <= to_us)
                    .collect();
                let (ratio, ordered, _) = delivery(&shown);
                in_order &= ordered;
                if let (Some(a), Some(b)) = (shown.first(), shown.last()) {
                    let n = f64::from(b.frame - a.frame + 1);
                    span += n;
                    distinct += ratio * n;
                }
                for x in &shown {
                    let captured = start + f64::from(x.frame) * frame_us;
                    g2g.push((x.at_us as f64 - captured) / 1e3);
                    psnr.extend(x.psnr_db);
                }
                let astart = mesh.audio_starts[si] as f64;
                let markers = weft_call::loopback::lock_markers(&mesh.received, r, s);
                for at in markers.into_iter().filter(|t| *t >= from_us) {
                    // Markers sound once a second from the tone's start; the latency is
                    // far under a second, so the one just before is the one heard.
                    let since = at as f64 - astart;
                    audio.push((since % 1e6) / 1e3);
                }
            }
        }
        // How media went, as ICE selected it (every pair the same here: `host` or `relay`).
        let mut routes = Vec::new();
        for c in &mesh.calls {
            routes.extend(c.participants().await.into_iter().map(|p| p.route));
        }
        routes.sort();
        routes.dedup();
        mesh.stop().await;
        let psnr_db = if psnr.is_empty() {
            f64::NAN
        } else {
            psnr.iter().sum::<f64>() / psnr.len() as f64
        };
        let out = json!({
            "scenario": "call",
            "participants": o.participants,
            "seconds": o.seconds,
            "video": format!("{}x{}@{}", o.width, o.height, o.fps),
            "bitrate_bps": o.bitrate,
            "loss": o.loss,
            "routes": routes,
            "connect_ms": connect_ms.round(),
            "glass_to_glass_p50_ms": percentile(&mut g2g, 0.5),
            "glass_to_glass_p95_ms": percentile(&mut g2g, 0.95),
            "frames_delivered_ratio": if span > 0.0 { distinct / span } else { 0.0 },
            "frames_in_order": in_order,
            "frames_measured": g2g.len(),
            "psnr_db": psnr_db,
            "audio_latency_p50_ms": percentile(&mut audio, 0.5),
            "audio_markers": audio.len(),
            "cpu_percent": cpu_percent,
            "budget": {
                "connect_ms": 1000,
                "glass_to_glass_p95_ms": 100,
                "frames_delivered_ratio": 0.99,
                "psnr_db": 35
            }
        });
        Ok(out)
    })
}
