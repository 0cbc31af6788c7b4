"""LiftingModule: training runs, metrics are logged under stage/name, flip TTA, checkpoints reload."""

import math
import zipfile

import pytest
import pytorch_lightning as pl
import torch

from ampose.checkpoint import CheckpointError, check_resumable, load_lit_module, load_model
from ampose.lit_module import LiftingModule, instantiate
from ampose.models import AMPose

NET = {"_target_": "ampose.models.AMPose", "num_joints": 17, "dim": 16, "depth": 1, "num_heads": 2}


def _trainer(tmp_path, **kw):
    return pl.Trainer(default_root_dir=tmp_path, accelerator="cpu", devices=1, logger=False,
                      enable_progress_bar=False, enable_model_summary=False, **kw)


def test_instantiate_partial_and_nested():
    net = instantiate({**NET, "block": {"_target_": "ampose.models.blocks.ConvNeXtBlock", "_partial_": True}})
    assert isinstance(net, AMPose)
    with pytest.raises(ValueError, match="trusted"):
        instantiate({"_target_": "os.system", "_args_": ["true"]}, allowed=("ampose.",))


@pytest.mark.parametrize("target", [
    "torch.os.system",                # a module reached through torch's attributes
    "ampose.lit_module.importlib.import_module",
    "torch.hub.load", "torch.load",   # functions under a trusted prefix
    "ampose.models",                  # a module, not a class
    "ampose.lit_module.LiftingModule.load_from_checkpoint",
    "torch.optim.Adam",               # a class, but not a network
])
def test_trusted_instantiate_builds_network_classes_only(tmp_path, target):
    """A stored config can name only a network class: nothing a crafted checkpoint names may run."""
    marker = tmp_path / "ran"
    with pytest.raises(ValueError, match="trusted"):
        instantiate({"_target_": target, "_args_": [f"touch {marker}"]}, allowed=("ampose.", "torch.nn."))
    assert not marker.exists()
    net = instantiate({**NET, "block": {"_target_": "ampose.models.blocks.ConvNeXtBlock", "_partial_": True}},
                      allowed=("ampose.", "torch.nn."))
    assert isinstance(net, AMPose)


def test_fit_test_logs_stage_metrics_and_checkpoint_reloads(tmp_path, tiny_dm):
    dm = tiny_dm(num_joints=17)
    lit = LiftingModule(net=NET, optimizer={"_target_": "torch.optim.Adam", "_partial_": True, "lr": 1e-3},
                        block={"_target_": "ampose.models.blocks.OursBlock", "_partial_": True},
                        warmup_steps=2)
    trainer = _trainer(tmp_path, max_epochs=2, num_sanity_val_steps=1)
    trainer.fit(lit, datamodule=dm)
    for name in ("train/loss", "val/mpjpe", "val/p_mpjpe", "val/mpjpe_action", "val/mpjpe_best"):
        assert name in trainer.callback_metrics, name
    assert "val/pck" not in trainer.callback_metrics  # no 3DHP scenes in this data
    (logged,) = trainer.test(lit, datamodule=dm, verbose=False)
    res = lit.test_results
    assert logged["test/mpjpe"] == pytest.approx(res["mpjpe"], rel=1e-6)
    assert set(res["per_action"]["mpjpe"]) >= {"Sitting", "SittingDown"}
    ckpt = tmp_path / "m.ckpt"
    trainer.save_checkpoint(ckpt)
    again = load_lit_module(ckpt)
    assert not again.training
    (logged2,) = _trainer(tmp_path).test(again, datamodule=dm, verbose=False)
    assert logged2["test/mpjpe"] == pytest.approx(logged["test/mpjpe"], rel=1e-6)
    net = load_model(ckpt)
    assert isinstance(net, AMPose) and not net.training
    assert type(net.layers[0][1]).__name__ == "OursBlock"


def test_3dhp_scenes_are_logged(tmp_path, tiny_dm):
    dm = tiny_dm(num_joints=16, scenes=True)
    lit = LiftingModule(net={**NET, "num_joints": 16})
    (logged,) = _trainer(tmp_path).test(lit, datamodule=dm, verbose=False)
    for k in ("test/pck", "test/auc", "test/pck_GS", "test/pck_noGS", "test/pck_outdoor"):
        assert k in logged and 0.0 <= logged[k] <= 100.0


