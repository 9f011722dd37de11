//! Calls in the window: one at a time, like a huddle. The engine keeps the meeting record
//! (who was invited, who joined and left, its status) and carries the signals; `weft-call`
//! runs the media. Pictures reach the UI through the `weftframe:` scheme, which answers the
//! newest decoded picture of a participant (I420 with a 12-byte header), so a slow page
//! skips pictures instead of queueing them; audio plays natively.

use std::collections::HashMap;
use std::sync::{Arc, Mutex as StdMutex};

use serde::Serialize;
use specta::Type;
use tauri::State;
use weft_call::{Call, CallConfig, RemoteSinks, VideoSettings};
use weft_domain::Id;
use weft_media::audio::device::Direction;
use weft_media::frame::{AudioFrame, VideoFrame};
use weft_media::pipeline::{AudioSink, AudioSource, FnAudioSink, FnSink, VideoSink, VideoSource};

use crate::{Answer, App, AppError};

/// The newest picture of each participant, by device; `me` is this device's own preview.
#[derive(Default)]
pub struct Frames {
    latest: StdMutex<HashMap<String, Arc<Vec<u8>>>>,
}

/// Pictures are sent to the page at most this wide (a tile is never bigger).
const MAX_TILE_WIDTH: u32 = 640;

fn lock<T>(m: &StdMutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Frames {
    fn put(&self, peer: &str, frame: &VideoFrame, counter: u32) {
        let f = if frame.width > MAX_TILE_WIDTH {
            halve(frame)
        } else {
            None
        };
        let frame = f.as_ref().unwrap_or(frame);
        let mut bytes = Vec::with_capacity(12 + frame.data.len());
        bytes.extend_from_slice(&frame.width.to_le_bytes());
        bytes.extend_from_slice(&frame.height.to_le_bytes());
        bytes.extend_from_slice(&counter.to_le_bytes());
        bytes.extend_from_slice(&frame.data);
        lock(&self.latest).insert(peer.to_owned(), Arc::new(bytes));
    }

    /// The newest picture of `peer`, as the `weftframe:` scheme serves it.
    pub fn get(&self, peer: &str) -> Option<Arc<Vec<u8>>> {
        lock(&self.latest).get(peer).cloned()
    }

    fn clear(&self) {
        lock(&self.latest).clear();
    }
}

/// Half the size in each direction (2×2 averages), for tiles.
fn halve(f: &VideoFrame) -> Option<VideoFrame> {
    let (w, h) = (f.width as usize, f.height as usize);
    let (hw, hh) = ((w / 2) & !1, (h / 2) & !1);
    if hw == 0 || hh == 0 {
        return None;
    }
    let plane = |src: &[u8], sw: usize, dw: usize, dh: usize, out: &mut Vec<u8>| {
        for y in 0..dh {
            for x in 0..dw {
                let i = 2 * y * sw + 2 * x;
                let s = u16::from(src[i])
                    + u16::from(src[i + 1])
                    + u16::from(src[i + sw])
                    + u16::from(src[i + sw + 1]);
                out.push((s / 4) as u8);
            }
        }
    };
    let mut data = Vec::with_capacity(hw * hh * 3 / 2);
    plane(f.y(), w, hw, hh, &mut data);
    plane(f.u(), w / 2, hw / 2, hh / 2, &mut data);
    plane(f.v(), w / 2, hw / 2, hh / 2, &mut data);
    VideoFrame::from_i420(hw as u32, hh as u32, data, f.pts_us).ok()
}

struct UiSinks {
    frames: Arc<Frames>,
}

impl RemoteSinks for UiSinks {
    fn video(&self, peer: &str) -> Box<dyn VideoSink> {
        let (frames, peer) = (self.frames.clone(), peer.to_owned());
        let mut n = 0u32;
        Box::new(FnSink(move |f: VideoFrame| {
            n = n.wrapping_add(1);
            frames.put(&peer, &f, n);
            Ok(())
        }))
    }

    fn audio(&self, _peer: &str) -> Box<dyn AudioSink> {
        // The default output if there is one; a machine with none still takes the call.
        match weft_media::audio::device::AudioPlayback::open(
            weft_media::audio::device::PlaybackConfig {
                device: None,
                channels: 1,
                max_queue_ms: 200,
                fallback: true,
            },
        ) {
            Ok(p) => Box::new(p),
            Err(e) => {
                tracing::info!("no audio output for the call: {e}");
                Box::new(FnAudioSink(|_f: AudioFrame| Ok(())))
            }
        }
    }
}

/// The call in progress.
pub struct Active {
    call: Call,
    meeting: Id,
    channel: Id,
    workspace: Id,
    title: String,
    notice: Option<String>,
}

/// The pre-join screen's camera preview and microphone meter, before any call.
struct Preview {
    stop: Arc<std::sync::atomic::AtomicBool>,
    video: Option<std::thread::JoinHandle<()>>,
    audio: Option<weft_media::pipeline::AudioSender>,
}

impl Preview {
    fn end(mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(t) = self.video.take() {
            let _ = t.join();
        }
        drop(self.audio.take());
    }
}

/// The call slot of the app, and the pictures it shows.
#[derive(Default)]
pub struct Calls {
    active: tokio::sync::Mutex<Option<Active>>,
    preview: StdMutex<Option<Preview>>,
    pub frames: Arc<Frames>,
}

impl Calls {
    fn end_preview(&self) {
        if let Some(p) = lock(&self.preview).take() {
            p.end();
        }
        lock(&self.frames.latest).remove("me");
    }
}

/// Shows the camera (as the `me` picture) and meters the microphone on the pre-join screen;
/// answers what is missing, if anything.
#[tauri::command]
#[specta::specta]
pub async fn start_preview(
    calls: State<'_, Calls>,
    camera: bool,
    mic: bool,
) -> Answer<Option<String>> {
    calls.end_preview();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut missing = Vec::new();
    let video = if camera {
        let (frames, stop) = (calls.frames.clone(), stop.clone());
        let (opened_tx, opened_rx) = std::sync::mpsc::channel::<Result<(), String>>();
        let t = std::thread::Builder::new()
            .name("weft-preview".into())
            .spawn(move || {
                let source = open_camera(video_settings());
                let mut source = match source {
                    Ok(s) => {
                        let _ = opened_tx.send(Ok(()));
                        s
                    }
                    Err(e) => {
                        let _ = opened_tx.send(Err(e.to_string()));
                        return;
                    }
                };
                let pace = source
                    .pace_fps()
                    .map(|f| std::time::Duration::from_secs_f64(1.0 / f));
                let mut n = 0u32;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    match source.next_frame() {
                        Ok(Some(f)) => frames.put("me", &f, n),
                        Ok(None) | Err(_) => return,
                    }
                    n = n.wrapping_add(1);
                    if let Some(p) = pace {
                        std::thread::sleep(p);
                    }
                }
            })
            .map_err(|e| AppError::internal(&e.to_string()))?;
        match opened_rx.recv() {
            Ok(Ok(())) => Some(t),
            Ok(Err(e)) => {
                missing.push(format!("camera: {e}"));
                let _ = t.join();
                None
            }
            Err(_) => None,
        }
    } else {
        None
    };
    let audio = if mic {
        match preview_audio() {
            Ok(a) => Some(a),
            Err(e) => {
                missing.push(format!("microphone: {e}"));
                None
            }
        }
    } else {
        None
    };
    *lock(&calls.preview) = Some(Preview { stop, video, audio });
    Ok((!missing.is_empty()).then(|| missing.join("; ")))
}

