//! Several calls in one process, on loopback, each sending a numbered test pattern and a
//! tone, with what every one receives recorded: the harness of the call tests and of
//! `weft-bench call`. Signals go straight from call to call here; in the app they go
//! through the engine and the relay.

use std::collections::HashMap;
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use tokio::sync::mpsc;
use weft_media::clock::now_us;
use weft_media::frame::{AudioFrame, VideoFrame, rms_dbfs};
use weft_media::pipeline::{AudioSink, FnAudioSink, FnSink, VideoSink};
use weft_media::synthetic::{MarkerDetector, TestPattern, ToneSource, draw, read_frame_number};

use crate::{Call, CallConfig, RemoteSinks, Result, Signal, SignalMessage, VideoSettings};

/// A picture one participant showed of another's.
#[derive(Clone, Copy, Debug)]
pub struct Shown {
    pub frame: u32,
    /// When it reached the sink, on [`now_us`]'s clock.
    pub at_us: u64,
    /// Luma PSNR against the picture the sender drew, dB (when measured).
    pub psnr_db: Option<f64>,
    /// Its width and height.
    pub size: (u32, u32),
}

/// What every participant received, keyed by (receiver, sender).
#[derive(Default)]
pub struct Received {
    pub video: StdMutex<HashMap<(String, String), Vec<Shown>>>,
    /// (frames played, frames with the tone audible).
    pub audio: StdMutex<HashMap<(String, String), (u64, u64)>>,
    /// When each marker burst of the sender's tone was played, on [`now_us`]'s clock.
    pub markers: StdMutex<HashMap<(String, String), Vec<u64>>>,
}

impl Received {
    /// Pictures `receiver` showed of `sender`'s.
    pub fn shown(&self, receiver: &str, sender: &str) -> Vec<Shown> {
        lock(&self.video)
            .get(&(receiver.to_owned(), sender.to_owned()))
            .cloned()
            .unwrap_or_default()
    }

    /// (frames played, frames audible) of `sender`'s audio at `receiver`.
    pub fn heard(&self, receiver: &str, sender: &str) -> (u64, u64) {
        lock(&self.audio)
            .get(&(receiver.to_owned(), sender.to_owned()))
            .copied()
            .unwrap_or_default()
    }
}

