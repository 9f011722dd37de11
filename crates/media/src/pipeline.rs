//! Pipelines: capture → encode → bytes, and bytes → decode → render or play, each on its own
//! threads with bounded queues between them. A stage that falls behind loses frames (counted)
//! instead of growing a queue; timestamps ride through from capture to the sink; `stop` (or
//! drop) ends every thread and joins it.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TrySendError, bounded};

use crate::audio::codec::{OpusConfig, OpusEncoder};
use crate::audio::denoise::NoiseSuppressor;
use crate::audio::device::{AudioCapture, AudioPlayback};
use crate::audio::level::LevelMeter;
use crate::audio::playout::{AudioReceiver, PlayoutConfig, PlayoutStats};
use crate::file::{WavSink, WavSource, Y4mReader, Y4mWriter};
use crate::frame::{AudioFrame, EncodedAudio, EncodedVideo, VideoFrame};
use crate::synthetic::{TestPattern, ToneSource};
use crate::video::camera::Camera;
use crate::video::h264::{Codec, Decoded, H264Config, H264Decoder, H264Encoder};
use crate::{MediaError, Result};

const POLL: Duration = Duration::from_millis(50);

/// Something that yields pictures. It lives on the capture thread (cameras can't move
/// between threads), so [`VideoSender::start_with`] takes a function that makes it there.
pub trait VideoSource: 'static {
    /// The next picture; `None` when the source has ended.
    fn next_frame(&mut self) -> Result<Option<VideoFrame>>;
    /// For sources with no clock of their own (synthetic, files): the rate to pace them at.
    fn pace_fps(&self) -> Option<f64> {
        None
    }
}

/// A source chosen at run time (a camera or the test pattern).
impl VideoSource for Box<dyn VideoSource> {
    fn next_frame(&mut self) -> Result<Option<VideoFrame>> {
        (**self).next_frame()
    }
    fn pace_fps(&self) -> Option<f64> {
        (**self).pace_fps()
    }
}

impl VideoSource for TestPattern {
    fn next_frame(&mut self) -> Result<Option<VideoFrame>> {
        Ok(Some(TestPattern::next_frame(self)))
    }
    fn pace_fps(&self) -> Option<f64> {
        Some(f64::from(self.fps()))
    }
}

impl VideoSource for Y4mReader {
    fn next_frame(&mut self) -> Result<Option<VideoFrame>> {
        Y4mReader::next_frame(self)
    }
    fn pace_fps(&self) -> Option<f64> {
        let (n, d) = self.fps();
        Some(f64::from(n) / f64::from(d))
    }
}

impl VideoSource for Camera {
    fn next_frame(&mut self) -> Result<Option<VideoFrame>> {
        Camera::next_frame(self).map(Some)
    }
}

/// Something that shows pictures.
pub trait VideoSink: Send + 'static {
    /// Shows one picture.
    fn render(&mut self, frame: VideoFrame) -> Result<()>;
}

impl VideoSink for Y4mWriter {
    fn render(&mut self, frame: VideoFrame) -> Result<()> {
        self.write(&frame)
    }
}

/// A sink made of a closure (a UI channel, a test's collector).
pub struct FnSink<F>(pub F);

impl<F: FnMut(VideoFrame) -> Result<()> + Send + 'static> VideoSink for FnSink<F> {
    fn render(&mut self, frame: VideoFrame) -> Result<()> {
        (self.0)(frame)
    }
}

/// What an audio source had.
#[derive(Debug)]
pub enum Pull {
    /// The next 20 ms.
    Frame(AudioFrame),
    /// Nothing yet (a device between callbacks); ask again.
    Pending,
    /// The source has ended.
    End,
}

/// Something that yields 20 ms audio frames.
pub trait AudioSource: Send + 'static {
    /// The next frame, or nothing yet, or the end. Waits at most about 100 ms, so that a
    /// pipeline can notice it was stopped.
    fn pull(&mut self) -> Result<Pull>;
    /// Whether the pipeline must pace it at 50 frames a second.
    fn paced(&self) -> bool {
        true
    }
}

