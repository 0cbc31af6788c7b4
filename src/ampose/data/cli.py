"""`ampose-data`: write the synthetic default data, import the downloads users actually have.

  ampose-data synth OUT_DIR [--seed N]        synthetic Human3.6M (+ 3DHP test) files
  ampose-data import-h36m SRC OUT_DIR         h36m.zip (S*/MyPoses/3D_positions/*.h5) or D3_Positions/*.cdf
  ampose-data gt2d 3D_NPZ OUT_NPZ             ground-truth 2D through the cameras
  ampose-data import-3dhp SRC OUT_NPZ         official MPI-INF-3DHP test folder (TS*/annot_data.mat)
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import logging
import re
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from ampose.data import h36m
from ampose.data.actions import canonical_name
from ampose.data.arrays import DataError, DataFileNotFoundError, DataFormatError
from ampose.fileio import describe_error

log = logging.getLogger("ampose.data")


def _optional(module: str) -> Any:
    """Import an optional dependency or stop with the install command."""
    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise SystemExit(f"ampose-data: {module} is needed for this import: pip install 'ampose[import]'") from e


def canonical_key(stem: str) -> str | None:
    """File stem ("TakingPhoto 1", "WalkingDog") -> the field's key ("Photo 1", "WalkDog"); None to skip."""
    words = stem.strip().split(" ", 1)
    try:
        name = canonical_name(words[0])
    except KeyError:
        return None
    return name + (" " + words[1] if len(words) > 1 else "")


def _subject_of(path: Path) -> str:
    for part in reversed(path.parts):
        if re.fullmatch(r"S\d+", part):
            return part
    raise DataFormatError(f"{path}: no subject folder (S1, S5, ...) in the path")


def _read_h5(path: Path) -> np.ndarray:
    h5py = _optional("h5py")
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise DataFormatError(f"{path} is not a readable h5 file ({e})") from e
    with f:
        if "3D_positions" not in f:
            raise DataFormatError(f"{path}: expected dataset '3D_positions', found {list(f)}")
        a = np.asarray(f["3D_positions"], dtype=np.float64)
    if a.ndim != 2 or a.shape[0] != 96:
        raise DataFormatError(f"{path}: '3D_positions' must be (96, T) millimetres, got {a.shape}")
    return a.T.reshape(-1, 32, 3)  # (96, T) -> (T, 96) -> (T, 32, 3)


def _read_cdf(path: Path) -> np.ndarray:
    cdflib = _optional("cdflib")
    try:
        a = np.asarray(cdflib.CDF(str(path)).varget("Pose"), dtype=np.float64)
    except Exception as e:  # noqa: BLE001 - cdflib raises assorted errors for bad files
        raise DataFormatError(f"{path}: cannot read variable 'Pose' ({e})") from e
    if a.ndim not in (2, 3) or a.shape[-1] != 96:
        raise DataFormatError(f"{path}: 'Pose' must be (1, T, 96) millimetres, got {a.shape}")
    return a.reshape(-1, 32, 3)  # (1, T, 96) -> (T, 32, 3)


