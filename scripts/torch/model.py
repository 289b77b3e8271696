"""Hark's acoustic model in PyTorch, built from a Hark model.json.

    x (T, B, D) padded, time-major, lengths (B)
    -> frame stacking (k frames) + subsampling (every s-th): (T', B, k*D), T' = ceil(T / s)
    -> L bidirectional LSTM layers (dropout on the inputs of layers 1..L-1)
    -> Linear(2H, V) -> logits (T', B, V)   [log_softmax for decoding / CTC]

Exactly Hark's function (src/model/acoustic.rs, src/nn/*): gate order i, f, g, o (PyTorch's);
each utterance sees only its own frames in both directions (the reverse direction runs on the
utterance reversed within its own length, so padding never reaches a valid frame); a stacked
frame's blocks at or past the utterance's own end are zeros; outputs at padded frames are zero.

Parameters live in `self.lstm` (an nn.LSTM(k*D, H, L, bidirectional=True), used only as the
container, so its state-dict names are Hark's: lstm.weight_ih_l0, ..., lstm.bias_hh_l2_reverse)
and `self.proj` (proj.weight, proj.bias). Each direction of each layer is run by the same
cuDNN/CPU kernel nn.LSTM uses (torch._VF.lstm), one layer at a time.
"""
import json
import math
import os
import tempfile
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

FORMAT_VERSION = 1


