//! Optimizer, clipping, learning-rate schedule and early stopping against outside references:
//! PyTorch trajectories (tests/data/optim/torch_optim.json, made by make_optim_fixture.py beside
//! it), Adam's published formulas re-implemented here in f64, and exact resume.

use hark::nn::optim::{
    Adam, AdamConfig, EarlyStop, EarlyStopping, EarlyStoppingConfig, GradNorm, LrSchedule,
    LrScheduleConfig, MetricMode, clip_grad_norm,
};
use serde_json::Value;

fn fixture() -> Value {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/optim/torch_optim.json"
    ))
    .expect("fixture");
    serde_json::from_str(&text).expect("fixture json")
}

fn f32s(v: &Value) -> Vec<f32> {
    v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect()
}

#[test]
fn adam_and_adamw_match_pytorch_trajectories() {
    let fx = fixture();
    let init = [f32s(&fx["init"]["w"]), f32s(&fx["init"]["b"])];
    let grads: Vec<[Vec<f32>; 2]> =
        fx["grads"].as_array().unwrap().iter().map(|g| [f32s(&g["w"]), f32s(&g["b"])]).collect();
    for case in fx["adam_cases"].as_array().unwrap() {
        let cfg = AdamConfig {
            lr: case["lr"].as_f64().unwrap(),
            beta1: case["beta1"].as_f64().unwrap(),
            beta2: case["beta2"].as_f64().unwrap(),
            eps: case["eps"].as_f64().unwrap(),
            weight_decay: case["weight_decay"].as_f64().unwrap(),
            no_decay_name_contains: vec!["bias".into()],
        };
        // The fixture's "b" is the bias group torch runs with weight_decay = 0.
        let names =
            [("net.weight".to_string(), init[0].len()), ("net.bias".to_string(), init[1].len())];
        let mut adam: Adam<f32> = Adam::new(cfg, &names).unwrap();
        let (mut w, mut b) = (init[0].clone(), init[1].clone());
        let mut worst = 0.0f32;
        for (s, want) in case["trajectory"].as_array().unwrap().iter().enumerate() {
            adam.step(&mut [&mut w, &mut b], &[&grads[s][0], &grads[s][1]]).unwrap();
            for (got, want) in [(&w, f32s(&want["w"])), (&b, f32s(&want["b"]))] {
                for (g, t) in got.iter().zip(&want) {
                    // torch's vectorized kernels round differently (fused multiply-adds), so
                    // agreement is to a few f32 roundings, not bitwise; a formula error (bias
                    // correction, eps placement, decay) is orders of magnitude larger.
                    let err = (g - t).abs();
                    worst = worst.max(err);
                    assert!(
                        err <= 1e-6 * t.abs().max(1.0),
                        "{} step {s}: got {g}, torch {t}",
                        case["kind"]
                    );
                }
            }
        }
        eprintln!("{} lr={}: worst |difference| from torch {worst:e}", case["kind"], case["lr"]);
    }
}

/// Adam as published (Kingma & Ba 2015, Algorithm 1) with AdamW's decoupled decay, written out
/// independently in f64.
fn reference_adam(p: &mut [f64], g_seq: &[Vec<f64>], lr: f64, b1: f64, b2: f64, eps: f64, wd: f64) {
    let mut m = vec![0.0; p.len()];
    let mut v = vec![0.0; p.len()];
    for (t, g) in g_seq.iter().enumerate() {
        let t = (t + 1) as i32;
        for i in 0..p.len() {
            p[i] -= lr * wd * p[i];
            m[i] = b1 * m[i] + (1.0 - b1) * g[i];
            v[i] = b2 * v[i] + (1.0 - b2) * g[i] * g[i];
            let mh = m[i] / (1.0 - b1.powi(t));
            let vh = v[i] / (1.0 - b2.powi(t));
            p[i] -= lr * mh / (vh.sqrt() + eps);
        }
    }
}

#[test]
fn adam_f64_matches_published_formulas() {
    let g_seq: Vec<Vec<f64>> = (0..5)
        .map(|s| vec![0.3 - 0.1 * s as f64, -2.0 + s as f64, 1e-5 * (s + 1) as f64])
        .collect();
    for wd in [0.0, 0.05] {
        let mut want = vec![1.0, -0.5, 0.25];
        reference_adam(&mut want, &g_seq, 0.1, 0.8, 0.95, 1e-6, wd);
        let cfg = AdamConfig {
            lr: 0.1,
            beta1: 0.8,
            beta2: 0.95,
            eps: 1e-6,
            weight_decay: wd,
            no_decay_name_contains: vec![],
        };
        let mut adam: Adam<f64> = Adam::new(cfg, &[("x".into(), 3)]).unwrap();
        let mut p = vec![1.0, -0.5, 0.25];
        for g in &g_seq {
            adam.step(&mut [&mut p], &[g]).unwrap();
        }
        for (a, b) in p.iter().zip(&want) {
            assert!((a - b).abs() < 1e-12, "wd={wd}: {a} vs {b}");
        }
        assert_eq!(adam.steps_taken(), 5);
    }
}

