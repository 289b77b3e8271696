//! `hark transcribe FILE...` and `hark eval DATA`: file transcription and accuracy measurement
//! over a labeled folder, both thin layers over [`crate::runtime::transcribe::Transcriber`].
//!
//! Output of `hark transcribe`:
//! - one file, no `--out-dir`: the transcript on stdout in `--format`;
//! - several files, no `--out-dir`: `txt` prints `== FILE ==` before each transcript; `json`
//!   prints one JSON array of transcripts (failed files left out); `srt`/`vtt` need `--out-dir`
//!   (concatenated subtitle files are not valid subtitles), a usage error (exit 2) otherwise;
//! - `--out-dir DIR`: writes `DIR/<file stem>.<ext>` for every file (atomically, DIR created),
//!   as each file finishes; two inputs with the same stem are a usage error.
//!
//! Files are transcribed in parallel (rayon, all cores). A file that fails prints
//! `hark transcribe: FILE: reason` on stderr and the others go on; the exit code is then 2.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Mutex;

use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;
use serde_json::json;

use crate::audio::probe;
use crate::ctc::HotWords;
use crate::model::Model;
use crate::runtime::decoder::{DecoderChoice, DecoderSetup, check_warps};
use crate::runtime::evaluate::evaluate;
use crate::runtime::export::{self, Format};
use crate::runtime::transcribe::{Transcriber, Transcript};
use crate::train::data::scan_dataset;
use crate::util::write_atomic;
use crate::{Error, Result};

/// Where `--model` points when not given: the model shipped with this build of Hark.

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    /// Plain text, one line per segment.
    Txt,
    /// The full transcript: segments, words, per-character times and confidences.
    Json,
    /// SubRip subtitles.
    Srt,
    /// WebVTT subtitles.
    Vtt,
}

impl From<FormatArg> for Format {
    fn from(f: FormatArg) -> Format {
        match f {
            FormatArg::Txt => Format::Txt,
            FormatArg::Json => Format::Json,
            FormatArg::Srt => Format::Srt,
            FormatArg::Vtt => Format::Vtt,
        }
    }
}

/// Model and decoder options shared by `transcribe` and `eval`.
#[derive(Debug, Args)]
pub struct DecoderArgs {
    /// Model directory (or NAME.json / NAME.safetensors); default: the shipped `models/default`.
    #[arg(long, short, value_name = "M")]
    pub model: Option<PathBuf>,
    /// Beam width of the CTC prefix beam search; 1 without a language model = greedy decoding.
    /// Default: the model's decoder.json when its LM is used, 16 with another LM or hot words,
    /// else 1.
    #[arg(long, value_name = "N")]
    pub beam: Option<usize>,
    #[command(flatten)]
    pub warps: WarpsArg,
    #[command(flatten)]
    pub lm: LmArgs,
}

/// `--warps` (transcribe, eval, listen, lm tune).
#[derive(Debug, Clone, Args)]
pub struct WarpsArg {
    /// Average the network over these frequency warps of the filterbank (e.g. 0.9,1,1.1; each
    /// in 0.8-1.2, one pass per warp); `--warps 1` = one unwarped pass. Default: the model's
    /// decoder.json. (`listen`: for each final, partials take one pass; `lm tune`: tunes with
    /// them and saves them with --save.)
    #[arg(long, value_name = "W,W,..", value_delimiter = ',')]
    pub warps: Option<Vec<f64>>,
}

impl WarpsArg {
    /// The given warps (checked), else `model_warps` (the model's decoder.json, checked when it
    /// was read).
    pub fn or(&self, model_warps: Vec<f64>) -> Result<Vec<f64>> {
        match &self.warps {
            Some(warps) => {
                check_warps(warps).map_err(|e| Error::Options(format!("--warps: {e}")))?;
                Ok(warps.clone())
            }
            None => Ok(model_warps),
        }
    }

    /// Puts the given warps (checked) into `setup`; without `--warps` it keeps the model's.
    pub fn apply(&self, setup: &mut DecoderSetup) -> Result<()> {
        setup.warps = self.or(std::mem::take(&mut setup.warps))?;
        Ok(())
    }
}

