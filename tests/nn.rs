//! Acoustic network: finite-difference gradient checks in f64 on tiny sizes (every parameter
//! element and the input), and equivalences (padded batch = each utterance alone, f32 ≈ f64,
//! named-tensor round trip).

mod common;

use std::path::Path;

use hark::model::acoustic::{AcousticModel, AcousticParams, ArchConfig};
use hark::nn::bilstm::BiLstm;
use hark::nn::linear::{Linear, log_softmax, log_softmax_backward};
use hark::nn::lstm::Lstm;
use ndarray::{Array2, Array3, ArrayView3, Axis, s};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Central-difference step: truncation error ~ EPS²·f‴/6 and rounding error ~ 1e-16/EPS are
/// both about 1e-11 for losses of order one.
const EPS: f64 = 1e-5;

fn rand3(rng: &mut ChaCha8Rng, dim: (usize, usize, usize)) -> Array3<f64> {
    Array3::from_shape_simple_fn(dim, || rng.random_range(-1.0..1.0))
}

/// Padded input: frames at t ≥ len are filled with junk, which must not matter.
fn padded_input(rng: &mut ChaCha8Rng, t: usize, d: usize, lengths: &[usize]) -> Array3<f64> {
    let mut x = rand3(rng, (t, lengths.len(), d));
    for (b, &l) in lengths.iter().enumerate() {
        x.slice_mut(s![l.., b, ..]).fill(7.0);
    }
    x
}

/// Worst relative error |a − n| / max(|a|, |n|, 1e-3) (the floor keeps near-zero gradients,
/// where finite differences only have absolute accuracy, from dominating). Panics naming the
/// worst element.
fn compare(what: &str, analytic: &[f64], numeric: &[f64], tol: f64) -> f64 {
    assert_eq!(analytic.len(), numeric.len(), "{what}: length");
    let mut worst = (0.0, 0usize);
    for (i, (&a, &n)) in analytic.iter().zip(numeric).enumerate() {
        let err = (a - n).abs() / a.abs().max(n.abs()).max(1e-3);
        if err > worst.0 {
            worst = (err, i);
        }
    }
    let i = worst.1;
    assert!(
        worst.0 < tol,
        "{what}: worst relative error {:.3e} at element {i}: analytic {} vs numeric {}",
        worst.0,
        analytic[i],
        numeric[i]
    );
    worst.0
}

/// Central differences of `loss` over every element reachable through `slices`.
fn numeric_grads<M: Clone>(
    model: &M,
    slices: impl Fn(&mut M) -> Vec<&mut [f64]>,
    loss: impl Fn(&M) -> f64,
) -> Vec<Vec<f64>> {
    let mut probe = model.clone();
    let sizes: Vec<usize> = slices(&mut probe).iter().map(|s| s.len()).collect();
    let mut out = Vec::new();
    for (k, &n) in sizes.iter().enumerate() {
        let mut g = vec![0.0; n];
        for (i, gi) in g.iter_mut().enumerate() {
            let orig = slices(&mut probe)[k][i];
            slices(&mut probe)[k][i] = orig + EPS;
            let lp = loss(&probe);
            slices(&mut probe)[k][i] = orig - EPS;
            let lm = loss(&probe);
            slices(&mut probe)[k][i] = orig;
            *gi = (lp - lm) / (2.0 * EPS);
        }
        out.push(g);
    }
    out
}

fn numeric_input_grad(x: &Array3<f64>, loss: impl Fn(ArrayView3<f64>) -> f64) -> Vec<f64> {
    let mut xp = x.clone();
    let mut g = vec![0.0; x.len()];
    for (i, gi) in g.iter_mut().enumerate() {
        let orig = xp.as_slice().unwrap()[i];
        xp.as_slice_mut().unwrap()[i] = orig + EPS;
        let lp = loss(xp.view());
        xp.as_slice_mut().unwrap()[i] = orig - EPS;
        let lm = loss(xp.view());
        xp.as_slice_mut().unwrap()[i] = orig;
        *gi = (lp - lm) / (2.0 * EPS);
    }
    g
}

