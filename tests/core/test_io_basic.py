"""npz / npy / ENVI readers and writers, the registry, and bad input on synthetic files."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from ftir_unmix.errors import CubeReadError
from ftir_unmix.io import (
    get_reader,
    load_cube,
    load_spectrum,
    parse_envi_header,
    read_envi_array,
    save_cube,
    supported_extensions,
    write_abundances_envi,
    write_envi,
    write_npz,
)


def _cube(h: int = 3, w: int = 4, b: int = 6, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.random((h, w, b), dtype=np.float32), np.linspace(700.0, 4000.0, b)


def _assert_names_file(exc: pytest.ExceptionInfo[CubeReadError], path: os.PathLike | str) -> None:
    msg = str(exc.value)
    assert "\n" not in msg
    assert os.fspath(path) in msg or Path(path).name in msg, msg


# ---------------------------------------------------------------- npz / npy


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int16])
@pytest.mark.parametrize("shape", [(1, 1, 2), (3, 4, 6), (5, 2, 30)])
def test_npz_round_trip(tmp_path: Path, dtype: type, shape: tuple[int, int, int]) -> None:
    data, wn = _cube(*shape)
    data = (data * 100).astype(dtype)
    out = write_npz(tmp_path / "c.npz", data, wn, pixel_size=6.25, metadata={"a": 1})
    cube = load_cube(out)
    assert cube.shape == shape
    assert cube.data.dtype == np.float32
    np.testing.assert_array_equal(cube.data, data.astype(np.float32))
    np.testing.assert_array_equal(cube.wavenumbers, wn)
    assert cube.pixel_size == 6.25
    assert cube.metadata["format"] == "npz"
    assert cube.metadata["path"] == os.fspath(out)
    assert cube.metadata["source_metadata"] == {"a": 1}


def test_npz_plain_savez_descending(tmp_path: Path) -> None:
    data, wn = _cube()
    f = tmp_path / "plain.npz"
    np.savez(f, cube=data, wavenumbers=wn[::-1])
    cube = load_cube(f)
    np.testing.assert_array_equal(cube.data, data[:, :, ::-1])
    assert cube.metadata["repairs"]


def test_npz_missing_members(tmp_path: Path) -> None:
    data, wn = _cube()
    f = tmp_path / "nocube.npz"
    np.savez(f, spectra=data, wavenumbers=wn)
    with pytest.raises(CubeReadError, match=r"no array named 'cube'.*spectra") as exc:
        load_cube(f)
    _assert_names_file(exc, f)
    g = tmp_path / "nown.npz"
    np.savez(g, cube=data)
    with pytest.raises(CubeReadError, match="wavenumbers"):
        load_cube(g)
    assert load_cube(g, wavenumbers=wn).shape == data.shape
    h = tmp_path / "2d.npz"
    np.savez(h, cube=data[0], wavenumbers=wn)
    with pytest.raises(CubeReadError, match="3-D"):
        load_cube(h)


def test_npz_object_array_refused(tmp_path: Path) -> None:
    f = tmp_path / "obj.npz"
    np.savez(f, cube=np.array([{"a": 1}], dtype=object), wavenumbers=np.arange(3.0))
    with pytest.raises(CubeReadError):
        load_cube(f)


def test_npy_needs_wavenumbers(tmp_path: Path) -> None:
    data, wn = _cube()
    f = tmp_path / "c.npy"
    np.save(f, data)
    with pytest.raises(CubeReadError, match="wavenumbers="):
        load_cube(f)
    for mmap in (False, True):
        cube = load_cube(f, wavenumbers=wn, mmap=mmap)
        np.testing.assert_array_equal(cube.data, data)
    with pytest.raises(CubeReadError, match="wavenumbers"):
        load_cube(f, wavenumbers=wn[:3])


# ---------------------------------------------------------------- ENVI


@pytest.mark.parametrize("interleave", ["bsq", "bil", "bip"])
def test_envi_round_trip(tmp_path: Path, interleave: str) -> None:
    data, wn = _cube(4, 5, 7)
    hdr, dat = write_envi(
        tmp_path / "c.hdr",
        data,
        wn,
        interleave=interleave,
        pixel_size=12.5,
        metadata={"sample": "xs-1", "k": 3},
    )
    assert dat.stat().st_size == data.nbytes
    for p in (hdr, dat):
        cube = load_cube(p)
        assert cube.metadata["format"] == "envi"
        np.testing.assert_array_equal(cube.data, data)
        np.testing.assert_allclose(cube.wavenumbers, wn, rtol=1e-9)
        assert cube.pixel_size == pytest.approx(12.5)
        assert cube.metadata["repairs"] == []
        assert cube.metadata["envi_header"]["ftir_unmix sample"] == "xs-1"


def test_envi_read_by_spectral(tmp_path: Path) -> None:
    """Files we write are read identically by the ``spectral`` package."""
    import spectral.io.envi as envi  # a test dependency (the [test] extra)
    data, wn = _cube(3, 5, 4)
    hdr, dat = write_envi(tmp_path / "c.hdr", data, wn, interleave="bil")
    img = envi.open(os.fspath(hdr), os.fspath(dat))
    np.testing.assert_array_equal(np.asarray(img.load()), data)
    np.testing.assert_allclose(np.asarray(img.bands.centers), wn)


def test_envi_mmap_keeps_map(tmp_path: Path) -> None:
    data, wn = _cube(3, 4, 5)
    hdr, _ = write_envi(tmp_path / "c.hdr", data, wn, interleave="bip")
    cube = load_cube(hdr, mmap=True)
    assert isinstance(cube.data.base, np.memmap) or isinstance(cube.data, np.memmap)
    np.testing.assert_array_equal(cube.data, data)


@pytest.mark.parametrize("data_name", ["c", "c.raw", "c.bsq", "c.img"])
def test_envi_data_file_names(tmp_path: Path, data_name: str) -> None:
    data, wn = _cube(2, 3, 4)
    hdr, dat = write_envi(tmp_path / "c.hdr", data, wn)
    dat.rename(tmp_path / data_name)
    for p in (hdr, tmp_path / data_name):
        cube = load_cube(p)
        assert cube.metadata["format"] == "envi"
        np.testing.assert_array_equal(cube.data, data)


def test_envi_big_endian_and_int(tmp_path: Path) -> None:
    data = np.arange(2 * 3 * 4, dtype=">i2").reshape(4, 2, 3)  # bsq (B, H, W)
    (tmp_path / "x.img").write_bytes(data.tobytes())
    (tmp_path / "x.hdr").write_text(
        "ENVI\nsamples = 3\nlines = 2\nbands = 4\nheader offset = 0\ndata type = 2\n"
        "interleave = bsq\nbyte order = 1\nwavelength units = nm\n"
        "wavelength = {2500, 5000, 10000, 14000}\n"
    )
    cube = load_cube(tmp_path / "x.hdr")
    np.testing.assert_array_equal(cube.data, data.transpose(1, 2, 0)[:, :, ::-1].astype(np.float32))
    np.testing.assert_allclose(cube.wavenumbers, 1e7 / np.array([14000, 10000, 5000, 2500]))
    assert any("converted" in r for r in cube.metadata["repairs"])


def test_envi_abundance_writer(tmp_path: Path) -> None:
    ab = np.random.default_rng(1).random((3, 4, 5), dtype=np.float32)
    hdr, _ = write_abundances_envi(tmp_path / "ab", ab, ["lead white", "oil, aged", "{resin}"])
    arr, header, _ = read_envi_array(hdr)
    np.testing.assert_array_equal(arr.transpose(2, 0, 1), ab)
    assert header["band names"] == ["lead white", "oil  aged", "resin"]
    with pytest.raises(CubeReadError, match="wavelength"):
        load_cube(hdr)  # band names only: not a spectral cube


def _write_pair(tmp_path: Path, header: str, payload: bytes, name: str = "e") -> Path:
    (tmp_path / f"{name}.dat").write_bytes(payload)
    hdr = tmp_path / f"{name}.hdr"
    hdr.write_text(header)
    return hdr


_GOOD_HDR = (
    "ENVI\nsamples = 2\nlines = 2\nbands = 3\nheader offset = 0\ndata type = 4\n"
    "interleave = bip\nbyte order = 0\nwavelength = {1000, 2000, 3000}\n"
)


@pytest.mark.parametrize(
    ("header", "nbytes", "match"),
    [
        (_GOOD_HDR, 47, "truncated"),
        (_GOOD_HDR, 52, "does not match"),
        (_GOOD_HDR.replace("bands = 3", "bands = 0"), 48, "empty"),
        (_GOOD_HDR.replace("{1000, 2000, 3000}", "{1000, 3000, 2000}"), 48, "monotonic"),
        (_GOOD_HDR.replace("{1000, 2000, 3000}", "{1000, 2000, 2000}"), 48, "duplicated"),
        (_GOOD_HDR.replace("{1000, 2000, 3000}", "{1000, 2000}"), 48, "2 wavelengths"),
        (_GOOD_HDR.replace("{1000, 2000, 3000}", "{1000, x, 3000}"), 48, "non-numeric"),
        (_GOOD_HDR.replace("data type = 4", "data type = 6"), 48, "data type"),
        (_GOOD_HDR.replace("interleave = bip", "interleave = xyz"), 48, "interleave"),
        (_GOOD_HDR.replace("samples = 2\n", ""), 48, "samples"),
        (_GOOD_HDR.replace("samples = 2", "samples = two"), 48, "not an integer"),
        (_GOOD_HDR.replace("ENVI\n", "IVNE\n"), 48, "not an ENVI header"),
        (_GOOD_HDR.replace("{1000, 2000, 3000}", "{1000, 2000,"), 48, "unclosed"),
        (_GOOD_HDR.replace("wavelength = {1000, 2000, 3000}\n", ""), 48, "wavelength"),
        (_GOOD_HDR + "wavelength units = parsecs\n", 48, "units"),
        (_GOOD_HDR.replace("byte order = 0", "byte order = 7"), 48, "byte order"),
    ],
)
def test_envi_bad_headers(tmp_path: Path, header: str, nbytes: int, match: str) -> None:
    hdr = _write_pair(
        tmp_path, header, np.ones(nbytes // 4, "<f4").tobytes()[:nbytes].ljust(nbytes, b"\0")
    )
    with pytest.raises(CubeReadError, match=match) as exc:
        load_cube(hdr)
    _assert_names_file(exc, tmp_path)


def test_envi_nan_refused_or_zeroed(tmp_path: Path) -> None:
    vals = np.ones(12, "<f4")
    vals[5] = np.nan
    hdr = _write_pair(tmp_path, _GOOD_HDR, vals.tobytes())
    with pytest.raises(CubeReadError, match="NaN"):
        load_cube(hdr)
    cube = load_cube(hdr, nonfinite="zero")
    assert np.isfinite(cube.data).all()
    assert any("non-finite" in r for r in cube.metadata["repairs"])


def test_envi_missing_byte_order_and_data(tmp_path: Path) -> None:
    hdr = _write_pair(
        tmp_path, _GOOD_HDR.replace("byte order = 0\n", ""), np.ones(12, "<f4").tobytes()
    )
    cube = load_cube(hdr)
    assert any("byte order" in r for r in cube.metadata["repairs"])
    (tmp_path / "e.dat").unlink()
    with pytest.raises(CubeReadError, match="no ENVI data file"):
        load_cube(hdr)
    lone = tmp_path / "lone.img"
    lone.write_bytes(b"\0" * 48)
    with pytest.raises(CubeReadError, match="no ENVI header"):
        load_cube(lone)


def test_parse_envi_header_multiline(tmp_path: Path) -> None:
    f = tmp_path / "m.hdr"
    f.write_text(
        "ENVI\ndescription = {\n  multi\n  line }\nwavelength = {\n 1,\n 2,\n 3}\nsamples=4\n"
    )
    h = parse_envi_header(f)
    assert h["description"] == "multi\n  line"
    assert h["wavelength"] == ["1", "2", "3"]
    assert h["samples"] == "4"


# ---------------------------------------------------------------- registry / generic failures


def test_missing_file(tmp_path: Path) -> None:
    f = tmp_path / "nope.npz"
    with pytest.raises(CubeReadError, match="file not found") as exc:
        load_cube(f)
    _assert_names_file(exc, f)


def test_directory(tmp_path: Path) -> None:
    with pytest.raises(CubeReadError, match="directory"):
        load_cube(tmp_path)


@pytest.mark.parametrize(
    "name",
    [
        "x.npz",
        "x.npy",
        "x.hdr",
        "x.dat",
        "x.img",
        "x.0",
        "x.spa",
        "x.map",
        "x.fsm",
        "x.sp",
        "x.mat",
        "x.tif",
        "x.csv",
        "x.dpt",
        "x.txt",
        "x.seq",
        "x.dmt",
        "x.unknown",
        "noext",
    ],
)
def test_empty_and_random_files(tmp_path: Path, name: str) -> None:
    f = tmp_path / name
    f.write_bytes(b"")
    with pytest.raises(CubeReadError, match="empty") as exc:
        load_cube(f)
    _assert_names_file(exc, f)
    f.write_bytes(np.random.default_rng(7).bytes(3000))
    with pytest.raises(CubeReadError) as exc:
        load_cube(f)
    _assert_names_file(exc, f)


def test_wrong_extension_content(tmp_path: Path) -> None:
    data, wn = _cube()
    good = write_npz(tmp_path / "c.npz", data, wn)
    for name in ("c.spa", "c.weird", "noext"):
        renamed = tmp_path / name
        renamed.write_bytes(good.read_bytes())
        with pytest.raises(CubeReadError, match="format='npz'") as exc:
            load_cube(renamed)
        _assert_names_file(exc, renamed)
        assert load_cube(renamed, format="npz").shape == data.shape
    text = tmp_path / "notes.xyz"
    text.write_text("hello")
    with pytest.raises(CubeReadError, match="unsupported file type"):
        load_cube(text)


def test_unknown_option_and_format(tmp_path: Path) -> None:
    data, wn = _cube()
    f = write_npz(tmp_path / "c.npz", data, wn)
    with pytest.raises(CubeReadError, match="width"):
        load_cube(f, width=3)
    assert load_cube(f, width=None).shape == data.shape
    with pytest.raises(CubeReadError, match="unknown format"):
        load_cube(f, format="nope")


def test_get_reader_and_extensions(tmp_path: Path) -> None:
    exts = supported_extensions()
    for e in (".npz", ".hdr", ".0", ".spa", ".map", ".fsm", ".sp", ".mat", ".tif", ".csv", ".dpt"):
        assert e in exts
    assert get_reader(tmp_path / "none.npz") is None
    f = write_npz(tmp_path / "c.npz", *_cube())
    r = get_reader(f)
    assert r is not None and r.name == "npz"


def test_save_cube_dispatch(tmp_path: Path) -> None:
    cube = load_cube(write_npz(tmp_path / "a.npz", *_cube()))
    for name in ("b.npz", "b.hdr", "b.tif"):
        back = load_cube(save_cube(tmp_path / name, cube))
        np.testing.assert_array_equal(back.data, cube.data)
        np.testing.assert_allclose(back.wavenumbers, cube.wavenumbers)


def test_load_spectrum_refuses_images(tmp_path: Path) -> None:
    f = write_npz(tmp_path / "a.npz", *_cube())
    with pytest.raises(CubeReadError, match="not a single spectrum"):
        load_spectrum(f)
    g = write_npz(tmp_path / "s.npz", *_cube(1, 1, 5))
    wn, y = load_spectrum(g)
    assert wn.shape == y.shape == (5,)


# ---------------------------------------------------------------- text tables


def test_text_single_spectrum_variants(tmp_path: Path) -> None:
    wn = np.array([4000.0, 3000.0, 2000.0, 1000.0])
    y = np.array([0.1, 0.25, 0.5, 1.0])
    rows = list(zip(wn, y, strict=True))
    variants = {
        "comma.csv": "wavenumber,absorbance\n" + "".join(f"{a},{b}\n" for a, b in rows),
        "tab.txt": "".join(f"{a}\t{b}\n" for a, b in rows),
        "space.txt": "# exported\n" + "".join(f"  {a}   {b}\n" for a, b in rows),
        "semicolon.csv": "x;y\n" + "".join(f"{a:.1f};{b}\n".replace(".", ",") for a, b in rows),
        "s.dpt": "".join(f"{a},{b}\n" for a, b in rows),
    }
    for name, text in variants.items():
        f = tmp_path / name
        f.write_text(text)
        wn_out, y_out = load_spectrum(f)
        np.testing.assert_allclose(wn_out, wn[::-1], err_msg=name)
        np.testing.assert_allclose(y_out, y[::-1], err_msg=name)


def test_text_table_needs_width(tmp_path: Path) -> None:
    data, wn = _cube(2, 3, 5)
    table = np.c_[wn, data.reshape(-1, 5).T]
    f = tmp_path / "map.dpt"
    np.savetxt(f, table, delimiter="\t")
    with pytest.raises(CubeReadError, match="pass width=") as exc:
        load_cube(f)
    _assert_names_file(exc, f)
    cube = load_cube(f, width=3)
    assert cube.metadata["format"] == "opus_dpt"
    np.testing.assert_allclose(cube.data, data, rtol=1e-6)
    np.testing.assert_allclose(load_cube(f, height=2).data, data, rtol=1e-6)
    with pytest.raises(CubeReadError, match="cannot form an image of width 4"):
        load_cube(f, width=4)
    with pytest.raises(CubeReadError, match="positive"):
        load_cube(f, width=0)
    (tmp_path / "map.dpt.json").write_text('{"width": 3}')
    cube = load_cube(f)
    assert cube.shape == (2, 3, 5) and cube.metadata["size_from"].endswith("map.dpt.json")
    transposed = load_cube(f, width=3, order="F")
    np.testing.assert_allclose(
        transposed.data, data.reshape(-1, 5).reshape(3, 2, 5).transpose(1, 0, 2), rtol=1e-6
    )


def test_text_bad_tables(tmp_path: Path) -> None:
    cases = {
        "one_col.csv": "1\n2\n3\n",
        "one_row.csv": "1000,0.5\n",
        "ragged.csv": "1000,0.5\n1100,0.6,0.7\n",
        "words.csv": "a,b\nc,d\n",
        "dup.csv": "1000,0.5\n1000,0.6\n1100,0.7\n",
        "nonmono.csv": "1000,0.5\n1200,0.6\n1100,0.7\n",
        "nan.csv": "1000,0.5\n1100,nan\n1200,0.7\n",
    }
    for name, text in cases.items():
        f = tmp_path / name
        f.write_text(text)
        with pytest.raises(CubeReadError) as exc:
            load_cube(f)
        _assert_names_file(exc, f)


# ---------------------------------------------------------------- MATLAB


def test_mat_v5_cube_and_ambiguity(tmp_path: Path) -> None:
    from scipy.io import savemat

    data, wn = _cube(3, 4, 6)
    f = tmp_path / "cube.mat"
    savemat(f, {"cube": data.astype(np.float64), "wavenumbers": wn, "note": "text"})
    cube = load_cube(f)
    np.testing.assert_array_equal(cube.data, data)
    assert cube.metadata["mat_variables"] == {"data": "cube", "wavenumbers": "wavenumbers"}
    g = tmp_path / "two.mat"
    savemat(g, {"a": data, "b": data, "wn": wn}, do_compression=True)
    with pytest.raises(CubeReadError, match="several candidate data arrays"):
        load_cube(g)
    assert load_cube(g, data="b").shape == data.shape
    h = tmp_path / "matrix.mat"
    savemat(h, {"spectra": data.reshape(-1, 6, order="F"), "wn": wn, "height": 3})
    cube = load_cube(h)
    np.testing.assert_array_equal(cube.data, data)
    k = tmp_path / "two_wn.mat"
    savemat(k, {"spectra": data, "x1": wn, "x2": wn + 1})
    with pytest.raises(CubeReadError, match="several wavenumber vectors"):
        load_cube(k)
    assert load_cube(k, wavenumbers="x2").wavenumbers[0] == wn[0] + 1


def test_mat_v73(tmp_path: Path) -> None:
    h5py = pytest.importorskip("h5py")
    data, wn = _cube(3, 4, 6)
    f = tmp_path / "v73.mat"
    with h5py.File(f, "w", userblock_size=512) as h:
        h["cube"] = data.T  # MATLAB writes the reversed (column-major) shape
        h["wavenumbers"] = wn[None, :].T
    with open(f, "r+b") as fh:
        fh.write(b"MATLAB 7.3 MAT-file, Platform: GLNXA64".ljust(116, b" "))
    cube = load_cube(f)
    assert cube.metadata["mat_version"] == "v7.3"
    np.testing.assert_array_equal(cube.data, data)


def test_mat_v4_refused(tmp_path: Path) -> None:
    from scipy.io import savemat

    f = tmp_path / "v4.mat"
    savemat(f, {"a": np.ones((2, 3))}, format="4")
    with pytest.raises(CubeReadError, match="v4"):
        load_cube(f)


# ---------------------------------------------------------------- TIFF


def test_abundance_tiff_round_trip(tmp_path: Path) -> None:
    from ftir_unmix.io import read_abundance_tiff, write_abundance_tiff

    ab = np.random.default_rng(2).random((3, 5, 7), dtype=np.float32)
    meta = {"k": 3, "method": "cnn", "weights": np.linspace(0, 1, 4), "nested": {"a": [1, 2]}}
    f = write_abundance_tiff(
        tmp_path / "ab.tif", ab, ["lead white", "oil", "résine"], meta, pixel_size=6.25
    )
    back, names, meta_back = read_abundance_tiff(f)
    np.testing.assert_array_equal(back, ab)
    assert names == ["lead white", "oil", "résine"]
    assert meta_back["k"] == 3 and meta_back["nested"] == {"a": [1, 2]}
    assert meta_back["weights"] == pytest.approx(list(np.linspace(0, 1, 4)))
    assert meta_back["pixel_size_um"] == 6.25
    tifffile = pytest.importorskip("tifffile")
    assert tifffile.imread(f).shape == (3, 5, 7)  # any TIFF reader sees K x H x W
    with pytest.raises(CubeReadError, match="no wavenumbers"):
        load_cube(f)


@pytest.mark.parametrize("layout", ["BHW", "HWB", "ome", "imagej"])
def test_tiff_cube_layouts(tmp_path: Path, layout: str) -> None:
    import json

    tifffile = pytest.importorskip("tifffile")
    data, wn = _cube(4, 5, 6)
    f = tmp_path / f"c_{layout}.tif"
    if layout == "BHW":
        tifffile.imwrite(f, np.moveaxis(data, -1, 0), metadata={"wavenumbers": wn.tolist()})
    elif layout == "HWB":
        tifffile.imwrite(f, data, photometric="minisblack", metadata={"wavenumbers": wn.tolist()})
    elif layout == "ome":
        tifffile.imwrite(
            f,
            np.moveaxis(data, -1, 0),
            ome=True,
            metadata={
                "axes": "CYX",
                "Channel": {"Name": [f"{w:.6f}" for w in wn]},
                "PhysicalSizeX": 5.5,
            },
        )
    else:
        tifffile.imwrite(
            f,
            np.moveaxis(data, -1, 0),
            imagej=True,
            metadata={"axes": "ZYX", "Info": json.dumps({"wavenumbers": wn.tolist()})},
        )
    cube = load_cube(f)
    np.testing.assert_array_equal(cube.data, data)
    np.testing.assert_allclose(cube.wavenumbers, wn, rtol=1e-6)
    if layout == "ome":
        assert cube.pixel_size == 5.5


def test_tiff_without_wavenumbers(tmp_path: Path) -> None:
    tifffile = pytest.importorskip("tifffile")
    data, wn = _cube(4, 5, 6)
    f = tmp_path / "plain.tif"
    tifffile.imwrite(f, np.moveaxis(data, -1, 0))
    with pytest.raises(CubeReadError, match="wavenumbers="):
        load_cube(f)
    np.testing.assert_array_equal(load_cube(f, wavenumbers=wn).data, data)
    g = tmp_path / "flat.tif"
    tifffile.imwrite(g, data[:, :, 0])
    with pytest.raises(CubeReadError, match="not a 3-D stack"):
        load_cube(g, wavenumbers=wn)
