//! A call: this device's media, sent to every other participant over its own WebRTC
//! connection (mesh), and theirs received, decoded and handed to sinks.

use std::any::Any;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex as StdMutex, Weak};
use std::time::{Duration, Instant};

use bytes::Bytes;
use rtc::interceptor::Slot;
use rtc::media::Sample;
use rtc::media_stream::MediaStreamTrack;
use rtc::peer_connection::configuration::RTCOfferOptions;
use rtc::peer_connection::configuration::media_engine::{MIME_TYPE_H264, MIME_TYPE_OPUS};
use rtc::peer_connection::configuration::setting_engine::SettingEngineBuilder;
use rtc::rtcp::payload_feedbacks::full_intra_request::FullIntraRequest;
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtcp::receiver_report::ReceiverReport;
use rtc::rtcp::transport_feedbacks::transport_layer_nack::TransportLayerNack;
use rtc::rtp_transceiver::rtp_sender::{
    RTCPFeedback, RTCRtpCodec, RTCRtpCodecParameters, RTCRtpCodingParameters,
    RTCRtpEncodingParameters, RtpCodecKind,
};
use rtc::statistics::StatsSelector;
use rtc::statistics::report::RTCStatsReportEntry;
use tokio::sync::{Mutex, broadcast, mpsc};
use webrtc::media_stream::Track;
use webrtc::media_stream::track_local::static_sample::TrackLocalStaticSample;
use webrtc::media_stream::track_local::{TrackLocal, TrackLocalEvent};
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};
use webrtc::peer_connection::{
    MediaEngine, PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler,
    RTCConfigurationBuilder, RTCIceCandidateInit, RTCIceConnectionState, RTCIceGatheringState,
    RTCIceServer, RTCIceTransportPolicy, RTCPeerConnectionIceEvent, RTCPeerConnectionState,
    RTCSessionDescription, Registry, register_default_interceptors,
};
use weft_media::audio::codec::OpusConfig;
use weft_media::audio::playout::PlayoutConfig;
use weft_media::frame::{AudioFrame, EncodedAudio, EncodedVideo, VideoFrame, rms_dbfs};
use weft_media::pipeline::{
    AudioReceivePipeline, AudioSender, AudioSink, AudioSource, VideoReceiver, VideoSender,
    VideoSink, VideoSource,
};
use weft_media::video::h264::{Codec, H264Config};

use crate::bwe::LossController;
use crate::reassembly::{Output, Reassembler, RtpIn};
use crate::signal::{PeerId, Signal, SignalMessage};
use crate::tap::FeedbackTap;
use crate::{CallError, Result};

/// A STUN or TURN server: a workspace's [`weft_domain::CallServer`].
pub type IceServer = weft_domain::CallServer;

/// What this device sends.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct VideoSettings {
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    /// Starting bitrate; loss lowers it to a quarter at most and a clean path lifts it to
    /// one and a half times.
    pub bitrate_bps: u32,
}

impl VideoSettings {
    /// 320×240 at 15 fps, 300 kbit/s: light enough for a test pattern standing in for a
    /// camera, and for many participants on a small machine.
    pub const SMALL: VideoSettings = VideoSettings {
        width: 320,
        height: 240,
        fps: 15,
        bitrate_bps: 300_000,
    };
}

impl Default for VideoSettings {
    fn default() -> Self {
        VideoSettings {
            width: 640,
            height: 480,
            fps: 30,
            bitrate_bps: 800_000,
        }
    }
}

/// Everything a call needs to start.
#[derive(Clone, Debug)]
pub struct CallConfig {
    /// The call (a meeting id).
    pub call: String,
    /// This device.
    pub me: PeerId,
    pub ice_servers: Vec<IceServer>,
    /// Gather only TURN relay candidates, so media always goes through a TURN server of
    /// `ice_servers` and no other device learns this one's addresses.
    pub relay_only: bool,
    /// Local addresses to gather host candidates on; `0.0.0.0:0` is every interface (the
    /// `webrtc` crate then skips loopback, so tests bind `127.0.0.1:0`).
    pub bind: Vec<String>,
    /// Most devices in the call, this one included (a mesh sends everything N−1 times).
    pub max_participants: usize,
    pub video: VideoSettings,
    pub codec: Codec,
}

/// How long an offer waits for its answer before another may replace it.
const ANSWER_WAIT: Duration = Duration::from_secs(10);

/// The largest mesh Weft runs.
pub const MAX_PARTICIPANTS: usize = 6;

impl CallConfig {
    /// A call on every interface with no STUN server, 640×480 at 30 fps.
    pub fn new(call: impl Into<String>, me: impl Into<PeerId>) -> CallConfig {
        CallConfig {
            call: call.into(),
            me: me.into(),
            ice_servers: Vec::new(),
            relay_only: false,
            bind: vec!["0.0.0.0:0".into()],
            max_participants: MAX_PARTICIPANTS,
            video: VideoSettings::default(),
            codec: Codec::from_env(),
        }
    }

    fn validate(&self) -> Result<()> {
        if self.call.is_empty() || self.me.is_empty() {
            return Err(CallError::Invalid("a call needs an id and a device".into()));
        }
        if !(2..=MAX_PARTICIPANTS).contains(&self.max_participants) {
            return Err(CallError::Invalid(format!(
                "at most {} participants (2 to {MAX_PARTICIPANTS})",
                self.max_participants
            )));
        }
        if self.bind.is_empty() {
            return Err(CallError::Invalid("no address to bind".into()));
        }
        for s in &self.ice_servers {
            s.validate()
                .map_err(|e| CallError::Invalid(e.to_string()))?;
        }
        if self.relay_only && !self.ice_servers.iter().any(IceServer::is_turn) {
            return Err(CallError::Invalid(
                "relay-only calls need a TURN server".into(),
            ));
        }
        weft_media::frame::check_dimensions(self.video.width, self.video.height)?;
        if !(1..=60).contains(&self.video.fps) {
            return Err(CallError::Invalid(format!(
                "{} frames per second (1 to 60)",
                self.video.fps
            )));
        }
        Ok(())
    }
}

/// Where the call puts what it receives, one sink per remote device.
pub trait RemoteSinks: Send + Sync + 'static {
    fn video(&self, peer: &str) -> Box<dyn VideoSink>;
    fn audio(&self, peer: &str) -> Box<dyn AudioSink>;
}

