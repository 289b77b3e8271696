//! CTC: agreement with PyTorch (fixture), finite-difference gradient checks, decoders, LM.

use std::path::Path;

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

// ---------------------------------------------------------------- decoders

use hark::ctc::{
    Alphabet, ArpaLm, BeamOptions, LanguageModel, greedy, labeling_log_prob, prefix_beam_search,
};
use ndarray::Array2;

/// (T, V) log-probabilities from per-frame lists of (char, probability); the remaining mass is
/// spread evenly over the other labels. '_' is the blank.
fn frames(alphabet: &Alphabet, spec: &[&[(char, f32)]]) -> Array2<f32> {
    let v = alphabet.num_labels();
    let mut lp = Array2::zeros((spec.len(), v));
    for (t, f) in spec.iter().enumerate() {
        let listed: f32 = f.iter().map(|x| x.1).sum();
        let rest = ((1.0 - listed) / (v - f.len()) as f32).max(1e-12);
        for k in 0..v {
            let p = f
                .iter()
                .find(|x| if x.0 == '_' { k == 0 } else { alphabet.label(x.0) == Some(k) })
                .map_or(rest, |x| x.1);
            lp[[t, k]] = p.ln();
        }
    }
    lp
}

fn no_lm(width: usize) -> BeamOptions {
    BeamOptions {
        beam_width: width,
        prune_log_prob: -30.0,
        lm_weight: 0.0,
        word_bonus: 0.0,
        blank_penalty: 0.0,
    }
}

fn random_log_probs(rng: &mut ChaCha8Rng, t: usize, v: usize, peak: f32) -> Array2<f32> {
    let mut lp = Array2::<f32>::zeros((t, v));
    for mut row in lp.rows_mut() {
        let top = rng.random_range(0..v);
        for (k, x) in row.iter_mut().enumerate() {
            *x = if k == top { peak } else { rng.random_range(-1.0f32..1.0) };
        }
        let lse = row.iter().map(|x| x.exp()).sum::<f32>().ln();
        row.mapv_inplace(|x| x - lse);
    }
    lp
}

#[test]
fn beam_of_width_one_matches_greedy_on_peaked_input() {
    let a = Alphabet::default();
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    for _ in 0..20 {
        let lp = random_log_probs(&mut rng, 60, a.num_labels(), 8.0);
        let g = greedy(lp.view(), &a, 0.02);
        let b = prefix_beam_search(lp.view(), &a, 0.02, &no_lm(1), None);
        assert_eq!(b[0].text, g.text);
        assert_eq!(b[0].labels, g.labels);
        assert_eq!(b[0].char_times_s, g.char_times_s);
        assert!((b[0].log_prob - g.log_prob).abs() < 1e-2, "{} vs {}", b[0].log_prob, g.log_prob);
    }
}

#[test]
fn beam_finds_the_likelier_labeling_that_greedy_misses() {
    // Two frames, P(blank) = 0.6, P(a) = 0.4 each: the best path is "∅∅" (0.36, text ""), but
    // "a" has 0.4·0.4 + 0.4·0.6 + 0.6·0.4 = 0.64.
    let a = Alphabet::default();
    let lp = frames(&a, &[&[('_', 0.6), ('a', 0.4)], &[('_', 0.6), ('a', 0.4)]]);
    assert_eq!(greedy(lp.view(), &a, 0.03).text, "");
    let hyps = prefix_beam_search(lp.view(), &a, 0.03, &no_lm(8), None);
    assert_eq!(hyps[0].text, "a");
    assert!((hyps[0].log_prob - 0.64f32.ln()).abs() < 1e-4);
    assert_eq!(hyps[1].text, "");
    assert!((hyps[1].log_prob - 0.36f32.ln()).abs() < 1e-4);
    assert!(hyps.windows(2).all(|w| w[0].score >= w[1].score));
}