fn dot(a: ArrayView3<f64>, w: &Array3<f64>) -> f64 {
    (&a * w).sum()
}

fn lstm_slices(l: &mut Lstm<f64>) -> Vec<&mut [f64]> {
    l.tensors_mut().into_iter().collect()
}

fn bilstm_slices(m: &mut BiLstm<f64>) -> Vec<&mut [f64]> {
    let mut v: Vec<&mut [f64]> = m.fwd.tensors_mut().into_iter().collect();
    v.extend(m.bwd.tensors_mut());
    v
}

#[test]
fn lstm_gradients_match_finite_differences() {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let (t, d, h) = (6, 3, 4);
    let lengths = [6, 4];
    let lstm = Lstm::<f64>::init(d, h, 1.0, &mut rng);
    let x = padded_input(&mut rng, t, d, &lengths);
    let w = rand3(&mut rng, (t, 2, h));
    let mut grads = Lstm::zeros(d, h);
    let (_, cache) = lstm.forward(x.view(), &lengths);
    let dx = lstm.backward(cache, w.view(), &mut grads);
    let num =
        numeric_grads(&lstm, lstm_slices, |m| dot(m.forward(x.view(), &lengths).0.view(), &w));
    let mut worst = 0f64;
    for ((name, _, a), n) in grads.tensors().into_iter().zip(&num) {
        worst = worst.max(compare(name, a, n, 1e-6));
    }
    let ndx = numeric_input_grad(&x, |xv| dot(lstm.forward(xv, &lengths).0.view(), &w));
    worst = worst.max(compare("dx", dx.as_slice().unwrap(), &ndx, 1e-6));
    eprintln!("lstm: worst relative error {worst:.2e}");
}

#[test]
fn bilstm_gradients_match_finite_differences() {
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let (t, d, h) = (5, 3, 4);
    let lengths = [3, 5];
    let layer = BiLstm::<f64>::init(d, h, 0.5, &mut rng);
    let x = padded_input(&mut rng, t, d, &lengths);
    let w = rand3(&mut rng, (t, 2, 2 * h));
    let mut grads = BiLstm::zeros(d, h);
    let (_, cache) = layer.forward(x.view(), &lengths);
    let dx = layer.backward(cache, w.view(), &mut grads);
    let num =
        numeric_grads(&layer, bilstm_slices, |m| dot(m.forward(x.view(), &lengths).0.view(), &w));
    let analytic: Vec<_> = grads.fwd.tensors().into_iter().chain(grads.bwd.tensors()).collect();
    let mut worst = 0f64;
    for ((name, _, a), n) in analytic.into_iter().zip(&num) {
        worst = worst.max(compare(name, a, n, 1e-6));
    }
    let ndx = numeric_input_grad(&x, |xv| dot(layer.forward(xv, &lengths).0.view(), &w));
    worst = worst.max(compare("dx", dx.as_slice().unwrap(), &ndx, 1e-6));
    eprintln!("bilstm: worst relative error {worst:.2e}");
}

