#!/usr/bin/env python3
"""Training parity bench: Hark's trainer against the PyTorch reference, same recipe, same folder.

Trains the plain recipe of `../shared/peers/digits_torch.py` (MFCC + delta + delta-delta,
per-utterance mean/variance normalization, 3 x 256 BiLSTM, stack 3, Adam 1e-3, clip 5, batch 16,
no augmentation, no dropout, no warm-up) in both trainers for each seed, then prints the curves
(epoch -> validation CER) side by side and a summary: epochs to CER <= 20 % and <= 10 %, and the
best CER. With `--defaults` it also runs `hark train TRAIN --val VAL` with no recipe flags at all
(Hark's own defaults) and adds that row.

Usage (from the repository root, after `cargo build --release`):
    python3 benches/parity.py --data /work/data/digits [--seeds 1,2,3] [--epochs 30]
        [--torch-python .peers-venv/bin/python] [--out /tmp/parity] [--defaults]
        [--only hark|torch] [--markdown]

DATA holds `train/` and `val/` (../shared/tools/make_digits.sh makes one). The runs go to OUT
(kept; a finished run is read again instead of re-run, so an interrupted bench continues).
Both trainers use --threads threads (2 by default). Speed is not what this compares: epochs are.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
THRESHOLDS = (20.0, 10.0)

# The reference's plain recipe, spelled in Hark's flags.
HARK_RECIPE = [
    "--layers", "3", "--hidden", "256", "--stack", "3", "--lr", "1e-3", "--batch", "16",
    "--dropout", "0", "--warmup", "0", "--no-augment", "--normalization", "utterance",
    "--patience", "1000", "--plateau-patience", "1000",
]


def hark_curve(run_dir):
    """Epoch -> validation CER from a Hark run's log.jsonl (the last record of each epoch)."""
    curve = {}
    path = os.path.join(run_dir, "log.jsonl")
    if not os.path.exists(path):
        return curve
    with open(path, encoding="utf-8") as f:
        for line in f:
            rec = json.loads(line)
            ep = rec.get("epoch")
            if isinstance(ep, dict) and ep.get("val_cer") is not None:
                curve[ep["epoch"] + 1] = ep["val_cer"]
    return curve


def torch_curve(log_path):
    curve = {}
    if not os.path.exists(log_path):
        return curve
    with open(log_path, encoding="utf-8") as f:
        for line in f:
            rec = json.loads(line)
            if rec.get("kind") == "epoch":
                curve[rec["epoch"]] = rec["cer"]
    return curve


def run_hark(args, seed, defaults):
    name = f"hark-defaults-s{seed}" if defaults else f"hark-s{seed}"
    run_dir = os.path.join(args.out, name)
    if len(hark_curve(run_dir)) >= args.epochs:
        return hark_curve(run_dir)
    cmd = [args.hark, "train", os.path.join(args.data, "train"), "--val",
           os.path.join(args.data, "val"), "--out", run_dir, "--epochs", str(args.epochs),
           "--seed", str(seed), "--force"]
    if os.path.exists(os.path.join(run_dir, "checkpoint.safetensors")):
        cmd = [c for c in cmd if c != "--force"] + ["--resume"]
    if not defaults:
        cmd += HARK_RECIPE
    print("+", " ".join(cmd), file=sys.stderr, flush=True)
    env = dict(os.environ, RAYON_NUM_THREADS=str(args.threads))
    subprocess.run(cmd, check=True, env=env, stdout=sys.stderr)
    return hark_curve(run_dir)


def run_torch(args, seed):
    log = os.path.join(args.out, f"torch-s{seed}.jsonl")
    if len(torch_curve(log)) >= args.epochs:
        return torch_curve(log)
    if os.path.exists(log):
        os.remove(log)
    cmd = [args.torch_python, args.reference, "--train", os.path.join(args.data, "train"),
           "--val", os.path.join(args.data, "val"), "--layers", "3", "--hidden", "256",
           "--stack", "3", "--lr", "1e-3", "--batch", "16", "--epochs", str(args.epochs),
           "--max-minutes", "1000", "--threads", str(args.threads), "--seed", str(seed),
           "--log", log]
    print("+", " ".join(cmd), file=sys.stderr, flush=True)
    subprocess.run(cmd, check=True, stdout=sys.stderr)
    return torch_curve(log)


def first_epoch_at(curve, threshold):
    for ep in sorted(curve):
        if curve[ep] <= threshold:
            return ep
    return None


def summary(curve):
    return {
        "to20": first_epoch_at(curve, 20.0),
        "to10": first_epoch_at(curve, 10.0),
        "best": min(curve.values()) if curve else None,
        "best_epoch": min(curve, key=curve.get) if curve else None,
    }


def fmt(v, spec="{:.2f}"):
    return "—" if v is None else spec.format(v)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--seeds", default="1,2,3")
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--out", default="/tmp/hark-parity")
    ap.add_argument("--hark", default=os.path.join(ROOT, "target", "release", "hark"))
    ap.add_argument("--torch-python", default=os.path.join(ROOT, ".peers-venv", "bin", "python"))
    ap.add_argument("--reference",
                    default=os.path.join(ROOT, "..", "shared", "peers", "digits_torch.py"))
    ap.add_argument("--defaults", action="store_true", help="also run hark train with no flags")
    ap.add_argument("--only", choices=["hark", "torch"])
    ap.add_argument("--threads", type=int, default=2,
                    help="threads of each trainer (1 lets a --only hark and a --only torch bench "
                         "run side by side on 2 cores)")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    seeds = [int(s) for s in a.seeds.split(",")]

    rows = []  # (label, seed, curve)
    for s in seeds:
        if a.only != "torch":
            rows.append(("Hark, reference recipe", s, run_hark(a, s, False)))
        if a.only != "hark":
            rows.append(("PyTorch reference", s, run_torch(a, s)))
        if a.defaults and a.only != "torch":
            rows.append(("Hark, `hark train` defaults", s, run_hark(a, s, True)))

    # Curves side by side.
    print("\n## Validation CER (%) by epoch\n")
    print("| epoch | " + " | ".join(f"{lbl} s{s}" for lbl, s, _ in rows) + " |")
    print("| ---: |" + " ---: |" * len(rows))
    for ep in range(1, a.epochs + 1):
        print(f"| {ep} | " + " | ".join(fmt(c.get(ep)) for _, _, c in rows) + " |")

    # Summary per trainer: per seed and the median over seeds.
    print("\n## Summary\n")
    print("| trainer | seed | epochs to CER ≤ 20 % | epochs to CER ≤ 10 % | best CER (epoch) |")
    print("| --- | ---: | ---: | ---: | ---: |")
    by_label = {}
    for lbl, s, c in rows:
        m = summary(c)
        by_label.setdefault(lbl, []).append(m)
        print(f"| {lbl} | {s} | {fmt(m['to20'], '{}')} | {fmt(m['to10'], '{}')} | "
              f"{fmt(m['best'])} ({fmt(m['best_epoch'], '{}')}) |")
    for lbl, ms in by_label.items():
        def med(key):
            vals = [m[key] for m in ms]
            # A seed that never reached a threshold counts as later than every epoch run.
            vals = [a.epochs + 1 if v is None else v for v in vals]
            return statistics.median(vals)
        to20, to10 = med("to20"), med("to10")
        print(f"| {lbl} | median | {fmt(to20 if to20 <= a.epochs else None, '{:g}')} | "
              f"{fmt(to10 if to10 <= a.epochs else None, '{:g}')} | {med('best'):.2f} |")


if __name__ == "__main__":
    main()
