"""Lift a user's own 2D keypoints to root-relative 3D poses (mm): ``lift`` and ``ampose-predict``.

Importable without Hydra or Lightning. Pipeline: read keypoints (``.npy``/``.npz`` arrays
(T, K, 2|3), or JSON in the COCO results format), convert the layout to the model's Human3.6M
joints (``ampose.layouts``), fill missing keypoints, normalise with the image size
(``x / w * 2 - [1, h / w]``), lift in batches (GPU when there is one), metres -> millimetres.

Missing-keypoint policy. A keypoint is missing when it is NaN or its confidence is below
``confidence_threshold``; a derived joint is missing when none of its layout rules applies.
Each missing Human3.6M joint is filled, in this order:

1. from the same joint in the nearest earlier frame where it was valid (the first valid frame for
   the frames before it): a short dropout keeps the last seen position;
2. a joint never valid in the whole sequence takes its parent joint's position (the root, if it
   is never valid, the mean of the frame's other joints): a collapsed limb, not a guess.

A warning (``MissingKeypointsWarning``) gives the counts. Input with no valid keypoint at all is an
error; the output never contains NaN.
"""

from __future__ import annotations

import json
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Collection, Sequence

import numpy as np
import torch
from torch import nn

from ampose.data.cameras import normalize_screen
from ampose.data.skeleton import skeleton_for
from ampose.data.transforms import flip_pose
from ampose.fileio import describe_error, save_npy_atomic, write_text_atomic
from ampose.inference import FastLifter
from ampose.layouts import convert, get_layout, valid_mask
from ampose.options import as_bool
from ampose.smoothing import one_euro

PathLike = str | Path


class KeypointError(ValueError):
    """Bad keypoint input (unreadable file, wrong joint count, nothing valid); one-line message."""


class MissingKeypointsWarning(UserWarning):
    """Some keypoints were missing or below the confidence threshold and were filled."""


@dataclass
class Keypoints:
    """Keypoints read from a file: (T, K, 2|3) pixels, frame ids, image size if the file had one."""

    data: np.ndarray
    frame_ids: list[Any]
    image_size: tuple[int, int] | None = None


@dataclass
class FillReport:
    """What the missing-keypoint policy did. ``missing`` is (T, J) bool before filling."""

    missing: np.ndarray
    from_time: int = 0
    from_parent: int = 0
    empty_frames: list[int] = field(default_factory=list)

    @property
    def count(self) -> int:
        return int(self.missing.sum())

    def message(self) -> str:
        t, j = self.missing.shape
        msg = (
            f"{self.count} of {t * j} joints missing or low-confidence in "
            f"{int(self.missing.any(1).sum())} of {t} frames; filled {self.from_time} from the "
            f"nearest valid frame, {self.from_parent} from the parent joint"
        )
        if self.empty_frames:
            msg += f"; {len(self.empty_frames)} frames had no valid joint (first: {self.empty_frames[:5]})"
        return msg


@dataclass
class LiftResult:
    """Output of ``lift_detailed``: 3D poses (T, J, 3) mm and the 2D input actually used."""

    poses3d: np.ndarray
    pose2d: np.ndarray  # (T, J, 2) pixels after layout conversion and filling
    confidence: np.ndarray  # (T, J), 0 where filled
    report: FillReport
    joint_names: tuple[str, ...]
    frame_ids: list[Any]
    smoothing: dict[str, float] | None = None  # the One-Euro parameters, when the poses were smoothed


# ----------------------------------------------------------------------------------------- reading


