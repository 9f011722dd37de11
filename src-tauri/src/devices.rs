//! Cameras, microphones and speakers for calls: what the pickers list, what the person chose
//! (a device-local preference, never replicated: another machine has other devices), and
//! opening them. A chosen device that is missing falls back to the default, and the person is
//! told which one is in use.
//!
//! `WEFT_CAMERA=pattern` lists the numbered test pattern as the first camera and
//! `WEFT_MIC=tone` a tone as the first microphone (machines with none, and the end-to-end
//! tests).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex as StdMutex};

use serde::{Deserialize, Serialize};
use specta::Type;
use weft_call::VideoSettings;
use weft_media::audio::device::{
    AudioCapture, AudioPlayback, CaptureConfig, Direction, PlaybackConfig,
};
use weft_media::frame::AudioFrame;
use weft_media::pipeline::{AudioSink, AudioSource, Pull, VideoSource};
use weft_media::synthetic::{TestPattern, ToneSource};

use crate::lock;

/// The test pattern's id among the cameras.
pub const PATTERN: &str = "pattern";
/// The tone's id among the microphones.
pub const TONE: &str = "tone";
/// Cameras are opened by index; their ids are `camera:<index>`.
const CAMERA_PREFIX: &str = "camera:";

/// One device in a picker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Type)]
pub struct DeviceOption {
    pub id: String,
    pub name: String,
}

/// What the person chose; `None` is the system's default.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, Type)]
pub struct DeviceChoice {
    pub camera: Option<String>,
    pub microphone: Option<String>,
    pub speaker: Option<String>,
}

impl DeviceChoice {
    const KEYS: [&str; 3] = ["call.camera", "call.microphone", "call.speaker"];

    fn slots(&mut self) -> [&mut Option<String>; 3] {
        [&mut self.camera, &mut self.microphone, &mut self.speaker]
    }

    /// The choice kept on this device.
    pub fn load(e: &weft_core::Engine) -> weft_core::Result<DeviceChoice> {
        let mut c = DeviceChoice::default();
        for (slot, key) in c.slots().into_iter().zip(Self::KEYS) {
            *slot = e.local_pref(key)?.filter(|v| !v.is_empty());
        }
        Ok(c)
    }

    /// Keeps the choice on this device (an empty value is the default).
    pub fn save(&self, e: &mut weft_core::Engine) -> weft_core::Result<()> {
        let mut c = self.clone();
        for (slot, key) in c.slots().into_iter().zip(Self::KEYS) {
            e.set_local_pref(key, slot.as_deref().unwrap_or(""))?;
        }
        Ok(())
    }
}

/// What the pickers offer, the default first, and what each is set to now.
#[derive(Debug, Clone, Serialize, Type)]
pub struct CallDevices {
    pub cameras: Vec<DeviceOption>,
    pub microphones: Vec<DeviceOption>,
    pub speakers: Vec<DeviceOption>,
    /// The chosen device of each kind where it is attached, else the default's id.
    pub selected: DeviceChoice,
}

fn synthetic(var: &str, value: &str) -> bool {
    std::env::var(var).is_ok_and(|v| v == value)
}

/// What a call sends: the small size for the test pattern, else the default.
pub fn video_settings() -> VideoSettings {
    if synthetic("WEFT_CAMERA", PATTERN) {
        VideoSettings::SMALL
    } else {
        VideoSettings::default()
    }
}

/// Every camera, microphone and speaker, and the choice resolved against them.
pub fn list(choice: &DeviceChoice) -> CallDevices {
    let mut cameras: Vec<DeviceOption> = weft_media::video::camera::list_cameras()
        .unwrap_or_default()
        .into_iter()
        .map(|c| DeviceOption {
            id: format!("{CAMERA_PREFIX}{}", c.index),
            name: c.name,
        })
        .collect();
    if synthetic("WEFT_CAMERA", PATTERN) {
        cameras.insert(0, option(PATTERN, "Test pattern"));
    }
    let mut audio = weft_media::audio::device::list_devices().unwrap_or_default();
    // The default device first: it is the one opened when nothing was chosen.
    audio.sort_by_key(|d| !d.is_default);
    let of = |dir: Direction| -> Vec<DeviceOption> {
        audio
            .iter()
            .filter(|d| d.direction == dir)
            .map(|d| option(&d.id, &d.name))
            .collect()
    };
    let mut microphones = of(Direction::Input);
    if synthetic("WEFT_MIC", TONE) {
        microphones.insert(0, option(TONE, "Test tone"));
    }
    let speakers = of(Direction::Output);
    let pick = |list: &[DeviceOption], chosen: &Option<String>| {
        chosen
            .as_ref()
            .filter(|c| list.iter().any(|d| &d.id == *c))
            .or(list.first().map(|d| &d.id))
            .cloned()
    };
    CallDevices {
        selected: DeviceChoice {
            camera: pick(&cameras, &choice.camera),
            microphone: pick(&microphones, &choice.microphone),
            speaker: pick(&speakers, &choice.speaker),
        },
        cameras,
        microphones,
        speakers,
    }
}

