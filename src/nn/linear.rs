//! Fully connected output layer and log-softmax, forward and backward.
//!
//! Shape legend: `N` rows (= T·B frames), `I` input features (2H), `V` labels incl. blank.
//! Weight layout as PyTorch `nn.Linear`: weight (V, I), bias (V); y = x Wᵀ + b.

use ndarray::{Array1, Array2, ArrayView2, Axis};
use rand::Rng;

use super::Float;
use super::lstm::{contiguous, contiguous_mut};
use super::matmul::gemm;

/// Weights of a linear layer (also its gradient and optimizer moments).
#[derive(Clone, Debug, PartialEq)]
pub struct Linear<F> {
    /// (V, I)
    pub weight: Array2<F>,
    /// (V)
    pub bias: Array1<F>,
}

/// The input, kept for the weight gradient.
#[derive(Clone, Debug)]
pub struct LinearCache<F> {
    /// (N, I)
    x: Array2<F>,
}

impl<F: Float> Linear<F> {
    pub fn zeros(input: usize, output: usize) -> Self {
        Linear { weight: Array2::zeros((output, input)), bias: Array1::zeros(output) }
    }

    /// PyTorch's default: weight and bias uniform in (−1/√I, 1/√I).
    pub fn init(input: usize, output: usize, rng: &mut impl Rng) -> Self {
        let k = 1.0 / (input as f64).sqrt();
        let mut u = || F::from_f64_lossy(rng.random_range(-k..k));
        let weight = Array2::from_shape_simple_fn((output, input), &mut u);
        let bias = Array1::from_shape_simple_fn(output, &mut u);
        Linear { weight, bias }
    }

    pub fn cast<G: Float>(&self) -> Linear<G> {
        let c = |v: &F| G::from_f64_lossy(v.to_f64_lossy());
        Linear { weight: self.weight.map(c), bias: self.bias.map(c) }
    }

    /// (name, shape, values) in PyTorch's order: weight, bias.
    pub fn tensors(&self) -> [(&'static str, &[usize], &[F]); 2] {
        [
            ("weight", self.weight.shape(), contiguous(&self.weight)),
            ("bias", self.bias.shape(), contiguous(&self.bias)),
        ]
    }

    pub fn tensors_mut(&mut self) -> [&mut [F]; 2] {
        [contiguous_mut(&mut self.weight), contiguous_mut(&mut self.bias)]
    }

    /// x (N, I) → y (N, V).
    pub fn forward(&self, x: ArrayView2<F>) -> (Array2<F>, LinearCache<F>) {
        debug_assert_eq!(x.ncols(), self.weight.ncols());
        let mut y = Array2::<F>::zeros((x.nrows(), self.weight.nrows()));
        y.rows_mut().into_iter().for_each(|mut r| r.assign(&self.bias));
        gemm(F::one(), x, self.weight.t(), F::one(), &mut y.view_mut());
        (y, LinearCache { x: x.to_owned() })
    }

    /// dy (N, V) → dx (N, I); y = x Wᵀ + b ⇒ dW += dyᵀ x, db += Σ_rows dy, dx = dy W.
    pub fn backward(
        &self,
        cache: LinearCache<F>,
        dy: ArrayView2<F>,
        grads: &mut Linear<F>,
    ) -> Array2<F> {
        debug_assert_eq!(dy.dim(), (cache.x.nrows(), self.weight.nrows()));
        gemm(F::one(), dy.t(), cache.x.view(), F::one(), &mut grads.weight.view_mut());
        grads.bias.scaled_add(F::one(), &dy.sum_axis(Axis(0)));
        let mut dx = Array2::<F>::zeros(cache.x.dim());
        gemm(F::one(), dy, self.weight.view(), F::zero(), &mut dx.view_mut());
        dx
    }
}

/// Row-wise log-softmax: y = x − max − log Σ exp(x − max). x (N, V) → y (N, V).
pub fn log_softmax<F: Float>(x: ArrayView2<F>) -> Array2<F> {
    let mut y = x.to_owned();
    for mut r in y.rows_mut() {
        let m = r.fold(F::neg_infinity(), |a, &b| a.max(b));
        let lse = m + r.iter().map(|&v| (v - m).exp()).sum::<F>().ln();
        r.mapv_inplace(|v| v - lse);
    }
    y
}

/// Backward of `log_softmax` from its output y: dx = dy − exp(y) Σ dy (row-wise).
pub fn log_softmax_backward<F: Float>(y: ArrayView2<F>, dy: ArrayView2<F>) -> Array2<F> {
    debug_assert_eq!(y.dim(), dy.dim());
    let mut dx = dy.to_owned();
    for (mut dr, yr) in dx.rows_mut().into_iter().zip(y.rows()) {
        let s: F = dr.sum();
        dr.zip_mut_with(&yr, |d, &l| *d = *d - l.exp() * s);
    }
    dx
}
