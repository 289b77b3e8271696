//! Fuzz targets: every parser a user's file reaches, each as a function of arbitrary bytes that
//! must never panic, abort or allocate beyond what the bytes justify (an error is fine).
//!
//! The coverage-guided campaign runs them through cargo-fuzz (`fuzz/`, nightly, libFuzzer); the
//! seed corpora and every input that ever crashed live in `fuzz/corpus/TARGET/` and
//! `fuzz/regressions/TARGET/`, and `tests/fuzz_corpora.rs` replays all of them on stable in the
//! normal test run, so a fixed crash stays fixed without nightly.
//!
//! Targets that read from a path (audio, model folders, dataset folders) write the bytes into a
//! scratch folder private to the process and thread.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use ndarray::Array2;

use crate::ctc::{Alphabet, BeamOptions, BiasedLm, HotWords, LanguageModel};

/// A fuzz target: any bytes in, no panic out.
pub type Target = fn(&[u8]);

/// The targets, by name (the names of `fuzz/fuzz_targets/*.rs` and the corpus folders).
pub const TARGETS: &[(&str, Target)] = &[
    ("audio", audio),
    ("model", model),
    ("arpa", arpa),
    ("manifest", manifest),
    ("decoder_config", decoder_config),
    ("hot_words", hot_words),
];

/// A folder for this process and thread, emptied.
fn scratch(name: &str) -> PathBuf {
    let base = std::env::var_os("HARK_FUZZ_SCRATCH")
        .map(PathBuf::from)
        .or_else(|| Path::new("/dev/shm").is_dir().then(|| PathBuf::from("/dev/shm")))
        .unwrap_or_else(std::env::temp_dir);
    let tid =
        format!("{:?}", std::thread::current().id()).replace(|c: char| !c.is_alphanumeric(), "");
    let dir = base.join(format!("hark-fuzz-{}-{tid}", std::process::id())).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("fuzz scratch folder");
    dir
}

/// Audio decoding (WAV, MP3, FLAC, Ogg Vorbis; the container is sniffed from the bytes): probe,
/// then decode to 16 kHz mono, at most 2 minutes of output.
pub fn audio(data: &[u8]) {
    let dir = scratch("audio");
    let path = dir.join("input");
    std::fs::write(&path, data).unwrap();
    let _ = crate::audio::probe(&path);
    if let Ok(mut src) = crate::audio::AudioSource::open(&path) {
        let mut out = Vec::new();
        while out.len() < 120 * 16_000 {
            match src.read_chunk(&mut out) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
        assert!(out.iter().all(|v| v.is_finite() && v.abs() <= 1.0), "decoded samples in [-1, 1]");
    }
}

/// Model loading: `[config length: u16 LE][model.json][model.safetensors]` written as a model
/// folder and loaded with [`crate::model::Model::load`]; a model that loads decodes 0.3 s. The
/// weights bytes also go through the safetensors parser against a small architecture's shapes.
pub fn model(data: &[u8]) {
    if data.len() < 2 {
        return;
    }
    let n = (u16::from_le_bytes([data[0], data[1]]) as usize).min(data.len() - 2);
    let (config, weights) = data[2..].split_at(n);
    let dir = scratch("model");
    std::fs::write(dir.join("model.json"), config).unwrap();
    std::fs::write(dir.join("model.safetensors"), weights).unwrap();
    if let Ok(m) = crate::model::Model::load(&dir) {
        let samples: Vec<f32> = (0..4800).map(|i| ((i as f32) * 0.05).sin() * 0.3).collect();
        if let Ok(lp) = m.features(&samples).and_then(|f| m.log_probs(f.view())) {
            assert_eq!(lp.ncols(), m.config.arch.num_labels);
        }
    }
    let small = crate::model::ArchConfig { hidden: 4, layers: 1, ..Default::default() };
    let _ = crate::model::file::parse_weights(Path::new("fuzz"), weights, &small.param_shapes());
}

/// ARPA language models: parse (as UTF-8, like [`crate::ctc::lm::ArpaLm::from_file`]); a model
/// that parses scores a few sentences and must give finite log-probabilities.
pub fn arpa(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(lm) = crate::ctc::lm::ArpaLm::parse(text, Path::new("fuzz.arpa")) else { return };
    let words: Vec<&str> = text.split_whitespace().filter(|w| w.len() < 20).take(12).collect();
    for sentence in [&words[..], &["a", "the", "zzz"]] {
        let mut s = lm.begin();
        for w in sentence {
            let (p, next) = lm.score_word(&s, w);
            assert!(!p.is_nan(), "NaN score for {w:?}");
            s = next;
        }
        assert!(!lm.score_end(&s).is_nan());
    }
}

/// Dataset manifests: the first byte picks the format (DeepSpeech CSV, Common Voice TSV,
/// LJSpeech metadata.csv, LibriSpeech *.trans.txt, or a paired .txt transcript), the rest is the
/// file; a folder with a few real audio files (`a.wav`, `clips/a.wav`, `wavs/a.wav`,
/// `1-2-0001.wav`) is scanned as training would.
pub fn manifest(data: &[u8]) {
    let Some((&kind, body)) = data.split_first() else { return };
    let dir = scratch("manifest");
    let wav = tiny_wav();
    for rel in ["a.wav", "clips/a.wav", "wavs/a.wav", "1-2-0001.wav"] {
        let p = dir.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, &wav).unwrap();
    }
    let (name, scan_folder) = match kind % 5 {
        0 => ("train.csv", false),
        1 => ("train.tsv", false),
        2 => ("metadata.csv", true),
        3 => ("1-2.trans.txt", false),
        _ => ("a.txt", true),
    };
    let file = dir.join(name);
    std::fs::write(&file, body).unwrap();
    let target = if scan_folder { dir.clone() } else { file };
    if let Ok(ds) = crate::train::data::scan_dataset(&target, &Alphabet::default(), 33.3) {
        let _ = ds.report.to_string();
    }
}

