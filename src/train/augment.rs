//! Data augmentation for training, applied on the fly (never cached):
//! waveform level before features (speed perturbation, added noise, band limiting), in the
//! filterbank (VTLP frequency warping), feature level after (SpecAugment time and frequency masks).
//!
//! Shapes: `N` samples at 16 kHz; features `(T, D)` = (frames, coefficients).
//!
//! Every random choice comes from a caller-supplied RNG; [`Augmenter::rng_for`] derives one per
//! (seed, epoch, utterance) so an epoch is reproducible whatever order or thread builds it.

use ndarray::{Array2, Axis, s};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rubato::audioadapter_buffers::direct::SequentialSliceOfVecs;
use rubato::{Fft, FixedSync, Resampler};
use serde::{Deserialize, Serialize};

use crate::{Error, Result, SAMPLE_RATE_HZ};

/// Which noise colour to add.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoiseKind {
    /// Flat spectrum (uniform samples).
    White,
    /// 1/f spectrum (−3 dB per octave), closer to room and crowd noise.
    Pink,
    /// White or pink with equal probability, per utterance.
    WhiteOrPink,
}

/// Augmentation settings. Each family has its own switch; all default to a mild, common recipe.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AugmentOptions {
    /// Speed perturbation on/off.
    pub speed_enabled: bool,
    /// Speed factors picked uniformly per utterance (1.1 = 10 % faster, shorter, higher pitch).
    /// Each factor is used to 0.01 precision (see [`speed_perturb`]).
    pub speed_factors: Vec<f64>,
    /// Added noise on/off.
    pub noise_enabled: bool,
    /// Probability that an utterance gets noise, in [0, 1].
    pub noise_probability: f64,
    /// Lowest signal-to-noise ratio drawn (dB, RMS over the utterance).
    pub noise_snr_db_min: f64,
    /// Highest signal-to-noise ratio drawn (dB).
    pub noise_snr_db_max: f64,
    /// Noise colour.
    pub noise_kind: NoiseKind,
    /// SpecAugment masks on/off.
    pub spec_augment_enabled: bool,
    /// Number of time masks per utterance.
    pub time_mask_count: usize,
    /// Time-mask width is drawn uniformly in [min, max] frames, where max is also capped at
    /// `time_mask_max_fraction · T` so short utterances are not wiped out.
    pub time_mask_min_frames: usize,
    pub time_mask_max_frames: usize,
    /// Largest fraction of an utterance's frames one time mask may cover, in [0, 1].
    pub time_mask_max_fraction: f64,
    /// Number of frequency masks per utterance.
    pub freq_mask_count: usize,
    /// Frequency-mask width is drawn uniformly in [min, max] coefficients (clipped to `D`).
    pub freq_mask_min_bins: usize,
    pub freq_mask_max_bins: usize,
    /// Vocal-tract-length perturbation (Jaitly & Hinton 2013) on/off: the mel filterbank of each
    /// utterance is warped by a factor drawn uniformly in [`vtlp_warp_min`, `vtlp_warp_max`],
    /// which moves formants as a longer or shorter vocal tract would, without the change of tempo
    /// and pitch that speed perturbation brings along.
    ///
    /// [`vtlp_warp_min`]: AugmentOptions::vtlp_warp_min
    /// [`vtlp_warp_max`]: AugmentOptions::vtlp_warp_max
    pub vtlp_enabled: bool,
    pub vtlp_warp_min: f64,
    pub vtlp_warp_max: f64,
    /// Band limiting on/off: some utterances are low-passed, as a narrowband channel would, so
    /// that bandwidth is not a cue to who is speaking or what was said. The recorded speech Hark
    /// trains on is narrowband (game dialogue sampled at 11 kHz has nothing above 5.5 kHz, the
    /// telephone prompts nothing above 4 kHz), while synthetic speech and a microphone reach
    /// 8 kHz; without this the model can learn "narrowband" as a property of some voices or
    /// words, and hears narrowband input as out of domain. Applied last on the waveform (after
    /// speed and noise), as the channel comes after the room: the added noise is band-limited too.
    /// The filter is [`band_limit`] (an 8th-order Butterworth low-pass).
    pub bandlimit_enabled: bool,
    /// Probability that an utterance is band-limited, in [0, 1]. The default 0.3 makes each
    /// utterance narrowband in about a third of the epochs (at a new cutoff each time), enough
    /// for every voice and word to be heard both ways, while most passes keep the full band a
    /// microphone delivers, so wideband accuracy (the live recognizer's case) is not given up.
    pub bandlimit_probability: f64,
    /// Lowest low-pass cutoff drawn (Hz); the default 3400 Hz is the top of the telephone band.
    pub bandlimit_min_hz: f64,
    /// Highest low-pass cutoff drawn (Hz); the default 5500 Hz is the band of 11 kHz recordings.
    /// The cutoff is uniform in [min, max]; both must lie in (100, 8000) Hz.
    pub bandlimit_max_hz: f64,
    /// Probability that a band-limited utterance is also high-passed at
    /// [`bandlimit_highpass_hz`], in [0, 1] (the telephone channel's low cut). The default 0.5
    /// is only a half because not every narrowband source lacks the low band (11 kHz game audio
    /// keeps it), and a low cut that always came with the high cut would be a cue of its own.
    ///
    /// [`bandlimit_highpass_hz`]: AugmentOptions::bandlimit_highpass_hz
    pub bandlimit_highpass_probability: f64,
    /// High-pass cutoff (Hz) when one is applied: a 4th-order Butterworth (24 dB/octave, a
    /// gentle low cut like a telephone channel's). Default 300 Hz; must lie in (20, 8000) Hz and
    /// below `bandlimit_min_hz`.
    pub bandlimit_highpass_hz: f64,
}

