//! The acoustic model (architecture, parameters, forward/backward) and its file format.

pub mod acoustic;
