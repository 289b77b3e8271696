//! The acoustic network: [frame stacking + subsampling] → BiLSTM × L (dropout between layers)
//! → linear → logits. CTC takes the logits; `log_probs` gives the log-softmax for decoding.
//!
//! Shape legend: `T` input frames, `T'` = ceil(T / subsample) frames after stacking, `B` batch,
//! `D` input features, `H` hidden units per direction, `V` labels incl. blank. Time-major.
//! Parameter names and shapes are PyTorch's for
//! `lstm = nn.LSTM(D·stack_frames, H, L, bidirectional=True)` and `proj = nn.Linear(2H, V)`, in
//! PyTorch's `named_parameters()` order; parameters, gradients and optimizer moments are all an
//! `AcousticParams` and walk that one list.

use std::path::Path;
use std::sync::{Arc, OnceLock};

use ndarray::{Array3, ArrayView3, Axis};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::cpu::Simd;
use crate::nn::Float;
use crate::nn::bilstm::{BiLstm, BiLstmCache, BiLstmPacked};
use crate::nn::dropout::{DropoutCache, dropout_backward, dropout_forward};
use crate::nn::linear::{Linear, LinearCache, log_softmax};
use crate::nn::params::{NamedTensor, take_expected};
use crate::nn::stack::{stack_backward, stack_forward, stacked_lengths};
use crate::{Error, Result};

/// Upper bounds of the architecture's dimensions, checked before anything is allocated: far
/// above any model Hark trains (the default is 39 inputs, H 320, 3 layers) and low enough that a
/// config claiming more is refused with a message instead of a failed allocation.
pub const MAX_INPUT_DIM: usize = 4096;
pub const MAX_HIDDEN: usize = 8192;
pub const MAX_LAYERS: usize = 64;
pub const MAX_STACK: usize = 64;
pub const MAX_LABELS: usize = 65536;
/// 1e9 scalars: 4 GB of f32.
pub const MAX_PARAMS: usize = 1_000_000_000;

/// Architecture of the acoustic model (saved with every model).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArchConfig {
    /// D: features per input frame (e.g. 13 MFCC + Δ + ΔΔ = 39).
    pub input_dim: usize,
    /// H: LSTM units per direction.
    pub hidden: usize,
    /// L: bidirectional LSTM layers.
    pub layers: usize,
    /// k: consecutive input frames concatenated into one network frame (1 = none).
    pub stack_frames: usize,
    /// s: keep every s-th stacked frame (1 = none); T' = ceil(T / s).
    pub subsample: usize,
    /// V: output labels including the CTC blank (label 0).
    pub num_labels: usize,
    /// Dropout probability on the outputs of every LSTM layer but the last (training only).
    pub dropout: f64,
    /// Initial forget-gate bias (put in `bias_ih`; `bias_hh`'s forget part starts at 0).
    pub forget_bias: f64,
    /// Seed of the weight initialization.
    pub seed: u64,
}

impl Default for ArchConfig {
    fn default() -> Self {
        ArchConfig {
            input_dim: 39,
            hidden: 256,
            layers: 3,
            stack_frames: 1,
            subsample: 1,
            num_labels: 29,
            dropout: 0.1,
            forget_bias: 1.0,
            seed: 0,
        }
    }
}

impl ArchConfig {
    /// Checks every field's range; the error names the field.
    pub fn validate(&self) -> Result<()> {
        let positive = [
            ("input_dim", self.input_dim),
            ("hidden", self.hidden),
            ("layers", self.layers),
            ("stack_frames", self.stack_frames),
            ("subsample", self.subsample),
        ];
        for (name, v) in positive {
            if v == 0 {
                return Err(Error::Options(format!("arch.{name} must be at least 1, got 0")));
            }
        }
        let bounded = [
            ("input_dim", self.input_dim, MAX_INPUT_DIM),
            ("hidden", self.hidden, MAX_HIDDEN),
            ("layers", self.layers, MAX_LAYERS),
            ("stack_frames", self.stack_frames, MAX_STACK),
            ("subsample", self.subsample, MAX_STACK),
            ("num_labels", self.num_labels, MAX_LABELS),
        ];
        for (name, v, max) in bounded {
            if v > max {
                return Err(Error::Options(format!(
                    "arch.{name} is {v}, more than the {max} Hark supports"
                )));
            }
        }
        match self.param_count() {
            Some(n) if n <= MAX_PARAMS => {}
            n => {
                return Err(Error::Options(format!(
                    "arch gives {} parameters, more than the {MAX_PARAMS} Hark loads \
                     (hidden {}, layers {}, input {} x {} stacked)",
                    n.map_or("too many".to_string(), |n| n.to_string()),
                    self.hidden,
                    self.layers,
                    self.input_dim,
                    self.stack_frames
                )));
            }
        }
        if self.num_labels < 2 {
            return Err(Error::Options(format!(
                "arch.num_labels must be at least 2 (blank + one symbol), got {}",
                self.num_labels
            )));
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(Error::Options(format!(
                "arch.dropout must be in [0, 1), got {}",
                self.dropout
            )));
        }
        if !self.forget_bias.is_finite() {
            return Err(Error::Options(format!(
                "arch.forget_bias must be finite, got {}",
                self.forget_bias
            )));
        }
        Ok(())
    }

