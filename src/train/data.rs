//! Labeled speech for training: folder formats, the dataset report, the train/validation split,
//! length-bucketed batches, and a feature cache.
//!
//! Shapes: `T` feature frames (padded to the longest in a batch), `B` utterances in a batch,
//! `D` feature coefficients; `L` labels of one transcript (1-based; 0 is the CTC blank).
//! Batches are time-major `(T, B, D)`, like the rest of the model.
//!
//! Formats understood ([`DatasetFormat`]), detected from a folder or a manifest file:
//! - **paired**: `x.wav` + `x.txt` (also flac, mp3, ogg) anywhere below the folder;
//! - **LibriSpeech**: `*.trans.txt` with lines `ID TEXT`, audio `ID.flac`/`ID.wav` beside it;
//! - **DeepSpeech CSV**: `wav_filename,wav_filesize,transcript`, audio relative to the CSV or absolute;
//! - **Common Voice TSV**: columns `path` and `sentence`, audio in `clips/` beside the TSV or relative;
//! - **LJSpeech**: `metadata.csv` with `id|text|normalized text`, audio `wavs/id.wav` (normalized text used).
//!
//! Nothing is dropped silently: every utterance that cannot be used is listed in the
//! [`DatasetReport`] with its file and the reason.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use ndarray::{Array2, Array3, Axis, s};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::ctc::Alphabet;
use crate::ctc::alphabet::NormalizeError;
use crate::train::augment::{Augmenter, splitmix64};
use crate::{Error, Result};

/// Audio file extensions recognised in folders (case-insensitive).
pub const AUDIO_EXTENSIONS: &[&str] = &["wav", "flac", "mp3", "ogg"];

/// Common Voice files that hold clips rejected or not yet reviewed by its contributors.
const CV_UNVALIDATED_TSV: &[&str] = &["invalidated.tsv", "other.tsv", "reported.tsv"];

/// How a labeled folder is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DatasetFormat {
    /// `x.wav` + `x.txt` pairs.
    Paired,
    /// `*.trans.txt` transcripts beside `ID.flac` audio.
    LibriSpeech,
    /// `wav_filename,wav_filesize,transcript` CSV.
    DeepSpeechCsv,
    /// Common Voice `path`/`sentence` TSV.
    CommonVoiceTsv,
    /// LJSpeech `metadata.csv` (`id|text|normalized`).
    LjSpeech,
}

impl fmt::Display for DatasetFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DatasetFormat::Paired => "audio + .txt pairs",
            DatasetFormat::LibriSpeech => "LibriSpeech",
            DatasetFormat::DeepSpeechCsv => "DeepSpeech CSV",
            DatasetFormat::CommonVoiceTsv => "Common Voice TSV",
            DatasetFormat::LjSpeech => "LJSpeech",
        })
    }
}

/// One usable training example.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Utterance {
    /// Stable identity: the audio path relative to the dataset root with `/` separators
    /// (the absolute path for audio outside the root). The split hashes it.
    pub id: String,
    pub audio: PathBuf,
    /// The transcript file or manifest the text came from.
    pub transcript_source: PathBuf,
    pub format: DatasetFormat,
    /// Transcript normalized to the alphabet.
    pub text: String,
    /// `(L)` labels of `text` (1-based; 0 is the blank).
    pub labels: Vec<usize>,
    pub duration_s: f64,
}

/// Why an utterance was left out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SkipReason {
    /// A transcript or manifest row names audio that does not exist.
    MissingAudio { expected: PathBuf },
    /// The audio exists but cannot be decoded.
    UnreadableAudio { error: String },
    /// Audio without a transcript beside it.
    MissingTranscript { expected: PathBuf },
    /// A transcript file that cannot be read as UTF-8 text.
    UnreadableTranscript { error: String },
    /// The transcript is empty (or only silent punctuation).
    EmptyTranscript,
    /// The transcript has characters the model's alphabet lacks (each listed once).
    CharactersOutsideAlphabet { chars: Vec<char>, text: String },
    /// CTC needs at least `L + repeats` output frames; the audio gives fewer.
    TooShort { duration_s: f64, frames_available: usize, frames_needed: usize },
    /// A manifest row that cannot be parsed.
    BadManifestRow { error: String },
    /// The same audio appears again (another manifest or row); the first one is kept.
    Duplicate { first_source: PathBuf },
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SkipReason::MissingAudio { expected } => {
                write!(f, "missing audio: {} does not exist", expected.display())
            }
            SkipReason::UnreadableAudio { error } => write!(f, "unreadable audio: {error}"),
            SkipReason::MissingTranscript { expected } => {
                write!(f, "missing transcript: expected {}", expected.display())
            }
            SkipReason::UnreadableTranscript { error } => {
                write!(f, "unreadable transcript: {error}")
            }
            SkipReason::EmptyTranscript => write!(f, "empty transcript"),
            SkipReason::CharactersOutsideAlphabet { chars, text } => {
                let e = NormalizeError::UnknownChars(chars.clone());
                write!(f, "{e} in {text:?}")
            }
            SkipReason::TooShort { duration_s, frames_available, frames_needed } => write!(
                f,
                "too short for its transcript: {duration_s:.2} s gives {frames_available} output \
                 frames, CTC needs at least {frames_needed} (labels + repeated neighbours)"
            ),
            SkipReason::BadManifestRow { error } => write!(f, "bad manifest row: {error}"),
            SkipReason::Duplicate { first_source } => {
                write!(f, "duplicate audio, already listed by {}", first_source.display())
            }
        }
    }
}

/// One left-out utterance: the file to look at (audio, transcript or manifest), the manifest
/// line if any, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Skipped {
    pub file: PathBuf,
    pub line: Option<u64>,
    pub format: DatasetFormat,
    pub reason: SkipReason,
}

impl fmt::Display for Skipped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(l) => write!(f, "{}:{l}: {}", self.file.display(), self.reason),
            None => write!(f, "{}: {}", self.file.display(), self.reason),
        }
    }
}