impl AudioSource for ToneSource {
    fn pull(&mut self) -> Result<Pull> {
        Ok(Pull::Frame(ToneSource::next_frame(self)))
    }
}

impl AudioSource for WavSource {
    fn pull(&mut self) -> Result<Pull> {
        match WavSource::next_frame(self) {
            Some(f) => Ok(Pull::Frame(f)),
            None => self.error().map_or(Ok(Pull::End), Err),
        }
    }
}

impl AudioSource for AudioCapture {
    fn pull(&mut self) -> Result<Pull> {
        // A stalled or lost device is reported by `recv_timeout` itself.
        Ok(self
            .recv_timeout(Duration::from_millis(100))?
            .map_or(Pull::Pending, Pull::Frame))
    }
    fn paced(&self) -> bool {
        false
    }
}

/// Something that plays 20 ms audio frames.
pub trait AudioSink: Send + 'static {
    /// Plays one frame.
    fn play(&mut self, frame: AudioFrame) -> Result<()>;
}

impl AudioSink for WavSink {
    fn play(&mut self, frame: AudioFrame) -> Result<()> {
        self.write(&frame)
    }
}

impl AudioSink for AudioPlayback {
    fn play(&mut self, frame: AudioFrame) -> Result<()> {
        AudioPlayback::play(self, frame)
    }
}

/// An audio sink made of a closure.
pub struct FnAudioSink<F>(pub F);

impl<F: FnMut(AudioFrame) -> Result<()> + Send + 'static> AudioSink for FnAudioSink<F> {
    fn play(&mut self, frame: AudioFrame) -> Result<()> {
        (self.0)(frame)
    }
}

/// Counters for one pipeline.
#[derive(Debug, Default)]
pub struct PipelineStats {
    /// Frames taken from the source (or packets pushed in).
    pub frames_in: AtomicU64,
    /// Frames dropped because the next stage was behind.
    pub dropped: AtomicU64,
    /// Frames (or packets) handed on at the end.
    pub frames_out: AtomicU64,
    /// Encoded bytes produced or received.
    pub bytes: AtomicU64,
    /// Frames that failed in a codec, or (decoding) gave no picture to show.
    pub errors: AtomicU64,
}

impl PipelineStats {
    fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// A plain copy: (in, dropped, out, bytes, errors).
    pub fn snapshot(&self) -> (u64, u64, u64, u64, u64) {
        (
            self.frames_in.load(Ordering::Relaxed),
            self.dropped.load(Ordering::Relaxed),
            self.frames_out.load(Ordering::Relaxed),
            self.bytes.load(Ordering::Relaxed),
            self.errors.load(Ordering::Relaxed),
        )
    }
}

/// Threads and the flag that stops them.
struct Workers {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
    error: Arc<Mutex<Option<String>>>,
}

impl Workers {
    fn new() -> Workers {
        Workers {
            stop: Arc::new(AtomicBool::new(false)),
            threads: Vec::new(),
            error: Arc::new(Mutex::new(None)),
        }
    }

    fn spawn(&mut self, name: &str, f: impl FnOnce() -> Result<()> + Send + 'static) -> Result<()> {
        let error = self.error.clone();
        let stop = self.stop.clone();
        let handle = std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || {
                if let Err(e) = f() {
                    tracing::warn!("media pipeline stopped: {e}");
                    if let Ok(mut slot) = error.lock() {
                        slot.get_or_insert(e.to_string());
                    }
                }
                stop.store(true, Ordering::SeqCst);
            })?;
        self.threads.push(handle);
        Ok(())
    }

    fn stop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }

    fn error(&self) -> Option<String> {
        self.error.lock().ok().and_then(|e| e.clone())
    }

    fn running(&self) -> bool {
        !self.stop.load(Ordering::SeqCst)
    }
}

/// Sleeps until the `n`th tick of a clock started at `start` with `period`; if more than a
/// tick behind, returns at once (frames are then produced as fast as they can be).
fn pace(start: Instant, n: u64, period: Duration, stop: &AtomicBool) {
    let due = start + period.mul_f64(n as f64);
    while !stop.load(Ordering::Relaxed) {
        let now = Instant::now();
        if now >= due {
            return;
        }
        std::thread::sleep((due - now).min(POLL));
    }
}

