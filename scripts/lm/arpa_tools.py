#!/usr/bin/env python3
"""Word n-gram LMs in ARPA form: pruning and linear interpolation (Python 3 standard library).

    arpa_tools.py prune IN.arpa OUT.arpa --bigrams K2 --trigrams K3
    arpa_tools.py mix A.arpa B.arpa --weight L OUT.arpa[.gz]

`prune` keeps the K2 bigrams and K3 trigrams with the largest weighted difference
p(h, w) * (log p(w|h) - log p_backoff(w|h)) (Seymore & Rosenfeld 1996), every bigram a kept
trigram needs as its context, and every unigram; the backoff weights are then recomputed so
each context's distribution sums to one again.

`mix` writes the static interpolation p(w|h) = L p_A(w|h) + (1 - L) p_B(w|h) (each with its
own backoff) for every n-gram either model lists, over the union of their vocabularies (a word
one model lacks has probability 0 there, or its <unk> probability if it has one); backoff
weights are computed so the mixed model's distributions sum to one (as SRILM's -mix-lm).

A NAME.gz output is gzip-compressed with no timestamp, so the same inputs give the same bytes.
Used by scripts/make_default_model.sh to mix the training-text LM with the CMU Sphinx general
English LM (scripts/lm/README.md).
"""
import argparse
import gzip
import math
import sys
from collections import defaultdict

LOG0 = -99.0


def read_arpa(path):
    """{n-gram tuple: (log10 prob, log10 backoff)} and the order."""
    grams, order, section = {}, 0, 0
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line.startswith("\\") and line.endswith("-grams:"):
                section = int(line[1:].split("-")[0])
                order = max(order, section)
                continue
            if line == "\\end\\":
                break
            if not section or not line:
                continue
            fields = line.split()
            if len(fields) < 1 + section:
                raise ValueError(f"{path}: a {section}-gram needs {section} words: {line!r}")
            gram = tuple(fields[1:1 + section])
            bo = float(fields[1 + section]) if len(fields) > 1 + section else 0.0
            grams[gram] = (float(fields[0]), bo)
    if not order:
        raise ValueError(f"{path}: no n-gram sections")
    return grams, order


def backoff_log10p(history, word, prob, backoff, unseen):
    """log10 p(word | history) by the ARPA backoff rule: the longest listed n-gram ending in
    `word`, plus the backoff weights of the contexts dropped on the way (`prob(gram)`: its log10
    probability or None; `backoff(context)`: its weight, 0 if none); `unseen` when even the
    unigram is missing."""
    h, bo = tuple(history), 0.0
    while True:
        lp = prob(h + (word,))
        if lp is not None:
            return bo + lp
        if not h:
            return unseen if unseen is None else bo + unseen
        bo += backoff(h)
        h = h[1:]


class Lm:
    def __init__(self, grams, order):
        self.grams, self.order = grams, order
        unk = grams.get(("<unk>",))
        self.unk = None if unk is None else unk[0]

    @classmethod
    def read(cls, path):
        return cls(*read_arpa(path))

    def log10p(self, history, word):
        """log10 p(word | history) with backoff; None for a word the model does not know."""
        h = tuple(history[-(self.order - 1):]) if self.order > 1 else ()
        g = self.grams
        return backoff_log10p(h, word, lambda k: g[k][0] if k in g else None,
                              lambda k: g.get(k, (0.0, 0.0))[1], self.unk)


def backoff_weights(probs, order):
    """Backoff weight of every context, so that p(.|h) sums to one: (1 - sum of the listed
    continuations) / (1 - sum of their lower-order probabilities). probs: {gram: log10 p}."""
    bow = {}

    def lower(h, w):
        return backoff_log10p(h, w, probs.get, lambda k: bow.get(k, 0.0), LOG0)

    for n in range(2, order + 1):
        by_context = defaultdict(list)
        for g in probs:
            if len(g) == n:
                by_context[g[:-1]].append(g[-1])
        for h in sorted(by_context):
            ws = [w for w in by_context[h] if w != "<s>"]
            num = 1.0 - sum(10.0 ** probs[h + (w,)] for w in ws)
            den = 1.0 - sum(10.0 ** lower(h[1:], w) for w in ws)
            if num <= 1e-12:
                bow[h] = LOG0
            elif den <= 1e-12:
                bow[h] = 0.0
            else:
                bow[h] = math.log10(num / den)
    return bow


