//! The desktop app (eframe/egui): Live, Files, Train, Record and Models tabs over the library.
//!
//! [`HarkApp`] holds everything the window shows; [`HarkApp::ui`] draws it into any `egui::Ui`,
//! so tests drive the real app state with egui_kittest and no window. Settings that persist
//! between runs live in [`Settings`] (`#[serde(default)]`, so old or partial files still load);
//! runtime handles (threads, channels, loaded models) live beside them and are never saved.
//! All heavy work runs on background threads (see [`worker`]); the UI thread only polls.

pub mod files;
pub mod live;
pub mod models;
pub mod record;
pub mod train;
pub mod worker;

use eframe::egui;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::model::Model;
use crate::runtime::decoder::DecoderSetup;
use worker::{Notify, Task};

/// The tabs, in the order the tab bar shows them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Tab {
    #[default]
    Live,
    Files,
    Train,
    Record,
    Models,
}

impl Tab {
    pub const ALL: [Tab; 5] = [Tab::Live, Tab::Files, Tab::Train, Tab::Record, Tab::Models];

    pub fn title(self) -> &'static str {
        match self {
            Tab::Live => "Live",
            Tab::Files => "Files",
            Tab::Train => "Train",
            Tab::Record => "Record",
            Tab::Models => "Models",
        }
    }
}

/// Everything that persists between runs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    pub tab: Tab,
    /// The model chosen in the Models tab (None = the shipped default).
    pub model: Option<PathBuf>,
    pub live: live::LiveSettings,
    pub files: files::FilesSettings,
    pub train: train::TrainSettings,
    pub record: record::RecordSettings,
    /// Decode with the model's word language model when it ships with one.
    pub use_lm: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            tab: Tab::default(),
            model: None,
            live: Default::default(),
            files: Default::default(),
            train: Default::default(),
            record: Default::default(),
            use_lm: true,
        }
    }
}

/// What to do right after opening (from `hark gui` flags); applied once the model is ready.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Launch {
    pub tab: Option<Tab>,
    pub model: Option<PathBuf>,
    pub files: Vec<PathBuf>,
    pub listen: Option<PathBuf>,
    pub train: Option<PathBuf>,
    pub epochs: Option<u64>,
    pub hidden: Option<usize>,
    pub layers: Option<usize>,
    pub record_to: Option<PathBuf>,
}

/// The model Live, Files and fine-tuning use, loaded in the background.
pub struct CurrentModel {
    /// What is loaded (or loading).
    pub path: Option<PathBuf>,
    pub model: Option<Arc<Model>>,
    /// The decoding the model ships with (its `decoder.json` and word LM); greedy if it has none.
    pub decoder: DecoderSetup,
    /// Why the model's language model could not be loaded (the model then decodes greedily).
    pub decoder_error: Option<String>,
    /// Why the last load failed, in plain words.
    pub error: Option<String>,
    loading: Option<(PathBuf, Task<crate::Result<Loaded>>)>,
}

/// A model and the decoding it ships with (or why that could not be loaded).
type Loaded = (Model, std::result::Result<DecoderSetup, String>);

impl Default for CurrentModel {
    fn default() -> Self {
        CurrentModel {
            path: None,
            model: None,
            decoder: DecoderSetup::greedy(),
            decoder_error: None,
            error: None,
            loading: None,
        }
    }
}

impl CurrentModel {
    /// Starts loading `path` (or the shipped default when `None`) on a background thread.
    pub fn load(&mut self, path: Option<PathBuf>, notify: Notify) {
        let resolved = match path.or_else(crate::model::default_model_dir) {
            Some(p) => p,
            None => {
                self.error = Some(
                    "No model is loaded: the shipped default model was not found. Choose a model \
                     in the Models tab, or train one in the Train tab."
                        .into(),
                );
                return;
            }
        };
        let p = resolved.clone();
        self.error = None;
        self.loading = Some((
            resolved,
            Task::spawn("model", notify, move || {
                let model = Model::load(&p)?;
                let decoder = DecoderSetup::for_model(&p).map_err(|e| e.to_string());
                Ok((model, decoder))
            }),
        ));
    }

