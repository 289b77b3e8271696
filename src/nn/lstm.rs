//! One LSTM direction over a padded, time-major batch: forward, backward through time, cache.
//!
//! Shape legend: `T` frames, `B` batch, `D` input features, `H` hidden units.
//! Gate order i, f, g, o and weight layout exactly as PyTorch `nn.LSTM` (`weight_ih_l{k}` (4H, D),
//! `weight_hh_l{k}` (4H, H), `bias_ih_l{k}` (4H), `bias_hh_l{k}` (4H)), so weights exchange with it:
//!   a_t = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh            (4H)
//!   i, f, g, o = σ(a_i), σ(a_f), tanh(a_g), σ(a_o)
//!   c_t = f⊙c_{t-1} + i⊙g,   h_t = o⊙tanh(c_t),   h_{-1} = c_{-1} = 0
//! The input projection of all T·B frames is one matrix product; only `h_{t-1} W_hhᵀ` is per step.
//!
//! Padding: utterance b is valid for t < lengths[b]. Its frames t ≥ lengths[b] produce h = 0, their
//! gates are never evaluated and no gradient flows through them, so a padded batch gives exactly
//! what each utterance gives alone. (Run time-reversed with `reverse_padded` for the backward
//! direction of a bidirectional layer: each utterance then starts at its own last frame.)

use ndarray::{Array1, Array2, Array3, ArrayView3, ArrayViewMut3, Axis, s};
use rand::Rng;

use super::Float;
use super::act::{cell_backward, cell_forward};
use super::matmul::{Packed, gemm_acc, gemm_acc_packed, gemm_packed};

/// Weights of one LSTM direction (also used, zeroed, as its gradient and as optimizer moments).
#[derive(Clone, Debug, PartialEq)]
pub struct Lstm<F> {
    /// (4H, D)
    pub w_ih: Array2<F>,
    /// (4H, H)
    pub w_hh: Array2<F>,
    /// (4H)
    pub b_ih: Array1<F>,
    /// (4H)
    pub b_hh: Array1<F>,
}

/// One direction's weights prepared for the forward pass ([`Lstm::pack`]): `W_ihᵀ` and `W_hhᵀ`
/// packed for their kernels and the two biases summed. The forward pass makes these itself on
/// every call; a model that is only run (not trained) keeps them ([`Lstm::forward_with`]).
#[derive(Clone, Debug)]
pub struct LstmPacked<F> {
    /// `W_ihᵀ` (D, 4H) for the input projection, where [`gemm_acc`] would pack it.
    w_ih_t: Option<Packed<F>>,
    /// `W_hhᵀ` (H, 4H) for the per-step product.
    w_hh_t: Packed<F>,
    /// `b_ih + b_hh` (4H).
    bias: Array1<F>,
}

/// What the backward pass needs from the forward pass.
#[derive(Clone, Debug)]
pub struct LstmCache<F> {
    /// (T, B, D) the input
    x: Array3<F>,
    /// (B) valid frames per utterance
    lengths: Vec<usize>,
    /// (T, B, 4H) activated gates i, f, g, o (garbage at padded frames)
    gates: Array3<F>,
    /// (T, B, H) cell state c_t
    c: Array3<F>,
    /// (T, B, H) tanh(c_t)
    tc: Array3<F>,
    /// (T, B, H) output h_t (0 at padded frames)
    h: Array3<F>,
}

impl<F: Float> Lstm<F> {
    /// All-zero weights (the gradient accumulator of a layer of this size).
    pub fn zeros(input: usize, hidden: usize) -> Self {
        Lstm {
            w_ih: Array2::zeros((4 * hidden, input)),
            w_hh: Array2::zeros((4 * hidden, hidden)),
            b_ih: Array1::zeros(4 * hidden),
            b_hh: Array1::zeros(4 * hidden),
        }
    }

