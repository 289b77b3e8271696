//! CTC: agreement with PyTorch (fixture), finite-difference gradient checks, decoders, LM.

use hark::ctc::{Reduction, ctc_loss};
use ndarray::{Array3, Axis};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::Value;

/// Asserts `|a − b| <= tol` element-wise and names the worst element on failure.
fn check_close(name: &str, got: &[f64], want: &[f64], tol: f64) -> f64 {
    assert_eq!(got.len(), want.len(), "{name}: length");
    let (mut worst, mut at) = (0.0f64, 0usize);
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let d = (g - w).abs();
        if d > worst || d.is_nan() {
            worst = d;
            at = i;
        }
    }
    assert!(
        worst <= tol,
        "{name}: worst |diff| {worst:e} at flat index {at}: got {} want {}",
        got[at],
        want[at]
    );
    worst
}

fn flat3(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .flat_map(|a| a.as_array().unwrap().iter())
        .flat_map(|a| a.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()))
        .collect()
}

struct Fixture {
    logits: Array3<f64>,
    input_lengths: Vec<usize>,
    targets: Vec<Vec<usize>>,
    json: Value,
}

fn fixture() -> Fixture {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/ctc/ctc_case.json");
    let json: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let (t, n, c) = (
        json["T"].as_u64().unwrap() as usize,
        json["N"].as_u64().unwrap() as usize,
        json["C"].as_u64().unwrap() as usize,
    );
    let logits = Array3::from_shape_vec((t, n, c), flat3(&json["logits"])).unwrap();
    let input_lengths = json["input_lengths"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as usize)
        .collect();
    let targets = json["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_array().unwrap().iter().map(|x| x.as_u64().unwrap() as usize).collect())
        .collect();
    Fixture { logits, input_lengths, targets, json }
}

#[test]
fn agrees_with_pytorch_in_f64() {
    let f = fixture();
    let floats = |k: &str| -> Vec<f64> {
        f.json[k].as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect()
    };
    for (red, key) in [(Reduction::Sum, "sum"), (Reduction::Mean, "mean")] {
        let out = ctc_loss(f.logits.view(), &f.input_lengths, &f.targets, red).unwrap();
        assert!(out.impossible.is_empty());
        check_close("loss_per_sample", &out.losses, &floats("loss_per_sample"), 1e-9);
        let want = f.json[format!("loss_{key}")].as_f64().unwrap();
        check_close(&format!("loss_{key}"), &[out.loss], &[want], 1e-9);
        let grad: Vec<f64> = out.grad.iter().copied().collect();
        let worst = check_close(
            &format!("grad_logits_{key}"),
            &grad,
            &flat3(&f.json[format!("grad_logits_{key}")]),
            1e-9,
        );
        eprintln!("f64 grad_logits_{key}: max |diff| vs torch = {worst:e}");
        // torch's "log_probs gradient" is the same logits gradient (see the fixture notes).
        check_close(
            &format!("grad_log_probs_torch_{key}"),
            &grad,
            &flat3(&f.json[format!("grad_log_probs_torch_{key}")]),
            1e-9,
        );
    }
}

#[test]
fn agrees_with_pytorch_in_f32() {
    let f = fixture();
    let logits = f.logits.mapv(|x| x as f32);
    for (red, key) in [(Reduction::Sum, "sum"), (Reduction::Mean, "mean")] {
        let out = ctc_loss(logits.view(), &f.input_lengths, &f.targets, red).unwrap();
        let losses: Vec<f64> = out.losses.iter().map(|&x| x as f64).collect();
        let want: Vec<f64> = f.json["loss_per_sample"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect();
        // per-sample NLL ≈ 80: relative 1e-6 in f32
        check_close("f32 loss_per_sample", &losses, &want, 1e-4);
        check_close(
            &format!("f32 loss_{key}"),
            &[out.loss as f64],
            &[f.json[format!("loss_{key}")].as_f64().unwrap()],
            1e-4,
        );
        let grad: Vec<f64> = out.grad.iter().map(|&x| x as f64).collect();
        let worst = check_close(
            &format!("f32 grad_logits_{key}"),
            &grad,
            &flat3(&f.json[format!("grad_logits_{key}")]),
            1e-4,
        );
        eprintln!("f32 grad_logits_{key}: max |diff| vs torch = {worst:e}");
    }
}

#[test]
fn frames_beyond_the_input_length_get_zero_gradient() {
    let f = fixture();
    let out = ctc_loss(f.logits.view(), &f.input_lengths, &f.targets, Reduction::Sum).unwrap();
    let g1 = out.grad.index_axis(Axis(1), 1);
    assert!(g1.slice(ndarray::s![41.., ..]).iter().all(|&g| g == 0.0));
    assert!(g1.slice(ndarray::s![..41, ..]).iter().any(|&g| g != 0.0));
    // Each frame's logits gradient sums to zero (softmax rows sum to 1, occupancies sum to 1).
    for row in out.grad.index_axis(Axis(1), 0).rows() {
        assert!(row.sum().abs() < 1e-12);
    }
}

/// Central finite differences of the reduced loss w.r.t. every logit, in f64.
fn finite_difference_check(
    logits: &Array3<f64>,
    lens: &[usize],
    targets: &[Vec<usize>],
    red: Reduction,
) {
    let out = ctc_loss(logits.view(), lens, targets, red).unwrap();
    let eps = 1e-6;
    let mut worst = 0.0f64;
    for idx in ndarray::indices(logits.dim()) {
        let mut plus = logits.clone();
        plus[idx] += eps;
        let mut minus = logits.clone();
        minus[idx] -= eps;
        let lp = ctc_loss(plus.view(), lens, targets, red).unwrap().loss;
        let lm = ctc_loss(minus.view(), lens, targets, red).unwrap().loss;
        let fd = (lp - lm) / (2.0 * eps);
        let an = out.grad[idx];
        let err = (fd - an).abs() / (1.0f64).max(fd.abs());
        worst = worst.max(err);
        assert!(
            err < 1e-6,
            "{idx:?}: analytic {an} vs finite difference {fd} ({targets:?}, {lens:?})"
        );
    }
    assert!(worst < 1e-6);
}

#[test]
fn gradient_matches_finite_differences() {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let v = 4;
    let cases: Vec<(usize, Vec<usize>, Vec<Vec<usize>>)> = vec![
        (1, vec![1], vec![vec![2]]),
        (3, vec![3], vec![vec![]]),
        (5, vec![5], vec![vec![1, 1]]),
        (6, vec![6], vec![vec![1, 2, 2, 3]]),
        (8, vec![8, 5], vec![vec![3, 1, 3, 3], vec![2, 2]]),
        (7, vec![4, 7], vec![vec![1, 2, 3], vec![3, 3, 3]]),
    ];
    for (t, lens, targets) in cases {
        let b = lens.len();
        let logits = Array3::from_shape_fn((t, b, v), |_| rng.random_range(-2.0..2.0));
        finite_difference_check(&logits, &lens, &targets, Reduction::Sum);
        finite_difference_check(&logits, &lens, &targets, Reduction::Mean);
    }
}

#[test]
fn padded_batch_equals_single_utterances() {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let (t, v) = (30, 7);
    let logits = Array3::from_shape_fn((t, 3, v), |_| rng.random_range(-3.0f64..3.0));
    let lens = [30, 17, 22];
    let targets = vec![vec![1, 2, 2, 6, 5], vec![4, 4, 4], vec![6, 1, 3, 2]];
    let batch = ctc_loss(logits.view(), &lens, &targets, Reduction::Sum).unwrap();
    for b in 0..3 {
        let one = logits.slice(ndarray::s![..lens[b], b..b + 1, ..]).to_owned();
        let single = ctc_loss(one.view(), &[lens[b]], &targets[b..b + 1], Reduction::Sum).unwrap();
        assert!((single.losses[0] - batch.losses[b]).abs() < 1e-12);
        let gb = batch.grad.slice(ndarray::s![..lens[b], b, ..]);
        let gs = single.grad.index_axis(Axis(1), 0);
        assert!(gb.iter().zip(gs.iter()).all(|(a, b)| (a - b).abs() < 1e-12));
    }
}