    /// Input features of the first LSTM layer: k·D.
    pub fn lstm_input_dim(&self) -> usize {
        self.input_dim * self.stack_frames
    }

    /// (name, shape) of every parameter, in the one parameter order (the names and shapes of
    /// [`AcousticParams::tensors`]), computed without allocating any tensor: a model file's
    /// config is checked against the weights file with these before a single weight is made.
    pub fn param_shapes(&self) -> Vec<(String, Vec<usize>)> {
        let h4 = 4 * self.hidden;
        let mut out = Vec::with_capacity(8 * self.layers.min(MAX_LAYERS) + 2);
        for k in 0..self.layers {
            let input = if k == 0 { self.lstm_input_dim() } else { 2 * self.hidden };
            for suffix in ["", "_reverse"] {
                out.push((format!("lstm.weight_ih_l{k}{suffix}"), vec![h4, input]));
                out.push((format!("lstm.weight_hh_l{k}{suffix}"), vec![h4, self.hidden]));
                out.push((format!("lstm.bias_ih_l{k}{suffix}"), vec![h4]));
                out.push((format!("lstm.bias_hh_l{k}{suffix}"), vec![h4]));
            }
        }
        out.push(("proj.weight".into(), vec![self.num_labels, 2 * self.hidden]));
        out.push(("proj.bias".into(), vec![self.num_labels]));
        out
    }

    /// Scalars in all parameters, or None when that overflows `usize` (only possible for
    /// dimensions [`Self::validate`] refuses).
    pub fn param_count(&self) -> Option<usize> {
        let (d, h, v) = (self.lstm_input_dim_checked()?, self.hidden, self.num_labels);
        let h4 = h.checked_mul(4)?;
        let layer = |input: usize| -> Option<usize> {
            // weight_ih + weight_hh + two biases, per direction
            let per_dir = h4.checked_mul(input.checked_add(h)?.checked_add(2)?)?;
            per_dir.checked_mul(2)
        };
        let mut total = layer(d)?;
        for _ in 1..self.layers {
            total = total.checked_add(layer(h.checked_mul(2)?)?)?;
        }
        total.checked_add(v.checked_mul(h.checked_mul(2)?.checked_add(1)?)?)
    }

    fn lstm_input_dim_checked(&self) -> Option<usize> {
        self.input_dim.checked_mul(self.stack_frames)
    }
}

/// Every parameter of the model; the same struct holds gradients and optimizer moments.
#[derive(Clone, Debug, PartialEq)]
pub struct AcousticParams<F> {
    /// L bidirectional layers.
    pub lstm: Vec<BiLstm<F>>,
    /// (V, 2H) weight and (V) bias.
    pub proj: Linear<F>,
}

impl<F: Float> AcousticParams<F> {
    /// All zeros (a gradient accumulator or optimizer moment for this architecture).
    pub fn zeros(cfg: &ArchConfig) -> Self {
        let lstm = (0..cfg.layers)
            .map(|l| {
                BiLstm::zeros(
                    if l == 0 { cfg.lstm_input_dim() } else { 2 * cfg.hidden },
                    cfg.hidden,
                )
            })
            .collect();
        AcousticParams { lstm, proj: Linear::zeros(2 * cfg.hidden, cfg.num_labels) }
    }

