//! The training recipe: what a run is made of when a person says only what to train on and where
//! it starts from. The CLI (`hark train`) and the app's Train and Record tabs fill in a
//! [`Recipe`] with what was asked and leave the rest `None`; [`Recipe::job`] turns it into the
//! [`TrainJob`] the trainer runs. Every default lives here, once, so the front ends cannot drift
//! apart (they used to restate the front end, the stacking and the warm-up each on their own).
//!
//! The defaults, and why (measured by `benches/parity.py`, see README "Training"):
//! - features: MFCC + Δ + ΔΔ, **per-utterance** mean/variance normalization (what the PyTorch
//!   reference does; it also removes a recording channel's colouring, and microphones differ far
//!   more than the training voices do);
//! - network: 3 × 256 BiLSTM, 3 stacked frames, every third kept (30 ms per output frame);
//! - from scratch: Adam at 1e-3; fine-tuning: 1e-4 (a model that already works needs small
//!   steps: a full rate first undoes what it knew);
//! - warm-up and patience in proportion to the data: see [`auto_warmup`] and [`auto_patience`].

use std::path::{Path, PathBuf};

use crate::ctc::Alphabet;
use crate::features::{FeatureOptions, Normalization};
use crate::model::ArchConfig;
use crate::train::augment::AugmentOptions;
use crate::train::trainer::{Start, TrainJob, TrainOptions};
use crate::{Error, Result};

/// Peak learning rate of a run from scratch.
pub const SCRATCH_LEARNING_RATE: f64 = 1e-3;
/// Peak learning rate of a fine-tune.
pub const FINE_TUNE_LEARNING_RATE: f64 = 1e-4;
/// LSTM units per direction of a new model.
pub const HIDDEN: usize = 256;
/// BiLSTM layers of a new model.
pub const LAYERS: usize = 3;
/// Feature frames stacked (and the subsampling) of a new model.
pub const STACK: usize = 3;
/// Dropout between the LSTM layers of a new model.
pub const DROPOUT: f64 = 0.1;
/// Feature normalization of a new model.
pub const NORMALIZATION: Normalization = Normalization::Utterance;

/// Where the weights of a run come from, as a person chooses it.
#[derive(Clone, Debug, PartialEq)]
pub enum Origin {
    /// A new model; `None` fields take the defaults above.
    Scratch {
        hidden: Option<usize>,
        layers: Option<usize>,
        stack: Option<usize>,
        dropout: Option<f64>,
        normalization: Option<Normalization>,
    },
    /// Fine-tune this model (its architecture, front end and alphabet), first widened to
    /// `hidden` units if that is larger than the model's, with `dropout` between its LSTM
    /// layers instead of its own rate if that is given.
    FineTune { model: PathBuf, hidden: Option<usize>, dropout: Option<f64> },
}

impl Origin {
    /// A new model with every default.
    pub fn scratch() -> Self {
        Origin::Scratch {
            hidden: None,
            layers: None,
            stack: None,
            dropout: None,
            normalization: None,
        }
    }
    pub fn is_fine_tune(&self) -> bool {
        matches!(self, Origin::FineTune { .. })
    }
}

/// What a person asked for; `None` = the default for this kind of run.
#[derive(Clone, Debug, PartialEq)]
pub struct Recipe {
    pub data: PathBuf,
    pub validation: Option<PathBuf>,
    /// `None`: a fresh folder under the runs folder, named after the model and the date.
    pub out_dir: Option<PathBuf>,
    pub origin: Origin,
    /// The model's name (blank or `None` keeps the starting model's).
    pub name: Option<String>,
    pub epochs: Option<u64>,
    pub learning_rate: Option<f64>,
    pub warmup_steps: Option<u64>,
    pub batch_size: Option<usize>,
    /// Padded feature frames per batch; default 500 per utterance of the batch size.
    pub batch_frames: Option<usize>,
    pub validation_percent: Option<f64>,
    pub plateau_patience: Option<u32>,
    pub early_stop_patience: Option<u32>,
    pub checkpoint_minutes: Option<f64>,
    pub seed: u64,
    pub augment: Option<AugmentOptions>,
    /// Keep every epoch's weights ([`TrainOptions::keep_epochs`]).
    pub keep_epochs: bool,
    /// Replace a run already in `out_dir` (else the trainer refuses to start).
    pub replace: bool,
}

