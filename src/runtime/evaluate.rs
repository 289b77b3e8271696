//! Scoring a model on labeled data, and tuning its language-model weights, in one place: `hark
//! eval`, `hark lm tune`, the app and the trainer's re-tune of a fine-tuned model's decoder all
//! call these, so every number Hark reports is computed the same way (corpus WER/CER as sclite
//! and jiwer compute them: total edits over total reference words or characters,
//! [`ErrorRates`]).
//!
//! Shapes: `T` network frames of an utterance, `V` labels incl. blank.

use std::path::{Path, PathBuf};
use std::time::Instant;

use ndarray::Array2;
use rayon::prelude::*;

use crate::audio::read_mono_16k;
use crate::ctc::decode::{BeamOptions, greedy, prefix_beam_search};
use crate::ctc::lm::LanguageModel;
use crate::model::Model;
use crate::runtime::decoder::DecoderConfig;
use crate::runtime::transcribe::Transcriber;
use crate::train::data::Utterance;
use crate::train::metrics::{ErrorRates, char_edits, word_edits};
use crate::{Error, Result};

/// One scored utterance.
#[derive(Clone, Debug)]
pub struct Scored {
    pub id: String,
    pub audio: PathBuf,
    pub reference: String,
    /// `None` when the file could not be decoded (`error` says why; scored as empty).
    pub hypothesis: Option<String>,
    pub error: Option<String>,
    pub duration_s: f64,
    /// This utterance's own rates (edits / reference length; infinite for an empty reference
    /// with a non-empty hypothesis).
    pub cer: f64,
    pub wer: f64,
}

/// The result of [`evaluate`].
#[derive(Clone, Debug)]
pub struct EvalReport {
    /// In the order of the utterances given.
    pub scored: Vec<Scored>,
    /// Corpus totals.
    pub rates: ErrorRates,
    pub audio_s: f64,
    /// CPU seconds spent decoding (the process's, where the system tells it; else the sum of
    /// the workers' busy time).
    pub cpu_s: f64,
    pub wall_s: f64,
}

impl EvalReport {
    /// CPU seconds per second of audio.
    pub fn real_time_factor(&self) -> f64 {
        if self.audio_s > 0.0 { self.cpu_s / self.audio_s } else { 0.0 }
    }
}

/// An utterance's own rate: `edits / n`, 0 for an empty reference decoded as empty.
pub fn utterance_rate(edits: usize, n: usize) -> f64 {
    if n == 0 { if edits == 0 { 0.0 } else { f64::INFINITY } } else { edits as f64 / n as f64 }
}

/// Transcribes every utterance as `hark transcribe` would (in parallel) and scores it against
/// its transcript. `progress` is called with each utterance's duration (ms) once it is done.
pub fn evaluate(
    tr: &Transcriber,
    utterances: &[Utterance],
    progress: &(dyn Fn(u64) + Sync),
) -> EvalReport {
    let cpu0 = process_cpu_s();
    let wall0 = Instant::now();
    let scored: Vec<(Scored, f64)> = utterances
        .par_iter()
        .map(|u| {
            let t0 = Instant::now();
            let r = read_mono_16k(&u.audio).and_then(|s| {
                let t = tr.transcribe_samples(&s)?;
                Ok((t.text(), s.len() as f64 / crate::SAMPLE_RATE_HZ as f64))
            });
            let busy = t0.elapsed().as_secs_f64();
            progress((u.duration_s * 1000.0) as u64);
            let (hypothesis, error, duration_s) = match r {
                Ok((h, d)) => (Some(h), None, d),
                Err(e) => (None, Some(e.to_string()), u.duration_s),
            };
            let h = hypothesis.as_deref().unwrap_or("");
            let (c, w) = (char_edits(&u.text, h), word_edits(&u.text, h));
            let s = Scored {
                id: u.id.clone(),
                audio: u.audio.clone(),
                reference: u.text.clone(),
                error,
                duration_s,
                cer: utterance_rate(c.errors(), c.reference_len()),
                wer: utterance_rate(w.errors(), w.reference_len()),
                hypothesis,
            };
            (s, busy)
        })
        .collect();
    let wall_s = wall0.elapsed().as_secs_f64();
    let busy_sum: f64 = scored.iter().map(|(_, b)| b).sum();
    let cpu_s = match (cpu0, process_cpu_s()) {
        (Some(a), Some(b)) if b > a => b - a,
        _ => busy_sum,
    };
    let scored: Vec<Scored> = scored.into_iter().map(|(s, _)| s).collect();
    let mut rates = ErrorRates::new();
    for s in &scored {
        rates.add(&s.reference, s.hypothesis.as_deref().unwrap_or(""));
    }
    let audio_s = scored.iter().map(|s| s.duration_s).sum();
    EvalReport { scored, rates, audio_s, cpu_s, wall_s }
}

