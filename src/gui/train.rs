//! Train tab: choose a labeled folder, read its report, set hyperparameters, then start, pause,
//! resume and stop a run while the loss and error-rate curves grow. The trainer runs on its own
//! thread ([`crate::train::trainer::spawn`]); this tab only drains its events.

use eframe::egui;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

mod plots;

use super::worker::{self, Pick, Task};
use super::{Shared, error_box, path_field, path_of};
use crate::model::ModelConfig;
use crate::train::augment::AugmentOptions;
use crate::train::data::{Dataset, DatasetReport, scan_dataset};
use crate::train::recipe::{self, Origin, Recipe};
use crate::train::trainer::{
    self, FinishReason, Sample, Start, TrainCommand, TrainEvent, TrainJob, TrainOptions,
    TrainerHandle,
};

/// The Train tab's augmentation choice.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum AugmentChoice {
    /// Off for a small folder, on from [`recipe::AUTO_AUGMENT_MIN_HOURS`] of audio.
    #[default]
    Auto,
    On,
    Off,
}

/// Where a run's weights start.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum StartFrom {
    #[default]
    Scratch,
    /// The current model (Models tab).
    FineTune,
}

/// The Train tab's persisted choices.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TrainSettings {
    pub data: String,
    pub validation: String,
    pub out_dir: String,
    pub start: StartFrom,
    pub epochs: u64,
    /// The peak learning rate when set; `None` = the recipe's (1e-3 from scratch, 1e-4
    /// fine-tuning).
    pub learning_rate_override: Option<f64>,
    pub batch_size: usize,
    pub hidden: usize,
    pub layers: usize,
    pub validation_percent: f64,
    pub augmentation: AugmentChoice,
    pub seed: u64,
    /// Name for the trained model ("" = the starting model's, none for a new one).
    pub name: String,
}

impl Default for TrainSettings {
    fn default() -> Self {
        let t = TrainOptions::default();
        TrainSettings {
            data: String::new(),
            validation: String::new(),
            out_dir: String::new(),
            start: StartFrom::Scratch,
            epochs: t.epochs,
            learning_rate_override: None,
            batch_size: t.max_batch_size,
            hidden: recipe::HIDDEN,
            layers: recipe::LAYERS,
            validation_percent: t.validation_percent,
            augmentation: AugmentChoice::Auto,
            seed: 1,
            name: String::new(),
        }
    }
}

impl TrainSettings {
    /// The recipe these settings ask for (the trainer's recipe fills in the rest, as for the
    /// CLI). `model` is the loaded model, for fine-tuning.
    pub fn recipe(&self, data: PathBuf, model: Option<&Path>) -> Option<Recipe> {
        let origin = match self.start {
            StartFrom::Scratch => Origin::Scratch {
                hidden: Some(self.hidden),
                layers: Some(self.layers),
                stack: None,
                dropout: None,
                normalization: None,
            },
            StartFrom::FineTune => Origin::FineTune {
                model: model?.to_path_buf(),
                hidden: Some(self.hidden),
                dropout: None,
            },
        };
        Some(Recipe {
            validation: path_of(&self.validation),
            out_dir: path_of(&self.out_dir),
            name: Some(self.name.clone()),
            epochs: Some(self.epochs),
            learning_rate: self.learning_rate_override,
            batch_size: Some(self.batch_size),
            validation_percent: Some(self.validation_percent),
            seed: self.seed,
            augment: match self.augmentation {
                AugmentChoice::Auto => None,
                AugmentChoice::On => Some(AugmentOptions::default()),
                AugmentChoice::Off => Some(AugmentOptions::none()),
            },
            ..Recipe::new(data, origin)
        })
    }
}

/// Points of the curves (x = optimizer step).
#[derive(Default)]
pub struct Curves {
    /// Per-step training loss.
    pub step_loss: Vec<[f64; 2]>,
    /// Exponential moving average of the step loss (α = 0.1).
    pub smoothed: Vec<[f64; 2]>,
    /// Mean training loss of each epoch, at its last step.
    pub epoch_loss: Vec<[f64; 2]>,
    pub val_loss: Vec<[f64; 2]>,
    /// Validation CER / WER (percent) per epoch (x = epoch).
    pub cer: Vec<[f64; 2]>,
    pub wer: Vec<[f64; 2]>,
}

