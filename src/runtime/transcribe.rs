//! File transcription: audio file → segments at pauses → features → acoustic model → CTC decoder
//! → a [`Transcript`] with per-segment, per-word and per-character times and confidences.
//!
//! Shapes: `N` samples at 16 kHz mono; `T` feature frames and `T'` network output frames of one
//! segment; `V` labels including the blank.
//!
//! Segmentation. The file is streamed ([`AudioSource`] chunks) through an [`Endpointer`] tuned for
//! files ([`file_endpoint_options`]: a 300 ms pause ends an utterance, an utterance is cut at
//! 20 s), so memory and the BiLSTM's context stay bounded however long the file is. Every sample
//! of the file is decoded exactly once: each detected utterance is one segment, and the audio
//! *between* utterances ("gaps", cut into pieces of at most ~20 s too) is decoded as well. A gap
//! that decodes to no text (silence, noise) is dropped; one that does decode to text is kept.
//! That second rule is what a user expects from a file: speech that the endpointer could not see
//! — words at the very start of a file, before its noise floor is known, or a recording too quiet
//! for the absolute speech gate — is still transcribed, and a short quiet file with no detected
//! speech becomes one segment covering the whole file.
//!
//! Times. Segment times are absolute in the file. An utterance segment spans the endpointer's
//! bounds (pre-roll and hangover included); a kept gap segment spans its characters with
//! [`GAP_MARGIN_S`] either side, clamped to the gap. A character's time is the start of the
//! network frame that emits it; a word runs from its first character's time to the end of its
//! last character's frame.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use ndarray::ArrayView2;
use rayon::prelude::*;
use serde::Serialize;

use crate::audio::AudioSource;
use crate::ctc::decode::decode_best;
use crate::ctc::lm::LanguageModel;
use crate::ctc::{BeamOptions, Hypothesis};
use crate::model::Model;
use crate::runtime::endpoint::{EndpointEvent, EndpointOptions, Endpointer};
use crate::{Result, SAMPLE_RATE_HZ};

/// A kept gap segment reaches this far (s) beyond its first and last characters.
pub const GAP_MARGIN_S: f64 = 0.2;
/// Gaps shorter than this (s) cannot hold a word and are not decoded.
const MIN_GAP_S: f64 = 0.1;
/// While no utterance is open, gap audio older than this (s) behind the stream position may be
/// decoded once the gap reaches the segment limit: the endpointer's pre-roll and onset never reach
/// back further, so a later utterance never starts inside audio already decoded.
const GAP_KEEP_S: f64 = 2.0;
/// `transcribe_samples` feeds the segmenter in chunks of this many samples (as a file would be).
const SAMPLES_CHUNK: usize = 16_000;
/// The segmenter looks at the gap length after every piece of this many samples (0.1 s).
const PUSH_PIECE: usize = 1_600;

/// Endpointer settings for files: a 300 ms pause ends a segment (files are read, not spoken
/// into, so there is no reason to wait longer), and a segment is cut at 20 s.
pub fn file_endpoint_options() -> EndpointOptions {
    EndpointOptions {
        trailing_silence_ms: 300,
        max_utterance_ms: 20_000,
        ..EndpointOptions::default()
    }
}

/// The transcript of one file (or of a sample buffer).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Transcript {
    /// The audio file (None for `transcribe_samples`).
    pub path: Option<PathBuf>,
    /// Length of the audio (s).
    #[serde(serialize_with = "millis")]
    pub duration_s: f64,
    /// Segments with text, in time order, not overlapping.
    pub segments: Vec<Segment>,
}

/// One stretch of speech between pauses.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Segment {
    #[serde(serialize_with = "millis")]
    pub start_s: f64,
    #[serde(serialize_with = "millis")]
    pub end_s: f64,
    /// The words joined by single spaces.
    pub text: String,
    /// The decoder's hypothesis confidence (per-frame geometric mean probability, 0..1).
    #[serde(serialize_with = "four_places")]
    pub confidence: f32,
    pub words: Vec<Word>,
    /// Every character the decoder emitted (spaces included).
    pub chars: Vec<CharTime>,
}

/// A word: characters between spaces.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Word {
    pub text: String,
    #[serde(serialize_with = "millis")]
    pub start_s: f64,
    #[serde(serialize_with = "millis")]
    pub end_s: f64,
    /// Mean of its characters' confidences.
    #[serde(serialize_with = "four_places")]
    pub confidence: f32,
}