impl Default for AugmentOptions {
    /// Speed 0.9/1.0/1.1 (Ko et al. 2015), noise on half the utterances at 10–30 dB SNR,
    /// SpecAugment with 2 time masks ≤ 20 frames (200 ms at a 10 ms shift) and 2 frequency masks
    /// ≤ 5 coefficients (a mild version of Park et al. 2019's LibriSpeech-basic policy),
    /// band limiting of 30 % of the utterances at 3.4–5.5 kHz (half of them also high-passed at
    /// 300 Hz).
    fn default() -> Self {
        AugmentOptions {
            speed_enabled: true,
            speed_factors: vec![0.9, 1.0, 1.1],
            noise_enabled: true,
            noise_probability: 0.5,
            noise_snr_db_min: 10.0,
            noise_snr_db_max: 30.0,
            noise_kind: NoiseKind::WhiteOrPink,
            spec_augment_enabled: true,
            time_mask_count: 2,
            time_mask_min_frames: 0,
            time_mask_max_frames: 20,
            time_mask_max_fraction: 0.2,
            freq_mask_count: 2,
            freq_mask_min_bins: 0,
            freq_mask_max_bins: 5,
            vtlp_enabled: false,
            vtlp_warp_min: 0.9,
            vtlp_warp_max: 1.1,
            bandlimit_enabled: true,
            bandlimit_probability: 0.3,
            bandlimit_min_hz: 3400.0,
            bandlimit_max_hz: 5500.0,
            bandlimit_highpass_probability: 0.5,
            bandlimit_highpass_hz: 300.0,
        }
    }
}

impl AugmentOptions {
    /// Everything off (the identity).
    pub fn none() -> Self {
        AugmentOptions {
            speed_enabled: false,
            noise_enabled: false,
            spec_augment_enabled: false,
            vtlp_enabled: false,
            bandlimit_enabled: false,
            ..Default::default()
        }
    }

    /// Reads settings from a JSON file (fields left out keep their defaults) and validates them.
    pub fn from_file(path: &std::path::Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let options: AugmentOptions = serde_json::from_str(&text)
            .map_err(|e| Error::data(path, format!("not valid augmentation settings: {e}")))?;
        options.validate().map_err(|e| Error::data(path, e.to_string()))?;
        Ok(options)
    }

    /// True if any waveform-level augmentation can change the audio.
    pub fn touches_waveform(&self) -> bool {
        (self.speed_enabled && self.speed_factors.iter().any(|&f| quantize_speed(f) != 100))
            || (self.noise_enabled && self.noise_probability > 0.0)
            || (self.bandlimit_enabled && self.bandlimit_probability > 0.0)
    }

    /// True if VTLP can warp the filterbank (features must then be computed afresh).
    pub fn warps_frequency(&self) -> bool {
        self.vtlp_enabled && (self.vtlp_warp_min != 1.0 || self.vtlp_warp_max != 1.0)
    }

    /// Checks ranges; the error names the field.
    pub fn validate(&self) -> Result<()> {
        if self.speed_enabled {
            if self.speed_factors.is_empty() {
                return Err(Error::Options("augment.speed_factors is empty".into()));
            }
            for &f in &self.speed_factors {
                check_speed_factor(f)?;
            }
        }
        if self.noise_enabled {
            if !(0.0..=1.0).contains(&self.noise_probability) {
                return Err(Error::Options(format!(
                    "augment.noise_probability must be in [0, 1], got {}",
                    self.noise_probability
                )));
            }
            if !self.noise_snr_db_min.is_finite()
                || !self.noise_snr_db_max.is_finite()
                || self.noise_snr_db_min > self.noise_snr_db_max
            {
                return Err(Error::Options(format!(
                    "augment.noise_snr_db_min ({}) must be finite and ≤ noise_snr_db_max ({})",
                    self.noise_snr_db_min, self.noise_snr_db_max
                )));
            }
        }
        if self.time_mask_min_frames > self.time_mask_max_frames {
            return Err(Error::Options(format!(
                "augment.time_mask_min_frames ({}) > time_mask_max_frames ({})",
                self.time_mask_min_frames, self.time_mask_max_frames
            )));
        }
        if !(0.0..=1.0).contains(&self.time_mask_max_fraction) {
            return Err(Error::Options(format!(
                "augment.time_mask_max_fraction must be in [0, 1], got {}",
                self.time_mask_max_fraction
            )));
        }
        if self.freq_mask_min_bins > self.freq_mask_max_bins {
            return Err(Error::Options(format!(
                "augment.freq_mask_min_bins ({}) > freq_mask_max_bins ({})",
                self.freq_mask_min_bins, self.freq_mask_max_bins
            )));
        }
        let warp = crate::features::mfcc::WARP_RANGE;
        if !(warp.contains(&self.vtlp_warp_min)
            && warp.contains(&self.vtlp_warp_max)
            && self.vtlp_warp_min <= self.vtlp_warp_max)
        {
            return Err(Error::Options(format!(
                "augment.vtlp_warp_min ({}) and vtlp_warp_max ({}) must satisfy {} ≤ min ≤ max ≤ {}",
                self.vtlp_warp_min,
                self.vtlp_warp_max,
                warp.start(),
                warp.end()
            )));
        }
        if self.bandlimit_enabled {
            for (name, p) in [
                ("bandlimit_probability", self.bandlimit_probability),
                ("bandlimit_highpass_probability", self.bandlimit_highpass_probability),
            ] {
                if !(0.0..=1.0).contains(&p) {
                    return Err(Error::Options(format!(
                        "augment.{name} must be in [0, 1], got {p}"
                    )));
                }
            }
            let (lo, hi) = (self.bandlimit_min_hz, self.bandlimit_max_hz);
            if !(in_open_band(lo, 100.0) && in_open_band(hi, 100.0) && lo <= hi) {
                return Err(Error::Options(format!(
                    "augment.bandlimit_min_hz ({lo}) and bandlimit_max_hz ({hi}) must satisfy \
                     100 < min ≤ max < 8000"
                )));
            }
            let hp = self.bandlimit_highpass_hz;
            if !(in_open_band(hp, 20.0) && hp < lo) {
                return Err(Error::Options(format!(
                    "augment.bandlimit_highpass_hz ({hp}) must be in (20, 8000) and below \
                     bandlimit_min_hz ({lo})"
                )));
            }
        }
        Ok(())
    }
}

