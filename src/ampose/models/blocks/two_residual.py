"""Ablation: both graph convs of the block carry a residual."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ampose.models.blocks.ours import OursBlock


class TwoResidualBlock(OursBlock):
    """y = x + GELU(LN(GC1(x))); out = y + GELU(LN(GC2(y))). The layers of OursBlock, same state-dict keys."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x + self.drop(F.gelu(self.norm1(self.gc1(x))))
        return y + self.drop(F.gelu(self.norm2(self.gc2(y))))
