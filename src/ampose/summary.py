"""`ampose-summary`: one table for a sweep, with the run-to-run spread over seeds.

    ampose-summary outputs/train/multirun/2026-11-25_10-00-00          # a Hydra multirun folder
    ampose-summary outputs/real --over seed --csv summary.csv          # any folder of runs

Every folder below DIR that holds a run's ``metrics.json`` (or a failed job's ``failed.json``)
is one run; its Hydra overrides (``.hydra/overrides.yaml``, or ``overrides.yaml`` in the copies
under ``experiments/*/runs``) say what it was, plus ``model.net.bf16_residual=true`` where only the
default set it (a run's composed config says so; runs before session 19 had the fp32 stream). The
overrides that differ between runs name the rows; runs that differ only in the ``--over`` keys (default: the
seed) are one row, reported as mean ± sample standard deviation with their count. A row holding
the same seed twice (a run repeated, e.g. in a later session) is warned about on stderr; each run
still counts in ``n`` and the mean ± std, as the repeat is one more sample of the training's own
noise but no new seed. Rows are
sorted by the test P1 MPJPE (action-wise), best first, or with ``--sort-by val`` by the best
validation MPJPE (frame-wise: the checkpoint's metric) when validation is held out of training:
the mean over the held-out folds (``data.val_subjects``) of each fold's mean over its seeds, so a
fold run with more seeds does not weigh more. A row with fewer folds than the most any row has
sorts after the rows with all (its mean is over other subjects), marked in a column of the folds'
mean ("1 of 2 folds"; shown when a row has two folds or more); runs validated on the test
subjects are no fold and enter no row's mean unless the row has no fold at all.
A sweep tested on MPI-INF-3DHP alone (no action-wise P1) gets PCK and AUC columns and is sorted
by PCK, highest first.
The fold and curve views (``--folds``, ``--curves``) read the action-wise validation curve.

Choosing a setting on several held-out subjects (leave-one-subject-out folds) rather than one:

    ampose-train -m "experiment=[h36m_gt17,fast_h36m]" data.root=DIR \
        "data.val_subjects=[S7],[S8]" model.net.dropout=0,0.1
    ampose-summary outputs/h36m_gt17/multirun/<time> --over seed,data.val_subjects --sort-by val

Each fold's best epoch differs (one held-out subject may bottom out at epoch 2, another still
fall at 8); the length of the final run on all training subjects is the epoch where the mean of
the folds' validation curves is lowest. ``--curves`` prints those mean curves, per row (the
seeds of each fold averaged first, so every fold weighs the same):

    ampose-summary outputs/h36m_gt17/multirun/<time> --over seed,data.val_subjects --curves
    ampose-summary experiments/h36m_recipe/runs --over seed,data.val_subjects --curves   # the runs of record

A run whose metrics.json has no curve (written before session 8) gets it from its CSV log.

An evaluation (``ampose-eval ckpt_path=<run>/checkpoints/last.ckpt flip_test=true``) whose
training run is also below DIR takes that run's overrides, and its own as ``eval:<key>`` (always
``eval:checkpoint=<file>``, so an evaluation never counts as one more seed of its training's
row): the flip-tested checkpoints of three seeds are one row, averaged like their trainings:

    ampose-summary experiments/h36m_gt17/runs --over seed

An evaluation multirun (``ampose-eval -m "ckpt_path=S/0/checkpoints/last.ckpt,S/1/..."
hydra.sweep.dir=S/eval_flip``) joins each job to its own training, although both are named 0, 1, ...:
a ``ckpt_path`` is taken for a resume of the run itself only when it lies in the run's own folder.

Runs whose epochs differ in size (``data.virtual_bodies`` / ``_views`` / ``_errors`` add copies of
every training sequence) compare at equal compute with ``--equal-compute``: each curve is then
indexed by the epochs of the real training samples its run has paid for (one virtual copy: its
first epoch counts as 2), so a body-epoch k lines up with a plain epoch 2k:

    ampose-summary experiments/h36m_recipe/runs --over seed,data.val_subjects,trainer.max_epochs --curves --equal-compute

A rule fixed before the runs ("adopted if better on every fold at its best", "if the mean over
the folds is lower") reads ``--folds data.val_subjects``: per row, each fold's best validation
MPJPE (each run's best, the seeds of a fold averaged) and the mean over the folds.

A run with a CSV log but neither metrics.json nor failed.json is unfinished (still running, or
stopped by a time limit): it has no test numbers and does not count in ``n``, but its curve so far
enters ``--curves`` and ``--folds``, where a fold that holds one is starred (its best can only
fall as the run goes on), and each is listed with its best so far.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ampose import tables
from ampose.fileio import write_text_atomic

# Columns: (heading, key in metrics.json's test_results, "pck:<name>" in its MPI-INF-3DHP PCK
# results, or "logged:<name>" for a logged value). The markdown table shows those some row has.
COLUMNS = (
    ("P1 action-wise", "mpjpe_action"),
    ("P1 frame-wise", "mpjpe"),
    ("P2 action-wise", "p_mpjpe_action"),
    ("P2 frame-wise", "p_mpjpe"),
    ("3DHP PCK", "pck:pck"),
    ("3DHP AUC", "pck:auc"),
    ("best val MPJPE frame-wise", "logged:val/mpjpe_best"),
)
HIGHER_IS_BETTER = {"3DHP PCK", "3DHP AUC"}
SORT_COLUMNS = {"test": "P1 action-wise", "val": "best val MPJPE frame-wise"}
FOLD_KEY = "data.val_subjects"  # the subjects held out of training: a fold of a leave-one-subject-out sweep
STREAM_KEY = "model.net.bf16_residual"  # said even where only the default set it (_overrides)
FOLDS_COLUMN = "best val MPJPE frame-wise, mean over folds"
# Overrides that differ between runs without saying anything about the experiment: where its
# numbers went (a sweep with logger=wandb beside one without) and the pictures drawn.
IGNORED_PREFIXES = ("hydra.", "logger", "num_pictures", "gallery", "callbacks.progress_bar",
                    "callbacks.validation_pictures")


@dataclass
class Run:
    path: Path
    overrides: dict[str, str]
    values: dict[str, float] = field(default_factory=dict)
    error: str | None = None
    curve: dict[int, float] = field(default_factory=dict)  # epoch (0-based) -> validation MPJPE
    copies: int = 1  # the real training samples and their virtual copies: an epoch's cost in plain epochs
    finished: bool = True  # False: a CSV log without metrics.json or failed.json (running, or stopped)

    def compute_curve(self) -> dict[int, float]:
        """The curve indexed by the plain epochs paid for (0-based): epoch e -> (e + 1) * copies - 1."""
        return {(e + 1) * self.copies - 1: v for e, v in self.curve.items()}


def _number(value: Any) -> float | None:
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def _curve(metrics: dict, run_dir: Path | None = None, key: str = "mpjpe_action") -> dict[int, float]:
    """The run's validation curve: metrics.json's ``val_curve``, or for runs written before it
    existed (session 8), the CSV log's ``val/<key>`` rows (``csv/metrics.csv`` in a run folder,
    ``train_metrics.csv`` in the experiments' copies); a resumed log's later row for an epoch wins."""
    out = {}
    for entry in metrics.get("val_curve") or []:
        value = _number(entry.get(key))
        if value is not None:
            out[int(entry["epoch"])] = value
    log = None if out or run_dir is None else next(
        (f for f in (run_dir / "csv" / "metrics.csv", run_dir / "train_metrics.csv") if f.is_file()), None)
    if log is not None:
        with log.open(newline="") as f:
            for row in csv.DictReader(f):
                value, epoch = _number(row.get(f"val/{key}")), _number(row.get("epoch"))
                if value is not None and epoch is not None:
                    out[int(epoch)] = value
    return out


def _is_folder(path: Path, run_dir: Path) -> bool:
    """Whether ``path`` (as the command was given it: absolute, or relative to where it ran) is
    ``run_dir``: the same folder from here, or ``run_dir``'s trailing folders (a summary run from
    elsewhere). A name alone does not say it: the jobs of every multirun are named 0, 1, ..."""
    if (Path.cwd() / path).resolve() == run_dir.resolve():
        return True
    parts = path.parts[1:] if path.anchor else path.parts  # without the leading "/"
    parts = parts[max((i + 1 for i, p in enumerate(parts) if p == ".."), default=0):]  # nor what ".." undoes
    return bool(parts) and run_dir.resolve().parts[-len(parts):] == parts


def _overrides(run_dir: Path, config: dict | None = None) -> dict[str, str]:
    """The run's Hydra overrides (``.hydra/overrides.yaml``; ``overrides.yaml`` in the
    experiments' copies made by experiments/real/collect.py)."""
    f = next((f for f in (run_dir / ".hydra" / "overrides.yaml", run_dir / "overrides.yaml") if f.exists()), None)
    if f is None:
        return {}
    out: dict[str, str] = {}
    for item in yaml.safe_load(f.read_text()) or []:
        key, _, value = str(item).partition("=")
        if key.startswith(IGNORED_PREFIXES):
            continue
        if value.lower() in ("true", "false"):
            value = value.lower()  # Hydra reads any case; a multirun records flip_test=True, a run flip_test=true
        if key == "ckpt_path" and _resumes_itself(value, run_dir, copied=f.parent == run_dir):
            continue  # a resume is the same experiment; an evaluated checkpoint does name the run
        out[key] = value  # a repeated key: the last one wins, as in Hydra
    # The bf16 residual stream became the default in session 19 without an override saying so; a run
    # that had it is told apart from older runs with the same overrides (which had the fp32 stream).
    config = _config(run_dir) if config is None else config
    net = ((config.get("model") or {}).get("net") or {})
    if STREAM_KEY not in out and net.get("bf16_residual") is True:
        out[STREAM_KEY] = "true"
    return out


