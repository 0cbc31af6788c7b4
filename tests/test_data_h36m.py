"""Human3.6M loading: real S9/S11 round trip, cameras, joint reductions, bad inputs."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from ampose.data import h36m
from ampose.data.actions import ACTIONS, canonical_action
from ampose.data.arrays import DataError, DataFileNotFoundError, DataFormatError, PoseArrays
from ampose.data.cameras import h36m_camera, h36m_cameras, normalize_screen, unnormalize_screen
from ampose.data.skeleton import H36M16, H36M17, H36M17_TO_16, H36M32_TO_17

REPO = Path(__file__).resolve().parents[1]
H36M_DIR = Path(os.environ.get("AMPOSE_H36M_DIR", REPO.parent / "shared" / "data" / "h36m"))
REAL_3D = H36M_DIR / "data_3d_h36m_S9_S11.npz"
needs_real = pytest.mark.skipif(not REAL_3D.exists(), reason=f"real Human3.6M sample not found at {REAL_3D}")


@pytest.fixture(scope="module")
def real_raw() -> dict:
    """The raw 32-joint dict, a few sequences per subject to keep the tests fast."""
    pos = np.load(REAL_3D, allow_pickle=True)["positions_3d"].item()
    return {s: {a: pos[s][a] for a in ("Walking", "Sitting", "SittingDown", "Photo 1")} for s in ("S9", "S11")}


@pytest.fixture(scope="module")
def real_dir(real_raw, tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("h36m_real")
    np.savez(d / h36m.FILE_3D, positions_3d=np.array(real_raw, dtype=object))
    return d


# ---------------------------------------------------------------- actions and cameras

def test_actions_canonical():
    assert len(ACTIONS) == 15
    assert canonical_action("Sitting 1") == ACTIONS.index("Sitting")
    assert canonical_action("SittingDown") == ACTIONS.index("SittingDown")
    assert canonical_action("TakingPhoto 1") == ACTIONS.index("Photo")
    assert canonical_action("WalkingDog") == ACTIONS.index("WalkDog")
    assert canonical_action("WalkTogether 2") == ACTIONS.index("WalkTogether")
    with pytest.raises(KeyError):
        canonical_action("Dancing 1")


def test_camera_example_and_rotation():
    cam = h36m_camera("S1", 0)
    assert cam.id == "54138969" and np.allclose(cam.focal, [1145.05, 1143.78], atol=0.01)
    assert np.allclose(cam.rotation @ cam.rotation.T, np.eye(3), atol=1e-9)
    x = np.random.default_rng(0).normal(size=(5, 3))
    assert np.allclose(cam.camera_to_world(cam.world_to_camera(x)), x)
    # the camera centre maps to the camera origin
    assert np.allclose(cam.world_to_camera(cam.translation), 0, atol=1e-9)


def test_normalisation_round_trip():
    uv = np.random.default_rng(1).uniform(0, 1000, size=(10, 17, 2))
    for cam in h36m_cameras("S9"):
        xy = normalize_screen(uv, cam.res_w, cam.res_h)
        assert np.allclose(unnormalize_screen(xy, cam.res_w, cam.res_h), uv)
    xy = normalize_screen(np.array([[0.0, 0.0], [1000.0, 1002.0]]), 1000, 1002)
    assert np.allclose(xy, [[-1, -1.002], [1, 1.002]])


def test_cameras_match_h5_sample():
    """The packaged extrinsics agree with cameras.h5 of the 3d-pose-baseline layout."""
    h5py = pytest.importorskip("h5py")
    path = H36M_DIR / "h5_layout_sample" / "cameras.h5"
    if not path.exists():
        pytest.skip(f"{path} not found")
    with h5py.File(path, "r") as f:
        for i, cam in enumerate(h36m_cameras("S11")):
            g = f[f"subject11/camera{i + 1}"]
            r, t = np.array(g["R"]), np.array(g["T"]).reshape(3) / 1000
            x = np.random.default_rng(i).normal(size=(4, 3))
            assert np.allclose(cam.world_to_camera(x), (x - t) @ r, atol=1e-4)  # R^T (X - T), row form


# ---------------------------------------------------------------- real data

@needs_real
def test_real_loads(real_dir):
    arr = h36m.load_h36m(real_dir, ["S9", "S11"], stride=10)
    assert arr.num_joints == 17 and arr.subjects == ["S9", "S11"]
    assert set(np.unique(arr.camera)) == {0, 1, 2, 3}
    assert np.all(arr.pose3d[:, 0] == 0)
    assert 0.3 < np.abs(arr.pose3d).max() < 1.5  # metres
    names = {ACTIONS[a] for a in np.unique(arr.action)}
    assert names == {"Walking", "Sitting", "SittingDown", "Photo"}
    arr16 = h36m.load_h36m(real_dir, ["S9"], num_joints=16, stride=10)
    assert arr16.num_joints == 16


@needs_real
def test_real_gt2d_inside_image(real_raw):
    pos = {s: {a: x[::5, list(H36M32_TO_17)] for a, x in acts.items()} for s, acts in real_raw.items()}
    for s, acts in h36m.gt_2d(pos).items():
        for views in acts.values():
            for cam, uv in zip(h36m_cameras(s), views):
                assert uv.min() > 0 and (uv[..., 0] < cam.res_w).all() and (uv[..., 1] < cam.res_h).all()


@needs_real
def test_real_bone_lengths_constant(real_raw):
    for s, acts in real_raw.items():
        x = np.concatenate([a[:, list(H36M32_TO_17)] for a in acts.values()])  # (T, 17, 3)
        lengths = np.stack([np.linalg.norm(x[:, j] - x[:, p], axis=-1) for p, j in H36M17.bones], 1)
        assert lengths.std(0).max() < 1e-3, s
        assert 0.35 < lengths[:, 1].mean() < 0.55  # thigh


@needs_real
def test_32_to_17_and_16(real_raw, tmp_path):
    x32 = real_raw["S9"]["Walking"][:50]
    x17 = x32[:, list(H36M32_TO_17)]
    # 17-joint parents are the 32-joint tree with the dropped joints bypassed: bone lengths agree
    # with the mocap's own bones for the legs (hip->knee is 32-joint 1->2)
    assert np.allclose(x17[:, 2], x32[:, 2]) and np.allclose(x17[:, 11], x32[:, 17])
    assert np.allclose(x17[:, 16], x32[:, 27]) and np.allclose(x17[:, 10], x32[:, 15])
    x16 = x17[:, list(H36M17_TO_16)]
    assert x16.shape[1] == 16 and np.allclose(x16[:, 9], x17[:, 10])  # Head follows Thorax
    assert H36M16.parents[9] == 8 and H36M16.names[9] == "Head"
    # a 17-joint 3D file reads the same as the 32-joint one
    d = tmp_path
    h36m.write_3d(d / "a.npz", {"S9": {"Walking": x32}})
    h36m.write_3d(d / "b.npz", {"S9": {"Walking": x17}})
    assert np.array_equal(h36m.read_3d(d / "a.npz")["S9"]["Walking"], h36m.read_3d(d / "b.npz")["S9"]["Walking"])


@needs_real
def test_gt_cache_and_2d_file(real_dir):
    path = h36m.ensure_gt_2d(real_dir)
    assert path is not None and path.exists()
    assert not list(real_dir.glob("*.tmp*"))
    a = h36m.load_h36m(real_dir, ["S11"], stride=20)  # reads the cached file
    b = h36m.build_samples(h36m.read_3d(real_dir / h36m.FILE_3D), h36m.gt_2d(h36m.read_3d(real_dir / h36m.FILE_3D)),
                           ["S11"], stride=20)
    assert np.allclose(a.pose2d, b.pose2d, atol=1e-5)


# ---------------------------------------------------------------- 2D files

def _tiny_3d() -> dict:
    rng = np.random.default_rng(0)
    base = np.array([0.0, 0.0, 1.0]) + rng.normal(scale=0.2, size=(17, 3))
    return {"S9": {"Walking 1": (base + rng.normal(scale=0.01, size=(20, 17, 3))).astype(np.float32),
                   "Eating": (base + rng.normal(scale=0.01, size=(15, 17, 3))).astype(np.float32)}}


def test_detector_2d_trimmed_and_missing_skipped(tmp_path, caplog):
    pos = _tiny_3d()
    det = h36m.gt_2d(pos)
    det["S9"]["Walking 1"] = [np.concatenate([v, v[-3:]]) for v in det["S9"]["Walking 1"]]  # longer
    det["S9"]["Eating"][2] = None  # a camera without detections
    h36m.write_3d(tmp_path / h36m.FILE_3D, pos)
    h36m.write_2d(tmp_path / "det.npz", det)
    arr = h36m.load_h36m(tmp_path, ["S9"], keypoints="det.npz")
    assert len(arr) == 20 * 4 + 15 * 3
    assert "skipped 1" in caplog.text


def test_2d_without_3d_warned(tmp_path, caplog):
    """2D sequences with no mocap (as in the SH file) are named, for the loaded subjects only;
    the field's skipped S11 'Directions' is not."""
    pos = _tiny_3d()
    pos["S11"] = dict(pos["S9"])
    det = h36m.gt_2d(pos)
    det["S9"]["Discussion 1"] = det["S9"]["Eating"]
    det["S11"]["Waiting"] = det["S11"]["Directions"] = det["S11"]["Eating"]
    h36m.write_3d(tmp_path / h36m.FILE_3D, pos)
    h36m.write_2d(tmp_path / "det.npz", det)
    arr = h36m.load_h36m(tmp_path, ["S9"], keypoints="det.npz")
    assert len(arr) == (20 + 15) * 4
    assert "skipped 1 2D sequences without 3D: S9 'Discussion 1'" in caplog.text
    assert "Waiting" not in caplog.text
    caplog.clear()
    h36m.load_h36m(tmp_path, ["S9", "S11"], keypoints="det.npz")
    assert "skipped 2 2D sequences without 3D: S9 'Discussion 1', S11 'Waiting'" in caplog.text
    assert "Directions" not in caplog.text


