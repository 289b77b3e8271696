//! What a training run is and what it says: the job (`train.json`), its options, the commands
//! its owner sends and the events it reports. The trainer ([`super::trainer`]) runs it; the
//! recipe ([`super::recipe`]) makes it from what a person asked for.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::ctc::Alphabet;
use crate::features::FeatureOptions;
use crate::model::acoustic::ArchConfig;
use crate::train::augment::AugmentOptions;
use crate::train::data::DatasetReport;
use crate::{Error, Result};

/// Hyperparameters of a run (saved in `train.json`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainOptions {
    /// Passes over the training data.
    pub epochs: u64,
    /// Peak learning rate (after warm-up).
    pub learning_rate: f64,
    /// Linear warm-up over this many steps; `None`: [`recipe::auto_warmup`] of the epoch length.
    pub warmup_steps: Option<u64>,
    /// Decoupled (AdamW) weight decay; 0 = plain Adam.
    pub weight_decay: f64,
    /// Global gradient-norm clipping threshold.
    pub clip_norm: f64,
    /// Halve the learning rate after this many epochs without a better validation CER;
    /// `None`: [`recipe::auto_patience`] of the epoch length.
    pub plateau_patience: Option<u32>,
    /// Stop after this many epochs without a better validation CER; `None`: as above.
    pub early_stop_patience: Option<u32>,
    /// At most this many utterances per batch.
    pub max_batch_size: usize,
    /// At most this many padded feature frames per batch (B · T_max).
    pub max_batch_frames: usize,
    /// Share of the data held out for validation when no validation folder is given (percent).
    pub validation_percent: f64,
    /// Write a checkpoint at least this often (minutes), besides every epoch end.
    pub checkpoint_minutes: f64,
    /// Seed of the batch order, dropout and augmentation (the weights use `arch.seed`).
    pub seed: u64,
    /// Reference/hypothesis pairs reported after each validation.
    pub samples_per_epoch: usize,
    /// Memory for cached features (MiB).
    pub feature_cache_mib: usize,
    /// Augmentation; `None`: [`recipe::auto_augment`] of the training hours.
    pub augment: Option<AugmentOptions>,
    /// Also keep every epoch's weights in the run folder (`epoch-001.json` +
    /// `epoch-001.safetensors`, …), e.g. for `hark average`; else only the best and the newest.
    pub keep_epochs: bool,
}

impl Default for TrainOptions {
    fn default() -> Self {
        TrainOptions {
            epochs: 30,
            learning_rate: 1e-3,
            warmup_steps: None,
            weight_decay: 0.0,
            clip_norm: 5.0,
            plateau_patience: None,
            early_stop_patience: None,
            max_batch_size: 16,
            max_batch_frames: 16 * 500,
            validation_percent: 5.0,
            checkpoint_minutes: 10.0,
            seed: 1,
            samples_per_epoch: 3,
            feature_cache_mib: 4096,
            augment: None,
            keep_epochs: false,
        }
    }
}

impl TrainOptions {
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::Options(m));
        if self.epochs == 0 {
            return bad("epochs must be at least 1".into());
        }
        if !(self.learning_rate > 0.0 && self.learning_rate.is_finite()) {
            return bad(format!("learning_rate must be positive, got {}", self.learning_rate));
        }
        if self.clip_norm.is_nan() || self.clip_norm <= 0.0 {
            return bad(format!("clip_norm must be positive, got {}", self.clip_norm));
        }
        if self.max_batch_size == 0 || self.max_batch_frames == 0 {
            return bad("max_batch_size and max_batch_frames must be at least 1".into());
        }
        if !(0.0..100.0).contains(&self.validation_percent) {
            return bad(format!(
                "validation_percent must be in [0, 100), got {}",
                self.validation_percent
            ));
        }
        if self.checkpoint_minutes.is_nan() || self.checkpoint_minutes <= 0.0 {
            return bad(format!(
                "checkpoint_minutes must be positive, got {}",
                self.checkpoint_minutes
            ));
        }
        self.augment.as_ref().map_or(Ok(()), AugmentOptions::validate)
    }
}

/// Where the weights of a new run come from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Start {
    /// New random weights with this architecture, front end and alphabet.
    Scratch { arch: ArchConfig, features: FeatureOptions, alphabet: Alphabet },
    /// Fine-tune an existing model (its architecture, features, normalization and alphabet),
    /// first widened to `widen_to` units per direction if that is given and larger (see
    /// [`crate::model::widen`]: the wider model starts out computing the same function).
    FineTune {
        model: PathBuf,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        widen_to: Option<usize>,
        /// Dropout between the LSTM layers while fine-tuning, instead of the model's own rate
        /// (more regularization for a small fine-tuning set); saved with the model.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        dropout: Option<f64>,
    },
}

