"""Equivalence checks between Hark (Rust) and scripts/torch (PyTorch). Run by ../check.sh.

1. features: the cache `hark torch prep` writes == the features Hark's recognizer computes
2. log-probabilities: Hark vs PyTorch, same weights, each utterance alone and in a padded batch
3. CTC loss and every parameter gradient: Hark (`hark torch grads`) vs PyTorch autograd
4. DDP: 2-process and 1-process runs (gloo) agree on the first step's gradient and update
5. a resumed 2-process run ends with the same weights as an uninterrupted one
6. the 2-process run's exported model gives the same log-probabilities and transcript in Hark
   (`hark torch logprobs`, `hark transcribe`) as in PyTorch

Every check prints its measured numbers and fails (exit 1) beyond its tolerance.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file

HERE = os.path.dirname(os.path.abspath(__file__))
TORCH_DIR = os.path.dirname(HERE)
sys.path.insert(0, TORCH_DIR)
import data as hdata  # noqa: E402
import model as hmodel  # noqa: E402

torch.set_num_threads(1)
FAILED = []


def check(name, value, tol):
    ok = value <= tol
    print(f"  {'ok  ' if ok else 'FAIL'} {name}: {value:.3g} (tolerance {tol:g})", flush=True)
    if not ok:
        FAILED.append(name)


def run(cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        print(r.stdout[-4000:], r.stderr[-4000:])
        raise SystemExit(f"command failed ({r.returncode}): {' '.join(cmd)}")
    return r


def tiny_config(cmvn):
    feats = dict(sample_rate_hz=16000, input_scale=32768.0, frame_length_ms=25.0,
                 frame_shift_ms=10.0, fft_size=512, preemphasis=0.97, window="rectangular",
                 num_filters=26, low_freq_hz=0.0, high_freq_hz=8000.0, num_ceps=13, lifter=22.0,
                 append_energy=True, delta_window=2, delta_order=2, normalization="global")
    # stack 3 / subsample 2: overlapping stacked frames, an odd T' and a zero-filled tail.
    arch = dict(input_dim=39, hidden=12, layers=2, stack_frames=3, subsample=2, num_labels=29,
                dropout=0.0, forget_bias=1.0, seed=5)
    return dict(name="tiny check model", arch=arch, features=feats, cmvn=cmvn,
                alphabet=dict(chars=list(" abcdefghijklmnopqrstuvwxyz'")), training={})


def make_subset(src, dst, n):
    os.makedirs(dst, exist_ok=True)
    names = sorted(f[:-4] for f in os.listdir(src) if f.endswith(".wav"))[:n]
    for nm in names:
        for ext in (".wav", ".txt"):
            os.symlink(os.path.join(src, nm + ext), os.path.join(dst, nm + ext))
    return [os.path.join(dst, nm + ".wav") for nm in names]


def main():
    hark = hdata.find_hark(os.environ.get("HARK_BIN"))
    data_root = os.environ.get("HARK_CHECK_DATA", "/work/data/digits")
    tmp = tempfile.mkdtemp(prefix="hark-torch-check-")
    print(f"hark: {hark}\ntorch {torch.__version__}, data {data_root}, work dir {tmp}")
    wavs = make_subset(os.path.join(data_root, "val"), os.path.join(tmp, "val"), 8)
    train_wavs = make_subset(os.path.join(data_root, "train"), os.path.join(tmp, "train"), 48)
    texts = {w: open(w[:-4] + ".txt", encoding="utf-8").read().strip() for w in wavs + train_wavs}

    # A tiny model with random weights, global CMVN from one file's raw Hark features.
    raw = os.path.join(tmp, "raw.npy")
    run([hark, "features", wavs[0], "--out", raw])
    r = np.load(raw)
    cmvn = dict(mean=r.mean(0).tolist(), std=np.maximum(r.std(0), 1e-3).tolist())
    cfg = tiny_config(cmvn)
    net = hmodel.HarkAcoustic(cfg["arch"])
    net.hark_init(seed=7)
    with torch.no_grad():
        net.proj.weight.mul_(8.0)  # outputs that move with the input, so the checks can fail
    mdir = os.path.join(tmp, "tiny")
    hmodel.save_model(mdir, cfg, net)
    _, net = hmodel.load_model(mdir)  # and back: what Hark reads is what PyTorch runs
    net.eval()

    print("1. features: `hark torch prep` cache vs Hark's recognizer features")
    cache = os.path.join(tmp, "cache")
    run([hark, "torch", "prep", os.path.join(tmp, "val"), "--config", mdir, "--val",
         os.path.join(tmp, "val"), "--out", cache])
    split = hdata.Split(cache, "val")
    feats, hark_lp = [], []
    worst_feat = 0.0
    for i, w in enumerate(wavs):
        lp, ft = os.path.join(tmp, f"lp{i}.npy"), os.path.join(tmp, f"f{i}.npy")
        run([hark, "torch", "logprobs", w, "--model", mdir, "--out", lp, "--features-out", ft])
        feats.append(torch.from_numpy(np.load(ft)))
        hark_lp.append(torch.from_numpy(np.load(lp)))
        j = next(k for k, it in enumerate(split.items) if os.path.realpath(it["audio"]) == os.path.realpath(w)
                 or it["audio"] == w)
        worst_feat = max(worst_feat, float((split.features(j) - feats[-1]).abs().max()))
    check("max |prep cache - recognizer features|", worst_feat, 0.0)

    print("2. log-probabilities, Hark vs PyTorch (same weights)")
    alone = 0.0
    with torch.no_grad():
        for f, h in zip(feats, hark_lp):
            logits, n = net(f.unsqueeze(1), torch.tensor([f.shape[0]]))
            lp = F.log_softmax(logits, -1)[:, 0]
            assert lp.shape == h.shape, (lp.shape, h.shape)
            alone = max(alone, float((lp - h).abs().max()))
        x = torch.nn.utils.rnn.pad_sequence(feats)
        lengths = torch.tensor([f.shape[0] for f in feats])
        logits, n = net(x, lengths)
        lpb = F.log_softmax(logits, -1)
        batched = max(float((lpb[:int(n[b]), b] - hark_lp[b]).abs().max()) for b in range(len(feats)))
    print(f"     frames {[f.shape[0] for f in feats]} -> {[h.shape[0] for h in hark_lp]}; "
          f"log-prob range {float(torch.cat(hark_lp).min()):.2f}..0")
    check("max |log p torch - log p hark|, each alone", alone, 1e-4)
    check("max |log p torch (padded batch of 8) - log p hark|", batched, 1e-4)

    print("3. CTC loss and gradients (Reduction::Mean), padded batch of 4")
    pick = [0, 1, 2, 3]
    gpath = os.path.join(tmp, "grads.safetensors")
    cmd = [hark, "torch", "grads", "--model", mdir, "--out", gpath]
    for i in pick:
        cmd += ["--features", os.path.join(tmp, f"f{i}.npy"), "--text", texts[wavs[i]]]
    run(cmd)
    hg = load_file(gpath)
    from safetensors import safe_open
    with safe_open(gpath, "pt") as fh:
        meta = fh.metadata()
    net.zero_grad()
    fs = [feats[i] for i in pick]
    x = torch.nn.utils.rnn.pad_sequence(fs)
    lengths = torch.tensor([f.shape[0] for f in fs])
    labels = [[cfg["alphabet"]["chars"].index(c) + 1 for c in texts[wavs[i]]] for i in pick]
    logits, n = net(x, lengths)
    nll = F.ctc_loss(F.log_softmax(logits, -1), torch.tensor(sum(labels, [])), n,
                     torch.tensor([len(lab) for lab in labels]), blank=0, reduction="none",
                     zero_infinity=True)
    loss = (nll / torch.tensor([len(lab) for lab in labels])).mean()
    loss.backward()
    hl = float(meta["loss"])
    print(f"     loss hark {hl:.6f} torch {float(loss.detach()):.6f}; per utterance hark "
          f"{[round(v, 4) for v in json.loads(meta['losses'])]} torch {[round(float(v), 4) for v in nll.detach()]}")
    check("|loss torch - loss hark| / loss", abs(float(loss.detach()) - hl) / abs(hl), 1e-5)
    valid_logits = max(float((logits.detach()[:int(n[b]), b] - hg["logits"][:int(n[b]), b]).abs().max())
                       for b in range(len(pick)))
    check("max |logits torch - logits hark| (valid frames)", valid_logits, 1e-4)
    worst, worst_name, scale = 0.0, "", 0.0
    for name, p in net.named_parameters():
        g_h = hg[f"grad.{name}"]
        rel = float((p.grad - g_h).abs().max()) / max(float(g_h.abs().max()), 1e-12)
        scale = max(scale, float(g_h.abs().max()))
        if rel > worst:
            worst, worst_name = rel, name
    print(f"     {len(list(net.parameters()))} gradient tensors, largest |grad| {scale:.3g}; worst: {worst_name}")
    check("max over tensors of max|g torch - g hark| / max|g hark|", worst, 1e-4)

    print("4. DDP (gloo, CPU): 1 process vs 2 processes, first step")
    base = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    common = [os.path.join(TORCH_DIR, "train.py"), os.path.join(tmp, "train"), "--val",
              os.path.join(tmp, "val"), "--hark", hark, "--hidden", "16", "--layers", "2",
              "--stack", "3", "--dropout", "0", "--batch", "8", "--warmup", "2", "--lr", "3e-3",
              "--seed", "3", "--cpu", "--log-every", "1"]
    runs = {}
    for nproc, tag, steps in ((1, "p1", 1), (2, "p2", 6)):
        out = os.path.join(tmp, f"run_{tag}")
        r = run(base + ["--nproc_per_node", str(nproc)] + common +
                ["--out", out, "--max-steps", str(steps), "--dump-first-update", out + ".first.safetensors"])
        runs[tag] = (out, r.stdout)
    u1 = load_file(runs["p1"][0] + ".first.safetensors")
    u2 = load_file(runs["p2"][0] + ".first.safetensors")
    gmax = max(float(v.abs().max()) for k, v in u1.items() if k.startswith("grad."))
    gdiff = max(float((u1[k] - u2[k]).abs().max()) for k in u1 if k.startswith("grad."))
    udiff = max(float((u1[k] - u2[k]).abs().max()) for k in u1 if k.startswith("update."))
    umax = max(float(v.abs().max()) for k, v in u1.items() if k.startswith("update."))
    print(f"     largest |grad| {gmax:.3g}, largest |update| {umax:.3g} (lr at step 1 = 1.5e-3)")
    check("max |grad 1 proc - grad 2 procs| / max |grad|", gdiff / gmax, 1e-5)
    check("max |update 1 proc - update 2 procs| / max |update|", udiff / umax, 1e-3)

    print("5. resume: 2 processes, 3 steps + resume to 6 == 6 steps straight")
    out_r = os.path.join(tmp, "run_resume")
    run(base + ["--nproc_per_node", "2"] + common + ["--out", out_r, "--max-steps", "3"])
    run(base + ["--nproc_per_node", "2"] + common + ["--out", out_r, "--max-steps", "6", "--resume"])
    a = load_file(os.path.join(runs["p2"][0], "model.safetensors"))
    b = load_file(os.path.join(out_r, "model.safetensors"))
    check("max |weights straight - weights resumed|", max(float((a[k] - b[k]).abs().max()) for k in a), 1e-6)

    print("6. the 2-process run's model in Hark")
    out2 = runs["p2"][0]
    print("     log excerpt (rank 0):")
    for line in runs["p2"][1].splitlines()[:4]:
        print("       " + line[:200])
    cfg2, net2 = hmodel.load_model(out2)
    net2.eval()
    print(f"     training record: {json.dumps({k: cfg2['training'][k] for k in ('steps', 'val_cer', 'trainer')})}")
    worst = 0.0
    same_text = 0
    for i, w in enumerate(wavs[:4]):
        lp, ft = os.path.join(tmp, f"e{i}.npy"), os.path.join(tmp, f"ef{i}.npy")
        run([hark, "torch", "logprobs", w, "--model", out2, "--out", lp, "--features-out", ft])
        f = torch.from_numpy(np.load(ft))
        with torch.no_grad():
            logits, n = net2(f.unsqueeze(1), torch.tensor([f.shape[0]]))
            tl = F.log_softmax(logits, -1)[:, 0]
        worst = max(worst, float((tl - torch.from_numpy(np.load(lp))).abs().max()))
        txt = run([hark, "transcribe", w, "--model", out2, "--beam", "1"]).stdout.strip()
        py = hmodel.greedy_text(tl, tl.shape[0], cfg2["alphabet"]["chars"])
        # `hark transcribe` prints one line per segment (it cuts at pauses): compare the
        # characters, spaces aside.
        same_text += "".join(txt.split()) == "".join(py.split())
        if i == 0:
            print(f"     {os.path.basename(w)}: hark transcribe -> {txt!r}, PyTorch greedy -> {py!r}")
    check("max |log p torch - log p hark| on the exported model", worst, 1e-4)
    check("transcripts differing between hark transcribe and PyTorch greedy, spaces aside (of 4)", 4 - same_text, 0)

    if FAILED:
        print(f"FAILED: {len(FAILED)} check(s): {FAILED}\n(work dir kept: {tmp})")
        sys.exit(1)
    shutil.rmtree(tmp)
    print("all checks passed")


if __name__ == "__main__":
    main()
