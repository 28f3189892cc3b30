"""Results are written atomically and never over what the program did not write."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from ftir_unmix import export as export_module
from ftir_unmix import load_result, unmix
from ftir_unmix.errors import OutputError, ResultReadError
from ftir_unmix.export import write_outputs, write_spectra_csv
from ftir_unmix.safe_write import (
    atomic_file,
    check_output_folder,
    folder_state,
    result_folder,
    verify_result_folder,
)


@pytest.fixture(scope="module")
def results(small_section, one_torch_thread):
    """Two results of different K of the same cube (K = 3 and K = 4)."""
    cube = small_section.cube
    return unmix(cube, 3, epochs=8, seed=0), unmix(cube, 4, epochs=8, seed=0)


def _leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_result_folder_is_complete_and_verifiable(results, tmp_path):
    out = tmp_path / "run"
    paths = write_outputs(results[0], out)
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in paths.values())
    record = verify_result_folder(out)
    assert record["shape"]["k"] == 3 and record["cancelled"] is False
    assert set(record["files"]) == {"abundances.tif", "endmembers.csv", "band_weights.csv"}
    assert _leftovers(tmp_path) == []
    # An edit after the fact is detected.
    with open(out / "endmembers.csv", "a") as fh:
        fh.write("edited\n")
    with pytest.raises(OutputError, match="endmembers.csv changed"):
        verify_result_folder(out)


def test_failure_between_two_files_leaves_the_earlier_result(results, tmp_path, monkeypatch):
    """A K=4 run that fails after writing its maps and spectra must not mix with the K=3 result."""
    out = tmp_path / "run"
    write_outputs(results[0], out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def fail(*_a, **_k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(export_module, "write_band_weights_csv", fail)
    with pytest.raises(OSError, match="No space left"):
        write_outputs(results[1], out, overwrite=True)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert verify_result_folder(out)["shape"]["k"] == 3
    assert _leftovers(tmp_path) == []


def test_failure_in_a_fresh_folder_leaves_nothing(results, tmp_path, monkeypatch):
    monkeypatch.setattr(export_module, "write_band_weights_csv",
                        lambda *a, **k: (_ for _ in ()).throw(KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        write_outputs(results[1], tmp_path / "new")
    assert list(tmp_path.iterdir()) == []


def test_overwrite_only_when_asked_and_only_our_own_files(results, tmp_path):
    out = tmp_path / "run"
    write_outputs(results[0], out)
    with pytest.raises(OutputError, match="holds an earlier result"):
        write_outputs(results[1], out)
    assert verify_result_folder(out)["shape"]["k"] == 3
    write_outputs(results[1], out, overwrite=True)
    assert verify_result_folder(out)["shape"]["k"] == 4
    assert _leftovers(tmp_path) == []
    # A file the user put there: never replaced, not even with overwrite.
    (out / "notes.txt").write_text("my notes")
    with pytest.raises(OutputError, match=r"did not write \(notes.txt\)"):
        write_outputs(results[0], out, overwrite=True)
    assert (out / "notes.txt").read_text() == "my notes"
    assert verify_result_folder(out)["shape"]["k"] == 4


def test_a_folder_of_the_users_own_files_is_refused(results, tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    for name in ("abundances.tif", "endmembers.csv", "run.json"):
        (out / name).write_text("the user's own file")
    assert folder_state(out) == "foreign"
    with pytest.raises(OutputError, match="did not write"):
        write_outputs(results[0], out, overwrite=True)
    assert all((out / n).read_text() == "the user's own file" for n in ("abundances.tif", "run.json"))


def test_output_locations_checked(tmp_path):
    (tmp_path / "file").write_text("x")
    assert folder_state(tmp_path / "file") == "file"
    with pytest.raises(OutputError, match="is a file, not a folder"):
        check_output_folder(tmp_path / "file")
    with pytest.raises(OutputError, match="cannot write the folder there"):
        check_output_folder(tmp_path / "file" / "sub")
    empty = tmp_path / "empty"
    empty.mkdir()
    assert folder_state(empty) == "empty" and check_output_folder(empty) == empty


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs Linux /proc (unwritable even for root)")
def test_unwritable_place_is_refused_before_work():
    with pytest.raises(OutputError, match="cannot write the folder there"):
        check_output_folder("/proc/self/results")


def test_result_folder_without_manifest_replaces_nothing(tmp_path):
    with pytest.raises(OutputError, match="no run.json"):
        with result_folder(tmp_path / "r") as tmp:
            (tmp / "abundances.tif").write_bytes(b"x")
    assert list(tmp_path.iterdir()) == []


def test_stale_partial_of_a_killed_run_is_cleaned(tmp_path):
    stale = tmp_path / ".r.partial-999999999-abcd1234"  # a pid that does not exist
    stale.mkdir()
    (stale / "abundances.tif").write_bytes(b"half")
    live = tmp_path / f".r.partial-{os.getpid()}-abcd1234"  # ours, still running: kept
    live.mkdir()
    with atomic_file(tmp_path / "r") as tmp:
        tmp.write_text("done")
    assert (tmp_path / "r").read_text() == "done"
    assert not stale.exists() and live.exists()


def test_single_files_refuse_overwrite_and_are_atomic(tmp_path):
    path = tmp_path / "spectra.csv"
    path.write_text("user data")
    wn = np.array([1000.0, 1100.0, 1200.0])
    with pytest.raises(OutputError, match="already exists"):
        write_spectra_csv(path, wn, np.ones((3, 1)), ["a"])
    assert path.read_text() == "user data"
    with pytest.raises(ValueError, match="2 names for 1 columns"):
        write_spectra_csv(path, wn, np.ones((3, 1)), ["a", "b"], overwrite=True)
    assert path.read_text() == "user data" and _leftovers(tmp_path) == []
    write_spectra_csv(path, wn, np.ones((3, 1)), ["a"], overwrite=True)
    assert path.read_text().splitlines()[0] == "wavenumber,a"


def test_result_save_refuses_overwrite_and_foreign_suffix(results, tmp_path):
    target = tmp_path / "run.npz"
    target.write_bytes(b"precious")
    with pytest.raises(OutputError, match="already exists"):
        results[0].save(target)
    assert target.read_bytes() == b"precious"
    notes = tmp_path / "notes.npz"
    notes.write_bytes(b"other")
    with pytest.raises(ValueError, match="saved as .npz"):
        results[0].save(tmp_path / "notes.txt")
    assert notes.read_bytes() == b"other" and not (tmp_path / "notes.txt").exists()
    saved = results[0].save(target, overwrite=True)
    assert load_result(saved).k == 3


def _saved(results, tmp_path):
    return results[0].save(tmp_path / "ok.npz")


@pytest.mark.parametrize("damage, reason", [
    (lambda b: b[: len(b) // 2], "corrupt or truncated"),
    (lambda b: b[:30] + bytes([b[30] ^ 0xFF]) + b[31:], "corrupt|cannot be read"),
    (lambda b: b"not a zip at all", "not an .npz archive"),
])
def test_load_result_names_the_file_and_the_reason(results, tmp_path, damage, reason):
    good = _saved(results, tmp_path)
    bad = tmp_path / "bad.npz"
    bad.write_bytes(damage(good.read_bytes()))
    with pytest.raises(ResultReadError, match=reason) as info:
        load_result(bad)
    assert str(info.value).startswith(str(bad)) and "\n" not in str(info.value)


def test_load_result_refuses_foreign_archives(tmp_path):
    foreign = tmp_path / "foreign.npz"
    np.savez(foreign, cube=np.zeros((2, 2, 3)), wavenumbers=np.arange(3.0))
    with pytest.raises(ResultReadError, match="not a saved result: no record"):
        load_result(foreign)
    pickled = tmp_path / "pickled.npz"
    np.savez(pickled, record=np.array([{"a": 1}], dtype=object), abundances=np.zeros(1),
             endmembers=np.zeros(1), weights=np.zeros(1), wavenumbers=np.zeros(1),
             loss_history=np.zeros(1))
    with pytest.raises(ResultReadError, match="pickled"):
        load_result(pickled)
    bad_json = tmp_path / "badjson.npz"
    np.savez(bad_json, record=np.array("{not json"), abundances=np.zeros((1, 2, 2)),
             endmembers=np.zeros((3, 1)), weights=np.zeros(3), wavenumbers=np.zeros(3),
             loss_history=np.zeros(0))
    with pytest.raises(ResultReadError, match="not valid JSON"):
        load_result(bad_json)
    with pytest.raises(ResultReadError, match="not found"):
        load_result(tmp_path / "missing.npz")


def test_run_json_is_strict_json_even_with_nan_in_the_record(results, tmp_path):
    r = results[0]
    r.parameters["odd"] = float("nan")
    try:
        write_outputs(r, tmp_path / "out")
    finally:
        del r.parameters["odd"]
    text = (tmp_path / "out" / "run.json").read_text()
    record = json.loads(text, parse_constant=lambda c: pytest.fail(f"{c} in run.json"))
    assert record["parameters"]["odd"] is None
