"""Pixel distance between the Stacked Hourglass detections and the ground-truth 2D projections.

    python experiments/h36m_sh16/detection_error.py DIR
DIR holds data_2d_h36m_sh.npz (`h36m_compact.py unpack-sh`) and data_2d_h36m_gt.npz
(`ampose-data gt2d DIR/data_3d_h36m.npz DIR/data_2d_h36m_gt.npz`). Prints the mean distance per
joint (16 joints, H36M order) for the test and the training subjects, then how the test subjects'
error splits over time (session 20): a constant bias per joint, a slow part (the error's 0.5-s
moving average, less the bias) and a fast part (the rest: what a temporal smoother could remove),
as shares of the mean square error; and how often a left/right pair is swapped.
"""

import sys
from pathlib import Path

import numpy as np

NAMES16 = ("Hip", "RHip", "RKnee", "RFoot", "LHip", "LKnee", "LFoot", "Spine", "Thorax", "Head",
           "LShoulder", "LElbow", "LWrist", "RShoulder", "RElbow", "RWrist")
KEEP = [j for j in range(17) if j != 9]  # 17 -> 16: drop Neck/Nose


def distances(gt: dict, sh: dict, subjects: list[str]) -> np.ndarray:
    out = []
    for s in subjects:
        for action, cams in sh[s].items():
            for c, det in enumerate(cams):
                if det is None or len(det) == 0 or action not in gt[s]:
                    continue  # S11 Directions, camera 54138969: no detections
                ref = gt[s][action][c][:, KEEP]
                n = min(len(ref), len(det))
                out.append(np.linalg.norm(det[:n] - ref[:n], axis=-1))
    return np.concatenate(out)


PAIRS = {"hips": (1, 4), "knees": (2, 5), "feet": (3, 6), "shoulders": (13, 10), "elbows": (14, 11), "wrists": (15, 12)}


def _moving_average(e: np.ndarray, window: int) -> np.ndarray:
    """Centred moving average over frames (axis 0), the ends padded with the first and last value."""
    pad = np.pad(e, ((window // 2, window - 1 - window // 2), (0, 0), (0, 0)), mode="edge")
    c = np.cumsum(np.concatenate([np.zeros((1, *e.shape[1:])), pad]), axis=0)
    return (c[window:] - c[:-window]) / window


def over_time(gt: dict, sh: dict, subjects: list[str], window: int = 25) -> None:
    errors, slow, swapped = [], [], []
    for s in subjects:
        for action, cams in sh[s].items():
            for c, det in enumerate(cams):
                if det is None or len(det) == 0 or action not in gt[s]:
                    continue
                ref = gt[s][action][c][:, KEEP]
                n = min(len(ref), len(det))
                det, ref = det[:n], ref[:n]
                errors.append(det - ref)
                slow.append(_moving_average(det - ref, window))
                # swapped: exchanging the pair's two detections halves their summed error
                d = np.linalg.norm(det[:, :, None] - ref[:, None], axis=-1)  # (frames, detected, true)
                swapped.append(np.stack([d[:, i, j] + d[:, j, i] < 0.5 * (d[:, i, i] + d[:, j, j])
                                         for i, j in PAIRS.values()], axis=1))
    e, lo, sw = (np.concatenate(x) for x in (errors, slow, swapped))
    bias = e.mean(0)
    total = (e ** 2).sum(-1).mean()
    share = lambda x: (np.broadcast_to(x, e.shape) ** 2).sum(-1).mean() / total  # noqa: E731
    print(f"{' '.join(subjects)} over time ({window}-frame average at 50 fps): mean square {total:.0f} px^2; "
          f"constant bias per joint {share(bias):.1%}, slow {share(lo - bias):.1%}, fast {share(e - lo):.1%}")
    print(f"  mean error {np.linalg.norm(e, axis=-1).mean():.1f} px, without the fast part "
          f"{np.linalg.norm(lo, axis=-1).mean():.1f} px")
    print("  left/right swapped, % of frames: " + ", ".join(f"{k} {100 * m:.1f}" for k, m in zip(PAIRS, sw.mean(0), strict=True))
          + f"; any pair {100 * sw.any(1).mean():.1f}")


def main() -> None:
    root = Path(sys.argv[1])
    gt = np.load(root / "data_2d_h36m_gt.npz", allow_pickle=True)["positions_2d"].item()
    sh = np.load(root / "data_2d_h36m_sh.npz", allow_pickle=True)["positions_2d"].item()
    for subjects in (["S9", "S11"], ["S1", "S5", "S6", "S7", "S8"]):
        d = distances(gt, sh, subjects)
        print(f"{' '.join(subjects)}: {len(d):,} frames x cameras; mean px per joint:")
        print("  " + ", ".join(f"{n} {m:.1f}" for n, m in zip(NAMES16, d.mean(0), strict=True)))
        rest = np.delete(d, [7, 8, 9], axis=1)
        print(f"  all joints {d.mean():.1f} px, without Spine/Thorax/Head {rest.mean():.1f} px, median {np.median(d):.1f} px")
    over_time(gt, sh, ["S9", "S11"])


if __name__ == "__main__":
    main()
