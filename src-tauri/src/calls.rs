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
use weft_call::{Call, CallConfig, RemoteSinks};
use weft_domain::Id;
use weft_media::frame::VideoFrame;
use weft_media::pipeline::{AudioSink, FnSink, VideoSink, VideoSource};

use crate::devices::{self, CallDevices, DeviceChoice, Microphone, Speaker};
use crate::{Answer, App, AppError, lock};

/// The newest picture of each participant, by device; `me` is this device's own preview.
#[derive(Default)]
pub struct Frames {
    latest: StdMutex<HashMap<String, Arc<Vec<u8>>>>,
}

/// Pictures are sent to the page at most this wide (a tile is never bigger).
const MAX_TILE_WIDTH: u32 = 640;

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
    speaker: Arc<Speaker>,
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
        Box::new(self.speaker.sink())
    }
}

/// The call in progress.
pub struct Active {
    call: Call,
    meeting: Id,
    channel: Id,
    workspace: Id,
    title: String,
    /// The message whose thread is the call's chat, and its channel.
    thread: Option<Id>,
    chat_channel: Option<Id>,
    notice: Option<String>,
    /// Whether the microphone was asked for (muting keeps it open).
    mic: bool,
    /// The devices in use.
    choice: DeviceChoice,
}

/// The pre-join screen's camera preview and microphone meter, before any call.
struct Preview {
    camera: bool,
    mic: bool,
    video: Option<weft_media::pipeline::VideoCapture>,
    audio: Option<weft_media::pipeline::AudioSender>,
}

impl Preview {
    /// Releases the camera and the microphone, and waits until they are (a camera opens
    /// once: the call's own capture comes next).
    fn end(self) {
        drop(self.video);
        drop(self.audio);
    }
}

/// The call slot of the app, and the pictures it shows.
#[derive(Default)]
pub struct Calls {
    active: tokio::sync::Mutex<Option<Active>>,
    preview: StdMutex<Option<Preview>>,
    pub frames: Arc<Frames>,
    speaker: Arc<Speaker>,
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
    app: State<'_, App>,
    calls: State<'_, Calls>,
    camera: bool,
    mic: bool,
) -> Answer<Option<String>> {
    let choice = app.with(|e| DeviceChoice::load(e))?;
    calls.preview(&choice, camera, mic)
}

impl Calls {
    fn preview(&self, choice: &DeviceChoice, camera: bool, mic: bool) -> Answer<Option<String>> {
        self.end_preview();
        let mut notices = Notices::default();
        let video = camera
            .then(|| {
                let t = preview_video(self.frames.clone(), choice.camera.clone());
                notices.opened("camera", t)
            })
            .flatten();
        let audio = mic
            .then(|| notices.opened("microphone", preview_audio(choice.microphone.as_deref())))
            .flatten()
            .map(|(a, fell_back)| {
                notices.note(fell_back);
                a
            });
        *lock(&self.preview) = Some(Preview {
            camera,
            mic,
            video,
            audio,
        });
        Ok(notices.text())
    }
}

/// What the person should know about their devices (one that didn't open, one that fell
/// back to the default), one part per device.
#[derive(Default)]
struct Notices(Vec<String>);

impl Notices {
    /// Keeps what opened; notes why `what` didn't.
    fn opened<T>(&mut self, what: &str, r: Result<T, String>) -> Option<T> {
        r.map_err(|e| self.0.push(format!("{what}: {e}"))).ok()
    }

    fn note(&mut self, notice: Option<String>) {
        self.0.extend(notice);
    }

    /// Notes why the microphone didn't open, or which one it fell back to.
    fn microphone(&mut self, opened: Result<Option<String>, String>) {
        let fell_back = self.opened("microphone", opened);
        self.note(fell_back.flatten());
    }

    fn text(self) -> Option<String> {
        (!self.0.is_empty()).then(|| self.0.join("; "))
    }
}

/// The chosen camera as the `me` picture until the capture is dropped; answers once the
/// camera opened or failed to.
fn preview_video(
    frames: Arc<Frames>,
    chosen: Option<String>,
) -> Result<weft_media::pipeline::VideoCapture, String> {
    let mut n = 0u32;
    weft_media::pipeline::VideoCapture::start(
        move || devices::open_camera(chosen.as_deref(), devices::video_settings()),
        move |f| {
            frames.put("me", &f, n);
            n = n.wrapping_add(1);
        },
    )
    .map_err(|e| e.to_string())
}

/// The microphone (or the tone), metered and encoded into nothing: what the pre-join meter
/// reads; with a notice when the chosen one was missing.
fn preview_audio(
    chosen: Option<&str>,
) -> Result<(weft_media::pipeline::AudioSender, Option<String>), String> {
    let config = weft_media::audio::codec::OpusConfig::default();
    let (mic, notice) = Microphone::open_noting(chosen)?;
    weft_media::pipeline::AudioSender::start(mic, config, false, |_| {})
        .map(|a| (a, notice))
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
    /// `host`, `srflx` or `prflx` (direct) or `relay` (through a TURN server); empty until
    /// connected.
    pub route: String,
}

