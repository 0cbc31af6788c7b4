"""Pre-LayerNorm transformer encoder layer over joints."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ampose.models import fused


class Mlp(nn.Module):
    """Linear -> GELU -> dropout -> Linear -> dropout."""

    def __init__(self, dim: int, hidden: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.fc2(self.drop(F.gelu(self.fc1(x)))))


class SelfAttention(nn.Module):
    """Multi-head self-attention across joints (fused QKV, PyTorch SDPA kernel)."""

    def __init__(self, dim: int, num_heads: int = 8, dropout: float = 0.0) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"width {dim} is not divisible by num_heads {num_heads}")
        self.num_heads = num_heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.dropout = dropout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, j, c = x.shape
        p = self.dropout if self.training else 0.0
        if p == 0.0 and fused.enabled_for(x) and fused.attention_supported(j, c // self.num_heads):
            # one Triton kernel reads q, k, v from the packed projection and writes (B, J, C)
            return self.proj(fused.joint_attention(self.qkv(x), self.num_heads))
        qkv = self.qkv(x).reshape(b, j, 3, self.num_heads, c // self.num_heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # each (B, H, J, C/H)
        y = F.scaled_dot_product_attention(q, k, v, dropout_p=p)
        y = y.transpose(1, 2).reshape(b, j, c)  # (B, J, C)
        return self.proj(y)


class DropPath(nn.Module):
    """Stochastic depth: in training, drop a residual branch for a whole sample with probability
    p and scale the kept ones by 1/(1-p), so the expected output is unchanged; identity in eval."""

    def __init__(self, p: float = 0.0) -> None:
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"drop_path must be in [0, 1), got {p}")
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        keep = torch.rand(x.shape[0], *([1] * (x.dim() - 1)), device=x.device) >= self.p
        return x * keep.to(x.dtype) / (1.0 - self.p)


class EncoderLayer(nn.Module):
    """x + MHSA(LN(x)), then x + MLP(LN(x)); each branch dropped per sample with drop_path."""

    def __init__(self, dim: int, num_heads: int = 8, mlp_ratio: float = 2.0, dropout: float = 0.0,
                 drop_path: float = 0.0) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = SelfAttention(dim, num_heads, dropout)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), dropout)
        self.drop = nn.Dropout(dropout)
        self.drop_path = DropPath(drop_path)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.drop_path(self.drop(self.attn(self.norm1(x))))
        return x + self.drop_path(self.mlp(self.norm2(x)))
