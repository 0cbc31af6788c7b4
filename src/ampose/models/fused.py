"""Fused Triton kernels for the two memory-bound ops of the training step.

* ``joint_attention(qkv, num_heads)``: softmax(q k^T / sqrt(D)) v over the J <= 32 joints, read
  straight from the packed (B, J, 3*C) output of ``SelfAttention.qkv`` and written straight in
  (B, J, C) layout. Flash/cuDNN SDPA pads 17 tokens to 64- or 128-row tiles; here a (b, head)
  tile of 32 rows lives in registers.
* ``graph_mix(mix, h)``: out[b] = mix @ h[b], the joint mixing of ``GraphConv`` ((17 x 51) @
  (51 x C) per sample), which cuBLAS runs as a broadcast batched GEMM on a poor kernel.

Both are ``torch.library.triton_op`` custom ops with registered autograd, so they trace through
``torch.compile`` (inductor sees the Triton kernels) and differentiate in eager mode alike.

The switch is on by default for CUDA tensors: ``AMPOSE_FUSED=0`` in the environment or
``set_enabled(False)`` turns it off.
Triton is imported guarded, so ``import ampose`` works without it (CI); then everything takes
the reference code. ``TRITON_INTERPRET=1`` runs the kernels on CPU tensors through Triton's
interpreter (tests only; the modules still take the reference path on CPU unless a test sets
``_CPU_INTERPRETER``).
"""

from __future__ import annotations

import math
import os

import torch
from torch import Tensor

try:  # guarded: CI and CPU-only installs have no triton
    import triton
    import triton.language as tl

    _TRITON = True
except Exception:  # noqa: BLE001 (a broken triton install must not break `import ampose`)
    _TRITON = False

_ON = ("1", "true", "on", "yes")
_INTERPRET = os.environ.get("TRITON_INTERPRET", "0").lower() in _ON


def _env_default() -> bool:
    # On by default (measured on an H100: 1.31x the compiled training step at batch 8192, equal
    # to the reference within 5e-6 in fp32); it only ever applies to CUDA tensors.
    return os.environ.get("AMPOSE_FUSED", "1").strip().lower() in _ON


# Launch parameters, chosen with experiments/bench/tune_fused.py (bf16): attention on an H100 at
# batch 8192; the graph mixing (block 128, one warp: 0.320 ms against 0.397 for 256 / 2) on an
# H200 at batch 16384 in session 9 (experiments/bench/README.md).
TUNING: dict[str, int] = {"attn_fwd_warps": 1, "attn_bwd_warps": 2, "mix_block_c": 128, "mix_warps": 1}


def _tuning_from_env(text: str) -> dict[str, int]:
    """AMPOSE_FUSED_TUNING="attn_fwd_warps=2,mix_block_c=64" -> overrides of TUNING."""
    out = {}
    for item in filter(None, (t.strip() for t in text.split(","))):
        key, _, value = item.partition("=")
        if key not in TUNING or not value.strip().isdigit():
            raise ValueError(f"AMPOSE_FUSED_TUNING: expected KEY=INT with KEY in {sorted(TUNING)}, got {item!r}")
        out[key] = int(value)
    return out


TUNING.update(_tuning_from_env(os.environ.get("AMPOSE_FUSED_TUNING", "")))


_enabled: bool = _env_default()
# Test hook: let the modules take the fused path on CPU tensors when TRITON_INTERPRET=1.
_CPU_INTERPRETER: bool = False


def available() -> bool:
    """Whether triton is importable (the kernels exist)."""
    return _TRITON


def is_enabled() -> bool:
    """The switch alone (AMPOSE_FUSED or set_enabled), regardless of device or triton."""
    return _enabled


def set_enabled(flag: bool | None) -> None:
    """Turn the fused path on or off; None goes back to the AMPOSE_FUSED environment variable."""
    global _enabled
    _enabled = _env_default() if flag is None else bool(flag)


def enabled_for(x: Tensor) -> bool:
    """Whether the modules should take the fused path for a tensor on x's device."""
    if not (_enabled and _TRITON):
        return False
    return x.is_cuda or (_CPU_INTERPRETER and _INTERPRET and x.device.type == "cpu")


def attention_supported(num_joints: int, head_dim: int) -> bool:
    """Shapes joint_attention handles: J <= 32 rows, head dim a power of two in 16..128."""
    return num_joints <= 32 and head_dim in (16, 32, 64, 128)


