"""Training callbacks of ampose's own."""

from __future__ import annotations

import time
from typing import Any

import pytorch_lightning as pl
import torch


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
