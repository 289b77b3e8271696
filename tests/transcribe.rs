//! File transcription end to end with a hand-built "tone detector" model: segmentation and
//! timing on synthetic audio, export formats through the CLI, `hark transcribe` exit codes and
//! output routing, and `hark eval` scores checked against an independent edit distance.
//!
//! The model (13 MFCC, no deltas, 1 BiLSTM layer with H = 1, V = 29) is set by hand so that its
//! output is known: c0 is the frame's log energy `x0`; in each direction the input and output
//! gates are open (bias +20), the forget gate shut (−20), no recurrence, and the cell input is
//! `g = tanh(A·(x0 − THRESHOLD))`, so `h ≈ tanh(tanh(A·(x0 − THRESHOLD)))` ≈ ±0.76 for
//! frames clearly above/below the threshold. The projection gives the letter `a` the logit
//! `K·(h_f + h_b)` and the blank `−K·(h_f + h_b)`; every other label −20. So a frame with sound
//! emits `a`, digital silence emits blank: each tone burst decodes to "a".

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use hark::audio::write_wav_16k;
use hark::ctc::Alphabet;
use hark::features::{FeatureOptions, Normalization};
use hark::model::{ArchConfig, Model, ModelConfig};
use hark::runtime::export::{self, Format};
use hark::runtime::transcribe::{GAP_MARGIN_S, Transcriber, Transcript};

const SR: f64 = 16_000.0;
/// Log frame energy (natural log, int16 scale) between digital silence (ln ε ≈ −36) and even a
/// −54 dBFS tone (≈ +11).
const THRESHOLD: f32 = 0.0;
const A: f32 = 0.5;
const K: f32 = 10.0;

fn tone_model() -> Model {
    let features = FeatureOptions {
        delta_order: 0,
        normalization: Normalization::None,
        ..FeatureOptions::default()
    };
    let arch = ArchConfig { hidden: 1, layers: 1, dropout: 0.0, ..ArchConfig::default() };
    let mut cfg = ModelConfig::new(arch, features, Alphabet::default());
    cfg.name = "tone detector".into();
    let mut m = Model::new(cfg).unwrap();
    let a_label = m.config.alphabet.label('a').unwrap();
    let v = m.config.arch.num_labels;
    let d = m.config.arch.input_dim;
    let mut t = m.net.params_mut();
    assert_eq!(t.len(), 10, "fwd 4 + bwd 4 + proj 2 tensors");
    for dir in 0..2 {
        let base = dir * 4;
        // weight_ih (4H, D) = (4, D), gates i, f, g, o
        let w_ih = &mut *t[base];
        w_ih.fill(0.0);
        w_ih[2 * d] = A;
        t[base + 1].fill(0.0); // weight_hh
        t[base + 2].copy_from_slice(&[20.0, -20.0, -A * THRESHOLD, 20.0]); // bias_ih
        t[base + 3].fill(0.0); // bias_hh
    }
    // proj.weight (V, 2H), proj.bias (V)
    let w = &mut *t[8];
    w.fill(0.0);
    w[0] = -K;
    w[1] = -K;
    w[2 * a_label] = K;
    w[2 * a_label + 1] = K;
    let b = &mut *t[9];
    b.fill(-20.0);
    b[0] = 0.0;
    b[a_label] = 0.0;
    assert_eq!(b.len(), v);
    m
}

/// A 1 kHz tone of `amp` peak amplitude.
fn tone(seconds: f64, amp: f32) -> Vec<f32> {
    let n = (seconds * SR).round() as usize;
    (0..n)
        .map(|i| amp * (2.0 * std::f32::consts::PI * 1000.0 * i as f32 / SR as f32).sin())
        .collect()
}

fn silence(seconds: f64) -> Vec<f32> {
    vec![0.0; (seconds * SR).round() as usize]
}

fn concat(parts: &[Vec<f32>]) -> Vec<f32> {
    parts.concat()
}

/// Silence 0.5 s, tone 1 s, silence 1.5 s, tone 0.8 s, silence 0.7 s (4.5 s).
fn two_bursts() -> Vec<f32> {
    concat(&[silence(0.5), tone(1.0, 0.3), silence(1.5), tone(0.8, 0.3), silence(0.7)])
}

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol
}