def _read_json(path: Path) -> Keypoints:
    obj = json.loads(path.read_text())
    if isinstance(obj, dict) and "annotations" in obj:
        obj = obj["annotations"]
    if isinstance(obj, list) and obj and not isinstance(obj[0], dict):
        arr = np.asarray(obj, dtype=np.float64)
        return Keypoints(arr, list(range(len(arr))))
    if not isinstance(obj, list) or not obj:
        raise KeypointError(f"{path}: expected a non-empty list of {{'image_id', 'keypoints'}} records")
    best: dict[Any, tuple[float, list[float]]] = {}  # image_id -> (score, keypoints); highest score wins
    for i, rec in enumerate(obj):
        if not isinstance(rec, dict) or "keypoints" not in rec:
            raise KeypointError(f"{path}: record {i} has no 'keypoints'")
        key = rec.get("image_id", i)
        score = float(rec.get("score", 1.0))
        if key not in best or score > best[key][0]:
            best[key] = (score, rec["keypoints"])
    ids = list(best)
    if all(isinstance(k, (int, float)) for k in ids):
        ids.sort()
    lengths = {len(best[k][1]) for k in ids}
    if len(lengths) != 1 or next(iter(lengths)) % 3:
        raise KeypointError(f"{path}: 'keypoints' must be flat [x, y, c, ...] lists of one length, got {sorted(lengths)}")
    arr = np.array([best[k][1] for k in ids], dtype=np.float64).reshape(len(ids), -1, 3)
    return Keypoints(arr, ids)


def read_keypoints(path: PathLike) -> Keypoints:
    """Read (T, K, 2|3) keypoints from .npy, .npz (key ``keypoints`` or the only array) or JSON.

    JSON: the COCO results format (a list of ``{"image_id", "keypoints": [x, y, c, ...]}``; with
    several people per image the highest ``score`` (else the first) is kept; frames sorted by
    numeric image_id, else in file order; ``null`` coordinates count as missing),
    a COCO annotation file, or a plain nested array.
    """
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in (".npy", ".npz", ".json"):
        raise KeypointError(f"cannot read keypoints from {p}: unsupported file type {suffix!r} (use .npy, .npz or .json)")
    if not p.is_file():
        raise KeypointError(f"cannot read keypoints from {p}: no such file")
    try:
        if suffix == ".json":
            kp = _read_json(p)
        elif suffix == ".npy":
            arr = np.load(p, allow_pickle=False)
            kp = Keypoints(arr, list(range(len(arr))))
        else:
            with np.load(p, allow_pickle=False) as z:
                keys = list(z.keys())
                key = "keypoints" if "keypoints" in keys else (keys[0] if len(keys) == 1 else None)
                if key is None:
                    raise KeypointError(f"{p}: no 'keypoints' array among {keys}")
                arr = z[key]
                size = _file_size(z["image_size"], p) if "image_size" in keys else None
            kp = Keypoints(arr, list(range(len(arr))), size)  # type: ignore[arg-type]
    except KeypointError:
        raise
    except Exception as e:  # noqa: BLE001 - any parse failure becomes one clear line
        raise KeypointError(f"cannot read keypoints from {p}: {type(e).__name__}: {e}") from None
    kp.data = _as_frames(kp.data, str(p))
    kp.frame_ids = kp.frame_ids[: len(kp.data)] or [0]
    return kp


def _file_size(raw: np.ndarray, path: Path) -> tuple[int, int]:
    """An npz file's ``image_size``: two finite numbers (w, h), else one line naming the file."""
    size = np.asarray(raw, dtype=np.float64).ravel()
    if size.shape != (2,) or not np.isfinite(size).all():
        raise KeypointError(f"{path}: 'image_size' must be (w, h) in pixels, got {np.asarray(raw).tolist()}")
    return int(size[0]), int(size[1])


def _as_frames(data: Any, where: str = "keypoints") -> np.ndarray:
    """(T, J, 2|3) float64; a single pose (J, 2|3) becomes one frame."""
    try:
        arr = np.asarray(data, dtype=np.float64)
    except (TypeError, ValueError) as e:  # strings, ragged lists
        raise KeypointError(f"{where}: keypoints must be numbers: {e}") from None
    if arr.ndim == 2 and arr.shape[-1] in (2, 3):
        arr = arr[None]
    if arr.ndim != 3 or arr.shape[-1] not in (2, 3):
        raise KeypointError(f"{where}: keypoints must have shape (T, J, 2 or 3), got {arr.shape}")
    if not len(arr):  # else "no valid keypoint ... (all NaN ...)", which sends one looking for NaN
        raise KeypointError(f"{where}: no frames (shape {arr.shape})")
    return arr