/// Totals for one source (a manifest file, or the walked folder for paired/LibriSpeech data).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FormatReport {
    pub format: DatasetFormat,
    pub source: PathBuf,
    pub utterances: usize,
    pub hours: f64,
    pub skipped: usize,
}

/// What loading a dataset found: counts, hours, per-format totals and every skipped file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetReport {
    pub source: PathBuf,
    pub utterances: usize,
    pub total_hours: f64,
    /// The model output rate the "too short" check used (frames per second).
    pub output_frames_per_second: f64,
    pub formats: Vec<FormatReport>,
    pub skipped: Vec<Skipped>,
}

impl fmt::Display for DatasetReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{}: {} utterances, {:.3} h, {} skipped",
            self.source.display(),
            self.utterances,
            self.total_hours,
            self.skipped.len()
        )?;
        for r in &self.formats {
            writeln!(
                f,
                "  {} ({}): {} utterances, {:.3} h, {} skipped",
                r.format,
                r.source.display(),
                r.utterances,
                r.hours,
                r.skipped
            )?;
        }
        if !self.skipped.is_empty() {
            writeln!(f, "Skipped:")?;
            for s in &self.skipped {
                writeln!(f, "  {s}")?;
            }
        }
        Ok(())
    }
}

/// A loaded dataset: the usable utterances (in discovery order) and the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Dataset {
    pub utterances: Vec<Utterance>,
    pub report: DatasetReport,
}

/// An utterance found by discovery, not yet checked.
struct Candidate {
    format: DatasetFormat,
    /// The manifest or transcript (or the audio, for paired data missing its text).
    source: PathBuf,
    line: Option<u64>,
    audio: PathBuf,
    text: std::result::Result<String, SkipReason>,
}

/// The minimum number of CTC output frames for a label sequence: one per label plus one blank
/// between each pair of equal neighbours (CTC merges repeats not separated by a blank).
pub fn ctc_min_frames(labels: &[usize]) -> usize {
    labels.len() + labels.windows(2).filter(|w| w[0] == w[1]).count()
}

/// [`scan_dataset`], then an error (carrying the report's text) if no utterance is usable.
/// This is what training calls; the GUI can call `scan_dataset` to show a report either way.
pub fn load_dataset(
    path: &Path,
    alphabet: &Alphabet,
    output_frames_per_second: f64,
) -> Result<Dataset> {
    let ds = scan_dataset(path, alphabet, output_frames_per_second)?;
    if ds.utterances.is_empty() {
        return Err(Error::data(path, format!("no usable utterances.\n{}", ds.report)));
    }
    Ok(ds)
}

/// Scans a labeled folder or manifest file, detecting its format, normalizing transcripts to
/// `alphabet`, probing every audio file, and checking each utterance is long enough for CTC at
/// `output_frames_per_second` (the model's output frame rate, after any frame stacking).
///
/// Errors only when nothing labeled can be found or a manifest lacks a required column; every
/// per-utterance problem lands in the report instead (so the result may hold no utterances).
pub fn scan_dataset(
    path: &Path,
    alphabet: &Alphabet,
    output_frames_per_second: f64,
) -> Result<Dataset> {
    if !(output_frames_per_second > 0.0 && output_frames_per_second.is_finite()) {
        return Err(Error::Options(format!(
            "output_frames_per_second must be positive, got {output_frames_per_second}"
        )));
    }
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    let (root, discovered) = if meta.is_dir() {
        (path.to_path_buf(), discover_folder(path)?)
    } else {
        let root = path.parent().map(Path::to_path_buf).unwrap_or_default();
        (root, discover_manifest_file(path)?)
    };
    let (candidates, mut skipped, sources) = discovered;
    if candidates.is_empty() && skipped.is_empty() {
        return Err(Error::data(
            path,
            "no labeled audio found: expected audio files (wav, flac, mp3, ogg) with .txt \
             transcripts beside them, LibriSpeech *.trans.txt files, a DeepSpeech CSV \
             (wav_filename,wav_filesize,transcript), a Common Voice TSV (path, sentence) or an \
             LJSpeech metadata.csv",
        ));
    }

    // Drop repeated audio (e.g. Common Voice's validated.tsv overlaps train.tsv); first wins.
    let mut first_source: HashMap<PathBuf, PathBuf> = HashMap::new();
    let mut unique = Vec::with_capacity(candidates.len());
    for c in candidates {
        let key = normalize_path(&c.audio);
        match first_source.get(&key) {
            Some(first) => skipped.push(Skipped {
                file: c.source,
                line: c.line,
                format: c.format,
                reason: SkipReason::Duplicate { first_source: first.clone() },
            }),
            None => {
                first_source.insert(key, c.source.clone());
                unique.push(c);
            }
        }
    }

    let checked: Vec<std::result::Result<Utterance, Skipped>> = unique
        .into_par_iter()
        .map(|c| check_candidate(c, &root, alphabet, output_frames_per_second))
        .collect();
    let mut utterances = Vec::new();
    for r in checked {
        match r {
            Ok(u) => utterances.push(u),
            Err(s) => skipped.push(s),
        }
    }

    let mut formats: Vec<FormatReport> = sources
        .into_iter()
        .map(|(format, source)| FormatReport {
            format,
            source,
            utterances: 0,
            hours: 0.0,
            skipped: 0,
        })
        .collect();
    let find = |formats: &mut Vec<FormatReport>, format: DatasetFormat, source: &Path| -> usize {
        // Walked formats report under the root; manifests under their own file.
        let key = if matches!(format, DatasetFormat::Paired | DatasetFormat::LibriSpeech) {
            root.as_path()
        } else {
            source
        };
        match formats.iter().position(|r| r.format == format && r.source == key) {
            Some(i) => i,
            None => {
                formats.push(FormatReport {
                    format,
                    source: key.to_path_buf(),
                    utterances: 0,
                    hours: 0.0,
                    skipped: 0,
                });
                formats.len() - 1
            }
        }
    };
    for u in &utterances {
        let i = find(&mut formats, u.format, &u.transcript_source);
        formats[i].utterances += 1;
        formats[i].hours += u.duration_s / 3600.0;
    }
    for s in &skipped {
        let i = find(&mut formats, s.format, &s.file);
        formats[i].skipped += 1;
    }
    let total_hours = utterances.iter().map(|u| u.duration_s).sum::<f64>() / 3600.0;
    let report = DatasetReport {
        source: path.to_path_buf(),
        utterances: utterances.len(),
        total_hours,
        output_frames_per_second,
        formats,
        skipped,
    };
    Ok(Dataset { utterances, report })
}

