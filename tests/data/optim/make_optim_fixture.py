"""Reference trajectories of torch.optim.Adam / AdamW and ReduceLROnPlateau for tests/optim.rs.

Run from the repository root:
    /work/peers-venv/bin/python tests/data/optim/make_optim_fixture.py
Writes tests/data/optim/torch_optim.json. Parameters and gradients are float32; the gradients are
scripted (fixed arrays per step, not computed), so the fixture checks the update rule alone.
"""
import json
import os

import torch

torch.manual_seed(0)
STEPS = 6
p0 = {
    "w": torch.tensor([[0.5, -1.25, 2.0], [0.0, 3.0e-3, -7.5]], dtype=torch.float32),
    "b": torch.tensor([0.25, -0.125], dtype=torch.float32),
}
# Gradients per step: random but fixed, with a wide range of magnitudes (tiny ones exercise eps).
grads = [
    {k: (torch.randn_like(v) * (10.0 ** (s % 3 - 2))).float() for k, v in p0.items()}
    for s in range(STEPS)
]


def run(kind, **kw):
    params = {k: torch.nn.Parameter(v.clone()) for k, v in p0.items()}
    if kind == "adamw":
        groups = [
            {"params": [params["w"]], "weight_decay": kw["weight_decay"]},
            {"params": [params["b"]], "weight_decay": 0.0},  # biases opted out by name
        ]
        opt = torch.optim.AdamW(groups, lr=kw["lr"], betas=kw["betas"], eps=kw["eps"], foreach=False)
    else:
        opt = torch.optim.Adam(list(params.values()), lr=kw["lr"], betas=kw["betas"], eps=kw["eps"], foreach=False)
    traj = []
    for s in range(STEPS):
        for k, p in params.items():
            p.grad = grads[s][k].clone()
        opt.step()
        traj.append({k: p.detach().flatten().tolist() for k, p in params.items()})
    return traj


cases = []
for kind, kw in [
    ("adam", dict(lr=1e-2, betas=(0.9, 0.999), eps=1e-8)),
    ("adam", dict(lr=3e-1, betas=(0.5, 0.9), eps=1e-3)),
    ("adamw", dict(lr=1e-2, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.1)),
]:
    cases.append({
        "kind": kind,
        "lr": kw["lr"], "beta1": kw["betas"][0], "beta2": kw["betas"][1], "eps": kw["eps"],
        "weight_decay": kw.get("weight_decay", 0.0),
        "trajectory": run(kind, **kw),
    })

# ReduceLROnPlateau on a scripted metric sequence (mode min, rel threshold).
metrics = [1.0, 0.9, 0.9, 0.9, 0.95, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.7999, 0.5, 0.5, 0.5, 0.5,
           0.5, 0.5, 0.5, 0.5, 0.5, 0.5]
plateau = []
for factor, patience, cooldown, min_lr in [(0.5, 1, 0, 0.0), (0.1, 2, 2, 2e-4), (0.5, 0, 1, 1e-3)]:
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=1e-2)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(
        opt, mode="min", factor=factor, patience=patience, threshold=1e-4, threshold_mode="rel",
        cooldown=cooldown, min_lr=min_lr)
    lrs = []
    for m in metrics:
        sched.step(m)
        lrs.append(opt.param_groups[0]["lr"])
    plateau.append({"base_lr": 1e-2, "factor": factor, "patience": patience, "cooldown": cooldown,
                    "min_lr": min_lr, "threshold": 1e-4, "lrs_after_each": lrs})

out = {
    "torch_version": torch.__version__,
    "init": {k: v.flatten().tolist() for k, v in p0.items()},
    "shapes": {k: list(v.shape) for k, v in p0.items()},
    "grads": [{k: g.flatten().tolist() for k, g in gs.items()} for gs in grads],
    "adam_cases": cases,
    "plateau_metrics": metrics,
    "plateau_cases": plateau,
}
path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "torch_optim.json")
with open(path, "w") as f:
    json.dump(out, f, indent=1)
print("wrote", path)
