//! Streaming recognizer: 16 kHz mono samples in, partial and final transcripts out.
//!
//! Shape legend: `N` samples (16 kHz mono, [-1, 1]); `T` network output frames of one decoded
//! segment (`frame_samples` = feature shift × subsampling samples each); `V` labels incl. blank.
//!
//! Two layers:
//! - [`Recognizer`] is synchronous and deterministic: `push` feeds samples through the
//!   [`Endpointer`] and returns the finals its endpoints complete; `refresh_partial` re-decodes
//!   the open utterance when `partial_interval_ms` of new audio has arrived. Tests drive it directly.
//! - [`RecognizerHandle::spawn`] runs one on a worker thread fed by a [`Capture`] or by any
//!   `Receiver<CaptureEvent>` ([`feed_realtime`] paces a recording like a microphone), and sends
//!   typed [`RecognizerEvent`]s back, calling `notify` after each (design habit 14).
//!
//! The model is bidirectional, so a partial cannot be extended frame by frame: each refresh re-runs
//! features + network over the utterance's *uncommitted* audio. Features are recomputed from the
//! utterance buffer rather than kept incrementally with `OnlineFeatures`: MFCC costs ~1 % of the
//! network (`cargo bench --bench live` prints both; results in `benches/RESULTS.md`), and
//! recomputing keeps the final bit-identical to the offline path (`model.features` →
//! `log_probs` → decoder) on the same samples.
//!
//! Bounded cost: when the uncommitted audio exceeds `partial_window_ms`, the text before a pause
//! in the first part of it is *committed*: frozen, and decoded as a final is (beam and LM, one
//! network pass), so with an LM it holds only words the LM knows. The cut is at a pause between
//! words ([`commit_point`]). The LM scores the committed words as a sentence of their own and the
//! words after the cut from a sentence start: the context across the cut is lost.
//! Later refreshes and the final decode only the audio after the cut. An utterance shorter than
//! the window is never committed, and its final equals the offline decode exactly.
//!
//! Forced splits: the endpointer cuts speech longer than `max_utterance_ms` at a hard sample.
//! A word straddling it would be torn in two, so the final of a forced utterance ends at the
//! longest blank run in its last half instead, and the audio after that point is carried into the
//! next utterance (which the endpointer starts exactly at the cut when speech goes on); if speech
//! does not go on, the carried audio is decoded on its own.

use std::path::Path;
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, TryRecvError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use ndarray::{Array2, s};

use crate::audio::Wav16kWriter;
use crate::audio::capture::{Capture, CaptureEvent, LevelMeter};
use crate::ctc::decode::{BeamOptions, Hypothesis, decode_best, greedy};
use crate::ctc::lm::LanguageModel;
use crate::model::Model;
use crate::runtime::endpoint::{EndpointEvent, EndpointOptions, Endpointer};
use crate::runtime::messages::{RecognizerCommand, RecognizerEvent, WordTiming};
use crate::{Error, Result, SAMPLE_RATE_HZ};

const SR: f32 = SAMPLE_RATE_HZ as f32;

/// `first_partial_interval_ms` applies to the first this-much of an utterance only: noise that
/// opened an utterance but decodes to nothing would otherwise be re-decoded at the fast cadence
/// over a growing buffer (a refresh over 1.5 s costs ~35 ms with the 3×256 model).
const FIRST_PARTIAL_SPAN_MS: u32 = 1500;

/// Settings of the live recognizer. `Default`: partials every 250 ms (every 100 ms until the
/// first one) over at most 8 s of audio, beam 16, finals in one pass, default endpointing (500 ms
/// trailing silence, 15 s longest utterance).
#[derive(Debug, Clone, PartialEq)]
pub struct RecognizerOptions {
    pub endpoint: EndpointOptions,
    /// New audio between partial refreshes while speech is active.
    pub partial_interval_ms: u32,
    /// The same until the utterance's first partial has been shown (within its first
    /// `FIRST_PARTIAL_SPAN_MS`): the first letters need a few hundred ms of speech before the
    /// net emits them, and a refresh then costs little (the utterance is short), so a shorter
    /// cadence here cuts the onset → first partial latency by up to `partial_interval_ms` at
    /// almost no CPU (`benches/live.rs`).
    pub first_partial_interval_ms: u32,
    /// Longest uncommitted audio a refresh decodes; above it, stable text is committed.
    pub partial_window_ms: u32,
    /// Final decoding (prefix beam search; `lm_weight`/`word_bonus` apply with an LM).
    pub beam: BeamOptions,
    /// Frequency warps whose network outputs a final averages, as file decoding does
    /// ([`Model::ensemble_log_probs`]; empty: one pass). Partials always take one pass: they are
    /// refreshed many times per utterance, a final once.
    pub final_warps: Vec<f64>,
}