/// What every pipeline handle offers: its counters, whether it runs, why it stopped, and a
/// stop that joins its threads (also on drop).
macro_rules! pipeline_handle {
    ($t:ident) => {
        impl $t {
            /// The counters (a handle that outlives the pipeline).
            pub fn stats(&self) -> Arc<PipelineStats> {
                self.stats.clone()
            }

            /// Whether the pipeline is still running (a source that ended or failed stops it).
            pub fn running(&self) -> bool {
                self.workers.running()
            }

            /// Why the pipeline stopped, if it failed.
            pub fn error(&self) -> Option<String> {
                self.workers.error()
            }

            /// Stops and joins every thread.
            pub fn stop(mut self) {
                self.workers.stop();
            }
        }

        impl Drop for $t {
            fn drop(&mut self) {
                self.workers.stop();
            }
        }

        impl std::fmt::Debug for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($t))
                    .field("stats", &self.stats)
                    .finish()
            }
        }
    };
}

/// What became of a captured frame handed on.
enum Delivered {
    Taken,
    /// The next stage was behind: the frame is lost (counted).
    Dropped,
    /// The next stage has gone: capture ends.
    Gone,
}

/// Spawns the capture thread: makes the source there (cameras can't move between threads),
/// says on the returned channel whether it opened, then reads it, paced when it has no clock
/// of its own, handing every frame to `deliver` until stopped or the source ends.
fn spawn_capture<S: VideoSource>(
    workers: &mut Workers,
    make: impl FnOnce() -> Result<S> + Send + 'static,
    st: Arc<PipelineStats>,
    mut deliver: impl FnMut(VideoFrame) -> Delivered + Send + 'static,
) -> Result<Receiver<Result<()>>> {
    let stop = workers.stop.clone();
    let (opened_tx, opened_rx) = bounded::<Result<()>>(1);
    workers.spawn("weft-video-capture", move || {
        let mut source = match make() {
            Ok(s) => {
                let _ = opened_tx.send(Ok(()));
                s
            }
            Err(e) => {
                let _ = opened_tx.send(Err(e));
                return Ok(());
            }
        };
        let start = Instant::now();
        let period = source
            .pace_fps()
            .map(|fps| Duration::from_secs_f64(1.0 / fps));
        let mut n = 0u64;
        while !stop.load(Ordering::Relaxed) {
            if let Some(p) = period {
                pace(start, n, p, &stop);
            }
            let Some(frame) = source.next_frame()? else {
                break;
            };
            n += 1;
            PipelineStats::add(&st.frames_in, 1);
            match deliver(frame) {
                Delivered::Taken => {}
                Delivered::Dropped => PipelineStats::add(&st.dropped, 1),
                Delivered::Gone => break,
            }
        }
        Ok(())
    })?;
    Ok(opened_rx)
}

/// Waits for the capture thread to say whether its source opened; stops the workers if not.
fn wait_opened(workers: &mut Workers, opened: &Receiver<Result<()>>) -> Result<()> {
    let r = match opened.recv() {
        Ok(r) => r,
        Err(_) => Err(MediaError::Camera(
            "the capture thread ended before the source opened".into(),
        )),
    };
    if r.is_err() {
        workers.stop();
    }
    r
}

/// A video source read on a thread of its own, every frame handed to a callback: a camera
/// preview. Stops (and releases the camera) when stopped or dropped.
pub struct VideoCapture {
    workers: Workers,
    stats: Arc<PipelineStats>,
}

impl VideoCapture {
    /// Starts reading the source `make` opens on the capture thread; returns its error if it
    /// can't be opened.
    pub fn start<S: VideoSource>(
        make: impl FnOnce() -> Result<S> + Send + 'static,
        mut on_frame: impl FnMut(VideoFrame) + Send + 'static,
    ) -> Result<VideoCapture> {
        let stats = Arc::new(PipelineStats::default());
        let mut workers = Workers::new();
        let out = stats.clone();
        let opened = spawn_capture(&mut workers, make, stats.clone(), move |f| {
            on_frame(f);
            PipelineStats::add(&out.frames_out, 1);
            Delivered::Taken
        })?;
        wait_opened(&mut workers, &opened)?;
        Ok(VideoCapture { workers, stats })
    }
}

