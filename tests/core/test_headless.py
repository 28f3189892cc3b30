"""The engine must not pull GUI toolkits."""

from __future__ import annotations

import subprocess
import sys


def test_import_pulls_no_gui_modules():
    code = (
        "import sys, ftir_unmix, ftir_unmix.cli, ftir_unmix.run, ftir_unmix.io\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('qtpy', 'PyQt5', 'PyQt6', 'PySide2', 'PySide6', 'napari', 'magicgui', 'vispy'))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"GUI modules imported: {out.stdout}"


def test_public_names_resolve_lazily_and_completely():
    import subprocess
    import sys

    code = ("import sys, ftir_unmix; assert 'torch' not in sys.modules, 'import pulled torch'; "
            "missing = [n for n in ftir_unmix.__all__ if getattr(ftir_unmix, n, None) is None]; "
            "assert not missing, missing; assert set(ftir_unmix._EXPORTS) | {'__version__'} == set(ftir_unmix.__all__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
