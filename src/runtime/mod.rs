//! Live recognition runtime: endpointing today; the streaming recognizer worker joins it when
//! the model lands.

pub mod endpoint;