/// Where a running (or ended) run is.
#[derive(Default)]
pub struct Progress {
    pub step: u64,
    pub epoch: u64,
    pub epochs: u64,
    pub steps_per_epoch: usize,
    /// First step of this session (nonzero after a resume).
    pub first_step: u64,
    pub batch: usize,
    pub eta_s: f64,
    pub audio_per_s: f64,
    pub preparing: Option<(usize, usize)>,
    pub paused: bool,
    /// How the run ended ("finished", "stopped early", "stopped", "failed"); `None` while it runs.
    /// The bar then shows where it ended instead of an ETA.
    pub ended: Option<&'static str>,
}

impl Progress {
    /// Fraction of all steps done (0..1).
    pub fn fraction(&self) -> f32 {
        let total = self.steps_per_epoch as u64 * self.epochs;
        if total == 0 { 0.0 } else { (self.step as f64 / total as f64).min(1.0) as f32 }
    }
}

/// The training data and the validation folder's, read by the scanner.
type Scanned = crate::Result<(Dataset, Option<Dataset>)>;

pub struct TrainTab {
    pub settings: TrainSettings,
    pub report: Option<DatasetReport>,
    pub validation_report: Option<DatasetReport>,
    scanning: Option<Task<Scanned>>,
    dialog: Option<(Field, Task<Vec<PathBuf>>)>,
    handle: Option<TrainerHandle>,
    pub curves: Curves,
    pub progress: Progress,
    /// Reference/hypothesis pairs of the last validation.
    pub samples: Vec<Sample>,
    /// What happened, newest last (checkpoints, skipped batches, the end).
    pub log: Vec<String>,
    /// Where the finished run's best model is.
    pub finished_model: Option<PathBuf>,
    pub status: String,
    pub error: Option<String>,
    /// The current run's directory.
    pub run_dir: Option<PathBuf>,
    /// A start that waits for the answer to "replace the run in that folder?".
    pending: Option<PendingStart>,
    /// The trainer's warnings of this run (e.g. a validation set too small to mean much).
    pub warnings: Vec<String>,
    /// A fine-tune's starting model on the validation set.
    pub baseline: Option<trainer::Baseline>,
    /// Set by "Fit to data": the plots drop any zoom for one frame.
    pub fit_plots: bool,
    /// What the validation figures are measured on.
    pub validation_label: String,
}

/// A run that would replace another, and what is there.
struct PendingStart {
    job: TrainJob,
    what: String,
}

/// Answers to "replace the run in that folder?".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplaceAnswer {
    Replace,
    NewFolder,
    Cancel,
}

#[derive(Clone, Copy, PartialEq)]
enum Field {
    Data,
    Validation,
    Out,
}

impl TrainTab {
    pub fn new(settings: TrainSettings) -> Self {
        TrainTab {
            settings,
            report: None,
            validation_report: None,
            scanning: None,
            dialog: None,
            handle: None,
            curves: Curves::default(),
            progress: Progress::default(),
            samples: Vec::new(),
            log: Vec::new(),
            finished_model: None,
            status: "Idle".into(),
            error: None,
            run_dir: None,
            pending: None,
            warnings: Vec::new(),
            baseline: None,
            fit_plots: false,
            validation_label: String::new(),
        }
    }

    /// True while a trainer thread is alive.
    pub fn is_running(&self) -> bool {
        self.handle.as_ref().is_some_and(|h| !h.is_finished())
    }

    /// A short line for the status bar while training.
    pub fn status_line(&self) -> Option<String> {
        self.handle.as_ref()?;
        Some(format!("Training: {}", self.status))
    }

    /// Asks the trainer to save a checkpoint and stop.
    pub fn stop(&mut self) {
        if let Some(h) = &self.handle {
            h.send(TrainCommand::Stop);
            self.status = "Stopping (saving a checkpoint) …".into();
        }
    }

