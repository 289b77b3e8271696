//! A model's JSON config: everything needed, with the weights, to turn audio into text — the
//! feature options training used, the normalization statistics, the alphabet and the architecture —
//! plus what is known about how it was trained. `format_version` is checked on load.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::ctc::Alphabet;
use crate::features::{Cmvn, FeatureOptions, Normalization};
use crate::model::acoustic::ArchConfig;
use crate::{Error, Result};

/// The file's `format_version` is written and checked by [`crate::model::file`], not stored here.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelConfig {
    /// A short human-readable name (shown in the GUI and in `hark transcribe --verbose`).
    #[serde(default)]
    pub name: String,
    pub arch: ArchConfig,
    /// The front end this model was trained with; recognition must use exactly these.
    pub features: FeatureOptions,
    /// Global mean/std of the features over the training set (required when
    /// `features.normalization` is `global`).
    #[serde(default)]
    pub cmvn: Option<Cmvn>,
    pub alphabet: Alphabet,
    /// How the model was made and how well it did (filled in by the trainer).
    #[serde(default)]
    pub training: TrainingInfo,
}

/// Training metadata recorded in the model file. `dataset`, `train_utterances` and `train_hours`
/// describe the last training run; `epochs`, `steps` and `seconds` count every run since random
/// weights, and `earlier_stages` lists the runs before the last one (a fine-tuned model's
/// history), oldest first.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TrainingInfo {
    /// The data the model was trained on (path or description).
    pub dataset: String,
    pub train_utterances: usize,
    pub train_hours: f64,
    /// The runs this one fine-tuned, oldest first (empty for a model trained in one run).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub earlier_stages: Vec<TrainingStage>,
    pub epochs: u64,
    pub steps: u64,
    /// Wall-clock seconds spent training.
    pub seconds: f64,
    /// Validation results of these weights (CER and WER in percent).
    pub val_cer: Option<f64>,
    pub val_wer: Option<f64>,
    pub val_loss: Option<f64>,
    /// What the validation figures were measured on, for people: e.g. "60 held-out utterances
    /// of the training data (voices in the training data)" (empty in older files).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub validation: String,
    /// A fine-tune's starting model on the same validation set (the "before").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_val_cer: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_val_wer: Option<f64>,
    /// Measurements on data the training never saw (e.g. new voices), newest last; written by
    /// `hark eval --record`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub evaluations: Vec<Evaluation>,
    /// These weights are the mean of these models' ([`crate::model::average`], `hark average`):
    /// one label (path) each, oldest first. Empty for weights a training run wrote.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub averaged_from: Vec<String>,
    /// Seconds since the Unix epoch when these weights were saved.
    pub saved_unix_s: u64,
    pub hark_version: String,
}

/// One accuracy measurement of a model on a named test set.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Evaluation {
    /// What the set is, for people ("held-out TTS voices, 600 utterances").
    pub set: String,
    pub utterances: usize,
    /// CER and WER in percent.
    pub cer: f64,
    pub wer: f64,
    /// The decoding measured ("greedy", "beam 128, word LM lm.arpa …").
    pub decoding: String,
}

/// One earlier training run of a fine-tuned model.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TrainingStage {
    pub dataset: String,
    pub train_utterances: usize,
    pub train_hours: f64,
    /// Epochs of this run alone.
    pub epochs: u64,
}

impl TrainingInfo {
    /// The history a run that fine-tunes a model with this record starts from: its earlier
    /// stages and its own last run (none for an empty record).
    pub fn stages_so_far(&self) -> Vec<TrainingStage> {
        let mut stages = self.earlier_stages.clone();
        if !self.dataset.is_empty() {
            let before: u64 = stages.iter().map(|s| s.epochs).sum();
            stages.push(TrainingStage {
                dataset: self.dataset.clone(),
                train_utterances: self.train_utterances,
                train_hours: self.train_hours,
                epochs: self.epochs.saturating_sub(before),
            });
        }
        stages
    }
}

impl ModelConfig {
    /// A config for a new model with `arch` over `features` and `alphabet`; the architecture's input
    /// and output sizes are set from them.
    pub fn new(mut arch: ArchConfig, features: FeatureOptions, alphabet: Alphabet) -> Self {
        arch.input_dim = features.dim();
        arch.num_labels = alphabet.num_labels();
        ModelConfig {
            name: String::new(),
            arch,
            features,
            cmvn: None,
            alphabet,
            training: TrainingInfo::default(),
        }
    }

    /// Checks every part and that they fit together; errors name `path` and the field.
    pub fn validate(&self, path: &Path) -> Result<()> {
        let bad = |reason: String| Error::model(path, reason);
        self.arch.validate().map_err(|e| bad(format!("arch: {e}")))?;
        self.features.validate().map_err(|e| bad(format!("features: {e}")))?;
        self.alphabet.validate().map_err(|e| bad(format!("alphabet: {e}")))?;
        if self.arch.input_dim != self.features.dim() {
            return Err(bad(format!(
                "arch.input_dim is {} but the feature options give {} values per frame",
                self.arch.input_dim,
                self.features.dim()
            )));
        }
        if self.arch.num_labels != self.alphabet.num_labels() {
            return Err(bad(format!(
                "arch.num_labels is {} but the alphabet has {} labels (with the blank)",
                self.arch.num_labels,
                self.alphabet.num_labels()
            )));
        }
        match (&self.cmvn, self.features.normalization) {
            (None, Normalization::Global) => {
                return Err(bad("features.normalization is global but cmvn is missing".into()));
            }
            (Some(c), _) => {
                c.validate().map_err(|e| bad(format!("cmvn: {e}")))?;
                if c.dim() != self.features.dim() {
                    return Err(bad(format!(
                        "cmvn has {} dimensions, the features {}",
                        c.dim(),
                        self.features.dim()
                    )));
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Seconds of audio per network output frame (feature shift × subsampling).
    pub fn frame_duration_s(&self) -> f32 {
        (self.features.frame_shift_ms * self.arch.subsample as f64 / 1000.0) as f32
    }

    /// Network output frames per second of audio.
    pub fn output_frames_per_second(&self) -> f64 {
        1000.0 / (self.features.frame_shift_ms * self.arch.subsample as f64)
    }
}
