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
