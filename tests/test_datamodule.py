"""PoseDataModule: synthetic default, splits, CPU DataLoader and device-resident iterators."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

from ampose.data.arrays import DataError, DataFileNotFoundError
from ampose.data.datamodule import PoseDataModule, ResidentLoader
from ampose.data.synthetic import write_synthetic
from ampose.data.transforms import flip_pose

KEYS = {"pose2d", "pose3d", "action", "subject", "camera", "scene"}
CONF = Path(__file__).resolve().parents[1] / "conf"


@pytest.fixture(scope="module")
def synth_dir(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("synth_dm")
    write_synthetic(d, seed=0, frames=(20, 30))
    return d


def _dm(root: Path, **kw) -> PoseDataModule:
    dm = PoseDataModule(dataset="synthetic", root=root, batch_size=64, eval_batch_size=100, **kw)
    dm.prepare_data()
    return dm


def test_config_instantiates(synth_dir):
    with initialize_config_dir(str(CONF / "data"), version_base=None):
        cfg = compose("synthetic", overrides=[f"root={synth_dir}", "num_joints=16", "batch_size=32"])
    dm = instantiate(cfg)
    assert isinstance(dm, PoseDataModule) and dm.num_joints == 16 and dm.skeleton.num_joints == 16
    with initialize_config_dir(str(CONF / "data"), version_base=None):
        sh = compose("h36m_sh", overrides=[f"root={synth_dir}"])
    assert sh.num_joints == 16 and sh.keypoints == "data_2d_h36m_sh.npz" and sh.dataset == "h36m"


def test_cpu_loaders(synth_dir):
    dm = _dm(synth_dir, eval_stride=2)
    dm.setup("fit")
    batch = next(iter(dm.train_dataloader()))
    assert set(batch) == KEYS and batch["pose2d"].shape == (64, 17, 2) and batch["pose3d"].shape == (64, 17, 3)
    assert batch["pose2d"].dtype == torch.float32 and batch["action"].dtype == torch.int64
    assert torch.all(batch["pose3d"][:, 0] == 0) and torch.all(batch["scene"] == -1)
    n_val = sum(len(b["pose2d"]) for b in dm.val_dataloader())
    assert n_val == len(dm.data_val) and dm.data_val.subjects == ["S9", "S11"]
    assert len(dm.data_train) > 2 * len(dm.data_val)


def test_val_subjects_held_out(synth_dir):
    dm = _dm(synth_dir, val_subjects=["S8"], keypoints="cpn", num_joints=16)
    dm.setup("fit")
    assert dm.data_train.subjects == ["S1", "S5", "S6", "S7"] and dm.data_val.subjects == ["S8"]
    assert dm.data_train.num_joints == 16
    dm.setup("test")
    assert dm.data_test.subjects == ["S9", "S11"]
    bare = _dm(synth_dir, val_subjects="S8")  # data.val_subjects=S8 on the command line: one subject, not "S", "8"
    bare.setup("fit")
    assert bare.val_subjects == ["S8"] and bare.data_val.subjects == ["S8"] and "S8" not in bare.data_train.subjects


def test_gpu_resident_on_cpu_covers_test_once(synth_dir):
    dm = _dm(synth_dir, gpu_resident=True)
    dm.setup("test")
    loader = dm.test_dataloader()
    assert isinstance(loader, ResidentLoader)
    batches = list(loader)
    assert len(batches) == len(loader)
    assert all(set(b) == KEYS and b["pose2d"].shape[1:] == (17, 2) and b["pose3d"].shape[1:] == (17, 3) for b in batches)
    got = torch.cat([b["pose2d"] for b in batches])
    assert torch.equal(got, torch.from_numpy(dm.data_test.pose2d))


def test_resident_shards_and_epochs():
    n = 1003
    t = {"pose2d": torch.zeros(n, 17, 2), "pose3d": torch.zeros(n, 17, 3), "action": torch.arange(n)}
    # evaluation: disjoint shards over 3 ranks cover every sample exactly once
    seen = torch.cat([b["action"] for r in range(3) for b in ResidentLoader(t, 100, rank=r, world_size=3)])
    assert torch.equal(torch.sort(seen).values, torch.arange(n))
    # training: equal shards, disjoint across ranks, a new permutation each epoch
    loaders = [ResidentLoader(t, 64, shuffle=True, seed=1, rank=r, world_size=2) for r in range(2)]
    assert len(loaders[0]) == len(loaders[1]) == -(-501 // 64)
    e0 = [torch.cat([b["action"] for b in ld]) for ld in loaders]
    assert len(set(e0[0].tolist()) & set(e0[1].tolist())) == 0 and len(e0[0]) == 501
    e1 = torch.cat([b["action"] for b in loaders[0]])
    assert not torch.equal(e0[0], e1)
    # overfit_batches: the strided shards of range(n) every epoch (Lightning's DistributedSampler
    # over its SequentialSampler on the DataLoader path)
    for r in range(2):
        ld = ResidentLoader(t, 64, shuffle=True, seed=1, rank=r, world_size=2, overfit=True)
        for _ in range(2):
            assert torch.equal(torch.cat([b["action"] for b in ld]), torch.arange(n)[r : 1002 : 2])


def test_flip_augment_on_device_path(synth_dir):
    dm = _dm(synth_dir, gpu_resident=True, flip_augment=True, seed=3)
    dm.setup("fit")
    data = dm.train_dataloader()
    ref = {k: torch.from_numpy(v) for k, v in dm.data_train.arrays().items()}
    batch = next(iter(data))
    # each sample is either an original or its flip, and both occur
    flipped = 0
    for i in range(len(batch["pose2d"])):
        p2 = batch["pose2d"][i]
        match = (ref["pose2d"] == p2).all(-1).all(-1).nonzero()
        if len(match) == 0:
            back = flip_pose(p2[None], dm.skeleton)[0]
            j = (ref["pose2d"] == back).all(-1).all(-1).nonzero()[0, 0]
            assert torch.allclose(flip_pose(ref["pose3d"][j][None], dm.skeleton)[0], batch["pose3d"][i])
            flipped += 1
    assert 0 < flipped < len(batch["pose2d"])


def test_errors(tmp_path, synth_dir):
    with pytest.raises(DataFileNotFoundError, match="ampose-data synth"):
        PoseDataModule(dataset="h36m", root=tmp_path).prepare_data()
    with pytest.raises(DataError, match="dataset must be one of"):
        PoseDataModule(dataset="coco", root=tmp_path)
    with pytest.raises(ValueError, match="num_joints"):
        PoseDataModule(root=tmp_path, num_joints=15)
    dm = PoseDataModule(dataset="mpi_3dhp", root=synth_dir)
    with pytest.raises(DataError, match="test-only"):
        dm.setup("fit")
    for bad in (0, -1, 2.5, True):
        with pytest.raises(DataError, match="data.stride must be a whole number >= 1"):
            PoseDataModule(root=tmp_path, stride=bad)
    with pytest.raises(DataError, match="data.eval_stride must be"):
        PoseDataModule(root=tmp_path, eval_stride=0)
    with pytest.raises(DataError, match="data.train_subjects must be a list"):
        PoseDataModule(root=tmp_path, train_subjects=5)


def test_mpi_3dhp_test_split(tmp_path):
    mod = pytest.importorskip("ampose.data.synthetic_3dhp")
    mod.write_synthetic_3dhp(tmp_path / "data_test_3dhp.npz", 0)
    dm = PoseDataModule(dataset="mpi_3dhp", root=tmp_path, num_joints=17, eval_batch_size=500)
    dm.setup("test")
    batch = next(iter(dm.test_dataloader()))
    assert set(batch) == KEYS and (batch["scene"] >= 0).all()
    assert np.isin(np.unique(dm.data_test.scene), [0, 1, 2]).all()


def test_mpi_3dhp_scores_every_frame_and_says_a_stride_is_ignored(tmp_path, caplog):
    mod = pytest.importorskip("ampose.data.synthetic_3dhp")
    mod.write_synthetic_3dhp(tmp_path / "data_test_3dhp.npz", 0)
    every = PoseDataModule(dataset="mpi_3dhp", root=tmp_path, num_joints=17)
    every.setup("test")
    assert not caplog.records
    strided = PoseDataModule(dataset="mpi_3dhp", root=tmp_path, num_joints=17, eval_stride=5)
    strided.setup("test")
    assert "eval_stride=5 is ignored for dataset=mpi_3dhp" in caplog.text
    assert len(strided.data_test) == len(every.data_test)


class _Tiny(__import__("pytorch_lightning").LightningModule):
    """Linear lifter, just enough to drive the loaders through a Trainer."""

    def __init__(self, j: int = 17) -> None:
        super().__init__()
        self.net = torch.nn.Linear(j * 2, j * 3)
        self.seen = 0

    def _step(self, batch):
        pred = self.net(batch["pose2d"].flatten(1)).view_as(batch["pose3d"])  # (B, J, 3)
        return (pred - batch["pose3d"]).square().mean()

    def training_step(self, batch, _):
        return self._step(batch)

    def test_step(self, batch, _):
        self.seen += len(batch["pose2d"])

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.01)


@pytest.mark.parametrize("resident", [True, False])
def test_through_trainer(synth_dir, resident):
    import pytorch_lightning as pl

    dm = _dm(synth_dir, gpu_resident=resident, eval_stride=3)
    model = _Tiny()
    trainer = pl.Trainer(accelerator="cpu", max_epochs=1, limit_train_batches=3, limit_val_batches=0,
                         logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False)
    trainer.fit(model, datamodule=dm)
    trainer.test(model, datamodule=dm, verbose=False)
    assert model.seen == len(dm.data_test)


class _Recorder(_Tiny):
    """Keeps every training batch's pose2d, per epoch."""

    def __init__(self) -> None:
        super().__init__()
        self.batches: dict[int, list[torch.Tensor]] = {}

    def training_step(self, batch, i):
        self.batches.setdefault(self.current_epoch, []).append(batch["pose2d"].clone())
        return super().training_step(batch, i)


