"""Keypoint layouts of common 2D detectors -> the model's Human3.6M joints (17 or 16).

Every Human3.6M joint is a list of *rules*, tried in order per frame; a rule is a weighted sum of
input keypoints and applies when all of its sources are valid (finite and confidence at or above
the threshold). The derived confidence is the minimum of the sources' confidences. A joint with
no applicable rule is returned as missing (NaN, confidence 0); ``ampose.predict`` fills those
(see its missing-keypoint policy).

Ratios come from the Human3.6M mocap (all subjects, 17 joints): the Spine lies at 0.55 of the way
from the hip centre to the shoulder midpoint (sd 0.03), the Thorax 0.27 of the way from the
shoulder midpoint towards the Neck/Nose joint (rounded to 0.25 with the detector's nose), the hip
centre is exactly the midpoint of the hips. No head-top keypoint exists in COCO/MediaPipe; the
Head (top) is extrapolated upward from the head centre (ears, else eyes) by half the
shoulder-to-head-centre vector, a documented approximation.

Derivation table (``sm`` = shoulder midpoint, ``hm`` = hip midpoint; H36M-17 names):

=============  =====================================================  ==========================
H36M joint     COCO-17 (MediaPipe-33 via its COCO-equivalent points)  MPII-16 (README semantics)
=============  =====================================================  ==========================
Hip            hm = (l_hip + r_hip) / 2                               pelvis; else hm
R/L Hip, Knee  r/l hip, knee                                          r/l hip, knee
R/L Foot       r/l ankle                                              r/l ankle
Spine          hm + 0.55 (sm - hm)                                    thorax; else sm
Thorax         sm + 0.25 (nose - sm); else sm                         upper neck
Neck/Nose      nose; else eye midpoint; else ear midpoint             (upper neck + head top) / 2
Head           1.5 c - 0.5 sm, c = ear midpoint; else eye midpoint;   head top
               else the one visible ear; else the nose
Shoulder..     l/r shoulder, elbow, wrist                             l/r shoulder, elbow, wrist
=============  =====================================================  ==========================

MPII semantics (``../shared/data/h36m/README.md``): in the Stacked Hourglass detections the
field uses, the H36M slots hold MPII's joints: "Spine" is MPII's thorax, "Thorax" the upper neck,
"Head" the head top. ``mpii16`` reproduces that mapping, so it matches models trained on those
detections; a model trained on ground-truth 2D sees a Spine about a hand's width too high.

``h36m17`` and ``h36m16`` pass through; a 16-joint input given to a 17-joint model gets
Neck/Nose = (Thorax + Head) / 2 (Human3.6M's two head bones are equally long, 11.6 and 11.5 cm).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ampose.data.skeleton import H36M17_NAMES, H36M17_TO_16

Rule = dict[int, float]  # input keypoint index -> weight

COCO17_NAMES = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle",
)
MEDIAPIPE33_NAMES = (
    "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye",
    "right_eye_outer", "left_ear", "right_ear", "mouth_left", "mouth_right", "left_shoulder",
    "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_pinky",
    "right_pinky", "left_index", "right_index", "left_thumb", "right_thumb", "left_hip",
    "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle", "left_heel",
    "right_heel", "left_foot_index", "right_foot_index",
)
MPII16_NAMES = (
    "r_ankle", "r_knee", "r_hip", "l_hip", "l_knee", "l_ankle", "pelvis", "thorax",
    "upper_neck", "head_top", "r_wrist", "r_elbow", "r_shoulder", "l_shoulder", "l_elbow", "l_wrist",
)
# MediaPipe landmark index of each COCO-17 keypoint.
MEDIAPIPE_TO_COCO = (0, 2, 5, 7, 8, 11, 12, 13, 14, 15, 16, 23, 24, 25, 26, 27, 28)

SPINE_RATIO = 0.55  # hip centre -> shoulder midpoint
THORAX_TO_NOSE = 0.25  # shoulder midpoint -> nose
HEAD_EXTRAPOLATION = 0.5  # head top = c + 0.5 (c - sm), c the head centre


def _mix(*terms: tuple[float, Rule]) -> Rule:
    """Weighted sum of rules: _mix((0.5, a), (0.5, b))."""
    out: Rule = {}
    for w, rule in terms:
        for k, v in rule.items():
            out[k] = out.get(k, 0.0) + w * v
    return {k: v for k, v in out.items() if v != 0.0}


def _mid(a: int, b: int) -> Rule:
    return {a: 0.5, b: 0.5}


def _coco_rules() -> list[list[Rule]]:
    nose, leye, reye, lear, rear, lsho, rsho = 0, 1, 2, 3, 4, 5, 6
    sm, hm = _mid(lsho, rsho), _mid(11, 12)
    k = HEAD_EXTRAPOLATION

    def head(centre: Rule) -> Rule:
        return _mix((1 + k, centre), (-k, sm))

    return [
        [hm],  # Hip
        [{12: 1.0}], [{14: 1.0}], [{16: 1.0}],  # RHip RKnee RFoot
        [{11: 1.0}], [{13: 1.0}], [{15: 1.0}],  # LHip LKnee LFoot
        [_mix((1 - SPINE_RATIO, hm), (SPINE_RATIO, sm))],  # Spine
        [_mix((1 - THORAX_TO_NOSE, sm), (THORAX_TO_NOSE, {nose: 1.0})), sm],  # Thorax
        [{nose: 1.0}, _mid(leye, reye), _mid(lear, rear)],  # Neck/Nose
        [head(_mid(lear, rear)), head(_mid(leye, reye)), head({lear: 1.0}), head({rear: 1.0}),
         head({nose: 1.0})],  # Head
        [{lsho: 1.0}], [{7: 1.0}], [{9: 1.0}],  # LShoulder LElbow LWrist
        [{rsho: 1.0}], [{8: 1.0}], [{10: 1.0}],  # RShoulder RElbow RWrist
    ]


def _remap(rules: list[list[Rule]], index: tuple[int, ...]) -> list[list[Rule]]:
    return [[{index[k]: w for k, w in r.items()} for r in alts] for alts in rules]


def _mpii_rules() -> list[list[Rule]]:
    sm, hm = _mid(12, 13), _mid(2, 3)
    return [
        [{6: 1.0}, hm],  # Hip <- pelvis
        [{2: 1.0}], [{1: 1.0}], [{0: 1.0}],  # RHip RKnee RFoot
        [{3: 1.0}], [{4: 1.0}], [{5: 1.0}],  # LHip LKnee LFoot
        [{7: 1.0}, sm],  # Spine <- thorax
        [{8: 1.0}],  # Thorax <- upper neck
        [_mid(8, 9)],  # Neck/Nose <- between upper neck and head top
        [{9: 1.0}],  # Head <- head top
        [{13: 1.0}], [{14: 1.0}], [{15: 1.0}],  # LShoulder LElbow LWrist
        [{12: 1.0}], [{11: 1.0}], [{10: 1.0}],  # RShoulder RElbow RWrist
    ]


def _h36m16_rules() -> list[list[Rule]]:
    rules: list[list[Rule]] = []
    for j in range(17):
        if j == 9:
            rules.append([_mid(8, 9)])  # Neck/Nose <- (Thorax + Head) / 2, in 16-joint indices
        else:
            rules.append([{j if j < 9 else j - 1: 1.0}])
    return rules


@dataclass(frozen=True)
class Layout:
    """An input keypoint layout and its rules for each of the 17 Human3.6M joints."""

    name: str
    names: tuple[str, ...]
    rules: tuple[tuple[Rule, ...], ...]

    @property
    def num_keypoints(self) -> int:
        return len(self.names)


def _layout(name: str, names: tuple[str, ...], rules: list[list[Rule]]) -> Layout:
    return Layout(name, names, tuple(tuple(r) for r in rules))


LAYOUTS: dict[str, Layout] = {
    "coco17": _layout("coco17", COCO17_NAMES, _coco_rules()),
    "mediapipe33": _layout("mediapipe33", MEDIAPIPE33_NAMES, _remap(_coco_rules(), MEDIAPIPE_TO_COCO)),
    "mpii16": _layout("mpii16", MPII16_NAMES, _mpii_rules()),
    "h36m17": _layout("h36m17", H36M17_NAMES, [[{j: 1.0}] for j in range(17)]),
    "h36m16": _layout("h36m16", tuple(H36M17_NAMES[j] for j in H36M17_TO_16), _h36m16_rules()),
}
ALIASES = {"coco": "coco17", "mediapipe": "mediapipe33", "mpii": "mpii16", "h36m": "h36m17"}


def get_layout(name: str) -> Layout:
    """Look a layout up by name or alias (coco, mediapipe, mpii, h36m, h36m16, ...)."""
    key = ALIASES.get(name.lower(), name.lower())
    if key not in LAYOUTS:
        known = sorted(set(LAYOUTS) | set(ALIASES))
        raise ValueError(f"unknown keypoint layout {name!r}; choose one of {', '.join(known)}")
    return LAYOUTS[key]


def layouts_with(num_keypoints: int) -> list[str]:
    """Names of the layouts with this many keypoints."""
    return [n for n, lay in LAYOUTS.items() if lay.num_keypoints == num_keypoints]


def valid_mask(keypoints: np.ndarray, confidence_threshold: float = 0.0) -> np.ndarray:
    """(..., K, 2|3) -> (..., K) bool: finite x, y and (when given) confidence >= threshold."""
    ok = np.isfinite(keypoints[..., :2]).all(-1)
    if keypoints.shape[-1] == 3:
        c = keypoints[..., 2]
        ok &= np.isfinite(c) & (c >= confidence_threshold)
    return ok


def convert(
    keypoints: np.ndarray,
    layout: str | Layout,
    num_joints: int = 17,
    confidence_threshold: float = 0.0,
) -> np.ndarray:
    """Map (T, K, 2|3) keypoints of ``layout`` to (T, num_joints, 3) Human3.6M joints.

    The last channel of the result is the confidence (1 where the input had none); joints that
    no rule can derive are NaN with confidence 0. Units are those of the input (pixels usually).
    """
    lay = layout if isinstance(layout, Layout) else get_layout(layout)
    kp = np.asarray(keypoints, dtype=np.float64)
    if kp.ndim != 3 or kp.shape[-1] not in (2, 3):
        raise ValueError(f"keypoints must have shape (T, J, 2 or 3), got {kp.shape}")
    if kp.shape[1] != lay.num_keypoints:
        hint = layouts_with(kp.shape[1])
        more = f" (layouts with {kp.shape[1]}: {', '.join(hint)})" if hint else ""
        raise ValueError(
            f"layout {lay.name!r} expects {lay.num_keypoints} keypoints per frame, got {kp.shape[1]}{more}"
        )
    if num_joints not in (16, 17):
        raise ValueError(f"num_joints must be 17 or 16, got {num_joints}")
    ok = valid_mask(kp, confidence_threshold)  # (T, K)
    conf = kp[..., 2] if kp.shape[-1] == 3 else np.ones(kp.shape[:2])
    conf = np.where(ok, conf, 0.0)
    xy = np.where(ok[..., None], kp[..., :2], 0.0)

    t = kp.shape[0]
    out = np.full((t, 17, 3), np.nan)
    out[..., 2] = 0.0
    for j, alternatives in enumerate(lay.rules):
        todo = np.ones(t, dtype=bool)
        for rule in alternatives:
            idx = list(rule)
            w = np.array([rule[i] for i in idx])
            usable = todo & ok[:, idx].all(-1)
            if usable.any():
                out[usable, j, :2] = np.einsum("tkc,k->tc", xy[usable][:, idx], w)
                out[usable, j, 2] = conf[usable][:, idx].min(-1)
                todo &= ~usable
    if num_joints == 16:
        out = out[:, list(H36M17_TO_16)]
    return out.astype(np.float32)
