"""The command line never loses or mixes results, checks everything before working, and stops
cleanly on Ctrl-C."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from ftir_unmix.safe_write import verify_result_folder


def _command() -> list[str]:
    exe = shutil.which("ftir-unmix")
    return [exe] if exe else [sys.executable, "-m", "ftir_unmix.cli"]


def _cli(*args, cwd=None):
    return subprocess.run([*_command(), *map(str, args)], capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, cwd=cwd)


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    from ftir_unmix.synthetic import cross_section

    s = cross_section(12, 14, n_bands=160, materials=4, seed=5)
    path = tmp_path_factory.mktemp("safety") / "good.npz"
    np.savez(path, cube=s.cube.data, wavenumbers=s.cube.wavenumbers)
    return path


def _one_error_line(res) -> str:
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert res.returncode == 2, res.stderr
    assert len(lines) == 1 and lines[0].startswith("ftir-unmix: error: "), res.stderr
    assert "Traceback" not in res.stderr
    return lines[0]


@pytest.mark.parametrize("option, message", [
    (["--tau", "nan"], "--tau must be a finite number in [0, 1000]; got nan"),
    (["--sharpness", "nan"], "--sharpness must be a finite number in (0, 100]"),
    (["--gamma-rough", "nan"], "--gamma-rough must be"),
    (["--gamma-flat", "inf"], "--gamma-flat must be"),
    (["--tau", "-5"], "--tau must be a finite number in [0, 1000]; got -5"),
    (["--lr", "inf"], "--lr must be a finite number in (0, 1]; got inf"),
    (["--softmax-scale", "nan"], "--softmax-scale must be"),
    (["--softmax-scale", "inf"], "--softmax-scale must be"),
    (["--epochs", "99999999999999999999"], "--epochs must be an integer in [1, 100000]"),
    (["--seed", "-1"], "--seed must be an integer in [0, 4294967295]; got -1"),
    (["--seed", "12345678901234567890"], "--seed must be an integer in [0, 4294967295]"),
    (["--force-range", "nan:nan"], "--force-range must be a finite number"),
    (["--force-range", "5000:6000"], "--force-range 5000:6000 cm-1 holds no band of the spectrum"),
    (["--force-range", "abc"], "--force-range expects LO:HI"),
])
def test_bad_parameters_blame_the_option_not_the_file(good, tmp_path, option, message):
    line = _one_error_line(_cli("unmix", good, "--k", 3, "--out", tmp_path / "o", *option))
    assert message in line and "good.npz" not in line
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("k", [0, 1])
def test_k_below_two_gives_one_message(good, tmp_path, k):
    line = _one_error_line(_cli("unmix", good, "--k", k, "--out", tmp_path / "o"))
    assert line.endswith(f"--k must be an integer in [2, 256]; got {k}")


def test_out_is_checked_before_any_work(good, tmp_path):
    (tmp_path / "afile").write_text("x")
    t0 = time.perf_counter()
    line = _one_error_line(_cli("unmix", good, "--k", 3, "--out", tmp_path / "afile", "--epochs", 100000,
                                "--protocol", "paper"))
    assert time.perf_counter() - t0 < 30  # a 100000-epoch run would take hours
    assert line == f"ftir-unmix: error: {tmp_path / 'afile'}: is a file, not a folder; give a folder for the results"
    line = _one_error_line(_cli("unmix", good, "--k", 3, "--out", tmp_path / "afile" / "sub"))
    assert "cannot write the folder there" in line and line.startswith(f"ftir-unmix: error: {tmp_path}")


def test_overwrite_needs_the_option_and_never_touches_user_files(good, tmp_path):
    out = tmp_path / "r"
    assert _cli("unmix", good, "--k", 3, "--out", out, "--epochs", 6).returncode == 0
    assert verify_result_folder(out)["shape"]["k"] == 3
    line = _one_error_line(_cli("unmix", good, "--k", 4, "--out", out, "--epochs", 6))
    assert "holds an earlier result" in line and "--overwrite" in line
    assert verify_result_folder(out)["shape"]["k"] == 3
    assert _cli("unmix", good, "--k", 4, "--out", out, "--epochs", 6, "--overwrite").returncode == 0
    assert verify_result_folder(out)["shape"]["k"] == 4
    (out / "notes.txt").write_text("mine")
    line = _one_error_line(_cli("unmix", good, "--k", 3, "--out", out, "--epochs", 6, "--overwrite"))
    assert "did not write (notes.txt)" in line
    # the user's own files named like ours: refused too
    mine = tmp_path / "mine"
    mine.mkdir()
    for name in ("abundances.tif", "endmembers.csv", "run.json"):
        (mine / name).write_text("user")
    _one_error_line(_cli("unmix", good, "--k", 3, "--out", mine, "--epochs", 6, "--overwrite"))
    assert (mine / "run.json").read_text() == "user"


def test_weights_and_select_k_refuse_to_overwrite(good, tmp_path):
    csv = tmp_path / "existing.csv"
    csv.write_text("user data")
    line = _one_error_line(_cli("weights", good, "--out", csv))
    assert "existing.csv: already exists" in line and csv.read_text() == "user data"
    assert _cli("weights", good, "--out", csv, "--overwrite").returncode == 0
    assert csv.read_text().startswith("wavenumber,weight")
    line = _one_error_line(_cli("select-k", good, "--k-min", 2, "--k-max", 3, "--out", csv))
    assert "already exists" in line
    line = _one_error_line(_cli("select-k", good, "--k-min", 1, "--k-max", 3))
    assert "--k-min must be an integer in [2, 256]; got 1" in line
    line = _one_error_line(_cli("select-k", good, "--k-min", 5, "--k-max", 3))
    assert "--k-min must be ≤ --k-max" in line


def test_degenerate_data_blame_the_file(tmp_path):
    flat = tmp_path / "flat.npz"
    np.savez(flat, cube=np.full((6, 6, 40), 0.2, np.float32), wavenumbers=np.linspace(700, 4000, 40))
    line = _one_error_line(_cli("unmix", flat, "--k", 3, "--out", tmp_path / "o"))
    assert line == f"ftir-unmix: error: {flat}: every value of the cube is the same (0.2): nothing to unmix"
    three = tmp_path / "three.npz"
    np.savez(three, cube=np.random.default_rng(0).random((6, 6, 3)).astype(np.float32) + 0.1,
             wavenumbers=[1000.0, 1500.0, 2000.0])
    line = _one_error_line(_cli("unmix", three, "--k", 2, "--out", tmp_path / "o"))
    assert "quadratic baseline" in line and "three.npz" in line
    assert not (tmp_path / "o").exists()


def test_warnings_are_one_line_each_and_the_run_goes_on(tmp_path):
    data = np.random.default_rng(3).random((8, 8, 40)).astype(np.float32) + 0.1
    data[:2] = 0
    f = tmp_path / "zeros.npz"
    np.savez(f, cube=data, wavenumbers=np.linspace(700, 4000, 40))
    res = _cli("unmix", f, "--k", 3, "--out", tmp_path / "o", "--epochs", 5, "--quiet")
    assert res.returncode == 0, res.stderr
    assert res.stderr.strip() == ("ftir-unmix: warning: 16 of 64 pixels have an all-zero spectrum "
                                  "(outside the sample?); their abundances mean nothing")
    assert json.loads((tmp_path / "o" / "run.json").read_text())["parameters"]["warnings"]


def test_unreadable_npy_tells_the_cli_user_what_to_do(tmp_path):
    f = tmp_path / "cube.npy"
    np.save(f, np.random.default_rng(0).random((4, 5, 30)).astype(np.float32))
    line = _one_error_line(_cli("info", f))
    assert "--wavenumbers FILE" in line
    wn = tmp_path / "wn.txt"
    wn.write_text("\n".join(str(v) for v in np.linspace(700, 4000, 30)))
    res = _cli("info", f, "--wavenumbers", wn, "--json")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["bands"] == 30


class _Stderr:
    """Collects a process's stderr in a thread (tqdm writes carriage returns, no newlines)."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.text = ""
        self._thread = threading.Thread(target=self._read, args=(proc,), daemon=True)
        self._thread.start()

    def _read(self, proc: subprocess.Popen) -> None:
        while chunk := os.read(proc.stderr.fileno(), 4096):
            self.text += chunk.decode(errors="replace")

    def wait_for(self, needle: str, timeout: float) -> None:
        end = time.monotonic() + timeout
        while needle not in self.text:
            if time.monotonic() > end:
                raise AssertionError(f"{needle!r} not seen in {timeout} s; stderr: {self.text!r}")
            time.sleep(0.05)

    def join(self) -> str:
        self._thread.join(timeout=10)
        return self.text


