#!/usr/bin/env python3
"""Writes a model directory's README.md and training-curve.svg from a `hark train` run.

Usage: scripts/model_card.py RUN_DIR[,RUN_DIR...] MODEL_DIR [EVAL.json ...]

RUN_DIR holds train.json and log.jsonl (what `hark train` writes); MODEL_DIR is where the model
was installed (models/default). Several runs, comma-separated, are stages of one model (each
fine-tunes the best weights of the one before, `hark train --init`): their epochs and steps are
numbered on from the stage before, steps of an epoch a stage did not finish are dropped, and the
merged log and the stages' jobs are written to MODEL_DIR/train-log.jsonl and MODEL_DIR/train.json. Each EVAL.json is a `hark eval --json` result; they are listed in
the accuracy table. An existing card's hand-written sections (from its first `## ` heading to
`## Architecture`: each stage's results and what was tried) are kept. Python 3 standard library only.
"""

import json
import os
import sys


def load_log(run):
    steps, epochs = [], []
    with open(os.path.join(run, "log.jsonl"), encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            r = json.loads(line)
            if "epoch" in r and isinstance(r["epoch"], dict):
                epochs.append(r["epoch"])
            elif "step" in r and "loss" in r:
                steps.append(r)
    # A resumed run may repeat epochs from before its last checkpoint: keep the last of each.
    by_epoch = {}
    for e in epochs:
        by_epoch[e["epoch"]] = e
    return steps, [by_epoch[k] for k in sorted(by_epoch)]


def load_stages(runs):
    """Logs of consecutive stages, renumbered as one run; returns (steps, epochs, records)."""
    all_steps, all_epochs, records = [], [], []
    epoch_off, step_off = 0, 0
    for i, run in enumerate(runs):
        steps, epochs = load_log(run)
        last = i == len(runs) - 1
        end = epochs[-1]["step"] if epochs else 0
        if not last:
            steps = [s for s in steps if s["step"] <= end]
        for s in steps:
            s = dict(s, step=s["step"] + step_off, epoch=s["epoch"] + epoch_off, stage=i + 1)
            all_steps.append(s)
            records.append(s)
        for e in epochs:
            e = dict(e, step=e["step"] + step_off, epoch=e["epoch"] + epoch_off, stage=i + 1)
            all_epochs.append(e)
            records.append({"epoch": e})
        epoch_off += len(epochs)
        step_off += end
    return all_steps, all_epochs, records


def smooth(values, k=50):
    out, acc = [], []
    for v in values:
        acc.append(v)
        if len(acc) > k:
            acc.pop(0)
        out.append(sum(acc) / len(acc))
    return out


def svg_curve(steps, epochs, path):
    """Two panels: training loss per step (smoothed) and validation CER per epoch."""
    w, h, pad = 720, 260, 46

    def panel(x0, title, xs, ys, xlabel, color, ymin=None, ymax=None):
        if not xs:
            return ""
        lo = min(ys) if ymin is None else ymin
        hi = max(ys) if ymax is None else ymax
        hi = hi if hi > lo else lo + 1
        xl, xh = min(xs), max(xs) if max(xs) > min(xs) else min(xs) + 1
        pw = w / 2 - pad - 10

        def px(x):
            return x0 + pad + (x - xl) / (xh - xl) * pw

        def py(y):
            return h - pad + (lo - y) / (hi - lo) * (h - 2 * pad) if hi > lo else h / 2

        pts = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in zip(xs, ys))
        out = [
            f'<text x="{x0 + pad}" y="20" font-size="13" font-family="sans-serif">{title}</text>',
            f'<rect x="{x0 + pad}" y="{pad}" width="{pw:.1f}" height="{h - 2 * pad}" fill="none" stroke="#999"/>',
            f'<polyline points="{pts}" fill="none" stroke="{color}" stroke-width="1.5"/>',
        ]
        for frac in (0, 0.5, 1):
            yv = lo + frac * (hi - lo)
            out.append(
                f'<text x="{x0 + pad - 4}" y="{py(yv) + 4:.1f}" font-size="10" text-anchor="end" '
                f'font-family="sans-serif">{yv:.3g}</text>'
            )
        for frac in (0, 0.5, 1):
            xv = xl + frac * (xh - xl)
            out.append(
                f'<text x="{px(xv):.1f}" y="{h - pad + 14}" font-size="10" text-anchor="middle" '
                f'font-family="sans-serif">{xv:.0f}</text>'
            )
        out.append(
            f'<text x="{x0 + pad + pw / 2:.1f}" y="{h - 8}" font-size="11" text-anchor="middle" '
            f'font-family="sans-serif">{xlabel}</text>'
        )
        return "\n".join(out)

    xs = [s["step"] for s in steps]
    ys = smooth([s["loss"] for s in steps])
    ex = [e["epoch"] + 1 for e in epochs]
    ey = [e["val_cer"] for e in epochs]
    body = panel(0, "training loss per frame (50-step mean)", xs, ys, "step", "#1f77b4")
    body += panel(w / 2, "validation CER % (training voices)", ex, ey, "epoch", "#d62728", ymin=0)
    with open(path, "w", encoding="utf-8") as f:
        f.write(
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
            f'viewBox="0 0 {w} {h}"><rect width="100%" height="100%" fill="white"/>\n{body}\n</svg>\n'
        )


