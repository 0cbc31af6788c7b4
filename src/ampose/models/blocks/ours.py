"""The paper's GCN block: a plain graph conv, then a graph conv with a residual."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ampose.models.graph import GraphConv


class OursBlock(nn.Module):
    """y = GELU(LN(GC1(x))); out = y + GELU(LN(GC2(y)))."""

    def __init__(self, dim: int, adjacency: torch.Tensor, dropout: float = 0.0) -> None:
        super().__init__()
        self.gc1 = GraphConv(dim, dim, adjacency)
        self.norm1 = nn.LayerNorm(dim)
        self.gc2 = GraphConv(dim, dim, adjacency)
        self.norm2 = nn.LayerNorm(dim)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # .to(x.dtype): a bf16 stream (AMPose's bf16_residual) stays bf16; no-op for fp32
        y = self.drop(F.gelu(self.norm1(self.gc1(x)))).to(x.dtype)  # plain: no residual
        return y + self.drop(F.gelu(self.norm2(self.gc2(y)))).to(x.dtype)  # residual
