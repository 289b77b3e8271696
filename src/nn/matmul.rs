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
