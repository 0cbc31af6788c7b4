"""The evaluation protocols as pure, batched torch functions (no torchmetrics, no Lightning).

All functions take poses of shape ``(B, J, 3)`` (or ``(..., J, 3)``) in any one unit; the
thresholds of :func:`pck` and :func:`auc` are in the same unit (mm by convention: 150 mm).

- MPJPE (Protocol 1): mean Euclidean joint error.
- P-MPJPE (Protocol 2): MPJPE after aligning each predicted frame to its truth by a similarity
  transform (rotation, translation, uniform scale; reflections excluded), found in closed form
  by Umeyama's method.
- N-MPJPE: MPJPE after scaling each predicted frame by its least-squares factor (Rhodin et al.
  2018): what is left once the body's overall size, which 2D alone cannot fix, is forgiven.
- Bone lengths: the distance from each joint to its parent, to compare predicted bodies with
  true ones (a lifting network that memorised its training subjects predicts their bones).
- PCK / AUC (MPI-INF-3DHP): share of joints with error < threshold (strict, as the official
  `mpii_compute_3d_pck.m` of the test-set release), on the official 14 joints; AUC is the mean
  PCK over thresholds 0, 5, ..., 150 mm.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

Reduction = Literal["mean", "none"]

# MPI-INF-3DHP's official evaluation uses 14 joints: it leaves out pelvis, spine and head.
# In the Human3.6M orders used by ampose those are Hip (0), Spine (7) and, for 17 joints,
# Neck/Nose (9) (the joint the MPI "head" maps to); the 16-joint order has no Neck/Nose.
# One table, easy to change if the official convention turns out to differ.
PCK_EXCLUDED_JOINTS: dict[int, tuple[int, ...]] = {17: (0, 7, 9), 16: (0, 7)}
PCK_THRESHOLD_MM: float = 150.0
AUC_THRESHOLDS_MM: tuple[float, ...] = tuple(float(t) for t in range(0, 151, 5))  # 31 values


def pck_joints(num_joints: int) -> list[int]:
    """Indices of the joints the 3DHP PCK/AUC are computed on (14 for 17 or 16 joints)."""
    if num_joints not in PCK_EXCLUDED_JOINTS:
        raise ValueError(f"no 3DHP evaluation joints defined for {num_joints} joints; "
                         f"known: {sorted(PCK_EXCLUDED_JOINTS)}")
    excluded = PCK_EXCLUDED_JOINTS[num_joints]
    return [j for j in range(num_joints) if j not in excluded]


def _check(pred: Tensor, target: Tensor) -> None:
    if pred.shape != target.shape or pred.dim() < 2 or pred.shape[-1] != 3:
        raise ValueError(f"expected pred and target of the same shape (..., J, 3), "
                         f"got {tuple(pred.shape)} and {tuple(target.shape)}")


def _reduce(per_frame: Tensor, reduction: Reduction) -> Tensor:
    if reduction == "mean":
        return per_frame.mean()
    if reduction == "none":
        return per_frame
    raise ValueError(f"reduction must be 'mean' or 'none', got {reduction!r}")


def joint_errors(pred: Tensor, target: Tensor) -> Tensor:
    """Euclidean error of every joint: ``(..., J, 3) -> (..., J)``."""
    _check(pred, target)
    return torch.linalg.vector_norm(pred - target, dim=-1)


def mpjpe(pred: Tensor, target: Tensor, reduction: Reduction = "mean") -> Tensor:
    """Mean per-joint position error (Protocol 1); per frame with ``reduction="none"``."""
    return _reduce(joint_errors(pred, target).mean(dim=-1), reduction)


def procrustes_align(pred: Tensor, target: Tensor, eps: float = 1e-12) -> Tensor:
    """Align each frame of ``pred`` to ``target`` by the best similarity transform.

    Umeyama (1991): with centred point sets P (pred) and Y (target), the cross-covariance
    ``Y^T P = U S V^T`` gives the rotation ``R = U D V^T`` with ``D = diag(1, 1, sign det(U V^T))``
    (so no reflection), the scale ``s = tr(S D) / |P|^2`` and the translation from the means.
    Computed in float64; returns ``s P R^T + mean(Y)`` in the input dtype, shape ``(..., J, 3)``.
    A frame with a non-finite coordinate comes back NaN (the other frames are unaffected).
    """
    _check(pred, target)
    dtype = pred.dtype
    p, y = pred.double(), target.double()
    mu_p, mu_y = p.mean(dim=-2, keepdim=True), y.mean(dim=-2, keepdim=True)  # (..., 1, 3)
    p0, y0 = p - mu_p, y - mu_y  # (..., J, 3)
    cov = y0.transpose(-1, -2) @ p0  # (..., 3, 3)
    # A non-finite frame (a diverged model's NaN) stays NaN through p0 and the scale; the SVD
    # sees zeros there, as it refuses non-finite input on the CPU and the whole batch would fail.
    cov = torch.where(torch.isfinite(cov).all(dim=(-2, -1), keepdim=True), cov, torch.zeros_like(cov))
    u, s, vh = torch.linalg.svd(cov)
    d = torch.linalg.det(u @ vh)  # (...,), +-1
    sign = torch.where(d < 0, -torch.ones_like(d), torch.ones_like(d))
    diag = torch.ones_like(s)
    diag[..., -1] = sign
    rot = u @ (diag.unsqueeze(-1) * vh)  # U diag(D) V^T, (..., 3, 3)
    scale = (s * diag).sum(dim=-1) / (p0.square().sum(dim=(-1, -2))).clamp_min(eps)  # (...,)
    aligned = scale[..., None, None] * (p0 @ rot.transpose(-1, -2)) + mu_y
    return aligned.to(dtype)


def p_mpjpe(pred: Tensor, target: Tensor, reduction: Reduction = "mean") -> Tensor:
    """MPJPE after per-frame similarity Procrustes alignment (Protocol 2)."""
    return mpjpe(procrustes_align(pred, target), target, reduction)


def scale_align(pred: Tensor, target: Tensor, eps: float = 1e-12) -> Tensor:
    """Each frame of ``pred`` times ``s = <pred, target> / <pred, pred>``, the scale that brings
    it closest to ``target`` in the least-squares sense (poses as given: root-relative in ampose)."""
    _check(pred, target)
    s = (pred * target).sum(dim=(-2, -1), keepdim=True) / (pred * pred).sum(dim=(-2, -1), keepdim=True).clamp_min(eps)
    return pred * s


def n_mpjpe(pred: Tensor, target: Tensor, reduction: Reduction = "mean") -> Tensor:
    """MPJPE after per-frame least-squares scaling (N-MPJPE)."""
    return mpjpe(scale_align(pred, target), target, reduction)


def pck_curve(errors: Tensor, thresholds: Tensor | tuple[float, ...] = AUC_THRESHOLDS_MM) -> Tensor:
    """Per-frame share (0..1) of joints with ``error < t`` (strict, as the official evaluation) for each threshold t.

    Args:
        errors: joint errors ``(B, K)`` (already restricted to the evaluation joints).
        thresholds: ``(T,)``.
    Returns:
        ``(B, T)``.
    """
    thr = torch.as_tensor(thresholds, dtype=errors.dtype, device=errors.device)
    return (errors.unsqueeze(-1) < thr).to(errors.dtype).mean(dim=-2)


def pck(pred: Tensor, target: Tensor, threshold: float = PCK_THRESHOLD_MM,
        joints: list[int] | None = None, reduction: Reduction = "mean") -> Tensor:
    """Percentage of correct keypoints (error < threshold) on ``joints`` (default: 3DHP's 14)."""
    joints = pck_joints(pred.shape[-2]) if joints is None else joints
    err = joint_errors(pred, target)[..., joints]
    return _reduce(100.0 * pck_curve(err, (threshold,))[..., 0], reduction)


def auc(pred: Tensor, target: Tensor, thresholds: tuple[float, ...] = AUC_THRESHOLDS_MM,
        joints: list[int] | None = None, reduction: Reduction = "mean") -> Tensor:
    """Area under the PCK curve: mean PCK (in %) over ``thresholds`` (default 0..150 step 5)."""
    joints = pck_joints(pred.shape[-2]) if joints is None else joints
    err = joint_errors(pred, target)[..., joints]
    return _reduce(100.0 * pck_curve(err, thresholds).mean(dim=-1), reduction)


def bone_lengths(pose: Tensor, parents: tuple[int, ...] | list[int]) -> Tensor:
    """``(..., J, 3) -> (..., J - 1)``: the length of the bone ending at each non-root joint, in
    joint order (``parents[j] = -1`` marks the root)."""
    child = [j for j, p in enumerate(parents) if p >= 0]
    parent = [parents[j] for j in child]
    return torch.linalg.vector_norm(pose[..., child, :] - pose[..., parent, :], dim=-1)
