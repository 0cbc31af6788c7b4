"""ampose-summary: grouping over seeds, mean ± sample std, failures, CSV round trip, CLI errors."""

import csv
import json
from pathlib import Path

import pytest
import yaml

from ampose.summary import (
    curves_markdown,
    find_runs,
    fold_bests,
    folds_markdown,
    main,
    mean_curve,
    mean_std,
    summarise,
    to_markdown,
    varying_keys,
    write_csv,
)


def _run(root, name, overrides, p1=None, val=None, error=None, curve=None):
    d = root / name
    (d / ".hydra").mkdir(parents=True)
    (d / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(overrides))
    if error:
        (d / "failed.json").write_text(json.dumps({"error": error, "type": "ValueError"}))
    else:
        test = {"mpjpe_action": p1, "mpjpe": p1 + 0.5, "p_mpjpe_action": p1 - 10, "p_mpjpe": p1 - 9.5}
        record = {"test_results": test, "logged": {"val/mpjpe_best": val}}
        if curve is not None:  # action-wise validation MPJPE per epoch, as train.py writes it
            record["val_curve"] = [{"epoch": e, "mpjpe": v + 1.0, "mpjpe_action": v} for e, v in enumerate(curve)]
        (d / "metrics.json").write_text(json.dumps(record))
    return d


@pytest.fixture
def sweep(tmp_path):
    common = ["experiment=fast", "trainer.max_epochs=3"]
    _run(tmp_path, "0", [*common, "model/block=ours", "seed=1", "hydra.run.dir=a"], p1=50.0, val=45.0)
    _run(tmp_path, "1", [*common, "model/block=ours", "seed=2", "hydra.run.dir=b"], p1=54.0, val=47.0)
    _run(tmp_path, "2", [*common, "model/block=convnext", "seed=1"], p1=49.0, val=46.0)
    # resumed from its own last.ckpt: still the same experiment
    _run(tmp_path, "3", [*common, "model/block=convnext", "seed=2", f"ckpt_path={tmp_path}/3/checkpoints/last.ckpt"],
         p1=49.0, val=44.0)
    _run(tmp_path, "4", [*common, "model/block=transformer", "seed=1"], error="depth must be >= 1")
    return tmp_path


def test_mean_and_sample_std_by_hand():
    assert mean_std([50.0, 54.0]) == pytest.approx((52.0, 2.8284271247))  # sqrt((4 + 4) / 1)
    assert mean_std([49.0]) == (49.0, None)  # one value measures no spread


def test_groups_over_seeds_best_first_failures_last(sweep):
    runs = find_runs(sweep)
    assert len(runs) == 5
    assert varying_keys(runs) == ["model/block", "seed"]  # hydra.* and a self-resume are not the experiment
    rows = summarise(runs)
    assert [r.name for r in rows] == ["model/block=convnext", "model/block=ours", "model/block=transformer"]
    assert rows[0].stats["P1 action-wise"] == (49.0, 0.0)
    assert rows[1].stats["P1 action-wise"] == pytest.approx((52.0, 2.8284271247))
    assert rows[1].stats["best val MPJPE frame-wise"] == pytest.approx((46.0, 1.4142135624))
    assert rows[2].failed == 1 and rows[2].stats == {}
    table = to_markdown(rows)
    assert "| model/block=ours | 2 | 52.0 ± 2.8 | 52.5 ± 2.8 | 42.0 ± 2.8 |" in table
    # without grouping over seeds every run is its own row
    assert len(summarise(runs, over=())) == 5


def test_csv_round_trip(sweep, tmp_path):
    rows = summarise(find_runs(sweep))
    path = write_csv(rows, tmp_path / "summary.csv")
    back = list(csv.DictReader(path.open()))
    assert [b["run"] for b in back] == [r.name for r in rows]
    assert float(back[1]["P1 action-wise mean"]) == pytest.approx(52.0)
    assert float(back[1]["P1 action-wise std"]) == pytest.approx(2.8284, abs=1e-4)
    assert back[2]["failed"] == "1" and back[2]["P1 action-wise mean"] == ""
    assert back[0]["P1 action-wise std"] == "0.0000"  # two seeds that agree
    assert not (tmp_path / "summary.csv.tmp").exists()
    # one run a row: no spread measured, so no std (not 0.0000), as the markdown shows none
    rows = summarise(find_runs(sweep), over=())
    single = list(csv.DictReader(write_csv(rows, tmp_path / "single.csv").open()))
    assert [b["P1 action-wise std"] for b in single] == [""] * 5
    assert float(single[0]["P1 action-wise mean"]) == pytest.approx(49.0)
    assert "| model/block=convnext seed=1 | 1 | 49.0 | 49.5 | 39.0 | 39.5 | 46.0 |  |" in to_markdown(rows)


