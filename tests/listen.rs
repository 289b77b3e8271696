//! Live recognition: the streaming recognizer against the offline path (`model.features` →
//! `log_probs` → decoder) on the same samples, partials and endpoints on synthetic bursts, stop
//! semantics, and `hark listen` end to end (through the virtual microphone when it runs, else the
//! "no microphone" path).
//!
//! Most tests need no trained model: a tiny seeded random BiLSTM with a sharpened projection stands
//! in; its output depends on the input, which is all these equivalences need. The end-to-end test
//! compares microphone and file transcripts with a trained model: `HARK_LISTEN_MODEL`, else the
//! default model (`hark::model::default_model_dir`) when one is installed.

mod common;

use std::f32::consts::PI;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use hark::ctc::decode::{BeamOptions, greedy, prefix_beam_search};
use hark::model::Model;
use hark::runtime::endpoint::EndpointOptions;
use hark::runtime::messages::{RecognizerCommand, RecognizerEvent};
use hark::runtime::recognizer::{
    AudioInput, Recognizer, RecognizerHandle, RecognizerOptions, feed_realtime,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const SR: f32 = 16_000.0;

fn secs(s: f32) -> usize {
    (s * SR).round() as usize
}

/// [`common::random_model`] with H = 16.
fn tiny_model() -> Model {
    common::random_model(16, 7)
}

fn noise(n: usize, rms_dbfs: f32, seed: u64) -> Vec<f32> {
    let a = 10f32.powf(rms_dbfs / 20.0) * 3f32.sqrt();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n).map(|_| rng.random_range(-a..a)).collect()
}

/// A speech-like burst: a gliding tone plus noise under a 4 Hz syllable envelope.
fn add_burst(x: &mut [f32], from: usize, len: usize, f0: f32, seed: u64) {
    let n = noise(len, -22.0, seed);
    let mut phase = 0.0f32;
    for i in 0..len {
        let t = i as f32 / SR;
        let f = f0 * (1.0 + 0.5 * (2.0 * PI * 0.7 * t).sin());
        phase += 2.0 * PI * f / SR;
        let env = 0.25 + 0.75 * (0.5 - 0.5 * (2.0 * PI * 4.0 * t).cos());
        x[from + i] += env * (0.2 * phase.sin() + n[i]);
    }
}

/// The offline path on `samples`: features → log-probs → prefix beam search (best text).
fn offline(model: &Model, samples: &[f32], beam: &BeamOptions) -> String {
    offline_ensemble(model, samples, &[], beam)
}

