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
    assert {"train", "train_paper_recipe", "inference", "latency_single_pose"} <= whats
    assert all(r["value"] > 0 for r in record["results"])
    assert record["params"]["paper"] == 18_406_403


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
