//! Optional noise suppression with RNNoise (the `nnnoiseless` port), on 48 kHz frames.

use crate::frame::AudioFrame;
use nnnoiseless::DenoiseState;

/// Suppresses steady background noise in 20 ms frames, one RNNoise state per channel.
pub struct NoiseSuppressor {
    states: Vec<Box<DenoiseState<'static>>>,
    input: Vec<f32>,
    output: Vec<f32>,
    /// The last frame's voice probability (0..1), averaged over channels.
    pub voice_probability: f32,
}

impl std::fmt::Debug for NoiseSuppressor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NoiseSuppressor")
            .field("channels", &self.states.len())
            .finish()
    }
}

impl NoiseSuppressor {
    /// A suppressor for `channels` channels.
    pub fn new(channels: u16) -> NoiseSuppressor {
        NoiseSuppressor {
            states: (0..channels.max(1)).map(|_| DenoiseState::new()).collect(),
            input: vec![0.0; DenoiseState::FRAME_SIZE],
            output: vec![0.0; DenoiseState::FRAME_SIZE],
            voice_probability: 0.0,
        }
    }

    /// Denoises a frame in place.
    pub fn process(&mut self, frame: &mut AudioFrame) {
        let ch = frame.channels as usize;
        if ch == 0 {
            return;
        }
        if ch != self.states.len() {
            *self = NoiseSuppressor::new(frame.channels);
        }
        let per_channel = frame.samples.len() / ch;
        let mut prob = 0.0;
        for (c, state) in self.states.iter_mut().enumerate() {
            for start in (0..per_channel).step_by(DenoiseState::FRAME_SIZE) {
                let n = DenoiseState::FRAME_SIZE.min(per_channel - start);
                // RNNoise works on 16-bit-scaled floats.
                for i in 0..DenoiseState::FRAME_SIZE {
                    self.input[i] = if i < n {
                        frame.samples[(start + i) * ch + c] * 32768.0
                    } else {
                        0.0
                    };
                }
                prob += state.process_frame(&mut self.output, &self.input);
                for i in 0..n {
                    frame.samples[(start + i) * ch + c] =
                        (self.output[i] / 32768.0).clamp(-1.0, 1.0);
                }
            }
        }
        let blocks = (per_channel.div_ceil(DenoiseState::FRAME_SIZE) * ch).max(1);
        self.voice_probability = prob / blocks as f32;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::{FRAME_SAMPLES, rms_dbfs};

    #[test]
    fn steady_noise_is_turned_down() {
        let mut ns = NoiseSuppressor::new(1);
        // White noise from a fixed LCG, about -20 dBFS.
        let mut x = 12345u32;
        let mut noise = || {
            x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (x >> 8) as f32 / (1u32 << 24) as f32 * 0.06 - 0.03
        };
        let mut before = 0.0;
        let mut after = 0.0;
        for i in 0..100 {
            let mut f = AudioFrame {
                samples: (0..FRAME_SAMPLES).map(|_| noise()).collect(),
                channels: 1,
                pts_us: 0,
            };
            let level = rms_dbfs(&f.samples);
            ns.process(&mut f);
            if i >= 50 {
                before += level;
                after += rms_dbfs(&f.samples);
            }
        }
        assert!(
            after / 50.0 < before / 50.0 - 10.0,
            "{} -> {}",
            before / 50.0,
            after / 50.0
        );
    }
}
