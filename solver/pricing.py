"""One pass over every eligible arc at given unit prices, compiled (numba) and run on every core.

The flow relaxation (:mod:`solver.flow`) prices every eligible arc once per round: 400 million
arcs at 10x Paris scale, where the vectorised NumPy pass (:meth:`solver.problem.Problem.iter_blocks`)
took 9 s a pass, most of it writing and reading the temporaries of a children x units block. This
pass computes each arc's cost in registers and keeps only what the caller needs: the cheapest
priced option of each child (the Lagrangian bound) and the arcs of least reduced cost below a
threshold (pricing's candidates), at most ``keep`` per child.

*One source of truth.* The cost is that of :meth:`~solver.problem.Problem.cost_block` (the same
terms in the same order, so the same floating-point value); the class rules come from
:attr:`~solver.problem.Problem.class_open_units` and the judge's rules from
:meth:`~solver.problem.Problem.judge_mask` (evaluated once per problem, :func:`judge_eligibility`).
``tests/test_solver_pricing.py`` checks the pass against the NumPy blocks arc by arc.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass

import numba
import numpy as np

from solver.problem import Arcs, Problem


_ONE_PASS_AT_A_TIME = threading.Lock()
"""numba's fallback thread pool (``workqueue``, when neither OpenMP nor TBB is installed) must not
be entered by two threads at once, and the service runs batch jobs on threads; each pass uses
every core anyway."""


@dataclass(frozen=True, eq=False)
class PricingArrays:
    """The problem as the compiled pass reads it (flat arrays, built once per problem)."""

    child_class: np.ndarray
    """Class of each child (int64)."""
    class_ptr: np.ndarray
    """Offsets of each class's open units in ``class_units`` (int64, classes + 1)."""
    class_units: np.ndarray
    judge_ptr: np.ndarray
    """Offset of each child's judge mask in ``judge_ok`` (aligned with its class's open units), -1 without one."""
    judge_ok: np.ndarray


_ARRAYS: weakref.WeakKeyDictionary[Problem, PricingArrays] = weakref.WeakKeyDictionary()


def pricing_arrays(problem: Problem) -> PricingArrays:
    """The flat arrays of ``problem`` (computed once per problem, kept while it lives)."""
    cached = _ARRAYS.get(problem)
    if cached is not None:
        return cached
    open_units = problem.class_open_units
    class_ptr = np.zeros(len(open_units) + 1, dtype=np.int64)
    class_ptr[1:] = np.cumsum([u.size for u in open_units])
    class_units = np.concatenate(open_units).astype(np.int32) if open_units else np.zeros(0, dtype=np.int32)
    judge_ptr = np.full(problem.n_children, -1, dtype=np.int64)
    masks: list[np.ndarray] = []
    offset = 0
    judged = np.array(sorted(problem.judged_children), dtype=np.int64)
    if judged.size:
        for kids, _units, _minutes, _cost, eligible in problem.iter_blocks(judged):
            for r, i in enumerate(kids.tolist()):
                judge_ptr[i] = offset
                masks.append(eligible[r])
                offset += eligible.shape[1]
    judge_ok = np.concatenate(masks) if masks else np.zeros(0, dtype=bool)
    arrays = PricingArrays(problem.child_class.astype(np.int64), class_ptr, class_units, judge_ptr, judge_ok)
    _ARRAYS[problem] = arrays
    return arrays