#[test]
fn linear_and_log_softmax_gradients_match_finite_differences() {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let (n, i, v) = (7, 5, 4);
    let lin = Linear::<f64>::init(i, v, &mut rng);
    let x3 = rand3(&mut rng, (n, 1, i));
    let w = Array2::from_shape_simple_fn((n, v), || rng.random_range(-1.0..1.0));
    let loss = |m: &Linear<f64>, x: ArrayView3<f64>| {
        let x2 = x.index_axis(Axis(1), 0);
        (&log_softmax(m.forward(x2).0.view()) * &w).sum()
    };
    let mut grads = Linear::zeros(i, v);
    let (y, cache) = lin.forward(x3.index_axis(Axis(1), 0));
    let lp = log_softmax(y.view());
    let dy = log_softmax_backward(lp.view(), w.view());
    let dx = lin.backward(cache, dy.view(), &mut grads);
    let num =
        numeric_grads(&lin, |m| m.tensors_mut().into_iter().collect(), |m| loss(m, x3.view()));
    let mut worst = 0f64;
    for ((name, _, a), nm) in grads.tensors().into_iter().zip(&num) {
        worst = worst.max(compare(name, a, nm, 1e-6));
    }
    let ndx = numeric_input_grad(&x3, |xv| loss(&lin, xv));
    worst = worst.max(compare("dx", dx.as_slice().unwrap(), &ndx, 1e-6));
    eprintln!("linear+log_softmax: worst relative error {worst:.2e}");
}

fn tiny_config(layers: usize, stack: usize, sub: usize, dropout: f64) -> ArchConfig {
    ArchConfig {
        input_dim: 3,
        hidden: 4,
        layers,
        stack_frames: stack,
        subsample: sub,
        num_labels: 5,
        dropout,
        forget_bias: 1.0,
        seed: 11,
    }
}

/// Loss = Σ logits ⊙ W over valid frames (the model ignores padded frames' logits).
fn check_model(cfg: ArchConfig, t: usize, lengths: &[usize], train: bool) -> f64 {
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let model = AcousticModel::<f64>::new(cfg).unwrap();
    let x = padded_input(&mut rng, t, 3, lengths);
    let t_out = t.div_ceil(model.config.subsample);
    let mut w = rand3(&mut rng, (t_out, lengths.len(), 5));
    for (b, &l) in model.out_lengths(lengths).iter().enumerate() {
        w.slice_mut(s![l.., b, ..]).fill(0.0);
    }
    // The same dropout masks on every evaluation: a fresh RNG with a fixed seed each time.
    let loss = |m: &AcousticModel<f64>, x: ArrayView3<f64>| {
        let (logits, _) = m.forward(x, lengths, train, &mut ChaCha8Rng::seed_from_u64(9)).unwrap();
        dot(logits.view(), &w)
    };
    let mut grads = model.new_grads();
    let (_, cache) =
        model.forward(x.view(), lengths, train, &mut ChaCha8Rng::seed_from_u64(9)).unwrap();
    let dx = model.backward(cache, w.view(), &mut grads);
    let num = numeric_grads(&model, |m| m.params_mut(), |m| loss(m, x.view()));
    let mut worst = 0f64;
    for ((name, _, a), n) in grads.tensors().into_iter().zip(&num) {
        worst = worst.max(compare(&name, a, n, 1e-6));
    }
    let ndx = numeric_input_grad(&x, |xv| loss(&model, xv));
    worst = worst.max(compare("dx", dx.as_slice().unwrap(), &ndx, 1e-6));
    worst
}

#[test]
fn two_layer_stack_with_frame_stacking_matches_finite_differences() {
    // k = 3 > s = 2: overlapping blocks, so an input frame feeds two network frames.
    let worst = check_model(tiny_config(2, 3, 2, 0.0), 6, &[6, 3], false);
    eprintln!("2-layer stack, stacking 3 / subsample 2: worst relative error {worst:.2e}");
    let worst = check_model(tiny_config(2, 3, 3, 0.0), 7, &[5, 7], false);
    eprintln!("2-layer stack, stacking 3 / subsample 3: worst relative error {worst:.2e}");
}

#[test]
fn whole_model_with_dropout_matches_finite_differences() {
    let worst = check_model(tiny_config(3, 1, 1, 0.3), 5, &[4, 5], true);
    eprintln!("3-layer model with dropout 0.3 (train): worst relative error {worst:.2e}");
}

