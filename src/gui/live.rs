//! Live tab: pick a microphone, start and stop, watch the level and the waveform, read the
//! provisional text while speaking and the final lines with times; copy or save the transcript.
//!
//! The microphone (or a file played at real-time pace, for trying Hark without a microphone)
//! feeds a forwarder thread that copies a min/max envelope for the waveform to the UI and hands
//! every capture event on to the recognizer worker ([`RecognizerHandle`]).

use eframe::egui;
use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::worker::{self, Notify, Pick, Task};
use super::{Shared, error_box, path_field, path_of};
use crate::audio::capture::{
    Capture, CaptureEvent, DeviceInfo, is_user_facing, list_input_devices,
};
use crate::model::Model;
use crate::runtime::decoder::DecoderSetup;
use crate::runtime::messages::{RecognizerCommand, RecognizerEvent};
use crate::runtime::recognizer::{
    AudioInput, Recognizer, RecognizerHandle, RecognizerOptions, feed_realtime,
};

/// Samples per waveform column (10 ms at 16 kHz).
const BUCKET: usize = 160;
/// Waveform columns kept (6 s).
const BUCKETS: usize = 600;

/// Where live audio comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Source {
    #[default]
    Microphone,
    /// An audio file played at real-time pace, as if spoken into the microphone.
    File,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LiveSettings {
    /// Input device id ("" = the system default).
    pub device: String,
    pub source: Source,
    pub file: String,
}

/// One final line.
#[derive(Clone, Debug, PartialEq)]
pub struct FinalLine {
    pub start_s: f32,
    pub end_s: f32,
    pub text: String,
    pub confidence: f32,
}

type Started = crate::Result<(RecognizerHandle, Receiver<Vec<[f32; 2]>>, Arc<AtomicBool>)>;

pub struct LiveTab {
    pub settings: LiveSettings,
    pub devices: Vec<DeviceInfo>,
    devices_task: Option<Task<crate::Result<Vec<DeviceInfo>>>>,
    starting: Option<Task<Started>>,
    handle: Option<RecognizerHandle>,
    envelope_rx: Option<Receiver<Vec<[f32; 2]>>>,
    stop_flag: Option<Arc<AtomicBool>>,
    dialog: Option<(bool, Task<Vec<PathBuf>>)>,
    /// (min, max) of each 10 ms column, oldest first.
    pub envelope: VecDeque<[f32; 2]>,
    pub level_dbfs: f32,
    /// The provisional text of the utterance being spoken.
    pub partial: Option<(f32, String)>,
    pub finals: Vec<FinalLine>,
    pub status: String,
    pub error: Option<String>,
    stopping: bool,
}

impl LiveTab {
    pub fn new(settings: LiveSettings) -> Self {
        LiveTab {
            settings,
            devices: Vec::new(),
            devices_task: None,
            starting: None,
            handle: None,
            envelope_rx: None,
            stop_flag: None,
            dialog: None,
            envelope: VecDeque::new(),
            level_dbfs: -120.0,
            partial: None,
            finals: Vec::new(),
            status: "Stopped".into(),
            error: None,
            stopping: false,
        }
    }

    pub fn is_running(&self) -> bool {
        self.handle.is_some() || self.starting.is_some()
    }

    /// The transcript so far, one line per utterance with its start time.
    pub fn transcript(&self) -> String {
        self.finals
            .iter()
            .map(|f| format!("[{}] {}\n", worker::clock(f.start_s as f64), f.text))
            .collect()
    }

    fn refresh_devices(&mut self, notify: Notify) {
        self.devices_task = Some(Task::spawn("devices", notify, list_input_devices));
    }

    /// Starts listening with the current model.
    pub fn start(&mut self, shared: &Shared) {
        if self.is_running() {
            return;
        }
        let Some(model) = shared.model.model.clone() else {
            self.error = Some("No model is loaded: choose one in the Models tab first.".into());
            return;
        };
        let source = self.settings.source;
        let device = Some(self.settings.device.clone()).filter(|d| !d.is_empty());
        let file = path_of(&self.settings.file);
        if source == Source::File && file.is_none() {
            self.error = Some("Choose an audio file to play as the input.".into());
            return;
        }
        self.error = None;
        self.partial = None;
        self.envelope.clear();
        self.status = "Starting …".into();
        let notify = shared.notify.clone();
        let decoder = shared.decoding();
        self.starting = Some(Task::spawn("live-start", shared.notify.clone(), move || {
            start_worker(model, decoder, source, device, file, notify)
        }));
    }