/// One emitted character.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CharTime {
    pub ch: char,
    /// Start (s, absolute) of the network frame that emits it.
    #[serde(serialize_with = "millis")]
    pub time_s: f64,
    /// Posterior of its label at that frame.
    #[serde(serialize_with = "four_places")]
    pub confidence: f32,
}

/// Times in JSON to the millisecond (the network's frames are 10-30 ms apart; the f32 → f64
/// conversion otherwise shows as 0.15999998450279235).
fn millis<S: serde::Serializer>(v: &f64, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_f64((v * 1000.0).round() / 1000.0)
}

/// Confidences in JSON to four decimals.
fn four_places<S: serde::Serializer>(v: &f32, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_f64((f64::from(*v) * 1e4).round() / 1e4)
}

impl Transcript {
    /// The segments' texts joined by single spaces.
    pub fn text(&self) -> String {
        let texts: Vec<&str> = self.segments.iter().map(|s| s.text.as_str()).collect();
        texts.join(" ")
    }
}

/// Turns a decoder hypothesis of a segment starting at `offset_s` into absolute character times
/// and words (`frame_s` = seconds per network frame).
pub fn segment_from_hypothesis(
    hyp: &Hypothesis,
    offset_s: f64,
    frame_s: f64,
    span: (f64, f64),
) -> Segment {
    let chars: Vec<CharTime> = hyp
        .text
        .chars()
        .zip(hyp.char_times_s.iter().zip(&hyp.char_confidences))
        .map(|(ch, (&t, &c))| CharTime { ch, time_s: offset_s + t as f64, confidence: c })
        .collect();
    let words = words_from_chars(&chars, frame_s);
    let texts: Vec<&str> = words.iter().map(|w| w.text.as_str()).collect();
    Segment {
        start_s: span.0,
        end_s: span.1,
        text: texts.join(" "),
        confidence: hyp.confidence,
        words,
        chars,
    }
}

/// Silence between two words (s) that starts a new segment when a file is decoded in one pass.
pub const PAUSE_S: f64 = 0.6;

/// Silence (s) between two decoded characters that makes a word break in a decode with no space
/// at all: a model that never emits spaces (such as a keyword or tone detector) relies on it. A
/// decode that has a space anywhere comes from a model that spells word breaks itself, and then
/// splitting never adds one: a CTC model can emit the last letter of a word a second after the
/// rest (measured: "fiv…e" 1.02 s apart), and that stays one word.
pub const WORD_BREAK_PAUSE_S: f64 = 1.0;

/// Splits a segment where the silence between two consecutive words is at least `pause_s`. Each
/// part spans its words plus `margin_s` on each side, within the original span and without
/// overlap; a segment without words yields nothing. Words are the decoder's; only in a decode
/// without any space, and with `break_words` (false for a lexicon-constrained LM, which only
/// produces whole words), [`WORD_BREAK_PAUSE_S`] or more of silence between two characters is a
/// word break too. So for a model that emits spaces the parts' texts joined by spaces are the
/// decoder's text, which is what the training validation scores.
pub fn split_at_pauses(
    seg: Segment,
    pause_s: f64,
    margin_s: f64,
    frame_s: f64,
    break_words: bool,
) -> Vec<Segment> {
    let spells_spaces = seg.chars.iter().any(|c| c.ch.is_whitespace());
    let mut broken: Vec<CharTime> = Vec::with_capacity(seg.chars.len());
    for c in &seg.chars {
        if let Some(p) = broken.last()
            && break_words
            && !spells_spaces
            && !p.ch.is_whitespace()
            && !c.ch.is_whitespace()
            && c.time_s - (p.time_s + frame_s) >= WORD_BREAK_PAUSE_S.max(pause_s)
        {
            broken.push(CharTime { ch: ' ', time_s: p.time_s, confidence: 1.0 });
        }
        broken.push(c.clone());
    }
    let mut groups: Vec<Vec<Word>> = Vec::new();
    for w in words_from_chars(&broken, frame_s) {
        match groups.last_mut() {
            Some(g) if w.start_s - g.last().map_or(f64::MIN, |p| p.end_s) < pause_s => g.push(w),
            _ => groups.push(vec![w]),
        }
    }
    let mut out: Vec<Segment> = Vec::with_capacity(groups.len());
    for (i, words) in groups.iter().enumerate() {
        let (first, last) = (words[0].start_s, words[words.len() - 1].end_s);
        let next = groups.get(i + 1).map_or(seg.end_s, |g| g[0].start_s);
        let prev_end = out.last().map_or(seg.start_s, |p: &Segment| p.end_s);
        let start_s = (first - margin_s).max(prev_end).max(seg.start_s);
        let end_s = (last + margin_s).min((last + next) / 2.0).min(seg.end_s);
        let chars: Vec<CharTime> =
            seg.chars.iter().filter(|c| c.time_s >= first && c.time_s < last).cloned().collect();
        let chars: Vec<CharTime> = chars.into_iter().skip_while(|c| c.ch.is_whitespace()).collect();
        let texts: Vec<&str> = words.iter().map(|w| w.text.as_str()).collect();
        let confidence = words.iter().map(|w| w.confidence).sum::<f32>() / words.len() as f32;
        out.push(Segment {
            start_s,
            end_s,
            text: texts.join(" "),
            confidence,
            words: words.clone(),
            chars,
        });
    }
    out
}