/// One remote participant, for the participant list.
#[derive(Clone, Debug, PartialEq)]
pub struct ParticipantInfo {
    pub peer: PeerId,
    /// `new`, `connecting`, `connected`, `disconnected`, `failed` or `closed`.
    pub state: String,
    /// Pictures of theirs decoded here.
    pub frames_decoded: u64,
    /// Pictures of theirs given up (lost beyond repair) here.
    pub frames_skipped: u64,
    /// Pictures of theirs not shown here because this device was behind: dropped before the
    /// decoder, or undecodable until the keyframe asked for then.
    pub frames_dropped: u64,
    /// Encoded media of ours not sent to them because their connection fell behind (a
    /// keyframe follows at once).
    pub frames_unsent: u64,
    /// Level of their audio as played here, dBFS.
    pub audio_level_dbfs: f32,
    /// What share of our packets they report losing, percent.
    pub loss_pct: f32,
    /// `good`, `fair` or `poor`, from loss and state.
    pub quality: &'static str,
    /// How media reaches them: `host` (directly, on a local address), `srflx` (directly,
    /// through a NAT's public address a STUN server told), `prflx` (directly, on an address
    /// learned while checking) or `relay` (through a TURN server); empty until connected.
    pub route: String,
}

#[derive(Clone)]
enum Media {
    Video(Arc<EncodedVideo>),
    Audio(Arc<EncodedAudio>),
}

/// This device's capture and encoders, shared by every connection.
struct Local {
    video: StdMutex<Option<VideoSender>>,
    audio: StdMutex<Option<AudioSender>>,
    muted: AtomicBool,
    tx: broadcast::Sender<Media>,
    bwe: StdMutex<(LossController, HashMap<PeerId, u8>)>,
}

impl Local {
    fn request_keyframe(&self) {
        if let Some(v) = lock(&self.video).as_ref() {
            v.request_keyframe();
        }
    }

    fn on_loss(&self, peer: &str, fraction: u8) {
        let mut g = lock(&self.bwe);
        let (controller, losses) = &mut *g;
        losses.insert(peer.to_string(), fraction);
        let worst = losses.values().copied().max().unwrap_or(0);
        if let Some(bps) = controller.on_report(worst, Instant::now()) {
            tracing::debug!(bps, worst, "video bitrate");
            if let Some(v) = lock(&self.video).as_ref() {
                let _ = v.set_bitrate(bps);
            }
        }
    }
}

#[derive(Default)]
struct PeerStats {
    frames: AtomicU64,
    skipped: AtomicU64,
    dropped: AtomicU64,
    unsent: AtomicU64,
    level_bits: AtomicU32,
    loss: AtomicU32,
    state: StdMutex<String>,
    /// The local candidate type of the pair ICE selected (see [`ParticipantInfo::route`]).
    route: StdMutex<String>,
}

struct Peer {
    id: PeerId,
    pc: Arc<dyn PeerConnection>,
    offerer: bool,
    remote_set: AtomicBool,
    /// Since when an offer is out with its answer not in yet; a restart asked for meanwhile
    /// waits for it (two offers in flight would cross), unless the answer was lost
    /// (`ANSWER_WAIT`).
    negotiating: StdMutex<Option<Instant>>,
    restart_pending: AtomicBool,
    pending: Mutex<Vec<RTCIceCandidateInit>>,
    /// Held while an offer is made and applied here, and while an answer is applied: the
    /// offer goes out before it is applied (so it precedes its candidates), and an answer
    /// that came back meanwhile must wait for it, or it is refused and the restart stalls.
    describing: Mutex<()>,
    tracks_added: AtomicBool,
    video: Arc<TrackLocalStaticSample>,
    audio: Arc<TrackLocalStaticSample>,
    connected: Arc<AtomicBool>,
    stats: Arc<PeerStats>,
    tasks: StdMutex<Vec<tokio::task::JoinHandle<()>>>,
}

impl Drop for Peer {
    fn drop(&mut self) {
        for t in lock(&self.tasks).drain(..) {
            t.abort();
        }
    }
}

struct Inner {
    config: CallConfig,
    sinks: Arc<dyn RemoteSinks>,
    out: mpsc::UnboundedSender<SignalMessage>,
    local: Arc<Local>,
    peers: Mutex<HashMap<PeerId, Arc<Peer>>>,
    ended: AtomicBool,
    /// Why connections can't be made, for the person to see (see [`Call::problem`]).
    problem: StdMutex<Option<String>>,
}

/// See the module documentation. Cheap to clone; `leave` ends it for every clone.
#[derive(Clone)]
pub struct Call {
    inner: Arc<Inner>,
}

fn lock<T>(m: &StdMutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn rtc_err(what: &str) -> impl Fn(webrtc::error::Error) -> CallError + '_ {
    move |e| CallError::Rtc(format!("{what}: {e}"))
}

/// H.264's RTP payload type in Weft's offers.
const VIDEO_PAYLOAD_TYPE: u8 = 102;

const H264_FMTP: &str = "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f";
const OPUS_FMTP: &str = "minptime=10;useinbandfec=1";

fn h264_codec() -> RTCRtpCodec {
    let fb = |typ: &str, parameter: &str| RTCPFeedback {
        typ: typ.into(),
        parameter: parameter.into(),
    };
    RTCRtpCodec {
        mime_type: MIME_TYPE_H264.to_owned(),
        clock_rate: 90_000,
        channels: 0,
        sdp_fmtp_line: H264_FMTP.into(),
        rtcp_feedback: vec![fb("nack", ""), fb("nack", "pli"), fb("ccm", "fir")],
    }
}

fn opus_codec() -> RTCRtpCodec {
    RTCRtpCodec {
        mime_type: MIME_TYPE_OPUS.to_owned(),
        clock_rate: 48_000,
        channels: 2,
        sdp_fmtp_line: OPUS_FMTP.into(),
        rtcp_feedback: vec![],
    }
}