/// decoder.json in a model folder, read as every command reads it.
pub fn decoder_config(data: &[u8]) {
    let dir = scratch("decoder");
    std::fs::write(dir.join(crate::runtime::decoder::DECODER_FILE), data).unwrap();
    let _ = crate::runtime::decoder::DecoderConfig::for_model(&dir);
}

/// Hot-word files; a list that loads biases a beam search over fixed log-probabilities.
pub fn hot_words(data: &[u8]) {
    let dir = scratch("hot");
    let path = dir.join("hot.txt");
    std::fs::write(&path, data).unwrap();
    let alphabet = Alphabet::default();
    let Ok(hot) = HotWords::from_file(&path, &alphabet, 5.0) else { return };
    let lm: Arc<dyn LanguageModel> = Arc::new(BiasedLm::new(None, hot, 0.5));
    let v = alphabet.num_labels();
    let lp = Array2::from_shape_fn((30, v), |(t, k)| -(((t * 7 + k * 3) % 11) as f32) - 0.1);
    let opts = BeamOptions { beam_width: 8, ..BeamOptions::default() };
    let _ = crate::ctc::prefix_beam_search(lp.view(), &alphabet, 0.03, &opts, Some(&*lm));
}

/// 0.5 s of a 16-bit 16 kHz mono WAV tone.
fn tiny_wav() -> Vec<u8> {
    let n = 8000u32;
    let mut b = Vec::with_capacity(44 + 2 * n as usize);
    b.extend_from_slice(b"RIFF");
    b.extend_from_slice(&(36 + 2 * n).to_le_bytes());
    b.extend_from_slice(b"WAVEfmt ");
    b.extend_from_slice(&16u32.to_le_bytes());
    b.extend_from_slice(&1u16.to_le_bytes());
    b.extend_from_slice(&1u16.to_le_bytes());
    b.extend_from_slice(&16_000u32.to_le_bytes());
    b.extend_from_slice(&32_000u32.to_le_bytes());
    b.extend_from_slice(&2u16.to_le_bytes());
    b.extend_from_slice(&16u16.to_le_bytes());
    b.extend_from_slice(b"data");
    b.extend_from_slice(&(2 * n).to_le_bytes());
    for i in 0..n {
        let v = ((i as f32 * 0.07).sin() * 8000.0) as i16;
        b.extend_from_slice(&v.to_le_bytes());
    }
    b
}
