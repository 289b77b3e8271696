//! Word and character error rates, scored as sclite and jiwer score them: a minimum-edit-distance
//! (Levenshtein, unit costs) alignment of hypothesis to reference, counting substitutions (S),
//! deletions (D, reference units missing from the hypothesis) and insertions (I, extra hypothesis
//! units). `rate = (S + D + I) / N` with `N` the number of reference units; over a corpus, counts
//! are summed first (`Σ edits / Σ N`), not averaged per utterance.
//!
//! Units: words are whitespace-separated tokens; characters are the characters of the text with
//! runs of whitespace collapsed to one space and the ends trimmed (spaces count as characters, as
//! in jiwer's `cer`). No other normalization happens here: callers normalize both sides the same
//! way first (e.g. [`crate::ctc::Alphabet::normalize`]).

/// Edit counts of one alignment, or summed over a corpus.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EditCounts {
    pub hits: usize,
    pub substitutions: usize,
    pub deletions: usize,
    pub insertions: usize,
}

impl EditCounts {
    /// Number of reference units `N = H + S + D`.
    pub fn reference_len(&self) -> usize {
        self.hits + self.substitutions + self.deletions
    }

    /// `S + D + I`, the edit distance.
    pub fn errors(&self) -> usize {
        self.substitutions + self.deletions + self.insertions
    }

    /// `(S + D + I) / N`; `None` when the reference is empty (the rate is undefined).
    pub fn rate(&self) -> Option<f64> {
        let n = self.reference_len();
        (n > 0).then(|| self.errors() as f64 / n as f64)
    }
}

impl std::ops::AddAssign for EditCounts {
    fn add_assign(&mut self, o: EditCounts) {
        self.hits += o.hits;
        self.substitutions += o.substitutions;
        self.deletions += o.deletions;
        self.insertions += o.insertions;
    }
}

/// Minimum-edit alignment of two sequences with unit costs. Among alignments of equal cost the
/// traceback prefers hits/substitutions, then deletions, then insertions.
pub fn align<T: PartialEq>(reference: &[T], hypothesis: &[T]) -> EditCounts {
    let (n, m) = (reference.len(), hypothesis.len());
    // d[i][j] = distance between reference[..i] and hypothesis[..j]
    let w = m + 1;
    let mut d = vec![0u32; (n + 1) * w];
    for (j, x) in d[..w].iter_mut().enumerate() {
        *x = j as u32;
    }
    for i in 1..=n {
        d[i * w] = i as u32;
        for j in 1..=m {
            let sub = d[(i - 1) * w + j - 1] + u32::from(reference[i - 1] != hypothesis[j - 1]);
            let del = d[(i - 1) * w + j] + 1;
            let ins = d[i * w + j - 1] + 1;
            d[i * w + j] = sub.min(del).min(ins);
        }
    }
    let mut c = EditCounts::default();
    let (mut i, mut j) = (n, m);
    while i > 0 || j > 0 {
        let here = d[i * w + j];
        if i > 0 && j > 0 {
            let same = reference[i - 1] == hypothesis[j - 1];
            if here == d[(i - 1) * w + j - 1] + u32::from(!same) {
                if same {
                    c.hits += 1;
                } else {
                    c.substitutions += 1;
                }
                i -= 1;
                j -= 1;
                continue;
            }
        }
        if i > 0 && here == d[(i - 1) * w + j] + 1 {
            c.deletions += 1;
            i -= 1;
        } else {
            c.insertions += 1;
            j -= 1;
        }
    }
    c
}

/// Word-level edit counts of one utterance.
pub fn word_edits(reference: &str, hypothesis: &str) -> EditCounts {
    let r: Vec<&str> = reference.split_whitespace().collect();
    let h: Vec<&str> = hypothesis.split_whitespace().collect();
    align(&r, &h)
}

/// Character-level edit counts of one utterance (whitespace collapsed to single spaces).
pub fn char_edits(reference: &str, hypothesis: &str) -> EditCounts {
    let chars = |s: &str| -> Vec<char> {
        let mut out = Vec::with_capacity(s.len());
        for (k, w) in s.split_whitespace().enumerate() {
            if k > 0 {
                out.push(' ');
            }
            out.extend(w.chars());
        }
        out
    };
    align(&chars(reference), &chars(hypothesis))
}

/// Word and character edit counts accumulated over a corpus.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ErrorRates {
    pub words: EditCounts,
    pub chars: EditCounts,
    pub utterances: usize,
}

impl ErrorRates {
    pub fn new() -> Self {
        Self::default()
    }

    /// Scores one (reference, hypothesis) pair and adds it to the totals.
    pub fn add(&mut self, reference: &str, hypothesis: &str) {
        self.words += word_edits(reference, hypothesis);
        self.chars += char_edits(reference, hypothesis);
        self.utterances += 1;
    }

    /// Corpus WER `Σ(S + D + I) / Σ N` over words; `None` if every reference was empty.
    pub fn wer(&self) -> Option<f64> {
        self.words.rate()
    }

    /// Corpus CER over characters.
    pub fn cer(&self) -> Option<f64> {
        self.chars.rate()
    }
}

