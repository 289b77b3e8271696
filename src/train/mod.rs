//! Training: datasets and batches (`data`), augmentation (`augment`), error rates (`metrics`), the
//! defaults of a run (`recipe`), what a run is and says (`job`), its folder (`run_dir`), and
//! the trainer that runs it (`trainer`).

pub mod augment;
pub mod data;
pub mod job;
pub mod metrics;
pub mod recipe;
pub mod run_dir;
pub mod trainer;