pipeline_handle!(VideoCapture);

enum VideoControl {
    Keyframe,
    Bitrate(u32),
}

/// Capture → H.264: reads a source on one thread, encodes on another, hands each access
/// unit to `output`.
pub struct VideoSender {
    workers: Workers,
    control: Sender<VideoControl>,
    stats: Arc<PipelineStats>,
}

impl VideoSender {
    /// Starts the pipeline on a source that can move to the capture thread.
    pub fn start(
        source: impl VideoSource + Send,
        codec: &Codec,
        config: H264Config,
        queue: usize,
        output: impl FnMut(EncodedVideo) + Send + 'static,
    ) -> Result<VideoSender> {
        Self::start_with(move || Ok(source), codec, config, queue, output)
    }

    /// Starts the pipeline with a source made on the capture thread by `make` (a camera);
    /// returns its error if it can't be made. `queue` frames wait between capture and
    /// encoder at most (2 is right for live video: a late frame is worth less than the
    /// next one).
    pub fn start_with<S: VideoSource>(
        make: impl FnOnce() -> Result<S> + Send + 'static,
        codec: &Codec,
        config: H264Config,
        queue: usize,
        mut output: impl FnMut(EncodedVideo) + Send + 'static,
    ) -> Result<VideoSender> {
        let mut encoder = H264Encoder::with_codec(codec, config)?;
        let (frames_tx, frames_rx): (Sender<VideoFrame>, Receiver<VideoFrame>) =
            bounded(queue.max(1));
        let (control, control_rx) = bounded(16);
        let stats = Arc::new(PipelineStats::default());
        let mut workers = Workers::new();
        let opened = spawn_capture(
            &mut workers,
            make,
            stats.clone(),
            move |frame| match frames_tx.try_send(frame) {
                Ok(()) => Delivered::Taken,
                Err(TrySendError::Full(_)) => Delivered::Dropped,
                Err(TrySendError::Disconnected(_)) => Delivered::Gone,
            },
        )?;
        let (stop, st) = (workers.stop.clone(), stats.clone());
        workers.spawn("weft-video-encode", move || {
            loop {
                let frame = match frames_rx.recv_timeout(POLL) {
                    Ok(f) => f,
                    Err(crossbeam_channel::RecvTimeoutError::Timeout)
                        if !stop.load(Ordering::Relaxed) =>
                    {
                        continue;
                    }
                    Err(_) => return Ok(()),
                };
                for c in control_rx.try_iter() {
                    match c {
                        VideoControl::Keyframe => encoder.request_keyframe(),
                        VideoControl::Bitrate(bps) => {
                            if let Err(e) = encoder.set_bitrate(bps) {
                                tracing::warn!("bitrate change refused: {e}");
                            }
                        }
                    }
                }
                match encoder.encode(&frame) {
                    Ok(unit) => {
                        PipelineStats::add(&st.bytes, unit.data.len() as u64);
                        PipelineStats::add(&st.frames_out, 1);
                        output(unit);
                    }
                    Err(e) => {
                        PipelineStats::add(&st.errors, 1);
                        tracing::debug!("h264 encode: {e}");
                    }
                }
            }
        })?;
        wait_opened(&mut workers, &opened)?;
        Ok(VideoSender {
            workers,
            control,
            stats,
        })
    }

    /// Makes the next frame a keyframe.
    pub fn request_keyframe(&self) {
        let _ = self.control.try_send(VideoControl::Keyframe);
    }

    /// Changes the target bitrate.
    pub fn set_bitrate(&self, bps: u32) -> Result<()> {
        if !(50_000..=20_000_000).contains(&bps) {
            return Err(MediaError::invalid(
                "H.264 bitrate",
                format!("{bps} bit/s (50 kbit/s to 20 Mbit/s)"),
            ));
        }
        let _ = self.control.try_send(VideoControl::Bitrate(bps));
        Ok(())
    }
}

pipeline_handle!(VideoSender);

