//! The words a language model knows, as a character trie, for lexicon-constrained beam search.
//!
//! With a word LM, the prefix beam search only scores a word once it is complete. Left
//! unconstrained, a search whose acoustic model is unsure prefers to glue several unknown words
//! into one (one `<unk>` penalty instead of several) and drops the spaces. Constraining every
//! partial word to be a prefix of a known word (and every completed word to be a word), as
//! DeepSpeech's and wav2letter's lexicon decoders do, removes that failure; the price is that
//! words outside the vocabulary cannot be produced while the LM is on (add them as hot words).

/// Index of the root node (the empty prefix).
pub const ROOT: u32 = 0;

#[derive(Debug, Clone, Default)]
struct Node {
    /// (character, child) sorted by character.
    children: Vec<(char, u32)>,
    is_word: bool,
}

/// A character trie of words.
#[derive(Debug, Clone)]
pub struct Lexicon {
    nodes: Vec<Node>,
    words: usize,
}

impl Default for Lexicon {
    fn default() -> Self {
        Lexicon { nodes: vec![Node::default()], words: 0 }
    }
}

impl Lexicon {
    pub fn new() -> Self {
        Self::default()
    }

    /// A lexicon of `words` (empty strings are ignored).
    pub fn from_words<'a>(words: impl IntoIterator<Item = &'a str>) -> Self {
        let mut lex = Lexicon::new();
        for w in words {
            lex.insert(w);
        }
        lex
    }

    /// Adds a word.
    pub fn insert(&mut self, word: &str) {
        if word.is_empty() {
            return;
        }
        let mut n = ROOT;
        for c in word.chars() {
            n = match self.child(n, c) {
                Some(k) => k,
                None => {
                    let k = self.nodes.len() as u32;
                    self.nodes.push(Node::default());
                    let ch = &mut self.nodes[n as usize].children;
                    let at = ch.partition_point(|&(x, _)| x < c);
                    ch.insert(at, (c, k));
                    k
                }
            };
        }
        let node = &mut self.nodes[n as usize];
        if !node.is_word {
            node.is_word = true;
            self.words += 1;
        }
    }

    /// The node after reading `c` from node `n`, if some word continues that way.
    #[inline]
    pub fn child(&self, n: u32, c: char) -> Option<u32> {
        let ch = &self.nodes[n as usize].children;
        ch.binary_search_by(|&(x, _)| x.cmp(&c)).ok().map(|i| ch[i].1)
    }

    /// Whether the prefix at node `n` is a whole word.
    #[inline]
    pub fn is_word(&self, n: u32) -> bool {
        self.nodes[n as usize].is_word
    }

    /// Number of distinct words.
    pub fn len(&self) -> usize {
        self.words
    }

    pub fn is_empty(&self) -> bool {
        self.words == 0
    }

    /// Whether `word` is in the lexicon.
    pub fn contains(&self, word: &str) -> bool {
        let mut n = ROOT;
        for c in word.chars() {
            match self.child(n, c) {
                Some(k) => n = k,
                None => return false,
            }
        }
        !word.is_empty() && self.is_word(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_and_words() {
        let lex = Lexicon::from_words(["cat", "car", "cart", "a", "", "cat"]);
        assert_eq!(lex.len(), 4);
        let c = lex.child(ROOT, 'c').unwrap();
        let ca = lex.child(c, 'a').unwrap();
        assert!(!lex.is_word(ca));
        let car = lex.child(ca, 'r').unwrap();
        assert!(lex.is_word(car));
        assert!(lex.child(car, 't').is_some_and(|n| lex.is_word(n)));
        assert!(lex.child(ca, 'b').is_none());
        assert!(lex.contains("a") && lex.contains("cart") && !lex.contains("ca"));
        assert!(!lex.contains("") && !lex.contains("dog"));
    }
}
