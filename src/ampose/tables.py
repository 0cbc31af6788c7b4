"""The paper's result tables as text: Table 1 (Human3.6M, per action) and Table 3 (MPI-INF-3DHP).

Input is ``LiftingModule.test_results``; output is markdown (printed) and CSV (files).
Missing values (an action or a scene without frames) print as "n/a", never as a number.

The mean of several runs' tables (seeds), cell by cell, in the same layout:

    python -m ampose.tables mean "mean of 3 seeds" run_s1/table_h36m.csv run_s2/table_h36m.csv ...
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ampose.data.actions import ACTIONS
from ampose.fileio import write_text_atomic
from ampose.metrics import SCENES

Table = tuple[list[str], list[list[str]]]


def _fmt(value: Any, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{float(value):.{digits}f}"


def h36m_table(results: dict[str, Any]) -> Table:
    """Table 1 layout: Protocol 1 (MPJPE) and 2 (P-MPJPE) rows, 15 action columns, the
    action-wise average (the reported number), and the frame-wise mean, labelled as such."""
    header = ["Protocol", *ACTIONS, "Avg", "Avg (frame-wise)"]
    rows = []
    for label, key in (("P1 MPJPE (mm)", "mpjpe"), ("P2 P-MPJPE (mm)", "p_mpjpe")):
        per = results["per_action"][key]
        rows.append([label, *(_fmt(per.get(a)) for a in ACTIONS),
                     _fmt(results[f"{key}_action"]), _fmt(results[key])])
    return header, rows


def _actions_note(results: dict[str, Any]) -> str:
    """Said under Table 1 when its average covers fewer than the 15 actions (a test set without
    frames of some), so that it is not quoted as the 15-action figure. A NaN action makes the
    average NaN itself (ActionMPJPE), so a finite average leaves out only actions without frames."""
    per = results["per_action"]["mpjpe"]
    absent = [a for a in ACTIONS if _fmt(per.get(a)) == "n/a"]
    if not absent or _fmt(results.get("mpjpe_action")) == "n/a":
        return ""
    return (f"Avg is over the {len(ACTIONS) - len(absent)} of {len(ACTIONS)} actions with test frames "
            f"(none: {', '.join(absent)}).")


def mpi_table(results: dict[str, Any]) -> Table:
    """Table 3 layout: PCK per scene (GS, noGS, outdoor), overall PCK and AUC, in percent."""
    pck = results.get("pck") or {}
    header = [*SCENES, "PCK", "AUC"]
    row = [*(_fmt(pck.get(f"pck_{s}")) for s in SCENES), _fmt(pck.get("pck")), _fmt(pck.get("auc"))]
    return header, [row]


def bones_table(results: dict[str, Any]) -> Table:
    """Mean bone lengths, true and predicted, by the joint each bone ends at (mm): a network that
    learnt its training subjects' bodies predicts their lengths for new subjects."""
    header = ["Bone (to joint)", "True (mm)", "Predicted (mm)", "Predicted / true", "Mean abs. error (mm)"]
    rows = [[name, _fmt(b["true"]), _fmt(b["pred"]), _fmt(b["pred"] / b["true"] if b["true"] else None, 3),
             _fmt(b["abs_error"])] for name, b in results["bones"].items()]
    return header, rows


def joints_table(results: dict[str, Any]) -> Table:
    """Mean error of every joint (mm): in 3D, in the image plane (x, y) and in depth (z), and
    their means over the joints (the first column's mean is the frame-wise MPJPE)."""
    header = ["Joint", "MPJPE (mm)", "Image plane x, y (mm)", "Depth z (mm)"]
    joints = results["joints"]
    rows = [[name, _fmt(j["mpjpe"]), _fmt(j["xy"]), _fmt(j["depth"])] for name, j in joints.items()]
    means = [sum(j[k] for j in joints.values()) / len(joints) for k in ("mpjpe", "xy", "depth")]
    return header, [*rows, ["Mean", *(_fmt(v) for v in means)]]


def to_markdown(table: Table) -> str:
    """A GitHub-markdown table."""
    header, rows = table
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def write_csv(table: Table, path: str | Path) -> Path:
    """Write the table as CSV (atomically); returns the path."""
    header, rows = table
    buf = io.StringIO(newline="")
    w = csv.writer(buf)
    w.writerow(header)
    w.writerows(rows)
    return write_text_atomic(path, buf.getvalue())


