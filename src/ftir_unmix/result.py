"""UnmixResult: maps, spectra and everything needed to reproduce them (the run record)."""

from __future__ import annotations

import json
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ._version import __version__
from .errors import ResultReadError
from .jsonable import dumps
from .preprocess.atmosphere import ATMOSPHERE_COLUMN
from .preprocess.background import BASELINES, polynomial_basis
from .safe_write import PRODUCER, atomic_file

__all__ = ["UnmixResult", "load_result"]

_ARRAYS = ("abundances", "endmembers", "weights", "wavenumbers", "loss_history")


@dataclass
class UnmixResult:
    """The outcome of one unmixing run.

    Attributes
    ----------
    abundances : ndarray (K, H, W) float32
        Abundance maps; each pixel's K values lie on the simplex.
    endmembers : ndarray (B, K) float32
        Endmember spectra in the units of the input cube, ascending wavenumber.
    weights : ndarray (B,)
        Band weights used by the loss (ones for SAD).
    wavenumbers : ndarray (B,)
        Band positions in cm⁻¹, ascending.
    names : list of str
        One name per endmember.
    loss_history : ndarray (epochs,)
        Mean training loss per epoch (empty for non-iterative methods).
    parameters : dict
        Every parameter and preprocessing step of the run.
    versions : dict
        Package versions.
    timings : dict
        Seconds spent per phase.
    diagnostics : dict
        Band-weight diagnostics by column name (arrays of shape (B,)).
    cancelled : bool
        True when the run was stopped early (the result is the best epoch so far).
    identification : dict
        Candidate names per endmember (:func:`ftir_unmix.identify.identification_to_json`),
        when the spectra were identified; part of the run record.
    """

    abundances: np.ndarray
    endmembers: np.ndarray
    weights: np.ndarray
    wavenumbers: np.ndarray
    names: list[str] = field(default_factory=list)
    loss_history: np.ndarray = field(default_factory=lambda: np.zeros(0))
    parameters: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    diagnostics: dict[str, np.ndarray] = field(default_factory=dict)
    cancelled: bool = False
    identification: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.names:
            self.names = [f"EM{i + 1}" for i in range(self.k)]
        if len(self.names) != self.k:
            raise ValueError(f"{len(self.names)} names for {self.k} endmembers")

    @property
    def k(self) -> int:
        """Number of endmembers."""
        return int(self.endmembers.shape[1])

    def reconstruct(self, rows: np.ndarray | int, cols: np.ndarray | int) -> np.ndarray:
        """Linear-mixing reconstruction ``Ê a`` of pixels, shape ``(..., B)``.

        This is the model the maps and spectra stand for (``x ≈ Ê a``); it is
        defined up to a positive per-pixel scale, since the spectral-angle
        loss ignores intensity (use :func:`scale_to` to compare with data).
        """
        a = self.abundances[:, rows, cols]  # (K, ...)
        return np.moveaxis(np.tensordot(self.endmembers, a, axes=(1, 0)), 0, -1)

    def baseline_basis(self) -> np.ndarray | None:
        """Basis (B, d + 1 + m) of the run's background term, or None without one: the baseline's
        polynomials and the m atmospheric spectra the run estimated and fitted (``atmosphere``).

        The maps and spectra stand for ``x ≈ s Ê a + P c`` with a per-pixel
        scale ``s`` and background coefficients ``c`` (see :func:`scale_to`).
        """
        if self.parameters.get("method", "cnn") != "cnn":
            return None
        degree = BASELINES.get(self.parameters.get("baseline", "none"))
        if degree is None:
            return None
        atmosphere = [np.asarray(v, np.float64) for k, v in self.diagnostics.items() if k.startswith(ATMOSPHERE_COLUMN)]
        return np.column_stack([polynomial_basis(self.wavenumbers, degree), *atmosphere])

    def run_record(self) -> dict[str, Any]:
        """The JSON-ready part of the record: parameters, versions, timings, names."""
        return {
            "producer": f"{PRODUCER} {__version__}",
            "names": list(self.names),
            "parameters": self.parameters,
            "versions": self.versions,
            "timings": self.timings,
            "cancelled": self.cancelled,
            "shape": {"k": self.k, "height": int(self.abundances.shape[1]),
                      "width": int(self.abundances.shape[2]),
                      "bands": int(self.endmembers.shape[0])},
            **({"identification": self.identification} if self.identification else {}),
        }

    def save(self, path: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
        """Save everything to one ``.npz`` file (arrays plus the run record as JSON).

        Parameters
        ----------
        path : path-like
            Ends in ``.npz``; a name without a suffix gets it.
        overwrite : bool
            Replace an existing file (refused otherwise).

        Returns
        -------
        Path
            The file written (atomically: complete or not at all).

        Raises
        ------
        ValueError
            ``path`` has another suffix than ``.npz``.
        OutputError
            The file exists and ``overwrite`` is false, or cannot be written.
        """
        path = Path(path)
        if path.suffix == "":
            path = path.with_suffix(".npz")
        elif path.suffix.lower() != ".npz":
            raise ValueError(f"{path}: a result is saved as .npz; got the suffix {path.suffix!r}")
        arrays = {name: np.asarray(getattr(self, name)) for name in _ARRAYS}
        arrays.update({f"diag_{k}": np.asarray(v) for k, v in self.diagnostics.items()})
        arrays["record"] = np.array(dumps(self.run_record()))
        with atomic_file(path, overwrite=overwrite) as tmp:
            np.savez_compressed(tmp, **arrays)
        return path


def scale_to(reference: np.ndarray, spectrum: np.ndarray, baseline: np.ndarray | None = None) -> np.ndarray:
    """``spectrum`` times the least-squares scale that best matches ``reference``.

    With ``baseline`` (a basis (B, r), e.g. :meth:`UnmixResult.baseline_basis`)
    the scale and a baseline in that basis are fitted together, and the
    scaled spectrum plus the baseline is returned.
    """
    if baseline is not None:
        design = np.column_stack([spectrum, baseline])
        coef, *_ = np.linalg.lstsq(design, reference, rcond=None)
        return design @ coef
    denom = float(np.dot(spectrum, spectrum))
    return spectrum * (float(np.dot(reference, spectrum)) / denom if denom > 0 else 0.0)


def load_result(path: str | os.PathLike[str]) -> UnmixResult:
    """Load a result written by :meth:`UnmixResult.save`.

    Raises
    ------
    ResultReadError
        The file is missing, truncated, corrupt or not a result of this
        package; the message names the file and the reason.
    """
    p = Path(path)
    if not p.is_file():
        raise ResultReadError(p, "not found" if not p.exists() else "is not a file")
    try:
        with open(p, "rb") as fh:
            if fh.read(4) != b"PK\x03\x04":
                raise ResultReadError(p, "not an .npz archive (no zip signature)")
        with np.load(p, allow_pickle=False) as f:
            missing = [n for n in ("record", *_ARRAYS) if n not in f.files]
            if missing:
                raise ResultReadError(p, f"not a saved result: no {', '.join(missing)}")
            record = json.loads(str(f["record"]))
            arrays = {name: np.asarray(f[name]) for name in _ARRAYS}
            diagnostics = {k[5:]: f[k] for k in f.files if k.startswith("diag_")}
        result = UnmixResult(
            **arrays,
            names=list(record["names"]),
            parameters=dict(record["parameters"]),
            versions=dict(record["versions"]),
            timings=dict(record["timings"]),
            diagnostics=diagnostics,
            cancelled=bool(record["cancelled"]),
            identification=dict(record.get("identification", {})),
        )
    except ResultReadError:
        raise
    except (zipfile.BadZipFile, EOFError) as exc:
        raise ResultReadError(p, f"corrupt or truncated archive ({exc})") from None
    except json.JSONDecodeError as exc:
        raise ResultReadError(p, f"the run record is not valid JSON ({exc.msg})") from None
    except KeyError as exc:
        raise ResultReadError(p, f"the run record lacks {exc}") from None
    except (ValueError, TypeError, OSError) as exc:
        reason = "contains Python objects (pickled data), not a saved result" if "pickle" in str(exc) \
            else f"cannot be read as a result ({exc})"
        raise ResultReadError(p, reason) from None
    if result.abundances.ndim != 3 or result.endmembers.ndim != 2 \
            or result.abundances.shape[0] != result.endmembers.shape[1] \
            or result.wavenumbers.shape != (result.endmembers.shape[0],):
        raise ResultReadError(p, "inconsistent array shapes: abundances "
                                 f"{result.abundances.shape}, endmembers {result.endmembers.shape}, "
                                 f"wavenumbers {result.wavenumbers.shape}")
    return result
