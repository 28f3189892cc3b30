"""One-line, specific reasons for unreadable paths and files; wavenumbers given as a file."""

from __future__ import annotations

import os
import struct
import sys
from pathlib import Path

import numpy as np
import pytest

from ftir_unmix.cube import make_cube
from ftir_unmix.errors import CubeReadError
from ftir_unmix.io import load_cube, read_wavenumbers_file, write_cube_tiff, write_envi, write_npz

needs_symlinks = pytest.mark.skipif(
    sys.platform == "win32", reason="symbolic links need privileges on Windows"
)


def _one_line(exc: pytest.ExceptionInfo[CubeReadError]) -> str:
    msg = str(exc.value)
    assert "\n" not in msg and "\r" not in msg, msg
    return msg


def _cube(h: int = 3, w: int = 4, b: int = 6) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.random((h, w, b), dtype=np.float32), np.linspace(700.0, 4000.0, b)


# ---------------------------------------------------------------- paths


@pytest.mark.parametrize("name", ["bad\nname.npz", "tab\tand\rcr.npz", "bell\x07.npz"])
def test_control_characters_in_file_name_give_one_line(tmp_path: Path, name: str) -> None:
    f = tmp_path / name
    try:
        f.write_bytes(b"not an archive" * 20)
    except OSError:
        pytest.skip("the file system refuses this name")
    with pytest.raises(CubeReadError, match="not a readable NumPy .npz archive") as exc:
        load_cube(f)
    msg = _one_line(exc)
    assert os.fspath(tmp_path) in msg
    escaped = name.replace("\n", "\\n").replace("\t", "\\t").replace("\r", "\\r")
    escaped = escaped.replace("\x07", "\\x07")
    assert escaped in msg
    assert exc.value.path == os.fspath(f)  # the attribute keeps the real path


def test_missing_file_with_newline_in_name(tmp_path: Path) -> None:
    with pytest.raises(CubeReadError, match=r"file not found$") as exc:
        load_cube(tmp_path / "two\nlines.npz")
    assert "two\\nlines.npz" in _one_line(exc)


def test_cli_prints_one_line_for_newline_name(tmp_path: Path, capsys) -> None:
    from ftir_unmix.cli import main

    f = tmp_path / "bad\nname.npz"
    f.write_bytes(b"junk" * 10)
    assert main(["info", os.fspath(f)]) != 0
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "bad\\nname.npz" in err


@needs_symlinks
def test_symlink_loop(tmp_path: Path) -> None:
    a, b = tmp_path / "a.npz", tmp_path / "b.npz"
    a.symlink_to(b.name)
    b.symlink_to(a.name)
    with pytest.raises(CubeReadError, match="symbolic link loop") as exc:
        load_cube(a)
    assert "not found" not in _one_line(exc)
    me = tmp_path / "self.npz"
    me.symlink_to(me.name)
    with pytest.raises(CubeReadError, match="symbolic link loop"):
        load_cube(me)


@needs_symlinks
def test_dangling_symlink(tmp_path: Path) -> None:
    link = tmp_path / "link.npz"
    link.symlink_to("gone.npz")
    with pytest.raises(CubeReadError, match=r"broken symbolic link to 'gone\.npz'") as exc:
        load_cube(link)
    assert "link.npz" in _one_line(exc)


@needs_symlinks
def test_symlink_to_good_file_reads(tmp_path: Path) -> None:
    data, wn = _cube()
    f = write_npz(tmp_path / "real.npz", data, wn)
    link = tmp_path / "alias.npz"
    link.symlink_to(f.name)
    assert load_cube(link).shape == data.shape


def test_path_through_a_file(tmp_path: Path) -> None:
    data, wn = _cube()
    f = write_npz(tmp_path / "c.npz", data, wn)
    with pytest.raises(CubeReadError, match="not a folder"):
        load_cube(f / "inner.npz")


# ---------------------------------------------------------------- TIFF


def _tiff_with_tag_renamed(tmp_path: Path, tag: int, name: str) -> Path:
    """A valid cube TIFF whose IFD entry ``tag`` gets an unknown tag number."""
    data, wn = _cube(4, 5, 12)
    f = write_cube_tiff(tmp_path / name, make_cube(data, wn))
    raw = bytearray(f.read_bytes())
    assert raw[:4] == b"II*\x00"
    ifd = struct.unpack_from("<I", raw, 4)[0]
    n = struct.unpack_from("<H", raw, ifd)[0]
    for k in range(n):
        pos = ifd + 2 + 12 * k
        if struct.unpack_from("<H", raw, pos)[0] == tag:
            struct.pack_into("<H", raw, pos, 0xC300 | (tag & 0xFF))
            break
    else:  # pragma: no cover - writer changed
        raise AssertionError(f"tag {tag} not found")
    f.write_bytes(bytes(raw))
    return f


