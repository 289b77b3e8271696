//! The matrix-product entry points of the numeric code, so the backends are chosen in one place.
//!
//! - [`gemm`]: `C ← β·C + α·A·B` on 2-D views with arbitrary strides (a transposed operand is just
//!   `.t()`), through ndarray's `general_mat_mul`, i.e. the `matrixmultiply` crate (run-time
//!   dispatch to AVX-512 / AVX2+FMA kernels). Small and odd-shaped products, f64, and every
//!   product on CPUs without AVX-512.
//! - [`gemm_acc`]: `C += A·B` for the LSTM's large products (input projection, dx, weight
//!   gradients over all T·B frames). With f32 on an AVX-512 CPU, B is packed into 16-column
//!   panels and multiplied by Hark's own register-blocked kernel, which measured 10–20 % faster
//!   than matrixmultiply at these sizes (see `benches/RESULTS.md`); otherwise [`gemm`].
//! - [`gemm_packed`]: the per-step recurrent product `h·W_hhᵀ` with W packed once per sequence
//!   (per model for recognition, in half precision where a kernel for it runs:
//!   [`Packed::into_half`]); [`gemm_acc_packed`]: [`gemm_acc`] with `B` packed beforehand.

use ndarray::{ArrayView2, ArrayViewMut2, linalg::general_mat_mul};

use super::Float;
use crate::cpu::Simd;

/// `c ← beta·c + alpha·a·b`. Shapes: a (M, K), b (K, N), c (M, N).
#[inline]
pub fn gemm<F: Float>(
    alpha: F,
    a: ArrayView2<F>,
    b: ArrayView2<F>,
    beta: F,
    c: &mut ArrayViewMut2<F>,
) {
    debug_assert_eq!(a.ncols(), b.nrows());
    debug_assert_eq!((a.nrows(), b.ncols()), c.dim());
    general_mat_mul(alpha, &a, &b, beta, c);
}

