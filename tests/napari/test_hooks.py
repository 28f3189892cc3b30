"""npe2 manifest, reader, writers and sample data."""

from __future__ import annotations

import csv
import fnmatch
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ftir_unmix.io import read_abundance_tiff, read_envi_array, read_npz, supported_extensions
from ftir_unmix.napari._layers import RESULT_KEY, abundance_layer_tuples
from ftir_unmix.napari._reader import napari_get_reader as get_reader
from ftir_unmix.result import UnmixResult

PLUGIN = "napari-ftir-unmix"


@pytest.fixture(scope="module")
def manifest():
    from npe2 import PluginManifest

    return PluginManifest.from_distribution(PLUGIN)


def test_manifest_validates_and_imports(manifest):
    manifest.validate_imports()  # every python_name resolves
    assert {w.display_name for w in manifest.contributions.widgets} == {
        "Unmix", "Band weights", "Spectra", "Composites", "Figure", "Photo", "Session"}
    assert [s.key for s in manifest.contributions.sample_data] == ["cross-section"]


def test_manifest_symlink_points_at_top_level_file():
    import ftir_unmix

    link = Path(ftir_unmix.__file__).parent / "napari.yaml"
    top = Path(__file__).resolve().parents[2] / "napari.yaml"
    assert link.resolve() == top.resolve()


def test_reader_patterns_cover_every_supported_extension(manifest):
    patterns = [p for r in manifest.contributions.readers for p in r.filename_patterns]
    missing = [e for e in supported_extensions()
               if not any(fnmatch.fnmatch(f"file{e}", p) for p in patterns)]
    assert not missing, f"add these to the reader's filename_patterns in napari.yaml: {missing}"