    /// Reads the dataset report (and the validation folder's) on a background thread.
    pub fn check_data(&mut self, shared: &Shared) {
        let Some(data) = path_of(&self.settings.data) else {
            self.error = Some("Choose a labeled folder first.".into());
            return;
        };
        let validation = path_of(&self.settings.validation);
        let (alphabet, fps) = match self.settings.start {
            StartFrom::FineTune => match &shared.model.model {
                Some(m) => (m.config.alphabet.clone(), m.config.output_frames_per_second()),
                None => {
                    self.error = Some("Fine-tuning needs a model: load one in Models.".into());
                    return;
                }
            },
            StartFrom::Scratch => {
                let recipe = self.settings.recipe(data.clone(), None).expect("scratch recipe");
                let fps = match recipe.job(&runs_root()).map(|j| j.start) {
                    Ok(Start::Scratch { arch, features, alphabet }) => {
                        ModelConfig::new(arch, features, alphabet).output_frames_per_second()
                    }
                    _ => 100.0 / recipe::STACK as f64,
                };
                (crate::ctc::Alphabet::default(), fps)
            }
        };
        self.error = None;
        self.report = None;
        self.validation_report = None;
        self.scanning = Some(Task::spawn("scan", shared.notify.clone(), move || {
            let d = scan_dataset(&data, &alphabet, fps)?;
            let v = validation.map(|v| scan_dataset(&v, &alphabet, fps)).transpose()?;
            Ok((d, v))
        }));
    }

    /// Starts a new run with the current settings. A run folder that already holds a run is
    /// never written into without asking: the tab shows the question ([`Self::replace_question`])
    /// and starts only after "Replace it" (or in a new folder after "Use a new folder").
    pub fn start(&mut self, shared: &mut Shared) {
        if self.is_running() {
            return;
        }
        let Some(data) = path_of(&self.settings.data) else {
            self.error = Some("Choose a labeled folder first.".into());
            return;
        };
        let model = shared.model.path.clone().filter(|_| shared.model.model.is_some());
        if self.settings.start == StartFrom::FineTune && model.is_none() {
            self.error =
                Some("Fine-tuning needs a loaded model: choose one in the Models tab.".into());
            return;
        }
        let Some(recipe) = self.settings.recipe(data, model.as_deref()) else { return };
        let job = match recipe.job(&runs_root()) {
            Ok(job) => job,
            Err(e) => {
                self.error = Some(format!("Check the settings: {e}"));
                return;
            }
        };
        self.start_job(job, shared);
    }

    /// Starts `recipe` (the Record tab's voice fine-tune), asking first as [`Self::start`] does.
    pub fn start_recipe(&mut self, recipe: &Recipe, shared: &mut Shared) {
        if self.is_running() {
            return;
        }
        match recipe.job(&runs_root()) {
            Ok(job) => self.start_job(job, shared),
            Err(e) => self.error = Some(format!("Check the settings: {e}")),
        }
    }

    fn start_job(&mut self, job: TrainJob, shared: &mut Shared) {
        if let Some(what) = trainer::describe_existing_run(&job.out_dir) {
            self.pending = Some(PendingStart { job, what });
            return;
        }
        self.settings.out_dir = job.out_dir.display().to_string();
        self.launch(job, false, shared);
    }

    /// The question asked before a run would replace one (`None` when nothing is asked).
    pub fn replace_question(&self) -> Option<&str> {
        self.pending.as_ref().map(|p| p.what.as_str())
    }

    /// Answers the question: `Replace` starts the run over the old one, `NewFolder` starts it
    /// in a fresh folder, `Cancel` starts nothing.
    pub fn answer_replace(&mut self, answer: ReplaceAnswer, shared: &mut Shared) {
        let Some(PendingStart { mut job, .. }) = self.pending.take() else { return };
        match answer {
            ReplaceAnswer::Cancel => return,
            ReplaceAnswer::Replace => job.replace = true,
            ReplaceAnswer::NewFolder => {
                // Beside the folder that was chosen, named after it and the date.
                let label = job.out_dir.file_name().map(|n| n.to_string_lossy().into_owned());
                let root = job.out_dir.parent().map_or_else(runs_root, Path::to_path_buf);
                job.out_dir = recipe::fresh_run_dir(
                    &root,
                    label.as_deref().unwrap_or("model"),
                    crate::util::unix_now_s(),
                );
            }
        }
        self.settings.out_dir = job.out_dir.display().to_string();
        self.launch(job, false, shared);
    }