def _config(run_dir: Path) -> dict:
    """The run's composed config (``.hydra/config.yaml``; ``config.yaml`` in the experiments' copies),
    or {} where neither was kept."""
    f = next((f for f in (run_dir / ".hydra" / "config.yaml", run_dir / "config.yaml") if f.is_file()), None)
    return (yaml.safe_load(f.read_text()) or {}) if f is not None else {}


def _resumes_itself(ckpt: str, run_dir: Path, copied: bool) -> bool:
    """``ckpt_path`` is the run's own checkpoint: ``last``, or a file in its own folder. The copies
    under experiments/*/runs have left that folder but kept its name (collect.py), so for them the
    name decides; an evaluation named like its training (eval job 0 of training job 0) is no resume."""
    trained = Path(ckpt).parent.parent
    return ckpt == "last" or (trained.name == run_dir.name if copied else _is_folder(trained, run_dir))


def _copies(overrides: dict[str, str], config: dict) -> int:
    """1 + the virtual copies of every training sequence (views, bodies, errors): from the run's composed
    config (``_config``, which sees what an experiment config set), else its overrides (the
    experiments' copies before session 20 kept only those)."""
    if config:
        data = config.get("data") or {}
    else:
        data = {k[len("data."):]: v for k, v in overrides.items() if k.startswith("data.")}
    return 1 + sum(int(_number(data.get(k)) or 0) for k in ("virtual_views", "virtual_bodies", "virtual_errors"))


