//! Audio devices through cpal: list them, open the chosen or default one at its own rate and
//! format, resample to and from 48 kHz, and follow a device that goes away — with a clear
//! error, and a fallback to the default device when one answers.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use cpal::{FromSample, Sample, SizedSample};
use crossbeam_channel::{Receiver, Sender, TrySendError};

use crate::audio::resample::Resampler;
use crate::clock::now_us;
use crate::frame::{AudioFrame, FRAME_SAMPLES, SAMPLE_RATE};
use crate::{MediaError, Result};

/// Which way a device carries sound.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// A microphone or a monitor source.
    Input,
    /// Speakers or headphones.
    Output,
}

impl Direction {
    fn name(self) -> &'static str {
        match self {
            Direction::Input => "input",
            Direction::Output => "output",
        }
    }
}

/// A device as a picker shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AudioDeviceInfo {
    /// Stable id to open it by (`host:device`, e.g. `alsa:pulse`).
    pub id: String,
    /// Name for people.
    pub name: String,
    /// Input or output.
    pub direction: Direction,
    /// Whether it is the host's default for its direction.
    pub is_default: bool,
    /// Its default sample rate.
    pub sample_rate: u32,
    /// Its default channel count.
    pub channels: u16,
}

/// Something that happened to an open device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeviceEvent {
    /// The device stopped answering.
    Lost {
        /// Its id.
        id: String,
        /// What the host said.
        reason: String,
    },
    /// After a loss, the stream was reopened on another device.
    FellBack {
        /// The device lost.
        from: String,
        /// The device now in use.
        to: String,
    },
}

fn audio_err(e: impl std::fmt::Display) -> MediaError {
    MediaError::Audio(e.to_string())
}

fn device_id(d: &cpal::Device) -> String {
    d.id()
        .map(|i| i.to_string())
        .unwrap_or_else(|_| d.to_string())
}

/// Every input and output device the default host knows.
pub fn list_devices() -> Result<Vec<AudioDeviceInfo>> {
    let host = cpal::default_host();
    let default_in = host.default_input_device().map(|d| device_id(&d));
    let default_out = host.default_output_device().map(|d| device_id(&d));
    let mut out = Vec::new();
    for (direction, devices) in [
        (
            Direction::Input,
            host.input_devices().map_err(audio_err)?.collect::<Vec<_>>(),
        ),
        (
            Direction::Output,
            host.output_devices()
                .map_err(audio_err)?
                .collect::<Vec<_>>(),
        ),
    ] {
        for d in devices {
            let config = match direction {
                Direction::Input => d.default_input_config(),
                Direction::Output => d.default_output_config(),
            };
            let Ok(config) = config else { continue };
            let id = device_id(&d);
            let is_default = match direction {
                Direction::Input => default_in.as_deref() == Some(id.as_str()),
                Direction::Output => default_out.as_deref() == Some(id.as_str()),
            };
            out.push(AudioDeviceInfo {
                name: d
                    .description()
                    .map(|x| x.to_string())
                    .unwrap_or_else(|_| id.clone()),
                id,
                direction,
                is_default,
                sample_rate: config.sample_rate(),
                channels: config.channels(),
            });
        }
    }
    Ok(out)
}

fn find_device(direction: Direction, id: Option<&str>) -> Result<cpal::Device> {
    let host = cpal::default_host();
    let missing = || MediaError::NoAudioDevice {
        direction: direction.name(),
        id: id.map(str::to_owned),
    };
    match id {
        None => match direction {
            Direction::Input => host.default_input_device(),
            Direction::Output => host.default_output_device(),
        }
        .ok_or_else(missing),
        Some(want) => {
            let devices: Vec<cpal::Device> = match direction {
                Direction::Input => host.input_devices().map_err(audio_err)?.collect(),
                Direction::Output => host.output_devices().map_err(audio_err)?.collect(),
            };
            devices
                .into_iter()
                .find(|d| device_id(d) == want)
                .ok_or_else(missing)
        }
    }
}

/// Opens `direction` on `id` (the default if `None`), or on the default device if that one
/// is missing and `fallback` is set. Returns the device and whether it fell back.
fn open_device(
    direction: Direction,
    id: Option<&str>,
    fallback: bool,
) -> Result<(cpal::Device, bool)> {
    match find_device(direction, id) {
        Ok(d) => Ok((d, false)),
        Err(e) if fallback && id.is_some() => {
            tracing::warn!("{e}; using the default {} device", direction.name());
            find_device(direction, None).map(|d| (d, true))
        }
        Err(e) => Err(e),
    }
}

