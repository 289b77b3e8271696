//! Record tab: build a labeled folder with your own voice. The app shows a sentence, records it,
//! shows the waveform, plays it back or records it again, and saves `NNN.wav` + `NNN.txt`; one
//! click then fine-tunes the current model on the folder.

use eframe::egui;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::Duration;

use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use serde::{Deserialize, Serialize};

use super::train::{StartFrom, TrainTab};
use super::worker::{self, Notify, Pick, Task};
use super::{Shared, Tab, error_box, path_field, path_of};
use crate::SAMPLE_RATE_HZ;
use crate::audio::capture::{Capture, CaptureEvent};

/// The prompts shipped with Hark (one sentence per line).
pub const SHIPPED_PROMPTS: &str = include_str!("../../assets/prompts.txt");

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RecordSettings {
    /// The folder recordings go to.
    pub folder: String,
    /// The user's own prompt file ("" = the shipped list).
    pub prompts_file: String,
    /// Which prompt is shown.
    pub prompt: usize,
}

/// What the recording thread reports.
enum RecMsg {
    Started(String),
    Audio(Vec<f32>),
    Level(f32),
    Failed(String),
}

/// A playback thread and its stop flag.
type Playback = (Task<Result<(), String>>, Arc<AtomicBool>);

pub struct RecordTab {
    pub settings: RecordSettings,
    pub prompts: Vec<String>,
    /// The take being made or reviewed (16 kHz mono).
    pub samples: Vec<f32>,
    recording: Option<(Receiver<RecMsg>, Arc<AtomicBool>)>,
    pub is_recording: bool,
    pub level_dbfs: f32,
    playing: Option<Playback>,
    dialog: Option<(bool, Task<Vec<PathBuf>>)>,
    /// Recordings already in the folder.
    pub saved: usize,
    pub message: Option<String>,
    pub error: Option<String>,
    loaded_prompts_from: Option<String>,
}

impl RecordTab {
    pub fn new(settings: RecordSettings) -> Self {
        let mut t = RecordTab {
            settings,
            prompts: Vec::new(),
            samples: Vec::new(),
            recording: None,
            is_recording: false,
            level_dbfs: -120.0,
            playing: None,
            dialog: None,
            saved: 0,
            message: None,
            error: None,
            loaded_prompts_from: None,
        };
        t.load_prompts();
        t.count_saved();
        t
    }

    /// Loads the user's prompt file, or the shipped list.
    pub fn load_prompts(&mut self) {
        let from = self.settings.prompts_file.trim().to_string();
        let text = if from.is_empty() {
            SHIPPED_PROMPTS.to_string()
        } else {
            match std::fs::read_to_string(&from) {
                Ok(t) => t,
                Err(e) => {
                    self.error = Some(format!("Cannot read the prompt file {from}: {e}"));
                    SHIPPED_PROMPTS.to_string()
                }
            }
        };
        self.prompts = parse_prompts(&text);
        if self.prompts.is_empty() {
            self.error =
                Some(format!("The prompt file {from} has no sentences; using the shipped list."));
            self.prompts = parse_prompts(SHIPPED_PROMPTS);
        }
        self.settings.prompt %= self.prompts.len();
        self.loaded_prompts_from = Some(from);
    }

    /// Counts the recordings in the folder.
    pub fn count_saved(&mut self) {
        self.saved = path_of(&self.settings.folder).map_or(0, |d| numbered(&d).len());
    }

    pub fn prompt(&self) -> &str {
        &self.prompts[self.settings.prompt % self.prompts.len()]
    }

