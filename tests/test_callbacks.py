from types import SimpleNamespace

import numpy as np
import torch

from ampose.callbacks import ValidationPictures
from ampose.lit_module import LiftingModule
from ampose.models import AMPose


class WandbLogger:  # stands in for the real one: the callback matches on the class name
    def __init__(self):
        self.calls = []

    def log_image(self, key, images, step):
        self.calls.append((key, images, step))


def test_validation_pictures_go_to_wandb_only():
    lit = LiftingModule(AMPose(17, dim=16, depth=1, num_heads=2)).eval()
    batch = {"pose2d": torch.rand(5, 17, 2) - 0.5, "pose3d": torch.rand(5, 17, 3) - 0.5}
    wandb, other = WandbLogger(), SimpleNamespace()
    trainer = SimpleNamespace(sanity_checking=False, current_epoch=2, loggers=[wandb, other], is_global_zero=True,
                              global_step=7)
    cb = ValidationPictures(count=2)
    cb.on_validation_batch_end(trainer, lit, None, batch, batch_idx=0)
    cb.on_validation_batch_end(trainer, lit, None, batch, batch_idx=1)  # only the first batch
    assert len(wandb.calls) == 1
    key, images, step = wandb.calls[0]
    assert key == "val/pictures" and step == 7 and len(images) == 2
    assert images[0].dtype == np.uint8 and images[0].ndim == 3 and images[0].std() > 0
    trainer.sanity_checking = True
    cb.on_validation_batch_end(trainer, lit, None, batch, batch_idx=0)
    assert len(wandb.calls) == 1


def test_throughput_counts_training_time_only(tiny_dm, monkeypatch):
    """Validation (and the checkpoint writes after it) stop the clock: a fake clock advanced 1 s
    per training batch and 100 s per validation batch gives exactly samples / training seconds."""
    import pytorch_lightning as pl

    from ampose import callbacks

    clock = [0.0]
    monkeypatch.setattr(callbacks.time, "perf_counter", lambda: clock[0])

    class Timed(LiftingModule):
        def training_step(self, batch, batch_idx):
            clock[0] += 1.0
            return super().training_step(batch, batch_idx)

        def validation_step(self, batch, batch_idx):
            clock[0] += 100.0
            return super().validation_step(batch, batch_idx)

    cb = callbacks.Throughput()
    trainer = pl.Trainer(max_epochs=2, accelerator="cpu", logger=False, enable_progress_bar=False,
                         enable_model_summary=False, enable_checkpointing=False, num_sanity_val_steps=1,
                         val_check_interval=0.5, callbacks=[cb])
    trainer.fit(Timed(net={"_target_": "ampose.models.AMPose", "num_joints": 17, "dim": 16, "depth": 1,
                           "num_heads": 2}), datamodule=tiny_dm())
    batches = trainer.num_training_batches
    assert cb.samples_history[0] > 0 and len(cb.history) == 2
    assert cb.history == [n / batches for n in cb.samples_history]  # samples per training second