#[test]
fn tone_bursts_give_segments_at_the_right_times() {
    let tr = Transcriber::new(tone_model());
    let t = tr.transcribe_samples(&two_bursts()).unwrap();
    assert!(close(t.duration_s, 4.5, 1e-9));
    assert_eq!(t.segments.len(), 2, "{t:#?}");
    assert_eq!(t.text(), "a a");
    // A file shorter than one window is decoded in one pass and split at pauses between its
    // characters: each segment spans its words plus GAP_MARGIN_S on each side.
    let s = &t.segments;
    for seg in s {
        let (first, last) = (&seg.words[0], &seg.words[seg.words.len() - 1]);
        assert!(close(seg.start_s, first.start_s - GAP_MARGIN_S, 1e-9), "{seg:?}");
        assert!(close(seg.end_s, last.end_s + GAP_MARGIN_S, 1e-9), "{seg:?}");
    }
    // The letter is emitted at the first network frame that reaches into the tone: frames are
    // 25 ms long every 10 ms, so it starts at most 25 ms before the tone.
    for (seg, onset) in s.iter().zip([0.5, 3.0]) {
        assert_eq!(seg.text, "a");
        assert_eq!(seg.words.len(), 1);
        assert_eq!(seg.chars.len(), 1);
        let w = &seg.words[0];
        assert!(w.start_s > onset - 0.025 && w.start_s <= onset + 1e-9, "{} vs {onset}", w.start_s);
        assert!(close(w.end_s, w.start_s + 0.01, 1e-9));
        assert_eq!(seg.chars[0].time_s, w.start_s);
        assert!(seg.chars[0].confidence > 0.99 && seg.confidence > 0.99);
    }
}

#[test]
fn speech_at_the_very_start_is_not_lost() {
    // The endpointer cannot call the first burst speech (its noise floor starts at the tone's
    // level); the gap decoding keeps it anyway.
    let audio = concat(&[tone(1.0, 0.3), silence(1.0), tone(1.0, 0.3), silence(0.5)]);
    let t = Transcriber::new(tone_model()).transcribe_samples(&audio).unwrap();
    assert_eq!(t.text(), "a a", "{t:#?}");
    let s = &t.segments;
    assert_eq!(s[0].start_s, 0.0);
    assert!(s[0].words[0].start_s == 0.0);
    // A segment ends GAP_MARGIN_S after its last character's frame.
    assert!(close(s[0].end_s, 0.01 + GAP_MARGIN_S, 1e-9), "{}", s[0].end_s);
    let w = &s[1].words[0];
    assert!(w.start_s > 2.0 - 0.025 && w.start_s <= 2.0 + 1e-9, "{s:#?}");
    assert!(close(s[1].start_s, w.start_s - GAP_MARGIN_S, 1e-9), "{s:#?}");
}

#[test]
fn quiet_file_without_detected_speech_is_still_transcribed() {
    // −54 dBFS: below the endpointer's absolute speech gate (−50 dBFS), above the model's
    // threshold.
    let audio = concat(&[silence(0.3), tone(1.0, 0.002), silence(0.3)]);
    let t = Transcriber::new(tone_model()).transcribe_samples(&audio).unwrap();
    assert_eq!(t.segments.len(), 1, "{t:#?}");
    assert_eq!(t.text(), "a");
    let s = &t.segments[0];
    assert!(close(s.start_s, 0.3 - 0.025 - 0.2, 0.011), "{}", s.start_s);
    // The word ends one frame after its first frame (0.3 − ε + 0.01) + the 0.2 s margin.
    assert!(close(s.end_s, s.words[0].end_s + 0.2, 1e-9));
}

#[test]
fn silence_gives_no_segments() {
    let t = Transcriber::new(tone_model()).transcribe_samples(&silence(2.0)).unwrap();
    assert!(t.segments.is_empty());
    assert_eq!(t.text(), "");
    assert_eq!(t.duration_s, 2.0);
}

