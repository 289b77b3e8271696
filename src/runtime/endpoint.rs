//! Endpointer: finds where utterances start and end in a 16 kHz mono stream (voice-activity
//! detection with an adaptive noise floor), so live recognition knows what to decode and when an
//! utterance is final.
//!
//! Shape legend: `N` input samples (mono, in [-1, 1]); `L` samples per analysis frame
//! (`frame_ms`, 160 at 16 kHz / 10 ms). Sample indices (`at_sample`) count from the first sample
//! ever pushed.
//!
//! Per frame the detector computes the energy `E = 10·log10(mean(x²))` dBFS (a full-scale sine is
//! −3 dBFS). The noise floor is the minimum of `E` over the last `noise_window_ms` (minimum
//! statistics): it falls at once when the input gets quieter and rises only when the quiet frames
//! age out of the window, so a slow rise cannot be driven by speech, whose pauses and stop
//! closures keep pulling the minimum down, but a new steady noise is absorbed after one window.
//! A frame is *speech-like* when `E ≥ floor + speech_margin_db` and `E ≥ min_speech_dbfs` (the
//! absolute gate keeps digital silence with a few LSBs of noise quiet).
//!
//! State machine: in silence, `onset_ms` of consecutive speech-like frames start an utterance;
//! its audio begins `pre_roll_ms` before the first of them (never before the previous
//! utterance's end), so a soft first phoneme is kept. In speech, `trailing_silence_ms` of frames
//! that are not speech-like end it; the reported end is the last speech-like frame plus
//! `hangover_ms` (a decaying final consonant). An utterance reaching `max_utterance_ms` is cut
//! there (`forced: true`); if speech goes on, the next utterance starts exactly at the cut.
//!
//! A zero-crossing cue is deliberately not used: fricatives look like white noise by that
//! measure, so it rejects speech as often as it rejects noise; the adaptive floor already
//! ignores steady noise of any colour.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Endpointer settings (units in the names). `Default` suits 16 kHz speech.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct EndpointOptions {
    pub sample_rate_hz: u32,
    /// Analysis frame length.
    pub frame_ms: u32,
    /// How far above the noise floor a frame must be to count as speech.
    pub speech_margin_db: f32,
    /// Frames quieter than this are never speech (absolute gate).
    pub min_speech_dbfs: f32,
    /// Window of the minimum that tracks the noise floor.
    pub noise_window_ms: u32,
    /// Consecutive speech needed to start an utterance (rejects clicks).
    pub onset_ms: u32,
    /// Audio kept before the detected onset.
    pub pre_roll_ms: u32,
    /// Audio kept after the last speech frame in the reported end.
    pub hangover_ms: u32,
    /// Non-speech that ends an utterance.
    pub trailing_silence_ms: u32,
    /// Longest utterance; longer speech is split here.
    pub max_utterance_ms: u32,
}

impl Default for EndpointOptions {
    fn default() -> Self {
        EndpointOptions {
            sample_rate_hz: 16_000,
            frame_ms: 10,
            speech_margin_db: 10.0,
            min_speech_dbfs: -50.0,
            noise_window_ms: 3000,
            onset_ms: 80,
            pre_roll_ms: 300,
            hangover_ms: 100,
            trailing_silence_ms: 500,
            max_utterance_ms: 15_000,
        }
    }
}