    /// Continues the run saved in the output folder from its checkpoint.
    pub fn resume_saved(&mut self, shared: &mut Shared) {
        let Some(dir) = path_of(&self.settings.out_dir) else { return };
        let job = std::fs::read_to_string(dir.join("train.json"))
            .map_err(|e| e.to_string())
            .and_then(|s| serde_json::from_str::<TrainJob>(&s).map_err(|e| e.to_string()));
        match job {
            Ok(job) => self.launch(job, true, shared),
            Err(e) => {
                self.error = Some(format!("Cannot resume from {}: {e}", dir.display()));
            }
        }
    }

    fn launch(&mut self, job: TrainJob, resume: bool, shared: &mut Shared) {
        self.curves = Curves::default();
        self.progress = Progress::default();
        self.samples.clear();
        self.log.clear();
        self.finished_model = None;
        self.error = None;
        self.warnings.clear();
        self.baseline = None;
        self.validation_label.clear();
        self.run_dir = Some(job.out_dir.clone());
        self.log.push(format!("Run folder: {}", job.out_dir.display()));
        self.status = "Reading the data …".into();
        let notify = shared.notify.clone();
        self.handle = Some(trainer::spawn(job, resume, Box::new(move || notify())));
    }

    /// Takes what the scanner, the dialogs and the trainer reported.
    pub fn poll(&mut self, _shared: &mut Shared) {
        if let Some(r) = self.scanning.as_ref().and_then(|t| t.poll()) {
            self.scanning = None;
            match r {
                Ok(Ok((d, v))) => {
                    self.report = Some(d.report);
                    self.validation_report = v.map(|v| v.report);
                }
                Ok(Err(e)) => self.error = Some(format!("Cannot read the data: {e}")),
                Err(()) => self.error = Some("Reading the data stopped unexpectedly.".into()),
            }
        }
        if let Some((field, r)) = self.dialog.as_ref().and_then(|(f, t)| t.poll().map(|r| (*f, r)))
        {
            self.dialog = None;
            match r {
                Ok(paths) => {
                    if let Some(p) = paths.into_iter().next() {
                        let s = p.display().to_string();
                        match field {
                            Field::Data => self.settings.data = s,
                            Field::Validation => self.settings.validation = s,
                            Field::Out => self.settings.out_dir = s,
                        }
                    }
                }
                Err(()) => self.error = Some(no_dialog()),
            }
        }
        let mut events = Vec::new();
        let mut finished = false;
        if let Some(h) = &self.handle {
            while let Ok(ev) = h.events.try_recv() {
                events.push(ev);
            }
            finished = h.is_finished();
        }
        let mut ended = finished;
        for ev in events {
            ended |= self.apply(ev);
        }
        if ended {
            // The thread has ended (or is about to): joining it cannot block for long.
            if let Some(h) = self.handle.take() {
                let rest: Vec<TrainEvent> = h.events.try_iter().collect();
                h.join();
                for ev in rest {
                    self.apply(ev);
                }
            }
            self.progress.paused = false;
            // A run whose thread ended without saying how (it panicked): say so, no stale ETA.
            if self.progress.ended.is_none() {
                self.progress.ended = Some("ended");
                self.status = "Ended unexpectedly (an internal error; see the terminal)".into();
                self.error = Some(
                    "Training ended unexpectedly. The last checkpoint in the run folder can be \
                     resumed."
                        .into(),
                );
            }
        }
    }