def test_sixteen_joint_2d_file(tmp_path):
    pos = _tiny_3d()
    det = {s: {a: [v[:, list(H36M17_TO_16)] for v in views] for a, views in acts.items()}
           for s, acts in h36m.gt_2d(pos).items()}
    h36m.write_3d(tmp_path / h36m.FILE_3D, pos)
    h36m.write_2d(tmp_path / "sh.npz", det, num_joints=16)
    arr = h36m.load_h36m(tmp_path, ["S9"], keypoints="sh.npz", num_joints=16)
    assert arr.pose2d.shape[1:] == (16, 2) and arr.pose3d.shape[1:] == (16, 3)
    with pytest.raises(DataFormatError, match="num_joints=16"):
        h36m.load_h36m(tmp_path, ["S9"], keypoints="sh.npz", num_joints=17)


SH_FILE = H36M_DIR / "data_2d_h36m_sh.npz"


@pytest.mark.skipif(not SH_FILE.exists(), reason="unpacked Stacked Hourglass file not present")
def test_real_sh_file_loads(real_dir):
    pos = h36m.read_2d(SH_FILE, num_joints=16)
    assert pos["S9"]["Walking"][0].shape[1:] == (16, 2)


# ---------------------------------------------------------------- bad input

def test_missing_file_names_how_to(tmp_path):
    with pytest.raises(DataFileNotFoundError, match="ampose-data synth") as e:
        h36m.load_h36m(tmp_path, ["S9"])
    assert h36m.FILE_3D in str(e.value) and isinstance(e.value, FileNotFoundError)
    h36m.write_3d(tmp_path / h36m.FILE_3D, _tiny_3d())
    with pytest.raises(DataFileNotFoundError, match="cpn.*ampose-data synth"):
        h36m.load_h36m(tmp_path, ["S9"], keypoints="cpn")
    # the synthetic set has no Stacked Hourglass file: its hint is where the real one comes from
    with pytest.raises(DataFileNotFoundError, match="unpack-sh") as e:
        h36m.load_h36m(tmp_path, ["S9"], keypoints="sh", num_joints=16)
    assert "ampose-data synth" not in str(e.value)


