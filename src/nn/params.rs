//! Named parameter tensors: the one list (and order) that init, the optimizer, clipping,
//! save/load and gradient checks walk. Models expose `tensors()` / `tensors_mut()` in the same
//! order; this file holds the helpers that work on such lists.

use std::collections::HashMap;
use std::path::Path;

use crate::{Error, Result};

/// A tensor as stored in a model file: PyTorch-style name, shape, row-major values.
pub type NamedTensor<F> = (String, Vec<usize>, Vec<F>);

/// Takes every expected (name, shape) out of `given`, in the expected order, checking shapes and
/// element counts; unknown or missing names are errors naming `source` (the model file).
pub fn take_expected<F>(
    expected: &[(String, Vec<usize>)],
    given: Vec<NamedTensor<F>>,
    source: &Path,
) -> Result<Vec<Vec<F>>> {
    let mut by_name: HashMap<String, (Vec<usize>, Vec<F>)> = HashMap::new();
    for (name, shape, values) in given {
        if by_name.contains_key(&name) {
            return Err(Error::model(source, format!("tensor `{name}` appears twice")));
        }
        by_name.insert(name, (shape, values));
    }
    let mut out = Vec::with_capacity(expected.len());
    for (name, shape) in expected {
        let (got_shape, values) = by_name.remove(name).ok_or_else(|| {
            Error::model(source, format!("tensor `{name}` (shape {shape:?}) is missing"))
        })?;
        if &got_shape != shape {
            return Err(Error::model(
                source,
                format!("tensor `{name}` has shape {got_shape:?}, expected {shape:?}"),
            ));
        }
        let n: usize = shape.iter().product();
        if values.len() != n {
            return Err(Error::model(
                source,
                format!(
                    "tensor `{name}` has {} values, its shape {shape:?} needs {n}",
                    values.len()
                ),
            ));
        }
        out.push(values);
    }
    if let Some(extra) = by_name.keys().min() {
        return Err(Error::model(
            source,
            format!("unexpected tensor `{extra}` (the architecture has no such parameter)"),
        ));
    }
    Ok(out)
}
