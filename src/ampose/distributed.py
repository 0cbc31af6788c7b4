"""Several processes (Lightning DDP) with Hydra: exact evaluation shards, one output folder per job.

- :class:`ShardSampler`: evaluation under DDP without padding. Lightning's DistributedSampler pads
  the last shard with repeated samples, so a metric summed over ranks would count some frames
  twice; here each rank walks its own contiguous shard and every frame is seen exactly once
  (the sum-reduced torchmetrics states then give exactly the one-process result).
- :func:`ddp_children_follow_the_job`: Lightning re-launches the script for ranks 1..N-1 with the
  parent's ``sys.argv``. In a Hydra multirun that argv is the whole sweep (``-m a=1,2``): every
  child would run the sweep again into a second multirun folder. The children are started
  instead as a single run of this job (its overrides, ``hydra.run.dir`` = the job's folder).
- :func:`end_ddp_job`: after a job whose ranks this process launched, destroy the process group
  and forget the launch variables, so that the next job of a multirun launches its own ranks.

Under SLURM (``hydra/launcher=slurm``) the ranks are SLURM tasks: nothing is re-launched and
none of the above but the sampler is involved.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Sequence

from torch.utils.data import DistributedSampler

# Set by Lightning's subprocess launcher in the launching process (rank 0).
LAUNCH_ENV = ("MASTER_ADDR", "MASTER_PORT", "NODE_RANK", "LOCAL_RANK", "WORLD_SIZE")


class ShardSampler(DistributedSampler):
    """Contiguous, disjoint, unpadded shards of ``range(n)``: rank r gets
    ``[n*r//world, n*(r+1)//world)``, in order. A DistributedSampler subclass, so that Lightning
    keeps it rather than injecting its padded one. Shards differ in length by at most one sample:
    fine for evaluation (no per-step collectives), not for training."""

    def __init__(self, n: int, rank: int, world_size: int) -> None:
        # No super().__init__: it wants a dataset and an initialised process group.
        self.num_replicas, self.rank, self.epoch = world_size, rank, 0
        self.start, self.stop = n * rank // world_size, n * (rank + 1) // world_size
        self.num_samples = self.total_size = self.stop - self.start
        self.shuffle, self.drop_last, self.seed = False, False, 0

    def __iter__(self) -> Iterator[int]:
        return iter(range(self.start, self.stop))

    def __len__(self) -> int:
        return self.stop - self.start


def eval_sampler(n: int, rank: int, world_size: int) -> ShardSampler | None:
    """The evaluation sampler of one rank: None on one process (a plain sequential pass)."""
    return ShardSampler(n, rank, world_size) if world_size > 1 else None


# ------------------------------------------------------------------------- Hydra + re-launch
def _job_command(local_rank: int) -> tuple[Sequence[str], str]:
    """The command of one re-launched rank: this Hydra job as a single run in its own folder."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.utils import get_original_cwd, to_absolute_path

    import __main__

    hc = HydraConfig.get()
    if __main__.__spec__ is None:
        command = [sys.executable, to_absolute_path(sys.argv[0])]
    else:
        command = [sys.executable, "-m", __main__.__spec__.name]
    # --config-dir/--config-path/--config-name as given; the overrides are this job's only
    # (in a multirun: one point of the sweep, not the sweep).
    argv, i = sys.argv[1:], 0
    while i < len(argv):
        arg = argv[i]
        if arg.split("=", 1)[0] in ("--config-dir", "-cd", "--config-path", "-cp", "--config-name", "-cn"):
            takes_next = "=" not in arg and i + 1 < len(argv)
            command += argv[i : i + 2] if takes_next else [arg]
            i += 2 if takes_next else 1
        else:
            i += 1
    command += list(hc.overrides.task)
    command += [f'hydra.run.dir="{hc.runtime.output_dir}"',  # the log: train_ or eval_ddp_process_<rank>.log
                f"hydra.job.name={hc.job.name}_ddp_process_{local_rank}", "hydra.output_subdir=null"]
    return command, get_original_cwd()


def ddp_children_follow_the_job() -> None:
    """Make Lightning re-launch ranks 1..N-1 as this Hydra job (see the module docstring).
    Idempotent; a no-op where Lightning's launcher module is not the expected one."""
    import importlib

    # Fabric's launcher defines the function; Lightning's imports it by name: patch both.
    for name in ("lightning_fabric.strategies.launchers.subprocess_script",
                 "pytorch_lightning.strategies.launchers.subprocess_script"):
        try:
            module = importlib.import_module(name)
        except ImportError:  # pragma: no cover
            continue
        if hasattr(module, "_hydra_subprocess_cmd"):
            module._hydra_subprocess_cmd = _job_command


def end_ddp_job() -> None:
    """Close this job's process group and forget the launch variables. Call it in the process
    that launched the ranks (``LOCAL_RANK`` was unset when its job began), after the job."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
    for key in LAUNCH_ENV:
        os.environ.pop(key, None)
