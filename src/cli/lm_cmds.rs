//! `hark lm build` (an ARPA word n-gram model from plain text) and `hark lm tune` (the LM weight
//! and word bonus that give the lowest WER on labeled data, optionally saved with the model).

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};

use crate::ctc::{Alphabet, ArpaLm, LmBuilder};
use crate::model::Model;
use crate::runtime::decoder::{DecoderConfig, check_blank_penalty};
use crate::runtime::evaluate::{Posteriors, TuneGrid, TunePoint, save_tuned, tune as tune_grid};
use crate::train::data::scan_dataset;
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
    /// Output ARPA file; a name ending in `.gz` (`lm.arpa.gz`) writes it gzip-compressed, about
    /// a quarter of the size, which every command reading an LM accepts.
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
    /// Word bonuses to try (negative ones too: `--bonuses -1,0,1`).
    #[arg(
        long,
        value_delimiter = ',',
        allow_hyphen_values = true,
        default_value = "-1,-0.5,0,0.5,1,1.5,2,3,4"
    )]
    pub bonuses: Vec<f32>,
    /// Blank penalties to try (subtracted from the blank's ln-probability in the search; 0 =
    /// none). A model that drops characters on unfamiliar voices gains from one.
    #[arg(long, value_delimiter = ',', allow_hyphen_values = true, default_value = "0,1,2")]
    pub blank_penalties: Vec<f32>,
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
    write_atomic(&args.out, &crate::ctc::lm::arpa_file_bytes(&args.out, &arpa)?)?;
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
    let grid = TuneGrid {
        weights: args.weights.clone(),
        bonuses: args.bonuses.clone(),
        blank_penalties: args.blank_penalties.clone(),
    };
    for (name, v) in [
        ("--weights", &grid.weights),
        ("--bonuses", &grid.bonuses),
        ("--blank-penalties", &grid.blank_penalties),
    ] {
        if v.is_empty() || v.iter().any(|x| !x.is_finite()) {
            return Err(Error::Options(format!("{name} must be a list of finite numbers")));
        }
    }
    for &p in &grid.blank_penalties {
        check_blank_penalty(p).map_err(|e| Error::Options(format!("--blank-penalties: {e}")))?;
    }
    if args.save && !model_path.is_dir() {
        return Err(Error::Options(format!(
            "--save needs a model directory (with model.json), not {}",
            model_path.display()
        )));
    }
    let warps = args.warps.or(cfg.warps)?;
    let lm = ArpaLm::from_file(&lm_path)?;
    let alphabet = model.config.alphabet.clone();
    let post = posteriors_of(&model, &args.data, &warps, args.max_utterances, "acoustic model")?;
    let (gw, gc) = post.score(&alphabet, None, None);
    println!(
        "{} utterances; greedy, no LM: WER {gw:.2}%  CER {gc:.2}%\nLM {}",
        post.len(),
        lm_path.display()
    );
    let mut header = false;
    let report = tune_grid(&post, &alphabet, &lm, &grid, args.beam, &mut |p: &TunePoint| {
        if !header {
            header = true;
            println!("{:>8} {:>8} {:>8} {:>8} {:>8}", "blank", "weight", "bonus", "WER%", "CER%");
        }
        println!(
            "{:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>8.2}",
            p.blank_penalty, p.lm_weight, p.word_bonus, p.wer, p.cer
        );
    })?;
    let b = report.best;
    println!(
        "best: --lm-weight {} --word-bonus {} --blank-penalty {}: WER {:.2}%  CER {:.2}%",
        b.lm_weight, b.word_bonus, b.blank_penalty, b.wer, b.cer
    );
    if args.save {
        let note = format!(
            "tuned by `hark lm tune` on {} ({} utterances{}): WER {:.2}%",
            args.data.display(),
            report.utterances,
            if warps.len() > 1 { ", with the warp ensemble" } else { "" },
            b.wer
        );
        save_tuned(&dir, &lm_path, args.beam, &warps, &b, note)?;
        eprintln!("saved {}", dir.join(crate::runtime::decoder::DECODER_FILE).display());
    }
    Ok(())
}

/// The network's outputs on at most `max_utterances` of the labeled folder `data` (evenly
/// spread; see [`Posteriors::compute`]), with a progress bar labelled `what`.
pub(crate) fn posteriors_of(
    model: &Model,
    data: &std::path::Path,
    warps: &[f64],
    max_utterances: usize,
    what: &str,
) -> Result<Posteriors> {
    let ds = scan_dataset(data, &model.config.alphabet, model.config.output_frames_per_second())?;
    if ds.utterances.is_empty() {
        return Err(Error::data(data, "no usable utterances"));
    }
    let n = ds.utterances.len().min(max_utterances.max(1));
    let pb = progress(n as u64, what);
    let post = Posteriors::compute(model, &ds.utterances, warps, max_utterances, &|| {
        if let Some(b) = &pb {
            b.inc(1);
        }
    })?;
    if let Some(b) = pb {
        b.finish_and_clear();
    }
    Ok(post)
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
