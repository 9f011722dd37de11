//! Sources for machines with no camera or microphone, whose output a receiver can check.
//!
//! - [`TestPattern`]: moving colour bars and a bouncing box, with the frame number written
//!   into the top rows as a block code (32 bits and a CRC-8, one bit per square block) that
//!   survives lossy coding; [`read_frame_number`] reads it back, or says it can't.
//! - [`ToneSource`]: a continuous sine tone whose frames carry a marker (a burst at a second
//!   frequency) at a fixed period; [`goertzel_power`] and [`MarkerDetector`] find both.

use crate::Result;
use crate::frame::{AudioFrame, FRAME_SAMPLES, SAMPLE_RATE, VideoFrame, check_dimensions};

const CODE_COLUMNS: u32 = 20;
const CODE_ROWS: u32 = 2;
const CODE_BITS: u32 = CODE_COLUMNS * CODE_ROWS;
const ONE: u8 = 235;
const ZERO: u8 = 16;

/// Side of one code block for a picture this wide: big enough to survive coding, and the
/// whole code fits in the top-left of the picture.
fn block_size(width: u32, height: u32) -> u32 {
    ((width.min(height * 4 / 3) / 40).clamp(2, 64)) & !1
}

/// CRC-8 (polynomial 0x07) of the frame number's four bytes.
fn crc8(bytes: &[u8]) -> u8 {
    let mut crc = 0xffu8;
    for &b in bytes {
        crc ^= b;
        for _ in 0..8 {
            crc = if crc & 0x80 != 0 {
                (crc << 1) ^ 0x07
            } else {
                crc << 1
            };
        }
    }
    crc
}

fn code_word(number: u32) -> u64 {
    (u64::from(number) << 8) | u64::from(crc8(&number.to_be_bytes()))
}

/// A moving test pattern, one frame per call, numbered from 0.
#[derive(Debug)]
pub struct TestPattern {
    width: u32,
    height: u32,
    fps: u32,
    next: u32,
    start_us: u64,
}

impl TestPattern {
    /// A pattern of this size and rate; `pts_us` of frame `n` is `n / fps` seconds.
    pub fn new(width: u32, height: u32, fps: u32) -> Result<TestPattern> {
        check_pattern_size(width, height)?;
        if fps == 0 || fps > 120 {
            return Err(crate::MediaError::invalid(
                "test pattern rate",
                format!("{fps} fps (1 to 120)"),
            ));
        }
        Ok(TestPattern {
            width,
            height,
            fps,
            next: 0,
            start_us: 0,
        })
    }

    /// Starts the timestamps at `start_us` (a pipeline passes its clock's now).
    pub fn with_start(mut self, start_us: u64) -> TestPattern {
        self.start_us = start_us;
        self
    }

    /// Frames per second.
    pub fn fps(&self) -> u32 {
        self.fps
    }

    /// The next frame.
    pub fn next_frame(&mut self) -> VideoFrame {
        let n = self.next;
        self.next = self.next.wrapping_add(1);
        let pts = self.start_us + u64::from(n) * 1_000_000 / u64::from(self.fps);
        paint(self.width, self.height, n, pts)
    }
}

/// Sizes the pattern can be drawn at and carry its frame number.
fn check_pattern_size(width: u32, height: u32) -> Result<()> {
    check_dimensions(width, height)?;
    if width < 64 || height < 64 || block_size(width, height) * (CODE_COLUMNS + 1) > width {
        return Err(crate::MediaError::invalid(
            "test pattern size",
            format!("{width}x{height} is too small to carry a frame number (at least 64x64)"),
        ));
    }
    Ok(())
}

/// A cheap integer hash for texture and grain.
fn hash(x: u32, y: u32, n: u32) -> u32 {
    let mut h =
        x.wrapping_mul(0x9e37_79b1) ^ y.wrapping_mul(0x85eb_ca77) ^ n.wrapping_mul(0xc2b2_ae3d);
    h ^= h >> 15;
    h = h.wrapping_mul(0x2c1b_3c6d);
    h ^ (h >> 12)
}