#[test]
fn long_sound_is_cut_into_bounded_segments() {
    let mut tr = Transcriber::new(tone_model());
    tr.endpoint.max_utterance_ms = 3_000;
    // Detected speech (forced cuts at 3 s), then the same without leading silence, where the
    // endpointer never sees speech and the gap itself is cut.
    for audio in
        [concat(&[silence(0.5), tone(10.0, 0.3), silence(0.5)]), concat(&[tone(10.0, 0.3)])]
    {
        let t = tr.transcribe_samples(&audio).unwrap();
        assert!(t.segments.len() >= 4, "{t:#?}");
        for w in t.segments.windows(2) {
            assert!(w[0].end_s <= w[1].start_s + 1e-9, "overlap: {t:#?}");
        }
        for s in &t.segments {
            assert!(s.end_s - s.start_s <= 3.0 + 1e-9, "{s:#?}");
            assert_eq!(s.text, "a");
        }
    }
}

fn write(path: &Path, samples: &[f32]) {
    write_wav_16k(path, samples).unwrap();
}

#[test]
fn file_equals_samples_and_progress_reaches_the_end() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("two.wav");
    let audio = two_bursts();
    write(&p, &audio);
    let tr = Transcriber::new(tone_model());
    let mut seen = Vec::new();
    let from_file = tr.transcribe_file(&p, &mut |s| seen.push(s)).unwrap();
    let mut from_samples = tr.transcribe_samples(&audio).unwrap();
    from_samples.path = Some(p.clone());
    assert_eq!(from_file, from_samples);
    assert!(seen.windows(2).all(|w| w[0] <= w[1]));
    assert!(close(*seen.last().unwrap(), 4.5, 1e-9));
    // Batch over files: same results, in input order, errors in place.
    let bad = dir.path().join("bad.wav");
    std::fs::write(&bad, b"RIFF not really").unwrap();
    let r = tr.transcribe_files(&[p.clone(), bad.clone(), p.clone()], &|_, _| {});
    assert_eq!(r.len(), 3);
    assert_eq!(r[0].as_ref().unwrap(), &from_file);
    assert!(r[1].as_ref().unwrap_err().to_string().contains("bad.wav"));
    assert_eq!(r[2].as_ref().unwrap(), &from_file);
}

// ------------------------------------------------------------------------------------------
// CLI
// ------------------------------------------------------------------------------------------

struct Fixture {
    dir: tempfile::TempDir,
    model: PathBuf,
    good: PathBuf,
    one: PathBuf,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("model");
    tone_model().save(&model).unwrap();
    let good = dir.path().join("two.wav");
    write(&good, &two_bursts());
    let one = dir.path().join("one.wav");
    write(&one, &concat(&[silence(0.5), tone(0.6, 0.3), silence(0.6)]));
    Fixture { dir, model, good, one }
}

fn hark(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_hark")).args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn expected(path: &Path, format: Format) -> String {
    let tr = Transcriber::new(Model::load(&path.parent().unwrap().join("model")).unwrap());
    let t: Transcript = tr.transcribe_file(path, &mut |_| {}).unwrap();
    export::render(&t, format).unwrap()
}