/// How to open a capture.
#[derive(Clone, Debug)]
pub struct CaptureConfig {
    /// Device id; `None` for the default input.
    pub device: Option<String>,
    /// Channels of the frames handed out (1 or 2), whatever the device has.
    pub channels: u16,
    /// Frames queued for the reader before new ones are dropped (25 = 500 ms).
    pub queue_frames: usize,
    /// Whether to move to the default device when the chosen one is missing or lost.
    pub fallback: bool,
}

impl Default for CaptureConfig {
    fn default() -> Self {
        CaptureConfig {
            device: None,
            channels: 1,
            queue_frames: 25,
            fallback: true,
        }
    }
}

struct Lost {
    flag: AtomicBool,
    reason: Mutex<String>,
}

impl Lost {
    fn new() -> Arc<Lost> {
        Arc::new(Lost {
            flag: AtomicBool::new(false),
            reason: Mutex::new(String::new()),
        })
    }

    fn reason(&self) -> String {
        self.reason.lock().map(|r| r.clone()).unwrap_or_default()
    }

    fn error_callback(self: &Arc<Self>, id: String) -> impl FnMut(cpal::Error) + Send + 'static {
        let lost = self.clone();
        move |e: cpal::Error| {
            use cpal::ErrorKind as K;
            match e.kind() {
                K::DeviceNotAvailable | K::StreamInvalidated | K::DeviceChanged => {
                    tracing::warn!("audio device {id} lost: {e}");
                    if let Ok(mut r) = lost.reason.lock() {
                        *r = e.to_string();
                    }
                    lost.flag.store(true, Ordering::SeqCst);
                }
                _ => tracing::debug!("audio stream {id}: {e}"),
            }
        }
    }
}

/// A stream config at the device's own rate, with a small fixed buffer where the device
/// takes one (10 ms), else the host's default.
fn stream_configs(supported: &cpal::SupportedStreamConfig) -> [cpal::StreamConfig; 2] {
    let mut fixed = supported.config();
    fixed.buffer_size = cpal::BufferSize::Fixed(supported.sample_rate() / 100);
    let mut default = supported.config();
    default.buffer_size = cpal::BufferSize::Default;
    [fixed, default]
}

/// Builds and starts a stream at the device's own format: a 10 ms buffer first, the host's
/// default if that is refused. `build` makes the stream for one config.
fn open_stream(
    id: &str,
    supported: &cpal::SupportedStreamConfig,
    mut build: impl FnMut(&cpal::StreamConfig) -> Result<cpal::Stream>,
) -> Result<cpal::Stream> {
    let mut last_err = None;
    for config in stream_configs(supported) {
        match build(&config) {
            Ok(stream) => {
                stream.play().map_err(audio_err)?;
                return Ok(stream);
            }
            Err(e) => last_err = Some(e),
        }
    }
    Err(last_err.unwrap_or_else(|| MediaError::Audio(format!("{id}: no usable stream"))))
}

/// Calls a stream builder generic over the sample type with the device's sample format.
macro_rules! by_sample_format {
    ($format:expr, $id:expr, $build:ident($($arg:expr),*)) => {
        match $format {
            cpal::SampleFormat::F32 => $build::<f32>($($arg),*),
            cpal::SampleFormat::I16 => $build::<i16>($($arg),*),
            cpal::SampleFormat::I32 => $build::<i32>($($arg),*),
            cpal::SampleFormat::U16 => $build::<u16>($($arg),*),
            cpal::SampleFormat::U8 => $build::<u8>($($arg),*),
            other => Err(MediaError::Audio(format!("{}: sample format {other} is not supported", $id))),
        }
    };
}

/// A lost stream: closes it, records the loss, and gives back the device's id and the error
/// to report if no fallback works.
fn record_loss(
    stream: &mut Option<cpal::Stream>,
    device: &mut String,
    events: &mut Vec<DeviceEvent>,
    reason: String,
) -> (String, MediaError) {
    let from = std::mem::take(device);
    retire(stream.take());
    events.push(DeviceEvent::Lost {
        id: from.clone(),
        reason: reason.clone(),
    });
    let err = MediaError::DeviceLost {
        id: from.clone(),
        reason,
    };
    (from, err)
}

/// The error for using a stream already closed after a loss.
fn closed(configured: Option<&str>) -> MediaError {
    MediaError::DeviceLost {
        id: configured.unwrap_or("default").to_owned(),
        reason: "the stream was closed after an earlier loss".into(),
    }
}

