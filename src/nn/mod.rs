//! Neural-network layers with hand-written forward and backward passes, the optimizer, and the
//! scalar trait they are generic over.

pub mod act;
pub mod bilstm;
pub mod dropout;
pub mod float;
pub mod linear;
pub mod lstm;
pub mod matmul;
pub mod optim;
pub mod params;
pub mod stack;

pub use float::Float;
