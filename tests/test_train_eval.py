"""End to end through the real configs: train -> checkpoint -> ampose-eval, multirun, W&B offline."""

import importlib.util
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from ampose.data.actions import ACTIONS
from ampose.tables import h36m_table, mpi_table, report
from ampose.train import compose_config, finish_wandb, instantiate_loggers, train, wandb_offline

from conftest import shrink_overrides

ROOT = Path(__file__).resolve().parents[1]
QUICK = ["trainer.max_epochs=1", "trainer.limit_train_batches=4", "data.eval_stride=40", "logger=csv"]


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WANDB_")}
    env.update(AMPOSE_OUTPUT_DIR=str(tmp_path / "outputs"), HOME=str(tmp_path), WANDB_MODE="offline",
               PYTHONWARNINGS="ignore")
    return env


def test_train_checkpoint_eval_reproduces_logged_test_metrics(compose_train, tmp_path):
    cfg = compose_train(*QUICK, "num_pictures=2")
    metrics, objs = train(cfg)
    out = Path(cfg.paths.output_dir)
    best = Path(objs["best"])
    assert best.is_file() and best.parent == out / "checkpoints" and (out / "checkpoints" / "last.ckpt").is_file()
    assert (out / "results.md").is_file() and (out / "table_h36m.csv").is_file()
    assert len(list((out / "pictures").glob("*.png"))) == 2
    assert (out / "csv" / "metrics.csv").is_file()
    assert "N-MPJPE" in (out / "results.md").read_text() and objs["lit"].test_results["n_mpjpe"] > 0
    bones = (out / "table_bones.csv").read_text().splitlines()  # 16 bones, named by the joint they end at
    assert len(bones) == 17 and bones[1].startswith("RHip,") and "Bone lengths" in (out / "results.md").read_text()
    joints = (out / "table_joints.csv").read_text().splitlines()  # a row per joint and their mean
    assert len(joints) == 19 and joints[1].startswith("Hip,0.0,0.0,0.0") and joints[-1].startswith("Mean,")
    header = (out / "table_h36m.csv").read_text().splitlines()[0].split(",")
    assert header[1:16] == ["Directions", "Discussion", "Eating", "Greeting", "Phoning", "Photo", "Posing",
                            "Purchases", "Sitting", "SittingDown", "Smoking", "Waiting", "WalkDog", "Walking",
                            "WalkTogether"]

    # The documented CLI, in a fresh process, with nothing but the checkpoint.
    run_dir = tmp_path / "eval"
    # data.KEY=VALUE alone edits the checkpoint's data config (here a batch size: same metrics).
    proc = subprocess.run([sys.executable, "-m", "ampose.eval", f"ckpt_path={best}", f"hydra.run.dir={run_dir}",
                           "data.eval_batch_size=300"],
                          cwd=tmp_path, env=_env(tmp_path), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "P1 MPJPE (mm)" in proc.stdout and "Avg (frame-wise)" in proc.stdout
    record = json.loads((run_dir / "metrics.json").read_text())
    assert record["data"]["eval_batch_size"] == 300 and record["data"]["root"] == cfg.data.root
    logged = record["logged"]
    for key in ("test/mpjpe", "test/p_mpjpe", "test/mpjpe_action", "test/p_mpjpe_action"):
        assert logged[key] == pytest.approx(metrics[key], rel=1e-5), key


def test_multirun_two_jobs(synthetic_root, tmp_path):
    sweep = tmp_path / "multirun"
    cmd = [sys.executable, "-m", "ampose.train", "-m", "debug=default", f"data.root={synthetic_root}",
           *shrink_overrides([]), "model/block=ours,convnext", f"hydra.sweep.dir={sweep}"]
    proc = subprocess.run(cmd, cwd=tmp_path, env=_env(tmp_path), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    for job in ("0", "1"):
        assert (sweep / job / "results.md").is_file(), job
    assert "convnext" in (sweep / "1" / ".hydra" / "overrides.yaml").read_text()
    # the sweep's own summary, written by the Hydra callback at the end of the multirun
    summary = (sweep / "summary.md").read_text()
    assert "model/block=ours" in summary and "model/block=convnext" in summary
    # and each row's validation curve (fast_dev_run: one validation epoch per job)
    curves = summary.split("per epoch")[1].splitlines()
    assert curves[2].startswith("| run | n | best epoch | mean at best | mean at last | 1 |")
    assert sum(line.startswith("| model/block=") and "| 1 | 1 |" in line for line in curves) == 2
    assert len((sweep / "summary.csv").read_text().splitlines()) == 3


@pytest.mark.skipif(importlib.util.find_spec("wandb") is None, reason="wandb is not installed")
def test_wandb_offline_run_directory_without_network(compose_train, monkeypatch, tmp_path):
    for k in [k for k in os.environ if k.startswith("WANDB_")]:
        monkeypatch.delenv(k)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.netrc: not logged in
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))
    monkeypatch.setenv("WANDB_BASE_URL", "http://127.0.0.1:9")  # any network attempt would fail
    monkeypatch.setenv("WANDB_SILENT", "true")
    assert wandb_offline()
    cfg = compose_train("trainer.max_epochs=1", "trainer.limit_train_batches=2", "trainer.limit_val_batches=1",
                        "trainer.limit_test_batches=1", "logger=wandb", "num_pictures=1")
    try:
        train(cfg)
    finally:
        finish_wandb()
    runs = list((Path(cfg.paths.output_dir) / "wandb").glob("offline-run-*"))
    assert runs, "no offline W&B run directory"
    run_id = (Path(cfg.paths.output_dir) / "wandb_id.txt").read_text().strip()
    assert runs[0].name.endswith(run_id)
    # resumed, the job continues its W&B run (the same id; `wandb sync` joins them) instead of a new one
    resumed = compose_config("train", [*cfg.hydra.overrides.task, "trainer.max_epochs=2", "ckpt_path=last"],
                             output_dir=Path(cfg.paths.output_dir))
    try:
        train(resumed)
    finally:
        finish_wandb()
    runs = sorted((Path(cfg.paths.output_dir) / "wandb").glob("offline-run-*"))
    assert len(runs) == 2 and all(r.name.endswith(run_id) for r in runs)