/// The microphone (or the tone), metered and encoded into nothing: what the pre-join meter
/// reads.
fn preview_audio() -> Result<weft_media::pipeline::AudioSender, String> {
    let config = weft_media::audio::codec::OpusConfig::default();
    microphone()
        .and_then(|m| weft_media::pipeline::AudioSender::start(m, config, false, |_| {}))
        .map_err(|e| e.to_string())
}

/// The microphone level on the pre-join screen, dBFS.
#[tauri::command]
#[specta::specta]
pub async fn preview_level(calls: State<'_, Calls>) -> Answer<Option<f32>> {
    Ok(lock(&calls.preview)
        .as_ref()
        .and_then(|p| p.audio.as_ref())
        .map(|a| a.level().level_dbfs()))
}

/// Ends the preview (leaving the pre-join screen, or joining: a camera opens once).
#[tauri::command]
#[specta::specta]
pub async fn stop_preview(calls: State<'_, Calls>) -> Answer<()> {
    calls.end_preview();
    Ok(())
}

/// A remote participant as the call view shows them.
#[derive(Debug, Clone, Serialize, Type)]
pub struct PeerView {
    pub device: String,
    pub user: Option<Id>,
    /// `connecting`, `connected`, `disconnected`, `failed`…
    pub state: String,
    /// `good`, `fair` or `poor`.
    pub quality: String,
    pub speaking: bool,
    pub frames: u32,
}