#[test]
fn beam_log_prob_equals_the_ctc_likelihood_of_its_labeling() {
    // Without pruning (a beam wider than the number of prefixes) the prefix probabilities are
    // exact; with pruning they are lower bounds (paths through dropped prefixes are lost).
    let a = Alphabet { chars: vec![' ', 'a', 'b', 'c'] };
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    for (t, width, exact) in [(6, 10_000, true), (12, 16, false)] {
        for _ in 0..5 {
            let lp = random_log_probs(&mut rng, t, a.num_labels(), 1.5);
            let hyps = prefix_beam_search(lp.view(), &a, 0.01, &no_lm(width), None);
            for h in hyps.iter().take(5) {
                let logits =
                    lp.clone().into_shape_with_order((t, 1, 5)).unwrap().mapv(|x| x as f64);
                let nll =
                    ctc_loss(logits.view(), &[t], std::slice::from_ref(&h.labels), Reduction::Sum)
                        .unwrap()
                        .losses[0];
                let (got, want) = (h.log_prob as f64, -nll);
                if exact {
                    assert!((got - want).abs() < 1e-4, "{:?}: {got} vs {want}", h.text);
                } else {
                    assert!(got <= want + 1e-4, "{:?}: {got} above {want}", h.text);
                }
            }
        }
    }
}

/// Every path of `lp` (all `V^T` of them), summed per collapsed labeling: (true, blank-penalized)
/// probabilities, the penalty taking `e^-penalty` per blank frame.
fn labeling_totals(
    lp: &Array2<f32>,
    penalty: f32,
) -> std::collections::HashMap<Vec<usize>, (f64, f64)> {
    let (t, v) = lp.dim();
    let mut totals: std::collections::HashMap<Vec<usize>, (f64, f64)> = Default::default();
    for code in 0..v.pow(t as u32) {
        let path: Vec<usize> = (0..t).map(|i| code / v.pow(i as u32) % v).collect();
        let mut lab = Vec::new();
        let mut prev = 0;
        for &p in &path {
            if p != 0 && p != prev {
                lab.push(p);
            }
            prev = p;
        }
        let lpp: f64 = path.iter().enumerate().map(|(i, &p)| lp[[i, p]] as f64).sum();
        let blanks = path.iter().filter(|&&p| p == 0).count() as f64;
        let e = totals.entry(lab).or_default();
        e.0 += lpp.exp();
        e.1 += (lpp - penalty as f64 * blanks).exp();
    }
    totals
}

#[test]
fn wide_beam_finds_the_most_likely_labeling_by_brute_force() {
    let a = Alphabet { chars: vec![' ', 'a'] };
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let (t, v) = (7, 3);
    for _ in 0..10 {
        let lp = random_log_probs(&mut rng, t, v, 0.5);
        let totals: std::collections::HashMap<Vec<usize>, f64> =
            labeling_totals(&lp, 0.0).into_iter().map(|(k, (p, _))| (k, p)).collect();
        let best = totals.iter().max_by(|x, y| x.1.total_cmp(y.1)).unwrap();
        let hyps = prefix_beam_search(lp.view(), &a, 0.01, &no_lm(500), None);
        assert_eq!(&hyps[0].labels, best.0);
        assert!((hyps[0].log_prob as f64 - best.1.ln()).abs() < 1e-4);
    }
}

#[test]
fn labeling_log_prob_is_minus_the_ctc_loss() {
    let mut rng = ChaCha8Rng::seed_from_u64(21);
    let (t, v) = (9, 5);
    for labels in [vec![], vec![1], vec![2, 2], vec![1, 3, 3, 4], vec![4, 1, 4, 2, 1]] {
        let lp = random_log_probs(&mut rng, t, v, 1.0);
        let logits = lp.clone().into_shape_with_order((t, 1, v)).unwrap().mapv(|x| x as f64);
        let nll = ctc_loss(logits.view(), &[t], std::slice::from_ref(&labels), Reduction::Sum)
            .unwrap()
            .losses[0];
        let got = labeling_log_prob(lp.view(), &labels) as f64;
        assert!((got + nll).abs() < 1e-4, "{labels:?}: {got} vs {}", -nll);
    }
    // Five equal labels need nine frames, six need eleven; out-of-range labels have no
    // probability.
    let lp = random_log_probs(&mut rng, t, v, 1.0);
    assert!(labeling_log_prob(lp.view(), &[1; 5]).is_finite());
    assert_eq!(labeling_log_prob(lp.view(), &[1; 6]), f32::NEG_INFINITY);
    assert_eq!(labeling_log_prob(lp.view(), &[0]), f32::NEG_INFINITY);
    assert_eq!(labeling_log_prob(lp.view(), &[v]), f32::NEG_INFINITY);
    assert_eq!(labeling_log_prob(lp.slice(ndarray::s![..0, ..]), &[]), 0.0);
    // Frames without even a blank column hold no labeling.
    let none = Array2::<f32>::zeros((3, 0));
    assert_eq!(labeling_log_prob(none.view(), &[]), f32::NEG_INFINITY);
}

