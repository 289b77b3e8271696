//! Optimization: Adam / AdamW, global-norm gradient clipping, a warm-up + reduce-on-plateau
//! learning-rate schedule, and early stopping.
//!
//! Shape legend: the optimizer sees the model as a list of `P` flat tensors, in one fixed order
//! (the order of the model's parameter list). Tensor `k` has `N_k` elements. `params[k]`,
//! `grads[k]`, `m[k]` and `v[k]` are all `(N_k,)` and walk the same list.
//!
//! Everything here is serde-serializable so a run can be resumed exactly: the step count, the
//! moments, the learning rate, the schedule's plateau state and the early-stopping counters. The
//! scalar state is kept in `f64` (serde_json round-trips `f64` exactly with `float_roundtrip`);
//! the moments are in the training scalar type `F`.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::nn::Float;
use crate::{Error, Result};

/// Hyper-parameters of Adam. With `weight_decay > 0` this is AdamW (Loshchilov & Hutter): the decay
/// is decoupled from the gradient, `p ← p·(1 − lr·λ)`, applied before the Adam update, exactly as
/// `torch.optim.AdamW` does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AdamConfig {
    /// Learning rate (the schedule overrides it through [`Adam::set_lr`]).
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    /// Added to `sqrt(v̂)` in the denominator.
    pub eps: f64,
    /// Decoupled weight decay λ (0 = plain Adam).
    pub weight_decay: f64,
    /// Tensors whose name contains any of these substrings get no weight decay (biases by default:
    /// decaying a bias towards zero is not a useful prior, and LSTM forget-gate biases are set on
    /// purpose).
    pub no_decay_name_contains: Vec<String>,
}

impl Default for AdamConfig {
    fn default() -> Self {
        AdamConfig {
            lr: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
            no_decay_name_contains: vec!["bias".to_string()],
        }
    }
}

impl AdamConfig {
    fn validate(&self) -> Result<()> {
        let bad = |field: &str, v: f64, want: &str| {
            Err(Error::Options(format!("adam.{field} = {v}: expected {want}")))
        };
        if !(self.lr.is_finite() && self.lr >= 0.0) {
            return bad("lr", self.lr, "a finite value >= 0");
        }
        if !(0.0..1.0).contains(&self.beta1) {
            return bad("beta1", self.beta1, "0 <= beta1 < 1");
        }
        if !(0.0..1.0).contains(&self.beta2) {
            return bad("beta2", self.beta2, "0 <= beta2 < 1");
        }
        if !(self.eps.is_finite() && self.eps > 0.0) {
            return bad("eps", self.eps, "a finite value > 0");
        }
        if !(self.weight_decay.is_finite() && self.weight_decay >= 0.0) {
            return bad("weight_decay", self.weight_decay, "a finite value >= 0");
        }
        Ok(())
    }
}

/// Everything about an [`Adam`] except its moments: what a checkpoint stores as JSON, with the
/// moments stored beside it as tensors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdamMeta {
    pub config: AdamConfig,
    /// Parameter names, in parameter-list order.
    pub names: Vec<String>,
    /// Element count of each parameter tensor.
    pub sizes: Vec<usize>,
    /// Number of updates taken so far (`t` in the paper; the next update uses `t + 1`).
    pub step: u64,
    /// The learning rate the next update will use.
    pub lr: f64,
}

/// Adam with bias correction and optional decoupled weight decay, over a fixed list of named tensors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound = "F: Serialize + DeserializeOwned")]
pub struct Adam<F: Float = f32> {
    meta: AdamMeta,
    /// Per tensor: does weight decay apply (derived from names and config, stored for clarity).
    decay: Vec<bool>,
    /// First moments, `(N_k,)` per tensor.
    m: Vec<Vec<F>>,
    /// Second moments (uncentered), `(N_k,)` per tensor.
    v: Vec<Vec<F>>,
}

