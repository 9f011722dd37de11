//! H.264 with OpenH264, set up for real-time camera video: constant target bitrate with
//! rate control, a frame-rate cap, SPS and PPS in front of every IDR, keyframes on request
//! and at a fixed interval, bitrate changes on the fly; a decoder that survives loss (it
//! asks for a keyframe) and follows resolution changes.
//!
//! Where the codec comes from: by default OpenH264 is built from source into Weft (the
//! `source` feature), which is what development and CI use. A release can instead load
//! Cisco's prebuilt binary at run time ([`Codec::load`], `WEFT_OPENH264_LIB`): Cisco pays
//! the H.264 patent royalties for binaries it distributes, so the licence stays with Cisco.

use std::path::Path;

use openh264::OpenH264API;
use openh264::decoder::{DecodeOptions, Decoder, DecoderConfig};
use openh264::encoder::{
    BitRate, Complexity, Encoder, EncoderConfig, FrameRate, FrameType, IntraFramePeriod,
    RateControlMode, SpsPpsStrategy, UsageType,
};
use openh264::formats::YUVSource;

use crate::frame::{EncodedVideo, VideoFrame, check_dimensions};
use crate::{MediaError, Result};

/// Where OpenH264 comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Codec {
    /// Built from source into this binary.
    Builtin,
    /// Cisco's shared library, loaded at run time from this path (checked against the
    /// hashes of releases the `openh264` crate knows).
    Cisco(std::path::PathBuf),
}

impl Codec {
    /// Cisco's library if `WEFT_OPENH264_LIB` names one, else the built-in codec.
    pub fn from_env() -> Codec {
        match std::env::var_os("WEFT_OPENH264_LIB") {
            Some(p) if !p.is_empty() => Codec::Cisco(p.into()),
            _ => Codec::Builtin,
        }
    }

    /// Loads the codec.
    pub fn load(&self) -> Result<OpenH264API> {
        match self {
            Codec::Builtin => Ok(OpenH264API::from_source()),
            Codec::Cisco(path) => OpenH264API::from_blob_path(path).map_err(|e| {
                MediaError::H264(format!(
                    "could not load Cisco's OpenH264 from {}: {e}",
                    Path::new(path).display()
                ))
            }),
        }
    }
}

/// How a sender's H.264 encoder is set up.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct H264Config {
    /// Target bitrate in bits per second.
    pub bitrate_bps: u32,
    /// Most frames per second the rate control plans for.
    pub max_fps: f32,
    /// An IDR every this many frames (0: only on request).
    pub keyframe_interval: u32,
    /// Encoder threads (1 keeps latency and CPU predictable on small machines).
    pub threads: u16,
}

impl Default for H264Config {
    fn default() -> Self {
        H264Config {
            bitrate_bps: 800_000,
            max_fps: 30.0,
            keyframe_interval: 300,
            threads: 1,
        }
    }
}

struct Planes<'a>(&'a VideoFrame);

impl YUVSource for Planes<'_> {
    fn dimensions(&self) -> (usize, usize) {
        (self.0.width as usize, self.0.height as usize)
    }

    fn strides(&self) -> (usize, usize, usize) {
        let w = self.0.width as usize;
        (w, w / 2, w / 2)
    }

    fn y(&self) -> &[u8] {
        self.0.y()
    }

    fn u(&self) -> &[u8] {
        self.0.u()
    }

    fn v(&self) -> &[u8] {
        self.0.v()
    }
}

/// Encodes I420 frames to H.264 access units.
pub struct H264Encoder {
    inner: Encoder,
    codec: Codec,
    config: H264Config,
    keyframe_wanted: bool,
    frames: u64,
    /// Size of the last frame encoded.
    dimensions: Option<(u32, u32)>,
}

impl std::fmt::Debug for H264Encoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("H264Encoder")
            .field("config", &self.config)
            .finish()
    }
}

fn encoder_config(c: &H264Config) -> EncoderConfig {
    EncoderConfig::new()
        .bitrate(BitRate::from_bps(c.bitrate_bps))
        .max_frame_rate(FrameRate::from_hz(c.max_fps))
        .usage_type(UsageType::CameraVideoRealTime)
        .rate_control_mode(RateControlMode::Bitrate)
        // Never skip a frame to save bits (a call counts every frame): rate control holds
        // the target with the quantiser alone.
        .skip_frames(false)
        .sps_pps_strategy(SpsPpsStrategy::ConstantId)
        .complexity(Complexity::Low)
        // Keyframes only at the interval and on request: an unplanned IDR is a burst the
        // network pays for.
        .scene_change_detect(false)
        .intra_frame_period(IntraFramePeriod::from_num_frames(c.keyframe_interval))
        .num_threads(c.threads)
}

