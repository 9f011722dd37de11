//! Signalling messages between the devices of a call.
//!
//! They travel over the relay's ephemeral path inside the engine's sealed, device-signed
//! envelopes (`weft-core`), so the relay can neither read nor forge nor alter one: the DTLS
//! fingerprint in an offer is the sending device's own. This module only says what a
//! message is and refuses malformed ones.

use serde::{Deserialize, Serialize};

use crate::CallError;

/// A device taking part in a call (its device id, as the engine names it).
pub type PeerId = String;

/// Largest session description accepted.
pub const MAX_SDP: usize = 32 * 1024;
/// Largest ICE candidate line accepted.
pub const MAX_CANDIDATE: usize = 1024;

/// What one device says to another (or, with no addressee, to everyone in the call).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
pub enum Signal {
    /// I am in the call. Sent to everyone on joining; answered, addressed, by those already
    /// in it. Of two devices, the one whose id sorts first makes the offer.
    Join,
    /// A session description offer (also an ICE restart's).
    Offer { sdp: String },
    /// The answer to an offer.
    Answer { sdp: String },
    /// A trickled ICE candidate.
    Candidate {
        candidate: String,
        sdp_mid: Option<String>,
        sdp_mline_index: Option<u16>,
    },
    /// Please restart ICE (sent by the answering side of a pair, whose path changed).
    Restart,
    /// I left the call.
    Leave,
}

/// A signal with its call and its sender and addressee.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignalMessage {
    /// The call (the meeting id).
    pub call: String,
    /// The sending device; the engine sets it from the envelope's verified signature.
    pub from: PeerId,
    /// The device it is for; `None`: everyone in the call.
    pub to: Option<PeerId>,
    pub signal: Signal,
}

impl SignalMessage {
    /// Refuses what no honest device sends: oversized descriptions or candidates, an offer
    /// that isn't SDP, a message from myself.
    pub fn validate(&self, me: &str) -> Result<(), CallError> {
        let bad = |reason: String| CallError::BadSignal {
            from: self.from.clone(),
            reason,
        };
        if self.from == me {
            return Err(bad("it claims to come from this device".into()));
        }
        match &self.signal {
            Signal::Offer { sdp } | Signal::Answer { sdp } => {
                if sdp.len() > MAX_SDP {
                    return Err(bad(format!(
                        "session description of {} bytes (at most {MAX_SDP})",
                        sdp.len()
                    )));
                }
                if !sdp.starts_with("v=0") {
                    return Err(bad("session description is not SDP".into()));
                }
            }
            Signal::Candidate { candidate, .. } => {
                if candidate.len() > MAX_CANDIDATE {
                    return Err(bad(format!(
                        "ICE candidate of {} bytes (at most {MAX_CANDIDATE})",
                        candidate.len()
                    )));
                }
            }
            Signal::Join | Signal::Restart | Signal::Leave => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(signal: Signal) -> SignalMessage {
        SignalMessage {
            call: "c".into(),
            from: "b".into(),
            to: Some("a".into()),
            signal,
        }
    }

    #[test]
    fn malformed_signals_are_refused_with_the_reason() {
        let big = "v=0\r\n".to_string() + &"a".repeat(MAX_SDP);
        let e = msg(Signal::Offer { sdp: big }).validate("a").unwrap_err();
        assert!(e.to_string().contains("at most 32768"), "{e}");
        let e = msg(Signal::Answer {
            sdp: "hello".into(),
        })
        .validate("a")
        .unwrap_err();
        assert!(e.to_string().contains("not SDP"), "{e}");
        let e = msg(Signal::Join).validate("b").unwrap_err();
        assert!(e.to_string().contains("this device"), "{e}");
        let long = Signal::Candidate {
            candidate: "x".repeat(2000),
            sdp_mid: None,
            sdp_mline_index: None,
        };
        assert!(msg(long).validate("a").is_err());
        assert!(
            msg(Signal::Offer {
                sdp: "v=0\r\n".into()
            })
            .validate("a")
            .is_ok()
        );
    }

    #[test]
    fn signals_round_trip_as_json() {
        let m = msg(Signal::Candidate {
            candidate: "candidate:1 1 udp 1 127.0.0.1 5000 typ host".into(),
            sdp_mid: Some("0".into()),
            sdp_mline_index: Some(0),
        });
        let j = serde_json::to_string(&m).unwrap();
        assert!(j.contains(r#""t":"candidate""#), "{j}");
        assert_eq!(serde_json::from_str::<SignalMessage>(&j).unwrap(), m);
    }
}
