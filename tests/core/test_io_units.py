"""Y units on reading: what each format states, the range rule, conversion to absorbance, overrides."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ftir_unmix.cube import make_cube
from ftir_unmix.errors import CubeReadError
from ftir_unmix.io import (
    Y_UNITS,
    load_cube,
    load_spectrum,
    parse_units_label,
    range_suggests_transmittance,
    read_envi,
    read_npz,
    save_cube,
    to_absorbance,
    write_cube_tiff,
    write_envi,
    write_npz,
)
from ftir_unmix.io._units import DeclaredUnits, apply_units


def _absorbance_scene(h: int = 6, w: int = 7, b: int = 300, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Absorbance-like spectra: flat baseline near 0 with a few Gaussian bands per pixel."""
    rng = np.random.default_rng(seed)
    wn = np.linspace(700.0, 4000.0, b)
    centres = np.array([1030.0, 1450.0, 1650.0, 1735.0, 2920.0, 3300.0])
    widths = np.array([25.0, 15.0, 20.0, 12.0, 18.0, 120.0])
    amps = rng.uniform(0.05, 0.9, size=(h, w, centres.size))
    bands = np.exp(-(((wn[None, :] - centres[:, None]) / widths[:, None]) ** 2))
    a = amps @ bands + rng.normal(0, 0.002, size=(h, w, b))
    return a.astype(np.float64), wn


# ---------------------------------------------------------------- real sample files

# (relative path, options, units after reading, units in the file, words in units_source,
#  words in the conversion note or None)
REAL = [
    ("envi_openspecy/CA_small_UF.hdr", {}, "absorbance", "absorbance", "z plot titles", None),
    ("agilent_single_tile/4_noimage_agg256.seq", {}, "absorbance", "not stated", "Agilent", None),
    ("agilent_mosaic/5_mosaic_agg1024.dmt", {}, "absorbance", "not stated", "Agilent", None),
    ("opus/brukeropus_example_file.0", {}, "absorbance", "absorbance", "OPUS data block", None),
    (
        "opus/brukeropus_example_file.0",
        {"block": "sm"},
        "single-beam (taken as absorbance)",
        "single-beam",
        "'sm'",
        None,
    ),
    ("omnic/sample1.spa", {}, "absorbance", "absorbance", "y-unit code 17", None),
    ("omnic/small_Omnic.map", {}, "unknown (taken as absorbance)", "unknown", "code 15", None),
    (
        "perkinelmer/4x4_pixel_PE_image.fsm",
        {},
        "absorbance",
        "percent-transmittance",
        "ordinate label ('%T')",
        "percent transmittance",
    ),
    (
        "perkinelmer/single_PE_spectrum.sp",
        {},
        "absorbance",
        "percent-transmittance",
        "y-axis label block ('%T')",
        "percent transmittance",
    ),
]


@pytest.mark.parametrize(("rel", "opts", "units", "in_file", "source", "note"), REAL)
def test_real_file_units(
    formats: Path, rel: str, opts: dict, units: str, in_file: str, source: str, note: str | None
) -> None:
    cube = load_cube(formats / rel, **opts)
    info = cube.info()
    json.dumps(info)  # JSON-ready
    assert info["units"] == units
    assert cube.metadata["units_in_file"] == in_file
    assert source in info["units_source"]
    conversions = [r for r in info["repairs"] if "converted to absorbance" in r]
    if note is None:
        assert conversions == []
    else:
        assert len(conversions) == 1 and note in conversions[0]
        assert "-log10(T/100)" in conversions[0]


@pytest.mark.parametrize(
    "rel", ["perkinelmer/4x4_pixel_PE_image.fsm", "perkinelmer/single_PE_spectrum.sp"]
)
def test_perkinelmer_percent_becomes_plausible_absorbance(formats: Path, rel: str) -> None:
    raw = load_cube(formats / rel, units="absorbance")
    # taken as they are, with a note that the header said otherwise
    assert raw.data.min() > 70 and raw.data.max() < 102
    assert any("percent transmittance" in r and "as asked" in r for r in raw.metadata["repairs"])
    cube = load_cube(formats / rel)
    assert cube.data.min() > -0.05 and cube.data.max() < 0.2
    np.testing.assert_allclose(cube.data, -np.log10(raw.data / 100.0), atol=1e-6)
    assert cube.info()["units"] == "absorbance"