impl H264Encoder {
    /// An encoder from the built-in codec.
    pub fn new(config: H264Config) -> Result<H264Encoder> {
        Self::with_codec(&Codec::Builtin, config)
    }

    /// An encoder from the given codec.
    pub fn with_codec(codec: &Codec, config: H264Config) -> Result<H264Encoder> {
        if !(50_000..=20_000_000).contains(&config.bitrate_bps) {
            return Err(MediaError::invalid(
                "H.264 bitrate",
                format!("{} bit/s (50 kbit/s to 20 Mbit/s)", config.bitrate_bps),
            ));
        }
        if !(1.0..=120.0).contains(&config.max_fps) {
            return Err(MediaError::invalid(
                "frame rate",
                format!("{} fps (1 to 120)", config.max_fps),
            ));
        }
        let inner = Encoder::with_api_config(codec.load()?, encoder_config(&config))?;
        Ok(H264Encoder {
            inner,
            codec: codec.clone(),
            config,
            keyframe_wanted: false,
            frames: 0,
            dimensions: None,
        })
    }

    /// The settings in force.
    pub fn config(&self) -> H264Config {
        self.config
    }

    /// Makes the next frame an IDR (a receiver lost its picture: PLI or FIR).
    pub fn request_keyframe(&mut self) {
        self.keyframe_wanted = true;
    }

    /// Changes the target bitrate of the running encoder (bandwidth estimation lowered or
    /// raised it); takes effect from the next frame, with no keyframe.
    pub fn set_bitrate(&mut self, bps: u32) -> Result<()> {
        if !(50_000..=20_000_000).contains(&bps) {
            return Err(MediaError::invalid("H.264 bitrate", format!("{bps} bit/s")));
        }
        self.config.bitrate_bps = bps;
        if self.frames > 0 {
            set_running_bitrate(&mut self.inner, bps)
        } else {
            // Not yet initialised: the new setting goes in when it is.
            self.rebuild()
        }
    }

    /// A fresh encoder with the settings in force (OpenH264's own re-initialisation on a
    /// change of size would go back to the bitrate it was created with).
    fn rebuild(&mut self) -> Result<()> {
        self.inner = Encoder::with_api_config(self.codec.load()?, encoder_config(&self.config))?;
        Ok(())
    }

    /// Encodes one frame. A frame the rate control skips comes back with empty `data`.
    pub fn encode(&mut self, frame: &VideoFrame) -> Result<EncodedVideo> {
        check_dimensions(frame.width, frame.height)?;
        if frame.data.len() != VideoFrame::i420_len(frame.width, frame.height) {
            return Err(MediaError::invalid(
                "video frame",
                "plane sizes don't match its dimensions",
            ));
        }
        let size = (frame.width, frame.height);
        if self.dimensions.is_some_and(|d| d != size) {
            // A new size starts with a keyframe in any case.
            self.rebuild()?;
            self.keyframe_wanted = false;
        }
        self.dimensions = Some(size);
        if self.keyframe_wanted && self.frames > 0 {
            self.inner.force_intra_frame();
        }
        self.keyframe_wanted = false;
        let ts = openh264::Timestamp::from_millis(frame.pts_us / 1000);
        let bitstream = self.inner.encode_at(&Planes(frame), ts)?;
        let keyframe = matches!(bitstream.frame_type(), FrameType::IDR | FrameType::I);
        let skipped = matches!(bitstream.frame_type(), FrameType::Skip | FrameType::Invalid);
        let data = if skipped {
            Vec::new()
        } else {
            bitstream.to_vec()
        };
        self.frames += 1;
        Ok(EncodedVideo {
            data,
            keyframe,
            pts_us: frame.pts_us,
        })
    }
}

/// Sets the target and maximum bitrate of an encoder that is already running, through
/// OpenH264's own option call (the `openh264` crate has no safe wrapper for it).
#[allow(unsafe_code)]
fn set_running_bitrate(encoder: &mut Encoder, bps: u32) -> Result<()> {
    use openh264_sys2::{
        ENCODER_OPTION_BITRATE, ENCODER_OPTION_MAX_BITRATE, SBitrateInfo, SPATIAL_LAYER_ALL,
    };
    let mut info = SBitrateInfo {
        iLayer: SPATIAL_LAYER_ALL,
        iBitrate: bps as i32,
    };
    // SAFETY: the encoder is initialised (a frame has been encoded), and both options take
    // a pointer to an `SBitrateInfo` that outlives the call; OpenH264 copies it.
    let rc = unsafe {
        let raw = encoder.raw_api();
        let a = raw.set_option(ENCODER_OPTION_MAX_BITRATE, (&raw mut info).cast());
        let b = raw.set_option(ENCODER_OPTION_BITRATE, (&raw mut info).cast());
        a | b
    };
    if rc != 0 {
        return Err(MediaError::H264(format!(
            "setting the bitrate to {bps} failed ({rc})"
        )));
    }
    Ok(())
}

