"""Does a torch.compile / Inductor setting buy the last 6 % to 150 k samples/s? (issue 10)

The session-3 profile (profile_fused_h100.txt) left about 22 ms of a 59 ms step in GEMMs and
most of the rest in Inductor's fused pointwise/LayerNorm kernels and cuBLAS split-K memsets.
Inductor's autotuning can pick Triton GEMM templates (with fused epilogues, no split-K memsets)
and retune the pointwise kernels. This times the best training step of `ampose-bench --fused`
(paper size, fused kernels, bf16, compiled, the whole step as one CUDA graph) under each
setting, and the paper recipe once, in the same run. Results are written after every row.

    PYTHONPATH=src python experiments/bench/compile_modes.py --out compile_modes.json
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import time
from pathlib import Path

import torch
import torch._inductor.config as inductor_config

from ampose import bench

SETTINGS = {
    "default": (None, {}),
    "coordinate_descent": (None, {"coordinate_descent_tuning": True}),
    "max_autotune": ("max-autotune-no-cudagraphs", {}),
    "max_autotune+coordinate_descent": ("max-autotune-no-cudagraphs", {"coordinate_descent_tuning": True}),
}


@contextlib.contextmanager
def compile_setting(mode: str | None, config: dict):
    original = torch.compile
    torch.compile = functools.partial(original, mode=mode) if mode else original  # bench calls torch.compile(model)
    try:
        with inductor_config.patch(config):
            yield
    finally:
        torch.compile = original


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--batch", type=int, nargs="+", default=[16384])
    p.add_argument("--seconds", type=float, default=4.0)
    p.add_argument("--settings", nargs="+", default=list(SETTINGS))
    p.add_argument("--out", type=Path, default=Path("compile_modes.json"))
    a = p.parse_args()
    dev = torch.device("cuda")
    rows = []

    def record(row: dict) -> None:
        rows.append(row)
        print(json.dumps(row), flush=True)
        a.out.write_text(json.dumps({"device": torch.cuda.get_device_name(), "torch": torch.__version__, "rows": rows}, indent=2))

    r = bench.bench_train_paper_recipe("paper", dev, a.seconds)
    record({"setting": "paper recipe (batch 128, fp32, eager, DataLoader)", "batch": 128, "samples_per_s": r.value})
    for name in a.settings:
        mode, config = SETTINGS[name]
        for b in a.batch:
            torch._dynamo.reset()
            t0 = time.time()
            try:
                with compile_setting(mode, config):
                    r = bench.bench_train_graphed("paper", b, dev, True, a.seconds, fused=True)
                record({"setting": name, "batch": b, "samples_per_s": r.value, "peak_mem_gb": r.peak_mem_gb,
                        "wall_s_incl_compile": time.time() - t0})
            except Exception as e:  # noqa: BLE001 (record why, go on to the next setting)
                record({"setting": name, "batch": b, "error": f"{type(e).__name__}: {e}"[:300]})


if __name__ == "__main__":
    main()
