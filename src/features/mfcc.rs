//! The per-frame MFCC computer shared by the offline path ([`compute`](super::compute)) and the
//! streaming extractor ([`OnlineFeatures`](super::OnlineFeatures)), so they cannot disagree.
//!
//! Shapes: `L` samples per frame, `N` FFT size, `K = N/2 + 1` spectrum bins, `F` mel filters,
//! `C` cepstra.
//!
//! Per frame (python_speech_features' definition):
//! 1. scale: `x ← input_scale · x` (int16 units for the default 32768);
//! 2. pre-emphasis over the whole signal: `y[n] = x[n] - a·x[n-1]`, `x[-1] = 0`; the caller passes
//!    the sample before the frame so frames stay independent;
//! 3. window `w[n]`, zero-pad to `N` (also the part of a last frame that runs past the signal);
//! 4. power spectrum `P[k] = |FFT(y)[k]|² / N`, frame energy `E = Σ_k P[k]`;
//! 5. mel energies `M[f] = Σ_k W[f, k] P[k]` with psf's triangles on integer FFT bins;
//! 6. `c = DCT-II_ortho(ln M)[..C]`, then `c[n] *= 1 + (L/2) sin(πn/L)` (lifter);
//! 7. optionally `c[0] = ln E`.
//!
//! Exact zeros are replaced by f64's epsilon before each log, as psf does (silent frames).

use std::sync::Arc;

use rustfft::num_complex::Complex;
use rustfft::{Fft, FftPlanner};

use super::options::{FeatureOptions, Window};
use crate::Result;

/// psf replaces exact zeros with `numpy.finfo(float).eps` before taking logs.
const LOG_FLOOR: f32 = f64::EPSILON as f32;

/// Computes the `C` cepstra of one frame. Everything is precomputed in [`MfccComputer::new`];
/// [`compute_frame`](MfccComputer::compute_frame) allocates nothing.
#[derive(Clone)]
pub struct MfccComputer {
    frame_len: usize,
    num_ceps: usize,
    preemphasis: f32,
    append_energy: bool,
    /// (L,) analysis window times `input_scale` (scaling commutes with pre-emphasis).
    window: Vec<f32>,
    /// Complex FFT of size `N/2`: the real FFT is computed by packing even/odd samples.
    fft: Arc<dyn Fft<f32>>,
    /// (N,) pre-emphasized, windowed, zero-padded frame.
    fft_in: Vec<f32>,
    /// (N/2,) `z[n] = y[2n] + i y[2n+1]`, transformed in place.
    packed: Vec<Complex<f32>>,
    fft_scratch: Vec<Complex<f32>>,
    /// (N/2,) `cos(2πk/N)` and `sin(2πk/N)` for the unpacking step.
    twiddle_cos: Vec<f32>,
    twiddle_sin: Vec<f32>,
    /// (4, N/2) `Re Z[k]`, `Im Z[k]`, `Re Z[M-k]`, `Im Z[M-k]` for the unpacking step.
    unpack: [Vec<f32>; 4],
    /// Whether this CPU runs the AVX2 build of the frame loop (same results, wider vectors).
    use_avx2: bool,
    /// (K,) power spectrum, followed by zeros so every padded triangle stays in bounds.
    power: Vec<f32>,
    /// (F,) first FFT bin of each triangle.
    filter_start: Vec<usize>,
    /// (F + 1,) offsets of each triangle's weights in `filter_weights`.
    filter_offset: Vec<usize>,
    /// The non-zero weights of every triangle, one after another, each triangle zero-padded to a
    /// multiple of 8 so its dot product is whole SIMD lanes with no scalar tail.
    filter_weights: Vec<f32>,
    /// (F + 1,) log mel energies, then the log frame energy.
    log_mel: Vec<f32>,
    /// (C, F) row-major orthonormal DCT-II.
    dct: Vec<f32>,
    /// (C,) lifter gains.
    lifter: Vec<f32>,
}

impl std::fmt::Debug for MfccComputer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MfccComputer")
            .field("frame_len", &self.frame_len)
            .field("fft_size", &self.fft_in.len())
            .field("use_avx2", &self.use_avx2)
            .field("num_filters", &self.filter_start.len())
            .field("num_ceps", &self.num_ceps)
            .finish()
    }
}

