"""Builders of small synthetic files shaped like the real game data (for the tests only)."""

import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import sky  # noqa: E402

# --- RNC method 1 -------------------------------------------------------------------------------
# Every Huffman table has 16 symbols of length 4; the reader gives symbol i the code i with its
# 4 bits reversed (read least significant bit first).
_CODES = [int("{:04b}".format(i)[::-1], 2) for i in range(16)]


def rnc_pack(ops):
    """An RNC method-1 file (one block) from ops: ("lit", bytes), ("ref", offset, length), ...
    alternating and starting and ending with a literal run. Returns (packed, unpacked)."""
    bits, events = [], []

    def put(v, n):
        bits.extend((v >> i) & 1 for i in range(n))

    def value(x):
        if x < 2:
            sym, extra, n = x, 0, 0
        else:
            n = x.bit_length() - 1
            sym, extra = n + 1, x - (1 << n)
        put(_CODES[sym], 4)
        put(extra, n)

    lits = [op[1] for op in ops if op[0] == "lit"]
    refs = [op[1:] for op in ops if op[0] == "ref"]
    put(0, 2)
    for _ in range(3):
        put(16, 5)
        for _ in range(16):
            put(4, 4)
    put(len(lits), 16)
    for k, lit in enumerate(lits):
        if k:
            value(refs[k - 1][0] - 1)
            value(refs[k - 1][1] - 2)
        value(len(lit))
        events.append((len(bits), lit))

    def words(bs):
        bs = bs + [0] * ((-len(bs)) % 16)
        return b"".join(struct.pack("<H", sum(b << i for i, b in enumerate(bs[j:j + 16])))
                        for j in range(0, len(bs), 16))

    # The reader copies a literal run from the word after the last whole word of bits it holds,
    # and keeps the bits it had read ahead: so the stream is cut at the next word boundary.
    body, prev = bytearray(), 0
    for p, lit in events:
        cut = -(-p // 16) * 16
        body += words(bits[prev:cut]) + lit
        prev = cut
    body += words(bits[prev:]) + b"\0" * 8
    out = bytearray()
    for k, lit in enumerate(lits):
        if k:
            off, length = refs[k - 1]
            for _ in range(length):
                out.append(out[-off])
        out += lit
    head = b"RNC\x01" + struct.pack(">II", len(out), len(body)) + b"\0" * 5 + b"\x01"
    return head + bytes(body), bytes(out)


# --- sky.dnr / sky.dsk --------------------------------------------------------------------------

def sky_disk(files):
    """(dnr bytes, dsk bytes) from {number: (bytes, flags_extra)}; flags_extra ORs bits 22/23."""
    dsk = bytearray()
    entries = []
    for num, (data, extra) in sorted(files.items()):
        while len(dsk) % 16:
            dsk.append(0)
        off = len(dsk)
        dsk += data
        entries.append((num, off, len(data) | extra))
    dnr = struct.pack("<I", len(entries))
    for num, off, flags in entries:
        # offsets in 16-byte units (bit 23), as the real table stores large ones
        dnr += struct.pack("<H", num) + ((off >> 4) | 0x800000).to_bytes(3, "little")
        dnr += flags.to_bytes(3, "little")
    return dnr, bytes(dsk)


def packed_file(payload_ops, header_word0=0x0080):
    """A packed game file: 22-byte header (word 0 bit 7 set) + RNC stream."""
    rnc, data = rnc_pack(payload_ops)
    header = struct.pack("<H", header_word0) + b"\0" * 20
    return header + rnc, header + data


def stored_file(data):
    """A stored game file: 22-byte header (bit 7 clear) + data."""
    return b"\0" * 22 + data


# --- Huffman text -------------------------------------------------------------------------------

def _codes(tree=sky.TREE):
    out = {}

    def walk(i, path):
        left, right, val = tree[i]
        if left == 0 and right == 0:
            out[val] = path
            return
        walk(left, path + [0])
        walk(right, path + [1])

    walk(0, [])
    return out


def text_block(strings):
    """A section text file (as the game loads it) holding `strings` in order, laid out as
    decode_text reads it: word 0 skip-table offset, word 1 bit-stream start, words 2.. block sizes
    (in 2-bit units), then the skip table (one byte per string), then the bit stream."""
    codes = _codes()
    encoded = []
    for s in strings:
        bits = []
        for ch in s.encode("latin-1") + b"\0":
            bits += codes[ch]
        bits += [0] * ((-len(bits)) % 2)
        units = len(bits) // 2
        if units >= 128:  # stored as (skip & 0x7f) << 3: pad to a multiple of 8 units
            pad = (-units) % 8
            bits += [0] * (2 * pad)
            units += pad
        encoded.append((bits, units))
    nblocks = (len(strings) + 31) // 32
    sizes = [sum(u for _, u in encoded[32 * b:32 * b + 32]) for b in range(nblocks)]
    skips = bytearray()
    for b in range(nblocks):
        chunk = encoded[32 * b:32 * b + 32]
        for _, u in chunk:
            skips.append(u if u < 128 else 0x80 | (u >> 3))
        skips += b"\0" * (32 - len(chunk))
    header_words = 2 + nblocks
    skip_off = 2 * header_words
    stream_off = skip_off + len(skips)
    allbits = [b for bits, _ in encoded for b in bits]
    allbits += [0] * ((-len(allbits)) % 8) + [0] * 16
    stream = bytes(sum(bit << (7 - i) for i, bit in enumerate(allbits[j:j + 8]))
                   for j in range(0, len(allbits), 8))
    # decode_text starts reading at byte (stream start) and advances before the first bit
    block = struct.pack("<HH", skip_off, stream_off) + b"".join(struct.pack("<H", s) for s in sizes)
    return block + bytes(skips) + stream


# --- sky.cpt ------------------------------------------------------------------------------------

def sky_cpt(compacts):
    """sky.cpt bytes from {id: (name, type, [words])} (ids in data lists id >> 12)."""
    nlists = max(i >> 12 for i in compacts) + 1
    lens = [max([(i & 0xFFF) + 1 for i in compacts if i >> 12 == lst] or [0]) for lst in range(nlists)]
    src, ascii_, raw = [], bytearray(), 0
    for lst in range(nlists):
        for e in range(lens[lst]):
            c = compacts.get((lst << 12) | e)
            if not c:
                src.append(0)
                continue
            name, typ, words = c
            src += [len(words), typ] + list(words)
            ascii_ += name.encode() + b"\0"
            raw += len(words)
    out = struct.pack("<HH", 0, nlists) + b"".join(struct.pack("<H", n) for n in lens)
    out += struct.pack("<II", raw, len(src)) + struct.pack("<%dH" % len(src), *src)
    out += struct.pack("<I", len(ascii_)) + bytes(ascii_)
    return out


def module(scripts):
    """A script module file (words) from {script number: [words]}: word n = offset of script n."""
    n = max(scripts) + 1
    words = [n] + [0] * (n - 1)
    for num in sorted(scripts):
        words[num] = len(words)
        words += scripts[num]
    words[0] = n
    return struct.pack("<%dH" % len(words), *words)


def speak(target, msg, anim, mcode, target_is_var=None):
    """Script words for `push target; push msg; push anim; call_mcode 3 mcode`."""
    push_t = [0, target_is_var] if target_is_var is not None else [2, target]
    return push_t + [2, msg, 2, anim, 11, 3, 4 * mcode]


# --- queen.1c -----------------------------------------------------------------------------------

def queen_file(files, version=b"CEM10", compression=1):
    """queen.1c bytes (rebuilt format) from {NAME: bytes}."""
    names = sorted(files)
    head_len = 15 + 21 * len(names)
    table, data = bytearray(), bytearray()
    for n in names:
        table += n.encode().ljust(12, b"\0") + b"\x01" + struct.pack(">II", head_len + len(data), len(files[n]))
        data += files[n]
    head = b"QTBL" + version.ljust(6, b"\0") + b"\0\0" + bytes([compression]) + struct.pack(">H", len(names))
    return head + bytes(table) + bytes(data)


def write_queen(folder, clips, files):
    """Writes FOLDER/queen.1c holding a stub MP3 clip NAME.SB for each of clips plus the other
    files {NAME: bytes}; returns its path."""
    entries = {c + ".SB": b"\xff\xe3" + c.encode() for c in clips}
    entries.update(files)
    path = os.path.join(folder, "queen.1c")
    with open(path, "wb") as f:
        f.write(queen_file(entries))
    return path


def _qstr(s, align):
    b = s.encode("latin-1")
    out = bytes([len(b)]) + b
    if b:
        out += b"\0" * ((-(len(out))) % align)
    return out


def dog_file(talk_key, joe_opening, joe_lines, person_lines, person2="", joe2="", levels=1):
    """A .DOG conversation (with its 20-byte AMOS header). joe_lines / person_lines: [(id, text)]."""
    def strings(entries, base):
        out = bytearray()
        for ident, text in entries:
            out += b"\0\0" + struct.pack(">h", ident)
            out += _qstr(text, 4)
            while (base + len(out)) % 4:
                out.append(0)
        return bytes(out)

    joe_off = 32 + levels * 96
    joe = strings([(0, joe_opening)] + list(joe_lines), joe_off)
    person1 = joe_off + len(joe)
    pers = strings(person_lines, person1)
    person2_off = person1 + len(pers)
    p2 = _qstr(person2, 2) + _qstr(joe2, 2)
    cutaway = person2_off + len(p2)
    head = struct.pack(">5h6hHHH", levels, 7, talk_key, len(joe_lines) + 1, len(person_lines),
                       0, 0, 0, 0, 0, 0, person1, cutaway, person2_off)
    body = head + b"\0" * (32 - len(head)) + b"\0" * (levels * 96) + joe + pers + p2 + b"\0" * 8
    assert len(head) + (32 - len(head)) + levels * 96 == joe_off
    return b"AmBk" + b"\0" * 8 + b"Datas   " + body


# --- .CUT / QUEEN.JAS / QUEEN2.JAS --------------------------------------------------------------

def _strings_at(start, strings, align=2):
    """Length-prefixed strings as the game reads them from offset `start`: a non-empty string is
    padded so the next one starts on an `align` boundary of the file, an empty one is 1 byte."""
    out = bytearray()
    for s in strings:
        b = s.encode("latin-1")
        out += bytes([len(b)]) + b
        if b:
            while (start + len(out)) % align:
                out.append(0)
    return bytes(out)


def cut_object(number, sentence, anim_list=0, execute=0, from_object=0, room=0, persons=(),
               frames=None):
    """One cutaway object for cut_file: the record's fields and its sentence; frames: the number
    of animation frames stored after the record (None: no animation block)."""
    return dict(number=number, sentence=sentence, anim_list=anim_list, execute=execute,
                from_object=from_object, room=room, persons=list(persons), frames=frames)


def cut_file(objects, entry="", talk_file="", talk_to=0, banks=("",)):
    """A .CUT file (with its 20-byte header), laid out like the game's: the 12-byte header, the
    object records (animation frames after the animated ones), a 2-byte word, the game-state
    block, the sentences (entry string first), then the bank names, talk file and talk-to
    object."""
    recs = bytearray()
    for o in objects:
        f = [0] * 17
        f[0], f[4], f[5], f[12], f[15] = (o["number"], o["anim_list"], o["execute"],
                                          o["from_object"], o["room"])
        recs += struct.pack(">17h", *f) + struct.pack(">h", len(o["persons"]))
        recs += b"".join(struct.pack(">h", p) for p in o["persons"])
        if o["frames"] is not None:
            for k in range(o["frames"]):
                recs += struct.pack(">h", 0) + struct.pack(">9h", k + 1, 6, 0, 0, 0, 0, 0, 100, 0)
            recs += struct.pack(">h", -2)
    game_state_off = 12 + len(recs) + 2
    game_state = struct.pack(">h", 0) + struct.pack(">3H", 0, 0, 0) + struct.pack(">3h", 0, 0, 0)
    sentence_off = game_state_off + len(game_state)
    sentences = _strings_at(sentence_off, [entry] + [o["sentence"] for o in objects])
    bank_off = sentence_off + len(sentences)
    if bank_off % 2:
        sentences += b"\0"
        bank_off += 1
    names = struct.pack(">H", len(banks))
    names += _strings_at(bank_off + 2, list(banks) + [talk_file])
    names += struct.pack(">h", talk_to)
    head = struct.pack(">HhhHHH", 0, len(objects), 0, game_state_off, sentence_off, bank_off)
    body = head + bytes(recs) + b"\0\0" + game_state + sentences + names
    return b"AmBk" + b"\0" * 8 + b"Datas   " + body


def jas_files(rooms, actors, descriptions, names, actor_names, joe=None, commands=(),
              game_states=()):
    """(QUEEN.JAS with its 20-byte header, QUEEN2.JAS) shaped like the game's.

    rooms: per room a list of objects (name index, description index, image); actors: (room,
    bob, actor name index, gsSlot, gsValue); commands: (verb, noun1, noun2); game_states:
    (command id, slot, value, speak description). Every other table holds one dummy record, the
    command-area table none (the game then still stores one record)."""
    joe = list(joe or ["Response %d" % i for i in range(1, 41)])
    objs = [o for r in rooms for o in r]
    n_rooms = len(rooms)
    w = struct.pack(">4H", n_rooms, len(names), len(objs), len(descriptions))
    for r, objects in enumerate(rooms, 1):
        for name, desc, image in objects:
            w += struct.pack(">hHHHhHHh", name, 0, 0, desc, 0, r, 0, image)
    first, room_data = 0, []
    for objects in rooms:
        room_data.append(first)
        first += len(objects)
    w += b"".join(struct.pack(">H", v) for v in room_data + [first])  # roomData 1..n+1
    w += struct.pack(">%dH" % n_rooms, *([0] * n_rooms))  # sfx
    w += struct.pack(">H", 1) + b"\0" * 10  # items
    w += struct.pack(">H", 1) + b"\0" * 10  # graphics
    for objects in rooms:  # grid: objMax, areaMax and one area per room
        w += struct.pack(">hh", len(objects), 1) + b"\0" * 16
    w += b"\0" * 8 * len(objs)  # object boxes
    w += struct.pack(">H", 1) + b"\0" * 6  # walk-offs
    w += struct.pack(">H", 1) + b"\0" * 8  # object description states
    cmds = list(commands)
    w += struct.pack(">H", len(cmds)) + b"".join(
        struct.pack(">10h", v, n1, n2, 0, 0, 0, 0, 1, 0, 0) for v, n1, n2 in cmds)
    w += struct.pack(">H", 0) + b"\0" * 6  # command areas: none, one record stored
    w += struct.pack(">H", 1) + b"\0" * 6  # command objects
    w += struct.pack(">H", 1) + b"\0" * 6  # command inventory
    gs = list(game_states)
    w += struct.pack(">H", len(gs)) + b"".join(struct.pack(">4h", *g) for g in gs)
    w += struct.pack(">H", 1)  # entry object
    w += struct.pack(">H", 1) + b"\0" * 4  # furniture
    w += struct.pack(">4H", len(actors), 1, len(actor_names), 1)
    for room, bob, name, slot, value in actors:
        w += struct.pack(">hhHhh7H", room, bob, name, slot, value, 14, 1, 100, 100, 0, 10, 1)
    w += struct.pack(">H", 0) + b"\0" * 6  # graphic anims: none, one record
    w += b"CEM10\0"
    jas = b"AmBk" + b"\0" * 8 + b"Datas   " + w
    lines = (list(descriptions) + list(names) + ["ROOM%d" % r for r in range(1, n_rooms + 1)]
             + ["verb%d" % v for v in range(1, 13)] + joe + ["anim1"] + list(actor_names)
             + ["x.act"])
    text = "".join(s + "\r\n" for s in lines).encode("latin-1")
    return jas, text