/// The same with the network averaged over frequency warps (file decoding with "warps").
fn offline_ensemble(model: &Model, samples: &[f32], warps: &[f64], beam: &BeamOptions) -> String {
    let lp = model.ensemble_log_probs(samples, warps).unwrap();
    let hyps =
        prefix_beam_search(lp.view(), &model.config.alphabet, model.frame_duration_s(), beam, None);
    let text = hyps.into_iter().next().map(|h| h.text).unwrap_or_default();
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Events with the stream position (samples pushed) at which each was produced.
fn run_sync(rec: &mut Recognizer, x: &[f32], chunk: usize) -> Vec<(u64, RecognizerEvent)> {
    let mut out = Vec::new();
    for c in x.chunks(chunk) {
        for ev in rec.push(c) {
            out.push((rec.samples_pushed(), ev));
        }
        if let Some(p) = rec.refresh_partial() {
            out.push((rec.samples_pushed(), p));
        }
    }
    for ev in rec.finish() {
        out.push((rec.samples_pushed(), ev));
    }
    out
}

fn finals(events: &[(u64, RecognizerEvent)]) -> Vec<(String, usize, usize)> {
    events
        .iter()
        .filter_map(|(_, e)| match e {
            RecognizerEvent::Final { text, start_s, end_s, .. } => {
                Some((text.clone(), (start_s * SR).round() as usize, (end_s * SR).round() as usize))
            }
            _ => None,
        })
        .collect()
}

fn two_bursts() -> (Vec<f32>, [(usize, usize); 2]) {
    let mut x = noise(secs(6.0), -60.0, 1);
    add_burst(&mut x, secs(1.0), secs(1.2), 220.0, 2);
    add_burst(&mut x, secs(3.5), secs(1.5), 330.0, 3);
    (x, [(secs(1.0), secs(2.2)), (secs(3.5), secs(5.0))])
}

#[test]
fn finals_equal_the_offline_decode_and_utterances_split_at_pauses() {
    let model = Arc::new(tiny_model());
    let (x, bursts) = two_bursts();
    let opts = RecognizerOptions::default();
    let trailing = secs(opts.endpoint.trailing_silence_ms as f32 / 1000.0) as u64;
    let mut rec = Recognizer::new(model.clone(), None, opts.clone()).unwrap();
    let events = run_sync(&mut rec, &x, 160);
    let f = finals(&events);
    assert_eq!(f.len(), 2, "{f:?}");
    for ((text, s, e), &(b0, b1)) in f.iter().zip(&bursts) {
        // the endpoint is near the burst (pre-roll 300 ms, live hangover 300 ms)
        assert_eq!(opts.endpoint.hangover_ms, 300);
        assert!(*s <= b0 && *s + secs(0.35) >= b0, "start {s} for burst at {b0}");
        assert!(*e >= b1 + secs(0.25) && *e <= b1 + secs(0.35), "end {e} for burst ending {b1}");
        assert!(!text.is_empty());
        assert_eq!(*text, offline(&model, &x[*s..*e], &opts.beam));
    }
    // Partials only while a burst is open (it stays open for the trailing silence), at least
    // two per burst, each the same utterance as the burst's final.
    let mut per_burst = [0; 2];
    for (pos, ev) in &events {
        if let RecognizerEvent::Partial { utterance, text, .. } = ev {
            let k = bursts
                .iter()
                .position(|&(b0, b1)| *pos as usize >= b0 && *pos <= b1 as u64 + trailing)
                .unwrap_or_else(|| panic!("partial {text:?} at sample {pos}, outside speech"));
            per_burst[k] += 1;
            assert!(!text.is_empty());
            let final_number = events.iter().filter_map(|(_, e)| match e {
                RecognizerEvent::Final { utterance, .. } => Some(*utterance),
                _ => None,
            });
            assert_eq!(final_number.clone().nth(k), Some(*utterance));
        }
    }
    assert!(per_burst.iter().all(|&n| n >= 2), "{per_burst:?}");
    // The same stream in other chunkings gives the same finals.
    for chunk in [37, 1024, 4800] {
        let mut rec = Recognizer::new(model.clone(), None, opts.clone()).unwrap();
        assert_eq!(finals(&run_sync(&mut rec, &x, chunk)), f, "chunk {chunk}");
    }
}

/// With `final_warps`, each final is the offline decode of its audio averaged over the warps
/// (what `hark transcribe` gives with the model's warp ensemble); partials stay one pass.
#[test]
fn finals_with_warps_equal_the_offline_ensemble_decode() {
    let model = Arc::new(tiny_model());
    let (x, _) = two_bursts();
    let warps = vec![0.9, 1.0, 1.1];
    let opts = RecognizerOptions { final_warps: warps.clone(), ..Default::default() };
    let mut rec = Recognizer::new(model.clone(), None, opts.clone()).unwrap();
    let events = run_sync(&mut rec, &x, 160);
    let f = finals(&events);
    assert_eq!(f.len(), 2, "{f:?}");
    let mut differs = 0;
    for (text, s, e) in &f {
        assert_eq!(*text, offline_ensemble(&model, &x[*s..*e], &warps, &opts.beam));
        differs += usize::from(*text != offline(&model, &x[*s..*e], &opts.beam));
    }
    assert!(differs > 0, "the ensemble changed no final: the test would not see it missing");
    // Without warps the same stream gives the one-pass finals.
    let mut plain = Recognizer::new(model.clone(), None, RecognizerOptions::default()).unwrap();
    let p = finals(&run_sync(&mut plain, &x, 160));
    for (text, s, e) in &p {
        assert_eq!(*text, offline(&model, &x[*s..*e], &opts.beam));
    }
    let bad = RecognizerOptions { final_warps: vec![1.5], ..Default::default() };
    let err = Recognizer::new(model, None, bad).err().expect("a warp outside 0.8-1.2").to_string();
    assert!(err.contains("final_warps") && err.contains("1.5"), "{err}");
}

/// Greedy text of the offline path on `samples`, spaces tidied as partials tidy them.
fn offline_greedy(model: &Model, samples: &[f32]) -> String {
    let feats = model.features(samples).unwrap();
    let lp = model.log_probs(feats.view()).unwrap();
    let h = greedy(lp.view(), &model.config.alphabet, model.frame_duration_s());
    h.text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A one-wide beam with no LM decodes finals greedily, as `hark transcribe` does then, even
/// with a blank penalty set (greedy decoding has none), and not as a one-wide prefix search.
#[test]
fn one_wide_beam_without_lm_decodes_finals_greedily() {
    let model = Arc::new(tiny_model());
    let (x, _) = two_bursts();
    let mut opts = RecognizerOptions::default();
    opts.beam.beam_width = 1;
    opts.beam.blank_penalty = 1.5;
    let mut rec = Recognizer::new(model.clone(), None, opts.clone()).unwrap();
    let f = finals(&run_sync(&mut rec, &x, 160));
    assert_eq!(f.len(), 2, "{f:?}");
    let mut prefix_differs = 0;
    for (text, s, e) in &f {
        assert_eq!(*text, offline_greedy(&model, &x[*s..*e]));
        prefix_differs += usize::from(*text != offline(&model, &x[*s..*e], &opts.beam));
    }
    // The tiny model's posteriors are nearly flat: the penalized one-wide search would give
    // other text, so the check above tells the two apart.
    assert!(prefix_differs > 0, "the penalized prefix search agrees with greedy here: {f:?}");
}

#[test]
fn partials_refresh_fast_until_the_first_one_then_at_the_normal_cadence() {
    let model = Arc::new(tiny_model());
    let (x, _) = two_bursts();
    let partials = |first_ms: u32| {
        let opts = RecognizerOptions {
            partial_interval_ms: 250,
            first_partial_interval_ms: first_ms,
            ..Default::default()
        };
        let mut rec = Recognizer::new(model.clone(), None, opts).unwrap();
        run_sync(&mut rec, &x, 160)
            .into_iter()
            .filter_map(|(pos, e)| match e {
                RecognizerEvent::Partial { utterance, text, start_s, .. } => {
                    Some((utterance, pos as usize, text, (start_s * SR).round() as usize))
                }
                _ => None,
            })
            .collect::<Vec<_>>()
    };
    let fast = partials(50);
    let slow = partials(250);
    for utt in 0..2 {
        let f: Vec<_> = fast.iter().filter(|p| p.0 == utt).collect();
        let s: Vec<_> = slow.iter().filter(|p| p.0 == utt).collect();
        assert!(!f.is_empty() && !s.is_empty(), "utterance {utt}: {fast:?} / {slow:?}");
        // Never later than at the normal cadence.
        assert!(f[0].1 <= s[0].1, "utterance {utt}: first partial at {} vs {}", f[0].1, s[0].1);
        // Each partial is the greedy decode of the utterance's audio heard so far.
        for (_, pos, text, start) in f.iter().chain(&s).copied() {
            assert_eq!(*text, offline_greedy(&model, &x[*start..*pos]), "at {pos}");
        }
        // After the first partial, refreshes are back to every 250 ms (4000 samples; partials
        // come only when the text changed, so at multiples of it).
        for p in &f[1..] {
            assert_eq!((p.1 - f[0].1) % secs(0.25), 0, "partial at {} after {}", p.1, f[0].1);
        }
    }
}

#[test]
fn silence_and_steady_noise_give_no_events() {
    let model = Arc::new(tiny_model());
    let mut rec = Recognizer::new(model, None, RecognizerOptions::default()).unwrap();
    let mut x = noise(secs(4.0), -30.0, 4);
    x.extend(vec![0.0; secs(2.0)]);
    let events = run_sync(&mut rec, &x, 320);
    assert!(events.is_empty(), "{:?}", &events[..events.len().min(3)]);
}

/// Streams `x` in 10 ms chunks, refreshing partials as the app does, then finishes; returns the
/// finals and the most uncommitted audio any refresh saw.
fn stream_with_partials(rec: &mut Recognizer, x: &[f32]) -> (Vec<(String, usize, usize)>, usize) {
    let (mut events, mut longest) = (Vec::new(), 0);
    for c in x.chunks(160) {
        events.extend(rec.push(c).into_iter().map(|e| (0, e)));
        if let Some(p) = rec.refresh_partial() {
            events.push((0, p));
        }
        longest = longest.max(rec.uncommitted_samples());
    }
    events.extend(rec.finish().into_iter().map(|e| (0, e)));
    (finals(&events), longest)
}

#[test]
fn long_speech_commits_text_and_forced_splits_lose_no_audio() {
    let model = Arc::new(tiny_model());
    let opts = RecognizerOptions {
        partial_window_ms: 2000,
        endpoint: EndpointOptions { max_utterance_ms: 5000, ..Default::default() },
        ..Default::default()
    };
    let mut x = noise(secs(16.0), -60.0, 5);
    add_burst(&mut x, secs(1.0), secs(13.0), 250.0, 6);
    let mut rec = Recognizer::new(model.clone(), None, opts.clone()).unwrap();
    let (f, longest) = stream_with_partials(&mut rec, &x);
    // Each refresh decoded at most the window plus what arrived since the last commit.
    assert!(longest <= secs(2.0 + 0.25 + 0.01) + secs(0.4), "uncommitted {longest}");
    assert!(f.len() >= 3, "{f:?}");
    // Forced splits hand over at a pause the decoder found: each final starts where the
    // previous ended, so no audio is lost or decoded twice.
    for w in f.windows(2) {
        assert_eq!(w[1].1, w[0].2, "{f:?}");
    }
    assert!(f[0].1 <= secs(1.0) && f.last().unwrap().2 >= secs(14.0), "{f:?}");
    // Committed text is greedy over its window; the whole stays close to the offline decode of
    // the same span (a cut at a blank loses little context).
    let live: String = f.iter().map(|t| t.0.as_str()).collect::<Vec<_>>().join(" ");
    let reference = offline(&model, &x[f[0].1..f.last().unwrap().2], &opts.beam);
    let cer = hark::train::metrics::char_edits(&reference, &live).rate().unwrap();
    assert!(cer < 0.35, "CER {cer}: live {live:?} vs offline {reference:?}");
}

/// Committed text is decoded as a final is: with an LM, every word of a long utterance's final
/// (committed parts included) is a word the LM knows, where greedy commits of this random model
/// spell non-words.
#[test]
fn committed_text_with_an_lm_holds_only_lm_words() {
    use hark::ctc::{ArpaLm, LanguageModel};
    let words = ["a", "i", "the", "to", "in", "it", "on", "at", "so", "no", "he", "we", "us"];
    let mut arpa = format!(
        "\\data\\\nngram 1={}\n\n\\1-grams:\n-1.5\t<unk>\n-99\t<s>\n-1.0\t</s>\n",
        words.len() + 3
    );
    for w in words {
        arpa.push_str(&format!("-1.2\t{w}\n"));
    }
    arpa.push_str("\n\\end\\\n");
    let lm: Arc<dyn LanguageModel> = Arc::new(arpa.parse::<ArpaLm>().unwrap());
    let model = Arc::new(tiny_model());
    let opts = RecognizerOptions {
        partial_window_ms: 2000,
        endpoint: EndpointOptions { max_utterance_ms: 8000, ..Default::default() },
        beam: BeamOptions { lm_weight: 0.5, word_bonus: 0.0, ..Default::default() },
        ..Default::default()
    };
    let mut x = noise(secs(10.0), -60.0, 11);
    add_burst(&mut x, secs(1.0), secs(7.0), 240.0, 12);
    let mut rec = Recognizer::new(model.clone(), Some(lm), opts).unwrap();
    let (f, longest) = stream_with_partials(&mut rec, &x);
    // The utterance (7 s of speech) was committed in parts: no refresh decoded all of it.
    assert!(longest < secs(4.0), "uncommitted {longest}");
    assert_eq!(f.len(), 1, "{f:?}");
    let text = &f[0].0;
    assert!(text.split_whitespace().count() >= 3, "{text:?}");
    for w in text.split_whitespace() {
        assert!(words.contains(&w), "{w:?} in {text:?} is not an LM word");
    }
    // Without the LM the same commits are spelled freely (so the check above can fail).
    let lp = model.log_probs(model.features(&x).unwrap().view()).unwrap();
    let free = greedy(lp.view(), &model.config.alphabet, model.frame_duration_s());
    assert!(free.text.split_whitespace().any(|w| !words.contains(&w)), "{:?}", free.text);
}

#[test]
fn stop_finalizes_the_open_utterance_and_notifies_each_event() {
    let model = Arc::new(tiny_model());
    let mut x = noise(secs(3.0), -60.0, 7);
    add_burst(&mut x, secs(1.0), secs(2.0), 280.0, 8);
    let rec = Recognizer::new(model.clone(), None, RecognizerOptions::default()).unwrap();
    let (tx, rx) = mpsc::channel();
    let count = Arc::new(AtomicUsize::new(0));
    let c2 = count.clone();
    let handle = RecognizerHandle::spawn(
        rec,
        AudioInput::Events(rx),
        None,
        Box::new(move || {
            c2.fetch_add(1, Ordering::SeqCst);
        }),
    )
    .unwrap();
    feed_realtime(&x, &tx, 20, f32::INFINITY);
    // The speech is still going on when we stop (tx stays alive: the input has not ended).
    handle.send(RecognizerCommand::Stop);
    let mut events = Vec::new();
    loop {
        let ev = handle.events().recv_timeout(Duration::from_secs(20)).expect("worker hung");
        let stopped = ev == RecognizerEvent::Stopped;
        events.push(ev);
        if stopped {
            break;
        }
    }
    handle.join();
    drop(tx);
    assert_eq!(count.load(Ordering::SeqCst), events.len());
    // (Level events may all have been dropped: a stop that arrives before the worker has read the
    // queue recognizes the queued audio but does not replay old meter readings.)
    let f = finals(&events.into_iter().map(|e| (0, e)).collect::<Vec<_>>());
    assert_eq!(f.len(), 1, "{f:?}");
    let (text, s, e) = &f[0];
    assert_eq!(e, &x.len());
    assert_eq!(*text, offline(&model, &x[*s..*e], &BeamOptions::default()));
}

// ---------------------------------------------------------------------------------------------
// `hark listen`

fn hark() -> Command {
    Command::new(env!("CARGO_BIN_EXE_hark"))
}

fn save_tiny(dir: &Path) -> PathBuf {
    let p = dir.join("tiny");
    tiny_model().save(&p).unwrap();
    p
}

/// `[mm:ss.cc] text` lines → texts.
fn final_lines(stdout: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(stdout)
        .lines()
        .map(|l| {
            assert!(l.starts_with('[') && l.as_bytes().get(9) == Some(&b']'), "line {l:?}");
            l[10..].trim().to_string()
        })
        .collect()
}

#[test]
fn listen_input_file_prints_one_final_line_per_utterance() {
    let dir = tempfile::tempdir().unwrap();
    let model_path = save_tiny(dir.path());
    let (x, _) = two_bursts();
    let wav = dir.path().join("in.wav");
    hark::audio::write_wav_16k(&wav, &x).unwrap();
    let saved = dir.path().join("heard.wav");
    let out = hark()
        .args(["listen", "--no-lm", "--input-speed", "0", "--model"])
        .arg(&model_path)
        .arg("--input")
        .arg(&wav)
        .arg("--save")
        .arg(&saved)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // The same samples through the library (the WAV is 16-bit: read it back).
    let heard = hark::audio::read_mono_16k(&wav).unwrap();
    let model = Arc::new(Model::load(&model_path).unwrap());
    // `--no-lm` decodes greedily, as `hark transcribe --no-lm` and the app with the LM off do.
    let greedy = RecognizerOptions {
        beam: BeamOptions { beam_width: 1, ..BeamOptions::default() },
        ..RecognizerOptions::default()
    };
    let mut rec = Recognizer::new(model, None, greedy).unwrap();
    let want: Vec<String> =
        finals(&run_sync(&mut rec, &heard, 160)).into_iter().map(|f| f.0).collect();
    assert_eq!(final_lines(&out.stdout), want);
    assert_eq!(hark::audio::read_mono_16k(&saved).unwrap(), heard);

    // --warps: each final averages the network over the warps, as the library does with
    // final_warps; a warp out of range is an option error (exit 2) that names it.
    let listen = |warps: &str| {
        hark()
            .args(["listen", "--no-lm", "--input-speed", "0", "--warps", warps, "--model"])
            .arg(&model_path)
            .arg("--input")
            .arg(&wav)
            .output()
            .unwrap()
    };
    let out = listen("0.9,1,1.1");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let model = Arc::new(Model::load(&model_path).unwrap());
    let opts = RecognizerOptions {
        beam: BeamOptions { beam_width: 1, ..BeamOptions::default() },
        final_warps: vec![0.9, 1.0, 1.1],
        ..RecognizerOptions::default()
    };
    let mut rec = Recognizer::new(model, None, opts).unwrap();
    let want_ens: Vec<String> =
        finals(&run_sync(&mut rec, &heard, 160)).into_iter().map(|f| f.0).collect();
    assert_eq!(final_lines(&out.stdout), want_ens);
    assert_ne!(want_ens, want, "the warps changed no final here");
    let out = listen("0.9,1.5");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--warps") && err.contains("1.5"), "{err}");
}

#[test]
fn listen_missing_model_is_a_clear_error() {
    let out = hark().args(["listen", "--model", "/nonexistent/model"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/nonexistent/model") && err.contains("no model here"), "{err}");
}

/// The trained model the end-to-end test compares with: `HARK_LISTEN_MODEL`, else the default
/// model (`HARK_MODEL`, then `models/default`) when one is installed.
fn trained_model() -> Option<PathBuf> {
    std::env::var_os("HARK_LISTEN_MODEL")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .or_else(hark::model::default_model_dir)
}

fn vmic_running() -> bool {
    std::env::var_os("PULSE_SERVER").is_some()
        && Command::new("pactl").arg("info").output().is_ok_and(|o| o.status.success())
}

/// Through the real capture path. With the virtual microphone (`scripts/vmic.sh start`, then
/// `PULSE_SERVER` exported): speech made with espeak-ng is played into it while `hark listen`
/// runs; its finals must match the file path (same recognizer, no microphone) within 5 CER
/// points. Without it: the "no microphone" message and exit code 2.
/// The comparison needs a trained model (see `trained_model`); without one the tiny model runs and
/// the CER is printed, not asserted.
#[test]
fn listen_through_the_microphone_or_reports_none() {
    let dir = tempfile::tempdir().unwrap();
    let trained = trained_model();
    let model_path = trained.clone().unwrap_or_else(|| save_tiny(dir.path()));
    if !vmic_running() {
        let out = hark()
            .env_remove("PULSE_SERVER")
            .args(["listen", "--model"])
            .arg(&model_path)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("no microphone found"), "{err}");
        return;
    }
    // Speech at 16 kHz: espeak-ng's 22.05 kHz output through Hark's resampler.
    let raw = dir.path().join("say.wav");
    let text = "the quick brown fox jumps over the lazy dog. hello world, this is hark.";
    let ok = Command::new("espeak-ng").arg("-w").arg(&raw).arg(text).status();
    if !ok.is_ok_and(|s| s.success()) {
        panic!("espeak-ng is needed for this test (apt-get install espeak-ng)");
    }
    let mut speech = vec![0.0; secs(0.5)];
    speech.extend(hark::audio::read_mono_16k(&raw).unwrap());
    speech.extend(vec![0.0; secs(1.0)]);
    let wav = dir.path().join("say16k.wav");
    hark::audio::write_wav_16k(&wav, &speech).unwrap();

    // Greedy finals (no LM) on both sides: the test is about the capture path, and a beam search
    // with an LM amplifies the sub-frame offset of the microphone into different word choices.
    let child = hark()
        .args(["listen", "--no-lm", "--model"])
        .arg(&model_path)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let played = Command::new("paplay").args(["-d", "vmic_sink"]).arg(&wav).status().unwrap();
    assert!(played.success());
    std::thread::sleep(Duration::from_millis(1500));
    // Ctrl-C: the last utterance is still finalized.
    let pid = child.id().to_string();
    assert!(Command::new("kill").args(["-INT", &pid]).status().unwrap().success());
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let live = final_lines(&out.stdout).join(" ");

    // The microphone starts at an arbitrary sample within a 10 ms feature frame; the file is
    // played at 16 offsets 10 samples apart and the closest is the reference for that phase.
    let mut references = Vec::new();
    for shift in (0..160).step_by(10) {
        let mut shifted = vec![0.0; shift];
        shifted.extend_from_slice(&speech);
        let path = dir.path().join(format!("say16k_{shift}.wav"));
        hark::audio::write_wav_16k(&path, &shifted).unwrap();
        let file = hark()
            .args(["listen", "--no-lm", "--input-speed", "0", "--model"])
            .arg(&model_path)
            .arg("--input")
            .arg(&path)
            .output()
            .unwrap();
        assert!(file.status.success());
        references.push(final_lines(&file.stdout).join(" "));
    }
    let reference = references
        .iter()
        .min_by_key(|r| hark::train::metrics::char_edits(r, &live).errors())
        .unwrap()
        .clone();
    assert!(!reference.is_empty());
    assert!(!live.is_empty(), "nothing was recognized through the microphone");
    let cer = hark::train::metrics::char_edits(&reference, &live).rate().unwrap();
    if trained.is_none() {
        // The tiny untrained model turns every sample difference (the microphone's start offset
        // within a 10 ms frame) into different letters, so only a trained model's transcripts can
        // be compared; this run checks that speech went through cpal and was recognized.
        eprintln!(
            "no default model installed (models/default, HARK_MODEL or HARK_LISTEN_MODEL): \
             mic vs file CER {:.1} % with an untrained model, not asserted",
            cer * 100.0
        );
        return;
    }
    // The bound is 5 CER points. Measured with the shipped model: 0–4.3 % in 16 runs
    // (alone and beside the other tests), i.e. at most 3 letters of 69 differ. The assertion
    // allows 7.5 % so that one more letter under a loaded CI machine does not fail the build; it
    // prints the value. (Before the live hangover became 300 ms, the live final could drop the
    // last word at some phases: "world this is hark" -> "worldiss h", 17.4 %.)
    eprintln!("mic vs file CER {:.1} %", cer * 100.0);
    assert!(cer <= 0.075, "CER {:.1} %: mic {live:?} vs file {reference:?}", cer * 100.0);
}

/// Pink noise (Paul Kellet's filter over seeded white noise) scaled to `rms_dbfs`.
fn pink_noise(n: usize, rms_dbfs: f32, seed: u64) -> Vec<f32> {
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut b = [0.0f32; 7];
    let mut x: Vec<f32> = (0..n)
        .map(|_| {
            let w: f32 = rng.random_range(-1.0..1.0);
            b[0] = 0.99886 * b[0] + w * 0.0555179;
            b[1] = 0.99332 * b[1] + w * 0.0750759;
            b[2] = 0.96900 * b[2] + w * 0.153_852;
            b[3] = 0.86650 * b[3] + w * 0.3104856;
            b[4] = 0.55000 * b[4] + w * 0.5329522;
            b[5] = -0.7616 * b[5] - w * 0.0168980;
            let p = b[..6].iter().sum::<f32>() + b[6] + w * 0.5362;
            b[6] = w * 0.115926;
            p
        })
        .collect();
    let rms = (x.iter().map(|v| v * v).sum::<f32>() / n as f32).sqrt();
    let g = 10f32.powf(rms_dbfs / 20.0) / rms;
    x.iter_mut().for_each(|v| *v *= g);
    x
}

#[test]
fn quiet_pink_noise_gives_no_phantom_line_with_the_shipped_model() {
    // A room's hiss: -40 dBFS RMS pink noise once gave a final line "a".
    let dir = tempfile::tempdir().unwrap();
    for (i, level) in [-35.0f32, -40.0, -45.0].into_iter().enumerate() {
        let wav = dir.path().join(format!("pink{i}.wav"));
        hark::audio::write_wav_16k(&wav, &pink_noise(12 * 16_000, level, i as u64)).unwrap();
        let out =
            hark().args(["listen", "--input-speed", "0", "--input"]).arg(&wav).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(final_lines(&out.stdout), Vec::<String>::new(), "{level} dBFS pink noise");
    }
}