def test_cli(sweep, tmp_path, capsys):
    main([str(sweep), "--csv", str(tmp_path / "s.csv")])
    out = capsys.readouterr().out
    assert "model/block=convnext" in out and "failed: " in out and "depth must be >= 1" in out
    for bad in (tmp_path / "missing", tmp_path / "empty"):
        if bad.name == "empty":
            bad.mkdir()
        with pytest.raises(SystemExit) as e:
            main([str(bad)])
        assert e.value.code == 2


def test_folds_average_into_one_row_sorted_by_validation(tmp_path):
    """A leave-one-subject-out sweep: each setting's folds are one row, and --sort-by val orders
    the rows by the held-out validation error, which here disagrees with the test error."""
    for i, (dropout, fold, p1, val) in enumerate([("0", "[S7]", 46.0, 44.0), ("0", "[S8]", 47.0, 42.0),
                                                  ("0.1", "[S7]", 44.0, 45.0), ("0.1", "[S8]", 44.0, 45.0)]):
        _run(tmp_path, str(i), [f"model.net.dropout={dropout}", f"data.val_subjects={fold}", "seed=1"], p1=p1, val=val)
    runs = find_runs(tmp_path)
    by_val = summarise(runs, over=["seed", "data.val_subjects"], sort_by="val")
    assert [r.name for r in by_val] == ["model.net.dropout=0", "model.net.dropout=0.1"]
    assert by_val[0].stats["best val MPJPE frame-wise"] == pytest.approx((43.0, 1.4142135624))  # mean of the two folds
    assert len(by_val[0].runs) == 2
    by_test = summarise(runs, over=["seed", "data.val_subjects"])
    assert [r.name for r in by_test] == ["model.net.dropout=0.1", "model.net.dropout=0"]
    with pytest.raises(ValueError, match="sort_by"):
        summarise(runs, sort_by="P1")


def test_cli_sort_by_val(tmp_path, capsys):
    _run(tmp_path, "a", ["model/block=ours"], p1=50.0, val=40.0)
    _run(tmp_path, "b", ["model/block=convnext"], p1=45.0, val=48.0)
    main([str(tmp_path), "--sort-by", "val"])
    out = capsys.readouterr().out
    assert out.index("model/block=ours") < out.index("model/block=convnext")


def test_fold_curves_choose_the_length_by_their_mean(tmp_path, capsys):
    """S8 bottoms out at epoch 2, S7 still falls at 4: each fold's own best epoch differs, and the
    length to train on all subjects is where their mean is lowest (by hand: 40.5 at epoch 3)."""
    s8, s7 = [50.0, 41.0, 42.0, 44.0], [52.0, 42.0, 39.0, 38.0]
    _run(tmp_path, "a", ["model.net.dropout=0", "data.val_subjects=[S8]"], p1=45.0, val=41.0, curve=s8)
    _run(tmp_path, "b", ["model.net.dropout=0", "data.val_subjects=[S7]"], p1=44.0, val=38.0, curve=s7)
    # a fold of the other setting stopped after two epochs: only epochs every fold has are averaged
    _run(tmp_path, "c", ["model.net.dropout=0.1", "data.val_subjects=[S8]"], p1=45.0, val=47.0, curve=[60.0, 47.0])
    _run(tmp_path, "d", ["model.net.dropout=0.1", "data.val_subjects=[S7]"], p1=44.0, val=45.0,
         curve=[58.0, 49.0, 45.0])
    rows = summarise(find_runs(tmp_path), over=["seed", "data.val_subjects"], sort_by="val")
    curves = {r.name: mean_curve(r.runs) for r in rows}
    assert curves["model.net.dropout=0"] == pytest.approx({0: 51.0, 1: 41.5, 2: 40.5, 3: 41.0})
    assert curves["model.net.dropout=0.1"] == pytest.approx({0: 59.0, 1: 48.0})
    table = curves_markdown(rows).splitlines()
    assert table[0].startswith("| run | n | best epoch | mean at best | mean at last | 1 | 2 | 3 | 4 |")
    assert table[2].startswith("| model.net.dropout=0 | 2 | 3 | 40.5 | 41.0 | 51.0 | 41.5 | 40.5 | 41.0 |")
    assert table[3].startswith("| model.net.dropout=0.1 | 2 | 2 | 48.0 | 48.0 | 59.0 | 48.0 |  |  |")
    main([str(tmp_path), "--over", "seed,data.val_subjects", "--curves"])
    assert "| model.net.dropout=0 | 2 | 3 | 40.5 |" in capsys.readouterr().out


def test_runs_without_curves_have_an_empty_curve_row(sweep):
    rows = summarise(find_runs(sweep))
    assert all(mean_curve(r.runs) == {} for r in rows)
    assert "| model/block=ours | 0 |" in curves_markdown(rows)