# ----------------------------------------------------------------------------------------- filling


def fill_missing(joints: np.ndarray, parents: Sequence[int]) -> tuple[np.ndarray, FillReport]:
    """Fill NaN joints of a (T, J, 2) sequence by the module's policy; returns (filled, report)."""
    xy = np.array(joints, dtype=np.float64)
    missing = ~np.isfinite(xy).all(-1)  # (T, J)
    report = FillReport(missing=missing.copy())
    if missing.all():
        raise KeypointError("no valid keypoint in the input (all NaN or below the confidence threshold)")
    t, j = missing.shape
    report.empty_frames = np.flatnonzero(missing.all(1)).tolist()
    ever = ~missing.all(0)  # (J,) valid in some frame
    idx = np.arange(t)
    for k in np.flatnonzero(ever & missing.any(0)):
        valid = np.flatnonzero(~missing[:, k])
        prev = np.maximum.accumulate(np.where(~missing[:, k], idx, -1))  # last valid frame index
        src = np.where(prev >= 0, prev, valid[0])
        xy[:, k] = xy[src, k]
        report.from_time += int(missing[:, k].sum())
    for k in range(j):  # parents come before children
        if ever[k]:
            continue
        if parents[k] >= 0:
            xy[:, k] = xy[:, parents[k]]
        else:
            xy[:, k] = xy[:, ever].mean(1)
        report.from_parent += t
    return xy, report


# ----------------------------------------------------------------------------------------- lifting


def _resolve_device(device: str | torch.device | None) -> torch.device:
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except RuntimeError:  # torch's message lists twenty device types
        raise KeypointError(f"device must be cpu, cuda or cuda:N, got {device!r}") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        warnings.warn("CUDA is not available; lifting on the CPU", stacklevel=3)
        return torch.device("cpu")
    return dev


def _load(model: nn.Module | None, ckpt_path: PathLike | Sequence[PathLike] | None) -> nn.Module:
    """``model``, else the checkpoint's network; several checkpoints: their ensemble (``MeanOf``)."""
    if model is None:
        if ckpt_path is None:
            raise ValueError("pass model= or ckpt_path=")
        paths = [ckpt_path] if isinstance(ckpt_path, (str, Path)) else list(ckpt_path)
        for path in paths:
            if not Path(path).is_file():
                raise KeypointError(f"checkpoint not found: {path}")
        from ampose.checkpoint import CheckpointError, load_ensemble, load_model  # lazy: keeps this module light

        try:
            model = load_model(paths[0]) if len(paths) == 1 else load_ensemble(paths).eval_net.eval()
        except CheckpointError as e:  # it names the file already
            raise KeypointError(f"cannot load checkpoint: {e}") from None
        except Exception as e:  # noqa: BLE001 - whatever else torch.load raises on junk
            raise KeypointError(f"cannot load checkpoint {', '.join(map(str, paths))}: {e}") from None
    if not isinstance(getattr(model, "num_joints", None), int):
        raise ValueError("the model must expose .num_joints (17 or 16)")
    return model


# Keypoints further than this fraction of the image outside it are taken as a wrong image_size.
OUTSIDE_MARGIN = 0.25


