//! Audio input: microphone capture (cpal → lock-free ring → 16 kHz worker) and sample conversions.

pub mod capture;
pub mod convert;
