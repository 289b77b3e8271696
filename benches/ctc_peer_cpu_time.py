#!/usr/bin/env python3
"""CPU time (not wall time) of the PyTorch CTC peer, for a shared, loaded machine.

Same tensors and call as /work/shared/peers/ctc_speed.py (`bench`): log_softmax(randn(300, 16, 29)),
targets of 40-60 labels, reduction='mean', ctc_loss + autograd.grad. Reports the median over
--repeats calls of time.process_time() (CPU seconds of all the process's threads).

Usage: /work/peers-venv/bin/python benches/ctc_peer_cpu_time.py [--threads 1,2] [--repeats 40]
"""
import argparse
import statistics
import time

import numpy as np
import torch
import torch.nn.functional as F

ap = argparse.ArgumentParser()
ap.add_argument("--threads", default="1,2")
ap.add_argument("--repeats", type=int, default=40)
ap.add_argument("--warmup", type=int, default=5)
a = ap.parse_args()

T, N, C = 300, 16, 29
g = torch.Generator().manual_seed(0)
lp = F.log_softmax(torch.randn(T, N, C, generator=g), -1).detach().requires_grad_(True)
rng = np.random.default_rng(0)
tl = torch.tensor(rng.integers(40, 61, size=N))
tgt = torch.tensor(rng.integers(1, C, size=(N, 60)))
il = torch.full((N,), T, dtype=torch.long)
print(f"torch: {torch.__version__}")
for nt in [int(s) for s in a.threads.split(",")]:
    torch.set_num_threads(nt)

    def fb():
        loss = F.ctc_loss(lp, tgt, il, tl, blank=0, reduction="mean")
        torch.autograd.grad(loss, lp)

    for _ in range(a.warmup):
        fb()
    cpu, wall = [], []
    for _ in range(a.repeats):
        c0, w0 = time.process_time(), time.perf_counter()
        fb()
        cpu.append(time.process_time() - c0)
        wall.append(time.perf_counter() - w0)
    print(f"ctc_fwd_bwd_t{nt}_cpu_median_ms: {statistics.median(cpu) * 1e3:.3f}")
    print(f"ctc_fwd_bwd_t{nt}_wall_median_ms: {statistics.median(wall) * 1e3:.3f}")