/// Endpointer settings for live input: the defaults with a 300 ms hangover. A final is decoded
/// only up to the utterance's end, and the bidirectional network needs audio after the last loud
/// frame to keep a quiet last word: with 100 ms, "world this is hark" came out as "worldiss h" at
/// some sub-sample phases of the microphone (`tests/listen.rs`), while `hark transcribe` of the
/// same file kept it. The final still comes `trailing_silence_ms` after the speech.
pub fn live_endpoint_options() -> EndpointOptions {
    EndpointOptions { hangover_ms: 300, ..EndpointOptions::default() }
}

impl Default for RecognizerOptions {
    fn default() -> Self {
        RecognizerOptions {
            endpoint: live_endpoint_options(),
            partial_interval_ms: 250,
            first_partial_interval_ms: 100,
            partial_window_ms: 8000,
            beam: BeamOptions::default(),
            final_warps: Vec::new(),
        }
    }
}

impl RecognizerOptions {
    /// The live defaults decoding as `setup` says (its beam settings, and its warp ensemble for
    /// finals): the one way the app and `hark listen` turn a model's decoder into live options.
    pub fn for_decoder(setup: &crate::runtime::decoder::DecoderSetup) -> Self {
        RecognizerOptions {
            beam: setup.beam.clone(),
            final_warps: setup.warps.clone(),
            ..RecognizerOptions::default()
        }
    }

    pub fn validate(&self) -> Result<()> {
        self.endpoint.validate()?;
        if !(10..=10_000).contains(&self.partial_interval_ms) {
            return Err(Error::Options(format!(
                "recognizer.partial_interval_ms = {}: expected 10..=10000",
                self.partial_interval_ms
            )));
        }
        if !(10..=self.partial_interval_ms).contains(&self.first_partial_interval_ms) {
            return Err(Error::Options(format!(
                "recognizer.first_partial_interval_ms = {}: expected 10..=partial_interval_ms ({})",
                self.first_partial_interval_ms, self.partial_interval_ms
            )));
        }
        if self.partial_window_ms < 1000 {
            return Err(Error::Options(format!(
                "recognizer.partial_window_ms = {}: expected at least 1000",
                self.partial_window_ms
            )));
        }
        if self.beam.beam_width == 0 {
            return Err(Error::Options("recognizer.beam.beam_width must be at least 1".into()));
        }
        crate::runtime::decoder::check_blank_penalty(self.beam.blank_penalty)
            .map_err(|e| Error::Options(format!("recognizer.beam.blank_penalty: {e}")))?;
        crate::runtime::decoder::check_warps(&self.final_warps)
            .map_err(|e| Error::Options(format!("recognizer.final_warps: {e}")))?;
        Ok(())
    }
}

/// Decoded characters with stream times and posteriors: (char, time_s, confidence).
type Chars = Vec<(char, f32, f32)>;

/// The utterance being spoken.
struct Open {
    number: u64,
    /// Stream sample of `buf[0]`.
    start: u64,
    /// (N,) the utterance's audio so far (it runs past the end until the endpoint is decided).
    buf: Vec<f32>,
    /// Start of the uncommitted audio in `buf`.
    commit_off: usize,
    committed: Chars,
    /// Acoustic ln-probability and frame count of the committed part (for the final confidence).
    committed_lp: f32,
    committed_frames: usize,
    /// Samples appended since the last refresh.
    since_refresh: usize,
    /// Text of the last Partial sent ("" = none yet).
    shown: String,
}

/// Audio after the split point of a forced cut, waiting for the next utterance.
struct Carry {
    start: u64,
    samples: Vec<f32>,
}

/// Synchronous streaming recognizer (see the module docs).
pub struct Recognizer {
    model: Arc<Model>,
    lm: Option<Arc<dyn LanguageModel>>,
    opts: RecognizerOptions,
    endpointer: Endpointer,
    /// Samples per network output frame.
    frame_samples: usize,
    /// Stream samples pushed so far, and the stream sample where the endpointer's clock starts
    /// (it restarts at 0 after `finish`).
    pos: u64,
    base: u64,
    next_number: u64,
    open: Option<Open>,
    carry: Option<Carry>,
}

