//! Live recognition runtime: endpointing, the streaming recognizer worker and the typed messages
//! it exchanges with the CLI and GUI.

pub mod endpoint;
pub mod messages;
pub mod recognizer;