def _values(metrics: dict) -> dict[str, float]:
    test, logged = metrics.get("test_results") or {}, metrics.get("logged") or {}
    out = {}
    for heading, key in COLUMNS:
        if key.startswith("logged:"):
            value = logged.get(key[len("logged:"):])
        elif key.startswith("pck:"):
            value = (test.get("pck") or {}).get(key[len("pck:"):])
        else:
            value = test.get(key)
        if isinstance(value, (int, float)) and math.isfinite(value):
            out[heading] = float(value)
    return out


def find_runs(root: str | Path) -> list[Run]:
    """Every run below ``root`` (finished or failed), in path order."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root} is not a folder of runs")
    runs = []
    for marker in sorted([*root.rglob("metrics.json"), *root.rglob("failed.json")]):
        run_dir = marker.parent
        if marker.name == "failed.json":
            if (run_dir / "metrics.json").exists():
                continue  # re-run after a failure: the metrics count
            runs.append(Run(run_dir, _overrides(run_dir), error=json.loads(marker.read_text()).get("error", "?")))
            continue
        try:
            metrics = json.loads(marker.read_text())
        except json.JSONDecodeError:
            runs.append(Run(run_dir, _overrides(run_dir), error="unreadable metrics.json"))
            continue
        config = _config(run_dir)  # read once for both
        overrides = _overrides(run_dir, config)
        runs.append(Run(run_dir, overrides, _values(metrics), curve=_curve(metrics, run_dir),
                        copies=_copies(overrides, config)))
    logged = {f.parent for f in root.rglob("train_metrics.csv")} | {f.parent.parent for f in root.rglob("csv/metrics.csv")}
    for run_dir in sorted(logged - {r.path for r in runs}):
        config = _config(run_dir)
        overrides = _overrides(run_dir, config)
        runs.append(Run(run_dir, overrides, curve=_curve({}, run_dir), copies=_copies(overrides, config),
                        finished=False))
    _name_evaluations_by_their_training(runs)
    return sorted(runs, key=lambda r: r.path)


def _job_name(run_dir: Path) -> str | None:
    """``train`` or ``eval`` from Hydra's record of the job (None for copies without ``.hydra``)."""
    f = run_dir / ".hydra" / "hydra.yaml"
    if not f.exists():
        return None
    try:
        return str(((yaml.safe_load(f.read_text()) or {}).get("hydra") or {}).get("job", {}).get("name"))
    except yaml.YAMLError:
        return None