#[test]
fn cli_single_file_formats_to_stdout() {
    let f = fixture();
    let (code, out, err) = hark(&["transcribe", s(&f.good), "--model", s(&f.model)]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "a\na\n");
    let (code, srt, _) =
        hark(&["transcribe", s(&f.good), "--model", s(&f.model), "--format", "srt"]);
    assert_eq!(code, 0);
    assert_eq!(srt, expected(&f.good, Format::Srt));
    // The SRT's shape and times, independently of the library: two cues near the bursts.
    let lines: Vec<&str> = srt.lines().collect();
    assert_eq!(lines.len(), 8, "{srt}");
    assert_eq!((lines[0], lines[2], lines[3], lines[4], lines[6]), ("1", "a", "", "2", "a"));
    // Cues around the letters emitted at the tone onsets (0.5 s and 3.0 s), ±GAP_MARGIN_S.
    assert!(lines[1].starts_with("00:00:00,2") && lines[1].contains(" --> 00:00:00,"), "{srt}");
    assert!(lines[5].starts_with("00:00:02,7") && lines[5].contains(" --> 00:00:03,"), "{srt}");
    let (code, vtt, _) =
        hark(&["transcribe", s(&f.good), "--model", s(&f.model), "--format", "vtt"]);
    assert_eq!(code, 0);
    assert!(vtt.starts_with("WEBVTT\n\n00:00:00.2"), "{vtt}");
    assert_eq!(vtt, expected(&f.good, Format::Vtt));
    let (code, json, _) =
        hark(&["transcribe", s(&f.good), "--model", s(&f.model), "--format", "json"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["segments"].as_array().unwrap().len(), 2);
    assert_eq!(v["segments"][1]["chars"][0]["ch"], "a");
    assert_eq!(v["duration_s"], 4.5);
}

#[test]
fn cli_several_files_bad_one_continues_and_exits_2() {
    let f = fixture();
    let bad = f.dir.path().join("broken.wav");
    std::fs::write(&bad, b"this is not audio at all").unwrap();
    let (code, out, err) =
        hark(&["transcribe", s(&f.good), s(&bad), s(&f.one), "--model", s(&f.model)]);
    assert_eq!(code, 2, "{err}");
    assert_eq!(out, format!("== {} ==\na\na\n== {} ==\na\n", s(&f.good), s(&f.one)));
    assert!(err.contains("broken.wav"), "{err}");
    assert!(err.contains("1 of 3 files failed"), "{err}");
    // JSON: one array of the transcripts that succeeded, in input order.
    let (code, out, _) =
        hark(&["transcribe", s(&f.good), s(&bad), s(&f.one), "--model", s(&f.model), "-f", "json"]);
    assert_eq!(code, 2);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let arr = v.as_array().unwrap();
    assert_eq!(arr.len(), 2);
    assert_eq!(arr[0]["path"], s(&f.good));
    assert_eq!(arr[1]["path"], s(&f.one));
    assert_eq!(arr[1]["segments"].as_array().unwrap().len(), 1);
    // All good → 0.
    let (code, _, err) = hark(&["transcribe", s(&f.good), s(&f.one), "--model", s(&f.model)]);
    assert_eq!(code, 0, "{err}");
    // Subtitles of several files need --out-dir.
    let (code, out, err) =
        hark(&["transcribe", s(&f.good), s(&f.one), "--model", s(&f.model), "-f", "srt"]);
    assert_eq!((code, out.as_str()), (2, ""));
    assert!(err.contains("--out-dir"), "{err}");
}

#[test]
fn cli_out_dir_writes_one_file_each() {
    let f = fixture();
    let out_dir = f.dir.path().join("subs");
    let bad = f.dir.path().join("missing.wav");
    let (code, out, err) = hark(&[
        "transcribe",
        s(&f.good),
        s(&f.one),
        s(&bad),
        "--model",
        s(&f.model),
        "--format",
        "vtt",
        "--out-dir",
        s(&out_dir),
    ]);
    assert_eq!(code, 2, "{err}");
    assert_eq!(out, "");
    assert!(err.contains("missing.wav"), "{err}");
    let two = std::fs::read_to_string(out_dir.join("two.vtt")).unwrap();
    assert_eq!(two, expected(&f.good, Format::Vtt));
    let one = std::fs::read_to_string(out_dir.join("one.vtt")).unwrap();
    assert_eq!(one, expected(&f.one, Format::Vtt));
    assert!(!out_dir.join("missing.vtt").exists());
}

#[test]
fn cli_missing_model_is_a_clear_error() {
    let f = fixture();
    let nowhere = f.dir.path().join("no-such-model");
    let (code, out, err) = hark(&["transcribe", s(&f.good), "--model", s(&nowhere)]);
    assert_eq!(code, 2);
    assert_eq!(out, "");
    assert!(err.contains("no-such-model"), "{err}");
}

/// Levenshtein distance, written here independently of `hark::train::metrics`.
fn lev<T: PartialEq>(a: &[T], b: &[T]) -> usize {
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, x) in a.iter().enumerate() {
        let mut cur = vec![i + 1];
        for (j, y) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(x != y);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

#[test]
fn cli_eval_scores_match_an_independent_count() {
    let f = fixture();
    let data = f.dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    // Hypotheses: one burst → "a", two bursts → "a a".
    let items = [
        ("u1", two_bursts(), "a a"),
        ("u2", concat(&[silence(0.5), tone(0.6, 0.3), silence(0.6)]), "a b"),
        ("u3", concat(&[silence(0.5), tone(0.6, 0.3), silence(0.6)]), "bbab"),
        ("u4", two_bursts(), "a"),
    ];
    for (id, audio, text) in &items {
        write(&data.join(format!("{id}.wav")), audio);
        std::fs::write(data.join(format!("{id}.txt")), text).unwrap();
    }
    // An utterance without audio is reported as skipped.
    std::fs::write(data.join("u5.txt"), "orphan").unwrap();
    let json_path = f.dir.path().join("eval.json");
    let (code, out, err) =
        hark(&["eval", s(&data), "--model", s(&f.model), "--worst", "2", "--json", s(&json_path)]);
    assert_eq!(code, 0, "{err}\n{out}");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json_path).unwrap()).unwrap();
    let per = v["per_utterance"].as_array().unwrap();
    assert_eq!(per.len(), 4);
    let (mut ce, mut cn, mut we, mut wn) = (0, 0, 0, 0);
    for u in per {
        let r = u["reference"].as_str().unwrap();
        let h = u["hypothesis"].as_str().unwrap();
        let expect_h = if r == "a a" || r == "a" { "a a" } else { "a" };
        assert_eq!(h, expect_h, "{u}");
        let (rc, hc): (Vec<char>, Vec<char>) = (r.chars().collect(), h.chars().collect());
        let (rw, hw): (Vec<&str>, Vec<&str>) =
            (r.split_whitespace().collect(), h.split_whitespace().collect());
        ce += lev(&rc, &hc);
        cn += rc.len();
        we += lev(&rw, &hw);
        wn += rw.len();
        let u_cer = u["cer"].as_f64().unwrap();
        assert!(close(u_cer, lev(&rc, &hc) as f64 / rc.len() as f64, 1e-12));
    }
    // a a|a a: 0; a b|a: 2 chars (del ' ', del 'b'), 1 word; bbab|a: 3 chars, 1 word; a|a a: 2
    // chars, 1 word (insertion).
    assert_eq!((ce, cn, we, wn), (7, 11, 3, 6));
    let cer = ce as f64 / cn as f64;
    let wer = we as f64 / wn as f64;
    assert!(close(v["cer"].as_f64().unwrap(), cer, 1e-12));
    assert!(close(v["wer"].as_f64().unwrap(), wer, 1e-12));
    assert_eq!(v["skipped"], 1);
    assert!(err.contains("1 skipped"), "{err}");
    assert!(out.contains(&format!("WER: {:.2}% ({we} errors / {wn} words", 100.0 * wer)), "{out}");
    assert!(
        out.contains(&format!("CER: {:.2}% ({ce} errors / {cn} characters", 100.0 * cer)),
        "{out}"
    );
    assert!(out.contains("real-time factor: "), "{out}");
    // Worst 2 by CER: u4 (2/1 = 200%) then u3 (3/4), not u2 (2/3).
    let worst = out.split("worst 2 by CER:").nth(1).unwrap();
    let u4 = worst.find("u4.wav (CER 200.00%)").expect(&out);
    let u3 = worst.find("u3.wav (CER 75.00%)").expect(&out);
    assert!(u4 < u3);
    assert!(!worst.contains("u1.wav (") && !worst.contains("u2.wav ("));
}

