"""Sessions: save a study to NAME.ftirproj, close, reopen in a fresh viewer; moved files; safety."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from ftir_unmix.errors import OutputError
from ftir_unmix.napari import _widgets_common, load_session, save_session
from ftir_unmix.napari._layers import DERIVED_KEY, FORCED_RANGES_KEY, RESULT_KEY, is_abundance_layer
from ftir_unmix.napari._project import SessionError, session_state
from ftir_unmix.napari._reader import napari_get_session_reader
from ftir_unmix.napari._session import get_session

PLUGIN = "napari-ftir-unmix"


def _snapshot(viewer):
    """Everything a user sees of each layer."""
    from napari.layers import Image, Labels, Points, Shapes

    out = []
    for lay in viewer.layers:
        item = {"name": lay.name, "type": type(lay).__name__, "visible": lay.visible,
                "opacity": round(float(lay.opacity), 6), "blending": str(lay.blending),
                "scale": tuple(np.round(lay.scale, 9)), "affine": np.asarray(lay.affine.affine_matrix).round(9)}
        if isinstance(lay, Shapes):
            item["data"] = [np.asarray(d) for d in lay.data]
            item["edge_color"] = np.asarray(lay.edge_color)
            item["shape_type"] = list(lay.shape_type)
        else:
            item["data"] = np.asarray(lay.data)
        if isinstance(lay, Image):
            item["contrast_limits"] = tuple(np.round(lay.contrast_limits, 6))
            if not lay.rgb:
                item["colormap"] = np.asarray(lay.colormap.colors).round(6)
        if isinstance(lay, Labels):
            item["colors"] = np.asarray([lay.get_color(i) for i in range(1, 4)], dtype=float).round(6)
        if isinstance(lay, (Points, Shapes, Labels)) and len(lay.features.columns):
            item["features"] = {c: list(lay.features[c]) for c in lay.features.columns}
        out.append(item)
    return out


def _assert_same(a, b):
    assert [x["name"] for x in a] == [x["name"] for x in b]
    for x, y in zip(a, b, strict=True):
        assert x.keys() == y.keys(), x["name"]
        for key in x:
            if key == "data" and isinstance(x[key], list):
                assert len(x[key]) == len(y[key])
                for u, v in zip(x[key], y[key]):
                    np.testing.assert_allclose(u, v, err_msg=x["name"])
            elif isinstance(x[key], np.ndarray):
                np.testing.assert_allclose(x[key], y[key], err_msg=f"{x['name']}: {key}")
            else:
                assert x[key] == y[key], f"{x['name']}: {key}"


@pytest.fixture
def study(make_napari_viewer, small_npz, tmp_path, qtbot, wait_idle, monkeypatch):
    """A viewer with a finished run, renamed maps, weights edits, regions, composites and a photo."""
    import imageio.v3 as iio

    viewer = make_napari_viewer()
    cube = viewer.open(str(small_npz), plugin=PLUGIN)[0]
    _d, unmix = viewer.window.add_plugin_dock_widget(PLUGIN, "Unmix")
    _d, spectra = viewer.window.add_plugin_dock_widget(PLUGIN, "Spectra")
    _d, comp = viewer.window.add_plugin_dock_widget(PLUGIN, "Composites")
    _d, photo = viewer.window.add_plugin_dock_widget(PLUGIN, "Photo")
    _d, weights = viewer.window.add_plugin_dock_widget(PLUGIN, "Band weights")
    weights.tau.value = 2.5
    weights.corr_model.value = "neighbours"
    weights.force_range(2280, 2400)
    unmix.layer.value = cube
    unmix.k.value, unmix.epochs.value, unmix.seed.value, unmix.device.value = 3, 5, 11, "cpu"
    unmix.known_weight.value = 2.5
    unmix.spare_when_needed.value = False
    unmix.atmosphere.value = False
    unmix.run.clicked()
    wait_idle(unmix)
    maps = sorted((lay for lay in viewer.layers if is_abundance_layer(lay)),
                  key=lambda lay: lay.metadata[RESULT_KEY]["index"])
    maps[0].name = "lead white abundance"
    maps[1].visible = False
    maps[2].opacity = 0.6
    spectra.draw_regions.clicked()
    spectra.regions.value.add_rectangles([[[2.6, 3.6], [7.4, 9.4]]])
    spectra.regions.value.add_polygons([np.array([[10.0, 1.0], [14.0, 1.0], [14.0, 5.0]])])
    qtbot.waitUntil(lambda: len(spectra.region_stats) == 2, timeout=5000)
    comp.make_rgb.clicked()
    comp.make_dominant.clicked()
    viewer.layers["dominant material"].paint((2, 2), 3)
    photo_path = tmp_path / "photo.png"
    iio.imwrite(photo_path, (np.random.default_rng(1).random((30, 40, 3)) * 255).astype(np.uint8))
    monkeypatch.setattr(_widgets_common, "ask_open_path", lambda *a, **k: str(photo_path))
    photo.open_photo.clicked()
    photo.pick_points.clicked()
    q = np.array([[2.0, 2.0], [25.0, 5.0], [5.0, 35.0]])
    viewer.layers["photo points"].add(q)
    viewer.layers["FTIR points"].add(q * 0.4 + 1.0)
    photo.register.clicked()
    from ftir_unmix.napari._figure import scale_bar, set_colorbars

    scale_bar(viewer).visible = True
    set_colorbars(viewer, True)
    return viewer, unmix


def test_round_trip_restores_every_layer_and_panel(study, make_napari_viewer, tmp_path, qtbot, monkeypatch):
    viewer, unmix = study
    before = _snapshot(viewer)
    result = unmix.result
    out = save_session(viewer, tmp_path / "study")
    assert out.name == "study.ftirproj" and session_state(out) == "session"
    manifest = json.loads((out / "session.json").read_text())
    kinds = [e["kind"] for e in manifest["layers"]]
    assert kinds.count("abundance") == 3 and "cube" in kinds and "shapes" in kinds
    cube_entry = next(e for e in manifest["layers"] if e["kind"] == "cube")
    assert len(cube_entry["source"]["sha256"]) == 64 and "data_file" not in cube_entry  # by reference
    assert not [p for p in out.parent.iterdir() if "partial" in p.name]
    viewer.close()

    fresh = make_napari_viewer()
    assert napari_get_session_reader(str(out)) is not None
    fresh.open(str(out), plugin=PLUGIN)  # File ▸ Open / drag and drop go through the same reader
    _assert_same(before, _snapshot(fresh))
    cube = fresh.layers["small.npz"]
    maps = [lay for lay in fresh.layers if is_abundance_layer(lay)]
    assert all(m.metadata[RESULT_KEY]["source_id"] == cube.unique_id for m in maps)
    restored = maps[0].metadata[RESULT_KEY]["result"]
    np.testing.assert_allclose(restored.abundances, result.abundances)
    np.testing.assert_allclose(restored.endmembers, result.endmembers)
    assert restored.parameters["seed"] == 11
    assert len({m.metadata[RESULT_KEY]["run_id"] for m in maps}) == 1
    # band-weight edits and forced ranges
    assert get_session(fresh).weight_params.tau == 2.5
    assert get_session(fresh).weight_params.corr_model == "neighbours"
    assert cube.metadata[FORCED_RANGES_KEY] == [[2280.0, 2400.0]]
    # derived layers point at the restored image again
    for name in ("regions", "dominant material", "photo photo.png", "FTIR points"):
        assert fresh.layers[name].metadata[DERIVED_KEY]["source_id"] == cube.unique_id, name
    photo = fresh.layers["photo photo.png"]
    assert fresh.layers["photo points"].metadata[DERIVED_KEY]["photo_id"] == photo.unique_id
    assert fresh.layers["dominant material"].metadata[DERIVED_KEY]["edited"]
    # the panels are back, with the run's settings and its result
    docks = fresh.window.dock_widgets
    for panel in ("Unmix", "Spectra", "Composites", "Photo", "Band weights"):
        assert f"{panel} ({PLUGIN})" in docks, panel
    unmix2 = docks[f"Unmix ({PLUGIN})"]
    assert (unmix2.k.value, unmix2.seed.value, unmix2.epochs.value, unmix2.known_weight.value) == (3, 11, 5, 2.5)
    assert unmix2.spare_when_needed.value is False and unmix2.atmosphere.value is False
    assert unmix2.result is restored
    spectra2 = docks[f"Spectra ({PLUGIN})"]
    qtbot.waitUntil(lambda: len(spectra2.region_stats) == 2, timeout=5000)
    assert spectra2.regions.value is fresh.layers["regions"]
    assert spectra2.region_stats[0].abundances is not None
    # a new shape on the restored regions layer is still named and coloured
    fresh.layers["regions"].add_rectangles([[[0.6, 0.6], [1.4, 1.4]]])
    assert list(fresh.layers["regions"].features["region"]) == ["R1", "R2", "R3"]
    from ftir_unmix.napari._figure import scale_bar

    assert scale_bar(fresh).visible
    assert all(m.colorbar.visible for m in maps)
    # Export results works on the reopened result
    unmix2.output_dir.value = tmp_path / "export"
    unmix2.export.clicked()
    assert (tmp_path / "export" / "run.json").is_file()


def test_moved_source_is_asked_for_and_checked(make_napari_viewer, small_npz, tmp_path, monkeypatch, notifications):
    viewer = make_napari_viewer()
    viewer.open(str(small_npz), plugin=PLUGIN)
    out = save_session(viewer, tmp_path / "sessions" / "s1")
    viewer.close()
    moved = tmp_path / "elsewhere" / "renamed.npz"
    moved.parent.mkdir()
    shutil.move(small_npz, moved)
    asked = []
    monkeypatch.setattr(_widgets_common, "ask_open_path", lambda *a, **k: asked.append(a) or str(moved))
    fresh = make_napari_viewer()
    layers = load_session(fresh, out)
    assert asked and "small.npz" in asked[0][1]
    assert [lay.name for lay in layers] == ["small.npz"]
    assert fresh.layers[0].metadata["source_metadata"]["path"] == str(moved)
    # a different file with the same name: the checksum differs, so the user is asked
    other = tmp_path / "elsewhere" / "other.npz"
    from ftir_unmix.io import write_npz
    from ftir_unmix.synthetic import cross_section

    write_npz(other, cross_section(16, 16, n_bands=100, seed=5).cube)
    monkeypatch.setattr(_widgets_common, "ask_open_path", lambda *a, **k: str(other))
    questions = []
    monkeypatch.setattr(_widgets_common, "ask_yes_no", lambda *a: questions.append(a[2]) or False)
    fresh2 = make_napari_viewer()
    assert load_session(fresh2, out) == []
    assert questions and "checksum" in questions[0]
    refused = [m for m in notifications.messages("warning") if "not opened" in m]
    assert refused and "other.npz: checksum differs" in refused[-1] and "\n" not in refused[-1]
    # the user cancels the file dialog: nothing opened, no error
    monkeypatch.setattr(_widgets_common, "ask_open_path", lambda *a, **k: None)
    assert load_session(make_napari_viewer(), out) == []


def test_found_beside_the_session_when_the_whole_study_moved(make_napari_viewer, small_npz, tmp_path, monkeypatch):
    viewer = make_napari_viewer()
    viewer.open(str(small_npz), plugin=PLUGIN)
    out = save_session(viewer, small_npz.parent / "s")  # session beside the data
    viewer.close()
    new_home = tmp_path.parent / f"{tmp_path.name}-moved"
    shutil.move(str(tmp_path), new_home)
    monkeypatch.setattr(_widgets_common, "ask_open_path", lambda *a, **k: pytest.fail("should not ask"))
    fresh = make_napari_viewer()
    layers = load_session(fresh, new_home / out.name)
    assert [lay.name for lay in layers] == ["small.npz"]
    shutil.move(str(new_home), tmp_path)


def test_sample_data_without_file_is_kept_in_the_session(make_napari_viewer, tmp_path):
    viewer = make_napari_viewer()
    viewer.open_sample(PLUGIN, "cross-section")
    data = np.asarray(viewer.layers[0].data).copy()
    scale, wn = tuple(viewer.layers[0].scale), viewer.layers[0].metadata["wavenumbers"].copy()
    out = save_session(viewer, tmp_path / "sample")
    assert any(p.name.startswith("cube-") for p in out.iterdir())  # no file behind it: the data are kept
    viewer.close()
    fresh = make_napari_viewer()
    load_session(fresh, out)
    np.testing.assert_array_equal(fresh.layers[0].data, data)
    np.testing.assert_allclose(fresh.layers[0].scale, scale)
    np.testing.assert_allclose(fresh.layers[0].metadata["wavenumbers"], wn)


def test_writing_is_safe(make_napari_viewer, small_npz, tmp_path, monkeypatch):
    viewer = make_napari_viewer()
    viewer.open(str(small_npz), plugin=PLUGIN)
    # a folder that is not a session is never written into
    foreign = tmp_path / "notes.ftirproj"
    foreign.mkdir()
    (foreign / "mine.txt").write_text("keep")
    with pytest.raises(OutputError, match="not a session"):
        save_session(viewer, foreign)
    assert [p.name for p in foreign.iterdir()] == ["mine.txt"]
    # an earlier session is replaced only after asking
    out = save_session(viewer, tmp_path / "s")
    stamp = (out / "session.json").read_text()
    with pytest.raises(OutputError, match="not replaced"):
        save_session(viewer, out, ask=lambda q: False)
    assert (out / "session.json").read_text() == stamp
    viewer.layers[0].name = "renamed"
    save_session(viewer, out, ask=lambda q: "Replace" in q)
    assert json.loads((out / "session.json").read_text())["layers"][0]["name"] == "renamed"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no partial leftovers
    # a missing or altered session is refused with one line
    with pytest.raises(SessionError, match="absent.ftirproj: not found"):
        load_session(make_napari_viewer(), tmp_path / "absent.ftirproj")
    viewer.open_sample(PLUGIN, "cross-section")  # a session with a data file
    out2 = save_session(viewer, tmp_path / "with-data")
    victim = next(p for p in out2.iterdir() if p.suffix == ".npz")
    victim.write_bytes(b"garbage")
    with pytest.raises(SessionError, match="changed since the session was saved"):
        load_session(make_napari_viewer(), out2)
    with pytest.raises(SessionError, match="not a session"):
        load_session(make_napari_viewer(), foreign)
    assert napari_get_session_reader(str(foreign)) is None
    assert napari_get_session_reader(str(small_npz)) is None


def test_session_panel_saves_and_opens(make_napari_viewer, small_npz, tmp_path, monkeypatch):
    viewer = make_napari_viewer()
    viewer.open(str(small_npz), plugin=PLUGIN)
    _d, panel = viewer.window.add_plugin_dock_widget(PLUGIN, "Session")
    monkeypatch.setattr(_widgets_common, "ask_save_path", lambda *a, **k: str(tmp_path / "via-dialog"))
    panel.save.clicked()
    assert (tmp_path / "via-dialog.ftirproj" / "session.json").is_file()
    questions = []
    monkeypatch.setattr(_widgets_common, "ask_yes_no", lambda *a: questions.append(a) or True)
    panel.save.clicked()  # the same path again: asked before replacing
    assert questions
    fresh = make_napari_viewer()
    _d, panel2 = fresh.window.add_plugin_dock_widget(PLUGIN, "Session")
    panel2.session_path.value = tmp_path / "via-dialog.ftirproj"
    panel2.open.clicked()
    assert [lay.name for lay in fresh.layers] == ["small.npz"]