def _name_evaluations_by_their_training(runs: list[Run]) -> None:
    """An evaluation of another run's checkpoint (``ckpt_path=<run>/checkpoints/<file>``) whose run
    is among ``runs`` takes that run's overrides plus its own as ``eval:<key>`` (without the
    checkpoint's path, which differs per seed), and always ``eval:checkpoint=<file>``: an
    evaluation is never counted as one more seed of its training's row. The run is found by its
    folder's name, and by its path when several share the name (``_is_folder``); otherwise, and
    for an ensemble (``ckpt_path=[A,B]``, of no one run), the evaluation keeps its own."""
    by_name: dict[str, list[Run]] = {}
    for r in runs:
        by_name.setdefault(r.path.name, []).append(r)
    for r in runs:
        ckpt = r.overrides.get("ckpt_path")
        if not ckpt or _job_name(r.path) == "train" or ckpt.lstrip().startswith("["):  # resumed; an ensemble
            continue
        trained = Path(ckpt).parent.parent
        found = [t for t in by_name.get(trained.name, []) if t is not r and "ckpt_path" not in t.overrides]
        if len(found) > 1:
            found = [t for t in found if _is_folder(trained, t.path)]
        if len(found) == 1:
            own = {"eval:checkpoint": Path(ckpt).name,
                   **{f"eval:{k}": v for k, v in r.overrides.items() if k != "ckpt_path"}}
            r.overrides = {**found[0].overrides, **own}


def varying_keys(runs: Sequence[Run]) -> list[str]:
    """Override keys whose value is not the same in every run (absent counts as a value)."""
    keys = sorted({k for r in runs for k in r.overrides})
    return [k for k in keys if len({r.overrides.get(k) for r in runs}) > 1]


def mean_std(values: Sequence[float]) -> tuple[float, float | None]:
    """Mean and sample standard deviation (n - 1; None for a single value: no spread was measured)."""
    n = len(values)
    mean = sum(values) / n
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else None
    return mean, std


@dataclass
class Row:
    name: str
    runs: list[Run]
    stats: dict[str, tuple[float, float | None]]  # heading -> mean_std
    failed: int
    val_over_folds: float | None = None  # see _mean_over_folds
    folds: int = 0  # held-out folds with a best validation MPJPE

    @property
    def n(self) -> int:
        """The runs with test numbers: neither failed nor unfinished."""
        return sum(run.error is None and run.finished for run in self.runs)


def _fold(run: Run) -> str | None:
    """The run's held-out subjects; None when it validated on the test subjects (unset, null or [])."""
    value = run.overrides.get(FOLD_KEY)
    return None if value is None or value.strip().lower() in ("null", "[]", "") else value