    /// PyTorch's initialization: every weight and bias uniform in (−1/√H, 1/√H); then the
    /// forget-gate part of `b_ih` is set to `forget_bias` and that of `b_hh` to 0, so the forget
    /// gate starts at σ(forget_bias + W·…) (a positive value keeps the cell's memory early on).
    pub fn init(input: usize, hidden: usize, forget_bias: f64, rng: &mut impl Rng) -> Self {
        let k = 1.0 / (hidden as f64).sqrt();
        let mut u = || F::from_f64_lossy(rng.random_range(-k..k));
        let w_ih = Array2::from_shape_simple_fn((4 * hidden, input), &mut u);
        let w_hh = Array2::from_shape_simple_fn((4 * hidden, hidden), &mut u);
        let mut b_ih = Array1::from_shape_simple_fn(4 * hidden, &mut u);
        let mut b_hh = Array1::from_shape_simple_fn(4 * hidden, &mut u);
        b_ih.slice_mut(s![hidden..2 * hidden]).fill(F::from_f64_lossy(forget_bias));
        b_hh.slice_mut(s![hidden..2 * hidden]).fill(F::zero());
        Lstm { w_ih, w_hh, b_ih, b_hh }
    }

    /// D
    pub fn input_dim(&self) -> usize {
        self.w_ih.ncols()
    }

    /// H
    pub fn hidden(&self) -> usize {
        self.w_hh.ncols()
    }

