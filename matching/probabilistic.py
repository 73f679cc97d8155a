"""Probabilistic linking: blocking -> candidate pairs -> comparison vectors -> scores -> assignment.

``link_frames`` links any two frames (or dedupes one) as ``LinkSettings`` say; the left side
is processed in chunks so memory stays bounded whatever the size. ``link_probabilistic``
is the pipeline's seam: unlinked department records against the register persons.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from matching.comparators import Sides, comparison_levels, settings_expressions
from matching.model import FellegiSunter, u_sample_size
from matching.settings import BlockingRule, LinkSettings, load_settings

__all__ = [
    "LinkResult",
    "assign",
    "block_pairs",
    "comparison_matrix",
    "link_frames",
    "link_probabilistic",
    "link_to_register",
    "train_model",
]

log = logging.getLogger(__name__)

_SEAM_COLUMNS = ["record_key", "person_key", "household_no", "match_probability", "decision"]


@dataclass
class LinkResult:
    """Pairs kept after assignment (row positions into left/right) and how we got them."""

    pairs: pd.DataFrame  # left_row, right_row, match_weight, match_probability
    model: FellegiSunter
    stats: dict = field(default_factory=dict)
    # With ``keep_candidates`` (many_to_one): every candidate pair of the linked rows, the
    # probability shared among a row's candidates, before one is kept per row.
    candidates: pd.DataFrame | None = None


# --------------------------------------------------------------------------- blocking


def _rule_keys(sides: Sides, rule: BlockingRule) -> tuple[np.ndarray, np.ndarray]:
    """One int64 key per row and side for a (multi-column) rule; -1 where any key is missing."""
    return _joint_codes(sides, rule.keys)


def _joint_codes(sides: Sides, exprs: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """One int64 code per row and side for several expressions; -1 where any is missing."""
    kl = kr = None
    for expr in exprs:
        enc = sides.encode(expr)
        if kl is None:
            kl, kr = enc.left.copy(), enc.right.copy()
            continue
        # Combine, then re-number densely so three or more keys never overflow int64.
        bad_l, bad_r = (kl < 0) | (enc.left < 0), (kr < 0) | (enc.right < 0)
        both = np.concatenate([kl * np.int64(enc.n) + enc.left, kr * np.int64(enc.n) + enc.right])
        dense, _ = pd.factorize(both)  # hashing: any numbering will do
        kl, kr = dense[: len(kl)].astype(np.int64), dense[len(kl) :].astype(np.int64)
        kl[bad_l], kr[bad_r] = -1, -1
    return kl, kr


def _rule_index(sides: Sides, rule: BlockingRule) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Keys of both sides, right rows ordered by key, number of keys; once per Sides."""
    memo = sides.memo.setdefault("blocking", {})
    if rule.keys not in memo:
        kl, kr = _rule_keys(sides, rule)
        order = np.argsort(kr, kind="stable")
        order = order[kr[order] >= 0]
        n_keys = int(max(kl.max(initial=-1), kr.max(initial=-1))) + 1
        memo[rule.keys] = (kl, kr, order, n_keys)
    return memo[rule.keys]


