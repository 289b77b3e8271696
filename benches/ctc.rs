//! CTC loss + logits gradient at the peer's size (T = 300, B = 16, V = 29, targets of 40–60 labels,
//! as /work/shared/peers/ctc_speed.py), on rayon pools of 1 and 2 threads; and prefix beam search
//! on a 10 s utterance (T = 333 frames after subsampling, V = 29, beam 16).
//!
//! Run: `cargo bench --bench ctc`. Peer: `/work/peers-venv/bin/python /work/shared/peers/ctc_speed.py
//! --threads 1,2 --no-fixture`. Results: benches/RESULTS-ctc.md.

use criterion::{Criterion, criterion_group, criterion_main};
use hark::ctc::{Alphabet, BeamOptions, CtcLoss, Reduction, greedy, prefix_beam_search};
use ndarray::{Array2, Array3};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::hint::black_box;

/// Nanoseconds the calling thread has spent on a CPU (Linux `/proc/thread-self/schedstat`).
fn thread_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .unwrap_or(0)
}

fn loss_bench(c: &mut Criterion) {
    let (t, b, v) = (300, 16, 29);
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    // standard normal logits (Box–Muller), like the peer's torch.randn
    let logits = Array3::<f32>::from_shape_fn((t, b, v), |_| {
        let u1: f32 = rng.random_range(f32::EPSILON..1.0);
        let u2: f32 = rng.random_range(0.0..1.0);
        (-2.0 * u1.ln()).sqrt() * (std::f32::consts::TAU * u2).cos()
    });
    let targets: Vec<Vec<usize>> = (0..b)
        .map(|_| {
            let len = rng.random_range(40..=60);
            (0..len).map(|_| rng.random_range(1..v)).collect()
        })
        .collect();
    let lens = vec![t; b];
    let mut group = c.benchmark_group("ctc_loss_fwd_bwd_T300_B16_V29");
    for threads in [1, 2] {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        let mut ctc = CtcLoss::<f32>::new();
        group.bench_function(format!("threads_{threads}"), |bch| {
            bch.iter(|| {
                pool.install(|| {
                    black_box(ctc.compute(logits.view(), &lens, &targets, Reduction::Mean).unwrap())
                })
            })
        });
    }
    group.finish();

    // The machine is shared: wall time includes waiting for a core. CPU time of the pool's threads
    // (Linux /proc/thread-self/schedstat, ns on a CPU) is the contention-free measure; with 2
    // threads it is the total over both (parallel efficiency), not the latency.
    let mut group = c.benchmark_group("ctc_loss_fwd_bwd_T300_B16_V29_cpu_time");
    for threads in [1, 2] {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        let cpu_ns =
            |pool: &rayon::ThreadPool| -> u64 { pool.broadcast(|_| thread_cpu_ns()).iter().sum() };
        let mut ctc = CtcLoss::<f32>::new();
        group.bench_function(format!("threads_{threads}"), |bch| {
            bch.iter_custom(|iters| {
                let start = cpu_ns(&pool);
                for _ in 0..iters {
                    pool.install(|| {
                        black_box(
                            ctc.compute(logits.view(), &lens, &targets, Reduction::Mean).unwrap(),
                        )
                    });
                }
                std::time::Duration::from_nanos(cpu_ns(&pool) - start)
            })
        });
    }
    group.finish();
}

fn decode_bench(c: &mut Criterion) {
    // 10 s of audio at 30 ms per output frame: T = 333. Peaked posteriors as a trained model gives
    // (about half the frames blank-dominated), with the rest of the mass spread over the labels.
    let alphabet = Alphabet::default();
    let (t, v) = (333, alphabet.num_labels());
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let mut lp = Array2::<f32>::zeros((t, v));
    for mut row in lp.rows_mut() {
        let top = if rng.random_range(0.0..1.0) < 0.5 { 0 } else { rng.random_range(1..v) };
        for (k, x) in row.iter_mut().enumerate() {
            *x = if k == top { 4.0 } else { rng.random_range(-2.0f32..2.0) };
        }
        let lse = row.iter().map(|x| x.exp()).sum::<f32>().ln();
        row.mapv_inplace(|x| x - lse);
    }
    let opts = BeamOptions { lm_weight: 0.0, word_bonus: 0.0, ..BeamOptions::default() };
    c.bench_function("prefix_beam_search_T333_V29_beam16", |bch| {
        bch.iter(|| black_box(prefix_beam_search(lp.view(), &alphabet, 0.03, &opts, None)))
    });
    c.bench_function("prefix_beam_search_T333_V29_beam16_cpu_time", |bch| {
        bch.iter_custom(|iters| {
            let start = thread_cpu_ns();
            for _ in 0..iters {
                black_box(prefix_beam_search(lp.view(), &alphabet, 0.03, &opts, None));
            }
            std::time::Duration::from_nanos(thread_cpu_ns() - start)
        })
    });
    c.bench_function("greedy_T333_V29", |bch| {
        bch.iter(|| black_box(greedy(lp.view(), &alphabet, 0.03)))
    });
}

criterion_group!(benches, loss_bench, decode_bench);
criterion_main!(benches);
