"""Reader for Flight of the Amazon Queen's CD data (queen.1c, the "rebuilt" ScummVM version),
standard library only.

- queen.1c starts with "QTBL", a 6-byte version ("CEM10" = CD, English), 2 skipped bytes, the
  compression byte (1 = MP3), a uint16 BE entry count and entries of 12-byte name, bundle byte,
  uint32 BE offset and size (ScummVM engines/queen/resource.cpp).
- NAME.DOG is a conversation: a 20-byte AMOS bank header, then (big-endian int16) levelMax,
  uniqueKey, talkKey, jMax, pMax, 3 x 2 game-state words, person1, cutaway and person2 string
  offsets; the dialogue tree at 32 (levelMax x 6 x 16 bytes); Joe's strings at 32 + levelMax*96.
  A string list is (2 skipped bytes, int16 id, length-prefixed string padded to 4) per entry.
- A spoken line is split at each "*XX" command into segments; segment i of a line with voice
  prefix P is the clip P + hex(i + 1) + ".SB" (spaces of "%2d" become 0). Prefixes
  (engines/queen/talk.cpp): "%2d%4xP" (talkKey, id) for the person, "%2d%4xJ" for Joe, "%2dSSSSJ"
  for Joe's opening line, "%2dXXXXP" / "%2dXXXXJ" for the second-visit lines.
"""

import struct

DOG_HEADER = 20


def parse_table(head):
    """(version, compression, {NAME: (bundle, offset, size)}) from the start of queen.1c."""
    if head[:4] != b"QTBL":
        raise ValueError("not a rebuilt queen.1c (no QTBL table)")
    version = head[4:10].split(b"\0")[0].decode("latin-1")
    compression = head[12]
    n = struct.unpack(">H", head[13:15])[0]
    need = 15 + 21 * n
    if len(head) < need:
        raise ValueError("table needs %d bytes" % need)
    out = {}
    p = 15
    for _ in range(n):
        name = head[p:p + 12].split(b"\0")[0].decode("latin-1").upper()
        bundle = head[p + 12]
        off, size = struct.unpack(">II", head[p + 13:p + 21])
        out[name] = (bundle, off, size)
        p += 21
    return version, compression, out


class QueenData:
    def __init__(self, path):
        self.f = open(path, "rb")
        head = self.f.read(15)
        n = struct.unpack(">H", head[13:15])[0]
        self.f.seek(0)
        self.version, self.compression, self.entries = parse_table(self.f.read(15 + 21 * n))

    def load(self, name, skip=0):
        _, off, size = self.entries[name.upper()]
        self.f.seek(off + skip)
        return self.f.read(size - skip)


def _string(d, off, align):
    n = d[off]
    s = d[off + 1:off + 1 + n]
    off += 1
    if n:
        off = (off + n + align - 1) & ~(align - 1)
    return s.decode("latin-1"), off


def _string_list(d, off, count):
    out = []
    for _ in range(count):
        off += 2
        ident = struct.unpack(">h", d[off:off + 2])[0]
        off += 2
        s, off = _string(d, off, 4)
        out.append((ident, s))
    return out


def parse_dog(data):
    """Lines of a .DOG file (header already skipped): [(voice prefix, who, text)], who is "J"
    (Joe) or "P" (the person); the talk key is returned too."""
    h = struct.unpack(">5h6hHHH", data[:28])
    level_max, _unique, talk_key, j_max, p_max = h[:5]
    person1, _cutaway, person2 = h[11:14]
    level_max = abs(level_max)
    joe_off = 32 + level_max * 96
    lines = []
    # Joe's list: its first entry is the opening line (id = the "has no string" flag).
    joe = _string_list(data, joe_off, j_max)
    for k, (ident, s) in enumerate(joe):
        if k == 0:
            if ident == 0 and s:
                lines.append(("%2dSSSSJ" % talk_key, "J", s))
            continue
        if s and s != "0":
            lines.append(("%2d%4xJ" % (talk_key, ident), "J", s))
    for ident, s in _string_list(data, person1, p_max):
        if s and s != "0":
            lines.append(("%2d%4xP" % (talk_key, ident), "P", s))
    p2, off = _string(data, person2, 2)
    j2, _ = _string(data, off, 2)
    if p2 and p2 != "0":
        lines.append(("%2dXXXXP" % talk_key, "P", p2))
    if j2 and j2[0] != "0":
        lines.append(("%2dXXXXJ" % talk_key, "J", j2))
    return talk_key, lines


def segments(sentence):
    """[(segment index, text)] of a spoken line, split where ScummVM's Talk::speak splits it: at
    each '*' followed by a 2-character command ('*XY' takes 11 more characters)."""
    out = []
    i = start = idx = 0
    while i < len(sentence):
        if sentence[i] == "*":
            out.append((idx, sentence[start:i]))
            cmd = sentence[i + 1:i + 3]
            i += 3
            if cmd == "XY":
                i += 11
            idx += 1
            start = i
        else:
            i += 1
    if start != i:
        out.append((idx, sentence[start:i]))
    return out


def clip_name(prefix, index):
    return (prefix + "%1x" % (index + 1)).replace(" ", "0").upper() + ".SB"
