//! The one matrix-product entry point of the numeric code, so the backend is chosen in one place.
//!
//! `C ← β·C + α·A·B` on 2-D views with arbitrary strides (a transposed operand is just `.t()`).
//! Backend: ndarray's `general_mat_mul`, i.e. the `matrixmultiply` crate, which dispatches at run
//! time to AVX-512 / AVX2+FMA kernels for f32 and f64. It was chosen by measurement at the LSTM's
//! sizes (see `benches/RESULTS-lstm.md`).

use ndarray::{ArrayView2, ArrayViewMut2, linalg::general_mat_mul};

use super::Float;

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
    {
        let (avx512, fma) = cpu_features();
        if avx512 {
            // SAFETY: the CPU supports AVX-512F (checked at run time).
            unsafe { gemm_rows_avx512(a, w, out, m, k, n) };
            return;
        }
        if fma {
            // SAFETY: the CPU supports AVX2 and FMA (checked at run time).
            unsafe { gemm_rows_avx2(a, w, out, m, k, n) };
            return;
        }
    }
    rows_driver::<F, 4, 8, 32>(a, w, out, m, k, n, |x, y, acc| acc + x * y);
}

#[cfg(target_arch = "x86_64")]
fn cpu_features() -> (bool, bool) {
    use std::sync::OnceLock;
    static FEATURES: OnceLock<(bool, bool)> = OnceLock::new();
    *FEATURES.get_or_init(|| {
        (
            is_x86_feature_detected!("avx512f"),
            is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma"),
        )
    })
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
    rows_driver::<F, 8, 32, 128>(a, w, out, m, k, n, |x, y, acc| x.mul_add(y, acc));
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn gemm_rows_avx2<F: Float>(a: &[F], w: &[F], out: &mut [F], m: usize, k: usize, n: usize) {
    rows_driver::<F, 4, 16, 64>(a, w, out, m, k, n, |x, y, acc| x.mul_add(y, acc));
}

/// Blocks of R rows × C columns, leftover rows one at a time with C1-wide blocks, leftover
/// columns with a plain loop.
#[inline(always)]
fn rows_driver<F: Float, const R: usize, const C: usize, const C1: usize>(
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
        block_rows::<F, 1, C1>(&a[r0 * k..], w, &mut out[r0 * n..], k, n, fma);
        r0 += 1;
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

/// A (K, N) right-hand operand prepared once for many [`gemm_packed`] calls (the LSTM's W_hhᵀ
/// for the T steps of a sequence). With f32 on an AVX-512 CPU it is repacked into column panels:
/// panel `p` holds columns `16p .. 16p + 16` as K contiguous rows of 16 values (the last panel
/// zero-padded), so the kernel reads each panel as one sequential stream instead of one 64-byte
/// piece every `N` values (with `N·4` bytes a multiple of 4 KiB, all such pieces fall into the
/// same L1 set). Otherwise (f64, other CPUs) it is a row-major copy for [`gemm_rows`].
#[derive(Clone, Debug)]
pub struct Packed<F> {
    /// (N/16 panels, K, 16) or (K, N)
    data: Vec<F>,
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
            return Packed { data, k, n, panels: false };
        }
        let panels = n.div_ceil(PANEL);
        let mut data = vec![F::zero(); panels * k * PANEL];
        for (p, panel) in data.chunks_exact_mut(k * PANEL).enumerate() {
            let c0 = p * PANEL;
            let width = PANEL.min(n - c0);
            for (kk, dst) in panel.chunks_exact_mut(PANEL).enumerate() {
                for (j, d) in dst[..width].iter_mut().enumerate() {
                    *d = w[(kk, c0 + j)];
                }
            }
        }
        Packed { data, k, n, panels: true }
    }

    /// (K, N)
    pub fn dim(&self) -> (usize, usize) {
        (self.k, self.n)
    }
}

/// Whether [`Packed`] uses the AVX-512 panel kernel for `F`.
fn panel_kernel<F: Float>() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::any::TypeId::of::<F>() == std::any::TypeId::of::<f32>() && cpu_features().0
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// `out += a · w` with `w` prepared by [`Packed::new`]: a (M, K), out (M, N), row-major
/// contiguous. Used for the per-step recurrent products of the LSTM (M = batch).
pub fn gemm_packed<F: Float>(a: &[F], w: &Packed<F>, out: &mut [F], m: usize) {
    let (k, n) = w.dim();
    assert!(a.len() >= m * k && out.len() >= m * n, "gemm_packed: slice sizes");
    #[cfg(target_arch = "x86_64")]
    if w.panels {
        // SAFETY: `panels` is only set for F = f32 (same type, same layout) on a CPU with
        // AVX-512F; the slice sizes were checked above and the panel data holds N/16 · K · 16.
        unsafe {
            let a = std::slice::from_raw_parts(a.as_ptr().cast::<f32>(), a.len());
            let out = std::slice::from_raw_parts_mut(out.as_mut_ptr().cast::<f32>(), out.len());
            let data = std::slice::from_raw_parts(w.data.as_ptr().cast::<f32>(), w.data.len());
            panels_avx512(a, data, out, m, k, n);
        }
        return;
    }
    gemm_rows(a, &w.data, out, m, k, n);
}

