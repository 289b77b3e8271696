//! Helpers shared by the integration tests: a small spoken corpus made with espeak-ng.
#![allow(dead_code)]

use std::path::Path;
use std::process::Command;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

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
