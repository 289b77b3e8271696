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
    /// (N/2,) the pre-emphasized, windowed, zero-padded frame `y` as `z[n] = y[2n] + i y[2n+1]`
    /// (written as N reals), transformed in place.
    packed: Vec<Complex<f32>>,
    fft_scratch: Vec<Complex<f32>>,
    /// (N/2,) `cos(2πk/N)` and `sin(2πk/N)` for the unpacking step.
    twiddle_cos: Vec<f32>,
    twiddle_sin: Vec<f32>,
    /// Whether this CPU runs the AVX2+FMA kernels (unpacking, mel filterbank); the portable
    /// code computes the same sums in another order, so the two agree to rounding (~1e-7).
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
    /// (F rounded up to 8,) mel energies, filled 8 filters at a time.
    mel: Vec<f32>,
    /// (F, C') the orthonormal DCT-II times the lifter gains, transposed, each row zero-padded
    /// to `C'` = C rounded up to 8, so the DCT is F whole-vector multiply-adds.
    dct_t: Vec<f32>,
    /// (C',) cepstra before they are copied out.
    ceps: Vec<f32>,
}

impl std::fmt::Debug for MfccComputer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MfccComputer")
            .field("frame_len", &self.frame_len)
            .field("fft_size", &(2 * self.packed.len()))
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

/// Range of vocal-tract-length warp factors [`MfccComputer::with_warp`] accepts.
pub const WARP_RANGE: std::ops::RangeInclusive<f64> = 0.8..=1.2;

/// The piecewise-linear frequency warp of VTLP (Jaitly & Hinton 2013, eq. 1): frequencies up to
/// a boundary are scaled by `alpha`, the rest map linearly so that `high_hz` stays fixed. The
/// boundary is `0.6 · high_hz · min(alpha, 1) / alpha` (4.8 kHz at 8 kHz and `alpha` = 1, as in the
/// paper), which keeps the map continuous, increasing and inside `[0, high_hz]`. `alpha` = 1 is
/// the identity.
pub fn vtlp_warp_hz(hz: f64, alpha: f64, high_hz: f64) -> f64 {
    if alpha == 1.0 {
        return hz;
    }
    let knee = 0.6 * high_hz * alpha.min(1.0);
    let boundary = knee / alpha;
    if hz <= boundary {
        hz * alpha
    } else {
        high_hz - (high_hz - knee) / (high_hz - boundary) * (high_hz - hz)
    }
}

