"""Ablation: a transformer-style block with a graph conv in place of self-attention."""

from __future__ import annotations

import torch
from torch import nn

from ampose.models.attention import Mlp
from ampose.models.graph import GraphConv


class GraphTransformerBlock(nn.Module):
    """y = x + GC(LN(x)); out = y + MLP(LN(y))."""

    def __init__(self, dim: int, adjacency: torch.Tensor, dropout: float = 0.0, mlp_ratio: float = 2.0) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.gc = GraphConv(dim, dim, adjacency)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), dropout)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.drop(self.gc(self.norm1(x)))
        return x + self.mlp(self.norm2(x))
