//! `hark average`: one model whose weights are the mean of several models of one training run
//! (see [`crate::model::average`]).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;

use crate::model::average::average;
use crate::model::{Model, ModelPaths};
use crate::{Error, Result};

#[derive(Debug, Args)]
pub struct AverageArgs {
    /// The models to average (directories or NAME.json), oldest first: typically the last few
    /// epochs of one run kept with `hark train --keep-epochs` (RUN/epoch-006.json …
    /// RUN/epoch-008.json). Only models of one training run (or a run and the model it
    /// fine-tuned) can be averaged; the architecture, front end and alphabet must match.
    #[arg(required = true, num_args = 2..)]
    pub models: Vec<PathBuf>,
    /// Folder to write the averaged model into (model.json + model.safetensors, with the newest
    /// model's decoder settings and word LM). A folder that holds a model is refused unless
    /// --force is given.
    #[arg(long)]
    pub out: PathBuf,
    /// Measure the averaged model (greedy, one pass, as training validates) on this labeled
    /// folder and store the result as its validation figures; the inputs' recorded figures are
    /// printed beside it.
    #[arg(long)]
    pub val: Option<PathBuf>,
    /// Name stored in the averaged model (default: the newest model's).
    #[arg(long)]
    pub name: Option<String>,
    /// Replace a model already in --out.
    #[arg(long)]
    pub force: bool,
}

pub fn average_cmd(args: &AverageArgs) -> ExitCode {
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hark average: {e}");
            super::exit_code_for(&e)
        }
    }
}

fn run(args: &AverageArgs) -> Result<()> {
    let out = &args.out;
    let out_paths =
        ModelPaths { config: out.join("model.json"), weights: out.join("model.safetensors") };
    for m in &args.models {
        let p = ModelPaths::resolve(m);
        if crate::util::same_file(&p.config, &out_paths.config)
            || crate::util::same_file(&p.weights, &out_paths.weights)
        {
            return Err(Error::Options(format!(
                "{} is one of the models to average: choose another output folder",
                out.display()
            )));
        }
    }
    if out.exists() && !out.is_dir() {
        return Err(Error::Options(format!("{}: not a folder", out.display())));
    }
    if !args.force && (out_paths.config.exists() || out_paths.weights.exists()) {
        let what = crate::train::run_dir::describe_existing_run(out)
            .unwrap_or_else(|| format!("{} already holds a model", out.display()));
        return Err(Error::Options(format!(
            "{what}; replace it with --force, or choose another output folder"
        )));
    }
    let mut models = Vec::with_capacity(args.models.len());
    for m in &args.models {
        models.push(Model::load(m)?);
    }
    let labels: Vec<String> = args.models.iter().map(|p| p.display().to_string()).collect();
    let mut avg = average(&models, &labels)?;
    if let Some(name) = args.name.as_deref().map(str::trim).filter(|n| !n.is_empty()) {
        avg.config.name = name.to_string();
    }
    for (m, label) in models.iter().zip(&labels) {
        let t = &m.config.training;
        match (t.val_cer, t.val_wer) {
            (Some(c), Some(w)) => println!(
                "{label}: validation CER {c:.2} %, WER {w:.2} % (recorded: {})",
                if t.validation.is_empty() { "validation set unnamed" } else { &t.validation }
            ),
            _ => println!("{label}: no validation figures recorded"),
        }
    }
    if let Some(val) = &args.val {
        let (cer, wer, n) = validate(&avg, val)?;
        println!(
            "average of {}: validation CER {cer:.2} %, WER {wer:.2} % ({n} utterances of {}, greedy)",
            models.len(),
            val.display()
        );
        let t = &mut avg.config.training;
        t.val_cer = Some(cer);
        t.val_wer = Some(wer);
        t.validation = format!("{n} utterances of the validation folder {}", val.display());
    }
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    avg.save(out)?;
    carry_newest_decoder(&args.models[args.models.len() - 1], out, models.len())?;
    println!("averaged model: {}", out.display());
    Ok(())
}

/// Greedy one-pass CER and WER (percent) on a labeled folder, and how many utterances.
fn validate(model: &Model, data: &Path) -> Result<(f64, f64, usize)> {
    let post =
        super::lm_cmds::posteriors_of(model, data, &[1.0], usize::MAX, "validating the average")?;
    let (wer, cer) = post.score(&model.config.alphabet, None, None);
    Ok((cer, wer, post.len()))
}

/// The averaged model decodes as the newest input does: its `decoder.json` and word LM (copied)
/// go into `out`. Nothing happens when it has no decoder settings.
fn carry_newest_decoder(newest: &Path, out: &Path, n: usize) -> Result<()> {
    crate::train::run_dir::copy_decoder(newest, out, |note| {
        format!(
            "carried from {}, the newest of the {n} averaged models (its note: {note})",
            newest.display()
        )
    })
}
