"""The fused Triton kernels (ampose.models.fused) against the reference code.

Three groups:
* always: the switch, the environment variable, and the fallback to the reference on CPU (and
  without triton at all, as in CI);
* TRITON_INTERPRET=1 with triton importable: the kernels run on CPU tensors through Triton's
  interpreter (fp32 tight; bf16 through the interpreter's fp32-upcast dots);
  `PYTHONPATH=/path/to/triton TRITON_INTERPRET=1 pytest tests/test_fused_kernels.py`;
* CUDA: bf16 and torch.compile (inductor) on a GPU.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

from ampose.data.skeleton import group_adjacency
from ampose.models import AMPose, fused
from ampose.models.attention import SelfAttention
from ampose.models.graph import GraphConv

INTERPRET = os.environ.get("TRITON_INTERPRET", "0") == "1"
needs_triton = pytest.mark.skipif(not fused.available(), reason="triton is not installed")
interpreter = pytest.mark.skipif(
    not (INTERPRET and fused.available()), reason="Triton interpreter tests: set TRITON_INTERPRET=1 (needs triton)")
cuda = pytest.mark.skipif(
    not (torch.cuda.is_available() and fused.available() and not INTERPRET), reason="needs a GPU and triton")


@pytest.fixture(autouse=True)
def _restore_switch():
    before, cpu = fused.is_enabled(), fused._CPU_INTERPRETER
    yield
    fused.set_enabled(before)
    fused._CPU_INTERPRETER = cpu


@pytest.fixture
def cpu_kernels(monkeypatch):
    """The modules take the fused path on CPU tensors (interpreter)."""
    monkeypatch.setattr(fused, "_CPU_INTERPRETER", True)


def _grads(out: torch.Tensor, inputs: list[torch.Tensor], seed: int = 1) -> list[torch.Tensor]:
    g = torch.randn(out.shape, generator=torch.Generator().manual_seed(seed)).to(out)
    return list(torch.autograd.grad(out, inputs, g))


def _module_run(module: torch.nn.Module, x: torch.Tensor, on: bool) -> tuple[torch.Tensor, list[torch.Tensor]]:
    fused.set_enabled(on)
    x = x.detach().clone().requires_grad_(True)
    out = module(x)
    params = [p for p in module.parameters() if p.requires_grad]
    return out.detach(), _grads(out, [x, *params])


# ---------------------------------------------------------------------------------- always
def test_switch_and_environment_variable(monkeypatch):
    assert isinstance(fused.available(), bool)
    fused.set_enabled(True)
    assert fused.is_enabled()
    fused.set_enabled(False)
    assert not fused.is_enabled()
    monkeypatch.setenv("AMPOSE_FUSED", "1")
    fused.set_enabled(None)  # back to the environment
    assert fused.is_enabled()
    monkeypatch.setenv("AMPOSE_FUSED", "0")
    fused.set_enabled(None)
    assert not fused.is_enabled()
    monkeypatch.delenv("AMPOSE_FUSED")
    fused.set_enabled(None)
    assert fused.is_enabled()  # default on (it only ever applies to CUDA tensors)
    fused.set_enabled(False)


def test_cpu_falls_back_to_the_reference():
    fused.set_enabled(True)
    x = torch.randn(2, 17, 32)
    assert not fused.enabled_for(x)  # a CPU tensor never takes the kernels outside the interpreter tests
    torch.manual_seed(0)
    net = AMPose(17, dim=32, depth=1, num_heads=2)
    x = torch.randn(3, 17, 2)
    a, ga = _module_run(net, x, True)
    b, gb = _module_run(net, x, False)
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    for u, v in zip(ga, gb):
        torch.testing.assert_close(u, v, rtol=0, atol=0)


def test_import_and_run_without_triton():
    # CI has no triton: importing ampose and the switch must still work, on the reference path,
    # even with the switch on (its default).
    code = (
        "import sys; sys.modules['triton'] = None\n"
        "import torch\n"
        "from ampose.models import AMPose, fused\n"
        "assert not fused.available() and fused.is_enabled()\n"
        "fused.set_enabled(True)\n"
        "assert not fused.enabled_for(torch.zeros(1))\n"
        "print(AMPose(17, dim=16, depth=1, num_heads=2)(torch.randn(2, 17, 2)).shape)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "AMPOSE_FUSED"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "torch.Size([2, 17, 3])"


def test_unsupported_shapes_are_declared():
    assert fused.attention_supported(17, 64) and fused.attention_supported(16, 16)
    assert not fused.attention_supported(17, 8) and not fused.attention_supported(17, 48)
    assert not fused.attention_supported(33, 64)
    assert fused.graph_mix_supported(17, 51) and not fused.graph_mix_supported(17, 200)


def test_bench_fused_summary_by_hand():
    # --fused on a CPU (nothing measured) is tested with --graphed in test_bench_inference.py
    from ampose.bench import Result, _fused_summary

    rows = [Result("train", "paper", 8, True, "bf16", 100.0, "samples/s"),
            Result("train", "paper", 8, True, "bf16", 125.0, "samples/s", extra={"fused": True}),
            Result("train_graphed", "paper", 8, True, "bf16", 150.0, "samples/s", extra={"fused": True})]
    assert _fused_summary(rows) == {"fused_speedup_train_paper_b8": 1.25, "fused_graphed_speedup_train_paper_b8": 1.5}


# ---------------------------------------------------------------------- interpreter (CPU)
@interpreter
@pytest.mark.parametrize("num_joints", [16, 17])
@pytest.mark.parametrize("heads, head_dim", [(2, 16), (3, 64), (8, 16), (8, 64)])
def test_attention_kernel_matches_sdpa(num_joints, heads, head_dim):
    torch.manual_seed(0)
    qkv = torch.randn(3, num_joints, 3 * heads * head_dim, requires_grad=True)
    out = fused.joint_attention(qkv, heads)
    ref = fused.joint_attention_reference(qkv, heads)
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(_grads(out, [qkv])[0], _grads(ref, [qkv])[0], rtol=1e-5, atol=1e-5)


@interpreter
def test_attention_kernel_strided_input_and_broadcast_gradient():
    torch.manual_seed(0)
    wide = torch.randn(4, 17, 3 * 2 * 16 + 5)
    sliced = wide[..., :96]  # a non-contiguous view: the kernel reads through strides
    qkv = sliced.clone().requires_grad_(True)
    torch.testing.assert_close(fused.joint_attention(sliced, 2), fused.joint_attention_reference(sliced, 2),
                               rtol=1e-5, atol=1e-5)
    # sum() hands backward an expanded (stride-0) gradient
    (g,) = torch.autograd.grad(fused.joint_attention(qkv, 2).sum(), qkv)
    (r,) = torch.autograd.grad(fused.joint_attention_reference(qkv, 2).sum(), qkv)
    torch.testing.assert_close(g, r, rtol=1e-5, atol=1e-5)


@interpreter
@pytest.mark.parametrize("num_joints", [16, 17])
@pytest.mark.parametrize("channels", [16, 40, 160])
def test_graph_mix_kernel_matches_matmul(num_joints, channels):
    torch.manual_seed(0)
    adj = group_adjacency(num_joints)
    mix = adj.permute(1, 2, 0).reshape(num_joints, -1).contiguous()
    h = torch.randn(5, mix.shape[1], channels, requires_grad=True)
    out = fused.graph_mix(mix, h)
    ref = fused.graph_mix_reference(mix, h)
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(_grads(out, [h])[0], _grads(ref, [h])[0], rtol=1e-5, atol=1e-5)
    (g,) = torch.autograd.grad(fused.graph_mix(mix, h).sum(), h)  # expanded gradient
    (r,) = torch.autograd.grad(fused.graph_mix_reference(mix, h).sum(), h)
    torch.testing.assert_close(g, r, rtol=1e-5, atol=1e-5)


# Triton's interpreter rounds fp32 -> bf16 toward zero (a GPU rounds to nearest even): allow it
# a few bf16 ulps more (the kernel matches a truncating emulation exactly).
SLACK_ULPS = 4.0 if INTERPRET else 0.25


def _assert_bf16_close(out: torch.Tensor, ref: torch.Tensor, truth: torch.Tensor) -> None:
    """bf16 results: the fused error against fp32 truth no worse than twice the reference's."""
    assert out.dtype == ref.dtype == torch.bfloat16
    err, ref_err = (out.float() - truth).abs().max().item(), (ref.float() - truth).abs().max().item()
    assert err <= 2 * ref_err + SLACK_ULPS * 2**-8 * truth.abs().max().item(), (err, ref_err)