impl Recognizer {
    pub fn new(
        model: Arc<Model>,
        lm: Option<Arc<dyn LanguageModel>>,
        opts: RecognizerOptions,
    ) -> Result<Self> {
        opts.validate()?;
        if model.config.features.sample_rate_hz != SAMPLE_RATE_HZ
            || opts.endpoint.sample_rate_hz != SAMPLE_RATE_HZ
        {
            return Err(Error::Options(format!(
                "the live recognizer works at {SAMPLE_RATE_HZ} Hz; the model's features expect {} \
                 Hz and the endpointer {} Hz",
                model.config.features.sample_rate_hz, opts.endpoint.sample_rate_hz
            )));
        }
        let frame_samples = model.config.features.frame_shift() * model.config.arch.subsample;
        Ok(Recognizer {
            endpointer: Endpointer::new(opts.endpoint.clone())?,
            frame_samples: frame_samples.max(1),
            model,
            lm,
            opts,
            pos: 0,
            base: 0,
            next_number: 0,
            open: None,
            carry: None,
        })
    }

    pub fn options(&self) -> &RecognizerOptions {
        &self.opts
    }

    /// Whether an utterance is open (speech is active).
    pub fn in_speech(&self) -> bool {
        self.open.is_some()
    }

    /// Samples of the open utterance that the next refresh would decode (0 in silence); bounded
    /// by about `partial_window_ms` + `partial_interval_ms` once text is committed.
    pub fn uncommitted_samples(&self) -> usize {
        self.open.as_ref().map_or(0, |o| o.buf.len() - o.commit_off)
    }

    /// Samples pushed since the start.
    pub fn samples_pushed(&self) -> u64 {
        self.pos
    }

    /// Feeds the next samples; returns the finals of utterances whose end they revealed.
    pub fn push(&mut self, samples: &[f32]) -> Vec<RecognizerEvent> {
        let t0 = Instant::now();
        let eps = self.endpointer.push(samples);
        self.pos += samples.len() as u64;
        let mut out = Vec::new();
        self.handle(eps, t0, &mut out);
        out
    }

    /// Ends the stream: finalizes the open utterance (and any carried audio) and restarts
    /// endpointing; the stream clock keeps running.
    pub fn finish(&mut self) -> Vec<RecognizerEvent> {
        let t0 = Instant::now();
        let eps = self.endpointer.finish();
        let mut out = Vec::new();
        self.handle(eps, t0, &mut out);
        if let Some(c) = self.carry.take() {
            self.final_of_carry(c, t0, &mut out);
        }
        self.base = self.pos;
        out
    }

    /// Drops the open utterance without a final and restarts endpointing.
    pub fn reset(&mut self) {
        let _ = self.endpointer.finish();
        self.open = None;
        self.carry = None;
        self.base = self.pos;
    }

    /// Re-decodes the open utterance when `partial_interval_ms` of audio arrived since the last
    /// refresh (`first_partial_interval_ms` while no partial has been shown); returns a Partial
    /// when its text changed.
    pub fn refresh_partial(&mut self) -> Option<RecognizerEvent> {
        let ms = |ms: u32| (ms as u64 * SAMPLE_RATE_HZ as u64 / 1000) as usize;
        let window = ms(self.opts.partial_window_ms);
        let open = self.open.as_mut()?;
        let interval = ms(if open.shown.is_empty() && open.buf.len() < ms(FIRST_PARTIAL_SPAN_MS) {
            self.opts.first_partial_interval_ms
        } else {
            self.opts.partial_interval_ms
        });
        if open.since_refresh < interval {
            return None;
        }
        let t0 = Instant::now();
        open.since_refresh = 0;
        let seg = &open.buf[open.commit_off..];
        let (model, lm, beam) = (&self.model, self.lm.as_deref(), &self.opts.beam);
        let lp = match log_probs(model, seg) {
            Ok(lp) => lp,
            Err(e) => return Some(RecognizerEvent::Error(format!("partial decoding: {e}"))),
        };
        let alphabet = &model.config.alphabet;
        let fd = model.frame_duration_s();
        let seg_t0 = (open.start + open.commit_off as u64) as f32 / SR;
        let mut hyp = greedy(lp.view(), alphabet, fd);
        if seg.len() > window && lp.nrows() >= 4 {
            // Committed text is final text: it is decoded as the final is (beam, LM), so with an
            // LM it holds only words the LM knows.
            let (cut, head, at_space) = commit_point(&lp, fd, |v| beam_decode(model, lm, beam, v));
            open.committed.extend(chars_of(&head, seg_t0));
            if at_space || lm.is_some() {
                open.committed.push((' ', seg_t0 + cut as f32 * fd, 1.0));
            }
            open.committed_lp += head.log_prob;
            open.committed_frames += cut;
            open.commit_off += cut * self.frame_samples;
            let tail = lp.slice(s![cut.., ..]);
            hyp = greedy(tail, alphabet, fd);
            hyp.char_times_s.iter_mut().for_each(|x| *x += cut as f32 * fd);
        }
        let mut chars = open.committed.clone();
        chars.extend(chars_of(&hyp, seg_t0));
        let text: String = tidy(chars).iter().map(|c| c.0).collect();
        if text == open.shown {
            return None;
        }
        open.shown = text.clone();
        Some(RecognizerEvent::Partial {
            utterance: open.number,
            text,
            start_s: open.start as f32 / SR,
            decode_ms: t0.elapsed().as_secs_f32() * 1000.0,
        })
    }

