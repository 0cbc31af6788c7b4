import json
import re
import warnings

import numpy as np
import pytest
import torch
from torch import nn

from ampose import predict
from ampose.models import AMPose
from ampose.predict import KeypointError, MissingKeypointsWarning, lift, lift_detailed, read_keypoints

W, H = 1000, 800


class XYZero(nn.Module):
    """Deterministic 'lifter': (x, y) -> (x, y, 0) metres, so outputs are checkable by hand."""

    def __init__(self, num_joints: int = 17) -> None:
        super().__init__()
        self.num_joints = num_joints

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x, torch.zeros_like(x[..., :1])], -1)


def coco_sequence(t: int = 4) -> np.ndarray:
    rng = np.random.default_rng(0)
    kp = np.empty((t, 17, 3))
    kp[..., :2] = rng.uniform(100, 700, size=(t, 17, 2))
    kp[..., 2] = 0.9
    return kp


def test_lift_npy_roundtrip_shapes_and_units(tmp_path):
    kp = coco_sequence()
    np.save(tmp_path / "kp.npy", kp)
    out = lift(tmp_path / "kp.npy", layout="coco", image_size=(W, H), model=XYZero())
    assert out.shape == (4, 17, 3) and out.dtype == np.float32
    # expected: normalised x, y (x / w * 2 - [1, h / w]) in metres -> mm, root-relative
    hip = (kp[:, 11, :2] + kp[:, 12, :2]) / 2
    lw = kp[:, 9, :2]
    expect = (lw - hip) / W * 2 * 1000
    np.testing.assert_allclose(out[:, 13, :2], expect, rtol=1e-4, atol=1e-3)  # LWrist
    assert np.all(out[:, 0] == 0)


def test_lift_tiny_ampose_16_joints_mpii_npz(tmp_path):
    torch.manual_seed(0)
    net = AMPose(num_joints=16, dim=16, depth=1, num_heads=2, mlp_ratio=1.0).eval()
    kp = np.random.default_rng(1).uniform(0, 500, size=(5, 16, 2))
    np.savez(tmp_path / "kp.npz", keypoints=kp, image_size=np.array([W, H]))
    out = lift(tmp_path / "kp.npz", layout="mpii16", model=net, batch_size=2)  # image size from the file
    assert out.shape == (5, 16, 3) and np.isfinite(out).all()


def test_read_coco_results_json_keeps_best_person(tmp_path):
    kp = coco_sequence(2)
    recs = [
        {"image_id": 7, "category_id": 1, "keypoints": kp[1].ravel().tolist(), "score": 0.9},
        {"image_id": 3, "category_id": 1, "keypoints": kp[0].ravel().tolist(), "score": 0.8},
        {"image_id": 3, "category_id": 1, "keypoints": (kp[0] * 0).ravel().tolist(), "score": 0.1},
    ]
    (tmp_path / "r.json").write_text(json.dumps(recs))
    got = read_keypoints(tmp_path / "r.json")
    assert got.frame_ids == [3, 7]
    np.testing.assert_allclose(got.data, kp)


def test_missing_keypoints_filled_and_reported():
    kp = coco_sequence(4)
    kp[2, 9, :2] = np.nan  # left wrist NaN in frame 2 -> frame 1's wrist
    kp[0, 9, 2] = 0.1  # low confidence in frame 0 -> first valid frame (1)
    kp[:, 10, 2] = 0.0  # right wrist never valid -> its parent, the right elbow
    with pytest.warns(MissingKeypointsWarning, match="6 of 68 joints"):
        res = lift_detailed(kp, image_size=(W, H), model=XYZero(), confidence_threshold=0.3)
    np.testing.assert_allclose(res.pose2d[2, 13], kp[1, 9, :2], rtol=1e-6)
    np.testing.assert_allclose(res.pose2d[0, 13], kp[1, 9, :2], rtol=1e-6)
    np.testing.assert_allclose(res.pose2d[:, 16], kp[:, 8, :2], rtol=1e-6)
    assert res.report.from_time == 2 and res.report.from_parent == 4
    assert res.confidence[2, 13] == 0 and np.isfinite(res.poses3d).all()


def test_all_nan_is_an_error():
    kp = np.full((3, 17, 3), np.nan)
    with pytest.raises(KeypointError, match="no valid keypoint"):
        lift(kp, image_size=(W, H), model=XYZero())