def test_flip_test_averages_with_mirrored_prediction():
    torch.manual_seed(0)
    lit = LiftingModule(net=NET, flip_test=True, root_relative=False).eval()
    x = torch.randn(3, 17, 2)
    perm = lit.flip_perm
    with torch.no_grad():
        plain = lit.net(x)
        mirrored = lit.net(x[:, perm] * torch.tensor([-1.0, 1.0]))[:, perm] * torch.tensor([-1.0, 1.0, 1.0])
        assert torch.allclose(lit.predict_3d(x), (plain + mirrored) / 2, atol=1e-6)
        assert torch.allclose(lit.predict_3d(x, flip=False), plain)


def test_module_net_and_hparams():
    lit = LiftingModule(net=AMPose(num_joints=16, dim=8, depth=1, num_heads=2))
    assert lit.hparams["net"] is None and lit.hparams["optimizer"]["lr"] == 2.5e-5
    opt = lit.configure_optimizers()
    assert isinstance(opt["optimizer"], torch.optim.Adam)
    assert opt["lr_scheduler"]["scheduler"].gamma == 0.98


def test_checkpoint_errors(tmp_path, tiny_dm):
    with pytest.raises(FileNotFoundError, match="not found"):
        load_model(tmp_path / "missing.ckpt")
    lit = LiftingModule(net=NET)
    trainer = _trainer(tmp_path, fast_dev_run=True)
    trainer.fit(lit, datamodule=tiny_dm())
    good = tmp_path / "good.ckpt"
    trainer.save_checkpoint(good)
    data = good.read_bytes()
    bad = tmp_path / "truncated.ckpt"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        load_model(bad)
    with pytest.raises(CheckpointError, match="truncated or corrupt"):  # the resume check maps it
        check_resumable(bad, {})
    bad.write_bytes(b"")
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        check_resumable(bad, {})
    assert check_resumable(good, dict(lit.hparams["net"] or {})) == trainer.global_step > 0
    foreign = tmp_path / "foreign.pt"
    torch.save({"model": {"w": torch.zeros(2)}}, foreign)
    with pytest.raises(CheckpointError, match="not an ampose checkpoint"):
        load_model(foreign)
    for content, why in ((b"version https://git-lfs.github.com/spec/v1\noid sha256:ab\n", "Git LFS pointer"),
                         (b"<!DOCTYPE html><html>", "HTML or XML page"),
                         (b"hello\n", r"starts with b'hello\\n', neither a zip archive nor a pickle")):
        foreign.write_bytes(content)  # what a failed download leaves: one line, why, and no advice to unpickle it
        with pytest.raises(CheckpointError, match=f"is not a PyTorch checkpoint: .*{why}"):
            load_model(foreign)
    ckpt = torch.load(good, weights_only=True)
    ckpt["hyper_parameters"]["net"]["dim"] = 32  # a different model configuration
    other = tmp_path / "other.ckpt"
    torch.save(ckpt, other)
    with pytest.raises(CheckpointError, match="do not match"):
        load_model(other)
    with torch.no_grad():
        assert math.isfinite(float(load_model(good)(torch.zeros(1, 17, 2)).sum()))


def test_resume_of_a_checkpoint_older_than_bf16_residual(tmp_path):
    """A checkpoint saved before model.net.bf16_residual existed was trained with the class default
    (False): resuming it under the config default (true) is refused, not switched mid-run; a test of it is not."""
    lit = LiftingModule(net=NET)  # a stored net config without the key
    old = tmp_path / "old.ckpt"
    torch.save({"ampose": {}, "hyper_parameters": dict(lit.hparams), "state_dict": lit.state_dict(),
                "global_step": 7}, old)
    with pytest.raises(CheckpointError, match=r"bf16_residual: False in the checkpoint, True here"):
        check_resumable(old, {**NET, "bf16_residual": True}, train_cfg={})
    assert check_resumable(old, {**NET, "bf16_residual": False}, train_cfg={}) == 7
    assert check_resumable(old, {**NET, "bf16_residual": True}) == 7  # testing it: the weights fit


