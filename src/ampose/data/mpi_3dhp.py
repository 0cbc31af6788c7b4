"""MPI-INF-3DHP test set: joint mapping, scenes, readers for the field's npz layouts, and the
importer of the official `mpi_inf_3dhp_test_set/TS*/annot_data.mat` files.

Layouts read by `load_3dhp_test` (picked by the keys present):

- `data_test_3dhp.npz` (P-STMO and followers): key `data`, a pickled dict
  `{"TS1".."TS6": {"data_2d" (T,17,2) px, "data_3d" (T,17,3) mm (univ_annot3), "valid" (T,)}}`
  in the MPI 17-joint order (root 14). The package's own file written by `import_official` (and
  by the synthetic generator) is this layout plus optional per-sequence keys `image_size` (w, h),
  `scene`, `annot3` (T,17,3) camera mm and `intrinsics` (fx, fy, cx, cy); the synthetic file also
  carries a top-level `synthetic` marker (`is_synthetic`), which the reader ignores.
- `test_3dhp.npz` (PoseAug's `prepare_data_3dhp.py`, used by DH-AUG and others): `pose3d (N,16,3)`
  root-relative metres (SPIN's `univ_annot3 / 1000 - pelvis`), `pose2d (N,16,2)` already
  screen-normalised per sequence image size, Human3.6M 16-joint order, valid frames only, TS1..TS6
  concatenated (2929 frames). It carries no sequence labels; when it has exactly the 2929 frames
  the per-sequence split `SPIN_VALID_COUNTS` is applied (checked against the 1920x1080 aspect of
  TS5-6), otherwise scene is SCENE_UNKNOWN (3: overall PCK and AUC only). Millimetre 3D is
  detected and converted.

Output (`PoseArrays`): 2D `x / w * 2 - [1, h / w]` with each sequence's image size, 3D camera frame
root-relative metres (univ_annot3, the official evaluation truth), valid frames only,
scene 0 GS / 1 noGS / 2 outdoor, action -1, camera 0, subjects = sequence names.
"""

from __future__ import annotations

import os
import re
import warnings
from pathlib import Path

import numpy as np

from ampose.data.arrays import DataFileNotFoundError, DataFormatError, PoseArrays, check_finite
from ampose.data.skeleton import H36M17_TO_16, skeleton_for
from ampose.fileio import savez_atomic
from ampose.metrics.pose import SCENE_UNKNOWN

# MPI 17-joint test order (mpii_get_joints('relevant')).
MPI17_NAMES = (
    "head_top", "neck", "r_shoulder", "r_elbow", "r_wrist", "l_shoulder", "l_elbow", "l_wrist",
    "r_hip", "r_knee", "r_ankle", "l_hip", "l_knee", "l_ankle", "pelvis", "spine", "head",
)
MPI17_PARENTS = (16, 15, 1, 2, 3, 1, 5, 6, 14, 8, 9, 14, 11, 12, -1, 14, 1)
MPI17_ROOT = 14
# H36M-17 joint i is MPI-17 joint MPI17_TO_H36M17[i]: pelvis -> Hip, neck -> Thorax,
# head -> Neck/Nose, head_top -> Head, spine -> Spine.
MPI17_TO_H36M17 = [14, 8, 9, 10, 11, 12, 13, 15, 1, 16, 0, 5, 6, 7, 2, 3, 4]