/// Draws frame `n` of the pattern at any size the pattern takes (at least 64x64, even).
pub fn draw(width: u32, height: u32, n: u32, pts_us: u64) -> Result<VideoFrame> {
    check_pattern_size(width, height)?;
    Ok(paint(width, height, n, pts_us))
}

fn paint(width: u32, height: u32, n: u32, pts_us: u64) -> VideoFrame {
    let (w, h) = (width as usize, height as usize);
    let mut data = vec![0u8; VideoFrame::i420_len(width, height)];
    let (luma, chroma) = data.split_at_mut(w * h);
    let (u, v) = chroma.split_at_mut((w / 2) * (h / 2));
    let shift = (n as usize * 4) % w;
    // Eight vertical bars drifting right, with a gentle vertical gradient, a fine texture
    // that drifts with them and a little noise that changes every frame — as a camera
    // gives, so a codec has real work to do.
    for y in 0..h {
        let row = &mut luma[y * w..(y + 1) * w];
        for (x, px) in row.iter_mut().enumerate() {
            let sx = (x + w - shift) % w;
            let bar = sx * 8 / w;
            let texture = (hash(sx as u32, y as u32, 0) % 25) as i32 - 12;
            let grain = (hash(x as u32, y as u32, n.wrapping_add(1)) % 7) as i32 - 3;
            *px = (40 + (bar * 22 + y * 30 / h) as i32 + texture + grain).clamp(16, 235) as u8;
        }
    }
    for y in 0..h / 2 {
        for x in 0..w / 2 {
            let bar = ((x * 2 + w - shift) % w) * 8 / w;
            u[y * (w / 2) + x] = (128 + (bar as i32 - 4) * 12) as u8;
            v[y * (w / 2) + x] = (128 - (bar as i32 - 4) * 10) as u8;
        }
    }
    // A bright box bouncing through the lower part of the picture.
    let size = (h / 6).max(8) & !1;
    let top = (h / 4).max(size);
    let span_x = w - size;
    let span_y = h.saturating_sub(top + size).max(1);
    let t = n as usize * 6;
    let bx = if (t / span_x).is_multiple_of(2) {
        t % span_x
    } else {
        span_x - t % span_x
    };
    let t = n as usize * 4;
    let by = top
        + if (t / span_y).is_multiple_of(2) {
            t % span_y
        } else {
            span_y - t % span_y
        };
    for y in by..(by + size).min(h) {
        luma[y * w + bx..y * w + bx + size].fill(220);
    }
    // The frame number.
    let b = block_size(width, height) as usize;
    let word = code_word(n);
    for bit in 0..CODE_BITS as usize {
        let (col, row) = (bit % CODE_COLUMNS as usize, bit / CODE_COLUMNS as usize);
        let value = if word >> (CODE_BITS as usize - 1 - bit) & 1 == 1 {
            ONE
        } else {
            ZERO
        };
        let (x0, y0) = (b + col * b, b / 2 * 2 + row * b);
        for y in y0..y0 + b {
            luma[y * w + x0..y * w + x0 + b].fill(value);
        }
        for y in y0 / 2..(y0 + b) / 2 {
            let o = y * (w / 2) + x0 / 2;
            u[o..o + b / 2].fill(128);
            v[o..o + b / 2].fill(128);
        }
    }
    VideoFrame {
        width,
        height,
        data,
        pts_us,
    }
}

