"""DDP on the CPU (2 gloo processes) through the real CLI: the metrics equal one process's on the
same data and weights, and a run (or a multirun job, or an evaluation) writes one output folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import pytorch_lightning as pl
from torch.utils.data import DistributedSampler

from ampose.checkpoint import load_lit_module
from ampose.data.datamodule import PoseDataModule
from ampose.distributed import ShardSampler, eval_sampler

from conftest import shrink_overrides

# eval_stride 41: 872 test frames. Frame counts are multiples of 4 (cameras), so 3 ranks are needed
# for uneven shards (290/291/291), where Lightning's padded DistributedSampler would count a frame
# twice; eval batch 64 leaves a partial last batch on each rank.
DDP = ["trainer=ddp_cpu", "trainer.max_epochs=1", "trainer.limit_train_batches=3", "data.stride=10",
       "data.eval_stride=41", "data.eval_batch_size=64", "num_pictures=1"]
KEYS = ("test/mpjpe", "test/p_mpjpe", "test/mpjpe_action", "test/p_mpjpe_action")


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WANDB_", "LOCAL_RANK", "MASTER_"))}
    env.update(AMPOSE_OUTPUT_DIR=str(tmp_path / "outputs"), HOME=str(tmp_path), WANDB_MODE="offline",
               PYTHONWARNINGS="ignore")
    return env


def _run(tmp_path: Path, *args: str, module: str = "ampose.train") -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", module, *args], cwd=tmp_path, env=_env(tmp_path),
                          capture_output=True, text=True, timeout=400)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    return proc


def _one_process(best: Path, root: str, resident: bool, devices: int) -> dict[str, float]:
    """Validate and test the checkpoint on one process: the reference."""
    lit = load_lit_module(best)
    dm = PoseDataModule(root=root, stride=10, eval_stride=41, eval_batch_size=100, gpu_resident=resident)
    trainer = pl.Trainer(accelerator="cpu", devices=1, logger=False, enable_progress_bar=False,
                         enable_model_summary=False)
    out = dict(trainer.validate(lit, datamodule=dm, verbose=False)[0])
    out.update(trainer.test(lit, datamodule=dm, verbose=False)[0])
    assert len(dm.data_test) % devices != 0 or devices == 2  # uneven shards (impossible with 2)
    return out


@pytest.mark.parametrize("resident, devices", [(False, 3), (True, 2)], ids=["dataloader-3", "resident-2"])
def test_ddp_equals_one_process_and_writes_one_folder(synthetic_root, tmp_path, resident, devices):
    logger = "logger=many" if not resident else "logger=csv"  # W&B (offline) on one of the two
    # the weight average on one of the two: every rank must hold the same average
    ema = "model.ema_decay=0.5" if resident else "model.ema_decay=null"
    proc = _run(tmp_path, f"data.root={synthetic_root}", *shrink_overrides([]), *DDP, logger, ema,
                f"data.gpu_resident={str(resident).lower()}", f"trainer.devices={devices}")
    assert f"GLOBAL_RANK: {devices - 1}, MEMBER: {devices}/{devices}" in proc.stdout + proc.stderr

    # One output folder, written once.
    outputs = tmp_path / "outputs" / "train"
    assert [p.name for p in outputs.iterdir()] == ["runs"]
    (run,) = list((outputs / "runs").iterdir())
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["best.ckpt", "last.ckpt"]
    assert list(run.rglob("metrics.csv")) == [run / "csv" / "metrics.csv"]
    assert list(run.rglob("config.yaml")) == [run / ".hydra" / "config.yaml"]
    assert len(list((run / "pictures").iterdir())) == 1
    assert sorted(p.name for p in run.glob("*.log")) == ["train.log"] + [
        f"train_ddp_process_{r}.log" for r in range(1, devices)]
    assert proc.stdout.count("outputs: ") == 1  # the summary is printed by rank 0 only
    if not resident:  # one W&B run for the job, not one per rank
        assert len(list((run / "wandb").glob("offline-run-*"))) == 1

    # The same metrics as one process on the same data and weights.
    logged = json.loads((run / "metrics.json").read_text())["logged"]
    ref = _one_process(run / "checkpoints" / "best.ckpt", synthetic_root, resident, devices)
    assert logged["val/mpjpe_best"] == pytest.approx(ref["val/mpjpe"], rel=1e-6)
    assert logged["val/mpjpe"] == pytest.approx(ref["val/mpjpe"], rel=1e-6)
    assert logged["val/loss"] == pytest.approx(ref["val/loss"], rel=1e-5)
    for key in KEYS:
        assert logged[key] == pytest.approx(ref[key], rel=1e-6), key
    if resident:  # the average, not the raw weights, was validated and tested
        assert logged["val/mpjpe_raw"] != pytest.approx(logged["val/mpjpe"], rel=1e-4)

    if resident:  # ampose-eval on 2 ranks (once, to stay fast): rank 0 alone prints and writes
        proc = _run(tmp_path, f"ckpt_path={run / 'checkpoints' / 'best.ckpt'}", "trainer=ddp_cpu",
                    "trainer.devices=2", "gallery=1", module="ampose.eval")
        assert "GLOBAL_RANK: 1, MEMBER: 2/2" in proc.stdout + proc.stderr
        assert proc.stdout.count("outputs: ") == proc.stdout.count("# ampose-eval ") == 1
        (ev,) = list((tmp_path / "outputs" / "eval" / "runs").iterdir())
        assert sorted(p.name for p in (ev / "gallery").iterdir()) == ["best_01.png", "gallery.json", "worst_01.png"]
        assert not list(ev.rglob("*.tmp*"))
        assert sorted(p.name for p in ev.glob("*.log")) == ["eval.log", "eval_ddp_process_1.log"]
        evaluated = json.loads((ev / "metrics.json").read_text())["logged"]
        for key in KEYS:
            assert evaluated[key] == pytest.approx(ref[key], rel=1e-6), key


def test_ddp_multirun_writes_one_sweep_folder(synthetic_root, tmp_path):
    """A local multirun with DDP: each job's ranks run that job alone, into the job's folder."""
    proc = _run(tmp_path, "-m", f"data.root={synthetic_root}", *shrink_overrides([]), *DDP, "num_pictures=0",
                "logger=csv", "seed=1,2")
    assert proc.stdout.count("outputs: ") == 2
    (sweep,) = list((tmp_path / "outputs" / "train" / "multirun").iterdir())
    assert not (tmp_path / "outputs" / "train" / "runs").exists()
    assert sorted(p.name for p in sweep.iterdir()) == ["0", "1", "multirun.yaml", "summary.csv", "summary.md"]
    results = [json.loads((sweep / job / "metrics.json").read_text())["logged"] for job in ("0", "1")]
    for job in ("0", "1"):
        assert sorted(p.name for p in (sweep / job / "checkpoints").iterdir()) == ["best.ckpt", "last.ckpt"]
        assert (sweep / job / "train_ddp_process_1.log").is_file()
    assert results[0]["test/mpjpe"] != results[1]["test/mpjpe"]  # two seeds, two trainings


def test_shard_sampler_covers_each_sample_once():
    n = 11
    shards = [list(ShardSampler(n, r, 3)) for r in range(3)]
    assert sorted(sum(shards, [])) == list(range(n)) and [len(s) for s in shards] == [3, 4, 4]
    assert len(ShardSampler(n, 2, 3)) == 4 and isinstance(ShardSampler(n, 0, 3), DistributedSampler)
    padded = [list(DistributedSampler(range(n), 3, r, shuffle=False)) for r in range(3)]
    assert len(sum(padded, [])) == 12  # what Lightning would inject: one frame counted twice
    assert eval_sampler(n, 0, 1) is None


def test_slurm_launcher_runs_one_task_per_gpu(tmp_path):
    """Lightning's SLURM DDP wants one task per GPU: tasks_per_node follows gpus_per_node."""
    import importlib.util

    from ampose.train import compose_config

    try:
        found = importlib.util.find_spec("hydra_plugins.hydra_submitit_launcher") is not None
    except ModuleNotFoundError:
        found = False
    if not found:
        pytest.skip("hydra-submitit-launcher not installed (pip install 'ampose[launchers]')")
    cfg = compose_config("train", ["hydra/launcher=slurm", "hydra.launcher.gpus_per_node=4", "trainer=ddp",
                                   "trainer.devices=4"], output_dir=tmp_path)
    assert cfg.hydra.launcher.tasks_per_node == cfg.hydra.launcher.gpus_per_node == cfg.trainer.devices == 4


def test_scaling_script_smoke(tmp_path):
    """ampose.scaling on the CPU, 1 and 2 gloo processes (no timing asserts): it runs and the
    Throughput callback counts the samples of both ranks."""
    out = tmp_path / "scaling.json"
    proc = subprocess.run([sys.executable, "-m", "ampose.scaling", "--accelerator", "cpu", "--devices", "1", "2",
                           "--size", "tiny", "--batch", "32", "--samples", "512", "--epochs", "2",
                           "--json", str(out)], cwd=tmp_path, env=_env(tmp_path), capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    results = json.loads(out.read_text())["results"]
    assert [r["devices"] for r in results] == [1, 2] and "efficiency" in proc.stdout
    for r in results:
        assert r["world_size"] == r["devices"] and r["samples_per_s"] > 0
        assert r["epoch_samples"] == [512, 512]  # 512 // world per rank, summed over the ranks
    assert results[0]["efficiency"] == pytest.approx(1.0)