/// The tone model spells each burst "a" with no space between bursts, so the whole file is the
/// word "aa" to a lexicon-constrained decoder: the LM knows it.
const TINY_ARPA: &str = "\\data\\\nngram 1=5\n\n\\1-grams:\n-1\t<unk>\n-99\t<s>\n-0.5\t</s>\n-0.3\ta\n\
    -0.4\taa\n\n\\end\\\n";

#[test]
fn beam_search_and_lm_agree_with_greedy_on_a_clear_model() {
    let greedy = Transcriber::new(tone_model()).transcribe_samples(&two_bursts()).unwrap();
    let mut tr = Transcriber::new(tone_model());
    tr.beam.beam_width = 8;
    let beam = tr.transcribe_samples(&two_bursts()).unwrap();
    assert_eq!(beam.text(), greedy.text());
    assert_eq!(beam.segments.len(), greedy.segments.len());
    for (a, b) in beam.segments.iter().zip(&greedy.segments) {
        assert_eq!((a.start_s, a.end_s), (b.start_s, b.end_s));
        assert_eq!(a.words[0].start_s, b.words[0].start_s);
    }
    // With a lexicon-constrained LM the output is whole words: the two bursts (no space between
    // them) are the word "aa", one segment spanning both, not split at the pause inside it.
    tr.lm = Some(std::sync::Arc::new(TINY_ARPA.parse::<hark::ctc::ArpaLm>().unwrap()));
    let with_lm = tr.transcribe_samples(&two_bursts()).unwrap();
    assert_eq!(with_lm.text(), "aa");
    assert_eq!(with_lm.segments.len(), 1);
    assert_eq!(with_lm.segments[0].start_s, greedy.segments[0].start_s);
    assert_eq!(with_lm.segments[0].end_s, greedy.segments[1].end_s);
}

