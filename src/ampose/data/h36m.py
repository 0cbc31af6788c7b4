"""Human3.6M in the field's preprocessed formats (VideoPose3D layout) -> PoseArrays.

Reads `data_3d_h36m.npz` (32 or 17 joints, world metres) and any 2D npz of the
`positions_2d` layout (pixels, 4 cameras per sequence), derives ground-truth 2D through the
packaged cameras when no 2D file is given, and builds camera-frame, root-relative samples.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import numpy as np

from ampose.data.actions import canonical_action, canonical_name
from ampose.data.arrays import (
    DataError, DataFileNotFoundError, DataFormatError, PoseArrays, check_finite,
)
from ampose.data.cameras import CAMERA_IDS, h36m_cameras, subjects_with_cameras
from ampose.data.skeleton import H36M16, H36M17, H36M17_TO_16, H36M32_TO_17
from ampose.data.views import (
    check_errors_keypoints,
    rebodied_positions,
    shifted_detections,
    shuffled_errors,
    turned_positions,
)
from ampose.fileio import savez_atomic

log = logging.getLogger(__name__)

SUBJECTS: tuple[str, ...] = ("S1", "S5", "S6", "S7", "S8", "S9", "S11")
TRAIN_SUBJECTS: tuple[str, ...] = ("S1", "S5", "S6", "S7", "S8")
TEST_SUBJECTS: tuple[str, ...] = ("S9", "S11")
FILE_3D = "data_3d_h36m.npz"
FILE_2D_GT = "data_2d_h36m_gt.npz"
FILE_2D_CPN = "data_2d_h36m_cpn_ft_h36m_dbb.npz"
FILE_2D_SH = "data_2d_h36m_sh.npz"
KEYPOINT_ALIASES = {"cpn": FILE_2D_CPN, "sh": FILE_2D_SH}
# S11 "Directions" is corrupt in the original release; the field skips it.
SKIP = frozenset({("S11", "Directions")})

Positions3D = dict[str, dict[str, np.ndarray]]
Positions2D = dict[str, dict[str, list[np.ndarray | None]]]


def symmetry(num_joints: int) -> list[list[int]]:
    """`keypoints_symmetry` metadata ([left, right]) for the 17- or 16-joint layout."""
    s = H36M17 if num_joints == 17 else H36M16
    return [list(s.left), list(s.right)]


def how_to_get_3d(root: Path | str) -> str:
    return (f"put the field's {FILE_3D} (VideoPose3D preprocessing) in {root}, convert the "
            f"downloads with `ampose-data import-h36m SRC {root}`, or write synthetic data with "
            f"`ampose-data synth {root}`")


# ---------------------------------------------------------------------------------------- files

def _load_key(path: Path, key: str, how_to: str) -> Any:
    """Open an npz and return `key` (pickled dicts unwrapped), with one-line errors."""
    path = Path(path)
    if not path.is_file():
        raise DataFileNotFoundError(f"{path} not found: {how_to}")
    try:
        z = np.load(path, allow_pickle=True)
    except Exception as e:  # noqa: BLE001 - any unreadable file gets the same clear message
        raise DataFormatError(f"{path} is not a readable npz file ({e})") from e
    with z:
        if key not in z.files:
            raise DataFormatError(f"{path}: expected key {key!r}, found {sorted(z.files)}")
        val = z[key]
        extra = {k: z[k] for k in z.files if k != key}
    if val.dtype == object and val.shape == ():
        val = val.item()
    if not isinstance(val, dict):
        raise DataFormatError(f"{path}: {key!r} must be a dict subject -> action -> arrays, got {type(val).__name__}")
    return val, extra


def _check_actions(actions: Any, where: str) -> None:
    if not isinstance(actions, dict):
        raise DataFormatError(f"{where}: expected a dict action -> arrays, got {type(actions).__name__}")


def check_3d(a: Any, where: str) -> np.ndarray:
    """A (T, 32 or 17, 3) finite, non-empty sequence, reduced to 17 joints; a one-line error names ``where``."""
    a = np.asarray(a)
    if a.ndim != 3 or a.shape[2] != 3 or a.shape[1] not in (32, 17):
        raise DataFormatError(f"{where}: expected (T, 32, 3) or (T, 17, 3) world positions, got {a.shape}")
    if len(a) == 0:
        raise DataFormatError(f"{where}: zero-length sequence")
    check_finite(a, f"{where} (frame, joint, coord)")
    return (a[:, list(H36M32_TO_17)] if a.shape[1] == 32 else a).astype(np.float32)


def read_3d(path: Path | str) -> Positions3D:
    """subject -> action -> (T, 17, 3) float32 world metres (32-joint files are reduced)."""
    path = Path(path)
    pos, _ = _load_key(path, "positions_3d", how_to_get_3d(path.parent))
    out: Positions3D = {}
    for subject, actions in pos.items():
        _check_actions(actions, f"{path.name}[{subject}]")
        out[subject] = {a: check_3d(x, f"{path.name}[{subject}][{a}]") for a, x in actions.items()}
    for subject, actions in out.items():  # every sequence: one in millimetres among metres is caught too
        for action, x in actions.items():
            peak = float(np.abs(x).max())  # check_3d: finite and non-empty
            if peak > 100:
                raise DataFormatError(f"{path}: {subject} {action!r} has values up to {peak:.0f}: "
                                      "expected metres, looks like millimetres")
    return out


def read_2d(path: Path | str, num_joints: int = 17) -> Positions2D:
    """subject -> action -> 4 camera arrays (T, num_joints, 2) px; None where a camera has no detections."""
    path = Path(path)
    how = "use keypoints=gt to compute ground-truth 2D from the 3D, or obtain the detections file"
    if path.name == FILE_2D_SH:  # the synthetic set has no Stacked Hourglass file: no synth hint
        how += (" (16 joints in the positions_2d layout, e.g. Martinez et al.'s Stacked Hourglass "
                "detections; `h36m_compact.py unpack-sh` writes it from the compact copy)")
    elif path.name == FILE_2D_CPN:
        how += f" (VideoPose3D's {FILE_2D_CPN}), or write synthetic ones with `ampose-data synth {path.parent}`"
    else:
        how += f" (e.g. VideoPose3D's {FILE_2D_CPN})"
    pos, extra = _load_key(path, "positions_2d", how)
    meta = extra.get("metadata")
    meta = meta.item() if meta is not None and meta.dtype == object and meta.shape == () else meta
    declared = int(meta["num_joints"]) if isinstance(meta, dict) and "num_joints" in meta else None
    if declared not in (None, 16, 17):
        raise DataFormatError(f"{path}: metadata num_joints={declared}, expected 17 or 16")
    if declared == 16 and num_joints == 17:
        raise DataFormatError(f"{path} has 16 joints (no Neck/Nose); load it with num_joints=16")
    if isinstance(meta, dict):
        _check_layout(meta, path, declared)
    out: Positions2D = {}
    for subject, actions in pos.items():
        _check_actions(actions, f"{path.name}[{subject}]")
        out[subject] = {}
        for action, cams in actions.items():
            where = f"{path.name}[{subject}][{action}]"
            if not isinstance(cams, (list, tuple, np.ndarray)) or len(cams) != len(CAMERA_IDS):
                raise DataFormatError(f"{where}: expected a list of {len(CAMERA_IDS)} camera arrays")
            out[subject][action] = [_check_2d(c, f"{where}[{i}]", declared, num_joints) for i, c in enumerate(cams)]
    return out


def _check_layout(meta: dict, path: Path, declared: int | None) -> None:
    """17 keypoints in another order (VideoPose3D's Detectron file is COCO: nose, eyes, ears, ...)
    would load as Human3.6M joints; the metadata says so: its layout name or its left/right pairs."""
    name = meta.get("layout_name", meta.get("layout"))
    if name is not None and not str(name).lower().startswith(("h36m", "human3.6m")):
        raise DataFormatError(f"{path}: keypoint layout {str(name)!r}; expected Human3.6M's (layout_name 'h36m')")
    sym = meta.get("keypoints_symmetry")
    if sym is None or declared is None:
        return
    try:
        pairs = {frozenset((int(a), int(b))) for a, b in zip(*sym, strict=True)}
    except (TypeError, ValueError):
        raise DataFormatError(f"{path}: metadata keypoints_symmetry must be [left joints, right joints]") from None
    want = {frozenset(p) for p in zip(*symmetry(declared), strict=True)}
    if pairs != want:
        raise DataFormatError(f"{path}: keypoints_symmetry {[list(map(int, x)) for x in sym]} is not the "
                              f"{declared}-joint Human3.6M order's {symmetry(declared)}: another keypoint layout")


def _check_2d(a: Any, where: str, declared: int | None, num_joints: int) -> np.ndarray | None:
    if a is None:
        return None
    a = np.asarray(a)
    if a.ndim != 3 or a.shape[2] != 2 or a.shape[1] not in (16, 17):
        raise DataFormatError(f"{where}: expected (T, 17, 2) or (T, 16, 2) pixels, got {a.shape}")
    if declared is not None and a.shape[1] != declared:
        raise DataFormatError(f"{where}: {a.shape[1]} joints but metadata num_joints={declared}")
    if a.shape[1] == 16 and num_joints == 17:
        raise DataFormatError(f"{where}: 16 joints (no Neck/Nose); load this file with num_joints=16")
    if len(a) == 0:
        raise DataFormatError(f"{where}: zero-length sequence")
    check_finite(a, f"{where} (frame, joint, coord)")
    if np.abs(a).max() <= 2.0:  # a person in a 1000 px frame spans hundreds of pixels
        raise DataFormatError(f"{where}: values within +-{np.abs(a).max():.2f}: expected pixels, "
                              "looks screen-normalised already (the loader normalises by each camera's size)")
    if a.shape[1] == 17 and num_joints == 16:
        a = a[:, list(H36M17_TO_16)]
    return a.astype(np.float32)


def gt_2d(positions_3d: Positions3D) -> Positions2D:
    """Ground-truth 2D: project the 17-joint world 3D through each subject's 4 cameras (px).

    A subject without packaged cameras (a file with more subjects than Human3.6M's seven) is left
    out with a warning, so that the others still get theirs (build_samples refuses to load it)."""
    out: Positions2D = {}
    uncalibrated = [s for s in positions_3d if s not in subjects_with_cameras()]
    if uncalibrated:
        log.warning("no Human3.6M cameras for subjects %s: left out of the ground-truth 2D", ", ".join(uncalibrated))
    for subject, actions in positions_3d.items():
        if subject in uncalibrated:
            continue
        cams = h36m_cameras(subject)
        out[subject] = {
            action: [c.project(c.world_to_camera(x.astype(np.float64))).astype(np.float32) for c in cams]
            for action, x in actions.items()
        }
    return out


def write_3d(path: Path | str, positions_3d: Positions3D) -> None:
    savez_atomic(path, positions_3d=np.array(positions_3d, dtype=object))


def write_2d(path: Path | str, positions_2d: Positions2D, num_joints: int = 17) -> None:
    meta = {"num_joints": num_joints, "keypoints_symmetry": symmetry(num_joints)}
    savez_atomic(path, positions_2d=np.array(positions_2d, dtype=object), metadata=np.array(meta, dtype=object))


def gt_2d_name(file_3d: str = FILE_3D) -> str:
    """The ground-truth 2D file that belongs to a 3D file: `data_2d_h36m_gt.npz` for
    `data_3d_h36m.npz` (VideoPose3D's pair), `data_2d_X_gt.npz` for `data_3d_X.npz`, else
    `<stem>_2d_gt.npz`; one cache per 3D file, so another 3D file never meets stale 2D."""
    name = Path(file_3d).name
    if name == FILE_3D:
        return FILE_2D_GT
    if name.startswith("data_3d_") and name.endswith(".npz"):
        return f"data_2d_{name[len('data_3d_'):-len('.npz')]}_gt.npz"
    return f"{Path(name).stem}_2d_gt.npz"


def ensure_gt_2d(root: Path | str, file_3d: str = FILE_3D) -> Path | None:
    """Compute and cache the ground-truth 2D (`gt_2d_name(file_3d)`) next to the 3D file if it
    is not there yet.

    Returns None (the loader then projects on the fly) when the folder is read-only.
    """
    root = Path(root)
    path = root / gt_2d_name(file_3d)
    if not path.exists():
        if not os.access(root, os.W_OK):
            log.info("%s is read-only: ground-truth 2D will be projected on each load", root)
            return None
        log.info("computing ground-truth 2D from %s through the cameras -> %s", file_3d, path)
        write_2d(path, gt_2d(read_3d(root / file_3d)))
    return path


def check_gt_2d(positions_3d: Positions3D, positions_2d: Positions2D, subjects: list[str] | tuple[str, ...],
                path: Path | str, file_3d: str = FILE_3D) -> None:
    """A ground-truth 2D file must be the projection of this 3D: a cache left by another 3D file
    (e.g. synthetic data written into the folder before the real file was copied in) would pair
    every pose with another pose's 2D. Checks the frame counts and each sequence's first frame."""
    for s in subjects:
        if s not in positions_3d or s not in positions_2d or s not in subjects_with_cameras():
            continue  # build_samples says what is missing
        for action, x in positions_3d[s].items():
            for cam, uv in zip(h36m_cameras(s), positions_2d[s].get(action) or [], strict=False):
                if uv is None:
                    continue
                want = cam.project(cam.world_to_camera(x[:1].astype(np.float64)))
                want = want[:, list(H36M17_TO_16)] if uv.shape[1] == 16 else want
                off = float(np.abs(want - uv[:1]).max())
                if len(uv) != len(x) or off > 1.0:  # the field's own file agrees to well under a pixel
                    got = f"{len(uv)} frames for {len(x)}" if len(uv) != len(x) else f"first frame {off:.0f} px off"
                    raise DataFormatError(
                        f"{path} is not the ground-truth 2D of {file_3d} ({s} {action!r} camera {cam.id}: {got}); "
                        "it was made from another 3D file: delete it and it is recomputed")


# -------------------------------------------------------------------------------------- samples

def keypoints_path(root: Path | str, keypoints: str, file_3d: str = FILE_3D) -> Path | None:
    """The 2D file for a `keypoints` setting: None for 'gt' without a file (of `file_3d`), an
    alias, a name or a path."""
    root = Path(root)
    if keypoints == "gt":
        gt = root / gt_2d_name(file_3d)
        return gt if gt.exists() else None
    name = KEYPOINT_ALIASES.get(keypoints, keypoints)
    return Path(name) if Path(name).is_absolute() else root / name


def _sequence_name(key: str) -> str:
    """"TakingPhoto 1" -> "Photo 1": the original release's action names as the field's."""
    words = key.split(None, 1)
    try:
        return " ".join([canonical_name(words[0]), *words[1:]])
    except (KeyError, IndexError):
        return key


def match_actions(positions_3d: Positions3D, positions_2d: Positions2D) -> Positions2D:
    """The 2D keyed by the 3D's names where the files name one sequence differently (the original
    release's "TakingPhoto 1", "WalkingDog" against the field's "Photo 1", "WalkDog"); else the
    sequence's 2D would be dropped as missing."""
    out: Positions2D = {}
    for subject, actions in positions_2d.items():
        mocap = positions_3d.get(subject, {})
        names = {_sequence_name(a): a for a in mocap}
        out[subject] = {}
        for action, views in actions.items():
            name = names.get(_sequence_name(action), action)
            out[subject][action if action in mocap or name in actions else name] = views
    return out


def build_samples(
    positions_3d: Positions3D, positions_2d: Positions2D, subjects: list[str] | tuple[str, ...],
    num_joints: int = 17, stride: int = 1,
) -> PoseArrays:
    """Flatten sequences x cameras into samples (2D trimmed to the mocap length, frames strided)."""
    if num_joints not in (16, 17):
        raise DataError(f"num_joints must be 17 or 16, got {num_joints}")
    subjects = list(subjects)
    cols: dict[str, list[np.ndarray]] = {k: [] for k in ("pose2d", "pose3d", "action", "subject", "camera")}
    skipped = 0
    orphans: list[str] = []  # 2D sequences without mocap (e.g. the SH file's S9 'Discussion 1')
    for si, subject in enumerate(subjects):
        if subject not in positions_3d:
            raise DataError(f"subject {subject} is not in the 3D data (it has {', '.join(positions_3d)})")
        if subject not in subjects_with_cameras():
            raise DataError(f"subject {subject} has no Human3.6M cameras (known: {', '.join(subjects_with_cameras())})")
        if subject not in positions_2d:
            raise DataError(f"subject {subject} is not in the 2D keypoints (they have {', '.join(positions_2d)})")
        orphans += [f"{subject} {a!r}" for a in positions_2d[subject]
                    if a not in positions_3d[subject] and (subject, a) not in SKIP]
        cams = h36m_cameras(subject)
        for action, x3 in positions_3d[subject].items():
            if (subject, action) in SKIP:
                continue
            try:
                a = canonical_action(action)
            except KeyError as e:
                raise DataFormatError(f"{subject} {action!r}: {e.args[0]}") from e
            views = positions_2d[subject].get(action) or [None] * len(cams)
            for ci, cam in enumerate(cams):
                p2 = views[ci]
                if p2 is None:
                    skipped += 1
                    continue
                t = len(x3)
                if len(p2) < t:
                    log.warning("%s %s camera %s: 2D has %d frames, mocap %d; trimming the mocap",
                                subject, action, cam.id, len(p2), t)
                    t = len(p2)
                p3 = cam.world_to_camera(x3[:t:stride].astype(np.float64))  # (T', 17, 3)
                p3 = p3 - p3[:, :1]
                if num_joints == 16:
                    p3 = p3[:, list(H36M17_TO_16)]
                p2 = p2[:t:stride]
                if p2.shape[1] == 17 and num_joints == 16:
                    p2 = p2[:, list(H36M17_TO_16)]
                cols["pose2d"].append(cam.normalize(p2.astype(np.float64)))
                cols["pose3d"].append(p3)
                n = len(p3)
                cols["action"].append(np.full(n, a))
                cols["subject"].append(np.full(n, si))
                cols["camera"].append(np.full(n, ci))
    if skipped:
        log.warning("skipped %d sequence-camera pairs without 2D detections", skipped)
    if orphans:
        more = f" and {len(orphans) - 5} more" if len(orphans) > 5 else ""
        log.warning("skipped %d 2D sequences without 3D: %s%s", len(orphans), ", ".join(orphans[:5]), more)
    if not cols["pose2d"]:
        raise DataError(f"no samples for subjects {subjects}")
    arrays = {k: np.concatenate(v) for k, v in cols.items()}
    arrays["scene"] = np.full(len(arrays["action"]), -1)
    return PoseArrays(**arrays, subjects=subjects)


def load_h36m(
    root: Path | str, subjects: list[str] | tuple[str, ...] = TEST_SUBJECTS, keypoints: str = "gt",
    num_joints: int = 17, stride: int = 1, file_3d: str = FILE_3D, virtual_views: int = 0,
    views_seed: int = 0, virtual_bodies: int = 0, bodies_spread: float = 0.15, virtual_errors: int = 0,
) -> PoseArrays:
    """Samples of `subjects` from the files in `root` (see module docstring).

    keypoints: "gt" (the cached `data_2d_h36m_gt.npz`, else projected on the fly), "cpn", "sh",
    or a 2D npz file name (relative to root) or path. file_3d: the 3D file's name in root.
    virtual_views: add that many turned copies of every sequence (ampose.data.views), their angles
    drawn from `views_seed`; the copies follow the real samples. With detections, a turned
    view's 2D is its ground-truth projection plus the frame's real detection error.
    virtual_bodies: add that many copies of every sequence with new bone lengths (each bone scaled
    by up to 1 + `bodies_spread`; ampose.data.views), drawn from `views_seed`, after any views.
    With detections, a new body's 2D (and a turned view's) is the frame's detection moved with
    its ground-truth projection (views.shifted_detections).
    virtual_errors: add that many copies of every sequence whose detection errors are shuffled in
    time within each sequence and camera (views.shuffled_errors; detections only), after any bodies.
    """
    check_errors_keypoints(virtual_errors, keypoints)
    positions_3d = read_3d(Path(root) / file_3d)
    path_2d = keypoints_path(root, keypoints, file_3d)
    wanted = {s: positions_3d[s] for s in subjects if s in positions_3d}
    positions_2d = gt_2d(wanted) if path_2d is None else match_actions(positions_3d, read_2d(path_2d, num_joints))
    if keypoints == "gt" and path_2d is not None:
        check_gt_2d(positions_3d, positions_2d, subjects, path_2d, file_3d)
    parts = [build_samples(positions_3d, positions_2d, subjects, num_joints, stride)]
    if virtual_views or virtual_bodies or virtual_errors:
        strided = {s: {a: x[::stride] for a, x in positions_3d[s].items()} for s in wanted}
        dets = before = None
        if keypoints != "gt":  # detections and their ground truth: views and bodies move them, error copies reshuffle them
            dets = {s: {a: [None if d is None else d[: len(positions_3d[s][a])][::stride] for d in views]
                        for a, views in positions_2d[s].items() if a in positions_3d[s]}
                    for s in wanted if s in positions_2d}
            before = gt_2d(strided)

        def moved(positions: Positions3D) -> tuple[Positions3D, Positions2D]:
            two_d = gt_2d(positions) if dets is None else shifted_detections(dets, before, gt_2d(positions))
            return positions, two_d

        # Each kind of copy draws from its own stream, so adding views does not shift the bodies.
        copies = (("turned views", virtual_views, np.random.default_rng(views_seed),
                   lambda rng: moved(turned_positions(positions_3d, list(subjects), rng, stride))),
                  ("bodies with new bone lengths", virtual_bodies, np.random.default_rng([views_seed, 1]),
                   lambda rng: moved(rebodied_positions(positions_3d, list(subjects), rng, stride, bodies_spread))),
                  ("detections with shuffled errors", virtual_errors, np.random.default_rng([views_seed, 2]),
                   lambda rng: (strided, shuffled_errors(dets, before, rng))))
        for what, count, rng, make in copies:
            for _ in range(count):
                parts.append(build_samples(*make(rng), subjects, num_joints))
            if count:
                log.info("virtual %s: %d samples added to %d real ones", what,
                         sum(len(p) for p in parts[-count:]), len(parts[0]))
    arrays = parts[0] if len(parts) == 1 else PoseArrays.concat(parts)
    return arrays.validate(f"Human3.6M {list(subjects)}")
