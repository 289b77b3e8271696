//! Runtime: endpointing, file transcription and export formats, and the live streaming
//! recognizer with the typed messages it exchanges with the CLI and GUI.

pub mod decoder;
pub mod endpoint;
pub mod evaluate;
pub mod export;
pub mod messages;
pub mod recognizer;
pub mod transcribe;
