"""A visible-light photograph of the cross-section, registered onto the FTIR image (no Qt here).

The photo is an image layer placed, to begin with, beside the FTIR image at
about the same height. Two Points layers collect matching point pairs: one on
the photo ("photo points", in the photo's pixels) and one on the FTIR image or
a map ("FTIR points", in the image's pixels); pair *i* is the *i*-th point of
each. From three or more pairs an affine transform (photo pixel → FTIR pixel,
:class:`skimage.transform.AffineTransform`, least squares) is estimated; the
photo layer's ``affine`` becomes that transform followed by the image's pixel
→ µm scale, and the photo moves to the bottom of the layer list, underneath
the maps. The residual of each pair is reported in pixels and µm.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np

from ..safe_write import file_digest
from ._layers import DERIVED_KEY, derived_info, find_layer, spatial_transform

__all__ = [
    "PHOTO_SUFFIXES",
    "Registration",
    "add_photo",
    "estimate_affine",
    "point_pair_layers",
    "read_photo",
    "register_photo",
    "start_point_pairs",
    "update_photo_affine",
]

#: File types a photo is read from (by imageio).
PHOTO_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")
_PHOTO_COLOR = "#ffd60a"
_FTIR_COLOR = "#00e5ff"


@dataclasses.dataclass(frozen=True)
class Registration:
    """An estimated registration.

    Attributes
    ----------
    matrix_px : ndarray (3, 3)
        Photo pixel (row, column, 1) → FTIR pixel (row, column, 1).
    affine : ndarray (3, 3)
        Photo pixel → world (µm): what the photo layer's ``affine`` is set to.
    residuals_px, residuals_um : ndarray (N,)
        Distance between each FTIR point and its mapped photo point.
    """

    matrix_px: np.ndarray
    affine: np.ndarray
    residuals_px: np.ndarray
    residuals_um: np.ndarray

    @property
    def n_pairs(self) -> int:
        return int(self.residuals_px.size)

    @property
    def rms_px(self) -> float:
        return float(np.sqrt(np.mean(self.residuals_px ** 2)))

    @property
    def rms_um(self) -> float:
        return float(np.sqrt(np.mean(self.residuals_um ** 2)))


def read_photo(path: str | Path) -> np.ndarray:
    """A photograph as an array: (H, W, 3|4) colour or (H, W) grey.

    Raises
    ------
    ValueError
        The file cannot be read as an image (one line naming it).
    """
    import imageio.v3 as iio

    p = Path(path)
    try:
        img = np.asarray(iio.imread(p))
    except Exception as exc:  # imageio raises many types, some with several lines of hints
        first = (str(exc).strip().splitlines() or [""])[0].strip(" .")
        raise ValueError(f"{p}: not a readable image ({type(exc).__name__}: {first})") from None
    if img.ndim == 3 and img.shape[-1] not in (3, 4) and img.shape[0] in (3, 4):
        img = np.moveaxis(img, 0, -1)  # channels first (some TIFFs)
    if not (img.ndim == 2 or (img.ndim == 3 and img.shape[-1] in (3, 4))):
        raise ValueError(f"{p}: an image of shape {img.shape} is not a photo (H × W, or H × W × 3/4)")
    return img


def _spatial_matrix(cube_layer: Any) -> np.ndarray:
    """3 × 3 FTIR pixel (row, column) → world (µm) of the image's last two axes."""
    (sy, sx), (ty, tx), _ = spatial_transform(cube_layer)
    return np.array([[sy, 0.0, ty], [0.0, sx, tx], [0.0, 0.0, 1.0]])


def _beside(cube_layer: Any, photo_shape: tuple[int, ...]) -> np.ndarray:
    """A provisional affine that shows the photo right of the image, at the image's height."""
    h, w = (int(n) for n in cube_layer.data.shape[-2:])
    s_img = _spatial_matrix(cube_layer)
    height_um = h * s_img[0, 0]
    width_um = w * s_img[1, 1]
    s = height_um / max(1, int(photo_shape[0]))
    return np.array([[s, 0.0, s_img[0, 2]], [0.0, s, s_img[1, 2] + width_um * 1.05], [0.0, 0.0, 1.0]])


