#!/usr/bin/env python3
"""Soak: `hark listen` on looped speech through the virtual microphone for a long time.

Plays a loop of spoken sentences (espeak-ng, 1.5 s of silence between them) into
scripts/vmic.sh's microphone again and again, while `hark listen` transcribes it, and records:
- resident memory (VmRSS) and CPU time of the hark process every 10 s;
- per-utterance latency: wall time a final line was printed minus the wall time its utterance's
  audio ended (the loop's play start plus the utterance's end offset; the sound server's own
  buffering is included, so it is an upper bound);
- each final's text, scored against the sentence it belongs to (WER), and lines that belong to
  no sentence (phantoms).

Writes DIR/rss.csv, DIR/latency.csv, DIR/summary.md (10-minute buckets: RSS, latency median and
90th percentile, WER) and DIR/soak.svg (RSS and latency over time).

  benches/soak_listen.py --hark target/release/hark --minutes 60 --out /tmp/soak
"""

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import wave

SENTENCES = [
    "the quick brown fox jumps over the lazy dog",
    "please call stella and ask her to bring these things",
    "open the door and turn on the light",
    "one two three four five six seven eight nine",
    "she sells sea shells by the sea shore",
    "what time is it in london right now",
    "go forward ten meters and then turn left",
    "the weather today is cold and windy",
]
GAP_S = 1.5


def sh(*cmd, **kw):
    return subprocess.run(cmd, check=True, **kw)


def wav_seconds(path):
    with wave.open(path) as w:
        return w.getnframes() / w.getframerate()


def build_loop(tmp):
    """One WAV of every sentence with GAP_S silence after each; (path, [(end_s, text)])."""
    parts, ends, t = [], [], 0.0
    for i, text in enumerate(SENTENCES):
        raw = os.path.join(tmp, f"s{i}.wav")
        sh("espeak-ng", "-v", "en-us", "-s", "150", "-w", raw, text)
        part = os.path.join(tmp, f"p{i}.wav")
        sh("sox", raw, "-r", "16000", "-c", "1", "-b", "16", part, "pad", "0", str(GAP_S))
        d = wav_seconds(part)
        ends.append((t + d - GAP_S, text))
        t += d
        parts.append(part)
    loop = os.path.join(tmp, "loop.wav")
    sh("sox", *parts, loop)
    return loop, ends


def wer(ref, hyp):
    r, h = ref.split(), hyp.split()
    d = list(range(len(h) + 1))
    for i in range(1, len(r) + 1):
        prev, d[0] = d[0], i
        for j in range(1, len(h) + 1):
            cur = min(d[j] + 1, d[j - 1] + 1, prev + (r[i - 1] != h[j - 1]))
            prev, d[j] = d[j], cur
    return d[len(h)], len(r)


def proc_stats(pid):
    rss = None
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) / 1024.0
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return rss, cpu


def pct(v, q):
    v = sorted(v)
    return v[min(len(v) - 1, int(q * len(v)))] if v else float("nan")


