"""Drascula: The Vampire Strikes Back (Debian package drascula): the English voice acting.

Every speech file (NAME.ALS: unsigned 8-bit mono PCM at 11,025 Hz, no header) is said by one
character, and its file name says which and which subtitle it speaks. The subtitles are in the
engine data file `drascula.dat`, one table per character (read_dat); ScummVM's engine
(engines/drascula/talk.cpp) plays "PREFIX<n>.als" while it shows line n of that prefix's table:

    <n>   John Hacker, the player    _text      D<n>  Count Drascula    _textd
    I<n>  Igor                       _texti     VB<n> Von Braun         _textvb
    B<n>  the drunk                  _textb     BJ<n> B.J.              _textbj
    E<n>  the man in the dungeon     _texte     L<n>  the werewolf      _textl
    P<n>  the pianist                _textp     T<n>  the bartender     _textt

with three exceptions the engine spells out: the blind man speaks D68 and up (his own lines in
_textd start at 68), the bartender's line 82 is D82, and the voice in the trunk speaks D83 with
line 83 of _text. S<n> and F<n> are sound effects (no table) and are left out.

The characters are not split into dev and test: every one goes to train. The real dev and test
sets stay the Beneath a Steel Sky and Flight of the Amazon Queen characters they have been since
stage 10, so every model's figures are measured on the same voices.
"""

import collections
import os
import re
import struct

import common
from normalize import normalize

PACKAGE = "drascula"
DATA = "usr/share/scummvm/drascula/en"
RATE = 11025
MIN_SECONDS = 0.2
# A subtitle faster than this cannot be what the clip says (fast English speech is about 15
# characters a second); a few clips hold only part of their line.
MAX_CHARS_PER_SECOND = 20.0
ENGLISH = 0
BLIND_START = 68  # TEXTD_START in the engine: the blind man's first line in _textd
# The tables in the order drascula.dat stores them.
TABLES = ("text", "textd", "textb", "textbj", "texte", "texti", "textl", "textp", "textt",
          "textvb", "textsys", "texthis", "textverbs", "textmisc", "textd1")
# File-name prefix -> (speaker, table).
PREFIXES = {
    "": ("hacker", "text"), "D": ("drascula", "textd"), "I": ("igor", "texti"),
    "VB": ("vonbraun", "textvb"), "B": ("drunk", "textb"), "BJ": ("bj", "textbj"),
    "E": ("dungeon", "texte"), "L": ("werewolf", "textl"), "P": ("pianist", "textp"),
    "T": ("bartender", "textt"),
}
EFFECTS = ("S", "F")
# Record sizes of the tables before the texts (charmap first, then item locations, polygons,
# verb bar, menu, frames, candles, pianist, drunk, room pre-updates, room updates, room talk
# actions, talk sequences), as the engine's loadDrasculaDat reads them.
_RECORDS = (4, 4, 4, 2, 4, 2, 4, 2, 2, 20, 20, 10, 8)
_NAME = re.compile(r"^([A-Za-z]*)(\d+)\.als$", re.IGNORECASE)


class DatError(ValueError):
    pass


class _Reader:
    def __init__(self, data):
        self.data, self.pos = data, 0

    def take(self, n, what):
        if n < 0 or self.pos + n > len(self.data):
            raise DatError("drascula.dat: %s claims %d bytes at offset %d, but the file has %d"
                           % (what, n, self.pos, len(self.data)))
        b = self.data[self.pos:self.pos + n]
        self.pos += n
        return b

    def u16(self, what):
        return struct.unpack(">H", self.take(2, what))[0]


def _strings(block, count, what):
    """The `count` NUL-terminated strings of one language's block, as the engine's loadTexts
    finds them: line 0 starts the block; every later line is preceded by a big-endian distance
    from its own start to the next line's start (the first one, at offset 2, counts from
    offset 4: the engine's DATAALIGNMENT)."""
    starts, pos = [0], 4
    for i in range(1, count):
        if pos - 2 < 0 or pos > len(block):
            raise DatError("drascula.dat: %s: string %d starts past its block" % (what, i))
        n = struct.unpack(">H", block[pos - 2:pos])[0]
        pos += n
        starts.append(pos)
    out = []
    for i, s in enumerate(starts):
        end = block.find(b"\0", s)
        if s > len(block) or end < 0:
            raise DatError("drascula.dat: %s: string %d is not terminated" % (what, i))
        out.append(block[s:end].decode("cp437"))
    return out


