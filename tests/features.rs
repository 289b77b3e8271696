//! MFCC front end against outside references (python_speech_features via
//! `tests/data/mfcc/`, see its README) and the equivalences the design promises: streaming =
//! offline bit for bit, any thread count = one thread.

mod common;

use std::path::Path;

use hark::features::{
    Cmvn, CmvnAccumulator, FeatureOptions, Normalization, OnlineFeatures, compute, compute_with,
};
use ndarray::{Array2, Axis, s};
use proptest::prelude::*;

fn data(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/mfcc").join(name)
}

/// The fixture clip as Hark's audio layer yields it: int16 / 32768.
fn speech() -> Vec<f32> {
    let mut r = hound::WavReader::open(data("speech_16k.wav")).unwrap();
    assert_eq!(r.spec().sample_rate, 16_000);
    r.samples::<i16>().map(|s| s.unwrap() as f32 / 32768.0).collect()
}

fn read_csv(name: &str) -> Array2<f64> {
    let text = std::fs::read_to_string(data(name)).unwrap();
    let rows: Vec<Vec<f64>> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.split(',').map(|v| v.trim().parse().unwrap()).collect())
        .collect();
    let cols = rows[0].len();
    Array2::from_shape_vec((rows.len(), cols), rows.concat()).unwrap()
}

/// Asserts equal shapes and `|got - want| <= tol` everywhere; the message (and the return value)
/// give the worst element: frame, coefficient, both values.
fn check_close(what: &str, got: &Array2<f32>, want: &Array2<f64>, tol: f64) -> f64 {
    assert_eq!(got.dim(), want.dim(), "{what}: shape");
    let mut worst = (0.0f64, 0, 0);
    for ((t, k), &w) in want.indexed_iter() {
        let e = (got[[t, k]] as f64 - w).abs();
        if e > worst.0 || e.is_nan() {
            worst = (e, t, k);
        }
    }
    let (e, t, k) = worst;
    let msg = format!(
        "{what}: max |error| {e:.3e} at frame {t}, coefficient {k}: hark {} vs reference {}",
        got[[t, k]],
        want[[t, k]]
    );
    println!("{msg}");
    assert!(e <= tol, "{msg} (tolerance {tol:e})");
    e
}

#[test]
fn matches_python_speech_features_13() {
    // With every kernel level this CPU runs (hark::cpu).
    let opts = FeatureOptions { delta_order: 0, ..Default::default() };
    let x = speech();
    common::for_every_kernel_level(|level| {
        let got = compute(&opts, &x).unwrap();
        assert_eq!(got.nrows(), 319, "psf frame count");
        let what = format!("psf_mfcc13 ({} kernels)", level.name());
        check_close(&what, &got, &read_csv("psf_mfcc13.csv"), 1e-3);
    });
}

#[test]
fn matches_python_speech_features_39_with_deltas() {
    let x = speech();
    let got = compute(&FeatureOptions::default(), &x).unwrap();
    let want = read_csv("psf_mfcc39.csv");
    check_close("psf_mfcc39", &got, &want, 1e-3);
    // The two references agree with each other on the static part (same call).
    let m13 = read_csv("psf_mfcc13.csv");
    assert_eq!(want.slice(s![.., ..13]), m13);
}

#[test]
fn online_in_odd_chunks_equals_offline_on_speech_bitwise() {
    let x = speech();
    for norm in [Normalization::None, Normalization::Utterance] {
        let opts = FeatureOptions { normalization: norm, ..Default::default() };
        let off = compute(&opts, &x).unwrap();
        let mut on = OnlineFeatures::new(&opts, None).unwrap();
        let mut rows = Vec::new();
        let mut row = vec![0.0; on.dim()];
        for chunk in x.chunks(997) {
            on.accept(chunk);
            while on.pop_frame(&mut row) {
                rows.extend_from_slice(&row);
            }
        }
        on.finish();
        rows.extend(on.drain_frames().iter());
        assert_bitwise(&rows, &off);
        // A second utterance through the same extractor starts afresh.
        on.accept(&x[..5000]);
        on.finish();
        assert_bitwise(on.drain_frames().as_slice().unwrap(), &compute(&opts, &x[..5000]).unwrap());
    }
}

#[test]
fn online_releases_rows_with_the_delta_lag() {
    let opts = FeatureOptions::default();
    let mut on = OnlineFeatures::new(&opts, None).unwrap();
    // 400 + 9 * 160 samples complete 10 frames; with N = 2, order 2 the last 4 wait for context.
    on.accept(&vec![0.1; 400 + 9 * 160]);
    assert_eq!(on.frames_ready(), 10 - opts.delta_lag());
    on.finish();
    assert_eq!(on.frames_ready(), 10);
}

fn assert_bitwise(got: &[f32], want: &Array2<f32>) {
    let want = want.as_slice().unwrap();
    assert_eq!(got.len(), want.len(), "value count");
    if let Some(i) = (0..got.len()).find(|&i| got[i].to_bits() != want[i].to_bits()) {
        panic!("first difference at value {i}: {} vs {}", got[i], want[i]);
    }
}

