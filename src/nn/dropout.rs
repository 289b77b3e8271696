//! Inverted dropout: in training each element is kept with probability 1 − p and scaled by
//! 1/(1 − p), so inference (no dropout) needs no rescaling. Shape: any (T, B, N).

use ndarray::{Array3, ArrayView3};
use rand::Rng;

use super::Float;

/// The mask drawn in the forward pass: 0 or 1/(1 − p) per element; `None` when dropout was off.
#[derive(Clone, Debug)]
pub struct DropoutCache<F> {
    /// (T, B, N)
    mask: Option<Array3<F>>,
}

/// y = x ⊙ mask. With `train == false` or p == 0 it is the identity.
pub fn dropout_forward<F: Float>(
    x: Array3<F>,
    p: f64,
    train: bool,
    rng: &mut impl Rng,
) -> (Array3<F>, DropoutCache<F>) {
    if !train || p <= 0.0 {
        return (x, DropoutCache { mask: None });
    }
    let scale = F::from_f64_lossy(1.0 / (1.0 - p));
    let mask = Array3::from_shape_simple_fn(x.dim(), || {
        if rng.random::<f64>() < p { F::zero() } else { scale }
    });
    let y = &x * &mask;
    (y, DropoutCache { mask: Some(mask) })
}

/// dx = dy ⊙ mask.
pub fn dropout_backward<F: Float>(cache: DropoutCache<F>, dy: ArrayView3<F>) -> Array3<F> {
    match cache.mask {
        Some(m) => &dy * &m,
        None => dy.to_owned(),
    }
}
