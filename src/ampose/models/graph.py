"""Weight-unshared graph convolution over the three neighbour groups of the skeleton."""

from __future__ import annotations

import torch
from torch import nn

from ampose.models import fused


class GraphConv(nn.Module):
    """Z = sum_g A_g X W_g + b, with A_g the normalised adjacency of group g.

    The three per-group transforms are one (C_in, G*C_out) matrix multiply, followed by one
    joint-mixing multiply with the groups folded into the contraction, so there is no Python
    loop over groups or joints.

    Args:
        in_dim: input channels C_in.
        out_dim: output channels C_out.
        adjacency: (G, J, J) normalised group adjacency (rows receive).
        bias: add a learned bias.
    """

    def __init__(self, in_dim: int, out_dim: int, adjacency: torch.Tensor, bias: bool = True) -> None:
        super().__init__()
        if adjacency.dim() != 3 or adjacency.shape[1] != adjacency.shape[2]:
            raise ValueError(f"adjacency must be (G, J, J), got {tuple(adjacency.shape)}")
        g, j, _ = adjacency.shape
        self.groups, self.num_joints, self.out_dim = g, j, out_dim
        self.weight = nn.Linear(in_dim, g * out_dim, bias=False)
        self.bias = nn.Parameter(torch.zeros(out_dim)) if bias else None
        # mix[i, j*G + g] = A[g, i, j]: contracts joints and groups in one matmul.
        self.register_buffer("mix", adjacency.permute(1, 2, 0).reshape(j, j * g).contiguous())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, j, _ = x.shape
        h = self.weight(x)  # (B, J, G*C)
        h = h.reshape(b, j * self.groups, self.out_dim)  # (B, J*G, C), index j*G + g
        if fused.enabled_for(h) and fused.graph_mix_supported(*self.mix.shape):
            out = fused.graph_mix(self.mix, h)  # one Triton kernel per (sample, channel tile)
        else:
            out = torch.matmul(self.mix.to(h.dtype), h)  # (B, J, C)
        if self.bias is not None:
            out = out + self.bias
        return out
