"""PoseDataModule: Human3.6M (real or synthetic) for training and testing, MPI-INF-3DHP for testing.

prepare_data does the one-time work on one process (generate the synthetic files, cache the
ground-truth 2D); setup loads on every process. Batches are dicts of tensors with the
PoseArrays field names.

With gpu_resident=True the training loop never waits on Python data loading: the whole split
(Human3.6M train is ~1.5 M samples x 17 joints) sits on the trainer's device, each epoch draws a
permutation there, batches are gathered by index, and flip augmentation is a masked
`torch.where`; nothing reads a value back to the host (ResidentLoader).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from ampose.data import h36m
from ampose.data.arrays import DataError, PoseArrays
from ampose.data.skeleton import Skeleton, skeleton_for
from ampose.data.transforms import flip_where
from ampose.data.views import check_errors_keypoints
from ampose.distributed import eval_sampler

log = logging.getLogger(__name__)

DATASETS = ("synthetic", "h36m", "mpi_3dhp")
MPI_FILES = ("data_test_3dhp.npz", "test_3dhp.npz")


def default_synthetic_root() -> Path:
    """Where the synthetic files are cached: $AMPOSE_DATA_DIR/synthetic or ~/.cache/ampose/synthetic."""
    base = os.environ.get("AMPOSE_DATA_DIR")
    return Path(base) / "synthetic" if base else Path.home() / ".cache" / "ampose" / "synthetic"


def to_tensors(arrays: PoseArrays, device: torch.device | str = "cpu") -> dict[str, torch.Tensor]:
    """PoseArrays -> dict of tensors on `device` (the batch dict keys)."""
    return {k: torch.from_numpy(v).to(device) for k, v in arrays.arrays().items()}


def subject_list(name: str, subjects: Any) -> list[str]:
    """A subject list from the config; one bare name (``data.val_subjects=S8``) is a list of one,
    not a list of its characters."""
    if isinstance(subjects, str):
        return [subjects]
    try:
        return [str(s) for s in subjects]
    except TypeError:
        raise DataError(f"data.{name} must be a list of subjects like [S8], got {subjects!r}") from None


class ResidentLoader:
    """An iterable of batch dicts over device-resident tensors, with __len__ (batches per epoch).

    Training (shuffle=True): every rank draws the same permutation (seeded by seed + epoch) and
    takes its own equal-sized strided shard of it. Evaluation (shuffle=False): each rank walks
    its own contiguous shard in order, so over all ranks every sample is seen exactly once.
    With ``overfit`` (Lightning's ``overfit_batches``) training takes the same strided shards of
    the unpermuted order, without flips, every epoch: what Lightning's SequentialSampler (wrapped
    in its DistributedSampler under DDP) gives the DataLoader path, which it cannot swap in here.
    """

    def __init__(
        self, tensors: dict[str, torch.Tensor], batch_size: int, shuffle: bool = False,
        flip: bool = False, skeleton: Skeleton | None = None, seed: int = 0,
        rank: int = 0, world_size: int = 1, overfit: bool = False,
    ) -> None:
        if flip and skeleton is None:
            raise ValueError("flip augmentation needs the skeleton")
        flip = flip and not overfit
        self.tensors = tensors
        self.batch_size = int(batch_size)
        self.shuffle, self.flip, self.seed, self.overfit = shuffle, flip, seed, overfit
        self.rank, self.world_size = rank, world_size
        self.device = tensors["pose2d"].device
        self.n = len(tensors["pose2d"])
        self.epoch = 0
        if flip:
            self.perm = torch.tensor(skeleton.flip_permutation, device=self.device)  # type: ignore[union-attr]
        if shuffle:  # equal shards keep DDP ranks in step
            self.shard_size = self.n // world_size
            self.start = 0
        else:  # contiguous, disjoint, covering [0, n)
            self.start = self.n * rank // world_size
            self.shard_size = self.n * (rank + 1) // world_size - self.start

    def __len__(self) -> int:
        return -(-self.shard_size // self.batch_size)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    @property
    def sampler(self) -> ResidentLoader:
        """Lightning calls ``loader.sampler.set_epoch(epoch)`` before every training epoch (its hook
        for DistributedSampler): exposing the loader itself there keeps the permutation a function
        of (seed, epoch), also in a run resumed from a checkpoint (a fresh loader starts at 0)."""
        return self

    batch_sampler = None  # Lightning reads it next to `sampler` (e.g. to tell whether it shuffles)

    def _indices(self, gen: torch.Generator | None) -> torch.Tensor:
        if not self.shuffle:
            return torch.arange(self.start, self.start + self.shard_size, device=self.device)
        if self.overfit:
            perm = torch.arange(self.n, device=self.device)
        else:
            perm = torch.randperm(self.n, device=self.device, generator=gen)
        return perm[self.rank : self.shard_size * self.world_size : self.world_size]

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        random = (self.shuffle and not self.overfit) or self.flip
        gen = epoch_generator(self.seed, self.epoch, self.device) if random else None
        self.epoch += 1
        index = self._indices(gen)
        for start in range(0, self.shard_size, self.batch_size):
            idx = index[start : start + self.batch_size]
            batch = {k: v.index_select(0, idx) for k, v in self.tensors.items()}
            if self.flip:
                mask = torch.rand(len(idx), device=self.device, generator=gen) < 0.5
                batch["pose2d"] = flip_where(batch["pose2d"], mask, self.perm)
                batch["pose3d"] = flip_where(batch["pose3d"], mask, self.perm)
            yield batch


def epoch_generator(seed: int, epoch: int, device: torch.device | str = "cpu") -> torch.Generator:
    """The generator of one training epoch's order and flips: a function of (seed, epoch) only."""
    gen = torch.Generator(device=device)
    gen.manual_seed(seed * 100_003 + epoch)
    return gen


