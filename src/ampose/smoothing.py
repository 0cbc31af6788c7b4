"""Temporal smoothing of a lifted pose sequence: the One-Euro filter (Casiez et al., CHI 2012).

A single-frame lifter sees every frame alone, so a video's detector jitter passes straight into
its 3D poses. The One-Euro filter is a first-order low-pass whose cut-off frequency rises with
speed: a joint that is still is smoothed hard (little jitter), a fast one lightly (little lag).
It is causal (frame t uses frames <= t only), so the same filter serves live use.

Here a joint's speed is the length of its velocity vector, not one speed per coordinate, so
the filter commutes with rotations of the camera frame: smoothing rotated poses gives the
rotated smoothed poses.
"""

from __future__ import annotations

import math

import numpy as np


def smoothing_factor(cutoff: float | np.ndarray, fps: float) -> float | np.ndarray:
    """The exponential smoother's weight of the new sample for a cut-off in Hz at ``fps``."""
    tau = 1.0 / (2.0 * math.pi * np.asarray(cutoff, dtype=np.float64))
    return 1.0 / (1.0 + tau * fps)


def one_euro(
    x: np.ndarray,
    fps: float,
    min_cutoff: float = 1.0,
    beta: float = 0.0,
    d_cutoff: float = 1.0,
) -> np.ndarray:
    """Smooth a (T, J, D) sequence along time (axis 0); returns the same shape and dtype.

    Args:
        x: T frames of J points in D coordinates, in order and at a constant rate.
        fps: frames per second of ``x``.
        min_cutoff: cut-off in Hz of a still joint (lower: smoother, more lag).
        beta: how much the cut-off rises per unit of speed (units of ``x`` per second); 0 makes
            a plain exponential smoother.
        d_cutoff: cut-off in Hz of the speed estimate itself.
    """
    for name, value, ok in (("fps", fps, fps > 0), ("min_cutoff", min_cutoff, min_cutoff > 0),
                            ("beta", beta, beta >= 0), ("d_cutoff", d_cutoff, d_cutoff > 0)):
        if not (ok and math.isfinite(value)):
            raise ValueError(f"{name} must be {'>= 0' if name == 'beta' else '> 0'} and finite, got {value}")
    a = np.asarray(x)
    if a.ndim != 3 or len(a) == 0:
        raise ValueError(f"expected a (T, J, D) sequence with T >= 1, got shape {a.shape}")
    if not np.isfinite(a).all():
        raise ValueError("the sequence contains NaN or inf")
    seq = a.astype(np.float64)
    out = np.empty_like(seq)
    out[0] = seq[0]
    speed = np.zeros(seq.shape[1:], dtype=np.float64)  # filtered velocity, (J, D)
    alpha_d = smoothing_factor(d_cutoff, fps)
    for t in range(1, len(seq)):
        speed += alpha_d * ((seq[t] - out[t - 1]) * fps - speed)
        cutoff = min_cutoff + beta * np.linalg.norm(speed, axis=-1, keepdims=True)  # (J, 1)
        out[t] = out[t - 1] + smoothing_factor(cutoff, fps) * (seq[t] - out[t - 1])
    return out.astype(a.dtype, copy=False)
