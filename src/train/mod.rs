//! Training: datasets and batches (`data`), augmentation (`augment`), error rates (`metrics`).

pub mod augment;
pub mod data;
pub mod metrics;
pub mod trainer;
