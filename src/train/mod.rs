//! Training: metrics (WER/CER).

pub mod metrics;