    /// Applies one event; true when the run is over.
    pub fn apply(&mut self, ev: TrainEvent) -> bool {
        match ev {
            TrainEvent::DecoderTuned { utterances, lm_weight, word_bonus, wer, carried_wer } => {
                self.log.push(format!(
                    "Decoder re-tuned on {utterances} validation utterances: LM weight \
                     {lm_weight}, word bonus {word_bonus}, WER {wer:.1} % (carried weights \
                     {carried_wer:.1} %)"
                ));
            }
            TrainEvent::Warning(w) => {
                self.log.push(format!("Warning: {w}"));
                self.warnings.push(w);
            }
            TrainEvent::Baseline(b) => {
                self.log.push(format!(
                    "Before fine-tuning: the starting model scores CER {:.1} %, WER {:.1} % on \
                     the validation set",
                    b.val_cer, b.val_wer
                ));
                self.baseline = Some(b);
            }
            TrainEvent::Dataset { train, validation, train_utterances, validation_utterances } => {
                self.validation_label = if validation.is_some() {
                    format!("{validation_utterances} utterances of the validation folder")
                } else {
                    format!(
                        "{validation_utterances} held-out utterances of the training data \
                         (voices in the training data, not new voices)"
                    )
                };
                self.log.push(format!(
                    "Data: {train_utterances} utterances for training, {validation_utterances} \
                     for validation"
                ));
                self.report = Some(train);
                self.validation_report = validation;
                self.status = "Preparing …".into();
            }
            TrainEvent::Preparing { done, total } => {
                self.progress.preparing = Some((done, total));
                self.status = format!("Preparing normalization: {done} / {total} files");
            }
            TrainEvent::Started { step, epoch, steps_per_epoch, epochs } => {
                self.progress.preparing = None;
                self.progress.step = step;
                self.progress.first_step = step;
                self.progress.epoch = epoch;
                self.progress.steps_per_epoch = steps_per_epoch;
                self.progress.epochs = epochs;
                self.status = format!("Training: epoch {} of {epochs}", epoch + 1);
            }
            TrainEvent::Step(s) => {
                let x = s.step as f64;
                self.curves.step_loss.push([x, s.loss]);
                let prev = self.curves.smoothed.last().map_or(s.loss, |p| p[1]);
                self.curves.smoothed.push([x, prev + 0.1 * (s.loss - prev)]);
                self.progress.step = s.step;
                self.progress.epoch = s.epoch;
                self.progress.batch = s.batch;
                self.progress.eta_s = s.eta_s;
                self.progress.audio_per_s = s.audio_per_s;
                self.status = format!(
                    "epoch {} of {}, batch {} of {}, loss {:.3}",
                    s.epoch + 1,
                    self.progress.epochs,
                    s.batch,
                    s.batches,
                    s.loss
                );
            }
            TrainEvent::Skipped { step, reason } => {
                self.log.push(format!("Step {step}: batch skipped ({reason})"));
            }
            TrainEvent::Impossible { step, ids } => self.log.push(format!(
                "Step {step}: {} utterance(s) left out, their text is too long for their audio: {}",
                ids.len(),
                ids.join(", ")
            )),
            TrainEvent::Epoch(e) => {
                let x = e.step as f64;
                self.curves.epoch_loss.push([x, e.train_loss]);
                if let Some(v) = e.val_loss {
                    self.curves.val_loss.push([x, v]);
                }
                let ep = (e.epoch + 1) as f64;
                if let Some(c) = e.val_cer {
                    self.curves.cer.push([ep, c]);
                }
                if let Some(w) = e.val_wer {
                    self.curves.wer.push([ep, w]);
                }
                self.log.push(format!(
                    "Epoch {} done in {}: train loss {:.3}{}{}{}",
                    e.epoch + 1,
                    worker::eta(e.seconds),
                    e.train_loss,
                    e.val_loss.map(|v| format!(", validation loss {v:.3}")).unwrap_or_default(),
                    e.val_cer.map(|v| format!(", CER {v:.1} %")).unwrap_or_default(),
                    if e.best { " (best so far, saved)" } else { "" }
                ));
                self.samples = e.samples;
            }
            TrainEvent::Checkpoint { step, path } => {
                self.log.push(format!("Step {step}: checkpoint saved to {}", path.display()));
            }
            TrainEvent::Paused => {
                self.progress.paused = true;
                self.status = "Paused".into();
            }
            TrainEvent::Resumed => {
                self.progress.paused = false;
                self.status = "Training".into();
            }
            TrainEvent::Error { message, input_error } => {
                self.status = "Failed".into();
                self.progress.ended = Some("failed");
                self.progress.preparing = None;
                self.error = Some(if input_error {
                    format!("Training could not start: {message}")
                } else {
                    format!("Training failed: {message}")
                });
                return true;
            }
            TrainEvent::Finished { reason, best_cer, model } => {
                let why = match reason {
                    FinishReason::Completed => "finished all epochs",
                    FinishReason::EarlyStopped => "stopped early (validation stopped improving)",
                    FinishReason::Stopped => "stopped (checkpoint saved; Resume continues it)",
                };
                self.progress.ended = Some(match reason {
                    FinishReason::Completed => "finished",
                    FinishReason::EarlyStopped => "stopped early",
                    FinishReason::Stopped => "stopped",
                });
                self.status = format!(
                    "Run {why}{}",
                    best_cer.map(|c| format!(", best validation CER {c:.1} %")).unwrap_or_default()
                );
                self.log.push(self.status.clone());
                if has_model(&model) {
                    self.finished_model = Some(model);
                }
                return true;
            }
        }
        false
    }