def read_dat(data, lang=ENGLISH):
    """{table name: [line 0, line 1, ...]} for one language of drascula.dat (bytes)."""
    r = _Reader(data)
    if r.take(8, "the signature") != b"DRASCULA":
        raise DatError("drascula.dat: not a Drascula engine data file (no DRASCULA signature)")
    r.take(1, "the version")
    for i, size in enumerate(_RECORDS):
        n = r.u16("table %d's count" % i)
        r.take(n * size, "table %d (%d records of %d bytes)" % (i, n, size))
    langs = r.u16("the language count")
    if lang >= langs:
        raise DatError("drascula.dat holds %d languages, not language %d" % (langs, lang))
    tables = {}
    for name in TABLES:
        count = r.u16("%s's count" % name)
        for k in range(langs):
            block = r.take(r.u16("%s's block length" % name), "%s, language %d" % (name, k))
            if k == lang:
                tables[name] = _strings(block, count, name)
    if r.pos != len(data):
        raise DatError("drascula.dat: %d bytes left after the last table" % (len(data) - r.pos))
    return tables


def pairing(filename, tables):
    """(speaker, text) for a speech file name ('D5.ALS'), or (None, reason)."""
    m = _NAME.match(filename)
    if not m:
        return None, "not a speech file name"
    prefix, n = m.group(1).upper(), int(m.group(2))
    if prefix in EFFECTS:
        return None, "sound effect (no subtitle table)"
    if prefix not in PREFIXES:
        return None, "unknown speaker prefix"
    speaker, table = PREFIXES[prefix]
    if prefix == "D":
        if n == 83:
            speaker, table = "trunk", "text"
        elif n == 82:
            speaker = "bartender"
        elif n >= BLIND_START:
            speaker = "blind"
    lines = tables[table]
    if n < 1 or n >= len(lines) or not lines[n].strip():
        return None, "no subtitle with that number"
    return (speaker, lines[n]), None


def speech_pcm(path):
    """The unsigned 8-bit samples ScummVM plays for a file (3.ALS's long silences cut as the
    engine's workaround does)."""
    with open(path, "rb") as f:
        pcm = f.read()
    if os.path.basename(path).upper() == "3.ALS" and len(pcm) == 145166:
        pcm = pcm[73959:len(pcm) - 26306]
    return pcm


def collect(folder, out, ds=None):
    with open(os.path.join(folder, "drascula.dat"), "rb") as f:
        tables = read_dat(f.read())
    ds = ds or common.Dataset("drascula", out)
    tmp = common.tmpdir()
    for fn in sorted(os.listdir(folder)):
        if not fn.upper().endswith(".ALS"):
            continue
        got, why = pairing(fn, tables)
        if got is None:
            ds.skip(why, fn)
            continue
        speaker, raw = got
        text, why = normalize(raw)
        if text is None:
            ds.skip(why, "%s: %s" % (fn, raw))
            continue
        path = os.path.join(folder, fn)
        pcm = speech_pcm(path)
        if len(pcm) < MIN_SECONDS * RATE:
            ds.skip("audio shorter than %.1f s" % MIN_SECONDS, "%s: %s" % (fn, raw))
            continue
        if len(text) > MAX_CHARS_PER_SECOND * len(pcm) / RATE:
            ds.skip("subtitle too long for the clip (over %g characters a second)"
                    % MAX_CHARS_PER_SECOND, "%s: %s" % (fn, raw))
            continue
        name = os.path.splitext(fn)[0].lower()

        def make(dst, pcm=pcm, name=name):
            src = os.path.join(tmp, name + ".wav")
            common.write_u8_wav(src, pcm, RATE)
            common.sox_to_16k(src, dst)
            os.remove(src)

        ds.add("drascula-%s" % name, speaker, text, make, raw)
    return ds


def run(out, cache=common.DEFAULT_CACHE, jobs=2):
    root = common.fetch(PACKAGE, cache)
    ds = collect(os.path.join(root, DATA), out)
    lines = collections.Counter(it["speaker"] for it in ds.items)
    rows = ds.write({s: "train" for s in lines}, jobs=jobs)
    return ds.report(rows, "all characters in train (dev and test stay the other games' voices)")