#[test]
fn blank_penalty_keeps_a_character_the_blank_nearly_hid() {
    // Three frames of P(blank) = 0.9, P(a) = 0.1: "" (0.729) beats "a" (0.001 + 2·0.009 +
    // 3·0.081 = 0.262). With the blank at 0.9·e^-1 the penalized "a" (0.0405) beats "" (0.0363).
    let a = Alphabet::default();
    let f: &[(char, f32)] = &[('_', 0.9), ('a', 0.1)];
    let lp = frames(&a, &[f, f, f]);
    assert_eq!(prefix_beam_search(lp.view(), &a, 0.03, &no_lm(8), None)[0].text, "");
    let pen = BeamOptions { blank_penalty: 1.0, ..no_lm(8) };
    let hyps = prefix_beam_search(lp.view(), &a, 0.03, &pen, None);
    assert_eq!(hyps[0].text, "a");
    // What is reported is the true probability of "a", and its confidence from it.
    assert!((hyps[0].log_prob - 0.262f32.ln()).abs() < 1e-4, "{}", hyps[0].log_prob);
    assert!((hyps[0].confidence - (0.262f32.ln() / 3.0).exp()).abs() < 1e-5);
    // The ranking is the search over the shifted blank column.
    let mut shifted = lp.clone();
    shifted.column_mut(0).mapv_inplace(|x| x - 1.0);
    let plain = prefix_beam_search(shifted.view(), &a, 0.03, &no_lm(8), None);
    for (h, s) in hyps.iter().zip(&plain) {
        assert_eq!((&h.text, h.score), (&s.text, s.score));
    }
}

#[test]
fn blank_penalty_picks_the_best_penalized_labeling_by_brute_force() {
    let a = Alphabet { chars: vec![' ', 'a'] };
    let mut rng = ChaCha8Rng::seed_from_u64(19);
    let (t, v) = (7, 3);
    for penalty in [0.5f32, 1.5, -0.5] {
        let lp = random_log_probs(&mut rng, t, v, 0.5);
        let totals = labeling_totals(&lp, penalty);
        let best = totals.iter().max_by(|x, y| x.1.1.total_cmp(&y.1.1)).unwrap();
        let opts = BeamOptions { blank_penalty: penalty, ..no_lm(500) };
        let hyps = prefix_beam_search(lp.view(), &a, 0.01, &opts, None);
        assert!(hyps.len() <= hark::ctc::decode::MAX_RESULTS);
        assert_eq!(&hyps[0].labels, best.0, "penalty {penalty}");
        assert!((hyps[0].score as f64 - best.1.1.ln()).abs() < 1e-4);
        assert!((hyps[0].log_prob as f64 - best.1.0.ln()).abs() < 1e-4);
    }
}

const HAT_HOT_ARPA: &str = "\\data\\
ngram 1=5

\\1-grams:
-2.0\t<unk>
-99\t<s>
-0.3\t</s>
-3.0\that
-0.4\thot

\\end\\
";

