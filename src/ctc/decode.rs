//! CTC decoders: pure functions over one utterance's (T, V) log-probabilities (natural log, label 0
//! = blank), shared by the CLI, the GUI and validation.
//!
//! Shapes: `T` output frames (after any subsampling; `frame_duration_s` seconds each), `V` labels
//! including the blank.
//!
//! Confidence, the same definition for both decoders:
//! - `Hypothesis::confidence = exp(log_prob / T)`: the per-frame geometric mean of the acoustic
//!   probability of the hypothesis (greedy: its best path; beam: its labeling summed over all
//!   alignments), in (0, 1]. It is length-independent and defined for empty text.
//! - `char_confidences[i]`: the posterior of the character's label at the frame where it is
//!   emitted (greedy: the highest posterior over the run of frames that emit it).

use ndarray::ArrayView2;

use crate::ctc::Alphabet;
use crate::ctc::lexicon::{self, Lexicon};
use crate::ctc::lm::{LanguageModel, LmState};
use crate::ctc::loss::log_add;

/// One decoded transcript.
#[derive(Debug, Clone, PartialEq)]
pub struct Hypothesis {
    /// The characters of `labels` (labels without a character in the alphabet are skipped).
    pub text: String,
    /// Collapsed non-blank labels (1-based).
    pub labels: Vec<usize>,
    /// One per character of `text`: start time (s) of the frame where it is emitted.
    pub char_times_s: Vec<f32>,
    /// One per character of `text`, in 0..1 (see the module documentation).
    pub char_confidences: Vec<f32>,
    /// `exp(log_prob / T)`, in 0..1.
    pub confidence: f32,
    /// Acoustic ln-probability (greedy: of the best path; beam: of the labeling).
    pub log_prob: f32,
    /// The ranking score: `log_prob + lm_weight · Σ ln P_LM(words, </s>) + word_bonus · words`
    /// with an LM; `log_prob` for greedy decoding and for beam search without an LM. With a
    /// [`BeamOptions::blank_penalty`], the search's penalized acoustic score stands for
    /// `log_prob` here.
    pub score: f32,
}

/// Best-path decoding: the most likely label per frame, repeats merged, blanks removed.
pub fn greedy(
    log_probs: ArrayView2<f32>,
    alphabet: &Alphabet,
    frame_duration_s: f32,
) -> Hypothesis {
    let t_len = log_probs.nrows();
    let mut labels = Vec::new();
    let mut text = String::new();
    let mut times = Vec::new();
    let mut confs: Vec<f32> = Vec::new();
    let mut log_prob = 0.0f32;
    let mut prev = 0usize;
    let mut prev_has_char = false;
    for (t, row) in log_probs.rows().into_iter().enumerate() {
        let (k, lp) = row
            .iter()
            .enumerate()
            .fold((0, f32::NEG_INFINITY), |best, (k, &x)| if x > best.1 { (k, x) } else { best });
        log_prob += lp;
        if k != 0 && k != prev {
            labels.push(k);
            prev_has_char = false;
            if let Some(c) = alphabet.char_of(k) {
                text.push(c);
                times.push(t as f32 * frame_duration_s);
                confs.push(lp.exp());
                prev_has_char = true;
            }
        } else if k != 0 && prev_has_char {
            let last = confs.last_mut().expect("a char was pushed for this run");
            *last = last.max(lp.exp());
        }
        prev = k;
    }
    let confidence = confidence_of(log_prob, t_len);
    Hypothesis {
        text,
        labels,
        char_times_s: times,
        char_confidences: confs,
        confidence,
        log_prob,
        score: log_prob,
    }
}

/// Settings of [`prefix_beam_search`].
#[derive(Debug, Clone, PartialEq)]
pub struct BeamOptions {
    /// Prefixes kept after each frame (1 = a greedy search over labelings).
    pub beam_width: usize,
    /// Characters whose ln-probability at a frame is below this are not tried at that frame.
    pub prune_log_prob: f32,
    /// Weight of the language model's ln-probabilities (used only with an LM).
    pub lm_weight: f32,
    /// Added per completed word, only with an LM (counters its preference for few words).
    pub word_bonus: f32,
    /// Subtracted from the blank's ln-probability at every frame while searching (0 = none). A
    /// CTC model that drops characters under an unfamiliar voice puts too much mass on the
    /// blank; a penalty makes the search emit a label where it nearly won. It changes which
    /// labeling wins, not what is reported: with a penalty, each result's `log_prob` is
    /// recomputed over every alignment with the true posteriors ([`labeling_log_prob`]).
    pub blank_penalty: f32,
}

