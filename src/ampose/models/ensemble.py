"""An ensemble of lifting networks: the mean of their predictions."""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import Tensor, nn


class MeanOf(nn.Module):
    """Average the ``(B, J, 3)`` predictions of several networks that lift the same joints.

    Averaging is linear, so it commutes with what evaluation does afterwards (root-relative
    shift, flip averaging): an ensemble's flip-TTA prediction is the mean of its members'.
    """

    def __init__(self, nets: Iterable[nn.Module]) -> None:
        super().__init__()
        nets = list(nets)
        if not nets:
            raise ValueError("an ensemble needs at least one network")
        joints = [int(getattr(n, "num_joints", -1)) for n in nets]
        if len(set(joints)) != 1 or joints[0] < 1:
            raise ValueError(f"the ensemble's networks must lift the same joints, got joint counts {joints}")
        self.nets = nn.ModuleList(nets)
        self.num_joints = joints[0]

    def forward(self, pose2d: Tensor) -> Tensor:
        return torch.stack([net(pose2d) for net in self.nets]).mean(0)
