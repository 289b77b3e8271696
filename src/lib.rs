//! Hark: a speech recognizer you can train yourself.
//!
//! Data path: audio (files or microphone) → 16 kHz mono → MFCC features → bidirectional LSTM
//! acoustic model → CTC (loss for training, decoders for recognition). The CLI (`cli`) and the
//! GUI are thin layers over this library.

pub mod audio;
pub mod cli;
pub mod cpu;
pub mod ctc;
pub mod error;
pub mod features;
#[doc(hidden)]
pub mod fuzzing;
pub mod gui;
pub mod model;
pub mod nn;
pub mod runtime;
pub mod train;
pub mod util;

pub use error::{Error, Result};

/// The sample rate every internal path works at (Hz).
pub const SAMPLE_RATE_HZ: u32 = 16_000;
