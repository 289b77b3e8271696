//! Hot words: a user's list of words and phrases (names, jargon) that get a score boost in the
//! prefix beam search, so that the recognizer prefers them over similar-sounding common words.
//!
//! [`BiasedLm`] wraps an optional word language model. Each completed word that is a hot word,
//! or continues a hot phrase whose earlier words were just decoded, earns `boost` (in the
//! decoder's score units, natural log, independent of the LM weight). A hot word the LM has never
//! seen is scored as if it had probability [`HOT_OOV_PROB`] instead of `<unk>`'s, which for an
//! LM built without `<unk>` would be 10⁻¹⁰⁰ and rule the word out whatever the boost.
//!
//! State: the wrapped LM's state followed by the phrase positions matched so far (`phrase << 8 |
//! words matched`), then the wrapped state's length, all in one [`LmState`].

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

use crate::ctc::Alphabet;
use crate::ctc::lexicon::Lexicon;
use crate::ctc::lm::{LanguageModel, LmState};
use crate::error::{Error, Result};

/// Probability used for a hot word the wrapped language model does not know.
pub const HOT_OOV_PROB: f32 = 1e-4;
/// Longest hot phrase, in words.
pub const MAX_PHRASE_WORDS: usize = 255;

/// Normalized hot phrases (each a list of words) with a boost per matched word.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HotWords {
    phrases: Vec<Vec<String>>,
    words: HashSet<String>,
    /// Score added for each word that matches (decoder units: natural log).
    pub boost: f32,
}

impl HotWords {
    /// Hot phrases from text lines (normalized with `alphabet`); `source` names them in errors.
    pub fn new<'a>(
        lines: impl IntoIterator<Item = &'a str>,
        alphabet: &Alphabet,
        boost: f32,
        source: &Path,
    ) -> Result<Self> {
        if !boost.is_finite() || boost < 0.0 {
            return Err(Error::Options(format!(
                "the hot-word boost must be a finite number >= 0, got {boost}"
            )));
        }
        let mut hot = HotWords { boost, ..HotWords::default() };
        for (i, line) in lines.into_iter().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let text = alphabet
                .normalize(line)
                .map_err(|e| Error::data(source, format!("hot word {} ({line:?}): {e}", i + 1)))?;
            let words: Vec<String> = text.split(' ').map(str::to_string).collect();
            if words.len() > MAX_PHRASE_WORDS {
                return Err(Error::data(
                    source,
                    format!("hot phrase {} has more than {MAX_PHRASE_WORDS} words", i + 1),
                ));
            }
            if !hot.phrases.contains(&words) {
                hot.words.extend(words.iter().cloned());
                hot.phrases.push(words);
            }
        }
        Ok(hot)
    }

    /// Reads one word or phrase per line (`#` starts a comment line).
    pub fn from_file(path: &Path, alphabet: &Alphabet, boost: f32) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        HotWords::new(text.lines(), alphabet, boost, path)
    }

    pub fn is_empty(&self) -> bool {
        self.phrases.is_empty()
    }

    pub fn phrases(&self) -> &[Vec<String>] {
        &self.phrases
    }
}

/// A language model (or none) with hot-word boosts added.
pub struct BiasedLm {
    inner: Option<Arc<dyn LanguageModel>>,
    /// The wrapped LM's lexicon plus the hot words (`None` without a lexicon-constrained LM).
    lexicon: Option<Lexicon>,
    hot: HotWords,
    /// The decoder multiplies every LM score by this weight; the boost is divided by it so that
    /// it reaches the decoder score unscaled.
    lm_weight: f32,
}

impl BiasedLm {
    pub fn new(inner: Option<Arc<dyn LanguageModel>>, hot: HotWords, lm_weight: f32) -> Self {
        let lexicon = inner.as_ref().and_then(|m| m.lexicon()).cloned().map(|mut lx| {
            for w in &hot.words {
                lx.insert(w);
            }
            lx
        });
        BiasedLm { inner, lexicon, hot, lm_weight }
    }

    fn split<'s>(&self, state: &'s LmState) -> (LmState, &'s [u32]) {
        let v = &state.0;
        let inner_len = v.last().copied().unwrap_or(0) as usize;
        let inner_len = inner_len.min(v.len().saturating_sub(1));
        (LmState(v[..inner_len].to_vec()), &v[inner_len..v.len().saturating_sub(1)])
    }

    fn join(inner: LmState, active: Vec<u32>) -> LmState {
        let n = inner.0.len() as u32;
        let mut v = inner.0;
        v.extend(active);
        v.push(n);
        LmState(v)
    }
}

impl LanguageModel for BiasedLm {
    fn begin(&self) -> LmState {
        let inner = self.inner.as_ref().map_or(LmState::default(), |m| m.begin());
        BiasedLm::join(inner, Vec::new())
    }