#[test]
fn adam_minimizes_an_ill_conditioned_quadratic() {
    // f(x) = ½ Σ a_i (x_i − c_i)², curvatures spanning 4 decades.
    let a = [100.0f32, 1.0, 0.01, 10.0];
    let c = [1.0f32, -2.0, 3.0, 0.5];
    let mut x = vec![0.0f32; 4];
    let mut adam: Adam<f32> =
        Adam::new(AdamConfig { lr: 0.1, ..Default::default() }, &[("x".into(), 4)]).unwrap();
    let f =
        |x: &[f32]| -> f64 { (0..4).map(|i| 0.5 * (a[i] * (x[i] - c[i]).powi(2)) as f64).sum() };
    let f0 = f(&x);
    for step in 0..3000 {
        adam.set_lr(if step < 1500 {
            0.1
        } else if step < 2500 {
            0.01
        } else {
            0.001
        })
        .unwrap();
        let g: Vec<f32> = (0..4).map(|i| a[i] * (x[i] - c[i])).collect();
        adam.step(&mut [&mut x], &[&g]).unwrap();
    }
    for i in 0..4 {
        assert!((x[i] - c[i]).abs() < 5e-3, "x[{i}] = {} but the minimum is at {}", x[i], c[i]);
    }
    assert!(f(&x) < 1e-6 * f0, "f went from {f0} to {}", f(&x));
}

#[test]
fn clipping_scales_to_the_max_norm_and_preserves_direction() {
    let orig_a = vec![3.0f32, -4.0, 12.0];
    let orig_b = vec![0.5f32; 7];
    let want_norm = (9.0f64 + 16.0 + 144.0 + 7.0 * 0.25).sqrt();
    let (mut a, mut b) = (orig_a.clone(), orig_b.clone());
    let r = clip_grad_norm(&mut [&mut a, &mut b], 2.0);
    match r {
        GradNorm::Finite { norm, clipped } => {
            assert!((norm - want_norm).abs() < 1e-12, "pre-clip norm {norm} vs {want_norm}");
            assert!(clipped);
        }
        other => panic!("{other:?}"),
    }
    let after: f64 = a.iter().chain(&b).map(|&x| (x as f64).powi(2)).sum::<f64>().sqrt();
    assert!((after - 2.0).abs() < 2.0 * 1e-6, "clipped norm {after}");
    let ratio = a[0] as f64 / orig_a[0] as f64;
    for (x, o) in a.iter().chain(&b).zip(orig_a.iter().chain(&orig_b)) {
        assert!((*x as f64 / *o as f64 - ratio).abs() < 1e-6);
    }
    assert!((ratio - 2.0 / want_norm).abs() < 1e-7);

    // Below the threshold: untouched, bit for bit.
    let (mut a, mut b) = (orig_a.clone(), orig_b.clone());
    let r = clip_grad_norm(&mut [&mut a, &mut b], 100.0);
    assert_eq!(r, GradNorm::Finite { norm: want_norm, clipped: false });
    assert_eq!((a, b), (orig_a.clone(), orig_b.clone()));

    // Infinite gradient: reported, untouched.
    let mut c = vec![1.0f32, f32::INFINITY];
    let r = clip_grad_norm(&mut [&mut c], 1.0);
    assert!(!r.is_finite() && r.norm().is_infinite());
    assert_eq!(c[0], 1.0);
}

#[test]
fn warmup_is_linear_then_flat() {
    let s =
        LrSchedule::new(LrScheduleConfig { base_lr: 1e-2, warmup_steps: 4, ..Default::default() })
            .unwrap();
    let got: Vec<f64> = (0..6).map(|t| s.lr_at(t)).collect();
    let want = [0.0025, 0.005, 0.0075, 0.01, 0.01, 0.01];
    for (g, w) in got.iter().zip(want) {
        assert!((g - w).abs() < 1e-15, "{got:?}");
    }
    let s0 =
        LrSchedule::new(LrScheduleConfig { base_lr: 3e-3, warmup_steps: 0, ..Default::default() })
            .unwrap();
    assert_eq!(s0.lr_at(0), 3e-3);
}