def graph_mix_supported(rows: int, cols: int) -> bool:
    """Shapes graph_mix handles: a (rows, cols) mix with both at most 128 (one tile)."""
    return rows <= 128 and cols <= 128


def _pow2_at_least(n: int, lo: int) -> int:
    # Plain comparisons, so a symbolic size under torch.compile only adds a guard.
    p = lo
    while p < n:
        p *= 2
    return p


def _ieee(dtype: torch.dtype) -> bool:
    # fp32 inputs: full-precision dots, to match the fp32 reference (tl.dot defaults to tf32).
    return dtype == torch.float32


def joint_attention_reference(qkv: Tensor, num_heads: int) -> Tensor:
    """The SelfAttention computation the kernel replaces (SDPA, no dropout)."""
    b, j, c3 = qkv.shape
    c = c3 // 3
    q, k, v = qkv.reshape(b, j, 3, num_heads, c // num_heads).permute(2, 0, 3, 1, 4).unbind(0)
    y = torch.nn.functional.scaled_dot_product_attention(q, k, v)
    return y.transpose(1, 2).reshape(b, j, c)


def graph_mix_reference(mix: Tensor, h: Tensor) -> Tensor:
    """The GraphConv joint mixing the kernel replaces."""
    return torch.matmul(mix.to(h.dtype), h)


if _TRITON:
    from torch.library import register_autograd, triton_op, wrap_triton

    def _is_traced(args: tuple) -> bool:
        from torch._subclasses.fake_tensor import is_fake

        return any(isinstance(a, Tensor) and is_fake(a) for a in args)

    def _launch(kernel, grid: tuple, *args, **meta) -> None:
        # Under TRITON_INTERPRET wrap_triton hands back the interpreted function, which cannot be
        # traced. Dynamo's fake-tensor pass only needs the op's output shapes (the allocations),
        # so the launch is skipped there; AOT tracing (make_fx) would record a graph without the
        # kernel, so it is refused. On a GPU neither branch triggers.
        if _INTERPRET and _is_traced(args):
            if torch._C._get_dispatch_mode(torch._C._TorchDispatchModeKey.PROXY) is not None:
                raise RuntimeError("TRITON_INTERPRET kernels cannot be traced by AOTAutograd/inductor; "
                                   "use torch.compile(backend='eager') on CPU")
            return
        wrap_triton(kernel)[grid](*args, **meta)

    @triton.jit
    def _dot(a, b, IEEE: tl.constexpr, UPCAST: tl.constexpr):
        if UPCAST:  # interpreter only: its numpy dot mishandles bf16 operands
            out = tl.dot(a.to(tl.float32), b.to(tl.float32), input_precision="ieee")
        elif IEEE:
            out = tl.dot(a, b, input_precision="ieee")
        else:
            out = tl.dot(a, b)
        return out

    @triton.jit
    def _attn_fwd_kernel(
        qkv_ptr, out_ptr, J, H, C, scale,
        s_qb, s_qj, s_qc, s_ob, s_oj, s_oc,
        D: tl.constexpr, BLOCK_J: tl.constexpr, IEEE: tl.constexpr, UPCAST: tl.constexpr,
    ):
        pid = tl.program_id(0)
        b = (pid // H).to(tl.int64)  # int64: B * J * 3C passes 2**31 at large inference batches
        h = pid % H
        rows = tl.arange(0, BLOCK_J)
        cols = tl.arange(0, D)
        rmask = rows < J
        # (3, H, D) packing of the last dim: q, k, v of head h start at h*D, C + h*D, 2C + h*D.
        ptr = qkv_ptr + b * s_qb + rows[:, None] * s_qj + (h * D + cols)[None, :] * s_qc
        q = tl.load(ptr, mask=rmask[:, None], other=0.0)
        k = tl.load(ptr + C * s_qc, mask=rmask[:, None], other=0.0)
        v = tl.load(ptr + 2 * C * s_qc, mask=rmask[:, None], other=0.0)
        s = _dot(q, tl.trans(k), IEEE, UPCAST) * scale  # (BLOCK_J, BLOCK_J) fp32
        s = tl.where(rmask[None, :], s, float("-inf"))  # padded keys get no weight
        p = tl.exp(s - tl.max(s, axis=1)[:, None])
        p = p / tl.sum(p, axis=1)[:, None]
        o = _dot(p.to(v.dtype), v, IEEE, UPCAST)
        optr = out_ptr + b * s_ob + rows[:, None] * s_oj + (h * D + cols)[None, :] * s_oc
        tl.store(optr, o.to(out_ptr.dtype.element_ty), mask=rmask[:, None])

    @triton.jit
    def _attn_bwd_kernel(
        qkv_ptr, dout_ptr, dqkv_ptr, J, H, C, scale,
        s_qb, s_qj, s_qc, s_db, s_dj, s_dc, s_gb, s_gj, s_gc,
        D: tl.constexpr, BLOCK_J: tl.constexpr, IEEE: tl.constexpr, UPCAST: tl.constexpr,
    ):
        pid = tl.program_id(0)
        b = (pid // H).to(tl.int64)
        h = pid % H
        rows = tl.arange(0, BLOCK_J)
        cols = tl.arange(0, D)
        rmask = rows < J
        m2 = rmask[:, None]
        ptr = qkv_ptr + b * s_qb + rows[:, None] * s_qj + (h * D + cols)[None, :] * s_qc
        q = tl.load(ptr, mask=m2, other=0.0)
        k = tl.load(ptr + C * s_qc, mask=m2, other=0.0)
        v = tl.load(ptr + 2 * C * s_qc, mask=m2, other=0.0)
        do = tl.load(dout_ptr + b * s_db + rows[:, None] * s_dj + (h * D + cols)[None, :] * s_dc,
                     mask=m2, other=0.0)
        # Recompute P: at J <= 32 one tiny dot is cheaper than storing and reloading a logsumexp.
        s = _dot(q, tl.trans(k), IEEE, UPCAST) * scale
        s = tl.where(rmask[None, :], s, float("-inf"))
        p = tl.exp(s - tl.max(s, axis=1)[:, None])
        p = p / tl.sum(p, axis=1)[:, None]
        dv = _dot(tl.trans(p).to(do.dtype), do, IEEE, UPCAST)
        dp = _dot(do, tl.trans(v), IEEE, UPCAST)
        # rowsum(dO * O) == rowsum(P * dP) since O = P V: no need to save or reload O.
        ds = p * (dp - tl.sum(p * dp, axis=1)[:, None])  # padded rows: dO = 0 -> dS = 0
        dsl = ds.to(q.dtype)
        dq = _dot(dsl, k, IEEE, UPCAST) * scale
        dk = _dot(tl.trans(dsl), q, IEEE, UPCAST) * scale
        gptr = dqkv_ptr + b * s_gb + rows[:, None] * s_gj + (h * D + cols)[None, :] * s_gc
        ty = dqkv_ptr.dtype.element_ty
        tl.store(gptr, dq.to(ty), mask=m2)
        tl.store(gptr + C * s_gc, dk.to(ty), mask=m2)
        tl.store(gptr + 2 * C * s_gc, dv.to(ty), mask=m2)

    @triton.jit
    def _mix_kernel(
        m_ptr, h_ptr, out_ptr, R, K, C,
        s_mr, s_mk, s_hb, s_hk, s_hc, s_ob, s_or, s_oc,
        BLOCK_R: tl.constexpr, BLOCK_K: tl.constexpr, BLOCK_C: tl.constexpr,
        IEEE: tl.constexpr, UPCAST: tl.constexpr,
    ):
        # out[b, :, c-tile] = M (R x K) @ h[b, :, c-tile] (K x BLOCK_C), one sample per program.
        b = tl.program_id(0).to(tl.int64)
        cs = tl.program_id(1) * BLOCK_C + tl.arange(0, BLOCK_C)
        rs = tl.arange(0, BLOCK_R)
        ks = tl.arange(0, BLOCK_K)
        cmask = cs < C
        m = tl.load(m_ptr + rs[:, None] * s_mr + ks[None, :] * s_mk,
                    mask=(rs[:, None] < R) & (ks[None, :] < K), other=0.0)
        hv = tl.load(h_ptr + b * s_hb + ks[:, None] * s_hk + cs[None, :] * s_hc,
                     mask=(ks[:, None] < K) & cmask[None, :], other=0.0)
        # mix rounded to h's dtype, as the reference's mix.to(h.dtype); fp32 accumulation.
        acc = _dot(m.to(hv.dtype), hv, IEEE, UPCAST)
        tl.store(out_ptr + b * s_ob + rs[:, None] * s_or + cs[None, :] * s_oc,
                 acc.to(out_ptr.dtype.element_ty), mask=(rs[:, None] < R) & cmask[None, :])

    def _attn_meta(qkv: Tensor, num_heads: int) -> tuple[int, int, int, int, dict]:
        b, j, c3 = qkv.shape
        c = c3 // 3
        d = int(c // num_heads)  # a constexpr: specialise if symbolic (it comes from the weights)
        block_j = 16 if j <= 16 else 32
        small = block_j * d < 2048  # tiny tiles: fewer warps
        meta = dict(D=d, BLOCK_J=block_j, IEEE=_ieee(qkv.dtype), UPCAST=_INTERPRET)
        return b, j, c, d, meta, small

    @triton_op("ampose::joint_attention", mutates_args=())
    def _joint_attention_op(qkv: Tensor, num_heads: int) -> Tensor:
        b, j, c, d, meta, small = _attn_meta(qkv, num_heads)
        meta["num_warps"] = 2 if small else TUNING["attn_fwd_warps"]
        out = qkv.new_empty((b, j, c))
        if b > 0:
            _launch(_attn_fwd_kernel, (b * num_heads,), qkv, out, j, num_heads, c, 1.0 / math.sqrt(d),
                    *qkv.stride(), *out.stride(), **meta)
        return out

    @triton_op("ampose::joint_attention_bwd", mutates_args=())
    def _joint_attention_bwd_op(dout: Tensor, qkv: Tensor, num_heads: int) -> Tensor:
        b, j, c, d, meta, small = _attn_meta(qkv, num_heads)
        meta["num_warps"] = 2 if small else TUNING["attn_bwd_warps"]
        dqkv = qkv.new_empty((b, j, 3 * c))
        if b > 0:
            _launch(_attn_bwd_kernel, (b * num_heads,), qkv, dout, dqkv, j, num_heads, c, 1.0 / math.sqrt(d),
                    *qkv.stride(), *dout.stride(), *dqkv.stride(), **meta)
        return dqkv

    def _attn_setup(ctx, inputs: tuple, output: Tensor) -> None:
        qkv, num_heads = inputs
        ctx.save_for_backward(qkv)
        ctx.num_heads = num_heads

    def _attn_backward(ctx, grad: Tensor) -> tuple[Tensor, None]:
        (qkv,) = ctx.saved_tensors
        return _joint_attention_bwd_op(grad, qkv, ctx.num_heads), None

    register_autograd("ampose::joint_attention", _attn_backward, setup_context=_attn_setup)

    @triton_op("ampose::graph_mix", mutates_args=())
    def _graph_mix_op(mix: Tensor, h: Tensor) -> Tensor:
        r, k = mix.shape
        b, _, c = h.shape
        out = h.new_empty((b, r, c))
        block_c = min(_pow2_at_least(c, 16), TUNING["mix_block_c"])
        if b > 0:
            _launch(_mix_kernel, (b, triton.cdiv(c, block_c)), mix, h, out, r, k, c,
                    *mix.stride(), *h.stride(), *out.stride(),
                    BLOCK_R=_pow2_at_least(r, 16), BLOCK_K=_pow2_at_least(k, 16), BLOCK_C=block_c,
                    IEEE=_ieee(h.dtype), UPCAST=_INTERPRET, num_warps=TUNING["mix_warps"])
        return out

    def _mix_setup(ctx, inputs: tuple, output: Tensor) -> None:
        mix, _ = inputs
        ctx.save_for_backward(mix)

    def _mix_backward(ctx, grad: Tensor) -> tuple[None, Tensor]:
        (mix,) = ctx.saved_tensors
        # dh[b] = mix^T @ dout[b]: the same kernel on the transposed view (strides, no copy).
        return None, _graph_mix_op(mix.t(), grad)

    register_autograd("ampose::graph_mix", _mix_backward, setup_context=_mix_setup)


def _require_triton() -> None:
    if not _TRITON:
        raise RuntimeError("ampose.models.fused needs triton; check fused.available() first")


def joint_attention(qkv: Tensor, num_heads: int) -> Tensor:
    """Multi-head attention over joints from packed (B, J, 3*C) qkv -> (B, J, C), fused kernel.

    Shapes outside ``attention_supported`` take the SDPA reference.
    """
    b, j, c3 = qkv.shape
    if c3 % (3 * num_heads) or not attention_supported(j, c3 // (3 * num_heads)):
        return joint_attention_reference(qkv, num_heads)
    _require_triton()
    return _joint_attention_op(qkv, num_heads)


def graph_mix(mix: Tensor, h: Tensor) -> Tensor:
    """out[b] = mix @ h[b] for a constant (R, K) mix and h (B, K, C) -> (B, R, C), fused kernel."""
    if not graph_mix_supported(*mix.shape):
        return graph_mix_reference(mix, h)
    _require_triton()
    return _graph_mix_op(mix.detach(), h)