class EpochSampler(Sampler[int]):
    """Training order of the CPU path, drawn from (seed, epoch) rather than the global RNG.

    Lightning calls ``set_epoch`` before every training epoch, so a run resumed from a checkpoint
    sees the same batches (and flips) as the uninterrupted run; ``shuffle=True`` would draw from
    the global RNG, whose state a checkpoint does not hold. With ``flip`` the sampler also decides
    the flips: it yields ``i + n`` for the mirrored copy of sample ``i`` (see BatchDataset), which
    keeps the choice in the main process, also with DataLoader workers.
    """

    def __init__(self, n: int, seed: int = 0, flip: bool = False) -> None:
        self.n, self.seed, self.flip = n, seed, flip
        self.epoch = 0

    def __len__(self) -> int:
        return self.n

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self) -> Iterator[int]:
        gen = epoch_generator(self.seed, self.epoch)
        index = torch.randperm(self.n, generator=gen)
        if self.flip:
            index += self.n * (torch.rand(self.n, generator=gen) < 0.5)
        return iter(index.tolist())


class BatchDataset(Dataset):
    """Map-style dataset whose __getitems__ gathers a whole batch at once (fast CPU path).

    With ``flip`` the indices ``n..2n-1`` are the mirrored copies of samples ``0..n-1``
    (EpochSampler draws them).
    """

    def __init__(self, arrays: PoseArrays, flip: bool = False) -> None:
        self.tensors = to_tensors(arrays)
        self.flip = flip
        self.perm = torch.tensor(skeleton_for(arrays.num_joints).flip_permutation)

    def __len__(self) -> int:
        return len(self.tensors["pose2d"])

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {k: v[i] for k, v in self.tensors.items()}

    def __getitems__(self, indices: list[int]) -> dict[str, torch.Tensor]:
        idx = torch.as_tensor(indices)
        n = len(self)
        batch = {k: v[idx % n] for k, v in self.tensors.items()}
        if self.flip:
            mask = idx >= n
            batch["pose2d"] = flip_where(batch["pose2d"], mask, self.perm)
            batch["pose3d"] = flip_where(batch["pose3d"], mask, self.perm)
        return batch


def keep_batch(batch: Any) -> Any:
    """collate_fn for BatchDataset: the batch is already assembled."""
    return batch


