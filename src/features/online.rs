//! Streaming features: samples arrive in chunks of any size, complete feature rows come out.
//!
//! Shapes: `L` samples per frame, `S` samples per shift, `C` cepstra, `D` output dims.
//!
//! Frame `t` covers samples `[tS, tS + L)` and is computed as soon as they have all arrived, by
//! the same [`MfccComputer`] and with the same "previous sample" as the offline path. Its row is
//! released `N · order` frames later, when the deltas have their right context
//! ([`DeltaStream`]). [`OnlineFeatures::finish`] computes the zero-padded tail frames psf adds and
//! the clamped edge deltas, so the rows of one utterance are bit for bit those of
//! [`compute`](super::compute) on the whole signal.

use std::collections::VecDeque;

use ndarray::Array2;

use super::cmvn::{Cmvn, utterance_cmvn};
use super::deltas::DeltaStream;
use super::mfcc::MfccComputer;
use super::options::{FeatureOptions, Normalization};
use crate::{Error, Result};

/// Streaming MFCC (+ Δ, ΔΔ, CMVN) extractor for one utterance at a time.
#[derive(Debug)]
pub struct OnlineFeatures {
    opts: FeatureOptions,
    computer: MfccComputer,
    deltas: DeltaStream,
    /// Global statistics, for [`Normalization::Global`].
    cmvn: Option<Cmvn>,
    frame_len: usize,
    shift: usize,
    /// Samples of this utterance from index `buf_start` on (the next frame and the sample before it).
    buf: Vec<f32>,
    buf_start: usize,
    /// Samples accepted in this utterance.
    total: usize,
    /// Index of the next frame to compute.
    next_frame: usize,
    /// (C,) cepstra of the current frame.
    ceps: Vec<f32>,
    /// (D,) scratch row.
    row: Vec<f32>,
    /// Released rows, D values each.
    ready: VecDeque<f32>,
    /// Rows held until `finish` for [`Normalization::Utterance`].
    held: Vec<f32>,
}

impl OnlineFeatures {
    /// `cmvn` is required for (and only used by) [`Normalization::Global`].
    pub fn new(opts: &FeatureOptions, cmvn: Option<Cmvn>) -> Result<Self> {
        let computer = MfccComputer::new(opts)?;
        let cmvn = check_cmvn(opts, cmvn.as_ref())?.cloned();
        let dim = opts.dim();
        Ok(OnlineFeatures {
            opts: opts.clone(),
            deltas: DeltaStream::new(opts.num_ceps, opts.delta_window, opts.delta_order),
            cmvn,
            frame_len: opts.frame_length(),
            shift: opts.frame_shift(),
            buf: Vec::with_capacity(4 * opts.frame_length()),
            buf_start: 0,
            total: 0,
            next_frame: 0,
            ceps: vec![0.0; opts.num_ceps],
            row: vec![0.0; dim],
            ready: VecDeque::with_capacity(dim * (opts.delta_lag() + 8)),
            held: Vec::new(),
            computer,
        })
    }

    pub fn options(&self) -> &FeatureOptions {
        &self.opts
    }

    /// Output row width `D`.
    pub fn dim(&self) -> usize {
        self.row.len()
    }

    /// Rows ready to be popped.
    pub fn frames_ready(&self) -> usize {
        self.ready.len() / self.dim()
    }

    /// Samples accepted in the current utterance.
    pub fn samples_accepted(&self) -> usize {
        self.total
    }

    /// Feeds samples (f32 in [-1, 1], any chunk size). Computes every frame that became complete;
    /// rows come out `delta_window · delta_order` frames later. Allocates nothing once its buffers
    /// have grown to the chunk size in use (and rows are popped as they come).
    pub fn accept(&mut self, samples: &[f32]) {
        self.buf.extend_from_slice(samples);
        self.total += samples.len();
        let mut computed = false;
        while self.next_frame * self.shift + self.frame_len <= self.total {
            self.compute_next(self.frame_len);
            computed = true;
        }
        if computed {
            // Keep the next frame's samples and the one before it (pre-emphasis).
            let keep_from = (self.next_frame * self.shift).saturating_sub(1).min(self.total);
            self.buf.drain(..keep_from - self.buf_start);
            self.buf_start = keep_from;
        }
    }