    fn handle(&mut self, eps: Vec<EndpointEvent>, t0: Instant, out: &mut Vec<RecognizerEvent>) {
        for ep in eps {
            match ep {
                EndpointEvent::SpeechStart { at_sample } => {
                    let at = self.base + at_sample;
                    let (start, buf) = match self.carry.take() {
                        Some(c) if c.start + c.samples.len() as u64 == at => (c.start, c.samples),
                        Some(c) => {
                            self.final_of_carry(c, t0, out);
                            (at, Vec::new())
                        }
                        None => (at, Vec::new()),
                    };
                    self.open = Some(Open {
                        number: self.next_number,
                        start,
                        since_refresh: buf.len(),
                        buf,
                        commit_off: 0,
                        committed: Vec::new(),
                        committed_lp: 0.0,
                        committed_frames: 0,
                        shown: String::new(),
                    });
                    self.next_number += 1;
                }
                EndpointEvent::Speech { samples, .. } => {
                    if let Some(open) = self.open.as_mut() {
                        open.since_refresh += samples.len();
                        open.buf.extend_from_slice(&samples);
                    }
                }
                EndpointEvent::SpeechEnd { at_sample, forced } => {
                    if let Some(open) = self.open.take() {
                        let end = self.base + at_sample;
                        self.final_of(open, end, forced, t0, out);
                    }
                }
            }
        }
    }

    /// Final of an utterance ending at stream sample `end`.
    fn final_of(
        &mut self,
        mut open: Open,
        end: u64,
        forced: bool,
        t0: Instant,
        out: &mut Vec<RecognizerEvent>,
    ) {
        let keep = (end.saturating_sub(open.start) as usize).min(open.buf.len());
        open.buf.truncate(keep);
        let seg_start = open.commit_off.min(keep);
        let lp = match self.model.ensemble_log_probs(&open.buf[seg_start..], &self.opts.final_warps)
        {
            Ok(lp) => lp,
            Err(e) => {
                out.push(RecognizerEvent::Error(format!("final decoding: {e}")));
                return;
            }
        };
        let mut use_frames = lp.nrows();
        let mut end = end;
        if forced {
            let t = lp.nrows();
            if let Some(m) = longest_blank_run(&lp, t / 2, t).filter(|&m| m > 0) {
                let split = seg_start + m * self.frame_samples;
                if split < keep {
                    use_frames = m;
                    self.carry = Some(Carry {
                        start: open.start + split as u64,
                        samples: open.buf[split..].to_vec(),
                    });
                    end = open.start + split as u64;
                }
            }
        }
        let hyp = self.beam(lp.slice(s![..use_frames, ..]));
        let seg_t0 = (open.start + seg_start as u64) as f32 / SR;
        let mut chars = std::mem::take(&mut open.committed);
        chars.extend(chars_of(&hyp, seg_t0));
        let frames = open.committed_frames + use_frames;
        let lp_sum = open.committed_lp + hyp.log_prob;
        let confidence = if frames == 0 { 1.0 } else { (lp_sum / frames as f32).exp() };
        emit_final(
            open.number,
            chars,
            open.start,
            end,
            confidence,
            !open.shown.is_empty(),
            self.model.frame_duration_s(),
            t0,
            out,
        );
    }