/// Process CPU seconds (user + system) so far, from `/proc/self/stat` (Linux; `None` elsewhere).
pub fn process_cpu_s() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesized command name; utime and stime are fields 14 and 15, in
    // USER_HZ = 100 ticks per second on Linux.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / 100.0)
}

/// One grid point's result (rates in percent).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TunePoint {
    pub lm_weight: f32,
    pub word_bonus: f32,
    pub blank_penalty: f32,
    pub wer: f64,
    pub cer: f64,
}

/// The result of [`tune`].
#[derive(Clone, Debug)]
pub struct TuneReport {
    pub utterances: usize,
    /// Greedy decoding without the LM (percent).
    pub greedy_wer: f64,
    pub greedy_cer: f64,
    /// Every grid point, in grid order.
    pub points: Vec<TunePoint>,
    /// The lowest (WER, CER).
    pub best: TunePoint,
}

/// The network's log-probabilities of utterances, computed once for a tuning grid.
pub struct Posteriors {
    /// `(T, V)` per utterance, and its transcript.
    utts: Vec<(Array2<f32>, String)>,
    frame_s: f32,
}

/// `min(len, n)` distinct indices into `0..len`, in order and evenly spread (`i * len / n`).
/// A fixed stride (every `ceil(len / n)`-th) would give only 274 of 821 for `n` = 400.
pub fn evenly_spread(len: usize, n: usize) -> Vec<usize> {
    let n = n.max(1).min(len);
    (0..n).map(|i| i * len / n).collect()
}

impl Posteriors {
    /// Runs the network (averaged over `warps`) over at most `max_utterances` of `utterances`,
    /// evenly spread. `progress` is called once per utterance done.
    pub fn compute(
        model: &Model,
        utterances: &[Utterance],
        warps: &[f64],
        max_utterances: usize,
        progress: &(dyn Fn() + Sync),
    ) -> Result<Self> {
        let chosen: Vec<&Utterance> = evenly_spread(utterances.len(), max_utterances)
            .into_iter()
            .map(|i| &utterances[i])
            .collect();
        let utts = chosen
            .par_iter()
            .map(|u| {
                let samples = read_mono_16k(&u.audio)?;
                let lp = model.ensemble_log_probs(&samples, warps)?;
                progress();
                Ok((lp, u.text.clone()))
            })
            .collect::<Result<_>>()?;
        Ok(Posteriors { utts, frame_s: model.frame_duration_s() })
    }

    pub fn len(&self) -> usize {
        self.utts.len()
    }
    pub fn is_empty(&self) -> bool {
        self.utts.is_empty()
    }

    /// Corpus (WER, CER) in percent: greedy without `opts`, else the prefix beam search with
    /// `lm`.
    pub fn score(
        &self,
        alphabet: &crate::ctc::Alphabet,
        opts: Option<&BeamOptions>,
        lm: Option<&dyn LanguageModel>,
    ) -> (f64, f64) {
        let per: Vec<ErrorRates> = self
            .utts
            .par_iter()
            .map(|(lp, reference)| {
                let hyp = match opts {
                    None => greedy(lp.view(), alphabet, self.frame_s).text,
                    Some(o) => prefix_beam_search(lp.view(), alphabet, self.frame_s, o, lm)
                        .into_iter()
                        .next()
                        .map(|h| h.text)
                        .unwrap_or_default(),
                };
                let mut r = ErrorRates::new();
                r.add(reference, &hyp);
                r
            })
            .collect();
        let mut total = ErrorRates::new();
        for r in per {
            total.words += r.words;
            total.chars += r.chars;
            total.utterances += r.utterances;
        }
        (100.0 * total.wer().unwrap_or(0.0), 100.0 * total.cer().unwrap_or(0.0))
    }
}

