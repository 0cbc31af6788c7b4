import json

import pytest
import torch

from ampose.bench import main as bench_main
from ampose.inference import FastLifter
from ampose.models import AMPose


def test_fast_lifter_matches_model_on_cpu():
    torch.manual_seed(0)
    net = AMPose(17, dim=16, depth=1, num_heads=2).eval()
    x = torch.randn(10, 17, 2)
    lifter = FastLifter(net, device="cpu")
    with torch.no_grad():
        expected = net(x)
    torch.testing.assert_close(lifter(x, batch_size=3), expected)
    torch.testing.assert_close(lifter.single(x[4]), expected[4])
    assert lifter(x[:0]).shape == (0, 17, 3)


def test_bench_tiny_smoke(tmp_path):
    out = tmp_path / "bench.json"
    bench_main(["--tiny", "--seconds", "0.02", "--out", str(out)])
    record = json.loads(out.read_text())
    whats = {r["what"] for r in record["results"]}
    assert {"train", "train_paper_recipe", "inference", "latency_single_pose",
            "exported_latency", "exported_inference"} <= whats
    assert all(r["value"] > 0 for r in record["results"])  # NaN (an error recorded) fails too
    assert record["params"]["paper"] == 18_406_403
    assert sorted({r["batch"] for r in record["results"] if r["what"] == "train"}) == [128, 1024]


def test_bench_batches_override(tmp_path):
    out = tmp_path / "bench.json"
    bench_main(["--tiny", "--seconds", "0.02", "--batches", "16", "48", "--out", str(out)])
    rows = json.loads(out.read_text())["results"]
    assert sorted({r["batch"] for r in rows if r["what"] == "train"}) == [16, 48]
    assert {r["batch"] for r in rows if r["what"] == "train_paper_recipe"} == {128}  # the paper's own batch


def test_bench_exported_mode_measures_the_program_beside_eager(tmp_path):
    out = tmp_path / "bench.json"
    bench_main(["--exported", "--tiny", "--cpu", "--out", str(out)])
    rows = json.loads(out.read_text())["results"]
    assert [r["what"] for r in rows] == ["latency_single_pose", "exported_latency", "exported_inference"]
    assert all(r["value"] > 0 and "error" not in r["extra"] for r in rows)


@pytest.mark.parametrize("flag, message", [("--graphed", "CUDA graphs need a GPU"),
                                           ("--fused", "fused Triton kernels need a GPU")])
def test_gpu_only_bench_modes_measure_nothing_on_a_cpu(tmp_path, capsys, flag, message):
    if torch.cuda.is_available():
        pytest.skip("this is the CPU fallback")
    out = tmp_path / "bench.json"
    bench_main([flag, "--tiny", "--out", str(out)])
    assert message in capsys.readouterr().out
    assert json.loads(out.read_text())["results"] == []


def test_bench_graphed_step_refuses_a_cpu():
    from ampose.bench import bench_train_graphed

    with pytest.raises(RuntimeError, match="needs a GPU"):
        bench_train_graphed("tiny", 8, torch.device("cpu"), False, 0.01)


def test_fused_summary_ratios_by_hand():
    """The --fused summary: fused over reference per row, graphed over reference, and the best
    training step over the paper recipe of the same run (an unmeasured NaN graph is ignored)."""
    from ampose.bench import Result, _fused_summary

    def r(what, batch, value, fused=None):
        return Result(what, "paper", batch, True, "bf16", value, "samples/s", extra={} if fused is None else {"fused": fused})

    results = [r("train_paper_recipe", 128, 5_000.0), r("train", 8192, 100_000.0), r("train", 8192, 135_000.0, True),
               r("train_graphed", 8192, 140_000.0, True), r("train", 2048, 90_000.0), r("train", 2048, 110_000.0, True),
               r("train_graphed", 2048, float("nan"), True)]
    summary = _fused_summary(results)
    assert summary == {
        "best_train_over_paper_recipe_paper": pytest.approx(28.0),
        "fused_speedup_train_paper_b8192": pytest.approx(1.35),
        "fused_graphed_speedup_train_paper_b8192": pytest.approx(1.4),
        "fused_speedup_train_paper_b2048": pytest.approx(110 / 90),
    }


@pytest.mark.parametrize("argv, message", [(["--seconds", "-1"], "--seconds must be > 0"),
                                           (["--batches", "0"], "--batches must be >= 1"),
                                           (["--out", "."], "is a folder: give a .json file")])
def test_bench_bad_options_are_refused_before_measuring(argv, message, capsys):
    with pytest.raises(SystemExit) as e:
        bench_main(["--tiny", "--cpu", *argv])
    assert e.value.code == 2 and message in capsys.readouterr().err


def test_bench_exported_default_file_does_not_replace_the_full_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    bench_main(["--exported", "--tiny", "--cpu"])
    (written,) = (tmp_path / "experiments" / "bench").iterdir()
    assert written.name.endswith("_tiny-exported.json")