    /// Carried audio whose utterance did not go on: decoded on its own.
    fn final_of_carry(&mut self, c: Carry, t0: Instant, out: &mut Vec<RecognizerEvent>) {
        let lp = match self.model.ensemble_log_probs(&c.samples, &self.opts.final_warps) {
            Ok(lp) => lp,
            Err(e) => {
                out.push(RecognizerEvent::Error(format!("final decoding: {e}")));
                return;
            }
        };
        let hyp = self.beam(lp.view());
        let number = self.next_number;
        self.next_number += 1;
        let chars = chars_of(&hyp, c.start as f32 / SR);
        let end = c.start + c.samples.len() as u64;
        let fd = self.model.frame_duration_s();
        emit_final(number, chars, c.start, end, hyp.confidence, false, fd, t0, out);
    }

    fn beam(&self, lp: ndarray::ArrayView2<f32>) -> Hypothesis {
        beam_decode(&self.model, self.lm.as_deref(), &self.opts.beam, lp)
    }
}

/// The best labeling of `lp` as file transcription decodes it ([`decode_best`]: greedy with a
/// one-wide beam and no LM, else the prefix beam search with the LM, if any).
fn beam_decode(
    model: &Model,
    lm: Option<&dyn LanguageModel>,
    beam: &BeamOptions,
    lp: ndarray::ArrayView2<f32>,
) -> Hypothesis {
    decode_best(lp, &model.config.alphabet, model.frame_duration_s(), beam, lm)
}

/// `(T, V)` log-probabilities of a segment, exactly as the offline path computes them.
fn log_probs(model: &Model, samples: &[f32]) -> Result<Array2<f32>> {
    let feats = model.features(samples)?;
    model.log_probs(feats.view())
}

/// Middle frame of the longest run of frames where the blank wins, among runs whose middle lies
/// in `[from, to)`; ties go to the later run.
fn longest_blank_run(lp: &Array2<f32>, from: usize, to: usize) -> Option<usize> {
    let blank_wins = |t: usize| {
        let row = lp.row(t);
        row.iter().skip(1).all(|&x| x <= row[0])
    };
    let mut best: Option<(usize, usize)> = None; // (length, middle)
    let mut t = 0;
    while t < lp.nrows() {
        if !blank_wins(t) {
            t += 1;
            continue;
        }
        let s0 = t;
        while t < lp.nrows() && blank_wins(t) {
            t += 1;
        }
        let (len, mid) = (t - s0, s0 + (t - s0) / 2);
        if (from..to).contains(&mid) && best.is_none_or(|(l, _)| len >= l) {
            best = Some((len, mid));
        }
    }
    best.map(|(_, m)| m)
}

/// Where to commit a segment's `(T, V)` log-probabilities, and the committed head decoded by
/// `decode`: the middle of the longest blank run in the middle half (between words, where the
/// right context the bidirectional net lacks afterwards matters least). A blank run can lie
/// inside a word, so the cut then moves back to the head's last space if that stays in the
/// middle half (which bounds the uncommitted audio as before), and the head is decoded again up
/// to there; the words after it are decoded with the rest. The flag says the cut is at a space.
fn commit_point(
    lp: &Array2<f32>,
    frame_duration_s: f32,
    decode: impl Fn(ndarray::ArrayView2<f32>) -> Hypothesis,
) -> (usize, Hypothesis, bool) {
    let t = lp.nrows();
    let cut = longest_blank_run(lp, t / 4, 3 * t / 4).unwrap_or(t / 2).max(1);
    let head = decode(lp.slice(s![..cut, ..]));
    match last_space_frame(&head, frame_duration_s) {
        Some(f) if f + 1 < cut && f >= t / 4 => (f, decode(lp.slice(s![..f, ..])), true),
        Some(f) => (cut, head, f + 1 >= cut),
        None => (cut, head, false),
    }
}

/// Frame of the last space between two words of `h` (none when it has fewer than two words).
fn last_space_frame(h: &Hypothesis, frame_duration_s: f32) -> Option<usize> {
    let chars: Vec<char> = h.text.chars().collect();
    let i = chars.iter().rposition(|&c| c == ' ')?;
    let word_before = chars[..i].iter().any(|&c| c != ' ');
    let word_after = chars[i + 1..].iter().any(|&c| c != ' ');
    let f = (h.char_times_s.get(i)? / frame_duration_s).round() as usize;
    (word_before && word_after && f > 0).then_some(f)
}

