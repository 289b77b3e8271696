//! Building a word n-gram language model from plain text and writing it in the ARPA format, so
//! that Hark can make the language model it ships (and users can make their own) without KenLM.
//!
//! The estimate is interpolated Kneser–Ney (Chen & Goodman 1998, one discount per order), the
//! smoothing KenLM's `lmplz` uses:
//!
//! ```text
//! p_k(w | h) = max(a_k(h w) − D_k, 0) / c_k(h) + γ_k(h) · p_{k−1}(w | h′)
//! γ_k(h)     = D_k · N1+(h •) / c_k(h)          c_k(h) = Σ_w a_k(h w)
//! p_1(w)     = (a_1(w) − D_1) / Σ a_1 + γ_0 / |V|  (|V| counts <unk>, which gets only γ_0 / |V|)
//! γ_0        = D_1 · N1+(•) / Σ a_1                (N1+(•): words seen in the text)
//! D_k        = n1 / (n1 + 2 n2)                 (n1, n2: k-grams with adjusted count 1 and 2)
//! ```
//!
//! `h′` is `h` without its oldest word; `a_k` is the raw count at the highest order and for
//! n-grams that start with `<s>`, and otherwise the continuation count `N1+(• g)` — the number
//! of distinct words seen before `g`. Listed n-grams carry the interpolated probability and
//! histories carry `γ` as their back-off weight, which makes the ARPA back-off rule of
//! [`ArpaLm`](super::ArpaLm) reproduce `p_k` exactly and every distribution sum to one.
//!
//! Pruning ([`LmBuilder::set_min_count`]) drops highest-order n-grams seen fewer than a given
//! number of times, as count cut-offs do in SRILM and KenLM; the back-off weight of each history
//! that lost some is then recomputed so its distribution still sums to one:
//! `bow(h) = (1 − Σ_{listed w} p(w | h)) / (1 − Σ_{listed w} p_{k−1}(w | h′))`.
//!
//! Words of an added vocabulary ([`LmBuilder::add_vocabulary`]) that the text never uses join
//! `|V|` with `a_1 = 0`, so each gets `γ_0 / |V|` like `<unk>`: the recognizer can then spell
//! them (its beam search only spells words the LM lists) at the price of a tiny probability.

use std::collections::HashMap;
use std::fmt::Write as _;

use crate::ctc::Alphabet;
use crate::error::{Error, Result};

use super::lm::MAX_ORDER;

/// What [`LmBuilder`] saw in its input.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LmBuildReport {
    /// Sentences counted.
    pub sentences: usize,
    /// Words counted (without `<s>` and `</s>`).
    pub words: usize,
    /// Lines left out: (1-based line number, reason).
    pub skipped: Vec<(usize, String)>,
    /// Distinct n-grams written, per order.
    pub ngrams: Vec<usize>,
}

/// Collects sentences, then estimates and writes the model ([`LmBuilder::to_arpa`]).
#[derive(Debug, Clone)]
pub struct LmBuilder {
    order: usize,
    alphabet: Alphabet,
    words: Vec<String>,
    ids: HashMap<String, u32>,
    /// `raw[k-1]`: raw counts of k-grams (word ids, `<s>` = 0, `</s>` = 1).
    raw: Vec<HashMap<Vec<u32>, u64>>,
    /// Highest-order n-grams seen fewer times than this are left out (1 keeps all).
    min_count: u64,
    /// Words added by [`LmBuilder::add_vocabulary`] (ids; those the text also uses are skipped
    /// when the model is written).
    vocabulary: Vec<u32>,
    report: LmBuildReport,
}

/// An ARPA line: words, probability, back-off weight (both linear).
type Row<'a> = (Vec<&'a str>, f64, Option<f64>);

const BOS: u32 = 0;
const EOS: u32 = 1;

impl LmBuilder {
    /// A builder for an `order`-gram model (1..=9) whose words are normalized with `alphabet`.
    pub fn new(order: usize, alphabet: Alphabet) -> Result<Self> {
        if !(1..=MAX_ORDER).contains(&order) {
            return Err(Error::Options(format!(
                "n-gram order must be between 1 and {MAX_ORDER}, got {order}"
            )));
        }
        let words = vec!["<s>".to_string(), "</s>".to_string()];
        let ids = words.iter().enumerate().map(|(i, w)| (w.clone(), i as u32)).collect();
        Ok(LmBuilder {
            order,
            alphabet,
            words,
            ids,
            raw: vec![HashMap::new(); order],
            min_count: 1,
            vocabulary: Vec::new(),
            report: LmBuildReport::default(),
        })
    }