def read_csv(path: str | Path) -> Table:
    """A table written by ``write_csv`` (e.g. a run's ``table_h36m.csv``), cells as strings."""
    with Path(path).open(newline="") as f:
        header, *rows = list(csv.reader(f))
    return header, rows


def mean_table(tables: Sequence[Table], digits: int = 1) -> Table:
    """Cell by cell, the mean of tables of one layout (e.g. one run per seed): the same header and
    row labels (first column) in the same order, every other cell a number."""
    if not tables:
        raise ValueError("no tables to average")
    header, first = tables[0]
    for other_header, rows in tables[1:]:
        if other_header != header or [r[0] for r in rows] != [r[0] for r in first]:
            raise ValueError(f"tables of different layouts: {other_header} / {[r[0] for r in rows]} "
                             f"against {header} / {[r[0] for r in first]}")
    def cell(t: Table, i: int, c: int) -> float:  # "n/a" (no frames) stays n/a in the mean
        return math.nan if t[1][i][c] == "n/a" else float(t[1][i][c])

    rows = [[label, *(_fmt(sum(cell(t, i, c) for t in tables) / len(tables), digits)
                      for c in range(1, len(header)))] for i, label in enumerate(r[0] for r in first)]
    return header, rows


def result_tables(results: dict[str, Any]) -> dict[str, Table]:
    """The tables that apply: ``h36m`` when any action has frames, ``3dhp`` when scenes do."""
    tables: dict[str, Table] = {}
    if any(not math.isnan(v) for v in results["per_action"]["mpjpe"].values()):
        tables["h36m"] = h36m_table(results)
    if results.get("pck"):
        tables["3dhp"] = mpi_table(results)
    return tables


TITLES = {"h36m": "Human3.6M (paper Table 1 layout; action-wise average, mm)",
          "3dhp": "MPI-INF-3DHP (paper Table 3 layout; PCK@150 mm and AUC, %, 14 joints)",
          "bones": "Bone lengths (mean over the test frames, mm)",
          "joints": "Error per joint (mean over the test frames, mm; camera frame: z is depth)"}


def report(results: dict[str, Any], out_dir: str | Path | None = None, title: str = "") -> str:
    """Markdown text of every applicable table (plus the frame-wise summary); with ``out_dir``,
    also writes ``results.md`` and ``table_<name>.csv`` there, with the bone lengths and the
    per-joint errors (``table_bones.csv``, ``table_joints.csv``; files only, the printed text
    stays short)."""
    parts = [f"# {title}" if title else "# Test results"]
    parts.append(f"Frame-wise: MPJPE {_fmt(results['mpjpe'])} mm, P-MPJPE {_fmt(results['p_mpjpe'])} mm"
                 + (f", N-MPJPE {_fmt(results['n_mpjpe'])} mm (action-wise {_fmt(results.get('n_mpjpe_action'))})"
                    if "n_mpjpe" in results else ""))
    tables = result_tables(results)
    for name, table in tables.items():
        parts += [f"## {TITLES[name]}", to_markdown(table)]
        if name == "h36m" and (note := _actions_note(results)):
            parts.append(note)
    text = "\n\n".join(parts) + "\n"
    if out_dir is not None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        full = text
        for name, make in (("bones", bones_table), ("joints", joints_table)):
            if results.get(name):
                tables[name] = make(results)
                full += f"\n## {TITLES[name]}\n\n{to_markdown(tables[name])}\n"
        write_text_atomic(out / "results.md", full)
        for name, table in tables.items():
            write_csv(table, out / f"table_{name}.csv")
    return text


def main(argv: Sequence[str] | None = None) -> None:
    import argparse
    import sys

    p = argparse.ArgumentParser(prog="python -m ampose.tables", description="Average result tables cell by cell.")
    sub = p.add_subparsers(dest="command", required=True)
    mean = sub.add_parser("mean", help="print the mean of tables of one layout (e.g. table_h36m.csv of each seed)")
    mean.add_argument("label", help="prefix for each row's label, e.g. 'mean of 3 seeds'")
    mean.add_argument("csv", nargs="+", help="the tables (CSV, as the runs write them)")
    args = p.parse_args(argv)
    try:
        header, rows = mean_table([read_csv(f) for f in args.csv])
    except (OSError, ValueError) as e:
        print(f"python -m ampose.tables: error: {e}", file=sys.stderr)
        raise SystemExit(2) from None
    print(to_markdown((["run", *header[1:]], [[f"{args.label}, {r[0]}", *r[1:]] for r in rows])))


if __name__ == "__main__":
    main()