    pub fn is_loading(&self) -> bool {
        self.loading.is_some()
    }

    /// Takes a finished load (called once per frame).
    fn poll(&mut self) {
        let Some((path, task)) = &self.loading else { return };
        let Some(result) = task.poll() else { return };
        let path = path.clone();
        self.loading = None;
        match result {
            Ok(Ok((m, decoder))) => {
                self.model = Some(Arc::new(m));
                match decoder {
                    Ok(d) => {
                        self.decoder = d;
                        self.decoder_error = None;
                    }
                    Err(e) => {
                        self.decoder = DecoderSetup::greedy();
                        self.decoder_error = Some(format!(
                            "The model's language model could not be loaded, so it decodes \
                             without one: {e}"
                        ));
                    }
                }
                self.path = Some(path);
                self.error = None;
            }
            Ok(Err(e)) => self.error = Some(format!("Could not load the model: {e}")),
            Err(()) => self.error = Some("Loading the model stopped unexpectedly.".into()),
        }
    }

    /// A one-line description for the status bar.
    pub fn summary(&self, decoding: &str) -> String {
        if let Some((p, _)) = &self.loading {
            return format!("Loading model {} …", p.display());
        }
        match (&self.model, &self.path) {
            (Some(m), Some(p)) => {
                let name = if m.config.name.is_empty() { "unnamed" } else { &m.config.name };
                format!(
                    "Model: {name} ({}){}",
                    p.display(),
                    accuracy_summary(&m.config.training, decoding)
                )
            }
            _ => "No model loaded".into(),
        }
    }
}

/// The accuracy a model's record shows, saying what it was measured on: the newest measurement
/// on data the training never saw if there is one, else the validation figure labelled as such.
pub fn accuracy_summary(t: &crate::model::TrainingInfo, decoding: &str) -> String {
    // The measurement made with the decoding in use, else the newest one (saying how it decoded).
    let same = t.evaluations.iter().rev().find(|e| e.decoding == decoding);
    if let Some(e) = same.or(t.evaluations.last()) {
        let set = e.set.split(':').next().unwrap_or(&e.set);
        let how = if same.is_some() { String::new() } else { format!(", {}", e.decoding) };
        return format!(", CER {:.1} % / WER {:.1} % on {set}{how}", e.cer, e.wer);
    }
    match t.val_cer {
        Some(c) if t.validation.contains("training data") || t.validation.is_empty() => {
            format!(", validation CER {c:.1} % (voices in the training data)")
        }
        Some(c) => format!(", validation CER {c:.1} % ({})", t.validation),
        None => String::new(),
    }
}

/// State every tab can reach.
pub struct Shared {
    pub model: CurrentModel,
    /// Wakes the UI from worker threads (set on the first frame).
    pub notify: Notify,
    /// A tab asked to switch to another one.
    pub goto: Option<Tab>,
    /// The Train tab asked the app to load the model a run produced.
    pub use_model: Option<PathBuf>,
    /// The input device chosen in Live or Record ("" = default); both record from it.
    pub device: String,
    /// The input devices the Live tab listed (Record's picker shows the same list).
    pub devices: Vec<crate::audio::capture::DeviceInfo>,
    /// Decode with the model's word language model when it ships with one (persisted).
    pub use_lm: bool,
}

impl Shared {
    /// Starts loading `path` as the current model and remembers the choice.
    pub fn choose_model(&mut self, path: Option<PathBuf>) {
        self.use_model = path;
    }

    /// How Live and Files decode now: the model's own decoding, or greedy (with the model's warp
    /// ensemble, which is acoustic) when the user turned the language model off.
    pub fn decoding(&self) -> DecoderSetup {
        let own = &self.model.decoder;
        if self.use_lm {
            own.clone()
        } else {
            DecoderSetup { warps: own.warps.clone(), ..DecoderSetup::greedy() }
        }
    }