impl Recipe {
    /// Everything at its default: train `data` from scratch.
    pub fn new(data: impl Into<PathBuf>, origin: Origin) -> Self {
        Recipe {
            data: data.into(),
            validation: None,
            out_dir: None,
            origin,
            name: None,
            epochs: None,
            learning_rate: None,
            warmup_steps: None,
            batch_size: None,
            batch_frames: None,
            validation_percent: None,
            plateau_patience: None,
            early_stop_patience: None,
            checkpoint_minutes: None,
            seed: 1,
            augment: None,
            keep_epochs: false,
            replace: false,
        }
    }

    /// The learning rate this recipe trains at.
    pub fn effective_learning_rate(&self) -> f64 {
        self.learning_rate.unwrap_or(if self.origin.is_fine_tune() {
            FINE_TUNE_LEARNING_RATE
        } else {
            SCRATCH_LEARNING_RATE
        })
    }

    /// The job the trainer runs. `runs_root` is where a run without `out_dir` gets its fresh
    /// folder ([`fresh_run_dir`]).
    pub fn job(&self, runs_root: &Path) -> Result<TrainJob> {
        let start = match &self.origin {
            Origin::Scratch { hidden, layers, stack, dropout, normalization } => {
                let layers = layers.unwrap_or(LAYERS);
                let stack = stack.unwrap_or(STACK);
                let features = FeatureOptions {
                    normalization: normalization.unwrap_or(NORMALIZATION),
                    ..FeatureOptions::default()
                };
                let arch = ArchConfig {
                    hidden: hidden.unwrap_or(HIDDEN),
                    layers,
                    stack_frames: stack,
                    subsample: stack,
                    // Dropout acts between LSTM layers: a single layer has none to drop.
                    dropout: if layers > 1 { dropout.unwrap_or(DROPOUT) } else { 0.0 },
                    seed: self.seed,
                    ..ArchConfig::default()
                };
                arch.validate()?;
                Start::Scratch { arch, features, alphabet: Alphabet::default() }
            }
            Origin::FineTune { model, hidden, dropout } => {
                if let Some(d) = dropout
                    && !(0.0..1.0).contains(d)
                {
                    return Err(Error::Options(format!("dropout must be in [0, 1), got {d}")));
                }
                Start::FineTune { model: model.clone(), widen_to: *hidden, dropout: *dropout }
            }
        };
        let d = TrainOptions::default();
        let batch = self.batch_size.unwrap_or(d.max_batch_size);
        let options = TrainOptions {
            epochs: self.epochs.unwrap_or(d.epochs),
            learning_rate: self.effective_learning_rate(),
            warmup_steps: self.warmup_steps,
            max_batch_size: batch,
            max_batch_frames: self.batch_frames.unwrap_or(batch * 500),
            validation_percent: self.validation_percent.unwrap_or(d.validation_percent),
            plateau_patience: self.plateau_patience,
            early_stop_patience: self.early_stop_patience,
            checkpoint_minutes: self.checkpoint_minutes.unwrap_or(d.checkpoint_minutes),
            seed: self.seed,
            augment: self.augment.clone(),
            keep_epochs: self.keep_epochs,
            ..d
        };
        options.validate()?;
        let name = self.name.as_deref().map(str::trim).filter(|n| !n.is_empty());
        let out_dir = match &self.out_dir {
            Some(p) => p.clone(),
            None => {
                let label = match (&name, &self.origin) {
                    (Some(n), _) => n.to_string(),
                    (None, Origin::FineTune { model, .. }) => {
                        let cfg = crate::model::file::load_config::<crate::model::ModelConfig>(
                            &crate::model::ModelPaths::resolve(model).config,
                        )
                        .map_err(|e| {
                            Error::Options(format!("cannot read the model to fine-tune: {e}"))
                        })?;
                        if cfg.name.is_empty() { "fine-tuned".into() } else { cfg.name }
                    }
                    (None, Origin::Scratch { .. }) => "model".into(),
                };
                fresh_run_dir(runs_root, &label, crate::util::unix_now_s())
            }
        };
        Ok(TrainJob {
            data: self.data.clone(),
            validation: self.validation.clone(),
            out_dir,
            start,
            options,
            name: self.name.clone(),
            replace: self.replace,
        })
    }
}