/// Corpus word error rate of paired references and hypotheses.
pub fn wer<R: AsRef<str>, H: AsRef<str>>(references: &[R], hypotheses: &[H]) -> Option<f64> {
    corpus(references, hypotheses).wer()
}

/// Corpus character error rate of paired references and hypotheses.
pub fn cer<R: AsRef<str>, H: AsRef<str>>(references: &[R], hypotheses: &[H]) -> Option<f64> {
    corpus(references, hypotheses).cer()
}

fn corpus<R: AsRef<str>, H: AsRef<str>>(references: &[R], hypotheses: &[H]) -> ErrorRates {
    debug_assert_eq!(references.len(), hypotheses.len(), "one hypothesis per reference");
    let mut e = ErrorRates::new();
    for (r, h) in references.iter().zip(hypotheses) {
        e.add(r.as_ref(), h.as_ref());
    }
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(h: usize, s: usize, d: usize, i: usize) -> EditCounts {
        EditCounts { hits: h, substitutions: s, deletions: d, insertions: i }
    }

    #[test]
    fn hand_computed_word_alignments() {
        assert_eq!(word_edits("the cat sat", "the cat sat"), counts(3, 0, 0, 0));
        assert_eq!(word_edits("the cat sat", "the bat sat"), counts(2, 1, 0, 0));
        assert_eq!(word_edits("the cat sat", "the sat"), counts(2, 0, 1, 0));
        assert_eq!(word_edits("the cat sat", "the big cat sat"), counts(3, 0, 0, 1));
        assert_eq!(word_edits("a b c d e", "x a b d e"), counts(4, 0, 1, 1));
        // ties (2 S + 1 I or 1 D + 2 I) have the same distance; only the total is canonical
        assert_eq!(word_edits("a b c d", "x a b d y").errors(), 3);
        assert_eq!(word_edits("", "hello there"), counts(0, 0, 0, 2));
        assert_eq!(word_edits("hello there", ""), counts(0, 0, 2, 0));
        // WER can exceed 1 with insertions
        assert_eq!(word_edits("hi", "oh hi there you").rate(), Some(3.0));
        assert_eq!(word_edits("", "").rate(), None);
    }

    #[test]
    fn hand_computed_char_alignments() {
        // kitten → sitting: 2 substitutions (k→s, e→i) and 1 insertion (g): distance 3
        let c = char_edits("kitten", "sitting");
        assert_eq!((c.substitutions, c.deletions, c.insertions, c.errors()), (2, 0, 1, 3));
        // whitespace runs count as one space character
        assert_eq!(char_edits("a  b ", " a b"), counts(3, 0, 0, 0));
        assert_eq!(char_edits("ab", "a b"), counts(2, 0, 0, 1));
    }

    #[test]
    fn jiwer_documented_examples() {
        // jiwer README: wer("hello world", "hello duck") == 0.5
        assert_eq!(wer(&["hello world"], &["hello duck"]), Some(0.5));
        // jiwer README: corpus of two sentences, 1 S + 1 D over 6 reference words = 1/3
        let r = ["hello world", "i like monthy python"];
        let h = ["hello duck", "i like python"];
        let w = wer(&r, &h).unwrap();
        assert!((w - 1.0 / 3.0).abs() < 1e-12);
        // corpus rate is Σ edits / Σ N, not the mean of utterance rates ((0.5 + 0.25) / 2)
        assert!((w - 0.375).abs() > 0.01);
    }

    #[test]
    fn corpus_cer_sums_counts() {
        let mut e = ErrorRates::new();
        e.add("abc", "abd"); // 1 edit / 3
        e.add("hello", "hello"); // 0 / 5
        assert_eq!(e.chars, counts(7, 1, 0, 0));
        assert_eq!(e.cer(), Some(1.0 / 8.0));
        assert_eq!(e.wer(), Some(0.5));
        assert_eq!(e.utterances, 2);
    }

    /// Plain Levenshtein distance, two rows, no traceback: an independent check of `align`.
    fn distance(a: &[u8], b: &[u8]) -> usize {
        let mut prev: Vec<usize> = (0..=b.len()).collect();
        for (i, x) in a.iter().enumerate() {
            let mut cur = vec![i + 1; b.len() + 1];
            for (j, y) in b.iter().enumerate() {
                cur[j + 1] = (prev[j] + usize::from(x != y)).min(prev[j + 1] + 1).min(cur[j] + 1);
            }
            prev = cur;
        }
        prev[b.len()]
    }

    proptest::proptest! {
        #[test]
        fn counts_are_a_minimal_consistent_alignment(
            r in proptest::collection::vec(0u8..4, 0..12),
            h in proptest::collection::vec(0u8..4, 0..12),
        ) {
            let c = align(&r, &h);
            proptest::prop_assert_eq!(c.errors(), distance(&r, &h));
            proptest::prop_assert_eq!(c.hits + c.substitutions + c.deletions, r.len());
            proptest::prop_assert_eq!(c.hits + c.substitutions + c.insertions, h.len());
        }
    }
}
