//! File sources and sinks: Y4M for raw video (4:2:0 only) and WAV for audio (any rate and
//! sample format in, resampled to 48 kHz; 16-bit 48 kHz out). The same pipelines run on
//! them as on devices.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use crate::audio::resample::Resampler;
use crate::frame::{AudioFrame, FRAME_SAMPLES, SAMPLE_RATE, VideoFrame, check_dimensions};
use crate::{MediaError, Result};

const MAX_HEADER: usize = 1024;

fn file_err(path: &Path, why: impl Into<String>) -> MediaError {
    MediaError::File {
        path: path.display().to_string(),
        why: why.into(),
    }
}

/// Reads one `\n`-terminated line of at most `MAX_HEADER` bytes; `None` at a clean end.
fn read_line(r: &mut impl BufRead, path: &Path, what: &str) -> Result<Option<String>> {
    let mut line = Vec::new();
    let n = r
        .by_ref()
        .take(MAX_HEADER as u64)
        .read_until(b'\n', &mut line)?;
    if n == 0 {
        return Ok(None);
    }
    if line.last() != Some(&b'\n') {
        return Err(file_err(
            path,
            format!("{what} is longer than {MAX_HEADER} bytes or cut short"),
        ));
    }
    line.pop();
    String::from_utf8(line)
        .map(Some)
        .map_err(|_| file_err(path, format!("{what} is not text")))
}

/// Reads I420 frames from a YUV4MPEG2 file.
#[derive(Debug)]
pub struct Y4mReader {
    path: PathBuf,
    input: BufReader<File>,
    width: u32,
    height: u32,
    fps: (u32, u32),
    frames: u64,
}

impl Y4mReader {
    /// Opens a file and reads its header.
    pub fn open(path: impl AsRef<Path>) -> Result<Y4mReader> {
        let path = path.as_ref().to_path_buf();
        let mut input =
            BufReader::new(File::open(&path).map_err(|e| file_err(&path, e.to_string()))?);
        let header = read_line(&mut input, &path, "the header")?
            .ok_or_else(|| file_err(&path, "empty file"))?;
        let mut fields = header.split(' ');
        if fields.next() != Some("YUV4MPEG2") {
            return Err(file_err(&path, "not a YUV4MPEG2 file"));
        }
        let (mut width, mut height, mut fps) = (None, None, (30, 1));
        for field in fields.filter(|f| !f.is_empty()) {
            let Some(tag_char) = field.chars().next() else {
                continue;
            };
            let (tag, value) = field.split_at(tag_char.len_utf8());
            let number = |v: &str| {
                v.parse::<u32>()
                    .map_err(|_| file_err(&path, format!("bad header field {field:?}")))
            };
            match tag {
                "W" => width = Some(number(value)?),
                "H" => height = Some(number(value)?),
                "F" => {
                    let (n, d) = value
                        .split_once(':')
                        .ok_or_else(|| file_err(&path, format!("bad frame rate {value:?}")))?;
                    fps = (number(n)?, number(d)?);
                    if fps.0 == 0 || fps.1 == 0 {
                        return Err(file_err(&path, format!("bad frame rate {value:?}")));
                    }
                }
                "C" if !matches!(value, "420" | "420jpeg" | "420paldv" | "420mpeg2") => {
                    return Err(file_err(
                        &path,
                        format!("colour space C{value} is not supported (only 8-bit 4:2:0)"),
                    ));
                }
                "I" if value != "p" && value != "?" => {
                    return Err(file_err(&path, "interlaced video is not supported"));
                }
                _ => {}
            }
        }
        let (Some(width), Some(height)) = (width, height) else {
            return Err(file_err(&path, "header has no W or H"));
        };
        check_dimensions(width, height).map_err(|e| file_err(&path, e.to_string()))?;
        Ok(Y4mReader {
            path,
            input,
            width,
            height,
            fps,
            frames: 0,
        })
    }

    /// Picture size.
    pub fn dimensions(&self) -> (u32, u32) {
        (self.width, self.height)
    }

    /// Frame rate as a fraction.
    pub fn fps(&self) -> (u32, u32) {
        self.fps
    }

