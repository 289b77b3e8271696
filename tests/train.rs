//! Training end to end: convergence on a spoken corpus made at test time, resume after a stop and
//! after a kill, bad data, the whole-model gradient through CTC, and model-file round trips.

mod common;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use hark::ctc::Alphabet;
use hark::ctc::loss::{CtcLoss, Reduction};
use hark::features::{FeatureOptions, Normalization};
use hark::model::acoustic::AcousticModel;
use hark::model::{ArchConfig, Model, ModelConfig};
use hark::train::augment::AugmentOptions;
use hark::train::trainer::{
    self, FinishReason, Start, TrainCommand, TrainEvent, TrainJob, TrainOptions,
};
use ndarray::{Array3, Axis};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// One corpus per test binary (espeak-ng is the slow part), shared by the tests that need it.
fn corpus() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("hark-train-corpus-{}", std::process::id()));
        common::espeak_corpus(&dir, 320, 11);
        dir
    })
}

fn small_job(data: &Path, out: &Path, hidden: usize, layers: usize, epochs: u64) -> TrainJob {
    let features =
        FeatureOptions { normalization: Normalization::Global, ..FeatureOptions::default() };
    let arch = ArchConfig {
        hidden,
        layers,
        stack_frames: 3,
        subsample: 3,
        dropout: 0.0,
        seed: 3,
        ..ArchConfig::default()
    };
    TrainJob {
        data: data.to_path_buf(),
        validation: None,
        out_dir: out.to_path_buf(),
        start: Start::Scratch { arch, features, alphabet: Alphabet::default() },
        options: TrainOptions {
            epochs,
            learning_rate: 3e-3,
            warmup_steps: Some(30),
            max_batch_size: 16,
            validation_percent: 10.0,
            early_stop_patience: Some(100),
            augment: Some(AugmentOptions::none()),
            ..TrainOptions::default()
        },
        name: None,
        replace: false,
    }
}

/// Runs a job to the end and returns its events.
fn run(job: TrainJob, resume: bool) -> Vec<TrainEvent> {
    let h = trainer::spawn(job, resume, Box::new(|| {}));
    let events: Vec<TrainEvent> = h.events.iter().collect();
    h.join();
    events
}

fn finished(events: &[TrainEvent]) -> (FinishReason, Option<f64>) {
    for e in events {
        if let TrainEvent::Error { message, .. } = e {
            panic!("training failed: {message}");
        }
    }
    match events.last() {
        Some(TrainEvent::Finished { reason, best_cer, .. }) => (*reason, *best_cer),
        other => panic!("no Finished event; last was {other:?}"),
    }
}

#[test]
fn learns_a_small_spoken_vocabulary_from_scratch() {
    let out = tempfile::tempdir().unwrap();
    let events = run(small_job(corpus(), out.path(), 96, 2, 18), false);
    let (reason, best) = finished(&events);
    assert_eq!(reason, FinishReason::Completed);
    let best = best.expect("validation ran");
    let curve: Vec<String> = events
        .iter()
        .filter_map(|e| match e {
            TrainEvent::Epoch(e) => Some(format!("{:.1}", e.val_cer.unwrap_or(f64::NAN))),
            _ => None,
        })
        .collect();
    eprintln!("validation CER per epoch: {}", curve.join(" "));
    assert!(best <= 10.0, "validation CER {best:.2}% > 10% (curve: {curve:?})");

    // The saved best model reproduces that CER on the validation utterances.
    let model = Model::load(out.path()).unwrap();
    assert_eq!(model.config.training.val_cer, Some(best));
    let mut rates = hark::train::metrics::ErrorRates::new();
    let ds = hark::train::data::load_dataset(corpus(), &Alphabet::default(), 100.0 / 3.0).unwrap();
    for u in ds.utterances.iter().filter(|u| hark::train::data::is_validation(&u.id, 10.0)) {
        let samples = hark::audio::read_mono_16k(&u.audio).unwrap();
        let lp = model.log_probs(model.features(&samples).unwrap().view()).unwrap();
        let h =
            hark::ctc::decode::greedy(lp.view(), &model.config.alphabet, model.frame_duration_s());
        rates.add(&u.text, &h.text);
    }
    let cer = 100.0 * rates.cer().unwrap();
    assert!((cer - best).abs() < 1e-6, "reloaded model CER {cer} vs trainer's {best}");
}

/// Starts `job` and sends Stop once step `step` is reached; the run's events.
fn run_and_stop_at(job: TrainJob, step: u64) -> Vec<TrainEvent> {
    let h = trainer::spawn(job, false, Box::new(|| {}));
    let mut stopped = false;
    let mut events = Vec::new();
    for e in h.events.iter() {
        if let TrainEvent::Step(s) = &e
            && s.step >= step
            && !stopped
        {
            h.send(TrainCommand::Stop);
            stopped = true;
        }
        events.push(e);
    }
    h.join();
    events
}