def _mean_over_folds(runs: Sequence[Run], heading: str = SORT_COLUMNS["val"]) -> tuple[float | None, int]:
    """The mean over the held-out folds of each fold's mean over its runs, and the number of folds.
    Runs validated on the test subjects are left out, unless no run has a fold (then their mean, 0)."""
    per: dict[str | None, list[float]] = {}
    for r in runs:
        if heading in r.values:
            per.setdefault(_fold(r), []).append(r.values[heading])
    held = {f: v for f, v in per.items() if f is not None}
    means = [sum(v) / len(v) for v in (held or per).values()]
    return (sum(means) / len(means) if means else None), len(held)


def summarise(runs: Sequence[Run], over: Sequence[str] = ("seed",), sort_by: str = "test") -> list[Row]:
    """Group runs that differ only in the ``over`` keys; best first by ``sort_by`` (``test``: the
    test P1 MPJPE, ``val``: the best validation MPJPE's mean over the folds, rows with fewer folds
    than the most any row has after those with all), rows without that value and failures last."""
    if sort_by not in SORT_COLUMNS:
        raise ValueError(f"sort_by must be one of {sorted(SORT_COLUMNS)}, got {sort_by!r}")
    keys = [k for k in varying_keys(runs) if k not in over]
    groups: dict[str, list[Run]] = {}
    for run in runs:
        name = " ".join(f"{k}={run.overrides[k]}" for k in keys if k in run.overrides)
        if not name:  # nothing but the `over` keys varies: one row (runs without overrides: by folder)
            name = "all runs" if run.overrides else run.path.name
        groups.setdefault(name, []).append(run)
    rows = []
    for name, members in groups.items():
        ok = [r for r in members if r.error is None and r.finished]
        stats = {}
        for heading, _ in COLUMNS:
            vals = [r.values[heading] for r in ok if heading in r.values]
            if vals:
                stats[heading] = mean_std(vals)
        rows.append(Row(name, members, stats, sum(r.error is not None for r in members), *_mean_over_folds(ok)))
    if sort_by == "val":  # the folds' mean: a pooled mean would weigh a fold by its seeds
        most = max((r.folds for r in rows), default=0)
        return sorted(rows, key=lambda r: (r.val_over_folds is None, most - r.folds, r.val_over_folds or 0.0, r.name))
    col = SORT_COLUMNS[sort_by]
    if sort_by == "test" and not any(col in r.stats for r in rows) and any("3DHP PCK" in r.stats for r in rows):
        col = "3DHP PCK"  # a cross-dataset sweep tested on MPI-INF-3DHP alone: no action-wise P1
    sign = -1.0 if col in HIGHER_IS_BETTER else 1.0
    return sorted(rows, key=lambda r: (col not in r.stats, sign * r.stats.get(col, (0.0, 0.0))[0], r.name))


def _with_curves(runs: Sequence[Run]) -> list[Run]:
    return [r for r in runs if r.error is None and r.curve]


def _mean_over_epochs(curves: Sequence[dict[int, float]]) -> dict[int, float]:
    # Only the epochs every curve has: a run cut short must not make the others' mean look like
    # a longer schedule's.
    if not curves:
        return {}
    epochs = sorted(set.intersection(*(set(c) for c in curves)))
    return {e: sum(c[e] for c in curves) / len(curves) for e in epochs}


def mean_curve(runs: Sequence[Run], by: Sequence[str] = (), equal_compute: bool = False) -> dict[int, float]:
    """Per epoch, the mean validation MPJPE of the runs. With ``by`` (e.g. the held-out subjects'
    key), the runs are first averaged within each value of those keys (the seeds of one fold), then
    the folds alike, so a fold with more seeds does not weigh more. ``equal_compute``: per plain
    epoch paid for (``Run.compute_curve``), at the points every curve has."""
    groups: dict[tuple, list[dict[int, float]]] = {}
    for r in _with_curves(runs):
        groups.setdefault(tuple(r.overrides.get(k) for k in by), []).append(
            r.compute_curve() if equal_compute else r.curve)
    return _mean_over_epochs([_mean_over_epochs(g) for g in groups.values()])


