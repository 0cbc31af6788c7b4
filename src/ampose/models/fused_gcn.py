"""One Triton kernel for a graph conv's joint mixing, bias, LayerNorm and GELU (experimental).

``GELU(LayerNorm(mix @ h[b] + bias))`` is what every graph conv of the "ours" and
"two_residual" blocks computes after its weight multiply ``h = x W``. The reference path runs it
as the mixing kernel of :mod:`ampose.models.fused` followed by Inductor's LayerNorm + GELU
kernels, so each activation is written and read once more than needed, forward and backward.
Here one program holds a sample's whole (J x C) tile: it mixes, normalises and activates in
registers, keeping only the mixing output (in h's dtype) for the backward; the backward
recomputes LayerNorm and GELU from it and back-propagates through them and the mixing in one
pass, writing per-sample partial sums for the LayerNorm and bias gradients (summed over the
batch by torch, deterministic).

The numerics follow the reference under autocast: the mixing is rounded to ``h``'s dtype
before the bias is added, LayerNorm and GELU run in fp32, the output takes the promoted dtype
of ``h`` and the bias (fp32 under bf16 autocast, as the reference).

Off by default (``AMPOSE_FUSED_GCN=1`` or ``set_enabled(True)`` turns it on, for CUDA tensors
and only where :mod:`ampose.models.fused` is on too): written in session 8 without a GPU to
time it, checked against the reference under the Triton interpreter only. Its launch settings are
``fused.TUNING["gcn_fwd_warps"]`` and ``["gcn_bwd_warps"]`` (``AMPOSE_FUSED_TUNING=gcn_bwd_warps=8``;
tune_fused.py times them).
"""

from __future__ import annotations

import os
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor

from ampose.models import fused

MAX_CHANNELS = 1024  # one program holds a sample's whole channel row in registers


def _env_default() -> bool:
    return os.environ.get("AMPOSE_FUSED_GCN", "0").strip().lower() in fused._ON


_enabled: bool = _env_default()


def set_enabled(flag: bool | None) -> None:
    """Turn the fused graph-conv path on or off; None goes back to AMPOSE_FUSED_GCN."""
    global _enabled
    _enabled = _env_default() if flag is None else bool(flag)


def is_enabled() -> bool:
    return _enabled


def supported(rows: int, cols: int, channels: int) -> bool:
    """Shapes the kernel handles: the mixing of graph_mix_supported, at most MAX_CHANNELS channels."""
    return fused.graph_mix_supported(rows, cols) and channels <= MAX_CHANNELS


def enabled_for(h: Tensor) -> bool:
    return _enabled and fused.enabled_for(h)


def reference(mix: Tensor, h: Tensor, bias: Tensor | None, weight: Tensor, ln_bias: Tensor, eps: float) -> Tensor:
    """What the kernel replaces: GELU(LayerNorm(mix @ h + bias))."""
    z = torch.matmul(mix.to(h.dtype), h)
    if bias is not None:
        z = z + bias
    return F.gelu(F.layer_norm(z, (z.shape[-1],), weight, ln_bias, eps))