/// "h", then "a" (0.55) or "o" (0.44), then "t": acoustically "hat" by a little.
fn hat_or_hot(a: &Alphabet) -> Array2<f32> {
    frames(
        a,
        &[
            &[('h', 0.95)],
            &[('_', 0.9)],
            &[('a', 0.55), ('o', 0.44)],
            &[('_', 0.9)],
            &[('t', 0.95)],
        ],
    )
}

#[test]
fn the_language_model_changes_the_winner() {
    let a = Alphabet::default();
    let lp = hat_or_hot(&a);
    let plain = prefix_beam_search(lp.view(), &a, 0.03, &no_lm(8), None);
    assert_eq!(plain[0].text, "hat");
    let lm: ArpaLm = HAT_HOT_ARPA.parse().unwrap();
    let opts = BeamOptions { lm_weight: 1.0, ..no_lm(8) };
    let with_lm = prefix_beam_search(lp.view(), &a, 0.03, &opts, Some(&lm as &dyn LanguageModel));
    assert_eq!(with_lm[0].text, "hot");
    // score = acoustic + LM (ln) of "hot" and </s>
    let ln10 = std::f32::consts::LN_10;
    let expect = with_lm[0].log_prob + (-0.4 - 0.3) * ln10;
    assert!((with_lm[0].score - expect).abs() < 1e-4, "{} vs {expect}", with_lm[0].score);
    // times: h at frame 0, o at 2, t at 4
    assert_eq!(with_lm[0].char_times_s, vec![0.0, 0.06, 0.12]);
}

/// The look-ahead: a partial word is ranked with the best unigram ln-probability of the words it
/// can still become, so a narrow beam keeps "ho" (only "hot", log10 P = −0.4) over the
/// acoustically better "ha" (only "hat", −3.0) before either word is complete. Without it a beam
/// of one commits to "ha" and ends on "hat" although "hot" scores higher in the end.
#[test]
fn lm_look_ahead_keeps_the_likely_word_in_a_narrow_beam() {
    let a = Alphabet::default();
    let lp = hat_or_hot(&a);
    let lm: ArpaLm = HAT_HOT_ARPA.parse().unwrap();
    let lex = lm.lexicon().unwrap();
    let node = |w: &str| w.chars().try_fold(0, |n, c| lex.child(n, c)).unwrap();
    let ln10 = std::f32::consts::LN_10;
    assert!((lex.lookahead(node("h")) - -0.4 * ln10).abs() < 1e-5);
    assert!((lex.lookahead(node("ha")) - -3.0 * ln10).abs() < 1e-5);
    assert!((lex.lookahead(node("ho")) - -0.4 * ln10).abs() < 1e-5);
    for width in [1, 2, 8] {
        let opts = BeamOptions { lm_weight: 0.5, ..no_lm(width) };
        let h = prefix_beam_search(lp.view(), &a, 0.03, &opts, Some(&lm as &dyn LanguageModel));
        assert_eq!(h[0].text, "hot", "beam {width}");
        // The look-ahead only ranks partial words: the final score is acoustic + LM as before.
        let expect = h[0].log_prob + 0.5 * (-0.4 - 0.3) * ln10;
        assert!((h[0].score - expect).abs() < 1e-4, "{} vs {expect}", h[0].score);
    }
}

/// With an LM, every word of the result is a word the LM knows (lexicon-constrained search):
/// a non-word the acoustics prefer gives way to the closest word, and two words are not glued
/// into one unknown string.
#[test]
fn lm_search_only_produces_known_words() {
    let a = Alphabet::default();
    let lp = frames(
        &a,
        &[
            &[('h', 0.95)],
            &[('_', 0.9)],
            &[('x', 0.55), ('a', 0.4)],
            &[('_', 0.9)],
            &[('t', 0.95)],
            &[(' ', 0.4), ('_', 0.55)],
            &[('h', 0.95)],
            &[('o', 0.9)],
            &[('t', 0.95)],
        ],
    );
    assert_eq!(greedy(lp.view(), &a, 0.03).text, "hxthot");
    let lm: ArpaLm = HAT_HOT_ARPA.parse().unwrap();
    let opts = BeamOptions { lm_weight: 0.5, ..no_lm(16) };
    let h = prefix_beam_search(lp.view(), &a, 0.03, &opts, Some(&lm as &dyn LanguageModel));
    assert_eq!(h[0].text, "hat hot");
    for hyp in &h {
        assert!(hyp.text.split_whitespace().all(|w| w == "hat" || w == "hot"), "{:?}", hyp.text);
    }
}