/// `out += a · w` for a few rows: a (M, K), w (K, N), out (M, N), all row-major contiguous.
/// This is the per-time-step recurrent product of the LSTM (M = batch, often 1–16), where a
/// packing GEMM spends more time copying `w` than multiplying. The kernel keeps an R × C block of
/// `out` in registers and streams rows of `w` (which stay in L2 across the steps of a sequence);
/// it is compiled for AVX-512, for AVX2+FMA and for the baseline, chosen at run time.
pub fn gemm_rows<F: Float>(a: &[F], w: &[F], out: &mut [F], m: usize, k: usize, n: usize) {
    assert!(a.len() >= m * k && w.len() >= k * n && out.len() >= m * n, "gemm_rows: slice sizes");
    #[cfg(target_arch = "x86_64")]
    match Simd::active() {
        // SAFETY: the CPU supports AVX-512F, AVX2 and FMA (`Simd` never exceeds the host).
        Simd::Avx512 => return unsafe { gemm_rows_avx512(a, w, out, m, k, n) },
        // SAFETY: the CPU supports AVX2 and FMA.
        Simd::Avx2Fma => return unsafe { gemm_rows_avx2(a, w, out, m, k, n) },
        Simd::Portable => {}
    }
    rows_driver::<F, 4, 8, 16, 32>(a, w, out, m, k, n, |x, y, acc| acc + x * y);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
unsafe fn gemm_rows_avx512<F: Float>(
    a: &[F],
    w: &[F],
    out: &mut [F],
    m: usize,
    k: usize,
    n: usize,
) {
    // f32: 8 rows × 32 columns = 16 zmm accumulators; a single row uses 8 independent chains.
    rows_driver::<F, 8, 32, 64, 128>(a, w, out, m, k, n, |x, y, acc| x.mul_add(y, acc));
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn gemm_rows_avx2<F: Float>(a: &[F], w: &[F], out: &mut [F], m: usize, k: usize, n: usize) {
    rows_driver::<F, 4, 16, 32, 64>(a, w, out, m, k, n, |x, y, acc| x.mul_add(y, acc));
}

/// Blocks of R rows × C columns; leftover rows in blocks of three, then two (C2-wide), then one
/// (C1-wide), so a few rows (the warp ensemble's batch of 3) still read each row of `w` once for
/// all of them; leftover columns with a plain loop. Every output value is the same chain of
/// multiply-adds over k in order whatever block computes it, so the blocking never changes a
/// result.
#[inline(always)]
fn rows_driver<F: Float, const R: usize, const C: usize, const C2: usize, const C1: usize>(
    a: &[F],
    w: &[F],
    out: &mut [F],
    m: usize,
    k: usize,
    n: usize,
    fma: impl Fn(F, F, F) -> F + Copy,
) {
    let mut r0 = 0;
    while r0 + R <= m {
        block_rows::<F, R, C>(&a[r0 * k..], w, &mut out[r0 * n..], k, n, fma);
        r0 += R;
    }
    while r0 < m {
        let (a, out) = (&a[r0 * k..], &mut out[r0 * n..]);
        r0 += match m - r0 {
            1 => {
                block_rows::<F, 1, C1>(a, w, out, k, n, fma);
                1
            }
            2 => {
                block_rows::<F, 2, C2>(a, w, out, k, n, fma);
                2
            }
            _ => {
                block_rows::<F, 3, C2>(a, w, out, k, n, fma);
                3
            }
        };
    }
}

#[inline(always)]
fn block_rows<F: Float, const R: usize, const C: usize>(
    a: &[F],
    w: &[F],
    out: &mut [F],
    k: usize,
    n: usize,
    fma: impl Fn(F, F, F) -> F + Copy,
) {
    let a_rows: [&[F]; R] = std::array::from_fn(|r| &a[r * k..(r + 1) * k]);
    let mut c0 = 0;
    while c0 + C <= n {
        let mut acc = [[F::zero(); C]; R];
        for (r, acc_r) in acc.iter_mut().enumerate() {
            acc_r.copy_from_slice(&out[r * n + c0..r * n + c0 + C]);
        }
        for kk in 0..k {
            let w_row: &[F; C] = w[kk * n + c0..kk * n + c0 + C].try_into().expect("C columns");
            for (acc_r, a_r) in acc.iter_mut().zip(&a_rows) {
                let x = a_r[kk];
                for (s, &y) in acc_r.iter_mut().zip(w_row) {
                    *s = fma(x, y, *s);
                }
            }
        }
        for (r, acc_r) in acc.iter().enumerate() {
            out[r * n + c0..r * n + c0 + C].copy_from_slice(acc_r);
        }
        c0 += C;
    }
    if c0 < n {
        for (r, a_r) in a_rows.iter().enumerate() {
            let o = &mut out[r * n + c0..(r + 1) * n];
            for (kk, &x) in a_r.iter().enumerate() {
                let w_row = &w[kk * n + c0..(kk + 1) * n];
                for (s, &y) in o.iter_mut().zip(w_row) {
                    *s = fma(x, y, *s);
                }
            }
        }
    }
}

/// Columns per panel of a [`Packed`] matrix: one AVX-512 register of f32.
pub const PANEL: usize = 16;

/// Depth of one block when A is transposed (the weight gradients, K = T·B): 8 packed rows × 256
/// depths (8 KiB) stay in L1 while the panels of W stream past. A row-major A is not blocked (its
/// depth is the layer width); blocking it measured slower (benches/RESULTS.md, sitting 5).
const K_BLOCK: usize = 256;
/// Rows of a transposed A copied per block: the pack holds 128 rows × up to 1.5 `K_BLOCK` depths.
const M_BLOCK: usize = 128;

/// A (K, N) right-hand operand prepared once for many [`gemm_packed`] calls (the LSTM's W_hhᵀ
/// for the T steps of a sequence) or for one large product ([`gemm_acc`]). With f32 on an
/// AVX-512 CPU it is repacked into column panels: panel `p` holds columns `16p .. 16p + 16` as K
/// contiguous rows of 16 values (the last panel zero-padded), so the kernel reads each panel as one
/// sequential stream instead of one 64-byte piece every `N` values (with `N·4` bytes a multiple of
/// 4 KiB, all such pieces fall into the same L1 set). Otherwise (f64, other CPUs) it is a
/// row-major copy for [`gemm_rows`].
#[derive(Clone, Debug)]
pub struct Packed<F> {
    /// (N/16 panels, K, 16) or (K, N); empty when `half` holds the panels
    data: Vec<F>,
    /// The same values in IEEE half precision (binary16 bits), after [`Packed::into_half`]: the
    /// panels on AVX-512, the (K, N) layout on AVX2
    half: Vec<u16>,
    k: usize,
    n: usize,
    panels: bool,
}

impl<F: Float> Packed<F> {
    /// Packs `w` (K, N), any strides (a transposed view is fine).
    pub fn new(w: ArrayView2<F>) -> Self {
        let (k, n) = w.dim();
        if !panel_kernel::<F>() {
            let data = w.as_standard_layout().iter().copied().collect();
            return Packed { data, half: Vec::new(), k, n, panels: false };
        }
        let panels = n.div_ceil(PANEL);
        let mut data = vec![F::zero(); panels * k * PANEL];
        if k == 0 || n == 0 {
            return Packed { data, half: Vec::new(), k, n, panels: true };
        }
        if let Some(src) = w.to_slice() {
            // Row-major: each row of w is cut into its 16-column pieces.
            for (kk, row) in src.chunks_exact(n).enumerate() {
                for (p, piece) in row.chunks(PANEL).enumerate() {
                    let at = p * k * PANEL + kk * PANEL;
                    data[at..at + piece.len()].copy_from_slice(piece);
                }
            }
        } else if let Some(src) = w.t().to_slice() {
            // A transposed row-major matrix: column c of w is contiguous.
            for (c, col) in src.chunks_exact(k).enumerate() {
                let base = (c / PANEL) * k * PANEL + c % PANEL;
                for (kk, &v) in col.iter().enumerate() {
                    data[base + kk * PANEL] = v;
                }
            }
        } else {
            for (p, panel) in data.chunks_exact_mut(k * PANEL).enumerate() {
                let c0 = p * PANEL;
                let width = PANEL.min(n - c0);
                for (kk, dst) in panel.chunks_exact_mut(PANEL).enumerate() {
                    for (j, d) in dst[..width].iter_mut().enumerate() {
                        *d = w[(kk, c0 + j)];
                    }
                }
            }
        }
        Packed { data, half: Vec::new(), k, n, panels: true }
    }

    /// The panels rounded to IEEE half precision (nearest, ties to even), for a product that
    /// reads the whole of W for a few rows, as the recurrent step of inference does: there the
    /// time goes into streaming W through the caches (an f32 `W_hhᵀ` of 384 units, 2.4 MB, does
    /// not fit a 2 MB L2), so half the bytes run it about twice as fast; `vcvtph2ps` widens each
    /// value back to f32 exactly and the sums stay f32. Each weight moves by at most 2⁻¹¹ of
    /// itself (values below 6·10⁻⁵ by less than 3·10⁻⁸; beyond ±65504 a value would become
    /// infinite, far outside what an LSTM's weights reach). Only where the f32 panel kernel runs
    /// (f32 on AVX-512) or the AVX2 one (with F16C, which every AVX2 CPU but a very few early
    /// ones has); elsewhere `self` unchanged.
    pub fn into_half(mut self) -> Self {
        let is_f32 = std::any::TypeId::of::<F>() == std::any::TypeId::of::<f32>();
        if is_f32 && (self.panels || half_rows_kernel()) {
            self.half =
                self.data.iter().map(|v| half::f16::from_f64(v.to_f64_lossy()).to_bits()).collect();
            self.data = Vec::new();
        }
        self
    }

    /// Whether the panels are held in half precision ([`Packed::into_half`]).
    pub fn is_half(&self) -> bool {
        !self.half.is_empty()
    }

    /// (K, N)
    pub fn dim(&self) -> (usize, usize) {
        (self.k, self.n)
    }

    /// `w` (K, N) packed the way [`gemm_acc`] would pack it for its own kernel, or None where
    /// [`gemm_acc`] would not use one (not f32, or no AVX-512): a constant `B` packed once for
    /// [`gemm_acc_packed`] instead of on every call.
    pub fn for_gemm_acc(w: ArrayView2<F>) -> Option<Self> {
        panel_kernel::<F>().then(|| Packed::new(w))
    }
}

/// Whether [`Packed::into_half`] has the AVX2 kernel for the (K, N) layout: AVX2 with FMA and
/// F16C at the current level (below AVX-512, where the panels are used).
fn half_rows_kernel() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        Simd::active() == Simd::Avx2Fma && is_x86_feature_detected!("f16c")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// `out += A · W` with W (K, N) row-major in half precision ([`Packed::into_half`] below
/// AVX-512), A (M, K) row-major: rows three at a time (then two or one), 32 columns at once
/// (then 8, then one by one), each output the same in-order chain of multiply-adds over K.
///
/// # Safety
/// AVX2, FMA and F16C; `a` holds M rows of K values, `w` K rows of N, `out` M rows of N.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn rows_half_avx2(
    a: *const f32,
    w: *const u16,
    out: *mut f32,
    m: usize,
    k: usize,
    n: usize,
) {
    let mut r = 0;
    while r < m {
        // SAFETY: rows r .. r + R ≤ m of a and out, as the caller vouches for.
        unsafe {
            let (a, out) = (a.add(r * k), out.add(r * n));
            r += match m - r {
                1 => {
                    block_half_avx2::<1>(a, w, out, k, n);
                    1
                }
                2 => {
                    block_half_avx2::<2>(a, w, out, k, n);
                    2
                }
                _ => {
                    block_half_avx2::<3>(a, w, out, k, n);
                    3
                }
            };
        }
    }
}

/// R rows of [`rows_half_avx2`].
///
/// # Safety
/// As [`rows_half_avx2`], for R rows.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
unsafe fn block_half_avx2<const R: usize>(
    a: *const f32,
    w: *const u16,
    out: *mut f32,
    k: usize,
    n: usize,
) {
    let mut c0 = 0;
    // SAFETY: columns c0 .. c0 + 8Q ≤ n of R rows.
    unsafe {
        while c0 + 32 <= n {
            cols_half_avx2::<R, 4>(a, w, out, k, n, c0);
            c0 += 32;
        }
        while c0 + 8 <= n {
            cols_half_avx2::<R, 1>(a, w, out, k, n, c0);
            c0 += 8;
        }
        for c in c0..n {
            for r in 0..R {
                let mut acc = *out.add(r * n + c);
                for kk in 0..k {
                    let wv = half::f16::from_bits(*w.add(kk * n + c)).to_f32();
                    acc = (*a.add(r * k + kk)).mul_add(wv, acc);
                }
                *out.add(r * n + c) = acc;
            }
        }
    }
}

/// R rows × 8Q columns from column `c0` of [`rows_half_avx2`].
///
/// # Safety
/// As [`rows_half_avx2`], with c0 + 8Q ≤ n.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
unsafe fn cols_half_avx2<const R: usize, const Q: usize>(
    a: *const f32,
    w: *const u16,
    out: *mut f32,
    k: usize,
    n: usize,
    c0: usize,
) {
    use std::arch::x86_64::*;
    // SAFETY: bounds as documented.
    unsafe {
        let mut acc = [[_mm256_setzero_ps(); Q]; R];
        for (r, acc_r) in acc.iter_mut().enumerate() {
            for (q, acc_q) in acc_r.iter_mut().enumerate() {
                *acc_q = _mm256_loadu_ps(out.add(r * n + c0 + 8 * q));
            }
        }
        for kk in 0..k {
            let row = w.add(kk * n + c0);
            let wv: [__m256; Q] =
                std::array::from_fn(|q| _mm256_cvtph_ps(_mm_loadu_si128(row.add(8 * q).cast())));
            for (r, acc_r) in acc.iter_mut().enumerate() {
                let x = _mm256_set1_ps(*a.add(r * k + kk));
                for (acc_q, &wq) in acc_r.iter_mut().zip(&wv) {
                    *acc_q = _mm256_fmadd_ps(x, wq, *acc_q);
                }
            }
        }
        for (r, acc_r) in acc.iter().enumerate() {
            for (q, &acc_q) in acc_r.iter().enumerate() {
                _mm256_storeu_ps(out.add(r * n + c0 + 8 * q), acc_q);
            }
        }
    }
}

/// Whether [`Packed`] uses the AVX-512 panel kernel for `F`.
fn panel_kernel<F: Float>() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::any::TypeId::of::<F>() == std::any::TypeId::of::<f32>()
            && Simd::active() == Simd::Avx512
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// `out += a · w` with `w` prepared by [`Packed::new`] (and perhaps [`Packed::into_half`]): a (M, K), out (M, N), row-major
/// contiguous. Used for the per-step recurrent products of the LSTM (M = batch).
pub fn gemm_packed<F: Float>(a: &[F], w: &Packed<F>, out: &mut [F], m: usize) {
    let (k, n) = w.dim();
    assert!(a.len() >= m * k && out.len() >= m * n, "gemm_packed: slice sizes");
    #[cfg(target_arch = "x86_64")]
    if w.is_half() {
        let (ap, wp, op) = (a.as_ptr().cast(), w.half.as_ptr(), out.as_mut_ptr().cast());
        // SAFETY: `half` is only filled for F = f32, with `panels` on AVX-512F (N/16 panels of
        // K · 16 values), else in the (K, N) layout on a CPU with AVX2, FMA and F16C; a holds M
        // rows of K, out M rows of N (checked above).
        unsafe {
            if w.panels {
                panels_half_avx512(ap, wp, op, m, k, n);
            } else {
                rows_half_avx2(ap, wp, op, m, k, n);
            }
        }
        return;
    }
    #[cfg(target_arch = "x86_64")]
    if w.panels {
        // SAFETY: `panels` is only set for F = f32 on a CPU with AVX-512F; a holds M rows of K,
        // out M rows of N (checked above), the panel data N/16 · K · 16 values.
        unsafe {
            let (a, out, data) =
                (a.as_ptr().cast(), out.as_mut_ptr().cast(), w.data.as_ptr().cast());
            panels_avx512::<false>(a, k, data, out, m, k, n);
        }
        return;
    }
    gemm_rows(a, &w.data, out, m, k, n);
}

/// `c += a · b` for the large products of a layer (all T·B frames at once). On a CPU with the
/// AVX-512 panel kernel (f32), `b` is packed into panels and multiplied by Hark's kernel, which
/// measured faster than matrixmultiply at these sizes (benches/RESULTS.md); `a` may be row-major
/// or a transposed row-major matrix (as `daᵀ` in the weight gradients), `c` must be row-major.
/// Anything else goes through [`gemm`].
pub fn gemm_acc<F: Float>(a: ArrayView2<F>, b: ArrayView2<F>, c: &mut ArrayViewMut2<F>) {
    let ((m, k), n) = (a.dim(), b.ncols());
    debug_assert_eq!(k, b.nrows());
    debug_assert_eq!((m, n), c.dim());
    if m == 0 || n == 0 || k == 0 {
        return;
    }
    #[cfg(target_arch = "x86_64")]
    if panel_kernel::<F>()
        && let Some(out) = c.as_slice_mut()
    {
        let layout = match (a.to_slice(), a.t().to_slice()) {
            (Some(s), _) => Some((s, false)),
            (None, Some(s)) => Some((s, true)),
            _ => None,
        };
        if let Some((a_sl, trans)) = layout {
            let w = Packed::new(b);
            debug_assert!(w.panels && a_sl.len() == m * k && out.len() == m * n);
            // SAFETY: F = f32 and AVX-512F (panel_kernel); a holds M·K values (row-major with
            // leading dimension K, or transposed with leading dimension M), out M·N, the panels
            // N/16 · K · 16.
            unsafe {
                let (ap, op, wp) =
                    (a_sl.as_ptr().cast(), out.as_mut_ptr().cast(), w.data.as_ptr().cast());
                if trans {
                    panels_avx512::<true>(ap, m, wp, op, m, k, n);
                } else {
                    panels_avx512::<false>(ap, k, wp, op, m, k, n);
                }
            }
            return;
        }
    }
    gemm(F::one(), a, b, F::one(), c);
}

/// [`gemm_acc`] with `b` already packed by [`Packed::for_gemm_acc`] (`packed` = None, a packing
/// of another shape, a non-row-major `a` or `c`: [`gemm_acc`] itself). The same kernel on the
/// same panels, so the same result to the last bit.
pub fn gemm_acc_packed<F: Float>(
    a: ArrayView2<F>,
    b: ArrayView2<F>,
    packed: Option<&Packed<F>>,
    c: &mut ArrayViewMut2<F>,
) {
    let ((m, k), n) = (a.dim(), b.ncols());
    #[cfg(target_arch = "x86_64")]
    if let Some(w) = packed
        && w.panels
        && !w.is_half()
        && w.dim() == (k, n)
        && (m, n) == c.dim()
        && m > 0
        && let (Some(a_sl), Some(out)) = (a.to_slice(), c.as_slice_mut())
    {
        assert!(a_sl.len() == m * k && out.len() == m * n, "gemm_acc_packed: slice sizes");
        if k == 0 || n == 0 {
            return;
        }
        // SAFETY: `panels` is only set for F = f32 on a CPU with AVX-512F; a holds M rows of K
        // (row-major), out M rows of N (checked above), the panel data N/16 · K · 16 values.
        unsafe {
            let (ap, op, wp) =
                (a_sl.as_ptr().cast(), out.as_mut_ptr().cast(), w.data.as_ptr().cast());
            panels_avx512::<false>(ap, k, wp, op, m, k, n);
        }
        return;
    }
    let _ = (m, k, n, packed);
    gemm_acc(a, b, c);
}

/// `out += A · W`, one group of 8 rows of A at a time against every panel of W: 8 rows × 2 panels
/// (16 zmm accumulators), leftover rows up to three at a time × 4 panels, leftover panels singly; the
/// partial last panel through a lane mask. Element (r, kk) of A is `a[r·lda + kk]`, or
/// `a[kk·lda + r]` when `TRANS`. A row-major A runs over all of K at once. A transposed A is
/// taken in blocks of [`K_BLOCK`] depths × [`M_BLOCK`] rows, each block first copied into groups
/// of 8 rows × depth (8 values per depth contiguous): read in place, its rows `lda · 4` bytes
/// apart would all fall into one L1 set.
///
/// # Safety
/// AVX-512F; `a` holds A as described, `w` the N/16 panels of K × 16 values each, `out` M rows
/// of N values.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn panels_avx512<const TRANS: bool>(
    a: *const f32,
    lda: usize,
    w: *const f32,
    out: *mut f32,
    m: usize,
    k: usize,
    n: usize,
) {
    let panels = n.div_ceil(PANEL);
    let pstride = k * PANEL;
    let mut pack = if TRANS { vec![0.0f32; M_BLOCK * (K_BLOCK + K_BLOCK / 2)] } else { Vec::new() };
    let mut k0 = 0;
    while k0 < k {
        // A short last block is merged into the one before it.
        let kc = if !TRANS || k - k0 < K_BLOCK + K_BLOCK / 2 { k - k0 } else { K_BLOCK };
        let mut m0 = 0;
        while m0 < m {
            let mc = if TRANS { M_BLOCK } else { 8 }.min(m - m0);
            let groups = mc / 8;
            // SAFETY (all pointer arithmetic and calls): rows < m, panels < N/16 and depths < k
            // are inside the matrices; the pack holds groups · kc · 8 ≤ M_BLOCK · 1.5 K_BLOCK.
            unsafe {
                if TRANS {
                    for g in 0..groups {
                        for kk in 0..kc {
                            let src = a.add((k0 + kk) * lda + m0 + 8 * g);
                            let dst = pack.as_mut_ptr().add((g * kc + kk) * 8);
                            std::ptr::copy_nonoverlapping(src, dst, 8);
                        }
                    }
                }
                // Row group g of this block: A pointer and its leading dimension (a packed group
                // is read with the transposed addressing, 8 values per depth).
                let group_a = |g: usize| -> (*const f32, usize) {
                    if TRANS {
                        (pack.as_ptr().add(g * kc * 8), 8)
                    } else {
                        (a.add((m0 + 8 * g) * lda + k0), lda)
                    }
                };
                let tile = |a: *const f32, lda: usize, r: usize, p: usize| Tile {
                    a,
                    lda,
                    w: w.add(p * pstride + k0 * PANEL),
                    pstride,
                    o: out.add(r * n + p * PANEL),
                    n,
                    cols: n - p * PANEL,
                    kc,
                };
                for g in 0..groups {
                    let (ag, ld) = group_a(g);
                    sweep_panels::<TRANS, 8, 2, _>(panels, |p| tile(ag, ld, m0 + 8 * g, p));
                }
                // Leftover rows three, then two, then one at a time, 4 panels at once (M = 1 in
                // inference, 3 for the warp ensemble's batch): a few rows together read each
                // panel of W once for all of them.
                let mut r = m0 + 8 * groups;
                while r < m0 + mc {
                    let ar = if TRANS { a.add(k0 * lda + r) } else { a.add(r * lda + k0) };
                    let r_now = r;
                    let t = move |p| tile(ar, lda, r_now, p);
                    r += sweep_few_rows::<TRANS, _>(m0 + mc - r, 3, panels, t);
                }
            }
            m0 += mc;
        }
        k0 += kc;
    }
}