def test_npe2_cli_validate():
    """``npe2 validate napari-ftir-unmix`` (with imports) succeeds."""
    code = "import sys; from npe2.cli import main; sys.argv = sys.argv[1:]; main()"
    proc = subprocess.run(
        [sys.executable, "-c", code, "npe2", "validate", PLUGIN, "--imports"],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "valid" in proc.stdout


def test_reader_layer(viewer, cube_layer, small_cube):
    layer = cube_layer
    h, w, b = small_cube.shape
    assert layer.data.shape == (b, h, w)  # bands first: the slider scrolls wavenumbers
    np.testing.assert_allclose(layer.metadata["wavenumbers"], small_cube.wavenumbers)
    assert layer.metadata["pixel_size"] == pytest.approx(small_cube.pixel_size)
    assert layer.metadata["source_metadata"]["format"] == "npz"
    np.testing.assert_allclose(layer.data[:, 3, 5], small_cube.data[3, 5])
    # uniform grid: world coordinate of the band axis = wavenumber (cm⁻¹)
    wn = small_cube.wavenumbers
    assert layer.scale[0] == pytest.approx(wn[1] - wn[0])
    assert layer.data_to_world((7, 0, 0))[0] == pytest.approx(wn[7])
    assert layer.scale[1] == pytest.approx(small_cube.pixel_size)
    viewer.dims.set_current_step(0, 7)
    assert viewer.dims.point[0] == pytest.approx(wn[7])
    assert "wavenumber" in viewer.dims.axis_labels[0]


def test_zarr_cube_and_saved_ome_zarr_maps_open(viewer, small_cube, tmp_path):
    """A zarr cube store opens as a cube layer; a run's abundances.ome.zarr as one lazy
    multiscale layer per endmember, in µm."""
    import zarr

    from ftir_unmix import unmix
    from ftir_unmix.export import write_outputs

    store = zarr.open_array(str(tmp_path / "cube.zarr"), mode="w", shape=small_cube.shape, chunks=(8, 8, 100),
                            dtype="float32", zarr_format=2)
    store[:] = small_cube.data
    store.attrs.update({"wavenumbers": small_cube.wavenumbers.tolist(), "pixel_size_um": 5.5})
    [cube] = viewer.open(str(tmp_path / "cube.zarr"), plugin=PLUGIN)
    np.testing.assert_allclose(cube.data[:, 3, 5], small_cube.data[3, 5])
    assert cube.metadata["source_metadata"]["format"] == "zarr"

    result = unmix(small_cube, 2, epochs=3, threads=1)
    paths = write_outputs(result, tmp_path / "out", maps_zarr=True)
    maps = viewer.open(str(paths["maps_zarr"]), plugin=PLUGIN)
    assert [m.name for m in maps] == [f"{n} abundance" for n in result.names]
    assert all(m.multiscale for m in maps)
    np.testing.assert_allclose(np.asarray(maps[1].data[0]), result.abundances[1])
    assert maps[0].scale[-1] == pytest.approx(small_cube.pixel_size)
    assert maps[0].metadata["run_record"]["names"] == result.names


def test_reader_refuses_unknown_and_reports_bad_files(viewer, tmp_path):
    other = tmp_path / "notes.xyz"
    other.write_text("hello")
    assert get_reader(str(other)) is None
    assert get_reader(str(tmp_path / "missing.npz")) is None
    bad = tmp_path / "broken.npz"
    bad.write_bytes(b"PK\x03\x04 this is not a zip archive")
    with pytest.raises(Exception) as info:
        viewer.open(str(bad), plugin=PLUGIN)
    text = str(info.value)
    assert "broken.npz" in text
    assert len(viewer.layers) == 0


def test_sample_data_loads(viewer):
    layers = viewer.open_sample(PLUGIN, "cross-section")
    assert len(layers) == 1
    layer = layers[0]
    assert layer.data.shape == (838, 64, 96)
    assert len(layer.metadata["wavenumbers"]) == 838
    assert layer.metadata["source_metadata"]["format"] == "synthetic"


def _fake_result(k: int = 3, h: int = 6, w: int = 7, b: int = 20) -> UnmixResult:
    rng = np.random.default_rng(0)
    a = rng.dirichlet(np.ones(k), size=h * w).T.reshape(k, h, w).astype(np.float32)
    return UnmixResult(
        abundances=a, endmembers=rng.random((b, k)).astype(np.float32), weights=np.ones(b),
        wavenumbers=np.linspace(1000.0, 3000.0, b), names=[f"m{i}" for i in range(k)],
        parameters={"k": k, "seed": 3, "method": "cnn", "loss": "wsad"},
    )


@pytest.fixture
def result_layers(viewer):
    result = _fake_result()
    for data, kwargs, _ in abundance_layer_tuples(result, scale=(1.5, 1.5)):
        viewer.add_image(data, **kwargs)
    return result, list(viewer.layers)


def test_write_abundance_tiff(viewer, result_layers, tmp_path):
    result, layers = result_layers
    viewer.layers.selection = set(layers)
    out = tmp_path / "maps.tif"
    written = viewer.layers.save(str(out), selected=True, plugin=PLUGIN)
    assert [Path(p) for p in written] == [out]
    arr, names, meta = read_abundance_tiff(out)
    assert arr.dtype == np.float32
    np.testing.assert_allclose(arr, result.abundances)
    assert names == result.names  # " abundance" suffix of the layer names removed
    assert meta["parameters"]["seed"] == 3
    assert meta["pixel_size_um"] == pytest.approx(1.5)


def test_write_endmembers_csv(viewer, result_layers, tmp_path):
    result, layers = result_layers
    layers[1].name = "lead white abundance"  # renamed by the user
    viewer.layers.selection = {layers[0], layers[1]}
    out = tmp_path / "spectra.csv"
    viewer.layers.save(str(out), selected=True, plugin=PLUGIN)
    rows = list(csv.reader(out.open()))
    assert rows[0] == ["wavenumber", "m0", "lead white"]
    table = np.array(rows[1:], dtype=float)
    np.testing.assert_allclose(table[:, 0], result.wavenumbers)
    np.testing.assert_allclose(table[:, 1:], result.endmembers[:, :2], rtol=1e-6)


def test_write_endmembers_refuses_plain_images(viewer, tmp_path):
    viewer.add_image(np.zeros((4, 4), np.float32), name="plain")
    viewer.layers.selection = set(viewer.layers)
    with pytest.raises(Exception, match="abundance layers"):
        viewer.layers.save(str(tmp_path / "x.csv"), selected=True, plugin=PLUGIN)


def test_write_abundances_envi(viewer, result_layers, tmp_path):
    result, layers = result_layers
    viewer.layers.selection = set(layers)
    written = viewer.layers.save(str(tmp_path / "maps.hdr"), selected=True, plugin=PLUGIN)
    assert any(p.endswith(".hdr") for p in written)
    data, header, _ = read_envi_array(tmp_path / "maps.hdr")
    assert data.shape == (6, 7, 3)
    np.testing.assert_allclose(np.moveaxis(data, -1, 0), result.abundances)
    header = (tmp_path / "maps.hdr").read_text()
    assert "band names = {m0, m1, m2}" in header


def test_cube_npz_round_trip(viewer, cube_layer, small_cube, tmp_path):
    viewer.layers.selection = {cube_layer}
    out = tmp_path / "again.npz"
    viewer.layers.save(str(out), selected=True, plugin=PLUGIN)
    cube = read_npz(out)
    np.testing.assert_allclose(cube.data, small_cube.data)
    np.testing.assert_allclose(cube.wavenumbers, small_cube.wavenumbers)
    (layer,) = viewer.open(str(out), plugin=PLUGIN)
    assert layer.data.shape == cube_layer.data.shape


def test_result_layer_metadata_is_complete():
    result = _fake_result()
    tuples = abundance_layer_tuples(result)
    assert len(tuples) == result.k
    colors = {t[1]["metadata"][RESULT_KEY]["color"] for t in tuples}
    assert len(colors) == result.k  # distinct colours
    info = tuples[1][1]["metadata"][RESULT_KEY]
    assert info["index"] == 1 and info["name"] == "m1"
    assert info["endmembers"].shape == (20, 3)
    json.dumps(info["record"], default=str)  # the record is JSON-able
