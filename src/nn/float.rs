//! The scalar type the numeric code is generic over: `f32` for training and recognition, `f64` for
//! finite-difference gradient checks on tiny sizes.

use std::fmt::{Debug, Display};
use std::iter::Sum;

use ndarray::{LinalgScalar, ScalarOperand};
use num_traits::{Float as NumFloat, FromPrimitive};

pub trait Float:
    LinalgScalar
    + ScalarOperand
    + NumFloat
    + FromPrimitive
    + Sum
    + Debug
    + Display
    + Default
    + Send
    + Sync
    + 'static
{
    /// Converts from `f64` (constants, initial values).
    fn from_f64_lossy(v: f64) -> Self;
    /// Converts to `f64` (metrics, reports).
    fn to_f64_lossy(self) -> f64;
}

impl Float for f32 {
    fn from_f64_lossy(v: f64) -> Self {
        v as f32
    }
    fn to_f64_lossy(self) -> f64 {
        self as f64
    }
}

impl Float for f64 {
    fn from_f64_lossy(v: f64) -> Self {
        v
    }
    fn to_f64_lossy(self) -> f64 {
        self
    }
}
