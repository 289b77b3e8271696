//! The trainer: a background thread that turns a labeled folder into a model, driven by typed
//! commands and reporting typed events (design habit 14). The CLI and the GUI both use it.
//!
//! Shapes: `T` feature frames, `T'` network frames, `B` batch, `D` features, `V` labels.
//!
//! A run lives in one directory:
//! - `train.json`: what was asked (written before the first step, so a run can be resumed);
//! - `model.json` + `model.safetensors`: the best weights so far by validation CER (what
//!   `hark transcribe --model DIR` uses);
//! - `last.json` + `last.safetensors`: the newest weights;
//! - `checkpoint.safetensors`: newest weights + Adam moments + trainer state, for `--resume`;
//! - `log.jsonl`: one JSON line per step and per epoch.
//!
//! Every file is written atomically (temporary file, then rename), so killing the process at any
//! moment loses at most the work since the last checkpoint and never leaves a half-written model.
//! Randomness is a pure function of (seed, epoch, utterance) or (seed, step), so a resumed run
//! draws exactly what the uninterrupted run would have drawn.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, Sender, TryRecvError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ndarray::Axis;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::ctc::decode::greedy;
use crate::ctc::loss::{CtcLoss, Reduction};
use crate::features::{self, CmvnAccumulator, FeatureOptions, Normalization};
use crate::model::acoustic::{AcousticModel, AcousticParams};
use crate::model::file;
use crate::model::{Model, ModelConfig};
use crate::nn::optim::{
    Adam, AdamConfig, EarlyStop, EarlyStopping, EarlyStoppingConfig, LrSchedule, LrScheduleConfig,
    clip_grad_norm,
};
use crate::train::augment::Augmenter;
use crate::train::data::{
    self, BatchBuilder, BatchOptions, BatchPlan, FeatureCache, Utterance, ValidationSplit,
};
pub use crate::train::job::{
    Baseline, EpochInfo, FEW_VALIDATION_UTTERANCES, FinishReason, RETUNE_MIN_UTTERANCES, Sample,
    Start, StepInfo, TrainCommand, TrainEvent, TrainJob, TrainOptions,
};
use crate::train::metrics::ErrorRates;
use crate::train::recipe;
pub use crate::train::run_dir::{
    carry_decoder, describe_existing_run, describe_validation, epoch_weights_stem, existing_run,
    saved_job,
};
use crate::{Error, Result};

/// Relative noise on the incoming weights of the units a widened model copies (breaks the
/// symmetry between a unit and its copy; the logits move by well under 1 %).
const WIDEN_NOISE: f64 = 0.01;

/// The grid a fine-tune's carried decoder is re-tuned over (plus the carried point).
const RETUNE_WEIGHTS: [f32; 5] = [0.25, 0.5, 0.75, 1.0, 1.5];
const RETUNE_BONUSES: [f32; 6] = [-1.5, -0.5, 0.0, 1.0, 2.0, 3.0];

/// What a checkpoint stores besides weights and Adam state.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct TrainerState {
    /// Epoch in progress (0-based) and batches of it already done.
    epoch: u64,
    batch_in_epoch: usize,
    step: u64,
    schedule: LrSchedule,
    early: EarlyStopping,
    best_cer: Option<f64>,
    /// Running sum of the epoch's losses (to report its mean).
    epoch_loss_sum: f64,
    epoch_loss_count: u64,
    seconds: f64,
    config: ModelConfig,
    finished: Option<FinishReason>,
    /// The training record of the model the run started from (empty from scratch), kept here so
    /// a resumed run counts it even if that model has changed or is gone by then. `None` in
    /// checkpoints written before it was kept: then it is read from the model again.
    #[serde(default)]
    prior: Option<crate::model::TrainingInfo>,
    /// A fine-tune's "before" (measured once, before the first step).
    #[serde(default)]
    baseline: Option<Baseline>,
}

/// The owner's side of a running trainer.
pub struct TrainerHandle {
    commands: Sender<TrainCommand>,
    pub events: Receiver<TrainEvent>,
    thread: Option<JoinHandle<()>>,
}

