"""Property tests (hypothesis) over random skeleton poses: metrics and keypoint-layout conversions."""

from __future__ import annotations

import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from ampose.data.skeleton import skeleton_for
from ampose.data.transforms import flip_pose3d
from ampose.layouts import LAYOUTS, convert
from ampose.metrics.functional import mpjpe, p_mpjpe, pck, procrustes_align

FAST = settings(max_examples=25, deadline=None)
SEEDS = st.integers(0, 2**31 - 1)
JOINTS = st.sampled_from([16, 17])
# COCO-17 index -> the H36M-17 joint it maps to directly (hips, knees, ankles, arms, nose).
COCO_TO_H36M = {0: 9, 5: 11, 6: 14, 7: 12, 8: 15, 9: 13, 10: 16, 11: 4, 12: 1, 13: 5, 14: 2, 15: 6, 16: 3}


def poses(seed: int, joints: int, batch: int = 4) -> tuple[torch.Tensor, torch.Tensor]:
    """(pred, target) in mm, float64: a random root-relative skeleton and a noisy prediction."""
    g = torch.Generator().manual_seed(seed)
    target = 300.0 * torch.randn(batch, joints, 3, generator=g, dtype=torch.float64)
    target -= target[:, :1]
    pred = target + 50.0 * torch.randn(batch, joints, 3, generator=g, dtype=torch.float64)
    return pred, target


def random_similarity(seed: int) -> tuple[torch.Tensor, float, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(3, 3, generator=g, dtype=torch.float64))
    q = q * torch.sign(torch.linalg.det(q))  # a rotation
    scale = float(torch.empty(1, dtype=torch.float64).uniform_(0.5, 2.0, generator=g))
    return q, scale, 1000.0 * torch.randn(3, generator=g, dtype=torch.float64)


@FAST
@given(SEEDS, JOINTS)
def test_mpjpe_nonnegative_symmetric_and_above_p_mpjpe(seed, joints):
    pred, target = poses(seed, joints)
    e = mpjpe(pred, target, reduction="none")
    assert (e >= 0).all() and torch.allclose(e, mpjpe(target, pred, reduction="none"))
    # Procrustes minimises the squared error: the aligned RMS error never exceeds the raw one.
    # (P-MPJPE <= MPJPE, a mean of unsquared distances, is typical but not a theorem: seed 1889.)
    rms = lambda p: p.sub(target).pow(2).sum(-1).mean(-1).sqrt()  # noqa: E731
    assert (rms(procrustes_align(pred, target)) <= rms(pred) + 1e-6).all()
    assert float(mpjpe(target, target)) == 0.0


@FAST
@given(SEEDS, SEEDS, JOINTS)
def test_p_mpjpe_invariant_to_similarity_of_the_prediction(seed, tseed, joints):
    pred, target = poses(seed, joints)
    r, s, t = random_similarity(tseed)
    moved = s * pred @ r.T + t
    torch.testing.assert_close(p_mpjpe(moved, target, reduction="none"), p_mpjpe(pred, target, reduction="none"),
                               rtol=1e-6, atol=1e-6)


@FAST
@given(SEEDS, JOINTS, st.floats(1.0, 300.0), st.floats(0.0, 300.0))
def test_pck_monotone_in_threshold(seed, joints, low, extra):
    pred, target = poses(seed, joints)
    a, b = pck(pred, target, threshold=low), pck(pred, target, threshold=low + extra)
    assert 0.0 <= float(a) <= float(b) <= 100.0


@FAST
@given(SEEDS, JOINTS)
def test_mpjpe_invariant_when_both_are_flipped(seed, joints):
    pred, target = poses(seed, joints)
    sk = skeleton_for(joints)
    torch.testing.assert_close(mpjpe(flip_pose3d(pred, sk), flip_pose3d(target, sk)), mpjpe(pred, target))


@FAST
@given(SEEDS)
def test_h36m_rendered_as_coco_and_back_keeps_the_direct_joints(seed):
    rng = np.random.default_rng(seed)
    h36m = rng.uniform(0, 1000, size=(3, 17, 2))
    coco = np.zeros((3, 17, 3))
    coco[..., 2] = 1.0
    for c, h in COCO_TO_H36M.items():
        coco[:, c, :2] = h36m[:, h]
    coco[:, 1:5, :2] = h36m[:, 10:11]  # eyes and ears at the head
    back = convert(coco, "coco17")
    idx = list(COCO_TO_H36M.values())
    np.testing.assert_allclose(back[:, idx, :2], h36m[:, idx], rtol=1e-5, atol=1e-3)
    np.testing.assert_allclose(back[:, 0, :2], (h36m[:, 1] + h36m[:, 4]) / 2, rtol=1e-5, atol=1e-3)


@FAST
@given(SEEDS, st.sampled_from(sorted(LAYOUTS)), JOINTS, st.floats(-500, 500), st.floats(-500, 500))
def test_every_layout_conversion_is_translation_equivariant(seed, name, joints, dx, dy):
    rng = np.random.default_rng(seed)
    kp = np.concatenate([rng.uniform(0, 1000, (2, LAYOUTS[name].num_keypoints, 2)),
                         rng.uniform(0.5, 1, (2, LAYOUTS[name].num_keypoints, 1))], -1)
    moved = kp.copy()
    moved[..., :2] += (dx, dy)
    a, b = convert(kp, name, joints), convert(moved, name, joints)
    ok = np.isfinite(a[..., 0])
    np.testing.assert_allclose(b[..., :2][ok], (a[..., :2] + np.array([dx, dy], np.float32))[ok], atol=2e-3)
    np.testing.assert_array_equal(a[..., 2], b[..., 2])
