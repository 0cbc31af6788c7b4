"""The session-7 ablation in the paper's Table 1 layout: per action, the mean of the two seeds.

    python experiments/h36m_ablation/table1.py > experiments/h36m_ablation/table1_session7.md

Reads runs/<run>/table_h36m.csv (written by ampose-train / ampose-eval) for every network,
with and without flip TTA, and averages seed 1 and seed 2 column by column.
"""

from __future__ import annotations

import csv
from pathlib import Path

RUNS = Path(__file__).resolve().parent / "runs"
NETWORKS = [("ablation8_ours", "AMPose, block ours"), ("ablation8_two_residual", "AMPose, block two_residual"),
            ("ablation8_transformer", "AMPose, block transformer"), ("ablation8_convnext", "AMPose, block convnext"),
            ("baseline8_pure_transformer", "pure transformer"), ("baseline8_pure_gcn", "pure GCN")]
SEEDS = (1, 2)


def read(run: str) -> tuple[list[str], dict[str, list[float]]]:
    with (RUNS / run / "table_h36m.csv").open() as f:
        rows = list(csv.reader(f))
    return rows[0][1:], {r[0]: [float(v) for v in r[1:]] for r in rows[1:]}


def main() -> None:
    header = None
    lines = []
    for prefix, label in NETWORKS:
        for flip in ("", "_flip"):
            tables = [read(f"{prefix}_s{seed}{flip}") for seed in SEEDS]
            if header is None:
                header = tables[0][0]
            if any(t[0] != header for t in tables):
                raise SystemExit(f"{prefix}{flip}: the action columns differ between runs")
            for protocol, short in (("P1 MPJPE (mm)", "P1"), ("P2 P-MPJPE (mm)", "P2")):
                mean = [sum(vals) / len(vals) for vals in zip(*(t[1][protocol] for t in tables), strict=True)]
                name = f"{label}{' + flip TTA' if flip else ''}, {short}"
                lines.append(f"| {name} | " + " | ".join(f"{v:.1f}" for v in mean) + " |")
    print("# Block ablation and baselines, GT 2D, 17 joints, `fast_h36m`: per action, mean of seeds 1 and 2 (mm)\n")
    print("Train S1 S5 S6 S7, S8 chose the epoch, S9/S11 tested once. Made by `table1.py` from `runs/*/table_h36m.csv`.\n")
    print("| network | " + " | ".join(header) + " |")
    print("|---|" + "---|" * len(header))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