    fn score_word(&self, state: &LmState, word: &str) -> (f32, LmState) {
        let (inner_state, active) = self.split(state);
        let is_hot = self.hot.words.contains(word);
        let (mut score, next_inner) = match &self.inner {
            Some(m) => {
                let (s, next) = m.score_word(&inner_state, word);
                let s = if is_hot && !m.knows(word) { s.max(HOT_OOV_PROB.ln()) } else { s };
                (s, next)
            }
            None => (0.0, inner_state),
        };
        if !is_hot {
            return (score, BiasedLm::join(next_inner, Vec::new()));
        }
        let mut matched = false;
        let mut next_active = Vec::new();
        let mut advance = |p: usize, pos: usize, next_active: &mut Vec<u32>| {
            let phrase = &self.hot.phrases[p];
            if phrase.get(pos).is_some_and(|w| w == word) {
                matched = true;
                if pos + 1 < phrase.len() {
                    next_active.push(((p as u32) << 8) | (pos as u32 + 1));
                }
            }
        };
        for &a in active {
            advance((a >> 8) as usize, (a & 0xff) as usize, &mut next_active);
        }
        for p in 0..self.hot.phrases.len() {
            advance(p, 0, &mut next_active);
        }
        next_active.sort_unstable();
        next_active.dedup();
        if matched {
            let w = if self.lm_weight > 0.0 { self.lm_weight } else { 1.0 };
            score += self.hot.boost / w;
        }
        (score, BiasedLm::join(next_inner, next_active))
    }

    fn score_end(&self, state: &LmState) -> f32 {
        let (inner_state, _) = self.split(state);
        self.inner.as_ref().map_or(0.0, |m| m.score_end(&inner_state))
    }

    fn knows(&self, word: &str) -> bool {
        self.hot.words.contains(word) || self.inner.as_ref().is_none_or(|m| m.knows(word))
    }

    fn lexicon(&self) -> Option<&Lexicon> {
        self.lexicon.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ctc::ArpaLm;

    const LM: &str = "\\data\\\nngram 1=5\n\n\\1-grams:\n-1.0\t<unk>\n-99\t<s>\n-0.6\t</s>\n\
        -0.4\tnew\n-0.5\tyork\n\n\\end\\\n";

    fn hot(lines: &[&str], boost: f32) -> HotWords {
        HotWords::new(lines.iter().copied(), &Alphabet::default(), boost, Path::new("hot.txt"))
            .unwrap()
    }

    #[test]
    fn words_and_phrases_get_the_boost() {
        let lm: Arc<dyn LanguageModel> = Arc::new(LM.parse::<ArpaLm>().unwrap());
        let plain = lm.clone();
        let biased = BiasedLm::new(Some(lm), hot(&["New York", "Zanzibar"], 3.0), 0.5);
        let ln10 = std::f32::consts::LN_10;
        let s0 = biased.begin();
        // "new" starts the phrase: boosted by 3 / 0.5 in LM units.
        let (s, s1) = biased.score_word(&s0, "new");
        assert!((s - (-0.4 * ln10 + 6.0)).abs() < 1e-5, "{s}");
        // "york" continues it: boosted again.
        let (s, s2) = biased.score_word(&s1, "york");
        assert!((s - (-0.5 * ln10 + 6.0)).abs() < 1e-5, "{s}");
        // Unknown hot word: <unk>'s score (here above the floor) + boost.
        let (s, _) = biased.score_word(&s2, "zanzibar");
        assert!((s - (-ln10 + 6.0)).abs() < 1e-4, "{s}");
        // Without <unk> in the LM, the floor probability replaces 10^-100.
        let no_unk = LM.replace("-1.0\t<unk>\n", "").replace("ngram 1=5", "ngram 1=4");
        let lm2: Arc<dyn LanguageModel> = Arc::new(no_unk.parse::<ArpaLm>().unwrap());
        let biased2 = BiasedLm::new(Some(lm2), hot(&["Zanzibar"], 3.0), 0.5);
        let (s, _) = biased2.score_word(&biased2.begin(), "zanzibar");
        assert!((s - (HOT_OOV_PROB.ln() + 6.0)).abs() < 1e-4, "{s}");
        // A word that is not hot is scored exactly like the plain LM, and the end too.
        let (s, s3) = biased.score_word(&s2, "blue");
        assert_eq!(s, plain.score_word(&plain.begin(), "blue").0);
        assert_eq!(biased.score_end(&s3), plain.score_end(&plain.begin()));
    }

    #[test]
    fn phrase_state_needs_the_previous_words() {
        let biased = BiasedLm::new(None, hot(&["new york city"], 2.0), 0.5);
        let s0 = biased.begin();
        // Without an LM non-hot words score 0 (and the decoder's weight 0.5 halves 4.0 to 2.0).
        let (s, _) = biased.score_word(&s0, "city");
        assert_eq!(s, 0.0, "city is boosted only after 'new york'");
        let (_, s1) = biased.score_word(&s0, "new");
        let (_, s2) = biased.score_word(&s1, "york");
        let (s, _) = biased.score_word(&s2, "city");
        assert_eq!(s, 4.0);
        let (_, broken) = biased.score_word(&s1, "jersey");
        let (s, _) = biased.score_word(&broken, "york");
        assert_eq!(s, 0.0);
    }

    #[test]
    fn bad_hot_words_are_reported() {
        let e = HotWords::new(["ok", "C3PO"], &Alphabet::default(), 1.0, Path::new("h.txt"));
        let msg = e.unwrap_err().to_string();
        assert!(msg.contains("h.txt") && msg.contains("hot word 2"), "{msg}");
        assert!(HotWords::new(["a"], &Alphabet::default(), f32::NAN, Path::new("h")).is_err());
        let h = hot(&["# comment", "", "Hello", "hello"], 1.0);
        assert_eq!(h.phrases(), &[vec!["hello".to_string()]]);
    }
}
