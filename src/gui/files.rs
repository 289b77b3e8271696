//! Files tab: a queue of audio files transcribed one after another on a worker thread, with
//! per-file progress and cancel, searchable results with timestamps, and export to TXT, SRT, VTT
//! or JSON (one file or all).

use eframe::egui;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};

use serde::{Deserialize, Serialize};

use super::worker::{self, Notify, Pick, Task};
use super::{Shared, error_box, path_of};
use crate::model::Model;
use crate::runtime::decoder::DecoderSetup;
use crate::runtime::export::{self, Format};
use crate::runtime::transcribe::{Transcriber, Transcript};

/// The Files tab's persisted choices.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FilesSettings {
    /// Export format: "txt", "srt", "vtt" or "json".
    pub format: String,
    /// Folder "Export all" writes into.
    pub export_dir: String,
}

impl Default for FilesSettings {
    fn default() -> Self {
        FilesSettings { format: "txt".into(), export_dir: String::new() }
    }
}

/// Where one file is.
#[derive(Debug)]
pub enum FileState {
    Queued,
    /// Seconds read of the total.
    Running {
        done_s: f64,
        total_s: Option<f64>,
    },
    Done(Transcript),
    Failed(String),
    Cancelled,
}

pub struct FileItem {
    pub id: u64,
    pub path: PathBuf,
    pub state: FileState,
    cancel: Arc<AtomicBool>,
}

/// What the worker reports.
enum FileEvent {
    Started { id: u64, total_s: Option<f64> },
    Progress { id: u64, done_s: f64 },
    Done { id: u64, result: crate::Result<Transcript> },
}

struct Job {
    id: u64,
    path: PathBuf,
    model: Arc<Model>,
    decoder: DecoderSetup,
    cancel: Arc<AtomicBool>,
}

pub struct FilesTab {
    pub settings: FilesSettings,
    pub items: Vec<FileItem>,
    /// Path typed by the user ("Add" puts it in the queue).
    pub add_path: String,
    /// Shows only segments containing this text (case-insensitive).
    pub search: String,
    pub error: Option<String>,
    pub message: Option<String>,
    next_id: u64,
    jobs: Option<Sender<Job>>,
    events: Option<Receiver<FileEvent>>,
    dialog: Option<(DialogFor, Task<Vec<PathBuf>>)>,
    /// An export that would replace existing files, waiting for "Replace" or "Cancel".
    pub pending_overwrite: Option<PendingExport>,
}

/// An export into the export folder that found its file(s) already there.
#[derive(Clone, Debug, PartialEq)]
pub enum PendingExport {
    One { id: u64, out: PathBuf },
    All { dir: PathBuf, existing: Vec<PathBuf> },
}

#[derive(Clone, Copy, PartialEq)]
enum DialogFor {
    Add,
    ExportAll,
    ExportOne(u64),
}

fn format_of(s: &str) -> Format {
    match s {
        "srt" => Format::Srt,
        "vtt" => Format::Vtt,
        "json" => Format::Json,
        _ => Format::Txt,
    }
}

impl FilesTab {
    pub fn new(settings: FilesSettings) -> Self {
        FilesTab {
            settings,
            items: Vec::new(),
            add_path: String::new(),
            search: String::new(),
            error: None,
            message: None,
            next_id: 0,
            jobs: None,
            events: None,
            dialog: None,
            pending_overwrite: None,
        }
    }

    /// Exports one transcript into the export folder, asking first if the file exists.
    fn export_one_asking(&mut self, id: u64, out: PathBuf) {
        if out.exists() {
            self.pending_overwrite = Some(PendingExport::One { id, out });
        } else {
            self.export_one(id, &out);
        }
    }

    /// Exports every finished transcript into `dir`, asking first if any file exists.
    fn export_all_asking(&mut self, dir: PathBuf) {
        let existing: Vec<PathBuf> =
            self.export_targets(&dir).into_iter().filter(|p| p.exists()).collect();
        if existing.is_empty() {
            self.export_all(&dir);
        } else {
            self.pending_overwrite = Some(PendingExport::All { dir, existing });
        }
    }

    /// Where `export_all` writes each finished transcript in `dir`.
    fn export_targets(&self, dir: &Path) -> Vec<PathBuf> {
        let ext = format_of(&self.settings.format).extension();
        self.items
            .iter()
            .filter(|i| matches!(i.state, FileState::Done(_)))
            .map(|i| {
                let stem = i.path.file_stem().map(|s| s.to_string_lossy().into_owned());
                dir.join(format!("{}.{ext}", stem.unwrap_or("transcript".into())))
            })
            .collect()
    }

