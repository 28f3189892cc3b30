"""Batch runs on a local dask cluster: the same results as single runs, failures recorded, resumable."""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import tifffile

from ftir_unmix.batch import expand_inputs, iter_batch
from ftir_unmix.errors import OutputError, ParameterError
from ftir_unmix.run import run_to_end
from ftir_unmix.safe_write import verify_result_folder

OPTIONS = {"epochs": 20, "seed": 3, "threads": 1}


def _cli(*args, **kwargs):
    exe = shutil.which("ftir-unmix")
    cmd = [exe] if exe else [sys.executable, "-m", "ftir_unmix.cli"]
    return subprocess.run([*cmd, *map(str, args)], capture_output=True, text=True, stdin=subprocess.DEVNULL,
                          **kwargs)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """Three small cubes and a corrupt file in one folder."""
    from ftir_unmix.synthetic import cross_section

    folder = tmp_path_factory.mktemp("batch") / "in"
    folder.mkdir()
    for i in range(3):
        s = cross_section(12, 14, n_bands=120, materials=3, seed=i)
        np.savez(folder / f"section{i}.npz", cube=s.cube.data, wavenumbers=s.cube.wavenumbers)
    (folder / "corrupt.npz").write_bytes(b"PK\x03\x04" + b"\x00garbage" * 20)
    (folder / "notes.txt").write_text("not a cube: left out of the batch\n")
    return folder


def _rows(out: Path) -> dict[str, dict[str, str]]:
    with (out / "summary.csv").open() as fh:
        return {Path(r["file"]).name: r for r in csv.DictReader(fh)}


def test_batch_on_two_workers_matches_single_runs_and_records_the_failure(inputs, tmp_path):
    out = tmp_path / "out"
    summary = run_to_end(iter_batch([inputs], out, k=3, workers=2, **OPTIONS))
    rows = _rows(out)
    assert set(rows) == {"section0.npz", "section1.npz", "section2.npz", "corrupt.npz"}
    assert rows["corrupt.npz"]["status"] == "failed" and "corrupt.npz" in rows["corrupt.npz"]["error"]
    assert [r["status"] for n, r in sorted(rows.items()) if n != "corrupt.npz"] == ["done"] * 3
    assert len(summary.failed) == 1 and summary.workers == 2
    record = json.loads((out / "summary.json").read_text())
    assert record["counts"] == {"failed": 1, "done": 3} and record["producer"].startswith("napari-ftir-unmix")
    # each file's folder is exactly what a single `ftir-unmix unmix` writes with the same options
    single = tmp_path / "single"
    res = _cli("unmix", inputs / "section1.npz", "--k", 3, "--out", single, "--epochs", 20, "--seed", 3,
               "--threads", 1, "--quiet")
    assert res.returncode == 0, res.stderr
    verify_result_folder(out / "section1")
    for name in ("abundances.tif", "endmembers.csv", "band_weights.csv"):
        assert (out / "section1" / name).read_bytes() == (single / name).read_bytes(), name
    assert tifffile.imread(out / "section1" / "abundances.tif").shape == (3, 12, 14)


def test_rerun_skips_complete_results_and_overwrite_redoes_them(inputs, tmp_path):
    out = tmp_path / "out"
    run_to_end(iter_batch([inputs / "section0.npz", inputs / "section2.npz"], out, k=3, **OPTIONS))
    first = (out / "section0" / "run.json").read_bytes()
    # damage one result: it is redone, the complete one is skipped
    (out / "section2" / "endmembers.csv").write_text("edited")
    summary = run_to_end(iter_batch([inputs / "section0.npz", inputs / "section2.npz"], out, k=3, **OPTIONS))
    assert [r["status"] for r in summary.rows] == ["skipped", "done"]
    assert (out / "section0" / "run.json").read_bytes() == first
    verify_result_folder(out / "section2")
    again = run_to_end(iter_batch([inputs / "section0.npz"], out, k=3, overwrite=True, **OPTIONS))
    assert [r["status"] for r in again.rows] == ["done"]


def test_a_folder_of_someone_elses_files_is_not_touched(inputs, tmp_path):
    out = tmp_path / "out"
    (out / "section0").mkdir(parents=True)
    (out / "section0" / "mine.txt").write_text("keep me")
    summary = run_to_end(iter_batch([inputs / "section0.npz"], out, k=3, **OPTIONS))
    assert summary.rows[0]["status"] == "failed" and "did not write" in summary.rows[0]["error"]
    assert (out / "section0" / "mine.txt").read_text() == "keep me"
    (out / "summary.json").write_text("{}")  # not a summary of ours
    with pytest.raises(OutputError, match="not written by a batch"):
        run_to_end(iter_batch([inputs / "section0.npz"], out, k=3, **OPTIONS))


def test_inputs_are_expanded_and_checked(inputs, tmp_path):
    files = expand_inputs([inputs, str(inputs / "section*.npz")])
    assert [f.name for f in files] == ["corrupt.npz", "section0.npz", "section1.npz", "section2.npz"]
    with pytest.raises(ParameterError, match="no such file, folder or pattern"):
        expand_inputs([tmp_path / "missing"])
    with pytest.raises(ParameterError, match="no readable FTIR file"):
        expand_inputs([str(tmp_path / "*.xyz")])
    with pytest.raises(ParameterError, match="either k or k_range"):
        run_to_end(iter_batch([inputs], tmp_path / "o"))


def test_cli_select_k_per_file_and_exit_status(inputs, tmp_path):
    out = tmp_path / "out"
    res = _cli("batch", inputs / "section0.npz", inputs / "corrupt.npz", "--out", out, "--select-k", "2:3",
               "--epochs", 10, "--threads", 1, "--quiet")
    assert res.returncode == 1, res.stderr
    assert "1 of 2 files failed" in res.stderr and "Traceback" not in res.stderr
    rows = _rows(out)
    assert rows["section0.npz"]["status"] == "done" and rows["section0.npz"]["k"] in ("2", "3")
    assert json.loads((out / "section0" / "run.json").read_text())["shape"]["k"] == int(rows["section0.npz"]["k"])


def test_ctrl_c_stops_the_batch_and_keeps_the_summary(inputs, tmp_path):
    out = tmp_path / "out"
    exe = shutil.which("ftir-unmix")
    cmd = [exe] if exe else [sys.executable, "-m", "ftir_unmix.cli"]
    proc = subprocess.Popen([*cmd, "batch", str(inputs), "--out", str(out), "--k", "3", "--protocol", "paper",
                             "--epochs", "100000", "--patches", "256", "--threads", "1"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    err = b""
    deadline = time.monotonic() + 120
    while b"1/4" not in err and time.monotonic() < deadline:  # the corrupt file is done; the rest train
        err += os.read(proc.stderr.fileno(), 4096)
    assert b"1/4" in err, err
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    _stdout, rest = proc.communicate(timeout=120)
    stderr = (err + rest).decode(errors="replace")
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr
    statuses = {r["status"] for r in _rows(out).values()}
    assert statuses == {"failed", "cancelled"}