impl<F: Float> Adam<F> {
    /// An optimizer for the tensors `(name, element count)`, in the order `step` will receive them.
    /// The moments are allocated here, zeroed.
    pub fn new(config: AdamConfig, params: &[(String, usize)]) -> Result<Self> {
        config.validate()?;
        let mut seen = std::collections::BTreeSet::new();
        for (name, _) in params {
            if !seen.insert(name.as_str()) {
                return Err(Error::Options(format!("adam: parameter name `{name}` appears twice")));
            }
        }
        let meta = AdamMeta {
            lr: config.lr,
            names: params.iter().map(|(n, _)| n.clone()).collect(),
            sizes: params.iter().map(|&(_, s)| s).collect(),
            step: 0,
            config,
        };
        let m: Vec<Vec<F>> = meta.sizes.iter().map(|&n| vec![F::zero(); n]).collect();
        let v = m.clone();
        Ok(Adam { decay: decay_mask(&meta), meta, m, v })
    }

    /// Rebuilds an optimizer from its [`AdamMeta`] and moments (a checkpoint), checking that every
    /// moment has the size the metadata declares.
    pub fn from_parts(meta: AdamMeta, m: Vec<Vec<F>>, v: Vec<Vec<F>>) -> Result<Self> {
        meta.config.validate()?;
        let p = meta.names.len();
        if meta.sizes.len() != p || m.len() != p || v.len() != p {
            return Err(Error::Options(format!(
                "adam state: {p} names but {} sizes, {} first moments, {} second moments",
                meta.sizes.len(),
                m.len(),
                v.len()
            )));
        }
        for k in 0..p {
            if m[k].len() != meta.sizes[k] || v[k].len() != meta.sizes[k] {
                return Err(Error::Options(format!(
                    "adam state: tensor `{}` has {} elements but moments of {} and {}",
                    meta.names[k],
                    meta.sizes[k],
                    m[k].len(),
                    v[k].len()
                )));
            }
        }
        if !(meta.lr.is_finite() && meta.lr >= 0.0) {
            return Err(Error::Options(format!("adam state: lr = {} is not >= 0", meta.lr)));
        }
        Ok(Adam { decay: decay_mask(&meta), meta, m, v })
    }

    /// Everything but the moments.
    pub fn meta(&self) -> &AdamMeta {
        &self.meta
    }
    /// First moments, one per tensor, in parameter order.
    pub fn first_moments(&self) -> &[Vec<F>] {
        &self.m
    }
    /// Second moments, one per tensor, in parameter order.
    pub fn second_moments(&self) -> &[Vec<F>] {
        &self.v
    }
    /// Updates taken so far.
    pub fn steps_taken(&self) -> u64 {
        self.meta.step
    }
    pub fn lr(&self) -> f64 {
        self.meta.lr
    }
    /// Sets the learning rate for the next updates (the schedule calls this every step).
    pub fn set_lr(&mut self, lr: f64) -> Result<()> {
        if !(lr.is_finite() && lr >= 0.0) {
            return Err(Error::Options(format!(
                "adam: learning rate {lr} is not a finite value >= 0"
            )));
        }
        self.meta.lr = lr;
        Ok(())
    }
    /// Whether weight decay applies to tensor `k`.
    pub fn decays(&self, k: usize) -> bool {
        self.decay.get(k).copied().unwrap_or(false)
    }

    /// Checks that `params`/`grads` match the list the optimizer was built for.
    fn check_lists(
        &self,
        sizes_p: impl Iterator<Item = usize>,
        grads: &[&[F]],
        n_p: usize,
    ) -> Result<()> {
        let p = self.meta.names.len();
        if n_p != p || grads.len() != p {
            return Err(Error::Internal(format!(
                "adam: built for {p} tensors but given {n_p} parameters and {} gradients",
                grads.len()
            )));
        }
        for (k, (np, g)) in sizes_p.zip(grads).enumerate() {
            let want = self.meta.sizes[k];
            if np != want || g.len() != want {
                return Err(Error::Internal(format!(
                    "adam: tensor `{}` should have {want} elements; parameter has {np}, gradient {}",
                    self.meta.names[k],
                    g.len()
                )));
            }
        }
        Ok(())
    }

