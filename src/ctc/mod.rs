//! Connectionist temporal classification: the label alphabet, the loss and its gradient, decoders
//! (greedy and prefix beam search) and the word language-model hook.

pub mod alphabet;
pub mod decode;
pub mod lm;
pub mod loss;

pub use alphabet::Alphabet;
pub use decode::{BeamOptions, Hypothesis, greedy, prefix_beam_search};
pub use lm::{ArpaLm, LanguageModel, LmState};
pub use loss::{CtcLoss, CtcOutput, Reduction, ctc_loss};