fn local_track(me: &str, kind: RtpCodecKind) -> Result<Arc<TrackLocalStaticSample>> {
    let (id, codec) = match kind {
        RtpCodecKind::Video => ("video", h264_codec()),
        _ => ("audio", opus_codec()),
    };
    let track = MediaStreamTrack::new(
        me.to_owned(),
        format!("{me}-{id}"),
        id.to_owned(),
        kind,
        vec![RTCRtpEncodingParameters {
            rtp_coding_parameters: RTCRtpCodingParameters {
                ssrc: Some(rand::random::<u32>()),
                ..Default::default()
            },
            codec,
            ..Default::default()
        }],
    );
    TrackLocalStaticSample::new(Instant::now(), track)
        .map(Arc::new)
        .map_err(rtc_err("making a track"))
}

/// Events from the `webrtc` driver, handled on the call's own task.
enum PeerEvent {
    Candidate(RTCIceCandidateInit),
    Gathering(RTCIceGatheringState),
    State(RTCPeerConnectionState),
    Ice(RTCIceConnectionState),
    Track(Arc<dyn TrackRemote>),
}

struct Handler {
    tx: mpsc::UnboundedSender<PeerEvent>,
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Handler {
    async fn on_ice_candidate(&self, event: RTCPeerConnectionIceEvent) {
        if let Ok(c) = event.candidate.to_json()
            && !c.candidate.is_empty()
        {
            let _ = self.tx.send(PeerEvent::Candidate(c));
        }
    }
    async fn on_connection_state_change(&self, state: RTCPeerConnectionState) {
        let _ = self.tx.send(PeerEvent::State(state));
    }
    async fn on_ice_gathering_state_change(&self, state: RTCIceGatheringState) {
        let _ = self.tx.send(PeerEvent::Gathering(state));
    }
    async fn on_ice_connection_state_change(&self, state: RTCIceConnectionState) {
        let _ = self.tx.send(PeerEvent::Ice(state));
    }
    async fn on_track(&self, track: Arc<dyn TrackRemote>) {
        let _ = self.tx.send(PeerEvent::Track(track));
    }
}

/// A boxed sink is a sink.
struct BoxedVideo(Box<dyn VideoSink>);
impl VideoSink for BoxedVideo {
    fn render(&mut self, frame: VideoFrame) -> weft_media::Result<()> {
        self.0.render(frame)
    }
}

/// Plays into the app's sink and keeps a smoothed level for the active-speaker display.
struct MeteredAudio {
    sink: Box<dyn AudioSink>,
    stats: Arc<PeerStats>,
    level: f32,
}
impl AudioSink for MeteredAudio {
    fn play(&mut self, frame: AudioFrame) -> weft_media::Result<()> {
        let db = rms_dbfs(&frame.samples).max(-100.0);
        // Fast attack, slow release, as level meters do.
        self.level = if db > self.level {
            db
        } else {
            0.9 * self.level + 0.1 * db
        };
        self.stats
            .level_bits
            .store(self.level.to_bits(), Ordering::Relaxed);
        self.sink.play(frame)
    }
}

/// Counts pictures as they are shown.
struct CountedVideo {
    sink: Box<dyn VideoSink>,
    stats: Arc<PeerStats>,
}
impl VideoSink for CountedVideo {
    fn render(&mut self, frame: VideoFrame) -> weft_media::Result<()> {
        self.stats.frames.fetch_add(1, Ordering::Relaxed);
        self.sink.render(frame)
    }
}

impl Call {
    /// Starts a call: announces this device to the others (`out` carries every signal to
    /// send; the caller seals it and puts it on the relay). No media is sent until a source
    /// is set.
    pub async fn start(
        config: CallConfig,
        sinks: Arc<dyn RemoteSinks>,
        out: mpsc::UnboundedSender<SignalMessage>,
    ) -> Result<Call> {
        config.validate()?;
        let v = config.video;
        let (tx, _) = broadcast::channel(64);
        let local = Arc::new(Local {
            video: StdMutex::new(None),
            audio: StdMutex::new(None),
            muted: AtomicBool::new(false),
            tx,
            bwe: StdMutex::new((
                LossController::new(
                    v.bitrate_bps,
                    (v.bitrate_bps / 4).max(50_000),
                    v.bitrate_bps * 3 / 2,
                ),
                HashMap::new(),
            )),
        });
        let call = Call {
            inner: Arc::new(Inner {
                config,
                sinks,
                out,
                local,
                peers: Mutex::new(HashMap::new()),
                ended: AtomicBool::new(false),
                problem: StdMutex::new(None),
            }),
        };
        call.send(None, Signal::Join);
        Ok(call)
    }

    /// This device's id.
    pub fn me(&self) -> &str {
        &self.inner.config.me
    }

    /// Why this device can't connect to the others, when it can't: it found no address to
    /// offer them (with relay-only calls, the TURN servers did not answer or refused the
    /// credentials). Cleared when an address is found.
    pub fn problem(&self) -> Option<String> {
        lock(&self.inner.problem).clone()
    }

    /// The call's id.
    pub fn id(&self) -> &str {
        &self.inner.config.call
    }

    fn send(&self, to: Option<&str>, signal: Signal) {
        let _ = self.inner.out.send(SignalMessage {
            call: self.inner.config.call.clone(),
            from: self.inner.config.me.clone(),
            to: to.map(str::to_owned),
            signal,
        });
    }

    /// Sends video from a source made on the capture thread (a camera, a test pattern, a
    /// file), replacing any source before it: switching cameras mid-call is this.
    pub fn set_video_source<S: VideoSource>(
        &self,
        make: impl FnOnce() -> weft_media::Result<S> + Send + 'static,
    ) -> Result<()> {
        let local = &self.inner.local;
        let v = self.inner.config.video;
        let bitrate = lock(&local.bwe).0.bitrate();
        let tx = local.tx.clone();
        // The old source stops first: a camera can't be opened twice.
        drop(lock(&local.video).take());
        let sender = VideoSender::start_with(
            make,
            &self.inner.config.codec,
            H264Config {
                bitrate_bps: bitrate,
                max_fps: v.fps as f32,
                // PLI answers a loss at once; a periodic IDR still heals a receiver whose
                // request went missing.
                keyframe_interval: v.fps * 10,
                threads: 1,
            },
            2,
            move |unit| {
                let _ = tx.send(Media::Video(Arc::new(unit)));
            },
        )?;
        *lock(&local.video) = Some(sender);
        Ok(())
    }

