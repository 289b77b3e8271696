//! Model files: weights in safetensors, configuration in versioned JSON, training checkpoints.
//!
//! A model is a pair of files `NAME.json` (config, with a top-level `"format_version"`) and
//! `NAME.safetensors` (weights), or a directory holding `model.json` and `model.safetensors`
//! (see [`ModelPaths::resolve`]). Tensor names and shapes are the caller's (for the acoustic model,
//! PyTorch `nn.LSTM`/`nn.Linear` state-dict names), so a Hark model loads in PyTorch and back.
//!
//! Loading never trusts the file: every length, offset and shape in the header is checked against
//! the file's real size and the caller's expectations before any tensor is allocated, and every
//! failure is an [`Error::Model`] naming the tensor and what was expected. No byte sequence panics.
//!
//! safetensors layout (little-endian): `u64 n` | `n` bytes of JSON header | data. The header maps
//! each tensor name to `{"dtype", "shape", "data_offsets": [begin, end]}` (offsets relative to the
//! start of the data), plus an optional `"__metadata__"` map of strings. The tensors must tile the
//! data exactly: no overlaps, no gaps, nothing after the last one.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use safetensors::tensor::{Dtype, View};
use serde::de::{DeserializeOwned, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use crate::nn::optim::{Adam, AdamMeta};
use crate::util::write_atomic;
use crate::{Error, Result};

/// Version of the model config format written by this Hark (`"format_version"` in `NAME.json`).
pub const MODEL_FORMAT_VERSION: u32 = 1;
/// Version of the checkpoint format (`hark.checkpoint_format_version` in the safetensors metadata).
pub const CHECKPOINT_FORMAT_VERSION: u32 = 1;
/// The largest safetensors JSON header accepted (the reference implementation's cap).
pub const MAX_HEADER_BYTES: u64 = 100_000_000;
/// The largest weights or checkpoint file read (far above any model Hark trains).
pub const MAX_WEIGHTS_FILE_BYTES: u64 = 4 << 30;
/// The largest config file read.
pub const MAX_CONFIG_BYTES: u64 = 10 << 20;

/// Metadata key naming the checkpoint format version.
const CKPT_VERSION_KEY: &str = "hark.checkpoint_format_version";
const CKPT_OPTIMIZER_KEY: &str = "hark.optimizer";
const CKPT_TRAINER_KEY: &str = "hark.trainer";
/// Metadata key with the model format version, written into model weight files.
const WEIGHTS_VERSION_KEY: &str = "hark.format_version";
/// Prefixes of the Adam moment tensors inside a checkpoint.
const MOMENT_M: &str = "adam.m.";
const MOMENT_V: &str = "adam.v.";

/// An owned, named, contiguous (row-major) f32 tensor.
#[derive(Debug, Clone, PartialEq)]
pub struct NamedTensor {
    pub name: String,
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

impl NamedTensor {
    /// Checks that `data` holds exactly `product(shape)` values.
    pub fn new(name: impl Into<String>, shape: Vec<usize>, data: Vec<f32>) -> Result<Self> {
        let name = name.into();
        let n = element_count(&shape);
        if n != Some(data.len()) {
            return Err(Error::Options(format!(
                "tensor `{name}`: shape {shape:?} needs {} values, got {}",
                n.map_or("an overflowing number of".to_string(), |n| n.to_string()),
                data.len()
            )));
        }
        Ok(NamedTensor { name, shape, data })
    }
    pub fn view(&self) -> TensorRef<'_> {
        TensorRef { name: &self.name, shape: &self.shape, data: &self.data }
    }
}

/// A borrowed tensor, for saving parameters without copying them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TensorRef<'a> {
    pub name: &'a str,
    pub shape: &'a [usize],
    pub data: &'a [f32],
}

/// Anything that can be saved as a named f32 tensor.
pub trait AsTensorRef {
    fn tensor_ref(&self) -> TensorRef<'_>;
}
impl AsTensorRef for NamedTensor {
    fn tensor_ref(&self) -> TensorRef<'_> {
        self.view()
    }
}
impl AsTensorRef for TensorRef<'_> {
    fn tensor_ref(&self) -> TensorRef<'_> {
        *self
    }
}
impl<T: AsTensorRef + ?Sized> AsTensorRef for &T {
    fn tensor_ref(&self) -> TensorRef<'_> {
        (**self).tensor_ref()
    }
}

/// The element type tensors are stored as. Values are always f32 in memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StorageDtype {
    F32,
    /// IEEE half precision (converted with round-to-nearest-even; loads back to f32). Halves the
    /// file; values beyond ±65504 become infinite and are refused.
    F16,
}

fn element_count(shape: &[usize]) -> Option<usize> {
    shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d))
}

// ---------------------------------------------------------------------------------------------
// Saving
// ---------------------------------------------------------------------------------------------

/// One tensor ready for `safetensors::serialize`: owned name, encoded bytes.
struct Encoded<'a> {
    dtype: Dtype,
    shape: &'a [usize],
    bytes: Vec<u8>,
}

impl View for &Encoded<'_> {
    fn dtype(&self) -> Dtype {
        self.dtype
    }
    fn shape(&self) -> &[usize] {
        self.shape
    }
    fn data(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(&self.bytes)
    }
    fn data_len(&self) -> usize {
        self.bytes.len()
    }
}