if fused.available():
    import triton
    import triton.language as tl
    from torch.library import register_autograd, triton_op

    _dot, _launch = fused._dot, fused._launch

    @triton.jit
    def _tile(R, C, BLOCK_R: tl.constexpr, BLOCK_K: tl.constexpr, BLOCK_C: tl.constexpr):
        # One program per sample: its index, the row / mixing-column / channel ranges and masks.
        b = tl.program_id(0).to(tl.int64)
        rs = tl.arange(0, BLOCK_R)
        cs = tl.arange(0, BLOCK_C)
        cmask = cs < C
        return b, rs, tl.arange(0, BLOCK_K), cs, cmask, (rs[:, None] < R) & cmask[None, :]

    @triton.jit
    def _load_mix(m_ptr, rs, ks, R, K, s_mr, s_mk):
        return tl.load(m_ptr + rs[:, None] * s_mr + ks[None, :] * s_mk,
                       mask=(rs[:, None] < R) & (ks[None, :] < K), other=0.0)

    @triton.jit
    def _norm(zm, bias_ptr, w_ptr, lb_ptr, cs, C, eps, HAS_BIAS: tl.constexpr):
        # From the mixing output zm (R x C, h's dtype) to the GELU input u, all in fp32; the
        # forward and the backward (which recomputes it from the saved zm) share this.
        cmask = cs < C
        z = zm.to(tl.float32)
        if HAS_BIAS:
            z += tl.load(bias_ptr + cs, mask=cmask, other=0.0).to(tl.float32)[None, :]
        z = tl.where(cmask[None, :], z, 0.0)
        mean = tl.sum(z, axis=1) / C
        zc = tl.where(cmask[None, :], z - mean[:, None], 0.0)
        rstd = 1.0 / tl.sqrt(tl.sum(zc * zc, axis=1) / C + eps)
        zn = zc * rstd[:, None]
        w = tl.load(w_ptr + cs, mask=cmask, other=0.0).to(tl.float32)
        u = zn * w[None, :] + tl.load(lb_ptr + cs, mask=cmask, other=0.0).to(tl.float32)[None, :]
        return zn, rstd, w, u

    @triton.jit
    def _fwd_kernel(m_ptr, h_ptr, bias_ptr, w_ptr, lb_ptr, out_ptr, zm_ptr, R, K, C, eps,
                    s_mr, s_mk, s_hb, s_hk, s_hc, s_ob, s_or, s_oc, s_zb, s_zr, s_zc,
                    BLOCK_R: tl.constexpr, BLOCK_K: tl.constexpr, BLOCK_C: tl.constexpr, HAS_BIAS: tl.constexpr,
                    IEEE: tl.constexpr, UPCAST: tl.constexpr):
        b, rs, ks, cs, cmask, valid = _tile(R, C, BLOCK_R, BLOCK_K, BLOCK_C)
        hv = tl.load(h_ptr + b * s_hb + ks[:, None] * s_hk + cs[None, :] * s_hc,
                     mask=(ks[:, None] < K) & cmask[None, :], other=0.0)
        m = _load_mix(m_ptr, rs, ks, R, K, s_mr, s_mk).to(hv.dtype)
        # Rounded to h's dtype as the reference's matmul output; saved for the backward, which
        # then needs neither h nor the mixing again (a third of h's size).
        zm = _dot(m, hv, IEEE, UPCAST).to(hv.dtype)
        tl.store(zm_ptr + b * s_zb + rs[:, None] * s_zr + cs[None, :] * s_zc, zm, mask=valid)
        _, _, _, u = _norm(zm, bias_ptr, w_ptr, lb_ptr, cs, C, eps, HAS_BIAS)
        out = 0.5 * u * (1.0 + tl.erf(u * 0.7071067811865476))  # exact GELU, as F.gelu
        tl.store(out_ptr + b * s_ob + rs[:, None] * s_or + cs[None, :] * s_oc, out.to(out_ptr.dtype.element_ty),
                 mask=valid)

    @triton.jit
    def _bwd_kernel(m_ptr, zm_ptr, bias_ptr, w_ptr, lb_ptr, dout_ptr, dh_ptr, part_ptr, R, K, C, eps,
                    s_mr, s_mk, s_zb, s_zr, s_zc, s_db, s_dr, s_dc, s_gb, s_gk, s_gc,
                    BLOCK_R: tl.constexpr, BLOCK_K: tl.constexpr, BLOCK_C: tl.constexpr, HAS_BIAS: tl.constexpr,
                    IEEE: tl.constexpr, UPCAST: tl.constexpr):
        b, rs, ks, cs, cmask, valid = _tile(R, C, BLOCK_R, BLOCK_K, BLOCK_C)
        zm = tl.load(zm_ptr + b * s_zb + rs[:, None] * s_zr + cs[None, :] * s_zc, mask=valid, other=0.0)
        zn, rstd, w, u = _norm(zm, bias_ptr, w_ptr, lb_ptr, cs, C, eps, HAS_BIAS)
        do = tl.load(dout_ptr + b * s_db + rs[:, None] * s_dr + cs[None, :] * s_dc, mask=valid, other=0.0)
        # GELU'(u) = Phi(u) + u phi(u)
        du = do.to(tl.float32) * (0.5 * (1.0 + tl.erf(u * 0.7071067811865476))
                                  + u * 0.3989422804014327 * tl.exp(-0.5 * u * u))
        du = tl.where(valid, du, 0.0)
        # LayerNorm: dz = rstd (dzn - mean(dzn) - zn mean(dzn zn)), means over the C channels.
        dzn = du * w[None, :]
        dz = (dzn - (tl.sum(dzn, axis=1) / C)[:, None] - zn * (tl.sum(dzn * zn, axis=1) / C)[:, None]) * rstd[:, None]
        dz = tl.where(valid, dz, 0.0)
        # The mixing: dh = mix^T dz, with dz in h's dtype as autograd hands it to the reference's matmul.
        m = _load_mix(m_ptr, rs, ks, R, K, s_mr, s_mk).to(zm.dtype)
        dh = _dot(tl.trans(m), dz.to(zm.dtype), IEEE, UPCAST)
        tl.store(dh_ptr + b * s_gb + ks[:, None] * s_gk + cs[None, :] * s_gc, dh.to(dh_ptr.dtype.element_ty),
                 mask=(ks[:, None] < K) & cmask[None, :])
        # Per-sample partial sums (3, C): LayerNorm weight, LayerNorm bias, graph-conv bias.
        part = part_ptr + b * 3 * C + cs
        tl.store(part, tl.sum(du * zn, axis=0), mask=cmask)
        tl.store(part + C, tl.sum(du, axis=0), mask=cmask)
        tl.store(part + 2 * C, tl.sum(dz, axis=0), mask=cmask)

    def _meta(mix: Tensor, channels: int, dtype: torch.dtype, bias: Tensor | None, warps: int) -> dict:
        r, k = mix.shape
        return dict(BLOCK_R=fused._pow2_at_least(r, 16), BLOCK_K=fused._pow2_at_least(k, 16),
                    BLOCK_C=fused._pow2_at_least(channels, 16), HAS_BIAS=bias is not None,
                    IEEE=fused._ieee(dtype), UPCAST=fused._INTERPRET, num_warps=warps)

    # Optional[...] rather than "| None" in the custom ops' signatures: older torch schema inference
    # reads only the former.
    @triton_op("ampose::graph_conv_norm_gelu", mutates_args=())
    def _fwd_op(mix: Tensor, h: Tensor, bias: Optional[Tensor], weight: Tensor, ln_bias: Tensor,
                eps: float) -> tuple[Tensor, Tensor]:
        """(the output, the mixing output kept for the backward)."""
        b, _, c = h.shape
        dtype = torch.promote_types(h.dtype, bias.dtype if bias is not None else h.dtype)
        out = h.new_empty((b, mix.shape[0], c), dtype=dtype)
        zm = h.new_empty((b, mix.shape[0], c))
        if b > 0:
            _launch(_fwd_kernel, (b,), mix, h, bias if bias is not None else weight, weight, ln_bias, out, zm,
                    mix.shape[0], mix.shape[1], c, eps, *mix.stride(), *h.stride(), *out.stride(), *zm.stride(),
                    **_meta(mix, c, h.dtype, bias, fused.TUNING["gcn_fwd_warps"]))
        return out, zm

    @triton_op("ampose::graph_conv_norm_gelu_bwd", mutates_args=())
    def _bwd_op(dout: Tensor, mix: Tensor, zm: Tensor, bias: Optional[Tensor], weight: Tensor, ln_bias: Tensor,
                eps: float) -> tuple[Tensor, Tensor]:
        """(the gradient of h, per-sample partial sums of the three parameter gradients)."""
        b, _, c = zm.shape
        dh = zm.new_empty((b, mix.shape[1], c))
        part = zm.new_empty((b, 3, c), dtype=torch.float32)
        if b > 0:
            _launch(_bwd_kernel, (b,), mix, zm, bias if bias is not None else weight, weight, ln_bias, dout, dh, part,
                    mix.shape[0], mix.shape[1], c, eps, *mix.stride(), *zm.stride(), *dout.stride(), *dh.stride(),
                    **_meta(mix, c, zm.dtype, bias, fused.TUNING["gcn_bwd_warps"]))
        return dh, part

    def _setup(ctx, inputs: tuple, output: tuple[Tensor, Tensor]) -> None:
        mix, _, bias, weight, ln_bias, eps = inputs
        ctx.save_for_backward(mix, output[1], bias, weight, ln_bias)
        ctx.eps = eps

    def _backward(ctx, grad: Tensor, _grad_zm: Tensor | None):
        # zm never leaves graph_conv_norm_gelu, so nothing flows back through it.
        mix, zm, bias, weight, ln_bias = ctx.saved_tensors
        dh, part = _bwd_op(grad, mix, zm, bias, weight, ln_bias, ctx.eps)
        sums = part.sum(dim=0)  # (3, C), fp32
        dbias = sums[2].to(bias.dtype) if bias is not None else None
        return None, dh, dbias, sums[0].to(weight.dtype), sums[1].to(ln_bias.dtype), None

    register_autograd("ampose::graph_conv_norm_gelu", _backward, setup_context=_setup)


def graph_conv_norm_gelu(mix: Tensor, h: Tensor, bias: Tensor | None, weight: Tensor, ln_bias: Tensor,
                         eps: float) -> Tensor:
    """GELU(LayerNorm(mix @ h[b] + bias)) for h (B, K, C) -> (B, R, C), one fused kernel per sample.

    Shapes outside ``supported`` take the reference."""
    if not supported(*mix.shape, h.shape[-1]):
        return reference(mix, h, bias, weight, ln_bias, eps)
    fused._require_triton()
    return _fwd_op(mix.detach(), h, bias, weight, ln_bias, eps)[0]