    /// The "replace existing files?" strip; true while it is shown.
    fn overwrite_prompt(&mut self, ui: &mut egui::Ui) -> bool {
        let Some(p) = self.pending_overwrite.clone() else { return false };
        let question = match &p {
            PendingExport::One { out, .. } => {
                format!("{} already exists. Replace it?", out.display())
            }
            PendingExport::All { dir, existing } => format!(
                "{} of the transcripts already exist in {} ({}{}). Replace them?",
                existing.len(),
                dir.display(),
                existing
                    .iter()
                    .take(3)
                    .filter_map(|e| e.file_name().map(|n| n.to_string_lossy().into_owned()))
                    .collect::<Vec<_>>()
                    .join(", "),
                if existing.len() > 3 { ", …" } else { "" }
            ),
        };
        egui::Frame::group(ui.style()).show(ui, |ui| {
            ui.horizontal_wrapped(|ui| {
                ui.colored_label(ui.visuals().warn_fg_color, question);
                if ui.button("Replace").clicked() {
                    self.pending_overwrite = None;
                    match p {
                        PendingExport::One { id, out } => self.export_one(id, &out),
                        PendingExport::All { dir, .. } => self.export_all(&dir),
                    }
                }
                if ui.button("Cancel").clicked() {
                    self.pending_overwrite = None;
                    self.message = Some("Nothing was exported.".into());
                }
            });
        });
        true
    }

    /// Puts files in the queue; they are transcribed with the current model, in order.
    pub fn add(&mut self, paths: Vec<PathBuf>, shared: &Shared) {
        let Some(model) = shared.model.model.clone() else {
            self.error = Some(if shared.model.is_loading() {
                "The model is still loading; add the files again in a moment.".into()
            } else {
                "No model is loaded: choose one in the Models tab first.".into()
            });
            return;
        };
        let decoder = shared.decoding();
        let tx = self.worker(shared.notify.clone());
        for path in paths {
            let id = self.next_id;
            self.next_id += 1;
            let cancel = Arc::new(AtomicBool::new(false));
            let job = Job {
                id,
                path: path.clone(),
                model: model.clone(),
                decoder: decoder.clone(),
                cancel: cancel.clone(),
            };
            let state = if tx.send(job).is_ok() {
                FileState::Queued
            } else {
                FileState::Failed("the transcription worker is not running".into())
            };
            self.items.push(FileItem { id, path, state, cancel });
        }
    }

    /// The job sender, starting the worker thread on first use.
    fn worker(&mut self, notify: Notify) -> Sender<Job> {
        if let Some(tx) = &self.jobs {
            return tx.clone();
        }
        let (jtx, jrx) = mpsc::channel::<Job>();
        let (etx, erx) = mpsc::channel();
        let spawned = std::thread::Builder::new().name("hark-gui-files".into()).spawn(move || {
            let send = |e: FileEvent| {
                let _ = etx.send(e);
                notify();
            };
            for job in jrx {
                if job.cancel.load(Ordering::Relaxed) {
                    continue;
                }
                let total_s = crate::audio::probe(&job.path).ok().and_then(|i| i.duration_s);
                send(FileEvent::Started { id: job.id, total_s });
                let mut t = Transcriber::new(job.model.clone());
                t.set_decoder(job.decoder);
                let mut last = 0.0;
                let result = t.transcribe_file(&job.path, &mut |s| {
                    // A few updates per second of audio is plenty for a progress bar.
                    if s - last >= 0.5 {
                        last = s;
                        send(FileEvent::Progress { id: job.id, done_s: s });
                    }
                });
                send(FileEvent::Done { id: job.id, result });
            }
        });
        if spawned.is_err() {
            self.error = Some("Cannot start the transcription thread.".into());
        }
        self.jobs = Some(jtx.clone());
        self.events = Some(erx);
        jtx
    }

    pub fn poll(&mut self, shared: &mut Shared) {
        if let Some(rx) = &self.events {
            while let Ok(ev) = rx.try_recv() {
                let id = match &ev {
                    FileEvent::Started { id, .. }
                    | FileEvent::Progress { id, .. }
                    | FileEvent::Done { id, .. } => *id,
                };
                let Some(item) = self.items.iter_mut().find(|i| i.id == id) else { continue };
                if item.cancel.load(Ordering::Relaxed) {
                    item.state = FileState::Cancelled;
                    continue;
                }
                item.state = match ev {
                    FileEvent::Started { total_s, .. } => {
                        FileState::Running { done_s: 0.0, total_s }
                    }
                    FileEvent::Progress { done_s, .. } => match item.state {
                        FileState::Running { total_s, .. } => {
                            FileState::Running { done_s, total_s }
                        }
                        _ => FileState::Running { done_s, total_s: None },
                    },
                    FileEvent::Done { result: Ok(t), .. } => FileState::Done(t),
                    FileEvent::Done { result: Err(e), .. } => FileState::Failed(e.to_string()),
                };
            }
        }
        if let Some((what, r)) = self.dialog.as_ref().and_then(|(w, t)| t.poll().map(|r| (*w, r))) {
            self.dialog = None;
            match r {
                Ok(paths) if paths.is_empty() => {}
                Ok(paths) => match what {
                    DialogFor::Add => self.add(paths, shared),
                    DialogFor::ExportAll => {
                        self.settings.export_dir = paths[0].display().to_string();
                        self.export_all_asking(paths[0].clone());
                    }
                    DialogFor::ExportOne(id) => self.export_one(id, &paths[0]),
                },
                Err(()) => self.error = Some(super::train::no_dialog()),
            }
        }
    }