fn encode<'a>(
    path: &Path,
    name: &str,
    shape: &'a [usize],
    data: &[f32],
    dtype: StorageDtype,
) -> Result<Encoded<'a>> {
    if element_count(shape) != Some(data.len()) {
        return Err(Error::model(
            path,
            format!("tensor `{name}`: shape {shape:?} does not match its {} values", data.len()),
        ));
    }
    if let Some(i) = data.iter().position(|x| !x.is_finite()) {
        return Err(Error::model(
            path,
            format!(
                "refusing to save tensor `{name}`: element {i} is {} (training diverged?)",
                data[i]
            ),
        ));
    }
    let bytes = match dtype {
        StorageDtype::F32 => data.iter().flat_map(|x| x.to_le_bytes()).collect(),
        StorageDtype::F16 => {
            let mut out = Vec::with_capacity(data.len() * 2);
            for (i, &x) in data.iter().enumerate() {
                let h = half::f16::from_f32(x);
                if !h.is_finite() {
                    return Err(Error::model(
                        path,
                        format!(
                            "tensor `{name}`: element {i} = {x} does not fit in F16 (max 65504)"
                        ),
                    ));
                }
                out.extend_from_slice(&h.to_bits().to_le_bytes());
            }
            out
        }
    };
    let dtype = match dtype {
        StorageDtype::F32 => Dtype::F32,
        StorageDtype::F16 => Dtype::F16,
    };
    Ok(Encoded { dtype, shape, bytes })
}

/// Serializes named tensors (borrowed names) to safetensors bytes.
fn serialize_tensors(
    path: &Path,
    tensors: &[(Cow<'_, str>, TensorRef<'_>)],
    metadata: &BTreeMap<String, String>,
    dtype: StorageDtype,
) -> Result<Vec<u8>> {
    let mut seen = BTreeSet::new();
    let mut encoded = Vec::with_capacity(tensors.len());
    for (name, t) in tensors {
        if name.is_empty() || name == "__metadata__" {
            return Err(Error::model(path, format!("invalid tensor name `{name}`")));
        }
        if !seen.insert(name.as_ref()) {
            return Err(Error::model(path, format!("tensor name `{name}` appears twice")));
        }
        encoded.push((name.to_string(), encode(path, name, t.shape, t.data, dtype)?));
    }
    let info: Option<HashMap<String, String>> =
        if metadata.is_empty() { None } else { Some(metadata.clone().into_iter().collect()) };
    safetensors::serialize(encoded.iter().map(|(n, e)| (n.as_str(), e)), info)
        .map_err(|e| Error::model(path, format!("cannot serialize weights: {e}")))
}

/// Writes `tensors` as F32 safetensors at `path` (atomically), names exactly as given, with
/// `metadata` in the header's `__metadata__`. Refuses non-finite values and duplicate names.
pub fn save_weights<T: AsTensorRef>(
    path: &Path,
    tensors: &[T],
    metadata: &BTreeMap<String, String>,
) -> Result<()> {
    save_weights_as(path, tensors, metadata, StorageDtype::F32)
}

/// Like [`save_weights`] but stores F16 (half the size; [`load_weights`] converts back to f32).
pub fn save_weights_f16<T: AsTensorRef>(
    path: &Path,
    tensors: &[T],
    metadata: &BTreeMap<String, String>,
) -> Result<()> {
    save_weights_as(path, tensors, metadata, StorageDtype::F16)
}

pub fn save_weights_as<T: AsTensorRef>(
    path: &Path,
    tensors: &[T],
    metadata: &BTreeMap<String, String>,
    dtype: StorageDtype,
) -> Result<()> {
    let list: Vec<(Cow<'_, str>, TensorRef<'_>)> = tensors
        .iter()
        .map(|t| {
            let r = t.tensor_ref();
            (Cow::Borrowed(r.name), r)
        })
        .collect();
    let bytes = serialize_tensors(path, &list, metadata, dtype)?;
    write_atomic(path, &bytes)
}

// ---------------------------------------------------------------------------------------------
// Loading
// ---------------------------------------------------------------------------------------------

/// The JSON header as a list of entries in file order, so duplicate names can be reported (a plain
/// map would silently keep the last one).
struct EntryList(Vec<(String, serde_json::Value)>);

impl<'de> Deserialize<'de> for EntryList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = EntryList;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object mapping tensor names to tensor descriptions")
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                mut map: A,
            ) -> std::result::Result<EntryList, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, serde_json::Value>()? {
                    out.push((k, v));
                }
                Ok(EntryList(out))
            }
        }
        d.deserialize_map(V)
    }
}

#[derive(Deserialize)]
struct RawInfo {
    dtype: String,
    shape: Vec<u64>,
    data_offsets: (u64, u64),
}

/// One tensor described by the header, checked for internal consistency.
#[derive(Debug, Clone)]
struct Entry {
    name: String,
    dtype: StorageDtype,
    shape: Vec<usize>,
    begin: usize,
    end: usize,
}

/// A parsed and structurally validated header.
struct Header {
    entries: Vec<Entry>,
    metadata: BTreeMap<String, String>,
    /// Offset of the data section in the file.
    data_start: usize,
}

fn bad(path: &Path, reason: impl Into<String>) -> Error {
    Error::model(path, reason)
}