type Discovered = (Vec<Candidate>, Vec<Skipped>, Vec<(DatasetFormat, PathBuf)>);

fn discover_folder(root: &Path) -> Result<Discovered> {
    let mut top: Vec<PathBuf> = read_dir_sorted(root)?;
    top.retain(|p| p.is_file());
    let mut manifests: Vec<(DatasetFormat, PathBuf)> = Vec::new();
    for p in &top {
        let name = file_name(p);
        let lower = name.to_ascii_lowercase();
        if lower == "metadata.csv" && root.join("wavs").is_dir() {
            manifests.push((DatasetFormat::LjSpeech, p.clone()));
        } else if lower.ends_with(".tsv") && !CV_UNVALIDATED_TSV.contains(&lower.as_str()) {
            if header_has(p, b'\t', &["path", "sentence"]) {
                manifests.push((DatasetFormat::CommonVoiceTsv, p.clone()));
            }
        } else if lower.ends_with(".csv") && header_has(p, b',', &["wav_filename", "transcript"]) {
            manifests.push((DatasetFormat::DeepSpeechCsv, p.clone()));
        }
    }
    if !manifests.is_empty() {
        let mut candidates = Vec::new();
        let mut skipped = Vec::new();
        for (format, m) in &manifests {
            let (c, s) = read_manifest(*format, m)?;
            candidates.extend(c);
            skipped.extend(s);
        }
        return Ok((candidates, skipped, manifests));
    }
    walk_folder(root)
}

fn discover_manifest_file(path: &Path) -> Result<Discovered> {
    let name = file_name(path).to_ascii_lowercase();
    let format = if name.ends_with(".trans.txt") {
        let (c, s) = read_librispeech_transcript(path);
        return Ok((c, s, vec![(DatasetFormat::LibriSpeech, path.to_path_buf())]));
    } else if name.ends_with(".tsv") {
        DatasetFormat::CommonVoiceTsv
    } else if name.ends_with(".csv") {
        if header_has(path, b',', &["wav_filename", "transcript"]) {
            DatasetFormat::DeepSpeechCsv
        } else if first_line(path)?.contains('|') {
            DatasetFormat::LjSpeech
        } else {
            return Err(Error::data(
                path,
                "a CSV that is neither a DeepSpeech manifest (header wav_filename,wav_filesize,\
                 transcript) nor an LJSpeech metadata.csv (id|text|normalized text)",
            ));
        }
    } else {
        return Err(Error::data(
            path,
            "not a dataset manifest: give a folder, a *.trans.txt, a DeepSpeech .csv, a Common \
             Voice .tsv or an LJSpeech metadata.csv",
        ));
    };
    let (c, s) = read_manifest(format, path)?;
    Ok((c, s, vec![(format, path.to_path_buf())]))
}

/// Walks a folder: LibriSpeech `*.trans.txt` files claim the audio they list; every other audio
/// file needs a `.txt` with the same stem; a `.txt` with no audio is reported.
fn walk_folder(root: &Path) -> Result<Discovered> {
    let mut files = Vec::new();
    collect_files(root, &mut files, 0)?;
    let mut candidates = Vec::new();
    let mut skipped = Vec::new();
    let mut claimed: HashSet<PathBuf> = HashSet::new();
    let mut saw_libri = false;
    for f in files.iter().filter(|f| file_name(f).ends_with(".trans.txt")) {
        saw_libri = true;
        let (c, s) = read_librispeech_transcript(f);
        claimed.extend(c.iter().map(|c| c.audio.clone()));
        candidates.extend(c);
        skipped.extend(s);
    }
    let audio: Vec<&PathBuf> =
        files.iter().filter(|f| is_audio(f) && !claimed.contains(*f)).collect();
    let audio_stems: HashSet<PathBuf> =
        files.iter().filter(|f| is_audio(f)).map(|f| f.with_extension("")).collect();
    let mut saw_paired = false;
    for a in audio {
        saw_paired = true;
        let txt = a.with_extension("txt");
        let text = if txt.is_file() {
            read_text(&txt)
        } else {
            Err(SkipReason::MissingTranscript { expected: txt.clone() })
        };
        let source = if txt.is_file() { txt } else { a.clone() };
        candidates.push(Candidate {
            format: DatasetFormat::Paired,
            source,
            line: None,
            audio: a.clone(),
            text,
        });
    }
    for t in files.iter().filter(|f| {
        let n = file_name(f);
        n.ends_with(".txt") && !n.ends_with(".trans.txt")
    }) {
        if !audio_stems.contains(&t.with_extension("")) {
            saw_paired = true;
            skipped.push(Skipped {
                file: t.clone(),
                line: None,
                format: DatasetFormat::Paired,
                reason: SkipReason::MissingAudio {
                    expected: t.with_extension("{wav,flac,mp3,ogg}"),
                },
            });
        }
    }
    let mut sources = Vec::new();
    if saw_libri {
        sources.push((DatasetFormat::LibriSpeech, root.to_path_buf()));
    }
    if saw_paired {
        sources.push((DatasetFormat::Paired, root.to_path_buf()));
    }
    Ok((candidates, skipped, sources))
}