/// Groups characters into words at spaces (any whitespace).
pub fn words_from_chars(chars: &[CharTime], frame_s: f64) -> Vec<Word> {
    let mut words = Vec::new();
    for group in chars.split(|c| c.ch.is_whitespace()) {
        let (Some(first), Some(last)) = (group.first(), group.last()) else { continue };
        let conf = group.iter().map(|c| c.confidence).sum::<f32>() / group.len() as f32;
        words.push(Word {
            text: group.iter().map(|c| c.ch).collect(),
            start_s: first.time_s,
            end_s: last.time_s + frame_s,
            confidence: conf,
        });
    }
    words
}

/// Transcribes files with one model and one decoder setting.
///
/// [`Transcriber::transcribe_files`] runs files in parallel on all cores (rayon, one file per
/// task); a single file is decoded on the calling thread (its features use the pool for long
/// segments).
pub struct Transcriber {
    /// Shared, not copied: one loaded model serves any number of transcribers (the app's Files
    /// queue, the CLI's parallel files).
    pub model: Arc<Model>,
    /// `beam_width` 0 or 1 without an LM = greedy decoding; otherwise prefix beam search (an LM
    /// always goes with beam search, at least width 1).
    pub beam: BeamOptions,
    pub lm: Option<Arc<dyn LanguageModel>>,
    /// The ARPA file `lm` was read from (for reports).
    pub lm_path: Option<std::path::PathBuf>,
    /// Frequency warps whose network outputs are averaged ([`Model::ensemble_log_probs`]);
    /// empty = one unwarped pass.
    pub warps: Vec<f64>,
    /// Segmentation settings (`Transcriber::new` uses [`file_endpoint_options`]).
    pub endpoint: EndpointOptions,
}

impl Transcriber {
    /// Greedy decoding, no LM, file segmentation settings.
    pub fn new(model: impl Into<Arc<Model>>) -> Self {
        Transcriber {
            model: model.into(),
            beam: BeamOptions { beam_width: 1, ..BeamOptions::default() },
            lm: None,
            lm_path: None,
            warps: Vec::new(),
            endpoint: file_endpoint_options(),
        }
    }

    /// The decoder settings in use (the inverse of [`Self::set_decoder`]).
    pub fn decoder(&self) -> crate::runtime::decoder::DecoderSetup {
        crate::runtime::decoder::DecoderSetup {
            beam: self.beam.clone(),
            lm: self.lm.clone(),
            lm_path: self.lm_path.clone(),
            warps: self.warps.clone(),
        }
    }

    /// Decodes with `d` (beam settings and LM) from now on.
    pub fn set_decoder(&mut self, d: crate::runtime::decoder::DecoderSetup) {
        self.beam = d.beam;
        self.lm = d.lm;
        self.lm_path = d.lm_path;
        self.warps = d.warps;
    }