fn option(id: &str, name: &str) -> DeviceOption {
    DeviceOption {
        id: id.into(),
        name: name.into(),
    }
}

/// Opens the chosen camera, or the first one (the test pattern with `WEFT_CAMERA=pattern`).
/// Made on the thread that reads it: a camera can't move between threads.
pub fn open_camera(
    chosen: Option<&str>,
    v: VideoSettings,
) -> weft_media::Result<Box<dyn VideoSource>> {
    let pattern = || -> weft_media::Result<Box<dyn VideoSource>> {
        Ok(Box::new(TestPattern::new(v.width, v.height, v.fps)?))
    };
    let index = match chosen {
        Some(PATTERN) => return pattern(),
        Some(id) => match id.strip_prefix(CAMERA_PREFIX).map(str::parse::<u32>) {
            Some(Ok(i)) => Some(i),
            _ => {
                return Err(weft_media::MediaError::Camera(format!(
                    "no camera has the id {id:?}"
                )));
            }
        },
        None if synthetic("WEFT_CAMERA", PATTERN) => return pattern(),
        None => None,
    };
    let index = match index {
        Some(i) => i,
        None => weft_media::video::camera::list_cameras()?
            .first()
            .map(|c| c.index)
            .ok_or(weft_media::MediaError::NoCamera(None))?,
    };
    Ok(Box::new(weft_media::video::camera::Camera::open(
        index, v.width, v.height, v.fps,
    )?))
}

/// A microphone, or the tone.
pub enum Microphone {
    Tone(ToneSource),
    Device(AudioCapture),
}

impl Microphone {
    /// Opens the chosen microphone, or the default one (the tone with `WEFT_MIC=tone`). A
    /// chosen device that is missing falls back to the default: [`Microphone::device`] says
    /// which one opened.
    pub fn open(chosen: Option<&str>) -> weft_media::Result<Microphone> {
        match chosen {
            Some(TONE) => return Ok(Microphone::Tone(ToneSource::new(1))),
            None if synthetic("WEFT_MIC", TONE) => return Ok(Microphone::Tone(ToneSource::new(1))),
            _ => {}
        }
        AudioCapture::open(CaptureConfig {
            device: chosen.map(str::to_owned),
            channels: 1,
            queue_frames: 25,
            fallback: true,
        })
        .map(Microphone::Device)
    }

    /// [`Microphone::open`], with a notice when the chosen one was missing and the default
    /// opened instead.
    pub fn open_noting(chosen: Option<&str>) -> Result<(Microphone, Option<String>), String> {
        let mic = Microphone::open(chosen).map_err(|e| e.to_string())?;
        let notice = fell_back("microphone", chosen, mic.device());
        Ok((mic, notice))
    }

    /// The id of the device in use.
    pub fn device(&self) -> &str {
        match self {
            Microphone::Tone(_) => TONE,
            Microphone::Device(d) => d.device(),
        }
    }
}

