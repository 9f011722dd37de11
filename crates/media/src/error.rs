//! One error type for the media engine, with a variant for each thing a caller can act on.

/// What went wrong in capture, coding or playback.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    /// No audio device of that direction (or with that id) exists.
    #[error("no audio {direction} device{}", .id.as_ref().map(|i| format!(" named {i:?}")).unwrap_or_default())]
    NoAudioDevice {
        /// "input" or "output".
        direction: &'static str,
        /// The id asked for, if one was.
        id: Option<String>,
    },
    /// The device was there but went away (unplugged, server stopped).
    #[error("audio device {id:?} disappeared: {reason}")]
    DeviceLost {
        /// The device's id.
        id: String,
        /// What the audio host said.
        reason: String,
    },
    /// The audio host refused or failed.
    #[error("audio: {0}")]
    Audio(String),
    /// No camera is attached (or none with that index).
    #[error("no camera{}", .0.map(|i| format!(" at index {i}")).unwrap_or_default())]
    NoCamera(Option<u32>),
    /// The operating system refused access to the camera.
    #[error("permission to use the camera was refused: {0}")]
    CameraPermission(String),
    /// The camera failed, or offers nothing we can use.
    #[error("camera: {0}")]
    Camera(String),
    /// This build has no camera support.
    #[error("this build of Weft has no camera support (feature `camera`)")]
    CameraUnsupported,
    /// Opus refused a setting or a packet.
    #[error("opus: {0}")]
    Opus(String),
    /// OpenH264 refused a setting or failed to code.
    #[error("h264: {0}")]
    H264(String),
    /// A frame or setting is malformed (wrong size, zero dimensions, odd sizes, ...).
    #[error("invalid {what}: {why}")]
    Invalid {
        /// What was wrong.
        what: &'static str,
        /// Why.
        why: String,
    },
    /// A Y4M or WAV file is unreadable or in a form we don't take.
    #[error("{path}: {why}")]
    File {
        /// The file.
        path: String,
        /// Why.
        why: String,
    },
    /// Reading or writing failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

impl MediaError {
    pub(crate) fn invalid(what: &'static str, why: impl Into<String>) -> Self {
        MediaError::Invalid {
            what,
            why: why.into(),
        }
    }
}

impl From<opus::Error> for MediaError {
    fn from(e: opus::Error) -> Self {
        MediaError::Opus(e.to_string())
    }
}

impl From<openh264::Error> for MediaError {
    fn from(e: openh264::Error) -> Self {
        MediaError::H264(e.to_string())
    }
}

/// The crate's result type.
pub type Result<T, E = MediaError> = std::result::Result<T, E>;
