//! Speed of the acoustic network at the sizes of `shared/peers/lstm_speed.py` (PyTorch baseline):
//! 3-layer bidirectional LSTM, H = 256, D = 39, V = 29, no frame stacking, no dropout.
//! - train step: B = 16, T = 300: forward, a fixed d loss / d logits, backward into zeroed
//!   gradients, an SGD update (same memory traffic class as the optimizer step; Adam is elsewhere).
//! - inference: one 10 s utterance, T = 1000, B = 1, forward + log-softmax.
//!
//! Each at 1 and 2 threads (rayon pools; the two directions of a layer run in parallel).
//! Results and the PyTorch comparison: benches/RESULTS-lstm.md.

use criterion::{Criterion, criterion_group, criterion_main};
use hark::model::acoustic::{AcousticModel, ArchConfig};
use hark::nn::matmul::{gemm, gemm_rows};
use ndarray::{Array2, Array3};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn config() -> ArchConfig {
    ArchConfig {
        input_dim: 39,
        hidden: 256,
        layers: 3,
        stack_frames: 1,
        subsample: 1,
        num_labels: 29,
        dropout: 0.0,
        forget_bias: 1.0,
        seed: 0,
    }
}

fn randn(rng: &mut ChaCha8Rng, dim: (usize, usize, usize), scale: f32) -> Array3<f32> {
    Array3::from_shape_simple_fn(dim, || rng.random_range(-scale..scale))
}

fn bench(c: &mut Criterion) {
    let mut model = AcousticModel::<f32>::new(config()).expect("valid config");
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let (t, b) = (300, 16);
    let x = randn(&mut rng, (t, b, 39), 1.7);
    let d_logits = randn(&mut rng, (t, b, 29), 0.01);
    let lengths = vec![t; b];
    let xi = randn(&mut rng, (1000, 1, 39), 1.7);
    let mut grads = model.new_grads();

    for threads in [1, 2] {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("pool");
        let mut g = c.benchmark_group(format!("lstm_3x256_{threads}thread"));
        g.sample_size(10);
        g.warm_up_time(std::time::Duration::from_secs(3));
        g.measurement_time(std::time::Duration::from_secs(15));
        g.bench_function("train_step_b16_t300", |bch| {
            bch.iter(|| {
                pool.install(|| {
                    grads.zero();
                    let (_, cache) =
                        model.forward(x.view(), &lengths, true, &mut rng).expect("shapes");
                    model.backward(cache, d_logits.view(), &mut grads);
                    for (p, gr) in model.params.tensors_mut().into_iter().zip(grads.as_slices()) {
                        p.iter_mut().zip(gr).for_each(|(w, &d)| *w -= 1e-6 * d);
                    }
                })
            })
        });
        g.bench_function("infer_t1000_b1", |bch| {
            bch.iter(|| {
                pool.install(|| {
                    let (logits, _) =
                        model.forward(xi.view(), &[1000], false, &mut rng).expect("shapes");
                    AcousticModel::log_probs(logits.view())
                })
            })
        });
        g.finish();
    }
}

/// The per-step recurrent product: Hark's row kernel vs the general GEMM (which packs W_hh).
fn bench_recurrent(c: &mut Criterion) {
    let mut g = c.benchmark_group("recurrent_product_f32");
    g.warm_up_time(std::time::Duration::from_secs(1));
    g.measurement_time(std::time::Duration::from_secs(3));
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let w_hh = Array2::from_shape_simple_fn((1024, 256), || rng.random_range(-0.06f32..0.06));
    let w_hh_t = w_hh.t().as_standard_layout().into_owned();
    for rows in [1, 16] {
        let h = Array2::from_shape_simple_fn((rows, 256), || rng.random_range(-1f32..1.0));
        let mut out = Array2::<f32>::zeros((rows, 1024));
        g.bench_function(format!("gemm_rows_{rows}x256x1024"), |b| {
            b.iter(|| {
                let o = out.as_slice_mut().expect("contiguous");
                gemm_rows(
                    h.as_slice().expect("contiguous"),
                    w_hh_t.as_slice().expect("c"),
                    o,
                    rows,
                    256,
                    1024,
                )
            })
        });
        g.bench_function(format!("general_gemm_{rows}x256x1024"), |b| {
            b.iter(|| gemm(1.0, h.view(), w_hh.t(), 1.0, &mut out.view_mut()))
        });
    }
    g.finish();
}

criterion_group!(benches, bench, bench_recurrent);
criterion_main!(benches);
