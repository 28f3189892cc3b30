"""Nonnegative least squares for many right-hand sides that share one small matrix.

The cone fit (:func:`ftir_unmix.metrics.cone_angles`) solves one K×K problem per
pixel, tens of thousands per call and several calls per run. SciPy's ``nnls``
solves one at a time (about 30 µs each, most of it call overhead); neither SciPy nor
scikit-learn offers a batched solver, so this is the active-set method of Lawson and
Hanson run on all pixels at once, as in the "fast combinatorial" NNLS of Van Benthem
and Keenan (2004): pixels that share a passive set share one small solve. Pixels the
active-set loop leaves unconverged after its iteration cap go to SciPy's solver.
"""

from __future__ import annotations

import numpy as np

__all__ = ["nnls_gram"]


def nnls_gram(gram: np.ndarray, c: np.ndarray, passive: np.ndarray | None = None) -> np.ndarray:
    """Minimise ``½ aᵀ G a − cᵀ a`` over ``a ≥ 0`` for every row of ``c``.

    With ``G = AᵀA`` and ``c = Aᵀ y`` this is ``min ‖A a − y‖`` subject to ``a ≥ 0``.

    Parameters
    ----------
    gram : ndarray (K, K)
        Symmetric positive definite.
    c : ndarray (N, K)
    passive : ndarray of bool (N, K), optional
        A guess of each row's nonzero variables (a previous solution's, in an alternating
        fit): the solve starts there instead of from zero, which saves most of the passes
        when the guess is close. The solution does not depend on it.

    Returns
    -------
    ndarray (N, K)
        The nonnegative solution of each row.
    """
    gram = np.asarray(gram, np.float64)
    c = np.asarray(c, np.float64)
    n, k = c.shape
    tol = 1e-12 * max(1.0, float(np.sqrt(np.max(np.diag(gram)))) * float(np.abs(c).max(initial=0.0)))
    a = np.zeros((n, k))
    if passive is None:
        passive = np.zeros((n, k), bool)
        todo = np.flatnonzero((c > tol).any(axis=1))  # a = 0 is optimal where no gradient is positive
    else:
        passive = _feasible_start(gram, c, np.array(passive, bool), a)
        todo = np.flatnonzero(((c - a @ gram > tol) & ~passive).any(axis=1))
    for _ in range(3 * k):
        if not todo.size:
            break
        grad = c[todo] - a[todo] @ gram
        grad[passive[todo]] = -np.inf
        passive[todo, np.argmax(grad, axis=1)] = True  # let the most promising variable in
        rows = todo
        for _ in range(k + 1):  # at most one variable leaves per pass, per row
            s = _solve_on_passive(gram, c[rows], passive[rows])
            low = passive[rows] & (s <= 0)
            blocked = low.any(axis=1)
            a[rows[~blocked]] = s[~blocked]
            if not blocked.any():
                break
            # Step from a towards s as far as feasibility allows; the variables that hit zero leave.
            rows, s, low = rows[blocked], s[blocked], low[blocked]
            ar = a[rows]
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio = np.where(low, ar / (ar - s), np.inf)
            step = np.nan_to_num(ratio.min(axis=1), nan=0.0)
            ar = ar + step[:, None] * (s - ar)
            passive[rows] &= ar > tol
            a[rows] = np.where(passive[rows], ar, 0.0)
        grad = c[todo] - a[todo] @ gram
        todo = todo[((grad > tol) & ~passive[todo]).any(axis=1)]
    if todo.size:  # not converged within the cap (degenerate problems): solve those one by one
        from scipy.linalg import solve_triangular
        from scipy.optimize import nnls

        r = np.linalg.cholesky(gram).T
        for i, v in zip(todo, solve_triangular(r, c[todo].T, trans="T").T):
            a[i] = nnls(r, v)[0]
    return a


def _feasible_start(gram: np.ndarray, c: np.ndarray, passive: np.ndarray, a: np.ndarray) -> np.ndarray:
    """Shrink each row's guessed passive set until its unconstrained solution is positive, and
    write that solution into ``a``: a feasible start for the active-set loop, which then only
    adds (and removes) what the guess got wrong."""
    rows = np.flatnonzero(passive.any(axis=1))
    while rows.size:
        s = _solve_on_passive(gram, c[rows], passive[rows])
        low = passive[rows] & (s <= 0)
        bad = low.any(axis=1)
        a[rows[~bad]] = s[~bad]
        rows, low = rows[bad], low[bad]
        passive[rows] &= ~low
    return passive


#: A solve per passive set costs about 25 µs (most of it call overhead and indexing), the batched
#: solve about 0.01·K² µs a row: it is used where the sets are more than rows·K²/2500.
_SOLVE_PER_SET = 2500


def _solve_on_passive(gram: np.ndarray, c: np.ndarray, passive: np.ndarray) -> np.ndarray:
    """Each row's unconstrained solution on its passive set (zero elsewhere): one solve per
    distinct passive set, or, where the sets are many (nearly collinear columns make each
    row's own), one batched solve of every row's system with the other variables pinned."""
    s = np.zeros_like(c)
    k = passive.shape[1]
    if k <= 62:  # each passive set as one integer: a 1-D unique is far faster than rows'
        keys = passive.astype(np.int64) @ (np.int64(1) << np.arange(k, dtype=np.int64))
        _, first, group = np.unique(keys, return_index=True, return_inverse=True)
        patterns = passive[first]
    else:
        patterns, group = np.unique(passive, axis=0, return_inverse=True)
    if len(patterns) * _SOLVE_PER_SET > len(c) * k * k:
        return _solve_pinned(gram, c, passive)
    order = np.argsort(group.ravel(), kind="stable")
    starts = np.searchsorted(group.ravel()[order], np.arange(len(patterns) + 1))
    for p, lo, hi in zip(patterns, starts[:-1], starts[1:]):
        idx, cols = order[lo:hi], np.flatnonzero(p)
        if cols.size:
            s[idx[:, None], cols] = np.linalg.solve(gram[cols[:, None], cols], c[idx][:, cols].T).T
    return s


def _solve_pinned(gram: np.ndarray, c: np.ndarray, passive: np.ndarray, block: int = 4096) -> np.ndarray:
    """Every row's system solved at once: the gram restricted to the row's passive set, with
    the identity on the other variables and zero on their right-hand side, pins those to zero."""
    k = gram.shape[0]
    diag = np.arange(k)
    s = np.empty_like(c)
    for lo in range(0, len(c), block):
        p = passive[lo:lo + block]
        g = np.where(p[:, :, None] & p[:, None, :], gram, 0.0)
        g[:, diag, diag] = np.where(p, gram[diag, diag], 1.0)
        s[lo:lo + block] = np.linalg.solve(g, (c[lo:lo + block] * p)[..., None])[..., 0]
    return s