fn lock<T>(m: &StdMutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Sinks that record, into [`Received`], the frame numbers shown and the tone heard.
pub struct RecordingSinks {
    me: String,
    received: Arc<Received>,
    /// Measure PSNR on every this many pictures (0: never); it costs a redraw.
    psnr_every: u32,
}

impl RecordingSinks {
    /// Records as participant `me`.
    pub fn new(me: &str, received: Arc<Received>, psnr_every: u32) -> RecordingSinks {
        RecordingSinks {
            me: me.to_owned(),
            received,
            psnr_every,
        }
    }
}

impl RemoteSinks for RecordingSinks {
    fn video(&self, peer: &str) -> Box<dyn VideoSink> {
        let key = (self.me.clone(), peer.to_owned());
        let received = self.received.clone();
        let every = self.psnr_every;
        Box::new(FnSink(move |f: VideoFrame| {
            let at_us = now_us();
            if let Some(frame) = read_frame_number(&f) {
                let psnr_db = (every > 0 && frame % every == 0)
                    .then(|| draw(f.width, f.height, frame, f.pts_us).ok())
                    .flatten()
                    .and_then(|reference| f.psnr_y(&reference).ok());
                lock(&received.video)
                    .entry(key.clone())
                    .or_default()
                    .push(Shown {
                        frame,
                        at_us,
                        psnr_db,
                        size: (f.width, f.height),
                    });
            }
            Ok(())
        }))
    }

    fn audio(&self, peer: &str) -> Box<dyn AudioSink> {
        let key = (self.me.clone(), peer.to_owned());
        let received = self.received.clone();
        let tone = ToneSource::new(1);
        let mut detector = MarkerDetector::new(tone.tone_hz, tone.marker_hz);
        Box::new(FnAudioSink(move |f: AudioFrame| {
            let at_us = now_us();
            {
                let mut g = lock(&received.audio);
                let e = g.entry(key.clone()).or_default();
                e.0 += 1;
                if rms_dbfs(&f.samples) > -30.0 {
                    e.1 += 1;
                }
            }
            // A marker found in this frame started about now (to within 20 ms).
            if !detector.push(&f.samples).is_empty() {
                lock(&received.markers)
                    .entry(key.clone())
                    .or_default()
                    .push(at_us);
            }
            Ok(())
        }))
    }
}

/// When `receiver` played each marker of `sender`'s tone.
pub fn lock_markers(received: &Received, receiver: &str, sender: &str) -> Vec<u64> {
    lock(&received.markers)
        .get(&(receiver.to_owned(), sender.to_owned()))
        .cloned()
        .unwrap_or_default()
}

/// What was counted lost of one participant's pictures on the way to another.
#[derive(Clone, Copy, Debug, Default)]
pub struct Losses {
    /// Captured by the sender but not encoded: its encoder was behind.
    pub not_encoded: u64,
    /// Encoded but not sent to this receiver: its connection was behind (audio included).
    pub unsent: u64,
    /// Received but not shown: the receiver's decoder was behind, then waited for a keyframe.
    pub dropped: u64,
    /// Given up by the receiver: lost on the wire and not repaired in time.
    pub given_up: u64,
}

impl Losses {
    /// Pictures shed because some stage was behind.
    pub fn shed(&self) -> u64 {
        self.not_encoded + self.unsent + self.dropped
    }
}

/// Settings of a loopback mesh.
#[derive(Clone, Debug)]
pub struct MeshConfig {
    pub participants: usize,
    pub video: VideoSettings,
    /// Share of UDP packets lost each way between participants (0.02: 2 % loss; it can be
    /// changed while the mesh runs with [`Mesh::set_loss`]): their
    /// candidates are rewritten to point at [`LossyProxy`]s.
    pub loss: f64,
    pub psnr_every: u32,
    /// STUN and TURN servers every participant uses (a [`Coturn`]'s, say).
    pub ice_servers: Vec<crate::IceServer>,
    /// Every participant sends only through a TURN server of `ice_servers`.
    pub relay_only: bool,
}

impl Default for MeshConfig {
    /// Two participants, small video, no loss, no PSNR, no STUN or TURN.
    fn default() -> MeshConfig {
        MeshConfig {
            participants: 2,
            video: VideoSettings::SMALL,
            loss: 0.0,
            psnr_every: 0,
            ice_servers: Vec::new(),
            relay_only: false,
        }
    }
}

type Proxies = Arc<tokio::sync::Mutex<HashMap<String, LossyProxy>>>;

/// A running loopback mesh.
pub struct Mesh {
    /// The lossy relays between participants (with loss), kept as long as the mesh.
    _proxies: Proxies,
    /// The share they lose, as `f64` bits.
    loss: Arc<std::sync::atomic::AtomicU64>,
    /// Every signal sent, in order: (sender, kind: `join`, `offer`, `answer`, …).
    pub signals: Arc<StdMutex<Vec<(String, String)>>>,
    pub calls: Vec<Call>,
    pub received: Arc<Received>,
    /// When each participant's test pattern started ([`now_us`]): picture `n` was captured
    /// at start + n / fps.
    pub starts: Vec<Arc<std::sync::atomic::AtomicU64>>,
    /// When each participant's tone started: its markers sound once a second from then.
    pub audio_starts: Vec<u64>,
    routers: Vec<tokio::task::JoinHandle<()>>,
}

impl Mesh {
    /// The names of the participants: `p0`, `p1`, …
    pub fn names(&self) -> Vec<String> {
        self.calls.iter().map(|c| c.me().to_owned()).collect()
    }

    /// Asserts, for every pair, that the pictures shown arrived in order and at least half
    /// of `seconds` at `fps` of them; that every picture missing in their span is one the
    /// calls counted (shed because a stage was behind, or given up on a loss); that of the
    /// pictures not shed, at least `min_ratio` were shown, so loss is repaired; and that the
    /// other's tone played at least half of `seconds` and was audible in 80 % of it.
    ///
    /// Shedding is how a call under load stays live (a picture late is worse than one
    /// missed), and how much of it happens depends on how busy the machine is, so it is
    /// accounted, not bounded, here; `weft-bench call` measures it.
    pub async fn assert_every_pair(&self, min_ratio: f64, seconds: u64, fps: u64) {
        let names = self.names();
        for (ri, r) in names.iter().enumerate() {
            for (si, s) in names.iter().enumerate().filter(|(_, s)| *s != r) {
                let t = Tally::of(&self.received.shown(r, s));
                let (span, count, missing) = (t.span, t.shown, t.missing());
                assert!(t.in_order, "{r} showed {s}'s pictures out of order");
                assert!(
                    count as u64 >= seconds * fps / 2,
                    "{r} showed only {count} of {s}'s pictures"
                );
                let l = self.losses(ri, si).await;
                assert!(
                    missing <= l.shed() + l.given_up + 2,
                    "{r} is missing {missing} of {s}'s {span} pictures, more than were counted \
                     lost: {l:?}"
                );
                let not_shed = span - l.shed().min(missing);
                let ratio = t.distinct as f64 / not_shed as f64;
                assert!(
                    ratio >= min_ratio,
                    "{r} showed {:.1} % of {s}'s {not_shed} pictures not shed under load \
                     ({count} shown, {l:?})",
                    ratio * 100.0
                );
                let (played, audible) = self.received.heard(r, s);
                assert!(
                    played >= seconds * 50 / 2,
                    "{r} played {played} frames of {s}'s audio"
                );
                assert!(
                    audible * 10 >= played * 8,
                    "{r} heard {s}'s tone in only {audible} of {played} frames"
                );
            }
        }
    }

    /// What the calls counted as lost of participant `sender`'s pictures on their way to
    /// `receiver` (indexes into [`Mesh::calls`]).
    pub async fn losses(&self, receiver: usize, sender: usize) -> Losses {
        let (r, s) = (&self.calls[receiver], &self.calls[sender]);
        let of = |parts: Vec<crate::ParticipantInfo>, peer: &str| {
            parts.into_iter().find(|p| p.peer == peer)
        };
        let to = of(s.participants().await, r.me());
        let from = of(r.participants().await, s.me());
        Losses {
            not_encoded: s.video_dropped(),
            unsent: to.as_ref().map_or(0, |p| p.frames_unsent),
            dropped: from.as_ref().map_or(0, |p| p.frames_dropped),
            given_up: from.as_ref().map_or(0, |p| p.frames_skipped),
        }
    }

    /// Starts `participants` calls that find each other through in-process signalling.
    pub async fn start(config: MeshConfig) -> Result<Mesh> {
        let received = Arc::new(Received::default());
        let mut calls = Vec::new();
        let mut outs = Vec::new();
        for i in 0..config.participants {
            let me = format!("p{i}");
            let mut c = CallConfig::new("loopback", me.clone());
            c.bind = vec!["127.0.0.1:0".into()];
            c.video = config.video;
            c.ice_servers = config.ice_servers.clone();
            c.relay_only = config.relay_only;
            let (tx, rx) = mpsc::unbounded_channel::<SignalMessage>();
            let sinks = Arc::new(RecordingSinks::new(
                &me,
                received.clone(),
                config.psnr_every,
            ));
            calls.push(Call::start(c, sinks, tx).await?);
            outs.push(rx);
        }
        let v = config.video;
        let mut starts = Vec::new();
        let mut audio_starts = Vec::new();
        for call in &calls {
            let start = Arc::new(std::sync::atomic::AtomicU64::new(0));
            starts.push(start.clone());
            call.set_video_source(move || {
                let t = now_us();
                start.store(t, std::sync::atomic::Ordering::Relaxed);
                TestPattern::new(v.width, v.height, v.fps).map(|p| p.with_start(t))
            })?;
            let t = now_us();
            call.set_audio_source(ToneSource::new(1).with_start(t))?;
            audio_starts.push(t);
        }
        // One inbox per call, handled in order, as the engine hands signals over.
        let mut inboxes = Vec::new();
        let mut routers = Vec::new();
        for call in &calls {
            let (tx, mut rx) = mpsc::unbounded_channel::<SignalMessage>();
            inboxes.push((call.me().to_owned(), tx));
            let call = call.clone();
            routers.push(tokio::spawn(async move {
                while let Some(m) = rx.recv().await {
                    if let Err(e) = call.handle(m).await {
                        tracing::warn!(me = call.me(), "signal: {e}");
                    }
                }
            }));
        }
        let proxies: Proxies = Arc::default();
        let loss = Arc::new(std::sync::atomic::AtomicU64::new(config.loss.to_bits()));
        let proxied = config.loss > 0.0;
        let signals: Arc<StdMutex<Vec<(String, String)>>> = Arc::default();
        for mut rx in outs {
            let inboxes = inboxes.clone();
            let (loss, proxies, log) = (loss.clone(), proxies.clone(), signals.clone());
            routers.push(tokio::spawn(async move {
                while let Some(mut m) = rx.recv().await {
                    let kind = serde_json::to_value(&m.signal)
                        .ok()
                        .and_then(|v| v.get("t").and_then(|t| t.as_str()).map(str::to_owned))
                        .unwrap_or_default();
                    lock(&log).push((m.from.clone(), kind));
                    if proxied && let Signal::Candidate { candidate, .. } = &mut m.signal {
                        *candidate = through_proxy(candidate, &loss, &proxies).await;
                    }
                    for (name, tx) in &inboxes {
                        if *name != m.from && m.to.as_ref().is_none_or(|t| t == name) {
                            let _ = tx.send(m.clone());
                        }
                    }
                }
            }));
        }
        Ok(Mesh {
            _proxies: proxies,
            loss,
            signals,
            calls,
            received,
            starts,
            audio_starts,
            routers,
        })
    }

    /// Changes the share of packets the proxies lose (a mesh started with loss only: without,
    /// there are no proxies).
    pub fn set_loss(&self, loss: f64) {
        self.loss
            .store(loss.to_bits(), std::sync::atomic::Ordering::Relaxed);
    }

    /// Waits until every participant shows pictures of every other (or `limit` passes);
    /// returns whether they all do.
    pub async fn wait_all_flowing(&self, limit: Duration) -> bool {
        let names = self.names();
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let all = names.iter().all(|r| {
                names
                    .iter()
                    .filter(|s| *s != r)
                    .all(|s| !self.received.shown(r, s).is_empty())
            });
            if all {
                return true;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// How many signals of `kind` `from` sent.
    pub fn sent(&self, from: &str, kind: &str) -> usize {
        lock(&self.signals)
            .iter()
            .filter(|(f, k)| f == from && k == kind)
            .count()
    }

    /// Leaves every call.
    pub async fn stop(self) {
        for c in &self.calls {
            c.leave().await;
        }
        for r in self.routers {
            r.abort();
        }
    }
}

/// What the pictures one participant showed of another's add up to.
#[derive(Clone, Copy, Debug)]
pub struct Tally {
    /// Frame numbers from the first shown to the last, both included.
    pub span: u64,
    /// Different frame numbers shown.
    pub distinct: u64,
    /// Pictures shown (a repeat counts again).
    pub shown: usize,
    pub in_order: bool,
}

impl Tally {
    /// Of the pictures shown, the tally of their span.
    pub fn of(shown: &[Shown]) -> Tally {
        let span = match (shown.first(), shown.last()) {
            (Some(a), Some(b)) => u64::from(b.frame.saturating_sub(a.frame)) + 1,
            _ => 0,
        };
        let mut distinct: Vec<u32> = shown.iter().map(|s| s.frame).collect();
        distinct.sort_unstable();
        distinct.dedup();
        Tally {
            span,
            distinct: distinct.len() as u64,
            shown: shown.len(),
            in_order: shown.windows(2).all(|w| w[1].frame > w[0].frame),
        }
    }

    /// Frame numbers in the span never shown.
    pub fn missing(&self) -> u64 {
        self.span.saturating_sub(self.distinct)
    }
}

/// Of the pictures shown, what share of those sent in their span arrived, and whether
/// they came in order: (delivered ratio, in order, count).
pub fn delivery(shown: &[Shown]) -> (f64, bool, usize) {
    let t = Tally::of(shown);
    let ratio = if t.span == 0 {
        0.0
    } else {
        t.distinct as f64 / t.span as f64
    };
    (ratio, t.in_order, t.shown)
}

/// A UDP relay that loses a share of what it passes, each way: put between two devices by
/// rewriting one's ICE candidate to point here. Loss happens on the wire, before SRTP, so
/// retransmissions (NACK) and keyframe requests work as they would on a lossy path.
pub struct LossyProxy {
    pub addr: std::net::SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl LossyProxy {
    /// Relays to and from `target` through a new loopback port.
    pub async fn start(
        target: std::net::SocketAddr,
        loss: Arc<std::sync::atomic::AtomicU64>,
    ) -> std::io::Result<LossyProxy> {
        let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await?;
        let addr = socket.local_addr()?;
        let task = tokio::spawn(async move {
            let mut buf = vec![0u8; 2048];
            let mut client: Option<std::net::SocketAddr> = None;
            loop {
                let Ok((n, from)) = socket.recv_from(&mut buf).await else {
                    return;
                };
                let to = if from == target {
                    match client {
                        Some(c) => c,
                        None => continue,
                    }
                } else {
                    client = Some(from);
                    target
                };
                let share = f64::from_bits(loss.load(std::sync::atomic::Ordering::Relaxed));
                if rand::random::<f64>() < share {
                    continue;
                }
                let _ = socket.send_to(&buf[..n], to).await;
            }
        });
        Ok(LossyProxy { addr, task })
    }
}

impl Drop for LossyProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The candidate with its address replaced by a lossy proxy's (one per candidate).
async fn through_proxy(
    candidate: &str,
    loss: &Arc<std::sync::atomic::AtomicU64>,
    proxies: &tokio::sync::Mutex<HashMap<String, LossyProxy>>,
) -> String {
    let mut fields: Vec<String> = candidate.split_whitespace().map(str::to_owned).collect();
    let (Some(ip), Some(port)) = (fields.get(4), fields.get(5)) else {
        return candidate.to_owned();
    };
    let Ok(target) = format!("{ip}:{port}").parse::<std::net::SocketAddr>() else {
        return candidate.to_owned();
    };
    let mut map = proxies.lock().await;
    let key = target.to_string();
    let addr = match map.get(&key) {
        Some(p) => p.addr.to_string(),
        None => match LossyProxy::start(target, loss.clone()).await {
            Ok(p) => {
                let a = p.addr.to_string();
                map.insert(key, p);
                a
            }
            Err(_) => return candidate.to_owned(),
        },
    };
    let Some((ip, port)) = addr.rsplit_once(':') else {
        return candidate.to_owned();
    };
    fields[4] = ip.to_owned();
    fields[5] = port.to_owned();
    fields.join(" ")
}

/// A TURN (and STUN) server, coturn's `turnserver`, on loopback for the life of this value,
/// with one long-term user. Its log is kept, so a test can see what it relayed.
pub struct Coturn {
    pub port: u16,
    pub username: String,
    pub credential: String,
    child: std::process::Child,
    dir: tempfile::TempDir,
}

impl Coturn {
    /// Starts `turnserver` on a free loopback port and waits until it listens.
    pub fn start(username: &str, credential: &str) -> std::io::Result<Coturn> {
        let dir = tempfile::tempdir()?;
        let port = std::net::UdpSocket::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let child = std::process::Command::new("turnserver")
            .args(["-n", "--listening-ip=127.0.0.1", "--relay-ip=127.0.0.1"])
            .arg(format!("--listening-port={port}"))
            // Loopback peers are refused by default; here every peer is one.
            .args([
                "--allow-loopback-peers",
                "--lt-cred-mech",
                "--realm=weft.test",
            ])
            .arg(format!("--user={username}:{credential}"))
            .args([
                "--no-tls",
                "--no-dtls",
                "--no-cli",
                "--fingerprint",
                "--simple-log",
                "--verbose",
            ])
            .arg(format!("--log-file={}", dir.path().join("log").display()))
            .arg(format!("--pidfile={}", dir.path().join("pid").display()))
            .arg(format!("--db={}", dir.path().join("turndb").display()))
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .map_err(|e| {
                std::io::Error::new(
                    e.kind(),
                    format!("starting coturn's turnserver (apt-get install coturn): {e}"),
                )
            })?;
        let server = Coturn {
            port,
            username: username.into(),
            credential: credential.into(),
            child,
            dir,
        };
        // Ready when it answers an allocation (with "401: who are you?"): that takes its
        // listener and its authentication thread, which its start-up log does not promise.
        let probe = std::net::UdpSocket::bind("127.0.0.1:0")?;
        probe.set_read_timeout(Some(Duration::from_millis(100)))?;
        let request = allocate_request();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let mut buf = [0u8; 1500];
        loop {
            probe.send_to(&request, ("127.0.0.1", port))?;
            if let Ok(n) = probe.recv(&mut buf)
                && n >= 20
                && buf[8..20] == request[8..20]
            {
                return Ok(server);
            }
            if std::time::Instant::now() > deadline {
                return Err(std::io::Error::other(format!(
                    "turnserver did not answer within 10 s: {}",
                    server.log().join("\n")
                )));
            }
        }
    }

    /// This server as TURN, with its user's credential.
    pub fn turn(&self) -> crate::IceServer {
        crate::IceServer {
            urls: vec![format!("turn:127.0.0.1:{}?transport=udp", self.port)],
            username: self.username.clone(),
            credential: self.credential.clone(),
        }
    }

    /// What it has logged so far, a line each.
    pub fn log(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.path().join("log"))
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

/// A TURN Allocate request with no credential (RFC 8656 §7.1): a server that is up answers it
/// with an error asking for one.
fn allocate_request() -> [u8; 28] {
    let mut m = [0u8; 28];
    m[0..2].copy_from_slice(&0x0003u16.to_be_bytes()); // Allocate, request
    m[2..4].copy_from_slice(&8u16.to_be_bytes()); // one 8-byte attribute
    m[4..8].copy_from_slice(&0x2112_A442u32.to_be_bytes()); // the magic cookie
    m[8..20].copy_from_slice(&rand::random::<[u8; 12]>()); // the transaction id
    m[20..22].copy_from_slice(&0x0019u16.to_be_bytes()); // REQUESTED-TRANSPORT
    m[22..24].copy_from_slice(&4u16.to_be_bytes());
    m[24] = 17; // UDP
    m
}

impl Drop for Coturn {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