/// Hot words turn the decision the other way, with or without an LM, and a phrase is boosted
/// only in order.
#[test]
fn hot_words_change_the_winner() {
    use hark::ctc::{BiasedLm, HotWords};
    use std::path::Path;
    use std::sync::Arc;
    let a = Alphabet::default();
    let lp = hat_or_hot(&a);
    let hot = |words: &[&str], boost| {
        HotWords::new(words.iter().copied(), &a, boost, Path::new("hot.txt")).unwrap()
    };
    // No LM: "hat" wins acoustically by ln(0.55/0.44) = 0.22; a boost of 1 makes it "hot".
    let opts = BeamOptions { lm_weight: 0.5, word_bonus: 0.0, ..no_lm(8) };
    let biased = BiasedLm::new(None, hot(&["hot"], 1.0), 0.5);
    let h = prefix_beam_search(lp.view(), &a, 0.03, &opts, Some(&biased as &dyn LanguageModel));
    assert_eq!(h[0].text, "hot");
    // A boost smaller than the acoustic margin does not.
    let weak = BiasedLm::new(None, hot(&["hot"], 0.1), 0.5);
    let h = prefix_beam_search(lp.view(), &a, 0.03, &opts, Some(&weak as &dyn LanguageModel));
    assert_eq!(h[0].text, "hat");
    // With the LM that prefers "hot", boosting "hat" by more than the LM margin wins it back:
    // LM margin (weight 1) = (−0.4 − (−3.0))·ln 10 = 5.99, acoustic +0.22 for "hat".
    let lm: Arc<dyn LanguageModel> = Arc::new(HAT_HOT_ARPA.parse::<ArpaLm>().unwrap());
    let opts = BeamOptions { lm_weight: 1.0, ..no_lm(8) };
    let with = BiasedLm::new(Some(lm.clone()), hot(&["hat"], 6.5), 1.0);
    let h = prefix_beam_search(lp.view(), &a, 0.03, &opts, Some(&with as &dyn LanguageModel));
    assert_eq!(h[0].text, "hat");
    let short = BiasedLm::new(Some(lm), hot(&["hat"], 5.0), 1.0);
    let h = prefix_beam_search(lp.view(), &a, 0.03, &opts, Some(&short as &dyn LanguageModel));
    assert_eq!(h[0].text, "hot");
}

