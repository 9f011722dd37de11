//! Opus at 48 kHz in 20 ms frames: bitrate settable, in-band FEC and DTX switchable, and a
//! decoder that conceals a lost frame or recovers it from the next packet's FEC data.

use crate::frame::{AudioFrame, EncodedAudio, FRAME_SAMPLES, SAMPLE_RATE};
use crate::{MediaError, Result};

/// Largest packet we produce; Opus never needs more for 20 ms at these rates.
pub const MAX_PACKET: usize = 1275;

/// How a sender's Opus encoder is set up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpusConfig {
    /// 1 or 2.
    pub channels: u16,
    /// Target bitrate in bits per second (6 000 to 510 000); voice defaults to 32 000.
    pub bitrate_bps: u32,
    /// In-band forward error correction: each packet carries a coarse copy of the one
    /// before, so a single lost packet can be rebuilt from its successor.
    pub fec: bool,
    /// Discontinuous transmission: near-silent frames produce no packet to send.
    pub dtx: bool,
    /// Loss the encoder should plan FEC for, in percent.
    pub expected_loss_pct: u8,
}

impl Default for OpusConfig {
    fn default() -> Self {
        OpusConfig {
            channels: 1,
            bitrate_bps: 32_000,
            fec: true,
            dtx: false,
            expected_loss_pct: 5,
        }
    }
}

fn channels(n: u16) -> Result<opus::Channels> {
    match n {
        1 => Ok(opus::Channels::Mono),
        2 => Ok(opus::Channels::Stereo),
        n => Err(MediaError::invalid(
            "channel count",
            format!("{n} (Opus here takes 1 or 2)"),
        )),
    }
}

/// Encodes 20 ms frames to Opus packets.
pub struct OpusEncoder {
    inner: opus::Encoder,
    config: OpusConfig,
    seq: u32,
    out: Vec<u8>,
}

impl std::fmt::Debug for OpusEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpusEncoder")
            .field("config", &self.config)
            .finish()
    }
}

impl OpusEncoder {
    /// An encoder for voice (`Application::Voip`) with these settings.
    pub fn new(config: OpusConfig) -> Result<OpusEncoder> {
        let mut inner = opus::Encoder::new(
            SAMPLE_RATE,
            channels(config.channels)?,
            opus::Application::Voip,
        )?;
        inner.set_vbr(true)?;
        let mut enc = OpusEncoder {
            inner,
            config,
            seq: 0,
            out: vec![0; MAX_PACKET],
        };
        enc.set_bitrate(config.bitrate_bps)?;
        enc.set_fec(config.fec, config.expected_loss_pct)?;
        enc.set_dtx(config.dtx)?;
        Ok(enc)
    }

    /// The settings in force.
    pub fn config(&self) -> OpusConfig {
        self.config
    }

    /// Changes the target bitrate.
    pub fn set_bitrate(&mut self, bps: u32) -> Result<()> {
        if !(6_000..=510_000).contains(&bps) {
            return Err(MediaError::invalid(
                "Opus bitrate",
                format!("{bps} bit/s (6000 to 510000)"),
            ));
        }
        self.inner.set_bitrate(opus::Bitrate::Bits(bps as i32))?;
        self.config.bitrate_bps = bps;
        Ok(())
    }

    /// Switches in-band FEC, planning for `expected_loss_pct` percent loss.
    pub fn set_fec(&mut self, on: bool, expected_loss_pct: u8) -> Result<()> {
        if expected_loss_pct > 100 {
            return Err(MediaError::invalid(
                "expected loss",
                format!("{expected_loss_pct}%"),
            ));
        }
        self.inner.set_inband_fec(on)?;
        self.inner.set_packet_loss_perc(if on {
            i32::from(expected_loss_pct.max(1))
        } else {
            0
        })?;
        self.config.fec = on;
        self.config.expected_loss_pct = expected_loss_pct;
        Ok(())
    }

    /// Switches discontinuous transmission.
    pub fn set_dtx(&mut self, on: bool) -> Result<()> {
        self.inner.set_dtx(on)?;
        self.config.dtx = on;
        Ok(())
    }

