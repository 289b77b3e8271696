//! Neural-network layers with hand-written forward and backward passes.

pub mod float;
pub mod optim;

pub use float::Float;