    /// One Adam update of every tensor. Follows `torch.optim.Adam(W)`'s single-tensor code
    /// (the formulas of Kingma & Ba, Algorithm 1, with the ε outside the corrected square root):
    ///
    /// ```text
    /// t  ← t + 1
    /// p  ← p · (1 − lr·λ)                      (AdamW decay, if λ > 0 and the tensor decays)
    /// m  ← m + (1 − β1)(g − m)                 (= β1·m + (1 − β1)·g)
    /// v  ← β2·v + (1 − β2)·g²
    /// p  ← p − (lr / (1 − β1ᵗ)) · m / (sqrt(v) / sqrt(1 − β2ᵗ) + ε)
    /// ```
    /// The caller must not call this with non-finite gradients (see [`clip_grad_norm`]).
    pub fn step(&mut self, params: &mut [&mut [F]], grads: &[&[F]]) -> Result<()> {
        self.check_lists(params.iter().map(|p| p.len()), grads, params.len())?;
        let c = &self.meta.config;
        let t = self.meta.step + 1;
        let lr = self.meta.lr;
        // Bias corrections in f64, then one scalar per term in F, like torch's Python-float scalars.
        let t_i32 = i32::try_from(t).unwrap_or(i32::MAX);
        let bc1 = 1.0 - c.beta1.powi(t_i32);
        let bc2_sqrt = (1.0 - c.beta2.powi(t_i32)).sqrt();
        let step_size = F::from_f64_lossy(lr / bc1);
        let bc2_sqrt = F::from_f64_lossy(bc2_sqrt);
        let eps = F::from_f64_lossy(c.eps);
        let one_minus_b1 = F::from_f64_lossy(1.0 - c.beta1);
        let b2 = F::from_f64_lossy(c.beta2);
        let one_minus_b2 = F::from_f64_lossy(1.0 - c.beta2);
        let decay = F::from_f64_lossy(1.0 - lr * c.weight_decay);
        let use_decay = c.weight_decay > 0.0;

        for (k, (p, g)) in params.iter_mut().zip(grads).enumerate() {
            let decay_k = use_decay && self.decay[k];
            let mv = self.m[k].iter_mut().zip(self.v[k].iter_mut());
            for ((pi, &gi), (mi, vi)) in p.iter_mut().zip(g.iter()).zip(mv) {
                if decay_k {
                    *pi = *pi * decay;
                }
                *mi = *mi + one_minus_b1 * (gi - *mi);
                *vi = *vi * b2 + one_minus_b2 * gi * gi;
                let denom = vi.sqrt() / bc2_sqrt + eps;
                *pi = *pi - step_size * (*mi / denom);
            }
        }
        self.meta.step = t;
        Ok(())
    }
}

fn decay_mask(meta: &AdamMeta) -> Vec<bool> {
    meta.names
        .iter()
        .map(|n| !meta.config.no_decay_name_contains.iter().any(|s| n.contains(s.as_str())))
        .collect()
}

/// The outcome of [`clip_grad_norm`].
#[must_use = "a non-finite gradient norm means the step must be skipped"]
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum GradNorm {
    /// The global norm before clipping, and whether the gradients were scaled down to `max_norm`.
    Finite { norm: f64, clipped: bool },
    /// The norm is NaN or infinite (the value is kept for the log). The gradients were NOT touched;
    /// the caller must skip the update (and usually counts the skipped step).
    NonFinite { norm: f64 },
}

impl GradNorm {
    pub fn is_finite(&self) -> bool {
        matches!(self, GradNorm::Finite { .. })
    }
    /// The pre-clip norm (possibly NaN or infinite).
    pub fn norm(&self) -> f64 {
        match *self {
            GradNorm::Finite { norm, .. } | GradNorm::NonFinite { norm } => norm,
        }
    }
}

/// The global L2 norm of all gradients, accumulated in f64 (eight independent partial sums, so
/// the loop vectorizes instead of waiting on one serial chain of additions).
pub fn global_norm<F: Float>(grads: &[&[F]]) -> f64 {
    let mut acc = [0.0f64; 8];
    for g in grads {
        let chunks = g.chunks_exact(8);
        let rest = chunks.remainder();
        for c in chunks {
            for (a, &x) in acc.iter_mut().zip(c) {
                let x = x.to_f64_lossy();
                *a += x * x;
            }
        }
        for (a, &x) in acc.iter_mut().zip(rest) {
            let x = x.to_f64_lossy();
            *a += x * x;
        }
    }
    acc.iter().sum::<f64>().sqrt()
}

