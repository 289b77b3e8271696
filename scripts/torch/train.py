"""Train Hark's acoustic model with PyTorch DistributedDataParallel; the result is a Hark model.

    torchrun --nproc_per_node N scripts/torch/train.py DATA --out DIR [--val VAL] [--init MODEL]
             [--epochs 30] [--lr 1e-3] [--resume] ...

DATA / VAL: any labeled layout Hark reads (features are computed by `hark torch prep`, so they are
Hark's own). The run directory is laid out like `hark train`'s:
  DIR/model.json + model.safetensors   best weights by validation CER (a Hark model folder)
  DIR/last/                            newest weights (a Hark model folder)
  DIR/checkpoint.pt                    weights + Adam + schedule + position, for --resume
  DIR/log.jsonl                        one JSON line per step and per epoch (rank 0)
  DIR/train_torch.json                 the arguments (a resume must match them)
  DIR/cache/                           the feature cache
Every file is written by rank 0 atomically (temporary file + rename).

The recipe is Hark's trainer's: batches grouped by duration (Hark's BatchPlan), CTC loss with
PyTorch's 'mean' reduction over the utterances whose transcript fits their frames, global-norm
clipping, Adam (AdamW with --weight-decay), linear warm-up then halve-on-plateau of validation CER
(never during the warm-up), early stopping, best model by CER. A step is one global batch: each
rank takes a strided share of it and the loss is scaled so that DDP's gradient average is exactly
the gradient of the whole batch's loss; the update does not depend on the number of processes.
Not implemented here: Hark's augmentation (speed, noise, SpecAugment) -- compare with
`hark train --no-augment`.
"""
import argparse
import datetime
import json
import math
import os
import signal
import subprocess
import sys
import time

import torch
import torch.distributed as dist
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import data as hdata  # noqa: E402
import model as hmodel  # noqa: E402
import recipe  # noqa: E402

DEFAULT_ALPHABET = list(" abcdefghijklmnopqrstuvwxyz'")
DEFAULT_FEATURES = dict(
    sample_rate_hz=16000, input_scale=32768.0, frame_length_ms=25.0, frame_shift_ms=10.0,
    fft_size=512, preemphasis=0.97, window="rectangular", num_filters=26, low_freq_hz=0.0,
    high_freq_hz=8000.0, num_ceps=13, lifter=22.0, append_energy=True, delta_window=2,
    delta_order=2, normalization="global")


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("data", help="labeled data (any layout `hark train` reads)")
    ap.add_argument("--out", required=True, help="run directory")
    ap.add_argument("--val", help="validation data (default: --val-percent of DATA by id hash)")
    ap.add_argument("--val-percent", type=float, default=5.0)
    ap.add_argument("--init", help="fine-tune this Hark model (folder or NAME.json)")
    ap.add_argument("--resume", action="store_true", help="continue the run in --out")
    ap.add_argument("--name", help="name stored in the model")
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--lr", type=float, default=None,
                    help="peak learning rate (default: 1e-3 from scratch, 1e-4 with --init, as hark train)")
    ap.add_argument("--warmup", type=int, default=None,
                    help="warm-up steps (linear from 0 to --lr; default: a fifth of an epoch, at most "
                         "200, half that with --init, as hark train)")
    ap.add_argument("--weight-decay", type=float, default=0.0)
    ap.add_argument("--clip-norm", type=float, default=5.0)
    ap.add_argument("--plateau-patience", type=int, default=None,
                    help="epochs without a better CER before the rate is halved (default: about 600 "
                         "updates' worth, 2 to 5 epochs, as hark train)")
    ap.add_argument("--patience", type=int, default=None,
                    help="early-stopping patience in epochs (default: twice the plateau patience + 2)")
    ap.add_argument("--legacy-plateau", action="store_true",
                    help="judge every epoch, also during the warm-up and before any text is emitted "
                         "(the rule of Hark's trainer up to commit f7a33d5; for comparisons)")
    ap.add_argument("--batch", type=int, default=16, help="utterances per global batch (all ranks)")
    ap.add_argument("--batch-frames", type=int, default=8000, help="padded frames per global batch")
    ap.add_argument("--checkpoint-minutes", type=float, default=10.0)
    ap.add_argument("--seed", type=int, default=1, help="weights, batch order and dropout")
    # Architecture of a new model (as `hark train`).
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--layers", type=int, default=3)
    ap.add_argument("--stack", type=int, default=3, help="stack and subsample this many frames")
    ap.add_argument("--dropout", type=float, default=0.1)
    ap.add_argument("--normalization", choices=["global", "utterance", "none"], default="utterance",
                    help="feature normalization of a new model (default: utterance, as hark train)")
    # Machinery.
    ap.add_argument("--hark", help="hark binary (default: target/release/hark, $HARK_BIN, PATH)")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads per process")
    ap.add_argument("--cpu", action="store_true", help="use the CPU (gloo) even if CUDA is there")
    ap.add_argument("--max-steps", type=int, default=0,
                    help="stop after this many steps (validate, save the model, checkpoint)")
    ap.add_argument("--dump-first-update", help="rank 0 writes step 1's gradient and update here")
    ap.add_argument("--log-every", type=int, default=10, help="print every N steps")
    return ap.parse_args(argv)