/// One mask: `width` rows (time) or columns (frequency) starting at `start`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mask {
    pub start: usize,
    pub width: usize,
}

/// The masks SpecAugment applied to one feature matrix.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppliedMasks {
    pub time: Vec<Mask>,
    pub freq: Vec<Mask>,
}

/// What the waveform stage did to one utterance (for logs and tests).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WaveformAugmentation {
    /// Speed factor used (1.0 = untouched).
    pub speed_factor: f64,
    /// SNR of the added noise in dB, if noise was added.
    pub noise_snr_db: Option<f64>,
    pub noise_kind: Option<NoiseKind>,
    /// Low-pass cutoff in Hz, if the utterance was band-limited.
    pub bandlimit_hz: Option<f64>,
    /// High-pass cutoff in Hz, if one came with the band limit.
    pub highpass_hz: Option<f64>,
}

/// Applies [`AugmentOptions`] with reproducible randomness.
#[derive(Debug, Clone)]
pub struct Augmenter {
    pub options: AugmentOptions,
    pub seed: u64,
}

impl Augmenter {
    pub fn new(options: AugmentOptions, seed: u64) -> Result<Self> {
        options.validate()?;
        Ok(Augmenter { options, seed })
    }

    /// The RNG for one utterance in one epoch: independent of batch order and threads.
    /// `key` identifies the utterance (e.g. its dataset id).
    pub fn rng_for(&self, epoch: u64, key: &str) -> ChaCha8Rng {
        let mut h = crate::train::data::stable_hash(key.as_bytes());
        h = splitmix64(h ^ splitmix64(self.seed));
        h = splitmix64(h ^ epoch.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        ChaCha8Rng::seed_from_u64(h)
    }

    /// Speed perturbation, then noise, then band limiting, as configured. Band limiting draws
    /// from `rng` only when enabled, and after speed and noise, so their draws are the same
    /// with or without it.
    pub fn waveform(
        &self,
        samples: &[f32],
        rng: &mut impl Rng,
    ) -> Result<(Vec<f32>, WaveformAugmentation)> {
        let o = &self.options;
        let mut info = WaveformAugmentation { speed_factor: 1.0, ..Default::default() };
        let mut out = if o.speed_enabled && !o.speed_factors.is_empty() {
            let f = o.speed_factors[rng.random_range(0..o.speed_factors.len())];
            info.speed_factor = f64::from(quantize_speed(f)) / 100.0;
            speed_perturb(samples, f)?
        } else {
            samples.to_vec()
        };
        if o.noise_enabled && rng.random_bool(o.noise_probability.clamp(0.0, 1.0)) {
            let snr = if o.noise_snr_db_max > o.noise_snr_db_min {
                rng.random_range(o.noise_snr_db_min..=o.noise_snr_db_max)
            } else {
                o.noise_snr_db_min
            };
            let kind = match o.noise_kind {
                NoiseKind::WhiteOrPink => {
                    if rng.random_bool(0.5) {
                        NoiseKind::White
                    } else {
                        NoiseKind::Pink
                    }
                }
                k => k,
            };
            if add_noise(&mut out, snr, kind, rng) {
                info.noise_snr_db = Some(snr);
                info.noise_kind = Some(kind);
            }
        }
        if o.bandlimit_enabled && rng.random_bool(o.bandlimit_probability.clamp(0.0, 1.0)) {
            let cutoff = if o.bandlimit_max_hz > o.bandlimit_min_hz {
                rng.random_range(o.bandlimit_min_hz..=o.bandlimit_max_hz)
            } else {
                o.bandlimit_min_hz
            };
            let highpass = rng
                .random_bool(o.bandlimit_highpass_probability.clamp(0.0, 1.0))
                .then_some(o.bandlimit_highpass_hz);
            band_limit(&mut out, cutoff, highpass)?;
            info.bandlimit_hz = Some(cutoff);
            info.highpass_hz = highpass;
        }
        Ok((out, info))
    }

    /// The VTLP warp factor for one utterance (1.0 when VTLP is off; draws nothing then, so
    /// runs without VTLP see the same random stream as before it existed).
    pub fn frequency_warp(&self, rng: &mut impl Rng) -> f64 {
        let o = &self.options;
        if !o.warps_frequency() {
            return 1.0;
        }
        if o.vtlp_warp_max > o.vtlp_warp_min {
            rng.random_range(o.vtlp_warp_min..=o.vtlp_warp_max)
        } else {
            o.vtlp_warp_min
        }
    }

    /// SpecAugment masks (if enabled) on a `(T, D)` feature matrix, in place.
    pub fn features(&self, feats: &mut Array2<f32>, rng: &mut impl Rng) -> AppliedMasks {
        if self.options.spec_augment_enabled {
            spec_augment(feats, &self.options, rng)
        } else {
            AppliedMasks::default()
        }
    }
}

fn check_speed_factor(f: f64) -> Result<()> {
    if !(0.5..=2.0).contains(&f) {
        return Err(Error::Options(format!("augment speed factor must be in [0.5, 2], got {f}")));
    }
    Ok(())
}

/// Speed factor in hundredths. Keeping the resampling ratio a ratio of small integers
/// (16000·f/16000 with f in 0.01 steps: gcd ≥ 160) keeps rubato's FFT blocks short.
fn quantize_speed(f: f64) -> u32 {
    (f * 100.0).round().max(1.0) as u32
}

/// Plays `samples` (16 kHz) `factor` times faster: the result has `N / factor` samples and every
/// frequency is multiplied by `factor` (tempo and pitch together, as tape speed does).
///
/// How: the samples are reinterpreted as recorded at `16000·factor` Hz and resampled to 16 kHz
/// with rubato's synchronous FFT resampler (fixed ratio, band-limited, delay trimmed). Speeding
/// up (factor > 1) low-passes at 8 kHz / factor first, as any honest resampler must.
/// `factor` is used to 0.01 precision; it must be in [0.5, 2].
pub fn speed_perturb(samples: &[f32], factor: f64) -> Result<Vec<f32>> {
    check_speed_factor(factor)?;
    let q = quantize_speed(factor);
    if q == 100 || samples.is_empty() {
        return Ok(samples.to_vec());
    }
    let rate_in = (SAMPLE_RATE_HZ / 100 * q) as usize;
    let rate_out = SAMPLE_RATE_HZ as usize;
    let mut resampler = Fft::<f32>::new(rate_in, rate_out, 1024, 1, FixedSync::Input)
        .map_err(|e| Error::Options(format!("speed perturbation {factor}: {e}")))?;
    let input = vec![samples.to_vec()];
    let adapter = SequentialSliceOfVecs::new(&input, 1, samples.len())
        .map_err(|e| Error::Options(format!("speed perturbation buffer: {e}")))?;
    let out = resampler
        .process_all(&adapter, samples.len(), None)
        .map_err(|e| Error::Options(format!("speed perturbation {factor}: {e}")))?;
    Ok(out.take_data())
}

/// True if `hz` is finite and strictly between `lo` and the 8 kHz Nyquist frequency.
fn in_open_band(hz: f64, lo: f64) -> bool {
    hz.is_finite() && hz > lo && hz < f64::from(SAMPLE_RATE_HZ) / 2.0
}

/// One second-order section in transposed direct form II, run in f64.
#[derive(Debug, Clone, Copy)]
struct Biquad {
    b: [f64; 3],
    /// a1, a2 (a0 normalized to 1).
    a: [f64; 2],
}

impl Biquad {
    /// Low-pass (`high = false`) or high-pass section at `cutoff_hz` with quality `q`, by the
    /// bilinear transform prewarped at the cutoff (R. Bristow-Johnson's audio EQ cookbook).
    fn new(cutoff_hz: f64, q: f64, high: bool) -> Self {
        let w0 = std::f64::consts::TAU * cutoff_hz / f64::from(SAMPLE_RATE_HZ);
        let (sin, cos) = w0.sin_cos();
        let alpha = sin / (2.0 * q);
        let a0 = 1.0 + alpha;
        let (b0, b1) =
            if high { ((1.0 + cos) / 2.0, -(1.0 + cos)) } else { ((1.0 - cos) / 2.0, 1.0 - cos) };
        Biquad { b: [b0 / a0, b1 / a0, b0 / a0], a: [-2.0 * cos / a0, (1.0 - alpha) / a0] }
    }