def test_a_damaged_copy_of_the_same_size_is_refused_not_loaded_with_wrong_weights(tmp_path):
    lit = LiftingModule(net=NET)
    good = tmp_path / "good.ckpt"
    torch.save({"ampose": {}, "state_dict": lit.state_dict(), "hyper_parameters": dict(lit.hparams)}, good)
    data = bytearray(good.read_bytes())
    with zipfile.ZipFile(good) as zf:  # a tensor's bytes: torch.load alone reads them without a word
        member = next(i for i in zf.infolist() if "/data/" in i.filename and i.file_size >= 8)
    off = member.header_offset  # the local header: 30 bytes, then its own name and (alignment) extra field
    start = off + 30 + int.from_bytes(data[off + 26:off + 28], "little") + int.from_bytes(data[off + 28:off + 30], "little")
    data[start:start + 8] = bytes(b ^ 0xFF for b in data[start:start + 8])
    bad = tmp_path / "damaged.ckpt"
    bad.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match=r"damaged.ckpt is corrupt: .*/data/\d+ fails its checksum"):
        load_model(bad)
    torch.serialization.set_crc32_options(False)  # a file saved without checksums still loads
    try:
        torch.save({"ampose": {}, "state_dict": lit.state_dict(), "hyper_parameters": dict(lit.hparams)}, good)
    finally:
        torch.serialization.set_crc32_options(True)
    torch.testing.assert_close(load_model(good).state_dict(), lit.net.state_dict())


def test_warmup_scales_the_step_and_leaves_the_schedule_alone():
    lit = LiftingModule(net=NET, warmup_steps=4)
    seen = []

    class Opt:
        param_groups = [{"lr": 1.0}]

        def step(self, closure=None):
            seen.append(self.param_groups[0]["lr"])

    opt = Opt()
    lit.optimizer_step(0, 0, opt)
    assert seen == [0.25] and opt.param_groups[0]["lr"] == 1.0


def test_lightning_load_from_checkpoint_needs_no_net(tmp_path, tiny_dm):
    lit = LiftingModule(net=NET)
    trainer = _trainer(tmp_path, fast_dev_run=True)
    trainer.fit(lit, datamodule=tiny_dm())
    trainer.save_checkpoint(tmp_path / "a.ckpt")
    again = LiftingModule.load_from_checkpoint(tmp_path / "a.ckpt", weights_only=True)
    assert isinstance(again.net, AMPose)


def test_grad_clip_norm_clips_before_the_step():
    from ampose.lit_module import LiftingModule
    from ampose.models import AMPose

    torch.manual_seed(0)
    lit = LiftingModule(AMPose(17, dim=16, depth=1, num_heads=2), grad_clip_norm=1e-3)
    loss = lit.net(torch.randn(8, 17, 2)).pow(2).sum() * 100
    loss.backward()
    before = torch.nn.utils.get_total_norm([p.grad for p in lit.parameters() if p.grad is not None])
    lit.on_before_optimizer_step(None)
    after = torch.nn.utils.get_total_norm([p.grad for p in lit.parameters() if p.grad is not None])
    assert before > 1e-2 and after == pytest.approx(1e-3, rel=1e-3)
    with pytest.raises(ValueError, match="grad_clip_norm"):
        LiftingModule(AMPose(17, dim=16, depth=1, num_heads=2), grad_clip_norm=0.0)


def test_test_metrics_are_fp32_whatever_the_training_precision(tmp_path, tiny_dm):
    """bf16 autocast rounds inputs and activations; the reported test numbers must not depend on it."""
    dm = tiny_dm(num_joints=17)
    torch.manual_seed(0)
    lit = LiftingModule(net=NET)

    def test(precision, test_fp32):
        lit.hparams.test_fp32 = test_fp32
        (logged,) = _trainer(tmp_path, precision=precision).test(lit, datamodule=dm, verbose=False)
        return logged["test/mpjpe"], logged["test/p_mpjpe"]

    fp32 = test("32-true", True)
    assert test("bf16-mixed", True) == pytest.approx(fp32, rel=1e-6)
    rounded = test("bf16-mixed", False)  # the old behaviour: test under the training precision
    assert rounded[0] != pytest.approx(fp32[0], rel=1e-6)


