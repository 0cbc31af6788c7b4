"""MPI-INF-3DHP test set: importer on the real TS5/TS6 files, both npz layouts, synthetic stand-in."""

from __future__ import annotations

import math
import os
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from ampose.data.arrays import DataFileNotFoundError, DataFormatError
from ampose.data.mpi_3dhp import (
    IMAGE_SIZE, MPI17_PARENTS, MPI17_TO_H36M17, PCK_JOINTS, SPIN_VALID_COUNTS, import_official,
    load_3dhp_test, pck_joints, read_official_sequence, save_3dhp_test,
)
from ampose.data.skeleton import H36M16, H36M17
from ampose.data.synthetic_3dhp import INTRINSICS, synthetic_3dhp_sequences, write_synthetic_3dhp
from ampose.metrics.pose import SCENE_UNKNOWN, PoseMetrics

REPO = Path(__file__).resolve().parents[1]
REAL_DIR = Path(os.environ.get("AMPOSE_3DHP_DIR", REPO / "../shared/data/3dhp/mpi_inf_3dhp_test_set"))
TS56_CAMERA = (1683.98, 1672.59, 939.86, 560.14)
# H36M-17 bones that are rigid in univ_annot3 (thighs and clavicles vary in the official data).
RIGID_H36M17 = [(0, 1), (0, 4), (8, 9), (9, 10), (11, 12), (12, 13), (14, 15), (15, 16)]

needs_real = pytest.mark.skipif(
    not (REAL_DIR / "TS5" / "annot_data.mat").is_file(),
    reason=f"real 3DHP test files not found at {REAL_DIR} (set AMPOSE_3DHP_DIR)",
)


def _project(x: np.ndarray, cam: tuple[float, float, float, float]) -> np.ndarray:
    fx, fy, cx, cy = cam
    return np.stack([fx * x[..., 0] / x[..., 2] + cx, fy * x[..., 1] / x[..., 2] + cy], -1)


def _bone_std(x: np.ndarray, bones: list[tuple[int, int]]) -> np.ndarray:
    return np.stack([np.linalg.norm(x[:, a] - x[:, b], axis=-1) for a, b in bones], 1).std(0)


# --- joint sets -------------------------------------------------------------------------------

def test_pck_joints_are_the_official_14():
    assert PCK_JOINTS[17] == pck_joints(17) == (1, 2, 3, 4, 5, 6, 8, 10, 11, 12, 13, 14, 15, 16)
    assert PCK_JOINTS[16] == pck_joints(16) == (1, 2, 3, 4, 5, 6, 8, 9, 10, 11, 12, 13, 14, 15)
    names17 = {H36M17.names[j] for j in PCK_JOINTS[17]}
    assert names17 == {H36M16.names[j] for j in PCK_JOINTS[16]}
    assert {"Hip", "Spine", "Neck/Nose"}.isdisjoint(names17) and "Head" in names17
    # MPI head_top (0) is H36M Head; MPI head (16) is Neck/Nose, outside the evaluation.
    assert MPI17_TO_H36M17[10] == 0 and MPI17_TO_H36M17[9] == 16
    with pytest.raises(ValueError):
        pck_joints(15)


# --- the official files -----------------------------------------------------------------------

@pytest.fixture(scope="module")
def imported(tmp_path_factory) -> Path:
    if not (REAL_DIR / "TS5" / "annot_data.mat").is_file():
        pytest.skip(f"real 3DHP test files not found at {REAL_DIR} (set AMPOSE_3DHP_DIR)")
    return import_official(REAL_DIR, tmp_path_factory.mktemp("3dhp") / "test_3dhp_official.npz")


@needs_real
def test_import_counts_and_labels(imported):
    data = np.load(imported, allow_pickle=True)["data"].item()
    assert sorted(data) == ["TS5", "TS6"]
    for name, (frames, valid) in {"TS5": (320, 276), "TS6": (492, 392)}.items():
        seq = data[name]
        assert seq["data_2d"].shape == (frames, 17, 2) and seq["data_3d"].shape == (frames, 17, 3)
        assert int(seq["valid"].sum()) == valid
        assert tuple(seq["image_size"]) == (1920, 1080) and int(seq["scene"]) == 2
    arr = load_3dhp_test(imported, 17)
    assert len(arr) == 276 + 392 and arr.subjects == ["TS5", "TS6"]
    assert np.bincount(arr.subject).tolist() == [276, 392]
    assert set(arr.scene.tolist()) == {2} and set(arr.action.tolist()) == {-1}
    assert set(arr.camera.tolist()) == {0}


