//! Training: datasets and batches (`data`), augmentation (`augment`).

pub mod augment;
pub mod data;