impl TrainerHandle {
    pub fn send(&self, c: TrainCommand) {
        // The trainer may already have finished; then there is nobody to tell.
        let _ = self.commands.send(c);
    }
    /// A sender for commands that outlives borrows of the handle (e.g. for a signal handler).
    pub fn commander(&self) -> Sender<TrainCommand> {
        self.commands.clone()
    }
    /// True once the training thread has ended.
    pub fn is_finished(&self) -> bool {
        self.thread.as_ref().is_none_or(|t| t.is_finished())
    }
    /// Waits for the thread to end.
    pub fn join(mut self) {
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for TrainerHandle {
    fn drop(&mut self) {
        if let Some(t) = self.thread.take() {
            let _ = self.commands.send(TrainCommand::Stop);
            let _ = t.join();
        }
    }
}

/// Starts training in a background thread. `resume` continues the run in `job.out_dir` from its
/// checkpoint (the job must match the saved one in data and architecture). `notify` is called
/// after every event (the GUI passes `ctx.request_repaint`).
pub fn spawn(job: TrainJob, resume: bool, notify: Box<dyn Fn() + Send + Sync>) -> TrainerHandle {
    let (ctx, crx) = mpsc::channel();
    let (etx, erx) = mpsc::channel();
    let thread = std::thread::Builder::new()
        .name("hark-trainer".into())
        .spawn(move || {
            let emit = Emitter { tx: etx, notify };
            let mut run = Run { commands: crx, emit: &emit, paused: false };
            if let Err(e) = run.train(job, resume) {
                let input_error = e.is_input_error();
                emit.send(TrainEvent::Error { message: e.to_string(), input_error });
            }
        })
        .expect("spawning a thread");
    TrainerHandle { commands: ctx, events: erx, thread: Some(thread) }
}

struct Emitter {
    tx: Sender<TrainEvent>,
    notify: Box<dyn Fn() + Send + Sync>,
}

impl Emitter {
    fn send(&self, e: TrainEvent) {
        let _ = self.tx.send(e);
        (self.notify)();
    }
}

struct Run<'a> {
    commands: Receiver<TrainCommand>,
    emit: &'a Emitter,
    paused: bool,
}

/// Outcome of looking at the command queue between steps.
enum Control {
    Go,
    SaveNow,
    Stop,
}

impl Run<'_> {
    /// Handles queued commands; blocks while paused.
    fn poll(&mut self) -> Control {
        let mut save = false;
        loop {
            let c = if self.paused {
                match self.commands.recv() {
                    Ok(c) => c,
                    Err(_) => return Control::Stop,
                }
            } else {
                match self.commands.try_recv() {
                    Ok(c) => c,
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => return Control::Stop,
                }
            };
            match c {
                TrainCommand::Pause => {
                    if !self.paused {
                        self.paused = true;
                        self.emit.send(TrainEvent::Paused);
                    }
                }
                TrainCommand::Resume => {
                    if self.paused {
                        self.paused = false;
                        self.emit.send(TrainEvent::Resumed);
                    }
                }
                TrainCommand::Stop => return Control::Stop,
                TrainCommand::SaveNow => save = true,
            }
        }
        if save { Control::SaveNow } else { Control::Go }
    }

