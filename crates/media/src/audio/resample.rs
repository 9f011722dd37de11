//! Rate and channel conversion between a device's own format and the pipelines' 48 kHz,
//! with rubato's FFT resampler. Takes input in whatever sizes a device callback delivers
//! and hands out whole frames (or fills a device's buffer) from a FIFO.

use std::collections::VecDeque;

use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Resampler as _};

use crate::{MediaError, Result};

/// Converts interleaved `f32` audio from one rate and channel count to another.
pub struct Resampler {
    from_channels: usize,
    to_channels: usize,
    inner: Option<Fft<f32>>,
    chunk: usize,
    /// Channel-mapped input not yet resampled (at the input rate, `to_channels` wide).
    pending: Vec<f32>,
    scratch: Vec<f32>,
    out: VecDeque<f32>,
}

impl std::fmt::Debug for Resampler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resampler")
            .field("from_channels", &self.from_channels)
            .field("to_channels", &self.to_channels)
            .field("resampling", &self.inner.is_some())
            .finish()
    }
}

impl Resampler {
    /// A converter from `from_rate` Hz with `from_channels` to `to_rate` with `to_channels`.
    /// Fewer channels are mixed down (averaged); more are copied out of the ones there are.
    pub fn new(
        from_rate: u32,
        from_channels: u16,
        to_rate: u32,
        to_channels: u16,
    ) -> Result<Resampler> {
        if from_channels == 0 || to_channels == 0 {
            return Err(MediaError::invalid("channel count", "0"));
        }
        for rate in [from_rate, to_rate] {
            if !(8_000..=384_000).contains(&rate) {
                return Err(MediaError::invalid(
                    "sample rate",
                    format!("{rate} Hz (8000 to 384000)"),
                ));
            }
        }
        // 10 ms of input per resampler call.
        let chunk = (from_rate / 100) as usize;
        let inner = if from_rate == to_rate {
            None
        } else {
            Some(
                Fft::<f32>::new(
                    from_rate as usize,
                    to_rate as usize,
                    chunk,
                    to_channels as usize,
                    FixedSync::Input,
                )
                .map_err(|e| MediaError::Audio(format!("resampler {from_rate}->{to_rate}: {e}")))?,
            )
        };
        let out_max = inner.as_ref().map_or(chunk, |r| r.output_frames_max());
        Ok(Resampler {
            from_channels: from_channels as usize,
            to_channels: to_channels as usize,
            inner,
            chunk,
            pending: Vec::new(),
            scratch: vec![0.0; out_max * to_channels as usize],
            out: VecDeque::new(),
        })
    }

    /// Takes interleaved input (a whole number of input frames; a stray partial frame at
    /// the end is ignored).
    pub fn push(&mut self, input: &[f32]) {
        let (fc, tc) = (self.from_channels, self.to_channels);
        for frame in input.chunks_exact(fc) {
            if tc == 1 {
                self.pending.push(frame.iter().sum::<f32>() / fc as f32);
            } else {
                for c in 0..tc {
                    self.pending.push(frame[c % fc]);
                }
            }
        }
        let Some(inner) = self.inner.as_mut() else {
            self.out.extend(self.pending.drain(..));
            return;
        };
        let step = self.chunk * tc;
        let mut at = 0;
        while self.pending.len() - at >= step {
            let frames_out = self.scratch.len() / tc;
            let result = match (
                InterleavedSlice::new(&self.pending[at..at + step], tc, self.chunk),
                InterleavedSlice::new_mut(&mut self.scratch, tc, frames_out),
            ) {
                (Ok(input), Ok(mut output)) => inner.process_into_buffer(&input, &mut output, None),
                _ => break,
            };
            match result {
                Ok((_, written)) => self.out.extend(&self.scratch[..written * tc]),
                Err(e) => {
                    tracing::warn!("resampler: {e}");
                    break;
                }
            }
            at += step;
        }
        self.pending.drain(..at);
    }

    /// The resampler's delay in output frames (silence it puts in front).
    pub fn delay(&self) -> usize {
        self.inner.as_ref().map_or(0, |r| r.output_delay())
    }

    /// Output frames ready.
    pub fn available(&self) -> usize {
        self.out.len() / self.to_channels
    }

    /// Takes `frames` output frames if that many are ready.
    pub fn pop(&mut self, frames: usize) -> Option<Vec<f32>> {
        let n = frames * self.to_channels;
        (self.out.len() >= n).then(|| self.out.drain(..n).collect())
    }

    /// Fills `dst` with as many ready samples as there are; returns how many it wrote.
    pub fn fill(&mut self, dst: &mut [f32]) -> usize {
        let n = dst.len().min(self.out.len());
        for (d, s) in dst.iter_mut().zip(self.out.drain(..n)) {
            *d = s;
        }
        n
    }

    /// Drops ready output beyond `frames` frames, oldest first; returns frames dropped.
    pub fn trim(&mut self, frames: usize) -> usize {
        let keep = frames * self.to_channels;
        let excess = self.out.len().saturating_sub(keep);
        self.out.drain(..excess);
        excess / self.to_channels
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synthetic::goertzel_power;

    fn sine(rate: u32, hz: f32, frames: usize, channels: usize) -> Vec<f32> {
        (0..frames)
            .flat_map(|i| {
                let s = (2.0 * std::f32::consts::PI * hz * i as f32 / rate as f32).sin() * 0.5;
                std::iter::repeat_n(s, channels)
            })
            .collect()
    }

    #[test]
    fn a_tone_keeps_its_pitch_and_length_across_rates() {
        for (rate, ch) in [(44_100, 2u16), (16_000, 1), (96_000, 1), (48_000, 2)] {
            let mut r = Resampler::new(rate, ch, 48_000, 1).unwrap();
            // One second in odd-sized pieces, as device callbacks deliver it.
            let input = sine(rate, 440.0, rate as usize, ch as usize);
            for piece in input.chunks(333 * ch as usize) {
                r.push(piece);
            }
            let got = r.available();
            assert!((47_000..=48_000).contains(&got), "{rate}: {got} frames out");
            let out = r.pop(24_000).unwrap();
            let tone = goertzel_power(&out[4_800..], 440.0, 48_000);
            let off = goertzel_power(&out[4_800..], 600.0, 48_000);
            assert!(tone > 0.03 && off < tone / 100.0, "{rate}: {tone} vs {off}");
        }
    }

    #[test]
    fn mono_is_spread_to_stereo_and_stereo_mixed_to_mono() {
        let mut up = Resampler::new(48_000, 1, 48_000, 2).unwrap();
        up.push(&[0.25, -0.5]);
        assert_eq!(up.pop(2).unwrap(), vec![0.25, 0.25, -0.5, -0.5]);
        let mut down = Resampler::new(48_000, 2, 48_000, 1).unwrap();
        down.push(&[0.5, 0.0, 1.0, 1.0, 0.3]);
        assert_eq!(down.pop(2).unwrap(), vec![0.25, 1.0]);
        assert!(down.pop(1).is_none());
        let mut dst = [9.0; 3];
        up.push(&[0.1]);
        assert_eq!(up.fill(&mut dst), 2);
        assert!(Resampler::new(1000, 1, 48_000, 1).is_err());
        assert!(Resampler::new(48_000, 0, 48_000, 1).is_err());
    }
}
