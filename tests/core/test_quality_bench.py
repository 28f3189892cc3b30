"""The quality benchmark's machinery on one tiny case (not the benchmark itself)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _load(name):
    spec = importlib.util.spec_from_file_location(f"_bench_{name}", ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the file runs
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def quality():
    return _load("quality")


@pytest.fixture(scope="module")
def records(quality):
    case = quality.Case("tiny", k=3, layout="patches", artefacts=1.0)
    out = []
    for seed in (0, 1):
        out += quality.run_case(case, seed, ("CNN+WSAD", "CNN+SAD", "NMF", "VCA+FCLS"),
                                size=12, n_bands=120, epochs=5)
    return case, out


def test_run_case_records(records):
    _, recs = records
    assert [r["method"] for r in recs[:5]] == ["pure-pixel median (truth)", "CNN+WSAD", "CNN+SAD",
                                                "NMF", "VCA+FCLS"]
    assert recs[0]["abundance_rmse"] is None and recs[0]["n_materials"] == 3
    recs = [r for r in recs if r["method"] != "pure-pixel median (truth)"]
    for r in recs:
        assert r["case"] == "tiny" and 0 <= r["mean_sad_deg"] <= 90 and r["abundance_rmse"] >= 0
        assert len(r["per_endmember_sad_deg"]) == 3 and r["seconds"] >= 0
    w = recs[0]["weights"]  # band-weight diagnosis against the synthetic truth (WSAD runs)
    assert w["n_artefact_bands"] > 0 and 0 <= w["artefact_downweighted"] <= 1
    assert 0 <= w["informative_downweighted"] <= 1 and 0 < w["informative_energy_kept"] <= 1
    assert "weights" not in recs[1]


def test_summary_targets_and_markdown(quality, records, tmp_path):
    case, recs = records
    summ = quality.summarise(recs)
    s = summ[("tiny", "CNN+WSAD")]["sad"]
    assert s["n"] == 2 and s["min"] <= s["mean"] <= s["max"] and s["std"] >= 0
    targets = quality.check_targets(recs, {"tiny": case})
    assert any("better than CNN+SAD" in t["target"] for t in targets)
    payload = {"meta": {"command": "test", "date": "today", "machine": "m", "threads": 1,
                        "total_minutes": 0.1, "size": 12, "n_bands": 120, "seeds": [0, 1],
                        "epochs": 5},
               "cases": [quality.asdict(case)], "records": recs, "skipped": []}
    payload = json.loads(json.dumps(payload))  # what --render-only reads back
    md = quality.render(payload)
    assert md.startswith(quality.BEGIN) and md.endswith(quality.END)
    assert "| CNN+WSAD |" in md and "±" in md and "### Targets" in md
    doc = tmp_path / "bench.md"
    doc.write_text("# Title\n\nwritten analysis\n\n" + quality.BEGIN + "\nold\n" + quality.END + "\n\ntail\n")
    quality.write_markdown(doc, md)
    text = doc.read_text()
    assert "written analysis" in text and "tail" in text and "old" not in text and "| NMF |" in text


def test_oracle_weights_and_cases(quality):
    names = [c.name for c in quality.CASES]
    assert "samson" in names and len(set(names)) == len(names)
    ks = {c.k for c in quality.CASES if c.kind == "synthetic"}
    assert min(ks) == 4 and max(ks) == 10
    assert {c.artefacts for c in quality.CASES if c.kind == "synthetic"} >= {0.0, 1.0, 2.5}
    assert any(c.atmosphere for c in quality.CASES)
    truth = quality.make_truth(quality.Case("t", k=3), 0, size=8, n_bands=100)
    w = quality.oracle_weights(truth, 0.05)
    assert set(np.unique(w)) <= {0.05, 1.0} and (w == 0.05).sum() == truth.artefact_mask.sum()


def test_samson_loads_in_column_major_order(quality, shared_data):
    t = quality.load_samson(shared_data)
    assert t.cube.shape == (95, 95, 156) and t.endmembers.shape == (156, 3)
    assert t.abundances.shape == (3, 95, 95)
    assert np.allclose(t.abundances.sum(axis=0), 1, atol=1e-6)
    y = t.cube.pixels.astype(float)
    good = np.corrcoef(y.ravel(), (t.abundances.reshape(3, -1).T @ t.endmembers.T).ravel())[0, 1]
    swapped = t.abundances.transpose(0, 2, 1).reshape(3, -1).T @ t.endmembers.T
    assert good > np.corrcoef(y.ravel(), swapped.ravel())[0, 1] + 0.1


def test_scene_benchmark_refuses_to_run_without_the_shared_data(monkeypatch, capsys):
    # Without it the scenes silently fall back to built-in spectra: a comparison with the
    # stored results would be on different scenes (this happened twice, docs/benchmarks.md §0).
    import ftir_unmix.scenes._data as data

    scenes = _load("scenes_quality")
    monkeypatch.setattr(data, "SHARED_DATA", None)
    with pytest.raises(SystemExit) as stop:
        scenes.main(["--cases", "small-k3", "--seeds", "0", "--methods", "vca-fcls"])
    assert stop.value.code == 2
    assert "no shared data" in capsys.readouterr().err


def test_known_spectra_benchmark_gives_references_that_are_not_the_truth():
    bench = _load("known_spectra_quality")
    rng = np.random.default_rng(0)
    wn = np.linspace(650.0, 4000.0, 600)
    truth = np.exp(-0.5 * ((wn - 1700) / 15) ** 2) + 0.5 * np.exp(-0.5 * ((wn - 2900) / 30) ** 2)
    angles = [bench.seen_angle(wn, truth, bench.lab_reference(wn, truth, rng)) for _ in range(20)]
    assert 1.0 < min(angles) and max(angles) < 40.0  # distorted, still the same material
    run = bench.run_one("nopure-k4", 0, 1, {"epochs": 20, "warmup_steps": 5, "restarts": 1, "threads": 1},
                        {"height": 16, "width": 24})
    assert len(run["known"]) == 1 and run["known"][0] in run["names"]
    assert len(run["sad_deg"]) == 4 and len(run["ended_from_reference_deg"]) == 1
    assert "known materials" in bench.summary([run])
    # the blind scenes too, their report seeds refused while tuning
    blind = bench.run_one("soap-paint-k6", 100, 2, {"epochs": 20, "warmup_steps": 5, "restarts": 1, "threads": 1},
                          {"height": 16, "width": 32}, "blind")
    assert blind["generator"] == "blind" and len(blind["sad_deg"]) == 6 and len(blind["known"]) == 2
    with pytest.raises(SystemExit) as stop:
        bench.main(["--generator", "blind", "--seeds", "100,1065"])
    assert stop.value.code == 2


def test_spare_trigger_benchmark_scores_thresholds_and_reads_the_first_run():
    bench = _load("spare_trigger")

    def run(below, k, k1):
        return {"case": "c", "seed": 0, "k_run": {"below": [0.0, below], "mean_sad_deg": k},
                "spare_run": {"mean_sad_deg": k1}}

    runs = [run(0.20, 10.0, 6.0), run(0.04, 8.0, 4.0), run(0.01, 3.0, 5.0)]
    table = bench.analyse(runs, [0.05, 0.03, 0.0])
    assert "K 7.00°, K + 1 5.00°" in table and "(oracle) 4.33°" in table
    assert "| 0.050 | 5.67° | 1 | 0 | 0.00° |" in table  # only the first run trained again
    assert "| 0.030 | 4.33° | 2 | 0 | 0.00° |" in table
    assert "| 0.000 | 5.00° | 3 | 1 | 2.00° |" in table  # the third is worse with the spare

    from ftir_unmix import unmix
    from ftir_unmix.scenes import make_scene

    scene = make_scene("small-k3", 0, height=12, width=16)
    result = unmix(scene.cube, 3, epochs=10, warmup_steps=4, restarts=2, refine=False, threads=1)
    signals = bench.first_run_signals(scene.cube, result)
    assert len(signals["below"]) == 3 and all(0.0 <= v <= 1.0 for v in signals["below"])
    assert len(signals["spread"]) == 3
    q = [signals["cone_q"][str(v)] for v in bench.CONE_QUANTILES]
    assert q == sorted(q) and 0.0 < q[0] < 90.0


def test_spare_choice_benchmark_scores_drop_rules_against_the_truth():
    bench = _load("spare_choice")

    def column(top, wide, sad):
        return {"growth": {"0.995": top, "0.95": wide, "mean": wide / 5}, "sad_without": sad}

    # run 1: the 99.5th alone drops column 0 (a material: 15° lost), the sum drops column 1;
    # run 2: both rules drop the right one (column 1)
    runs = [{"case": "a", "seed": 0, "columns": [column(15.0, 12.0, 20.0), column(18.0, 5.0, 5.0)]},
            {"case": "b", "seed": 1, "columns": [column(40.0, 30.0, 30.0), column(2.0, 1.0, 3.0)]}]
    table = bench.analyse(runs, ["0.995", "0.995+0.95"])
    assert "(oracle): 4.00°" in table
    assert "| 0.995 | 11.50° | 1 (a 0) | 15.00° | 0.83 / 2.75 | 0 / 0 |" in table
    assert "| 0.995+0.95 | 4.00° | 0 | 0.00° | 1.17 / 3.39 | 0 / 0 |" in table
    # a close call (the next cheapest within CLOSE_CALL of the drop) that dropped the wrong one
    close = [{"case": "c", "seed": 2, "columns": [column(10.0, 0.0, 20.0), column(10.5, 0.0, 3.0)]}]
    assert bench.analyse(close, ["0.995"]).endswith("| 1 / 1 |")

    from ftir_unmix.methods.cnn.spare import NEEDED_QUANTILES, SPOT_PIXELS

    run = bench.run_one("small-k3", 0, {"height": 12, "width": 16}, epochs=10, warmup_steps=4, restarts=1,
                        refine=False, threads=1)
    cols = run["columns"]
    assert run["k"] == 3 and len(cols) == 4
    assert bench.SPOT_PIXELS == SPOT_PIXELS  # the benchmark records the engine's spot term
    costs = [bench.rule_cost(c, "+".join([*map(str, NEEDED_QUANTILES), bench.SPOT])) for c in cols]
    assert run["dropped"] == int(np.argmin(costs))  # the engine's own choice, on the same numbers
    assert all(c["growth"]["0.95"] <= c["growth"]["0.995"] <= c["growth"]["0.999"] for c in cols)
    # the ninth pixel's growth: 192 pixels here, so it lies between the 95th percentile and the largest
    assert all(c["growth"]["0.95"] <= c["growth"][bench.SPOT] <= c["growth"]["0.999"] + 1e-9 for c in cols)
    assert bench.rule_cost(cols[0], "0.995+top9") == cols[0]["growth"]["0.995"] + cols[0]["growth"]["top9"]
    assert all(0.0 < c["sad_without"] < 90.0 for c in cols)


def test_paired_methods_pairs_runs_of_the_same_scene_across_files(tmp_path, capsys):
    """Runs pair up by case, seed and shape; variants of a method (options) are left out;
    the counts and the sign test follow the differences."""
    paired = _load("paired_methods")

    def run(method, case, seed, sad, options=None):
        return {"method": method, "case": case, "seed": seed, "shape": [8, 8, 50], "mean_sad_deg": sad,
                "options": paired.METHODS[method] if options is None else options}

    first = [run("cnn", "a", s, 5.0 + s) for s in range(8)] + [run("cnn", "b", 0, 3.0),
                                                               run("cnn", "b", 1, 9.0, {"refine": False})]
    second = [run("cnn-sad", "a", s, 4.0 + s) for s in range(8)] + [run("cnn-sad", "b", 0, 3.02),
                                                                    run("cnn-sad", "b", 1, 2.0)]
    for name, runs in (("one.json", first), ("two.json", second)):
        (tmp_path / name).write_text(json.dumps({"runs": runs}))
    assert paired.main(["cnn", "cnn-sad", "--pair", f"{tmp_path / 'one.json'},{tmp_path / 'two.json'}"]) == 0
    out = capsys.readouterr().out
    # case a: 8 pairs, each 1 degree worse; case b: one pair (the variant is not paired), a tie
    assert ("a                n   8  mean +1.00  median +1.00  worse   8  better   0  tied   0  "
            "sign test p 0.00781") in out
    assert "b                n   1  mean -0.02  median -0.02  worse   0  better   0  tied   1  sign test p 1" in out
    assert "cases worse 1/2" in out
    with pytest.raises(SystemExit):
        paired.main(["cnn", "nmf", "--pair", str(tmp_path / "one.json")])


def test_blind_benchmark_scores_every_case_and_reports_pairs_and_failures(shared_data, tmp_path, capsys):
    """A tiny run of the third generator's benchmark end to end (NMF: fast), then the markdown
    of hand-made CNN runs: the pairs' counts and every material past the failure bound."""
    blind = _load("blind_quality")
    out_json, out_md = tmp_path / "blind.json", tmp_path / "bench.md"
    out_md.write_text("# page\n\nkept\n")
    assert blind.main(["--seeds", "0", "--methods", "nmf", "--height", "16", "--width", "32",
                       "--json", str(out_json), "--markdown", str(out_md)]) == 0
    runs = json.loads(out_json.read_text())["runs"]
    assert sorted(r["case"] for r in runs) == sorted(blind.blind_scenes.CASES)
    for r in runs:
        assert r["shape"][:2] == [16, 32] and len(r["per_material"]) == r["k"]
        assert all(0.0 <= m["sad_deg"] <= 90.0 and 0.0 < m["max_abundance"] <= 1.0 for m in r["per_material"].values())
        assert r["mean_sad_deg"] == pytest.approx(np.mean([m["sad_deg"] for m in r["per_material"].values()]))
    text = out_md.read_text()
    assert text.startswith("# page\n\nkept\n") and text.count(blind.MARK_BEGIN) == 1

    def run(method, seed, sads):
        return {"case": "c", "seed": seed, "method": method, "shape": [4, 4, 9], "k": 2,
                "mean_sad_deg": float(np.mean(sads)), "abundance_rmse": 0.1, "time_s": 1.0,
                "per_material": {n: {"sad_deg": v, "abundance_rmse": 0.1, "max_abundance": 0.6, "coverage": 0.5}
                                 for n, v in zip(("oil", "glue"), sads)}}

    hand = [run("cnn", 0, (2.0, 20.0)), run("cnn-sad", 0, (2.0, 4.0)),
            run("cnn", 1, (3.0, 3.0)), run("cnn-sad", 1, (3.0, 3.02))]
    pair = blind.paired(hand)
    assert (pair["n"], pair["worse"], pair["better"]) == (2, 1, 0)
    meta = {"argv": [], "seeds": [0, 1], "methods": ["cnn", "cnn-sad"], "options": {},
            "size": {"height": 4, "width": 4}, "jobs": 1, "git": "abc", "wall_s": 60.0}
    blind.write_markdown(out_md, {"meta": meta, "runs": hand})
    text = out_md.read_text()
    assert text.count(blind.MARK_BEGIN) == 1 and "| c | 7.00 (3.0–11.0)" in text
    assert "1 worse, 0 better, 1 within" in text
    assert "c glue: 1 of 2 runs with cnn (worst 20°)." in text and "with cnn-sad" not in text
    assert "doubts as a warning" not in text and blind.doubt_summary(hand) is None  # kept before the doubts
    # the run's doubts against the errors: the 20° glue doubted, one of the three good ones too
    for r, flags in zip(hand[::2], ((0.0, 1.0), (1.0, 0.0)), strict=True):
        for m, f in zip(r["per_material"].values(), flags, strict=True):
            m["doubted"] = f
    assert blind.doubt_summary(hand) == (
        "The run's doubts as a warning (CNN+WSAD, 4 materials): of the 1 materials more than 10° off, 1 were "
        "flagged (a doubt said of its endmember); of the 3 within 10°, 1 were flagged.")