/// `out += A · W` with W in half-precision panels ([`Packed::into_half`]), A (M, K) row-major:
/// four rows at a time (then three, two or one) against 4 panels, which covers the recurrent
/// step's M = batch.
///
/// # Safety
/// AVX-512F; `a` holds M rows of K values, `w` the N/16 panels of K × 16 values each, `out` M
/// rows of N values.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn panels_half_avx512(
    a: *const f32,
    w: *const u16,
    out: *mut f32,
    m: usize,
    k: usize,
    n: usize,
) {
    let panels = n.div_ceil(PANEL);
    let pstride = k * PANEL;
    let mut r = 0;
    while r < m {
        let r0 = r;
        // SAFETY: rows < m, panels < N/16 and depths < k are inside the matrices.
        let tile = |p: usize| unsafe {
            Tile {
                a: a.add(r0 * k),
                lda: k,
                w: w.add(p * pstride),
                pstride,
                o: out.add(r0 * n + p * PANEL),
                n,
                cols: n - p * PANEL,
                kc: k,
            }
        };
        // SAFETY: every tile of these rows and panels is inside the matrices (above).
        unsafe {
            r += sweep_few_rows::<false, u16>(m - r, 4, panels, tile);
        }
    }
}

/// The next few rows against every panel, 4 panels per block: `min(rows_left, r_max)` rows
/// (`r_max` at most 4; the f32 kernel takes 3, the half one 4), the count returned.
/// `tile(p)` gives the operands of those rows starting at panel `p`.
///
/// # Safety
/// As [`sweep_panels`], for the rows taken.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn sweep_few_rows<const TRANS: bool, E: PanelElem>(
    rows_left: usize,
    r_max: usize,
    panels: usize,
    tile: impl Fn(usize) -> Tile<E>,
) -> usize {
    let rows = rows_left.min(r_max);
    // SAFETY: as the caller promises for these rows.
    unsafe {
        match rows {
            1 => sweep_panels::<TRANS, 1, 4, E>(panels, tile),
            2 => sweep_panels::<TRANS, 2, 4, E>(panels, tile),
            3 => sweep_panels::<TRANS, 3, 4, E>(panels, tile),
            4 => sweep_panels::<TRANS, 4, 4, E>(panels, tile),
            // No rows left or r_max outside 1..=4: a caller's bug, never a read out of bounds.
            _ => unreachable!("sweep_few_rows: {rows_left} rows left, r_max {r_max}"),
        }
    }
    rows
}