/// Parses and checks the header of a safetensors file given its first bytes (`bytes` may be the
/// whole file or just the length + header) and the total file size. Checks, in order: the length
/// field against the file size and the cap, UTF-8, JSON, duplicate names, `__metadata__` strings,
/// per tensor the dtype (F32/F16 only), the shape × dtype size against the offsets, offsets inside
/// the data, and that the tensors tile the data (no overlap, no gap, no trailing bytes).
fn parse_header(path: &Path, bytes: &[u8], file_len: u64) -> Result<Header> {
    if file_len < 8 || bytes.len() < 8 {
        return Err(bad(
            path,
            format!(
                "file is {file_len} bytes: too short for a safetensors file (8-byte header length + header)"
            ),
        ));
    }
    let mut len8 = [0u8; 8];
    len8.copy_from_slice(&bytes[..8]);
    let n = u64::from_le_bytes(len8);
    if n > MAX_HEADER_BYTES {
        return Err(bad(
            path,
            format!(
                "header length field says {n} bytes, above the {MAX_HEADER_BYTES}-byte limit (not a safetensors file?)"
            ),
        ));
    }
    if n > file_len - 8 {
        return Err(bad(
            path,
            format!(
                "header length field says {n} bytes but only {} bytes follow it (truncated file?)",
                file_len - 8
            ),
        ));
    }
    if n < 2 {
        return Err(bad(path, format!("header length {n} is too small for a JSON object")));
    }
    // n <= MAX_HEADER_BYTES, so it fits in usize on every supported platform.
    let n = n as usize;
    let Some(header_bytes) = bytes.get(8..8 + n) else {
        return Err(bad(path, "header is truncated"));
    };
    let text = std::str::from_utf8(header_bytes)
        .map_err(|e| bad(path, format!("header is not valid UTF-8 ({e})")))?;
    let EntryList(raw) = serde_json::from_str(text)
        .map_err(|e| bad(path, format!("header is not a valid JSON object: {e}")))?;

    let data_len = file_len - 8 - n as u64;
    let mut metadata = BTreeMap::new();
    let mut entries = Vec::with_capacity(raw.len());
    let mut seen = BTreeSet::new();
    let mut seen_meta = false;
    for (name, value) in raw {
        let shown = shown(&name);
        if name == "__metadata__" {
            if seen_meta {
                return Err(bad(path, "`__metadata__` appears twice in the header"));
            }
            seen_meta = true;
            metadata = serde_json::from_value::<BTreeMap<String, String>>(value).map_err(|e| {
                bad(path, format!("`__metadata__` must map strings to strings: {e}"))
            })?;
            continue;
        }
        if !seen.insert(name.clone()) {
            return Err(bad(path, format!("tensor `{shown}` appears twice in the header")));
        }
        let info: RawInfo = serde_json::from_value(value).map_err(|e| {
            bad(
                path,
                format!(
                    "tensor `{shown}`: bad description ({e}); expected dtype, shape, data_offsets"
                ),
            )
        })?;
        let dtype = match info.dtype.as_str() {
            "F32" => StorageDtype::F32,
            "F16" => StorageDtype::F16,
            other => {
                return Err(bad(
                    path,
                    format!("tensor `{shown}` has dtype {other}; Hark reads only F32 and F16"),
                ));
            }
        };
        let elem = match dtype {
            StorageDtype::F32 => 4u64,
            StorageDtype::F16 => 2u64,
        };
        let (begin, end) = info.data_offsets;
        let need = info.shape.iter().try_fold(elem, |a, &d| a.checked_mul(d));
        let Some(need) = need else {
            return Err(bad(
                path,
                format!("tensor `{shown}`: shape {} overflows", shape_str(&info.shape)),
            ));
        };
        if end < begin || end - begin != need {
            return Err(bad(
                path,
                format!(
                    "tensor `{shown}`: shape {} of {} needs {need} bytes but data_offsets [{begin}, {end}] span {}",
                    shape_str(&info.shape),
                    info.dtype,
                    if end < begin {
                        "a negative range".to_string()
                    } else {
                        format!("{} bytes", end - begin)
                    }
                ),
            ));
        }
        if end > data_len {
            return Err(bad(
                path,
                format!(
                    "tensor `{shown}`: data_offsets [{begin}, {end}] go past the end of the data ({data_len} bytes; truncated file?)"
                ),
            ));
        }
        // end <= data_len < file_len <= usize range (the file was read or its size capped).
        let shape: Vec<usize> = info.shape.iter().map(|&d| d as usize).collect();
        entries.push(Entry { name, dtype, shape, begin: begin as usize, end: end as usize });
    }

    // The tensors must tile [0, data_len) exactly.
    let mut order: Vec<&Entry> = entries.iter().collect();
    order.sort_by_key(|e| (e.begin, e.end));
    let mut pos = 0usize;
    let mut prev: Option<&Entry> = None;
    for e in order {
        if e.begin < pos {
            let p = prev.map_or("?".to_string(), |p| shown(&p.name));
            let this = shown(&e.name);
            return Err(bad(
                path,
                format!(
                    "tensors `{p}` and `{this}` overlap (`{this}` starts at byte {} before `{p}` ends at {pos})",
                    e.begin
                ),
            ));
        }
        if e.begin > pos {
            return Err(bad(
                path,
                format!(
                    "{} unused bytes before tensor `{}` (at data byte {pos})",
                    e.begin - pos,
                    shown(&e.name)
                ),
            ));
        }
        pos = e.end;
        prev = Some(e);
    }
    if pos as u64 != data_len {
        return Err(bad(
            path,
            format!(
                "the tensors cover {pos} bytes but the file has {data_len} bytes of data ({} extra)",
                data_len - pos as u64
            ),
        ));
    }
    Ok(Header { entries, metadata, data_start: 8 + n })
}

