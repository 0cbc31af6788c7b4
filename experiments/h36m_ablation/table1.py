"""The session-7 ablation in the paper's Table 1 layout: per action, the mean of the two seeds.

    python experiments/h36m_ablation/table1.py > experiments/h36m_ablation/table1_session7.md

Reads runs/<run>/table_h36m.csv (written by ampose-train / ampose-eval) for every network,
with and without flip TTA, and averages seed 1 and seed 2 column by column.
"""

from __future__ import annotations

from pathlib import Path

from ampose import tables

RUNS = Path(__file__).resolve().parent / "runs"
NETWORKS = [("ablation8_ours", "AMPose, block ours"), ("ablation8_two_residual", "AMPose, block two_residual"),
            ("ablation8_transformer", "AMPose, block transformer"), ("ablation8_convnext", "AMPose, block convnext"),
            ("baseline8_pure_transformer", "pure transformer"), ("baseline8_pure_gcn", "pure GCN")]
SEEDS = (1, 2)


def main() -> None:
    header: list[str] = []
    lines = []
    for prefix, label in NETWORKS:
        for flip in ("", "_flip"):
            header, rows = tables.mean_table([tables.read_csv(RUNS / f"{prefix}_s{seed}{flip}" / "table_h36m.csv")
                                              for seed in SEEDS])
            for row in rows:
                short = "P1" if row[0].startswith("P1") else "P2"
                lines.append(f"| {label}{' + flip TTA' if flip else ''}, {short} | " + " | ".join(row[1:]) + " |")
    header = header[1:]
    print("# Block ablation and baselines, GT 2D, 17 joints, `fast_h36m`: per action, mean of seeds 1 and 2 (mm)\n")
    print("Train S1 S5 S6 S7, S8 chose the epoch, S9/S11 tested once. Made by `table1.py` from `runs/*/table_h36m.csv`.\n")
    print("| network | " + " | ".join(header) + " |")
    print("|---|" + "---|" * len(header))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