def test_the_loggers_get_the_whole_resolved_config(compose_train):
    """Every key a sweep may vary (test_ckpt, callbacks, optimized_metric, ...), not only data/model/trainer."""
    from types import SimpleNamespace

    from ampose.lit_module import LiftingModule
    from ampose.train import log_hyperparameters

    got = {}
    logger = SimpleNamespace(log_hyperparams=got.update)
    cfg = compose_train("test_ckpt=last", "seed=7")
    lit = LiftingModule(net={"_target_": "ampose.models.AMPose", "num_joints": 17, "dim": 16, "depth": 1,
                             "num_heads": 2})
    log_hyperparameters(cfg, lit, SimpleNamespace(loggers=[logger]))
    assert got["test_ckpt"] == "last" and got["seed"] == 7 and "optimized_metric" in got and "callbacks" in got
    assert got["data"]["root"] == cfg.data.root and "hydra" not in got
    assert got["model/params/total"] == sum(p.numel() for p in lit.net.parameters())


def test_without_wandb_the_default_logger_degrades_to_csv(monkeypatch, tmp_path):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "wandb" else real(name, *a))
    cfg = compose_config("train", ["logger=wandb"], output_dir=tmp_path)
    with pytest.warns(UserWarning, match="wandb is not installed"):
        loggers = instantiate_loggers(cfg.logger)
    assert [type(lg).__name__ for lg in loggers] == ["CSVLogger"]


def test_wandb_offline_decision(monkeypatch, tmp_path):
    for k in [k for k in os.environ if k.startswith("WANDB_")]:
        monkeypatch.delenv(k)
    monkeypatch.setenv("NETRC", str(tmp_path / "netrc"))
    assert wandb_offline()
    (tmp_path / "netrc").write_text("machine api.wandb.ai\n  login user\n  password x\n")
    assert not wandb_offline()
    monkeypatch.setenv("WANDB_MODE", "offline")
    assert wandb_offline()
    monkeypatch.setenv("WANDB_MODE", "")
    monkeypatch.setenv("WANDB_API_KEY", "k")
    (tmp_path / "netrc").unlink()
    assert not wandb_offline()