/// Stopping a run mid-epoch and resuming it gives exactly the weights of an uninterrupted run.
#[test]
fn stopped_and_resumed_run_equals_uninterrupted_run() {
    let data = tempfile::tempdir().unwrap();
    common::espeak_corpus(data.path(), 48, 5);
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let mut job_a = small_job(data.path(), a.path(), 12, 1, 3);
    job_a.options.max_batch_size = 4;
    job_a.options.augment = Some(AugmentOptions::default()); // resume must reproduce augmentation too
    let mut job_b = job_a.clone();
    job_b.out_dir = b.path().to_path_buf();
    finished(&run(job_a, false));

    assert_eq!(finished(&run_and_stop_at(job_b.clone(), 5)).0, FinishReason::Stopped);
    let events = run(job_b, true);
    let started = events.iter().find_map(|e| match e {
        TrainEvent::Started { step, .. } => Some(*step),
        _ => None,
    });
    assert!(started.unwrap() >= 5, "resume starts where the run stopped");
    assert_eq!(finished(&events).0, FinishReason::Completed);
    let wa = std::fs::read(a.path().join("last.safetensors")).unwrap();
    let wb = std::fs::read(b.path().join("last.safetensors")).unwrap();
    assert!(wa == wb, "resumed weights differ from the uninterrupted run");

    // Fine-tuning the finished model: its record counts the training it started from too.
    let before = Model::load(a.path()).unwrap().config.training;
    assert_eq!(before.epochs, 3);
    let c = tempfile::tempdir().unwrap();
    let mut job_c = small_job(data.path(), c.path(), 12, 1, 1);
    job_c.options.max_batch_size = 4;
    job_c.start = Start::FineTune { model: a.path().to_path_buf(), widen_to: None, dropout: None };
    job_c.name = Some(" my voice ".into());
    finished(&run(job_c, false));
    assert_eq!(Model::load(c.path()).unwrap().config.name, "my voice");
    let after = Model::load(&c.path().join("last")).unwrap().config.training;
    assert_eq!(after.epochs, 4, "{after:?}");
    assert!(after.steps > before.steps && after.seconds > before.seconds, "{after:?}");
    // ... and lists the run it started from, so the data of every stage stays on record.
    assert!(before.earlier_stages.is_empty(), "{before:?}");
    let stages = after.stages_so_far();
    assert_eq!(stages.len(), 2, "{after:?}");
    assert_eq!(stages[0].dataset, before.dataset);
    assert_eq!(stages[0].train_utterances, before.train_utterances);
    assert_eq!((stages[0].train_hours, stages[0].epochs), (before.train_hours, 3));
    assert_eq!((stages[1].dataset.as_str(), stages[1].epochs), (after.dataset.as_str(), 1));

    // Fine-tuning that one widened to 20 units: the run trains and saves the wider model, with
    // the record (and the name) of the narrow one (what widening computes is checked in
    // `model::widen`).
    let d = tempfile::tempdir().unwrap();
    let mut job_d = small_job(data.path(), d.path(), 12, 1, 1);
    job_d.options.max_batch_size = 4;
    job_d.start =
        Start::FineTune { model: c.path().to_path_buf(), widen_to: Some(20), dropout: None };
    finished(&run(job_d, false));
    let wide = Model::load(&d.path().join("last")).unwrap();
    assert_eq!(wide.config.arch.hidden, 20);
    assert_eq!(wide.net.params.lstm[0].fwd.w_hh.dim(), (80, 20));
    assert_eq!(wide.config.training.epochs, 5);
    assert_eq!(wide.config.training.earlier_stages.len(), 2);
    assert_eq!(wide.config.name, "my voice");
    let saved = std::fs::read_to_string(d.path().join("train.json")).unwrap();
    assert!(saved.contains("\"widen_to\": 20"), "{saved}");

    // A fine-tune stopped, its starting model deleted, then resumed: the checkpoint kept the
    // starting model's record, so the result still counts it.
    let g = tempfile::tempdir().unwrap();
    let mut job_g = small_job(data.path(), g.path(), 12, 1, 2);
    job_g.options.max_batch_size = 4;
    job_g.start = Start::FineTune { model: c.path().to_path_buf(), widen_to: None, dropout: None };
    assert_eq!(finished(&run_and_stop_at(job_g.clone(), 2)).0, FinishReason::Stopped);
    assert!(g.path().join("checkpoint.safetensors").is_file());
    std::fs::remove_dir_all(c.path()).unwrap();
    assert_eq!(finished(&run(job_g, true)).0, FinishReason::Completed);
    let resumed = Model::load(&g.path().join("last")).unwrap().config;
    assert_eq!(resumed.name, "my voice");
    let stages = resumed.training.stages_so_far();
    assert_eq!(stages.iter().map(|s| s.epochs).collect::<Vec<_>>(), [3, 1, 2], "{stages:?}");
    assert_eq!(resumed.training.epochs, 6);
    // Narrowing is refused with a message.
    let e = tempfile::tempdir().unwrap();
    let mut job_e = small_job(data.path(), e.path(), 12, 1, 1);
    job_e.start =
        Start::FineTune { model: a.path().to_path_buf(), widen_to: Some(8), dropout: None };
    let events = run(job_e, false);
    assert_failed_with(&events, "cannot widen");
}