    /// Starts recording from `device` ("" = default).
    pub fn record(&mut self, device: &str, notify: Notify) {
        if self.recording.is_some() {
            return;
        }
        self.samples.clear();
        self.error = None;
        self.message = None;
        let (tx, rx) = mpsc::channel();
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        let device = Some(device.to_string()).filter(|d| !d.is_empty());
        let spawned = std::thread::Builder::new().name("hark-gui-record".into()).spawn(move || {
            let send = |m| {
                let _ = tx.send(m);
                notify();
            };
            let cap = match Capture::start(device.as_deref()) {
                Ok(c) => c,
                Err(e) => return send(RecMsg::Failed(e.to_string())),
            };
            send(RecMsg::Started(cap.device().name.clone()));
            while !stop2.load(Ordering::Relaxed) {
                match cap.events().recv_timeout(Duration::from_millis(50)) {
                    Ok(CaptureEvent::Audio(s)) => send(RecMsg::Audio(s)),
                    Ok(CaptureEvent::Level { rms_dbfs, .. }) => send(RecMsg::Level(rms_dbfs)),
                    Ok(CaptureEvent::DeviceLost(why)) => {
                        send(RecMsg::Failed(format!("the microphone stopped: {why}")));
                        break;
                    }
                    Ok(_) | Err(RecvTimeoutError::Timeout) => {}
                    Err(RecvTimeoutError::Disconnected) => break,
                }
            }
            // Audio captured before the stop belongs to the take.
            while let Ok(CaptureEvent::Audio(s)) = cap.events().try_recv() {
                send(RecMsg::Audio(s));
            }
            cap.stop();
        });
        match spawned {
            Ok(_) => {
                self.recording = Some((rx, stop));
                self.is_recording = true;
            }
            Err(e) => self.error = Some(format!("Cannot start recording: {e}")),
        }
    }

    pub fn stop_recording(&mut self) {
        if let Some((_, stop)) = &self.recording {
            stop.store(true, Ordering::Relaxed);
        }
    }

    /// Saves the take as the next `NNN.wav` + `NNN.txt` and moves to the next sentence.
    pub fn save(&mut self) -> Option<PathBuf> {
        let Some(dir) = path_of(&self.settings.folder) else {
            self.error = Some("Choose a folder for your recordings first.".into());
            return None;
        };
        if self.samples.is_empty() {
            self.error = Some("Nothing recorded yet.".into());
            return None;
        }
        match save_take(&dir, &self.samples, self.prompt()) {
            Ok(wav) => {
                self.message = Some(format!("Saved {}", wav.display()));
                self.samples.clear();
                self.settings.prompt = (self.settings.prompt + 1) % self.prompts.len();
                self.count_saved();
                Some(wav)
            }
            Err(e) => {
                self.error = Some(format!("Could not save the recording: {e}"));
                None
            }
        }
    }

    pub fn poll(&mut self, _shared: &mut Shared) {
        let mut ended = false;
        if let Some((rx, _)) = &self.recording {
            loop {
                match rx.try_recv() {
                    Ok(RecMsg::Audio(s)) => self.samples.extend_from_slice(&s),
                    Ok(RecMsg::Level(l)) => self.level_dbfs = l,
                    Ok(RecMsg::Started(name)) => {
                        self.message = Some(format!("Recording from {name} — read the sentence"))
                    }
                    Ok(RecMsg::Failed(e)) => {
                        self.error = Some(format!(
                            "No microphone could be opened for recording: {e}. Connect a \
                             microphone (or pick another in the Live tab) and try again."
                        ));
                    }
                    Err(mpsc::TryRecvError::Empty) => break,
                    Err(mpsc::TryRecvError::Disconnected) => {
                        ended = true;
                        break;
                    }
                }
            }
        }
        if ended {
            self.recording = None;
            self.is_recording = false;
            self.level_dbfs = -120.0;
            if !self.samples.is_empty() {
                self.message = Some(format!(
                    "Recorded {:.1} s. Play it back, redo it, or save it.",
                    self.samples.len() as f64 / SAMPLE_RATE_HZ as f64
                ));
            }
        }
        if let Some(r) = self.playing.as_ref().and_then(|(t, _)| t.poll()) {
            self.playing = None;
            if let Ok(Err(e)) = r {
                self.error = Some(e);
            }
        }
        if let Some((is_prompts, r)) =
            self.dialog.as_ref().and_then(|(w, t)| t.poll().map(|r| (*w, r)))
        {
            self.dialog = None;
            match r {
                Ok(p) => {
                    if let Some(p) = p.into_iter().next() {
                        if is_prompts {
                            self.settings.prompts_file = p.display().to_string();
                            self.load_prompts();
                        } else {
                            self.settings.folder = p.display().to_string();
                            self.count_saved();
                        }
                    }
                }
                Err(()) => self.error = Some(super::train::no_dialog()),
            }
        }
    }

