"""Human3.6M skeletons (17 and 16 joints) and the AMPose three-group graph partition.

Joint order and parents follow the field's 17-joint Human3.6M convention (VideoPose3D);
the 16-joint variant drops joint 9 (Neck/Nose).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch

H36M17_NAMES = (
    "Hip", "RHip", "RKnee", "RFoot", "LHip", "LKnee", "LFoot", "Spine", "Thorax",
    "Neck/Nose", "Head", "LShoulder", "LElbow", "LWrist", "RShoulder", "RElbow", "RWrist",
)
H36M17_PARENTS = (-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15)
H36M17_LEFT = (4, 5, 6, 11, 12, 13)
H36M17_RIGHT = (1, 2, 3, 14, 15, 16)

# 32-joint mocap -> 17 joints: the indices the field drops.
H36M32_DROP = (4, 5, 9, 10, 11, 16, 20, 21, 22, 23, 24, 28, 29, 30, 31)
H36M32_TO_17 = tuple(i for i in range(32) if i not in H36M32_DROP)
NECK_NOSE = 9
H36M17_TO_16 = tuple(i for i in range(17) if i != NECK_NOSE)


@dataclass(frozen=True)
class Skeleton:
    """A kinematic tree: joint names, parent of each joint (root has -1), left/right sides."""

    names: tuple[str, ...]
    parents: tuple[int, ...]
    left: tuple[int, ...]
    right: tuple[int, ...]

    def __post_init__(self) -> None:
        if len(self.names) != len(self.parents):
            raise ValueError(f"{len(self.names)} names but {len(self.parents)} parents")
        if self.parents[0] != -1 or any(not 0 <= p < j for j, p in enumerate(self.parents) if j):
            raise ValueError("parents must be topologically ordered with the root first")
        if len(self.left) != len(self.right):
            raise ValueError("left and right joint lists differ in length")

    @property
    def num_joints(self) -> int:
        return len(self.parents)

    @property
    def bones(self) -> list[tuple[int, int]]:
        """(parent, child) pairs."""
        return [(p, j) for j, p in enumerate(self.parents) if p >= 0]

    @property
    def flip_permutation(self) -> list[int]:
        """Index permutation that swaps left and right joints (an involution)."""
        perm = list(range(self.num_joints))
        for a, b in zip(self.left, self.right, strict=True):
            perm[a], perm[b] = b, a
        return perm

    def depth(self) -> np.ndarray:
        """Hop distance of each joint from the root."""
        d = np.zeros(self.num_joints, dtype=np.int64)
        for j, p in enumerate(self.parents):
            if p >= 0:
                d[j] = d[p] + 1
        return d

    def neighbour_groups(self) -> np.ndarray:
        """Binary adjacency per group, shape (3, J, J), rows are the receiving joint.

        Group 0: the joint itself (self-loop). Group 1: neighbours closer to the root.
        Group 2: neighbours farther from the root.
        """
        j = self.num_joints
        a = np.zeros((3, j, j), dtype=np.float32)
        a[0] = np.eye(j, dtype=np.float32)
        for parent, child in self.bones:
            a[1, child, parent] = 1.0  # the parent is closer to the root than the child
            a[2, parent, child] = 1.0
        return a


def normalise_groups(a: np.ndarray) -> np.ndarray:
    """Symmetric normalisation D^-1/2 A D^-1/2 per group; zero-degree rows stay zero.

    The degree of each group's graph is taken as its row sum (in-degree of the receiving joint)
    on the left and column sum on the right, which for a symmetric A is the usual degree.
    """
    out = np.zeros_like(a)
    for g in range(a.shape[0]):
        row = a[g].sum(axis=1)
        col = a[g].sum(axis=0)
        dr = np.where(row > 0, 1.0 / np.sqrt(np.maximum(row, 1e-12)), 0.0)
        dc = np.where(col > 0, 1.0 / np.sqrt(np.maximum(col, 1e-12)), 0.0)
        out[g] = dr[:, None] * a[g] * dc[None, :]
    return out.astype(np.float32)


def _reduce(s: Skeleton, keep: tuple[int, ...]) -> Skeleton:
    """Drop joints not in `keep`; a dropped joint's children are re-attached to its parent."""
    index = {old: new for new, old in enumerate(keep)}

    def kept_parent(j: int) -> int:
        p = s.parents[j]
        while p >= 0 and p not in index:
            p = s.parents[p]
        return index[p] if p >= 0 else -1

    return Skeleton(
        names=tuple(s.names[j] for j in keep),
        parents=tuple(kept_parent(j) for j in keep),
        left=tuple(index[j] for j in s.left if j in index),
        right=tuple(index[j] for j in s.right if j in index),
    )


H36M17 = Skeleton(H36M17_NAMES, H36M17_PARENTS, H36M17_LEFT, H36M17_RIGHT)
H36M16 = _reduce(H36M17, H36M17_TO_16)


def skeleton_for(num_joints: int) -> Skeleton:
    """The Human3.6M skeleton with 17 or 16 joints."""
    if num_joints == 17:
        return H36M17
    if num_joints == 16:
        return H36M16
    raise ValueError(f"num_joints must be 17 (Human3.6M) or 16 (without Neck/Nose), got {num_joints}")


@lru_cache(maxsize=None)
def _adjacency_np(num_joints: int) -> np.ndarray:
    return normalise_groups(skeleton_for(num_joints).neighbour_groups())


def group_adjacency(num_joints: int) -> torch.Tensor:
    """Normalised (3, J, J) adjacency of the paper's partition, as a float32 tensor."""
    return torch.from_numpy(_adjacency_np(num_joints).copy())