/// Row blocks of 8 × pairs of panels (16 zmm accumulators), leftover rows one at a time × 4
/// panels, leftover panels singly; partial last panel through a lane mask.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn panels_avx512(a: &[f32], data: &[f32], out: &mut [f32], m: usize, k: usize, n: usize) {
    let panels = n.div_ceil(PANEL);
    let mut r0 = 0;
    let run = |r0: usize, rows: usize, out: &mut [f32]| {
        let mut p = 0;
        // SAFETY (all calls): rows r0..r0+rows < m and panels p..p+NP ≤ N/16 are in bounds.
        unsafe {
            while p + 2 <= panels && rows == 8 {
                panel_block::<8, 2>(a, r0, data, p, out, k, n);
                p += 2;
            }
            while p + 4 <= panels && rows == 1 {
                panel_block::<1, 4>(a, r0, data, p, out, k, n);
                p += 4;
            }
            while p < panels {
                if rows == 8 {
                    panel_block::<8, 1>(a, r0, data, p, out, k, n);
                } else {
                    panel_block::<1, 1>(a, r0, data, p, out, k, n);
                }
                p += 1;
            }
        }
    };
    while r0 + 8 <= m {
        run(r0, 8, out);
        r0 += 8;
    }
    while r0 < m {
        run(r0, 1, out);
        r0 += 1;
    }
}

/// Rows `r0 .. r0 + R` of `out` × panels `p0 .. p0 + NP`, accumulated over all K.
///
/// # Safety
/// AVX-512F; `a` holds rows up to `r0 + R` of K values, `out` rows up to `r0 + R` of N values,
/// `data` panels up to `p0 + NP`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn panel_block<const R: usize, const NP: usize>(
    a: &[f32],
    r0: usize,
    data: &[f32],
    p0: usize,
    out: &mut [f32],
    k: usize,
    n: usize,
) {
    use std::arch::x86_64::*;
    debug_assert!(a.len() >= (r0 + R) * k && out.len() >= (r0 + R) * n);
    debug_assert!(data.len() >= (p0 + NP) * k * PANEL);
    let masks: [__mmask16; NP] = std::array::from_fn(|q| {
        let width = PANEL.min(n - (p0 + q) * PANEL);
        ((1u32 << width) - 1) as __mmask16
    });
    // SAFETY: bounds as documented; masked loads/stores touch only the first `width` columns.
    unsafe {
        let a_ptr = a.as_ptr().add(r0 * k);
        let o_ptr = out.as_mut_ptr().add(r0 * n + p0 * PANEL);
        let w_ptr = data.as_ptr().add(p0 * k * PANEL);
        let mut acc = [[_mm512_setzero_ps(); NP]; R];
        for (r, acc_r) in acc.iter_mut().enumerate() {
            for (q, acc_q) in acc_r.iter_mut().enumerate() {
                *acc_q = _mm512_maskz_loadu_ps(masks[q], o_ptr.add(r * n + q * PANEL));
            }
        }
        for kk in 0..k {
            let wv: [__m512; NP] =
                std::array::from_fn(|q| _mm512_loadu_ps(w_ptr.add(q * k * PANEL + kk * PANEL)));
            for (r, acc_r) in acc.iter_mut().enumerate() {
                let x = _mm512_set1_ps(*a_ptr.add(r * k + kk));
                for (acc_q, &w) in acc_r.iter_mut().zip(&wv) {
                    *acc_q = _mm512_fmadd_ps(x, w, *acc_q);
                }
            }
        }
        for (r, acc_r) in acc.iter().enumerate() {
            for (q, &acc_q) in acc_r.iter().enumerate() {
                _mm512_mask_storeu_ps(o_ptr.add(r * n + q * PANEL), masks[q], acc_q);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    #[test]
    fn gemm_rows_matches_naive_product() {
        for &(m, k, n) in &[(1, 256, 1024), (16, 64, 256), (5, 7, 45), (9, 33, 130), (3, 1, 2)] {
            let a = Array2::from_shape_fn((m, k), |(i, j)| ((i * 31 + j * 7) % 13) as f64 - 6.0);
            let w = Array2::from_shape_fn((k, n), |(i, j)| ((i * 5 + j * 11) % 17) as f64 - 8.0);
            let init = Array2::from_shape_fn((m, n), |(i, j)| (i + j) as f64);
            let expect = &init + &a.dot(&w);
            for_f32_and_f64(&a, &w, &init, &expect, m, k, n);
        }
    }

    #[test]
    fn gemm_packed_matches_naive_product() {
        // Row counts around the 8-row blocks, column counts around the 16-wide panels.
        for &(m, k, n) in &[(1, 256, 1024), (16, 64, 256), (5, 7, 45), (9, 33, 130), (3, 1, 2)] {
            let a = Array2::from_shape_fn((m, k), |(i, j)| ((i * 31 + j * 7) % 13) as f64 - 6.0);
            let w = Array2::from_shape_fn((k, n), |(i, j)| ((i * 5 + j * 11) % 17) as f64 - 8.0);
            let init = Array2::from_shape_fn((m, n), |(i, j)| (i + j) as f64);
            let expect = &init + &a.dot(&w);
            let mut out = init.clone();
            // Packed from a transposed view, as the LSTM packs W_hhᵀ.
            let wt = w.t().as_standard_layout().into_owned();
            let packed = Packed::new(wt.t());
            assert_eq!(packed.dim(), (k, n));
            gemm_packed(a.as_slice().unwrap(), &packed, out.as_slice_mut().unwrap(), m);
            assert_eq!(out, expect, "f64 ({m}, {k}, {n})");
            // Small integers: exact in f32 too.
            let mut out32 = init.mapv(|v| v as f32);
            let p32 = Packed::new(w.mapv(|v| v as f32).view());
            let a32 = a.mapv(|v| v as f32);
            gemm_packed(a32.as_slice().unwrap(), &p32, out32.as_slice_mut().unwrap(), m);
            assert_eq!(out32, expect.mapv(|v| v as f32), "f32 ({m}, {k}, {n})");
        }
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
        assert_eq!(&out, expect, "f64 ({m}, {k}, {n})");
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
        assert_eq!(out32, expect.mapv(|v| v as f32), "f32 ({m}, {k}, {n})");
    }
}