/// Recordings the Record tab asks for before it fine-tunes on them: enough that a fifth of them
/// (the validation share) is a handful of utterances to measure "before" and "after" on.
pub const VOICE_MIN_RECORDINGS: usize = 20;
/// Share of a voice folder held out for validation (percent).
pub const VOICE_VALIDATION_PERCENT: f64 = 20.0;
/// Passes over a voice folder.
pub const VOICE_EPOCHS: u64 = 10;

/// The Record tab's one-click fine-tune of `model` on a folder of one person's recordings: the
/// fine-tuning rate, a fifth held out for validation, a fresh run folder, the augmentation
/// defaults. Measured in README "Your voice".
pub fn voice_adaptation(folder: &Path, model: &Path) -> Recipe {
    Recipe {
        epochs: Some(VOICE_EPOCHS),
        validation_percent: Some(VOICE_VALIDATION_PERCENT),
        ..Recipe::new(
            folder,
            Origin::FineTune { model: model.to_path_buf(), hidden: None, dropout: None },
        )
    }
}

/// Below this much training audio (hours) a run without augmentation settings trains on the
/// audio as it is: on a few hundred utterances the noise and SpecAugment masks of the defaults
/// stalled learning (digits, 600 utterances: CER 58 % after 18 epochs with them, against 6 %
/// without; README "Training").
pub const AUTO_AUGMENT_MIN_HOURS: f64 = 2.0;

/// Augmentation when none is given: none for a small folder, the defaults (speed, noise,
/// SpecAugment) from [`AUTO_AUGMENT_MIN_HOURS`] on.
pub fn auto_augment(train_hours: f64) -> AugmentOptions {
    if train_hours < AUTO_AUGMENT_MIN_HOURS {
        AugmentOptions::none()
    } else {
        AugmentOptions::default()
    }
}

/// Linear warm-up length when none is given: a fifth of an epoch, at most 200 steps, so a small
/// folder (a few dozen batches per epoch) reaches its peak rate within the first epoch and a
/// large one warms up over the first few hundred updates as before. A fine-tune starts from
/// weights that already work: half of that.
pub fn auto_warmup(steps_per_epoch: usize, fine_tune: bool) -> u64 {
    let w = (steps_per_epoch as u64 / 5).clamp(1, 200);
    if fine_tune { w.div_ceil(2) } else { w }
}

/// (plateau, early-stop) patience in epochs when none is given. A validation after few updates
/// is a noisy measurement, so short epochs get more of them: the plateau patience covers about
/// 600 updates (at least 2 epochs, at most 5), early stopping twice that plus 2.
pub fn auto_patience(steps_per_epoch: usize) -> (u32, u32) {
    let plateau = 600u64.div_ceil(steps_per_epoch.max(1) as u64).clamp(2, 5) as u32;
    (plateau, 2 * plateau + 2)
}

/// A new folder under `root` for a run of `label`: `LABEL-YYYY-MM-DD-HHMM` (UTC), with `-2`,
/// `-3` … added when that exists. The label keeps letters, digits, `-` and `_`; other runs of
/// characters become one `-`.
pub fn fresh_run_dir(root: &Path, label: &str, unix_s: u64) -> PathBuf {
    let mut clean = String::new();
    for c in label.trim().chars() {
        if c.is_alphanumeric() || c == '_' || c == '-' {
            clean.push(c.to_ascii_lowercase());
        } else if !clean.ends_with('-') {
            clean.push('-');
        }
    }
    // A label that is itself a run folder's name ("model-2026-12-02-0009") keeps its name part
    // only, so a run beside it is "model-2026-12-02-0010", not a name with two dates.
    let clean = strip_run_stamp(clean.trim_matches('-'));
    let clean = if clean.is_empty() { "model" } else { clean };
    let (y, mo, d, h, mi) = civil_utc(unix_s);
    let base = format!("{clean}-{y:04}-{mo:02}-{d:02}-{h:02}{mi:02}");
    let mut dir = root.join(&base);
    let mut n = 2;
    while dir.exists() {
        dir = root.join(format!("{base}-{n}"));
        n += 1;
    }
    dir
}

/// `label` without a trailing `-YYYY-MM-DD-HHMM` or `-YYYY-MM-DD-HHMM-N` (what
/// [`fresh_run_dir`] appends).
fn strip_run_stamp(label: &str) -> &str {
    let parts: Vec<&str> = label.split('-').collect();
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    let is_stamp = |p: &[&str]| {
        p.len() == 4 && digits(p[0], 4) && digits(p[1], 2) && digits(p[2], 2) && digits(p[3], 4)
    };
    let n = parts.len();
    let keep = if n >= 5 && is_stamp(&parts[n - 4..]) {
        n - 4
    } else if n >= 6 && is_stamp(&parts[n - 5..n - 1]) && parts[n - 1].parse::<u32>().is_ok() {
        n - 5
    } else {
        return label;
    };
    let len = parts[..keep].iter().map(|p| p.len() + 1).sum::<usize>() - 1;
    &label[..len]
}

