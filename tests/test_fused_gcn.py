"""The fused graph conv + LayerNorm + GELU kernel (ampose.models.fused_gcn) against the reference.

As in test_fused_kernels.py: the switch and the CPU fallback always; the kernel itself under
TRITON_INTERPRET=1 with triton importable, and on a GPU.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch
from test_fused_kernels import _grads, _module_run, cuda, interpreter

from ampose.data.skeleton import group_adjacency
from ampose.models import AMPose, fused, fused_gcn
from ampose.models.blocks import OursBlock, TwoResidualBlock
from ampose.models.graph import GraphConv


@pytest.fixture(autouse=True)
def _restore_switches():
    before = fused.is_enabled(), fused_gcn.is_enabled(), fused._CPU_INTERPRETER
    yield
    fused.set_enabled(before[0])
    fused_gcn.set_enabled(before[1])
    fused._CPU_INTERPRETER = before[2]


def _inputs(num_joints: int, channels: int, bias: bool, dtype=torch.float32, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    mix = GraphConv(4, channels, group_adjacency(num_joints)).mix
    h = torch.randn(3, mix.shape[1], channels, generator=g).to(dtype).requires_grad_(True)
    b = torch.randn(channels, generator=g).requires_grad_(True) if bias else None
    w = (1 + 0.5 * torch.randn(channels, generator=g)).requires_grad_(True)
    lb = torch.randn(channels, generator=g).requires_grad_(True)
    return mix, h, b, w, lb


# ---------------------------------------------------------------------------------- always
def test_off_by_default_and_set_enabled(monkeypatch):
    monkeypatch.delenv("AMPOSE_FUSED_GCN", raising=False)
    fused_gcn.set_enabled(None)
    assert not fused_gcn.is_enabled()  # unmeasured on a GPU: opt in
    monkeypatch.setenv("AMPOSE_FUSED_GCN", "1")
    fused_gcn.set_enabled(None)
    assert fused_gcn.is_enabled()
    fused.set_enabled(True)
    assert not fused_gcn.enabled_for(torch.zeros(2, 51, 8))  # a CPU tensor outside the interpreter tests
    assert fused_gcn.supported(17, 51, 512) and not fused_gcn.supported(17, 51, 2048)
    assert not fused_gcn.supported(17, 200, 512)


def test_reference_is_the_unfused_block_computation():
    torch.manual_seed(0)
    gc, norm = GraphConv(8, 24, group_adjacency(17)), torch.nn.LayerNorm(24)
    torch.nn.init.normal_(gc.bias)
    torch.nn.init.normal_(norm.weight)
    x = torch.randn(2, 17, 8)
    want = torch.nn.functional.gelu(norm(gc(x)))
    got = fused_gcn.reference(gc.mix, gc._transform(x), gc.bias, norm.weight, norm.bias, norm.eps)
    torch.testing.assert_close(got, want, rtol=0, atol=0)
    torch.testing.assert_close(gc.norm_gelu(x, norm), want, rtol=0, atol=0)  # CPU: the same code path


def test_the_switch_on_without_triton_runs_the_reference():
    code = (
        "import sys; sys.modules['triton'] = None\n"
        "import torch\n"
        "from ampose.models import AMPose, fused_gcn\n"
        "fused_gcn.set_enabled(True)\n"
        "print(AMPose(17, dim=16, depth=1, num_heads=2)(torch.randn(2, 17, 2)).shape)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], env=dict(os.environ), capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "torch.Size([2, 17, 3])"


# ---------------------------------------------------------------------- interpreter (CPU)
@interpreter
@pytest.mark.parametrize("num_joints, channels", [(16, 16), (17, 40), (17, 160)])
@pytest.mark.parametrize("bias", [True, False])
def test_kernel_matches_reference_fp32(num_joints, channels, bias):
    mix, h, b, w, lb = _inputs(num_joints, channels, bias)
    out = fused_gcn.graph_conv_norm_gelu(mix, h, b, w, lb, 1e-5)
    ref = fused_gcn.reference(mix, h, b, w, lb, 1e-5)
    assert out.shape == (3, num_joints, channels) and out.dtype == torch.float32
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)
    params = [h, w, lb] + ([b] if bias else [])
    for got, want in zip(_grads(out, params), _grads(ref, params)):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)


def _no_worse(out: torch.Tensor, ref: torch.Tensor, truth: torch.Tensor) -> None:
    """Both round the mixing to bf16: the kernel's error against the fp32 truth is at most twice
    the reference's (plus a few bf16 ulps of the largest value)."""
    err, ref_err = (out.float() - truth).abs().max().item(), (ref.float() - truth).abs().max().item()
    assert err <= 2 * ref_err + 4 * 2**-8 * truth.abs().max().item(), (err, ref_err)