def check_pixels(data: np.ndarray, w: int, h: int, confidence_threshold: float = 0.0, _stacklevel: int = 2) -> None:
    """Refuse keypoints that look normalised and warn about keypoints far outside the image.

    Both give a wrong 3D pose without any other sign: the model reads pixels divided by ``w``, so
    [0, 1] coordinates lift a pose a few pixels tall, and a swapped (h, w) moves and scales it.
    """
    xy = data[..., :2][valid_mask(data, confidence_threshold)]  # (N, 2) valid keypoints
    if not len(xy):
        return  # fill_missing says there is nothing valid
    if not xy.any():  # many detectors write (0, 0) for a joint they did not find
        raise KeypointError(
            "every keypoint is at (0, 0): nothing was detected. Give undetected joints NaN, or a confidence "
            "below confidence_threshold (e.g. confidence_threshold=0.1 where they have confidence 0)")
    if np.abs(xy).max() <= 2.0 and min(w, h) > 16:  # no real person fits in 2 px
        raise KeypointError(
            f"the keypoints all lie within 2 px of the origin of a {w}x{h} image: they look normalised "
            f"(e.g. MediaPipe's [0, 1]); the model reads pixels, so multiply x by w and y by h first")
    lo = np.array([-OUTSIDE_MARGIN * w, -OUTSIDE_MARGIN * h])
    outside = ((xy < lo) | (xy > np.array([w, h]) - lo)).any(-1)
    if outside.any():
        far = xy[outside][np.abs(xy[outside] - [w / 2, h / 2]).max(-1).argmax()]
        warnings.warn(
            f"{int(outside.sum())} of {len(xy)} keypoints lie more than {OUTSIDE_MARGIN:.0%} of the image outside "
            f"image_size {w}x{h} (e.g. ({far[0]:.0f}, {far[1]:.0f})): is image_size the (width, height) in pixels "
            f"of the frames they were detected in?", stacklevel=_stacklevel)


def _run(lifter: FastLifter, x: np.ndarray, batch_size: int) -> np.ndarray:
    return lifter(torch.from_numpy(x), batch_size=batch_size).cpu().numpy()


def lift_detailed(
    keypoints: np.ndarray | PathLike,
    layout: str = "coco",
    image_size: Sequence[int] | None = None,
    model: nn.Module | None = None,
    ckpt_path: PathLike | Sequence[PathLike] | None = None,
    batch_size: int = 4096,
    device: str | torch.device | None = None,
    confidence_threshold: float = 0.3,
    flip: bool = False,
    bf16: bool = False,
    smooth: bool = False,
    fps: float = 25.0,
    min_cutoff: float = 1.0,
    beta: float = 0.005,
    _stacklevel: int = 2,
) -> LiftResult:
    """``lift`` with the 2D input used and the fill report; see ``lift`` for the arguments."""
    frame_ids: list[Any]
    if isinstance(keypoints, (str, Path)):
        kp = read_keypoints(keypoints)
        data, frame_ids = kp.data, kp.frame_ids
        image_size = image_size or kp.image_size
    else:
        data = _as_frames(keypoints)
        frame_ids = list(range(len(data)))
    if image_size is None:
        raise KeypointError("image_size=(w, h) in pixels is required to normalise the keypoints")
    try:
        w, h = (int(v) for v in image_size)
    except (TypeError, ValueError, OverflowError):  # not two numbers, NaN, inf
        raise KeypointError(f"image_size must be two numbers (w, h) in pixels, got {image_size!r}") from None
    if w <= 0 or h <= 0:
        raise KeypointError(f"image_size must be positive (w, h), got {tuple(image_size)}")
    if int(batch_size) < 1:
        raise KeypointError(f"batch_size must be >= 1, got {batch_size}")
    dev = _resolve_device(device)  # a bad name before the checkpoint is read
    check_pixels(data, w, h, confidence_threshold, _stacklevel + 1)
    lay = get_layout(layout)
    net = _load(model, ckpt_path)
    num_joints = int(net.num_joints)
    try:
        joints = convert(data, lay, num_joints, confidence_threshold)  # (T, J, 3) px + confidence
    except ValueError as e:
        raise KeypointError(str(e)) from None
    skel = skeleton_for(num_joints)
    pose2d, report = fill_missing(joints[..., :2], skel.parents)
    if report.count:
        warnings.warn(report.message(), MissingKeypointsWarning, stacklevel=_stacklevel)
    confidence = np.where(report.missing, 0.0, joints[..., 2])

    x = normalize_screen(pose2d, w, h).astype(np.float32)  # (T, J, 2)
    lifter = FastLifter(net, device=dev, bf16=bf16, cuda_graph=False)
    y = _run(lifter, x, batch_size)  # (T, J, 3) metres
    if flip:
        yf = _run(lifter, flip_pose(x, skel), batch_size)
        y = (y + flip_pose(yf, skel)) / 2
    y = (y - y[:, :1]) * 1000.0  # root-relative millimetres
    if smooth:  # after the root is removed: the speeds it reads are the body's own, in mm/s
        y = one_euro(y, fps, min_cutoff=min_cutoff, beta=beta)
    smoothing = {"fps": fps, "min_cutoff": min_cutoff, "beta": beta} if smooth else None
    return LiftResult(y.astype(np.float32), pose2d.astype(np.float32), confidence.astype(np.float32),
                      report, skel.names, frame_ids, smoothing)


