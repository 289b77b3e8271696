//! Speed of the acoustic network at the sizes of `shared/peers/lstm_speed.py` (PyTorch baseline):
//! 3-layer bidirectional LSTM, H = 256, D = 39, V = 29, no frame stacking, no dropout.
//! - train step: B = 16, T = 300, the same work as the peer's timed step: zero the gradients,
//!   forward, CTC loss + d loss / d logits (`CtcLoss`, log-softmax included, reduction `Mean`,
//!   targets of 40–60 labels in 1..29), backward, one Adam step (lr 1e-3, no weight decay, like
//!   `torch.optim.Adam` defaults). No gradient clipping (the peer has none).
//! - inference: one 10 s utterance, T = 1000, B = 1, forward + log-softmax.
//!
//! Each at 1 and 2 threads (rayon pools; the two directions of a layer run in parallel, the CTC
//! utterances of a batch too). Warm-up and measurement times come from the command line
//! (`-- --warm-up-time 2 --measurement-time 8`); 10 samples, one step per sample.
//! Results and the PyTorch comparison: benches/RESULTS.md.

use criterion::{Criterion, SamplingMode, criterion_group, criterion_main};
use hark::cpu::{Simd, with_simd};
use hark::ctc::{CtcLoss, Reduction};
use hark::model::acoustic::{AcousticModel, ArchConfig};
use hark::nn::matmul::{Packed, gemm, gemm_acc, gemm_packed, gemm_rows};
use hark::nn::optim::{Adam, AdamConfig};
use ndarray::{Array2, Array3};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::hint::black_box;

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
    let (t, b, v) = (300, 16, 29);
    let x = randn(&mut rng, (t, b, 39), 1.7);
    let lengths = vec![t; b];
    let targets: Vec<Vec<usize>> = (0..b)
        .map(|_| {
            let len = rng.random_range(40..=60);
            (0..len).map(|_| rng.random_range(1..v)).collect()
        })
        .collect();
    let xi = randn(&mut rng, (1000, 1, 39), 1.7);
    let mut grads = model.new_grads();
    let names: Vec<(String, usize)> =
        model.params().iter().map(|(n, _, d)| (n.clone(), d.len())).collect();
    let mut adam = Adam::<f32>::new(AdamConfig::default(), &names).expect("adam");
    let mut ctc = CtcLoss::<f32>::new();

    for threads in [1, 2] {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("pool");
        let mut g = c.benchmark_group(format!("lstm_3x256_{threads}thread"));
        g.sample_size(10);
        g.sampling_mode(SamplingMode::Flat);
        g.bench_function("train_step_ctc_adam_b16_t300", |bch| {
            bch.iter(|| {
                pool.install(|| {
                    grads.zero();
                    let (logits, cache) =
                        model.forward(x.view(), &lengths, true, &mut rng).expect("shapes");
                    let out = ctc
                        .compute(logits.view(), &lengths, &targets, Reduction::Mean)
                        .expect("ctc");
                    model.backward(cache, out.grad.view(), &mut grads);
                    adam.step(&mut model.params_mut(), &grads.as_slices()).expect("adam");
                    black_box(out.loss)
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
        let packed = Packed::new(w_hh.t());
        g.bench_function(format!("gemm_packed_{rows}x256x1024"), |b| {
            b.iter(|| {
                gemm_packed(h.as_slice().expect("c"), &packed, out.as_slice_mut().expect("c"), rows)
            })
        });
        g.bench_function(format!("general_gemm_{rows}x256x1024"), |b| {
            b.iter(|| gemm(1.0, h.view(), w_hh.t(), 1.0, &mut out.view_mut()))
        });
    }
    g.finish();
}

/// The recurrent step of the shipped model's size (W_hhᵀ 384 × 1536, 2.4 MB in f32), for the
/// warp ensemble's 3 rows and the live recognizer's 1, with the weights in f32 and in half
/// precision (`Packed::into_half`, what inference uses), at each kernel level below the host's
/// too: the AVX2 kernels are what most laptops run.
fn bench_recurrent_half(c: &mut Criterion) {
    let mut g = c.benchmark_group("recurrent_product_384");
    g.warm_up_time(std::time::Duration::from_secs(1));
    g.measurement_time(std::time::Duration::from_secs(3));
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let w_hh = Array2::from_shape_simple_fn((1536, 384), || rng.random_range(-0.06f32..0.06));
    for level in Simd::available().into_iter().filter(|&l| l > Simd::Portable) {
        with_simd(level, || {
            let full = Packed::new(w_hh.t());
            let half = full.clone().into_half();
            for rows in [1, 3] {
                let h = Array2::from_shape_simple_fn((rows, 384), || rng.random_range(-1f32..1.0));
                let mut out = Array2::<f32>::zeros((rows, 1536));
                for (name, w) in [("f32", &full), ("f16", &half)] {
                    g.bench_function(format!("{}_{name}_{rows}x384x1536", level.name()), |b| {
                        b.iter(|| {
                            let o = out.as_slice_mut().expect("c");
                            gemm_packed(h.as_slice().expect("c"), w, o, rows)
                        })
                    });
                }
            }
        });
    }
    g.finish();
}

/// The large products of a layer (all T·B = 4800 frames, D = 512, 4H = 1024): input projection
/// x W_ihᵀ and dx = da W_ih, with matrixmultiply and with Hark's packed-panel kernel.
fn bench_large(c: &mut Criterion) {
    let mut g = c.benchmark_group("large_product_f32");
    g.sample_size(10);
    g.warm_up_time(std::time::Duration::from_secs(1));
    g.measurement_time(std::time::Duration::from_secs(3));
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let w_ih = Array2::from_shape_simple_fn((1024, 512), || rng.random_range(-0.06f32..0.06));
    let x = Array2::from_shape_simple_fn((4800, 512), || rng.random_range(-1f32..1.0));
    let da = Array2::from_shape_simple_fn((4800, 1024), || rng.random_range(-1f32..1.0));
    let mut gates = Array2::<f32>::zeros((4800, 1024));
    let mut dx = Array2::<f32>::zeros((4800, 512));
    g.bench_function("proj_matrixmultiply_4800x512x1024", |b| {
        b.iter(|| gemm(1.0, x.view(), w_ih.t(), 1.0, &mut gates.view_mut()))
    });
    g.bench_function("proj_packed_4800x512x1024", |b| {
        b.iter(|| {
            let p = Packed::new(w_ih.t());
            gemm_packed(x.as_slice().expect("c"), &p, gates.as_slice_mut().expect("c"), 4800)
        })
    });
    g.bench_function("dx_matrixmultiply_4800x1024x512", |b| {
        b.iter(|| gemm(1.0, da.view(), w_ih.view(), 1.0, &mut dx.view_mut()))
    });
    g.bench_function("dx_packed_4800x1024x512", |b| {
        b.iter(|| {
            let p = Packed::new(w_ih.view());
            gemm_packed(da.as_slice().expect("c"), &p, dx.as_slice_mut().expect("c"), 4800)
        })
    });
    // Weight gradient dW_ih += daᵀ x (1024 × 4800 × 512): daᵀ is a transposed operand.
    let mut dw = Array2::<f32>::zeros((1024, 512));
    g.bench_function("dw_matrixmultiply_1024x4800x512", |b| {
        b.iter(|| gemm(1.0, da.t(), x.view(), 1.0, &mut dw.view_mut()))
    });
    g.bench_function("dw_gemm_acc_1024x4800x512", |b| {
        b.iter(|| gemm_acc(da.t(), x.view(), &mut dw.view_mut()))
    });
    g.bench_function("proj_gemm_acc_4800x512x1024", |b| {
        b.iter(|| gemm_acc(x.view(), w_ih.t(), &mut gates.view_mut()))
    });
    g.finish();
}

criterion_group!(benches, bench, bench_recurrent, bench_recurrent_half, bench_large);
criterion_main!(benches);
