//! Feature options: a plain serde struct with the unit in every name (Kaldi style), stored inside
//! every model file so that recognition computes exactly the features training used.
//!
//! `Default` reproduces `python_speech_features.mfcc` + `delta(N=2)` twice (39 dims) on int16-scale
//! input. **Keep field names and meanings stable**: model files written today must load tomorrow.
//! New fields must get a default that keeps old files meaning what they meant.

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// The analysis window applied to each frame after pre-emphasis. All windows are the symmetric
/// form over the frame length `N` (`n = 0..N`), as numpy's `hamming`/`hanning` and Kaldi.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Window {
    /// All ones (python_speech_features' default `winfunc`).
    Rectangular,
    /// `0.54 - 0.46 cos(2πn/(N-1))`.
    Hamming,
    /// `0.5 - 0.5 cos(2πn/(N-1))`.
    Hann,
    /// Kaldi's window: Hann raised to the power 0.85.
    Povey,
}

/// How the output features are normalized (cepstral mean and variance normalization).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Normalization {
    /// Features as computed.
    None,
    /// Mean and standard deviation of each dimension over the utterance itself. A streaming
    /// extractor can only release frames at `finish()` in this mode.
    Utterance,
    /// Mean and standard deviation stored with the model ([`crate::features::Cmvn`], computed over
    /// the training set with [`crate::features::CmvnAccumulator`]).
    Global,
}

/// MFCC front-end options. Missing fields in a JSON file take the default values.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FeatureOptions {
    /// Sample rate of the input (Hz). Hark's audio layer delivers 16 000.
    pub sample_rate_hz: u32,
    /// Input samples (f32 in [-1, 1]) are multiplied by this before anything else. 32768 gives the
    /// int16 sample values python_speech_features was fed; it only shifts log energies by a constant.
    pub input_scale: f32,
    /// Frame length (ms); samples per frame = round-half-up(frame_length_ms * sample_rate_hz / 1000).
    pub frame_length_ms: f64,
    /// Frame shift (ms), rounded the same way.
    pub frame_shift_ms: f64,
    /// FFT length (power of two not smaller than the frame); frames are zero-padded to it.
    pub fft_size: usize,
    /// Pre-emphasis coefficient `a` in `y[n] = x[n] - a x[n-1]`, applied over the whole signal
    /// with `x[-1] = 0` (python_speech_features); 0 turns it off.
    pub preemphasis: f32,
    /// Analysis window.
    pub window: Window,
    /// Number of triangular mel filters.
    pub num_filters: usize,
    /// Lowest edge of the mel filterbank (Hz).
    pub low_freq_hz: f64,
    /// Highest edge of the mel filterbank (Hz), at most the Nyquist frequency.
    pub high_freq_hz: f64,
    /// Number of cepstral coefficients kept (c0 .. c_{num_ceps-1}).
    pub num_ceps: usize,
    /// Cepstral lifter `L`: c_n *= 1 + (L/2) sin(πn/L); 0 turns it off.
    pub lifter: f64,
    /// Replace c0 by the natural log of the frame energy (sum of the power spectrum).
    pub append_energy: bool,
    /// Delta regression half-width `N` (frames on each side).
    pub delta_window: usize,
    /// 0: cepstra only; 1: + deltas; 2: + deltas + delta-deltas.
    pub delta_order: usize,
    /// Cepstral mean/variance normalization of the final features (after deltas).
    pub normalization: Normalization,
}

impl Default for FeatureOptions {
    /// python_speech_features' defaults: 25 ms / 10 ms, 13 cepstra, 26 filters, NFFT 512,
    /// pre-emphasis 0.97, lifter 22, log energy in c0, rectangular window, 0–8000 Hz,
    /// deltas and delta-deltas with N = 2 (39 dims), no normalization.
    fn default() -> Self {
        FeatureOptions {
            sample_rate_hz: 16_000,
            input_scale: 32768.0,
            frame_length_ms: 25.0,
            frame_shift_ms: 10.0,
            fft_size: 512,
            preemphasis: 0.97,
            window: Window::Rectangular,
            num_filters: 26,
            low_freq_hz: 0.0,
            high_freq_hz: 8000.0,
            num_ceps: 13,
            lifter: 22.0,
            append_energy: true,
            delta_window: 2,
            delta_order: 2,
            normalization: Normalization::None,
        }
    }
}