fn read_librispeech_transcript(path: &Path) -> (Vec<Candidate>, Vec<Skipped>) {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut candidates = Vec::new();
    let mut skipped = Vec::new();
    let content = match std::fs::read(path).map(String::from_utf8) {
        Ok(Ok(c)) => c,
        Ok(Err(e)) => {
            skipped.push(Skipped {
                file: path.to_path_buf(),
                line: None,
                format: DatasetFormat::LibriSpeech,
                reason: SkipReason::UnreadableTranscript { error: format!("not UTF-8: {e}") },
            });
            return (candidates, skipped);
        }
        Err(e) => {
            skipped.push(Skipped {
                file: path.to_path_buf(),
                line: None,
                format: DatasetFormat::LibriSpeech,
                reason: SkipReason::UnreadableTranscript { error: e.to_string() },
            });
            return (candidates, skipped);
        }
    };
    for (i, line) in content.lines().enumerate() {
        let line_no = Some(i as u64 + 1);
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let (id, text) = match line.split_once(char::is_whitespace) {
            Some((id, text)) => (id, text.trim()),
            None => (line, ""),
        };
        let found =
            AUDIO_EXTENSIONS.iter().map(|e| dir.join(format!("{id}.{e}"))).find(|p| p.is_file());
        match found {
            Some(audio) => candidates.push(Candidate {
                format: DatasetFormat::LibriSpeech,
                source: path.to_path_buf(),
                line: line_no,
                audio,
                text: Ok(text.to_string()),
            }),
            None => skipped.push(Skipped {
                file: path.to_path_buf(),
                line: line_no,
                format: DatasetFormat::LibriSpeech,
                reason: SkipReason::MissingAudio { expected: dir.join(format!("{id}.flac")) },
            }),
        }
    }
    (candidates, skipped)
}

/// Reads a DeepSpeech CSV, Common Voice TSV or LJSpeech metadata file.
fn read_manifest(format: DatasetFormat, path: &Path) -> Result<(Vec<Candidate>, Vec<Skipped>)> {
    let dir = path.parent().unwrap_or(Path::new(".")).to_path_buf();
    let mut builder = csv::ReaderBuilder::new();
    builder.flexible(true);
    match format {
        DatasetFormat::DeepSpeechCsv => {
            builder.delimiter(b',').has_headers(true);
        }
        // Common Voice and LJSpeech are written without quoting: a `"` inside a sentence is text.
        DatasetFormat::CommonVoiceTsv => {
            builder.delimiter(b'\t').has_headers(true).quoting(false);
        }
        DatasetFormat::LjSpeech => {
            builder.delimiter(b'|').has_headers(false).quoting(false);
        }
        DatasetFormat::Paired | DatasetFormat::LibriSpeech => {
            return Err(Error::data(path, "internal: not a manifest format"));
        }
    }
    let mut reader = builder.from_path(path).map_err(|e| csv_error(path, e))?;
    let (audio_col, text_col) = match format {
        DatasetFormat::DeepSpeechCsv => {
            let h = reader.headers().map_err(|e| csv_error(path, e))?.clone();
            (column(&h, "wav_filename", path)?, column(&h, "transcript", path)?)
        }
        DatasetFormat::CommonVoiceTsv => {
            let h = reader.headers().map_err(|e| csv_error(path, e))?.clone();
            (column(&h, "path", path)?, column(&h, "sentence", path)?)
        }
        _ => (0, 2),
    };
    let mut candidates = Vec::new();
    let mut skipped = Vec::new();
    // The csv reader takes a quote that is never closed as a field running to the end of the
    // file; find it first, so that row is reported as malformed instead of read as a path.
    let open_quote = match format {
        DatasetFormat::DeepSpeechCsv => {
            let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
            unclosed_quote_line(&bytes, b',')
        }
        _ => None,
    };
    for record in reader.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                skipped.push(Skipped {
                    file: path.to_path_buf(),
                    line: e.position().map(|p| p.line()),
                    format,
                    reason: SkipReason::BadManifestRow { error: e.to_string() },
                });
                continue;
            }
        };
        let line = record.position().map(|p| p.line());
        if let Some((open, total)) = open_quote
            && line.is_some_and(|l| l >= open)
        {
            skipped.push(Skipped {
                file: path.to_path_buf(),
                line: Some(open),
                format,
                reason: SkipReason::BadManifestRow {
                    error: format!(
                        "a quoted field opened on line {open} is never closed, so lines \
                         {open}-{total} cannot be read as rows (close the quote, or write a \
                         quote inside a field as \"\")"
                    ),
                },
            });
            break;
        }
        if record.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        let bad = |error: String| Skipped {
            file: path.to_path_buf(),
            line,
            format,
            reason: SkipReason::BadManifestRow { error },
        };
        let Some(audio_field) = record.get(audio_col).map(str::trim).filter(|s| !s.is_empty())
        else {
            skipped.push(bad(format!("no audio path in column {}", audio_col + 1)));
            continue;
        };
        let text = match format {
            // LJSpeech: the normalized column (numbers spelled out); the raw one if absent.
            DatasetFormat::LjSpeech => {
                record.get(2).filter(|t| !t.trim().is_empty()).or_else(|| record.get(1))
            }
            _ => record.get(text_col),
        };
        let text = text.map(|t| t.trim().to_string()).unwrap_or_default();
        let candidates_paths: Vec<PathBuf> = match format {
            DatasetFormat::LjSpeech => vec![dir.join("wavs").join(format!("{audio_field}.wav"))],
            DatasetFormat::CommonVoiceTsv => {
                vec![dir.join("clips").join(audio_field), dir.join(audio_field)]
            }
            _ => vec![dir.join(audio_field)],
        };
        match candidates_paths.iter().find(|p| p.is_file()) {
            Some(audio) => candidates.push(Candidate {
                format,
                source: path.to_path_buf(),
                line,
                audio: audio.clone(),
                text: Ok(text),
            }),
            None => skipped.push(Skipped {
                file: path.to_path_buf(),
                line,
                format,
                reason: SkipReason::MissingAudio { expected: candidates_paths[0].clone() },
            }),
        }
    }
    Ok((candidates, skipped))
}

