"""Synthetic stand-in for the MPI-INF-3DHP test set, written in the package's 3DHP npz layout.

Six sequences TS1..TS6 (scenes GS, GS, noGS, noGS, outdoor, outdoor) of a kinematic skeleton in the
MPI 17-joint order with bone lengths near 3DHP's universal skeleton, driven by smooth random
joint-angle trajectories inside anatomical limits (free-form movement, not Human3.6M's actions),
standing on a ground plane and walking about. 2D is the pinhole projection through 3DHP-like
cameras (TS1-4: 2048x2048 studio camera, TS5-6: the outdoor camera), not Human3.6M's. Frames with
a joint outside the image, plus a few random dropout segments, are marked invalid.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ampose.data.mpi_3dhp import IMAGE_SIZE, MPI17_PARENTS, SEQUENCE_SCENE, SEQUENCES, save_3dhp_test

# Intrinsics (fx, fy, cx, cy) px. TS5-6: the published outdoor camera. TS1-4: derived from the
# official ts1-4cameras.calib (7.325 mm focal on a 10 mm, 2048 px sensor, small centre offset).
INTRINSICS = {
    **{s: (1500.2, 1500.8, 1017.4, 1043.0) for s in ("TS1", "TS2", "TS3", "TS4")},
    "TS5": (1683.98, 1672.59, 939.86, 560.14),
    "TS6": (1683.98, 1672.59, 939.86, 560.14),
}
FPS = 25.0

# Rest-pose bone offsets in the body frame (x: subject's left, y: down, z: backward), unit
# directions times lengths in mm; child joint -> (direction, length).
_REST = {
    15: ((0, -1, 0), 215.0),      # pelvis -> spine
    1: ((0, -1, 0), 235.0),       # spine -> neck
    16: ((0, -1, -0.15), 80.0),   # neck -> head
    0: ((0, -1, 0.1), 162.0),     # head -> head_top
    2: ((-1, 0.1, 0), 132.0),     # neck -> r_shoulder
    3: ((0, 1, 0), 315.0),        # upper arm
    4: ((0, 1, 0), 245.0),        # forearm
    5: ((1, 0.1, 0), 132.0),
    6: ((0, 1, 0), 315.0),
    7: ((0, 1, 0), 245.0),
    8: ((-1, 0, 0), 110.0),       # pelvis -> r_hip
    9: ((0, 1, 0), 440.0),        # thigh
    10: ((0, 1, 0), 400.0),       # shin
    11: ((1, 0, 0), 110.0),
    12: ((0, 1, 0), 440.0),
    13: ((0, 1, 0), 400.0),
}
_ORDER = (14, 15, 1, 16, 0, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13)  # parents first

# Local rotation limits (rad) per bone: (flexion about x, abduction about z, twist about y).
# Negative flexion swings a hanging limb forward (toward -z). Abduction is given for the right
# side (+ moves it outward, toward -x) and mirrored for the left.
_LIMITS = {
    15: ((-0.15, 0.6), (-0.2, 0.2), (-0.5, 0.5)),   # trunk bend, side bend, twist
    1: ((-0.1, 0.3), (-0.1, 0.1), (-0.2, 0.2)),
    16: ((-0.4, 0.5), (-0.3, 0.3), (-0.8, 0.8)),    # head nod, tilt, turn
    3: ((-2.6, 0.6), (0.0, 2.3), (-0.8, 0.8)),      # shoulder
    4: ((-2.4, 0.0), (0.0, 0.0), (0.0, 0.0)),       # elbow hinge
    9: ((-1.7, 0.35), (-0.2, 0.7), (-0.5, 0.5)),    # hip
    10: ((0.0, 2.1), (0.0, 0.0), (0.0, 0.0)),       # knee hinge
}
_MIRROR = {6: 3, 7: 4, 12: 9, 13: 10}


def _rot(axis: int, a: np.ndarray) -> np.ndarray:
    """(T,) angles -> (T, 3, 3) rotations about x (0), y (1) or z (2)."""
    c, s = np.cos(a), np.sin(a)
    r = np.zeros(a.shape + (3, 3))
    i, j = [(1, 2), (2, 0), (0, 1)][axis]
    r[:, axis, axis] = 1.0
    r[:, i, i], r[:, i, j], r[:, j, i], r[:, j, j] = c, -s, s, c
    return r


def _smooth(rng: np.random.Generator, t: np.ndarray, fmax: float) -> np.ndarray:
    """(T,) smooth signal in [0, 1]: a normalised sum of three random sinusoids below fmax Hz."""
    amp = rng.uniform(0.2, 1.0, 3)
    f = rng.uniform(0.05, fmax, 3)
    ph = rng.uniform(0, 2 * np.pi, 3)
    s = (amp[:, None] * np.sin(2 * np.pi * f[:, None] * t[None] + ph[:, None])).sum(0) / amp.sum()
    return 0.5 * (s + 1.0)


def _local_rotations(rng: np.random.Generator, t: np.ndarray, fmax: float) -> dict[int, np.ndarray]:
    """Per bone (T, 3, 3) local rotation from smooth angles within the limits."""
    out = {}
    for bone in (*_LIMITS, *_MIRROR):
        lim = _LIMITS[_MIRROR.get(bone, bone)]
        sign = -1.0 if bone in _MIRROR else 1.0  # left side: abduction and twist mirrored
        ang = [lo + (hi - lo) * _smooth(rng, t, fmax) for lo, hi in lim]
        out[bone] = _rot(1, sign * ang[2]) @ _rot(2, sign * ang[1]) @ _rot(0, ang[0])
    return out


def _pose_sequence(rng: np.random.Generator, n: int, fmax: float, scale: float) -> np.ndarray:
    """(T, 17, 3) MPI-17 joints in the body frame (mm), pelvis at the origin, heading applied."""
    t = np.arange(n) / FPS
    local = _local_rotations(rng, t, fmax)
    yaw = rng.uniform(-np.pi, np.pi) + np.cumsum(rng.normal(0, 0.02, n)) + 1.2 * (_smooth(rng, t, 0.1) - 0.5)
    root = _rot(1, yaw) @ _rot(0, 0.08 * (_smooth(rng, t, 0.2) - 0.5)) @ _rot(2, 0.06 * (_smooth(rng, t, 0.2) - 0.5))
    glob = {14: root}
    pos = np.zeros((n, 17, 3))
    for j in _ORDER[1:]:
        p = MPI17_PARENTS[j]
        direction, length = _REST[j]
        offset = np.asarray(direction, float) / np.linalg.norm(direction) * length * scale
        rj = glob[p] @ local[j] if j in local else glob[p]
        glob[j] = rj
        pos[:, j] = pos[:, p] + rj @ offset  # bone rotated by its own segment frame
    return pos


def _sequence(rng: np.random.Generator, name: str) -> dict[str, np.ndarray]:
    """One synthetic test sequence in the package layout (MPI-17 order, mm, px)."""
    n = int(rng.integers(200, 321))
    w, h = IMAGE_SIZE[name]
    fx, fy, cx, cy = INTRINSICS[name]
    fmax = {0: 0.5, 1: 0.8, 2: 1.2}[SEQUENCE_SCENE[name]]  # faster motion outdoors
    body = _pose_sequence(rng, n, fmax, scale=rng.uniform(0.93, 1.07))  # (T, 17, 3) mm
    t = np.arange(n) / FPS
    depth = {0: 3800.0, 1: 3800.0, 2: 4600.0}[SEQUENCE_SCENE[name]]
    ground = 900.0 if h == 1080 else rng.uniform(850.0, 1000.0)  # camera height above the floor, mm
    trans = np.stack([
        1100.0 * (_smooth(rng, t, 0.08) - 0.5),
        np.zeros(n),
        depth + 1200.0 * (_smooth(rng, t, 0.08) - 0.5),
    ], -1)  # (T, 3)
    trans[:, 1] = ground - body[:, [10, 13], 1].max(1)  # lowest ankle on the floor
    cam3d = body + trans[:, None]  # (T, 17, 3) camera frame mm
    uv = np.stack([fx * cam3d[..., 0] / cam3d[..., 2] + cx, fy * cam3d[..., 1] / cam3d[..., 2] + cy], -1)
    inside = ((uv >= 0) & (uv < np.array([w, h]))).all((1, 2))
    valid = inside.copy()
    for _ in range(int(rng.integers(1, 4))):  # dropout segments (occlusion, tracking loss)
        start, length = int(rng.integers(0, n - 10)), int(rng.integers(3, 20))
        valid[start : start + length] = False
    return {
        "data_2d": uv.astype(np.float32), "data_3d": cam3d.astype(np.float32),
        "annot3": cam3d.astype(np.float32), "valid": valid.astype(np.uint8),
        "image_size": np.array([w, h], np.int64), "scene": np.int64(SEQUENCE_SCENE[name]),
        "intrinsics": np.array([fx, fy, cx, cy], np.float64),
    }


def synthetic_3dhp_sequences(seed: int = 0) -> dict[str, dict[str, np.ndarray]]:
    """The six synthetic sequences, deterministic given the seed."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, 3]))
    return {name: _sequence(rng, name) for name in SEQUENCES}


def write_synthetic_3dhp(out_path: str | os.PathLike, seed: int = 0) -> Path:
    """Write the synthetic 3DHP test npz (read by `load_3dhp_test`) atomically, marked as the
    stand-in wherever it goes (`mpi_3dhp.is_synthetic`); returns its path."""
    return save_3dhp_test(out_path, synthetic_3dhp_sequences(seed), synthetic=True)
