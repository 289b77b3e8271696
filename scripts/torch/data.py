"""Data for the PyTorch trainer: Hark computes the features, this module batches them.

`hark torch prep DATA --config C --out CACHE [--val V]` reads any labeled layout Hark reads
(x.wav + x.txt folders, LibriSpeech, DeepSpeech CSV, Common Voice TSV, LJSpeech), normalizes
transcripts with the model's alphabet, computes features with the model's front end and
normalization (global statistics computed there when the config has none) and writes
CACHE/{train,val}.npy (all frames, memory-mapped here) + CACHE/{train,val}.jsonl (index) +
CACHE/config.json. Features are therefore Hark's own, bit for bit.
"""
import json
import os
import shutil
import subprocess

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))


def find_hark(explicit=None):
    for c in (explicit, os.environ.get("HARK_BIN"),
              os.path.join(HERE, "..", "..", "target", "release", "hark"), shutil.which("hark")):
        if c and os.path.isfile(c) and os.access(c, os.X_OK):
            return os.path.abspath(c)
    raise SystemExit("cannot find the hark binary: build it (cargo build --release), put it on PATH, "
                     "or pass --hark / set HARK_BIN")


def prepare(hark, data, val, validation_percent, config_path, cache):
    """Runs `hark torch prep` unless CACHE already holds a cache made for the same request."""
    with open(config_path, encoding="utf-8") as f:
        cfg = json.load(f)
    request = dict(data=os.path.abspath(data), val=os.path.abspath(val) if val else None,
                   validation_percent=None if val else validation_percent,
                   features=cfg["features"], cmvn=cfg.get("cmvn"), alphabet=cfg["alphabet"])
    req_path = os.path.join(cache, "request.json")
    if os.path.exists(os.path.join(cache, "config.json")) and os.path.exists(req_path):
        with open(req_path, encoding="utf-8") as f:
            if json.load(f) == request:
                return False
    os.makedirs(cache, exist_ok=True)
    for name in ("config.json", "request.json"):
        if os.path.exists(os.path.join(cache, name)):
            os.unlink(os.path.join(cache, name))
    cmd = [hark, "torch", "prep", data, "--config", config_path, "--out", cache]
    cmd += ["--val", val] if val else ["--validation-percent", str(validation_percent)]
    subprocess.run(cmd, check=True)
    with open(req_path, "w", encoding="utf-8") as f:
        json.dump(request, f)
    return True


class Split:
    """One split of a cache: memory-mapped frames + the index."""

    def __init__(self, cache, name):
        self.feats = np.load(os.path.join(cache, f"{name}.npy"), mmap_mode="r")
        with open(os.path.join(cache, f"{name}.jsonl"), encoding="utf-8") as f:
            self.items = [json.loads(line) for line in f if line.strip()]

    def __len__(self):
        return len(self.items)

    def features(self, i):
        it = self.items[i]
        return torch.from_numpy(np.array(self.feats[it["offset"]:it["offset"] + it["frames"]]))

    def hours(self):
        return sum(it["duration_s"] for it in self.items) / 3600.0


def batch_plan(durations, max_batch_size, max_batch_frames, frames_per_second):
    """Hark's BatchPlan::new: ascending duration (ties by index); a batch closes when one more
    utterance would exceed max_batch_size or max_batch_frames padded frames."""
    order = sorted(range(len(durations)), key=lambda i: (durations[i], i))
    frames = lambda i: max(1, int(np.ceil(durations[i] * frames_per_second)))
    batches, cur = [], []
    for i in order:
        if cur and (len(cur) + 1 > max_batch_size or (len(cur) + 1) * frames(i) > max_batch_frames):
            batches.append(cur)
            cur = []
        cur.append(i)
    if cur:
        batches.append(cur)
    return batches


class DistributedBatchSampler:
    """torch.utils.data.DistributedSampler's contract over Hark's batches: every rank draws the
    same seeded permutation of the global batches for the epoch (set_epoch), and takes its strided
    share (indices rank, rank + world, ...) of each. All ranks take the same number of steps; a
    rank whose share of a small batch is empty yields []. The global batch, and so the update, is
    the same for any number of processes."""

    def __init__(self, batches, num_replicas=1, rank=0, seed=0, shuffle=True):
        self.batches, self.num_replicas, self.rank = batches, num_replicas, rank
        self.seed, self.shuffle, self.epoch = seed, shuffle, 0

    def set_epoch(self, epoch):
        self.epoch = epoch

    def global_order(self):
        if not self.shuffle:
            return list(range(len(self.batches)))
        return np.random.default_rng([self.seed, self.epoch]).permutation(len(self.batches)).tolist()

    def __len__(self):
        return len(self.batches)

    def __iter__(self):
        for b in self.global_order():
            yield self.batches[b][self.rank::self.num_replicas]


def required_frames(labels):
    return len(labels) + sum(1 for a, b in zip(labels, labels[1:]) if a == b)


def collate(split, indices):
    """-> x (T, B, D) zero-padded, lengths (B), targets (sum L), target_lengths (B), labels list."""
    feats = [split.features(i) for i in indices]
    lengths = torch.tensor([f.shape[0] for f in feats], dtype=torch.long)
    x = torch.nn.utils.rnn.pad_sequence(feats)
    labels = [split.items[i]["labels"] for i in indices]
    targets = torch.tensor([c for lab in labels for c in lab], dtype=torch.long)
    tlen = torch.tensor([len(lab) for lab in labels], dtype=torch.long)
    return x, lengths, targets, tlen, labels