    pub fn ui(&mut self, ui: &mut egui::Ui, shared: &mut Shared, train: &mut TrainTab) {
        error_box(ui, &mut self.error);
        ui.label(
            "Build your own training data: read each sentence aloud, then save it. A few dozen \
             sentences are enough to adapt the model to your voice.",
        );
        let before = self.settings.folder.clone();
        if path_field(
            ui,
            "Recordings folder",
            &mut self.settings.folder,
            "a new or existing folder",
        ) && self.dialog.is_none()
        {
            self.dialog = Some((false, worker::pick(Pick::Folder, shared.notify.clone())));
        }
        if before != self.settings.folder {
            self.count_saved();
        }
        let before = self.settings.prompts_file.clone();
        if path_field(
            ui,
            "Sentences from",
            &mut self.settings.prompts_file,
            "shipped list (300 sentences)",
        ) && self.dialog.is_none()
        {
            self.dialog = Some((true, worker::pick(Pick::TextFile, shared.notify.clone())));
        }
        if before != self.settings.prompts_file && self.settings.prompts_file.trim().is_empty() {
            self.load_prompts();
        }
        if self.loaded_prompts_from.as_deref() != Some(self.settings.prompts_file.trim())
            && ui.button("Load sentences").clicked()
        {
            self.load_prompts();
        }
        ui.separator();
        ui.horizontal(|ui| {
            ui.label(format!(
                "Sentence {} of {}",
                self.settings.prompt % self.prompts.len() + 1,
                self.prompts.len()
            ));
            if ui.small_button("Previous").on_hover_text("Previous sentence").clicked() {
                self.settings.prompt =
                    (self.settings.prompt + self.prompts.len() - 1) % self.prompts.len();
                self.samples.clear();
            }
            if ui.small_button("Next").on_hover_text("Skip this sentence").clicked() {
                self.settings.prompt = (self.settings.prompt + 1) % self.prompts.len();
                self.samples.clear();
            }
        });
        egui::Frame::group(ui.style()).inner_margin(12.0).show(ui, |ui| {
            ui.set_width(ui.available_width());
            ui.label(egui::RichText::new(self.prompt()).size(24.0).strong());
        });
        ui.add_space(4.0);
        ui.horizontal(|ui| {
            if self.is_recording {
                if ui.button("Stop recording").clicked() {
                    self.stop_recording();
                }
                ui.label(format!("{:.1} s", self.samples.len() as f64 / SAMPLE_RATE_HZ as f64));
                let level = ((self.level_dbfs + 60.0) / 60.0).clamp(0.0, 1.0);
                let loud = if self.level_dbfs > -3.0 { " (too loud)" } else { "" };
                ui.add(
                    egui::ProgressBar::new(level)
                        .desired_width(200.0)
                        .text(format!("level {:.0} dBFS{loud}", self.level_dbfs.max(-99.0))),
                );
            } else {
                super::live::microphone_picker(ui, &mut shared.device, &shared.devices);
                let label = if self.samples.is_empty() { "Start recording" } else { "Redo" };
                if ui.button(label).clicked() {
                    let device = shared.device.clone();
                    self.record(&device, shared.notify.clone());
                }
                let has = !self.samples.is_empty();
                if self.playing.is_some() {
                    if ui.button("Stop playback").clicked()
                        && let Some((_, stop)) = &self.playing
                    {
                        stop.store(true, Ordering::Relaxed);
                    }
                } else if ui.add_enabled(has, egui::Button::new("Play")).clicked() {
                    let stop = Arc::new(AtomicBool::new(false));
                    let samples = Arc::new(self.samples.clone());
                    let s2 = stop.clone();
                    self.playing = Some((
                        Task::spawn("play", shared.notify.clone(), move || play(&samples, &s2)),
                        stop,
                    ));
                }
                if ui.add_enabled(has, egui::Button::new("Save and next")).clicked() {
                    self.save();
                }
            }
        });
        let env: std::collections::VecDeque<[f32; 2]> =
            super::live::envelope_of(&self.samples).into_iter().collect();
        super::live::waveform(ui, &env, 100.0);
        if let Some(m) = &self.message {
            ui.label(m);
        }
        ui.separator();
        ui.horizontal(|ui| {
            ui.label(format!("{} recording(s) in the folder.", self.saved));
            let need = crate::train::recipe::VOICE_MIN_RECORDINGS;
            let model = shared.model.path.clone().filter(|_| shared.model.model.is_some());
            let enough = self.saved >= need && model.is_some() && !train.is_running();
            let button = ui
                .add_enabled(enough, egui::Button::new("Fine-tune the current model on them"))
                .on_hover_text(format!(
                    "Starts training in the Train tab from the current model on this folder \
                     (fine-tuning rate 1e-4, {} epochs, a fifth of the recordings held out to \
                     measure before and after; a new run folder).",
                    crate::train::recipe::VOICE_EPOCHS
                ))
                .on_disabled_hover_text(format!(
                    "Needs at least {need} recordings (a fifth of them measure the result) and a \
                     loaded model."
                ));
            if self.saved < need {
                ui.weak(format!("{} more to fine-tune", need - self.saved));
            }
            if button.clicked()
                && let Some(model) = model
            {
                let folder = std::path::PathBuf::from(&self.settings.folder);
                let recipe = crate::train::recipe::voice_adaptation(&folder, &model);
                train.settings.data = self.settings.folder.clone();
                train.settings.validation.clear();
                train.settings.start = StartFrom::FineTune;
                train.start_recipe(&recipe, shared);
                shared.goto = Some(Tab::Train);
            }
        });
    }
}

