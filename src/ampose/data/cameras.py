"""Human3.6M cameras shipped with the package, and the geometry that uses them.

The numbers are the public calibration circulated with VideoPose3D's preprocessing. The
projection reproduces how the field's `data_2d_h36m_gt.npz` was made (Human3.6M distortion
model), so ground-truth 2D computed here matches the files users already have.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np

CAMERA_IDS: tuple[str, ...] = ("54138969", "55011271", "58860488", "60457274")


@dataclass(frozen=True)
class Camera:
    """One calibrated camera as seen by one subject's session.

    `rotation` maps camera axes to world axes (columns are the camera axes in world
    coordinates); `translation` is the camera centre in world metres.
    """

    id: str
    focal: np.ndarray  # (2,) px
    center: np.ndarray  # (2,) px
    radial: np.ndarray  # (3,) k1 k2 k3
    tangential: np.ndarray  # (2,) p1 p2
    res_w: int
    res_h: int
    rotation: np.ndarray  # (3, 3)
    translation: np.ndarray  # (3,) metres

    def world_to_camera(self, x: np.ndarray) -> np.ndarray:
        """(..., 3) world metres -> camera frame metres: R^T (X - t)."""
        return (x - self.translation) @ self.rotation  # row-vector form of R^T (X - t)

    def camera_to_world(self, x: np.ndarray) -> np.ndarray:
        """Inverse of world_to_camera."""
        return x @ self.rotation.T + self.translation

    def project(self, x_cam: np.ndarray) -> np.ndarray:
        """(..., 3) camera-frame points -> (..., 2) distorted pixels."""
        return project(x_cam, self.focal, self.center, self.radial, self.tangential)

    def normalize(self, uv: np.ndarray) -> np.ndarray:
        return normalize_screen(uv, self.res_w, self.res_h)

    def unnormalize(self, xy: np.ndarray) -> np.ndarray:
        return unnormalize_screen(xy, self.res_w, self.res_h)


def quaternion_to_matrix(q: np.ndarray) -> np.ndarray:
    """Unit quaternion (w, x, y, z) -> (3, 3) rotation matrix."""
    w, x, y, z = np.asarray(q, dtype=np.float64) / np.linalg.norm(q)
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
        [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
        [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
    ])


def project(
    x_cam: np.ndarray, focal: np.ndarray, center: np.ndarray,
    radial: np.ndarray, tangential: np.ndarray,
) -> np.ndarray:
    """Human3.6M distortion model: normalised coords clamped to [-1, 1], 3 radial + 2 tangential."""
    xy = np.clip(x_cam[..., :2] / x_cam[..., 2:3], -1.0, 1.0)  # (..., 2)
    r2 = np.sum(xy**2, axis=-1, keepdims=True)  # (..., 1)
    k1, k2, k3 = radial
    rad = 1 + k1 * r2 + k2 * r2**2 + k3 * r2**3
    tan = np.sum(np.asarray(tangential) * xy, axis=-1, keepdims=True)
    xy_d = xy * (rad + tan) + np.asarray(tangential) * r2
    return np.asarray(focal) * xy_d + np.asarray(center)


def normalize_screen(uv: np.ndarray, w: int, h: int) -> np.ndarray:
    """Pixels -> screen coords: x / w * 2 - [1, h / w] (x in [-1, 1], aspect kept)."""
    return uv / w * 2 - np.array([1.0, h / w], dtype=uv.dtype)


def unnormalize_screen(xy: np.ndarray, w: int, h: int) -> np.ndarray:
    """Inverse of normalize_screen."""
    return (xy + np.array([1.0, h / w], dtype=xy.dtype)) * w / 2


@lru_cache(maxsize=1)
def _raw() -> dict:
    text = resources.files("ampose.data").joinpath("h36m_cameras.json").read_text()
    return json.loads(text)


def subjects_with_cameras() -> tuple[str, ...]:
    return tuple(_raw()["extrinsics"])


@lru_cache(maxsize=None)
def h36m_camera(subject: str, index: int) -> Camera:
    """Camera `index` (0..3, in CAMERA_IDS order) of a Human3.6M subject's sessions."""
    raw = _raw()
    if subject not in raw["extrinsics"]:
        raise KeyError(f"no Human3.6M cameras for subject {subject!r}; known: {', '.join(raw['extrinsics'])}")
    intr, extr = raw["intrinsics"][index], raw["extrinsics"][subject][index]
    f64 = lambda v: np.asarray(v, dtype=np.float64)  # noqa: E731
    return Camera(
        id=intr["id"], focal=f64(intr["focal_length"]), center=f64(intr["center"]),
        radial=f64(intr["radial_distortion"]), tangential=f64(intr["tangential_distortion"]),
        res_w=int(intr["res_w"]), res_h=int(intr["res_h"]),
        rotation=quaternion_to_matrix(extr["orientation"]),
        translation=f64(extr["translation"]) / 1000.0,
    )


def h36m_cameras(subject: str) -> list[Camera]:
    """The 4 cameras of a subject, in CAMERA_IDS order."""
    return [h36m_camera(subject, i) for i in range(len(CAMERA_IDS))]
