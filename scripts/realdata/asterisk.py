"""Asterisk core sound prompts in English (Debian packages asterisk-core-sounds-en-wav for the
audio, asterisk-core-sounds-en for core-sounds-en.txt, the text of every prompt).

One voice (Allison Smith), so it cannot give a speaker-independent dev or test set: it all goes
to train, where a second narrowband (8 kHz telephone) voice with digits, letters and command
phrases helps most. Its speaker group is `allison`.
"""

import gzip
import os

import common
from normalize import normalize

AUDIO_PACKAGE = "asterisk-core-sounds-en-wav"
TEXT_PACKAGE = "asterisk-core-sounds-en"
SOUNDS = "usr/share/asterisk/sounds/en_US_f_Allison"
TEXT = "usr/share/doc/asterisk-core-sounds-en/core-sounds-en.txt.gz"
SPEAKER = "allison"
# How the prompts read the keypad symbols.
SYMBOLS = {"#": " pound ", "*": " star "}


def parse_core_sounds(text):
    """[(prompt name, text)] from core-sounds-en.txt: `name: text` lines, ';' comments."""
    out = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(";"):
            continue
        name, sep, prompt = line.partition(":")
        if not sep or not name.strip() or " " in name.strip():
            continue
        out.append((name.strip(), prompt.strip()))
    return out


def collect(sounds, text, out, ds=None):
    ds = ds or common.Dataset("asterisk", out)
    for name, raw in parse_core_sounds(text):
        wav = os.path.join(sounds, name + ".wav")
        if not os.path.isfile(wav):
            ds.skip("no audio file for the prompt", name)
            continue
        norm, why = normalize(raw, SYMBOLS)
        if norm is None:
            ds.skip(why, "%s: %s" % (name, raw))
            continue
        ds.add("asterisk-" + name.replace("/", "-"), SPEAKER, norm,
               lambda dst, wav=wav: common.sox_to_16k(wav, dst), raw)
    return ds


def run(out, cache=common.DEFAULT_CACHE, jobs=2):
    audio = common.fetch(AUDIO_PACKAGE, cache)
    doc = common.fetch(TEXT_PACKAGE, cache)
    with gzip.open(os.path.join(doc, TEXT), "rt", encoding="utf-8", errors="replace") as f:
        text = f.read()
    ds = collect(os.path.join(audio, SOUNDS), text, out)
    rows = ds.write({SPEAKER: "train"}, jobs=jobs)
    return ds.report(rows, "all in train: a single speaker can't be held out as a speaker-independent test")