    /// Ends the utterance: computes the zero-padded last frames and the edge deltas, releases
    /// every remaining row (all rows, normalized, for [`Normalization::Utterance`]) and gets ready
    /// for the next utterance.
    pub fn finish(&mut self) {
        let frames = self.opts.num_frames(self.total);
        while self.next_frame < frames {
            let start = self.next_frame * self.shift;
            self.compute_next(self.frame_len.min(self.total - start));
        }
        let (ready, held, row, cmvn) = (&mut self.ready, &mut self.held, &mut self.row, &self.cmvn);
        self.deltas
            .finish(|r| release(r, self.opts.normalization, cmvn.as_ref(), row, ready, held));
        if self.opts.normalization == Normalization::Utterance {
            if let Some(c) = utterance_cmvn(&self.held, self.row.len()) {
                for r in self.held.chunks_exact_mut(c.dim()) {
                    c.apply_frame(r);
                }
            }
            self.ready.extend(self.held.drain(..));
        }
        self.reset();
    }

    /// Drops the current utterance's pending samples and frames (rows already released stay).
    pub fn reset(&mut self) {
        self.buf.clear();
        self.buf_start = 0;
        self.total = 0;
        self.next_frame = 0;
        self.held.clear();
        self.deltas.reset();
    }

    /// Moves the oldest ready row into `out` (D,); `false` if none is ready.
    ///
    /// # Panics
    /// If `out.len() != D`.
    pub fn pop_frame(&mut self, out: &mut [f32]) -> bool {
        assert_eq!(out.len(), self.dim(), "output row must have dim() values");
        if self.ready.len() < out.len() {
            return false;
        }
        for (o, v) in out.iter_mut().zip(self.ready.drain(..self.row.len())) {
            *o = v;
        }
        true
    }

    /// All ready rows as a (T, D) array.
    pub fn drain_frames(&mut self) -> Array2<f32> {
        let dim = self.dim();
        let v: Vec<f32> = self.ready.drain(..).collect();
        Array2::from_shape_vec((v.len() / dim, dim), v).expect("whole rows")
    }

    /// Computes frame `next_frame` from its first `len` samples (fewer than `L` only at the end).
    fn compute_next(&mut self, len: usize) {
        let start = self.next_frame * self.shift;
        let local = start - self.buf_start;
        let previous = if start > 0 { self.buf[local - 1] } else { 0.0 };
        self.computer.compute_frame(&self.buf[local..local + len], previous, &mut self.ceps);
        self.next_frame += 1;
        let (ready, held, row, cmvn) = (&mut self.ready, &mut self.held, &mut self.row, &self.cmvn);
        let norm = self.opts.normalization;
        self.deltas.push(&self.ceps, |r| release(r, norm, cmvn.as_ref(), row, ready, held));
    }
}

/// A finished row goes to the output (normalized with the global statistics if so configured)
/// or, for per-utterance normalization, is held until the utterance ends.
fn release(
    r: &[f32],
    norm: Normalization,
    cmvn: Option<&Cmvn>,
    row: &mut [f32],
    ready: &mut VecDeque<f32>,
    held: &mut Vec<f32>,
) {
    match (norm, cmvn) {
        (Normalization::Utterance, _) => held.extend_from_slice(r),
        (Normalization::Global, Some(c)) => {
            row.copy_from_slice(r);
            c.apply_frame(row);
            ready.extend(row.iter().copied());
        }
        _ => ready.extend(r.iter().copied()),
    }
}

/// Global normalization needs statistics of the right size; other modes ignore them.
pub(crate) fn check_cmvn<'a>(
    opts: &FeatureOptions,
    cmvn: Option<&'a Cmvn>,
) -> Result<Option<&'a Cmvn>> {
    if opts.normalization != Normalization::Global {
        return Ok(None);
    }
    let c = cmvn.ok_or_else(|| {
        Error::Options(
            "normalization: \"global\" needs mean/std statistics (Cmvn), none given".into(),
        )
    })?;
    c.validate()?;
    if c.dim() != opts.dim() {
        return Err(Error::Options(format!(
            "normalization: statistics have {} dims but the features have {}",
            c.dim(),
            opts.dim()
        )));
    }
    Ok(Some(c))
}
