import os
import shutil
import sys
import tempfile
import unittest
import wave

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import asterisk  # noqa: E402

CORE_SOUNDS = """; Core Asterisk Sounds in English

agent-pass: Please enter your password followed by the pound key.
beep: [this is a simple beep tone]
conf-adminmenu: Please press 1 to mute or unmute yourself, 2 to lock the conference.
digits/1: one
missing-file: This prompt has no audio.
vm-intro: Please leave your message after the tone. (simple tone sound plays)
queue-thereare: There are
"""


class Parse(unittest.TestCase):
    def test_parse(self):
        got = asterisk.parse_core_sounds(CORE_SOUNDS)
        self.assertEqual(got[0], ("agent-pass", "Please enter your password followed by the pound key."))
        self.assertEqual([n for n, _ in got], ["agent-pass", "beep", "conf-adminmenu", "digits/1",
                                              "missing-file", "vm-intro", "queue-thereare"])

    def test_collect(self):
        d = tempfile.mkdtemp()
        try:
            os.makedirs(os.path.join(d, "digits"))
            for n in ("agent-pass", "beep", "conf-adminmenu", "digits/1", "vm-intro", "queue-thereare"):
                with wave.open(os.path.join(d, n + ".wav"), "wb") as w:
                    w.setnchannels(1)
                    w.setsampwidth(2)
                    w.setframerate(8000)
                    w.writeframes(b"\0\0" * 800)
            ds = asterisk.collect(d, CORE_SOUNDS, os.path.join(d, "out"))
            got = {it["name"]: it["text"] for it in ds.items}
            self.assertEqual(got, {
                "asterisk-agent-pass": "please enter your password followed by the pound key",
                "asterisk-conf-adminmenu": "please press one to mute or unmute yourself two to lock the conference",
                "asterisk-digits-1": "one",
                "asterisk-queue-thereare": "there are",
            })
            self.assertEqual({it["speaker"] for it in ds.items}, {"allison"})
            self.assertEqual(sorted(r for r, _ in ds.skipped),
                             ["no audio file for the prompt", "stage direction in brackets",
                              "stage direction in brackets"])
        finally:
            shutil.rmtree(d)


if __name__ == "__main__":
    unittest.main()