/// Reads the frame number back out of a (possibly coded and decoded) test-pattern frame;
/// `None` if the code is damaged or absent.
pub fn read_frame_number(frame: &VideoFrame) -> Option<u32> {
    let (w, h) = (frame.width as usize, frame.height as usize);
    if frame.data.len() < w * h || frame.height < 64 {
        return None;
    }
    let b = block_size(frame.width, frame.height) as usize;
    if b * (CODE_COLUMNS as usize + 1) > w {
        return None;
    }
    let luma = frame.y();
    let mut word = 0u64;
    for bit in 0..CODE_BITS as usize {
        let (col, row) = (bit % CODE_COLUMNS as usize, bit / CODE_COLUMNS as usize);
        let (x0, y0) = (b + col * b, b / 2 * 2 + row * b);
        // The centre half of the block, away from edges the codec smears.
        let (q, m) = (b / 4, (b / 2).max(1));
        let mut sum = 0u32;
        for y in y0 + q..y0 + q + m {
            sum += luma[y * w + x0 + q..y * w + x0 + q + m]
                .iter()
                .map(|&p| u32::from(p))
                .sum::<u32>();
        }
        let mean = sum / (m * m) as u32;
        word = (word << 1) | u64::from(mean > 125);
    }
    let number = (word >> 8) as u32;
    (crc8(&number.to_be_bytes()) == (word & 0xff) as u8).then_some(number)
}

/// A continuous sine tone with a marker burst every `marker_every` frames.
#[derive(Debug)]
pub struct ToneSource {
    /// Frequency of the tone, Hz.
    pub tone_hz: f32,
    /// Frequency of the marker bursts, Hz.
    pub marker_hz: f32,
    /// Amplitude, 0..1.
    pub amplitude: f32,
    channels: u16,
    marker_every: u32,
    frame: u64,
    start_us: u64,
}

impl ToneSource {
    /// A 440 Hz tone at half scale with a 1760 Hz marker frame once a second.
    pub fn new(channels: u16) -> ToneSource {
        ToneSource {
            tone_hz: 440.0,
            marker_hz: 1760.0,
            amplitude: 0.5,
            channels: channels.clamp(1, 2),
            marker_every: 50,
            frame: 0,
            start_us: 0,
        }
    }

    /// Puts a marker every `frames` frames (0: never).
    pub fn markers_every(mut self, frames: u32) -> ToneSource {
        self.marker_every = frames;
        self
    }

    /// Starts the timestamps at `start_us`.
    pub fn with_start(mut self, start_us: u64) -> ToneSource {
        self.start_us = start_us;
        self
    }

    /// Whether frame `n` carries a marker.
    pub fn is_marker(&self, n: u64) -> bool {
        self.marker_every != 0 && n.is_multiple_of(u64::from(self.marker_every))
    }

    /// The next 20 ms.
    pub fn next_frame(&mut self) -> AudioFrame {
        let n = self.frame;
        self.frame += 1;
        let hz = if self.is_marker(n) {
            self.marker_hz
        } else {
            self.tone_hz
        };
        let ch = self.channels as usize;
        let mut samples = Vec::with_capacity(FRAME_SAMPLES * ch);
        for i in 0..FRAME_SAMPLES as u64 {
            let t = (n * FRAME_SAMPLES as u64 + i) as f64 / f64::from(SAMPLE_RATE);
            let s = (self.amplitude as f64 * (2.0 * std::f64::consts::PI * f64::from(hz) * t).sin())
                as f32;
            samples.extend(std::iter::repeat_n(s, ch));
        }
        AudioFrame {
            samples,
            channels: self.channels,
            pts_us: self.start_us + n * 20_000,
        }
    }
}