@needs_real
def test_import_joint_mapping(imported):
    seq = np.load(imported, allow_pickle=True)["data"].item()["TS5"]
    v = seq["valid"] > 0
    for j in (17, 16):
        arr = load_3dhp_test(imported, j)
        ts5 = arr.pose3d[arr.subject == 0]  # (276, J, 3) metres
        assert ts5.shape == (276, j, 3) and np.abs(ts5[:, 0]).max() == 0.0
        univ = seq["data_3d"][v].astype(np.float64)
        pelvis_rel = (univ - univ[:, 14:15]) / 1000.0
        mapped = pelvis_rel[:, MPI17_TO_H36M17]
        if j == 16:
            mapped = np.delete(mapped, 9, axis=1)
        np.testing.assert_allclose(ts5, mapped, atol=1e-5)
    arr = load_3dhp_test(imported, 17)
    for s in (0, 1):
        x = arr.pose3d[arr.subject == s] * 1000.0
        assert _bone_std(x, RIGID_H36M17).max() < 1.0  # mm
        # left/right limb pairs of the universal skeleton have equal lengths
        def arm(a: int, b: int, x: np.ndarray = x) -> float:
            return np.linalg.norm(x[:, a] - x[:, b], axis=-1).mean()

        assert abs(arm(11, 12) - arm(14, 15)) < 1.0 and abs(arm(12, 13) - arm(15, 16)) < 1.0
    # 2D: the normalised input maps back to the official annot2 pixels of valid frames
    w, h = IMAGE_SIZE["TS5"]
    uv = (arr.pose2d[arr.subject == 0] + np.array([1, h / w])) * w / 2
    np.testing.assert_allclose(uv, seq["data_2d"][v][:, MPI17_TO_H36M17], atol=1e-3)


@needs_real
def test_import_2d_reprojects_from_annot3(imported):
    data = np.load(imported, allow_pickle=True)["data"].item()
    for seq in data.values():
        v = seq["valid"] > 0
        err = np.linalg.norm(_project(seq["annot3"].astype(np.float64), TS56_CAMERA) - seq["data_2d"], axis=-1)
        assert np.median(err[v]) < 0.05 and err[v].max() < 5.0  # px


@needs_real
def test_read_official_sequence_matches_file():
    seq = read_official_sequence(REAL_DIR / "TS6" / "annot_data.mat")
    assert seq["data_3d"].shape == (492, 17, 3) and int(seq["valid"].sum()) == 392
    assert _bone_std(seq["data_3d"], [(0, 16), (16, 1), (3, 2), (4, 3), (8, 14), (11, 14)]).max() < 0.5


# --- synthetic stand-in -----------------------------------------------------------------------

def test_synthetic_loads_and_is_plausible(tmp_path):
    t0 = time.perf_counter()
    path = write_synthetic_3dhp(tmp_path / "syn.npz", seed=0)
    assert time.perf_counter() - t0 < 5.0
    seqs = np.load(path, allow_pickle=True)["data"].item()
    assert sorted(seqs) == [f"TS{i}" for i in range(1, 7)]
    bones = [(j, p) for j, p in enumerate(MPI17_PARENTS) if p >= 0]
    for name, s in seqs.items():
        t = len(s["valid"])
        assert 150 <= t <= 400 and 0 < s["valid"].sum() < t  # some invalid frames
        assert _bone_std(s["data_3d"], bones).max() < 0.05
        np.testing.assert_allclose(_project(s["data_3d"].astype(np.float64), INTRINSICS[name]), s["data_2d"], atol=0.05)
        v = s["valid"] > 0
        assert ((s["data_2d"][v] >= 0) & (s["data_2d"][v] < s["image_size"])).all()
        assert (s["data_3d"][:, 0, 1] < s["data_3d"][:, 10, 1]).all()  # head top above the ankle
    assert INTRINSICS["TS5"] == TS56_CAMERA
    for j in (17, 16):
        arr = load_3dhp_test(path, j)
        assert arr.num_joints == j and len(arr) == sum(int(s["valid"].sum()) for s in seqs.values())
        assert np.bincount(arr.scene).tolist() == [
            sum(int(seqs[f"TS{i}"]["valid"].sum()) for i in group) for group in ((1, 2), (3, 4), (5, 6))
        ]
        assert np.abs(arr.pose3d[:, 0]).max() == 0 and 0.1 < np.abs(arr.pose3d).max() < 1.5
    a = synthetic_3dhp_sequences(0)
    b = synthetic_3dhp_sequences(0)
    assert all(np.array_equal(a[k]["data_3d"], b[k]["data_3d"]) for k in a)
    assert not np.array_equal(a["TS1"]["data_3d"][:10], synthetic_3dhp_sequences(1)["TS1"]["data_3d"][:10])


