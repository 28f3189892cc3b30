"""The Photo panel: open a photo, pick point pairs, register with an affine transform."""

from __future__ import annotations

import numpy as np
import pytest

from ftir_unmix.napari import _widgets_common
from ftir_unmix.napari._layers import DERIVED_KEY

PLUGIN = "napari-ftir-unmix"

#: A known photo pixel (row, col) → FTIR pixel transform: scale, rotation, shear, shift.
KNOWN = np.array([[0.30, 0.05, 1.0], [-0.04, 0.28, 2.0], [0.0, 0.0, 1.0]])


@pytest.fixture
def photo_file(tmp_path):
    import imageio.v3 as iio

    rng = np.random.default_rng(3)
    path = tmp_path / "section.png"
    iio.imwrite(path, (rng.random((40, 50, 3)) * 255).astype(np.uint8))
    return path


@pytest.fixture
def photo_panel(viewer, cube_layer, photo_file, monkeypatch):
    monkeypatch.setattr(_widgets_common, "ask_open_path", lambda *a, **k: str(photo_file))
    _dock, widget = viewer.window.add_plugin_dock_widget(PLUGIN, "Photo")
    return widget


def _mapped(q):
    return (KNOWN[:2, :2] @ np.asarray(q, float).T).T + KNOWN[:2, 2]


def test_register_from_three_pairs_recovers_the_transform(viewer, cube_layer, photo_panel, photo_file):
    w = photo_panel
    w.open_photo.clicked()
    photo = w.photo.value
    assert photo is not None and photo.rgb and photo.data.shape == (40, 50, 3)
    assert photo.metadata[DERIVED_KEY]["path"] == str(photo_file.resolve())
    assert list(viewer.layers).index(photo) == 0  # underneath everything
    w.pick_points.clicked()
    photo_pts, ftir_pts = viewer.layers["photo points"], viewer.layers["FTIR points"]
    assert viewer.layers.selection.active is photo_pts and photo_pts.mode == "add"
    q = np.array([[5.0, 5.0], [35.0, 8.0], [10.0, 45.0]])
    p = _mapped(q)
    for qi, pi in zip(q, p):  # a user alternates: photo, then FTIR image
        photo_pts.add(qi)
        assert viewer.layers.selection.active is ftir_pts
        ftir_pts.add(pi)
        assert viewer.layers.selection.active is photo_pts
    assert list(photo_pts.features["pair"]) == [1, 2, 3]
    assert "3 pairs" in w.info.value
    w.register.clicked()
    reg = w.registration
    np.testing.assert_allclose(reg.matrix_px, KNOWN, atol=1e-9)
    assert reg.rms_px < 1e-9
    (sy, sx), (ty, tx) = tuple(cube_layer.scale[1:]), tuple(cube_layer.translate[1:])
    expected = np.array([[sy, 0, ty], [0, sx, tx], [0, 0, 1]]) @ KNOWN
    np.testing.assert_allclose(photo.affine.affine_matrix, expected, atol=1e-9)
    # a photo pixel lands on the FTIR pixel the transform says, in world coordinates (µm)
    for qi, pi in zip(q, p):
        np.testing.assert_allclose(photo.data_to_world(qi), cube_layer.data_to_world((0, *pi))[1:], atol=1e-9)
    assert list(viewer.layers).index(photo) == 0
    assert not photo_pts.visible and not ftir_pts.visible
    assert "registered from 3 pairs" in w.info.value


def test_least_squares_with_more_pairs_and_noise(viewer, cube_layer, photo_panel):
    w = photo_panel
    w.open_photo.clicked()
    w.pick_points.clicked()
    rng = np.random.default_rng(0)
    q = rng.uniform(0, 40, size=(8, 2))
    p = _mapped(q) + rng.normal(0, 0.05, size=(8, 2))
    viewer.layers["photo points"].add(q)
    viewer.layers["FTIR points"].add(p)
    w.register.clicked()
    assert w.registration.n_pairs == 8
    m = w.registration.matrix_px
    np.testing.assert_allclose(m[:2, :2], KNOWN[:2, :2], atol=0.01)
    grid = np.array([[0.0, 0.0], [40.0, 0.0], [0.0, 50.0], [40.0, 50.0]])
    np.testing.assert_allclose((m[:2, :2] @ grid.T).T + m[:2, 2], _mapped(grid), atol=0.15)  # < 0.15 px
    assert 0.005 < w.registration.rms_px < 0.2
    assert w.registration.rms_um == pytest.approx(w.registration.rms_px * float(cube_layer.scale[-1]), rel=0.05)


def test_bad_pairs_are_refused(viewer, photo_panel, notifications):
    w = photo_panel
    w.register.clicked()
    assert any("choose the FTIR image and the photo" in m for m in notifications.errors())
    w.open_photo.clicked()
    w.register.clicked()
    assert any("no point pairs" in m for m in notifications.errors())
    w.pick_points.clicked()
    viewer.layers["photo points"].add([[1.0, 1.0], [5.0, 5.0]])
    viewer.layers["FTIR points"].add([[1.0, 1.0], [2.0, 2.0]])
    w.register.clicked()
    assert any("at least 3 point pairs" in m for m in notifications.errors())
    viewer.layers["photo points"].add([[9.0, 9.0]])
    viewer.layers["FTIR points"].add([[3.0, 3.0]])
    w.register.clicked()  # three points on one line
    assert any("on one line" in m for m in notifications.errors())
    assert w.registration is None
    assert w.photo.value.metadata[DERIVED_KEY]["matrix_px"] is None


def test_photo_stays_registered_when_the_pixel_size_is_set(viewer, cube_layer, photo_panel):
    from ftir_unmix.napari._figure import set_pixel_size

    w = photo_panel
    w.open_photo.clicked()
    w.pick_points.clicked()
    q = np.array([[5.0, 5.0], [35.0, 8.0], [10.0, 45.0]])
    viewer.layers["photo points"].add(q)
    viewer.layers["FTIR points"].add(_mapped(q))
    w.register.clicked()
    set_pixel_size(viewer, cube_layer, 3.0)
    photo = w.photo.value
    for qi, pi in zip(q, _mapped(q)):
        np.testing.assert_allclose(photo.data_to_world(qi), cube_layer.data_to_world((0, *pi))[1:], atol=1e-9)


def test_unreadable_photo_is_one_line(viewer, cube_layer, photo_panel, tmp_path, monkeypatch, notifications):
    bad = tmp_path / "notes.png"
    bad.write_text("not an image")
    monkeypatch.setattr(_widgets_common, "ask_open_path", lambda *a, **k: str(bad))
    photo_panel.open_photo.clicked()
    errors = notifications.errors()
    assert any("notes.png" in m and "not a readable image" in m for m in errors)
    assert all("\n" not in m for m in errors)
