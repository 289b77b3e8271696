//! Command-line interface: parse arguments (clap), then run one command. Errors are mapped to exit
//! codes here, one mapping for every command: 0 success, 2 a usage error or a problem with the
//! input or environment (a file, a setting, a device, a full disk), 1 Hark's own bug
//! ([`crate::Error::Internal`] or a panic), 130 a training stopped by Ctrl-C.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub mod audio_cmds;
pub mod features_cmd;
pub mod live_cmds;
pub mod lm_cmds;
pub mod model_cmds;
pub mod torch_cmds;
pub mod train_cmds;
pub mod transcribe_cmds;

/// Hark: a speech recognizer you can train yourself.
#[derive(Debug, Parser)]
#[command(name = "hark", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show format, sample format, rate, channels and duration of audio files.
    Info(audio_cmds::InfoArgs),
    /// Convert an audio file to 16 kHz mono 16-bit WAV.
    Convert(audio_cmds::ConvertArgs),
    /// Compute MFCC features (13 cepstra + Δ + ΔΔ by default, python_speech_features settings).
    Features(features_cmd::FeaturesArgs),
    /// Train (or fine-tune) a model on a labeled folder.
    Train(train_cmds::TrainArgs),
    /// List the input devices (microphones) Hark can record from; the default is marked `*`.
    Devices,
    /// Transcribe audio files (txt, json, srt or vtt; one file to stdout, several with headers
    /// or into --out-dir).
    Transcribe(transcribe_cmds::TranscribeArgs),
    /// Measure WER, CER and speed of a model on a labeled folder.
    Eval(transcribe_cmds::EvalArgs),
    /// Average the weights of several models of one training run (e.g. its last epochs, kept
    /// with `hark train --keep-epochs`) into one model, which usually recognizes better than any
    /// of them.
    Average(model_cmds::AverageArgs),
    /// Word language models: build one from text, tune its weight on labeled data.
    #[command(subcommand)]
    Lm(lm_cmds::LmCommand),
    /// Transcribe the microphone live: provisional text while you speak, one line per utterance.
    Listen(live_cmds::ListenArgs),
    /// Open the desktop app (the same as `hark` with no command).
    Gui(GuiArgs),
    /// Helpers for the PyTorch trainer in scripts/torch (feature cache, log-probs, gradients).
    #[command(subcommand, hide = true)]
    Torch(torch_cmds::TorchCommand),
}

/// What the desktop app does right after it opens.
#[derive(Debug, clap::Args)]
pub struct GuiArgs {
    /// Audio files to transcribe in the Files tab.
    pub files: Vec<std::path::PathBuf>,
    /// The tab to show: live, files, train, record or models.
    #[arg(long, value_parser = ["live", "files", "train", "record", "models"])]
    pub tab: Option<String>,
    /// Model directory (or NAME.json) to use instead of the saved choice or the default.
    #[arg(long)]
    pub model: Option<std::path::PathBuf>,
    /// Play this audio file into the Live tab at real-time pace, as if spoken.
    #[arg(long)]
    pub listen: Option<std::path::PathBuf>,
    /// Start training on this labeled folder (Train tab settings, overridden by the flags below).
    #[arg(long)]
    pub train: Option<std::path::PathBuf>,
    /// Epochs for --train.
    #[arg(long)]
    pub epochs: Option<u64>,
    /// LSTM hidden units for --train (from scratch).
    #[arg(long)]
    pub hidden: Option<usize>,
    /// LSTM layers for --train (from scratch).
    #[arg(long)]
    pub layers: Option<usize>,
    /// Folder for the Record tab.
    #[arg(long)]
    pub record_to: Option<std::path::PathBuf>,
}

impl GuiArgs {
    fn launch(self) -> crate::gui::Launch {
        use crate::gui::Tab;
        let tab = self.tab.as_deref().map(|t| match t {
            "files" => Tab::Files,
            "train" => Tab::Train,
            "record" => Tab::Record,
            "models" => Tab::Models,
            _ => Tab::Live,
        });
        crate::gui::Launch {
            tab,
            model: self.model,
            files: self.files,
            listen: self.listen,
            train: self.train,
            epochs: self.epochs,
            hidden: self.hidden,
            layers: self.layers,
            record_to: self.record_to,
        }
    }
}

/// Runs the command line. A panic anywhere in a command is Hark's bug: after the standard
/// panic message, a line says so and asks for a report, and the process exits with 1 (not 101),
/// the code every command uses for its own bugs ([`crate::Error::exit_code`]).
pub fn main() -> ExitCode {
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        default_hook(info);
        eprintln!(
            "hark: internal error (the panic above). This is a bug in Hark, not a problem with \
             your files; please report it with the command you ran and this message"
        );
    }));
    std::panic::catch_unwind(run).unwrap_or(ExitCode::from(1))
}

fn run() -> ExitCode {
    // For tests/hostile.rs: the path a bug takes (a panic) must end in exit code 1 and the
    // report request.
    if std::env::var_os("HARK_TEST_PANIC").is_some() {
        panic!("HARK_TEST_PANIC is set");
    }
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { ExitCode::from(2) } else { ExitCode::SUCCESS };
        }
    };
    match cli.command {
        None => crate::gui::run(crate::gui::Launch::default()),
        Some(Command::Gui(args)) => crate::gui::run(args.launch()),
        Some(Command::Devices) => live_cmds::devices(),
        Some(Command::Train(args)) => train_cmds::train(&args),
        Some(Command::Transcribe(args)) => transcribe_cmds::transcribe(&args),
        Some(Command::Eval(args)) => transcribe_cmds::eval(&args),
        Some(Command::Listen(args)) => live_cmds::listen(&args),
        Some(Command::Lm(cmd)) => lm_cmds::lm(&cmd),
        Some(Command::Average(args)) => model_cmds::average_cmd(&args),
        Some(Command::Torch(cmd)) => torch_cmds::torch(&cmd),
        Some(Command::Features(args)) => match features_cmd::features(&args) {
            Ok((frames, dims)) => {
                eprintln!("{}: {frames} frames × {dims} values", args.out.display());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("hark features: {e}");
                exit_code_for(&e)
            }
        },
        Some(Command::Info(args)) => {
            if audio_cmds::info(&args) == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(2)
            }
        }
        Some(Command::Convert(args)) => match audio_cmds::convert(&args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("hark convert: {e}");
                exit_code_for(&e)
            }
        },
    }
}

/// The exit code of a command that failed with `e` ([`crate::Error::exit_code`]): 2 for
/// problems with the user's input or environment, 1 for Hark's own bugs.
pub(crate) fn exit_code_for(e: &crate::Error) -> ExitCode {
    ExitCode::from(e.exit_code())
}
