"""The Spectra panel's names (issue 13) and trust (issue 12): candidates, overlays, Name layers."""

from __future__ import annotations

import numpy as np
import pytest

from ftir_unmix.identify import Candidate, Library
from ftir_unmix.napari import _widgets_common, load_session, save_session
from ftir_unmix.napari._identify_panel import (
    NO_MATCH,
    candidate_rows,
    doubt_text,
    reference_overlay,
    trust_labels,
    unique_names,
)
from ftir_unmix.napari._layers import RESULT_KEY, abundance_layer_tuples, is_abundance_layer
from ftir_unmix.result import UnmixResult
from ftir_unmix.trust import doubts, spare_note

PLUGIN = "napari-ftir-unmix"


def _g(x: np.ndarray, centre: float, width: float) -> np.ndarray:
    return np.exp(-0.5 * ((x - centre) / width) ** 2)


#: Three made-up materials with broad bands (the small cube has 100 bands, ~34 cm⁻¹ apart).
REFERENCES = {
    "alkyd resin": lambda x: _g(x, 1730, 40) + 0.6 * _g(x, 1160, 50) + 0.4 * _g(x, 2930, 60),
    "blue pigment": lambda x: _g(x, 1420, 70) + 0.5 * _g(x, 875, 40) + 0.3 * _g(x, 3500, 80),
    "glue binder": lambda x: _g(x, 1650, 45) + 0.8 * _g(x, 1540, 40) + 0.3 * _g(x, 3300, 90),
}
#: A fourth spectrum that is in no library and matches no marker table entry confidently.
STRANGER = lambda x: _g(x, 1000, 60) + 0.7 * _g(x, 2500, 80)  # noqa: E731
FINE = np.linspace(650.0, 4000.0, 1200)


@pytest.fixture
def library_dir(tmp_path):
    """The three references as two-column CSV files (wavenumber, absorbance) on a fine grid."""
    folder = tmp_path / "refs"
    folder.mkdir()
    for name, f in REFERENCES.items():
        np.savetxt(folder / f"{name}.csv", np.column_stack([FINE, f(FINE)]), delimiter=",",
                   header="wavenumber,absorbance", comments="")
    return folder


def _add_result(viewer, cube_layer, result):
    for data, kwargs, _kind in abundance_layer_tuples(
            result, source_id=cube_layer.unique_id, source_name=cube_layer.name,
            scale=tuple(cube_layer.scale[1:]), translate=tuple(cube_layer.translate[1:]),
            units=tuple(str(u) for u in cube_layer.units[1:])):
        viewer.add_image(data, **kwargs)


def _known_result(cube_layer, parameters=None) -> UnmixResult:
    """Endmembers: the three references (each with its own scale) and the stranger."""
    wn = np.asarray(cube_layer.metadata["wavenumbers"], dtype=np.float64)
    _b, h, w = cube_layer.data.shape
    em = np.column_stack([f(wn) * s for f, s in zip(REFERENCES.values(), (1.0, 2.5, 0.7), strict=True)]
                         + [STRANGER(wn)]).astype(np.float32)
    a = np.random.default_rng(0).gamma(0.6, size=(4, h, w))
    a = (a / a.sum(axis=0, keepdims=True)).astype(np.float32)
    return UnmixResult(abundances=a, endmembers=em, weights=np.ones(wn.size), wavenumbers=wn,
                       parameters=dict(parameters or {"method": "test", "k": 4}))


@pytest.fixture
def spectra(viewer):
    _dock, widget = viewer.window.add_plugin_dock_widget(PLUGIN, "Spectra")
    return widget


def _wait_identified(qtbot, spectra, result):
    qtbot.waitUntil(lambda: spectra.result is result and not spectra.identifying
                    and spectra.identification is not None, timeout=20_000)


def _maps(viewer):
    return sorted((lay for lay in viewer.layers if is_abundance_layer(lay)),
                  key=lambda lay: lay.metadata[RESULT_KEY]["index"])


# ---------------------------------------------------------------- Qt-free pieces


def test_unique_names_number_repeats():
    assert unique_names(["calcite", "calcite", "lead white", "calcite", " "]) == \
        ["calcite", "calcite 2", "lead white", "calcite 3", "endmember"]
    assert unique_names(["a 2", "a", "a"]) == ["a 2", "a", "a 3"]