    /// Pictures captured since the video source was set that were never encoded because the
    /// encoder was behind (0 with no source).
    pub fn video_dropped(&self) -> u64 {
        lock(&self.inner.local.video)
            .as_ref()
            .map_or(0, |v| v.stats().dropped.load(Ordering::Relaxed))
    }

    /// Stops sending video (the camera is released); the others keep their last picture.
    pub fn camera_off(&self) {
        drop(lock(&self.inner.local.video).take());
    }

    /// Whether video is being sent.
    pub fn camera_on(&self) -> bool {
        lock(&self.inner.local.video).is_some()
    }

    /// Sends audio from `source` (a microphone, a tone, a file), replacing any before it.
    pub fn set_audio_source(&self, source: impl AudioSource) -> Result<()> {
        let local = &self.inner.local;
        let tx = local.tx.clone();
        drop(lock(&local.audio).take());
        let sender = AudioSender::start(source, OpusConfig::default(), false, move |p| {
            let _ = tx.send(Media::Audio(Arc::new(p)));
        })?;
        sender.set_muted(local.muted.load(Ordering::Relaxed));
        *lock(&local.audio) = Some(sender);
        Ok(())
    }

    /// Mutes or unmutes the microphone (the level meter keeps working: "you're muted").
    pub fn set_muted(&self, muted: bool) {
        let local = &self.inner.local;
        local.muted.store(muted, Ordering::Relaxed);
        if let Some(a) = lock(&local.audio).as_ref() {
            a.set_muted(muted);
        }
    }

    /// Whether the microphone is muted.
    pub fn muted(&self) -> bool {
        self.inner.local.muted.load(Ordering::Relaxed)
    }

    /// This device's input level, dBFS (for the pre-join meter and "you're muted").
    pub fn input_level_dbfs(&self) -> Option<f32> {
        lock(&self.inner.local.audio)
            .as_ref()
            .map(|a| a.level().level_dbfs())
    }

    /// The video bitrate now aimed at, bit/s.
    pub fn video_bitrate(&self) -> u32 {
        lock(&self.inner.local.bwe).0.bitrate()
    }

    /// The remote participants.
    pub async fn participants(&self) -> Vec<ParticipantInfo> {
        let peers = self.inner.peers.lock().await;
        let mut v: Vec<ParticipantInfo> = peers
            .values()
            .map(|p| {
                let state = lock(&p.stats.state).clone();
                let loss_pct = f32::from_bits(p.stats.loss.load(Ordering::Relaxed));
                let quality = if state != "connected" || loss_pct > 10.0 {
                    "poor"
                } else if loss_pct > 2.0 {
                    "fair"
                } else {
                    "good"
                };
                ParticipantInfo {
                    peer: p.id.clone(),
                    state,
                    frames_decoded: p.stats.frames.load(Ordering::Relaxed),
                    frames_skipped: p.stats.skipped.load(Ordering::Relaxed),
                    frames_dropped: p.stats.dropped.load(Ordering::Relaxed),
                    frames_unsent: p.stats.unsent.load(Ordering::Relaxed),
                    audio_level_dbfs: f32::from_bits(p.stats.level_bits.load(Ordering::Relaxed)),
                    loss_pct,
                    quality,
                    route: lock(&p.stats.route).clone(),
                }
            })
            .collect();
        v.sort_by(|a, b| a.peer.cmp(&b.peer));
        v
    }

    /// Who is speaking loudest now (above −50 dBFS), if anyone.
    pub async fn active_speaker(&self) -> Option<PeerId> {
        self.participants()
            .await
            .into_iter()
            .filter(|p| p.audio_level_dbfs > -50.0)
            .max_by(|a, b| a.audio_level_dbfs.total_cmp(&b.audio_level_dbfs))
            .map(|p| p.peer)
    }

    /// Handles a signal from another device (already verified by the engine).
    pub async fn handle(&self, msg: SignalMessage) -> Result<()> {
        if self.inner.ended.load(Ordering::Relaxed) {
            return Err(CallError::Ended);
        }
        let me = self.inner.config.me.clone();
        msg.validate(&me)?;
        if msg.call != self.inner.config.call {
            return Err(CallError::BadSignal {
                from: msg.from,
                reason: format!("it is for call {}", msg.call),
            });
        }
        if msg.to.as_deref().is_some_and(|t| t != me) {
            return Ok(());
        }
        let from = msg.from.clone();
        match msg.signal {
            Signal::Join => {
                if self.inner.peers.lock().await.contains_key(&from) {
                    return Ok(());
                }
                if me < from {
                    self.connect(&from).await?;
                } else if msg.to.is_none() {
                    // They sort first: they make the offer once they know I'm here.
                    self.check_room(&from).await?;
                    self.send(Some(&from), Signal::Join);
                }
            }
            Signal::Offer { sdp } => self.on_offer(&from, sdp).await?,
            Signal::Answer { sdp } => {
                let peer = self.peer(&from).await.ok_or_else(|| CallError::BadSignal {
                    from: from.clone(),
                    reason: "an answer to no offer".into(),
                })?;
                if !peer.offerer {
                    return Err(CallError::BadSignal {
                        from,
                        reason: "an answer, but it made the offer".into(),
                    });
                }
                let desc =
                    RTCSessionDescription::answer(sdp).map_err(|e| CallError::BadSignal {
                        from: from.clone(),
                        reason: format!("answer: {e}"),
                    })?;
                {
                    let _describing = peer.describing.lock().await;
                    peer.pc.set_remote_description(desc).await.map_err(|e| {
                        CallError::BadSignal {
                            from: from.clone(),
                            reason: format!("answer refused: {e}"),
                        }
                    })?;
                }
                self.remote_set(&peer).await;
                *lock(&peer.negotiating) = None;
                if peer.restart_pending.swap(false, Ordering::AcqRel) {
                    self.offer(&peer, true).await?;
                }
            }
            Signal::Candidate {
                candidate,
                sdp_mid,
                sdp_mline_index,
            } => {
                let Some(peer) = self.peer(&from).await else {
                    tracing::debug!(%from, "candidate for no connection");
                    return Ok(());
                };
                let init = RTCIceCandidateInit {
                    candidate,
                    sdp_mid,
                    sdp_mline_index,
                    ..Default::default()
                };
                if peer.remote_set.load(Ordering::Acquire) {
                    peer.pc
                        .add_ice_candidate(init)
                        .await
                        .map_err(|e| CallError::BadSignal {
                            from,
                            reason: format!("ICE candidate: {e}"),
                        })?;
                } else {
                    let mut pending = peer.pending.lock().await;
                    if pending.len() < 64 {
                        pending.push(init);
                    }
                }
            }
            Signal::Restart => {
                if let Some(peer) = self.peer(&from).await
                    && peer.offerer
                {
                    self.offer(&peer, true).await?;
                }
            }
            Signal::Leave => {
                if let Some(peer) = self.inner.peers.lock().await.remove(&from) {
                    let _ = peer.pc.close().await;
                }
            }
        }
        Ok(())
    }

