"""Property test: damaged files give a valid cube or a CubeReadError, never anything else.

Real sample files (and synthetic files for the formats without one) are copied to
a temporary folder, one of their files is truncated or has bytes flipped, and
the reader is run on the result.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ftir_unmix.cube import Cube
from ftir_unmix.errors import CubeReadError
from ftir_unmix.io import load_cube, write_abundance_tiff, write_cube_tiff, write_envi, write_npz

# (folder in formats/, file to open, file to damage)
REAL_CASES = [
    ("envi_openspecy", "CA_small_UF.hdr", "CA_small_UF.hdr"),
    ("envi_openspecy", "CA_small_UF.hdr", "CA_small_UF.dat"),
    ("agilent_single_tile", "4_noimage_agg256.seq", "4_noimage_agg256.dat"),
    ("agilent_single_tile", "4_noimage_agg256.seq", "4_noimage_agg256.bsp"),
    ("agilent_mosaic", "5_mosaic_agg1024.dmt", "5_mosaic_agg1024.dmt"),
    ("agilent_mosaic", "5_mosaic_agg1024.dmt", "5_Mosaic_agg1024_0000_0001.dmd"),
    ("opus", "brukeropus_example_file.0", "brukeropus_example_file.0"),
    ("omnic", "sample1.spa", "sample1.spa"),
    ("omnic", "small_Omnic.map", "small_Omnic.map"),
    ("perkinelmer", "4x4_pixel_PE_image.fsm", "4x4_pixel_PE_image.fsm"),
    ("perkinelmer", "single_PE_spectrum.sp", "single_PE_spectrum.sp"),
    ("matlab", "wavenumbers.mat", "wavenumbers.mat"),
]

FUZZ = settings(
    max_examples=int(__import__("os").environ.get("IO_FUZZ_EXAMPLES", "30")),
    deadline=None,
    derandomize=__import__("os").environ.get("IO_FUZZ_EXAMPLES") is None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

damage = st.one_of(
    st.tuples(st.just("truncate"), st.floats(0.0, 1.0, exclude_max=True)),
    st.tuples(
        st.just("flip"),
        st.lists(
            st.tuples(st.floats(0.0, 1.0, exclude_max=True), st.integers(1, 255)),
            min_size=1,
            max_size=8,
        ),
    ),
)


def _damage(path: Path, how: tuple) -> None:
    raw = bytearray(path.read_bytes())
    if how[0] == "truncate":
        del raw[int(how[1] * len(raw)) :]
    else:
        for frac, xor in how[1]:
            i = int(frac * len(raw))
            raw[i] ^= xor
    path.write_bytes(bytes(raw))


def _check(target: Path, **options: object) -> None:
    try:
        cube = load_cube(target, **options)
    except CubeReadError as exc:
        msg = str(exc)
        assert "\n" not in msg and msg.startswith(exc.path)
        return
    assert isinstance(cube, Cube)
    assert cube.data.ndim == 3 and cube.data.dtype == np.float32
    assert min(cube.data.shape) >= 1 and cube.data.shape[2] >= 2
    assert np.isfinite(cube.data).all()
    assert np.all(np.diff(cube.wavenumbers) > 0)


@pytest.fixture(scope="module")
def fuzz_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


@pytest.mark.parametrize(
    ("folder", "entry", "victim"), REAL_CASES, ids=[f"{c[0]}-{c[2]}" for c in REAL_CASES]
)
@FUZZ
@given(how=damage)
def test_damaged_real_files(
    fuzz_root: Path, formats: Path, folder: str, entry: str, victim: str, how: tuple
) -> None:
    with tempfile.TemporaryDirectory(dir=fuzz_root) as d:
        work = Path(d)
        for f in (formats / folder).iterdir():
            shutil.copyfile(f, work / f.name)
        _damage(work / victim, how)
        opts = {"width": 2} if entry == "wavenumbers.mat" else {}
        _check(work / entry, **opts)


def _synthetic(work: Path, kind: str) -> tuple[Path, Path, dict]:
    rng = np.random.default_rng(3)
    data = rng.random((4, 5, 12), dtype=np.float32)
    wn = np.linspace(800.0, 3800.0, 12)
    if kind == "npz":
        f = write_npz(work / "c.npz", data, wn)
        return f, f, {}
    if kind == "envi":
        hdr, _dat = write_envi(work / "c.hdr", data, wn, interleave="bil")
        return hdr, hdr, {}
    if kind == "tiff":
        from ftir_unmix.cube import make_cube

        f = write_cube_tiff(work / "c.tif", make_cube(data, wn))
        return f, f, {}
    if kind == "csv":
        f = work / "c.csv"
        np.savetxt(f, np.c_[wn, data.reshape(-1, 12).T], delimiter=",", header="wn", comments="")
        return f, f, {"width": 5}
    if kind == "mat":
        from scipy.io import savemat

        f = work / "c.mat"
        savemat(f, {"cube": data, "wavenumbers": wn})
        return f, f, {}
    if kind == "abundance_tiff":
        f = write_abundance_tiff(work / "a.tif", data[:, :, :3].transpose(2, 0, 1), ["a", "b", "c"])
        return f, f, {"wavenumbers": [1.0, 2.0, 3.0]}
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["npz", "envi", "tiff", "csv", "mat", "abundance_tiff"])
@FUZZ
@given(how=damage)
def test_damaged_synthetic_files(fuzz_root: Path, kind: str, how: tuple) -> None:
    with tempfile.TemporaryDirectory(dir=fuzz_root) as d:
        entry, victim, opts = _synthetic(Path(d), kind)
        _damage(victim, how)
        _check(entry, **opts)


@pytest.mark.parametrize(
    "suffix",
    [
        ".npz",
        ".hdr",
        ".0",
        ".spa",
        ".map",
        ".fsm",
        ".sp",
        ".mat",
        ".tif",
        ".csv",
        ".dpt",
        ".seq",
        ".dmt",
        ".npy",
    ],
)
@FUZZ
@given(blob=st.binary(min_size=1, max_size=2048))
def test_random_bytes(fuzz_root: Path, suffix: str, blob: bytes) -> None:
    with tempfile.TemporaryDirectory(dir=fuzz_root) as d:
        f = Path(d) / f"x{suffix}"
        f.write_bytes(blob)
        _check(f)