def curves_markdown(rows: Sequence[Row], by: Sequence[str] = (), equal_compute: bool = False) -> str:
    """One line per row: runs averaged, the epoch (1-based) where the mean curve is lowest, its
    value and the last epoch's, then the mean curve itself (``by``, ``equal_compute``: see
    ``mean_curve``; a blank cell is an epoch that not every run reached)."""
    means = {r.name: mean_curve(r.runs, by, equal_compute) for r in rows}
    width = max((max(m) + 1 for m in means.values() if m), default=0)
    head = ["run", "n", "best epoch", "mean at best", "mean at last", *(str(e + 1) for e in range(width))]
    body = []
    for r in rows:
        m = means[r.name]
        if not m:
            body.append([r.name, "0", "", "", "", *([""] * width)])
            continue
        best = min(m, key=m.get)
        body.append([r.name, str(len(_with_curves(r.runs))), str(best + 1), f"{m[best]:.1f}", f"{m[max(m)]:.1f}",
                     *(f"{m[e]:.1f}" if e in m else "" for e in range(width))])
    return tables.to_markdown((head, body))


def _fold_runs(runs: Sequence[Run], fold_key: str) -> dict[str, list[Run]]:
    """Per held-out fold (the value of ``fold_key``), its runs with a curve. Runs without the key
    (validated on the test subjects) have no fold and are left out."""
    per: dict[str, list[Run]] = {}
    for r in _with_curves(runs):
        if fold_key in r.overrides:
            per.setdefault(str(r.overrides[fold_key]), []).append(r)
    return dict(sorted(per.items()))


def _mean_best(runs: Sequence[Run]) -> float:
    """The mean over the runs (seeds) of each run's best validation MPJPE (an unfinished run's best so far)."""
    return sum(min(r.curve.values()) for r in runs) / len(runs)


def fold_bests(runs: Sequence[Run], fold_key: str = "data.val_subjects") -> dict[str, float]:
    """Per held-out fold, the mean over its runs (seeds) of each run's best validation MPJPE: the
    number a rule like "better on every fold at its best" reads."""
    return {f: _mean_best(rs) for f, rs in _fold_runs(runs, fold_key).items()}


def folds_markdown(rows: Sequence[Row], fold_key: str = "data.val_subjects") -> str:
    """One line per row: each fold's best (``fold_bests``) and their mean. The mean is left blank
    for a row that lacks one of the table's folds: a mean over fewer folds is not comparable. A
    star marks a fold (and the mean) that holds an unfinished run's best so far."""
    per_row = {r.name: _fold_runs(r.runs, fold_key) for r in rows}
    folds = sorted({f for per in per_row.values() for f in per})
    body = []
    for name, per in per_row.items():
        if not per:
            continue
        b = {f: _mean_best(rs) for f, rs in per.items()}
        star = {f: "*" if any(not r.finished for r in rs) else "" for f, rs in per.items()}
        mean = f"{sum(b.values()) / len(b):.2f}{'*' if any(star.values()) else ''}" if len(b) == len(folds) else ""
        runs = [str(len(per.get(f, []))) for f in folds]
        body.append([name, *(f"{b[f]:.2f}{star[f]}" if f in b else "" for f in folds), mean, " / ".join(runs)])
    return tables.to_markdown((["run", *folds, "mean over folds", "runs per fold"], body))


def repeated_runs(rows: Sequence[Row], over: Sequence[str]) -> list[tuple[Row, str, list[Path]]]:
    """Per row, the ``over`` values (e.g. ``seed=1``) that more than one of its counted runs has, and
    those runs: a repeat, which ``n`` counts as one more seed."""
    out = []
    for row in rows:
        by_value: dict[str, list[Path]] = {}
        for r in row.runs:
            if r.error is None and r.finished:
                value = " ".join(f"{k}={r.overrides.get(k, '<default>')}" for k in over) or "the same overrides"
                by_value.setdefault(value, []).append(r.path)
        out += [(row, value, paths) for value, paths in by_value.items() if len(paths) > 1]
    return out


def _cell(stat: tuple[float, float | None] | None) -> str:
    if stat is None:
        return ""
    return f"{stat[0]:.1f}" if stat[1] is None else f"{stat[0]:.1f} ± {stat[1]:.1f}"