/// Checks the header's tensors against the expected names and shapes; returns the entries in the
/// expected order.
fn match_expected<'h>(
    path: &Path,
    header: &'h Header,
    expected: &[(String, Vec<usize>)],
) -> Result<Vec<&'h Entry>> {
    let by_name: HashMap<&str, &Entry> =
        header.entries.iter().map(|e| (e.name.as_str(), e)).collect();
    let mut want = BTreeSet::new();
    for (name, _) in expected {
        if !want.insert(name.as_str()) {
            return Err(Error::Options(format!("expected tensor list names `{name}` twice")));
        }
    }
    let missing: Vec<&str> =
        expected.iter().map(|(n, _)| n.as_str()).filter(|n| !by_name.contains_key(n)).collect();
    if !missing.is_empty() {
        return Err(bad(
            path,
            format!(
                "missing tensor(s) {} ({} of {} expected found)",
                quote_list(&missing),
                expected.len() - missing.len(),
                expected.len()
            ),
        ));
    }
    let mut extra: Vec<&str> =
        header.entries.iter().map(|e| e.name.as_str()).filter(|n| !want.contains(n)).collect();
    if !extra.is_empty() {
        extra.sort_unstable();
        return Err(bad(
            path,
            format!("unexpected tensor(s) {} (not part of this model)", quote_list(&extra)),
        ));
    }
    let mut out = Vec::with_capacity(expected.len());
    for (name, shape) in expected {
        let e = by_name[name.as_str()];
        if &e.shape != shape {
            return Err(bad(
                path,
                format!(
                    "tensor `{name}`: expected shape {shape:?}, file has {}",
                    shape_str(&e.shape)
                ),
            ));
        }
        out.push(e);
    }
    Ok(out)
}

/// A name from an untrusted file, made safe for an error message: control characters escaped,
/// at most 80 characters.
fn shown(name: &str) -> String {
    let esc: String = name.escape_debug().collect();
    if esc.chars().count() > 80 {
        format!("{}…", esc.chars().take(80).collect::<String>())
    } else {
        esc
    }
}

/// A shape from an untrusted file for an error message: at most 8 dimensions shown.
fn shape_str<D: fmt::Display>(shape: &[D]) -> String {
    let mut parts: Vec<String> = shape.iter().take(8).map(|d| d.to_string()).collect();
    if shape.len() > 8 {
        parts.push(format!("… ({} dims)", shape.len()));
    }
    format!("[{}]", parts.join(", "))
}

fn quote_list(names: &[&str]) -> String {
    const SHOW: usize = 8;
    let mut s: Vec<String> = names.iter().take(SHOW).map(|n| format!("`{}`", shown(n))).collect();
    if names.len() > SHOW {
        s.push(format!("and {} more", names.len() - SHOW));
    }
    s.join(", ")
}

/// Decodes one checked entry from the whole file's bytes, rejecting NaN/Inf.
fn decode(path: &Path, buf: &[u8], data_start: usize, e: &Entry) -> Result<NamedTensor> {
    let Some(raw) = buf.get(data_start + e.begin..data_start + e.end) else {
        return Err(bad(path, format!("tensor `{}`: data outside the file", e.name)));
    };
    let data: Vec<f32> = match e.dtype {
        StorageDtype::F32 => {
            raw.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
        }
        StorageDtype::F16 => raw
            .chunks_exact(2)
            .map(|c| half::f16::from_bits(u16::from_le_bytes([c[0], c[1]])).to_f32())
            .collect(),
    };
    let bad_count = data.iter().filter(|x| !x.is_finite()).count();
    if let Some(i) = data.iter().position(|x| !x.is_finite()) {
        return Err(bad(
            path,
            format!(
                "tensor `{}` contains {bad_count} non-finite value(s); first: element {i} (index {:?}) = {}",
                e.name,
                unravel(i, &e.shape),
                data[i]
            ),
        ));
    }
    Ok(NamedTensor { name: e.name.clone(), shape: e.shape.clone(), data })
}

fn unravel(mut i: usize, shape: &[usize]) -> Vec<usize> {
    let mut idx = vec![0; shape.len()];
    for (k, &d) in shape.iter().enumerate().rev() {
        if d > 0 {
            idx[k] = i % d;
            i /= d;
        }
    }
    idx
}

