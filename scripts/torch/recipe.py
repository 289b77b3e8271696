"""Hark's training recipe (src/nn/optim.rs, src/train/trainer.rs) in Python: learning-rate
schedule (linear warm-up, then ReduceLROnPlateau), early stopping, gradient clipping, the
optimizer (Adam; decoupled AdamW weight decay sparing biases), and CER/WER."""
import math

import torch


class LrSchedule:
    """lr_at(step) = plateau_lr * (step + 1) / warmup for step < warmup, else plateau_lr.
    observe(metric) is PyTorch's ReduceLROnPlateau (mode min, rel threshold, cooldown, min_lr).
    The trainer never calls observe during the warm-up (see `judged` in train.py), so the rate is
    never reduced before the warm-up ends."""

    def __init__(self, base_lr, warmup_steps=0, factor=0.5, patience=2, threshold=1e-4,
                 cooldown=0, min_lr=1e-6):
        self.base_lr, self.warmup_steps, self.factor = base_lr, warmup_steps, factor
        self.patience, self.threshold, self.cooldown, self.min_lr = patience, threshold, cooldown, min_lr
        self.plateau_lr, self.best, self.num_bad, self.cooldown_counter = base_lr, None, 0, 0
        self.observed, self.reductions = 0, 0

    def in_warmup(self, step):
        return step < self.warmup_steps

    def lr_at(self, step):
        w = self.warmup_steps
        if w > 0 and step < w:
            return self.plateau_lr * ((step + 1) / w)
        return self.plateau_lr

    def observe(self, metric):
        self.observed += 1
        if not math.isnan(metric) and (self.best is None or metric < self.best * (1 - self.threshold)):
            self.best, self.num_bad = metric, 0
        else:
            self.num_bad += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad = 0
        if self.num_bad > self.patience:
            self.cooldown_counter, self.num_bad = self.cooldown, 0
            new_lr = max(self.plateau_lr * self.factor, self.min_lr)
            if self.plateau_lr - new_lr > 1e-8:
                self.plateau_lr = new_lr
                self.reductions += 1
                return True
        return False

    def state_dict(self):
        return dict(self.__dict__)

    def load_state_dict(self, d):
        self.__dict__.update(d)


class EarlyStopping:
    """Stop after `patience` results without a better one (mode min, min_delta)."""

    def __init__(self, patience=6, min_delta=0.0):
        self.patience, self.min_delta = patience, min_delta
        self.best, self.best_index, self.bad, self.observed = None, None, 0, 0

    def observe(self, metric):
        """-> 'improved' | 'continue' | 'stop'"""
        index, self.observed = self.observed, self.observed + 1
        if not math.isnan(metric) and (self.best is None or metric < self.best - self.min_delta):
            self.best, self.best_index, self.bad = metric, index, 0
            return "improved"
        self.bad += 1
        return "stop" if self.bad >= self.patience else "continue"

    def observe_grace(self, metric):
        """May set the best, never counts against the patience."""
        bad = self.bad
        if self.observe(metric) == "improved":
            return "improved"
        self.bad = bad
        return "continue"

    def state_dict(self):
        return dict(self.__dict__)

    def load_state_dict(self, d):
        self.__dict__.update(d)


def auto_warmup(steps_per_epoch, fine_tune):
    """`hark train`'s warm-up when none is given: a fifth of an epoch, 1 to 200 steps; half that
    (rounded up) for a fine-tune (src/train/recipe.rs auto_warmup)."""
    w = min(max(steps_per_epoch // 5, 1), 200)
    return (w + 1) // 2 if fine_tune else w


def auto_patience(steps_per_epoch):
    """(plateau, early-stop) patience in epochs when none is given: about 600 updates, 2 to 5
    epochs; early stopping twice that plus 2 (src/train/recipe.rs auto_patience)."""
    plateau = min(max(-(-600 // max(steps_per_epoch, 1)), 2), 5)
    return plateau, 2 * plateau + 2


def make_optimizer(model, lr, weight_decay=0.0):
    """Hark's Adam (beta 0.9/0.999, eps 1e-8; same update formula as torch.optim.Adam); with
    weight decay, decoupled AdamW decay on every tensor whose name has no 'bias'."""
    if weight_decay > 0:
        decay = [p for n, p in model.named_parameters() if "bias" not in n]
        no_decay = [p for n, p in model.named_parameters() if "bias" in n]
        return torch.optim.AdamW([dict(params=decay, weight_decay=weight_decay),
                                  dict(params=no_decay, weight_decay=0.0)],
                                 lr=lr, betas=(0.9, 0.999), eps=1e-8)
    return torch.optim.Adam(model.parameters(), lr=lr, betas=(0.9, 0.999), eps=1e-8)


def clip_grad_norm(params, max_norm):
    """Hark's clip_grad_norm: global L2 norm (accumulated in float64); if finite and above
    max_norm, every gradient is scaled by max_norm / norm (no epsilon, unlike torch's). Returns
    the norm before clipping (non-finite: the step must be skipped)."""
    grads = [p.grad for p in params if p.grad is not None]
    norm = math.sqrt(sum(float((g.double() ** 2).sum()) for g in grads))
    if math.isfinite(norm) and max_norm > 0 and norm > max_norm:
        scale = max_norm / norm
        for g in grads:
            g.mul_(scale)
    return norm


def _align(r, h):
    prev = list(range(len(h) + 1))
    for i, a in enumerate(r, 1):
        cur = [i]
        for j, b in enumerate(h, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a != b)))
        prev = cur
    return prev[-1]


def edit_counts(reference, hypothesis):
    """(char errors, ref chars, word errors, ref words) as Hark's metrics (whitespace collapsed)."""
    rw, hw = reference.split(), hypothesis.split()
    rc, hc = " ".join(rw), " ".join(hw)
    return _align(rc, hc), len(rc), _align(rw, hw), len(rw)
