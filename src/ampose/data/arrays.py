"""PoseArrays, the in-memory dataset every loader returns, and the data errors.

Every loader (Human3.6M, 3DHP, synthetic) ends in one PoseArrays so that the DataModule and the
metrics see a single contract (docs/ARCHITECTURE.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

import numpy as np

FIELDS = ("pose2d", "pose3d", "action", "subject", "camera", "scene")


class DataError(Exception):
    """Base of every data problem the loaders report (bad file, bad values)."""


class DataFileNotFoundError(DataError, FileNotFoundError):
    """A data file is missing; the message names it and says how to get it."""


class DataFormatError(DataError, ValueError):
    """A data file or array has the wrong keys, shapes, joint count or non-finite values."""


def check_finite(a: np.ndarray, what: str, max_report: int = 5) -> None:
    """Raise DataFormatError naming where NaN/inf values sit (first few indices and the count)."""
    bad = ~np.isfinite(a)
    if bad.any():
        where = np.argwhere(bad)
        shown = ", ".join(str(tuple(int(i) for i in w)) for w in where[:max_report])
        more = f" (and {len(where) - max_report} more)" if len(where) > max_report else ""
        raise DataFormatError(
            f"{what}: {len(where)} NaN/inf values of {a.size}, shape {a.shape}, at index {shown}{more}"
        )


@dataclass
class PoseArrays:
    """Aligned arrays of N samples (one frame seen by one camera).

    pose2d (N, J, 2) float32 screen-normalised input; pose3d (N, J, 3) float32 camera frame,
    root-relative, metres; action/subject/camera/scene (N,) int64 (-1 where unknown).
    """

    pose2d: np.ndarray
    pose3d: np.ndarray
    action: np.ndarray
    subject: np.ndarray
    camera: np.ndarray
    scene: np.ndarray
    subjects: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.pose2d = np.ascontiguousarray(self.pose2d, dtype=np.float32)
        self.pose3d = np.ascontiguousarray(self.pose3d, dtype=np.float32)
        for name in ("action", "subject", "camera", "scene"):
            setattr(self, name, np.ascontiguousarray(getattr(self, name), dtype=np.int64))
        self.subjects = list(self.subjects)

    def __len__(self) -> int:
        return len(self.pose2d)

    @property
    def num_joints(self) -> int:
        return int(self.pose2d.shape[1])

    def arrays(self) -> dict[str, np.ndarray]:
        """The per-sample arrays by field name (the batch dict keys)."""
        return {name: getattr(self, name) for name in FIELDS}

    def validate(self, what: str = "PoseArrays") -> "PoseArrays":
        """Check shapes, joint counts and finiteness; raise DataFormatError saying what and where."""
        n = len(self.pose2d)
        if self.pose2d.ndim != 3 or self.pose2d.shape[2] != 2:
            raise DataFormatError(f"{what}: pose2d must be (N, J, 2), got {self.pose2d.shape}")
        if self.pose3d.ndim != 3 or self.pose3d.shape[2] != 3:
            raise DataFormatError(f"{what}: pose3d must be (N, J, 3), got {self.pose3d.shape}")
        if self.pose3d.shape[:2] != self.pose2d.shape[:2]:
            raise DataFormatError(
                f"{what}: pose2d {self.pose2d.shape} and pose3d {self.pose3d.shape} differ in samples or joints"
            )
        for name in ("action", "subject", "camera", "scene"):
            a = getattr(self, name)
            if a.shape != (n,):
                raise DataFormatError(f"{what}: {name} must be ({n},), got {a.shape}")
        if n and self.subjects and (self.subject.min() < 0 or self.subject.max() >= len(self.subjects)):
            raise DataFormatError(f"{what}: subject index outside the {len(self.subjects)} subjects")
        check_finite(self.pose2d, f"{what}.pose2d (sample, joint, coord)")
        check_finite(self.pose3d, f"{what}.pose3d (sample, joint, coord)")
        return self

    def subset(self, index: np.ndarray | slice) -> "PoseArrays":
        """Samples selected by an index array, boolean mask or slice."""
        return PoseArrays(**{k: v[index] for k, v in self.arrays().items()}, subjects=self.subjects)

    def stride(self, step: int) -> "PoseArrays":
        """Every `step`-th sample (a flat stride; loaders stride per sequence instead)."""
        return self.subset(slice(None, None, max(1, int(step))))

    @staticmethod
    def concat(parts: list["PoseArrays"]) -> "PoseArrays":
        """Concatenate; subject indices are remapped onto the union of the subject lists."""
        if not parts:
            raise DataError("nothing to concatenate: no samples were loaded")
        subjects: list[str] = []
        for p in parts:
            subjects += [s for s in p.subjects if s not in subjects]
        cols = {name: [] for name in FIELDS}
        for p in parts:
            remap = np.array([subjects.index(s) for s in p.subjects] or [0], dtype=np.int64)
            for name in FIELDS:
                a = getattr(p, name)
                cols[name].append(remap[a] if name == "subject" and p.subjects else a)
        return PoseArrays(**{k: np.concatenate(v) for k, v in cols.items()}, subjects=subjects)

    @staticmethod
    def empty(num_joints: int, subjects: list[str] | None = None) -> "PoseArrays":
        z = np.zeros((0,), np.int64)
        return PoseArrays(np.zeros((0, num_joints, 2)), np.zeros((0, num_joints, 3)), z, z, z, z,
                          subjects or [])


assert tuple(f.name for f in fields(PoseArrays))[:6] == FIELDS