# Official evaluation joints (mpii_get_pck_auc_joint_groups.m, 1-based [1..14]): head_top, neck,
# shoulders, elbows, wrists, hips, knees, ankles; pelvis (14), spine (15), head (16) excluded.
PCK_JOINTS_MPI17 = tuple(range(14))
# The same joints in the model's orders. H36M-17 leaves out 0 Hip, 7 Spine, 9 Neck/Nose (MPI head);
# H36M-16 (no Neck/Nose) leaves out 0 Hip and 7 Spine.
PCK_JOINTS_H36M17 = tuple(sorted(MPI17_TO_H36M17.index(m) for m in PCK_JOINTS_MPI17))
PCK_JOINTS_H36M16 = tuple(H36M17_TO_16.index(j) for j in PCK_JOINTS_H36M17)
PCK_JOINTS: dict[int, tuple[int, ...]] = {17: PCK_JOINTS_H36M17, 16: PCK_JOINTS_H36M16}
assert PCK_JOINTS_H36M17 == (1, 2, 3, 4, 5, 6, 8, 10, 11, 12, 13, 14, 15, 16)
assert PCK_JOINTS_H36M16 == (1, 2, 3, 4, 5, 6, 8, 9, 10, 11, 12, 13, 14, 15)

SCENES = ("GS", "noGS", "outdoor")
SEQUENCES = ("TS1", "TS2", "TS3", "TS4", "TS5", "TS6")
SEQUENCE_SCENE = {"TS1": 0, "TS2": 0, "TS3": 1, "TS4": 1, "TS5": 2, "TS6": 2}
IMAGE_SIZE = {  # (w, h) px
    "TS1": (2048, 2048), "TS2": (2048, 2048), "TS3": (2048, 2048), "TS4": (2048, 2048),
    "TS5": (1920, 1080), "TS6": (1920, 1080),
}
# Valid frames per sequence in the common 2929-frame single-frame preprocessing (SPIN's test
# extraction, the older TS6 annotation with 452 valid frames), in file order.
SPIN_VALID_COUNTS = {"TS1": 603, "TS2": 540, "TS3": 505, "TS4": 553, "TS5": 276, "TS6": 452}

FORMAT = "ampose-3dhp-test/1"
SYNTHETIC_KEY = "synthetic"  # marks the generated stand-in, wherever it is written
_HOW_TO_GET = (
    "import the official test folder with `ampose-data import-3dhp SRC_DIR OUT.npz` "
    "(SRC_DIR = mpi_inf_3dhp_test_set with TS*/annot_data.mat), or write a synthetic stand-in "
    "with `ampose-data synth OUT_DIR`"
)


def pck_joints(num_joints: int) -> tuple[int, ...]:
    """The 14 official evaluation joints as indices in the model's 17- or 16-joint order."""
    skeleton_for(num_joints)  # validates num_joints
    return PCK_JOINTS[num_joints]


def sequence_scene(name: str) -> int:
    """Scene of a test sequence from its name ("TS5" -> 2); -1 when the name is not TS1..TS6."""
    return SEQUENCE_SCENE.get(_ts_name(name) or "", -1)


def _ts_name(name: str) -> str | None:
    m = re.search(r"TS([1-6])\b", str(name))
    return f"TS{m.group(1)}" if m else None


def _model_joints(x: np.ndarray, num_joints: int) -> np.ndarray:
    """(..., 17, C) MPI-17 order -> (..., J, C) H36M order with J = 17 or 16."""
    x = x[..., MPI17_TO_H36M17, :]
    return x[..., list(H36M17_TO_16), :] if num_joints == 16 else x


def _normalise(uv: np.ndarray, w: float, h: float) -> np.ndarray:
    """Pixels -> screen-normalised `x / w * 2 - [1, h / w]`."""
    return uv / w * 2.0 - np.array([1.0, h / w], dtype=uv.dtype)


