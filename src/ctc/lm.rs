//! Word language models for the CTC prefix beam search, and a back-off n-gram model read from the
//! ARPA text format (what KenLM's `lmplz` and SRILM's `ngram-count` write).
//!
//! All scores returned through [`LanguageModel`] are natural logarithms (ln), the unit of the
//! acoustic log-probabilities; ARPA files store log10 values, converted on load.

use std::collections::HashMap;
use std::path::Path;
use std::str::FromStr;

use crate::ctc::lexicon::Lexicon;
use crate::error::{Error, Result};

/// Opaque language-model context: for [`ArpaLm`], the ids of the most recent words (oldest first).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct LmState(pub Vec<u32>);

/// A word-level language model queried when the decoder completes a word.
pub trait LanguageModel: Send + Sync {
    /// The state at the start of an utterance (after `<s>`).
    fn begin(&self) -> LmState;
    /// `ln P(word | state)` and the state after the word.
    fn score_word(&self, state: &LmState, word: &str) -> (f32, LmState);
    /// `ln P(</s> | state)`: the utterance ends here.
    fn score_end(&self, state: &LmState) -> f32;
    /// Whether `word` is in the model's vocabulary (unknown words are scored as `<unk>`).
    fn knows(&self, _word: &str) -> bool {
        true
    }
    /// The words the decoder may produce while this model is used (`None`: any string).
    fn lexicon(&self) -> Option<&Lexicon> {
        None
    }
}

/// log10 probability given to an unknown word when the model has no `<unk>` (as KenLM does).
pub const MISSING_UNK_LOG10: f32 = -100.0;
/// Longest n-gram order accepted.
pub const MAX_ORDER: usize = 9;
/// Word id used for words outside the vocabulary when the model has no `<unk>`.
const OOV: u32 = u32::MAX;
/// Most ARPA text read from one file, after decompression (the shipped model's is 35 MB; a
/// model this large would not fit in memory once parsed).
pub const MAX_ARPA_BYTES: u64 = 1 << 30;
/// Most text read per compressed byte of a gzip-compressed ARPA file: ARPA text compresses
/// 3-4× (the shipped LM 2.8×), so a file claiming far more is refused before it is inflated.
pub const MAX_GZIP_RATIO: u64 = 20;
/// Text a gzip-compressed ARPA file may always inflate to, however small it is.
const MIN_GZIP_TEXT_BYTES: u64 = 1 << 20;
/// The first bytes of a gzip stream.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// The text of an ARPA file at `path`, plain or gzip-compressed, refused when it holds (or
/// decompresses to) more than `limit` bytes; a gzip file also when it inflates to more than
/// [`MAX_GZIP_RATIO`] times its size (at least 1 MiB), so a small hostile file cannot fill
/// memory.
pub fn read_arpa_text(path: &Path, limit: u64) -> Result<String> {
    use std::io::Read;
    let size = std::fs::metadata(path).map_err(|e| Error::io(path, e))?.len();
    let too_big = |what: &str| {
        Error::data(
            path,
            format!("{what} more than {limit} bytes of text, the most read for a language model"),
        )
    };
    if size > limit {
        return Err(too_big("holds"));
    }
    let mut bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    if bytes.starts_with(&GZIP_MAGIC) {
        let by_ratio = size.saturating_mul(MAX_GZIP_RATIO).max(MIN_GZIP_TEXT_BYTES);
        let cap = limit.min(by_ratio);
        let mut text = Vec::new();
        flate2::read::MultiGzDecoder::new(&bytes[..])
            .take(cap + 1)
            .read_to_end(&mut text)
            .map_err(|e| Error::data(path, format!("not a readable gzip file: {e}")))?;
        if text.len() as u64 > limit {
            return Err(too_big("decompresses to"));
        }
        if text.len() as u64 > cap {
            return Err(Error::data(
                path,
                format!(
                    "decompresses to more than {cap} bytes, over {MAX_GZIP_RATIO} times its \
                     {size} bytes (ARPA text compresses 3 to 4 times): not a language model"
                ),
            ));
        }
        bytes = text;
    }
    String::from_utf8(bytes).map_err(|e| {
        Error::data(
            path,
            format!("not UTF-8 text (invalid bytes at offset {})", e.utf8_error().valid_up_to()),
        )
    })
}