    pub fn stop(&mut self) {
        if let Some(h) = &self.handle {
            h.send(RecognizerCommand::Stop);
            self.stopping = true;
            self.status = "Stopping …".into();
        }
        if let Some(f) = &self.stop_flag {
            f.store(true, Ordering::Relaxed);
        }
    }

    pub fn poll(&mut self, shared: &mut Shared) {
        if self.devices.is_empty() && self.devices_task.is_none() {
            self.refresh_devices(shared.notify.clone());
        }
        if let Some(r) = self.devices_task.as_ref().and_then(|t| t.poll()) {
            self.devices_task = None;
            match r {
                Ok(Ok(all)) => {
                    let ids: Vec<String> = all.iter().map(|d| d.id.clone()).collect();
                    self.devices =
                        all.into_iter().filter(|d| is_user_facing(&d.id, &ids)).collect();
                }
                Ok(Err(e)) => self.error = Some(format!("Cannot list microphones: {e}")),
                Err(()) => {}
            }
        }
        if let Some(r) = self.starting.as_ref().and_then(|t| t.poll()) {
            self.starting = None;
            match r {
                Ok(Ok((h, env, flag))) => {
                    self.handle = Some(h);
                    self.envelope_rx = Some(env);
                    self.stop_flag = Some(flag);
                    self.status = match self.settings.source {
                        Source::Microphone => "Listening — speak now".into(),
                        Source::File => "Listening to the file (real-time)".into(),
                    };
                }
                Ok(Err(e)) => {
                    self.status = "Stopped".into();
                    self.error = Some(match e {
                        crate::Error::Device(_) => format!(
                            "No microphone could be opened: {e}. You can still try Hark with \
                             \"Audio file\" as the input."
                        ),
                        e => format!("Could not start listening: {e}"),
                    });
                }
                Err(()) => self.status = "Stopped".into(),
            }
        }
        if let Some(rx) = &self.envelope_rx {
            while let Ok(cols) = rx.try_recv() {
                self.envelope.extend(cols);
            }
            while self.envelope.len() > BUCKETS {
                self.envelope.pop_front();
            }
        }
        let mut stopped = false;
        if let Some(h) = &self.handle {
            while let Ok(ev) = h.events().try_recv() {
                match ev {
                    RecognizerEvent::Partial { text, start_s, .. } => {
                        self.partial = Some((start_s, text))
                    }
                    RecognizerEvent::Final { text, start_s, end_s, confidence, .. } => {
                        self.partial = None;
                        if !text.trim().is_empty() {
                            self.finals.push(FinalLine { start_s, end_s, text, confidence });
                        }
                    }
                    RecognizerEvent::Level { rms_dbfs, .. } => self.level_dbfs = rms_dbfs,
                    RecognizerEvent::DeviceLost(why) => {
                        self.status = format!("The microphone stopped ({why}); retrying …")
                    }
                    RecognizerEvent::Resumed => self.status = "Listening — speak now".into(),
                    RecognizerEvent::Error(e) => self.error = Some(e),
                    RecognizerEvent::Stopped => stopped = true,
                }
            }
        }
        if stopped {
            if let Some(h) = self.handle.take() {
                h.join();
            }
            self.envelope_rx = None;
            self.stop_flag = None;
            self.stopping = false;
            self.partial = None;
            self.level_dbfs = -120.0;
            self.status = "Stopped".into();
        }
        if let Some((save, r)) = self.dialog.as_ref().and_then(|(s, t)| t.poll().map(|r| (*s, r))) {
            self.dialog = None;
            match r {
                Ok(p) => {
                    if let Some(p) = p.into_iter().next() {
                        if save {
                            self.save_to(&p);
                        } else {
                            self.settings.file = p.display().to_string();
                        }
                    }
                }
                Err(()) => self.error = Some(super::train::no_dialog()),
            }
        }
    }

    /// Writes the transcript as text.
    pub fn save_to(&mut self, path: &std::path::Path) {
        if let Err(e) = crate::util::write_atomic(path, self.transcript().as_bytes()) {
            self.error = Some(format!("Could not save the transcript: {e}"));
        } else {
            self.status = format!("Saved the transcript to {}", path.display());
        }
    }