    /// The next frame; `None` at the end of the file.
    pub fn next_frame(&mut self) -> Result<Option<VideoFrame>> {
        let Some(line) = read_line(&mut self.input, &self.path, "a frame header")? else {
            return Ok(None);
        };
        if !line.starts_with("FRAME") {
            return Err(file_err(
                &self.path,
                format!("frame {} has no FRAME marker", self.frames),
            ));
        }
        let mut data = vec![0; VideoFrame::i420_len(self.width, self.height)];
        self.input
            .read_exact(&mut data)
            .map_err(|_| file_err(&self.path, format!("frame {} is cut short", self.frames)))?;
        let pts_us = (u128::from(self.frames) * 1_000_000 * u128::from(self.fps.1)
            / u128::from(self.fps.0))
        .min(u128::from(u64::MAX)) as u64;
        self.frames += 1;
        VideoFrame::from_i420(self.width, self.height, data, pts_us).map(Some)
    }
}

/// Writes I420 frames to a YUV4MPEG2 file.
#[derive(Debug)]
pub struct Y4mWriter {
    out: BufWriter<File>,
    width: u32,
    height: u32,
}

impl Y4mWriter {
    /// Creates the file and writes its header.
    pub fn create(path: impl AsRef<Path>, width: u32, height: u32, fps: u32) -> Result<Y4mWriter> {
        check_dimensions(width, height)?;
        let mut out = BufWriter::new(File::create(path)?);
        writeln!(
            out,
            "YUV4MPEG2 W{width} H{height} F{}:1 Ip A1:1 C420jpeg",
            fps.max(1)
        )?;
        Ok(Y4mWriter { out, width, height })
    }

    /// Appends a frame of the file's size.
    pub fn write(&mut self, frame: &VideoFrame) -> Result<()> {
        if (frame.width, frame.height) != (self.width, self.height) {
            return Err(MediaError::invalid(
                "frame for Y4M",
                format!(
                    "{}x{} into a {}x{} file",
                    frame.width, frame.height, self.width, self.height
                ),
            ));
        }
        self.out.write_all(b"FRAME\n")?;
        self.out.write_all(&frame.data)?;
        Ok(())
    }

    /// Flushes the file.
    pub fn finish(mut self) -> Result<()> {
        self.out.flush()?;
        Ok(())
    }
}

/// Reads a WAV file as 48 kHz frames of 20 ms, a piece at a time (the file is never held
/// in memory whole).
pub struct WavSource {
    path: PathBuf,
    samples: Box<dyn Iterator<Item = hound::Result<f32>> + Send>,
    resampler: Resampler,
    channels: u16,
    file_channels: u16,
    frames: u64,
    done: bool,
    /// Output frames of resampler delay still to discard.
    skip: usize,
    /// Output frames still to hand out (the input's length at 48 kHz).
    remaining: usize,
    /// A read error met on the way, reported once the samples before it are out.
    error: Option<String>,
}

impl std::fmt::Debug for WavSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WavSource")
            .field("path", &self.path)
            .field("channels", &self.channels)
            .finish()
    }
}

impl WavSource {
    /// Opens a WAV file (8/16/24/32-bit integer or 32-bit float, any rate), to be read as
    /// `channels` channels at 48 kHz.
    pub fn open(path: impl AsRef<Path>, channels: u16) -> Result<WavSource> {
        let path = path.as_ref();
        let reader = hound::WavReader::open(path).map_err(|e| file_err(path, e.to_string()))?;
        let spec = reader.spec();
        let in_frames = u64::from(reader.duration());
        let samples: Box<dyn Iterator<Item = hound::Result<f32>> + Send> = match spec.sample_format
        {
            hound::SampleFormat::Float => Box::new(reader.into_samples::<f32>()),
            hound::SampleFormat::Int => {
                let scale = 1.0 / (1u64 << (spec.bits_per_sample.clamp(1, 32) - 1)) as f32;
                Box::new(
                    reader
                        .into_samples::<i32>()
                        .map(move |s| s.map(|s| s as f32 * scale)),
                )
            }
        };
        let resampler = Resampler::new(spec.sample_rate, spec.channels, SAMPLE_RATE, channels)
            .map_err(|e| file_err(path, e.to_string()))?;
        let remaining =
            (in_frames * u64::from(SAMPLE_RATE)).div_ceil(u64::from(spec.sample_rate)) as usize;
        Ok(WavSource {
            path: path.to_path_buf(),
            skip: resampler.delay(),
            remaining,
            samples,
            resampler,
            channels,
            file_channels: spec.channels,
            frames: 0,
            done: false,
            error: None,
        })
    }

