//! The words a language model knows, as a character trie, for lexicon-constrained beam search.
//!
//! With a word LM, the prefix beam search only scores a word once it is complete. Left
//! unconstrained, a search whose acoustic model is unsure prefers to glue several unknown words
//! into one (one `<unk>` penalty instead of several) and drops the spaces. Constraining every
//! partial word to be a prefix of a known word (and every completed word to be a word), as
//! DeepSpeech's and wav2letter's lexicon decoders do, removes that failure; the price is that
//! words outside the vocabulary cannot be produced while the LM is on (add them as hot words).
//!
//! Each node also carries a look-ahead score: the best score of a word below it (for an LM, the
//! word's unigram ln-probability; the "smearing" of wav2letter's lexicon decoder). The search adds
//! it to a partial word, so a prefix that can only become rare words stops outranking completed
//! words (which already carry their LM score) before the word ends.

/// Index of the root node (the empty prefix).
pub const ROOT: u32 = 0;

#[derive(Debug, Clone)]
struct Node {
    /// (character, child) sorted by character.
    children: Vec<(char, u32)>,
    is_word: bool,
    /// Best score of a word at or below this node (0 at the root).
    look: f32,
}

impl Node {
    fn new(look: f32) -> Self {
        Node { children: Vec::new(), is_word: false, look }
    }
}

/// A character trie of words.
#[derive(Debug, Clone)]
pub struct Lexicon {
    nodes: Vec<Node>,
    words: usize,
}

impl Default for Lexicon {
    fn default() -> Self {
        Lexicon { nodes: vec![Node::new(0.0)], words: 0 }
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

    /// Adds a word with look-ahead score 0 (no penalty before the word is complete).
    pub fn insert(&mut self, word: &str) {
        self.insert_scored(word, 0.0);
    }

    /// Adds a word with a look-ahead `score` (e.g. its unigram ln-probability; above 0 counts as
    /// 0, so no prefix looks ahead better than the root, which the search's pruning relies on):
    /// every prefix of it then looks ahead at least that well.
    pub fn insert_scored(&mut self, word: &str, score: f32) {
        if word.is_empty() {
            return;
        }
        let score = score.min(0.0);
        let mut n = ROOT;
        for c in word.chars() {
            n = match self.child(n, c) {
                Some(k) => {
                    let look = &mut self.nodes[k as usize].look;
                    *look = look.max(score);
                    k
                }
                None => {
                    let k = self.nodes.len() as u32;
                    self.nodes.push(Node::new(score));
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

    /// The best look-ahead score of a word that starts with the prefix at node `n` (0 at the
    /// root, where no word has begun).
    #[inline]
    pub fn lookahead(&self, n: u32) -> f32 {
        self.nodes[n as usize].look
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
        assert!(lex.lookahead(ROOT) == 0.0 && lex.lookahead(car) == 0.0);
    }

    #[test]
    fn lookahead_is_the_best_word_below() {
        let mut lex = Lexicon::new();
        lex.insert_scored("cat", -2.0);
        lex.insert_scored("car", -1.0);
        lex.insert_scored("cart", -3.0);
        lex.insert_scored("dog", -4.0);
        let walk =
            |lex: &Lexicon, w: &str| w.chars().try_fold(ROOT, |n, c| lex.child(n, c)).unwrap();
        let look = |lex: &Lexicon, w: &str| lex.lookahead(walk(lex, w));
        assert_eq!(lex.lookahead(ROOT), 0.0);
        assert_eq!(look(&lex, "c"), -1.0);
        assert_eq!(look(&lex, "ca"), -1.0);
        assert_eq!(look(&lex, "cat"), -2.0);
        assert_eq!(look(&lex, "car"), -1.0);
        assert_eq!(look(&lex, "cart"), -3.0);
        assert_eq!(look(&lex, "do"), -4.0);
        // A score above 0 (a malformed LM) counts as 0.
        let mut odd = Lexicon::new();
        odd.insert_scored("ox", 2.0);
        assert_eq!(odd.lookahead(walk(&odd, "o")), 0.0);
        // An unscored word (a hot word) lifts its prefixes to 0.
        lex.insert("cartwheel");
        assert_eq!(look(&lex, "cart"), 0.0);
        assert_eq!(look(&lex, "c"), 0.0);
        assert_eq!(look(&lex, "cat"), -2.0);
    }
}