    /// Filters `x` in place from a zero state.
    fn run(&self, x: &mut [f32]) {
        let (mut z1, mut z2) = (0.0f64, 0.0f64);
        for v in x {
            let input = f64::from(*v);
            let y = self.b[0] * input + z1;
            z1 = self.b[1] * input - self.a[0] * y + z2;
            z2 = self.b[2] * input - self.a[1] * y;
            *v = y as f32;
        }
    }
}

/// The sections of an `order`-th order Butterworth filter (`order` even): pole pair `k` has
/// Q = 1 / (2·sin((2k − 1)·π / (2·order))), so the cascade is maximally flat in the passband.
fn butterworth(cutoff_hz: f64, order: usize, high: bool) -> Vec<Biquad> {
    (1..=order / 2)
        .map(|k| {
            let angle = (2 * k - 1) as f64 * std::f64::consts::PI / (2 * order) as f64;
            Biquad::new(cutoff_hz, 1.0 / (2.0 * angle.sin()), high)
        })
        .collect()
}

/// Low-passes 16 kHz `samples` in place at `cutoff_hz` (an 8th-order Butterworth, four biquads:
/// −3 dB at the cutoff, 48 dB/octave beyond, flat below; at a 4 kHz cutoff 1 kHz passes within
/// 0.01 dB and 7 kHz is ~110 dB down), then, if `highpass_hz` is given, high-passes there
/// (4th-order Butterworth, 24 dB/octave). The length is unchanged; the filters are causal from a
/// zero state, so the output is delayed by their group delay (a fraction of a millisecond
/// well inside the passband, a few near either cutoff: less than a 10 ms frame) and speech starting from silence has no start transient.
/// Cutoffs must be finite and in (0, 8000) Hz.
pub fn band_limit(samples: &mut [f32], cutoff_hz: f64, highpass_hz: Option<f64>) -> Result<()> {
    for hz in std::iter::once(cutoff_hz).chain(highpass_hz) {
        if !in_open_band(hz, 0.0) {
            return Err(Error::Options(format!(
                "band limit cutoff must be in (0, 8000) Hz, got {hz}"
            )));
        }
    }
    let mut sections = butterworth(cutoff_hz, 8, false);
    if let Some(hp) = highpass_hz {
        sections.extend(butterworth(hp, 4, true));
    }
    for s in &sections {
        s.run(samples);
    }
    Ok(())
}

/// Root mean square of a signal (0 for an empty one), accumulated in f64.
pub fn rms(samples: &[f32]) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    let sum: f64 = samples.iter().map(|&x| f64::from(x) * f64::from(x)).sum();
    (sum / samples.len() as f64).sqrt()
}

