//! `hark lm build` (an ARPA word n-gram model from plain text) and `hark lm tune` (the LM weight
//! and word bonus that give the lowest WER on labeled data, optionally saved with the model).

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;

use crate::audio::read_mono_16k;
use crate::ctc::lm::LanguageModel;
use crate::ctc::{Alphabet, ArpaLm, BeamOptions, LmBuilder, greedy, prefix_beam_search};
use crate::model::Model;
use crate::runtime::decoder::DecoderConfig;
use crate::train::data::scan_dataset;
use crate::train::metrics::{char_edits, word_edits};
use crate::util::write_atomic;
use crate::{Error, Result};

#[derive(Debug, Subcommand)]
pub enum LmCommand {
    /// Build an ARPA n-gram model (interpolated Kneser–Ney) from a text file, one sentence per line.
    Build(BuildArgs),
    /// Find the LM weight and word bonus with the lowest WER on labeled data.
    Tune(TuneArgs),
}

#[derive(Debug, Args)]
pub struct BuildArgs {
    /// Plain text, one sentence per line (normalized like transcripts; lines with characters
    /// outside the alphabet, such as digits, are skipped and counted).
    #[arg(value_name = "TEXT")]
    pub text: PathBuf,
    /// N-gram order.
    #[arg(long, default_value_t = 3)]
    pub order: usize,
    /// Output ARPA file.
    #[arg(long, value_name = "FILE.arpa")]
    pub out: PathBuf,
    /// A word list (one word per line, e.g. /usr/share/dict/words) whose words the model should
    /// know even if the text never uses them: they get an unseen word's probability, enough for
    /// the decoder to spell them when the audio is clear.
    #[arg(long, value_name = "FILE")]
    pub vocab: Option<PathBuf>,
    /// Leave out n-grams of the highest order seen fewer than N times (a smaller model that
    /// backs off for them; 1 keeps all).
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub min_count: u64,
}

#[derive(Debug, Args)]
pub struct TuneArgs {
    /// Labeled data (any format `hark train` reads); use validation data, not the test set.
    #[arg(value_name = "DATA")]
    pub data: PathBuf,
    /// Model directory (default: the shipped model).
    #[arg(long, short, value_name = "M")]
    pub model: Option<PathBuf>,
    /// ARPA language model to tune (default: the model's own).
    #[arg(long, value_name = "FILE.arpa")]
    pub lm: Option<PathBuf>,
    /// LM weights to try.
    #[arg(long, value_delimiter = ',', default_value = "0.25,0.5,0.75,1,1.25,1.5,2")]
    pub weights: Vec<f32>,
    /// Word bonuses to try.
    #[arg(long, value_delimiter = ',', default_value = "0,0.5,1,1.5,2,3,4")]
    pub bonuses: Vec<f32>,
    /// Beam width.
    #[arg(long, default_value_t = 16)]
    pub beam: usize,
    #[command(flatten)]
    pub warps: crate::cli::transcribe_cmds::WarpsArg,
    /// Use at most this many utterances (evenly spread), to keep the search quick.
    #[arg(long, default_value_t = 400)]
    pub max_utterances: usize,
    /// Save the best setting with the LM in the model directory's decoder.json (the LM file is
    /// copied into the directory when it is elsewhere).
    #[arg(long)]
    pub save: bool,
}

pub fn lm(cmd: &LmCommand) -> ExitCode {
    let r = match cmd {
        LmCommand::Build(a) => build(a),
        LmCommand::Tune(a) => tune(a),
    };
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hark lm: {e}");
            super::exit_code_for(&e)
        }
    }
}

fn build(args: &BuildArgs) -> Result<()> {
    let text = std::fs::read_to_string(&args.text).map_err(|e| Error::io(&args.text, e))?;
    let mut b = LmBuilder::new(args.order, Alphabet::default())?;
    b.set_min_count(args.min_count);
    for (i, line) in text.lines().enumerate() {
        b.add_line(i + 1, line);
    }
    if let Some(path) = &args.vocab {
        let list = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let taken = b.add_vocabulary(list.lines());
        eprintln!(
            "{}: {taken} of {} words usable for the vocabulary",
            path.display(),
            list.lines().count()
        );
    }
    let (arpa, report) = b.to_arpa()?;
    write_atomic(&args.out, arpa.as_bytes())?;
    eprintln!(
        "{}: {} sentences, {} words; {} lines skipped{}",
        args.text.display(),
        report.sentences,
        report.words,
        report.skipped.len(),
        report.skipped.first().map_or(String::new(), |(l, r)| format!(" (first: line {l}: {r})"))
    );
    let counts: Vec<String> =
        report.ngrams.iter().enumerate().map(|(k, n)| format!("{}-grams {n}", k + 1)).collect();
    eprintln!("{}: {}", args.out.display(), counts.join(", "));
    Ok(())
}

/// One utterance's log-probabilities and reference.
struct Utt {
    lp: ndarray::Array2<f32>,
    reference: String,
}

