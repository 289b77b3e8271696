"""Reader for Beneath a Steel Sky's CD data (sky.dnr + sky.dsk), standard library only.

File layout (as ScummVM's engines/sky reads it):
- sky.dnr: uint32 LE entry count, then 8-byte entries: uint16 LE file number, 3 bytes offset
  (bit 23: the offset is in 16-byte units), 3 bytes flags (bits 0-21 size, bit 22: the unpacked
  data already includes its 22-byte header, bit 23: stored, never packed).
- sky.dsk: the file data. A packed file starts with a 22-byte header whose first word has bit 7
  set, followed by an RNC method-1 stream ("RNC\\x01").
- Speech file 50000 + SPEECH_OFFSETS[section] + index is the voice of text (section << 12) | index;
  it is a 22-byte header and unsigned 8-bit mono PCM at 11025 Hz.
- Text: files 60600 + section hold the section's Huffman-coded strings (see `text`).
- Scripts: files 60400 + module hold 16-bit LE script bytecode (see `speakers`).
"""

import struct

HEADER = 22
SPEECH_BASE = 50000
TEXT_BASE = 60600
MODULE_BASE = 60400
SPEECH_RATE = 11025
# First speech file of each of the 8 text sections (ScummVM's speech conversion table): section s
# owns 50000 + SPEECH_OFFSETS[s] .. 50000 + SPEECH_OFFSETS[s + 1] - 1; the last entry is the end
# of section 7 (which has only a few lines; the 59xxx files belong to no section).
SPEECH_OFFSETS = [0, 600, 1100, 2430, 3380, 4530, 5080, 5230, 5830]


class RncError(ValueError):
    pass


class _Bits:
    """RNC method-1 bit reader: 16-bit little-endian words, least significant bit first."""

    def __init__(self, data, pos):
        self.d = data
        self.src = pos
        self.bh = 0
        self.bc = 0
        self.bl = self.word(pos)

    def word(self, p):
        d = self.d
        if p + 1 < len(d):
            return d[p] | (d[p + 1] << 8)
        return d[p] if p < len(d) else 0

    def bits(self, n):
        bh, bl, bc = self.bh, self.bl, self.bc
        ret = ((1 << n) - 1) & bl
        bc -= n
        if bc < 0:
            bc += n
            rem = (bh << (16 - bc)) & 0xFFFF
            bh >>= bc
            bl = ((bl >> bc) | rem) & 0xFFFF
            self.src += 2
            bh = self.word(self.src)
            n -= bc
            bc = 16 - n
        rem = (bh << (16 - n)) & 0xFFFF
        self.bh = bh >> n
        self.bl = ((bl >> n) | rem) & 0xFFFF
        self.bc = bc & 0xFF
        return ret

    def table(self):
        out = []
        count = self.bits(5)
        if not count:
            return out
        lengths = [self.bits(4) for _ in range(count)]
        code = 0
        for length in range(1, 17):
            for i in range(count):
                if lengths[i] == length:
                    b = (code >> (16 - length)) & 0xFFFF
                    rev = 0
                    for j in range(length):
                        rev |= ((b >> j) & 1) << (length - j - 1)
                    out.append(((1 << length) - 1, rev, length, i))
                    code += 1 << (16 - length)
        return out

    def value(self, table):
        v = self.bl
        for mask, code, length, sym in table:
            if (mask & v) == code:
                break
        else:
            raise RncError("no Huffman code matches")
        self.bits(length)
        v = sym
        if v >= 2:
            v -= 1
            v = self.bits(v) | (1 << v)
        return v


def rnc_unpack(data, base=0):
    """Unpacks an RNC method-1 stream at `base`; returns None when there is no RNC signature."""
    d = data
    if d[base:base + 4] != b"RNC\x01":
        return None
    ulen = struct.unpack(">I", d[base + 4:base + 8])[0]
    blocks = d[base + 17]
    r = _Bits(d, base + 18)
    r.bits(2)
    out = bytearray()
    while True:
        raw_t, pos_t, len_t = r.table(), r.table(), r.table()
        count = r.bits(16)
        while True:
            n = r.value(raw_t)
            if n:
                out += d[r.src:r.src + n]
                r.src += n
                a = r.word(r.src)
                b = r.word(r.src + 2)
                r.bl &= (1 << r.bc) - 1
                r.bl |= (a << r.bc) & 0xFFFF
                r.bh = ((a >> (16 - r.bc)) | (b << r.bc)) & 0xFFFF
            if count > 1:
                off = r.value(pos_t) + 1
                length = r.value(len_t) + 2
                if off > len(out):
                    raise RncError("back reference before start")
                for _ in range(length):
                    out.append(out[-off])
            count -= 1
            if count == 0:
                break
        blocks -= 1
        if blocks <= 0:
            break
    if len(out) < ulen:
        raise RncError("unpacked %d of %d bytes" % (len(out), ulen))
    return bytes(out[:ulen])


