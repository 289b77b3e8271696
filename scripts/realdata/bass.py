"""Beneath a Steel Sky (Debian package beneath-a-steel-sky): the CD version's voice acting.

Each speech file is paired with the game's subtitle for it (sky.py). The speaker comes from the
game's scripts where they name one (see sky.attribute_speakers): the player Foster, Joey and the
other characters by their compact names. Where the scripts don't name one, the line's script (a
conversation or scene, nearly always a single partner) stands in for the speaker, named
`scene-XXXX`; lines no script speaks are `unattributed-sN` and kept in training only, since their
voice is unknown.
"""

import collections
import os
import re

import common
import sky
from normalize import normalize

PACKAGE = "beneath-a-steel-sky"
DATA = "usr/share/scummvm/beneath-a-steel-sky"
SEED = "hark-bass-v1"
KEEP_TRAIN = ("foster", "joey")
MIN_SECONDS = 0.2


# Names (compact or talk-animation names) that are the same character. Merging errs on the safe
# side: two groups merged only make one bigger group, while one voice split over two groups could
# put it in train and test at once.
ALIASES = {
    "f": "foster", "fost": "foster", "fos": "foster", "fosta": "foster", "fostb": "foster",
    "fostc": "foster", "fost_pipe": "foster", "fsit": "foster", "crouch": "foster",
    "rad": "foster", "foster_give": "foster", "leaflet": "foster", "chairtlk": "foster",
    "j": "joey", "jobs": "jobsworth", "gal": "gallagher", "gall": "gallagher", "dani": "danielle",
    "garden": "gardener", "vinc": "vincent", "pros": "prosecution", "col": "colston",
    "juke": "jukebox", "blunt": "guard", "helga": "holo", "mini_so": "so", "full_so": "so",
    "big_ss": "so", "smlguard": "so", "ss": "so", "sc31_guard": "guard", "dan": "danielle",
    "big_f": "foster", "jdg": "judge", "burke_medi": "burke", "phone": "danielle",
}
# Talk animations whose owner the names don't tell: kept in training, like the scene proxies
# and the lines no script speaks, so an unknown voice never lands in dev or test.
UNKNOWN = {"stuck", "open", "spec_dat", "show_mag", "forprod"}
_SUFFIX = re.compile(r"(_?talk\w*|_normal|_conv\w*|_tlk\d*|_speech|_anim|_shout\w*|_up|_down|"
                     r"_left|_right|_sattlk|_sat|_st|_worried|_irate|_point|_to_\w+|_with_\w+|"
                     r"_look_\w+|_gun_\w+|_draw_\w+|_holo|_babble|_\d+|\d+)$")


def character(name):
    """A character key from a compact or talk-animation name: 'sc42_jobs_talk' -> 'jobsworth',
    'big_f_up' -> 'foster', 'sc36_gallagher' -> 'gallagher'."""
    n = name.lower()
    if n in ALIASES:
        return ALIASES[n]
    n = re.sub(r"^sc\d+_", "", n)
    for _ in range(4):
        m = ALIASES.get(n)
        if m:
            return m
        n2 = _SUFFIX.sub("", n)
        n2 = re.sub(r"^(sml|big|small|m_)(?=[a-z])", "", n2) if n2 != "big_f" else n2
        if n2 == n:
            break
        n = n2
    return ALIASES.get(n, n)


def speaker_groups(disk, cpt_bytes):
    """{message number: speaker}, {message number: how it was found}.

    1. the scripts name the speaking compact (every call agrees): its character;
    2. else every call's talk animation belongs to one character (an animation is "shared" when
       lines the scripts do name show more than one character with it, and is then not used);
    3. else the line's first script stands in as `scene-XXXX`.
    """
    cpts = sky.parse_cpt(cpt_bytes)
    calls = sky.attribute_speakers(sky.load_scripts(disk), cpts)
    anims = sky.talk_anim_names(cpts)

    def named(who):
        return {character(cpts[w][0]) if w in cpts else "cpt-%04x" % w for w in who}

    by_script = {}
    for msg, cs in calls.items():
        whos = [named(who) for _, who, _ in cs]
        if all(len(w) == 1 for w in whos) and len(set().union(*whos)) == 1:
            by_script[msg] = next(iter(whos[0]))
    anim_chars = collections.defaultdict(set)
    for msg, cs in calls.items():
        if msg in by_script:
            for _, _, anim in cs:
                if anim is not None:
                    anim_chars[anim].add(by_script[msg])
    group, how = {}, {}
    for msg, cs in calls.items():
        if msg in by_script:
            group[msg], how[msg] = by_script[msg], "named by the scripts"
            continue
        chars = set()
        for _, _, anim in cs:
            if anim is None or anim not in anims or len(anim_chars.get(anim, ())) > 1:
                chars.add(None)
            else:
                chars.add(character(anims[anim]))
        if len(chars) == 1 and None not in chars:
            group[msg], how[msg] = chars.pop(), "by talk animation"
        else:
            group[msg], how[msg] = "scene-%04x" % cs[0][0], "scene proxy"
    return group, how


def collect(folder, out, ds=None):
    disk = sky.SkyDisk.open(folder)
    with open(os.path.join(folder, "sky.cpt"), "rb") as f:
        cpt = f.read()
    group, how = speaker_groups(disk, cpt)
    ds = ds or common.Dataset("bass", out)
    texts = {}
    tmp = common.tmpdir()
    howcount = collections.Counter()
    for num, sec, idx in disk.speech_files():
        msg = (sec << 12) | idx
        if sec not in texts:
            texts[sec] = disk.load(sky.TEXT_BASE + sec)
        name = "%d" % num
        try:
            raw = sky.decode_text(texts[sec], msg)
        except (ValueError, IndexError) as e:
            ds.skip("subtitle could not be decoded", "%s: %s" % (name, e))
            continue
        text, why = normalize(raw)
        if text is None:
            ds.skip(why, "%s: %s" % (name, raw))
            continue
        pcm = disk.speech_pcm(num)
        if len(pcm) < MIN_SECONDS * sky.SPEECH_RATE:
            ds.skip("audio shorter than %.1f s" % MIN_SECONDS, "%s: %s" % (name, raw))
            continue
        speaker = group.get(msg, "unattributed-s%d" % sec)
        howcount[how.get(msg, "no script speaks it")] += 1

        def make(dst, pcm=pcm, name=name):
            src = os.path.join(tmp, name + ".wav")
            common.write_u8_wav(src, pcm, sky.SPEECH_RATE)
            common.sox_to_16k(src, dst)
            os.remove(src)

        ds.add("bass-%s" % name, speaker, text, make, raw)
    return ds, howcount


def run(out, cache=common.DEFAULT_CACHE, jobs=2):
    root = common.fetch(PACKAGE, cache)
    ds, howcount = collect(os.path.join(root, DATA), out)
    lines = collections.Counter(it["speaker"] for it in ds.items)
    keep = set(KEEP_TRAIN) | UNKNOWN | {s for s in lines if s.startswith(("unattributed-", "scene-"))}
    splits = common.split_speakers(lines, SEED, keep_train=keep)
    rows = ds.write(splits, jobs=jobs)
    extra = "speaker source: " + ", ".join("%s %d" % kv for kv in howcount.most_common())
    return ds.report(rows, extra)
