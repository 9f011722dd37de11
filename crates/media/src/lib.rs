//! weft-media: Weft's native media engine. Calls never use the webview's WebRTC (WebKitGTK
//! has none): audio and video are captured, coded and played here, in Rust.
//!
//! - [`audio`]: cpal devices ([`audio::device`]), resampling to and from 48 kHz, Opus with
//!   FEC and DTX, a jitter-absorbing playout buffer with concealment, level metering and
//!   optional RNNoise suppression.
//! - [`video`]: cameras through nokhwa, conversion to I420, H.264 through OpenH264.
//! - [`synthetic`] and [`file`]: sources and sinks for machines with no devices (a numbered
//!   test pattern, a marked tone, Y4M and WAV), which run through the same pipelines.
//! - [`pipeline`]: capture → encode → bytes → decode → render/play on bounded queues.
//!
//! ```
//! use weft_media::{synthetic::{TestPattern, read_frame_number}, video::h264::*};
//! let mut pattern = TestPattern::new(320, 240, 30).unwrap();
//! let mut enc = H264Encoder::new(H264Config::default()).unwrap();
//! let mut dec = H264Decoder::new().unwrap();
//! let unit = enc.encode(&pattern.next_frame()).unwrap();
//! let Decoded::Frame(frame) = dec.decode(&unit) else { panic!() };
//! assert_eq!(read_frame_number(&frame), Some(0));
//! ```

pub mod audio;
pub mod clock;
mod error;
pub mod file;
pub mod frame;
pub mod pipeline;
pub mod synthetic;
pub mod video;

pub use error::{MediaError, Result};
pub use frame::{AudioFrame, EncodedAudio, EncodedVideo, VideoFrame};