/// Runs each utterance alone (batch of one, T = its own length) and the padded batch; outputs on
/// valid frames and summed gradients must agree to rounding.
fn padded_vs_alone(cfg: ArchConfig, lengths: &[usize]) {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let model = AcousticModel::<f64>::new(cfg).unwrap();
    let t = *lengths.iter().max().unwrap();
    let x = padded_input(&mut rng, t, 3, lengths);
    let out_len = model.out_lengths(lengths);
    let t_out = *out_len.iter().max().unwrap();
    let w = rand3(&mut rng, (t_out, lengths.len(), 5));
    let mut r = ChaCha8Rng::seed_from_u64(0);
    let (logits, cache) = model.forward(x.view(), lengths, false, &mut r).unwrap();
    let mut grads = model.new_grads();
    let dx = model.backward(cache, w.view(), &mut grads);
    let mut grads_alone = model.new_grads();
    for (b, &l) in lengths.iter().enumerate() {
        let xb = x.slice(s![..l, b..b + 1, ..]);
        let (lb, cb) = model.forward(xb, &[l], false, &mut r).unwrap();
        let ol = out_len[b];
        assert_eq!(lb.dim().0, ol);
        let diff = (&lb.slice(s![.., 0, ..]) - &logits.slice(s![..ol, b, ..])).mapv(f64::abs);
        let worst = diff.fold(0.0f64, |a, &e| a.max(e));
        assert!(worst < 1e-12, "utterance {b}: logits differ by {worst:e}");
        let dxb = model.backward(cb, w.slice(s![..ol, b..b + 1, ..]), &mut grads_alone);
        let ddx = (&dxb.slice(s![.., 0, ..]) - &dx.slice(s![..l, b, ..])).mapv(f64::abs);
        assert!(ddx.iter().all(|&e| e < 1e-12), "utterance {b}: input gradients differ");
        assert!(
            dx.slice(s![l.., b, ..]).iter().all(|&e| e == 0.0),
            "utterance {b}: gradient on padding"
        );
    }
    for ((name, _, a), (_, _, s)) in grads.tensors().into_iter().zip(grads_alone.tensors()) {
        for (p, q) in a.iter().zip(s) {
            assert!((p - q).abs() < 1e-12 * (1.0 + p.abs()), "{name}: batch {p} vs singles {q}");
        }
    }
}

#[test]
fn padded_batch_equals_each_utterance_alone() {
    padded_vs_alone(tiny_config(2, 1, 1, 0.0), &[6, 2, 4, 1]);
    padded_vs_alone(tiny_config(2, 3, 2, 0.0), &[7, 3, 5]);
}

/// The f32 model against the f64 one with every kernel level this CPU can run (crate::cpu): a
/// user's CPU may lack the extensions this machine has, so the AVX2 and portable kernels must
/// be right too.
#[test]
fn f32_model_matches_f64_model_with_every_kernel() {
    common::for_every_kernel_level(|_| f32_model_matches_f64_model());
}

fn f32_model_matches_f64_model() {
    let cfg = ArchConfig {
        input_dim: 39,
        hidden: 32,
        layers: 2,
        num_labels: 29,
        ..ArchConfig::default()
    };
    let m32 = AcousticModel::<f32>::new(cfg).unwrap();
    let m64: AcousticModel<f64> = m32.cast();
    let mut rng = ChaCha8Rng::seed_from_u64(6);
    let lengths = [40, 25, 33];
    let x64 = padded_input(&mut rng, 40, 39, &lengths);
    let x32 = x64.mapv(|v| v as f32);
    let w64 = rand3(&mut rng, (40, 3, 29));
    let w32 = w64.mapv(|v| v as f32);
    let mut r = ChaCha8Rng::seed_from_u64(0);
    let (l64, c64) = m64.forward(x64.view(), &lengths, false, &mut r).unwrap();
    let (l32, c32) = m32.forward(x32.view(), &lengths, false, &mut r).unwrap();
    let worst = l64.iter().zip(&l32).map(|(a, &b)| (a - b as f64).abs()).fold(0.0, f64::max);
    assert!(worst < 1e-5, "logits differ by {worst:e} ({:?} kernels)", hark::cpu::Simd::active());
    let mut g64 = m64.new_grads();
    let mut g32 = m32.new_grads();
    m64.backward(c64, w64.view(), &mut g64);
    m32.backward(c32, w32.view(), &mut g32);
    for ((name, _, a), (_, _, b)) in g64.tensors().into_iter().zip(g32.tensors()) {
        let scale = a.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let err = a.iter().zip(b).map(|(p, &q)| (p - q as f64).abs()).fold(0.0, f64::max);
        assert!(
            err <= 1e-4 * scale.max(1.0),
            "{name}: f32 gradient off by {err:e} (scale {scale:e}, {:?} kernels)",
            hark::cpu::Simd::active()
        );
    }
}

