import numpy as np
import pytest

from ampose.layouts import LAYOUTS, MEDIAPIPE_TO_COCO, convert, get_layout

RNG = np.random.default_rng(0)


def coco_frame() -> np.ndarray:
    """A hand-made upright COCO person in pixels (y down), confidence 0.9."""
    xy = {
        0: (100, 40), 1: (95, 35), 2: (105, 35), 3: (90, 38), 4: (110, 38),  # face
        5: (80, 70), 6: (120, 70), 7: (75, 100), 8: (125, 100), 9: (72, 130), 10: (128, 130),
        11: (90, 150), 12: (110, 150), 13: (90, 200), 14: (110, 200), 15: (90, 250), 16: (110, 250),
    }
    kp = np.zeros((1, 17, 3))
    for k, (x, y) in xy.items():
        kp[0, k] = (x, y, 0.9)
    return kp


def test_coco_derived_joints_by_hand():
    kp = coco_frame()
    out = convert(kp, "coco")
    assert out.shape == (1, 17, 3)
    np.testing.assert_allclose(out[0, 0, :2], [100, 150])  # Hip = hip midpoint
    np.testing.assert_allclose(out[0, 1, :2], [110, 150])  # RHip = right_hip
    np.testing.assert_allclose(out[0, 6, :2], [90, 250])  # LFoot = left_ankle
    np.testing.assert_allclose(out[0, 7, :2], [100, 150 + 0.55 * (70 - 150)])  # Spine
    np.testing.assert_allclose(out[0, 8, :2], [100, 70 + 0.25 * (40 - 70)])  # Thorax towards nose
    np.testing.assert_allclose(out[0, 9, :2], [100, 40])  # Neck/Nose = nose
    np.testing.assert_allclose(out[0, 10, :2], [100, 38 + 0.5 * (38 - 70)])  # Head above ears
    np.testing.assert_allclose(out[0, 11, :2], [80, 70])  # LShoulder
    np.testing.assert_allclose(out[0, 16, :2], [128, 130])  # RWrist
    np.testing.assert_allclose(out[0, :, 2], 0.9)


def test_confidence_is_min_of_sources_and_fallbacks():
    kp = coco_frame()
    kp[0, 11, 2] = 0.5  # left hip
    kp[0, 0, :2] = np.nan  # nose missing -> thorax falls back to the shoulder midpoint
    kp[0, 3, 2] = 0.1  # left ear below threshold -> head from the eyes
    out = convert(kp, "coco17", confidence_threshold=0.3)
    assert out[0, 0, 2] == pytest.approx(0.5)  # hip centre: min(0.5, 0.9)
    assert out[0, 7, 2] == pytest.approx(0.5)  # spine uses the hips too
    np.testing.assert_allclose(out[0, 8, :2], [100, 70])
    np.testing.assert_allclose(out[0, 9, :2], [100, 35])  # Neck/Nose from the eye midpoint
    np.testing.assert_allclose(out[0, 10, :2], [100, 35 + 0.5 * (35 - 70)])
    assert np.isnan(out[0, 5:6, :2]).sum() == 0


def test_missing_source_gives_nan_with_zero_confidence():
    kp = coco_frame()
    kp[0, 12] = np.nan  # right hip
    out = convert(kp, "coco")
    assert np.isnan(out[0, 0, :2]).all() and out[0, 0, 2] == 0  # hip centre underivable
    assert np.isnan(out[0, 1, :2]).all()


def test_mediapipe_matches_coco():
    coco = coco_frame()
    mp = RNG.normal(size=(1, 33, 3))
    mp[:, list(MEDIAPIPE_TO_COCO)] = coco
    np.testing.assert_allclose(convert(mp, "mediapipe"), convert(coco, "coco"), rtol=1e-6)


def test_mpii_mapping_follows_readme_semantics():
    kp = np.zeros((2, 16, 2))
    kp[..., 0] = np.arange(16)  # x encodes the MPII index
    out = convert(kp, "mpii16", num_joints=17)
    x = out[0, :, 0]
    # Hip<-pelvis, R hip/knee/ankle, L hip/knee/ankle, Spine<-thorax, Thorax<-upper neck,
    # Neck/Nose between upper neck and head top, Head<-head top, L arm, R arm.
    np.testing.assert_allclose(x, [6, 2, 1, 0, 3, 4, 5, 7, 8, 8.5, 9, 13, 14, 15, 12, 11, 10])
    out16 = convert(kp, "mpii", num_joints=16)
    np.testing.assert_allclose(out16[0, :, 0], [6, 2, 1, 0, 3, 4, 5, 7, 8, 9, 13, 14, 15, 12, 11, 10])
    assert (out[..., 2] == 1).all()  # no confidence channel -> 1


def test_h36m_pass_through_and_16_to_17():
    kp = RNG.normal(size=(3, 17, 2))
    np.testing.assert_allclose(convert(kp, "h36m17")[..., :2], kp, rtol=1e-6)
    np.testing.assert_allclose(convert(kp, "h36m17", num_joints=16)[..., :2], np.delete(kp, 9, 1), rtol=1e-6)
    k16 = np.delete(kp, 9, 1)
    out = convert(k16, "h36m16", num_joints=17)
    np.testing.assert_allclose(out[:, 9, :2], (kp[:, 8] + kp[:, 10]) / 2, rtol=1e-5)
    np.testing.assert_allclose(np.delete(out[..., :2], 9, 1), k16, rtol=1e-6)


def test_errors():
    with pytest.raises(ValueError, match="unknown keypoint layout"):
        get_layout("openpose")
    with pytest.raises(ValueError, match="expects 17 keypoints per frame, got 33.*mediapipe33"):
        convert(np.zeros((1, 33, 3)), "coco")


def test_every_layout_has_17_rules():
    for lay in LAYOUTS.values():
        assert len(lay.rules) == 17
        for alts in lay.rules:
            for rule in alts:
                assert sum(rule.values()) == pytest.approx(1.0)  # affine: translation-equivariant
                assert all(0 <= k < lay.num_keypoints for k in rule)
