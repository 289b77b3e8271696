//! Decoder settings that travel with a model, and the assembly of the word language model and
//! hot words that the beam search queries.
//!
//! A model directory may hold `decoder.json` next to `model.json`:
//!
//! ```json
//! { "lm": "lm.arpa", "lm_weight": 1.0, "word_bonus": -1.5, "blank_penalty": 2.0, "beam": 512,
//!   "warps": [0.9, 1.0, 1.1], "note": "tuned on …" }
//! ```
//!
//! `lm` is relative to the directory; `blank_penalty` (optional, 0 if absent) is subtracted from
//! the blank's ln-probability in the beam search; `warps` (optional) makes file decoding average the network
//! over frequency-warped views ([`crate::model::Model::ensemble_log_probs`]; live finals do the
//! same, live partials stay at one pass). Whoever loads the model (CLI, live recognizer, GUI)
//! uses these as the defaults, so a shipped model decodes with its tuned language model out of
//! the box; explicit options override them.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::ctc::decode::decodes_greedily;
use crate::ctc::lm::{ArpaLm, LanguageModel};
use crate::ctc::{BeamOptions, BiasedLm, HotWords};
use crate::error::{Error, Result};

/// File name of the decoder settings inside a model directory.
pub const DECODER_FILE: &str = "decoder.json";

/// Decoder defaults stored with a model (`DIR/decoder.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DecoderConfig {
    /// ARPA language model, relative to the model directory.
    pub lm: Option<String>,
    pub lm_weight: f32,
    pub word_bonus: f32,
    /// Subtracted from the blank's ln-probability in the beam search (0 = none; see
    /// [`BeamOptions::blank_penalty`]). Files without it decode with none.
    pub blank_penalty: f32,
    /// Beam width (1 with no LM = greedy).
    pub beam: usize,
    /// Frequency warps whose network outputs file decoding averages (empty: one unwarped pass).
    pub warps: Vec<f64>,
    /// Free text: how the weights were chosen.
    pub note: String,
}

impl Default for DecoderConfig {
    fn default() -> Self {
        let b = BeamOptions::default();
        DecoderConfig {
            lm: None,
            lm_weight: b.lm_weight,
            word_bonus: b.word_bonus,
            blank_penalty: 0.0,
            beam: 1,
            warps: Vec::new(),
            note: String::new(),
        }
    }
}

impl DecoderConfig {
    /// The settings stored with the model at `model_path` (a directory, or `NAME.json`, whose
    /// directory is searched); the defaults if there are none.
    pub fn for_model(model_path: &Path) -> Result<(Self, PathBuf)> {
        let dir = if model_path.is_dir() {
            model_path.to_path_buf()
        } else {
            model_path.parent().map(Path::to_path_buf).unwrap_or_default()
        };
        let file = dir.join(DECODER_FILE);
        if !file.is_file() {
            return Ok((DecoderConfig::default(), dir));
        }
        let size = std::fs::metadata(&file).map_err(|e| Error::io(&file, e))?.len();
        if size > MAX_DECODER_FILE_BYTES {
            return Err(Error::model(
                &file,
                format!(
                    "{size} bytes is too large for decoder settings (at most \
                     {MAX_DECODER_FILE_BYTES}; it holds a few numbers and a file name)"
                ),
            ));
        }
        let text = std::fs::read_to_string(&file).map_err(|e| Error::io(&file, e))?;
        let cfg: DecoderConfig = serde_json::from_str(&text)
            .map_err(|e| Error::model(&file, format!("not valid decoder settings: {e}")))?;
        cfg.validate(&file)?;
        Ok((cfg, dir))
    }

