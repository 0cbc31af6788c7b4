"""What `ampose-predict smooth=true` (the One-Euro filter) does to a lifter's error on real video.

    python experiments/h36m_sh16/smoothing.py CKPT DIR [--subjects S8] [--fps 25] [--grid]

DIR holds data_3d_h36m.npz and data_2d_h36m_sh.npz (the Stacked Hourglass detections). Every
sequence x camera of the subjects is lifted frame by frame (`--fps 25`: every 2nd frame of the
50 fps videos, a common camera rate), the root-relative poses are smoothed in time with
`ampose.smoothing.one_euro` exactly as `ampose-predict` does, and P1 MPJPE (mm, action-wise:
per action, then the mean over the 15) is printed for each filter setting beside no smoothing,
with the predictions' mean frame-to-frame motion (mm per frame, over all joints; the true
poses' own is printed above the table). `--grid`
tries a grid of settings (to choose on a training subject, e.g. S8); without it, the defaults.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from ampose.checkpoint import load_model
from ampose.data.actions import ACTIONS
from ampose.data.h36m import SKIP, build_samples, read_2d, read_3d
from ampose.smoothing import one_euro

DEFAULT = (1.0, 0.005)  # predict.lift's min_cutoff (Hz) and beta (Hz per mm/s)
GRID = [(c, b) for c in (0.25, 0.5, 1.0, 2.0, 4.0) for b in (0.0, 0.001, 0.005, 0.02)]


def sequences(root: Path, subjects: list[str], step: int):
    """(action index, 2D (T, 16, 2) normalised, 3D (T, 16, 3) mm root-relative) per sequence x camera."""
    pos3d, pos2d = read_3d(root / "data_3d_h36m.npz"), read_2d(root / "data_2d_h36m_sh.npz", 16)
    for subject in subjects:
        for action, x3 in pos3d[subject].items():
            if (subject, action) in SKIP or action not in pos2d[subject]:
                continue
            arr = build_samples({subject: {action: x3}}, {subject: {action: pos2d[subject][action]}},
                                [subject], 16, step)
            for cam in np.unique(arr.camera):
                idx = arr.camera == cam  # one camera's frames, in time order
                yield int(arr.action[idx][0]), arr.pose2d[idx], arr.pose3d[idx] * 1000.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("ckpt")
    ap.add_argument("root", type=Path)
    ap.add_argument("--subjects", nargs="+", default=["S9", "S11"])
    ap.add_argument("--fps", type=float, default=25.0, help="25: every 2nd frame of the 50 fps videos")
    ap.add_argument("--grid", action="store_true")
    args = ap.parse_args()
    step = int(round(50 / args.fps))
    settings = [None, *(GRID if args.grid else [DEFAULT])]
    net = load_model(args.ckpt).eval()
    sums = np.zeros((len(settings), len(ACTIONS)))
    jitter = np.zeros(len(settings))
    counts, frames, motion = np.zeros(len(ACTIONS)), 0, 0.0
    torch.set_grad_enabled(False)
    for action, x, y in sequences(args.root, args.subjects, step):
        pred = net(torch.from_numpy(x)).numpy().astype(np.float64) * 1000.0
        pred -= pred[:, :1]
        for i, s in enumerate(settings):
            p = pred if s is None else one_euro(pred, args.fps, min_cutoff=s[0], beta=s[1])
            sums[i, action] += np.linalg.norm(p - y, axis=-1).mean(-1).sum()
            jitter[i] += np.linalg.norm(np.diff(p, axis=0), axis=-1).mean(-1).sum()
        counts[action] += len(x)
        frames += len(x) - 1
        motion += np.linalg.norm(np.diff(y, axis=0), axis=-1).mean(-1).sum()
    print(f"{' '.join(args.subjects)}, {args.fps:g} fps, {int(counts.sum())} frames x cameras; "
          f"the true poses move {motion / frames:.2f} mm per frame")
    print("| min_cutoff (Hz) | beta (Hz per mm/s) | P1 action-wise | frame-to-frame motion (mm) |")
    print("|---|---|---|---|")
    for i, s in enumerate(settings):
        p1 = (sums[i] / np.maximum(counts, 1))[counts > 0].mean()
        label = "no smoothing | " if s is None else f"{s[0]:g} | {s[1]:g}"
        print(f"| {label} | {p1:.2f} | {jitter[i] / frames:.2f} |")


if __name__ == "__main__":
    main()