/// The settings [`tune`] searches: every combination is decoded.
#[derive(Clone, Debug)]
pub struct TuneGrid {
    pub weights: Vec<f32>,
    pub bonuses: Vec<f32>,
    pub blank_penalties: Vec<f32>,
}

impl TuneGrid {
    /// Why the grid cannot be searched, if it cannot: every list non-empty and finite, every
    /// blank penalty within [`crate::runtime::decoder::check_blank_penalty`].
    pub fn check(&self) -> Result<()> {
        for (name, v) in [
            ("weights", &self.weights),
            ("bonuses", &self.bonuses),
            ("blank penalties", &self.blank_penalties),
        ] {
            if v.is_empty() || v.iter().any(|x| !x.is_finite()) {
                return Err(Error::Options(format!("{name} must be a list of finite numbers")));
            }
        }
        for &p in &self.blank_penalties {
            crate::runtime::decoder::check_blank_penalty(p).map_err(Error::Options)?;
        }
        Ok(())
    }
}

/// Searches LM weight × word bonus × blank penalty for the lowest (WER, CER) at beam width
/// `beam`, on network outputs computed once. `on_point` sees each grid point as it is scored.
pub fn tune(
    post: &Posteriors,
    alphabet: &crate::ctc::Alphabet,
    lm: &dyn LanguageModel,
    grid: &TuneGrid,
    beam: usize,
    on_point: &mut dyn FnMut(&TunePoint),
) -> Result<TuneReport> {
    grid.check()?;
    if post.is_empty() {
        return Err(Error::Options("no utterances to tune on".into()));
    }
    let (greedy_wer, greedy_cer) = post.score(alphabet, None, None);
    let mut points = Vec::new();
    let mut best: Option<TunePoint> = None;
    for &bp in &grid.blank_penalties {
        for &w in &grid.weights {
            for &b in &grid.bonuses {
                let opts = BeamOptions {
                    beam_width: beam.max(1),
                    lm_weight: w,
                    word_bonus: b,
                    blank_penalty: bp,
                    ..BeamOptions::default()
                };
                let (wer, cer) = post.score(alphabet, Some(&opts), Some(lm));
                let p = TunePoint { lm_weight: w, word_bonus: b, blank_penalty: bp, wer, cer };
                on_point(&p);
                if best.is_none_or(|q| (wer, cer) < (q.wer, q.cer)) {
                    best = Some(p);
                }
                points.push(p);
            }
        }
    }
    Ok(TuneReport {
        utterances: post.len(),
        greedy_wer,
        greedy_cer,
        points,
        best: best.expect("the grid is not empty"),
    })
}

/// Writes a tuned decoder into the model directory `dir`: `lm_path` is copied in when it lives
/// elsewhere, and `decoder.json` names it with the tuned weights.
pub fn save_tuned(
    dir: &Path,
    lm_path: &Path,
    beam: usize,
    warps: &[f64],
    best: &TunePoint,
    note: String,
) -> Result<()> {
    let name = lm_path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| Error::Options(format!("bad LM path {}", lm_path.display())))?;
    crate::util::copy_atomic(lm_path, &dir.join(&name))?;
    DecoderConfig {
        lm: Some(name),
        lm_weight: best.lm_weight,
        word_bonus: best.word_bonus,
        blank_penalty: best.blank_penalty,
        beam: beam.max(1),
        warps: warps.to_vec(),
        note,
    }
    .save(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_of_empty_references() {
        assert_eq!(utterance_rate(0, 0), 0.0);
        assert_eq!(utterance_rate(2, 0), f64::INFINITY);
        assert_eq!(utterance_rate(1, 4), 0.25);
    }

    #[test]
    fn evenly_spread_gives_exactly_the_asked_count() {
        let idx = evenly_spread(821, 400);
        assert_eq!(idx.len(), 400);
        assert_eq!(idx[0], 0);
        assert_eq!(idx[1], 2); // 821 / 400 = 2.05
        assert_eq!(*idx.last().unwrap(), 818); // 399 * 821 / 400
        assert!(idx.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(evenly_spread(5, 400), vec![0, 1, 2, 3, 4]);
        assert_eq!(evenly_spread(10, 3), vec![0, 3, 6]);
        assert_eq!(evenly_spread(10, 0), vec![0]);
        assert!(evenly_spread(0, 4).is_empty());
    }
}