    /// Writes one file's transcript to `out`.
    pub fn export_one(&mut self, id: u64, out: &Path) {
        let fmt = format_of(&self.settings.format);
        let Some(FileState::Done(t)) = self.items.iter().find(|i| i.id == id).map(|i| &i.state)
        else {
            return;
        };
        match export::render(t, fmt).and_then(|s| crate::util::write_atomic(out, s.as_bytes())) {
            Ok(()) => self.message = Some(format!("Saved {}", out.display())),
            Err(e) => self.error = Some(format!("Could not save the transcript: {e}")),
        }
    }

    /// Writes every finished transcript into `dir` as `<file stem>.<format>`.
    pub fn export_all(&mut self, dir: &Path) {
        let fmt = format_of(&self.settings.format);
        if let Err(e) = std::fs::create_dir_all(dir) {
            self.error = Some(format!("Cannot create {}: {e}", dir.display()));
            return;
        }
        let mut n = 0;
        for item in &self.items {
            let FileState::Done(t) = &item.state else { continue };
            let stem = item.path.file_stem().map(|s| s.to_string_lossy().into_owned());
            let out =
                dir.join(format!("{}.{}", stem.unwrap_or("transcript".into()), fmt.extension()));
            if let Err(e) =
                export::render(t, fmt).and_then(|s| crate::util::write_atomic(&out, s.as_bytes()))
            {
                self.error = Some(format!("Could not save {}: {e}", out.display()));
                return;
            }
            n += 1;
        }
        self.message = Some(format!("Saved {n} transcript(s) in {}", dir.display()));
    }