/// The line (1-based) where a quoted field opens and is never closed, with the file's line
/// count, reading quotes as the csv crate does: a `"` opens a quoted field only as the first byte
/// of a field, and inside one `""` is a literal quote.
fn unclosed_quote_line(bytes: &[u8], delimiter: u8) -> Option<(u64, u64)> {
    let (mut line, mut at_field_start, mut quoted_since) = (1u64, true, None);
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if quoted_since.is_some() {
            if b == b'"' {
                if bytes.get(i + 1) == Some(&b'"') {
                    i += 1;
                } else {
                    quoted_since = None;
                }
            }
        } else if b == b'"' && at_field_start {
            quoted_since = Some(line);
        }
        at_field_start = quoted_since.is_none() && (b == delimiter || b == b'\n' || b == b'\r');
        if b == b'\n' {
            line += 1;
        }
        i += 1;
    }
    let total = if bytes.ends_with(b"\n") { line - 1 } else { line };
    quoted_since.map(|open| (open, total.max(open)))
}

fn check_candidate(
    c: Candidate,
    root: &Path,
    alphabet: &Alphabet,
    output_frames_per_second: f64,
) -> std::result::Result<Utterance, Skipped> {
    let skip = |reason: SkipReason| Skipped {
        file: match reason {
            // Audio problems point at the audio; text problems at the transcript/manifest.
            SkipReason::UnreadableAudio { .. } | SkipReason::TooShort { .. } => c.audio.clone(),
            _ => c.source.clone(),
        },
        line: c.line,
        format: c.format,
        reason,
    };
    let raw = c.text.clone().map_err(&skip)?;
    let text = alphabet.normalize(&raw).map_err(|e| {
        skip(match e {
            NormalizeError::Empty => SkipReason::EmptyTranscript,
            NormalizeError::UnknownChars(chars) => {
                SkipReason::CharactersOutsideAlphabet { chars, text: raw.clone() }
            }
        })
    })?;
    let labels = alphabet.encode(&text).map_err(|e| {
        skip(match e {
            NormalizeError::Empty => SkipReason::EmptyTranscript,
            NormalizeError::UnknownChars(chars) => {
                SkipReason::CharactersOutsideAlphabet { chars, text: raw.clone() }
            }
        })
    })?;
    let duration_s = audio_duration(&c.audio)
        .map_err(|e| skip(SkipReason::UnreadableAudio { error: error_text(&e) }))?;
    let frames_available = (duration_s * output_frames_per_second).floor() as usize;
    let frames_needed = ctc_min_frames(&labels);
    if frames_available < frames_needed {
        return Err(skip(SkipReason::TooShort { duration_s, frames_available, frames_needed }));
    }
    Ok(Utterance {
        id: utterance_id(&c.audio, root),
        audio: c.audio,
        transcript_source: c.source,
        format: c.format,
        text,
        labels,
        duration_s,
    })
}

/// Duration from the header; decodes the whole file only when the header does not say.
fn audio_duration(path: &Path) -> Result<f64> {
    let info = crate::audio::probe(path)?;
    let d = match (info.duration_s, info.frames) {
        (Some(d), _) => d,
        (None, Some(n)) if info.sample_rate_hz > 0 => n as f64 / f64::from(info.sample_rate_hz),
        _ => {
            let samples = crate::audio::read_mono_16k(path)?;
            samples.len() as f64 / f64::from(crate::SAMPLE_RATE_HZ)
        }
    };
    if !d.is_finite() || d < 0.0 {
        return Err(Error::audio(path, format!("impossible duration {d} s in the header")));
    }
    Ok(d)
}

/// The error's message without a repeated path prefix (the report already names the file).
fn error_text(e: &Error) -> String {
    match e {
        Error::Audio { reason, .. } | Error::Data { reason, .. } => reason.clone(),
        Error::Io { source, .. } => source.to_string(),
        other => other.to_string(),
    }
}

fn utterance_id(audio: &Path, root: &Path) -> String {
    let rel = audio.strip_prefix(root).unwrap_or(audio);
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

fn read_text(path: &Path) -> std::result::Result<String, SkipReason> {
    match std::fs::read(path) {
        Ok(bytes) => String::from_utf8(bytes)
            .map(|s| s.trim().to_string())
            .map_err(|e| SkipReason::UnreadableTranscript { error: format!("not UTF-8: {e}") }),
        Err(e) => Err(SkipReason::UnreadableTranscript { error: e.to_string() }),
    }
}

fn column(headers: &csv::StringRecord, name: &str, path: &Path) -> Result<usize> {
    headers.iter().position(|h| h.trim_start_matches('\u{feff}').trim() == name).ok_or_else(|| {
        Error::data(
            path,
            format!(
                "the header has no `{name}` column (found: {})",
                headers.iter().collect::<Vec<_>>().join(", ")
            ),
        )
    })
}

fn csv_error(path: &Path, e: csv::Error) -> Error {
    Error::data(path, format!("cannot read as CSV/TSV: {e}"))
}

fn first_line(path: &Path) -> Result<String> {
    use std::io::BufRead;
    let f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut line = String::new();
    std::io::BufReader::new(f).read_line(&mut line).map_err(|e| Error::io(path, e))?;
    Ok(line)
}

fn header_has(path: &Path, delimiter: u8, names: &[&str]) -> bool {
    let Ok(line) = first_line(path) else { return false };
    let fields: Vec<&str> = line
        .trim_start_matches('\u{feff}')
        .trim_end()
        .split(delimiter as char)
        .map(|f| f.trim().trim_matches('"'))
        .collect();
    names.iter().all(|n| fields.contains(n))
}

fn read_dir_sorted(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .map(|e| e.map(|e| e.path()).map_err(|e| Error::io(dir, e)))
        .collect::<Result<_>>()?;
    out.sort();
    Ok(out)
}

/// Files below `dir` in sorted order, skipping hidden entries; depth-limited against link loops.
fn collect_files(dir: &Path, out: &mut Vec<PathBuf>, depth: usize) -> Result<()> {
    if depth > 32 {
        return Ok(());
    }
    for p in read_dir_sorted(dir)? {
        if file_name(&p).starts_with('.') {
            continue;
        }
        if p.is_dir() {
            collect_files(&p, out, depth + 1)?;
        } else if p.is_file() {
            out.push(p);
        }
    }
    Ok(())
}

fn file_name(p: &Path) -> String {
    p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

fn is_audio(p: &Path) -> bool {
    p.extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .is_some_and(|e| AUDIO_EXTENSIONS.contains(&e.as_str()))
}

fn normalize_path(p: &Path) -> PathBuf {
    std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf())
}

// ---------------------------------------------------------------------------------------------
// Train/validation split
// ---------------------------------------------------------------------------------------------

/// 64-bit FNV-1a followed by the SplitMix64 finalizer: fixed across runs, platforms and Rust
/// versions (unlike std's randomly keyed hasher). FNV alone mixes the last bytes weakly into the
/// high bits; the finalizer spreads them so `hash % n` is uniform.
pub fn stable_hash(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    splitmix64(h)
}

/// Whether the utterance with this id belongs to validation at `validation_percent` (0–100).
/// Decided by the id alone, so adding or removing files never moves the others.
pub fn is_validation(id: &str, validation_percent: f64) -> bool {
    const BUCKETS: u64 = 1_000_000;
    let bucket = stable_hash(id.as_bytes()) % BUCKETS;
    (bucket as f64) < validation_percent / 100.0 * BUCKETS as f64
}

/// Where validation data comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ValidationSplit {
    /// A stable hash of each utterance id picks this percentage (0–100) of the training data.
    HashPercent { validation_percent: f64 },
    /// A separate labeled folder or manifest; all of the training data is used for training.
    Folder { path: PathBuf },
}