/// `hark lm build` writes an ARPA model that Hark reads back and that prefers sentences like
/// its text; bad input is a clear error with exit code 2.
#[test]
fn lm_build_cli() {
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("text.txt");
    std::fs::write(&text, "the cat sat on the mat\nthe dog sat on the log\n42 is a number\n")
        .unwrap();
    // `hark lm build TEXT --out OUT [extra…]` → (success, exit code, stderr).
    let build = |text: &Path, out: &Path, extra: &[&Path]| {
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_hark"))
            .args(["lm", "build"])
            .arg(text)
            .arg("--out")
            .arg(out)
            .args(extra)
            .output()
            .unwrap();
        (o.status.success(), o.status.code(), String::from_utf8_lossy(&o.stderr).into_owned())
    };
    let arpa = dir.path().join("lm.arpa");
    let (ok, _, err) = build(&text, &arpa, &[]);
    assert!(ok, "{err}");
    assert!(err.contains("2 sentences") && err.contains("1 lines skipped"), "{err}");
    let lm = ArpaLm::from_file(&arpa).unwrap();
    assert_eq!(lm.order(), 3);
    assert!(
        lm.sentence_log10(&["the", "cat", "sat", "on", "the", "log"])
            > lm.sentence_log10(&["log", "the", "on", "sat", "cat", "the"])
    );
    // A .gz name writes the same model gzip-compressed, and it reads back the same.
    let gz = dir.path().join("lm.arpa.gz");
    let (ok, _, err) = build(&text, &gz, &[]);
    assert!(ok, "{err}");
    let bytes = std::fs::read(&gz).unwrap();
    assert_eq!(&bytes[..2], &[0x1f, 0x8b]);
    assert_eq!(
        hark::ctc::lm::read_arpa_text(&gz, 1 << 20).unwrap(),
        std::fs::read_to_string(&arpa).unwrap()
    );
    let zipped = ArpaLm::from_file(&gz).unwrap();
    let s = ["the", "dog", "sat", "on", "the", "mat"];
    assert_eq!(zipped.sentence_log10(&s), lm.sentence_log10(&s));
    let (_, code, err) = build(Path::new("/nonexistent.txt"), &dir.path().join("x.arpa"), &[]);
    assert_eq!(code, Some(2));
    assert!(err.contains("/nonexistent.txt"), "{err}");
    assert!(!dir.path().join("x.arpa").exists());

    // --vocab: words of a list the text never uses are in the model, at the unseen-word
    // probability; a missing list is an error that names it, and nothing is written.
    let words = dir.path().join("words.txt");
    std::fs::write(&words, "Zebra\ncat\nR2D2\n").unwrap();
    let with_vocab = dir.path().join("vocab.arpa");
    let (ok, _, err) = build(&text, &with_vocab, &[Path::new("--vocab"), &words]);
    assert!(ok, "{err}");
    assert!(err.contains("2 of 3 words usable"), "{err}");
    let lm = ArpaLm::from_file(&with_vocab).unwrap();
    assert_eq!(lm.log10_prob_words(&["<s>"], "zebra"), lm.log10_prob_words(&["<s>"], "<unk>"));
    assert!(std::fs::read_to_string(&with_vocab).unwrap().contains("\tzebra\n"));
    let missing = [Path::new("--vocab"), Path::new("/nonexistent-words")];
    let (_, code, err) = build(&text, &dir.path().join("y.arpa"), &missing);
    assert_eq!(code, Some(2));
    assert!(err.contains("/nonexistent-words"), "{err}");
    assert!(!dir.path().join("y.arpa").exists());

    // --min-count 2: trigrams seen once are left out ("sat on the" is seen twice and stays).
    let pruned = dir.path().join("pruned.arpa");
    let (ok, _, err) = build(&text, &pruned, &[Path::new("--min-count"), Path::new("2")]);
    assert!(ok, "{err}");
    assert!(err.contains("3-grams 1") && !err.contains("3-grams 10"), "{err}");
    let lm = ArpaLm::from_file(&pruned).unwrap();
    assert!(std::fs::read_to_string(&pruned).unwrap().contains("\tsat on the\n"));
    assert!(lm.sentence_log10(&["the", "cat", "sat"]).is_finite());
}

#[test]
fn lm_is_applied_to_each_completed_word() {
    let a = Alphabet::default();
    // "ab ab": the first word is completed by the space, the second by the end of the utterance.
    let lp = frames(
        &a,
        &[&[('a', 0.99)], &[('b', 0.99)], &[(' ', 0.99)], &[('a', 0.99)], &[('b', 0.99)]],
    );
    let arpa = "\\data\\\nngram 1=4\nngram 2=2\n\n\\1-grams:\n-1\t<unk>\n-99\t<s>\t-0.25\n-0.5\t</s>\n\
                -0.7\tab\t-0.125\n\n\\2-grams:\n-0.3\t<s> ab\n-0.2\tab ab\n\n\\end\\\n";
    let lm: ArpaLm = arpa.parse().unwrap();
    let opts = BeamOptions { lm_weight: 2.0, word_bonus: 0.5, ..no_lm(8) };
    let h = &prefix_beam_search(lp.view(), &a, 0.03, &opts, Some(&lm))[0];
    assert_eq!(h.text, "ab ab");
    // P(ab|<s>) = -0.3, P(ab|ab) = -0.2, P(</s>|ab) = bow(ab) + P(</s>) = -0.125 - 0.5 (log10)
    let lm_ln = (-0.3 - 0.2 - 0.625) * std::f32::consts::LN_10;
    let expect = h.log_prob + 2.0 * lm_ln + 2.0 * 0.5;
    assert!((h.score - expect).abs() < 1e-4, "{} vs {expect}", h.score);
    assert!((lm.sentence_log10(&["ab", "ab"]) - (-1.125)).abs() < 1e-6);
}