/// `decimal.ROUND_HALF_UP` as python_speech_features uses it for frame sizes.
fn round_half_up(x: f64) -> usize {
    (x + 0.5).floor() as usize
}

impl FeatureOptions {
    /// Dimension of one output frame: `num_ceps * (1 + delta_order)`.
    pub fn dim(&self) -> usize {
        self.num_ceps * (1 + self.delta_order)
    }

    /// Samples per frame.
    pub fn frame_length(&self) -> usize {
        round_half_up(self.frame_length_ms * self.sample_rate_hz as f64 / 1000.0)
    }

    /// Samples between frame starts.
    pub fn frame_shift(&self) -> usize {
        round_half_up(self.frame_shift_ms * self.sample_rate_hz as f64 / 1000.0)
    }

    /// Frames produced for `num_samples` samples (python_speech_features' framing): one frame for
    /// any non-empty signal up to a frame long, else `1 + ceil((n - len) / shift)`, the last frame
    /// zero-padded. No samples give no frames.
    pub fn num_frames(&self, num_samples: usize) -> usize {
        let (len, shift) = (self.frame_length(), self.frame_shift());
        if num_samples == 0 {
            0
        } else if num_samples <= len {
            1
        } else {
            1 + (num_samples - len).div_ceil(shift)
        }
    }

    /// Frames of latency a streaming extractor adds for the deltas (`delta_window * delta_order`).
    pub fn delta_lag(&self) -> usize {
        self.delta_window * self.delta_order
    }

