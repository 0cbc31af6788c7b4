"""`ampose-train` (also `python -m ampose.train`): train, test (``test_ckpt``), print the tables.

    ampose-train                                   # CPU-sized default on synthetic data
    ampose-train experiment=h36m_cpn17 data.root=DIR
    ampose-train -m sweep=example

Configs live in the repository's top-level ``conf/`` (see :func:`find_config_dir`). Outputs go
to Hydra's run directory: checkpoints/, csv/, wandb/, results.md, table_*.csv, metrics.json.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import logging
import math
import os
import time
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from omegaconf import DictConfig, OmegaConf, open_dict

from ampose.fileio import write_text_atomic

log = logging.getLogger("ampose.train")


# ----------------------------------------------------------------------------------- config
def find_config_dir() -> Path:
    """The Hydra config folder: $AMPOSE_CONFIG_DIR, else ``conf/`` of the source checkout."""
    env = os.environ.get("AMPOSE_CONFIG_DIR")
    path = Path(env) if env else Path(__file__).resolve().parents[2] / "conf"
    if not (path / "train.yaml").is_file():
        raise FileNotFoundError(
            f"ampose's Hydra configs were not found at {path}. Install ampose from a source "
            "checkout (`pip install -e .`, the configs stay in its conf/), or set "
            "AMPOSE_CONFIG_DIR to a folder holding train.yaml and eval.yaml.")
    return path


def _sweep_task(*, _root_: DictConfig) -> str:
    """``${ampose.sweep_task:}`` (conf/hydra/default.yaml): the multirun's task name, for its folder.
    Kept in the config's resolver cache: the launcher resolves it on the sweep's own config and
    Hydra copies that cache into every job's (as it does for ``${now:}``), so jobs whose experiment
    sets another task_name (``-m experiment=h36m_gt16,h36m_gt17``) stay in the one sweep folder.
    (OmegaConf's own ``use_cache`` does not take ``_root_``.)"""
    cache = OmegaConf.get_cache(_root_).setdefault("ampose.sweep_task", {})
    return cache.setdefault("", str(_root_.get("task_name") or "train"))


if not OmegaConf.has_resolver("ampose.sweep_task"):
    OmegaConf.register_new_resolver("ampose.sweep_task", _sweep_task)


def compose_config(config_name: str = "train", overrides: Sequence[str] = (),
                   output_dir: str | Path | None = None) -> DictConfig:
    """Compose a config outside a Hydra app (notebooks, tests), ready for :func:`train`.

    ``output_dir`` stands in for Hydra's run directory (default: a fresh folder under outputs/).
    """
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.hydra_config import HydraConfig

    GlobalHydra.instance().clear()
    with initialize_config_dir(str(find_config_dir()), version_base="1.3"):
        cfg = compose(config_name, overrides=list(overrides), return_hydra_config=True)
    out = Path(output_dir) if output_dir else Path("outputs") / "notebook" / time.strftime("%Y-%m-%d_%H-%M-%S")
    with open_dict(cfg):
        cfg.hydra.runtime.output_dir = str(out.resolve())
        cfg.hydra.runtime.cwd = os.getcwd()
        cfg.hydra.job.num = 0
    HydraConfig.instance().set_config(cfg)
    return cfg


def _hydra_runtime() -> tuple[bool, Any]:
    """(is multirun, hydra config or None)."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    if not HydraConfig.initialized():
        return False, None
    hc = HydraConfig.get()
    return hc.mode == RunMode.MULTIRUN, hc


# ---------------------------------------------------------------------------------- loggers
def wandb_offline() -> bool:
    """W&B offline unless the user is logged in (WANDB_API_KEY, or api.wandb.ai in ~/.netrc);
    WANDB_MODE=offline/disabled forces offline and WANDB_MODE=online forces online."""
    mode = os.environ.get("WANDB_MODE", "").lower()
    if mode in ("offline", "dryrun", "disabled"):
        return True
    if mode == "online" or os.environ.get("WANDB_API_KEY"):
        return False
    netrc = Path(os.environ.get("NETRC", Path.home() / ".netrc"))
    try:
        return "api.wandb.ai" not in netrc.read_text()
    except OSError:
        return True


def wandb_run_id(run_dir: Path, resuming: bool) -> str:
    """The W&B run id of the job in ``run_dir``: the one it was given before when it resumes
    (kept in ``wandb_id.txt``), a new one otherwise (a rerun from scratch is a new W&B run)."""
    import uuid

    path = run_dir / "wandb_id.txt"
    if resuming and path.is_file() and path.read_text().strip():
        return path.read_text().strip()
    run_id = uuid.uuid4().hex[:12]
    write_text_atomic(path, run_id + "\n")
    return run_id


def sweep_group(sweep_dir: str | Path) -> str:
    """A multirun's W&B group, the same for all its jobs (whatever task_name each one's experiment
    sets): its folder, ``<task>/multirun/<time>`` -> ``<task>-<time>``, else ``<parent>-<name>``."""
    d = Path(sweep_dir)
    return f"{d.parent.parent.name if d.parent.name == 'multirun' else d.parent.name}-{d.name}"


def _as_written(overrides: Any) -> list[str]:
    """A list of overrides as typed (``${...}`` in a value is not resolved)."""
    items = OmegaConf.to_container(overrides, resolve=False) if OmegaConf.is_config(overrides) else overrides
    return [str(o) for o in items or []]


def run_name(task_name: str, hc: Any, limit: int = 120) -> str:
    """A multirun job's W&B name: ``<task>-<job> <the overrides it sweeps>``. The overrides the whole
    sweep shares (``data.root=...``, ``experiment=...``) are left out, as the sweep's multirun.yaml
    lists them: within ``limit`` they crowded out the swept block or seed (Table 4's ablation)."""
    overrides = _as_written(hc.overrides.task)
    shared_path = Path(hc.sweep.dir) / "multirun.yaml"
    if shared_path.is_file():  # Hydra's sweepers write it before the first job
        shared = set(_as_written(OmegaConf.select(OmegaConf.load(shared_path), "hydra.overrides.task", default=None)))
        overrides = [o for o in overrides if o not in shared] or overrides
    return f"{task_name}-{hc.job.num} {','.join(sorted(overrides))}"[:limit].rstrip()


def instantiate_loggers(cfg: DictConfig | None, task_name: str = "train",
                        resume_step: int | None = None) -> list[Any]:
    """Loggers of the ``logger`` group. W&B is skipped with a warning when the package is
    missing (a CSV logger is then added if none is configured); ``import wandb`` stays lazy.
    ``resume_step``: the step of the checkpoint a resumed run starts from; ampose's CSV logger
    then keeps the earlier log up to it instead of starting a new one."""
    from hydra.utils import instantiate

    from ampose.loggers import CSVLogger

    loggers: list[Any] = []
    entries = [v for v in (cfg or {}).values() if isinstance(v, DictConfig) and "_target_" in v]
    multirun, hc = _hydra_runtime()
    for entry in entries:
        if entry._target_.endswith("WandbLogger"):
            if importlib.util.find_spec("wandb") is None:
                warnings.warn("wandb is not installed: logging to CSV only", stacklevel=2)
                if not any(e._target_.endswith("CSVLogger") for e in entries):
                    loggers.append(CSVLogger(save_dir=entry.save_dir, name="csv", version=""))
                continue
            extra: dict[str, Any] = {}
            if entry.get("offline") is None:
                extra["offline"] = wandb_offline()
            if entry.get("group") is None and multirun:
                extra["group"] = sweep_group(hc.sweep.dir)
            if entry.get("name") is None:
                extra["name"] = run_name(task_name, hc) if multirun else task_name
            if entry.get("id") is None:  # a resumed job continues its W&B run instead of starting another
                extra["id"], extra["resume"] = wandb_run_id(Path(entry.save_dir), resume_step is not None), "allow"
            loggers.append(instantiate(entry, **extra))
        else:
            loggers.append(instantiate(entry))
    for logger in loggers:  # its writer is made on first use, so the step can still be set
        if isinstance(logger, CSVLogger):
            logger.keep_until_step = resume_step
    return loggers


def instantiate_callbacks(cfg: DictConfig | None, have_logger: bool) -> list[pl.Callback]:
    """Callbacks of the ``callbacks`` group (the LR monitor only when something logs)."""
    from hydra.utils import instantiate

    out = []
    for entry in (cfg or {}).values():
        if not isinstance(entry, DictConfig) or "_target_" not in entry:
            continue
        if entry._target_.endswith("LearningRateMonitor") and not have_logger:
            continue
        out.append(instantiate(entry))
    return out


def _resolved(cfg: DictConfig, key: str) -> Any:
    """``cfg[key]`` as plain values, resolved where it can be (as written where it cannot)."""
    try:
        value = cfg[key]
        return OmegaConf.to_container(value, resolve=True) if OmegaConf.is_config(value) else value
    except Exception:  # noqa: BLE001 (an interpolation that needs Hydra's runtime, a ??? value)
        return OmegaConf.to_container(cfg, resolve=False).get(key)


def log_hyperparameters(cfg: DictConfig, lit: pl.LightningModule, trainer: pl.Trainer, **extra: Any) -> None:
    """Send the resolved config, the parameter counts and the seed to every logger (``extra``: keys
    set or replaced, e.g. the data config an evaluation took from its checkpoint)."""
    if not trainer.loggers:
        return
    # The whole resolved config (every key a sweep may vary: test_ckpt, callbacks, test_data, ...).
    hparams = {k: _resolved(cfg, k) for k in cfg if k != "hydra"} | extra
    params = list(lit.net.parameters())
    hparams["model/params/total"] = sum(p.numel() for p in params)
    hparams["model/params/trainable"] = sum(p.numel() for p in params if p.requires_grad)
    for logger in trainer.loggers:
        logger.log_hyperparams(hparams)


def finish_wandb(failed: bool = False) -> None:
    """End the W&B run of this job (so that each multirun job is its own run); a failed job is
    marked failed there too (exit code 1), not finished."""
    import sys

    wandb = sys.modules.get("wandb")
    if wandb is not None and getattr(wandb, "run", None) is not None:
        wandb.finish(exit_code=1 if failed else 0)


@contextlib.contextmanager
def wandb_job() -> Iterator[None]:
    """One job of a train or eval multirun: its W&B run ends with it, marked failed on an error
    (Lightning would otherwise log the next job into the run still open)."""
    failed = True
    try:
        yield
        failed = False
    finally:
        finish_wandb(failed)


# ------------------------------------------------------------------------------- pictures
def save_pictures(lit: Any, datamodule: Any, out_dir: Path, count: int, loggers: Sequence[Any]) -> list[Path]:
    """PNGs of a few test predictions against the truth (and to W&B when it logs)."""
    if count <= 0:
        return []
    try:
        from ampose import viz
    except ImportError as e:  # matplotlib missing: pictures are optional
        log.warning("no skeleton pictures: %s", e)
        return []
    batch = next(iter(datamodule.test_dataloader()))
    n = min(count, len(batch["pose2d"]))
    idx = torch.linspace(0, len(batch["pose2d"]) - 1, n).long()
    lit.eval()
    with torch.no_grad():
        pose2d = batch["pose2d"][idx].to(lit.device)
        pred = lit.predict_3d(pose2d).float().cpu().numpy()
    gt = batch["pose3d"][idx].cpu().numpy()
    paths = [viz.save_pose_png(out_dir / "pictures" / f"test_{i}.png", pose2d[k].cpu().numpy(), pred[k], gt[k],
                               title=f"test sample {int(i)}")
             for k, i in enumerate(idx.tolist())]
    for logger in loggers:
        if type(logger).__name__ == "WandbLogger":
            logger.log_image(key="test/pictures", images=[str(p) for p in paths])
    return paths


# ------------------------------------------------------------------------------- summary
def write_results(lit: Any, out_dir: Path, title: str, extra: dict[str, Any] | None = None,
                  loggers: Sequence[Any] = ()) -> str:
    """Print-ready tables (also written as results.md, table_*.csv, metrics.json, and sent to
    W&B as tables when it logs)."""
    from ampose.tables import report

    text = report(lit.test_results, out_dir, title=title)
    record = {"test_results": lit.test_results, **(extra or {})}
    write_text_atomic(out_dir / "metrics.json", json.dumps(record, indent=2, default=float))
    log_tables(out_dir, loggers)
    return text


def _cell(text: str) -> float | str:
    try:
        return float(text)
    except ValueError:
        return text


def log_tables(out_dir: Path, loggers: Sequence[Any]) -> int:
    """The run's result tables (table_*.csv: per action, per joint, bones, 3DHP by scene) as W&B
    tables (``test/table_h36m``, ...); returns how many were sent."""
    import csv

    wandb_loggers = [lg for lg in loggers if type(lg).__name__ == "WandbLogger"]
    sent = 0
    for path in sorted(out_dir.glob("table_*.csv")) if wandb_loggers else []:
        with path.open(newline="") as f:
            head, *rows = list(csv.reader(f))
        rows = [[_cell(v) for v in row] for row in rows]  # numbers as numbers: plotted, aggregated in W&B
        for logger in wandb_loggers:
            logger.log_table(key=f"test/{path.stem}", columns=head, data=rows)
        sent += 1
    return sent


def get_metric_value(metrics: dict[str, Any], name: str | None) -> float | None:
    """The value returned to sweepers: NaN, with a warning, when the run did not log it (no
    validation ran, e.g. ``trainer.limit_val_batches=0``); Optuna counts a NaN trial as failed."""
    if not name:
        return None
    if name not in metrics:
        log.warning("optimized_metric %r was not logged (did validation run?): the sweeper gets NaN; logged: %s",
                    name, ", ".join(sorted(metrics)) or "nothing")
        return float("nan")
    return float(metrics[name])


# The config's true/false switches. Hydra passes `model.flip_test=no` on as the string "no", which
# Python reads as true: each is made a real bool (yes/no, on/off accepted) or refused in one line.
SWITCHES = ("train", "test", "model.flip_test", "model.compile", "model.fused", "model.procrustes",
            "model.root_relative", "data.flip_augment", "data.gpu_resident", "data.pin_memory")


# The numbers read late (after training, or deep in a constructor with a message that names no
# key), checked before any work: (kind, minimum, null allowed).
NUMBERS: dict[str, tuple[type, float | None, bool]] = {
    "num_pictures": (int, 0, False), "trainer.max_epochs": (int, -1, True),
    "data.batch_size": (int, 1, False), "data.eval_batch_size": (int, 1, False),
    "data.stride": (int, 1, False), "data.eval_stride": (int, 1, False), "data.num_workers": (int, 0, False),
    "data.virtual_views": (int, 0, False), "data.virtual_bodies": (int, 0, False),
    "data.virtual_errors": (int, 0, False), "data.bodies_spread": (float, 0, False),
    "model.warmup_steps": (int, 0, False), "model.ema_decay": (float, 0, True),
    "model.input_noise": (float, 0, False), "model.optimizer.lr": (float, 0, False),
    # The network's sizes: a sweep's "2.5" or "abc" failed deep in the constructor (a TypeError naming
    # no key), num_heads=0 as a ZeroDivisionError. Their ranges stay the networks' own messages.
    "model.net.depth": (int, None, False), "model.net.dim": (int, None, False),
    "model.net.num_heads": (int, 1, False), "model.net.width": (int, None, False),
    "model.net.num_blocks": (int, None, False),
}


def check_numbers(cfg: DictConfig) -> None:
    """Each of NUMBERS that the config sets, checked (``ampose.options.check_number``)."""
    from ampose.options import check_number

    for key, (kind, minimum, nullable) in NUMBERS.items():
        value = OmegaConf.select(cfg, key, default="<absent>")
        if value != "<absent>":
            check_number(value, key, kind, minimum, nullable)


def normalise_switches(cfg: DictConfig) -> None:
    """Replace each switch in ``cfg`` by its bool (``as_bool``); a ValueError names a bad one."""
    from ampose.options import as_bool

    for key in SWITCHES:
        value = OmegaConf.select(cfg, key, default=None)
        if value is not None and not isinstance(value, bool):
            OmegaConf.update(cfg, key, as_bool(value, key), merge=False)


def _integer(key: str, value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ValueError(f"{key} must be an integer, got {value!r}") from None


def checkpoint_file(ckpt_path: str, out_dir: Path) -> Path:
    """``ckpt_path``'s file: ``last`` is this run folder's ``checkpoints/last.ckpt``."""
    return out_dir / "checkpoints" / "last.ckpt" if ckpt_path == "last" else Path(ckpt_path)


def checkpoint_to_test(cfg: DictConfig, out_dir: Path, which: str) -> str | None:
    """``train=false``: the checkpoint to test, ``ckpt_path`` (``last``: this run folder's) or a
    ``test_ckpt`` path; None tests the network as built (``init_ckpt``'s weights, or untrained:
    said in a warning, a chance-level reading is rarely what was meant)."""
    ckpt = cfg.get("ckpt_path")
    if ckpt:
        ckpt = str(checkpoint_file(ckpt, out_dir))
    if not ckpt and which not in ("auto", "best", "last"):
        ckpt = which
    if not ckpt:
        if not cfg.get("init_ckpt"):
            log.warning("train=false without ckpt_path, test_ckpt or init_ckpt: testing an untrained network "
                        "(to test a trained one: ckpt_path=RUN/checkpoints/last.ckpt, or ampose-eval)")
        return None
    if not Path(ckpt).is_file():
        raise FileNotFoundError(f"train=false: no checkpoint at {ckpt}")
    return str(ckpt)


def set_aside_old_results(out_dir: Path) -> Path | None:
    """A folder that trains again (a run extended or re-run, e.g. ``ckpt_path=last`` in a sweep
    folder) must not show its previous ``metrics.json`` as this run's result until it finishes:
    ``ampose-summary`` takes that file to mean "finished". It is renamed, not deleted."""
    old = out_dir / "metrics.json"
    if not old.is_file():
        return None
    kept = out_dir / "metrics.previous.json"
    os.replace(old, kept)
    log.info("this folder trains again: its previous results are in %s until this run writes new ones", kept)
    return kept


def on_this_machine(trainer_cfg: DictConfig) -> DictConfig:
    """``trainer.accelerator: gpu`` (trainer=gpu, set by the h36m experiments) on a machine without
    a GPU becomes the CPU, with a warning: every config runs anywhere, CI included."""
    if str(trainer_cfg.get("accelerator")) in ("gpu", "cuda") and not torch.cuda.is_available():
        log.warning("trainer.accelerator=%s but no GPU is visible: running on the CPU", trainer_cfg.accelerator)
        return OmegaConf.merge(trainer_cfg, {"accelerator": "cpu"})  # type: ignore[return-value]
    return trainer_cfg


# --------------------------------------------------------------------------------- train
def train(cfg: DictConfig) -> tuple[dict[str, float], dict[str, Any]]:
    """Fit and test as the config says. Returns (logged metrics, objects)."""
    from hydra.utils import instantiate

    start = time.time()
    normalise_switches(cfg)
    check_numbers(cfg)
    seed = _integer("seed", cfg.seed) if cfg.get("seed") is not None else None
    if seed is not None:
        pl.seed_everything(seed, workers=True)
    out_dir = Path(cfg.paths.output_dir)
    which = resolve_test_ckpt(cfg)  # checked before any training: a typo must not cost the run
    test_only = None if cfg.get("train", True) else checkpoint_to_test(cfg, out_dir, which)
    out_dir.mkdir(parents=True, exist_ok=True)

    from ampose.distributed import ddp_children_follow_the_job

    ddp_children_follow_the_job()  # DDP ranks re-launched as this job, into its folder (multirun too)
    log.info("data: %s", cfg.data._target_)
    warn_if_trained_on_test(cfg)
    warn_if_sweeper_optimises_on_test(cfg)
    datamodule = instantiate(cfg.data)
    checked = [datamodule, instantiate(cfg.test_data)] if cfg.get("test_data") and cfg.get("test", True) else [datamodule]
    for dm in checked:  # a missing file is said now, not after the training (test_data)
        getattr(dm, "check_files", lambda: None)()
    if cfg.model.get("net") is None:  # e.g. model=lifting, the options every model config shares
        models = sorted(p.stem for p in (find_config_dir() / "model").glob("*.yaml") if p.stem != "lifting")
        raise ValueError(f"the model config has no `net`: choose model={', '.join(models)} "
                         "(model/lifting.yaml only holds their shared options)")
    lit = instantiate(cfg.model)
    lit.data_config = OmegaConf.to_container(cfg.data, resolve=True)  # stored in checkpoints
    lit.run_seed = seed
    resume = cfg.get("ckpt_path") if cfg.get("train", True) else None
    resume_file = checkpoint_file(resume or "", out_dir)
    resume_step = None
    from ampose.checkpoint import TRAINING_KEYS, check_resumable
    from ampose.lit_module import to_plain

    net_cfg, ema = OmegaConf.to_container(cfg.model.net, resolve=True), bool(cfg.model.get("ema_decay"))
    if cfg.model.get("block") is not None:  # model/block goes into the network (as the checkpoint stores it)
        net_cfg["block"] = OmegaConf.to_container(cfg.model.block, resolve=True)
    if resume and resume_file.is_file():  # one-line error for a checkpoint of another model
        resume_step = check_resumable(resume_file, net_cfg, ema=ema, data_cfg=lit.data_config,
                                      train_cfg={k: to_plain(lit.hparams[k]) for k in TRAINING_KEYS if k in lit.hparams},
                                      seed=lit.run_seed)
    elif resume == "last":  # the first call of a resumable job; said, since a wrong run dir looks the same
        log.warning("ckpt_path=last: no %s yet, so training starts from the beginning", resume_file)
    elif resume:
        raise FileNotFoundError(f"ckpt_path: no checkpoint at {resume}")
    for tested in {test_only, which} - {None, "auto", "best", "last"}:  # a checkpoint named to be tested
        check_resumable(tested, net_cfg, ema=ema)
    if cfg.get("init_ckpt") and not resume:  # a resumed fine-tuning run has its own weights
        from ampose.checkpoint import init_weights

        log.info("init_ckpt: %d tensors from %s", init_weights(lit, cfg.init_ckpt), cfg.init_ckpt)
    loggers = instantiate_loggers(cfg.get("logger"), cfg.get("task_name", "train"), resume_step)
    callbacks = instantiate_callbacks(cfg.get("callbacks"), have_logger=bool(loggers))
    trainer: pl.Trainer = instantiate(on_this_machine(cfg.trainer), callbacks=callbacks, logger=loggers or False)
    log_hyperparameters(cfg, lit, trainer)

    if cfg.get("train", True):
        if trainer.is_global_zero:
            set_aside_old_results(out_dir)
        trainer.fit(lit, datamodule=datamodule, ckpt_path=resume)
    # The whole curve, taken now: testing the best checkpoint restores that epoch's (shorter) one.
    val_curve = list(lit.val_curve)
    metrics: dict[str, float] = {k: float(v) for k, v in trainer.callback_metrics.items()}
    ckpt_cb = trainer.checkpoint_callback
    if ("val/mpjpe_best" not in metrics and ckpt_cb is not None and ckpt_cb.monitor == "val/mpjpe"
            and ckpt_cb.best_model_score is not None):
        # Resuming a run that had already finished fits nothing and logs no validation; the best
        # score comes back with the checkpoint callback's restored state (sweepers need it).
        metrics["val/mpjpe_best"] = float(ckpt_cb.best_model_score)
    best = ckpt_cb.best_model_path if ckpt_cb else ""
    if test_only is not None:
        best = test_only
    elif which == "last":  # no model selection on the test data (validation may be the test set)
        lasts = [cb.last_model_path for cb in trainer.checkpoint_callbacks if getattr(cb, "last_model_path", "")]
        best = lasts[0] if lasts else best
    elif which != "best":
        best = str(which)

    text = ""
    rank_zero = trainer.is_global_zero  # under DDP, rank 0 alone writes files and prints
    if cfg.get("test", True):
        test_dm = instantiate(cfg.test_data) if cfg.get("test_data") else datamodule
        if not best:
            log.warning("no best checkpoint (fast_dev_run or no checkpoint callback): testing the current weights")
        trainer.test(lit, datamodule=test_dm, ckpt_path=best or None)
        metrics.update({k: float(v) for k, v in trainer.callback_metrics.items()})
        if rank_zero:  # the results first: a job stopped while drawing pictures keeps its numbers
            text = write_results(lit, out_dir,
                                 title=f"{cfg.task_name}: test results of {best or 'the final weights'}"
                                       f"{getattr(test_dm, 'stand_in', '')}",
                                 extra={"best_checkpoint": best, "logged": metrics,
                                        "val_curve": val_curve or lit.val_curve}, loggers=trainer.loggers)
            save_pictures(lit, test_dm, out_dir, int(cfg.get("num_pictures", 0)), trainer.loggers)

    params = sum(p.numel() for p in lit.net.parameters())
    summary = [
        "", "=" * 80,
        f"ampose {cfg.task_name}: {type(lit.net).__name__} with {params:,} parameters, "
        f"{trainer.current_epoch} epochs in {time.time() - start:.0f} s",
    ]
    if "val/mpjpe_best" in metrics:
        summary.append(f"best val/mpjpe {metrics['val/mpjpe_best']:.2f} mm; tested ({which}): {best or 'the final weights'}")
    for k in ("test/mpjpe", "test/p_mpjpe", "test/mpjpe_action", "test/p_mpjpe_action", "test/pck", "test/auc"):
        if k in metrics and not math.isnan(metrics[k]):
            summary.append(f"{k:22s} {metrics[k]:8.2f}")
    summary += [text, f"outputs: {out_dir}", "=" * 80]
    if rank_zero:
        print("\n".join(summary), flush=True)
    return metrics, {"lit": lit, "trainer": trainer, "datamodule": datamodule, "best": best}


def _task(cfg: DictConfig) -> float | None:
    launcher = "LOCAL_RANK" not in os.environ  # set once this process launches DDP ranks
    try:
        with wandb_job():
            metrics, _ = train(cfg)
    finally:
        if launcher and "LOCAL_RANK" in os.environ:  # the next multirun job launches its own ranks
            from ampose.distributed import end_ddp_job

            end_ddp_job()
    return get_metric_value(metrics, cfg.get("optimized_metric"))


# ---------------------------------------------------------------------- error reporting
def user_error(exc: BaseException) -> str | None:
    """The one-line message of an error the user can fix (bad data, checkpoint or config value),
    or None for a bug. Hydra's InstantiationException is unwrapped to the error it carries."""
    from hydra.errors import InstantiationException
    from omegaconf.errors import MissingMandatoryValue

    from ampose.checkpoint import CheckpointError
    from ampose.data.arrays import DataError

    while isinstance(exc, InstantiationException) and exc.__cause__ is not None:
        exc = exc.__cause__
    if isinstance(exc, MissingMandatoryValue) and exc.full_key:
        return f"{exc.full_key} is required: pass {exc.full_key}=..."
    if isinstance(exc, TypeError) and "unexpected keyword argument" in str(exc):  # e.g. +data.foo=1, a misspelt key
        return f"{str(exc).strip().splitlines()[0]}: a misspelt config key?"
    if not isinstance(exc, (DataError, CheckpointError, ValueError, FileNotFoundError)):
        return None
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def reported(task: Any, prog: str) -> Any:
    """Wrap a Hydra task function with ampose's error reporting.

    Single run: a user error (:func:`user_error`) prints ``<prog>: error: <message>`` and exits
    with status 2; AMPOSE_DEBUG=1 or HYDRA_FULL_ERROR=1 re-raise it for the full traceback.
    Multirun: every error is logged, written to ``failed.json`` in the job's folder, and re-raised:
    Hydra's basic launcher still runs the other jobs of the sweep (their results stay) and the
    sweep then ends with Hydra's "Error executing job with overrides: [...]" and status 1.
    """
    import functools
    import sys

    @functools.wraps(task)
    def wrapped(cfg: DictConfig) -> Any:
        try:
            return task(cfg)
        except Exception as e:
            message = user_error(e)
            if _hydra_runtime()[0]:
                out = Path(cfg.paths.output_dir)
                out.mkdir(parents=True, exist_ok=True)
                text = message or f"{type(e).__name__}: {e}"
                write_text_atomic(out / "failed.json", json.dumps({"error": text, "type": type(e).__name__}, indent=2))
                log.error("job failed: %s (see %s)", text, out / "failed.json")
                raise
            if message is None or os.environ.get("AMPOSE_DEBUG") == "1" or os.environ.get("HYDRA_FULL_ERROR") == "1":
                raise
            print(f"{prog}: error: {message}", file=sys.stderr, flush=True)
            raise SystemExit(2) from None

    return wrapped


def warn_if_trained_on_test(cfg: DictConfig) -> None:
    """A warning when data.train_subjects include a test subject (allowed: some studies do it on
    purpose, but then the test numbers are not held out)."""
    data = cfg.get("data") or {}
    if cfg.get("test_data") or not data.get("train_subjects"):
        return
    shared = _test_subjects_in(data, "train_subjects")
    if shared:
        log.warning("data.train_subjects include test subjects (%s): the test results are not on held-out data",
                    ", ".join(sorted(shared)))


def warn_if_sweeper_optimises_on_test(cfg: DictConfig) -> None:
    """A warning when a sweeper that chooses (Optuna, not the basic grid) is handed a validation
    metric measured on the test subjects (data.val_subjects null): it would tune on the test set."""
    multirun, hc = _hydra_runtime()
    if not multirun or not cfg.get("optimized_metric") or not str(cfg.optimized_metric).startswith("val/"):
        return
    sweeper = str((hc.sweeper or {}).get("_target_", ""))
    data = cfg.get("data") or {}
    held_out = data.get("val_subjects") and not _test_subjects_in(data, "val_subjects")
    if "BasicSweeper" not in sweeper and not held_out and not cfg.get("test_data"):
        log.warning("the sweeper (%s) optimises %s, which is measured on the test subjects here (data.val_subjects "
                    "is not a held-out subject): pass e.g. \"data.val_subjects=[S8]\" to tune on held-out data",
                    sweeper.rsplit(".", 1)[-1], cfg.optimized_metric)


def _test_subjects_in(data: Any, key: str) -> set[str]:
    """The test subjects that ``data.<key>`` (train_subjects, val_subjects) also names."""
    from ampose.data.datamodule import subject_list

    return set(subject_list(key, data.get(key) or [])) & set(subject_list("test_subjects", data.get("test_subjects") or []))


def resolve_test_ckpt(cfg: DictConfig) -> str:
    """``test_ckpt: auto`` -> ``best`` when validation is held out of the test set (data.val_subjects
    given and none of them a test subject, or a separate test_data), else ``last``: never pick
    weights on the data they are tested on."""
    which = cfg.get("test_ckpt", "auto") or "auto"
    if which != "auto":
        if which not in ("best", "last") and not Path(str(which)).is_file():
            raise ValueError(f"test_ckpt must be auto, best, last or an existing checkpoint file, got {which!r}")
        return str(which)
    if cfg.get("test_data"):
        return "best"
    data = cfg.get("data") or {}
    val = data.get("val_subjects")
    if not val:
        return "last"
    shared = _test_subjects_in(data, "val_subjects")
    if shared:
        log.warning("data.val_subjects include test subjects (%s): testing the last weights, not the best epoch",
                    ", ".join(sorted(shared)))
        return "last"
    return "best"


def composition_error(config_name: str, argv: Sequence[str]) -> str | None:
    """Hydra's message for overrides it cannot compose (a misspelt key, an unknown config group,
    bad override syntax), in one line, or None when they compose (or when this check cannot say:
    a multirun's sweep syntax and Hydra's own flags are left to Hydra). The key's own spelling
    is kept; Hydra's multi-line text and its HYDRA_FULL_ERROR hint are not."""
    import re

    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.errors import HydraException

    if any(a.startswith("-") for a in argv):  # -m, --cfg, --config-dir, ...: Hydra's business
        return None
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(str(find_config_dir()), version_base="1.3"):
            compose(config_name, overrides=list(argv))
    except HydraException as e:
        text = str(e)
        key = re.search(r"Could not override '([^']+)'", text)
        if key and "is not in struct" in f"{text} {e.__cause__}":
            return f"{key.group(1)} is not a config key (misspelt? a new key is added as +{key.group(1)}=...)"
        lines = [ln.strip() for ln in text.splitlines() if ln.strip() and "HYDRA_FULL_ERROR" not in ln]
        group = re.search(r"Could not find '([^']+)'", text)
        if group:
            options = [ln for ln in lines[1:] if not ln.startswith(("Available", "Config search", "provider="))]
            return f"no config {group.group(1)!r}; available: {', '.join(options)}"
        return "; ".join(lines)
    finally:
        GlobalHydra.instance().clear()
    return None


def main() -> None:
    """Console entry point (`ampose-train`)."""
    import sys

    import hydra

    problem = composition_error("train", sys.argv[1:])
    if problem:
        print(f"ampose-train: error: {problem}", file=sys.stderr, flush=True)
        raise SystemExit(2)
    task = reported(_task, "ampose-train")
    hydra.main(config_path=str(find_config_dir()), config_name="train", version_base="1.3")(task)()


if __name__ == "__main__":
    main()