class _Blocker:
    """Per rule: keys of both sides and the right side sorted by key (built once).

    Block sizes count the left ``rows`` the blocker serves (default all), so the pairs of a
    record do not depend on which other records share its frame.
    """

    def __init__(
        self, sides: Sides, rules: tuple[BlockingRule, ...], rows: np.ndarray | None = None
    ) -> None:
        self.rules = []
        for rule in rules:
            kl, kr, order, n_keys = _rule_index(sides, rule)
            served = kl if rows is None else kl[rows]
            left_count = np.bincount(served[served >= 0], minlength=n_keys)
            right_count = np.bincount(kr[kr >= 0], minlength=n_keys)
            too_big = left_count.astype(np.int64) * right_count > rule.max_block_pairs
            self.rules.append((kl, kr[order], order, too_big))

    def pairs(self, rows: np.ndarray, dedupe: bool) -> tuple[np.ndarray, np.ndarray]:
        """Candidate pairs (left row, right row) for the given left rows, over all rules."""
        found = []
        for kl, sorted_kr, order, too_big in self.rules:
            keys = kl[rows]
            ok = keys >= 0
            ok[ok] &= ~too_big[keys[ok]]
            left = rows[ok]
            keys = keys[ok]
            lo = np.searchsorted(sorted_kr, keys, "left")
            hi = np.searchsorted(sorted_kr, keys, "right")
            cnt = hi - lo
            total = int(cnt.sum())
            if total == 0:
                continue
            li = np.repeat(left, cnt)
            offs = np.arange(total) - np.repeat(np.cumsum(cnt) - cnt, cnt)
            ri = order[np.repeat(lo, cnt) + offs]
            keep = li < ri if dedupe else slice(None)
            found.append((li[keep], ri[keep]))
        if not found:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
        li = np.concatenate([f[0] for f in found]).astype(np.int64)
        ri = np.concatenate([f[1] for f in found]).astype(np.int64)
        width = np.int64(max(int(ri.max()) + 1, 1))
        # A pair found by several rules counts once (sort + neighbours: cheaper than np.unique).
        key = np.sort(li * width + ri)
        uniq = key[np.r_[True, key[1:] != key[:-1]]] if len(key) else key
        return uniq // width, uniq % width


def block_pairs(
    left: pd.DataFrame, right: pd.DataFrame | None, rules: tuple[BlockingRule, ...]
) -> tuple[np.ndarray, np.ndarray]:
    """All candidate pairs of two frames (or one, deduplicated) under the rules."""
    sides = Sides(left, left if right is None else right)
    return _Blocker(sides, rules).pairs(np.arange(len(left)), dedupe=right is None)


# --------------------------------------------------------------------------- comparing


def comparison_matrix(sides: Sides, settings: LinkSettings, li, ri) -> np.ndarray:
    """(pairs x comparisons) matrix of level indices."""
    gamma = np.zeros((len(li), len(settings.comparisons)), dtype=np.int8)
    for k, comp in enumerate(settings.comparisons):
        gamma[:, k] = comparison_levels(sides, comp, li, ri)
    index = {c.name: k for k, c in enumerate(settings.comparisons)}
    for k, comp in enumerate(settings.comparisons):
        for other, names in comp.neutral_if:
            o = index[other]
            levels = [j for j, lv in enumerate(settings.comparisons[o].levels) if lv.name in names]
            gamma[np.isin(gamma[:, o], levels), k] = 0
    return gamma


def _tf_adjustment(sides: Sides, settings: LinkSettings, gamma: np.ndarray, ri) -> np.ndarray:
    """log2(average tf / tf of the right value) for pairs at levels that ask for it."""
    adj = np.zeros(len(ri))
    for k, comp in enumerate(settings.comparisons):
        for j, level in enumerate(comp.levels):
            if not level.tf:
                continue
            at = np.flatnonzero(gamma[:, k] == j)
            if len(at) == 0:
                continue
            tf, average = sides.right_tf(level.tf)
            codes = sides.encode(level.tf).right[ri[at]]
            floor = 1.0 / max(len(sides.right), 1)
            value_tf = np.where(codes >= 0, tf[np.maximum(codes, 0)], average)
            adj[at] += np.log2(max(average, floor) / np.maximum(value_tf, floor))
    return adj


# --------------------------------------------------------------------------- training


