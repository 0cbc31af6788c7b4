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
from ampose.data.views import (
    body_scales,
    rescale_bones,
    rotate_about_vertical,
    shifted_detections,
    shuffled_errors,
    turned_positions,
)

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


def test_datamodule_adds_views(synth_dir):
    plain = PoseDataModule(dataset="synthetic", root=synth_dir, train_subjects=TRAIN)
    plain.prepare_data()
    plain.setup("fit")
    more = PoseDataModule(dataset="synthetic", root=synth_dir, train_subjects=TRAIN, virtual_views=2)
    more.setup("fit")
    assert len(more.data_train) == 3 * len(plain.data_train)
    np.testing.assert_array_equal(more.data_train.pose2d[: len(plain.data_train)], plain.data_train.pose2d)
    assert len(more.data_val) == len(plain.data_val)  # evaluation data untouched
    with pytest.raises(DataError, match=">= 0"):
        PoseDataModule(dataset="synthetic", root=synth_dir, virtual_views=-1)


def test_rescale_bones_by_hand():
    # a chain root -> a -> b along x, 1 m and 2 m: doubling the second bone moves b alone
    from ampose.data.skeleton import Skeleton

    chain = Skeleton(("r", "a", "b"), (-1, 0, 1), (), ())
    x = np.array([[[0.0, 0, 0], [1, 0, 0], [3, 0, 0]]])
    np.testing.assert_allclose(rescale_bones(x, np.array([9.0, 1.0, 2.0]), chain), [[[0, 0, 0], [1, 0, 0], [5, 0, 0]]])
    # halving the first bone carries its child along: the second bone keeps its length and direction
    np.testing.assert_allclose(rescale_bones(x, np.array([9.0, 0.5, 1.0]), chain), [[[0, 0, 0], [0.5, 0, 0], [2.5, 0, 0]]])


def test_new_bodies_are_symmetric_and_scale_each_bone_by_its_factor():
    rng = np.random.default_rng(0)
    scales = body_scales(rng, 0.2)
    assert np.all((scales >= 1 / 1.2) & (scales <= 1.2)) and len(np.unique(scales.round(12))) > 5
    np.testing.assert_array_equal(scales[list(H36M17.left)], scales[list(H36M17.right)])
    x = rng.normal(size=(4, 17, 3))
    out = rescale_bones(x, scales)
    parents = np.array(H36M17.parents)
    np.testing.assert_allclose(_bones(out), _bones(x) * scales[np.arange(17)[parents >= 0]])
    np.testing.assert_allclose(out[:, 0], x[:, 0])  # the root stays
    assert np.all(body_scales(rng, 0.0) == 1.0)


def test_virtual_bodies_through_the_loader(synth_dir):
    real = h36m.load_h36m(synth_dir, TRAIN)
    both = h36m.load_h36m(synth_dir, TRAIN, virtual_bodies=1, bodies_spread=0.2, views_seed=5)
    assert len(both) == 2 * len(real)
    np.testing.assert_array_equal(both.pose2d[: len(real)], real.pose2d)  # the real samples first
    new = both.subset(slice(len(real), None))
    for k in ("action", "subject", "camera"):
        np.testing.assert_array_equal(getattr(new, k), getattr(real, k))
    np.testing.assert_allclose(new.pose2d[:, 0], real.pose2d[:, 0], atol=1e-5)  # the root's pixel stays
    ratio = _bones(new.pose3d) / _bones(real.pose3d)
    assert np.all((ratio > 1 / 1.2 - 1e-4) & (ratio < 1.2 + 1e-4)) and ratio.std() > 0.02
    n0 = int(np.argmax(real.camera != real.camera[0]))  # the first sequence, first camera: one body throughout
    assert n0 > 1
    np.testing.assert_allclose(ratio[:n0], np.broadcast_to(ratio[0], ratio[:n0].shape), rtol=1e-4)
    # zero spread gives back the real samples; the views and bodies streams are independent
    same = h36m.load_h36m(synth_dir, TRAIN, virtual_bodies=1, bodies_spread=0.0).subset(slice(len(real), None))
    np.testing.assert_allclose(same.pose2d, real.pose2d, atol=1e-5)
    np.testing.assert_allclose(same.pose3d, real.pose3d, atol=1e-5)
    with_views = h36m.load_h36m(synth_dir, TRAIN, virtual_views=1, virtual_bodies=1, bodies_spread=0.2, views_seed=5)
    np.testing.assert_array_equal(with_views.pose3d[2 * len(real):], new.pose3d)


