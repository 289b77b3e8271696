//! Background work for the GUI: every slow thing (loading a model, scanning a dataset, a file
//! dialog, transcription, playback) runs on its own thread and answers over a typed channel. The
//! UI thread only polls with `try_recv`, so it never blocks (design habit 14).

use eframe::egui;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, TryRecvError};

/// Wakes the UI after a worker sent something (`egui::Context::request_repaint`).
pub type Notify = Arc<dyn Fn() + Send + Sync>;

/// A notifier that repaints `ctx`.
pub fn repaint(ctx: &egui::Context) -> Notify {
    let ctx = ctx.clone();
    Arc::new(move || ctx.request_repaint())
}

/// One result computed on a background thread.
pub struct Task<T> {
    rx: Receiver<T>,
}

impl<T: Send + 'static> Task<T> {
    /// Runs `f` on a new thread; `notify` is called once its result is ready.
    pub fn spawn(name: &str, notify: Notify, f: impl FnOnce() -> T + Send + 'static) -> Self {
        let (tx, rx) = mpsc::channel();
        let spawned =
            std::thread::Builder::new().name(format!("hark-gui-{name}")).spawn(move || {
                let _ = tx.send(f());
                notify();
            });
        if let Err(e) = spawned {
            // Without a thread the task can never answer: report it through `poll` as a hang-up.
            eprintln!("hark: cannot start a background thread: {e}");
        }
        Task { rx }
    }

    /// Like [`Task::spawn`], but `f` may give no result (None): `poll` then reports the task as
    /// failed (`Some(Err(()))`), as if its worker had died.
    pub fn spawn_maybe(
        name: &str,
        notify: Notify,
        f: impl FnOnce() -> Option<T> + Send + 'static,
    ) -> Self {
        let (tx, rx) = mpsc::channel();
        let spawned =
            std::thread::Builder::new().name(format!("hark-gui-{name}")).spawn(move || {
                if let Some(v) = f() {
                    let _ = tx.send(v);
                }
                drop(tx);
                notify();
            });
        if let Err(e) = spawned {
            eprintln!("hark: cannot start a background thread: {e}");
        }
        Task { rx }
    }

    /// The result if it is ready. `Some(Err(()))` when the worker died without answering.
    pub fn poll(&self) -> Option<Result<T, ()>> {
        match self.rx.try_recv() {
            Ok(v) => Some(Ok(v)),
            Err(TryRecvError::Empty) => None,
            Err(TryRecvError::Disconnected) => Some(Err(())),
        }
    }
}

/// What a native file dialog should ask for.
#[derive(Clone, Debug, PartialEq)]
pub enum Pick {
    Folder,
    /// Audio files (several).
    AudioFiles,
    /// One text file (prompts).
    TextFile,
    /// One model config (`*.json`).
    ModelFile,
    /// Where to save a file with this suggested name.
    SaveAs(String),
}

/// Opens a native file dialog on a background thread (the xdg portal on Linux answers over
/// D-Bus and may take a while, or not exist at all). Resolves to the chosen paths (empty when
/// the user cancelled), or fails (`poll` gives `Some(Err(()))`) when no dialog could open.
pub fn pick(what: Pick, notify: Notify) -> Task<Vec<PathBuf>> {
    Task::spawn_maybe("dialog", notify, move || {
        let d = rfd::FileDialog::new();
        let opened = std::time::Instant::now();
        let chosen: Vec<PathBuf> = match what {
            Pick::Folder => d.pick_folder().into_iter().collect(),
            Pick::AudioFiles => d
                .add_filter("Audio", crate::train::data::AUDIO_EXTENSIONS)
                .add_filter("All files", &["*"])
                .pick_files()
                .unwrap_or_default(),
            Pick::TextFile => d.add_filter("Text", &["txt"]).pick_file().into_iter().collect(),
            Pick::ModelFile => {
                d.add_filter("Hark model", &["json"]).pick_file().into_iter().collect()
            }
            Pick::SaveAs(name) => d.set_file_name(name).save_file().into_iter().collect(),
        };
        // rfd answers "nothing chosen" both when the user cancels and when no dialog could open
        // (no desktop portal); nobody cancels a dialog within a quarter second of asking for it.
        (!chosen.is_empty() || opened.elapsed() >= DIALOG_MIN_HUMAN).then_some(chosen)
    })
}

/// Faster than this, an empty answer from a file dialog means it never opened.
const DIALOG_MIN_HUMAN: std::time::Duration = std::time::Duration::from_millis(250);

/// Formats seconds as `m:ss.s` (or `h:mm:ss` past an hour).
pub fn clock(seconds: f64) -> String {
    let s = seconds.max(0.0);
    if s >= 3600.0 {
        let t = s.round() as u64;
        format!("{}:{:02}:{:02}", t / 3600, t / 60 % 60, t % 60)
    } else {
        let m = (s / 60.0).floor();
        format!("{}:{:04.1}", m as u64, s - m * 60.0)
    }
}

/// A duration in words for an ETA: "2 h 05 min", "3 min 20 s", "12 s".
pub fn eta(seconds: f64) -> String {
    if !seconds.is_finite() || seconds < 0.0 {
        return "unknown".into();
    }
    let t = seconds.round() as u64;
    if t >= 3600 {
        format!("{} h {:02} min", t / 3600, t / 60 % 60)
    } else if t >= 60 {
        format!("{} min {:02} s", t / 60, t % 60)
    } else {
        format!("{t} s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_and_eta_read_naturally() {
        assert_eq!(clock(0.0), "0:00.0");
        assert_eq!(clock(65.3), "1:05.3");
        assert_eq!(clock(3725.0), "1:02:05");
        assert_eq!(eta(12.4), "12 s");
        assert_eq!(eta(200.0), "3 min 20 s");
        assert_eq!(eta(7500.0), "2 h 05 min");
        assert_eq!(eta(f64::NAN), "unknown");
    }

    #[test]
    fn task_delivers_its_result_and_notifies() {
        let (tx, rx) = mpsc::channel();
        let t = Task::spawn(
            "t",
            Arc::new(move || {
                let _ = tx.send(());
            }),
            || 6 * 7,
        );
        rx.recv().unwrap();
        assert_eq!(t.poll(), Some(Ok(42)));
    }
}