/// NAL unit types in an Annex B stream, in order.
pub fn nal_types(annex_b: &[u8]) -> Vec<u8> {
    openh264::nal_units(annex_b)
        .filter_map(|nal| {
            let start = nal.iter().position(|&b| b == 1)? + 1;
            nal.get(start).map(|h| h & 0x1f)
        })
        .collect()
}

/// Decodes H.264 access units to I420 frames.
pub struct H264Decoder {
    inner: Decoder,
    needs_keyframe: bool,
    /// Access units that failed to decode.
    pub errors: u64,
}

impl std::fmt::Debug for H264Decoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("H264Decoder")
            .field("needs_keyframe", &self.needs_keyframe)
            .finish()
    }
}

/// What came of decoding one access unit.
#[derive(Debug)]
pub enum Decoded {
    /// A picture.
    Frame(VideoFrame),
    /// Nothing to show yet (parameter sets only, or the decoder is buffering).
    Nothing,
    /// The data was damaged or referenced lost pictures; ask the sender for a keyframe.
    NeedKeyframe,
}

impl H264Decoder {
    /// A decoder from the built-in codec.
    pub fn new() -> Result<H264Decoder> {
        Self::with_codec(&Codec::Builtin)
    }

    /// A decoder from the given codec.
    pub fn with_codec(codec: &Codec) -> Result<H264Decoder> {
        // Baseline profile has no reordering: each access unit yields its picture at once.
        let config = DecoderConfig::new().flush_after_decode(openh264::decoder::Flush::Flush);
        Ok(H264Decoder {
            inner: Decoder::with_api_config(codec.load()?, config)?,
            needs_keyframe: true,
            errors: 0,
        })
    }

    /// Tells the decoder an access unit was lost in transit (the transport saw a gap):
    /// nothing more is shown until the next keyframe, since later pictures refer to it.
    pub fn note_loss(&mut self) {
        self.needs_keyframe = true;
    }

    /// Whether the decoder is waiting for a keyframe (at the start, and after damage).
    pub fn needs_keyframe(&self) -> bool {
        self.needs_keyframe
    }

    /// Decodes one access unit captured at `pts_us`. Until a keyframe arrives (at the start
    /// or after a loss), delta frames are not fed to the decoder at all, so no smeared
    /// picture is ever shown.
    pub fn decode(&mut self, unit: &EncodedVideo) -> Decoded {
        if unit.data.is_empty() {
            return Decoded::Nothing;
        }
        let has_idr = nal_types(&unit.data).contains(&5);
        if self.needs_keyframe && !has_idr {
            return Decoded::NeedKeyframe;
        }
        match self
            .inner
            .decode_with_options(&unit.data, DecodeOptions::default())
        {
            Ok(Some(yuv)) => {
                let (w, h) = yuv.dimensions();
                if check_dimensions(w as u32, h as u32).is_err() {
                    // A picture size Weft can't show (odd, or over 4K) from the peer.
                    self.errors += 1;
                    self.needs_keyframe = true;
                    return Decoded::NeedKeyframe;
                }
                self.needs_keyframe = false;
                let (sy, su, sv) = yuv.strides();
                let mut data = Vec::with_capacity(VideoFrame::i420_len(w as u32, h as u32));
                for (plane, stride, pw, ph) in [
                    (yuv.y(), sy, w, h),
                    (yuv.u(), su, w / 2, h / 2),
                    (yuv.v(), sv, w / 2, h / 2),
                ] {
                    for row in 0..ph {
                        data.extend_from_slice(&plane[row * stride..row * stride + pw]);
                    }
                }
                Decoded::Frame(VideoFrame {
                    width: w as u32,
                    height: h as u32,
                    data,
                    pts_us: unit.pts_us,
                })
            }
            Ok(None) => {
                if has_idr {
                    self.needs_keyframe = false;
                }
                Decoded::Nothing
            }
            Err(e) => {
                tracing::debug!("h264 decode: {e}");
                self.errors += 1;
                self.needs_keyframe = true;
                Decoded::NeedKeyframe
            }
        }
    }
}