def _train(
    sides: Sides,
    settings: LinkSettings,
    dedupe: bool,
    label_column: str | None = None,
) -> tuple[FellegiSunter, dict]:
    """u from random pairs; m from labelled matches where there are some, else by EM.

    ``label_column`` (or the settings' one with training 'labels') names an expression on
    both sides whose equal non-null values mark true matches, e.g. the person of an exact-ID
    link. With at least 50 labelled matches, m is their level shares (comparisons they
    cannot speak for, null there or built on the label, keep the settings' m) and the prior
    their share among candidate pairs; without labels EM estimates m and the prior.
    """
    rng = np.random.default_rng(settings.seed)
    model = FellegiSunter(settings.comparisons)
    nl, nr = len(sides.left), len(sides.right)
    stats: dict = {"training_records": nl}
    # u: random pairs are (almost all) non-matches; as many as the error bound needs.
    li, ri = _u_pairs(nl, nr, dedupe, settings, rng)
    model.estimate_u(
        comparison_matrix(sides, settings, li, ri), _exact_shares(sides, settings, dedupe)
    )
    stats["u_pairs"] = len(li)
    stats["u_bound"] = {
        "relative_error": settings.u_relative_error,
        "min_share": settings.u_min_share,
        "confidence": 0.95,
        "all_pairs": len(li) == (nl * (nl - 1) if dedupe else nl * nr),
    }

    # m: on the candidate pairs of a sample of left rows.
    rows = np.arange(nl)
    if nl > settings.train_rows:
        rows = np.sort(rng.choice(nl, settings.train_rows, replace=False))
    li, ri = _Blocker(sides, settings.blocking_rules, rows).pairs(rows, dedupe)
    stats["training_pairs"] = len(li)
    if settings.prior is not None:
        model.prior = settings.prior
    elif len(li):
        # Most records have one true partner among their candidates.
        model.prior = float(np.clip(min(len(rows), nr) / len(li), 1e-6, 0.5))
    if len(li) == 0 or settings.training == "fixed":
        return model, stats
    gamma = comparison_matrix(sides, settings, li, ri)
    label = label_column or (settings.label_column if settings.training == "labels" else None)
    if label:
        enc = sides.encode(label)
        a, b = enc.left[li], enc.right[ri]
        is_match = (a == b) & (a >= 0)
        stats["labelled_matches"] = int(is_match.sum())
        if is_match.sum() >= 50:
            saved = [m.copy() for m in model.m]
            model.estimate_m_labels(gamma, is_match)
            seen = (gamma[is_match] > 0).any(axis=0)
            learnt = []
            for k, comp in enumerate(settings.comparisons):
                # The label says nothing about its own m; a comparison null on every
                # labelled pair has nothing learnt: both keep the settings' m.
                if label in comp.columns or not seen[k]:
                    model.m[k] = saved[k]
                else:
                    learnt.append(comp.name)
            # Prior: the share of true pairs among the candidates of labelled records.
            labelled = int((a >= 0).sum())
            model.prior = float(np.clip(is_match.sum() / max(labelled, 1), 1e-6, 0.5))
            stats["m_from_labels"] = learnt
            # No EM after labels: on candidate pairs (chosen for agreeing names) with u
            # from random pairs it drifts to a prior near 1 and learns that true matches
            # disagree on the ID (demo city: prior 0.9987, m(id else) 0.5).
            stats["trained_by"] = model.trained_by
            return model, stats
        # Too few labels (no trusted IDs, as on cadre visits): keep the settings' m. EM on
        # candidate pairs chosen by name and village learns namesakes of other villages
        # (100,000-household city: visits 95.7% right with EM, 99.4% with the settings).
        stats["trained_by"] = model.trained_by
        return model, stats
    if len(li) >= settings.em_min_pairs:
        # The prior stays the one-partner-per-record share: left free on candidate pairs
        # (chosen for agreeing keys) with u from random pairs, EM calls nearly every pair
        # a match (1M department records: prior 0.9999997, and every pair kept).
        model.estimate_m_em(gamma, max_iter=settings.em_max_iter, fix_prior=True)
        stats["em_iterations"] = model.em_iterations
    stats["trained_by"] = model.trained_by
    return model, stats