def test_load_spectrum_of_percent_file_is_absorbance(formats: Path) -> None:
    _wn, y = load_spectrum(formats / "perkinelmer" / "single_PE_spectrum.sp")
    assert y.max() < 0.2
    _wn, raw = load_spectrum(formats / "perkinelmer" / "single_PE_spectrum.sp", units="absorbance")
    assert raw.max() > 100


def test_override_on_real_absorbance_file(formats: Path) -> None:
    path = formats / "omnic" / "sample1.spa"
    cube = load_cube(path, units="percent-transmittance")
    assert cube.info()["units_source"] == "option units='percent-transmittance'"
    note = next(r for r in cube.metadata["repairs"] if "converted" in r)
    assert "overriding the file, which says absorbance" in note
    # values <= 0 in the absorbance spectrum are clipped and counted
    raw = load_cube(path, units="absorbance").data
    n_low = int((raw <= 1e-4).sum())
    assert n_low > 0 and f"{n_low} values at or below 0.0001" in note
    assert np.isfinite(cube.data).all() and cube.data.max() <= 6.0 + 1e-5


# ---------------------------------------------------------------- the range rule

ABSORBANCE_FILES = [
    ("envi_openspecy/CA_small_UF.hdr", {}),
    ("agilent_single_tile/4_noimage_agg256.seq", {}),
    ("agilent_single_tile/4_noimage_agg256.hdr", {"format": "envi"}),
    ("agilent_mosaic/5_mosaic_agg1024.dmt", {}),
    ("opus/brukeropus_example_file.0", {}),
    ("omnic/sample1.spa", {}),
    ("omnic/small_Omnic.map", {}),
]


@pytest.mark.parametrize(("rel", "opts"), ABSORBANCE_FILES)
def test_range_rule_never_fires_on_absorbance_samples(formats: Path, rel: str, opts: dict) -> None:
    cube = load_cube(formats / rel, units="absorbance", **opts)
    assert range_suggests_transmittance(cube.data) is None
    assert range_suggests_transmittance(cube.data[0, 0]) is None


@pytest.mark.parametrize(
    "rel", ["perkinelmer/4x4_pixel_PE_image.fsm", "perkinelmer/single_PE_spectrum.sp"]
)
def test_range_rule_fires_on_percent_samples(formats: Path, rel: str) -> None:
    raw = load_cube(formats / rel, units="absorbance").data
    assert range_suggests_transmittance(raw) == "percent"
    assert range_suggests_transmittance(raw / 100.0) == "fraction"


def test_range_rule_on_synthetic_data() -> None:
    a, _wn = _absorbance_scene()
    assert range_suggests_transmittance(a) is None
    t = 10.0**-a
    assert range_suggests_transmittance(100.0 * t) == "percent"
    assert range_suggests_transmittance(t) == "fraction"
    # uniform noise, too few values, constant values: never judged transmittance
    rng = np.random.default_rng(1)
    assert range_suggests_transmittance(100 * rng.random((5, 5, 40))) is None
    assert range_suggests_transmittance(rng.random((5, 5, 40))) is None
    assert range_suggests_transmittance(np.array([95.0, 99.0, 100.0])) is None
    assert range_suggests_transmittance(np.full(500, 100.0)) is None
    # percent values far above 105 (single-beam counts) are not percent
    assert range_suggests_transmittance(400.0 * t) is None


def test_range_rule_on_project_synthetic_cross_section(small_section) -> None:
    assert range_suggests_transmittance(small_section.cube.data) is None
    assert range_suggests_transmittance(100 * 10.0 ** -np.asarray(small_section.clean)) == "percent"


# ---------------------------------------------------------------- synthetic files: detection


def test_npz_percent_values_detected_by_range(tmp_path: Path) -> None:
    a, wn = _absorbance_scene()
    f = write_npz(tmp_path / "t.npz", (100.0 * 10.0**-a).astype(np.float32), wn)
    cube = load_cube(f)
    np.testing.assert_allclose(cube.data, a, atol=2e-5)
    info = cube.info()
    assert info["units"] == "absorbance"
    assert info["units_source"].startswith("value range")
    assert cube.metadata["units_in_file"] == "not stated"
    note = next(r for r in info["repairs"] if "converted" in r)
    assert "judged by their range" in note and "-log10(T/100)" in note


def test_npz_fraction_values_detected_by_range(tmp_path: Path) -> None:
    a, wn = _absorbance_scene()
    f = write_npz(tmp_path / "t.npz", (10.0**-a).astype(np.float32), wn)
    cube = load_cube(f)
    np.testing.assert_allclose(cube.data, a, atol=2e-5)
    assert any("A = -log10(T);" in r for r in cube.metadata["repairs"])