/// The stream a capture or playback has open, and what became of it.
struct Live {
    stream: Option<cpal::Stream>,
    /// Id of the device in use (empty while lost).
    device: String,
    lost: Arc<Lost>,
    events: Vec<DeviceEvent>,
    /// `now_us()` of the device's last callback (pushed ahead at start for start-up time).
    last_callback: Arc<AtomicU64>,
}

impl Live {
    fn new() -> Live {
        Live {
            stream: None,
            device: String::new(),
            lost: Lost::new(),
            events: Vec::new(),
            last_callback: Arc::new(AtomicU64::new(0)),
        }
    }

    fn stalled(&self) -> bool {
        let last = self.last_callback.load(Ordering::Relaxed);
        now_us().saturating_sub(last) > STALL_TIMEOUT.as_micros() as u64
    }

    fn fell_back(&mut self, from: String) {
        let to = self.device.clone();
        self.events.push(DeviceEvent::FellBack { from, to });
    }
}

/// What capture and playback share: one stream on one device, opened, watched, lost and
/// reopened the same way.
trait Supervised {
    const DIRECTION: Direction;
    /// How a stall is described in [`MediaError::DeviceLost`].
    const STALLED: &'static str;
    /// The device's own format for this direction.
    fn supported(device: &cpal::Device) -> Result<cpal::SupportedStreamConfig>;
    /// Builds (not starts) a stream for one config.
    fn build(
        &self,
        device: &cpal::Device,
        supported: &cpal::SupportedStreamConfig,
        config: &cpal::StreamConfig,
        on_error: Box<dyn FnMut(cpal::Error) + Send>,
    ) -> Result<cpal::Stream>;
    /// The device asked for, and whether falling back to the default is allowed.
    fn wanted(&self) -> (Option<String>, bool);
    fn live(&mut self) -> &mut Live;

    /// Builds and starts the stream on `device`.
    fn start(&mut self, device: &cpal::Device) -> Result<()> {
        let id = device_id(device);
        let supported = Self::supported(device)?;
        let lost = Lost::new();
        // Starting can take a while on some hosts: allow for it before calling it stalled.
        self.live()
            .last_callback
            .store(now_us() + 3_000_000, Ordering::Relaxed);
        let stream = open_stream(&id, &supported, |config| {
            self.build(
                device,
                &supported,
                config,
                Box::new(lost.error_callback(id.clone())),
            )
        })?;
        let live = self.live();
        live.stream = Some(stream);
        live.lost = lost;
        live.device = id;
        Ok(())
    }

    /// Opens the device asked for, or the default if it is missing and that is allowed.
    fn open_first(&mut self) -> Result<()> {
        let (id, fallback) = self.wanted();
        let (device, fell_back) = open_device(Self::DIRECTION, id.as_deref(), fallback)?;
        self.start(&device)?;
        if fell_back {
            self.live().fell_back(id.unwrap_or_default());
        }
        Ok(())
    }

    /// If the device was lost (an error from the host, or no callback for
    /// [`STALL_TIMEOUT`]): records it, closes the stream, and reopens on the default device
    /// if that is allowed and works; else [`MediaError::DeviceLost`].
    fn check(&mut self) -> Result<()> {
        let (configured, fallback) = self.wanted();
        let live = self.live();
        if live.stream.is_none() {
            return Err(closed(configured.as_deref()));
        }
        let stalled = live.stalled();
        if !live.lost.flag.load(Ordering::SeqCst) && !stalled {
            return Ok(());
        }
        let reason = if stalled {
            format!("{} for {} s", Self::STALLED, STALL_TIMEOUT.as_secs())
        } else {
            live.lost.reason()
        };
        let (from, lost) =
            record_loss(&mut live.stream, &mut live.device, &mut live.events, reason);
        if !fallback {
            return Err(lost);
        }
        let Ok(device) = find_device(Self::DIRECTION, None) else {
            return Err(lost);
        };
        if self.start(&device).is_err() {
            return Err(lost);
        }
        self.live().fell_back(from);
        Ok(())
    }
}

/// Capture and playback share their supervision, their device id and events, and close
/// their stream off-thread on drop.
macro_rules! supervised {
    ($t:ident) => {
        impl $t {
            /// The id of the device in use.
            pub fn device(&self) -> &str {
                &self.live.device
            }

            /// Device events since the last call.
            pub fn take_events(&mut self) -> Vec<DeviceEvent> {
                std::mem::take(&mut self.live.events)
            }
        }

        impl Drop for $t {
            fn drop(&mut self) {
                retire(self.live.stream.take());
            }
        }

        impl std::fmt::Debug for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($t))
                    .field("device", &self.live.device)
                    .finish()
            }
        }
    };
}