#[test]
fn trigram_arpa_scores_by_hand() {
    let arpa = "some header text KenLM or SRILM may write\n\n\\data\\\nngram 1=5\nngram 2=3\nngram 3=1\n\n\
        \\1-grams:\n-1.5\t<unk>\t0\n-99\t<s>\t-0.4\n-0.7\t</s>\t0\n-0.6\tthe\t-0.2\n-0.9\tcat\t-0.1\n\n\
        \\2-grams:\n-0.3\t<s> the\t-0.05\n-0.45\tthe cat\t-0.15\n-0.2\tcat </s>\n\n\
        \\3-grams:\n-0.1\t<s> the cat\n\n\\end\\\n";
    let lm: ArpaLm = arpa.parse().unwrap();
    assert_eq!(lm.order(), 3);
    let close = |a: f32, b: f32| assert!((a - b).abs() < 1e-5, "{a} vs {b}");
    // <s> the cat </s>: -0.3 (bigram) -0.1 (trigram) + P(</s> | the cat) = bow(the cat) -0.15
    //   + P(</s> | cat) -0.2
    close(lm.sentence_log10(&["the", "cat"]), -0.3 - 0.1 - 0.15 - 0.2);
    // <s> cat the: P(cat|<s>) = bow(<s>) -0.4 + P(cat) -0.9; P(the | <s> cat): no "<s> cat" bigram
    //   so no back-off weight, then P(the | cat): bow(cat) -0.1 + P(the) -0.6;
    //   P(</s> | cat the): no "cat the" → P(</s> | the) = bow(the) -0.2 + P(</s>) -0.7
    close(lm.sentence_log10(&["cat", "the"]), -1.3 - 0.7 - 0.9);
    // unknown word: <unk>
    close(lm.sentence_log10(&["zebra"]), -0.4 - 1.5 - 0.7);
}