/// HTK mel scale, as psf: `2595 log10(1 + f/700)`.
fn hz_to_mel(hz: f64) -> f64 {
    2595.0 * (1.0 + hz / 700.0).log10()
}

fn mel_to_hz(mel: f64) -> f64 {
    700.0 * (10f64.powf(mel / 2595.0) - 1.0)
}

/// psf's filterbank: `F + 2` points equally spaced in mel (numpy `linspace`), each mapped to the
/// FFT bin `floor((N + 1) · hz / sr)`; triangle `f` rises from bin `b[f]` to `b[f+1]` and falls to
/// `b[f+2]`, with weights `(i - b[f]) / (b[f+1] - b[f])` and `(b[f+2] - i) / (b[f+2] - b[f+1])`.
/// Returns for each filter its first bin and its weights (zero weights at the ends trimmed).
pub(crate) fn mel_triangles(opts: &FeatureOptions) -> Vec<(usize, Vec<f32>)> {
    let nf = opts.num_filters;
    let (lo, hi) = (hz_to_mel(opts.low_freq_hz), hz_to_mel(opts.high_freq_hz));
    let step = (hi - lo) / (nf + 1) as f64;
    let max_bin = opts.fft_size / 2;
    let bins: Vec<usize> = (0..nf + 2)
        .map(|i| {
            // numpy.linspace: start + i * step, with the endpoint set exactly.
            let mel = if i == nf + 1 { hi } else { lo + i as f64 * step };
            let b =
                ((opts.fft_size + 1) as f64 * mel_to_hz(mel) / opts.sample_rate_hz as f64).floor();
            (b.max(0.0) as usize).min(max_bin)
        })
        .collect();
    (0..nf)
        .map(|f| {
            let (l, c, r) = (bins[f], bins[f + 1], bins[f + 2]);
            let mut w: Vec<(usize, f64)> = Vec::new();
            for i in l..c {
                w.push((i, (i - l) as f64 / (c - l) as f64));
            }
            for i in c..r {
                w.push((i, (r - i) as f64 / (r - c) as f64));
            }
            while w.first().is_some_and(|&(_, v)| v == 0.0) {
                w.remove(0);
            }
            while w.last().is_some_and(|&(_, v)| v == 0.0) {
                w.pop();
            }
            let start = w.first().map_or(l, |&(i, _)| i);
            (start, w.into_iter().map(|(_, v)| v as f32).collect())
        })
        .collect()
}

/// Orthonormal DCT-II rows `k < C` over `F` inputs:
/// `D[k, m] = s_k cos(πk(2m + 1) / 2F)`, `s_0 = √(1/F)`, `s_k = √(2/F)` (scipy `norm='ortho'`).
fn dct_matrix(num_ceps: usize, num_filters: usize) -> Vec<f32> {
    let nf = num_filters as f64;
    let mut d = Vec::with_capacity(num_ceps * num_filters);
    for k in 0..num_ceps {
        let s = if k == 0 { (1.0 / nf).sqrt() } else { (2.0 / nf).sqrt() };
        for m in 0..num_filters {
            let arg = std::f64::consts::PI * k as f64 * (2 * m + 1) as f64 / (2.0 * nf);
            d.push((s * arg.cos()) as f32);
        }
    }
    d
}

fn window(kind: Window, len: usize, scale: f32) -> Vec<f32> {
    let denom = (len - 1) as f64;
    let hann = |n: usize| 0.5 - 0.5 * (2.0 * std::f64::consts::PI * n as f64 / denom).cos();
    (0..len)
        .map(|n| {
            let w = match kind {
                Window::Rectangular => 1.0,
                Window::Hamming => {
                    0.54 - 0.46 * (2.0 * std::f64::consts::PI * n as f64 / denom).cos()
                }
                Window::Hann => hann(n),
                Window::Povey => hann(n).powf(0.85),
            };
            (w * scale as f64) as f32
        })
        .collect()
}

/// Sum with eight independent accumulators, so the compiler can keep it in one SIMD register.
#[inline]
fn sum_f32(x: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let chunks = x.chunks_exact(8);
    let rest = chunks.remainder();
    for c in chunks {
        for i in 0..8 {
            acc[i] += c[i];
        }
    }
    let mut s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for &v in rest {
        s += v;
    }
    s
}

#[inline]
fn dot_f32(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0.0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for i in 0..8 {
            acc[i] += x[i] * y[i];
        }
    }
    let mut s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for (x, y) in ra.iter().zip(rb) {
        s += x * y;
    }
    s
}

