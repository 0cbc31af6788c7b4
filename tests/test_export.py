"""ampose-export: the .pt2 program reproduces ``lift`` and runs with torch alone."""

import json

import numpy as np
import pytest
import torch

from ampose import export
from ampose.data.skeleton import skeleton_for
from ampose.lit_module import LiftingModule
from ampose.predict import lift


def save_ckpt(path, num_joints=17, seed=0):
    torch.manual_seed(seed)
    cfg = {"_target_": "ampose.models.AMPose", "num_joints": num_joints, "dim": 16, "depth": 1, "num_heads": 2,
           "mlp_ratio": 1.0}
    lit = LiftingModule(net=cfg)
    torch.save({"ampose": {"num_joints": num_joints}, "state_dict": lit.state_dict(),
                "hyper_parameters": dict(lit.hparams)}, path)
    return path


def poses_px(t=5, joints=17, seed=1):
    return np.random.default_rng(seed).uniform(100, 700, size=(t, joints, 2)).astype(np.float32)


@pytest.mark.parametrize("flip, joints", [(False, 17), (True, 17), (True, 16)])
def test_exported_program_matches_lift(tmp_path, flip, joints):
    ckpt = save_ckpt(tmp_path / "m.ckpt", joints)
    assert export.main([f"ckpt_path={ckpt}", f"output={tmp_path / 'lifter.pt2'}", f"flip={str(flip).lower()}"]) == 0
    program = torch.export.load(tmp_path / "lifter.pt2").module()
    kp = poses_px(joints=joints)
    layout = "h36m" if joints == 17 else "h36m16"
    expect = lift(kp, layout=layout, image_size=(1000, 800), ckpt_path=ckpt, flip=flip, device="cpu")
    got = program(torch.from_numpy(kp), torch.tensor([[1000.0, 800.0]] * len(kp)))
    np.testing.assert_allclose(got.numpy(), expect, atol=1e-3)  # mm; no grad to detach from
    info = json.loads((tmp_path / "lifter.json").read_text())
    assert info["joints"] == list(skeleton_for(joints).names) and info["flip_test"] is flip


def test_batch_is_dynamic_and_each_pose_has_its_own_image(tmp_path):
    ckpt = save_ckpt(tmp_path / "m.ckpt")
    assert export.main([f"ckpt_path={ckpt}", f"output={tmp_path / 'l.pt2'}"]) == 0
    program = torch.export.load(tmp_path / "l.pt2").module()
    kp = torch.from_numpy(poses_px(t=3))
    sizes = torch.tensor([[1000.0, 800.0], [640.0, 480.0], [1920.0, 1080.0]])
    together = program(kp, sizes)
    for i in range(3):  # batch 1 too: the batch dimension was not specialised at export
        alone = lift(kp[i].numpy(), layout="h36m", image_size=tuple(int(v) for v in sizes[i]), ckpt_path=ckpt)
        np.testing.assert_allclose(together[i].detach().numpy(), alone[0], atol=1e-3)
        np.testing.assert_allclose(program(kp[i:i + 1], sizes[i:i + 1])[0].detach().numpy(), alone[0], atol=1e-3)


def test_root_at_origin_and_scale_equivariance(tmp_path):
    """Root-relative output; the same pose drawn twice as large in a twice as large image lifts the same."""
    ckpt = save_ckpt(tmp_path / "m.ckpt")
    assert export.main([f"ckpt_path={ckpt}", f"output={tmp_path / 'l.pt2'}"]) == 0
    program = torch.export.load(tmp_path / "l.pt2").module()
    kp = torch.from_numpy(poses_px(t=2))
    y = program(kp, torch.tensor([[1000.0, 800.0]] * 2))
    y2 = program(kp * 2, torch.tensor([[2000.0, 1600.0]] * 2))
    assert torch.all(y[:, 0] == 0)
    torch.testing.assert_close(y, y2, atol=1e-3, rtol=1e-4)


def test_load_lifter_matches_plain_load(tmp_path):
    ckpt = save_ckpt(tmp_path / "m.ckpt")
    assert export.main([f"ckpt_path={ckpt}", f"output={tmp_path / 'l.pt2'}"]) == 0
    kp, sizes = torch.from_numpy(poses_px(t=2)), torch.tensor([[1000.0, 800.0]] * 2)
    plain = torch.export.load(tmp_path / "l.pt2").module()(kp, sizes)
    torch.testing.assert_close(export.load_lifter(tmp_path / "l.pt2")(kp, sizes), plain)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="moving the program to a GPU needs one")
def test_load_lifter_runs_on_the_gpu(tmp_path):
    """``.module().to("cuda")`` fails on the program's device assertions; ``load_lifter`` moves them."""
    ckpt = save_ckpt(tmp_path / "m.ckpt")
    assert export.main([f"ckpt_path={ckpt}", f"output={tmp_path / 'l.pt2'}"]) == 0
    kp, sizes = torch.from_numpy(poses_px(t=2)), torch.tensor([[1000.0, 800.0]] * 2)
    cpu = export.load_lifter(tmp_path / "l.pt2")(kp, sizes)
    gpu = export.load_lifter(tmp_path / "l.pt2", "cuda")(kp.cuda(), sizes.cuda())
    torch.testing.assert_close(gpu.cpu(), cpu, atol=1e-2, rtol=1e-3)  # mm; TF32 matmuls on the GPU


