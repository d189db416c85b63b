"""One pass over every eligible arc at given unit prices, compiled (numba) and run on every core.

The flow relaxation (:mod:`solver.flow`) prices every eligible arc once per round: 400 million
arcs at 10x Paris scale, where the vectorised NumPy pass (:meth:`solver.problem.Problem.iter_blocks`)
took 9 s a pass, most of it writing and reading the temporaries of a children x units block. This
pass computes each arc's cost in registers and keeps only what the caller needs: the cheapest
priced option of each child (the Lagrangian bound) and the arcs of least reduced cost below a
threshold (pricing's candidates), at most ``keep`` per child.

The same arc cost (:func:`_arc_cost`) serves the other compiled steps of the optimiser at that
scale: each child's cheapest arcs (:func:`cheapest_arcs`, the flow's first arcs), every arc of
some children (:func:`all_arcs`, the fratries' part of the bound), the cheaper-looking units of
the explanations (:func:`cheaper_units`), and, on the flow's own arcs, the place prices
(:func:`label_correcting`) and the arcs kept between rounds (:func:`keep_least`).

*One source of truth.* The cost is that of :meth:`~solver.problem.Problem.cost_block` (the same
terms in the same order, so the same floating-point value); the class rules come from
:attr:`~solver.problem.Problem.class_open_units` and the judge's rules from
:meth:`~solver.problem.Problem.judge_mask` (evaluated once per problem, :func:`judge_eligibility`).
``tests/test_solver_pricing.py`` checks each of them against the NumPy blocks arc by arc.
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


@numba.njit(inline="always")
def _arc_cost(u, row, srow, cur, unit_structure, structure_col, static, minutes, transit_minute, school_minute, move,
              unreachable):  # pragma: no cover - compiled
    """(cost, minutes) of one arc: the terms of :meth:`solver.problem.Problem.cost_block`, in its order."""
    s = unit_structure[u]
    col = structure_col[s]
    mm = minutes[row, col] if row >= 0 and col >= 0 else np.float32(np.nan)
    c = (unreachable if np.isnan(mm) else np.float64(mm)) * transit_minute + static[s]
    if srow != -1 and school_minute != 0.0:
        sm = minutes[srow, col] if srow >= 0 and col >= 0 else np.float32(np.nan)
        c += (unreachable if np.isnan(sm) else np.float64(sm)) * school_minute
    if move != 0.0 and cur >= 0 and cur != u:
        c += move
    return c, mm


@numba.njit(inline="always")
def _heap_offer(h_key, h_seq, h_id, h_cost, h_minutes, found, keep, key, seq, ident, cost, mm):  # pragma: no cover - compiled
    """Offer one item to a bounded max-heap of the ``keep`` least ``(key, seq)`` (ties on ``key``
    go to the least ``seq``); returns the count held."""
    if found < keep:
        q = found
        while q > 0:
            parent = (q - 1) // 2
            if h_key[parent] > key or (h_key[parent] == key and h_seq[parent] > seq):
                break
            h_key[q], h_seq[q], h_id[q], h_cost[q], h_minutes[q] = h_key[parent], h_seq[parent], h_id[parent], h_cost[parent], h_minutes[parent]
            q = parent
        h_key[q], h_seq[q], h_id[q], h_cost[q], h_minutes[q] = key, seq, ident, cost, mm
        return found + 1
    if key < h_key[0] or (key == h_key[0] and seq < h_seq[0]):
        q = 0
        while True:
            left = 2 * q + 1
            if left >= keep:
                break
            child = left
            right = left + 1
            if right < keep and (h_key[right] > h_key[left] or (h_key[right] == h_key[left] and h_seq[right] > h_seq[left])):
                child = right
            if h_key[child] < key or (h_key[child] == key and h_seq[child] < seq):
                break
            h_key[q], h_seq[q], h_id[q], h_cost[q], h_minutes[q] = h_key[child], h_seq[child], h_id[child], h_cost[child], h_minutes[child]
            q = child
        h_key[q], h_seq[q], h_id[q], h_cost[q], h_minutes[q] = key, seq, ident, cost, mm
    return found


@numba.njit(inline="always")
def _heap_order(h_key, h_seq, found):  # pragma: no cover - compiled
    """Positions of the heap's items, least ``(key, seq)`` first."""
    by_seq = np.argsort(h_seq[:found])
    return by_seq[np.argsort(h_key[:found][by_seq], kind="mergesort")]


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
    cur_cost = np.full(n, np.nan)
    cur_minutes = np.full(n, np.nan, dtype=np.float32)
    for k in numba.prange(n):
        i = children[k]
        cl = child_class[i]
        a, b = class_ptr[cl], class_ptr[cl + 1]
        row, srow, cur, jp = anchor_row[i], school_row[i], current_unit[i], judge_ptr[i]
        o = own[i]
        # the ``keep`` least (reduced cost, arc order) so far: a max-heap (a bounded selection, so
        # that a pass keeping 64 arcs of 8,000 per child does not store and partition them all)
        h_red = np.empty(max(keep, 1))
        h_seq = np.empty(max(keep, 1), dtype=np.int64)
        h_unit = np.empty(max(keep, 1), dtype=np.int64)
        h_cost = np.empty(max(keep, 1))
        h_minutes = np.empty(max(keep, 1), dtype=np.float32)
        found = 0
        low = np.inf
        for j in range(a, b):
            if jp >= 0 and not judge_ok[jp + j - a]:
                continue
            u = class_units[j]
            c, mm = _arc_cost(u, row, srow, cur, unit_structure, structure_col, static, minutes, transit_minute,
                              school_minute, move, unreachable)
            if u == cur:
                cur_cost[k] = c
                cur_minutes[k] = mm
            p = prices[u]
            if c + p < low:
                low = c + p
            r = np.floor(c * scale) / scale + p - o
            if keep > 0 and r < threshold:
                found = _heap_offer(h_red, h_seq, h_unit, h_cost, h_minutes, found, keep, r, j, u, c, mm)
        best[k] = low
        if found:
            # least reduced cost first, ties in arc (unit) order
            order = _heap_order(h_red, h_seq, found)
            m = found
            for q in range(m):
                t = order[q]
                out_unit[k, q] = h_unit[t]
                out_reduced[k, q] = h_red[t]
                out_cost[k, q] = h_cost[t]
                out_minutes[k, q] = h_minutes[t]
            count[k] = m
    return best, count, out_unit, out_reduced, out_cost, out_minutes, cur_cost, cur_minutes