/// ARPA text as file bytes: gzip-compressed (best compression) when `path` ends in `.gz`,
/// else as it is. `ArpaLm::from_file` reads both.
pub fn arpa_file_bytes(path: &Path, text: &str) -> Result<Vec<u8>> {
    use std::io::Write;
    if path.extension().is_some_and(|e| e == "gz") {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        let done = enc.write_all(text.as_bytes()).and_then(|()| enc.finish());
        done.map_err(|e| Error::io(path, e))
    } else {
        Ok(text.as_bytes().to_vec())
    }
}

/// A back-off n-gram model: `P(w | h) = P*(w | h)` if the n-gram `h w` is listed, otherwise
/// `bow(h) · P(w | h′)` with `h′` the history without its oldest word (`bow(h) = 1` when `h` is
/// not listed). Words outside the vocabulary are scored as `<unk>`.
#[derive(Debug, Clone)]
pub struct ArpaLm {
    order: usize,
    vocab: HashMap<String, u32>,
    /// `ngrams[n-1]` maps an n-gram's word ids to (log10 P, log10 back-off weight).
    ngrams: Vec<HashMap<Vec<u32>, (f32, f32)>>,
    bos: u32,
    eos: u32,
    unk: Option<u32>,
    lexicon: Lexicon,
}

impl FromStr for ArpaLm {
    type Err = Error;
    fn from_str(text: &str) -> Result<Self> {
        ArpaLm::parse(text, Path::new("(ARPA text)"))
    }
}