    /// The "Language model" switch Live, Files and Models show (one setting for all three).
    pub fn lm_toggle(&mut self, ui: &mut egui::Ui) {
        let d = &self.model.decoder;
        let has_lm = d.lm.is_some();
        let label = match &d.lm_path {
            Some(p) if has_lm => format!(
                "Word language model ({})",
                p.file_name().map(|n| n.to_string_lossy()).unwrap_or_default()
            ),
            _ => "Word language model".to_string(),
        };
        let hover = if has_lm {
            format!(
                "On: {}. Off: greedy decoding (letters as the network hears them; can spell \
                 words the language model does not know).",
                d.describe()
            )
        } else {
            "The current model has no word language model (no lm in its decoder.json).".to_string()
        };
        ui.add_enabled_ui(has_lm, |ui| {
            if has_lm {
                ui.checkbox(&mut self.use_lm, label).on_hover_text(&hover);
            } else {
                // Nothing to switch on: shown unticked (the persisted choice is kept for the
                // next model that has one).
                ui.checkbox(&mut false, format!("{label}: this model has none"))
                    .on_disabled_hover_text(&hover);
            }
        });
    }
}

/// The whole app.
pub struct HarkApp {
    pub tab: Tab,
    pub shared: Shared,
    pub live: live::LiveTab,
    pub files: files::FilesTab,
    pub train: train::TrainTab,
    pub record: record::RecordTab,
    pub models: models::ModelsTab,
    /// The model path the user chose (persisted); None = default.
    pub model_choice: Option<PathBuf>,
    /// The user tried to close the window while training runs.
    confirm_close: bool,
    /// Startup actions still waiting for the model.
    launch: Option<Launch>,
    /// Closing once the trainer has saved and stopped.
    closing: bool,
    started: bool,
}

impl HarkApp {
    /// An app with `settings`; the model loads in the background once the first frame runs.
    pub fn new(settings: Settings) -> Self {
        HarkApp {
            tab: settings.tab,
            shared: Shared {
                model: CurrentModel::default(),
                notify: Arc::new(|| {}),
                goto: None,
                use_model: None,
                device: String::new(),
                devices: Vec::new(),
                use_lm: settings.use_lm,
            },
            live: live::LiveTab::new(settings.live),
            files: files::FilesTab::new(settings.files),
            train: train::TrainTab::new(settings.train),
            record: record::RecordTab::new(settings.record),
            models: models::ModelsTab::default(),
            model_choice: settings.model,
            confirm_close: false,
            launch: None,
            closing: false,
            started: false,
        }
    }

    /// Applies `hark gui` flags: settings now, actions once the model has loaded.
    pub fn with_launch(mut self, l: Launch) -> Self {
        // The tab asked for, else the one that shows what was launched (files given on the
        // command line open the Files tab, not the last-used one).
        let implied = if !l.files.is_empty() {
            Some(Tab::Files)
        } else if l.train.is_some() {
            Some(Tab::Train)
        } else if l.listen.is_some() {
            Some(Tab::Live)
        } else if l.record_to.is_some() {
            Some(Tab::Record)
        } else {
            None
        };
        if let Some(t) = l.tab.or(implied) {
            self.tab = t;
        }
        if l.model.is_some() {
            self.model_choice = l.model.clone();
        }
        let t = &mut self.train.settings;
        if let Some(d) = &l.train {
            t.data = d.display().to_string();
            t.out_dir.clear();
        }
        if let Some(e) = l.epochs {
            t.epochs = e;
        }
        if let Some(h) = l.hidden {
            t.hidden = h;
        }
        if let Some(n) = l.layers {
            t.layers = n;
        }
        if let Some(d) = &l.record_to {
            self.record.settings.folder = d.display().to_string();
            self.record.count_saved();
        }
        if let Some(f) = &l.listen {
            self.live.settings.source = live::Source::File;
            self.live.settings.file = f.display().to_string();
        }
        self.launch = Some(l);
        self
    }

    fn run_launch(&mut self) {
        let ready = !self.shared.model.is_loading();
        if !ready {
            return;
        }
        let Some(l) = self.launch.take() else { return };
        if !l.files.is_empty() {
            self.files.add(l.files, &self.shared);
        }
        if l.listen.is_some() {
            self.live.start(&self.shared);
        }
        if l.train.is_some() {
            self.train.check_data(&self.shared);
            self.train.start(&mut self.shared);
        }
    }

