"""Reference libraries: formats, unit conversion, unreadable files reported and skipped."""

from __future__ import annotations

import numpy as np
import pytest

from ftir_unmix.errors import CubeReadError
from ftir_unmix.identify import (
    Library,
    best_match,
    identify,
    load_library,
    read_band_weights_csv,
    read_endmembers_csv,
    read_reference_file,
)

WN = np.arange(650.0, 4000.0, 3.857)


def _bands(centres_widths_heights, wn=WN):
    y = np.zeros_like(wn)
    for c, s, h in centres_widths_heights:
        y += h * np.exp(-0.5 * ((wn - c) / s) ** 2)
    return y


A = _bands([(1730, 10, 1.0), (1240, 15, 0.6), (2950, 12, 0.4), (760, 6, 0.5)])
B = _bands([(1600, 8, 0.8), (1510, 6, 1.0), (830, 8, 0.7), (3400, 60, 0.3)])
C = _bands([(1100, 30, 1.0), (3620, 8, 0.5), (915, 8, 0.6)])


def _write_two_columns(path, wn, y, header=None):
    lines = [header] if header else []
    lines += [f"{float(x)!r},{float(v)!r}" for x, v in zip(wn, y)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def openspecy(shared_data):
    folder = shared_data / "reference-spectra" / "openspecy_library"
    if not folder.is_dir():
        pytest.fail(f"{folder} is missing from the shared data (see its PROVENANCE.txt)")
    return folder


def test_openspecy_folder_reads_every_csv(openspecy):
    lib = load_library(openspecy)
    assert len(lib) == len(list(openspecy.glob("*.csv"))) == 29
    assert lib.problems == []
    ps = next(e for e in lib.entries if e.name == "00_PS")
    assert ps.source.endswith("00_PS.csv")
    assert np.all(np.diff(ps.wavenumbers) > 0)
    assert ps.values.max() == pytest.approx(1.0)


def test_whole_reference_tree_every_format_and_every_failure_reported(shared_data):
    """CSV, multi-column CSV, OPUS, JCAMP (%T, T, reflectance) read; jcamp's failures become problems."""
    root = shared_data / "reference-spectra"
    lib = load_library(root)
    names = set(lib.names)
    # OPUS (Bruker), two-column CSV without header, a table of four class means (one per column)
    assert {"ftir_ps", "ftir_pva_without_header", "collagen_mean", "lipids_mean"} <= names
    collagen = next(e for e in lib.entries if e.name == "collagen_mean")
    assert collagen.source.endswith("collagen_csv_class_means.csv [collagen_mean]")
    # every file is either read or reported, never lost and never fatal
    files = {str(p) for p in root.rglob("*") if p.is_file()}
    read_files = {e.source.split(" [")[0] for e in lib.entries}
    reported = {p.path for p in lib.problems}
    assert files == read_files | reported
    assert not read_files & reported
    for problem in lib.problems:
        assert problem.reason and "\n" not in problem.reason
    # JCAMP-DX: converted to absorbance, and said so
    jdx = [e for e in lib.entries if e.source.endswith(".jdx")]
    assert len(jdx) >= 3
    for e in jdx:
        assert any("to absorbance" in n for n in e.notes), e.notes
    nitro = next(e for e in lib.entries if e.name == "Nitrocellulose")
    assert any("reflectance" in n for n in nitro.notes)
    # files the jcamp package cannot decode are reported with the package's reason
    jcamp_problems = [p for p in lib.problems if p.path.endswith(".jdx")]
    assert jcamp_problems, "the test files include compression forms the jcamp package fails on"
    assert all("jcamp" in p.reason for p in jcamp_problems)


def test_percent_transmittance_references_are_converted_and_still_match(tmp_path):
    t_percent = 100.0 * 10.0 ** (-A)
    t_fraction = 10.0 ** (-B)
    _write_two_columns(tmp_path / "ester.csv", WN, t_percent, header="wavenumber,%T")
    _write_two_columns(tmp_path / "aromatic.txt", WN[::-1], t_fraction[::-1])  # no header, descending
    _write_two_columns(tmp_path / "silicate.csv", WN, C, header="wavenumber,absorbance")
    lib = load_library(tmp_path)
    by_name = {e.name: e for e in lib.entries}
    assert set(by_name) == {"ester", "aromatic", "silicate"}
    np.testing.assert_allclose(by_name["ester"].values, A, atol=1e-5)
    np.testing.assert_allclose(by_name["aromatic"].values, B, atol=1e-5)
    assert any("transmittance" in n and "absorbance" in n for n in by_name["ester"].notes)
    assert any("transmittance" in n and "judged" in n for n in by_name["aromatic"].notes)
    assert by_name["silicate"].notes == ()
    result = identify(np.column_stack([A, B]), WN, ["EM1", "EM2"], library=lib, markers=False)
    assert best_match(result["EM1"]).name == "ester"
    assert best_match(result["EM2"]).name == "aromatic"
    assert any("transmittance" in n for n in best_match(result["EM1"]).notes)
    assert "notes" in best_match(result["EM1"]).to_dict()


def test_multi_column_percent_t_table(tmp_path):
    p = tmp_path / "lab.csv"
    rows = ["wavenumber,ester %T,aromatic %T"]
    rows += [f"{x},{100 * 10 ** -a},{100 * 10 ** -b}" for x, a, b in zip(WN, A, B)]
    p.write_text("\n".join(rows) + "\n", encoding="utf-8")
    refs, problems = read_reference_file(p)
    assert problems == []
    assert [r.name for r in refs] == ["ester %T", "aromatic %T"]
    np.testing.assert_allclose(refs[1].values, B, atol=1e-5)
    assert all("percent transmittance" in r.notes[0] for r in refs)


def test_corrupt_files_are_reported_and_skipped_the_rest_used(openspecy, tmp_path):
    rng = np.random.default_rng(0)
    (tmp_path / "garbage.jdx").write_bytes(rng.bytes(4000))
    (tmp_path / "garbage.csv").write_bytes(b"\x00\x01" + rng.bytes(3000))
    (tmp_path / "words.csv").write_text("this is\nnot a spectrum\n", encoding="utf-8")
    (tmp_path / "empty.dx").write_bytes(b"")
    (tmp_path / "fake.spa").write_bytes(rng.bytes(500))
    lib = load_library([openspecy, tmp_path])
    assert len(lib) == 29
    bad = {p.path.rsplit("/", 1)[-1]: p.reason for p in lib.problems}
    assert set(bad) == {"garbage.jdx", "garbage.csv", "words.csv", "empty.dx", "fake.spa"}
    assert all(reason and "\n" not in reason for reason in bad.values())
    assert bad["empty.dx"] == "file is empty"
    # the library still names a reference correctly
    pmma = next(e for e in lib.entries if e.name == "21_polymethyl_methacrylate")
    y = np.interp(WN, pmma.wavenumbers, pmma.values)
    assert best_match(identify(y, WN, ["EM"], library=lib, markers=False)["EM"]).name == pmma.name


def test_endmembers_csv_of_past_runs_is_a_library(tmp_path):
    """Each column of an endmembers.csv this tool wrote becomes one reference named after it."""
    from ftir_unmix.export import write_spectra_csv

    write_spectra_csv(tmp_path / "run1" / "endmembers.csv", WN, np.column_stack([A, B]), ["ester resin", "epoxy"])
    write_spectra_csv(tmp_path / "run2" / "endmembers.csv", WN, C[:, None], ["clay"])
    lib = load_library(tmp_path)
    assert sorted(lib.names) == ["clay", "epoxy", "ester resin"]
    clay = next(e for e in lib.entries if e.name == "clay")
    assert clay.source.endswith("endmembers.csv [clay]")
    wn, e, names = read_endmembers_csv(tmp_path / "run1" / "endmembers.csv")
    np.testing.assert_allclose(wn, WN)
    assert names == ["ester resin", "epoxy"]
    result = identify(e[:, ::-1] + 0.01, wn, ["X", "Y"], library=lib, markers=False)
    assert best_match(result["X"]).name == "epoxy"
    assert best_match(result["Y"]).name == "ester resin"


def test_read_endmembers_csv_refuses_bad_tables(tmp_path):
    p = tmp_path / "one.csv"
    p.write_text("wavenumber\n1\n2\n", encoding="utf-8")
    with pytest.raises(CubeReadError, match="one.csv"):
        read_endmembers_csv(p)
    q = tmp_path / "nan.csv"
    q.write_text("wavenumber,EM1\n" + "\n".join(f"{i},{'nan' if i == 5 else i}" for i in range(20)), encoding="utf-8")
    with pytest.raises(CubeReadError, match="non-finite"):
        read_endmembers_csv(q)


def test_read_band_weights_csv(tmp_path):
    p = tmp_path / "band_weights.csv"
    w = np.linspace(0.05, 1.0, WN.size)
    rows = ["wavenumber,weight,d_corr"] + [f"{x},{v},0" for x, v in zip(WN[::-1], w[::-1])]
    p.write_text("\n".join(rows) + "\n", encoding="utf-8")
    wn, got = read_band_weights_csv(p)
    np.testing.assert_allclose(wn, WN)
    np.testing.assert_allclose(got, w)
    p.write_text("wavenumber,other\n1,2\n3,4\n", encoding="utf-8")
    with pytest.raises(CubeReadError, match="weight"):
        read_band_weights_csv(p)


def test_library_add_and_a_reference_outside_the_range_is_left_out():
    from ftir_unmix.identify import incomparable_references

    lib = Library()
    lib.add("mid", WN, A)
    lib.add("near-IR", np.linspace(4000, 9000, 500), np.linspace(0, 1, 500) ** 2)
    left_out = incomparable_references(lib, WN)
    assert [p.path for p in left_out] == ["in memory"]
    result = identify(A, WN, ["EM"], library=lib, markers=False)
    assert [c.name for c in result["EM"] if c.kind == "library"] == ["mid"]
    with pytest.raises(ValueError, match="usable points"):
        lib.add("short", WN[:5], A[:5])