    /// Restarts ICE with a participant (a network path changed); the offerer of the pair
    /// does it, so the other asks.
    pub async fn restart_ice(&self, peer: &str) -> Result<()> {
        let p = self
            .peer(peer)
            .await
            .ok_or_else(|| CallError::Invalid(format!("{peer} is not in the call")))?;
        if p.offerer {
            self.offer(&p, true).await
        } else {
            self.send(Some(peer), Signal::Restart);
            Ok(())
        }
    }

    /// Leaves: tells the others, closes every connection and releases the devices.
    pub async fn leave(&self) {
        if self.inner.ended.swap(true, Ordering::Relaxed) {
            return;
        }
        self.send(None, Signal::Leave);
        let peers: Vec<Arc<Peer>> = self
            .inner
            .peers
            .lock()
            .await
            .drain()
            .map(|(_, p)| p)
            .collect();
        for p in peers {
            let _ = p.pc.close().await;
        }
        let local = self.inner.local.clone();
        let _ = tokio::task::spawn_blocking(move || {
            drop(lock(&local.video).take());
            drop(lock(&local.audio).take());
        })
        .await;
    }

    async fn peer(&self, id: &str) -> Option<Arc<Peer>> {
        self.inner.peers.lock().await.get(id).cloned()
    }

    async fn check_room(&self, from: &str) -> Result<()> {
        let peers = self.inner.peers.lock().await;
        let max = self.inner.config.max_participants;
        if !peers.contains_key(from) && peers.len() + 1 >= max {
            return Err(CallError::Full { max });
        }
        Ok(())
    }

    async fn remote_set(&self, peer: &Peer) {
        peer.remote_set.store(true, Ordering::Release);
        let pending: Vec<RTCIceCandidateInit> = peer.pending.lock().await.drain(..).collect();
        for c in pending {
            if let Err(e) = peer.pc.add_ice_candidate(c).await {
                tracing::debug!(peer = %peer.id, "early candidate refused: {e}");
            }
        }
    }

    async fn connect(&self, remote: &str) -> Result<()> {
        let peer = self.new_peer(remote, true).await?;
        self.add_tracks(&peer).await?;
        self.offer(&peer, false).await
    }

    async fn offer(&self, peer: &Peer, restart: bool) -> Result<()> {
        {
            let mut since = lock(&peer.negotiating);
            if since.is_some_and(|t| t.elapsed() < ANSWER_WAIT) {
                peer.restart_pending.store(true, Ordering::Release);
                return Ok(());
            }
            *since = Some(Instant::now());
        }
        let _describing = peer.describing.lock().await;
        let options = restart.then_some(RTCOfferOptions { ice_restart: true });
        let offer = peer
            .pc
            .create_offer(options)
            .await
            .map_err(rtc_err("making an offer"))?;
        // Sent before it is applied, so that it reaches the other side before the
        // candidates its gathering trickles out.
        self.send(
            Some(&peer.id),
            Signal::Offer {
                sdp: offer.sdp.clone(),
            },
        );
        peer.pc
            .set_local_description(offer)
            .await
            .map_err(rtc_err("applying an offer"))
    }

    async fn on_offer(&self, from: &str, sdp: String) -> Result<()> {
        let bad = |reason: String| CallError::BadSignal {
            from: from.to_owned(),
            reason,
        };
        let peer = match self.peer(from).await {
            Some(p) if p.offerer => {
                return Err(bad("an offer, but this device makes the offers".into()));
            }
            Some(p) => p,
            None => {
                if from > self.me() {
                    return Err(bad("an offer, but this device makes the offers".into()));
                }
                self.new_peer(from, false).await?
            }
        };
        let desc = RTCSessionDescription::offer(sdp).map_err(|e| bad(format!("offer: {e}")))?;
        peer.pc
            .set_remote_description(desc)
            .await
            .map_err(|e| bad(format!("offer refused: {e}")))?;
        self.add_tracks(&peer).await?;
        let answer = peer
            .pc
            .create_answer(None)
            .await
            .map_err(rtc_err("making an answer"))?;
        self.send(
            Some(from),
            Signal::Answer {
                sdp: answer.sdp.clone(),
            },
        );
        peer.pc
            .set_local_description(answer)
            .await
            .map_err(rtc_err("applying an answer"))?;
        self.remote_set(&peer).await;
        Ok(())
    }

    async fn add_tracks(&self, peer: &Peer) -> Result<()> {
        if peer.tracks_added.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        for t in [&peer.video, &peer.audio] {
            peer.pc
                .add_track(Arc::clone(t) as Arc<dyn TrackLocal>)
                .await
                .map_err(rtc_err("adding a track"))?;
        }
        Ok(())
    }

