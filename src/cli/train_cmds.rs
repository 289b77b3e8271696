//! `hark train` and `hark eval`.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::features::Normalization;
use crate::train::recipe::{Origin, Recipe};
use crate::train::trainer::{self, FinishReason, TrainCommand, TrainEvent, TrainJob};

#[derive(Debug, Args)]
pub struct TrainArgs {
    /// Labeled data: a folder of x.wav + x.txt pairs, a LibriSpeech folder, a DeepSpeech CSV,
    /// a Common Voice TSV or an LJSpeech metadata.csv (or the folder holding it).
    pub data: PathBuf,
    /// Run directory: the model (best by validation CER), checkpoints and the log go here
    /// [default: a new folder runs/NAME-DATE-TIME]. A folder that holds a run is refused
    /// unless --resume or --force is given.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Validation data (same formats); default: a hash-chosen share of DATA (see --val-percent).
    #[arg(long)]
    pub val: Option<PathBuf>,
    /// Name stored in the model, shown in the app (Models tab, status bar); default (or blank): a
    /// fine-tuned model keeps its starting model's name, a new one has none.
    #[arg(long)]
    pub name: Option<String>,
    /// Percent of DATA held out for validation when --val is not given [default: 5].
    #[arg(long)]
    pub val_percent: Option<f64>,
    /// Continue the run in --out from its last checkpoint (same data and settings).
    #[arg(long, requires = "out")]
    pub resume: bool,
    /// Replace the run already in --out (its model, checkpoint and log are deleted first).
    /// Without it, a folder holding a run is refused.
    #[arg(long, conflicts_with = "resume")]
    pub force: bool,
    /// Fine-tune this model instead of starting from random weights (its decoder settings and
    /// word LM are carried into the run folder).
    #[arg(long, conflicts_with = "resume")]
    pub init: Option<PathBuf>,
    /// Passes over the training data [default: 30].
    #[arg(long)]
    pub epochs: Option<u64>,
    /// Peak learning rate (Adam), reached after the warm-up [default: 1e-3 from scratch, 1e-4
    /// with --init].
    #[arg(long)]
    pub lr: Option<f64>,
    /// Warm-up steps (linear from 0 to --lr) [default: a fifth of an epoch, at most 200; half
    /// that with --init].
    #[arg(long)]
    pub warmup: Option<u64>,
    /// At most this many utterances per batch [default: 16].
    #[arg(long)]
    pub batch: Option<usize>,
    /// At most this many padded feature frames per batch (100 frames = 1 s) [default: 500 per
    /// utterance of --batch].
    #[arg(long)]
    pub batch_frames: Option<usize>,
    /// LSTM units per direction [default: 256]. With --init, a larger value first widens that
    /// model (new units copy old ones, so it starts out computing the same thing).
    #[arg(long)]
    pub hidden: Option<usize>,
    /// Bidirectional LSTM layers of a new model [default: 3].
    #[arg(long, conflicts_with = "init")]
    pub layers: Option<usize>,
    /// Stack this many feature frames and keep every one of them (3 = 30 ms per output frame)
    /// [default: 3].
    #[arg(long, conflicts_with = "init")]
    pub stack: Option<usize>,
    /// Dropout between LSTM layers [default: 0.1 for a new model; with --init, the model's own
    /// rate]. Given with --init, the fine-tune trains at this rate and saves it with the model.
    #[arg(long)]
    pub dropout: Option<f64>,
    /// Stop after this many epochs without a better validation CER [default: about 1,200
    /// updates' worth, 6 to 12 epochs].
    #[arg(long)]
    pub patience: Option<u32>,
    /// Halve the learning rate after this many epochs without a better validation CER, counted
    /// only after the warm-up and once the model emits text [default: about 600 updates' worth,
    /// 2 to 5 epochs].
    #[arg(long)]
    pub plateau_patience: Option<u32>,
    /// Feature normalization of a new model: `utterance` (each utterance's own mean and
    /// variance; removes a recording channel's colouring) or `global` (statistics of the
    /// training set, stored in the model) [default: utterance].
    #[arg(long, value_enum, conflicts_with = "init")]
    pub normalization: Option<NormArg>,
    /// Write a checkpoint at least every this many minutes [default: 10].
    #[arg(long)]
    pub checkpoint_minutes: Option<f64>,
    /// Seed for weights, batch order, dropout and augmentation.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Turn off all augmentation (speed, noise, SpecAugment).
    #[arg(long, conflicts_with = "augment")]
    pub no_augment: bool,
    /// Also keep every epoch's weights in --out (epoch-001.json + .safetensors, …), to average
    /// the last few with `hark average`; else only the best and the newest are kept.
    #[arg(long)]
    pub keep_epochs: bool,
    /// Augmentation settings from a JSON file (the `augment` object a run writes to its
    /// train.json; fields left out keep their defaults).
    #[arg(long)]
    pub augment: Option<PathBuf>,
}