def write_arpa(path, probs, order):
    bow = backoff_weights(probs, order)
    lines = ["\\data\\"]
    by_order = [sorted(g for g in probs if len(g) == n) for n in range(1, order + 1)]
    lines += [f"ngram {n + 1}={len(gs)}" for n, gs in enumerate(by_order)]
    for n, gs in enumerate(by_order, start=1):
        lines += ["", f"\\{n}-grams:"]
        for g in gs:
            line = f"{probs[g]:.6f}\t{' '.join(g)}"
            if n < order and g in bow:
                line += f"\t{bow[g]:.6f}"
            lines.append(line)
    lines += ["", "\\end\\", ""]
    data = "\n".join(lines).encode("utf-8")
    if path.endswith(".gz"):
        with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0,
                                                   compresslevel=9, filename="") as f:
            f.write(data)
    else:
        with open(path, "wb") as f:
            f.write(data)


def mix(a, b, weight):
    """{gram: log10 p} of the interpolation weight * a + (1 - weight) * b."""
    order = max(a.order, b.order)
    vocab = {g[0] for m in (a, b) for g in m.grams if len(g) == 1}
    grams = {g for m in (a, b) for g in m.grams if all(w in vocab for w in g)}
    probs = {}

    def p(m, h, w):
        lp = m.log10p(h, w)
        return 0.0 if lp is None else 10.0 ** lp

    for g in grams:
        if g[-1] == "<s>":
            probs[g] = LOG0
            continue
        pm = weight * p(a, g[:-1], g[-1]) + (1.0 - weight) * p(b, g[:-1], g[-1])
        probs[g] = math.log10(min(pm, 1.0)) if pm > 0 else LOG0
    return probs, order


def prune(m, bigrams, trigrams):
    """{gram: log10 p} of the n-grams `prune` keeps (see the module documentation)."""
    def lp_or_0(h, w):
        lp = m.log10p(h, w)
        return LOG0 if lp is None else lp

    def joint(h):
        return sum(lp_or_0(h[:i], w) for i, w in enumerate(h) if i or w != "<s>")

    if m.order > 3:
        raise ValueError("prune reads models up to order 3")
    scored = {2: [], 3: []}
    for g, (lp, _) in m.grams.items():
        n = len(g)
        if n not in scored:
            continue
        back = m.grams.get(g[:-1], (0.0, 0.0))[1] + lp_or_0(g[1:-1], g[-1])
        scored[n].append((-(10.0 ** (joint(g[:-1]) + lp)) * (lp - back), g))
    keep = {g for g in m.grams if len(g) == 1}
    for n, k in ((2, bigrams), (3, trigrams)):
        scored[n].sort()
        keep.update(g for _, g in scored[n][:k])
    keep.update(g[:2] for g in list(keep) if len(g) == 3)
    return {g: m.grams[g][0] for g in keep}, m.order


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    pp = sub.add_parser("prune")
    pp.add_argument("inp")
    pp.add_argument("out")
    pp.add_argument("--bigrams", type=int, required=True)
    pp.add_argument("--trigrams", type=int, required=True)
    mp = sub.add_parser("mix")
    mp.add_argument("a")
    mp.add_argument("b")
    mp.add_argument("out")
    mp.add_argument("--weight", type=float, required=True, help="weight of A, in [0, 1]")
    args = ap.parse_args(argv)
    if args.cmd == "prune":
        probs, order = prune(Lm.read(args.inp), args.bigrams, args.trigrams)
    else:
        if not 0.0 <= args.weight <= 1.0:
            ap.error("--weight must be in [0, 1]")
        probs, order = mix(Lm.read(args.a), Lm.read(args.b), args.weight)
    write_arpa(args.out, probs, order)
    counts = [sum(1 for g in probs if len(g) == n) for n in range(1, order + 1)]
    print(f"{args.out}: " + ", ".join(f"{c} {n + 1}-grams" for n, c in enumerate(counts)),
          file=sys.stderr)


if __name__ == "__main__":
    main()
