//! The acoustic model and its files.

pub mod file;
