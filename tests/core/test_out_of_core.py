"""A cube on disk larger than the memory a run may use is unmixed without being loaded."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

CHILD = textwrap.dedent('''
    import resource, sys
    import numpy as np
    import torch
    import sklearn.decomposition, scipy.optimize  # what the run imports, before the cap
    import ftir_unmix.methods.classical, ftir_unmix.methods.cnn, ftir_unmix.io
    from ftir_unmix import load_cube, unmix

    def vm_data():
        for line in open("/proc/self/status"):
            if line.startswith("VmData:"):
                return int(line.split()[1]) * 1024

    cap = vm_data() + int(sys.argv[3]) * 2**20   # what is in use now, plus less than the cube
    resource.setrlimit(resource.RLIMIT_DATA, (cap, cap))
    cube = load_cube(sys.argv[1], lazy=True, wavenumbers=sys.argv[2])
    r = unmix(cube, 3, epochs=6, threads=1, seed=0)
    print("unmixed", *r.abundances.shape, float(r.abundances.sum(axis=0).mean()))
    try:
        np.array(cube.data)  # the proof that the cap is below the cube
        print("the whole cube fits under the cap")
    except MemoryError:
        print("a copy of the cube is refused")
''')


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_DATA and /proc are Linux's")
def test_a_cube_larger_than_the_memory_cap_unmixes_without_loading(tmp_path):
    from ftir_unmix.synthetic import cross_section

    h, w, b = 256, 400, 800  # 328 MB of float32 on disk; the run may allocate 300 MB
    tile = cross_section(16, 20, n_bands=b, materials=3, seed=0)
    path = tmp_path / "mosaic.npy"
    cube = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(h, w, b))
    rng = np.random.default_rng(0)
    for r in range(0, h, 16):
        cube[r:r + 16] = np.tile(tile.cube.data, (1, w // 20, 1)) * rng.uniform(0.9, 1.1)
    cube.flush()
    del cube
    np.save(tmp_path / "wn.npy", tile.cube.wavenumbers)
    out = subprocess.run([sys.executable, "-c", CHILD, str(path), str(tmp_path / "wn.npy"), "300"],
                         capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert out.returncode == 0, out.stderr[-3000:]
    lines = out.stdout.splitlines()
    assert lines[0].startswith("unmixed 3 256 400") and abs(float(lines[0].split()[-1]) - 1) < 1e-4
    assert lines[1] == "a copy of the cube is refused"  # the cap was real


def test_zarr_cubes_are_read_and_large_maps_written_as_ome_zarr(tmp_path, monkeypatch):
    import zarr

    from ftir_unmix import load_cube, unmix
    from ftir_unmix.export import MAPS_ZARR, write_outputs
    from ftir_unmix.io import _zarr, read_maps_omezarr
    from ftir_unmix.safe_write import verify_result_folder
    from ftir_unmix.synthetic import cross_section

    s = cross_section(24, 30, n_bands=120, materials=3, seed=2)
    store = zarr.open_array(str(tmp_path / "cube.zarr"), mode="w", shape=s.cube.data.shape, chunks=(8, 8, 120),
                            dtype="float32", zarr_format=2)
    store[:] = s.cube.data
    store.attrs.update({"wavenumbers": s.cube.wavenumbers.tolist(), "pixel_size_um": 6.25})
    monkeypatch.setattr(_zarr, "_IN_MEMORY_VALUES", 1000)  # as a store too large for memory is read
    cube = load_cube(tmp_path / "cube.zarr")
    np.testing.assert_array_equal(cube.data, s.cube.data)
    assert cube.pixel_size == 6.25 and "memory-mapped" in cube.metadata["repairs"][0]
    result = unmix(cube, 3, epochs=5, threads=1)
    paths = write_outputs(result, tmp_path / "out", maps_zarr=True)
    assert paths["maps_zarr"].name == MAPS_ZARR
    record = verify_result_folder(tmp_path / "out")  # the store's chunk files are in the manifest too
    assert any(name.startswith(MAPS_ZARR + "/") for name in record["files"])
    levels, names, pixel_size, _ = read_maps_omezarr(paths["maps_zarr"])
    np.testing.assert_allclose(np.asarray(levels[0]), result.abundances)
    assert names == result.names and pixel_size == 6.25