@interpreter
def test_kernels_in_bf16():
    torch.manual_seed(0)
    qkv = torch.randn(3, 17, 3 * 4 * 16)
    qb = qkv.bfloat16().requires_grad_(True)
    q32 = qb.detach().float().requires_grad_(True)
    out, ref, truth = fused.joint_attention(qb, 4), fused.joint_attention_reference(qb, 4), \
        fused.joint_attention_reference(q32, 4)
    _assert_bf16_close(out, ref, truth)
    _assert_bf16_close(_grads(out, [qb])[0], _grads(ref, [qb])[0], _grads(truth, [q32])[0])
    mix = torch.rand(17, 51)
    hb = torch.randn(3, 51, 32).bfloat16().requires_grad_(True)
    h32 = hb.detach().float().requires_grad_(True)
    out, ref, truth = fused.graph_mix(mix, hb), fused.graph_mix_reference(mix, hb), mix.bfloat16().float() @ h32
    _assert_bf16_close(out, ref, truth)
    _assert_bf16_close(_grads(out, [hb])[0], _grads(ref, [hb])[0], _grads(truth, [h32])[0])


@interpreter
@pytest.mark.parametrize("num_joints", [16, 17])
def test_modules_equal_with_switch_on_and_off(cpu_kernels, num_joints):
    torch.manual_seed(0)
    x = torch.randn(3, num_joints, 32)
    modules = [GraphConv(32, 32, group_adjacency(num_joints)), SelfAttention(32, num_heads=2)]
    torch.nn.init.normal_(modules[0].bias)
    for m in modules:
        a, ga = _module_run(m, x, True)
        b, gb = _module_run(m, x, False)
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)
        for u, v in zip(ga, gb):
            torch.testing.assert_close(u, v, rtol=1e-5, atol=1e-5)
    net = AMPose(num_joints, dim=32, depth=1, num_heads=2)
    poses = torch.randn(3, num_joints, 2)
    a, ga = _module_run(net, poses, True)
    b, gb = _module_run(net, poses, False)
    assert set(net.state_dict()) == set(AMPose(num_joints, dim=32, depth=1, num_heads=2).state_dict())
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)
    for u, v in zip(ga, gb):
        torch.testing.assert_close(u, v, rtol=1e-4, atol=1e-5)