def _cost_inputs(problem: Problem) -> tuple:
    """What :func:`_arc_cost` reads, in the kernels' argument order (after the rules' arrays)."""
    w = problem.weights
    return (problem.unit_structure, problem.structure_travel_col, problem.structure_static_cost, problem.travel.minutes,
            problem.child_travel_row, problem.child_school_row, problem.child_current_unit, float(w.transit_minute),
            float(w.school_minute), float(w.move), float(w.unreachable_minutes))


def _rule_inputs(problem: Problem) -> tuple:
    """The class and judge's rules as the kernels read them (:class:`PricingArrays`)."""
    arrays = pricing_arrays(problem)
    return arrays.child_class, arrays.class_ptr, arrays.class_units, arrays.judge_ptr, arrays.judge_ok


def _run_pass(problem: Problem, pool: np.ndarray, prices: np.ndarray, own: np.ndarray, threshold: float, keep: int,
              scale: float) -> tuple[np.ndarray, ...]:
    with _ONE_PASS_AT_A_TIME:
        return _pass(pool, *_rule_inputs(problem), *_cost_inputs(problem), np.asarray(prices, dtype=np.float64),
                     np.asarray(own, dtype=np.float64), float(threshold), int(keep), float(scale))


def _children(problem: Problem, children: np.ndarray | None) -> np.ndarray:
    return np.arange(problem.n_children, dtype=np.int64) if children is None else np.asarray(children, dtype=np.int64)


def cheapest_arcs(problem: Problem, per_child: int, children: np.ndarray | None = None) -> Arcs:
    """The ``per_child`` cheapest eligible arcs of each of ``children`` (default: all; by cost
    rounded down to 1/100, ties in unit order), and its current unit when eligible, ordered by
    child then unit: one compiled pass at zero prices."""
    pool = _children(problem, children)
    _, count, unit, _, cost, minutes, cur_cost, cur_minutes = _run_pass(
        problem, pool, np.zeros(problem.n_units), np.zeros(problem.n_children), np.inf, per_child, 100.0)
    taken = np.arange(unit.shape[1])[None, :] < count[:, None]
    current = ~np.isnan(cur_cost)
    arcs = Arcs(np.r_[np.repeat(pool, count), pool[current]].astype(np.int32),
                np.r_[unit[taken], problem.child_current_unit[pool[current]]].astype(np.int32),
                np.r_[cost[taken], cur_cost[current]],
                np.r_[minutes[taken], cur_minutes[current]].astype(np.float32))
    return arcs.deduplicated(problem.n_units)


