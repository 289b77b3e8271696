//! Models tab: choose the model Live, Files and fine-tuning use, and see what it is: its
//! architecture, front end, alphabet and recorded accuracy.

use eframe::egui;
use std::path::PathBuf;

use super::worker::{self, Pick, Task};
use super::{Shared, error_box, path_field, path_of};

#[derive(Default)]
pub struct ModelsTab {
    /// The path typed or picked (a model folder or NAME.json).
    pub path: String,
    pub error: Option<String>,
    dialog: Option<Task<Vec<PathBuf>>>,
}

impl ModelsTab {
    pub fn ui(&mut self, ui: &mut egui::Ui, shared: &mut Shared, choice: &mut Option<PathBuf>) {
        if let Some(r) = self.dialog.as_ref().and_then(|t| t.poll()) {
            self.dialog = None;
            match r {
                Ok(p) => {
                    if let Some(p) = p.into_iter().next() {
                        self.path = p.display().to_string();
                    }
                }
                Err(()) => self.error = Some(super::train::no_dialog()),
            }
        }
        error_box(ui, &mut self.error);
        ui.heading("Current model");
        if self.path.is_empty()
            && let Some(p) = &shared.model.path
        {
            self.path = p.display().to_string();
        }
        if path_field(ui, "Model", &mut self.path, "a model folder or NAME.json")
            && self.dialog.is_none()
        {
            self.dialog = Some(worker::pick(Pick::ModelFile, shared.notify.clone()));
        }
        ui.horizontal(|ui| {
            if ui.button("Load").clicked() {
                match path_of(&self.path) {
                    Some(p) => {
                        *choice = Some(p.clone());
                        shared.choose_model(Some(p));
                    }
                    None => self.error = Some("Type or choose a model path first.".into()),
                }
            }
            if ui
                .button("Use the default model")
                .on_hover_text("The model shipped with Hark (or $HARK_MODEL).")
                .clicked()
            {
                *choice = None;
                self.path.clear();
                let notify = shared.notify.clone();
                shared.model.load(None, notify);
            }
            if shared.model.is_loading() {
                ui.spinner();
            }
        });
        if let Some(e) = &shared.model.error {
            ui.colored_label(ui.visuals().error_fg_color, e);
        }
        let Some(m) = &shared.model.model else {
            ui.label("No model is loaded.");
            return;
        };
        let c = &m.config;
        ui.separator();
        let path = shared.model.path.as_ref().map(|p| p.display().to_string()).unwrap_or_default();
        egui::Grid::new("model-info").num_columns(2).striped(true).spacing([24.0, 4.0]).show(
            ui,
            |ui| {
                let mut row = |k: &str, v: String| {
                    ui.strong(k);
                    ui.label(v);
                    ui.end_row();
                };
                row("Name", if c.name.is_empty() { "(unnamed)".into() } else { c.name.clone() });
                row("Loaded from", path);
                let params: usize = m.net.params().iter().map(|(_, _, d)| d.len()).sum();
                row(
                    "Network",
                    format!(
                        "{} bidirectional LSTM layer(s) × {} units, {} stacked frames (subsample \
                         {}), {} parameters",
                        c.arch.layers, c.arch.hidden, c.arch.stack_frames, c.arch.subsample, params
                    ),
                );
                row(
                    "Features",
                    format!(
                        "{} values per {} ms frame, {:?} normalization",
                        c.features.dim(),
                        c.features.frame_shift_ms,
                        c.features.normalization
                    ),
                );
                let chars: String =
                    (1..c.alphabet.num_labels()).filter_map(|l| c.alphabet.char_of(l)).collect();
                row(
                    "Alphabet",
                    format!("{} labels + blank: {:?}", c.alphabet.num_labels() - 1, chars),
                );
                let t = &c.training;
                row("Trained on", trained_on(t));
                row(
                    "Training",
                    format!("{} epochs, {} steps, {}", t.epochs, t.steps, worker::eta(t.seconds)),
                );
                if !t.averaged_from.is_empty() {
                    row(
                        "Weights",
                        format!(
                            "the mean of {} models (hark average): {}",
                            t.averaged_from.len(),
                            t.averaged_from.join(", ")
                        ),
                    );
                }
                let pct = |v: Option<f64>| v.map_or("—".into(), |v| format!("{v:.2} %"));
                for e in &t.evaluations {
                    row(
                        "Measured on",
                        format!(
                            "{} ({} utterances): CER {:.2} %, WER {:.2} % — {}",
                            e.set, e.utterances, e.cer, e.wer, e.decoding
                        ),
                    );
                }
                row(
                    "Validated on",
                    if t.validation.is_empty() {
                        "held-out utterances of the training data (voices in the training data)"
                            .to_string()
                    } else {
                        t.validation.clone()
                    },
                );
                row("Validation CER (greedy)", pct(t.val_cer));
                row("Validation WER (greedy)", pct(t.val_wer));
                if let Some(b) = t.start_val_cer {
                    row(
                        "Before fine-tuning",
                        format!(
                            "the starting model on the same validation set: CER {b:.2} %, WER {}",
                            pct(t.start_val_wer)
                        ),
                    );
                }
                row("Validation loss", t.val_loss.map_or("—".into(), |v| format!("{v:.3}")));
                if !t.hark_version.is_empty() {
                    row("Made by", format!("Hark {}", t.hark_version));
                }
                row("Decoding (shipped)", shared.model.decoder.describe());
                row("Decoding in use", shared.decoding().describe());
            },
        );
        ui.separator();
        shared.lm_toggle(ui);
        if let Some(e) = &shared.model.decoder_error {
            ui.colored_label(ui.visuals().error_fg_color, e);
        }
    }
}

/// The "Trained on" cell: the data of each training run, oldest first (one line per run).
fn trained_on(t: &crate::model::TrainingInfo) -> String {
    let stages = t.stages_so_far();
    if stages.is_empty() {
        return "(not recorded)".into();
    }
    let line = |s: &crate::model::TrainingStage| {
        let epochs = if s.epochs == 1 { "1 epoch".into() } else { format!("{} epochs", s.epochs) };
        format!(
            "{}: {} utterances, {:.2} h, {epochs}",
            s.dataset, s.train_utterances, s.train_hours
        )
    };
    if stages.len() == 1 {
        return line(&stages[0]);
    }
    stages
        .iter()
        .enumerate()
        .map(|(i, s)| format!("{}. {}", i + 1, line(s)))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::trained_on;
    use crate::model::{TrainingInfo, TrainingStage};

    #[test]
    fn trained_on_lists_every_run_oldest_first() {
        let mut t = TrainingInfo::default();
        assert_eq!(trained_on(&t), "(not recorded)");
        t.dataset = "b".into();
        t.train_utterances = 20;
        t.train_hours = 2.0;
        t.epochs = 5;
        assert_eq!(trained_on(&t), "b: 20 utterances, 2.00 h, 5 epochs");
        let first = TrainingStage {
            dataset: "a".into(),
            train_utterances: 10,
            train_hours: 1.5,
            epochs: 4,
        };
        t.earlier_stages = vec![first];
        assert_eq!(
            trained_on(&t),
            "1. a: 10 utterances, 1.50 h, 4 epochs\n2. b: 20 utterances, 2.00 h, 1 epoch"
        );
    }
}
