import io
import os
import shutil
import struct
import sys
import tempfile
import unittest
import wave

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import bass  # noqa: E402
import common  # noqa: E402
import fakes  # noqa: E402
import sky  # noqa: E402


class Rnc(unittest.TestCase):
    def test_literals_only(self):
        packed, want = fakes.rnc_pack([("lit", b"hello world")])
        self.assertEqual(want, b"hello world")
        self.assertEqual(sky.rnc_unpack(packed), b"hello world")

    def test_back_references(self):
        packed, want = fakes.rnc_pack([("lit", b"speech"), ("ref", 2, 5), ("lit", b"--"),
                                       ("ref", 9, 9), ("lit", b"end")])
        self.assertEqual(want, b"speechchchc--chchchc--end")
        self.assertEqual(sky.rnc_unpack(packed), want)

    def test_long_run(self):
        packed, want = fakes.rnc_pack([("lit", b"a" * 37), ("ref", 1, 200), ("lit", b"")])
        self.assertEqual(sky.rnc_unpack(packed), b"a" * 237)

    def test_not_rnc(self):
        self.assertIsNone(sky.rnc_unpack(b"\0" * 40))

    def test_truncated_is_an_error(self):
        packed, _ = fakes.rnc_pack([("lit", b"abc"), ("ref", 3, 6), ("lit", b"XYZ!")])
        bad = packed[:4] + struct.pack(">I", 500) + packed[8:]
        with self.assertRaises(sky.RncError):
            sky.rnc_unpack(bad)


class Disk(unittest.TestCase):
    def make_disk(self):
        pcm = bytes([128, 200, 56, 128] * 1000)
        speech_packed, speech = fakes.packed_file([("lit", b"\x80\xc8\x38\x80"), ("ref", 4, 3996), ("lit", b"")])
        files = {
            50000 + 600 + 3: (speech_packed, 0),              # section 1, line 3: packed
            50000 + 2: (fakes.stored_file(pcm[:2205]), 0),    # section 0, line 2: stored
            55230 + 42: (fakes.stored_file(pcm[:999]), 0),    # section 7, line 42
            59494: (fakes.stored_file(pcm[:999]), 0),         # in no section
            sky.TEXT_BASE + 0: (fakes.text_block(["Zero.", "One.", "I'm HERE, Foster!"]), 1 << 23),
            sky.TEXT_BASE + 1: (fakes.text_block(["a", "b", "c", "What's that - 10 CREDITS?"]), 1 << 23),
        }
        dnr, dsk = fakes.sky_disk(files)
        return sky.SkyDisk(dnr, io.BytesIO(dsk)), pcm, speech

    def test_dnr_offsets_and_sizes(self):
        dnr, _ = fakes.sky_disk({7: (b"x" * 40, 0), 9: (b"y" * 5, 1 << 23)})
        e = sky.parse_dnr(dnr)
        self.assertEqual(sorted(e), [7, 9])
        self.assertEqual(e[7], (0, 40))
        self.assertEqual(e[9], (48, 5 | 1 << 23))

    def test_load_packed_and_stored(self):
        disk, pcm, speech = self.make_disk()
        self.assertEqual(disk.load(50603), speech)
        self.assertEqual(disk.speech_pcm(50603), pcm)
        self.assertEqual(disk.speech_pcm(50002), pcm[:2205])

    def test_speech_files_map_to_sections(self):
        disk, _, _ = self.make_disk()
        self.assertEqual(disk.speech_files(), [(50002, 0, 2), (50603, 1, 3), (55272, 7, 42)])

    def test_text(self):
        disk, _, _ = self.make_disk()
        self.assertEqual(sky.decode_text(disk.load(sky.TEXT_BASE), 2), "I'm HERE, Foster!")
        self.assertEqual(sky.decode_text(disk.load(sky.TEXT_BASE + 1), (1 << 12) | 3),
                         "What's that - 10 CREDITS?")

    def test_text_many_blocks(self):
        strings = ["line %d" % i for i in range(70)] + ["x" * 300]
        block = fakes.text_block(strings)
        for i in (0, 31, 32, 33, 64, 69, 70):
            self.assertEqual(sky.decode_text(block, i), strings[i])

    def test_tree_shape(self):
        self.assertEqual(len(sky.TREE), 245)


FOSTER, KEN, BARMAN, TALK_TABLE = 3, 0x1005, 0x1006, 0x00BC


def fake_world():
    """Compacts and scripts: Ken's base script speaks as CUR_ID; the barman's action script has
    Foster (fnSpeakMeDir) and the barman (partner var) talk; a sub-script started from it; one
    line only its talk animation can attribute; one nobody can."""
    def cpt(name, action=0, base=0):
        w = [0] * 40
        w[sky.CPT_ACTION_SCRIPT] = action
        w[sky.CPT_BASE_SUB] = base
        return (name, 1, w)
    talk = [0] * 200
    talk[10] = 0x00C1  # big_f_up (foster)
    talk[40] = 0x00C2  # ken_talk_up
    talk[158] = 0x00C3  # sc31_guard_talk (marks the talk table)
    talk[60] = 0x00C4  # barman_talk
    cpts = {
        FOSTER: cpt("foster"), KEN: cpt("ken", base=0x1001), BARMAN: cpt("sc36_barman", action=0x1002),
        TALK_TABLE: ("data_0", 7, talk), 0x00C1: ("big_f_up", 3, [1]), 0x00C2: ("ken_talk_up", 3, [1]),
        0x00C3: ("sc31_guard_talk", 3, [1]), 0x00C4: ("barman_talk", 3, [1]),
    }
    scripts = {
        1: fakes.speak(0, 0x1001, 40, 35, target_is_var=sky.VAR_CUR_ID) + [19],
        2: (fakes.speak(0, 0x1002, 10, 36, target_is_var=sky.VAR_CUR_ID)
            + fakes.speak(0, 0x1003, 60, 37, target_is_var=sky.VAR_PARTNER)
            + [2, 0x1003, 11, 1, 4 * sky.MC_START_SUB, 19]),
        3: [19],
        4: fakes.speak(0, 0x1005, 60, 35, target_is_var=sky.VAR_PARTNER) + [19],  # only the anim
        5: fakes.speak(0, 0x1006, 99, 35, target_is_var=sky.VAR_PARTNER) + [19],  # nothing
    }
    return cpts, fakes.module(scripts)