/// Power of one frequency in mono samples (Goertzel), normalised so a full-scale sine at
/// that frequency gives about 0.25 whatever the length.
pub fn goertzel_power(samples: &[f32], hz: f32, sample_rate: u32) -> f32 {
    if samples.is_empty() {
        return 0.0;
    }
    let w = 2.0 * std::f32::consts::PI * hz / sample_rate as f32;
    let coeff = 2.0 * w.cos();
    let (mut s1, mut s2) = (0.0f32, 0.0f32);
    for &x in samples {
        let s0 = x + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    let power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
    power / (samples.len() as f32 * samples.len() as f32)
}

/// Finds where marker bursts start in a mono 48 kHz stream, 5 ms at a time.
#[derive(Debug)]
pub struct MarkerDetector {
    tone_hz: f32,
    marker_hz: f32,
    pending: Vec<f32>,
    consumed: u64,
    in_marker: bool,
}

const WINDOW: usize = 240;

impl MarkerDetector {
    /// A detector for a source's tone and marker frequencies.
    pub fn new(tone_hz: f32, marker_hz: f32) -> MarkerDetector {
        MarkerDetector {
            tone_hz,
            marker_hz,
            pending: Vec::new(),
            consumed: 0,
            in_marker: false,
        }
    }

    /// Feeds samples; returns the sample index (from the first sample fed) at which each
    /// marker that started in them began, to within one 5 ms window.
    pub fn push(&mut self, mono: &[f32]) -> Vec<u64> {
        self.pending.extend_from_slice(mono);
        let mut onsets = Vec::new();
        let mut at = 0;
        while self.pending.len() - at >= WINDOW {
            let window = &self.pending[at..at + WINDOW];
            let marker = goertzel_power(window, self.marker_hz, SAMPLE_RATE);
            let tone = goertzel_power(window, self.tone_hz, SAMPLE_RATE);
            let is_marker = marker > 0.002 && marker > 4.0 * tone;
            if is_marker && !self.in_marker {
                onsets.push(self.consumed);
            }
            self.in_marker = is_marker;
            self.consumed += WINDOW as u64;
            at += WINDOW;
        }
        self.pending.drain(..at);
        onsets
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_numbers_read_back_and_damage_is_detected() {
        for (w, h) in [(640, 480), (1280, 720), (320, 240), (160, 120)] {
            let mut p = TestPattern::new(w, h, 30).unwrap();
            for n in 0..40 {
                let f = p.next_frame();
                assert_eq!(read_frame_number(&f), Some(n), "{w}x{h} frame {n}");
                assert_eq!(f.pts_us, u64::from(n) * 1_000_000 / 30);
            }
        }
        let mut f = draw(640, 480, 0xdead_beef, 0).unwrap();
        assert_eq!(read_frame_number(&f), Some(0xdead_beef));
        // Flip one bit block: the CRC catches it.
        let b = block_size(640, 480) as usize;
        for y in b..2 * b {
            for x in b..2 * b {
                f.data[y * 640 + x] = 255 - f.data[y * 640 + x];
            }
        }
        assert_eq!(read_frame_number(&f), None);
        assert_eq!(
            read_frame_number(&VideoFrame::black(640, 480, 0).unwrap()),
            None
        );
        assert!(TestPattern::new(32, 32, 30).is_err());
        assert!(
            draw(4, 4, 0, 0).is_err(),
            "too small: an error, not a panic"
        );
        assert!(TestPattern::new(640, 480, 0).is_err());
    }

    #[test]
    fn the_pattern_moves() {
        let a = draw(640, 480, 0, 0).unwrap();
        let b = draw(640, 480, 1, 0).unwrap();
        assert!(b.psnr_y(&a).unwrap() < 40.0, "consecutive frames differ");
    }

    #[test]
    fn tone_and_markers_are_found_where_they_are() {
        let mut src = ToneSource::new(1).markers_every(10);
        let mut det = MarkerDetector::new(src.tone_hz, src.marker_hz);
        let mut onsets = Vec::new();
        for _ in 0..35 {
            let f = src.next_frame();
            let tone = goertzel_power(&f.samples, 440.0, SAMPLE_RATE);
            let marker = goertzel_power(&f.samples, 1760.0, SAMPLE_RATE);
            assert!(tone > 0.01 || marker > 0.01);
            onsets.extend(det.push(&f.samples));
        }
        let frame = FRAME_SAMPLES as u64;
        assert_eq!(onsets, vec![0, 10 * frame, 20 * frame, 30 * frame]);
        assert_eq!(src.next_frame().pts_us, 35 * 20_000);
    }
}