/// Language model and hot-word options (transcribe, eval, listen).
#[derive(Debug, Clone, Args)]
pub struct LmArgs {
    /// ARPA word language model for the beam search (default: the one the model ships with, named
    /// in its decoder.json).
    #[arg(long, value_name = "FILE.arpa")]
    pub lm: Option<PathBuf>,
    /// Decode without a language model, even if the model ships with one.
    #[arg(long, conflicts_with = "lm")]
    pub no_lm: bool,
    /// Weight of the language model's log-probabilities (default: the model's tuned value, else 0.5).
    #[arg(long, value_name = "W")]
    pub lm_weight: Option<f32>,
    /// Score bonus per word with an LM (default: the model's tuned value, else 1.0).
    #[arg(long, value_name = "B", allow_hyphen_values = true)]
    pub word_bonus: Option<f32>,
    /// Subtracted from the blank's ln-probability in the beam search, so that characters the
    /// network nearly emitted are tried (default: the model's tuned value with its own LM, else
    /// 0; greedy decoding does not use it).
    #[arg(long, value_name = "P", allow_hyphen_values = true)]
    pub blank_penalty: Option<f32>,
    /// Hot words: a text file with one word or phrase per line that the decoder should prefer.
    #[arg(long, value_name = "FILE")]
    pub hot_words: Option<PathBuf>,
    /// A hot word or phrase (repeat for more).
    #[arg(long = "hot-word", value_name = "PHRASE")]
    pub hot_word: Vec<String>,
    /// Score boost for each word of a hot word or phrase that is recognized.
    #[arg(long, value_name = "B", default_value_t = 5.0)]
    pub hot_boost: f32,
}

impl LmArgs {
    /// Resolves the options against the model's own decoder settings (`decoder.json`).
    pub fn setup(
        &self,
        model_path: &Path,
        alphabet: &crate::ctc::Alphabet,
        beam: Option<usize>,
    ) -> Result<DecoderSetup> {
        for (name, v) in [("--lm-weight", self.lm_weight), ("--word-bonus", self.word_bonus)] {
            if let Some(v) = v.filter(|v| !v.is_finite()) {
                return Err(Error::Options(format!("{name} must be a finite number, got {v}")));
            }
        }
        if let Some(p) = self.blank_penalty {
            crate::runtime::decoder::check_blank_penalty(p)
                .map_err(|e| Error::Options(format!("--blank-penalty: {e}")))?;
        }
        let mut hot: Option<HotWords> = match &self.hot_words {
            Some(p) => Some(HotWords::from_file(p, alphabet, self.hot_boost)?),
            None => None,
        };
        if !self.hot_word.is_empty() {
            let more = HotWords::new(
                self.hot_word.iter().map(String::as_str),
                alphabet,
                self.hot_boost,
                Path::new("--hot-word"),
            )?;
            let mut lines: Vec<String> =
                hot.iter().flat_map(|h| h.phrases().iter().map(|p| p.join(" "))).collect();
            lines.extend(more.phrases().iter().map(|p| p.join(" ")));
            hot = Some(HotWords::new(
                lines.iter().map(String::as_str),
                alphabet,
                self.hot_boost,
                Path::new("hot words"),
            )?);
        }
        DecoderSetup::resolve(
            model_path,
            DecoderChoice {
                lm: self.lm.clone(),
                no_lm: self.no_lm,
                lm_weight: self.lm_weight,
                word_bonus: self.word_bonus,
                blank_penalty: self.blank_penalty,
                hot,
                beam,
            },
        )
    }
}

/// Arguments of `hark transcribe`.
#[derive(Debug, Args)]
pub struct TranscribeArgs {
    /// Audio files (WAV, FLAC, MP3, Ogg Vorbis).
    #[arg(value_name = "FILE", required = true)]
    pub files: Vec<PathBuf>,
    #[command(flatten)]
    pub decoder: DecoderArgs,
    /// Output format.
    #[arg(long, short, value_enum, default_value_t = FormatArg::Txt)]
    pub format: FormatArg,
    /// Write DIR/<name>.<ext> per input instead of printing to stdout.
    #[arg(long, value_name = "DIR")]
    pub out_dir: Option<PathBuf>,
}

/// Arguments of `hark eval`.
#[derive(Debug, Args)]
pub struct EvalArgs {
    /// Labeled data: a folder or manifest `hark train` accepts (every utterance is used).
    #[arg(value_name = "DATA")]
    pub data: PathBuf,
    #[command(flatten)]
    pub decoder: DecoderArgs,
    /// Show this many utterances with the highest character error rate.
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub worst: usize,
    /// Also write the results (totals and every utterance) as JSON to this file.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Store the result in the model's record under this name (e.g. "held-out TTS voices"), so
    /// the app shows it with what it was measured on; a result of the same name is replaced.
    /// Use data the model was not trained or tuned on.
    #[arg(long, value_name = "SET")]
    pub record: Option<String>,
}