    /// A read error met so far (a file cut short, say): the frames before it were handed out.
    pub fn error(&self) -> Option<MediaError> {
        self.error.as_ref().map(|e| file_err(&self.path, e.clone()))
    }

    /// The next 20 ms (the last one padded with silence); `None` at the end.
    pub fn next_frame(&mut self) -> Option<AudioFrame> {
        if self.remaining == 0 {
            return None;
        }
        let chunk = 4800 * self.file_channels as usize;
        while self.resampler.available() < self.skip + FRAME_SAMPLES && !self.done {
            let mut piece = Vec::with_capacity(chunk);
            for sample in self.samples.by_ref().take(chunk) {
                match sample {
                    Ok(x) => piece.push(x),
                    Err(e) => {
                        self.error = Some(e.to_string());
                        break;
                    }
                }
            }
            if self.error.is_some() {
                // Cut short: hand out what was read, and stop there.
                self.resampler.push(&piece);
                self.done = true;
                let have = self.resampler.available().saturating_sub(self.skip);
                self.remaining = self.remaining.min(have);
            } else if piece.is_empty() {
                // Push the resampler's delay out with silence.
                self.resampler.push(&vec![0.0; chunk]);
                self.done = true;
            } else {
                self.resampler.push(&piece);
            }
        }
        if self.skip > 0 {
            let n = self.skip.min(self.resampler.available());
            self.resampler.pop(n);
            self.skip -= n;
        }
        let n = FRAME_SAMPLES
            .min(self.remaining)
            .min(self.resampler.available());
        if n == 0 {
            return None;
        }
        let mut samples = self.resampler.pop(n).unwrap_or_default();
        self.remaining -= n;
        samples.resize(FRAME_SAMPLES * self.channels as usize, 0.0);
        let pts_us = self.frames * 20_000;
        self.frames += 1;
        Some(AudioFrame {
            samples,
            channels: self.channels,
            pts_us,
        })
    }
}

/// Writes 48 kHz 16-bit WAV.
pub struct WavSink {
    writer: hound::WavWriter<BufWriter<File>>,
    channels: u16,
}

impl std::fmt::Debug for WavSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WavSink")
            .field("channels", &self.channels)
            .finish()
    }
}