    fn validate(&self, file: &Path) -> Result<()> {
        for (name, v) in [("lm_weight", self.lm_weight), ("word_bonus", self.word_bonus)] {
            if !v.is_finite() {
                return Err(Error::model(file, format!("{name} must be a finite number, got {v}")));
            }
        }
        check_blank_penalty(self.blank_penalty).map_err(|e| Error::model(file, e))?;
        check_warps(&self.warps).map_err(|e| Error::model(file, e))?;
        check_beam(self.beam).map_err(|e| Error::model(file, e))?;
        if let Some(lm) = &self.lm {
            let p = Path::new(lm);
            if p.is_absolute() || p.components().any(|c| c == std::path::Component::ParentDir) {
                return Err(Error::model(
                    file,
                    format!("lm must be a file inside the model directory, got {lm:?}"),
                ));
            }
        }
        Ok(())
    }

    /// Writes `DIR/decoder.json` (atomically).
    pub fn save(&self, dir: &Path) -> Result<()> {
        let file = dir.join(DECODER_FILE);
        self.validate(&file)?;
        let json = serde_json::to_string_pretty(self).expect("decoder settings serialize");
        crate::util::write_atomic(&file, format!("{json}\n").as_bytes())
    }
}

/// Why `warps` cannot be a warp ensemble, if it cannot: every factor must lie in
/// [`crate::features::mfcc::WARP_RANGE`] and there are at most 9.
pub fn check_warps(warps: &[f64]) -> std::result::Result<(), String> {
    let range = crate::features::mfcc::WARP_RANGE;
    if let Some(w) = warps.iter().find(|w| !range.contains(*w)) {
        return Err(format!("warps must lie in {}..={}, got {w}", range.start(), range.end()));
    }
    if warps.len() > 9 {
        return Err(format!(
            "at most 9 warps (each one is a pass of the network), got {}",
            warps.len()
        ));
    }
    Ok(())
}

/// Largest blank penalty accepted (ln units): at 10 the blank would be e^-10 as likely, which
/// no useful setting comes near (the shipped model's tuned value is 2).
pub const MAX_BLANK_PENALTY: f32 = 10.0;

/// Why `p` cannot be a blank penalty, if it cannot: it must be finite and within
/// ±[`MAX_BLANK_PENALTY`] (a negative one favours the blank).
pub fn check_blank_penalty(p: f32) -> std::result::Result<(), String> {
    if !p.is_finite() || p.abs() > MAX_BLANK_PENALTY {
        return Err(format!(
            "blank penalty must be a number from -{MAX_BLANK_PENALTY} to {MAX_BLANK_PENALTY}, got {p}"
        ));
    }
    Ok(())
}

/// The widest beam Hark searches: each step ranks up to beam × labels candidates, so a beam
/// far wider than any useful one (the shipped model uses 512) only costs memory and time.
pub const MAX_BEAM: usize = 4096;

/// Largest decoder.json read.
pub const MAX_DECODER_FILE_BYTES: u64 = 1 << 20;

/// Why `beam` cannot be a beam width, if it cannot.
pub fn check_beam(beam: usize) -> std::result::Result<(), String> {
    if beam > MAX_BEAM {
        return Err(format!("beam {beam} is wider than the {MAX_BEAM} Hark searches"));
    }
    Ok(())
}

/// What a caller asks of the decoder on top of the model's own settings (the CLI's flags; the
/// app asks for nothing extra). `None` = the model's value or the generic default.
#[derive(Default)]
pub struct DecoderChoice {
    /// An ARPA LM instead of the model's.
    pub lm: Option<PathBuf>,
    /// No LM, even if the model ships with one.
    pub no_lm: bool,
    pub lm_weight: Option<f32>,
    pub word_bonus: Option<f32>,
    pub blank_penalty: Option<f32>,
    pub hot: Option<HotWords>,
    pub beam: Option<usize>,
}

/// What the decoder runs with: beam settings, and the LM (with hot words) if any.
#[derive(Clone)]
pub struct DecoderSetup {
    pub beam: BeamOptions,
    pub lm: Option<Arc<dyn LanguageModel>>,
    /// The ARPA file in use, for reports.
    pub lm_path: Option<PathBuf>,
    /// Frequency warps averaged by file decoding (empty: one unwarped pass).
    pub warps: Vec<f64>,
}