def parse_dnr(dnr):
    """{file number: (offset, flags)} from the bytes of sky.dnr."""
    count = struct.unpack("<I", dnr[:4])[0]
    if 4 + 8 * count > len(dnr):
        raise ValueError("sky.dnr: %d entries do not fit in %d bytes" % (count, len(dnr)))
    entries = {}
    for i in range(count):
        e = dnr[4 + 8 * i:12 + 8 * i]
        num = struct.unpack("<H", e[:2])[0]
        off = int.from_bytes(e[2:5], "little")
        flags = int.from_bytes(e[5:8], "little")
        if off & 0x800000:
            off = (off & 0x7FFFFF) << 4
        entries[num] = (off, flags)
    return entries


class SkyDisk:
    def __init__(self, dnr_bytes, dsk_file):
        self.entries = parse_dnr(dnr_bytes)
        self.dsk = dsk_file

    @classmethod
    def open(cls, folder):
        with open(folder + "/sky.dnr", "rb") as f:
            dnr = f.read()
        return cls(dnr, open(folder + "/sky.dsk", "rb"))

    def raw(self, num):
        off, flags = self.entries[num]
        self.dsk.seek(off)
        return self.dsk.read(flags & 0x3FFFFF)

    def load(self, num):
        """The file's bytes as the game sees them: 22-byte header + data, unpacked."""
        off, flags = self.entries[num]
        b = self.raw(num)
        stored = (flags >> 23) & 1
        if len(b) >= HEADER and not stored and (struct.unpack("<H", b[:2])[0] >> 7) & 1:
            r = rnc_unpack(b, HEADER)
            if r is None:
                return b
            if (flags >> 22) & 1:
                return r
            return b[:HEADER] + r
        return b

    def speech_files(self):
        """(file number, section, index) of every speech file paired with a text section."""
        out = []
        for num in sorted(self.entries):
            k = num - SPEECH_BASE
            if not 0 <= k < SPEECH_OFFSETS[-1]:
                continue
            sec = max(i for i in range(len(SPEECH_OFFSETS) - 1) if SPEECH_OFFSETS[i] <= k)
            out.append((num, sec, k - SPEECH_OFFSETS[sec]))
        return out

    def speech_pcm(self, num):
        """Unsigned 8-bit mono PCM at 11025 Hz (the header stripped)."""
        return self.load(num)[HEADER:]


# The game's text Huffman tree (ScummVM engines/sky/hufftext.cpp, English CD v0.0372), written
# depth-first: N is an inner node (then its left and right subtrees), anything else a leaf; #n is
# the byte n, other tokens their own character.
_TREE_SEQ = r"""N N N #32 N e a N N N o s N t n N N . i r N N N N N #0 E u N m A N N N l I N d R N N #78 S T N N N N N O h c N D g N N N L C N p U N N ! y M N N N N N P v H N ? b N N N #39 f , N G B N N N N N V k F N q w N N N K - W N J * N N N N z Y N j + N N N Q #133 ) N N Z #139 < N N N N N #149 #126 #138 N #135 : N N N #127 ] #35 N N x X #145 N N N N N #136 ` 2 N N 0 #131 1 N N N / ( = N #134 ^ N N N N 3 9 N #152 4 N N N } 8 \ N " #144 N N N N & #141 N 5 6 N N #146 #143 N #142 #147 N N N N #140 7 #128 N N #129 #153 N $ @ N N N N [ #154 _ N > #150 N N N #130 % #9 N N #156 #151 N { N #148 !"""


def build_tree(seq):
    """A list of nodes (left, right, value); leaves have left == right == 0."""
    tree = []

    def build(it):
        tok = next(it)
        idx = len(tree)
        tree.append(None)
        if tok == "N":
            left = build(it)
            right = build(it)
            tree[idx] = (left, right, None)
        else:
            tree[idx] = (0, 0, int(tok[1:]) if tok.startswith("#") else ord(tok))
        return idx

    build(iter(seq.split()))
    return tree


TREE = build_tree(_TREE_SEQ)


