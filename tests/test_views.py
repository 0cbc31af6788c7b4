"""Virtual views (ampose.data.views): turned world poses projected through the real cameras."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ampose.data import h36m
from ampose.data.arrays import DataError
from ampose.data.datamodule import PoseDataModule
from ampose.data.skeleton import H36M17
from ampose.data.synthetic import write_synthetic
from ampose.data.views import rotate_about_vertical, turned_positions

TRAIN = ["S1", "S5"]


@pytest.fixture(scope="module")
def synth_dir(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("synth_views")
    write_synthetic(d, seed=0, frames=(20, 30))
    return d


def _bones(p3: np.ndarray) -> np.ndarray:
    parents = np.array(H36M17.parents)
    child = np.arange(17)[parents >= 0]
    return np.linalg.norm(p3[:, child] - p3[:, parents[child]], axis=-1)


def test_rotation_by_hand():
    # root at (1, 2, 0.9); a joint 1 m along +x from it turned by 90 degrees ends 1 m along +y
    x = np.array([[[1.0, 2.0, 0.9], [2.0, 2.0, 1.5]]])
    out = rotate_about_vertical(x, np.array([np.pi / 2]))
    np.testing.assert_allclose(out, [[[1.0, 2.0, 0.9], [1.0, 3.0, 1.5]]], atol=1e-12)
    np.testing.assert_allclose(rotate_about_vertical(x, np.zeros(1)), x)


def test_rotation_keeps_root_heights_and_bones():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(5, 17, 3))
    out = rotate_about_vertical(x, rng.uniform(-np.pi, np.pi, 5))
    np.testing.assert_allclose(out[:, 0], x[:, 0])  # the root stays
    np.testing.assert_allclose(out[..., 2], x[..., 2])  # heights stay (gravity still down)
    np.testing.assert_allclose(_bones(out), _bones(x))


def _views(root: Path, copies: int, num_joints: int = 17, stride: int = 1, seed: int = 0):
    """The turned samples alone: load_h36m's output after its real samples."""
    real = h36m.load_h36m(root, TRAIN, num_joints=num_joints, stride=stride)
    both = h36m.load_h36m(root, TRAIN, num_joints=num_joints, stride=stride, virtual_views=copies, views_seed=seed)
    np.testing.assert_array_equal(both.pose2d[: len(real)], real.pose2d)  # the real samples come first
    return real, both.subset(slice(len(real), None))


def test_zero_angle_views_are_the_real_samples(synth_dir):
    p3d = h36m.read_3d(synth_dir / h36m.FILE_3D)
    real = h36m.build_samples(p3d, h36m.gt_2d(p3d), TRAIN)
    turned = turned_positions(p3d, TRAIN, np.random.default_rng(0), max_angle=0.0)
    same = h36m.build_samples(turned, h36m.gt_2d(turned), TRAIN)
    np.testing.assert_allclose(same.pose2d, real.pose2d, atol=1e-5)
    np.testing.assert_allclose(same.pose3d, real.pose3d, atol=1e-5)
    for k in ("action", "subject", "camera"):
        np.testing.assert_array_equal(getattr(same, k), getattr(real, k))


def test_turned_views_keep_the_root_pixel_and_the_skeleton(synth_dir):
    real, turned = _views(synth_dir, copies=1, seed=3)
    assert len(turned) == len(real)
    for k in ("action", "subject", "camera"):
        np.testing.assert_array_equal(getattr(turned, k), getattr(real, k))  # same order as the real samples
    np.testing.assert_allclose(turned.pose2d[:, 0], real.pose2d[:, 0], atol=1e-5)  # root does not move
    np.testing.assert_allclose(_bones(turned.pose3d), _bones(real.pose3d), atol=1e-5)
    assert np.abs(turned.pose3d - real.pose3d).max() > 0.1  # but the body really turned
    _, again = _views(synth_dir, copies=1, seed=3)
    np.testing.assert_array_equal(again.pose2d, turned.pose2d)  # the same data every load
    real16, two = _views(synth_dir, copies=2, num_joints=16, stride=2)
    assert two.pose2d.shape[1:] == (16, 2) and len(two) == 2 * len(real16)


def test_datamodule_adds_views_and_refuses_detections(synth_dir):
    plain = PoseDataModule(dataset="synthetic", root=synth_dir, train_subjects=TRAIN)
    plain.prepare_data()
    plain.setup("fit")
    more = PoseDataModule(dataset="synthetic", root=synth_dir, train_subjects=TRAIN, virtual_views=2)
    more.setup("fit")
    assert len(more.data_train) == 3 * len(plain.data_train)
    np.testing.assert_array_equal(more.data_train.pose2d[: len(plain.data_train)], plain.data_train.pose2d)
    assert len(more.data_val) == len(plain.data_val)  # evaluation data untouched
    with pytest.raises(DataError, match="keypoints=gt"):
        PoseDataModule(dataset="h36m", root=synth_dir, keypoints="sh", virtual_views=1)
    with pytest.raises(DataError, match="keypoints=gt"):
        h36m.load_h36m(synth_dir, TRAIN, keypoints="sh", virtual_views=1)
    with pytest.raises(DataError, match=">= 0"):
        PoseDataModule(dataset="synthetic", root=synth_dir, virtual_views=-1)