impl ArpaLm {
    /// Reads an ARPA file. Errors name the file and line.
    /// The file may be gzip-compressed (`lm.arpa.gz`, told by its first bytes, not its name);
    /// its text is read up to [`MAX_ARPA_BYTES`].
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = read_arpa_text(path, MAX_ARPA_BYTES)?;
        ArpaLm::parse(&text, path)
    }

    /// The model's order (3 for a trigram model).
    pub fn order(&self) -> usize {
        self.order
    }

    /// Number of distinct words (including `<s>`, `</s>`, `<unk>`).
    pub fn vocab_size(&self) -> usize {
        self.vocab.len()
    }

    /// Parses ARPA text; `path` only names the source in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Self> {
        let err = |line: usize, reason: String| Error::data(path, format!("line {line}: {reason}"));
        let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l.trim()));

        // Anything before \data\ is a free-form header.
        let mut found = false;
        for (_, l) in lines.by_ref() {
            if l == "\\data\\" {
                found = true;
                break;
            }
        }
        if !found {
            return Err(Error::data(path, "not an ARPA file: no \\data\\ line"));
        }
        let mut counts: Vec<usize> = Vec::new();
        let mut pending: Option<(usize, &str)> = None;
        for (n, l) in lines.by_ref() {
            if l.is_empty() {
                continue;
            }
            let Some(rest) = l.strip_prefix("ngram ") else {
                pending = Some((n, l));
                break;
            };
            let (order, count) = rest
                .split_once('=')
                .and_then(|(o, c)| Some((o.trim().parse::<usize>().ok()?, c.trim().parse().ok()?)))
                .ok_or_else(|| err(n, format!("expected `ngram N=COUNT`, found {l:?}")))?;
            if order != counts.len() + 1 {
                return Err(err(
                    n,
                    format!("expected the count of {}-grams, found {l:?}", counts.len() + 1),
                ));
            }
            if order > MAX_ORDER {
                return Err(err(n, format!("order {order} is above the supported {MAX_ORDER}")));
            }
            counts.push(count);
        }
        if counts.is_empty() {
            return Err(Error::data(path, "the \\data\\ section lists no `ngram N=COUNT` lines"));
        }
        let order = counts.len();
        // Every entry is a line of at least "P W" (3 bytes) and its line break, so a header
        // announcing more entries than the text can hold is a lie: refuse it before reserving room.
        let room = text.len() / 4 + 1;
        let announced = counts.iter().try_fold(0usize, |a, &c| a.checked_add(c));
        if announced.is_none_or(|total| total > room) {
            return Err(Error::data(
                path,
                format!(
                    "\\data\\ announces {} n-grams ({}) but the file's {} bytes hold at most {room}",
                    announced.map_or("more than 2^64".to_string(), |t| t.to_string()),
                    counts
                        .iter()
                        .enumerate()
                        .map(|(i, c)| format!("{}-grams: {c}", i + 1))
                        .collect::<Vec<_>>()
                        .join(", "),
                    text.len()
                ),
            ));
        }
        let mut vocab: HashMap<String, u32> = HashMap::new();
        let mut ngrams: Vec<HashMap<Vec<u32>, (f32, f32)>> =
            counts.iter().map(|&c| HashMap::with_capacity(c)).collect();
        let mut current: usize = 0; // n of the section being read; 0 = none yet
        let mut ended = false;
        let mut last_line = 0;
        let mut key: Vec<u32> = Vec::with_capacity(order);
        for (n, l) in pending.into_iter().chain(lines) {
            last_line = n;
            if l.is_empty() {
                continue;
            }
            if l == "\\end\\" {
                ended = true;
                break;
            }
            if let Some(sec) = l.strip_prefix('\\').and_then(|s| s.strip_suffix("-grams:")) {
                let k: usize = sec
                    .parse()
                    .map_err(|_| err(n, format!("unrecognized section header {l:?}")))?;
                if current > 0 && ngrams[current - 1].len() != counts[current - 1] {
                    return Err(err(
                        n,
                        format!(
                            "the {current}-gram section has {} entries but \\data\\ announced {}",
                            ngrams[current - 1].len(),
                            counts[current - 1]
                        ),
                    ));
                }
                if k != current + 1 || k > order {
                    return Err(err(n, format!("expected \\{}-grams:, found {l:?}", current + 1)));
                }
                current = k;
                continue;
            }
            if current == 0 {
                return Err(err(n, format!("expected \\1-grams:, found {l:?}")));
            }
            let mut fields = l.split_whitespace();
            let prob: f32 = fields
                .next()
                .and_then(|f| f.parse().ok())
                .filter(|p: &f32| p.is_finite() && *p <= 0.0)
                .ok_or_else(|| err(n, format!("expected a log10 probability <= 0, found {l:?}")))?;
            key.clear();
            for _ in 0..current {
                let w = fields.next().ok_or_else(|| {
                    err(n, format!("a {current}-gram needs {current} words: {l:?}"))
                })?;
                let id = if current == 1 {
                    let next = vocab.len() as u32;
                    *vocab.entry(w.to_string()).or_insert(next)
                } else {
                    *vocab.get(w).ok_or_else(|| {
                        err(n, format!("word {w:?} is not listed among the 1-grams"))
                    })?
                };
                key.push(id);
            }
            let backoff: f32 = match fields.next() {
                None => 0.0,
                Some(f) => f
                    .parse()
                    .ok()
                    .filter(|b: &f32| b.is_finite())
                    .ok_or_else(|| err(n, format!("bad back-off weight {f:?}")))?,
            };
            if let Some(extra) = fields.next() {
                return Err(err(n, format!("unexpected field {extra:?} after a {current}-gram")));
            }
            if ngrams[current - 1].insert(key.clone(), (prob, backoff)).is_some() {
                return Err(err(n, format!("duplicate {current}-gram {l:?}")));
            }
        }
        if !ended {
            return Err(err(last_line, "the file ends without \\end\\".into()));
        }
        if current != order {
            return Err(err(last_line, format!("{order} orders announced, {current} found")));
        }
        if ngrams[order - 1].len() != counts[order - 1] {
            return Err(err(
                last_line,
                format!(
                    "the {order}-gram section has {} entries but \\data\\ announced {}",
                    ngrams[order - 1].len(),
                    counts[order - 1]
                ),
            ));
        }
        let id = |w: &str| vocab.get(w).copied();
        let bos = id("<s>").ok_or_else(|| Error::data(path, "the 1-grams do not list <s>"))?;
        let eos = id("</s>").ok_or_else(|| Error::data(path, "the 1-grams do not list </s>"))?;
        let unk = id("<unk>");
        // Each word looks ahead with its unigram ln-probability.
        let mut lexicon = Lexicon::new();
        for (w, &i) in &vocab {
            if !matches!(w.as_str(), "<s>" | "</s>" | "<unk>") {
                let p = ngrams[0].get(&[i][..]).map_or(MISSING_UNK_LOG10, |e| e.0);
                lexicon.insert_scored(w, p * std::f32::consts::LN_10);
            }
        }
        Ok(ArpaLm { order, vocab, ngrams, bos, eos, unk, lexicon })
    }

    fn word_id(&self, word: &str) -> u32 {
        self.vocab.get(word).copied().or(self.unk).unwrap_or(OOV)
    }

    /// `log10 P(w | history)`, history oldest first (only its last `order − 1` words matter).
    pub fn log10_prob(&self, history: &[u32], w: u32) -> f32 {
        let h = &history[history.len().saturating_sub(self.order - 1)..];
        let mut buf = [0u32; MAX_ORDER];
        let mut backoff = 0.0f32;
        for k in 0..=h.len() {
            let hist = &h[k..];
            buf[..hist.len()].copy_from_slice(hist);
            buf[hist.len()] = w;
            if let Some(&(p, _)) = self.ngrams[hist.len()].get(&buf[..=hist.len()]) {
                return backoff + p;
            }
            if !hist.is_empty()
                && let Some(&(_, bow)) = self.ngrams[hist.len() - 1].get(hist)
            {
                backoff += bow;
            }
        }
        // Not even a unigram: an out-of-vocabulary word and no <unk>.
        backoff + MISSING_UNK_LOG10
    }

    /// `log10 P(word | history)` with words given as text (unknown words are `<unk>`).
    pub fn log10_prob_words(&self, history: &[&str], word: &str) -> f32 {
        let h: Vec<u32> = history.iter().map(|w| self.word_id(w)).collect();
        self.log10_prob(&h, self.word_id(word))
    }

    /// Whether `word` is in the vocabulary.
    pub fn contains(&self, word: &str) -> bool {
        self.vocab.contains_key(word)
    }

    fn advance(&self, state: &LmState, w: u32) -> LmState {
        let keep = self.order - 1;
        let mut next: Vec<u32> = state.0.clone();
        next.push(w);
        if next.len() > keep {
            next.drain(..next.len() - keep);
        }
        LmState(next)
    }

    /// `log10 P(sentence)` including `</s>`, as SRILM's `ngram -ppl` reports it.
    pub fn sentence_log10(&self, words: &[&str]) -> f32 {
        let mut state = self.begin();
        let mut total = 0.0;
        for w in words {
            let id = self.word_id(w);
            total += self.log10_prob(&state.0, id);
            state = self.advance(&state, id);
        }
        total + self.log10_prob(&state.0, self.eos)
    }
}

