//! Connectionist temporal classification: the label alphabet, the loss and its gradient, decoders
//! (greedy and prefix beam search) and the word language-model hook.

pub mod alphabet;
pub mod decode;
pub mod hotwords;
pub mod lexicon;
pub mod lm;
pub mod lm_build;
pub mod loss;

pub use alphabet::Alphabet;
pub use decode::{
    BeamOptions, Hypothesis, decode_best, decodes_greedily, greedy, labeling_log_prob,
    prefix_beam_search,
};
pub use hotwords::{BiasedLm, HotWords};
pub use lexicon::Lexicon;
pub use lm::{ArpaLm, LanguageModel, LmState};
pub use lm_build::{LmBuildReport, LmBuilder};
pub use loss::{CtcLoss, CtcOutput, Reduction, ctc_loss};