#[test]
fn parameter_names_follow_pytorch_and_round_trip() {
    let cfg = tiny_config(2, 2, 2, 0.0);
    let model = AcousticModel::<f32>::new(cfg.clone()).unwrap();
    let names: Vec<String> = model.params().into_iter().map(|(n, _, _)| n).collect();
    let expected = [
        "lstm.weight_ih_l0",
        "lstm.weight_hh_l0",
        "lstm.bias_ih_l0",
        "lstm.bias_hh_l0",
        "lstm.weight_ih_l0_reverse",
        "lstm.weight_hh_l0_reverse",
        "lstm.bias_ih_l0_reverse",
        "lstm.bias_hh_l0_reverse",
        "lstm.weight_ih_l1",
        "lstm.weight_hh_l1",
        "lstm.bias_ih_l1",
        "lstm.bias_hh_l1",
        "lstm.weight_ih_l1_reverse",
        "lstm.weight_hh_l1_reverse",
        "lstm.bias_ih_l1_reverse",
        "lstm.bias_hh_l1_reverse",
        "proj.weight",
        "proj.bias",
    ];
    assert_eq!(names, expected);
    let shapes: Vec<Vec<usize>> = model.params().into_iter().map(|(_, s, _)| s.to_vec()).collect();
    assert_eq!(shapes[0], [16, 6]); // (4H, k·D)
    assert_eq!(shapes[8], [16, 8]); // (4H, 2H)
    assert_eq!(shapes[16], [5, 8]); // (V, 2H)
    // Forget-gate bias from the config, PyTorch-style uniform(−1/√H, 1/√H) elsewhere.
    let b_ih = model.params()[2].2;
    assert!(b_ih[4..8].iter().all(|&v| v == 1.0));
    assert!(b_ih[..4].iter().all(|&v| v.abs() <= 0.5));
    // Round trip (reversed order on purpose: lookup is by name).
    let mut named: Vec<_> =
        model.params().into_iter().map(|(n, s, v)| (n, s.to_vec(), v.to_vec())).collect();
    named.reverse();
    let src = Path::new("m.safetensors");
    let back = AcousticModel::from_named(cfg.clone(), named.clone(), src).unwrap();
    assert_eq!(back, model);
    // Wrong shape, missing and unknown tensors are named in the error.
    let mut bad = named.clone();
    bad[0].1 = vec![1, 5];
    let e = AcousticModel::from_named(cfg.clone(), bad, src).unwrap_err().to_string();
    assert!(e.contains("proj.bias") && e.contains("m.safetensors"), "{e}");
    let mut missing = named.clone();
    missing.retain(|(n, _, _)| n != "lstm.weight_hh_l1");
    let e = AcousticModel::from_named(cfg.clone(), missing, src).unwrap_err().to_string();
    assert!(e.contains("lstm.weight_hh_l1") && e.contains("missing"), "{e}");
    let mut extra = named;
    extra.push(("lstm.weight_ih_l2".into(), vec![16, 8], vec![0.0; 128]));
    let e = AcousticModel::from_named(cfg, extra, src).unwrap_err().to_string();
    assert!(e.contains("lstm.weight_ih_l2"), "{e}");
}

