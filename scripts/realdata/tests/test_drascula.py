import os
import shutil
import struct
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import drascula  # noqa: E402


def text_block(strings):
    """One language's block laid out as in the real file: line 0 empty, then each line
    NUL-terminated and padded to an even length, each preceded by the distance from its own
    start to the next line's start (the first distance, at offset 2, is from offset 4)."""
    assert strings[0] == ""
    enc = []
    for s in strings[1:]:
        e = s.encode("cp437") + b"\0"
        enc.append(e + b"\0" * (len(e) % 2))
    out = b"\0\0" + struct.pack(">H", 4) + b"\0\0"
    for k, e in enumerate(enc):
        out += struct.pack(">H", len(e) + 2 if k + 1 < len(enc) else 0) + e
    return out


def make_dat(tables, langs=2):
    """A drascula.dat: {table name: [lines]} in every language (the other languages' lines are
    marked, so picking the wrong one shows)."""
    out = b"DRASCULA" + bytes([6])
    for size in drascula._RECORDS:  # one record in each table before the texts
        out += struct.pack(">H", 1) + b"\x01" * size
    out += struct.pack(">H", langs)
    for name in drascula.TABLES:
        lines = tables.get(name, [""])
        out += struct.pack(">H", len(lines))
        for k in range(langs):
            block = text_block([s if k == 0 or not s else "LANG%d %s" % (k, s) for s in lines])
            out += struct.pack(">H", len(block)) + block
    return out


TABLES = {
    "text": [""] + ["JOHN LINE %d" % i for i in range(1, 90)],
    "textd": [""] + ["DRASCULA LINE %d" % i for i in range(1, 84)],
    "texti": ["", "MASTER, THIS IS NOT WORKING", "I AM POSITIVE, MASTER"],
    "textvb": ["", "WHO THE HELL IS CALLING AT THIS TIME?"],
    "textbj": ["", "ARE YOU ALL RIGHT? HEY, COME ON, WAKE UP"],
    "textt": ["", "WHAT HAPPENED?"],
}


class ReadDat(unittest.TestCase):
    def test_reads_the_english_lines_of_every_table(self):
        t = drascula.read_dat(make_dat(TABLES))
        self.assertEqual(t["texti"], TABLES["texti"])
        self.assertEqual(t["text"][42], "JOHN LINE 42")
        self.assertEqual(t["textd"][83], "DRASCULA LINE 83")
        self.assertEqual(t["textsys"], [""])
        self.assertEqual(set(t), set(drascula.TABLES))

    def test_picks_the_language_asked_for(self):
        t = drascula.read_dat(make_dat(TABLES), lang=1)
        self.assertEqual(t["texti"][2], "LANG1 I AM POSITIVE, MASTER")

    def test_a_truncated_file_says_what_it_claims_and_where(self):
        data = make_dat(TABLES)
        with self.assertRaises(drascula.DatError) as e:
            drascula.read_dat(data[:len(data) - 10])
        self.assertIn("claims", str(e.exception))
        self.assertIn("textd1", str(e.exception))

    def test_refuses_other_files_and_trailing_bytes(self):
        with self.assertRaises(drascula.DatError):
            drascula.read_dat(b"NOTADAT!" + make_dat(TABLES)[8:])
        with self.assertRaises(drascula.DatError) as e:
            drascula.read_dat(make_dat(TABLES) + b"\0\0")
        self.assertIn("left after", str(e.exception))
        with self.assertRaises(drascula.DatError):
            drascula.read_dat(make_dat(TABLES), lang=5)


class Pairing(unittest.TestCase):
    def setUp(self):
        self.t = drascula.read_dat(make_dat(TABLES))

    def test_prefixes_name_the_character_and_the_table(self):
        p = lambda f: drascula.pairing(f, self.t)[0]  # noqa: E731
        self.assertEqual(p("12.ALS"), ("hacker", "JOHN LINE 12"))
        self.assertEqual(p("D5.ALS"), ("drascula", "DRASCULA LINE 5"))
        self.assertEqual(p("d5.als"), ("drascula", "DRASCULA LINE 5"))
        self.assertEqual(p("I2.ALS"), ("igor", "I AM POSITIVE, MASTER"))
        self.assertEqual(p("VB1.ALS"), ("vonbraun", "WHO THE HELL IS CALLING AT THIS TIME?"))
        self.assertEqual(p("BJ1.ALS"), ("bj", "ARE YOU ALL RIGHT? HEY, COME ON, WAKE UP"))
        self.assertEqual(p("T1.ALS"), ("bartender", "WHAT HAPPENED?"))

    def test_the_engines_exceptions(self):
        p = lambda f: drascula.pairing(f, self.t)[0]  # noqa: E731
        self.assertEqual(p("D67.ALS"), ("drascula", "DRASCULA LINE 67"))
        self.assertEqual(p("D68.ALS"), ("blind", "DRASCULA LINE 68"))
        self.assertEqual(p("D82.ALS"), ("bartender", "DRASCULA LINE 82"))
        self.assertEqual(p("D83.ALS"), ("trunk", "JOHN LINE 83"))

    def test_files_without_a_subtitle(self):
        why = lambda f: drascula.pairing(f, self.t)[1]  # noqa: E731
        self.assertEqual(why("S3.ALS"), "sound effect (no subtitle table)")
        self.assertEqual(why("F1.ALS"), "sound effect (no subtitle table)")
        self.assertEqual(why("X3.ALS"), "unknown speaker prefix")
        self.assertEqual(why("I3.ALS"), "no subtitle with that number")
        self.assertEqual(why("0.ALS"), "no subtitle with that number")
        self.assertEqual(why("INTRO.BIN"), "not a speech file name")


class Collect(unittest.TestCase):
    def test_collect_pairs_and_skips(self):
        d = tempfile.mkdtemp()
        try:
            with open(os.path.join(d, "drascula.dat"), "wb") as f:
                f.write(make_dat(TABLES))
            second = bytes([128]) * drascula.RATE
            clips = {"I1.ALS": 2 * second, "12.ALS": second, "D68.ALS": 3 * second,
                     "S1.ALS": second, "I2.ALS": second[:1000], "T1.ALS": second[:drascula.RATE // 2]}
            for name, pcm in clips.items():
                with open(os.path.join(d, name), "wb") as f:
                    f.write(pcm)
            ds = drascula.collect(d, os.path.join(d, "out"))
            got = {it["name"]: (it["speaker"], it["text"]) for it in ds.items}
            self.assertEqual(got, {
                "drascula-i1": ("igor", "master this is not working"),
                "drascula-12": ("hacker", "john line twelve"),
                "drascula-d68": ("blind", "drascula line sixty eight"),
            })
            self.assertEqual(sorted(r for r, _ in ds.skipped), [
                "audio shorter than 0.2 s",
                "sound effect (no subtitle table)",
                "subtitle too long for the clip (over 20 characters a second)",
            ])
        finally:
            shutil.rmtree(d)


if __name__ == "__main__":
    unittest.main()
