"""Peer timing for benches/optim.rs: torch.optim.AdamW step and clip_grad_norm_ on the same sizes.
Run: taskset -c 0 /work/peers-venv/bin/python benches/optim_peer.py"""
import statistics
import time

import torch

torch.set_num_threads(1)
SIZES = [320 * 80 * 4, 320 * 320 * 4, 320 * 4, 320 * 640 * 4, 320 * 320 * 4, 320 * 4]
params = [torch.nn.Parameter(torch.sin(torch.arange(n, dtype=torch.float32) * 0.37)) for n in SIZES]
for p, n in zip(params, SIZES):
    p.grad = torch.cos(torch.arange(n, dtype=torch.float32) * 0.11) * 1e-2


def median_ms(fn, reps=30):
    for _ in range(5):
        fn()
    ts = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        ts.append((time.perf_counter() - t) * 1e3)
    return statistics.median(ts)


print("params", sum(SIZES), "torch", torch.__version__, "threads", torch.get_num_threads())
for foreach in (False, True):
    opt = torch.optim.AdamW(params, lr=1e-3, weight_decay=0.01, foreach=foreach)
    print(f"AdamW step foreach={foreach}: {median_ms(opt.step):.3f} ms")
print(f"clip_grad_norm_: {median_ms(lambda: torch.nn.utils.clip_grad_norm_(params, 1e9)):.3f} ms")