def test_edge_pairs_scores_the_step_and_its_absence_on_one_run(tmp_path, capsys):
    edge_pairs = _load("edge_pairs")
    stop44 = "0.7:fill_cm=0:large=inf"  # the step as stop 44 took it: no dilation, the gate alone
    keep = tmp_path / "keep"
    line = edge_pairs.run_one("family", "nopure-k4", 0, ["0.7", "0", stop44], {"height": 16, "width": 32}, keep=keep)
    variants = line["variants"]
    assert set(variants) == {"none", "edge0.7", "edge0", f"edge{stop44}"}
    # the step's input saved: the same variants done again from it, and others, without training
    (replayed,) = edge_pairs.replay(list(keep.glob("*.npz")), ["0.7", stop44, "0.7:tol=0.01"])
    assert replayed["variants"]["edge0.7"]["per"] == pytest.approx(variants["edge0.7"]["per"])
    assert replayed["variants"][f"edge{stop44}"]["step"] == variants[f"edge{stop44}"]["step"]
    assert replayed["variants"]["none"]["per"] == pytest.approx(variants["none"]["per"])
    assert "edge0.7:tol=0.01" in replayed["variants"] and replayed["names"] == line["names"]
    out = tmp_path / "replayed.jsonl"
    assert edge_pairs.main(["--replay", str(keep), "--below", "0.7,0.7:tol=0.01", "--out", str(out)]) == 0
    assert [json.loads(x)["case"] for x in out.read_text().splitlines()] == ["nopure-k4"]
    capsys.readouterr()
    assert edge_pairs.variant(stop44)[1:] == (0.7, {"fill_cm": 0.0, "large": float("inf")})
    assert variants["edge0"]["per"] == pytest.approx(variants["none"]["per"])  # a gate of 0 moves nothing
    assert any(step > 0 for step in variants["edge0.7"]["step"])
    assert variants["edge0.7"]["per"] != pytest.approx(variants["none"]["per"])
    path = tmp_path / "pairs.jsonl"
    path.write_text(json.dumps(line) + "\n")
    edge_pairs.summary([path])
    printed = capsys.readouterr().out
    assert "family: 1 scenes" in printed and "edge0.7 against none" in printed
    assert edge_pairs.main(["--summary", str(path), "--base", stop44]) == 0  # a --below entry names the base
    printed = capsys.readouterr().out
    assert f"edge0.7 against edge{stop44}" in printed and f"none against edge{stop44}" in printed
    # a run trained again with a spare records its spectra as trained, and which the checked polish held
    assert line["held"] is None and "trained" not in line  # not trained again
    held = {**line, "held": {"columns": [1], "why": "EM2 became …"}, "trained": {**variants["none"], "mean": 9.0},
            "final": variants["edge0.7"]}
    path.write_text(json.dumps(held) + "\n")
    edge_pairs.summary([path])
    printed = capsys.readouterr().out
    assert ("trained again with a spare: 1 runs; not polished 0, polished with spectra held 1; nopure-k4 0 "
            f"9.00° as trained, {variants['edge0.7']['mean']:.2f}° held") in printed