/// `v ← ln v` element-wise.
///
/// Cephes' `logf` without branches, so the loop vectorizes: `x = m·2^e` with `m` in
/// `[√½, √2)`, then `ln x = e·ln 2 + ln(1 + r)`, `r = m − 1`, where
/// `ln(1 + r) = r − r²/2 + r³·P(r)` (degree-8 minimax `P`, relative error ≈ 1e-7). `ln 2` is split
/// into `0.693359375 − 2.12194440e-4` so `e·ln 2` adds no rounding error of its own. A slice with
/// any input the bit trick does not cover (zero, subnormal, negative, infinite, NaN) goes through
/// `f32::ln` instead.
#[inline(always)]
fn ln_in_place(v: &mut [f32]) {
    const SQRT_HALF: f32 = std::f32::consts::FRAC_1_SQRT_2;
    let normal = v.iter().fold(true, |ok, &x| ok & (f32::MIN_POSITIVE..f32::INFINITY).contains(&x));
    if !normal {
        v.iter_mut().for_each(|x| *x = x.ln());
        return;
    }
    for x in v.iter_mut() {
        let bits = x.to_bits();
        // x = m · 2^e with m in [0.5, 1).
        let mut e = ((bits >> 23) & 0xff) as i32 - 126;
        let m = f32::from_bits((bits & 0x007f_ffff) | 0x3f00_0000);
        let below = m < SQRT_HALF;
        e -= below as i32;
        let r = if below { m + m } else { m } - 1.0;
        let z = r * r;
        let mut p = 7.037_683_6e-2;
        p = p * r - 1.151_461e-1;
        p = p * r + 1.167_699_9e-1;
        p = p * r - 1.242_014_1e-1;
        p = p * r + 1.424_932_3e-1;
        p = p * r - 1.666_805_8e-1;
        p = p * r + 2.000_071_4e-1;
        p = p * r - 2.499_999_4e-1;
        p = p * r + 3.333_333e-1;
        let ef = e as f32;
        let y = p * r * z + ef * -2.121_944_4e-4 - 0.5 * z;
        *x = (r + y) + ef * 0.693_359_4;
    }
}

impl MfccComputer {
    /// Validates `opts` and precomputes the FFT plan, window, mel triangles, DCT, lifter and
    /// scratch buffers.
    pub fn new(opts: &FeatureOptions) -> Result<Self> {
        opts.validate()?;
        let frame_len = opts.frame_length();
        let n = opts.fft_size;
        let fft = FftPlanner::<f32>::new().plan_fft_forward(n / 2);
        let tau_k = |k: usize| 2.0 * std::f64::consts::PI * k as f64 / n as f64;
        let tri = mel_triangles(opts);
        let mut filter_start = Vec::with_capacity(tri.len());
        let mut filter_offset = vec![0];
        let mut filter_weights = Vec::new();
        let mut power_len = n / 2 + 1;
        for (start, w) in tri {
            filter_start.push(start);
            filter_weights.extend_from_slice(&w);
            filter_weights
                .resize(filter_weights.len() + w.len().next_multiple_of(8) - w.len(), 0.0);
            filter_offset.push(filter_weights.len());
            power_len = power_len.max(start + w.len().next_multiple_of(8));
        }
        let lifter = (0..opts.num_ceps)
            .map(|k| {
                if opts.lifter > 0.0 {
                    let l = opts.lifter;
                    (1.0 + l / 2.0 * (std::f64::consts::PI * k as f64 / l).sin()) as f32
                } else {
                    1.0
                }
            })
            .collect();
        Ok(MfccComputer {
            frame_len,
            num_ceps: opts.num_ceps,
            preemphasis: opts.preemphasis,
            append_energy: opts.append_energy,
            window: window(opts.window, frame_len, opts.input_scale),
            fft_in: vec![0.0; n],
            packed: vec![Complex::new(0.0, 0.0); n / 2],
            fft_scratch: vec![Complex::new(0.0, 0.0); fft.get_inplace_scratch_len()],
            twiddle_cos: (0..n / 2).map(|k| tau_k(k).cos() as f32).collect(),
            twiddle_sin: (0..n / 2).map(|k| tau_k(k).sin() as f32).collect(),
            unpack: std::array::from_fn(|_| vec![0.0; n / 2]),
            fft,
            use_avx2: avx2_available(),
            power: vec![0.0; power_len],
            filter_start,
            filter_offset,
            filter_weights,
            log_mel: vec![0.0; opts.num_filters + 1],
            dct: dct_matrix(opts.num_ceps, opts.num_filters),
            lifter,
        })
    }

