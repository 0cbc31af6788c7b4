"""Turn the queue's outputs into results of record: one summary table plus small per-run files.

    python experiments/real/collect.py RESULTS_DIR DEST run[:label] [run[:label] ...]

RESULTS_DIR is an unpacked results.tar.gz (outputs/real/<run>/...). For every run it copies
table_h36m.csv, metrics.json, the CSV training log (as train_metrics.csv) and the Hydra
overrides into DEST/runs/<run>/, and prints a markdown table: action-wise and frame-wise P1/P2
on S9/S11, the epoch S8 chose (by frame-wise MPJPE, the checkpoint's metric) and that S8 MPJPE,
S8's best action-wise MPJPE (the metric the queue's adoption rules read), its last epoch's
(the rules' metric for a candidate that lengthens the schedule, since session 17: the rows keep
the last weights), and the wall time. "S8" is whichever subject the training held out.
"""

from __future__ import annotations

import csv
import json
import shutil
import sys
from pathlib import Path


def s8_curve(run: Path, metric: str = "val/mpjpe") -> list[tuple[int, float]]:
    log = run / "csv" / "metrics.csv"
    if not log.exists():
        return []
    rows = csv.DictReader(log.open())
    return [(int(r["epoch"]), float(r[metric])) for r in rows if r.get(metric)]


def row(root: Path, name: str, label: str) -> str:
    run = root / name
    metrics = json.loads((run / "metrics.json").read_text())
    res = metrics["test_results"]
    if (run / "table_3dhp.csv").exists():  # MPI-INF-3DHP: PCK and AUC, not action-wise MPJPE
        pck = res["pck"]
        return f"| {label} | PCK {pck['pck']:.1f} | AUC {pck['auc']:.1f} | MPJPE {res['mpjpe']:.1f} | | | | | | |"
    trained, curve = run, s8_curve(run)
    if not curve and "eval" in (run / ".hydra" / "hydra.yaml").read_text():  # an evaluation: its training's curve
        ckpt = metrics.get("checkpoint", "")
        ckpt = ckpt[0] if isinstance(ckpt, list) else ckpt  # an ensemble: its first member's training
        trained = root / Path(ckpt).parts[-3] if ckpt else run
        curve = s8_curve(trained)
    by_action = s8_curve(trained, "val/mpjpe_action")
    best = min(curve, key=lambda c: c[1]) if curve else None
    wall = (run / "wall_s.txt").read_text().strip() if (run / "wall_s.txt").exists() else ""
    chosen = f"{best[0] + 1} of {max(e for e, _ in curve) + 1}" if best else ""
    s8 = f"{best[1]:.1f}" if best else ""
    s8_action = f"{min(m for _, m in by_action):.2f}" if by_action else ""
    s8_last = f"{by_action[-1][1]:.2f}" if by_action else ""
    return (f"| {label} | {res['mpjpe_action']:.1f} | {res['mpjpe']:.1f} | {res['p_mpjpe_action']:.1f} "
            f"| {res['p_mpjpe']:.1f} | {chosen} | {s8} | {s8_action} | {s8_last} | {wall} |")


def copy_small(root: Path, name: str, dest: Path) -> None:
    run, out = root / name, dest / "runs" / name
    out.mkdir(parents=True, exist_ok=True)
    for src, dst in (("table_h36m.csv", "table_h36m.csv"), ("table_3dhp.csv", "table_3dhp.csv"), ("metrics.json", "metrics.json"),
                     ("csv/metrics.csv", "train_metrics.csv"), (".hydra/overrides.yaml", "overrides.yaml"),
                     (".hydra/config.yaml", "config.yaml")):  # ampose-summary reads what a default set
        if (run / src).exists():
            shutil.copyfile(run / src, out / dst)


def main() -> None:
    root, dest, specs = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3:]
    print("| run | P1 action-wise | P1 frame-wise | P2 action-wise | P2 frame-wise | epoch chosen on S8 "
          "| S8 frame-wise there | S8 action-wise, best | S8 action-wise, last | wall s |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for spec in specs:
        name, _, label = spec.partition(":")
        print(row(root, name, label or name))
        copy_small(root, name, dest)


if __name__ == "__main__":
    main()
