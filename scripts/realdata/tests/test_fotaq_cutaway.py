"""Cutaway (.CUT) and QUEEN.JAS / QUEEN2.JAS readers, and how their lines join the dataset."""

import os
import shutil
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import fakes  # noqa: E402
import fotaq  # noqa: E402
import queen  # noqa: E402

O = fakes.cut_object

# Room 1: object 1 a lamp, 2 Sparky (person), 3 a prisoner (person); room 2: object 4 Faye
# (person), 5 a door. Names 1..5, descriptions 1..6, actor names 1..5.
NAMES = ["lamp", "Sparky", "prisoner", "Faye", "door"]
DESCRIPTIONS = ["It's a lamp*14", "sparky1.DOG", "Cute*02He's mine*24", "@@ She's lovely @@*03",
                "c1a.CUT", "It's locked"]
ACTOR_NAMES = ["SPARKY", "SPARKY-F", "MAN1", "GUARDS", "FAYE"]


def fake_jas():
    rooms = [[(1, 1, 0), (2, 3, -4), (3, 6, -3)], [(4, 4, -3), (5, 6, 0)]]
    actors = [(1, 1, 1, 0, 0), (1, 1, 2, 6, 1),  # Sparky, or Sparky in costume: one character
              (1, 2, 3, 0, 0),                  # the prisoner
              (2, 1, 5, 40, 0), (2, 1, 4, 40, 1)]  # Faye, or the guards (game state 40)
    commands = [(queen.VERB_TALK_TO, 2, 0), (9, 1, 0)]
    game_states = [(1, 5, 0, 2), (2, 0, 0, 1)]  # command 1 (talk to Sparky) -> sparky1.DOG
    return fakes.jas_files(rooms, actors, DESCRIPTIONS, NAMES, ACTOR_NAMES, commands=commands,
                           game_states=game_states)


def fake_cut():
    return fakes.cut_file([
        O(0, "Hello there.*FLWho are you?"),          # 1 Joe, two segments
        O(2, "I'm Sparky.", room=1),                   # 2 a person: Sparky / Sparky-F
        O(1, "", anim_list=1, execute=1, frames=2),    # 3 an animation with 2 frames
        O(1, "", anim_list=1, execute=0),              # 4 animation off: no frames stored
        O(-2, "A voice from nowhere."),                # 5 a caption that is spoken
        O(-1, "*"),                                    # 6 room fade (Joe), nothing said
        O(3, "Let me out!*03", persons=[3, -1]),       # 7 the prisoner (MAN1 -> man)
        O(4, "Hi Joe.", room=2),                       # 8 Faye or the guards: unknown
        O(-4, "Meanwhile..."),                         # 9 displayed only
    ], entry="*FL", talk_file="MAN1.DOG", talk_to=3)


class CutawayParsing(unittest.TestCase):
    def test_objects_and_sentences(self):
        people = {2, 3, 4}
        c = queen.parse_cut(fake_cut()[queen.CUT_HEADER:], people.__contains__)
        self.assertEqual(c["entry"], "*FL")
        self.assertEqual((c["talk_file"], c["talk_to"]), ("MAN1.DOG", 3))
        self.assertEqual([(i, n, k, s) for i, n, k, _, s in c["objects"]], [
            (1, 0, "person", "Hello there.*FLWho are you?"),
            (2, 2, "person", "I'm Sparky."),
            (3, 1, "animation", ""),
            (4, 1, "no_animation", ""),
            (5, -2, "caption_speak", "A voice from nowhere."),
            (6, 0, "person", "*"),
            (7, 3, "person", "Let me out!*03"),
            (8, 4, "person", "Hi Joe."),
            (9, -4, "caption_display", "Meanwhile..."),
        ])
        self.assertEqual(c["sentences_end"], c["bank_names"])
        self.assertEqual(c["objects_end"], c["game_state"] - 2)

    def test_kind_rules(self):
        no = lambda obj: False  # noqa: E731
        self.assertEqual(queen.cut_object_kind(5, 0, 1, 0, no), "animation")  # not a person
        self.assertEqual(queen.cut_object_kind(5, 0, 0, 0, no), "no_animation")
        self.assertEqual(queen.cut_object_kind(0, 3, 1, 0, no), "animation")  # Joe animated
        self.assertEqual(queen.cut_object_kind(0, 0, 0, 7, no), "no_animation")  # copy object
        self.assertEqual(queen.cut_object_kind(-3, 0, 0, 0, no), "caption_display_speak")

    def test_voice_prefix(self):
        self.assertEqual(queen.cut_voice_prefix("C6C.CUT", 1), "C6C__01")
        self.assertEqual(queen.cut_voice_prefix("c101b.CUT", 12), "C101B12")
        self.assertEqual(queen.clip_name(queen.cut_voice_prefix("C6C.CUT", 3), 1), "C6C__032.SB")

    def test_truncated(self):
        with self.assertRaises(ValueError):
            queen.parse_cut(fake_cut()[queen.CUT_HEADER:60], lambda o: False)


