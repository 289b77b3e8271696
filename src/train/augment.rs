//! Data augmentation for training, applied on the fly (never cached):
//! waveform level before features (speed perturbation, added noise), in the filterbank (VTLP
//! frequency warping), feature level after (SpecAugment time and frequency masks).
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
}

impl Default for AugmentOptions {
    /// Speed 0.9/1.0/1.1 (Ko et al. 2015), noise on half the utterances at 10–30 dB SNR,
    /// SpecAugment with 2 time masks ≤ 20 frames (200 ms at a 10 ms shift) and 2 frequency masks
    /// ≤ 5 coefficients (a mild version of Park et al. 2019's LibriSpeech-basic policy).
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

    /// Speed perturbation, then noise, as configured.
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
}