def test_shifted_detections_carry_each_frames_error_to_the_new_body():
    """By hand: a 16-joint detection = its ground truth + an error; moving the ground truth by a
    known amount moves the detection by the same amount and keeps the error."""
    rng = np.random.default_rng(0)
    b = rng.normal(size=(5, 17, 2)).astype(np.float32)
    delta = rng.normal(size=(5, 17, 2)).astype(np.float32)
    error = rng.normal(size=(6, 16, 2)).astype(np.float32)  # one frame longer than the mocap
    keep = [i for i in range(17) if i != 9]  # 16 joints: no Neck/Nose
    det = np.concatenate([b[:, keep], np.zeros((1, 16, 2), np.float32)]) + error
    before = {"S1": {"Walking": [b, b, b, b], "Eating": [b, b, b, b]}}
    after = {"S1": {"Walking": [b + delta] * 4, "Eating": [b + delta] * 4}}
    out = shifted_detections({"S1": {"Walking": [det, None, det, det]}}, before, after)
    assert list(out["S1"]) == ["Walking"]  # no detections for Eating: left out, as in the real file
    assert out["S1"]["Walking"][1] is None and out["S1"]["Walking"][0].shape == (5, 16, 2)
    np.testing.assert_allclose(out["S1"]["Walking"][0], (b + delta)[:, keep] + error[:5], atol=1e-6)


@pytest.mark.parametrize("copy", [dict(virtual_bodies=1, bodies_spread=0.2), dict(virtual_views=1)],
                         ids=["new_bodies", "turned_views"])
def test_moved_copies_with_detections_keep_each_frames_detection_error(synth_dir, copy):
    """keypoints=cpn: a new body's or a turned view's 2D minus its ground-truth projection is the
    real frame's detection error, exactly (same camera, same frame), and its 3D is the GT run's."""
    real_det, real_gt = h36m.load_h36m(synth_dir, TRAIN, keypoints="cpn"), h36m.load_h36m(synth_dir, TRAIN)
    n = len(real_det)
    det = h36m.load_h36m(synth_dir, TRAIN, keypoints="cpn", views_seed=3, **copy).subset(slice(n, None))
    gt = h36m.load_h36m(synth_dir, TRAIN, views_seed=3, **copy).subset(slice(n, None))
    assert len(det) == len(gt) == n
    np.testing.assert_allclose(det.pose3d, gt.pose3d, atol=1e-6)
    np.testing.assert_allclose(det.pose2d - gt.pose2d, real_det.pose2d - real_gt.pose2d, atol=1e-4)
    assert np.abs(real_det.pose2d - real_gt.pose2d).mean() > 1e-3  # there is an error to carry
    assert np.abs(det.pose2d - real_det.pose2d).mean() > 1e-3  # and the body did move


def test_every_kind_of_copy_with_detections_is_the_one_it_would_be_alone(synth_dir):
    """Views, bodies and shuffled errors each draw from their own stream, in that order."""
    kw = dict(keypoints="cpn", bodies_spread=0.2, views_seed=3)
    n = len(h36m.load_h36m(synth_dir, TRAIN, keypoints="cpn"))
    every = h36m.load_h36m(synth_dir, TRAIN, virtual_views=1, virtual_bodies=1, virtual_errors=1, **kw)
    assert len(every) == 4 * n
    for i, alone in enumerate([dict(virtual_views=1), dict(virtual_bodies=1), dict(virtual_errors=1)], start=1):
        np.testing.assert_array_equal(every.pose2d[i * n:(i + 1) * n],
                                      h36m.load_h36m(synth_dir, TRAIN, **alone, **kw).pose2d[n:])