def add_photo(viewer: Any, photo: str | Path | np.ndarray, cube_layer: Any, *, name: str | None = None) -> Any:
    """Add a photo layer beside ``cube_layer``, at the bottom of the layer list.

    Parameters
    ----------
    photo : path or array
        A file (its path and SHA-256 are kept for sessions) or an image array.
    """
    path = None
    if isinstance(photo, (str, Path)):
        path = Path(photo).resolve()
        data = read_photo(path)
        name = name or f"photo {path.name}"
    else:
        data = np.asarray(photo)
        name = name or "photo"
    rgb = data.ndim == 3 and data.shape[-1] in (3, 4)
    info = {"role": "photo", "source_id": getattr(cube_layer, "unique_id", None),
            "path": str(path) if path else None, "sha256": file_digest(path) if path else None,
            "matrix_px": None}
    kwargs: dict[str, Any] = {"name": name, "rgb": rgb, "affine": _beside(cube_layer, data.shape),
                              "metadata": {DERIVED_KEY: info}, "units": spatial_transform(cube_layer)[2]}
    if not rgb:
        kwargs["colormap"] = "gray"
    layer = viewer.add_image(data, **kwargs)
    viewer.layers.move(list(viewer.layers).index(layer), 0)
    return layer


def start_point_pairs(viewer: Any, photo_layer: Any, cube_layer: Any) -> tuple[Any, Any]:
    """The two Points layers of point pairs for ``photo_layer`` (made if missing): (photo, FTIR)."""
    existing = point_pair_layers(viewer, photo_layer)
    if existing is not None:
        return existing
    photo_id = getattr(photo_layer, "unique_id", None)
    cube_id = getattr(cube_layer, "unique_id", None)
    (sy, sx), (ty, tx), units = spatial_transform(cube_layer)
    size_um = 2.5 * max(sy, sx)
    photo_affine = np.asarray(photo_layer.affine.affine_matrix, dtype=float)
    photo_px_um = float(np.sqrt(abs(np.linalg.det(photo_affine[:2, :2]))))
    common = {"ndim": 2, "border_color": "black", "border_width": 0.1,
              "text": {"string": "{pair}", "size": 10, "color": "white", "anchor": "upper_left"},
              "features": {"pair": np.zeros(0, dtype=int)}, "feature_defaults": {"pair": 1}}
    photo_pts = viewer.add_points(
        name="photo points", affine=photo_affine, face_color=_PHOTO_COLOR, units=units,
        size=size_um / max(photo_px_um, 1e-12),
        metadata={DERIVED_KEY: {"role": "photo_points", "source_id": cube_id, "photo_id": photo_id,
                                "matrix_px": derived_info(photo_layer).get("matrix_px")}},
        **common)
    ftir_pts = viewer.add_points(
        name="FTIR points", scale=(sy, sx), translate=(ty, tx), units=units, face_color=_FTIR_COLOR,
        size=size_um / max(sy, 1e-12),
        metadata={DERIVED_KEY: {"role": "ftir_points", "source_id": cube_id, "photo_id": photo_id}},
        **common)
    for layer in (photo_pts, ftir_pts):
        _number_points(layer)
    return photo_pts, ftir_pts


def _number_points(layer: Any) -> None:
    """Keep the ``pair`` feature (shown as text) equal to 1, 2, … in order."""

    def renumber(event: Any = None) -> None:
        action = str(getattr(event, "action", "added"))
        if not (action.endswith("added") or action.endswith("removed")):
            return
        n = len(layer.data)
        feats = layer.features
        if "pair" in feats and len(feats) == n and np.array_equal(np.asarray(feats["pair"]), np.arange(1, n + 1)):
            return
        layer.features = {"pair": np.arange(1, n + 1)}
        layer.feature_defaults = {"pair": n + 1}

    layer.events.data.connect(renumber)
    renumber()


def point_pair_layers(viewer: Any, photo_layer: Any) -> tuple[Any, Any] | None:
    """The (photo points, FTIR points) layers of a photo, if both exist."""
    photo_id = getattr(photo_layer, "unique_id", None)
    found: dict[str, Any] = {}
    for layer in viewer.layers:
        info = derived_info(layer)
        if info.get("photo_id") == photo_id and info.get("role") in ("photo_points", "ftir_points"):
            found[info["role"]] = layer
    if len(found) == 2:
        return found["photo_points"], found["ftir_points"]
    return None


