//! Input level metering: a smoothed level for a meter, and voice activity with hysteresis
//! for "you're muted — are you talking?" and active-speaker detection.

use crate::frame::{AudioFrame, FRAME_MS};

/// Level of one stream, updated once per frame.
#[derive(Clone, Debug)]
pub struct LevelMeter {
    /// Level in dBFS above which a frame counts as speech.
    pub speech_dbfs: f32,
    /// How long speech is held after the level drops, in ms.
    pub hang_ms: u32,
    smoothed: f32,
    peak: f32,
    hang_left: u32,
    speaking: bool,
}

impl Default for LevelMeter {
    fn default() -> Self {
        LevelMeter {
            speech_dbfs: -45.0,
            hang_ms: 300,
            smoothed: -100.0,
            peak: -100.0,
            hang_left: 0,
            speaking: false,
        }
    }
}

impl LevelMeter {
    /// Takes one frame; returns whether the stream is speaking now.
    pub fn push(&mut self, frame: &AudioFrame) -> bool {
        let level = frame.rms_dbfs();
        // Fast attack, slow release, as meters do.
        let k = if level > self.smoothed { 0.6 } else { 0.15 };
        self.smoothed += k * (level - self.smoothed);
        self.peak = frame
            .samples
            .iter()
            .fold(0.0f32, |m, s| m.max(s.abs()))
            .max(1e-5)
            .log10()
            * 20.0;
        if level > self.speech_dbfs {
            self.speaking = true;
            self.hang_left = self.hang_ms / FRAME_MS;
        } else if self.hang_left > 0 {
            self.hang_left -= 1;
        } else {
            self.speaking = false;
        }
        self.speaking
    }

    /// The smoothed level in dBFS, for a meter.
    pub fn level_dbfs(&self) -> f32 {
        self.smoothed
    }

    /// The last frame's peak in dBFS.
    pub fn peak_dbfs(&self) -> f32 {
        self.peak
    }

    /// The smoothed level mapped to 0..1 over -60..0 dBFS.
    pub fn meter(&self) -> f32 {
        ((self.smoothed + 60.0) / 60.0).clamp(0.0, 1.0)
    }

    /// Whether the stream is speaking (with the hang time applied).
    pub fn speaking(&self) -> bool {
        self.speaking
    }
}

/// Picks the active speaker among several meters: the loudest one that is speaking, kept
/// until another is louder by `switch_db` (so the highlight doesn't flicker).
pub fn active_speaker<K: Clone + PartialEq>(
    meters: &[(K, &LevelMeter)],
    current: Option<&K>,
    switch_db: f32,
) -> Option<K> {
    let loudest = meters
        .iter()
        .filter(|(_, m)| m.speaking())
        .max_by(|a, b| a.1.level_dbfs().total_cmp(&b.1.level_dbfs()))?;
    if let Some(cur) = current
        && let Some((_, m)) = meters.iter().find(|(k, m)| k == cur && m.speaking())
        && loudest.1.level_dbfs() < m.level_dbfs() + switch_db
    {
        return Some(cur.clone());
    }
    Some(loudest.0.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synthetic::ToneSource;

    #[test]
    fn speech_is_detected_held_briefly_and_released() {
        let mut m = LevelMeter::default();
        let mut tone = ToneSource::new(1).markers_every(0);
        for _ in 0..5 {
            assert!(m.push(&tone.next_frame()));
        }
        assert!(
            m.level_dbfs() > -10.0 && m.meter() > 0.8,
            "{}",
            m.level_dbfs()
        );
        let silent: Vec<bool> = (0..30)
            .map(|_| m.push(&AudioFrame::silence(1, 0)))
            .collect();
        assert!(silent[..14].iter().all(|&s| s), "held for the hang time");
        assert!(!silent[29]);
        assert!(m.meter() < 0.1);
    }

    #[test]
    fn the_active_speaker_switches_only_for_a_clearly_louder_one() {
        let mut loud = LevelMeter::default();
        let mut soft = LevelMeter::default();
        let mut a = ToneSource::new(1).markers_every(0);
        let mut b = ToneSource::new(1).markers_every(0);
        b.amplitude = 0.4;
        for _ in 0..10 {
            loud.push(&a.next_frame());
            soft.push(&b.next_frame());
        }
        let meters = [("a", &loud), ("b", &soft)];
        assert_eq!(active_speaker(&meters, None, 6.0), Some("a"));
        // b is under 2 dB quieter: it keeps the highlight it has.
        assert_eq!(active_speaker(&meters, Some(&"b"), 6.0), Some("b"));
        assert_eq!(active_speaker(&meters, Some(&"b"), 1.0), Some("a"));
        let quiet = LevelMeter::default();
        assert_eq!(active_speaker(&[("q", &quiet)], None, 6.0), None);
    }
}
