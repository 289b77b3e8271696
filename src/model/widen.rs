//! Growing a trained model wider without changing what it computes (Net2WiderNet, Chen,
//! Goodfellow & Shlens 2016, applied to a bidirectional LSTM).
//!
//! Each direction of each layer goes from `H` to `H'` units: unit `j < H` stays unit `j`, each new
//! unit `j ≥ H` copies a randomly chosen old unit `g(j)`: same incoming weights (input and
//! recurrent rows of all four gates) and biases. A copy and its original then receive the same
//! gate inputs, so they hold the same cell state and output at every step. Every weight that
//! *reads* an output (the recurrent columns, the next layer's input columns, the projection's
//! columns) is divided among the `c(i)` units that now carry old output `i`, so every sum over
//! them is unchanged and the widened network computes the same logits. Training then gives the
//! extra units their own roles: dropout between layers and small noise on the copies' incoming
//! weights make the copies' gradients differ.

use ndarray::{Array1, Array2};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::model::acoustic::{AcousticModel, AcousticParams, ArchConfig};
use crate::nn::Float;
use crate::nn::bilstm::BiLstm;
use crate::nn::linear::Linear;
use crate::nn::lstm::Lstm;
use crate::{Error, Result};

/// Where the new units of one direction come from: `source[j]` is the old unit new unit `j`
/// copies (`j` itself for `j < H`), `share[i]` is `1 / (number of new units copying old unit i)`.
struct UnitMap {
    source: Vec<usize>,
    share: Vec<f64>,
}

impl UnitMap {
    fn new(old: usize, new: usize, rng: &mut impl Rng) -> Self {
        let mut source: Vec<usize> = (0..old).collect();
        source.extend((old..new).map(|_| rng.random_range(0..old)));
        let mut count = vec![0usize; old];
        for &s in &source {
            count[s] += 1;
        }
        UnitMap { source, share: count.iter().map(|&c| 1.0 / c as f64).collect() }
    }

    /// For the columns of a weight that reads a bidirectional output `[fwd; bwd]` (2H wide):
    /// (old column, factor) of every new column.
    fn bidirectional_columns(fwd: &UnitMap, bwd: &UnitMap) -> Vec<(usize, f64)> {
        let old = fwd.share.len();
        let f = fwd.source.iter().map(|&s| (s, fwd.share[s]));
        let b = bwd.source.iter().map(|&s| (old + s, bwd.share[s]));
        f.chain(b).collect()
    }
}

impl<F: Float> AcousticModel<F> {
    /// This model with `hidden` units per direction instead of `config.hidden` (≥), computing the
    /// same function up to rounding when `noise` is 0. `noise` > 0 multiplies each incoming weight
    /// of a copied unit by `1 + noise · u`, `u` uniform in (−1, 1), to break the symmetry between
    /// copies. Which units are copied is drawn from `seed`.
    pub fn widen(&self, hidden: usize, noise: f64, seed: u64) -> Result<AcousticModel<F>> {
        let old = self.config.hidden;
        if hidden < old {
            return Err(Error::Options(format!(
                "cannot widen a model of {old} units per direction to {hidden}: a wider model \
                 needs more units"
            )));
        }
        if !(0.0..1.0).contains(&noise) {
            return Err(Error::Options(format!("widening noise must be in [0, 1), got {noise}")));
        }
        let config = ArchConfig { hidden, ..self.config.clone() };
        config.validate()?;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut lstm = Vec::with_capacity(self.params.lstm.len());
        // Column map of the current layer's input: identity (unscaled) for the features.
        let input_dim = self.config.lstm_input_dim();
        let mut columns: Vec<(usize, f64)> = (0..input_dim).map(|c| (c, 1.0)).collect();
        for layer in &self.params.lstm {
            let fwd_map = UnitMap::new(old, hidden, &mut rng);
            let bwd_map = UnitMap::new(old, hidden, &mut rng);
            let fwd = widen_direction(&layer.fwd, &fwd_map, &columns, noise, &mut rng);
            let bwd = widen_direction(&layer.bwd, &bwd_map, &columns, noise, &mut rng);
            lstm.push(BiLstm { fwd, bwd });
            columns = UnitMap::bidirectional_columns(&fwd_map, &bwd_map);
        }
        let proj = &self.params.proj;
        let weight = Array2::from_shape_fn((proj.weight.nrows(), columns.len()), |(v, c)| {
            let (src, factor) = columns[c];
            scale(proj.weight[[v, src]], factor)
        });
        let params = AcousticParams { lstm, proj: Linear { weight, bias: proj.bias.clone() } };
        Ok(AcousticModel::from_parts(config, params))
    }
}