/// A stored weight type of the panel kernel: 16 consecutive values loaded as 16 f32 lanes.
#[cfg(target_arch = "x86_64")]
trait PanelElem: Copy {
    /// # Safety
    /// AVX-512F; 16 values readable at `p`.
    unsafe fn load16(p: *const Self) -> std::arch::x86_64::__m512;
}

#[cfg(target_arch = "x86_64")]
impl PanelElem for f32 {
    #[inline(always)]
    unsafe fn load16(p: *const f32) -> std::arch::x86_64::__m512 {
        // SAFETY: as the trait says.
        unsafe { std::arch::x86_64::_mm512_loadu_ps(p) }
    }
}

/// IEEE binary16 bits (`half::f16`), widened exactly to f32 by `vcvtph2ps`.
#[cfg(target_arch = "x86_64")]
impl PanelElem for u16 {
    #[inline(always)]
    unsafe fn load16(p: *const u16) -> std::arch::x86_64::__m512 {
        use std::arch::x86_64::*;
        // SAFETY: as the trait says (32 bytes).
        unsafe { _mm512_cvtph_ps(_mm256_loadu_si256(p.cast())) }
    }
}

/// The operands of one [`panel_block`] call: A at its first row and depth (leading dimension
/// `lda`), the first of its panels of W (`pstride` values apart, already at the first depth), the
/// first output value `o` (rows `n` values apart, `cols` columns from `o` to the end of the row),
/// and the depth `kc`.
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy)]
struct Tile<E = f32> {
    a: *const f32,
    lda: usize,
    w: *const E,
    pstride: usize,
    o: *mut f32,
    n: usize,
    cols: usize,
    kc: usize,
}