impl Default for ValidationSplit {
    fn default() -> Self {
        ValidationSplit::HashPercent { validation_percent: 5.0 }
    }
}

/// Splits utterances by [`is_validation`]: `(train, validation)`, each in input order.
pub fn split_by_hash(
    utterances: Vec<Utterance>,
    validation_percent: f64,
) -> Result<(Vec<Utterance>, Vec<Utterance>)> {
    if !(0.0..=100.0).contains(&validation_percent) {
        return Err(Error::Options(format!(
            "validation_percent must be in [0, 100], got {validation_percent}"
        )));
    }
    Ok(utterances.into_iter().partition(|u| !is_validation(&u.id, validation_percent)))
}

/// Training and validation data with the reports that produced them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainValidation {
    pub train: Vec<Utterance>,
    pub validation: Vec<Utterance>,
    pub train_report: DatasetReport,
    /// Present when validation came from its own folder.
    pub validation_report: Option<DatasetReport>,
}

/// Loads `train_path` and splits it (or loads the validation folder) as `split` says.
pub fn load_train_validation(
    train_path: &Path,
    split: &ValidationSplit,
    alphabet: &Alphabet,
    output_frames_per_second: f64,
) -> Result<TrainValidation> {
    let train = load_dataset(train_path, alphabet, output_frames_per_second)?;
    match split {
        ValidationSplit::HashPercent { validation_percent } => {
            let (t, v) = split_by_hash(train.utterances, *validation_percent)?;
            Ok(TrainValidation {
                train: t,
                validation: v,
                train_report: train.report,
                validation_report: None,
            })
        }
        ValidationSplit::Folder { path } => {
            let val = load_dataset(path, alphabet, output_frames_per_second)?;
            Ok(TrainValidation {
                train: train.utterances,
                validation: val.utterances,
                train_report: train.report,
                validation_report: Some(val.report),
            })
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Batches
// ---------------------------------------------------------------------------------------------

/// How utterances are grouped into batches.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct BatchOptions {
    /// Upper bound on padded input frames per batch, `B · T_max` (memory scales with it).
    /// An utterance longer than this on its own still gets a batch of one.
    pub max_batch_frames: usize,
    /// Upper bound on utterances per batch.
    pub max_batch_size: usize,
    /// Feature frames per second of audio (100 for a 10 ms shift), to turn durations into `T`.
    pub feature_frames_per_second: f64,
}

impl Default for BatchOptions {
    fn default() -> Self {
        BatchOptions {
            max_batch_frames: 16_000,
            max_batch_size: 32,
            feature_frames_per_second: 100.0,
        }
    }
}

/// A fixed grouping of utterance indices into batches, sorted by duration so each batch pads
/// little; only the order of batches changes between epochs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchPlan {
    batches: Vec<Vec<usize>>,
}

impl BatchPlan {
    /// Groups `durations_s[i]` (utterance `i`) greedily in ascending duration: a batch closes
    /// when one more utterance would exceed `max_batch_size` or `max_batch_frames` padded frames.
    pub fn new(durations_s: &[f64], options: &BatchOptions) -> Result<Self> {
        if options.max_batch_size == 0 || options.max_batch_frames == 0 {
            return Err(Error::Options(
                "batch.max_batch_size and batch.max_batch_frames must be at least 1".into(),
            ));
        }
        if !(options.feature_frames_per_second.is_finite()
            && options.feature_frames_per_second > 0.0)
        {
            return Err(Error::Options(format!(
                "batch.feature_frames_per_second must be positive, got {}",
                options.feature_frames_per_second
            )));
        }
        let mut order: Vec<usize> = (0..durations_s.len()).collect();
        order.sort_by(|&a, &b| durations_s[a].total_cmp(&durations_s[b]).then(a.cmp(&b)));
        let frames = |i: usize| {
            (durations_s[i] * options.feature_frames_per_second).ceil().max(1.0) as usize
        };
        let mut batches: Vec<Vec<usize>> = Vec::new();
        let mut current: Vec<usize> = Vec::new();
        for i in order {
            // Ascending order: the newcomer is the longest, so it sets T for the whole batch.
            let padded = (current.len() + 1) * frames(i);
            if !current.is_empty()
                && (current.len() + 1 > options.max_batch_size || padded > options.max_batch_frames)
            {
                batches.push(std::mem::take(&mut current));
            }
            current.push(i);
        }
        if !current.is_empty() {
            batches.push(current);
        }
        Ok(BatchPlan { batches })
    }

    /// The batches in duration order.
    pub fn batches(&self) -> &[Vec<usize>] {
        &self.batches
    }

    /// The batches in this epoch's order: a ChaCha8 shuffle seeded by `(seed, epoch)`.
    pub fn epoch(&self, seed: u64, epoch: u64) -> Vec<&[usize]> {
        let mut rng = ChaCha8Rng::seed_from_u64(splitmix64(splitmix64(seed) ^ epoch));
        let mut order: Vec<usize> = (0..self.batches.len()).collect();
        order.shuffle(&mut rng);
        order.into_iter().map(|i| self.batches[i].as_slice()).collect()
    }
}

/// A padded batch ready for the model.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    /// `(T, B, D)` features, time-major; frames past `lengths[b]` are 0.
    pub features: Array3<f32>,
    /// `(B)` valid frames of each utterance.
    pub lengths: Vec<usize>,
    /// `(B)` label sequences (1-based; no blanks).
    pub targets: Vec<Vec<usize>>,
    /// `(B)` indices of the utterances (into the slice the batch was built from).
    pub utterances: Vec<usize>,
}