#[test]
fn params_grads_and_slices_walk_one_order() {
    let mut model = AcousticModel::<f32>::new(tiny_config(3, 1, 1, 0.1)).unwrap();
    let lens: Vec<usize> = model.params().iter().map(|(_, _, v)| v.len()).collect();
    let mut_lens: Vec<usize> = model.params_mut().iter().map(|v| v.len()).collect();
    let mut grads: AcousticParams<f32> = model.new_grads();
    let g_lens: Vec<usize> = grads.as_slices().iter().map(|v| v.len()).collect();
    assert_eq!(lens, mut_lens);
    assert_eq!(lens, g_lens);
    assert_eq!(lens.len(), 3 * 2 * 4 + 2);
    grads.tensors_mut()[3].fill(2.0);
    assert!(grads.as_slices()[3].iter().all(|&v| v == 2.0));
    grads.zero();
    assert!(grads.as_slices().iter().all(|s| s.iter().all(|&v| v == 0.0)));
}

#[test]
fn bad_arguments_are_errors_not_panics() {
    let model = AcousticModel::<f32>::new(tiny_config(1, 1, 1, 0.0)).unwrap();
    let x = Array3::<f32>::zeros((4, 2, 3));
    let mut r = ChaCha8Rng::seed_from_u64(0);
    assert!(model.forward(x.view(), &[4], false, &mut r).is_err());
    assert!(model.forward(x.view(), &[4, 5], false, &mut r).is_err());
    assert!(model.forward(Array3::<f32>::zeros((4, 2, 2)).view(), &[4, 4], false, &mut r).is_err());
    let e = AcousticModel::<f32>::new(ArchConfig { hidden: 0, ..tiny_config(1, 1, 1, 0.0) })
        .unwrap_err();
    assert!(e.to_string().contains("hidden"), "{e}");
    let e = AcousticModel::<f32>::new(ArchConfig { dropout: 1.0, ..tiny_config(1, 1, 1, 0.0) })
        .unwrap_err();
    assert!(e.to_string().contains("dropout"), "{e}");
}

/// PyTorch (float64) on the same weights: nn.LSTM(3, 4, 2, bidirectional) + nn.Linear(8, 5) on a
/// padded batch through pack_padded_sequence. Fixture made by tests/data/lstm_torch.py.
#[test]
fn matches_pytorch_reference() {
    let text = std::fs::read_to_string("tests/data/lstm_torch.json").unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let floats = |v: &serde_json::Value| -> Vec<f64> {
        v.as_array().unwrap().iter().map(|e| e.as_f64().unwrap()).collect()
    };
    let usizes = |v: &serde_json::Value| -> Vec<usize> {
        v.as_array().unwrap().iter().map(|e| e.as_u64().unwrap() as usize).collect()
    };
    let cfg: ArchConfig = serde_json::from_value(v["config"].clone()).unwrap();
    let named = v["params"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (p["name"].as_str().unwrap().to_string(), usizes(&p["shape"]), floats(&p["values"]))
        })
        .collect();
    let model = AcousticModel::<f64>::from_named(cfg, named, Path::new("lstm_torch.json")).unwrap();
    let shape = usizes(&v["shape"]);
    let dim = (shape[0], shape[1], shape[2]);
    let x = Array3::from_shape_vec(dim, floats(&v["x"])).unwrap();
    let lengths = usizes(&v["lengths"]);
    let w = Array3::from_shape_vec((dim.0, dim.1, 5), floats(&v["w"])).unwrap();
    let mut r = ChaCha8Rng::seed_from_u64(0);
    let (logits, cache) = model.forward(x.view(), &lengths, false, &mut r).unwrap();
    let close = |what: &str, a: &[f64], b: &[f64]| {
        assert_eq!(a.len(), b.len(), "{what}: length");
        let (i, err) = a
            .iter()
            .zip(b)
            .map(|(p, q)| (p - q).abs())
            .enumerate()
            .fold((0, 0.0), |m, (i, e)| if e > m.1 { (i, e) } else { m });
        assert!(err < 1e-12, "{what}: worst element {i}: {} vs PyTorch {}", a[i], b[i]);
    };
    close("logits", logits.as_slice().unwrap(), &floats(&v["logits"]));
    let mut grads = model.new_grads();
    let dx = model.backward(cache, w.view(), &mut grads);
    for (name, _, g) in grads.tensors() {
        close(&name, g, &floats(&v["grads"][&name]));
    }
    close("dx", dx.as_slice().unwrap(), &floats(&v["dx"]));
}