/// The model path to load: `given`, else the shipped default model
/// ([`crate::model::default_model_dir`]).
pub fn resolve_model_path(given: Option<&Path>) -> Result<PathBuf> {
    if let Some(p) = given {
        return Ok(p.to_path_buf());
    }
    let candidates = crate::model::default_model_candidates();
    crate::model::default_model_dir().ok_or_else(|| {
        Error::model(
            candidates.last().cloned().unwrap_or_default(),
            format!(
                "no model given and no default model found (looked in {}); pass --model, set \
                 HARK_MODEL, or train one with `hark train`",
                candidates.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
            ),
        )
    })
}

impl DecoderArgs {
    /// Loads the model, its LM and hot words into a transcriber.
    pub fn transcriber(&self) -> Result<Transcriber> {
        let path = resolve_model_path(self.model.as_deref())?;
        let model = Model::load(&path)?;
        let mut setup = self.lm.setup(&path, &model.config.alphabet, self.beam)?;
        self.warps.apply(&mut setup)?;
        let mut t = Transcriber::new(model);
        t.set_decoder(setup);
        Ok(t)
    }
}

fn bar(len: u64, template: &str) -> Option<ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let style = ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
    Some(ProgressBar::new(len).with_style(style))
}

/// The output file of `input` in `dir`.
fn out_path(dir: &Path, input: &Path, format: Format) -> PathBuf {
    let stem = input.file_stem().map(|s| s.to_os_string()).unwrap_or_else(|| "transcript".into());
    let mut name = stem;
    name.push(".");
    name.push(format.extension());
    dir.join(name)
}

/// `hark transcribe`; see the module documentation for where output goes.
pub fn transcribe(args: &TranscribeArgs) -> ExitCode {
    let format = Format::from(args.format);
    let several = args.files.len() > 1;
    if several && args.out_dir.is_none() && matches!(format, Format::Srt | Format::Vtt) {
        eprintln!(
            "hark transcribe: several files with --format {} need --out-dir (one subtitle file each)",
            format.extension()
        );
        return ExitCode::from(2);
    }
    if let Some(dir) = &args.out_dir {
        let mut seen = std::collections::HashMap::new();
        for f in &args.files {
            let p = out_path(dir, f, format);
            if let Some(prev) = seen.insert(p.clone(), f) {
                eprintln!(
                    "hark transcribe: {} and {} would both be written to {}",
                    prev.display(),
                    f.display(),
                    p.display()
                );
                return ExitCode::from(2);
            }
        }
        if let Err(e) = std::fs::create_dir_all(dir) {
            eprintln!("hark transcribe: {}: {e}", dir.display());
            return ExitCode::from(2);
        }
    }
    let tr = match args.decoder.transcriber() {
        Ok(t) => t,
        Err(e) => {
            eprintln!("hark transcribe: {e}");
            return super::exit_code_for(&e);
        }
    };

    // Progress: milliseconds of audio over all files (durations from the headers).
    let total_ms: u64 = args
        .files
        .iter()
        .filter_map(|f| probe(f).ok().and_then(|i| i.duration_s))
        .map(|s| (s * 1000.0) as u64)
        .sum();
    let pb = bar(total_ms, "{spinner} {msg} [{bar:40}] {percent:>3}% eta {eta}");
    let done_files = std::sync::atomic::AtomicUsize::new(0);
    let n = args.files.len();
    if let Some(b) = &pb {
        b.set_message(format!("0/{n} files"));
    }
    let stderr_lock = Mutex::new(());

    let results: Vec<Option<Transcript>> = args
        .files
        .par_iter()
        .map(|f| {
            let mut last_ms = 0u64;
            let r = tr.transcribe_file(f, &mut |s| {
                if let Some(b) = &pb {
                    let ms = (s * 1000.0) as u64;
                    b.inc(ms.saturating_sub(last_ms));
                    last_ms = ms;
                }
            });
            let r = r.and_then(|t| match &args.out_dir {
                Some(dir) => {
                    let text = export::render(&t, format)?;
                    write_atomic(&out_path(dir, f, format), text.as_bytes())?;
                    Ok(t)
                }
                None => Ok(t),
            });
            let k = done_files.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
            if let Some(b) = &pb {
                b.set_message(format!("{k}/{n} files"));
            }
            match r {
                Ok(t) => Some(t),
                Err(e) => {
                    let _g = stderr_lock.lock();
                    let msg = format!("hark transcribe: {e}");
                    match &pb {
                        Some(b) => b.suspend(|| eprintln!("{msg}")),
                        None => eprintln!("{msg}"),
                    }
                    None
                }
            }
        })
        .collect();
    if let Some(b) = pb {
        b.finish_and_clear();
    }
    let failed = results.iter().filter(|r| r.is_none()).count();

    if args.out_dir.is_none() {
        let mut out = String::new();
        let ok: Vec<&Transcript> = results.iter().flatten().collect();
        if several && format == Format::Json {
            match serde_json::to_string_pretty(&ok) {
                Ok(s) => {
                    out = s;
                    out.push('\n');
                }
                Err(e) => {
                    let e = crate::Error::internal(format!("transcripts as JSON: {e}"));
                    eprintln!("hark transcribe: {e}");
                    return super::exit_code_for(&e);
                }
            }
        } else {
            for (f, r) in args.files.iter().zip(&results) {
                let Some(t) = r else { continue };
                if several {
                    out.push_str(&format!("== {} ==\n", f.display()));
                }
                match export::render(t, format) {
                    Ok(s) => out.push_str(&s),
                    Err(e) => {
                        eprintln!("hark transcribe: {}: {e}", f.display());
                        return super::exit_code_for(&e);
                    }
                }
            }
        }
        let mut stdout = std::io::stdout().lock();
        if let Err(e) = stdout.write_all(out.as_bytes()).and_then(|_| stdout.flush()) {
            let e = crate::Error::io("standard output", e);
            eprintln!("hark transcribe: {e}");
            return super::exit_code_for(&e);
        }
    }
    if failed > 0 {
        eprintln!("hark transcribe: {failed} of {n} files failed");
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    }
}