def test_fold_curves_weigh_each_fold_alike_whatever_its_seeds(tmp_path, capsys):
    """Three seeds held out S8, one held out S7 (session 8's case): the mean over folds of the
    mean over seeds, not the mean of the four runs (which would lean 3:1 toward S8)."""
    for seed, curve in ((1, [44.0, 46.0]), (2, [42.0, 44.0]), (3, [43.0, 45.0])):
        _run(tmp_path, f"s8_{seed}", ["data.val_subjects=[S8]", f"seed={seed}"], p1=45.0, val=42.0, curve=curve)
    _run(tmp_path, "s7_1", ["data.val_subjects=[S7]", "seed=1"], p1=44.0, val=36.0, curve=[39.0, 35.0])
    (row,) = summarise(find_runs(tmp_path), over=["seed", "data.val_subjects"])
    # by hand: S8 mean 43, 45; with S7: (43 + 39) / 2 = 41, (45 + 35) / 2 = 40
    assert mean_curve(row.runs, by=["data.val_subjects"]) == pytest.approx({0: 41.0, 1: 40.0})
    assert mean_curve(row.runs) == pytest.approx({0: 42.0, 1: 42.5})  # every run alike: epoch 1 would win
    main([str(tmp_path), "--over", "seed,data.val_subjects", "--curves"])
    out = capsys.readouterr().out
    assert "mean over the seeds of each data.val_subjects first" in out
    assert "| 4 | 2 | 40.0 | 40.0 | 41.0 | 40.0 |" in out


def test_a_sweep_over_seeds_alone_is_one_row(tmp_path):
    for seed, p1 in ((1, 40.0), (2, 42.0)):
        _run(tmp_path, str(seed), ["experiment=fast", f"seed={seed}"], p1=p1, val=30.0)
    (row,) = summarise(find_runs(tmp_path))
    assert row.name == "all runs" and len(row.runs) == 2
    assert row.stats["P1 action-wise"] == pytest.approx((41.0, 1.4142135624))


def test_runs_written_before_val_curve_read_their_csv_log(tmp_path):
    """Runs of sessions before metrics.json kept the curve: the CSV log's validation rows, one per
    epoch, where a resumed log's later row for an epoch replaces the earlier one; the experiments'
    copies (experiments/real/collect.py) keep overrides.yaml and train_metrics.csv at their top."""
    log = "epoch,step,train/loss_step,val/mpjpe,val/mpjpe_action\n" \
          "0,99,0.01,,\n0,199,,51.0,50.0\n1,399,,46.0,45.0\n1,399,,44.0,43.0\n2,599,,nan,nan\n"
    old = _run(tmp_path, "old", ["data.val_subjects=[S8]"], p1=45.0, val=43.0)
    (old / "csv").mkdir()
    (old / "csv" / "metrics.csv").write_text(log)
    copy = tmp_path / "copy"
    copy.mkdir()
    (copy / "overrides.yaml").write_text(yaml.safe_dump(["data.val_subjects=[S7]"]))
    (copy / "metrics.json").write_text(json.dumps({"test_results": {"mpjpe_action": 40.0}}))
    (copy / "train_metrics.csv").write_text(log.replace("50.0", "60.0"))
    new = _run(tmp_path, "new", ["data.val_subjects=[S9]"], p1=45.0, val=43.0, curve=[48.0])
    (new / "csv").mkdir()
    (new / "csv" / "metrics.csv").write_text(log)  # metrics.json's own curve comes first
    runs = {r.path.name: r for r in find_runs(tmp_path)}
    assert runs["old"].curve == {0: 50.0, 1: 43.0}
    assert runs["copy"].curve == {0: 60.0, 1: 43.0} and runs["copy"].overrides == {"data.val_subjects": "[S7]"}
    assert runs["new"].curve == {0: 48.0}