    fn train(&mut self, job: TrainJob, resume: bool) -> Result<()> {
        job.options.validate()?;
        // Missing data is refused before the run folder exists, so a mistyped path leaves no
        // empty run behind.
        job.check_data_exists()?;
        let dir = &job.out_dir;
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        // A run killed while saving (kill -9, power loss) leaves its unfinished file beside the
        // intact old one; nothing else writes into a run folder, so clear them (2 s old: not one
        // another process is writing this instant).
        crate::util::remove_partial_files(dir, std::time::Duration::from_secs(2));
        let job_path = dir.join("train.json");
        let ckpt_path = dir.join("checkpoint.safetensors");
        let opts = job.options.clone();

        // The model config (front end, alphabet, architecture) comes from the start point.
        let (mut model, fresh_cmvn) = if resume {
            (resumed_model(&job, &job_path, &ckpt_path)?, false)
        } else {
            clear_for_new_run(&job)?;
            start_model(&job)?
        };
        // A blank name keeps the starting model's (the CLI and the GUI pass what was typed).
        if let Some(name) = job.name.as_deref().map(str::trim).filter(|n| !n.is_empty() && !resume)
        {
            model.config.name = name.to_string();
        }
        if !resume {
            write_json(&job_path, &job)?;
            if let Start::FineTune { model: init, .. } = &job.start {
                carry_decoder(init, dir)?;
            }
        }

        let (train, val) = self.load_data(&job, &model)?;
        if fresh_cmvn {
            model.config.cmvn = Some(self.global_cmvn(&model.config.features, &train)?);
        }

        let feature_opts = model.config.features.clone();
        let cmvn = model.config.cmvn.clone();
        let feature_fn = move |s: &[f32], warp: f64| {
            features::compute_warped(&feature_opts, cmvn.as_ref(), s, warp)
        };
        let cache = FeatureCache::new(opts.feature_cache_mib << 20);
        let train_hours = train.iter().map(|u| u.duration_s).sum::<f64>() / 3600.0;
        let augment = opts.augment.clone().unwrap_or_else(|| recipe::auto_augment(train_hours));
        let augmenter = Augmenter::new(augment, opts.seed)?;
        let durations: Vec<f64> = train.iter().map(|u| u.duration_s).collect();
        let batch_opts = BatchOptions {
            max_batch_frames: opts.max_batch_frames,
            max_batch_size: opts.max_batch_size,
            feature_frames_per_second: 1000.0 / model.config.features.frame_shift_ms,
        };
        let plan = BatchPlan::new(&durations, &batch_opts)?;
        let val_plan =
            BatchPlan::new(&val.iter().map(|u| u.duration_s).collect::<Vec<_>>(), &batch_opts)?;
        let builder = BatchBuilder {
            utterances: &train,
            cache: &cache,
            features: &feature_fn,
            augmenter: Some(&augmenter),
        };
        let val_builder = BatchBuilder {
            utterances: &val,
            cache: &cache,
            features: &feature_fn,
            augmenter: None,
        };

        // Optimizer, schedule and state: fresh, or from the checkpoint.
        let steps_per_epoch = plan.batches().len();
        let (adam, mut state) = if resume {
            from_checkpoint(&mut model, &ckpt_path)?
        } else {
            fresh_state(&job, &model, steps_per_epoch)?
        };
        let prior = prior_record(&state, &job);
        state.prior = Some(prior.clone());
        if let Some(reason) = state.finished {
            self.emit.send(TrainEvent::Finished {
                reason,
                best_cer: state.best_cer,
                model: job.out_dir.clone(),
            });
            return Ok(());
        }
        state.config = model.config.clone();
        let mut log = Log::open(&dir.join("log.jsonl"))?;
        self.emit.send(TrainEvent::Started {
            step: state.step,
            epoch: state.epoch,
            steps_per_epoch,
            epochs: opts.epochs,
        });

        let grads = model.net.new_grads();
        let mut fit = Fit { model, adam, state, grads, ctc: CtcLoss::<f32>::new() };
        // The "before" of a fine-tune: the starting model on this run's validation set.
        if matches!(job.start, Start::FineTune { .. })
            && fit.state.step == 0
            && fit.state.baseline.is_none()
            && let Some(v) =
                self.validate(&fit.model, &val, &val_plan, &val_builder, &mut fit.ctc, 0)?
        {
            let b = Baseline { val_cer: v.cer, val_wer: v.wer };
            log.line(&serde_json::json!({ "baseline": &b }))?;
            self.emit.send(TrainEvent::Baseline(b.clone()));
            fit.state.baseline = Some(b);
        }
        let mut last_ckpt = Instant::now();
        let run_start = Instant::now();
        let seconds_before = fit.state.seconds;
        let mut step_time = Ema::new(0.1);
        let reason = 'epochs: loop {
            if fit.state.epoch >= opts.epochs {
                break FinishReason::Completed;
            }
            let epoch_start = Instant::now();
            let order = plan.epoch(opts.seed, fit.state.epoch);
            while fit.state.batch_in_epoch < order.len() {
                match self.poll() {
                    Control::Stop => {
                        fit.state.seconds = seconds_before + run_start.elapsed().as_secs_f64();
                        self.checkpoint(&fit, &ckpt_path)?;
                        break 'epochs FinishReason::Stopped;
                    }
                    Control::SaveNow => {
                        self.checkpoint(&fit, &ckpt_path)?;
                        last_ckpt = Instant::now();
                    }
                    Control::Go => {}
                }
                let t0 = Instant::now();
                let indices = order[fit.state.batch_in_epoch];
                let audio_s: f64 = indices.iter().map(|&i| train[i].duration_s).sum();
                let step = fit.state.step;
                let outcome = self.step(&mut fit, &builder, &train, indices, &opts)?;
                fit.state.batch_in_epoch += 1;
                fit.state.step += 1;
                let ms = t0.elapsed().as_secs_f64() * 1e3;
                step_time.add(ms);
                match outcome.skipped {
                    Some(reason) => {
                        log.line(&serde_json::json!({"skipped": step, "reason": reason}))?;
                        self.emit.send(TrainEvent::Skipped { step, reason });
                    }
                    None => {
                        let state = &mut fit.state;
                        state.epoch_loss_sum += outcome.loss;
                        state.epoch_loss_count += 1;
                        let remaining = (order.len() - state.batch_in_epoch) as f64
                            + (opts.epochs - state.epoch - 1) as f64 * order.len() as f64;
                        let info = StepInfo {
                            step: state.step,
                            epoch: state.epoch,
                            batch: state.batch_in_epoch,
                            batches: order.len(),
                            loss: outcome.loss,
                            learning_rate: outcome.lr,
                            grad_norm: outcome.norm,
                            ms,
                            audio_per_s: audio_s / (ms / 1e3),
                            eta_s: remaining * step_time.value() / 1e3,
                        };
                        log.line(&info)?;
                        self.emit.send(TrainEvent::Step(info));
                    }
                }
                if last_ckpt.elapsed() >= Duration::from_secs_f64(opts.checkpoint_minutes * 60.0) {
                    fit.state.seconds = seconds_before + run_start.elapsed().as_secs_f64();
                    self.checkpoint(&fit, &ckpt_path)?;
                    last_ckpt = Instant::now();
                }
            }

            let v = self.validate(
                &fit.model,
                &val,
                &val_plan,
                &val_builder,
                &mut fit.ctc,
                opts.samples_per_epoch,
            )?;
            fit.state.seconds = seconds_before + run_start.elapsed().as_secs_f64();
            let mut info = self.end_epoch(&mut fit, &job, &train, v.as_ref(), &prior)?;
            last_ckpt = Instant::now();
            info.samples = v.map(|v| v.samples).unwrap_or_default();
            info.seconds = epoch_start.elapsed().as_secs_f64();
            log.line(&serde_json::json!({ "epoch": &info }))?;
            self.emit.send(TrainEvent::Epoch(info));
            if let Some(r) = fit.state.finished {
                break r;
            }
        };
        if reason != FinishReason::Stopped && matches!(job.start, Start::FineTune { .. }) {
            self.retune_decoder(dir, &val)?;
        }
        self.emit.send(TrainEvent::Finished {
            reason,
            best_cer: fit.state.best_cer,
            model: job.out_dir.clone(),
        });
        Ok(())
    }

    /// The training and validation utterances, reported, with a warning when the validation set
    /// is missing or too small to mean much.
    fn load_data(&self, job: &TrainJob, model: &Model) -> Result<(Vec<Utterance>, Vec<Utterance>)> {
        let alphabet = model.config.alphabet.clone();
        let fps = model.config.output_frames_per_second();
        let split = match &job.validation {
            Some(v) => ValidationSplit::Folder { path: v.clone() },
            None => {
                ValidationSplit::HashPercent { validation_percent: job.options.validation_percent }
            }
        };
        let tv = data::load_train_validation(&job.data, &split, &alphabet, fps)?;
        self.emit.send(TrainEvent::Dataset {
            train: tv.train_report.clone(),
            validation: tv.validation_report.clone(),
            train_utterances: tv.train.len(),
            validation_utterances: tv.validation.len(),
        });
        if tv.train.is_empty() {
            return Err(Error::data(
                &job.data,
                "no usable training utterances (see the dataset report)",
            ));
        }
        if tv.validation.is_empty() {
            self.emit.send(TrainEvent::Warning(
                "no validation utterances: the run cannot measure CER and keeps the weights of \
                 the lowest training loss; give a validation folder or a larger share"
                    .into(),
            ));
        } else if tv.validation.len() < FEW_VALIDATION_UTTERANCES {
            self.emit.send(TrainEvent::Warning(format!(
                "only {} validation utterance(s): its CER is a rough figure; {FEW_VALIDATION_UTTERANCES} \
                 or more make it meaningful (record or add more, raise the validation share, or \
                 give a validation folder)",
                tv.validation.len()
            )));
        }
        Ok((tv.train, tv.validation))
    }

    /// One optimizer step on one batch (or none, with the reason in `skipped`).
    fn step(
        &self,
        fit: &mut Fit,
        builder: &BatchBuilder<'_>,
        train: &[Utterance],
        indices: &[usize],
        opts: &TrainOptions,
    ) -> Result<StepOutcome> {
        let batch = builder.build(indices, fit.state.epoch)?;
        let step = fit.state.step;
        let mut rng = step_rng(opts.seed, step);
        let (logits, cache_fwd) =
            fit.model.net.forward(batch.features.view(), &batch.lengths, true, &mut rng)?;
        let out_lengths = fit.model.net.out_lengths(&batch.lengths);
        let out = fit.ctc.compute(logits.view(), &out_lengths, &batch.targets, Reduction::Mean)?;
        if !out.impossible.is_empty() {
            let ids =
                out.impossible.iter().map(|&b| train[batch.utterances[b]].id.clone()).collect();
            self.emit.send(TrainEvent::Impossible { step, ids });
        }
        let lr = fit.state.schedule.lr_at(fit.adam.steps_taken());
        let loss = f64::from(out.loss);
        let mut norm = f64::NAN;
        let skipped = if out.impossible.len() == batch.lengths.len() {
            Some("every utterance in the batch is too short for its transcript".to_string())
        } else if !loss.is_finite() {
            Some(format!("loss is {loss}"))
        } else {
            fit.grads.zero();
            fit.model.net.backward(cache_fwd, out.grad.view(), &mut fit.grads);
            let mut gs = fit.grads.tensors_mut();
            let gn = clip_grad_norm(&mut gs, opts.clip_norm);
            norm = gn.norm();
            if gn.is_finite() {
                fit.adam.set_lr(lr)?;
                let g: Vec<&[f32]> = gs.iter().map(|g| &**g).collect();
                fit.adam.step(&mut fit.model.net.params_mut(), &g)?;
                None
            } else {
                Some(format!("gradient norm is {norm}"))
            }
        };
        Ok(StepOutcome { loss, lr, norm, skipped })
    }

    /// End of an epoch: judge the validation (best, plateau, early stop), save the best and the
    /// newest weights, checkpoint. Returns the epoch's report without its samples and time.
    fn end_epoch(
        &self,
        fit: &mut Fit,
        job: &TrainJob,
        train: &[Utterance],
        v: Option<&Validation>,
        prior: &crate::model::TrainingInfo,
    ) -> Result<EpochInfo> {
        let state = &mut fit.state;
        let train_loss = state.epoch_loss_sum / state.epoch_loss_count.max(1) as f64;
        let epoch = state.epoch;
        state.epoch += 1;
        state.batch_in_epoch = 0;
        state.epoch_loss_sum = 0.0;
        state.epoch_loss_count = 0;
        // Without validation data the training loss stands in for the CER.
        let metric = v.map_or(train_loss, |v| v.cer);
        // A validation during the warm-up, or before the model emits any text (CER 100 %),
        // says nothing about a plateau: it may set the best but never lowers the rate or
        // counts towards early stopping (else a slow start halves the rate before it peaks).
        let judged =
            !state.schedule.in_warmup(fit.adam.steps_taken()) && v.is_none_or(|v| v.emitted);
        let decision = if judged {
            state.schedule.observe(metric);
            state.early.observe(metric)
        } else {
            state.early.observe_grace(metric)
        };
        let best = decision == EarlyStop::Improved;
        fit.model.config.training = training_info(job, train, state, v, prior);
        if best {
            state.best_cer = v.map(|v| v.cer);
            fit.model.save(&job.out_dir)?;
        }
        state.config = fit.model.config.clone();
        if decision == EarlyStop::Stop {
            state.finished = Some(FinishReason::EarlyStopped);
        } else if state.epoch >= job.options.epochs {
            state.finished = Some(FinishReason::Completed);
        }
        // The checkpoint saves the newest weights (`last`) too.
        self.checkpoint(fit, &job.out_dir.join("checkpoint.safetensors"))?;
        if job.options.keep_epochs {
            fit.model.save(&job.out_dir.join(epoch_weights_stem(epoch + 1)))?;
        }
        Ok(EpochInfo {
            epoch,
            step: fit.state.step,
            train_loss,
            val_loss: v.map(|v| v.loss),
            val_cer: v.map(|v| v.cer),
            val_wer: v.map(|v| v.wer),
            learning_rate: fit.state.schedule.lr_at(fit.adam.steps_taken()),
            best,
            samples: Vec::new(),
            seconds: 0.0,
        })
    }
}