/// The call view: who is in it and how this device is sending.
#[derive(Debug, Clone, Serialize, Type)]
pub struct CallView {
    pub meeting: Id,
    pub channel: Id,
    pub title: String,
    /// This device (its own preview's tile name is `me`).
    pub me: String,
    pub muted: bool,
    pub camera: bool,
    pub peers: Vec<PeerView>,
    pub active_speaker: Option<String>,
    pub input_level_dbfs: Option<f32>,
    /// Why a device is missing (no camera, no microphone), for the person to see.
    pub notice: Option<String>,
}

/// What the pre-join screen offers.
#[derive(Debug, Clone, Serialize, Type)]
pub struct CallDevices {
    pub cameras: Vec<String>,
    pub microphones: Vec<String>,
    pub speakers: Vec<String>,
}

/// `WEFT_CAMERA=pattern` sends the numbered test pattern instead of a camera (machines with
/// none, and the end-to-end tests); `WEFT_MIC=tone` a tone instead of a microphone.
fn synthetic(var: &str, value: &str) -> bool {
    std::env::var(var).is_ok_and(|v| v == value)
}

/// What a call sends: the small size for the test pattern, else the default.
fn video_settings() -> VideoSettings {
    if synthetic("WEFT_CAMERA", "pattern") {
        VideoSettings::SMALL
    } else {
        VideoSettings::default()
    }
}

/// The first camera, or the test pattern with `WEFT_CAMERA=pattern`. Made on the thread
/// that reads it (a camera can't move between threads).
fn open_camera(v: VideoSettings) -> weft_media::Result<Box<dyn VideoSource>> {
    if synthetic("WEFT_CAMERA", "pattern") {
        return Ok(Box::new(weft_media::synthetic::TestPattern::new(
            v.width, v.height, v.fps,
        )?));
    }
    let index = weft_media::video::camera::list_cameras()?
        .first()
        .map(|c| c.index)
        .ok_or(weft_media::MediaError::NoCamera(None))?;
    Ok(Box::new(weft_media::video::camera::Camera::open(
        index, v.width, v.height, v.fps,
    )?))
}

/// The default microphone, or a tone with `WEFT_MIC=tone`.
enum Microphone {
    Tone(weft_media::synthetic::ToneSource),
    Device(weft_media::audio::device::AudioCapture),
}

impl AudioSource for Microphone {
    fn pull(&mut self) -> weft_media::Result<weft_media::pipeline::Pull> {
        match self {
            Microphone::Tone(t) => t.pull(),
            Microphone::Device(d) => d.pull(),
        }
    }
    fn paced(&self) -> bool {
        match self {
            Microphone::Tone(t) => t.paced(),
            Microphone::Device(d) => d.paced(),
        }
    }
}

fn microphone() -> weft_media::Result<Microphone> {
    if synthetic("WEFT_MIC", "tone") {
        return Ok(Microphone::Tone(weft_media::synthetic::ToneSource::new(1)));
    }
    weft_media::audio::device::AudioCapture::open(weft_media::audio::device::CaptureConfig {
        device: None,
        channels: 1,
        queue_frames: 25,
        fallback: true,
    })
    .map(Microphone::Device)
}

/// The picture being sent, tapped before encoding as this device's own tile.
struct Tapped {
    inner: Box<dyn VideoSource>,
    frames: Arc<Frames>,
    n: u32,
}

