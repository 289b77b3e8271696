//! The MFCC front end: framing → pre-emphasis → window → real FFT → power spectrum → mel
//! filterbank → log → DCT-II → lifter (→ log energy in c0) → Δ, ΔΔ → CMVN.
//!
//! Shapes: `T` frames, `C` cepstra, `D = C · (1 + delta_order)` output dims; feature matrices are
//! (T, D), time-major like the rest of Hark.
//!
//! With [`FeatureOptions::default`] the output equals `python_speech_features.mfcc` + `delta(N=2)`
//! twice on int16-scale samples (within 1e-3, checked in `tests/features.rs`). One per-frame
//! computer ([`MfccComputer`]) serves the offline path ([`compute`]) and the streaming path
//! ([`OnlineFeatures`]), which agree bit for bit.

pub mod cmvn;
pub mod deltas;
pub mod mfcc;
pub mod online;
pub mod options;

use ndarray::Array2;
use rayon::prelude::*;

pub use cmvn::{Cmvn, CmvnAccumulator};
pub use mfcc::MfccComputer;
pub use online::OnlineFeatures;
pub use options::{FeatureOptions, Normalization, Window};

use crate::Result;

/// Below this many frames the offline path stays on the calling thread.
const PARALLEL_MIN_FRAMES: usize = 2048;

/// Features of a whole signal (f32 in [-1, 1]) as a (T, D) array, `T = opts.num_frames(len)`.
/// [`Normalization::Global`] needs statistics: use [`compute_with`].
pub fn compute(opts: &FeatureOptions, samples: &[f32]) -> Result<Array2<f32>> {
    compute_with(opts, None, samples)
}

/// [`compute`] with the global statistics `cmvn` (required for, and only used by,
/// [`Normalization::Global`]).
///
/// Frames are independent, so long signals are split into contiguous blocks of frames computed on
/// the rayon pool (one [`MfccComputer`] per block); deltas and normalization follow on the whole
/// matrix. The result does not depend on the number of threads.
pub fn compute_with(
    opts: &FeatureOptions,
    cmvn: Option<&Cmvn>,
    samples: &[f32],
) -> Result<Array2<f32>> {
    compute_warped(opts, cmvn, samples, 1.0)
}

/// [`compute_with`] through a mel filterbank warped by `warp` (vocal-tract-length perturbation for
/// training, see [`mfcc::vtlp_warp_hz`]); `warp` = 1 is [`compute_with`] exactly.
pub fn compute_warped(
    opts: &FeatureOptions,
    cmvn: Option<&Cmvn>,
    samples: &[f32],
    warp: f64,
) -> Result<Array2<f32>> {
    let proto = MfccComputer::with_warp(opts, warp)?;
    let cmvn = online::check_cmvn(opts, cmvn)?;
    let (t, d, c) = (opts.num_frames(samples.len()), opts.dim(), opts.num_ceps);
    let (len, shift) = (opts.frame_length(), opts.frame_shift());
    let mut out = vec![0.0f32; t * d];

    // Frame i covers samples [i·S, i·S + L), cut short at the end of the signal; the computer
    // zero-pads after pre-emphasis, which needs the sample just before the frame.
    let block = |first: usize, rows: &mut [f32], comp: &mut MfccComputer| {
        for (k, row) in rows.chunks_exact_mut(d).enumerate() {
            let start = (first + k) * shift;
            let end = (start + len).min(samples.len());
            let previous = if start > 0 { samples[start - 1] } else { 0.0 };
            comp.compute_frame(&samples[start..end], previous, &mut row[..c]);
        }
    };
    let threads = rayon::current_num_threads();
    if t < PARALLEL_MIN_FRAMES || threads < 2 {
        let mut comp = proto;
        block(0, &mut out, &mut comp);
    } else {
        let per = t.div_ceil(threads);
        out.par_chunks_mut(per * d).enumerate().for_each(|(b, rows)| {
            let mut comp = proto.clone();
            block(b * per, rows, &mut comp);
        });
    }

    deltas::fill_deltas(&mut out, d, c, opts.delta_window, opts.delta_order);
    let stats = match opts.normalization {
        Normalization::None => None,
        Normalization::Utterance => cmvn::utterance_cmvn(&out, d),
        Normalization::Global => cmvn.cloned(),
    };
    if let Some(s) = stats {
        for r in out.chunks_exact_mut(d) {
            s.apply_frame(r);
        }
    }
    Ok(Array2::from_shape_vec((t, d), out).expect("t * d values"))
}