def test_corrupt_tiff_gives_a_reason_not_assertionerror(tmp_path: Path, capfd) -> None:
    # without BitsPerSample tifffile fails an internal assert
    f = _tiff_with_tag_renamed(tmp_path, 258, "nobits.tif")
    with pytest.raises(CubeReadError, match="corrupt or truncated TIFF structure") as exc:
        load_cube(f)
    msg = _one_line(exc)
    assert "AssertionError" not in msg
    out, err = capfd.readouterr()
    assert err == "" and out == ""


def test_tifffile_messages_do_not_reach_stderr(tmp_path: Path, capfd) -> None:
    # without StripByteCounts tifffile logs a warning and reads on
    f = _tiff_with_tag_renamed(tmp_path, 279, "nocounts.tif")
    cube = load_cube(f)
    out, err = capfd.readouterr()
    assert err == "" and out == ""
    assert any("ByteCounts" in m for m in cube.metadata["tiff_messages"])
    assert any(r.startswith("tifffile:") for r in cube.metadata["repairs"])


def test_clean_tiff_has_no_tifffile_notes(tmp_path: Path, capfd) -> None:
    data, wn = _cube(4, 5, 12)
    cube = load_cube(write_cube_tiff(tmp_path / "ok.tif", make_cube(data, wn)))
    assert "tiff_messages" not in cube.metadata
    assert capfd.readouterr().err == ""


# ---------------------------------------------------------------- messages name the CLI options


def test_npy_message_names_the_command_line_option(tmp_path: Path) -> None:
    data, _wn = _cube()
    f = tmp_path / "c.npy"
    np.save(f, data)
    with pytest.raises(CubeReadError, match="no wavenumbers") as exc:
        load_cube(f)
    msg = _one_line(exc)
    assert "wavenumbers=" in msg and "command line: --wavenumbers FILE" in msg


@pytest.mark.parametrize("kind", ["npz", "envi", "tiff", "mat"])
def test_missing_axis_messages_name_the_command_line_option(tmp_path: Path, kind: str) -> None:
    data, _wn = _cube()
    if kind == "npz":
        f = tmp_path / "c.npz"
        np.savez(f, cube=data)
    elif kind == "envi":
        f, _ = write_envi(tmp_path / "c.hdr", data)
    elif kind == "tiff":
        tifffile = pytest.importorskip("tifffile")
        f = tmp_path / "c.tif"
        tifffile.imwrite(f, np.moveaxis(data, -1, 0), photometric="minisblack")
    else:
        savemat = pytest.importorskip("scipy.io").savemat
        f = tmp_path / "c.mat"
        savemat(f, {"cube": data})
    with pytest.raises(CubeReadError) as exc:
        load_cube(f)
    assert "command line: --wavenumbers FILE" in _one_line(exc)


def test_wrong_suffix_message_names_format_option(tmp_path: Path) -> None:
    data, wn = _cube()
    good = write_npz(tmp_path / "c.npz", data, wn)
    renamed = tmp_path / "c.spa"
    renamed.write_bytes(good.read_bytes())
    with pytest.raises(CubeReadError) as exc:
        load_cube(renamed)
    msg = _one_line(exc)
    assert "format='npz'" in msg and "command line: --format npz" in msg


def test_table_size_message_names_width_option(tmp_path: Path) -> None:
    data, wn = _cube(2, 3, 5)
    f = tmp_path / "map.csv"
    np.savetxt(f, np.c_[wn, data.reshape(-1, 5).T], delimiter=",")
    with pytest.raises(CubeReadError) as exc:
        load_cube(f)
    assert "pass width=" in _one_line(exc) and "--width N" in str(exc.value)


# ---------------------------------------------------------------- wavenumbers from a file