impl Default for BeamOptions {
    fn default() -> Self {
        BeamOptions {
            beam_width: 16,
            prune_log_prob: -10.0,
            lm_weight: 0.5,
            word_bonus: 1.0,
            blank_penalty: 0.0,
        }
    }
}

const NONE: u32 = u32::MAX;

/// A node of the prefix trie: the prefix is the labels on the path from the root.
struct Node {
    parent: u32,
    /// last label of the prefix (0 only at the root)
    label: u32,
    /// first child and next sibling (a linked list: no allocation per node)
    first_child: u32,
    next_sibling: u32,
    /// ln-probabilities of the prefix ending in a blank / in its last label, at the current frame
    pb: f32,
    pnb: f32,
    /// the same for the next frame, valid when `stamp` is that frame
    next_pb: f32,
    next_pnb: f32,
    stamp: u32,
    /// frame and label ln-probability of the strongest extension that emitted `label`
    emit_frame: u32,
    emit_lp: f32,
    emit_best: f32,
    /// LM context after the last completed word (index into `states`), and the accumulated
    /// `lm_weight · ln P_LM + word_bonus · words` of the completed words
    lm_state: u32,
    bonus: f32,
    /// Lexicon node of the partial word (with a lexicon-constrained LM).
    lex: u32,
    /// `lm_weight ·` the lexicon's look-ahead score of the partial word (0 between words).
    look: f32,
}

struct Trie {
    nodes: Vec<Node>,
    states: Vec<LmState>,
}

impl Trie {
    fn node(parent: u32, label: u32, lm_state: u32, bonus: f32) -> Node {
        let ninf = f32::NEG_INFINITY;
        Node {
            parent,
            label,
            first_child: NONE,
            next_sibling: NONE,
            pb: ninf,
            pnb: ninf,
            next_pb: ninf,
            next_pnb: ninf,
            stamp: NONE,
            emit_frame: 0,
            emit_lp: ninf,
            emit_best: ninf,
            lm_state,
            bonus,
            lex: lexicon::ROOT,
            look: 0.0,
        }
    }

    /// The word that ends at node `n` (characters back to the previous space or the root).
    fn last_word(&self, mut n: u32, alphabet: &Alphabet, space: u32) -> String {
        let mut rev = Vec::new();
        while n != 0 && self.nodes[n as usize].label != space {
            if let Some(c) = alphabet.char_of(self.nodes[n as usize].label as usize) {
                rev.push(c);
            }
            n = self.nodes[n as usize].parent;
        }
        rev.iter().rev().collect()
    }

    /// LM state and bonus after completing the word ending at `n` (unchanged if that word is
    /// empty, and `None` without an LM).
    fn complete_word(&self, n: u32, ctx: &Ctx) -> Option<(LmState, f32)> {
        let node = &self.nodes[n as usize];
        let lm = ctx.lm?;
        if n == 0 || node.label == ctx.space {
            return None;
        }
        let word = self.last_word(n, ctx.alphabet, ctx.space);
        let (s, next) = lm.score_word(&self.states[node.lm_state as usize], &word);
        Some((next, node.bonus + ctx.opts.lm_weight * s + ctx.opts.word_bonus))
    }

    /// Writes the children of `n` into `by_label` (indexed by label; others are left as they are).
    fn children_into(&self, n: u32, by_label: &mut [u32]) {
        let mut k = self.nodes[n as usize].first_child;
        while k != NONE {
            let node = &self.nodes[k as usize];
            by_label[node.label as usize] = k;
            k = node.next_sibling;
        }
    }

