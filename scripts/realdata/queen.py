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
- NAME.CUT is a cutaway scene (engines/queen/cutaway.cpp): a 20-byte header, then (BE) comPanel,
  object count (negative: cannot be skipped), flags, game-state offset, sentence offset and bank
  names offset; the objects from byte 12. An object is 17 int16 (number, moveTo x/y, bank,
  animList, execute, limitBob x1/y1/x2/y2, specialMove, animType, fromObject, bobStart x/y, room,
  scale), an int16 person count and that many int16, then, for an animated object only, 18-byte
  animation frames until an int16 -2. The sentences (length-prefixed, padded to 2) start at the
  sentence offset with the entry string; object i (from 1) takes the next one. Its voice prefix is
  the cutaway's name padded with "_" to 5 characters + "%02d" % i; a person line is split into
  segments as a .DOG line is, a caption line (object -2 or -3) is one clip, prefix + "1".
- QUEEN.JAS (20-byte header) holds the object, room, actor and command tables
  (engines/queen/logic.cpp Logic::readQueenJas, structs.h); QUEEN2.JAS is text, one string a
  line: object descriptions, object names, room names, 12 verbs, Joe's 40 responses, actor
  animations, actor names, actor files. Joe's speech number n (a response if n <= 40, else object
  description n - 40) has the voice prefix "JOE%04d" (Logic::makeJoeSpeak).
