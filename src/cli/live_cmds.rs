//! Live-audio commands: `hark devices`, `hark listen`.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::time::Duration;

use clap::Args;

use crate::audio::capture::{Capture, DeviceInfo, list_input_devices};
use crate::model::Model;
use crate::runtime::endpoint::EndpointOptions;
use crate::runtime::messages::{RecognizerCommand, RecognizerEvent};
use crate::runtime::recognizer::{
    AudioInput, Recognizer, RecognizerHandle, RecognizerOptions, feed_realtime,
};

/// `hark devices`: lists the input devices that can be recorded from, the default marked `*`.
/// With none usable it prints "no microphone found: …" on stderr and exits 2.
pub fn devices() -> ExitCode {
    let devices = match list_input_devices() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("hark: {e}");
            return ExitCode::from(2);
        }
    };
    let (usable, unusable): (Vec<&DeviceInfo>, Vec<&DeviceInfo>) =
        devices.iter().partition(|d| d.default_config.is_some());
    if usable.is_empty() {
        let why = unusable
            .iter()
            .find(|d| d.is_default)
            .or(unusable.first())
            .map(|d| format!("{} ({}): {}", d.name, d.id, d.unavailable.as_deref().unwrap_or("?")))
            .unwrap_or_else(|| "the audio host lists no input devices".into());
        eprintln!(
            "hark: no microphone found: {why} (is a microphone connected, or a sound server such as \
             PulseAudio running?)"
        );
        return ExitCode::from(2);
    }
    println!(
        "input devices (* = default; a name or id, or a unique part of one, selects a device):"
    );
    for d in usable {
        let Some(c) = d.default_config.as_ref() else { continue };
        println!(
            "{} {}  [{}]  {} Hz, {} ch, {}",
            if d.is_default { "*" } else { " " },
            d.name,
            d.id,
            c.sample_rate_hz,
            c.channels,
            c.sample_format
        );
    }
    ExitCode::SUCCESS
}

/// Arguments of `hark listen`.
#[derive(Debug, Args)]
pub struct ListenArgs {
    /// Input device: a name or id from `hark devices`, or a unique part of one (default: the
    /// system's default input).
    #[arg(long, value_name = "NAME")]
    pub device: Option<String>,
    /// Model directory (or NAME.json / NAME.safetensors); default: the shipped `models/default`.
    #[arg(long, value_name = "M")]
    pub model: Option<PathBuf>,
    /// Beam width of the final decoding (prefix beam search; partials are greedy). Default: the
    /// model's decoder.json when its LM is used (as `hark transcribe`), 16 with another LM or hot
    /// words, else 1.
    #[arg(long, value_name = "N")]
    pub beam: Option<usize>,
    #[command(flatten)]
    pub warps: crate::cli::transcribe_cmds::WarpsArg,
    /// Language model and hot words of the final decoding.
    #[command(flatten)]
    pub lm: crate::cli::transcribe_cmds::LmArgs,
    /// Also record everything heard to this 16 kHz mono WAV (written when listening stops).
    #[arg(long, value_name = "FILE.wav")]
    pub save: Option<PathBuf>,
    /// Silence that ends an utterance.
    #[arg(long, value_name = "N", default_value_t = 500)]
    pub trailing_silence_ms: u32,
    /// Testing: instead of the microphone, play this audio file (any format Hark reads) through
    /// the same recognizer at real-time pace, then stop.
    #[arg(long, value_name = "FILE", conflicts_with = "device")]
    pub input: Option<PathBuf>,
    /// Testing: pace of `--input` as a multiple of real time (0 = as fast as possible).
    #[arg(long, value_name = "X", default_value_t = 1.0, requires = "input")]
    pub input_speed: f32,
}