impl LanguageModel for ArpaLm {
    fn begin(&self) -> LmState {
        LmState(if self.order > 1 { vec![self.bos] } else { Vec::new() })
    }

    fn score_word(&self, state: &LmState, word: &str) -> (f32, LmState) {
        let id = self.word_id(word);
        (self.log10_prob(&state.0, id) * std::f32::consts::LN_10, self.advance(state, id))
    }

    fn score_end(&self, state: &LmState) -> f32 {
        self.log10_prob(&state.0, self.eos) * std::f32::consts::LN_10
    }

    fn knows(&self, word: &str) -> bool {
        self.contains(word)
    }

    fn lexicon(&self) -> Option<&Lexicon> {
        Some(&self.lexicon)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BIGRAM: &str = "\\data\\\nngram 1=5\nngram 2=3\n\n\\1-grams:\n-1.0\t<unk>\n-99\t<s>\t-0.5\n\
        -0.6\t</s>\n-0.4\tthe\t-0.3\n-0.8\tcat\t-0.2\n\n\\2-grams:\n-0.2\t<s> the\n-0.5\tthe cat\n\
        -0.3\tcat </s>\n\n\\end\\\n";

    #[test]
    fn bigram_back_off_by_hand() {
        let lm: ArpaLm = BIGRAM.parse().unwrap();
        assert_eq!((lm.order(), lm.vocab_size()), (2, 5));
        let close = |a: f32, b: f32| assert!((a - b).abs() < 1e-5, "{a} vs {b}");
        // listed: P(the | <s>) = 10^-0.2; P(cat | the) = 10^-0.5; P(</s> | cat) = 10^-0.3
        close(lm.sentence_log10(&["the", "cat"]), -0.2 - 0.5 - 0.3);
        // backed off: P(cat | <s>) = bow(<s>) P(cat) = -0.5 - 0.8; P(</s> | cat) listed
        close(lm.sentence_log10(&["cat"]), -1.3 - 0.3);
        // unknown word → <unk>: P(dog | the) = bow(the) + P(<unk>) = -0.3 - 1.0,
        // then P(</s> | <unk>) = bow(<unk>) (0) + P(</s>) = -0.6
        close(lm.sentence_log10(&["the", "dog"]), -0.2 - 1.3 - 0.6);
        let (s, st) = lm.score_word(&lm.begin(), "the");
        close(s, -0.2 * std::f32::consts::LN_10);
        close(lm.score_end(&st), (-0.3 - 0.6) * std::f32::consts::LN_10);
    }

    /// A gzip file made by the system's `gzip` reads as its text; what `arpa_file_bytes` writes
    /// for a `.gz` name `gzip -d` restores; a plain name is written as it is.
    #[test]
    fn gzip_compressed_arpa_reads_like_the_text() {
        use std::process::Command;
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("lm.arpa");
        std::fs::write(&plain, BIGRAM).unwrap();
        let gz = Command::new("gzip").arg("-c").arg(&plain).output().unwrap();
        assert!(gz.status.success());
        let zipped = dir.path().join("any-name");
        std::fs::write(&zipped, &gz.stdout).unwrap();
        assert_eq!(read_arpa_text(&zipped, MAX_ARPA_BYTES).unwrap(), BIGRAM);
        let a = ArpaLm::from_file(&zipped).unwrap();
        let b = ArpaLm::from_file(&plain).unwrap();
        assert_eq!(a.sentence_log10(&["the", "cat"]), b.sentence_log10(&["the", "cat"]));

        let out = dir.path().join("made.arpa.gz");
        let bytes = arpa_file_bytes(&out, BIGRAM).unwrap();
        assert!(bytes.starts_with(&GZIP_MAGIC));
        std::fs::write(&out, &bytes).unwrap();
        let back = Command::new("gzip").arg("-dc").arg(&out).output().unwrap();
        assert_eq!(String::from_utf8(back.stdout).unwrap(), BIGRAM);
        assert_eq!(arpa_file_bytes(&plain, BIGRAM).unwrap(), BIGRAM.as_bytes());
    }

    /// A damaged gzip file, one that decompresses past the limit or far past its own size, a
    /// plain file past the limit and bytes that are not UTF-8 are errors naming the file.
    #[test]
    fn bad_or_oversized_arpa_files_are_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let gz = arpa_file_bytes(Path::new("x.gz"), BIGRAM).unwrap();
        let cut = dir.path().join("cut.arpa.gz");
        std::fs::write(&cut, &gz[..gz.len() / 2]).unwrap();
        let e = ArpaLm::from_file(&cut).unwrap_err().to_string();
        assert!(e.contains("cut.arpa.gz") && e.contains("not a readable gzip file"), "{e}");

        let whole = dir.path().join("whole.arpa.gz");
        std::fs::write(&whole, &gz).unwrap();
        let limit = BIGRAM.len() as u64 - 1;
        assert!((gz.len() as u64) < limit, "the compressed file itself is under the limit");
        let e = read_arpa_text(&whole, limit).unwrap_err().to_string();
        assert!(e.contains("whole.arpa.gz") && e.contains("decompresses to more than"), "{e}");
        assert_eq!(read_arpa_text(&whole, BIGRAM.len() as u64).unwrap(), BIGRAM);

        // 8 MiB of one repeated line packs into a few kilobytes: refused at 1 MiB of text.
        let bomb_text = "a\n".repeat(4 << 20);
        let bomb = dir.path().join("bomb.arpa.gz");
        std::fs::write(&bomb, arpa_file_bytes(&bomb, &bomb_text).unwrap()).unwrap();
        assert!(std::fs::metadata(&bomb).unwrap().len() < 50_000);
        let e = read_arpa_text(&bomb, MAX_ARPA_BYTES).unwrap_err().to_string();
        assert!(
            e.contains("bomb.arpa.gz") && e.contains("more than 1048576 bytes, over 20"),
            "{e}"
        );

        let plain = dir.path().join("big.arpa");
        std::fs::write(&plain, BIGRAM).unwrap();
        let e = read_arpa_text(&plain, limit).unwrap_err().to_string();
        assert!(e.contains("big.arpa") && e.contains("holds more than"), "{e}");

        let latin1 = dir.path().join("latin1.arpa");
        std::fs::write(&latin1, b"\\data\\\n\xe9t\xe9").unwrap();
        let e = ArpaLm::from_file(&latin1).unwrap_err().to_string();
        assert!(
            e.contains("latin1.arpa") && e.contains("not UTF-8 text (invalid bytes at offset 7"),
            "{e}"
        );
    }
}
