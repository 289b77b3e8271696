#!/usr/bin/env python3
"""PyTorch reference for tests/nn.rs (`matches_pytorch_reference`): weight layout, gate order,
per-utterance reversal with padding, and gradients.

Made with:  /work/peers-venv/bin/python tests/data/lstm_torch.py > tests/data/lstm_torch.json

Model (float64): nn.LSTM(3, 4, num_layers=2, bidirectional=True) -> nn.Linear(8, 5) (logits).
Batch of 2 padded utterances, lengths [5, 3], run through pack_padded_sequence.
Loss = sum over valid frames of logits * W (W fixed random); gradients for every parameter and x.
"""
import json

import torch
import torch.nn as nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

torch.manual_seed(0)
torch.set_default_dtype(torch.float64)
T, B, D, H, L, V = 5, 2, 3, 4, 2, 5
lengths = [5, 3]
lstm = nn.LSTM(D, H, num_layers=L, bidirectional=True)
proj = nn.Linear(2 * H, V)
x = torch.randn(T, B, D)
x[3:, 1] = 7.0  # padding junk that must not matter
x.requires_grad_(True)
w = torch.randn(T, B, V)
w[3:, 1] = 0.0
packed = pack_padded_sequence(x, torch.tensor(lengths), enforce_sorted=False)
h, _ = lstm(packed)
h, _ = pad_packed_sequence(h, total_length=T)
logits = proj(h)
loss = (logits * w).sum()
loss.backward()
params = [("lstm." + n, p) for n, p in lstm.named_parameters()] + [
    ("proj." + n, p) for n, p in proj.named_parameters()
]
flat = lambda t: t.detach().reshape(-1).tolist()
out = {
    "config": {"input_dim": D, "hidden": H, "layers": L, "stack_frames": 1, "subsample": 1,
               "num_labels": V, "dropout": 0.0, "forget_bias": 1.0, "seed": 0},
    "shape": [T, B, D],
    "lengths": lengths,
    "x": flat(x),
    "w": flat(w),
    "params": [{"name": n, "shape": list(p.shape), "values": flat(p)} for n, p in params],
    "logits": flat(logits),
    "grads": {n: flat(p.grad) for n, p in params},
    "dx": flat(x.grad),
}
print(json.dumps(out))