/// The mutable half of a run: weights, optimizer, schedule and counters, and the buffers every
/// step reuses.
struct Fit {
    model: Model,
    adam: Adam<f32>,
    state: TrainerState,
    grads: AcousticParams<f32>,
    ctc: CtcLoss<f32>,
}

/// What one step did.
struct StepOutcome {
    loss: f64,
    lr: f64,
    norm: f64,
    /// Why no update was made (the batch is then left out of the epoch's loss).
    skipped: Option<String>,
}

/// Refuses to start a new run over an existing one unless asked to replace it (and never over
/// the model it starts from); replacing deletes the old run's files first.
fn clear_for_new_run(job: &TrainJob) -> Result<()> {
    let dir = &job.out_dir;
    let Some(what) = describe_existing_run(dir) else { return Ok(()) };
    if let Start::FineTune { model, .. } = &job.start {
        let from = file::ModelPaths::resolve(model).config;
        let same = crate::util::same_file;
        if same(&from, &dir.join("model.json")) || same(&from, &dir.join("last.json")) {
            return Err(Error::Options(format!(
                "{what}, and that is the model this run starts from: choose another output folder"
            )));
        }
    }
    if !job.replace {
        return Err(Error::Options(format!(
            "{what}; continue it with --resume, replace it with --force, or choose another output folder"
        )));
    }
    for f in existing_run(dir) {
        let p = dir.join(f);
        std::fs::remove_file(&p).map_err(|e| Error::io(&p, e))?;
    }
    Ok(())
}

