//! Frame stacking with subsampling at the network input.
//!
//! Shape legend: `T` input frames, `T'` = ceil(T / s) output frames, `B` batch, `D` features,
//! `k` stacked frames, `s` subsampling step.
//! Output frame t' of utterance b is the concatenation of input frames t'·s, t'·s + 1, …,
//! t'·s + k − 1 (feature blocks in that order). A source frame at or beyond the utterance's own
//! length contributes zeros (with CMVN features zero is the mean), so the tail of an utterance
//! never sees the padding of a longer one; its length becomes ceil(len / s).

use ndarray::{Array3, ArrayView3, s};

use super::Float;

/// ceil(len / s) per utterance.
pub fn stacked_lengths(lengths: &[usize], subsample: usize) -> Vec<usize> {
    lengths.iter().map(|&l| l.div_ceil(subsample.max(1))).collect()
}

/// x (T, B, D) → y (T', B, k·D).
pub fn stack_forward<F: Float>(
    x: ArrayView3<F>,
    lengths: &[usize],
    k: usize,
    sub: usize,
) -> Array3<F> {
    let (t_len, b, d) = x.dim();
    debug_assert_eq!(lengths.len(), b);
    let t_out = t_len.div_ceil(sub);
    let mut y = Array3::<F>::zeros((t_out, b, k * d));
    for (bi, &len) in lengths.iter().enumerate() {
        for to in 0..len.div_ceil(sub) {
            for j in 0..k {
                let src = to * sub + j;
                if src < len {
                    y.slice_mut(s![to, bi, j * d..(j + 1) * d]).assign(&x.slice(s![src, bi, ..]));
                }
            }
        }
    }
    y
}

/// d_y (T', B, k·D) → d_x (T, B, D): each input frame collects the gradient of every block it
/// was copied into (several when k > s).
pub fn stack_backward<F: Float>(
    d_y: ArrayView3<F>,
    lengths: &[usize],
    k: usize,
    sub: usize,
    t_len: usize,
) -> Array3<F> {
    let (_, b, kd) = d_y.dim();
    let d = kd / k;
    let mut dx = Array3::<F>::zeros((t_len, b, d));
    for (bi, &len) in lengths.iter().enumerate() {
        for to in 0..len.div_ceil(sub) {
            for j in 0..k {
                let src = to * sub + j;
                if src < len {
                    let g = d_y.slice(s![to, bi, j * d..(j + 1) * d]);
                    dx.slice_mut(s![src, bi, ..]).zip_mut_with(&g, |a, &v| *a = *a + v);
                }
            }
        }
    }
    dx
}