def load_3dhp_test(path: str | os.PathLike, num_joints: int) -> PoseArrays:
    """Read a 3DHP test npz (either layout, see module doc) into PoseArrays in the model's order.

    Args:
        path: `data_test_3dhp.npz`, the package's imported/synthetic npz, or `test_3dhp.npz`.
        num_joints: 17 (Human3.6M order) or 16 (without Neck/Nose).
    """
    skeleton_for(num_joints)
    path = Path(path)
    if not path.is_file():
        raise DataFileNotFoundError(f"3DHP test file not found: {path}; {_HOW_TO_GET}")
    try:
        npz = np.load(path, allow_pickle=True)
    except Exception as e:  # noqa: BLE001 - any unreadable file gets one clear message
        raise DataFormatError(f"{path}: not a readable npz file ({e})") from e
    with npz:
        keys = set(npz.files)
        if "data" in keys:
            data = npz["data"]
            data = data.item() if data.dtype == object and data.shape == () else data
            if not isinstance(data, dict) or not data:
                raise DataFormatError(
                    f"{path}: key 'data' must be a non-empty dict of sequences "
                    "{TS1..TS6: {data_2d, data_3d, valid}}"
                )
            return _from_sequences(data, num_joints, str(path))
        if {"pose2d", "pose3d"} <= keys:
            extra = {k: npz[k] for k in ("scene", "valid") if k in keys}
            return _from_flat(npz["pose2d"], npz["pose3d"], num_joints, str(path), **extra)
    raise DataFormatError(
        f"{path}: keys {sorted(keys)}; expected 'data' (data_test_3dhp.npz layout) or "
        "'pose2d' and 'pose3d' (test_3dhp.npz layout)"
    )


def _scenes(raw: object, what: str) -> np.ndarray:
    """Scene labels (0 GS, 1 noGS, 2 outdoor, or their names; -1 unknown) -> int64 with
    SCENE_UNKNOWN for unknown. Others (1-based labels 1..3, ...) would move frames to the wrong
    scene's column, or out of every PCK, without a word."""
    a = np.asarray(raw).reshape(-1)
    if a.dtype.kind == "S":  # bytes (h5py, MATLAB exports): str(b"GS") would be "b'GS'"
        a = np.char.decode(a, "ascii", "replace")
    if a.dtype.kind in "US":
        names = {n.lower(): i for i, n in enumerate(SCENES)}
        bad = sorted({str(v) for v in a if str(v).lower() not in names})
        if bad:
            raise DataFormatError(f"{what}: scene names {bad[:5]}; expected {', '.join(SCENES)}")
        return np.array([names[str(v).lower()] for v in a], np.int64)
    if a.dtype.kind not in "iub" and not (a.dtype.kind == "f" and np.all(a == np.round(a))):
        raise DataFormatError(f"{what}: scene labels must be 0 GS, 1 noGS, 2 outdoor (or -1 unknown), got {a.dtype}")
    a = a.astype(np.int64)
    bad = sorted(set(np.unique(a).tolist()) - {-1, 0, 1, 2})
    if bad:
        raise DataFormatError(f"{what}: scene labels {bad[:5]}; expected 0 GS, 1 noGS, 2 outdoor (or -1 unknown)")
    return np.where(a < 0, SCENE_UNKNOWN, a)


def _sequence_sort_key(name: str) -> tuple[int, str]:
    ts = _ts_name(name)
    return (int(ts[2:]) if ts else 99, str(name))