@numba.njit(parallel=True, cache=True)
def _all_arcs(children, start, fill, child_class, class_ptr, class_units, judge_ptr, judge_ok, unit_structure,
              structure_col, static, minutes, anchor_row, school_row, current_unit, transit_minute, school_minute, move,
              unreachable, out_unit, out_cost, out_minutes):  # pragma: no cover - compiled; tested through all_arcs
    """Count (``fill`` False: into ``start[k + 1]``) or write (at ``start[k]``) every eligible arc of each child."""
    for k in numba.prange(children.size):
        i = children[k]
        cl = child_class[i]
        a, b = class_ptr[cl], class_ptr[cl + 1]
        row, srow, cur, jp = anchor_row[i], school_row[i], current_unit[i], judge_ptr[i]
        q = start[k]
        found = 0
        for j in range(a, b):
            if jp >= 0 and not judge_ok[jp + j - a]:
                continue
            if fill:
                u = class_units[j]
                c, mm = _arc_cost(u, row, srow, cur, unit_structure, structure_col, static, minutes, transit_minute,
                                  school_minute, move, unreachable)
                out_unit[q + found] = u
                out_cost[q + found] = c
                out_minutes[q + found] = mm
            found += 1
        if not fill:
            start[k + 1] = found


def all_arcs(problem: Problem, children: np.ndarray) -> tuple[Arcs, np.ndarray]:
    """``(arcs, start)``: every eligible arc of each of ``children`` (the arcs of
    :meth:`~solver.problem.Problem.arcs_of`, ordered by unit), child after child; child ``k``'s
    arcs are ``start[k]:start[k + 1]``. Compiled (the fratries' members at 10x Paris scale: 48
    million arcs, where the NumPy blocks took 4 s for their costs alone)."""
    pool = np.asarray(children, dtype=np.int64)
    start = np.zeros(pool.size + 1, dtype=np.int64)

    def run(fill: bool, unit: np.ndarray, cost: np.ndarray, minutes: np.ndarray) -> None:
        _all_arcs(pool, start, fill, *_rule_inputs(problem), *_cost_inputs(problem), unit, cost, minutes)

    with _ONE_PASS_AT_A_TIME:
        run(False, np.zeros(0, dtype=np.int32), np.zeros(0), np.zeros(0, dtype=np.float32))
        np.cumsum(start, out=start)
        unit, cost, minutes = np.empty(start[-1], dtype=np.int32), np.empty(start[-1]), np.empty(start[-1], dtype=np.float32)
        run(True, unit, cost, minutes)
    return Arcs(np.repeat(pool.astype(np.int32), np.diff(start)), unit, cost, minutes), start


def price_pass(problem: Problem, prices: np.ndarray, own: np.ndarray | None = None, threshold: float = -1e-7,
               keep: int = 0, scale: float = 100.0, children: np.ndarray | None = None) -> tuple[np.ndarray, Arcs, np.ndarray]:
    """One pass over every eligible arc of ``children`` (default: all) at unit ``prices``.

    Returns ``(best, arcs, reduced)``: the cheapest priced cost ``cost + price`` of each child
    over its eligible arcs (``inf`` without one; aligned with ``children``), and the arcs whose
    reduced cost ``floor(cost * scale) / scale + price - own`` is below ``threshold``, at most
    ``keep`` per child (least reduced cost first, ordered by child), with those reduced costs.
    """
    pool = _children(problem, children)
    own = np.zeros(problem.n_children) if own is None else own
    best, count, unit, reduced, cost, minutes, _, _ = _run_pass(problem, pool, prices, own, threshold, keep, scale)
    taken = np.arange(unit.shape[1])[None, :] < count[:, None]
    rows = np.repeat(pool, count)
    arcs = Arcs(rows.astype(np.int32), unit[taken], cost[taken], minutes[taken])
    return best, arcs, reduced[taken]