    /// Samples per frame (`L`).
    pub fn frame_len(&self) -> usize {
        self.frame_len
    }

    /// Cepstra per frame (`C`).
    pub fn num_ceps(&self) -> usize {
        self.num_ceps
    }

    /// Computes the cepstra of one frame into `out` (C,). `frame` holds the frame's samples
    /// (unscaled, as the audio layer gives them); if it is shorter than `L` (the last frame of a
    /// signal) the rest counts as zeros *after* pre-emphasis, as psf pads. `previous` is the sample
    /// just before the frame (0 for the first frame).
    ///
    /// # Panics
    /// If `frame.len() > L` or `out.len() != C` (caller bugs, not data errors).
    pub fn compute_frame(&mut self, frame: &[f32], previous: f32, out: &mut [f32]) {
        assert!(frame.len() <= self.frame_len, "frame longer than the frame length");
        assert_eq!(out.len(), self.num_ceps, "output length must be num_ceps");
        #[cfg(target_arch = "x86_64")]
        if self.use_avx2 {
            // SAFETY: `use_avx2` is only set when the CPU reports AVX2.
            unsafe { self.frame_avx2(frame, previous, out) };
            return;
        }
        self.frame_body(frame, previous, out);
    }

    /// The same code compiled for AVX2. Rust never fuses `a * b + c` on its own and every sum
    /// here has a fixed association (eight explicit lanes), so both builds give identical bits.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn frame_avx2(&mut self, frame: &[f32], previous: f32, out: &mut [f32]) {
        self.frame_body(frame, previous, out);
    }

    #[inline(always)]
    fn frame_body(&mut self, frame: &[f32], previous: f32, out: &mut [f32]) {
        let a = self.preemphasis;
        let m = frame.len();
        let buf = &mut self.fft_in;
        if m > 0 {
            buf[0] = (frame[0] - a * previous) * self.window[0];
            // y[n] = x[n] - a·x[n-1], written without a loop-carried value so it vectorizes.
            for (((y, &x), &xp), &w) in
                buf[1..m].iter_mut().zip(&frame[1..]).zip(&frame[..m - 1]).zip(&self.window[1..m])
            {
                *y = (x - a * xp) * w;
            }
        }
        buf[m..].fill(0.0);

        // Real FFT of length N via one complex FFT of length M = N/2 on z[n] = y[2n] + i y[2n+1]:
        // with a = Z[k], b = Z[M-k] (Z[M] = Z[0]),
        //   Y[k] = ((a + b*) + W^k (a - b*)/i) / 2,   W = e^{-2πi/N},
        // and P[k] = |Y[k]|² / N. The halves are folded into 1/(4N).
        for (z, y) in self.packed.iter_mut().zip(buf.chunks_exact(2)) {
            *z = Complex::new(y[0], y[1]);
        }
        self.fft.process_with_scratch(&mut self.packed, &mut self.fft_scratch);
        let half = self.packed.len();
        let n = (2 * half) as f32;
        let z0 = self.packed[0];
        self.power[0] = (z0.re + z0.im) * (z0.re + z0.im) / n;
        self.power[half] = (z0.re - z0.im) * (z0.re - z0.im) / n;
        let inv_4n = 1.0 / (4.0 * n);
        // Split a = Z[k] and b = Z[M-k] into four plain arrays first (b read backwards), so the
        // unpacking below is element-wise and vectorizes.
        let [ar, ai, br, bi] = &mut self.unpack;
        for (k, z) in self.packed.iter().enumerate() {
            ar[k] = z.re;
            ai[k] = z.im;
        }
        for (k, z) in self.packed[1..].iter().rev().enumerate() {
            br[k + 1] = z.re;
            bi[k + 1] = z.im;
        }
        let (ar, ai, br, bi) = (&ar[..half], &ai[..half], &br[..half], &bi[..half]);
        let (tw_c, tw_s) = (&self.twiddle_cos[..half], &self.twiddle_sin[..half]);
        let power = &mut self.power[..half];
        for k in 1..half {
            let (er, ei) = (ar[k] + br[k], ai[k] - bi[k]);
            let (or, oi) = (ai[k] + bi[k], br[k] - ar[k]);
            let (c, sn) = (tw_c[k], tw_s[k]);
            let yr = er + (c * or + sn * oi);
            let yi = ei + (c * oi - sn * or);
            power[k] = (yr * yr + yi * yi) * inv_4n;
        }
        let energy = sum_f32(&self.power[..=half]);

        // Mel energies, then the energy itself as one more entry, so all logs go in one pass.
        let nf = self.filter_start.len();
        for (f, lm) in self.log_mel[..nf].iter_mut().enumerate() {
            let (o0, o1) = (self.filter_offset[f], self.filter_offset[f + 1]);
            let start = self.filter_start[f];
            let e = dot_f32(&self.power[start..start + (o1 - o0)], &self.filter_weights[o0..o1]);
            *lm = if e == 0.0 { LOG_FLOOR } else { e };
        }
        self.log_mel[nf] = if energy == 0.0 { LOG_FLOOR } else { energy };
        ln_in_place(&mut self.log_mel);
        let log_mel = &self.log_mel[..nf];
        for (k, c) in out.iter_mut().enumerate() {
            *c = dot_f32(&self.dct[k * nf..(k + 1) * nf], log_mel) * self.lifter[k];
        }
        if self.append_energy {
            out[0] = self.log_mel[nf];
        }
    }
}