/// `hark listen`: live transcription until Ctrl-C (or the end of `--input`). On a terminal the
/// provisional text of the current utterance is redrawn in place (dim, ending in "…") and each
/// final line is printed as `[mm:ss.cc] text`; otherwise only the final lines are printed.
/// Exit codes: 0 done, 2 no microphone / bad model / bad option, 1 other failures.
pub fn listen(args: &ListenArgs) -> ExitCode {
    match run_listen(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("hark listen: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run_listen(args: &ListenArgs) -> anyhow::Result<ExitCode> {
    let model_path = crate::cli::transcribe_cmds::resolve_model_path(args.model.as_deref())?;
    let model = Arc::new(Model::load(&model_path)?);
    let mut setup =
        args.lm.setup(&model_path, &model.config.alphabet, args.beam.map(|b| b.max(1)))?;
    args.warps.apply(&mut setup)?;
    let mut opts = RecognizerOptions::for_decoder(&setup);
    opts.endpoint =
        EndpointOptions { trailing_silence_ms: args.trailing_silence_ms, ..opts.endpoint };
    let recognizer = Recognizer::new(model, setup.lm, opts)?;

    let mut feeder = None;
    let input = match &args.input {
        Some(path) => {
            let samples = crate::audio::read_mono_16k(path)?;
            let (tx, rx) = mpsc::channel();
            let speed = if args.input_speed > 0.0 { args.input_speed } else { f32::INFINITY };
            feeder = Some(std::thread::spawn(move || {
                feed_realtime(&samples, &tx, 10, speed);
            }));
            AudioInput::Events(rx)
        }
        None => match Capture::start(args.device.as_deref()) {
            Ok(c) => {
                eprintln!("hark: listening on {} (Ctrl-C stops)", c.device().name);
                AudioInput::Microphone(c)
            }
            Err(e) => {
                eprintln!("hark listen: {e}");
                return Ok(ExitCode::from(2));
            }
        },
    };

    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        ctrlc::set_handler(move || stop.store(true, Ordering::SeqCst))
            .map_err(|e| anyhow::anyhow!("cannot install the Ctrl-C handler: {e}"))?;
    }
    let handle = RecognizerHandle::spawn(recognizer, input, args.save.as_deref(), Box::new(|| {}))?;
    let tty = std::io::stdout().is_terminal();
    let mut out = std::io::stdout().lock();
    let mut stop_sent = false;
    let mut failed = false;
    loop {
        if stop.load(Ordering::SeqCst) && !stop_sent {
            handle.send(RecognizerCommand::Stop);
            stop_sent = true;
        }
        let ev = match handle.events().recv_timeout(Duration::from_millis(50)) {
            Ok(ev) => ev,
            Err(mpsc::RecvTimeoutError::Timeout) => continue,
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        };
        match ev {
            RecognizerEvent::Partial { text, start_s, .. } if tty => {
                // \r + erase line, dim, "…" marks the line as provisional.
                let _ = write!(out, "\r\x1b[2K\x1b[2m[{}] {text}…\x1b[0m", clock(start_s));
                let _ = out.flush();
            }
            RecognizerEvent::Final { text, start_s, .. } => {
                if tty {
                    let _ = write!(out, "\r\x1b[2K");
                }
                let _ = writeln!(out, "[{}] {text}", clock(start_s));
                let _ = out.flush();
            }
            RecognizerEvent::DeviceLost(why) => {
                eprintln!("\nhark: input lost ({why}); waiting for it to come back")
            }
            RecognizerEvent::Resumed => eprintln!("hark: input is back"),
            RecognizerEvent::Error(e) => {
                failed = true;
                eprintln!("\nhark listen: {e}");
            }
            RecognizerEvent::Stopped => break,
            _ => {}
        }
    }
    handle.join();
    if let Some(f) = feeder {
        let _ = f.join();
    }
    Ok(if failed { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

/// `mm:ss.cc` of a stream time.
fn clock(t_s: f32) -> String {
    let cs = (t_s.max(0.0) * 100.0).round() as u64;
    format!("{:02}:{:02}.{:02}", cs / 6000, cs / 100 % 60, cs % 100)
}
