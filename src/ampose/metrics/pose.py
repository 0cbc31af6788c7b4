"""Thin torchmetrics classes over :mod:`ampose.metrics.functional`.

Every state is a tensor with ``dist_reduce_fx="sum"``: sums of errors and counts, so the
result under DDP (states summed over processes) equals the result on one process.
Inputs are in metres (model output, targets) and ``scale=1000`` reports millimetres; half-precision
inputs are measured in float32.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torchmetrics import MeanMetric, Metric

from ampose.data.actions import ACTIONS
from ampose.data.skeleton import skeleton_for
from ampose.metrics import functional as F

SCENES: tuple[str, ...] = ("GS", "noGS", "outdoor")  # MPI-INF-3DHP scene indices 0, 1, 2
SCENE_UNKNOWN = len(SCENES)  # an MPI-INF-3DHP frame whose scene is not known (-1: not a 3DHP frame)


def _wide(x: Tensor) -> Tensor:
    """Half-precision inputs (bf16, fp16) in float32, float64 as given: bf16 keeps ~3 digits, so
    errors near 150 mm would round to 1 mm (PCK moved by 0.3 points) and MPJPE by 0.04 mm."""
    return x.to(torch.promote_types(x.dtype, torch.float32))


class MPJPE(Metric):
    """Frame-wise mean per-joint position error (Protocol 1; Protocol 2 with ``procrustes``).

    Args:
        procrustes: align each predicted frame to its truth by a similarity transform first.
        scale: multiplies the inputs (1000: metres in, millimetres out).
    """

    full_state_update = False
    higher_is_better = False
    is_differentiable = False

    def __init__(self, procrustes: bool = False, scale: float = 1000.0, **kwargs) -> None:
        super().__init__(**kwargs)
        self.procrustes, self.scale = procrustes, scale
        self.add_state("error_sum", torch.zeros((), dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("count", torch.zeros((), dtype=torch.float64), dist_reduce_fx="sum")

    def _frame_errors(self, pred: Tensor, target: Tensor) -> Tensor:
        fn = F.p_mpjpe if self.procrustes else F.mpjpe
        return fn(_wide(pred) * self.scale, _wide(target) * self.scale, reduction="none")  # (B,)

    def update(self, pred: Tensor, target: Tensor) -> None:
        """Add a batch of poses ``(B, J, 3)``."""
        err = self._frame_errors(pred, target)
        self.error_sum += err.sum(dtype=torch.float64)
        self.count += err.numel()

    def compute(self) -> Tensor:
        """Mean over all frames (NaN before any update)."""
        return self.error_sum / self.count


class PMPJPE(MPJPE):
    """Frame-wise P-MPJPE (Protocol 2): MPJPE after per-frame similarity Procrustes."""

    def __init__(self, scale: float = 1000.0, **kwargs) -> None:
        super().__init__(procrustes=True, scale=scale, **kwargs)


class ActionMPJPE(MPJPE):
    """Action-wise MPJPE: frame-weighted mean within each action, then the unweighted mean
    over the actions that have frames (the way Human3.6M results are reported).

    Frames whose action index is outside ``[0, num_actions)`` (e.g. -1, unknown) are ignored.
    """

    def __init__(self, procrustes: bool = False, scale: float = 1000.0,
                 num_actions: int = len(ACTIONS), **kwargs) -> None:
        Metric.__init__(self, **kwargs)
        self.procrustes, self.scale, self.num_actions = procrustes, scale, num_actions
        self.add_state("error_sum", torch.zeros(num_actions, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("count", torch.zeros(num_actions, dtype=torch.float64), dist_reduce_fx="sum")

    def update(self, pred: Tensor, target: Tensor, action: Tensor) -> None:  # type: ignore[override]
        """Add poses ``(B, J, 3)`` with their action indices ``(B,)``."""
        err = self._frame_errors(pred, target).double()
        action = action.to(err.device).long()
        valid = (action >= 0) & (action < self.num_actions)
        index = action.clamp(0, self.num_actions - 1)
        self.error_sum.index_add_(0, index, torch.where(valid, err, torch.zeros_like(err)))
        self.count.index_add_(0, index, valid.double())

    def _per_action(self) -> Tensor:
        return torch.where(self.count > 0, self.error_sum / self.count.clamp_min(1), torch.nan)

    def per_action(self) -> Tensor:
        """``(num_actions,)`` mean error per action; NaN where an action has no frames."""
        with self.sync_context(should_sync=self._to_sync, should_unsync=self._should_unsync):
            return self._per_action()

    def compute(self) -> Tensor:
        """Unweighted mean over the actions that have frames (NaN if none has, or if an action's
        error is NaN: a NaN prediction shows here as in the frame-wise mean, never dropped)."""
        has = self.count > 0
        return torch.where(has, self._per_action(), 0.0).sum() / has.sum()


class ScenePCK(Metric):
    """MPI-INF-3DHP PCK (error < 150 mm, strict as the official code) and AUC (thresholds 0..150 step 5) on the official
    14 joints, per scene (GS, noGS, outdoor) and overall.

    ``compute()`` returns a dict: ``pck``, ``auc`` (overall: every MPI-INF-3DHP frame, of known
    scene or not; frames marked -1, not 3DHP, count nowhere) and ``pck_<scene>``,
    ``auc_<scene>`` for each scene; NaN where there are no frames. Percentages.
    """

    full_state_update = False
    higher_is_better = True
    is_differentiable = False

    def __init__(self, num_joints: int = 17, scale: float = 1000.0,
                 threshold: float = F.PCK_THRESHOLD_MM,
                 thresholds: tuple[float, ...] = F.AUC_THRESHOLDS_MM, **kwargs) -> None:
        super().__init__(**kwargs)
        self.scale, self.threshold, self.thresholds = scale, threshold, tuple(thresholds)
        self.joints = F.pck_joints(num_joints)
        slots = len(SCENES) + 2  # then 3DHP frames of unknown scene, then frames that are not 3DHP
        for name in ("pck_sum", "auc_sum", "count"):
            self.add_state(name, torch.zeros(slots, dtype=torch.float64), dist_reduce_fx="sum")

    def update(self, pred: Tensor, target: Tensor, scene: Tensor) -> None:
        """Add poses ``(B, J, 3)`` with their scene indices ``(B,)`` (SCENE_UNKNOWN: a 3DHP frame of
        unknown scene; -1: not a 3DHP frame)."""
        err = F.joint_errors(_wide(pred) * self.scale, _wide(target) * self.scale)[:, self.joints]  # (B, K)
        pck = F.pck_curve(err, (self.threshold,))[:, 0].double()  # (B,)
        auc = F.pck_curve(err, self.thresholds).mean(dim=-1).double()  # (B,)
        scene = scene.to(err.device).long()
        other = SCENE_UNKNOWN + 1
        index = torch.where((scene >= 0) & (scene <= SCENE_UNKNOWN), scene, torch.full_like(scene, other))
        self.pck_sum.index_add_(0, index, pck)
        self.auc_sum.index_add_(0, index, auc)
        self.count.index_add_(0, index, torch.ones_like(pck))

    def compute(self) -> dict[str, Tensor]:
        """PCK and AUC in percent, overall and per scene."""
        def ratio(num: Tensor, den: Tensor) -> Tensor:
            return torch.where(den > 0, 100.0 * num / den.clamp_min(1), torch.nan)

        dhp = slice(0, SCENE_UNKNOWN + 1)  # the overall figures count 3DHP frames only
        out = {"pck": ratio(self.pck_sum[dhp].sum(), self.count[dhp].sum()),
               "auc": ratio(self.auc_sum[dhp].sum(), self.count[dhp].sum())}
        for i, name in enumerate(SCENES):
            out[f"pck_{name}"] = ratio(self.pck_sum[i], self.count[i])
            out[f"auc_{name}"] = ratio(self.auc_sum[i], self.count[i])
        return out

    def has_scenes(self) -> bool:
        """Whether any MPI-INF-3DHP frame was seen, of known scene or not (one host sync)."""
        with self.sync_context(should_sync=self._to_sync, should_unsync=self._should_unsync):
            return bool((self.count[: SCENE_UNKNOWN + 1] > 0).any())


class BoneLengths(Metric):
    """Mean true and predicted length of every bone, and the mean absolute difference, in mm.

    ``compute()`` returns a dict of ``(J - 1,)`` tensors: ``true``, ``pred``, ``abs_error``, one
    entry per non-root joint (the bone from its parent), in joint order. NaN before any update.
    """

    full_state_update = False
    is_differentiable = False

    def __init__(self, parents: tuple[int, ...], scale: float = 1000.0, **kwargs) -> None:
        super().__init__(**kwargs)
        self.parents, self.scale = tuple(parents), scale
        bones = sum(p >= 0 for p in self.parents)
        for name in ("true_sum", "pred_sum", "abs_error_sum"):
            self.add_state(name, torch.zeros(bones, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("count", torch.zeros((), dtype=torch.float64), dist_reduce_fx="sum")

    def update(self, pred: Tensor, target: Tensor) -> None:
        """Add poses ``(B, J, 3)``."""
        p = F.bone_lengths(_wide(pred) * self.scale, self.parents).double()
        t = F.bone_lengths(_wide(target) * self.scale, self.parents).double()
        self.true_sum += t.sum(0)
        self.pred_sum += p.sum(0)
        self.abs_error_sum += (p - t).abs().sum(0)
        self.count += p.shape[0]

    def compute(self) -> dict[str, Tensor]:
        n = self.count
        return {"true": self.true_sum / n, "pred": self.pred_sum / n, "abs_error": self.abs_error_sum / n}


class JointErrors(Metric):
    """Mean error of every joint, in mm: in 3D, in the image plane (the camera's x and y) and in
    depth (its z, the axis a single view leaves ambiguous). Poses in the camera frame.

    ``compute()`` returns a dict of ``(J,)`` tensors: ``mpjpe``, ``xy``, ``depth`` (absolute z
    difference). NaN before any update.
    """

    full_state_update = False
    is_differentiable = False

    def __init__(self, num_joints: int, scale: float = 1000.0, **kwargs) -> None:
        super().__init__(**kwargs)
        self.scale = scale
        for name in ("mpjpe_sum", "xy_sum", "depth_sum"):
            self.add_state(name, torch.zeros(num_joints, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("count", torch.zeros((), dtype=torch.float64), dist_reduce_fx="sum")

    def update(self, pred: Tensor, target: Tensor) -> None:
        """Add poses ``(B, J, 3)``."""
        d = ((_wide(pred) - _wide(target)) * self.scale).double()
        self.mpjpe_sum += torch.linalg.vector_norm(d, dim=-1).sum(0)
        self.xy_sum += torch.linalg.vector_norm(d[..., :2], dim=-1).sum(0)
        self.depth_sum += d[..., 2].abs().sum(0)
        self.count += d.shape[0]

    def compute(self) -> dict[str, Tensor]:
        n = self.count
        return {"mpjpe": self.mpjpe_sum / n, "xy": self.xy_sum / n, "depth": self.depth_sum / n}


class PoseMetrics(nn.Module):
    """The metrics of one stage (one instance for val, one for test).

    Procrustes alignment is computed once per batch and shared by the frame-wise and the
    action-wise P-MPJPE. Members: ``mpjpe``, ``p_mpjpe`` (frame-wise), ``mpjpe_action``,
    ``p_mpjpe_action`` (action-wise), ``pck`` (3DHP, by scene), ``bones`` (mean bone lengths,
    true and predicted), ``joints`` (per-joint error: 3D, image plane, depth), ``n_mpjpe``,
    ``n_mpjpe_action`` (N-MPJPE; these four are None when
    ``diagnostics=False``), ``loss`` (MSE in m², the paper's training
    loss whatever the run trains on; a metric rather than a logged tensor: Lightning's
    ``sync_dist`` mean divides the summed batch size by the world size in integers, inexact when
    the ranks' shards are uneven).
    """

    def __init__(self, num_joints: int = 17, procrustes: bool = True, scale: float = 1000.0,
                 diagnostics: bool = True) -> None:
        super().__init__()
        self.procrustes, self.diagnostics = procrustes, diagnostics
        self.mpjpe = MPJPE(scale=scale)
        self.mpjpe_action = ActionMPJPE(scale=scale)
        self.p_mpjpe = MPJPE(scale=scale)  # fed with Procrustes-aligned predictions
        self.p_mpjpe_action = ActionMPJPE(scale=scale)
        self.pck = ScenePCK(num_joints=num_joints, scale=scale)
        # Diagnostics (reported after the test): bone lengths, per-joint errors, the scale-forgiving N-MPJPE.
        self.bones = BoneLengths(skeleton_for(num_joints).parents, scale=scale) if diagnostics else None
        self.joints = JointErrors(num_joints, scale=scale) if diagnostics else None
        self.n_mpjpe = MPJPE(scale=scale) if diagnostics else None  # fed with scale-aligned predictions
        self.n_mpjpe_action = ActionMPJPE(scale=scale) if diagnostics else None
        self.loss = MeanMetric(nan_strategy="disable")  # NaN shows, like val/mpjpe; and no host sync per batch

    def update(self, pred: Tensor, target: Tensor, action: Tensor, scene: Tensor) -> None:
        """Add a batch: poses ``(B, J, 3)`` in metres, action and scene indices ``(B,)``."""
        pred, target = pred.detach().float(), target.float()
        self.mpjpe.update(pred, target)
        self.mpjpe_action.update(pred, target, action)
        self.pck.update(pred, target, scene)
        if self.diagnostics:
            self.bones.update(pred, target)
            self.joints.update(pred, target)
            scaled = F.scale_align(pred, target)
            self.n_mpjpe.update(scaled, target)
            self.n_mpjpe_action.update(scaled, target, action)
        self.loss.update(((pred - target) ** 2).mean(dim=(1, 2)))  # (B,): per-frame MSE, frames of one size
        if self.procrustes:
            aligned = F.procrustes_align(pred, target)
            self.p_mpjpe.update(aligned, target)
            self.p_mpjpe_action.update(aligned, target, action)

    def reset(self) -> None:
        """Reset every member."""
        for m in self.children():
            m.reset()  # type: ignore[operator]
