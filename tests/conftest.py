"""Shared fixtures: a tiny in-memory DataModule, and the real Hydra config composed and shrunk."""

from __future__ import annotations

import pytorch_lightning as pl
import pytest
import torch
from torch.utils.data import DataLoader, Dataset

from ampose.data.skeleton import skeleton_for


class _Frames(Dataset):
    def __init__(self, n: int, num_joints: int, seed: int, scenes: bool) -> None:
        g = torch.Generator().manual_seed(seed)
        pose3d = 0.3 * torch.randn(n, num_joints, 3, generator=g)
        pose3d[:, 0] = 0.0
        depth = 5.0 + pose3d[..., 2:]
        self.t = {
            "pose3d": pose3d,
            "pose2d": pose3d[..., :2] / depth,
            "action": torch.arange(n) % 15,
            "subject": torch.zeros(n, dtype=torch.long),
            "camera": torch.zeros(n, dtype=torch.long),
            "scene": (torch.arange(n) % 3) if scenes else torch.full((n,), -1),
        }

    def __len__(self) -> int:
        return len(self.t["pose2d"])

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {k: v[i] for k, v in self.t.items()}


class TinyDataModule(pl.LightningDataModule):
    """In-memory stand-in with the PoseDataModule contract (num_joints, skeleton, dict batches)."""

    def __init__(self, num_joints: int = 17, n: int = 64, batch_size: int = 16, scenes: bool = False) -> None:
        super().__init__()
        self.num_joints, self.skeleton = num_joints, skeleton_for(num_joints)
        self.n, self.batch_size, self.scenes = n, batch_size, scenes

    def train_dataloader(self) -> DataLoader:
        return DataLoader(_Frames(self.n, self.num_joints, 0, self.scenes), batch_size=self.batch_size, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return DataLoader(_Frames(self.n // 2, self.num_joints, 1, self.scenes), batch_size=self.batch_size)

    def test_dataloader(self) -> DataLoader:
        return DataLoader(_Frames(self.n // 2, self.num_joints, 2, self.scenes), batch_size=self.batch_size)


@pytest.fixture
def tiny_dm():
    return TinyDataModule


# ----------------------------------------------------------------------------- real configs
@pytest.fixture(scope="session")
def synthetic_root(tmp_path_factory):
    """One synthetic dataset for the whole session (generated on first use by the DataModule)."""
    import os

    shared = os.environ.get("AMPOSE_TEST_DATA_DIR")  # reuse across sessions if set
    return shared or str(tmp_path_factory.mktemp("synthetic"))


# A real-config run shrunk to seconds on CPU: tiny network, small batches, no pictures.
SHRINK = ["data.batch_size=64", "data.eval_batch_size=512", "num_pictures=0"]
SHRINK_NET = {
    "mlp": ["model.net.width=32"],
    "pure_gcn": ["model.net.dim=16", "model.net.depth=1"],
    "default": ["model.net.dim=16", "model.net.depth=1", "model.net.num_heads=2"],
}


def shrink_overrides(overrides) -> list[str]:
    """SHRINK plus the network shrink that fits the chosen model."""
    model = next((o.split("=", 1)[1] for o in overrides if o.startswith("model=")), "default")
    return [*SHRINK, *SHRINK_NET.get(model, SHRINK_NET["default"])]


@pytest.fixture
def compose_train(tmp_path, synthetic_root):
    """compose_train(*overrides) -> the real train config, shrunk, writing under tmp_path."""
    from ampose.train import compose_config

    def make(*overrides: str, shrink: bool = True):
        ov = [f"data.root={synthetic_root}", *(shrink_overrides(overrides) if shrink else []), *overrides]
        return compose_config("train", ov, output_dir=tmp_path / "run")

    return make