@pytest.mark.parametrize("form", ["lines", "csv", "header", "npy", "semicolon"])
def test_wavenumbers_file_forms(tmp_path: Path, form: str) -> None:
    data, wn = _cube()
    npy = tmp_path / "c.npy"
    np.save(npy, data)
    if form == "npy":
        wfile = tmp_path / "wn.npy"
        np.save(wfile, wn)
    else:
        wfile = tmp_path / f"wn_{form}.txt"
        lines = [f"{v:.10g}" for v in wn]
        if form == "csv":
            lines = [f"{v:.10g},{i}" for i, v in enumerate(wn)]
        elif form == "semicolon":
            lines = [f"{v:.10g};x" for v in wn]
        elif form == "header":
            lines = ["# exported", "wavenumber,intensity", *[f"{v:.10g},0" for v in wn]]
        wfile.write_text("\n".join(lines) + "\n")
    for value in (wfile, os.fspath(wfile)):
        cube = load_cube(npy, wavenumbers=value)
        np.testing.assert_allclose(cube.wavenumbers, wn)
        np.testing.assert_array_equal(cube.data, data)


def test_wavenumbers_file_wrong_length_names_that_file(tmp_path: Path) -> None:
    data, wn = _cube()
    npy = tmp_path / "c.npy"
    np.save(npy, data)
    wfile = tmp_path / "short.txt"
    wfile.write_text("\n".join(str(v) for v in wn[:-1]))
    with pytest.raises(CubeReadError, match=r"holds 5 wavenumbers, the cube has 6 bands") as exc:
        load_cube(npy, wavenumbers=wfile)
    assert _one_line(exc).startswith(os.fspath(wfile))


def test_wavenumbers_file_non_numeric_names_that_file(tmp_path: Path) -> None:
    data, wn = _cube()
    npy = tmp_path / "c.npy"
    np.save(npy, data)
    wfile = tmp_path / "bad.txt"
    wfile.write_text("1000\n1100\nabc\n1300\n1400\n1500\n")
    with pytest.raises(CubeReadError, match=r"line 3 reads 'abc'") as exc:
        load_cube(npy, wavenumbers=wfile)
    assert _one_line(exc).startswith(os.fspath(wfile))
    missing = tmp_path / "nothere.txt"
    with pytest.raises(CubeReadError, match="file not found") as exc:
        load_cube(npy, wavenumbers=missing)
    assert os.fspath(missing) in str(exc.value)


def test_wavenumbers_file_for_envi_tiff_npz(tmp_path: Path) -> None:
    tifffile = pytest.importorskip("tifffile")
    data, wn = _cube()
    wfile = tmp_path / "wn.csv"
    wfile.write_text("\n".join(f"{v},{v}" for v in wn))
    hdr, _ = write_envi(tmp_path / "c.hdr", data)
    np.testing.assert_allclose(load_cube(hdr, wavenumbers=wfile).wavenumbers, wn)
    tif = tmp_path / "c.tif"
    tifffile.imwrite(tif, np.moveaxis(data, -1, 0), photometric="minisblack")
    cube = load_cube(tif, wavenumbers=wfile)
    np.testing.assert_allclose(cube.wavenumbers, wn)
    np.testing.assert_array_equal(cube.data, data)
    npz = tmp_path / "c.npz"
    np.savez(npz, cube=data)
    np.testing.assert_allclose(load_cube(npz, wavenumbers=wfile).wavenumbers, wn)
    wrong = tmp_path / "wrong.txt"
    wrong.write_text("1\n2\n3\n")
    with pytest.raises(CubeReadError, match=r"wrong\.txt: holds 3 wavenumbers, the cube has 4 or 6"):
        load_cube(tif, wavenumbers=wrong)


def test_wavenumbers_file_for_matlab(tmp_path: Path) -> None:
    savemat = pytest.importorskip("scipy.io").savemat
    data, wn = _cube()
    f = tmp_path / "c.mat"
    savemat(f, {"cube": data})
    wfile = tmp_path / "wn.txt"
    wfile.write_text("\n".join(str(v) for v in wn))
    cube = load_cube(f, wavenumbers=wfile)
    np.testing.assert_allclose(cube.wavenumbers, wn)
    assert cube.metadata["wavenumbers_file"] == os.fspath(wfile)
    with pytest.raises(CubeReadError, match="neither a variable of the file"):
        load_cube(f, wavenumbers="nosuchvar")


def test_read_wavenumbers_file_refuses_bad_npy(tmp_path: Path) -> None:
    f = tmp_path / "wn.npy"
    np.save(f, np.ones((3, 4)))
    with pytest.raises(CubeReadError, match="1-D"):
        read_wavenumbers_file(f)
    np.save(f, np.array([1.0]))
    with pytest.raises(CubeReadError, match="at least 2"):
        read_wavenumbers_file(f)
    g = tmp_path / "nan.txt"
    g.write_text("1\nnan\n3\n")
    with pytest.raises(CubeReadError, match="NaN"):
        read_wavenumbers_file(g)