fn scale<F: Float>(x: F, factor: f64) -> F {
    F::from_f64_lossy(x.to_f64_lossy() * factor)
}

/// One direction widened: rows (gate units) by `units`, input columns by `columns`, recurrent
/// columns by `units` (divided among copies).
fn widen_direction<F: Float>(
    old: &Lstm<F>,
    units: &UnitMap,
    columns: &[(usize, f64)],
    noise: f64,
    rng: &mut impl Rng,
) -> Lstm<F> {
    let (h_old, h_new) = (units.share.len(), units.source.len());
    let row = |r: usize| (r / h_new) * h_old + units.source[r % h_new];
    let mut jitter = |r: usize| {
        if r % h_new >= h_old && noise > 0.0 {
            1.0 + noise * rng.random_range(-1.0..1.0)
        } else {
            1.0
        }
    };
    let mut w_ih = Array2::<F>::zeros((4 * h_new, columns.len()));
    let mut w_hh = Array2::<F>::zeros((4 * h_new, h_new));
    for r in 0..4 * h_new {
        let src = row(r);
        for (c, &(src_c, factor)) in columns.iter().enumerate() {
            w_ih[[r, c]] = scale(old.w_ih[[src, src_c]], factor * jitter(r));
        }
        for (c, &src_c) in units.source.iter().enumerate() {
            w_hh[[r, c]] = scale(old.w_hh[[src, src_c]], units.share[src_c] * jitter(r));
        }
    }
    let b_ih = Array1::from_shape_fn(4 * h_new, |r| old.b_ih[row(r)]);
    let b_hh = Array1::from_shape_fn(4 * h_new, |r| old.b_hh[row(r)]);
    Lstm { w_ih, w_hh, b_ih, b_hh }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array3;

    fn small(hidden: usize, layers: usize) -> AcousticModel<f64> {
        let cfg = ArchConfig {
            input_dim: 5,
            hidden,
            layers,
            stack_frames: 2,
            subsample: 2,
            num_labels: 7,
            seed: 3,
            ..ArchConfig::default()
        };
        AcousticModel::<f32>::new(cfg).unwrap().cast()
    }

    fn logits(m: &AcousticModel<f64>, x: &Array3<f64>, lengths: &[usize]) -> Array3<f64> {
        m.forward(x.view(), lengths, false, &mut ChaCha8Rng::seed_from_u64(0)).unwrap().0
    }

    #[test]
    fn widened_model_computes_the_same_logits() {
        let m = small(6, 3);
        let x = Array3::from_shape_fn((17, 3, 5), |(t, b, d)| {
            ((t * 7 + b * 3 + d) as f64 * 0.37).sin() * 2.0
        });
        let lengths = [17, 11, 4];
        let want = logits(&m, &x, &lengths);
        for hidden in [6, 7, 13] {
            let w = m.widen(hidden, 0.0, 9).unwrap();
            assert_eq!(w.config.hidden, hidden);
            assert_eq!(w.params.lstm[1].fwd.w_ih.dim(), (4 * hidden, 2 * hidden));
            assert_eq!(w.params.proj.weight.ncols(), 2 * hidden);
            let got = logits(&w, &x, &lengths);
            let diff = (&got - &want).iter().fold(0.0f64, |a, v| a.max(v.abs()));
            assert!(diff < 1e-12, "hidden {hidden}: max |Δlogit| {diff}");
        }
        // With noise the copies differ a little, and so do the logits (but not by much).
        let noisy = logits(&m.widen(13, 0.01, 9).unwrap(), &x, &lengths);
        let diff = (&noisy - &want).iter().fold(0.0f64, |a, v| a.max(v.abs()));
        assert!(diff > 1e-6 && diff < 0.1, "{diff}");
    }

    #[test]
    fn widening_refuses_to_shrink_and_bad_noise() {
        let m = small(6, 1);
        assert!(m.widen(5, 0.0, 1).unwrap_err().to_string().contains("6 units"));
        assert!(m.widen(8, 1.5, 1).is_err());
        assert!(m.widen(8, f64::NAN, 1).is_err());
    }
}
