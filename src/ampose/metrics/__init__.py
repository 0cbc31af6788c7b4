"""Human pose metrics: pure functions (``functional``) and torchmetrics classes (``pose``)."""

from ampose.metrics.functional import (
    AUC_THRESHOLDS_MM, PCK_EXCLUDED_JOINTS, PCK_THRESHOLD_MM, auc, joint_errors, mpjpe, p_mpjpe, pck,
    pck_curve, pck_joints, procrustes_align,
)
from ampose.metrics.pose import MPJPE, PMPJPE, SCENES, ActionMPJPE, PoseMetrics, ScenePCK

__all__ = [
    "AUC_THRESHOLDS_MM", "MPJPE", "PCK_EXCLUDED_JOINTS", "PCK_THRESHOLD_MM", "PMPJPE", "SCENES",
    "ActionMPJPE", "PoseMetrics", "ScenePCK", "auc", "joint_errors", "mpjpe", "p_mpjpe", "pck",
    "pck_curve", "pck_joints", "procrustes_align",
]
