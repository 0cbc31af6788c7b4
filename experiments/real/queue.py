"""Run the real-data experiments as a resumable queue, within a wall-clock budget per call.

Each job is an `ampose-train` or `ampose-eval` run with a fixed Hydra run dir under
outputs/real/<name>. A finished job (metrics.json present) is skipped; an unfinished training
job resumes from its last.ckpt. When the budget runs out the current job is stopped and the
next call of this script carries on (the GPU machine keeps outputs/ while it stays warm).
Small results (tables, metrics, configs, CSV logs) are packed into OUT/results.tar.gz.

    PYTHONPATH=src python experiments/real/queue.py --data /tmp/h36m --budget 540 --out $OUT [--only a,b]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tarfile
import time
from pathlib import Path

ROOT = Path("outputs/real")


def jobs(data: str, sh_data: str, dhp: str) -> list[dict]:
    common = ["logger=csv", f"data.root={data}", "num_pictures=2"]
    fast = lambda exp: [f"experiment=[{exp},fast]", *common]  # noqa: E731
    # Model selection on S8 (held out of training), never on S9/S11: the best epoch on S8 is tested.
    honest = ["data.val_subjects=[S8]", "test_ckpt=best"]
    short = ["trainer.max_epochs=3", "model.compile=false", "data.stride=4"]  # ablation length: eager beats compile
    out = [
        dict(name="gt17", args=fast("h36m_gt17") + ["trainer.max_epochs=10", *honest]),
        dict(name="gt17_flip", eval="gt17", args=["flip_test=true"]),
        dict(name="gt17_3dhp", eval="gt17", args=["data=mpi_3dhp", f"data.test_file={dhp}", "data.root=/tmp"]),
        dict(name="gt17_3dhp_flip", eval="gt17", args=["data=mpi_3dhp", f"data.test_file={dhp}", "data.root=/tmp", "flip_test=true"]),
    ]
    out += [
        dict(name="sh16", args=[f"experiment=[h36m_sh16,fast]", "logger=csv", f"data.root={sh_data}", "num_pictures=2",
                                "trainer.max_epochs=6", *honest]),
        dict(name="sh16_flip", eval="sh16", args=["flip_test=true"]),
        dict(name="sh16_mlp", args=[f"experiment=[h36m_sh16,fast]", "logger=csv", f"data.root={sh_data}", "num_pictures=0",
                                    "model=mlp", "model.net.width=1024", "model.net.dropout=0.5", *short]),
        dict(name="gt16", args=fast("h36m_gt16") + ["trainer.max_epochs=5"]),
        dict(name="gt16_on_sh", eval="gt16", args=["data=h36m_sh", f"data.root={sh_data}"]),
    ]
    for block in ("ours", "two_residual", "transformer", "convnext"):
        out.append(dict(name=f"ablation_{block}", args=fast("h36m_gt17") + short + [f"model/block={block}"]))
    for model in ("pure_transformer", "pure_gcn", "mlp"):
        extra = ["model.net.dim=512", "model.net.depth=5"] if model != "mlp" else ["model.net.width=1024", "model.net.dropout=0.5"]
        out.append(dict(name=f"baseline_{model}", args=fast("h36m_gt17") + short + [f"model={model}", *extra]))
    return out


def run_job(job: dict, deadline: float) -> bool:
    out = ROOT / job["name"]
    if (out / "metrics.json").exists():
        return True
    if "eval" in job:
        ckpt = ROOT / job["eval"] / "checkpoints" / "last.ckpt"
        if not (ROOT / job["eval"] / "metrics.json").exists():
            print(f"[queue] {job['name']}: waiting for {job['eval']}", flush=True)
            return False
        cmd = [sys.executable, "-m", "ampose.eval", f"ckpt_path={ckpt}", f"hydra.run.dir={out}", *job["args"]]
    else:
        cmd = [sys.executable, "-m", "ampose.train", f"hydra.run.dir={out}", "test_ckpt=last", *job["args"]]  # job args may override
        if (out / "checkpoints" / "last.ckpt").exists():
            cmd.append(f"ckpt_path={out / 'checkpoints' / 'last.ckpt'}")
    left = deadline - time.time()
    if left < 30:
        return False
    print(f"[queue] {job['name']}: {' '.join(cmd[2:])}", flush=True)
    t0 = time.time()
    try:
        rc = subprocess.run(cmd, timeout=left).returncode
    except subprocess.TimeoutExpired:
        print(f"[queue] {job['name']}: stopped at the budget after {time.time() - t0:.0f} s; resume next call", flush=True)
        return False
    (out / "wall_s.txt").parent.mkdir(parents=True, exist_ok=True)
    (out / "wall_s.txt").write_text(f"{time.time() - t0:.1f}\n")
    print(f"[queue] {job['name']}: rc={rc} in {time.time() - t0:.0f} s", flush=True)
    return rc == 0


def pack(dest: Path) -> None:
    keep = (".md", ".csv", ".json", ".yaml", ".txt", ".log", ".png")
    with tarfile.open(dest, "w:gz") as tar:
        for p in sorted(ROOT.rglob("*")):
            if p.is_file() and p.suffix in keep and "wandb" not in p.parts:
                tar.add(p, arcname=str(p.relative_to(ROOT)))


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--data", required=True)
    p.add_argument("--sh-data", default=None)
    p.add_argument("--dhp", default="/tmp/3dhp_outdoor.npz")
    p.add_argument("--budget", type=float, default=540)
    p.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", ".")))
    p.add_argument("--only", default=None, help="comma-separated job names")
    args = p.parse_args()
    deadline = time.time() + args.budget
    todo = jobs(args.data, args.sh_data or args.data, args.dhp)
    if args.only:
        todo = [j for j in todo if j["name"] in args.only.split(",")]
    for job in todo:
        if not run_job(job, deadline) and time.time() > deadline - 30:
            break
    pack(args.out / "results.tar.gz")
    done = [j["name"] for j in todo if (ROOT / j["name"] / "metrics.json").exists()]
    print(f"[queue] done: {done}", flush=True)


if __name__ == "__main__":
    main()