    /// Adds the child `c` of `n`; `None` if the lexicon rules it out (the partial word would
    /// not be the prefix of any word, or a space would end a partial word that is not a word).
    fn add_child(&mut self, n: u32, c: u32, ctx: &Ctx) -> Option<u32> {
        let parent = &self.nodes[n as usize];
        let (mut lex, mut look) = (lexicon::ROOT, 0.0);
        if let Some(lx) = ctx.lexicon {
            if c == ctx.space {
                if parent.lex != lexicon::ROOT && !lx.is_word(parent.lex) {
                    return None;
                }
            } else {
                let ch = ctx.alphabet.char_of(c as usize)?;
                lex = lx.child(parent.lex, ch)?;
                // (≤ 0 and never above the parent's, which the pruning below relies on)
                look = ctx.opts.lm_weight.max(0.0) * lx.lookahead(lex);
            }
        }
        let (mut lm_state, mut bonus) = (parent.lm_state, parent.bonus);
        if c == ctx.space
            && let Some((state, b)) = self.complete_word(n, ctx)
        {
            bonus = b;
            self.states.push(state);
            lm_state = (self.states.len() - 1) as u32;
        }
        let id = self.nodes.len() as u32;
        let mut node = Trie::node(n, c, lm_state, bonus);
        node.lex = lex;
        node.look = look;
        node.next_sibling = self.nodes[n as usize].first_child;
        self.nodes.push(node);
        self.nodes[n as usize].first_child = id;
        Some(id)
    }
}

struct Ctx<'a> {
    alphabet: &'a Alphabet,
    opts: &'a BeamOptions,
    lm: Option<&'a dyn LanguageModel>,
    lexicon: Option<&'a Lexicon>,
    space: u32,
}

/// Ranking score of a node at the next frame: acoustic + LM bonus + look-ahead of the partial word.
#[inline]
fn score_next(node: &Node) -> f32 {
    log_add(node.next_pb, node.next_pnb) + node.bonus + node.look
}

/// Adds probability mass to a node's next-frame accumulators.
#[inline]
fn accumulate(nodes: &mut [Node], touched: &mut Vec<u32>, n: u32, t: u32, pb: f32, pnb: f32) {
    let node = &mut nodes[n as usize];
    if node.stamp != t {
        node.stamp = t;
        node.next_pb = f32::NEG_INFINITY;
        node.next_pnb = f32::NEG_INFINITY;
        touched.push(n);
    }
    node.next_pb = log_add(node.next_pb, pb);
    node.next_pnb = log_add(node.next_pnb, pnb);
}

/// Whether decoding with `opts` (and an LM or not) is greedy: a one-wide beam with no LM takes
/// the best label per frame, without the prefix search (and so without a blank penalty).
pub fn decodes_greedily(opts: &BeamOptions, has_lm: bool) -> bool {
    opts.beam_width <= 1 && !has_lm
}

/// The best labeling of `log_probs` as configured: [`greedy`] when [`decodes_greedily`], else
/// the best result of [`prefix_beam_search`] (the empty labeling if it has none). File decoding
/// and the live recognizer both decode through this, so they agree.
pub fn decode_best(
    log_probs: ArrayView2<f32>,
    alphabet: &Alphabet,
    frame_s: f32,
    opts: &BeamOptions,
    lm: Option<&dyn LanguageModel>,
) -> Hypothesis {
    if decodes_greedily(opts, lm.is_some()) {
        return greedy(log_probs, alphabet, frame_s);
    }
    prefix_beam_search(log_probs, alphabet, frame_s, opts, lm)
        .into_iter()
        .next()
        .unwrap_or_else(|| greedy(log_probs.slice(ndarray::s![0..0, ..]), alphabet, frame_s))
}