impl VideoSource for Tapped {
    fn next_frame(&mut self) -> weft_media::Result<Option<VideoFrame>> {
        let f = self.inner.next_frame()?;
        if let Some(f) = &f
            && self.n.is_multiple_of(2)
        {
            self.frames.put("me", f, self.n);
        }
        self.n = self.n.wrapping_add(1);
        Ok(f)
    }
    fn pace_fps(&self) -> Option<f64> {
        self.inner.pace_fps()
    }
}

fn start_video(call: &Call, frames: Arc<Frames>) -> Result<(), String> {
    let v = video_settings();
    call.set_video_source(move || {
        Ok(Tapped {
            inner: open_camera(v)?,
            frames,
            n: 0,
        })
    })
    .map_err(|e| e.to_string())
}

fn start_audio(call: &Call) -> Result<(), String> {
    let mic = microphone().map_err(|e| e.to_string())?;
    call.set_audio_source(mic).map_err(|e| e.to_string())
}

impl Calls {
    async fn view(&self, app: &App) -> Option<CallView> {
        let g = self.active.lock().await;
        let a = g.as_ref()?;
        let speaker = a.call.active_speaker().await;
        let mut peers = Vec::new();
        for p in a.call.participants().await {
            let user = app
                .with(|e| e.device_owner(a.workspace, &p.peer))
                .ok()
                .flatten();
            peers.push(PeerView {
                speaking: speaker.as_deref() == Some(p.peer.as_str()),
                device: p.peer,
                user,
                state: p.state,
                quality: p.quality.into(),
                frames: p.frames_decoded.min(u64::from(u32::MAX)) as u32,
            });
        }
        Some(CallView {
            meeting: a.meeting,
            channel: a.channel,
            title: a.title.clone(),
            me: a.call.me().to_owned(),
            muted: a.call.muted(),
            camera: a.call.camera_on(),
            peers,
            active_speaker: speaker,
            input_level_dbfs: a.call.input_level_dbfs(),
            notice: a.notice.clone(),
        })
    }
}

async fn join(
    app: &App,
    calls: &Calls,
    meeting: weft_domain::Meeting,
    camera: bool,
    mic: bool,
) -> Answer<CallView> {
    let id = meeting
        .id
        .ok_or_else(|| AppError::internal("meeting without id"))?;
    // A meeting of invited people and no channel is signalled under its own id.
    let channel = meeting.channel.unwrap_or(id);
    calls.end_preview();
    if let Some(old) = calls.active.lock().await.take() {
        old.call.leave().await;
        let _ = app.with(|e| e.leave_meeting(old.meeting));
    }
    calls.frames.clear();
    let (workspace, me) = app.with(|e| Ok((e.meeting_workspace(id)?, e.device_id()?)))?;
    let mut config = CallConfig::new(id.to_string(), me);
    if let Ok(bind) = std::env::var("WEFT_CALL_BIND") {
        config.bind = vec![bind];
    }
    config.video = video_settings();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let call = Call::start(
        config,
        Arc::new(UiSinks {
            frames: calls.frames.clone(),
        }),
        tx,
    )
    .await
    .map_err(|e| AppError::new("call", e.to_string()))?;
    let mut missing = Vec::new();
    if camera && let Err(e) = start_video(&call, calls.frames.clone()) {
        missing.push(format!("camera: {e}"));
    }
    if mic && let Err(e) = start_audio(&call) {
        missing.push(format!("microphone: {e}"));
    }
    tauri::async_runtime::spawn(weft_call::bridge::run(
        app.engine.clone(),
        call.clone(),
        channel,
        rx,
    ));
    *calls.active.lock().await = Some(Active {
        call,
        meeting: id,
        channel,
        workspace,
        title: meeting.title,
        notice: (!missing.is_empty()).then(|| missing.join("; ")),
    });
    calls
        .view(app)
        .await
        .ok_or_else(|| AppError::internal("the call ended at once"))
}

/// Joins the call going on in a channel or DM, or starts one (everyone in it is invited).
#[tauri::command]
#[specta::specta]
pub async fn start_call(
    app: State<'_, App>,
    calls: State<'_, Calls>,
    channel: Id,
    camera: bool,
    mic: bool,
) -> Answer<CallView> {
    // A call already going on in the channel is joined, not doubled.
    let going = ongoing_call(app.clone(), channel).await?;
    let meeting = app.with(|e| match going.and_then(|m| m.id) {
        Some(id) => e.join_meeting(id),
        None => e.start_call(channel),
    })?;
    join(&app, &calls, meeting, camera, mic).await
}