def svg(path, rss, lat, minutes):
    """Two stacked line plots: RSS (MiB) and latency (s) against minutes."""
    W, H, P = 760, 220, 50

    def panel(y0, pts, label, color):
        if not pts:
            return ""
        xs = [p[0] for p in pts]
        ys = [p[1] for p in pts]
        lo, hi = 0.0, max(ys) * 1.15 or 1.0
        X = lambda x: P + (W - 2 * P) * x / max(minutes, 1e-9)
        Y = lambda y: y0 + H - P + -(H - 2 * P) * (y - lo) / (hi - lo)
        out = [f'<rect x="{P}" y="{y0 + P}" width="{W - 2 * P}" height="{H - 2 * P}" fill="none" stroke="#888"/>']
        for k in range(5):
            v = lo + (hi - lo) * k / 4
            out.append(f'<text x="{P - 6}" y="{Y(v) + 4:.1f}" font-size="11" text-anchor="end">{v:.3g}</text>')
        for k in range(0, int(minutes) + 1, max(1, int(minutes) // 6 or 1)):
            out.append(f'<text x="{X(k):.1f}" y="{y0 + H - P + 16}" font-size="11" text-anchor="middle">{k}</text>')
        line = " ".join(f"{X(x):.1f},{Y(y):.1f}" for x, y in zip(xs, ys))
        out.append(f'<polyline points="{line}" fill="none" stroke="{color}" stroke-width="1.5"/>')
        out.append(f'<text x="{W / 2}" y="{y0 + P - 8}" font-size="13" text-anchor="middle">{label}</text>')
        return "\n".join(out)

    body = panel(0, rss, "hark listen resident memory (MiB) vs minutes", "#1f77b4")
    body += panel(H, lat, "per-utterance latency (s, end of speech to final line) vs minutes", "#d62728")
    with open(path, "w") as f:
        f.write(f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{2 * H}" font-family="sans-serif">\n'
                f'<rect width="100%" height="100%" fill="white"/>\n{body}\n</svg>\n')


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hark", default="target/release/hark")
    ap.add_argument("--minutes", type=float, default=60.0)
    ap.add_argument("--out", required=True)
    ap.add_argument("--vmic-dir", default="/tmp/hark-vmic-soak")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    vmic = os.path.join(repo, "scripts", "vmic.sh")
    env = dict(os.environ, VMIC_DIR=args.vmic_dir)
    started = subprocess.run([vmic, "start"], env=env, check=True, capture_output=True, text=True)
    env["PULSE_SERVER"] = re.search(r"PULSE_SERVER=(\S+)", started.stdout).group(1)
    tmp = tempfile.mkdtemp(prefix="hark-soak-")
    loop, ends = build_loop(tmp)
    loop_s = wav_seconds(loop)
    print(f"soak: loop of {len(ends)} sentences, {loop_s:.1f} s; {args.minutes} min", flush=True)

    hark = subprocess.Popen([args.hark, "listen"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, bufsize=1)
    finals = []  # (wall, text)

    def read():
        for line in hark.stdout:
            m = re.match(r"\[[\d:.]+\] (.*)", line.strip())
            if m:
                finals.append((time.monotonic(), m.group(1)))

    threading.Thread(target=read, daemon=True).start()
    err_lines = []
    threading.Thread(target=lambda: err_lines.extend(hark.stderr), daemon=True).start()
    time.sleep(3.0)  # model load and capture start

    t_start = time.monotonic()
    utts = []  # (wall end of speech, text)
    rss_rows = []
    stop = threading.Event()

    def sample():
        while not stop.is_set() and hark.poll() is None:
            try:
                rss, cpu = proc_stats(hark.pid)
            except OSError:
                break
            rss_rows.append(((time.monotonic() - t_start) / 60.0, rss, cpu))
            stop.wait(10.0)

    threading.Thread(target=sample, daemon=True).start()
    while time.monotonic() - t_start < args.minutes * 60.0 and hark.poll() is None:
        t0 = time.monotonic()
        subprocess.run(["paplay", "-d", "vmic_sink", loop], env=env, check=True)
        utts.extend((t0 + e, text) for e, text in ends)
    time.sleep(4.0)
    stop.set()
    hark.terminate()
    try:
        hark.wait(timeout=20)
    except subprocess.TimeoutExpired:
        hark.kill()
    subprocess.run([vmic, "stop"], env=env, capture_output=True)

    # Each final belongs to the latest utterance that ended before it was printed (within 10 s).
    lat_rows, phantoms, claimed = [], [], {}
    for wall, text in finals:
        before = [i for i, (end, _) in enumerate(utts) if end <= wall + 0.05]
        if not before or wall - utts[before[-1]][0] > 10.0:
            phantoms.append(text)
            continue
        i = before[-1]
        claimed.setdefault(i, []).append(text)
        lat_rows.append(((utts[i][0] - t_start) / 60.0, wall - utts[i][0], i))
    errs = words = 0
    buckets = {}
    for i, (end, ref) in enumerate(utts):
        e, n = wer(ref, " ".join(claimed.get(i, [])))
        errs += e
        words += n
        b = int((end - t_start) / 600.0)
        buckets.setdefault(b, {"e": 0, "n": 0, "lat": [], "rss": []})
        buckets[b]["e"] += e
        buckets[b]["n"] += n
    for m, lat, _ in lat_rows:
        buckets.setdefault(int(m / 10), {"e": 0, "n": 0, "lat": [], "rss": []})["lat"].append(lat)
    for m, rss, _ in rss_rows:
        buckets.setdefault(int(m / 10), {"e": 0, "n": 0, "lat": [], "rss": []})["rss"].append(rss)

    with open(os.path.join(args.out, "rss.csv"), "w") as f:
        f.write("minute,rss_mib,cpu_s\n")
        f.writelines(f"{m:.2f},{r:.1f},{c:.1f}\n" for m, r, c in rss_rows)
    with open(os.path.join(args.out, "latency.csv"), "w") as f:
        f.write("minute,latency_s,utterance\n")
        f.writelines(f"{m:.2f},{l:.3f},{i}\n" for m, l, i in lat_rows)
    lats = [l for _, l, _ in lat_rows]
    lines = [
        f"# hark listen soak: {args.minutes:g} min, {len(utts)} utterances played, {len(finals)} final lines",
        "",
        f"- loop: {len(ends)} espeak-ng en-us sentences, {loop_s:.1f} s, {GAP_S} s gaps; virtual microphone (scripts/vmic.sh)",
        f"- resident memory: first {rss_rows[0][1]:.1f} MiB, last {rss_rows[-1][1]:.1f} MiB, max {max(r for _, r, _ in rss_rows):.1f} MiB" if rss_rows else "- no memory samples",
        f"- CPU: {rss_rows[-1][2]:.0f} s over {rss_rows[-1][0]:.1f} min = {rss_rows[-1][2] / max(rss_rows[-1][0] * 60, 1):.3f} of a core" if rss_rows else "",
        f"- latency (end of speech to final line): median {statistics.median(lats):.3f} s, 90th percentile {pct(lats, 0.9):.3f} s, max {max(lats):.3f} s" if lats else "- no finals",
        f"- WER over all utterances: {100.0 * errs / max(words, 1):.1f} % ({errs}/{words}); utterances with no final: {sum(1 for i in range(len(utts)) if i not in claimed)}",
        f"- phantom lines (no utterance within 10 s before): {len(phantoms)} {phantoms[:5]}",
        f"- exit: {hark.returncode}; stderr: {''.join(err_lines)[-400:]!r}",
        "",
        "| minutes | RSS MiB (min-max) | latency median s | latency p90 s | WER % |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for b in sorted(buckets):
        d = buckets[b]
        rs = d["rss"]
        lines.append(
            f"| {b * 10}-{b * 10 + 10} | {min(rs):.1f}-{max(rs):.1f} | "
            f"{statistics.median(d['lat']) if d['lat'] else float('nan'):.3f} | {pct(d['lat'], 0.9):.3f} | "
            f"{100.0 * d['e'] / max(d['n'], 1):.1f} |" if rs else f"| {b * 10}-{b * 10 + 10} | - | - | - | - |"
        )
    summary = "\n".join(lines) + "\n"
    with open(os.path.join(args.out, "summary.md"), "w") as f:
        f.write(summary)
    svg(os.path.join(args.out, "soak.svg"), [(m, r) for m, r, _ in rss_rows],
        [(m, l) for m, l, _ in lat_rows], args.minutes)
    print(summary)
    return 0 if hark.returncode in (0, -15, 130, 143) else 1


if __name__ == "__main__":
    sys.exit(main())