/// CTC prefix beam search (Hannun et al. 2014) in log space over a prefix trie, with an optional
/// word LM applied when a word is completed (a space is emitted, or the utterance ends). With a
/// lexicon-constrained LM a partial word is ranked with `lm_weight ·` its look-ahead (the best
/// unigram ln-probability of a word it can become), which the word's real LM score replaces when
/// it completes; the look-ahead steers pruning only, it is not part of any result's score.
/// Returns up to `beam_width` (at most [`MAX_RESULTS`]) hypotheses, best score first. With a
/// [`BeamOptions::blank_penalty`] the search ranks by penalized blank probabilities.
///
/// For each prefix `ℓ` it tracks `pb` (paths ending in blank) and `pnb` (ending in `ℓ`'s last
/// label). At each frame: blank keeps `ℓ` (`pb' += pb + pnb + y∅`); repeating the last label keeps
/// `ℓ` (`pnb' += pnb + y_last`); a new label `c` extends it (`pnb'(ℓc) += pb + pnb + y_c`, but only
/// `pb + y_c` when `c` equals the last label, which needs a blank in between).
pub fn prefix_beam_search(
    log_probs: ArrayView2<f32>,
    alphabet: &Alphabet,
    frame_duration_s: f32,
    opts: &BeamOptions,
    lm: Option<&dyn LanguageModel>,
) -> Vec<Hypothesis> {
    let (t_len, v) = log_probs.dim();
    debug_assert!(v > 0, "log_probs must have at least the blank column");
    // Without even a blank column there is nothing to decode: return the empty transcript.
    let t_len = if v == 0 { 0 } else { t_len };
    let beam_width = opts.beam_width.max(1);
    let ctx = Ctx {
        alphabet,
        opts,
        lm,
        lexicon: lm.and_then(|m| m.lexicon()),
        space: alphabet.space_label().map_or(NONE, |l| l as u32),
    };
    let mut trie = Trie {
        nodes: Vec::with_capacity(t_len * beam_width * 2 + 1),
        states: vec![lm.map_or(LmState::default(), |m| m.begin())],
    };
    trie.nodes.push(Trie::node(NONE, 0, 0, 0.0));
    trie.nodes[0].pb = 0.0;
    let mut beam: Vec<u32> = vec![0];
    let mut touched: Vec<u32> = Vec::with_capacity(beam_width * v);
    let mut candidates: Vec<u32> = Vec::with_capacity(v);
    let mut by_label: Vec<u32> = vec![NONE; v];
    let mut ranked: Vec<(f32, u32)> = Vec::with_capacity(beam_width * v);
    let mut owned_row: Vec<f32> = Vec::with_capacity(v);

    for t in 0..t_len {
        let row = log_probs.row(t);
        let y: &[f32] = match row.as_slice() {
            Some(s) if opts.blank_penalty == 0.0 => s,
            _ => {
                owned_row.clear();
                owned_row.extend(row.iter());
                owned_row[0] -= opts.blank_penalty;
                &owned_row
            }
        };
        let tt = t as u32;
        candidates.clear();
        candidates.extend((1..v as u32).filter(|&c| y[c as usize] >= opts.prune_log_prob));
        touched.clear();
        // Blank and repeated last label keep each prefix. After this pass every beam prefix has a
        // lower bound of its next score.
        for &n in &beam {
            let node = &trie.nodes[n as usize];
            let (pb, pnb, last) = (node.pb, node.pnb, node.label);
            let total = log_add(pb, pnb);
            accumulate(&mut trie.nodes, &mut touched, n, tt, total + y[0], f32::NEG_INFINITY);
            if n != 0 {
                let p = pnb + y[last as usize];
                accumulate(&mut trie.nodes, &mut touched, n, tt, f32::NEG_INFINITY, p);
            }
        }
        // A prefix outside the beam has one parent, so its next score is exactly the one extension
        // below plus its LM bonus and look-ahead (at most the parent's, unless the label is a
        // space). If `beam_width` beam prefixes already score at least `threshold`, a lower
        // extension cannot survive: skipping it changes no result and saves most trie nodes.
        let threshold = if beam.len() >= beam_width {
            beam.iter().map(|&n| score_next(&trie.nodes[n as usize])).fold(f32::INFINITY, f32::min)
        } else {
            f32::NEG_INFINITY
        };
        for &n in &beam {
            let node = &trie.nodes[n as usize];
            let (pb, pnb, last, bonus) = (node.pb, node.pnb, node.label, node.bonus);
            // A child's look-ahead is at most its parent's (fewer words below it).
            let bound = bonus + node.look;
            let total = log_add(pb, pnb);
            by_label.iter_mut().for_each(|x| *x = NONE);
            trie.children_into(n, &mut by_label);
            for &c in &candidates {
                let yc = y[c as usize];
                let p = if c == last && n != 0 { pb + yc } else { total + yc };
                if p == f32::NEG_INFINITY {
                    continue;
                }
                let found = by_label[c as usize];
                let child = if found != NONE && trie.nodes[found as usize].stamp == tt {
                    found
                } else if c != ctx.space && p + bound < threshold {
                    continue;
                } else if found != NONE {
                    found
                } else {
                    match trie.add_child(n, c, &ctx) {
                        Some(k) => k,
                        None => continue,
                    }
                };
                accumulate(&mut trie.nodes, &mut touched, child, tt, f32::NEG_INFINITY, p);
                let node = &mut trie.nodes[child as usize];
                if p > node.emit_best {
                    node.emit_best = p;
                    node.emit_frame = tt;
                    node.emit_lp = yc;
                }
            }
        }
        // Keep the best `beam_width` prefixes by acoustic + LM score.
        ranked.clear();
        ranked.extend(touched.iter().map(|&n| (score_next(&trie.nodes[n as usize]), n)));
        if ranked.len() > beam_width {
            ranked.select_nth_unstable_by(beam_width - 1, |a, b| b.0.total_cmp(&a.0));
            ranked.truncate(beam_width);
        }
        beam.clear();
        for &(_, n) in &ranked {
            let node = &mut trie.nodes[n as usize];
            node.pb = node.next_pb;
            node.pnb = node.next_pnb;
            beam.push(n);
        }
    }

    // End of utterance: complete the last word and add </s>. With a lexicon, a prefix whose last
    // word is unfinished is not a result (unless nothing else is left).
    let complete = |n: &u32| {
        let node = &trie.nodes[*n as usize];
        ctx.lexicon.is_none_or(|lx| node.lex == lexicon::ROOT || lx.is_word(node.lex))
    };
    if beam.iter().any(complete) {
        beam.retain(complete);
    }
    let mut finals: Vec<Hypothesis> = beam
        .iter()
        .map(|&n| {
            let node = &trie.nodes[n as usize];
            let log_prob = log_add(node.pb, node.pnb);
            let (state, mut bonus) = match trie.complete_word(n, &ctx) {
                Some((s, b)) => (s, b),
                None => (trie.states[node.lm_state as usize].clone(), node.bonus),
            };
            if let Some(m) = lm {
                bonus += opts.lm_weight * m.score_end(&state);
            }
            hypothesis(&trie, n, alphabet, frame_duration_s, t_len, log_prob, log_prob + bonus)
        })
        .collect();
    finals.sort_by(|a, b| b.score.total_cmp(&a.score));
    finals.truncate(MAX_RESULTS);
    if opts.blank_penalty != 0.0 {
        // The search summed penalized blanks: report each labeling's true probability.
        for h in &mut finals {
            h.log_prob = labeling_log_prob(log_probs.slice(ndarray::s![..t_len, ..]), &h.labels);
            h.confidence = confidence_of(h.log_prob, t_len);
        }
    }
    finals
}

