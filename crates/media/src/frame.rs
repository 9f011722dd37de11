//! Raw media as it moves through a pipeline: 20 ms of 48 kHz audio, one I420 picture, and
//! their encoded forms. Every frame carries its capture time (`pts_us`, microseconds on the
//! sender's monotonic clock) from source to sink.

use crate::{MediaError, Result};

/// The rate every pipeline works at; devices at other rates are resampled to and from it.
pub const SAMPLE_RATE: u32 = 48_000;
/// Length of one audio frame.
pub const FRAME_MS: u32 = 20;
/// Samples per channel in one audio frame (20 ms at 48 kHz).
pub const FRAME_SAMPLES: usize = (SAMPLE_RATE / 1000 * FRAME_MS) as usize;

/// 20 ms of 48 kHz audio, interleaved `f32` in [-1, 1], mono or stereo.
#[derive(Clone, Debug, PartialEq)]
pub struct AudioFrame {
    /// Interleaved samples: `FRAME_SAMPLES * channels` of them.
    pub samples: Vec<f32>,
    /// 1 or 2.
    pub channels: u16,
    /// Capture time in microseconds.
    pub pts_us: u64,
}

impl AudioFrame {
    /// A frame of silence.
    pub fn silence(channels: u16, pts_us: u64) -> AudioFrame {
        AudioFrame {
            samples: vec![0.0; FRAME_SAMPLES * channels as usize],
            channels,
            pts_us,
        }
    }

    /// Checks the frame holds exactly 20 ms of mono or stereo audio.
    pub fn validate(&self) -> Result<()> {
        if !(1..=2).contains(&self.channels) {
            return Err(MediaError::invalid(
                "audio frame",
                format!("{} channels (1 or 2 are supported)", self.channels),
            ));
        }
        let want = FRAME_SAMPLES * self.channels as usize;
        if self.samples.len() != want {
            return Err(MediaError::invalid(
                "audio frame",
                format!(
                    "{} samples where 20 ms of {}-channel audio is {want}",
                    self.samples.len(),
                    self.channels
                ),
            ));
        }
        Ok(())
    }

    /// Root-mean-square level in dBFS (-100 for digital silence).
    pub fn rms_dbfs(&self) -> f32 {
        rms_dbfs(&self.samples)
    }
}

/// Root-mean-square level of samples in [-1, 1], in dBFS, floored at -100.
pub fn rms_dbfs(samples: &[f32]) -> f32 {
    if samples.is_empty() {
        return -100.0;
    }
    let mean_sq = samples.iter().map(|s| s * s).sum::<f32>() / samples.len() as f32;
    if mean_sq <= 1e-10 {
        -100.0
    } else {
        (10.0 * mean_sq.log10()).max(-100.0)
    }
}

/// One picture in I420 (planar Y, then U and V at half resolution), tightly packed.
#[derive(Clone, Debug, PartialEq)]
pub struct VideoFrame {
    /// Width in pixels (even).
    pub width: u32,
    /// Height in pixels (even).
    pub height: u32,
    /// `width*height` luma bytes, then two planes of `(width/2)*(height/2)` chroma bytes.
    pub data: Vec<u8>,
    /// Capture time in microseconds.
    pub pts_us: u64,
}

impl VideoFrame {
    /// Bytes an I420 picture of this size takes.
    pub fn i420_len(width: u32, height: u32) -> usize {
        let (w, h) = (width as usize, height as usize);
        w * h + 2 * (w / 2) * (h / 2)
    }

    /// A black picture.
    pub fn black(width: u32, height: u32, pts_us: u64) -> Result<VideoFrame> {
        check_dimensions(width, height)?;
        let luma = (width * height) as usize;
        let mut data = vec![16u8; Self::i420_len(width, height)];
        data[luma..].fill(128);
        Ok(VideoFrame {
            width,
            height,
            data,
            pts_us,
        })
    }

    /// Wraps I420 bytes, checking the size.
    pub fn from_i420(width: u32, height: u32, data: Vec<u8>, pts_us: u64) -> Result<VideoFrame> {
        check_dimensions(width, height)?;
        let want = Self::i420_len(width, height);
        if data.len() != want {
            return Err(MediaError::invalid(
                "video frame",
                format!(
                    "{} bytes where an I420 picture of {width}x{height} is {want}",
                    data.len()
                ),
            ));
        }
        Ok(VideoFrame {
            width,
            height,
            data,
            pts_us,
        })
    }

    /// The luma plane.
    pub fn y(&self) -> &[u8] {
        &self.data[..(self.width * self.height) as usize]
    }