def test_wrong_joint_count_and_unreadable_file(tmp_path):
    with pytest.raises(KeypointError, match="'coco17' expects 17 keypoints per frame, got 33"):
        lift(np.zeros((2, 33, 3)), layout="coco", image_size=(W, H), model=XYZero())
    (tmp_path / "bad.npy").write_bytes(b"not a numpy file")
    with pytest.raises(KeypointError, match="cannot read keypoints"):
        read_keypoints(tmp_path / "bad.npy")
    np.save(tmp_path / "flat.npy", np.zeros((5, 17)))
    with pytest.raises(KeypointError, match=r"shape \(T, J, 2 or 3\), got \(5, 17\)"):
        read_keypoints(tmp_path / "flat.npy")
    with pytest.raises(KeypointError, match="no such file"):
        read_keypoints(tmp_path / "missing.json")
    with pytest.raises(KeypointError, match="image_size"):
        lift(np.zeros((1, 17, 2)), model=XYZero())


def test_flip_keeps_a_symmetric_lifter_unchanged():
    kp = coco_sequence(2)
    a = lift(kp, image_size=(W, H), model=XYZero())
    b = lift(kp, image_size=(W, H), model=XYZero(), flip=True)
    np.testing.assert_allclose(a, b, atol=1e-3)


def test_cli_writes_npy_json_and_preview(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(predict, "_load", lambda model, ckpt: XYZero())
    np.save(tmp_path / "kp.npy", coco_sequence(3))
    rc = predict.main([f"ckpt_path={tmp_path / 'x.ckpt'}", f"input={tmp_path / 'kp.npy'}",
                       f"output={tmp_path / 'out' / 'pred.npy'}", "image_size=[1000,800]",
                       f"preview={tmp_path / 'p.png'}"])
    assert rc == 0, capsys.readouterr().err
    arr = np.load(tmp_path / "out" / "pred.npy")
    doc = json.loads((tmp_path / "out" / "pred.json").read_text())
    assert arr.shape == (3, 17, 3) and doc["units"] == "mm" and len(doc["poses_3d"]) == 3
    assert (tmp_path / "p.png").stat().st_size > 0


@pytest.mark.parametrize(
    "args, message",
    [
        (["layout=openpose"], "unknown keypoint layout"),
        (["layout=mediapipe"], "expects 33 keypoints"),
        (["bogus=1"], "unknown option"),
        (["smooth=true", "fps=0"], "fps must be > 0"),
        (["layout=coco", "batch_size=0"], "batch_size must be >= 1, got '0'"),
        (["layout=coco", "batch_size=abc"], "batch_size must be an integer, got 'abc'"),
        (["layout=coco", "preview=p.png", "preview_frame=99"], "preview_frame=99 out of range for 1 frames"),
        (["layout=coco", "image_size=[inf,800]"], "image_size must look like [w,h], got '[inf,800]'"),
        (["layout=coco", "device=tpu"], "device must be cpu, cuda or cuda:N, got 'tpu'"),
    ],
)
def test_cli_one_line_errors(tmp_path, monkeypatch, capsys, args, message):
    monkeypatch.setattr(predict, "_load", lambda model, ckpt: XYZero())
    np.save(tmp_path / "kp.npy", coco_sequence(1))
    base = ["ckpt_path=x.ckpt", f"input={tmp_path / 'kp.npy'}", f"output={tmp_path / 'o'}", "image_size=[10,10]"]
    assert predict.main(base + args) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert not list(tmp_path.glob("o*"))  # refused before anything was written


def test_cli_warns_when_17_keypoints_come_without_a_layout(tmp_path, monkeypatch, capsys):
    """COCO and Human3.6M both have 17 points: the default (COCO) is said, not silently assumed."""
    monkeypatch.setattr(predict, "_load", lambda model, ckpt: XYZero())
    np.save(tmp_path / "kp.npy", coco_sequence(1))
    base = ["ckpt_path=x.ckpt", f"input={tmp_path / 'kp.npy'}", f"output={tmp_path / 'o'}", "image_size=[10,10]"]
    assert predict.main(base) == 0
    assert "no layout given: reading the 17 keypoints in COCO order" in capsys.readouterr().err
    assert predict.main([*base, "layout=coco"]) == 0
    assert "layout" not in capsys.readouterr().err


def test_smooth_is_the_one_euro_filter_of_the_unsmoothed_poses():
    from ampose.smoothing import one_euro

    kp = np.repeat(coco_sequence(1), 60, axis=0)  # a person standing still...
    kp[..., :2] += np.random.default_rng(5).normal(scale=3.0, size=kp[..., :2].shape)  # ...3 px of detector jitter
    raw = lift(kp, image_size=(W, H), model=XYZero())
    out = lift(kp, image_size=(W, H), model=XYZero(), smooth=True, fps=50.0, min_cutoff=0.5, beta=0.01)
    np.testing.assert_allclose(out, one_euro(raw, 50.0, min_cutoff=0.5, beta=0.01), atol=1e-4)
    assert np.all(out[:, 0] == 0)  # the root stays exactly at the origin
    # with the defaults the jitter's frame-to-frame motion mostly goes
    quiet = lift(kp, image_size=(W, H), model=XYZero(), smooth=True)
    assert np.abs(np.diff(quiet[20:], axis=0)).mean() < 0.3 * np.abs(np.diff(raw[20:], axis=0)).mean()


def test_cli_records_the_smoothing_in_its_json(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(predict, "_load", lambda model, ckpt: XYZero())
    np.save(tmp_path / "kp.npy", coco_sequence(6))
    base = ["ckpt_path=x.ckpt", f"input={tmp_path / 'kp.npy'}", "image_size=[1000,800]"]
    assert predict.main(base + [f"output={tmp_path / 'plain'}"]) == 0
    assert predict.main(base + [f"output={tmp_path / 'smooth'}", "smooth=true", "fps=30", "beta=0"]) == 0
    plain, smooth = (json.loads((tmp_path / f"{n}.json").read_text()) for n in ("plain", "smooth"))
    assert plain["smoothing"] is None
    assert smooth["smoothing"] == {"filter": "one_euro", "fps": 30.0, "min_cutoff": 1.0, "beta": 0.0}
    assert not np.allclose(np.load(tmp_path / "plain.npy"), np.load(tmp_path / "smooth.npy"))


def test_importable_without_hydra():
    import subprocess
    import sys

    code = "import sys, ampose.predict; assert 'hydra' not in sys.modules, 'hydra imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_cli_with_a_real_checkpoint(tmp_path, capsys):
    from ampose.lit_module import LiftingModule

    cfg = {"_target_": "ampose.models.AMPose", "num_joints": 17, "dim": 16, "depth": 1, "num_heads": 2,
           "mlp_ratio": 1.0}
    lit = LiftingModule(net=cfg)
    ckpt = {"ampose": {"num_joints": 17}, "state_dict": lit.state_dict(), "hyper_parameters": dict(lit.hparams)}
    torch.save(ckpt, tmp_path / "m.ckpt")
    (tmp_path / "kp.json").write_text(json.dumps(
        [{"image_id": i, "keypoints": f.ravel().tolist(), "score": 1.0} for i, f in enumerate(coco_sequence(2))]))
    rc = predict.main([f"ckpt_path={tmp_path / 'm.ckpt'}", f"input={tmp_path / 'kp.json'}",
                       f"output={tmp_path / 'pred.json'}", "image_size=1000x800", "device=cpu"])
    assert rc == 0, capsys.readouterr().err
    assert np.load(tmp_path / "pred.npy").shape == (2, 17, 3)
    (tmp_path / "bad.ckpt").write_bytes(b"junk")
    rc = predict.main([f"ckpt_path={tmp_path / 'bad.ckpt'}", f"input={tmp_path / 'kp.json'}",
                       f"output={tmp_path / 'o'}", "image_size=1000x800"])
    assert rc == 2 and "cannot load checkpoint" in capsys.readouterr().err


def test_cli_switches_are_strict(tmp_path, monkeypatch, capsys):
    np.save(tmp_path / "kp.npy", coco_sequence())
    monkeypatch.setattr(predict, "_load", lambda model, ckpt: XYZero())
    base = ["ckpt_path=x.ckpt", f"input={tmp_path / 'kp.npy'}", f"output={tmp_path / 'o'}", "image_size=[10,10]"]
    assert predict.main([*base, "smooth=ture"]) == 2
    assert "smooth must be true or false, got 'ture'" in capsys.readouterr().err
    assert not (tmp_path / "o.npy").exists()
    assert predict.main([*base, "flip=No"]) == 0


def test_preview_name_must_say_its_format(tmp_path, monkeypatch, capsys):
    np.save(tmp_path / "kp.npy", coco_sequence())
    monkeypatch.setattr(predict, "_load", lambda model, ckpt: XYZero())
    rc = predict.main(["ckpt_path=x.ckpt", f"input={tmp_path / 'kp.npy'}", f"output={tmp_path / 'o'}",
                       "image_size=[1000,800]", f"preview={tmp_path / 'p.jpg'}"])
    assert rc == 2 and "preview must end in .png" in capsys.readouterr().err
    assert not (tmp_path / "o.npy").exists() and not (tmp_path / "p.jpg").exists()  # refused before any work


def test_cli_output_under_a_file_is_one_line_naming_it(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(predict, "_load", lambda model, ckpt: XYZero())
    np.save(tmp_path / "kp.npy", coco_sequence(1))
    rc = predict.main(["ckpt_path=x.ckpt", f"input={tmp_path / 'kp.npy'}", f"output={tmp_path / 'kp.npy' / 'o'}",
                       "image_size=[1000,800]", "layout=coco"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1, err
    assert str(tmp_path / "kp.npy") in err[0] and "a file stands where the output needs a folder" in err[0]


def test_normalised_keypoints_are_refused_not_lifted_as_a_tiny_pose():
    kp = coco_sequence(2)
    kp[..., :2] /= [W, H]  # MediaPipe-style [0, 1] coordinates
    with pytest.raises(KeypointError, match="they look normalised"):
        lift(kp, image_size=(W, H), model=XYZero())
    kp[..., :2] *= [W, H]  # the same in pixels lifts
    assert np.isfinite(lift(kp, image_size=(W, H), model=XYZero())).all()


def test_keypoints_all_at_the_origin_are_said_to_be_undetected_not_normalised():
    kp = np.zeros((2, 17, 3))  # a detector's "nothing found": (0, 0) with confidence 0
    with pytest.raises(KeypointError, match=r"every keypoint is at \(0, 0\): nothing was detected"):
        lift(kp, image_size=(W, H), model=XYZero(), confidence_threshold=0.0)  # was "they look normalised"
    with pytest.raises(KeypointError, match="no valid keypoint"):  # the default threshold (0.3) drops them
        lift(kp, image_size=(W, H), model=XYZero())


def test_keypoints_far_outside_the_image_warn_of_a_swapped_image_size():
    kp = coco_sequence(2)
    kp[..., 0] += 1000  # x in 1100..1700 px: inside a 1920x1080 frame
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lift(kp, image_size=(1920, 1080), model=XYZero())
    with pytest.warns(UserWarning, match=r"outside image_size 1080x1920 .*\(width, height\)"):
        lift(kp, image_size=(1080, 1920), model=XYZero())  # (h, w) given by mistake


@pytest.mark.parametrize("output, message", [
    ("outdir", "output must name a file, not a folder"),   # an existing folder: not outdir.npy beside it
    ("outdir/", "output must name a file, not a folder"),
    ("", "output must name a file, not a folder"),
    ("taken", "cannot write .*taken.json: a folder of that name is there"),  # no taken.npy without its .json
])
def test_cli_output_that_is_a_folder_is_refused_before_any_work(tmp_path, monkeypatch, capsys, output, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "outdir").mkdir()
    (tmp_path / "taken.json").mkdir()
    np.save(tmp_path / "kp.npy", coco_sequence(1))
    monkeypatch.setattr(predict, "_load", lambda model, ckpt: pytest.fail("lifted before the output was checked"))
    rc = predict.main(["ckpt_path=x.ckpt", "input=kp.npy", f"output={output}", "image_size=[1000,800]", "layout=coco"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and re.search(message, err[0]), err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kp.npy", "outdir", "taken.json"]


def test_a_bad_image_size_is_one_line_naming_where_it_came_from(tmp_path):
    kp = coco_sequence(1)
    np.savez(tmp_path / "kp.npz", keypoints=kp, image_size=np.array([W]))
    with pytest.raises(KeypointError, match=r"kp.npz: 'image_size' must be \(w, h\) in pixels, got \[1000\]"):
        read_keypoints(tmp_path / "kp.npz")
    np.savez(tmp_path / "kp.npz", keypoints=kp, image_size=np.array([[W, H]]))  # (1, 2) is still (w, h)
    assert read_keypoints(tmp_path / "kp.npz").image_size == (W, H)
    for size in [(W,), (W, float("nan")), "1000x800"]:
        with pytest.raises(KeypointError, match="image_size must be two numbers"):
            lift(kp, image_size=size, model=XYZero())


def test_an_empty_or_non_numeric_file_is_one_line_naming_it(tmp_path):
    np.save(tmp_path / "empty.npy", np.zeros((0, 17, 2)))
    with pytest.raises(KeypointError, match=r"empty.npy: no frames \(shape \(0, 17, 2\)\)"):
        read_keypoints(tmp_path / "empty.npy")
    np.save(tmp_path / "text.npy", np.full((2, 17, 2), "a"))
    with pytest.raises(KeypointError, match="text.npy: keypoints must be numbers"):
        read_keypoints(tmp_path / "text.npy")