/// `exp(log_prob / T)`, 1 for no frames (see the module documentation).
fn confidence_of(log_prob: f32, t_len: usize) -> f32 {
    if t_len == 0 { 1.0 } else { (log_prob / t_len as f32).exp() }
}

/// Most hypotheses [`prefix_beam_search`] returns (callers take the first; a few more serve
/// anyone who wants alternatives).
pub const MAX_RESULTS: usize = 8;

/// `ln P(labels | x)` under CTC: the forward recursion (Graves et al. 2006) summed over every
/// alignment of the collapsed, blank-free `labels` with the `(T, V)` ln-probabilities; `-inf`
/// when `T` frames cannot hold them or a label is out of range. The CTC loss of the same
/// labeling is its negative.
pub fn labeling_log_prob(log_probs: ArrayView2<f32>, labels: &[usize]) -> f32 {
    let ninf = f32::NEG_INFINITY;
    let (t_len, v) = log_probs.dim();
    if labels.iter().any(|&l| l == 0 || l >= v) {
        return ninf;
    }
    if t_len == 0 {
        return if labels.is_empty() { 0.0 } else { ninf };
    }
    if v == 0 {
        // frames with no blank column either: nothing has any probability
        return ninf;
    }
    // Extended labeling: blank, l1, blank, l2, ..., blank.
    let s_len = 2 * labels.len() + 1;
    let ext = |s: usize| if s.is_multiple_of(2) { 0 } else { labels[s / 2] };
    let mut alpha = vec![ninf; s_len];
    let mut next = vec![ninf; s_len];
    alpha[0] = log_probs[[0, 0]];
    if s_len > 1 {
        alpha[1] = log_probs[[0, ext(1)]];
    }
    for t in 1..t_len {
        for s in 0..s_len {
            let mut a = alpha[s];
            if s >= 1 {
                a = log_add(a, alpha[s - 1]);
            }
            if s >= 2 && ext(s) != 0 && ext(s) != ext(s - 2) {
                a = log_add(a, alpha[s - 2]);
            }
            next[s] = a + log_probs[[t, ext(s)]];
        }
        std::mem::swap(&mut alpha, &mut next);
    }
    if s_len > 1 { log_add(alpha[s_len - 1], alpha[s_len - 2]) } else { alpha[0] }
}