/// The model a resumed run continues (its weights come from the checkpoint afterwards); the
/// saved job must match in data, validation and start point.
fn resumed_model(job: &TrainJob, job_path: &Path, ckpt_path: &Path) -> Result<Model> {
    let saved: TrainJob = read_json(job_path)?;
    if saved.data != job.data || saved.start != job.start || saved.validation != job.validation {
        return Err(Error::Training(format!(
            "{}: --resume needs the same data, validation and model settings as the run it continues",
            job_path.display()
        )));
    }
    Model::new(read_ckpt_config(ckpt_path)?)
}

/// A new run's model: new random weights, or the starting model (widened if asked). The flag
/// says the global normalization statistics still have to be computed from the training data.
fn start_model(job: &TrainJob) -> Result<(Model, bool)> {
    match &job.start {
        Start::Scratch { arch, features, alphabet } => {
            let mut cfg = ModelConfig::new(arch.clone(), features.clone(), alphabet.clone());
            let fresh = features.normalization == Normalization::Global;
            if fresh {
                // Placeholder statistics are replaced before the first step; validate() wants
                // them present for global normalization.
                cfg.cmvn = Some(features::Cmvn {
                    mean: vec![0.0; features.dim()],
                    std: vec![1.0; features.dim()],
                });
            }
            Ok((Model::new(cfg)?, fresh))
        }
        Start::FineTune { model, widen_to, dropout } => {
            let mut m = Model::load(model)?;
            if let Some(hidden) = *widen_to
                && hidden != m.config.arch.hidden
            {
                m.net = m.net.widen(hidden, WIDEN_NOISE, job.options.seed)?;
                m.config.arch = m.net.config.clone();
            }
            if let Some(d) = *dropout {
                if m.config.arch.layers < 2 && d > 0.0 {
                    return Err(Error::Options(format!(
                        "dropout {d}: {} has a single LSTM layer, and dropout acts between layers",
                        model.display()
                    )));
                }
                m.net.config.dropout = d;
                m.net.config.validate()?;
                m.config.arch = m.net.config.clone();
            }
            Ok((m, false))
        }
    }
}