def estimate_affine(photo_px: np.ndarray, ftir_px: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares affine transform photo pixel → FTIR pixel from point pairs.

    Parameters
    ----------
    photo_px, ftir_px : ndarray (N, 2)
        Matching points as (row, column), pair *i* in row *i*.

    Returns
    -------
    matrix : ndarray (3, 3)
    residuals : ndarray (N,)
        In FTIR pixels.

    Raises
    ------
    ValueError
        Fewer than three pairs, unequal counts, or points on one line.

    Examples
    --------
    >>> src = np.array([[0, 0], [10, 0], [0, 10]], float)
    >>> m, r = estimate_affine(src, src * 0.5 + 3)
    >>> (np.round(m, 6) + 0.0).tolist()
    [[0.5, 0.0, 3.0], [0.0, 0.5, 3.0], [0.0, 0.0, 1.0]]
    """
    src = np.asarray(photo_px, dtype=np.float64).reshape(-1, 2)
    dst = np.asarray(ftir_px, dtype=np.float64).reshape(-1, 2)
    if src.shape[0] != dst.shape[0]:
        raise ValueError(f"{src.shape[0]} points on the photo but {dst.shape[0]} on the FTIR image; "
                         "click the same number of points on both (pair i = the i-th point of each)")
    if src.shape[0] < 3:
        raise ValueError(f"an affine registration needs at least 3 point pairs; got {src.shape[0]}")
    for pts, where in ((src, "photo"), (dst, "FTIR image")):
        centred = pts - pts.mean(axis=0)
        sv = np.linalg.svd(centred, compute_uv=False)
        if sv[0] == 0 or sv[-1] / sv[0] < 1e-3:
            raise ValueError(f"the points on the {where} lie on one line; spread them out")
    from skimage.transform import AffineTransform

    if hasattr(AffineTransform, "from_estimate"):  # scikit-image ≥ 0.26
        tform = AffineTransform.from_estimate(src, dst)
        ok = bool(tform)
    else:  # pragma: no cover - older scikit-image
        tform = AffineTransform()
        ok = tform.estimate(src, dst)
    if not ok:
        raise ValueError("the affine transform could not be estimated from these points")
    matrix = np.asarray(tform.params, dtype=np.float64)
    mapped = (matrix[:2, :2] @ src.T).T + matrix[:2, 2]
    return matrix, np.linalg.norm(mapped - dst, axis=1)


def register_photo(viewer: Any, photo_layer: Any, cube_layer: Any,
                   pairs: tuple[Any, Any] | None = None) -> Registration:
    """Estimate the photo's registration from its point pairs and apply it.

    The photo (and its points layer) get ``affine`` = pixel→µm of the image
    after the estimated photo→image transform; the photo moves to the
    bottom of the layer list.

    Raises
    ------
    ValueError
        No point pairs, or pairs that do not determine a transform.
    """
    pairs = pairs or point_pair_layers(viewer, photo_layer)
    if pairs is None:
        raise ValueError("no point pairs yet: press 'Pick point pairs' and click matching points")
    photo_pts, ftir_pts = pairs
    matrix, res_px = estimate_affine(np.asarray(photo_pts.data)[:, -2:], np.asarray(ftir_pts.data)[:, -2:])
    spatial = _spatial_matrix(cube_layer)
    affine = spatial @ matrix
    (sy, sx), _, _ = spatial_transform(cube_layer)
    pts = np.asarray(photo_pts.data, dtype=np.float64)[:, -2:]
    mapped = (matrix[:2, :2] @ pts.T).T + matrix[:2, 2]
    res_um = np.linalg.norm((mapped - np.asarray(ftir_pts.data, dtype=np.float64)[:, -2:]) * [sy, sx], axis=1)
    reg = Registration(matrix, affine, res_px, res_um)
    for layer in (photo_layer, photo_pts):
        info = derived_info(layer)
        info["matrix_px"] = matrix.tolist()
        info["rms_px"] = reg.rms_px
        info["n_pairs"] = reg.n_pairs
        layer.affine = affine
    viewer.layers.move(list(viewer.layers).index(photo_layer), 0)
    return reg


def update_photo_affine(layer: Any, cube_layer: Any, ratio: float = 1.0) -> None:
    """Re-apply a photo's (or its points') registration after the image's pixel size changed; an
    unregistered photo is scaled by ``ratio`` (new / old pixel size)."""
    matrix = derived_info(layer).get("matrix_px")
    if matrix is not None:
        layer.affine = _spatial_matrix(cube_layer) @ np.asarray(matrix, dtype=np.float64)
    else:
        a = np.asarray(layer.affine.affine_matrix, dtype=np.float64)
        layer.affine = np.diag([ratio, ratio, 1.0]) @ a


def photo_cube(viewer: Any, photo_layer: Any) -> Any:
    """The FTIR layer a photo was placed on, if it is still there."""
    return find_layer(viewer, derived_info(photo_layer).get("source_id"))