    /// Encodes one frame. With DTX on, a frame Opus decides not to transmit comes back with
    /// empty `data` (its sequence number is still used, so the receiver sees the gap).
    pub fn encode(&mut self, frame: &AudioFrame) -> Result<EncodedAudio> {
        frame.validate()?;
        if frame.channels != self.config.channels {
            return Err(MediaError::invalid(
                "audio frame",
                format!(
                    "{} channels into a {}-channel encoder",
                    frame.channels, self.config.channels
                ),
            ));
        }
        let n = self.inner.encode_float(&frame.samples, &mut self.out)?;
        let seq = self.seq;
        self.seq = self.seq.wrapping_add(1);
        // Opus signals "nothing to send" in DTX with a packet of at most two bytes.
        let data = if self.config.dtx && n <= 2 {
            Vec::new()
        } else {
            self.out[..n].to_vec()
        };
        Ok(EncodedAudio {
            data,
            seq,
            pts_us: frame.pts_us,
        })
    }
}

/// Decodes Opus packets back to 20 ms frames.
pub struct OpusDecoder {
    inner: opus::Decoder,
    channels: u16,
    buf: Vec<f32>,
}

impl std::fmt::Debug for OpusDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpusDecoder")
            .field("channels", &self.channels)
            .finish()
    }
}

impl OpusDecoder {
    /// A decoder producing `channels` channels.
    pub fn new(channels_out: u16) -> Result<OpusDecoder> {
        Ok(OpusDecoder {
            inner: opus::Decoder::new(SAMPLE_RATE, channels(channels_out)?)?,
            channels: channels_out,
            buf: vec![0.0; FRAME_SAMPLES * 6 * channels_out as usize],
        })
    }

    fn frame(&mut self, input: &[u8], fec: bool, pts_us: u64) -> Result<AudioFrame> {
        let per_channel = if input.is_empty() || fec {
            // Concealment and FEC recovery are asked for exactly one frame's length.
            let len = FRAME_SAMPLES * self.channels as usize;
            self.inner.decode_float(input, &mut self.buf[..len], fec)?
        } else {
            let n = opus::packet::get_nb_samples(input, SAMPLE_RATE)
                .map_err(|e| MediaError::Opus(format!("bad packet: {e}")))?;
            if n != FRAME_SAMPLES {
                return Err(MediaError::Opus(format!(
                    "packet holds {n} samples per channel where 20 ms is {FRAME_SAMPLES}"
                )));
            }
            self.inner.decode_float(input, &mut self.buf, false)?
        };
        let len = per_channel * self.channels as usize;
        Ok(AudioFrame {
            samples: self.buf[..len].to_vec(),
            channels: self.channels,
            pts_us,
        })
    }

    /// Decodes one packet (an empty one, as DTX leaves, decodes as comfort noise).
    pub fn decode(&mut self, packet: &[u8], pts_us: u64) -> Result<AudioFrame> {
        self.frame(packet, false, pts_us)
    }

    /// Conceals one lost frame (Opus packet-loss concealment).
    pub fn conceal(&mut self, pts_us: u64) -> Result<AudioFrame> {
        self.frame(&[], false, pts_us)
    }

    /// Rebuilds the frame lost just before `next_packet` from the FEC data it carries
    /// (concealment if it carries none).
    pub fn recover(&mut self, next_packet: &[u8], pts_us: u64) -> Result<AudioFrame> {
        if next_packet.is_empty() {
            return self.conceal(pts_us);
        }
        self.frame(next_packet, true, pts_us)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synthetic::ToneSource;

    #[test]
    fn settings_out_of_range_are_refused() {
        assert!(
            OpusEncoder::new(OpusConfig {
                channels: 3,
                ..OpusConfig::default()
            })
            .is_err()
        );
        let mut e = OpusEncoder::new(OpusConfig::default()).unwrap();
        assert!(e.set_bitrate(1000).is_err());
        assert_eq!(e.config().bitrate_bps, 32_000);
        let stereo = ToneSource::new(2).next_frame();
        let err = e.encode(&stereo).unwrap_err().to_string();
        assert!(err.contains("2 channels"), "{err}");
        let mut d = OpusDecoder::new(1).unwrap();
        assert!(d.decode(&[0xff, 0xff, 0xff], 0).is_err());
    }

    #[test]
    fn dtx_sends_nothing_for_silence() {
        let mut e = OpusEncoder::new(OpusConfig {
            dtx: true,
            ..OpusConfig::default()
        })
        .unwrap();
        let mut empty = 0;
        for i in 0..100 {
            let p = e.encode(&AudioFrame::silence(1, i * 20_000)).unwrap();
            assert_eq!(p.seq, i as u32);
            empty += usize::from(p.data.is_empty());
        }
        assert!(empty > 80, "{empty} of 100 silent frames suppressed");
        let mut tone = ToneSource::new(1);
        assert!(!e.encode(&tone.next_frame()).unwrap().data.is_empty());
    }
}
