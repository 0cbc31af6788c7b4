"""The synthetic generator: real layouts, exact projection, plausible bodies, determinism."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ampose.data import h36m
from ampose.data.actions import ACTIONS
from ampose.data.cameras import h36m_cameras
from ampose.data.skeleton import H36M17, H36M32_TO_17
from ampose.data.synthetic import BONES, synthetic_positions, write_synthetic

SMALL = (30, 40)


@pytest.fixture(scope="module")
def synth_dir(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("synth")
    write_synthetic(d, seed=0, frames=SMALL)
    return d


def test_files_have_the_real_layouts(synth_dir):
    z = np.load(synth_dir / h36m.FILE_3D, allow_pickle=True)
    pos = z["positions_3d"].item()
    assert list(pos) == list(h36m.SUBJECTS)
    assert {"Directions 1", "Photo", "WalkDog 1"} <= set(pos["S1"])
    assert all(x.shape[1:] == (32, 3) and x.dtype == np.float32 for x in pos["S5"].values())
    for name in (h36m.FILE_2D_GT, h36m.FILE_2D_CPN):
        z2 = np.load(synth_dir / name, allow_pickle=True)
        meta = z2["metadata"].item()
        assert meta["num_joints"] == 17 and meta["keypoints_symmetry"] == [[4, 5, 6, 11, 12, 13], [1, 2, 3, 14, 15, 16]]
        views = z2["positions_2d"].item()["S9"]["Walking 1"]
        assert len(views) == 4 and views[0].shape[1:] == (17, 2)
    assert not list(synth_dir.glob("*.tmp*"))


def test_loads_through_the_real_loader_and_gt_reproduces(synth_dir):
    pos = h36m.read_3d(synth_dir / h36m.FILE_3D)
    gt = h36m.read_2d(synth_dir / h36m.FILE_2D_GT)
    for s in ("S1", "S11"):
        for cam, uv in zip(h36m_cameras(s), gt[s]["Sitting 1"]):
            assert np.allclose(cam.project(cam.world_to_camera(pos[s]["Sitting 1"].astype(np.float64))), uv, atol=1e-3)
    arr = h36m.load_h36m(synth_dir, ["S9", "S11"])
    assert set(np.unique(arr.action)) == set(range(15)) and arr.num_joints == 17
    cpn = h36m.load_h36m(synth_dir, ["S9", "S11"], keypoints="cpn")
    assert len(cpn) == len(arr)  # longer detections trimmed to the mocap
    err = np.linalg.norm(cpn.pose2d - arr.pose2d, axis=-1) * 1000 / 2  # pixels (width 1000)
    assert 2 < np.median(err) < 15  # a few pixels, like a detector


def test_cpn_runs_past_the_mocap(synth_dir):
    pos = np.load(synth_dir / h36m.FILE_3D, allow_pickle=True)["positions_3d"].item()
    cpn = np.load(synth_dir / h36m.FILE_2D_CPN, allow_pickle=True)["positions_2d"].item()
    extra = [len(cpn[s][a][0]) - len(x) for s in pos for a, x in pos[s].items()]
    assert 1 <= min(extra) and max(extra) <= 4


def test_plausible_bodies(synth_dir):
    pos = h36m.read_3d(synth_dir / h36m.FILE_3D)
    for s, acts in pos.items():
        x = np.concatenate(list(acts.values()))  # (T, 17, 3)
        lengths = np.stack([np.linalg.norm(x[:, j] - x[:, p], axis=-1) for p, j in H36M17.bones], 1)
        assert lengths.std(0).max() < 1e-4  # rigid bones
        assert np.allclose(lengths[0, [1, 2, 11, 12]], np.array(BONES[s])[[1, 2, 8, 9]], atol=1e-4)
        feet = np.minimum(x[:, 3, 2], x[:, 6, 2])
        assert feet.min() > -0.01 and x[:, 10, 2].max() < 2.1  # on the floor, not flying
        # knees and elbows never bend backwards past straight nor fold past 150 degrees
        for a, b, c in ((1, 2, 3), (4, 5, 6), (11, 12, 13), (14, 15, 16)):
            u, v = x[:, a] - x[:, b], x[:, c] - x[:, b]
            cos = (u * v).sum(-1) / np.linalg.norm(u, axis=-1) / np.linalg.norm(v, axis=-1)
            assert np.degrees(np.arccos(np.clip(cos, -1, 1))).min() > 29
        # smooth: no joint moves more than 12 cm between frames (50 fps)
        for seq in acts.values():
            assert np.linalg.norm(np.diff(seq, axis=0), axis=-1).max() < 0.12


def test_sitting_lower_than_walking(synth_dir):
    pos = h36m.read_3d(synth_dir / h36m.FILE_3D)
    assert pos["S9"]["Sitting"][:, 0, 2].mean() < pos["S9"]["Walking"][:, 0, 2].mean() - 0.2
    walk = pos["S9"]["Walking 1"]
    assert np.linalg.norm(walk[-1, 0, :2] - walk[0, 0, :2]) > 0.3  # walking goes places


def test_deterministic():
    a32, a17 = synthetic_positions(seed=3, frames=(20, 22))
    b32, _ = synthetic_positions(seed=3, frames=(20, 22))
    c32, _ = synthetic_positions(seed=4, frames=(20, 22))
    assert all(np.array_equal(a32[s][k], b32[s][k]) for s in a32 for k in a32[s])
    assert not np.array_equal(a32["S1"]["Walking"], c32["S1"]["Walking"])
    assert set(k.split()[0] for k in a32["S1"]) == set(ACTIONS)
    assert np.array_equal(a32["S1"]["Eating"][:, list(H36M32_TO_17)], a17["S1"]["Eating"])