/// Weights, Adam moments and trainer state from a checkpoint.
fn from_checkpoint(model: &mut Model, ckpt_path: &Path) -> Result<(Adam<f32>, TrainerState)> {
    let expected = model.config.arch.param_shapes();
    let ck = file::load_checkpoint::<TrainerState>(ckpt_path, &expected)?;
    for (dst, src) in model.net.params_mut().into_iter().zip(&ck.tensors) {
        dst.copy_from_slice(&src.data);
    }
    Ok((ck.optimizer, ck.trainer))
}

/// A new run's optimizer and state. Warm-up and patience not given follow the epoch length
/// (see `recipe`).
fn fresh_state(
    job: &TrainJob,
    model: &Model,
    steps_per_epoch: usize,
) -> Result<(Adam<f32>, TrainerState)> {
    let opts = &job.options;
    let names: Vec<(String, usize)> =
        model.net.params().iter().map(|(n, _, d)| (n.clone(), d.len())).collect();
    let adam = Adam::new(
        AdamConfig {
            lr: opts.learning_rate,
            weight_decay: opts.weight_decay,
            ..AdamConfig::default()
        },
        &names,
    )?;
    let fine_tune = matches!(job.start, Start::FineTune { .. });
    let (plateau, early_stop) = recipe::auto_patience(steps_per_epoch);
    let schedule = LrSchedule::new(LrScheduleConfig {
        base_lr: opts.learning_rate,
        warmup_steps: opts
            .warmup_steps
            .unwrap_or_else(|| recipe::auto_warmup(steps_per_epoch, fine_tune)),
        patience: opts.plateau_patience.unwrap_or(plateau),
        ..LrScheduleConfig::default()
    })?;
    let early = EarlyStopping::new(EarlyStoppingConfig {
        patience: opts.early_stop_patience.unwrap_or(early_stop),
        ..EarlyStoppingConfig::default()
    });
    let state = TrainerState {
        epoch: 0,
        batch_in_epoch: 0,
        step: 0,
        schedule,
        early,
        best_cer: None,
        epoch_loss_sum: 0.0,
        epoch_loss_count: 0,
        seconds: 0.0,
        config: model.config.clone(),
        finished: None,
        // The starting model's record (a new model's is empty).
        prior: Some(model.config.training.clone()),
        baseline: None,
    };
    Ok((adam, state))
}

/// A fine-tuned model's record counts the training of the model it started from too. The
/// checkpoint keeps that record; an older checkpoint without it makes a resume read the init
/// model's config again (if it is gone by now the record starts from this run alone).
fn prior_record(state: &TrainerState, job: &TrainJob) -> crate::model::TrainingInfo {
    match (&state.prior, &job.start) {
        (Some(p), _) => p.clone(),
        (None, Start::FineTune { model: init, .. }) => {
            file::load_config::<ModelConfig>(&file::ModelPaths::resolve(init).config)
                .map(|c| c.training)
                .unwrap_or_default()
        }
        (None, Start::Scratch { .. }) => crate::model::TrainingInfo::default(),
    }
}

/// Validation results of one pass.
struct Validation {
    loss: f64,
    cer: f64,
    wer: f64,
    samples: Vec<Sample>,
    /// Some hypothesis was not empty (the model has begun to emit text).
    emitted: bool,
    utterances: usize,
}