@interpreter
def test_the_fused_path_is_taken_and_dropout_keeps_sdpa(cpu_kernels, monkeypatch):
    calls = {"attn": 0, "mix": 0}
    attn, mix = fused.joint_attention, fused.graph_mix

    def count(name, fn):
        def wrapped(*args):
            calls[name] += 1
            return fn(*args)
        return wrapped

    monkeypatch.setattr(fused, "joint_attention", count("attn", attn))
    monkeypatch.setattr(fused, "graph_mix", count("mix", mix))
    fused.set_enabled(True)
    net = AMPose(17, dim=32, depth=1, num_heads=2).train()
    net(torch.randn(2, 17, 2))
    assert calls == {"attn": 1, "mix": 2}  # one encoder, two graph convs in the "ours" block
    AMPose(17, dim=32, depth=1, num_heads=2, dropout=0.1).train()(torch.randn(2, 17, 2))
    assert calls["attn"] == 1  # attention dropout in training: SDPA as before
    net = AMPose(17, dim=32, depth=1, num_heads=4)  # head dim 8: not supported, reference path
    net(torch.randn(2, 17, 2))
    assert calls["attn"] == 1


@interpreter
def test_ops_trace_through_dynamo(cpu_kernels):
    # The interpreter cannot run under AOTAutograd/inductor (that needs a GPU, see the CUDA test);
    # dynamo's graph capture of the custom ops (fake tensors, guards on the switch) can be checked.
    torch.manual_seed(0)
    fused.set_enabled(True)
    net = AMPose(17, dim=32, depth=1, num_heads=2)
    x = torch.randn(3, 17, 2)
    compiled = torch.compile(net, backend="eager", fullgraph=True)
    a, ga = _module_run(compiled, x, True)
    b, gb = _module_run(net, x, False)
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)
    for u, v in zip(ga, gb):
        torch.testing.assert_close(u, v, rtol=1e-4, atol=1e-5)


@interpreter
def test_bench_correctness_row_runs(cpu_kernels):
    from ampose.bench import fused_correctness

    before = fused.is_enabled()
    rows = fused_correctness("tiny", 4, torch.device("cpu"))
    assert [r.precision for r in rows] == ["fp32", "bf16"]
    assert all(r.extra["out_max_abs_diff"] < 1e-4 and r.extra["grad_max_abs_diff"] < 1e-4 for r in rows)
    assert fused.is_enabled() == before  # the bench restores the switch


