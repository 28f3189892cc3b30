"""The panels never overwrite without asking, show what the engine warns about, and let the
user correct the y units of a file."""

from __future__ import annotations

import numpy as np
import pytest

from ftir_unmix.io import write_npz
from ftir_unmix.napari import _widgets_common
from ftir_unmix.safe_write import verify_result_folder

PLUGIN = "napari-ftir-unmix"


@pytest.fixture
def answers(monkeypatch):
    """Replace the modal Yes/No question with scripted answers; records the questions asked."""
    asked: list[str] = []
    replies: list[bool] = []

    def ask(_parent, _title, question):
        asked.append(question)
        return replies.pop(0)

    monkeypatch.setattr(_widgets_common, "ask_yes_no", ask)
    return asked, replies


def test_export_asks_before_replacing_an_earlier_result(viewer, unmix_panel, wait_idle, tmp_path,
                                                        answers, notifications):
    asked, replies = answers
    w = unmix_panel
    out = tmp_path / "results"
    w.output_dir.value = out
    w.run.clicked()
    wait_idle(w)
    w.export.clicked()
    assert asked == [] and verify_result_folder(out)["parameters"]["seed"] == 0
    first = (out / "endmembers.csv").read_bytes()
    w.seed.value = 9
    w.run.clicked()
    wait_idle(w)
    replies.append(False)  # "keep the earlier result"
    w.export.clicked()
    assert len(asked) == 1 and "earlier result" in asked[0]
    assert (out / "endmembers.csv").read_bytes() == first and "kept" in w.status.value
    replies.append(True)  # "replace it"
    w.export.clicked()
    assert len(asked) == 2 and verify_result_folder(out)["parameters"]["seed"] == 9
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_export_never_writes_into_a_folder_of_other_files(viewer, unmix_panel, wait_idle, tmp_path,
                                                          answers, notifications):
    asked, _ = answers
    w = unmix_panel
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "run.json").write_text("my own notes")
    w.output_dir.value = mine
    w.run.clicked()
    wait_idle(w)
    w.export.clicked()
    assert asked == []  # nothing to ask: refused outright
    assert any("did not write (run.json)" in m for m in notifications.errors())
    assert (mine / "run.json").read_text() == "my own notes" and len(list(mine.iterdir())) == 1


def test_spectra_export_asks_before_replacing_a_file(viewer, unmix_panel, wait_idle, tmp_path, answers):
    asked, replies = answers
    _dock, spectra = viewer.window.add_plugin_dock_widget(PLUGIN, "Spectra")
    unmix_panel.run.clicked()
    wait_idle(unmix_panel)
    target = tmp_path / "spectra.csv"
    target.write_text("precious")
    spectra.export_path.value = target
    replies.append(False)
    spectra.export.clicked()
    assert target.read_text() == "precious" and len(asked) == 1
    replies.append(True)
    spectra.export.clicked()
    assert target.read_text().startswith("wavenumber,")


def test_engine_warnings_reach_the_user(viewer, small_cube, qtbot, wait_idle, tmp_path, notifications):
    data = small_cube.data.copy()
    data[:3] = 0.0  # three rows outside the sample
    path = write_npz(tmp_path / "zeros.npz", data, small_cube.wavenumbers)
    layer = viewer.open(str(path), plugin=PLUGIN)[0]
    _dock, w = viewer.window.add_plugin_dock_widget(PLUGIN, "Unmix")
    w.layer.value, w.k.value, w.epochs.value, w.device.value = layer, 3, 5, "cpu"
    w.run.clicked()
    wait_idle(w)
    warnings = notifications.messages("warning")
    assert any("48 of 256 pixels have an all-zero spectrum" in m for m in warnings), warnings
    assert "all-zero spectrum" in w.status.value
    assert w.result.parameters["warnings"]


def test_units_are_shown_and_can_be_corrected(viewer, small_cube, qtbot, tmp_path, notifications):
    # Percent transmittance (100 % where nothing absorbs), not absorbance.
    transmittance = 100.0 * 10.0 ** (-small_cube.data.astype(np.float64))
    path = write_npz(tmp_path / "percent.npz", transmittance.astype(np.float32), small_cube.wavenumbers)
    layer = viewer.open(str(path), plugin=PLUGIN)[0]
    _dock, w = viewer.window.add_plugin_dock_widget(PLUGIN, "Unmix")
    w.layer.value = layer
    assert "absorbance" in w.units_info.value and "range" in w.units_info.value
    np.testing.assert_allclose(np.moveaxis(layer.data, 0, -1), small_cube.data, atol=1e-4)
    # The user knows better: take the values as they are.
    w.units.value = "absorbance"
    w.reopen.clicked()
    qtbot.waitUntil(lambda: float(np.asarray(layer.data).max()) > 50, timeout=30_000)
    np.testing.assert_allclose(np.moveaxis(np.asarray(layer.data), 0, -1), transmittance, rtol=1e-5)
    assert layer.metadata["source_metadata"]["units_source"] != ""
    assert w.units_info.value.startswith("values: absorbance")
    assert any("read again" in m for m in notifications.messages())


def test_reopen_needs_a_file(viewer, qtbot, notifications):
    layer = viewer.add_image(np.random.default_rng(0).random((20, 8, 8)).astype(np.float32),
                             metadata={"wavenumbers": np.linspace(800, 3800, 20)})
    _dock, w = viewer.window.add_plugin_dock_widget(PLUGIN, "Unmix")
    w.layer.value = layer
    w.reopen.clicked()
    assert any("not read from a file" in m for m in notifications.errors())