def test_ensemble_export_is_the_mean(tmp_path):
    a, b = save_ckpt(tmp_path / "a.ckpt", seed=0), save_ckpt(tmp_path / "b.ckpt", seed=1)
    assert export.main([f"ckpt_path=[{a},{b}]", f"output={tmp_path / 'e.pt2'}"]) == 0
    program = torch.export.load(tmp_path / "e.pt2").module()
    kp = poses_px(t=2)
    got = program(torch.from_numpy(kp), torch.tensor([[1000.0, 800.0]] * 2)).detach().numpy()
    each = [lift(kp, layout="h36m", image_size=(1000, 800), ckpt_path=p) for p in (a, b)]
    np.testing.assert_allclose(got, (each[0] + each[1]) / 2, atol=1e-3)
    assert json.loads((tmp_path / "e.json").read_text())["checkpoints"] == [str(a), str(b)]


def test_bad_input_is_one_line_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "x.pt2"
    assert export.main([f"ckpt_path={tmp_path / 'missing.ckpt'}", f"output={out}"]) == 2
    assert "checkpoint not found" in capsys.readouterr().err
    (tmp_path / "bad.ckpt").write_bytes(b"junk")
    assert export.main([f"ckpt_path={tmp_path / 'bad.ckpt'}", f"output={out}"]) == 2
    assert "cannot load checkpoint" in capsys.readouterr().err
    assert export.main(["output=x.pt2"]) == 2 and "missing ckpt_path" in capsys.readouterr().err
    assert export.main(["ckpt_path=a", "output=b.pt2", "bf16=true"]) == 2 and "bf16" in capsys.readouterr().err
    assert export.main(["ckpt_path=a", "output=b.onnx"]) == 2 and "must end in .pt2" in capsys.readouterr().err
    assert export.main(["ckpt_path=a", "output=b.pt2", "flip=maybe"]) == 2
    assert "flip must be true or false" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == [tmp_path / "bad.ckpt"]  # no .pt2, no .json, no temporary file


@pytest.mark.parametrize("folder", ["l.pt2", "l.json"])
def test_an_output_that_is_a_folder_is_refused_before_the_export(tmp_path, capsys, folder):
    ckpt = save_ckpt(tmp_path / "m.ckpt")
    (tmp_path / folder).mkdir()
    assert export.main([f"ckpt_path={ckpt}", f"output={tmp_path / 'l.pt2'}"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"cannot write {tmp_path / folder}: a folder of that name is there" in err[0], err
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["m.ckpt", folder])  # no .pt2 without its .json


def test_the_file_runs_with_torch_alone(tmp_path):
    import subprocess
    import sys

    ckpt = save_ckpt(tmp_path / "m.ckpt")
    assert export.main([f"ckpt_path={ckpt}", f"output={tmp_path / 'l.pt2'}", "flip=true"]) == 0
    code = ("import sys, torch; m = torch.export.load(sys.argv[1]).module(); "
            "y = m(torch.full((3, 17, 2), 300.0), torch.tensor([[1000.0, 800.0]] * 3)); "
            "assert y.shape == (3, 17, 3) and bool(torch.isfinite(y).all()); "
            "assert not any(k.split('.')[0] in ('ampose', 'hydra', 'pytorch_lightning') for k in sys.modules), 'imported'")
    subprocess.run([sys.executable, "-c", code, str(tmp_path / "l.pt2")], check=True, cwd=tmp_path)


def test_export_lifter_leaves_the_callers_network_alone():
    from ampose.models import AMPose

    net = AMPose(num_joints=16, dim=16, depth=1, num_heads=2, mlp_ratio=1.0).train()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    program = export.export_lifter(net, flip=True)
    assert net.training  # the copy was put in eval mode, not the caller's module
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
    y = program.module()(torch.full((2, 16, 2), 400.0), torch.tensor([[800.0, 600.0]] * 2))
    assert y.shape == (2, 16, 3)


def test_a_crafted_checkpoint_cannot_run_code(tmp_path, capsys):
    """A stored ``_target_`` that reaches a function through torch's attributes is refused, in one
    line, by every loader (ampose-export here, and load_model), and nothing runs."""
    from ampose.checkpoint import CheckpointError, load_model

    ckpt = torch.load(save_ckpt(tmp_path / "m.ckpt"), weights_only=True)
    marker = tmp_path / "ran"
    ckpt["hyper_parameters"]["net"] = {"_target_": "torch.os.system", "_args_": [f"touch {marker}"]}
    torch.save(ckpt, tmp_path / "evil.ckpt")
    assert export.main([f"ckpt_path={tmp_path / 'evil.ckpt'}", f"output={tmp_path / 'e.pt2'}"]) == 2
    assert "refusing to build 'torch.os.system'" in capsys.readouterr().err
    with pytest.raises(CheckpointError, match="only network classes"):
        load_model(tmp_path / "evil.ckpt")
    assert not marker.exists() and not (tmp_path / "e.pt2").exists()
