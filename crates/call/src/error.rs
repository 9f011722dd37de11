/// What can go wrong in a call.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The WebRTC stack refused something.
    #[error("WebRTC: {0}")]
    Rtc(String),
    /// A capture device, encoder or decoder failed.
    #[error(transparent)]
    Media(#[from] weft_media::MediaError),
    /// Another device sent something this one won't act on.
    #[error("signal from {from} refused: {reason}")]
    BadSignal { from: String, reason: String },
    /// No room for another participant.
    #[error("the call is full (at most {max} participants)")]
    Full { max: usize },
    /// A setting is out of range.
    #[error("{0}")]
    Invalid(String),
    /// The call was left.
    #[error("the call has ended")]
    Ended,
}