class Dist:
    def __init__(self, cpu):
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        cuda = torch.cuda.is_available() and not cpu
        self.device = torch.device(f"cuda:{self.local_rank}" if cuda else "cpu")
        if cuda:
            torch.cuda.set_device(self.device)
        self.backend = "nccl" if cuda else "gloo"
        self.on = "RANK" in os.environ
        if self.on:
            dist.init_process_group(self.backend, timeout=datetime.timedelta(hours=3))

    def barrier(self):
        if self.on:
            dist.barrier()

    def sum(self, values):
        t = torch.tensor(values, dtype=torch.float64, device=self.device)
        if self.on:
            dist.all_reduce(t)
        return t.tolist()

    def gather(self, obj):
        if not self.on:
            return [obj]
        out = [None] * self.world
        dist.all_gather_object(out, obj)
        return out

    def broadcast(self, obj):
        if not self.on:
            return obj
        box = [obj]
        dist.broadcast_object_list(box, src=0)
        return box[0]


def hark_version(hark):
    try:
        out = subprocess.run([hark, "--version"], capture_output=True, text=True, check=True).stdout
        return out.split()[-1]
    except Exception:
        return ""


def stages_so_far(prior):
    stages = list(prior.get("earlier_stages", []))
    if prior.get("dataset"):
        before = sum(s.get("epochs", 0) for s in stages)
        stages.append(dict(dataset=prior["dataset"], train_utterances=prior.get("train_utterances", 0),
                           train_hours=prior.get("train_hours", 0.0),
                           epochs=max(0, prior.get("epochs", 0) - before)))
    return stages


def atomic_torch_save(obj, path):
    hmodel._atomic_write(path, lambda tmp: torch.save(obj, tmp))


