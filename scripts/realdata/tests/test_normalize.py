import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from normalize import normalize, number_words, ordinal_words, year_words  # noqa: E402


class Numbers(unittest.TestCase):
    def test_cardinals(self):
        self.assertEqual(number_words(0), "zero")
        self.assertEqual(number_words(10), "ten")
        self.assertEqual(number_words(42), "forty two")
        self.assertEqual(number_words(115), "one hundred fifteen")
        self.assertEqual(number_words(2000), "two thousand")
        self.assertEqual(number_words(1000001), "one million one")

    def test_years_and_ordinals(self):
        self.assertEqual(year_words(1990), "nineteen ninety")
        self.assertEqual(year_words(1905), "nineteen oh five")
        self.assertEqual(year_words(1900), "nineteen hundred")
        self.assertEqual(year_words(2005), "two thousand five")
        self.assertEqual(ordinal_words(1), "first")
        self.assertEqual(ordinal_words(22), "twenty second")
        self.assertEqual(ordinal_words(40), "fortieth")
        self.assertEqual(ordinal_words(12), "twelfth")


class Normalize(unittest.TestCase):
    CASES = [
        ("Hello, Mr. Smith!", "hello mister smith"),
        ("I was born in 1990.", "i was born in nineteen ninety"),
        ("Press 10 & wait", "press ten and wait"),
        ("The 21st floor", "the twenty first floor"),
        ("100% SURE", "one hundred percent sure"),
        ("a well-known face", "a well known face"),
        ("Meet me at 10:30", "meet me at ten thirty"),
        ("at 9:00", "at nine o'clock"),
        ("It costs $5", "it costs five dollars"),
        ("Dr Jones and Mrs. Piermont", "doctor jones and missus piermont"),
        ("St. Paul's", "saint paul's"),
        ("Baker St.", "baker street"),
        ("It's \"quoted\" 'here'...", "it's quoted here"),
        ("1,000,000 people", "one million people"),
        ("3.5 metres", "three point five metres"),
        ("in the 1980s", "in the nineteen eighties"),
        ("agent 007", "agent zero zero seven"),
        ("WHAT?!  No -- never.", "what no never"),
    ]

    def test_cases(self):
        for raw, want in self.CASES:
            with self.subTest(raw=raw):
                self.assertEqual(normalize(raw), (want, None))

    def test_output_alphabet(self):
        for raw, _ in self.CASES:
            text, _ = normalize(raw)
            self.assertRegex(text, r"^[a-z']+( [a-z']+)*$")

    def test_dropped(self):
        for raw, reason in [("", "empty"), ("   ", "empty"), ("...", "no words"),
                            ("[ascending tones]", "stage direction"),
                            ("Please hold (music plays)", "stage direction"),
                            ("<beep>", "stage direction"), ("Press #", "unknown characters #"),
                            ("Café", "unknown characters"), ("go to st", "ambiguous abbreviation")]:
            with self.subTest(raw=raw):
                text, why = normalize(raw)
                self.assertIsNone(text)
                self.assertIn(reason, why)

    def test_extra_symbols(self):
        self.assertEqual(normalize("Press # or *", {"#": " pound ", "*": " star "}),
                         ("press pound or star", None))


if __name__ == "__main__":
    unittest.main()