/// `--normalization` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum NormArg {
    Utterance,
    Global,
}

/// Where runs without --out go: `runs/` in the current folder.
pub fn runs_root() -> PathBuf {
    PathBuf::from("runs")
}

impl TrainArgs {
    /// The recipe these flags ask for (design habit 17: parse, then resolve once); the trainer's
    /// recipe fills in what was not given.
    pub fn recipe(&self) -> crate::Result<Recipe> {
        let origin = match &self.init {
            Some(m) => {
                Origin::FineTune { model: m.clone(), hidden: self.hidden, dropout: self.dropout }
            }
            None => Origin::Scratch {
                hidden: self.hidden,
                layers: self.layers,
                stack: self.stack,
                dropout: self.dropout,
                normalization: self.normalization.map(|n| match n {
                    NormArg::Utterance => Normalization::Utterance,
                    NormArg::Global => Normalization::Global,
                }),
            },
        };
        let augment = if self.no_augment {
            Some(crate::train::augment::AugmentOptions::none())
        } else {
            self.augment
                .as_deref()
                .map(crate::train::augment::AugmentOptions::from_file)
                .transpose()?
        };
        Ok(Recipe {
            validation: self.val.clone(),
            out_dir: self.out.clone(),
            name: self.name.clone(),
            epochs: self.epochs,
            learning_rate: self.lr,
            warmup_steps: self.warmup,
            batch_size: self.batch,
            batch_frames: self.batch_frames,
            validation_percent: self.val_percent,
            plateau_patience: self.plateau_patience,
            early_stop_patience: self.patience,
            checkpoint_minutes: self.checkpoint_minutes,
            seed: self.seed,
            augment,
            keep_epochs: self.keep_epochs,
            replace: self.force,
            ..Recipe::new(self.data.clone(), origin)
        })
    }

    /// The job to run: for --resume the one saved in --out (so the flags need not be repeated),
    /// else the recipe's.
    pub fn job(&self) -> crate::Result<TrainJob> {
        if self.resume
            && let Some(out) = &self.out
        {
            let mut job = trainer::saved_job(out)?;
            job.out_dir = out.clone();
            // What may change on the way: how long it runs and how often it saves.
            if let Some(e) = self.epochs {
                job.options.epochs = e;
            }
            if let Some(p) = self.patience {
                job.options.early_stop_patience = Some(p);
            }
            if let Some(m) = self.checkpoint_minutes {
                job.options.checkpoint_minutes = m;
            }
            if self.keep_epochs {
                job.options.keep_epochs = true;
            }
            return Ok(job);
        }
        self.recipe()?.job(&runs_root())
    }
}

