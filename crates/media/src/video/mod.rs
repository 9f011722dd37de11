//! Video: cameras, pixel conversion, H.264.

pub mod camera;
pub mod convert;
pub mod h264;
