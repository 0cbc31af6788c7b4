"""Human pose metrics: pure functions (``functional``) and torchmetrics classes (``pose``)."""

from ampose.metrics.functional import (
    AUC_THRESHOLDS_MM, PCK_EXCLUDED_JOINTS, PCK_THRESHOLD_MM, auc, bone_lengths, joint_errors, mpjpe, n_mpjpe, p_mpjpe,
    pck, pck_curve, pck_joints, procrustes_align, scale_align,
)
from ampose.metrics.pose import MPJPE, PMPJPE, SCENES, ActionMPJPE, BoneLengths, PoseMetrics, ScenePCK

__all__ = [
    "AUC_THRESHOLDS_MM", "MPJPE", "PCK_EXCLUDED_JOINTS", "PCK_THRESHOLD_MM", "PMPJPE", "SCENES",
    "ActionMPJPE", "BoneLengths", "PoseMetrics", "ScenePCK", "auc", "bone_lengths", "joint_errors", "mpjpe", "n_mpjpe", "p_mpjpe",
    "pck", "pck_curve", "pck_joints", "procrustes_align", "scale_align",
]
