"""The comparisons the paper argues against, built from the same parts."""

from __future__ import annotations

import torch
from torch import nn

from ampose.models.ampose import AMPose


def PureTransformer(num_joints: int = 17, dim: int = 512, depth: int = 5, **kwargs) -> AMPose:  # noqa: N802
    """Transformer encoders only (AMPose without its GCN blocks)."""
    return AMPose(num_joints=num_joints, dim=dim, depth=depth, block=None, attention=True, **kwargs)


def PureGCN(num_joints: int = 17, dim: int = 512, depth: int = 5, block: str = "ours", **kwargs) -> AMPose:  # noqa: N802
    """GCN blocks only (AMPose without attention)."""
    return AMPose(num_joints=num_joints, dim=dim, depth=depth, block=block, attention=False, **kwargs)


class _ResidualLinearBlock(nn.Module):
    def __init__(self, width: int, dropout: float) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(width, width), nn.BatchNorm1d(width), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(width, width), nn.BatchNorm1d(width), nn.ReLU(), nn.Dropout(dropout),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.net(x)


class MartinezMLP(nn.Module):
    """The simple lifting baseline of Martinez et al. 2017 (ICCV).

    Linear to ``width`` + BN + ReLU + dropout, ``num_blocks`` residual blocks of two such
    layers, and a linear output. Paper: width 1024, 2 blocks, dropout 0.5.
    """

    def __init__(
        self, num_joints: int = 17, width: int = 1024, num_blocks: int = 2, dropout: float = 0.5, in_dim: int = 2
    ) -> None:
        super().__init__()
        if width < 1 or num_blocks < 0:
            raise ValueError(f"width must be positive and num_blocks >= 0, got {width}, {num_blocks}")
        self.num_joints, self.in_dim = num_joints, in_dim
        self.stem = nn.Sequential(
            nn.Linear(num_joints * in_dim, width), nn.BatchNorm1d(width), nn.ReLU(), nn.Dropout(dropout)
        )
        self.blocks = nn.Sequential(*[_ResidualLinearBlock(width, dropout) for _ in range(num_blocks)])
        self.head = nn.Linear(width, num_joints * 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 3 or x.shape[1] != self.num_joints or x.shape[2] != self.in_dim:
            raise ValueError(f"expected input (B, {self.num_joints}, {self.in_dim}), got {tuple(x.shape)}")
        b = x.shape[0]
        h = self.blocks(self.stem(x.reshape(b, -1)))  # (B, width)
        return self.head(h).reshape(b, self.num_joints, 3)