def test_wrong_keys(tmp_path):
    np.savez(tmp_path / h36m.FILE_3D, poses=np.zeros(3))
    with pytest.raises(DataFormatError, match="expected key 'positions_3d'"):
        h36m.read_3d(tmp_path / h36m.FILE_3D)
    (tmp_path / "junk.npz").write_text("not a zip")
    with pytest.raises(DataFormatError, match="not a readable npz"):
        h36m.read_3d(tmp_path / "junk.npz")
    # a subject holding a list of sequences, not a dict action -> arrays
    np.savez(tmp_path / "list.npz", positions_3d=np.array({"S9": [np.zeros((5, 17, 3))]}, dtype=object),
             positions_2d=np.array({"S9": [np.zeros((5, 17, 2))] * 4}, dtype=object))
    with pytest.raises(DataFormatError, match=r"list.npz\[S9\]: expected a dict action -> arrays, got list"):
        h36m.read_3d(tmp_path / "list.npz")
    with pytest.raises(DataFormatError, match=r"list.npz\[S9\]: expected a dict action -> arrays, got list"):
        h36m.read_2d(tmp_path / "list.npz")


@pytest.mark.parametrize("shape,match", [((10, 20, 3), r"\(T, 32, 3\)"), ((10, 17, 2), r"\(T, 32, 3\)"),
                                         ((0, 17, 3), "zero-length")])
