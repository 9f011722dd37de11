//! One monotonic clock for every timestamp the media engine makes, so that capture times
//! from different pipelines in a process compare directly.

use std::sync::OnceLock;
use std::time::Instant;

fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

/// Microseconds since the process first asked.
pub fn now_us() -> u64 {
    epoch().elapsed().as_micros() as u64
}