# ------------------------------------------------------------------------------------- CUDA
@cuda
def test_cuda_kernels_fp32_and_bf16():
    torch.manual_seed(0)
    dev = torch.device("cuda")
    for j, heads, d in [(16, 2, 16), (17, 8, 64), (17, 4, 128), (17, 3, 32)]:
        qkv = torch.randn(37, j, 3 * heads * d, device=dev, requires_grad=True)
        out, ref = fused.joint_attention(qkv, heads), fused.joint_attention_reference(qkv, heads)
        torch.testing.assert_close(out, ref, rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(_grads(out, [qkv])[0], _grads(ref, [qkv])[0], rtol=1e-4, atol=1e-5)
        qb = qkv.detach().bfloat16().requires_grad_(True)
        q32 = qb.detach().float().requires_grad_(True)
        out, ref, truth = fused.joint_attention(qb, heads), fused.joint_attention_reference(qb, heads), \
            fused.joint_attention_reference(q32, heads)
        _assert_bf16_close(out, ref, truth)
        _assert_bf16_close(_grads(out, [qb])[0], _grads(ref, [qb])[0], _grads(truth, [q32])[0])
    mix = group_adjacency(17).permute(1, 2, 0).reshape(17, 51).contiguous().to(dev)
    for c in (64, 512, 200):
        h = torch.randn(37, 51, c, device=dev, requires_grad=True)
        out, ref = fused.graph_mix(mix, h), fused.graph_mix_reference(mix, h)
        torch.testing.assert_close(out, ref, rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(_grads(out, [h])[0], _grads(ref, [h])[0], rtol=1e-4, atol=1e-5)
        hb = h.detach().bfloat16().requires_grad_(True)
        h32 = hb.detach().float().requires_grad_(True)
        out, ref, truth = fused.graph_mix(mix, hb), fused.graph_mix_reference(mix, hb), mix.bfloat16().float() @ h32
        _assert_bf16_close(out, ref, truth)
        _assert_bf16_close(_grads(out, [hb])[0], _grads(ref, [hb])[0], _grads(truth, [h32])[0])


def _train_step_grads(net: torch.nn.Module, x: torch.Tensor, fused_on: bool, compile_: bool, bf16: bool):
    fused.set_enabled(fused_on)
    torch._dynamo.reset()
    fwd = torch.compile(net) if compile_ else net
    with torch.autocast("cuda", dtype=torch.bfloat16, enabled=bf16):
        out = fwd(x)
    grads = torch.autograd.grad(out.float().square().mean(), list(net.parameters()))
    return out.detach().float(), [g.float() for g in grads]


@cuda
def test_cuda_compiled_bf16_training_step_matches_reference():
    torch.manual_seed(0)
    net = AMPose(17, dim=128, depth=2, num_heads=2).cuda().train()  # head dim 64, as in the paper
    x = torch.randn(256, 17, 2, device="cuda")
    truth, truth_g = _train_step_grads(net, x, False, False, False)  # fp32 eager reference
    for fused_on in (False, True):
        out, grads = _train_step_grads(net, x, fused_on, True, True)
        err = (out - truth).abs().max().item()
        g_err = max((a - b).abs().max().item() for a, b in zip(grads, truth_g))
        if not fused_on:
            ref_err, ref_g_err = err, g_err
    assert err <= 2 * ref_err + 1e-3, (err, ref_err)
    assert g_err <= 2 * ref_g_err + 1e-4, (g_err, ref_g_err)
    # fp32, compiled: tight
    out, grads = _train_step_grads(net, x, True, True, False)
    torch.testing.assert_close(out, truth, rtol=1e-4, atol=1e-4)
    for a, b in zip(grads, truth_g):
        torch.testing.assert_close(a, b, rtol=1e-3, atol=1e-5)


@cuda
def test_cuda_compiled_dynamic_inference_matches_reference():
    from ampose.inference import FastLifter

    torch.manual_seed(0)
    net = AMPose(17, dim=128, depth=2, num_heads=2)
    x = torch.randn(1000, 17, 2)
    fused.set_enabled(False)
    ref = FastLifter(net, device="cuda", bf16=False, cuda_graph=False)(x, batch_size=300)  # fp32 eager
    base_err = (FastLifter(net, device="cuda", bf16=True, cuda_graph=False)(x, batch_size=300) - ref).abs().max().item()
    fused.set_enabled(True)
    torch._dynamo.reset()
    lifter = FastLifter(net, device="cuda", bf16=True, compile=True, cuda_graph=False)
    out = lifter(x, batch_size=300)  # batches 300 and 100: compiled with a dynamic batch size
    assert (out - ref).abs().max().item() <= 2 * base_err + 1e-3


def test_tuning_from_the_environment():
    assert fused._tuning_from_env("attn_fwd_warps=2, mix_block_c=64") == {"attn_fwd_warps": 2, "mix_block_c": 64}
    assert fused._tuning_from_env("") == {}
    for bad in ("warps=2", "mix_block_c=big", "attn_fwd_warps"):
        with pytest.raises(ValueError, match="AMPOSE_FUSED_TUNING"):
            fused._tuning_from_env(bad)
