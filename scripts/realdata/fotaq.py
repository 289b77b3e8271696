"""Flight of the Amazon Queen (Debian package flight-of-the-amazon-queen): the CD version's
voice acting, as MP3 clips inside queen.1c.

Conversation lines (the .DOG files) are paired with their clips by ScummVM's naming (queen.py).
The speaker: Joe (the player, clip letter J) or the person the conversation is with (letter P),
named by the .DOG file with its number dropped (BOB1..BOB5.DOG -> bob). Cutaway scenes (.CUT)
and Joe's object descriptions are not paired yet: their clips are left out and counted.
"""

import collections
import os
import re

import common
import queen
from normalize import normalize

PACKAGE = "flight-of-the-amazon-queen"
DATA = "usr/share/scummvm/flight-of-the-amazon-queen/queen.1c"
SEED = "hark-fotaq-v1"
KEEP_TRAIN = ("joe",)
# .DOG stems whose person has a longer name in the game
# "^_" is the game font's trademark sign (after "Super Soldier Treatment"): not spoken.
SYMBOLS = {"^_": " "}
PERSONS = {"and": "anderson", "prin": "princess", "tallpyg": "pygmy", "sec": "secretary"}


def person(dog_name):
    stem = re.sub(r"\d+$", "", dog_name.rsplit(".", 1)[0].lower())
    return PERSONS.get(stem, stem)


def pair_lines(qd):
    """{clip name: (speaker, raw text, dog file)} and a list of (reason, example) skipped."""
    clips = {n for n in qd.entries if n.endswith(".SB")}
    found = collections.defaultdict(set)
    skipped = []
    for name in sorted(qd.entries):
        if not name.endswith(".DOG"):
            continue
        _, lines = queen.parse_dog(qd.load(name, queen.DOG_HEADER))
        for prefix, who, sentence in lines:
            for idx, text in queen.segments(sentence):
                if not text.strip():
                    continue
                clip = queen.clip_name(prefix, idx)
                if clip not in clips:
                    skipped.append(("dialogue line has no voice clip", "%s %s: %s" % (name, clip, text)))
                    continue
                spk = "joe" if who == "J" else person(name)
                found[clip].add((spk, text.strip(), name))
    out = {}
    for clip, cands in found.items():
        if len({(s, t) for s, t, _ in cands}) > 1:
            skipped.append(("clip paired with two different lines", clip))
            continue
        out[clip] = sorted(cands)[0]
    unpaired = clips - set(out) - {c for r, c in skipped if r == "clip paired with two different lines"}
    return out, skipped, unpaired


def collect(path, out, ds=None):
    qd = queen.QueenData(path)
    if qd.compression != 1:
        raise RuntimeError("expected MP3 clips (compression 1), got %d" % qd.compression)
    ds = ds or common.Dataset("fotaq", out)
    pairs, skipped, unpaired = pair_lines(qd)
    for reason, ex in skipped:
        ds.skip(reason, ex)
    kinds = collections.Counter()
    for c in unpaired:
        kinds["cutaway" if re.match(r"^C\d", c) or "_" in c else
              "Joe's descriptions" if c.startswith("JO") or "SSSS" in c else "other"] += 1
    tmp = common.tmpdir()
    for clip in sorted(pairs):
        spk, raw, dog = pairs[clip]
        text, why = normalize(raw, SYMBOLS)
        if text is None:
            ds.skip(why, "%s: %s" % (clip, raw))
            continue

        def make(dst, clip=clip):
            src = os.path.join(tmp, clip[:-3] + ".mp3")
            with open(src, "wb") as f:
                f.write(qd.load(clip))
            common.sox_to_16k(src, dst)
            os.remove(src)

        ds.add("fotaq-" + clip[:-3], spk, text, make, raw)
    note = "clips not paired (no reader for their text yet): %d (%s)" % (
        len(unpaired), ", ".join("%s %d" % kv for kv in kinds.most_common()))
    return ds, note


def run(out, cache=common.DEFAULT_CACHE, jobs=2):
    root = common.fetch(PACKAGE, cache)
    ds, note = collect(os.path.join(root, DATA), out)
    lines = collections.Counter(it["speaker"] for it in ds.items)
    splits = common.split_speakers(lines, SEED, keep_train=KEEP_TRAIN)
    rows = ds.write(splits, jobs=jobs)
    return ds.report(rows, note)