def test_tables_say_na_for_missing_values(tmp_path):
    nan = math.nan
    res = {"mpjpe": 40.0, "p_mpjpe": 30.0, "mpjpe_action": 41.0, "p_mpjpe_action": 31.0,
           "per_action": {"mpjpe": {"Sitting": 50.0, "SittingDown": nan}, "p_mpjpe": {"Sitting": 35.0}},
           "pck": {"pck": 87.0, "auc": 54.7, "pck_GS": 86.0, "pck_noGS": nan}}
    header, rows = h36m_table(res)
    assert rows[0][header.index("Sitting")] == "50.0" and rows[0][header.index("SittingDown")] == "n/a"
    assert rows[0][-2:] == ["41.0", "40.0"]
    header, rows = mpi_table(res)
    assert header == ["GS", "noGS", "outdoor", "PCK", "AUC"] and rows[0] == ["86.0", "n/a", "n/a", "87.0", "54.7"]
    text = report(res, tmp_path)
    assert "n/a" in text and (tmp_path / "table_3dhp.csv").is_file() and (tmp_path / "table_h36m.csv").is_file()
    # the average covers 1 of the 15 actions: said under the table, never for a full test set
    assert "Avg is over the 1 of 15 actions with test frames (none: Directions, Discussion," in text
    full = {**res, "per_action": {"mpjpe": dict.fromkeys(ACTIONS, 50.0), "p_mpjpe": dict.fromkeys(ACTIONS, 35.0)}}
    assert "Avg is over" not in report(full)
    assert "Avg is over" not in report({**res, "mpjpe_action": nan})  # a NaN average says n/a itself


def test_seed_tables_round_trip_and_average_by_hand(tmp_path, capsys):
    """A run's table_h36m.csv reads back as written; two seeds average cell by cell (by hand:
    (50.0 + 51.0) / 2 = 50.5, (41.0 + 42.4) / 2 = 41.7); "n/a" stays n/a; layouts must match."""
    from ampose.tables import main as tables_main
    from ampose.tables import mean_table, read_csv, write_csv

    a = (["Protocol", "Sitting", "SittingDown", "Avg"], [["P1 MPJPE (mm)", "50.0", "n/a", "41.0"]])
    b = (["Protocol", "Sitting", "SittingDown", "Avg"], [["P1 MPJPE (mm)", "51.0", "60.0", "42.4"]])
    for name, table in (("a", a), ("b", b)):
        (tmp_path / name).mkdir()
        write_csv(table, tmp_path / name / "table_h36m.csv")
        assert read_csv(tmp_path / name / "table_h36m.csv") == table
    assert mean_table([a, b]) == (a[0], [["P1 MPJPE (mm)", "50.5", "n/a", "41.7"]])
    with pytest.raises(ValueError, match="different layouts"):
        mean_table([a, (["Protocol", "Sitting"], [["P1 MPJPE (mm)", "50.0"]])])
    tables_main(["mean", "mean of 2 seeds", str(tmp_path / "a" / "table_h36m.csv"), str(tmp_path / "b" / "table_h36m.csv")])
    assert "| mean of 2 seeds, P1 MPJPE (mm) | 50.5 | n/a | 41.7 |" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        tables_main(["mean", "x", str(tmp_path / "missing.csv")])
    assert "error" in capsys.readouterr().err


def test_eval_on_3dhp_prints_table_3_and_a_gallery(compose_train, tmp_path):
    import json

    from ampose.data.synthetic_3dhp import write_synthetic_3dhp
    from ampose.eval import evaluate

    cfg = compose_train("trainer.max_epochs=1", "trainer.limit_train_batches=2", "trainer.limit_val_batches=1",
                        "test=false", "logger=csv", "data.num_joints=16")
    _, objs = train(cfg)
    root = tmp_path / "3dhp"
    write_synthetic_3dhp(root / "data_test_3dhp.npz")
    ev = compose_config("eval", [f"ckpt_path={objs['best']}", "data=mpi_3dhp", f"data.root={root}",
                                 "data.eval_batch_size=512", "gallery=2"], output_dir=tmp_path / "eval3dhp")
    metrics, objs = evaluate(ev)
    assert objs["lit"].num_joints == 16  # the data followed the model
    for k in ("test/pck", "test/auc", "test/pck_GS", "test/pck_noGS", "test/pck_outdoor"):
        assert 0.0 <= metrics[k] <= 100.0, k
    out = tmp_path / "eval3dhp"
    assert (out / "table_3dhp.csv").read_text().splitlines()[0] == "GS,noGS,outdoor,PCK,AUC"
    assert not (out / "table_h36m.csv").exists()
    assert "on mpi_3dhp (synthetic stand-in)" in (out / "results.md").read_text()  # data.root=DIR, not the cache
    gallery = json.loads((out / "gallery" / "gallery.json").read_text())
    best, worst = gallery["best"], gallery["worst"]
    assert len(best) == len(worst) == 2 and best[0]["error"] <= worst[0]["error"]
    assert all((out / "gallery" / e["file"]).stat().st_size > 1000 for e in best + worst)