#[test]
fn bad_arpa_files_are_rejected_with_line_numbers() {
    let cases: &[(&str, &str)] = &[
        ("no data section", "\\data\\"),
        ("\\data\\\nngram 1=2\n\n\\1-grams:\n-1\t<s>\n-1\t</s>\n", "without \\end\\"),
        (
            "\\data\\\nngram 1=3\n\n\\1-grams:\n-1\t<s>\n-1\t</s>\n\n\\end\\\n",
            "line 8: the 1-gram section has 2 entries but \\data\\ announced 3",
        ),
        (
            "\\data\\\nngram 1=2\n\n\\1-grams:\nabc\t<s>\n-1\t</s>\n\\end\\\n",
            "line 5: expected a log10 probability",
        ),
        (
            "\\data\\\nngram 1=2\nngram 2=1\n\n\\1-grams:\n-1\t<s>\n-1\t</s>\n\n\\2-grams:\n-1\t<s> dog\n\\end\\\n",
            "line 10: word \"dog\" is not listed",
        ),
        (
            "\\data\\\nngram 1=2\n\n\\1-grams:\n-1\t<s>\n-1\t</s>\t-0.5\textra\n\\end\\\n",
            "line 6: unexpected field",
        ),
        ("\\data\\\nngram 1=2\n\n\\2-grams:\n-1\t<s>\n\\end\\\n", "line 4: expected \\1-grams:"),
        ("\\data\\\nngram 1=1\n\n\\1-grams:\n-1\t<s>\n\\end\\\n", "do not list </s>"),
        (
            "\\data\\\nngram 1=2\n\n\\1-grams:\n-1\t<s>\n1.5\t</s>\n\\end\\\n",
            "line 6: expected a log10 probability <= 0",
        ),
    ];
    for (text, want) in cases {
        let e = text.parse::<ArpaLm>().unwrap_err().to_string();
        assert!(e.contains(want), "{text:?}: got {e:?}, want {want:?}");
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("missing.arpa");
    let e = ArpaLm::from_file(&path).unwrap_err().to_string();
    assert!(e.contains("missing.arpa"), "{e}");
    std::fs::write(&path, "\\data\\\nngram 1=x\n").unwrap();
    let e = ArpaLm::from_file(&path).unwrap_err().to_string();
    assert!(e.contains("missing.arpa") && e.contains("line 2"), "{e}");
}

/// Textbook prefix beam search with a hash map of prefixes and no pruning shortcut: the reference
/// for the trie version's exact-pruning rule.
fn reference_beam(lp: &Array2<f32>, width: usize) -> Vec<(Vec<usize>, f32)> {
    use std::collections::HashMap;
    let la = |a: f32, b: f32| hark::ctc::loss::log_add(a, b);
    let ninf = f32::NEG_INFINITY;
    let mut beam: Vec<(Vec<usize>, f32, f32)> = vec![(vec![], 0.0, ninf)];
    for row in lp.rows() {
        let mut next: HashMap<Vec<usize>, (f32, f32)> = HashMap::new();
        for (prefix, pb, pnb) in &beam {
            let total = la(*pb, *pnb);
            let e = next.entry(prefix.clone()).or_insert((ninf, ninf));
            e.0 = la(e.0, total + row[0]);
            if let Some(&last) = prefix.last() {
                e.1 = la(e.1, pnb + row[last]);
            }
            for c in 1..row.len() {
                let mut ext = prefix.clone();
                ext.push(c);
                let p = if prefix.last() == Some(&c) { pb + row[c] } else { total + row[c] };
                let e = next.entry(ext).or_insert((ninf, ninf));
                e.1 = la(e.1, p);
            }
        }
        let mut all: Vec<(Vec<usize>, f32, f32)> =
            next.into_iter().map(|(k, (b, n))| (k, b, n)).collect();
        all.sort_by(|x, y| la(y.1, y.2).total_cmp(&la(x.1, x.2)));
        all.truncate(width);
        beam = all;
    }
    beam.into_iter().map(|(k, b, n)| (k, la(b, n))).collect()
}

#[test]
fn trie_beam_search_equals_the_textbook_version() {
    let a = Alphabet { chars: vec![' ', 'a', 'b', 'c', 'd'] };
    let mut rng = ChaCha8Rng::seed_from_u64(21);
    for (t, width, peak) in [(20, 1, 2.0), (20, 4, 1.0), (30, 8, 3.0), (25, 16, 0.5)] {
        for _ in 0..5 {
            let lp = random_log_probs(&mut rng, t, a.num_labels(), peak);
            let got = prefix_beam_search(lp.view(), &a, 0.01, &no_lm(width), None);
            let want = reference_beam(&lp, width);
            // (the search returns the best MAX_RESULTS of its beam)
            assert_eq!(got.len(), want.len().min(hark::ctc::decode::MAX_RESULTS));
            for (g, w) in got.iter().zip(&want) {
                assert_eq!(g.labels, w.0, "T={t} width={width}");
                assert!((g.log_prob - w.1).abs() < 1e-4);
            }
        }
    }
}

#[test]
fn lm_weight_and_word_bonus_do_nothing_without_an_lm() {
    let a = Alphabet::default();
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let lp = random_log_probs(&mut rng, 40, a.num_labels(), 2.0);
    let plain = prefix_beam_search(lp.view(), &a, 0.02, &no_lm(8), None);
    let opts = BeamOptions { lm_weight: 3.0, word_bonus: 5.0, ..no_lm(8) };
    let biased = prefix_beam_search(lp.view(), &a, 0.02, &opts, None);
    assert_eq!(plain, biased);
    assert!(plain.iter().all(|h| h.score == h.log_prob));
}