/// Every panel for one set of R rows: NP panels per [`panel_block`] while that many are left,
/// then the rest one at a time. `tile(p)` gives the operands starting at panel `p`.
///
/// # Safety
/// As [`panel_block`], for every tile `tile` gives for panels `0..panels`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn sweep_panels<const TRANS: bool, const R: usize, const NP: usize, E: PanelElem>(
    panels: usize,
    tile: impl Fn(usize) -> Tile<E>,
) {
    let mut p = 0;
    while p < panels {
        // SAFETY: the caller vouches for every tile of panels 0..panels.
        unsafe {
            if p + NP <= panels {
                panel_block::<TRANS, R, NP, E>(tile(p));
                p += NP;
            } else {
                panel_block::<TRANS, R, 1, E>(tile(p));
                p += 1;
            }
        }
    }
}

/// R rows × NP panels of the output, accumulated over the tile's depths. Element (r, kk) of A is
/// `a[r·lda + kk]`, or `a[kk·lda + r]` when `TRANS`. A panel that reaches past the end of the row
/// is loaded and stored through a lane mask.
///
/// # Safety
/// AVX-512F; all R rows, NP panels and `kc` depths are inside the matrices.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn panel_block<const TRANS: bool, const R: usize, const NP: usize, E: PanelElem>(
    t: Tile<E>,
) {
    let Tile { a, lda, w, pstride, o, n, cols, kc } = t;
    use std::arch::x86_64::*;
    let masks: [__mmask16; NP] = std::array::from_fn(|q| {
        let width = PANEL.min(cols - q * PANEL);
        ((1u32 << width) - 1) as __mmask16
    });
    // SAFETY: bounds as documented; masked loads/stores touch only the first `width` columns.
    unsafe {
        let mut acc = [[_mm512_setzero_ps(); NP]; R];
        for (r, acc_r) in acc.iter_mut().enumerate() {
            for (q, acc_q) in acc_r.iter_mut().enumerate() {
                *acc_q = _mm512_maskz_loadu_ps(masks[q], o.add(r * n + q * PANEL));
            }
        }
        for kk in 0..kc {
            let wv: [__m512; NP] =
                std::array::from_fn(|q| E::load16(w.add(q * pstride + kk * PANEL)));
            for (r, acc_r) in acc.iter_mut().enumerate() {
                let av = if TRANS { *a.add(kk * lda + r) } else { *a.add(r * lda + kk) };
                let x = _mm512_set1_ps(av);
                for (acc_q, &wq) in acc_r.iter_mut().zip(&wv) {
                    *acc_q = _mm512_fmadd_ps(x, wq, *acc_q);
                }
            }
        }
        for (r, acc_r) in acc.iter().enumerate() {
            for (q, &acc_q) in acc_r.iter().enumerate() {
                _mm512_mask_storeu_ps(o.add(r * n + q * PANEL), masks[q], acc_q);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::with_simd;
    use ndarray::Array2;

    /// Small-integer operands a (M, K), w (K, N) and a starting c (M, N): every product and
    /// partial sum is exact in f32 as in f64.
    fn operands(m: usize, k: usize, n: usize) -> (Array2<f64>, Array2<f64>, Array2<f64>) {
        let a = Array2::from_shape_fn((m, k), |(i, j)| ((i * 31 + j * 7) % 13) as f64 - 6.0);
        let w = Array2::from_shape_fn((k, n), |(i, j)| ((i * 5 + j * 11) % 17) as f64 - 8.0);
        let init = Array2::from_shape_fn((m, n), |(i, j)| (i + j) as f64);
        (a, w, init)
    }

    /// Runs `f` with every kernel level this CPU can run, not only its best (see crate::cpu).
    /// (rows, inner, columns) of the product tests: around the 8-row blocks and the 16-wide
    /// panels, a long inner dimension, and the degenerate 1-wide cases.
    const SHAPES: &[(usize, usize, usize)] = &[
        (1, 256, 1024),
        (16, 64, 256),
        (5, 7, 45),
        (9, 33, 130),
        (3, 1, 2),
        (3, 40, 1536),
        (2, 19, 70),
        (7, 40, 260),
        (14, 12, 100),
    ];

    fn every_level(f: impl Fn()) {
        for level in Simd::available() {
            with_simd(level, &f).unwrap();
        }
    }

    #[test]
    fn gemm_rows_matches_naive_product() {
        every_level(|| {
            for &(m, k, n) in SHAPES {
                let (a, w, init) = operands(m, k, n);
                let expect = &init + &a.dot(&w);
                for_f32_and_f64(&a, &w, &init, &expect, m, k, n);
            }
        });
    }

    #[test]
    fn gemm_packed_matches_naive_product() {
        every_level(|| {
            // Row counts around the 8-row blocks, column counts around the 16-wide panels.
            for &(m, k, n) in SHAPES {
                let (a, w, init) = operands(m, k, n);
                let expect = &init + &a.dot(&w);
                let mut out = init.clone();
                // Packed from a transposed view, as the LSTM packs W_hhᵀ.
                let wt = w.t().as_standard_layout().into_owned();
                let packed = Packed::new(wt.t());
                assert_eq!(packed.dim(), (k, n));
                gemm_packed(a.as_slice().unwrap(), &packed, out.as_slice_mut().unwrap(), m);
                assert_eq!(out, expect, "f64 ({m}, {k}, {n}), {:?} kernels", Simd::active());
                // Small integers: exact in f32 too.
                let mut out32 = init.mapv(|v| v as f32);
                let p32 = Packed::new(w.mapv(|v| v as f32).view());
                let a32 = a.mapv(|v| v as f32);
                gemm_packed(a32.as_slice().unwrap(), &p32, out32.as_slice_mut().unwrap(), m);
                assert_eq!(
                    out32,
                    expect.mapv(|v| v as f32),
                    "f32 ({m}, {k}, {n}), {:?} kernels",
                    Simd::active()
                );
            }
        });
    }

    #[test]
    fn half_panels_multiply_by_the_weights_rounded_to_half() {
        every_level(|| {
            let avx512 = Simd::active() == Simd::Avx512;
            // Half precision where a kernel for it runs: the AVX-512 panels, or AVX2 with F16C.
            #[cfg(target_arch = "x86_64")]
            let f16c = is_x86_feature_detected!("f16c");
            #[cfg(not(target_arch = "x86_64"))]
            let f16c = false;
            let halves = avx512 || (Simd::active() == Simd::Avx2Fma && f16c);
            // Rows around the 4-row blocks of the half kernel as well.
            let shapes = SHAPES.iter().copied().chain([(4, 40, 100), (6, 384, 1536), (9, 17, 48)]);
            for (m, k, n) in shapes {
                let (a, w, init) = operands(m, k, n);
                // Small integers are exact in half precision, and their sums in f32.
                let expect = (&init + &a.dot(&w)).mapv(|v| v as f32);
                let wt = w.mapv(|v| v as f32).t().as_standard_layout().into_owned();
                let packed = Packed::new(wt.t()).into_half();
                assert_eq!(packed.is_half(), halves, "{:?}", Simd::active());
                let mut out = init.mapv(|v| v as f32);
                let a32 = a.mapv(|v| v as f32);
                gemm_packed(a32.as_slice().unwrap(), &packed, out.as_slice_mut().unwrap(), m);
                assert_eq!(out, expect, "({m}, {k}, {n}), {:?} kernels", Simd::active());
                // Other values: the product of the half-rounded weights (in f64), within f32
                // rounding of the sums; not the product of the weights as given.
                let w = w.mapv(|v| (v + 0.3) * 0.0123);
                let rounded = w.mapv(|v| half::f16::from_f64(v).to_f64());
                let packed = Packed::new(w.mapv(|v| v as f32).view()).into_half();
                let mut out = init.mapv(|v| v as f32);
                gemm_packed(a32.as_slice().unwrap(), &packed, out.as_slice_mut().unwrap(), m);
                let want = &init + &a.dot(if halves { &rounded } else { &w });
                let scale = &init + &a.mapv(f64::abs).dot(&w.mapv(f64::abs));
                let worst = (0..m * n)
                    .map(|i| (i / n, i % n))
                    .map(|ix| (out[ix] as f64 - want[ix]).abs() / (1.0 + scale[ix]))
                    .fold(0.0, f64::max);
                // f32 sums of k terms: within k · 2⁻²⁴ of Σ|a·w| (and then some).
                let tol = 1e-7 * (k as f64 + 1.0);
                assert!(worst < tol, "({m}, {k}, {n}) {:?}: off by {worst:e}", Simd::active());
                if halves {
                    // The same product from the f32 weights differs: the weights were rounded.
                    let mut full = init.mapv(|v| v as f32);
                    let p32 = Packed::new(w.mapv(|v| v as f32).view());
                    gemm_packed(a32.as_slice().unwrap(), &p32, full.as_slice_mut().unwrap(), m);
                    assert_ne!(out, full, "({m}, {k}, {n}): the weights were not rounded");
                }
            }
        });
    }

    #[test]
    fn gemm_acc_matches_naive_product_in_both_layouts_of_a() {
        every_level(|| {
            // Sizes across the K blocks (256, merged tail below 384), the M blocks (128), the 8-row
            // groups and the 16-wide panels, including the LSTM's shapes scaled down.
            for &(m, k, n) in
                &[(300, 700, 45), (137, 385, 130), (9, 33, 16), (1, 600, 70), (8, 1, 3)]
            {
                let (a, w, init) = operands(m, k, n);
                // f64 reference; small integers, so every f32 partial sum is exact.
                let expect = (&init + &a.dot(&w)).mapv(|v| v as f32);
                let (a, w, init) =
                    (a.mapv(|v| v as f32), w.mapv(|v| v as f32), init.mapv(|v| v as f32));
                let mut out = init.clone();
                gemm_acc(a.view(), w.view(), &mut out.view_mut());
                assert_eq!(
                    out,
                    expect,
                    "row-major a ({m}, {k}, {n}), {:?} kernels",
                    Simd::active()
                );
                // a given as the transpose of a row-major (K, M) matrix, w as a transposed view.
                let a_t = a.t().as_standard_layout().into_owned();
                let w_t = w.t().as_standard_layout().into_owned();
                let mut out = init.clone();
                gemm_acc(a_t.t(), w_t.t(), &mut out.view_mut());
                assert_eq!(
                    out,
                    expect,
                    "transposed a ({m}, {k}, {n}), {:?} kernels",
                    Simd::active()
                );
                // A strided a (every other column of a wider matrix) takes the general path.
                let wide = Array2::from_shape_fn((m, 2 * k), |(i, j)| a[(i, j / 2)]);
                let mut out = init.clone();
                gemm_acc(wide.slice(ndarray::s![.., ..;2]), w.view(), &mut out.view_mut());
                assert_eq!(out, expect, "strided a ({m}, {k}, {n}), {:?} kernels", Simd::active());
            }
        });
    }

    fn for_f32_and_f64(
        a: &Array2<f64>,
        w: &Array2<f64>,
        init: &Array2<f64>,
        expect: &Array2<f64>,
        m: usize,
        k: usize,
        n: usize,
    ) {
        let mut out = init.clone();
        gemm_rows(
            a.as_slice().unwrap(),
            w.as_slice().unwrap(),
            out.as_slice_mut().unwrap(),
            m,
            k,
            n,
        );
        assert_eq!(&out, expect, "f64 ({m}, {k}, {n}), {:?} kernels", Simd::active());
        // Small integers: exact in f32 too.
        let (a32, w32) = (a.mapv(|v| v as f32), w.mapv(|v| v as f32));
        let mut out32 = init.mapv(|v| v as f32);
        gemm_rows(
            a32.as_slice().unwrap(),
            w32.as_slice().unwrap(),
            out32.as_slice_mut().unwrap(),
            m,
            k,
            n,
        );
        assert_eq!(
            out32,
            expect.mapv(|v| v as f32),
            "f32 ({m}, {k}, {n}), {:?} kernels",
            Simd::active()
        );
    }
}
