//! The library's error type. Every variant names the thing it is about (a file, a field, a device)
//! and what was expected, so a user can act on the message. `anyhow` is used only in `cli/` and `gui/`.

use std::path::{Path, PathBuf};

use thiserror::Error;

#[derive(Debug, Error)]
pub enum Error {
    /// An operating-system error while reading or writing a file.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Audio that cannot be read: corrupt, truncated, empty, absurd header, unsupported format.
    #[error("{}: {reason}", path.display())]
    Audio { path: PathBuf, reason: String },
    /// A model file (config JSON or safetensors weights) that is missing, corrupt or inconsistent.
    #[error("{}: bad model file: {reason}", path.display())]
    Model { path: PathBuf, reason: String },
    /// A labeled dataset (folder, manifest, transcript) that cannot be used.
    #[error("{}: {reason}", path.display())]
    Data { path: PathBuf, reason: String },
    /// Options or settings that are out of range or inconsistent (names the field).
    #[error("invalid option: {0}")]
    Options(String),
    /// An audio device that is missing, busy or went away.
    #[error("audio device: {0}")]
    Device(String),
    /// Training could not go on (the message says why: it diverged, a resume does not match
    /// its run, ...).
    #[error("training: {0}")]
    Training(String),
    /// Hark's own bug: an inconsistency inside the library that no input should be able to
    /// cause (mismatched shapes between its own parts, a value that fails to serialize).
    #[error(
        "internal error: {0}. This is a bug in Hark, not a problem with your files; please \
         report it with the command you ran and this message"
    )]
    Internal(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// True when the user's input or environment (a file, a folder, a setting, a device, a
    /// full disk) is at fault rather than Hark; false only for [`Error::Internal`].
    pub fn is_input_error(&self) -> bool {
        !matches!(self, Error::Internal(_))
    }

    /// The process exit code for this error, the one mapping every command uses: 2 for
    /// problems with the input or environment, 1 for Hark's own bugs.
    pub fn exit_code(&self) -> u8 {
        if self.is_input_error() { 2 } else { 1 }
    }

    pub fn internal(reason: impl Into<String>) -> Self {
        Error::Internal(reason.into())
    }

    pub fn io(path: impl AsRef<Path>, source: std::io::Error) -> Self {
        Error::Io { path: path.as_ref().to_path_buf(), source }
    }
    pub fn audio(path: impl AsRef<Path>, reason: impl Into<String>) -> Self {
        Error::Audio { path: path.as_ref().to_path_buf(), reason: reason.into() }
    }
    pub fn model(path: impl AsRef<Path>, reason: impl Into<String>) -> Self {
        Error::Model { path: path.as_ref().to_path_buf(), reason: reason.into() }
    }
    pub fn data(path: impl AsRef<Path>, reason: impl Into<String>) -> Self {
        Error::Data { path: path.as_ref().to_path_buf(), reason: reason.into() }
    }
}
