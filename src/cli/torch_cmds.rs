//! `hark torch …` (hidden): the Rust side of `scripts/torch/`, the PyTorch (DDP) trainer of the
//! same model. Hark computes what must be exactly Hark's, PyTorch does the rest:
//!
//! - `prep`: reads a labeled folder in any layout Hark reads, computes every utterance's features
//!   with a model config's front end and normalization (global statistics computed here if the
//!   config asks for them and has none), and writes a feature cache: `train.npy` / `val.npy`
//!   (all frames of a split, (N, D) f32), `train.jsonl` / `val.jsonl` (one utterance per line:
//!   id, audio, text, labels, offset and frames into the `.npy`, duration), `config.json` (the
//!   config, statistics filled in) and `report.json` (what loading found and skipped).
//! - `logprobs`: the (T', V) log-probabilities of one audio file (and its features).
//! - `grads`: the CTC loss (`Reduction::Mean`) and every parameter's gradient for a padded batch
//!   of feature files, for the PyTorch equivalence check.

use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Subcommand};
use ndarray::Array2;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use crate::ctc::loss::{CtcLoss, Reduction};
use crate::features::{self, Cmvn, CmvnAccumulator, Normalization};
use crate::model::file::{self, NamedTensor};
use crate::model::{Model, ModelConfig};
use crate::train::data::{self, Utterance, ValidationSplit};
use crate::{Error, Result};

#[derive(Debug, Subcommand)]
pub enum TorchCommand {
    /// Feature cache of a labeled folder for scripts/torch/train.py.
    Prep(PrepArgs),
    /// (T', V) log-probabilities of an audio file as .npy.
    Logprobs(LogprobsArgs),
    /// CTC loss and parameter gradients of a batch of feature files (safetensors).
    Grads(GradsArgs),
}

#[derive(Debug, Args)]
pub struct PrepArgs {
    /// Labeled data (any layout `hark train` reads).
    pub data: PathBuf,
    /// Model config whose front end, normalization and alphabet to use (NAME.json or a model
    /// directory; weights are not read).
    #[arg(long)]
    pub config: PathBuf,
    /// Validation data; without it `--validation-percent` of DATA is held out (by id hash, as
    /// `hark train` does).
    #[arg(long)]
    pub val: Option<PathBuf>,
    #[arg(long, default_value_t = 5.0)]
    pub validation_percent: f64,
    /// Output directory of the cache.
    #[arg(long)]
    pub out: PathBuf,
}

#[derive(Debug, Args)]
pub struct LogprobsArgs {
    pub input: PathBuf,
    #[arg(long)]
    pub model: PathBuf,
    /// (T', V) float32 log-probabilities.
    #[arg(long)]
    pub out: PathBuf,
    /// Also write the (T, D) network input features (normalized) here.
    #[arg(long)]
    pub features_out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct GradsArgs {
    #[arg(long)]
    pub model: PathBuf,
    /// (T_b, D) float32 .npy feature files, one per utterance of the batch.
    #[arg(long = "features", required = true)]
    pub features: Vec<PathBuf>,
    /// Transcripts, one per --features, in the same order.
    #[arg(long = "text", required = true)]
    pub texts: Vec<String>,
    /// Output safetensors: `grad.NAME` per parameter, `logits` (T', B, V); metadata `loss` and
    /// `losses` (JSON list).
    #[arg(long)]
    pub out: PathBuf,
}

pub fn torch(cmd: &TorchCommand) -> ExitCode {
    let (name, r) = match cmd {
        TorchCommand::Prep(a) => ("prep", prep(a)),
        TorchCommand::Logprobs(a) => ("logprobs", logprobs(a)),
        TorchCommand::Grads(a) => ("grads", grads(a)),
    };
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hark torch {name}: {e}");
            super::exit_code_for(&e)
        }
    }
}