    pub fn ui(&mut self, ui: &mut egui::Ui, shared: &mut Shared) {
        error_box(ui, &mut self.error);
        if let Some(what) = self.replace_question().map(str::to_owned) {
            let mut answer = None;
            egui::Frame::group(ui.style()).show(ui, |ui| {
                ui.colored_label(ui.visuals().warn_fg_color, format!("{what}."));
                ui.label("Starting this run there would replace it. What should happen?");
                ui.horizontal(|ui| {
                    if ui.button("Use a new folder").clicked() {
                        answer = Some(ReplaceAnswer::NewFolder);
                    }
                    if ui.button("Replace it").clicked() {
                        answer = Some(ReplaceAnswer::Replace);
                    }
                    if ui.button("Cancel").clicked() {
                        answer = Some(ReplaceAnswer::Cancel);
                    }
                });
            });
            if let Some(a) = answer {
                self.answer_replace(a, shared);
            }
        }
        let running = self.is_running();
        egui::ScrollArea::vertical().id_salt("train-scroll").show(ui, |ui| {
            ui.add_enabled_ui(!running, |ui| self.setup_ui(ui, shared));
            ui.separator();
            self.controls_ui(ui, shared, running);
            self.plots_ui(ui);
            self.samples_ui(ui);
            if !self.log.is_empty() {
                egui::CollapsingHeader::new(format!("Run log ({} lines)", self.log.len()))
                    .default_open(false)
                    .show(ui, |ui| {
                        for l in self.log.iter().rev().take(200) {
                            ui.label(l);
                        }
                    });
            }
        });
    }