#[test]
fn cli_beam_with_lm_and_bad_lm() {
    let f = fixture();
    let lm = f.dir.path().join("tiny.arpa");
    std::fs::write(&lm, TINY_ARPA).unwrap();
    let args = ["transcribe", s(&f.good), "--model", s(&f.model), "--beam", "4", "--lm", s(&lm)];
    let (code, out, err) = hark(&args);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "aa\n");
    let bad = f.dir.path().join("bad.arpa");
    std::fs::write(&bad, "hello\n").unwrap();
    let (code, out, err) =
        hark(&["transcribe", s(&f.good), "--model", s(&f.model), "--lm", s(&bad)]);
    assert_eq!((code, out.as_str()), (2, ""));
    assert!(err.contains("bad.arpa"), "{err}");
    // A blank penalty out of range names the flag and its range.
    for p in ["11", "-12", "nan"] {
        let (code, out, err) =
            hark(&["transcribe", s(&f.good), "--model", s(&f.model), "--blank-penalty", p]);
        assert_eq!((code, out.as_str()), (2, ""), "{p}");
        assert!(err.contains("--blank-penalty") && err.contains("-10 to 10"), "{p}: {err}");
    }
}

#[test]
fn compressed_formats_transcribe_like_wav() {
    // The audio fixtures hold the same speech in several containers; the tone model turns every
    // stretch of sound into "a", so each must give a non-empty transcript of the same duration.
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/audio");
    let tr = Transcriber::new(tone_model());
    let wav = tr.transcribe_file(&data.join("speech_22k.wav"), &mut |_| {}).unwrap();
    assert!(!wav.segments.is_empty());
    for name in ["speech_22k.flac", "speech_44k_stereo.ogg", "speech_22k.mp3"] {
        let t = tr.transcribe_file(&data.join(name), &mut |_| {}).unwrap();
        assert!(!t.segments.is_empty(), "{name}");
        assert!(
            close(t.duration_s, wav.duration_s, 0.1),
            "{name}: {} vs {}",
            t.duration_s,
            wav.duration_s
        );
    }
}