def test_bad_3d_shapes(tmp_path, shape, match):
    h36m.write_3d(tmp_path / h36m.FILE_3D, {"S9": {"Walking": np.zeros(shape, np.float32)}})
    with pytest.raises(DataFormatError, match=match):
        h36m.read_3d(tmp_path / h36m.FILE_3D)


def test_millimetres_found_in_any_sequence(tmp_path):
    """One sequence stored in millimetres among metres (its first sequence is fine) is named."""
    pos = _tiny_3d()
    h36m.write_3d(tmp_path / h36m.FILE_3D, pos)
    assert h36m.read_3d(tmp_path / h36m.FILE_3D)["S9"]["Eating"].max() < 2  # metres pass
    pos["S9"]["Eating"] = pos["S9"]["Eating"] * 1000
    h36m.write_3d(tmp_path / h36m.FILE_3D, pos)
    with pytest.raises(DataFormatError, match=r"S9 'Eating' has values up to \d+: expected metres, looks like millimetres"):
        h36m.read_3d(tmp_path / h36m.FILE_3D)


def test_nan_reported_with_location(tmp_path):
    pos = _tiny_3d()
    pos["S9"]["Eating"][7, 4, 1] = np.nan
    h36m.write_3d(tmp_path / h36m.FILE_3D, pos)
    with pytest.raises(DataFormatError, match=r"S9\]\[Eating\].*\(7, 4, 1\)"):
        h36m.read_3d(tmp_path / h36m.FILE_3D)
    det = h36m.gt_2d(_tiny_3d())
    det["S9"]["Walking 1"][3][2, 0, 0] = np.inf
    h36m.write_2d(tmp_path / "det.npz", det)
    with pytest.raises(DataFormatError, match=r"Walking 1\]\[3\].*\(2, 0, 0\)"):
        h36m.read_2d(tmp_path / "det.npz")


def test_bad_2d_files(tmp_path):
    det = h36m.gt_2d(_tiny_3d())
    det["S9"]["Eating"] = det["S9"]["Eating"][:3]
    h36m.write_2d(tmp_path / "three.npz", det)
    with pytest.raises(DataFormatError, match="list of 4 camera arrays"):
        h36m.read_2d(tmp_path / "three.npz")
    det = h36m.gt_2d(_tiny_3d())
    det["S9"]["Eating"][0] = det["S9"]["Eating"][0][:, :5]
    h36m.write_2d(tmp_path / "j5.npz", det)
    with pytest.raises(DataFormatError, match=r"\(T, 17, 2\)"):
        h36m.read_2d(tmp_path / "j5.npz")
    det = h36m.gt_2d(_tiny_3d())
    det["S9"]["Eating"][1] = det["S9"]["Eating"][1] / 500 - 1  # already screen-normalised: would be again
    h36m.write_2d(tmp_path / "normalised.npz", det)
    with pytest.raises(DataFormatError, match=r"Eating\]\[1\]: values within .*expected pixels"):
        h36m.read_2d(tmp_path / "normalised.npz")
    det = h36m.gt_2d(_tiny_3d())
    h36m.write_2d(tmp_path / "meta.npz", det, num_joints=16)  # metadata disagrees with the arrays
    with pytest.raises(DataFormatError, match="num_joints"):
        h36m.read_2d(tmp_path / "meta.npz", num_joints=16)


def test_unknown_subject_and_action(tmp_path):
    pos = _tiny_3d()
    with pytest.raises(DataError, match="S1 is not in the 3D"):
        h36m.build_samples(pos, h36m.gt_2d(pos), ["S1"])
    pos["S9"]["Juggling 1"] = pos["S9"]["Eating"]
    with pytest.raises(DataFormatError, match="unknown Human3.6M action"):
        h36m.build_samples(pos, h36m.gt_2d(pos), ["S9"])


