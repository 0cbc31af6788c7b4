"""Per-action mean over seeds, in the paper's Table 1 layout, from collected runs' table_h36m.csv.

    python experiments/real/seed_mean.py experiments/h36m_gt17/runs "mean of 3 seeds" RUN [RUN ...]

Prints one markdown row per protocol (P1, P2): each column (the 15 actions, the action-wise and
the frame-wise average) averaged over the given runs. The runs must share their action columns.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path


def read_table(path: Path) -> tuple[list[str], dict[str, list[float]]]:
    with path.open() as f:
        rows = list(csv.reader(f))
    return rows[0][1:], {r[0]: [float(v) for v in r[1:]] for r in rows[1:]}


def mean_rows(runs: Path, label: str, names: list[str]) -> list[str]:
    tables = [read_table(runs / name / "table_h36m.csv") for name in names]
    header = tables[0][0]
    if any(t[0] != header for t in tables):
        raise SystemExit(f"{names}: the action columns differ between runs")
    lines = ["| run | " + " | ".join(header) + " |", "|---" * (len(header) + 1) + "|"]
    for protocol, short in (("P1 MPJPE (mm)", "P1"), ("P2 P-MPJPE (mm)", "P2")):
        mean = [sum(vals) / len(vals) for vals in zip(*(t[1][protocol] for t in tables), strict=True)]
        lines.append(f"| {label}, {short} | " + " | ".join(f"{v:.1f}" for v in mean) + " |")
    return lines


if __name__ == "__main__":
    if len(sys.argv) < 4:
        raise SystemExit(__doc__)
    print("\n".join(mean_rows(Path(sys.argv[1]), sys.argv[2], sys.argv[3:])))
