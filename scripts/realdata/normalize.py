"""Transcript normalization to Hark's alphabet: lowercase a-z, apostrophe, single spaces.

`normalize(text)` returns (normalized, None) or (None, reason) when the line can't be normalized
with confidence (the importers drop such lines and report the reason).
"""

import re

ONES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
        "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen",
        "eighteen", "nineteen"]
TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
ORD_IRREGULAR = {"one": "first", "two": "second", "three": "third", "five": "fifth",
                 "eight": "eighth", "nine": "ninth", "twelve": "twelfth"}


def number_words(n):
    """Cardinal words for 0 <= n < 10**12 ("one hundred twenty three")."""
    if n < 0:
        raise ValueError(n)
    if n < 20:
        return ONES[n]
    if n < 100:
        return TENS[n // 10] + ("" if n % 10 == 0 else " " + ONES[n % 10])
    if n < 1000:
        rest = n % 100
        return ONES[n // 100] + " hundred" + ("" if rest == 0 else " " + number_words(rest))
    for size, name in ((10 ** 9, "billion"), (10 ** 6, "million"), (1000, "thousand")):
        if n >= size:
            if n // size >= 1000:
                raise ValueError("number too large: %d" % n)
            rest = n % size
            return number_words(n // size) + " " + name + ("" if rest == 0 else " " + number_words(rest))
    raise ValueError(n)


def year_words(n):
    """How a year is read: 1990 -> nineteen ninety, 1905 -> nineteen oh five, 1900 -> nineteen
    hundred, 2005 -> two thousand five."""
    if 2000 <= n <= 2009 or n % 1000 == 0:
        return number_words(n)
    hi, lo = divmod(n, 100)
    if lo == 0:
        return number_words(hi) + " hundred"
    if lo < 10:
        return number_words(hi) + " oh " + ONES[lo]
    return number_words(hi) + " " + number_words(lo)


def ordinal_words(n):
    words = number_words(n).split()
    last = words[-1]
    if last in ORD_IRREGULAR:
        last = ORD_IRREGULAR[last]
    elif last.endswith("y"):
        last = last[:-1] + "ieth"
    else:
        last += "th"
    return " ".join(words[:-1] + [last])


def digits_words(s):
    return " ".join(ONES[int(c)] for c in s)


def integer_words(s):
    """Words for a run of digits as it would be read in running text."""
    if len(s) > 1 and s[0] == "0":
        return digits_words(s)  # 007, 0800: read digit by digit
    n = int(s)
    if len(s) == 4 and 1100 <= n <= 1999:
        return year_words(n)
    if len(s) > 12:
        raise ValueError("number too long")
    return number_words(n)


SYMBOLS = {"&": " and ", "%": " percent ", "+": " plus ", "=": " equals ", "@": " at "}
CURRENCY = {"$": ("dollar", "dollars"), "£": ("pound", "pounds")}
# Abbreviations that are only ever read one way (with or without a full stop).
ABBREV = {"mr": "mister", "mrs": "missus", "dr": "doctor", "vs": "versus", "etc": "et cetera"}
BRACKETED = re.compile(r"[\[\(\{<][^\]\)\}>]*[\]\)\}>]")
ALLOWED_PUNCT = set(".,!?;:\"'-`()")


def _expand_numbers(t):
    # currency: $5, £1,000, $3.50
    def money(m):
        sym, num = m.group(1), m.group(2).replace(",", "")
        one, many = CURRENCY[sym]
        if "." in num:
            whole, cents = num.split(".")
            w = integer_words(whole) if whole else "zero"
            unit = one if whole == "1" else many
            sub = "cent" if sym == "$" else "penny"
            subs = "cents" if sym == "$" else "pence"
            c = int(cents)
            return " %s %s %s %s " % (w, unit, number_words(c), sub if c == 1 else subs)
        return " %s %s " % (integer_words(num), one if num == "1" else many)
    t = re.sub(r"([$£])(\d[\d,]*(?:\.\d\d)?)\b", money, t)
    # ordinals: 1st 2nd 3rd 4th 21st
    t = re.sub(r"\b(\d+)(st|nd|rd|th)\b", lambda m: " " + ordinal_words(int(m.group(1))) + " ", t,
               flags=re.I)
    # times 10:30 -> ten thirty, 9:05 -> nine oh five, 9:00 -> nine o'clock
    def clock(m):
        h, mi = int(m.group(1)), int(m.group(2))
        if mi == 0:
            return " %s o'clock " % number_words(h)
        if mi < 10:
            return " %s oh %s " % (number_words(h), ONES[mi])
        return " %s %s " % (number_words(h), number_words(mi))
    t = re.sub(r"\b(\d{1,2}):(\d\d)\b", clock, t)
    # thousands separators 1,000,000
    t = re.sub(r"\b\d{1,3}(?:,\d{3})+\b", lambda m: m.group(0).replace(",", ""), t)
    # decimals 3.5 -> three point five
    t = re.sub(r"\b(\d+)\.(\d+)\b",
               lambda m: " %s point %s " % (integer_words(m.group(1)), digits_words(m.group(2))), t)
    # 1990s -> nineteen nineties
    def plural(m):
        w = integer_words(m.group(1)).split()
        last = w[-1]
        w[-1] = last[:-1] + "ies" if last.endswith("y") else last + "s"
        return " " + " ".join(w) + " "
    t = re.sub(r"\b(\d+)'?s\b", plural, t)
    t = re.sub(r"\d+", lambda m: " " + integer_words(m.group(0)) + " ", t)
    return t


def _expand_abbrev(t):
    # St: street after a capitalized word ("Baker St."), saint before one ("St. Paul"); any
    # other St is a guess, so the line is dropped.
    t = re.sub(r"\b([A-Z][a-z]+) St\b\.?", r"\1 street", t)
    t = re.sub(r"\b(St|ST)\b\.?(?=\s+[A-Z])", "saint", t)
    if re.search(r"\b[Ss][Tt]\b", t):
        raise ValueError("ambiguous abbreviation 'st'")
    return re.sub(r"\b(Mr|Mrs|Dr|MR|MRS|DR|vs|etc)\b\.?",
                  lambda m: " " + ABBREV[m.group(1).lower()] + " ", t)


def normalize(text, symbols=None):
    """(normalized text, None) or (None, reason)."""
    raw = text
    t = text.strip()
    if not t:
        return None, "empty"
    if BRACKETED.fullmatch(t) or (t[0] in "[(<{" and t[-1] in "])>}"):
        return None, "stage direction in brackets"
    if BRACKETED.search(t):
        return None, "stage direction in brackets"
    t = t.replace("\u2019", "'").replace("\u2018", "'").replace("\u201c", '"').replace("\u201d", '"')
    t = t.replace("\u2026", "...").replace("\u2013", "-").replace("\u2014", "-")
    if not re.search(r"[A-Za-z0-9]", t):
        return None, "no words (punctuation only)"
    extra = dict(SYMBOLS)
    if symbols:
        extra.update(symbols)
    try:
        t = _expand_abbrev(t)
        t = _expand_numbers(t)
    except ValueError as e:
        return None, str(e)
    for k, v in extra.items():
        t = t.replace(k, v)
    t = t.lower()
    bad = sorted({c for c in t if not (("a" <= c <= "z") or c in " '" or c in ALLOWED_PUNCT)})
    if bad:
        return None, "unknown characters " + "".join(bad)
    t = re.sub(r"[-`]", " ", t)
    t = re.sub(r"[.,!?;:\"()]", " ", t)
    # apostrophes: keep inside words (don't, o'clock), drop quote marks around words
    t = re.sub(r"(?<![a-z])'|'(?![a-z])", " ", t)
    t = re.sub(r"\s+", " ", t).strip()
    if not t:
        return None, "no words (punctuation only)"
    if raw and not re.search(r"[a-z]", t):
        return None, "no words"
    return t, None