@numba.njit(parallel=True, cache=True)
def _cheaper(children, below, keep, n_units, unit_structure, structure_col, static, minutes, anchor_row, school_row,
             current_unit, transit_minute, school_minute, move, unreachable):  # pragma: no cover - compiled
    n = children.size
    out_unit = np.full((n, keep), -1, dtype=np.int64)
    out_cost = np.full((n, keep), np.inf)
    for k in numba.prange(n):
        i = children[k]
        row, srow, cur = anchor_row[i], school_row[i], current_unit[i]
        h_cost = np.empty(keep)
        h_seq = np.empty(keep, dtype=np.int64)
        h_unit = np.empty(keep, dtype=np.int64)
        h_same = np.empty(keep)
        h_minutes = np.empty(keep, dtype=np.float32)
        found = 0
        for u in range(n_units):
            c, mm = _arc_cost(u, row, srow, cur, unit_structure, structure_col, static, minutes, transit_minute,
                              school_minute, move, unreachable)
            if c < below[k]:
                found = _heap_offer(h_cost, h_seq, h_unit, h_same, h_minutes, found, keep, c, u, u, c, mm)
        order = _heap_order(h_cost, h_seq, found)
        for q in range(found):
            out_unit[k, q] = h_unit[order[q]]
            out_cost[k, q] = h_cost[order[q]]
    return out_unit, out_cost


def cheaper_units(problem: Problem, children: np.ndarray, below: np.ndarray, keep: int) -> tuple[np.ndarray, np.ndarray]:
    """``(units, costs)``, each ``len(children) x keep``: for each child, the ``keep`` units of
    least cost whose cost is below ``below`` (ties in unit order; -1 and ``inf`` where fewer), over
    **every** unit, eligible or not (the explanations discuss why a cheaper-looking place was not
    given, ineligible ones included): one compiled pass over children x units."""
    pool = np.asarray(children, dtype=np.int64)
    if keep <= 0 or not pool.size:
        return np.full((pool.size, max(keep, 0)), -1, dtype=np.int64), np.full((pool.size, max(keep, 0)), np.inf)
    with _ONE_PASS_AT_A_TIME:
        return _cheaper(pool, np.asarray(below, dtype=np.float64), int(keep), problem.n_units, *_cost_inputs(problem))


@numba.njit(cache=True)
def label_correcting(child, unit, cost, assigned, unplaced_cost, n_units, scale, max_rounds):  # pragma: no cover - compiled
    """``(price, own)``: the smallest prices ``>= 0`` with ``price[v] >= base[c] - cost[c, v]`` on
    every arc, where ``base[c]`` is ``own[c] + price[assigned[c]]`` for a placed child (``own``:
    the cost of its arc) and its unplaced cost otherwise, costs rounded down to ``1 / scale``.
    Label-correcting rounds over the arcs grouped by unit (a counting sort, stable), in unit order,
    updated in place (the same least fixed point as rounds that update all at once, reached in
    fewer rounds)."""
    n, m = assigned.size, child.size
    unplaced = np.floor(unplaced_cost * scale) / scale
    own = np.zeros(n)
    starts = np.zeros(n_units + 1, dtype=np.int64)
    for j in range(m):
        if assigned[child[j]] == unit[j]:
            own[child[j]] = np.floor(cost[j] * scale) / scale
        starts[unit[j] + 1] += 1
    for v in range(n_units):
        starts[v + 1] += starts[v]
    fill = starts[:-1].copy()
    child_o = np.empty(m, dtype=np.int64)
    cost_o = np.empty(m)
    for j in range(m):
        q = fill[unit[j]]
        child_o[q] = child[j]
        cost_o[q] = np.floor(cost[j] * scale) / scale
        fill[unit[j]] = q + 1
    price = np.zeros(n_units)
    for _ in range(max_rounds):
        changed = False
        for v in range(n_units):
            best = price[v]
            for j in range(starts[v], starts[v + 1]):
                c = child_o[j]
                base = own[c] + price[assigned[c]] if assigned[c] >= 0 else unplaced[c]
                if base - cost_o[j] > best:
                    best = base - cost_o[j]
            if best > price[v] + 1e-9:
                price[v] = best
                changed = True
        if not changed:
            break
    return price, own


@numba.njit(cache=True)
def keep_least(child, reduced, holds, kept):  # pragma: no cover - compiled
    """Which arcs to keep: each child's ``kept`` of least ``reduced`` (ties in arc order) and every
    arc where ``holds``; the arcs of each child must be contiguous (ordered by child)."""
    m = child.size
    keep = np.zeros(m, dtype=np.bool_)
    start = 0
    while start < m:
        end = start + 1
        while end < m and child[end] == child[start]:
            end += 1
        if end - start <= kept:
            keep[start:end] = True
        else:
            order = np.argsort(reduced[start:end], kind="mergesort")
            for q in range(kept):
                keep[start + order[q]] = True
        for j in range(start, end):
            if holds[j]:
                keep[j] = True
        start = end
    return keep
