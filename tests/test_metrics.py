"""The protocols against hand-computed values, by property, and under a simulated DDP merge."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from ampose.data.actions import ACTIONS
from ampose.data.skeleton import H36M17
from ampose.metrics import (
    MPJPE, PMPJPE, ActionMPJPE, BoneLengths, PoseMetrics, ScenePCK, auc, bone_lengths, joint_errors, mpjpe, n_mpjpe,
    p_mpjpe, pck, pck_joints, procrustes_align, scale_align,
)
from ampose.metrics.pose import SCENE_UNKNOWN


def test_mpjpe_hand_computed():
    target = torch.zeros(2, 3, 3)
    pred = target.clone()
    pred[0, 0] = torch.tensor([3.0, 4.0, 0.0])  # error 5 on one joint of frame 0
    pred[1, :, 2] = 1.0  # error 1 on every joint of frame 1
    assert torch.allclose(joint_errors(pred, target)[0], torch.tensor([5.0, 0.0, 0.0]))
    assert torch.allclose(mpjpe(pred, target, reduction="none"), torch.tensor([5 / 3, 1.0]))
    assert mpjpe(pred, target).item() == pytest.approx((5 / 3 + 1) / 2)


def test_p_mpjpe_hand_computed():
    # A pure scale error is removed by the alignment; a reflection is not.
    target = torch.randn(1, 17, 3, dtype=torch.float64)
    assert p_mpjpe(2.5 * target, target).item() == pytest.approx(0.0, abs=1e-9)
    mirror = target * torch.tensor([-1.0, 1.0, 1.0], dtype=torch.float64)
    assert p_mpjpe(mirror, target).item() > 1e-3
    # Two points: alignment is exact for any non-degenerate pair.
    two = torch.tensor([[[0.0, 0.0, 0.0], [1.0, 0.0, 0.0]]], dtype=torch.float64)
    assert p_mpjpe(torch.tensor([[[5.0, 5.0, 5.0], [5.0, 7.0, 5.0]]], dtype=torch.float64), two).item() \
        == pytest.approx(0.0, abs=1e-9)


def _rotation(q: torch.Tensor) -> torch.Tensor:
    w, x, y, z = (q / q.norm()).tolist()
    return torch.tensor([
        [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
        [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
        [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
    ], dtype=torch.float64)


floats = st.floats(-1.0, 1.0, allow_nan=False)


@settings(max_examples=60, deadline=None)
@given(q=st.tuples(floats, floats, floats, floats).filter(lambda q: sum(v * v for v in q) > 1e-2),
       scale=st.floats(0.05, 20.0), shift=st.tuples(floats, floats, floats),
       seed=st.integers(0, 2**16), joints=st.sampled_from([16, 17]))
def test_p_mpjpe_of_similarity_transform_is_zero(q, scale, shift, seed, joints):
    g = torch.Generator().manual_seed(seed)
    target = torch.randn(3, joints, 3, generator=g, dtype=torch.float64) * 0.3
    rot = _rotation(torch.tensor(q, dtype=torch.float64))
    pred = scale * target @ rot.T + 10 * torch.tensor(shift, dtype=torch.float64)
    assert p_mpjpe(pred, target).item() < 1e-6
    assert torch.allclose(procrustes_align(pred, target), target, atol=1e-6)


def test_p_mpjpe_never_exceeds_mpjpe():
    torch.manual_seed(0)
    target = torch.randn(64, 17, 3)
    pred = target + 0.3 * torch.randn(64, 17, 3)
    assert (p_mpjpe(pred, target, reduction="none") <= mpjpe(pred, target, reduction="none") + 1e-5).all()


def test_pck_joints_are_the_official_fourteen():
    assert len(pck_joints(17)) == len(pck_joints(16)) == 14
    assert {0, 7, 9}.isdisjoint(pck_joints(17)) and {0, 7}.isdisjoint(pck_joints(16))


@pytest.mark.parametrize("offset, want_pck, want_auc", [(100.0, 100.0, 100 * 10 / 31), (200.0, 0.0, 0.0)])
def test_pck_auc_hand_cases(offset, want_pck, want_auc):
    # Official convention: an error counts below a threshold only if strictly less (100 mm at t=100 fails).
    target = torch.randint(-300, 300, (4, 17, 3)).double()  # integers: the offset stays exact
    pred = target.clone()
    pred[..., 0] += offset  # every joint off by exactly `offset` mm
    assert pck(pred, target).item() == pytest.approx(want_pck)
    assert auc(pred, target).item() == pytest.approx(want_auc)
    metric = ScenePCK(num_joints=17, scale=1.0)
    metric.update(pred, target, torch.tensor([0, 0, 2, 2]))
    out = metric.compute()
    assert out["pck"].item() == pytest.approx(want_pck) and out["auc"].item() == pytest.approx(want_auc)
    assert out["pck_GS"].item() == pytest.approx(want_pck) and math.isnan(out["pck_noGS"].item())


def test_overall_pck_counts_only_3dhp_frames():
    """Frames marked -1 (not MPI-INF-3DHP) count nowhere; a 3DHP frame of unknown scene counts overall."""
    target = torch.zeros(4, 17, 3, dtype=torch.float64)
    pred = target.clone()
    pred[2:, :, 0] = 500.0  # two frames far off: one not 3DHP, one of unknown scene
    metric = ScenePCK(num_joints=17, scale=1.0)
    metric.update(pred, target, torch.tensor([2, 2, -1, SCENE_UNKNOWN]))
    out = metric.compute()
    assert out["pck"].item() == pytest.approx(100 * 2 / 3)  # 2 of the 3 3DHP frames
    assert out["pck_outdoor"].item() == pytest.approx(100.0)


def test_action_wise_differs_from_frame_wise_and_sitting_is_not_sitting_down():
    sitting, sitting_down = ACTIONS.index("Sitting"), ACTIONS.index("SittingDown")
    target = torch.zeros(4, 17, 3)
    pred = target.clone()
    pred[:3, :, 0] = 0.010  # 3 "Sitting" frames, 10 mm
    pred[3:, :, 0] = 0.040  # 1 "SittingDown" frame, 40 mm
    action = torch.tensor([sitting, sitting, sitting, sitting_down])
    frame, act = MPJPE(), ActionMPJPE()
    frame.update(pred, target)
    act.update(pred, target, action)
    assert frame.compute().item() == pytest.approx((3 * 10 + 40) / 4, rel=1e-5)  # 17.5
    assert act.compute().item() == pytest.approx((10 + 40) / 2, rel=1e-5)  # 25
    per = act.per_action()
    assert per[sitting].item() == pytest.approx(10, rel=1e-5)
    assert per[sitting_down].item() == pytest.approx(40, rel=1e-5)
    assert int(torch.isnan(per).sum()) == len(ACTIONS) - 2


def test_unknown_actions_are_ignored_action_wise():
    act = ActionMPJPE()
    act.update(torch.ones(2, 17, 3), torch.zeros(2, 17, 3), torch.tensor([-1, -1]))
    assert math.isnan(act.compute().item())


def test_a_nan_prediction_shows_in_the_action_wise_mean():
    """An action whose frames hold a NaN prediction is NaN, and so is the mean over the actions:
    nanmean once dropped it, so the action-wise average looked fine over 14 actions while the
    frame-wise MPJPE was NaN. Actions without frames are still left out."""
    sitting, walking = ACTIONS.index("Sitting"), ACTIONS.index("Walking")
    pred, target = torch.zeros(2, 17, 3), torch.zeros(2, 17, 3)
    pred[0, :, 0] = 0.010  # Sitting, 10 mm
    pred[1, 5, 1] = float("nan")  # Walking, one NaN coordinate
    act = ActionMPJPE()
    act.update(pred, target, torch.tensor([sitting, walking]))
    assert act.per_action()[sitting].item() == pytest.approx(10, rel=1e-5)
    assert math.isnan(act.per_action()[walking].item())
    assert math.isnan(act.compute().item())
    act.reset()
    act.update(pred[:1], target[:1], torch.tensor([sitting]))  # one action with frames: its own mean
    assert act.compute().item() == pytest.approx(10, rel=1e-5)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_half_precision_inputs_are_measured_in_float32(dtype):
    """bf16 predictions (autocast) once kept their precision through the metric classes: errors near
    150 mm rounded to 1 mm moved PCK by 0.3 points and MPJPE by 0.04 mm on 2000 frames."""
    gen = torch.Generator().manual_seed(4)
    target = 0.25 * torch.randn(2000, 17, 3, generator=gen)
    pred = (target + 0.06 * torch.randn(2000, 17, 3, generator=gen)).to(dtype)
    target, action, scene = target.to(dtype), torch.arange(2000) % 15, torch.zeros(2000, dtype=torch.long)
    for make, extra in ((MPJPE, ()), (PMPJPE, ()), (ActionMPJPE, (action,)), (ScenePCK, (scene,))):
        half, full = make(), make()
        half.update(pred, target, *extra)
        full.update(pred.float(), target.float(), *extra)
        torch.testing.assert_close(half.compute(), full.compute(), rtol=1e-6, atol=1e-6, equal_nan=True)


def test_states_merge_like_ddp():
    """Two instances updated on halves, then merged (what DDP's sum-reduction does) = one on all."""
    torch.manual_seed(0)
    n = 40
    pred, target = torch.randn(n, 17, 3) * 0.2, torch.randn(n, 17, 3) * 0.2
    action, scene = torch.randint(-1, 15, (n,)), torch.randint(-1, 3, (n,))

    def make():
        return [MPJPE(), PMPJPE(), ActionMPJPE(), ActionMPJPE(procrustes=True), ScenePCK(scale=100.0),
                BoneLengths(H36M17.parents)]

    def feed(ms, sl):
        ms[0].update(pred[sl], target[sl])
        ms[1].update(pred[sl], target[sl])
        ms[2].update(pred[sl], target[sl], action[sl])
        ms[3].update(pred[sl], target[sl], action[sl])
        ms[4].update(pred[sl], target[sl], scene[sl])
        ms[5].update(pred[sl], target[sl])

    whole, a, b = make(), make(), make()
    feed(whole, slice(None))
    feed(a, slice(0, 17))
    feed(b, slice(17, None))
    for mw, ma, mb in zip(whole, a, b):
        for name in ma._defaults:
            assert ma._reductions[name].__name__.endswith("sum") or "sum" in str(ma._reductions[name])
        ma.merge_state(mb)
        want, got = mw.compute(), ma.compute()
        if isinstance(want, dict):
            for k in want:
                assert torch.allclose(got[k], want[k], equal_nan=True), k
        else:
            assert torch.allclose(got, want, equal_nan=True)


def test_pose_metrics_container():
    torch.manual_seed(1)
    pred, target = torch.randn(8, 16, 3), torch.randn(8, 16, 3)
    m = PoseMetrics(num_joints=16)
    m.update(pred, target, torch.arange(8), torch.full((8,), -1))
    assert m.mpjpe.compute().item() == pytest.approx(1000 * mpjpe(pred, target).item(), rel=1e-5)
    assert m.p_mpjpe.compute().item() == pytest.approx(1000 * p_mpjpe(pred, target).item(), rel=1e-4)
    assert not m.pck.has_scenes()
    m.reset()
    with pytest.warns(UserWarning, match="before the ``update``"):  # torchmetrics' own notice; NaN, not 0
        assert math.isnan(m.mpjpe.compute().item())


def test_pck_joints_agree_with_the_3dhp_reader():
    """Our one constant matches the joint sets derived from the official evaluation code."""
    from ampose.data import mpi_3dhp

    for j in (16, 17):
        assert tuple(pck_joints(j)) == tuple(mpi_3dhp.PCK_JOINTS[j])


def test_bone_lengths_by_hand():
    # a chain root -> a -> b: bones 3-4-5 and 1 long; the prediction doubles the first bone only
    parents = (-1, 0, 1)
    target = torch.tensor([[[0.0, 0, 0], [0.003, 0.004, 0], [0.003, 0.004, 0.001]]])  # metres
    pred = torch.tensor([[[0.0, 0, 0], [0.006, 0.008, 0], [0.006, 0.008, 0.001]]])
    torch.testing.assert_close(bone_lengths(target, parents), torch.tensor([[0.005, 0.001]]))
    m = BoneLengths(parents)
    m.update(pred, target)
    m.update(target, target)  # a second, perfect frame halves the mean error
    got = m.compute()
    torch.testing.assert_close(got["true"], torch.tensor([5.0, 1.0], dtype=torch.float64))
    torch.testing.assert_close(got["pred"], torch.tensor([7.5, 1.0], dtype=torch.float64))
    torch.testing.assert_close(got["abs_error"], torch.tensor([2.5, 0.0], dtype=torch.float64))


def test_test_results_and_the_bones_table():
    from ampose.tables import bones_table

    torch.manual_seed(2)
    target = torch.randn(6, 17, 3) * 0.2
    m = PoseMetrics(num_joints=17)
    m.update(target * 1.1, target, torch.zeros(6), torch.full((6,), -1))  # a body 10 % too large
    got = m.bones.compute()
    torch.testing.assert_close(got["pred"], got["true"] * 1.1)
    assert PoseMetrics(num_joints=17, diagnostics=False).bones is None  # validation skips them
    header, rows = bones_table({"bones": {"RHip": {"true": 100.0, "pred": 110.0, "abs_error": 10.0}}})
    assert header[0] == "Bone (to joint)" and rows == [["RHip", "100.0", "110.0", "1.100", "10.0"]]


def test_a_nan_prediction_shows_in_the_loss_as_in_mpjpe():
    """The loss once dropped NaN frames (torchmetrics' default), so val/loss looked fine while val/mpjpe was NaN."""
    m = PoseMetrics(num_joints=17, diagnostics=False)
    m.loss.update(torch.tensor([float("nan"), 1e-4]))  # per-frame losses, as update() feeds them
    m.mpjpe.update(torch.full((1, 17, 3), float("nan")), torch.zeros(1, 17, 3))
    assert torch.isnan(m.loss.compute()) and torch.isnan(m.mpjpe.compute())


def test_a_nan_prediction_shows_in_p_mpjpe_without_touching_other_frames():
    """The SVD once raised on a non-finite frame (on the CPU), so a diverged model crashed
    validation instead of showing NaN; the frame is NaN now and the others are unchanged."""
    gen = torch.Generator().manual_seed(0)
    target = torch.randn(3, 17, 3, generator=gen)
    pred = target + 0.1 * torch.randn(3, 17, 3, generator=gen)
    bad = pred.clone()
    bad[1, 4, 2] = float("nan")
    got = p_mpjpe(bad, target, reduction="none")
    assert math.isnan(got[1].item())
    torch.testing.assert_close(got[[0, 2]], p_mpjpe(pred[[0, 2]], target[[0, 2]], reduction="none"))
    m = PoseMetrics(num_joints=17, diagnostics=False)
    m.update(bad, target, torch.zeros(3), torch.full((3,), -1))
    assert math.isnan(m.p_mpjpe.compute().item()) and math.isnan(m.p_mpjpe_action.compute().item())


def test_n_mpjpe_by_hand_and_its_place_between_p1_and_p2():
    # a pose predicted 20 % too large: N-MPJPE forgives the size exactly
    target = torch.tensor([[[0.0, 0, 0], [0.3, 0.4, 0], [0.0, 0.0, 0.5]]])
    assert n_mpjpe(target * 1.2, target).item() == pytest.approx(0.0, abs=1e-7)
    torch.testing.assert_close(scale_align(target * 1.2, target), target)
    # one joint off by 0.1 m along x, at (0.4, 0.4, 0): <p, t> = 0.28 + 0.25, <p, p> = 0.32 + 0.25
    pred = target.clone()
    pred[0, 1, 0] += 0.1
    s = 0.53 / 0.57
    want = torch.linalg.vector_norm(pred * s - target, dim=-1).mean()
    assert n_mpjpe(pred, target).item() == pytest.approx(want.item(), rel=1e-6)
    torch.manual_seed(3)
    t = torch.randn(32, 17, 3)
    p = t + 0.3 * torch.randn(32, 17, 3)
    # the least-squares scale is not the least-MPJPE one, so only P2 <= P1 is a theorem; on
    # random poses N-MPJPE sits between them, as in published tables
    assert p_mpjpe(p, t) <= n_mpjpe(p, t) <= mpjpe(p, t)
    m = PoseMetrics(num_joints=17)
    m.update(p * 0.1, t * 0.1, torch.zeros(32), torch.full((32,), -1))
    assert m.n_mpjpe.compute().item() == pytest.approx(100 * n_mpjpe(p, t).item(), rel=1e-5)


def test_joint_errors_split_into_image_plane_and_depth_by_hand():
    from ampose.metrics.pose import JointErrors
    from ampose.tables import joints_table

    target = torch.zeros(2, 3, 3)
    pred = target.clone()
    pred[0, 1] = torch.tensor([0.003, 0.004, 0.0])   # joint 1: 5 mm in the image plane, none in depth
    pred[0, 2] = torch.tensor([0.0, 0.0, -0.012])    # joint 2: 12 mm in depth only
    pred[1, 2] = torch.tensor([0.003, 0.004, 0.012])  # and 5 mm + 12 mm: 13 mm in 3D
    m = JointErrors(num_joints=3)
    m.update(pred, target)
    got = m.compute()
    f64 = dict(dtype=torch.float64)
    torch.testing.assert_close(got["mpjpe"], torch.tensor([0.0, 2.5, 12.5], **f64))
    torch.testing.assert_close(got["xy"], torch.tensor([0.0, 2.5, 2.5], **f64))
    torch.testing.assert_close(got["depth"], torch.tensor([0.0, 0.0, 12.0], **f64))
    # the per-joint 3D errors average to the frame-wise MPJPE
    pm = PoseMetrics(num_joints=17)
    torch.manual_seed(4)
    t = torch.randn(8, 17, 3) * 0.2
    pm.update(t + 0.02 * torch.randn(8, 17, 3), t, torch.zeros(8), torch.full((8,), -1))
    assert pm.joints.compute()["mpjpe"].mean().item() == pytest.approx(pm.mpjpe.compute().item(), rel=1e-6)
    assert PoseMetrics(num_joints=16, diagnostics=False).joints is None
    header, rows = joints_table({"joints": {"Hip": {"mpjpe": 0.0, "xy": 0.0, "depth": 0.0},
                                            "RHip": {"mpjpe": 13.0, "xy": 5.0, "depth": 12.0}}})
    assert header[2].startswith("Image plane") and rows == [["Hip", "0.0", "0.0", "0.0"], ["RHip", "13.0", "5.0", "12.0"],
                                                            ["Mean", "6.5", "2.5", "6.0"]]