def test_evaluation_bypasses_a_compiled_network():
    """Validation/test call the plain forward: the compiled one would recompile for their shapes."""
    torch._dynamo.reset()
    lit = LiftingModule(net=NET).eval()
    compiled = []

    def backend(gm, example_inputs):
        compiled.append(gm)
        return gm.forward

    x = torch.randn(4, 17, 2)
    with torch.no_grad():
        plain = lit.predict_3d(x)
        lit.net.compile(backend=backend)
        eager = lit.predict_3d(x, eager=True)
        assert not compiled
        assert torch.equal(eager, plain)
        lit.predict_3d(x)
    assert compiled
    torch._dynamo.reset()


def test_ema_update_is_the_warmed_up_moving_average():
    """ema <- d ema + (1 - d) w with d = min(decay, (1+t)/(10+t)): t = 0 gives d = 0.1."""
    torch.manual_seed(0)
    lit = LiftingModule(net=NET, ema_decay=0.99)
    start = [p.detach().clone() for p in lit.net_ema.parameters()]
    assert all(torch.equal(a, b) for a, b in zip(start, lit.net.parameters()))  # starts as a copy
    with torch.no_grad():
        for p in lit.net.parameters():
            p.add_(1.0)
    lit._update_ema()
    for e, s in zip(lit.net_ema.parameters(), start):
        torch.testing.assert_close(e, s + 0.9)  # 0.1 s + 0.9 (s + 1)
    # the average is frozen and out of the optimizer: only the trained weights are optimised
    assert not any(p.requires_grad for p in lit.net_ema.parameters())
    opt = lit.configure_optimizers()["optimizer"]
    optimised = {id(p) for g in opt.param_groups for p in g["params"]}
    assert optimised == {id(p) for p in lit.net.parameters()}
    for bad in (0.0, 1.0, 1.5):
        with pytest.raises(ValueError, match="ema_decay"):
            LiftingModule(net=NET, ema_decay=bad)


def test_ema_is_what_evaluation_and_checkpoints_use(tmp_path, tiny_dm):
    dm = tiny_dm(num_joints=17)
    torch.manual_seed(0)
    lit = LiftingModule(net=NET, optimizer={"_target_": "torch.optim.Adam", "_partial_": True, "lr": 1e-2},
                        ema_decay=0.9)
    trainer = _trainer(tmp_path, max_epochs=2)
    trainer.fit(lit, datamodule=dm)
    assert "val/mpjpe_raw" in trainer.callback_metrics
    assert trainer.callback_metrics["val/mpjpe_raw"] != trainer.callback_metrics["val/mpjpe"]
    x = torch.randn(5, 17, 2)
    with torch.no_grad():
        ema_out, raw_out = lit.net_ema(x), lit.net(x)
        assert not torch.allclose(ema_out, raw_out)
        torch.testing.assert_close(lit.predict_3d(x), ema_out - ema_out[:, :1])
    ckpt = tmp_path / "ema.ckpt"
    trainer.save_checkpoint(ckpt)
    with torch.no_grad():
        torch.testing.assert_close(load_model(ckpt)(x), ema_out)  # the average, not the raw weights
        torch.testing.assert_close(load_lit_module(ckpt).net(x), raw_out)  # both survive, for resuming


