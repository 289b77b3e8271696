#!/usr/bin/env python3
"""Fault injection for training: `kill -9` a `hark train` at random moments, again and again.

A small espeak-ng digits corpus is made; one run trains straight through (the reference), a
second is started, killed with SIGKILL after a random 0.3-8 s, and resumed with --resume, over and
over (checkpoints every 0.3 s, so several fall between kills) until it finishes. After every kill:
- every model left in the run folder (model.json, last.json) loads and transcribes a probe file;
- every JSON file in it parses, and every line of log.jsonl but a cut-off last one;
- no file in the folder is a half-written one under a real name (the loads above), and the
  partial files (.hark-partial-*) a kill mid-write leaves are counted; the next run clears them.
At the end the killed-and-resumed run's weights are compared with the straight run's: resume
must continue exactly where the last checkpoint was.

  benches/kill9_train.py --hark target/release/hark --kills 30 --out /tmp/kill9
"""

import argparse
import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import time


def sh(*cmd, **kw):
    return subprocess.run(cmd, check=True, **kw)


def corpus(d, n, seed):
    rng = random.Random(seed)
    words = "zero one two three four five six seven eight nine".split()
    os.makedirs(d, exist_ok=True)
    for i in range(n):
        text = " ".join(rng.choice(words) for _ in range(rng.randint(1, 3)))
        voice = rng.choice(["en-us", "en", "en-gb-scotland"])
        raw = os.path.join(d, f"u{i:03d}.raw.wav")
        sh("espeak-ng", "-v", voice, "-s", str(rng.randint(140, 190)), "-w", raw, text)
        sh("sox", raw, "-r", "16000", "-c", "1", "-b", "16", os.path.join(d, f"u{i:03d}.wav"))
        os.remove(raw)
        with open(os.path.join(d, f"u{i:03d}.txt"), "w") as f:
            f.write(text + "\n")


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def check_folder(hark, run, probe):
    """Problems found in the run folder after a kill (empty = none)."""
    problems = []
    names = os.listdir(run)
    for stem in ("model", "last"):
        if f"{stem}.json" in names or f"{stem}.safetensors" in names:
            r = subprocess.run([hark, "transcribe", "--model", os.path.join(run, f"{stem}.json"),
                                "--no-lm", probe], capture_output=True, text=True)
            if r.returncode != 0:
                problems.append(f"{stem}: does not load: {r.stderr.strip()[-300:]}")
    for n in names:
        if n.endswith(".json"):
            try:
                json.load(open(os.path.join(run, n)))
            except (ValueError, OSError) as e:
                problems.append(f"{n}: not JSON: {e}")
    cut = 0
    if "log.jsonl" in names:
        lines = open(os.path.join(run, "log.jsonl"), "rb").read().split(b"\n")
        for k, line in enumerate(lines):
            if not line.strip():
                continue
            try:
                json.loads(line)
            except ValueError:
                if k == len(lines) - 1:
                    cut += 1  # the line being written when killed
                else:
                    problems.append(f"log.jsonl line {k + 1} is not JSON")
    temps = [n for n in names if n.startswith(".")]
    return problems, cut, temps


def train_cmd(hark, data, run, epochs, resume):
    cmd = [hark, "train", data, "--out", run, "--epochs", str(epochs), "--hidden", "192",
           "--layers", "3", "--patience", "1000", "--checkpoint-minutes", "0.005", "--val-percent", "10",
           "--no-augment", "--seed", "3"]
    return cmd + (["--resume"] if resume else [])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hark", default="target/release/hark")
    ap.add_argument("--kills", type=int, default=30)
    ap.add_argument("--epochs", type=int, default=150)
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    hark = os.path.abspath(args.hark)
    os.makedirs(args.out, exist_ok=True)
    data = os.path.join(args.out, "data")
    if not os.path.isdir(data):
        corpus(data, 80, 7)
    probe = os.path.join(data, "u000.wav")
    env = dict(os.environ, RAYON_NUM_THREADS="1")

    straight = os.path.join(args.out, "straight")
    if not os.path.exists(os.path.join(straight, "model.safetensors")):
        t = time.monotonic()
        sh(*train_cmd(hark, data, straight, args.epochs, False) + ["--force"], env=env,
           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        print(f"straight run: {time.monotonic() - t:.0f} s", flush=True)

    run = os.path.join(args.out, "killed")
    subprocess.run(["rm", "-rf", run])
    rng = random.Random(args.seed)
    kills = resumes = cut_lines = 0
    problems, temps_seen, refused = [], 0, []
    finished = False
    while not finished:
        resume = os.path.exists(os.path.join(run, "checkpoint.safetensors"))
        cmd = train_cmd(hark, data, run, args.epochs, resume)
        if not resume and os.path.isdir(run):
            cmd.append("--force")  # killed before its first checkpoint: nothing to resume
        p = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        resumes += resume
        delay = rng.uniform(0.3, 8.0) if kills < args.kills else None
        try:
            p.wait(timeout=delay)
            err = p.stderr.read().decode(errors="replace")
            if p.returncode != 0:
                refused.append(f"exit {p.returncode} (resume={resume}): {err.strip()[-400:]}")
                break
            finished = True
        except subprocess.TimeoutExpired:
            p.send_signal(signal.SIGKILL)
            p.wait()
            kills += 1
        found, cut, temps = check_folder(hark, run, probe)
        cut_lines += cut
        temps_seen += len(temps)
        problems.extend(f"after kill {kills}: {x}" for x in found)
        print(f"kill {kills}: resumed={resume} problems={len(found)} cut_log_lines={cut} temps={temps}",
              flush=True)

    leftover = sorted(n for n in os.listdir(run) if n.startswith("."))
    same = None
    if finished:
        same = sha(os.path.join(run, "model.safetensors")) == sha(os.path.join(straight, "model.safetensors"))
    summary = {
        "kills": kills,
        "resumes": resumes,
        "problems": problems,
        "cut_log_lines": cut_lines,
        "partial_files_seen_after_kills": temps_seen,
        "partial_files_left_at_the_end": leftover,
        "refused": refused,
        "finished": finished,
        "final_weights_equal_straight_run": same,
    }
    print(json.dumps(summary, indent=1))
    with open(os.path.join(args.out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)
    return 0 if finished and not problems and same else 1


if __name__ == "__main__":
    sys.exit(main())