def lift(
    keypoints: np.ndarray | PathLike,
    layout: str = "coco",
    image_size: Sequence[int] | None = None,
    model: nn.Module | None = None,
    ckpt_path: PathLike | Sequence[PathLike] | None = None,
    batch_size: int = 4096,
    device: str | torch.device | None = None,
    confidence_threshold: float = 0.3,
    flip: bool = False,
    bf16: bool = False,
    smooth: bool = False,
    fps: float = 25.0,
    min_cutoff: float = 1.0,
    beta: float = 0.005,
) -> np.ndarray:
    """Lift 2D keypoints to root-relative 3D poses in millimetres, (T, J, 3), J the model's joints.

    Args:
        keypoints: (T, K, 2|3) or (K, 2|3) pixels (third channel: confidence), or a file path.
            MediaPipe's landmarks are normalised to [0, 1]: multiply x by w and y by h first (such
            input is refused; keypoints far outside the image warn of a wrong image_size).
        layout: coco/coco17, mediapipe/mediapipe33, mpii/mpii16, h36m/h36m17, h36m16.
        image_size: (w, h) in pixels, for the normalisation the model was trained with.
        model: a lifting network with ``.num_joints``; or ``ckpt_path`` for
            ``ampose.checkpoint.load_model`` (a list of paths: their ensemble, the mean
            prediction). The model is moved to ``device`` and put in eval mode.
        batch_size: frames per forward pass.
        device: default CUDA when available, else CPU.
        confidence_threshold: keypoints below it count as missing (module docstring: the policy).
        flip: test-time flip augmentation (average with the mirrored prediction).
        bf16: bf16 autocast on CUDA.
        smooth: the frames are a video, in order at ``fps``: smooth the 3D poses over time with
            the One-Euro filter (``ampose.smoothing.one_euro``; cut-off ``min_cutoff`` Hz for a
            still joint, rising by ``beta`` Hz per mm/s of its speed). Causal.
    Output is camera-frame (x right, y down, z forward), the root joint exactly zero.
    """
    return lift_detailed(keypoints, layout, image_size, model, ckpt_path, batch_size, device,
                         confidence_threshold, flip, bf16, smooth, fps, min_cutoff, beta, _stacklevel=3).poses3d


# ----------------------------------------------------------------------------------------- CLI

USAGE = """usage: ampose-predict ckpt_path=FILE|[FILE,FILE,...] input=FILE output=FILE [layout=coco] [image_size=[w,h]]
                      [confidence_threshold=0.3] [batch_size=4096] [device=cuda|cpu] [flip=false]
                      [bf16=false] [smooth=false] [fps=25] [min_cutoff=1.0] [beta=0.005]
                      [preview=FILE.png|.gif|.mp4] [preview_frame=0]

Lifts 2D keypoints (.npy/.npz (T, J, 2|3) or COCO-results JSON) to root-relative 3D in mm.
Writes OUTPUT.npy (T, J, 3) and OUTPUT.json (poses, joint names, fill report).
smooth=true: the frames are a video at fps; the poses are smoothed over time (One-Euro filter).
ckpt_path=[A,B]: an ensemble, the mean prediction of the checkpoints.
Layouts: coco17, mediapipe33, mpii16, h36m17, h36m16."""

_KEYS = {"ckpt_path", "input", "output", "layout", "image_size", "confidence_threshold",
         "batch_size", "device", "flip", "bf16", "preview", "preview_frame", "fps", "smooth", "min_cutoff", "beta"}