/// Captures from an input device, handing out 48 kHz frames of 20 ms.
pub struct AudioCapture {
    config: CaptureConfig,
    live: Live,
    frames: Receiver<AudioFrame>,
    sender: Sender<AudioFrame>,
    dropped: Arc<AtomicU64>,
}

/// A stream that has delivered nothing for this long is treated as lost: some hosts (ALSA
/// through a PulseAudio server that died) never report an error, they just stop.
pub const STALL_TIMEOUT: Duration = Duration::from_secs(2);

/// Closes a stream off the caller's thread and waits up to a second for it: a stream whose
/// server died can block in its backend while closing (ALSA's pulse plugin deadlocks on its
/// own mutex), and the caller must not hang with it. Normally the close finishes at once and
/// no thread is left; a stuck one is left behind, and logged.
fn retire(stream: Option<cpal::Stream>) {
    let Some(stream) = stream else { return };
    let (done_tx, done_rx) = crossbeam_channel::bounded::<()>(1);
    let spawned = std::thread::Builder::new()
        .name("weft-audio-close".into())
        .spawn(move || {
            drop(stream);
            let _ = done_tx.send(());
        });
    match spawned {
        Ok(handle) => match done_rx.recv_timeout(Duration::from_secs(1)) {
            Ok(()) => {
                let _ = handle.join();
            }
            Err(_) => {
                tracing::warn!("an audio stream did not close within 1 s; left to its backend")
            }
        },
        Err(e) => tracing::warn!("could not start a thread to close an audio stream: {e}"),
    }
}

/// What a capture stream's callback shares with its handle.
#[derive(Clone)]
struct CaptureShared {
    tx: Sender<AudioFrame>,
    /// The reader's end too, so that a full queue drops its oldest frame, not the newest.
    rx: Receiver<AudioFrame>,
    dropped: Arc<AtomicU64>,
    /// `now_us()` of the device's last callback (pushed ahead at start for start-up time).
    last_callback: Arc<AtomicU64>,
}

fn build_capture<T>(
    device: &cpal::Device,
    config: &cpal::StreamConfig,
    channels: u16,
    shared: CaptureShared,
    on_error: Box<dyn FnMut(cpal::Error) + Send>,
) -> Result<cpal::Stream>
where
    T: SizedSample,
    f32: FromSample<T>,
{
    let mut resampler = Resampler::new(config.sample_rate, config.channels, SAMPLE_RATE, channels)?;
    let mut converted = Vec::new();
    // Capture times count samples from the first callback, so frames delivered together
    // in one large host buffer still get times 20 ms apart.
    let mut anchor: Option<u64> = None;
    let mut emitted = 0u64;
    let (rate, device_channels) = (
        u64::from(config.sample_rate),
        u64::from(config.channels.max(1)),
    );
    device
        .build_input_stream::<T, _, _>(
            *config,
            move |data: &[T], _| {
                let now = now_us();
                shared.last_callback.store(now, Ordering::Relaxed);
                let buffered_us = data.len() as u64 * 1_000_000 / (rate * device_channels);
                let start = *anchor.get_or_insert(now.saturating_sub(buffered_us));
                converted.clear();
                converted.extend(data.iter().map(|&s| s.to_sample::<f32>()));
                resampler.push(&converted);
                while let Some(samples) = resampler.pop(FRAME_SAMPLES) {
                    let frame = AudioFrame {
                        samples,
                        channels,
                        pts_us: start + emitted * 20_000,
                    };
                    emitted += 1;
                    if let Err(TrySendError::Full(frame)) = shared.tx.try_send(frame) {
                        let _ = shared.rx.try_recv();
                        shared.dropped.fetch_add(1, Ordering::Relaxed);
                        let _ = shared.tx.try_send(frame);
                    }
                }
            },
            on_error,
            Some(Duration::from_secs(5)),
        )
        .map_err(audio_err)
}

impl AudioCapture {
    /// Opens the device and starts capturing.
    pub fn open(config: CaptureConfig) -> Result<AudioCapture> {
        if !(1..=2).contains(&config.channels) {
            return Err(MediaError::invalid(
                "channel count",
                config.channels.to_string(),
            ));
        }
        let (sender, frames) = crossbeam_channel::bounded(config.queue_frames.max(1));
        let mut capture = AudioCapture {
            live: Live::new(),
            frames,
            sender,
            dropped: Arc::new(AtomicU64::new(0)),
            config,
        };
        capture.open_first()?;
        Ok(capture)
    }

