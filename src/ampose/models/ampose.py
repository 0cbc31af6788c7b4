"""The AMPose lifting network: alternating transformer encoders and GCN blocks."""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from ampose.data.skeleton import group_adjacency
from ampose.models.attention import EncoderLayer
from ampose.models.blocks import BLOCKS

BlockFactory = Callable[..., nn.Module]


def _resolve_block(block: str | BlockFactory | None) -> BlockFactory | None:
    if block is None or callable(block):
        return block
    if block not in BLOCKS:
        raise ValueError(f"unknown GCN block variant {block!r}; choose one of {sorted(BLOCKS)} or None")
    return BLOCKS[block]


class AMPose(nn.Module):
    """2D joints (B, J, 2) -> root-relative 3D joints (B, J, 3).

    Per-joint linear embedding + learned positional embedding, then ``depth`` times
    (pre-LN transformer encoder, GCN block), then LayerNorm + Linear to 3D.

    The paper's comparisons come from the same class: ``block=None`` is the pure transformer,
    ``attention=False`` the pure GCN stack.

    Args:
        num_joints: 17 (Human3.6M) or 16 (without Neck/Nose).
        dim: embedding width C (paper: 512).
        depth: number of (encoder, GCN block) pairs N (paper: 5).
        num_heads: attention heads (paper: 8).
        mlp_ratio: hidden width of the encoder MLP as a multiple of C. 2.0 gives the
            18.4 M parameters of the paper-sized network.
        dropout: dropout in attention, MLPs and blocks.
        drop_path: stochastic depth of the encoders' attention and MLP branches, rising linearly
            from 0 in the first layer to this value in the last (0: off, the paper).
        block: GCN block variant: a name in ``ampose.models.blocks.BLOCKS``, a factory
            ``f(dim=, adjacency=, dropout=)``, or None for no GCN blocks.
        attention: include the transformer encoders.
        in_dim: input channels per joint (2 for x, y).
        bf16_residual: under autocast, carry the residual stream between layers in the autocast
            dtype (bf16) instead of fp32, as Megatron-style bf16 training does. The element-wise
            kernels around every layer (residual adds, LayerNorm, GELU, their backward) then move
            half the bytes. Without autocast (fp32 training, and every test step) it changes nothing.
    """

    def __init__(
        self,
        num_joints: int = 17,
        dim: int = 512,
        depth: int = 5,
        num_heads: int = 8,
        mlp_ratio: float = 2.0,
        dropout: float = 0.0,
        drop_path: float = 0.0,
        block: str | BlockFactory | None = "ours",
        attention: bool = True,
        in_dim: int = 2,
        bf16_residual: bool = False,
    ) -> None:
        super().__init__()
        if depth < 1:
            raise ValueError(f"depth must be >= 1, got {depth}")
        if dim < 1:
            raise ValueError(f"width (dim) must be positive, got {dim}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        if not 0.0 <= drop_path < 1.0:
            raise ValueError(f"drop_path must be in [0, 1), got {drop_path}")
        factory = _resolve_block(block)
        if factory is None and not attention:
            raise ValueError("a network with neither attention nor GCN blocks has no layers")
        if drop_path and not attention:  # it would be silently ignored
            raise ValueError(f"drop_path={drop_path} drops the encoders' branches, and this network has no "
                             f"encoders (attention=False, e.g. the pure GCN); set drop_path=0")
        adjacency = group_adjacency(num_joints)  # validates num_joints
        self.num_joints, self.in_dim, self.bf16_residual = num_joints, in_dim, bf16_residual

        self.embed = nn.Linear(in_dim, dim)
        self.pos_embed = nn.Parameter(torch.zeros(1, num_joints, dim))
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        self.drop = nn.Dropout(dropout)
        self.layers = nn.ModuleList()
        for i in range(depth):
            layer = nn.Sequential()
            if attention:
                layer.append(EncoderLayer(dim, num_heads, mlp_ratio, dropout, drop_path * i / max(depth - 1, 1)))
            if factory is not None:
                layer.append(factory(dim=dim, adjacency=adjacency, dropout=dropout))
            self.layers.append(layer)
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 3 or x.shape[1] != self.num_joints or x.shape[2] != self.in_dim:
            raise ValueError(
                f"expected input (B, {self.num_joints}, {self.in_dim}), got {tuple(x.shape)}"
            )
        e = self.embed(x)  # bf16 under autocast; adding the fp32 position promotes to fp32
        pos = self.pos_embed.to(e.dtype) if self.bf16_residual else self.pos_embed
        h = self.drop(e + pos)  # (B, J, C)
        for layer in self.layers:
            # a layer whose output is promoted (an fp32 bias or LayerNorm) is cast back: Inductor
            # fuses the cast into the kernel that writes it. A no-op while the stream is fp32.
            h = layer(h).to(h.dtype)
        return self.head(self.norm(h))  # (B, J, 3)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