fn tune(args: &TuneArgs) -> Result<()> {
    let model_path = super::transcribe_cmds::resolve_model_path(args.model.as_deref())?;
    let model = Model::load(&model_path)?;
    let (cfg, dir) = DecoderConfig::for_model(&model_path)?;
    let lm_path = match (&args.lm, &cfg.lm) {
        (Some(p), _) => p.clone(),
        (None, Some(f)) => dir.join(f),
        (None, None) => {
            return Err(Error::Options(
                "no language model: pass --lm FILE.arpa (the model has none in decoder.json)"
                    .into(),
            ));
        }
    };
    for (name, v) in [("--weights", &args.weights), ("--bonuses", &args.bonuses)] {
        if v.is_empty() || v.iter().any(|x| !x.is_finite()) {
            return Err(Error::Options(format!("{name} must be a list of finite numbers")));
        }
    }
    let warps = args.warps.or(cfg.warps)?;
    let lm = ArpaLm::from_file(&lm_path)?;
    let alphabet = model.config.alphabet.clone();
    let ds = scan_dataset(&args.data, &alphabet, model.config.output_frames_per_second())?;
    if ds.utterances.is_empty() {
        return Err(Error::data(&args.data, "no usable utterances"));
    }
    let step = ds.utterances.len().div_ceil(args.max_utterances.max(1));
    let chosen: Vec<_> = ds.utterances.iter().step_by(step.max(1)).collect();
    let pb = progress(chosen.len() as u64, "acoustic model");
    let utts: Vec<Utt> = chosen
        .par_iter()
        .map(|u| {
            let samples = read_mono_16k(&u.audio)?;
            let lp = model.ensemble_log_probs(&samples, &warps)?;
            if let Some(b) = &pb {
                b.inc(1);
            }
            Ok(Utt { lp, reference: u.text.clone() })
        })
        .collect::<Result<_>>()?;
    if let Some(b) = pb {
        b.finish_and_clear();
    }
    let frame_s = model.frame_duration_s();
    let score = |opts: Option<&BeamOptions>| -> (f64, f64) {
        let (mut we, mut wn, mut ce, mut cn) = (0usize, 0usize, 0usize, 0usize);
        let per: Vec<(usize, usize, usize, usize)> = utts
            .par_iter()
            .map(|u| {
                let hyp = match opts {
                    None => greedy(u.lp.view(), &alphabet, frame_s).text,
                    Some(o) => prefix_beam_search(
                        u.lp.view(),
                        &alphabet,
                        frame_s,
                        o,
                        Some(&lm as &dyn LanguageModel),
                    )
                    .into_iter()
                    .next()
                    .map(|h| h.text)
                    .unwrap_or_default(),
                };
                let w = word_edits(&u.reference, &hyp);
                let c = char_edits(&u.reference, &hyp);
                (w.errors(), w.reference_len(), c.errors(), c.reference_len())
            })
            .collect();
        for (a, b, c, d) in per {
            we += a;
            wn += b;
            ce += c;
            cn += d;
        }
        (100.0 * we as f64 / wn.max(1) as f64, 100.0 * ce as f64 / cn.max(1) as f64)
    };
    let (gw, gc) = score(None);
    println!(
        "{} utterances; greedy, no LM: WER {gw:.2}%  CER {gc:.2}%\nLM {}",
        utts.len(),
        lm_path.display()
    );
    println!("{:>8} {:>8} {:>8} {:>8}", "weight", "bonus", "WER%", "CER%");
    let grid: Vec<(f32, f32)> =
        args.weights.iter().flat_map(|&w| args.bonuses.iter().map(move |&b| (w, b))).collect();
    let mut best: Option<(f32, f32, f64, f64)> = None;
    for (w, b) in grid {
        let opts = BeamOptions {
            beam_width: args.beam.max(1),
            lm_weight: w,
            word_bonus: b,
            ..BeamOptions::default()
        };
        let (wer, cer) = score(Some(&opts));
        println!("{w:>8.2} {b:>8.2} {wer:>8.2} {cer:>8.2}");
        if best.is_none_or(|(_, _, bw, bc)| (wer, cer) < (bw, bc)) {
            best = Some((w, b, wer, cer));
        }
    }
    let (w, b, wer, cer) = best.expect("the grid is not empty");
    println!("best: --lm-weight {w} --word-bonus {b}: WER {wer:.2}%  CER {cer:.2}%");
    if args.save {
        save_tuned(&model_path, &dir, &lm_path, &warps, args, (w, b, wer, utts.len()))?;
    }
    Ok(())
}

fn save_tuned(
    model_path: &Path,
    dir: &Path,
    lm_path: &Path,
    warps: &[f64],
    args: &TuneArgs,
    (w, b, wer, n): (f32, f32, f64, usize),
) -> Result<()> {
    if !model_path.is_dir() {
        return Err(Error::Options(format!(
            "--save needs a model directory (with model.json), not {}",
            model_path.display()
        )));
    }
    let name = lm_path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| Error::Options(format!("bad LM path {}", lm_path.display())))?;
    let inside = dir.join(&name);
    let same = match (inside.canonicalize(), lm_path.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    if !same {
        let bytes = std::fs::read(lm_path).map_err(|e| Error::io(lm_path, e))?;
        write_atomic(&inside, &bytes)?;
    }
    let cfg = DecoderConfig {
        lm: Some(name),
        lm_weight: w,
        word_bonus: b,
        beam: args.beam.max(1),
        warps: warps.to_vec(),
        note: format!(
            "tuned by `hark lm tune` on {} ({n} utterances{}): WER {wer:.2}%",
            args.data.display(),
            if warps.len() > 1 { ", with the warp ensemble" } else { "" }
        ),
    };
    cfg.save(dir)?;
    eprintln!("saved {}", dir.join(crate::runtime::decoder::DECODER_FILE).display());
    Ok(())
}

fn progress(len: u64, what: &str) -> Option<ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let style = ProgressStyle::with_template(&format!(
        "{{spinner}} {what} [{{bar:40}}] {{pos}}/{{len}} eta {{eta}}"
    ))
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    .progress_chars("=> ");
    Some(ProgressBar::new(len).with_style(style))
}