    /// Adds one line of text as a sentence. It is normalized like transcripts are (lower case,
    /// punctuation dropped); a line with characters outside the alphabet (digits, other
    /// scripts) is skipped and reported with `line_no`, since it would teach the model words
    /// the recognizer can never spell. Empty lines are ignored.
    pub fn add_line(&mut self, line_no: usize, line: &str) {
        if line.trim().is_empty() {
            return;
        }
        match self.alphabet.normalize(line) {
            Ok(text) => {
                let toks: Vec<u32> = std::iter::once(BOS)
                    .chain(text.split(' ').map(|w| self.intern(w)))
                    .chain(std::iter::once(EOS))
                    .collect();
                self.report.sentences += 1;
                self.report.words += toks.len() - 2;
                for k in 1..=self.order {
                    for g in toks.windows(k) {
                        // `<s>` alone is a context, never a prediction.
                        if k == 1 && g[0] == BOS {
                            continue;
                        }
                        *self.raw[k - 1].entry(g.to_vec()).or_insert(0) += 1;
                    }
                }
            }
            Err(e) => self.report.skipped.push((line_no, e.to_string())),
        }
    }

    /// Adds words to the vocabulary (e.g. a dictionary's word list), each normalized like
    /// transcripts; words that are not one word of the alphabet after that (digits, spaces,
    /// other scripts) are left out. Returns how many were taken. Words the text never uses get
    /// the probability of an unseen word (see the module docs).
    pub fn add_vocabulary<'a>(&mut self, words: impl IntoIterator<Item = &'a str>) -> usize {
        let mut taken = 0;
        for w in words {
            let Ok(norm) = self.alphabet.normalize(w) else { continue };
            if norm.is_empty() || norm.contains(' ') {
                continue;
            }
            let id = self.intern(&norm);
            if id > EOS {
                self.vocabulary.push(id);
                taken += 1;
            }
        }
        taken
    }

    /// Leaves out highest-order n-grams (of an order-2-or-more model) seen fewer than
    /// `min_count` times in the text: a smaller model (most trigrams of a small text are seen
    /// once) that backs off to the lower order for them. 0 and 1 keep every n-gram.
    pub fn set_min_count(&mut self, min_count: u64) {
        self.min_count = min_count.max(1);
    }

    fn intern(&mut self, w: &str) -> u32 {
        if let Some(&id) = self.ids.get(w) {
            return id;
        }
        let id = self.words.len() as u32;
        self.words.push(w.to_string());
        self.ids.insert(w.to_string(), id);
        id
    }

    /// Estimates the model and returns it as ARPA text with the report.
    pub fn to_arpa(mut self) -> Result<(String, LmBuildReport)> {
        if self.report.sentences == 0 {
            return Err(Error::Options(
                "no usable sentences: the text has no line made only of letters the model knows"
                    .into(),
            ));
        }
        let n = self.order;
        // Adjusted counts: continuation counts below the top order, except after <s>.
        let mut adj: Vec<HashMap<Vec<u32>, u64>> = Vec::with_capacity(n);
        for k in 1..=n {
            if k == n {
                adj.push(std::mem::take(&mut self.raw[k - 1]));
                continue;
            }
            let mut a: HashMap<Vec<u32>, u64> = HashMap::with_capacity(self.raw[k - 1].len());
            for (g, &c) in &self.raw[k - 1] {
                if g[0] == BOS {
                    a.insert(g.clone(), c);
                }
            }
            for g in self.raw[k].keys() {
                *a.entry(g[1..].to_vec()).or_insert(0) += 1;
            }
            adj.push(a);
        }
        let discounts: Vec<f64> = adj.iter().map(|a| discount(a.values())).collect();

        // Per history: Σ adjusted counts and the number of distinct continuations.
        let mut hist: Vec<HashMap<&[u32], (u64, u64)>> = vec![HashMap::new(); n];
        for k in 2..=n {
            for (g, &c) in &adj[k - 1] {
                let e = hist[k - 1].entry(&g[..k - 1]).or_insert((0, 0));
                e.0 += c;
                e.1 += 1;
            }
        }

        // Unigrams: every word but <s>, plus <unk>.
        let d1 = discounts[0];
        let total1: u64 = adj[0].values().sum();
        let types1 = adj[0].len() as f64;
        self.vocabulary.sort_unstable();
        self.vocabulary.dedup();
        let unused: Vec<u32> =
            self.vocabulary.iter().copied().filter(|&w| !adj[0].contains_key(&[w][..])).collect();
        let vocab_size = types1 + unused.len() as f64 + 1.0; // + <unk>
        let gamma0 = d1 * types1 / total1 as f64;
        let mut prob: Vec<HashMap<Vec<u32>, f64>> = vec![HashMap::new(); n];
        for (g, &c) in &adj[0] {
            let p = (c as f64 - d1).max(0.0) / total1 as f64 + gamma0 / vocab_size;
            prob[0].insert(g.clone(), p);
        }
        let p_unk = gamma0 / vocab_size;
        for w in unused {
            prob[0].insert(vec![w], p_unk);
        }
        for k in 2..=n {
            let d = discounts[k - 1];
            let (lower, upper) = prob.split_at_mut(k - 1);
            for (g, &c) in &adj[k - 1] {
                let (ch, types) = hist[k - 1][&g[..k - 1]];
                let gamma = d * types as f64 / ch as f64;
                let p_low = lower[k - 2].get(&g[1..]).copied().unwrap_or(p_unk);
                let p = (c as f64 - d).max(0.0) / ch as f64 + gamma * p_low;
                upper[0].insert(g.clone(), p);
            }
        }
        // Pruning: drop rare highest-order n-grams, then renormalize their histories' back-off
        // weights over what is left (module docs).
        let mut pruned_bow: HashMap<&[u32], f64> = HashMap::new();
        if self.min_count > 1 && n >= 2 {
            let (lower, top) = prob.split_at_mut(n - 1);
            top[0].retain(|g, _| adj[n - 1][g] >= self.min_count);
            let mut kept: HashMap<&[u32], (f64, f64)> = HashMap::new();
            for (g, &p) in &top[0] {
                let (h, _) = hist[n - 1].get_key_value(&g[..n - 1]).expect("history counted");
                let e = kept.entry(*h).or_insert((0.0, 0.0));
                e.0 += p;
                e.1 += lower[n - 2].get(&g[1..]).copied().unwrap_or(p_unk);
            }
            for &h in hist[n - 1].keys() {
                let (listed, listed_low) = kept.get(h).copied().unwrap_or((0.0, 0.0));
                pruned_bow.insert(h, ((1.0 - listed) / (1.0 - listed_low)).max(f64::MIN_POSITIVE));
            }
        }
        let backoff = |g: &[u32]| -> Option<f64> {
            let k = g.len() + 1;
            if k > n {
                return None;
            }
            if k == n
                && let Some(&b) = pruned_bow.get(g)
            {
                return Some(b);
            }
            let &(ch, types) = hist[k - 1].get(g)?;
            Some(discounts[k - 1] * types as f64 / ch as f64)
        };

        // ARPA text, n-grams sorted by their words so the output is reproducible.
        let name =
            |g: &[u32]| g.iter().map(|&w| self.words[w as usize].as_str()).collect::<Vec<_>>();
        let mut sections: Vec<Vec<Row>> = Vec::with_capacity(n);
        for k in 1..=n {
            let mut rows: Vec<Row> =
                prob[k - 1].iter().map(|(g, &p)| (name(g), p, backoff(g))).collect();
            if k == 1 {
                rows.push((vec!["<unk>"], p_unk, None));
                rows.push((vec!["<s>"], 0.0, backoff(&[BOS])));
            }
            rows.sort_by(|a, b| a.0.cmp(&b.0));
            sections.push(rows);
        }
        self.report.ngrams = sections.iter().map(Vec::len).collect();
        let mut out = String::new();
        out.push_str("\\data\\\n");
        for (k, rows) in sections.iter().enumerate() {
            let _ = writeln!(out, "ngram {}={}", k + 1, rows.len());
        }
        for (k, rows) in sections.iter().enumerate() {
            let _ = write!(out, "\n\\{}-grams:\n", k + 1);
            for (words, p, bow) in rows {
                // <s> is never predicted: the customary -99 (KenLM and SRILM write the same).
                let lp = if words == &["<s>"] { -99.0 } else { p.log10() };
                let _ = write!(out, "{lp:.6}\t{}", words.join(" "));
                if let Some(b) = bow {
                    let _ = write!(out, "\t{:.6}", b.log10());
                }
                out.push('\n');
            }
        }
        out.push_str("\n\\end\\\n");
        Ok((out, self.report))
    }
}