/// Stores an evaluation in the model's record (model.json, atomically), so the app shows the
/// accuracy together with what it was measured on.
fn record_evaluation(
    args: &DecoderArgs,
    set: &str,
    tr: &Transcriber,
    rates: &crate::train::metrics::ErrorRates,
) -> Result<()> {
    let path = resolve_model_path(args.model.as_deref())?;
    let paths = crate::model::ModelPaths::resolve(&path);
    let mut cfg: crate::model::ModelConfig = crate::model::file::load_config(&paths.config)?;
    cfg.training.evaluations.retain(|e| e.set != set);
    cfg.training.evaluations.push(crate::model::Evaluation {
        set: set.to_string(),
        utterances: rates.utterances,
        cer: 100.0 * rates.cer().unwrap_or(0.0),
        wer: 100.0 * rates.wer().unwrap_or(0.0),
        decoding: tr.decoder().describe(),
    });
    crate::model::file::save_config(&paths.config, &cfg)?;
    eprintln!("recorded in {} as \"{set}\"", paths.config.display());
    Ok(())
}

/// `hark eval`: transcribes every utterance of a labeled folder and scores it (corpus WER/CER as
/// sclite and jiwer compute them: total edits over total reference words/characters).
pub fn eval(args: &EvalArgs) -> ExitCode {
    match eval_inner(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("hark eval: {e}");
            super::exit_code_for(&e)
        }
    }
}