    /// Streams `path` and transcribes it; `progress` gets the seconds of audio read so far.
    pub fn transcribe_file(
        &self,
        path: &Path,
        progress: &mut dyn FnMut(f64),
    ) -> Result<Transcript> {
        let mut source = AudioSource::open(path)?;
        let mut seg = Segmenter::new(self)?;
        let mut chunk = Vec::new();
        loop {
            chunk.clear();
            if source.read_chunk(&mut chunk)? == 0 {
                break;
            }
            seg.push(&chunk)?;
            progress(seg.pos as f64 / SAMPLE_RATE_HZ as f64);
        }
        let mut t = seg.finish()?;
        t.path = Some(path.to_path_buf());
        Ok(t)
    }

    /// Transcribes 16 kHz mono samples exactly as a file holding them would be.
    pub fn transcribe_samples(&self, samples: &[f32]) -> Result<Transcript> {
        let mut seg = Segmenter::new(self)?;
        for chunk in samples.chunks(SAMPLES_CHUNK) {
            seg.push(chunk)?;
        }
        seg.finish()
    }

    /// Transcribes many files in parallel (rayon over files: all cores). `progress(i, seconds)`
    /// reports file `i`'s seconds read so far, from worker threads. Results are in input order.
    pub fn transcribe_files(
        &self,
        paths: &[PathBuf],
        progress: &(dyn Fn(usize, f64) + Sync),
    ) -> Vec<Result<Transcript>> {
        paths
            .par_iter()
            .enumerate()
            .map(|(i, p)| self.transcribe_file(p, &mut |s| progress(i, s)))
            .collect()
    }

    /// Decodes one segment's samples: features → log-probs (averaged over the warp ensemble, if
    /// any) → decoder.
    pub fn decode(&self, samples: &[f32]) -> Result<Hypothesis> {
        let lp = self.model.ensemble_log_probs(samples, &self.warps)?;
        Ok(self.decode_log_probs(lp.view()))
    }

    /// The configured decoder over `(T', V)` log-probabilities.
    pub fn decode_log_probs(&self, log_probs: ArrayView2<f32>) -> Hypothesis {
        let alphabet = &self.model.config.alphabet;
        let frame_s = self.model.frame_duration_s();
        decode_best(log_probs, alphabet, frame_s, &self.beam, self.lm.as_deref())
    }
}

/// Streaming segmentation state: all audio from `buf_start` to `pos` is buffered.
struct Segmenter<'a> {
    tr: &'a Transcriber,
    ep: Endpointer,
    buf: Vec<f32>,
    buf_start: u64,
    pos: u64,
    /// Start of the open utterance.
    utt_start: Option<u64>,
    max_len: u64,
    keep: u64,
    segments: Vec<Segment>,
    /// Audio held back until it is clear whether the file fits in one segment. A file no longer
    /// than the segment limit is decoded whole, as the model saw its training utterances: cutting
    /// it at the endpointer's guesses only loses context at the cuts.
    deferred: Option<Vec<f32>>,
}

impl<'a> Segmenter<'a> {
    fn new(tr: &'a Transcriber) -> Result<Self> {
        let ep = Endpointer::new(tr.endpoint.clone())?;
        let rate = tr.endpoint.sample_rate_hz as u64;
        let max_len = rate * tr.endpoint.max_utterance_ms as u64 / 1000;
        let keep = ((GAP_KEEP_S * rate as f64) as u64).min(max_len / 2);
        Ok(Segmenter {
            tr,
            ep,
            buf: Vec::new(),
            buf_start: 0,
            pos: 0,
            utt_start: None,
            max_len,
            keep,
            segments: Vec::new(),
            deferred: Some(Vec::new()),
        })
    }

    /// Feeds audio in pieces of at most [`PUSH_PIECE`] samples, so a gap never outgrows the
    /// segment limit by more than one piece whatever the caller's chunk size.
    fn push(&mut self, chunk: &[f32]) -> Result<()> {
        if let Some(held) = &mut self.deferred {
            held.extend_from_slice(chunk);
            self.pos = held.len() as u64;
            if self.pos <= self.max_len {
                return Ok(());
            }
            // Longer than one segment: segment at pauses from the start.
            let held = self.deferred.take().unwrap_or_default();
            self.pos = 0;
            return self.push(&held);
        }
        for piece in chunk.chunks(PUSH_PIECE) {
            self.push_piece(piece)?;
        }
        Ok(())
    }

