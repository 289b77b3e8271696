//! MFCC + Δ + ΔΔ (39 dims, python_speech_features settings) over 10 minutes of 16 kHz audio, the
//! workload of `shared/peers/mfcc_speed.py`: seeded white noise (std 0.05) plus three
//! amplitude-modulated tones, normalized to [-1, 1]. Reported per 600 s of audio, on a rayon
//! pool of 1 and 2 threads (offline path), plus the streaming extractor and one frame alone.
//!
//! Run: `cargo bench --bench mfcc` (`taskset -c 0` for a strict single-core figure).

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hark::features::{FeatureOptions, MfccComputer, OnlineFeatures, compute};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const SR: usize = 16_000;
const SECONDS: usize = 600;

/// Same recipe as mfcc_speed.py `make_audio` (Box–Muller noise instead of numpy's generator).
fn make_audio(seconds: usize) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(1234);
    let n = seconds * SR;
    let mut x: Vec<f64> = (0..n)
        .map(|i| {
            let t = i as f64 / SR as f64;
            let (u1, u2): (f64, f64) = (rng.random::<f64>().max(1e-300), rng.random());
            let noise = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
            let mut v = 0.05 * noise;
            for (f, am) in [(300.0, 0.5), (1200.0, 1.3), (3100.0, 3.7)] {
                let tau = 2.0 * std::f64::consts::PI;
                v += 0.2 * (0.5 + 0.5 * (tau * am * t).sin()) * (tau * f * t).sin();
            }
            v
        })
        .collect();
    let peak = x.iter().fold(0.0f64, |m, v| m.max(v.abs())) * 1.01;
    x.iter_mut().for_each(|v| *v /= peak);
    x.into_iter().map(|v| v as f32).collect()
}

fn bench(c: &mut Criterion) {
    let x = make_audio(SECONDS);
    let opts = FeatureOptions::default();
    let frames = opts.num_frames(x.len());

    let mut g = c.benchmark_group("mfcc39_600s");
    g.sample_size(10);
    g.throughput(Throughput::Elements(frames as u64));
    for threads in [1, 2] {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        g.bench_function(format!("offline_t{threads}"), |b| {
            b.iter(|| pool.install(|| compute(&opts, black_box(&x)).unwrap()))
        });
    }
    g.bench_function("online_320_sample_chunks_t1", |b| {
        let mut on = OnlineFeatures::new(&opts, None).unwrap();
        let mut row = vec![0.0f32; opts.dim()];
        b.iter(|| {
            let mut sum = 0.0f32;
            for chunk in x.chunks(320) {
                on.accept(black_box(chunk));
                while on.pop_frame(&mut row) {
                    sum += row[0];
                }
            }
            on.finish();
            while on.pop_frame(&mut row) {
                sum += row[0];
            }
            sum
        })
    });
    g.finish();

    let mut comp = MfccComputer::new(&opts).unwrap();
    let mut out = vec![0.0f32; opts.num_ceps];
    c.bench_function("compute_frame_13", |b| {
        b.iter(|| comp.compute_frame(black_box(&x[1600..2000]), black_box(x[1599]), &mut out))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