    /// The four tensors in PyTorch's order with their PyTorch names (without the `_l{k}` suffix).
    pub fn tensors(&self) -> [(&'static str, &[usize], &[F]); 4] {
        [
            ("weight_ih", self.w_ih.shape(), contiguous(&self.w_ih)),
            ("weight_hh", self.w_hh.shape(), contiguous(&self.w_hh)),
            ("bias_ih", self.b_ih.shape(), contiguous(&self.b_ih)),
            ("bias_hh", self.b_hh.shape(), contiguous(&self.b_hh)),
        ]
    }

    /// The same four tensors, mutable, in the same order.
    pub fn tensors_mut(&mut self) -> [&mut [F]; 4] {
        [
            contiguous_mut(&mut self.w_ih),
            contiguous_mut(&mut self.w_hh),
            contiguous_mut(&mut self.b_ih),
            contiguous_mut(&mut self.b_hh),
        ]
    }

    /// Element-wise conversion to another float type.
    pub fn cast<G: Float>(&self) -> Lstm<G> {
        let c = |v: &F| G::from_f64_lossy(v.to_f64_lossy());
        Lstm {
            w_ih: self.w_ih.map(c),
            w_hh: self.w_hh.map(c),
            b_ih: self.b_ih.map(c),
            b_hh: self.b_hh.map(c),
        }
    }

    /// These weights packed for the forward pass (valid until they change).
    pub fn pack(&self) -> LstmPacked<F> {
        LstmPacked {
            w_ih_t: Packed::for_gemm_acc(self.w_ih.t()),
            w_hh_t: Packed::new(self.w_hh.t()),
            bias: &self.b_ih + &self.b_hh,
        }
    }

    /// [`Self::pack`] for a network that is only run, not trained: `W_hhᵀ` also in half
    /// precision ([`Packed::into_half`]) where a kernel for it runs (AVX-512, AVX2 with F16C):
    /// the per-step product, memory-bound, runs 1.4-2.5 times as fast. The results move by rounding-error amounts;
    /// training never uses this.
    pub fn pack_for_inference(&self) -> LstmPacked<F> {
        let LstmPacked { w_ih_t, w_hh_t, bias } = self.pack();
        LstmPacked { w_ih_t, w_hh_t: w_hh_t.into_half(), bias }
    }

    /// x (T, B, D), lengths (B) → h (T, B, H) and the cache for `backward`.
    pub fn forward(&self, x: ArrayView3<F>, lengths: &[usize]) -> (Array3<F>, LstmCache<F>) {
        self.forward_with(None, x, lengths)
    }

    /// [`Self::forward`] with the weights already packed by [`Self::pack`] (None: packs them
    /// now). `packed` must come from these weights as they are; the result is then the same to
    /// the last bit.
    pub fn forward_with(
        &self,
        packed: Option<&LstmPacked<F>>,
        x: ArrayView3<F>,
        lengths: &[usize],
    ) -> (Array3<F>, LstmCache<F>) {
        let (t_len, b, d) = x.dim();
        let hd = self.hidden();
        debug_assert_eq!(d, self.input_dim());
        debug_assert_eq!(lengths.len(), b);
        debug_assert!(lengths.iter().all(|&l| l <= t_len));
        let own;
        let packed = match packed {
            Some(p) => p,
            None => {
                own = self.pack();
                &own
            }
        };
        debug_assert_eq!(packed.w_hh_t.dim(), (hd, 4 * hd));
        debug_assert_eq!(packed.bias.len(), 4 * hd);
        let x = x.as_standard_layout().into_owned();
        let x2 = x.view().into_shape_with_order((t_len * b, d)).expect("standard layout");

        // a = x W_ihᵀ + (b_ih + b_hh) for all frames at once.
        let mut gates = Array3::<F>::zeros((t_len, b, 4 * hd));
        {
            let mut g2 = gates
                .view_mut()
                .into_shape_with_order((t_len * b, 4 * hd))
                .expect("standard layout");
            g2.rows_mut().into_iter().for_each(|mut r| r.assign(&packed.bias));
            gemm_acc_packed(x2, self.w_ih.t(), packed.w_ih_t.as_ref(), &mut g2);
        }
        let mut c = Array3::<F>::zeros((t_len, b, hd));
        let mut tc = Array3::<F>::zeros((t_len, b, hd));
        let mut h = Array3::<F>::zeros((t_len, b, hd));
        let zero_state = vec![F::zero(); hd];
        // W_hhᵀ (H, 4H) in column panels for the per-step kernel.
        let w_hh_t = &packed.w_hh_t;
        for t in 0..t_len {
            let (h_prev, mut h_now) = h.view_mut().split_at(Axis(0), t);
            let (c_prev, mut c_now) = c.view_mut().split_at(Axis(0), t);
            let mut g_t = gates.index_axis_mut(Axis(0), t);
            if t > 0 {
                // a_t += h_{t-1} W_hhᵀ
                let h_last = h_prev.index_axis(Axis(0), t - 1);
                let h_last = h_last.as_slice().expect("standard layout");
                let g = g_t.as_slice_mut().expect("standard layout");
                gemm_packed(h_last, w_hh_t, g, b);
            }
            let mut tc_t = tc.index_axis_mut(Axis(0), t);
            let mut h_t = h_now.index_axis_mut(Axis(0), 0);
            let mut c_t = c_now.index_axis_mut(Axis(0), 0);
            for (bi, &len) in lengths.iter().enumerate() {
                if t >= len {
                    continue; // h stays 0; c, tc unused
                }
                let cp = if t > 0 {
                    row(c_prev.as_slice().expect("standard layout"), t - 1, b, bi, hd)
                } else {
                    &zero_state[..]
                };
                cell_forward(
                    row_mut(&mut g_t, bi),
                    cp,
                    row_mut(&mut c_t, bi),
                    row_mut(&mut tc_t, bi),
                    row_mut(&mut h_t, bi),
                );
            }
        }
        let cache = LstmCache { x, lengths: lengths.to_vec(), gates, c, tc, h: h.clone() };
        (h, cache)
    }

    /// Backpropagation through time. d_h (T, B, H) is d loss / d h; ADDS the weight gradients into
    /// `grads` and returns d loss / d x (T, B, D). Gradients at padded frames are ignored.
    pub fn backward(
        &self,
        cache: LstmCache<F>,
        d_h: ArrayView3<F>,
        grads: &mut Lstm<F>,
    ) -> Array3<F> {
        let LstmCache { x, lengths, mut gates, c, tc, h } = cache;
        let (t_len, b, d) = x.dim();
        let hd = self.hidden();
        debug_assert_eq!(d_h.dim(), (t_len, b, hd));
        // Per step: dh = d_h[t] + dh_rec, where dh_rec = da_{t+1} W_hh is what h_t feeds into
        // a_{t+1} (the forward line `a_t += h_{t-1} W_hhᵀ`). The cell backward turns the activated
        // gates of step t into da_t in place.
        let mut dh_rec = Array2::<F>::zeros((b, hd));
        let mut dc = Array2::<F>::zeros((b, hd));
        let mut dh = vec![F::zero(); hd];
        let zero_state = vec![F::zero(); hd];
        let (c_sl, tc_sl) = (contiguous(&c), contiguous(&tc));
        // W_hh (4H, H) packed once, for the per-step `da_t W_hh`.
        let w_hh = Packed::new(self.w_hh.view());
        for t in (0..t_len).rev() {
            let mut g_t = gates.index_axis_mut(Axis(0), t);
            for (bi, &len) in lengths.iter().enumerate() {
                let dc_b = &mut dc.as_slice_mut().expect("standard layout")[bi * hd..(bi + 1) * hd];
                if t >= len {
                    row_mut(&mut g_t, bi).fill(F::zero());
                    dc_b.fill(F::zero());
                    continue;
                }
                let dout = d_h.slice(s![t, bi, ..]);
                let rec = dh_rec.row(bi);
                for j in 0..hd {
                    dh[j] = dout[j] + rec[j];
                }
                let cp = if t > 0 { row(c_sl, t - 1, b, bi, hd) } else { &zero_state[..] };
                let tc_tb = row(tc_sl, t, b, bi, hd);
                cell_backward(row_mut(&mut g_t, bi), cp, tc_tb, &dh, dc_b);
            }
            if t > 0 {
                // dh_{t-1} (through the recurrence) = da_t W_hh, (B, 4H)·(4H, H).
                let rec = dh_rec.as_slice_mut().expect("standard layout");
                rec.fill(F::zero());
                let da_t = g_t.as_slice().expect("standard layout");
                gemm_packed(da_t, &w_hh, rec, b);
            }
        }
        let da = gates.into_shape_with_order((t_len * b, 4 * hd)).expect("standard layout");
        let x2 = x.view().into_shape_with_order((t_len * b, d)).expect("standard layout");
        // a = x W_ihᵀ + b_ih + h_{t-1} W_hhᵀ + b_hh  ⇒  dW_ih += daᵀ x, dW_hh += Σ_t da_tᵀ h_{t-1},
        // db_ih = db_hh += Σ da, dx = da W_ih.
        gemm_acc(da.t(), x2, &mut grads.w_ih.view_mut());
        if t_len > 1 {
            let h2 = h
                .slice(s![..t_len - 1, .., ..])
                .into_shape_with_order(((t_len - 1) * b, hd))
                .expect("contiguous");
            gemm_acc(da.slice(s![b.., ..]).t(), h2, &mut grads.w_hh.view_mut());
        }
        let db = da.sum_axis(Axis(0));
        grads.b_ih.scaled_add(F::one(), &db);
        grads.b_hh.scaled_add(F::one(), &db);
        let mut dx = Array2::<F>::zeros((t_len * b, d));
        gemm_acc(da.view(), self.w_ih.view(), &mut dx.view_mut());
        dx.into_shape_with_order((t_len, b, d)).expect("standard layout")
    }
}

/// Per-utterance time reversal of a padded batch: out[s, b] = x[len_b − 1 − s, b] for s < len_b,
/// 0 beyond. It is its own inverse on valid frames (and maps padding to 0), so the same function
/// turns the reversed direction's outputs and gradients back.
pub fn reverse_padded<F: Float>(x: ArrayView3<F>, lengths: &[usize]) -> Array3<F> {
    let mut out = Array3::<F>::zeros(x.dim());
    reverse_padded_into(x, lengths, out.view_mut());
    out
}

/// [`reverse_padded`] into `out` (same shape, zero beyond each utterance's length on entry).
pub fn reverse_padded_into<F: Float>(
    x: ArrayView3<F>,
    lengths: &[usize],
    mut out: ArrayViewMut3<F>,
) {
    let t_len = x.dim().0;
    debug_assert_eq!(lengths.len(), x.dim().1);
    debug_assert_eq!(out.dim(), x.dim());
    for (bi, &len) in lengths.iter().enumerate() {
        for s in 0..len.min(t_len) {
            out.slice_mut(s![s, bi, ..]).assign(&x.slice(s![len - 1 - s, bi, ..]));
        }
    }
}

/// Row (t, bi) of a standard-layout (T, B, N) array given as a flat slice.
fn row<F>(a: &[F], t: usize, b: usize, bi: usize, n: usize) -> &[F] {
    let off = (t * b + bi) * n;
    &a[off..off + n]
}

/// Row b of a standard-layout (B, N) array, mutable.
fn row_mut<'a, F>(a: &'a mut ndarray::ArrayViewMut2<'_, F>, b: usize) -> &'a mut [F] {
    let n = a.ncols();
    &mut a.as_slice_mut().expect("standard layout")[b * n..(b + 1) * n]
}

pub(crate) fn contiguous<F, D: ndarray::Dimension>(a: &ndarray::Array<F, D>) -> &[F] {
    a.as_slice().expect("parameters are built in standard layout")
}

pub(crate) fn contiguous_mut<F, D: ndarray::Dimension>(a: &mut ndarray::Array<F, D>) -> &mut [F] {
    a.as_slice_mut().expect("parameters are built in standard layout")
}
