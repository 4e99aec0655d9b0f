#!/usr/bin/env python3
"""PyTorch side of benchmarks/compare: the same models as keel's, timed the same way, one JSON line out.

  --mode small     configs/small_cnn.yaml's CNN on the 6x6 feature images: --epochs (30) of batch 64,
                   AdamW (lr 3e-3, betas 0.9/0.99, wd 0.01) with PyTorch's one-cycle schedule, the
                   seeded stratified 20% validation split held out; ms per train step over all epochs
                   (the model is identical to ../shared/peers/pytorch_peer.py --mode small)
  --mode resnet34  the seed recipe's model as keel's resnet34_step_bench builds it: ResNet-34 body +
                   fastai concat-pool head (BN1d, dropout 0.25, 1024->512, ReLU, BN1d, dropout 0.5,
                   512->2), AdamW (lr 3e-3, betas 0.9/0.99), 224x224 inputs; median ms per step of
                   --steps timed steps after --warmup steps

--device cpu | cuda. On CUDA: fp32 with TF32 off (matmul and cuDNN), cudnn.benchmark on, the data
on the device, device time with CUDA events (resnet34) or wall time after a synchronize (small).
The JSON line carries ms_per_step, images_per_second, the process's peak RSS (MB) and on CUDA the
peak device memory PyTorch allocated (MB)."""
import argparse
import json
import math
import pathlib
import resource
import statistics
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

here = pathlib.Path(__file__).resolve().parent
repo = here.parent.parent
p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
p.add_argument("--mode", default="small", choices=["small", "resnet34"])
p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
p.add_argument("--threads", type=int, default=2)
p.add_argument("--epochs", type=int, default=30)
p.add_argument("--bs", type=int, default=None, help="batch size (small: 64, resnet34: 16 on cpu, 64 on cuda)")
p.add_argument("--steps", type=int, default=3, help="resnet34: timed steps")
p.add_argument("--warmup", type=int, default=1, help="resnet34: untimed steps first")
p.add_argument("--seed", type=int, default=0)
p.add_argument("--ref", default=None, help="folder with titanic_train_wrangled.csv (small mode)")
a = p.parse_args()

torch.set_num_threads(a.threads)
torch.manual_seed(a.seed)
rng = np.random.default_rng(a.seed)
dev = torch.device(a.device)
if a.device == "cuda":
    if not torch.cuda.is_available():
        print(json.dumps({"error": "PyTorch has no CUDA device"}))
        sys.exit(3)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cudnn.benchmark = True


def sync():
    if a.device == "cuda":
        torch.cuda.synchronize()


