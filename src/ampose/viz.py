"""Pose pictures: 2D input, 3D prediction and 3D ground truth side by side (the paper's Figure 4).

Rendering uses matplotlib's Agg canvas directly (the global backend is left alone, so notebooks
keep theirs). Left joints are blue, right red, the spine grey; every 3D panel has equal axis
scales and the same limits for prediction and truth. 3D poses are in the camera frame
(x right, y down, z forward) and drawn with up = -y; any unit (m or mm) works.

- ``render_pose`` -> (H, W, 3) uint8 for loggers (``wandb.Image(render_pose(...))``)
- ``save_pose_png``, ``save_animation`` (mp4 through ffmpeg when available, else GIF via Pillow)
- ``save_gallery``: best and worst poses by error, for ``ampose-eval``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import warnings
from pathlib import Path
from typing import Sequence

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image

from ampose.data.skeleton import Skeleton, skeleton_for
from ampose.fileio import write_atomic, write_text_atomic

LEFT, RIGHT, CENTRE = "#1f77b4", "#d62728", "#555555"
PathLike = str | Path


def _colours(skel: Skeleton) -> list[str]:
    """Colour of each bone (by its child joint's side)."""
    side = {j: LEFT for j in skel.left} | {j: RIGHT for j in skel.right}
    return [side.get(child, CENTRE) for _, child in skel.bones]


def _to_plot(p: np.ndarray) -> np.ndarray:
    """Camera frame (x right, y down, z forward) -> plot axes (x, depth, up)."""
    return np.stack([p[..., 0], p[..., 2], -p[..., 1]], axis=-1)


class _PoseFigure:
    """A reusable figure with one panel per given pose; ``draw`` updates the lines in place."""

    def __init__(
        self,
        skel: Skeleton,
        has2d: bool,
        has_gt: bool,
        size: tuple[int, int],
        lim2d: tuple[np.ndarray, np.ndarray] | None,
        radius: float,
        elev: float,
        azim: float,
    ) -> None:
        self.skel, self.colours = skel, _colours(skel)
        dpi = 100
        self.fig = Figure(figsize=(size[0] / dpi, size[1] / dpi), dpi=dpi)
        self.canvas = FigureCanvasAgg(self.fig)
        n = 1 + int(has2d) + int(has_gt)
        self.fig.subplots_adjust(left=0.07, right=0.98, bottom=0.06, top=0.86, wspace=0.12)
        self.ax2d = None
        self.lines: dict[str, list] = {}
        col = 1
        if has2d:
            self.ax2d = self.fig.add_subplot(1, n, col)
            self.ax2d.set_title("2D input", fontsize=9)
            self.ax2d.set_aspect("equal")
            self.ax2d.invert_yaxis()
            self.ax2d.tick_params(labelsize=6)
            if lim2d is not None:
                (x0, y0), (x1, y1) = lim2d
                self.ax2d.set_xlim(x0, x1)
                self.ax2d.set_ylim(y1, y0)  # image y points down
            self.lines["2d"] = [self.ax2d.plot([], [], c=c, lw=2)[0] for c in self.colours]
            col += 1
        for name in ("pred", "gt")[: 1 + int(has_gt)]:
            ax = self.fig.add_subplot(1, n, col, projection="3d")
            ax.set_title("3D prediction" if name == "pred" else "3D ground truth", fontsize=9)
            ax.view_init(elev=elev, azim=azim)
            for set_lim in (ax.set_xlim, ax.set_ylim, ax.set_zlim):
                set_lim(-radius, radius)
            ax.set_box_aspect((1, 1, 1), zoom=1.2)  # equal scales: same limits, cubic box
            ax.tick_params(labelsize=5)
            ax.set_xlabel("x", fontsize=6)
            ax.set_ylabel("z (depth)", fontsize=6)
            ax.set_zlabel("-y (up)", fontsize=6)
            self.lines[name] = [ax.plot([], [], [], c=c, lw=2)[0] for c in self.colours]
            col += 1
        self.title = self.fig.suptitle("", fontsize=10)

    def draw(self, pose2d: np.ndarray | None, pred3d: np.ndarray, gt3d: np.ndarray | None, title: str) -> np.ndarray:
        bones = self.skel.bones
        if pose2d is not None and "2d" in self.lines:
            for line, (a, b) in zip(self.lines["2d"], bones, strict=True):
                line.set_data(pose2d[[a, b], 0], pose2d[[a, b], 1])
        for name, pose in (("pred", pred3d), ("gt", gt3d)):
            if pose is None or name not in self.lines:
                continue
            p = _to_plot(pose - pose[:1])  # root-centred
            for line, (a, b) in zip(self.lines[name], bones, strict=True):
                line.set_data_3d(p[[a, b], 0], p[[a, b], 1], p[[a, b], 2])
        self.title.set_text(title)
        self.canvas.draw()
        return np.asarray(self.canvas.buffer_rgba())[..., :3].copy()


def _radius(*poses: np.ndarray | None) -> float:
    """Half-width of the cube holding every root-centred pose (shared by pred and gt)."""
    r = 0.0
    for p in poses:
        if p is not None:
            q = np.asarray(p, dtype=np.float64)
            q = q - q[..., :1, :]
            r = max(r, float(np.nanmax(np.abs(q))) if q.size else 0.0)
    return 1.05 * r if r > 0 else 1.0


def _lim2d(pose2d: np.ndarray | None) -> tuple[np.ndarray, np.ndarray] | None:
    if pose2d is None:
        return None
    flat = np.asarray(pose2d, dtype=np.float64).reshape(-1, 2)
    lo, hi = np.nanmin(flat, 0), np.nanmax(flat, 0)
    centre, half = (lo + hi) / 2, max(float((hi - lo).max()) / 2, 1e-6) * 1.1
    return centre - half, centre + half


def _figure(pose2d, pred3d, gt3d, skeleton, size, elev, azim) -> _PoseFigure:
    skel = skeleton or skeleton_for(np.shape(pred3d)[-2])
    return _PoseFigure(skel, pose2d is not None, gt3d is not None, size, _lim2d(pose2d),
                       _radius(pred3d, gt3d), elev, azim)


def render_pose(
    pose2d: np.ndarray | None,
    pred3d: np.ndarray,
    gt3d: np.ndarray | None = None,
    skeleton: Skeleton | None = None,
    title: str = "",
    size: tuple[int, int] = (900, 320),
    elev: float = 15.0,
    azim: float = -70.0,
) -> np.ndarray:
    """One pose as an RGB image (H, W, 3) uint8 with H, W = size[1], size[0].

    Args:
        pose2d: (J, 2) input keypoints (pixels or normalised; y down), or None to skip the panel.
        pred3d: (J, 3) predicted pose, camera frame.
        gt3d: (J, 3) ground truth, or None.
        skeleton: defaults to the Human3.6M skeleton with J joints.
    """
    fig = _figure(pose2d, pred3d, gt3d, skeleton, size, elev, azim)
    return fig.draw(None if pose2d is None else np.asarray(pose2d), np.asarray(pred3d),
                    None if gt3d is None else np.asarray(gt3d), title)


def save_pose_png(
    path: PathLike,
    pose2d: np.ndarray | None,
    pred3d: np.ndarray,
    gt3d: np.ndarray | None = None,
    **kwargs,
) -> Path:
    """``render_pose`` written to a PNG; returns the path."""
    image = Image.fromarray(render_pose(pose2d, pred3d, gt3d, **kwargs))
    return write_atomic(path, lambda f: image.save(f, format="PNG"))


def _write_mp4(path: Path, frames: Sequence[np.ndarray], fps: float, ffmpeg: str) -> None:
    h, w, _ = frames[0].shape
    cmd = [ffmpeg, "-y", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}",
           "-r", str(fps), "-i", "-", "-c:v", "libx264", "-pix_fmt", "yuv420p", str(path)]
    subprocess.run(cmd, input=b"".join(f.tobytes() for f in frames), check=True)