def test_mpjpe_loss_is_the_mean_joint_distance_with_a_finite_gradient_at_zero():
    from ampose.lit_module import LiftingModule, mpjpe_loss
    from ampose.models import AMPose

    target = torch.zeros(2, 2, 3)
    pred = torch.tensor([[[3.0, 4.0, 0.0], [0.0, 0.0, 0.0]], [[0.0, 0.0, 1.0], [1.0, 2.0, 2.0]]], requires_grad=True)
    loss = mpjpe_loss(pred, target)
    assert loss.item() == pytest.approx((5 + 0 + 1 + 3) / 4)
    loss.backward()
    assert torch.isfinite(pred.grad).all() and pred.grad[0, 1].abs().sum() == 0  # the zero error
    assert torch.allclose(pred.grad[0, 0], torch.tensor([3.0, 4.0, 0.0]) / 5 / 4)  # unit direction / N
    lit = LiftingModule(AMPose(17, dim=16, depth=1, num_heads=2), loss="mpjpe")
    assert lit.loss_fn is mpjpe_loss and lit.hparams.loss == "mpjpe"
    with pytest.raises(ValueError, match="loss must be one of"):
        LiftingModule(AMPose(17, dim=16, depth=1, num_heads=2), loss="l1")


def test_init_weights_takes_the_average_into_both_copies_and_refuses_another_network(tmp_path, tiny_dm):
    from ampose.checkpoint import init_weights

    src = LiftingModule(net=NET, ema_decay=0.9)
    trainer = _trainer(tmp_path, fast_dev_run=True)
    trainer.fit(src, datamodule=tiny_dm())
    path = tmp_path / "src.ckpt"
    trainer.save_checkpoint(path)
    # After training the average and the raw weights differ: the average is what was evaluated.
    avg = {k: v.clone() for k, v in src.net_ema.state_dict().items()}
    assert any(not torch.equal(avg[k], v) for k, v in src.net.state_dict().items())

    torch.manual_seed(1)
    dst = LiftingModule(net=NET, ema_decay=0.99)
    assert init_weights(dst, path) == len(avg)
    for copy in (dst.net, dst.net_ema):
        assert all(torch.equal(avg[k], v) for k, v in copy.state_dict().items())
    plain = LiftingModule(net=NET)  # no average kept here: the network alone takes it
    init_weights(plain, path)
    assert all(torch.equal(avg[k], v) for k, v in plain.net.state_dict().items())

    wider = LiftingModule(net={**NET, "dim": 32})
    with pytest.raises(CheckpointError, match=r"different network \(dim: 16 in the checkpoint, 32 here\)"):
        init_weights(wider, path)
    fewer = LiftingModule(net={**NET, "num_joints": 16})
    with pytest.raises(CheckpointError, match=r"num_joints: 17 in the checkpoint, 16 here"):
        init_weights(fewer, path)
    regularised = LiftingModule(net={**NET, "dropout": 0.1, "drop_path": 0.1})  # no weights of their own: allowed
    assert init_weights(regularised, path) == len(avg)
    assert all(torch.equal(avg[k], v) for k, v in regularised.net.state_dict().items())


class _Recorder(torch.nn.Module):
    """A 'network' that records its input and returns zeros (17 joints)."""

    num_joints = 17

    def __init__(self) -> None:
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(()))
        self.seen: list[torch.Tensor] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.seen.append(x.detach().clone())
        return torch.zeros(*x.shape[:-1], 3) + self.w


def test_input_noise_jitters_training_inputs_only_with_its_standard_deviation():
    net = _Recorder()
    lit = LiftingModule(net, input_noise=0.01, optimizer=None, scheduler=None)
    x = torch.rand(4096, 17, 2)
    batch = {"pose2d": x, "pose3d": torch.zeros(4096, 17, 3)}
    torch.manual_seed(0)
    lit.training_step(batch, 0)
    noise = net.seen[-1] - x
    assert noise.std().item() == pytest.approx(0.01, rel=0.02) and abs(noise.mean().item()) < 1e-3
    assert torch.equal(batch["pose2d"], x)  # the batch itself is left alone
    lit.predict_3d(x)
    assert torch.equal(net.seen[-1], x)  # evaluation sees the 2D as given
    plain = LiftingModule(_Recorder(), optimizer=None, scheduler=None)
    plain.training_step(batch, 0)
    assert torch.equal(plain.net.seen[-1], x)  # default 0: no noise
    for bad in (-0.1, float("nan")):
        with pytest.raises(ValueError, match="input_noise must be >= 0"):
            LiftingModule(_Recorder(), input_noise=bad)
