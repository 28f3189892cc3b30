"""Where the shared, read-only sample data live (instrument files, Samson, atmosphere, references).

One setting: the environment variable ``FTIR_UNMIX_SHARED_DATA`` names the
folder (the one holding ``formats/``, ``unmixing/``, ``atmosphere/``,
``reference-spectra/``); without it, ``<repository>/../shared/data`` is used
when that folder exists beside a source checkout. Tests that need the data
skip with a reason when it is absent, and fail instead when
``FTIR_UNMIX_REQUIRE_SHARED_DATA=1`` (as in CI), so no test is silently lost.
The files are read in place, never copied (some licences forbid it).
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["ENV_VAR", "REQUIRE_VAR", "MISSING_REASON", "shared_data_dir", "shared_data_required"]

ENV_VAR = "FTIR_UNMIX_SHARED_DATA"
REQUIRE_VAR = "FTIR_UNMIX_REQUIRE_SHARED_DATA"
MISSING_REASON = (f"shared sample data not found: set {ENV_VAR} to the shared data folder "
                  "(the one holding formats/, unmixing/, atmosphere/, reference-spectra/)")


def shared_data_dir() -> Path | None:
    """The shared-data folder, or ``None`` when it is not set and not beside the repository."""
    env = os.environ.get(ENV_VAR)
    if env:
        path = Path(env)
        return path if path.is_dir() else None
    # src/ftir_unmix/_shared_data.py -> parents[2] is the repository root of a source checkout.
    candidate = Path(__file__).resolve().parents[2].parent / "shared" / "data"
    return candidate if candidate.is_dir() else None


def shared_data_required() -> bool:
    """True where missing shared data must fail the tests (``FTIR_UNMIX_REQUIRE_SHARED_DATA=1``)."""
    return os.environ.get(REQUIRE_VAR, "") not in ("", "0")
