"""Multiruns as a researcher launches them: one sweep folder and one W&B group per sweep, W&B
run names that say what each job varies."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from omegaconf import DictConfig, OmegaConf

from ampose.train import find_config_dir, sweep_group


def _sweep(overrides: list[str], jobs: list[list[str]]) -> tuple[DictConfig, list[DictConfig]]:
    """The sweep's own config and its jobs', composed as Hydra's launchers do."""
    from hydra._internal.config_loader_impl import ConfigLoaderImpl
    from hydra._internal.utils import create_config_search_path
    from hydra.core.utils import setup_globals
    from hydra.types import RunMode

    setup_globals()  # Hydra's resolvers (${now:})
    loader = ConfigLoaderImpl(config_search_path=create_config_search_path(str(find_config_dir())))
    master = loader.load_configuration("train", overrides, run_mode=RunMode.MULTIRUN)
    str(master.hydra.sweep.dir)  # the launcher makes the sweep folder before composing any job
    return master, [loader.load_sweep_config(master, job) for job in jobs]


def test_a_sweep_over_experiments_is_one_folder_and_one_wandb_group():
    """``-m experiment=h36m_gt16,h36m_gt17``: each experiment sets its own task_name, and the jobs
    used to land in outputs/h36m_gt16/multirun/T/0 and outputs/h36m_gt17/multirun/T/1 (two
    summaries of one job each, two W&B groups)."""
    master, jobs = _sweep(["experiment=h36m_gt16,h36m_gt17", "data.root=DIR"],
                          [["experiment=h36m_gt16", "data.root=DIR"], ["experiment=h36m_gt17", "data.root=DIR"]])
    sweep_dir = Path(str(master.hydra.sweep.dir))
    assert sweep_dir.parent.parent.name == "train" and sweep_dir.parent.name == "multirun"
    assert [j.task_name for j in jobs] == ["h36m_gt16", "h36m_gt17"]  # each job keeps its own name
    assert {str(j.hydra.sweep.dir) for j in jobs} == {str(sweep_dir)}
    assert {sweep_group(j.hydra.sweep.dir) for j in jobs} == {f"train-{sweep_dir.name}"}


def test_an_experiment_named_once_names_the_sweep_folder():
    master, jobs = _sweep(["experiment=block_ablation", "data.root=DIR"],
                          [["experiment=block_ablation", "data.root=DIR", "model/block=ours"]])
    assert Path(str(jobs[0].hydra.sweep.dir)).parent.parent.name == "block_ablation"
    assert sweep_group("outputs/block_ablation/multirun/T") == "block_ablation-T"
    assert sweep_group("runs/S/eval_flip") == "S-eval_flip"  # a sweep folder of one's own: its last two names


def test_wandb_run_names_say_what_the_job_sweeps(tmp_path, monkeypatch):
    """Table 4's documented ablation (``-m "experiment=[block_ablation,fast_h36m]" data.root=DIR
    data.keypoints=gt "data.val_subjects=[S8]" seed=1,2``): the overrides every job shares used up
    the 120-character name, so the block and the seed were cut off and the 8 runs differed only by number."""
    import ampose.train as train_module

    shared = ["experiment=[block_ablation,fast_h36m]", "data.root=/home/someone/datasets/human36m", "data.keypoints=gt",
              "data.val_subjects=[S8]"]
    (tmp_path / "multirun.yaml").write_text(OmegaConf.to_yaml({"hydra": {"overrides": {"task": [*shared, "seed=1,2"]}}}))
    job = [*shared, "model/block=transformer", "seed=2"]
    hc = OmegaConf.create({"sweep": {"dir": str(tmp_path)}, "job": {"num": 5, "override_dirname": ",".join(sorted(job))},
                           "overrides": {"task": job}})
    monkeypatch.setattr(train_module, "_hydra_runtime", lambda: (True, hc))
    entry = OmegaConf.create({"wandb": {"_target_": "pytorch_lightning.loggers.wandb.WandbLogger", "offline": True,
                                        "save_dir": str(tmp_path), "name": None, "group": None}})
    (logger,) = train_module.instantiate_loggers(entry, "block_ablation")
    assert logger._wandb_init["name"] == "block_ablation-5 model/block=transformer,seed=2"