# --- the field's preprocessed layouts ----------------------------------------------------------

def _fake_mpi_sequence(rng: np.random.Generator, t: int, w: int, h: int) -> dict:
    d3 = rng.normal(0, 300, (t, 17, 3)) + np.array([0, 0, 4000])
    d2 = rng.uniform(0, min(w, h), (t, 17, 2))
    valid = (np.arange(t) % 4 != 0).astype(np.float64)  # float (P-STMO stores h5py's floats)
    return {"data_2d": d2, "data_3d": d3, "valid": valid}


def test_data_test_3dhp_layout(tmp_path):
    rng = np.random.default_rng(0)
    data = {"TS1": _fake_mpi_sequence(rng, 8, 2048, 2048), "TS6": _fake_mpi_sequence(rng, 12, 1920, 1080)}
    data["TS6"]["data_2d"][0] = np.nan  # invalid frame: ignored
    path = tmp_path / "data_test_3dhp.npz"
    np.savez(path, data=data)
    arr = load_3dhp_test(path, 17)
    assert len(arr) == 6 + 9 and arr.subjects == ["TS1", "TS6"]
    assert arr.scene.tolist() == [0] * 6 + [2] * 9
    for k, (name, (w, h)) in enumerate([("TS1", (2048, 2048)), ("TS6", (1920, 1080))]):
        v = data[name]["valid"] > 0
        px = data[name]["data_2d"][v][:, MPI17_TO_H36M17]
        np.testing.assert_allclose(arr.pose2d[arr.subject == k], px / w * 2 - [1, h / w], atol=1e-5)
        d3 = data[name]["data_3d"][v]
        np.testing.assert_allclose(
            arr.pose3d[arr.subject == k], ((d3 - d3[:, 14:15]) / 1000)[:, MPI17_TO_H36M17], atol=1e-5
        )
    assert load_3dhp_test(path, 16).pose2d.shape == (15, 16, 2)


def test_test_3dhp_layout(tmp_path):
    rng = np.random.default_rng(1)
    n = 10
    pose3d = rng.normal(0, 0.3, (n, 16, 3))
    pose3d -= pose3d[:, :1]
    pose2d = rng.uniform(-0.9, 0.9, (n, 16, 2))
    path = tmp_path / "test_3dhp.npz"
    np.savez(path, pose3d=pose3d, pose2d=pose2d)
    arr = load_3dhp_test(path, 16)
    np.testing.assert_allclose(arr.pose3d, pose3d, atol=1e-6)
    np.testing.assert_allclose(arr.pose2d, pose2d, atol=1e-6)
    assert arr.scene.tolist() == [SCENE_UNKNOWN] * n and arr.subjects == ["3dhp"]  # 3DHP, scene not known
    m = PoseMetrics(16)  # such frames still get overall PCK and AUC (the per-scene columns are NaN)
    m.update(torch.from_numpy(arr.pose3d), torch.from_numpy(arr.pose3d), torch.from_numpy(arr.action),
             torch.from_numpy(arr.scene))
    assert m.pck.has_scenes()
    pck = m.pck.compute()
    assert float(pck["pck"]) == 100.0 and math.isnan(float(pck["pck_GS"]))
    assert float(pck["auc"]) == pytest.approx(100 * 30 / 31)  # perfect: every threshold but 0 mm
    with pytest.raises(DataFormatError, match="16 joints"):
        load_3dhp_test(path, 17)
    np.savez(path, pose3d=pose3d * 1000, pose2d=pose2d)  # millimetres are detected
    np.testing.assert_allclose(load_3dhp_test(path, 16).pose3d, pose3d, atol=1e-6)
    # the common 2929-frame file: TS1..TS6 in order, scenes from the known per-sequence counts
    counts = list(SPIN_VALID_COUNTS.values())
    n = sum(counts)
    pose2d = rng.uniform(-0.5, 0.5, (n, 16, 2))
    np.savez(path, pose3d=rng.normal(0, 0.3, (n, 16, 3)), pose2d=pose2d)
    arr = load_3dhp_test(path, 16)
    assert arr.subjects == list(SPIN_VALID_COUNTS) and np.bincount(arr.subject).tolist() == counts
    assert np.bincount(arr.scene).tolist() == [603 + 540, 505 + 553, 276 + 452]


