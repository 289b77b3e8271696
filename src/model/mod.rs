//! Models: the acoustic network, its config, and the files they live in.
//!
//! A model on disk is `DIR/model.json` + `DIR/model.safetensors` (or `NAME.json` +
//! `NAME.safetensors`); see [`file::ModelPaths`]. [`Model`] ties the config and the network
//! together and turns 16 kHz samples into per-frame log-probabilities.

pub mod acoustic;
pub mod average;
pub mod config;
pub mod file;
pub mod widen;

use std::path::{Path, PathBuf};

use ndarray::{Array2, ArrayView2, Axis};

pub use acoustic::{AcousticModel, ArchConfig};
pub use config::{Evaluation, ModelConfig, TrainingInfo, TrainingStage};
pub use file::ModelPaths;

use crate::Result;
use crate::features;

/// Environment variable that names a model to use instead of the shipped default.
pub const MODEL_ENV: &str = "HARK_MODEL";

/// Where the shipped default model is looked for, in order: `$HARK_MODEL`; `models/default`
/// next to the executable, or three levels up from it (`target/release/hark` in a source tree);
/// and the source tree this binary was built from.
pub fn default_model_candidates() -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Some(p) = std::env::var_os(MODEL_ENV).filter(|p| !p.is_empty()) {
        out.push(PathBuf::from(p));
    }
    if let Ok(exe) = std::env::current_exe() {
        let mut dir = exe.parent().map(Path::to_path_buf);
        for _ in 0..4 {
            let Some(d) = dir else { break };
            out.push(d.join("models").join("default"));
            dir = d.parent().map(Path::to_path_buf);
        }
    }
    out.push(Path::new(env!("CARGO_MANIFEST_DIR")).join("models").join("default"));
    out
}

/// The first of [`default_model_candidates`] that holds a model (`$HARK_MODEL` is returned even
/// when it does not exist, so that loading it reports the user's own path), or `None`.
pub fn default_model_dir() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(MODEL_ENV).filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    default_model_candidates().into_iter().find(|d| ModelPaths::resolve(d).config.is_file())
}

/// A loaded (or new) model: config + f32 network.
#[derive(Clone, Debug)]
pub struct Model {
    pub config: ModelConfig,
    pub net: AcousticModel<f32>,
    /// Where it was loaded from (None for a model made in memory).
    pub source: Option<PathBuf>,
}

impl Model {
    /// A new model with seeded random weights (`config.arch.seed`).
    pub fn new(config: ModelConfig) -> Result<Self> {
        config.validate(Path::new("<new model>"))?;
        let net = AcousticModel::new(config.arch.clone())?;
        Ok(Model { config, net, source: None })
    }

    /// Loads `path` (a model directory, or `NAME.json`/`NAME.safetensors`), checking the config
    /// and then every tensor's name and shape before the weights are read.
    pub fn load(path: &Path) -> Result<Self> {
        let paths = ModelPaths::resolve(path);
        if !paths.config.is_file() {
            return Err(crate::Error::model(
                path,
                format!(
                    "no model here: expected a directory holding model.json and \
                     model.safetensors, or NAME.json with NAME.safetensors (missing {})",
                    paths.config.display()
                ),
            ));
        }
        let (config, tensors) = file::load_model::<ModelConfig>(path, |c: &ModelConfig| {
            c.validate(&paths.config)?;
            Ok(c.arch.param_shapes())
        })?;
        let named = tensors.into_iter().map(|t| (t.name, t.shape, t.data)).collect();
        let net = AcousticModel::from_named(config.arch.clone(), named, &paths.weights)?;
        Ok(Model { config, net, source: Some(path.to_path_buf()) })
    }

    /// Writes weights then config, each atomically (see [`file::save_model`]).
    pub fn save(&self, path: &Path) -> Result<ModelPaths> {
        let params = self.net.params();
        let tensors: Vec<file::TensorRef<'_>> = params
            .iter()
            .map(|(name, shape, data)| file::TensorRef { name, shape, data })
            .collect();
        file::save_model(path, &self.config, &tensors)
    }

    /// Network input features of 16 kHz samples: MFCC (+Δ, ΔΔ) and the model's normalization.
    pub fn features(&self, samples: &[f32]) -> Result<Array2<f32>> {
        features::compute_with(&self.config.features, self.config.cmvn.as_ref(), samples)
    }

