"""The real Hydra configs: every group composes, and fast_dev_run trains every block and baseline."""

from pathlib import Path

import pytest
from hydra.utils import instantiate
from omegaconf import OmegaConf

from ampose.lit_module import LiftingModule
from ampose.models import count_parameters
from ampose.train import find_config_dir, train

CONF = find_config_dir()
EXPERIMENTS = sorted(p.stem for p in (CONF / "experiment").glob("*.yaml"))
BLOCKS = sorted(p.stem for p in (CONF / "model" / "block").glob("*.yaml"))
BASELINES = ["pure_transformer", "pure_gcn", "mlp"]


def test_default_config_wiring(compose_train):
    cfg = compose_train(shrink=False)
    assert cfg.model.net.num_joints == cfg.data.num_joints == 17  # interpolated from the data
    assert cfg.data._target_ == "ampose.data.datamodule.PoseDataModule"
    assert cfg.callbacks.model_checkpoint.monitor == "val/mpjpe" and cfg.callbacks.model_checkpoint.mode == "min"
    # last.ckpt comes from LastCheckpoint (every epoch), not from the best-checkpoint callback
    assert not cfg.callbacks.model_checkpoint.save_last
    assert cfg.callbacks.last_checkpoint._target_ == "ampose.callbacks.LastCheckpoint"
    lit = instantiate(cfg.model)
    assert isinstance(lit, LiftingModule) and lit.hparams["net"]["block"]["_target_"].endswith("OursBlock")
    assert lit.hparams["scheduler"]["gamma"] == 0.98


def test_paper_model_is_one_override_away(compose_train):
    cfg = compose_train("model=ampose_paper", shrink=False)
    lit = instantiate(cfg.model)
    assert 18.0e6 < count_parameters(lit.net) < 18.8e6
    assert lit.hparams["optimizer"]["lr"] == 2.5e-5


def test_fast_mode_networks_carry_a_bf16_stream(compose_train):
    """The fast mode's bf16 residual stream comes from the AMPose configs (the MLP has no stream option)."""
    for model in ("ampose_paper", "pure_transformer", "pure_gcn"):  # baselines compare like for like
        lit = instantiate(compose_train("experiment=fast", f"model={model}", shrink=False).model)
        assert lit.net.bf16_residual is True and lit.hparams["net"]["bf16_residual"] is True, model
    mlp = instantiate(compose_train("experiment=fast", "model=mlp", shrink=False).model)
    assert "bf16_residual" not in mlp.hparams["net"]


MODELS = sorted(p.stem for p in (CONF / "model").glob("*.yaml") if p.stem != "lifting")


@pytest.mark.parametrize("name", MODELS)
def test_every_model_takes_the_shared_options(compose_train, name):
    """Each model config starts from model/lifting.yaml: the LiftingModule's options, Adam and the
    paper's x0.98 decay, and a change there (here: the EMA decay) reaches every model."""
    cfg = compose_train(f"model={name}", shrink=False)
    shared = OmegaConf.load(CONF / "model" / "lifting.yaml")
    options = [k for k in shared if k != "defaults"]
    assert {k: cfg.model[k] for k in options} == {k: shared[k] for k in options}
    assert cfg.model.optimizer._target_ == "torch.optim.Adam" and cfg.model.scheduler.gamma == 0.98
    assert cfg.model.net._target_.startswith("ampose.models.")
    assert compose_train(f"model={name}", "model.ema_decay=0.99", shrink=False).model.ema_decay == 0.99


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_experiments_compose(compose_train, name):
    if name == "h36m_to_3dhp" and not (CONF / "data" / "mpi_3dhp.yaml").is_file():
        pytest.skip("conf/data/mpi_3dhp.yaml not written yet")
    cfg = compose_train(f"experiment={name}", "data.root=/nonexistent", "+test_data.root=/x" if name == "h36m_to_3dhp"
                        else "seed=1", shrink=False)
    OmegaConf.to_container(cfg.model, resolve=True)
    OmegaConf.to_container(cfg.data, resolve=True)
    if name in ("paper", "h36m_cpn17"):
        assert cfg.data.keypoints == "cpn" and cfg.data.batch_size == 128 and cfg.trainer.max_epochs == 50
        assert cfg.model.optimizer.lr == 2.5e-5 and cfg.model.net.dim == 512
    if name == "block_ablation":
        assert set(cfg.hydra.sweeper.params["model/block"].split(",")) == set(BLOCKS)
    if name == "fast_h36m":  # the fast mode with the real-data schedule on top
        assert cfg.data.gpu_resident and cfg.model.compile and cfg.model.ema_decay == 0.999
        optimizer = instantiate(cfg.model).configure_optimizers()
        assert optimizer["optimizer"].defaults["betas"] == (0.9, 0.98)
        assert type(optimizer["lr_scheduler"]["scheduler"]).__name__ == "ExponentialLR"
        assert cfg.trainer.max_epochs == 8
    if name == "virtual_bodies":
        assert cfg.data.virtual_bodies == 1 and cfg.data.bodies_spread == 0.07 and cfg.trainer.max_epochs == 4
    if name in ("virtual_views", "virtual_errors"):  # one more copy, 3 epochs; the bodies come from virtual_bodies
        assert cfg.data[name] == 1 and cfg.data.virtual_bodies == 0 and cfg.trainer.max_epochs == 3
    if name == "drop_path":
        plain = compose_train("data.root=/nonexistent", "seed=1", shrink=False)
        assert cfg.model.net.drop_path == 0.1 and plain.model.net.drop_path == 0.0
        assert cfg.trainer.max_epochs == plain.trainer.max_epochs  # it changes the network, nothing else
    if name == "h36m_to_3dhp":
        assert cfg.test_data.dataset == "mpi_3dhp" and cfg.test_data.num_joints == cfg.data.num_joints