/// Pads `(T_b, D)` feature matrices into one `(T_max, B, D)` batch.
pub fn collate(
    features: &[Array2<f32>],
    targets: Vec<Vec<usize>>,
    utterances: Vec<usize>,
) -> Result<Batch> {
    let b = features.len();
    if b == 0 || targets.len() != b || utterances.len() != b {
        return Err(Error::Internal(format!(
            "cannot collate {b} feature matrices with {} targets and {} ids",
            targets.len(),
            utterances.len()
        )));
    }
    let d = features[0].ncols();
    if let Some((i, f)) = features.iter().enumerate().find(|(_, f)| f.ncols() != d) {
        return Err(Error::Internal(format!(
            "utterance {} has {} feature coefficients, the batch has {d}",
            utterances[i],
            f.ncols()
        )));
    }
    let lengths: Vec<usize> = features.iter().map(|f| f.nrows()).collect();
    let t_max = lengths.iter().copied().max().unwrap_or(0);
    let mut out = Array3::<f32>::zeros((t_max, b, d));
    for (j, f) in features.iter().enumerate() {
        out.slice_mut(s![..f.nrows(), j, ..]).assign(f);
    }
    Ok(Batch { features: out, lengths, targets, utterances })
}

// ---------------------------------------------------------------------------------------------
// Feature cache
// ---------------------------------------------------------------------------------------------

/// Any feature extractor: 16 kHz mono samples and a VTLP frequency-warp factor (1.0 = none,
/// see [`crate::features::compute_warped`]) → `(T, D)`.
pub type FeatureFn<'f> = dyn Fn(&[f32], f64) -> Result<Array2<f32>> + Send + Sync + 'f;

/// Counters of a [`FeatureCache`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheStats {
    pub entries: usize,
    pub bytes: usize,
    pub hits: usize,
    /// Feature computations (first use, or a file that did not fit the budget).
    pub computed: usize,
}

/// Un-augmented features per audio file, kept in memory up to `budget_bytes`.
///
/// Why memory and not disk: features (e.g. 39 f32 per 10 ms = 15.6 kB/s) are computed from
/// audio in about a millisecond per second of speech, far less than the BiLSTM forward and
/// backward on the same utterance, so a disk cache would save little and bring invalidation
/// (feature options, edited audio) and disk-space problems. Keeping features of the files that
/// fit removes the decoding + MFCC cost for them from every later epoch.
///
/// Why no eviction: every epoch visits every file once in shuffled order; with LRU eviction a
/// working set larger than the budget gets no hits at all, while keeping the first files that
/// fit gives a hit rate of budget / total. Files beyond the budget are recomputed each time.
///
/// The cache belongs to one feature function; call [`FeatureCache::clear`] if it changes.
pub struct FeatureCache {
    budget_bytes: usize,
    entries: Mutex<HashMap<PathBuf, Arc<Array2<f32>>>>,
    bytes: AtomicUsize,
    hits: AtomicUsize,
    computed: AtomicUsize,
}

impl FeatureCache {
    pub fn new(budget_bytes: usize) -> Self {
        FeatureCache {
            budget_bytes,
            entries: Mutex::new(HashMap::new()),
            bytes: AtomicUsize::new(0),
            hits: AtomicUsize::new(0),
            computed: AtomicUsize::new(0),
        }
    }

    /// Features of `audio`, from the cache or computed (read audio → `features`) and kept if the
    /// budget allows. Safe to call from several threads.
    pub fn get_or_compute(
        &self,
        audio: &Path,
        features: &FeatureFn<'_>,
    ) -> Result<Arc<Array2<f32>>> {
        if let Some(f) = self.lock().get(audio) {
            self.hits.fetch_add(1, Ordering::Relaxed);
            return Ok(Arc::clone(f));
        }
        let samples = crate::audio::read_mono_16k(audio)?;
        let f = Arc::new(features(&samples, 1.0).map_err(|e| match e {
            Error::Options(m) | Error::Training(m) => {
                Error::audio(audio, format!("feature computation failed: {m}"))
            }
            other => other,
        })?);
        self.computed.fetch_add(1, Ordering::Relaxed);
        let size = f.len() * std::mem::size_of::<f32>();
        let mut map = self.lock();
        if !map.contains_key(audio)
            && self.bytes.load(Ordering::Relaxed) + size <= self.budget_bytes
        {
            map.insert(audio.to_path_buf(), Arc::clone(&f));
            self.bytes.fetch_add(size, Ordering::Relaxed);
        }
        Ok(f)
    }

    pub fn stats(&self) -> CacheStats {
        CacheStats {
            entries: self.lock().len(),
            bytes: self.bytes.load(Ordering::Relaxed),
            hits: self.hits.load(Ordering::Relaxed),
            computed: self.computed.load(Ordering::Relaxed),
        }
    }

