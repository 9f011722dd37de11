//! weft-call: calls between Weft devices over WebRTC (the `webrtc` crate, 0.21, pinned).
//!
//! - [`Call`]: one device's side of a call — a mesh of connections, one per other
//!   participant (up to [`MAX_PARTICIPANTS`]), each sending this device's Opus and H.264
//!   (from `weft-media`, encoded once) and receiving theirs into the app's sinks.
//! - [`signal`]: the offer/answer/candidate messages, carried by the engine over the relay's
//!   ephemeral path in signed envelopes; this crate never talks to the relay itself.
//! - [`reassembly`]: RTP → H.264 access units with a short wait for retransmissions (NACK)
//!   and keyframe requests (PLI) for holes that stay open.
//! - [`bwe`]: the video bitrate follows the loss the receivers report.

pub mod bridge;
pub mod bwe;
mod error;
pub mod loopback;
pub mod reassembly;
mod session;
pub mod signal;
mod tap;

pub use error::CallError;
pub use session::{
    Call, CallConfig, IceServer, MAX_PARTICIPANTS, ParticipantInfo, RemoteSinks, VideoSettings,
};
pub use signal::{PeerId, Signal, SignalMessage};

/// A call result.
pub type Result<T> = std::result::Result<T, CallError>;
