"""The built-in marker-band table: its content and sources, naming by markers, user extensions."""

from __future__ import annotations

import numpy as np
import pytest

from ftir_unmix.identify import (
    MarkerFileError,
    best_match,
    builtin_markers,
    detect_peaks,
    identify,
    load_markers,
    read_marker_file,
)
from ftir_unmix.identify._spectra import effective_weights

WN = np.arange(650.0, 4000.0, 3.857)  # an FPA-like axis, 869 bands

#: Materials the table must cover (issue 13), by a word of their name.
REQUIRED = [
    "whewellite", "weddellite", "hydrocerussite", "cerussite", "calcite", "gypsum", "anhydrite",
    "lead carboxylate", "zinc carboxylate", "drying oil", "animal glue", "egg", "dammar", "colophony",
    "kaolinite", "Prussian blue", "azurite", "malachite", "verdigris", "ultramarine", "goethite",
    "hematite", "polyester-styrene", "PMMA", "epoxy",
]


def synthetic(material: str, table=None, wn=WN) -> np.ndarray:
    """A spectrum of Gaussian bands at a material's marker positions (height by weight)."""
    table = table or builtin_markers()
    y = np.zeros_like(wn)
    for b in table.bands_of(material):
        y += b.weight / 3.0 * np.exp(-0.5 * ((wn - b.band) / max(4.0, 0.8 * b.tolerance)) ** 2)
    return y


def test_table_covers_the_materials_and_every_band_has_a_known_source():
    table = builtin_markers()
    materials = table.materials
    for word in REQUIRED:
        assert any(word.lower() in m.lower() for m in materials), word
    assert len(table.bands) >= 120
    for b in table.bands:
        keys = [k.strip() for k in b.source.split(";")]
        assert keys and all(k in table.sources for k in keys), (b.material, b.band, b.source)
        assert b.strength in ("strong", "medium", "weak")
        assert 0 < b.tolerance <= 120 and 400 <= b.band <= 4000
        assert b.assignment
    # each material has at least two bands and at least one strong one
    for m in materials:
        bands = table.bands_of(m)
        assert len(bands) >= 2 and any(b.strength == "strong" for b in bands), m
    # every cited source is used and is a full reference
    used = {k.strip() for b in table.bands for k in b.source.split(";")}
    assert used == set(table.sources)
    assert all(len(ref) > 40 and "(" in ref for ref in table.sources.values())


@pytest.mark.parametrize("noise", [0.0, 0.01])
def test_marker_endmembers_are_named_by_the_table_alone(noise):
    table = builtin_markers()
    materials = [m for m in table.materials if not m.startswith("hematite")]  # bands below 650 cm-1
    rng = np.random.default_rng(7)
    e = np.column_stack([
        synthetic(m) + noise * rng.standard_normal(WN.size) + 0.1 + 0.05 * (WN - 650) / 3350 for m in materials
    ])
    result = identify(e, WN, materials)
    for m in materials:
        best = best_match(result[m])
        assert best is not None and best.name == m and best.kind == "markers", (m, best)
        matched = [item["band"] for item in best.markers["matched"]]
        assert len(matched) >= 2
        assert best.source.startswith("built-in marker table (")


def test_named_materials_of_the_issue_with_their_evidence():
    e = np.column_stack([synthetic("calcium oxalate monohydrate (whewellite)"),
                         synthetic("lead white (hydrocerussite)"),
                         synthetic("lead carboxylate (lead soap)")])
    result = identify(e, WN, ["EM1", "EM2", "EM3"])
    oxalate = best_match(result["EM1"])
    assert oxalate.name == "calcium oxalate monohydrate (whewellite)"
    assert {item["band"] for item in oxalate.markers["matched"]} >= {1620.0, 1317.0, 780.0}
    assert all(abs(item["peak"] - item["band"]) <= item["tolerance"] for item in oxalate.markers["matched"])
    assert best_match(result["EM2"]).name == "lead white (hydrocerussite)"
    soap = best_match(result["EM3"])
    assert soap.name == "lead carboxylate (lead soap)"
    # the weddellite bands are close but its strong 1640 band is missing: not confident
    wedd = next(c for c in result["EM1"] if c.name.startswith("calcium oxalate dihydrate"))
    assert not wedd.confident
    assert 1640.0 in [item["band"] for item in wedd.markers["missing"]]


def test_a_material_needs_its_strong_bands():
    table = builtin_markers()
    bands = [b for b in table.bands_of("calcium oxalate monohydrate (whewellite)") if b.band != 1620]
    y = sum(b.weight / 3 * np.exp(-0.5 * ((WN - b.band) / 6) ** 2) for b in bands)
    cands = identify(y, WN, ["EM"])["EM"]
    whew = next(c for c in cands if c.name.startswith("calcium oxalate monohydrate"))
    assert not whew.confident
    assert [item["band"] for item in whew.markers["missing"]] == [1620.0]