@pytest.mark.slow
def test_default_run_reaches_its_synthetic_accuracy(synthetic_root, tmp_path):
    """What `make train` runs (the CPU-sized default), end to end: about 3 minutes on 2 cores.
    Measured (session 6, torch 2.13.0): test MPJPE 48.4 mm (action-wise 48.3), P-MPJPE 37.1 mm, seed 42;
    other library versions move it by about 1 mm (49.4 in session 2)."""
    run = tmp_path / "run"
    proc = subprocess.run([sys.executable, "-m", "ampose.train", f"data.root={synthetic_root}", "logger=csv",
                           f"hydra.run.dir={run}"], cwd=tmp_path, env=_env(tmp_path), capture_output=True,
                          text=True, timeout=1200)
    assert proc.returncode == 0, proc.stderr[-3000:]
    logged = json.loads((run / "metrics.json").read_text())["logged"]
    assert logged["test/mpjpe"] < 60.0 and logged["test/p_mpjpe"] < 48.0
    assert "P2 P-MPJPE (mm)" in proc.stdout


@pytest.mark.parametrize("group, option, plugin", [
    ("hydra/launcher", "local", "hydra_plugins.hydra_joblib_launcher"),
    ("hydra/launcher", "slurm", "hydra_plugins.hydra_submitit_launcher"),
    ("hydra/sweeper", "optuna_ampose", "hydra_plugins.hydra_optuna_sweeper"),
])
def test_optional_launcher_and_sweeper_configs(group, option, plugin, tmp_path):
    try:
        importlib.util.find_spec(plugin)
    except ModuleNotFoundError:
        pytest.skip(f"{plugin} not installed (pip install 'ampose[launchers]')")
    if importlib.util.find_spec(plugin) is None:
        pytest.skip(f"{plugin} not installed (pip install 'ampose[launchers]')")
    cfg = compose_config("train", [f"{group}={option}"], output_dir=tmp_path)
    assert cfg.hydra[group.split("/")[1]]._target_


def test_eval_data_field_overrides_become_additions_unless_a_data_group_is_given():
    from ampose.eval import data_field_overrides

    assert data_field_overrides(["ckpt_path=a.ckpt", "data.root=/d", "flip_test=true"]) == \
        ["ckpt_path=a.ckpt", "+data.root=/d", "flip_test=true"]
    assert data_field_overrides(["data=mpi_3dhp", "data.root=/d"]) == ["data=mpi_3dhp", "data.root=/d"]


def test_test_ckpt_auto_never_selects_on_the_test_set():
    from omegaconf import OmegaConf

    from ampose.train import resolve_test_ckpt

    def cfg(**kw):
        return OmegaConf.create({"data": {"val_subjects": kw.pop("val", None), "test_subjects": ["S9", "S11"]},
                                 "test_data": kw.pop("test_data", None), **kw})

    assert resolve_test_ckpt(cfg(test_ckpt="auto")) == "last"  # validation on S9/S11: no selection
    assert resolve_test_ckpt(cfg(test_ckpt="auto", val=["S8"])) == "best"  # held-out S8 picks the epoch
    assert resolve_test_ckpt(cfg(test_ckpt="auto", val="S8")) == "best"  # one bare name
    assert resolve_test_ckpt(cfg(test_ckpt="auto", val=["S8", "S9"])) == "last"  # S9 is tested: no selection on it
    assert resolve_test_ckpt(cfg(test_ckpt="auto", test_data={"dataset": "mpi_3dhp"})) == "best"
    assert resolve_test_ckpt(cfg(test_ckpt=None)) == "last"
    assert resolve_test_ckpt(cfg(test_ckpt="best")) == "best"  # an explicit choice is kept
    assert resolve_test_ckpt(cfg(test_ckpt=__file__)) == __file__  # a checkpoint file: kept
    with pytest.raises(ValueError, match="test_ckpt must be auto, best, last or an existing checkpoint file"):
        resolve_test_ckpt(cfg(test_ckpt="/x/y.ckpt"))  # no such file: said before any training


def test_eval_tests_the_weight_average_unless_told_raw(compose_train, tmp_path):
    from ampose.eval import evaluate

    cfg = compose_train(*QUICK, "test=false", "model.ema_decay=0.9", "model.optimizer.lr=1e-2")
    _, objs = train(cfg)
    results = {}
    for raw in (False, True):
        ev = compose_config("eval", [f"ckpt_path={objs['best']}", f"raw_weights={raw}"], output_dir=tmp_path / f"ev{raw}")
        results[raw], _ = evaluate(ev)
        record = json.loads((tmp_path / f"ev{raw}" / "metrics.json").read_text())
        assert record["weights"] == ("raw" if raw else "moving average (ema_decay 0.9)")
    assert results[False]["test/mpjpe"] != pytest.approx(results[True]["test/mpjpe"], rel=1e-4)