impl EndpointOptions {
    /// Checks ranges; the error names the field.
    pub fn validate(&self) -> Result<()> {
        let bad = |field: &str, want: &str, got: String| {
            Err(Error::Options(format!("endpoint.{field} = {got}: expected {want}")))
        };
        if !(1_000..=384_000).contains(&self.sample_rate_hz) {
            return bad("sample_rate_hz", "1000..=384000", self.sample_rate_hz.to_string());
        }
        if !(1..=100).contains(&self.frame_ms) {
            return bad("frame_ms", "1..=100", self.frame_ms.to_string());
        }
        if !(self.speech_margin_db.is_finite() && self.speech_margin_db > 0.0) {
            return bad("speech_margin_db", "a positive number", self.speech_margin_db.to_string());
        }
        if !(self.min_speech_dbfs.is_finite() && self.min_speech_dbfs <= 0.0) {
            return bad("min_speech_dbfs", "a number ≤ 0", self.min_speech_dbfs.to_string());
        }
        if self.noise_window_ms < 10 * self.frame_ms {
            return bad("noise_window_ms", "at least 10 frames", self.noise_window_ms.to_string());
        }
        if self.onset_ms < self.frame_ms {
            return bad("onset_ms", "at least one frame", self.onset_ms.to_string());
        }
        if self.trailing_silence_ms < self.frame_ms {
            return bad(
                "trailing_silence_ms",
                "at least one frame",
                self.trailing_silence_ms.to_string(),
            );
        }
        if self.max_utterance_ms < self.onset_ms + self.trailing_silence_ms {
            return bad(
                "max_utterance_ms",
                "at least onset_ms + trailing_silence_ms",
                self.max_utterance_ms.to_string(),
            );
        }
        Ok(())
    }
}

/// What the endpointer found, in stream order.
#[derive(Debug, Clone, PartialEq)]
pub enum EndpointEvent {
    /// An utterance begins; its audio starts at `at_sample` (pre-roll included).
    SpeechStart { at_sample: u64 },
    /// Audio of the current utterance, `samples[0]` being stream sample `at_sample`. The Speech
    /// events of one utterance are contiguous and run from its start to the point where its end
    /// was decided, so they carry up to `trailing_silence_ms` after `SpeechEnd::at_sample`.
    Speech { at_sample: u64, samples: Vec<f32> },
    /// The utterance ended at `at_sample` (exclusive). `forced` = cut at `max_utterance_ms`.
    SpeechEnd { at_sample: u64, forced: bool },
}

/// Streaming endpointer; see the module docs. Deterministic: the events depend only on the
/// samples, not on how they are split across `push` calls (apart from how `Speech` audio is
/// grouped into events).
pub struct Endpointer {
    options: EndpointOptions,
    frame_len: usize,
    onset_frames: u32,
    trailing_frames: u32,
    pre_roll: u64,
    hangover: u64,
    max_len: u64,
    /// Partial frame carried to the next `push` (< L samples).
    pending: Vec<f32>,
    /// Stream index of the next frame's first sample.
    pos: u64,
    /// Recent audio while in silence (pre-roll + onset), the newest sample at the back.
    history: VecDeque<f32>,
    history_cap: usize,
    /// Noise floor: minima of completed 10-frame blocks (ring) and of the current block (dB).
    block_min: Vec<f32>,
    block_filled: usize,
    block_next: usize,
    cur_min: f32,
    cur_count: u32,
    in_speech: bool,
    onset_run: u32,
    onset_start: u64,
    utt_start: u64,
    last_speech_end: u64,
    silence_run: u32,
    /// End of the previous utterance (its decision point); pre-roll never reaches before it.
    prev_end: u64,
}

/// Frames per noise-floor block: the window minimum is kept per block so each frame costs
/// O(window / block) instead of O(window).
const FLOOR_BLOCK_FRAMES: u32 = 10;

impl Endpointer {
    pub fn new(options: EndpointOptions) -> Result<Self> {
        options.validate()?;
        let ms = |v: u32| options.sample_rate_hz as u64 * v as u64 / 1000;
        let frame_len = ms(options.frame_ms).max(1) as usize;
        let frames = |v: u32| v.div_ceil(options.frame_ms);
        let onset_frames = frames(options.onset_ms);
        let n_blocks = (frames(options.noise_window_ms) / FLOOR_BLOCK_FRAMES).max(1) as usize;
        let pre_roll = ms(options.pre_roll_ms);
        let history_cap = pre_roll as usize + (onset_frames as usize + 1) * frame_len;
        Ok(Endpointer {
            frame_len,
            onset_frames,
            trailing_frames: frames(options.trailing_silence_ms),
            pre_roll,
            hangover: ms(options.hangover_ms),
            max_len: ms(options.max_utterance_ms),
            pending: Vec::with_capacity(frame_len),
            pos: 0,
            history: VecDeque::with_capacity(history_cap),
            history_cap,
            block_min: vec![f32::INFINITY; n_blocks],
            block_filled: 0,
            block_next: 0,
            cur_min: f32::INFINITY,
            cur_count: 0,
            in_speech: false,
            onset_run: 0,
            onset_start: 0,
            utt_start: 0,
            last_speech_end: 0,
            silence_run: 0,
            prev_end: 0,
            options,
        })
    }

