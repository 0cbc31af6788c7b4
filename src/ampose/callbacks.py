"""Training callbacks of ampose's own."""

from __future__ import annotations

import time
from typing import Any

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import ModelCheckpoint


class Throughput(pl.Callback):
    """Training samples per second, per epoch (logged as ``train/samples_per_s``).

    Batch sizes are read from tensor shapes (host metadata), and the device is synchronised
    only at the epoch's edges, so the hot loop gains no host-device sync. The first epoch
    includes compilation and warm-up; ``steady_samples_per_s`` averages the later ones.
    """

    def __init__(self) -> None:
        self.samples = 0
        self.start = 0.0
        self.history: list[float] = []

    @staticmethod
    def _sync(trainer: pl.Trainer) -> None:
        if trainer.strategy.root_device.type == "cuda":
            torch.cuda.synchronize(trainer.strategy.root_device)

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._sync(trainer)
        self.samples, self.start = 0, time.perf_counter()

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any,
                           batch: Any, batch_idx: int) -> None:
        x = batch["pose2d"] if isinstance(batch, dict) else batch[0]
        self.samples += int(x.shape[0]) * trainer.world_size

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._sync(trainer)
        elapsed = time.perf_counter() - self.start
        if self.samples and elapsed > 0:
            rate = self.samples / elapsed
            self.history.append(rate)
            pl_module.log("train/samples_per_s", rate, rank_zero_only=True)

    @property
    def steady_samples_per_s(self) -> float | None:
        """Mean rate over the epochs after the first (all epochs if there is only one)."""
        rates = self.history[1:] or self.history
        return sum(rates) / len(rates) if rates else None


class LastCheckpoint(ModelCheckpoint):
    """``last.ckpt`` rewritten after every epoch, whatever the monitored metric did.

    Lightning's ``save_last`` (2.5+) refreshes ``last.ckpt`` only when a top-k checkpoint was
    saved in the same step, so with ``save_top_k=1`` on ``val/mpjpe`` the "last" file silently
    holds the best epoch: a resumed run would restart from the wrong epoch and "test the last
    weights" would in fact select on validation. This callback owns ``last.ckpt`` alone (the
    best-checkpoint callback keeps ``save_last: false``), and ``ckpt_path=last`` finds it.
    Lightning writes checkpoint files atomically (temporary file, then rename).
    """

    def __init__(self, dirpath: str) -> None:
        super().__init__(dirpath=dirpath, monitor=None, save_top_k=0, save_last=True, enable_version_counter=False)

    def _save_now(self, trainer: pl.Trainer) -> None:
        if not self._should_skip_saving_checkpoint(trainer):
            self._save_last_checkpoint(trainer, self._monitor_candidates(trainer))

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self._should_save_on_train_epoch_end(trainer):
            self._save_now(trainer)

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not self._should_save_on_train_epoch_end(trainer):
            self._save_now(trainer)