def test_candidate_rows_say_no_confident_match_first():
    weak = Candidate(name="gypsum", kind="markers", score=0.2, confident=False, source="built-in")
    sure = Candidate(name="calcite", kind="markers", score=0.8, confident=True, source="built-in")
    rows = candidate_rows([weak])
    assert rows[0].candidate is None and rows[0].label.startswith(NO_MATCH)
    assert rows[1].candidate is weak and "0.20" in rows[1].label and "gypsum" in rows[1].label
    assert [r.candidate for r in candidate_rows([sure, weak])] == [sure, weak]


def test_reference_overlay_is_the_least_squares_scaled_reference():
    wn = np.linspace(700.0, 3900.0, 150)
    lib = Library()
    lib.add("alkyd resin", FINE, REFERENCES["alkyd resin"](FINE), source="a.csv")
    endmember = 3.0 * REFERENCES["alkyd resin"](wn) + 0.01
    cand = Candidate(name="alkyd resin", kind="library", score=1.0, confident=True, source="a.csv")
    x, y = reference_overlay(cand, lib, wn, endmember)
    ref = np.interp(wn, FINE, REFERENCES["alkyd resin"](FINE))
    expected = ref * (endmember @ ref) / (ref @ ref)
    np.testing.assert_allclose(x, wn)
    np.testing.assert_allclose(y, expected, rtol=1e-10)
    markers_only = Candidate(name="calcite", kind="markers", score=0.8, confident=True, source="built-in")
    assert reference_overlay(markers_only, lib, wn, endmember) is None


def test_trust_without_a_record_shows_only_names():
    result = UnmixResult(abundances=np.full((2, 3, 3), 0.5, np.float32), endmembers=np.ones((20, 2), np.float32),
                         weights=np.ones(20), wavenumbers=np.linspace(700, 3900, 20), parameters={"method": "nmf"})
    assert trust_labels(result, ["A", "B"]) == ["A", "B"]
    assert doubt_text(result, ["A", "B"]) == ""
    result.parameters["trust"] = [
        {"abundance_share": 0.6, "dominant_pixels": 0.7, "restart_spread_deg": 1.234},
        {"abundance_share": 0.4, "dominant_pixels": 0.3, "restart_spread_deg": 9.2}]
    assert trust_labels(result, ["A", "B"]) == ["A · spread 1.2° · share 60 %", "B · spread 9.2° · share 40 %"]
    assert doubt_text(result, ["A", "B"]) == "⚠ B varies by 9.2° between restarts: doubt its spectrum and map"


# ---------------------------------------------------------------- the panel


def test_markers_alone_give_candidates(viewer, cube_layer, spectra, qtbot):
    result = _known_result(cube_layer)
    _add_result(viewer, cube_layer, result)
    _wait_identified(qtbot, spectra, result)
    assert spectra.library is None
    assert len(spectra.identification) == 4
    assert all(c.kind == "markers" for cands in spectra.identification for c in cands)
    assert any(spectra.identification)
    assert "marker bands" in spectra.library_info.value


