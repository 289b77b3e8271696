//! Bidirectional LSTM layer: the same `Lstm` code run once on the input and once on its
//! per-utterance time reversal, outputs concatenated [forward half, backward half] like PyTorch.
//!
//! Shape legend: `T` frames, `B` batch, `D` input features, `H` hidden units per direction.
//! The two directions are independent until the concatenation, so they run in parallel
//! (`rayon::join`; with a one-thread pool they simply run one after the other).

use ndarray::{Array3, ArrayView3, Axis, s};
use rand::Rng;

use super::Float;
use super::lstm::{Lstm, LstmCache, LstmPacked, reverse_padded, reverse_padded_into};

/// Weights of one bidirectional layer (also its gradient and optimizer moments).
#[derive(Clone, Debug, PartialEq)]
pub struct BiLstm<F> {
    /// Forward in time (PyTorch `*_l{k}`).
    pub fwd: Lstm<F>,
    /// Backward in time (PyTorch `*_l{k}_reverse`).
    pub bwd: Lstm<F>,
}

/// Both directions' weights packed for the forward pass ([`BiLstm::pack`]).
#[derive(Clone, Debug)]
pub struct BiLstmPacked<F> {
    fwd: LstmPacked<F>,
    bwd: LstmPacked<F>,
}

/// What `BiLstm::backward` needs.
#[derive(Clone, Debug)]
pub struct BiLstmCache<F> {
    fwd: LstmCache<F>,
    bwd: LstmCache<F>,
    /// (B)
    lengths: Vec<usize>,
}

impl<F: Float> BiLstm<F> {
    pub fn zeros(input: usize, hidden: usize) -> Self {
        BiLstm { fwd: Lstm::zeros(input, hidden), bwd: Lstm::zeros(input, hidden) }
    }

    /// Forward direction first, then reverse, from the same RNG (see `Lstm::init`).
    pub fn init(input: usize, hidden: usize, forget_bias: f64, rng: &mut impl Rng) -> Self {
        let fwd = Lstm::init(input, hidden, forget_bias, rng);
        let bwd = Lstm::init(input, hidden, forget_bias, rng);
        BiLstm { fwd, bwd }
    }

    pub fn cast<G: Float>(&self) -> BiLstm<G> {
        BiLstm { fwd: self.fwd.cast(), bwd: self.bwd.cast() }
    }

    /// Both directions packed ([`Lstm::pack`]), valid until the weights change.
    pub fn pack(&self) -> BiLstmPacked<F> {
        BiLstmPacked { fwd: self.fwd.pack(), bwd: self.bwd.pack() }
    }

    /// Both directions packed for inference only ([`Lstm::pack_for_inference`]).
    pub fn pack_for_inference(&self) -> BiLstmPacked<F> {
        BiLstmPacked { fwd: self.fwd.pack_for_inference(), bwd: self.bwd.pack_for_inference() }
    }

    /// x (T, B, D), lengths (B) → y (T, B, 2H) = [h_fwd, h_bwd].
    pub fn forward(&self, x: ArrayView3<F>, lengths: &[usize]) -> (Array3<F>, BiLstmCache<F>) {
        self.forward_with(None, x, lengths)
    }

    /// [`Self::forward`] with weights packed by [`Self::pack`] (None: each direction packs its
    /// own, on its own thread).
    pub fn forward_with(
        &self,
        packed: Option<&BiLstmPacked<F>>,
        x: ArrayView3<F>,
        lengths: &[usize],
    ) -> (Array3<F>, BiLstmCache<F>) {
        let hd = self.fwd.hidden();
        let mut y = Array3::<F>::zeros((x.dim().0, x.dim().1, 2 * hd));
        // Each direction writes its half of y on its own thread.
        let (mut y_f, y_r) = y.view_mut().split_at(Axis(2), hd);
        let (c_f, c_r) = rayon::join(
            || {
                let (h_f, c_f) = self.fwd.forward_with(packed.map(|p| &p.fwd), x, lengths);
                y_f.assign(&h_f);
                c_f
            },
            || {
                let x_r = reverse_padded(x, lengths);
                let (h_r, c_r) = self.bwd.forward_with(packed.map(|p| &p.bwd), x_r.view(), lengths);
                reverse_padded_into(h_r.view(), lengths, y_r);
                c_r
            },
        );
        (y, BiLstmCache { fwd: c_f, bwd: c_r, lengths: lengths.to_vec() })
    }

    /// d_y (T, B, 2H) → d_x (T, B, D); ADDS into `grads`. Inverts
    /// `y = [h_f, rev(h_r)]` with h_r computed on rev(x).
    pub fn backward(
        &self,
        cache: BiLstmCache<F>,
        d_y: ArrayView3<F>,
        grads: &mut BiLstm<F>,
    ) -> Array3<F> {
        let hd = self.fwd.hidden();
        debug_assert_eq!(d_y.dim().2, 2 * hd);
        let BiLstmCache { fwd, bwd, lengths } = cache;
        let (g_f, g_r) = (&mut grads.fwd, &mut grads.bwd);
        let (dx_f, mut dx) = rayon::join(
            || self.fwd.backward(fwd, d_y.slice(s![.., .., ..hd]), g_f),
            || {
                let d_r = reverse_padded(d_y.slice(s![.., .., hd..]), &lengths);
                let dx_r = self.bwd.backward(bwd, d_r.view(), g_r);
                reverse_padded(dx_r.view(), &lengths)
            },
        );
        dx.scaled_add(F::one(), &dx_f);
        dx
    }
}
