"""DDP scaling: training samples/s on 1 and N devices of one machine, in one run.

    python -m ampose.scaling --devices 1 8 --size paper --batch 8192        # an 8-GPU machine
    python -m ampose.scaling --accelerator cpu --devices 1 2 --size tiny    # CPU smoke test (gloo)

Each device count is measured in a fresh process (Lightning DDP re-launches it for ranks 1..N-1):
the LiftingModule's real training step, the data resident on each device and sharded per rank
(ResidentLoader), a fixed per-device batch (weak scaling, as DDP is used), the ``Throughput``
callback summing the samples of all ranks per epoch. The first epoch (warm-up, compilation) is
left out. Efficiency of N devices: rate(N) / (N * rate(1)). Prints a table and writes JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import torch

from ampose.bench import SIZES
from ampose.fileio import write_text_atomic


def _worker(args: argparse.Namespace) -> None:
    """One measurement (every rank runs this; rank 0 writes the result)."""
    import pytorch_lightning as pl

    from ampose.callbacks import Throughput
    from ampose.data.datamodule import ResidentLoader
    from ampose.data.skeleton import skeleton_for
    from ampose.lit_module import LiftingModule

    class Resident(pl.LightningDataModule):
        """Random poses resident on each rank's device, sharded per rank (the fast path's loader)."""

        def train_dataloader(self) -> ResidentLoader:
            trainer = self.trainer
            g = torch.Generator().manual_seed(0)
            n, j = args.samples, 17
            t = {"pose2d": torch.randn(n, j, 2, generator=g), "pose3d": 0.3 * torch.randn(n, j, 3, generator=g)}
            t.update({k: torch.zeros(n, dtype=torch.long) for k in ("action", "subject", "camera", "scene")})
            t = {k: v.to(trainer.strategy.root_device) for k, v in t.items()}
            return ResidentLoader(t, args.batch, shuffle=True, flip=True, skeleton=skeleton_for(j),
                                  rank=trainer.global_rank, world_size=trainer.world_size)

    pl.seed_everything(0)
    cuda = args.accelerator != "cpu" and torch.cuda.is_available()
    net = {"_target_": "ampose.models.AMPose", "num_joints": 17, **SIZES[args.size], "bf16_residual": args.bf16_residual}
    lit = LiftingModule(net=net,
                        optimizer={"_target_": "torch.optim.AdamW", "_partial_": True, "lr": 1e-4},
                        scheduler=None, compile=args.compile and cuda)
    throughput = Throughput()
    trainer = pl.Trainer(
        accelerator=args.accelerator, devices=args.worker_devices,
        strategy="ddp" if args.worker_devices > 1 else "auto",
        precision="bf16-mixed" if cuda and not args.fp32 else "32-true",
        max_epochs=args.epochs, limit_val_batches=0, num_sanity_val_steps=0, logger=False,
        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
        callbacks=[throughput])
    trainer.fit(lit, datamodule=Resident())
    if trainer.is_global_zero:
        write_text_atomic(args.out, json.dumps({
            "devices": args.worker_devices, "samples_per_s": throughput.steady_samples_per_s,
            "epoch_rates": throughput.history, "epoch_samples": throughput.samples_history,
            "world_size": trainer.world_size}))
    # Close the process group before the interpreter exits: gloo's threads still running at
    # teardown made a worker abort now and then (SIGABRT, "terminate called without an active exception").
    from ampose.distributed import end_ddp_job

    end_ddp_job()


def measure(devices: int, args: argparse.Namespace) -> dict[str, Any]:
    """Run one worker process for `devices` devices; its result."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "result.json"
        cmd = [sys.executable, "-m", "ampose.scaling", "--worker-devices", str(devices), "--out", str(out),
               "--accelerator", args.accelerator, "--size", args.size, "--batch", str(args.batch),
               "--samples", str(args.samples), "--epochs", str(args.epochs),
               *(["--compile"] if args.compile else []), *(["--fp32"] if args.fp32 else []),
               *(["--bf16-residual"] if args.bf16_residual else [])]
        env = {k: v for k, v in os.environ.items() if k not in ("LOCAL_RANK", "MASTER_PORT", "WORLD_SIZE")}
        subprocess.run(cmd, check=True, env=env)
        return json.loads(out.read_text())


def scaling(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Add speed-up and efficiency against the smallest device count measured."""
    base = min(results, key=lambda r: r["devices"])
    per_device = base["samples_per_s"] / base["devices"]
    for r in results:
        r["speedup"] = r["samples_per_s"] / base["samples_per_s"]
        r["efficiency"] = r["samples_per_s"] / (per_device * r["devices"])
    return results


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--devices", type=int, nargs="+", default=None,
                   help="device counts to measure (default: 1 and every GPU of the machine)")
    p.add_argument("--accelerator", default="gpu", choices=("gpu", "cpu"))
    p.add_argument("--size", default="paper", choices=sorted(SIZES))
    p.add_argument("--batch", type=int, default=8192, help="per-device batch")
    p.add_argument("--samples", type=int, default=None, help="training samples (default: 40 batches per device)")
    p.add_argument("--epochs", type=int, default=3, help="epochs; the first is warm-up")
    p.add_argument("--compile", action="store_true", help="torch.compile the net (CUDA)")
    p.add_argument("--fp32", action="store_true", help="fp32 instead of bf16 on CUDA")
    p.add_argument("--bf16-residual", action="store_true",
                   help="AMPose(bf16_residual=True), the config default since session 19: the residual stream in bf16")
    p.add_argument("--json", type=Path, default=None, help="write the results here")
    p.add_argument("--worker-devices", type=int, default=None, help=argparse.SUPPRESS)
    p.add_argument("--out", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker_devices is not None:
        _worker(args)
        return
    devices = args.devices or sorted({1, max(torch.cuda.device_count(), 1)})
    if args.samples is None:
        args.samples = 40 * args.batch * max(devices)
    results = scaling([measure(n, args) for n in devices])
    print(f"\nDDP scaling: AMPose {args.size}, per-device batch {args.batch}, {args.accelerator}")
    print(f"{'devices':>8} {'samples/s':>12} {'speed-up':>9} {'efficiency':>11}")
    for r in results:
        print(f"{r['devices']:>8} {r['samples_per_s']:>12,.0f} {r['speedup']:>9.2f} {100 * r['efficiency']:>10.1f}%")
    if args.json:
        record = {"args": {k: str(v) for k, v in vars(args).items()}, "results": results}
        write_text_atomic(args.json, json.dumps(record, indent=2))


if __name__ == "__main__":
    main()