    fn setup_ui(&mut self, ui: &mut egui::Ui, shared: &mut Shared) {
        ui.heading("Data");
        let notify = shared.notify.clone();
        let pick = |field| Some((field, worker::pick(Pick::Folder, notify.clone())));
        if path_field(ui, "Labeled folder", &mut self.settings.data, "folder with audio + .txt")
            && self.dialog.is_none()
        {
            self.dialog = pick(Field::Data);
        }
        if path_field(
            ui,
            "Validation folder",
            &mut self.settings.validation,
            "optional; else a share of the data",
        ) && self.dialog.is_none()
        {
            self.dialog = pick(Field::Validation);
        }
        if path_field(ui, "Save the run in", &mut self.settings.out_dir, "empty = a new folder")
            && self.dialog.is_none()
        {
            self.dialog = pick(Field::Out);
        }
        ui.horizontal(|ui| {
            if ui.button("Check data").clicked() {
                self.check_data(shared);
            }
            if self.scanning.is_some() {
                ui.spinner();
                ui.label("Reading every file …");
            }
        });
        if let Some(r) = &self.report {
            report_ui(ui, "Training data", r);
        }
        if let Some(r) = &self.validation_report {
            report_ui(ui, "Validation data", r);
        }

        ui.add_space(6.0);
        ui.heading("Settings");
        ui.horizontal(|ui| {
            ui.label("Start from");
            ui.radio_value(&mut self.settings.start, StartFrom::Scratch, "scratch")
                .on_hover_text("New random weights with the architecture below.");
            ui.radio_value(&mut self.settings.start, StartFrom::FineTune, "the current model")
                .on_hover_text(
                    "Fine-tune the model chosen in Models: keeps its alphabet, features and \
                     architecture. Good for adapting to your voice with little data.",
                );
        });
        ui.horizontal(|ui| {
            let l = ui.label("Model name").on_hover_text(
                "Stored in the model and shown in Models and the status bar. Empty: a fine-tuned \
                 model keeps its starting model's name.",
            );
            ui.add(
                egui::TextEdit::singleline(&mut self.settings.name)
                    .hint_text("optional")
                    .desired_width(240.0),
            )
            .labelled_by(l.id);
        });
        let s = &mut self.settings;
        // Fine-tuning never narrows: the field's range (which clamps it) starts at the loaded
        // model's width.
        let min_hidden = match (&s.start, &shared.model.model) {
            (StartFrom::FineTune, Some(m)) => m.config.arch.hidden,
            _ => 8,
        };
        egui::Grid::new("hyper").num_columns(4).spacing([16.0, 4.0]).show(ui, |ui| {
            let l = ui.label("Epochs").on_hover_text("Passes over the training data.");
            ui.add(egui::DragValue::new(&mut s.epochs).range(1..=1000)).labelled_by(l.id);
            let l = ui.label("Learning rate").on_hover_text(
                "Peak Adam step size. Auto: 1e-3 from scratch, 1e-4 for fine-tuning (a model \
                 that already works needs small steps).",
            );
            ui.horizontal(|ui| {
                let mut auto = s.learning_rate_override.is_none();
                if ui.checkbox(&mut auto, "auto").changed() {
                    s.learning_rate_override = if auto {
                        None
                    } else {
                        Some(if s.start == StartFrom::FineTune {
                            recipe::FINE_TUNE_LEARNING_RATE
                        } else {
                            recipe::SCRATCH_LEARNING_RATE
                        })
                    };
                }
                match &mut s.learning_rate_override {
                    Some(lr) => {
                        ui.add(egui::DragValue::new(lr).speed(1e-5).range(1e-6..=0.1))
                            .labelled_by(l.id);
                    }
                    None => {
                        ui.weak(if s.start == StartFrom::FineTune { "1e-4" } else { "1e-3" });
                    }
                }
            });
            ui.end_row();
            let l =
                ui.label("Batch size").on_hover_text("Utterances per optimizer step (at most).");
            ui.add(egui::DragValue::new(&mut s.batch_size).range(1..=256)).labelled_by(l.id);
            let l = ui.label("Validation %").on_hover_text(
                "Share of the data held out to measure CER/WER when no validation folder is given.",
            );
            ui.add(egui::DragValue::new(&mut s.validation_percent).range(0.0..=50.0))
                .labelled_by(l.id);
            ui.end_row();
            let scratch = s.start == StartFrom::Scratch;
            let l = ui.label("Hidden units").on_hover_text(
                "LSTM width per direction. Fine-tuning keeps the model's width unless this is \
                 larger: then the model is first widened (new units copy old ones, so it starts \
                 out as good as before) and training puts the extra capacity to use.",
            );
            ui.add(egui::DragValue::new(&mut s.hidden).range(min_hidden..=1024.max(min_hidden)))
                .labelled_by(l.id);
            let l =
                ui.label("Layers").on_hover_text("Bidirectional LSTM layers (from scratch only).");
            ui.add_enabled(scratch, egui::DragValue::new(&mut s.layers).range(1..=8))
                .labelled_by(l.id);
            ui.end_row();
            ui.label("Augmentation").on_hover_text(
                "Random speed changes, noise and SpecAugment masks: better on new voices, slower \
                 to converge.",
            );
            ui.horizontal(|ui| {
                ui.radio_value(&mut s.augmentation, AugmentChoice::Auto, "auto").on_hover_text(
                    format!(
                        "Off below {} h of audio (it stalls small runs), on above.",
                        recipe::AUTO_AUGMENT_MIN_HOURS
                    ),
                );
                ui.radio_value(&mut s.augmentation, AugmentChoice::On, "on");
                ui.radio_value(&mut s.augmentation, AugmentChoice::Off, "off");
            });
            let l = ui.label("Seed").on_hover_text("Same seed and data = the same run.");
            ui.add(egui::DragValue::new(&mut s.seed)).labelled_by(l.id);
            ui.end_row();
        });
    }