    /// What would be saved now.
    pub fn settings(&self) -> Settings {
        Settings {
            tab: self.tab,
            model: self.model_choice.clone(),
            live: self.live.settings.clone(),
            files: self.files.settings.clone(),
            train: self.train.settings.clone(),
            record: self.record.settings.clone(),
            use_lm: self.shared.use_lm,
        }
    }

    /// Draws the app into `ui` and advances every background job by what it reported.
    pub fn ui(&mut self, ui: &mut egui::Ui) {
        if !self.started {
            self.started = true;
            self.shared.notify = worker::repaint(ui.ctx());
            let notify = self.shared.notify.clone();
            self.shared.model.load(self.model_choice.clone(), notify);
        }
        self.shared.model.poll();
        if let Some(p) = self.shared.use_model.take() {
            self.model_choice = Some(p.clone());
            let notify = self.shared.notify.clone();
            self.shared.model.load(Some(p), notify);
        }
        self.shared.device = self.live.settings.device.clone();
        if self.shared.devices != self.live.devices {
            self.shared.devices = self.live.devices.clone();
        }
        self.run_launch();
        // Workers report even while their tab is hidden.
        self.live.poll(&mut self.shared);
        self.files.poll(&mut self.shared);
        self.train.poll(&mut self.shared);
        self.record.poll(&mut self.shared);
        if let Some(t) = self.shared.goto.take() {
            self.tab = t;
        }

        egui::Panel::top("tabs").show(ui, |ui| {
            ui.horizontal(|ui| {
                ui.heading("Hark");
                ui.separator();
                for t in Tab::ALL {
                    ui.selectable_value(&mut self.tab, t, t.title());
                }
            });
        });
        egui::Panel::bottom("status").show(ui, |ui| {
            ui.horizontal(|ui| {
                ui.label(self.shared.model.summary(&self.shared.decoding().describe()));
                if self.shared.model.model.is_some() {
                    ui.separator();
                    ui.label(format!("Decoding: {}", self.shared.decoding().describe()));
                }
                if let Some(s) = self.train.status_line() {
                    ui.separator();
                    ui.label(s);
                }
            });
            if let Some(e) = &self.shared.model.error {
                ui.colored_label(ui.visuals().error_fg_color, e);
            }
        });
        egui::CentralPanel::default().show(ui, |ui| match self.tab {
            Tab::Live => self.live.ui(ui, &mut self.shared),
            Tab::Files => self.files.ui(ui, &mut self.shared),
            Tab::Train => self.train.ui(ui, &mut self.shared),
            Tab::Record => {
                self.record.ui(ui, &mut self.shared, &mut self.train);
                // The Record tab's microphone choice is the Live tab's too.
                self.live.settings.device = self.shared.device.clone();
            }
            Tab::Models => self.models.ui(ui, &mut self.shared, &mut self.model_choice),
        });
        if let Some(t) = self.shared.goto.take() {
            self.tab = t;
        }
        self.close_guard(ui);
    }

    /// Closing the window while training asks first; "stop and quit" saves a checkpoint, waits
    /// for the trainer to end, then closes.
    fn close_guard(&mut self, ui: &mut egui::Ui) {
        let ctx = ui.ctx().clone();
        if ctx.input(|i| i.viewport().close_requested()) && self.train.is_running() {
            ctx.send_viewport_cmd(egui::ViewportCommand::CancelClose);
            if !self.closing {
                self.confirm_close = true;
            }
        }
        if self.closing && !self.train.is_running() {
            ctx.send_viewport_cmd(egui::ViewportCommand::Close);
        }
        if !self.confirm_close {
            return;
        }
        egui::Modal::new(egui::Id::unique("confirm-close")).show(&ctx, |ui| {
            ui.heading("Training is running");
            ui.label("Quit anyway? Hark saves a checkpoint first, so the run can be resumed.");
            ui.horizontal(|ui| {
                if ui.button("Save checkpoint and quit").clicked() {
                    self.train.stop();
                    self.closing = true;
                    self.confirm_close = false;
                }
                if ui.button("Keep training").clicked() {
                    self.confirm_close = false;
                }
            });
        });
    }
}