impl Run<'_> {
    /// Global mean/std of the un-normalized features over (up to 2,000 of) the training files.
    fn global_cmvn(&self, opts: &FeatureOptions, train: &[Utterance]) -> Result<features::Cmvn> {
        use rayon::prelude::*;
        let mut raw = opts.clone();
        raw.normalization = Normalization::None;
        // An evenly spaced subset is as good as all files for a mean and a variance.
        let step = train.len().div_ceil(2000).max(1);
        let picked: Vec<&Utterance> = train.iter().step_by(step).collect();
        let total = picked.len();
        let done = std::sync::atomic::AtomicUsize::new(0);
        let accs: Vec<CmvnAccumulator> = picked
            .par_chunks(64)
            .map(|chunk| -> Result<CmvnAccumulator> {
                let mut acc = CmvnAccumulator::new(raw.dim());
                for u in chunk {
                    let samples = crate::audio::read_mono_16k(&u.audio)?;
                    let f = features::compute(&raw, &samples)?;
                    acc.add(f.view())?;
                }
                let d =
                    done.fetch_add(chunk.len(), std::sync::atomic::Ordering::Relaxed) + chunk.len();
                self.emit.send(TrainEvent::Preparing { done: d, total });
                Ok(acc)
            })
            .collect::<Result<_>>()?;
        let mut acc = CmvnAccumulator::new(raw.dim());
        for a in &accs {
            acc.merge(a)?;
        }
        acc.finish()
    }

    /// Validation loss (mean CTC loss per utterance), CER and WER (percent) with greedy decoding.
    fn validate(
        &self,
        model: &Model,
        val: &[Utterance],
        plan: &BatchPlan,
        builder: &BatchBuilder<'_>,
        ctc: &mut CtcLoss<f32>,
        num_samples: usize,
    ) -> Result<Option<Validation>> {
        if val.is_empty() {
            return Ok(None);
        }
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let mut loss_sum = 0.0;
        let mut loss_count = 0usize;
        let mut rates = ErrorRates::new();
        let mut hyps: Vec<(usize, String)> = Vec::with_capacity(val.len());
        let frame_s = model.frame_duration_s();
        for indices in plan.batches() {
            let batch = builder.build(indices, 0)?;
            let (logits, _) =
                model.net.forward(batch.features.view(), &batch.lengths, false, &mut rng)?;
            let out_lengths = model.net.out_lengths(&batch.lengths);
            let out = ctc.compute(logits.view(), &out_lengths, &batch.targets, Reduction::Sum)?;
            for (b, l) in out.losses.iter().enumerate() {
                if l.is_finite() && !out.impossible.contains(&b) {
                    loss_sum += f64::from(*l);
                    loss_count += 1;
                }
            }
            let lp = AcousticModel::log_probs(logits.view());
            for (b, &u) in batch.utterances.iter().enumerate() {
                let one = lp.index_axis(Axis(1), b);
                let one = one.slice(ndarray::s![..out_lengths[b], ..]);
                let h = greedy(one, &model.config.alphabet, frame_s);
                let reference = &val[u].text;
                rates.add(reference, &h.text);
                hyps.push((u, h.text));
            }
        }
        hyps.sort_by_key(|(u, _)| *u);
        // The same utterances every epoch (evenly spaced), so a person can watch them improve.
        let stride = (hyps.len() / num_samples.max(1)).max(1);
        let samples = hyps
            .iter()
            .step_by(stride)
            .take(num_samples)
            .map(|(u, h)| Sample {
                id: val[*u].id.clone(),
                reference: val[*u].text.clone(),
                hypothesis: h.clone(),
            })
            .collect();
        Ok(Some(Validation {
            loss: loss_sum / loss_count.max(1) as f64,
            cer: 100.0 * rates.cer().unwrap_or(0.0),
            wer: 100.0 * rates.wer().unwrap_or(0.0),
            emitted: hyps.iter().any(|(_, h)| !h.is_empty()),
            utterances: hyps.len(),
            samples,
        }))
    }

    /// Re-tunes a fine-tuned model's carried decoder (LM weight and word bonus) on the run's
    /// validation data, with the run's best weights, when there is enough of it; reports what
    /// it did either way.
    fn retune_decoder(&self, dir: &Path, val: &[Utterance]) -> Result<()> {
        use crate::runtime::decoder::DecoderConfig;
        use crate::runtime::evaluate::{Posteriors, TuneGrid, tune};
        let (cfg, _) = DecoderConfig::for_model(dir)?;
        let Some(lm_name) = cfg.lm.clone() else { return Ok(()) };
        if val.len() < RETUNE_MIN_UTTERANCES {
            self.emit.send(TrainEvent::Warning(format!(
                "the decoder (word LM {lm_name}, weight {}, bonus {}) is kept as the starting \
                 model had it: {} validation utterance(s) are too few to re-tune it \
                 ({RETUNE_MIN_UTTERANCES} needed)",
                cfg.lm_weight,
                cfg.word_bonus,
                val.len()
            )));
            return Ok(());
        }
        let model = Model::load(dir)?;
        let lm_path = dir.join(&lm_name);
        let lm = crate::ctc::ArpaLm::from_file(&lm_path)?;
        let post = Posteriors::compute(&model, val, &cfg.warps, 400, &|| {})?;
        let alphabet = &model.config.alphabet;
        let mut weights = RETUNE_WEIGHTS.to_vec();
        let mut bonuses = RETUNE_BONUSES.to_vec();
        weights.push(cfg.lm_weight);
        bonuses.push(cfg.word_bonus);
        weights.sort_by(f32::total_cmp);
        weights.dedup();
        bonuses.sort_by(f32::total_cmp);
        bonuses.dedup();
        // The blank penalty is kept: it belongs to the acoustic model's habits more than to the
        // LM, and a validation set of a few hundred utterances is a thin base to move it on.
        let grid = TuneGrid { weights, bonuses, blank_penalties: vec![cfg.blank_penalty] };
        let report = tune(&post, alphabet, &lm, &grid, cfg.beam, &mut |_| {})?;
        let kept = report
            .points
            .iter()
            .find(|p| p.lm_weight == cfg.lm_weight && p.word_bonus == cfg.word_bonus)
            .copied()
            .unwrap_or(report.best);
        let best = report.best;
        let note = format!(
            "re-tuned after fine-tuning on the run's validation data ({} utterances, beam {}): \
             WER {:.2} % (the carried weight {} and bonus {} gave {:.2} %); carried from: {}",
            report.utterances,
            cfg.beam,
            best.wer,
            cfg.lm_weight,
            cfg.word_bonus,
            kept.wer,
            cfg.note
        );
        crate::runtime::evaluate::save_tuned(dir, &lm_path, cfg.beam, &cfg.warps, &best, note)?;
        self.emit.send(TrainEvent::DecoderTuned {
            utterances: report.utterances,
            lm_weight: best.lm_weight,
            word_bonus: best.word_bonus,
            wer: best.wer,
            carried_wer: kept.wer,
        });
        Ok(())
    }

    /// Weights + Adam + trainer state, and the newest weights as a loadable model (`last`).
    fn checkpoint(&self, fit: &Fit, path: &Path) -> Result<()> {
        let (model, adam, state) = (&fit.model, &fit.adam, &fit.state);
        let dir = path.parent().unwrap_or(Path::new("."));
        model.save(&dir.join("last"))?;
        let params = model.net.params();
        let tensors: Vec<file::TensorRef<'_>> = params
            .iter()
            .map(|(n, s, d)| file::TensorRef { name: n.as_str(), shape: s, data: d })
            .collect();
        file::save_checkpoint(path, &tensors, adam, state)?;
        self.emit.send(TrainEvent::Checkpoint { step: state.step, path: path.to_path_buf() });
        Ok(())
    }
}