/// The call going on in a channel, if any (the channel shows "Join call").
#[tauri::command]
#[specta::specta]
pub async fn ongoing_call(
    app: State<'_, App>,
    channel: Id,
) -> Answer<Option<weft_domain::Meeting>> {
    app.with(|e| {
        let ws = e.channel(channel)?.0;
        Ok(e.meetings(ws)?.into_iter().find(|m| {
            m.channel == Some(channel) && m.status == weft_domain::MeetingStatus::InProgress
        }))
    })
}

/// Joins a meeting by id or `weft://meet/…` link.
#[tauri::command]
#[specta::specta]
pub async fn join_call(
    app: State<'_, App>,
    calls: State<'_, Calls>,
    meeting: String,
    camera: bool,
    mic: bool,
) -> Answer<CallView> {
    let m = app.with(|e| {
        let m = e.meeting(&meeting)?;
        let id =
            m.id.ok_or_else(|| weft_core::CoreError::NotFound("meeting".into()))?;
        e.join_meeting(id)
    })?;
    join(&app, &calls, m, camera, mic).await
}

/// Leaves the call (the last one out completes the meeting).
#[tauri::command]
#[specta::specta]
pub async fn leave_call(app: State<'_, App>, calls: State<'_, Calls>) -> Answer<()> {
    let Some(a) = calls.active.lock().await.take() else {
        return Ok(());
    };
    a.call.leave().await;
    calls.frames.clear();
    app.with(|e| e.leave_meeting(a.meeting).map(|_| ()))
}

/// The call in progress, if any.
#[tauri::command]
#[specta::specta]
pub async fn call_view(app: State<'_, App>, calls: State<'_, Calls>) -> Answer<Option<CallView>> {
    Ok(calls.view(&app).await)
}

/// Mutes or unmutes the microphone.
#[tauri::command]
#[specta::specta]
pub async fn set_call_muted(
    app: State<'_, App>,
    calls: State<'_, Calls>,
    muted: bool,
) -> Answer<Option<CallView>> {
    if let Some(a) = calls.active.lock().await.as_ref() {
        a.call.set_muted(muted);
    }
    Ok(calls.view(&app).await)
}

/// Turns the camera on or off.
#[tauri::command]
#[specta::specta]
pub async fn set_call_camera(
    app: State<'_, App>,
    calls: State<'_, Calls>,
    on: bool,
) -> Answer<Option<CallView>> {
    {
        let mut g = calls.active.lock().await;
        if let Some(a) = g.as_mut() {
            if on {
                // Same settings as the call started with (the pattern stays small).
                if let Err(e) = start_video(&a.call, calls.frames.clone()) {
                    a.notice = Some(format!("camera: {e}"));
                }
            } else {
                a.call.camera_off();
                lock(&calls.frames.latest).remove("me");
            }
        }
    }
    Ok(calls.view(&app).await)
}

/// Cameras, microphones and speakers, for the pre-join screen.
#[tauri::command]
#[specta::specta]
pub async fn call_devices() -> Answer<CallDevices> {
    let mut cameras: Vec<String> = weft_media::video::camera::list_cameras()
        .unwrap_or_default()
        .into_iter()
        .map(|c| c.name)
        .collect();
    if synthetic("WEFT_CAMERA", "pattern") {
        cameras.insert(0, "Test pattern".into());
    }
    let mut audio = weft_media::audio::device::list_devices().unwrap_or_default();
    // The default device first: it is the one a call opens.
    audio.sort_by_key(|d| !d.is_default);
    let of = |dir: Direction| -> Vec<String> {
        audio
            .iter()
            .filter(|d| d.direction == dir)
            .map(|d| d.name.clone())
            .collect()
    };
    let mut microphones = of(Direction::Input);
    if synthetic("WEFT_MIC", "tone") {
        microphones.insert(0, "Test tone".into());
    }
    Ok(CallDevices {
        cameras,
        microphones,
        speakers: of(Direction::Output),
    })
}