def _start_long_run(good: Path, out: Path) -> tuple[subprocess.Popen, _Stderr]:
    # The paper protocol never stops on convergence: 100000 epochs run until interrupted.
    proc = subprocess.Popen([*_command(), "unmix", str(good), "--k", "3", "--out", str(out),
                             "--protocol", "paper", "--patches", "256", "--epochs", "100000"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    err = _Stderr(proc)
    err.wait_for("epoch", timeout=120)  # the progress bar: training has started
    return proc, err


def test_ctrl_c_writes_the_best_result_so_far_marked_cancelled(good, tmp_path):
    out = tmp_path / "run"
    proc, err = _start_long_run(good, out)
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=120) == 130
    text = err.join()
    assert "Traceback" not in text
    assert "cancelled after" in text and "best result so far" in text
    record = verify_result_folder(out)  # complete, every checksum right
    assert record["cancelled"] is True and record["parameters"]["stopped_by"] == "cancel"
    assert [p.name for p in tmp_path.iterdir()] == ["run"]


def test_second_ctrl_c_quits_at_once_writing_nothing(good, tmp_path):
    out = tmp_path / "run"
    proc, err = _start_long_run(good, out)
    proc.send_signal(signal.SIGINT)
    err.wait_for("Ctrl-C again", timeout=30)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=60) == 130
    text = err.join()
    assert "interrupted: nothing written" in text and "Traceback" not in text
    assert list(tmp_path.iterdir()) == []