def test_pose_arrays_validate_concat():
    rng = np.random.default_rng(0)
    n = 6
    a = PoseArrays(rng.normal(size=(n, 17, 2)), rng.normal(size=(n, 17, 3)), np.zeros(n), np.zeros(n),
                   np.arange(n) % 4, -np.ones(n), subjects=["S9"])
    b = PoseArrays(**{k: v.copy() for k, v in a.arrays().items()}, subjects=["S11"])
    c = PoseArrays.concat([a, b]).validate()
    assert len(c) == 12 and c.subjects == ["S9", "S11"] and list(np.unique(c.subject)) == [0, 1]
    assert len(c.stride(5)) == 3 and len(c.subset(c.camera == 0)) == 4
    bad = c.subset(slice(None))
    bad.pose3d[3, 2, 1] = np.nan
    with pytest.raises(DataFormatError, match=r"\(3, 2, 1\)"):
        bad.validate()
    with pytest.raises(DataFormatError, match="differ"):
        PoseArrays(a.pose2d, a.pose3d[:, :16], a.action, a.subject, a.camera, a.scene).validate()


def test_another_3d_file_gets_its_own_ground_truth_2d(tmp_path):
    """data.file_3d=data_3d_X.npz beside another 3D file's cached 2D: the 2D is that of X
    (data_2d_X_gt.npz), never the cache made from data_3d_h36m.npz."""
    from ampose.data.datamodule import PoseDataModule
    from ampose.data.synthetic import write_synthetic

    write_synthetic(tmp_path, seed=0, frames=(20, 30))  # data_3d_h36m.npz and its data_2d_h36m_gt.npz
    other = tmp_path / "other"
    write_synthetic(other, seed=1, frames=(20, 30))
    (other / "data_3d_h36m.npz").rename(tmp_path / "data_3d_seed1.npz")
    assert h36m.gt_2d_name("data_3d_seed1.npz") == "data_2d_seed1_gt.npz"
    assert h36m.gt_2d_name("mocap.npz") == "mocap_2d_gt.npz" and h36m.gt_2d_name() == h36m.FILE_2D_GT
    dm = PoseDataModule(dataset="h36m", root=tmp_path, file_3d="data_3d_seed1.npz")
    dm.prepare_data()
    assert (tmp_path / "data_2d_seed1_gt.npz").exists()
    got = h36m.load_h36m(tmp_path, ["S9"], file_3d="data_3d_seed1.npz")
    want = h36m.build_samples(h36m.read_3d(tmp_path / "data_3d_seed1.npz"),
                              h36m.gt_2d(h36m.read_3d(tmp_path / "data_3d_seed1.npz")), ["S9"])
    np.testing.assert_allclose(got.pose2d, want.pose2d, atol=1e-6)
    stale = h36m.load_h36m(tmp_path, ["S9"])  # the default pair is untouched
    assert stale.pose3d.shape != got.pose3d.shape or not np.allclose(stale.pose2d, got.pose2d)


def test_stale_ground_truth_2d_cache_refused(tmp_path):
    """A cached data_2d_h36m_gt.npz made from another 3D file (synthetic data written into the
    folder before the real file was copied in) is refused, not paired with the new poses."""
    pos = _tiny_3d()
    h36m.write_3d(tmp_path / h36m.FILE_3D, pos)
    assert h36m.ensure_gt_2d(tmp_path) == tmp_path / h36m.FILE_2D_GT
    assert len(h36m.load_h36m(tmp_path, ["S9"])) == (20 + 15) * 4  # its own cache is accepted
    moved = {"S9": {a: x + np.float32(0.1) for a, x in pos["S9"].items()}}  # same lengths, other poses
    h36m.write_3d(tmp_path / h36m.FILE_3D, moved)
    with pytest.raises(DataFormatError, match=r"not the ground-truth 2D of data_3d_h36m.npz .*px off.*delete it"):
        h36m.load_h36m(tmp_path, ["S9"])
    with pytest.raises(DataFormatError, match="not the ground-truth 2D"):
        h36m.load_h36m(tmp_path, ["S9"], num_joints=16)
    shorter = {"S9": {a: x[:10] for a, x in pos["S9"].items()}}
    h36m.write_3d(tmp_path / h36m.FILE_3D, shorter)
    with pytest.raises(DataFormatError, match="20 frames for 10"):
        h36m.load_h36m(tmp_path, ["S9"])
    (tmp_path / h36m.FILE_2D_GT).unlink()  # as the message says: recomputed
    h36m.ensure_gt_2d(tmp_path)
    assert len(h36m.load_h36m(tmp_path, ["S9"])) == 20 * 4