def _from_sequences(data: dict, num_joints: int, what: str) -> PoseArrays:
    names = sorted(data, key=_sequence_sort_key)
    p2, p3, scenes, subj = [], [], [], []
    for i, name in enumerate(names):
        seq = data[name]
        where = f"{what}: sequence {name}"
        if not isinstance(seq, dict):
            raise DataFormatError(f"{where}: expected a dict with data_2d, data_3d, valid")
        missing = [k for k in ("data_2d", "data_3d", "valid") if k not in seq]
        if missing:
            raise DataFormatError(f"{where}: missing keys {missing}; has {sorted(seq)}")
        d2 = np.asarray(seq["data_2d"], dtype=np.float64)  # (T, 17, 2) px
        d3 = np.asarray(seq["data_3d"], dtype=np.float64)  # (T, 17, 3) mm
        valid = np.asarray(seq["valid"]).reshape(-1) > 0.5  # (T,)
        t = len(valid)
        if d2.shape != (t, 17, 2) or d3.shape != (t, 17, 3):
            raise DataFormatError(
                f"{where}: expected data_2d (T, 17, 2), data_3d (T, 17, 3), valid (T,) in the MPI "
                f"17-joint order; got {d2.shape}, {d3.shape}, ({t},)"
            )
        if "image_size" in seq:
            w, h = (float(v) for v in np.asarray(seq["image_size"]).reshape(2))
        elif _ts_name(name) in IMAGE_SIZE:
            w, h = IMAGE_SIZE[_ts_name(name)]
        else:
            raise DataFormatError(f"{where}: unknown sequence name and no 'image_size' (w, h) key")
        known = sequence_scene(name)
        scene = int(_scenes(seq["scene"], f"{where} scene")[0]) if "scene" in seq else known
        if scene == SCENE_UNKNOWN:  # a -1 label: the TSn name still says the scene
            scene = known
        elif known >= 0 and scene != known:
            raise DataFormatError(f"{where}: scene {scene}, but {_ts_name(name)} is {SCENES[known]} ({known}); "
                                  "expected 0 GS, 1 noGS, 2 outdoor")
        d2, d3 = d2[valid], d3[valid]
        check_finite(d2, f"{where} data_2d of valid frames (frame, joint, coord)")
        check_finite(d3, f"{where} data_3d of valid frames (frame, joint, coord)")
        d3 = (d3 - d3[:, MPI17_ROOT : MPI17_ROOT + 1]) / 1000.0  # root-relative metres
        p2.append(_normalise(_model_joints(d2, num_joints), w, h))
        p3.append(_model_joints(d3, num_joints))
        scenes.append(np.full(len(d2), scene if scene >= 0 else SCENE_UNKNOWN, np.int64))
        subj.append(np.full(len(d2), i, np.int64))
    n = sum(len(s) for s in subj)
    return PoseArrays(
        pose2d=np.concatenate(p2), pose3d=np.concatenate(p3),
        action=np.full(n, -1, np.int64), subject=np.concatenate(subj),
        camera=np.zeros(n, np.int64), scene=np.concatenate(scenes),
        subjects=[str(s) for s in names],
    ).validate(what)