    /// Seeded PyTorch-like initialization (layers in order, forward direction before reverse,
    /// then the projection).
    pub fn init(cfg: &ArchConfig) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
        let lstm = (0..cfg.layers)
            .map(|l| {
                let input = if l == 0 { cfg.lstm_input_dim() } else { 2 * cfg.hidden };
                BiLstm::init(input, cfg.hidden, cfg.forget_bias, &mut rng)
            })
            .collect();
        AcousticParams { lstm, proj: Linear::init(2 * cfg.hidden, cfg.num_labels, &mut rng) }
    }

    /// (PyTorch name, shape, values) of every tensor, in the one order:
    /// `lstm.{weight_ih,weight_hh,bias_ih,bias_hh}_l{k}`, then the same with `_reverse`, for each
    /// layer k; then `proj.weight`, `proj.bias`.
    pub fn tensors(&self) -> Vec<(String, &[usize], &[F])> {
        let mut out = Vec::new();
        for (k, layer) in self.lstm.iter().enumerate() {
            for (dir, suffix) in [(&layer.fwd, ""), (&layer.bwd, "_reverse")] {
                for (name, shape, v) in dir.tensors() {
                    out.push((format!("lstm.{name}_l{k}{suffix}"), shape, v));
                }
            }
        }
        for (name, shape, v) in self.proj.tensors() {
            out.push((format!("proj.{name}"), shape, v));
        }
        out
    }

    /// The same tensors as `tensors`, mutable, in the same order.
    pub fn tensors_mut(&mut self) -> Vec<&mut [F]> {
        let mut out = Vec::new();
        for layer in &mut self.lstm {
            out.extend(layer.fwd.tensors_mut());
            out.extend(layer.bwd.tensors_mut());
        }
        out.extend(self.proj.tensors_mut());
        out
    }

    /// The values of `tensors`, in the same order.
    pub fn as_slices(&self) -> Vec<&[F]> {
        self.tensors().into_iter().map(|(_, _, v)| v).collect()
    }

    /// Sets every element to zero (clear the gradient before a backward pass, which adds).
    pub fn zero(&mut self) {
        self.tensors_mut().into_iter().for_each(|t| t.fill(F::zero()));
    }

    /// Total number of scalars.
    pub fn len(&self) -> usize {
        self.as_slices().iter().map(|s| s.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn cast<G: Float>(&self) -> AcousticParams<G> {
        AcousticParams {
            lstm: self.lstm.iter().map(BiLstm::cast).collect(),
            proj: self.proj.cast(),
        }
    }
}

/// The acoustic model: its architecture and its parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct AcousticModel<F> {
    pub config: ArchConfig,
    /// Read freely; change through [`Self::params_mut`], which also drops the packed weights
    /// that inference keeps.
    pub params: AcousticParams<F>,
    packed: PackCache<F>,
}

/// The LSTM layers' weights packed for inference, made by the first [`AcousticModel::infer`]
/// and kept for the next ones (a model that only runs packs its 8.6 M LSTM weights
/// once instead of on every utterance: a tenth of the decoding time on short utterances).
/// Dropped by [`AcousticModel::params_mut`] (change the weights only through it), empty in a
/// clone, ignored by `==`. A
/// packing holds the vector level it was made for; run at another level (a test lowering it),
/// the pass packs afresh.
struct PackCache<F>(OnceLock<(Simd, Arc<Vec<BiLstmPacked<F>>>)>);

impl<F> Default for PackCache<F> {
    fn default() -> Self {
        PackCache(OnceLock::new())
    }
}

impl<F> Clone for PackCache<F> {
    fn clone(&self) -> Self {
        PackCache::default()
    }
}

impl<F> PartialEq for PackCache<F> {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl<F> std::fmt::Debug for PackCache<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.get().is_some() { "PackCache(packed)" } else { "PackCache(empty)" })
    }
}

impl<F: Float> PackCache<F> {
    /// The packed layers of `params` for the current vector level.
    fn get(&self, params: &AcousticParams<F>) -> Arc<Vec<BiLstmPacked<F>>> {
        let pack =
            || Arc::new(params.lstm.iter().map(BiLstm::pack_for_inference).collect::<Vec<_>>());
        let (level, packed) = self.0.get_or_init(|| (Simd::active(), pack()));
        if *level == Simd::active() { Arc::clone(packed) } else { pack() }
    }
}

/// What `AcousticModel::backward` needs from the forward pass.
#[derive(Debug)]
pub struct AcousticCache<F> {
    /// T
    t_in: usize,
    /// (B) input lengths
    lengths: Vec<usize>,
    /// (B) lengths after subsampling
    out_lengths: Vec<usize>,
    /// Per LSTM layer: the dropout applied to its input (None for layer 0) and its cache.
    layers: Vec<(Option<DropoutCache<F>>, BiLstmCache<F>)>,
    proj: LinearCache<F>,
}