def test_other_keypoint_layout_refused(tmp_path):
    """A 17-keypoint file in another order (VideoPose3D's Detectron file is COCO) is refused by its
    metadata; the field's CPN metadata and the 16-joint SH file's are accepted."""
    det = h36m.gt_2d(_tiny_3d())
    coco = {"layout_name": "coco", "num_joints": 17,
            "keypoints_symmetry": [[1, 3, 5, 7, 9, 11, 13, 15], [2, 4, 6, 8, 10, 12, 14, 16]]}
    np.savez(tmp_path / "coco.npz", positions_2d=np.array(det, dtype=object), metadata=np.array(coco, dtype=object))
    with pytest.raises(DataFormatError, match="keypoint layout 'coco'"):
        h36m.read_2d(tmp_path / "coco.npz")
    del coco["layout_name"]
    np.savez(tmp_path / "sym.npz", positions_2d=np.array(det, dtype=object), metadata=np.array(coco, dtype=object))
    with pytest.raises(DataFormatError, match="not the 17-joint Human3.6M order"):
        h36m.read_2d(tmp_path / "sym.npz")
    cpn = {"layout_name": "h36m", "num_joints": 17, "keypoints_symmetry": [[4, 5, 6, 11, 12, 13], [1, 2, 3, 14, 15, 16]]}
    np.savez(tmp_path / "cpn.npz", positions_2d=np.array(det, dtype=object), metadata=np.array(cpn, dtype=object))
    assert h36m.read_2d(tmp_path / "cpn.npz")["S9"]["Eating"][0].shape == (15, 17, 2)
    det16 = {s: {a: [v[:, list(H36M17_TO_16)] for v in views] for a, views in acts.items()} for s, acts in det.items()}
    sh = {"num_joints": 16, "layout": "h36m-16 (Neck/Nose removed)",
          "keypoints_symmetry": [[4, 5, 6, 10, 11, 12], [1, 2, 3, 13, 14, 15]]}
    np.savez(tmp_path / "sh.npz", positions_2d=np.array(det16, dtype=object), metadata=np.array(sh, dtype=object))
    assert h36m.read_2d(tmp_path / "sh.npz", num_joints=16)["S9"]["Eating"][0].shape == (15, 16, 2)


def test_subject_without_cameras(tmp_path, caplog):
    """A 3D file with a subject Human3.6M has no cameras for: the others' ground-truth 2D is still
    cached and loaded; asking for that subject is a DataError (was a KeyError from the cache)."""
    pos = _tiny_3d()
    pos["S2"] = dict(pos["S9"])
    h36m.write_3d(tmp_path / h36m.FILE_3D, pos)
    assert h36m.ensure_gt_2d(tmp_path) is not None and "no Human3.6M cameras for subjects S2" in caplog.text
    assert list(h36m.read_2d(tmp_path / h36m.FILE_2D_GT)) == ["S9"]
    assert len(h36m.load_h36m(tmp_path, ["S9"])) == (20 + 15) * 4
    with pytest.raises(DataError, match="subject S2 has no Human3.6M cameras"):
        h36m.load_h36m(tmp_path, ["S2"])
    (tmp_path / h36m.FILE_2D_GT).unlink()
    with pytest.raises(DataError, match="subject S2 has no Human3.6M cameras"):
        h36m.load_h36m(tmp_path, ["S9", "S2"])  # projected on the fly


def test_original_action_names_meet_the_fields(tmp_path, caplog):
    """3D keyed by the original release's names ("TakingPhoto 1", "WalkingDog") and 2D by the
    field's ("Photo 1", "WalkDog", as VideoPose3D's CPN file): one sequence, not two dropped ones."""
    tiny = _tiny_3d()["S9"]
    pos = {"S9": {"TakingPhoto 1": tiny["Walking 1"], "WalkingDog": tiny["Eating"], "Photo": tiny["Eating"]}}
    det = h36m.gt_2d(pos)["S9"]
    det = {"S9": {"Photo 1": det["TakingPhoto 1"], "WalkDog": det["WalkingDog"], "Photo": det["Photo"]}}
    h36m.write_3d(tmp_path / h36m.FILE_3D, pos)
    h36m.write_2d(tmp_path / "det.npz", det)
    arr = h36m.load_h36m(tmp_path, ["S9"], keypoints="det.npz", virtual_bodies=1)
    assert len(arr) == 2 * (20 + 15 + 15) * 4
    assert "skipped" not in caplog.text and "without" not in caplog.text
    want = h36m.build_samples(pos, h36m.gt_2d(pos), ["S9"])
    np.testing.assert_allclose(arr.pose2d[: len(want)], want.pose2d, atol=1e-5)