/// Reads a weights file in two stages: the 8-byte length (checked against the file size and the
/// cap), then the header (parsed and fully validated against the file size), and only then the
/// data section, whose size the validated header has shown to be exactly what the tensors cover.
/// Returns the data section and the header (with `data_start = 0`, relative to that section).
fn read_checked(path: &Path) -> Result<(Vec<u8>, Header)> {
    let mut f = File::open(path).map_err(|e| Error::io(path, e))?;
    let file_len = f.metadata().map_err(|e| Error::io(path, e))?.len();
    if file_len > MAX_WEIGHTS_FILE_BYTES {
        return Err(bad(
            path,
            format!("file is {file_len} bytes, above the {MAX_WEIGHTS_FILE_BYTES}-byte limit"),
        ));
    }
    let mut head = [0u8; 8];
    let got = read_up_to(&mut f, &mut head).map_err(|e| Error::io(path, e))?;
    let n = u64::from_le_bytes(head);
    if got < 8 || n > MAX_HEADER_BYTES || n > file_len - 8 {
        // parse_header reports exactly what is wrong with the length field.
        parse_header(path, &head[..got], file_len)?;
        return Err(bad(path, "invalid header length"));
    }
    let mut header_bytes = vec![0u8; 8 + n as usize];
    header_bytes[..8].copy_from_slice(&head);
    f.read_exact(&mut header_bytes[8..])
        .map_err(|e| bad(path, format!("cannot read the {n}-byte header ({e}); file changed?")))?;
    let mut header = parse_header(path, &header_bytes, file_len)?;
    let data_len = file_len - 8 - n;
    let mut data = Vec::with_capacity(data_len as usize);
    f.take(data_len).read_to_end(&mut data).map_err(|e| Error::io(path, e))?;
    if data.len() as u64 != data_len {
        return Err(bad(
            path,
            format!("file changed while reading ({} data bytes instead of {data_len})", data.len()),
        ));
    }
    header.data_start = 0;
    Ok((data, header))
}

fn read_up_to(f: &mut File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match f.read(&mut buf[got..])? {
            0 => break,
            k => got += k,
        }
    }
    Ok(got)
}

/// Loads the tensors `expected` (name, shape) from a safetensors file, in that order, converting
/// F16 to f32. Fails with [`Error::Model`] if anything is off: see the module docs.
pub fn load_weights(path: &Path, expected: &[(String, Vec<usize>)]) -> Result<Vec<NamedTensor>> {
    Ok(load_weights_with_metadata(path, expected)?.0)
}

/// [`load_weights`], also returning the header's `__metadata__`.
pub fn load_weights_with_metadata(
    path: &Path,
    expected: &[(String, Vec<usize>)],
) -> Result<(Vec<NamedTensor>, BTreeMap<String, String>)> {
    let (bytes, header) = read_checked(path)?;
    let tensors = extract(path, &bytes, &header, expected)?;
    Ok((tensors, header.metadata))
}

/// Parses safetensors `bytes` (a whole file held in memory; `path` only names it in errors) with
/// the same checks as [`load_weights`].
pub fn parse_weights(
    path: &Path,
    bytes: &[u8],
    expected: &[(String, Vec<usize>)],
) -> Result<Vec<NamedTensor>> {
    let header = parse_header(path, bytes, bytes.len() as u64)?;
    extract(path, bytes, &header, expected)
}

fn extract(
    path: &Path,
    bytes: &[u8],
    header: &Header,
    expected: &[(String, Vec<usize>)],
) -> Result<Vec<NamedTensor>> {
    let entries = match_expected(path, header, expected)?;
    entries.into_iter().map(|e| decode(path, bytes, header.data_start, e)).collect()
}

/// Names, shapes and storage dtypes of the tensors in a safetensors file (checked like
/// [`load_weights`] but without expectations), and its metadata: for `hark inspect`-style tools.
pub fn inspect_weights(path: &Path) -> Result<(Vec<TensorInfo>, BTreeMap<String, String>)> {
    let (_, header) = read_checked(path)?;
    let mut list: Vec<TensorInfo> = header
        .entries
        .iter()
        .map(|e| TensorInfo { name: e.name.clone(), shape: e.shape.clone(), dtype: e.dtype })
        .collect();
    list.sort_by(|a, b| a.name.cmp(&b.name));
    Ok((list, header.metadata))
}

/// What [`inspect_weights`] reports about one stored tensor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorInfo {
    pub name: String,
    pub shape: Vec<usize>,
    pub dtype: StorageDtype,
}

// ---------------------------------------------------------------------------------------------
// Config JSON
// ---------------------------------------------------------------------------------------------

/// `{"format_version": 1, ...the config's fields}`: the version first, then the config in its
/// own field order.
#[derive(Serialize)]
struct Versioned<'a, T: Serialize> {
    format_version: u32,
    #[serde(flatten)]
    inner: &'a T,
}

/// Writes `config` as pretty JSON (atomically) with a top-level `"format_version"` added. `T` must
/// serialize as a JSON object and must not have its own `format_version` field.
pub fn save_config<T: Serialize>(path: &Path, config: &T) -> Result<()> {
    let probe = serde_json::to_value(config)
        .map_err(|e| bad(path, format!("cannot serialize config: {e}")))?;
    match &probe {
        serde_json::Value::Object(m) if m.contains_key("format_version") => {
            return Err(bad(
                path,
                "config type has its own `format_version` field; save_config adds it",
            ));
        }
        serde_json::Value::Object(_) => {}
        _ => return Err(bad(path, "config must serialize as a JSON object")),
    }
    let mut text = serde_json::to_string_pretty(&Versioned {
        format_version: MODEL_FORMAT_VERSION,
        inner: config,
    })
    .map_err(|e| bad(path, format!("cannot serialize config: {e}")))?;
    text.push('\n');
    write_atomic(path, text.as_bytes())
}