/// Kneser–Ney discount `n1 / (n1 + 2 n2)` from the counts of counts, clamped into a usable
/// range when the text is too small to have both singletons and doubletons.
fn discount<'a>(counts: impl Iterator<Item = &'a u64>) -> f64 {
    let (mut n1, mut n2) = (0u64, 0u64);
    for &c in counts {
        match c {
            1 => n1 += 1,
            2 => n2 += 1,
            _ => {}
        }
    }
    if n1 == 0 || n2 == 0 {
        return 0.5;
    }
    (n1 as f64 / (n1 as f64 + 2.0 * n2 as f64)).clamp(0.05, 0.95)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ctc::ArpaLm;

    fn build(text: &str, order: usize) -> (ArpaLm, LmBuildReport) {
        let mut b = LmBuilder::new(order, Alphabet::default()).unwrap();
        for (i, l) in text.lines().enumerate() {
            b.add_line(i + 1, l);
        }
        let (arpa, report) = b.to_arpa().unwrap();
        (arpa.parse().unwrap(), report)
    }

    const TEXT: &str = "the cat sat on the mat\nthe dog sat on the log\na cat and a dog\n\
        the cat ate\nthe dog ate the cat\n2 dogs\nthe mat\n";

    /// Every conditional distribution the written model defines sums to one over the vocabulary
    /// (+ `</s>`, + `<unk>`), for seen and unseen histories: the back-off weights are right.
    #[test]
    fn distributions_sum_to_one() {
        for order in 1..=4 {
            let (lm, _) = build(TEXT, order);
            let words = ["the", "cat", "sat", "on", "mat", "dog", "log", "a", "and", "ate"];
            let mut targets: Vec<&str> = words.to_vec();
            targets.extend(["</s>", "<unk>"]);
            let histories: Vec<Vec<&str>> = vec![
                vec!["<s>"],
                vec!["<s>", "the"],
                vec!["the", "cat"],
                vec!["sat", "on", "the"],
                vec!["dog", "mat"],
                vec!["zebra"],
            ];
            for h in &histories {
                let sum: f64 =
                    targets.iter().map(|w| 10f64.powf(lm.log10_prob_words(h, w) as f64)).sum();
                assert!((sum - 1.0).abs() < 1e-4, "order {order}, history {h:?}: Σp = {sum}");
            }
        }
    }

    /// Pruned models: the rare top-order n-grams are gone, the distributions of every history
    /// (those that lost n-grams included) still sum to one, and what is left keeps its
    /// probability. Without pruning (min count 1) the text is the same as never asking.
    #[test]
    fn pruning_drops_rare_ngrams_and_keeps_distributions_normalized() {
        let text = format!("{TEXT}the cat sat on the mat\nthe dog sat on the mat\n");
        let make = |order, min| {
            let mut b = LmBuilder::new(order, Alphabet::default()).unwrap();
            b.set_min_count(min);
            for (i, l) in text.lines().enumerate() {
                b.add_line(i + 1, l);
            }
            b.to_arpa().unwrap()
        };
        assert_eq!(make(3, 1).0, make(3, 0).0);
        for order in 2..=4 {
            let (full_text, full_report) = make(order, 1);
            let (arpa, report) = make(order, 2);
            let (full, lm): (ArpaLm, ArpaLm) = (full_text.parse().unwrap(), arpa.parse().unwrap());
            assert!(report.ngrams[order - 1] < full_report.ngrams[order - 1], "order {order}");
            assert_eq!(report.ngrams[..order - 1], full_report.ngrams[..order - 1]);
            let words = ["the", "cat", "sat", "on", "mat", "dog", "log", "a", "and", "ate"];
            let mut targets: Vec<&str> = words.to_vec();
            targets.extend(["</s>", "<unk>"]);
            for h in [
                vec!["<s>"],
                vec!["<s>", "the"],
                vec!["the", "cat"],
                vec!["cat", "ate"],
                vec!["sat", "on", "the"],
                vec!["a", "dog"],
                vec!["zebra"],
            ] {
                let sum: f64 =
                    targets.iter().map(|w| 10f64.powf(lm.log10_prob_words(&h, w) as f64)).sum();
                assert!((sum - 1.0).abs() < 1e-4, "order {order}, history {h:?}: Σp = {sum}");
            }
            // "sat on" is seen 4 times: its top-order n-gram stays, at the same probability.
            let (h, w): (&[&str], &str) = if order == 2 {
                (&["sat"], "on")
            } else {
                (&["cat", "sat"][3 - order.min(3)..], "on")
            };
            assert_eq!(lm.log10_prob_words(h, w), full.log10_prob_words(h, w), "order {order}");
        }
        // Order 3: "a cat and" is seen once, so it is pruned and backs off.
        let (arpa, _) = make(3, 2);
        assert!(!arpa.contains("\ta cat and\n") && make(3, 1).0.contains("\ta cat and\n"));
    }

    /// With a vocabulary added, the distributions still sum to one, now over the added words too,
    /// each unused one at the probability of `<unk>`; words the text uses are not counted twice.
    #[test]
    fn added_vocabulary_keeps_distributions_normalized() {
        let mut b = LmBuilder::new(3, Alphabet::default()).unwrap();
        for (i, l) in TEXT.lines().enumerate() {
            b.add_line(i + 1, l);
        }
        let taken = b.add_vocabulary(["Zebra", "yak's", "cat", "zebra", "two words", "x2", ""]);
        assert_eq!(taken, 4, "Zebra, yak's, cat, zebra");
        let (arpa, report) = b.to_arpa().unwrap();
        let lm: ArpaLm = arpa.parse().unwrap();
        let (plain, _) = build(TEXT, 3);
        assert_eq!(report.ngrams[0], 10 + 2 + 3, "10 words + zebra, yak's + </s>, <unk>, <s>");
        let words =
            ["the", "cat", "sat", "on", "mat", "dog", "log", "a", "and", "ate", "zebra", "yak's"];
        let mut targets: Vec<&str> = words.to_vec();
        targets.extend(["</s>", "<unk>"]);
        for h in [vec!["<s>"], vec!["the", "cat"], vec!["zebra"], vec!["yak's", "zebra"]] {
            let sum: f64 =
                targets.iter().map(|w| 10f64.powf(lm.log10_prob_words(&h, w) as f64)).sum();
            assert!((sum - 1.0).abs() < 1e-4, "history {h:?}: Σp = {sum}");
        }
        let p = |lm: &ArpaLm, w: &str| lm.log10_prob_words(&["<s>"], w);
        assert_eq!(p(&lm, "zebra"), p(&lm, "<unk>"));
        assert!(p(&lm, "zebra") < p(&plain, "<unk>"), "|V| grew, so the unseen share shrank");
        assert!(p(&lm, "cat") > p(&lm, "zebra"));
    }

    /// Bigram probabilities worked out by hand from the formula in the module docs.
    #[test]
    fn bigram_by_hand() {
        let (lm, report) = build("a b\na c\nb\n", 2);
        assert_eq!(report.sentences, 3);
        // Unigram adjusted counts (continuation, but raw after <s>): words a b c </s>:
        // a: left contexts {<s>} → 1; b: {a, <s>} → 2; c: {a} → 1; </s>: {b, c} → 2. Σ = 6.
        // n1 = 2, n2 = 2 → D1 = 2/6 = 1/3; γ0 = D1·4/6 = 2/9; |V| = 5.
        let d1 = 1.0 / 3.0;
        let p_uni = |a: f64| (a - d1) / 6.0 + (2.0 / 9.0) / 5.0;
        // Bigrams (raw): <s> a 2, <s> b 1, a b 1, a c 1, b </s> 2, c </s> 1; n1 = 4, n2 = 2 → D2 = 0.5.
        // History a: c = 2, 2 types → γ = 0.5; p(b|a) = (1 − 0.5)/2 + 0.5·p1(b).
        let want = 0.25 + 0.5 * p_uni(2.0);
        let got = 10f64.powf(lm.log10_prob_words(&["a"], "b") as f64);
        assert!((got - want).abs() < 1e-5, "{got} vs {want}");
        // Unseen bigram "b c": back-off weight of b (γ = 0.5·1/2) times p1(c).
        let want = 0.25 * p_uni(1.0);
        let got = 10f64.powf(lm.log10_prob_words(&["b"], "c") as f64);
        assert!((got - want).abs() < 1e-5, "{got} vs {want}");
    }

    #[test]
    fn bad_lines_are_reported_and_output_is_reproducible() {
        let (_, report) = build(TEXT, 3);
        assert_eq!(report.sentences, 6);
        assert_eq!(report.skipped.len(), 1);
        assert_eq!(report.skipped[0].0, 6);
        let arpa = |t: &str| {
            let mut b = LmBuilder::new(3, Alphabet::default()).unwrap();
            for (i, l) in t.lines().enumerate() {
                b.add_line(i + 1, l);
            }
            b.to_arpa().unwrap().0
        };
        assert_eq!(arpa(TEXT), arpa(TEXT));
        assert!(LmBuilder::new(0, Alphabet::default()).is_err());
        let empty = LmBuilder::new(3, Alphabet::default()).unwrap();
        assert!(empty.to_arpa().unwrap_err().to_string().contains("no usable sentences"));
    }
}