/// `n` samples of white noise (uniform in [−1, 1): flat spectrum).
pub fn white_noise(n: usize, rng: &mut impl Rng) -> Vec<f32> {
    (0..n).map(|_| rng.random_range(-1.0f32..1.0)).collect()
}

/// `n` samples of pink noise: white noise through Paul Kellet's economy 1/f filter
/// (three one-pole sections whose sum is within ±0.5 dB of −3 dB/octave above ~100 Hz at 16 kHz).
pub fn pink_noise(n: usize, rng: &mut impl Rng) -> Vec<f32> {
    let (mut b0, mut b1, mut b2) = (0.0f32, 0.0f32, 0.0f32);
    (0..n)
        .map(|_| {
            let w = rng.random_range(-1.0f32..1.0);
            b0 = 0.99765 * b0 + w * 0.099_046;
            b1 = 0.96300 * b1 + w * 0.296_516_4;
            b2 = 0.57000 * b2 + w * 1.052_691_3;
            b0 + b1 + b2 + w * 0.1848
        })
        .collect()
}

/// Adds noise so that `20·log10(rms(signal) / rms(noise)) = snr_db` exactly (over the whole
/// utterance): the generated noise is scaled by its own measured RMS. The sum is not clipped,
/// so the SNR stays exact; features take any amplitude.
/// Returns false (and leaves the signal alone) when the signal is silent: no SNR exists then.
pub fn add_noise(samples: &mut [f32], snr_db: f64, kind: NoiseKind, rng: &mut impl Rng) -> bool {
    let signal_rms = rms(samples);
    if signal_rms == 0.0 || !snr_db.is_finite() {
        return false;
    }
    let noise = match kind {
        NoiseKind::White | NoiseKind::WhiteOrPink => white_noise(samples.len(), rng),
        NoiseKind::Pink => pink_noise(samples.len(), rng),
    };
    let noise_rms = rms(&noise);
    if noise_rms == 0.0 {
        return false;
    }
    let gain = (signal_rms / 10f64.powf(snr_db / 20.0) / noise_rms) as f32;
    for (x, n) in samples.iter_mut().zip(&noise) {
        *x += gain * n;
    }
    true
}

/// Sets frames `start .. start+width` (rows of a `(T, D)` matrix) to 0, clipped to `T`.
///
/// Masks fill with 0 rather than the utterance mean: Hark's features end with CMVN, after which
/// 0 *is* the per-coefficient mean, and a constant keeps masks identical across recomputation.
pub fn apply_time_mask(feats: &mut Array2<f32>, mask: Mask) {
    let t = feats.len_of(Axis(0));
    let end = (mask.start + mask.width).min(t);
    if mask.start < end {
        feats.slice_mut(s![mask.start..end, ..]).fill(0.0);
    }
}