/// Non-empty lines, trimmed; `#` starts a comment line.
pub fn parse_prompts(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect()
}

/// The numbers of the `NNN.wav` files in `dir`, sorted.
pub fn numbered(dir: &Path) -> Vec<u32> {
    let mut out: Vec<u32> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let p = e.path();
            let is_wav = p.extension().is_some_and(|x| x.eq_ignore_ascii_case("wav"));
            if !is_wav {
                return None;
            }
            p.file_stem()?.to_str()?.parse().ok()
        })
        .collect();
    out.sort_unstable();
    out
}

/// Writes `NNN.txt` then `NNN.wav` (each atomically) with the next free number in `dir`; the
/// transcript goes first so a crash never leaves audio without its text. Returns the WAV path.
pub fn save_take(dir: &Path, samples: &[f32], text: &str) -> crate::Result<PathBuf> {
    std::fs::create_dir_all(dir).map_err(|e| crate::Error::io(dir, e))?;
    let n = numbered(dir).last().map_or(1, |n| n + 1);
    let txt = dir.join(format!("{n:03}.txt"));
    crate::util::write_atomic(&txt, format!("{text}\n").as_bytes())?;
    let wav = dir.join(format!("{n:03}.wav"));
    crate::audio::write_wav_16k(&wav, samples)?;
    Ok(wav)
}