impl std::fmt::Debug for DecoderSetup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DecoderSetup")
            .field("beam", &self.beam)
            .field("lm_path", &self.lm_path)
            .field("warps", &self.warps)
            .finish_non_exhaustive()
    }
}

impl DecoderSetup {
    /// Greedy decoding, no language model.
    pub fn greedy() -> Self {
        DecoderSetup {
            beam: BeamOptions { beam_width: 1, ..BeamOptions::default() },
            lm: None,
            lm_path: None,
            warps: Vec::new(),
        }
    }

    /// What the model at `model_path` ships with: its `decoder.json` settings and language model
    /// loaded; greedy decoding when it has none. An LM that is named but missing or malformed is
    /// an error naming the file.
    pub fn for_model(model_path: &Path) -> Result<Self> {
        Self::resolve(model_path, DecoderChoice::default())
    }

    /// The model's own settings (`decoder.json`) with `choice` on top: an explicit LM replaces
    /// the model's (with the generic weights unless given), `no_lm` drops it, hot words bias
    /// the search. Beam width: the choice's, else the model's with its own LM, else 16 with any
    /// LM or hot words, else 1. Blank penalty: the choice's, else the model's with its own LM
    /// (it was tuned with it), else none.
    pub fn resolve(model_path: &Path, choice: DecoderChoice) -> Result<Self> {
        let (cfg, dir) = DecoderConfig::for_model(model_path)?;
        let own_lm = cfg.lm.as_ref().map(|f| dir.join(f));
        let lm_path = if choice.no_lm { None } else { choice.lm.or(own_lm.clone()) };
        let using_own = lm_path.is_some() && lm_path == own_lm;
        let d = BeamOptions::default();
        let (lm_weight, word_bonus) = if using_own {
            (choice.lm_weight.unwrap_or(cfg.lm_weight), choice.word_bonus.unwrap_or(cfg.word_bonus))
        } else if lm_path.is_some() {
            (choice.lm_weight.unwrap_or(d.lm_weight), choice.word_bonus.unwrap_or(d.word_bonus))
        } else {
            // Hot words alone: no LM preference for short outputs to counter.
            (choice.lm_weight.unwrap_or(d.lm_weight), choice.word_bonus.unwrap_or(0.0))
        };
        let has_hot = choice.hot.as_ref().is_some_and(|h| !h.is_empty());
        let arpa = match &lm_path {
            Some(p) => Some(ArpaLm::from_file(p)?),
            None => None,
        };
        if let Some(b) = choice.beam {
            check_beam(b).map_err(Error::Options)?;
        }
        let blank_penalty =
            choice.blank_penalty.unwrap_or(if using_own { cfg.blank_penalty } else { 0.0 });
        check_blank_penalty(blank_penalty).map_err(Error::Options)?;
        let beam_width = choice.beam.unwrap_or(if using_own {
            cfg.beam.max(1)
        } else if arpa.is_some() || has_hot {
            16
        } else {
            1
        });
        let lm = assemble_lm(arpa, choice.hot, lm_weight);
        // Greedy decoding takes the best label per frame and has no use for a penalty: none is
        // kept, so reports (describe, eval JSON) do not show one that was not applied.
        let mut beam = BeamOptions { beam_width, lm_weight, word_bonus, blank_penalty, ..d };
        if decodes_greedily(&beam, lm.is_some()) {
            beam.blank_penalty = 0.0;
        }
        Ok(DecoderSetup { beam, lm, lm_path, warps: cfg.warps })
    }

