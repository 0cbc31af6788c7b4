"""The CSV logger keeps the log of the run it resumes, up to the checkpoint's step."""

from __future__ import annotations

import csv
from pathlib import Path

from ampose.loggers import CSVLogger


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def _first_run(tmp_path: Path) -> Path:
    log = CSVLogger(save_dir=tmp_path, name="csv", version="")
    for step, loss in ((5, 0.5), (10, 0.4), (15, 0.3)):
        log.log_metrics({"train/loss": loss}, step=step)
    log.save()
    return tmp_path / "csv" / "metrics.csv"


def test_resumed_log_keeps_rows_up_to_the_checkpoint_step_and_appends(tmp_path):
    path = _first_run(tmp_path)
    # resumed from a checkpoint at step 10: the interrupted process's step 15 is logged again
    log = CSVLogger(save_dir=tmp_path, name="csv", version="", keep_until_step=10)
    log.log_metrics({"train/loss": 0.25}, step=15)
    log.log_metrics({"train/loss": 0.2, "val/mpjpe": 40.0}, step=20)  # a new column
    log.save()
    rows = _rows(path)
    assert [r["step"] for r in rows] == ["5", "10", "15", "20"]
    assert [r["train/loss"] for r in rows] == ["0.5", "0.4", "0.25", "0.2"]
    assert [r["val/mpjpe"] for r in rows] == ["", "", "", "40.0"]


def test_without_a_resume_step_the_log_starts_afresh(tmp_path):
    path = _first_run(tmp_path)
    log = CSVLogger(save_dir=tmp_path, name="csv", version="")
    log.log_metrics({"train/loss": 0.9}, step=1)
    log.save()
    assert [(r["step"], r["train/loss"]) for r in _rows(path)] == [("1", "0.9")]


def test_an_extended_run_drops_the_earlier_test_row(tmp_path):
    """A finished run resumed for more epochs tests again: its earlier test row (at the step of
    its last checkpoint) is not kept beside the new one."""
    log = CSVLogger(save_dir=tmp_path, name="csv", version="")
    log.log_metrics({"train/loss": 0.4, "val/mpjpe": 50.0}, step=10)
    log.log_metrics({"test/mpjpe": 48.0}, step=10)
    log.save()
    log = CSVLogger(save_dir=tmp_path, name="csv", version="", keep_until_step=10)
    log.log_metrics({"train/loss": 0.3, "val/mpjpe": 45.0}, step=20)
    log.log_metrics({"test/mpjpe": 44.0}, step=20)
    log.save()
    rows = _rows(tmp_path / "csv" / "metrics.csv")
    assert [(r["step"], r["test/mpjpe"]) for r in rows] == [("10", ""), ("20", ""), ("20", "44.0")]
