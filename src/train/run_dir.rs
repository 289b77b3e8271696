//! The run folder: which files a run writes there, what an existing run is (so nothing is
//! replaced without consent), what a fine-tune carries into it from its starting model, and the
//! saved job a resume reads.

use std::path::Path;

use crate::model::ModelConfig;
use crate::train::job::TrainJob;
use crate::{Error, Result};

/// The files a run writes into its folder (see the module documentation).
const RUN_FILES: [&str; 10] = [
    "model.json",
    "model.safetensors",
    "last.json",
    "last.safetensors",
    "checkpoint.safetensors",
    "train.json",
    "log.jsonl",
    "decoder.json",
    "lm.arpa",
    "lm.arpa.gz",
];

/// The run files already in `dir` (empty when there are none, or `dir` does not exist). A new
/// run into `dir` would replace them: the CLI refuses without `--force`, the app asks first.
pub fn existing_run(dir: &Path) -> Vec<String> {
    let mut files: Vec<String> =
        RUN_FILES.iter().filter(|f| dir.join(f).is_file()).map(|f| f.to_string()).collect();
    // The word LM a carried decoder.json names, whatever its name (a fine-tune copies the
    // starting model's LM under that model's file name).
    if let Some(lm) = decoder_lm(dir).filter(|lm| !files.contains(lm)) {
        files.push(lm);
    }
    // Kept epochs (`--keep-epochs`), in order.
    let mut epochs: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.path().is_file())
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .filter(|n| is_epoch_weights_file(n))
        .collect();
    epochs.sort();
    files.extend(epochs);
    files
}

/// The file name of the word LM named by `dir/decoder.json`, when that is a file directly in
/// `dir` (a decoder.json that cannot be read names none).
fn decoder_lm(dir: &Path) -> Option<String> {
    use crate::runtime::decoder::{DECODER_FILE, DecoderConfig};
    if !dir.join(DECODER_FILE).is_file() {
        return None;
    }
    let (cfg, _) = DecoderConfig::for_model(dir).ok()?;
    let lm = cfg.lm?;
    let name = Path::new(&lm).file_name()?.to_str()?.to_string();
    (Path::new(&lm) == Path::new(&name) && dir.join(&name).is_file()).then_some(name)
}

/// The name (without extension) of epoch `n`'s weights (1-based) in a run with `keep_epochs`.
pub fn epoch_weights_stem(n: u64) -> String {
    format!("epoch-{n:03}")
}

/// `epoch-NNN.json` or `epoch-NNN.safetensors`.
fn is_epoch_weights_file(name: &str) -> bool {
    let Some(rest) = name.strip_prefix("epoch-") else { return false };
    let Some(num) = rest.strip_suffix(".json").or_else(|| rest.strip_suffix(".safetensors")) else {
        return false;
    };
    !num.is_empty() && num.bytes().all(|b| b.is_ascii_digit())
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
    let src = if init.is_dir() {
        init.to_path_buf()
    } else {
        init.parent().unwrap_or(Path::new(".")).to_path_buf()
    };
    copy_decoder(init, dir, |note| {
        format!("carried from the starting model {} (its note: {note})", src.display())
    })
}

/// Copies the decoder settings of the model at `from` (and the word LM they name) into `dir`,
/// their note replaced by `note(old note or "none")`. Nothing happens when `from` has none.
pub fn copy_decoder(from: &Path, dir: &Path, note: impl FnOnce(&str) -> String) -> Result<()> {
    use crate::runtime::decoder::{DECODER_FILE, DecoderConfig};
    let (mut cfg, src_dir) = DecoderConfig::for_model(from)?;
    if !src_dir.join(DECODER_FILE).is_file() {
        return Ok(());
    }
    if let Some(lm) = &cfg.lm {
        crate::util::copy_atomic(&src_dir.join(lm), &dir.join(lm))?;
    }
    cfg.note = note(if cfg.note.is_empty() { "none" } else { cfg.note.as_str() });
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_lm_named_by_decoder_json_counts_as_a_run_file() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        assert!(existing_run(d).is_empty());
        std::fs::write(d.join("decoder.json"), r#"{"lm": "my words.arpa", "lm_weight": 0.5}"#)
            .unwrap();
        // Named but absent: only decoder.json.
        assert_eq!(existing_run(d), ["decoder.json"]);
        std::fs::write(d.join("my words.arpa"), "\\data\\\n").unwrap();
        std::fs::write(d.join("epoch-002.json"), "{}").unwrap();
        std::fs::write(d.join("notes.txt"), "mine").unwrap();
        assert_eq!(existing_run(d), ["decoder.json", "my words.arpa", "epoch-002.json"]);
        // The standard name is listed once; an LM outside the folder is not the run's.
        std::fs::write(d.join("decoder.json"), r#"{"lm": "lm.arpa"}"#).unwrap();
        std::fs::write(d.join("lm.arpa"), "\\data\\\n").unwrap();
        assert_eq!(existing_run(d), ["decoder.json", "lm.arpa", "epoch-002.json"]);
        std::fs::write(d.join("decoder.json"), r#"{"lm": "../lm.arpa"}"#).unwrap();
        std::fs::remove_file(d.join("lm.arpa")).unwrap();
        assert_eq!(existing_run(d), ["decoder.json", "epoch-002.json"]);
        // Damaged settings name no LM (and do not stop the listing).
        std::fs::write(d.join("decoder.json"), "{not json").unwrap();
        assert_eq!(existing_run(d), ["decoder.json", "epoch-002.json"]);
    }
}
