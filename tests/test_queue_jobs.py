"""Every training job of record in experiments/real/queue.py composes with the real configs.

GPU time is scarce (30 minutes a session): a mistyped override found on the device machine costs
a whole call, so the queue's command lines are checked here, on the CPU, before they travel.
"""

import importlib.util
from pathlib import Path

import pytest
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import OmegaConf

from ampose.train import compose_config, find_config_dir

QUEUE = Path(__file__).resolve().parents[1] / "experiments" / "real" / "queue.py"
CONF = find_config_dir()


def _queue():
    spec = importlib.util.spec_from_file_location("ampose_real_queue", QUEUE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


QUEUE_MODULE = _queue()
JOBS = QUEUE_MODULE.jobs("/data/h36m", "/data/h36m_sh", "/data/3dhp.npz", "/data/syn")
TRAININGS = [j for j in JOBS if "eval" not in j]


def test_job_names_are_unique_and_evaluations_have_their_training():
    names = [j["name"] for j in JOBS]
    assert len(names) == len(set(names))
    assert {n for j in JOBS if "eval" in j for n in QUEUE_MODULE.needs(j)} <= {j["name"] for j in TRAININGS}


def test_plans_name_jobs_of_the_queue_with_their_trainings():
    """A plan (--plan) is one device call: every name is a job, and an evaluation in a plan has
    its training in the same plan or in an earlier one."""
    names, done = {j["name"]: j for j in JOBS}, set()
    for plan, members in QUEUE_MODULE.PLANS.items():
        assert set(members) <= set(names), plan
        for name in members:
            assert set(QUEUE_MODULE.needs(names[name])) <= done | set(members), (plan, name)
        done |= set(members)


@pytest.mark.parametrize("job", TRAININGS, ids=[j["name"] for j in TRAININGS])
def test_training_job_composes(job, tmp_path):
    cfg = compose_config("train", ["test_ckpt=last", *job["args"]], output_dir=tmp_path / "run")
    assert cfg.data.root.startswith("/data/")
    # Each value override lands where it says (the last one of a key wins, as in Hydra).
    last = {o.key_or_group: o for o in OverridesParser.create().parse_overrides(job["args"])}
    for key, override in last.items():
        if (CONF / key.replace(".", "/")).is_dir():  # a config-group choice, e.g. logger=csv
            continue
        node = OmegaConf.select(cfg, key)
        node = OmegaConf.to_container(node) if OmegaConf.is_config(node) else node
        assert node == override.value(), (key, node, override.value())


@pytest.mark.parametrize("block", ["ours", "convnext"])
def test_block_ablation_multirun_repeats_the_ablation_of_record(block, tmp_path):
    """conf/experiment/block_ablation.yaml documents a one-line multirun for the session-7 ablation;
    each of its jobs trains exactly what the queue's ablation8 job trained."""
    job = next(j for j in TRAININGS if j["name"] == f"ablation8_{block}_s1")
    queued = compose_config("train", ["test_ckpt=last", *job["args"]], output_dir=tmp_path / "a")
    sweep_job = compose_config("train", ["experiment=[block_ablation,fast_h36m]", "data.root=/data/h36m",
                                         "data.keypoints=gt", "data.val_subjects=[S8]", f"model/block={block}",
                                         "seed=1", "logger=csv", "num_pictures=2"], output_dir=tmp_path / "b")
    assert sweep_job.seed == queued.seed == 1
    for key in ("data", "model", "trainer", "callbacks", "logger"):
        assert OmegaConf.to_container(sweep_job[key]) == OmegaConf.to_container(queued[key]), key
    assert queued.test_ckpt == "best" and sweep_job.test_ckpt == "auto"  # auto: best, as S8 is held out


def test_the_call_deadline_cuts_the_budget_and_the_results_are_packed(tmp_path):
    # Session 9 lost a device call: its limit had shrunk to the device time left, the queue's
    # budget did not know, and the call was killed before the queue packed its results.
    import os
    import subprocess
    import sys
    import time

    done = JOBS[0]["name"]  # a finished job (metrics.json present) is skipped: nothing runs
    (tmp_path / "outputs" / "real" / done).mkdir(parents=True)
    (tmp_path / "outputs" / "real" / done / "metrics.json").write_text("{}")
    env = {**os.environ, "AMPOSE_CALL_DEADLINE": str(time.time() + 45)}
    cmd = [sys.executable, str(QUEUE), "--data", "/nowhere", "--budget", "1000", "--out", str(tmp_path), "--only"]
    out = subprocess.run([*cmd, done], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    cut = [line for line in out.stdout.splitlines() if "budget cut to" in line]
    assert cut and 0 < int(cut[0].split("budget cut to ")[1].split()[0]) <= 5
    assert (tmp_path / "results.tar.gz").exists()
    # a mistyped name is refused before anything runs
    bad = subprocess.run([*cmd, "no_such_job"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "no such jobs: no_such_job" in bad.stderr


def test_an_ensemble_evaluation_waits_for_all_its_trainings(tmp_path, monkeypatch):
    monkeypatch.setattr(QUEUE_MODULE, "ROOT", tmp_path)
    job = dict(name="ab_flip", eval=["a", "b"], ckpt="last", args=["flip_test=true"])
    assert QUEUE_MODULE.needs(job) == ["a", "b"] and QUEUE_MODULE.needs(dict(name="a", args=[])) == []
    for name in ("a", "b"):
        assert QUEUE_MODULE.command(job) is None  # until both trainings have tested
        (tmp_path / name).mkdir()
        (tmp_path / name / "metrics.json").write_text("{}")
    cmd = QUEUE_MODULE.command(job)
    ckpts = [str(tmp_path / n / "checkpoints" / "last.ckpt") for n in ("a", "b")]
    assert cmd[2:] == ["ampose.eval", f"ckpt_path=[{','.join(ckpts)}]", f"hydra.run.dir={tmp_path / 'ab_flip'}",
                       "flip_test=true"]
    single = QUEUE_MODULE.command(dict(name="a_flip", eval="a", ckpt="last", args=[]))
    assert single[3] == f"ckpt_path={ckpts[0]}"