    fn push_piece(&mut self, chunk: &[f32]) -> Result<()> {
        self.buf.extend_from_slice(chunk);
        self.pos += chunk.len() as u64;
        for ev in self.ep.push(chunk) {
            self.event(ev)?;
        }
        if self.utt_start.is_none() && self.pos - self.buf_start >= self.max_len {
            self.segment(self.pos - self.keep, false)?;
        }
        Ok(())
    }

    fn finish(mut self) -> Result<Transcript> {
        if let Some(held) = self.deferred.take() {
            // The file fits in one window: run the network once over all of it (full context on
            // both sides, as in training) and split the result at pauses between its words.
            let duration_s = held.len() as f64 / SAMPLE_RATE_HZ as f64;
            let hyp = self.tr.decode(&held)?;
            let frame_s = self.tr.model.frame_duration_s() as f64;
            let whole = segment_from_hypothesis(&hyp, 0.0, frame_s, (0.0, duration_s));
            return Ok(Transcript {
                path: None,
                duration_s,
                segments: split_at_pauses(
                    whole,
                    PAUSE_S,
                    GAP_MARGIN_S,
                    frame_s,
                    self.tr.lm.as_ref().is_none_or(|m| m.lexicon().is_none()),
                ),
            });
        }
        for ev in self.ep.finish() {
            self.event(ev)?;
        }
        if self.pos > self.buf_start {
            self.segment(self.pos, self.utt_start.is_some())?;
        }
        Ok(Transcript {
            path: None,
            duration_s: self.pos as f64 / SAMPLE_RATE_HZ as f64,
            segments: self.segments,
        })
    }

    fn event(&mut self, ev: EndpointEvent) -> Result<()> {
        match ev {
            EndpointEvent::SpeechStart { at_sample } => {
                let at = at_sample.max(self.buf_start);
                if at > self.buf_start {
                    self.segment(at, false)?;
                }
                self.utt_start = Some(at);
            }
            EndpointEvent::SpeechEnd { at_sample, .. } => {
                let at = at_sample.clamp(self.buf_start, self.pos);
                self.segment(at, true)?;
                self.utt_start = None;
            }
            EndpointEvent::Speech { .. } => {}
        }
        Ok(())
    }