/// Plays 16 kHz mono `samples` on the default output device until done or `stop` is set.
/// Errors are plain sentences for the window (no output device is a normal situation).
pub fn play(samples: &[f32], stop: &AtomicBool) -> Result<(), String> {
    let no_output = |why: String| {
        format!("Playback is not available: {why}. The recording itself is fine and can be saved.")
    };
    let host = cpal::default_host();
    let device =
        host.default_output_device().ok_or_else(|| no_output("no audio output device".into()))?;
    let config = device.default_output_config().map_err(|e| no_output(e.to_string()))?;
    let data: Arc<Vec<f32>> = Arc::new(samples.to_vec());
    let pos = Arc::new(AtomicUsize::new(0));
    let rate = config.sample_rate();
    let channels = config.channels() as usize;
    let stream_config = config.config();
    let stream = match config.sample_format() {
        cpal::SampleFormat::F32 => {
            build::<f32>(&device, stream_config, data.clone(), pos.clone(), rate, channels)
        }
        cpal::SampleFormat::I16 => {
            build::<i16>(&device, stream_config, data.clone(), pos.clone(), rate, channels)
        }
        cpal::SampleFormat::I32 => {
            build::<i32>(&device, stream_config, data.clone(), pos.clone(), rate, channels)
        }
        cpal::SampleFormat::U16 => {
            build::<u16>(&device, stream_config, data.clone(), pos.clone(), rate, channels)
        }
        f => return Err(no_output(format!("the output device uses {f:?} samples"))),
    }
    .map_err(|e| no_output(e.to_string()))?;
    stream.play().map_err(|e| no_output(e.to_string()))?;
    // Output frames needed for the whole take at the device rate, plus a little tail.
    let frames = (data.len() as f64 * rate as f64 / SAMPLE_RATE_HZ as f64) as usize;
    let limit =
        std::time::Instant::now() + Duration::from_secs_f64(frames as f64 / rate as f64 + 2.0);
    while pos.load(Ordering::Relaxed) < frames && !stop.load(Ordering::Relaxed) {
        if std::time::Instant::now() > limit {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

/// An output stream reading `data` (16 kHz) at the device `rate` by linear interpolation —
/// enough for listening back to a take (nothing is trained on this signal).
fn build<T: cpal::SizedSample + cpal::FromSample<f32>>(
    device: &cpal::Device,
    config: cpal::StreamConfig,
    data: Arc<Vec<f32>>,
    pos: Arc<AtomicUsize>,
    rate: u32,
    channels: usize,
) -> Result<cpal::Stream, cpal::Error> {
    let step = SAMPLE_RATE_HZ as f64 / rate as f64;
    device.build_output_stream::<T, _, _>(
        config,
        move |out: &mut [T], _| {
            let mut frame = pos.load(Ordering::Relaxed);
            for chunk in out.chunks_mut(channels.max(1)) {
                let t = frame as f64 * step;
                let i = t as usize;
                let f = (t - i as f64) as f32;
                let a = data.get(i).copied().unwrap_or(0.0);
                let b = data.get(i + 1).copied().unwrap_or(0.0);
                let v = <T as cpal::Sample>::from_sample(a + (b - a) * f);
                chunk.iter_mut().for_each(|s| *s = v);
                frame += 1;
            }
            pos.store(frame, Ordering::Relaxed);
        },
        |_| {},
        None,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_prompts_are_many_distinct_sentences() {
        let p = parse_prompts(SHIPPED_PROMPTS);
        assert!(p.len() >= 250, "{} prompts", p.len());
        let distinct: std::collections::HashSet<_> = p.iter().collect();
        assert_eq!(distinct.len(), p.len());
        let alphabet = crate::ctc::Alphabet::default();
        for s in &p {
            assert!(alphabet.normalize(s).is_ok(), "{s:?} does not fit the default alphabet");
        }
    }

    #[test]
    fn takes_are_numbered_after_the_highest_existing_one() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("007.wav"), b"x").unwrap();
        std::fs::write(dir.path().join("notes.wav"), b"x").unwrap();
        let wav = save_take(dir.path(), &[0.0, 0.5, -0.5], "Hello there.").unwrap();
        assert_eq!(wav, dir.path().join("008.wav"));
        assert_eq!(std::fs::read_to_string(dir.path().join("008.txt")).unwrap(), "Hello there.\n");
        let back = crate::audio::read_mono_16k(&wav).unwrap();
        assert_eq!(back.len(), 3);
        assert!((back[1] - 0.5).abs() < 1e-3);
        assert_eq!(numbered(dir.path()), vec![7, 8]);
    }
}