    /// `(T', V)` log-probabilities of 16 kHz samples, averaged over an ensemble of
    /// frequency-warped views: for each factor in `warps` the features go through a mel
    /// filterbank warped by it ([`features::compute_warped`], the VTLP warp), and the network's
    /// per-frame probabilities are averaged, `ln(1/K · Σₖ exp(lpₖ))`. Warping moves formants as a
    /// longer or shorter vocal tract would, so voices unlike the training voices are also seen
    /// nearer to them. Empty `warps` (or `[1]`) is the single unwarped pass, bit-identical to
    /// [`Self::features`] + [`Self::log_probs`]. The K warped views have the same number of
    /// frames, so they go through the network as one batch of K: each recurrent step then reads
    /// the weights once for all K (the per-step product is memory-bound), and the result equals K
    /// separate passes.
    pub fn ensemble_log_probs(&self, samples: &[f32], warps: &[f64]) -> Result<Array2<f32>> {
        let (opts, cmvn) = (&self.config.features, self.config.cmvn.as_ref());
        let feats = |w| features::compute_warped(opts, cmvn, samples, w);
        if warps.len() <= 1 {
            return self.log_probs(feats(warps.first().copied().unwrap_or(1.0))?.view());
        }
        let views = warps.iter().map(|&w| feats(w)).collect::<Result<Vec<_>>>()?;
        let views: Vec<_> = views.iter().map(|v| v.view()).collect();
        let passes = self.log_probs_batch(&views)?;
        // Log of the mean probability, shifted by each cell's largest log-probability.
        let ln_k = (warps.len() as f32).ln();
        let mut out = passes[0].clone();
        out.indexed_iter_mut().for_each(|(ix, v)| {
            let m = passes.iter().map(|p| p[ix]).fold(f32::NEG_INFINITY, f32::max);
            let sum: f32 = passes.iter().map(|p| (p[ix] - m).exp()).sum();
            *v = m + sum.ln() - ln_k;
        });
        Ok(out)
    }

    /// Seconds per network output frame.
    pub fn frame_duration_s(&self) -> f32 {
        self.config.frame_duration_s()
    }

    /// `(T', V)` log-probabilities of several `(T, D)` feature matrices with the same `T`, run
    /// through the network as one batch (equal to calling [`Self::log_probs`] on each).
    fn log_probs_batch(&self, feats: &[ArrayView2<f32>]) -> Result<Vec<Array2<f32>>> {
        let t = feats.first().map_or(0, |f| f.nrows());
        if let Some(f) = feats.iter().find(|f| f.nrows() != t) {
            return Err(crate::Error::Options(format!(
                "a batch of views needs equal lengths, got {} and {t} frames",
                f.nrows()
            )));
        }
        if t == 0 {
            let empty = Array2::zeros((0, self.config.arch.num_labels));
            return Ok(vec![empty; feats.len()]);
        }
        let views: Vec<_> = feats.iter().map(|f| f.insert_axis(Axis(1))).collect();
        let x = ndarray::concatenate(Axis(1), &views)
            .map_err(|e| crate::Error::Options(format!("batching feature views: {e}")))?;
        let logits = self.net.infer(x.view(), &vec![t; feats.len()])?;
        let lp = AcousticModel::log_probs(logits.view());
        Ok(lp.axis_iter(Axis(1)).map(|v| v.to_owned()).collect())
    }

    /// [`Self::log_probs`] through the training forward pass, in f32 throughout (no kept packing,
    /// no half-precision recurrent weights): for comparing Hark's network with another
    /// implementation of it (`hark torch logprobs`), not for recognition.
    pub fn log_probs_exact(&self, feats: ArrayView2<f32>) -> Result<Array2<f32>> {
        let x = feats.insert_axis(Axis(1));
        let mut rng = <rand_chacha::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(0);
        let (logits, _) = self.net.forward(x, &[feats.nrows()], false, &mut rng)?;
        let lp = AcousticModel::log_probs(logits.view());
        Ok(lp.index_axis(Axis(1), 0).to_owned())
    }