"""

import struct

DOG_HEADER = 20
CUT_HEADER = 20
JAS_HEADER = 20
JOE_RESPONSE_MAX = 40
VERB_TALK_TO = 8
PERSON_IMAGES = (-3, -4)


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


# --- cutaways (.CUT) -----------------------------------------------------------------------------

class _Cursor:
    """Big-endian reader over bytes; running past the end raises ValueError."""

    def __init__(self, data, pos=0):
        self.d = data
        self.p = pos

    def _take(self, fmt, n):
        if self.p + n > len(self.d):
            raise ValueError("data ends at %d, need %d more bytes"
                             % (len(self.d), self.p + n - len(self.d)))
        v = struct.unpack_from(fmt, self.d, self.p)
        self.p += n
        return v

    def s16(self):
        return self._take(">h", 2)[0]

    def u16(self):
        return self._take(">H", 2)[0]

    def s16s(self, n):
        return self._take(">%dh" % n, 2 * n)

    def string(self, align=2):
        if self.p >= len(self.d):
            raise ValueError("string past the end of the data")
        s, self.p = _string(self.d, self.p, align)
        return s


CUT_KINDS = {-2: "caption_speak", -3: "caption_display_speak", -4: "caption_display"}


def cut_object_kind(number, anim_list, execute, from_object, is_person):
    """Cutaway::getObjectType: "person" (Joe or a person speaks the sentence), "animation" (has
    animation frames in the file), "no_animation", or a caption kind (objects -2/-3/-4).
    is_person(obj) tells whether object obj is a person (image -3/-4 in QUEEN.JAS)."""
    if number == -1:  # OBJECT_ROOMFADE: Joe
        number = 0
    kind = "animation"
    if number > 0:
        if not anim_list and is_person(number):
            kind = "person"
    elif number == 0 and not anim_list:
        kind = "person"
    if from_object > 0:
        kind = "no_animation"
    kind = CUT_KINDS.get(number, kind)
    if kind == "animation" and not execute:
        kind = "no_animation"
    return kind


def parse_cut(data, is_person):
    """A .CUT file (header already skipped) -> dict: entry (the entry string), talk_file,
    talk_to, objects [(index from 1, object number, kind, room, sentence)], and the offsets
    sentences_end / bank_names (equal when every sentence was read where the game reads it) and
    objects_end / game_state (the object records end just before the game-state block)."""
    c = _Cursor(data)
    _com_panel = c.u16()
    count = abs(c.s16())
    _flags = c.s16()
    game_state, sentence_off, bank_names = c.u16(), c.u16(), c.u16()
    b = _Cursor(data, bank_names)
    for _ in range(b.u16()):
        b.string()
    talk_file = b.string()
    talk_to = b.s16()
    sent = _Cursor(data, sentence_off)
    entry = sent.string()
    objects = []
    for i in range(1, count + 1):
        f = c.s16s(17)
        number, anim_list, execute, from_object, room = f[0], f[4], f[5], f[12], f[15]
        c.s16s(c.s16())  # the people to turn on
        sentence = sent.string()
        kind = cut_object_kind(number, anim_list, execute, from_object, is_person)
        if kind == "animation":
            frames = 0
            while c.s16() != -2:
                c.s16s(9)
                frames += 1
                if frames > 1000:
                    raise ValueError("animation without end")
        objects.append((i, 0 if number == -1 else number, kind, room, sentence))
    return dict(entry=entry, talk_file=talk_file, talk_to=talk_to, objects=objects,
                sentences_end=sent.p, bank_names=bank_names, objects_end=c.p, game_state=game_state)


def cut_voice_prefix(name, index):
    """Cutaway findCdCut: 'C6C.CUT', 1 -> 'C6C__01' (snprintf into 3 bytes keeps 2 digits)."""
    base = name.rsplit(".", 1)[0].upper()
    return base.ljust(5, "_") + ("%02d" % index)[:2]


# --- QUEEN.JAS / QUEEN2.JAS ----------------------------------------------------------------------

class Jas:
    """The parts of QUEEN.JAS (header skipped) and QUEEN2.JAS the importer needs.

    objects[i] = (name, x, y, description, entryObj, room, state, image) for i >= 1;
    room_data[r] = the last object before room r (objects of room r are room_data[r] + 1 ..
    room_data[r + 1]); actors = [(room, bobNum, name, gsSlot, gsValue)]; commands[i] = (verb,
    noun1, noun2); game_state_commands = [(command id, slot, value, speak description)];
    text[kind] = list of strings (index 0 = game number 1)."""

    TEXT_KINDS = ("description", "name", "room", "verb", "joe", "actor_anim", "actor_name",
                  "actor_file")

    def __init__(self, jas, text):
        c = _Cursor(jas)
        n_rooms, n_names, n_objects, n_desc = c.u16(), c.u16(), c.u16(), c.u16()
        self.objects = [None] + [c.s16s(8) for _ in range(n_objects)]
        self.room_data = [0] + [c.u16() for _ in range(n_rooms + 1)]
        self.room_data[n_rooms + 1] = n_objects
        c.s16s(n_rooms)  # room sfx
        c.s16s(5 * c.u16())  # items
        c.s16s(5 * c.u16())  # graphics
        for _ in range(n_rooms):  # Grid::readDataFrom: per room objMax, areaMax, areas
            c.s16()
            c.s16s(8 * c.s16())
        c.s16s(4 * n_objects)  # object boxes
        c.s16s(3 * c.u16())  # walk-off points
        c.s16s(4 * c.u16())  # object descriptions (selection state)

        def table(words):  # Command::readCommandsFrom: a count, then max(count, 1) records
            n = c.u16()
            rows = [c.s16s(words) for _ in range(max(n, 1))]
            return [None] + rows if n else [None]

        cmd = table(10)
        self.commands = [None] + [r[:3] for r in cmd[1:]]
        table(3)  # areas
        table(3)  # objects
        table(3)  # inventory
        self.game_state_commands = [tuple(r) for r in table(4)[1:]]
        c.u16()  # entry object
        c.s16s(2 * c.u16())  # furniture
        n_actors, n_aanim, n_aname, n_afile = c.u16(), c.u16(), c.u16(), c.u16()
        self.actors = [c.s16s(12)[:5] for _ in range(n_actors)]
        n_ganim = c.u16()
        c.s16s(3 * max(n_ganim, 1))
        self.version = jas[c.p:c.p + 5].decode("latin-1")
        counts = (n_desc, n_names, n_rooms, 12, JOE_RESPONSE_MAX, n_aanim, n_aname, n_afile)
        lines = text.split(b"\n")
        lines.pop()  # ScummVM's readLine loop drops what follows the last newline
        lines = [ln.rstrip(b"\r").decode("latin-1") for ln in lines]
        if len(lines) != sum(counts):
            raise ValueError("QUEEN2.JAS has %d lines, QUEEN.JAS counts %d"
                             % (len(lines), sum(counts)))
        self.text, k = {}, 0
        for kind, n in zip(self.TEXT_KINDS, counts):
            self.text[kind] = lines[k:k + n]
            k += n

    def string(self, kind, num):
        """Game string `num` (from 1) of a kind, or None when out of range."""
        t = self.text[kind]
        return t[num - 1] if 1 <= num <= len(t) else None

    def joe_speech(self, num):
        """The text Joe speaks with voice prefix JOE%04d % num (Logic::makeJoeSpeak)."""
        if num <= JOE_RESPONSE_MAX:
            return self.string("joe", num)
        return self.string("description", num - JOE_RESPONSE_MAX)

    def joe_speech_count(self):
        return JOE_RESPONSE_MAX + len(self.text["description"])

    def is_person(self, obj):
        return 1 <= obj < len(self.objects) and self.objects[obj][7] in PERSON_IMAGES

    def room_of(self, obj):
        for r in range(1, len(self.room_data) - 1):
            if self.room_data[r] < obj <= self.room_data[r + 1]:
                return r
        return 0

    def actor_names(self, obj, room=0):
        """Names of the actors that can be person object `obj` in `room` (default: the object's
        room): Logic::findActor matches the room and the person's bob number (its rank among the
        room's person objects); which one is used at run time depends on a game state."""
        room = room or self.room_of(obj)
        if not (1 <= room < len(self.room_data) - 1) or not self.is_person(obj):
            return []
        first = self.room_data[room] + 1
        bob = sum(1 for i in range(first, obj + 1) if self.is_person(i))
        if obj < first:
            return []
        return sorted({self.string("actor_name", a[2]) for a in self.actors
                       if a[0] == room and a[1] == bob})

    def talk_links(self):
        """[(dialogue file, object)] from the TALK_TO commands: a command's game-state entry
        whose speak value is a description naming a .DOG file starts that dialogue with the
        command's object (Command::executeIfDialog)."""
        out = set()
        for cid, _slot, _value, speak in self.game_state_commands:
            desc = self.string("description", speak) or ""
            if desc.upper().endswith(".DOG") and 1 <= cid < len(self.commands):
                verb, noun1, _ = self.commands[cid]
                if verb == VERB_TALK_TO and noun1 > 0:
                    out.add((desc.upper(), noun1))
        return sorted(out)
