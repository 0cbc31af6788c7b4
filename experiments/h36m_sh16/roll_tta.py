"""Would rolling the camera help as test-time augmentation? A held-out reading (S8, detections).

    python experiments/h36m_sh16/roll_tta.py CKPT DIR [--subject S8] [--stride 10]

A roll of the camera about its optical axis turns the image about the principal point (about the
image centre, where the normalised coordinates have their origin) and the camera-frame skeleton
about z by the same angle. So the 2D input is turned by +-theta, lifted, and the prediction turned
back by -+theta; the three predictions are averaged (with or without flip TTA inside each).
"""

from __future__ import annotations

import argparse
import math

import torch

from ampose.checkpoint import load_lit_module
from ampose.data.h36m import load_h36m


def turn(xy: torch.Tensor, theta: float) -> torch.Tensor:
    """Points (..., 2) turned by theta radians about the origin."""
    c, s = math.cos(theta), math.sin(theta)
    return xy @ xy.new_tensor([[c, -s], [s, c]]).T


def action_wise(pred: torch.Tensor, true: torch.Tensor, action: torch.Tensor) -> float:
    err = (pred - true).norm(dim=-1).mean(-1) * 1000
    return float(torch.stack([err[action == a].mean() for a in action.unique()]).mean())


@torch.no_grad()
def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("ckpt")
    ap.add_argument("root")
    ap.add_argument("--subject", default="S8")
    ap.add_argument("--stride", type=int, default=10)
    args = ap.parse_args()
    lit = load_lit_module(args.ckpt).eval()
    data = load_h36m(args.root, [args.subject], keypoints="sh", num_joints=16, stride=args.stride)
    x, y, action = (torch.from_numpy(a) for a in (data.pose2d, data.pose3d, data.action))
    for flip in (False, True):
        base = lit.predict_3d(x, flip=flip)
        print(f"flip TTA {flip}: no roll {action_wise(base, y, action):.2f} mm")
        for deg in (3, 5, 8, 12):
            preds = [base]
            for theta in (math.radians(deg), -math.radians(deg)):
                p = lit.predict_3d(turn(x, theta), flip=flip)
                preds.append(torch.cat([turn(p[..., :2], -theta), p[..., 2:]], -1))
            print(f"  +-{deg} deg: mean of three {action_wise(torch.stack(preds).mean(0), y, action):.2f}, "
                  f"rolled +{deg} alone {action_wise(preds[1], y, action):.2f}")


if __name__ == "__main__":
    main()