class Speakers(unittest.TestCase):
    def setUp(self):
        self.cpts, mod = fake_world()
        words = struct.unpack("<%dH" % (len(mod) // 2), mod)
        self.scripts = sky.split_module(words, 1)

    def test_split_module(self):
        self.assertEqual(sorted(self.scripts), [0x1001, 0x1002, 0x1003, 0x1004, 0x1005])
        self.assertEqual(self.scripts[0x1003], (19,))

    def test_cpt_roundtrip(self):
        parsed = sky.parse_cpt(fakes.sky_cpt(self.cpts))
        self.assertEqual(parsed[KEN][0], "ken")
        self.assertEqual(parsed[KEN][2][sky.CPT_BASE_SUB], 0x1001)
        self.assertEqual(parsed[TALK_TABLE][2][158], 0x00C3)

    def test_attribution(self):
        calls = sky.attribute_speakers(self.scripts, self.cpts)
        self.assertEqual(calls[0x1001], [(0x1001, frozenset({KEN}), 40)])
        self.assertEqual(calls[0x1002], [(0x1002, frozenset({FOSTER}), 10)])
        self.assertEqual(calls[0x1003], [(0x1002, frozenset({BARMAN}), 60)])
        self.assertEqual(calls[0x1005], [(0x1004, frozenset(), 60)])
        self.assertEqual(calls[0x1006], [(0x1005, frozenset(), 99)])

    def test_talk_animations(self):
        anims = sky.talk_anim_names(self.cpts)
        self.assertEqual(anims[10], "big_f_up")
        self.assertEqual(anims[37], "ken_talk_up")  # the next named entry within 8
        self.assertNotIn(20, anims)
        self.assertEqual(anims[60], "barman_talk")

    def test_characters(self):
        for name, want in [("big_f_up", "foster"), ("sc42_jobs_talk", "jobsworth"),
                           ("sc36_gallagher", "gallagher"), ("monitor_talk", "monitor"),
                           ("medi_talk_up", "medi"), ("smlfost_conv", "foster"),
                           ("dad_to_foster", "dad"), ("sc36_barman", "barman"), ("joey", "joey")]:
            self.assertEqual(bass.character(name), want, name)


class Collect(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp()
        cpts, mod = fake_world()
        # messages 0x1001.. are section 1 lines 1..6; their speech files 50601..50606
        texts = ["unused", "I'm KEN.", "Two beers, 2!", "Coming up.", "x", "Yes, SIR.", "[laughs]"]
        pcm = bytes([128, 160, 96, 128]) * 800
        files = {50600 + i: (fakes.stored_file(pcm), 0) for i in range(1, 7)}
        files[50600 + 4] = (fakes.stored_file(pcm[:100]), 0)  # too short
        files[sky.TEXT_BASE + 1] = (fakes.text_block(texts), 1 << 23)
        files[sky.TEXT_BASE + 0] = (fakes.text_block(["none"]), 1 << 23)
        files[sky.MODULE_BASE + 1] = (mod, 1 << 23)
        dnr, dsk = fakes.sky_disk(files)
        for name, data in (("sky.dnr", dnr), ("sky.dsk", dsk), ("sky.cpt", fakes.sky_cpt(cpts))):
            with open(os.path.join(self.dir, name), "wb") as f:
                f.write(data)

    def tearDown(self):
        shutil.rmtree(self.dir)

    def test_collect(self):
        ds, how = bass.collect(self.dir, os.path.join(self.dir, "out"))
        got = {it["name"]: (it["speaker"], it["text"]) for it in ds.items}
        self.assertEqual(got, {
            "bass-50601": ("ken", "i'm ken"),
            "bass-50602": ("foster", "two beers two"),
            "bass-50603": ("barman", "coming up"),
            "bass-50605": ("barman", "yes sir"),
        })
        reasons = sorted(r for r, _ in ds.skipped)
        self.assertEqual(reasons, ["audio shorter than 0.2 s", "stage direction in brackets"])
        self.assertEqual(how["by talk animation"], 1)

    @unittest.skipUnless(shutil.which("sox"), "needs sox")
    def test_audio_is_16k(self):
        ds, _ = bass.collect(self.dir, os.path.join(self.dir, "out"))
        rows = ds.write({"ken": "test", "foster": "train", "barman": "dev"}, jobs=1)
        self.assertEqual([r[:3] for r in rows][0], (os.path.join("dev", "bass", "barman", "bass-50603.wav"), "barman", "dev"))
        with wave.open(os.path.join(self.dir, "out", rows[0][0])) as w:
            self.assertEqual((w.getframerate(), w.getnchannels(), w.getsampwidth()), (16000, 1, 2))
            self.assertAlmostEqual(w.getnframes() / 16000, 3200 / 11025, places=2)
        with open(os.path.join(self.dir, "out", rows[0][0][:-4] + ".txt")) as f:
            self.assertEqual(f.read(), "coming up\n")


if __name__ == "__main__":
    unittest.main()