/// The call view: who is in it and how this device is sending.
#[derive(Debug, Clone, Serialize, Type)]
pub struct CallView {
    pub meeting: Id,
    pub channel: Id,
    pub title: String,
    /// The message whose thread is the call's chat: in the call's channel, or in the group
    /// DM of a meeting's invited people (none when it could not be posted).
    pub thread: Option<Id>,
    /// The channel that message is in.
    pub chat_channel: Option<Id>,
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

/// Sends the chosen camera (the same settings the call started with: the pattern stays
/// small).
fn start_video(call: &Call, frames: Arc<Frames>, chosen: Option<String>) -> Result<(), String> {
    let v = devices::video_settings();
    call.set_video_source(move || {
        Ok(Tapped {
            inner: devices::open_camera(chosen.as_deref(), v)?,
            frames,
            n: 0,
        })
    })
    .map_err(|e| e.to_string())
}

/// Sends the chosen microphone; answers a notice when it was missing and another opened.
fn start_audio(call: &Call, chosen: Option<&str>) -> Result<Option<String>, String> {
    let (mic, notice) = Microphone::open_noting(chosen)?;
    call.set_audio_source(mic).map_err(|e| e.to_string())?;
    Ok(notice)
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
                route: p.route,
            });
        }
        Some(CallView {
            meeting: a.meeting,
            channel: a.channel,
            title: a.title.clone(),
            thread: a.thread,
            chat_channel: a.chat_channel,
            me: a.call.me().to_owned(),
            muted: a.call.muted(),
            camera: a.call.camera_on(),
            peers,
            active_speaker: speaker,
            input_level_dbfs: a.call.input_level_dbfs(),
            notice: [a.call.problem(), a.notice.clone(), self.speaker.notice()]
                .into_iter()
                .flatten()
                .reduce(|a, b| format!("{a}; {b}")),
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
    let (workspace, me, team, chat_channel) = app.with(|e| {
        let ws = e.meeting_workspace(id)?;
        // The thread's message may not have synced yet (its channel's documents sync apart
        // from the calendar's): the call goes ahead without its chat then.
        let chat = meeting
            .thread
            .and_then(|t| e.message(t).ok())
            .and_then(|m| m.channel);
        Ok((ws, e.device_id()?, e.workspace(ws)?.settings, chat))
    })?;
    let mut config = CallConfig::new(id.to_string(), me);
    // The team's STUN and TURN servers, and whether calls may go only through them. One
    // this version can't use (stored by another) is left out and told, not every call failed.
    let mut notices = Notices::default();
    for s in team.call_servers {
        match s.validate() {
            Ok(()) => config.ice_servers.push(s),
            Err(e) => notices.note(Some(format!("a call server was left out: {e}"))),
        }
    }
    // Relay-only stays so even with no TURN server left: the call is then refused with the
    // reason rather than sent around the relay.
    config.relay_only = team.calls_relay_only;
    if let Ok(bind) = std::env::var("WEFT_CALL_BIND") {
        config.bind = vec![bind];
    }
    config.video = devices::video_settings();
    let choice = app.with(|e| DeviceChoice::load(e))?;
    calls.speaker.choose(choice.speaker.clone());
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let call = Call::start(
        config,
        Arc::new(UiSinks {
            frames: calls.frames.clone(),
            speaker: calls.speaker.clone(),
        }),
        tx,
    )
    .await
    .map_err(|e| AppError::new("call", e.to_string()))?;
    if camera {
        let v = start_video(&call, calls.frames.clone(), choice.camera.clone());
        notices.opened("camera", v);
    }
    if mic {
        notices.microphone(start_audio(&call, choice.microphone.as_deref()));
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
        thread: meeting.thread,
        chat_channel,
        notice: notices.text(),
        mic,
        choice,
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
                if let Err(e) = start_video(&a.call, calls.frames.clone(), a.choice.camera.clone())
                {
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

/// Cameras, microphones and speakers, and the ones chosen, for the pickers.
#[tauri::command]
#[specta::specta]
pub async fn call_devices(app: State<'_, App>) -> Answer<CallDevices> {
    let choice = app.with(|e| DeviceChoice::load(e))?;
    Ok(devices::list(&choice))
}

/// Chooses the camera, microphone and speaker (kept on this device for the next call). The
/// pre-join preview or the call going on moves to them at once; answers what is missing, if
/// anything.
#[tauri::command]
#[specta::specta]
pub async fn choose_call_devices(
    app: State<'_, App>,
    calls: State<'_, Calls>,
    choice: DeviceChoice,
) -> Answer<Option<String>> {
    app.with(|e| choice.save(e))?;
    calls.speaker.choose(choice.speaker.clone());
    let preview = lock(&calls.preview).as_ref().map(|p| (p.camera, p.mic));
    if let Some((camera, mic)) = preview {
        return calls.preview(&choice, camera, mic);
    }
    let mut g = calls.active.lock().await;
    let Some(a) = g.as_mut() else {
        return Ok(None);
    };
    let mut notices = Notices::default();
    if choice.camera != a.choice.camera && a.call.camera_on() {
        let v = start_video(&a.call, calls.frames.clone(), choice.camera.clone());
        notices.opened("camera", v);
    }
    if choice.microphone != a.choice.microphone && a.mic {
        notices.microphone(start_audio(&a.call, choice.microphone.as_deref()));
    }
    a.choice = choice;
    a.notice = notices.text();
    Ok(a.notice.clone())
}