    /// The U plane.
    pub fn u(&self) -> &[u8] {
        let luma = (self.width * self.height) as usize;
        let chroma = luma / 4;
        &self.data[luma..luma + chroma]
    }

    /// The V plane.
    pub fn v(&self) -> &[u8] {
        let luma = (self.width * self.height) as usize;
        let chroma = luma / 4;
        &self.data[luma + chroma..]
    }

    /// The picture flipped left to right, as a self-view shows it.
    pub fn mirrored(&self) -> VideoFrame {
        let (w, h) = (self.width as usize, self.height as usize);
        let mut data = Vec::with_capacity(self.data.len());
        for (plane, pw, ph) in [
            (self.y(), w, h),
            (self.u(), w / 2, h / 2),
            (self.v(), w / 2, h / 2),
        ] {
            for row in plane.chunks_exact(pw).take(ph) {
                data.extend(row.iter().rev());
            }
        }
        VideoFrame {
            width: self.width,
            height: self.height,
            data,
            pts_us: self.pts_us,
        }
    }

    /// Peak signal-to-noise ratio of the luma plane against a reference of the same size,
    /// in dB (100 for identical planes).
    pub fn psnr_y(&self, reference: &VideoFrame) -> Result<f64> {
        if (self.width, self.height) != (reference.width, reference.height) {
            return Err(MediaError::invalid(
                "PSNR reference",
                format!(
                    "{}x{} against {}x{}",
                    self.width, self.height, reference.width, reference.height
                ),
            ));
        }
        let sq: u64 = self
            .y()
            .iter()
            .zip(reference.y())
            .map(|(&a, &b)| {
                let d = i64::from(a) - i64::from(b);
                (d * d) as u64
            })
            .sum();
        if sq == 0 {
            return Ok(100.0);
        }
        let mse = sq as f64 / self.y().len() as f64;
        Ok(10.0 * (255.0f64 * 255.0 / mse).log10())
    }
}

/// Refuses sizes a codec or the I420 layout can't take.
pub fn check_dimensions(width: u32, height: u32) -> Result<()> {
    if width == 0 || height == 0 || !width.is_multiple_of(2) || !height.is_multiple_of(2) {
        return Err(MediaError::invalid(
            "video size",
            format!("{width}x{height} (both must be even and non-zero)"),
        ));
    }
    if width > 3840 || height > 2160 {
        return Err(MediaError::invalid(
            "video size",
            format!("{width}x{height} (at most 3840x2160)"),
        ));
    }
    Ok(())
}

/// One encoded Opus packet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EncodedAudio {
    /// The packet; empty when DTX decided this frame needn't be sent.
    pub data: Vec<u8>,
    /// Frame counter, one per 20 ms, wrapping.
    pub seq: u32,
    /// Capture time of the frame.
    pub pts_us: u64,
}

/// One encoded H.264 access unit (Annex B byte stream).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EncodedVideo {
    /// NAL units with start codes; empty when the encoder skipped the frame.
    pub data: Vec<u8>,
    /// Whether this is an IDR picture (with SPS and PPS in front).
    pub keyframe: bool,
    /// Capture time of the frame.
    pub pts_us: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_sizes_are_refused_with_the_reason() {
        assert!(VideoFrame::black(641, 480, 0).is_err());
        assert!(VideoFrame::black(0, 480, 0).is_err());
        assert!(VideoFrame::black(4096, 2304, 0).is_err());
        let err = VideoFrame::from_i420(4, 4, vec![0; 10], 0).unwrap_err();
        assert!(err.to_string().contains("24"), "{err}");
        let frame = AudioFrame {
            samples: vec![0.0; 100],
            channels: 1,
            pts_us: 0,
        };
        assert!(frame.validate().unwrap_err().to_string().contains("960"));
    }

    #[test]
    fn mirroring_flips_each_row_and_twice_is_the_original() {
        let mut f = VideoFrame::black(4, 2, 7).unwrap();
        f.data[..4].copy_from_slice(&[1, 2, 3, 4]);
        let m = f.mirrored();
        assert_eq!(&m.y()[..4], &[4, 3, 2, 1]);
        assert_eq!(m.mirrored(), f);
        assert_eq!(m.pts_us, 7);
    }

    #[test]
    fn psnr_is_high_for_small_errors_and_refuses_other_sizes() {
        let a = VideoFrame::black(16, 16, 0).unwrap();
        let mut b = a.clone();
        assert_eq!(b.psnr_y(&a).unwrap(), 100.0);
        b.data[0] += 1;
        assert!(b.psnr_y(&a).unwrap() > 60.0);
        assert!(b.psnr_y(&VideoFrame::black(8, 8, 0).unwrap()).is_err());
    }
}