/// Global-norm clipping: if `‖g‖₂ > max_norm` (norm over all tensors together), every gradient is
/// multiplied by `max_norm / ‖g‖₂`, so the clipped norm is `max_norm` (up to rounding in `F`; unlike
/// torch there is no `+1e-6` in the divisor). The direction is preserved, unlike per-element clipping.
/// A NaN/Inf norm leaves the gradients untouched and is reported. `max_norm <= 0` or non-finite
/// disables clipping (the norm is still computed and reported).
pub fn clip_grad_norm<F: Float>(grads: &mut [&mut [F]], max_norm: f64) -> GradNorm {
    let norm = {
        let views: Vec<&[F]> = grads.iter().map(|g| &**g).collect();
        global_norm(&views)
    };
    if !norm.is_finite() {
        return GradNorm::NonFinite { norm };
    }
    if max_norm > 0.0 && max_norm.is_finite() && norm > max_norm {
        let scale = F::from_f64_lossy(max_norm / norm);
        for g in grads.iter_mut() {
            for x in g.iter_mut() {
                *x = *x * scale;
            }
        }
        GradNorm::Finite { norm, clipped: true }
    } else {
        GradNorm::Finite { norm, clipped: false }
    }
}

/// Whether a smaller or a larger validation metric is better (CER and loss: `Min`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum MetricMode {
    #[default]
    Min,
    Max,
}

/// `a` improves on `best` by more than the relative `threshold` (torch's `threshold_mode="rel"`).
/// NaN never improves.
fn improves(mode: MetricMode, a: f64, best: Option<f64>, threshold: f64) -> bool {
    if a.is_nan() {
        return false;
    }
    match (mode, best) {
        (_, None) => true,
        (MetricMode::Min, Some(b)) => a < b * (1.0 - threshold),
        (MetricMode::Max, Some(b)) => a > b * (1.0 + threshold),
    }
}

/// Settings of [`LrSchedule`]. The plateau part has torch's `ReduceLROnPlateau` meaning
/// (`threshold_mode="rel"`), with `base_lr` as the starting learning rate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LrScheduleConfig {
    /// The learning rate after warm-up, before any reduction.
    pub base_lr: f64,
    /// Linear warm-up over this many optimizer steps (0 = none): update `s` (0-based) uses
    /// `lr · (s + 1) / warmup_steps` while `s < warmup_steps`.
    pub warmup_steps: u64,
    pub mode: MetricMode,
    /// Multiply the learning rate by this on a plateau (0 < factor < 1).
    pub factor: f64,
    /// Number of validations without improvement tolerated; the next one reduces.
    pub patience: u32,
    /// Relative improvement needed to count as better.
    pub threshold: f64,
    /// Validations to wait after a reduction before counting bad ones again.
    pub cooldown: u32,
    /// The learning rate never goes below this.
    pub min_lr: f64,
}

impl Default for LrScheduleConfig {
    fn default() -> Self {
        LrScheduleConfig {
            base_lr: 1e-3,
            warmup_steps: 0,
            mode: MetricMode::Min,
            factor: 0.5,
            patience: 2,
            threshold: 1e-4,
            cooldown: 0,
            min_lr: 1e-6,
        }
    }
}

/// Linear warm-up, then reduce-on-plateau of a validation metric.
///
/// Usage: before every update `adam.set_lr(schedule.lr_at(adam.steps_taken()))`; after every
/// validation `schedule.observe(metric)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LrSchedule {
    pub config: LrScheduleConfig,
    /// The plateau learning rate (base_lr, reduced by the plateaus so far).
    plateau_lr: f64,
    best: Option<f64>,
    num_bad: u32,
    cooldown_counter: u32,
    /// Validations observed.
    observed: u64,
    /// Reductions so far.
    reductions: u32,
}