    /// One line for people: "greedy" or "beam 16, word LM lm.arpa (weight 0.5, bonus 1.0)", with
    /// ", blank penalty 0.5" when the beam search has one and ", warp ensemble 0.9/1/1.1" when
    /// file decoding averages warped passes.
    pub fn describe(&self) -> String {
        let greedy = decodes_greedily(&self.beam, self.lm.is_some());
        let beam =
            if greedy { "greedy".to_string() } else { format!("beam {}", self.beam.beam_width) };
        let search = match (&self.lm, &self.lm_path) {
            (Some(_), Some(p)) => format!(
                "{beam}, word LM {} (weight {}, word bonus {})",
                p.file_name().map(|n| n.to_string_lossy()).unwrap_or_default(),
                self.beam.lm_weight,
                self.beam.word_bonus
            ),
            (Some(_), None) => format!("{beam}, hot words"),
            _ => beam,
        };
        let search = if !greedy && self.beam.blank_penalty != 0.0 {
            format!("{search}, blank penalty {}", self.beam.blank_penalty)
        } else {
            search
        };
        if self.warps.len() > 1 {
            let list: Vec<String> = self.warps.iter().map(|w| w.to_string()).collect();
            format!("{search}, warp ensemble {}", list.join("/"))
        } else {
            search
        }
    }
}

