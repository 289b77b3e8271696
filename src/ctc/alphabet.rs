//! The output alphabet of a model: label 0 is the CTC blank, labels 1..V are characters.
//! The alphabet is part of every model's config, so other languages only need another list.

use serde::{Deserialize, Serialize};

/// Characters a model can emit. `V = chars.len() + 1` (the blank is label 0).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alphabet {
    /// The characters for labels 1..=len, in order. Must contain ' ' (the word separator).
    pub chars: Vec<char>,
}

/// Why a transcript could not be normalized to an alphabet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NormalizeError {
    /// Characters that are neither in the alphabet nor known punctuation (each listed once).
    UnknownChars(Vec<char>),
    /// Nothing is left after normalization.
    Empty,
}

impl std::fmt::Display for NormalizeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NormalizeError::UnknownChars(cs) => {
                let list: Vec<String> =
                    cs.iter().map(|c| format!("{c:?} (U+{:04X})", *c as u32)).collect();
                write!(f, "characters outside the alphabet: {}", list.join(", "))
            }
            NormalizeError::Empty => write!(f, "the transcript is empty after normalization"),
        }
    }
}

impl std::error::Error for NormalizeError {}

/// Punctuation that carries no sound: dropped (or turned into a word break) during normalization.
const SILENT_PUNCT: &[char] = &[
    '.', ',', ';', ':', '!', '?', '"', '(', ')', '[', ']', '{', '}', '\u{201C}', '\u{201D}',
    '\u{00AB}', '\u{00BB}', '\u{2026}',
];
/// Characters that separate words like a space does.
const WORD_BREAKS: &[char] = &['-', '\u{2013}', '\u{2014}', '/', '_', '\t', '\n', '\r'];

impl Default for Alphabet {
    /// English: space, a–z, apostrophe (V = 29 with the blank).
    fn default() -> Self {
        let mut chars = vec![' '];
        chars.extend('a'..='z');
        chars.push('\'');
        Alphabet { chars }
    }
}

impl Alphabet {
    /// Number of CTC labels including the blank.
    pub fn num_labels(&self) -> usize {
        self.chars.len() + 1
    }

    /// Label of a character (1-based), if the alphabet has it.
    pub fn label(&self, c: char) -> Option<usize> {
        self.chars.iter().position(|&x| x == c).map(|i| i + 1)
    }

    /// Character of a non-blank label.
    pub fn char_of(&self, label: usize) -> Option<char> {
        if label == 0 { None } else { self.chars.get(label - 1).copied() }
    }

    /// Label of the word separator (space), if present.
    pub fn space_label(&self) -> Option<usize> {
        self.label(' ')
    }

    /// Checks the alphabet itself: non-empty, no duplicates, contains a space.
    pub fn validate(&self) -> Result<(), String> {
        if self.chars.is_empty() {
            return Err("the alphabet is empty".into());
        }
        for (i, c) in self.chars.iter().enumerate() {
            if self.chars[..i].contains(c) {
                return Err(format!("the alphabet lists {c:?} twice"));
            }
        }
        if !self.chars.contains(&' ') {
            return Err("the alphabet has no space (word separator)".into());
        }
        Ok(())
    }

    /// Normalizes a transcript: lower-case, typographic apostrophes to `'`, word-breaking punctuation
    /// to spaces, silent punctuation dropped, whitespace collapsed. Any other character outside the
    /// alphabet is an error that lists it: nothing is silently dropped.
    pub fn normalize(&self, text: &str) -> Result<String, NormalizeError> {
        let mut out = String::with_capacity(text.len());
        let mut unknown: Vec<char> = Vec::new();
        let mut pending_space = false;
        for raw in text.chars() {
            let lowered: Vec<char> =
                if self.chars.contains(&raw) { vec![raw] } else { raw.to_lowercase().collect() };
            for c in lowered {
                let c = match c {
                    '\u{2019}' | '\u{2018}' | '`' | '\u{00B4}' => '\'',
                    c => c,
                };
                if c == ' ' || c.is_whitespace() || WORD_BREAKS.contains(&c) {
                    pending_space = !out.is_empty();
                } else if self.chars.contains(&c) {
                    if pending_space {
                        out.push(' ');
                        pending_space = false;
                    }
                    out.push(c);
                } else if SILENT_PUNCT.contains(&c) {
                    // no sound; a following word still gets its separating space
                } else if !unknown.contains(&c) {
                    unknown.push(c);
                }
            }
        }
        if !unknown.is_empty() {
            return Err(NormalizeError::UnknownChars(unknown));
        }
        // An apostrophe standing alone (quotation use) is silent too.
        let words: Vec<&str> =
            out.split(' ').map(|w| w.trim_matches('\'')).filter(|w| !w.is_empty()).collect();
        let joined = words.join(" ");
        if joined.is_empty() { Err(NormalizeError::Empty) } else { Ok(joined) }
    }

    /// Turns a normalized transcript into labels (1-based). Characters must be in the alphabet.
    pub fn encode(&self, normalized: &str) -> Result<Vec<usize>, NormalizeError> {
        let mut unknown = Vec::new();
        let labels: Vec<usize> = normalized
            .chars()
            .filter_map(|c| {
                let l = self.label(c);
                if l.is_none() && !unknown.contains(&c) {
                    unknown.push(c);
                }
                l
            })
            .collect();
        if unknown.is_empty() { Ok(labels) } else { Err(NormalizeError::UnknownChars(unknown)) }
    }

    /// Turns labels into text; the blank (0) and unknown labels are skipped.
    pub fn decode(&self, labels: &[usize]) -> String {
        labels.iter().filter_map(|&l| self.char_of(l)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_alphabet_has_29_labels() {
        let a = Alphabet::default();
        assert_eq!(a.num_labels(), 29);
        assert_eq!(a.label(' '), Some(1));
        assert_eq!(a.label('a'), Some(2));
        assert_eq!(a.label('\''), Some(28));
        assert_eq!(a.char_of(0), None);
        assert!(a.validate().is_ok());
    }

    #[test]
    fn normalizes_case_punctuation_and_spaces() {
        let a = Alphabet::default();
        assert_eq!(
            a.normalize("  Hello, World!  It\u{2019}s  well-known.").unwrap(),
            "hello world it's well known"
        );
        assert_eq!(a.normalize("\"'Quoted' words\"").unwrap(), "quoted words");
    }

    #[test]
    fn reports_what_it_cannot_normalize() {
        let a = Alphabet::default();
        assert_eq!(
            a.normalize("room 101 é"),
            Err(NormalizeError::UnknownChars(vec!['1', '0', 'é']))
        );
        assert_eq!(a.normalize(" ... "), Err(NormalizeError::Empty));
    }

    #[test]
    fn encode_decode_round_trip() {
        let a = Alphabet::default();
        let l = a.encode("it's a test").unwrap();
        assert_eq!(a.decode(&l), "it's a test");
    }

    #[test]
    fn other_alphabets_work() {
        let a = Alphabet { chars: " aälöoßuü".chars().collect() };
        assert_eq!(a.normalize("Öl aß").unwrap(), "öl aß");
        assert!(a.validate().is_ok());
        assert!(Alphabet { chars: vec!['a', 'a'] }.validate().is_err());
    }
}
