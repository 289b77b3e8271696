//! Neural-network layers with hand-written forward and backward passes.

pub mod float;

pub use float::Float;
pub mod act;
pub mod bilstm;
pub mod dropout;
pub mod linear;
pub mod lstm;
pub mod matmul;
pub mod params;
pub mod stack;