def parse_args(argv: Sequence[str], keys: Collection[str] = _KEYS,
               required: Sequence[str] = ("ckpt_path", "input", "output")) -> dict[str, str]:
    """``key=value`` pairs (Hydra-like, ``+``/``++`` prefixes tolerated) -> dict."""
    out: dict[str, str] = {}
    for arg in argv:
        key, sep, value = arg.lstrip("+").partition("=")
        if not sep:
            raise KeypointError(f"expected key=value, got {arg!r}")
        if key not in keys:
            raise KeypointError(f"unknown option {key!r}; options: {', '.join(sorted(keys))}")
        out[key] = value
    for key in required:
        if key not in out:
            raise KeypointError(f"missing {key}=...")
    return out


def _parse_size(text: str) -> tuple[int, int]:
    parts = text.strip("[]() ").replace("x", ",").split(",")
    try:
        w, h = (int(float(p)) for p in parts)
    except (ValueError, OverflowError):  # OverflowError: inf
        raise KeypointError(f"image_size must look like [w,h], got {text!r}") from None
    return w, h


def _paths(text: str) -> str | list[str]:
    """One path, or ``[A,B,...]``: several (an ensemble)."""
    if not text.startswith("["):
        return text
    paths = [p.strip() for p in text.strip("[]").split(",") if p.strip()]
    if not paths:
        raise KeypointError(f"ckpt_path lists no checkpoint: {text!r}")
    return paths


def output_paths(output: PathLike) -> tuple[Path, Path]:
    """OUTPUT.npy and OUTPUT.json beside each other, whichever suffix was given. A folder is
    refused: ``output=results/`` would write ``results.npy`` beside it, not in it."""
    p = Path(output)
    if not str(output).strip() or str(output).endswith("/") or p.is_dir():
        raise KeypointError(f"output must name a file, not a folder, got {str(output)!r} "
                            f"(OUTPUT.npy and OUTPUT.json are written; e.g. output={p / 'poses'})")
    stem = p.with_suffix("") if p.suffix.lower() in (".npy", ".json") else p
    paths = stem.with_name(stem.name + ".npy"), stem.with_name(stem.name + ".json")
    for path in paths:
        if path.is_dir():
            raise KeypointError(f"cannot write {path}: a folder of that name is there")
    return paths


def write_outputs(output: PathLike, res: LiftResult, layout: str, image_size: Sequence[int]) -> tuple[Path, Path]:
    """Write the (T, J, 3) mm array (.npy) and a JSON with poses, joint names and the fill report."""
    npy, js = output_paths(output)
    save_npy_atomic(npy, res.poses3d)
    doc = {
        "units": "mm",
        "frame": "camera (x right, y down, z forward), root-relative (joint 0 is zero)",
        "layout_in": get_layout(layout).name,
        "image_size": list(image_size),
        "joint_names": list(res.joint_names),
        "frame_ids": [i if isinstance(i, (int, str)) else str(i) for i in res.frame_ids],
        "filled_joints": res.report.count,
        "filled_per_frame": res.report.missing.sum(1).astype(int).tolist(),
        "smoothing": None if res.smoothing is None else {"filter": "one_euro", **res.smoothing},
        "poses_3d": np.round(res.poses3d.astype(np.float64), 2).tolist(),
    }
    write_text_atomic(js, json.dumps(doc))
    return npy, js


def _preview(path: str, res: LiftResult, frame: int, fps: float) -> Path:
    from ampose import viz  # lazy: matplotlib only when asked for

    skel = skeleton_for(res.poses3d.shape[1])
    if Path(path).suffix.lower() in (".gif", ".mp4"):  # main has checked it is one of these or .png
        return viz.save_animation(path, res.pose2d, res.poses3d, fps=fps, skeleton=skel)
    return viz.save_pose_png(path, res.pose2d[frame], res.poses3d[frame], skeleton=skel,
                             title=f"frame {res.frame_ids[frame]}")