# --- bad input --------------------------------------------------------------------------------

def test_reader_bad_inputs(tmp_path):
    with pytest.raises(DataFileNotFoundError, match="import-3dhp"):
        load_3dhp_test(tmp_path / "missing.npz", 17)
    with pytest.raises(ValueError, match="num_joints"):
        load_3dhp_test(tmp_path / "missing.npz", 15)
    bad = tmp_path / "bad.npz"
    np.savez(bad, foo=np.zeros(3))
    with pytest.raises(DataFormatError, match="expected 'data'"):
        load_3dhp_test(bad, 17)
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(DataFormatError, match="not a readable npz"):
        load_3dhp_test(tmp_path / "junk.npz", 17)
    seq = _fake_mpi_sequence(np.random.default_rng(2), 5, 1920, 1080)
    np.savez(bad, data={"TS5": {**seq, "data_3d": seq["data_3d"][:, :16]}})
    with pytest.raises(DataFormatError, match=r"TS5.*\(T, 17, 3\)"):
        load_3dhp_test(bad, 17)
    np.savez(bad, data={"TS5": {"data_2d": seq["data_2d"], "valid": seq["valid"]}})
    with pytest.raises(DataFormatError, match="missing keys.*data_3d"):
        load_3dhp_test(bad, 17)
    np.savez(bad, data={"cam0": seq})
    with pytest.raises(DataFormatError, match="image_size"):
        load_3dhp_test(bad, 17)
    seq["data_3d"][1, 3, 0] = np.inf  # a valid frame
    np.savez(bad, data={"TS5": seq})
    with pytest.raises(DataFormatError, match=r"NaN/inf.*\(0, 3, 0\)"):
        load_3dhp_test(bad, 17)
    np.savez(bad, pose3d=np.zeros((4, 16, 3)), pose2d=np.full((4, 16, 2), 900.0))
    with pytest.raises(DataFormatError, match="pixels"):
        load_3dhp_test(bad, 16)


def test_importer_bad_inputs(tmp_path, monkeypatch):
    h5py = pytest.importorskip("h5py")
    with pytest.raises(DataFileNotFoundError, match="folder not found"):
        import_official(tmp_path / "nope", tmp_path / "out.npz")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataFileNotFoundError, match="no TS1..TS6/annot_data.mat"):
        import_official(tmp_path / "empty", tmp_path / "out.npz")
    ts = tmp_path / "src" / "TS2"
    ts.mkdir(parents=True)
    with h5py.File(ts / "annot_data.mat", "w") as f:
        f["annot2"] = np.zeros((3, 1, 17, 2))
        f["other"] = np.zeros(3)
    with pytest.raises(DataFormatError, match=r"missing keys \['annot3', 'univ_annot3', 'valid_frame'\]"):
        import_official(tmp_path / "src", tmp_path / "out.npz")
    assert not (tmp_path / "out.npz").exists() and not list(tmp_path.glob("out.npz.*"))
    (ts / "annot_data.mat").write_bytes(b"MATLAB 5.0 MAT-file")
    with pytest.raises(DataFormatError, match="not a MATLAB v7.3"):
        import_official(tmp_path / "src", tmp_path / "out.npz")
    monkeypatch.setitem(sys.modules, "h5py", None)
    with pytest.raises(ImportError, match=r"pip install ampose\[import\]"):
        import_official(tmp_path / "src", tmp_path / "out.npz")