/// A hypothesis's characters with stream times (`offset_s` = stream time of its frame 0).
fn chars_of(h: &Hypothesis, offset_s: f32) -> Chars {
    h.text
        .chars()
        .zip(&h.char_times_s)
        .zip(&h.char_confidences)
        .map(|((c, &t), &p)| (c, t + offset_s, p))
        .collect()
}

/// Drops leading, trailing and repeated spaces (segments are joined at pauses).
fn tidy(chars: Chars) -> Chars {
    let mut out: Chars = Vec::with_capacity(chars.len());
    for c in chars {
        if c.0 == ' ' && out.last().is_none_or(|l| l.0 == ' ') {
            continue;
        }
        out.push(c);
    }
    if out.last().is_some_and(|l| l.0 == ' ') {
        out.pop();
    }
    out
}

/// Words of tidied characters: each from its first character's frame to the end of its last's.
fn words_of(chars: &Chars, frame_duration_s: f32) -> Vec<WordTiming> {
    chars
        .split(|c| c.0 == ' ')
        .filter(|w| !w.is_empty())
        .map(|w| WordTiming {
            word: w.iter().map(|c| c.0).collect(),
            start_s: w[0].1,
            end_s: w[w.len() - 1].1 + frame_duration_s,
            confidence: w.iter().map(|c| c.2).sum::<f32>() / w.len() as f32,
        })
        .collect()
}

/// Pushes a Final unless the text is empty and no partial was shown (noise that decoded to
/// nothing stays silent).
#[allow(clippy::too_many_arguments)]
fn emit_final(
    number: u64,
    chars: Chars,
    start: u64,
    end: u64,
    confidence: f32,
    partial_shown: bool,
    frame_duration_s: f32,
    t0: Instant,
    out: &mut Vec<RecognizerEvent>,
) {
    let chars = tidy(chars);
    if chars.is_empty() && !partial_shown {
        return;
    }
    out.push(RecognizerEvent::Final {
        utterance: number,
        text: chars.iter().map(|c| c.0).collect(),
        start_s: start as f32 / SR,
        end_s: end as f32 / SR,
        confidence,
        words: words_of(&chars, frame_duration_s),
        char_times_s: chars.iter().map(|c| c.1).collect(),
        decode_ms: t0.elapsed().as_secs_f32() * 1000.0,
    });
}

// ---------------------------------------------------------------------------------------------
// Worker thread

/// Where the worker's audio comes from.
pub enum AudioInput {
    /// A running microphone capture (the worker owns it and stops it at the end).
    Microphone(Capture),
    /// Any producer of capture events, e.g. [`feed_realtime`]; the input ends when every sender
    /// is dropped.
    Events(Receiver<CaptureEvent>),
}

/// A recognizer running on its own thread.
pub struct RecognizerHandle {
    events: Receiver<RecognizerEvent>,
    commands: Sender<RecognizerCommand>,
    worker: Option<JoinHandle<()>>,
}

impl RecognizerHandle {
    /// Starts the worker. `save` records everything heard to a 16 kHz WAV (written atomically
    /// when the worker ends). `notify` is called after each event is sent.
    pub fn spawn(
        mut recognizer: Recognizer,
        input: AudioInput,
        save: Option<&Path>,
        notify: Box<dyn Fn() + Send>,
    ) -> Result<Self> {
        let mut writer = save.map(Wav16kWriter::create).transpose()?;
        let (ev_tx, events) = mpsc::channel();
        let (commands, cmd_rx) = mpsc::channel();
        let worker = std::thread::Builder::new()
            .name("hark-recognizer".into())
            .spawn(move || {
                let send = |ev: RecognizerEvent| {
                    let _ = ev_tx.send(ev);
                    notify();
                };
                run_worker(&mut recognizer, &input, writer.as_mut(), &cmd_rx, &send);
                drop(input);
                if let Some(w) = writer.take()
                    && let Err(e) = w.finish()
                {
                    send(RecognizerEvent::Error(format!("saving the recording: {e}")));
                }
                send(RecognizerEvent::Stopped);
            })
            .map_err(|e| Error::Device(format!("cannot start the recognizer thread: {e}")))?;
        Ok(RecognizerHandle { events, commands, worker: Some(worker) })
    }

    /// The event stream; ends with `Stopped`.
    pub fn events(&self) -> &Receiver<RecognizerEvent> {
        &self.events
    }

    /// Sends a command (ignored once the worker has ended).
    pub fn send(&self, command: RecognizerCommand) {
        let _ = self.commands.send(command);
    }