def test_bands_in_the_co2_region_or_distrusted_are_not_counted_against():
    table = builtin_markers()
    y = synthetic("calcium oxalate monohydrate (whewellite)", table)
    w = np.ones_like(WN)
    w[np.abs(WN - 780) < 15] = 0.05  # a distrusted region over one strong band
    y_missing = y * np.where(np.abs(WN - 780) < 30, 0.0, 1.0)  # and the band itself absent
    with_w = identify(y_missing, WN, ["EM"], weights=w)["EM"]
    without_w = identify(y_missing, WN, ["EM"])["EM"]
    name = "calcium oxalate monohydrate (whewellite)"
    assert best_match(with_w).name == name
    unchecked = next(c for c in with_w if c.name == name).markers["unchecked"]
    assert [item["band"] for item in unchecked] == [780.0] and "distrusted" in unchecked[0]["reason"]
    assert not next(c for c in without_w if c.name == name).confident


def test_peak_detection_finds_bands_and_shoulders_but_not_noise():
    rng = np.random.default_rng(0)
    w = effective_weights(WN, None)
    noise_only = detect_peaks(WN, 0.01 * rng.standard_normal(WN.size), w)
    assert noise_only.positions.size == 0
    y = synthetic("lead carboxylate (lead soap)")
    peaks = detect_peaks(WN, y + 0.005 * rng.standard_normal(WN.size), w)
    for band in (2917, 2849, 1540, 1513, 1410):
        assert np.min(np.abs(peaks.positions - band)) < 4, band
    # a CO2 doublet is never a peak (its region is excluded)
    co2 = y + np.exp(-0.5 * ((WN - 2360) / 5) ** 2)
    assert not np.any((detect_peaks(WN, co2, w).positions > 2280) & (detect_peaks(WN, co2, w).positions < 2400))


def test_user_marker_file_extends_and_overrides_the_table(tmp_path):
    p = tmp_path / "my_markers.csv"
    p.write_text(
        "# our lab's additions\n"
        "material,category,band_cm1,tolerance_cm1,weight,assignment,source\n"
        "barium sulfate (barite),filler/ground,1180,15,strong,SO4 stretching,lab notebook 12\n"
        "barium sulfate (barite),filler/ground,1080,15,strong,SO4 stretching,lab notebook 12\n"
        "barium sulfate (barite),filler/ground,985,6,medium,SO4 symmetric stretching,\n"
        "Prussian blue,pigment,2085,12,strong,CN stretching (our reference),lab notebook 3\n"
        "Prussian blue,pigment,1610,15,2.5,water bending,lab notebook 3\n",
        encoding="utf-8",
    )
    table = load_markers(p)
    builtin = builtin_markers()
    assert "barium sulfate (barite)" in table.materials
    assert [b.band for b in table.bands_of("Prussian blue")] == [2085.0, 1610.0]  # replaced
    assert len(table.materials) == len(builtin.materials) + 1
    assert table.bands_of("barium sulfate (barite)")[2].source == "user file my_markers.csv"
    assert table.bands_of("Prussian blue")[1].strength == "custom"
    y = synthetic("barium sulfate (barite)", table)
    best = best_match(identify(y, WN, ["EM"], markers=table)["EM"])
    assert best.name == "barium sulfate (barite)"
    assert best.source.startswith("marker table ") and "my_markers.csv" in best.source
    # the built-in table alone does not know barite
    assert all(c.name != "barium sulfate (barite)" for c in identify(y, WN, ["EM"])["EM"])


@pytest.mark.parametrize(
    "content, message",
    [
        ("material,band_cm1,weight\nx,1000,strong\n", "missing column"),
        ("material,band_cm1,tolerance_cm1,weight\nx,abc,5,strong\n", "data row 1: band_cm1"),
        ("material,band_cm1,tolerance_cm1,weight\nx,1000,-5,strong\n", "tolerance_cm1"),
        ("material,band_cm1,tolerance_cm1,weight\nx,1000,5,very strong\n", "weight"),
        ("material,band_cm1,tolerance_cm1,weight\n", "no marker rows"),
    ],
)
def test_bad_user_marker_files_are_refused_in_one_line(tmp_path, content, message):
    p = tmp_path / "bad.csv"
    p.write_text(content, encoding="utf-8")
    with pytest.raises(MarkerFileError, match=message) as info:
        read_marker_file(p)
    assert str(info.value).startswith(str(p)) and "\n" not in str(info.value)


def test_the_docs_table_is_the_data_file():
    """docs/identification.md lists every band of marker_bands.csv with its source (regenerate it on change)."""
    from pathlib import Path

    doc = Path(__file__).resolve().parents[2] / "docs" / "identification.md"
    if not doc.is_file():
        pytest.skip("docs/ is not part of this installation")
    rows = {line for line in doc.read_text(encoding="utf-8").splitlines() if line.startswith("| ")}
    table = builtin_markers()
    for b in table.bands:
        row = (f"| {b.material} | {b.category} | {b.band:.0f} | {b.tolerance:.0f} | {b.strength} | "
               f"{b.assignment} | {b.source} |")
        assert row in rows, row
    text = doc.read_text(encoding="utf-8")
    for key, ref in table.sources.items():
        assert f"- **{key}** — {ref}" in text
