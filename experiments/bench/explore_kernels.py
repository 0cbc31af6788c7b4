"""Which implementation of the two non-GEMM hot spots is fastest on the GPU (compiled, bf16)?

Hot spots from the profiler (paper-sized model, batch 8192, compiled): attention fwd+bwd about
21 % of GPU time, the graph-conv joint mixing (broadcast bmm on a sm75 cutlass kernel) about 18 %.
Variants are patched in at run time; the winner goes into the model code.
Run: PYTHONPATH=src python experiments/bench/explore_kernels.py
"""

import itertools
import time

import torch
import torch.nn.functional as F

from ampose.models import AMPose
from ampose.models import attention as attn_mod
from ampose.models import graph as graph_mod


def mixing_gather(self, x):
    """Sum of the few non-zero (joint, group) slices per output joint: fuses into one kernel."""
    b, j, _ = x.shape
    h = self.weight(x).reshape(b, j * self.groups, self.out_dim)  # (B, J*G, C)
    if not hasattr(self, "_nz"):
        mix = self.mix.cpu()
        self._nz = [[(int(k), float(mix[i, k])) for k in torch.nonzero(mix[i]).flatten()] for i in range(j)]
    rows = [sum(w * h[:, k] for k, w in terms) for terms in self._nz]
    out = torch.stack(rows, dim=1)  # (B, J, C)
    return out + self.bias if self.bias is not None else out


def mixing_premix(self, x):
    """Mix joints first (A_g X for every g), then one (G*C -> C) matmul."""
    b, j, c = x.shape
    if not hasattr(self, "_pre"):
        a = self.mix.reshape(j, j, self.groups).permute(0, 2, 1).reshape(j * self.groups, j)  # row i*G+g
        self._pre = a.contiguous()
        w = self.weight.weight  # (G*C_out, C_in), rows g*C_out + o
        w2 = w.reshape(self.groups, self.out_dim, c).permute(1, 0, 2).reshape(self.out_dim, self.groups * c)
        self._w2 = torch.nn.Parameter(w2.contiguous())
    ax = torch.matmul(self._pre.to(x.dtype), x).reshape(b, j, self.groups * c)  # (B, J, G*C)
    out = F.linear(ax, self._w2.to(x.dtype))
    return out + self.bias if self.bias is not None else out


def attention_math(self, x):
    b, j, c = x.shape
    hd = c // self.num_heads
    qkv = self.qkv(x).reshape(b, j, 3, self.num_heads, hd)
    q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)
    a = (q @ k.transpose(-1, -2)) * hd**-0.5
    y = a.softmax(-1) @ v
    return self.proj(y.transpose(1, 2).reshape(b, j, c))


def run(batch=8192, steps=20):
    torch.manual_seed(0)
    m = AMPose().cuda()
    opt = torch.optim.Adam(m.parameters(), lr=1e-4, fused=True)
    fm = torch.compile(m)
    x = torch.rand(batch, 17, 2, device="cuda")
    y = torch.rand(batch, 17, 3, device="cuda")

    def step():
        with torch.autocast("cuda", dtype=torch.bfloat16):
            loss = F.mse_loss(fm(x).float(), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for _ in range(3):
        step()
    torch.cuda.synchronize()
    t = time.perf_counter()
    for _ in range(steps):
        step()
    torch.cuda.synchronize()
    return batch * steps / (time.perf_counter() - t)


orig_gc, orig_attn = graph_mod.GraphConv.forward, attn_mod.SelfAttention.forward
for (gname, gfn), (aname, afn) in itertools.product(
    [("bmm", orig_gc), ("gather", mixing_gather), ("premix", mixing_premix)],
    [("sdpa", orig_attn), ("math", attention_math)],
):
    graph_mod.GraphConv.forward, attn_mod.SelfAttention.forward = gfn, afn
    torch._dynamo.reset()
    for backend in (["default", "flash", "efficient"] if aname == "sdpa" else ["-"]):
        from torch.nn.attention import SDPBackend, sdpa_kernel

        ctx = {"flash": sdpa_kernel(SDPBackend.FLASH_ATTENTION),
               "efficient": sdpa_kernel(SDPBackend.EFFICIENT_ATTENTION)}.get(backend)
        torch._dynamo.reset()
        try:
            if ctx:
                with ctx:
                    r = run()
            else:
                r = run()
            print(f"mixing={gname:7s} attention={aname:5s} backend={backend:9s} {r:10.0f} samples/s", flush=True)
        except Exception as e:  # noqa: BLE001
            print(f"mixing={gname} attention={aname} backend={backend} failed: {type(e).__name__}: {str(e)[:200]}", flush=True)