def test_library_names_the_endmembers(viewer, cube_layer, spectra, qtbot, library_dir, monkeypatch,
                                      notifications, tmp_path):
    result = _known_result(cube_layer)
    _add_result(viewer, cube_layer, result)
    _wait_identified(qtbot, spectra, result)

    asked = []
    monkeypatch.setattr(_widgets_common, "ask_open_path",
                        lambda *a, **k: asked.append(k) or str(library_dir))
    spectra.load_library.clicked()
    assert asked and asked[0].get("directory") is True
    qtbot.waitUntil(lambda: spectra.library is not None and not spectra.identifying, timeout=20_000)
    assert sorted(spectra.library.names) == sorted(REFERENCES)
    assert "3 reference spectra" in spectra.library_info.value

    # the top candidate of each known endmember is its reference; the stranger has none
    for i, name in enumerate(REFERENCES):
        assert spectra.accepted[i] is not None and spectra.accepted[i].name == name
        assert spectra.accepted[i].kind == "library"
    assert spectra.accepted[3] is None

    # the list shows the candidates with their scores; the stranger's starts with "no confident match"
    spectra.endmember_choice.value = 3
    assert spectra.selected == 3  # the plot follows the list
    labels = [spectra.candidates.native.item(j).text() for j in range(spectra.candidates.native.count())]
    assert labels[0].startswith(NO_MATCH)
    assert spectra.candidates.value == [0]
    spectra.endmember_choice.value = 1
    labels = [spectra.candidates.native.item(j).text() for j in range(spectra.candidates.native.count())]
    top = spectra.identification[1][0]
    assert labels[0] == f"✓ {top.score:.2f}  blue pigment · library"

    # choosing a candidate overlays its reference, scaled to the endmember, and shades its bands
    spectra.candidates.value = [0]
    line = spectra.overlay_line
    assert line is not None and line.get_linestyle() == "--"
    wn = result.wavenumbers
    ref = np.interp(wn, FINE, REFERENCES["blue pigment"](FINE))
    em = result.endmembers[:, 1].astype(np.float64)
    np.testing.assert_allclose(line.get_xdata(), wn)
    np.testing.assert_allclose(line.get_ydata(), ref * (em @ ref) / (ref @ ref), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(line.get_ydata(), em, atol=0.05 * em.max())  # it is the same spectrum
    assert spectra.marker_artists
    spans = [(a.get_x(), a.get_x() + a.get_width()) for a in spectra.marker_artists]
    assert any(lo < 1420 < hi for lo, hi in spans)  # the pigment's strongest band

    # a marker-band candidate has bands but no spectrum to overlay
    rows = [j for j, c in enumerate(spectra.identification[1]) if c.kind == "markers"]
    assert rows  # the pigment's carbonate-like bands also suggest a marker-table material
    spectra.candidates.value = [rows[0]]
    assert spectra.overlay_line is None and spectra.marker_artists
    assert spectra.accepted[1] is spectra.identification[1][rows[0]]
    spectra.candidates.value = [0]

    # Name layers: maps, legend, metadata and the result follow the accepted names
    spectra.name_layers.clicked()
    expected = [*REFERENCES, "EM4"]
    assert [lay.name for lay in _maps(viewer)] == [f"{n} abundance" for n in expected]
    for lay in _maps(viewer):
        info = lay.metadata[RESULT_KEY]
        assert info["name"] == expected[info["index"]]
        assert info["names"] == expected
        assert info["record"]["names"] == expected
    assert result.names == expected
    qtbot.waitUntil(lambda: [t.get_text() for t in spectra.ax_em.get_legend().get_texts()] == expected,
                    timeout=5000)
    assert spectra.current_endmember() == 1  # renaming keeps the listed endmember
    assert spectra.overlay_line in spectra.ax_em.lines  # and the overlay survives the replot
    assert spectra.endmember_choice.native.currentText().startswith("blue pigment")
    assert not notifications.errors()

    # a saved and reopened session keeps the names
    path = save_session(viewer, tmp_path / "named.ftirproj")
    viewer.layers.clear()
    load_session(viewer, path)
    maps = _maps(viewer)
    assert [lay.name for lay in maps] == [f"{n} abundance" for n in expected]
    for lay in maps:
        assert lay.metadata[RESULT_KEY]["names"] == expected
        assert lay.metadata[RESULT_KEY]["name"] == expected[lay.metadata[RESULT_KEY]["index"]]
        assert lay.metadata[RESULT_KEY]["result"].names == expected


def test_duplicate_names_get_a_number(viewer, cube_layer, spectra, qtbot, library_dir):
    result = _known_result(cube_layer)
    result.endmembers[:, 3] = result.endmembers[:, 0] * 1.7  # a second alkyd resin
    _add_result(viewer, cube_layer, result)
    spectra.load_references(library_dir)
    _wait_identified(qtbot, spectra, result)
    qtbot.waitUntil(lambda: spectra.library is not None and not spectra.identifying, timeout=20_000)
    assert spectra.accepted[3].name == "alkyd resin"
    spectra.name_layers.clicked()
    assert [lay.name for lay in _maps(viewer)] == [
        "alkyd resin abundance", "blue pigment abundance", "glue binder abundance", "alkyd resin 2 abundance"]


def test_a_new_result_is_identified_again(viewer, cube_layer, spectra, qtbot, library_dir):
    spectra.load_references(library_dir)  # before any result: only the library is read
    qtbot.waitUntil(lambda: spectra.library is not None and not spectra.identifying, timeout=20_000)
    assert spectra.identification is None
    result = _known_result(cube_layer)
    _add_result(viewer, cube_layer, result)
    _wait_identified(qtbot, spectra, result)
    assert [c.name if c else None for c in spectra.accepted] == [*REFERENCES, None]


def test_trust_of_a_real_run_is_shown(viewer, unmix_panel, wait_idle, spectra, qtbot):
    """A tiny CNN run with the default 2 restarts: spreads and shares in the list, doubts in the label."""
    assert unmix_panel.result is None
    unmix_panel.run.clicked()
    wait_idle(unmix_panel)
    result = unmix_panel.result
    _wait_identified(qtbot, spectra, result)
    trust = result.parameters["trust"]
    assert all(t["restart_spread_deg"] is not None for t in trust)
    names = spectra.names()
    shown = [spectra.endmember_choice.native.itemText(i) for i in range(spectra.endmember_choice.native.count())]
    assert shown == [f"{n} · spread {t['restart_spread_deg']:.1f}° · purest {100 * t['purest_abundance']:.0f} % · "
                     f"share {100 * t['abundance_share']:.0f} %" for n, t in zip(names, trust, strict=True)]
    note = spare_note(result.parameters)  # a run trained again with a spare says so first
    expected = "\n".join(([f"ℹ {note}"] if note else []) + [f"⚠ {s}" for s in doubts(trust, names).values()])
    assert spectra.doubts_info.value == expected
    assert spectra.doubts_info.native.isHidden() == (not expected)


def test_doubts_are_shown_and_older_records_show_nothing(viewer, cube_layer, spectra, qtbot):
    trust = [{"abundance_share": 0.4, "dominant_pixels": 0.4, "restart_spread_deg": 1.0},
             {"abundance_share": 0.3, "dominant_pixels": 0.3, "restart_spread_deg": 9.2, "purest_abundance": 0.55},
             {"abundance_share": 0.295, "dominant_pixels": 0.3, "restart_spread_deg": 2.0,
              "below_baseline": 0.2},
             {"abundance_share": 0.005, "dominant_pixels": 0.0, "restart_spread_deg": 0.5}]
    result = _known_result(cube_layer, {"method": "cnn", "k": 4, "trust": trust})
    _add_result(viewer, cube_layer, result)
    _wait_identified(qtbot, spectra, result)
    text = spectra.doubts_info.value
    assert text.splitlines() == [f"⚠ {s}" for s in doubts(trust, ["EM1", "EM2", "EM3", "EM4"]).values()]
    assert "EM2 varies by 9.2° between restarts and no pixel is more than 55 % of it" in text
    assert text.count("⚠") == 3
    assert "EM3 dips below its own baseline where other materials absorb (20 %" in text
    assert not spectra.doubts_info.native.isHidden()
    assert spectra.endmember_choice.native.itemText(1) == "EM2 · spread 9.2° · purest 55 % · share 30 %"
    assert spectra.endmember_choice.native.itemText(0) == "EM1 · spread 1.0° · share 40 %"  # an older record

    # a run trained again with a spare endmember: the note comes first
    spared = _known_result(cube_layer, {"method": "cnn", "k": 4, "trust": trust, "spare_endmembers": {
        "reason": "EM3 of the first run was 20% below its own baseline", "trained_k": 5,
        "dropped": [{"column": 4, "cost_deg": 0.8}]}})
    _add_result(viewer, cube_layer, spared)
    _wait_identified(qtbot, spectra, spared)
    lines = spectra.doubts_info.value.splitlines()
    assert lines[0] == ("ℹ EM3 of the first run was 20% below its own baseline: trained again with 5 endmembers, "
                        "the spare dropped")
    assert lines[1:] == [f"⚠ {s}" for s in doubts(trust, spectra.names()).values()] and len(lines) == 4

    # a result from an older run.json: no trust record, nothing shown (and nothing breaks)
    old = _known_result(cube_layer, {"method": "cnn", "k": 4})
    _add_result(viewer, cube_layer, old)
    _wait_identified(qtbot, spectra, old)
    assert spectra.doubts_info.value == ""
    assert spectra.doubts_info.native.isHidden()
    names = spectra.names()
    assert [spectra.endmember_choice.native.itemText(i) for i in range(4)] == names
