import math
import os
import struct
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, HERE)

from sphinx_lm import HDR, required_bits  # noqa: E402

LN_BASE = math.log(1.0001)


def log_units(log10p):
    """A log10 value in the file's units (logarithms to base 1.0001)."""
    return log10p * math.log(10.0) / LN_BASE


class Bits:
    def __init__(self, nbytes):
        self.value, self.nbytes = 0, nbytes

    def put(self, offset, bits, v):
        assert 0 <= v < (1 << bits)
        self.value |= v << offset

    def bytes(self):
        return self.value.to_bytes(self.nbytes, "little")


def trie_file(words, unigrams, bigrams, trigrams):
    """A Sphinx trie LM, laid out as sphinxbase writes it. unigrams: [(log10 p, log10 bo)];
    bigrams: {(before, last): (log10 p, log10 bo)}; trigrams: {(w1, w2, w3): log10 p}. Word
    arguments are indices into `words`."""
    counts = (len(words), len(bigrams), len(trigrams))
    # Quantization bins: code i decodes to table[i]; the values used get their own codes.
    mid_p = sorted({p for p, _ in bigrams.values()})
    mid_b = sorted({b for _, b in bigrams.values()})
    long_p = sorted(set(trigrams.values()))

    def table(vals):
        t = [log_units(v) for v in vals]
        return t + [t[-1]] * (65536 - len(t))

    # Reversed order: a unigram's children are the words before it, sorted.
    mid = sorted(bigrams, key=lambda g: (g[1], g[0]))
    longest = sorted(trigrams, key=lambda g: (g[2], g[1], g[0]))
    wbits, nbits = required_bits(counts[0]), required_bits(counts[2])
    mt, lt = wbits + 32 + nbits, wbits + 16
    msize = ((1 + counts[1]) * mt + 7) // 8 + 8
    lsize = ((1 + counts[2]) * lt + 7) // 8 + 8
    mb, lb = Bits(msize), Bits(lsize)
    for i, (before, last) in enumerate(mid):
        p, b = bigrams[(before, last)]
        first = sum(1 for g in longest if (g[2], g[1]) < (last, before))
        at = i * mt
        mb.put(at, wbits, before)
        mb.put(at + wbits, 16, mid_b.index(b))
        mb.put(at + wbits + 16, 16, mid_p.index(p))
        mb.put(at + wbits + 32, nbits, first)
    mb.put(len(mid) * mt + wbits + 32, nbits, len(longest))  # the end of the last range
    for j, g in enumerate(longest):
        lb.put(j * lt, wbits, g[0])
        lb.put(j * lt + wbits, 16, long_p.index(trigrams[g]))
    out = HDR + bytes([3]) + struct.pack("<3I", *counts) + struct.pack("<i", 0)
    out += struct.pack("<%df" % (3 * 65536), *(table(mid_p) + table(mid_b) + table(long_p)))
    for w in range(counts[0] + 1):
        first = sum(1 for g in mid if g[1] < w)
        p, b = unigrams[w] if w < counts[0] else (0.0, 0.0)
        out += struct.pack("<ffI", log_units(p), log_units(b), first)
    out += mb.bytes() + lb.bytes()
    names = b"".join(w.encode() + b"\0" for w in words)
    return out + struct.pack("<i", len(names)) + names


class Reading(unittest.TestCase):
    def test_reads_every_ngram_with_its_weights(self):
        words = ["</s>", "<s>", "cat", "sat", "the"]
        W = {w: i for i, w in enumerate(words)}
        unigrams = [(-0.7, 0.0), (-99.0, -0.3), (-0.6, -0.1), (-0.8, -0.25), (-0.4, -0.2)]
        bigrams = {(W["<s>"], W["the"]): (-0.25, -0.125), (W["the"], W["cat"]): (-0.5, -0.75),
                   (W["cat"], W["sat"]): (-0.375, 0.0), (W["sat"], W["</s>"]): (-0.125, 0.0)}
        trigrams = {(W["<s>"], W["the"], W["cat"]): -0.0625, (W["the"], W["cat"], W["sat"]): -0.1}
        with tempfile.TemporaryDirectory() as d:
            src, dst = os.path.join(d, "t.lm.bin"), os.path.join(d, "t.arpa")
            with open(src, "wb") as f:
                f.write(trie_file(words, unigrams, bigrams, trigrams))
            subprocess.run([sys.executable, os.path.join(HERE, "sphinx_lm.py"), src, dst],
                           check=True, capture_output=True)
            with open(dst, encoding="utf-8") as f:
                text = f.read()
        self.assertIn("ngram 1=5\nngram 2=4\nngram 3=2\n", text)
        self.assertIn("-0.4000\tthe\t-0.2000\n", text)
        self.assertIn("-0.2500\t<s> the\t-0.1250\n", text)
        self.assertIn("-0.5000\tthe cat\t-0.7500\n", text)
        self.assertIn("-0.1250\tsat </s>\t0.0000\n", text)
        self.assertIn("-0.0625\t<s> the cat\n", text)
        self.assertIn("-0.1000\tthe cat sat\n", text)
        self.assertTrue(text.rstrip().endswith("\\end\\"))

    def test_other_files_are_refused(self):
        with tempfile.TemporaryDirectory() as d:
            src = os.path.join(d, "x.lm.bin")
            with open(src, "wb") as f:
                f.write(b"not a language model")
            r = subprocess.run([sys.executable, os.path.join(HERE, "sphinx_lm.py"), src,
                                os.path.join(d, "x.arpa")], capture_output=True, text=True)
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("not a Sphinx trie LM", r.stderr)
            with open(src, "wb") as f:
                f.write(HDR + bytes([3]) + struct.pack("<3I", 5, 4, 2) + bytes(100))
            r = subprocess.run([sys.executable, os.path.join(HERE, "sphinx_lm.py"), src,
                                os.path.join(d, "x.arpa")], capture_output=True, text=True)
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("shorter than its counts", r.stderr)


if __name__ == "__main__":
    unittest.main()