@interpreter
def test_kernel_in_bf16_follows_autocast_numerics():
    # Under bf16 autocast h is bf16 and the parameters fp32: the reference rounds the mixing to
    # bf16, adds the fp32 bias (fp32 from there on) and hands back a bf16 gradient for h.
    mix, h, b, w, lb = _inputs(17, 64, True, dtype=torch.bfloat16)
    h32 = h.detach().float().requires_grad_(True)
    out = fused_gcn.graph_conv_norm_gelu(mix, h, b, w, lb, 1e-5)
    ref = fused_gcn.reference(mix, h, b, w, lb, 1e-5)
    truth = fused_gcn.reference(mix, h32, b, w, lb, 1e-5)
    assert out.dtype == ref.dtype == torch.float32
    _no_worse(out, ref, truth)
    got, want, true = _grads(out, [h, w, lb, b]), _grads(ref, [h, w, lb, b]), _grads(truth, [h32, w, lb, b])
    assert got[0].dtype == want[0].dtype == torch.bfloat16 and got[1].dtype == torch.float32
    for g, r, t in zip(got, want, true):
        _no_worse(g, r, t)


@interpreter
@pytest.mark.parametrize("block", [OursBlock, TwoResidualBlock])
def test_blocks_equal_with_the_kernel_on_and_off(block, monkeypatch):
    monkeypatch.setattr(fused, "_CPU_INTERPRETER", True)
    calls = []
    kernel = fused_gcn.graph_conv_norm_gelu
    monkeypatch.setattr(fused_gcn, "graph_conv_norm_gelu", lambda *a: calls.append(1) or kernel(*a))
    torch.manual_seed(0)
    m = block(32, group_adjacency(17))
    for p in m.parameters():
        torch.nn.init.normal_(p, std=0.3)
    x = torch.randn(3, 17, 32)
    fused_gcn.set_enabled(True)
    a, ga = _module_run(m, x, True)
    assert len(calls) == 2  # both graph convs of the block
    fused_gcn.set_enabled(False)
    b, gb = _module_run(m, x, True)
    assert len(calls) == 2
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)
    for u, v in zip(ga, gb):
        torch.testing.assert_close(u, v, rtol=1e-4, atol=1e-5)


@interpreter
def test_a_layer_norm_without_bias_takes_the_reference(monkeypatch):
    monkeypatch.setattr(fused, "_CPU_INTERPRETER", True)
    monkeypatch.setattr(fused_gcn, "graph_conv_norm_gelu", lambda *a: pytest.fail("the kernel needs both affine terms"))
    fused_gcn.set_enabled(True)
    gc, norm = GraphConv(8, 16, group_adjacency(17)), torch.nn.LayerNorm(16, bias=False)
    x = torch.randn(2, 17, 8)
    torch.testing.assert_close(gc.norm_gelu(x, norm), torch.nn.functional.gelu(norm(gc(x))), rtol=0, atol=0)


@interpreter
def test_the_op_traces_through_dynamo(monkeypatch):
    monkeypatch.setattr(fused, "_CPU_INTERPRETER", True)
    fused_gcn.set_enabled(True)
    torch.manual_seed(0)
    net = AMPose(17, dim=32, depth=1, num_heads=2)
    x = torch.randn(3, 17, 2)
    a, ga = _module_run(torch.compile(net, backend="eager", fullgraph=True), x, True)
    fused_gcn.set_enabled(False)
    b, gb = _module_run(net, x, True)
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)
    for u, v in zip(ga, gb):
        torch.testing.assert_close(u, v, rtol=1e-4, atol=1e-5)


# ------------------------------------------------------------------------------------- CUDA
@cuda
def test_cuda_kernel_fp32_bf16_and_compiled_step():
    fused.set_enabled(True)
    for j, c, bias in [(17, 512, True), (16, 128, False), (17, 200, True)]:
        mix, h, b, w, lb = (t.cuda() if t is not None else None for t in _inputs(j, c, bias))
        h = h.detach().requires_grad_(True)
        out, ref = fused_gcn.graph_conv_norm_gelu(mix, h, b, w, lb, 1e-5), fused_gcn.reference(mix, h, b, w, lb, 1e-5)
        torch.testing.assert_close(out, ref, rtol=1e-4, atol=1e-4)
        torch.testing.assert_close(_grads(out, [h])[0], _grads(ref, [h])[0], rtol=1e-4, atol=1e-4)
    # The compiled bf16 training step, against the fp32 eager truth: no worse than twice the
    # error of the same step without the kernel.
    from test_fused_kernels import _train_step_grads

    net = AMPose(17, dim=128, depth=2, num_heads=2).cuda().train()
    x = torch.randn(256, 17, 2, device="cuda")
    fused_gcn.set_enabled(False)
    truth, truth_g = _train_step_grads(net, x, False, False, False)
    errs = []
    for on in (False, True):
        fused_gcn.set_enabled(on)
        out, grads = _train_step_grads(net, x, True, True, True)
        errs.append(((out - truth).abs().max().item(), max((a - b).abs().max().item() for a, b in zip(grads, truth_g))))
    (ref_err, ref_g_err), (err, g_err) = errs
    assert err <= 2 * ref_err + 1e-3, (err, ref_err)
    assert g_err <= 2 * ref_g_err + 1e-4, (g_err, ref_g_err)
