//! Dataset layer throughput: scanning a labeled folder (probe + normalize per file) and
//! speed perturbation (rubato FFT resampling) per second of audio.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use hark::ctc::Alphabet;
use hark::train::augment::speed_perturb;
use hark::train::data::scan_dataset;

fn tone(n: usize) -> Vec<f32> {
    (0..n).map(|i| 0.5 * (i as f32 * 0.17).sin()).collect()
}

fn benches(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 16000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let samples = tone(16000);
    for i in 0..500 {
        let p = dir.path().join(format!("spk{}/u{i}.wav", i % 10));
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        let mut w = hound::WavWriter::create(&p, spec).unwrap();
        for &s in &samples {
            w.write_sample((s * 32767.0) as i16).unwrap();
        }
        w.finalize().unwrap();
        std::fs::write(p.with_extension("txt"), "a short transcript").unwrap();
    }
    let alphabet = Alphabet::default();
    c.bench_function("scan_500_paired_files", |b| {
        b.iter(|| black_box(scan_dataset(dir.path(), &alphabet, 50.0).unwrap()))
    });
    let ten_s = tone(160_000);
    for factor in [0.9, 1.1] {
        c.bench_function(&format!("speed_perturb_{factor}_10s"), |b| {
            b.iter(|| black_box(speed_perturb(&ten_s, factor).unwrap()))
        });
    }
}

criterion_group!(data, benches);
criterion_main!(data);