/// Asserts that the run ended in an error whose message contains `text`.
fn assert_failed_with(events: &[TrainEvent], text: &str) {
    assert!(
        events.iter().any(|ev| matches!(ev, TrainEvent::Error { message, .. }
            if message.contains(text))),
        "no error containing {text:?}: {:?}",
        events.last()
    );
}

/// `hark train` arguments for a tiny model (12 units, 1 layer, batches of 4) on `data`.
fn tiny_cli_run(data: &Path, run_dir: &Path, epochs: u32, extra: &[&str]) -> Vec<String> {
    let mut a: Vec<String> = vec![
        "train".into(),
        data.display().to_string(),
        "--out".into(),
        run_dir.display().to_string(),
        "--epochs".into(),
        epochs.to_string(),
    ];
    a.extend(["--hidden", "12", "--layers", "1", "--batch", "4"].map(String::from));
    a.extend(extra.iter().map(|s| s.to_string()));
    a
}

/// Polls `done` every `poll_ms` until it holds or `limit_ms` have passed (the caller asserts).
fn wait_until(limit_ms: u128, poll_ms: u64, done: impl Fn() -> bool) {
    let t0 = std::time::Instant::now();
    while !done() && t0.elapsed().as_millis() < limit_ms {
        std::thread::sleep(std::time::Duration::from_millis(poll_ms));
    }
}

/// `kill -9` at any moment leaves loadable files, and `--resume` finishes the run.
#[test]
fn killed_run_resumes_from_its_checkpoint() {
    let data = tempfile::tempdir().unwrap();
    common::espeak_corpus(data.path(), 40, 9);
    let out = tempfile::tempdir().unwrap();
    let run_dir = out.path().join("run");
    let args = |resume: bool| {
        let mut a = tiny_cli_run(data.path(), &run_dir, 4, &["--checkpoint-minutes", "0.0001"]);
        if resume {
            a.push("--resume".into());
        }
        a
    };
    let exe = env!("CARGO_BIN_EXE_hark");
    let mut child = std::process::Command::new(exe)
        .args(args(false))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Kill once the checkpoint has been replaced (atomically) at least once. Not after a fixed
    // wait: an optimized build finishes these 4 epochs within ~300 ms of its first checkpoint, and
    // a kill after the end has nothing to resume.
    let ckpt = run_dir.join("checkpoint.safetensors");
    wait_until(120_000, 5, || ckpt.exists());
    let written = |p: &std::path::Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    let first = written(&ckpt);
    wait_until(300, 2, || written(&ckpt) != first);
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(ckpt.exists(), "no checkpoint was written");
    // Every model file on disk loads.
    Model::load(&run_dir.join("last")).expect("last model loads after a kill");
    let out2 = std::process::Command::new(exe).args(args(true)).output().unwrap();
    let stderr = String::from_utf8_lossy(&out2.stderr);
    assert!(out2.status.success(), "resume failed: {stderr}");
    assert!(stderr.contains("resuming at step"), "resume message missing: {stderr}");
    let m = Model::load(&run_dir).unwrap();
    assert_eq!(m.config.training.epochs, 4);
}

