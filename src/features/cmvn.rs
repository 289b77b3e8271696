//! Cepstral mean and variance normalization: `x'[t, d] = (x[t, d] - μ[d]) / σ[d]`.
//!
//! Shapes: `T` frames, `D` feature dims. Statistics are accumulated in f64 (sums of `x` and `x²`
//! over many utterances lose too much in f32); `σ` is floored at [`STD_FLOOR`] so a constant
//! dimension (e.g. a silent clip's deltas) maps to 0 instead of dividing by zero.

use ndarray::{Array2, ArrayView2};
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Smallest standard deviation used for normalization.
pub const STD_FLOOR: f32 = 1e-5;

/// Per-dimension mean and standard deviation; stored with a model when its features use
/// [`Normalization::Global`](super::Normalization::Global).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Cmvn {
    /// (D,)
    pub mean: Vec<f32>,
    /// (D,) already floored at [`STD_FLOOR`].
    pub std: Vec<f32>,
}

impl Cmvn {
    pub fn dim(&self) -> usize {
        self.mean.len()
    }

    /// Checks a loaded statistics record: equal lengths, finite values, positive deviations.
    pub fn validate(&self) -> Result<()> {
        if self.mean.len() != self.std.len() {
            return Err(Error::Options(format!(
                "cmvn: mean has {} dims but std has {}",
                self.mean.len(),
                self.std.len()
            )));
        }
        if let Some((d, m)) = self.mean.iter().enumerate().find(|(_, m)| !m.is_finite()) {
            return Err(Error::Options(format!("cmvn: mean[{d}] = {m} is not finite")));
        }
        if let Some((d, s)) =
            self.std.iter().enumerate().find(|(_, s)| !(s.is_finite() && **s > 0.0))
        {
            return Err(Error::Options(format!("cmvn: std[{d}] = {s} must be finite and > 0")));
        }
        Ok(())
    }

    /// Statistics of one utterance (T, D); `None` if it has no frames.
    pub fn from_features(feats: ArrayView2<'_, f32>) -> Option<Cmvn> {
        let mut acc = CmvnAccumulator::new(feats.ncols());
        acc.add(feats).ok()?;
        acc.finish().ok()
    }

    /// Normalizes one frame in place (D,).
    #[inline]
    pub fn apply_frame(&self, frame: &mut [f32]) {
        for ((x, m), s) in frame.iter_mut().zip(&self.mean).zip(&self.std) {
            *x = (*x - m) / s;
        }
    }

    /// Normalizes (T, D) features in place; the error names the dimension mismatch.
    pub fn apply(&self, feats: &mut Array2<f32>) -> Result<()> {
        if feats.ncols() != self.dim() {
            return Err(Error::Options(format!(
                "cmvn: statistics have {} dims but the features have {}",
                self.dim(),
                feats.ncols()
            )));
        }
        for mut row in feats.rows_mut() {
            match row.as_slice_mut() {
                Some(r) => self.apply_frame(r),
                None => {
                    for ((x, m), s) in row.iter_mut().zip(&self.mean).zip(&self.std) {
                        *x = (*x - m) / s;
                    }
                }
            }
        }
        Ok(())
    }
}

/// Statistics of rows stored one after another (`dim` values each); `None` without rows. The
/// offline and streaming paths both use this, so per-utterance normalization agrees bit for bit.
pub(crate) fn utterance_cmvn(rows: &[f32], dim: usize) -> Option<Cmvn> {
    let mut acc = CmvnAccumulator::new(dim);
    acc.add_rows(rows.chunks_exact(dim.max(1)));
    acc.finish().ok()
}

/// Accumulates `Σx` and `Σx²` per dimension over a dataset (f64), then gives a [`Cmvn`].
/// Accumulators of dataset shards can be merged.
#[derive(Clone, Debug, PartialEq)]
pub struct CmvnAccumulator {
    count: u64,
    sum: Vec<f64>,
    sum_sq: Vec<f64>,
}

impl CmvnAccumulator {
    pub fn new(dim: usize) -> Self {
        CmvnAccumulator { count: 0, sum: vec![0.0; dim], sum_sq: vec![0.0; dim] }
    }

    pub fn dim(&self) -> usize {
        self.sum.len()
    }

    /// Frames added so far.
    pub fn count(&self) -> u64 {
        self.count
    }

