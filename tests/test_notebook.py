"""The quickstart notebook runs top to bottom (slow tier: about 2-4 minutes on a laptop CPU)."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "quickstart.ipynb"


@pytest.mark.slow
def test_quickstart_notebook_runs(tmp_path, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    # A kernel spec for this interpreter, so the notebook runs in the environment under test.
    spec = tmp_path / "jupyter" / "kernels" / "ampose-test"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "ampose test", "language": "python",
    }))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.setenv("AMPOSE_NOTEBOOK_DIR", str(tmp_path / "run"))
    monkeypatch.setenv("AMPOSE_OUTPUT_DIR", str(tmp_path / "outputs"))
    monkeypatch.setenv("WANDB_MODE", "disabled")

    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=900, kernel_name="ampose-test",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()

    run = tmp_path / "run"
    lifted = np.load(run / "lifted.npy")
    assert lifted.shape == (60, 17, 3) and np.isfinite(lifted).all()
    assert (run / "lifted.json").is_file() and (run / "lifted.gif").stat().st_size > 0
    assert len(list((run / "gallery").glob("*.png"))) == 4
    images = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.get("output_type") == "display_data"]
    assert len(images) >= 3
