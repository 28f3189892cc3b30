"""Naming endmembers against a library: robust to noise, baseline and CO2; mixtures; no false names."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from ftir_unmix.identify import (
    LIBRARY_THRESHOLD,
    Library,
    best_match,
    format_identification,
    identification_to_json,
    identify,
    load_library,
    summary,
    weighted_correlation,
)
from ftir_unmix.identify._spectra import resample

WN = np.arange(650.0, 4000.0, 3.857)


def co2(amplitude: float) -> np.ndarray:
    """The CO2 antisymmetric-stretch doublet, as a positive artefact."""
    return amplitude * (np.exp(-0.5 * ((WN - 2360) / 5) ** 2) + 0.8 * np.exp(-0.5 * ((WN - 2338) / 5) ** 2))


@pytest.fixture(scope="module")
def library(shared_data):
    folder = shared_data / "reference-spectra" / "openspecy_library"
    if not folder.is_dir():
        pytest.fail(f"{folder} is missing from the shared data (see its PROVENANCE.txt)")
    return load_library(folder)


def on_axis(lib, name):
    ref = next(e for e in lib.entries if e.name == name)
    return np.nan_to_num(resample(ref.wavenumbers, ref.values, WN))


def test_every_reference_is_named_when_noisy_with_baseline_and_co2(library):
    rng = np.random.default_rng(1)
    names = library.names
    cols = []
    for name in names:
        y = on_axis(library, name)
        baseline = 0.2 + 0.1 * ((WN - 650) / 3350) ** 2
        cols.append(y + 0.02 * y.max() * rng.standard_normal(WN.size) + baseline + co2(0.5 * y.max()))
    result = identify(np.column_stack(cols), WN, names, library=library, markers=False)
    for name in names:
        best = best_match(result[name])
        assert best is not None and best.name == name, (name, [(c.name, round(c.score, 2)) for c in result[name][:3]])
        assert best.kind == "library" and best.score >= LIBRARY_THRESHOLD
        assert best.source.endswith(f"{name}.csv")
        assert 0 <= best.hqi <= 100 and 0 <= best.hqi_derivative <= 100 and best.sad_deg < 30
        # the runner-up library reference is far below the threshold
        others = [c.score for c in result[name] if c.kind == "library" and c.name != name]
        assert max(others) < LIBRARY_THRESHOLD - 0.1


def _random_bands(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y = np.zeros_like(WN)
    for _ in range(int(rng.integers(4, 13))):
        y += rng.uniform(0.1, 1) * np.exp(-0.5 * ((WN - rng.uniform(700, 3800)) / rng.uniform(5, 40)) ** 2)
    return y + 0.005 * rng.standard_normal(WN.size)


def test_spectra_in_no_library_get_no_confident_match(library):
    e = np.column_stack([_random_bands(seed) for seed in range(20)])
    names = [f"R{i}" for i in range(20)]
    result = identify(e, WN, names, library=library)
    for name in names:
        assert best_match(result[name]) is None, (name, result[name][0].name, result[name][0].score)
        assert result[name], "the best guesses are still listed"
    assert set(summary(result).values()) == {"no confident match"}
    assert "R0: no confident match (best: " in format_identification(result)


def test_band_weights_keep_a_co2_artefact_from_changing_the_top_match(library):
    """A reference measured with a CO2 residue wins unweighted; band weights (and the CO2 mask) prevent it."""
    from ftir_unmix import band_weights

    ps, pet = on_axis(library, "00_PS"), on_axis(library, "02_PET")
    lib = Library(entries=list(library.entries))  # a copy: the module's library is shared
    lib.add("PET with CO2 residue", WN, pet + co2(3.0), source="badly purged instrument")
    rng = np.random.default_rng(0)
    # weights from a cube whose pixels mix the two materials under a drifting CO2 band
    a = rng.uniform(0, 1, (400, 1))
    cube = a * ps + (1 - a) * pet + rng.uniform(0, 1.5, (400, 1)) * co2(1.0)
    cube += 0.01 * rng.standard_normal((400, WN.size))
    w = band_weights(cube.reshape(20, 20, -1))
    assert w[(WN > 2330) & (WN < 2370)].min() < 0.1
    em = ps + co2(3.0) + 0.01 * rng.standard_normal(WN.size)
    plain = best_match(identify(em, WN, ["EM"], library=lib, markers=False, exclude_co2=False)["EM"])
    weighted = best_match(identify(em, WN, ["EM"], library=lib, markers=False, weights=w, exclude_co2=False)["EM"])
    masked = best_match(identify(em, WN, ["EM"], library=lib, markers=False)["EM"])
    assert plain is not None and "PET with CO2 residue" in plain.name
    assert weighted is not None and weighted.name == "00_PS"
    assert masked is not None and masked.name == "00_PS"
    clean = best_match(identify(ps, WN, ["EM"], library=lib, markers=False)["EM"])
    assert masked.score == pytest.approx(clean.score, abs=0.02)


@pytest.mark.parametrize(
    "first, second",
    [("00_PS", "21_polymethyl_methacrylate"), ("02_PET", "11_PA66"), ("45_PDMS", "13_CA")],
)
def test_two_component_mixture_finds_the_pair_and_proportions(library, first, second):
    rng = np.random.default_rng(3)
    em = 0.6 * on_axis(library, first) + 0.4 * on_axis(library, second)
    em = em + 0.01 * rng.standard_normal(WN.size) + 0.05
    cands = identify(em, WN, ["EM"], library=library, markers=False)["EM"]
    best = best_match(cands)
    assert best is not None and best.kind == "mixture"
    fractions = {c["name"]: c["fraction"] for c in best.components}
    assert set(fractions) == {first, second}
    assert fractions[first] == pytest.approx(0.6, abs=0.03)
    assert fractions[second] == pytest.approx(0.4, abs=0.03)
    assert best.score > max(c.score for c in cands if c.kind == "library") + 0.1


def test_a_pure_reference_is_not_reported_as_a_confident_mixture(library):
    em = on_axis(library, "21_polymethyl_methacrylate")
    cands = identify(em, WN, ["EM"], library=library, markers=False)["EM"]
    assert best_match(cands).name == "21_polymethyl_methacrylate"
    mixture = [c for c in cands if c.kind == "mixture"]
    assert len(mixture) == 1 and not mixture[0].confident  # reported, but not as the answer


def _drying_oil() -> np.ndarray:
    from ftir_unmix.identify import builtin_markers

    bands = builtin_markers().bands_of("drying oil")
    return sum(b.weight / 3 * np.exp(-0.5 * ((WN - b.band) / max(4.0, 0.8 * b.tolerance)) ** 2) for b in bands)


def test_json_and_text_outputs(library):
    em = np.column_stack([on_axis(library, "11_PA66"), _drying_oil(), _random_bands(0)])
    result = identify(em, WN, ["EM1", "EM2", "EM3"], library=library, top=3)
    data = identification_to_json(result)
    text = json.dumps(data, allow_nan=False)  # strict JSON: no NaN, no numpy types
    back = json.loads(text)
    assert list(back) == ["EM1", "EM2", "EM3"]
    for cands in back.values():
        assert 3 <= len(cands) <= 4  # top 3, and the best mixture when it is not among them
        for c in cands:
            assert {"name", "score", "source", "markers", "kind", "confident"} <= set(c)
            assert set(c["markers"]) == {"matched", "missing", "unchecked"}
            assert 0.0 <= c["score"] <= 1.0
    assert back["EM1"][0]["name"] == "11_PA66" and back["EM1"][0]["kind"] == "library"
    assert back["EM2"][0]["name"] == "drying oil" and back["EM2"][0]["kind"] == "markers"
    assert back["EM2"][0]["markers"]["matched"][0]["source"]
    assert not any(c["confident"] for c in back["EM3"])
    report = format_identification(result)
    assert report.splitlines()[0].startswith("EM1: 11_PA66  [library, score ")
    assert "EM2: drying oil  [markers" in report and "EM3: no confident match" in report
    assert "matched: 2925 (at 29" in report


def test_weighted_correlation_ignores_zero_weight_bands():
    x = np.sin(np.linspace(0, 6, 200))
    y = x.copy()
    y[100:110] += 50.0  # a spike
    w = np.ones(200)
    assert weighted_correlation(x, y) < 0.5
    w[100:110] = 0.0
    assert weighted_correlation(x, y, w) == pytest.approx(1.0)


def test_inputs_are_checked():
    y = np.exp(-0.5 * ((WN - 1700) / 10) ** 2)
    with pytest.raises(ValueError, match="bands"):
        identify(y[:-1], WN)
    with pytest.raises(ValueError, match="names"):
        identify(np.column_stack([y, y]), WN, ["only one"])
    with pytest.raises(ValueError, match="weights"):
        identify(y, WN, weights=np.ones(3))
    with pytest.raises(ValueError, match="top"):
        identify(y, WN, top=0)
    # descending wavenumbers (with weights in the same order) give the same answer
    a = identify(y, WN, ["EM"])["EM"][0]
    b = identify(y[::-1], WN[::-1], ["EM"], weights=np.ones_like(WN))["EM"][0]
    assert (a.name, round(a.score, 6)) == (b.name, round(b.score, 6))


def test_identify_imports_no_gui_no_torch_and_no_run_loop():
    code = (
        "import sys, ftir_unmix.identify\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in "
        "('torch', 'napari', 'qtpy', 'matplotlib', 'magicgui', 'PyQt5', 'PyQt6', 'PySide6', 'vispy')"
        " or m.startswith(('ftir_unmix.run', 'ftir_unmix.cli', 'ftir_unmix.select_k', 'ftir_unmix.napari'))]\n"
        "print(bad)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_real_polystyrene_spectrum_matches_polystyrene_jcamp_references_measured_in_t(shared_data):
    """OPUS polystyrene (Open Specy) against the JCAMP-DX test files (polystyrene film, %T and T):
    another instrument and technique, so a second reference fits a little better; that is no mixture."""
    root = shared_data / "reference-spectra"
    lib = load_library([root / "jcamp_public_domain", root / "openspecy_library"])
    ps = load_library(root / "openspecy_polymers" / "ftir_ps.0").entries[0]
    em = np.nan_to_num(resample(ps.wavenumbers, ps.values, WN))
    cands = identify(em, WN, ["EM"], library=lib, markers=False)["EM"]
    best = best_match(cands)
    assert best is not None and best.kind == "library" and best.source.endswith(".jdx")
    assert any("transmittance to absorbance" in n for n in best.notes)
    polystyrene_files = ("jtpolysd.jdx", "dupdec1.jdx", "fixdec1.jdx")
    assert best.source.endswith(polystyrene_files)
    for c in cands:
        if c.kind == "mixture":
            assert not c.confident, c.name
        if c.kind == "library" and c.source.endswith(".csv"):
            # no Open Specy entry shows polystyrene's aromatic bands (its '00_PS' does not either)
            assert not c.confident, c.name