class JasParsing(unittest.TestCase):
    def setUp(self):
        jas, text = fake_jas()
        self.jas = queen.Jas(jas[queen.JAS_HEADER:], text)

    def test_tables(self):
        j = self.jas
        self.assertEqual(j.version, "CEM10")
        self.assertEqual(len(j.objects), 6)
        self.assertEqual([j.room_of(o) for o in range(1, 6)], [1, 1, 1, 2, 2])
        self.assertEqual([j.is_person(o) for o in range(1, 6)], [False, True, True, True, False])
        self.assertEqual(j.string("name", 2), "Sparky")
        self.assertEqual(j.string("actor_name", 3), "MAN1")
        self.assertEqual(j.commands[1], (queen.VERB_TALK_TO, 2, 0))

    def test_actors(self):
        j = self.jas
        self.assertEqual(j.actor_names(2), ["SPARKY", "SPARKY-F"])
        self.assertEqual(j.actor_names(3), ["MAN1"])
        self.assertEqual(j.actor_names(4), ["FAYE", "GUARDS"])
        self.assertEqual(j.actor_names(1), [])  # not a person

    def test_joe_speech_and_links(self):
        j = self.jas
        self.assertEqual(j.joe_speech(1), "Response 1")
        self.assertEqual(j.joe_speech(41), "It's a lamp*14")
        self.assertEqual(j.joe_speech_count(), 46)
        self.assertEqual(j.talk_links(), [("SPARKY1.DOG", 2)])

    def test_text_must_match_counts(self):
        jas, text = fake_jas()
        with self.assertRaises(ValueError):
            queen.Jas(jas[queen.JAS_HEADER:], text + b"one line too many\r\n")


class Speakers(unittest.TestCase):
    def test_actor_base(self):
        for name, base in [("FAYE-H", "FAYE"), ("SPARKY-F", "SPARKY"), ("LOLA_SHOWER", "LOLA"),
                           ("X2_JOE", "JOE"), ("X10_RITA", "RITA"), ("APE1", "APE"),
                           ("PRINCESS2", "PRINCESS"), ("ANDSON-E", "ANDERSON"), ("BOB", "BOB")]:
            self.assertEqual(fotaq.actor_base(name), base)

    def test_speaker_names(self):
        jas, text = fake_jas()
        j = queen.Jas(jas[queen.JAS_HEADER:], text)
        names = fotaq.speaker_names(j, [("MAN1.DOG", 3), ("FAYE2.DOG", 4)])
        # Sparky's two actors share a base; Faye's object can be two characters: no link.
        self.assertEqual(names, {"SPARKY": "sparky", "MAN": "man"})
        self.assertEqual(fotaq.actor_speaker("SPARKY-F", names), "sparky")
        self.assertEqual(fotaq.actor_speaker("X6_HUGH", names), "hugh")