    /// Decodes the buffered audio `[buf_start, end)` and drops it from the buffer.
    fn segment(&mut self, end: u64, utterance: bool) -> Result<()> {
        let rate = SAMPLE_RATE_HZ as f64;
        let n = (end - self.buf_start) as usize;
        let (start_s, end_s) = (self.buf_start as f64 / rate, end as f64 / rate);
        let audio: Vec<f32> = self.buf.drain(..n).collect();
        self.buf_start = end;
        if !utterance && (end_s - start_s) < MIN_GAP_S {
            return Ok(());
        }
        if audio.is_empty() {
            return Ok(());
        }
        let hyp = self.tr.decode(&audio)?;
        let frame_s = self.tr.model.frame_duration_s() as f64;
        let mut seg = segment_from_hypothesis(&hyp, start_s, frame_s, (start_s, end_s));
        if seg.words.is_empty() {
            return Ok(());
        }
        if !utterance {
            let first = seg.words.first().map_or(start_s, |w| w.start_s);
            let last = seg.words.last().map_or(end_s, |w| w.end_s);
            seg.start_s = (first - GAP_MARGIN_S).max(start_s);
            seg.end_s = (last + GAP_MARGIN_S).min(end_s);
        }
        self.segments.push(seg);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ct(ch: char, time_s: f64, confidence: f32) -> CharTime {
        CharTime { ch, time_s, confidence }
    }

    #[test]
    fn words_split_at_spaces_with_frame_end_times() {
        let chars = [
            ct(' ', 0.0, 0.9),
            ct('h', 0.10, 0.5),
            ct('i', 0.20, 1.0),
            ct(' ', 0.30, 0.9),
            ct(' ', 0.35, 0.9),
            ct('y', 0.50, 0.25),
            ct('o', 0.60, 0.75),
        ];
        let w = words_from_chars(&chars, 0.04);
        assert_eq!(w.len(), 2);
        assert_eq!(w[0].text, "hi");
        assert!((w[0].start_s - 0.10).abs() < 1e-12 && (w[0].end_s - 0.24).abs() < 1e-12);
        assert!((w[0].confidence - 0.75).abs() < 1e-6);
        assert_eq!(w[1].text, "yo");
        assert!((w[1].start_s - 0.50).abs() < 1e-12 && (w[1].end_s - 0.64).abs() < 1e-12);
        assert!((w[1].confidence - 0.5).abs() < 1e-6);
    }

    #[test]
    fn hypothesis_times_become_absolute() {
        let hyp = Hypothesis {
            text: "ab c".into(),
            labels: vec![1, 2, 27, 3],
            char_times_s: vec![0.0, 0.5, 0.75, 1.0],
            char_confidences: vec![1.0, 0.5, 1.0, 0.25],
            confidence: 0.8,
            log_prob: -1.0,
            score: -1.0,
        };
        let s = segment_from_hypothesis(&hyp, 10.0, 0.25, (9.5, 11.5));
        assert_eq!(s.text, "ab c");
        assert_eq!((s.start_s, s.end_s), (9.5, 11.5));
        assert_eq!(s.chars.len(), 4);
        assert_eq!(s.chars[3].time_s, 11.0);
        assert_eq!(s.words[0].end_s, 10.75);
        assert_eq!(s.words[1].start_s, 11.0);
        assert_eq!(s.words[1].end_s, 11.25);
    }

    #[test]
    fn a_pause_inside_a_word_never_splits_it() {
        // "five" with 0.9 s between its "f" and "ive" (a drawn-out or mis-timed onset), then a
        // 1 s pause before "oh": one segment break, between the words, and no space in "five".
        let hyp = Hypothesis {
            text: "five oh".into(),
            labels: vec![6, 9, 22, 5, 1, 15, 8],
            char_times_s: vec![0.1, 1.0, 1.04, 1.08, 1.12, 2.2, 2.24],
            char_confidences: vec![1.0; 7],
            confidence: 1.0,
            log_prob: -1.0,
            score: -1.0,
        };
        let seg = segment_from_hypothesis(&hyp, 0.0, 0.03, (0.0, 3.0));
        let parts = split_at_pauses(seg.clone(), PAUSE_S, 0.1, 0.03, true);
        let texts: Vec<&str> = parts.iter().map(|p| p.text.as_str()).collect();
        assert_eq!(texts, ["five", "oh"]);
        assert_eq!(parts[0].words.len(), 1);
        assert!((parts[0].words[0].start_s - 0.1).abs() < 1e-6);
        let t = Transcript { path: None, duration_s: 3.0, segments: parts };
        assert_eq!(t.text(), hyp.text);
        // However long the silence inside a word of a decode that has spaces (here the "e" of
        // "fiv…e" 1.3 s late, as the digits model did), it stays one word.
        let mut far = hyp.clone();
        far.char_times_s[3..].iter_mut().for_each(|t| *t += 1.3);
        let seg = segment_from_hypothesis(&far, 0.0, 0.03, (0.0, 4.5));
        let texts: Vec<String> =
            split_at_pauses(seg, PAUSE_S, 0.1, 0.03, true).into_iter().map(|p| p.text).collect();
        assert_eq!(texts, ["five", "oh"]);
        // A decode without any space (a model that never emits one): 1.2 s of silence between
        // two characters is a word break.
        let nospace = Hypothesis {
            text: "aa".into(),
            labels: vec![2, 2],
            char_times_s: vec![0.5, 1.73],
            char_confidences: vec![1.0; 2],
            confidence: 1.0,
            log_prob: -1.0,
            score: -1.0,
        };
        let seg = segment_from_hypothesis(&nospace, 0.0, 0.03, (0.0, 2.5));
        let texts: Vec<String> =
            split_at_pauses(seg, PAUSE_S, 0.1, 0.03, true).into_iter().map(|p| p.text).collect();
        assert_eq!(texts, ["a", "a"]);
    }

    #[test]
    fn transcript_text_joins_segments() {
        let seg = |text: &str| Segment {
            start_s: 0.0,
            end_s: 1.0,
            text: text.into(),
            confidence: 1.0,
            words: vec![],
            chars: vec![],
        };
        let t = Transcript {
            path: None,
            duration_s: 2.0,
            segments: vec![seg("hello there"), seg("world")],
        };
        assert_eq!(t.text(), "hello there world");
    }
}