/// psf's filterbank: `F + 2` points equally spaced in mel (numpy `linspace`), each mapped to the
/// FFT bin `floor((N + 1) · hz / sr)`; triangle `f` rises from bin `b[f]` to `b[f+1]` and falls to
/// `b[f+2]`, with weights `(i - b[f]) / (b[f+1] - b[f])` and `(b[f+2] - i) / (b[f+2] - b[f+1])`.
/// Returns for each filter its first bin and its weights (zero weights at the ends trimmed).
///
/// `warp` ≠ 1 moves every point through [`vtlp_warp_hz`] before it is mapped to a bin: below the
/// warp's boundary the features of `x` then look like the plain features of `x` with every
/// frequency divided by `warp` (a vocal tract `warp` times longer; tested against speed
/// perturbation by `1 / warp` in `tests/data_formats.rs`).
pub(crate) fn mel_triangles(opts: &FeatureOptions, warp: f64) -> Vec<(usize, Vec<f32>)> {
    let nf = opts.num_filters;
    let (lo, hi) = (hz_to_mel(opts.low_freq_hz), hz_to_mel(opts.high_freq_hz));
    let step = (hi - lo) / (nf + 1) as f64;
    let max_bin = opts.fft_size / 2;
    let bins: Vec<usize> = (0..nf + 2)
        .map(|i| {
            // numpy.linspace: start + i * step, with the endpoint set exactly.
            let mel = if i == nf + 1 { hi } else { lo + i as f64 * step };
            let hz = vtlp_warp_hz(mel_to_hz(mel), warp, opts.high_freq_hz);
            let b = ((opts.fft_size + 1) as f64 * hz / opts.sample_rate_hz as f64).floor();
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
fn dct_matrix(num_ceps: usize, num_filters: usize) -> Vec<f64> {
    let nf = num_filters as f64;
    let mut d = Vec::with_capacity(num_ceps * num_filters);
    for k in 0..num_ceps {
        let s = if k == 0 { (1.0 / nf).sqrt() } else { (2.0 / nf).sqrt() };
        for m in 0..num_filters {
            let arg = std::f64::consts::PI * k as f64 * (2 * m + 1) as f64 / (2.0 * nf);
            d.push(s * arg.cos());
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
        Self::with_warp(opts, 1.0)
    }

    /// [`MfccComputer::new`] with its mel filterbank warped by `warp` (see [`vtlp_warp_hz`]), for
    /// vocal-tract-length perturbation in training; `warp` must lie in [`WARP_RANGE`].
    pub fn with_warp(opts: &FeatureOptions, warp: f64) -> Result<Self> {
        opts.validate()?;
        if !WARP_RANGE.contains(&warp) {
            return Err(crate::Error::Options(format!(
                "frequency warp factor must be in [{}, {}], got {warp}",
                WARP_RANGE.start(),
                WARP_RANGE.end()
            )));
        }
        let frame_len = opts.frame_length();
        let n = opts.fft_size;
        let fft = FftPlanner::<f32>::new().plan_fft_forward(n / 2);
        let tau_k = |k: usize| 2.0 * std::f64::consts::PI * k as f64 / n as f64;
        let tri = mel_triangles(opts, warp);
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
        let lifter: Vec<f64> = (0..opts.num_ceps)
            .map(|k| {
                if opts.lifter > 0.0 {
                    let l = opts.lifter;
                    1.0 + l / 2.0 * (std::f64::consts::PI * k as f64 / l).sin()
                } else {
                    1.0
                }
            })
            .collect();
        let (nf, nc) = (opts.num_filters, opts.num_ceps);
        let cp = nc.next_multiple_of(8);
        let dct = dct_matrix(nc, nf);
        let mut dct_t = vec![0.0f32; nf * cp];
        for (k, gain) in lifter.iter().enumerate() {
            for m in 0..nf {
                dct_t[m * cp + k] = (dct[k * nf + m] * gain) as f32;
            }
        }
        Ok(MfccComputer {
            frame_len,
            num_ceps: opts.num_ceps,
            preemphasis: opts.preemphasis,
            append_energy: opts.append_energy,
            window: window(opts.window, frame_len, opts.input_scale),
            packed: vec![Complex::new(0.0, 0.0); n / 2],
            fft_scratch: vec![Complex::new(0.0, 0.0); fft.get_inplace_scratch_len()],
            twiddle_cos: (0..n / 2).map(|k| tau_k(k).cos() as f32).collect(),
            twiddle_sin: (0..n / 2).map(|k| tau_k(k).sin() as f32).collect(),
            fft,
            use_avx2: avx2_fma_available(),
            power: vec![0.0; power_len],
            filter_start,
            filter_offset,
            filter_weights,
            log_mel: vec![0.0; nf + 1],
            mel: vec![0.0; nf.next_multiple_of(8)],
            dct_t,
            ceps: vec![0.0; cp],
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
            // SAFETY: `use_avx2` is only set when the CPU reports AVX2 and FMA.
            unsafe { self.frame_avx2(frame, previous, out) };
            return;
        }
        self.frame_body(frame, previous, out, false);
    }

    /// The frame compiled for AVX2+FMA, with the hand-vectorized unpacking and filterbank.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    fn frame_avx2(&mut self, frame: &[f32], previous: f32, out: &mut [f32]) {
        self.frame_body(frame, previous, out, true);
    }

    #[inline(always)]
    fn frame_body(&mut self, frame: &[f32], previous: f32, out: &mut [f32], avx2: bool) {
        let a = self.preemphasis;
        let m = frame.len();
        {
            // The FFT input as N reals: y[2n] and y[2n+1] are Re and Im of z[n].
            let buf = complex_as_reals(&mut self.packed);
            if m > 0 {
                buf[0] = (frame[0] - a * previous) * self.window[0];
                // y[n] = x[n] - a·x[n-1], written without a loop-carried value so it vectorizes.
                for (((y, &x), &xp), &w) in buf[1..m]
                    .iter_mut()
                    .zip(&frame[1..])
                    .zip(&frame[..m - 1])
                    .zip(&self.window[1..m])
                {
                    *y = (x - a * xp) * w;
                }
            }
            buf[m..].fill(0.0);
        }

        // Real FFT of length N via one complex FFT of length M = N/2 on z[n] = y[2n] + i y[2n+1]:
        // with a = Z[k], b = Z[M-k] (Z[M] = Z[0]),
        //   Y[k] = ((a + b*) + W^k (a - b*)/i) / 2,   W = e^{-2πi/N},
        // and P[k] = |Y[k]|² / N. The halves are folded into 1/(4N).
        self.fft.process_with_scratch(&mut self.packed, &mut self.fft_scratch);
        let half = self.packed.len();
        let n = (2 * half) as f32;
        let z0 = self.packed[0];
        self.power[0] = (z0.re + z0.im) * (z0.re + z0.im) / n;
        self.power[half] = (z0.re - z0.im) * (z0.re - z0.im) / n;
        let inv_4n = 1.0 / (4.0 * n);
        let (mut k, mut energy) = (1, self.power[0] + self.power[half]);
        #[cfg(target_arch = "x86_64")]
        if avx2 {
            // SAFETY: only called from `frame_avx2` (AVX2 and FMA present).
            let (done, sum) = unsafe { self.unpack_avx2(inv_4n) };
            (k, energy) = (done, energy + sum);
        }
        let tail = k;
        for k in k..half {
            let (za, zb) = (self.packed[k], self.packed[half - k]);
            let (er, ei) = (za.re + zb.re, za.im - zb.im);
            let (or, oi) = (za.im + zb.im, zb.re - za.re);
            let (c, sn) = (self.twiddle_cos[k], self.twiddle_sin[k]);
            let yr = er + (c * or + sn * oi);
            let yi = ei + (c * oi - sn * or);
            self.power[k] = (yr * yr + yi * yi) * inv_4n;
        }
        energy += sum_f32(&self.power[tail..half]);

        // Mel energies, then the energy itself as one more entry, so all logs go in one pass.
        let nf = self.filter_start.len();
        #[cfg(target_arch = "x86_64")]
        if avx2 {
            // SAFETY: only called from `frame_avx2` (AVX2 and FMA present).
            unsafe { self.mel_avx2() };
        }
        if !avx2 {
            for (f, e) in self.mel[..nf].iter_mut().enumerate() {
                let (o0, o1) = (self.filter_offset[f], self.filter_offset[f + 1]);
                let start = self.filter_start[f];
                *e = dot_f32(&self.power[start..start + (o1 - o0)], &self.filter_weights[o0..o1]);
            }
        }
        for (lm, &e) in self.log_mel.iter_mut().zip(&self.mel[..nf]) {
            *lm = if e == 0.0 { LOG_FLOOR } else { e };
        }
        self.log_mel[nf] = if energy == 0.0 { LOG_FLOOR } else { energy };
        ln_in_place(&mut self.log_mel);

        // Liftered DCT: one multiply-add of a column per log mel energy.
        #[cfg(target_arch = "x86_64")]
        if avx2 {
            // SAFETY: only called from `frame_avx2` (AVX2 and FMA present).
            unsafe { self.dct_avx2() };
        }
        if !avx2 {
            let cp = self.ceps.len();
            for (b, block) in self.ceps.chunks_exact_mut(8).enumerate() {
                let mut acc = [0.0f32; 8];
                for (col, &x) in self.dct_t.chunks_exact(cp).zip(&self.log_mel[..nf]) {
                    for (c, &d) in acc.iter_mut().zip(&col[8 * b..8 * b + 8]) {
                        *c += d * x;
                    }
                }
                block.copy_from_slice(&acc);
            }
        }
        out.copy_from_slice(&self.ceps[..self.num_ceps]);
        if self.append_energy {
            out[0] = self.log_mel[nf];
        }
    }

    /// The unpacking step for bins `1 ..` in blocks of 8; returns the first bin it did not do and
    /// the sum of the powers it wrote.
    /// Each block reads Z[k .. k+8] and Z[M-k-7 ..= M-k], splits real and imaginary parts (the
    /// b side reversed), and computes the same formula as the scalar loop in
    /// [`frame_body`](Self::frame_body), with fused multiply-adds.
    ///
    /// # Safety
    /// AVX2 and FMA.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn unpack_avx2(&mut self, inv_4n: f32) -> (usize, f32) {
        use std::arch::x86_64::*;
        let half = self.packed.len();
        let z = self.packed.as_ptr().cast::<f32>();
        let mut k = 1;
        let mut total = [0.0f32; 8];
        // SAFETY: for k + 8 <= M, complex indices k .. k+8 and M-k-7 ..= M-k (≥ 1) are in
        // `packed`, and k .. k+8 in the twiddles and `power`.
        unsafe {
            let scale = _mm256_set1_ps(inv_4n);
            let mut sum = _mm256_setzero_ps();
            while k + 8 <= half {
                let a0 = _mm256_loadu_ps(z.add(2 * k));
                let a1 = _mm256_loadu_ps(z.add(2 * k + 8));
                let b0 = _mm256_loadu_ps(z.add(2 * (half - k - 7)));
                let b1 = _mm256_loadu_ps(z.add(2 * (half - k - 3)));
                // Lanes in bin order k + [0, 1, 4, 5, 2, 3, 6, 7].
                let ar = _mm256_shuffle_ps::<0x88>(a0, a1);
                let ai = _mm256_shuffle_ps::<0xDD>(a0, a1);
                // b: b_j = Z[M-k-j]; the shuffle gives [b3 b2 b7 b6 | b1 b0 b5 b4], the lane
                // swap and the pair swap put it in the same order as a.
                let rev = |v: __m256| {
                    let swapped = _mm256_permute2f128_ps::<0x01>(v, v);
                    _mm256_permute_ps::<0xB1>(swapped)
                };
                let br = rev(_mm256_shuffle_ps::<0x88>(b1, b0));
                let bi = rev(_mm256_shuffle_ps::<0xDD>(b1, b0));
                let order = |v: __m256| {
                    _mm256_castpd_ps(_mm256_permute4x64_pd::<0xD8>(_mm256_castps_pd(v)))
                };
                let c = order(_mm256_loadu_ps(self.twiddle_cos.as_ptr().add(k)));
                let sn = order(_mm256_loadu_ps(self.twiddle_sin.as_ptr().add(k)));
                let er = _mm256_add_ps(ar, br);
                let ei = _mm256_sub_ps(ai, bi);
                let or = _mm256_add_ps(ai, bi);
                let oi = _mm256_sub_ps(br, ar);
                let yr = _mm256_add_ps(er, _mm256_fmadd_ps(c, or, _mm256_mul_ps(sn, oi)));
                let yi = _mm256_add_ps(ei, _mm256_fmsub_ps(c, oi, _mm256_mul_ps(sn, or)));
                let p = _mm256_mul_ps(_mm256_fmadd_ps(yr, yr, _mm256_mul_ps(yi, yi)), scale);
                _mm256_storeu_ps(self.power.as_mut_ptr().add(k), order(p));
                sum = _mm256_add_ps(sum, p);
                k += 8;
            }
            _mm256_storeu_ps(total.as_mut_ptr(), sum);
        }
        (k, sum_f32(&total))
    }

    /// All mel energies, 8 filters at a time: each filter's padded triangle accumulates in its
    /// own register, and one transposing horizontal add turns the 8 registers into the 8 sums.
    ///
    /// # Safety
    /// AVX2 and FMA.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn mel_avx2(&mut self) {
        use std::arch::x86_64::*;
        let nf = self.filter_start.len();
        let (p, w) = (self.power.as_ptr(), self.filter_weights.as_ptr());
        // SAFETY: triangle f's weights are filter_offset[f] .. filter_offset[f+1] (a multiple of
        // 8), and `power` is long enough for every padded triangle from its start (see `new`);
        // `mel` holds F rounded up to 8.
        unsafe {
            for g in (0..nf).step_by(8) {
                let mut acc = [_mm256_setzero_ps(); 8];
                for (i, acc_i) in acc.iter_mut().enumerate().take(nf - g) {
                    let f = g + i;
                    let (o0, o1) = (self.filter_offset[f], self.filter_offset[f + 1]);
                    let start = self.filter_start[f];
                    let (mut pf, mut wf, we) = (p.add(start), w.add(o0), w.add(o1));
                    while wf < we {
                        *acc_i = _mm256_fmadd_ps(_mm256_loadu_ps(pf), _mm256_loadu_ps(wf), *acc_i);
                        pf = pf.add(8);
                        wf = wf.add(8);
                    }
                }
                let t0 = _mm256_hadd_ps(acc[0], acc[1]);
                let t1 = _mm256_hadd_ps(acc[2], acc[3]);
                let t2 = _mm256_hadd_ps(acc[4], acc[5]);
                let t3 = _mm256_hadd_ps(acc[6], acc[7]);
                let u0 = _mm256_hadd_ps(t0, t1);
                let u1 = _mm256_hadd_ps(t2, t3);
                let sums = _mm256_add_ps(
                    _mm256_permute2f128_ps::<0x20>(u0, u1),
                    _mm256_permute2f128_ps::<0x31>(u0, u1),
                );
                _mm256_storeu_ps(self.mel.as_mut_ptr().add(g), sums);
            }
        }
    }

    /// `ceps = Σ_m log_mel[m] · dct_t[m]`, 8 cepstra per register, even and odd `m` in two
    /// accumulators so the two multiply-add chains overlap.
    ///
    /// # Safety
    /// AVX2 and FMA.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn dct_avx2(&mut self) {
        use std::arch::x86_64::*;
        let (nf, cp) = (self.filter_start.len(), self.ceps.len());
        let (d, lm) = (self.dct_t.as_ptr(), self.log_mel.as_ptr());
        // SAFETY: dct_t holds F rows of C' values, log_mel F + 1 values, ceps C' (a multiple of 8).
        unsafe {
            for b in (0..cp).step_by(8) {
                let (mut even, mut odd) = (_mm256_setzero_ps(), _mm256_setzero_ps());
                let mut m = 0;
                while m + 2 <= nf {
                    let x0 = _mm256_set1_ps(*lm.add(m));
                    let x1 = _mm256_set1_ps(*lm.add(m + 1));
                    even = _mm256_fmadd_ps(_mm256_loadu_ps(d.add(m * cp + b)), x0, even);
                    odd = _mm256_fmadd_ps(_mm256_loadu_ps(d.add((m + 1) * cp + b)), x1, odd);
                    m += 2;
                }
                if m < nf {
                    let x0 = _mm256_set1_ps(*lm.add(m));
                    even = _mm256_fmadd_ps(_mm256_loadu_ps(d.add(m * cp + b)), x0, even);
                }
                _mm256_storeu_ps(self.ceps.as_mut_ptr().add(b), _mm256_add_ps(even, odd));
            }
        }
    }
}

/// The complex FFT buffer as its interleaved reals.
fn complex_as_reals(z: &mut [Complex<f32>]) -> &mut [f32] {
    // SAFETY: `Complex<f32>` is `#[repr(C)]` { re, im }: 2·len f32 values, same alignment.
    unsafe { std::slice::from_raw_parts_mut(z.as_mut_ptr().cast::<f32>(), 2 * z.len()) }
}

/// Whether the AVX2+FMA kernels may run (the one CPU probe, [`crate::cpu::Simd`]; tests lower it
/// to run the portable code).
fn avx2_fma_available() -> bool {
    crate::cpu::Simd::active() >= crate::cpu::Simd::Avx2Fma
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn psf_filterbank_bins() {
        // psf.get_filterbanks(26, 512, 16000)[0] is non-zero at bins 1, 2, 3 with 0.5, 1, 0.5
        // (its bin points start 0, 2, 4), printed from python_speech_features 0.6.
        let tri = mel_triangles(&FeatureOptions::default(), 1.0);
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
    fn vtlp_warp_is_continuous_increasing_and_keeps_the_ends() {
        for alpha in [0.8, 0.9, 0.95, 1.05, 1.1, 1.2] {
            let knee = 0.6 * 8000.0 * f64::min(alpha, 1.0);
            let boundary = knee / alpha;
            // Linear scaling below the boundary, both pieces meet there, the ends stay put.
            assert!((vtlp_warp_hz(1000.0, alpha, 8000.0) - 1000.0 * alpha).abs() < 1e-9);
            assert!((vtlp_warp_hz(boundary, alpha, 8000.0) - knee).abs() < 1e-9);
            assert!((vtlp_warp_hz(boundary + 1e-9, alpha, 8000.0) - knee).abs() < 1e-6);
            assert_eq!(vtlp_warp_hz(0.0, alpha, 8000.0), 0.0);
            assert!((vtlp_warp_hz(8000.0, alpha, 8000.0) - 8000.0).abs() < 1e-9);
            let mut last = -1.0;
            for i in 0..=800 {
                let w = vtlp_warp_hz(i as f64 * 10.0, alpha, 8000.0);
                assert!(w > last && w <= 8000.0 + 1e-9, "alpha {alpha} at {} Hz: {w}", i * 10);
                last = w;
            }
        }
        assert_eq!(vtlp_warp_hz(1234.5, 1.0, 8000.0), 1234.5);
        // Warp 1 is psf's filterbank exactly; a warp moves the filters and keeps them valid.
        let opts = FeatureOptions::default();
        assert_eq!(mel_triangles(&opts, 1.0), mel_triangles(&FeatureOptions::default(), 1.0));
        for warp in [0.8, 1.2] {
            let tri = mel_triangles(&opts, warp);
            assert_eq!(tri.len(), 26);
            assert!(tri.iter().all(|(_, w)| !w.is_empty() && w.iter().all(|&v| v > 0.0)));
            // Filter 10 (about 1.1 kHz, below the boundary) starts near its bin times the warp.
            let plain = mel_triangles(&opts, 1.0)[10].0 as f64;
            assert!((tri[10].0 as f64 - plain * warp).abs() <= 1.0, "{warp}: {}", tri[10].0);
        }
        assert!(MfccComputer::with_warp(&opts, 1.3).is_err());
        assert!(MfccComputer::with_warp(&opts, f64::NAN).is_err());
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
                let dot: f64 = (0..26).map(|m| d[i * 26 + m] * d[j * 26 + m]).sum();
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
    fn simd_and_portable_paths_agree_to_rounding() {
        // The AVX2+FMA unpacking and filterbank sum in another order than the portable code;
        // both must give the same spectrum, mel energies and cepstra up to f32 rounding.
        let opts = FeatureOptions { window: Window::Hamming, ..Default::default() };
        let mut c = MfccComputer::new(&opts).unwrap();
        assert_eq!(c.use_avx2, crate::cpu::Simd::host() >= crate::cpu::Simd::Avx2Fma);
        // A computer made with the kernels limited to portable code takes the portable path.
        let forced =
            crate::cpu::with_simd(crate::cpu::Simd::Portable, || MfccComputer::new(&opts).unwrap())
                .unwrap();
        assert!(!forced.use_avx2);
        let x: Vec<f32> = (0..2000).map(|n| ((n as f32) * 0.37).sin() * 0.4).collect();
        let (mut a, mut b) = (vec![0.0; 13], vec![0.0; 13]);
        for t in 0..10 {
            let s = t * 160;
            c.compute_frame(&x[s..s + 400], x[s.max(1) - 1], &mut a);
            let (pa, ma) = (c.power.clone(), c.mel.clone());
            c.frame_body(&x[s..s + 400], x[s.max(1) - 1], &mut b, false);
            // `floor`: small bins far from the tone come out of a cancellation, so their rounding
            // is relative to the largest bin.
            let close = |u: &[f32], v: &[f32], floor: f32, what: &str| {
                for (i, (&p, &q)) in u.iter().zip(v).enumerate() {
                    let tol = 2e-5 * p.abs().max(q.abs()).max(floor);
                    assert!((p - q).abs() <= tol, "frame {t} {what}[{i}]: {p} vs {q}");
                }
            };
            let peak = pa.iter().fold(0.0f32, |m, &v| m.max(v));
            close(&pa, &c.power, 0.1 * peak, "power");
            close(&ma, &c.mel, 1e-3, "mel");
            close(&a, &b, 1e-3, "cepstra");
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
        let (start, len) = (c.filter_start[best], mel_triangles(&opts, 1.0)[best].1.len());
        assert!(
            (start..start + len).contains(&32),
            "filter {best} covers {start}..{}",
            start + len
        );
    }
}