impl AudioSource for Microphone {
    fn pull(&mut self) -> weft_media::Result<Pull> {
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

/// A notice when a chosen device was missing and another opened instead.
pub fn fell_back(kind: &str, chosen: Option<&str>, opened: &str) -> Option<String> {
    chosen
        .filter(|c| *c != opened)
        .map(|c| format!("{kind} {c} isn't available; using {opened}"))
}

/// The speaker every remote participant plays on; changing it moves them all at their next
/// frame.
#[derive(Default)]
pub struct Speaker {
    chosen: StdMutex<Option<String>>,
    generation: AtomicU64,
    /// The device the participants' audio opened on most recently.
    opened: StdMutex<Option<String>>,
}

impl Speaker {
    /// Plays on `id` (or the default) from now on.
    pub fn choose(&self, id: Option<String>) {
        let mut c = lock(&self.chosen);
        if *c != id {
            *c = id;
            self.generation.fetch_add(1, Ordering::Release);
        }
    }

    /// A notice when the chosen speaker was missing and the call's audio plays on another.
    pub fn notice(&self) -> Option<String> {
        let chosen = lock(&self.chosen).clone();
        let opened = lock(&self.opened).clone()?;
        fell_back("speaker", chosen.as_deref(), &opened)
    }

    /// A sink for one participant's audio that follows the choice.
    pub fn sink(self: &Arc<Self>) -> SpeakerSink {
        SpeakerSink {
            speaker: self.clone(),
            generation: u64::MAX,
            out: None,
        }
    }

    fn open(&self) -> Option<AudioPlayback> {
        let chosen = lock(&self.chosen).clone();
        match AudioPlayback::open(PlaybackConfig {
            device: chosen,
            channels: 1,
            max_queue_ms: 200,
            fallback: true,
        }) {
            Ok(p) => {
                *lock(&self.opened) = Some(p.device().into());
                Some(p)
            }
            Err(e) => {
                // A machine with no output still takes the call.
                tracing::info!("no audio output for the call: {e}");
                None
            }
        }
    }
}

/// One participant's audio on the chosen speaker.
pub struct SpeakerSink {
    speaker: Arc<Speaker>,
    generation: u64,
    out: Option<AudioPlayback>,
}

impl AudioSink for SpeakerSink {
    fn play(&mut self, frame: AudioFrame) -> weft_media::Result<()> {
        let g = self.speaker.generation.load(Ordering::Acquire);
        if g != self.generation {
            self.generation = g;
            // The old stream closes before the new one opens (one device, one stream).
            self.out = None;
            self.out = self.speaker.open();
        }
        match &mut self.out {
            Some(p) => p.play(frame),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_camera_id_is_refused_by_name() {
        let Err(e) = open_camera(Some("webcam-7"), VideoSettings::SMALL) else {
            panic!("opened a camera that has no such id");
        };
        assert!(e.to_string().contains("webcam-7"), "{e}");
    }

    #[test]
    fn the_pattern_and_the_tone_open_when_chosen() {
        let mut cam = open_camera(Some(PATTERN), VideoSettings::SMALL).expect("pattern");
        let f = cam.next_frame().expect("frame").expect("a picture");
        assert_eq!(
            (f.width, f.height),
            (VideoSettings::SMALL.width, VideoSettings::SMALL.height)
        );
        let mic = Microphone::open(Some(TONE)).expect("tone");
        assert_eq!(mic.device(), TONE);
    }

    #[test]
    fn a_missing_choice_resolves_to_the_default_and_says_so() {
        let d = list(&DeviceChoice {
            camera: Some("camera:99".into()),
            microphone: None,
            speaker: Some("nowhere".into()),
        });
        // A device not attached is never shown as the one in use.
        assert_ne!(d.selected.camera.as_deref(), Some("camera:99"));
        assert_ne!(d.selected.speaker.as_deref(), Some("nowhere"));
        assert_eq!(d.selected.camera, d.cameras.first().map(|c| c.id.clone()));
        assert_eq!(d.selected.speaker, d.speakers.first().map(|c| c.id.clone()));
        assert_eq!(
            fell_back("microphone", Some("usb"), "default").as_deref(),
            Some("microphone usb isn't available; using default")
        );
        assert_eq!(fell_back("microphone", Some("usb"), "usb"), None);
        assert_eq!(fell_back("microphone", None, "default"), None);
    }

    #[test]
    fn the_choice_is_kept_on_this_device_across_restarts() {
        let dir = tempfile::tempdir().unwrap();
        let chosen = DeviceChoice {
            camera: Some("camera:1".into()),
            microphone: Some("alsa:pulse".into()),
            speaker: None,
        };
        {
            let mut e = weft_core::Engine::open(dir.path()).unwrap();
            assert_eq!(DeviceChoice::load(&e).unwrap(), DeviceChoice::default());
            chosen.save(&mut e).unwrap();
        }
        let mut e = weft_core::Engine::open(dir.path()).unwrap();
        assert_eq!(DeviceChoice::load(&e).unwrap(), chosen);
        // Back to the defaults.
        DeviceChoice::default().save(&mut e).unwrap();
        assert_eq!(DeviceChoice::load(&e).unwrap(), DeviceChoice::default());
    }
}
