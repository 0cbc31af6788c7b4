"""`ampose-bench`: training and inference throughput, latency and memory on this machine.

Prints a table and writes JSON (default experiments/bench/<device>.json). Runs on a CPU too;
`--tiny` is the CI smoke size (no timing asserts anywhere).

Training throughput is measured on the fast path's own step (data resident on the device,
batches sampled there, bf16 autocast, fused Adam, optional torch.compile) and, for reference,
on the paper recipe as the field's repos run it (batch 128, fp32, eager, a CPU DataLoader).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import os
import platform
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from ampose.inference import FastLifter, autocast_for
from ampose.fileio import write_text_atomic
from ampose.models import AMPose, count_parameters, fused as fused_ops

SIZES = {
    "paper": dict(dim=512, depth=5, num_heads=8),
    "cpu": dict(dim=64, depth=2, num_heads=4),  # conf/model/ampose.yaml, the `make train` default
    "tiny": dict(dim=16, depth=1, num_heads=2),
}
NETWORK_OPTIONS: dict[str, Any] = {}  # AMPose options for every measured network (--bf16-residual)


def _network(size: str) -> AMPose:
    return AMPose(**SIZES[size], **NETWORK_OPTIONS)


@dataclass
class Result:
    what: str
    model: str
    batch: int
    compiled: bool
    precision: str
    value: float
    unit: str
    peak_mem_gb: float | None = None
    extra: dict = field(default_factory=dict)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _peak_reset(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def _peak(device: torch.device) -> float | None:
    return torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else None


@contextlib.contextmanager
def _fused_switch(flag: bool | None):
    """The fused-kernel switch set for one measurement (None: as it is), restored after."""
    before = fused_ops.is_enabled()
    fused_ops.set_enabled(before if flag is None else flag)
    try:
        yield
    finally:
        fused_ops.set_enabled(before)


def _mark_fused(result: Result, flag: bool | None, device: torch.device) -> Result:
    on = fused_ops.is_enabled() if flag is None else flag
    if on and fused_ops.enabled_for(torch.empty(0, device=device)):  # the kernels really ran
        result.extra["fused"] = True
    return result


def _fake_dataset(n: int, joints: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return (torch.rand(n, joints, 2, generator=g) * 2 - 1).to(device), (torch.randn(n, joints, 3, generator=g) * 0.3).to(device)


def bench_train_fast(
    size: str, batch: int, device: torch.device, compile: bool, bf16: bool, seconds: float, fused: bool | None = None
) -> Result:
    """Samples/s of the fast training step: on-device sampling, bf16, fused Adam, compile.

    ``fused``: the Triton attention and joint-mixing kernels (ampose.models.fused) on.
    """
    with _fused_switch(fused):
        return _mark_fused(_bench_train_fast(size, batch, device, compile, bf16, seconds), fused, device)


def _bench_train_fast(size: str, batch: int, device: torch.device, compile: bool, bf16: bool, seconds: float) -> Result:
    torch.manual_seed(0)
    model = _network(size).to(device).train()
    fused = device.type == "cuda"
    opt = torch.optim.Adam(model.parameters(), lr=1e-4, fused=fused)
    step_model = torch.compile(model) if compile and device.type == "cuda" else model
    x_all, y_all = _fake_dataset(max(batch * 8, 65536), model.num_joints, device)

    def step() -> torch.Tensor:
        idx = torch.randint(0, x_all.shape[0], (batch,), device=device)
        with autocast_for(device, bf16):
            loss = F.mse_loss(step_model(x_all[idx]).float(), y_all[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss

    return _time_steps(step, device, batch, seconds, Result(
        "train", size, batch, compile and device.type == "cuda", "bf16" if bf16 and device.type == "cuda" else "fp32",
        0.0, "samples/s"))


def bench_train_graphed(
    size: str, batch: int, device: torch.device, compile: bool, seconds: float, fused: bool | None = None
) -> Result:
    """Samples/s of the whole training step (forward, backward, fused Adam) replayed as one CUDA graph.

    Why: one fast-mode job through Lightning at batch 2048 leaves the GPU idle much of each step
    (two jobs sharing one H100 trained at 71 k and 124 k samples/s at once, against 73 k alone);
    a graph replays all of a step's kernels with one launch. Batches are drawn on the device
    into the graph's static index tensor before each replay. ``fused``: the Triton kernels on.
    """
    if device.type != "cuda":
        raise RuntimeError("a CUDA graph needs a GPU")
    with _fused_switch(fused):
        return _mark_fused(_bench_train_graphed(size, batch, device, compile, seconds), fused, device)


def _bench_train_graphed(size: str, batch: int, device: torch.device, compile: bool, seconds: float) -> Result:
    torch.manual_seed(0)
    model = _network(size).to(device).train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-4, fused=True, capturable=True)
    fwd = torch.compile(model) if compile else model
    x_all, y_all = _fake_dataset(max(batch * 8, 65536), model.num_joints, device)
    idx = torch.randint(0, x_all.shape[0], (batch,), device=device)

    def body() -> torch.Tensor:
        # cache_enabled=False: autocast's weight-cast cache must not outlive the capture
        with torch.autocast("cuda", dtype=torch.bfloat16, cache_enabled=False):
            loss = F.mse_loss(fwd(x_all[idx]).float(), y_all[idx])
        loss.backward()
        opt.step()
        return loss

    side = torch.cuda.Stream(device)
    side.wait_stream(torch.cuda.current_stream(device))
    with torch.cuda.stream(side):  # warm-up (and compilation) off the default stream, as capture requires
        for _ in range(3):
            opt.zero_grad(set_to_none=True)
            body()
    torch.cuda.current_stream(device).wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    opt.zero_grad(set_to_none=True)  # gradients are then allocated, and rewritten, inside the graph
    with torch.cuda.graph(graph):
        loss = body()

    def step() -> torch.Tensor:
        torch.randint(0, x_all.shape[0], (batch,), device=device, out=idx)
        graph.replay()
        return loss

    return _time_steps(step, device, batch, seconds, Result("train_graphed", size, batch, compile, "bf16", 0.0, "samples/s"))


def bench_train_paper_recipe(size: str, device: torch.device, seconds: float, batch: int = 128) -> Result:
    """Samples/s of the paper recipe as usually run: fp32, eager, Adam, CPU DataLoader, batch 128."""
    torch.manual_seed(0)
    model = _network(size).to(device).train()
    opt = torch.optim.Adam(model.parameters(), lr=2.5e-5)
    x_all, y_all = _fake_dataset(batch * 512, model.num_joints, torch.device("cpu"))
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(x_all, y_all), batch_size=batch, shuffle=True, drop_last=True,
        pin_memory=device.type == "cuda",
    )
    it = iter(loader)

    def step() -> torch.Tensor:
        nonlocal it
        try:
            x, y = next(it)
        except StopIteration:
            it = iter(loader)
            x, y = next(it)
        loss = F.mse_loss(model(x.to(device, non_blocking=True)), y.to(device, non_blocking=True))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss

    return _time_steps(step, device, batch, seconds, Result("train_paper_recipe", size, batch, False, "fp32", 0.0, "samples/s"))


def _time_steps(step, device: torch.device, batch: int, seconds: float, result: Result) -> Result:
    for _ in range(3):  # warm-up (and compilation)
        step()
    _sync(device)
    _peak_reset(device)
    n, t0 = 0, time.perf_counter()
    while True:
        for _ in range(5):
            step()
        n += 5
        _sync(device)
        if time.perf_counter() - t0 > seconds:
            break
    result.value = n * batch / (time.perf_counter() - t0)
    result.peak_mem_gb = _peak(device)
    return result


def bench_inference(
    size: str, batch: int, device: torch.device, compile: bool, bf16: bool, seconds: float, fused: bool | None = None
) -> Result:
    """Poses/s of batched lifting (FastLifter); ``fused``: the Triton kernels on."""
    with _fused_switch(fused):
        return _mark_fused(_bench_inference(size, batch, device, compile, bf16, seconds), fused, device)


def _bench_inference(size: str, batch: int, device: torch.device, compile: bool, bf16: bool, seconds: float) -> Result:
    model = _network(size)
    lifter = FastLifter(model, device=device, bf16=bf16, compile=compile, cuda_graph=False)
    x = _fake_dataset(batch, model.num_joints, device)[0]
    return _time_steps(lambda: lifter(x, batch_size=batch), device, batch, seconds, Result(
        "inference", size, batch, compile and device.type == "cuda",
        "bf16" if bf16 and device.type == "cuda" else "fp32", 0.0, "poses/s"))


def fused_correctness(size: str, batch: int, device: torch.device) -> list[Result]:
    """Max abs difference, fused kernels against the reference code, of the forward output and
    of the parameter gradients on one training batch (eager; fp32 and bf16 autocast)."""
    with _fused_switch(True):
        if not fused_ops.enabled_for(torch.empty(0, device=device)):
            raise RuntimeError("the fused kernels need a GPU and triton")
    torch.manual_seed(0)
    model = _network(size).to(device).train()
    x, y = _fake_dataset(batch, model.num_joints, device)
    results = []
    for bf16 in (False, True):
        runs = []
        for flag in (False, True):
            with _fused_switch(flag), autocast_for(device, bf16):
                out = model(x)
                loss = F.mse_loss(out.float(), y)
            grads = torch.autograd.grad(loss, list(model.parameters()))
            runs.append((out.detach().float(), [g.float() for g in grads]))
        (o_ref, g_ref), (o_fus, g_fus) = runs
        g_diff = max((a - b).abs().max().item() for a, b in zip(g_ref, g_fus, strict=True))
        g_scale = max(a.abs().max().item() for a in g_ref)
        results.append(Result(
            "fused_check", size, batch, False, "bf16" if bf16 else "fp32", (o_fus - o_ref).abs().max().item(),
            "max abs diff", extra={
                "fused": True, "out_max_abs_diff": (o_fus - o_ref).abs().max().item(),
                "out_max_abs": o_ref.abs().max().item(), "grad_max_abs_diff": g_diff, "grad_max_abs": g_scale,
            }))
    return results


def run_fused(sizes: list[str], device: torch.device, secs: float, add, batches: list[int] | None = None) -> None:
    """--fused: the fused Triton kernels off vs on, compiled bf16 training (and as a CUDA graph) at
    each training batch size (``batches``; default 2048, 8192, 16384), compiled bf16 inference, and
    a correctness row."""
    default, infer_batch = ((128, 512), 1024) if sizes == ["tiny"] else ((2048, 8192, 16384), 65536)
    batches = batches or default
    for size in sizes:
        add(bench_train_paper_recipe(size, device, secs))  # the ratio is against this, same run
        for b in batches:
            for flag in (False, True):
                torch._dynamo.reset()  # a fresh static-shape compile for each measurement
                add(bench_train_fast(size, b, device, True, True, secs, fused=flag))
            torch._dynamo.reset()
            try:
                add(bench_train_graphed(size, b, device, True, secs, fused=True))
            except Exception as e:  # noqa: BLE001 (an unmeasured path: record why, go on)
                add(Result("train_graphed", size, b, True, "bf16", float("nan"), "samples/s",
                           extra={"fused": True, "error": f"{type(e).__name__}: {e}"[:300]}))
        for flag in (False, True):
            torch._dynamo.reset()
            add(bench_inference(size, infer_batch, device, True, True, secs, fused=flag))
        for r in fused_correctness(size, min(batches), device):
            add(r)


def _fused_summary(results: list[Result]) -> dict:
    """Speed-up of fused over reference for each (what, model, batch) measured both ways, and the
    best training step (any kind) over the paper recipe of the same model in the same run."""
    out = {}
    for model in sorted({r.model for r in results}):
        recipe = [r.value for r in results if r.model == model and r.what == "train_paper_recipe"]
        steps = [r.value for r in results if r.model == model and r.what in ("train", "train_graphed")
                 and not math.isnan(r.value)]  # NaN: an unmeasured graph
        if recipe and steps and recipe[0] > 0:
            out[f"best_train_over_paper_recipe_{model}"] = max(steps) / recipe[0]
    for r in results:
        if r.extra.get("fused") or r.what in ("fused_check", "train_paper_recipe"):
            continue
        on = [o for o in results if o.extra.get("fused") and (o.what, o.model, o.batch) == (r.what, r.model, r.batch)]
        if on and r.value > 0:
            out[f"fused_speedup_{r.what}_{r.model}_b{r.batch}"] = on[0].value / r.value
        graphed = [o for o in results if o.what == "train_graphed" and o.extra.get("fused")
                   and (o.model, o.batch) == (r.model, r.batch)]
        if r.what == "train" and graphed and r.value > 0 and not math.isnan(graphed[0].value):
            out[f"fused_graphed_speedup_train_{r.model}_b{r.batch}"] = graphed[0].value / r.value
    return out


def bench_latency(size: str, device: torch.device, cuda_graph: bool, bf16: bool, repeats: int) -> Result:
    """Median wall-clock latency of one pose, host tensor in, result on the host."""
    model = _network(size)
    if device.type == "cpu":
        torch.set_num_threads(max(1, os.cpu_count() or 1))
    lifter = FastLifter(model, device=device, bf16=bf16, cuda_graph=cuda_graph)
    x = torch.rand(model.num_joints, 2)
    median, p90 = _latency_ms(lambda: lifter.single(x).cpu(), repeats)
    graph = cuda_graph and device.type == "cuda"
    return Result("latency_single_pose", size, 1, False, "bf16" if bf16 and device.type == "cuda" else "fp32",
                  median, "ms", extra={"cuda_graph": graph, "p90_ms": p90})


def _latency_ms(call, repeats: int, warmup: int = 10) -> tuple[float, float]:
    """Median and 90th-percentile wall-clock time of ``call()`` in ms, after ``warmup`` calls."""
    times = []
    for i in range(repeats + warmup):
        t0 = time.perf_counter()
        call()
        if i >= warmup:
            times.append(time.perf_counter() - t0)
    times.sort()
    return times[len(times) // 2] * 1e3, times[int(0.9 * len(times))] * 1e3


def bench_exported(size: str, device: torch.device, repeats: int, batch: int = 4096) -> list[Result]:
    """The ``ampose-export`` program (``.pt2``, saved, loaded back and moved to ``device`` by
    ``load_lifter``): the median latency of one pose (host tensors in, result on the host) and
    poses/s at ``batch``.
    A program that cannot run there is recorded with its error, not raised."""
    from ampose.export import export_lifter, load_lifter

    model = _network(size).eval()
    rows = [Result("exported_latency", size, 1, False, "fp32", float("nan"), "ms"),
            Result("exported_inference", size, batch, False, "fp32", float("nan"), "poses/s")]
    try:
        buf = io.BytesIO()
        torch.export.save(export_lifter(model), buf)
        buf.seek(0)
        lifter = load_lifter(buf, device)
        j = model.num_joints
        one, size_one = torch.rand(1, j, 2) * 1000, torch.tensor([[1000.0, 1000.0]])
        with torch.no_grad():
            rows[0].value, p90 = _latency_ms(lambda: lifter(one.to(device), size_one.to(device)).cpu(), repeats)
            rows[0].extra = {"p90_ms": p90}
            x, sizes = torch.rand(batch, j, 2, device=device) * 1000, torch.full((batch, 2), 1000.0, device=device)
            _time_steps(lambda: lifter(x, sizes), device, batch, 0.5, rows[1])
    except Exception as e:  # noqa: BLE001 (an unmeasured path: record why, go on)
        for r in rows:
            r.extra = {"error": f"{type(e).__name__}: {e}"[:300]}
    return rows


def run(args: argparse.Namespace) -> list[Result]:
    device = torch.device("cuda" if torch.cuda.is_available() and not args.cpu else "cpu")
    cuda = device.type == "cuda"
    secs = args.seconds
    results: list[Result] = []

    def add(r: Result) -> None:
        results.append(r)
        print(_row(r), flush=True)

    precisions = [(False, False), (False, True), (True, True)] if cuda else [(False, False)]
    sizes = ["tiny"] if args.tiny else (args.sizes or (["paper", "cpu"] if cuda else ["cpu", "paper"]))
    if args.fused:
        if not cuda:
            print("--fused: the fused Triton kernels need a GPU; nothing to measure here", flush=True)
            return results
        if not fused_ops.available():
            print("--fused: triton is not importable; nothing to measure here", flush=True)
            return results
        run_fused(["tiny"] if args.tiny else (args.sizes or ["paper"]), device, secs, add, args.batches)
        return results
    if args.exported:
        repeats = 20 if args.tiny else 200
        for size in sizes:
            for graph in ([False, True] if cuda else [False]):
                add(bench_latency(size, device, graph, bf16=cuda, repeats=repeats))
            for r in bench_exported(size, device, repeats=repeats, batch=256 if args.tiny else 4096):
                add(r)
        return results
    if args.graphed:
        if not cuda:
            print("--graphed: CUDA graphs need a GPU; nothing to measure here", flush=True)
            return results
        for size in sizes:
            for b in args.batches or (2048, 8192):
                add(bench_train_fast(size, b, device, True, True, secs))  # the reference: compiled, bf16
                for compile_ in (False, True):
                    try:
                        add(bench_train_graphed(size, b, device, compile_, secs))
                    except Exception as e:  # noqa: BLE001 (an unmeasured path: record why, go on)
                        add(Result("train_graphed", size, b, compile_, "bf16", float("nan"), "samples/s",
                                   extra={"error": f"{type(e).__name__}: {e}"[:300]}))
        return results
    for size in sizes:
        big = cuda and size == "paper"
        train_batches = args.batches or ([128, 1024] if args.tiny or not big else [1024, 4096, 8192, 16384])
        infer_batches = [1, 256] if args.tiny else ([256, 4096, 65536] if cuda else [1, 256, 4096])
        add(bench_train_paper_recipe(size, device, secs))
        for b in train_batches:
            for compile_, bf16 in precisions:
                add(bench_train_fast(size, b, device, compile_, bf16, secs))
        for b in infer_batches:
            for compile_, bf16 in precisions:
                add(bench_inference(size, b, device, compile_, bf16, secs))
        for graph in ([False, True] if cuda else [False]):
            add(bench_latency(size, device, graph, bf16=cuda, repeats=20 if args.tiny else 200))
        for r in bench_exported(size, device, repeats=20 if args.tiny else 200, batch=256 if args.tiny else 4096):
            add(r)
    return results


def profile_train_step(size: str, batch: int, compile: bool, steps: int = 10) -> str:
    """torch.profiler table of the fast training step (where the time goes)."""
    from torch.profiler import ProfilerActivity, profile

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model = _network(size).to(device).train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-4, fused=device.type == "cuda")
    fwd = torch.compile(model) if compile and device.type == "cuda" else model
    x, y = _fake_dataset(batch, model.num_joints, device)

    def step() -> None:
        with autocast_for(device, True):
            loss = F.mse_loss(fwd(x).float(), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for _ in range(3):
        step()
    _sync(device)
    acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    with profile(activities=acts) as prof:
        for _ in range(steps):
            step()
        _sync(device)
    key = "cuda_time_total" if device.type == "cuda" else "cpu_time_total"
    return prof.key_averages().table(sort_by=key, row_limit=25)


def _row(r: Result) -> str:
    mem = f"{r.peak_mem_gb:6.2f} GB" if r.peak_mem_gb is not None else "      -  "
    value = f"{r.value:12.1f}" if abs(r.value) >= 1 or r.value == 0 else f"{r.value:12.3g}"  # small: the fused_check diffs
    return (f"{r.what:20s} {r.model:6s} batch {r.batch:6d} {'compiled' if r.compiled else 'eager   '} {r.precision:5s} "
            f"{value} {r.unit:10s} {mem} {r.extra or ''}")


def _nan_to_none(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _nan_to_none(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_nan_to_none(v) for v in value]
    return value


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--tiny", action="store_true", help="CI smoke size: tiny model, few steps")
    p.add_argument("--cpu", action="store_true", help="measure on the CPU even when a GPU is present")
    p.add_argument("--sizes", nargs="+", choices=sorted(SIZES), default=None, help="model sizes to measure")
    p.add_argument("--seconds", type=float, default=None, help="seconds per measurement")
    p.add_argument("--out", type=Path, default=None, help="JSON output (default experiments/bench/<device>.json)")
    p.add_argument("--graphed", action="store_true",
                   help="only the training step as one CUDA graph against the compiled fast step (GPU)")
    p.add_argument("--fused", action="store_true",
                   help="only the fused Triton kernels off vs on: compiled bf16 training (batch 2048, 8192, "
                        "16384), inference (batch 65536), their difference from the reference, and the paper "
                        "recipe in the same run (GPU)")
    p.add_argument("--exported", action="store_true",
                   help="only the ampose-export program beside the eager and CUDA-graph single-pose paths: "
                        "one-pose latency and batched poses/s on this device")
    p.add_argument("--batches", nargs="+", type=int, default=None,
                   help="training batch sizes to measure instead of each mode's own (e.g. --fused --batches 128 "
                        "256 times the paper's batch on the fast path)")
    p.add_argument("--bf16-residual", action="store_true",
                   help="every network with AMPose(bf16_residual=True): the residual stream in bf16 under autocast")
    p.add_argument("--profile", action="store_true", help="print a torch.profiler table of the fast step and exit")
    p.add_argument("--profile-batch", type=int, default=8192)
    args = p.parse_args(argv)
    if args.seconds is not None and not args.seconds > 0:
        p.error(f"--seconds must be > 0, got {args.seconds}")
    if args.batches and min(args.batches) < 1:
        p.error(f"--batches must be >= 1, got {min(args.batches)}")
    if args.out is not None and args.out.is_dir():  # said now, not after every measurement
        p.error(f"--out {args.out} is a folder: give a .json file")
    NETWORK_OPTIONS.clear()
    if args.bf16_residual:
        NETWORK_OPTIONS["bf16_residual"] = True
    if args.profile:
        for compile_ in (False, True):
            print(f"== profile: paper size, batch {args.profile_batch}, bf16, compile={compile_}")
            print(profile_train_step("paper" if torch.cuda.is_available() else "cpu", args.profile_batch, compile_))
        return
    args.seconds = args.seconds if args.seconds is not None else (0.2 if args.tiny else 3.0)
    device_name = torch.cuda.get_device_name() if torch.cuda.is_available() and not args.cpu else f"cpu-{os.cpu_count()}cores"
    t0 = time.time()
    results = run(args)
    paper = [r for r in results if r.model == "paper"]
    summary = {}
    if paper:
        recipe = max((r.value for r in paper if r.what == "train_paper_recipe"), default=None)
        fast = max((r.value for r in paper if r.what in ("train", "train_graphed") and not math.isnan(r.value)),
                   default=None)  # the same best step as best_train_over_paper_recipe
        if recipe and fast:
            summary = {"paper_recipe_samples_per_s": recipe, "best_fast_samples_per_s": fast, "speedup": fast / recipe}
            print(f"training speed-up over the paper recipe: {fast / recipe:.1f}x ({fast:,.0f} vs {recipe:,.0f} samples/s)")
    if args.fused:
        summary = _fused_summary(results)
        for k, v in summary.items():
            print(f"{k}: {v:.3f}x")
    record = {
        "device": device_name, "torch": torch.__version__, "python": platform.python_version(),
        "params": {k: count_parameters(AMPose(**v)) for k, v in SIZES.items()},
        "network_options": dict(NETWORK_OPTIONS), "fused_tuning": dict(fused_ops.TUNING),
        "seconds_per_measurement": args.seconds, "wall_s": time.time() - t0,
        "summary": summary,
        "results": [asdict(r) for r in results],
    }
    tags = (("_tiny", args.tiny), ("_graphed", args.graphed), ("_fused", args.fused), ("-exported", args.exported),
            ("_bf16res", args.bf16_residual))
    suffix = "".join(tag for tag, on in tags if on)  # never over the full run's file
    out = args.out or Path("experiments/bench") / f"{device_name.replace(' ', '_')}{suffix}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    # strict JSON: an unmeasured value (NaN, with its error beside it) is null
    write_text_atomic(out, json.dumps(_nan_to_none(record), indent=2, allow_nan=False))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
