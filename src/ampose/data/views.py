"""Virtual views: more camera viewpoints from the same motion capture (GT-2D training only).

With ground-truth 2D, every training sample is a world pose seen by one of four fixed cameras,
and a lifting network learns those four viewpoints of five people. Turning each world pose about
the vertical axis through its own root (Human3.6M's world z is up), then projecting it through
the same real cameras, shows each camera a new body orientation at the same place in the image:
a new viewpoint with exact 2D and 3D, the same intrinsics and distortion, and gravity still
pointing down. (Detections cannot be re-made for a turned body, so this is for ``keypoints=gt``
only.) ``h36m.load_h36m(..., virtual_views=K)`` builds the samples through the ordinary path.
"""

from __future__ import annotations

import numpy as np


def rotate_about_vertical(x: np.ndarray, angles: np.ndarray) -> np.ndarray:
    """Turn world poses (T, J, 3) about the vertical (z) axis through each frame's root by angles (T,) rad."""
    c, s = np.cos(angles)[:, None], np.sin(angles)[:, None]
    root = x[:, :1]
    d = x - root
    out = d.copy()
    out[..., 0] = c * d[..., 0] - s * d[..., 1]
    out[..., 1] = s * d[..., 0] + c * d[..., 1]
    return out + root


def turned_positions(
    positions_3d: dict, subjects: list[str], rng: np.random.Generator, stride: int = 1,
    max_angle: float = np.pi,
) -> dict:
    """World positions of `subjects` at `stride`, every frame turned by its own angle, uniform in
    [-max_angle, max_angle) (one draw per frame; all cameras see the same turned body)."""
    return {
        s: {a: rotate_about_vertical(x[::stride].astype(np.float64), rng.uniform(-max_angle, max_angle, len(x[::stride])))
            for a, x in positions_3d[s].items()}
        for s in subjects
    }