def decode_text(block, num, tree=TREE, limit=2000):
    """String `num & 0xFFF` of a section's text file `block` (22-byte header included).

    Layout after the header offset arithmetic ScummVM uses: word 0 (at byte 0): offset of the
    per-string skip table; word 1: start of the bit stream; words 2..: sizes of 32-string blocks.
    """
    d = block
    off = 0
    blk = num & 0xFE0
    n = num & 0x1F
    for k in range(blk >> 5):
        off += struct.unpack("<H", d[4 + 2 * k:6 + 2 * k])[0]
    if n:
        p = blk + struct.unpack("<H", d[0:2])[0]
        for _ in range(n):
            skip = d[p]
            p += 1
            if skip & 0x80:
                skip = (skip & 0x7F) << 3
            off += skip
    bit = off & 3
    off >>= 2
    p = off + struct.unpack("<H", d[2:4])[0]
    bit = ((bit ^ 3) + 1) << 1
    out = []
    while True:
        pos = 0
        while True:
            if bit:
                bit -= 1
            else:
                p += 1
                bit = 7
            if p >= len(d):
                raise ValueError("text %d runs past the end of its block" % num)
            pos = tree[pos][1] if (d[p] >> bit) & 1 else tree[pos][0]
            if tree[pos][0] == 0 and tree[pos][1] == 0:
                c = tree[pos][2]
                break
        if c == 0:
            break
        out.append(c)
        if len(out) > limit:
            raise ValueError("text %d has no terminator" % num)
    return bytes(out).decode("latin-1")


# ---------------------------------------------------------------------------------------------
# Who speaks each line: the game's scripts (files 60400 + module) and compacts (sky.cpt).
#
# A script is 16-bit words; a line is spoken by `push target; push message; push anim;
# call_mcode 3 fnSpeak*`, i.e. the words 2|0 T 2 M 2|0 A 11 3 4*mcode. The target is a constant
# compact id, variable CUR_ID (word 48: the compact running the script) or variable 120 (word 480:
# the one the player is talking to). So a line's speaker follows from which compact runs the
# script: a compact's base script (compact word 27) runs on that compact; its action script
# (word 17) is run by the player (foster) when he interacts with it, talking to that compact;
# fnStartSub passes both on to the sub-script, fnTheyStartSub / fnAssignBase start a script on a
# named compact. attribute_speakers lists, per message, who each call can be spoken by; bass.py
# decides the speaker from that and from the call's talk animation (talk_anim_names).

PUSH_VAR, PUSH_NUM, CALL_MCODE = 0, 2, 11
VAR_CUR_ID, VAR_PARTNER = 12 * 4, 120 * 4
MC_START_SUB, MC_THEY_START_SUB, MC_ASSIGN_BASE = 7, 8, 9
MC_SPEAK = {35: "fnSpeakMe", 36: "fnSpeakMeDir", 37: "fnSpeakWait", 38: "fnSpeakWaitDir"}
CPT_ACTION_SCRIPT, CPT_BASE_SUB = 17, 27
FOSTER = 3


def parse_cpt(data):
    """{compact id: (name, type, words)} from the bytes of sky.cpt (ScummVM's format v0)."""
    p = 0

    def u16():
        nonlocal p
        v = struct.unpack_from("<H", data, p)[0]
        p += 2
        return v

    def u32():
        nonlocal p
        v = struct.unpack_from("<I", data, p)[0]
        p += 4
        return v

    if u16() != 0:
        raise ValueError("sky.cpt: unknown version")
    nlists = u16()
    lens = [u16() for _ in range(nlists)]
    u32()  # raw size in words
    nsrc = u32()
    src = struct.unpack_from("<%dH" % nsrc, data, p)
    p += 2 * nsrc
    nascii = u32()
    ascii_ = data[p:p + nascii]
    ap = sp = 0
    cpts = {}
    for lst in range(nlists):
        for e in range(lens[lst]):
            size = src[sp]
            sp += 1
            if not size:
                continue
            typ = src[sp]
            sp += 1
            end = ascii_.index(b"\0", ap)
            name = ascii_[ap:end].decode("latin-1")
            ap = end + 1
            cpts[(lst << 12) | e] = (name, typ, tuple(src[sp:sp + size]))
            sp += size
    return cpts


def split_module(words, module):
    """{script id (module << 12 | n): its words} for one module file; word n of the file is the
    offset of script n, the table ends where the first script starts."""
    if not words:
        return {}
    first = words[0]
    if not 0 < first <= len(words):
        raise ValueError("module %d: bad script table" % module)
    starts = sorted({words[n] for n in range(1, first) if first <= words[n] < len(words)})
    bounds = {s: e for s, e in zip(starts, starts[1:] + [len(words)])}
    out = {}
    for n in range(1, first):
        s = words[n]
        if s in bounds:
            out[(module << 12) | n] = words[s:bounds[s]]
    return out