/// H.264 → render: decodes pushed access units on a thread and hands pictures to a sink.
pub struct VideoReceiver {
    workers: Workers,
    units: Sender<EncodedVideo>,
    stats: Arc<PipelineStats>,
    keyframe_needed: Arc<AtomicBool>,
}

impl VideoReceiver {
    /// Starts the pipeline; at most `queue` access units wait for the decoder.
    /// `on_keyframe_needed` is called (at most every 250 ms) when the decoder needs an IDR
    /// to recover — the call layer sends a PLI.
    pub fn start(
        mut sink: impl VideoSink,
        codec: &Codec,
        queue: usize,
        mut on_keyframe_needed: impl FnMut() + Send + 'static,
    ) -> Result<VideoReceiver> {
        let mut decoder = H264Decoder::with_codec(codec)?;
        let (units, rx): (Sender<EncodedVideo>, Receiver<EncodedVideo>) = bounded(queue.max(1));
        let stats = Arc::new(PipelineStats::default());
        let keyframe_needed = Arc::new(AtomicBool::new(false));
        let mut workers = Workers::new();
        let (stop, st, kf) = (workers.stop.clone(), stats.clone(), keyframe_needed.clone());
        workers.spawn("weft-video-decode", move || {
            let mut last_ask: Option<Instant> = None;
            loop {
                let unit = match rx.recv_timeout(POLL) {
                    Ok(u) => u,
                    Err(crossbeam_channel::RecvTimeoutError::Timeout)
                        if !stop.load(Ordering::Relaxed) =>
                    {
                        continue;
                    }
                    Err(_) => return Ok(()),
                };
                // A unit dropped on the way in means later pictures refer to one we don't
                // have: show nothing until a keyframe, and ask for one.
                let mut ask = kf.swap(false, Ordering::Relaxed);
                if ask {
                    decoder.note_loss();
                }
                match decoder.decode(&unit) {
                    Decoded::Frame(frame) => {
                        PipelineStats::add(&st.frames_out, 1);
                        sink.render(frame)?;
                    }
                    Decoded::Nothing => PipelineStats::add(&st.errors, 1),
                    Decoded::NeedKeyframe => {
                        PipelineStats::add(&st.errors, 1);
                        ask = true;
                    }
                }
                if ask && last_ask.is_none_or(|t| t.elapsed() >= Duration::from_millis(250)) {
                    last_ask = Some(Instant::now());
                    on_keyframe_needed();
                }
            }
        })?;
        Ok(VideoReceiver {
            workers,
            units,
            stats,
            keyframe_needed,
        })
    }

    /// Hands over an access unit; `false` if the decoder is behind and it was dropped (the
    /// next decodable picture is then a keyframe, which is asked for).
    pub fn push(&self, unit: EncodedVideo) -> bool {
        PipelineStats::add(&self.stats.frames_in, 1);
        PipelineStats::add(&self.stats.bytes, unit.data.len() as u64);
        match self.units.try_send(unit) {
            Ok(()) => true,
            Err(_) => {
                PipelineStats::add(&self.stats.dropped, 1);
                self.keyframe_needed.store(true, Ordering::Relaxed);
                false
            }
        }
    }
}

pipeline_handle!(VideoReceiver);

/// The sender's live audio state a UI shows: level meter, speaking, muted.
#[derive(Debug, Default)]
pub struct AudioLevel {
    level_bits: AtomicU32,
    speaking: AtomicBool,
    muted: AtomicBool,
}

impl AudioLevel {
    /// The smoothed input level in dBFS.
    pub fn level_dbfs(&self) -> f32 {
        f32::from_bits(self.level_bits.load(Ordering::Relaxed))
    }
    /// Whether the input is speech (also while muted: "you're muted").
    pub fn speaking(&self) -> bool {
        self.speaking.load(Ordering::Relaxed)
    }
    /// Whether sending is muted.
    pub fn muted(&self) -> bool {
        self.muted.load(Ordering::Relaxed)
    }
}

/// Capture → Opus on one thread: optional noise suppression, metering, encoding; muted
/// frames are metered but not sent.
pub struct AudioSender {
    workers: Workers,
    level: Arc<AudioLevel>,
    stats: Arc<PipelineStats>,
}