impl LrSchedule {
    pub fn new(config: LrScheduleConfig) -> Result<Self> {
        let c = &config;
        if !(c.base_lr.is_finite() && c.base_lr >= 0.0) {
            return Err(Error::Options(format!("schedule.base_lr = {}: expected >= 0", c.base_lr)));
        }
        if !(c.factor > 0.0 && c.factor < 1.0) {
            return Err(Error::Options(format!(
                "schedule.factor = {}: expected 0 < factor < 1",
                c.factor
            )));
        }
        if !(c.threshold.is_finite() && c.threshold >= 0.0) {
            return Err(Error::Options(format!(
                "schedule.threshold = {}: expected >= 0",
                c.threshold
            )));
        }
        if !(c.min_lr.is_finite() && c.min_lr >= 0.0) {
            return Err(Error::Options(format!("schedule.min_lr = {}: expected >= 0", c.min_lr)));
        }
        Ok(LrSchedule {
            plateau_lr: config.base_lr,
            config,
            best: None,
            num_bad: 0,
            cooldown_counter: 0,
            observed: 0,
            reductions: 0,
        })
    }

    /// The learning rate for update number `step` (0-based: the value of `Adam::steps_taken()`
    /// before the update).
    pub fn lr_at(&self, step: u64) -> f64 {
        let w = self.config.warmup_steps;
        if w > 0 && step < w {
            self.plateau_lr * ((step + 1) as f64 / w as f64)
        } else {
            self.plateau_lr
        }
    }

    /// True while update `step` (0-based) is still in the linear warm-up.
    pub fn in_warmup(&self, step: u64) -> bool {
        step < self.config.warmup_steps
    }

    /// The post-warm-up learning rate now.
    pub fn plateau_lr(&self) -> f64 {
        self.plateau_lr
    }
    /// The best metric seen so far.
    pub fn best(&self) -> Option<f64> {
        self.best
    }
    pub fn reductions(&self) -> u32 {
        self.reductions
    }

    /// Records one validation result; returns true if the learning rate was reduced. A NaN metric
    /// counts as a bad epoch. Mirrors `ReduceLROnPlateau.step`: bad epochs during cooldown are ignored,
    /// and a reduction smaller than 1e-8 (already at `min_lr`) does not count.
    pub fn observe(&mut self, metric: f64) -> bool {
        self.observed += 1;
        if improves(self.config.mode, metric, self.best, self.config.threshold) {
            self.best = Some(metric);
            self.num_bad = 0;
        } else {
            self.num_bad += 1;
        }
        if self.cooldown_counter > 0 {
            self.cooldown_counter -= 1;
            self.num_bad = 0;
        }
        if self.num_bad > self.config.patience {
            self.cooldown_counter = self.config.cooldown;
            self.num_bad = 0;
            let new_lr = (self.plateau_lr * self.config.factor).max(self.config.min_lr);
            if self.plateau_lr - new_lr > 1e-8 {
                self.plateau_lr = new_lr;
                self.reductions += 1;
                return true;
            }
        }
        false
    }
}

/// Settings of [`EarlyStopping`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct EarlyStoppingConfig {
    pub mode: MetricMode,
    /// Stop after this many validations in a row without improvement.
    pub patience: u32,
    /// Absolute improvement needed to count as better.
    pub min_delta: f64,
}

impl Default for EarlyStoppingConfig {
    fn default() -> Self {
        EarlyStoppingConfig { mode: MetricMode::Min, patience: 5, min_delta: 0.0 }
    }
}

/// What the trainer should do after a validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EarlyStop {
    /// A new best: save the "best" model.
    Improved,
    /// No improvement for `bad` validations in a row (fewer than the patience).
    Continue { bad: u32 },
    /// Patience exhausted: stop training.
    Stop,
}

/// Patience on the validation metric.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EarlyStopping {
    pub config: EarlyStoppingConfig,
    best: Option<f64>,
    /// Index (0-based, in validations) of the best result.
    best_index: Option<u64>,
    bad: u32,
    observed: u64,
}