def import_h36m(src: str | Path, out_dir: str | Path) -> dict[str, Path]:
    """Convert the h5 (3d-pose-baseline) or CDF (official) 3D positions to data_3d_h36m.npz (32 joints,
    metres) and write data_2d_h36m_gt.npz beside it."""
    src, out = Path(src), Path(out_dir)
    if not src.exists():
        raise DataFileNotFoundError(f"{src} not found: point import-h36m at the unpacked h36m.zip or the official release")
    files = sorted(src.rglob("3D_positions/*.h5")), sorted(src.rglob("D3_Positions/*.cdf"))
    found = [(p, _read_h5) for p in files[0]] or [(p, _read_cdf) for p in files[1]]
    if not found:
        raise DataFileNotFoundError(
            f"{src}: no S*/MyPoses/3D_positions/*.h5 (h36m.zip) nor S*/MyPoseFeatures/D3_Positions/*.cdf files")
    positions: dict[str, dict[str, np.ndarray]] = {}
    source: dict[tuple[str, str], Path] = {}
    for path, read in found:
        key = canonical_key(path.stem)
        subject = _subject_of(path)
        if key is None or (subject, key) in h36m.SKIP:
            log.info("skipping %s", path)
            continue
        if (subject, key) in source:  # e.g. TakingPhoto 1 and Photo 1: one would silently replace the other
            raise DataFormatError(f"{source[subject, key]} and {path} are both {subject} {key!r}: keep one")
        source[subject, key] = path
        # checked before anything is written: a bad sequence must not leave a 3D file without its 2D
        positions.setdefault(subject, {})[key] = (read(path) / 1000.0).astype(np.float32)
        h36m.check_3d(positions[subject][key], f"{path} ({subject} {key!r})")
    if not positions:
        raise DataFormatError(f"{src}: {len(found)} position files, none of a known Human3.6M action "
                              f"({', '.join(sorted({p.stem for p, _ in found})[:5])}, ...)")
    order = sorted(positions, key=lambda s: int(s[1:]))
    positions = {s: dict(sorted(positions[s].items())) for s in order}
    paths = {"3d": out / h36m.FILE_3D, "gt": out / h36m.FILE_2D_GT}
    h36m.write_3d(paths["3d"], positions)
    write_gt2d(paths["3d"], paths["gt"])
    n = sum(len(x) for acts in positions.values() for x in acts.values())
    log.info("imported %d sequences, %d frames of %s into %s", sum(map(len, positions.values())), n, order, out)
    return paths


def write_gt2d(path_3d: str | Path, out: str | Path) -> Path:
    """Ground-truth 2D npz (17 joints, pixels) from a 3D npz through the packaged cameras."""
    h36m.write_2d(out, h36m.gt_2d(h36m.read_3d(path_3d)))
    return Path(out)


def synth(out_dir: str | Path, seed: int = 0) -> None:
    from ampose.data.synthetic import write_synthetic

    start = time.perf_counter()
    out = Path(out_dir)
    write_synthetic(out, seed)
    if importlib.util.find_spec("ampose.data.synthetic_3dhp") is not None:
        from ampose.data.synthetic_3dhp import write_synthetic_3dhp

        write_synthetic_3dhp(out / "data_test_3dhp.npz", seed)
    print(f"wrote synthetic data to {out} in {time.perf_counter() - start:.1f} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ampose-data", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("synth", help="write synthetic Human3.6M (and 3DHP test) files")
    p.add_argument("out_dir")
    p.add_argument("--seed", type=int, default=0)
    p = sub.add_parser("import-h36m", help="h36m.zip h5 or official CDF 3D positions -> data_3d_h36m.npz + GT 2D")
    p.add_argument("src")
    p.add_argument("out_dir")
    p = sub.add_parser("gt2d", help="write the ground-truth 2D npz of a 3D npz")
    p.add_argument("path_3d")
    p.add_argument("out")
    p = sub.add_parser("import-3dhp", help="official MPI-INF-3DHP test folder -> test npz")
    p.add_argument("src")
    p.add_argument("out")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        if args.command == "synth":
            synth(args.out_dir, args.seed)
        elif args.command == "import-h36m":
            paths = import_h36m(args.src, args.out_dir)
            print(f"wrote {paths['3d']} and {paths['gt']}")
        elif args.command == "gt2d":
            print(f"wrote {write_gt2d(args.path_3d, args.out)}")
        elif args.command == "import-3dhp":
            from ampose.data.mpi_3dhp import import_official

            print(f"wrote {import_official(args.src, args.out)}")
    except (DataError, OSError) as e:  # OSError: an existing file where a folder goes, no permission, ...
        print(f"ampose-data: error: {describe_error(e)}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
