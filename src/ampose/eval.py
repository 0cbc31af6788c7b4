"""`ampose-eval ckpt_path=... [data=...]`: rebuild a model from its checkpoint, test, print the tables.

``data.KEY=VALUE`` alone (e.g. ``data.root=DIR`` for data that moved) edits the checkpoint's data config.
``ckpt_path=[A,B,...]`` tests an ensemble: the mean of the checkpoints' predictions
(``ampose.checkpoint.load_ensemble``; the first one's options and data config).

Without ``data=...`` the checkpoint's own data config (saved by ampose-train) is used. With
``data=mpi_3dhp`` the paper's Table 3 layout (PCK by scene, AUC) is printed. The data follow the
model's joint count. Outputs (results.md, table_*.csv, metrics.json) go to Hydra's run directory;
under DDP (``trainer=ddp_cpu trainer.devices=2``) rank 0 alone prints and writes them.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
from omegaconf import DictConfig, OmegaConf

from ampose.checkpoint import load_ensemble, load_lit_module
from ampose.options import as_bool, check_number
from ampose.train import (composition_error, find_config_dir, instantiate_loggers, log_hyperparameters, on_this_machine,
                          reported, wandb_job, write_results)

log = logging.getLogger("ampose.eval")


def evaluate(cfg: DictConfig) -> tuple[dict[str, float], dict[str, Any]]:
    """Test the checkpoint ``cfg.ckpt_path``; returns (logged metrics, objects)."""
    from hydra.utils import instantiate

    if cfg.get("seed") is not None:
        pl.seed_everything(cfg.seed, workers=True)
    paths = [str(p) for p in cfg.ckpt_path] if OmegaConf.is_list(cfg.ckpt_path) else [str(cfg.ckpt_path)]
    raw = as_bool(cfg.get("raw_weights") or False, "raw_weights")
    gallery = cfg.get("gallery") or 0
    check_number(gallery, "gallery", int, 0)  # before the test, not after it
    if len(paths) > 1:
        lit = load_ensemble(paths, raw=raw)
        weights = f"the mean of {len(paths)} checkpoints' {'raw' if raw else 'evaluation'}"
    else:
        lit = load_lit_module(paths[0])
        if raw and lit.net_ema is not None:
            lit.net_ema = None  # test the trained weights, not their moving average
        weights = "raw" if lit.net_ema is None else f"moving average (ema_decay {lit.hparams.ema_decay})"
    if cfg.get("flip_test") is not None:
        lit.hparams["flip_test"] = as_bool(cfg.flip_test, "flip_test")
    given: dict[str, Any] = OmegaConf.to_container(cfg.data, resolve=True) if cfg.get("data") is not None else {}  # type: ignore[assignment]
    if "_target_" in given:  # data=GROUP: a whole data config
        data_cfg = given
    elif lit.data_config:  # the checkpoint's own, with any data.KEY=VALUE given on top
        data_cfg = {**lit.data_config, **given}
    else:
        raise ValueError(f"{paths[0]} stores no data config: pass data=... (e.g. data=h36m data.root=DIR)")
    if data_cfg.get("num_joints") not in (None, lit.num_joints):
        log.warning("data.num_joints %s -> %d: the data follow the checkpoint's joint count",
                    data_cfg.get("num_joints"), lit.num_joints)
    data_cfg["num_joints"] = lit.num_joints
    datamodule = instantiate(OmegaConf.create({"data": data_cfg}).data)  # under `data`: errors name data.KEY

    from ampose.distributed import ddp_children_follow_the_job

    ddp_children_follow_the_job()  # DDP ranks re-launched as this job, into its folder (multirun too)
    loggers = instantiate_loggers(cfg.get("logger"), cfg.get("task_name", "eval"))
    trainer: pl.Trainer = instantiate(on_this_machine(cfg.trainer), logger=loggers or False, callbacks=[])
    (logged,) = trainer.test(lit, datamodule=datamodule)
    # The evaluation's own config (which checkpoint, flip_test, raw_weights) and the data it tested on;
    # after the test, which logs the checkpoint's options (its flip_test too) over the same keys.
    log_hyperparameters(cfg, lit, trainer, data=data_cfg)
    metrics = {k: float(v) for k, v in logged.items()}
    objects = {"lit": lit, "trainer": trainer, "datamodule": datamodule}
    if not trainer.is_global_zero:  # under DDP, rank 0 alone writes files and prints
        return metrics, objects
    out_dir = Path(cfg.paths.output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    checkpoint: str | list[str] = paths[0] if len(paths) == 1 else paths
    flip = bool(lit.hparams.get("flip_test"))
    title = (f"ampose-eval {', '.join(paths)} ({weights} weights{', flip TTA' if flip else ''})"
             f" on {data_cfg.get('dataset', '?')}{getattr(datamodule, 'stand_in', '')}")
    text = write_results(lit, out_dir, title=title, extra={"checkpoint": checkpoint, "weights": weights,
                                                           "flip_test": flip, "logged": metrics, "data": data_cfg},
                         loggers=trainer.loggers)
    if gallery > 0:  # under DDP: from rank 0's shard of the test set
        pictures = save_test_gallery(lit, datamodule, out_dir / "gallery", gallery)
        log.info("gallery of the %d best and worst test poses: %s", gallery, pictures[0].parent)
    print(f"\n{text}\noutputs: {out_dir}", flush=True)
    return metrics, objects


def save_test_gallery(lit: Any, datamodule: Any, out: Path, k: int, max_samples: int = 50_000) -> list[Path]:
    """PNGs of the ``k`` best and ``k`` worst test poses by MPJPE (among the first
    ``max_samples`` test samples), with ``gallery.json`` listing their errors."""
    import torch

    from ampose import viz
    from ampose.metrics.functional import mpjpe

    lit.eval()
    inputs, preds, truths = [], [], []
    with torch.no_grad():
        for batch in datamodule.test_dataloader():
            pred = lit.predict_3d(batch["pose2d"].to(lit.device)).float().cpu()
            inputs.append(batch["pose2d"].cpu())
            preds.append(pred)
            truths.append(batch["pose3d"].cpu())
            if sum(len(p) for p in preds) >= max_samples:
                break
    pose2d, pred3d, gt3d = (torch.cat(t)[:max_samples] for t in (inputs, preds, truths))
    errors = mpjpe(pred3d * 1000, gt3d * 1000, reduction="none")
    return viz.save_gallery(out, pose2d.numpy(), pred3d.numpy() * 1000, gt3d.numpy() * 1000, errors.numpy(), k=k)


def _task(cfg: DictConfig) -> None:
    with wandb_job():  # each job of `ampose-eval -m` its own W&B run
        evaluate(cfg)


def data_field_overrides(argv: list[str]) -> list[str]:
    """``data.root=DIR`` without ``data=GROUP`` edits the checkpoint's data config: Hydra has no
    ``data`` node then, so such overrides become ``+data.root=DIR`` (added, merged in evaluate)."""
    if any(a.startswith("data=") for a in argv):
        return argv
    return ["+" + a if a.startswith("data.") and "=" in a else a for a in argv]


def main() -> None:
    """Console entry point (`ampose-eval`)."""
    import sys

    import hydra

    sys.argv[1:] = data_field_overrides(sys.argv[1:])
    problem = composition_error("eval", sys.argv[1:])
    if problem:
        print(f"ampose-eval: error: {problem}", file=sys.stderr, flush=True)
        raise SystemExit(2)
    task = reported(_task, "ampose-eval")
    hydra.main(config_path=str(find_config_dir()), config_name="eval", version_base="1.3")(task)()


if __name__ == "__main__":
    main()
