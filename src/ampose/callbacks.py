"""Training callbacks of ampose's own."""

from __future__ import annotations

import time
from typing import Any

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import ModelCheckpoint


class Throughput(pl.Callback):
    """Training samples per second, per epoch (logged as ``train/samples_per_s``).

    Only training counts: the clock stops when a validation starts (a sync) and restarts at the
    next training batch, so validation and the checkpoint writes after it are left out. Batch
    sizes are read from tensor shapes (host metadata), and the device is synchronised only at
    those edges, so the hot loop gains no host-device sync. Under DDP the samples of all ranks
    are summed at the epoch's end (one collective per epoch), over rank 0's time. The first
    epoch includes compilation and warm-up; ``steady_samples_per_s`` averages the later ones.
    ``samples_history`` holds the samples of every epoch (all ranks).
    """

    def __init__(self) -> None:
        self.samples = 0
        self.start: float | None = None  # None: the clock is stopped
        self.elapsed = 0.0
        self.history: list[float] = []
        self.samples_history: list[int] = []

    @staticmethod
    def _sync(trainer: pl.Trainer) -> None:
        if trainer.strategy.root_device.type == "cuda":
            torch.cuda.synchronize(trainer.strategy.root_device)

    def _stop(self, trainer: pl.Trainer) -> None:
        if self.start is not None:
            self._sync(trainer)
            self.elapsed += time.perf_counter() - self.start
            self.start = None

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._sync(trainer)
        self.samples, self.elapsed, self.start = 0, 0.0, time.perf_counter()

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any,
                             batch_idx: int) -> None:
        if self.start is None:  # the first batch after a validation inside the epoch
            self.start = time.perf_counter()

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any,
                           batch: Any, batch_idx: int) -> None:
        x = batch["pose2d"] if isinstance(batch, dict) else batch[0]
        self.samples += int(x.shape[0])  # this rank's

    def on_validation_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._stop(trainer)  # a no-op outside a training epoch (sanity check, trainer.validate)

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._stop(trainer)
        elapsed = self.elapsed
        if trainer.world_size > 1:  # every rank gets here: sum the samples of all ranks
            local = torch.tensor(float(self.samples), dtype=torch.float64, device=trainer.strategy.root_device)
            self.samples = int(trainer.strategy.reduce(local, reduce_op="sum").item())
        self.samples_history.append(self.samples)
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
    """``last.ckpt`` rewritten at the end of every training epoch, whatever the monitored metric
    or the validation schedule did.

    Lightning's ``save_last`` (2.5+) refreshes ``last.ckpt`` only when a top-k checkpoint was
    saved in the same step, so with ``save_top_k=1`` on ``val/mpjpe`` the "last" file silently
    holds the best epoch: a resumed run would restart from the wrong epoch and "test the last
    weights" would in fact select on validation. Lightning's own timing saves after validation,
    which is wrong twice: with ``check_val_every_n_epoch`` > 1 the epochs without a validation
    are never saved (``test_ckpt=last`` tested stale weights), and with ``val_check_interval``
    < 1 a file written mid-epoch would resume at the epoch's first batches again. So this
    callback owns ``last.ckpt`` alone (the best-checkpoint callback keeps ``save_last: false``)
    and writes it only at an epoch's end, after that epoch's validation (Lightning runs
    ``on_train_epoch_end`` then). ``ckpt_path=last`` finds it. Lightning writes checkpoint
    files atomically (temporary file, then rename).
    """

    def __init__(self, dirpath: str) -> None:
        super().__init__(dirpath=dirpath, monitor=None, save_top_k=0, save_last=True, enable_version_counter=False)

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not self._should_skip_saving_checkpoint(trainer):
            self._save_last_checkpoint(trainer, self._monitor_candidates(trainer))

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        pass  # never mid-epoch (see the class docstring)


class ValidationPictures(pl.Callback):
    """A few validation poses (2D input, prediction, truth) as images to W&B.

    Acts only when a ``WandbLogger`` is attached, on rank 0, on the first validation batch of
    every ``every_n_epochs``-th epoch, so it costs nothing in runs that log elsewhere.
    """

    def __init__(self, count: int = 2, every_n_epochs: int = 1) -> None:
        self.count, self.every_n_epochs = count, max(1, every_n_epochs)

    def on_validation_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any,
                                batch: Any, batch_idx: int, dataloader_idx: int = 0) -> None:
        if batch_idx or trainer.sanity_checking or trainer.current_epoch % self.every_n_epochs:
            return
        loggers = [lg for lg in trainer.loggers if type(lg).__name__ == "WandbLogger"]
        if not loggers or not trainer.is_global_zero or self.count <= 0:
            return
        from ampose import viz

        x = batch["pose2d"][: self.count]
        with torch.no_grad():
            pred = pl_module.predict_3d(x).float().cpu().numpy()
        truth = batch["pose3d"][: self.count].float().cpu().numpy()
        images = [viz.render_pose(x[i].float().cpu().numpy(), pred[i], truth[i]) for i in range(len(x))]
        for lg in loggers:
            lg.log_image(key="val/pictures", images=images, step=trainer.global_step)