/// Sets coefficients `start .. start+width` (columns of a `(T, D)` matrix) to 0, clipped to `D`.
pub fn apply_freq_mask(feats: &mut Array2<f32>, mask: Mask) {
    let d = feats.len_of(Axis(1));
    let end = (mask.start + mask.width).min(d);
    if mask.start < end {
        feats.slice_mut(s![.., mask.start..end]).fill(0.0);
    }
}

/// Draws and applies SpecAugment masks (Park et al. 2019, without time warping): each width is
/// uniform in [min, max] clipped to the matrix (and, for time, to `time_mask_max_fraction · T`,
/// which also wins over `min`), each start uniform over the positions where the mask fits.
/// Masks may overlap. Returns what was applied.
pub fn spec_augment(
    feats: &mut Array2<f32>,
    options: &AugmentOptions,
    rng: &mut impl Rng,
) -> AppliedMasks {
    let (t, d) = feats.dim();
    let mut applied = AppliedMasks::default();
    fn draw(len: usize, min: usize, max: usize, rng: &mut impl Rng) -> Mask {
        let max = max.min(len);
        let min = min.min(max);
        let width = rng.random_range(min..=max);
        let start = rng.random_range(0..=len - width);
        Mask { start, width }
    }
    if t > 0 {
        for _ in 0..options.time_mask_count {
            let cap = (options.time_mask_max_fraction.clamp(0.0, 1.0) * t as f64).floor() as usize;
            let max = options.time_mask_max_frames.min(cap);
            let m = draw(t, options.time_mask_min_frames, max, rng);
            apply_time_mask(feats, m);
            applied.time.push(m);
        }
    }
    if d > 0 {
        for _ in 0..options.freq_mask_count {
            let m = draw(d, options.freq_mask_min_bins, options.freq_mask_max_bins, rng);
            apply_freq_mask(feats, m);
            applied.freq.push(m);
        }
    }
    applied
}