    pub fn ui(&mut self, ui: &mut egui::Ui, shared: &mut Shared) {
        error_box(ui, &mut self.error);
        let running = self.is_running();
        ui.add_enabled_ui(!running, |ui| {
            ui.horizontal(|ui| {
                ui.label("Input");
                ui.radio_value(&mut self.settings.source, Source::Microphone, "Microphone");
                ui.radio_value(&mut self.settings.source, Source::File, "Audio file (real-time)")
                    .on_hover_text("Plays a file into the recognizer at speaking pace.");
            });
            match self.settings.source {
                Source::Microphone => {
                    ui.horizontal(|ui| {
                        microphone_picker(ui, &mut self.settings.device, &self.devices);
                        if ui
                            .button("Refresh")
                            .on_hover_text("List the microphones again")
                            .clicked()
                        {
                            self.refresh_devices(shared.notify.clone());
                        }
                    });
                }
                Source::File => {
                    if path_field(ui, "Audio file", &mut self.settings.file, "/path/to/speech.wav")
                        && self.dialog.is_none()
                    {
                        self.dialog =
                            Some((false, worker::pick(Pick::AudioFiles, shared.notify.clone())));
                    }
                }
            }
            shared.lm_toggle(ui);
        });
        ui.horizontal(|ui| {
            if !running {
                if ui.button("Start").clicked() {
                    self.start(shared);
                }
            } else if ui.add_enabled(!self.stopping, egui::Button::new("Stop")).clicked() {
                self.stop();
            }
            ui.label(&self.status);
        });
        // Level: −60 dBFS (silence) … 0 dBFS (full scale).
        let level = ((self.level_dbfs + 60.0) / 60.0).clamp(0.0, 1.0);
        ui.horizontal(|ui| {
            ui.label("Level");
            ui.add(
                egui::ProgressBar::new(level)
                    .desired_width(300.0)
                    .text(format!("{:.0} dBFS", self.level_dbfs.max(-99.0))),
            );
        });
        waveform(ui, &self.envelope, 90.0);
        ui.separator();
        ui.horizontal(|ui| {
            ui.strong("Transcript");
            if ui.button("Copy").clicked() {
                ui.ctx().copy_text(self.transcript());
            }
            if ui.button("Save…").clicked() && self.dialog.is_none() {
                self.dialog = Some((
                    true,
                    worker::pick(Pick::SaveAs("transcript.txt".into()), shared.notify.clone()),
                ));
            }
            if ui.button("Clear").clicked() {
                self.finals.clear();
            }
        });
        egui::ScrollArea::vertical().id_salt("live-scroll").stick_to_bottom(true).show(ui, |ui| {
            for f in &self.finals {
                ui.horizontal_wrapped(|ui| {
                    ui.monospace(format!(
                        "[{} → {}]",
                        worker::clock(f.start_s as f64),
                        worker::clock(f.end_s as f64)
                    ));
                    ui.label(egui::RichText::new(&f.text).size(16.0))
                        .on_hover_text(format!("confidence {:.0} %", f.confidence * 100.0));
                });
            }
            if let Some((start, text)) = &self.partial {
                ui.horizontal_wrapped(|ui| {
                    ui.monospace(format!("[{} → …]", worker::clock(*start as f64)));
                    ui.label(egui::RichText::new(format!("{text} …")).italics().weak().size(16.0))
                        .on_hover_text("Provisional: this text may still change.");
                });
            }
            if self.finals.is_empty() && self.partial.is_none() {
                ui.weak("Press Start and speak; each pause ends a line.");
            }
        });
    }
}

/// Draws a min/max envelope (one column per 10 ms, newest on the right).
pub fn waveform(ui: &mut egui::Ui, env: &VecDeque<[f32; 2]>, height: f32) {
    let width = ui.available_width();
    let (rect, _) = ui.allocate_exact_size(egui::vec2(width, height), egui::Sense::hover());
    let painter = ui.painter_at(rect);
    painter.rect_filled(rect, 4.0, ui.visuals().extreme_bg_color);
    let mid = rect.center().y;
    painter.hline(rect.x_range(), mid, egui::Stroke::new(1.0, ui.visuals().weak_text_color()));
    if env.is_empty() {
        return;
    }
    let n = env.len().max(BUCKETS);
    let dx = rect.width() / n as f32;
    let x0 = rect.right() - env.len() as f32 * dx;
    let stroke = egui::Stroke::new(dx.max(1.0), egui::Color32::from_rgb(90, 170, 255));
    let half = height / 2.0 - 2.0;
    for (i, [lo, hi]) in env.iter().enumerate() {
        let x = x0 + (i as f32 + 0.5) * dx;
        let (lo, hi) = (lo.clamp(-1.0, 1.0), hi.clamp(-1.0, 1.0));
        painter.line_segment(
            [egui::pos2(x, mid - hi * half), egui::pos2(x, mid - lo.min(hi - 0.01) * half)],
            stroke,
        );
    }
}