def main(argv=None):
    a = parse_args(argv)
    torch.set_num_threads(a.threads)
    d = Dist(a.cpu)
    rank0 = d.rank == 0
    out = os.path.abspath(a.out)
    os.makedirs(out, exist_ok=True)
    hark = hdata.find_hark(a.hark)
    ckpt_path = os.path.join(out, "checkpoint.pt")
    job_path = os.path.join(out, "train_torch.json")
    job = dict(data=os.path.abspath(a.data), val=os.path.abspath(a.val) if a.val else None,
               val_percent=a.val_percent, init=os.path.abspath(a.init) if a.init else None,
               arch=None if a.init else dict(hidden=a.hidden, layers=a.layers, stack=a.stack,
                                             dropout=a.dropout, normalization=a.normalization,
                                             seed=a.seed))

    # --- The model's config: from the checkpoint, the init model, or new. ---
    ckpt = None
    init_weights = None
    if a.resume:
        with open(job_path, encoding="utf-8") as f:
            saved = json.load(f)
        if {k: saved.get(k) for k in job} != job:
            raise SystemExit(f"{job_path}: --resume needs the same data, validation and model settings")
        ckpt = torch.load(ckpt_path, map_location="cpu", weights_only=False)
        cfg = ckpt["config"]
        prior = ckpt["prior"]
    elif a.init:
        cfg, init_model = hmodel.load_model(a.init)
        init_weights = init_model.state_dict()
        prior = cfg.get("training", {})
    else:
        feats = dict(DEFAULT_FEATURES, normalization=a.normalization)
        arch = dict(input_dim=13 * 3, hidden=a.hidden, layers=a.layers, stack_frames=a.stack,
                    subsample=a.stack, num_labels=len(DEFAULT_ALPHABET) + 1, dropout=a.dropout,
                    forget_bias=1.0, seed=a.seed)
        cfg = dict(name="", arch=arch, features=feats, cmvn=None,
                   alphabet=dict(chars=DEFAULT_ALPHABET), training={})
        prior = {}
    if a.name and a.name.strip() and not a.resume:
        cfg["name"] = a.name.strip()
    if rank0 and not a.resume:
        with open(job_path, "w", encoding="utf-8") as f:
            json.dump(dict(job, args=vars(a)), f, indent=2)

    # --- Features: rank 0 runs `hark torch prep` (or reuses the cache), the others wait. ---
    cache = os.path.join(out, "cache")
    if rank0:
        req = {k: v for k, v in cfg.items() if k != "training"}
        hmodel.save_config(os.path.join(out, "prep_config.json"), req)
        hdata.prepare(hark, a.data, a.val, a.val_percent, os.path.join(out, "prep_config.json"), cache)
    d.barrier()
    prepped = hmodel.load_config(os.path.join(cache, "config.json"))
    cfg["cmvn"] = prepped.get("cmvn")
    train = hdata.Split(cache, "train")
    val = hdata.Split(cache, "val")
    chars = cfg["alphabet"]["chars"]

    fps = 1000.0 / cfg["features"]["frame_shift_ms"]
    plan = hdata.batch_plan([it["duration_s"] for it in train.items], a.batch, a.batch_frames, fps)
    val_plan = hdata.batch_plan([it["duration_s"] for it in val.items], a.batch, a.batch_frames, fps)
    # Settings not given follow the epoch length, as in `hark train` (src/train/recipe.rs).
    fine_tune = bool(a.init)
    lr = a.lr if a.lr is not None else (1e-4 if fine_tune else 1e-3)
    warmup = a.warmup if a.warmup is not None else recipe.auto_warmup(len(plan), fine_tune)
    plateau, early_stop = recipe.auto_patience(len(plan))
    plateau = a.plateau_patience if a.plateau_patience is not None else plateau
    early_stop = a.patience if a.patience is not None else early_stop
    if rank0 and not a.resume:
        print(f"recipe: lr {lr:g}, warm-up {warmup} steps, plateau patience {plateau}, "
              f"early stop after {early_stop} epochs ({len(plan)} steps per epoch)", flush=True)

    # --- Model, optimizer, schedule, state. ---
    net = hmodel.HarkAcoustic(cfg["arch"])
    if ckpt is not None:
        net.load_state_dict(ckpt["model"])
    elif init_weights is not None:
        net.load_state_dict(init_weights)
    else:
        net.hark_init()
    net.to(d.device)
    ddp = torch.nn.parallel.DistributedDataParallel(
        net, device_ids=[d.local_rank] if d.device.type == "cuda" else None) if d.on else net
    opt = recipe.make_optimizer(net, lr, a.weight_decay)
    sched = recipe.LrSchedule(lr, warmup, patience=plateau)
    early = recipe.EarlyStopping(early_stop)
    st = dict(epoch=0, batch_in_epoch=0, step=0, adam_steps=0, best_cer=None, loss_sum=0.0,
              loss_count=0, seconds=0.0, finished=None)
    if ckpt is not None:
        opt.load_state_dict(ckpt["optimizer"])
        sched.load_state_dict(ckpt["schedule"])
        early.load_state_dict(ckpt["early"])
        st.update(ckpt["state"])
    if st["finished"]:
        if rank0:
            print(f"run already finished ({st['finished']}); model in {out}")
        return

    sampler = hdata.DistributedBatchSampler(plan, d.world, d.rank, seed=a.seed)
    version = hark_version(hark)
    dim = cfg["arch"]["input_dim"]
    log = open(os.path.join(out, "log.jsonl"), "a", encoding="utf-8") if rank0 else None

    def log_line(obj):
        if log:
            log.write(json.dumps(obj) + "\n")
            log.flush()

    stop_flag = [0.0]

    def on_signal(signum, _frame):
        stop_flag[0] = 1.0
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    def training_record(v):
        return dict(
            dataset=os.path.abspath(a.data), train_utterances=len(train), train_hours=train.hours(),
            earlier_stages=stages_so_far(prior), epochs=prior.get("epochs", 0) + st["epoch"],
            steps=prior.get("steps", 0) + st["step"], seconds=prior.get("seconds", 0.0) + st["seconds"],
            val_cer=v["cer"] if v else None, val_wer=v["wer"] if v else None,
            val_loss=v["loss"] if v else None, saved_unix_s=hmodel.now_unix(), hark_version=version,
            trainer=f"scripts/torch/train.py (PyTorch {torch.__version__}, DDP {d.backend} x{d.world})")

    def checkpoint():
        if rank0:
            hmodel.save_model(os.path.join(out, "last"), cfg, net)
            atomic_torch_save(dict(model=net.state_dict(), optimizer=opt.state_dict(),
                                   schedule=sched.state_dict(), early=early.state_dict(), state=st,
                                   config=cfg, prior=prior, world_size=d.world), ckpt_path)

    def validate():
        """Sharded over ranks: loss (CTC, per utterance), CER, WER (%), samples, emitted."""
        if len(val) == 0:
            return None
        net.eval()
        ce = cn = we = wn = loss_sum = loss_n = 0.0
        hyps = []
        with torch.no_grad():
            for idx in val_plan[d.rank::d.world]:
                x, lengths, targets, tlen, labels = hdata.collate(val, idx)
                logits, out_len = net(x.to(d.device), lengths.to(d.device))
                logp = F.log_softmax(logits.float(), -1)
                nll = F.ctc_loss(logp, targets, out_len.cpu(), tlen, blank=0, reduction="none",
                                 zero_infinity=True).cpu()
                for j, i in enumerate(idx):
                    if hdata.required_frames(labels[j]) <= int(out_len[j]) and math.isfinite(float(nll[j])):
                        loss_sum += float(nll[j])
                        loss_n += 1
                    h = hmodel.greedy_text(logp[:, j].cpu(), int(out_len[j]), chars)
                    c = recipe.edit_counts(val.items[i]["text"], h)
                    ce, cn, we, wn = ce + c[0], cn + c[1], we + c[2], wn + c[3]
                    hyps.append((i, h))
        net.train()
        ce, cn, we, wn, loss_sum, loss_n = d.sum([ce, cn, we, wn, loss_sum, loss_n])
        allh = sorted(h for part in d.gather(hyps) for h in part)
        stride = max(1, len(allh) // 3)
        samples = [dict(id=val.items[i]["id"], reference=val.items[i]["text"], hypothesis=h)
                   for i, h in allh[::stride][:3]]
        return dict(loss=loss_sum / max(loss_n, 1), cer=100.0 * ce / max(cn, 1),
                    wer=100.0 * we / max(wn, 1), samples=samples,
                    emitted=any(h for _, h in allh))

    def save_best_and_last(v, best):
        cfg["training"] = training_record(v)
        if rank0:
            if best:
                hmodel.save_model(out, cfg, net)
            hmodel.save_model(os.path.join(out, "last"), cfg, net)

    params = [p for p in net.parameters()]
    if rank0:
        print(json.dumps(dict(kind="start", world_size=d.world, backend=d.backend, device=str(d.device),
                              threads=a.threads, train_utterances=len(train), val_utterances=len(val),
                              train_hours=round(train.hours(), 3), steps_per_epoch=len(plan),
                              params=sum(p.numel() for p in params), step=st["step"], epoch=st["epoch"])),
              flush=True)
    run_start = time.time()
    seconds_before = st["seconds"]
    last_ckpt = time.time()
    reason = None
    while reason is None:
        if st["epoch"] >= a.epochs:
            reason = "completed"
            break
        epoch_start = time.time()
        sampler.set_epoch(st["epoch"])
        order = sampler.global_order()
        shards = list(sampler)
        while st["batch_in_epoch"] < len(shards):
            (stop,) = d.sum([stop_flag[0]])
            if stop > 0:
                st["seconds"] = seconds_before + time.time() - run_start
                checkpoint()
                reason = "stopped"
                break
            t0 = time.time()
            shard = shards[st["batch_in_epoch"]]
            global_batch = plan[order[st["batch_in_epoch"]]]
            audio_s = sum(train.items[i]["duration_s"] for i in global_batch)
            step = st["step"]
            torch.manual_seed((a.seed * 1_000_003 + step) * 1009 + d.rank)
            if shard:
                x, lengths, targets, tlen, labels = hdata.collate(train, shard)
                logits, out_len = ddp(x.to(d.device), lengths.to(d.device))
                logp = F.log_softmax(logits.float(), -1)
                nll = F.ctc_loss(logp, targets.to(d.device), out_len, tlen.to(d.device), blank=0,
                                 reduction="none", zero_infinity=True)
                ok = torch.tensor([hdata.required_frames(lab) <= int(n) for lab, n in zip(labels, out_len)],
                                  dtype=logp.dtype, device=d.device)
                local = (nll / tlen.to(d.device).clamp(min=1) * ok).sum()
                local_n = float(ok.sum())
            else:  # an empty share of a small batch: take part in the gradient average with zeros
                logits, _ = ddp(torch.zeros(1, 1, dim, device=d.device), torch.ones(1, dtype=torch.long))
                local, local_n = logits.sum() * 0.0, 0.0
            total_n, total_loss = d.sum([local_n, float(local.detach())])
            loss = local * (d.world / max(total_n, 1.0))
            opt.zero_grad(set_to_none=False)
            loss.backward()
            mean_loss = total_loss / max(total_n, 1.0)
            lr = sched.lr_at(st["adam_steps"])
            skipped = None
            norm = float("nan")
            if total_n == 0:
                skipped = "every utterance in the batch is too short for its transcript"
            elif not math.isfinite(mean_loss):
                skipped = f"loss is {mean_loss}"
            else:
                dump = a.dump_first_update and rank0 and st["adam_steps"] == 0
                before = [p.detach().clone() for p in params] if dump else None
                norm = recipe.clip_grad_norm(params, a.clip_norm)
                if not math.isfinite(norm):
                    skipped = f"gradient norm is {norm}"
                else:
                    for g in opt.param_groups:
                        g["lr"] = lr
                    opt.step()
                    st["adam_steps"] += 1
                    if dump:
                        from safetensors.torch import save_file
                        names = [n for n, _ in net.named_parameters()]
                        t = {f"grad.{n}": p.grad.detach().cpu().contiguous() for n, p in zip(names, params)}
                        t.update({f"update.{n}": (p.detach() - b).cpu().contiguous()
                                  for n, p, b in zip(names, params, before)})
                        save_file(t, a.dump_first_update,
                                  metadata=dict(loss=repr(mean_loss), norm=repr(norm), world=str(d.world)))
            st["batch_in_epoch"] += 1
            st["step"] += 1
            ms = (time.time() - t0) * 1e3
            if skipped:
                log_line(dict(skipped=step, reason=skipped))
            else:
                st["loss_sum"] += mean_loss
                st["loss_count"] += 1
                info = dict(step=st["step"], epoch=st["epoch"], batch=st["batch_in_epoch"],
                            batches=len(shards), loss=mean_loss, learning_rate=lr, grad_norm=norm,
                            ms=round(ms, 2), audio_per_s=round(audio_s / (ms / 1e3), 2),
                            utterances=len(global_batch), world_size=d.world)
                log_line(info)
                if rank0 and (st["step"] % a.log_every == 0 or st["step"] == 1):
                    print(json.dumps(info), flush=True)
            if rank0 and time.time() - last_ckpt >= a.checkpoint_minutes * 60:
                st["seconds"] = seconds_before + time.time() - run_start
                checkpoint()
                last_ckpt = time.time()
            if a.max_steps and st["step"] >= a.max_steps:
                st["seconds"] = seconds_before + time.time() - run_start
                v = validate()
                save_best_and_last(v, True)
                checkpoint()
                if rank0:
                    print(json.dumps(dict(kind="max_steps", step=st["step"],
                                          val_cer=v and v["cer"], val_wer=v and v["wer"])), flush=True)
                reason = "max_steps"
                break
        if reason is not None:
            break
        # End of epoch: validate, keep the best, schedule, early stopping, checkpoint.
        train_s = time.time() - epoch_start
        v = validate()
        train_loss = st["loss_sum"] / max(st["loss_count"], 1)
        epoch = st["epoch"]
        st.update(epoch=epoch + 1, batch_in_epoch=0, loss_sum=0.0, loss_count=0,
                  seconds=seconds_before + time.time() - run_start)
        metric = v["cer"] if v else train_loss
        judged = a.legacy_plateau or (not sched.in_warmup(st["adam_steps"])
                                      and (v is None or v["emitted"]))
        if judged:
            sched.observe(metric)
            decision = early.observe(metric)
        else:
            decision = early.observe_grace(metric)
        best = decision == "improved"
        if best:
            st["best_cer"] = v["cer"] if v else None
        save_best_and_last(v, best)
        if decision == "stop":
            st["finished"] = "early_stopped"
        elif st["epoch"] >= a.epochs:
            st["finished"] = "completed"
        checkpoint()
        last_ckpt = time.time()
        train_audio = sum(it["duration_s"] for it in train.items)
        info = dict(epoch=epoch, step=st["step"], train_loss=train_loss,
                    val_loss=v and v["loss"], val_cer=v and v["cer"], val_wer=v and v["wer"],
                    learning_rate=sched.lr_at(st["adam_steps"]), best=best,
                    samples=v["samples"] if v else [], seconds=round(time.time() - epoch_start, 2),
                    train_seconds=round(train_s, 2), audio_per_s=round(train_audio / train_s, 2),
                    world_size=d.world)
        log_line(dict(epoch=info))
        if rank0:
            print(json.dumps(dict(kind="epoch", **info)), flush=True)
        if st["finished"]:
            reason = st["finished"]
    if rank0:
        print(json.dumps(dict(kind="finished", reason=reason, best_cer=st["best_cer"], model=out)),
              flush=True)
    if d.on:
        dist.barrier()
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
