"""Pick the launch parameters of the fused kernels (ampose.models.fused.TUNING) on this GPU.

Times each op's forward + backward alone (each attention launch setting also checked against
SDPA; a wrong one is not timed and never chosen) at the paper size (batch 8192, 17 joints, width 512,
8 heads, bf16) for a grid of warps / channel tiles, against the reference ops, and writes JSON.

    PYTHONPATH=src python experiments/bench/tune_fused.py --out tune.json
"""

from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path

import torch
from triton.testing import do_bench

from ampose.data.skeleton import group_adjacency
from ampose.models import fused
from ampose.models.graph import GraphConv


def _time(fn) -> float:
    return do_bench(fn, warmup=25, rep=200)  # ms, median


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--batch", type=int, default=8192)
    p.add_argument("--out", type=Path, default=Path("tune_fused.json"))
    a = p.parse_args()
    dev, dt, b, c, h = torch.device("cuda"), torch.bfloat16, a.batch, 512, 8
    qkv = torch.randn(b, 17, 3 * c, device=dev, dtype=dt, requires_grad=True)
    d_att = torch.randn(b, 17, c, device=dev, dtype=dt)
    mix = GraphConv(c, c, group_adjacency(17)).mix.to(dev)
    hh = torch.randn(b, mix.shape[1], c, device=dev, dtype=dt, requires_grad=True)
    d_mix = torch.randn(b, 17, c, device=dev, dtype=dt)

    def attn(op):
        return lambda: torch.autograd.grad(op(qkv, h), qkv, d_att)

    def gmix(op):
        return lambda: torch.autograd.grad(op(mix, hh), hh, d_mix)

    rows = [{"config": "reference", "attention_ms": _time(attn(fused.joint_attention_reference)),
             "graph_mix_ms": _time(gmix(fused.graph_mix_reference))}]
    base = dict(fused.TUNING)
    ref_out = fused.joint_attention_reference(qkv, h)
    (ref_grad,) = torch.autograd.grad(ref_out, qkv, d_att)
    for fw, bw in itertools.product((1, 2, 4, 8), (2, 4, 8)):
        cfg = {"attn_fwd_warps": fw, "attn_bwd_warps": bw}
        fused.TUNING.update(base, **cfg)
        out = fused.joint_attention(qkv, h)
        (grad,) = torch.autograd.grad(out, qkv, d_att)
        # bf16 rounding of outputs up to ~4 and gradients up to ~20: a wrong head gives O(1) errors.
        err = max((out - ref_out).abs().max().item(), (grad - ref_grad).abs().max().item())
        rows.append({"config": cfg, "max_abs_diff": err}
                    | ({"attention_ms": _time(attn(fused.joint_attention))} if err < 0.25 else {}))
    for bc, w in itertools.product((32, 64, 128, 256), (1, 2, 4, 8)):
        fused.TUNING.update(base, mix_block_c=bc, mix_warps=w)
        rows.append({"config": {"mix_block_c": bc, "mix_warps": w}, "graph_mix_ms": _time(gmix(fused.graph_mix))})
    fused.TUNING.update(base)
    for r in rows:
        print(f"{str(r['config']):50s} " + "  ".join(f"{k} {v:.3f}" for k, v in r.items() if k != "config"), flush=True)
    tuned = [r for r in rows if r["config"] != "reference"]
    best = {**min((r for r in tuned if "attention_ms" in r), key=lambda r: r["attention_ms"])["config"],
            **min((r for r in tuned if "graph_mix_ms" in r), key=lambda r: r["graph_mix_ms"])["config"]}
    env = ",".join(f"{k}={v}" for k, v in best.items())
    print(f"AMPOSE_FUSED_TUNING={env}")
    a.out.write_text(json.dumps({"device": torch.cuda.get_device_name(), "batch": b, "base": base,
                                 "best": best, "rows": rows}, indent=2))
    (a.out.parent / "tuning.env").write_text(env + "\n")  # for AMPOSE_FUSED_TUNING=$(cat ...)


if __name__ == "__main__":
    main()