#[test]
fn plateau_reductions_match_torch_reduce_lr_on_plateau() {
    let fx = fixture();
    let metrics: Vec<f64> =
        fx["plateau_metrics"].as_array().unwrap().iter().map(|m| m.as_f64().unwrap()).collect();
    for case in fx["plateau_cases"].as_array().unwrap() {
        let cfg = LrScheduleConfig {
            base_lr: case["base_lr"].as_f64().unwrap(),
            warmup_steps: 10,
            mode: MetricMode::Min,
            factor: case["factor"].as_f64().unwrap(),
            patience: case["patience"].as_u64().unwrap() as u32,
            threshold: case["threshold"].as_f64().unwrap(),
            cooldown: case["cooldown"].as_u64().unwrap() as u32,
            min_lr: case["min_lr"].as_f64().unwrap(),
        };
        let mut s = LrSchedule::new(cfg).unwrap();
        let want: Vec<f64> = case["lrs_after_each"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect();
        for (i, (&m, &w)) in metrics.iter().zip(&want).enumerate() {
            s.observe(m);
            assert!(
                (s.plateau_lr() - w).abs() <= 1e-12 * w,
                "case {case:?}: after metric {i} lr {} vs torch {w}",
                s.plateau_lr()
            );
            // After warm-up the schedule gives the plateau rate; during warm-up a fraction of it.
            assert_eq!(s.lr_at(1_000), s.plateau_lr());
            assert!((s.lr_at(4) - 0.5 * s.plateau_lr()).abs() < 1e-18);
        }
    }
}

#[test]
fn early_stopping_on_a_scripted_sequence() {
    let mut es = EarlyStopping::new(EarlyStoppingConfig {
        mode: MetricMode::Min,
        patience: 3,
        min_delta: 0.0,
    });
    let seq = [0.9, 0.8, 0.85, 0.8, 0.7, 0.71, 0.72, 0.73];
    let got: Vec<EarlyStop> = seq.iter().map(|&m| es.observe(m)).collect();
    use EarlyStop::*;
    assert_eq!(
        got,
        vec![
            Improved,
            Improved,
            Continue { bad: 1 },
            Continue { bad: 2 },
            Improved,
            Continue { bad: 1 },
            Continue { bad: 2 },
            Stop
        ]
    );
    assert_eq!((es.best(), es.best_index()), (Some(0.7), Some(4)));

    let mut es = EarlyStopping::new(EarlyStoppingConfig {
        mode: MetricMode::Max,
        patience: 1,
        min_delta: 0.0,
    });
    assert_eq!(es.observe(0.1), Improved);
    assert_eq!(es.observe(0.1), Stop);
}

/// A deterministic pseudo-gradient for the resume test (depends on the step and the parameters).
fn fake_grad(step: u64, p: &[f32]) -> Vec<f32> {
    p.iter()
        .enumerate()
        .map(|(i, &x)| {
            x * 0.5
                + ((step as f32 + 1.0) * (i as f32 + 0.3)).sin()
                    * if step % 7 == 3 { 50.0 } else { 1.0 }
        })
        .collect()
}

struct Run {
    adam: Adam<f32>,
    sched: LrSchedule,
    es: EarlyStopping,
    p: Vec<Vec<f32>>,
}

impl Run {
    fn new() -> Run {
        let names = [("l.weight".to_string(), 6), ("l.bias".to_string(), 3)];
        let cfg = AdamConfig { weight_decay: 0.01, ..Default::default() };
        Run {
            adam: Adam::new(cfg, &names).unwrap(),
            sched: LrSchedule::new(LrScheduleConfig {
                base_lr: 0.05,
                warmup_steps: 5,
                patience: 0,
                ..Default::default()
            })
            .unwrap(),
            es: EarlyStopping::new(EarlyStoppingConfig::default()),
            p: vec![vec![0.1, -0.2, 0.3, 0.4, -0.5, 0.6], vec![0.0, 0.01, -0.01]],
        }
    }
    fn step(&mut self) {
        let t = self.adam.steps_taken();
        let mut g: Vec<Vec<f32>> = self.p.iter().map(|p| fake_grad(t, p)).collect();
        let (g0, g1) = g.split_at_mut(1);
        let r = clip_grad_norm(&mut [&mut g0[0], &mut g1[0]], 1.0);
        assert!(r.is_finite());
        self.adam.set_lr(self.sched.lr_at(t)).unwrap();
        let (p0, p1) = self.p.split_at_mut(1);
        self.adam.step(&mut [&mut p0[0], &mut p1[0]], &[&g[0], &g[1]]).unwrap();
        if (t + 1).is_multiple_of(4) {
            let metric = self.p.iter().flatten().map(|x| (x * x) as f64).sum::<f64>();
            self.sched.observe(metric);
            self.es.observe(metric);
        }
    }
}

#[test]
fn serialize_mid_run_and_continue_is_bitwise_identical() {
    let mut straight = Run::new();
    for _ in 0..40 {
        straight.step();
    }

    let mut first = Run::new();
    for _ in 0..17 {
        first.step();
    }
    let saved = (
        serde_json::to_string(&first.adam).unwrap(),
        serde_json::to_string(&first.sched).unwrap(),
        serde_json::to_string(&first.es).unwrap(),
        first.p.clone(),
    );
    drop(first);
    let mut resumed = Run {
        adam: serde_json::from_str(&saved.0).unwrap(),
        sched: serde_json::from_str(&saved.1).unwrap(),
        es: serde_json::from_str(&saved.2).unwrap(),
        p: saved.3,
    };
    for _ in 17..40 {
        resumed.step();
    }
    assert!(straight.sched.reductions() > 0, "the run should exercise a plateau reduction");
    for (a, b) in straight.p.iter().flatten().zip(resumed.p.iter().flatten()) {
        assert_eq!(a.to_bits(), b.to_bits());
    }
    assert_eq!(straight.adam, resumed.adam);
    assert_eq!(straight.sched, resumed.sched);
    assert_eq!(straight.es, resumed.es);
}
