//! Connectionist temporal classification: the label alphabet, the loss and its gradient, decoders.

pub mod alphabet;

pub use alphabet::Alphabet;
