"""Reliability (issue 7): resume after SIGKILL, reproducibility, atomic checkpoints, multirun
failures, and the one-line errors of the entry points. Bad inputs already covered elsewhere are
listed in the issue's report, not repeated here."""

from __future__ import annotations

import csv
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import pytorch_lightning as pl
import torch

from ampose.checkpoint import CheckpointError, load_model, read_checkpoint
from ampose.train import compose_config, reported, train

ROOT = Path(__file__).resolve().parents[1]
TESTS = Path(__file__).resolve().parent
# Tiny and deterministic: 3 epochs of 12 batches, evaluation at stride 40, the last weights tested.
TINY = ["data.stride=16", "data.eval_stride=40", "data.batch_size=64", "data.eval_batch_size=512",
        "model.net.dim=16", "model.net.depth=1", "model.net.num_heads=2", "trainer.max_epochs=3",
        "trainer.limit_train_batches=12", "trainer.deterministic=true", "trainer.accelerator=cpu",
        "logger=csv", "num_pictures=0", "test_ckpt=last", "callbacks.progress_bar.refresh_rate=0"]
TEST_KEYS = ("test/mpjpe", "test/p_mpjpe", "test/mpjpe_action", "test/p_mpjpe_action")


class PauseInEpoch(pl.Callback):
    """Test helper: at (epoch, batch) touch `marker` and sleep, so that the test kills mid-epoch."""

    def __init__(self, marker: str, epoch: int = 2, batch: int = 5) -> None:
        self.marker, self.epoch, self.batch = Path(marker), epoch, batch

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if trainer.current_epoch == self.epoch and batch_idx == self.batch:
            self.marker.write_text(str(trainer.current_epoch))
            time.sleep(120)


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WANDB_", "AMPOSE_DEBUG", "HYDRA_FULL"))}
    env.update(AMPOSE_OUTPUT_DIR=str(tmp_path / "outputs"), HOME=str(tmp_path), WANDB_MODE="offline",
               PYTHONWARNINGS="ignore", PYTHONPATH=os.pathsep.join([str(TESTS), env.get("PYTHONPATH", "")]))
    return env


def _train_cmd(root: str, run_dir: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "ampose.train", f"data.root={root}", *TINY, f"hydra.run.dir={run_dir}", *extra]


def _logged(run_dir: Path) -> dict[str, float]:
    return json.loads((run_dir / "metrics.json").read_text())["logged"]


def _val_curve(run_dir: Path) -> list[tuple[int, int, float]]:
    with (run_dir / "csv" / "metrics.csv").open(newline="") as f:
        return [(int(r["epoch"]), int(r["step"]), float(r["val/mpjpe"])) for r in csv.DictReader(f) if r.get("val/mpjpe")]


def _generate(root: str) -> None:
    """Generate the session's synthetic files once, before concurrent processes read them."""
    from ampose.data.datamodule import PoseDataModule

    PoseDataModule(root=root).prepare_data()