def test_datamodule_adds_bodies_and_checks_its_settings(synth_dir):
    dm = PoseDataModule(dataset="synthetic", root=synth_dir, train_subjects=TRAIN, virtual_bodies=1, virtual_views=1)
    dm.prepare_data()
    dm.setup("fit")
    plain = h36m.load_h36m(synth_dir, TRAIN)
    assert len(dm.data_train) == 3 * len(plain) and len(dm.data_val) < len(dm.data_train)
    PoseDataModule(dataset="h36m", root=synth_dir, keypoints="sh", virtual_bodies=1)  # detections move too
    PoseDataModule(dataset="h36m", root=synth_dir, keypoints="sh", virtual_views=1)  # and turn too
    with pytest.raises(DataError, match="virtual_bodies needs Human3.6M-style motion capture"):
        PoseDataModule(dataset="mpi_3dhp", root=synth_dir, virtual_bodies=1)
    with pytest.raises(DataError, match="virtual_bodies must be >= 0"):
        PoseDataModule(dataset="synthetic", root=synth_dir, virtual_bodies=-1)
    with pytest.raises(DataError, match="bodies_spread"):
        PoseDataModule(dataset="synthetic", root=synth_dir, virtual_bodies=1, bodies_spread=1.5)


def test_shuffled_errors_by_hand():
    """Three frames, 16-joint detections of 17-joint truth: frame t gets truth[t] plus the error of
    frame p[t], p the generator's permutation; a missing camera stays missing, the extra frame goes."""
    rng = np.random.default_rng(0)
    truth = rng.normal(size=(3, 17, 2)).astype(np.float32)
    keep = [i for i in range(17) if i != 9]
    error = np.stack([np.full((16, 2), k, np.float32) for k in (1.0, 2.0, 3.0, 4.0)])  # frame k: error k+1
    det = np.concatenate([truth[:, keep], np.zeros((1, 16, 2), np.float32)]) + error
    out = shuffled_errors({"S1": {"Walking": [det, None]}}, {"S1": {"Walking": [truth, truth], "Eating": [truth] * 2}},
                          np.random.default_rng(5))
    p = np.random.default_rng(5).permutation(3)
    assert list(out["S1"]) == ["Walking"] and out["S1"]["Walking"][1] is None
    np.testing.assert_allclose(out["S1"]["Walking"][0], truth[:, keep] + error[p], atol=1e-6)
    assert sorted(out["S1"]["Walking"][0][:, 0, 0] - truth[:, 0, 0]) == pytest.approx([1.0, 2.0, 3.0])


def test_virtual_errors_through_the_loader(synth_dir):
    """keypoints=cpn: the copy has the real 3D, and its 2D errors are the real ones permuted within
    each sequence and camera (same multiset per camera, not the same pairing)."""
    real_det, real_gt = h36m.load_h36m(synth_dir, TRAIN, keypoints="cpn"), h36m.load_h36m(synth_dir, TRAIN)
    n = len(real_det)
    both = h36m.load_h36m(synth_dir, TRAIN, keypoints="cpn", virtual_errors=1, views_seed=3)
    assert len(both) == 2 * n
    copy = both.subset(slice(n, None))
    np.testing.assert_allclose(copy.pose3d, real_det.pose3d, atol=1e-6)
    err_real, err_copy = real_det.pose2d - real_gt.pose2d, copy.pose2d - real_gt.pose2d
    for key in set(zip(real_det.subject, real_det.action, real_det.camera)):
        m = (real_det.subject == key[0]) & (real_det.action == key[1]) & (real_det.camera == key[2])
        a, b = err_real[m].reshape(m.sum(), -1), err_copy[m].reshape(m.sum(), -1)
        np.testing.assert_allclose(np.sort(a, axis=0), np.sort(b, axis=0), atol=1e-4)
    assert np.abs(err_copy - err_real).mean() > 1e-3  # the pairing did change
    with pytest.raises(DataError, match="virtual_errors needs detected 2D"):
        h36m.load_h36m(synth_dir, TRAIN, virtual_errors=1)
    with pytest.raises(DataError, match="virtual_errors needs detected 2D"):
        PoseDataModule(dataset="synthetic", root=synth_dir, virtual_errors=1)
    with pytest.raises(DataError, match="virtual_errors must be >= 0"):
        PoseDataModule(dataset="h36m", root=synth_dir, keypoints="cpn", virtual_errors=-1)
