//! CTC loss (negative log-likelihood of a label sequence) and its gradient with respect to the
//! logits, computed in log space by the forward–backward algorithm (Graves et al. 2006; the layout
//! follows baidu-research/warp-ctc `cpu_ctc.h`).
//!
//! Shapes:
//! - `T` frames (padded), `B` utterances, `V` labels including the blank (label 0)
//! - `T_b` frames of utterance b (`input_lengths[b] <= T`), `L` target labels (1-based, no blanks)
//! - `S = 2L + 1` states of the extended target `ext = [∅, l1, ∅, l2, …, lL, ∅]`
//!
//! Per utterance, with `y = log_softmax(z)` over labels:
//! - `α[t][s] = log Σ_{paths reaching state s at t} Π y`, emission at `t` included:
//!   `α[t][s] = logsumexp(α[t-1][s], α[t-1][s-1], α[t-1][s-2] if skip(s)) + y[t][ext[s]]`,
//!   where `skip(s)` means `ext[s]` is a label and differs from `ext[s-2]` (a repeated label needs
//!   a blank in between).
//! - `β[t][s] = log Σ_{suffixes from state s at t} Π y[t+1..]`, emission at `t` *excluded*, so
//!   `α[t][s] + β[t][s]` is the log-probability of all paths through (t, s).
//! - `ln p = logsumexp(α[T_b-1][S-1], α[T_b-1][S-2])`; the same value from β at t = 0 is checked
//!   in debug builds.
//! - Posterior occupancy `γ[t][k] = Σ_{s: ext[s]=k} exp(α[t][s] + β[t][s] − ln p)` (rows sum to 1),
//!   and `∂(−ln p)/∂z[t][k] = softmax(z)[t][k] − γ[t][k]`.

use ndarray::{Array3, ArrayView2, ArrayView3, ArrayViewMut2, Axis};
use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::nn::Float;

/// How the per-utterance losses (and gradients) are combined into one training objective.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reduction {
    /// `Σ_b loss_b` (weight 1 per utterance).
    Sum,
    /// PyTorch's `'mean'`: `(1/B') Σ_b loss_b / max(L_b, 1)`, where `B'` counts the utterances
    /// whose target is possible (equals `B` when none is impossible, matching torch).
    Mean,
}

/// Result of one batch.
///
/// A trainer steps on `loss` and `grad` as they are: impossible utterances (listed in
/// `impossible`, typically a transcript too long for its audio after subsampling) contribute
/// neither loss nor gradient, so it only needs to report them (and may drop them from its data).
/// If every utterance is impossible, `loss` is 0 and `grad` is all zeros.
#[derive(Debug, Clone)]
pub struct CtcOutput<F> {
    /// (B) `−ln p(target_b | logits_b)` per utterance, unweighted; `+inf` for impossible targets.
    pub losses: Vec<F>,
    /// The reduced loss over the possible utterances (impossible ones are left out, not averaged
    /// in as +inf), so a trainer can step on the rest of the batch.
    pub loss: F,
    /// (T, B, V) gradient of `loss` with respect to the logits, reduction weight applied. Zero for
    /// frames `t >= input_lengths[b]` and for impossible utterances.
    pub grad: Array3<F>,
    /// Batch indices whose target cannot be aligned to their frames (`L + repeats > T_b`).
    pub impossible: Vec<usize>,
}

/// Reusable scratch space of one utterance (grown, never shrunk).
#[derive(Debug, Default)]
struct Scratch<F> {
    /// (T_b, V) log-softmax of the logits
    log_probs: Vec<F>,
    /// (T_b, S) forward variables
    alpha: Vec<F>,
    /// (S) β of the frame being processed, and of the next frame
    beta: Vec<F>,
    beta_next: Vec<F>,
    /// (S) `β[t+1][s] + y[t+1][ext[s]]`
    emit: Vec<F>,
    /// (S) extended target and its skip flags
    ext: Vec<usize>,
    skip: Vec<bool>,
    /// (V) occupancy of one frame
    gamma: Vec<F>,
}

/// CTC loss with scratch buffers kept between calls (the trainer calls it every step).
#[derive(Debug, Default)]
pub struct CtcLoss<F> {
    scratch: Vec<Scratch<F>>,
}

