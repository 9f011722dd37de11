//! Audio: devices, resampling, Opus, playout, metering, noise suppression.

pub mod codec;
pub mod denoise;
pub mod device;
pub mod level;
pub mod playout;
pub mod resample;