fn hypothesis(
    trie: &Trie,
    mut n: u32,
    alphabet: &Alphabet,
    frame_duration_s: f32,
    t_len: usize,
    log_prob: f32,
    score: f32,
) -> Hypothesis {
    let mut path = Vec::new();
    while n != 0 {
        path.push(n);
        n = trie.nodes[n as usize].parent;
    }
    path.reverse();
    let mut h = Hypothesis {
        text: String::new(),
        labels: Vec::with_capacity(path.len()),
        char_times_s: Vec::new(),
        char_confidences: Vec::new(),
        confidence: confidence_of(log_prob, t_len),
        log_prob,
        score,
    };
    for id in path {
        let node = &trie.nodes[id as usize];
        h.labels.push(node.label as usize);
        if let Some(c) = alphabet.char_of(node.label as usize) {
            h.text.push(c);
            h.char_times_s.push(node.emit_frame as f32 * frame_duration_s);
            h.char_confidences.push(node.emit_lp.exp());
        }
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    /// (T, V) log-probabilities from per-frame lists of (label, probability); the remaining mass
    /// is spread evenly over the other labels.
    fn frames(spec: &[&[(usize, f32)]], v: usize) -> Array2<f32> {
        let mut lp = Array2::zeros((spec.len(), v));
        for (t, f) in spec.iter().enumerate() {
            let listed: f32 = f.iter().map(|x| x.1).sum();
            let rest = ((1.0 - listed) / (v - f.len()) as f32).max(1e-12);
            for k in 0..v {
                lp[[t, k]] = f.iter().find(|x| x.0 == k).map_or(rest, |x| x.1).ln();
            }
        }
        lp
    }

    #[test]
    fn greedy_collapses_repeats_and_blanks() {
        let a = Alphabet::default(); // 1 = ' ', 2 = 'a', 3 = 'b'
        let lp = frames(
            &[
                &[(2, 0.9)],
                &[(2, 0.8)],
                &[(0, 0.9)],
                &[(2, 0.7)],
                &[(3, 0.9)],
                &[(3, 0.6)],
                &[(0, 0.9)],
            ],
            29,
        );
        let h = greedy(lp.view(), &a, 0.03);
        assert_eq!(h.text, "aab");
        assert_eq!(h.labels, vec![2, 2, 3]);
        let close = |x: &[f32], y: &[f32]| x.iter().zip(y).all(|(a, b)| (a - b).abs() < 1e-5);
        assert!(close(&h.char_times_s, &[0.0, 0.09, 0.12]), "{:?}", h.char_times_s);
        assert!(close(&h.char_confidences, &[0.9, 0.7, 0.9]), "{:?}", h.char_confidences);
        let best_path: f32 = [0.9f32, 0.8, 0.9, 0.7, 0.9, 0.6, 0.9].iter().map(|p| p.ln()).sum();
        assert!((h.log_prob - best_path).abs() < 1e-5);
        assert!((h.confidence - (best_path / 7.0).exp()).abs() < 1e-6);
    }
}