/// Recognition runs `infer`: the LSTM weights packed once and kept, the recurrent ones in half
/// precision where a kernel for it runs (AVX-512, AVX2 with F16C). Its logits must be the training forward pass's
/// within that rounding, at every kernel level, and must follow the weights when they change
/// (a kept packing of old weights would give the old model's output).
#[test]
fn inference_follows_the_forward_pass_and_the_current_weights() {
    common::for_every_kernel_level(|_| {
        let cfg = ArchConfig {
            input_dim: 39,
            hidden: 48,
            layers: 2,
            num_labels: 29,
            ..ArchConfig::default()
        };
        let mut model = AcousticModel::<f32>::new(cfg).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(8);
        let lengths = [30, 30, 30];
        let x = padded_input(&mut rng, 30, 39, &lengths).mapv(|v| v as f32);
        let forward = |m: &AcousticModel<f32>| {
            m.forward(x.view(), &lengths, false, &mut ChaCha8Rng::seed_from_u64(0)).unwrap().0
        };
        let worst = |a: &Array3<f32>, b: &Array3<f32>| {
            a.iter().zip(b).map(|(p, q)| (p - q).abs()).fold(0.0f32, f32::max)
        };
        let level = hark::cpu::Simd::active();
        let first = model.infer(x.view(), &lengths).unwrap();
        let exact = forward(&model);
        assert!(worst(&first, &exact) < 2e-3, "{level:?}: {:e}", worst(&first, &exact));
        eprintln!("{level:?}: inference within {:e} of the forward pass", worst(&first, &exact));
        // Kept: the second call gives the same to the last bit.
        assert_eq!(model.infer(x.view(), &lengths).unwrap(), first, "{level:?}");
        // New weights (as a training step makes them): the output follows.
        for t in model.params_mut() {
            t.iter_mut()
                .enumerate()
                .for_each(|(i, v)| *v *= 1.0 + 0.3 * ((i % 7) as f32 - 3.0) / 3.0);
        }
        let after = model.infer(x.view(), &lengths).unwrap();
        let exact = forward(&model);
        assert!(
            worst(&after, &exact) < 2e-3,
            "{level:?}: {:e} after the change",
            worst(&after, &exact)
        );
        assert!(worst(&after, &first) > 1e-2, "{level:?}: the output did not change");
        // A clone keeps no packing of its own and gives the same.
        assert_eq!(model.clone().infer(x.view(), &lengths).unwrap(), after, "{level:?}");
    });
}

/// The LSTM pass on weights packed beforehand is the pass that packs them itself, bit for bit.
#[test]
fn a_packed_lstm_pass_equals_the_plain_pass() {
    common::for_every_kernel_level(|_| {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let layer = BiLstm::<f32>::init(20, 24, 1.0, &mut rng);
        let lengths = [9, 4];
        let x = padded_input(&mut rng, 9, 20, &lengths).mapv(|v| v as f32);
        let (plain, _) = layer.forward(x.view(), &lengths);
        let (packed, _) = layer.forward_with(Some(&layer.pack()), x.view(), &lengths);
        assert_eq!(plain, packed, "{:?}", hark::cpu::Simd::active());
    });
}