/// (min, max) of each [`BUCKET`]-sample column of `samples`.
pub fn envelope_of(samples: &[f32]) -> Vec<[f32; 2]> {
    samples
        .chunks(BUCKET)
        .map(|c| c.iter().fold([f32::MAX, f32::MIN], |[lo, hi], &s| [lo.min(s), hi.max(s)]))
        .collect()
}

/// Opens the input, starts the forwarder (waveform tap) and the recognizer. Runs on a worker
/// thread because opening a device can take a moment.
fn start_worker(
    model: Arc<Model>,
    decoder: DecoderSetup,
    source: Source,
    device: Option<String>,
    file: Option<PathBuf>,
    notify: Notify,
) -> Started {
    let opts = RecognizerOptions::for_decoder(&decoder);
    let recognizer = Recognizer::new(model, decoder.lm, opts)?;
    let (tx, rx) = mpsc::channel::<CaptureEvent>();
    let (env_tx, env_rx) = mpsc::channel();
    let stop = Arc::new(AtomicBool::new(false));
    // The forwarder owns the input: the capture (stopped when the recognizer hangs up) or the
    // real-time file feeder.
    let (upstream, capture) = match source {
        Source::Microphone => {
            let c = Capture::start(device.as_deref())?;
            (None, Some(c))
        }
        Source::File => {
            let path = file.ok_or_else(|| crate::Error::Options("no input file chosen".into()))?;
            let samples = crate::audio::read_mono_16k(&path)?;
            let (ftx, frx) = mpsc::channel();
            let stop = stop.clone();
            std::thread::Builder::new()
                .name("hark-gui-feed".into())
                .spawn(move || {
                    // 100 ms chunks at real-time pace; stops early when the receiver is gone.
                    for part in samples.chunks(16_000) {
                        if stop.load(Ordering::Relaxed) {
                            break;
                        }
                        if feed_realtime(part, &ftx, 100, 1.0).len() < part.len().div_ceil(1600) {
                            break;
                        }
                    }
                })
                .map_err(|e| crate::Error::Device(format!("cannot start a thread: {e}")))?;
            (Some(frx), None)
        }
    };
    let stop_fwd = stop.clone();
    let ui_notify = notify.clone();
    std::thread::Builder::new()
        .name("hark-gui-tap".into())
        .spawn(move || {
            let rx_in = match (&upstream, &capture) {
                (Some(r), _) => r,
                (None, Some(c)) => c.events(),
                (None, None) => return,
            };
            loop {
                match rx_in.recv_timeout(Duration::from_millis(50)) {
                    Ok(ev) => {
                        if let CaptureEvent::Audio(s) = &ev {
                            let _ = env_tx.send(envelope_of(s));
                            ui_notify();
                        }
                        if tx.send(ev).is_err() {
                            break;
                        }
                    }
                    Err(RecvTimeoutError::Timeout) => {
                        if stop_fwd.load(Ordering::Relaxed) {
                            break;
                        }
                    }
                    Err(RecvTimeoutError::Disconnected) => break,
                }
            }
            if let Some(c) = capture {
                c.stop();
            }
        })
        .map_err(|e| crate::Error::Device(format!("cannot start a thread: {e}")))?;
    let handle = RecognizerHandle::spawn(
        recognizer,
        AudioInput::Events(rx),
        None,
        Box::new(move || notify()),
    )?;
    Ok((handle, env_rx, stop))
}

/// The "Microphone" drop-down: "System default" ("") or one of `devices` (by id); shared by
/// the Live and Record tabs, which record from the same choice.
pub fn microphone_picker(ui: &mut egui::Ui, device: &mut String, devices: &[DeviceInfo]) {
    // A saved choice that is not listed now (a microphone unplugged, or an ALSA id from before
    // Hark used the sound server) says so rather than posing as the default it is not.
    let selected = match devices.iter().find(|d| d.id == *device) {
        Some(d) => d.name.clone(),
        None if device.is_empty() => "System default".to_string(),
        None if devices.is_empty() => device.clone(),
        None => format!("{device} (not found)"),
    };
    egui::ComboBox::from_label("Microphone").selected_text(selected).show_ui(ui, |ui| {
        ui.selectable_value(device, String::new(), "System default");
        for d in devices {
            let mut name = d.name.clone();
            if let Some(why) = &d.unavailable {
                name = format!("{name} (unavailable: {why})");
            }
            ui.selectable_value(device, d.id.clone(), name);
        }
    });
}
