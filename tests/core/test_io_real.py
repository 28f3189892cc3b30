"""Readers against the real instrument files of the shared data (``formats``, read in place)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from real_files import IMAGING, REAL_FILES

from ftir_unmix.errors import CubeReadError
from ftir_unmix.io import get_reader, load_cube, load_spectrum


@pytest.mark.parametrize(("rel", "fmt", "shape", "wn0", "wn1", "px"), REAL_FILES)
def test_real_file(
    formats: Path, rel: str, fmt: str, shape: tuple, wn0: float, wn1: float, px: float | None
) -> None:
    path = formats / rel
    reader = get_reader(path)
    assert reader is not None and reader.name == fmt
    cube = load_cube(path)
    assert cube.metadata["format"] == fmt
    assert cube.metadata["path"] == os.fspath(path)
    assert cube.shape == shape
    assert cube.data.dtype == np.float32
    assert np.isfinite(cube.data).all()
    assert np.all(np.diff(cube.wavenumbers) > 0)
    assert cube.wavenumbers[0] == pytest.approx(wn0, abs=1e-3)
    assert cube.wavenumbers[-1] == pytest.approx(wn1, abs=1e-3)
    if px is None:
        assert cube.pixel_size is None
    else:
        assert cube.pixel_size == pytest.approx(px, rel=1e-6)


def test_envi_openspecy_matches_spectral(formats: Path, tmp_path: Path) -> None:
    """Same numbers as the ``spectral`` package once the missing byte order is added."""
    import spectral.io.envi as envi  # a test dependency (the [test] extra)
    src = formats / "envi_openspecy"
    hdr = tmp_path / "x.hdr"
    hdr.write_text((src / "CA_small_UF.hdr").read_text() + "byte order = 0\n")
    shutil.copyfile(src / "CA_small_UF.dat", tmp_path / "x.dat")
    ref = np.asarray(envi.open(os.fspath(hdr), os.fspath(tmp_path / "x.dat")).load())
    cube = load_cube(src / "CA_small_UF.hdr")
    np.testing.assert_array_equal(cube.data, ref)
    assert any("byte order" in r for r in cube.metadata["repairs"])
    assert cube.metadata["envi_header"]["interleave"] == "bip"
    mm = load_cube(src / "CA_small_UF.hdr", mmap=True)
    np.testing.assert_array_equal(mm.data, ref)


def test_agilent_matches_library_and_envi(formats: Path) -> None:
    agilent_format = pytest.importorskip("agilent_format")
    tile = formats / "agilent_single_tile" / "4_noimage_agg256"
    ref = agilent_format.agilentImage(os.fspath(tile.with_suffix(".seq")), MAT=True)
    cube = load_cube(tile.with_suffix(".seq"))
    np.testing.assert_array_equal(cube.data, ref.data)
    np.testing.assert_allclose(cube.wavenumbers, ref.wavenumbers)
    # the instrument's own ENVI pair holds the same numbers, rows bottom-up
    as_envi = load_cube(tile.with_suffix(".hdr"), format="envi")
    np.testing.assert_array_equal(np.flipud(as_envi.data), cube.data)
    mosaic = formats / "agilent_mosaic"
    mref = agilent_format.agilentMosaic(os.fspath(mosaic / "5_mosaic_agg1024.dmt"), MAT=True)
    mcube = load_cube(mosaic / "5_mosaic_agg1024.dmt")
    np.testing.assert_array_equal(mcube.data, mref.data)
    m_envi = load_cube(mosaic / "5_mosaic_agg1024.hdr", format="envi")
    np.testing.assert_array_equal(np.flipud(m_envi.data), mcube.data)


def test_agilent_mosaic_missing_tile(formats: Path, tmp_path: Path) -> None:
    for f in (formats / "agilent_mosaic").iterdir():
        shutil.copyfile(f, tmp_path / f.name)
    (tmp_path / "5_Mosaic_agg1024_0000_0001.dmd").unlink()
    # agilent-format counts tiles by name: a missing last row just shrinks the mosaic
    cube = load_cube(tmp_path / "5_mosaic_agg1024.dmt")
    assert cube.shape == (4, 4, 9)
    (tmp_path / "5_Mosaic_agg1024_0000_0000.dmd").unlink()
    with pytest.raises(CubeReadError, match=r"5_mosaic_agg1024\.dmt"):
        load_cube(tmp_path / "5_mosaic_agg1024.dmt")


def test_opus_matches_brukeropus(formats: Path) -> None:
    brukeropus = pytest.importorskip("brukeropus")
    path = formats / "opus" / "brukeropus_example_file.0"
    ref = brukeropus.read_opus(os.fspath(path)).a
    wn, y = load_spectrum(path)
    np.testing.assert_allclose(wn, ref.x[::-1])
    np.testing.assert_allclose(y, ref.y[::-1].astype(np.float32))
    cube = load_cube(path, block="sm")
    assert cube.metadata["opus_block"] == "sm"
    with pytest.raises(CubeReadError, match="block 'zz'"):
        load_cube(path, block="zz")


def test_omnic_values(formats: Path) -> None:
    cube = load_cube(formats / "omnic" / "small_Omnic.map")
    # spectra 1 and 2 of the file start (at 1805 cm-1, the last band once ascending)
    # with 3.98295 and 4.01309 - the values orange-spectroscopy's tests quote
    assert cube.data[0, 0, -1] == pytest.approx(3.98295, abs=1e-5)
    assert cube.data[0, 1, -1] == pytest.approx(4.01309, abs=1e-5)
    assert cube.metadata["n_spectra"] == 4
    wide = load_cube(formats / "omnic" / "small_Omnic.map", width=4)
    assert wide.shape == (1, 4, 14)
    _wn, y = load_spectrum(formats / "omnic" / "sample1.spa")
    # absorbance spectrum: saturated detector cut-off at the low-wavenumber end
    assert y[0] == 6.0 and y[-1] < 0.1


def test_perkinelmer_image_and_spectrum(formats: Path) -> None:
    cube = load_cube(formats / "perkinelmer" / "4x4_pixel_PE_image.fsm")
    assert cube.metadata["fsm_header"]["n_x"] == 4
    np.testing.assert_allclose(np.diff(cube.wavenumbers), 2.0)
    wn, y = load_spectrum(formats / "perkinelmer" / "single_PE_spectrum.sp")
    assert wn.shape == y.shape == (1626,)
    np.testing.assert_allclose(wn, cube.wavenumbers)


def test_matlab_examples(formats: Path) -> None:
    simple = formats / "matlab" / "simple.mat"
    with pytest.raises(CubeReadError, match="wavenumbers="):
        load_cube(simple)
    cube = load_cube(simple, wavenumbers=[1000.0, 1100.0, 1200.0], height=2)
    assert cube.shape == (2, 1, 3)
    np.testing.assert_array_equal(cube.data[:, 0], [[5, 6, 7], [4, 5, 6]])
    wnf = formats / "matlab" / "wavenumbers.mat"
    with pytest.raises(CubeReadError, match="width="):
        load_cube(wnf)
    cube = load_cube(wnf, width=2)
    assert cube.shape == (1, 2, 3)
    np.testing.assert_array_equal(cube.wavenumbers, [0.0, 0.5, 1.0])
    assert cube.metadata["mat_variables"] == {"data": "A", "wavenumbers": "W"}


def test_samson_matlab_column_major(formats: Path) -> None:
    scipy_io = pytest.importorskip("scipy.io")
    path = formats.parent / "unmixing" / "Samson.mat"
    if not path.is_file():
        pytest.fail(f"shared data file missing: {path}")
    with pytest.raises(CubeReadError, match="several candidate data arrays"):
        load_cube(path)
    cube = load_cube(path, data="Y", wavenumbers=np.arange(156.0))
    y = scipy_io.loadmat(path)["Y"]
    ref = y.reshape(156, 95, 95, order="F").transpose(1, 2, 0)
    np.testing.assert_allclose(cube.data, ref.astype(np.float32))


@pytest.mark.parametrize(
    "rel",
    [
        "opus/brukeropus_example_file.0",
        "omnic/sample1.spa",
        "perkinelmer/single_PE_spectrum.sp",
    ],
)
def test_load_spectrum_real(formats: Path, rel: str) -> None:
    wn, y = load_spectrum(formats / rel)
    assert wn.dtype == np.float64 and np.all(np.diff(wn) > 0)
    assert np.isfinite(y).all()


@pytest.mark.parametrize(
    "rel",
    [
        "omnic/small_Omnic.map",
        "perkinelmer/4x4_pixel_PE_image.fsm",
        "envi_openspecy/CA_small_UF.hdr",
    ],
)
def test_load_spectrum_refuses_maps(formats: Path, rel: str) -> None:
    with pytest.raises(CubeReadError, match="not a single spectrum"):
        load_spectrum(formats / rel)


@pytest.mark.parametrize(("rel", "fmt", "shape", "wn0", "wn1", "px"), IMAGING)
def test_real_imaging_file_through_cli_info_json(
    formats: Path, capsys, rel: str, fmt: str, shape: tuple, wn0: float, wn1: float, px
) -> None:
    import json

    from ftir_unmix.cli import main

    assert main(["info", str(formats / rel), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert (info["height"], info["width"], info["bands"], info["format"]) == (*shape, fmt)
    assert info["wavenumber_min"] == pytest.approx(wn0, abs=1e-3)
    assert info["wavenumber_max"] == pytest.approx(wn1, abs=1e-3)
