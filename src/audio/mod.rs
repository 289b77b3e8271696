//! TEMPORARY stand-in; replaced by the audio branch at merge.
//!
//! Implements only the two functions the dataset layer uses, for 16 kHz 16-bit WAV (mono or
//! stereo) via hound, so the `data` branch compiles and its tests run on their own.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::{Error, Result, SAMPLE_RATE_HZ};

/// What a file's header says.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AudioInfo {
    pub format: String,
    pub sample_format: String,
    pub sample_rate_hz: u32,
    pub channels: u16,
    pub frames: Option<u64>,
    pub duration_s: Option<f64>,
}

/// Reads the header only.
pub fn probe(path: &Path) -> Result<AudioInfo> {
    let reader = hound::WavReader::open(path).map_err(|e| Error::audio(path, e.to_string()))?;
    let spec = reader.spec();
    let frames = u64::from(reader.duration());
    let sample_format = match spec.sample_format {
        hound::SampleFormat::Int => format!("i{}", spec.bits_per_sample),
        hound::SampleFormat::Float => format!("f{}", spec.bits_per_sample),
    };
    Ok(AudioInfo {
        format: "wav".into(),
        sample_format,
        sample_rate_hz: spec.sample_rate,
        channels: spec.channels,
        frames: Some(frames),
        duration_s: Some(frames as f64 / f64::from(spec.sample_rate)),
    })
}

/// Reads a whole 16 kHz 16-bit WAV file as mono f32 in [-1, 1] (channels averaged).
pub fn read_mono_16k(path: &Path) -> Result<Vec<f32>> {
    let mut reader = hound::WavReader::open(path).map_err(|e| Error::audio(path, e.to_string()))?;
    let spec = reader.spec();
    if spec.sample_rate != SAMPLE_RATE_HZ
        || spec.bits_per_sample != 16
        || spec.sample_format != hound::SampleFormat::Int
        || spec.channels == 0
    {
        return Err(Error::audio(
            path,
            format!(
                "the stand-in reader takes 16 kHz 16-bit PCM WAV only, found {} Hz {}-bit {} channel(s)",
                spec.sample_rate, spec.bits_per_sample, spec.channels
            ),
        ));
    }
    let channels = usize::from(spec.channels);
    let samples: Vec<i16> = reader
        .samples::<i16>()
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| Error::audio(path, e.to_string()))?;
    Ok(samples
        .chunks_exact(channels)
        .map(|frame| frame.iter().map(|&s| f32::from(s) / 32768.0).sum::<f32>() / channels as f32)
        .collect())
}