class PoseDataModule(pl.LightningDataModule):
    """Lifting data for Lightning.

    Args:
        dataset: "synthetic" (default; generated on first use), "h36m", or "mpi_3dhp" (test only).
        root: folder with the files; None -> the synthetic cache (default_synthetic_root()).
        keypoints: "gt" (ground-truth 2D, cached or projected), "cpn", "sh", or a 2D npz name/path.
        num_joints: 17, or 16 (drops Neck/Nose).
        train_subjects / test_subjects: Human3.6M splits.
        val_subjects: None -> validate on test_subjects; a list -> held out of training and validated on.
        stride / eval_stride: frame stride for training / evaluation sequences.
        flip_augment: random horizontal flip of each training sample.
        virtual_views: add this many turned copies of every training sequence (each frame's
            world pose turned about the vertical through its root, projected through the same
            camera; ampose.data.views). With detections, each frame's detection error is kept
            on the turned body's projection; 0 = off.
        virtual_bodies: add this many copies of every training sequence with new bone lengths
            (each bone scaled by a factor in [1/(1+bodies_spread), 1+bodies_spread], the same on
            both sides, projected through the same camera; ampose.data.views). With detections,
            each frame's detection moves with its ground-truth projection; 0 = off.
        virtual_errors: add this many copies of every training sequence whose detection errors
            are shuffled in time within each sequence and camera (ampose.data.views). Detected
            2D only; 0 = off.
        gpu_resident: keep tensors on the trainer's device and sample batches there.
        file_3d: the 3D file's name in root.
        test_file: 3DHP test npz (name in root or path); None -> the first of MPI_FILES present.
        synthetic_seed: seed of the generator for the synthetic files.
        seed: seed of the training order and flips (both paths, redrawn from (seed, epoch) every
            epoch so that a resumed run sees the batches of the uninterrupted one); None -> the
            run's seed (``pl.seed_everything``, $PL_GLOBAL_SEED), else 0.
    """

    def __init__(
        self,
        dataset: str = "synthetic",
        root: str | Path | None = None,
        keypoints: str = "gt",
        num_joints: int = 17,
        train_subjects: list[str] | tuple[str, ...] = h36m.TRAIN_SUBJECTS,
        test_subjects: list[str] | tuple[str, ...] = h36m.TEST_SUBJECTS,
        val_subjects: list[str] | tuple[str, ...] | None = None,
        stride: int = 1,
        eval_stride: int = 1,
        flip_augment: bool = True,
        virtual_views: int = 0,
        virtual_bodies: int = 0,
        bodies_spread: float = 0.15,
        virtual_errors: int = 0,
        batch_size: int = 1024,
        eval_batch_size: int = 4096,
        num_workers: int = 0,
        pin_memory: bool = False,
        gpu_resident: bool = False,
        file_3d: str = h36m.FILE_3D,
        test_file: str | None = None,
        synthetic_seed: int = 0,
        seed: int | None = None,
    ) -> None:
        super().__init__()
        if dataset not in DATASETS:
            raise DataError(f"dataset must be one of {DATASETS}, got {dataset!r}")
        self.skeleton: Skeleton = skeleton_for(num_joints)  # validates num_joints
        self.dataset = dataset
        self.root = Path(root).expanduser() if root else default_synthetic_root()
        self._root_given = bool(root)
        self.keypoints, self.num_joints = keypoints, int(num_joints)
        self.train_subjects = subject_list("train_subjects", train_subjects)
        self.test_subjects = subject_list("test_subjects", test_subjects)
        self.val_subjects = subject_list("val_subjects", val_subjects) if val_subjects else None
        for name, step in (("stride", stride), ("eval_stride", eval_stride)):
            if isinstance(step, bool) or not isinstance(step, int) or step < 1:
                raise DataError(f"data.{name} must be a whole number >= 1 (every n-th frame), got {step!r}")
        self.stride, self.eval_stride = int(stride), int(eval_stride)
        if dataset == "mpi_3dhp" and self.eval_stride != 1:  # it would otherwise be ignored without a word
            log.warning("data.eval_stride=%d is ignored for dataset=mpi_3dhp: its protocol scores every valid "
                        "test frame", self.eval_stride)
        self.flip_augment = flip_augment
        for name, copies in (("virtual_views", virtual_views), ("virtual_bodies", virtual_bodies),
                             ("virtual_errors", virtual_errors)):
            if int(copies) < 0:
                raise DataError(f"{name} must be >= 0, got {copies}")
            # said here, at configuration, not at the first load
            if copies and dataset not in ("h36m", "synthetic"):
                raise DataError(f"{name} needs Human3.6M-style motion capture (dataset=h36m or synthetic), "
                                f"got dataset={dataset!r}")
        check_errors_keypoints(int(virtual_errors), keypoints)
        if not 0.0 <= float(bodies_spread) < 1.0:
            raise DataError(f"bodies_spread must be in [0, 1), got {bodies_spread}")
        self.virtual_views = int(virtual_views)
        self.virtual_bodies, self.bodies_spread = int(virtual_bodies), float(bodies_spread)
        self.virtual_errors = int(virtual_errors)
        self.batch_size, self.eval_batch_size = int(batch_size), int(eval_batch_size)
        self.num_workers, self.pin_memory, self.gpu_resident = num_workers, pin_memory, gpu_resident
        self.file_3d, self.test_file = file_3d, test_file
        self.synthetic_seed, self.seed = synthetic_seed, seed
        self.data_train: PoseArrays | None = None
        self.data_val: PoseArrays | None = None
        self.data_test: PoseArrays | None = None

    # ------------------------------------------------------------------ one-time work, then load
    def prepare_data(self) -> None:
        """Generate the synthetic files on first use and cache the ground-truth 2D (no state kept)."""
        synthetic = self.dataset == "synthetic" or (self.dataset == "mpi_3dhp" and self._root_is_synthetic())
        if synthetic and not (self.root / h36m.FILE_3D).exists():
            from ampose.data.synthetic import write_synthetic

            if self._root_given and self.dataset == "synthetic":  # perhaps a mistyped Human3.6M folder
                log.warning("data.root=%s holds no %s: writing the synthetic dataset there (the default data); "
                            "for Human3.6M add data=h36m or an experiment=h36m_*", self.root, h36m.FILE_3D)
            log.info("generating synthetic data in %s (first use)", self.root)
            write_synthetic(self.root, seed=self.synthetic_seed)
        if synthetic and self.dataset == "mpi_3dhp":  # said every time: its tables look like the real Table 3
            log.warning("dataset=mpi_3dhp without data.root (test_data.root): testing on the synthetic 3DHP "
                        "stand-in in %s, not on MPI-INF-3DHP", self.root)
        if synthetic and self.dataset == "mpi_3dhp" and not any((self.root / f).exists() for f in MPI_FILES):
            from ampose.data.synthetic_3dhp import write_synthetic_3dhp

            write_synthetic_3dhp(self.root / MPI_FILES[0], self.synthetic_seed)
        if self.dataset in ("synthetic", "h36m") and self.keypoints == "gt":
            if not (self.root / self.file_3d).exists():
                h36m.read_3d(self.root / self.file_3d)  # raises the clear missing-file error
            h36m.ensure_gt_2d(self.root, self.file_3d)

    def check_files(self) -> None:
        """Raise the loaders' own one-line error now if a file this data needs is missing (for
        ``test_data``: a typo in its root must not wait for the end of a training)."""
        if self.dataset == "h36m" and not (self.root / self.file_3d).is_file():
            h36m.read_3d(self.root / self.file_3d)  # raises the clear missing-file error
        if self.dataset == "mpi_3dhp" and not self._root_is_synthetic() and not self._test_path().is_file():
            from ampose.data.mpi_3dhp import load_3dhp_test

            load_3dhp_test(self._test_path(), self.num_joints)  # raises the clear missing-file error

    def _root_is_synthetic(self) -> bool:
        return self.root == default_synthetic_root()

    @property
    def stand_in(self) -> str:
        """" (synthetic stand-in)" when the test set is the generated 3DHP look-alike (the default
        cache, or a file carrying the generator's marker, e.g. from `ampose-data synth DIR`), else
        "": for result titles, which otherwise read like the real Table 3."""
        if self.dataset != "mpi_3dhp":
            return ""
        from ampose.data.mpi_3dhp import is_synthetic

        return " (synthetic stand-in)" if self._root_is_synthetic() or is_synthetic(self._test_path()) else ""

    def setup(self, stage: str | None = None) -> None:
        if self.dataset == "mpi_3dhp":
            if stage == "fit":
                raise DataError("dataset=mpi_3dhp is test-only: train on h36m or synthetic, then evaluate on it")
            if self.data_test is None:
                self.data_test = self._load_3dhp()
            self.data_val = self.data_test
            return
        if stage in ("fit", None) and self.data_train is None:
            held_out = set(self.val_subjects or [])
            train = [s for s in self.train_subjects if s not in held_out]
            self.data_train = self._load(train, self.stride, augment=True)
        if stage in ("fit", "validate", None) and self.data_val is None:
            self.data_val = self._load(self.val_subjects or self.test_subjects, self.eval_stride)
        if stage in ("test", "predict", None) and self.data_test is None:
            self.data_test = self._load(self.test_subjects, self.eval_stride)

    def _load(self, subjects: list[str], stride: int, augment: bool = False) -> PoseArrays:
        """`augment`: the training set, with its virtual views and bodies."""
        arrays = h36m.load_h36m(self.root, subjects, self.keypoints, self.num_joints, stride, self.file_3d,
                                self.virtual_views if augment else 0, views_seed=self.synthetic_seed,
                                virtual_bodies=self.virtual_bodies if augment else 0,
                                bodies_spread=self.bodies_spread,
                                virtual_errors=self.virtual_errors if augment else 0)
        log.info("%s %s: %d samples", self.dataset, subjects, len(arrays))
        return arrays

    def _test_path(self) -> Path:
        """The 3DHP test file: test_file (in root or a path), else the first of MPI_FILES present."""
        if self.test_file:
            path = Path(self.test_file).expanduser()
            return path if path.is_absolute() else self.root / path
        return next((self.root / f for f in MPI_FILES if (self.root / f).exists()), self.root / MPI_FILES[0])

    def _load_3dhp(self) -> PoseArrays:
        from ampose.data.mpi_3dhp import load_3dhp_test

        return load_3dhp_test(self._test_path(), self.num_joints)

    # ---------------------------------------------------------------------------- dataloaders
    def _device(self) -> torch.device:
        trainer = getattr(self, "trainer", None)
        return trainer.strategy.root_device if trainer is not None else torch.device("cpu")

    def _rank(self) -> tuple[int, int]:
        trainer = getattr(self, "trainer", None)
        return (trainer.global_rank, trainer.world_size) if trainer is not None else (0, 1)

    def _overfit(self) -> bool:
        """Lightning's ``overfit_batches`` is on: it gives a DataLoader its SequentialSampler (the
        first batches, unflipped, every epoch); the resident loader must be told."""
        trainer = getattr(self, "trainer", None)
        return trainer is not None and trainer.overfit_batches > 0

    def _loader(self, arrays: PoseArrays | None, train: bool) -> Any:
        if arrays is None:
            raise DataError("setup() has not loaded this split")
        batch_size = self.batch_size if train else self.eval_batch_size
        flip = train and self.flip_augment
        seed = self.seed if self.seed is not None else int(os.environ.get("PL_GLOBAL_SEED", 0))
        if self.gpu_resident:
            rank, world = self._rank()
            return ResidentLoader(to_tensors(arrays, self._device()), batch_size, shuffle=train, flip=flip,
                                  skeleton=self.skeleton, seed=seed, rank=rank, world_size=world,
                                  overfit=train and self._overfit())
        # Evaluation under DDP: unpadded per-rank shards (Lightning's DistributedSampler repeats
        # samples to even out the ranks, which would bias the summed metrics); None on one process.
        sampler = EpochSampler(len(arrays), seed, flip) if train else eval_sampler(len(arrays), *self._rank())
        return DataLoader(
            BatchDataset(arrays, flip=flip), batch_size=batch_size, sampler=sampler, collate_fn=keep_batch,
            num_workers=self.num_workers, pin_memory=self.pin_memory,
            persistent_workers=self.num_workers > 0,
        )

    def train_dataloader(self) -> Any:
        return self._loader(self.data_train, train=True)

    def val_dataloader(self) -> Any:
        return self._loader(self.data_val, train=False)

    def test_dataloader(self) -> Any:
        return self._loader(self.data_test, train=False)

    def predict_dataloader(self) -> Any:
        return self._loader(self.data_test, train=False)