/// Combines an optional word LM and optional hot words into what the beam search queries.
pub fn assemble_lm(
    lm: Option<ArpaLm>,
    hot: Option<HotWords>,
    lm_weight: f32,
) -> Option<Arc<dyn LanguageModel>> {
    let lm: Option<Arc<dyn LanguageModel>> = lm.map(|l| Arc::new(l) as Arc<dyn LanguageModel>);
    match hot {
        Some(h) if !h.is_empty() => Some(Arc::new(BiasedLm::new(lm, h, lm_weight))),
        _ => lm,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_bad_files() {
        let dir = tempfile::tempdir().unwrap();
        let (none, d) = DecoderConfig::for_model(dir.path()).unwrap();
        assert_eq!(none, DecoderConfig::default());
        assert_eq!(d, dir.path());
        let cfg = DecoderConfig {
            lm: Some("lm.arpa".into()),
            lm_weight: 0.8,
            word_bonus: 2.0,
            blank_penalty: 0.5,
            beam: 16,
            warps: vec![0.9, 1.0, 1.1],
            note: "x".into(),
        };
        cfg.save(dir.path()).unwrap();
        let (back, _) = DecoderConfig::for_model(&dir.path().join("model.json")).unwrap();
        assert_eq!(back, cfg);
        std::fs::write(dir.path().join(DECODER_FILE), r#"{"lm": "../../etc/passwd"}"#).unwrap();
        let e = DecoderConfig::for_model(dir.path()).unwrap_err().to_string();
        assert!(e.contains("inside the model directory"), "{e}");
        std::fs::write(dir.path().join(DECODER_FILE), r#"{"lm_wieght": 1}"#).unwrap();
        let e = DecoderConfig::for_model(dir.path()).unwrap_err().to_string();
        assert!(e.contains("decoder.json") && e.contains("lm_wieght"), "{e}");
        // Files written before warp ensembles and blank penalties existed decode with one
        // unwarped pass and no penalty.
        std::fs::write(dir.path().join(DECODER_FILE), r#"{"lm_weight": 1}"#).unwrap();
        let old = DecoderConfig::for_model(dir.path()).unwrap().0;
        assert!(old.warps.is_empty());
        assert_eq!(old.blank_penalty, 0.0);
        for (bad, says) in [
            (r#""warps": [0.9, 1.5]"#, "0.8..=1.2, got 1.5"),
            (r#""warps": [1,1,1,1,1,1,1,1,1,1]"#, "at most 9"),
            (r#""blank_penalty": 12"#, "-10 to 10, got 12"),
            (r#""blank_penalty": -10.5"#, "-10 to 10, got -10.5"),
        ] {
            std::fs::write(dir.path().join(DECODER_FILE), format!("{{{bad}}}")).unwrap();
            let e = DecoderConfig::for_model(dir.path()).unwrap_err().to_string();
            assert!(e.contains("decoder.json") && e.contains(says), "{e}");
        }
    }

    #[test]
    fn setup_for_model_loads_its_lm_or_says_why_not() {
        let dir = tempfile::tempdir().unwrap();
        let none = DecoderSetup::for_model(dir.path()).unwrap();
        assert!(none.lm.is_none());
        assert_eq!(none.beam.beam_width, 1);
        assert_eq!(none.describe(), "greedy");
        let cfg = DecoderConfig {
            lm: Some("lm.arpa".into()),
            lm_weight: 0.7,
            word_bonus: 2.0,
            blank_penalty: 0.5,
            beam: 8,
            warps: vec![0.9, 1.0, 1.1],
            note: String::new(),
        };
        cfg.save(dir.path()).unwrap();
        let e = DecoderSetup::for_model(dir.path()).unwrap_err().to_string();
        assert!(e.contains("lm.arpa"), "{e}");
        let arpa =
            "\\data\\\nngram 1=3\n\n\\1-grams:\n-0.5\t<s>\t0\n-0.3\thello\n-0.3\t</s>\n\n\\end\\\n";
        std::fs::write(dir.path().join("lm.arpa"), arpa).unwrap();
        let s = DecoderSetup::for_model(&dir.path().join("model.json")).unwrap();
        let lm = s.lm.as_ref().unwrap();
        assert!(lm.knows("hello") && !lm.knows("world"));
        assert_eq!((s.beam.beam_width, s.beam.lm_weight, s.beam.word_bonus), (8, 0.7, 2.0));
        assert_eq!(s.beam.blank_penalty, 0.5);
        assert_eq!(s.warps, [0.9, 1.0, 1.1]);
        assert_eq!(
            s.describe(),
            "beam 8, word LM lm.arpa (weight 0.7, word bonus 2), blank penalty 0.5, \
             warp ensemble 0.9/1/1.1"
        );
        // The penalty was tuned with the model's own LM: another LM, or none, starts without
        // it unless asked for; asked for, it is checked.
        std::fs::write(dir.path().join("other.arpa"), arpa).unwrap();
        let other = DecoderChoice { lm: Some(dir.path().join("other.arpa")), ..Default::default() };
        assert_eq!(DecoderSetup::resolve(dir.path(), other).unwrap().beam.blank_penalty, 0.0);
        let no_lm = DecoderChoice { no_lm: true, ..Default::default() };
        let greedy = DecoderSetup::resolve(dir.path(), no_lm).unwrap();
        assert_eq!(
            (greedy.beam.blank_penalty, greedy.describe().as_str()),
            (0.0, "greedy, warp ensemble 0.9/1/1.1")
        );
        let asked = DecoderChoice { blank_penalty: Some(1.5), ..Default::default() };
        assert_eq!(DecoderSetup::resolve(dir.path(), asked).unwrap().beam.blank_penalty, 1.5);
        // Greedy decoding has no use for one, even asked for (live and file decoding agree).
        let greedy_asked =
            DecoderChoice { no_lm: true, blank_penalty: Some(1.5), ..Default::default() };
        let s = DecoderSetup::resolve(dir.path(), greedy_asked).unwrap();
        assert_eq!((s.beam.beam_width, s.beam.blank_penalty), (1, 0.0));
        let beam_asked = DecoderChoice {
            no_lm: true,
            blank_penalty: Some(1.5),
            beam: Some(4),
            ..Default::default()
        };
        let s = DecoderSetup::resolve(dir.path(), beam_asked).unwrap();
        assert_eq!((s.beam.beam_width, s.beam.blank_penalty), (4, 1.5));
        let bad = DecoderChoice { blank_penalty: Some(f32::NAN), ..Default::default() };
        let e = DecoderSetup::resolve(dir.path(), bad).unwrap_err().to_string();
        assert!(e.contains("blank penalty"), "{e}");
    }
}
