"""Asterisk core sound prompts in English: asterisk-core-sounds-en for core-sounds-en.txt (the
text of every prompt) and the audio from asterisk-core-sounds-en-g722 (G.722: 16 kHz, content to
7 kHz, decoded by g722.py since sox can't) or, with band="narrow", asterisk-core-sounds-en-wav
(8 kHz telephone band). Both are the same recordings.

One voice (Allison Smith), so it cannot give a speaker-independent dev or test set: it all goes
to train, where a female voice with digits, letters and command phrases helps most. Its speaker
group is `allison`.
"""

import gzip
import os
from multiprocessing import Pool

import common
import g722
from normalize import normalize

AUDIO_PACKAGES = {"wide": ("asterisk-core-sounds-en-g722", ".g722"),
                  "narrow": ("asterisk-core-sounds-en-wav", ".wav")}
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


def g722_to_wav(src, dst):
    with open(src, "rb") as f:
        g722.write_wav(dst, g722.decode(f.read()))


def _decode_one(args):
    g722_to_wav(*args)


def collect(sounds, text, out, ds=None, ext=".wav"):
    ds = ds or common.Dataset("asterisk", out)
    for name, raw in parse_core_sounds(text):
        audio = os.path.join(sounds, name + ext)
        if not os.path.isfile(audio):
            ds.skip("no audio file for the prompt", name)
            continue
        norm, why = normalize(raw, SYMBOLS)
        if norm is None:
            ds.skip(why, "%s: %s" % (name, raw))
            continue
        if ext == ".g722":
            make = lambda dst, src=audio: g722_to_wav(src, dst)  # noqa: E731
        else:
            make = lambda dst, src=audio: common.sox_to_16k(src, dst)  # noqa: E731
        ds.add("asterisk-" + name.replace("/", "-"), SPEAKER, norm, make, raw)
        ds.items[-1]["raw_name"] = name
    return ds


def run(out, cache=common.DEFAULT_CACHE, jobs=2, band="wide"):
    package, ext = AUDIO_PACKAGES[band]
    audio = common.fetch(package, cache)
    doc = common.fetch(TEXT_PACKAGE, cache)
    with gzip.open(os.path.join(doc, TEXT), "rt", encoding="utf-8", errors="replace") as f:
        text = f.read()
    ds = collect(os.path.join(audio, SOUNDS), text, out, ext=ext)
    if ext == ".g722":
        # the decoder is pure Python: decode in `jobs` processes first, then write from the cache
        tmp = common.tmpdir()
        srcs = {it["name"]: os.path.join(audio, SOUNDS, it["raw_name"] + ext) for it in ds.items}
        with Pool(max(1, jobs)) as pool:
            pool.map(_decode_one, [(src, os.path.join(tmp, n + ".wav")) for n, src in srcs.items()])
        for it in ds.items:
            it["make"] = lambda dst, w=os.path.join(tmp, it["name"] + ".wav"): os.replace(w, dst)
    rows = ds.write({SPEAKER: "train"}, jobs=jobs)
    return ds.report(rows, "audio: %s (%s band); all in train: a single speaker can't be held out "
                           "as a speaker-independent test" % (package, band))