/// The eframe side: drawing plus persistence.
pub struct EframeApp(pub HarkApp);

impl eframe::App for EframeApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.0.ui(ui);
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        eframe::set_value(storage, eframe::APP_KEY, &self.0.settings());
    }
}

/// True when a window system is reachable (X11 or Wayland).
pub fn display_available() -> bool {
    ["DISPLAY", "WAYLAND_DISPLAY", "WAYLAND_SOCKET"]
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|s| !s.is_empty()))
}

/// Opens the desktop app. Exit codes: 0 closed normally, 2 no display, 1 the window failed.
pub fn run(launch: Launch) -> ExitCode {
    if !display_available() {
        eprintln!(
            "hark: no display found (DISPLAY and WAYLAND_DISPLAY are not set), so the desktop app \
             cannot open.\nEverything also works from the command line: `hark transcribe FILE`, \
             `hark listen`, `hark train DATA --out DIR`; see `hark --help`."
        );
        return ExitCode::from(2);
    }
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title("Hark")
            .with_inner_size([1100.0, 760.0])
            .with_min_inner_size([640.0, 480.0]),
        ..Default::default()
    };
    let result = eframe::run_native(
        "Hark",
        options,
        Box::new(|cc| {
            let settings: Settings =
                cc.storage.and_then(|s| eframe::get_value(s, eframe::APP_KEY)).unwrap_or_default();
            Ok(Box::new(EframeApp(HarkApp::new(settings).with_launch(launch))))
        }),
    );
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!(
                "hark: the desktop app could not open a window: {e}\nThe command line works \
                 without one; see `hark --help`."
            );
            ExitCode::from(1)
        }
    }
}

/// Shows an error box with a dismiss button; clears `error` when dismissed.
pub fn error_box(ui: &mut egui::Ui, error: &mut Option<String>) {
    let Some(e) = error.as_ref() else { return };
    let mut dismiss = false;
    egui::Frame::group(ui.style()).fill(ui.visuals().extreme_bg_color).show(ui, |ui| {
        ui.horizontal_wrapped(|ui| {
            ui.colored_label(ui.visuals().error_fg_color, format!("Problem: {e}"));
            dismiss = ui.small_button("Dismiss").clicked();
        });
    });
    if dismiss {
        *error = None;
    }
}

/// A one-line path field with a "Browse…" button; returns true when Browse was clicked.
pub fn path_field(ui: &mut egui::Ui, label: &str, value: &mut String, hint: &str) -> bool {
    let mut browse = false;
    ui.horizontal(|ui| {
        let l = ui.label(label);
        ui.add(egui::TextEdit::singleline(value).hint_text(hint).desired_width(420.0))
            .labelled_by(l.id);
        browse = ui.button("Browse…").clicked();
    });
    browse
}

/// The text of an optional path field ("" = none).
pub fn path_of(s: &str) -> Option<PathBuf> {
    let t = s.trim();
    if t.is_empty() { None } else { Some(PathBuf::from(t)) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_from_older_or_partial_files_load_with_defaults() {
        let s: Settings = serde_json::from_str("{}").unwrap();
        assert_eq!(s, Settings::default());
        let s: Settings =
            serde_json::from_str(r#"{"tab":"Train","train":{"epochs":7},"unknown":1}"#).unwrap();
        assert_eq!(s.tab, Tab::Train);
        assert_eq!(s.train.epochs, 7);
        assert_eq!(s.train.hidden, train::TrainSettings::default().hidden);
        assert_eq!(s.files.format, "txt");
    }

    #[test]
    fn settings_round_trip() {
        let mut s = Settings { tab: Tab::Record, model: Some("/m".into()), ..Settings::default() };
        s.record.folder = "/rec".into();
        s.record.prompt = 12;
        s.live.device = "alsa:default".into();
        let back: Settings = serde_json::from_str(&serde_json::to_string(&s).unwrap()).unwrap();
        assert_eq!(back, s);
    }
}