def voice_group(voice):
    """The held-out group a corpus voice id belongs to (make_corpus.py ids)."""
    if voice.startswith("espeak:"):
        return "espeak accents"
    if voice.startswith("mbrola:") and voice.endswith("-en"):
        return "accented MBROLA"
    if voice.startswith("pico:"):
        return "pico"
    engine, _, name = voice.partition(":")
    return f"{engine} {name.replace('_diphone', '')}".strip()


def by_group(ev):
    """{group: (CER %, WER %, utterances)} of an eval whose data folder has make_corpus.py's
    manifest.jsonl (voice per utterance); {} otherwise. Errors are weighted by reference length,
    as `hark eval` weights its totals."""
    manifest = os.path.join(ev.get("data", ""), "manifest.jsonl")
    if not os.path.isfile(manifest):
        return {}
    voice = {}
    with open(manifest, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                r = json.loads(line)
                voice[r["name"] + ".wav"] = r["voice"]
    acc = {}
    for u in ev.get("per_utterance", []):
        v = voice.get(os.path.basename(u.get("id", "")))
        if v is None or u.get("error"):
            continue
        ref = u["reference"]
        a = acc.setdefault(voice_group(v), [0.0, 0, 0.0, 0, 0])
        a[0] += u["cer"] * len(ref)
        a[1] += len(ref)
        a[2] += u["wer"] * len(ref.split())
        a[3] += len(ref.split())
        a[4] += 1
    return {
        g: (100 * a[0] / max(a[1], 1), 100 * a[2] / max(a[3], 1), a[4]) for g, a in acc.items()
    }


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    runs, dest = sys.argv[1].split(","), sys.argv[2]
    evals = [json.load(open(p, encoding="utf-8")) for p in sys.argv[3:]]
    jobs = [json.load(open(os.path.join(r, "train.json"), encoding="utf-8")) for r in runs]
    job = jobs[0]
    model = json.load(open(os.path.join(dest, "model.json"), encoding="utf-8"))
    steps, epochs, records = load_stages(runs)
    if len(runs) > 1:
        with open(os.path.join(dest, "train-log.jsonl"), "w", encoding="utf-8") as f:
            for r in records:
                f.write(json.dumps(r) + "\n")
        with open(os.path.join(dest, "train.json"), "w", encoding="utf-8") as f:
            json.dump({"stages": jobs}, f, indent=2)
            f.write("\n")
    svg_curve(steps, epochs, os.path.join(dest, "training-curve.svg"))
    history = kept_history(os.path.join(dest, "README.md"))
    arch = model.get("arch", {})
    lines = [
        "# Hark default English model",
        "",
        "Made by `scripts/make_default_model.sh` (corpus recipe `scripts/make_corpus.py`, training with",
        "`hark train`, LM with `hark lm build` and `hark lm tune`). Files: `model.json` +",
        "`model.safetensors` (the weights with the best validation CER), `lm.arpa.gz` (word trigram LM, gzip-compressed,",
        "from the training sentences, vocabulary widened with the dictionary word list, mixed with the CMU Sphinx general English LM: `LICENSE-cmu-lm.txt`), `decoder.json` (the LM weight, word bonus and blank penalty tuned on a",
        "development set), `train.json` (the training job), `train-log.jsonl` (every step and epoch).",
        "",
        *history,
        "## Architecture",
        "",
        f"- {arch.get('layers')} bidirectional LSTM layers × {arch.get('hidden')} units per direction,",
        f"  {arch.get('stack_frames')} MFCC frames stacked and subsampled ({10 * arch.get('subsample', 1)} ms per output",
        f"  frame), dropout {arch.get('dropout')}, {arch.get('num_labels')} outputs (blank, space, a–z, apostrophe).",
        "- Input: 13 MFCC + Δ + ΔΔ (python_speech_features settings), global mean/variance normalization.",
        "",
        "## Training",
        "",
        f"- Data: `{job.get('data')}` (see the recipe); validation: "
        f"{job['options'].get('validation_percent')} % of it chosen by hash (a stage on other data"
        " validates on a share of that data, so its validation figures are not comparable to the"
        " stage before).",
        "- Options: " + ", ".join(f"{k} {v}" for k, v in job["options"].items() if k != "augment"),
        "- On-the-fly augmentation: " + ", ".join(f"{k} {v}" for k, v in job["options"]["augment"].items()),
    ]
    if len(jobs) > 1:
        lines.append(f"- {len(jobs)} stages, each fine-tuning the best weights of the stage before:")
        for i, j in enumerate(jobs):
            n = sum(1 for e in epochs if e["stage"] == i + 1)
            start = "new random weights" if "scratch" in j["start"] else "the previous stage's model"
            widen = j["start"].get("fine_tune", {}).get("widen_to")
            if widen:
                start += f" widened to {widen} units per direction (`--hidden {widen}`)"
            o = j["options"]
            lines.append(
                f"  {i + 1}. from {start}: {n} epoch(s) at learning rate {o['learning_rate']:g}"
                f" (warm-up {o['warmup_steps']} steps) on `{j.get('data')}`"
            )
    lines += [
        "",
        "![training curve](training-curve.svg)",
        "",
        "| epoch | train loss | val loss | val CER % | val WER % | lr | seconds |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for e in epochs:
        best = " (best)" if e.get("best") else ""
        lines.append(
            f"| {e['epoch'] + 1}{best} | {e['train_loss']:.4f} | {e['val_loss']:.2f} | {e['val_cer']:.2f} | "
            f"{e['val_wer']:.2f} | {e['learning_rate']:.1e} | {e['seconds']:.0f} |"
        )
    if evals:
        lines += [
            "",
            "## Accuracy on held-out voices and sentences (`hark eval`)",
            "",
            "| decoding | utterances | CER % | WER % | real-time factor | threads |",
            "| --- | ---: | ---: | ---: | ---: | ---: |",
        ]
        for ev in evals:
            how = "greedy, no LM" if not ev.get("lm") else f"beam {ev.get('beam')} + LM (weight {ev.get('lm_weight')}, bonus {ev.get('word_bonus')})"
            if ev.get("lm") and ev.get("blank_penalty"):
                how += f", blank penalty {ev['blank_penalty']}"
            how += warp_label(ev)
            lines.append(
                f"| {how} | {ev['utterances']} | {100 * ev['cer']:.2f} | {100 * ev['wer']:.2f} | "
                f"{ev['rtf']:.4f} | {ev.get('threads', '')} |"
            )
        groups = [(ev, by_group(ev)) for ev in evals]
        names = sorted({g for _, gs in groups for g in gs})
        if names:
            lines += [
                "",
                "By held-out voice group (CER % / WER %, utterances in brackets):",
                "",
                "| decoding | " + " | ".join(names) + " |",
                "| --- |" + " ---: |" * len(names),
            ]
            for ev, gs in groups:
                how = ("greedy" if not ev.get("lm") else "beam + LM") + warp_label(ev)
                cells = []
                for n in names:
                    c = gs.get(n)
                    cells.append(f"{c[0]:.1f} / {c[1]:.1f} ({c[2]})" if c else "")
                lines.append(f"| {how} | " + " | ".join(cells) + " |")
    with open(os.path.join(dest, "README.md"), "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")


def kept_history(readme):
    """The hand-written sections of an existing card: every line from its first `## ` heading up
    to the generated `## Architecture` section (the stages' results and what was tried, written
    when each stage shipped). They are kept, so regenerating the card does not lose them."""
    try:
        with open(readme, encoding="utf-8") as f:
            old = f.read().split("\n")
    except FileNotFoundError:
        return []
    start = next((i for i, line in enumerate(old) if line.startswith("## ")), None)
    if start is None or old[start] == "## Architecture":
        return []
    end = next((i for i in range(start, len(old)) if old[i] == "## Architecture"), len(old))
    return old[start:end]


def warp_label(ev):
    """", warp ensemble 0.9/1/1.1" for an eval that averaged warped passes, else ""."""
    warps = ev.get("warps") or []
    return ", warp ensemble " + "/".join(f"{w:g}" for w in warps) if len(warps) > 1 else ""


if __name__ == "__main__":
    main()