    /// Waits for the worker to end (send `Stop` first, or let the input end).
    pub fn join(mut self) {
        if let Some(w) = self.worker.take() {
            let _ = w.join();
        }
    }
}

impl Drop for RecognizerHandle {
    fn drop(&mut self) {
        let _ = self.commands.send(RecognizerCommand::Stop);
        if let Some(w) = self.worker.take() {
            let _ = w.join();
        }
    }
}

fn run_worker(
    rec: &mut Recognizer,
    input: &AudioInput,
    mut writer: Option<&mut Wav16kWriter>,
    commands: &Receiver<RecognizerCommand>,
    send: &dyn Fn(RecognizerEvent),
) {
    let rx = match input {
        AudioInput::Microphone(c) => c.events(),
        AudioInput::Events(r) => r,
    };
    let mut save_failed = false;
    loop {
        match commands.try_recv() {
            Ok(RecognizerCommand::Stop) | Err(TryRecvError::Disconnected) => {
                // Audio already queued was heard before the stop: recognize it too.
                while let Ok(ev) = rx.try_recv() {
                    if let CaptureEvent::Audio(samples) = ev {
                        if let Some(w) = writer.as_deref_mut().filter(|_| !save_failed) {
                            save_failed = w.write(&samples).is_err();
                        }
                        rec.push(&samples).into_iter().for_each(send);
                    }
                }
                break;
            }
            Ok(RecognizerCommand::Reset) => rec.reset(),
            Err(TryRecvError::Empty) => {}
        }
        let first = match rx.recv_timeout(Duration::from_millis(20)) {
            Ok(ev) => ev,
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => break,
        };
        // Take everything already queued before decoding a partial, so a slow refresh is
        // followed by one refresh over all new audio instead of a growing backlog.
        let mut next = Some(first);
        while let Some(ev) = next {
            match ev {
                CaptureEvent::Audio(samples) => {
                    if let Some(w) = writer.as_deref_mut().filter(|_| !save_failed)
                        && let Err(e) = w.write(&samples)
                    {
                        save_failed = true;
                        send(RecognizerEvent::Error(format!("saving the recording: {e}")));
                    }
                    rec.push(&samples).into_iter().for_each(send);
                }
                CaptureEvent::Level { rms_dbfs, peak_dbfs } => {
                    send(RecognizerEvent::Level { rms_dbfs, peak_dbfs })
                }
                CaptureEvent::DeviceLost(why) => {
                    rec.finish().into_iter().for_each(send);
                    send(RecognizerEvent::DeviceLost(why));
                }
                CaptureEvent::Resumed => send(RecognizerEvent::Resumed),
                CaptureEvent::Overrun(_) => {}
            }
            next = rx.try_recv().ok();
        }
        if let Some(p) = rec.refresh_partial() {
            send(p);
        }
    }
    rec.finish().into_iter().for_each(send);
}