def _folds_cell(row: Row, most: int) -> str:
    if row.val_over_folds is None or not row.folds:
        return ""
    return f"{row.val_over_folds:.1f}" + (f" ({row.folds} of {most} folds)" if row.folds < most else "")


def to_markdown(rows: Sequence[Row]) -> str:
    """The table; with several held-out folds also the best validation MPJPE's mean over them (what
    ``--sort-by val`` orders by), a row with fewer folds marked."""
    shown = ([h for h, _ in COLUMNS if any(h in r.stats for r in rows)]
             or [h for h, _ in COLUMNS if h not in HIGHER_IS_BETTER])  # nothing finished: the usual columns
    most = max((r.folds for r in rows), default=0)
    head = ["run", "n", *shown, *([FOLDS_COLUMN] if most > 1 else []), "failed"]
    body = []
    for r in rows:
        cells = [_cell(r.stats.get(h)) for h in shown] + ([_folds_cell(r, most)] if most > 1 else [])
        body.append([r.name, str(r.n), *cells, str(r.failed) if r.failed else ""])
    return tables.to_markdown((head, body))


def write_csv(rows: Sequence[Row], path: str | Path) -> Path:
    """One line per row: name, n, failed, then mean and std (empty for a single value) of every
    column, then the best validation MPJPE's mean over the held-out folds and their number
    (written atomically)."""
    head = ["run", "n", "failed", *(f"{h} {s}" for h, _ in COLUMNS for s in ("mean", "std")), FOLDS_COLUMN, "folds"]
    body = []
    for r in rows:
        stats = [f"{v:.4f}" if v is not None else "" for h, _ in COLUMNS
                 for v in (r.stats[h] if h in r.stats else (None, None))]
        over_folds = f"{r.val_over_folds:.4f}" if r.val_over_folds is not None and r.folds else ""
        body.append([r.name, str(r.n), str(r.failed), *stats, over_folds, str(r.folds)])
    return tables.write_csv((head, body), path)


try:  # hydra-core is a dependency; the guard keeps this module importable without it
    from hydra.experimental.callback import Callback as _HydraCallback
except ImportError:  # pragma: no cover
    _HydraCallback = object  # type: ignore[assignment,misc]


class SweepSummary(_HydraCallback):  # type: ignore[misc,valid-type]
    """Hydra callback (conf/hydra/default.yaml): write ``summary.md`` (with the mean validation
    curves when the runs logged any) and ``summary.csv`` into a multirun's sweep folder, after
    every job and at the end. After every job because Hydra skips ``on_multirun_end`` when a job
    failed: the summary then still covers the whole sweep, the failure counted. A failure here is
    logged, never raised: the jobs' own results are already on disk."""

    def on_job_end(self, config: Any, job_return: Any = None, **kwargs: Any) -> None:
        try:
            multirun = str(config.hydra.mode).endswith("MULTIRUN")
        except Exception:  # noqa: BLE001 - a config without Hydra's node: nothing to summarise
            return
        if multirun:
            self.on_multirun_end(config)

    def on_multirun_end(self, config: Any, **kwargs: Any) -> None:
        import logging

        log = logging.getLogger("ampose.summary")
        try:
            root = Path(config.hydra.sweep.dir)
            runs = find_runs(root) if root.is_dir() else []
            if not runs:
                return
            rows = summarise(runs)
            text = to_markdown(rows) + "\n"
            if any(r.curve for r in runs):
                text += "\nValidation MPJPE (action-wise, mm) per epoch, mean over each row's seeds:\n\n"
                text += curves_markdown(rows) + "\n"
            write_text_atomic(root / "summary.md", text)
            write_csv(rows, root / "summary.csv")
            log.info("sweep summary: %s", root / "summary.md")
        except Exception as e:  # noqa: BLE001
            log.warning("could not write the sweep summary: %s", e)


def _override_keys(runs: list[Run]) -> set[str]:
    return {k.removeprefix("eval:") for r in runs for k in r.overrides}