    pub fn options(&self) -> &EndpointOptions {
        &self.options
    }

    /// Whether an utterance is open.
    pub fn in_speech(&self) -> bool {
        self.in_speech
    }

    /// The current noise floor estimate (dBFS); `None` before the first frame.
    pub fn noise_floor_dbfs(&self) -> Option<f32> {
        let f = self.floor();
        f.is_finite().then_some(f)
    }

    /// Feeds the next samples of the stream and returns what they completed.
    pub fn push(&mut self, samples: &[f32]) -> Vec<EndpointEvent> {
        let mut events = Vec::new();
        let mut rest = samples;
        if !self.pending.is_empty() {
            let take = (self.frame_len - self.pending.len()).min(rest.len());
            self.pending.extend_from_slice(&rest[..take]);
            rest = &rest[take..];
            if self.pending.len() == self.frame_len {
                let frame = std::mem::take(&mut self.pending);
                self.frame(&frame, &mut events);
                self.pending = frame;
                self.pending.clear();
            }
        }
        let mut chunks = rest.chunks_exact(self.frame_len);
        for frame in &mut chunks {
            self.frame(frame, &mut events);
        }
        self.pending.extend_from_slice(chunks.remainder());
        events
    }

    /// Ends the stream: closes an open utterance (with the partial last frame) and resets the
    /// state, so the next `push` starts a new stream at sample 0.
    pub fn finish(&mut self) -> Vec<EndpointEvent> {
        let mut events = Vec::new();
        if self.in_speech {
            let tail = std::mem::take(&mut self.pending);
            let end_pos = self.pos + tail.len() as u64;
            emit_speech(&mut events, self.pos, &tail);
            let end = (self.last_speech_end + self.hangover).min(end_pos);
            events.push(EndpointEvent::SpeechEnd { at_sample: end, forced: false });
        }
        let options = self.options.clone();
        if let Ok(fresh) = Endpointer::new(options) {
            *self = fresh;
        }
        events
    }

    fn floor(&self) -> f32 {
        self.block_min[..self.block_filled].iter().fold(self.cur_min, |m, &b| m.min(b))
    }

    fn frame(&mut self, frame: &[f32], events: &mut Vec<EndpointEvent>) {
        debug_assert_eq!(frame.len(), self.frame_len);
        let start = self.pos;
        let end = start + frame.len() as u64;
        self.pos = end;

        let mean_sq = frame.iter().map(|&x| x * x).sum::<f32>() / frame.len() as f32;
        let e_db = 10.0 * (mean_sq + 1e-12).log10();
        self.cur_min = self.cur_min.min(e_db);
        self.cur_count += 1;
        let floor = self.floor();
        if self.cur_count == FLOOR_BLOCK_FRAMES {
            self.block_min[self.block_next] = self.cur_min;
            self.block_next = (self.block_next + 1) % self.block_min.len();
            self.block_filled = (self.block_filled + 1).min(self.block_min.len());
            self.cur_min = f32::INFINITY;
            self.cur_count = 0;
        }
        let speechy =
            e_db >= floor + self.options.speech_margin_db && e_db >= self.options.min_speech_dbfs;

        if !self.in_speech {
            self.history.extend(frame.iter().copied());
            let excess = self.history.len().saturating_sub(self.history_cap);
            self.history.drain(..excess);
            if speechy {
                if self.onset_run == 0 {
                    self.onset_start = start;
                }
                self.onset_run += 1;
            } else {
                self.onset_run = 0;
            }
            if self.onset_run >= self.onset_frames {
                let hist_start = end - self.history.len() as u64;
                let utt = self
                    .onset_start
                    .saturating_sub(self.pre_roll)
                    .max(self.prev_end)
                    .max(hist_start);
                let skip = (utt - hist_start) as usize;
                let audio: Vec<f32> = self.history.iter().skip(skip).copied().collect();
                self.history.clear();
                events.push(EndpointEvent::SpeechStart { at_sample: utt });
                events.push(EndpointEvent::Speech { at_sample: utt, samples: audio });
                self.in_speech = true;
                self.utt_start = utt;
                self.last_speech_end = end;
                self.silence_run = 0;
                self.onset_run = 0;
            }
            return;
        }

        emit_speech(events, start, frame);
        if speechy {
            self.last_speech_end = end;
            self.silence_run = 0;
        } else {
            self.silence_run += 1;
        }
        if self.silence_run >= self.trailing_frames {
            let at = (self.last_speech_end + self.hangover).min(end);
            events.push(EndpointEvent::SpeechEnd { at_sample: at, forced: false });
            self.close(end);
        } else if end - self.utt_start >= self.max_len {
            events.push(EndpointEvent::SpeechEnd { at_sample: end, forced: true });
            self.close(end);
        }
    }

