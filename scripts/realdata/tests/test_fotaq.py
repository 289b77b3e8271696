import os
import shutil
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import fakes  # noqa: E402
import fotaq  # noqa: E402
import queen  # noqa: E402


def fake_dog():
    return fakes.dog_file(
        5, "Hi there.",
        [(6, "Who are you?*FLWhere am I?"), (0x1E, "Bye, 2 you."), (0x20, "0")],
        [(6, "I'm Bob.*XY00(237,112)Really."), (7, "(sigh)"), (8, "No clip for me.")],
        person2="You AGAIN?", joe2="Yes, me.")


class Parsing(unittest.TestCase):
    def test_table(self):
        data = fakes.queen_file({"A.DOG": b"abc", "020006J1.SB": b"\xff\xe3xx"})
        version, compression, entries = queen.parse_table(data)
        self.assertEqual((version, compression), ("CEM10", 1))
        self.assertEqual(sorted(entries), ["020006J1.SB", "A.DOG"])
        b, off, size = entries["A.DOG"]
        self.assertEqual(data[off:off + size], b"abc")

    def test_not_rebuilt(self):
        with self.assertRaises(ValueError):
            queen.parse_table(b"\0" * 40)

    def test_dog_lines(self):
        key, lines = queen.parse_dog(fake_dog()[queen.DOG_HEADER:])
        self.assertEqual(key, 5)
        self.assertEqual(lines, [
            (" 5SSSSJ", "J", "Hi there."),
            (" 5   6J", "J", "Who are you?*FLWhere am I?"),
            (" 5  1eJ", "J", "Bye, 2 you."),
            (" 5   6P", "P", "I'm Bob.*XY00(237,112)Really."),
            (" 5   7P", "P", "(sigh)"),
            (" 5   8P", "P", "No clip for me."),
            (" 5XXXXP", "P", "You AGAIN?"),
            (" 5XXXXJ", "J", "Yes, me."),
        ])

    def test_segments_and_clip_names(self):
        self.assertEqual(queen.segments("Who are you?*FLWhere am I?"),
                         [(0, "Who are you?"), (1, "Where am I?")])
        self.assertEqual(queen.segments("I'm Bob.*XY00(237,112)Really."), [(0, "I'm Bob."), (1, "Really.")])
        self.assertEqual(queen.segments("*WT Wait."), [(0, ""), (1, " Wait.")])
        self.assertEqual(queen.clip_name(" 5  1eJ", 0), "05001EJ1.SB")
        self.assertEqual(queen.clip_name("12SSSSJ", 1), "12SSSSJ2.SB")


class Pairing(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp()
        clips = ["05SSSSJ1", "050006J1", "050006J2", "05001EJ1", "050006P1", "050006P2",
                 "050007P1", "05XXXXP1", "05XXXXJ1", "C100A011"]
        self.path = fakes.write_queen(self.dir, clips, {"BOB2.DOG": fake_dog()})

    def tearDown(self):
        shutil.rmtree(self.dir)

    def test_collect(self):
        ds, new, note = fotaq.collect(self.path, os.path.join(self.dir, "out"))
        got = {it["name"]: (it["speaker"], it["text"]) for it in ds.items}
        self.assertEqual(got, {
            "fotaq-05SSSSJ1": ("joe", "hi there"),
            "fotaq-050006J1": ("joe", "who are you"),
            "fotaq-050006J2": ("joe", "where am i"),
            "fotaq-05001EJ1": ("joe", "bye two you"),
            "fotaq-050006P1": ("bob", "i'm bob"),
            "fotaq-050006P2": ("bob", "really"),
            "fotaq-05XXXXP1": ("bob", "you again"),
            "fotaq-05XXXXJ1": ("joe", "yes me"),
        })
        reasons = sorted(r for r, _ in ds.skipped)
        self.assertEqual(reasons, ["dialogue line has no voice clip", "stage direction in brackets"])
        self.assertEqual(new, [])  # no QUEEN.JAS: no cutaway or description lines
        self.assertIn("clips no reader names (no text known): 1, e.g. C100A011.SB", note)

    def test_person_names(self):
        self.assertEqual(fotaq.person("BOB3.DOG"), "bob")
        self.assertEqual(fotaq.person("AND1.DOG"), "anderson")
        self.assertEqual(fotaq.person("TALLPYG.DOG"), "pygmy")


if __name__ == "__main__":
    unittest.main()