/// Minimum number of frames a target needs: one per label plus a blank between equal neighbours.
pub fn required_frames(target: &[usize]) -> usize {
    target.len() + target.windows(2).filter(|w| w[0] == w[1]).count()
}

/// One-shot convenience wrapper around [`CtcLoss::compute`].
pub fn ctc_loss<F: Float, L: AsRef<[usize]> + Sync>(
    logits: ArrayView3<F>,
    input_lengths: &[usize],
    targets: &[L],
    reduction: Reduction,
) -> Result<CtcOutput<F>> {
    CtcLoss::new().compute(logits, input_lengths, targets, reduction)
}

/// `ln(e^a + e^b)` without overflow; `-inf` is the log of zero and is absorbing on both sides.
///
/// `ln(1 + x)` is taken as `ln` of the rounded sum rather than with `ln_1p`: for `x` below the
/// rounding unit the result is `hi` where the exact one is `hi + x`, an absolute error under
/// 6e-8 (f32), while glibc's `log1pf` costs several times `logf` and dominated the loss's profile.
#[inline(always)]
pub fn log_add<F: Float>(a: F, b: F) -> F {
    let (hi, lo) = if a > b { (a, b) } else { (b, a) };
    if lo == F::neg_infinity() { hi } else { hi + (F::one() + (lo - hi).exp()).ln() }
}

impl<F: Float> CtcLoss<F> {
    pub fn new() -> Self {
        CtcLoss { scratch: Vec::new() }
    }

    /// Loss and logits gradient for a padded, time-major batch.
    ///
    /// - `logits`: (T, B, V) raw scores; log-softmax over V is applied here.
    /// - `input_lengths`: (B) valid frames per utterance, each `<= T`.
    /// - `targets`: (B) label sequences, labels in `1..V` (0 is the blank and may not appear).
    ///
    /// Utterances are independent and run in parallel on the current rayon pool.
    /// Errors name the utterance and field for inconsistent shapes, out-of-range labels and
    /// non-finite logits.
    pub fn compute<L: AsRef<[usize]> + Sync>(
        &mut self,
        logits: ArrayView3<F>,
        input_lengths: &[usize],
        targets: &[L],
        reduction: Reduction,
    ) -> Result<CtcOutput<F>> {
        let (t_max, b, v) = logits.dim();
        if input_lengths.len() != b || targets.len() != b {
            return Err(Error::Internal(format!(
                "ctc: logits have a batch of {b} but there are {} input lengths and {} targets",
                input_lengths.len(),
                targets.len()
            )));
        }
        if v < 2 {
            return Err(Error::Internal(format!(
                "ctc: logits have {v} labels; need the blank and at least one character"
            )));
        }
        let mut impossible = Vec::new();
        for (i, (&len, tgt)) in input_lengths.iter().zip(targets).enumerate() {
            let tgt = tgt.as_ref();
            if len > t_max {
                return Err(Error::Internal(format!(
                    "ctc: input_lengths[{i}] = {len} exceeds the {t_max} frames of the logits"
                )));
            }
            if let Some(p) = tgt.iter().position(|&l| l == 0 || l >= v) {
                return Err(Error::Internal(format!(
                    "ctc: targets[{i}][{p}] = {} is outside the labels 1..{v}",
                    tgt[p]
                )));
            }
            if required_frames(tgt) > len {
                impossible.push(i);
            }
        }
        let possible = b - impossible.len();
        let weights: Vec<F> = targets
            .iter()
            .enumerate()
            .map(|(i, tgt)| {
                if impossible.contains(&i) {
                    F::zero()
                } else {
                    match reduction {
                        Reduction::Sum => F::one(),
                        Reduction::Mean => {
                            F::one() / F::from_usize(possible * tgt.as_ref().len().max(1)).unwrap()
                        }
                    }
                }
            })
            .collect();

        if self.scratch.len() < b {
            self.scratch.resize_with(b, Scratch::default);
        }
        let mut grad = Array3::<F>::zeros((t_max, b, v));
        let mut grad_views: Vec<ArrayViewMut2<F>> = grad.axis_iter_mut(Axis(1)).collect();
        let results: Vec<Result<F>> = grad_views
            .par_iter_mut()
            .zip(self.scratch[..b].par_iter_mut())
            .enumerate()
            .map(|(i, (g, scratch))| {
                if impossible.contains(&i) {
                    return Ok(F::infinity());
                }
                let x = logits.index_axis(Axis(1), i);
                utterance(
                    x,
                    input_lengths[i],
                    targets[i].as_ref(),
                    weights[i],
                    scratch,
                    g.view_mut(),
                )
                .map_err(|reason| Error::Training(format!("ctc: utterance {i}: {reason}")))
            })
            .collect();
        drop(grad_views);
        let losses = results.into_iter().collect::<Result<Vec<F>>>()?;
        let loss = losses
            .iter()
            .zip(&weights)
            .filter(|(l, _)| l.is_finite())
            .fold(F::zero(), |acc, (&l, &w)| acc + w * l);
        Ok(CtcOutput { losses, loss, grad, impossible })
    }
}

