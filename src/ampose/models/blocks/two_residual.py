"""Ablation: both graph convs of the block carry a residual."""

from __future__ import annotations

import torch

from ampose.models.blocks.ours import OursBlock


class TwoResidualBlock(OursBlock):
    """y = x + GELU(LN(GC1(x))); out = y + GELU(LN(GC2(y))). The layers of OursBlock, same state-dict keys."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x + self.drop(self.gc1.norm_gelu(x, self.norm1))
        return y + self.drop(self.gc2.norm_gelu(y, self.norm2))