    /// `(T', V)` log-probabilities of one utterance's `(T, D)` features (a batch of one).
    pub fn log_probs(&self, feats: ArrayView2<f32>) -> Result<Array2<f32>> {
        let mut lp = self.log_probs_batch(&[feats])?;
        Ok(lp.pop().expect("one result per view"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ctc::Alphabet;
    use crate::features::FeatureOptions;

    /// A seeded 1-layer BiLSTM over the default features, its projection scaled up so its
    /// outputs move with the input; and a second of a gliding harmonic tone.
    fn model_and_signal() -> (Model, Vec<f32>) {
        let arch = ArchConfig { hidden: 8, layers: 1, seed: 3, dropout: 0.0, ..Default::default() };
        let mut m =
            Model::new(ModelConfig::new(arch, FeatureOptions::default(), Alphabet::default()))
                .unwrap();
        let mut params = m.net.params_mut();
        let n = params.len();
        params[n - 2].iter_mut().for_each(|w| *w *= 12.0);
        let x = (0..16_000)
            .map(|i| {
                let t = i as f32 / 16_000.0;
                let f0 = 120.0 + 80.0 * t;
                (1..12)
                    .map(|h| (std::f32::consts::TAU * f0 * h as f32 * t).sin() / h as f32)
                    .sum::<f32>()
                    * 0.1
            })
            .collect();
        (m, x)
    }

    #[test]
    fn warp_ensemble_averages_the_probabilities_of_its_passes() {
        let (m, x) = model_and_signal();
        let plain = m.log_probs(m.features(&x).unwrap().view()).unwrap();
        assert_eq!(m.ensemble_log_probs(&x, &[]).unwrap(), plain);
        assert_eq!(m.ensemble_log_probs(&x, &[1.0]).unwrap(), plain);
        let warps = [0.9, 1.0, 1.1];
        let passes: Vec<_> =
            warps.iter().map(|&w| m.ensemble_log_probs(&x, &[w]).unwrap()).collect();
        // The warped passes hear something else, or the average below would prove nothing.
        let moved = (&passes[0] - &plain).mapv(f32::abs).fold(0.0f32, |a, &b| a.max(b));
        assert!(moved > 0.05, "a 0.9 warp changed the log-probabilities by only {moved}");
        let ens = m.ensemble_log_probs(&x, &warps).unwrap();
        assert_eq!(ens.dim(), plain.dim());
        for (ix, &e) in ens.indexed_iter() {
            let mean = passes.iter().map(|p| p[ix].exp()).sum::<f32>() / 3.0;
            assert!((e.exp() - mean).abs() < 1e-6, "{ix:?}: {} vs {mean}", e.exp());
        }
        for row in ens.rows() {
            let total: f32 = row.iter().map(|v| v.exp()).sum();
            assert!((total - 1.0).abs() < 1e-4, "a frame's probabilities sum to {total}");
        }
        let e = m.ensemble_log_probs(&x, &[0.9, 1.3]).unwrap_err().to_string();
        assert!(e.contains("1.3"), "{e}");
    }

    /// The batch the warp ensemble runs equals separate passes, on a network wide and deep enough
    /// for the blocked kernels (several rows and column panels) and the stacked layers.
    #[test]
    fn a_batch_of_views_equals_separate_passes() {
        let arch =
            ArchConfig { hidden: 40, layers: 2, seed: 5, dropout: 0.0, ..Default::default() };
        let m = Model::new(ModelConfig::new(arch, FeatureOptions::default(), Alphabet::default()))
            .unwrap();
        let (_, x) = model_and_signal();
        let (opts, cmvn) = (&m.config.features, m.config.cmvn.as_ref());
        let views: Vec<_> = [0.9, 1.0, 1.1]
            .iter()
            .map(|&w| features::compute_warped(opts, cmvn, &x, w).unwrap())
            .collect();
        let batch = m.log_probs_batch(&views.iter().map(|v| v.view()).collect::<Vec<_>>()).unwrap();
        assert_eq!(batch.len(), 3);
        for (v, b) in views.iter().zip(&batch) {
            let alone = m.log_probs(v.view()).unwrap();
            assert_eq!(alone.dim(), b.dim());
            let diff = (&alone - b).mapv(f32::abs).fold(0.0f32, |a, &d| a.max(d));
            assert!(diff < 1e-5, "batched and separate passes differ by {diff}");
        }
        let short = views[0].slice(ndarray::s![..10, ..]);
        let e = m.log_probs_batch(&[views[1].view(), short]).unwrap_err().to_string();
        assert!(e.contains("equal lengths"), "{e}");
    }

    #[test]
    fn exact_log_probs_are_the_training_pass_and_recognition_is_within_rounding_of_them() {
        let (m, x) = model_and_signal();
        let f = m.features(&x).unwrap();
        let exact = m.log_probs_exact(f.view()).unwrap();
        let x3 = f.view().insert_axis(Axis(1));
        let mut rng = <rand_chacha::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(1);
        let (logits, _) = m.net.forward(x3, &[f.nrows()], false, &mut rng).unwrap();
        let lp = AcousticModel::log_probs(logits.view());
        assert_eq!(exact, lp.index_axis(Axis(1), 0));
        let used = m.log_probs(f.view()).unwrap();
        let diff = (&used - &exact).mapv(f32::abs).fold(0.0f32, |a, &d| a.max(d));
        assert!(diff < 1e-3, "recognition's pass differs from the exact one by {diff}");
    }
}
