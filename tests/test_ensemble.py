"""Ensembles: MeanOf by hand, several checkpoints in one LiftingModule, ampose-eval and ampose-predict."""

import json

import numpy as np
import pytest
import torch
from torch import nn

from ampose import predict
from ampose.checkpoint import CheckpointError, load_ensemble, load_lit_module
from ampose.lit_module import LiftingModule
from ampose.models import MeanOf


class Scaled(nn.Module):
    """(x, y) -> (k x, k y, k): a lifter whose output is checkable by hand."""

    def __init__(self, k: float, num_joints: int = 17) -> None:
        super().__init__()
        self.k, self.num_joints = k, num_joints

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.k * torch.cat([x, torch.ones_like(x[..., :1])], -1)


def test_mean_of_by_hand():
    x = torch.randn(4, 17, 2)
    out = MeanOf([Scaled(1.0), Scaled(3.0)])(x)
    torch.testing.assert_close(out, 2.0 * torch.cat([x, torch.ones_like(x[..., :1])], -1))
    assert MeanOf([Scaled(1.0)]).num_joints == 17


@pytest.mark.parametrize("nets, message", [
    ([], "at least one"), ([Scaled(1.0, 17), Scaled(1.0, 16)], r"joint counts \[17, 16\]"), ([nn.Identity()], "-1")])
def test_mean_of_refuses_what_cannot_be_averaged(nets, message):
    with pytest.raises(ValueError, match=message):
        MeanOf(nets)


def save_checkpoint(path, seed: int, num_joints: int = 17) -> None:
    """A tiny AMPose checkpoint as ampose-train writes it (config, weights, options)."""
    torch.manual_seed(seed)
    net = {"_target_": "ampose.models.AMPose", "num_joints": num_joints, "dim": 16, "depth": 1, "num_heads": 2,
           "mlp_ratio": 1.0}
    lit = LiftingModule(net=net, ema_decay=0.9)
    with torch.no_grad():  # the weight average differs from the trained weights, as after training
        for p in lit.net_ema.parameters():
            p.add_(0.1 * torch.randn_like(p))
    torch.save({"ampose": {"num_joints": num_joints}, "state_dict": lit.state_dict(),
                "hyper_parameters": dict(lit.hparams)}, path)


@pytest.mark.parametrize("flip", [False, True])
@pytest.mark.parametrize("raw", [False, True])
def test_load_ensemble_predicts_the_mean_of_its_members(tmp_path, flip, raw):
    a, b = tmp_path / "a.ckpt", tmp_path / "b.ckpt"
    save_checkpoint(a, 1)
    save_checkpoint(b, 2)
    x = torch.randn(8, 17, 2)
    members = [load_lit_module(p) for p in (a, b)]
    with torch.no_grad():
        each = [m.predict_3d(x, flip=flip, raw=raw) for m in members]
        both = load_ensemble([a, b], raw=raw).predict_3d(x, flip=flip)
        twice = load_ensemble([a, a], raw=raw).predict_3d(x, flip=flip)
    assert not torch.allclose(each[0], each[1])
    torch.testing.assert_close(both, (each[0] + each[1]) / 2)  # linear: flip and root shift commute with the mean
    torch.testing.assert_close(twice, each[0])


def test_load_ensemble_names_a_joint_mismatch(tmp_path):
    save_checkpoint(tmp_path / "a.ckpt", 1, 17)
    save_checkpoint(tmp_path / "b.ckpt", 1, 16)
    with pytest.raises(CheckpointError, match=r"b\.ckpt.*joint counts \[17, 16\]"):
        load_ensemble([tmp_path / "a.ckpt", tmp_path / "b.ckpt"])


def test_ampose_eval_tests_an_ensemble(tmp_path, synthetic_root):
    from ampose.eval import evaluate
    from ampose.train import compose_config

    a, b = tmp_path / "a.ckpt", tmp_path / "b.ckpt"
    save_checkpoint(a, 1)
    save_checkpoint(b, 2)
    data = ["data=synthetic", f"data.root={synthetic_root}", "data.eval_stride=20", "data.eval_batch_size=512"]
    results = {}
    for name, ckpt in (("a", f"{a}"), ("aa", f"[{a},{a}]"), ("ab", f"[{a},{b}]")):
        cfg = compose_config("eval", [f"ckpt_path={ckpt}", *data], output_dir=tmp_path / name)
        results[name] = evaluate(cfg)[0]["test/mpjpe"]
    assert results["aa"] == pytest.approx(results["a"], rel=1e-5)  # an ensemble of one model is that model
    assert results["ab"] != pytest.approx(results["a"], rel=1e-3)
    stored = json.loads((tmp_path / "ab" / "metrics.json").read_text())
    assert stored["checkpoint"] == [str(a), str(b)] and "mean of 2 checkpoints" in stored["weights"]


def test_ampose_predict_lifts_with_an_ensemble(tmp_path, capsys):
    a, b = tmp_path / "a.ckpt", tmp_path / "b.ckpt"
    save_checkpoint(a, 1)
    save_checkpoint(b, 2)
    kp = np.random.default_rng(0).uniform(100, 700, size=(3, 17, 2))
    np.save(tmp_path / "kp.npy", kp)
    base = [f"input={tmp_path / 'kp.npy'}", "layout=h36m", "image_size=[1000,800]", "device=cpu"]
    for name, ckpt in (("a", f"{a}"), ("b", f"{b}"), ("ab", f"[{a},{b}]")):
        assert predict.main([f"ckpt_path={ckpt}", f"output={tmp_path / name}", *base]) == 0, capsys.readouterr().err
    out = {n: np.load(tmp_path / f"{n}.npy") for n in ("a", "b", "ab")}
    np.testing.assert_allclose(out["ab"], (out["a"] + out["b"]) / 2, atol=1e-3)  # mm
    assert predict.main([f"ckpt_path=[{a},{tmp_path / 'missing.ckpt'}]", f"output={tmp_path / 'x'}", *base]) == 2
    assert "checkpoint not found" in capsys.readouterr().err
    save_checkpoint(tmp_path / "c16.ckpt", 3, num_joints=16)
    assert predict.main([f"ckpt_path=[{a},{tmp_path / 'c16.ckpt'}]", f"output={tmp_path / 'x'}", *base]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "joint counts [17, 16]" in err
