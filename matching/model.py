"""Fellegi-Sunter model: u from random pairs, m by EM or from labelled pairs, TF adjustment.

u is estimated from as many random pairs as a stated error bound needs (``u_sample_size``),
and a comparison's exact-agreement level from value counts, exactly (``estimate_u``).

A pair's comparison vector is one level index per comparison (0 = 'null', neutral). Its
match weight is log2(prior odds) + sum of log2(m/u) of its levels, plus term-frequency
adjustments log2(u_avg / tf(value)) where a level asks for them (a shared 王伟 is weaker
evidence than a shared 欧阳娜). EM works on the distinct comparison vectors with counts,
so it costs the same for a thousand pairs or a hundred million.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from matching.settings import Comparison

__all__ = ["U_CONFIDENCE_Z", "FellegiSunter", "pattern_counts", "u_sample_size"]

_EPS = 1e-9
_TF_CLIP = 10.0  # bits: one common or rare value never outweighs the rest of the record
U_CONFIDENCE_Z = 1.959964  # 95%, two-sided


def u_sample_size(relative_error: float, min_share: float, available: int, cap: int) -> int:
    """Random pairs for u: every level share p >= ``min_share`` within ``relative_error``
    of its value at 95% confidence (normal approximation of a binomial share: n =
    z^2 (1 - p) / (relative_error^2 p)); never more than ``cap`` nor than the ``available``
    pairs of the job (then every pair is compared once and u has no sampling error)."""
    p = min_share
    bound = int(np.ceil(U_CONFIDENCE_Z**2 * (1 - p) / (relative_error**2 * p)))
    return int(max(0, min(bound, cap, available)))


def pattern_counts(gamma: np.ndarray, sizes: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Distinct rows of the (pairs x comparisons) level matrix and how often each occurs."""
    if gamma.shape[0] == 0:
        return np.empty((0, gamma.shape[1]), dtype=np.int8), np.empty(0, dtype=np.int64)
    code = np.zeros(gamma.shape[0], dtype=np.int64)
    for k, size in enumerate(sizes):
        code = code * size + gamma[:, k]
    uniq, counts = np.unique(code, return_counts=True)
    rows = np.zeros((len(uniq), len(sizes)), dtype=np.int8)
    rest = uniq.copy()
    for k in range(len(sizes) - 1, -1, -1):
        rows[:, k] = rest % sizes[k]
        rest //= sizes[k]
    return rows, counts


