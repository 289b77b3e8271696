//! Command-line interface: parse arguments (clap), then run one command. Errors are mapped to exit
//! codes here: 0 success, 2 usage or input error, 1 anything else.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub mod live_cmds;

/// Hark: a speech recognizer you can train yourself.
#[derive(Debug, Parser)]
#[command(name = "hark", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List the input devices (microphones) Hark can record from; the default is marked `*`.
    Devices,
}

pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { ExitCode::from(2) } else { ExitCode::SUCCESS };
        }
    };
    match cli.command {
        None => {
            eprintln!("hark: no command given; see `hark --help`");
            ExitCode::from(2)
        }
        Some(Command::Devices) => live_cmds::devices(),
    }
}
