"""A trained lifter as one self-contained file for deployment: ``ampose-export``.

The file is a ``torch.export`` program (``.pt2``): the network's graph and weights, plus the steps
``ampose.predict.lift`` runs around it (pixel normalisation, optional flip test-time augmentation,
root-relative millimetres). Running it needs torch only, not ampose, Lightning or Hydra::

    lifter = torch.export.load("lifter.pt2").module()
    poses3d = lifter(keypoints, image_size)   # (B, J, 2) px and (B, 2) (w, h) -> (B, J, 3) mm

The program is exported on the CPU and asserts that device inside its graph, so
``.module().to("cuda")`` fails at the first call ("Tensor device mismatch"). Move the program
itself instead: ``torch.export.passes.move_to_device_pass(program, "cuda").module()``, which is
what ``load_lifter(path, "cuda")`` does.

The joints are the model's Human3.6M order (17, or 16 without Nose), listed in the JSON written
beside the file; convert other layouts first (``ampose.layouts.convert``). Unlike ``lift``, the
program fills no missing keypoints: a NaN in a pose gives NaN in that pose's output.

It is a portability format, not a faster one: the graph runs op by op, unfused. On 2 CPU cores one
pose of the CPU-sized model took 1.4 ms through it against 0.75 ms eager; the paper-sized one
14.1 ms against 17.8 (experiments/bench/cpu-2cores-exported.json). On one H200 one pose of the paper-sized model took
3.2 ms against 0.59 ms through ``FastLifter``'s CUDA graph (experiments/bench). For speed in
Python, use ``ampose.predict.lift`` or ``FastLifter``.
"""

from __future__ import annotations

import copy
import io
import json
import sys
from pathlib import Path
from typing import Sequence

import torch
from torch import nn

from ampose.data.skeleton import skeleton_for
from ampose.data.transforms import flip_pose
from ampose.fileio import write_atomic, write_text_atomic
from ampose.options import as_bool

USAGE = """usage: ampose-export ckpt_path=RUN/checkpoints/last.ckpt output=lifter.pt2 [flip=true]
  ckpt_path   a checkpoint, or several as [A,B] (their ensemble: the mean of the predictions)
  output      the .pt2 file; its description (joints, input and output) goes beside it as .json
  flip        bake flip test-time augmentation in (two passes per pose; default false)
Load it with torch alone: torch.export.load("lifter.pt2").module()(keypoints_px, image_size)"""


class PixelLifter(nn.Module):
    """``net`` wrapped with ``lift``'s arithmetic: (B, J, 2) pixels and (B, 2) image (w, h) ->
    (B, J, 3) root-relative millimetres in the camera frame."""

    def __init__(self, net: nn.Module, flip: bool = False) -> None:
        super().__init__()
        self.net = net.eval()
        self.flip = flip
        self.num_joints = int(net.num_joints)
        perm = skeleton_for(self.num_joints).flip_permutation
        self.register_buffer("perm", torch.as_tensor(perm, dtype=torch.long), persistent=False)

    def forward(self, keypoints: torch.Tensor, image_size: torch.Tensor) -> torch.Tensor:
        w = image_size[:, None, 0:1].to(keypoints.dtype)  # (B, 1, 1)
        h = image_size[:, None, 1:2].to(keypoints.dtype)
        offset = torch.cat([torch.ones_like(w), h / w], dim=-1)  # x / w * 2 - [1, h / w]
        x = keypoints / w * 2 - offset
        y = self.net(x)
        if self.flip:
            y = (y + flip_pose(self.net(flip_pose(x, self.perm)), self.perm)) / 2
        return (y - y[:, :1]) * 1000.0


def export_lifter(net: nn.Module, flip: bool = False) -> torch.export.ExportedProgram:
    """``PixelLifter(net, flip)`` exported on the CPU with a dynamic batch dimension (``net`` itself
    is left where it is: a copy moves)."""
    lifter = PixelLifter(copy.deepcopy(net).cpu(), flip).eval().requires_grad_(False)  # outputs convert to numpy
    example = (torch.rand(2, lifter.num_joints, 2) * 500, torch.tensor([[1000.0, 1000.0]] * 2))
    batch = torch.export.Dim("batch", min=1)
    with torch.no_grad():
        return torch.export.export(lifter, example, dynamic_shapes=({0: batch}, {0: batch}))


def load_lifter(path: str | Path | io.BytesIO, device: str | torch.device = "cpu") -> nn.Module:
    """A saved program as a callable module on ``device`` (the graph's device assertions moved
    with it; see the module docstring)."""
    program = torch.export.load(path)
    if torch.device(device) != torch.device("cpu"):
        from torch.export.passes import move_to_device_pass

        program = move_to_device_pass(program, torch.device(device))
    return program.module()


def describe(num_joints: int, flip: bool, sources: Sequence[str]) -> dict:
    """The exported file's contract, written beside it as JSON."""
    return {
        "format": "torch.export (load: torch.export.load(path).module(); on a GPU: "
                  "torch.export.passes.move_to_device_pass(torch.export.load(path), 'cuda').module())",
        "inputs": {"keypoints": f"(B, {num_joints}, 2) float32 pixels, joints in the order below",
                   "image_size": "(B, 2) float32 (width, height) in pixels"},
        "output": f"(B, {num_joints}, 3) float32 millimetres, camera frame, relative to joint 0 (Hip)",
        "joints": list(skeleton_for(num_joints).names),
        "flip_test": flip,
        "checkpoints": list(sources),
        "torch": torch.__version__,
    }


def save(program: torch.export.ExportedProgram, output: str | Path, info: dict) -> tuple[Path, Path]:
    """The program and its JSON description, each written whole (never half a file)."""
    buf = io.BytesIO()
    torch.export.save(program, buf)
    pt2 = write_atomic(output, lambda f: f.write(buf.getvalue()))
    js = write_text_atomic(Path(output).with_suffix(".json"), json.dumps(info, indent=2) + "\n")
    return pt2, js


def _export(argv: list[str]) -> None:
    from ampose.predict import KeypointError, _load, _paths, parse_args

    opts = parse_args(argv, keys=("ckpt_path", "output", "flip"), required=("ckpt_path", "output"))
    if Path(opts["output"]).suffix != ".pt2":
        raise KeypointError(f"output must end in .pt2 (a torch.export program), got {opts['output']!r}")
    for path in (Path(opts["output"]), Path(opts["output"]).with_suffix(".json")):
        if path.is_dir():  # found now, not after the export (and, for the .json, after the .pt2 is written)
            raise KeypointError(f"cannot write {path}: a folder of that name is there")
    paths = _paths(opts["ckpt_path"])
    sources = [paths] if isinstance(paths, str) else paths
    flip = as_bool(opts.get("flip", "false"), "flip")
    net = _load(None, paths)
    pt2, js = save(export_lifter(net, flip), opts["output"], describe(int(net.num_joints), flip, sources))
    print(f"ampose-export: {pt2} ({net.num_joints} joints{', flip TTA' if flip else ''}), described in {js}")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``ampose-export``; returns the exit status."""
    from ampose.predict import run_cli

    return run_cli("ampose-export", USAGE, argv, _export)

if __name__ == "__main__":
    sys.exit(main())