def scan_script(words):
    """(speak calls [(target kind, target, message, mcode, anim or None)],
    sub-script starts [(kind, mega, script id)])."""
    speaks, subs = [], []
    for i in range(len(words) - 2):
        if words[i] != CALL_MCODE:
            continue
        n, mc = words[i + 1], words[i + 2]
        if mc % 4:
            continue
        mc //= 4
        if n == 3 and mc in MC_SPEAK and i >= 6 and words[i - 4] == PUSH_NUM:
            op, arg, msg = words[i - 6], words[i - 5], words[i - 3]
            anim = words[i - 1] if words[i - 2] == PUSH_NUM else None
            if op == PUSH_NUM:
                speaks.append(("const", arg, msg, mc, anim))
            elif op == PUSH_VAR and arg == VAR_CUR_ID:
                speaks.append(("me", None, msg, mc, anim))
            elif op == PUSH_VAR and arg == VAR_PARTNER:
                speaks.append(("partner", None, msg, mc, anim))
            else:
                speaks.append(("unknown", None, msg, mc, anim))
        elif n == 1 and mc == MC_START_SUB and i >= 2 and words[i - 2] == PUSH_NUM:
            subs.append(("sub", None, words[i - 1]))
        elif n == 2 and mc in (MC_THEY_START_SUB, MC_ASSIGN_BASE) and i >= 4 \
                and words[i - 4] == PUSH_NUM and words[i - 2] == PUSH_NUM:
            subs.append(("they", words[i - 3], words[i - 1]))
    return speaks, subs


def attribute_speakers(scripts, cpts):
    """{message number: [(script id, frozenset of speaker compact ids, anim or None)]}, one entry
    per call that speaks the message; the set is empty when the script's runner is unknown.

    `scripts`: {script id: words}; `cpts`: {compact id: (name, type, words)}.
    """
    ctx = {}  # script id -> set of (runner, partner)

    def add(sid, c):
        s = ctx.setdefault(sid, set())
        if c in s:
            return False
        s.add(c)
        return True

    for cid, (_, typ, w) in cpts.items():
        if typ != 1 or len(w) <= CPT_BASE_SUB:
            continue
        if w[CPT_BASE_SUB] in scripts:
            add(w[CPT_BASE_SUB], (cid, None))
        if w[CPT_ACTION_SCRIPT] in scripts:
            add(w[CPT_ACTION_SCRIPT], (FOSTER, cid))
    scanned = {sid: scan_script(w) for sid, w in scripts.items()}
    changed = True
    while changed:
        changed = False
        for sid, (_, subs) in scanned.items():
            for kind, mega, target in subs:
                if target not in scripts:
                    continue
                if kind == "they":
                    changed |= add(target, (mega, None))
                else:
                    for c in list(ctx.get(sid, ())):
                        changed |= add(target, c)
    calls = {}
    for sid, (speaks, _) in sorted(scanned.items()):
        for kind, target, msg, mc, anim in speaks:
            if kind == "const":
                who = {target}
            elif kind == "me":
                who = {r for r, _ in ctx.get(sid, ())}
                if mc == 36:  # fnSpeakMeDir: "must be player"
                    who = {FOSTER}
            elif kind == "partner":
                who = {p for _, p in ctx.get(sid, ()) if p is not None}
            else:
                who = set()
            calls.setdefault(msg, []).append((sid, frozenset(who), anim))
    return calls


def talk_anim_names(cpts, table_id=None):
    """{talk animation number: name of its animation compact} from the talk table
    (CPT_TALK_TABLE_LIST: the list whose entries stdSpeak indexes with the anim argument; found
    as the list holding 'sc31_guard_talk' at index 158 unless table_id is given). An anim number
    is a base: stdSpeak adds the mega set (0-3) and, for the *Dir calls, 2 * direction."""
    if table_id is None:
        guard = {k for k, (n, _, _) in cpts.items() if n == "sc31_guard_talk"}
        tables = [k for k, (_, _, w) in cpts.items() if len(w) > 158 and w[158] in guard]
        if len(tables) != 1:
            return {}
        table_id = tables[0]
    table = cpts[table_id][2]
    out = {}
    for anim in range(len(table)):
        for k in range(anim, min(anim + 8, len(table))):
            if table[k] in cpts:
                out[anim] = cpts[table[k]][0]
                break
    return out


def load_scripts(disk):
    scripts = {}
    for num in sorted(disk.entries):
        if MODULE_BASE <= num < MODULE_BASE + 16:
            b = disk.load(num)
            words = struct.unpack("<%dH" % (len(b) // 2), b[:len(b) // 2 * 2])
            scripts.update(split_module(words, num - MODULE_BASE))
    return scripts