#[test]
fn global_cmvn_normalizes_online_and_offline_alike() {
    let x = speech();
    let raw_opts = FeatureOptions::default();
    let raw = compute(&raw_opts, &x).unwrap();
    let mut acc = CmvnAccumulator::new(raw.ncols());
    acc.add(raw.slice(s![..150, ..])).unwrap();
    acc.add(raw.slice(s![150.., ..])).unwrap();
    let stats = acc.finish().unwrap();

    let opts = FeatureOptions { normalization: Normalization::Global, ..Default::default() };
    assert!(compute(&opts, &x).is_err(), "global without statistics must be an error");
    let wrong = Cmvn { mean: vec![0.0; 13], std: vec![1.0; 13] };
    assert!(compute_with(&opts, Some(&wrong), &x).is_err());

    let normed = compute_with(&opts, Some(&stats), &x).unwrap();
    // Statistics of this very clip → each column has mean 0 and std 1.
    for (d, col) in normed.axis_iter(Axis(1)).enumerate() {
        assert!(col.mean().unwrap().abs() < 1e-4, "dim {d} mean");
        assert!((col.std(0.0) - 1.0).abs() < 1e-3, "dim {d} std {}", col.std(0.0));
    }
    // And equals the per-utterance mode up to rounding, and (x - μ)/σ of the raw features.
    let utt = compute(
        &FeatureOptions { normalization: Normalization::Utterance, ..Default::default() },
        &x,
    )
    .unwrap();
    assert!((&utt - &normed).iter().all(|e| e.abs() < 1e-4));
    let mut manual = raw.clone();
    stats.apply(&mut manual).unwrap();
    assert_eq!(manual, normed);

    let mut on = OnlineFeatures::new(&opts, Some(stats)).unwrap();
    for c in x.chunks(3000) {
        on.accept(c);
    }
    on.finish();
    assert_bitwise(on.drain_frames().as_slice().unwrap(), &normed);
}

#[test]
fn thread_count_does_not_change_the_result() {
    // 40 s so the offline path splits into blocks.
    let x: Vec<f32> = (0..640_000)
        .map(|i| (i as f32 * 0.37).sin() * 0.3 + ((i as u64 * 7919 % 1000) as f32 / 1e4))
        .collect();
    let opts = FeatureOptions::default();
    let one = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
    let three = rayon::ThreadPoolBuilder::new().num_threads(3).build().unwrap();
    let a = one.install(|| compute(&opts, &x).unwrap());
    let b = three.install(|| compute(&opts, &x).unwrap());
    assert_eq!(a.nrows(), opts.num_frames(x.len()));
    assert_bitwise(b.as_slice().unwrap(), &a);
}

#[test]
fn edge_lengths_give_psf_frame_counts() {
    let opts = FeatureOptions::default();
    for n in [0usize, 1, 159, 399, 400, 401, 560, 561, 1000] {
        let x = vec![0.01f32; n];
        let off = compute(&opts, &x).unwrap();
        assert_eq!(off.dim(), (opts.num_frames(n), 39), "n = {n}");
        assert!(off.iter().all(|v| v.is_finite()), "n = {n}");
        let mut on = OnlineFeatures::new(&opts, None).unwrap();
        on.accept(&x);
        on.finish();
        assert_bitwise(on.drain_frames().as_slice().unwrap(), &off);
    }
}

#[test]
fn invalid_options_are_reported_by_field() {
    let opts = FeatureOptions { num_filters: 1, ..Default::default() };
    let e = compute(&opts, &[0.0; 1000]).unwrap_err().to_string();
    assert!(e.contains("num_filters"), "{e}");
    assert!(OnlineFeatures::new(&opts, None).is_err());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Random signal, random chunk sizes (1 sample .. 1 s), random delta settings: the streaming
    /// rows are exactly the whole-signal rows.
    #[test]
    fn online_equals_offline_for_any_chunking(
        seed in any::<u64>(),
        len in 0usize..40_000,
        chunks in prop::collection::vec(1usize..=16_000, 1..64),
        order in 0usize..=2,
        window in 1usize..=3,
        small_chunks in any::<bool>(),
    ) {
        let mut state = seed | 1;
        let x: Vec<f32> = (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0
            })
            .collect();
        let opts = FeatureOptions { delta_order: order, delta_window: window, ..Default::default() };
        let off = compute(&opts, &x).unwrap();
        let mut on = OnlineFeatures::new(&opts, None).unwrap();
        let mut rows = Vec::new();
        let mut row = vec![0.0; opts.dim()];
        let (mut i, mut k) = (0, 0);
        while i < x.len() {
            // Half the cases use tiny chunks (1..=31 samples) to hit every frame boundary.
            let c = if small_chunks { chunks[k % chunks.len()] % 31 + 1 } else { chunks[k % chunks.len()] };
            let end = (i + c).min(x.len());
            on.accept(&x[i..end]);
            while on.pop_frame(&mut row) {
                rows.extend_from_slice(&row);
            }
            i = end;
            k += 1;
        }
        on.finish();
        rows.extend(on.drain_frames().iter());
        prop_assert_eq!(rows.len(), off.len());
        let want = off.as_slice().unwrap();
        prop_assert!(rows.iter().zip(want).all(|(a, b)| a.to_bits() == b.to_bits()));
    }
}