/// Sends `samples` as capture events at real-time pace (`speed` × real time; `f32::INFINITY` =
/// as fast as possible), in chunks of `chunk_ms`, with `Level` events every 50 ms like a
/// microphone. Returns the wall time each chunk was sent, relative to the first; stops early
/// (returning what was sent) when the receiver is gone.
pub fn feed_realtime(
    samples: &[f32],
    tx: &Sender<CaptureEvent>,
    chunk_ms: u32,
    speed: f32,
) -> Vec<Duration> {
    let chunk = (chunk_ms.max(1) as usize * SAMPLE_RATE_HZ as usize / 1000).max(1);
    let mut meter = LevelMeter::new(SAMPLE_RATE_HZ as usize / 20);
    let start = Instant::now();
    let mut sent_at = Vec::with_capacity(samples.len() / chunk + 1);
    for (i, c) in samples.chunks(chunk).enumerate() {
        if speed.is_finite() && speed > 0.0 {
            let due = Duration::from_secs_f64((i * chunk) as f64 / SR as f64 / speed as f64);
            if let Some(wait) = due.checked_sub(start.elapsed()) {
                std::thread::sleep(wait);
            }
        }
        let mut levels = Vec::new();
        meter.push(c, |rms_dbfs, peak_dbfs| {
            levels.push(CaptureEvent::Level { rms_dbfs, peak_dbfs })
        });
        sent_at.push(start.elapsed());
        if tx.send(CaptureEvent::Audio(c.to_vec())).is_err() {
            break;
        }
        if levels.into_iter().any(|l| tx.send(l).is_err()) {
            break;
        }
    }
    sent_at
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lp_rows(rows: &[usize], v: usize) -> Array2<f32> {
        let mut a = Array2::from_elem((rows.len(), v), -5.0f32);
        for (t, &k) in rows.iter().enumerate() {
            a[[t, k]] = -0.01;
        }
        a
    }

    #[test]
    fn longest_blank_run_picks_the_longest_in_range_and_later_on_ties() {
        // frames: a _ _ b _ _ _ c _ _ _ d
        let lp = lp_rows(&[1, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4], 5);
        assert_eq!(longest_blank_run(&lp, 0, 12), Some(9));
        assert_eq!(longest_blank_run(&lp, 0, 7), Some(5));
        assert_eq!(longest_blank_run(&lp, 0, 3), Some(2));
        assert_eq!(longest_blank_run(&lp, 10, 12), None);
    }

    #[test]
    fn commit_point_moves_back_to_a_space_when_the_blank_run_is_inside_a_word() {
        let a = crate::ctc::Alphabet::default();
        let label = |c: char| if c == '_' { 0 } else { a.label(c).unwrap() };
        let rows = |s: &str| s.chars().map(label).collect::<Vec<_>>();
        let greedy_of = |v: ndarray::ArrayView2<f32>| greedy(v, &a, 0.03);
        let v = a.num_labels();
        // "aabbbb c_______d efghijk": the longest blank run (frames 8-14, middle 11) lies inside
        // "cd"; the cut goes back to the space at frame 6 and "ab" alone is committed.
        let lp = lp_rows(&rows("aabbbb c_______d efghijk"), v);
        let (cut, head, at_space) = commit_point(&lp, 0.03, greedy_of);
        assert_eq!((cut, head.text.as_str(), at_space), (6, "ab", true));
        // "abcdefgh_______ ghijklmn": the head ends at the run and holds one word (no space to
        // go back to); the blank run's middle is the cut.
        let lp = lp_rows(&rows("abcdefgh_______ ghijklmn"), v);
        let (cut, head, at_space) = commit_point(&lp, 0.03, greedy_of);
        assert_eq!((cut, head.text.as_str(), at_space), (11, "abcdefgh", false));
        // A space before the middle half does not pull the cut back there (the uncommitted
        // audio stays bounded): "a bcdefgh______ijklmnopq".
        let lp = lp_rows(&rows("a bcdefgh______ijklmnopq"), v);
        let (cut, head, _) = commit_point(&lp, 0.03, greedy_of);
        assert_eq!((cut, head.text.as_str()), (12, "a bcdefgh"));
    }

    #[test]
    fn tidy_and_words_follow_the_characters() {
        let chars: Chars = " ab  c "
            .chars()
            .enumerate()
            .map(|(i, c)| (c, i as f32 * 0.1, 0.5 + i as f32 * 0.05))
            .collect();
        let t = tidy(chars);
        assert_eq!(t.iter().map(|c| c.0).collect::<String>(), "ab c");
        let w = words_of(&t, 0.01);
        assert_eq!(w.len(), 2);
        assert_eq!(w[0].word, "ab");
        assert!((w[0].start_s - 0.1).abs() < 1e-6 && (w[0].end_s - 0.21).abs() < 1e-6);
        assert!((w[0].confidence - 0.575).abs() < 1e-6);
        assert_eq!(w[1].word, "c");
        assert!((w[1].start_s - 0.5).abs() < 1e-6);
    }

    #[test]
    fn options_are_checked() {
        let o = RecognizerOptions { partial_interval_ms: 0, ..Default::default() };
        assert!(o.validate().unwrap_err().to_string().contains("partial_interval_ms"));
        let o = RecognizerOptions { first_partial_interval_ms: 300, ..Default::default() };
        assert!(o.validate().unwrap_err().to_string().contains("first_partial_interval_ms"));
        let o = RecognizerOptions { partial_window_ms: 10, ..Default::default() };
        assert!(o.validate().unwrap_err().to_string().contains("partial_window_ms"));
        for p in [f32::NAN, 10.5, -11.0] {
            let mut o = RecognizerOptions::default();
            o.beam.blank_penalty = p;
            let e = o.validate().unwrap_err().to_string();
            assert!(e.contains("recognizer.beam.blank_penalty"), "{e}");
        }
        let mut o = RecognizerOptions::default();
        o.beam.blank_penalty = 2.0;
        assert!(o.validate().is_ok());
        assert!(RecognizerOptions::default().validate().is_ok());
    }
}
