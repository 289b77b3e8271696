//! AdamW update and gradient clipping on a model-sized parameter list (1.74 M f32 in 6 tensors:
//! the weight matrices and biases of a 2-layer BiLSTM with H = 320, one direction each), compared
//! with torch.optim.AdamW and clip_grad_norm_ by
//! `taskset -c 0 /work/peers-venv/bin/python benches/optim_peer.py`.

use criterion::{Criterion, criterion_group, criterion_main};
use hark::nn::optim::{Adam, AdamConfig, clip_grad_norm};
use std::hint::black_box;

const SIZES: [usize; 6] =
    [320 * 80 * 4, 320 * 320 * 4, 320 * 4, 320 * 640 * 4, 320 * 320 * 4, 320 * 4];

fn setup() -> (Adam<f32>, Vec<Vec<f32>>, Vec<Vec<f32>>) {
    let names: Vec<(String, usize)> =
        SIZES.iter().enumerate().map(|(i, &n)| (format!("t{i}"), n)).collect();
    let adam = Adam::new(AdamConfig { weight_decay: 0.01, ..Default::default() }, &names).unwrap();
    let p: Vec<Vec<f32>> =
        SIZES.iter().map(|&n| (0..n).map(|i| (i as f32 * 0.37).sin()).collect()).collect();
    let g: Vec<Vec<f32>> =
        SIZES.iter().map(|&n| (0..n).map(|i| (i as f32 * 0.11).cos() * 1e-2).collect()).collect();
    (adam, p, g)
}

fn bench(c: &mut Criterion) {
    let (mut adam, mut p, mut g) = setup();
    let total: usize = SIZES.iter().sum();
    let mut group = c.benchmark_group(format!("optim_{total}_params"));
    group.sample_size(30);
    group.bench_function("adamw_step", |b| {
        b.iter(|| {
            let mut pr: Vec<&mut [f32]> = p.iter_mut().map(|x| x.as_mut_slice()).collect();
            let gr: Vec<&[f32]> = g.iter().map(|x| x.as_slice()).collect();
            adam.step(&mut pr, &gr).unwrap();
        })
    });
    group.bench_function("clip_grad_norm", |b| {
        b.iter(|| {
            let mut gr: Vec<&mut [f32]> = g.iter_mut().map(|x| x.as_mut_slice()).collect();
            black_box(clip_grad_norm(&mut gr, 1e9))
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
