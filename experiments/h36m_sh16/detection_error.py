"""Pixel distance between the Stacked Hourglass detections and the ground-truth 2D projections.

    python experiments/h36m_sh16/detection_error.py DIR
DIR holds data_2d_h36m_sh.npz (`h36m_compact.py unpack-sh`) and data_2d_h36m_gt.npz
(`ampose-data gt2d DIR/data_3d_h36m.npz DIR/data_2d_h36m_gt.npz`). Prints the mean distance per
joint (16 joints, H36M order) for the test and the training subjects.
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


if __name__ == "__main__":
    main()