def test_equal_compute_lines_a_body_epoch_up_with_two_plain_ones(tmp_path, capsys):
    """One virtual copy doubles an epoch's cost: its epoch k sits at plain epoch 2k. Two views and
    one body make it four times; they are read from the composed config when the run has one (an
    experiment config, not an override, may have set them)."""
    plain = _run(tmp_path, "plain", ["data.val_subjects=[S8]"], p1=45.0, val=43.0, curve=[54.0, 43.0, 44.0, 45.0])
    _run(tmp_path, "bodies_s8", ["data.val_subjects=[S8]", "data.virtual_bodies=1"], p1=44.0, val=41.0,
         curve=[42.0, 41.0])
    _run(tmp_path, "bodies_s7", ["data.val_subjects=[S7]", "data.virtual_bodies=1"], p1=44.0, val=33.0,
         curve=[40.0, 34.0, 33.0])
    mixed = _run(tmp_path, "mixed", ["experiment=[h36m_gt17,virtual_bodies]", "data.virtual_views=2"], p1=40.0,
                 val=30.0, curve=[36.0, 31.0])
    (mixed / ".hydra" / "config.yaml").write_text(yaml.safe_dump({"data": {"virtual_views": 2, "virtual_bodies": 1}}))
    _run(tmp_path, "errors", ["data.virtual_bodies=1", "data.virtual_errors=1"], p1=60.0, val=60.0, curve=[61.0])
    runs = {r.path.name: r for r in find_runs(tmp_path)}
    assert (runs["plain"].copies, runs["bodies_s8"].copies, runs["mixed"].copies) == (1, 2, 4)
    assert runs["errors"].copies == 3 and runs["errors"].compute_curve() == {2: 61.0}
    assert runs["bodies_s7"].compute_curve() == {1: 40.0, 3: 34.0, 5: 33.0}
    assert runs["mixed"].compute_curve() == {3: 36.0, 7: 31.0}
    assert runs["plain"].compute_curve() == runs["plain"].curve
    # the two bodies folds at the compute both reached (2 and 4 plain epochs): by hand 41.0, 37.5
    rows = summarise([runs["bodies_s8"], runs["bodies_s7"]], over=["seed", "data.val_subjects"])
    assert mean_curve(rows[0].runs, by=["data.val_subjects"], equal_compute=True) == pytest.approx({1: 41.0, 3: 37.5})
    assert mean_curve(rows[0].runs, by=["data.val_subjects"]) == pytest.approx({0: 41.0, 1: 37.5})  # per own epoch
    table = curves_markdown(rows, by=["data.val_subjects"], equal_compute=True).splitlines()
    assert table[0].startswith("| run | n | best epoch | mean at best | mean at last | 1 | 2 | 3 | 4 |")
    assert table[2].endswith("| 2 | 4 | 37.5 | 37.5 |  | 41.0 |  | 37.5 |")
    main([str(plain.parent), "--over", "seed,data.val_subjects", "--curves", "--equal-compute"])
    assert "per plain epoch paid for" in capsys.readouterr().out


def test_folds_table_by_hand(tmp_path, capsys):
    """Each fold: the mean over its seeds of each run's best; the row's mean over the folds, left
    blank where a row lacks a fold. By hand: one body S7 33.0, S8 (41.7 + 42.7) / 2 = 42.2, mean
    37.6; body + view S7 31.7, S8 (42.3 + 43.0) / 2 = 42.65, mean 37.175."""
    body = ["data.virtual_bodies=1"]
    view = ["data.virtual_bodies=1", "data.virtual_views=1"]
    _run(tmp_path, "b_s7", [*body, "data.val_subjects=[S7]"], p1=40.0, val=33.0, curve=[40.0, 34.0, 33.0])
    _run(tmp_path, "b_s8", [*body, "data.val_subjects=[S8]"], p1=40.0, val=41.7, curve=[42.0, 41.7, 43.0])
    _run(tmp_path, "b_s8_2", [*body, "data.val_subjects=[S8]", "seed=2"], p1=40.0, val=42.7, curve=[43.0, 42.7])
    _run(tmp_path, "v_s7", [*view, "data.val_subjects=[S7]"], p1=40.0, val=31.7, curve=[36.8, 31.7])
    _run(tmp_path, "v_s8", [*view, "data.val_subjects=[S8]"], p1=40.0, val=42.3, curve=[42.3, 44.0])
    _run(tmp_path, "v_s8_2", [*view, "data.val_subjects=[S8]", "seed=2"], p1=40.0, val=43.0, curve=[43.2, 43.0])
    _run(tmp_path, "w_s7", ["data.virtual_bodies=2", "data.val_subjects=[S7]"], p1=40.0, val=35.4, curve=[35.4])
    _run(tmp_path, "five", ["data.virtual_bodies=3"], p1=40.0, val=30.0, curve=[30.0])  # validated on the test set
    rows = summarise(find_runs(tmp_path), over=["seed", "data.val_subjects"])
    by_name = {r.name: r for r in rows}
    assert fold_bests(by_name["data.virtual_bodies=1"].runs) == pytest.approx({"[S7]": 33.0, "[S8]": 42.2})
    lines = {line.split(" | ")[0].lstrip("| "): line for line in folds_markdown(rows).splitlines()}
    assert lines["data.virtual_bodies=1"].endswith("| 33.00 | 42.20 | 37.60 | 1 / 2 |")
    assert lines["data.virtual_bodies=1 data.virtual_views=1"].endswith("| 31.70 | 42.65 | 37.17 | 1 / 2 |")
    assert lines["data.virtual_bodies=2"].endswith("| 35.40 |  |  | 1 / 0 |")  # no S8 fold: no mean
    assert "data.virtual_bodies=3" not in lines and lines["run"].startswith("| run | [S7] | [S8] |")
    main([str(tmp_path), "--over", "seed,data.val_subjects", "--folds", "data.val_subjects"])
    assert "mean over folds" in capsys.readouterr().out