@pytest.mark.parametrize("exp, keypoints, joints, last, copies, drop_path", [
    ("h36m_gt17", "gt", 17, "virtual_views,drop_path", ("virtual_views",), 0.1),
    ("h36m_gt16", "gt", 16, "virtual_views,drop_path", ("virtual_views",), 0.1),
    ("h36m_sh16", "data_2d_h36m_sh.npz", 16, "virtual_errors,virtual_views,drop_path", ("virtual_errors", "virtual_views"), 0.1)])
def test_row_of_record_recipe_composes_in_order(compose_train, exp, keypoints, joints, last, copies, drop_path):
    """The copies go last: their 3 epochs replace virtual_bodies' 4 and fast_h36m's 8, the rest stays."""
    cfg = compose_train(f"experiment=[{exp},fast_h36m,virtual_bodies,{last}]", "data.root=/nonexistent", shrink=False)
    assert (cfg.data.keypoints, cfg.data.num_joints, cfg.data.virtual_bodies) == (keypoints, joints, 1)
    assert all(cfg.data[copy] == 1 for copy in copies)
    assert cfg.data.virtual_errors == ("virtual_errors" in copies)  # never on GT 2D (no error to move)
    assert cfg.model.net.drop_path == drop_path
    assert cfg.data.bodies_spread == 0.07 and cfg.trainer.max_epochs == 3
    assert list(cfg.model.optimizer.betas) == [0.9, 0.98] and cfg.model.compile and cfg.data.gpu_resident


def test_sweep_and_eval_compose(compose_train):
    cfg = compose_train("sweep=example", shrink=False)
    assert set(cfg.hydra.sweeper.params) == {"model.net.depth", "model.net.dim", "data.num_joints", "model/block"}
    from ampose.train import compose_config

    ev = compose_config("eval", ["ckpt_path=x.ckpt"])
    assert ev.get("data") is None and ev.ckpt_path == "x.ckpt"


@pytest.mark.parametrize("override", [f"model/block={b}" for b in BLOCKS] + [f"model={m}" for m in BASELINES])
def test_fast_dev_run_every_block_and_baseline(compose_train, override):
    cfg = compose_train(override, "debug=default")
    metrics, objs = train(cfg)
    assert metrics["test/mpjpe"] > 0 and "val/mpjpe" in metrics
    if override.startswith("model/block="):
        assert objs["lit"].hparams["net"]["block"]["_target_"].split(".")[-1] == \
            OmegaConf.load(CONF / "model" / "block" / f"{override.split('=')[1]}.yaml")._target_.split(".")[-1]


def test_sixteen_joints_through_the_config(compose_train):
    cfg = compose_train("data.num_joints=16", "debug=default", "model.flip_test=true")
    metrics, objs = train(cfg)
    assert objs["lit"].num_joints == 16 and metrics["test/mpjpe"] > 0


def test_missing_config_dir_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("AMPOSE_CONFIG_DIR", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="AMPOSE_CONFIG_DIR"):
        find_config_dir()
    assert (Path(__file__).parents[1] / "conf" / "train.yaml").is_file()


def _readme_train_commands() -> list[list[str]]:
    """The overrides of every one-line `ampose-train` command in the README (comments dropped)."""
    import shlex

    readme = Path(__file__).resolve().parents[1] / "README.md"
    out = []
    for line in readme.read_text().splitlines():
        if line.startswith("ampose-train ") and not line.rstrip().endswith("\\"):
            words = shlex.split(line.split("  #")[0].split(" # ")[0], comments=False)[1:]
            out.append([w for w in words if w != "-m" and not w.startswith(("hydra/launcher", "hydra.launcher"))])
    return out


@pytest.mark.parametrize("overrides", _readme_train_commands(), ids=lambda o: " ".join(o)[:60])
def test_every_readme_train_command_composes_and_a_data_root_means_real_data(overrides, tmp_path):
    """The README's commands are what users paste: each composes, and one that names a data.root
    (Human3.6M's folder) reads Human3.6M, never the synthetic set."""
    from ampose.train import compose_config

    def first_value(o: str) -> str:  # a multirun's sweep "k=a,b" (or "k=[a],[b]") -> its first job, "k=a"
        key, _, value = o.partition("=")
        depth = 0
        for i, ch in enumerate(value):
            depth += ch == "["
            depth -= ch == "]"
            if ch == "," and depth == 0:
                return f"{key}={value[:i]}"
        return o

    overrides = [first_value(o.replace("data.root=/path/to/h36m", "data.root=DIR").replace("data.root=...", "data.root=DIR"))
                 for o in overrides]
    cfg = compose_config("train", overrides, output_dir=tmp_path)
    if any(o.startswith("data.root=") for o in overrides):
        assert cfg.data.dataset == "h36m", overrides