def test_import_synthetic_mat_roundtrip(tmp_path):
    """A tiny v7.3-like file (h5py's layout of the official arrays) imports and loads."""
    h5py = pytest.importorskip("h5py")
    s = synthetic_3dhp_sequences(0)["TS3"]
    ts = tmp_path / "mpi_inf_3dhp_test_set" / "TS3"
    ts.mkdir(parents=True)
    with h5py.File(ts / "annot_data.mat", "w") as f:
        f["annot2"] = s["data_2d"][:, None].astype(np.float64)
        f["annot3"] = s["annot3"][:, None].astype(np.float64)
        f["univ_annot3"] = s["data_3d"][:, None].astype(np.float64)
        f["valid_frame"] = s["valid"][:, None].astype(np.float64)
    out = import_official(tmp_path, tmp_path / "o" / "x.npz")  # parent folder of the test set
    arr = load_3dhp_test(out, 17)
    assert arr.subjects == ["TS3"] and len(arr) == int(s["valid"].sum()) and set(arr.scene.tolist()) == {1}
    save_3dhp_test(out, {"TS4": {k: s[k] for k in ("data_2d", "data_3d", "valid")}})  # overwrite
    assert load_3dhp_test(out, 16).subjects == ["TS4"]


def test_scene_labels_checked(tmp_path):
    """Scene labels other than 0 GS / 1 noGS / 2 outdoor (or -1 unknown) are refused: 1-based
    labels moved every frame to the next scene's column, and -1 or 7 took frames out of every PCK."""
    seqs = {k: dict(v) for k, v in synthetic_3dhp_sequences(0).items()}
    one_based = {k: {**v, "scene": np.int64(int(v["scene"]) + 1)} for k, v in seqs.items()}
    save_3dhp_test(tmp_path / "a.npz", one_based)
    with pytest.raises(DataFormatError, match="TS1: scene 1, but TS1 is GS"):
        load_3dhp_test(tmp_path / "a.npz", 17)
    named = {k: {**v, "scene": ["GS", "GS", "noGS", "noGS", "outdoor", "outdoor"][i]} for i, (k, v) in enumerate(seqs.items())}
    save_3dhp_test(tmp_path / "b.npz", named)
    arr = load_3dhp_test(tmp_path / "b.npz", 16)
    assert set(arr.scene.tolist()) == {0, 1, 2}
    as_bytes = {k: {**v, "scene": np.bytes_(v["scene"])} for k, v in named.items()}  # as h5py reads strings
    save_3dhp_test(tmp_path / "b.npz", as_bytes)
    assert load_3dhp_test(tmp_path / "b.npz", 16).scene.tolist() == arr.scene.tolist()
    n = 10
    pose2d, pose3d = np.zeros((n, 16, 2)), np.random.default_rng(0).normal(0, 0.3, (n, 16, 3))
    for bad in (7, 3):
        np.savez(tmp_path / "c.npz", pose2d=pose2d, pose3d=pose3d, scene=np.full(n, bad))
        with pytest.raises(DataFormatError, match=rf"scene labels \[{bad}\]"):
            load_3dhp_test(tmp_path / "c.npz", 16)
    np.savez(tmp_path / "c.npz", pose2d=pose2d, pose3d=pose3d, scene=np.array([-1] * 5 + [2] * 5))
    assert load_3dhp_test(tmp_path / "c.npz", 16).scene.tolist() == [SCENE_UNKNOWN] * 5 + [2] * 5  # counted overall
    np.savez(tmp_path / "c.npz", pose2d=pose2d, pose3d=pose3d, valid=np.ones(n - 1))
    with pytest.raises(DataFormatError, match=r"valid must be \(10,\)"):
        load_3dhp_test(tmp_path / "c.npz", 16)


def test_unknown_scene_label_takes_the_sequence_name(tmp_path):
    """A sequence labelled -1 (unknown) is scored by its TSn name's scene, not refused as 'scene 3'."""
    seqs = {k: {**v, "scene": np.int64(-1)} for k, v in synthetic_3dhp_sequences(0).items()}
    save_3dhp_test(tmp_path / "a.npz", seqs)
    assert set(load_3dhp_test(tmp_path / "a.npz", 17).scene.tolist()) == {0, 1, 2}
    save_3dhp_test(tmp_path / "b.npz", {"seqA": {**seqs["TS1"], "image_size": np.array([2048, 2048])}})
    assert set(load_3dhp_test(tmp_path / "b.npz", 17).scene.tolist()) == {SCENE_UNKNOWN}  # no name: unknown