/// Reads a config written by [`save_config`]: checks the size (≤ [`MAX_CONFIG_BYTES`]) before
/// reading, then `"format_version"`, then deserializes `T` (which sees, and may ignore, the
/// `format_version` key; do not use `deny_unknown_fields` on `T`'s top level).
pub fn load_config<T: DeserializeOwned>(path: &Path) -> Result<T> {
    load_config_with_limit(path, MAX_CONFIG_BYTES)
}

/// [`load_config`] with an explicit size limit in bytes.
pub fn load_config_with_limit<T: DeserializeOwned>(path: &Path, max_bytes: u64) -> Result<T> {
    let f = File::open(path).map_err(|e| Error::io(path, e))?;
    let len = f.metadata().map_err(|e| Error::io(path, e))?.len();
    if len > max_bytes {
        return Err(bad(
            path,
            format!("config file is {len} bytes, above the {max_bytes}-byte limit (not a config?)"),
        ));
    }
    let mut raw = Vec::with_capacity(len as usize);
    f.take(max_bytes + 1).read_to_end(&mut raw).map_err(|e| Error::io(path, e))?;
    if raw.len() as u64 > max_bytes {
        return Err(bad(
            path,
            format!("config file grew above the {max_bytes}-byte limit while reading"),
        ));
    }
    let text = String::from_utf8(raw).map_err(|e| {
        bad(
            path,
            format!(
                "config is not UTF-8 text (invalid byte at offset {})",
                e.utf8_error().valid_up_to()
            ),
        )
    })?;
    parse_config(path, &text)
}

/// Parses config JSON text (`path` only names it in errors).
pub fn parse_config<T: DeserializeOwned>(path: &Path, text: &str) -> Result<T> {
    let value: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| bad(path, format!("config is not valid JSON: {e}")))?;
    let serde_json::Value::Object(map) = &value else {
        return Err(bad(path, "config must be a JSON object"));
    };
    match map.get("format_version") {
        None => {
            return Err(bad(
                path,
                "config has no \"format_version\" field (not a Hark model config?)",
            ));
        }
        Some(v) => match v.as_u64() {
            Some(ver) if ver > MODEL_FORMAT_VERSION as u64 => {
                return Err(bad(
                    path,
                    format!(
                        "format_version {ver}: this model was made by a newer Hark (this Hark reads version {MODEL_FORMAT_VERSION}); upgrade Hark"
                    ),
                ));
            }
            Some(ver) if ver == MODEL_FORMAT_VERSION as u64 => {}
            _ => {
                return Err(bad(
                    path,
                    format!(
                        "\"format_version\" is {v}; expected the integer {MODEL_FORMAT_VERSION}"
                    ),
                ));
            }
        },
    }
    serde_json::from_str(text)
        .map_err(|e| bad(path, format!("config: {e}")).with_position_hint(e.line(), e.column()))
}