def test_overfit_batches_repeat_the_same_unflipped_batches_on_both_paths(synth_dir):
    """debug=overfit: Lightning gives the DataLoader path its sequential sampler (the first
    batches, unflipped, every epoch); the resident loader, no DataLoader, must do the same itself."""
    import pytorch_lightning as pl

    seen = {}
    for resident in (True, False):
        dm = _dm(synth_dir, gpu_resident=resident, flip_augment=True, seed=3)
        model = _Recorder()
        pl.Trainer(accelerator="cpu", max_epochs=3, overfit_batches=2, logger=False, enable_checkpointing=False,
                   enable_progress_bar=False, enable_model_summary=False).fit(model, datamodule=dm)
        assert sorted(model.batches) == [0, 1, 2] and all(len(b) == 2 for b in model.batches.values())
        seen[resident] = [torch.cat(model.batches[e]) for e in range(3)]
    first = torch.from_numpy(dm.data_train.pose2d[:128])  # the first two batches of 64, in order, unflipped
    for epoch in range(3):
        assert torch.equal(seen[True][epoch], seen[False][epoch]), epoch
        assert torch.equal(seen[True][epoch], first), epoch


def test_a_data_root_without_files_is_said_before_synthetic_data_fills_it(tmp_path, synth_dir, caplog, monkeypatch):
    """data.root=<a mistyped Human3.6M folder> with the default data: a warning, not a silent synthetic run."""
    import ampose.data.synthetic as synthetic

    monkeypatch.setattr(synthetic, "write_synthetic", lambda root, seed=0: write_synthetic(root, seed=seed, frames=(20, 30)))
    with caplog.at_level("WARNING"):
        PoseDataModule(dataset="synthetic", root=tmp_path / "h36n").prepare_data()
    assert "holds no data_3d_h36m.npz: writing the synthetic dataset there" in caplog.text
    assert (tmp_path / "h36n" / "data_3d_h36m.npz").exists()
    caplog.clear()
    with caplog.at_level("WARNING"):
        PoseDataModule(dataset="synthetic", root=synth_dir).prepare_data()  # files there: nothing to say
    assert "writing the synthetic dataset" not in caplog.text


