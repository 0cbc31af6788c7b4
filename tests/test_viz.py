import numpy as np
import pytest
from PIL import Image

from ampose.data.skeleton import H36M16
from ampose.viz import render_pose, save_animation, save_gallery, save_pose_png

RNG = np.random.default_rng(0)


def poses(t: int, j: int = 17):
    p3 = RNG.normal(scale=0.3, size=(t, j, 3)).astype(np.float32)
    p3 -= p3[:, :1]
    p2 = RNG.uniform(0, 1000, size=(t, j, 2))
    return p2, p3


def test_render_pose_rgb_array_of_requested_size():
    p2, p3 = poses(1)
    img = render_pose(p2[0], p3[0], p3[0] + 0.01, size=(600, 240))
    assert img.shape == (240, 600, 3) and img.dtype == np.uint8
    assert img.min() < 200  # something was drawn
    only3d = render_pose(None, p3[0], size=(300, 200))
    assert only3d.shape == (200, 300, 3)


def test_save_pose_png(tmp_path):
    p2, p3 = poses(1, 16)
    path = save_pose_png(tmp_path / "pose.png", p2[0], p3[0], skeleton=H36M16, size=(500, 200))
    assert path.stat().st_size > 0
    with Image.open(path) as im:
        assert im.format == "PNG" and im.size == (500, 200)


def test_save_animation_gif(tmp_path):
    p2, p3 = poses(3)
    path = save_animation(tmp_path / "seq.gif", p2, p3, p3, fps=10, size=(400, 160))
    with Image.open(path) as im:
        assert im.format == "GIF" and im.size == (400, 160) and im.n_frames == 3


def test_save_animation_mp4_or_gif_fallback(tmp_path, monkeypatch):
    monkeypatch.setattr("shutil.which", lambda name: None)
    p2, p3 = poses(2)
    with pytest.warns(UserWarning, match="ffmpeg not found"):
        path = save_animation(tmp_path / "seq.mp4", None, p3, size=(300, 160))
    assert path.suffix == ".gif" and path.stat().st_size > 0


def test_gallery_best_and_worst(tmp_path):
    p2, p3 = poses(6)
    errors = np.array([5.0, 1.0, 9.0, 3.0, 7.0, 2.0])
    paths = save_gallery(tmp_path / "g", p2, p3, p3, errors, k=2, size=(400, 160))
    assert [p.name for p in paths] == ["best_01.png", "best_02.png", "worst_01.png", "worst_02.png"]
    import json

    index = json.loads((tmp_path / "g" / "gallery.json").read_text())
    assert [e["index"] for e in index["best"]] == [1, 5]
    assert [e["index"] for e in index["worst"]] == [2, 4]
