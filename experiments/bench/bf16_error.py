"""How far bf16 autocast moves a trained model's predictions from fp32 (CPU is enough).

    PYTHONPATH=src python experiments/bench/bf16_error.py CHECKPOINT [SYNTHETIC_ROOT]

Prints the 2D input rounding in pixels (1000-px image), the test MPJPE of one batch of the
synthetic test set in fp32 and under bf16 autocast, and the mean per-joint distance between
the fp32 and the bf16 predictions (with and without the input embedding and output head kept
in fp32).
"""

from __future__ import annotations

import sys

import torch
from torch import nn

from ampose.checkpoint import load_model
from ampose.data.datamodule import PoseDataModule, default_synthetic_root


class FP32(nn.Module):
    """Run the wrapped module with autocast off."""

    def __init__(self, mod: nn.Module) -> None:
        super().__init__()
        self.mod = mod

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        with torch.autocast(t.device.type, enabled=False):
            return self.mod(t.float())


def mm(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).norm(dim=-1).mean() * 1000)


def main() -> None:
    net = load_model(sys.argv[1]).eval()
    root = sys.argv[2] if len(sys.argv) > 2 else str(default_synthetic_root())
    dm = PoseDataModule(dataset="synthetic", root=root, num_joints=net.num_joints)
    dm.setup("test")
    batch = next(iter(dm.test_dataloader()))
    x, y = batch["pose2d"], batch["pose3d"]
    with torch.no_grad():
        p32 = net(x)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            p16 = net(x).float()
        embed, head = net.embed, net.head
        net.embed, net.head = FP32(embed), FP32(head)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            p16h = net(x).float()
        net.embed, net.head = embed, head
    rounding = float((x.to(torch.bfloat16).float() - x).norm(dim=-1).mean() * 500)
    print(f"2D input rounding in bf16: {rounding:.2f} px (mean, 1000-px image)")
    print(f"MPJPE fp32 {mm(p32, y):.2f} mm, bf16 {mm(p16, y):.2f} mm, bf16 with fp32 embed/head {mm(p16h, y):.2f} mm")
    print(f"distance to the fp32 prediction: bf16 {mm(p16, p32):.2f} mm, with fp32 embed/head {mm(p16h, p32):.2f} mm")


if __name__ == "__main__":
    main()