/// Everything a run needs (saved as `train.json` in the run directory).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainJob {
    pub data: PathBuf,
    pub validation: Option<PathBuf>,
    pub out_dir: PathBuf,
    pub start: Start,
    pub options: TrainOptions,
    /// Name stored in the model (`ModelConfig::name`, trimmed); `None` or blank keeps the
    /// starting model's (a new model's is empty).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// A fresh run into a folder that already holds a run replaces it (its run files are
    /// deleted first). Without it such a run is refused ([`existing_run`] names what is there).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub replace: bool,
}

impl TrainJob {
    /// Refuses a job whose data or validation path does not exist, before anything is created
    /// (so a mistyped path leaves no empty run folder, and nothing is announced).
    pub fn check_data_exists(&self) -> crate::Result<()> {
        for p in std::iter::once(&self.data).chain(self.validation.iter()) {
            std::fs::metadata(p).map_err(|e| crate::Error::io(p, e))?;
        }
        Ok(())
    }
}

/// Commands the owner sends to a running trainer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrainCommand {
    Pause,
    Resume,
    /// Save a checkpoint and stop.
    Stop,
    /// Save a checkpoint now and go on.
    SaveNow,
}

/// One reference/hypothesis pair from validation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    pub id: String,
    pub reference: String,
    pub hypothesis: String,
}

/// Why a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FinishReason {
    Completed,
    EarlyStopped,
    Stopped,
}

/// What a running trainer reports.
#[derive(Clone, Debug, PartialEq)]
pub enum TrainEvent {
    /// Something the person should know before trusting the numbers (e.g. a validation set
    /// too small to mean much), with what to do about it.
    Warning(String),
    /// A fine-tune's starting model measured on the run's validation set (the "before").
    Baseline(Baseline),
    /// A fine-tune's carried decoder was re-tuned on the validation data (WER in percent, with
    /// the new and with the carried weights).
    DecoderTuned {
        utterances: usize,
        lm_weight: f32,
        word_bonus: f32,
        wer: f64,
        carried_wer: f64,
    },
    /// The data is read: training and validation reports.
    Dataset {
        train: DatasetReport,
        validation: Option<DatasetReport>,
        train_utterances: usize,
        validation_utterances: usize,
    },
    /// Preparing (normalization statistics): `done` of `total` files.
    Preparing {
        done: usize,
        total: usize,
    },
    /// Training starts (or resumes) at `step`; `steps_per_epoch` batches per epoch.
    Started {
        step: u64,
        epoch: u64,
        steps_per_epoch: usize,
        epochs: u64,
    },
    /// One optimizer step.
    Step(StepInfo),
    /// A batch that was not used for an update, and why (non-finite loss or gradient).
    Skipped {
        step: u64,
        reason: String,
    },
    /// Utterances left out of a batch's loss because their transcript cannot fit their frames.
    Impossible {
        step: u64,
        ids: Vec<String>,
    },
    /// End of an epoch, after validation.
    Epoch(EpochInfo),
    /// A checkpoint was written.
    Checkpoint {
        step: u64,
        path: PathBuf,
    },
    Paused,
    Resumed,
    /// Something went wrong; the run ends after this (a `Finished` does not follow).
    /// `input_error` is true when the data, model file or settings given were at fault.
    Error {
        message: String,
        input_error: bool,
    },
    Finished {
        reason: FinishReason,
        best_cer: Option<f64>,
        model: PathBuf,
    },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StepInfo {
    pub step: u64,
    pub epoch: u64,
    /// Batch index within the epoch (1-based: this many done).
    pub batch: usize,
    pub batches: usize,
    pub loss: f64,
    pub learning_rate: f64,
    pub grad_norm: f64,
    pub ms: f64,
    /// Seconds of audio processed per second of wall time.
    pub audio_per_s: f64,
    /// Estimated seconds until the last epoch ends.
    pub eta_s: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochInfo {
    pub epoch: u64,
    pub step: u64,
    pub train_loss: f64,
    pub val_loss: Option<f64>,
    /// Percent.
    pub val_cer: Option<f64>,
    pub val_wer: Option<f64>,
    pub learning_rate: f64,
    /// The weights are the best so far (saved as the run's model).
    pub best: bool,
    pub samples: Vec<Sample>,
    pub seconds: f64,
}

/// The starting model's validation CER and WER (percent) on a fine-tune's validation set.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Baseline {
    pub val_cer: f64,
    pub val_wer: f64,
}

/// A fine-tune re-tunes its carried decoder on at least this many validation utterances.
pub const RETUNE_MIN_UTTERANCES: usize = 50;

/// Fewer validation utterances than this make the trainer warn that its CER is a rough figure.
pub const FEW_VALIDATION_UTTERANCES: usize = 20;
