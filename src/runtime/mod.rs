//! Runtime: endpointing, file transcription and export formats; the streaming recognizer worker
//! joins them.

pub mod endpoint;
pub mod export;
pub mod transcribe;