def test_eval_reads_its_switches_strictly(compose_train, tmp_path):
    """flip_test=no is off (Hydra passes it on as the string "no"), a typo is an error; the record says which."""
    from ampose.eval import evaluate

    cfg = compose_train(*QUICK, "test=false")
    _, objs = train(cfg)
    results = {}
    for flag in ("no", "false", "yes"):
        ev = compose_config("eval", [f"ckpt_path={objs['best']}", f"flip_test={flag}"], output_dir=tmp_path / flag)
        results[flag], _ = evaluate(ev)
        assert json.loads((tmp_path / flag / "metrics.json").read_text())["flip_test"] is (flag == "yes")
    assert results["no"]["test/mpjpe"] == pytest.approx(results["false"]["test/mpjpe"])
    assert results["yes"]["test/mpjpe"] != pytest.approx(results["no"]["test/mpjpe"], rel=1e-4)
    with pytest.raises(ValueError, match="flip_test must be true or false, got 'maybe'"):
        evaluate(compose_config("eval", [f"ckpt_path={objs['best']}", "flip_test=maybe"], output_dir=tmp_path / "m"))
    with pytest.raises(ValueError, match="gallery must be a whole number >= 0, got 'two'"):  # before the test
        evaluate(compose_config("eval", [f"ckpt_path={objs['best']}", "gallery=two"], output_dir=tmp_path / "g"))
    assert not (tmp_path / "g").exists()
    # a data group without its folder: the message names the key as the user types it
    from ampose.train import user_error

    with pytest.raises(Exception) as missing:
        evaluate(compose_config("eval", [f"ckpt_path={objs['best']}", "data=h36m"], output_dir=tmp_path / "d"))
    assert user_error(missing.value) == "data.root is required: pass data.root=..."


def test_the_gpu_trainer_config_runs_without_a_gpu(compose_train):
    """trainer=gpu (what the h36m experiments set) falls back to the CPU on a machine without one."""
    import torch

    cfg = compose_train("trainer=gpu", "debug=default")
    metrics, objs = train(cfg)
    assert metrics["test/mpjpe"] > 0
    if not torch.cuda.is_available():
        assert objs["trainer"].accelerator.__class__.__name__ == "CPUAccelerator"


def test_a_failed_job_ends_its_wandb_run_as_failed(monkeypatch):
    """A multirun job that fails shows as failed in the W&B group, not as finished."""
    import sys
    import types

    import ampose.train as train_module

    codes: list[int] = []
    fake = types.SimpleNamespace(run=object(), finish=lambda exit_code=0: codes.append(exit_code))
    monkeypatch.setitem(sys.modules, "wandb", fake)

    def broken(cfg):
        raise ValueError("data.stride must be a whole number >= 1")

    monkeypatch.setattr(train_module, "train", broken)
    with pytest.raises(ValueError):
        train_module._task(OmegaConf.create({"optimized_metric": None}))
    monkeypatch.setattr(train_module, "train", lambda cfg: ({"val/mpjpe_best": 1.0}, {}))
    assert train_module._task(OmegaConf.create({"optimized_metric": "val/mpjpe_best"})) == 1.0
    assert codes == [1, 0]


def test_result_tables_go_to_wandb_as_tables(tmp_path):
    """Table 1 per action (and the joint, bone tables) reach W&B as tables, not only as scalars."""
    from ampose.train import log_tables

    (tmp_path / "table_h36m.csv").write_text("Protocol,Directions,Avg\nP1 MPJPE (mm),50.1,49.5\n")
    (tmp_path / "table_joints.csv").write_text("joint,mm\nHip,0.0\n")

    class WandbLogger:  # the name is what log_tables looks for
        def __init__(self):
            self.tables = {}

        def log_table(self, key, columns, data):
            self.tables[key] = (columns, data)

    class CSVLogger:
        pass

    wb = WandbLogger()
    assert log_tables(tmp_path, [CSVLogger(), wb]) == 2
    # numbers as numbers (W&B can plot and aggregate them), labels as text
    assert wb.tables["test/table_h36m"] == (["Protocol", "Directions", "Avg"], [["P1 MPJPE (mm)", 50.1, 49.5]])
    assert set(wb.tables) == {"test/table_h36m", "test/table_joints"}
    assert log_tables(tmp_path, [CSVLogger()]) == 0  # without W&B nothing is read
