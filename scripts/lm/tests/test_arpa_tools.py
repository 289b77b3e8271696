import gzip
import math
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from arpa_tools import Lm, mix, prune, read_arpa, write_arpa  # noqa: E402

# Two small models over different vocabularies (unigrams sum to one; the mixed and pruned
# models' backoff weights make every other context sum to one).
A = """\\data\\
ngram 1=5
ngram 2=4
ngram 3=2

\\1-grams:
-0.6990\t</s>
-99\t<s>\t-0.3
-0.3979\tthe\t-0.2
-0.6990\tcat\t-0.1
-0.6990\tsat\t-0.25

\\2-grams:
-0.2218\t<s> the\t-0.1
-0.3010\tthe cat\t-0.15
-0.3979\tcat sat
-0.1549\tsat </s>

\\3-grams:
-0.1249\t<s> the cat
-0.0969\tthe cat sat

\\end\\
"""

B = """\\data\\
ngram 1=4
ngram 2=3

\\1-grams:
-0.4771\t</s>
-99\t<s>\t-0.2
-0.4771\tthe\t-0.3
-0.4771\tdog\t-0.1

\\2-grams:
-0.3010\t<s> the
-0.2218\tthe dog
-0.1249\tdog </s>

\\end\\
"""


def write(text, name, d):
    path = os.path.join(d, name)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return path


def total(lm, history, vocab):
    return sum(10 ** lm.log10p(history, w) for w in vocab if lm.log10p(history, w) is not None)


class Mixing(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.a = Lm.read(write(A, "a.arpa", self.dir.name))
        self.b = Lm.read(write(B, "b.arpa", self.dir.name))

    def tearDown(self):
        self.dir.cleanup()

    def mixed(self, weight, name="m.arpa.gz"):
        probs, order = mix(self.a, self.b, weight)
        path = os.path.join(self.dir.name, name)
        write_arpa(path, probs, order)
        return Lm.read(path), path

    def test_listed_ngrams_are_the_interpolation(self):
        m, _ = self.mixed(0.3)
        for h, w in [((), "dog"), (("<s>",), "the"), (("the",), "cat"), (("<s>", "the"), "cat"),
                     (("the",), "dog")]:
            pa, pb = self.a.log10p(h, w), self.b.log10p(h, w)
            want = 0.3 * (10 ** pa if pa is not None else 0) + 0.7 * (10 ** pb if pb is not None else 0)
            self.assertAlmostEqual(10 ** m.log10p(h, w), want, places=5, msg=(h, w))

    def test_every_context_sums_to_one(self):
        m, _ = self.mixed(0.4)
        vocab = ["</s>", "the", "cat", "sat", "dog"]
        for h in [(), ("<s>",), ("the",), ("cat",), ("dog",), ("<s>", "the"), ("the", "cat"),
                  ("sat", "dog")]:
            self.assertAlmostEqual(total(m, h, vocab), 1.0, places=4, msg=h)

    def test_weight_one_keeps_the_first_model(self):
        m, _ = self.mixed(1.0)
        for h, w in [((), "cat"), (("the",), "cat"), (("<s>", "the"), "cat"), (("cat",), "sat")]:
            self.assertAlmostEqual(m.log10p(h, w), self.a.log10p(h, w), places=3, msg=(h, w))

    def test_gzip_output_is_reproducible(self):
        _, p1 = self.mixed(0.5, "one.arpa.gz")
        _, p2 = self.mixed(0.5, "two.arpa.gz")
        with open(p1, "rb") as f1, open(p2, "rb") as f2:
            self.assertEqual(f1.read(), f2.read())
        with gzip.open(p1, "rt") as f:
            self.assertTrue(f.read().startswith("\\data\\\nngram 1=6\n"))


class Pruning(unittest.TestCase):
    def test_keeps_contexts_of_kept_trigrams_and_renormalizes(self):
        with tempfile.TemporaryDirectory() as d:
            a = Lm.read(write(A, "a.arpa", d))
            probs, order = prune(a, bigrams=1, trigrams=1)
            self.assertEqual(sum(1 for g in probs if len(g) == 1), 5)
            self.assertEqual(sum(1 for g in probs if len(g) == 3), 1)
            (tri,) = [g for g in probs if len(g) == 3]
            self.assertIn(tri[:2], probs)
            path = os.path.join(d, "p.arpa")
            write_arpa(path, probs, order)
            p = Lm.read(path)
            for h in [(), ("<s>",), ("the",), ("cat",), ("<s>", "the"), ("the", "cat")]:
                self.assertAlmostEqual(total(p, h, ["</s>", "the", "cat", "sat"]), 1.0, places=3,
                                       msg=h)

    def test_a_damaged_file_is_an_error_naming_it(self):
        with tempfile.TemporaryDirectory() as d:
            bad = write("\\data\\\nngram 1=1\n\n\\2-grams:\n-1.0\tonly\n", "bad.arpa", d)
            with self.assertRaises(ValueError) as e:
                read_arpa(bad)
            self.assertIn("bad.arpa", str(e.exception))


if __name__ == "__main__":
    unittest.main()