def finish(result):
    result.update({"engine": "pytorch", "torch": torch.__version__, "device": a.device, "threads": a.threads,
                   "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0})
    if a.device == "cuda":
        result["gpu"] = torch.cuda.get_device_name(0)
        result["peak_gpu_mb"] = torch.cuda.max_memory_allocated() / 2**20
    print(json.dumps(result))


if a.mode == "small":
    import csv

    # The 33 features of the seed's CNN in pixel order (column-major fill of a 6x6 image), as in
    # ../shared/peers/pytorch_peer.py and keel's titanic feature encoder.
    feat = ("title_mr title_master sex_female age_cat_child pclass_3 family_1 family_3 title_mrs pclass_1 "
            "cabin_type_n family_6 cabin_type_e family_5 sex_male age_cat_adult fare_cat_50-100 pclass_2 family_4 "
            "embarked_c cabin_type_d title_officer family_11 embarked_s age_cat_senior family_2 fare_cat_missing "
            "age_cat_young_adult embarked_q family_8 fare_cat_0-12 cabin_type_c fare_cat_12-50 cabin_type_f").split()
    side = math.ceil(len(feat) ** 0.5)
    ref = pathlib.Path(a.ref) if a.ref else None
    if ref is None:
        for cand in (repo.parent / "shared/data/titanic/reference", repo / "shared/data/titanic/reference",
                     repo / "data/titanic/reference"):
            if (cand / "titanic_train_wrangled.csv").exists():
                ref = cand
                break
    if ref is None or not (ref / "titanic_train_wrangled.csv").exists():
        print(json.dumps({"error": "titanic_train_wrangled.csv not found: pass --ref"}))
        sys.exit(2)
    with open(ref / "titanic_train_wrangled.csv", newline="") as f:
        rows = list(csv.DictReader(f))  # the csv module rather than pandas: one dependency fewer on a GPU box
    flat = np.zeros((len(rows), side * side), np.float32)
    flat[:, : len(feat)] = np.array([[float(r[k]) != 0 for k in feat] for r in rows])
    images = flat.reshape(len(rows), side, side).transpose(0, 2, 1)[:, None].copy()
    X = torch.tensor(images, device=dev)
    y_np = np.array([int(float(r["survived"])) for r in rows], dtype=np.int64)
    y = torch.tensor(y_np, device=dev)
    bs = a.bs or 64
    val = np.concatenate([rng.permutation(np.flatnonzero(y_np == c))[: round(0.2 * (y_np == c).sum())] for c in (0, 1)])
    trn = np.setdiff1d(np.arange(len(y_np)), val)
    net = nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
        nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(64, 128, 3, padding=1), nn.BatchNorm2d(128), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.25),
        nn.Linear(128, 64), nn.ReLU(), nn.Dropout(0.5), nn.Linear(64, 2)).to(dev)
    opt = torch.optim.AdamW(net.parameters(), lr=3e-3, betas=(0.9, 0.99), weight_decay=1e-2)
    per_epoch = len(trn) // bs  # drop_last, as train.drop_last: true
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=a.epochs * per_epoch, pct_start=0.3)
    sync()
    t0 = time.perf_counter()
    for _ in range(a.epochs):
        net.train()
        perm = torch.tensor(trn[rng.permutation(len(trn))], device=dev)
        for i in range(per_epoch):
            idx = perm[i * bs:(i + 1) * bs]
            loss = F.cross_entropy(net(X[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    sync()
    seconds = time.perf_counter() - t0
    net.eval()
    with torch.no_grad():
        vi = torch.tensor(val, device=dev)
        acc = (net(X[vi]).argmax(1) == y[vi]).float().mean().item()
    steps = a.epochs * per_epoch
    ms = 1e3 * seconds / steps
    finish({"mode": "small", "batch": bs, "epochs": a.epochs, "steps": steps, "train_seconds": seconds,
            "ms_per_step": ms, "images_per_second": bs / (ms / 1e3), "val_accuracy": acc})
else:
    class Block(nn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.c1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.b1 = nn.BatchNorm2d(cout)
            self.c2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.b2 = nn.BatchNorm2d(cout)
            self.down = None
            if stride != 1 or cin != cout:
                self.down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

        def forward(self, x):
            out = torch.relu(self.b1(self.c1(x)))
            out = self.b2(self.c2(out))
            return torch.relu(out + (x if self.down is None else self.down(x)))

    class ConcatPool(nn.Module):
        def forward(self, x):
            return torch.cat([F.adaptive_max_pool2d(x, 1), F.adaptive_avg_pool2d(x, 1)], 1)

    layers = [nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(3, 2, 1)]
    cin = 64
    for cout, n, stride in [(64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)]:
        for i in range(n):
            layers.append(Block(cin, cout, stride if i == 0 else 1))
            cin = cout
    head = [ConcatPool(), nn.Flatten(), nn.BatchNorm1d(1024), nn.Dropout(0.25), nn.Linear(1024, 512), nn.ReLU(),
            nn.BatchNorm1d(512), nn.Dropout(0.5), nn.Linear(512, 2)]
    net = nn.Sequential(*layers, *head).to(dev).train()
    bs = a.bs or (64 if a.device == "cuda" else 16)
    opt = torch.optim.AdamW(net.parameters(), lr=3e-3, betas=(0.9, 0.99), weight_decay=0.01)
    x = torch.randn(bs, 3, 224, 224, device=dev)
    y = torch.arange(bs, device=dev) % 2

    def step():
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(net(x), y)
        loss.backward()
        opt.step()

    for _ in range(a.warmup):
        step()
    sync()
    times = []
    for _ in range(a.steps):
        if a.device == "cuda":
            start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            step()
            stop.record()
            torch.cuda.synchronize()
            times.append(start.elapsed_time(stop))
        else:
            t0 = time.perf_counter()
            step()
            times.append(1e3 * (time.perf_counter() - t0))
    ms = statistics.median(times)
    finish({"mode": "resnet34", "batch": bs, "steps_timed": len(times), "ms_per_step": ms,
            "step_ms": times, "images_per_second": bs / (ms / 1e3)})
