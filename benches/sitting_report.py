#!/usr/bin/env python3
"""Tables from one benches/sitting.sh run (default /tmp/hark-sitting): medians, ratios, loads.

Peer runs come in pairs (`_a` before Hark, `_b` after); each table shows both and takes the
ratio against the faster of the two (the conservative choice for Hark) and against their mean.
Usage: python3 benches/sitting_report.py [DIR]
"""
import os
import re
import statistics
import sys

D = sys.argv[1] if len(sys.argv) > 1 else "/tmp/hark-sitting"


def kv(tag):
    out = {}
    path = os.path.join(D, f"{tag}.log")
    if not os.path.exists(path):
        return out
    for line in open(path):
        m = re.match(r"^([A-Za-z0-9_]+): (.*)$", line.strip())
        if m:
            out[m.group(1)] = m.group(2)
    return out


def medians(tag):
    out = {}
    path = os.path.join(D, f"{tag}.medians")
    if not os.path.exists(path):
        return out
    for line in open(path):
        name, ns = line.split()
        out[name.removeprefix("target/criterion/")] = float(ns) * 1e-9
    return out


def loads():
    rows = {}
    for line in open(os.path.join(D, "load.txt")):
        parts = line.split()
        if parts[1] == "end":
            continue
        rows.setdefault(parts[2], {})[parts[1]] = (parts[0], " ".join(parts[3:]))
    return rows


def peer_pair(area, nt, key, scale=1.0):
    vals = []
    for run in "ab":
        v = kv(f"{area}_peer_t{nt}_{run}").get(key)
        vals.append(float(v) * scale if v is not None else None)
    return vals


def fmt_s(x):
    if x is None:
        return "–"
    if x >= 1:
        return f"{x:.3f} s"
    if x >= 1e-3:
        return f"{x * 1e3:.1f} ms"
    return f"{x * 1e6:.1f} µs"


def best(vals):
    v = [x for x in vals if x is not None]
    return min(v) if v else None


def mean(vals):
    v = [x for x in vals if x is not None]
    return statistics.mean(v) if v else None


def ratio(a, b):
    return f"{a / b:.2f}×" if a and b else "–"


def mfcc():
    print("### MFCC + Δ + ΔΔ, 600 s of audio\n")
    print("| threads | method | median (run a / run b) | × real time | Hark speed-up (vs faster run / vs mean) |")
    print("| ---: | --- | --- | ---: | ---: |")
    compact = []
    for nt in (1, 2):
        hm = medians(f"mfcc_hark_t{nt}")
        hark = hm.get(f"mfcc39_600s/offline_t{nt}")
        if hark is None:
            continue
        print(f"| {nt} | **Hark** `features::compute` | **{fmt_s(hark)}** | **{600 / hark:,.0f}×** | |")
        if nt == 1 and "mfcc39_600s/online_320_sample_chunks_t1" in hm:
            on = hm["mfcc39_600s/online_320_sample_chunks_t1"]
            print(f"| 1 | Hark `OnlineFeatures` (320-sample chunks) | {fmt_s(on)} | {600 / on:,.0f}× | |")
        fastest = None
        for m, label in [("librosa", "librosa"), ("ta", "torchaudio transforms.MFCC"),
                         ("kaldi", "torchaudio compliance.kaldi"), ("psf", "python_speech_features")]:
            pr = peer_pair("mfcc", nt, f"{m}_t{nt}_median_s")
            b, mn = best(pr), mean(pr)
            if b is None:
                continue
            if fastest is None or b < fastest[1]:
                fastest = (label, b, mn)
            print(f"| {nt} | {label} | {fmt_s(pr[0])} / {fmt_s(pr[1])} | {600 / b:,.0f}× | "
                  f"{ratio(b, hark)} / {ratio(mn, hark)} |")
        compact.append((nt, hark, fastest))
    print()
    return compact


def ctc():
    print("### CTC loss + gradient, T = 300, B = 16, V = 29\n")
    print("| threads | PyTorch run a / run b | Hark (wall) | Hark (CPU time, all pool threads) | PyTorch / Hark (vs faster run / vs mean) |")
    print("| ---: | --- | ---: | ---: | ---: |")
    compact = []
    for nt in (1, 2):
        hm = medians(f"ctc_hark_t{nt}")
        hark = hm.get(f"ctc_loss_fwd_bwd_T300_B16_V29/threads_{nt}")
        cpu = hm.get(f"ctc_loss_fwd_bwd_T300_B16_V29_cpu_time/threads_{nt}")
        pr = peer_pair("ctc", nt, f"ctc_fwd_bwd_t{nt}_median_ms", 1e-3)
        print(f"| {nt} | {fmt_s(pr[0])} / {fmt_s(pr[1])} | {fmt_s(hark)} | {fmt_s(cpu)} | "
              f"{ratio(best(pr), hark)} / {ratio(mean(pr), hark)} |")
        compact.append((nt, hark, best(pr), mean(pr)))
    print()
    return compact


def lstm():
    print("### 3-layer BiLSTM H = 256: train step (B = 16, T = 300, CTC + Adam) and 10 s inference\n")
    print("| threads | case | PyTorch run a / run b | Hark | PyTorch / Hark (vs faster run / vs mean) |")
    print("| ---: | --- | --- | ---: | ---: |")
    compact = []
    for nt in (1, 2):
        hm = medians(f"lstm_hark_t{nt}")
        for case, hk, pk in [("train step", "train_step_ctc_adam_b16_t300", "train_step_median_s"),
                             ("inference 10 s", "infer_t1000_b1", "infer_T1000_median_s")]:
            hark = hm.get(f"lstm_3x256_{nt}thread/{hk}")
            pr = peer_pair("lstm", nt, f"L3_H256_t{nt}_{pk}")
            print(f"| {nt} | {case} | {fmt_s(pr[0])} / {fmt_s(pr[1])} | {fmt_s(hark)} | "
                  f"{ratio(best(pr), hark)} / {ratio(mean(pr), hark)} |")
            compact.append((nt, case, hark, best(pr), mean(pr)))
    print()
    return compact


def main():
    m = mfcc()
    c = ctc()
    l = lstm()
    print("### Load average (1/5/15 min) before and after each run\n")
    print("| run | before | after |")
    print("| --- | --- | --- |")
    for tag, v in loads().items():
        b = v.get("before", ("", ""))
        a = v.get("after", ("", ""))
        print(f"| {tag} | {b[0]} {b[1]} | {a[0]} {a[1]} |")
    print("\n### Compact\n")
    print("| workload | threads | Hark | fastest peer | peer / Hark |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for nt, hark, fastest in m:
        if hark is None or fastest is None:
            continue
        label, b, mn = fastest
        print(f"| MFCC+Δ+ΔΔ, 600 s audio (× real time) | {nt} | {600 / hark:,.0f}× | "
              f"{600 / b:,.0f}× ({label}) | {ratio(b, hark)} |")
    for nt, hark, b, mn in c:
        print(f"| CTC loss+grad T300 B16 V29 | {nt} | {fmt_s(hark)} | {fmt_s(b)} (PyTorch) | {ratio(b, hark)} |")
    for nt, case, hark, b, mn in l:
        print(f"| BiLSTM 3×256 {case} | {nt} | {fmt_s(hark)} | {fmt_s(b)} (PyTorch) | {ratio(b, hark)} |")


if __name__ == "__main__":
    main()