def unknown_keys(runs: list[Run], keys: Sequence[str]) -> list[str]:
    """The keys (other than seed, which runs often leave at its default) that no run's overrides set:
    most likely a typo, which would otherwise give one merged row or an empty fold table."""
    known = _override_keys(runs)
    return [k for k in keys if k != "seed" and k not in known]


def _did_you_mean(runs: list[Run], key: str) -> str:
    import difflib

    close = difflib.get_close_matches(key, sorted(_override_keys(runs)), n=3)
    return f" (did you mean {', '.join(close)}?)" if close else ""


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="ampose-summary", description=__doc__.split("\n\n")[0])
    p.add_argument("root", help="a Hydra multirun folder, or any folder holding runs")
    p.add_argument("--over", default="seed", help="comma-separated keys to average over (default: seed)")
    p.add_argument("--csv", default=None, help="also write the table as CSV here")
    p.add_argument("--sort-by", choices=sorted(SORT_COLUMNS), default="test",
                   help="order rows by the test P1 MPJPE, or by the best validation MPJPE (held-out selection): "
                        "the mean over the folds (data.val_subjects) of each fold's mean over its seeds; a row "
                        "with fewer folds than the most any row has comes after those with all")
    p.add_argument("--curves", action="store_true",
                   help="also print each row's validation curve averaged over its runs (action-wise "
                        "MPJPE per epoch) and the epoch where that mean is lowest: a training length chosen on folds")
    p.add_argument("--equal-compute", action="store_true",
                   help="with --curves: index the curves by the epochs of real training samples paid for, so "
                        "runs with virtual copies (data.virtual_bodies/views/errors) line up with plain ones")
    p.add_argument("--folds", default=None, metavar="KEY",
                   help="also print, per row, each fold's best validation MPJPE (the mean over its seeds of "
                        "each run's best) and the mean over the folds; KEY names the fold (e.g. data.val_subjects)")
    args = p.parse_args(argv)
    try:
        runs = find_runs(args.root)
    except FileNotFoundError as e:
        print(f"ampose-summary: error: {e}", file=sys.stderr)
        raise SystemExit(2) from None
    if not runs:
        print(f"ampose-summary: error: no runs (metrics.json, failed.json or a CSV log) below {args.root}",
              file=sys.stderr)
        raise SystemExit(2)
    over = [k for k in args.over.split(",") if k]
    for key in unknown_keys(runs, over + ([args.folds] if args.folds else [])):
        print(f"ampose-summary: warning: no run sets {key}{_did_you_mean(runs, key)}", file=sys.stderr)
    rows = summarise(runs, over=over, sort_by=args.sort_by)
    for row, value, paths in repeated_runs(rows, over):
        print(f"ampose-summary: warning: row '{row.name}' holds {value} {len(paths)} times ({', '.join(map(str, paths))}): "
              f"n counts each run, not each seed", file=sys.stderr)
    print(to_markdown(rows))
    if args.curves:
        folds = [k for k in over if k != "seed"]
        within = f"the seeds of each {', '.join(folds)} first, then those" if folds else "each row's runs"
        per = "plain epoch paid for (a virtual copy doubles an epoch's cost)" if args.equal_compute else "epoch"
        print(f"\nvalidation MPJPE (action-wise, mm) per {per}, mean over {within}:\n")
        print(curves_markdown(rows, by=folds, equal_compute=args.equal_compute))
    if args.folds:
        print(f"\nbest validation MPJPE (action-wise, mm) per {args.folds}, each fold's seeds averaged:\n")
        table = folds_markdown(rows, args.folds)
        print(table)
        if "*" in table:
            print("\n* holds an unfinished run's best so far (listed below): its final best can only be lower")
    for r in rows:
        for run in r.runs:
            if run.error:
                print(f"failed: {run.path}: {run.error}")
            elif not run.finished:
                best = min(run.curve, key=run.curve.get) if run.curve else None
                so_far = (f"best validation {run.curve[best]:.2f} mm at epoch {best + 1} of {max(run.curve) + 1} so far"
                          if best is not None else "no validation yet")
                print(f"unfinished: {run.path}: {so_far}")
    if args.csv:
        print(f"wrote {write_csv(rows, args.csv)}")


if __name__ == "__main__":
    main()