@dataclass
class FellegiSunter:
    """m and u per comparison level, and the prior match share of candidate pairs."""

    comparisons: tuple[Comparison, ...]
    m: list[np.ndarray] = field(default_factory=list)
    u: list[np.ndarray] = field(default_factory=list)
    prior: float = 1e-4
    em_iterations: int = 0
    trained_by: str = "settings"

    def __post_init__(self) -> None:
        if not self.m:
            self.m = [_default_m(c) for c in self.comparisons]
        if not self.u:
            self.u = [
                np.full(len(c.levels), 1.0 / max(len(c.levels) - 1, 1)) for c in self.comparisons
            ]

    @property
    def sizes(self) -> list[int]:
        return [len(c.levels) for c in self.comparisons]

    # ------------------------------------------------------------------ training

    def estimate_u(self, gamma: np.ndarray, exact: dict[int, float] | None = None) -> None:
        """u = level shares among random pairs (almost all non-matches); null excluded.

        ``exact`` maps a comparison to the share of its first level counted exactly over all
        non-null pairs (value counts, see ``probabilistic``): that level takes it, the other
        levels share the rest in their sampled proportions.
        """
        exact = exact or {}
        for k, size in enumerate(self.sizes):
            counts = np.bincount(gamma[:, k], minlength=size).astype(np.float64)
            counts[0] = 0.0
            # Half a pair for levels never seen: agreement on a rare key is strong evidence,
            # but not infinitely strong.
            counts[1:] += 0.5
            u = _normalise(counts)
            if k in exact and size > 2:
                rest = u[2:].sum()
                u[1] = exact[k]
                u[2:] *= (1.0 - exact[k]) / rest if rest > 0 else 0.0
            self.u[k] = u

    def estimate_m_labels(self, gamma: np.ndarray, is_match: np.ndarray) -> None:
        """m = level shares among known matches (pairs that share an exact, trusted ID)."""
        matched = gamma[is_match]
        for k, size in enumerate(self.sizes):
            counts = np.bincount(matched[:, k], minlength=size).astype(np.float64)
            counts[0] = 0.0
            if counts[1:].sum() > 0:
                self.m[k] = _normalise(counts + 0.5)
        self.prior = float(np.clip(is_match.mean(), _EPS, 1 - _EPS))
        self.trained_by = "labels"

    def estimate_m_em(
        self,
        gamma: np.ndarray,
        max_iter: int = 50,
        tol: float = 1e-6,
        fixed: set[int] = frozenset(),
        fix_prior: bool = False,
    ) -> None:
        """Expectation maximisation of m and the prior with u fixed (as Splink does).

        ``fixed`` lists comparisons whose m stays as it is (e.g. trained from labels);
        ``fix_prior`` keeps the prior as it is.
        """
        rows, counts = pattern_counts(gamma, self.sizes)
        if len(rows) == 0:
            return
        w = counts.astype(np.float64)
        prior = self.prior if 0 < self.prior < 1 else 0.01
        for it in range(max_iter):
            log_m = sum(np.log(self.m[k][rows[:, k]] + _EPS) for k in range(len(self.sizes)))
            log_u = sum(np.log(self.u[k][rows[:, k]] + _EPS) for k in range(len(self.sizes)))
            logit = np.log(prior) - np.log1p(-prior) + log_m - log_u
            p = 1.0 / (1.0 + np.exp(-np.clip(logit, -60, 60)))
            pw = p * w
            new_prior = prior if fix_prior else float(np.clip(pw.sum() / w.sum(), _EPS, 1 - _EPS))
            change = abs(new_prior - prior)
            for k, size in enumerate(self.sizes):
                if k in fixed:
                    continue
                counts_k = np.bincount(rows[:, k], weights=pw, minlength=size)
                counts_k[0] = 0.0
                if counts_k[1:].sum() <= 0:
                    continue
                new = _normalise(counts_k + 1e-6 * counts_k.sum())
                change = max(change, float(np.abs(new - self.m[k]).max()))
                self.m[k] = new
            prior = new_prior
            self.em_iterations = it + 1
            if change < tol:
                break
        self.prior = prior
        self.trained_by = "em"

    # ------------------------------------------------------------------ scoring

    def level_weights(self) -> list[np.ndarray]:
        """log2(m/u) per level; the null level weighs 0."""
        out = []
        for m, u in zip(self.m, self.u, strict=True):
            w = np.log2((m + _EPS) / (u + _EPS))
            w[0] = 0.0
            out.append(w)
        return out

    def match_weight(self, gamma: np.ndarray, tf_adjust: np.ndarray | None = None) -> np.ndarray:
        """Total match weight (bits) including the prior."""
        weights = self.level_weights()
        total = np.full(gamma.shape[0], np.log2(self.prior / (1 - self.prior)))
        for k, w in enumerate(weights):
            total += w[gamma[:, k]]
        if tf_adjust is not None:
            total += np.clip(tf_adjust, -_TF_CLIP, _TF_CLIP)
        return total

    @staticmethod
    def probability(weight: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp2(-np.clip(weight, -60, 60)))

    def to_params(self) -> dict:
        """Exact parameters as plain data (JSON floats round-trip exactly)."""
        return {
            "prior": self.prior,
            "trained_by": self.trained_by,
            "em_iterations": self.em_iterations,
            "levels": [[c.name, [lv.name for lv in c.levels]] for c in self.comparisons],
            "m": [m.tolist() for m in self.m],
            "u": [u.tolist() for u in self.u],
        }

    @classmethod
    def from_params(cls, comparisons: tuple[Comparison, ...], params: dict) -> FellegiSunter:
        """The model ``to_params`` wrote; the comparisons must be the ones it was trained on."""
        expected = [[c.name, [lv.name for lv in c.levels]] for c in comparisons]
        if params["levels"] != expected:
            raise ValueError("stored parameters belong to other comparisons")
        return cls(
            comparisons,
            m=[np.asarray(m, dtype=np.float64) for m in params["m"]],
            u=[np.asarray(u, dtype=np.float64) for u in params["u"]],
            prior=float(params["prior"]),
            em_iterations=int(params["em_iterations"]),
            trained_by=str(params["trained_by"]),
        )

    def to_dict(self) -> dict:
        """Readable parameters (for reports): m, u and weight per level."""
        weights = self.level_weights()
        return {
            "prior": self.prior,
            "trained_by": self.trained_by,
            "em_iterations": self.em_iterations,
            "comparisons": {
                c.name: {
                    lv.name: {
                        "m": round(float(self.m[k][j]), 6),
                        "u": round(float(self.u[k][j]), 8),
                        "weight": round(float(weights[k][j]), 3),
                    }
                    for j, lv in enumerate(c.levels)
                }
                for k, c in enumerate(self.comparisons)
            },
        }


def _normalise(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, dtype=np.float64).copy()
    v[0] = 0.0
    s = v[1:].sum()
    if s > 0:
        v[1:] /= s
    v[0] = 1.0  # null: m = u = 1, weight 0
    return v


def _default_m(comp: Comparison) -> np.ndarray:
    """m from the settings where given, else a decreasing guess (strong levels first)."""
    n = len(comp.levels)
    guess = np.zeros(n)
    for j, lv in enumerate(comp.levels[1:], start=1):
        guess[j] = lv.m if lv.m is not None else 0.9 * 0.3 ** (j - 1)
    if comp.levels[-1].m is None:
        guess[-1] = max(guess[-1], 0.02)
    return _normalise(guess)