/// SplitMix64 finalizer: a fixed, well-mixing 64-bit bijection.
pub(crate) fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_speed_and_silent_noise_leave_audio_alone() {
        let x: Vec<f32> = (0..1000).map(|i| (i as f32 * 0.01).sin()).collect();
        assert_eq!(speed_perturb(&x, 1.0).unwrap(), x);
        let mut silent = vec![0.0f32; 100];
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        assert!(!add_noise(&mut silent, 10.0, NoiseKind::White, &mut rng));
        assert!(silent.iter().all(|&v| v == 0.0));
    }

    #[test]
    fn bad_options_are_named() {
        let o = AugmentOptions { speed_factors: vec![3.0], ..Default::default() };
        assert!(o.validate().unwrap_err().to_string().contains("speed factor"));
        let o = AugmentOptions { noise_snr_db_min: 40.0, ..Default::default() };
        assert!(o.validate().unwrap_err().to_string().contains("noise_snr_db_min"));
    }

    /// Mean power in `[lo, hi)` Hz, from periodograms of 4096-sample segments (16 kHz).
    fn band_power(x: &[f32], lo: f64, hi: f64) -> f64 {
        let n = 4096;
        let mut planner = realfft::RealFftPlanner::<f64>::new();
        let fft = planner.plan_fft_forward(n);
        let mut spec = fft.make_output_vec();
        let (mut sum, mut count) = (0.0, 0usize);
        for seg in x.chunks_exact(n) {
            let mut buf: Vec<f64> = seg.iter().map(|&v| f64::from(v)).collect();
            fft.process(&mut buf, &mut spec).unwrap();
            for (k, c) in spec.iter().enumerate() {
                let f = k as f64 * 16000.0 / n as f64;
                if f >= lo && f < hi {
                    sum += c.norm_sqr();
                    count += 1;
                }
            }
        }
        sum / count as f64
    }

    #[test]
    fn pink_noise_falls_3_db_per_octave_and_white_is_flat() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let pink = pink_noise(16000 * 20, &mut rng);
        let white = white_noise(16000 * 20, &mut rng);
        // Octaves 125 Hz … 4 kHz: per-octave change of the mean power density in dB.
        for (lo, hi) in [(125.0, 250.0), (250.0, 500.0), (500.0, 1000.0), (1000.0, 2000.0)] {
            let step = |x: &[f32]| {
                10.0 * (band_power(x, 2.0 * lo, 2.0 * hi) / band_power(x, lo, hi)).log10()
            };
            let p = step(&pink);
            let w = step(&white);
            assert!((p + 3.01).abs() < 0.7, "pink {lo}-{hi} Hz: {p:.2} dB/octave");
            assert!(w.abs() < 0.5, "white {lo}-{hi} Hz: {w:.2} dB/octave");
        }
    }

    #[test]
    fn pink_noise_has_more_low_than_high_energy() {
        // Energy of first differences relative to the signal measures high-frequency content:
        // for white noise E[(x_t - x_{t-1})²] = 2σ², for 1/f noise it is far smaller.
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let ratio = |x: &[f32]| {
            let d: Vec<f32> = x.windows(2).map(|w| w[1] - w[0]).collect();
            rms(&d) / rms(x)
        };
        let w = white_noise(32000, &mut rng);
        let p = pink_noise(32000, &mut rng);
        assert!((ratio(&w) - 2f64.sqrt()).abs() < 0.05, "white {}", ratio(&w));
        assert!(ratio(&p) < 0.8, "pink {}", ratio(&p));
    }

    fn sine(hz: f64, n: usize) -> Vec<f32> {
        (0..n).map(|i| (std::f64::consts::TAU * hz * i as f64 / 16000.0).sin() as f32).collect()
    }

    /// Gain in dB of `y` against `x`, by RMS over the second half (past any start transient).
    fn gain_db(x: &[f32], y: &[f32]) -> f64 {
        let h = x.len() / 2;
        20.0 * (rms(&y[h..]) / rms(&x[h..])).log10()
    }

    #[test]
    fn band_limit_passes_the_band_and_stops_above_it() {
        let n = 16000;
        let (low, high) = (sine(1000.0, n), sine(7000.0, n));
        let mut y = low.clone();
        band_limit(&mut y, 4000.0, None).unwrap();
        assert_eq!(y.len(), n);
        let g = gain_db(&low, &y);
        assert!(g.abs() < 1.0, "1 kHz at a 4 kHz cutoff: {g:.3} dB");
        let mut y = high.clone();
        band_limit(&mut y, 4000.0, None).unwrap();
        assert_eq!(y.len(), n);
        let g = gain_db(&high, &y);
        assert!(g < -40.0, "7 kHz at a 4 kHz cutoff: {g:.1} dB");
        // −3 dB at the cutoff itself (Butterworth).
        let at = sine(4000.0, n);
        let mut y = at.clone();
        band_limit(&mut y, 4000.0, None).unwrap();
        let g = gain_db(&at, &y);
        assert!((g + 3.01).abs() < 0.1, "4 kHz at a 4 kHz cutoff: {g:.3} dB");
        // The high-pass takes 100 Hz down and leaves 1 kHz alone.
        let hum = sine(100.0, n);
        let mut y = hum.clone();
        band_limit(&mut y, 4000.0, Some(300.0)).unwrap();
        let g = gain_db(&hum, &y);
        assert!(g < -35.0, "100 Hz with a 300 Hz high-pass: {g:.1} dB");
        let mut y = low.clone();
        band_limit(&mut y, 4000.0, Some(300.0)).unwrap();
        let g = gain_db(&low, &y);
        assert!(g.abs() < 1.0, "1 kHz with a 300 Hz high-pass: {g:.3} dB");
        assert!(band_limit(&mut y, 8000.0, None).is_err());
        assert!(band_limit(&mut y, 4000.0, Some(f64::NAN)).is_err());
        assert!(band_limit(&mut [], 4000.0, Some(300.0)).is_ok());
    }

    /// Only band limiting, always applied, cutoffs 3.4–5.5 kHz.
    fn bandlimit_only(probability: f64) -> AugmentOptions {
        AugmentOptions {
            bandlimit_enabled: true,
            bandlimit_probability: probability,
            ..AugmentOptions::none()
        }
    }

    #[test]
    fn band_limit_augmentation_is_a_function_of_seed_epoch_and_utterance() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let x = white_noise(8000, &mut rng);
        let aug = Augmenter::new(bandlimit_only(1.0), 7).unwrap();
        let run = |epoch: u64, key: &str| aug.waveform(&x, &mut aug.rng_for(epoch, key)).unwrap();
        let a = run(0, "spk/u1.wav");
        assert_eq!(a.0.len(), x.len());
        assert_eq!(a, run(0, "spk/u1.wav"));
        let cutoff = a.1.bandlimit_hz.unwrap();
        assert!((3400.0..=5500.0).contains(&cutoff), "{cutoff}");
        let b = run(0, "spk/u2.wav");
        assert_ne!(a.1.bandlimit_hz, b.1.bandlimit_hz);
        assert_ne!(a.0, b.0);
        assert_ne!(a.0, run(1, "spk/u1.wav").0);
        // The output really is band-limited: white noise loses ≥ 30 dB above 7 kHz. (Only 30: the
        // unwindowed periodograms of `band_power` leak passband power at about −39 dB, so they
        // cannot see deeper; the sine tests above check the filter's own stopband.)
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        let long = white_noise(16000 * 4, &mut rng);
        let (y, info) = aug.waveform(&long, &mut aug.rng_for(0, "long")).unwrap();
        let cut =
            10.0 * (band_power(&y, 7000.0, 8000.0) / band_power(&long, 7000.0, 8000.0)).log10();
        assert!(cut < -30.0, "cutoff {:?}: 7–8 kHz at {cut:.1} dB", info.bandlimit_hz);
        // Over many utterances: cutoffs spread over the range, about half with the high-pass.
        let infos: Vec<_> = (0..400).map(|i| run(0, &format!("u{i}")).1).collect();
        let cuts: Vec<f64> = infos.iter().map(|i| i.bandlimit_hz.unwrap()).collect();
        assert!(cuts.iter().any(|&c| c < 3600.0) && cuts.iter().any(|&c| c > 5300.0));
        let hp = infos.iter().filter(|i| i.highpass_hz == Some(300.0)).count();
        assert!((150..=250).contains(&hp), "{hp} of 400 high-passed");
        // Probability 0.3 (the default): about 30 % band-limited.
        let aug = Augmenter::new(bandlimit_only(0.3), 7).unwrap();
        let limited = (0..1000)
            .filter(|i| {
                aug.waveform(&x[..100], &mut aug.rng_for(0, &format!("u{i}")))
                    .unwrap()
                    .1
                    .bandlimit_hz
                    .is_some()
            })
            .count();
        assert!((250..=350).contains(&limited), "{limited} of 1000 band-limited");
    }

    #[test]
    fn band_limit_off_or_probability_zero_leaves_audio_bit_identical() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let x = white_noise(4000, &mut rng);
        for opts in [bandlimit_only(0.0), AugmentOptions::none()] {
            assert!(!opts.touches_waveform());
            let aug = Augmenter::new(opts, 1).unwrap();
            for i in 0..50 {
                let (y, info) = aug.waveform(&x, &mut aug.rng_for(0, &format!("u{i}"))).unwrap();
                assert_eq!(y, x);
                assert_eq!((info.bandlimit_hz, info.highpass_hz), (None, None));
            }
        }
        assert!(bandlimit_only(0.3).touches_waveform());
        assert!(AugmentOptions::default().bandlimit_enabled);
        assert!(!AugmentOptions::none().bandlimit_enabled);
        // Band limiting draws after speed and noise: their choices do not change with it.
        let with =
            Augmenter::new(AugmentOptions { noise_probability: 1.0, ..Default::default() }, 9)
                .unwrap();
        let without =
            Augmenter::new(AugmentOptions { bandlimit_enabled: false, ..with.options.clone() }, 9)
                .unwrap();
        for i in 0..20 {
            let key = format!("u{i}");
            let (_, a) = with.waveform(&x, &mut with.rng_for(0, &key)).unwrap();
            let (_, b) = without.waveform(&x, &mut without.rng_for(0, &key)).unwrap();
            assert_eq!(
                (a.speed_factor, a.noise_snr_db, a.noise_kind),
                (b.speed_factor, b.noise_snr_db, b.noise_kind)
            );
        }
    }

    #[test]
    fn band_limit_options_are_checked() {
        let ok = AugmentOptions::default();
        ok.validate().unwrap();
        let bad = |o: AugmentOptions, field: &str| {
            let e = o.validate().unwrap_err().to_string();
            assert!(e.contains(field), "{e}");
        };
        bad(
            AugmentOptions { bandlimit_min_hz: 5000.0, bandlimit_max_hz: 4000.0, ..ok.clone() },
            "bandlimit_min_hz",
        );
        for hz in [100.0, 50.0, 8000.0, 9000.0, f64::NAN, f64::INFINITY] {
            bad(AugmentOptions { bandlimit_min_hz: hz, ..ok.clone() }, "bandlimit_min_hz");
            bad(AugmentOptions { bandlimit_max_hz: hz, ..ok.clone() }, "bandlimit_max_hz");
        }
        for p in [-0.1, 1.5, f64::NAN] {
            bad(AugmentOptions { bandlimit_probability: p, ..ok.clone() }, "bandlimit_probability");
            bad(
                AugmentOptions { bandlimit_highpass_probability: p, ..ok.clone() },
                "bandlimit_highpass_probability",
            );
        }
        for hz in [10.0, 3400.0, 4000.0, f64::NAN] {
            bad(
                AugmentOptions { bandlimit_highpass_hz: hz, ..ok.clone() },
                "bandlimit_highpass_hz",
            );
        }
        // Edges that are allowed: min = max, probabilities 0 and 1.
        AugmentOptions { bandlimit_min_hz: 4000.0, bandlimit_max_hz: 4000.0, ..ok.clone() }
            .validate()
            .unwrap();
        AugmentOptions {
            bandlimit_probability: 0.0,
            bandlimit_highpass_probability: 1.0,
            ..ok.clone()
        }
        .validate()
        .unwrap();
        // Off: its fields are not checked (as with the other families).
        AugmentOptions { bandlimit_min_hz: 9000.0, ..AugmentOptions::none() }.validate().unwrap();
    }

    #[test]
    fn settings_written_before_band_limiting_still_load() {
        // The `augment` object of a train.json from before these fields existed.
        let old = r#"{"speed_enabled": true, "speed_factors": [0.9, 1.0, 1.1], "noise_enabled": true,
            "noise_probability": 0.5, "noise_snr_db_min": 10.0, "noise_snr_db_max": 30.0,
            "noise_kind": "white_or_pink", "spec_augment_enabled": true, "time_mask_count": 2,
            "time_mask_min_frames": 0, "time_mask_max_frames": 20, "time_mask_max_fraction": 0.2,
            "freq_mask_count": 2, "freq_mask_min_bins": 0, "freq_mask_max_bins": 5,
            "vtlp_enabled": false, "vtlp_warp_min": 0.9, "vtlp_warp_max": 1.1}"#;
        let o: AugmentOptions = serde_json::from_str(old).unwrap();
        assert_eq!(o, AugmentOptions::default());
        let o: AugmentOptions = serde_json::from_str(r#"{"bandlimit_max_hz": 4000}"#).unwrap();
        assert_eq!((o.bandlimit_min_hz, o.bandlimit_max_hz), (3400.0, 4000.0));
        let round: AugmentOptions =
            serde_json::from_str(&serde_json::to_string(&o).unwrap()).unwrap();
        assert_eq!(round, o);
    }
}