fn prep(a: &PrepArgs) -> Result<()> {
    let cfg_path = file::ModelPaths::resolve(&a.config).config;
    let mut config: ModelConfig = file::load_config(&cfg_path)?;
    let fresh_cmvn =
        config.features.normalization == Normalization::Global && config.cmvn.is_none();
    if fresh_cmvn {
        // validate() wants statistics for global normalization; the real ones follow.
        let d = config.features.dim();
        config.cmvn = Some(Cmvn { mean: vec![0.0; d], std: vec![1.0; d] });
    }
    config.validate(&cfg_path)?;
    let split = match &a.val {
        Some(v) => ValidationSplit::Folder { path: v.clone() },
        None => ValidationSplit::HashPercent { validation_percent: a.validation_percent },
    };
    let fps = config.output_frames_per_second();
    let tv = data::load_train_validation(&a.data, &split, &config.alphabet, fps)?;
    eprint!("{}", tv.train_report);
    if let Some(r) = &tv.validation_report {
        eprint!("{r}");
    }
    if tv.train.is_empty() {
        return Err(Error::data(&a.data, "no usable training utterances"));
    }
    if fresh_cmvn {
        config.cmvn = Some(global_cmvn(&config, &tv.train)?);
    }
    std::fs::create_dir_all(&a.out).map_err(|e| Error::io(&a.out, e))?;
    for (split, utts) in [("train", &tv.train), ("val", &tv.validation)] {
        write_split(&config, utts, &a.out, split)?;
        eprintln!("{split}: {} utterances", utts.len());
    }
    let report = serde_json::json!({
        "data": a.data,
        "validation": a.val,
        "train": tv.train_report,
        "val": tv.validation_report,
        "train_utterances": tv.train.len(),
        "val_utterances": tv.validation.len(),
        "train_hours": tv.train.iter().map(|u| u.duration_s).sum::<f64>() / 3600.0,
    });
    let text = serde_json::to_string_pretty(&report).map_err(|e| Error::internal(e.to_string()))?;
    crate::util::write_atomic(&a.out.join("report.json"), text.as_bytes())?;
    // Written last: its presence marks a complete cache.
    file::save_config(&a.out.join("config.json"), &config)
}

/// Mean/std of the un-normalized features over (up to 2,000 evenly spaced of) the training
/// utterances, as `hark train` computes them.
fn global_cmvn(config: &ModelConfig, train: &[Utterance]) -> Result<Cmvn> {
    let mut raw = config.features.clone();
    raw.normalization = Normalization::None;
    let step = train.len().div_ceil(2000).max(1);
    let picked: Vec<&Utterance> = train.iter().step_by(step).collect();
    let accs = picked
        .par_chunks(64)
        .map(|chunk| -> Result<CmvnAccumulator> {
            let mut acc = CmvnAccumulator::new(raw.dim());
            for u in chunk {
                let samples = crate::audio::read_mono_16k(&u.audio)?;
                acc.add(features::compute(&raw, &samples)?.view())?;
            }
            Ok(acc)
        })
        .collect::<Result<Vec<_>>>()?;
    let mut acc = CmvnAccumulator::new(raw.dim());
    for x in &accs {
        acc.merge(x)?;
    }
    acc.finish()
}

/// `DIR/SPLIT.npy` (all frames) and `DIR/SPLIT.jsonl` (the index), each written atomically;
/// features are computed in parallel blocks and streamed out in order.
fn write_split(config: &ModelConfig, utts: &[Utterance], dir: &Path, split: &str) -> Result<()> {
    let d = config.features.dim();
    let npy_path = dir.join(format!("{split}.npy"));
    let tmp = crate::util::partial_file_in(dir)?;
    let err = |e: std::io::Error| Error::io(&npy_path, e);
    let mut w = BufWriter::new(tmp.as_file());
    w.write_all(&super::features_cmd::npy_header(0, d)).map_err(err)?;
    let mut index = String::new();
    let mut offset = 0usize;
    for block in utts.chunks(256) {
        let feats = block
            .par_iter()
            .map(|u| {
                let s = crate::audio::read_mono_16k(&u.audio)?;
                features::compute_with(&config.features, config.cmvn.as_ref(), &s)
            })
            .collect::<Result<Vec<Array2<f32>>>>()?;
        for (u, f) in block.iter().zip(&feats) {
            for v in f.iter() {
                w.write_all(&v.to_le_bytes()).map_err(err)?;
            }
            let line = serde_json::json!({
                "id": u.id, "audio": u.audio, "text": u.text, "labels": u.labels,
                "offset": offset, "frames": f.nrows(), "duration_s": u.duration_s,
            });
            index.push_str(&line.to_string());
            index.push('\n');
            offset += f.nrows();
        }
    }
    w.seek(SeekFrom::Start(0)).map_err(err)?;
    w.write_all(&super::features_cmd::npy_header(offset, d)).map_err(err)?;
    w.flush().map_err(err)?;
    drop(w);
    tmp.persist(&npy_path).map_err(|e| Error::io(&npy_path, e.error))?;
    crate::util::write_atomic(&dir.join(format!("{split}.jsonl")), index.as_bytes())
}