impl<F: Float> AcousticModel<F> {
    /// A freshly initialized model (seeded by `config.seed`).
    pub fn new(config: ArchConfig) -> Result<Self> {
        config.validate()?;
        let params = AcousticParams::init(&config);
        Ok(AcousticModel { config, params, packed: PackCache::default() })
    }

    /// A model of these parameters (their shapes must be `config`'s).
    pub(crate) fn from_parts(config: ArchConfig, params: AcousticParams<F>) -> Self {
        AcousticModel { config, params, packed: PackCache::default() }
    }

    /// A model from named tensors (as read from a model file at `source`): every expected name
    /// must be present once with the expected shape, and nothing else.
    pub fn from_named(
        config: ArchConfig,
        tensors: Vec<NamedTensor<F>>,
        source: &Path,
    ) -> Result<Self> {
        config.validate()?;
        let values = take_expected(&config.param_shapes(), tensors, source)?;
        let mut params = AcousticParams::zeros(&config);
        for (dst, src) in params.tensors_mut().into_iter().zip(values) {
            dst.copy_from_slice(&src);
        }
        Ok(AcousticModel { config, params, packed: PackCache::default() })
    }

    /// (PyTorch name, shape, values) of every parameter, in the one parameter order.
    pub fn params(&self) -> Vec<(String, &[usize], &[F])> {
        self.params.tensors()
    }

    /// Every parameter as a mutable contiguous slice, in the same order as `params`.
    pub fn params_mut(&mut self) -> Vec<&mut [F]> {
        self.packed = PackCache::default();
        self.params.tensors_mut()
    }

    /// A zeroed gradient accumulator matching this model.
    pub fn new_grads(&self) -> AcousticParams<F> {
        AcousticParams::zeros(&self.config)
    }

    /// The whole model in another float type (f32 ↔ f64 for gradient checks).
    pub fn cast<G: Float>(&self) -> AcousticModel<G> {
        AcousticModel {
            config: self.config.clone(),
            params: self.params.cast(),
            packed: PackCache::default(),
        }
    }

    /// Output frames per utterance: ceil(len / subsample).
    pub fn out_lengths(&self, lengths: &[usize]) -> Vec<usize> {
        stacked_lengths(lengths, self.config.subsample)
    }

    /// x (T, B, D) with `lengths` (B) valid frames each → logits (T', B, V). Logits at padded
    /// frames (t ≥ out_lengths[b]) are the bias alone and must be ignored. `train` turns dropout
    /// on (drawn from `rng`).
    pub fn forward(
        &self,
        x: ArrayView3<F>,
        lengths: &[usize],
        train: bool,
        rng: &mut impl Rng,
    ) -> Result<(Array3<F>, AcousticCache<F>)> {
        self.forward_with(None, x, lengths, train, rng)
    }

    /// Logits (T', B, V) for recognition only, no backward pass to follow: the forward pass
    /// without dropout, on LSTM weights packed once and kept ([`BiLstm::pack_for_inference`],
    /// where the recurrent weights are in half precision: outputs within rounding of
    /// [`Self::forward`]'s, not equal to them).
    pub fn infer(&self, x: ArrayView3<F>, lengths: &[usize]) -> Result<Array3<F>> {
        let packed = self.packed.get(&self.params);
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        Ok(self.forward_with(Some(&packed), x, lengths, false, &mut rng)?.0)
    }

    fn forward_with(
        &self,
        packed: Option<&[BiLstmPacked<F>]>,
        x: ArrayView3<F>,
        lengths: &[usize],
        train: bool,
        rng: &mut impl Rng,
    ) -> Result<(Array3<F>, AcousticCache<F>)> {
        let cfg = &self.config;
        let (t_in, b, d) = x.dim();
        if d != cfg.input_dim {
            return Err(Error::Options(format!(
                "features have {d} values per frame, the model expects {}",
                cfg.input_dim
            )));
        }
        if lengths.len() != b {
            return Err(Error::Options(format!(
                "{} lengths given for a batch of {b}",
                lengths.len()
            )));
        }
        if let Some((i, &l)) = lengths.iter().enumerate().find(|&(_, &l)| l > t_in) {
            return Err(Error::Options(format!(
                "utterance {i} has length {l} > {t_in} padded frames"
            )));
        }
        let out_lengths = self.out_lengths(lengths);
        let mut z = if cfg.stack_frames == 1 && cfg.subsample == 1 {
            x.to_owned()
        } else {
            stack_forward(x, lengths, cfg.stack_frames, cfg.subsample)
        };
        let mut layers = Vec::with_capacity(cfg.layers);
        for (l, layer) in self.params.lstm.iter().enumerate() {
            let drop = if l > 0 {
                let (y, dc) = dropout_forward(z, cfg.dropout, train, rng);
                z = y;
                Some(dc)
            } else {
                None
            };
            let (y, c) = layer.forward_with(packed.map(|p| &p[l]), z.view(), &out_lengths);
            z = y;
            layers.push((drop, c));
        }
        let (t_out, _, h2) = z.dim();
        let z2 = z.into_shape_with_order((t_out * b, h2)).expect("standard layout");
        let (logits, proj) = self.params.proj.forward(z2.view());
        let logits =
            logits.into_shape_with_order((t_out, b, cfg.num_labels)).expect("standard layout");
        Ok((logits, AcousticCache { t_in, lengths: lengths.to_vec(), out_lengths, layers, proj }))
    }

