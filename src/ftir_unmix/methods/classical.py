"""Classical unmixing methods: NMF, VCA and fully constrained least squares.

They serve as methods of their own (``"nmf"``, ``"vca-fcls"``) and as the CNN's
warm starts.

One shape convention throughout: pixel data ``Y`` are ``(N, B)`` (pixels ×
bands), endmembers ``E`` are ``(B, K)`` and abundances ``A`` are ``(K, N)``,
so that ``Y ≈ (E @ A).T``.
"""

from __future__ import annotations

import time
from collections.abc import Generator

import numpy as np
from scipy.optimize import nnls

from ..cube import as_pixels
from .base import MethodInput, MethodOutput, Progress

__all__ = ["fcls", "nmf", "project_simplex", "run_nmf", "run_vca_fcls", "vca", "vca_fcls"]


def _check_k(k: int, y: np.ndarray) -> int:
    k = int(k)
    if not 1 <= k <= min(y.shape):
        raise ValueError(f"k={k} must be between 1 and min(N, B) = {min(y.shape)}")
    return k


# --------------------------------------------------------------------------------------
# NMF
# --------------------------------------------------------------------------------------


def nmf(
    y: np.ndarray,
    k: int,
    *,
    seed: int = 0,
    max_iter: int = 1000,
    tol: float = 1e-4,
    sum_to_one: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Nonnegative matrix factorisation ``Y ≈ Aᵀ Eᵀ``.

    :class:`sklearn.decomposition.NMF` (Frobenius loss, coordinate descent,
    ``init="nndsvda"``). NMF needs nonnegative data: negative values (noise,
    baseline, negative atmospheric lines) are clipped to 0 first.

    Parameters
    ----------
    y : array_like, shape (N, B)
        Pixel spectra.
    k : int
        Number of endmembers.
    seed : int
        ``random_state`` of the factorisation (used by the random parts of
        the initialisation and solver).
    max_iter, tol : int, float
        Passed to scikit-learn.
    sum_to_one : bool
        Rescale so that each pixel's abundances sum to 1 (see Notes).

    Returns
    -------
    endmembers : ndarray, shape (B, K)
    abundances : ndarray, shape (K, N)

    Notes
    -----
    NMF fixes neither the scale of each component nor the sum of a pixel's
    abundances. With ``sum_to_one``, the component scales ``d`` are chosen by
    nonnegative least squares so that ``W d ≈ 1`` over all pixels (the
    balance between components under which abundances sum to one as nearly
    as possible; a component that gets ``d = 0`` is instead scaled to a
    maximum abundance of 1); endmembers are divided by ``d``. Each pixel's
    abundances are then divided by their sum ``s_n``, so ``E a_n`` equals
    the NMF reconstruction divided by ``s_n``: the fit is unchanged up to a
    per-pixel scale, which absorbs ATR contact variation.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> e_true, a_true = rng.random((50, 3)), rng.dirichlet(np.ones(3), 200).T
    >>> e, a = nmf((e_true @ a_true).T, 3)
    >>> e.shape, a.shape, bool(np.allclose(a.sum(axis=0), 1.0))
    ((50, 3), (3, 200), True)
    """
    from sklearn.decomposition import NMF  # heavy import, only when used

    data = np.clip(as_pixels(y, "pixel data"), 0.0, None)
    k = _check_k(k, data)
    model = NMF(n_components=k, init="nndsvda", random_state=int(seed), max_iter=int(max_iter), tol=tol)
    w = np.asarray(model.fit_transform(data), dtype=np.float64)  # (N, K)
    h = np.asarray(model.components_, dtype=np.float64)  # (K, B)
    if not sum_to_one:
        return h.T, w.T
    d, _ = nnls(w, np.ones(w.shape[0]))
    wmax = w.max(axis=0)
    unused = d <= 0
    d[unused] = np.divide(1.0, wmax[unused], out=np.ones(int(unused.sum())), where=wmax[unused] > 0)
    a = (w * d).T
    s = a.sum(axis=0)
    a = np.divide(a, s, out=np.full_like(a, 1.0 / k), where=s > 0)
    return h.T / d, a


# --------------------------------------------------------------------------------------
# VCA
# --------------------------------------------------------------------------------------


def _top_subspace(
    x: np.ndarray, r: int, mean: np.ndarray | None, seed: int, *, n_iter: int = 4, oversample: int = 10
) -> np.ndarray:
    """The ``r`` leading eigenvectors (B, r) of the second-moment matrix of ``x`` (B, N).

    With ``mean`` the covariance ``x xᵀ/N − m mᵀ`` (centred data), else
    ``x xᵀ/N``. Few bands: dense eigendecomposition. Many bands: seeded
    block subspace iteration with Rayleigh–Ritz (Halko et al. 2011) on
    products with ``x`` in its own precision, so the B×B matrix is never
    formed and a float32 cube of any size is not copied; the oversampling
    makes the r-dimensional subspace converge in a few passes.
    """
    b, n = x.shape
    m = None if mean is None else mean.astype(np.float64)

    def apply(q: np.ndarray) -> np.ndarray:  # second-moment matrix times q (B, l)
        out = np.asarray(x @ (x.T @ q.astype(x.dtype)), dtype=np.float64) / n
        return out if m is None else out - np.outer(m, m @ q)

    if b <= 400 or r + oversample >= b:
        gram = apply(np.eye(b))
    else:
        q = np.random.default_rng(seed).standard_normal((b, r + oversample))
        for _ in range(n_iter):
            q, _ = np.linalg.qr(apply(q))
        gram = q.T @ apply(q)
    vals, vecs = np.linalg.eigh(0.5 * (gram + gram.T))
    vecs = vecs[:, np.argsort(vals)[::-1][:r]]
    return vecs if gram.shape[0] == b else q @ vecs


def _project(u: np.ndarray, x: np.ndarray, mean: np.ndarray | None) -> np.ndarray:
    """Coordinates ``uᵀ(x − m)`` (r, N) in float64, without copying ``x``."""
    xd = np.asarray(u.T.astype(x.dtype) @ x, dtype=np.float64)
    return xd if mean is None else xd - (u.T @ mean)[:, None]


def vca(
    y: np.ndarray,
    k: int,
    *,
    seed: int = 0,
    snr: float | None = None,
    return_indices: bool = False,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Vertex Component Analysis (Nascimento & Dias, 2005).

    Finds ``k`` pixels at the vertices of the data simplex by repeated
    projections onto directions orthogonal to the vertices found so far.
    Following the reference algorithm, the data are first projected onto a
    ``k``-dimensional subspace: the affine (mean-centred, PCA) one plus a
    constant coordinate when the estimated SNR is below
    ``15 + 10 log10(k)`` dB, otherwise the linear one with a projective
    scaling. The returned endmembers are the chosen pixels *as projected*
    onto that subspace (denoised, as in the reference), clipped at 0.

    Written here because no well-kept Python package provides it; checked
    against the published algorithm and on synthetic mixtures with pure
    pixels (tests/core/test_baselines.py).

    Parameters
    ----------
    y : array_like, shape (N, B)
        Pixel spectra (float32 data are used as they are, not copied).
    k : int
        Number of endmembers.
    seed : int
        Seeds the random projection directions and the eigensolver start.
    snr : float, optional
        Signal-to-noise ratio in dB; estimated from the data by default.
    return_indices : bool
        Also return the indices of the chosen pixels.

    Returns
    -------
    endmembers : ndarray, shape (B, K)
    indices : ndarray of int, shape (K,)
        Only with ``return_indices``.

    Notes
    -----
    VCA assumes pure pixels exist; isolated outliers (spikes) are extreme
    points too and can be picked as vertices.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> e_true = rng.random((40, 3))
    >>> a_true = np.hstack([np.eye(3), rng.dirichlet(np.ones(3), 100).T])
    >>> e = vca((e_true @ a_true).T, 3)
    >>> e.shape
    (40, 3)
    """
    endmembers, indices = _vca(y, k, seed=seed, snr=snr)
    return (endmembers, indices) if return_indices else endmembers


def _vca(y: np.ndarray, k: int, *, seed: int, snr: float | None) -> tuple[np.ndarray, np.ndarray]:
    data = as_pixels(y, "pixel data")
    k = _check_k(k, data)
    x = data.T  # (B, N), the reference's layout (a view)
    b, n = x.shape
    rng = np.random.default_rng(seed)
    mean = x.mean(axis=1, dtype=np.float64)

    u_centred = None
    if snr is None:
        u_centred = _top_subspace(x, k, mean, seed)
        p_y = float(np.einsum("ij,ij->", x, x, dtype=np.float64)) / n
        p_x = float(np.sum(_project(u_centred, x, mean) ** 2)) / n + float(mean @ mean)
        num, den = p_x - k / b * p_y, p_y - p_x
        snr = np.inf if den <= 0 else 10.0 * np.log10(max(num, 1e-300) / den)
    snr_th = 15.0 + 10.0 * np.log10(k)

    if snr < snr_th:  # noisy: affine projection, vertices lifted by a constant coordinate
        # The leading k−1 principal directions are the first k−1 of the k already found.
        u = _top_subspace(x, k - 1, mean, seed) if u_centred is None else u_centred[:, : k - 1]
        xd = _project(u, x, mean)
        c = np.sqrt(np.max(np.sum(xd**2, axis=0)))
        proj = np.vstack([xd, np.full((1, n), c)])
        offset = mean
    else:  # clean: linear projection, then projective scaling onto a hyperplane
        u = _top_subspace(x, k, None, seed)
        xd = _project(u, x, None)
        scale = (xd.mean(axis=1) @ xd)[None, :]
        # A pixel on the wrong side of the hyperplane would be flung to infinity.
        tiny = 1e-12 * np.abs(scale).max()
        proj = xd / np.where(np.abs(scale) < tiny, tiny, scale)
        offset = np.zeros(b)

    indices = np.zeros(k, dtype=np.intp)
    verts = np.zeros((k, k))
    verts[-1, 0] = 1.0
    for i in range(k):
        w = rng.random((k, 1))
        f = w - verts @ np.linalg.pinv(verts) @ w
        f /= np.linalg.norm(f)
        indices[i] = int(np.argmax(np.abs(f.T @ proj)))
        verts[:, i] = proj[:, indices[i]]
    # The chosen pixels as seen in the subspace (denoised), back in band space.
    endmembers = np.clip(u @ xd[:, indices] + offset[:, None], 0.0, None)
    return endmembers, indices


# --------------------------------------------------------------------------------------
# FCLS
# --------------------------------------------------------------------------------------


def project_simplex(v: np.ndarray) -> np.ndarray:
    """Euclidean projection of each column onto the probability simplex.

    The sort-based algorithm (Held et al. 1974; Duchi et al. 2008; Condat
    2016), vectorised over columns.

    Parameters
    ----------
    v : array_like, shape (K, N)

    Returns
    -------
    ndarray, shape (K, N)
        Nonnegative columns summing to one.

    Examples
    --------
    >>> project_simplex(np.array([[2.0, 0.2], [0.0, 0.2]]))
    array([[1. , 0.5],
           [0. , 0.5]])
    """
    v = np.asarray(v, dtype=np.float64)
    k = v.shape[0]
    srt = -np.sort(-v, axis=0)
    css = np.cumsum(srt, axis=0) - 1.0
    ind = np.arange(1, k + 1, dtype=np.float64)[:, None]
    rho = np.count_nonzero(srt - css / ind > 0, axis=0) - 1  # last index kept positive
    theta = css[rho, np.arange(v.shape[1])] / (rho + 1)
    return np.maximum(v - theta, 0.0)


def _fista(
    gram: np.ndarray, cross: np.ndarray, a: np.ndarray, lipschitz: float, n_iter: int, tol: float
) -> np.ndarray:
    """Accelerated projected gradient on ½aᵀGa − cᵀa over the simplex, per column.

    Restarts momentum column-wise when it points uphill (O'Donoghue & Candès
    2015), which keeps the iteration monotone on ill-conditioned endmembers.
    """
    z = a.copy()
    t = np.ones(a.shape[1])
    step = 1.0 / lipschitz
    for _ in range(n_iter):
        a_new = project_simplex(z - step * (gram @ z - cross))
        diff = a_new - a
        restart = np.einsum("kn,kn->n", z - a_new, diff) > 0
        t_new = 0.5 * (1.0 + np.sqrt(1.0 + 4.0 * t * t))
        beta = np.where(restart, 0.0, (t - 1.0) / t_new)
        t = np.where(restart, 1.0, t_new)
        z = a_new + beta * diff
        a = a_new
        if np.abs(diff).max(initial=0.0) < tol:
            break
    return a


def _polish(
    gram: np.ndarray, cross: np.ndarray, a: np.ndarray, kkt_tol: float
) -> tuple[np.ndarray, np.ndarray]:
    """Exact solutions on the support ``a`` suggests, kept where KKT conditions hold.

    For support S the optimum solves [G_SS 1; 1ᵀ 0][a_S; μ] = [c_S; 1]; it is
    the global optimum when a_S ≥ 0 and the multipliers (Ga − c)_j + μ ≥ 0
    off S. Pixels are grouped by support, so each group is one small solve.
    Returns the polished abundances and a mask of the pixels proven optimal.
    """
    k, n = a.shape
    support = a > 0
    codes = (support * (1 << np.arange(k))[:, None]).sum(axis=0)
    out, ok = a.copy(), np.zeros(n, dtype=bool)
    for code in np.unique(codes):
        cols = np.flatnonzero(codes == code)
        s = np.flatnonzero((int(code) >> np.arange(k)) & 1)
        m = np.zeros((s.size + 1, s.size + 1))
        m[:-1, :-1] = gram[np.ix_(s, s)]
        m[:-1, -1] = m[-1, :-1] = 1.0
        rhs = np.vstack([cross[np.ix_(s, cols)], np.ones((1, cols.size))])
        try:
            sol = np.linalg.solve(m, rhs)
        except np.linalg.LinAlgError:  # degenerate (e.g. repeated endmembers): keep the iterate
            continue
        cand = np.zeros((k, cols.size))
        cand[s] = sol[:-1]
        mult = gram @ cand - cross[:, cols] + sol[-1]
        off = np.ones(k, dtype=bool)
        off[s] = False
        good = (cand[s] >= -kkt_tol).all(axis=0) & (mult[off] >= -kkt_tol).all(axis=0)
        cand = np.clip(cand, 0.0, None)
        cand /= cand.sum(axis=0, keepdims=True)
        out[:, cols[good]] = cand[:, good]
        ok[cols[good]] = True
    return out, ok


def fcls(
    y: np.ndarray,
    e: np.ndarray,
    *,
    max_iter: int = 5000,
    tol: float = 1e-9,
    chunk: int = 8192,
) -> np.ndarray:
    """Fully constrained least squares: nonnegative abundances summing to one.

    Solves ``min ‖y_n − E a_n‖²`` s.t. ``a_n ≥ 0, Σ a_n = 1`` for every pixel.
    Works on the K×K Gram matrix ``EᵀE`` and the K×N cross term ``EᵀYᵀ``, so
    an iteration costs O(K²N) whatever the number of bands: accelerated
    projected gradient on the simplex (sort-based projection, vectorised over
    pixels), then an exact solve on the support found, kept where the KKT
    conditions prove it optimal; pixels not yet proven iterate further. The
    data may be negative (no clipping is needed).

    Parameters
    ----------
    y : array_like, shape (N, B)
        Pixel spectra.
    e : array_like, shape (B, K)
        Endmembers.
    max_iter : int
        Maximum projected-gradient iterations in total.
    tol : float
        Stop iterating when no abundance changes by more than this.
    chunk : int
        Pixels per block when forming ``EᵀYᵀ`` (bounds memory for big cubes).

    Returns
    -------
    ndarray, shape (K, N)
        Abundances; each column is on the simplex.

    Examples
    --------
    >>> e = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    >>> fcls(np.array([[0.25, 0.75, 1.0]]), e).round(6)
    array([[0.25],
           [0.75]])
    """
    data = as_pixels(y, "pixel data")
    endm = np.asarray(e, dtype=np.float64)
    if endm.ndim != 2 or endm.shape[0] != data.shape[1]:
        raise ValueError(f"endmembers must be (B={data.shape[1]}, K), got shape {endm.shape}")
    k, n = endm.shape[1], data.shape[0]
    gram = endm.T @ endm
    cross = np.empty((k, n))
    for lo in range(0, n, chunk):
        cross[:, lo:lo + chunk] = (np.asarray(data[lo:lo + chunk], dtype=np.float64) @ endm).T
    if k == 1:
        return np.ones((1, n))
    lipschitz = float(np.linalg.eigvalsh(gram)[-1])
    if lipschitz <= 0:
        return np.full((k, n), 1.0 / k)
    kkt_tol = 1e-9 * max(lipschitz, float(np.abs(cross).max(initial=0.0)))
    # Warm start: unconstrained least squares projected onto the simplex.
    a = project_simplex(np.linalg.lstsq(gram, cross, rcond=None)[0])
    todo = np.arange(n)
    done_iter, rounds = 0, 50
    while todo.size and done_iter < max_iter:
        n_iter = min(rounds, max_iter - done_iter)
        sub = _fista(gram, cross[:, todo], a[:, todo], lipschitz, n_iter, tol)
        sub, ok = _polish(gram, cross[:, todo], sub, kkt_tol)
        a[:, todo] = sub
        todo = todo[~ok]
        done_iter += n_iter
        rounds = min(2 * rounds, 1000)  # the hard pixels get longer runs
    return a


def vca_fcls(y: np.ndarray, k: int, *, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Endmembers by :func:`vca`, abundances by :func:`fcls`.

    Parameters
    ----------
    y : array_like, shape (N, B)
    k : int
    seed : int

    Returns
    -------
    endmembers : ndarray, shape (B, K)
    abundances : ndarray, shape (K, N)
    """
    endm, _ = _vca(y, k, seed=seed, snr=None)
    return endm, fcls(y, endm)


def _run(inp: MethodInput, fit, name: str) -> Generator[Progress, None, MethodOutput]:
    yield Progress(phase="prepare", elapsed=time.perf_counter() - inp.t0, message=name)
    t = time.perf_counter()
    e, a = fit(np.asarray(inp.pixels), inp.config.k, seed=inp.config.seed)
    return MethodOutput(abundances=a.reshape(inp.config.k, *inp.shape), endmembers=e,
                        record={"device": "cpu"}, timings={"fit_s": time.perf_counter() - t})


def run_nmf(inp: MethodInput) -> Generator[Progress, None, MethodOutput]:
    """The ``"nmf"`` method: :func:`nmf` of the scaled pixels (no band weights, no background term)."""
    return (yield from _run(inp, nmf, "NMF"))


def run_vca_fcls(inp: MethodInput) -> Generator[Progress, None, MethodOutput]:
    """The ``"vca-fcls"`` method: :func:`vca_fcls` of the scaled pixels."""
    return (yield from _run(inp, vca_fcls, "VCA + FCLS"))
