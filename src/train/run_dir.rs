//! The run folder: which files a run writes there, what an existing run is (so nothing is
//! replaced without consent), what a fine-tune carries into it from its starting model, and the
//! saved job a resume reads.

use std::path::Path;

use crate::model::ModelConfig;
use crate::train::job::TrainJob;
use crate::{Error, Result};

/// The files a run writes into its folder (see the module documentation).
const RUN_FILES: [&str; 9] = [
    "model.json",
    "model.safetensors",
    "last.json",
    "last.safetensors",
    "checkpoint.safetensors",
    "train.json",
    "log.jsonl",
    "decoder.json",
    "lm.arpa",
];

/// The run files already in `dir` (empty when there are none, or `dir` does not exist). A new
/// run into `dir` would replace them: the CLI refuses without `--force`, the app asks first.
pub fn existing_run(dir: &Path) -> Vec<String> {
    RUN_FILES.iter().filter(|f| dir.join(f).is_file()).map(|f| f.to_string()).collect()
}

/// Says what is in a folder that holds a run, for a refusal or a question.
pub fn describe_existing_run(dir: &Path) -> Option<String> {
    let files = existing_run(dir);
    if files.is_empty() {
        return None;
    }
    let model = crate::model::file::load_config::<ModelConfig>(&dir.join("model.json")).ok();
    let what = match model {
        Some(c) => format!(
            "a {}×{} model{}{}",
            c.arch.layers,
            c.arch.hidden,
            if c.name.is_empty() { String::new() } else { format!(" \"{}\"", c.name) },
            c.training.val_cer.map_or(String::new(), |v| format!(", validation CER {v:.1} %")),
        ),
        None => "a training run".to_string(),
    };
    Some(format!("{} already holds {what} ({})", dir.display(), files.join(", ")))
}

/// What a run's validation figures were measured on, for people.
pub fn describe_validation(job: &TrainJob, utterances: usize) -> String {
    match &job.validation {
        None => format!(
            "{utterances} held-out utterances of the training data (voices in the training data)"
        ),
        Some(p) => format!("{utterances} utterances of the validation folder {}", p.display()),
    }
}

/// A fine-tuned model decodes as the model it started from: that model's `decoder.json` and its
/// word LM (copied, so the run folder can be moved) go into the run folder. Nothing happens when
/// the starting model has no decoder settings.
pub fn carry_decoder(init: &Path, dir: &Path) -> Result<()> {
    use crate::runtime::decoder::{DECODER_FILE, DecoderConfig};
    let src = if init.is_dir() {
        init.to_path_buf()
    } else {
        init.parent().unwrap_or(Path::new(".")).to_path_buf()
    };
    if !src.join(DECODER_FILE).is_file() {
        return Ok(());
    }
    let (mut cfg, src_dir) = DecoderConfig::for_model(init)?;
    if let Some(lm) = &cfg.lm {
        crate::util::copy_atomic(&src_dir.join(lm), &dir.join(lm))?;
    }
    cfg.note = format!(
        "carried from the starting model {} (its note: {})",
        src.display(),
        if cfg.note.is_empty() { "none" } else { cfg.note.as_str() }
    );
    cfg.save(dir)
}

/// The job a run folder was started with (its `train.json`), to resume it.
pub fn saved_job(dir: &Path) -> Result<TrainJob> {
    let path = dir.join("train.json");
    if !path.is_file() {
        return Err(Error::Options(format!(
            "{}: no training run to resume here (train.json is missing)",
            dir.display()
        )));
    }
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    serde_json::from_str(&text)
        .map_err(|e| Error::data(&path, format!("not a valid run description: {e}")))
}
