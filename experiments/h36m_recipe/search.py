"""Recipe search on real Human3.6M (GT 2D), model selection on a held-out TRAINING subject.

Train on S1 S5 S6 S7, validate on S8 (never on S9/S11). Each candidate is a short run of the
paper-sized network with data resident on the GPU, bf16 autocast, AdamW; the validation
MPJPE (frame-wise, mm) is printed per epoch and written as JSON lines.

Run on a GPU machine, after unpacking the compact 3D file into DATA_DIR:
    PYTHONPATH=src python experiments/h36m_recipe/search.py DATA_DIR OUT.jsonl
"""

import json
import math
import sys
import time

import torch
import torch.nn.functional as F

from ampose.data.h36m import load_h36m
from ampose.data.skeleton import skeleton_for
from ampose.data.transforms import flip_where
from ampose.metrics.functional import mpjpe
from ampose.models import AMPose

CANDIDATES = [
    dict(name="probe: d0 lr1e-3 b2048", dropout=0.0, lr=1e-3, batch=2048, wd=0.01),
    dict(name="d0.1 lr1e-3 b2048", dropout=0.1, lr=1e-3, batch=2048, wd=0.01),
    dict(name="d0.2 lr1e-3 b2048", dropout=0.2, lr=1e-3, batch=2048, wd=0.01),
    dict(name="d0.1 lr5e-4 b2048", dropout=0.1, lr=5e-4, batch=2048, wd=0.01),
    dict(name="d0.1 lr2e-3 b8192 (sqrt rule)", dropout=0.1, lr=2e-3, batch=8192, wd=0.01),
    dict(name="d0.1 lr4e-3 b8192 (linear rule)", dropout=0.1, lr=4e-3, batch=8192, wd=0.01),
    dict(name="d0.1 lr1e-3 b2048 wd0.1", dropout=0.1, lr=1e-3, batch=2048, wd=0.1),
]


def run(cand, train, val, perm, epochs, device, out):
    torch.manual_seed(0)
    net = AMPose(dropout=cand["dropout"]).to(device)
    opt = torch.optim.AdamW(net.parameters(), lr=cand["lr"], weight_decay=cand["wd"], fused=True)
    n, b = train["pose2d"].shape[0], cand["batch"]
    steps_per_epoch = n // b
    total, warm = steps_per_epoch * epochs, steps_per_epoch // 2
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warm) * 0.5 * (1 + math.cos(math.pi * min(s, total) / total)))
    t0 = time.time()
    for epoch in range(epochs):
        net.train()
        order = torch.randperm(n, device=device)
        for i in range(steps_per_epoch):
            idx = order[i * b:(i + 1) * b]
            x, y = train["pose2d"][idx], train["pose3d"][idx]
            mask = torch.rand(b, device=device) < 0.5
            x, y = flip_where(x, mask, perm), flip_where(y, mask, perm)
            with torch.autocast("cuda", dtype=torch.bfloat16):
                loss = F.mse_loss(net(x).float(), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
        net.eval()
        with torch.no_grad(), torch.autocast("cuda", dtype=torch.bfloat16):
            pred = torch.cat([net(c).float() for c in val["pose2d"].split(65536)])
        err = mpjpe(pred * 1000, val["pose3d"] * 1000).item()
        rec = dict(cand, epoch=epoch + 1, val_mpjpe_mm=round(err, 2), train_loss=loss.item(), minutes=(time.time() - t0) / 60)
        print(json.dumps(rec), flush=True)
        out.write(json.dumps(rec) + "\n")
        out.flush()


def main():
    root, out_path = sys.argv[1], sys.argv[2]
    epochs = int(sys.argv[3]) if len(sys.argv) > 3 else 8
    stride = int(sys.argv[4]) if len(sys.argv) > 4 else 4
    which = [int(i) for i in sys.argv[5].split(",")] if len(sys.argv) > 5 else range(len(CANDIDATES))
    device = torch.device("cuda")
    t = time.time()
    tr = load_h36m(root, ["S1", "S5", "S6", "S7"], "gt", 17, stride)
    va = load_h36m(root, ["S8"], "gt", 17, 4)
    print(f"loaded train {len(tr)} (stride {stride}), val S8 {len(va)} in {time.time() - t:.0f}s", flush=True)
    train = {k: torch.from_numpy(getattr(tr, k)).to(device) for k in ("pose2d", "pose3d")}
    val = {k: torch.from_numpy(getattr(va, k)).to(device) for k in ("pose2d", "pose3d")}
    perm = torch.tensor(skeleton_for(17).flip_permutation, device=device)
    with open(out_path, "a") as out:
        for i in which:
            run(CANDIDATES[i], train, val, perm, epochs, device, out)


if __name__ == "__main__":
    main()