def test_unfinished_runs_enter_the_folds_starred_and_not_the_counts(tmp_path, capsys):
    """A CSV log without metrics.json or failed.json is a run still going or stopped by a time
    limit: no test numbers, not counted in n, but its best so far enters the folds, starred. By
    hand: drop S7 (unfinished) 33.4, S8 (40.4 + 41.1) / 2 = 40.75, mean 37.075."""
    drop = ["model.net.drop_path=0.1"]
    _run(tmp_path, "d_s8", [*drop, "data.val_subjects=[S8]"], p1=44.0, val=40.4, curve=[41.1, 40.4, 41.4])
    _run(tmp_path, "d_s8_2", [*drop, "data.val_subjects=[S8]", "seed=2"], p1=44.0, val=41.1, curve=[41.7, 41.1])
    log = "epoch,step,val/mpjpe,val/mpjpe_action\n0,9,42.0,41.0\n1,19,38.5,38.0\n2,29,34.0,33.4\n"
    copy = tmp_path / "d_s7"  # an experiments/*/runs copy: overrides.yaml and train_metrics.csv only
    copy.mkdir()
    (copy / "overrides.yaml").write_text(yaml.safe_dump([*drop, "data.val_subjects=[S7]"]))
    (copy / "train_metrics.csv").write_text(log)
    live = tmp_path / "p_s7"  # a Hydra run folder still training: .hydra/ and csv/metrics.csv
    (live / ".hydra").mkdir(parents=True)
    (live / "csv").mkdir()
    (live / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(["data.val_subjects=[S7]"]))
    (live / "csv" / "metrics.csv").write_text("epoch,step,train/loss_step\n0,9,0.5\n")
    runs = {r.path.name: r for r in find_runs(tmp_path)}
    assert [n for n, r in runs.items() if not r.finished] == ["d_s7", "p_s7"]
    assert runs["d_s7"].curve == {0: 41.0, 1: 38.0, 2: 33.4} and runs["p_s7"].curve == {}
    rows = {r.name: r for r in summarise(list(runs.values()), over=["seed", "data.val_subjects"])}
    assert to_markdown(rows.values()).count("| model.net.drop_path=0.1 | 2 | 44.0 ± 0.0 |") == 1
    lines = {line.split(" | ")[0].lstrip("| "): line for line in folds_markdown(rows.values()).splitlines()}
    assert lines["model.net.drop_path=0.1"].endswith("| 33.40* | 40.75 | 37.08* | 1 / 2 |")
    main([str(tmp_path), "--over", "seed,data.val_subjects", "--folds", "data.val_subjects"])
    out = capsys.readouterr().out
    assert f"unfinished: {copy}: best validation 33.40 mm at epoch 3 of 3 so far" in out
    assert f"unfinished: {live}: no validation yet" in out and "its final best can only be lower" in out


def test_evaluations_join_their_trainings_row_by_the_checkpoint(tmp_path):
    """ampose-eval of a run's checkpoint takes that run's overrides plus its own as eval:<key>, so
    the flip-tested seeds are one row: by hand (33.4 + 34.4) / 2 = 33.9. A checkpoint whose run is
    not below the folder, or whose name two runs share without a matching path, keeps its own."""
    common = ["experiment=[h36m_gt17,fast_h36m]", "data.virtual_views=1"]
    for seed, p1, flip in ((42, 34.2, 33.4), (2, 35.1, 34.4)):
        _run(tmp_path / "runs", f"row_s{seed}", [*common, f"seed={seed}"], p1=p1, val=p1)
        _run(tmp_path / "runs", f"row_s{seed}_flip",
             [f"ckpt_path=outputs/real/row_s{seed}/checkpoints/last.ckpt", "flip_test=true"], p1=flip, val=flip)
    _run(tmp_path / "runs", "other_flip", ["ckpt_path=/elsewhere/gone/checkpoints/last.ckpt", "flip_test=true"],
         p1=50.0, val=50.0)
    for where in ("a", "b"):  # two runs named "0" (two multiruns): only the path says which
        _run(tmp_path / where, "0", [f"seed={1 if where == 'a' else 2}", "model.net.depth=3"], p1=40.0, val=40.0)
    _run(tmp_path, "eval_b0", ["ckpt_path=b/0/checkpoints/best.ckpt"], p1=41.0, val=41.0)
    _run(tmp_path / "runs", "ensemble", ["ckpt_path=[outputs/real/row_s42/checkpoints/last.ckpt,"
                                         "outputs/real/row_s2/checkpoints/last.ckpt]"], p1=33.0, val=33.0)
    runs = {str(r.path.relative_to(tmp_path)): r for r in find_runs(tmp_path)}
    assert runs["runs/row_s2_flip"].overrides == {**dict(o.split("=", 1) for o in common), "seed": "2",
                                                   "eval:checkpoint": "last.ckpt", "eval:flip_test": "true"}
    assert runs["runs/other_flip"].overrides["ckpt_path"] == "/elsewhere/gone/checkpoints/last.ckpt"
    # an evaluation with no option of its own is still not one more run of its training's row
    assert runs["eval_b0"].overrides == {"seed": "2", "model.net.depth": "3", "eval:checkpoint": "best.ckpt"}
    assert runs["runs/ensemble"].overrides["ckpt_path"].startswith("[")  # of no one run: its own
    rows = {r.name: r for r in summarise([r for k, r in runs.items() if k.startswith("runs/row")], over=["seed"])}
    flipped = "eval:checkpoint=last.ckpt eval:flip_test=true"
    assert rows[flipped].n == 2
    assert rows[flipped].stats["P1 action-wise"][0] == pytest.approx(33.9)
    assert set(rows) == {flipped, "all runs"} and rows["all runs"].n == 2