    /// d loss / d logits (T', B, V) → d loss / d x (T, B, D); ADDS every parameter gradient
    /// into `grads`. Gradients at padded frames are ignored (treated as zero).
    pub fn backward(
        &self,
        cache: AcousticCache<F>,
        d_logits: ArrayView3<F>,
        grads: &mut AcousticParams<F>,
    ) -> Array3<F> {
        let cfg = &self.config;
        let AcousticCache { t_in, lengths, out_lengths, layers, proj } = cache;
        let (t_out, b, v) = d_logits.dim();
        debug_assert_eq!((b, v), (lengths.len(), cfg.num_labels));
        let mut dl = d_logits.to_owned();
        for (bi, &len) in out_lengths.iter().enumerate() {
            for t in len..t_out {
                dl.index_axis_mut(Axis(0), t).row_mut(bi).fill(F::zero());
            }
        }
        let dl2 = dl.into_shape_with_order((t_out * b, v)).expect("standard layout");
        let dz = self.params.proj.backward(proj, dl2.view(), &mut grads.proj);
        let mut dz = dz.into_shape_with_order((t_out, b, 2 * cfg.hidden)).expect("standard layout");
        for ((layer, g), (drop, c)) in
            self.params.lstm.iter().zip(grads.lstm.iter_mut()).zip(layers).rev()
        {
            dz = layer.backward(c, dz.view(), g);
            if let Some(dc) = drop {
                dz = dropout_backward(dc, dz.view());
            }
        }
        if cfg.stack_frames == 1 && cfg.subsample == 1 {
            dz
        } else {
            stack_backward(dz.view(), &lengths, cfg.stack_frames, cfg.subsample, t_in)
        }
    }

    /// Log-probabilities (T', B, V) from logits, for the decoders.
    pub fn log_probs(logits: ArrayView3<F>) -> Array3<F> {
        let (t, b, v) = logits.dim();
        let l2 = logits.as_standard_layout();
        let l2 = l2.view().into_shape_with_order((t * b, v)).expect("standard layout");
        log_softmax(l2).into_shape_with_order((t, b, v)).expect("standard layout")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn param_shapes_are_the_tensors_shapes_and_count() {
        for (input_dim, hidden, layers, stack_frames, num_labels) in
            [(39, 8, 1, 1, 29), (13, 5, 3, 3, 7), (4, 1, 2, 2, 2)]
        {
            let cfg = ArchConfig {
                input_dim,
                hidden,
                layers,
                stack_frames,
                num_labels,
                ..Default::default()
            };
            let made: Vec<(String, Vec<usize>)> = AcousticParams::<f32>::zeros(&cfg)
                .tensors()
                .into_iter()
                .map(|(n, s, _)| (n, s.to_vec()))
                .collect();
            assert_eq!(cfg.param_shapes(), made);
            assert_eq!(cfg.param_count(), Some(AcousticParams::<f32>::zeros(&cfg).len()));
        }
    }

    #[test]
    fn absurd_dimensions_are_refused_before_allocation() {
        let huge = ArchConfig { hidden: 1_000_000_000, ..Default::default() };
        let e = huge.validate().unwrap_err().to_string();
        assert!(e.contains("arch.hidden is 1000000000"), "{e}");
        let wide = ArchConfig { hidden: 8192, layers: 64, ..Default::default() };
        assert!(wide.validate().unwrap_err().to_string().contains("parameters"));
        let overflow = ArchConfig { hidden: usize::MAX / 2, ..Default::default() };
        assert_eq!(overflow.param_count(), None);
        assert!(overflow.validate().is_err());
        assert!(ArchConfig::default().validate().is_ok());
    }
}