    pub fn ui(&mut self, ui: &mut egui::Ui, shared: &mut Shared) {
        // Files dropped anywhere on the window join the queue.
        let dropped: Vec<PathBuf> = ui.ctx().input(|i| {
            i.raw
                .dropped_files
                .iter()
                .map(|f| f.path().to_path_buf())
                .filter(|p| !p.as_os_str().is_empty())
                .collect()
        });
        if !dropped.is_empty() {
            self.add(dropped, shared);
        }
        error_box(ui, &mut self.error);
        ui.horizontal(|ui| {
            if ui.button("Add files…").clicked() && self.dialog.is_none() {
                self.dialog =
                    Some((DialogFor::Add, worker::pick(Pick::AudioFiles, shared.notify.clone())));
            }
            let l = ui.label("or path:");
            let typed = ui
                .add(
                    egui::TextEdit::singleline(&mut self.add_path)
                        .hint_text("/path/to/audio.wav")
                        .desired_width(320.0),
                )
                .labelled_by(l.id);
            // Enter in the box adds, as the button does.
            let entered = typed.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
            if (ui.button("Add").clicked() || entered)
                && let Some(p) = path_of(&self.add_path)
            {
                self.add(vec![p], shared);
                self.add_path.clear();
            }
            ui.label("(or drop files on the window; wav, flac, mp3, ogg)");
        });
        shared.lm_toggle(ui);
        ui.horizontal(|ui| {
            let l = ui.label("Search");
            ui.add(egui::TextEdit::singleline(&mut self.search).desired_width(200.0))
                .labelled_by(l.id);
            ui.separator();
            ui.label("Export as");
            for f in ["txt", "srt", "vtt", "json"] {
                ui.radio_value(&mut self.settings.format, f.to_string(), f.to_uppercase());
            }
            let l = ui.label("to folder");
            ui.add(
                egui::TextEdit::singleline(&mut self.settings.export_dir)
                    .hint_text("choose…")
                    .desired_width(200.0),
            )
            .labelled_by(l.id);
            let any_done = self.items.iter().any(|i| matches!(i.state, FileState::Done(_)));
            if ui.add_enabled(any_done, egui::Button::new("Export all")).clicked() {
                match path_of(&self.settings.export_dir) {
                    Some(d) => self.export_all_asking(d),
                    None if self.dialog.is_none() => {
                        self.dialog = Some((
                            DialogFor::ExportAll,
                            worker::pick(Pick::Folder, shared.notify.clone()),
                        ))
                    }
                    None => {}
                }
            }
            if ui.button("Clear finished").clicked() {
                self.items
                    .retain(|i| matches!(i.state, FileState::Queued | FileState::Running { .. }));
            }
        });
        if let Some(m) = &self.message {
            ui.label(m);
        }
        self.overwrite_prompt(ui);
        ui.separator();
        if self.items.is_empty() {
            ui.label("No files yet. Add audio files to transcribe them with the current model.");
            return;
        }
        let query = self.search.trim().to_lowercase();
        let mut cancel = None;
        let mut export = None;
        egui::ScrollArea::vertical().id_salt("files-scroll").show(ui, |ui| {
            for item in &self.items {
                let name = item.path.file_name().map(|n| n.to_string_lossy().into_owned());
                let name = name.unwrap_or_else(|| item.path.display().to_string());
                egui::Frame::group(ui.style()).show(ui, |ui| {
                    ui.set_width(ui.available_width());
                    ui.horizontal(|ui| {
                        ui.strong(&name);
                        match &item.state {
                            FileState::Queued => {
                                ui.label("queued");
                            }
                            FileState::Running { done_s, total_s } => {
                                let frac = total_s.map_or(0.0, |t| (done_s / t.max(1e-9)) as f32);
                                ui.add(
                                    egui::ProgressBar::new(frac.min(1.0))
                                        .desired_width(240.0)
                                        .text(format!("{} transcribed", worker::clock(*done_s))),
                                );
                            }
                            FileState::Done(t) => {
                                ui.label(format!(
                                    "done: {} segment(s), {}",
                                    t.segments.len(),
                                    worker::clock(t.duration_s)
                                ));
                            }
                            FileState::Failed(e) => {
                                ui.colored_label(
                                    ui.visuals().error_fg_color,
                                    format!("failed: {e}"),
                                );
                            }
                            FileState::Cancelled => {
                                ui.label("cancelled");
                            }
                        }
                        if matches!(item.state, FileState::Queued | FileState::Running { .. })
                            && ui.small_button("Cancel").clicked()
                        {
                            cancel = Some(item.id);
                        }
                        if matches!(item.state, FileState::Done(_))
                            && ui.small_button("Export…").clicked()
                        {
                            export = Some((item.id, name.clone()));
                        }
                    });
                    if let FileState::Done(t) = &item.state {
                        let mut shown = 0;
                        for s in &t.segments {
                            if !query.is_empty() && !s.text.to_lowercase().contains(&query) {
                                continue;
                            }
                            shown += 1;
                            ui.horizontal_wrapped(|ui| {
                                ui.monospace(format!(
                                    "[{} → {}]",
                                    worker::clock(s.start_s),
                                    worker::clock(s.end_s)
                                ));
                                words_with_confidence(ui, s);
                            });
                        }
                        if t.segments.is_empty() {
                            ui.weak("(no speech recognized)");
                        } else if shown == 0 {
                            ui.weak("(no segment matches the search)");
                        }
                    }
                });
            }
        });
        if let Some(id) = cancel
            && let Some(i) = self.items.iter_mut().find(|i| i.id == id)
        {
            i.cancel.store(true, Ordering::Relaxed);
            i.state = FileState::Cancelled;
        }
        if let Some((id, name)) = export
            && self.dialog.is_none()
        {
            let ext = format_of(&self.settings.format).extension();
            let stem = Path::new(&name).file_stem().map(|s| s.to_string_lossy().into_owned());
            let suggested = format!("{}.{ext}", stem.unwrap_or(name));
            match path_of(&self.settings.export_dir) {
                Some(d) => self.export_one_asking(id, d.join(suggested)),
                None => {
                    self.dialog = Some((
                        DialogFor::ExportOne(id),
                        worker::pick(Pick::SaveAs(suggested), shared.notify.clone()),
                    ))
                }
            }
        }
    }
}

/// Below this confidence a word is shown dimmed (hover any word for its figure).
pub const LOW_CONFIDENCE: f32 = 0.5;

/// A segment's words; each shows its confidence on hover, and uncertain ones are dimmed.
fn words_with_confidence(ui: &mut egui::Ui, s: &crate::runtime::transcribe::Segment) {
    if s.words.is_empty() {
        ui.label(&s.text);
        return;
    }
    ui.spacing_mut().item_spacing.x = 4.0;
    for w in &s.words {
        let text = egui::RichText::new(&w.text);
        let text = if w.confidence < LOW_CONFIDENCE { text.weak().italics() } else { text };
        ui.label(text).on_hover_text(format!(
            "{}: confidence {:.0} % ({} → {})",
            w.text,
            100.0 * w.confidence,
            worker::clock(w.start_s),
            worker::clock(w.end_s)
        ));
    }
}