def test_a_key_no_run_sets_is_warned_about(sweep, capsys):
    main([str(sweep), "--over", "seed,model/blok", "--folds", "model/block"])
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["ampose-summary: warning: no run sets model/blok (did you mean model/block?)"]
    main([str(sweep), "--over", "seed,model/block"])  # keys the runs set, and seed (often left at its default)
    assert capsys.readouterr().err == ""


def test_a_training_resumed_from_another_runs_checkpoint_stays_a_training(tmp_path):
    """Hydra's record names the job: a resumed ``train`` keeps its own overrides, an ``eval`` joins."""
    _run(tmp_path, "first", ["seed=1", "trainer.max_epochs=2"], p1=40.0, val=40.0)
    resumed = _run(tmp_path, "longer", ["seed=1", "trainer.max_epochs=4", "ckpt_path=first/checkpoints/last.ckpt"],
                   p1=38.0, val=38.0)
    evaluated = _run(tmp_path, "flip", ["ckpt_path=first/checkpoints/last.ckpt", "flip_test=true"], p1=39.0, val=39.0)
    for run, job in ((resumed, "train"), (evaluated, "eval")):
        (run / ".hydra" / "hydra.yaml").write_text(yaml.safe_dump({"hydra": {"job": {"name": job}}}))
    runs = {r.path.name: r for r in find_runs(tmp_path)}
    assert runs["longer"].overrides == {"seed": "1", "trainer.max_epochs": "4", "ckpt_path": "first/checkpoints/last.ckpt"}
    assert runs["flip"].overrides == {"seed": "1", "trainer.max_epochs": "2", "eval:checkpoint": "last.ckpt",
                                      "eval:flip_test": "true"}


def test_a_sweep_tested_on_3dhp_shows_pck_and_auc_highest_first(tmp_path):
    """Cross-dataset rows (Table 3): PCK and AUC columns, sorted by PCK, best (highest) first;
    an H36M-only sweep keeps its usual columns."""
    for name, joints, pck, auc in (("0", 16, 80.0, 45.0), ("1", 17, 86.5, 52.0)):
        d = tmp_path / name
        (d / ".hydra").mkdir(parents=True)
        (d / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump([f"data.num_joints={joints}"]))
        test = {"mpjpe": 100.0 - pck, "mpjpe_action": float("nan"), "pck": {"pck": pck, "auc": auc, "pck_GS": 90.0}}
        (d / "metrics.json").write_text(json.dumps({"test_results": test, "logged": {}}))
    rows = summarise(find_runs(tmp_path))
    assert [r.name for r in rows] == ["data.num_joints=17", "data.num_joints=16"]
    assert rows[0].stats["3DHP PCK"] == (86.5, None) and rows[0].stats["3DHP AUC"] == (52.0, None)
    table = to_markdown(rows)
    assert table.splitlines()[0] == "| run | n | P1 frame-wise | 3DHP PCK | 3DHP AUC | failed |"
    assert "| data.num_joints=17 | 1 | 13.5 | 86.5 | 52.0 |" in table
    h36m = tmp_path / "h36m"
    _run(h36m, "0", ["seed=1"], p1=50.0, val=45.0)
    assert "3DHP" not in to_markdown(summarise(find_runs(h36m)))


def _job(run_dir, name):
    """Hydra's record of the job (``train`` or ``eval``), as a run folder holds it."""
    (run_dir / ".hydra" / "hydra.yaml").write_text(yaml.safe_dump({"hydra": {"job": {"name": name}}}))
    return run_dir


