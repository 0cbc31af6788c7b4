"""Inference fast paths: batched lifting (bf16 autocast, optional compile) and a low-latency
single-pose path replayed from a CUDA graph. Both fall back to plain eager on a CPU."""

from __future__ import annotations

import contextlib

import torch
from torch import nn


def autocast_for(device: torch.device, bf16: bool):
    """bf16 autocast on CUDA when asked for; a no-op context otherwise."""
    if bf16 and device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


class FastLifter:
    """Wraps an eval-mode lifting network for fast inference.

    Args:
        model: any (B, J, 2) -> (B, J, 3) network.
        device: where to run; defaults to CUDA when available.
        bf16: bf16 autocast on CUDA (outputs are returned in float32).
        compile: torch.compile the batched path (CUDA only).
        cuda_graph: capture the single-pose path in a CUDA graph (CUDA only).
    """

    def __init__(
        self,
        model: nn.Module,
        device: str | torch.device | None = None,
        bf16: bool = True,
        compile: bool = False,
        cuda_graph: bool = True,
    ) -> None:
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.model = model.to(self.device).eval()
        self.bf16 = bf16
        self.num_joints = model.num_joints
        on_cuda = self.device.type == "cuda"
        self._batched = torch.compile(self.model, dynamic=True) if compile and on_cuda else self.model
        self._use_graph = cuda_graph and on_cuda
        self._graph: torch.cuda.CUDAGraph | None = None
        self._static_in: torch.Tensor | None = None
        self._static_out: torch.Tensor | None = None

    @torch.inference_mode()
    def __call__(self, pose2d: torch.Tensor, batch_size: int = 65536) -> torch.Tensor:
        """Lift (N, J, 2) normalised keypoints to (N, J, 3) metres, in batches."""
        outs = []
        for chunk in pose2d.split(batch_size):
            x = chunk.to(self.device, non_blocking=True).float()
            with autocast_for(self.device, self.bf16):
                outs.append(self._batched(x).float())
        return torch.cat(outs) if outs else pose2d.new_zeros((0, self.num_joints, 3))

    @torch.inference_mode()
    def single(self, pose2d: torch.Tensor) -> torch.Tensor:
        """Lift one pose (J, 2) -> (J, 3) with the lowest latency available."""
        x = pose2d.reshape(1, self.num_joints, 2).to(self.device, non_blocking=True).float()
        if not self._use_graph:
            with autocast_for(self.device, self.bf16):
                return self.model(x)[0].float()
        if self._graph is None:
            self._capture(x)
        self._static_in.copy_(x)
        self._graph.replay()
        return self._static_out[0].clone()

    def _capture(self, example: torch.Tensor) -> None:
        self._static_in = example.clone()
        stream = torch.cuda.Stream()
        stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(stream):  # warm up outside the graph, as CUDA graphs require
            for _ in range(3):
                with autocast_for(self.device, self.bf16):
                    self.model(self._static_in)
        torch.cuda.current_stream().wait_stream(stream)
        self._graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self._graph):
            with autocast_for(self.device, self.bf16):
                self._static_out = self.model(self._static_in).float()