class Collect(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp()
        jas, text = fake_jas()
        clips = ["C1A__011", "C1A__012", "C1A__021", "C1A__051", "C1A__071", "C1A__081",
                 "JOE00011", "JOE00411", "JOE00431", "JOE00432", "JOE00441", "JOE00461",
                 "05SSSSJ1", "050006J1", "050006P1", "9999SSSS"]
        self.path = fakes.write_queen(self.dir, clips, {
            "QUEEN.JAS": jas, "QUEEN2.JAS": text, "C1A.CUT": fake_cut(),
            "MAN1.DOG": fakes.dog_file(5, "Yo.", [(6, "Hi.")], [(6, "Go away.")])})

    def tearDown(self):
        shutil.rmtree(self.dir)

    def test_collect(self):
        ds, new, note = fotaq.collect(self.path, os.path.join(self.dir, "out"))
        self.assertEqual({it["name"]: (it["speaker"], it["text"]) for it in ds.items}, {
            "fotaq-05SSSSJ1": ("joe", "yo"), "fotaq-050006J1": ("joe", "hi"),
            "fotaq-050006P1": ("man", "go away")})
        got = {it["name"]: (it["kind"], it["speaker"], it["text"]) for it in new}
        self.assertEqual(got, {
            "fotaq-C1A__011": ("cutaway", "joe", "hello there"),
            "fotaq-C1A__012": ("cutaway", "joe", "who are you"),
            "fotaq-C1A__021": ("cutaway", "sparky", "i'm sparky"),
            "fotaq-C1A__071": ("cutaway", "man", "let me out"),
            "fotaq-C1A__081": ("cutaway", "faye+guards", "hi joe"),
            "fotaq-JOE00011": ("description", "joe", "response one"),
            "fotaq-JOE00411": ("description", "joe", "it's a lamp"),
            "fotaq-JOE00431": ("description", "joe", "cute"),
            "fotaq-JOE00432": ("description", "joe", "he's mine"),
            "fotaq-JOE00461": ("description", "joe", "it's locked"),
        })
        reasons = sorted(r for r, _ in ds.skipped)
        self.assertIn("cutaway caption line: speaker not recorded", reasons)
        self.assertIn("font symbol '@' in the line", reasons)
        self.assertIn("description has no voice clip", reasons)  # responses 2..40
        self.assertIn("clips no reader names (no text known): 1, e.g. 9999SSSS.SB", note)

    def test_add_new_keeps_the_dialogue_split(self):
        ds, new, note = fotaq.collect(self.path, os.path.join(self.dir, "out"))
        splits = {"joe": "train", "man": "test"}
        before = len(ds.items)
        got = fotaq.add_new(ds, new, splits)
        self.assertEqual(splits, {"joe": "train", "man": "test", "sparky": "train",
                                  "faye+guards": "train"})
        added = {it["name"] for it in ds.items[before:]}
        self.assertNotIn("fotaq-C1A__071", added)  # the prisoner is a test speaker
        self.assertIn("fotaq-C1A__021", added)
        self.assertIn("fotaq-C1A__081", added)  # Faye or the guards: both may be in train
        self.assertEqual(got["cutaway", "left out"], 1)
        self.assertEqual(got["cutaway", "train"], 4)
        self.assertEqual(got["description", "train"], 5)
        self.assertIn("cutaway line of a test speaker (left out: the split comes from the dialogue "
                      "lines)", [r for r, _ in ds.skipped])

    def test_add_new_ambiguous_speaker_in_dev(self):
        ds, new, note = fotaq.collect(self.path, os.path.join(self.dir, "out"))
        splits = {"joe": "train", "man": "train", "faye": "dev"}
        fotaq.add_new(ds, new, splits)
        self.assertNotIn("fotaq-C1A__081", {it["name"] for it in ds.items})
        self.assertNotIn("faye+guards", splits)
        self.assertEqual(splits["faye"], "dev")
        self.assertIn("cutaway line whose speaker depends on the game state, one of them in dev "
                      "(left out: the split comes from the dialogue lines)",
                      [r for r, _ in ds.skipped])


if __name__ == "__main__":
    unittest.main()