def test_spare_pairs_replays_the_drop_of_a_run_trained_again_once_per_rule(tmp_path, capsys, monkeypatch):
    """The run's own drop (the engine's default, one of 0 and 9) is replayed exactly (else
    run_one raises); each ``--spot`` value is scored on the same K + 1 training; runs not
    trained again are the same for every value."""
    import ftir_unmix.methods.cnn as cnn

    spare_pairs = _load("spare_pairs")
    size = {"height": 16, "width": 32}
    once = spare_pairs.run_one("family", "nopure-k4", 0, [0, 9], size)
    assert not once["trained_again"] and once["variants"]["spot0"] == once["variants"]["spot9"]
    share = np.array([0.0, 0.3, 0.0, 0.0, 0.0])  # EM2 below its own baseline: trained again with a spare
    monkeypatch.setattr(cnn, "below_baseline_share", lambda spectra, basis, **kw: share[:spectra.shape[1]])
    line = spare_pairs.run_one("family", "nopure-k4", 0, [0, 9], size)
    assert line["trained_again"] and set(line["variants"]) == {"spot0", "spot9"}
    for v in line["variants"].values():
        assert len(v["per"]) == 4 and len(v["dropped"]) == 1 and 0 <= v["dropped"][0]["column"] < 5
    assert line["variants"]["spot9"]["dropped"][0]["cost_deg"] > line["variants"]["spot0"]["dropped"][0]["cost_deg"]
    path = tmp_path / "pairs.jsonl"
    path.write_text(json.dumps(line) + "\n" + json.dumps(once) + "\n")
    assert spare_pairs.main(["--summary", str(path)]) == 0
    printed = capsys.readouterr().out
    assert "family: 2 scenes, 1 trained again with a spare" in printed and "spot9 against spot0" in printed
    with pytest.raises(SystemExit):  # the run's own rule must be among those replayed
        spare_pairs.main(["--seeds", "0", "--out", str(path), "--spot", "3,4"])