/// Ctrl-C stops `hark train` after the current step with a checkpoint of every step taken, and
/// `--resume` starts exactly there.
#[test]
fn interrupted_run_saves_every_step_and_resumes_there() {
    let data = tempfile::tempdir().unwrap();
    common::espeak_corpus(data.path(), 40, 13);
    let out = tempfile::tempdir().unwrap();
    let run_dir = out.path().join("run");
    let mut args = tiny_cli_run(data.path(), &run_dir, 30, &["--patience", "100"]);
    let exe = env!("CARGO_BIN_EXE_hark");
    let child = std::process::Command::new(exe)
        .args(&args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Interrupt once training is under way: some steps are in the log (the default periodic
    // checkpoint, every 10 minutes, has not come yet).
    let log = run_dir.join("log.jsonl");
    let steps_logged =
        || std::fs::read_to_string(&log).map_or(0, |t| t.matches("\"loss\"").count());
    wait_until(120_000, 5, || steps_logged() >= 3);
    assert!(steps_logged() >= 3, "training did not start");
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let stopped = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&stopped.stderr);
    assert_eq!(stopped.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("finished (stopped") && stderr.contains("--resume"), "{stderr}");
    let taken = steps_logged();
    assert!(taken < 300, "the run ended before the interrupt arrived ({taken} steps)");
    assert!(run_dir.join("checkpoint.safetensors").exists());
    args.push("--resume".into());
    let resumed = std::process::Command::new(exe).args(&args).output().unwrap();
    let stderr = String::from_utf8_lossy(&resumed.stderr);
    assert!(resumed.status.success(), "resume failed: {stderr}");
    assert!(stderr.contains(&format!("resuming at step {taken},")), "{taken} steps: {stderr}");
    assert_eq!(Model::load(&run_dir.join("last")).unwrap().config.training.epochs, 30);
}

#[test]
fn bad_data_is_reported_and_training_goes_on() {
    let data = tempfile::tempdir().unwrap();
    common::espeak_corpus(data.path(), 24, 21);
    let d = data.path();
    std::fs::write(d.join("text.wav"), "this is not audio").unwrap();
    std::fs::write(d.join("text.txt"), "hello").unwrap();
    std::fs::copy(d.join("u0000.wav"), d.join("digits.wav")).unwrap();
    std::fs::write(d.join("digits.txt"), "room 101").unwrap();
    std::fs::copy(d.join("u0001.wav"), d.join("long.wav")).unwrap();
    std::fs::write(d.join("long.txt"), "a".repeat(400)).unwrap();
    let out = tempfile::tempdir().unwrap();
    let events = run(small_job(d, out.path(), 8, 1, 1), false);
    let report = events
        .iter()
        .find_map(|e| match e {
            TrainEvent::Dataset { train, .. } => Some(train.to_string()),
            _ => None,
        })
        .expect("a dataset report");
    assert!(report.contains("text.wav") && report.contains("unreadable audio"), "{report}");
    assert!(report.contains("digits.txt") && report.contains("'1'"), "{report}");
    assert!(report.contains("long.wav") && report.contains("too short"), "{report}");
    assert_eq!(finished(&events).0, FinishReason::Completed);
}

/// A fine-tune given its own dropout rate trains at it and saves it with the model (the weights
/// are the model's); a single-layer model, which has no layers to drop between, is refused.
#[test]
fn fine_tuning_can_change_the_dropout_rate() {
    let data = tempfile::tempdir().unwrap();
    common::espeak_corpus(data.path(), 12, 23);
    let base = tempfile::tempdir().unwrap();
    finished(&run(small_job(data.path(), base.path(), 8, 2, 1), false));
    assert_eq!(Model::load(base.path()).unwrap().config.arch.dropout, 0.0);

    let out = tempfile::tempdir().unwrap();
    let mut job = small_job(data.path(), out.path(), 8, 2, 1);
    job.start =
        Start::FineTune { model: base.path().to_path_buf(), widen_to: None, dropout: Some(0.25) };
    assert_eq!(finished(&run(job, false)).0, FinishReason::Completed);
    let tuned = Model::load(&out.path().join("last")).unwrap();
    assert_eq!(tuned.config.arch.dropout, 0.25);
    assert_eq!(tuned.config.arch.hidden, 8);
    let saved = std::fs::read_to_string(out.path().join("train.json")).unwrap();
    assert!(saved.contains("\"dropout\": 0.25"), "{saved}");

    let one = tempfile::tempdir().unwrap();
    finished(&run(small_job(data.path(), one.path(), 8, 1, 1), false));
    let out1 = tempfile::tempdir().unwrap();
    let mut job = small_job(data.path(), out1.path(), 8, 1, 1);
    job.start =
        Start::FineTune { model: one.path().to_path_buf(), widen_to: None, dropout: Some(0.2) };
    let events = run(job, false);
    assert_failed_with(&events, "single LSTM layer");
}

#[test]
fn empty_folder_is_a_clear_error() {
    let data = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let events = run(small_job(data.path(), out.path(), 8, 1, 1), false);
    match events.last() {
        Some(TrainEvent::Error { message, input_error }) => {
            assert!(message.contains(&data.path().display().to_string()), "{message}");
            assert!(input_error);
        }
        other => panic!("expected an error, got {other:?}"),
    }
    // And the CLI says so with exit code 2.
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_hark"))
        .args([
            "train",
            &data.path().display().to_string(),
            "--out",
            &out.path().join("r").display().to_string(),
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", String::from_utf8_lossy(&o.stderr));
}

/// The whole model and the CTC loss together, in f64: central differences against backprop for
/// every parameter element.
#[test]
fn whole_model_through_ctc_matches_finite_differences() {
    let cfg = ArchConfig {
        input_dim: 3,
        hidden: 3,
        layers: 2,
        stack_frames: 2,
        subsample: 2,
        num_labels: 4,
        dropout: 0.0,
        forget_bias: 1.0,
        seed: 7,
    };
    let mut model: AcousticModel<f64> = AcousticModel::<f32>::new(cfg).unwrap().cast();
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let lengths = [9usize, 6];
    let x = Array3::from_shape_fn((9, 2, 3), |_| rng.random_range(-1.0..1.0));
    let targets = vec![vec![1usize, 2, 2], vec![3usize]];
    let loss = |m: &AcousticModel<f64>| -> f64 {
        let (logits, _) =
            m.forward(x.view(), &lengths, false, &mut ChaCha8Rng::seed_from_u64(0)).unwrap();
        let out_l = m.out_lengths(&lengths);
        CtcLoss::<f64>::new()
            .compute(logits.view(), &out_l, &targets, Reduction::Mean)
            .unwrap()
            .loss
    };
    let (logits, cache) =
        model.forward(x.view(), &lengths, false, &mut ChaCha8Rng::seed_from_u64(0)).unwrap();
    let out_l = model.out_lengths(&lengths);
    let ctc =
        CtcLoss::<f64>::new().compute(logits.view(), &out_l, &targets, Reduction::Mean).unwrap();
    assert!(ctc.impossible.is_empty());
    let mut grads = model.new_grads();
    model.backward(cache, ctc.grad.view(), &mut grads);
    let analytic: Vec<Vec<f64>> = grads.as_slices().iter().map(|s| s.to_vec()).collect();
    let eps = 1e-6;
    let mut worst = (0.0f64, String::new());
    for (k, grad) in analytic.iter().enumerate() {
        let name = model.params()[k].0.clone();
        for (i, &a) in grad.iter().enumerate() {
            let orig = model.params_mut()[k][i];
            model.params_mut()[k][i] = orig + eps;
            let lp = loss(&model);
            model.params_mut()[k][i] = orig - eps;
            let lm = loss(&model);
            model.params_mut()[k][i] = orig;
            let fd = (lp - lm) / (2.0 * eps);
            let rel = (fd - a).abs() / fd.abs().max(a.abs()).max(1e-3);
            if rel > worst.0 {
                worst = (rel, format!("{name}[{i}]: finite difference {fd:e}, backprop {a:e}"));
            }
        }
    }
    assert!(worst.0 < 1e-5, "worst relative error {:e} at {}", worst.0, worst.1);
}

/// Save → load gives the same config and bit-identical outputs.
#[test]
fn model_round_trip_gives_identical_outputs() {
    let cfg = ModelConfig::new(
        ArchConfig {
            hidden: 16,
            layers: 2,
            stack_frames: 3,
            subsample: 3,
            ..ArchConfig::default()
        },
        FeatureOptions { normalization: Normalization::Utterance, ..FeatureOptions::default() },
        Alphabet::default(),
    );
    let model = Model::new(cfg).unwrap();
    let dir = tempfile::tempdir().unwrap();
    model.save(dir.path()).unwrap();
    let back = Model::load(dir.path()).unwrap();
    assert_eq!(back.config, model.config);
    let samples: Vec<f32> = (0..16000).map(|i| ((i as f32) * 0.05).sin() * 0.3).collect();
    let f = model.features(&samples).unwrap();
    let a = model.log_probs(f.view()).unwrap();
    let b = back.log_probs(back.features(&samples).unwrap().view()).unwrap();
    assert_eq!(a, b);
    assert_eq!(a.len_of(Axis(0)), f.nrows().div_ceil(3));
}

/// Runs the `hark` binary; (exit code, stdout, stderr).
fn hark_cli(args: &[String]) -> (i32, String, String) {
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_hark")).args(args).output().unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// Epoch records in a run's log.jsonl.
fn logged_epochs(run_dir: &Path) -> usize {
    std::fs::read_to_string(run_dir.join("log.jsonl"))
        .unwrap()
        .lines()
        .filter(|l| l.starts_with("{\"epoch\":{"))
        .count()
}

/// A second `hark train` into a folder that holds a run is refused (naming what is there) and
/// changes nothing; `--force` replaces it with a log of its own; a run cannot replace the model
/// it starts from.
#[test]
fn a_second_run_never_replaces_a_model_without_consent() {
    let data = tempfile::tempdir().unwrap();
    common::espeak_corpus(data.path(), 16, 31);
    let out = tempfile::tempdir().unwrap();
    let run_dir = out.path().join("run");
    let (code, _, err) = hark_cli(&tiny_cli_run(data.path(), &run_dir, 2, &[]));
    assert_eq!(code, 0, "{err}");
    let weights = std::fs::read(run_dir.join("model.safetensors")).unwrap();
    let config = std::fs::read(run_dir.join("model.json")).unwrap();
    assert_eq!(logged_epochs(&run_dir), 2);

    let (code, _, err) = hark_cli(&tiny_cli_run(data.path(), &run_dir, 1, &["--seed", "2"]));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("already holds a 1×12 model") && err.contains("model.json"), "{err}");
    assert!(err.contains("--resume") && err.contains("--force"), "{err}");
    assert_eq!(std::fs::read(run_dir.join("model.safetensors")).unwrap(), weights);
    assert_eq!(std::fs::read(run_dir.join("model.json")).unwrap(), config);
    assert_eq!(logged_epochs(&run_dir), 2);

    let (code, _, err) = hark_cli(&tiny_cli_run(data.path(), &run_dir, 1, &["--force"]));
    assert_eq!(code, 0, "{err}");
    assert_eq!(logged_epochs(&run_dir), 1, "the replaced run's log is gone");
    assert_eq!(Model::load(&run_dir).unwrap().config.training.epochs, 1);

    // Fine-tuning the run's own model into its own folder would delete what it starts from.
    let (code, _, err) = hark_cli(&[
        "train".into(),
        data.path().display().to_string(),
        "--out".into(),
        run_dir.display().to_string(),
        "--init".into(),
        run_dir.display().to_string(),
        "--force".into(),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("the model this run starts from"), "{err}");
    assert!(Model::load(&run_dir).is_ok());

    // Without --out a run gets a fresh, readable folder under runs/.
    let cwd = tempfile::tempdir().unwrap();
    let mut args = tiny_cli_run(data.path(), &run_dir, 1, &["--name", "My voice"]);
    let at = args.iter().position(|a| a == "--out").unwrap();
    args.drain(at..at + 2);
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_hark"))
        .args(&args)
        .current_dir(cwd.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let runs: Vec<String> = std::fs::read_dir(cwd.path().join("runs"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert!(runs[0].starts_with("my-voice-20"), "{runs:?}");
}

/// A tiny ARPA LM over the corpus words (and the decoder settings that name it).
fn tiny_decoder(dir: &Path) {
    let arpa = "\\data\\\nngram 1=6\n\n\\1-grams:\n-2.0\t<unk>\n-99\t<s>\n-0.5\t</s>\n-0.6\tyes\n-0.6\tno\n-0.6\tstop\n\n\\end\\\n";
    std::fs::write(dir.join("words.arpa"), arpa).unwrap();
    std::fs::write(
        dir.join("decoder.json"),
        r#"{"lm": "words.arpa", "lm_weight": 0.7, "word_bonus": 1.5, "blank_penalty": 0.5, "beam": 8, "note": "by hand"}"#,
    )
    .unwrap();
}

/// A fine-tuned model keeps its starting model's decoder and word LM (a copy, so the run folder
/// can move), and `hark transcribe` decodes with them; the starting model's CER on the run's
/// validation set is recorded as the "before".
#[test]
fn fine_tuned_model_keeps_its_decoder_and_language_model() {
    let data = tempfile::tempdir().unwrap();
    common::espeak_corpus(data.path(), 24, 33);
    let out = tempfile::tempdir().unwrap();
    let base = out.path().join("base");
    let (code, _, err) = hark_cli(&tiny_cli_run(data.path(), &base, 1, &[]));
    assert_eq!(code, 0, "{err}");
    tiny_decoder(&base);
    let tuned = out.path().join("tuned");
    let fine_tune: Vec<String> = ["train", &data.path().display().to_string(), "--out"]
        .iter()
        .map(|s| s.to_string())
        .chain([tuned.display().to_string()])
        .chain(["--epochs", "1", "--batch", "4", "--val-percent", "25", "--init"].map(String::from))
        .chain([base.display().to_string()])
        .collect();
    let (code, stdout, err) = hark_cli(&fine_tune);
    assert_eq!(code, 0, "{err}");
    assert!(
        stdout.contains("before fine-tuning: the starting model on the validation set"),
        "{stdout}"
    );
    // Too few validation utterances to re-tune: kept as carried, and said so.
    assert!(err.contains("is kept as the starting model had it"), "{err}");
    assert_eq!(
        std::fs::read(tuned.join("words.arpa")).unwrap(),
        std::fs::read(base.join("words.arpa")).unwrap()
    );
    let d: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(tuned.join("decoder.json")).unwrap())
            .unwrap();
    assert_eq!(d["lm"], "words.arpa");
    assert_eq!((d["lm_weight"].as_f64(), d["beam"].as_u64()), (Some(0.7), Some(8)));
    assert_eq!(d["blank_penalty"].as_f64(), Some(0.5));
    assert!(d["note"].as_str().unwrap().contains("carried from"), "{d}");
    let m = Model::load(&tuned).unwrap();
    assert!(m.config.training.start_val_cer.is_some());
    assert!(m.config.training.validation.contains("voices in the training data"));

    // Moved elsewhere, it still decodes with its LM.
    let moved = out.path().join("moved");
    std::fs::rename(&tuned, &moved).unwrap();
    std::fs::remove_dir_all(&base).unwrap();
    let wav = data.path().join("u0000.wav").display().to_string();
    let json = out.path().join("t.json");
    let (code, _, err) = hark_cli(&[
        "eval".into(),
        data.path().display().to_string(),
        "--model".into(),
        moved.display().to_string(),
        "--json".into(),
        json.display().to_string(),
    ]);
    assert_eq!(code, 0, "{err}");
    let ev: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert!(ev["lm"].as_str().unwrap().ends_with("moved/words.arpa"), "{ev}");
    assert_eq!((&ev["beam"], ev["blank_penalty"].as_f64()), (&8.into(), Some(0.5)));
    let (code, _, err) =
        hark_cli(&["transcribe".into(), wav, "--model".into(), moved.display().to_string()]);
    assert_eq!(code, 0, "{err}");
}

/// `hark eval` (greedy) on the validation folder scores exactly what the trainer's validation
/// reported for the saved model.
#[test]
fn eval_equals_the_trainers_validation() {
    let data = tempfile::tempdir().unwrap();
    common::espeak_corpus(data.path(), 32, 35);
    let val = tempfile::tempdir().unwrap();
    common::espeak_corpus(val.path(), 12, 36);
    let out = tempfile::tempdir().unwrap();
    let run_dir = out.path().join("run");
    let v = val.path().display().to_string();
    let (code, _, err) =
        hark_cli(&tiny_cli_run(data.path(), &run_dir, 6, &["--val", &v, "--lr", "3e-3"]));
    assert_eq!(code, 0, "{err}");
    let t = Model::load(&run_dir).unwrap().config.training;
    let json = out.path().join("e.json");
    let (code, _, err) = hark_cli(&[
        "eval".into(),
        v,
        "--model".into(),
        run_dir.display().to_string(),
        "--no-lm".into(),
        "--json".into(),
        json.display().to_string(),
    ]);
    assert_eq!(code, 0, "{err}");
    let ev: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let (cer, wer) = (100.0 * ev["cer"].as_f64().unwrap(), 100.0 * ev["wer"].as_f64().unwrap());
    assert!(
        (cer - t.val_cer.unwrap()).abs() < 1e-9,
        "eval CER {cer} vs validation {:?}",
        t.val_cer
    );
    assert!(
        (wer - t.val_wer.unwrap()).abs() < 1e-9,
        "eval WER {wer} vs validation {:?}",
        t.val_wer
    );
    assert!(cer < 100.0, "the model learned nothing, so the check proves little: CER {cer}");
}

/// The learning rate never goes down before the warm-up has ended, however often validation
/// fails to improve (patience 0 would otherwise halve it after every epoch).
#[test]
fn no_learning_rate_decrease_before_warm_up_ends() {
    let data = tempfile::tempdir().unwrap();
    common::espeak_corpus(data.path(), 24, 37);
    let out = tempfile::tempdir().unwrap();
    let mut job = small_job(data.path(), out.path(), 8, 1, 5);
    job.options.learning_rate = 1e-4;
    job.options.max_batch_size = 4;
    job.options.warmup_steps = Some(100);
    job.options.plateau_patience = Some(0);
    let events = run(job, false);
    finished(&events);
    let lrs: Vec<(u64, f64)> = events
        .iter()
        .filter_map(|e| match e {
            TrainEvent::Step(s) => Some((s.step, s.learning_rate)),
            _ => None,
        })
        .collect();
    assert!(lrs.len() >= 20 && lrs.len() < 100, "{} steps", lrs.len());
    for (step, lr) in &lrs {
        // Update `s` (0-based; StepInfo.step counts it done) uses lr · (s + 1) / warmup.
        let want = 1e-4 * *step as f64 / 100.0;
        assert!((lr - want).abs() < 1e-12, "step {step}: lr {lr}, warm-up wants {want}");
    }
}

/// `--keep-epochs` keeps every epoch's weights (the newest equal to `last`), `hark average`
/// makes their mean into a model that carries the run's decoder and LM and records what it
/// averaged and its validation figures, and neither replaces a model without consent.
#[test]
fn kept_epochs_average_into_a_model_that_keeps_its_decoder() {
    let data = tempfile::tempdir().unwrap();
    common::espeak_corpus(data.path(), 16, 37);
    let out = tempfile::tempdir().unwrap();
    let run_dir = out.path().join("run");
    let (code, _, err) = hark_cli(&tiny_cli_run(data.path(), &run_dir, 3, &["--keep-epochs"]));
    assert_eq!(code, 0, "{err}");
    for n in 1..=3 {
        for ext in ["json", "safetensors"] {
            assert!(run_dir.join(format!("epoch-00{n}.{ext}")).is_file(), "epoch {n} {ext}");
        }
    }
    assert_eq!(
        std::fs::read(run_dir.join("epoch-003.safetensors")).unwrap(),
        std::fs::read(run_dir.join("last.safetensors")).unwrap()
    );
    let e2 = Model::load(&run_dir.join("epoch-002.json")).unwrap();
    let e3 = Model::load(&run_dir.join("epoch-003.json")).unwrap();
    assert_eq!((e2.config.training.epochs, e3.config.training.epochs), (2, 3));
    tiny_decoder(&run_dir);

    let avg_dir = out.path().join("avg");
    let average = |extra: &[&str]| {
        let mut a: Vec<String> = vec![
            "average".into(),
            run_dir.join("epoch-002.json").display().to_string(),
            run_dir.join("epoch-003.json").display().to_string(),
            "--out".into(),
            avg_dir.display().to_string(),
        ];
        a.extend(extra.iter().map(|s| s.to_string()));
        hark_cli(&a)
    };
    let (code, stdout, err) = average(&["--val", &data.path().display().to_string()]);
    assert_eq!(code, 0, "{err}");
    assert!(stdout.contains("epoch-003.json: validation CER"), "{stdout}");
    assert!(stdout.contains("average of 2: validation CER"), "{stdout}");
    let avg = Model::load(&avg_dir).unwrap();
    let mut largest_gap = 0f32;
    for ((a, b), m) in e2.net.params().iter().zip(e3.net.params()).zip(avg.net.params()) {
        assert_eq!(a.0, m.0);
        for ((x, y), z) in a.2.iter().zip(b.2).zip(m.2) {
            assert!((0.5 * (x + y) - z).abs() < 1e-6, "{}: {x} {y} -> {z}", m.0);
            largest_gap = largest_gap.max((x - y).abs());
        }
    }
    assert!(largest_gap > 1e-4, "epochs 2 and 3 are the same weights: the check proves little");
    let t = &avg.config.training;
    assert_eq!(t.averaged_from.len(), 2);
    assert!(t.averaged_from[1].ends_with("epoch-003.json"), "{:?}", t.averaged_from);
    assert!(t.val_cer.is_some() && t.validation.contains("utterances of the validation folder"));
    assert_eq!(t.epochs, 3);
    assert_eq!(
        std::fs::read(avg_dir.join("words.arpa")).unwrap(),
        std::fs::read(run_dir.join("words.arpa")).unwrap()
    );
    let d: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(avg_dir.join("decoder.json")).unwrap())
            .unwrap();
    assert_eq!((d["lm"].as_str(), d["lm_weight"].as_f64()), (Some("words.arpa"), Some(0.7)));
    assert!(d["note"].as_str().unwrap().contains("newest of the 2 averaged models"), "{d}");

    // A second average into the same folder is refused and changes nothing; --force replaces.
    let weights = std::fs::read(avg_dir.join("model.safetensors")).unwrap();
    let (code, _, err) = average(&[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("already holds") && err.contains("--force"), "{err}");
    assert_eq!(std::fs::read(avg_dir.join("model.safetensors")).unwrap(), weights);
    let (code, _, err) = average(&["--force"]);
    assert_eq!(code, 0, "{err}");
    // Averaging into one of the inputs' own folder is refused even with --force.
    let (code, _, err) = hark_cli(&[
        "average".into(),
        run_dir.join("epoch-001.json").display().to_string(),
        avg_dir.display().to_string(),
        "--out".into(),
        avg_dir.display().to_string(),
        "--force".into(),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("is one of the models to average"), "{err}");
    // A model of another shape cannot be averaged in.
    let other = out.path().join("other");
    let mut args = tiny_cli_run(data.path(), &other, 1, &[]);
    let at = args.iter().position(|a| a == "12").unwrap();
    args[at] = "10".into();
    let (code, _, err) = hark_cli(&args);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = hark_cli(&[
        "average".into(),
        other.display().to_string(),
        run_dir.join("epoch-003.json").display().to_string(),
        "--out".into(),
        out.path().join("mixed").display().to_string(),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("cannot be averaged") && err.contains("architecture 1×10"), "{err}");
    assert!(!out.path().join("mixed").join("model.json").exists());

    // A replacing run clears the kept epochs of the run it replaces.
    let (code, _, err) = hark_cli(&tiny_cli_run(data.path(), &run_dir, 1, &["--force"]));
    assert_eq!(code, 0, "{err}");
    assert!(!run_dir.join("epoch-002.json").exists() && !run_dir.join("epoch-001.json").exists());
}
