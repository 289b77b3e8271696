"""Shared parts of the importers: fetching Debian packages, writing 16 kHz WAVs with sox, the
speaker split, the manifest and the dataset report."""

import atexit
import collections
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import wave
from concurrent.futures import ThreadPoolExecutor

DEFAULT_CACHE = os.environ.get("HARK_PKG_CACHE", "/work/data/pkgcache")
SPLITS = ("train", "dev", "test")


def log(*a):
    print(*a, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# fetch

def _enable_contrib():
    path = "/etc/apt/sources.list.d/debian.sources"
    if os.path.exists(path):
        with open(path) as f:
            src = f.read()
        new = re.sub(r"(?m)^Components: main$", "Components: main contrib non-free", src)
        if new != src:
            with open(path, "w") as f:
                f.write(new)
            return True
    return False


def fetch(pkg, cache=DEFAULT_CACHE):
    """Downloads PKG's .deb into CACHE (apt-get download, no install) and unpacks it with dpkg -x
    into CACHE/x/PKG; returns that folder. Runs apt-get update (and enables contrib/non-free)
    when the first download fails."""
    os.makedirs(cache, exist_ok=True)
    root = os.path.join(cache, "x", pkg)
    stamp = os.path.join(root, ".unpacked")
    if os.path.exists(stamp):
        return root
    debs = [f for f in os.listdir(cache) if f.startswith(pkg + "_") and f.endswith(".deb")]
    if not debs:
        cmd = ["apt-get", "download", pkg]
        if subprocess.run(cmd, cwd=cache).returncode != 0:
            _enable_contrib()
            subprocess.run(["apt-get", "update"], check=True)
            subprocess.run(cmd, cwd=cache, check=True)
        debs = [f for f in os.listdir(cache) if f.startswith(pkg + "_") and f.endswith(".deb")]
    if not debs:
        raise RuntimeError("apt-get download %s left no .deb in %s" % (pkg, cache))
    deb = sorted(debs)[-1]
    os.makedirs(root, exist_ok=True)
    subprocess.run(["dpkg", "-x", os.path.join(cache, deb), root], check=True)
    with open(stamp, "w") as f:
        f.write(deb + "\n")
    return root


# ---------------------------------------------------------------------------------------------
# audio

def sox_to_16k(src, dst):
    """Any sox-readable file -> 16 kHz mono 16-bit PCM WAV (high-quality resampler)."""
    subprocess.run(["sox", "-V1", src, "-r", "16000", "-c", "1", "-b", "16", "-e", "signed-integer",
                    dst, "rate", "-v"], check=True)


def write_u8_wav(path, pcm, rate):
    """Unsigned 8-bit mono PCM -> a WAV file (8-bit WAV data is unsigned, so no conversion)."""
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(1)
        w.setframerate(rate)
        w.writeframes(pcm)


def wav_seconds(path):
    with wave.open(path, "rb") as w:
        return w.getnframes() / float(w.getframerate())


def safe_name(s):
    s = re.sub(r"[^A-Za-z0-9_.-]+", "_", s).strip("._")
    return s or "unknown"


# ---------------------------------------------------------------------------------------------
# speaker split

def split_speakers(lines_per_speaker, seed, keep_train=(), dev=0.1, test=0.1, top_in_train=2):
    """{speaker: split}: whole speakers go to train, dev or test.

    Deterministic: the speakers with the most lines (top_in_train of them, and any in keep_train)
    stay in train; the rest are ordered by sha256(seed + name) and dealt into test until it holds
    about `test` of all lines, then into dev until about `dev`, the remainder into train. A speaker
    never lands in a split that would overshoot its share by more than half of it, so one big
    speaker cannot swallow a split."""
    total = sum(lines_per_speaker.values())
    by_size = sorted(lines_per_speaker, key=lambda s: (-lines_per_speaker[s], s))
    fixed = set(by_size[:top_in_train]) | set(keep_train)
    out = {s: "train" for s in fixed if s in lines_per_speaker}
    rest = sorted((s for s in lines_per_speaker if s not in fixed),
                  key=lambda s: hashlib.sha256((seed + "\0" + s).encode()).hexdigest())
    want = {"test": test * total, "dev": dev * total}
    have = {"test": 0, "dev": 0}
    for s in rest:
        n = lines_per_speaker[s]
        for split in ("test", "dev"):
            if have[split] < want[split] and have[split] + n <= want[split] * 1.5:
                out[s] = split
                have[split] += n
                break
        else:
            out[s] = "train"
    return out


# ---------------------------------------------------------------------------------------------
# writing a dataset

class Dataset:
    """Collects utterances of one source and writes OUT/SPLIT/SOURCE/SPEAKER/NAME.{wav,txt} plus
    OUT/SOURCE.tsv (file, speaker, split, seconds, text) and the report."""

    def __init__(self, source, out):
        self.source = source
        self.out = out
        self.items = []  # dicts: name, speaker, text, make(dst) -> None, raw
        self.skipped = []  # (reason, example)

    def skip(self, reason, example):
        self.skipped.append((reason, example))

    def add(self, name, speaker, text, make, raw=""):
        self.items.append(dict(name=name, speaker=speaker, text=text, make=make, raw=raw))

    def write(self, splits, jobs=2):
        """splits: {speaker: split}. Converts audio in `jobs` threads; returns the manifest rows."""
        for split in SPLITS:
            d = os.path.join(self.out, split, self.source)
            if os.path.isdir(d):
                shutil.rmtree(d)
        rows = []

        def one(it):
            split = splits[it["speaker"]]
            folder = os.path.join(self.out, split, self.source, safe_name(it["speaker"]))
            os.makedirs(folder, exist_ok=True)
            wav = os.path.join(folder, safe_name(it["name"]) + ".wav")
            try:
                it["make"](wav)
                secs = wav_seconds(wav)
            except Exception as e:  # a broken clip is reported, not fatal
                if os.path.exists(wav):
                    os.remove(wav)
                return None, "audio could not be decoded (%s)" % str(e).splitlines()[0][:80]
            with open(wav[:-4] + ".txt", "w") as f:
                f.write(it["text"] + "\n")
            return (os.path.relpath(wav, self.out), it["speaker"], split, secs, it["text"]), None

        with ThreadPoolExecutor(max_workers=jobs) as pool:
            for it, (row, err) in zip(self.items, pool.map(one, self.items)):
                if row:
                    rows.append(row)
                else:
                    self.skip(err, it["name"])
        rows.sort()
        with open(os.path.join(self.out, self.source + ".tsv"), "w") as f:
            f.write("file\tspeaker\tsplit\tseconds\ttext\n")
            for r in rows:
                f.write("%s\t%s\t%s\t%.3f\t%s\n" % r)
        return rows

    def report(self, rows, extra=""):
        lines = ["", "== %s dataset report (%s)" % (self.source, self.out)]
        tot_u = len(rows)
        tot_h = sum(r[3] for r in rows) / 3600
        lines.append("total: %d utterances, %.2f hours, %d speakers"
                     % (tot_u, tot_h, len({r[1] for r in rows})))
        for split in SPLITS:
            rs = [r for r in rows if r[2] == split]
            spk = collections.Counter(r[1] for r in rs)
            names = ", ".join("%s (%d)" % kv for kv in sorted(spk.items(), key=lambda kv: -kv[1])[:12])
            more = "" if len(spk) <= 12 else ", ... %d more" % (len(spk) - 12)
            lines.append("  %-5s %5d utterances %6.2f h %3d speakers: %s%s"
                         % (split, len(rs), sum(r[3] for r in rs) / 3600, len(spk), names, more))
        by = collections.defaultdict(list)
        for reason, ex in self.skipped:
            by[reason].append(ex)
        lines.append("skipped: %d" % len(self.skipped))
        for reason, exs in sorted(by.items(), key=lambda kv: -len(kv[1])):
            shown = "; ".join(repr(e)[:70] for e in exs[:3])
            lines.append("  %5d  %s  e.g. %s" % (len(exs), reason, shown))
        if extra:
            lines.append(extra)
        text = "\n".join(lines)
        print(text, flush=True)
        return text


def tmpdir():
    """A scratch folder, removed when the process exits."""
    d = tempfile.mkdtemp(prefix="hark-realdata-")
    atexit.register(shutil.rmtree, d, True)
    return d