def test_trigger_pairs_scores_both_ends_of_one_run_under_any_reading_of_the_trigger(tmp_path, capsys):
    """A run not trained again is its first end (run_one raises unless the first training
    polished again is the run); forced, the same first training gives the same first end and
    a second; the summary picks an end per rule and pairs the rules on the runs that flip."""
    trigger_pairs = _load("trigger_pairs")
    size = {"height": 16, "width": 32}
    once = trigger_pairs.run_one("family", "nopure-k4", 0, False, size)
    assert not once["trained_again"] and set(once["variants"]) == {"first"}
    signals = once["signals"]
    assert len(signals["whole"]) == len(signals["noise"]) == len(signals["lines"]) == 4
    assert all(n <= w + 1e-12 for n, w in zip(signals["noise"], signals["whole"]))  # the noise term only takes away
    forced = trigger_pairs.run_one("family", "nopure-k4", 0, True, size)
    assert forced["trained_again"] and set(forced["variants"]) == {"first", "again"}
    assert forced["signals"] == pytest.approx(signals)
    assert forced["variants"]["first"]["per"] == pytest.approx(once["variants"]["first"]["per"])
    assert forced["variants"]["again"]["per"] != pytest.approx(forced["variants"]["first"]["per"])
    # a resin-like reading: over the bar whole, under it deeper than the noise
    flipped = {**forced, "signals": {**signals, "whole": [0.07, 0.0, 0.0, 0.0], "noise": [0.03, 0.0, 0.0, 0.0],
                                     "lines": [0.0] * 4}}
    assert trigger_pairs.fires(flipped, "whole:0.05") and not trigger_pairs.fires(flipped, "noise:0.05")
    assert trigger_pairs.chosen(flipped, "noise:0.05") is flipped["variants"]["first"]
    assert trigger_pairs.chosen({**once, "signals": flipped["signals"]}, "whole:0.05") is None  # never trained again
    path = tmp_path / "pairs.jsonl"
    path.write_text(json.dumps(flipped) + "\n" + json.dumps(once) + "\n")
    assert trigger_pairs.main(["--summary", str(path), "--rules", "whole:0.05,noise:0.05,noise:0.02"]) == 0
    printed = capsys.readouterr().out
    change = flipped["variants"]["first"]["mean"] - flipped["variants"]["again"]["mean"]
    assert "family: 2 scenes, 1 trained again by the run" in printed
    row = next(x for x in printed.splitlines() if x.startswith("| noise:0.05 |")).split(" | ")
    assert row[1] == "2 of 2" and row[4] == "0" and row[6] == "1" and row[8] == f"{change:+.2f}°"
    row = next(x for x in printed.splitlines() if x.startswith("| noise:0.02 |")).split(" | ")
    assert row[4] == "1" and row[6] == "0"  # over both bars: the same end as the base
    assert f"nopure-k4 0 {flipped['variants']['again']['mean']:.2f}° -> {flipped['variants']['first']['mean']:.2f}°" \
        in printed
    with pytest.raises(SystemExit):
        trigger_pairs.main(["--summary", str(path), "--rules", "deep:0.05"])