    fn controls_ui(&mut self, ui: &mut egui::Ui, shared: &mut Shared, running: bool) {
        ui.horizontal(|ui| {
            if !running {
                if ui.button("Start training").clicked() {
                    self.start(shared);
                }
                let resumable = path_of(&self.settings.out_dir)
                    .is_some_and(|d| d.join("checkpoint.safetensors").is_file());
                if resumable
                    && ui
                        .button("Resume saved run")
                        .on_hover_text("Continue the run in the output folder from its checkpoint.")
                        .clicked()
                {
                    self.resume_saved(shared);
                }
            } else {
                if self.progress.paused {
                    if ui.button("Resume").clicked()
                        && let Some(h) = &self.handle
                    {
                        h.send(TrainCommand::Resume);
                    }
                } else if ui.button("Pause").clicked()
                    && let Some(h) = &self.handle
                {
                    h.send(TrainCommand::Pause);
                }
                if ui.button("Stop").clicked() {
                    self.stop();
                }
                if ui.button("Save now").clicked()
                    && let Some(h) = &self.handle
                {
                    h.send(TrainCommand::SaveNow);
                }
            }
            if let Some(m) = self.finished_model.clone()
                && ui
                    .button("Use this model")
                    .on_hover_text("Use the run's best model for Live, Files and Record.")
                    .clicked()
            {
                shared.choose_model(Some(m));
            }
        });
        ui.label(format!("Status: {}", self.status));
        let p = &self.progress;
        if let Some((done, total)) = p.preparing {
            ui.add(
                egui::ProgressBar::new(done as f32 / total.max(1) as f32)
                    .text(format!("Preparing {done} / {total}")),
            );
        } else if p.steps_per_epoch > 0 {
            let total = p.steps_per_epoch as u64 * p.epochs;
            let at = format!("Step {} / {total} · epoch {} / {}", p.step, p.epoch + 1, p.epochs);
            let text = match p.ended {
                Some(how) => format!("{at} · {how}"),
                None => {
                    format!("{at} · ETA {} · {:.1}× real time", worker::eta(p.eta_s), p.audio_per_s)
                }
            };
            ui.add(egui::ProgressBar::new(p.fraction()).show_percentage().text(text));
        }
    }
}

fn report_ui(ui: &mut egui::Ui, title: &str, r: &DatasetReport) {
    egui::Frame::group(ui.style()).show(ui, |ui| {
        ui.strong(format!(
            "{title}: {} utterances, {:.2} hours, {} skipped",
            r.utterances,
            r.total_hours,
            r.skipped.len()
        ));
        for f in &r.formats {
            ui.label(format!(
                "{} in {}: {} utterances, {:.2} h",
                f.format,
                f.source.display(),
                f.utterances,
                f.hours
            ));
        }
        if !r.skipped.is_empty() {
            egui::CollapsingHeader::new(format!("Problems ({})", r.skipped.len()))
                .id_salt(title)
                .default_open(true)
                .show(ui, |ui| {
                    egui::ScrollArea::vertical().max_height(120.0).id_salt(title).show(ui, |ui| {
                        for s in &r.skipped {
                            ui.label(s.to_string());
                        }
                    });
                });
        }
    });
}

/// Where the app's runs go when no folder is chosen: a folder per run, named after the model
/// and the date ([`recipe::fresh_run_dir`]).
pub fn runs_root() -> PathBuf {
    eframe::storage_dir("Hark").unwrap_or_else(|| std::env::temp_dir().join("hark")).join("runs")
}

/// The message for a file dialog that could not open.
pub fn no_dialog() -> String {
    "The file dialog could not open (no desktop portal?). Type the path into the field instead."
        .into()
}

/// True when `dir` holds a model config.
pub fn has_model(dir: &Path) -> bool {
    crate::model::ModelPaths::resolve(dir).config.is_file()
}