def test_npz_absorbance_values_untouched(tmp_path: Path) -> None:
    a, wn = _absorbance_scene()
    f = write_npz(tmp_path / "a.npz", a.astype(np.float32), wn)
    cube = load_cube(f)
    np.testing.assert_array_equal(cube.data, a.astype(np.float32))
    assert cube.info()["units"] == "unknown (taken as absorbance)"
    assert cube.info()["units_source"] == "not stated in the file"
    assert not any("converted" in r for r in cube.metadata["repairs"])


def test_npz_units_member_and_round_trip(tmp_path: Path) -> None:
    a, wn = _absorbance_scene()
    t = (100.0 * 10.0**-a).astype(np.float32)
    f = write_npz(tmp_path / "t.npz", t, wn, units="percent-transmittance")
    cube = load_cube(f)
    assert "the archive's 'units' member" in cube.info()["units_source"]
    assert cube.metadata["units_in_file"] == "percent-transmittance"
    np.testing.assert_allclose(cube.data, a, atol=2e-5)
    # saving the converted cube records absorbance; reading it back converts nothing
    g = write_npz(tmp_path / "back.npz", cube)
    back = load_cube(g)
    assert back.metadata["units_in_file"] == "absorbance"
    np.testing.assert_array_equal(back.data, cube.data)
    with pytest.raises(ValueError, match="units="):
        write_npz(tmp_path / "x.npz", t, wn, units="counts")


def test_npz_units_member_as_label(tmp_path: Path) -> None:
    a, wn = _absorbance_scene(b=60)
    f = tmp_path / "r.npz"
    np.savez(f, cube=(100 * 10.0**-a).astype(np.float32), wavenumbers=wn, units=np.array("%R"))
    cube = load_cube(f)
    note = next(r for r in cube.metadata["repairs"] if "converted" in r)
    assert "percent reflectance" in note and "pseudo-absorbance" in note and "log10(1/R/100)" in note


@pytest.mark.parametrize(
    ("label", "values", "words"),
    [
        ("{Wavenumber (cm-1), %T}", "percent", "percent transmittance"),
        ("{Wavenumber (cm-1), Transmittance}", "fraction", "transmittance (fraction, 0-1)"),
        ("{Wavenumber (cm-1), Transmittance}", "percent", "percent transmittance"),
        ("{Wavenumber (cm-1), Reflectance (%)}", "percent", "percent reflectance"),
    ],
)
def test_envi_units_key_converts(tmp_path: Path, label: str, values: str, words: str) -> None:
    a, wn = _absorbance_scene()
    t = 10.0**-a
    data = (100 * t if values == "percent" else t).astype(np.float32)
    hdr, _ = write_envi(tmp_path / "c.hdr", data, wn)
    hdr.write_text(hdr.read_text() + f"z plot titles = {label}\n")
    cube = load_cube(hdr)
    assert "the ENVI header (z plot titles" in cube.info()["units_source"]
    note = next(r for r in cube.metadata["repairs"] if "converted" in r)
    assert words in note
    np.testing.assert_allclose(cube.data, a, atol=2e-5)


@pytest.mark.parametrize("key", ["data units", "y units"])
def test_envi_other_units_keys(tmp_path: Path, key: str) -> None:
    a, wn = _absorbance_scene(b=50)
    hdr, _ = write_envi(tmp_path / "c.hdr", a.astype(np.float32), wn)
    hdr.write_text(hdr.read_text() + f"{key} = Absorbance\n")
    cube = load_cube(hdr)
    assert cube.info()["units"] == "absorbance"
    assert key in cube.info()["units_source"]


def test_envi_kubelka_munk_is_kept_with_a_note(tmp_path: Path) -> None:
    a, wn = _absorbance_scene(b=50)
    hdr, _ = write_envi(tmp_path / "c.hdr", a.astype(np.float32), wn)
    hdr.write_text(hdr.read_text() + "y units = Kubelka-Munk\n")
    cube = load_cube(hdr)
    assert cube.info()["units"] == "kubelka-munk (taken as absorbance)"
    np.testing.assert_array_equal(cube.data, a.astype(np.float32))
    assert any("Kubelka-Munk" in r and "give units=" in r for r in cube.metadata["repairs"])