def _from_flat(
    pose2d: np.ndarray,
    pose3d: np.ndarray,
    num_joints: int,
    what: str,
    scene: np.ndarray | None = None,
    valid: np.ndarray | None = None,
) -> PoseArrays:
    pose2d = np.asarray(pose2d, dtype=np.float64)  # (N, J, 2) normalised
    pose3d = np.asarray(pose3d, dtype=np.float64)  # (N, J, 3) m or mm
    n = len(pose2d)
    if pose2d.ndim != 3 or pose2d.shape[2] != 2 or pose3d.shape != pose2d.shape[:2] + (3,):
        raise DataFormatError(
            f"{what}: expected pose2d (N, 16, 2) and pose3d (N, 16, 3) in the Human3.6M order; "
            f"got {pose2d.shape} and {pose3d.shape}"
        )
    j = pose2d.shape[1]
    if j not in (16, 17):
        raise DataFormatError(f"{what}: {j} joints; expected 16 (test_3dhp.npz) or 17 (Human3.6M order)")
    if j == 16 and num_joints == 17:
        raise DataFormatError(
            f"{what}: has 16 joints (no Neck/Nose), the model wants 17; use num_joints=16 or the "
            "data_test_3dhp.npz / imported layout"
        )
    if j == 17 and num_joints == 16:
        pose2d, pose3d = pose2d[:, list(H36M17_TO_16)], pose3d[:, list(H36M17_TO_16)]
    keep = np.ones(n, bool) if valid is None else np.asarray(valid).reshape(-1) > 0.5
    if keep.shape != (n,):
        raise DataFormatError(f"{what}: valid must be ({n},), one flag per frame, got {keep.shape}")
    check_finite(pose2d[keep], f"{what} pose2d (frame, joint, coord)")
    check_finite(pose3d[keep], f"{what} pose3d (frame, joint, coord)")
    if n and np.abs(pose2d[keep]).max() > 4.0:
        raise DataFormatError(
            f"{what}: pose2d reaches {np.abs(pose2d[keep]).max():.1f}, which looks like pixels; this "
            "layout stores screen-normalised 2D (x / w * 2 - [1, h / w]); import the official files "
            "instead to get per-sequence image sizes"
        )
    pose3d = pose3d - pose3d[:, :1]
    if n and np.abs(pose3d[keep]).max() > 20.0:  # no human joint is 20 m from the pelvis: mm
        pose3d = pose3d / 1000.0
    names: list[str] = ["3dhp"]
    subject = np.zeros(n, np.int64)
    if scene is not None:
        scene = _scenes(scene, what)
    elif n == sum(SPIN_VALID_COUNTS.values()) and valid is None:
        split = np.repeat(np.arange(6), list(SPIN_VALID_COUNTS.values()))
        outdoor = split >= 4
        if np.abs(pose2d[outdoor, :, 1]).max() <= 1080 / 1920 + 1e-3:
            names, subject = list(SPIN_VALID_COUNTS), split
            scene = np.array([SEQUENCE_SCENE[s] for s in names], np.int64)[split]
        else:
            warnings.warn(f"{what}: 2929 frames but TS5-6 rows are not 1920x1080; scenes unknown "
                          "(overall PCK and AUC only)", stacklevel=2)
    if scene is None:
        scene = np.full(n, SCENE_UNKNOWN, np.int64)  # still 3DHP: overall PCK and AUC
    if scene.shape != (n,):
        raise DataFormatError(f"{what}: scene must be ({n},), got {scene.shape}")
    return PoseArrays(
        pose2d=pose2d[keep], pose3d=pose3d[keep], action=np.full(n, -1, np.int64)[keep],
        subject=subject[keep], camera=np.zeros(n, np.int64)[keep], scene=scene[keep], subjects=names,
    ).validate(what)


# ----------------------------------------------------------------------------------------------
# Writing and importing


def save_3dhp_test(
    path: str | os.PathLike, sequences: dict[str, dict[str, np.ndarray]], synthetic: bool = False,
) -> Path:
    """Write the package's 3DHP test npz atomically (temp file + rename); returns the path.

    `sequences[name]` holds data_2d (T,17,2) px, data_3d (T,17,3) mm, valid (T,), and optional
    image_size (w, h), scene, annot3, intrinsics. `synthetic`: store the stand-in marker.
    """
    marker = {SYNTHETIC_KEY: np.array(True)} if synthetic else {}
    return savez_atomic(path, data=np.array(sequences, dtype=object), format=np.array(FORMAT), **marker)


def is_synthetic(path: str | os.PathLike) -> bool:
    """Whether a 3DHP test npz is the synthetic stand-in (carries its marker); False for a file
    that is missing or unreadable (load_3dhp_test says why)."""
    path = Path(path)
    if not path.is_file():
        return False
    try:
        with np.load(path) as npz:  # reads the zip directory and the one scalar, not the data
            return SYNTHETIC_KEY in npz.files and bool(npz[SYNTHETIC_KEY])
    except Exception:  # noqa: BLE001 - not a readable npz: not the stand-in
        return False


def _h5py():
    try:
        import h5py
    except ImportError as e:
        raise ImportError(
            "reading the official MATLAB v7.3 annot_data.mat files needs h5py: pip install ampose[import]"
        ) from e
    return h5py