def test_the_synthetic_3dhp_stand_in_is_named_as_such(tmp_path):
    assert PoseDataModule(dataset="mpi_3dhp").stand_in == " (synthetic stand-in)"  # no data.root: generated
    assert PoseDataModule(dataset="mpi_3dhp", root=tmp_path).stand_in == ""  # the user's own files
    assert PoseDataModule(dataset="synthetic").stand_in == ""  # says "synthetic" in its own name


def test_a_marked_3dhp_file_is_a_stand_in_in_any_folder(tmp_path):
    """`ampose-data synth DIR` then data.root=DIR: the generator's marker names it, not the folder."""
    mod = pytest.importorskip("ampose.data.synthetic_3dhp")
    path = mod.write_synthetic_3dhp(tmp_path / "data_test_3dhp.npz", 0)
    dm = PoseDataModule(dataset="mpi_3dhp", root=tmp_path)
    dm.setup("test")
    assert dm.stand_in == " (synthetic stand-in)"
    with np.load(path, allow_pickle=True) as z:  # the same sequences without the marker: real-looking
        kept = {k: z[k] for k in z.files if k != "synthetic"}
    assert len(kept) == 2
    np.savez(tmp_path / "real.npz", **kept)
    unmarked = PoseDataModule(dataset="mpi_3dhp", root=tmp_path, test_file="real.npz")
    unmarked.setup("test")
    assert unmarked.stand_in == "" and len(unmarked.data_test) == len(dm.data_test)