    /// Frames dropped because the reader fell behind.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// The next frame, waiting up to `timeout`; `Ok(None)` if none came in time.
    pub fn recv_timeout(&mut self, timeout: Duration) -> Result<Option<AudioFrame>> {
        self.check()?;
        match self.frames.recv_timeout(timeout) {
            Ok(f) => Ok(Some(f)),
            Err(_) => {
                self.check()?;
                Ok(None)
            }
        }
    }
}

impl Supervised for AudioCapture {
    const DIRECTION: Direction = Direction::Input;
    const STALLED: &'static str = "no audio";
    fn supported(device: &cpal::Device) -> Result<cpal::SupportedStreamConfig> {
        device.default_input_config().map_err(audio_err)
    }
    fn build(
        &self,
        device: &cpal::Device,
        supported: &cpal::SupportedStreamConfig,
        config: &cpal::StreamConfig,
        on_error: Box<dyn FnMut(cpal::Error) + Send>,
    ) -> Result<cpal::Stream> {
        let shared = CaptureShared {
            tx: self.sender.clone(),
            rx: self.frames.clone(),
            dropped: self.dropped.clone(),
            last_callback: self.live.last_callback.clone(),
        };
        let ch = self.config.channels;
        by_sample_format!(
            supported.sample_format(),
            device_id(device),
            build_capture(device, config, ch, shared, on_error)
        )
    }
    fn wanted(&self) -> (Option<String>, bool) {
        (self.config.device.clone(), self.config.fallback)
    }
    fn live(&mut self) -> &mut Live {
        &mut self.live
    }
}

supervised!(AudioCapture);

/// How to open playback.
#[derive(Clone, Debug)]
pub struct PlaybackConfig {
    /// Device id; `None` for the default output.
    pub device: Option<String>,
    /// Channels of the frames played (1 or 2).
    pub channels: u16,
    /// Most audio queued ahead of the device, in ms; older audio is dropped past it.
    pub max_queue_ms: u32,
    /// Whether to move to the default device when the chosen one is missing or lost.
    pub fallback: bool,
}

impl Default for PlaybackConfig {
    fn default() -> Self {
        PlaybackConfig {
            device: None,
            channels: 1,
            max_queue_ms: 200,
            fallback: true,
        }
    }
}

impl Supervised for AudioPlayback {
    const DIRECTION: Direction = Direction::Output;
    const STALLED: &'static str = "the device stopped asking for audio";
    fn supported(device: &cpal::Device) -> Result<cpal::SupportedStreamConfig> {
        device.default_output_config().map_err(audio_err)
    }
    fn build(
        &self,
        device: &cpal::Device,
        supported: &cpal::SupportedStreamConfig,
        config: &cpal::StreamConfig,
        on_error: Box<dyn FnMut(cpal::Error) + Send>,
    ) -> Result<cpal::Stream> {
        let shared = Shared {
            queue: self.queue.clone(),
            source: self.source.clone(),
            last_callback: self.live.last_callback.clone(),
        };
        let ch = self.config.channels;
        by_sample_format!(
            supported.sample_format(),
            device_id(device),
            build_playback(device, config, ch, shared, on_error)
        )
    }
    fn wanted(&self) -> (Option<String>, bool) {
        (self.config.device.clone(), self.config.fallback)
    }
    fn live(&mut self) -> &mut Live {
        &mut self.live
    }
}

supervised!(AudioPlayback);

/// Where a playback stream gets its audio: called on the device's thread whenever it needs
/// the next 20 ms (a playout buffer's `pull`, or the queue [`AudioPlayback::play`] fills).
pub type PullSource = Box<dyn FnMut() -> Option<AudioFrame> + Send>;

#[derive(Default)]
struct Queue {
    frames: VecDeque<AudioFrame>,
    underruns: u64,
    dropped: u64,
}

/// Plays 48 kHz frames on an output device, resampled to its rate.
pub struct AudioPlayback {
    config: PlaybackConfig,
    live: Live,
    queue: Arc<Mutex<Queue>>,
    source: Arc<Mutex<Option<PullSource>>>,
}

