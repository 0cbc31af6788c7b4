"""`ampose-data`: importing the h5 and CDF downloads, GT 2D, synthetic, clear errors."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from ampose.data import h36m
from ampose.data.arrays import DataFormatError
from ampose.data.cli import canonical_key, import_h36m, main

REPO = Path(__file__).resolve().parents[1]
H36M_DIR = Path(os.environ.get("AMPOSE_H36M_DIR", REPO.parent / "shared" / "data" / "h36m"))
H5_SAMPLE = H36M_DIR / "h5_layout_sample"


def test_canonical_keys():
    assert canonical_key("TakingPhoto 1") == "Photo 1" and canonical_key("WalkingDog") == "WalkDog"
    assert canonical_key("SittingDown 2") == "SittingDown" + " 2" and canonical_key("_ALL 1") is None


@pytest.mark.skipif(not H5_SAMPLE.exists(), reason=f"{H5_SAMPLE} not found")
def test_import_real_h5_sample(tmp_path):
    pytest.importorskip("h5py")
    assert main(["import-h36m", str(H5_SAMPLE), str(tmp_path)]) == 0
    pos = h36m.read_3d(tmp_path / h36m.FILE_3D)
    x = pos["S11"]["Purchases 1"]
    assert x.shape == (1026, 17, 3) and 0.5 < np.median(x[:, 0, 2]) < 1.2  # hip height in metres
    ref = H36M_DIR / "data_3d_h36m_S9_S11.npz"
    if ref.exists():
        real = np.load(ref, allow_pickle=True)["positions_3d"].item()["S11"]["Purchases 1"]
        raw = np.load(tmp_path / h36m.FILE_3D, allow_pickle=True)["positions_3d"].item()["S11"]["Purchases 1"]
        assert raw.shape == (1026, 32, 3) and np.allclose(raw, real, atol=1e-5)
    arr = h36m.load_h36m(tmp_path, ["S11"])  # reads the written GT 2D
    assert len(arr) == 4 * 1026 and (tmp_path / h36m.FILE_2D_GT).exists()


def test_import_cdf(tmp_path):
    cdfwrite = pytest.importorskip("cdflib.cdfwrite")
    folder = tmp_path / "src" / "S9" / "MyPoseFeatures" / "D3_Positions"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    mm = (np.array([0.2, 0.4, 1.0]) + rng.normal(scale=0.2, size=(1, 6, 32, 3))) * 1000
    for name in ("TakingPhoto 1", "Walking"):
        c = cdfwrite.CDF(str(folder / f"{name}.cdf"))
        c.write_var({"Variable": "Pose", "Data_Type": cdfwrite.CDF.CDF_DOUBLE, "Num_Elements": 1,
                     "Rec_Vary": True, "Dim_Sizes": [6, 96]}, var_data=mm.reshape(1, 6, 96))
        c.close()
    import_h36m(tmp_path / "src", tmp_path / "out")
    pos = np.load(tmp_path / "out" / h36m.FILE_3D, allow_pickle=True)["positions_3d"].item()
    assert sorted(pos["S9"]) == ["Photo 1", "Walking"]
    assert np.allclose(pos["S9"]["Walking"], mm[0] / 1000, atol=1e-6)


def test_gt2d_and_errors(tmp_path, capsys):
    pos = {"S9": {"Walking": (np.array([0.2, 0.4, 1.0]) + np.zeros((4, 17, 3))).astype(np.float32)}}
    h36m.write_3d(tmp_path / "d3.npz", pos)
    assert main(["gt2d", str(tmp_path / "d3.npz"), str(tmp_path / "g.npz")]) == 0
    assert h36m.read_2d(tmp_path / "g.npz")["S9"]["Walking"][0].shape == (4, 17, 2)
    assert main(["gt2d", str(tmp_path / "missing.npz"), str(tmp_path / "g2.npz")]) == 2
    assert "missing.npz not found" in capsys.readouterr().err
    assert main(["import-h36m", str(tmp_path), str(tmp_path / "o")]) == 2
    assert "3D_positions/*.h5" in capsys.readouterr().err


def test_missing_optional_dep_names_extra(tmp_path, monkeypatch):
    folder = tmp_path / "S1" / "MyPoses" / "3D_positions"
    folder.mkdir(parents=True)
    (folder / "Walking.h5").write_bytes(b"")
    monkeypatch.setitem(__import__("sys").modules, "h5py", None)  # import h5py -> ImportError
    with pytest.raises(SystemExit, match=r"ampose\[import\]"):
        import_h36m(tmp_path, tmp_path / "out")
    monkeypatch.undo()
    pytest.importorskip("h5py")
    with pytest.raises(DataFormatError, match="not a readable h5"):  # an empty file is reported, not a traceback
        import_h36m(tmp_path, tmp_path / "out")


def test_synth_command(tmp_path, monkeypatch):
    import ampose.data.synthetic as synthetic

    monkeypatch.setattr(synthetic, "FRAMES", (12, 14))
    monkeypatch.setattr(synthetic.write_synthetic, "__defaults__", (0, (12, 14)))
    assert main(["synth", str(tmp_path), "--seed", "1"]) == 0
    for name in (h36m.FILE_3D, h36m.FILE_2D_GT, h36m.FILE_2D_CPN):
        assert (tmp_path / name).exists()


def test_synth_into_a_file_is_one_line(tmp_path, capsys):
    (tmp_path / "taken").write_text("a file, not a folder")
    assert main(["synth", str(tmp_path / "taken")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("ampose-data: error: ") and "taken" in err[0]


def _h5(folder: Path, name: str, frames: int) -> None:
    h5py = pytest.importorskip("h5py")
    folder.mkdir(parents=True, exist_ok=True)
    with h5py.File(folder / f"{name}.h5", "w") as f:
        f["3D_positions"] = np.full((96, frames), 500.0)  # (32 joints x 3, T) mm, as the release stores it


def test_import_refuses_before_writing_anything(tmp_path):
    """A bad sequence, two files of one sequence, or no known action: one error, and no 3D file
    is left without its 2D."""
    poses = tmp_path / "src" / "S1" / "MyPoses" / "3D_positions"
    _h5(poses, "Walking 1", 4)
    _h5(poses, "Eating", 0)  # zero-length
    with pytest.raises(DataFormatError, match="Eating.h5 \\(S1 'Eating'\\): zero-length sequence"):
        import_h36m(tmp_path / "src", tmp_path / "out")
    assert not (tmp_path / "out").exists()
    (poses / "Eating.h5").unlink()
    _h5(poses, "TakingPhoto 1", 4)
    _h5(poses, "Photo 1", 4)
    with pytest.raises(DataFormatError, match="are both S1 'Photo 1': keep one"):
        import_h36m(tmp_path / "src", tmp_path / "out")
    other = tmp_path / "other" / "S1" / "MyPoses" / "3D_positions"
    _h5(other, "Dancing 1", 4)
    with pytest.raises(DataFormatError, match="1 position files, none of a known Human3.6M action"):
        import_h36m(tmp_path / "other", tmp_path / "out")
    assert not (tmp_path / "out").exists()