#[test]
fn cli_warp_ensemble_from_flag_or_decoder_json() {
    let f = fixture();
    // The tone detector hears only energy, which a filterbank warp keeps; a seeded random
    // network (its projection scaled up so its letters follow the input) hears the spectrum.
    common::random_model(8, 5).save(&f.model).unwrap();
    let lib = |warps: &[f64]| {
        let mut tr = Transcriber::new(Model::load(&f.model).unwrap());
        tr.warps = warps.to_vec();
        export::render(&tr.transcribe_file(&f.good, &mut |_| {}).unwrap(), Format::Json).unwrap()
    };
    let (plain, ens) = (lib(&[]), lib(&[0.9, 1.0, 1.1]));
    assert_ne!(plain, ens, "averaging warped passes should move the confidences");
    let base = ["transcribe", s(&f.good), "--model", s(&f.model), "--format", "json"];
    let run = |extra: &[&str]| {
        let (code, out, err) = hark(&[&base[..], extra].concat());
        assert_eq!(code, 0, "{err}");
        out
    };
    assert_eq!(run(&["--warps", "0.9,1,1.1"]), ens);
    // The model's decoder.json sets the ensemble; `--warps 1` asks for the single pass.
    std::fs::write(f.dir.path().join("decoder.json"), r#"{"warps": [0.9, 1.0, 1.1]}"#).unwrap();
    assert_eq!(run(&[]), ens);
    assert_eq!(run(&["--warps", "1"]), plain);
    let (code, out, err) = hark(&[&base[..], &["--warps", "0.9,1.5"]].concat());
    assert_eq!((code, out.as_str()), (2, ""));
    assert!(err.contains("--warps") && err.contains("1.5"), "{err}");
}

/// `hark lm tune` scores the grid over labeled data, and `--save` writes the best setting with a
/// copy of the LM into the model's decoder.json, which `hark eval` then decodes with to the same
/// WER. Bad lists and warps are exit-2 errors that leave the model directory untouched.
#[test]
fn cli_lm_tune_saves_the_best_setting_that_eval_reproduces() {
    let f = fixture();
    let data = f.dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::copy(&f.good, data.join("two.wav")).unwrap();
    std::fs::write(data.join("two.txt"), "a a\n").unwrap();
    std::fs::copy(&f.one, data.join("one.wav")).unwrap();
    std::fs::write(data.join("one.txt"), "a b\n").unwrap();
    // The model's directory (model.json) is the fixture's; the LM comes from elsewhere.
    let mdir = f.dir.path();
    std::fs::create_dir(mdir.join("lms")).unwrap();
    let lm = mdir.join("lms/tiny.arpa");
    std::fs::write(
        &lm,
        "\\data\\\nngram 1=5\n\n\\1-grams:\n-2.0\t<unk>\n-99\t<s>\n-0.5\t</s>\n-0.3\ta\n-1.0\ti\n\n\\end\\\n",
    )
    .unwrap();
    let tune = |extra: &[&str]| {
        let base = ["lm", "tune", s(&data), "--model", s(mdir), "--lm", s(&lm), "--beam", "4"];
        hark(&[&base[..], extra].concat())
    };
    let decoder = mdir.join("decoder.json");
    for (bad, names) in [
        (&["--warps", "0.9,1.5"][..], ["--warps", "1.5"]),
        (&["--weights", "0.5,nan"][..], ["--weights", "finite"]),
        (&["--blank-penalties", "0,11"][..], ["--blank-penalties", "got 11"]),
    ] {
        let (code, _, err) = tune(&[bad, &["--save"]].concat());
        assert_eq!(code, 2, "{err}");
        assert!(names.iter().all(|n| err.contains(n)), "{err}");
        assert!(!decoder.exists() && !mdir.join("tiny.arpa").exists());
    }
    let (code, out, err) =
        tune(&["--weights", "0.5,1", "--bonuses", "0,2", "--blank-penalties", "0,1", "--save"]);
    assert_eq!(code, 0, "{err}");
    // Greedy glues the two bursts' letters into "aa"; the LM search keeps a word it knows ("a"),
    // the same at every grid point, so the first is kept.
    assert!(out.starts_with("2 utterances; greedy, no LM: WER 75.00%  CER 50.00%"), "{out}");
    let rows: Vec<&str> = out.lines().filter(|l| l.trim_start().starts_with(['0', '1'])).collect();
    assert_eq!(rows.len(), 8, "{out}");
    let best = out.lines().find(|l| l.starts_with("best: ")).expect(&out);
    assert_eq!(
        best, "best: --lm-weight 0.5 --word-bonus 0 --blank-penalty 0: WER 50.00%  CER 66.67%",
        "{out}"
    );
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&decoder).unwrap()).unwrap();
    assert_eq!(saved["lm"], "tiny.arpa");
    assert_eq!((saved["lm_weight"].as_f64(), saved["word_bonus"].as_f64()), (Some(0.5), Some(0.0)));
    assert_eq!(saved["blank_penalty"].as_f64(), Some(0.0));
    assert_eq!(saved["beam"], 4);
    assert_eq!(std::fs::read(mdir.join("tiny.arpa")).unwrap(), std::fs::read(&lm).unwrap());
    // `hark eval` with the saved decoder.json (its LM, weight, bonus and beam) gets that WER.
    let json = f.dir.path().join("eval.json");
    let (code, _, err) = hark(&["eval", s(&data), "--model", s(mdir), "--json", s(&json)]);
    assert_eq!(code, 0, "{err}");
    let ev: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(ev["lm"].as_str().map(|p| p.ends_with("tiny.arpa")), Some(true), "{ev}");
    assert_eq!(ev["beam"], 4);
    assert_eq!((ev["wer"].as_f64(), ev["words"]["errors"].as_u64()), (Some(0.5), Some(2)), "{ev}");
    assert_eq!(ev["chars"]["errors"].as_u64(), Some(4), "{ev}");
}