    async fn new_peer(&self, remote: &str, offerer: bool) -> Result<Arc<Peer>> {
        self.check_room(remote).await?;
        let config = &self.inner.config;
        let mut media = MediaEngine::default();
        media
            .register_codec(
                RTCRtpCodecParameters {
                    rtp_codec: opus_codec(),
                    payload_type: 111,
                },
                RtpCodecKind::Audio,
            )
            .map_err(rtc_err("registering Opus"))?;
        media
            .register_codec(
                RTCRtpCodecParameters {
                    rtp_codec: h264_codec(),
                    payload_type: VIDEO_PAYLOAD_TYPE,
                },
                RtpCodecKind::Video,
            )
            .map_err(rtc_err("registering H.264"))?;
        let video_sent = Arc::new(AtomicU64::new(0));
        let registry = register_default_interceptors(Registry::new(), &mut media)
            .map_err(rtc_err("interceptors"))?
            // Last, so the others have seen every packet before it picks out ours.
            .with(
                Slot::from(14_000),
                FeedbackTap::new(video_sent.clone(), VIDEO_PAYLOAD_TYPE),
            );

        let ice_servers = config
            .ice_servers
            .iter()
            .map(|s| RTCIceServer {
                urls: s.urls.clone(),
                username: s.username.clone(),
                credential: s.credential.clone(),
            })
            .collect();
        let (tx, rx) = mpsc::unbounded_channel();
        let mut settings = SettingEngineBuilder::new();
        if config.relay_only {
            // ICE waits 2 s for a better pair before it accepts a relayed one; with relay
            // candidates only, there is none to wait for.
            settings = settings.with_relay_acceptance_min_wait(Some(Duration::ZERO));
        }
        let pc = PeerConnectionBuilder::new()
            .with_setting_engine(settings.build())
            .with_configuration(
                RTCConfigurationBuilder::new()
                    .with_ice_servers(ice_servers)
                    .with_ice_transport_policy(if config.relay_only {
                        RTCIceTransportPolicy::Relay
                    } else {
                        RTCIceTransportPolicy::All
                    })
                    .build(),
            )
            .with_media_engine(media)
            .with_interceptor_registry(registry)
            .with_handler(Arc::new(Handler { tx }))
            .with_udp_addrs(config.bind.clone())
            .build()
            .await
            .map_err(rtc_err("opening a connection"))?;
        let stats = Arc::new(PeerStats::default());
        *lock(&stats.state) = "new".into();
        let peer = Arc::new(Peer {
            id: remote.to_owned(),
            pc: Arc::new(pc),
            offerer,
            remote_set: AtomicBool::new(false),
            negotiating: StdMutex::new(None),
            restart_pending: AtomicBool::new(false),
            pending: Mutex::new(Vec::new()),
            describing: Mutex::new(()),
            tracks_added: AtomicBool::new(false),
            video: local_track(&config.me, RtpCodecKind::Video)?,
            audio: local_track(&config.me, RtpCodecKind::Audio)?,
            connected: Arc::new(AtomicBool::new(false)),
            stats,
            tasks: StdMutex::new(Vec::new()),
        });
        let weak = Arc::downgrade(&self.inner);
        let events = tokio::spawn(peer_events(weak, Arc::downgrade(&peer), rx));
        let writer = tokio::spawn(write_media(
            self.inner.local.tx.subscribe(),
            peer.video.clone(),
            peer.audio.clone(),
            peer.connected.clone(),
            config.video.fps,
            self.inner.local.clone(),
            peer.stats.clone(),
        ));
        let feedback = tokio::spawn(read_feedback(
            peer.video.clone(),
            self.inner.local.clone(),
            remote.to_owned(),
            peer.stats.clone(),
            video_sent,
        ));
        lock(&peer.tasks).extend([events, writer, feedback]);
        self.inner
            .peers
            .lock()
            .await
            .insert(remote.to_owned(), peer.clone());
        Ok(peer)
    }
}

/// Records which kind of path ICE selected (`host`, `srflx`, `prflx` or `relay`), asking the
/// connection's statistics until a pair is selected (for at most two seconds).
async fn learn_route(pc: Arc<dyn PeerConnection>, stats: Arc<PeerStats>) {
    for _ in 0..20 {
        let report = pc.get_stats(Instant::now(), StatsSelector::None).await;
        let selected = report
            .transport()
            .map(|t| t.selected_candidate_pair_id.clone())
            .filter(|id| !id.is_empty());
        let pair = report.candidate_pairs().find(|p| match &selected {
            Some(id) => p.stats.id == *id,
            None => p.nominated,
        });
        // The pair names its candidate by the candidate's own id; the report keys it
        // with a prefix.
        let local = pair.and_then(|pair| {
            report.iter().find_map(|e| match e {
                RTCStatsReportEntry::LocalCandidate(c)
                    if !pair.local_candidate_id.is_empty()
                        && c.stats.id.ends_with(&pair.local_candidate_id) =>
                {
                    Some(c.candidate_type.to_string())
                }
                _ => None,
            })
        });
        if let Some(kind) = local {
            *lock(&stats.route) = kind;
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Handles one connection's driver events until it closes.
async fn peer_events(
    inner: Weak<Inner>,
    peer: Weak<Peer>,
    mut rx: mpsc::UnboundedReceiver<PeerEvent>,
) {
    let mut failed_since: Option<Instant> = None;
    // Candidates found in this round of gathering (a restart gathers again).
    let mut gathered = 0usize;
    while let Some(ev) = rx.recv().await {
        let (Some(inner), Some(peer)) = (inner.upgrade(), peer.upgrade()) else {
            return;
        };
        let call = Call { inner };
        match ev {
            PeerEvent::Candidate(c) => {
                gathered += 1;
                *lock(&call.inner.problem) = None;
                call.send(
                    Some(&peer.id),
                    Signal::Candidate {
                        candidate: c.candidate,
                        sdp_mid: c.sdp_mid,
                        sdp_mline_index: c.sdp_mline_index,
                    },
                )
            }
            PeerEvent::Gathering(RTCIceGatheringState::Gathering) => gathered = 0,
            PeerEvent::Gathering(RTCIceGatheringState::Complete) if gathered == 0 => {
                let c = &call.inner.config;
                let why = if c.relay_only {
                    let turn: Vec<&str> = c
                        .ice_servers
                        .iter()
                        .filter(|s| s.is_turn())
                        .flat_map(|s| s.urls.iter().map(String::as_str))
                        .collect();
                    format!(
                        "calls here go only through a TURN server, and none gave an address \
                         (it did not answer or refused the credentials): {}",
                        turn.join(", ")
                    )
                } else {
                    "this device found no network address to connect from".to_owned()
                };
                tracing::warn!(peer = %peer.id, "{why}");
                *lock(&call.inner.problem) = Some(why);
            }
            PeerEvent::Gathering(_) => {}
            PeerEvent::State(s) => {
                *lock(&peer.stats.state) = s.to_string();
                let up = s == RTCPeerConnectionState::Connected;
                peer.connected.store(up, Ordering::Relaxed);
                if up {
                    // Their decoder can start only at a keyframe.
                    call.inner.local.request_keyframe();
                }
            }
            PeerEvent::Ice(s) => match s {
                RTCIceConnectionState::Failed | RTCIceConnectionState::Disconnected => {
                    // The path changed or went away: the offerer restarts ICE (once every
                    // few seconds at most, while it stays down).
                    let due = failed_since.is_none_or(|t| t.elapsed() > Duration::from_secs(3));
                    if peer.offerer && due {
                        failed_since = Some(Instant::now());
                        if let Err(e) = call.offer(&peer, true).await {
                            tracing::warn!(peer = %peer.id, "ICE restart: {e}");
                        }
                    }
                }
                RTCIceConnectionState::Connected | RTCIceConnectionState::Completed => {
                    failed_since = None;
                    // The pair may be new (a first connection, or one after a restart).
                    let task = tokio::spawn(learn_route(peer.pc.clone(), peer.stats.clone()));
                    lock(&peer.tasks).push(task);
                }
                _ => {}
            },
            PeerEvent::Track(track) => {
                let kind = track.kind().await;
                let task = match kind {
                    RtpCodecKind::Video => {
                        let sink = CountedVideo {
                            sink: call.inner.sinks.video(&peer.id),
                            stats: peer.stats.clone(),
                        };
                        tokio::spawn(receive_video(
                            track,
                            Box::new(sink),
                            call.inner.config.codec.clone(),
                            peer.stats.clone(),
                        ))
                    }
                    RtpCodecKind::Audio => {
                        let sink = MeteredAudio {
                            sink: call.inner.sinks.audio(&peer.id),
                            stats: peer.stats.clone(),
                            level: -100.0,
                        };
                        tokio::spawn(receive_audio(track, sink))
                    }
                    _ => continue,
                };
                lock(&peer.tasks).push(task);
            }
        }
    }
}

/// Writes this device's encoded media onto one connection's tracks.
async fn write_media(
    mut rx: broadcast::Receiver<Media>,
    video: Arc<TrackLocalStaticSample>,
    audio: Arc<TrackLocalStaticSample>,
    connected: Arc<AtomicBool>,
    fps: u32,
    local: Arc<Local>,
    stats: Arc<PeerStats>,
) {
    let frame = Duration::from_secs(1) / fps.max(1);
    let mut last_pts: Option<u64> = None;
    let mut audio_gap = 0u32;
    let (Some(vssrc), Some(assrc)) = (
        video.ssrcs().await.first().copied(),
        audio.ssrcs().await.first().copied(),
    ) else {
        return;
    };
    loop {
        let media = match rx.recv().await {
            Ok(m) => m,
            // Behind: what was missed is gone, and the pictures after it would refer to
            // one they never got: send a keyframe next.
            Err(broadcast::error::RecvError::Lagged(n)) => {
                stats.unsent.fetch_add(n, Ordering::Relaxed);
                local.request_keyframe();
                continue;
            }
            Err(broadcast::error::RecvError::Closed) => return,
        };
        if !connected.load(Ordering::Relaxed) {
            continue;
        }
        match media {
            Media::Video(unit) => {
                if unit.data.is_empty() {
                    continue;
                }
                let duration = last_pts
                    .map(|p| Duration::from_micros(unit.pts_us.saturating_sub(p)))
                    .filter(|d| !d.is_zero() && *d < Duration::from_secs(1))
                    .unwrap_or(frame);
                last_pts = Some(unit.pts_us);
                let sample = Sample {
                    data: Bytes::copy_from_slice(&unit.data),
                    duration,
                    ..Sample::new(Instant::now())
                };
                if let Err(e) = video.sample_writer(vssrc, 102).write_sample(&sample).await {
                    tracing::debug!("video write: {e}");
                }
            }
            Media::Audio(packet) => {
                if packet.data.is_empty() {
                    // DTX: nothing to send, but the clock moves on.
                    audio_gap += 1;
                    continue;
                }
                let sample = Sample {
                    data: Bytes::copy_from_slice(&packet.data),
                    duration: Duration::from_millis(20) * (1 + audio_gap),
                    ..Sample::new(Instant::now())
                };
                audio_gap = 0;
                if let Err(e) = audio.sample_writer(assrc, 111).write_sample(&sample).await {
                    tracing::debug!("audio write: {e}");
                }
            }
        }
    }
}

/// Reads what the other side says about our video: keyframe requests and loss.
async fn read_feedback(
    video: Arc<TrackLocalStaticSample>,
    local: Arc<Local>,
    peer: PeerId,
    stats: Arc<PeerStats>,
    video_sent: Arc<AtomicU64>,
) {
    let mut loss = NackLoss::default();
    loop {
        // `None` is "not bound to a connection": before negotiation has bound the track (this
        // task starts with the connection), and between an unbind and a rebind. Looking again
        // until then matters: a task that took `None` for the end ignored every keyframe
        // request of the call, and the other side showed nothing until the next periodic
        // keyframe. The task ends when its connection does (it is aborted with it).
        let Some(TrackLocalEvent::OnRtcpPacket(packets)) = video.poll().await else {
            tokio::time::sleep(Duration::from_millis(20)).await;
            continue;
        };
        for p in packets {
            let any = p.as_any();
            if any.is::<PictureLossIndication>() || any.is::<FullIntraRequest>() {
                local.request_keyframe();
            } else if let Some(nack) = any.downcast_ref::<TransportLayerNack>() {
                loss.nacked(nack);
            } else if let Some(rr) = any.downcast_ref::<ReceiverReport>() {
                // A retransmission answered in time counts as received in a report's
                // fraction lost, so with NACK it shows almost no loss; the share of packets
                // asked for again shows what the path lost.
                let reported = rr.reports.iter().map(|r| r.fraction_lost).max();
                let Some(reported) = reported else { continue };
                let fraction = reported.max(loss.fraction(video_sent.load(Ordering::Relaxed)));
                let pct = f32::from(fraction) * 100.0 / 256.0;
                stats.loss.store(pct.to_bits(), Ordering::Relaxed);
                local.on_loss(&peer, fraction);
            }
        }
    }
}

/// The share of video packets the other side asked for again since the last look. A packet
/// still missing is asked for again every 100 ms, so each is counted once (at most
/// `MAX_NACKED` of them a look).
#[derive(Default)]
struct NackLoss {
    nacked: std::collections::HashSet<u16>,
    sent_then: u64,
}

const MAX_NACKED: usize = 4096;

impl NackLoss {
    fn nacked(&mut self, nack: &TransportLayerNack) {
        for seq in nack.nacks.iter().flat_map(|pair| *pair) {
            if self.nacked.len() < MAX_NACKED {
                self.nacked.insert(seq);
            }
        }
    }

    /// The fraction (0–255, as RTCP carries it) since the last call, given the packets sent
    /// so far; 0 when too few were sent to tell.
    fn fraction(&mut self, sent_now: u64) -> u8 {
        let sent = sent_now.saturating_sub(self.sent_then);
        if sent < 20 {
            return 0;
        }
        let f = (self.nacked.len() as u64 * 256 / sent).min(255) as u8;
        self.nacked.clear();
        self.sent_then = sent_now;
        f
    }
}

/// Keeps a pipeline alive while its task runs, and stops it off the async threads.
struct Hold(Option<Box<dyn Any + Send>>);
impl Drop for Hold {
    fn drop(&mut self) {
        if let Some(p) = self.0.take()
            && let Ok(h) = tokio::runtime::Handle::try_current()
        {
            h.spawn_blocking(move || drop(p));
        }
    }
}

async fn receive_video(
    track: Arc<dyn TrackRemote>,
    sink: Box<dyn VideoSink>,
    codec: Codec,
    stats: Arc<PeerStats>,
) {
    let Some(ssrc) = track.ssrcs().await.first().copied() else {
        return;
    };
    let (pli_tx, mut pli_rx) = mpsc::unbounded_channel::<()>();
    let decoder_pli = pli_tx.clone();
    let receiver = match VideoReceiver::start(BoxedVideo(sink), &codec, 4, move || {
        let _ = decoder_pli.send(());
    }) {
        Ok(r) => Arc::new(r),
        Err(e) => {
            tracing::warn!("video decoder: {e}");
            return;
        }
    };
    let _hold = Hold(Some(Box::new(receiver.clone())));
    let mut reassembler = Reassembler::new();
    let mut tick = tokio::time::interval(Duration::from_millis(50));
    let mut last_pli: Option<Instant> = None;
    loop {
        let out: Output = tokio::select! {
            ev = track.poll() => match ev {
                Some(TrackRemoteEvent::OnRtpPacket(p)) => reassembler.push(
                    RtpIn {
                        seq: p.header.sequence_number,
                        timestamp: p.header.timestamp,
                        marker: p.header.marker,
                        payload: p.payload,
                    },
                    Instant::now(),
                ),
                Some(TrackRemoteEvent::OnEnded) | None => return,
                Some(_) => continue,
            },
            Some(()) = pli_rx.recv() => Output { units: Vec::new(), need_keyframe: true },
            _ = tick.tick() => reassembler.poll(Instant::now()),
        };
        stats
            .skipped
            .store(reassembler.stats().skipped, Ordering::Relaxed);
        let decoding = receiver.stats();
        stats.dropped.store(
            decoding.dropped.load(Ordering::Relaxed) + decoding.errors.load(Ordering::Relaxed),
            Ordering::Relaxed,
        );
        for u in out.units {
            receiver.push(EncodedVideo {
                data: u.data,
                keyframe: u.keyframe,
                pts_us: weft_media::clock::now_us(),
            });
        }
        if out.need_keyframe && last_pli.is_none_or(|t| t.elapsed() >= Duration::from_millis(200)) {
            last_pli = Some(Instant::now());
            let pli = PictureLossIndication {
                sender_ssrc: 0,
                media_ssrc: ssrc,
            };
            if track.write_rtcp(vec![Box::new(pli)]).await.is_err() {
                return;
            }
        }
    }
}

async fn receive_audio(track: Arc<dyn TrackRemote>, sink: MeteredAudio) {
    let pipeline = match AudioReceivePipeline::start(sink, 1, PlayoutConfig::default()) {
        Ok(p) => Arc::new(p),
        Err(e) => {
            tracing::warn!("audio playout: {e}");
            return;
        }
    };
    let _hold = Hold(Some(Box::new(pipeline.clone())));
    let mut base: Option<u32> = None;
    while let Some(ev) = track.poll().await {
        match ev {
            TrackRemoteEvent::OnRtpPacket(p) => {
                let ts = p.header.timestamp;
                let b = *base.get_or_insert(ts);
                pipeline.push(EncodedAudio {
                    data: p.payload.to_vec(),
                    seq: ts.wrapping_sub(b) / 960,
                    pts_us: weft_media::clock::now_us(),
                });
            }
            TrackRemoteEvent::OnEnded => return,
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rtc::rtcp::transport_feedbacks::transport_layer_nack::NackPair;

    fn nack(pairs: &[(u16, u16)]) -> TransportLayerNack {
        TransportLayerNack {
            sender_ssrc: 1,
            media_ssrc: 2,
            nacks: pairs
                .iter()
                .map(|&(packet_id, lost_packets)| NackPair {
                    packet_id,
                    lost_packets,
                })
                .collect(),
        }
    }

    #[test]
    fn the_share_of_packets_asked_for_again_is_the_loss() {
        let mut l = NackLoss::default();
        // 1 + 3 + 1 = 5 packets asked for of 100 sent: 5 %, 12.8 / 256.
        l.nacked(&nack(&[(10, 0b101), (40, 0)]));
        l.nacked(&nack(&[(70, 0)]));
        assert_eq!(l.fraction(100), 12);
        // Counted afresh from there: nothing asked for in the next 50.
        assert_eq!(l.fraction(150), 0);
        // Too few sent to tell: the NACKs wait for the next look.
        l.nacked(&nack(&[(200, 0xffff)]));
        assert_eq!(l.fraction(160), 0);
        assert_eq!(l.fraction(218), (17 * 256 / 68) as u8);
        // A packet asked for again (it is still missing) counts once.
        l.nacked(&nack(&[(300, 0b1)]));
        l.nacked(&nack(&[(300, 0b1), (301, 0)]));
        assert_eq!(l.fraction(318), (2 * 256 / 100) as u8);
        // More asked for than sent is all of it, not more.
        l.nacked(&nack(&[(1000, 0xffff), (2000, 0xffff)]));
        assert_eq!(l.fraction(340), 255);
    }
}
