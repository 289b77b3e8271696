"""Flight of the Amazon Queen (Debian package flight-of-the-amazon-queen): the CD version's
voice acting, as MP3 clips inside queen.1c.

Three kinds of spoken text are paired with their clips by ScummVM's naming (queen.py):
- conversation lines (the .DOG files): Joe (clip letter J) or the person the conversation is
  with (letter P), named by the .DOG file with its number dropped (BOB1..BOB5.DOG -> bob);
- cutaway scenes (the .CUT files): a spoken line's object is Joe or a person object, whose
  actor (QUEEN.JAS) names the character; actor names are tied to the .DOG speakers through the
  game's own TALK_TO commands and the cutaways' follow-up dialogues (speaker_names);
- Joe's object descriptions and stock responses (QUEEN2.JAS, clips JOE%04d...): Joe.

The train/dev/test split is made from the conversation lines alone, exactly as before the
cutaway and description readers existed; their lines only join train (see add_new).
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
# Actor names (QUEEN.JAS) that are another name of one character: "ANDSON-E" is Anderson in the
# ending. Other variants are marks removed by actor_base.
ACTOR_ALIASES = {"ANDSON": "ANDERSON"}
# Where the cutaway and description lines may not go (the dialogue split must stay as it is).
HELD_OUT = ("dev", "test")


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


def actor_base(name):
    """The character part of an actor name: the marks of a close-up head ("FAYE-H"), the ending
    ("FAYE-E"), a costume or pose ("SPARKY-F", "LOLA_STAND", "LOLA_SHOWER"), the intro comic's
    rooms ("X2_JOE") and a number ("APE1", "MAN2", "PRINCESS2") are dropped."""
    b = name.upper()
    b = re.sub(r"^X\d+_", "", b)
    b = re.sub(r"-[A-Z]$", "", b)
    b = re.sub(r"_(STAND|SHOWER)$", "", b)
    b = re.sub(r"(?<=[A-Z])\d+$", "", b)
    return ACTOR_ALIASES.get(b, b)


def speaker_names(jas, cut_links=()):
    """{actor base: .DOG speaker}: the game starts dialogue D with person object O (a TALK_TO
    command, or a cutaway's follow-up dialogue in cut_links = [(D, O)]); when every actor that can
    be O has the same base, that base is D's speaker. A base tied to two speakers is left out."""
    found = collections.defaultdict(set)
    for dog, obj in list(jas.talk_links()) + list(cut_links):
        bases = {actor_base(a) for a in jas.actor_names(obj)}
        if len(bases) == 1:
            found[bases.pop()].add(person(dog))
    return {b: s.pop() for b, s in found.items() if len(s) == 1}


def actor_speaker(name, names):
    b = actor_base(name)
    return names.get(b, b.lower())


def pair_cutaways(qd, jas, clips):
    """Cutaway lines: ([(clip, (speaker candidates), raw text, source)], [(reason, example)],
    {clip names the cutaways give}). A person line is split into segments like a dialogue line."""
    cuts = {}
    skipped = []
    for name in sorted(n for n in qd.entries if n.endswith(".CUT")):
        try:
            c = queen.parse_cut(qd.load(name, queen.CUT_HEADER), jas.is_person)
        except ValueError as e:
            skipped.append(("cutaway file could not be parsed", "%s: %s" % (name, e)))
            continue
        if c["sentences_end"] != c["bank_names"]:
            skipped.append(("cutaway sentences do not end at the bank names", name))
            continue
        cuts[name] = c
    links = [(c["talk_file"].upper(), c["talk_to"]) for c in cuts.values()
             if c["talk_file"].upper().endswith(".DOG") and c["talk_to"] > 0]
    names = speaker_names(jas, links)
    out, named = [], set()
    for name, c in sorted(cuts.items()):
        for index, number, kind, room, sentence in c["objects"]:
            prefix = queen.cut_voice_prefix(name, index)
            if kind == "person":
                if sentence == "*" or sentence.startswith("#"):
                    continue  # no speech / the credits
                parts = queen.segments(sentence)
            elif kind in ("caption_speak", "caption_display_speak"):
                parts = [(0, sentence)]  # one clip, prefix + "1", the text as displayed
            else:
                continue
            for idx, text in parts:
                if not text.strip():
                    continue
                clip = queen.clip_name(prefix, idx)
                named.add(clip)
                where = "%s %s: %s" % (name, clip, text.strip())
                if clip not in clips:
                    skipped.append(("cutaway line has no voice clip", where))
                    continue
                if kind != "person":
                    skipped.append(("cutaway caption line: speaker not recorded", where))
                    continue
                if number == 0:
                    spk = {"joe"}
                else:
                    spk = {actor_speaker(a, names) for a in jas.actor_names(number, room)}
                if not spk:
                    skipped.append(("cutaway person has no actor", where))
                    continue
                # More than one: which actor the game uses depends on a game state (e.g. the
                # Amazon guard or the princess); add_new decides with all of them in mind.
                out.append((clip, tuple(sorted(spk)), text.strip(), name))
    return out, skipped, named


def is_file_name(text):
    return bool(re.fullmatch(r"\S+\.(CUT|DOG)", text.strip(), re.I))


def pair_descriptions(jas, clips):
    """Joe's descriptions and responses: ([(clip, ("joe",), raw text, source)], skipped, named)."""
    out, skipped, named = [], [], set()
    for num in range(1, jas.joe_speech_count() + 1):
        sentence = jas.joe_speech(num)
        if not sentence or is_file_name(sentence):
            continue  # a description that runs a cutaway or dialogue: nothing is spoken
        for idx, text in queen.segments(sentence):
            if not text.strip():
                continue
            clip = queen.clip_name("JOE%04d" % num, idx)
            named.add(clip)
            if clip not in clips:
                skipped.append(("description has no voice clip", "%s: %s" % (clip, text.strip())))
                continue
            src = "response %d" % num if num <= queen.JOE_RESPONSE_MAX else \
                "description %d" % (num - queen.JOE_RESPONSE_MAX)
            out.append((clip, ("joe",), text.strip(), src))
    return out, skipped, named


def normalize_new(raw):
    """normalize() for the cutaway and description lines. '@' is a font symbol there ("@@ I
    think I'm in love @@"), not the word "at": such lines are dropped."""
    if "@" in raw:
        return None, "font symbol '@' in the line"
    return normalize(raw, SYMBOLS)


def collect(path, out, ds=None):
    """(dataset holding the dialogue lines, [new items: cutaway and description lines], note)."""
    qd = queen.QueenData(path)
    if qd.compression != 1:
        raise RuntimeError("expected MP3 clips (compression 1), got %d" % qd.compression)
    ds = ds or common.Dataset("fotaq", out)
    pairs, skipped, unpaired = pair_lines(qd)
    for reason, ex in skipped:
        ds.skip(reason, ex)
    tmp = common.tmpdir()

    def maker(clip):
        def make(dst):
            src = os.path.join(tmp, clip[:-3] + ".mp3")
            with open(src, "wb") as f:
                f.write(qd.load(clip))
            common.sox_to_16k(src, dst)
            os.remove(src)
        return make

    for clip in sorted(pairs):
        spk, raw, dog = pairs[clip]
        text, why = normalize(raw, SYMBOLS)
        if text is None:
            ds.skip(why, "%s: %s" % (clip, raw))
            continue
        ds.add("fotaq-" + clip[:-3], spk, text, maker(clip), raw)

    new, counts = [], collections.Counter()
    named = set()
    if "QUEEN.JAS" in qd.entries and "QUEEN2.JAS" in qd.entries:
        jas = queen.Jas(qd.load("QUEEN.JAS", queen.JAS_HEADER), qd.load("QUEEN2.JAS"))
        for kind, (found, skips, names) in (("cutaway", pair_cutaways(qd, jas, unpaired)),
                                            ("description", pair_descriptions(jas, unpaired))):
            named |= names
            for reason, ex in skips:
                ds.skip(reason, ex)
            for clip, spk, raw, src in found:
                text, why = normalize_new(raw)
                if text is None:
                    ds.skip(why, "%s: %s" % (clip, raw))
                    continue
                counts[kind] += 1
                new.append(dict(name="fotaq-" + clip[:-3], speaker="+".join(spk), candidates=spk,
                                text=text, make=maker(clip), raw=raw, kind=kind))
    rest = sorted(unpaired - named)
    note = ("cutaway and description lines paired and normalized: cutaway %d, "
            "description %d\nclips no reader names (no text known): %d, e.g. %s") % (
        counts["cutaway"], counts["description"], len(rest), ", ".join(rest[:8]))
    return ds, new, note


def add_new(ds, new, splits):
    """Adds the cutaway and description items to ds without changing the dialogue split: an item
    that may be the voice of a dev or test speaker is left out (and reported); the others go to
    train, a speaker met only in the new material too. A line whose speaker depends on the game
    state is labelled with all its candidates ("faye+guards"). Updates splits; returns
    {(kind, "train" or "left out"): count}."""
    got = collections.Counter()
    for it in new:
        cands = it.get("candidates") or (it["speaker"],)
        held = sorted({splits[c] for c in cands if splits.get(c) in HELD_OUT})
        if held:
            what = ("%s line of a %s speaker" % (it["kind"], held[0]) if len(cands) == 1 else
                    "%s line whose speaker depends on the game state, one of them in %s"
                    % (it["kind"], "/".join(held)))
            ds.skip(what + " (left out: the split comes from the dialogue lines)",
                    "%s %s: %s" % (it["name"], it["speaker"], it["raw"]))
            got[it["kind"], "left out"] += 1
            continue
        splits[it["speaker"]] = splits.get(it["speaker"], "train")
        ds.add(it["name"], it["speaker"], it["text"], it["make"], it["raw"])
        got[it["kind"], "train"] += 1
    return got


def run(out, cache=common.DEFAULT_CACHE, jobs=2):
    root = common.fetch(PACKAGE, cache)
    ds, new, note = collect(os.path.join(root, DATA), out)
    lines = collections.Counter(it["speaker"] for it in ds.items)  # the dialogue lines only
    splits = common.split_speakers(lines, SEED, keep_train=KEEP_TRAIN)
    got = add_new(ds, new, splits)
    rows = ds.write(splits, jobs=jobs)
    note += ("\nof these, added to train: cutaway %d, description %d; left out (speaker in dev or "
             "test): cutaway %d, description %d" % (
                 got["cutaway", "train"], got["description", "train"],
                 got["cutaway", "left out"], got["description", "left out"]))
    return ds.report(rows, note)