/// The model's training record after this epoch.
fn training_info(
    job: &TrainJob,
    train: &[Utterance],
    state: &TrainerState,
    v: Option<&Validation>,
    prior: &crate::model::TrainingInfo,
) -> crate::model::TrainingInfo {
    crate::model::TrainingInfo {
        dataset: job.data.display().to_string(),
        train_utterances: train.len(),
        train_hours: train.iter().map(|u| u.duration_s).sum::<f64>() / 3600.0,
        earlier_stages: prior.stages_so_far(),
        epochs: prior.epochs + state.epoch,
        steps: prior.steps + state.step,
        seconds: prior.seconds + state.seconds,
        val_cer: v.map(|v| v.cer),
        val_wer: v.map(|v| v.wer),
        val_loss: v.map(|v| v.loss),
        validation: v.map_or(String::new(), |v| describe_validation(job, v.utterances)),
        start_val_cer: state.baseline.as_ref().map(|b| b.val_cer),
        start_val_wer: state.baseline.as_ref().map(|b| b.val_wer),
        // Measurements of the starting model were of other weights.
        evaluations: Vec::new(),
        // Trained weights, even when the starting model was an average.
        averaged_from: Vec::new(),
        saved_unix_s: SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()),
        hark_version: env!("CARGO_PKG_VERSION").to_string(),
    }
}

fn read_ckpt_config(ckpt: &Path) -> Result<ModelConfig> {
    let dir = ckpt.parent().unwrap_or(Path::new("."));
    if !ckpt.exists() {
        return Err(Error::Training(format!("{}: no checkpoint to resume from", ckpt.display())));
    }
    Ok(Model::load(&dir.join("last"))?.config)
}

/// The RNG of one optimizer step (dropout): a pure function of the seed and the step.
fn step_rng(seed: u64, step: u64) -> ChaCha8Rng {
    let mut r = ChaCha8Rng::seed_from_u64(seed);
    r.set_stream(step);
    r
}

fn write_json<T: Serialize>(path: &Path, v: &T) -> Result<()> {
    let text = serde_json::to_string_pretty(v)
        .map_err(|e| Error::Training(format!("{}: {e}", path.display())))?;
    crate::util::write_atomic(path, text.as_bytes())
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    serde_json::from_str(&text)
        .map_err(|e| Error::data(path, format!("not a valid run description: {e}")))
}

/// Appends one JSON line per event to the run log (flushed each line, so a kill loses nothing).
struct Log {
    file: std::fs::File,
    path: PathBuf,
}

impl Log {
    fn open(path: &Path) -> Result<Self> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| Error::io(path, e))?;
        Ok(Log { file, path: path.to_path_buf() })
    }
    fn line<T: Serialize>(&mut self, v: &T) -> Result<()> {
        let mut s = serde_json::to_string(v).map_err(|e| Error::internal(e.to_string()))?;
        s.push('\n');
        self.file.write_all(s.as_bytes()).map_err(|e| Error::io(&self.path, e))
    }
}

/// Exponential moving average (for the step time behind the ETA).
struct Ema {
    alpha: f64,
    value: Option<f64>,
}

impl Ema {
    fn new(alpha: f64) -> Self {
        Ema { alpha, value: None }
    }
    fn add(&mut self, x: f64) {
        self.value = Some(self.value.map_or(x, |v| v + self.alpha * (x - v)));
    }
    fn value(&self) -> f64 {
        self.value.unwrap_or(0.0)
    }
}