@numba.njit(parallel=True, cache=True)
def _pass(children, child_class, class_ptr, class_units, judge_ptr, judge_ok, unit_structure, structure_col,
          static, minutes, anchor_row, school_row, current_unit, transit_minute, school_minute, move, unreachable,
          prices, own, threshold, keep, scale):  # pragma: no cover - compiled; tested through price_pass
    n = children.size
    best = np.full(n, np.inf)
    count = np.zeros(n, dtype=np.int64)
    out_unit = np.full((n, keep), -1, dtype=np.int32)
    out_reduced = np.full((n, keep), np.inf)
    out_cost = np.zeros((n, keep))
    out_minutes = np.full((n, keep), np.nan, dtype=np.float32)
    for k in numba.prange(n):
        i = children[k]
        cl = child_class[i]
        a, b = class_ptr[cl], class_ptr[cl + 1]
        row, srow, cur, jp = anchor_row[i], school_row[i], current_unit[i], judge_ptr[i]
        o = own[i]
        red = np.empty(b - a)
        pos = np.empty(b - a, dtype=np.int64)
        cost_of = np.empty(b - a)
        minutes_of = np.empty(b - a, dtype=np.float32)
        found = 0
        low = np.inf
        for j in range(a, b):
            if jp >= 0 and not judge_ok[jp + j - a]:
                continue
            u = class_units[j]
            s = unit_structure[u]
            col = structure_col[s]
            mm = minutes[row, col] if row >= 0 and col >= 0 else np.float32(np.nan)
            c = (unreachable if np.isnan(mm) else np.float64(mm)) * transit_minute + static[s]
            if srow != -1 and school_minute != 0.0:
                sm = minutes[srow, col] if srow >= 0 and col >= 0 else np.float32(np.nan)
                c += (unreachable if np.isnan(sm) else np.float64(sm)) * school_minute
            if move != 0.0 and cur >= 0 and cur != u:
                c += move
            p = prices[u]
            if c + p < low:
                low = c + p
            r = np.floor(c * scale) / scale + p - o
            if keep > 0 and r < threshold:
                red[found] = r
                pos[found] = u
                cost_of[found] = c
                minutes_of[found] = mm
                found += 1
        best[k] = low
        if found:
            if found > keep:
                # only the ``keep`` least: partition, then sort those (ties at the cut kept in unit order)
                cut = np.partition(red[:found].copy(), keep - 1)[keep - 1]
                chosen = np.flatnonzero(red[:found] <= cut)
                order = chosen[np.argsort(red[chosen], kind="mergesort")]
            else:
                order = np.argsort(red[:found], kind="mergesort")
            m = min(found, keep)
            for q in range(m):
                t = order[q]
                out_unit[k, q] = pos[t]
                out_reduced[k, q] = red[t]
                out_cost[k, q] = cost_of[t]
                out_minutes[k, q] = minutes_of[t]
            count[k] = m
    return best, count, out_unit, out_reduced, out_cost, out_minutes


def price_pass(problem: Problem, prices: np.ndarray, own: np.ndarray | None = None, threshold: float = -1e-7,
               keep: int = 0, scale: float = 100.0, children: np.ndarray | None = None) -> tuple[np.ndarray, Arcs, np.ndarray]:
    """One pass over every eligible arc of ``children`` (default: all) at unit ``prices``.

    Returns ``(best, arcs, reduced)``: the cheapest priced cost ``cost + price`` of each child
    over its eligible arcs (``inf`` without one; aligned with ``children``), and the arcs whose
    reduced cost ``floor(cost * scale) / scale + price - own`` is below ``threshold``, at most
    ``keep`` per child (least reduced cost first, ordered by child), with those reduced costs.
    """
    arrays = pricing_arrays(problem)
    pool = np.arange(problem.n_children, dtype=np.int64) if children is None else np.asarray(children, dtype=np.int64)
    w = problem.weights
    own = np.zeros(problem.n_children) if own is None else np.asarray(own, dtype=np.float64)
    with _ONE_PASS_AT_A_TIME:
        best, count, unit, reduced, cost, minutes = _pass(
            pool, arrays.child_class, arrays.class_ptr, arrays.class_units, arrays.judge_ptr,
            arrays.judge_ok, problem.unit_structure, problem.structure_travel_col, problem.structure_static_cost,
            problem.travel.minutes, problem.child_travel_row, problem.child_school_row, problem.child_current_unit,
            float(w.transit_minute), float(w.school_minute), float(w.move), float(w.unreachable_minutes),
            np.asarray(prices, dtype=np.float64), own, float(threshold), int(keep), float(scale))
    taken = np.arange(unit.shape[1])[None, :] < count[:, None]
    rows = np.repeat(pool, count)
    arcs = Arcs(rows.astype(np.int32), unit[taken], cost[taken], minutes[taken])
    return best, arcs, reduced[taken]


@numba.njit(cache=True)
def label_correcting(child_o, cost_o, unit_o, starts, placed, own, unplaced, where, n_units, max_rounds):  # pragma: no cover - compiled
    """The smallest prices ``>= 0`` with ``price[v] >= base[c] - cost[c, v]`` on every arc, where
    ``base[c]`` is ``own[c] + price[where[c]]`` for a placed child and ``unplaced[c]`` otherwise:
    label-correcting rounds over the arcs grouped by unit (``starts``: each unit's first arc, and
    the end), updated in place (the same least fixed point as rounds that update all at once,
    reached in fewer rounds)."""
    price = np.zeros(n_units)
    for _ in range(max_rounds):
        changed = False
        for k in range(starts.size - 1):
            v = unit_o[starts[k]]
            best = price[v]
            for j in range(starts[k], starts[k + 1]):
                c = child_o[j]
                base = own[c] + price[where[c]] if placed[c] else unplaced[c]
                if base - cost_o[j] > best:
                    best = base - cost_o[j]
            if best > price[v] + 1e-9:
                price[v] = best
                changed = True
        if not changed:
            break
    return price