    fn add_rows<'a>(&mut self, rows: impl Iterator<Item = &'a [f32]>) {
        for r in rows {
            for ((s, q), &x) in self.sum.iter_mut().zip(&mut self.sum_sq).zip(r) {
                let x = x as f64;
                *s += x;
                *q += x * x;
            }
            self.count += 1;
        }
    }

    /// Adds the frames of one utterance (T, D).
    pub fn add(&mut self, feats: ArrayView2<'_, f32>) -> Result<()> {
        if feats.ncols() != self.dim() {
            return Err(Error::Options(format!(
                "cmvn: accumulator has {} dims but the features have {}",
                self.dim(),
                feats.ncols()
            )));
        }
        for row in feats.rows() {
            match row.as_slice() {
                Some(r) => self.add_rows(std::iter::once(r)),
                None => self.add_rows(std::iter::once(row.to_vec().as_slice())),
            }
        }
        Ok(())
    }

    /// Adds another accumulator's frames (e.g. from another thread).
    pub fn merge(&mut self, other: &CmvnAccumulator) -> Result<()> {
        if other.dim() != self.dim() {
            return Err(Error::Options(format!(
                "cmvn: cannot merge {} dims into {}",
                other.dim(),
                self.dim()
            )));
        }
        self.count += other.count;
        for (a, b) in self.sum.iter_mut().zip(&other.sum) {
            *a += b;
        }
        for (a, b) in self.sum_sq.iter_mut().zip(&other.sum_sq) {
            *a += b;
        }
        Ok(())
    }

    /// Mean and (population) standard deviation, `σ = √max(E[x²] - μ², 0)` floored.
    pub fn finish(&self) -> Result<Cmvn> {
        if self.count == 0 {
            return Err(Error::Options("cmvn: no frames were accumulated".into()));
        }
        let n = self.count as f64;
        let mean: Vec<f32> = self.sum.iter().map(|s| (s / n) as f32).collect();
        let std = self
            .sum
            .iter()
            .zip(&self.sum_sq)
            .map(|(s, q)| {
                let m = s / n;
                ((q / n - m * m).max(0.0).sqrt() as f32).max(STD_FLOOR)
            })
            .collect();
        Ok(Cmvn { mean, std })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{Axis, array, s};

    #[test]
    fn utterance_stats_match_two_pass_formulas_and_normalize() {
        let x = array![[1.0f32, 10.0, 5.0], [2.0, 20.0, 5.0], [4.0, 60.0, 5.0], [5.0, 30.0, 5.0]];
        let c = Cmvn::from_features(x.view()).unwrap();
        let mean = x.mean_axis(Axis(0)).unwrap();
        let std = x.std_axis(Axis(0), 0.0);
        for d in 0..3 {
            assert!((c.mean[d] - mean[d]).abs() < 1e-5);
            assert!((c.std[d] - std[d].max(STD_FLOOR)).abs() < 1e-5);
        }
        let mut y = x.clone();
        c.apply(&mut y).unwrap();
        // Constant column maps to exactly 0; others get zero mean and unit variance.
        assert!(y.column(2).iter().all(|&v| v == 0.0));
        for d in 0..2 {
            let col = y.column(d);
            assert!(col.mean().unwrap().abs() < 1e-5);
            assert!((col.std(0.0) - 1.0).abs() < 1e-5);
        }
    }

    #[test]
    fn accumulator_over_shards_equals_one_pass_and_round_trips() {
        let x = Array2::from_shape_fn((50, 4), |(t, d)| {
            ((t * 31 + d * 7) % 17) as f32 - 3.0 * d as f32
        });
        let mut all = CmvnAccumulator::new(4);
        all.add(x.view()).unwrap();
        let (mut a, mut b) = (CmvnAccumulator::new(4), CmvnAccumulator::new(4));
        a.add(x.slice(s![..20, ..])).unwrap();
        b.add(x.slice(s![20.., ..])).unwrap();
        a.merge(&b).unwrap();
        assert_eq!(a.count(), 50);
        let (ca, cb) = (all.finish().unwrap(), a.finish().unwrap());
        for d in 0..4 {
            assert!((ca.mean[d] - cb.mean[d]).abs() < 1e-6 && (ca.std[d] - cb.std[d]).abs() < 1e-6);
        }
        let json = serde_json::to_string(&ca).unwrap();
        let back: Cmvn = serde_json::from_str(&json).unwrap();
        assert_eq!(back, ca);
        back.validate().unwrap();
    }

    #[test]
    fn mismatches_and_empty_inputs_are_errors() {
        assert!(CmvnAccumulator::new(3).finish().is_err());
        let c = Cmvn { mean: vec![0.0; 3], std: vec![1.0; 3] };
        assert!(c.apply(&mut Array2::zeros((2, 4))).is_err());
        assert!(CmvnAccumulator::new(3).add(Array2::zeros((2, 4)).view()).is_err());
        assert!(Cmvn { mean: vec![0.0; 2], std: vec![1.0; 3] }.validate().is_err());
        assert!(Cmvn { mean: vec![0.0; 2], std: vec![1.0, 0.0] }.validate().is_err());
        assert!(Cmvn::from_features(Array2::<f32>::zeros((0, 3)).view()).is_none());
    }
}
