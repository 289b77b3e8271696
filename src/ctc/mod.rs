//! Connectionist temporal classification: the label alphabet, the loss and its gradient, decoders.

pub mod alphabet;
pub mod loss;

pub use alphabet::Alphabet;
pub use loss::{CtcLoss, CtcOutput, Reduction, ctc_loss};
