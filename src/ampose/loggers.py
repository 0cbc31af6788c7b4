"""A CSV logger that keeps the log of the run it resumes.

Lightning's CSVLogger deletes an existing ``metrics.csv`` when it starts, so a run resumed from
its ``last.ckpt`` (the way long runs are split into short GPU calls) loses its training curve.
Here a resumed run keeps the earlier rows up to the checkpoint's step and appends its own; rows
logged after that step by the interrupted process are dropped, since the resumed run logs those
steps again, and so is a test row of the earlier run (a finished run extended tests again).
"""

from __future__ import annotations

import csv
import io
from typing import Any

from fsspec.implementations.local import LocalFileSystem
from pytorch_lightning.loggers import CSVLogger as _LightningCSVLogger
from pytorch_lightning.loggers.csv_logs import ExperimentWriter as _LightningWriter
from pytorch_lightning.loggers.logger import rank_zero_experiment

from ampose.fileio import write_text_atomic


class _KeepingWriter(_LightningWriter):
    """Lightning's writer, but an existing metrics file is trimmed to ``keep_until_step``
    instead of deleted."""

    def __init__(self, log_dir: str, keep_until_step: int) -> None:
        self._keep_until_step = keep_until_step
        super().__init__(log_dir=log_dir)

    def _check_log_dir_exists(self) -> None:  # called by the base __init__
        if not self._fs.isfile(self.metrics_file_path):
            return
        with self._fs.open(self.metrics_file_path, "r", newline="") as f:
            reader = csv.DictReader(f)
            keys = list(reader.fieldnames or [])
            # A test of the earlier run is not part of the curve: the resumed run tests again.
            rows = [r for r in reader if _step(r) <= self._keep_until_step and not _is_test_row(r)]
        text = io.StringIO(newline="")
        writer = csv.DictWriter(text, fieldnames=keys)
        writer.writeheader()
        writer.writerows(rows)
        if isinstance(self._fs, LocalFileSystem):
            write_text_atomic(self.metrics_file_path, text.getvalue())  # a kill here loses no rows
        else:  # a remote save_dir (fsspec): no rename there
            with self._fs.open(self.metrics_file_path, "w", newline="") as f:
                f.write(text.getvalue())
        self.metrics_keys = keys  # save() appends under this header, rewriting it for new keys


def _is_test_row(row: dict[str, str]) -> bool:
    return any(v not in (None, "") for k, v in row.items() if k and k.startswith("test/"))


def _step(row: dict[str, str]) -> float:
    try:
        return float(row.get("step") or "inf")
    except ValueError:
        return float("inf")


class CSVLogger(_LightningCSVLogger):
    """``pytorch_lightning.loggers.CSVLogger`` plus ``keep_until_step``: None starts a fresh
    ``metrics.csv`` (Lightning's behaviour); a step keeps the existing file's rows up to it.
    ``ampose-train`` sets it to the checkpoint's step when it resumes a run."""

    def __init__(self, *args: Any, keep_until_step: int | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.keep_until_step = keep_until_step

    @property
    @rank_zero_experiment
    def experiment(self) -> _LightningWriter:
        if self._experiment is not None:
            return self._experiment
        if self.keep_until_step is None:
            return super().experiment
        self._fs.makedirs(self.root_dir, exist_ok=True)
        self._experiment = _KeepingWriter(self.log_dir, self.keep_until_step)
        return self._experiment