def test_an_evaluation_multirun_joins_each_job_to_its_own_training(tmp_path, monkeypatch):
    """``ampose-eval -m "ckpt_path=T/0/...,T/1/..." hydra.sweep.dir=T/eval_flip``: eval job 0 shares
    its folder's name with training job 0 but resumes nothing; each evaluation joins its own
    training's row (by hand: dropout 0 flipped (49 + 51) / 2 = 50). A training resumed into its own
    folder, and a copy under experiments/*/runs that resumed itself, still drop their ckpt_path."""
    monkeypatch.chdir(tmp_path)
    sweep = Path("outputs/train/multirun/T")  # relative to where the commands ran (hydra.job.chdir: false)
    for job, (dropout, seed, p1) in enumerate([("0", 1, 50.0), ("0", 2, 52.0), ("0.1", 1, 46.0), ("0.1", 2, 48.0)]):
        resume = [f"ckpt_path={sweep}/3/checkpoints/last.ckpt"] if job == 3 else []
        _job(_run(sweep, str(job), [f"model.net.dropout={dropout}", f"seed={seed}", *resume], p1=p1, val=p1), "train")
        _job(_run(sweep / "eval_flip", str(job), [f"ckpt_path={sweep}/{job}/checkpoints/last.ckpt", "flip_test=true"],
                  p1=p1 - 1.0, val=p1), "eval")
    copy = tmp_path / "copies" / "gt17_s42"
    copy.mkdir(parents=True)
    (copy / "overrides.yaml").write_text(yaml.safe_dump(["seed=42", "ckpt_path=outputs/real/gt17_s42/checkpoints/last.ckpt"]))
    (copy / "metrics.json").write_text(json.dumps({"test_results": {"mpjpe_action": 40.0}}))
    assert find_runs(copy.parent)[0].overrides == {"seed": "42"}
    for where in (tmp_path, tmp_path / "copies"):  # the summary run where the commands ran, and elsewhere
        monkeypatch.chdir(where)
        runs = {str(r.path.relative_to(tmp_path / sweep)): r for r in find_runs(tmp_path / sweep)}
        assert runs["3"].overrides == {"model.net.dropout": "0.1", "seed": "2"}
        assert runs["eval_flip/0"].overrides == {"model.net.dropout": "0", "seed": "1", "eval:checkpoint": "last.ckpt",
                                                 "eval:flip_test": "true"}
        rows = {r.name: r for r in summarise(list(runs.values()))}
        flipped = "eval:checkpoint=last.ckpt eval:flip_test=true"
        assert sorted(rows) == sorted([f"{flipped} model.net.dropout=0", f"{flipped} model.net.dropout=0.1",
                                       "model.net.dropout=0", "model.net.dropout=0.1"])
        assert rows[f"{flipped} model.net.dropout=0"].n == 2
        assert rows[f"{flipped} model.net.dropout=0"].stats["P1 action-wise"][0] == pytest.approx(50.0)


def test_sort_by_val_is_the_mean_over_folds_a_missing_fold_after(tmp_path, capsys):
    """--sort-by val orders by the folds' mean, each fold's seeds averaged first. By hand: A's S8
    seeds (40 + 42) / 2 = 41, with S5 50: (41 + 50) / 2 = 45.5 (pooled over its runs it would be
    44, ahead of B); B (44 + 46) / 2 = 45. A's run validated on the test subjects (10) is no fold.
    C holds S8 alone: lowest, but one fold of two, so after A and B; D, no fold at all, last."""
    for name, setting, fold, seed, val in (("a1", "a", "[S8]", 1, 40.0), ("a2", "a", "[S8]", 2, 42.0),
                                           ("a3", "a", "[S5]", 1, 50.0), ("a4", "a", None, 1, 10.0),
                                           ("b1", "b", "[S8]", 1, 44.0), ("b2", "b", "[S5]", 1, 46.0),
                                           ("c1", "c", "[S8]", 1, 30.0), ("d1", "d", "null", 1, 5.0)):
        held = [f"data.val_subjects={fold}"] if fold else []
        _run(tmp_path, name, [f"experiment={setting}", f"seed={seed}", *held], p1=50.0, val=val)
    rows = summarise(find_runs(tmp_path), over=["seed", "data.val_subjects"], sort_by="val")
    assert [r.name for r in rows] == ["experiment=b", "experiment=a", "experiment=c", "experiment=d"]
    assert [(r.val_over_folds, r.folds) for r in rows] == [(45.0, 2), (45.5, 2), (30.0, 1), (5.0, 0)]
    table = {line.split(" | ")[0].lstrip("| "): line for line in to_markdown(rows).splitlines()}
    assert "best val MPJPE frame-wise, mean over folds" in table["run"]
    assert "| 45.5 |" in table["experiment=a"] and "| 30.0 (1 of 2 folds) |" in table["experiment=c"]
    back = {b["run"]: b for b in csv.DictReader(write_csv(rows, tmp_path / "s.csv").open())}
    assert back["experiment=a"]["folds"] == "2" and back["experiment=d"]["folds"] == "0"
    assert float(back["experiment=a"]["best val MPJPE frame-wise, mean over folds"]) == pytest.approx(45.5)
    main([str(tmp_path), "--over", "seed,data.val_subjects", "--sort-by", "val"])
    out = capsys.readouterr().out
    at = [out.index(f"| experiment={x} |") for x in "bacd"]
    assert at == sorted(at)