def test_resume_after_sigkill_matches_the_uninterrupted_run(synthetic_root, tmp_path):
    _generate(synthetic_root)
    env = _env(tmp_path)
    full, killed = tmp_path / "full", tmp_path / "killed"
    marker = tmp_path / "in_epoch_2"
    # with the weight average on: its state and its warm-up step must survive the kill too
    avg = "model.ema_decay=0.9"
    reference = subprocess.Popen(_train_cmd(synthetic_root, full, avg), cwd=tmp_path, env=env,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    pause = ["+callbacks.pause._target_=test_reliability.PauseInEpoch", f"+callbacks.pause.marker={marker}"]
    victim = subprocess.Popen(_train_cmd(synthetic_root, killed, avg, *pause), cwd=tmp_path, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    while not marker.exists() and victim.poll() is None and time.time() < deadline:
        time.sleep(0.1)
    assert marker.exists(), "the run never reached epoch 2"
    last = killed / "checkpoints" / "last.ckpt"
    assert read_checkpoint(last)["epoch"] == 1  # written at the end of epoch 1, before the kill
    victim.send_signal(signal.SIGKILL)
    victim.wait(30)
    assert victim.returncode == -signal.SIGKILL and not (killed / "metrics.json").exists()

    # The documented resume: ckpt_path=last in the same run folder.
    resumed = subprocess.run(_train_cmd(synthetic_root, killed, avg, "ckpt_path=last"), cwd=tmp_path, env=env,
                             capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "Restoring states from the checkpoint" in resumed.stderr + resumed.stdout
    assert reference.wait(300) == 0, reference.stderr.read()[-3000:]
    got, want = _logged(killed), _logged(full)
    assert read_checkpoint(last)["epoch"] == 2 == read_checkpoint(full / "checkpoints" / "last.ckpt")["epoch"]
    for key in (*TEST_KEYS, "val/mpjpe_raw"):
        assert got[key] == pytest.approx(want[key], rel=1e-6, abs=1e-6), key
    # The resumed run's CSV log keeps the epochs before the kill (Lightning's own logger deletes
    # them): the whole validation curve, once per epoch, as in the uninterrupted run.
    got_curve, want_curve = _val_curve(killed), _val_curve(full)
    assert [c[:2] for c in got_curve] == [c[:2] for c in want_curve] and len(want_curve) == 3
    assert [c[2] for c in got_curve] == pytest.approx([c[2] for c in want_curve], rel=1e-6)
    # metrics.json carries the same curve, through the checkpoint rather than the log (so with any
    # logger): what `ampose-summary --curves` averages over folds.
    got_json, want_json = (json.loads((d / "metrics.json").read_text())["val_curve"] for d in (killed, full))
    assert [e["epoch"] for e in got_json] == [0, 1, 2] == [e["epoch"] for e in want_json]
    assert [e["mpjpe"] for e in got_json] == pytest.approx([c[2] for c in want_curve], rel=1e-6)
    assert [e["mpjpe_action"] for e in got_json] == pytest.approx([e["mpjpe_action"] for e in want_json], rel=1e-6)


def test_resuming_a_finished_run_tests_again_and_returns_the_best_score(compose_train, tmp_path):
    # Seen on the GPU queue: a job killed while testing resumed from its final last.ckpt, fitted
    # nothing, and then failed: the sweeper's val/mpjpe_best was not logged.
    quick = ["trainer.max_epochs=2", "trainer.limit_train_batches=4", "data.eval_stride=40", "logger=csv"]
    cfg = compose_config("train", [*compose_train(*quick).hydra.overrides.task], output_dir=tmp_path / "r")
    first = train(cfg)[0]
    last = tmp_path / "r" / "checkpoints" / "last.ckpt"
    again_cfg = compose_config("train", [*compose_train(*quick).hydra.overrides.task, f"ckpt_path={last}"],
                               output_dir=tmp_path / "r")
    again = train(again_cfg)[0]
    assert again["val/mpjpe_best"] == pytest.approx(first["val/mpjpe_best"], rel=1e-6)
    for key in TEST_KEYS:
        assert again[key] == pytest.approx(first[key], rel=1e-5), key


def test_same_seed_same_metrics_and_the_seed_is_logged(compose_train, tmp_path):
    quick = ["trainer.max_epochs=1", "trainer.limit_train_batches=6", "data.eval_stride=40", "logger=csv",
             "trainer.deterministic=true", "seed=7", "model.net.dropout=0.1"]
    runs = []
    for name in ("a", "b"):
        cfg = compose_config("train", [*compose_train(*quick).hydra.overrides.task], output_dir=tmp_path / name)
        runs.append(train(cfg)[0])
    for key in ("val/mpjpe", *TEST_KEYS):
        assert runs[0][key] == runs[1][key], key
    hparams = (tmp_path / "a" / "csv" / "hparams.yaml").read_text()
    assert "seed: 7" in hparams


def test_epoch_seeded_order_and_flips_survive_a_fresh_loader(synthetic_root):
    """What makes resume exact: epoch e's batches depend on (seed, e) only, not on how many
    epochs this process has run (a resumed run builds fresh loaders at epoch e)."""
    from lightning_fabric.utilities.data import _set_sampler_epoch

    from ampose.data.datamodule import PoseDataModule, ResidentLoader

    for resident in (False, True):
        def epoch_batches(loader, epoch):
            _set_sampler_epoch(loader, epoch)  # what Lightning's fit loop calls
            return torch.cat([b["pose2d"] for b in loader])

        dm = PoseDataModule(root=synthetic_root, stride=64, batch_size=128, gpu_resident=resident, seed=3)
        dm.prepare_data()
        dm.setup("fit")
        long_run = dm.train_dataloader()
        assert isinstance(long_run, ResidentLoader) == resident
        seen = [epoch_batches(long_run, e) for e in range(3)]
        fresh = epoch_batches(dm.train_dataloader(), 2)
        assert torch.equal(seen[2], fresh)
        assert not torch.equal(seen[1], seen[2])
        torch.manual_seed(1234)  # the global RNG plays no part
        assert torch.equal(epoch_batches(dm.train_dataloader(), 2), fresh)


def test_last_ckpt_holds_the_final_epoch_when_validation_gets_worse(tmp_path, tiny_dm):
    """Regression: Lightning's save_last refreshed last.ckpt only with a new best."""
    from pytorch_lightning.callbacks import ModelCheckpoint

    from ampose.callbacks import LastCheckpoint
    from ampose.lit_module import LiftingModule

    class WorseLater(LiftingModule):
        def on_validation_epoch_end(self) -> None:
            super().on_validation_epoch_end()
            self.log("val/score", float(self.current_epoch))  # epoch 0 is the best forever

    net = {"_target_": "ampose.models.AMPose", "num_joints": 17, "dim": 16, "depth": 1, "num_heads": 2}
    ckpts = tmp_path / "checkpoints"
    best_cb = ModelCheckpoint(dirpath=ckpts, filename="best", monitor="val/score", mode="min", save_top_k=1,
                              save_last=False, enable_version_counter=False)
    trainer = pl.Trainer(max_epochs=3, accelerator="cpu", logger=False, enable_progress_bar=False,
                         enable_model_summary=False, callbacks=[best_cb, LastCheckpoint(str(ckpts))])
    lit = WorseLater(net=net)
    trainer.fit(lit, datamodule=tiny_dm())
    best, last = read_checkpoint(ckpts / "best.ckpt"), read_checkpoint(ckpts / "last.ckpt")
    assert best["epoch"] == 0 and last["epoch"] == 2
    final = {k: v.cpu() for k, v in lit.state_dict().items()}
    assert all(torch.equal(last["state_dict"][k], final[k]) for k in final)
    assert any(not torch.equal(best["state_dict"][k], final[k]) for k in final)


@pytest.mark.parametrize("schedule", [{"check_val_every_n_epoch": 2}, {"val_check_interval": 0.5}])
def test_last_ckpt_is_written_at_every_epoch_end_and_never_mid_epoch(tmp_path, tiny_dm, schedule):
    """Validation every other epoch left last.ckpt an epoch behind (test_ckpt=last tested stale
    weights); validation twice an epoch wrote it mid-epoch (a resume replayed the epoch's start)."""
    from ampose.callbacks import LastCheckpoint
    from ampose.lit_module import LiftingModule

    saved = []

    class Spy(LastCheckpoint):
        def _save_last_checkpoint(self, trainer, monitor_candidates):
            saved.append((trainer.current_epoch, trainer.global_step))
            super()._save_last_checkpoint(trainer, monitor_candidates)

    net = {"_target_": "ampose.models.AMPose", "num_joints": 17, "dim": 16, "depth": 1, "num_heads": 2}
    trainer = pl.Trainer(max_epochs=3, accelerator="cpu", logger=False, enable_progress_bar=False,
                         enable_model_summary=False, num_sanity_val_steps=0,
                         callbacks=[Spy(str(tmp_path / "checkpoints"))], **schedule)
    lit = LiftingModule(net=net)
    dm = tiny_dm()
    trainer.fit(lit, datamodule=dm)
    steps = trainer.num_training_batches
    assert saved == [(e, (e + 1) * steps) for e in range(3)]  # every epoch, at its last step
    last = read_checkpoint(tmp_path / "checkpoints" / "last.ckpt")
    final = {k: v.cpu() for k, v in lit.state_dict().items()}
    assert last["global_step"] == 3 * steps and all(torch.equal(last["state_dict"][k], final[k]) for k in final)


def test_checkpoint_save_interrupted_mid_write_leaves_the_previous_file(tmp_path, tiny_dm, monkeypatch):
    """Lightning writes through an fsspec transaction (temporary file, then rename): a crash while
    writing never truncates the existing last.ckpt."""
    import fsspec.implementations.local as local

    from ampose.lit_module import LiftingModule

    net = {"_target_": "ampose.models.AMPose", "num_joints": 17, "dim": 16, "depth": 1, "num_heads": 2}
    trainer = pl.Trainer(fast_dev_run=True, accelerator="cpu", logger=False, enable_progress_bar=False,
                         enable_model_summary=False)
    lit = LiftingModule(net=net)
    trainer.fit(lit, datamodule=tiny_dm())
    last = tmp_path / "last.ckpt"
    trainer.save_checkpoint(last)
    before = read_checkpoint(last)["state_dict"]
    with torch.no_grad():
        for p in lit.parameters():
            p.add_(1.0)

    real_write = local.LocalFileOpener.write

    def write_half_then_die(self, data):
        real_write(self, data[: len(data) // 2])
        raise KeyboardInterrupt("killed while writing")

    monkeypatch.setattr(local.LocalFileOpener, "write", write_half_then_die)
    with pytest.raises(KeyboardInterrupt):
        trainer.save_checkpoint(last)
    monkeypatch.undo()
    after = read_checkpoint(last)["state_dict"]
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert load_model(last) is not None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.ckpt"]  # no stray partial file


def test_resume_from_a_checkpoint_of_another_model_is_one_line(compose_train, tmp_path):
    from ampose.checkpoint import check_resumable

    cfg = compose_train("trainer.max_epochs=1", "trainer.limit_train_batches=2", "trainer.limit_val_batches=1",
                        "test=false", "logger=csv")
    _, objs = train(cfg)
    last = Path(cfg.paths.output_dir) / "checkpoints" / "last.ckpt"
    check_resumable(last, dict(objs["lit"].hparams["net"]))  # the same model: fine
    other = compose_config("train", [*cfg.hydra.overrides.task, "model.net.dim=32", f"ckpt_path={last}"],
                           output_dir=tmp_path / "other")
    with pytest.raises(CheckpointError, match=r"different model configuration \(dim: 16 in the checkpoint, 32 here"):
        train(other)
    # the block variant has the same weight names: only the stored config tells ours from two_residual
    for extra in ([f"ckpt_path={last}"], ["train=false", f"ckpt_path={last}"]):
        block = compose_config("train", [*cfg.hydra.overrides.task, "model/block=two_residual", *extra],
                               output_dir=tmp_path / "block")
        with pytest.raises(CheckpointError, match=r"model configuration \(block._target_: .*OursBlock.*TwoResidualBlock"):
            train(block)
    with_ema = compose_config("train", [*cfg.hydra.overrides.task, "model.ema_decay=0.99", f"ckpt_path={last}"],
                              output_dir=tmp_path / "ema")
    with pytest.raises(CheckpointError,
                       match=r"trained without a weight average \(model.ema_decay\); set model.ema_decay to null"):
        train(with_ema)
    # a held-out subject left out of the resumed command would go into training: refused
    val = compose_config("train", [*cfg.hydra.overrides.task, "data.val_subjects=[S8]", f"ckpt_path={last}"],
                         output_dir=tmp_path / "val")
    with pytest.raises(CheckpointError, match=r"trained on other data \(val_subjects: None in the checkpoint, \['S8'\] here"):
        train(val)
    check_resumable(last, dict(objs["lit"].hparams["net"]),  # where the files are is free to change
                    data_cfg={**objs["lit"].data_config, "root": str(tmp_path / "moved"), "num_workers": 2})
    # a restored optimizer would overwrite a new lr: refused, as is a cosine T_max grown with trainer.max_epochs
    lr = compose_config("train", [*cfg.hydra.overrides.task, "model.optimizer.lr=0.01", f"ckpt_path={last}"],
                        output_dir=tmp_path / "lr")
    with pytest.raises(CheckpointError, match=r"other training settings \(optimizer.lr: 0.001 in the checkpoint, 0.01 here"):
        train(lr)
    # another seed's checkpoint (a sweep re-run in part: job folders are numbered by position)
    seed = compose_config("train", [*cfg.hydra.overrides.task, "seed=43", f"ckpt_path={last}"],
                          output_dir=tmp_path / "seed")
    with pytest.raises(CheckpointError, match=r"checkpoint of seed \d+, not of seed 43"):
        train(seed)


@pytest.mark.parametrize("overrides, message, raw", [
    (["data=h36m", "data.root={tmp}/nonexistent"], "data_3d_h36m.npz not found", None),
    (["model.net.depth=0"], "depth must be >= 1, got 0", None),
    (["model.net.dim=-4"], "width (dim) must be positive, got -4", None),
    (["model=lifting"], "the model config has no `net`: choose model=ampose", None),
    (["data=h36m"], "data.root is required: pass data.root=...", "Missing mandatory value: data.root"),
    (["data.stride=0"], "data.stride must be a whole number >= 1", None),
    (["+data.strid=5"], "unexpected keyword argument 'strid': a misspelt config key?", "unexpected keyword argument 'strid'"),
    (["seed=abc"], "seed must be an integer, got 'abc'", None),
    (["experiment=h36m_to_3dhp", "data=synthetic", "test_data.root={tmp}/no3dhp"],  # before training, not after
     "3DHP test file not found: {tmp}/no3dhp/", None),
    (["model.flip_test=maybe"], "model.flip_test must be true or false, got 'maybe'", None),
    (["num_pictures=four"], "num_pictures must be a whole number >= 0, got 'four'", None),
    (["data.batch_size=abc"], "data.batch_size must be a whole number >= 1, got 'abc'", None),
    (["model.ema_decay=abc"], "model.ema_decay must be a number >= 0 or null, got 'abc'", None),
    (["trainer.max_epochs=abc"], "trainer.max_epochs must be a whole number >= -1 or null, got 'abc'", None),
    (["model.warmup_steps=-5"], "model.warmup_steps must be a whole number >= 0, got -5", None),
    (["data.bodies_spread=nan"], "data.bodies_spread must be a number >= 0, got nan", None),
    (["test_ckpt=Best"], "test_ckpt must be auto, best, last or an existing checkpoint file, got 'Best'", None),
])
def test_entry_point_errors_are_one_line(overrides, message, raw, tmp_path, capsys, monkeypatch):
    """What `ampose-train <bad override>` prints: `ampose-train: error: <message>`, status 2."""
    from ampose.train import _task

    monkeypatch.delenv("AMPOSE_DEBUG", raising=False)
    monkeypatch.delenv("HYDRA_FULL_ERROR", raising=False)
    cfg = compose_config("train", ["debug=default", *[o.format(tmp=tmp_path) for o in overrides]],
                         output_dir=tmp_path / "run")
    fitted = []
    real_fit = pl.Trainer.fit
    monkeypatch.setattr(pl.Trainer, "fit", lambda *a, **k: fitted.append(1) or real_fit(*a, **k))
    with pytest.raises(SystemExit) as e:
        reported(_task, "ampose-train")(cfg)
    assert e.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    message = message.format(tmp=tmp_path)
    assert len(err) == 1 and err[0].startswith("ampose-train: error: ") and message in err[0], err
    assert not fitted  # refused before any training
    monkeypatch.setenv("AMPOSE_DEBUG", "1")  # the traceback stays one variable away: the error itself
    with pytest.raises(Exception, match=re.escape(raw or message)):
        reported(_task, "ampose-train")(cfg)


def test_switches_read_as_words_are_bools(compose_train):
    """`flip_test=no` is false everywhere (Hydra hands "no" on as a string, which Python reads as true)."""
    cfg = compose_train("trainer.max_epochs=1", "trainer.limit_train_batches=1", "trainer.limit_val_batches=1",
                        "model.flip_test=no", "data.flip_augment=off", "test=no", "logger=csv")
    metrics, objs = train(cfg)
    assert objs["lit"].hparams["flip_test"] is False and objs["datamodule"].flip_augment is False
    assert not any(k.startswith("test/") for k in metrics)  # test=no: not tested


def test_cli_missing_data_folder_and_checkpoint(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "ampose.eval", f"ckpt_path={tmp_path / 'none.ckpt'}",
                           f"hydra.run.dir={tmp_path / 'e'}"], cwd=tmp_path, env=_env(tmp_path),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert proc.stderr.strip().splitlines()[-1] == f"ampose-eval: error: checkpoint not found: {tmp_path / 'none.ckpt'}"
    assert "Traceback" not in proc.stderr


def test_multirun_failing_job_keeps_the_other_results(synthetic_root, tmp_path):
    """Hydra's basic launcher runs every job of the sweep; the failed one leaves failed.json and
    the sweep ends with status 1 naming its overrides."""
    _generate(synthetic_root)
    sweep = tmp_path / "multirun"
    cmd = [sys.executable, "-m", "ampose.train", "-m", "debug=default", f"data.root={synthetic_root}",
           "data.stride=16", "data.eval_stride=40", "model.net.dim=16", "model.net.num_heads=2",
           "model.net.depth=0,1", f"hydra.sweep.dir={sweep}"]
    proc = subprocess.run(cmd, cwd=tmp_path, env=_env(tmp_path), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1
    assert "model.net.depth=0" in proc.stderr and "depth must be >= 1, got 0" in proc.stderr
    failed = json.loads((sweep / "0" / "failed.json").read_text())
    assert failed == {"error": "depth must be >= 1, got 0", "type": "InstantiationException"}
    assert (sweep / "1" / "metrics.json").is_file() and not (sweep / "1" / "failed.json").exists()
    # The sweep summary reads that real multirun folder: one row per depth, the failure counted.
    from ampose.summary import find_runs, summarise

    rows = summarise(find_runs(sweep))
    assert [r.name for r in rows] == ["model.net.depth=1", "model.net.depth=0"]
    assert rows[0].failed == 0 and "P1 action-wise" in rows[0].stats
    assert rows[1].failed == 1 and rows[1].stats == {}
    # ...and the sweep wrote it although Hydra skips on_multirun_end after a failed job.
    summary = (sweep / "summary.md").read_text()
    assert "model.net.depth=1" in summary and "model.net.depth=0" in summary
    assert (sweep / "summary.csv").is_file()


def _npz(path):
    with np.load(path) as z:
        return {k: z[k].tolist() for k in z.files}


def _plain(value):
    """What the reader should give back for a written value."""
    if isinstance(value, dict):
        return {k: v.tolist() for k, v in value.items()}
    return value if isinstance(value, str) else value.tolist()


@pytest.mark.parametrize("name, write, read, old, new", [
    ("metrics.json", "write_text_atomic", lambda p: p.read_text(), '{"a": 1}', '{"a": 2}'),
    ("poses.npy", "save_npy_atomic", lambda p: np.load(p).tolist(), np.arange(3.0), np.ones(4)),
    ("data.npz", "savez_atomic", _npz, {"x": np.arange(2)}, {"x": np.zeros(5)}),
])
def test_result_files_are_replaced_whole_or_not_at_all(tmp_path, monkeypatch, name, write, read, old, new):
    from ampose import fileio

    writer = getattr(fileio, write)
    save = (lambda path, value: writer(path, **value)) if isinstance(old, dict) else writer
    path = save(tmp_path / "sub" / name, old)  # the folder is made; the name is kept exactly
    assert path == tmp_path / "sub" / name and path.stat().st_mode & 0o777 == 0o644
    assert read(path) == _plain(old)

    def crash(src, dst):
        raise KeyboardInterrupt  # killed after the new content was written, before the rename

    monkeypatch.setattr(fileio.os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        save(path, new)
    assert read(path) == _plain(old)
    assert [p.name for p in path.parent.iterdir()] == [name]  # no temporary file left


def test_predict_outputs_are_written_atomically(tmp_path, monkeypatch):
    """A crash while ampose-predict writes leaves the previous outputs whole."""
    from ampose import fileio
    from ampose.predict import FillReport, LiftResult, write_outputs

    def result(value: float) -> LiftResult:
        poses = np.full((2, 17, 3), value, np.float32)
        report = FillReport(missing=np.zeros((2, 17), bool))
        return LiftResult(poses, poses[..., :2], np.ones((2, 17), np.float32), report, [str(i) for i in range(17)], [0, 1])

    npy, js = write_outputs(tmp_path / "out", result(1.0), "h36m", (1000, 1000))
    before = (npy.read_bytes(), js.read_text())
    def full(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(fileio.os, "replace", full)
    with pytest.raises(OSError, match="disk full"):
        write_outputs(tmp_path / "out", result(2.0), "h36m", (1000, 1000))
    assert (npy.read_bytes(), js.read_text()) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json", "out.npy"]


def test_metrics_json_keeps_the_whole_curve_when_an_earlier_epoch_is_tested(compose_train, tmp_path):
    # Seen in session 9: with test_ckpt=best, loading the best checkpoint for the test restored
    # that epoch's curve, so metrics.json stopped at the best epoch. Monitoring the worst epoch
    # (mode=max: the first) makes the tested checkpoint an early one.
    quick = ["trainer.max_epochs=3", "trainer.limit_train_batches=4", "data.eval_stride=40", "logger=csv",
             "test_ckpt=best", "callbacks.model_checkpoint.mode=max"]
    cfg = compose_config("train", [*compose_train(*quick).hydra.overrides.task], output_dir=tmp_path / "r")
    train(cfg)
    record = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert record["best_checkpoint"].endswith("best.ckpt")
    assert read_checkpoint(tmp_path / "r" / "checkpoints" / "best.ckpt")["epoch"] < 2
    assert [e["epoch"] for e in record["val_curve"]] == [0, 1, 2]
    assert [e["mpjpe"] for e in record["val_curve"]] == pytest.approx([c[2] for c in _val_curve(tmp_path / "r")], rel=1e-6)


def test_results_are_written_before_the_pictures(compose_train, tmp_path, monkeypatch):
    # Seen on the GPU queue (session 13): a job stopped after its test, while drawing its
    # pictures, left no metrics.json. A failure in the pictures must not lose the numbers.
    import ampose.train as train_module

    def stopped(*args, **kwargs):
        raise KeyboardInterrupt("stopped while drawing")

    monkeypatch.setattr(train_module, "save_pictures", stopped)
    quick = ["trainer.max_epochs=1", "trainer.limit_train_batches=2", "data.eval_stride=40", "logger=csv", "num_pictures=1"]
    cfg = compose_config("train", [*compose_train(*quick).hydra.overrides.task], output_dir=tmp_path / "r")
    with pytest.raises(KeyboardInterrupt):
        train(cfg)
    record = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert record["test_results"]["mpjpe"] > 0 and (tmp_path / "r" / "table_h36m.csv").is_file()


def test_init_ckpt_starts_a_run_from_another_runs_weights(compose_train, tmp_path):
    """Fine-tuning's first step: a run started from another's checkpoint, trained zero epochs,
    tests exactly what that checkpoint tested; a resumed run ignores init_ckpt."""
    quick = ("trainer.max_epochs=1", "trainer.limit_train_batches=2", "trainer.limit_val_batches=1",
             "trainer.limit_test_batches=2", "logger=csv", "num_pictures=0", "test_ckpt=last")
    cfg = compose_train(*quick)
    first, _ = train(cfg)
    last = Path(cfg.paths.output_dir) / "checkpoints" / "last.ckpt"
    again = compose_config("train", [*cfg.hydra.overrides.task, f"init_ckpt={last}", "train=false"],
                           output_dir=tmp_path / "init")
    second, _ = train(again)
    assert second["test/mpjpe"] == pytest.approx(first["test/mpjpe"], rel=1e-6)
    fresh = compose_config("train", [*cfg.hydra.overrides.task, "train=false"], output_dir=tmp_path / "fresh")
    untrained, _ = train(fresh)
    assert untrained["test/mpjpe"] != pytest.approx(first["test/mpjpe"], rel=1e-3)
    other = compose_config("train", [*cfg.hydra.overrides.task, "model.net.dim=32", f"init_ckpt={last}"],
                           output_dir=tmp_path / "other")
    with pytest.raises(CheckpointError, match=r"different network \(dim: 16 in the checkpoint, 32 here"):
        train(other)
    # resuming: the run's own checkpoint wins, and init_ckpt is not even read (here: not a checkpoint)
    junk = tmp_path / "junk.ckpt"
    junk.write_bytes(b"not a checkpoint")
    resumed = compose_config("train", [*cfg.hydra.overrides.task, f"init_ckpt={junk}", f"ckpt_path={last}"],
                             output_dir=tmp_path / "resumed")
    third, _ = train(resumed)
    assert third["test/mpjpe"] == pytest.approx(first["test/mpjpe"], rel=1e-6)


def test_train_false_tests_the_named_checkpoint_and_a_bad_test_ckpt_fails_before_training(compose_train, tmp_path):
    """train=false with ckpt_path tests that checkpoint (it used to test untrained weights and
    then fail on the sweeper's metric); a test_ckpt that is no checkpoint stops the run at once."""
    from ampose.train import get_metric_value

    quick = ("trainer.max_epochs=1", "trainer.limit_train_batches=3", "trainer.limit_val_batches=1",
             "logger=csv", "test_ckpt=last")
    cfg = compose_train(*quick)
    first, _ = train(cfg)
    last = Path(cfg.paths.output_dir) / "checkpoints" / "last.ckpt"
    only = compose_config("train", [*cfg.hydra.overrides.task, "train=false", f"ckpt_path={last}"],
                          output_dir=tmp_path / "only")
    tested, _ = train(only)
    for key in TEST_KEYS:
        assert tested[key] == pytest.approx(first[key], rel=1e-6), key
    assert np.isnan(get_metric_value(tested, "val/mpjpe_best"))  # nothing validated: NaN, not a KeyError
    assert json.loads((tmp_path / "only" / "metrics.json").read_text())["best_checkpoint"] == str(last)
    missing = compose_config("train", [*cfg.hydra.overrides.task, "train=false", f"ckpt_path={tmp_path / 'no.ckpt'}"],
                             output_dir=tmp_path / "missing")
    with pytest.raises(FileNotFoundError, match="train=false: no checkpoint at"):
        train(missing)
    typo = compose_config("train", [*cfg.hydra.overrides.task, "test_ckpt=Best"], output_dir=tmp_path / "typo")
    with pytest.raises(ValueError, match="test_ckpt must be auto, best, last or an existing checkpoint file, got 'Best'"):
        train(typo)
    assert not (tmp_path / "typo" / "checkpoints").exists()  # refused before any training


def test_a_resumed_run_keeps_the_best_validation_of_its_curve():
    """val/mpjpe_best (the sweepers' and ampose-summary's number) survives a resume: the tracker
    starts from the best of the restored curve, not from the resumed epochs alone."""
    from ampose.lit_module import LiftingModule
    from ampose.models import AMPose

    lit = LiftingModule(net=AMPose(17, dim=16, depth=1, num_heads=2))
    lit.val_curve = [{"epoch": 0, "mpjpe": 40.0, "mpjpe_action": 41.0}, {"epoch": 1, "mpjpe": 55.0, "mpjpe_action": 56.0}]
    lit.on_train_start()
    lit.val_mpjpe_best(torch.tensor(60.0))  # the resumed epoch is worse
    assert float(lit.val_mpjpe_best.compute()) == 40.0
    lit.val_curve = []
    lit.on_train_start()  # a fresh run: nothing carried over
    lit.val_mpjpe_best(torch.tensor(60.0))
    assert float(lit.val_mpjpe_best.compute()) == 60.0


def test_a_run_without_validation_finishes(compose_train):
    from ampose.train import get_metric_value

    cfg = compose_train("trainer.max_epochs=1", "trainer.limit_train_batches=2", "trainer.limit_val_batches=0",
                        "logger=csv", "test_ckpt=last")
    metrics, _ = train(cfg)
    assert metrics["test/mpjpe"] > 0
    assert np.isnan(get_metric_value(metrics, cfg.optimized_metric))


def test_training_on_a_test_subject_is_warned(caplog):
    from omegaconf import OmegaConf

    from ampose.train import warn_if_trained_on_test

    cfg = OmegaConf.create({"data": {"train_subjects": ["S1", "S9"], "test_subjects": ["S9", "S11"]}})
    with caplog.at_level("WARNING"):
        warn_if_trained_on_test(cfg)
    assert "data.train_subjects include test subjects (S9)" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING"):
        warn_if_trained_on_test(OmegaConf.create({"data": {"train_subjects": ["S1"], "test_subjects": ["S9"]}}))
    assert caplog.text == ""


def test_a_folder_that_trains_again_sets_its_old_results_aside(compose_train, monkeypatch):
    """A run extended in its own folder (ckpt_path=last, more epochs) and stopped before the end
    must not leave the earlier metrics.json standing as its result (ampose-summary reads it as
    finished): the file is renamed when training starts again."""
    cfg = compose_train("trainer.max_epochs=1", "trainer.limit_train_batches=2", "trainer.limit_val_batches=1",
                        "trainer.limit_test_batches=1", "logger=csv")
    train(cfg)
    run = Path(cfg.paths.output_dir)
    first = (run / "metrics.json").read_text()

    def killed(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(pl.Trainer, "fit", killed)
    again = compose_config("train", [*cfg.hydra.overrides.task, "trainer.max_epochs=2", "ckpt_path=last"],
                           output_dir=run)
    with pytest.raises(KeyboardInterrupt):
        train(again)
    assert not (run / "metrics.json").exists() and (run / "metrics.previous.json").read_text() == first


def test_a_choosing_sweeper_on_the_test_subjects_is_warned(caplog, monkeypatch):
    from types import SimpleNamespace

    from omegaconf import OmegaConf

    from ampose import train as train_mod

    def sweeper(target):
        monkeypatch.setattr(train_mod, "_hydra_runtime", lambda: (True, SimpleNamespace(sweeper={"_target_": target})))

    on_test = {"optimized_metric": "val/mpjpe_best", "data": {"val_subjects": None, "test_subjects": ["S9", "S11"]}}
    sweeper("hydra_plugins.hydra_optuna_sweeper.optuna_sweeper.OptunaSweeper")
    with caplog.at_level("WARNING"):
        train_mod.warn_if_sweeper_optimises_on_test(OmegaConf.create(on_test))
    assert "OptunaSweeper) optimises val/mpjpe_best, which is measured on the test subjects" in caplog.text
    caplog.clear()
    held_out = {**on_test, "data": {"val_subjects": ["S8"], "test_subjects": ["S9", "S11"]}}
    with caplog.at_level("WARNING"):
        train_mod.warn_if_sweeper_optimises_on_test(OmegaConf.create(held_out))  # tuned on S8: fine
        sweeper("hydra._internal.core_plugins.basic_sweeper.BasicSweeper")  # a grid chooses nothing
        train_mod.warn_if_sweeper_optimises_on_test(OmegaConf.create(on_test))
    assert caplog.text == ""


@pytest.mark.parametrize("argv, message", [
    (["data.roott=x"], "data.roott is not a config key (misspelt? a new key is added as +data.roott=...)"),
    (["model=ampse"], "no config 'model/ampse'; available: ampose, ampose_paper, lifting, mlp"),
    (["data.stride=[1"], "no viable alternative at input '[1'"),
])
def test_overrides_hydra_cannot_compose_are_one_line(argv, message):
    """Hydra's own multi-line messages (a misspelt key without +, an unknown config group, bad
    syntax) become one line before Hydra runs; what composes, and Hydra's flags, are left alone."""
    from ampose.train import composition_error

    assert message in composition_error("train", argv)
    assert composition_error("train", ["data.stride=2", "model=mlp"]) is None
    assert composition_error("train", ["-m", "seed=1,2", "data.roott=x"]) is None  # a multirun: Hydra's


def test_cli_misspelt_key_is_one_line_with_status_2(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "ampose.train", "data.roott=x"], cwd=tmp_path, env=_env(tmp_path),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "ampose-train: error: data.roott is not a config key (misspelt? a new key is added as +data.roott=...)"]


def test_an_atomic_write_that_fails_names_the_target_not_the_temporary_file(tmp_path):
    from ampose.fileio import write_text_atomic

    (tmp_path / "out").mkdir()  # a folder where the file should go
    with pytest.raises(OSError) as e:
        write_text_atomic(tmp_path / "out", "x")
    assert e.value.filename == str(tmp_path / "out") and ".tmp" not in str(e.value)
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # no temporary file left