/// Forward–backward for one utterance whose target is known to be possible. Writes
/// `weight · ∂(−ln p)/∂z` into `grad` (T, V) for `t < len` and returns `−ln p`.
fn utterance<F: Float>(
    logits: ArrayView2<F>,
    len: usize,
    target: &[usize],
    weight: F,
    sc: &mut Scratch<F>,
    mut grad: ArrayViewMut2<F>,
) -> std::result::Result<F, String> {
    let v = logits.ncols();
    let ninf = F::neg_infinity();
    if len == 0 {
        // Only the empty target is possible and its probability is 1.
        return Ok(F::zero());
    }

    // y = log_softmax(z), row by row.
    sc.log_probs.clear();
    sc.log_probs.resize(len * v, F::zero());
    for t in 0..len {
        let z = logits.row(t);
        let m = z.iter().fold(ninf, |m, &x| if x > m { x } else { m });
        let sum = z.iter().fold(F::zero(), |acc, &x| acc + (x - m).exp());
        let lse = m + sum.ln();
        if !lse.is_finite() {
            let k = z.iter().position(|x| !x.is_finite()).unwrap_or(0);
            return Err(format!("logit at frame {t}, label {k} is {}", z[k]));
        }
        for (y, &x) in sc.log_probs[t * v..(t + 1) * v].iter_mut().zip(z.iter()) {
            *y = x - lse;
        }
    }
    let y = &sc.log_probs;

    // Extended target.
    let s_len = 2 * target.len() + 1;
    sc.ext.clear();
    sc.skip.clear();
    for s in 0..s_len {
        let e = if s % 2 == 0 { 0 } else { target[s / 2] };
        sc.ext.push(e);
        sc.skip.push(s >= 2 && e != 0 && e != sc.ext[s - 2]);
    }
    let ext = &sc.ext;
    let skip = &sc.skip;

    // Only states from which the end is still reachable, and which are reachable from the start,
    // can hold probability: start(t) = S − 2(T_b − t), end(t) = 2t + 2 (exclusive).
    let window = |t: usize| {
        let start = (s_len as isize - 2 * (len - t) as isize).max(0) as usize;
        let end = (2 * t + 2).min(s_len);
        (start, end)
    };

    // Forward.
    sc.alpha.clear();
    sc.alpha.resize(len * s_len, ninf);
    let alpha = &mut sc.alpha;
    alpha[0] = y[ext[0]];
    if s_len > 1 {
        alpha[1] = y[ext[1]];
    }
    for t in 1..len {
        let (prev, cur) = alpha[(t - 1) * s_len..(t + 1) * s_len].split_at_mut(s_len);
        let yt = &y[t * v..(t + 1) * v];
        let (start, end) = window(t);
        for s in start..end {
            let mut a = prev[s];
            if s >= 1 {
                a = log_add(a, prev[s - 1]);
            }
            if skip[s] {
                a = log_add(a, prev[s - 2]);
            }
            cur[s] = a + yt[ext[s]];
        }
    }
    let last = &alpha[(len - 1) * s_len..len * s_len];
    let log_p = if s_len > 1 { log_add(last[s_len - 1], last[s_len - 2]) } else { last[0] };
    if !log_p.is_finite() {
        return Err(format!("the target has log-likelihood {log_p} (the logits are too extreme)"));
    }

    // Backward, one frame at a time, producing the gradient of that frame on the way:
    // β[t][s] = logsumexp(e[s], e[s+1], e[s+2] if skip(s+2)), e[s] = β[t+1][s] + y[t+1][ext[s]].
    sc.beta.clear();
    sc.beta.resize(s_len, ninf);
    sc.beta_next.clear();
    sc.beta_next.resize(s_len, ninf);
    sc.emit.clear();
    sc.emit.resize(s_len, ninf);
    sc.gamma.clear();
    sc.gamma.resize(v, F::zero());
    sc.beta[s_len - 1] = F::zero();
    if s_len > 1 {
        sc.beta[s_len - 2] = F::zero();
    }
    for t in (0..len).rev() {
        if t + 1 < len {
            std::mem::swap(&mut sc.beta, &mut sc.beta_next);
            let y1 = &y[(t + 1) * v..(t + 2) * v];
            let (start1, end1) = window(t + 1);
            for s in 0..s_len {
                sc.emit[s] =
                    if s >= start1 && s < end1 { sc.beta_next[s] + y1[ext[s]] } else { ninf };
            }
            let (start, end) = window(t);
            sc.beta.iter_mut().for_each(|b| *b = ninf);
            for s in start..end {
                let mut b = sc.emit[s];
                if s + 1 < s_len {
                    b = log_add(b, sc.emit[s + 1]);
                }
                if s + 2 < s_len && skip[s + 2] {
                    b = log_add(b, sc.emit[s + 2]);
                }
                sc.beta[s] = b;
            }
        }
        // γ[t][k] = Σ_{ext[s]=k} exp(α[t][s] + β[t][s] − ln p)
        sc.gamma.iter_mut().for_each(|g| *g = F::zero());
        let at = &alpha[t * s_len..(t + 1) * s_len];
        let (start, end) = window(t);
        for s in start..end {
            let lp = at[s] + sc.beta[s];
            if lp > ninf {
                sc.gamma[ext[s]] = sc.gamma[ext[s]] + (lp - log_p).exp();
            }
        }
        // ∂(−ln p)/∂z[t][k] = softmax[t][k] − γ[t][k]   (from y = z − logsumexp(z))
        let yt = &y[t * v..(t + 1) * v];
        for ((g, &ytk), &gk) in grad.row_mut(t).iter_mut().zip(yt).zip(&sc.gamma) {
            *g = weight * (ytk.exp() - gk);
        }
    }

    if cfg!(debug_assertions) {
        // ln p from the backward variables: logsumexp over the two start states of β[0] + y[0].
        let mut log_p_b = sc.beta[0] + y[ext[0]];
        if s_len > 1 {
            log_p_b = log_add(log_p_b, sc.beta[1] + y[ext[1]]);
        }
        let tol = F::epsilon().sqrt() * F::from_f64_lossy(10.0) * log_p.abs().max(F::one());
        debug_assert!(
            (log_p - log_p_b).abs() <= tol,
            "ctc: forward ln p = {log_p} but backward ln p = {log_p_b}"
        );
    }
    Ok(-log_p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array3;

    /// Brute force: sum over every path of length T that collapses to the target.
    fn brute_force_nll(log_probs: &[Vec<f64>], target: &[usize]) -> f64 {
        let t_len = log_probs.len();
        let v = log_probs[0].len();
        let mut total = 0.0f64;
        let mut path = vec![0usize; t_len];
        loop {
            let mut collapsed = Vec::new();
            let mut prev = 0;
            for &p in &path {
                if p != 0 && p != prev {
                    collapsed.push(p);
                }
                prev = p;
            }
            if collapsed == target {
                total += path.iter().enumerate().map(|(t, &p)| log_probs[t][p]).sum::<f64>().exp();
            }
            // next path (odometer)
            let mut i = 0;
            loop {
                if i == t_len {
                    return -total.ln();
                }
                path[i] += 1;
                if path[i] < v {
                    break;
                }
                path[i] = 0;
                i += 1;
            }
        }
    }

    #[test]
    fn log_add_handles_infinities() {
        let ninf = f64::NEG_INFINITY;
        assert_eq!(log_add(ninf, ninf), ninf);
        assert_eq!(log_add(ninf, 2.0), 2.0);
        assert!((log_add(0.0f64, 0.0) - 2f64.ln()).abs() < 1e-15);
        assert!((log_add(-1000.0f64, -1000.0) - (-1000.0 + 2f64.ln())).abs() < 1e-12);
    }

    #[test]
    fn matches_brute_force_path_sum() {
        // T = 5, V = 3: 243 paths, small enough to enumerate.
        let z: Vec<f64> = (0..15).map(|i| ((i * 7 % 11) as f64 - 5.0) * 0.37).collect();
        let logits = Array3::from_shape_vec((5, 1, 3), z.clone()).unwrap();
        for target in [vec![], vec![1], vec![1, 2], vec![2, 2], vec![1, 1, 2], vec![1, 2, 1]] {
            let out = ctc_loss(logits.view(), &[5], std::slice::from_ref(&target), Reduction::Sum)
                .unwrap();
            let lp: Vec<Vec<f64>> = (0..5)
                .map(|t| {
                    let row = &z[t * 3..t * 3 + 3];
                    let lse = row.iter().map(|x| x.exp()).sum::<f64>().ln();
                    row.iter().map(|x| x - lse).collect()
                })
                .collect();
            let expect = brute_force_nll(&lp, &target);
            assert!(
                (out.losses[0] - expect).abs() < 1e-10,
                "{target:?}: {} vs {expect}",
                out.losses[0]
            );
        }
    }

    #[test]
    fn impossible_target_is_infinite_with_zero_gradient() {
        let logits = Array3::<f32>::from_elem((4, 2, 3), 0.1);
        // [1, 1, 1] needs 5 frames (two blanks between repeats); utterance 1 is fine.
        let targets = vec![vec![1, 1, 1], vec![1, 2]];
        let out = ctc_loss(logits.view(), &[4, 4], &targets, Reduction::Mean).unwrap();
        assert_eq!(out.impossible, vec![0]);
        assert_eq!(out.losses[0], f32::INFINITY);
        assert!(out.losses[1].is_finite());
        assert!(out.grad.index_axis(Axis(1), 0).iter().all(|&g| g == 0.0));
        // Mean over the one possible utterance: loss_1 / L_1.
        assert!((out.loss - out.losses[1] / 2.0).abs() < 1e-6);
        assert!(out.grad.iter().all(|g| g.is_finite()));
    }

    #[test]
    fn all_impossible_and_empty_cases_stay_finite() {
        let logits = Array3::<f32>::from_elem((3, 2, 3), 0.5);
        let out =
            ctc_loss(logits.view(), &[3, 1], &[vec![1, 2, 1, 2], vec![1, 1]], Reduction::Mean)
                .unwrap();
        assert_eq!(out.impossible, vec![0, 1]);
        assert_eq!(out.loss, 0.0);
        assert!(out.grad.iter().all(|&g| g == 0.0));
        // zero frames: only the empty target is possible, with probability 1
        let out = ctc_loss(logits.view(), &[0, 0], &[vec![], vec![2]], Reduction::Sum).unwrap();
        assert_eq!(out.losses, vec![0.0, f32::INFINITY]);
        assert_eq!(out.impossible, vec![1]);
        // empty target over 3 frames of uniform logits: -ln (1/3)^3
        let out = ctc_loss(logits.view(), &[3, 3], &[vec![], vec![]], Reduction::Mean).unwrap();
        assert!((out.losses[0] - 3.0 * 3f32.ln()).abs() < 1e-5);
        assert!((out.loss - 3.0 * 3f32.ln()).abs() < 1e-5); // mean divides by max(L, 1) = 1, B = 2
    }

    #[test]
    fn rejects_bad_input() {
        let logits = Array3::<f32>::zeros((4, 1, 3));
        assert!(ctc_loss(logits.view(), &[5], &[vec![1]], Reduction::Sum).is_err());
        assert!(ctc_loss(logits.view(), &[4], &[vec![3]], Reduction::Sum).is_err());
        assert!(ctc_loss(logits.view(), &[4], &[vec![0]], Reduction::Sum).is_err());
        assert!(ctc_loss(logits.view(), &[4, 4], &[vec![1]], Reduction::Sum).is_err());
        let mut nan = Array3::<f32>::zeros((4, 1, 3));
        nan[[2, 0, 1]] = f32::NAN;
        let e = ctc_loss(nan.view(), &[4], &[vec![1]], Reduction::Sum).unwrap_err();
        assert!(e.to_string().contains("frame 2"), "{e}");
    }

    #[test]
    fn required_frames_counts_repeats() {
        assert_eq!(required_frames(&[]), 0);
        assert_eq!(required_frames(&[1, 2, 3]), 3);
        assert_eq!(required_frames(&[1, 1, 2, 2, 2]), 8);
    }
}