/// Runs a training job with progress bars. Ctrl-C (or SIGTERM/SIGHUP) stops it after the current
/// step with a checkpoint, so `--resume` continues exactly there; a second Ctrl-C quits at once
/// (the last periodic checkpoint is still there). Exit code 0 when the run finished, 130 when it
/// was stopped, 2 when the data or settings were at fault, 1 otherwise.
pub fn train(args: &TrainArgs) -> ExitCode {
    // A missing data path is reported before the run folder is named, which would mislead.
    let job = match args.job().and_then(|job| job.check_data_exists().map(|()| job)) {
        Ok(job) => job,
        Err(e) => {
            eprintln!("hark train: {e}");
            return super::exit_code_for(&e);
        }
    };
    if !args.resume {
        eprintln!("run folder: {}", job.out_dir.display());
    }
    let handle = trainer::spawn(job, args.resume, Box::new(|| {}));
    let stop = handle.commander();
    let mut signals = 0u32;
    if let Err(e) = ctrlc::set_handler(move || {
        signals += 1;
        if signals > 1 {
            eprintln!("\nhark train: quitting without a final checkpoint");
            std::process::exit(130);
        }
        eprintln!(
            "\nhark train: stopping after this step and saving a checkpoint \
             (Ctrl-C again quits at once)"
        );
        let _ = stop.send(TrainCommand::Stop);
    }) {
        eprintln!("hark train: Ctrl-C will not save a checkpoint ({e})");
    }
    let mut stopped = false;
    let tty = std::io::stderr().is_terminal();
    let bar = ProgressBar::with_draw_target(
        Some(0),
        if tty { ProgressDrawTarget::stderr() } else { ProgressDrawTarget::hidden() },
    );
    bar.set_style(
        ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {msg} ETA {eta}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar.enable_steady_tick(Duration::from_millis(250));
    let mut failed: Option<(String, bool)> = None;
    for ev in handle.events.iter() {
        match ev {
            TrainEvent::Dataset { train, validation, train_utterances, validation_utterances } => {
                bar.suspend(|| {
                    eprintln!("{train}");
                    if let Some(v) = validation {
                        eprintln!("validation: {v}");
                    }
                    eprintln!("training on {train_utterances} utterances, validating on {validation_utterances}");
                });
            }
            TrainEvent::Preparing { done, total } => {
                bar.set_prefix("normalization statistics");
                bar.set_length(total as u64);
                bar.set_position(done as u64);
            }
            TrainEvent::Started { step, epoch, steps_per_epoch, epochs } => {
                bar.suspend(|| {
                    eprintln!(
                        "{} at step {step}, epoch {}/{epochs}, {steps_per_epoch} batches per epoch",
                        if step > 0 { "resuming" } else { "starting" },
                        epoch + 1
                    )
                });
                bar.set_length(steps_per_epoch as u64);
                bar.set_position(0);
            }
            TrainEvent::Step(s) => {
                bar.set_prefix(format!("epoch {}", s.epoch + 1));
                bar.set_length(s.batches as u64);
                bar.set_position(s.batch as u64);
                bar.set_message(format!(
                    "loss {:.3} lr {:.1e} {:.0} ms/step {:.0}× real time",
                    s.loss, s.learning_rate, s.ms, s.audio_per_s
                ));
                if !tty && s.batch % 50 == 0 {
                    eprintln!(
                        "epoch {} step {} loss {:.4} {:.0} ms",
                        s.epoch + 1,
                        s.step,
                        s.loss,
                        s.ms
                    );
                }
            }
            TrainEvent::Skipped { step, reason } => {
                bar.suspend(|| eprintln!("step {step}: batch skipped: {reason}"))
            }
            TrainEvent::Impossible { step, ids } => bar.suspend(|| {
                eprintln!(
                    "step {step}: transcript longer than the audio allows, left out: {}",
                    ids.join(", ")
                )
            }),
            TrainEvent::Epoch(e) => {
                bar.suspend(|| {
                    let fmt = |v: Option<f64>, d: usize| v.map_or("-".to_string(), |v| format!("{v:.d$}"));
                    println!(
                        "epoch {:>3}  train loss {:.4}  val loss {}  CER {}%  WER {}%  lr {:.1e}  {:.0} s{}",
                        e.epoch + 1,
                        e.train_loss,
                        fmt(e.val_loss, 4),
                        fmt(e.val_cer, 2),
                        fmt(e.val_wer, 2),
                        e.learning_rate,
                        e.seconds,
                        if e.best { "  (best, saved)" } else { "" }
                    );
                    for s in &e.samples {
                        eprintln!("    ref: {}\n    hyp: {}", s.reference, s.hypothesis);
                    }
                });
            }
            TrainEvent::Warning(w) => bar.suspend(|| eprintln!("warning: {w}")),
            TrainEvent::DecoderTuned { utterances, lm_weight, word_bonus, wer, carried_wer } => {
                bar.suspend(|| {
                    println!(
                        "decoder re-tuned on {utterances} validation utterances: LM weight \
                         {lm_weight}, word bonus {word_bonus}: WER {wer:.2}% (carried weights: \
                         {carried_wer:.2}%)"
                    )
                })
            }
            TrainEvent::Baseline(b) => bar.suspend(|| {
                println!(
                    "before fine-tuning: the starting model on the validation set: CER {:.2}%  WER {:.2}%",
                    b.val_cer, b.val_wer
                )
            }),
            TrainEvent::Checkpoint { .. } | TrainEvent::Paused | TrainEvent::Resumed => {}
            TrainEvent::Error { message, input_error } => failed = Some((message, input_error)),
            TrainEvent::Finished { reason, best_cer, model } => {
                bar.finish_and_clear();
                let why = match reason {
                    FinishReason::Completed => "all epochs done",
                    FinishReason::EarlyStopped => "no better validation CER for --patience epochs",
                    FinishReason::Stopped => {
                        stopped = true;
                        "stopped"
                    }
                };
                let cer =
                    best_cer.map_or(String::new(), |c| format!(", best validation CER {c:.2}%"));
                eprintln!("finished ({why}{cer}); model: {}", model.display());
                if stopped {
                    eprintln!(
                        "checkpoint saved; continue with: hark train {} --out {} --resume",
                        args.data.display(),
                        model.display()
                    );
                }
            }
        }
    }
    bar.finish_and_clear();
    handle.join();
    match failed {
        Some((message, input_error)) => {
            eprintln!("hark train: {message}");
            ExitCode::from(if input_error { 2 } else { 1 })
        }
        None if stopped => ExitCode::from(130),
        None => ExitCode::SUCCESS,
    }
}