/// (year, month, day, hour, minute) in UTC of a Unix time (Howard Hinnant's civil-from-days).
fn civil_utc(unix_s: u64) -> (i64, u32, u32, u32, u32) {
    let days = (unix_s / 86_400) as i64;
    let secs = unix_s % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d, (secs / 3600) as u32, ((secs % 3600) / 60) as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_folders_are_readable_and_never_reused() {
        // 2026-12-01 20:35 UTC.
        let t = 1_796_157_300;
        assert_eq!(civil_utc(t), (2026, 12, 1, 20, 35));
        assert_eq!(civil_utc(0), (1970, 1, 1, 0, 0));
        assert_eq!(civil_utc(951_782_400), (2000, 2, 29, 0, 0));
        let root = tempfile::tempdir().unwrap();
        let a = fresh_run_dir(root.path(), "Hark default English", t);
        assert_eq!(a.file_name().unwrap(), "hark-default-english-2026-12-01-2035");
        std::fs::create_dir(&a).unwrap();
        let b = fresh_run_dir(root.path(), "Hark default English", t);
        assert_eq!(b.file_name().unwrap(), "hark-default-english-2026-12-01-2035-2");
        assert_eq!(
            fresh_run_dir(root.path(), " ?? ", t).file_name().unwrap(),
            "model-2026-12-01-2035"
        );
        // A new folder beside a run folder is named after the run's name, not its full name.
        let c = fresh_run_dir(root.path(), "hark-default-english-2026-12-01-1902-3", t);
        assert_eq!(c.file_name().unwrap(), "hark-default-english-2026-12-01-2035-2");
        let d = fresh_run_dir(root.path(), "model-2026-12-01-1902", t);
        assert_eq!(d.file_name().unwrap(), "model-2026-12-01-2035");
        assert_eq!(strip_run_stamp("digits-2026"), "digits-2026");
        assert_eq!(strip_run_stamp("2026-12-01-1902"), "2026-12-01-1902");
    }

    #[test]
    fn warm_up_and_patience_follow_the_epoch_length() {
        // 600 utterances in batches of 16: 38 steps per epoch.
        assert_eq!(auto_warmup(38, false), 7);
        assert_eq!(auto_warmup(38, true), 4);
        assert_eq!(auto_warmup(5000, false), 200);
        assert_eq!(auto_warmup(1, false), 1);
        assert_eq!(auto_patience(38), (5, 12));
        assert_eq!(auto_patience(5000), (2, 6));
        assert_eq!(auto_patience(200), (3, 8));
    }

    #[test]
    fn a_fine_tune_takes_a_dropout_rate_in_range() {
        let mut r = Recipe::new(
            "data",
            Origin::FineTune { model: "m".into(), hidden: None, dropout: Some(0.3) },
        );
        r.out_dir = Some("out".into());
        match r.job(Path::new("/tmp")).unwrap().start {
            Start::FineTune { dropout, widen_to, .. } => {
                assert_eq!((dropout, widen_to), (Some(0.3), None))
            }
            other => panic!("{other:?}"),
        }
        r.origin = Origin::FineTune { model: "m".into(), hidden: None, dropout: Some(1.0) };
        let e = r.job(Path::new("/tmp")).unwrap_err().to_string();
        assert!(e.contains("dropout must be in [0, 1)"), "{e}");
    }

    #[test]
    fn fine_tuning_defaults_to_a_lower_rate() {
        let mut r = Recipe::new("data", Origin::scratch());
        r.out_dir = Some("out".into());
        assert_eq!(r.job(Path::new("/tmp")).unwrap().options.learning_rate, 1e-3);
        r.origin = Origin::FineTune { model: "m".into(), hidden: None, dropout: None };
        assert_eq!(r.job(Path::new("/tmp")).unwrap().options.learning_rate, 1e-4);
        r.learning_rate = Some(3e-4);
        assert_eq!(r.job(Path::new("/tmp")).unwrap().options.learning_rate, 3e-4);
    }
}