impl WavSink {
    /// Creates the file.
    pub fn create(path: impl AsRef<Path>, channels: u16) -> Result<WavSink> {
        let path = path.as_ref();
        let spec = hound::WavSpec {
            channels,
            sample_rate: SAMPLE_RATE,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let writer =
            hound::WavWriter::create(path, spec).map_err(|e| file_err(path, e.to_string()))?;
        Ok(WavSink { writer, channels })
    }

    /// Appends a frame.
    pub fn write(&mut self, frame: &AudioFrame) -> Result<()> {
        frame.validate()?;
        if frame.channels != self.channels {
            return Err(MediaError::invalid(
                "frame for WAV",
                format!("{} channels into {}", frame.channels, self.channels),
            ));
        }
        for &s in &frame.samples {
            self.writer
                .write_sample((s.clamp(-1.0, 1.0) * 32767.0) as i16)
                .map_err(|e| MediaError::Io(std::io::Error::other(e)))?;
        }
        Ok(())
    }

    /// Finishes the file (writes the header's lengths).
    pub fn finish(self) -> Result<()> {
        self.writer
            .finalize()
            .map_err(|e| MediaError::Io(std::io::Error::other(e)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synthetic::{TestPattern, ToneSource, goertzel_power, read_frame_number};

    #[test]
    fn y4m_round_trips_frames_and_refuses_what_it_cannot_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.y4m");
        let mut w = Y4mWriter::create(&path, 320, 240, 25).unwrap();
        let mut p = TestPattern::new(320, 240, 25).unwrap();
        let frames: Vec<_> = (0..5).map(|_| p.next_frame()).collect();
        for f in &frames {
            w.write(f).unwrap();
        }
        assert!(w.write(&VideoFrame::black(640, 480, 0).unwrap()).is_err());
        w.finish().unwrap();
        let mut r = Y4mReader::open(&path).unwrap();
        assert_eq!((r.dimensions(), r.fps()), ((320, 240), (25, 1)));
        for (i, f) in frames.iter().enumerate() {
            let got = r.next_frame().unwrap().unwrap();
            assert_eq!(got.data, f.data);
            assert_eq!(read_frame_number(&got), Some(i as u32));
            assert_eq!(got.pts_us, i as u64 * 40_000);
        }
        assert!(r.next_frame().unwrap().is_none());

        // A cut-short last frame is an error naming the frame.
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() - 10]).unwrap();
        let mut r = Y4mReader::open(&path).unwrap();
        for _ in 0..4 {
            r.next_frame().unwrap().unwrap();
        }
        assert!(
            r.next_frame()
                .unwrap_err()
                .to_string()
                .contains("frame 4 is cut short")
        );
        for (header, why) in [
            ("YUV4MPEG2 W320 H240 C444\n", "not supported"),
            ("YUV4MPEG2 W321 H240\n", "even"),
            ("YUV4MPEG2 H240\n", "no W"),
            ("RIFF\n", "not a YUV4MPEG2"),
            ("YUV4MPEG2 W320 H240 Fx\n", "frame rate"),
            ("YUV4MPEG2 W320 H240 C420p10\n", "8-bit"),
        ] {
            std::fs::write(&path, header).unwrap();
            let err = Y4mReader::open(&path).unwrap_err().to_string();
            assert!(err.contains(why), "{header:?}: {err}");
        }
        // Fields Weft doesn't know are skipped, even ones that aren't ASCII.
        std::fs::write(&path, "YUV4MPEG2 W320 H240 \u{e9}t\u{e9}\n").unwrap();
        assert_eq!(Y4mReader::open(&path).unwrap().dimensions(), (320, 240));
        std::fs::write(&path, vec![b'Y'; 5000]).unwrap();
        assert!(Y4mReader::open(&path).is_err());
    }

    #[test]
    fn wav_round_trips_and_other_rates_come_out_at_48k() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.wav");
        let mut sink = WavSink::create(&path, 1).unwrap();
        let mut tone = ToneSource::new(1).markers_every(0);
        for _ in 0..50 {
            sink.write(&tone.next_frame()).unwrap();
        }
        sink.finish().unwrap();
        let mut src = WavSource::open(&path, 1).unwrap();
        let frames: Vec<_> = std::iter::from_fn(|| src.next_frame()).collect();
        assert_eq!(frames.len(), 50);
        assert!(goertzel_power(&frames[10].samples, 440.0, 48_000) > 0.05);

        // 44.1 kHz stereo 24-bit in, 48 kHz mono out, still 440 Hz.
        let spec = hound::WavSpec {
            channels: 2,
            sample_rate: 44_100,
            bits_per_sample: 24,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(&path, spec).unwrap();
        for i in 0..44_100 {
            let s = ((2.0 * std::f32::consts::PI * 440.0 * i as f32 / 44_100.0).sin() * 4_000_000.0)
                as i32;
            w.write_sample(s).unwrap();
            w.write_sample(s).unwrap();
        }
        w.finalize().unwrap();
        let mut src = WavSource::open(&path, 1).unwrap();
        let frames: Vec<_> = std::iter::from_fn(|| src.next_frame()).collect();
        assert_eq!(frames.len(), 50);
        assert!(goertzel_power(&frames[20].samples, 440.0, 48_000) > 0.05);

        // Cut short: what is there comes out, then the error is there to see.
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() / 2 + 1]).unwrap();
        let mut src = WavSource::open(&path, 1).unwrap();
        let n = std::iter::from_fn(|| src.next_frame()).count();
        assert!((20..50).contains(&n), "{n} frames from half a file");
        assert!(src.error().is_some_and(|e| e.to_string().contains("a.wav")));
        std::fs::write(&path, b"RIFF....WAVEjunk").unwrap();
        assert!(WavSource::open(&path, 1).is_err());
    }
}