def test_a_repeated_seed_is_warned_about_and_still_counted(tmp_path, capsys):
    """A run repeated in a later session: its row holds seed 1 on S8 twice (n = 4: seeds 1, 2 and 1
    again on S8, seed 1 on S7), named on stderr. The same seed on another fold is no repeat; a
    failed run is not counted, so neither is its seed."""
    for name, seed, fold in (("s1", 1, "[S8]"), ("s2", 2, "[S8]"), ("s1_again", 1, "[S8]"), ("s1_s7", 1, "[S7]")):
        _run(tmp_path, name, ["model.net.dropout=0", f"seed={seed}", f"data.val_subjects={fold}"], p1=40.0 + seed,
             val=40.0)
    _run(tmp_path, "s2_failed", ["model.net.dropout=0", "seed=2", "data.val_subjects=[S8]"], error="out of memory")
    _run(tmp_path, "other", ["model.net.dropout=0.1", "seed=1", "data.val_subjects=[S8]"], p1=40.0, val=40.0)
    main([str(tmp_path), "--over", "seed,data.val_subjects"])
    captured = capsys.readouterr()
    assert "| model.net.dropout=0 | 4 |" in captured.out  # still counted: each run is a sample
    assert captured.err.strip().splitlines() == [
        f"ampose-summary: warning: row 'model.net.dropout=0' holds seed=1 data.val_subjects=[S8] 2 times "
        f"({tmp_path / 's1'}, {tmp_path / 's1_again'}): n counts each run, not each seed"]
    main([str(tmp_path), "--over", "seed,data.val_subjects,model.net.dropout"])  # one row: "other" differs in dropout
    assert [line.split(" (")[0] for line in capsys.readouterr().err.strip().splitlines()] == [
        "ampose-summary: warning: row 'all runs' holds seed=1 data.val_subjects=[S8] model.net.dropout=0 2 times"]


def test_a_boolean_override_in_any_case_is_one_value(tmp_path):
    """A multirun records ``flip_test=True`` where a single run records ``flip_test=true``: one setting, one row."""
    _run(tmp_path, "single", ["flip_test=true", "seed=1"], p1=40.0, val=40.0)
    _run(tmp_path, "multi", ["flip_test=True", "seed=2"], p1=42.0, val=40.0)
    _run(tmp_path, "off", ["flip_test=FALSE", "seed=1"], p1=44.0, val=40.0)
    assert {r.name: r.n for r in summarise(find_runs(tmp_path))} == {"flip_test=true": 2, "flip_test=false": 1}


def test_the_bf16_stream_set_by_the_default_is_its_own_row(tmp_path):
    """Same overrides, but one run's composed config had the bf16 stream (the default since session
    19) and the other predates it (no such key: the fp32 stream): two rows, not two seeds of one."""
    old = _run(tmp_path, "old", ["experiment=fast", "seed=1"], p1=40.0, val=40.0)
    new = _run(tmp_path, "new", ["experiment=fast", "seed=2"], p1=42.0, val=40.0)
    (old / ".hydra" / "config.yaml").write_text(yaml.safe_dump({"model": {"net": {"dim": 64}}}))
    (new / ".hydra" / "config.yaml").write_text(yaml.safe_dump({"model": {"net": {"dim": 64, "bf16_residual": True}}}))
    pinned = _run(tmp_path, "pinned", ["experiment=fast", "model.net.bf16_residual=false", "seed=1"], p1=44.0, val=40.0)
    (pinned / ".hydra" / "config.yaml").write_text(yaml.safe_dump({"model": {"net": {"bf16_residual": False}}}))
    # an experiments/ copy keeps config.yaml beside overrides.yaml (collect.py)
    copy = tmp_path / "copies" / "run"
    copy.mkdir(parents=True)
    (copy / "overrides.yaml").write_text(yaml.safe_dump(["experiment=fast", "seed=3"]))
    (copy / "config.yaml").write_text(yaml.safe_dump({"model": {"net": {"bf16_residual": True}}}))
    (copy / "metrics.json").write_text((new / "metrics.json").read_text())
    rows = {r.name: r.n for r in summarise(find_runs(tmp_path))}
    assert rows == {"model.net.bf16_residual=true": 2, "model.net.bf16_residual=false": 1, "all runs": 1}