fn avx2_available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::is_x86_feature_detected!("avx2")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn psf_filterbank_bins() {
        // psf.get_filterbanks(26, 512, 16000)[0] is non-zero at bins 1, 2, 3 with 0.5, 1, 0.5
        // (its bin points start 0, 2, 4), printed from python_speech_features 0.6.
        let tri = mel_triangles(&FeatureOptions::default());
        assert_eq!(tri.len(), 26);
        assert_eq!(tri[0].0, 1);
        assert_eq!(tri[0].1, vec![0.5, 1.0, 0.5]);
        // The last filter covers bins 210..=255, peak 1.0 at 231; the non-zero counts per filter:
        assert_eq!(tri[25].0, 210);
        assert_eq!(tri[25].1[21], 1.0);
        let counts: Vec<usize> = tri.iter().map(|(_, w)| w.len()).collect();
        let psf_counts = [
            3, 4, 5, 5, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 16, 18, 19, 21, 24, 26, 29, 32, 35, 39,
            42, 46,
        ];
        assert_eq!(counts, psf_counts);
        // Each triangle peaks at exactly 1 and weights stay in (0, 1].
        for (_, w) in &tri {
            assert!(w.iter().all(|&v| v > 0.0 && v <= 1.0));
            assert_eq!(w.iter().cloned().fold(0.0, f32::max), 1.0);
        }
    }

    #[test]
    fn vectorized_ln_matches_f64_ln() {
        // Across many decades, both mantissa branches, powers of two and the psf floor.
        let mut xs: Vec<f32> = (0..20_000).map(|i| 10f32.powf(-20.0 + i as f32 * 0.002)).collect();
        xs.extend([1.0, 2.0, 0.5, std::f32::consts::FRAC_1_SQRT_2, LOG_FLOOR, f32::MAX]);
        let mut got = xs.clone();
        ln_in_place(&mut got);
        for (&x, &g) in xs.iter().zip(&got) {
            let want = (x as f64).ln();
            assert!((g as f64 - want).abs() <= 2e-7 * want.abs().max(1.0), "ln {x}: {g} vs {want}");
        }
        // A slice with a value outside the fast path falls back to f32::ln for all of it.
        let mut odd = [1e-40f32, 0.0, 3.0, f32::INFINITY];
        ln_in_place(&mut odd);
        assert_eq!(odd, [1e-40f32.ln(), f32::NEG_INFINITY, 3f32.ln(), f32::INFINITY]);
    }

    #[test]
    fn dct_is_orthonormal() {
        let d = dct_matrix(26, 26);
        for i in 0..26 {
            for j in 0..26 {
                let dot: f64 = (0..26).map(|m| d[i * 26 + m] as f64 * d[j * 26 + m] as f64).sum();
                let want = if i == j { 1.0 } else { 0.0 };
                assert!((dot - want).abs() < 1e-6, "({i},{j}) = {dot}");
            }
        }
    }

    #[test]
    fn windows_match_their_formulas() {
        let h = window(Window::Hamming, 5, 1.0);
        let expect = [0.08, 0.54, 1.0, 0.54, 0.08];
        for (a, b) in h.iter().zip(expect) {
            assert!((a - b).abs() < 1e-6);
        }
        let p = window(Window::Povey, 5, 1.0);
        let hann: [f64; 5] = [0.0, 0.5, 1.0, 0.5, 0.0];
        for (a, b) in p.iter().zip(hann) {
            assert!((*a as f64 - b.powf(0.85)).abs() < 1e-6);
        }
    }

    #[test]
    fn packed_real_fft_power_matches_a_direct_dft() {
        // P[k] = |Σ_n y[n] e^{-2πikn/N}|² / N in f64, for a frame with no pre-emphasis.
        let opts = FeatureOptions { preemphasis: 0.0, input_scale: 1.0, ..Default::default() };
        let mut c = MfccComputer::new(&opts).unwrap();
        let frame: Vec<f32> =
            (0..400).map(|n| ((n * 37 % 101) as f32 / 50.0 - 1.0) * 0.3).collect();
        let mut out = vec![0.0; 13];
        c.compute_frame(&frame, 0.0, &mut out);
        for k in [0usize, 1, 7, 100, 128, 255, 256] {
            let (mut re, mut im) = (0.0f64, 0.0f64);
            for (n, &y) in frame.iter().enumerate() {
                let ang = -2.0 * std::f64::consts::PI * (k * n) as f64 / 512.0;
                re += y as f64 * ang.cos();
                im += y as f64 * ang.sin();
            }
            let want = (re * re + im * im) / 512.0;
            let got = c.power[k] as f64;
            assert!((got - want).abs() <= 1e-5 * (1.0 + want), "bin {k}: {got} vs {want}");
        }
    }

    #[test]
    fn simd_and_portable_builds_give_identical_bits() {
        let opts = FeatureOptions { window: Window::Hamming, ..Default::default() };
        let mut c = MfccComputer::new(&opts).unwrap();
        let x: Vec<f32> = (0..2000).map(|n| ((n as f32) * 0.37).sin() * 0.4).collect();
        let (mut a, mut b) = (vec![0.0; 13], vec![0.0; 13]);
        for t in 0..10 {
            let s = t * 160;
            c.compute_frame(&x[s..s + 400], x[s.max(1) - 1], &mut a);
            c.frame_body(&x[s..s + 400], x[s.max(1) - 1], &mut b);
            assert_eq!(
                a.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                b.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
            );
        }
    }

    #[test]
    fn silent_frame_uses_the_epsilon_floor() {
        let opts = FeatureOptions::default();
        let mut c = MfccComputer::new(&opts).unwrap();
        let mut out = vec![0.0; 13];
        c.compute_frame(&[0.0; 400], 0.0, &mut out);
        let ln_eps = (f64::EPSILON).ln() as f32;
        // All log mels equal ln(eps): only the DCT's c0 row is non-zero; c0 is then replaced
        // by ln(energy) = ln(eps).
        assert!((out[0] - ln_eps).abs() < 1e-4, "{}", out[0]);
        assert!(out[1..].iter().all(|v| v.abs() < 1e-3), "{out:?}");
    }

    #[test]
    fn a_pure_tone_peaks_in_the_filter_that_holds_it() {
        // 1 kHz tone: the mel energy of the triangle covering bin 1000*512/16000 = 32 dominates.
        let opts = FeatureOptions { append_energy: false, lifter: 0.0, ..Default::default() };
        let mut c = MfccComputer::new(&opts).unwrap();
        let frame: Vec<f32> = (0..400)
            .map(|n| 0.5 * (2.0 * std::f32::consts::PI * 1000.0 * n as f32 / 16000.0).sin())
            .collect();
        let mut out = vec![0.0; 13];
        c.compute_frame(&frame, 0.0, &mut out);
        let best =
            (0..26).max_by(|&a, &b| c.log_mel[a].partial_cmp(&c.log_mel[b]).unwrap()).unwrap();
        let (start, len) = (c.filter_start[best], mel_triangles(&opts)[best].1.len());
        assert!(
            (start..start + len).contains(&32),
            "filter {best} covers {start}..{}",
            start + len
        );
    }
}