    pub fn clear(&self) {
        self.lock().clear();
        self.bytes.store(0, Ordering::Relaxed);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<PathBuf, Arc<Array2<f32>>>> {
        // A panic elsewhere while holding the lock leaves the map consistent (inserts are atomic
        // from the map's point of view), so a poisoned lock is still usable.
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Builds padded batches from utterances: cached features, or on-the-fly augmentation
/// (waveform augmentation → features, VTLP-warped → SpecAugment, never cached).
pub struct BatchBuilder<'a> {
    pub utterances: &'a [Utterance],
    pub cache: &'a FeatureCache,
    pub features: &'a FeatureFn<'a>,
    /// `None` for validation and for training without augmentation.
    pub augmenter: Option<&'a Augmenter>,
}

impl BatchBuilder<'_> {
    /// The batch of `indices` (into `utterances`) for `epoch`, utterances processed in parallel.
    /// Augmentation randomness depends on (seed, epoch, utterance id) only.
    pub fn build(&self, indices: &[usize], epoch: u64) -> Result<Batch> {
        let feats: Vec<Array2<f32>> = indices
            .par_iter()
            .map(|&i| {
                let u = self.utterances.get(i).ok_or_else(|| {
                    Error::Training(format!(
                        "batch index {i} out of range ({} utterances)",
                        self.utterances.len()
                    ))
                })?;
                self.utterance_features(u, epoch)
            })
            .collect::<Result<_>>()?;
        let targets = indices.iter().map(|&i| self.utterances[i].labels.clone()).collect();
        collate(&feats, targets, indices.to_vec())
    }

    fn utterance_features(&self, u: &Utterance, epoch: u64) -> Result<Array2<f32>> {
        match self.augmenter {
            Some(aug) => {
                let mut rng = aug.rng_for(epoch, &u.id);
                let mut f = if aug.options.touches_waveform() || aug.options.warps_frequency() {
                    let samples = crate::audio::read_mono_16k(&u.audio)?;
                    let (wave, _) = aug.waveform(&samples, &mut rng)?;
                    let warp = aug.frequency_warp(&mut rng);
                    (self.features)(&wave, warp)?
                } else {
                    self.cache.get_or_compute(&u.audio, self.features)?.as_ref().clone()
                };
                aug.features(&mut f, &mut rng);
                Ok(f)
            }
            None => Ok(self.cache.get_or_compute(&u.audio, self.features)?.as_ref().clone()),
        }
    }
}

/// Sum of `(T_b)` lengths over the batch and the padded size `T_max · B` (for padding stats).
pub fn padding_stats(batch: &Batch) -> (usize, usize) {
    let valid = batch.lengths.iter().sum();
    (valid, batch.features.len_of(Axis(0)) * batch.features.len_of(Axis(1)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ctc_min_frames_counts_repeats() {
        assert_eq!(ctc_min_frames(&[]), 0);
        assert_eq!(ctc_min_frames(&[1, 2, 3]), 3);
        // "hello": l,l repeated once → one blank between them.
        assert_eq!(ctc_min_frames(&[8, 5, 12, 12, 15]), 6);
        assert_eq!(ctc_min_frames(&[4, 4, 4]), 5);
    }

    #[test]
    fn unclosed_quote_is_found_where_it_opens() {
        let q = |t: &str| unclosed_quote_line(t.as_bytes(), b',');
        assert_eq!(q("a,b\nc,d\n"), None);
        assert_eq!(q("a,\"b,\nc\",d\n"), None, "a quoted field may span lines");
        assert_eq!(q("a,\"say \"\"hi\"\"\",d\n"), None, "doubled quotes are literal");
        assert_eq!(q("a,b\"c,d\n"), None, "a quote inside a field is text");
        assert_eq!(q("h,t\na,1\n\"x,3,hello\nb,1\n"), Some((3, 4)));
        assert_eq!(q("h,t\na,\"x"), Some((2, 2)));
        assert_eq!(q("a,\"b\"\"\n"), Some((1, 1)), "an escaped quote does not close");
    }

    #[test]
    fn stable_hash_is_fixed() {
        // FNV-1a 64 of "" is the offset basis, of "a" is 0xaf63dc4c8601ec8c (published vectors);
        // both then go through SplitMix64, checked here against its reference for input 0.
        assert_eq!(splitmix64(0), 0xe220_a839_7b1d_cdaf);
        assert_eq!(stable_hash(b""), splitmix64(0xcbf2_9ce4_8422_2325));
        assert_eq!(stable_hash(b"a"), splitmix64(0xaf63_dc4c_8601_ec8c));
    }

    proptest::proptest! {
        #[test]
        fn any_plan_covers_each_utterance_once_within_limits(
            durations in proptest::collection::vec(0.0f64..20.0, 0..200),
            max_frames in 1usize..5000,
            max_size in 1usize..40,
            seed in 0u64..1000,
        ) {
            let o = BatchOptions {
                max_batch_frames: max_frames,
                max_batch_size: max_size,
                feature_frames_per_second: 100.0,
            };
            let plan = BatchPlan::new(&durations, &o).unwrap();
            let mut seen: Vec<usize> = plan.epoch(seed, 1).into_iter().flatten().copied().collect();
            seen.sort();
            proptest::prop_assert_eq!(seen, (0..durations.len()).collect::<Vec<_>>());
            for b in plan.batches() {
                let t = b.iter().map(|&i| (durations[i] * 100.0).ceil().max(1.0) as usize).max().unwrap();
                proptest::prop_assert!(b.len() <= max_size);
                proptest::prop_assert!(b.len() == 1 || b.len() * t <= max_frames);
            }
        }
    }

    #[test]
    fn plan_respects_limits_and_covers_all() {
        let d: Vec<f64> = (0..50).map(|i| 0.5 + (i * 37 % 50) as f64 * 0.1).collect();
        let o = BatchOptions {
            max_batch_frames: 3000,
            max_batch_size: 8,
            feature_frames_per_second: 100.0,
        };
        let plan = BatchPlan::new(&d, &o).unwrap();
        let mut seen: Vec<usize> = plan.batches().iter().flatten().copied().collect();
        seen.sort();
        assert_eq!(seen, (0..50).collect::<Vec<_>>());
        for b in plan.batches() {
            assert!(b.len() <= 8);
            let t = b.iter().map(|&i| (d[i] * 100.0).ceil() as usize).max().unwrap();
            assert!(b.len() == 1 || b.len() * t <= 3000, "{} × {t}", b.len());
        }
    }
}
