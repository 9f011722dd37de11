//! Loss-based send-rate control for video (the loss half of Google Congestion Control,
//! draft-ietf-rmcat-gcc §6): receiver reports say what fraction of our packets each peer
//! lost; above 10 % the rate falls in proportion, under 2 % it climbs back by 8 % a second,
//! in between it holds. With several peers (mesh, one encoder) the worst peer decides.

use std::time::{Duration, Instant};

/// See the module documentation.
#[derive(Debug, Clone)]
pub struct LossController {
    bitrate: u32,
    min: u32,
    max: u32,
    last_change: Option<Instant>,
}

/// Least time between two changes: reports come about once a second.
const STEP: Duration = Duration::from_millis(900);

impl LossController {
    /// Starts at `start` bit/s, never leaving `min..=max`.
    pub fn new(start: u32, min: u32, max: u32) -> LossController {
        LossController {
            bitrate: start.clamp(min, max),
            min,
            max,
            last_change: None,
        }
    }

    /// The current target, bit/s.
    pub fn bitrate(&self) -> u32 {
        self.bitrate
    }

    /// A receiver report's fraction lost (0–255, as RTCP carries it); returns the new
    /// target when it changed.
    pub fn on_report(&mut self, fraction_lost: u8, now: Instant) -> Option<u32> {
        if self
            .last_change
            .is_some_and(|t| now.saturating_duration_since(t) < STEP)
        {
            return None;
        }
        let loss = f64::from(fraction_lost) / 256.0;
        let current = f64::from(self.bitrate);
        let next = if loss > 0.10 {
            current * (1.0 - 0.5 * loss)
        } else if loss < 0.02 {
            current * 1.08
        } else {
            return None;
        };
        let next = (next as u32).clamp(self.min, self.max);
        if next == self.bitrate {
            return None;
        }
        self.bitrate = next;
        self.last_change = Some(now);
        Some(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heavy_loss_lowers_the_rate_and_a_clean_path_brings_it_back() {
        let t0 = Instant::now();
        let mut c = LossController::new(800_000, 100_000, 1_200_000);
        // 25 % loss: the rate drops by an eighth each second, to the floor at most.
        let mut t = t0;
        let mut rates = Vec::new();
        for _ in 0..5 {
            t += Duration::from_secs(1);
            rates.push(c.on_report(64, t).expect("lowered"));
        }
        assert!(rates.windows(2).all(|w| w[1] < w[0]), "{rates:?}");
        assert!(c.bitrate() < 450_000, "{}", c.bitrate());
        // Reports closer together than a second don't compound.
        assert_eq!(c.on_report(200, t + Duration::from_millis(100)), None);
        // Moderate loss holds.
        t += Duration::from_secs(1);
        assert_eq!(c.on_report(13, t), None);
        // No loss: back up, but never past the ceiling.
        for _ in 0..40 {
            t += Duration::from_secs(1);
            c.on_report(0, t);
        }
        assert_eq!(c.bitrate(), 1_200_000);
        for _ in 0..40 {
            t += Duration::from_secs(1);
            c.on_report(255, t);
        }
        assert_eq!(c.bitrate(), 100_000);
    }
}
