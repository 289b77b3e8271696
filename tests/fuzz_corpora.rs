//! Replays every fuzz target's seed corpus (`fuzz/corpus/TARGET/`) and every input that once
//! crashed it (`fuzz/regressions/TARGET/`) on stable, in the normal test run: a crash found by
//! the cargo-fuzz campaign (fuzz/README.md) stays fixed. Also a short mutation run per target
//! (byte flips, truncations, insertions over the seeds; fixed seed), so the suite itself fuzzes a
//! little on every machine.

use std::path::{Path, PathBuf};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

fn inputs(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for kind in ["corpus", "regressions"] {
        let dir = fuzz_dir().join(kind).join(target);
        let Ok(rd) = std::fs::read_dir(&dir) else { continue };
        let mut paths: Vec<PathBuf> = rd.flatten().map(|e| e.path()).collect();
        paths.sort();
        for p in paths.into_iter().filter(|p| p.is_file()) {
            let bytes = std::fs::read(&p).unwrap();
            out.push((p, bytes));
        }
    }
    out
}

/// Runs `f` on `data`; the panic message if it panicked.
fn survives(f: hark::fuzzing::Target, data: &[u8]) -> Option<String> {
    std::panic::catch_unwind(|| f(data)).err().map(|e| {
        e.downcast_ref::<String>()
            .cloned()
            .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default()
    })
}

fn mutate(rng: &mut ChaCha8Rng, seed: &[u8]) -> Vec<u8> {
    let mut d = seed.to_vec();
    for _ in 0..rng.random_range(1..=4) {
        match rng.random_range(0..5) {
            0 if !d.is_empty() => {
                let i = rng.random_range(0..d.len());
                d[i] ^= 1 << rng.random_range(0..8);
            }
            1 if !d.is_empty() => {
                let i = rng.random_range(0..d.len());
                d[i] = [0x00, 0xff, 0x7f, 0x80, b'"', b'\n', b'9'][rng.random_range(0..7)];
            }
            2 => d.truncate(rng.random_range(0..=d.len())),
            3 => {
                let i = rng.random_range(0..=d.len());
                let junk: Vec<u8> = (0..rng.random_range(1..16)).map(|_| rng.random()).collect();
                d.splice(i..i, junk);
            }
            _ if d.len() >= 4 => {
                // A 4-byte little-endian size field set to something huge.
                let i = rng.random_range(0..d.len() - 3);
                d[i..i + 4].copy_from_slice(&[0xff, 0xff, 0xff, 0x7f]);
            }
            _ => {}
        }
    }
    d
}

#[test]
fn every_corpus_and_regression_input_survives_and_mutations_of_them_too() {
    let mut failures = Vec::new();
    let mut counts = Vec::new();
    for &(name, f) in hark::fuzzing::TARGETS {
        let inputs = inputs(name);
        assert!(!inputs.is_empty(), "fuzz/corpus/{name}/ has no seeds");
        for (path, bytes) in &inputs {
            if let Some(msg) = survives(f, bytes) {
                failures.push(format!("{name}: {}: {msg}", path.display()));
            }
        }
        let mut rng = ChaCha8Rng::seed_from_u64(name.len() as u64);
        let runs = 150;
        for k in 0..runs {
            let (path, seed) = &inputs[k % inputs.len()];
            let m = mutate(&mut rng, seed);
            if let Some(msg) = survives(f, &m) {
                let keep = std::env::temp_dir().join(format!("hark-fuzz-{name}-{k}"));
                std::fs::write(&keep, &m).unwrap();
                failures.push(format!(
                    "{name}: mutation {k} of {} ({}): {msg}",
                    path.display(),
                    keep.display()
                ));
            }
        }
        counts.push(format!("{name}: {} inputs + {runs} mutations", inputs.len()));
    }
    println!("{}", counts.join("\n"));
    assert!(failures.is_empty(), "fuzz targets panicked:\n{}", failures.join("\n"));
}

/// The seeds are meaningful: the model seed is a model that loads, the ARPA seeds parse, the
/// audio seeds decode, so the fuzzer starts from inputs that reach deep into each parser.
#[test]
fn seeds_are_valid_inputs() {
    let decodable = |p: &Path| {
        let s = p.to_string_lossy();
        s.contains("/corpus/") && !s.contains("unsupported")
    };
    for (path, bytes) in inputs("audio").into_iter().filter(|(p, _)| decodable(p)) {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("x");
        std::fs::write(&f, bytes).unwrap();
        let s = hark::audio::read_mono_16k(&f);
        assert!(s.is_ok_and(|s| s.len() > 400), "{} does not decode", path.display());
    }
    let model = std::fs::read(fuzz_dir().join("corpus/model/tiny-valid")).unwrap();
    let n = u16::from_le_bytes([model[0], model[1]]) as usize;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("model.json"), &model[2..2 + n]).unwrap();
    std::fs::write(dir.path().join("model.safetensors"), &model[2 + n..]).unwrap();
    hark::model::Model::load(dir.path()).expect("the model seed loads");
    for name in ["trigram.arpa", "bigram.arpa"] {
        let t = std::fs::read_to_string(fuzz_dir().join("corpus/arpa").join(name)).unwrap();
        hark::ctc::ArpaLm::parse(&t, Path::new(name)).expect("the ARPA seed parses");
    }
}