fn eval_inner(args: &EvalArgs) -> Result<ExitCode> {
    let tr = args.decoder.transcriber()?;
    let cfg = &tr.model.config;
    let ds = scan_dataset(&args.data, &cfg.alphabet, cfg.output_frames_per_second())?;
    eprintln!(
        "{}: {} utterances, {:.3} h, {} skipped",
        ds.report.source.display(),
        ds.report.utterances,
        ds.report.total_hours,
        ds.report.skipped.len()
    );
    for s in &ds.report.skipped {
        eprintln!("  skipped: {s}");
    }
    if ds.utterances.is_empty() {
        return Err(Error::data(&args.data, "no usable utterances to evaluate"));
    }
    let total_ms: u64 = ds.utterances.iter().map(|u| (u.duration_s * 1000.0) as u64).sum();
    let pb = bar(total_ms, "{spinner} evaluating [{bar:40}] {percent:>3}% eta {eta}");
    let report = evaluate(&tr, &ds.utterances, &|ms| {
        if let Some(b) = &pb {
            b.inc(ms);
        }
    });
    if let Some(b) = pb {
        b.finish_and_clear();
    }
    let (wall, cpu, rtf, audio_s) =
        (report.wall_s, report.cpu_s, report.real_time_factor(), report.audio_s);
    let scored = &report.scored;
    let mut failed = 0;
    for s in scored {
        if let Some(e) = &s.error {
            eprintln!("hark eval: {}: {e} (scored as an empty hypothesis)", s.id);
            failed += 1;
        }
    }
    let rates = &report.rates;
    let pct = |r: Option<f64>| r.map_or("n/a".to_string(), |v| format!("{:.2}%", 100.0 * v));
    let (w, c) = (rates.words, rates.chars);
    println!("utterances: {} ({:.1} s of audio)", rates.utterances, audio_s);
    println!(
        "WER: {} ({} errors / {} words: {} substitutions, {} deletions, {} insertions)",
        pct(rates.wer()),
        w.errors(),
        w.reference_len(),
        w.substitutions,
        w.deletions,
        w.insertions
    );
    println!(
        "CER: {} ({} errors / {} characters: {} substitutions, {} deletions, {} insertions)",
        pct(rates.cer()),
        c.errors(),
        c.reference_len(),
        c.substitutions,
        c.deletions,
        c.insertions
    );
    println!(
        "real-time factor: {rtf:.4} ({cpu:.2} CPU s / {audio_s:.2} audio s; wall {wall:.2} s, \
         {} threads)",
        rayon::current_num_threads()
    );
    let mut order: Vec<usize> = (0..scored.len()).collect();
    order.sort_by(|&a, &b| scored[b].cer.total_cmp(&scored[a].cer).then(a.cmp(&b)));
    let worst = args.worst.min(scored.len());
    if worst > 0 {
        println!("worst {worst} by CER:");
        for &i in &order[..worst] {
            let s = &scored[i];
            println!("  {} (CER {:.2}%)", s.id, 100.0 * s.cer);
            println!("    ref: {}", s.reference);
            println!("    hyp: {}", s.hypothesis.as_deref().unwrap_or("<error>"));
        }
    }
    if let Some(path) = &args.json {
        let counts = |e: &crate::train::metrics::EditCounts| {
            json!({
                "reference": e.reference_len(), "errors": e.errors(), "hits": e.hits,
                "substitutions": e.substitutions, "deletions": e.deletions,
                "insertions": e.insertions,
            })
        };
        let v = json!({
            "model": tr.model.source,
            "data": args.data,
            "utterances": rates.utterances,
            "skipped": ds.report.skipped.len(),
            "failed": failed,
            "wer": rates.wer(),
            "cer": rates.cer(),
            "words": counts(&w),
            "chars": counts(&c),
            "audio_s": audio_s,
            "cpu_s": cpu,
            "wall_s": wall,
            "rtf": rtf,
            "threads": rayon::current_num_threads(),
            "beam": tr.beam.beam_width,
            "lm": tr.lm_path,
            "lm_weight": tr.beam.lm_weight,
            "word_bonus": tr.beam.word_bonus,
            "blank_penalty": tr.beam.blank_penalty,
            "warps": tr.warps,
            "per_utterance": scored.iter().map(|s| json!({
                "id": s.id, "audio": s.audio, "reference": s.reference,
                "hypothesis": s.hypothesis, "error": s.error, "cer": s.cer, "wer": s.wer,
                "duration_s": s.duration_s,
            })).collect::<Vec<_>>(),
        });
        let mut text = serde_json::to_string_pretty(&v)
            .map_err(|e| Error::Options(format!("eval results to JSON: {e}")))?;
        text.push('\n');
        write_atomic(path, text.as_bytes())?;
    }
    if let Some(set) = &args.record {
        record_evaluation(&args.decoder, set, &tr, rates)?;
    }
    Ok(if failed > 0 { ExitCode::from(2) } else { ExitCode::SUCCESS })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_path_given_or_default() {
        let given = resolve_model_path(Some(Path::new("x/y"))).unwrap();
        assert_eq!(given, PathBuf::from("x/y"));
        let candidates = crate::model::default_model_candidates();
        let source_tree = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/default");
        assert_eq!(candidates.last(), Some(&source_tree));
        // Whatever is installed, the answer is a candidate holding a model, or a clear error.
        match resolve_model_path(None) {
            Ok(p) => assert!(candidates.contains(&p), "{}", p.display()),
            Err(e) => assert!(e.to_string().contains("no default model found"), "{e}"),
        }
    }

    #[test]
    fn out_paths_use_the_stem() {
        let p = out_path(Path::new("out"), Path::new("a/b/talk.mp3"), Format::Srt);
        assert_eq!(p, PathBuf::from("out/talk.srt"));
    }
}
