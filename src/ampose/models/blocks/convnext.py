"""Ablation: a ConvNeXt-style block with a graph conv as the spatial mixer."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ampose.models.graph import GraphConv


class ConvNeXtBlock(nn.Module):
    """out = x + gamma * Linear(GELU(Linear(LN(GC(x))))), inverted bottleneck of ratio 4."""

    def __init__(
        self, dim: int, adjacency: torch.Tensor, dropout: float = 0.0, expansion: int = 4, layer_scale: float = 1e-6
    ) -> None:
        super().__init__()
        self.gc = GraphConv(dim, dim, adjacency)
        self.norm = nn.LayerNorm(dim)
        self.fc1 = nn.Linear(dim, expansion * dim)
        self.fc2 = nn.Linear(expansion * dim, dim)
        self.gamma = nn.Parameter(torch.full((dim,), layer_scale))
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.fc2(self.drop(F.gelu(self.fc1(self.norm(self.gc(x))))))
        return x + self.drop(self.gamma * y)