impl EarlyStopping {
    pub fn new(config: EarlyStoppingConfig) -> Self {
        EarlyStopping { config, best: None, best_index: None, bad: 0, observed: 0 }
    }
    pub fn best(&self) -> Option<f64> {
        self.best
    }
    pub fn best_index(&self) -> Option<u64> {
        self.best_index
    }
    pub fn bad_count(&self) -> u32 {
        self.bad
    }

    /// Records a validation result that may improve the best but never counts against the
    /// patience (the trainer passes results from before the model could be judged: still in
    /// warm-up, or not yet emitting any text). Returns `Improved` or `Continue`.
    pub fn observe_grace(&mut self, metric: f64) -> EarlyStop {
        let bad = self.bad;
        match self.observe(metric) {
            EarlyStop::Improved => EarlyStop::Improved,
            _ => {
                self.bad = bad;
                EarlyStop::Continue { bad }
            }
        }
    }

    /// Records one validation result. NaN never improves.
    pub fn observe(&mut self, metric: f64) -> EarlyStop {
        let index = self.observed;
        self.observed += 1;
        let better = !metric.is_nan()
            && match (self.config.mode, self.best) {
                (_, None) => true,
                (MetricMode::Min, Some(b)) => metric < b - self.config.min_delta,
                (MetricMode::Max, Some(b)) => metric > b + self.config.min_delta,
            };
        if better {
            self.best = Some(metric);
            self.best_index = Some(index);
            self.bad = 0;
            EarlyStop::Improved
        } else {
            self.bad += 1;
            if self.bad >= self.config.patience {
                EarlyStop::Stop
            } else {
                EarlyStop::Continue { bad: self.bad }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_mismatch_is_an_error() {
        let mut adam: Adam<f32> =
            Adam::new(AdamConfig::default(), &[("a".into(), 2), ("b".into(), 3)]).unwrap();
        let mut a = [0.0f32; 2];
        let mut b = [0.0f32; 4];
        let ga = [0.0f32; 2];
        let gb = [0.0f32; 4];
        let err = adam.step(&mut [&mut a, &mut b], &[&ga, &gb]).unwrap_err();
        assert!(err.to_string().contains("`b`"), "{err}");
        let err = adam.step(&mut [&mut a], &[&ga]).unwrap_err();
        assert!(err.to_string().contains("2 tensors"), "{err}");
        assert_eq!(adam.steps_taken(), 0);
    }

    #[test]
    fn duplicate_names_rejected() {
        let r = Adam::<f32>::new(AdamConfig::default(), &[("a".into(), 2), ("a".into(), 3)]);
        assert!(r.is_err());
    }

    #[test]
    fn decay_mask_follows_names() {
        let cfg = AdamConfig { weight_decay: 0.1, ..AdamConfig::default() };
        let adam = Adam::<f32>::new(
            cfg,
            &[("lstm.weight_ih_l0".into(), 1), ("lstm.bias_ih_l0".into(), 1)],
        )
        .unwrap();
        assert!(adam.decays(0));
        assert!(!adam.decays(1));
    }

    #[test]
    fn non_finite_norm_leaves_grads() {
        let mut g = [1.0f32, f32::NAN, 3.0];
        let r = clip_grad_norm(&mut [&mut g], 1.0);
        assert!(!r.is_finite());
        assert_eq!(g[0], 1.0);
        assert_eq!(g[2], 3.0);
    }

    #[test]
    fn early_stopping_counts() {
        let mut es = EarlyStopping::new(EarlyStoppingConfig {
            mode: MetricMode::Min,
            patience: 2,
            min_delta: 0.01,
        });
        assert_eq!(es.observe(0.5), EarlyStop::Improved);
        assert_eq!(es.observe(0.495), EarlyStop::Continue { bad: 1 }); // not by min_delta
        assert_eq!(es.observe(0.40), EarlyStop::Improved);
        assert_eq!(es.observe(f64::NAN), EarlyStop::Continue { bad: 1 });
        assert_eq!(es.observe(0.41), EarlyStop::Stop);
        assert_eq!(es.best(), Some(0.40));
        assert_eq!(es.best_index(), Some(2));
    }
}
