import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import common  # noqa: E402


class SpeakerSplit(unittest.TestCase):
    LINES = dict({"hero": 900, "sidekick": 150}, **{"npc%02d" % i: 20 + 7 * i for i in range(30)})

    def test_deterministic(self):
        a = common.split_speakers(self.LINES, "seed-1")
        b = common.split_speakers(dict(reversed(list(self.LINES.items()))), "seed-1")
        self.assertEqual(a, b)

    def test_every_speaker_in_exactly_one_split(self):
        s = common.split_speakers(self.LINES, "seed-1")
        self.assertEqual(set(s), set(self.LINES))
        self.assertTrue(set(s.values()) <= {"train", "dev", "test"})
        groups = {k: {sp for sp, v in s.items() if v == k} for k in ("train", "dev", "test")}
        self.assertFalse(groups["train"] & groups["dev"])
        self.assertFalse(groups["train"] & groups["test"])
        self.assertFalse(groups["dev"] & groups["test"])
        self.assertTrue(groups["dev"] and groups["test"])

    def test_main_characters_and_kept_in_train(self):
        s = common.split_speakers(self.LINES, "any seed", keep_train={"npc05"})
        self.assertEqual(s["hero"], "train")
        self.assertEqual(s["sidekick"], "train")
        self.assertEqual(s["npc05"], "train")

    def test_shares_near_target(self):
        s = common.split_speakers(self.LINES, "seed-1")
        total = sum(self.LINES.values())
        for split in ("dev", "test"):
            n = sum(self.LINES[k] for k, v in s.items() if v == split)
            self.assertGreater(n, 0.07 * total, split)
            self.assertLess(n, 0.16 * total, split)

    def test_seed_changes_assignment(self):
        a = common.split_speakers(self.LINES, "seed-1")
        b = common.split_speakers(self.LINES, "seed-2")
        self.assertNotEqual(a, b)


if __name__ == "__main__":
    unittest.main()
