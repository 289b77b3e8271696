//! Audio input: file decoding (WAV via hound; FLAC, MP3, Ogg Vorbis via symphonia), downmixing and
//! resampling to the 16 kHz mono f32 stream every later stage works on.

pub mod convert;

pub use convert::{StreamResampler, downmix_into};