def save_animation(
    path: PathLike,
    pose2d: np.ndarray | None,
    pred3d: np.ndarray,
    gt3d: np.ndarray | None = None,
    *,
    fps: float = 25.0,
    skeleton: Skeleton | None = None,
    size: tuple[int, int] = (900, 320),
    elev: float = 15.0,
    azim: float = -70.0,
) -> Path:
    """Animate a sequence (T, J, 2|3) with fixed axes; returns the path actually written.

    ``.mp4`` goes through ffmpeg when it is on PATH, otherwise (with a warning) a GIF with the same
    stem is written via Pillow; ``.gif`` always uses Pillow.
    """
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    pred3d = np.asarray(pred3d)
    if pred3d.ndim != 3 or len(pred3d) == 0:
        raise ValueError(f"pred3d must be a non-empty (T, J, 3) sequence, got {pred3d.shape}")
    size = (size[0] // 2 * 2, size[1] // 2 * 2)  # even sizes for yuv420p
    fig = _figure(pose2d, pred3d, gt3d, skeleton, size, elev, azim)
    frames = [
        fig.draw(None if pose2d is None else pose2d[t], pred3d[t], None if gt3d is None else gt3d[t],
                 f"frame {t}")
        for t in range(len(pred3d))
    ]
    ffmpeg = shutil.which("ffmpeg")
    if p.suffix.lower() == ".mp4":
        if ffmpeg:
            _write_mp4(p, frames, fps, ffmpeg)
            return p
        warnings.warn(f"ffmpeg not found; writing a GIF instead of {p.name}", stacklevel=2)
        p = p.with_suffix(".gif")
    images = [Image.fromarray(f) for f in frames]
    return write_atomic(p, lambda f: images[0].save(f, format="GIF", save_all=True, append_images=images[1:],
                                                    duration=max(int(round(1000 / fps)), 20), loop=0))


def save_gallery(
    path_dir: PathLike,
    pose2d: np.ndarray | None,
    pred3d: np.ndarray,
    gt3d: np.ndarray | None,
    errors: np.ndarray,
    k: int = 4,
    skeleton: Skeleton | None = None,
    unit: str = "mm",
    size: tuple[int, int] = (900, 320),
) -> list[Path]:
    """PNGs of the ``k`` best and ``k`` worst poses by ``errors`` (N,), plus ``gallery.json``.

    Files: ``best_01.png`` (lowest error) ..., ``worst_01.png`` (highest error) ...; the JSON lists
    each file with its sample index and error. Returns the PNG paths (best first, then worst).
    """
    out = Path(path_dir)
    out.mkdir(parents=True, exist_ok=True)
    err = np.asarray(errors, dtype=np.float64).reshape(-1)
    if len(err) != len(pred3d):
        raise ValueError(f"{len(err)} errors for {len(pred3d)} poses")
    order = np.argsort(err, kind="stable")
    k = min(k, len(err))
    paths: list[Path] = []
    index: dict[str, list[dict]] = {"best": [], "worst": []}
    for kind, picks in (("best", order[:k]), ("worst", order[::-1][:k])):
        for rank, i in enumerate(picks, 1):
            title = f"{kind} {rank}: sample {int(i)}, error {err[i]:.1f} {unit}"
            p = save_pose_png(out / f"{kind}_{rank:02d}.png", None if pose2d is None else pose2d[i], pred3d[i],
                              None if gt3d is None else gt3d[i], skeleton=skeleton, title=title, size=size)
            paths.append(p)
            index[kind].append({"file": p.name, "index": int(i), "error": float(err[i]), "unit": unit})
    write_text_atomic(out / "gallery.json", json.dumps(index, indent=1))
    return paths