def _frames_joints(a: np.ndarray, dim: int, what: str) -> np.ndarray:
    """Official arrays (N, 1, 17, d) as h5py reads them, or MATLAB's (d, 17, 1, N) -> (N, 17, d)."""
    if a.shape[-1] == dim and a.shape[-2] == 17:
        return a.reshape(-1, 17, dim)
    if a.shape[0] == dim and a.shape[1] == 17:
        return np.moveaxis(a.reshape(dim, 17, -1), -1, 0)
    raise DataFormatError(f"{what}: shape {a.shape}, expected (N, 1, 17, {dim})")


def read_official_sequence(mat_path: str | os.PathLike) -> dict[str, np.ndarray]:
    """One official `annot_data.mat` -> data_2d (T,17,2) px, data_3d (T,17,3) mm (univ_annot3),
    annot3 (T,17,3) mm, valid (T,) uint8, activity (T,)."""
    h5py = _h5py()
    mat_path = Path(mat_path)
    try:
        f = h5py.File(mat_path, "r")
    except OSError as e:
        raise DataFormatError(f"{mat_path}: not a MATLAB v7.3 (HDF5) file ({e})") from e
    with f:
        need = ("annot2", "annot3", "univ_annot3", "valid_frame")
        missing = [k for k in need if k not in f]
        if missing:
            raise DataFormatError(
                f"{mat_path}: missing keys {missing}; has {sorted(k for k in f if not k.startswith('#'))}; "
                "expected the official MPI-INF-3DHP test annot_data.mat"
            )
        d2 = _frames_joints(np.asarray(f["annot2"], np.float64), 2, f"{mat_path} annot2")
        d3 = _frames_joints(np.asarray(f["univ_annot3"], np.float64), 3, f"{mat_path} univ_annot3")
        a3 = _frames_joints(np.asarray(f["annot3"], np.float64), 3, f"{mat_path} annot3")
        valid = np.asarray(f["valid_frame"]).reshape(-1)
        act = np.asarray(f["activity_annotation"]).reshape(-1) if "activity_annotation" in f else None
    t = len(valid)
    if not len(d2) == len(d3) == len(a3) == t:
        raise DataFormatError(
            f"{mat_path}: frame counts differ: annot2 {len(d2)}, univ_annot3 {len(d3)}, "
            f"annot3 {len(a3)}, valid_frame {t}"
        )
    out = {
        "data_2d": d2.astype(np.float32), "data_3d": d3.astype(np.float32),
        "annot3": a3.astype(np.float32), "valid": (valid > 0.5).astype(np.uint8),
    }
    if act is not None and len(act) == t:
        out["activity"] = act.astype(np.int16)
    return out


def import_official(src_dir: str | os.PathLike, out_path: str | os.PathLike) -> Path:
    """Import the official test folder (`TS1..TS6/annot_data.mat`, any subset) into the package's
    npz (data_test_3dhp.npz layout plus image_size, scene, annot3 per sequence); returns out_path.

    `src_dir` may be `mpi_inf_3dhp_test_set` itself or a folder containing it.
    """
    src = Path(src_dir)
    if not src.is_dir():
        raise DataFileNotFoundError(
            f"3DHP test folder not found: {src}; download the official MPI-INF-3DHP test set "
            "(mpi_inf_3dhp_test_set with TS1..TS6/annot_data.mat) and point to it"
        )
    if (src / "mpi_inf_3dhp_test_set").is_dir() and not any((src / s).is_dir() for s in SEQUENCES):
        src = src / "mpi_inf_3dhp_test_set"
    found = [s for s in SEQUENCES if (src / s / "annot_data.mat").is_file()]
    if not found:
        raise DataFileNotFoundError(
            f"no TS1..TS6/annot_data.mat under {src}; expected the official mpi_inf_3dhp_test_set folder"
        )
    sequences = {}
    for name in found:
        seq = read_official_sequence(src / name / "annot_data.mat")
        seq["image_size"] = np.array(IMAGE_SIZE[name], np.int64)
        seq["scene"] = np.int64(SEQUENCE_SCENE[name])
        sequences[name] = seq
    return save_3dhp_test(out_path, sequences)