@pytest.mark.parametrize("override, message", [
    ("model.net.depth=abc", "model.net.depth must be a whole number, got 'abc'"),
    ("model.net.depth=2.5", "model.net.depth must be a whole number, got 2.5"),
    ("model.net.dim=6.4e1", "model.net.dim must be a whole number, got 64.0"),
    ("model.net.num_heads=0", "model.net.num_heads must be a whole number >= 1, got 0"),
])
def test_a_bad_network_size_in_a_sweep_fails_its_job_in_one_line(override, message, tmp_path, monkeypatch):
    """``-m model.net.depth=2,2.5``: the bad job's failed.json (and the summary's "failed:" line) said
    ``InstantiationException: Error in call to target ...`` over three lines, a TypeError or
    ZeroDivisionError that named no key."""
    import json

    import ampose.train as train_module
    from ampose.train import _task, compose_config, reported

    cfg = compose_config("train", ["debug=default", override], output_dir=tmp_path / "job")
    hc = OmegaConf.create({"sweeper": {"_target_": "hydra._internal.core_plugins.basic_sweeper.BasicSweeper"}})
    monkeypatch.setattr(train_module, "_hydra_runtime", lambda: (True, hc))  # a multirun job
    with pytest.raises(ValueError, match=re.escape(message)):
        reported(_task, "ampose-train")(cfg)
    failed = json.loads((tmp_path / "job" / "failed.json").read_text())
    assert failed["error"] == message


def test_each_evaluation_job_ends_its_wandb_run(monkeypatch):
    """``ampose-eval -m "ckpt_path=A,B" logger=wandb``: job 1 logged into job 0's W&B run (Lightning
    reuses a run still in progress), its test numbers overwriting job 0's in that run's summary."""
    import sys
    import types

    import ampose.eval as eval_module

    codes: list[int] = []
    run = types.SimpleNamespace()
    fake = types.SimpleNamespace(run=run, finish=lambda exit_code=0: codes.append(exit_code))
    monkeypatch.setitem(sys.modules, "wandb", fake)
    monkeypatch.setattr(eval_module, "evaluate", lambda cfg: ({}, {}))
    eval_module._task(OmegaConf.create({}))

    def broken(cfg):
        raise ValueError("gallery must be a whole number >= 0")

    monkeypatch.setattr(eval_module, "evaluate", broken)
    with pytest.raises(ValueError):
        eval_module._task(OmegaConf.create({}))
    assert codes == [0, 1]  # finished, then marked failed


def test_an_evaluation_logs_its_checkpoint_and_data(tmp_path, synthetic_root):
    """``ampose-eval -m ckpt_path=A,B logger=wandb``: the loggers got only the network's options, so
    the runs did not say which checkpoint each one tested, on which data."""
    import yaml

    from ampose.eval import evaluate
    from ampose.train import compose_config
    from test_ensemble import save_checkpoint

    ckpt = tmp_path / "a.ckpt"
    save_checkpoint(ckpt, 1, num_joints=16)
    cfg = compose_config("eval", [f"ckpt_path={ckpt}", "data=synthetic", f"data.root={synthetic_root}",
                                  "data.eval_stride=40", "trainer.limit_test_batches=1", "logger=csv", "flip_test=true"],
                         output_dir=tmp_path / "eval")
    evaluate(cfg)
    logged = yaml.safe_load((tmp_path / "eval" / "csv" / "hparams.yaml").read_text())
    assert logged["ckpt_path"] == str(ckpt) and logged["flip_test"] is True
    assert logged["data"]["dataset"] == "synthetic" and logged["data"]["num_joints"] == 16  # the data as tested


def test_where_a_run_logged_does_not_split_its_summary_row(tmp_path):
    """Two seeds of one setting, one sweep launched with ``logger=wandb`` and one without (or another
    num_pictures): ampose-summary made two rows of one run each instead of one row of two seeds."""
    from ampose.summary import find_runs, summarise
    from test_summary import _run

    _run(tmp_path, "a", ["model/block=convnext", "seed=1", "logger=wandb", "num_pictures=0"], p1=40.0, val=30.0)
    _run(tmp_path, "b", ["model/block=convnext", "seed=2", "callbacks.progress_bar.refresh_rate=0"], p1=42.0, val=30.0)
    _run(tmp_path, "c", ["model/block=ours", "seed=1", "logger=csv"], p1=45.0, val=30.0)
    rows = summarise(find_runs(tmp_path))
    assert [(r.name, r.n) for r in rows] == [("model/block=convnext", 2), ("model/block=ours", 1)]