    fn close(&mut self, decided_at: u64) {
        self.in_speech = false;
        self.prev_end = decided_at;
        self.onset_run = 0;
        self.silence_run = 0;
        self.history.clear();
    }
}

/// Appends `samples` (starting at stream index `at`) to the last event when it is Speech that
/// ends exactly at `at`, so one `push` yields few, large Speech events.
fn emit_speech(events: &mut Vec<EndpointEvent>, at: u64, samples: &[f32]) {
    if samples.is_empty() {
        return;
    }
    if let Some(EndpointEvent::Speech { at_sample, samples: s }) = events.last_mut()
        && *at_sample + s.len() as u64 == at
    {
        s.extend_from_slice(samples);
        return;
    }
    events.push(EndpointEvent::Speech { at_sample: at, samples: samples.to_vec() });
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;
    use std::f32::consts::PI;

    const SR: f32 = 16_000.0;

    fn secs(s: f32) -> usize {
        (s * SR).round() as usize
    }

    fn db_to_amp(db: f32) -> f32 {
        10f32.powf(db / 20.0)
    }

    /// Uniform white noise with the given RMS (dBFS): uniform on [-a, a] has rms a/√3.
    fn noise(n: usize, rms_dbfs: f32, seed: u64) -> Vec<f32> {
        let a = db_to_amp(rms_dbfs) * 3f32.sqrt();
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        (0..n).map(|_| rng.random_range(-a..a)).collect()
    }

    fn add_tone(x: &mut [f32], from: usize, len: usize, freq: f32, rms_dbfs: f32) {
        let a = db_to_amp(rms_dbfs) * 2f32.sqrt();
        for i in 0..len {
            x[from + i] += a * (2.0 * PI * freq * i as f32 / SR).sin();
        }
    }

    /// Syllable-like burst: noise under a 4 Hz raised-cosine envelope (dips to zero every
    /// 250 ms, like the gaps between syllables), `rms_dbfs` at the envelope's peak.
    fn add_babble(x: &mut [f32], from: usize, len: usize, rms_dbfs: f32, seed: u64) {
        let n = noise(len, rms_dbfs, seed);
        for i in 0..len {
            let env = 0.5 - 0.5 * (2.0 * PI * 4.0 * i as f32 / SR).cos();
            x[from + i] += n[i] * env;
        }
    }

    /// Runs the endpointer over `x` in chunks of `chunk` samples, then `finish`. Returns the
    /// utterances as (start, end, forced) and checks that Speech audio is contiguous, matches
    /// the input and covers each utterance.
    fn run(opts: EndpointOptions, x: &[f32], chunk: usize) -> Vec<(u64, u64, bool)> {
        let mut ep = Endpointer::new(opts).unwrap();
        let mut events = Vec::new();
        for c in x.chunks(chunk) {
            events.extend(ep.push(c));
        }
        events.extend(ep.finish());
        let mut utts = Vec::new();
        let mut open: Option<(u64, u64)> = None; // (start, next expected speech sample)
        for ev in events {
            match ev {
                EndpointEvent::SpeechStart { at_sample } => {
                    assert!(open.is_none(), "nested SpeechStart at {at_sample}");
                    open = Some((at_sample, at_sample));
                }
                EndpointEvent::Speech { at_sample, samples } => {
                    let (s, next) = open.expect("Speech outside an utterance");
                    assert_eq!(at_sample, next, "Speech audio not contiguous");
                    let i = at_sample as usize;
                    assert_eq!(samples.as_slice(), &x[i..i + samples.len()]);
                    open = Some((s, next + samples.len() as u64));
                }
                EndpointEvent::SpeechEnd { at_sample, forced } => {
                    let (s, next) = open.take().expect("SpeechEnd without start");
                    assert!(
                        at_sample <= next && at_sample > s,
                        "end {at_sample} outside [{s}, {next}]"
                    );
                    utts.push((s, at_sample, forced));
                }
            }
        }
        assert!(open.is_none());
        utts
    }

    fn close_to(got: u64, want_s: f32, tol_ms: f32) -> bool {
        (got as f32 / SR - want_s).abs() * 1000.0 <= tol_ms
    }

    #[test]
    fn silence_and_steady_noise_emit_nothing() {
        let o = EndpointOptions::default();
        assert!(run(o.clone(), &vec![0.0; secs(5.0)], 1000).is_empty());
        // white noise at −30 dBFS
        assert!(run(o.clone(), &noise(secs(10.0), -30.0, 1), 1000).is_empty());
        // mains hum with harmonics (60 Hz: a frame is not a whole number of periods) in noise
        let mut hum = noise(secs(10.0), -60.0, 2);
        for (k, db) in [(1.0, -20.0), (3.0, -30.0), (5.0, -36.0)] {
            add_tone(&mut hum, 0, secs(10.0), 60.0 * k, db);
        }
        assert!(run(o.clone(), &hum, 777).is_empty());
        // digital silence with LSB dither: below the absolute gate
        assert!(run(o, &noise(secs(5.0), -96.0, 3), 160).is_empty());
    }

    #[test]
    fn tone_bursts_at_three_levels_give_three_utterances_with_right_times() {
        let o = EndpointOptions::default();
        let mut x = noise(secs(7.0), -60.0, 4);
        let bursts = [(1.0, -40.0), (2.8, -25.0), (4.6, -10.0)];
        for &(t, db) in &bursts {
            add_tone(&mut x, secs(t), secs(0.8), 440.0, db);
        }
        let utts = run(o.clone(), &x, 333);
        assert_eq!(utts.len(), 3, "{utts:?}");
        for (&(s, e, forced), &(t, _)) in utts.iter().zip(&bursts) {
            assert!(!forced);
            // start = burst onset − pre-roll, end = burst end + hangover (one frame of slack)
            assert!(close_to(s, t - 0.3, 10.0), "start {} for burst at {t}", s as f32 / SR);
            assert!(close_to(e, t + 0.8 + 0.1, 10.0), "end {} for burst at {t}", e as f32 / SR);
        }
    }

    #[test]
    fn syllable_bursts_over_noise_are_one_utterance_each() {
        let o = EndpointOptions::default();
        let mut x = noise(secs(8.0), -50.0, 5);
        add_babble(&mut x, secs(1.0), secs(1.5), -20.0, 6);
        add_babble(&mut x, secs(4.0), secs(2.0), -30.0, 7);
        let utts = run(o, &x, 512);
        assert_eq!(utts.len(), 2, "{utts:?}");
        // The envelope rises from zero, so the energy crosses the threshold a little after the
        // burst starts; pre-roll covers it (start ≤ burst onset) without reaching far back.
        for (&(s, e, _), (t, len)) in utts.iter().zip([(1.0, 1.5), (4.0, 2.0)]) {
            let (s, e) = (s as f32 / SR, e as f32 / SR);
            assert!(s <= t && s >= t - 0.3, "start {s} for burst at {t}");
            assert!(e >= t + len - 0.15 && e <= t + len + 0.1, "end {e} for burst {t}+{len}");
        }
    }

    #[test]
    fn clicks_shorter_than_the_onset_are_ignored() {
        let mut x = noise(secs(3.0), -60.0, 8);
        add_tone(&mut x, secs(1.0), secs(0.05), 1000.0, -10.0);
        assert!(run(EndpointOptions::default(), &x, 160).is_empty());
    }

    #[test]
    fn long_speech_is_split_at_max_length_without_losing_audio() {
        let o = EndpointOptions { max_utterance_ms: 2000, ..Default::default() };
        let mut x = noise(secs(8.0), -55.0, 9);
        add_babble(&mut x, secs(1.0), secs(5.0), -20.0, 10);
        let utts = run(o, &x, 1024);
        assert_eq!(utts.len(), 3, "{utts:?}");
        assert!(utts[0].2 && utts[1].2 && !utts[2].2, "{utts:?}");
        // Forced cuts are 2 s long and the next utterance starts exactly at the cut.
        assert_eq!(utts[0].1 - utts[0].0, secs(2.0) as u64);
        assert_eq!(utts[1].0, utts[0].1);
        assert_eq!(utts[2].0, utts[1].1);
        assert!(close_to(utts[2].1, 6.0, 150.0), "last end {}", utts[2].1 as f32 / SR);
    }

    #[test]
    fn a_new_steady_noise_is_absorbed_within_one_window() {
        // Silence, then a fan switches on at −30 dBFS: at most one false utterance, which the
        // rising floor ends within about one noise window; afterwards nothing.
        let mut x = noise(secs(12.0), -70.0, 11);
        let fan = noise(secs(10.0), -30.0, 12);
        for (i, v) in fan.iter().enumerate() {
            x[secs(2.0) + i] += v;
        }
        let utts = run(EndpointOptions::default(), &x, 800);
        assert!(utts.len() <= 1, "{utts:?}");
        if let Some(&(_, e, _)) = utts.first() {
            assert!(
                (e as f32 / SR) < 2.0 + 3.0 + 0.6,
                "false utterance ended at {}",
                e as f32 / SR
            );
        }
    }

    #[test]
    fn events_do_not_depend_on_chunking() {
        let mut x = noise(secs(6.0), -50.0, 13);
        add_babble(&mut x, secs(0.5), secs(1.2), -25.0, 14);
        add_tone(&mut x, secs(3.0), secs(1.0), 300.0, -20.0);
        let o = EndpointOptions::default();
        let whole = run(o.clone(), &x, x.len());
        assert_eq!(whole.len(), 2);
        for chunk in [1, 7, 160, 161, 4096] {
            assert_eq!(run(o.clone(), &x, chunk), whole, "chunk {chunk}");
        }
    }

    #[test]
    fn options_round_trip_and_bad_values_name_the_field() {
        let o = EndpointOptions { trailing_silence_ms: 700, ..Default::default() };
        let json = serde_json::to_string(&o).unwrap();
        assert!(json.contains("\"trailing_silence_ms\":700"));
        assert_eq!(serde_json::from_str::<EndpointOptions>(&json).unwrap(), o);
        // Missing fields take their defaults.
        let partial: EndpointOptions = serde_json::from_str("{\"onset_ms\":60}").unwrap();
        assert_eq!(partial, EndpointOptions { onset_ms: 60, ..Default::default() });
        let bad = EndpointOptions { onset_ms: 0, ..Default::default() };
        let msg = Endpointer::new(bad).err().unwrap().to_string();
        assert!(msg.contains("onset_ms"), "{msg}");
        let bad = EndpointOptions { speech_margin_db: f32::NAN, ..Default::default() };
        assert!(Endpointer::new(bad).err().unwrap().to_string().contains("speech_margin_db"));
    }
}
