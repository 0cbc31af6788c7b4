"""Virtual views and virtual bodies: more viewpoints and body proportions from the same motion
capture.

With ground-truth 2D, every training sample is a world pose seen by one of four fixed cameras,
and a lifting network learns those four viewpoints of five people. Turning each world pose about
the vertical axis through its own root (Human3.6M's world z is up), then projecting it through
the same real cameras, shows each camera a new body orientation at the same place in the image:
a new viewpoint with exact 2D and 3D, the same intrinsics and distortion, and gravity still
pointing down. ``h36m.load_h36m(..., virtual_views=K)`` builds the samples through the ordinary
path.

Virtual bodies answer another gap: Human3.6M trains on five skeletons (two of them male, as are
both test subjects), so a network can learn five sets of bone lengths rather than read them
from the 2D. Each copied sequence gets a new body: every bone's length scaled by its own factor
(the same on the left and right), joint positions rebuilt down the kinematic tree from the
unmoved root, then projected through the same camera (``virtual_bodies=K``). With detected 2D
(``keypoints=sh``, ``cpn``, ...) a new body gets each frame's real detection moved by as much as
that frame's ground-truth projection moved (``shifted_detections``): the detector's error on the
frame, which is what the network must learn to see through, carries over to the new body.
Turned views with detections are built the same way: the turned body's projection plus the
frame's real detection error. That is an approximation (a detector would have erred differently
on the turned body: a limb in front is now behind), so whether it helps is for held-out
subjects to say.

Virtual errors are for detections only: a network trained on detected 2D sees each training
frame with the one error the detector made on it, and can learn that pairing by heart (on
Human3.6M's Stacked Hourglass detections it stops improving on held-out subjects after about
three epochs). A copy with shuffled errors keeps every pose and every error of a sequence and
camera but pairs each frame's ground-truth projection with the detection error of another frame
of the same sequence and camera (``shuffled_errors``; ``virtual_errors=K``).
"""

from __future__ import annotations

import numpy as np

from ampose.data.arrays import DataError
from ampose.data.skeleton import H36M17, H36M17_TO_16, Skeleton


def check_errors_keypoints(virtual_errors: int, keypoints: str) -> None:
    """Shuffled errors need detections: ground truth has no error to shuffle. (Turned views and new
    bodies take either kind of 2D.)"""
    if virtual_errors and keypoints == "gt":
        raise DataError("virtual_errors needs detected 2D (keypoints=sh, cpn or a 2D file), got keypoints='gt': "
                        "ground-truth 2D has no detection error to shuffle")


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


def rescale_bones(x: np.ndarray, scales: np.ndarray, skeleton: Skeleton = H36M17) -> np.ndarray:
    """Poses (T, J, 3) with the bone ending at joint j scaled by scales[j] (scales[0], the root's,
    is unused): each joint is rebuilt from its already rebuilt parent, so the root stays."""
    out = x.copy()
    for j, p in enumerate(skeleton.parents):
        if p >= 0:
            out[:, j] = out[:, p] + scales[j] * (x[:, j] - x[:, p])
    return out


def body_scales(rng: np.random.Generator, spread: float, skeleton: Skeleton = H36M17) -> np.ndarray:
    """One new body: a factor per bone, log-uniform in [1/(1+spread), 1+spread], equal on the left
    and right (a body is symmetric)."""
    scales = np.exp(rng.uniform(-np.log1p(spread), np.log1p(spread), skeleton.num_joints))
    scales[list(skeleton.left)] = scales[list(skeleton.right)]
    return scales


def rebodied_positions(
    positions_3d: dict, subjects: list[str], rng: np.random.Generator, stride: int = 1, spread: float = 0.15,
) -> dict:
    """World positions of `subjects` at `stride`, each sequence with its own new body (body_scales)."""
    return {
        s: {a: rescale_bones(x[::stride].astype(np.float64), body_scales(rng, spread)) for a, x in positions_3d[s].items()}
        for s in subjects
    }


def _per_detection(detections: dict, like: dict, make) -> dict:
    """``make(det, subject, action, camera)`` for every camera of every sequence of `like` that
    has detections: a camera without them (None) stays None, an action without them is left out."""
    out: dict = {}
    for subject, actions in like.items():
        out[subject] = {}
        for action in actions:
            dets = detections.get(subject, {}).get(action)
            if dets is not None:
                out[subject][action] = [None if det is None else make(det, subject, action, c).astype(np.float32)
                                        for c, det in enumerate(dets)]
    return out


def _truth_like(truth: np.ndarray, det: np.ndarray) -> np.ndarray:
    """The ground-truth projection in the detection's joints (17 -> 16 when the detector has 16)."""
    return truth[:, list(H36M17_TO_16)] if det.shape[1] == 16 and truth.shape[1] == 17 else truth


def shifted_detections(detections: dict, before: dict, after: dict) -> dict:
    """Detections for moved bodies: per subject, action and camera, the detected 2D plus how the
    ground-truth projection moved (``after - before``, 17 joints; taken to the detections' 16 when
    they have 16), over the frames all three have. All three must be at the same frame stride. A
    camera without detections (None) stays None; an action without them is left out."""

    def moved(det: np.ndarray, subject: str, action: str, camera: int) -> np.ndarray:
        b, a = before[subject][action][camera], after[subject][action][camera]
        t = min(len(det), len(a), len(b))
        return det[:t] + _truth_like(a[:t] - b[:t], det)

    return _per_detection(detections, after, moved)


def shuffled_errors(detections: dict, truth: dict, rng: np.random.Generator) -> dict:
    """Detections of the same bodies with their errors shuffled in time: per subject, action and
    camera, frame t gets ``truth[t] + (detection[p[t]] - truth[p[t]])`` for a random permutation
    p of the frames both have (truth: the 17-joint ground-truth projection, same stride). A camera
    without detections (None) stays None; an action without them is left out."""

    def shuffled(det: np.ndarray, subject: str, action: str, camera: int) -> np.ndarray:
        t = min(len(det), len(truth[subject][action][camera]))
        gt = _truth_like(truth[subject][action][camera][:t], det)
        return gt + (det[:t] - gt)[rng.permutation(t)]

    return _per_detection(detections, truth, shuffled)