    /// Checks every field; the error names the field, the value and what is expected.
    pub fn validate(&self) -> Result<()> {
        let bad = |field: &str, msg: String| Err(Error::Options(format!("{field}: {msg}")));
        let sr = self.sample_rate_hz as f64;
        if !(1000..=384_000).contains(&self.sample_rate_hz) {
            return bad(
                "sample_rate_hz",
                format!("{} is not in 1000..=384000", self.sample_rate_hz),
            );
        }
        if !(self.input_scale.is_finite() && self.input_scale > 0.0) {
            return bad("input_scale", format!("{} must be finite and > 0", self.input_scale));
        }
        if !(self.frame_length_ms.is_finite() && self.frame_length_ms > 0.0)
            || self.frame_length() < 2
        {
            return bad(
                "frame_length_ms",
                format!(
                    "{} ms gives {} samples; need at least 2",
                    self.frame_length_ms,
                    self.frame_length()
                ),
            );
        }
        if !(self.frame_shift_ms.is_finite() && self.frame_shift_ms > 0.0) || self.frame_shift() < 1
        {
            return bad(
                "frame_shift_ms",
                format!("{} ms gives no samples; need at least 1", self.frame_shift_ms),
            );
        }
        if self.frame_shift() > self.frame_length() {
            return bad(
                "frame_shift_ms",
                format!(
                    "{} ms is longer than frame_length_ms {} ms",
                    self.frame_shift_ms, self.frame_length_ms
                ),
            );
        }
        if !self.fft_size.is_power_of_two()
            || self.fft_size < self.frame_length()
            || self.fft_size > 1 << 16
        {
            return bad(
                "fft_size",
                format!(
                    "{} must be a power of two, at least the frame length ({} samples) and at most 65536",
                    self.fft_size,
                    self.frame_length()
                ),
            );
        }
        if !(self.preemphasis.is_finite() && (0.0..=1.0).contains(&self.preemphasis)) {
            return bad("preemphasis", format!("{} is not in [0, 1]", self.preemphasis));
        }
        if self.num_filters < 2 || self.num_filters > 1024 {
            return bad("num_filters", format!("{} is not in 2..=1024", self.num_filters));
        }
        if !(self.low_freq_hz.is_finite() && self.low_freq_hz >= 0.0) {
            return bad("low_freq_hz", format!("{} must be finite and >= 0", self.low_freq_hz));
        }
        if !(self.high_freq_hz.is_finite()
            && self.high_freq_hz > self.low_freq_hz
            && self.high_freq_hz <= sr / 2.0)
        {
            return bad(
                "high_freq_hz",
                format!(
                    "{} must be above low_freq_hz ({}) and at most the Nyquist frequency ({})",
                    self.high_freq_hz,
                    self.low_freq_hz,
                    sr / 2.0
                ),
            );
        }
        if self.num_ceps == 0 || self.num_ceps > self.num_filters {
            return bad(
                "num_ceps",
                format!("{} must be in 1..=num_filters ({})", self.num_ceps, self.num_filters),
            );
        }
        if !(self.lifter.is_finite() && self.lifter >= 0.0) {
            return bad("lifter", format!("{} must be finite and >= 0", self.lifter));
        }
        if self.delta_order > 2 {
            return bad("delta_order", format!("{} is not 0, 1 or 2", self.delta_order));
        }
        if self.delta_order > 0 && !(1..=50).contains(&self.delta_window) {
            return bad("delta_window", format!("{} is not in 1..=50", self.delta_window));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_python_speech_features() {
        let o = FeatureOptions::default();
        o.validate().unwrap();
        assert_eq!((o.frame_length(), o.frame_shift(), o.dim()), (400, 160, 39));
        // psf: numframes = 1 + ceil((51278 - 400) / 160) = 319 for the reference clip.
        assert_eq!(o.num_frames(51278), 319);
        assert_eq!(o.num_frames(400), 1);
        assert_eq!(o.num_frames(401), 2);
        assert_eq!(o.num_frames(1), 1);
        assert_eq!(o.num_frames(0), 0);
    }

    #[test]
    fn json_round_trip_and_missing_fields_default() {
        let o = FeatureOptions {
            window: Window::Povey,
            normalization: Normalization::Global,
            ..Default::default()
        };
        let s = serde_json::to_string(&o).unwrap();
        assert!(s.contains("\"window\":\"povey\"") && s.contains("\"frame_shift_ms\":10.0"), "{s}");
        assert_eq!(serde_json::from_str::<FeatureOptions>(&s).unwrap(), o);
        let partial: FeatureOptions =
            serde_json::from_str(r#"{"num_ceps": 20, "num_filters": 40}"#).unwrap();
        assert_eq!((partial.num_ceps, partial.num_filters, partial.fft_size), (20, 40, 512));
        assert!(serde_json::from_str::<FeatureOptions>(r#"{"num_cepz": 20}"#).is_err());
    }

    #[test]
    fn validate_names_the_field() {
        let cases: Vec<(FeatureOptions, &str)> = vec![
            (FeatureOptions { fft_size: 256, ..Default::default() }, "fft_size"),
            (FeatureOptions { fft_size: 500, ..Default::default() }, "fft_size"),
            (FeatureOptions { high_freq_hz: 9000.0, ..Default::default() }, "high_freq_hz"),
            (FeatureOptions { num_ceps: 27, ..Default::default() }, "num_ceps"),
            (FeatureOptions { delta_order: 3, ..Default::default() }, "delta_order"),
            (FeatureOptions { delta_window: 0, ..Default::default() }, "delta_window"),
            (FeatureOptions { frame_shift_ms: 30.0, ..Default::default() }, "frame_shift_ms"),
            (FeatureOptions { frame_length_ms: f64::NAN, ..Default::default() }, "frame_length_ms"),
            (FeatureOptions { input_scale: 0.0, ..Default::default() }, "input_scale"),
            (FeatureOptions { preemphasis: -0.1, ..Default::default() }, "preemphasis"),
            (FeatureOptions { lifter: -1.0, ..Default::default() }, "lifter"),
            (FeatureOptions { sample_rate_hz: 0, ..Default::default() }, "sample_rate_hz"),
        ];
        for (o, field) in cases {
            match o.validate() {
                Err(Error::Options(msg)) => {
                    assert!(msg.starts_with(field), "{msg} should name {field}")
                }
                other => panic!("{field}: expected an options error, got {other:?}"),
            }
        }
        // delta_window is irrelevant without deltas.
        FeatureOptions { delta_order: 0, delta_window: 0, ..Default::default() }
            .validate()
            .unwrap();
    }
}