def _u_pairs(
    nl: int, nr: int, dedupe: bool, settings: LinkSettings, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Random pairs for u, sized by the settings' error bound; every pair (once) when the
    job has no more than the bound asks for, so small jobs carry no sampling error."""
    available = nl * (nl - 1) if dedupe else nl * nr
    n = u_sample_size(
        settings.u_relative_error, settings.u_min_share, available, settings.u_sample_pairs
    )
    if n >= available:
        li, ri = np.divmod(np.arange(nl * nr, dtype=np.int64), nr)
        keep = li != ri if dedupe else slice(None)
        return li[keep], ri[keep]
    li = rng.integers(0, nl, n)
    ri = rng.integers(0, nr, n)
    if dedupe:  # a record with itself is no pair: redraw its partner among the others
        ri = np.where(ri == li, (ri + rng.integers(1, max(nl, 2), n)) % nl, ri)
    return li, ri


def _exact_shares(sides: Sides, settings: LinkSettings, dedupe: bool) -> dict[int, float]:
    """Per comparison whose first level is 'exact': the share of non-null pairs that agree,
    from value counts over every pair of the job (no sampling). These are the rarest and
    strongest levels (a shared ID, name or birth date), where sampling errs the most.

    Pairs an other comparison makes neutral (``neutral_if``) are counted too: among random
    pairs those (agreeing IDs) are vanishingly few.
    """
    shares: dict[int, float] = {}
    for k, comp in enumerate(settings.comparisons):
        if len(comp.levels) < 3 or comp.levels[1].kind != "exact":
            continue
        present_l, present_r = _joint_codes(sides, comp.columns)
        key_l, key_r = _joint_codes(sides, comp.levels[1].columns or comp.columns)
        key_l, key_r = key_l[present_l >= 0], key_r[present_r >= 0]
        n_l, n_r = len(key_l), len(key_r)
        pairs = n_l * (n_l - 1) if dedupe else n_l * n_r
        if pairs == 0:
            continue
        size = int(max(key_l.max(initial=-1), key_r.max(initial=-1))) + 1
        cl = np.bincount(key_l[key_l >= 0], minlength=size).astype(np.float64)
        cr = cl if dedupe else np.bincount(key_r[key_r >= 0], minlength=size).astype(np.float64)
        agree = float(np.dot(cl, cr - 1.0 if dedupe else cr))
        # Never agreed: half a pair, as for sampled levels never seen.
        shares[k] = max(agree, 0.5) / pairs
    return shares


def train_model(
    left: pd.DataFrame,
    right: pd.DataFrame,
    settings: LinkSettings,
    label_column: str | None = None,
) -> tuple[FellegiSunter, dict]:
    """A model trained on ``left`` (its records, not only those to link) against ``right``."""
    sides = Sides(left.reset_index(drop=True), right.reset_index(drop=True))
    return _train(sides, settings, dedupe=False, label_column=label_column)


# --------------------------------------------------------------------------- assignment


def assign(pairs: pd.DataFrame, how: str) -> pd.DataFrame:
    """Keep the pairs the grain allows.

    - ``many_to_one``: each left row links to at most one right row; the probabilities of a
      row's candidates share one unit (odds / (1 + sum of odds)), so two equally good
      candidates both fall into review instead of one being picked at random.
    - ``one_to_one``: repeatedly keep pairs that are the best of both their rows.
    - ``none``: every pair.
    """
    if how == "none" or pairs.empty:
        return pairs
    if how == "many_to_one":
        out = _shared(pairs)
        best = out.sort_values(["left_row", "match_weight"], ascending=[True, False])
        return best.drop_duplicates("left_row").reset_index(drop=True)
    rest = pairs.sort_values("match_weight", ascending=False, kind="stable")
    kept = []
    while len(rest):
        best_l = ~rest["left_row"].duplicated()
        best_r = ~rest["right_row"].duplicated()
        mutual = rest[best_l & best_r]
        kept.append(mutual)
        used_l = set(mutual["left_row"])
        used_r = set(mutual["right_row"])
        rest = rest[~rest["left_row"].isin(used_l) & ~rest["right_row"].isin(used_r)]
    return pd.concat(kept, ignore_index=True).sort_values(["left_row", "right_row"])


def _shared(pairs: pd.DataFrame) -> pd.DataFrame:
    """A row's candidates share one unit of probability: odds / (1 + sum of its odds)."""
    w = np.clip(pairs["match_weight"].to_numpy(), -60, 60)
    odds = np.exp2(w)
    total = pd.Series(odds).groupby(pairs["left_row"].to_numpy()).transform("sum").to_numpy()
    return pairs.assign(match_probability=odds / (1.0 + total))


# --------------------------------------------------------------------------- linking


def link_frames(
    left: pd.DataFrame,
    right: pd.DataFrame | None,
    settings: LinkSettings,
    model: FellegiSunter | None = None,
    rows: np.ndarray | None = None,
    label_column: str | None = None,
    keep_candidates: bool = False,
) -> LinkResult:
    """Link ``left`` to ``right`` (or dedupe ``left`` when right is None).

    Without ``model`` one is trained on all of ``left`` (with labels from ``label_column``
    where given); only the left ``rows`` (default all) are linked. Training on a source's
    whole frame and linking its unresolved rows shares one encoding of both sides.
    ``keep_candidates`` (many_to_one only) also returns every candidate pair of the linked
    rows with its shared probability (``LinkResult.candidates``): leads weigh them against
    more evidence (``matching.evidence``).
    """
    dedupe = right is None or settings.link_type == "dedupe_only"
    left = left.reset_index(drop=True)
    right = left if right is None else right.reset_index(drop=True)
    rows = np.arange(len(left)) if rows is None else np.asarray(rows, dtype=np.int64)
    # Seconds per stage: derive keys, train, block, score, assign (see benchmarks.match).
    timings = dict.fromkeys(("derive_s", "train_s", "block_s", "score_s", "assign_s"), 0.0)
    t0 = time.perf_counter()
    sides = Sides(left, right)
    for expr in settings_expressions(settings, derived_only=False):
        sides.encode(expr)
    timings["derive_s"] = time.perf_counter() - t0

    stats: dict = {}
    t0 = time.perf_counter()
    if model is None:
        model, stats = _train(sides, settings, dedupe, label_column)
    timings["train_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    blocker = _Blocker(sides, settings.blocking_rules, rows)
    timings["block_s"] += time.perf_counter() - t0
    kept, n_pairs, every = [], 0, []
    keep_candidates = keep_candidates and settings.assignment == "many_to_one"
    # Keep what could still matter after assignment (a row's best candidates), not all pairs.
    floor = min(settings.review_threshold, 0.01)
    for start in range(0, len(rows), settings.chunk_rows):
        t0 = time.perf_counter()
        li, ri = blocker.pairs(rows[start : start + settings.chunk_rows], dedupe)
        n_pairs += len(li)
        t1 = time.perf_counter()
        timings["block_s"] += t1 - t0
        if len(li) == 0:
            continue
        gamma = comparison_matrix(sides, settings, li, ri)
        weight = model.match_weight(gamma, _tf_adjustment(sides, settings, gamma, ri))
        prob = model.probability(weight)
        keep = prob >= floor
        chunk = pd.DataFrame(
            {
                "left_row": li[keep],
                "right_row": ri[keep],
                "match_weight": weight[keep],
                "match_probability": prob[keep],
            }
        )
        t2 = time.perf_counter()
        timings["score_s"] += t2 - t1
        if settings.assignment == "many_to_one":
            # A row's candidates are all in its chunk: assign here, keep one pair per row.
            if keep_candidates:
                every.append(_shared(chunk))
            chunk = assign(chunk, "many_to_one")
            chunk = chunk[chunk["match_probability"] >= settings.review_threshold]
        kept.append(chunk)
        timings["assign_s"] += time.perf_counter() - t2
    t0 = time.perf_counter()
    pairs = (
        pd.concat(kept, ignore_index=True)
        if kept
        else pd.DataFrame(
            {
                "left_row": pd.Series(dtype=np.int64),
                "right_row": pd.Series(dtype=np.int64),
                "match_weight": pd.Series(dtype=float),
                "match_probability": pd.Series(dtype=float),
            }
        )
    )
    if settings.assignment != "many_to_one":  # many_to_one: done chunk by chunk
        pairs = assign(pairs, settings.assignment)
    pairs = pairs[pairs["match_probability"] >= settings.review_threshold].reset_index(drop=True)
    timings["assign_s"] += time.perf_counter() - t0
    stats |= {"linked_rows": len(rows), "candidate_pairs": n_pairs, "kept_pairs": len(pairs)}
    stats |= {k: round(v, 3) for k, v in timings.items()}
    log.info("linked %d x %d rows: %s", len(rows), len(right), stats)
    candidates = None
    if keep_candidates:
        candidates = pd.concat(every, ignore_index=True) if every else pairs.iloc[0:0]
    return LinkResult(pairs, model, stats, candidates)


def link_to_register(
    records: pd.DataFrame,
    persons: pd.DataFrame,
    settings: LinkSettings | None = None,
    model: FellegiSunter | None = None,
    link: np.ndarray | None = None,
    label_column: str | None = None,
    keep_candidates: bool = False,
) -> tuple[pd.DataFrame, LinkResult]:
    """``link_probabilistic`` with the model and statistics; ``link`` masks the records to
    link (the others only train the model, with labels from ``label_column``).
    ``keep_candidates``: ``LinkResult.candidates`` holds every candidate of the linked
    records as record_key, person_key, household_no, match_weight, match_probability."""
    settings = settings or load_settings("department")
    empty = pd.DataFrame({c: pd.Series(dtype=object) for c in _SEAM_COLUMNS})
    rows = np.arange(len(records)) if link is None else np.flatnonzero(link)
    if len(rows) == 0 or persons.empty:
        return empty, LinkResult(empty, model or FellegiSunter(settings.comparisons))
    records = records.reset_index(drop=True)
    persons = persons.reset_index(drop=True)
    result = link_frames(records, persons, settings, model, rows, label_column, keep_candidates)
    if result.candidates is not None:
        c = result.candidates
        result.candidates = pd.DataFrame(
            {
                "record_key": records["record_key"].to_numpy()[c["left_row"].to_numpy()],
                "person_key": persons["person_key"].to_numpy()[c["right_row"].to_numpy()],
                "household_no": persons["household_no"].to_numpy()[c["right_row"].to_numpy()],
                "match_weight": c["match_weight"].to_numpy(),
                "match_probability": c["match_probability"].to_numpy(),
            }
        )
    pairs = result.pairs
    right = pairs["right_row"].to_numpy()
    out = pd.DataFrame(
        {
            "record_key": records["record_key"].to_numpy()[pairs["left_row"].to_numpy()],
            "person_key": persons["person_key"].to_numpy()[right],
            "household_no": persons["household_no"].to_numpy()[right],
            "match_probability": pairs["match_probability"].to_numpy(),
        }
    )
    out["decision"] = np.where(
        out["match_probability"] >= settings.accept_threshold, "accepted", "review"
    )
    return out, result


def link_probabilistic(
    records: pd.DataFrame, persons: pd.DataFrame, settings: LinkSettings | None = None
) -> pd.DataFrame:
    """Unlinked records of one source -> register persons, one row per record with a candidate.

    ``records``: record_key, name_norm and where the source has them township, village,
    birth_date, sex, id_number (normalised or its trustworthy prefix), id_status.
    ``persons``: person_key, household_no, name_norm, township, village, birth_date, sex,
    id_number, relation, status. Returns record_key, person_key, household_no,
    match_probability, decision ('accepted' at or above the accept threshold, else 'review').
    """
    return link_to_register(records, persons, settings)[0]
