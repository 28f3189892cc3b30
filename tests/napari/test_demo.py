"""The demo: a viewer with the sample and the three panels; the CLI entry."""

from __future__ import annotations

from ftir_unmix.napari import demo


def test_open_demo_docks_three_panels(make_napari_viewer):
    viewer = make_napari_viewer()
    viewer2, panels = demo.open_demo(viewer=viewer)
    assert viewer2 is viewer
    assert set(panels) == {"Unmix", "Band weights", "Spectra"}
    assert [lay.name for lay in viewer.layers] == ["synthetic cross-section"]
    assert panels["Unmix"].layer.value is viewer.layers[0]
    assert panels["Band weights"].layer.value is viewer.layers[0]
    assert viewer.canvas.overlays.current_slice.visible


def test_open_demo_with_a_file(make_napari_viewer, small_npz):
    viewer = make_napari_viewer()
    demo.open_demo(small_npz, viewer=viewer)
    assert viewer.layers[0].data.shape == (100, 16, 16)


def test_cli_demo_calls_run_demo(monkeypatch, small_npz):
    from ftir_unmix import cli

    calls = []
    monkeypatch.setattr(demo, "open_demo", lambda path=None: calls.append(("open", path)))
    monkeypatch.setattr("napari.run", lambda *a, **k: calls.append(("run",)))
    assert cli.main(["demo", str(small_npz)]) == 0
    assert calls == [("open", str(small_npz)), ("run",)]


def test_cli_demo_bad_file_is_one_line(tmp_path, capsys):
    from ftir_unmix import cli

    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not an archive")
    assert cli.main(["demo", str(bad)]) != 0
    err = capsys.readouterr().err.strip()
    assert "bad.npz" in err
    assert "\n" not in err
    assert "Traceback" not in err