def test_doubt_pairs_records_each_material_and_counts_what_each_rule_names(tmp_path, capsys):
    """One run's materials carry the error, the matched endmember's spread and its purest pixels;
    the summary counts, per rule, the far-off and the right materials it names."""
    doubt_pairs = _load("doubt_pairs")
    line = doubt_pairs.run_one("family", "nopure-k4", 0, None, {"height": 16, "width": 32})
    rows = line["materials"]
    assert [r["name"] for r in rows] == ["lead white", "drying oil", "calcium oxalate", "kaolinite clay"]
    assert line["variants"]["default"]["mean"] == pytest.approx(np.mean([r["sad_deg"] for r in rows]))
    assert all(0.0 <= r["top"] <= 1.0 for r in rows)
    far = {"name": "far", "sad_deg": 30.0, "spread_deg": 12.0, "top": 0.5, "below": None}
    pinned = {"name": "pinned", "sad_deg": 3.0, "spread_deg": 12.0, "top": 0.95, "below": None}
    spot = {"name": "spot", "sad_deg": 40.0, "spread_deg": None, "top": 0.9, "below": None}  # left out
    assert doubt_pairs.names_it(far, "pinned:20:5:0.8") and not doubt_pairs.names_it(pinned, "pinned:20:5:0.8")
    assert doubt_pairs.names_it(pinned, "spread:5") and doubt_pairs.names_it(pinned, "pinned:10:5:0.8")
    path = tmp_path / "doubts.jsonl"
    path.write_text(json.dumps({**line, "materials": [far, pinned, spot]}) + "\n")
    assert doubt_pairs.main(["--summary", str(path), "--rules", "spread:5,pinned:20:5:0.8"]) == 0
    printed = capsys.readouterr().out
    assert "| `spread:5` | 1 / 1 | 1 / 1 | 1 / 1 | 1 / 1 |" in printed
    assert "| `pinned:20:5:0.8` | 1 / 1 | 0 / 1 | 1 / 1 | 0 / 1 |" in printed
    with pytest.raises(SystemExit):
        doubt_pairs.main(["--summary", str(path), "--rules", "pinned:20:5"])