trait PositionHint {
    fn with_position_hint(self, line: usize, column: usize) -> Self;
}
impl PositionHint for Error {
    /// serde_json already puts "at line L column C" in most messages; make sure it is there.
    fn with_position_hint(self, line: usize, column: usize) -> Self {
        match self {
            Error::Model { path, reason } if !reason.contains(" line ") && line > 0 => {
                Error::Model { path, reason: format!("{reason} (line {line}, column {column})") }
            }
            other => other,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Model bundle
// ---------------------------------------------------------------------------------------------

/// Where a model's two files live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelPaths {
    pub config: PathBuf,
    pub weights: PathBuf,
}

impl ModelPaths {
    /// - an existing directory, or a path ending in `/`: `DIR/model.json` + `DIR/model.safetensors`;
    /// - `X.json` or `X.safetensors`: `X.json` + `X.safetensors`;
    /// - anything else is a stem: `STEM.json` + `STEM.safetensors` (the suffix is appended, so
    ///   `en.small` gives `en.small.json`).
    pub fn resolve(path: &Path) -> ModelPaths {
        let s = path.as_os_str().to_string_lossy();
        if path.is_dir() || s.ends_with('/') || s.ends_with(std::path::MAIN_SEPARATOR) {
            return ModelPaths {
                config: path.join("model.json"),
                weights: path.join("model.safetensors"),
            };
        }
        match path.extension().and_then(|e| e.to_str()) {
            Some("json") | Some("safetensors") => ModelPaths {
                config: path.with_extension("json"),
                weights: path.with_extension("safetensors"),
            },
            _ => {
                let with = |ext: &str| {
                    let mut os = path.as_os_str().to_owned();
                    os.push(ext);
                    PathBuf::from(os)
                };
                ModelPaths { config: with(".json"), weights: with(".safetensors") }
            }
        }
    }
}

/// Saves a model: weights first, then config, each atomically (temp file + rename).
///
/// Why this order: each file on its own is always whole (old or new). A crash between the two
/// renames leaves new weights beside the old config. When re-saving a model during training (the
/// common case) the shapes are the same, so the pair still loads and is simply the newer weights.
/// If the architecture changed, [`load_model`] reports the shape mismatch — never a silent mix.
/// Config-first would instead pair a new config (new feature options, alphabet) with old weights:
/// a model that loads but recognizes with the wrong front end. The weights also carry
/// `hark.format_version` in their metadata.
pub fn save_model<C: Serialize, T: AsTensorRef>(
    path: &Path,
    config: &C,
    tensors: &[T],
) -> Result<ModelPaths> {
    let paths = ModelPaths::resolve(path);
    if let Some(dir) = paths.weights.parent()
        && !dir.as_os_str().is_empty()
        && !dir.exists()
    {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    let mut meta = BTreeMap::new();
    meta.insert(WEIGHTS_VERSION_KEY.to_string(), MODEL_FORMAT_VERSION.to_string());
    save_weights(&paths.weights, tensors, &meta)?;
    save_config(&paths.config, config)?;
    Ok(paths)
}

/// Loads a model saved by [`save_model`]: the config, then the weights with the names and shapes
/// `expected(&config)` says the config implies.
pub fn load_model<C: DeserializeOwned>(
    path: &Path,
    expected: impl FnOnce(&C) -> Result<Vec<(String, Vec<usize>)>>,
) -> Result<(C, Vec<NamedTensor>)> {
    let paths = ModelPaths::resolve(path);
    let config: C = load_config(&paths.config)?;
    let want = expected(&config)?;
    let (tensors, meta) = load_weights_with_metadata(&paths.weights, &want)?;
    if let Some(v) = meta.get(WEIGHTS_VERSION_KEY)
        && v.parse::<u32>().map_or(true, |v| v > MODEL_FORMAT_VERSION)
    {
        return Err(bad(
            &paths.weights,
            format!(
                "weights have {WEIGHTS_VERSION_KEY} = {v}: made by a newer Hark (this Hark reads {MODEL_FORMAT_VERSION})"
            ),
        ));
    }
    Ok((config, tensors))
}

// ---------------------------------------------------------------------------------------------
// Checkpoints
// ---------------------------------------------------------------------------------------------

/// A training checkpoint: model tensors, the optimizer (moments included) and the trainer's state.
#[derive(Debug, Clone)]
pub struct Checkpoint<S> {
    pub tensors: Vec<NamedTensor>,
    pub optimizer: Adam<f32>,
    pub trainer: S,
}

/// Writes a checkpoint as ONE safetensors file (atomically, F32): the model tensors under their
/// names, the Adam moments as `adam.m.<name>` / `adam.v.<name>`, and in `__metadata__`:
/// `hark.checkpoint_format_version`, `hark.optimizer` (JSON [`AdamMeta`]: step, lr, config, names)
/// and `hark.trainer` (JSON of `trainer`; put the LR schedule, early stopping, epoch, RNG state
/// there). One file means a crash can never pair weights with moments of another step.
pub fn save_checkpoint<T: AsTensorRef, S: Serialize>(
    path: &Path,
    tensors: &[T],
    optimizer: &Adam<f32>,
    trainer: &S,
) -> Result<()> {
    let meta = optimizer.meta();
    let refs: Vec<TensorRef<'_>> = tensors.iter().map(|t| t.tensor_ref()).collect();
    if refs.len() != meta.names.len() {
        return Err(bad(
            path,
            format!(
                "checkpoint: {} model tensors but the optimizer has {}",
                refs.len(),
                meta.names.len()
            ),
        ));
    }
    for (k, r) in refs.iter().enumerate() {
        if r.name != meta.names[k] || r.data.len() != meta.sizes[k] {
            return Err(bad(
                path,
                format!(
                    "checkpoint: model tensor {k} is `{}` ({} values) but the optimizer's is `{}` ({} values)",
                    r.name,
                    r.data.len(),
                    meta.names[k],
                    meta.sizes[k]
                ),
            ));
        }
        if r.name.starts_with("adam.") {
            return Err(bad(
                path,
                format!("checkpoint: model tensor name `{}` collides with optimizer names", r.name),
            ));
        }
    }
    let mut list: Vec<(Cow<'_, str>, TensorRef<'_>)> = Vec::with_capacity(3 * refs.len());
    for (k, r) in refs.iter().enumerate() {
        list.push((Cow::Borrowed(r.name), *r));
        let m = TensorRef { name: r.name, shape: r.shape, data: &optimizer.first_moments()[k] };
        let v = TensorRef { name: r.name, shape: r.shape, data: &optimizer.second_moments()[k] };
        list.push((Cow::Owned(format!("{MOMENT_M}{}", r.name)), m));
        list.push((Cow::Owned(format!("{MOMENT_V}{}", r.name)), v));
    }
    let mut md = BTreeMap::new();
    md.insert(CKPT_VERSION_KEY.to_string(), CHECKPOINT_FORMAT_VERSION.to_string());
    md.insert(
        CKPT_OPTIMIZER_KEY.to_string(),
        serde_json::to_string(meta)
            .map_err(|e| bad(path, format!("cannot serialize optimizer state: {e}")))?,
    );
    md.insert(
        CKPT_TRAINER_KEY.to_string(),
        serde_json::to_string(trainer)
            .map_err(|e| bad(path, format!("cannot serialize trainer state: {e}")))?,
    );
    let bytes = serialize_tensors(path, &list, &md, StorageDtype::F32)?;
    write_atomic(path, &bytes)
}

/// Loads a checkpoint written by [`save_checkpoint`] for a model with the tensors `expected`
/// (names and shapes, in parameter order). Checks the format version first, then everything
/// [`load_weights`] checks (for the model tensors and both moments), then that the optimizer state
/// lists the same tensors in the same order.
pub fn load_checkpoint<S: DeserializeOwned>(
    path: &Path,
    expected: &[(String, Vec<usize>)],
) -> Result<Checkpoint<S>> {
    let (bytes, header) = read_checked(path)?;
    let md = &header.metadata;
    match md.get(CKPT_VERSION_KEY) {
        None => {
            return Err(bad(
                path,
                format!("not a Hark checkpoint (no {CKPT_VERSION_KEY} in the metadata)"),
            ));
        }
        Some(v) => match v.parse::<u32>() {
            Ok(ver) if ver == CHECKPOINT_FORMAT_VERSION => {}
            Ok(ver) if ver > CHECKPOINT_FORMAT_VERSION => {
                return Err(bad(
                    path,
                    format!(
                        "checkpoint format {ver} was made by a newer Hark (this Hark reads {CHECKPOINT_FORMAT_VERSION})"
                    ),
                ));
            }
            _ => return Err(bad(path, format!("unsupported checkpoint format version `{v}`"))),
        },
    }
    let meta_json = md
        .get(CKPT_OPTIMIZER_KEY)
        .ok_or_else(|| bad(path, format!("checkpoint metadata has no {CKPT_OPTIMIZER_KEY}")))?;
    let adam_meta: AdamMeta = serde_json::from_str(meta_json)
        .map_err(|e| bad(path, format!("checkpoint optimizer state is invalid: {e}")))?;
    let trainer_json = md
        .get(CKPT_TRAINER_KEY)
        .ok_or_else(|| bad(path, format!("checkpoint metadata has no {CKPT_TRAINER_KEY}")))?;
    let trainer: S = serde_json::from_str(trainer_json)
        .map_err(|e| bad(path, format!("checkpoint trainer state is invalid: {e}")))?;

    let names: Vec<&str> = expected.iter().map(|(n, _)| n.as_str()).collect();
    if adam_meta.names != names {
        let k = (0..names.len().min(adam_meta.names.len()))
            .find(|&k| adam_meta.names[k] != names[k])
            .unwrap_or(names.len().min(adam_meta.names.len()));
        let theirs =
            adam_meta.names.get(k).map_or("(none)".to_string(), |n| format!("`{}`", shown(n)));
        let ours = names.get(k).map_or("(none)".to_string(), |n| format!("`{n}`"));
        return Err(bad(
            path,
            format!(
                "checkpoint optimizer covers {} tensors, the model {}; tensor {k} is {theirs} in the checkpoint but {ours} in the model",
                adam_meta.names.len(),
                names.len()
            ),
        ));
    }
    let mut all = Vec::with_capacity(3 * expected.len());
    all.extend(expected.iter().cloned());
    all.extend(expected.iter().map(|(n, s)| (format!("{MOMENT_M}{n}"), s.clone())));
    all.extend(expected.iter().map(|(n, s)| (format!("{MOMENT_V}{n}"), s.clone())));
    let mut loaded = extract(path, &bytes, &header, &all)?.into_iter();
    let p = expected.len();
    let tensors: Vec<NamedTensor> = loaded.by_ref().take(p).collect();
    let m: Vec<Vec<f32>> = loaded.by_ref().take(p).map(|t| t.data).collect();
    let v: Vec<Vec<f32>> = loaded.map(|t| t.data).collect();
    let optimizer = Adam::from_parts(adam_meta, m, v)
        .map_err(|e| bad(path, format!("checkpoint optimizer state: {e}")))?;
    Ok(Checkpoint { tensors, optimizer, trainer })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p() -> &'static Path {
        Path::new("mem.safetensors")
    }

    #[test]
    fn unravel_indices() {
        assert_eq!(unravel(5, &[2, 3]), vec![1, 2]);
        assert_eq!(unravel(0, &[]), Vec::<usize>::new());
    }

    #[test]
    fn resolve_paths() {
        let r = ModelPaths::resolve(Path::new("models/en.small"));
        assert_eq!(r.config, PathBuf::from("models/en.small.json"));
        assert_eq!(r.weights, PathBuf::from("models/en.small.safetensors"));
        let r = ModelPaths::resolve(Path::new("models/en.json"));
        assert_eq!(r.weights, PathBuf::from("models/en.safetensors"));
        let r = ModelPaths::resolve(Path::new("models/en/"));
        assert_eq!(r.config, PathBuf::from("models/en/model.json"));
    }

    #[test]
    fn zero_sized_and_scalar_tensors_round_trip() {
        let ts = vec![
            NamedTensor::new("s", vec![], vec![2.5]).unwrap(),
            NamedTensor::new("z", vec![0, 3], vec![]).unwrap(),
        ];
        let list: Vec<_> = ts.iter().map(|t| (Cow::Borrowed(t.name.as_str()), t.view())).collect();
        let bytes = serialize_tensors(p(), &list, &BTreeMap::new(), StorageDtype::F32).unwrap();
        let back =
            parse_weights(p(), &bytes, &[("s".into(), vec![]), ("z".into(), vec![0, 3])]).unwrap();
        assert_eq!(back, ts);
    }

    #[test]
    fn duplicate_header_keys_reported() {
        let h = r#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#;
        let mut bytes = (h.len() as u64).to_le_bytes().to_vec();
        bytes.extend_from_slice(h.as_bytes());
        bytes.extend_from_slice(&[0u8; 8]);
        let err = parse_weights(p(), &bytes, &[("a".into(), vec![1])]).unwrap_err().to_string();
        assert!(err.contains("`a` appears twice"), "{err}");
    }
}