def test_envi_unknown_label_falls_back_to_range(tmp_path: Path) -> None:
    a, wn = _absorbance_scene()
    hdr, _ = write_envi(tmp_path / "c.hdr", (100 * 10.0**-a).astype(np.float32), wn)
    hdr.write_text(hdr.read_text() + "z plot titles = {Wavenumber, Intensity}\n")
    cube = load_cube(hdr)
    assert cube.metadata["units_in_file"] == "unknown"
    assert any("no usable y units" in r for r in cube.metadata["repairs"])
    np.testing.assert_allclose(cube.data, a, atol=2e-5)


def test_envi_mmap_converted_in_memory(tmp_path: Path) -> None:
    a, wn = _absorbance_scene()
    hdr, _ = write_envi(tmp_path / "c.hdr", (100 * 10.0**-a).astype(np.float32), wn, interleave="bip")
    cube = read_envi(hdr, mmap=True)
    assert not isinstance(cube.data, np.memmap) and cube.metadata["mmap"] is False
    assert any("held in memory" in r for r in cube.metadata["repairs"])
    plain = read_envi(hdr, mmap=True, units="absorbance")
    assert plain.metadata["mmap"] is True


def test_save_cube_records_absorbance(tmp_path: Path) -> None:
    a, wn = _absorbance_scene(b=60)
    f = write_npz(tmp_path / "t.npz", (100 * 10.0**-a).astype(np.float32), wn)
    cube = load_cube(f)
    hdr = save_cube(tmp_path / "out.hdr", cube)
    assert "z plot titles = {Wavenumber (cm-1), absorbance}" in hdr.read_text()
    assert load_cube(hdr).metadata["units_in_file"] == "absorbance"
    tif = write_cube_tiff(tmp_path / "out.tif", cube)
    back = load_cube(tif)
    assert back.metadata["units_in_file"] == "absorbance"
    np.testing.assert_allclose(back.data, cube.data)


def test_tiff_json_units(tmp_path: Path) -> None:
    tifffile = pytest.importorskip("tifffile")
    a, wn = _absorbance_scene(b=40)
    f = tmp_path / "t.tif"
    desc = {"wavenumbers": wn.tolist(), "units": "percent-transmittance"}
    tifffile.imwrite(f, np.moveaxis(100 * 10.0**-a, -1, 0).astype(np.float32), metadata=desc)
    cube = load_cube(f)
    assert "JSON description" in cube.info()["units_source"]
    np.testing.assert_allclose(cube.data, a, atol=2e-5)


@pytest.mark.parametrize(
    ("header", "expected"),
    [("wavenumber,%T", "percent-transmittance"), ("wavenumber,absorbance", "absorbance")],
)
def test_text_header_units(tmp_path: Path, header: str, expected: str) -> None:
    a, wn = _absorbance_scene(1, 1, 120)
    y = 100 * 10.0 ** -a[0, 0] if expected != "absorbance" else a[0, 0]
    f = tmp_path / "s.csv"
    np.savetxt(f, np.c_[wn, y], delimiter=",", header=header, comments="")
    cube = load_cube(f)
    assert cube.metadata["units_in_file"] == expected
    assert "column names" in cube.info()["units_source"]
    np.testing.assert_allclose(cube.data[0, 0], a[0, 0], atol=2e-5)


# ---------------------------------------------------------------- overrides and refusals


@pytest.mark.parametrize("units", Y_UNITS)
def test_every_override(tmp_path: Path, units: str) -> None:
    a, wn = _absorbance_scene()
    t = 10.0**-a
    scale = 100.0 if units.startswith("percent") else 1.0
    stored = (scale * t if units not in ("auto", "absorbance") else 100 * t).astype(np.float32)
    f = write_npz(tmp_path / "c.npz", stored, wn)
    cube = load_cube(f, units=units)
    assert cube.info()["units"] == "absorbance"
    if units == "absorbance":
        np.testing.assert_array_equal(cube.data, stored)
        assert any("look like percent transmittance" in r and "as asked" in r
                   for r in cube.metadata["repairs"])
        return
    np.testing.assert_allclose(cube.data, a, atol=2e-5)
    if units != "auto":
        assert cube.info()["units_source"] == f"option units={units!r}"
        note = next(r for r in cube.metadata["repairs"] if "converted" in r)
        assert f"as given by units={units!r}" in note
        if "reflectance" in units:
            assert "pseudo-absorbance" in note