impl AudioSender {
    /// Starts the pipeline.
    pub fn start(
        mut source: impl AudioSource,
        config: OpusConfig,
        denoise: bool,
        mut output: impl FnMut(EncodedAudio) + Send + 'static,
    ) -> Result<AudioSender> {
        let mut encoder = OpusEncoder::new(config)?;
        let mut suppressor = denoise.then(|| NoiseSuppressor::new(config.channels));
        let level = Arc::new(AudioLevel::default());
        let stats = Arc::new(PipelineStats::default());
        let mut workers = Workers::new();
        let (stop, st, lv) = (workers.stop.clone(), stats.clone(), level.clone());
        workers.spawn("weft-audio-send", move || {
            let mut meter = LevelMeter::default();
            let start = Instant::now();
            let paced = source.paced();
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                if paced {
                    pace(start, n, Duration::from_millis(20), &stop);
                }
                let mut frame = match source.pull()? {
                    Pull::Frame(f) => f,
                    Pull::Pending => continue,
                    Pull::End => break,
                };
                n += 1;
                PipelineStats::add(&st.frames_in, 1);
                if let Some(s) = suppressor.as_mut() {
                    s.process(&mut frame);
                }
                lv.speaking.store(meter.push(&frame), Ordering::Relaxed);
                lv.level_bits
                    .store(meter.level_dbfs().to_bits(), Ordering::Relaxed);
                if lv.muted.load(Ordering::Relaxed) {
                    continue;
                }
                let packet = encoder.encode(&frame)?;
                PipelineStats::add(&st.bytes, packet.data.len() as u64);
                PipelineStats::add(&st.frames_out, 1);
                output(packet);
            }
            Ok(())
        })?;
        Ok(AudioSender {
            workers,
            level,
            stats,
        })
    }

    /// Mutes or unmutes sending.
    pub fn set_muted(&self, muted: bool) {
        self.level.muted.store(muted, Ordering::Relaxed);
    }

    /// Level, speaking and muted, for the UI.
    pub fn level(&self) -> Arc<AudioLevel> {
        self.level.clone()
    }
}

pipeline_handle!(AudioSender);

/// Opus → play: packets pushed in go through a playout buffer; a thread takes one frame
/// every 20 ms and plays it (decoded, recovered from FEC, concealed, or silence).
pub struct AudioReceivePipeline {
    workers: Workers,
    receiver: Arc<Mutex<AudioReceiver>>,
    stats: Arc<PipelineStats>,
}

impl AudioReceivePipeline {
    /// Starts the pipeline, playing into `sink`.
    pub fn start(
        mut sink: impl AudioSink,
        channels: u16,
        playout: PlayoutConfig,
    ) -> Result<AudioReceivePipeline> {
        let receiver = Arc::new(Mutex::new(AudioReceiver::new(channels, playout)?));
        let stats = Arc::new(PipelineStats::default());
        let mut workers = Workers::new();
        let (stop, st, rx) = (workers.stop.clone(), stats.clone(), receiver.clone());
        workers.spawn("weft-audio-play", move || {
            let start = Instant::now();
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                pace(start, n, Duration::from_millis(20), &stop);
                n += 1;
                let frame = rx
                    .lock()
                    .map_err(|_| MediaError::Audio("receiver poisoned".into()))?
                    .pull();
                PipelineStats::add(&st.frames_out, 1);
                sink.play(frame)?;
            }
            Ok(())
        })?;
        Ok(AudioReceivePipeline {
            workers,
            receiver,
            stats,
        })
    }

    /// Hands over a packet that just arrived.
    pub fn push(&self, packet: EncodedAudio) {
        PipelineStats::add(&self.stats.frames_in, 1);
        PipelineStats::add(&self.stats.bytes, packet.data.len() as u64);
        if let Ok(mut r) = self.receiver.lock() {
            r.push(packet, crate::clock::now_us());
        }
    }

    /// The playout buffer's counters.
    pub fn playout_stats(&self) -> PlayoutStats {
        self.receiver.lock().map(|r| r.stats()).unwrap_or_default()
    }
}

pipeline_handle!(AudioReceivePipeline);
