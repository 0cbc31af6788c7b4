"""Virtual views: more camera viewpoints from the same motion capture (GT-2D training only).

With ground-truth 2D, every training sample is a world pose seen by one of four fixed cameras,
and a lifting network learns those four viewpoints of five people. Turning each world pose about
the vertical axis through its own root, then projecting it through the same real camera, shows
the camera a new body orientation at the same place in the image: a new viewpoint with exact
2D and 3D, the same intrinsics and distortion, and gravity still pointing down. (Detections
cannot be re-made for a turned body, so this is for ``keypoints=gt`` only.)
"""

from __future__ import annotations

import numpy as np

from ampose.data.actions import canonical_action
from ampose.data.arrays import FIELDS, DataError, PoseArrays
from ampose.data.cameras import h36m_cameras
from ampose.data.skeleton import H36M17_TO_16

UP_AXIS = 2  # Human3.6M world frame: z is up (hips ~0.9 m, head ~1.6 m)


def rotate_about_vertical(x: np.ndarray, angles: np.ndarray) -> np.ndarray:
    """Turn world poses (T, J, 3) about the vertical axis through each frame's root by angles (T,) rad."""
    c, s = np.cos(angles)[:, None], np.sin(angles)[:, None]
    root = x[:, :1]
    d = x - root
    out = d.copy()
    out[..., 0] = c * d[..., 0] - s * d[..., 1]
    out[..., 1] = s * d[..., 0] + c * d[..., 1]
    return out + root


def virtual_view_samples(
    positions_3d: dict, subjects: list[str], copies: int, num_joints: int = 17, stride: int = 1,
    seed: int = 0, skip: frozenset | set = frozenset(), max_angle: float = np.pi,
) -> PoseArrays:
    """`copies` turned versions of every (subject, sequence, camera) at `stride`, as PoseArrays.

    Each frame of each copy gets its own angle, uniform in [-max_angle, max_angle), drawn from
    `seed` (the same data every load). Subject/camera/action indices are those of the real
    samples, in the same order (subject, sequence, camera, copy).
    """
    if copies < 1:
        raise DataError(f"virtual views: copies must be >= 1, got {copies}")
    rng = np.random.default_rng(seed)
    cols: dict[str, list[np.ndarray]] = {k: [] for k in FIELDS if k != "scene"}
    for si, subject in enumerate(subjects):
        cams = h36m_cameras(subject)
        for action, x3 in positions_3d[subject].items():
            if (subject, action) in skip:
                continue
            a = canonical_action(action)
            xw = x3[::stride].astype(np.float64)
            for ci, cam in enumerate(cams):
                for _ in range(copies):
                    turned = rotate_about_vertical(xw, rng.uniform(-max_angle, max_angle, len(xw)))
                    xc = cam.world_to_camera(turned)
                    p2 = cam.normalize(cam.project(xc))
                    p3 = xc - xc[:, :1]
                    if num_joints == 16:
                        p2, p3 = p2[:, list(H36M17_TO_16)], p3[:, list(H36M17_TO_16)]
                    cols["pose2d"].append(p2)
                    cols["pose3d"].append(p3)
                    n = len(p3)
                    cols["action"].append(np.full(n, a))
                    cols["subject"].append(np.full(n, si))
                    cols["camera"].append(np.full(n, ci))
    arrays = {k: np.concatenate(v) for k, v in cols.items()}
    arrays["scene"] = np.full(len(arrays["action"]), -1)
    return PoseArrays(**arrays, subjects=list(subjects))


def concat(a: PoseArrays, b: PoseArrays) -> PoseArrays:
    """Samples of a then b (same subjects list)."""
    if a.subjects != b.subjects:
        raise DataError(f"cannot concatenate samples of subjects {a.subjects} and {b.subjects}")
    return PoseArrays(**{k: np.concatenate([getattr(a, k), getattr(b, k)]) for k in FIELDS}, subjects=a.subjects)
