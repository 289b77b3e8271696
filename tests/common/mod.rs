//! Helpers shared by the integration tests: a small spoken corpus made with espeak-ng, a
//! seeded random model whose letters follow its input, and a loop over the CPU's kernel levels.
#![allow(dead_code)]

use std::path::Path;
use std::process::Command;

use hark::ctc::Alphabet;
use hark::features::FeatureOptions;
use hark::model::{ArchConfig, Model, ModelConfig};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Seeded random 1-layer BiLSTM (`hidden` units) over the default 39-dim features; the
/// projection is scaled up so the labels change with the input instead of hovering near uniform.
pub fn random_model(hidden: usize, seed: u64) -> Model {
    let arch = ArchConfig { hidden, layers: 1, seed, dropout: 0.0, ..Default::default() };
    let cfg = ModelConfig::new(arch, FeatureOptions::default(), Alphabet::default());
    let mut m = Model::new(cfg).unwrap();
    let mut params = m.net.params_mut();
    let n = params.len();
    params[n - 2].iter_mut().for_each(|w| *w *= 12.0);
    m
}

/// A 20-word vocabulary (digits and commands), as in small-vocabulary recognition tasks.
pub const WORDS: &[&str] = &[
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "yes", "no",
    "up", "down", "left", "right", "go", "stop", "on", "off",
];

/// espeak-ng voices (accent + variant) the corpus draws from.
pub const VOICES: &[&str] = &["en-us", "en-us+m3", "en-us+f2", "en+m1"];

/// Writes `n` utterances `uNNN.wav` + `uNNN.txt` into `dir`: 2–4 random words from [`WORDS`],
/// a random voice from [`VOICES`], random rate (140–200 wpm) and pitch (30–70). Deterministic for a
/// seed. Panics with a clear message if espeak-ng is missing (scripts/setup.sh installs it).
pub fn espeak_corpus(dir: &Path, n: usize, seed: u64) {
    std::fs::create_dir_all(dir).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let jobs: Vec<(String, String, u32, u32, String)> = (0..n)
        .map(|i| {
            let k = rng.random_range(2..=4);
            let text: Vec<&str> = (0..k).map(|_| WORDS[rng.random_range(0..WORDS.len())]).collect();
            let voice = VOICES[rng.random_range(0..VOICES.len())];
            let rate = rng.random_range(140..=200);
            let pitch = rng.random_range(30..=70);
            (format!("u{i:04}"), text.join(" "), rate, pitch, voice.to_string())
        })
        .collect();
    std::thread::scope(|s| {
        for part in jobs.chunks(n.div_ceil(2).max(1)) {
            s.spawn(move || {
                for (name, text, rate, pitch, voice) in part {
                    let wav = dir.join(format!("{name}.wav"));
                    let status = Command::new("espeak-ng")
                        .args([
                            "-v",
                            voice,
                            "-s",
                            &rate.to_string(),
                            "-p",
                            &pitch.to_string(),
                            "-w",
                        ])
                        .arg(&wav)
                        .arg(text)
                        .status()
                        .expect("espeak-ng is not installed: run scripts/setup.sh");
                    assert!(status.success(), "espeak-ng failed on {text:?}");
                    std::fs::write(dir.join(format!("{name}.txt")), format!("{text}\n")).unwrap();
                }
            });
        }
    });
}

/// Runs `f` once per kernel level this CPU can run (`hark::cpu`: portable, AVX2+FMA, AVX-512),
/// each time in a one-thread rayon pool with that level forced, so the level holds for all the
/// work `f` hands to rayon (the two directions of a layer, the blocks of an MFCC). A user's CPU
/// may lack extensions this machine has, so the lower levels must be right too.
pub fn for_every_kernel_level(mut f: impl FnMut(hark::cpu::Simd) + Send) {
    let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
    for level in hark::cpu::Simd::available() {
        pool.install(|| hark::cpu::with_simd(level, || f(level))).unwrap();
    }
}