class HarkAcoustic(nn.Module):
    def __init__(self, arch):
        super().__init__()
        self.arch = dict(arch)
        d_in = arch["input_dim"] * arch["stack_frames"]
        h, layers, v = arch["hidden"], arch["layers"], arch["num_labels"]
        self.lstm = nn.LSTM(d_in, h, layers, bidirectional=True)
        self.proj = nn.Linear(2 * h, v)

    def hark_init(self, seed=None):
        """PyTorch's default init (U(-1/sqrt(H), 1/sqrt(H)) for the LSTM, U(-1/sqrt(2H), ..) for
        the projection) with Hark's forget bias: bias_ih's forget quarter = forget_bias,
        bias_hh's = 0. (Same distribution as Hark's init, not the same numbers.)"""
        g = torch.Generator().manual_seed(self.arch["seed"] if seed is None else seed)
        h = self.arch["hidden"]
        k = 1.0 / math.sqrt(h)
        with torch.no_grad():
            for name, p in self.lstm.named_parameters():
                p.copy_(torch.rand(p.shape, generator=g) * 2 * k - k)
                if name.startswith("bias_ih"):
                    p[h:2 * h] = self.arch["forget_bias"]
                elif name.startswith("bias_hh"):
                    p[h:2 * h] = 0.0
            kp = 1.0 / math.sqrt(2 * h)
            for p in self.proj.parameters():
                p.copy_(torch.rand(p.shape, generator=g) * 2 * kp - kp)

    def out_lengths(self, lengths):
        s = self.arch["subsample"]
        return (lengths + s - 1) // s

    def stack(self, x, lengths):
        """(T, B, D) -> (T', B, k*D): frame t' = [x[t's], ..., x[t's+k-1]], zeros at or past each
        utterance's own length (src/nn/stack.rs)."""
        k, s = self.arch["stack_frames"], self.arch["subsample"]
        t = x.shape[0]
        mask = (torch.arange(t, device=x.device).unsqueeze(1) < lengths.to(x.device).unsqueeze(0))
        x = x * mask.unsqueeze(2).to(x.dtype)
        if k == 1 and s == 1:
            return x
        t_out = -(-t // s)
        need = (t_out - 1) * s + k
        if need > t:
            x = torch.cat([x, x.new_zeros(need - t, x.shape[1], x.shape[2])], 0)
        span = (t_out - 1) * s + 1
        return torch.cat([x[j:j + span:s] for j in range(k)], dim=2)

    @staticmethod
    def reverse_index(lengths, t_max, device):
        t = torch.arange(t_max, device=device).unsqueeze(1)
        ln = lengths.to(device).unsqueeze(0)
        return torch.where(t < ln, ln - 1 - t, t)  # (T, B), an involution

    def _direction(self, x, layer, suffix):
        p = [getattr(self.lstm, f"{n}_l{layer}{suffix}")
             for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
        b, h = x.shape[1], self.arch["hidden"]
        h0 = x.new_zeros(1, b, h)
        out, _, _ = torch._VF.lstm(x, (h0, h0), p, True, 1, 0.0, self.training, False, False)
        return out

    def forward(self, x, lengths):
        """x (T, B, D) float, lengths (B) int64 -> (logits (T', B, V), out_lengths (B))."""
        out_len = self.out_lengths(lengths)
        z = self.stack(x, lengths)
        t = z.shape[0]
        idx = self.reverse_index(out_len, t, z.device).unsqueeze(2)
        valid = (torch.arange(t, device=z.device).unsqueeze(1)
                 < out_len.to(z.device).unsqueeze(0)).unsqueeze(2).to(z.dtype)
        for layer in range(self.arch["layers"]):
            if layer > 0:
                z = F.dropout(z, self.arch["dropout"], self.training)
            f = self._direction(z, layer, "")
            r = self._direction(z.gather(0, idx.expand(-1, -1, z.shape[2])), layer, "_reverse")
            r = r.gather(0, idx.expand(-1, -1, r.shape[2]))
            z = torch.cat([f, r], dim=2) * valid
        return self.proj(z), out_len


# ---------------------------------------------------------------------------------------------
# Hark model folders: model.json + model.safetensors
# ---------------------------------------------------------------------------------------------

def model_paths(path):
    """Like Hark's ModelPaths::resolve: a directory, or NAME.json / NAME.safetensors."""
    path = str(path)
    if os.path.isdir(path) or path.endswith("/"):
        return os.path.join(path, "model.json"), os.path.join(path, "model.safetensors")
    base = path[:-5] if path.endswith(".json") else path[:-12] if path.endswith(".safetensors") else path
    return base + ".json", base + ".safetensors"


def load_config(path):
    cfg_path = path if str(path).endswith(".json") and not os.path.isdir(path) else model_paths(path)[0]
    with open(cfg_path, encoding="utf-8") as f:
        cfg = json.load(f)
    v = cfg.pop("format_version", None)
    if v != FORMAT_VERSION:
        raise SystemExit(f"{cfg_path}: format_version {v!r}, this script reads {FORMAT_VERSION}")
    return cfg


def load_model(path):
    """(config dict, HarkAcoustic with the folder's weights). Every name and shape must match."""
    from safetensors.torch import load_file
    cfg = load_config(path)
    model = HarkAcoustic(cfg["arch"])
    weights = load_file(model_paths(path)[1])
    sd = model.state_dict()
    missing = sorted(set(sd) - set(weights))
    extra = sorted(set(weights) - set(sd))
    if missing or extra:
        raise SystemExit(f"{path}: weights do not fit the config (missing {missing}, unexpected {extra})")
    for k, v in weights.items():
        if tuple(v.shape) != tuple(sd[k].shape):
            raise SystemExit(f"{path}: tensor {k} has shape {tuple(v.shape)}, expected {tuple(sd[k].shape)}")
    model.load_state_dict({k: v.float() for k, v in weights.items()})
    return cfg, model


def _atomic_write(path, write):
    d = os.path.dirname(os.path.abspath(path))
    os.makedirs(d, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=d, prefix="." + os.path.basename(path) + ".")
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def save_config(path, cfg):
    text = json.dumps({"format_version": FORMAT_VERSION, **cfg}, indent=2) + "\n"

    def w(tmp):
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
    _atomic_write(path, w)


def save_model(path, cfg, model):
    """Weights then config, each atomically (as Hark's save_model), F32, Hark's names."""
    from safetensors.torch import save_file
    cfg_path, w_path = model_paths(path)
    sd = {k: v.detach().to("cpu", torch.float32).contiguous() for k, v in model.state_dict().items()}
    for k, v in sd.items():
        if not torch.isfinite(v).all():
            raise RuntimeError(f"refusing to save {k}: non-finite values (training diverged?)")
    _atomic_write(w_path, lambda tmp: save_file(sd, tmp, metadata={"hark.format_version": str(FORMAT_VERSION)}))
    save_config(cfg_path, cfg)


def greedy_text(logp, length, chars):
    """Hark's greedy decoding: argmax per frame, repeats merged, blanks (0) dropped."""
    ids = logp[:length].argmax(dim=-1).tolist()
    out, prev = [], 0
    for i in ids:
        if i != 0 and i != prev:
            out.append(chars[i - 1])
        prev = i
    return "".join(out)


def now_unix():
    return int(time.time())