@pytest.mark.parametrize("bad", ["Absorbance", "%T", "counts", "", None, 3])
def test_bad_units_value_is_refused(tmp_path: Path, bad: object) -> None:
    a, wn = _absorbance_scene(1, 2, 10)
    f = write_npz(tmp_path / "c.npz", a, wn)
    with pytest.raises(ValueError, match=r"units=.*allowed values: auto, absorbance, transmittance, "
                       r"percent-transmittance, reflectance, percent-reflectance") as exc:
        load_cube(f, units=bad)  # type: ignore[arg-type]
    assert not isinstance(exc.value, CubeReadError)
    with pytest.raises(ValueError, match="units="):
        read_npz(f, units=bad)  # type: ignore[arg-type]


def test_clip_count_and_floor(tmp_path: Path) -> None:
    a, wn = _absorbance_scene()
    t = (100 * 10.0**-a).astype(np.float32)
    t[0, 0, :3] = [0.0, -1.5, 0.00005]
    t[1, 2, 10] = -0.2
    f = write_npz(tmp_path / "c.npz", t, wn)
    cube = load_cube(f, units="percent-transmittance")
    note = next(r for r in cube.metadata["repairs"] if "converted" in r)
    assert "4 values at or below 0.0001 (zero and negative included) clipped to 0.0001" in note
    assert np.isfinite(cube.data).all()
    np.testing.assert_allclose(cube.data[0, 0, :3], 6.0, atol=1e-5)
    # nothing to clip: said so
    g = write_npz(tmp_path / "g.npz", (100 * 10.0**-a).astype(np.float32), wn)
    assert any("no values needed clipping" in r for r in load_cube(g).metadata["repairs"])


def test_to_absorbance_in_place_and_copy() -> None:
    t = np.array([[[100.0, 10.0, 1.0, 0.0]]], dtype=np.float32)
    a, n, floor = to_absorbance(t, "percent-transmittance")
    assert n == 1 and floor == 1e-4 and t[0, 0, 1] == 10.0  # copy by default
    np.testing.assert_allclose(a[0, 0], [0.0, 1.0, 2.0, 6.0], atol=1e-6)
    b, _, _ = to_absorbance(t, "percent-transmittance", in_place=True)
    assert b is t
    r, _, floor = to_absorbance(np.array([1.0, 0.1, -3.0]), "reflectance")
    assert floor == 1e-6
    np.testing.assert_allclose(r, [0.0, 1.0, 6.0], atol=1e-6)


def test_assumed_absorbance_yields_to_a_clear_percent_range() -> None:
    a, _wn = _absorbance_scene()
    decl = DeclaredUnits("absorbance", "the format (test)", assumed=True)
    meta: dict = {}
    repairs: list[str] = []
    out = apply_units((100 * 10.0**-a).astype(np.float32), meta, repairs, decl)
    np.testing.assert_allclose(out, a, atol=2e-5)
    assert "against the format's convention of absorbance" in repairs[-1]
    meta2: dict = {}
    apply_units(a.astype(np.float32), meta2, [], decl)
    assert meta2["units"] == "absorbance" and meta2["units_source"] == "the format (test)"


def test_stated_absorbance_wins_over_range_with_a_note() -> None:
    a, _wn = _absorbance_scene()
    decl = DeclaredUnits("absorbance", "the file header (test)")
    repairs: list[str] = []
    data = (100 * 10.0**-a).astype(np.float32)
    out = apply_units(data, {}, repairs, decl)
    assert out is data
    assert "look like percent transmittance" in repairs[-1]


def test_cube_info_has_units() -> None:
    cube = make_cube(np.ones((2, 2, 3)), [1.0, 2.0, 3.0])
    info = cube.info()
    assert info["units"] == "unknown (taken as absorbance)"
    assert cube.units == info["units"]
    json.dumps(info)


@pytest.mark.parametrize(
    ("label", "kind"),
    [
        ("%T", "percent-transmittance"),
        ("% Transmittance", "percent-transmittance"),
        ("Transmittance [%]", "percent-transmittance"),
        ("%R", "percent-reflectance"),
        ("Absorbance", "absorbance"),
        ("A", "absorbance"),
        ("log(1/R)", "log(1/R)"),
        ("Kubelka-Munk", "kubelka-munk"),
        ("Single Beam", "single-beam"),
    ],
)
def test_parse_units_label(label: str, kind: str) -> None:
    found = parse_units_label(label)
    assert found is not None and found[0] == kind


@pytest.mark.parametrize("label", ["Intensity", "wn", "", "Absorbance and %T", "counts"])
def test_parse_units_label_refuses(label: str) -> None:
    assert parse_units_label(label) is None