/// What a playback stream's callback shares with its handle.
#[derive(Clone)]
struct Shared {
    queue: Arc<Mutex<Queue>>,
    source: Arc<Mutex<Option<PullSource>>>,
    last_callback: Arc<AtomicU64>,
}

fn build_playback<T>(
    device: &cpal::Device,
    config: &cpal::StreamConfig,
    channels: u16,
    shared: Shared,
    on_error: Box<dyn FnMut(cpal::Error) + Send>,
) -> Result<cpal::Stream>
where
    T: SizedSample + FromSample<f32>,
{
    let mut resampler = Resampler::new(SAMPLE_RATE, channels, config.sample_rate, config.channels)?;
    let mut buf = Vec::new();
    device
        .build_output_stream::<T, _, _>(
            *config,
            move |data: &mut [T], _| {
                let Shared {
                    queue,
                    source,
                    last_callback,
                } = &shared;
                last_callback.store(now_us(), Ordering::Relaxed);
                buf.resize(data.len(), 0.0);
                let mut filled = resampler.fill(&mut buf);
                while filled < buf.len() {
                    let next = match source.lock().ok().as_deref_mut().and_then(Option::as_mut) {
                        Some(pull) => pull(),
                        None => queue.lock().ok().and_then(|mut q| {
                            let f = q.frames.pop_front();
                            if f.is_none() {
                                q.underruns += 1;
                            }
                            f
                        }),
                    };
                    let Some(frame) = next else { break };
                    if frame.channels != channels {
                        // A pull source handing the wrong layout would play at the wrong speed.
                        tracing::debug!("playback: dropped a {}-channel frame", frame.channels);
                        continue;
                    }
                    resampler.push(&frame.samples);
                    filled += resampler.fill(&mut buf[filled..]);
                }
                buf[filled..].fill(0.0);
                for (d, s) in data.iter_mut().zip(&buf) {
                    *d = s.to_sample::<T>();
                }
            },
            on_error,
            Some(Duration::from_secs(5)),
        )
        .map_err(audio_err)
}

impl AudioPlayback {
    /// Opens the device and starts playing (silence until frames come).
    pub fn open(config: PlaybackConfig) -> Result<AudioPlayback> {
        Self::open_inner(config, None)
    }

    /// Opens the device with the device's clock pulling frames from `source` (for a call:
    /// the playout buffer is drained exactly as fast as the speaker plays).
    pub fn open_pull(config: PlaybackConfig, source: PullSource) -> Result<AudioPlayback> {
        Self::open_inner(config, Some(source))
    }

    fn open_inner(config: PlaybackConfig, source: Option<PullSource>) -> Result<AudioPlayback> {
        if !(1..=2).contains(&config.channels) {
            return Err(MediaError::invalid(
                "channel count",
                config.channels.to_string(),
            ));
        }
        let mut playback = AudioPlayback {
            live: Live::new(),
            queue: Arc::new(Mutex::new(Queue::default())),
            source: Arc::new(Mutex::new(source)),
            config,
        };
        playback.open_first()?;
        Ok(playback)
    }

    /// Queues a frame (for streams opened with [`AudioPlayback::open`]). Past
    /// `max_queue_ms` the oldest queued audio is dropped, so delay never grows.
    pub fn play(&mut self, frame: AudioFrame) -> Result<()> {
        self.check()?;
        frame.validate()?;
        if frame.channels != self.config.channels {
            return Err(MediaError::invalid(
                "audio frame",
                format!(
                    "{} channels into a {}-channel playback",
                    frame.channels, self.config.channels
                ),
            ));
        }
        let max = (self.config.max_queue_ms / crate::frame::FRAME_MS).max(1) as usize;
        let mut q = self
            .queue
            .lock()
            .map_err(|_| MediaError::Audio("playback queue poisoned".into()))?;
        q.frames.push_back(frame);
        while q.frames.len() > max {
            q.frames.pop_front();
            q.dropped += 1;
        }
        Ok(())
    }

    /// Audio queued and not yet handed to the device, in ms.
    pub fn queued_ms(&self) -> u32 {
        self.queue
            .lock()
            .map_or(0, |q| q.frames.len() as u32 * crate::frame::FRAME_MS)
    }

    /// Times the device wanted audio and the queue was empty, and frames dropped for delay.
    pub fn underruns_and_dropped(&self) -> (u64, u64) {
        self.queue
            .lock()
            .map_or((0, 0), |q| (q.underruns, q.dropped))
    }

    /// Checks the device is still there (reopening on the default if allowed).
    pub fn poll(&mut self) -> Result<()> {
        self.check()
    }
}