def run_cli(prog: str, usage: str, argv: Sequence[str] | None, body: Callable[[list[str]], None]) -> int:
    """A ``key=value`` command's frame: usage on -h (and, status 2, on no argument), ``body(argv)``,
    bad input as one ``<prog>: error:`` line with status 2; 0 when ``body`` returns."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(usage)
        return 0 if argv else 2
    try:
        body(argv)
    except (KeypointError, ValueError, OSError) as e:  # KeypointError, as_bool's ValueError, unwritable output
        print(f"{prog}: error: {describe_error(e)}", file=sys.stderr)
        return 2
    return 0


def _warnings_as_lines(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``fn(...)``, its warnings printed as ``ampose-predict: warning:`` lines (not Python's file:line form)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = fn(*args, **kwargs)
    for w in caught:
        print(f"ampose-predict: warning: {w.message}", file=sys.stderr)
    return out


def _number(opts: dict[str, str], key: str, default: float, kind: type = float, low: float | None = None) -> Any:
    """Option ``key`` as ``kind``, in one line naming the option when it is not one (or below ``low``)."""
    raw = opts.get(key, default)
    try:
        value = kind(raw)
    except (TypeError, ValueError):
        raise KeypointError(f"{key} must be {'an integer' if kind is int else 'a number'}, got {raw!r}") from None
    if low is not None and value < low:
        raise KeypointError(f"{key} must be >= {low:g}, got {raw!r}")
    return value


def _predict(argv: list[str]) -> None:
    opts = parse_args(argv)
    if opts.get("preview") and Path(opts["preview"]).suffix.lower() not in (".png", ".gif", ".mp4"):
        raise KeypointError(f"preview must end in .png (one frame), .gif or .mp4 (the sequence), got {opts['preview']!r}")
    # Every option is read before any work, so that a typo costs nothing and writes nothing.
    batch_size = _number(opts, "batch_size", 4096, int, low=1)
    threshold = _number(opts, "confidence_threshold", 0.3)
    fps = _number(opts, "fps", 25.0)
    if not fps > 0:
        raise KeypointError(f"fps must be > 0, got {opts.get('fps')!r}")
    min_cutoff, beta = _number(opts, "min_cutoff", 1.0), _number(opts, "beta", 0.005)
    frame = _number(opts, "preview_frame", 0, int)
    switches = {k: as_bool(opts.get(k, "false"), k) for k in ("flip", "bf16", "smooth")}
    output_paths(opts["output"])  # a folder is refused now, not after the lifting (and half the outputs)
    kp = read_keypoints(opts["input"])
    if opts.get("preview") and not -len(kp.data) <= frame < len(kp.data):
        raise KeypointError(f"preview_frame={frame} out of range for {len(kp.data)} frames")
    size = _parse_size(opts["image_size"]) if "image_size" in opts else kp.image_size
    layout = opts.get("layout", "coco")
    # COCO and Human3.6M both have 17 points; a JSON file is in COCO's own format
    if "layout" not in opts and kp.data.shape[1] == 17 and Path(opts["input"]).suffix.lower() != ".json":
        print("ampose-predict: warning: no layout given: reading the 17 keypoints in COCO order "
              "(pass layout=h36m for Human3.6M order)", file=sys.stderr)
    res = _warnings_as_lines(
        lift_detailed, opts["input"], layout=layout, image_size=size, ckpt_path=_paths(opts["ckpt_path"]),
        batch_size=batch_size, device=opts.get("device") or None, confidence_threshold=threshold,
        fps=fps, min_cutoff=min_cutoff, beta=beta, **switches,
    )
    assert size is not None  # lift_detailed raised otherwise
    npy, js = write_outputs(opts["output"], res, layout, size)
    print(f"ampose-predict: {len(res.poses3d)} poses ({res.poses3d.shape[1]} joints, mm) -> {npy}, {js}")
    if opts.get("preview"):
        # e.g. no ffmpeg: a GIF instead of the .mp4, said as a warning
        picture = _warnings_as_lines(_preview, opts["preview"], res, frame, fps)
        print(f"ampose-predict: preview -> {picture}")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``ampose-predict``; returns the exit status."""
    return run_cli("ampose-predict", USAGE, argv, _predict)

if __name__ == "__main__":
    sys.exit(main())