fn logprobs(a: &LogprobsArgs) -> Result<()> {
    let model = Model::load(&a.model)?;
    let samples = crate::audio::read_mono_16k(&a.input)?;
    let feats = model.features(&samples)?;
    if let Some(p) = &a.features_out {
        write_npy(p, &feats)?;
    }
    // The exact f32 pass: recognition's half-precision recurrent weights would not be Hark's
    // network as PyTorch computes it.
    let lp = model.log_probs_exact(feats.view())?;
    write_npy(&a.out, &lp)?;
    eprintln!("{}: {} × {}", a.out.display(), lp.nrows(), lp.ncols());
    Ok(())
}

fn grads(a: &GradsArgs) -> Result<()> {
    if a.features.len() != a.texts.len() {
        return Err(Error::Options(format!(
            "{} --features but {} --text",
            a.features.len(),
            a.texts.len()
        )));
    }
    let model = Model::load(&a.model)?;
    let alphabet = &model.config.alphabet;
    let feats = a.features.iter().map(|p| read_npy(p)).collect::<Result<Vec<_>>>()?;
    let targets = a
        .texts
        .iter()
        .map(|t| {
            let n = alphabet.normalize(t).map_err(|e| Error::Options(format!("{t:?}: {e}")))?;
            Ok(n.chars().map(|c| alphabet.label(c).expect("normalized")).collect())
        })
        .collect::<Result<Vec<Vec<usize>>>>()?;
    let batch = data::collate(&feats, targets, (0..feats.len()).collect())?;
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let (logits, cache) =
        model.net.forward(batch.features.view(), &batch.lengths, false, &mut rng)?;
    let out_lengths = model.net.out_lengths(&batch.lengths);
    let out = CtcLoss::<f32>::new().compute(
        logits.view(),
        &out_lengths,
        &batch.targets,
        Reduction::Mean,
    )?;
    let mut g = model.net.new_grads();
    model.net.backward(cache, out.grad.view(), &mut g);
    let mut tensors: Vec<NamedTensor> = g
        .tensors()
        .into_iter()
        .map(|(n, s, v)| NamedTensor::new(format!("grad.{n}"), s.to_vec(), v.to_vec()))
        .collect::<Result<_>>()?;
    let shape = logits.shape().to_vec();
    tensors.push(NamedTensor::new("logits", shape, logits.iter().copied().collect())?);
    let mut meta = std::collections::BTreeMap::new();
    meta.insert("loss".to_string(), out.loss.to_string());
    let losses: Vec<f64> = out.losses.iter().map(|&l| f64::from(l)).collect();
    meta.insert("losses".to_string(), serde_json::to_string(&losses).expect("numbers"));
    file::save_weights(&a.out, &tensors, &meta)?;
    eprintln!("{}: loss {} over {} utterances", a.out.display(), out.loss, feats.len());
    Ok(())
}

/// Writes a (rows, cols) f32 array as .npy (atomically).
fn write_npy(path: &Path, a: &Array2<f32>) -> Result<()> {
    let mut bytes = super::features_cmd::npy_header(a.nrows(), a.ncols());
    for v in a.iter() {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    crate::util::write_atomic(path, &bytes)
}

/// Reads a 2-D little-endian f32 C-order .npy (what `hark features` and numpy write).
fn read_npy(path: &Path) -> Result<Array2<f32>> {
    let bad = |m: &str| Error::data(path, format!("not a 2-D float32 .npy file: {m}"));
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|mut f| f.read_to_end(&mut bytes))
        .map_err(|e| Error::io(path, e))?;
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return Err(bad("no NPY magic"));
    }
    let (hlen, start) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 if bytes.len() >= 12 => {
            (u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize, 12)
        }
        _ => return Err(bad("unknown version")),
    };
    let header = bytes.get(start..start + hlen).ok_or_else(|| bad("truncated header"))?;
    let header = std::str::from_utf8(header).map_err(|_| bad("header is not text"))?;
    if !header.contains("'descr': '<f4'") || !header.contains("'fortran_order': False") {
        return Err(bad("dtype must be '<f4' in C order"));
    }
    let shape = header
        .split("'shape': (")
        .nth(1)
        .and_then(|s| s.split(')').next())
        .ok_or_else(|| bad("no shape"))?;
    let dims: Vec<usize> = shape
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().map_err(|_| bad("bad shape")))
        .collect::<Result<_>>()?;
    let [rows, cols] = dims[..] else { return Err(bad("shape is not 2-D")) };
    let data = &bytes[start + hlen..];
    if data.len() != rows * cols * 4 {
        return Err(bad("data length does not match the shape"));
    }
    let v = data.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
    Ok(Array2::from_shape_vec((rows, cols), v).expect("length checked"))
}
